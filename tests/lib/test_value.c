/*
 * test_value.c - lib/value.c: type names, views, maps and builders, numbers
 * (parse, canonical text, compare, exact add/sub, int64/double conversion),
 * deep copy, flatten, packing, compare, equality and DynamoDB validation
 * (alone, and measuring as it goes: dx_item_check).
 *
 * Numbers are checked against what dynalite 4.0.0 (big.js) does with the same
 * text; tables print the failing row before asserting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynox/codec.h"
#include "dynox/size.h"
#include "dynox/value.h"
#include "testutil.h"
#include "value_text.h"

/* Runs of zeros for the long canonical texts near DynamoDB's limits. */
#define Z5 "00000"
#define Z10 "0000000000"
#define Z50 Z10 Z10 Z10 Z10 Z10
#define Z125 Z50 Z50 Z10 Z10 Z5
#define Z129 Z125 "0000"
#define Z124 Z50 Z50 Z10 Z10 "0000"
#define Z88 Z50 Z10 Z10 Z10 Z5 "000"
#define D38 "12345678901234567890123456789012345678"
#define N38 "99999999999999999999999999999999999999"

static const char msg_nan[] = "The parameter cannot be converted to a numeric value";
static const char msg_digits[] = "Attempting to store more than 38 significant digits in a Number";
static const char msg_over[] =
    "Number overflow. Attempting to store a number with magnitude larger than supported range";
static const char msg_under[] =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";

/* ---------------------------------------------------------------- types and views */

static void test_type_names(void **state) {
    (void)state;
    static const struct {
        dx_type t;
        const char *name;
    } rows[] = {
        {DX_T_S, "S"},   {DX_T_N, "N"},   {DX_T_B, "B"},   {DX_T_BOOL, "BOOL"},
        {DX_T_NULL, "NULL"}, {DX_T_L, "L"}, {DX_T_M, "M"}, {DX_T_SS, "SS"},
        {DX_T_NS, "NS"}, {DX_T_BS, "BS"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_row_string_equal(i, dx_type_name(rows[i].t), rows[i].name);
        assert_row_int_equal(i, dx_type_from_name(rows[i].name, strlen(rows[i].name)), rows[i].t);
    }
    assert_string_equal(dx_type_name(DX_T_NONE), "?");
    assert_string_equal(dx_type_name((dx_type)99), "?");
    assert_int_equal(dx_type_from_name("s", 1), DX_T_NONE);
    assert_int_equal(dx_type_from_name("", 0), DX_T_NONE);
    assert_int_equal(dx_type_from_name("SSS", 3), DX_T_NONE);
    assert_int_equal(dx_type_from_name("SS", 1), DX_T_S); /* counted, not NUL-terminated */
    assert_int_equal(dx_type_from_name(NULL, 0), DX_T_NONE);
}

static void test_views(void **state) {
    (void)state;
    dx_value v = dx_vs("hello");
    assert_int_equal(v.type, DX_T_S);
    assert_int_equal(v.n, 5);
    assert_memory_equal(v.u.s, "hello", 5);
    v = dx_vs(NULL);
    assert_int_equal(v.type, DX_T_S);
    assert_int_equal(v.n, 0);
    v = dx_vn("1.50");
    assert_int_equal(v.type, DX_T_N);
    assert_int_equal(v.n, 4);
    v = dx_vn("not a number"); /* views do not validate */
    assert_int_equal(v.type, DX_T_N);
    assert_true(dx_value_is(&v, DX_T_N));
    assert_false(dx_value_is(&v, DX_T_S));
    assert_false(dx_value_is(NULL, DX_T_S));
    v = dx_vnull();
    assert_int_equal(v.type, DX_T_NULL);
    assert_int_equal(v.n, 1);
    v = dx_vbool(true);
    assert_int_equal(v.n, 1);
}

/* ---------------------------------------------------------------- maps and builders */

static void test_map_get(void **state) {
    (void)state;
    dx_member m[] = {
        {"id", 2, dx_vs("u1")},
        {"age", 3, dx_vn("42")},
        {"a", 1, dx_vbool(true)},
        {"", 0, dx_vs("empty name")},
    };
    dx_value map = dx_vmap(m, 4);
    const dx_value *v = dx_map_get(&map, "age");
    assert_non_null(v);
    assert_int_equal(v->type, DX_T_N);
    assert_memory_equal(v->u.s, "42", 2);
    assert_ptr_equal(dx_map_get(&map, "id"), &m[0].value);
    assert_ptr_equal(dx_map_get(&map, "a"), &m[2].value);
    assert_ptr_equal(dx_map_get(&map, ""), &m[3].value);
    assert_null(dx_map_get(&map, "ag"));
    assert_null(dx_map_get(&map, "ages"));
    assert_null(dx_map_get(&map, "ID"));
    assert_null(dx_map_get(&map, NULL));
    assert_ptr_equal(dx_map_getn(&map, "agenda", 3), &m[1].value);
    dx_value s = dx_vs("x");
    assert_null(dx_map_get(&s, "x")); /* not a map */
    assert_null(dx_map_get(NULL, "x"));
}

static void test_builders(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_map_builder mb = {.arena = &a};
    char name[16];
    for (int i = 0; i < 100; i++) { /* well past the first growth */
        snprintf(name, sizeof name, "k%d", i);
        dx_value *slot = dx_mapb_add(&mb, name, strlen(name));
        assert_non_null(slot);
        assert_int_equal(slot->type, DX_T_NONE);
        *slot = dx_vs("v");
        slot->n = (uint32_t)i; /* marker */
    }
    dx_value map = dx_mapb_finish(&mb);
    assert_int_equal(map.type, DX_T_M);
    assert_int_equal(map.n, 100);
    assert_int_equal(mb.n, 0);
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "k%d", i);
        const dx_value *v = dx_map_get(&map, name);
        if (!v || v->n != (uint32_t)i) print_error("member %d\n", i);
        assert_non_null(v);
        assert_int_equal(v->n, i);
        /* names are copied and NUL-terminated */
        assert_string_equal(map.u.members[i].name, name);
        assert_ptr_not_equal(map.u.members[i].name, name);
    }
    /* a name that is not NUL-terminated is copied by length */
    dx_value *slot = dx_mapb_add(&mb, "abcdef", 3);
    *slot = dx_vbool(false);
    map = dx_mapb_finish(&mb);
    assert_int_equal(map.n, 1);
    assert_string_equal(map.u.members[0].name, "abc");
    assert_int_equal(map.u.members[0].name_len, 3);

    dx_list_builder lb = {.arena = &a};
    for (int i = 0; i < 50; i++) {
        dx_value *e = dx_listb_add(&lb);
        assert_non_null(e);
        *e = dx_vbool(i % 2);
    }
    dx_value list = dx_listb_finish(&lb, DX_T_L);
    assert_int_equal(list.type, DX_T_L);
    assert_int_equal(list.n, 50);
    for (int i = 0; i < 50; i++) assert_int_equal(list.u.elems[i].n, i % 2);
    dx_value empty = dx_listb_finish(&lb, DX_T_SS);
    assert_int_equal(empty.type, DX_T_SS);
    assert_int_equal(empty.n, 0);
    empty = dx_mapb_finish(&mb);
    assert_int_equal(empty.type, DX_T_M);
    assert_int_equal(empty.n, 0);

    dx_map_builder noarena = {0};
    assert_null(dx_mapb_add(&noarena, "x", 1));
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- number parse/format */

typedef struct num_row {
    const char *in;
    const char *canon; /* NULL: an error is expected */
    const char *msg;   /* the expected message when canon is NULL */
    int ndigits, exp;
} num_row;

static const num_row num_rows[] = {
    /* zero, whatever its spelling or exponent */
    {"0", "0", NULL, 0, 0},
    {"-0", "0", NULL, 0, 0},
    {"0.0", "0", NULL, 0, 0},
    {"000", "0", NULL, 0, 0},
    {"0e5", "0", NULL, 0, 0},
    {"0e-999", "0", NULL, 0, 0},
    {"-0.000e10", "0", NULL, 0, 0},
    {"0e99999999999999999999", "0", NULL, 0, 0},
    /* plain numbers */
    {"1", "1", NULL, 1, 0},
    {"123", "123", NULL, 3, 2},
    {"1.5", "1.5", NULL, 2, 0},
    {"-1", "-1", NULL, 1, 0},
    {"10", "10", NULL, 1, 1},
    {"100", "100", NULL, 1, 2},
    {"0.01", "0.01", NULL, 1, -2},
    {"-123.456", "-123.456", NULL, 6, 2},
    /* trailing and leading zeros */
    {"1.50", "1.5", NULL, 2, 0},
    {"001.2300", "1.23", NULL, 3, 0},
    {"-0.0012300", "-0.00123", NULL, 3, -3},
    {"1000.000", "1000", NULL, 1, 3},
    {"00000000000000000000000000000000000000000000000001", "1", NULL, 1, 0},
    /* dots and exponents */
    {"1.", "1", NULL, 1, 0},
    {".5", "0.5", NULL, 1, -1},
    {"-.5", "-0.5", NULL, 1, -1},
    {"1e+3", "1000", NULL, 1, 3},
    {"1E3", "1000", NULL, 1, 3},
    {"1e-3", "0.001", NULL, 1, -3},
    {"12.5e1", "125", NULL, 3, 2},
    {"12.5e-1", "1.25", NULL, 3, 0},
    {"1.e2", "100", NULL, 1, 2},
    {"1e0000000000000000000000002", "100", NULL, 1, 2},
    {"-1.5E-2", "-0.015", NULL, 2, -2},
    /* range */
    {"1e125", "1" Z125, NULL, 1, 125},
    {"-1e125", "-1" Z125, NULL, 1, 125},
    {"9.9999999999999999999999999999999999999e125", N38 Z88, NULL, 38, 125},
    {"0.1e126", "1" Z125, NULL, 1, 125},
    {"1e126", NULL, msg_over, 0, 0},
    {"-1e126", NULL, msg_over, 0, 0},
    {"10e125", NULL, msg_over, 0, 0},
    {"1e99999999999999999999999", NULL, msg_over, 0, 0},
    {"1e-130", "0." Z129 "1", NULL, 1, -130},
    {"-1e-130", "-0." Z129 "1", NULL, 1, -130},
    {"10e-131", "0." Z129 "1", NULL, 1, -130},
    {"1e-131", NULL, msg_under, 0, 0},
    {"0.01e-129", NULL, msg_under, 0, 0},
    {"1e-99999999999999999999999", NULL, msg_under, 0, 0},
    /* 38 significant digits */
    {D38, D38, NULL, 38, 37},
    {"-" D38, "-" D38, NULL, 38, 37},
    {D38 "0", D38 "0", NULL, 38, 38},
    {"0.000" D38, "0.000" D38, NULL, 38, -4},
    {"1234567890123456789.0123456789012345678", "1234567890123456789.0123456789012345678", NULL, 38,
     18},
    {D38 "000000", D38 "000000", NULL, 38, 43},
    {"123456789012345678901234567890123456789", NULL, msg_digits, 0, 0},
    {"1.23456789012345678901234567890123456789", NULL, msg_digits, 0, 0},
    {"100000000000000000000000000000000000000.1", NULL, msg_digits, 0, 0},
    /* overflow is checked before digits, as dynalite does */
    {"123456789012345678901234567890123456789e200", NULL, msg_over, 0, 0},
    {"123456789012345678901234567890123456789e-200", NULL, msg_under, 0, 0},
    /* not numbers */
    {"", NULL, msg_nan, 0, 0},
    {"+1", NULL, "The parameter cannot be converted to a numeric value: +1", 0, 0},
    {" 1", NULL, "The parameter cannot be converted to a numeric value:  1", 0, 0},
    {"1 ", NULL, "The parameter cannot be converted to a numeric value: 1 ", 0, 0},
    {"-", NULL, "The parameter cannot be converted to a numeric value: -", 0, 0},
    {".", NULL, "The parameter cannot be converted to a numeric value: .", 0, 0},
    {"-.", NULL, "The parameter cannot be converted to a numeric value: -.", 0, 0},
    {"e5", NULL, "The parameter cannot be converted to a numeric value: e5", 0, 0},
    {".e5", NULL, "The parameter cannot be converted to a numeric value: .e5", 0, 0},
    {"1e", NULL, "The parameter cannot be converted to a numeric value: 1e", 0, 0},
    {"1e+", NULL, "The parameter cannot be converted to a numeric value: 1e+", 0, 0},
    {"1e5.5", NULL, "The parameter cannot be converted to a numeric value: 1e5.5", 0, 0},
    {"--1", NULL, "The parameter cannot be converted to a numeric value: --1", 0, 0},
    {"1.2.3", NULL, "The parameter cannot be converted to a numeric value: 1.2.3", 0, 0},
    {"0x10", NULL, "The parameter cannot be converted to a numeric value: 0x10", 0, 0},
    {"Infinity", NULL, "The parameter cannot be converted to a numeric value: Infinity", 0, 0},
    {"NaN", NULL, "The parameter cannot be converted to a numeric value: NaN", 0, 0},
    {"1,5", NULL, "The parameter cannot be converted to a numeric value: 1,5", 0, 0},
    {"\xd9\xa1", NULL, "The parameter cannot be converted to a numeric value: \xd9\xa1", 0, 0},
};

static void test_num_parse_format(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof num_rows / sizeof num_rows[0]; i++) {
        const num_row *row = &num_rows[i];
        dx_num x;
        dx_result r;
        dx_result_clear(&r);
        memset(&x, 0x55, sizeof x);
        dx_err e = dx_num_parse(row->in, strlen(row->in), &x, &r);
        if (row->canon) {
            if (e) print_error("row %zu [%s]: %s\n", i, row->in, r.message);
            assert_row_int_equal(i, e, DX_OK);
            char text[DX_NUM_TEXT_MAX];
            size_t n = dx_num_format(&x, text);
            assert_row_string_equal(i, text, row->canon);
            assert_row_int_equal(i, n, strlen(row->canon));
            assert_row_int_equal(i, x.ndigits, row->ndigits);
            assert_row_int_equal(i, x.ndigits ? x.exp : 0, row->exp);
            assert_row_int_equal(i, x.neg, x.ndigits && row->canon[0] == '-');
            /* the canonical text parses back to the same number */
            dx_num y;
            assert_row_int_equal(i, dx_num_parse(text, n, &y, NULL), DX_OK);
            assert_row_int_equal(i, dx_num_cmp(&x, &y), 0);
        } else {
            assert_row_int_equal(i, e, DX_ERR_VALIDATION);
            assert_row_int_equal(i, r.err, DX_ERR_VALIDATION);
            assert_row_string_equal(i, r.message, row->msg);
            /* r may be NULL */
            assert_row_int_equal(i, dx_num_parse(row->in, strlen(row->in), &x, NULL), DX_ERR_VALIDATION);
        }
    }
}

static void test_num_format_out_of_range(void **state) {
    (void)state;
    /* a hand-made dx_num outside the limits would not fit DX_NUM_TEXT_MAX: refused */
    dx_num x = {.neg = false, .ndigits = 1, .exp = 500, .digits = {'1'}};
    char text[DX_NUM_TEXT_MAX] = "junk";
    assert_int_equal(dx_num_format(&x, text), 0);
    assert_string_equal(text, "");
    x.exp = -131;
    assert_int_equal(dx_num_format(&x, text), 0);
    x.exp = -130;
    assert_int_equal(dx_num_format(&x, text), 132);
    x.exp = 125;
    x.ndigits = 39;
    assert_int_equal(dx_num_format(&x, text), 0);
    /* and arithmetic on such numbers is refused rather than overflowing */
    dx_num big = {.ndigits = 1, .exp = 2000, .digits = {'1'}}, one;
    dx_num_from_i64(1, &one);
    dx_num out;
    assert_int_equal(dx_num_add(&big, &one, &out, NULL), DX_ERR_INVALID_ARG);
}

static void test_num_parse_counted(void **state) {
    (void)state;
    /* The text is counted: bytes after n are not read. */
    dx_num x;
    assert_int_equal(dx_num_parse("12345", 2, &x, NULL), DX_OK);
    char text[DX_NUM_TEXT_MAX];
    dx_num_format(&x, text);
    assert_string_equal(text, "12");
    assert_int_equal(dx_num_parse(NULL, 0, &x, NULL), DX_ERR_VALIDATION);
    /* very long unparseable text is cut in the message, not overflowing it */
    char big[2000];
    memset(big, 'x', sizeof big);
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_num_parse(big, sizeof big, &x, &r), DX_ERR_VALIDATION);
    assert_true(strncmp(r.message, msg_nan, strlen(msg_nan)) == 0);
    assert_true(strlen(r.message) < sizeof r.message);
    /* many digits that are zeros are fine */
    char zeros[600];
    memset(zeros, '0', sizeof zeros);
    zeros[300] = '.';
    zeros[599] = '7';
    assert_int_equal(dx_num_parse(zeros, sizeof zeros, &x, NULL), DX_ERR_VALIDATION); /* 7e-299 */
    zeros[599] = '0';
    zeros[299] = '7';
    assert_int_equal(dx_num_parse(zeros, sizeof zeros, &x, NULL), DX_OK);
    dx_num_format(&x, text);
    assert_string_equal(text, "7");
}

/* ---------------------------------------------------------------- number compare */

static void test_num_cmp(void **state) {
    (void)state;
    static const struct {
        const char *a, *b;
        int want;
    } rows[] = {
        {"0", "-0", 0},      {"1", "1.0", 0},     {"1", "2", -1},        {"2", "1", 1},
        {"-1", "1", -1},     {"-2", "-1", -1},    {"0", "0.0001", -1},   {"-0.0001", "0", -1},
        {"10", "9", 1},      {"1e3", "999.9", 1}, {"1.25", "1.3", -1},   {"1.3", "1.25", 1},
        {"1.2", "1.25", -1}, {"-1.2", "-1.25", 1}, {"100", "1e2", 0},    {"0.5", ".5", 0},
        {"1e-130", "0", 1},  {"-1e125", "1e-130", -1}, {D38, D38 "0", -1}, {"12", "1.2", 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_num a, b;
        assert_row_int_equal(i, dx_num_parse(rows[i].a, strlen(rows[i].a), &a, NULL), DX_OK);
        assert_row_int_equal(i, dx_num_parse(rows[i].b, strlen(rows[i].b), &b, NULL), DX_OK);
        int c = dx_num_cmp(&a, &b);
        assert_row_int_equal(i, (c > 0) - (c < 0), rows[i].want);
        c = dx_num_cmp(&b, &a);
        assert_row_int_equal(i, (c > 0) - (c < 0), -rows[i].want);
    }
}

/* ---------------------------------------------------------------- add / sub */

static void test_num_add_sub(void **state) {
    (void)state;
    /* sum and diff are canonical text, or a message when an error is expected */
    static const struct {
        const char *a, *b, *sum, *diff;
    } rows[] = {
        {"1", "2", "3", "-1"},
        {"9", "1", "10", "8"},
        {"999", "1", "1000", "998"},
        {"0.999", "0.001", "1", "0.998"},
        {"0.5", "0.5", "1", "0"},
        {"1", "-1", "0", "2"},
        {"-5", "3", "-2", "-8"},
        {"3", "-5", "-2", "8"},
        {"-3", "-5", "-8", "2"},
        {"5", "-5.5", "-0.5", "10.5"},
        {"1000", "0.001", "1000.001", "999.999"},
        {"1.25", "-1.25", "0", "2.5"},
        {"123.456", "123.456", "246.912", "0"},
        {"0", "0", "0", "0"},
        {"0", "-7.5", "-7.5", "7.5"},
        {"-7.5", "0", "-7.5", "-7.5"},
        {"100", "-99.99", "0.01", "199.99"},
        {"1e20", "1", "100000000000000000001", "99999999999999999999"},
        {"-1e20", "1", "-99999999999999999999", "-100000000000000000001"},
        {N38, "1", "1" Z10 Z10 Z10 "00000000", "99999999999999999999999999999999999998"},
        {"-" N38, "-1", "-1" Z10 Z10 Z10 "00000000", "-99999999999999999999999999999999999998"},
        {"1e-130", "1e-130", "0." Z129 "2", "0"},
        {"1e125", "1e125", "2" Z125, "0"},
        {"1e125", "-1e124", "9" Z124, "11" Z124},
        /* more than 38 significant digits */
        {D38, "0.1", msg_digits, msg_digits},
        {"1e100", "1e-30", msg_digits, msg_digits},
        {N38, "0.9", msg_digits, msg_digits},
        /* out of range */
        {"9e125", "1e125", msg_over, "8" Z125},
        {"-9e125", "1e125", "-8" Z125, msg_over},
        {"9.9999999999999999999999999999999999999e125", "1e88", msg_over,
         "99999999999999999999999999999999999998" Z88},
        {"1.1e-130", "-1e-130", msg_under, "0." Z129 "21"},
        {"1e-130", "-1.1e-130", msg_under, "0." Z129 "21"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_num a, b, out;
        assert_row_int_equal(i, dx_num_parse(rows[i].a, strlen(rows[i].a), &a, NULL), DX_OK);
        assert_row_int_equal(i, dx_num_parse(rows[i].b, strlen(rows[i].b), &b, NULL), DX_OK);
        for (int op = 0; op < 2; op++) {
            const char *want = op ? rows[i].diff : rows[i].sum;
            dx_result r;
            dx_result_clear(&r);
            dx_err e = op ? dx_num_sub(&a, &b, &out, &r) : dx_num_add(&a, &b, &out, &r);
            bool want_err = !(want[0] == '-' || (want[0] >= '0' && want[0] <= '9'));
            if (want_err != (e != DX_OK))
                print_error("row %zu %s %s %s: %s\n", i, rows[i].a, op ? "-" : "+", rows[i].b,
                            e ? r.message : "ok");
            if (want_err) {
                assert_row_int_equal(i, e, DX_ERR_VALIDATION);
                assert_row_string_equal(i, r.message, want);
            } else {
                assert_row_int_equal(i, e, DX_OK);
                char text[DX_NUM_TEXT_MAX];
                dx_num_format(&out, text);
                assert_row_string_equal(i, text, want);
            }
        }
        /* a + b == b + a */
        dx_num ab, ba;
        dx_err e1 = dx_num_add(&a, &b, &ab, NULL), e2 = dx_num_add(&b, &a, &ba, NULL);
        assert_row_int_equal(i, e1, e2);
        if (!e1) assert_row_int_equal(i, dx_num_cmp(&ab, &ba), 0);
    }
    /* the output may alias an input */
    dx_num a, b;
    dx_num_parse("19.5", 4, &a, NULL);
    dx_num_parse("0.5", 3, &b, NULL);
    assert_int_equal(dx_num_add(&a, &b, &a, NULL), DX_OK);
    char text[DX_NUM_TEXT_MAX];
    dx_num_format(&a, text);
    assert_string_equal(text, "20");
    assert_int_equal(dx_num_sub(&a, &b, &b, NULL), DX_OK);
    dx_num_format(&b, text);
    assert_string_equal(text, "19.5");
}

/* ---------------------------------------------------------------- conversions */

static void test_num_i64(void **state) {
    (void)state;
    static const struct {
        const char *in;
        int64_t want;
        const char *msg; /* substring of the error, NULL for success */
    } rows[] = {
        {"0", 0, NULL},
        {"42", 42, NULL},
        {"-42", -42, NULL},
        {"120", 120, NULL},
        {"1e18", 1000000000000000000LL, NULL},
        {"9223372036854775807", INT64_MAX, NULL},
        {"-9223372036854775808", INT64_MIN, NULL},
        {"9223372036854775808", 0, "does not fit"},
        {"-9223372036854775809", 0, "does not fit"},
        {"1e19", 0, "does not fit"},
        {"1e100", 0, "does not fit"},
        {"1.5", 0, "not an integer"},
        {"0.001", 0, "not an integer"},
        {"-12345.6", 0, "not an integer"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_num x;
        assert_row_int_equal(i, dx_num_parse(rows[i].in, strlen(rows[i].in), &x, NULL), DX_OK);
        int64_t v = 7;
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dx_num_to_i64(&x, &v, &r);
        if (rows[i].msg) {
            assert_row_int_equal(i, e, DX_ERR_VALIDATION);
            assert_row_true(i, strstr(r.message, rows[i].msg) != NULL);
            char text[DX_NUM_TEXT_MAX];
            dx_num_format(&x, text);
            assert_row_true(i, strstr(r.message, text) != NULL); /* names the number */
        } else {
            assert_row_int_equal(i, e, DX_OK);
            assert_row_int_equal(i, v == rows[i].want, 1);
            /* and back */
            dx_num y;
            dx_num_from_i64(v, &y);
            assert_row_int_equal(i, dx_num_cmp(&x, &y), 0);
        }
    }
    static const struct {
        int64_t v;
        const char *text;
    } from[] = {
        {0, "0"},     {1, "1"},       {-1, "-1"},   {100, "100"},   {-1200, "-1200"},
        {INT64_MAX, "9223372036854775807"}, {INT64_MIN, "-9223372036854775808"},
    };
    for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
        dx_num x;
        char text[DX_NUM_TEXT_MAX];
        dx_num_from_i64(from[i].v, &x);
        dx_num_format(&x, text);
        assert_row_string_equal(i, text, from[i].text);
        /* digits are stored without trailing zeros, like a parsed number */
        dx_num y;
        dx_num_parse(from[i].text, strlen(from[i].text), &y, NULL);
        assert_row_int_equal(i, x.ndigits, y.ndigits);
        assert_row_int_equal(i, x.exp, y.exp);
    }
}

static void test_num_double(void **state) {
    (void)state;
    static const struct {
        double v;
        const char *text; /* NULL: error */
    } rows[] = {
        {0.0, "0"},
        {-0.0, "0"},
        {1.0, "1"},
        {-2.5, "-2.5"},
        {0.1, "0.1"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3.0, "0.3333333333333333"},
        {123456789.0, "123456789"},
        {1e20, "100000000000000000000"},
        {1e-5, "0.00001"},
        {9007199254740993.0, "9007199254740992"},
        {1e125, "1" Z125},
        {1e300, NULL},
        {1e-300, NULL},
        {5e-324, NULL},
        {NAN, NULL},
        {INFINITY, NULL},
        {-INFINITY, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_num x;
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dx_num_from_double(rows[i].v, &x, &r);
        if (!rows[i].text) {
            assert_row_int_equal(i, e, DX_ERR_VALIDATION);
            assert_row_true(i, r.message[0] != 0);
            continue;
        }
        assert_row_int_equal(i, e, DX_OK);
        char text[DX_NUM_TEXT_MAX];
        dx_num_format(&x, text);
        assert_row_string_equal(i, text, rows[i].text);
        double back = -1;
        assert_row_int_equal(i, dx_num_to_double(&x, &back, NULL), DX_OK);
        assert_row_true(i, back == rows[i].v);
    }
    dx_num x;
    double d;
    dx_num_parse("-1e-130", 7, &x, NULL);
    assert_int_equal(dx_num_to_double(&x, &d, NULL), DX_OK);
    assert_true(d == -1e-130);
    dx_num_parse(D38, 38, &x, NULL);
    assert_int_equal(dx_num_to_double(&x, &d, NULL), DX_OK);
    assert_true(d == 12345678901234567890123456789012345678.0);
}

static void test_value_num_helpers(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_value v;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_value_num(&a, "001.500", 7, &v, &r), DX_OK);
    assert_int_equal(v.type, DX_T_N);
    assert_int_equal(v.n, 3);
    assert_string_equal(v.u.s, "1.5");
    assert_int_equal(dx_value_num(&a, "1e126", 5, &v, &r), DX_ERR_VALIDATION);
    assert_string_equal(r.message, msg_over);
    assert_int_equal(dx_value_i64(&a, -9000, &v), DX_OK);
    assert_int_equal(v.type, DX_T_N);
    assert_string_equal(v.u.s, "-9000");
    assert_int_equal(dx_value_double(&a, 2.25, &v, &r), DX_OK);
    assert_string_equal(v.u.s, "2.25");
    assert_int_equal(dx_value_double(&a, NAN, &v, &r), DX_ERR_VALIDATION);
    dx_num x;
    dx_num_parse("-0.50", 5, &x, NULL);
    assert_int_equal(dx_value_from_num(&a, &x, &v), DX_OK);
    assert_string_equal(v.u.s, "-0.5");
    assert_int_equal(v.n, 4);

    int64_t i64;
    double d;
    dx_value n = dx_vn("1.0e3");
    assert_int_equal(dx_value_to_i64(&n, &i64, &r), DX_OK);
    assert_int_equal(i64, 1000);
    assert_int_equal(dx_value_to_double(&n, &d, &r), DX_OK);
    assert_true(d == 1000.0);
    dx_value s = dx_vs("12");
    dx_result_clear(&r);
    assert_int_equal(dx_value_to_i64(&s, &i64, &r), DX_ERR_VALIDATION);
    assert_non_null(strstr(r.message, "got S"));
    dx_value bad = dx_vn("12x");
    assert_int_equal(dx_value_to_double(&bad, &d, &r), DX_ERR_VALIDATION);
    assert_string_equal(r.message, "The parameter cannot be converted to a numeric value: 12x");
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- copy */

static void test_value_copy(void **state) {
    (void)state;
    dx_arena src = {0}, dst = {0};
    dx_value v, c;
    assert_true(vt_parse(&src,
                         "M{'name': S'ann', 'age': N'042.0', 'raw': B'\\x00\\xff', 'ok': T, 'nil': Z,"
                         " 'l': L[S'a', L[N'1'], M{'x': F}], 'ss': SS[S'a', S'b'], 'ns': NS[N'1'],"
                         " 'bs': BS[B'\\x01'], 'e': M{}, 'el': L[]}",
                         &v));
    assert_int_equal(dx_value_copy(&dst, &v, &c), DX_OK);
    assert_true(dx_value_equal(&v, &c));
    /* numbers are copied as they are */
    assert_string_equal(dx_map_get(&c, "age")->u.s, "042.0");
    /* nothing is shared with the source */
    assert_ptr_not_equal(c.u.members, v.u.members);
    assert_ptr_not_equal(c.u.members[0].name, v.u.members[0].name);
    assert_ptr_not_equal(dx_map_get(&c, "name")->u.s, dx_map_get(&v, "name")->u.s);
    dx_arena_release(&src);
    /* the copy outlives its source */
    assert_string_equal(dx_map_get(&c, "name")->u.s, "ann");
    const dx_value *raw = dx_map_get(&c, "raw");
    assert_int_equal(raw->n, 2);
    assert_memory_equal(raw->u.s, "\x00\xff", 2);
    const dx_value *l = dx_map_get(&c, "l");
    assert_int_equal(l->n, 3);
    assert_string_equal(l->u.elems[1].u.elems[0].u.s, "1");
    assert_int_equal(dx_map_get(&l->u.elems[2], "x")->n, 0);
    assert_int_equal(dx_map_get(&c, "e")->n, 0);
    dx_arena_release(&dst);
}

/* ---------------------------------------------------------------- flatten */

static void test_flatten(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_value v, *f = NULL;
    dx_result r;
    dx_result_clear(&r);
    assert_true(vt_parse(&a,
                         "M{'zeta': N'1.50', 'a': S'x', 'ab': N'-0', 'aa': L[N'1e3', M{'y': N'2', 'x': N'001'}],"
                         " 'b': B'\\x00', '': T, 'ns': NS[N'10.0', N'-.5'], 'ss': SS[S'q'], 'nil': Z}",
                         &v));
    assert_int_equal(dx_value_flatten(&v, &f, &r), DX_OK);
    assert_non_null(f);
    assert_true(dx_value_equal(&v, f));
    assert_int_equal(f->type, DX_T_M);
    assert_int_equal(f->n, 9);
    /* members sorted by name, bytewise, shorter first */
    static const char *const order[] = {"", "a", "aa", "ab", "b", "nil", "ns", "ss", "zeta"};
    for (uint32_t i = 0; i < 9; i++) assert_row_string_equal(i, f->u.members[i].name, order[i]);
    /* numbers canonical, everywhere */
    assert_string_equal(dx_map_get(f, "zeta")->u.s, "1.5");
    assert_int_equal(dx_map_get(f, "zeta")->n, 3);
    assert_string_equal(dx_map_get(f, "ab")->u.s, "0");
    const dx_value *aa = dx_map_get(f, "aa");
    assert_string_equal(aa->u.elems[0].u.s, "1000");
    assert_string_equal(aa->u.elems[1].u.members[0].name, "x"); /* nested maps sorted too */
    assert_string_equal(aa->u.elems[1].u.members[0].value.u.s, "1");
    const dx_value *ns = dx_map_get(f, "ns");
    assert_string_equal(ns->u.elems[0].u.s, "10");
    assert_string_equal(ns->u.elems[1].u.s, "-0.5");
    assert_memory_equal(dx_map_get(f, "b")->u.s, "\0", 1);
    /* everything lives inside the one block */
    dx_arena_release(&a);
    assert_string_equal(dx_map_get(f, "a")->u.s, "x");
    free(f);

    /* flattening is idempotent: a flattened value flattens to the same layout */
    dx_arena_release(&a);
    assert_true(vt_parse(&a, "M{'b': N'1', 'a': L[S'x', N'2.0']}", &v));
    dx_value *f1 = NULL, *f2 = NULL;
    assert_int_equal(dx_value_flatten(&v, &f1, NULL), DX_OK);
    assert_int_equal(dx_value_flatten(f1, &f2, NULL), DX_OK);
    assert_true(dx_value_equal(f1, f2));
    assert_string_equal(f2->u.members[0].name, "a");
    free(f1);
    free(f2);

    /* scalars and empty containers */
    dx_value s = dx_vs("just a string");
    assert_int_equal(dx_value_flatten(&s, &f, NULL), DX_OK);
    assert_int_equal(f->type, DX_T_S);
    assert_string_equal(f->u.s, "just a string");
    free(f);
    dx_value em = dx_vmap(NULL, 0);
    assert_int_equal(dx_value_flatten(&em, &f, NULL), DX_OK);
    assert_int_equal(f->type, DX_T_M);
    assert_int_equal(f->n, 0);
    free(f);
    dx_value b = dx_vbool(true);
    assert_int_equal(dx_value_flatten(&b, &f, NULL), DX_OK);
    assert_int_equal(f->n, 1);
    free(f);

    /* invalid numbers fail, with DynamoDB's message, and leave *out NULL */
    dx_arena_release(&a);
    assert_true(vt_parse(&a, "M{'a': L[N'1', N'1e200']}", &v));
    f = (dx_value *)&v;
    dx_result_clear(&r);
    assert_int_equal(dx_value_flatten(&v, &f, &r), DX_ERR_VALIDATION);
    assert_null(f);
    assert_string_equal(r.message, msg_over);
    dx_arena_release(&a);
}

static void test_flatten_big_map(void **state) {
    (void)state;
    /* more members than the insertion sort handles: reverse order, 500 members */
    dx_arena a = {0};
    dx_map_builder mb = {.arena = &a};
    char name[16];
    for (int i = 499; i >= 0; i--) {
        snprintf(name, sizeof name, "k%03d", i);
        dx_value *slot = dx_mapb_add(&mb, name, strlen(name));
        assert_non_null(slot);
        assert_int_equal(dx_value_i64(&a, i, slot), DX_OK);
    }
    dx_value m = dx_mapb_finish(&mb), *f = NULL;
    assert_int_equal(dx_value_flatten(&m, &f, NULL), DX_OK);
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "k%03d", i);
        assert_row_string_equal(i, f->u.members[i].name, name);
        int64_t x;
        assert_row_int_equal(i, dx_value_to_i64(&f->u.members[i].value, &x, NULL), DX_OK);
        assert_row_int_equal(i, x, i);
    }
    assert_true(dx_value_equal(&m, f));
    free(f);
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- packing */

/* v as DynamoDB JSON, members in their order: equal text means equal layout. */
static char *encoded(const dx_value *v) {
    dx_buf b = {0};
    assert_int_equal(dx_encode_value(&b, v), DX_OK);
    return b.ptr;
}

/* true when every string of v (views from an unpack without copy) lies in [lo, hi), NUL-terminated. */
static bool views_inside(const dx_value *v, const char *lo, const char *hi) {
    switch ((dx_type)v->type) {
    case DX_T_S:
    case DX_T_N:
    case DX_T_B:
        return v->u.s >= lo && v->u.s + v->n < hi && v->u.s[v->n] == 0;
    case DX_T_L:
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS:
        for (uint32_t i = 0; i < v->n; i++)
            if (!views_inside(&v->u.elems[i], lo, hi)) return false;
        return true;
    case DX_T_M:
        for (uint32_t i = 0; i < v->n; i++) {
            const dx_member *m = &v->u.members[i];
            if (m->name < lo || m->name + m->name_len >= hi || m->name[m->name_len] != 0) return false;
            if (!views_inside(&m->value, lo, hi)) return false;
        }
        return true;
    default:
        return true;
    }
}

static void test_pack(void **state) {
    (void)state;
    static const char *const rows[] = {
        "S'just a string'",
        "S''",
        "N'1.50'",
        "N'-0'",
        "N'15e-1'",
        "B'\\x00\\xff\\x00'",
        "T",
        "F",
        "Z",
        "L[]",
        "M{}",
        "SS[S'b', S'a']",
        "NS[N'10.0', N'-.5', N'1e3']",
        "BS[B'\\x00', B'']",
        "M{'zeta': N'1.50', 'a': S'x', 'ab': N'-0', 'aa': L[N'1e3', M{'y': N'2', 'x': N'001'}],"
        " 'b': B'\\x00', '': T, 'ns': NS[N'10.0', N'-.5'], 'ss': SS[S'q'], 'nil': Z}",
        "M{'created_at': S'2025', 'plan': S'pro', 'id': S'u1', 'active': F, 'age': N'42', 'aaaaaaaaX': T,"
        " 'aaaaaaaaA': F, 'aaaaaaaa': Z}",
        "L[L[L[M{'deep': L[S'x']}]]]",
    };
    dx_arena a = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_value v, *f = NULL;
        assert_row_true(i, vt_parse(&a, rows[i], &v));
        assert_row_int_equal(i, dx_value_flatten(&v, &f, NULL), DX_OK);
        char *want = encoded(f);
        size_t n = 0;
        assert_row_int_equal(i, dx_value_packed_size(&v, &n, NULL), DX_OK);
        char *buf = malloc(n + 1);
        assert_non_null(buf);
        buf[n] = 0x5a; /* must stay: the packed form is exactly n bytes */
        dx_pack_hint hint = {0};
        assert_row_int_equal(i, dx_value_pack(&v, buf, &hint, NULL), DX_OK);
        assert_row_int_equal(i, (unsigned char)buf[n], 0x5a);
        /* unpacked: the flattened layout (canonical numbers, sorted members) */
        dx_arena b = {0};
        dx_value u;
        assert_row_int_equal(i, dx_value_unpack(&b, buf, true, &u), DX_OK);
        char *got = encoded(&u);
        if (strcmp(got, want) != 0) print_error("row %zu: %s vs %s\n", i, got, want);
        assert_row_string_equal(i, got, want);
        assert_row_true(i, dx_value_equal(&u, &v));
        free(got);
        /* views: the same value, every string inside the packed bytes */
        dx_value w;
        assert_row_int_equal(i, dx_value_unpack(&b, buf, false, &w), DX_OK);
        got = encoded(&w);
        assert_row_string_equal(i, got, want);
        assert_row_true(i, views_inside(&w, buf, buf + n));
        free(got);
        /* copies do not depend on the packed bytes */
        memset(buf, 0, n);
        got = encoded(&u);
        assert_row_string_equal(i, got, want);
        free(got);
        /* packing the flattened value gives the same bytes */
        char *buf2 = malloc(n);
        size_t n2 = 0;
        assert_row_int_equal(i, dx_value_packed_size(f, &n2, NULL), DX_OK);
        assert_row_int_equal(i, n2, n);
        assert_row_int_equal(i, dx_value_pack(f, buf2, NULL, NULL), DX_OK);
        assert_row_int_equal(i, dx_value_pack(&v, buf, NULL, NULL), DX_OK);
        assert_row_true(i, memcmp(buf, buf2, n) == 0);
        free(buf2);
        free(buf);
        free(want);
        free(f);
        dx_arena_release(&b);
    }
    /* invalid numbers and DX_T_NONE cannot be packed */
    dx_value v;
    dx_result r;
    size_t n;
    assert_true(vt_parse(&a, "M{'a': L[N'1', N'1e200']}", &v));
    dx_result_clear(&r);
    assert_int_equal(dx_value_packed_size(&v, &n, &r), DX_ERR_VALIDATION);
    assert_string_equal(r.message, msg_over);
    assert_true(vt_parse(&a, "L[?]", &v));
    assert_int_equal(dx_value_packed_size(&v, &n, NULL), DX_ERR_VALIDATION);
    dx_arena_release(&a);
}

/* A hint is a guess that is checked: whatever it holds, the bytes are the same. */
static void test_pack_hint(void **state) {
    (void)state;
    static const char *const rows[] = {
        "M{'id': S'1', 'name': S'a', 'age': N'3', 'city': S'x'}",
        "M{'id': S'2', 'name': S'b', 'age': N'4', 'city': S'y'}",   /* same order: hint hits */
        "M{'city': S'z', 'age': N'5', 'name': S'c', 'id': S'3'}",   /* same names, reversed */
        "M{'id': S'4', 'name': S'd', 'age': N'6', 'zzz': S'w'}",    /* same size, other names */
        "M{'id': S'5', 'name': S'e'}",                              /* other size */
        "M{'b': T, 'a': T, 'aa': T, 'a\\x00': T}",                  /* prefixes, an embedded NUL */
        "M{'a\\x00': T, 'aa': T, 'a': T, 'b': T}",
        "M{'same-prefix-1': T, 'same-prefix-0': T, 'same-prefix-2': T, 'same-prefix': T}",
    };
    dx_arena a = {0};
    dx_pack_hint hint;
    memset(&hint, 0xff, sizeof hint); /* garbage to start with */
    hint.n = 4;
    for (size_t round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            dx_value v;
            assert_row_true(i, vt_parse(&a, rows[i], &v));
            size_t n = 0;
            assert_row_int_equal(i, dx_value_packed_size(&v, &n, NULL), DX_OK);
            char *x = malloc(n), *y = malloc(n);
            assert_row_int_equal(i, dx_value_pack(&v, x, NULL, NULL), DX_OK);
            assert_row_int_equal(i, dx_value_pack(&v, y, &hint, NULL), DX_OK);
            assert_row_true(i, memcmp(x, y, n) == 0);
            assert_row_int_equal(i, hint.n, v.n);
            free(x);
            free(y);
        }
    }
    dx_arena_release(&a);
}

/* More members than the small sort handles: the packed map is sorted all the same. */
static void test_pack_big_map(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_map_builder mb = {.arena = &a};
    char name[16];
    for (int i = 99; i >= 0; i--) {
        snprintf(name, sizeof name, "k%03d", i);
        dx_value *slot = dx_mapb_add(&mb, name, strlen(name));
        assert_non_null(slot);
        assert_int_equal(dx_value_i64(&a, i, slot), DX_OK);
    }
    dx_value m = dx_mapb_finish(&mb), u;
    size_t n = 0;
    assert_int_equal(dx_value_packed_size(&m, &n, NULL), DX_OK);
    char *buf = malloc(n);
    dx_pack_hint hint = {0};
    assert_int_equal(dx_value_pack(&m, buf, &hint, NULL), DX_OK);
    assert_int_equal(dx_value_unpack(&a, buf, true, &u), DX_OK);
    assert_int_equal(u.n, 100);
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "k%03d", i);
        assert_row_string_equal(i, u.u.members[i].name, name);
    }
    assert_true(dx_value_equal(&m, &u));
    free(buf);
    dx_arena_release(&a);
}

/* dx_item_check = dx_value_validate of each attribute + dx_item_size + dx_value_packed_size. */
static void test_item_check(void **state) {
    (void)state;
    static const char *const rows[] = {
        "M{}",
        "M{'id': S'u1', 'n': N'1.50', 'z': N'-0.000120', 'e': N'12e3', 'b': B'\\x01', 't': T, 'nil': Z}",
        "M{'l': L[S'a', N'1', L[M{'x': SS[S'a', S'b']}]], 'm': M{'k': NS[N'1', N'2.0e1']}}",
        "M{'caf\\xc3\\xa9': S'\\xf0\\x9f\\x98\\x80 long enough to pass eight bytes'}",
        "M{'big': N'" D38 "', 'tiny': N'0." Z129 "1', 'huge': N'1" Z125 "'}",
        "M{'bs': BS[B'\\x00', B'\\x00\\x00'], 'ss': SS[S'x']}",
        /* invalid: the first bad attribute in the item's order decides */
        "M{'a': S'ok', 'b': N'1e200', 'c': N'x'}",
        "M{'a': N'x', 'b': N'1e200'}",
        "M{'a': SS[]}",
        "M{'a': Z0}",
        "M{'a': ?}",
        "M{'s': S'\\xff'}",
        "M{'s': S'ascii then \\xc0\\x80'}",
        "M{'m': M{'k': T, 'k': F}}",
        "M{'n': N'" D38 "1'}",
        "M{'ss': SS[S'a', S'a']}",
        "M{'ns': NS[N'1', N'1.0']}",
        "M{'ns': NS[N'1', S'2']}",
        "M{'bs': BS[B'x', B'x']}",
        "M{'ss': SS[S'ok', S'\xc0\x80']}",
        "M{'m': M{'\xff': T}}",
        "M{'deep': L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[S'x']]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "M{'ok': L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[L[S'x']]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "M{'z': Z, 'y': T, 'x': F, 'w': B'', 'v': S'', 'u': N'0', 't': L[], 's': M{}}",
    };
    dx_arena a = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_value v;
        assert_row_true(i, vt_parse(&a, rows[i], &v));
        dx_result want, got;
        dx_result_clear(&want);
        dx_result_clear(&got);
        dx_err we = DX_OK;
        for (uint32_t k = 0; k < v.n && !we; k++)
            we = dx_value_validate(&v.u.members[k].value, v.u.members[k].name, &want);
        size_t size = 0, packed = 0;
        dx_err ge = dx_item_check(&v, &size, &packed, &got);
        assert_row_int_equal(i, ge, we);
        assert_row_string_equal(i, got.message, want.message);
        assert_row_string_equal(i, got.field, want.field);
        /* In one walk: the same verdict, size and bytes, appended after what out holds. */
        dx_buf out = {0};
        assert_row_true(i, dx_buf_puts(&out, "prefix"));
        size_t size2 = 0;
        bool dup = true;
        dx_err pe = dx_item_check_pack(&v, NULL, &out, &size2, &dup);
        assert_row_int_equal(i, pe, we ? DX_ERR_VALIDATION : DX_OK);
        if (we) {
            assert_row_int_equal(i, out.len, 6); /* as it was */
            dx_buf_free(&out);
            continue;
        }
        assert_row_int_equal(i, size, dx_item_size(&v));
        assert_row_int_equal(i, size2, size);
        assert_row_true(i, !dup);
        size_t p2 = 0;
        assert_row_int_equal(i, dx_value_packed_size(&v, &p2, NULL), DX_OK);
        assert_row_int_equal(i, packed, p2);
        assert_row_int_equal(i, out.len, 6 + p2);
        char *want_bytes = malloc(p2 + 1);
        assert_row_int_equal(i, dx_value_pack(&v, want_bytes, NULL, NULL), DX_OK);
        assert_row_true(i, memcmp(out.ptr + 6, want_bytes, p2) == 0);
        free(want_bytes);
        dx_buf_free(&out);
    }
    /* Repeated top-level names: packed, but flagged (dx_item_check does not look at them). */
    dx_value d;
    assert_true(vt_parse(&a, "M{'b': T, 'a': N'1', 'b': F}", &d));
    dx_buf out = {0};
    bool dup = false;
    assert_int_equal(dx_item_check_pack(&d, NULL, &out, NULL, &dup), DX_OK);
    assert_true(dup);
    assert_int_equal(dx_item_check(&d, NULL, NULL, NULL), DX_OK);
    dx_buf_free(&out);
    assert_int_equal(dx_item_check_pack(&d, NULL, NULL, NULL, NULL), DX_ERR_INVALID_ARG);
    dx_value s = dx_vs("x");
    assert_int_equal(dx_item_check(&s, NULL, NULL, NULL), DX_ERR_INVALID_ARG);
    dx_arena_release(&a);
}

/* dx_num_is_canonical against parse + format, over many spellings. */
static void test_num_canonical(void **state) {
    (void)state;
    static const struct {
        const char *s;
        bool canon;
    } rows[] = {
        {"0", true},     {"-0", false},  {"00", false},   {"0.5", true},  {"-0.5", true},
        {".5", false},   {"0.50", false}, {"1", true},    {"10", true},   {"-10", true},
        {"1.0", false},  {"1.", false},  {"1e3", false},  {"+1", false},  {"", false},
        {"-", false},    {"0.0", false}, {"0." Z129 "1", true}, {"0." Z129 "01", false},
        {"1" Z125, true}, {"1" Z125 "0", false}, {D38, true}, {D38 "1", false}, {"1.5", true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        assert_row_int_equal(i, dx_num_is_canonical(rows[i].s, strlen(rows[i].s)), rows[i].canon);
    /* every canonical text is what dx_num_format writes, sized as dx_num_size sizes it */
    unsigned long long x = 88172645463325252ull;
    char buf[300], out[DX_NUM_TEXT_MAX];
    for (int it = 0; it < 200000; it++) {
        size_t len = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (x % 3 == 0) buf[len++] = '-';
        unsigned nd = (unsigned)(x >> 8) % 4 == 0 ? (unsigned)(x >> 16) % 140 : (unsigned)(x >> 16) % 12;
        for (unsigned k = 0; k < nd; k++) buf[len++] = (char)('0' + ((x >> (k % 50)) % 10 < 3 ? 0 : (x >> (k % 45)) % 10));
        if ((x >> 24) % 3) {
            buf[len++] = '.';
            unsigned f = (unsigned)(x >> 32) % 4 == 0 ? (unsigned)(x >> 40) % 140 : (unsigned)(x >> 40) % 8;
            for (unsigned k = 0; k < f; k++) buf[len++] = (char)('0' + ((x >> (k % 40)) % 10 < 3 ? 0 : (x >> (k % 37 + 3)) % 10));
        }
        buf[len] = 0;
        dx_num v;
        bool ok = dx_num_parse(buf, len, &v, NULL) == DX_OK;
        bool canon = dx_num_is_canonical(buf, len);
        if (!canon) continue;
        if (!ok) print_error("iteration %d: %s is canonical but does not parse\n", it, buf);
        assert_true(ok);
        size_t fl = dx_num_format(&v, out);
        if (fl != len || memcmp(out, buf, len) != 0) print_error("iteration %d: %s formats as %s\n", it, buf, out);
        assert_true(fl == len && memcmp(out, buf, len) == 0);
        assert_int_equal(dx_num_canon_size(buf, len), dx_num_stored_size(&v));
    }
}

/* ---------------------------------------------------------------- random items, two ways */

static uint64_t rnd_state = 0x2545f4914f6cdd1dull;
static unsigned rnd(unsigned n) {
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (unsigned)(rnd_state % n);
}

static const char *const rnd_nums[] = {"1", "1.50", "-0", "12e3", "0.001", "abc", "1e200", "7",
                                       "-3.25", "00012", D38, D38 "9"};
static const char *const rnd_strs[] = {"", "a", "b", "caf\xc3\xa9", "\xff", "long enough text",
                                       "\xc0\x80", "a"};
static const char *const rnd_names[] = {"a", "b", "c", "aaaaaaaa1", "aaaaaaaa2", "\xff", ""};

/* A random value, sometimes invalid in one of the ways validation knows. */
static void rnd_value(dx_arena *a, int depth, dx_value *v) {
    unsigned k = rnd(depth > 3 ? 6 : 11);
    switch (k) {
    case 0: *v = dx_vn(rnd_nums[rnd(12)]); return;
    case 1: *v = dx_vs(rnd_strs[rnd(8)]); return;
    case 2: *v = dx_vb("\x00\x01", rnd(3)); return;
    case 3: *v = dx_vbool(rnd(2)); return;
    case 4: v->type = DX_T_NULL; v->n = rnd(8) != 0; v->u.s = NULL; return;
    case 5: *v = dx_vn(rnd_nums[rnd(5)]); return;
    default: break;
    }
    unsigned n = rnd(5);
    if (k == 10 && rnd(20) == 0) { v->type = DX_T_NONE; v->n = 0; v->u.s = NULL; return; }
    if (k == 6 || k == 7) { /* L or M */
        if (k == 6) {
            dx_value *e = dx_arena_alloc(a, (n + 1) * sizeof *e);
            for (unsigned i = 0; i < n; i++) rnd_value(a, depth + 1, &e[i]);
            *v = dx_vset(DX_T_L, e, n);
        } else {
            dx_member *m = dx_arena_alloc(a, (n + 1) * sizeof *m);
            for (unsigned i = 0; i < n; i++) {
                const char *nm = rnd_names[rnd(7)];
                m[i].name = nm;
                m[i].name_len = (uint32_t)strlen(nm);
                rnd_value(a, depth + 1, &m[i].value);
            }
            *v = dx_vmap(m, n);
        }
        return;
    }
    /* sets */
    static const dx_type st[] = {DX_T_SS, DX_T_NS, DX_T_BS};
    dx_type t = st[rnd(3)];
    dx_value *e = dx_arena_alloc(a, (n + 1) * sizeof *e);
    for (unsigned i = 0; i < n; i++) {
        if (rnd(15) == 0) e[i] = dx_vbool(true); /* wrong member type */
        else if (t == DX_T_NS) e[i] = dx_vn(rnd_nums[rnd(12)]);
        else if (t == DX_T_SS) e[i] = dx_vs(rnd_strs[rnd(8)]);
        else {
            const char *b = rnd_strs[rnd(8)];
            e[i] = dx_vb(b, strlen(b) % 3);
        }
    }
    *v = dx_vset(t, e, n);
}

/* dx_item_check_pack against dx_item_check + dx_value_pack on random items, valid and not. */
static void test_item_check_pack_random(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_buf out = {0};
    int valid = 0;
    for (int it = 0; it < 20000; it++) {
        dx_arena_reset(&a);
        unsigned n = rnd(7);
        dx_member *m = dx_arena_alloc(&a, (n + 1) * sizeof *m);
        for (unsigned i = 0; i < n; i++) {
            const char *nm = rnd_names[rnd(7)];
            m[i].name = nm;
            m[i].name_len = (uint32_t)strlen(nm);
            rnd_value(&a, 1, &m[i].value);
        }
        dx_value item = dx_vmap(m, n);
        size_t s1 = 0, p1 = 0, s2 = 0;
        dx_err e1 = dx_item_check(&item, &s1, &p1, NULL);
        dx_buf_clear(&out);
        bool dup = false;
        dx_err e2 = dx_item_check_pack(&item, NULL, &out, &s2, &dup);
        if ((e1 == DX_OK) != (e2 == DX_OK)) print_error("iteration %d: %d vs %d\n", it, e1, e2);
        assert_int_equal(e1 == DX_OK, e2 == DX_OK);
        if (e1) {
            assert_int_equal(out.len, 0);
            continue;
        }
        valid++;
        assert_int_equal(s1, s2);
        assert_int_equal(s1, dx_item_size(&item));
        assert_int_equal(p1, out.len);
        char *want = malloc(p1 + 1);
        assert_int_equal(dx_value_pack(&item, want, NULL, NULL), DX_OK);
        assert_true(memcmp(want, out.ptr, p1) == 0);
        free(want);
        assert_int_equal(dup, dx_map_find_dup(&item) != NULL);
    }
    assert_true(valid > 2000); /* both kinds were tried */
    dx_buf_free(&out);
    dx_arena_release(&a);
}

/* Duplicate names: the first member (in order) that repeats an earlier name, or NULL. */
static void test_map_find_dup(void **state) {
    (void)state;
    static const struct {
        const char *v;
        const char *dup; /* NULL: none */
    } rows[] = {
        {"M{}", NULL},
        {"M{'a': T}", NULL},
        {"M{'a': T, 'b': T, 'ab': T, 'ba': T, '': T}", NULL},
        {"M{'a': T, 'b': T, 'a': F}", "a"},
        {"M{'': T, '': F}", ""},
        {"M{'x1': T, 'y1': T, 'x1': T, 'y1': T}", "x1"},
        {"M{'a\\x00': T, 'a': T}", NULL},
        {"M{'k01': T, 'k02': T, 'k03': T, 'k04': T, 'k05': T, 'k06': T, 'k07': T, 'k08': T,"
         " 'k09': T, 'k10': T, 'k11': T, 'k12': T, 'k13': T, 'k14': T, 'k15': T, 'k16': T}",
         NULL},
        {"M{'k01': T, 'k02': T, 'k03': T, 'k04': T, 'k05': T, 'k06': T, 'k07': T, 'k08': T,"
         " 'k09': T, 'k10': T, 'k11': T, 'k12': T, 'k13': T, 'k14': T, 'k15': T, 'k03': T}",
         "k03"},
        {"M{'k01': T, 'k02': T, 'k03': T, 'k04': T, 'k05': T, 'k06': T, 'k07': T, 'k08': T,"
         " 'k09': T, 'k10': T, 'k11': T, 'k12': T, 'k13': T, 'k14': T, 'k15': T, 'k16': T, 'k17': T,"
         " 'k16': F}",
         "k16"},
    };
    dx_arena a = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_value v;
        assert_row_true(i, vt_parse(&a, rows[i].v, &v));
        const dx_member *d = dx_map_find_dup(&v);
        if (!rows[i].dup) {
            assert_row_true(i, d == NULL);
            continue;
        }
        assert_row_true(i, d != NULL);
        assert_row_string_equal(i, d->name, rows[i].dup);
    }
    dx_value s = dx_vs("x");
    assert_null(dx_map_find_dup(&s));
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- cmp and equal */

static void test_value_cmp(void **state) {
    (void)state;
    static const struct {
        const char *a, *b;
        int want;
    } rows[] = {
        {"N'2'", "N'10'", -1},
        {"N'10'", "N'2'", 1},
        {"N'1.0'", "N'1'", 0},
        {"N'-1'", "N'0'", -1},
        {"N'1e2'", "N'100'", 0},
        {"S'10'", "S'2'", -1},
        {"S'a'", "S'ab'", -1},
        {"S'b'", "S'ab'", 1},
        {"S''", "S''", 0},
        {"S'abc'", "S'abc'", 0},
        {"S'\\xff'", "S'a'", 1},        /* unsigned bytes */
        {"B'\\x80'", "B'\\x7f'", 1},
        {"B'\\x00'", "B''", 1},
        {"B'\\x00\\x01'", "B'\\x00\\x02'", -1},
        {"F", "T", -1},
        {"S'a'", "N'1'", -1},         /* by type tag: S < N < B */
        {"N'1'", "S'a'", 1},
        {"B'a'", "S'a'", 1},
    };
    dx_arena a = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_value x, y;
        assert_row_true(i, vt_parse(&a, rows[i].a, &x));
        assert_row_true(i, vt_parse(&a, rows[i].b, &y));
        int c = dx_value_cmp(&x, &y);
        assert_row_int_equal(i, (c > 0) - (c < 0), rows[i].want);
        c = dx_value_cmp(&y, &x);
        assert_row_int_equal(i, (c > 0) - (c < 0), -rows[i].want);
    }
    dx_arena_release(&a);
}

static void test_value_equal(void **state) {
    (void)state;
    static const struct {
        const char *a, *b;
        bool want;
    } rows[] = {
        {"S'a'", "S'a'", true},
        {"S'a'", "S'b'", false},
        {"S'a'", "S'ab'", false},
        {"S''", "S''", true},
        {"S'1'", "N'1'", false},
        {"N'1'", "N'1.0'", true},
        {"N'100'", "N'1e2'", true},
        {"N'-0'", "N'0'", true},
        {"N'1'", "N'-1'", false},
        {"N'x'", "N'x'", true},  /* invalid numbers: bytes */
        {"N'x'", "N'y'", false},
        {"B'\\x00'", "B'\\x00'", true},
        {"B'\\x00'", "B'\\x01'", false},
        {"B''", "S''", false},
        {"T", "T", true},
        {"T", "F", false},
        {"Z", "Z", true},
        {"Z", "F", false},
        {"L[]", "L[]", true},
        {"L[N'1', S'a']", "L[N'1.0', S'a']", true},
        {"L[N'1', S'a']", "L[S'a', N'1']", false},
        {"L[N'1']", "L[N'1', N'1']", false},
        {"L[L[L[S'deep']]]", "L[L[L[S'deep']]]", true},
        {"L[L[L[S'deep']]]", "L[L[L[S'deeper']]]", false},
        {"M{}", "M{}", true},
        {"M{'a': N'1', 'b': S'x'}", "M{'b': S'x', 'a': N'1.00'}", true},
        {"M{'a': N'1', 'b': S'x'}", "M{'a': N'1', 'c': S'x'}", false},
        {"M{'a': N'1'}", "M{'a': N'1', 'b': S'x'}", false},
        {"M{'a': N'1', 'b': S'x'}", "M{'a': N'1'}", false},
        {"M{'a': N'1'}", "M{'a': N'2'}", false},
        {"M{'a': M{'x': L[T], 'y': Z}}", "M{'a': M{'y': Z, 'x': L[T]}}", true},
        {"M{'a': M{'x': L[T], 'y': Z}}", "M{'a': M{'y': Z, 'x': L[F]}}", false},
        {"M{'a': S'x'}", "L[S'x']", false},
        {"SS[S'a', S'b', S'c']", "SS[S'c', S'a', S'b']", true},
        {"SS[S'a', S'b']", "SS[S'a', S'c']", false},
        {"SS[S'a', S'b']", "SS[S'a']", false},
        {"NS[N'1', N'2.5']", "NS[N'2.50', N'1.0']", true},
        {"NS[N'1', N'2']", "NS[N'1', N'3']", false},
        {"BS[B'\\x01', B'\\x02']", "BS[B'\\x02', B'\\x01']", true},
        {"SS[S'a']", "L[S'a']", false},
        {"SS[S'1']", "NS[N'1']", false},
    };
    dx_arena a = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_value x, y;
        assert_row_true(i, vt_parse(&a, rows[i].a, &x));
        assert_row_true(i, vt_parse(&a, rows[i].b, &y));
        assert_row_int_equal(i, dx_value_equal(&x, &y), rows[i].want);
        assert_row_int_equal(i, dx_value_equal(&y, &x), rows[i].want);
        assert_row_true(i, dx_value_equal(&x, &x));
    }
    dx_value x = dx_vs("a");
    assert_false(dx_value_equal(&x, NULL));
    assert_false(dx_value_equal(NULL, &x));
    dx_arena_release(&a);
}

static void test_value_equal_large(void **state) {
    (void)state;
    /* sets and maps bigger than the pairwise search, in opposite orders */
    enum { N = 200 };
    dx_arena a = {0};
    dx_value *ss[2], *ns[2], *bs[2];
    dx_member *mm[2];
    for (int k = 0; k < 2; k++) {
        ss[k] = dx_arena_alloc(&a, N * sizeof(dx_value));
        ns[k] = dx_arena_alloc(&a, N * sizeof(dx_value));
        bs[k] = dx_arena_alloc(&a, N * sizeof(dx_value));
        mm[k] = dx_arena_alloc(&a, N * sizeof(dx_member));
        for (int i = 0; i < N; i++) {
            int j = k ? N - 1 - i : i;
            char *s = dx_arena_printf(&a, "s%d", j);
            ss[k][i] = dx_vs(s);
            /* the same numbers, spelled differently on each side */
            ns[k][i] = dx_vn(dx_arena_printf(&a, k ? "%d.%d0" : "%d.%d", j / 10, j % 10));
            bs[k][i] = dx_vb(s, strlen(s));
            mm[k][i].name = s;
            mm[k][i].name_len = (uint32_t)strlen(s);
            mm[k][i].value = ns[k][i];
        }
    }
    dx_value x, y;
    x = dx_vset(DX_T_SS, ss[0], N), y = dx_vset(DX_T_SS, ss[1], N);
    assert_true(dx_value_equal(&x, &y));
    x = dx_vset(DX_T_NS, ns[0], N), y = dx_vset(DX_T_NS, ns[1], N);
    assert_true(dx_value_equal(&x, &y));
    x = dx_vset(DX_T_BS, bs[0], N), y = dx_vset(DX_T_BS, bs[1], N);
    assert_true(dx_value_equal(&x, &y));
    x = dx_vmap(mm[0], N), y = dx_vmap(mm[1], N);
    assert_true(dx_value_equal(&x, &y));
    /* one member different */
    ss[1][7] = dx_vs("other");
    ns[1][7] = dx_vn("-1");
    bs[1][7] = dx_vb("other", 5);
    x = dx_vset(DX_T_SS, ss[0], N), y = dx_vset(DX_T_SS, ss[1], N);
    assert_false(dx_value_equal(&x, &y));
    x = dx_vset(DX_T_NS, ns[0], N), y = dx_vset(DX_T_NS, ns[1], N);
    assert_false(dx_value_equal(&x, &y));
    x = dx_vset(DX_T_BS, bs[0], N), y = dx_vset(DX_T_BS, bs[1], N);
    assert_false(dx_value_equal(&x, &y));
    mm[1][7].value = dx_vn("-1"); /* same name, other value */
    x = dx_vmap(mm[0], N), y = dx_vmap(mm[1], N);
    assert_false(dx_value_equal(&x, &y));
    mm[1][7].value = mm[0][N - 1 - 7].value;
    assert_true(dx_value_equal(&x, &y));
    mm[1][7].name = "renamed";
    mm[1][7].name_len = 7;
    assert_false(dx_value_equal(&x, &y));
    /* an unparseable number falls back to the search, and still compares by bytes */
    ns[0][0] = dx_vn("junk");
    ns[1][N - 1] = dx_vn("junk");
    ns[1][7] = ns[0][N - 1 - 7];
    x = dx_vset(DX_T_NS, ns[0], N), y = dx_vset(DX_T_NS, ns[1], N);
    assert_true(dx_value_equal(&x, &y));
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- validate */

static void test_validate(void **state) {
    (void)state;
    static const struct {
        const char *v;
        const char *msg; /* NULL: valid */
    } rows[] = {
        {"S'hello'", NULL},
        {"S''", NULL},
        {"S'caf\\xc3\\xa9 \\xf0\\x9f\\x98\\x80'", NULL},
        {"N'1.50'", NULL},
        {"B'\\x00\\xff'", NULL},
        {"T", NULL},
        {"Z", NULL},
        {"L[]", NULL},
        {"M{}", NULL},
        {"L[S'a', N'1', L[M{'x': SS[S'a', S'b']}]]", NULL},
        {"SS[S'a', S'b']", NULL},
        {"NS[N'1', N'2', N'1.5']", NULL},
        {"BS[B'\\x00', B'\\x00\\x00']", NULL},
        {"SS[S'a', S'A']", NULL},
        /* DynamoDB's (dynalite's) messages */
        {"?", "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"},
        {"Z0", "One or more parameter values were invalid: Null attribute value types must have the value of true"},
        {"N''", "The parameter cannot be converted to a numeric value"},
        {"N'abc'", "The parameter cannot be converted to a numeric value: abc"},
        {"N'1e126'", "Number overflow. Attempting to store a number with magnitude larger than supported range"},
        {"N'1e-131'", "Number underflow. Attempting to store a number with magnitude smaller than supported range"},
        {"N'1234567890123456789012345678901234567890'", "Attempting to store more than 38 significant digits in a Number"},
        {"SS[]", "One or more parameter values were invalid: An string set  may not be empty"},
        {"NS[]", "One or more parameter values were invalid: An number set  may not be empty"},
        {"BS[]", "One or more parameter values were invalid: Binary sets should not be empty"},
        {"SS[S'a', S'a']", "One or more parameter values were invalid: Input collection [a, a] contains duplicates."},
        {"SS[S'x', S'a', S'b', S'a']",
         "One or more parameter values were invalid: Input collection [x, a, b, a] contains duplicates."},
        {"BS[B'abc', B'abc']",
         "One or more parameter values were invalid: Input collection [YWJj, YWJj]of type BS contains duplicates."},
        {"BS[B'\\x00', B'\\x01\\x02', B'\\x00']",
         "One or more parameter values were invalid: Input collection [AA==, AQI=, AA==]of type BS contains duplicates."},
        {"NS[N'1', N'1']", "Input collection contains duplicates"},
        {"NS[N'1', N'2', N'1.0']", "Input collection contains duplicates"},
        {"NS[N'100', N'1e2']", "Input collection contains duplicates"},
        {"NS[N'1', N'x']", "The parameter cannot be converted to a numeric value: x"},
        {"NS[N'1', N'1e999']", "Number overflow. Attempting to store a number with magnitude larger than supported range"},
        /* nested */
        {"L[S'a', N'1e200']", "Number overflow. Attempting to store a number with magnitude larger than supported range"},
        {"M{'a': M{'b': SS[]}}", "One or more parameter values were invalid: An string set  may not be empty"},
        {"L[L[L[?]]]", "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"},
        /* dynox's own checks */
        {"M{'x': N'1', 'y': N'2', 'x': N'3'}", "duplicate attribute name: x"},
        {"L[M{'k': T, 'k': F}]", "duplicate attribute name: k"},
        {"SS[S'a', N'1']",
         "One or more parameter values were invalid: Member 1 of the string set tags is of type N; every member must be S"},
        {"NS[S'1']",
         "One or more parameter values were invalid: Member 0 of the number set tags is of type S; every member must be N"},
        {"BS[S'1']",
         "One or more parameter values were invalid: Member 0 of the binary set tags is of type S; every member must be B"},
        {"S'\\xff'", "One or more parameter values were invalid: The string value of tags is not valid UTF-8"},
        {"L[S'ok', S'\\xc0\\x80']", "One or more parameter values were invalid: The string value of tags is not valid UTF-8"},
        {"SS[S'a', S'\\xed\\xa0\\x80']",
         "One or more parameter values were invalid: Member 1 of the string set tags is not valid UTF-8"},
        {"M{'\\xff': T}", "One or more parameter values were invalid: An attribute name inside tags is not valid UTF-8"},
    };
    dx_arena a = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_value v;
        assert_row_true(i, vt_parse(&a, rows[i].v, &v));
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dx_value_validate(&v, "tags", &r);
        if (!rows[i].msg) {
            if (e) print_error("row %zu [%s]: %s\n", i, rows[i].v, r.message);
            assert_row_int_equal(i, e, DX_OK);
            continue;
        }
        assert_row_int_equal(i, e, DX_ERR_VALIDATION);
        assert_row_int_equal(i, r.err, DX_ERR_VALIDATION);
        assert_row_string_equal(i, r.message, rows[i].msg);
        assert_row_string_equal(i, r.field, "tags");
        assert_row_int_equal(i, dx_value_validate(&v, "tags", NULL), DX_ERR_VALIDATION);
    }
    dx_arena_release(&a);
}

static void test_validate_large_and_deep(void **state) {
    (void)state;
    dx_arena a = {0};
    /* large sets and maps take the sorted path for duplicates */
    enum { N = 3000 };
    dx_value *e = dx_arena_alloc(&a, N * sizeof *e);
    dx_value *ne = dx_arena_alloc(&a, N * sizeof *ne);
    dx_member *m = dx_arena_alloc(&a, N * sizeof *m);
    for (int i = 0; i < N; i++) {
        char *s = dx_arena_printf(&a, "v%d", i);
        e[i] = dx_vs(s);
        ne[i] = dx_vn(dx_arena_printf(&a, "%d.%d", i / 10, i % 10));
        m[i].name = s;
        m[i].name_len = (uint32_t)strlen(s);
        m[i].value = dx_vbool(true);
    }
    dx_value ss = dx_vset(DX_T_SS, e, N), ns = dx_vset(DX_T_NS, ne, N), map = dx_vmap(m, N);
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_value_validate(&ss, "ss", &r), DX_OK);
    assert_int_equal(dx_value_validate(&ns, "ns", &r), DX_OK);
    assert_int_equal(dx_value_validate(&map, "m", &r), DX_OK);
    e[N - 1] = e[17];
    ne[N - 1] = dx_vn("1.70"); /* numerically equal to ne[17] = "1.7" */
    m[N - 1].name = "v1234";
    m[N - 1].name_len = 5;
    assert_int_equal(dx_value_validate(&ss, "ss", &r), DX_ERR_VALIDATION);
    static const char prefix[] = "One or more parameter values were invalid: Input collection [v0, v1, ";
    assert_true(strncmp(r.message, prefix, strlen(prefix)) == 0);
    assert_true(strlen(r.message) < sizeof r.message);
    assert_int_equal(dx_value_validate(&ns, "ns", &r), DX_ERR_VALIDATION);
    assert_string_equal(r.message, "Input collection contains duplicates");
    assert_int_equal(dx_value_validate(&map, "m", &r), DX_ERR_VALIDATION);
    assert_string_equal(r.message, "duplicate attribute name: v1234");
    assert_string_equal(r.field, "m");

    /* nesting: 32 levels of lists are fine, 33 are not */
    dx_value leaf = dx_vs("x"), lv[40];
    for (int depth = 1; depth <= 40; depth++) {
        lv[depth - 1] = dx_vlist(depth == 1 ? &leaf : &lv[depth - 2], 1);
        dx_err want = depth <= 32 ? DX_OK : DX_ERR_VALIDATION;
        dx_result_clear(&r);
        assert_row_int_equal(depth, dx_value_validate(&lv[depth - 1], "deep", &r), want);
        if (want) assert_row_string_equal(depth, r.message, "Nesting Levels have exceeded supported limits");
    }
    dx_arena_release(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_map_get),
        cmocka_unit_test(test_builders),
        cmocka_unit_test(test_num_parse_format),
        cmocka_unit_test(test_num_parse_counted),
        cmocka_unit_test(test_num_format_out_of_range),
        cmocka_unit_test(test_num_cmp),
        cmocka_unit_test(test_num_add_sub),
        cmocka_unit_test(test_num_i64),
        cmocka_unit_test(test_num_double),
        cmocka_unit_test(test_value_num_helpers),
        cmocka_unit_test(test_value_copy),
        cmocka_unit_test(test_flatten),
        cmocka_unit_test(test_flatten_big_map),
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_pack_hint),
        cmocka_unit_test(test_pack_big_map),
        cmocka_unit_test(test_item_check),
        cmocka_unit_test(test_num_canonical),
        cmocka_unit_test(test_map_find_dup),
        cmocka_unit_test(test_item_check_pack_random),
        cmocka_unit_test(test_value_cmp),
        cmocka_unit_test(test_value_equal),
        cmocka_unit_test(test_value_equal_large),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_validate_large_and_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
