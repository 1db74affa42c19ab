/*
 * test_codec.c - tests for lib/codec.c: DynamoDB JSON, plain JSON, the cursor
 * and base64.
 *
 * Every decode goes through decode_exact(), which copies the input into a
 * malloc block of exactly its length (no NUL after it), so that under ASan a
 * read past `len` is a crash, not a silent pass. Tables print the failing row
 * before they assert.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dynox/codec.h"

enum mode { ITEM, VALUE, PLAIN };

static const char *mode_name(enum mode m) { return m == ITEM ? "item" : m == VALUE ? "value" : "plain"; }

/* Decodes s[0..n) from an exact-size heap copy. */
static dx_err decode_exact(enum mode m, dx_arena *a, const char *s, size_t n, dx_value *out,
                           dx_result *r) {
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n) memcpy(copy, s, n);
    dx_result_clear(r);
    dx_err e = m == ITEM    ? dx_decode_item(a, copy, n, out, r)
               : m == VALUE ? dx_decode_value(a, copy, n, out, r)
                            : dx_decode_plain(a, copy, n, out, r);
    free(copy);
    return e;
}

static dx_err decode_str(enum mode m, dx_arena *a, const char *s, dx_value *out, dx_result *r) {
    return decode_exact(m, a, s, strlen(s), out, r);
}

/* Encodes v the way mode m reads it; returns the text in b. */
static dx_err encode(enum mode m, dx_buf *b, const dx_value *v) {
    dx_buf_clear(b);
    return m == ITEM ? dx_encode_item(b, v) : m == VALUE ? dx_encode_value(b, v) : dx_encode_plain(b, v);
}

static void row_str_eq(size_t row, const char *in, const char *got, const char *want) {
    if (strcmp(got, want) != 0) print_message("row %zu: input %s\n", row, in);
    assert_string_equal(got, want);
}

static void row_true(size_t row, const char *in, bool ok, const char *what) {
    if (!ok) print_message("row %zu: input %s: %s\n", row, in, what);
    assert_true(ok);
}

/* ---------------------------------------------------------------- round trips */

typedef struct rt_case {
    enum mode mode;
    const char *in;
    const char *want; /* encoded after decoding; NULL: same as in */
} rt_case;

static const rt_case rt_cases[] = {
    {VALUE, "{\"S\":\"hello\"}", NULL},
    {VALUE, "{\"S\":\"\"}", NULL},
    {VALUE, "{\"N\":\"42\"}", NULL},
    {VALUE, "{\"N\":\"1.50\"}", "{\"N\":\"1.5\"}"},
    {VALUE, "{\"N\":\"-0\"}", "{\"N\":\"0\"}"},
    {VALUE, "{\"N\":\"1e3\"}", "{\"N\":\"1000\"}"},
    {VALUE, "{\"N\":\"12345678901234567890123456789012345678\"}", NULL},
    {VALUE, "{\"B\":\"aGVsbG8=\"}", NULL},
    {VALUE, "{\"B\":\"\"}", NULL},
    {VALUE, "{\"B\":\"\\/w==\"}", "{\"B\":\"/w==\"}"},
    {VALUE, "{\"BOOL\":true}", NULL},
    {VALUE, "{\"BOOL\":false}", NULL},
    {VALUE, "{\"NULL\":true}", NULL},
    {VALUE, "{\"L\":[]}", NULL},
    {VALUE, "{\"L\":[{\"S\":\"a\"},{\"N\":\"1\"},{\"L\":[{\"NULL\":true}]}]}", NULL},
    {VALUE, "{\"M\":{}}", NULL},
    {VALUE, "{\"M\":{\"a\":{\"S\":\"x\"},\"b\":{\"M\":{\"c\":{\"BOOL\":false}}}}}", NULL},
    {VALUE, "{\"SS\":[\"a\",\"b\"]}", NULL},
    {VALUE, "{\"NS\":[\"1\",\"2.50\",\"-3e2\"]}", "{\"NS\":[\"1\",\"2.5\",\"-300\"]}"},
    {VALUE, "{\"BS\":[\"AA==\",\"AQI=\"]}", NULL},
    {VALUE, "{\"SS\":[]}", NULL},               /* emptiness is dx_value_validate's rule */
    {VALUE, "{\"SS\":[\"a\",\"a\"]}", NULL},    /* so are duplicates */
    {VALUE, " \t\r\n{ \"S\" : \"x\" } \n", "{\"S\":\"x\"}"},
    {VALUE, "{\"S\":\"a\\\"b\\\\c\\n\\u0001\"}", NULL},
    {VALUE, "{\"S\":\"\\u00e9\\u20AC\"}", "{\"S\":\"\xc3\xa9\xe2\x82\xac\"}"},
    {VALUE, "{\"S\":\"\\/\"}", "{\"S\":\"/\"}"},
    {VALUE, "{\"\\u0053\":\"x\"}", "{\"S\":\"x\"}"},
    {VALUE, "{\"\\u0042\\u004fOL\":true}", "{\"BOOL\":true}"},
    {VALUE, "{ \"L\" : [ { \"N\" : \"1\" } , { \"S\" : \"2\" } ] }", "{\"L\":[{\"N\":\"1\"},{\"S\":\"2\"}]}"},
    {ITEM, "{}", NULL},
    {ITEM,
     "{\"a\":{\"S\":\"x\"},\"n\":{\"N\":\"1.50\"},\"b\":{\"B\":\"AAE=\"},\"t\":{\"BOOL\":true},"
     "\"z\":{\"NULL\":true},\"l\":{\"L\":[{\"S\":\"y\"}]},\"m\":{\"M\":{\"k\":{\"N\":\"2\"}}},"
     "\"ss\":{\"SS\":[\"p\",\"q\"]},\"ns\":{\"NS\":[\"3\",\"4\"]},\"bs\":{\"BS\":[\"AQ==\"]}}",
     "{\"a\":{\"S\":\"x\"},\"n\":{\"N\":\"1.5\"},\"b\":{\"B\":\"AAE=\"},\"t\":{\"BOOL\":true},"
     "\"z\":{\"NULL\":true},\"l\":{\"L\":[{\"S\":\"y\"}]},\"m\":{\"M\":{\"k\":{\"N\":\"2\"}}},"
     "\"ss\":{\"SS\":[\"p\",\"q\"]},\"ns\":{\"NS\":[\"3\",\"4\"]},\"bs\":{\"BS\":[\"AQ==\"]}}"},
    {ITEM, "{\"caf\\u00e9\":{\"S\":\"x\"},\"a\\\"b\":{\"N\":\"1\"}}",
     "{\"caf\xc3\xa9\":{\"S\":\"x\"},\"a\\\"b\":{\"N\":\"1\"}}"},
    {PLAIN,
     "{\"a\":\"x\",\"n\":1.50,\"t\":true,\"f\":false,\"z\":null,\"l\":[1,\"two\",[]],\"m\":{}}",
     "{\"a\":\"x\",\"n\":1.5,\"t\":true,\"f\":false,\"z\":null,\"l\":[1,\"two\",[]],\"m\":{}}"},
    {PLAIN, "1e3", "1000"},
    {PLAIN, "-0", "0"},
    {PLAIN, "0.1", NULL},
    {PLAIN, "1E+2", "100"},
    {PLAIN, "123.456e-2", "1.23456"},
    {PLAIN, "-0.0", "0"},
    {PLAIN, "\"\\u00e9\"", "\"\xc3\xa9\""},
    {PLAIN, "[]", NULL},
    {PLAIN, "{}", NULL},
    {PLAIN, " [ 1 , 2 ] ", "[1,2]"},
    {PLAIN, "\"\"", NULL},
    {PLAIN, "null", NULL},
    {PLAIN, "[[[[]]],{\"a\":{\"b\":[true]}}]", NULL},
};

static void test_round_trips(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_buf b = {0};
    for (size_t i = 0; i < sizeof rt_cases / sizeof rt_cases[0]; i++) {
        const rt_case *t = &rt_cases[i];
        dx_value v;
        dx_result r;
        dx_err e = decode_str(t->mode, &a, t->in, &v, &r);
        if (e) print_message("row %zu (%s): %s -> %s (%s)\n", i, mode_name(t->mode), t->in, r.message, dx_err_name(e));
        assert_int_equal(e, DX_OK);
        assert_int_equal(encode(t->mode, &b, &v), DX_OK);
        row_str_eq(i, t->in, b.ptr, t->want ? t->want : t->in);
        /* The output decodes to the same text again. */
        dx_value v2;
        assert_int_equal(decode_exact(t->mode, &a, b.ptr, b.len, &v2, &r), DX_OK);
        row_true(i, t->in, dx_value_equal(&v, &v2), "second decode differs");
        dx_arena_reset(&a);
    }
    dx_buf_free(&b);
    dx_arena_release(&a);
}

/* The decoded tree itself, not only its re-encoding. */
static void test_decoded_shape(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_result r;
    dx_value v;
    const char *doc = "{\"s\":{\"S\":\"hi\"},\"n\":{\"N\":\"1.50\"},\"b\":{\"B\":\"aGVsbG8=\"},"
                      "\"t\":{\"BOOL\":true},\"f\":{\"BOOL\":false},\"z\":{\"NULL\":true},"
                      "\"l\":{\"L\":[{\"N\":\"7\"}]},\"ss\":{\"SS\":[\"x\",\"y\"]},"
                      "\"ns\":{\"NS\":[\"5\"]},\"bs\":{\"BS\":[\"AP8=\"]},\"m\":{\"M\":{}}}";
    assert_int_equal(decode_str(ITEM, &a, doc, &v, &r), DX_OK);
    assert_int_equal(v.type, DX_T_M);
    assert_int_equal(v.n, 11);
    static const char *const names[] = {"s", "n", "b", "t", "f", "z", "l", "ss", "ns", "bs", "m"};
    for (uint32_t i = 0; i < v.n; i++) {
        const dx_member *m = &v.u.members[i];
        assert_string_equal(m->name, names[i]); /* NUL-terminated */
        assert_int_equal(m->name_len, strlen(names[i]));
    }
    const dx_value *x = dx_map_get(&v, "s");
    assert_int_equal(x->type, DX_T_S);
    assert_int_equal(x->n, 2);
    assert_string_equal(x->u.s, "hi"); /* NUL-terminated too */
    x = dx_map_get(&v, "n");
    assert_int_equal(x->type, DX_T_N);
    assert_int_equal(x->n, 3);
    assert_memory_equal(x->u.s, "1.5", 3);
    x = dx_map_get(&v, "b");
    assert_int_equal(x->type, DX_T_B);
    assert_int_equal(x->n, 5);
    assert_memory_equal(x->u.s, "hello", 5);
    x = dx_map_get(&v, "t");
    assert_int_equal(x->type, DX_T_BOOL);
    assert_int_equal(x->n, 1);
    x = dx_map_get(&v, "f");
    assert_int_equal(x->type, DX_T_BOOL);
    assert_int_equal(x->n, 0);
    assert_int_equal(dx_map_get(&v, "z")->type, DX_T_NULL);
    x = dx_map_get(&v, "l");
    assert_int_equal(x->type, DX_T_L);
    assert_int_equal(x->n, 1);
    assert_int_equal(x->u.elems[0].type, DX_T_N);
    x = dx_map_get(&v, "ss");
    assert_int_equal(x->type, DX_T_SS);
    assert_int_equal(x->n, 2);
    assert_int_equal(x->u.elems[1].type, DX_T_S);
    assert_memory_equal(x->u.elems[1].u.s, "y", 1);
    x = dx_map_get(&v, "ns");
    assert_int_equal(x->u.elems[0].type, DX_T_N);
    x = dx_map_get(&v, "bs");
    assert_int_equal(x->u.elems[0].type, DX_T_B);
    assert_int_equal(x->u.elems[0].n, 2);
    assert_memory_equal(x->u.elems[0].u.s, "\x00\xff", 2);
    x = dx_map_get(&v, "m");
    assert_int_equal(x->type, DX_T_M);
    assert_int_equal(x->n, 0);
    assert_int_equal(dx_value_validate(&v, "item", &r), DX_OK);
    dx_arena_release(&a);
}

/* Containers larger than the parser's on-stack arrays keep every element in order. */
static void test_large_containers(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_buf in = {0}, out = {0};
    dx_result r;
    dx_value v;
    dx_buf_putc(&in, '{');
    for (int i = 0; i < 100; i++) dx_buf_printf(&in, "%s\"k%d\":{\"N\":\"%d\"}", i ? "," : "", i, i);
    dx_buf_puts(&in, ",\"l\":{\"L\":[");
    for (int i = 0; i < 1000; i++) dx_buf_printf(&in, "%s{\"S\":\"%d\"}", i ? "," : "", i);
    dx_buf_puts(&in, "]},\"ss\":{\"SS\":[");
    for (int i = 0; i < 40; i++) dx_buf_printf(&in, "%s\"s%d\"", i ? "," : "", i);
    dx_buf_puts(&in, "]}}");
    assert_int_equal(decode_exact(ITEM, &a, in.ptr, in.len, &v, &r), DX_OK);
    assert_int_equal(v.n, 102);
    for (int i = 0; i < 100; i++) {
        char name[16], num[16];
        snprintf(name, sizeof name, "k%d", i);
        snprintf(num, sizeof num, "%d", i);
        assert_string_equal(v.u.members[i].name, name);
        assert_string_equal(v.u.members[i].value.u.s, num);
    }
    const dx_value *l = dx_map_get(&v, "l");
    assert_int_equal(l->n, 1000);
    assert_string_equal(l->u.elems[999].u.s, "999");
    assert_int_equal(dx_map_get(&v, "ss")->n, 40);
    assert_int_equal(dx_encode_item(&out, &v), DX_OK);
    assert_string_equal(out.ptr, in.ptr);

    /* Plain JSON too. */
    dx_buf_clear(&in);
    dx_buf_putc(&in, '[');
    for (int i = 0; i < 300; i++) dx_buf_printf(&in, "%s{\"i\":%d}", i ? "," : "", i);
    dx_buf_putc(&in, ']');
    assert_int_equal(decode_exact(PLAIN, &a, in.ptr, in.len, &v, &r), DX_OK);
    assert_int_equal(v.n, 300);
    assert_int_equal(encode(PLAIN, &out, &v), DX_OK);
    assert_string_equal(out.ptr, in.ptr);
    dx_buf_free(&in);
    dx_buf_free(&out);
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- numbers */

typedef struct num_case {
    const char *text;  /* inside {"N":"..."} */
    const char *canon; /* NULL: an error whose message contains `msg` */
    const char *msg;
} num_case;

static const num_case num_cases[] = {
    {"0", "0", NULL},
    {"-0", "0", NULL},
    {"0.0", "0", NULL},
    {"000", "0", NULL},
    {"1.50", "1.5", NULL},
    {"1e3", "1000", NULL},
    {"1E-3", "0.001", NULL},
    {"-1.5e2", "-150", NULL},
    {"00012", "12", NULL},
    {"0.5", "0.5", NULL},
    {"-0.05", "-0.05", NULL},
    {"100", "100", NULL},
    {"1.0", "1", NULL},
    {"10.010", "10.01", NULL},
    {"12345678901234567890123456789012345678", "12345678901234567890123456789012345678", NULL},
    {"1234567890123456789012345678901234567.8", "1234567890123456789012345678901234567.8", NULL},
    {"0.00000000000000000000000000000000000001", "0.00000000000000000000000000000000000001", NULL},
    {"1000000000000000000000000000000000000000", "1000000000000000000000000000000000000000", NULL},
    {"9.9999999999999999999999999999999999999E+125",
     "999999999999999999999999999999999999990000000000000000000000000000000000000000000000000"
     "000000000000000000000000000000000000000",
     NULL},
    {"1E-130",
     "0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "000000000000000000000000000000000000000000001",
     NULL},
    {"123456789012345678901234567890123456789", NULL, "more than 38 significant digits"},
    {"1.23456789012345678901234567890123456789", NULL, "more than 38 significant digits"},
    {"1e126", NULL, "Number overflow"},
    {"-1e126", NULL, "Number overflow"},
    {"1e-131", NULL, "Number underflow"},
    {"abc", NULL, "cannot be converted to a numeric value"},
    {"", NULL, "cannot be converted to a numeric value"},
    {"1.2.3", NULL, "cannot be converted to a numeric value"},
    {" 1", NULL, "cannot be converted to a numeric value"},
    {"+1", NULL, "cannot be converted to a numeric value"},
    {"NaN", NULL, "cannot be converted to a numeric value"},
    {"Infinity", NULL, "cannot be converted to a numeric value"},
    {"1e", NULL, "cannot be converted to a numeric value"},
    {"-", NULL, "cannot be converted to a numeric value"},
};

static void test_numbers(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_buf in = {0};
    for (size_t i = 0; i < sizeof num_cases / sizeof num_cases[0]; i++) {
        const num_case *t = &num_cases[i];
        dx_buf_clear(&in);
        dx_buf_printf(&in, "{\"k\":{\"N\":\"%s\"}}", t->text);
        dx_value v;
        dx_result r;
        dx_err e = decode_exact(ITEM, &a, in.ptr, in.len, &v, &r);
        if (t->canon) {
            if (e) print_message("row %zu: %s -> %s\n", i, t->text, r.message);
            assert_int_equal(e, DX_OK);
            const dx_value *n = &v.u.members[0].value;
            assert_int_equal(n->type, DX_T_N);
            row_str_eq(i, t->text, n->u.s, t->canon);
            assert_int_equal(n->n, strlen(t->canon));
        } else {
            row_true(i, t->text, e == DX_ERR_VALIDATION, "expected DX_ERR_VALIDATION");
            row_true(i, t->text, strstr(r.message, t->msg) != NULL, r.message);
            assert_int_equal(r.offset, 10); /* the N string */
            assert_string_equal(r.field, "k");
        }
        dx_arena_reset(&a);
    }
    dx_buf_free(&in);
    dx_arena_release(&a);
}

/*
 * The decoder copies numbers it recognises as canonical and sends the rest to
 * dx_value_num; both ways must agree with dx_value_num on every input.
 */
static void test_numbers_match_value_num(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_buf in = {0};
    dx_rng rng;
    dx_rng_seed(&rng, 7);
    static const char digits[] = "0000123456789";
    for (int i = 0; i < 20000; i++) {
        char s[128];
        size_t n = 0;
        if (dx_rng_below(&rng, 3) == 0) s[n++] = '-';
        size_t id = dx_rng_below(&rng, 42), fd = dx_rng_below(&rng, 3) ? 0 : dx_rng_below(&rng, 42);
        for (size_t k = 0; k < id; k++) s[n++] = digits[dx_rng_below(&rng, sizeof digits - 1)];
        if (fd || dx_rng_below(&rng, 10) == 0) {
            s[n++] = '.';
            for (size_t k = 0; k < fd; k++) s[n++] = digits[dx_rng_below(&rng, sizeof digits - 1)];
        }
        if (dx_rng_below(&rng, 8) == 0) n += (size_t)sprintf(s + n, "e%d", (int)dx_rng_below(&rng, 260) - 130);
        s[n] = 0;

        dx_value want, got;
        dx_result rw, rg;
        dx_result_clear(&rw);
        dx_err ew = dx_value_num(&a, s, n, &want, &rw);
        dx_buf_clear(&in);
        dx_buf_printf(&in, "{\"N\":\"%s\"}", s);
        dx_err eg = decode_exact(VALUE, &a, in.ptr, in.len, &got, &rg);
        if (ew != eg) print_message("row %d: %s: value_num %s, decode %s\n", i, s, dx_err_name(ew), dx_err_name(eg));
        assert_int_equal(ew, eg);
        if (ew == DX_OK) {
            row_true((size_t)i, s, want.n == got.n && memcmp(want.u.s, got.u.s, want.n) == 0, got.u.s);
        } else {
            row_str_eq((size_t)i, s, rg.message, rw.message);
        }
        /* Plain JSON numbers, where the text is one. */
        dx_jcur c;
        dx_str raw;
        dx_jcur_init(&c, &a, s, n, NULL);
        if (dx_jcur_number(&c, &raw) == DX_OK && raw.len == n) {
            eg = decode_exact(PLAIN, &a, s, n, &got, &rg);
            row_true((size_t)i, s, eg == ew, "plain decode disagrees");
            if (!ew) row_true((size_t)i, s, want.n == got.n && memcmp(want.u.s, got.u.s, want.n) == 0, "plain text");
        }
        dx_arena_reset(&a);
    }
    dx_buf_free(&in);
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- strings */

typedef struct str_case {
    const char *json; /* a JSON string literal, quotes included */
    const char *want;
    size_t want_len;
} str_case;

#define SC(j, w) {j, w, sizeof(w) - 1}
static const str_case str_cases[] = {
    SC("\"plain\"", "plain"),
    SC("\"\"", ""),
    SC("\"\\u00e9\"", "\xc3\xa9"),
    SC("\"\\u00E9\"", "\xc3\xa9"),
    SC("\"\\u20AC\"", "\xe2\x82\xac"),
    SC("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"),
    SC("\"\\uD834\\uDD1E!\"", "\xf0\x9d\x84\x9e!"),
    SC("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf"),
    SC("\"a\\u0000b\"", "a\0b"),
    SC("\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"", "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf"),
    SC("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t"),
    SC("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
    SC("\"\x7f\"", "\x7f"), /* DEL is not a control character to JSON */
    SC("\"long string with no escapes at all, long enough for the unrolled scan\"",
       "long string with no escapes at all, long enough for the unrolled scan"),
    SC("\"\xc3\xa9\\n\xc3\xa9\"", "\xc3\xa9\n\xc3\xa9"),
};

static void test_strings(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_buf in = {0}, out = {0};
    for (size_t i = 0; i < sizeof str_cases / sizeof str_cases[0]; i++) {
        const str_case *t = &str_cases[i];
        dx_value v;
        dx_result r;
        /* As an S value, as an attribute name and as plain JSON. */
        dx_buf_clear(&in);
        dx_buf_printf(&in, "{%s:{\"S\":%s}}", t->json, t->json);
        dx_err e = decode_exact(ITEM, &a, in.ptr, in.len, &v, &r);
        if (e) print_message("row %zu: %s -> %s\n", i, t->json, r.message);
        assert_int_equal(e, DX_OK);
        const dx_member *m = &v.u.members[0];
        row_true(i, t->json, m->name_len == t->want_len && memcmp(m->name, t->want, t->want_len) == 0, "name");
        assert_int_equal(m->name[m->name_len], 0);
        row_true(i, t->json, m->value.n == t->want_len && memcmp(m->value.u.s, t->want, t->want_len) == 0, "S");
        assert_int_equal(m->value.u.s[m->value.n], 0);

        e = decode_str(PLAIN, &a, t->json, &v, &r);
        assert_int_equal(e, DX_OK);
        row_true(i, t->json, v.n == t->want_len && memcmp(v.u.s, t->want, t->want_len) == 0, "plain");

        /* Encoding and decoding again gives the same bytes. */
        assert_int_equal(encode(PLAIN, &out, &v), DX_OK);
        dx_value v2;
        assert_int_equal(decode_exact(PLAIN, &a, out.ptr, out.len, &v2, &r), DX_OK);
        row_true(i, t->json, v2.n == t->want_len && memcmp(v2.u.s, t->want, t->want_len) == 0, "re-decoded");

        /* The cursor gives the same string. */
        dx_jcur c;
        dx_str s;
        dx_jcur_init(&c, &a, t->json, strlen(t->json), NULL);
        assert_int_equal(dx_jcur_string(&c, &s), DX_OK);
        row_true(i, t->json, s.len == t->want_len && memcmp(s.ptr, t->want, t->want_len) == 0, "cursor");
        assert_true(dx_jcur_at_end(&c));
        dx_arena_reset(&a);
    }
    dx_buf_free(&in);
    dx_buf_free(&out);
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- syntax errors */

typedef struct err_case {
    enum mode mode;
    const char *in;
    size_t len; /* 0: strlen(in) */
    dx_err err;
    const char *msg;
    long offset;
    const char *field; /* NULL: "" */
} err_case;

static const err_case syntax_cases[] = {
    {ITEM, "{\"a\":{\"S\":\"x\"}", 0, DX_ERR_PARSE, "expected ',' or '}' after an object member, found end of input at byte 14", 14, "a"},
    {ITEM, "{\"a\" {\"S\":\"x\"}}", 0, DX_ERR_PARSE, "expected ':' after object key, found '{' at byte 5", 5, NULL},
    {ITEM, "{\"a\":{\"S\":\"x\"},}", 0, DX_ERR_PARSE, "trailing comma before '}'", 15, NULL},
    {ITEM, "{\"a\":{\"S\":\"x\"},\"b\":{\"S\" \"y\"}}", 0, DX_ERR_PARSE, "expected ':' after object key", 24, "b"},
    {ITEM, "[]", 0, DX_ERR_PARSE, "expected '{' to start an item, found '['", 0, NULL},
    {ITEM, "", 0, DX_ERR_PARSE, "expected '{' to start an item, found end of input at byte 0", 0, NULL},
    {ITEM, "{\"a\":{\"S\":\"x\"}} x", 0, DX_ERR_PARSE, "unexpected data after the JSON document, found 'x'", 16, NULL},
    {ITEM, "{'a':{\"S\":\"x\"}}", 0, DX_ERR_PARSE, "expected '\"' to start an object key or '}'", 1, NULL},
    {VALUE, "{\"S\":\"x\",}", 0, DX_ERR_PARSE, "trailing comma before '}'", 9, NULL},
    {VALUE, "{\"S\" \"x\"}", 0, DX_ERR_PARSE, "expected ':' after object key", 5, NULL},
    {VALUE, "{\"S\":\"x\" \"N\"}", 0, DX_ERR_PARSE, "expected ',' or '}' after an object member", 9, NULL},
    {VALUE, "{\"L\":[{\"S\":\"x\"},]}", 0, DX_ERR_PARSE, "trailing comma before ']'", 16, NULL},
    {VALUE, "{\"L\":[{\"S\":\"x\"} {\"S\":\"y\"}]}", 0, DX_ERR_PARSE, "expected ',' or ']' after an array element", 16, NULL},
    {VALUE, "{\"SS\":[\"a\",]}", 0, DX_ERR_PARSE, "trailing comma before ']'", 11, NULL},
    {VALUE, "{\"S\":\"abc}", 0, DX_ERR_PARSE, "unterminated string", 5, NULL},
    {VALUE, "{\"BOOL\":tru}", 0, DX_ERR_VALIDATION, "A BOOL value must be true or false", 8, NULL},
    {PLAIN, "[1,2,]", 0, DX_ERR_PARSE, "trailing comma before ']' is not allowed in JSON at byte 5", 5, NULL},
    {PLAIN, "[1 2]", 0, DX_ERR_PARSE, "expected ',' or ']' after an array element, found '2' at byte 3", 3, NULL},
    {PLAIN, "{\"a\":1,,}", 0, DX_ERR_PARSE, "expected '\"' to start an object key after ','", 7, NULL},
    {PLAIN, "[,1]", 0, DX_ERR_PARSE, "expected a JSON value", 1, NULL},
    {PLAIN, "{\"a\":1 // c\n}", 0, DX_ERR_PARSE, "expected ',' or '}' after an object member, found '/'", 7, NULL},
    {PLAIN, "/* c */ 1", 0, DX_ERR_PARSE, "expected a JSON value", 0, NULL},
    {PLAIN, "# c\n1", 0, DX_ERR_PARSE, "expected a JSON value", 0, NULL},
    {PLAIN, "01", 0, DX_ERR_PARSE, "leading zeros are not allowed in a JSON number at byte 0", 0, NULL},
    {PLAIN, "[-01]", 0, DX_ERR_PARSE, "leading zeros", 1, NULL},
    {PLAIN, "1.", 0, DX_ERR_PARSE, "expected a digit after '.' in a number, found end of input at byte 2", 2, NULL},
    {PLAIN, "1.e5", 0, DX_ERR_PARSE, "expected a digit after '.'", 2, NULL},
    {PLAIN, "1e", 0, DX_ERR_PARSE, "expected a digit in the exponent", 2, NULL},
    {PLAIN, "1e+", 0, DX_ERR_PARSE, "expected a digit in the exponent", 3, NULL},
    {PLAIN, "-", 0, DX_ERR_PARSE, "expected a digit in a number", 1, NULL},
    {PLAIN, "-a", 0, DX_ERR_PARSE, "expected a digit in a number, found 'a'", 1, NULL},
    {PLAIN, ".5", 0, DX_ERR_PARSE, "expected a JSON value", 0, NULL},
    {PLAIN, "+1", 0, DX_ERR_PARSE, "expected a JSON value", 0, NULL},
    {PLAIN, "NaN", 0, DX_ERR_PARSE, "expected a JSON value", 0, NULL},
    {PLAIN, "Infinity", 0, DX_ERR_PARSE, "expected a JSON value", 0, NULL},
    {PLAIN, "0x10", 0, DX_ERR_PARSE, "unexpected data after the JSON document", 1, NULL},
    {PLAIN, "\"a\tb\"", 0, DX_ERR_PARSE, "control character 0x09 in a string", 2, NULL},
    {PLAIN, "\"a\nb\"", 0, DX_ERR_PARSE, "control character 0x0a", 2, NULL},
    {PLAIN, "\"ab\x01\"", 0, DX_ERR_PARSE, "control character 0x01", 3, NULL},
    {PLAIN, "\"a\0b\"", 5, DX_ERR_PARSE, "control character 0x00", 2, NULL},
    {PLAIN, "\"abc", 0, DX_ERR_PARSE, "unterminated string (no closing '\"') at byte 0", 0, NULL},
    {PLAIN, "\"abc\\", 0, DX_ERR_PARSE, "unterminated string", 0, NULL},
    {PLAIN, "\"abc\\\"", 0, DX_ERR_PARSE, "unterminated string", 0, NULL},
    {PLAIN, "\"\\x\"", 0, DX_ERR_PARSE, "invalid escape '\\x' in a string at byte 1", 1, NULL},
    {PLAIN, "\"\\U0041\"", 0, DX_ERR_PARSE, "invalid escape '\\U'", 1, NULL},
    {PLAIN, "\"\\'\"", 0, DX_ERR_PARSE, "invalid escape '\\''", 1, NULL},
    {PLAIN, "\"\\u12\"", 0, DX_ERR_PARSE, "invalid \\u escape: expected 4 hex digits", 1, NULL},
    {PLAIN, "\"\\u12G4\"", 0, DX_ERR_PARSE, "invalid \\u escape", 1, NULL},
    {PLAIN, "\"\\u123", 0, DX_ERR_PARSE, "invalid \\u escape", 1, NULL},
    {PLAIN, "\"\\ud800\"", 0, DX_ERR_PARSE, "lone high surrogate \\ud800", 1, NULL},
    {PLAIN, "\"\\ud800\\u0041\"", 0, DX_ERR_PARSE, "lone high surrogate", 1, NULL},
    {PLAIN, "\"x\\ud800\\ud800\"", 0, DX_ERR_PARSE, "lone high surrogate", 2, NULL},
    {PLAIN, "\"\\ud800\\n\"", 0, DX_ERR_PARSE, "lone high surrogate", 1, NULL},
    {PLAIN, "\"\\ud800", 0, DX_ERR_PARSE, "lone high surrogate", 1, NULL},
    {PLAIN, "\"\\udc00\"", 0, DX_ERR_PARSE, "lone low surrogate \\udc00", 1, NULL},
    {PLAIN, "\"ab\\uDFFF\"", 0, DX_ERR_PARSE, "lone low surrogate", 3, NULL},
    {PLAIN, "\"\xff\"", 0, DX_ERR_PARSE, "invalid UTF-8 in a string at byte 1", 1, NULL},
    {PLAIN, "\"ab\xc3(\"", 0, DX_ERR_PARSE, "invalid UTF-8", 3, NULL},
    {PLAIN, "\"\xc3\xa9\xed\xa0\x80\"", 0, DX_ERR_PARSE, "invalid UTF-8", 3, NULL}, /* UTF-8 surrogate */
    {PLAIN, "\"\xc0\xaf\"", 0, DX_ERR_PARSE, "invalid UTF-8", 1, NULL},                /* overlong */
    {PLAIN, "\"\xf4\x90\x80\x80\"", 0, DX_ERR_PARSE, "invalid UTF-8", 1, NULL},        /* > U+10FFFF */
    {PLAIN, "\"\xe2\x82\"", 0, DX_ERR_PARSE, "invalid UTF-8", 1, NULL},                /* truncated */
    {PLAIN, "\xef\xbb\xbf{}", 0, DX_ERR_PARSE, "found byte 0xef at byte 0", 0, NULL}, /* BOM */
    {PLAIN, "tru", 0, DX_ERR_PARSE, "invalid literal: expected true, false or null at byte 0", 0, NULL},
    {PLAIN, "nul", 0, DX_ERR_PARSE, "invalid literal", 0, NULL},
    {PLAIN, "[fals]", 0, DX_ERR_PARSE, "invalid literal", 1, NULL},
    {PLAIN, "True", 0, DX_ERR_PARSE, "expected a JSON value", 0, NULL},
    {PLAIN, "nulll", 0, DX_ERR_PARSE, "unexpected data after the JSON document", 4, NULL},
    {PLAIN, "", 0, DX_ERR_PARSE, "expected a JSON value (string, number, object, array, true, false or null), found end of input at byte 0", 0, NULL},
    {PLAIN, "   ", 0, DX_ERR_PARSE, "found end of input at byte 3", 3, NULL},
    {PLAIN, "1 2", 0, DX_ERR_PARSE, "unexpected data after the JSON document, found '2' at byte 2", 2, NULL},
    {PLAIN, "{\"a\":1}}", 0, DX_ERR_PARSE, "unexpected data after the JSON document", 7, NULL},
    {PLAIN, "{1:2}", 0, DX_ERR_PARSE, "expected '\"' to start an object key or '}', found '1'", 1, NULL},
    {PLAIN, "{\"a\":}", 0, DX_ERR_PARSE, "expected a JSON value", 5, NULL},
    {PLAIN, "{\"a\"}", 0, DX_ERR_PARSE, "expected ':' after object key, found '}'", 4, NULL},
    {PLAIN, "[", 0, DX_ERR_PARSE, "found end of input at byte 1", 1, NULL},
    {PLAIN, "{", 0, DX_ERR_PARSE, "expected '\"' to start an object key or '}', found end of input at byte 1", 1, NULL},
    {PLAIN, "{\"a\":1", 0, DX_ERR_PARSE, "expected ',' or '}' after an object member, found end of input", 6, NULL},
    {PLAIN, "[1,", 0, DX_ERR_PARSE, "expected a JSON value", 3, NULL},
    {PLAIN, "[\"a\"\x01]", 0, DX_ERR_PARSE, "found byte 0x01", 4, NULL},
    {PLAIN, "\x0b""1", 0, DX_ERR_PARSE, "expected a JSON value", 0, NULL}, /* VT is not JSON whitespace */
};

static void check_error(size_t i, const err_case *t, dx_err e, const dx_result *r) {
    if (e != t->err || !strstr(r->message, t->msg) || r->offset != t->offset ||
        strcmp(r->field, t->field ? t->field : "") != 0)
        print_message("row %zu (%s) %s: got %s \"%s\" offset %ld field \"%s\"\n", i, mode_name(t->mode),
                      t->in, dx_err_name(e), r->message, r->offset, r->field);
    assert_int_equal(e, t->err);
    assert_non_null(strstr(r->message, t->msg));
    assert_int_equal(r->offset, t->offset);
    assert_string_equal(r->field, t->field ? t->field : "");
}

static void run_error_table(const err_case *cases, size_t n) {
    dx_arena a = {0};
    for (size_t i = 0; i < n; i++) {
        const err_case *t = &cases[i];
        dx_value v = dx_vs("untouched");
        dx_result r;
        dx_err e = decode_exact(t->mode, &a, t->in, t->len ? t->len : strlen(t->in), &v, &r);
        check_error(i, t, e, &r);
        /* A failed decode never hands out a partial value. */
        row_true(i, t->in, v.type == DX_T_S && strcmp(v.u.s, "untouched") == 0, "out was written");
        dx_arena_reset(&a);
    }
    dx_arena_release(&a);
}

static void test_syntax_errors(void **state) {
    (void)state;
    run_error_table(syntax_cases, sizeof syntax_cases / sizeof syntax_cases[0]);
}

/* ---------------------------------------------------------------- DynamoDB value errors */

static const err_case ddb_cases[] = {
    {ITEM, "{\"a\":{}}", 0, DX_ERR_VALIDATION, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes", 5, "a"},
    {ITEM, "{\"a\":{ }}", 0, DX_ERR_VALIDATION, "Supplied AttributeValue is empty", 5, "a"},
    {ITEM, "{\"a\":{\"S\":\"x\",\"N\":\"1\"}}", 0, DX_ERR_VALIDATION, "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes", 14, "a"},
    {VALUE, "{\"S\":\"x\",\"S\":\"y\"}", 0, DX_ERR_VALIDATION, "more than one datatypes", 9, NULL},
    {VALUE, "{\"S\":\"x\", \"bogus\":1}", 0, DX_ERR_VALIDATION, "more than one datatypes", 10, NULL},
    {ITEM, "{\"a\":{\"X\":\"1\"}}", 0, DX_ERR_VALIDATION, "unknown datatype \"X\"", 6, "a"},
    {VALUE, "{\"s\":\"x\"}", 0, DX_ERR_VALIDATION, "unknown datatype \"s\"", 1, NULL},
    {VALUE, "{\"\":\"x\"}", 0, DX_ERR_VALIDATION, "unknown datatype \"\"", 1, NULL},
    {VALUE, "{\"SSS\":[]}", 0, DX_ERR_VALIDATION, "unknown datatype \"SSS\"", 1, NULL},
    {VALUE, "{\"BOOLEAN\":true}", 0, DX_ERR_VALIDATION, "unknown datatype \"BOOLEAN\"", 1, NULL},
    {VALUE, "{\"NULL\":false}", 0, DX_ERR_VALIDATION, "One or more parameter values were invalid: Null attribute value types must have the value of true", 8, NULL},
    {VALUE, "{\"NULL\":\"yes\"}", 0, DX_ERR_VALIDATION, "A NULL value must be true, found a string", 8, NULL},
    {VALUE, "{\"NULL\":null}", 0, DX_ERR_VALIDATION, "A NULL value must be true, found null", 8, NULL},
    {VALUE, "{\"BOOL\":\"true\"}", 0, DX_ERR_VALIDATION, "A BOOL value must be true or false, found a string", 8, NULL},
    {VALUE, "{\"BOOL\":1}", 0, DX_ERR_VALIDATION, "A BOOL value must be true or false, found a number", 8, NULL},
    {VALUE, "{\"N\":1}", 0, DX_ERR_VALIDATION, "An N value must be a JSON string holding a number", 5, NULL},
    {VALUE, "{\"N\":\"abc\"}", 0, DX_ERR_VALIDATION, "The parameter cannot be converted to a numeric value", 5, NULL},
    {VALUE, "{\"N\":\"1e999\"}", 0, DX_ERR_VALIDATION, "Number overflow", 5, NULL},
    {VALUE, "{\"N\":\"\\u0031x\"}", 0, DX_ERR_VALIDATION, "cannot be converted to a numeric value: 1x", 5, NULL},
    {VALUE, "{\"S\":1}", 0, DX_ERR_VALIDATION, "An S value must be a JSON string, found a number", 5, NULL},
    {VALUE, "{\"S\":null}", 0, DX_ERR_VALIDATION, "An S value must be a JSON string, found null", 5, NULL},
    {VALUE, "{\"S\":{\"S\":\"x\"}}", 0, DX_ERR_VALIDATION, "An S value must be a JSON string, found an object", 5, NULL},
    {VALUE, "{\"B\":\"abc\"}", 0, DX_ERR_VALIDATION, "Invalid base64", 5, NULL},
    {VALUE, "{\"B\":\"ab=c\"}", 0, DX_ERR_VALIDATION, "Invalid base64", 5, NULL},
    {VALUE, "{\"B\":\"a b=\"}", 0, DX_ERR_VALIDATION, "Invalid base64", 5, NULL},
    {VALUE, "{\"B\":\"Zh==\"}", 0, DX_ERR_VALIDATION, "Invalid base64", 5, NULL},
    {VALUE, "{\"B\":5}", 0, DX_ERR_VALIDATION, "A B value must be a base64 JSON string, found a number", 5, NULL},
    {VALUE, "{\"SS\":\"a\"}", 0, DX_ERR_VALIDATION, "An SS value must be a JSON array, found a string", 6, NULL},
    {VALUE, "{\"SS\":[1]}", 0, DX_ERR_VALIDATION, "The members of an SS value must be JSON strings, found a number", 7, NULL},
    {VALUE, "{\"SS\":[\"a\",{\"S\":\"b\"}]}", 0, DX_ERR_VALIDATION, "The members of an SS value must be JSON strings, found an object", 11, NULL},
    {VALUE, "{\"NS\":[\"1\",\"x\"]}", 0, DX_ERR_VALIDATION, "cannot be converted to a numeric value", 11, NULL},
    {VALUE, "{\"NS\":[1]}", 0, DX_ERR_VALIDATION, "The members of an NS value must be JSON strings", 7, NULL},
    {VALUE, "{\"BS\":[\"***=\"]}", 0, DX_ERR_VALIDATION, "Invalid base64", 7, NULL},
    {VALUE, "{\"L\":{}}", 0, DX_ERR_VALIDATION, "An L value must be a JSON array, found an object", 5, NULL},
    {VALUE, "{\"M\":[]}", 0, DX_ERR_VALIDATION, "An M value must be a JSON object, found an array", 5, NULL},
    {VALUE, "{\"L\":[\"x\"]}", 0, DX_ERR_VALIDATION, "Supplied AttributeValue must be an object with one datatype key", 6, NULL},
    {VALUE, "{\"L\":[{}]}", 0, DX_ERR_VALIDATION, "Supplied AttributeValue is empty", 6, NULL},
    {VALUE, "\"x\"", 0, DX_ERR_VALIDATION, "Supplied AttributeValue must be an object", 0, NULL},
    {ITEM, "{\"a\":\"x\"}", 0, DX_ERR_VALIDATION, "Supplied AttributeValue must be an object with one datatype key such as {\"S\":\"text\"}, found a string", 5, "a"},
    {ITEM, "{\"a\":{\"M\":{\"b\":{\"N\":\"x\"}}}}", 0, DX_ERR_VALIDATION, "cannot be converted to a numeric value", 20, "a"},
    {ITEM, "{\"ok\":{\"S\":\"y\"},\"bad\":{\"L\":[{\"NULL\":false}]}}", 0, DX_ERR_VALIDATION, "Null attribute value types", 36, "bad"},
    {ITEM, "{\"o\\u006b\":{\"N\":\"--1\"}}", 0, DX_ERR_VALIDATION, "cannot be converted", 16, "ok"},
    /* Plain JSON: numbers DynamoDB refuses name the top-level member they are in. */
    {PLAIN, "{\"a\":1,\"age\":1e400}", 0, DX_ERR_VALIDATION, "Number overflow", 13, "age"},
    {PLAIN, "{\"m\":{\"x\":[1e-400]}}", 0, DX_ERR_VALIDATION, "Number underflow", 11, "m"},
    {PLAIN, "[1e400]", 0, DX_ERR_VALIDATION, "Number overflow", 1, NULL},
};

static void test_ddb_errors(void **state) {
    (void)state;
    run_error_table(ddb_cases, sizeof ddb_cases / sizeof ddb_cases[0]);
}

/* r may be NULL: errors are still returned, nothing is written. */
static void test_null_result(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_value v;
    assert_int_equal(dx_decode_item(&a, "{\"a\":{}}", 8, &v, NULL), DX_ERR_VALIDATION);
    assert_int_equal(dx_decode_item(&a, "{\"a\":{\"N\":\"x\"}}", 15, &v, NULL), DX_ERR_VALIDATION);
    assert_int_equal(dx_decode_plain(&a, "[1,]", 4, &v, NULL), DX_ERR_PARSE);
    assert_int_equal(dx_decode_plain(&a, "[1]", 3, &v, NULL), DX_OK);
    assert_int_equal(dx_decode_plain(&a, NULL, 0, &v, NULL), DX_ERR_PARSE);
    assert_int_equal(dx_decode_plain(NULL, "1", 1, &v, NULL), DX_ERR_INVALID_ARG);
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- depth */

/* n nested arrays (plain), or n nested M values inside an item. */
static void nest_plain(dx_buf *b, int n) {
    for (int i = 0; i < n; i++) dx_buf_putc(b, '[');
    for (int i = 0; i < n; i++) dx_buf_putc(b, ']');
}

static void nest_objects(dx_buf *b, int n) {
    for (int i = 0; i < n; i++) dx_buf_puts(b, "{\"a\":");
    dx_buf_puts(b, "1");
    for (int i = 0; i < n; i++) dx_buf_putc(b, '}');
}

/* An item whose attribute "a" is an M nested `levels` deep. */
static void nest_item(dx_buf *b, int levels) {
    dx_buf_puts(b, "{\"a\":");
    for (int i = 0; i < levels; i++) dx_buf_puts(b, "{\"M\":{\"a\":");
    dx_buf_puts(b, "{\"S\":\"deep\"}");
    for (int i = 0; i < levels; i++) dx_buf_puts(b, "}}");
    dx_buf_putc(b, '}');
}

static void nest_list(dx_buf *b, int levels) {
    for (int i = 0; i < levels; i++) dx_buf_puts(b, "{\"L\":[");
    dx_buf_puts(b, "{\"N\":\"1\"}");
    for (int i = 0; i < levels; i++) dx_buf_puts(b, "]}");
}

static void test_depth_limit(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_buf b = {0}, out = {0};
    dx_value v;
    dx_result r;

    nest_plain(&b, DX_JSON_MAX_DEPTH);
    assert_int_equal(decode_exact(PLAIN, &a, b.ptr, b.len, &v, &r), DX_OK);
    dx_buf_clear(&b);
    nest_plain(&b, DX_JSON_MAX_DEPTH + 1);
    assert_int_equal(decode_exact(PLAIN, &a, b.ptr, b.len, &v, &r), DX_ERR_PARSE);
    assert_string_equal(r.message, "nesting deeper than 64 levels at byte 64");
    assert_int_equal(r.offset, DX_JSON_MAX_DEPTH);

    dx_buf_clear(&b);
    nest_objects(&b, DX_JSON_MAX_DEPTH);
    assert_int_equal(decode_exact(PLAIN, &a, b.ptr, b.len, &v, &r), DX_OK);
    assert_int_equal(encode(PLAIN, &out, &v), DX_OK);
    assert_string_equal(out.ptr, b.ptr);
    dx_buf_clear(&b);
    nest_objects(&b, DX_JSON_MAX_DEPTH + 1);
    assert_int_equal(decode_exact(PLAIN, &a, b.ptr, b.len, &v, &r), DX_ERR_PARSE);
    assert_non_null(strstr(r.message, "nesting deeper than 64 levels"));

    /* Far too deep: refused at the limit, no stack exhaustion. */
    dx_buf_clear(&b);
    nest_plain(&b, 200000);
    assert_int_equal(decode_exact(PLAIN, &a, b.ptr, b.len, &v, &r), DX_ERR_PARSE);
    assert_int_equal(r.offset, DX_JSON_MAX_DEPTH);
    dx_jcur c;
    dx_jcur_init(&c, &a, b.ptr, b.len, NULL);
    assert_int_equal(dx_jcur_skip(&c), DX_ERR_PARSE);

    /*
     * DynamoDB JSON counts containers, not the {"M": ...} wrappers: the item is
     * level 1 and each M one more, so 63 nested maps fit and 64 do not.
     */
    dx_buf_clear(&b);
    nest_item(&b, DX_JSON_MAX_DEPTH - 1);
    assert_int_equal(decode_exact(ITEM, &a, b.ptr, b.len, &v, &r), DX_OK);
    assert_int_equal(encode(ITEM, &out, &v), DX_OK);
    assert_string_equal(out.ptr, b.ptr);
    dx_buf_clear(&b);
    nest_item(&b, DX_JSON_MAX_DEPTH);
    assert_int_equal(decode_exact(ITEM, &a, b.ptr, b.len, &v, &r), DX_ERR_PARSE);
    assert_non_null(strstr(r.message, "nesting deeper than 64 levels"));
    assert_string_equal(r.field, "a");

    dx_buf_clear(&b);
    nest_list(&b, DX_JSON_MAX_DEPTH);
    assert_int_equal(decode_exact(VALUE, &a, b.ptr, b.len, &v, &r), DX_OK);
    dx_buf_clear(&b);
    nest_list(&b, DX_JSON_MAX_DEPTH + 1);
    assert_int_equal(decode_exact(VALUE, &a, b.ptr, b.len, &v, &r), DX_ERR_PARSE);

    /* DynamoDB's own limit (32 levels) fits inside a BatchGetItem response envelope. */
    dx_buf_clear(&b);
    dx_buf_puts(&b, "{\"Responses\":{\"t\":[");
    nest_item(&b, 32);
    dx_buf_puts(&b, "]}}");
    dx_jcur_init(&c, &a, b.ptr, b.len, &r);
    dx_str key;
    bool done;
    assert_int_equal(dx_jcur_obj_begin(&c), DX_OK);
    assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
    assert_int_equal(dx_jcur_obj_begin(&c), DX_OK);
    assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
    assert_int_equal(dx_jcur_arr_begin(&c), DX_OK);
    assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
    assert_int_equal(dx_jcur_ddb_item(&c, &v), DX_OK);
    assert_int_equal(c.depth, 3);

    /* Encoding refuses a tree deeper than the decoder would build. */
    dx_value deep[DX_JSON_MAX_DEPTH + 2];
    deep[DX_JSON_MAX_DEPTH + 1] = dx_vnull();
    for (int i = DX_JSON_MAX_DEPTH; i >= 0; i--) deep[i] = dx_vlist(&deep[i + 1], 1);
    dx_buf_clear(&out);
    dx_buf_puts(&out, "keep");
    assert_int_equal(dx_encode_value(&out, &deep[0]), DX_ERR_INVALID_ARG);
    assert_string_equal(out.ptr, "keep");
    assert_int_equal(dx_encode_value(&out, &deep[1]), DX_OK);

    dx_buf_free(&b);
    dx_buf_free(&out);
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- cursor */

/* A GetItem response as the HTTP backend walks it. */
static void walk_get_item(const char *doc) {
    dx_arena a = {0};
    dx_result r;
    dx_result_clear(&r);
    dx_jcur c;
    dx_jcur_init(&c, &a, doc, strlen(doc), &r);
    dx_value item = {0};
    double units = 0;
    char table[32] = "";
    int seen = 0;
    bool done;
    dx_str key;
    assert_int_equal(dx_jcur_peek(&c), '{');
    assert_int_equal(dx_jcur_obj_begin(&c), DX_OK);
    for (;;) {
        assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
        if (done) break;
        seen++;
        if (dx_str_eq(key, "Item")) {
            assert_int_equal(dx_jcur_ddb_item(&c, &item), DX_OK);
        } else if (dx_str_eq(key, "ConsumedCapacity")) {
            assert_int_equal(dx_jcur_obj_begin(&c), DX_OK);
            for (;;) {
                assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
                if (done) break;
                dx_str s;
                if (dx_str_eq(key, "CapacityUnits")) {
                    assert_int_equal(dx_jcur_number(&c, &s), DX_OK);
                    char tmp[32];
                    snprintf(tmp, sizeof tmp, "%.*s", (int)s.len, s.ptr);
                    units = strtod(tmp, NULL);
                } else if (dx_str_eq(key, "TableName")) {
                    assert_int_equal(dx_jcur_string(&c, &s), DX_OK);
                    snprintf(table, sizeof table, "%.*s", (int)s.len, s.ptr);
                } else {
                    assert_int_equal(dx_jcur_skip(&c), DX_OK);
                }
            }
        } else {
            assert_int_equal(dx_jcur_skip(&c), DX_OK);
        }
    }
    assert_true(dx_jcur_at_end(&c));
    assert_int_equal(dx_jcur_peek(&c), 0);
    assert_int_equal(c.depth, 0);
    assert_int_equal(seen, 3);
    assert_true(units == 0.5);
    assert_string_equal(table, "Thread");
    assert_int_equal(item.type, DX_T_M);
    assert_int_equal(item.n, 3);
    assert_string_equal(dx_map_get(&item, "pk")->u.s, "k1");
    assert_string_equal(dx_map_get(&item, "n")->u.s, "10");
    assert_int_equal(dx_map_get(&item, "tags")->type, DX_T_SS);
    dx_arena_release(&a);
}

static void test_cursor_get_item(void **state) {
    (void)state;
    walk_get_item("{\"ConsumedCapacity\":{\"CapacityUnits\":0.5,\"TableName\":\"Thread\"},"
                  "\"Item\":{\"pk\":{\"S\":\"k1\"},\"n\":{\"N\":\"10.0\"},\"tags\":{\"SS\":[\"a\"]}},"
                  "\"Extra\":[1,{\"x\":[true,null,\"s\"]},-2.5e3]}");
    walk_get_item("{\n  \"ConsumedCapacity\" : {\n    \"TableName\" : \"Thread\",\n"
                  "    \"ReadCapacityUnits\": 1,\n    \"CapacityUnits\" : 0.5\n  },\n"
                  "  \"Extra\" : { },\n"
                  "  \"Item\" : {\n    \"pk\" : { \"S\" : \"k1\" } ,\n    \"n\" : { \"N\" : \"10\" },\n"
                  "    \"tags\" : { \"SS\" : [ \"a\" ] }\n  }\n}\n");
}

/* A BatchGetItem response: Responses per table, then UnprocessedKeys. */
static void test_cursor_batch_get(void **state) {
    (void)state;
    const char *doc =
        "{\"Responses\":{\"t1\":[{\"pk\":{\"S\":\"a\"}},{\"pk\":{\"S\":\"b\"},\"x\":{\"NS\":[\"1\",\"2.0\"]}}],"
        "\"t2\":[]},"
        "\"UnprocessedKeys\":{\"t1\":{\"Keys\":[{\"pk\":{\"S\":\"c\"}},{\"pk\":{\"S\":\"d\"}}],"
        "\"ConsistentRead\":true,\"ProjectionExpression\":null}},"
        "\"ConsumedCapacity\":[{\"TableName\":\"t1\",\"CapacityUnits\":2}]}";
    dx_arena a = {0};
    dx_result r;
    dx_result_clear(&r);
    dx_jcur c;
    dx_jcur_init(&c, &a, doc, strlen(doc), &r);
    dx_str key, table;
    bool done, consistent = false;
    dx_value got[8];
    char got_table[8][4];
    int ngot = 0, nunproc = 0, ntables = 0;
    dx_value unproc[4];

    assert_int_equal(dx_jcur_obj_begin(&c), DX_OK);
    for (;;) {
        assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
        if (done) break;
        if (dx_str_eq(key, "Responses")) {
            assert_int_equal(dx_jcur_obj_begin(&c), DX_OK);
            for (;;) {
                assert_int_equal(dx_jcur_obj_next(&c, &table, &done), DX_OK);
                if (done) break;
                ntables++;
                assert_int_equal(dx_jcur_peek(&c), '[');
                assert_int_equal(dx_jcur_arr_begin(&c), DX_OK);
                for (;;) {
                    assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
                    if (done) break;
                    assert_true(ngot < 8);
                    snprintf(got_table[ngot], sizeof got_table[ngot], "%.*s", (int)table.len, table.ptr);
                    assert_int_equal(dx_jcur_ddb_item(&c, &got[ngot++]), DX_OK);
                }
            }
        } else if (dx_str_eq(key, "UnprocessedKeys")) {
            assert_int_equal(dx_jcur_obj_begin(&c), DX_OK);
            for (;;) {
                assert_int_equal(dx_jcur_obj_next(&c, &table, &done), DX_OK);
                if (done) break;
                assert_true(dx_str_eq(table, "t1"));
                assert_int_equal(dx_jcur_obj_begin(&c), DX_OK);
                for (;;) {
                    assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
                    if (done) break;
                    if (dx_str_eq(key, "Keys")) {
                        assert_int_equal(dx_jcur_arr_begin(&c), DX_OK);
                        for (;;) {
                            assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
                            if (done) break;
                            assert_int_equal(dx_jcur_ddb_item(&c, &unproc[nunproc++]), DX_OK);
                        }
                    } else if (dx_str_eq(key, "ConsistentRead")) {
                        assert_int_equal(dx_jcur_bool(&c, &consistent), DX_OK);
                    } else {
                        assert_true(dx_jcur_null(&c));
                    }
                }
            }
        } else {
            assert_int_equal(dx_jcur_skip(&c), DX_OK);
        }
    }
    assert_true(dx_jcur_at_end(&c));
    assert_int_equal(ntables, 2);
    assert_int_equal(ngot, 2);
    assert_string_equal(got_table[1], "t1");
    assert_string_equal(dx_map_get(&got[0], "pk")->u.s, "a");
    const dx_value *ns = dx_map_get(&got[1], "x");
    assert_int_equal(ns->type, DX_T_NS);
    assert_string_equal(ns->u.elems[1].u.s, "2");
    assert_int_equal(nunproc, 2);
    assert_string_equal(dx_map_get(&unproc[1], "pk")->u.s, "d");
    assert_true(consistent);
    dx_arena_release(&a);
}

/* One line of DynamoDB's S3 export: {"Item":{...}} then a newline. */
static void test_cursor_export_line(void **state) {
    (void)state;
    const char *line = "{\"Item\":{\"pk\":{\"S\":\"u#1\"},\"age\":{\"N\":\"41\"}}}\n";
    dx_arena a = {0};
    dx_result r;
    dx_result_clear(&r);
    dx_jcur c;
    dx_jcur_init(&c, &a, line, strlen(line), &r);
    dx_str key;
    bool done;
    dx_value item;
    assert_int_equal(dx_jcur_obj_begin(&c), DX_OK);
    assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
    assert_false(done);
    assert_true(dx_str_eq(key, "Item"));
    assert_int_equal(dx_jcur_ddb_item(&c, &item), DX_OK);
    assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
    assert_true(done);
    assert_true(dx_jcur_at_end(&c));
    assert_int_equal(item.n, 2);

    /* A bad attribute reports the attribute and the offset within the line. */
    const char *bad = "{\"Item\":{\"pk\":{\"S\":\"u#1\"},\"age\":{\"N\":\"forty\"}}}";
    dx_jcur_init(&c, &a, bad, strlen(bad), &r);
    assert_int_equal(dx_jcur_obj_begin(&c), DX_OK);
    assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
    assert_int_equal(dx_jcur_ddb_item(&c, &item), DX_ERR_VALIDATION);
    assert_string_equal(r.field, "age");
    assert_int_equal(r.offset, 37);
    assert_non_null(strstr(r.message, "forty"));
    dx_arena_release(&a);
}

typedef struct cur_err_case {
    const char *in;
    const char *msg;
    long offset;
} cur_err_case;

/* The cursor's scalar readers and its errors. */
static void test_cursor_misc(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_result r;
    dx_jcur c;
    dx_str s, key;
    bool b, done;
    dx_value v;

    /* Keys without escapes point into the input; keys with escapes are arena copies. */
    const char *doc = "{\"plain\":\"v\",\"esc\\u0061ped\":\"w\\n\"}";
    dx_jcur_init(&c, &a, doc, strlen(doc), &r);
    assert_int_equal(dx_jcur_obj_begin(&c), DX_OK);
    assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
    assert_ptr_equal(key.ptr, doc + 2);
    assert_int_equal(key.len, 5);
    assert_int_equal(dx_jcur_string(&c, &s), DX_OK);
    assert_ptr_equal(s.ptr, doc + 10);
    assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
    assert_true(dx_str_eq(key, "escaped"));
    assert_true(key.ptr < doc || key.ptr > doc + strlen(doc));
    assert_int_equal(dx_jcur_string(&c, &s), DX_OK);
    assert_true(dx_str_eq(s, "w\n"));
    assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
    assert_true(done);

    /* Scalars, peek, null, plain and ddb values inside an array. */
    doc = " [ true , false , null , -1.5e+3 , \"x\" , {\"N\":\"7\"} , {\"k\":[1]} , [] ] ";
    dx_jcur_init(&c, &a, doc, strlen(doc), &r);
    assert_int_equal(dx_jcur_peek(&c), '[');
    assert_int_equal(dx_jcur_arr_begin(&c), DX_OK);
    assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
    assert_false(dx_jcur_null(&c)); /* not null: consumes nothing */
    assert_int_equal(dx_jcur_bool(&c, &b), DX_OK);
    assert_true(b);
    assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
    assert_int_equal(dx_jcur_peek(&c), 'f');
    assert_int_equal(dx_jcur_bool(&c, &b), DX_OK);
    assert_false(b);
    assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
    assert_true(dx_jcur_null(&c));
    assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
    assert_int_equal(dx_jcur_number(&c, &s), DX_OK);
    assert_true(dx_str_eq(s, "-1.5e+3"));
    assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
    assert_int_equal(dx_jcur_number(&c, &s), DX_ERR_PARSE); /* a string is not a number */
    assert_non_null(strstr(r.message, "expected a number, found '\"'"));
    assert_int_equal(dx_jcur_plain(&c, &v), DX_OK);
    assert_int_equal(v.type, DX_T_S);
    assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
    assert_int_equal(dx_jcur_ddb_value(&c, &v), DX_OK);
    assert_int_equal(v.type, DX_T_N);
    assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
    assert_int_equal(dx_jcur_plain(&c, &v), DX_OK);
    assert_int_equal(v.type, DX_T_M);
    assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
    assert_int_equal(dx_jcur_arr_begin(&c), DX_OK);
    assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
    assert_true(done);
    assert_int_equal(dx_jcur_arr_next(&c, &done), DX_OK);
    assert_true(done);
    assert_true(dx_jcur_at_end(&c));
    assert_int_equal(c.depth, 0);

    /* dx_jcur_fail: the caller's message, the offset of the next token. */
    doc = "{\"Item\": 5}";
    dx_jcur_init(&c, &a, doc, strlen(doc), &r);
    assert_int_equal(dx_jcur_obj_begin(&c), DX_OK);
    assert_int_equal(dx_jcur_obj_next(&c, &key, &done), DX_OK);
    assert_int_equal(dx_jcur_peek(&c), '5');
    assert_int_equal(dx_jcur_fail(&c, "expected %s to be an object", "Item"), DX_ERR_PARSE);
    assert_string_equal(r.message, "expected Item to be an object at byte 9");
    assert_int_equal(r.offset, 9);

    /* Errors met while walking. */
    static const cur_err_case cases[] = {
        {"{\"a\":1 \"b\":2}", "expected ',' or '}' after an object member", 7},
        {"{\"a\":1,}", "trailing comma before '}'", 7},
        {"{\"a\" 1}", "expected ':' after object key", 5},
        {"{,}", "expected '\"' to start an object key or '}'", 1},
        {"[1,]", "trailing comma before ']'", 3},
        {"[1 2]", "expected ',' or ']' after an array element", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const cur_err_case *t = &cases[i];
        dx_result_clear(&r);
        dx_jcur_init(&c, &a, t->in, strlen(t->in), &r);
        dx_err e = t->in[0] == '{' ? dx_jcur_obj_begin(&c) : dx_jcur_arr_begin(&c);
        assert_int_equal(e, DX_OK);
        for (int k = 0; k < 4 && !e; k++) {
            done = false;
            e = t->in[0] == '{' ? dx_jcur_obj_next(&c, &key, &done) : dx_jcur_arr_next(&c, &done);
            if (!e && !done) e = dx_jcur_skip(&c);
            if (done) break;
        }
        if (e != DX_ERR_PARSE || !strstr(r.message, t->msg) || r.offset != t->offset)
            print_message("row %zu: %s: got %s \"%s\" offset %ld\n", i, t->in, dx_err_name(e), r.message, r.offset);
        assert_int_equal(e, DX_ERR_PARSE);
        assert_non_null(strstr(r.message, t->msg));
        assert_int_equal(r.offset, t->offset);
    }

    /* Wrong kinds. */
    dx_jcur_init(&c, &a, "[1]", 3, &r);
    assert_int_equal(dx_jcur_obj_begin(&c), DX_ERR_PARSE);
    assert_non_null(strstr(r.message, "expected '{' to start an object, found '['"));
    dx_jcur_init(&c, &a, "{}", 2, &r);
    assert_int_equal(dx_jcur_arr_begin(&c), DX_ERR_PARSE);
    dx_jcur_init(&c, &a, "nul", 3, &r);
    assert_false(dx_jcur_null(&c));
    assert_int_equal(dx_jcur_bool(&c, &b), DX_ERR_PARSE);
    dx_jcur_init(&c, &a, "1", 1, &r);
    assert_int_equal(dx_jcur_string(&c, &s), DX_ERR_PARSE);
    dx_jcur_init(&c, &a, "", 0, &r);
    assert_true(dx_jcur_at_end(&c));
    assert_int_equal(dx_jcur_peek(&c), 0);
    assert_int_equal(dx_jcur_skip(&c), DX_ERR_PARSE);

    /* skip validates what it skips. */
    static const char *const bad_skips[] = {"[1,]", "{\"a\":01}", "\"\\ud800\"", "[tru]", "{\"a\"}", "\"\xff\""};
    for (size_t i = 0; i < sizeof bad_skips / sizeof bad_skips[0]; i++) {
        dx_jcur_init(&c, &a, bad_skips[i], strlen(bad_skips[i]), &r);
        dx_err e = dx_jcur_skip(&c);
        if (e != DX_ERR_PARSE) print_message("row %zu: %s skipped\n", i, bad_skips[i]);
        assert_int_equal(e, DX_ERR_PARSE);
    }
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- plain encode */

static void test_plain_encode(void **state) {
    (void)state;
    dx_buf b = {0};
    unsigned char bin[] = {0, 1, 2, 0xff};
    dx_value ss[] = {dx_vs("a"), dx_vs("\"q\"")};
    dx_value ns[] = {dx_vn("1"), dx_vn("-2.5")};
    dx_value bs[] = {dx_vb(bin, 1), dx_vb(bin + 1, 3)};
    dx_value l[] = {dx_vbool(true), dx_vnull(), dx_vn("5.")};
    dx_member m[] = {
        {"s", 1, dx_vs("x\ty")},
        {"n", 1, dx_vn(".5")},
        {"b", 1, dx_vb(bin, 4)},
        {"ss", 2, dx_vset(DX_T_SS, ss, 2)},
        {"ns", 2, dx_vset(DX_T_NS, ns, 2)},
        {"bs", 2, dx_vset(DX_T_BS, bs, 2)},
        {"l", 1, dx_vlist(l, 3)},
        {"e", 1, dx_vmap(NULL, 0)},
    };
    dx_value item = dx_vmap(m, 8);
    assert_int_equal(dx_encode_plain(&b, &item), DX_OK);
    assert_string_equal(b.ptr, "{\"s\":\"x\\ty\",\"n\":0.5,\"b\":\"AAEC/w==\",\"ss\":[\"a\",\"\\\"q\\\"\"],"
                               "\"ns\":[1,-2.5],\"bs\":[\"AA==\",\"AQL/\"],\"l\":[true,null,5],\"e\":{}}");
    dx_buf_clear(&b);
    assert_int_equal(dx_encode_item(&b, &item), DX_OK);
    assert_string_equal(b.ptr, "{\"s\":{\"S\":\"x\\ty\"},\"n\":{\"N\":\".5\"},\"b\":{\"B\":\"AAEC/w==\"},"
                               "\"ss\":{\"SS\":[\"a\",\"\\\"q\\\"\"]},\"ns\":{\"NS\":[\"1\",\"-2.5\"]},"
                               "\"bs\":{\"BS\":[\"AA==\",\"AQL/\"]},\"l\":{\"L\":[{\"BOOL\":true},"
                               "{\"NULL\":true},{\"N\":\"5.\"}]},\"e\":{\"M\":{}}}");

    /* Appends; on failure the buffer is left as it was. */
    dx_buf_clear(&b);
    dx_buf_puts(&b, "prefix:");
    dx_value bad_num = dx_vn("abc");
    assert_int_equal(dx_encode_plain(&b, &bad_num), DX_ERR_VALIDATION);
    assert_string_equal(b.ptr, "prefix:");
    dx_member with_none[] = {{"ok", 2, dx_vs("x")}, {"none", 4, {DX_T_NONE, 0, {.s = NULL}}}};
    dx_value bad_item = dx_vmap(with_none, 2);
    assert_int_equal(dx_encode_item(&b, &bad_item), DX_ERR_INVALID_ARG);
    assert_string_equal(b.ptr, "prefix:");
    assert_int_equal(b.len, 7);
    assert_int_equal(dx_encode_plain(&b, &bad_item), DX_ERR_INVALID_ARG);
    assert_int_equal(dx_encode_value(&b, &bad_item), DX_ERR_INVALID_ARG);
    assert_string_equal(b.ptr, "prefix:");
    dx_value s = dx_vs("not a map");
    assert_int_equal(dx_encode_item(&b, &s), DX_ERR_INVALID_ARG);
    dx_value unknown = {99, 0, {.s = NULL}};
    assert_int_equal(dx_encode_value(&b, &unknown), DX_ERR_INVALID_ARG);
    assert_int_equal(dx_encode_value(&b, &s), DX_OK);
    assert_string_equal(b.ptr, "prefix:{\"S\":\"not a map\"}");
    assert_int_equal(dx_encode_plain(&b, &s), DX_OK);
    assert_string_equal(b.ptr, "prefix:{\"S\":\"not a map\"}\"not a map\"");
    dx_buf_free(&b);

    /* From an empty buffer, output is NUL-terminated and the size grows as needed. */
    dx_buf e = {0};
    dx_value big = dx_vsn("0123456789012345678901234567890123456789012345678901234567890123456789", 70);
    assert_int_equal(dx_encode_value(&e, &big), DX_OK);
    assert_int_equal(e.len, 70 + 8);
    assert_int_equal(e.ptr[e.len], 0);
    dx_buf_free(&e);
}

/* ---------------------------------------------------------------- base64 */

typedef struct b64_case {
    const char *raw;
    const char *enc;
} b64_case;

static void test_base64(void **state) {
    (void)state;
    /* RFC 4648 section 10. */
    static const b64_case vec[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                   {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                   {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        char out[64];
        size_t n = dx_base64_encode(vec[i].raw, strlen(vec[i].raw), out);
        out[n] = 0;
        row_str_eq(i, vec[i].raw, out, vec[i].enc);
        assert_int_equal(n, dx_base64_encoded_len(strlen(vec[i].raw)));
        unsigned char dec[64];
        size_t dn = 99;
        assert_int_equal(dx_base64_decode(vec[i].enc, strlen(vec[i].enc), dec, &dn), DX_OK);
        assert_int_equal(dn, strlen(vec[i].raw));
        assert_memory_equal(dec, vec[i].raw, dn);
    }
    /* Every byte value, every length mod 3. */
    unsigned char all[258];
    for (int i = 0; i < 258; i++) all[i] = (unsigned char)(i * 7 + 3);
    for (size_t n = 256; n <= 258; n++) {
        char enc[400];
        unsigned char dec[300];
        size_t en = dx_base64_encode(all, n, enc), dn;
        assert_int_equal(dx_base64_decode(enc, en, dec, &dn), DX_OK);
        assert_int_equal(dn, n);
        assert_memory_equal(dec, all, n);
    }
    /* Strict: anything but canonical padded standard base64 is refused. */
    static const char *const bad[] = {"Zg=",  "Zg",   "Z===", "Zm9v=", "Zg==Zg==", "Zh==", "Zm9=",
                                      "Zm 9v", "Zm9v\n", "Zm-_", "=Zg=", "Z=g=", "====", "Zg=a",
                                      "Zm9\xff", "Zm9v Zm9v"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char dec[16];
        size_t dn;
        dx_err e = dx_base64_decode(bad[i], strlen(bad[i]), dec, &dn);
        if (e == DX_OK) print_message("row %zu: \"%s\" accepted\n", i, bad[i]);
        assert_int_not_equal(e, DX_OK);
    }
    /* dx_buf_put_base64 appends and NUL-terminates. */
    dx_buf b = {0};
    dx_buf_puts(&b, "x=");
    assert_true(dx_buf_put_base64(&b, "foob", 4));
    assert_string_equal(b.ptr, "x=Zm9vYg==");
    assert_true(dx_buf_put_base64(&b, "", 0));
    assert_string_equal(b.ptr, "x=Zm9vYg==");
    dx_buf_free(&b);
}

/* ---------------------------------------------------------------- bounds */

/*
 * Every proper prefix of an object document is invalid; decoding each from a
 * buffer that ends exactly there must fail cleanly (ASan reports any read past
 * the end). Whole documents must succeed from such a buffer too.
 */
static void test_never_reads_past_len(void **state) {
    (void)state;
    static const struct {
        enum mode mode;
        const char *doc;
    } docs[] = {
        {ITEM, "{\"a\":{\"S\":\"x\\u00e9\\ud83d\\ude00\\n\"},\"n\":{\"N\":\"-1.50e3\"},\"b\":{\"B\":\"AAE=\"},"
               "\"t\":{\"BOOL\":true},\"f\":{\"BOOL\":false},\"z\":{\"NULL\":true},"
               "\"l\":{\"L\":[{\"N\":\"1\"},{\"M\":{\"k\":{\"SS\":[\"p\"]}}}]},"
               "\"ns\":{\"NS\":[\"3\",\"4.0\"]},\"bs\":{\"BS\":[\"AQ==\"]},\"caf\xc3\xa9\":{\"S\":\"\xe2\x82\xac\"}}"},
        {ITEM, "{ \"a\" : { \"N\" : \"12345678901234567890\" } , \"b\" : { \"BOOL\" : false } }"},
        {VALUE, "{\"\\u0042OOL\":true}"},
        {VALUE, "{\"NULL\":true}"},
        {PLAIN, "{\"a\":[1,-2.5e-3,true,false,null,\"s\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\"],\"b\":{}}"},
        {PLAIN, "[0,{\"x\":[[]]},\"\xf0\x9f\x98\x80\"]"},
    };
    dx_arena a = {0};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        size_t len = strlen(docs[i].doc);
        dx_value v;
        dx_result r;
        dx_err e = decode_exact(docs[i].mode, &a, docs[i].doc, len, &v, &r);
        if (e) print_message("row %zu: %s\n", i, r.message);
        assert_int_equal(e, DX_OK);
        for (size_t n = 0; n < len; n++) {
            e = decode_exact(docs[i].mode, &a, docs[i].doc, n, &v, &r);
            if (e == DX_OK) print_message("row %zu: prefix of %zu bytes accepted\n", i, n);
            assert_int_not_equal(e, DX_OK);
            row_true(i, docs[i].doc, r.offset >= 0 && (size_t)r.offset <= n, "offset out of range");
            /* The cursor's skip over the same bytes. */
            char *copy = malloc(n ? n : 1);
            memcpy(copy, docs[i].doc, n);
            dx_jcur c;
            dx_jcur_init(&c, &a, copy, n, NULL);
            assert_int_not_equal(dx_jcur_skip(&c), DX_OK);
            free(copy);
        }
        dx_arena_reset(&a);
    }
    /* A string literal cut in the middle of a UTF-8 sequence or an escape. */
    static const char *const cuts[] = {"\"\xe2\x82\xac\"", "\"\\u00e9\"", "\"\\ud83d\\ude00\"", "\"abcdefghij\""};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        for (size_t n = 0; n < strlen(cuts[i]); n++) {
            dx_value v;
            dx_result r;
            assert_int_equal(decode_exact(PLAIN, &a, cuts[i], n, &v, &r), DX_ERR_PARSE);
        }
    }
    dx_arena_release(&a);
}

/*
 * Random edits of valid documents: whatever happens, a failure names an offset
 * inside the input and a message, and a success re-encodes to something that
 * decodes to an equal value. Run under ASan this is a small fuzzer.
 */
static void test_mutations(void **state) {
    (void)state;
    static const char *const seeds[] = {
        "{\"a\":{\"S\":\"x\\u00e9\"},\"n\":{\"N\":\"-1.50e3\"},\"b\":{\"B\":\"AAE=\"},"
        "\"l\":{\"L\":[{\"BOOL\":true},{\"NULL\":true},{\"M\":{\"k\":{\"NS\":[\"1\",\"2\"]}}}]},"
        "\"ss\":{\"SS\":[\"p\",\"q\"]},\"bs\":{\"BS\":[\"AQ==\"]}}",
        "{\"a\":[1,-2.5e-3,true,false,null,\"s\\\"\\n\\ud83d\\ude00\"],\"b\":{\"c\":{}}}",
    };
    static const char alphabet[] = "{}[]:,\"\\ u0123456789.eE+-tfnSNBLMOU=/\x01\xc3\xa9\xff";
    dx_arena a = {0};
    dx_buf doc = {0}, out = {0};
    dx_rng rng;
    dx_rng_seed(&rng, 1234);
    int accepted = 0, rejected = 0;
    for (int i = 0; i < 6000; i++) {
        const char *seed = seeds[i % 2];
        dx_buf_clear(&doc);
        dx_buf_puts(&doc, seed);
        int edits = 1 + (int)dx_rng_below(&rng, 3);
        for (int k = 0; k < edits && doc.len > 1; k++) {
            size_t at = dx_rng_below(&rng, doc.len);
            char ch = alphabet[dx_rng_below(&rng, sizeof alphabet - 1)];
            switch (dx_rng_below(&rng, 3)) {
            case 0: doc.ptr[at] = ch; break;
            case 1: memmove(doc.ptr + at, doc.ptr + at + 1, doc.len - at); doc.len--; break;
            default:
                dx_buf_putc(&doc, 0);
                memmove(doc.ptr + at + 1, doc.ptr + at, doc.len - at - 1);
                doc.ptr[at] = ch;
                break;
            }
        }
        for (int m = ITEM; m <= PLAIN; m++) {
            dx_value v, v2;
            dx_result r;
            dx_err e = decode_exact((enum mode)m, &a, doc.ptr, doc.len, &v, &r);
            if (e) {
                bool ok = (e == DX_ERR_PARSE || e == DX_ERR_VALIDATION) && r.message[0] &&
                          r.offset >= 0 && (size_t)r.offset <= doc.len;
                if (!ok) print_message("row %d mode %s: %s -> %s offset %ld\n", i, mode_name((enum mode)m), doc.ptr, r.message, r.offset);
                assert_true(ok);
                rejected++;
                continue;
            }
            accepted++;
            assert_int_equal(encode((enum mode)m, &out, &v), DX_OK);
            e = decode_exact((enum mode)m, &a, out.ptr, out.len, &v2, &r);
            if (e || !dx_value_equal(&v, &v2)) print_message("row %d mode %s: %s re-encoded as %s\n", i, mode_name((enum mode)m), doc.ptr, out.ptr);
            assert_int_equal(e, DX_OK);
            assert_true(dx_value_equal(&v, &v2));
        }
        dx_arena_reset(&a);
    }
    print_message("mutations: %d accepted, %d rejected\n", accepted, rejected);
    assert_true(accepted > 100 && rejected > 100);
    dx_buf_free(&doc);
    dx_buf_free(&out);
    dx_arena_release(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_decoded_shape),
        cmocka_unit_test(test_large_containers),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_numbers_match_value_num),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_ddb_errors),
        cmocka_unit_test(test_null_result),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_cursor_get_item),
        cmocka_unit_test(test_cursor_batch_get),
        cmocka_unit_test(test_cursor_export_line),
        cmocka_unit_test(test_cursor_misc),
        cmocka_unit_test(test_plain_encode),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_never_reads_past_len),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
