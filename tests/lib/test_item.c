/*
 * test_item.c - items: typed set/get, generators and defaults, validation,
 * plain JSON both ways, and the seed's behaviours against the memory
 * backend: save replaces the whole item, get of a missing item, update
 * changes the local item, update_by_key / delete_by_key make exactly one
 * backend call and run no hooks, skip_hooks per call and per model,
 * consistent_read reaches the backend, and each error kind is raised where
 * it should be (ResourceNotFound, Validation, ConditionalCheckFailed,
 * ItemTooLarge, ProvisionedThroughputExceeded).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#include <cmocka.h>

#include "dynox/dynox.h"
#include "model_internal.h"

#define N_(a) (sizeof(a) / sizeof((a)[0]))

static void assert_contains(const char *hay, const char *needle) {
    if (!strstr(hay, needle)) {
        print_message("expected \"%s\" in \"%s\"\n", needle, hay);
        fail();
    }
}

/* A model with every attribute type, generators and defaults. */
static const dx_attr_def all_attrs[] = {
    {.name = "user_id", .type = DX_ATTR_STRING, .key = DX_KEY_HASH},
    {.name = "email", .type = DX_ATTR_STRING, .required = true},
    {.name = "age", .type = DX_ATTR_NUMBER, .default_json = "0"},
    {.name = "score", .type = DX_ATTR_NUMBER},
    {.name = "active", .type = DX_ATTR_BOOL, .default_json = "true"},
    {.name = "avatar", .type = DX_ATTR_BINARY},
    {.name = "tags", .type = DX_ATTR_STRING_SET},
    {.name = "nums", .type = DX_ATTR_NUMBER_SET},
    {.name = "blobs", .type = DX_ATTR_BINARY_SET},
    {.name = "prefs", .type = DX_ATTR_JSON},
    {.name = "meta", .type = DX_ATTR_MAP},
    {.name = "items", .type = DX_ATTR_LIST},
    {.name = "created", .type = DX_ATTR_DATETIME, .gen = DX_GEN_NOW_ISO},
    {.name = "expires", .type = DX_ATTR_TTL},
    {.name = "uid", .type = DX_ATTR_STRING, .gen = DX_GEN_UUID4},
    {.name = "lid", .type = DX_ATTR_STRING, .gen = DX_GEN_ULID},
    {.name = "epoch", .type = DX_ATTR_NUMBER, .gen = DX_GEN_NOW_EPOCH},
};

static dx_model *all_model(const char *table) {
    dx_model_config cfg = {.table = table};
    dx_model *m = NULL;
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_model_new("User", all_attrs, N_(all_attrs), &cfg, &m, &r);
    if (e) print_message("%s\n", r.message);
    assert_int_equal(e, DX_OK);
    return m;
}

static bool match(const char *s, const char *pat) {
    /* d = digit, h = lower hex, c = Crockford base32, anything else literal. */
    if (strlen(s) != strlen(pat)) return false;
    for (size_t i = 0; pat[i]; i++) {
        char c = s[i];
        bool ok;
        switch (pat[i]) {
        case 'd':
            ok = c >= '0' && c <= '9';
            break;
        case 'h':
            ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            break;
        case 'c':
            ok = c && strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", c) != NULL;
            break;
        default:
            ok = c == pat[i];
        }
        if (!ok) return false;
    }
    return true;
}

static const char *to_dict(const dx_item *it, dx_buf *b) {
    dx_buf_clear(b);
    assert_int_equal(dx_item_to_dict(it, b), DX_OK);
    return b->ptr;
}

/* ---------------------------------------------------------------- generators, defaults */

static void test_new_defaults_generators(void **state) {
    (void)state;
    dx_model *m = all_model("t");
    uint64_t t0 = dx_wall_ms();
    dx_item *it = dx_item_new(m);
    uint64_t t1 = dx_wall_ms();
    assert_non_null(it);
    assert_ptr_equal(dx_item_model(it), m);

    int64_t age = -1;
    bool active = false;
    assert_int_equal(dx_item_get_i64(it, "age", &age, NULL), DX_OK);
    assert_int_equal(age, 0);
    assert_int_equal(dx_item_get_bool(it, "active", &active), DX_OK);
    assert_true(active);
    assert_null(dx_item_get(it, "user_id")); /* no default, no generator */
    assert_null(dx_item_get(it, "score"));

    const char *s = NULL;
    assert_int_equal(dx_item_get_str(it, "uid", &s), DX_OK);
    print_message("uuid4 %s\n", s);
    assert_true(match(s, "hhhhhhhh-hhhh-4hhh-hhhh-hhhhhhhhhhhh"));
    assert_non_null(strchr("89ab", s[19])); /* RFC 4122 variant */

    assert_int_equal(dx_item_get_str(it, "lid", &s), DX_OK);
    print_message("ulid %s\n", s);
    assert_true(match(s, "cccccccccccccccccccccccccc"));

    assert_int_equal(dx_item_get_str(it, "created", &s), DX_OK);
    print_message("now %s\n", s);
    assert_true(match(s, "dddd-dd-ddTdd:dd:dd.dddZ"));
    int64_t at;
    assert_true(dx_datetime_parse(s, strlen(s), &at));
    assert_true(at >= (int64_t)(t0 / 1000) && at <= (int64_t)(t1 / 1000));

    int64_t epoch;
    assert_int_equal(dx_item_get_i64(it, "epoch", &epoch, NULL), DX_OK);
    assert_true(epoch >= (int64_t)(t0 / 1000) && epoch <= (int64_t)(t1 / 1000));

    /* Each item gets its own generated values. */
    dx_item *it2 = dx_item_new(m);
    const char *s2;
    assert_int_equal(dx_item_get_str(it, "uid", &s), DX_OK);
    assert_int_equal(dx_item_get_str(it2, "uid", &s2), DX_OK);
    assert_string_not_equal(s, s2);
    dx_item_free(it2);
    dx_item_free(it);
    dx_item_free(NULL);
    assert_null(dx_item_new(NULL));
    dx_model_free(m);
}

static uint64_t ulid_time(const char *u) {
    static const char enc[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint64_t t = 0;
    for (int i = 0; i < 10; i++) t = t * 32 + (uint64_t)(strchr(enc, u[i]) - enc);
    return t;
}

static void test_ulid(void **state) {
    (void)state;
    /* Known encoding: time 0x0123456789AB with random bytes all zero except what we set. */
    char u[27], prev[27] = "";
    uint64_t now = dx_wall_ms();
    for (int i = 0; i < 5000; i++) {
        dx_ulid_(now + (uint64_t)(i / 1000), u); /* 1000 per millisecond, then the next */
        assert_true(match(u, "cccccccccccccccccccccccccc"));
        if (strcmp(prev, u) >= 0) {
            print_message("[%d] %s after %s\n", i, u, prev);
            fail();
        }
        memcpy(prev, u, sizeof u);
    }
    /* The time part is the millisecond given (the 48 bits fit 10 characters). */
    dx_ulid_(now + 1000, u);
    assert_int_equal(ulid_time(u), now + 1000);
    assert_true(u[0] <= '7'); /* 48 bits: the first character holds 3 bits at most */
    /* A clock that steps back still gives increasing ULIDs. */
    dx_ulid_(now, prev);
    assert_true(strcmp(prev, u) > 0);
    /* Generated through the model: ordered too. */
    dx_arena a = {0};
    dx_value v1, v2;
    assert_int_equal(dx_gen_value(DX_GEN_ULID, &a, &v1), DX_OK);
    assert_int_equal(dx_gen_value(DX_GEN_ULID, &a, &v2), DX_OK);
    assert_true(strcmp(v1.u.s, v2.u.s) < 0);
    assert_int_equal(v1.n, 26);
    dx_arena_release(&a);
}

static void test_iso8601(void **state) {
    (void)state;
    static const struct {
        const char *s;
        bool ok;
        int64_t epoch;
    } rows[] = {
        {"1970-01-01T00:00:00Z", true, 0},
        {"2026-11-25T12:00:00Z", true, 1795608000},
        {"2026-11-25T12:00:00.123Z", true, 1795608000},
        {"2026-11-25T12:00:00.123456789Z", true, 1795608000},
        {"2026-11-25T12:00:00+01:00", true, 1795604400},
        {"2026-11-25T12:00:00-05:30", true, 1795627800},
        {"2000-02-29T23:59:59Z", true, 951868799},
        {"1900-01-01T00:00:00Z", true, -2208988800LL},
        {"1969-12-31T23:59:59.500Z", true, -1},
        {"2038-01-19T03:14:08Z", true, 2147483648LL},
        {"2023-02-29T00:00:00Z", false, 0},
        {"1900-02-29T00:00:00Z", false, 0},
        {"2026-04-31T00:00:00Z", false, 0},
        {"2026-13-01T00:00:00Z", false, 0},
        {"2026-00-01T00:00:00Z", false, 0},
        {"2026-11-00T00:00:00Z", false, 0},
        {"2026-11-25T24:00:00Z", false, 0},
        {"2026-11-25T12:60:00Z", false, 0},
        {"2026-11-25T12:00:60Z", false, 0},
        {"2026-11-25 12:00:00Z", false, 0},
        {"2026-11-25T12:00:00", false, 0},
        {"2026-11-25T12:00:00z", false, 0},
        {"2026-11-25T12:00:00.Z", false, 0},
        {"2026-11-25T12:00:00.1234567890Z", false, 0},
        {"2026-11-25T12:00:00+0100", false, 0},
        {"2026-11-25T12:00:00+24:00", false, 0},
        {"2026-11-25T12:00:00Zx", false, 0},
        {"2026-11-25T12:00Z", false, 0},
        {"2026-11-25", false, 0},
        {"", false, 0},
        {"2026-1a-25T12:00:00Z", false, 0},
    };
    for (size_t i = 0; i < N_(rows); i++) {
        print_message("[%zu] %s\n", i, rows[i].s);
        int64_t t = 12345;
        assert_int_equal(dx_datetime_parse(rows[i].s, strlen(rows[i].s), &t), rows[i].ok);
        if (rows[i].ok) assert_int_equal(t, rows[i].epoch);
    }
    char out[25];
    dx_datetime_format(1795608000123ull, out);
    assert_string_equal(out, "2026-11-25T12:00:00.123Z");
    dx_datetime_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
}

/* ---------------------------------------------------------------- set / get */

static void test_set_get(void **state) {
    (void)state;
    dx_model *m = all_model("t");
    dx_item *it = dx_item_new(m);
    dx_result r;
    dx_result_clear(&r);

    /* Numbers are validated and stored canonical. */
    assert_int_equal(dx_item_set_num(it, "score", "1.50", &r), DX_OK);
    assert_string_equal(dx_item_get(it, "score")->u.s, "1.5");
    assert_int_equal(dx_item_set_num(it, "score", "1e3", &r), DX_OK);
    assert_string_equal(dx_item_get(it, "score")->u.s, "1000");
    assert_int_equal(dx_item_set_i64(it, "score", -42, &r), DX_OK);
    int64_t i64;
    double d;
    assert_int_equal(dx_item_get_i64(it, "score", &i64, &r), DX_OK);
    assert_int_equal(i64, -42);
    assert_int_equal(dx_item_set_double(it, "score", 0.25, &r), DX_OK);
    assert_string_equal(dx_item_get(it, "score")->u.s, "0.25");
    assert_int_equal(dx_item_get_double(it, "score", &d, &r), DX_OK);
    assert_true(d == 0.25);
    assert_int_equal(dx_item_get_i64(it, "score", &i64, &r), DX_ERR_VALIDATION); /* a fraction */

    /* Strings, booleans, binary. */
    assert_int_equal(dx_item_set_str(it, "email", "a@example.com", &r), DX_OK);
    const char *s;
    assert_int_equal(dx_item_get_str(it, "email", &s), DX_OK);
    assert_string_equal(s, "a@example.com");
    assert_int_equal(dx_item_set_bool(it, "active", false, &r), DX_OK);
    bool b = true;
    assert_int_equal(dx_item_get_bool(it, "active", &b), DX_OK);
    assert_false(b);
    assert_int_equal(dx_item_set_bin(it, "avatar", "\x00\x01\x02", 3, &r), DX_OK);
    assert_int_equal(dx_item_get(it, "avatar")->type, DX_T_B);
    assert_int_equal(dx_item_get(it, "avatar")->n, 3);
    assert_memory_equal(dx_item_get(it, "avatar")->u.s, "\x00\x01\x02", 3);

    /* json attributes keep compact text. */
    assert_int_equal(dx_item_set_str(it, "prefs", " { \"a\" : [1, 2 ,\"x y\"] } ", &r), DX_OK);
    assert_string_equal(dx_item_get(it, "prefs")->u.s, "{\"a\":[1,2,\"x y\"]}");

    /* Sets through dx_item_set; numbers in sets are canonical too. */
    dx_value nums[] = {dx_vn("2.0"), dx_vn("10")};
    dx_value ns = dx_vset(DX_T_NS, nums, 2);
    assert_int_equal(dx_item_set(it, "nums", &ns, &r), DX_OK);
    assert_string_equal(dx_item_get(it, "nums")->u.elems[0].u.s, "2");

    /* The copy is the item's: changing the caller's value changes nothing. */
    char buf[] = "mutable";
    assert_int_equal(dx_item_set_str(it, "user_id", buf, &r), DX_OK);
    buf[0] = 'X';
    assert_int_equal(dx_item_get_str(it, "user_id", &s), DX_OK);
    assert_string_equal(s, "mutable");

    /* A pointer from dx_item_get survives changes to other attributes. */
    const dx_value *email = dx_item_get(it, "email");
    assert_int_equal(dx_item_unset(it, "score", &r), DX_OK);
    assert_int_equal(dx_item_set_num(it, "score", "7", &r), DX_OK);
    assert_ptr_equal(dx_item_get(it, "email"), email);
    assert_string_equal(email->u.s, "a@example.com");

    /* Unset removes it from the whole item. */
    size_t before = dx_item_value(it)->n;
    assert_int_equal(dx_item_unset(it, "score", &r), DX_OK);
    assert_null(dx_item_get(it, "score"));
    assert_int_equal(dx_item_value(it)->n, before - 1);
    assert_int_equal(dx_item_get_i64(it, "score", &i64, &r), DX_ERR_INVALID_ARG);
    assert_int_equal(dx_item_get_str(it, "age", &s), DX_ERR_INVALID_ARG); /* a number */
    assert_int_equal(dx_item_get_bool(it, "nope", &b), DX_ERR_INVALID_ARG);

    /* The whole item is an M in model order. */
    const dx_value *w = dx_item_value(it);
    assert_int_equal(w->type, DX_T_M);
    assert_string_equal(w->u.members[0].name, "user_id");
    assert_string_equal(w->u.members[1].name, "email");
    assert_string_equal(w->u.members[2].name, "age");
    dx_item_free(it);
    dx_model_free(m);
}

typedef struct set_case {
    const char *what;
    const char *attr;
    int how; /* 0 dx_item_set (v), 1 set_str, 2 set_num, 3 set_double */
    dx_value v;
    const char *text;
    double dbl;
    const char *msg;
} set_case;

static dx_value empty_ss[1];
static dx_value dup_ss[] = {{DX_T_S, 1, {.s = "a"}}, {DX_T_S, 1, {.s = "a"}}};
static dx_value dup_ns[] = {{DX_T_N, 1, {.s = "1"}}, {DX_T_N, 3, {.s = "1.0"}}};
static dx_value bad_ns[] = {{DX_T_N, 1, {.s = "1"}}, {DX_T_N, 3, {.s = "x.0"}}};

static void test_set_errors(void **state) {
    (void)state;
    static const set_case rows[] = {
        {"unknown attribute", "nmae", 1, {0}, "x", 0, "model 'User' has no attribute 'nmae'"},
        {"string into number", "age", 1, {0}, "12", 0, "is of type number; dx_item_set_str cannot set it"},
        {"number into string", "email", 2, {0}, "12", 0, "is of type string; dx_item_set_num cannot set it"},
        {"invalid number text", "age", 2, {0}, "12abc", 0, "attribute 'age': invalid number \"12abc\""},
        {"number with space", "age", 2, {0}, " 12", 0, "invalid number"},
        {"number too precise", "age", 2, {0}, "1234567890123456789012345678901234567890", 0,
         "38 significant digits"},
        {"NaN", "age", 3, {0}, NULL, NAN, "is not a storable number"},
        {"empty hash key", "user_id", 1, {0}, "", 0, "key attribute 'user_id' is empty"},
        {"bad datetime", "created", 1, {0}, "2026-11-25", 0, "needs ISO 8601 text"},
        {"bad json", "prefs", 1, {0}, "{\"a\":}", 0, "not valid JSON"},
        {"json with trailing text", "prefs", 1, {0}, "{} {}", 0, "not valid JSON"},
        {"ttl fraction", "expires", 2, {0}, "1.5", 0, "needs whole epoch seconds"},
        {"bool as S", "active", 0, {DX_T_S, 4, {.s = "true"}}, NULL, 0, "needs a bool value (BOOL)"},
        {"list as map", "items", 0, {DX_T_M, 0, {.members = NULL}}, NULL, 0, "needs a list value (L)"},
        {"empty set", "tags", 0, {DX_T_SS, 0, {.elems = empty_ss}}, NULL, 0, "may not be empty"},
        {"duplicate set members", "tags", 0, {DX_T_SS, 2, {.elems = dup_ss}}, NULL, 0, "duplicates"},
        {"duplicate numbers after canonical form", "nums", 0, {DX_T_NS, 2, {.elems = dup_ns}}, NULL, 0,
         "duplicates"},
        {"bad number in a set", "nums", 0, {DX_T_NS, 2, {.elems = bad_ns}}, NULL, 0, "invalid number \"x.0\""},
        {"SS into NS", "nums", 0, {DX_T_SS, 2, {.elems = dup_ss}}, NULL, 0, "needs a number_set value (NS)"},
        {"invalid UTF-8", "email", 0, {DX_T_S, 2, {.s = "\xc3\x28"}}, NULL, 0, "attribute 'email'"},
    };
    dx_model *m = all_model("t");
    dx_item *it = dx_item_new(m);
    for (size_t i = 0; i < N_(rows); i++) {
        const set_case *c = &rows[i];
        print_message("[%zu] %s\n", i, c->what);
        dx_result r;
        dx_result_clear(&r);
        dx_err e;
        dx_value v = c->v;
        switch (c->how) {
        case 0:
            e = dx_item_set(it, c->attr, &v, &r);
            break;
        case 1:
            e = dx_item_set_str(it, c->attr, c->text, &r);
            break;
        case 2:
            e = dx_item_set_num(it, c->attr, c->text, &r);
            break;
        default:
            e = dx_item_set_double(it, c->attr, c->dbl, &r);
        }
        print_message("    -> %s: %s\n", dx_err_name(e), r.message);
        assert_int_equal(e, DX_ERR_VALIDATION);
        assert_string_equal(r.field, c->attr);
        assert_contains(r.message, c->msg);
    }
    dx_item_free(it);
    dx_model_free(m);
}

static void test_validate_key_size(void **state) {
    (void)state;
    dx_model *m = all_model("t");
    dx_item *it = dx_item_new(m);
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_item_validate(it, &r), DX_ERR_VALIDATION);
    assert_string_equal(r.field, "user_id");
    assert_contains(r.message, "missing required hash key attribute 'user_id' of model 'User'");
    assert_int_equal(dx_item_set_str(it, "user_id", "u1", &r), DX_OK);
    dx_result_clear(&r);
    assert_int_equal(dx_item_validate(it, &r), DX_ERR_VALIDATION);
    assert_string_equal(r.field, "email");
    assert_int_equal(dx_item_set_str(it, "email", "e", &r), DX_OK);
    assert_int_equal(dx_item_validate(it, &r), DX_OK);

    dx_arena a = {0};
    dx_value key;
    assert_int_equal(dx_item_key(it, &a, &key, &r), DX_OK);
    assert_int_equal(key.type, DX_T_M);
    assert_int_equal(key.n, 1);
    assert_string_equal(key.u.members[0].name, "user_id");
    assert_string_equal(key.u.members[0].value.u.s, "u1");

    /* Size as DynamoDB counts it: the same as dx_item_size of the whole item. */
    size_t bytes = dx_item_bytes(it);
    assert_int_equal(bytes, dx_item_size(dx_item_value(it)));
    assert_int_equal(dx_item_set_str(it, "email", "ee", &r), DX_OK);
    assert_int_equal(dx_item_bytes(it), bytes + 1);
    assert_int_equal(dx_item_unset(it, "user_id", &r), DX_OK);
    assert_int_equal(dx_item_key(it, &a, &key, &r), DX_ERR_VALIDATION);
    assert_string_equal(r.field, "user_id");
    dx_arena_release(&a);
    dx_item_free(it);
    dx_model_free(m);
}

/* ---------------------------------------------------------------- plain JSON */

static void test_from_dict_round_trip(void **state) {
    (void)state;
    dx_model *m = all_model("t");
    static const char in[] =
        "{\"user_id\":\"u1\",\"email\":\"a@b.c\",\"age\":\"41.0\",\"score\":1e2,"
        "\"active\":false,\"avatar\":\"AAEC\",\"tags\":[\"x\",\"y\"],\"nums\":[3,\"4.50\"],"
        "\"blobs\":[\"AQ==\",\"Ag==\"],\"prefs\":{\"theme\": \"dark\", \"n\": [1, null]},"
        "\"meta\":{\"k\":\"v\",\"n\":1},\"items\":[1,\"two\",true],"
        "\"created\":\"2026-11-25T12:00:00.123Z\",\"expires\":\"2026-11-25T13:00:00+01:00\","
        "\"uid\":\"fixed\",\"lid\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\",\"epoch\":5}";
    static const char want[] =
        "{\"user_id\":\"u1\",\"email\":\"a@b.c\",\"age\":41,\"score\":100,"
        "\"active\":false,\"avatar\":\"AAEC\",\"tags\":[\"x\",\"y\"],\"nums\":[3,4.5],"
        "\"blobs\":[\"AQ==\",\"Ag==\"],\"prefs\":{\"theme\":\"dark\",\"n\":[1,null]},"
        "\"meta\":{\"k\":\"v\",\"n\":1},\"items\":[1,\"two\",true],"
        "\"created\":\"2026-11-25T12:00:00.123Z\",\"expires\":1795608000,"
        "\"uid\":\"fixed\",\"lid\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\",\"epoch\":5}";
    dx_item *it = NULL;
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_item_from_dict(m, in, strlen(in), NULL, &it, &r);
    if (e) print_message("%s\n", r.message);
    assert_int_equal(e, DX_OK);
    assert_int_equal(dx_item_get(it, "avatar")->type, DX_T_B);
    assert_memory_equal(dx_item_get(it, "avatar")->u.s, "\x00\x01\x02", 3);
    assert_int_equal(dx_item_get(it, "tags")->type, DX_T_SS);
    assert_int_equal(dx_item_get(it, "nums")->type, DX_T_NS);
    assert_int_equal(dx_item_get(it, "blobs")->type, DX_T_BS);
    assert_int_equal(dx_item_get(it, "prefs")->type, DX_T_S);
    assert_int_equal(dx_item_get(it, "expires")->type, DX_T_N);
    dx_buf b = {0};
    assert_string_equal(to_dict(it, &b), want);

    /* from_dict(to_dict(x)) gives x again. */
    dx_item *it2 = NULL;
    assert_int_equal(dx_item_from_dict(m, b.ptr, b.len, NULL, &it2, &r), DX_OK);
    assert_true(dx_value_equal(dx_item_value(it), dx_item_value(it2)));
    dx_buf b2 = {0};
    assert_string_equal(to_dict(it2, &b2), want);
    dx_buf_free(&b2);
    dx_item_free(it2);
    dx_item_free(it);

    /* Defaults and generators fill what is absent; null means absent. */
    static const char small[] = "{\"user_id\":\"u2\",\"email\":\"e\",\"age\":null}";
    assert_int_equal(dx_item_from_dict(m, small, strlen(small), NULL, &it, &r), DX_OK);
    assert_string_equal(dx_item_get(it, "age")->u.s, "0");
    assert_non_null(dx_item_get(it, "uid"));
    assert_non_null(dx_item_get(it, "created"));
    dx_item_free(it);
    dx_from_dict_opts nd = {.no_defaults = true};
    assert_int_equal(dx_item_from_dict(m, small, strlen(small), &nd, &it, &r), DX_OK);
    assert_null(dx_item_get(it, "age"));
    assert_null(dx_item_get(it, "uid"));
    assert_string_equal(to_dict(it, &b), "{\"user_id\":\"u2\",\"email\":\"e\"}");
    dx_item_free(it);

    /* A json attribute takes any JSON value, a plain string included, and gives it back. */
    static const char js[] = "{\"user_id\":\"u4\",\"email\":\"e\",\"prefs\":\"just text\"}";
    assert_int_equal(dx_item_from_dict(m, js, strlen(js), &nd, &it, &r), DX_OK);
    assert_string_equal(dx_item_get(it, "prefs")->u.s, "\"just text\"");
    assert_string_equal(to_dict(it, &b), js);
    dx_item_free(it);

    /* allow_unknown drops what the model does not know. */
    static const char extra[] = "{\"user_id\":\"u3\",\"email\":\"e\",\"colour\":\"red\"}";
    dx_from_dict_opts au = {.allow_unknown = true};
    assert_int_equal(dx_item_from_dict(m, extra, strlen(extra), &au, &it, &r), DX_OK);
    assert_null(dx_item_get(it, "colour"));
    dx_item_free(it);
    dx_buf_free(&b);
    dx_model_free(m);
}

static void test_from_dict_errors(void **state) {
    (void)state;
    static const struct {
        const char *what, *json;
        dx_err err;
        const char *field, *msg;
    } rows[] = {
        {"missing required", "{\"user_id\":\"u\"}", DX_ERR_VALIDATION, "email",
         "missing required attribute 'email'"},
        {"missing hash key", "{\"email\":\"e\"}", DX_ERR_VALIDATION, "user_id",
         "missing required attribute 'user_id'"},
        {"unknown attribute", "{\"user_id\":\"u\",\"email\":\"e\",\"colour\":1}", DX_ERR_VALIDATION,
         "colour", "unknown attribute 'colour'"},
        {"wrong type: number", "{\"user_id\":\"u\",\"email\":\"e\",\"age\":true}", DX_ERR_VALIDATION,
         "age", "attribute 'age' (number) needs a JSON number or a numeric string, got a boolean"},
        {"wrong type: string", "{\"user_id\":7,\"email\":\"e\"}", DX_ERR_VALIDATION, "user_id",
         "needs a string, got a number 7"},
        {"wrong type: bool", "{\"user_id\":\"u\",\"email\":\"e\",\"active\":\"yes\"}",
         DX_ERR_VALIDATION, "active", "needs true or false, got a string \"yes\""},
        {"wrong type: set", "{\"user_id\":\"u\",\"email\":\"e\",\"tags\":\"a\"}", DX_ERR_VALIDATION,
         "tags", "needs an array of strings"},
        {"wrong type: set member", "{\"user_id\":\"u\",\"email\":\"e\",\"tags\":[\"a\",1]}",
         DX_ERR_VALIDATION, "tags", "element 1 is a number"},
        {"wrong type: map", "{\"user_id\":\"u\",\"email\":\"e\",\"meta\":[]}", DX_ERR_VALIDATION,
         "meta", "needs an object, got an array"},
        {"wrong type: list", "{\"user_id\":\"u\",\"email\":\"e\",\"items\":{}}", DX_ERR_VALIDATION,
         "items", "needs an array, got an object"},
        {"invalid number text", "{\"user_id\":\"u\",\"email\":\"e\",\"age\":\"12abc\"}",
         DX_ERR_VALIDATION, "age", "attribute 'age': invalid number \"12abc\""},
        {"number out of range", "{\"user_id\":\"u\",\"email\":\"e\",\"age\":1e400}",
         DX_ERR_VALIDATION, "age", "attribute 'age': Number overflow"},
        {"number with 39 digits",
         "{\"user_id\":\"u\",\"email\":\"e\",\"age\":123456789012345678901234567890123456789}",
         DX_ERR_VALIDATION, "age", "attribute 'age': Attempting to store more than 38"},
        {"number out of range in a list", "{\"user_id\":\"u\",\"email\":\"e\",\"items\":[1,1e-400]}",
         DX_ERR_VALIDATION, "items", "attribute 'items': Number underflow"},
        {"invalid number in set", "{\"user_id\":\"u\",\"email\":\"e\",\"nums\":[1,\"x\"]}",
         DX_ERR_VALIDATION, "nums", "invalid number \"x\""},
        {"empty key", "{\"user_id\":\"\",\"email\":\"e\"}", DX_ERR_VALIDATION, "user_id",
         "key attribute 'user_id' is empty"},
        {"empty set", "{\"user_id\":\"u\",\"email\":\"e\",\"tags\":[]}", DX_ERR_VALIDATION, "tags",
         "may not be empty"},
        {"duplicate set members", "{\"user_id\":\"u\",\"email\":\"e\",\"tags\":[\"a\",\"a\"]}",
         DX_ERR_VALIDATION, "tags", "duplicates"},
        {"duplicate numbers", "{\"user_id\":\"u\",\"email\":\"e\",\"nums\":[1,\"1.00\"]}",
         DX_ERR_VALIDATION, "nums", "duplicates"},
        {"bad base64", "{\"user_id\":\"u\",\"email\":\"e\",\"avatar\":\"!!\"}", DX_ERR_VALIDATION,
         "avatar", "needs base64 text"},
        {"bad base64 in set", "{\"user_id\":\"u\",\"email\":\"e\",\"blobs\":[\"AQ==\",\"A\"]}",
         DX_ERR_VALIDATION, "blobs", "needs base64 text"},
        {"bad datetime", "{\"user_id\":\"u\",\"email\":\"e\",\"created\":\"25/11/2026\"}",
         DX_ERR_VALIDATION, "created", "needs ISO 8601 text"},
        {"bad ttl", "{\"user_id\":\"u\",\"email\":\"e\",\"expires\":\"tomorrow\"}", DX_ERR_VALIDATION,
         "expires", "needs epoch seconds or an ISO 8601 datetime"},
        {"ttl fraction", "{\"user_id\":\"u\",\"email\":\"e\",\"expires\":1.5}", DX_ERR_VALIDATION,
         "expires", "whole epoch seconds"},
        {"attribute twice", "{\"user_id\":\"u\",\"email\":\"e\",\"email\":\"f\"}", DX_ERR_VALIDATION,
         "email", "appears twice"},
        {"not an object", "[1,2]", DX_ERR_VALIDATION, "", "is a JSON object, got an array"},
    };
    dx_model *m = all_model("t");
    for (size_t i = 0; i < N_(rows); i++) {
        print_message("[%zu] %s\n", i, rows[i].what);
        dx_item *it = (dx_item *)m;
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dx_item_from_dict(m, rows[i].json, strlen(rows[i].json), NULL, &it, &r);
        print_message("    -> %s [%s]: %s\n", dx_err_name(e), r.field, r.message);
        assert_int_equal(e, rows[i].err);
        assert_null(it);
        assert_string_equal(r.field, rows[i].field);
        assert_contains(r.message, rows[i].msg);
    }
    /* Malformed JSON is the codec's error, with an offset. */
    dx_item *it = NULL;
    dx_result r;
    dx_result_clear(&r);
    assert_int_not_equal(dx_item_from_dict(m, "{\"user_id\":", 11, NULL, &it, &r), DX_OK);
    assert_null(it);
    dx_model_free(m);
}

static void test_from_stored(void **state) {
    (void)state;
    dx_model *m = all_model("t");
    dx_member mem[] = {
        {"user_id", 7, dx_vs("u")},
        {"email", 5, dx_vs("e")},
        {"unknown_to_model", 16, dx_vs("x")}, /* ignored */
    };
    dx_value stored = dx_vmap(mem, N_(mem));
    dx_item *it = NULL;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_item_from_stored(m, &stored, &it, &r), DX_OK);
    assert_int_equal(dx_item_value(it)->n, 2); /* no defaults applied */
    dx_item_free(it);
    mem[1].value = dx_vn("5");
    assert_int_equal(dx_item_from_stored(m, &stored, &it, &r), DX_ERR_VALIDATION);
    assert_null(it);
    assert_string_equal(r.field, "email");
    assert_contains(r.message, "stored item does not fit model 'User'");
    dx_model_free(m);
}

/* ---------------------------------------------------------------- against the memory backend */

typedef struct counts {
    int n[DX_HOOK__COUNT];
    dx_err fail_kind_err;
    dx_hook_kind fail_kind;
} counts;

static dx_err count_hook(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r) {
    (void)item;
    counts *c = ud;
    c->n[kind]++;
    if (c->fail_kind_err && c->fail_kind == kind)
        return dx_fail(r, c->fail_kind_err, "email", "hook refused: %s", dx_hook_kind_name(kind));
    return DX_OK;
}

static int total_hooks(const counts *c) {
    int t = 0;
    for (int k = 0; k < DX_HOOK__COUNT; k++) t += c->n[k];
    return t;
}

typedef struct fx {
    dx_client *c;
    dx_model *m;
    counts hooks;
} fx;

static int fx_teardown(void **state);

static int fx_setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    dx_result r;
    dx_result_clear(&r);
    *state = f;
    if (dx_mem_client_new(NULL, NULL, &f->c) != DX_OK) goto fail;
    f->m = all_model("users");
    dx_model_set_client(f->m, f->c);
    for (int k = 0; k < DX_HOOK__COUNT; k++)
        if (dx_model_add_hook(f->m, (dx_hook_kind)k, count_hook, &f->hooks) != DX_OK) goto fail;
    dx_table_def def;
    dx_model_table_def(f->m, &def);
    if (dx_create_table(f->c, &def, &r) != DX_OK) {
        print_message("create table: %s\n", r.message);
        goto fail;
    }
    return 0;
fail:
    fx_teardown(state);
    return -1;
}

static int fx_teardown(void **state) {
    fx *f = *state;
    dx_model_free(f->m);
    dx_client_free(f->c);
    free(f);
    return 0;
}

static uint64_t calls(dx_client *c) {
    dx_client_stats s;
    dx_client_stats_get(c, &s);
    return s.calls;
}

static double rcu(dx_client *c) {
    dx_client_stats s;
    dx_client_stats_get(c, &s);
    return s.rcu;
}

static dx_item *user(fx *f, const char *id, const char *email) {
    dx_item *it = dx_item_new(f->m);
    assert_int_equal(dx_item_set_str(it, "user_id", id, NULL), DX_OK);
    if (email) assert_int_equal(dx_item_set_str(it, "email", email, NULL), DX_OK);
    return it;
}

static dx_item *get(fx *f, const char *id, dx_err want) {
    dx_member km = {"user_id", 7, dx_vs(id)};
    dx_value key = dx_vmap(&km, 1);
    dx_item *out = (dx_item *)f; /* must be overwritten */
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_model_get(f->m, &key, NULL, &out, &r);
    if (e != want) print_message("get %s: %s %s\n", id, dx_err_name(e), r.message);
    assert_int_equal(e, want);
    return out;
}

static void test_save_replaces(void **state) {
    fx *f = *state;
    dx_result r;
    dx_result_clear(&r);
    dx_item *it = user(f, "u1", "a@b.c");
    assert_int_equal(dx_item_set_num(it, "score", "10", &r), DX_OK);
    assert_int_equal(dx_item_set_str(it, "prefs", "{\"x\":1}", &r), DX_OK);
    uint64_t c0 = calls(f->c);
    assert_int_equal(dx_item_save(it, NULL, &r), DX_OK);
    assert_int_equal(calls(f->c), c0 + 1);
    assert_int_equal(f->hooks.n[DX_HOOK_BEFORE_SAVE], 1);
    assert_int_equal(f->hooks.n[DX_HOOK_AFTER_SAVE], 1);

    dx_item *got = get(f, "u1", DX_OK);
    assert_non_null(got);
    assert_int_equal(f->hooks.n[DX_HOOK_AFTER_LOAD], 1);
    assert_true(dx_value_equal(dx_item_value(got), dx_item_value(it)));
    dx_item_free(got);

    /* A second save of the same key without score: the stored item loses score. */
    dx_item *it2 = user(f, "u1", "new@b.c");
    assert_int_equal(dx_item_save(it2, NULL, &r), DX_OK);
    got = get(f, "u1", DX_OK);
    assert_null(dx_item_get(got, "score"));
    assert_null(dx_item_get(got, "prefs"));
    const char *email;
    assert_int_equal(dx_item_get_str(got, "email", &email), DX_OK);
    assert_string_equal(email, "new@b.c");
    assert_true(dx_value_equal(dx_item_value(got), dx_item_value(it2)));
    dx_item_free(got);
    dx_item_free(it2);
    dx_item_free(it);
}

static void test_get_missing_and_no_table(void **state) {
    fx *f = *state;
    uint64_t c0 = calls(f->c);
    int h0 = f->hooks.n[DX_HOOK_AFTER_LOAD];
    assert_null(get(f, "nobody", DX_OK));
    assert_int_equal(calls(f->c), c0 + 1);
    assert_int_equal(f->hooks.n[DX_HOOK_AFTER_LOAD], h0); /* nothing was loaded */

    /* ResourceNotFound: the table does not exist. */
    dx_model *m = all_model("no_such_table");
    dx_model_set_client(m, f->c);
    dx_item *it = dx_item_new(m);
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_item_set_str(it, "user_id", "u", &r), DX_OK);
    assert_int_equal(dx_item_set_str(it, "email", "e", &r), DX_OK);
    assert_int_equal(dx_item_save(it, NULL, &r), DX_ERR_RESOURCE_NOT_FOUND);
    assert_int_equal(r.err, DX_ERR_RESOURCE_NOT_FOUND);
    print_message("%s\n", r.message);
    dx_member km = {"user_id", 7, dx_vs("u")};
    dx_value key = dx_vmap(&km, 1);
    dx_item *out = NULL;
    dx_result_clear(&r);
    assert_int_equal(dx_model_get(m, &key, NULL, &out, &r), DX_ERR_RESOURCE_NOT_FOUND);
    assert_null(out);
    dx_item_free(it);
    dx_model_free(m);

    /* Keys are checked before any call. */
    c0 = calls(f->c);
    static const struct {
        dx_member mem[2];
        uint32_t n;
        const char *field, *msg;
    } bad[] = {
        {{{"email", 5, {DX_T_S, 1, {.s = "e"}}}}, 1, "email", "'email' is not a key attribute"},
        {{{"user_id", 7, {DX_T_N, 1, {.s = "1"}}}}, 1, "user_id", "needs a string value (S)"},
        {{{"user_id", 7, {DX_T_S, 0, {.s = ""}}}}, 1, "user_id", "is empty"},
        {{{0}}, 0, "user_id", "the key is missing hash key attribute 'user_id'"},
    };
    for (size_t i = 0; i < N_(bad); i++) {
        print_message("[%zu] %s\n", i, bad[i].msg);
        key = dx_vmap((dx_member *)bad[i].mem, bad[i].n);
        dx_result_clear(&r);
        assert_int_equal(dx_model_get(f->m, &key, NULL, &out, &r), DX_ERR_VALIDATION);
        assert_string_equal(r.field, bad[i].field);
        assert_contains(r.message, bad[i].msg);
        dx_result_clear(&r);
        assert_int_equal(dx_delete_by_key(f->m, &key, NULL, &r), DX_ERR_VALIDATION);
    }
    assert_int_equal(calls(f->c), c0);
}

static void test_update(void **state) {
    fx *f = *state;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_model_add_builtin_hook(f->m, DX_HOOK_BEFORE_UPDATE, "set_now", "expires", &r),
                     DX_OK);
    dx_item *it = user(f, "u2", "a@b.c");
    assert_int_equal(dx_item_set_num(it, "score", "1", &r), DX_OK);
    assert_int_equal(dx_item_save(it, NULL, &r), DX_OK);

    /* Another writer adds an attribute: update returns the server's whole item. */
    dx_item *other = get(f, "u2", DX_OK);
    dx_value tags[] = {dx_vs("t")};
    dx_value ss = dx_vset(DX_T_SS, tags, 1);
    assert_int_equal(dx_item_set(other, "tags", &ss, &r), DX_OK);
    assert_int_equal(dx_item_save(other, NULL, &r), DX_OK);
    dx_item_free(other);

    memset(&f->hooks.n, 0, sizeof f->hooks.n);
    dx_member fields[] = {
        {"age", 3, dx_vn("42.0")},
        {"score", 5, {DX_T_NONE, 0, {.s = NULL}}}, /* REMOVE */
    };
    uint64_t c0 = calls(f->c);
    dx_err e = dx_item_update(it, fields, N_(fields), NULL, &r);
    if (e) print_message("%s\n", r.message);
    assert_int_equal(e, DX_OK);
    assert_int_equal(calls(f->c), c0 + 1);
    assert_int_equal(f->hooks.n[DX_HOOK_BEFORE_UPDATE], 1);
    assert_int_equal(f->hooks.n[DX_HOOK_AFTER_UPDATE], 1);
    assert_int_equal(total_hooks(&f->hooks), 2);

    /* The local item changed: the fields, the hook's attribute, and the other writer's tags. */
    assert_string_equal(dx_item_get(it, "age")->u.s, "42");
    assert_null(dx_item_get(it, "score"));
    assert_non_null(dx_item_get(it, "expires"));
    assert_non_null(dx_item_get(it, "tags"));
    /* And the server holds the same. */
    dx_item *got = get(f, "u2", DX_OK);
    assert_true(dx_value_equal(dx_item_value(got), dx_item_value(it)));
    dx_item_free(got);

    /* Bad fields are refused before any call, and the local item is unchanged. */
    static const struct {
        dx_member f;
        dx_err err;
        const char *msg;
    } bad[] = {
        {{"user_id", 7, {DX_T_S, 1, {.s = "x"}}}, DX_ERR_VALIDATION, "cannot update key attribute 'user_id'"},
        {{"email", 5, {DX_T_NONE, 0, {.s = NULL}}}, DX_ERR_VALIDATION, "cannot remove required attribute 'email'"},
        {{"age", 3, {DX_T_N, 3, {.s = "abc"}}}, DX_ERR_VALIDATION, "invalid number \"abc\""},
        {{"age", 3, {DX_T_S, 1, {.s = "1"}}}, DX_ERR_VALIDATION, "needs a number value (N)"},
        {{"colour", 6, {DX_T_S, 1, {.s = "x"}}}, DX_ERR_VALIDATION, "has no attribute 'colour'"},
    };
    dx_buf before = {0}, after = {0};
    to_dict(it, &before);
    c0 = calls(f->c);
    for (size_t i = 0; i < N_(bad); i++) {
        print_message("[%zu] %s\n", i, bad[i].msg);
        dx_result_clear(&r);
        assert_int_equal(dx_item_update(it, &bad[i].f, 1, NULL, &r), bad[i].err);
        assert_contains(r.message, bad[i].msg);
        assert_string_equal(r.field, bad[i].f.name);
        assert_string_equal(to_dict(it, &after), before.ptr);
    }
    assert_int_equal(calls(f->c), c0);

    /* A failed call (condition) leaves the local item as it was. */
    dx_op_opts cond = {.condition = "attribute_not_exists(user_id)"};
    dx_member f1 = {"age", 3, dx_vn("7")};
    dx_result_clear(&r);
    assert_int_equal(dx_item_update(it, &f1, 1, &cond, &r), DX_ERR_CONDITIONAL);
    assert_string_equal(to_dict(it, &after), before.ptr);
    dx_buf_free(&before);
    dx_buf_free(&after);
    dx_item_free(it);
}

static void test_by_key_one_call_no_hooks(void **state) {
    fx *f = *state;
    dx_result r;
    dx_result_clear(&r);
    dx_item *it = user(f, "u3", "a@b.c");
    assert_int_equal(dx_item_save(it, NULL, &r), DX_OK);
    dx_item_free(it);

    memset(&f->hooks.n, 0, sizeof f->hooks.n);
    dx_member km = {"user_id", 7, dx_vs("u3")};
    dx_value key = dx_vmap(&km, 1);
    dx_member fields[] = {{"score", 5, dx_vn("99")}, {"age", 3, {DX_T_NONE, 0, {.s = NULL}}}};
    uint64_t c0 = calls(f->c);
    assert_int_equal(dx_update_by_key(f->m, &key, fields, 2, NULL, &r), DX_OK);
    assert_int_equal(calls(f->c), c0 + 1);
    assert_int_equal(total_hooks(&f->hooks), 0);

    /* With the model's hooks explicitly on for the call: still none. */
    dx_op_opts on = {.skip_hooks = DX_NO};
    assert_int_equal(dx_update_by_key(f->m, &key, fields, 1, &on, &r), DX_OK);
    assert_int_equal(calls(f->c), c0 + 2);
    assert_int_equal(total_hooks(&f->hooks), 0);

    dx_item *got = get(f, "u3", DX_OK);
    assert_string_equal(dx_item_get(got, "score")->u.s, "99");
    assert_null(dx_item_get(got, "age"));
    dx_item_free(got);
    memset(&f->hooks.n, 0, sizeof f->hooks.n);

    c0 = calls(f->c);
    assert_int_equal(dx_delete_by_key(f->m, &key, &on, &r), DX_OK);
    assert_int_equal(calls(f->c), c0 + 1);
    assert_int_equal(total_hooks(&f->hooks), 0);
    assert_null(get(f, "u3", DX_OK));

    /* update_by_key of a missing item creates it (UpdateItem is an upsert). */
    assert_int_equal(dx_update_by_key(f->m, &key, fields, 1, NULL, &r), DX_OK);
    got = get(f, "u3", DX_OK);
    assert_non_null(got);
    dx_item_free(got);
    /* Nothing to update is an argument error, without a call. */
    c0 = calls(f->c);
    assert_int_equal(dx_update_by_key(f->m, &key, fields, 0, NULL, &r), DX_ERR_INVALID_ARG);
    assert_int_equal(calls(f->c), c0);
}

static void test_delete_with_hooks(void **state) {
    fx *f = *state;
    dx_result r;
    dx_result_clear(&r);
    dx_item *it = user(f, "u4", "a@b.c");
    assert_int_equal(dx_item_save(it, NULL, &r), DX_OK);
    memset(&f->hooks.n, 0, sizeof f->hooks.n);
    assert_int_equal(dx_item_delete(it, NULL, &r), DX_OK);
    assert_int_equal(f->hooks.n[DX_HOOK_BEFORE_DELETE], 1);
    assert_int_equal(f->hooks.n[DX_HOOK_AFTER_DELETE], 1);
    assert_null(get(f, "u4", DX_OK));
    /* A before_delete hook error stops the delete. */
    assert_int_equal(dx_item_save(it, NULL, &r), DX_OK);
    f->hooks.fail_kind = DX_HOOK_BEFORE_DELETE;
    f->hooks.fail_kind_err = DX_ERR_HOOK;
    uint64_t c0 = calls(f->c);
    dx_result_clear(&r);
    assert_int_equal(dx_item_delete(it, NULL, &r), DX_ERR_HOOK);
    assert_string_equal(r.message, "hook refused: before_delete");
    assert_int_equal(calls(f->c), c0);
    f->hooks.fail_kind_err = DX_OK;
    dx_item *got = get(f, "u4", DX_OK);
    assert_non_null(got);
    dx_item_free(got);
    dx_item_free(it);
}

static void test_skip_hooks(void **state) {
    fx *f = *state;
    dx_result r;
    dx_result_clear(&r);
    dx_item *it = user(f, "u5", "a@b.c");
    static const struct {
        bool model_skip;
        dx_tristate call;
        int runs; /* before_save + after_save */
    } rows[] = {
        {false, DX_DEFAULT, 2}, {false, DX_YES, 0}, {false, DX_NO, 2},
        {true, DX_DEFAULT, 0},  {true, DX_YES, 0},  {true, DX_NO, 2},
    };
    for (size_t i = 0; i < N_(rows); i++) {
        print_message("[%zu] model skip_hooks=%d, call skip_hooks=%d\n", i, rows[i].model_skip,
                      (int)rows[i].call);
        memset(&f->hooks.n, 0, sizeof f->hooks.n);
        dx_model_set_skip_hooks(f->m, rows[i].model_skip);
        dx_op_opts o = {.skip_hooks = rows[i].call};
        assert_int_equal(dx_item_save(it, &o, &r), DX_OK);
        assert_int_equal(total_hooks(&f->hooks), rows[i].runs);
        /* get and its after_load follow the same rule */
        memset(&f->hooks.n, 0, sizeof f->hooks.n);
        dx_member km = {"user_id", 7, dx_vs("u5")};
        dx_value key = dx_vmap(&km, 1);
        dx_item *got = NULL;
        assert_int_equal(dx_model_get(f->m, &key, &o, &got, &r), DX_OK);
        assert_int_equal(f->hooks.n[DX_HOOK_AFTER_LOAD], rows[i].runs / 2);
        dx_item_free(got);
    }
    dx_model_set_skip_hooks(f->m, false);

    /* A model whose config says skip_hooks, from a model file. */
    static const char js[] = "{\"name\": \"S\", \"config\": {\"table\": \"users\", \"skip_hooks\": true},"
                             " \"attributes\": {\"user_id\": {\"type\": \"string\", \"key\": \"hash\"},"
                             " \"n\": {\"type\": \"number\"}},"
                             " \"hooks\": {\"before_save\": [{\"builtin\": \"bump_version\", \"attr\": \"n\"}]}}";
    dx_model *m = NULL;
    assert_int_equal(dx_model_from_json(js, strlen(js), &m, &r), DX_OK);
    dx_model_set_client(m, f->c);
    dx_item *s = dx_item_new(m);
    assert_int_equal(dx_item_set_str(s, "user_id", "s1", &r), DX_OK);
    assert_int_equal(dx_item_save(s, NULL, &r), DX_OK);
    assert_null(dx_item_get(s, "n")); /* bump_version did not run */
    dx_op_opts on = {.skip_hooks = DX_NO};
    assert_int_equal(dx_item_save(s, &on, &r), DX_OK);
    assert_string_equal(dx_item_get(s, "n")->u.s, "1");
    dx_item_free(s);
    dx_model_free(m);
    dx_item_free(it);
}

static void test_consistent_read(void **state) {
    fx *f = *state;
    dx_result r;
    dx_result_clear(&r);
    dx_item *it = user(f, "u6", "a@b.c");
    assert_int_equal(dx_item_save(it, NULL, &r), DX_OK);
    dx_item_free(it);
    dx_member km = {"user_id", 7, dx_vs("u6")};
    dx_value key = dx_vmap(&km, 1);
    /* The memory backend charges a small read 1.0 unit when consistent, 0.5 when not. */
    static const struct {
        bool model;
        dx_tristate call;
        double units;
    } rows[] = {
        {false, DX_DEFAULT, 0.5}, {false, DX_YES, 1.0}, {false, DX_NO, 0.5},
        {true, DX_DEFAULT, 1.0},  {true, DX_YES, 1.0},  {true, DX_NO, 0.5},
    };
    for (size_t i = 0; i < N_(rows); i++) {
        print_message("[%zu] model consistent_read=%d, call=%d\n", i, rows[i].model,
                      (int)rows[i].call);
        dx_model_set_consistent_read(f->m, rows[i].model);
        dx_op_opts o = {.consistent_read = rows[i].call};
        double before = rcu(f->c);
        dx_item *got = NULL;
        assert_int_equal(dx_model_get(f->m, &key, &o, &got, &r), DX_OK);
        assert_non_null(got);
        dx_item_free(got);
        double used = rcu(f->c) - before;
        print_message("    consumed %.2f\n", used);
        assert_true(used > rows[i].units - 0.001 && used < rows[i].units + 0.001);
    }
    dx_model_set_consistent_read(f->m, false);
}

static void test_conditional(void **state) {
    fx *f = *state;
    dx_result r;
    dx_result_clear(&r);
    dx_item *it = user(f, "u7", "a@b.c");
    dx_member nm = {"#id", 3, dx_vs("user_id")};
    dx_value names = dx_vmap(&nm, 1);
    dx_op_opts create_only = {.condition = "attribute_not_exists(#id)", .names = &names};
    assert_int_equal(dx_item_save(it, &create_only, &r), DX_OK);
    memset(&f->hooks.n, 0, sizeof f->hooks.n);
    dx_result_clear(&r);
    assert_int_equal(dx_item_save(it, &create_only, &r), DX_ERR_CONDITIONAL);
    assert_int_equal(r.err, DX_ERR_CONDITIONAL);
    print_message("%s\n", r.message);
    assert_int_equal(f->hooks.n[DX_HOOK_BEFORE_SAVE], 1);
    assert_int_equal(f->hooks.n[DX_HOOK_AFTER_SAVE], 0); /* the write did not happen */

    /* Conditions with values on update: caller placeholders next to generated ones. */
    dx_member vm = {":e", 2, dx_vs("a@b.c")};
    dx_value values = dx_vmap(&vm, 1);
    dx_member fld = {"score", 5, dx_vn("5")};
    dx_op_opts o = {.condition = "email = :e", .values = &values};
    assert_int_equal(dx_item_update(it, &fld, 1, &o, &r), DX_OK);
    vm.value = dx_vs("other");
    dx_result_clear(&r);
    assert_int_equal(dx_item_update(it, &fld, 1, &o, &r), DX_ERR_CONDITIONAL);
    /* A caller placeholder named like a generated one is refused. */
    dx_member clash = {":v0", 3, dx_vs("x")};
    dx_value cv = dx_vmap(&clash, 1);
    dx_op_opts oc = {.condition = "email = :v0", .values = &cv};
    dx_result_clear(&r);
    assert_int_equal(dx_item_update(it, &fld, 1, &oc, &r), DX_ERR_INVALID_ARG);
    assert_contains(r.message, "':v0' clashes");
    /* delete_by_key with a condition */
    dx_member km = {"user_id", 7, dx_vs("u7")};
    dx_value key = dx_vmap(&km, 1);
    vm.value = dx_vs("nobody@b.c");
    dx_op_opts od = {.condition = "email = :e", .values = &values};
    dx_result_clear(&r);
    assert_int_equal(dx_delete_by_key(f->m, &key, &od, &r), DX_ERR_CONDITIONAL);
    dx_item_free(it);
}

static void test_item_too_large(void **state) {
    fx *f = *state;
    dx_result r;
    dx_result_clear(&r);
    dx_item *it = user(f, "big", "a@b.c");
    size_t n = DX_MAX_ITEM_SIZE;
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = 0;
    assert_int_equal(dx_item_set_str(it, "prefs", "{}", &r), DX_OK);
    dx_value v = dx_vsn(s, n);
    dx_member mm = {"blob", 4, v};
    dx_value meta = dx_vmap(&mm, 1);
    assert_int_equal(dx_item_set(it, "meta", &meta, &r), DX_OK);
    size_t bytes = dx_item_bytes(it);
    uint64_t c0 = calls(f->c);
    memset(&f->hooks.n, 0, sizeof f->hooks.n);
    assert_int_equal(dx_item_save(it, NULL, &r), DX_ERR_ITEM_TOO_LARGE);
    assert_int_equal(calls(f->c), c0); /* no backend call at all */
    assert_int_equal(f->hooks.n[DX_HOOK_AFTER_SAVE], 0);
    char want[160];
    snprintf(want, sizeof want, "item is %zu bytes, over the limit of 409600 bytes (DynamoDB's 400 KB)",
             bytes);
    assert_string_equal(r.message, want);
    assert_string_equal(r.field, "big");

    /* Also through update: the item as it would be after the update is checked. */
    dx_item *small = user(f, "big2", "a@b.c");
    assert_int_equal(dx_item_save(small, NULL, &r), DX_OK);
    c0 = calls(f->c);
    dx_member fld = {"meta", 4, meta};
    dx_result_clear(&r);
    assert_int_equal(dx_item_update(small, &fld, 1, NULL, &r), DX_ERR_ITEM_TOO_LARGE);
    assert_int_equal(calls(f->c), c0);
    assert_null(dx_item_get(small, "meta")); /* restored */

    /* The model's max_size, below DynamoDB's limit. */
    dx_model_set_max_size(f->m, 100);
    assert_int_equal(dx_item_set_str(small, "name_not_in_model", "x", &r), DX_ERR_VALIDATION);
    dx_value items[] = {dx_vsn(s, 200)};
    dx_value l = dx_vlist(items, 1);
    assert_int_equal(dx_item_set(small, "items", &l, &r), DX_OK);
    dx_result_clear(&r);
    assert_int_equal(dx_item_save(small, NULL, &r), DX_ERR_ITEM_TOO_LARGE);
    assert_contains(r.message, "over the limit of 100 bytes (the model's max_size)");
    assert_int_equal(calls(f->c), c0);
    /* put_req refuses it too. */
    dx_arena a = {0};
    dx_req req;
    assert_int_equal(dx_item_put_req(small, &a, &req, &r), DX_ERR_ITEM_TOO_LARGE);
    dx_arena_release(&a);
    dx_model_set_max_size(f->m, 0);
    dx_item_free(small);
    dx_item_free(it);
    free(s);
}

static void test_hook_error_stops(void **state) {
    fx *f = *state;
    dx_result r;
    dx_result_clear(&r);
    dx_item *it = user(f, "u8", "a@b.c");
    f->hooks.fail_kind = DX_HOOK_BEFORE_SAVE;
    f->hooks.fail_kind_err = DX_ERR_VALIDATION;
    uint64_t c0 = calls(f->c);
    assert_int_equal(dx_item_save(it, NULL, &r), DX_ERR_VALIDATION);
    assert_string_equal(r.message, "hook refused: before_save");
    assert_string_equal(r.field, "email");
    assert_int_equal(calls(f->c), c0);
    assert_null(get(f, "u8", DX_OK));
    /* Skipped hooks cannot stop it. */
    dx_op_opts skip = {.skip_hooks = DX_YES};
    assert_int_equal(dx_item_save(it, &skip, &r), DX_OK);
    /* A failing before_update hook leaves the local item unchanged. */
    f->hooks.fail_kind = DX_HOOK_BEFORE_UPDATE;
    dx_member fld = {"score", 5, dx_vn("3")};
    dx_result_clear(&r);
    assert_int_equal(dx_item_update(it, &fld, 1, NULL, &r), DX_ERR_VALIDATION);
    assert_null(dx_item_get(it, "score"));
    /* An after_load error is returned, with no item. */
    f->hooks.fail_kind = DX_HOOK_AFTER_LOAD;
    dx_item *got = get(f, "u8", DX_ERR_VALIDATION);
    assert_null(got);
    f->hooks.fail_kind_err = DX_OK;
    /* Validation before the call: a required field missing. */
    dx_item *bad = user(f, "u9", NULL);
    dx_result_clear(&r);
    assert_int_equal(dx_item_save(bad, NULL, &r), DX_ERR_VALIDATION);
    assert_string_equal(r.field, "email");
    assert_int_equal(calls(f->c), c0 + 3); /* get, the skipped-hooks save, get: nothing else */
    dx_item_free(bad);
    dx_item_free(it);
}

/* A save that fails leaves the local item as it was before its before_save hooks. */
static void test_failed_save_undoes_hooks(void **state) {
    fx *f = *state;
    dx_result r;
    dx_result_clear(&r);
    static const char js[] = "{\"name\": \"V\", \"config\": {\"table\": \"users\"},"
                             " \"attributes\": {\"user_id\": {\"type\": \"string\", \"key\": \"hash\"},"
                             " \"v\": {\"type\": \"number\"}, \"at\": {\"type\": \"datetime\"}},"
                             " \"hooks\": {\"before_save\": [{\"builtin\": \"bump_version\", \"attr\": \"v\"},"
                             " {\"builtin\": \"set_now\", \"attr\": \"at\"}]}}";
    dx_model *m = NULL;
    assert_int_equal(dx_model_from_json(js, strlen(js), &m, &r), DX_OK);
    dx_model_set_client(m, f->c);
    dx_item *it = dx_item_new(m);
    assert_int_equal(dx_item_set_str(it, "user_id", "v1", &r), DX_OK);
    dx_member nm = {"#id", 3, dx_vs("user_id")};
    dx_value names = dx_vmap(&nm, 1);
    dx_op_opts create_only = {.condition = "attribute_not_exists(#id)", .names = &names};
    assert_int_equal(dx_item_save(it, &create_only, &r), DX_OK);
    assert_string_equal(dx_item_get(it, "v")->u.s, "1");
    const dx_value *at = dx_item_get(it, "at");
    assert_non_null(at);
    char at1[64];
    snprintf(at1, sizeof at1, "%.*s", (int)at->n, at->u.s);
    for (int i = 0; i < 2; i++) { /* failing twice changes nothing */
        dx_result_clear(&r);
        assert_int_equal(dx_item_save(it, &create_only, &r), DX_ERR_CONDITIONAL);
        assert_string_equal(dx_item_get(it, "v")->u.s, "1");
        at = dx_item_get(it, "at");
        assert_int_equal(at->n, strlen(at1));
        assert_memory_equal(at->u.s, at1, at->n);
    }
    /* The retried save bumps once, from what the table holds. */
    assert_int_equal(dx_item_save(it, NULL, &r), DX_OK);
    assert_string_equal(dx_item_get(it, "v")->u.s, "2");
    dx_member km = {"user_id", 7, dx_vs("v1")};
    dx_value key = dx_vmap(&km, 1);
    dx_item *got = NULL;
    assert_int_equal(dx_model_get(m, &key, NULL, &got, &r), DX_OK);
    assert_non_null(got);
    assert_string_equal(dx_item_get(got, "v")->u.s, "2");
    dx_item_free(got);
    dx_item_free(it);
    dx_model_free(m);
}

static void test_req_builders(void **state) {
    fx *f = *state;
    dx_result r;
    dx_result_clear(&r);
    dx_arena a = {0};
    dx_item *it = user(f, "u10", "a@b.c");
    dx_call call;
    memset(&call, 0, sizeof call);
    call.arena = &a;
    assert_int_equal(dx_item_put_req(it, &a, &call.req, &r), DX_OK);
    assert_int_equal(call.req.op, DX_OP_PUT);
    assert_string_equal(call.req.table, "users");
    assert_ptr_not_equal(call.req.item, dx_item_value(it)); /* a copy in a */
    assert_true(dx_value_equal(call.req.item, dx_item_value(it)));
    dx_item_free(it); /* the request no longer needs the item */
    int h = total_hooks(&f->hooks);
    assert_int_equal(dx_client_call(f->c, &call), DX_OK);
    assert_int_equal(total_hooks(&f->hooks), h);

    dx_member km = {"user_id", 7, dx_vs("u10")};
    dx_value key = dx_vmap(&km, 1);
    dx_member fields[] = {{"score", 5, dx_vn("2.50")}, {"age", 3, {DX_T_NONE, 0, {.s = NULL}}}};
    dx_member vm = {":e", 2, dx_vs("a@b.c")};
    dx_value values = dx_vmap(&vm, 1);
    memset(&call, 0, sizeof call);
    call.arena = &a;
    assert_int_equal(dx_update_req(f->m, &key, fields, 2, "email = :e", NULL, &values, &a,
                                   &call.req, &r),
                     DX_OK);
    assert_int_equal(call.req.op, DX_OP_UPDATE);
    print_message("update: %s\n", call.req.update);
    assert_contains(call.req.update, "SET ");
    assert_contains(call.req.update, "REMOVE ");
    assert_string_equal(call.req.condition, "email = :e");
    assert_non_null(dx_map_get(call.req.values, ":e"));
    assert_int_equal(call.req.names->type, DX_T_M);
    assert_int_equal(dx_client_call(f->c, &call), DX_OK);
    dx_item *got = get(f, "u10", DX_OK);
    assert_string_equal(dx_item_get(got, "score")->u.s, "2.5");
    assert_null(dx_item_get(got, "age"));
    dx_item_free(got);
    dx_arena_release(&a);
}

static void test_throughput(void **state) {
    (void)state;
    /* A tiny provisioned table on a memory backend that simulates capacity, no retries. */
    dx_mem_opts mo = {.simulate_capacity = true};
    dx_client_opts co = {.retry = {.max_attempts = 1}};
    dx_client *c = NULL;
    assert_int_equal(dx_mem_client_new(&mo, &co, &c), DX_OK);
    dx_model *m = all_model("tiny");
    dx_model_set_client(m, c);
    dx_table_def def;
    dx_model_table_def(m, &def);
    def.rcu = def.wcu = 1;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_create_table(c, &def, &r), DX_OK);
    dx_err e = DX_OK;
    int i;
    for (i = 0; i < 50 && e == DX_OK; i++) {
        dx_item *it = dx_item_new(m);
        char id[16];
        snprintf(id, sizeof id, "t%d", i);
        assert_int_equal(dx_item_set_str(it, "user_id", id, &r), DX_OK);
        assert_int_equal(dx_item_set_str(it, "email", "e", &r), DX_OK);
        dx_result_clear(&r);
        e = dx_item_save(it, NULL, &r);
        dx_item_free(it);
    }
    print_message("throttled after %d saves: %s\n", i, r.message);
    assert_int_equal(e, DX_ERR_THROUGHPUT);
    assert_int_equal(r.err, DX_ERR_THROUGHPUT);
    dx_model_free(m);
    dx_client_free(c);
}

static void test_default_client_calls(void **state) {
    fx *f = *state;
    dx_result r;
    dx_result_clear(&r);
    dx_model_set_client(f->m, NULL);
    dx_set_default_client(f->c);
    dx_item *it = user(f, "d1", "a@b.c");
    assert_int_equal(dx_item_save(it, NULL, &r), DX_OK);
    dx_set_default_client(NULL);
    dx_result_clear(&r);
    assert_int_equal(dx_item_save(it, NULL, &r), DX_ERR_CONFIG);
    assert_string_equal(r.message, "model User has no client and no default client is set (use "
                                   "dx_model_set_client or dx_set_default_client)");
    dx_model_set_client(f->m, f->c);
    dx_item_free(it);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_defaults_generators),
        cmocka_unit_test(test_ulid),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_set_get),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_validate_key_size),
        cmocka_unit_test(test_from_dict_round_trip),
        cmocka_unit_test(test_from_dict_errors),
        cmocka_unit_test(test_from_stored),
        cmocka_unit_test_setup_teardown(test_save_replaces, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_get_missing_and_no_table, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_update, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_by_key_one_call_no_hooks, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_with_hooks, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_skip_hooks, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_consistent_read, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_conditional, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_item_too_large, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_hook_error_stops, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_failed_save_undoes_hooks, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_req_builders, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_default_client_calls, fx_setup, fx_teardown),
        cmocka_unit_test(test_throughput),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
