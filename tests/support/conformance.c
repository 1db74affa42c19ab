/*
 * conformance.c - the backend conformance suite (see conformance.h).
 *
 * Written only against the public client API so that it runs unchanged on
 * every backend. Requests and expected items are written as DynamoDB JSON
 * and decoded with dx_decode_item; items are compared with dx_value_equal
 * (numbers numerically, sets and maps in any order), and where the exact
 * text matters (canonical numbers) the text is compared.
 *
 * Must never: depend on the order of Scan results or of BatchGetItem
 * results (they differ between backends), on timing, or on features only
 * the memory backend has.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"
#include "dynox/dynox.h"
#include "testutil.h"

/* ---------------------------------------------------------------- fixture */

#define MAX_TABLES 16

static dx_client *(*g_make)(void);
static dx_client *g_c;
static dx_arena g_a;
static unsigned g_counter;
static char *g_tables[MAX_TABLES];
static size_t g_ntables;

static int group_setup(void **state) {
    (void)state;
    g_c = g_make();
    return g_c ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    dx_client_free(g_c);
    g_c = NULL;
    dx_arena_release(&g_a);
    return 0;
}

static int test_setup(void **state) {
    (void)state;
    dx_arena_reset(&g_a);
    g_ntables = 0;
    return 0;
}

static int test_teardown(void **state) {
    (void)state;
    for (size_t i = 0; i < g_ntables; i++) {
        dx_result r;
        dx_result_clear(&r);
        dx_delete_table(g_c, g_tables[i], &r); /* may be gone already */
        free(g_tables[i]);
    }
    g_ntables = 0;
    return 0;
}

/* ---------------------------------------------------------------- helpers */

/* Decodes DynamoDB JSON (an item) into the test arena; printf-style. */
static dx_value *J(const char *fmt, ...) DX_PRINTF(1, 2);
static dx_value *J(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *json = NULL;
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    json = dx_arena_alloc(&g_a, (size_t)n + 1);
    assert_non_null(json);
    va_start(ap, fmt);
    vsnprintf(json, (size_t)n + 1, fmt, ap);
    va_end(ap);
    dx_value *v = dx_arena_alloc(&g_a, sizeof *v);
    assert_non_null(v);
    dx_result r;
    dx_result_clear(&r);
    if (dx_decode_item(&g_a, json, (size_t)n, v, &r) != DX_OK) {
        print_error("test JSON does not decode: %s\n  %s\n", r.message, json);
        fail();
    }
    return v;
}

static const char *show(const dx_value *v) {
    if (!v) return "(none)";
    dx_buf b = {0};
    if (dx_encode_item(&b, v) != DX_OK) {
        dx_buf_free(&b);
        return "(not encodable)";
    }
    char *s = dx_arena_strndup(&g_a, b.ptr, b.len);
    dx_buf_free(&b);
    return s ? s : "(oom)";
}

static void assert_item_eq_(const dx_value *got, const dx_value *want, const char *where, int line) {
    if (!got || !want || !dx_value_equal(got, want)) {
        print_error("line %d (%s):\n  got  %s\n  want %s\n", line, where, show(got), show(want));
        fail();
    }
}
#define assert_item_eq(got, want, where) assert_item_eq_((got), (want), (where), __LINE__)

/* Runs a call synchronously with the test arena. */
static dx_err run(dx_call *c) {
    if (!c->arena) c->arena = &g_a;
    return dx_client_call(g_c, c);
}

static void expect_ok_(dx_call *c, const char *what, int line) {
    dx_err e = run(c);
    if (e != DX_OK) {
        print_error("line %d (%s): %s failed: %s [%s] %s\n", line, what, dx_op_name(c->req.op),
                    dx_err_name(e), c->res.type, c->res.message);
        fail();
    }
}
#define expect_ok(c, what) expect_ok_((c), (what), __LINE__)

static void expect_err_(dx_call *c, dx_err want, const char *type, const char *what, int line) {
    dx_err e = run(c);
    if (e != want || strcmp(c->res.type, type) != 0) {
        print_error("line %d (%s): %s gave %s [%s] \"%s\", expected %s [%s]\n", line, what,
                    dx_op_name(c->req.op), dx_err_name(e), c->res.type, c->res.message,
                    dx_err_name(want), type);
        fail();
    }
}
#define expect_err(c, want, type, what) expect_err_((c), (want), (type), (what), __LINE__)
#define expect_validation(c, what) expect_err((c), DX_ERR_VALIDATION, "ValidationException", (what))

/* Creates a table with a unique name, waits until it is ACTIVE, and registers
 * it for deletion after the test. */
static const char *make_table_cap(const char *tag, const char *hash, dx_type ht, const char *range,
                                  dx_type rt, double rcu, double wcu) {
    assert_true(g_ntables < MAX_TABLES);
    char name[128];
    snprintf(name, sizeof name, "dynox_cf_%ld_%u_%s", (long)getpid(), ++g_counter, tag);
    char *copy = strdup(name);
    assert_non_null(copy);
    g_tables[g_ntables++] = copy;
    dx_table_def def = {.name = copy, .key = {hash, ht, range, rt}, .rcu = rcu, .wcu = wcu};
    dx_result r;
    dx_result_clear(&r);
    if (dx_create_table(g_c, &def, &r) != DX_OK) {
        print_error("create table %s: %s [%s] %s\n", copy, dx_err_name(r.err), r.type, r.message);
        fail();
    }
    if (dx_wait_table_active(g_c, copy, 10000, NULL, NULL, &r) != DX_OK) {
        print_error("table %s never became ACTIVE: %s\n", copy, r.message);
        fail();
    }
    return copy;
}

static const char *make_table(const char *tag, const char *hash, dx_type ht, const char *range,
                              dx_type rt) {
    return make_table_cap(tag, hash, ht, range, rt, 0, 0);
}

static void put(const char *table, const dx_value *item) {
    dx_call c = {.req = {.op = DX_OP_PUT, .table = table, .item = item}};
    expect_ok(&c, show(item));
}

/* The item with this key (NULL when absent), read consistently. */
static dx_value *get(const char *table, const dx_value *key) {
    dx_call c = {.req = {.op = DX_OP_GET, .table = table, .key = key, .consistent = true}};
    expect_ok(&c, show(key));
    return c.resp.item;
}

static bool num_text_is(const dx_value *v, const char *text) {
    return v && v->type == DX_T_N && v->n == strlen(text) && memcmp(v->u.s, text, v->n) == 0;
}

static bool set_has_text(const dx_value *set, const char *text) {
    for (uint32_t i = 0; set && i < set->n; i++)
        if (set->u.elems[i].n == strlen(text) && memcmp(set->u.elems[i].u.s, text, set->u.elems[i].n) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------- tables */

static void test_table_lifecycle(void **state) {
    (void)state;
    dx_result r;
    dx_arena a = {0};
    dx_table_desc d;
    const char *t = make_table("life", "id", DX_T_S, NULL, DX_T_NONE);
    assert_int_equal(dx_describe_table(g_c, t, &a, &d, &r), DX_OK);
    assert_string_equal(d.name, t);
    assert_string_equal(d.key.hash, "id");
    assert_int_equal(d.key.hash_type, DX_T_S);
    assert_null(d.key.range);
    assert_string_equal(d.status, "ACTIVE");
    assert_true(d.on_demand);
    assert_int_equal(d.item_count, 0);

    /* Creating it again is an error. */
    dx_table_def def = {.name = t, .key = {"id", DX_T_S, NULL, DX_T_NONE}};
    assert_int_equal(dx_create_table(g_c, &def, &r), DX_ERR_RESOURCE_IN_USE);
    assert_string_equal(r.type, "ResourceInUseException");

    /* Provisioned, with a sort key. */
    const char *p = make_table_cap("prov", "pk", DX_T_N, "sk", DX_T_B, 5, 3);
    assert_int_equal(dx_describe_table(g_c, p, &a, &d, &r), DX_OK);
    assert_false(d.on_demand);
    assert_true(d.rcu == 5 && d.wcu == 3);
    assert_string_equal(d.key.hash, "pk");
    assert_int_equal(d.key.hash_type, DX_T_N);
    assert_string_equal(d.key.range, "sk");
    assert_int_equal(d.key.range_type, DX_T_B);

    /* Delete: gone for describe, items and a second delete. */
    assert_int_equal(dx_delete_table(g_c, t, &r), DX_OK);
    dx_err e = DX_OK;
    for (int i = 0; i < 200 && e == DX_OK; i++) { /* a server may show DELETING for a while */
        e = dx_describe_table(g_c, t, &a, &d, &r);
        if (e == DX_OK) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    assert_int_equal(e, DX_ERR_RESOURCE_NOT_FOUND);
    assert_string_equal(r.type, "ResourceNotFoundException");
    dx_call c = {.req = {.op = DX_OP_PUT, .table = t, .item = J("{\"id\":{\"S\":\"a\"}}")}};
    expect_err(&c, DX_ERR_RESOURCE_NOT_FOUND, "ResourceNotFoundException", "put to a deleted table");
    dx_call g = {.req = {.op = DX_OP_GET, .table = "dynox_cf_never_created", .key = J("{\"id\":{\"S\":\"a\"}}")}};
    expect_err(&g, DX_ERR_RESOURCE_NOT_FOUND, "ResourceNotFoundException", "get from a missing table");
    assert_int_equal(dx_delete_table(g_c, t, &r), DX_ERR_RESOURCE_NOT_FOUND);
    assert_int_equal(dx_describe_table(g_c, "dynox_cf_never_created", &a, &d, &r),
                     DX_ERR_RESOURCE_NOT_FOUND);

    /* Bad definitions. */
    dx_table_def bad[] = {
        {.name = "ab", .key = {"id", DX_T_S, NULL, DX_T_NONE}},
        {.name = "dynox_cf_bad", .key = {"id", DX_T_S, "id", DX_T_S}},
        {.name = "dynox_cf_bad", .key = {"id", DX_T_S, NULL, DX_T_NONE}, .rcu = 5},
        {.name = "dynox cf bad", .key = {"id", DX_T_S, NULL, DX_T_NONE}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dx_err be = dx_create_table(g_c, &bad[i], &r);
        assert_row_int_equal(i, be, DX_ERR_VALIDATION);
        assert_row_string_equal(i, r.type, "ValidationException");
    }
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- items */

static void test_put_get_delete(void **state) {
    (void)state;
    const char *t = make_table("crud", "id", DX_T_S, NULL, DX_T_NONE);
    dx_value *key = J("{\"id\":{\"S\":\"a\"}}");
    assert_null(get(t, key)); /* absent is not an error */
    dx_value *item = J("{\"id\":{\"S\":\"a\"},\"x\":{\"N\":\"1\"},\"y\":{\"S\":\"why\"}}");
    put(t, item);
    assert_item_eq(get(t, key), item, "get after put");

    /* An eventually consistent read works too. */
    dx_call g = {.req = {.op = DX_OP_GET, .table = t, .key = key}};
    expect_ok(&g, "eventual get");

    /* Put replaces the whole item. */
    put(t, J("{\"id\":{\"S\":\"a\"},\"z\":{\"BOOL\":true}}"));
    assert_item_eq(get(t, key), J("{\"id\":{\"S\":\"a\"},\"z\":{\"BOOL\":true}}"), "replaced");

    /* ProjectionExpression. */
    put(t, item);
    dx_call p = {.req = {.op = DX_OP_GET, .table = t, .key = key, .consistent = true,
                         .projection = "#y, id", .names = J("{\"#y\":{\"S\":\"y\"}}")}};
    expect_ok(&p, "projection");
    assert_item_eq(p.resp.item, J("{\"id\":{\"S\":\"a\"},\"y\":{\"S\":\"why\"}}"), "projection");

    /* Delete, with ALL_OLD, then of a missing item. */
    dx_call d = {.req = {.op = DX_OP_DELETE, .table = t, .key = key, .ret = DX_RET_ALL_OLD}};
    expect_ok(&d, "delete");
    assert_item_eq(d.resp.item, item, "delete ALL_OLD");
    assert_null(get(t, key));
    dx_call d2 = {.req = {.op = DX_OP_DELETE, .table = t, .key = key, .ret = DX_RET_ALL_OLD}};
    expect_ok(&d2, "delete missing");
    assert_null(d2.resp.item);

    /* Put with ALL_OLD returns nothing for a new item, the old one otherwise. */
    dx_call p1 = {.req = {.op = DX_OP_PUT, .table = t, .item = item, .ret = DX_RET_ALL_OLD}};
    expect_ok(&p1, "put new ALL_OLD");
    assert_null(p1.resp.item);
    dx_call p2 = {.req = {.op = DX_OP_PUT, .table = t, .item = J("{\"id\":{\"S\":\"a\"}}"),
                          .ret = DX_RET_ALL_OLD}};
    expect_ok(&p2, "put again ALL_OLD");
    assert_item_eq(p2.resp.item, item, "put ALL_OLD");
}

static void test_types_round_trip(void **state) {
    (void)state;
    const char *t = make_table("types", "id", DX_T_S, NULL, DX_T_NONE);
    static const unsigned char bin[] = {0, 1, 2, 0xfe, 0xff};
    dx_value ns[] = {dx_vn("3"), dx_vn("1.0"), dx_vn("-2.50")};
    dx_value ss[] = {dx_vs("x"), dx_vs("y")};
    dx_value bs[] = {dx_vb(bin, 2), dx_vb(bin + 2, 3)};
    dx_value inner_l[] = {dx_vn("1"), dx_vs("two"), dx_vnull()};
    dx_member inner_m[] = {{"k", 1, dx_vn("0.0100")}, {"deep", 4, dx_vlist(inner_l, 3)}};
    dx_member m[] = {
        {"id", 2, dx_vs("types")},
        {"s", 1, dx_vs("h\xc3\xa9llo \"quoted\"\n")},
        {"empty", 5, dx_vs("")},
        {"n", 1, dx_vn("1.50")},
        {"e", 1, dx_vn("1e3")},
        {"neg", 3, dx_vn("-0.5")},
        {"big", 3, dx_vn("12345678901234567890123456789012345678")},
        {"b", 1, dx_vb(bin, sizeof bin)},
        {"t", 1, dx_vbool(true)},
        {"f", 1, dx_vbool(false)},
        {"z", 1, dx_vnull()},
        {"l", 1, dx_vlist(inner_l, 3)},
        {"m", 1, dx_vmap(inner_m, 2)},
        {"ss", 2, dx_vset(DX_T_SS, ss, 2)},
        {"ns", 2, dx_vset(DX_T_NS, ns, 3)},
        {"bs", 2, dx_vset(DX_T_BS, bs, 2)},
    };
    dx_value item = dx_vmap(m, sizeof m / sizeof m[0]);
    put(t, &item);
    dx_value *got = get(t, J("{\"id\":{\"S\":\"types\"}}"));
    assert_item_eq(got, &item, "all types");
    /* Numbers come back canonical. */
    assert_true(num_text_is(dx_map_get(got, "n"), "1.5"));
    assert_true(num_text_is(dx_map_get(got, "e"), "1000"));
    assert_true(num_text_is(dx_map_get(got, "neg"), "-0.5"));
    assert_true(num_text_is(dx_map_get(got, "big"), "12345678901234567890123456789012345678"));
    assert_true(num_text_is(dx_map_get(dx_map_get(got, "m"), "k"), "0.01"));
    const dx_value *gns = dx_map_get(got, "ns");
    assert_non_null(gns);
    assert_int_equal(gns->n, 3);
    assert_true(set_has_text(gns, "3") && set_has_text(gns, "1") && set_has_text(gns, "-2.5"));
    const dx_value *gb = dx_map_get(got, "b");
    assert_non_null(gb);
    assert_int_equal(gb->n, sizeof bin);
    assert_memory_equal(gb->u.s, bin, sizeof bin);
}

static void test_key_schemas(void **state) {
    (void)state;
    /* Binary partition key. */
    const char *tb = make_table("bkey", "k", DX_T_B, NULL, DX_T_NONE);
    put(tb, J("{\"k\":{\"B\":\"AAEC\"},\"v\":{\"S\":\"bin\"}}"));
    assert_item_eq(get(tb, J("{\"k\":{\"B\":\"AAEC\"}}")),
                   J("{\"k\":{\"B\":\"AAEC\"},\"v\":{\"S\":\"bin\"}}"), "binary key");
    assert_null(get(tb, J("{\"k\":{\"B\":\"AAED\"}}")));

    /* Number partition key with a binary sort key: "1.0" and "1" are one key. */
    const char *tn = make_table("nkey", "n", DX_T_N, "r", DX_T_B);
    dx_member m[] = {{"n", 1, dx_vn("1.0")}, {"r", 1, dx_vb("\x01", 1)}, {"v", 1, dx_vs("one")}};
    dx_value item = dx_vmap(m, 3);
    put(tn, &item);
    dx_value *got = get(tn, J("{\"n\":{\"N\":\"1\"},\"r\":{\"B\":\"AQ==\"}}"));
    assert_non_null(got);
    assert_true(num_text_is(dx_map_get(got, "n"), "1"));
    dx_member k2[] = {{"n", 1, dx_vn("10E-1")}, {"r", 1, dx_vb("\x01", 1)}};
    dx_value key2 = dx_vmap(k2, 2);
    assert_non_null(get(tn, &key2));
    assert_null(get(tn, J("{\"n\":{\"N\":\"1\"},\"r\":{\"B\":\"Ag==\"}}")));
}

/* ---------------------------------------------------------------- conditions */

static void test_conditions(void **state) {
    (void)state;
    const char *t = make_table("cond", "id", DX_T_S, NULL, DX_T_NONE);
    dx_value *first = J("{\"id\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}");

    /* Insert-only. */
    dx_call c1 = {.req = {.op = DX_OP_PUT, .table = t, .item = first, .condition = "attribute_not_exists(id)"}};
    expect_ok(&c1, "insert-only, new");
    dx_call c2 = {.req = {.op = DX_OP_PUT, .table = t, .item = J("{\"id\":{\"S\":\"a\"}}"),
                          .condition = "attribute_not_exists(id)"}};
    expect_err(&c2, DX_ERR_CONDITIONAL, "ConditionalCheckFailedException", "insert-only, exists");
    assert_string_equal(c2.res.message, "The conditional request failed");
    assert_item_eq(get(t, J("{\"id\":{\"S\":\"a\"}}")), first, "unchanged after failed put");

    dx_value *item = J("{\"id\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"},\"s\":{\"S\":\"hello\"},"
                       "\"l\":{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"}]},\"tags\":{\"SS\":[\"x\",\"y\"]}}");
    put(t, item);

    static const struct {
        const char *cond, *names, *values;
        bool ok;
    } rows[] = {
        {"attribute_exists(s)", NULL, NULL, true},
        {"attribute_not_exists(s)", NULL, NULL, false},
        {"attribute_exists(#nope)", "{\"#nope\":{\"S\":\"nope\"}}", NULL, false},
        {"n = :v", NULL, "{\":v\":{\"N\":\"2.0\"}}", true},
        {"n <> :v", NULL, "{\":v\":{\"N\":\"2\"}}", false},
        {"n < :v", NULL, "{\":v\":{\"N\":\"10\"}}", true},
        {"n <= :v", NULL, "{\":v\":{\"N\":\"1.99\"}}", false},
        {"n > :v", NULL, "{\":v\":{\"N\":\"-3\"}}", true},
        {"n >= :v", NULL, "{\":v\":{\"N\":\"2\"}}", true},
        {"s > :v", NULL, "{\":v\":{\"S\":\"hellp\"}}", false},
        {"n BETWEEN :a AND :b", NULL, "{\":a\":{\"N\":\"1\"},\":b\":{\"N\":\"3\"}}", true},
        {"n IN (:a, :b)", NULL, "{\":a\":{\"N\":\"1\"},\":b\":{\"N\":\"3\"}}", false},
        {"begins_with(s, :p)", NULL, "{\":p\":{\"S\":\"he\"}}", true},
        {"begins_with(s, :p)", NULL, "{\":p\":{\"S\":\"lo\"}}", false},
        {"contains(tags, :x)", NULL, "{\":x\":{\"S\":\"x\"}}", true},
        {"contains(s, :x)", NULL, "{\":x\":{\"S\":\"ell\"}}", true},
        {"contains(s, :x)", NULL, "{\":x\":{\"S\":\"zz\"}}", false},
        {"size(l) = :two", NULL, "{\":two\":{\"N\":\"2\"}}", true},
        {"size(s) > :two", NULL, "{\":two\":{\"N\":\"5\"}}", false},
        {"attribute_type(n, :t)", NULL, "{\":t\":{\"S\":\"N\"}}", true},
        {"attribute_type(n, :t)", NULL, "{\":t\":{\"S\":\"S\"}}", false},
        {"NOT (n = :v)", NULL, "{\":v\":{\"N\":\"2\"}}", false},
        {"n = :one OR (n < :three AND attribute_exists(l))", NULL,
         "{\":one\":{\"N\":\"1\"},\":three\":{\"N\":\"3\"}}", true},
        {"n = :one AND #s = :s", "{\"#s\":{\"S\":\"s\"}}", "{\":one\":{\"N\":\"2\"},\":s\":{\"S\":\"hello\"}}", true},
        {"l[1] = :two", NULL, "{\":two\":{\"N\":\"2\"}}", true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_call c = {.req = {.op = DX_OP_PUT, .table = t, .item = item, .condition = rows[i].cond,
                             .names = rows[i].names ? J("%s", rows[i].names) : NULL,
                             .values = rows[i].values ? J("%s", rows[i].values) : NULL}};
        dx_err e = run(&c);
        if (e != (rows[i].ok ? DX_OK : DX_ERR_CONDITIONAL))
            print_error("row %zu: %s -> %s %s\n", i, rows[i].cond, dx_err_name(e), c.res.message);
        assert_row_int_equal(i, e, rows[i].ok ? DX_OK : DX_ERR_CONDITIONAL);
    }

    /* Failing conditions leave the item as it was, for update and delete too. */
    dx_value *key = J("{\"id\":{\"S\":\"a\"}}");
    dx_call u = {.req = {.op = DX_OP_UPDATE, .table = t, .key = key, .update = "SET n = :v",
                         .condition = "n = :old", .values = J("{\":v\":{\"N\":\"9\"},\":old\":{\"N\":\"5\"}}")}};
    expect_err(&u, DX_ERR_CONDITIONAL, "ConditionalCheckFailedException", "update condition");
    dx_call d = {.req = {.op = DX_OP_DELETE, .table = t, .key = key, .condition = "attribute_not_exists(n)"}};
    expect_err(&d, DX_ERR_CONDITIONAL, "ConditionalCheckFailedException", "delete condition");
    assert_item_eq(get(t, key), item, "unchanged after failed update/delete");

    /* A condition on a missing item sees no attributes. */
    dx_call m = {.req = {.op = DX_OP_DELETE, .table = t, .key = J("{\"id\":{\"S\":\"missing\"}}"),
                         .condition = "attribute_exists(id)"}};
    expect_err(&m, DX_ERR_CONDITIONAL, "ConditionalCheckFailedException", "delete missing");
    dx_call ok = {.req = {.op = DX_OP_DELETE, .table = t, .key = key, .condition = "n = :v",
                          .values = J("{\":v\":{\"N\":\"2\"}}")}};
    expect_ok(&ok, "delete with a true condition");
    assert_null(get(t, key));
}

/* ---------------------------------------------------------------- updates */

static void test_update_expressions(void **state) {
    (void)state;
    const char *t = make_table("upd", "id", DX_T_S, NULL, DX_T_NONE);
    dx_value *key = J("{\"id\":{\"S\":\"u\"}}");
    put(t, J("{\"id\":{\"S\":\"u\"},\"n\":{\"N\":\"5\"},\"l\":{\"L\":[{\"S\":\"a\"}]},"
             "\"s\":{\"SS\":[\"a\",\"b\"]},\"gone\":{\"S\":\"x\"},\"m\":{\"M\":{\"k\":{\"N\":\"1\"}}}}"));

    static const struct {
        const char *update, *names, *values;
        dx_return ret;
        const char *want; /* the returned attributes; NULL: none */
    } steps[] = {
        {"SET n = n + :two", NULL, "{\":two\":{\"N\":\"2\"}}", DX_RET_UPDATED_NEW, "{\"n\":{\"N\":\"7\"}}"},
        {"SET n = n - :one", NULL, "{\":one\":{\"N\":\"1\"}}", DX_RET_UPDATED_OLD, "{\"n\":{\"N\":\"7\"}}"},
        {"REMOVE gone", NULL, NULL, DX_RET_UPDATED_OLD, "{\"gone\":{\"S\":\"x\"}}"},
        {"ADD cnt :one", NULL, "{\":one\":{\"N\":\"1\"}}", DX_RET_UPDATED_NEW, "{\"cnt\":{\"N\":\"1\"}}"},
        {"ADD cnt :one", NULL, "{\":one\":{\"N\":\"1.5\"}}", DX_RET_UPDATED_NEW, "{\"cnt\":{\"N\":\"2.5\"}}"},
        {"ADD s :c", NULL, "{\":c\":{\"SS\":[\"c\",\"a\"]}}", DX_RET_UPDATED_NEW,
         "{\"s\":{\"SS\":[\"a\",\"b\",\"c\"]}}"},
        {"DELETE s :ab", NULL, "{\":ab\":{\"SS\":[\"a\",\"b\"]}}", DX_RET_UPDATED_NEW, "{\"s\":{\"SS\":[\"c\"]}}"},
        {"SET l = list_append(l, :more)", NULL, "{\":more\":{\"L\":[{\"S\":\"b\"}]}}", DX_RET_UPDATED_NEW,
         "{\"l\":{\"L\":[{\"S\":\"a\"},{\"S\":\"b\"}]}}"},
        {"SET l = list_append(:front, l)", NULL, "{\":front\":{\"L\":[{\"S\":\"z\"}]}}", DX_RET_NONE, NULL},
        {"SET f = if_not_exists(f, :zero)", NULL, "{\":zero\":{\"N\":\"0\"}}", DX_RET_UPDATED_NEW,
         "{\"f\":{\"N\":\"0\"}}"},
        {"SET f = if_not_exists(f, :ten)", NULL, "{\":ten\":{\"N\":\"10\"}}", DX_RET_UPDATED_NEW,
         "{\"f\":{\"N\":\"0\"}}"},
        {"SET #m.k = :v, x = :x REMOVE l[0]", "{\"#m\":{\"S\":\"m\"}}",
         "{\":v\":{\"N\":\"2\"},\":x\":{\"BOOL\":false}}", DX_RET_NONE, NULL},
        /* UPDATED_* return only the paths written: m.j, not the whole of m. */
        {"SET m.j = :j", NULL, "{\":j\":{\"N\":\"3\"}}", DX_RET_UPDATED_NEW,
         "{\"m\":{\"M\":{\"j\":{\"N\":\"3\"}}}}"},
        {"SET m.j = :j", NULL, "{\":j\":{\"N\":\"4\"}}", DX_RET_UPDATED_OLD,
         "{\"m\":{\"M\":{\"j\":{\"N\":\"3\"}}}}"},
        {"SET n = :n", NULL, "{\":n\":{\"N\":\"6\"}}", DX_RET_ALL_OLD,
         "{\"id\":{\"S\":\"u\"},\"n\":{\"N\":\"6\"},\"l\":{\"L\":[{\"S\":\"a\"},{\"S\":\"b\"}]},"
         "\"s\":{\"SS\":[\"c\"]},\"m\":{\"M\":{\"k\":{\"N\":\"2\"},\"j\":{\"N\":\"4\"}}},"
         "\"cnt\":{\"N\":\"2.5\"},\"f\":{\"N\":\"0\"},\"x\":{\"BOOL\":false}}"},
        {"SET n = :n", NULL, "{\":n\":{\"N\":\"100\"}}", DX_RET_ALL_NEW,
         "{\"id\":{\"S\":\"u\"},\"n\":{\"N\":\"100\"},\"l\":{\"L\":[{\"S\":\"a\"},{\"S\":\"b\"}]},"
         "\"s\":{\"SS\":[\"c\"]},\"m\":{\"M\":{\"k\":{\"N\":\"2\"},\"j\":{\"N\":\"4\"}}},"
         "\"cnt\":{\"N\":\"2.5\"},\"f\":{\"N\":\"0\"},\"x\":{\"BOOL\":false}}"},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        dx_call c = {.req = {.op = DX_OP_UPDATE, .table = t, .key = key, .update = steps[i].update,
                             .names = steps[i].names ? J("%s", steps[i].names) : NULL,
                             .values = steps[i].values ? J("%s", steps[i].values) : NULL,
                             .ret = steps[i].ret}};
        dx_err e = run(&c);
        if (e != DX_OK) print_error("step %zu: %s: %s\n", i, steps[i].update, c.res.message);
        assert_row_int_equal(i, e, DX_OK);
        if (steps[i].want) {
            if (!c.resp.item || !dx_value_equal(c.resp.item, J("%s", steps[i].want)))
                print_error("step %zu: %s returned %s, expected %s\n", i, steps[i].update,
                            show(c.resp.item), steps[i].want);
            assert_row_true(i, c.resp.item && dx_value_equal(c.resp.item, J("%s", steps[i].want)));
        } else if (steps[i].ret == DX_RET_NONE) {
            assert_row_true(i, c.resp.item == NULL);
        }
    }

    /* Updating a missing item creates it from the key. */
    dx_call c = {.req = {.op = DX_OP_UPDATE, .table = t, .key = J("{\"id\":{\"S\":\"new\"}}"),
                         .update = "SET a = :one", .values = J("{\":one\":{\"N\":\"1\"}}"),
                         .ret = DX_RET_ALL_NEW}};
    expect_ok(&c, "update creates");
    assert_item_eq(c.resp.item, J("{\"id\":{\"S\":\"new\"},\"a\":{\"N\":\"1\"}}"), "created by update");
    assert_item_eq(get(t, J("{\"id\":{\"S\":\"new\"}}")), J("{\"id\":{\"S\":\"new\"},\"a\":{\"N\":\"1\"}}"),
                   "created by update, read back");

    /* Operand type errors are validation errors and change nothing. */
    dx_call bad = {.req = {.op = DX_OP_UPDATE, .table = t, .key = key, .update = "SET n = n + :s",
                           .values = J("{\":s\":{\"S\":\"x\"}}")}};
    expect_validation(&bad, "number plus string");
    dx_call bad2 = {.req = {.op = DX_OP_UPDATE, .table = t, .key = key, .update = "SET id = :s",
                            .values = J("{\":s\":{\"S\":\"x\"}}")}};
    expect_validation(&bad2, "update of a key attribute");
    assert_true(num_text_is(dx_map_get(get(t, key), "n"), "100"));
}

/* ---------------------------------------------------------------- validation */

static void test_validation_errors(void **state) {
    (void)state;
    const char *t = make_table("val", "id", DX_T_S, NULL, DX_T_NONE);
    const char *tr = make_table("valr", "pk", DX_T_S, "sk", DX_T_N);
    put(t, J("{\"id\":{\"S\":\"a\"}}"));
    static const struct {
        dx_op op;
        bool range_table;
        const char *item, *key, *condition, *update, *names, *values;
        dx_return ret;
        const char *what;
    } rows[] = {
        {DX_OP_PUT, false, "{\"x\":{\"S\":\"1\"}}", NULL, NULL, NULL, NULL, NULL, 0, "missing key"},
        {DX_OP_PUT, false, "{\"id\":{\"N\":\"1\"}}", NULL, NULL, NULL, NULL, NULL, 0, "wrong key type"},
        {DX_OP_PUT, false, "{\"id\":{\"S\":\"\"}}", NULL, NULL, NULL, NULL, NULL, 0, "empty key string"},
        {DX_OP_PUT, true, "{\"pk\":{\"S\":\"a\"}}", NULL, NULL, NULL, NULL, NULL, 0, "missing sort key"},
        {DX_OP_PUT, false, "{\"id\":{\"S\":\"a\"}}", NULL, NULL, NULL, NULL, NULL, DX_RET_ALL_NEW,
         "put ReturnValues ALL_NEW"},
        {DX_OP_PUT, false, "{\"id\":{\"S\":\"a\"}}", NULL, "attribute_not_exists(id)", NULL, NULL,
         "{\":v\":{\"S\":\"x\"}}", 0, "unused value"},
        {DX_OP_PUT, false, "{\"id\":{\"S\":\"a\"}}", NULL, "attribute_not_exists(id)", NULL,
         "{\"#x\":{\"S\":\"x\"}}", NULL, 0, "unused name"},
        {DX_OP_PUT, false, "{\"id\":{\"S\":\"a\"}}", NULL, "id = = :v", NULL, NULL,
         "{\":v\":{\"S\":\"x\"}}", 0, "condition syntax"},
        {DX_OP_PUT, false, "{\"id\":{\"S\":\"a\"}}", NULL, "id = :missing", NULL, NULL, NULL, 0,
         "undefined value placeholder"},
        {DX_OP_PUT, false, "{\"id\":{\"S\":\"a\"}}", NULL, NULL, NULL, NULL, "{\":v\":{\"S\":\"x\"}}", 0,
         "values without an expression"},
        {DX_OP_GET, false, NULL, "{\"id\":{\"S\":\"a\"},\"x\":{\"S\":\"b\"}}", NULL, NULL, NULL, NULL, 0,
         "key with an extra attribute"},
        {DX_OP_GET, false, NULL, "{\"id\":{\"N\":\"1\"}}", NULL, NULL, NULL, NULL, 0, "key of the wrong type"},
        {DX_OP_GET, false, NULL, "{\"id\":{\"S\":\"\"}}", NULL, NULL, NULL, NULL, 0, "empty key"},
        {DX_OP_GET, true, NULL, "{\"pk\":{\"S\":\"a\"}}", NULL, NULL, NULL, NULL, 0, "key without its sort key"},
        {DX_OP_DELETE, false, NULL, "{\"x\":{\"S\":\"a\"}}", NULL, NULL, NULL, NULL, 0, "delete: wrong key"},
        {DX_OP_UPDATE, false, NULL, "{\"id\":{\"S\":\"a\"}}", NULL, "SET = :v", NULL,
         "{\":v\":{\"S\":\"x\"}}", 0, "update syntax"},
        {DX_OP_UPDATE, false, NULL, "{\"id\":{\"S\":\"a\"}}", NULL, "SET id = :v", NULL,
         "{\":v\":{\"S\":\"x\"}}", 0, "update of the key"},
        {DX_OP_UPDATE, false, NULL, "{\"id\":{\"S\":\"a\"}}", NULL, "SET a = :v", NULL,
         "{\":v\":{\"S\":\"x\"},\":w\":{\"S\":\"y\"}}", 0, "update: unused value"},
        {DX_OP_UPDATE, false, NULL, "{\"id\":{\"S\":\"a\"}}", NULL, "SET a = :v REMOVE a", NULL,
         "{\":v\":{\"S\":\"x\"}}", 0, "update: overlapping paths"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_call c = {.req = {.op = rows[i].op, .table = rows[i].range_table ? tr : t,
                             .item = rows[i].item ? J("%s", rows[i].item) : NULL,
                             .key = rows[i].key ? J("%s", rows[i].key) : NULL,
                             .condition = rows[i].condition, .update = rows[i].update,
                             .names = rows[i].names ? J("%s", rows[i].names) : NULL,
                             .values = rows[i].values ? J("%s", rows[i].values) : NULL,
                             .ret = rows[i].ret}};
        dx_err e = run(&c);
        if (e != DX_ERR_VALIDATION || strcmp(c.res.type, "ValidationException") != 0)
            print_error("row %zu (%s): %s [%s] %s\n", i, rows[i].what, dx_err_name(e), c.res.type,
                        c.res.message);
        assert_row_int_equal(i, e, DX_ERR_VALIDATION);
        assert_row_string_equal(i, c.res.type, "ValidationException");
        assert_row_true(i, c.res.message[0] != 0);
    }

    /* Values that do not pass as attribute values (built by hand: the
     * decoder would refuse them). */
    dx_value empty_set = dx_vset(DX_T_SS, NULL, 0);
    dx_value dup[] = {dx_vs("a"), dx_vs("a")};
    dx_value bad_values[] = {dx_vn("1e999"), dx_vn("12x"), empty_set, dx_vset(DX_T_SS, dup, 2),
                             dx_vn("123456789012345678901234567890123456789")};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        dx_member m[] = {{"id", 2, dx_vs("bad")}, {"v", 1, bad_values[i]}};
        dx_value item = dx_vmap(m, 2);
        dx_call c = {.req = {.op = DX_OP_PUT, .table = t, .item = &item}};
        dx_err e = run(&c);
        assert_row_int_equal(i, e, DX_ERR_VALIDATION);
        assert_row_string_equal(i, c.res.type, "ValidationException");
    }

    /* Too large: one byte over 400 KB. */
    size_t n = DX_MAX_ITEM_SIZE;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    /* "id" + "big" + "v" + the value */
    dx_member bm[] = {{"id", 2, dx_vs("big")}, {"v", 1, dx_vsn(big, n - 6)}};
    dx_value bigitem = dx_vmap(bm, 2);
    assert_int_equal(dx_item_size(&bigitem), DX_MAX_ITEM_SIZE); /* exactly the limit: fine */
    dx_call ok = {.req = {.op = DX_OP_PUT, .table = t, .item = &bigitem}};
    expect_ok(&ok, "an item of exactly 400 KB");
    bm[1].value = dx_vsn(big, n - 5);
    dx_call c = {.req = {.op = DX_OP_PUT, .table = t, .item = &bigitem}};
    expect_validation(&c, "item over 400 KB");
    /* An update that would grow it over the limit fails and changes nothing. */
    dx_call u = {.req = {.op = DX_OP_UPDATE, .table = t, .key = J("{\"id\":{\"S\":\"big\"}}"),
                         .update = "SET w = :w", .values = J("{\":w\":{\"S\":\"xx\"}}")}};
    expect_validation(&u, "update over 400 KB");
    free(big);
    const dx_value *still = dx_map_get(get(t, J("{\"id\":{\"S\":\"big\"}}")), "v");
    assert_non_null(still);
    assert_int_equal(still->n, n - 6);
}

/* ---------------------------------------------------------------- batches */

static void test_batch_write(void **state) {
    (void)state;
    const char *t = make_table("bw", "id", DX_T_S, NULL, DX_T_NONE);
    dx_write w[26];
    for (int i = 0; i < 26; i++)
        w[i] = (dx_write){false, J("{\"id\":{\"S\":\"k%02d\"},\"i\":{\"N\":\"%d\"}}", i, i)};

    dx_call too_many = {.req = {.op = DX_OP_BATCH_WRITE, .table = t, .writes = w, .nwrites = 26}};
    expect_validation(&too_many, "26 writes");
    assert_null(get(t, J("{\"id\":{\"S\":\"k00\"}}"))); /* nothing was written */

    dx_call c = {.req = {.op = DX_OP_BATCH_WRITE, .table = t, .writes = w, .nwrites = 25}};
    expect_ok(&c, "25 writes");
    assert_int_equal(c.resp.nunprocessed, 0);
    for (int i = 0; i < 25; i++)
        assert_item_eq(get(t, J("{\"id\":{\"S\":\"k%02d\"}}", i)), w[i].item, "batch-written item");

    /* Duplicate keys, also a put and a delete of one key: rejected whole. */
    dx_write dup[3] = {{false, J("{\"id\":{\"S\":\"d1\"}}")}, {false, J("{\"id\":{\"S\":\"d2\"}}")},
                       {false, J("{\"id\":{\"S\":\"d1\"},\"x\":{\"N\":\"1\"}}")}};
    dx_call d = {.req = {.op = DX_OP_BATCH_WRITE, .table = t, .writes = dup, .nwrites = 3}};
    expect_validation(&d, "duplicate puts");
    dx_write pd[2] = {{false, J("{\"id\":{\"S\":\"k03\"},\"x\":{\"N\":\"1\"}}")},
                      {true, J("{\"id\":{\"S\":\"k03\"}}")}};
    dx_call d2 = {.req = {.op = DX_OP_BATCH_WRITE, .table = t, .writes = pd, .nwrites = 2}};
    expect_validation(&d2, "put and delete of one key");
    assert_null(get(t, J("{\"id\":{\"S\":\"d2\"}}")));
    assert_item_eq(get(t, J("{\"id\":{\"S\":\"k03\"}}")), w[3].item, "untouched by a rejected batch");

    /* One bad entry rejects the whole batch. */
    dx_write bad[2] = {{false, J("{\"id\":{\"S\":\"fine\"}}")}, {false, J("{\"id\":{\"N\":\"1\"}}")}};
    dx_call b = {.req = {.op = DX_OP_BATCH_WRITE, .table = t, .writes = bad, .nwrites = 2}};
    expect_validation(&b, "a mistyped key in a batch");
    assert_null(get(t, J("{\"id\":{\"S\":\"fine\"}}")));

    /* Deletes and puts mixed. */
    dx_write mix[20];
    for (int i = 0; i < 10; i++) mix[i] = (dx_write){true, J("{\"id\":{\"S\":\"k%02d\"}}", i)};
    for (int i = 10; i < 20; i++) mix[i] = (dx_write){false, J("{\"id\":{\"S\":\"n%02d\"}}", i)};
    dx_call m = {.req = {.op = DX_OP_BATCH_WRITE, .table = t, .writes = mix, .nwrites = 20}};
    expect_ok(&m, "mixed batch");
    for (int i = 0; i < 10; i++) assert_null(get(t, J("{\"id\":{\"S\":\"k%02d\"}}", i)));
    for (int i = 10; i < 20; i++) assert_non_null(get(t, J("{\"id\":{\"S\":\"n%02d\"}}", i)));
    assert_non_null(get(t, J("{\"id\":{\"S\":\"k10\"}}")));
}

static void test_batch_get(void **state) {
    (void)state;
    const char *t = make_table("bg", "id", DX_T_S, "r", DX_T_N);
    dx_write w[25];
    for (int b = 0; b < 3; b++) {
        for (int i = 0; i < 20; i++) {
            int k = b * 20 + i;
            w[i] = (dx_write){false, J("{\"id\":{\"S\":\"g%d\"},\"r\":{\"N\":\"%d\"},\"v\":{\"S\":\"v%d\"},"
                                       "\"extra\":{\"BOOL\":true}}",
                                       k % 7, k, k)};
        }
        dx_call c = {.req = {.op = DX_OP_BATCH_WRITE, .table = t, .writes = w, .nwrites = 20}};
        expect_ok(&c, "seed");
    }
    dx_value keys[101];
    for (int k = 0; k < 101; k++) keys[k] = *J("{\"id\":{\"S\":\"g%d\"},\"r\":{\"N\":\"%d\"}}", k % 7, k);
    dx_call c = {.req = {.op = DX_OP_BATCH_GET, .table = t, .keys = keys, .nkeys = 100, .consistent = true}};
    expect_ok(&c, "100 keys, 60 present");
    assert_int_equal(c.resp.nunprocessed, 0);
    assert_int_equal(c.resp.nitems, 60);
    bool seen[60] = {false};
    for (size_t i = 0; i < c.resp.nitems; i++) {
        int64_t r = -1;
        assert_int_equal(dx_value_to_i64(dx_map_get(&c.resp.items[i], "r"), &r, NULL), DX_OK);
        assert_true(r >= 0 && r < 60 && !seen[r]);
        seen[r] = true;
        assert_item_eq(&c.resp.items[i],
                       J("{\"id\":{\"S\":\"g%d\"},\"r\":{\"N\":\"%d\"},\"v\":{\"S\":\"v%d\"},"
                         "\"extra\":{\"BOOL\":true}}",
                         (int)(r % 7), (int)r, (int)r),
                       "batch get item");
    }

    dx_call many = {.req = {.op = DX_OP_BATCH_GET, .table = t, .keys = keys, .nkeys = 101}};
    expect_validation(&many, "101 keys");
    dx_value dupk[2] = {keys[3], *J("{\"id\":{\"S\":\"g3\"},\"r\":{\"N\":\"3.0\"}}")};
    dx_call dup = {.req = {.op = DX_OP_BATCH_GET, .table = t, .keys = dupk, .nkeys = 2}};
    expect_validation(&dup, "duplicate keys");

    dx_call p = {.req = {.op = DX_OP_BATCH_GET, .table = t, .keys = keys, .nkeys = 3, .projection = "v"}};
    expect_ok(&p, "projection");
    assert_int_equal(p.resp.nitems, 3);
    for (size_t i = 0; i < p.resp.nitems; i++) {
        assert_int_equal(p.resp.items[i].n, 1);
        assert_non_null(dx_map_get(&p.resp.items[i], "v"));
    }
}

/* ---------------------------------------------------------------- query */

/* The sort key texts of a query's items, joined by spaces. */
static const char *sk_list(const dx_resp *resp, const char *name) {
    dx_buf b = {0};
    for (size_t i = 0; i < resp->nitems; i++) {
        const dx_value *v = dx_map_get(&resp->items[i], name);
        if (i) dx_buf_putc(&b, ' ');
        if (v) dx_buf_append(&b, v->u.s, v->n);
    }
    char *s = dx_arena_strndup(&g_a, b.ptr ? b.ptr : "", b.len);
    dx_buf_free(&b);
    return s;
}

static void test_query(void **state) {
    (void)state;
    const char *t = make_table("query", "pk", DX_T_S, "sk", DX_T_N);
    /* Partition p: -3 .. 12 and two fractions, written out of order. */
    static const char *const sks[] = {"7", "-3", "12", "0.5", "2", "10", "-2", "0", "11", "1",
                                      "3", "-1", "4", "9", "5", "6", "8", "-0.5"};
    for (size_t i = 0; i < sizeof sks / sizeof sks[0]; i++)
        put(t, J("{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"%s\"},\"v\":{\"N\":\"%zu\"}}", sks[i], i));
    for (int i = 0; i < 5; i++) put(t, J("{\"pk\":{\"S\":\"other\"},\"sk\":{\"N\":\"%d\"}}", i));
    const char *all = "-3 -2 -1 -0.5 0 0.5 1 2 3 4 5 6 7 8 9 10 11 12";

    static const struct {
        const char *cond;
        bool backward;
        const char *want;
    } rows[] = {
        {"pk = :p", false, "-3 -2 -1 -0.5 0 0.5 1 2 3 4 5 6 7 8 9 10 11 12"},
        {"pk = :p", true, "12 11 10 9 8 7 6 5 4 3 2 1 0.5 0 -0.5 -1 -2 -3"},
        {"pk = :p AND sk = :a", false, "2"},
        {"pk = :p AND sk = :a", true, "2"},
        {"pk = :p AND sk < :a", false, "-3 -2 -1 -0.5 0 0.5 1"},
        {"pk = :p AND sk < :a", true, "1 0.5 0 -0.5 -1 -2 -3"},
        {"pk = :p AND sk <= :a", false, "-3 -2 -1 -0.5 0 0.5 1 2"},
        {"pk = :p AND sk <= :a", true, "2 1 0.5 0 -0.5 -1 -2 -3"},
        {"pk = :p AND sk > :b", false, "11 12"},
        {"pk = :p AND sk > :b", true, "12 11"},
        {"pk = :p AND sk >= :b", false, "10 11 12"},
        {"pk = :p AND sk >= :b", true, "12 11 10"},
        {"pk = :p AND sk BETWEEN :a AND :b", false, "2 3 4 5 6 7 8 9 10"},
        {"pk = :p AND sk BETWEEN :a AND :b", true, "10 9 8 7 6 5 4 3 2"},
        {":a > sk AND pk = :p", false, "-3 -2 -1 -0.5 0 0.5 1"},
        {"pk = :q", false, ""},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        /* Give each row only the values it uses: unused ones are an error. */
        const char *cond = rows[i].cond;
        dx_map_builder mb = {.arena = &g_a};
        if (strstr(cond, ":p")) *dx_mapb_add(&mb, ":p", 2) = dx_vs("p");
        if (strstr(cond, ":q")) *dx_mapb_add(&mb, ":q", 2) = dx_vs("nobody");
        if (strstr(cond, ":a")) *dx_mapb_add(&mb, ":a", 2) = dx_vn("2");
        if (strstr(cond, ":b")) *dx_mapb_add(&mb, ":b", 2) = dx_vn("10");
        dx_value values = dx_mapb_finish(&mb);
        dx_call c = {.req = {.op = DX_OP_QUERY, .table = t, .key_condition = cond, .values = &values,
                             .backward = rows[i].backward, .consistent = true}};
        dx_err e = run(&c);
        if (e != DX_OK) print_error("row %zu: %s: %s\n", i, cond, c.res.message);
        assert_row_int_equal(i, e, DX_OK);
        assert_row_string_equal(i, sk_list(&c.resp, "sk"), rows[i].want);
        assert_row_int_equal(i, c.resp.scanned, c.resp.nitems);
    }

    /* Limit and paging, forward and backward: every item exactly once, in order. */
    for (int back = 0; back < 2; back++) {
        dx_value *vals = J("{\":p\":{\"S\":\"p\"}}");
        dx_buf got = {0};
        const dx_value *start = NULL;
        int pages = 0;
        do {
            dx_call c = {.req = {.op = DX_OP_QUERY, .table = t, .key_condition = "pk = :p", .values = vals,
                                 .limit = 5, .start_key = start, .backward = back}};
            expect_ok(&c, "paging");
            assert_true(c.resp.nitems <= 5);
            if (c.resp.nitems) {
                if (got.len) dx_buf_putc(&got, ' ');
                dx_buf_puts(&got, sk_list(&c.resp, "sk"));
            }
            if (c.resp.last_key) {
                assert_int_equal(c.resp.last_key->n, 2); /* exactly the key */
                assert_non_null(dx_map_get(c.resp.last_key, "pk"));
            }
            start = c.resp.last_key;
            assert_true(++pages <= 5);
        } while (start);
        assert_int_equal(pages, 4); /* 5 + 5 + 5 + 3 */
        if (back) {
            assert_string_equal(got.ptr, "12 11 10 9 8 7 6 5 4 3 2 1 0.5 0 -0.5 -1 -2 -3");
        } else {
            assert_string_equal(got.ptr, all);
        }
        dx_buf_free(&got);
    }

    /* A filter counts what it read (ScannedCount) apart from what it kept. */
    dx_call f = {.req = {.op = DX_OP_QUERY, .table = t, .key_condition = "pk = :p AND sk >= :z",
                         .filter = "v < :three", .values = J("{\":p\":{\"S\":\"p\"},\":z\":{\"N\":\"0\"},"
                                                              "\":three\":{\"N\":\"3\"}}")}};
    expect_ok(&f, "filter");
    assert_int_equal(f.resp.scanned, 14);
    assert_string_equal(sk_list(&f.resp, "sk"), "7 12"); /* v 0 and 2 */
    /* A filter may not use key attributes. */
    dx_call fk = {.req = {.op = DX_OP_QUERY, .table = t, .key_condition = "pk = :p",
                          .filter = "sk > :z", .values = J("{\":p\":{\"S\":\"p\"},\":z\":{\"N\":\"0\"}}")}};
    expect_validation(&fk, "filter on the sort key");
    assert_non_null(strstr(fk.res.message, "non-primary key attributes"));
    /* With a limit, the limit counts items read, not items kept. */
    f.req.limit = 4;
    expect_ok(&f, "filter with limit");
    assert_int_equal(f.resp.scanned, 4); /* 0 0.5 1 2: v 7 3 9 4 */
    assert_int_equal(f.resp.nitems, 0);
    assert_non_null(f.resp.last_key);

    /* Projection. */
    dx_call p = {.req = {.op = DX_OP_QUERY, .table = t, .key_condition = "pk = :p AND sk = :a",
                         .projection = "v", .values = J("{\":p\":{\"S\":\"p\"},\":a\":{\"N\":\"7\"}}")}};
    expect_ok(&p, "projection");
    assert_int_equal(p.resp.nitems, 1);
    assert_item_eq(&p.resp.items[0], J("{\"v\":{\"N\":\"0\"}}"), "query projection");

    /* String sort keys and begins_with. */
    const char *ts = make_table("querys", "pk", DX_T_S, "sk", DX_T_S);
    static const char *const ss[] = {"b", "a/2", "a", "ab", "a/1", "a0", "A/1"};
    for (size_t i = 0; i < sizeof ss / sizeof ss[0]; i++)
        put(ts, J("{\"pk\":{\"S\":\"s\"},\"sk\":{\"S\":\"%s\"}}", ss[i]));
    dx_value *bv = J("{\":p\":{\"S\":\"s\"},\":x\":{\"S\":\"a/\"}}");
    dx_call bw = {.req = {.op = DX_OP_QUERY, .table = ts, .key_condition = "pk = :p AND begins_with(sk, :x)",
                          .values = bv}};
    expect_ok(&bw, "begins_with");
    assert_string_equal(sk_list(&bw.resp, "sk"), "a/1 a/2");
    bw.req.backward = true;
    expect_ok(&bw, "begins_with backward");
    assert_string_equal(sk_list(&bw.resp, "sk"), "a/2 a/1");
    dx_call sall = {.req = {.op = DX_OP_QUERY, .table = ts, .key_condition = "pk = :p",
                            .values = J("{\":p\":{\"S\":\"s\"}}")}};
    expect_ok(&sall, "string order");
    assert_string_equal(sk_list(&sall.resp, "sk"), "A/1 a a/1 a/2 a0 ab b");

    /* Key condition errors. */
    static const struct {
        const char *cond, *values, *start;
    } bad[] = {
        {"sk = :a", "{\":a\":{\"N\":\"1\"}}", NULL},                                 /* no partition key */
        {"pk = :a", "{\":a\":{\"N\":\"1\"}}", NULL},                                 /* wrong type */
        {"pk = :p AND v = :a", "{\":p\":{\"S\":\"p\"},\":a\":{\"N\":\"1\"}}", NULL}, /* not a key */
        {"pk < :p", "{\":p\":{\"S\":\"p\"}}", NULL},                                 /* not equality */
        {"pk = :p OR sk = :a", "{\":p\":{\"S\":\"p\"},\":a\":{\"N\":\"1\"}}", NULL},
        {"pk = :p AND sk = :a", "{\":p\":{\"S\":\"p\"},\":a\":{\"S\":\"1\"}}", NULL}, /* sort key type */
        {"pk = :p", "{\":p\":{\"S\":\"p\"},\":unused\":{\"S\":\"p\"}}", NULL},
        /* ExclusiveStartKey: another partition, outside the sort key condition,
         * not the key, more than the key. */
        {"pk = :p", "{\":p\":{\"S\":\"p\"}}", "{\"pk\":{\"S\":\"other\"},\"sk\":{\"N\":\"1\"}}"},
        {"pk = :p AND sk > :a", "{\":p\":{\"S\":\"p\"},\":a\":{\"N\":\"2\"}}",
         "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"}}"},
        {"pk = :p", "{\":p\":{\"S\":\"p\"}}", "{\"pk\":{\"S\":\"p\"}}"},
        {"pk = :p", "{\":p\":{\"S\":\"p\"}}", "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"1\"},\"v\":{\"N\":\"1\"}}"},
        {"pk = :p", "{\":p\":{\"S\":\"p\"}}", "{\"pk\":{\"S\":\"p\"},\"sk\":{\"S\":\"1\"}}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dx_call c = {.req = {.op = DX_OP_QUERY, .table = t, .key_condition = bad[i].cond,
                             .values = J("%s", bad[i].values), .start_key = bad[i].start ? J("%s", bad[i].start) : NULL}};
        dx_err e = run(&c);
        if (e != DX_ERR_VALIDATION) print_error("row %zu: %s -> %s\n", i, bad[i].cond, dx_err_name(e));
        assert_row_int_equal(i, e, DX_ERR_VALIDATION);
        assert_row_string_equal(i, c.res.type, "ValidationException");
    }
}

/* ---------------------------------------------------------------- scan */

#define SCAN_N 300

/* Scans (optionally one segment), page by page, marking each id seen. */
static void scan_all(const char *t, uint32_t segment, uint32_t total, uint32_t limit, int *seen,
                     size_t *nitems) {
    const dx_value *start = NULL;
    int pages = 0;
    do {
        dx_call c = {.req = {.op = DX_OP_SCAN, .table = t, .limit = limit, .start_key = start,
                             .segment = segment, .total_segments = total}};
        expect_ok(&c, "scan page");
        if (limit) assert_true(c.resp.nitems <= limit);
        for (size_t i = 0; i < c.resp.nitems; i++) {
            int64_t id = -1;
            assert_int_equal(dx_value_to_i64(dx_map_get(&c.resp.items[i], "id"), &id, NULL), DX_OK);
            assert_true(id >= 0 && id < SCAN_N);
            seen[id]++;
        }
        *nitems += c.resp.nitems;
        start = c.resp.last_key;
        assert_true(++pages < 2 * SCAN_N);
    } while (start);
}

static void test_scan(void **state) {
    (void)state;
    const char *t = make_table("scan", "id", DX_T_N, NULL, DX_T_NONE);
    for (int b = 0; b < SCAN_N / 25; b++) {
        dx_write w[25];
        for (int i = 0; i < 25; i++)
            w[i] = (dx_write){false, J("{\"id\":{\"N\":\"%d\"},\"odd\":{\"BOOL\":%s}}", b * 25 + i,
                                       (b * 25 + i) % 2 ? "true" : "false")};
        dx_call c = {.req = {.op = DX_OP_BATCH_WRITE, .table = t, .writes = w, .nwrites = 25}};
        expect_ok(&c, "seed");
    }

    int seen[SCAN_N];
    size_t n = 0;
    memset(seen, 0, sizeof seen);
    scan_all(t, 0, 0, 0, seen, &n);
    assert_int_equal(n, SCAN_N);
    for (int i = 0; i < SCAN_N; i++) assert_row_int_equal(i, seen[i], 1);

    memset(seen, 0, sizeof seen);
    n = 0;
    scan_all(t, 0, 0, 7, seen, &n);
    assert_int_equal(n, SCAN_N);
    for (int i = 0; i < SCAN_N; i++) assert_row_int_equal(i, seen[i], 1);

    /* Segments: together every item exactly once; paged within a segment. */
    static const uint32_t totals[] = {1, 2, 4, 7};
    for (size_t k = 0; k < sizeof totals / sizeof totals[0]; k++) {
        memset(seen, 0, sizeof seen);
        n = 0;
        for (uint32_t s = 0; s < totals[k]; s++) scan_all(t, s, totals[k], 16, seen, &n);
        assert_row_int_equal(k, n, SCAN_N);
        for (int i = 0; i < SCAN_N; i++) assert_row_int_equal(i, seen[i], 1);
    }

    /* Filter: Count vs ScannedCount. */
    dx_call f = {.req = {.op = DX_OP_SCAN, .table = t, .filter = "odd = :t", .values = J("{\":t\":{\"BOOL\":true}}")}};
    expect_ok(&f, "scan filter");
    assert_int_equal(f.resp.scanned, SCAN_N);
    assert_int_equal(f.resp.nitems, SCAN_N / 2);

    /* Segment errors. */
    dx_call e1 = {.req = {.op = DX_OP_SCAN, .table = t, .segment = 4, .total_segments = 4}};
    expect_validation(&e1, "segment >= total");
    dx_call e3 = {.req = {.op = DX_OP_SCAN, .table = t, .filter = "odd = :t"}};
    expect_validation(&e3, "filter with an undefined placeholder");
}

/* ---------------------------------------------------------------- capacity */

static void test_consumed_capacity(void **state) {
    (void)state;
    const char *t = make_table("cap", "id", DX_T_S, NULL, DX_T_NONE);
    char pad[1501];
    memset(pad, 'p', 1500);
    pad[1500] = 0;
    dx_value *big = J("{\"id\":{\"S\":\"big\"},\"pad\":{\"S\":\"%s\"}}", pad); /* ~1.5 KB */
    dx_value *bigkey = J("{\"id\":{\"S\":\"big\"}}");
    dx_call p = {.req = {.op = DX_OP_PUT, .table = t, .item = big}};
    expect_ok(&p, "put 1.5 KB");
    assert_true(p.resp.consumed == 2.0);
    dx_call ps = {.req = {.op = DX_OP_PUT, .table = t, .item = J("{\"id\":{\"S\":\"small\"}}")}};
    expect_ok(&ps, "put small");
    assert_true(ps.resp.consumed == 1.0);
    /* Replacing a big item with a small one costs the bigger of the two. */
    dx_call pr = {.req = {.op = DX_OP_PUT, .table = t, .item = J("{\"id\":{\"S\":\"big\"}}")}};
    expect_ok(&pr, "shrink");
    assert_true(pr.resp.consumed == 2.0);
    expect_ok(&p, "put 1.5 KB again");

    dx_call ge = {.req = {.op = DX_OP_GET, .table = t, .key = bigkey}};
    expect_ok(&ge, "eventual get");
    assert_true(ge.resp.consumed == 0.5);
    dx_call gc = {.req = {.op = DX_OP_GET, .table = t, .key = bigkey, .consistent = true}};
    expect_ok(&gc, "consistent get");
    assert_true(gc.resp.consumed == 1.0);
    dx_call gm = {.req = {.op = DX_OP_GET, .table = t, .key = J("{\"id\":{\"S\":\"nobody\"}}")}};
    expect_ok(&gm, "eventual get of nothing");
    assert_true(gm.resp.consumed == 0.5);

    dx_call u = {.req = {.op = DX_OP_UPDATE, .table = t, .key = J("{\"id\":{\"S\":\"small\"}}"),
                         .update = "SET a = :a", .values = J("{\":a\":{\"N\":\"1\"}}")}};
    expect_ok(&u, "update small");
    assert_true(u.resp.consumed == 1.0);

    dx_write w[2] = {{false, J("{\"id\":{\"S\":\"w1\"}}")}, {false, J("{\"id\":{\"S\":\"w2\"}}")}};
    dx_call bw = {.req = {.op = DX_OP_BATCH_WRITE, .table = t, .writes = w, .nwrites = 2}};
    expect_ok(&bw, "batch of 2");
    assert_true(bw.resp.consumed == 2.0);

    dx_value keys[2] = {*bigkey, *J("{\"id\":{\"S\":\"w1\"}}")};
    dx_call bg = {.req = {.op = DX_OP_BATCH_GET, .table = t, .keys = keys, .nkeys = 2}};
    expect_ok(&bg, "batch get of 2");
    assert_true(bg.resp.consumed == 1.0);

    dx_call d = {.req = {.op = DX_OP_DELETE, .table = t, .key = bigkey}};
    expect_ok(&d, "delete 1.5 KB");
    assert_true(d.resp.consumed == 2.0);
}

/* ---------------------------------------------------------------- engine */

typedef struct eng_state {
    int done, failed;
} eng_state;

static void eng_done(dx_call *c) {
    eng_state *s = c->ud;
    s->done++;
    if (c->res.err != DX_OK) s->failed++;
}

/* The asynchronous path: many calls in flight on one engine. */
static void test_engine_many(void **state) {
    (void)state;
    const char *t = make_table("eng", "id", DX_T_S, NULL, DX_T_NONE);
    enum { N = 200 };
    dx_engine *e = dx_engine_new(g_c, &(dx_engine_opts){.max_inflight = 16});
    assert_non_null(e);
    static dx_call calls[N];
    eng_state st = {0, 0};
    for (int i = 0; i < N; i++) {
        calls[i] = (dx_call){.req = {.op = DX_OP_PUT, .table = t,
                                     .item = J("{\"id\":{\"S\":\"e%d\"},\"i\":{\"N\":\"%d\"}}", i, i)},
                             .done = eng_done, .ud = &st, .arena = &g_a};
        assert_int_equal(dx_engine_submit(e, &calls[i]), DX_OK);
    }
    dx_engine_drain(e);
    assert_int_equal(st.done, N);
    assert_int_equal(st.failed, 0);
    dx_engine_free(e);
    for (int i = 0; i < N; i += 37) {
        int64_t v = -1;
        const dx_value *item = get(t, J("{\"id\":{\"S\":\"e%d\"}}", i));
        assert_int_equal(dx_value_to_i64(dx_map_get(item, "i"), &v, NULL), DX_OK);
        assert_int_equal(v, i);
    }
}

/* ---------------------------------------------------------------- entry */

int conformance_run(const char *group_name, dx_client *(*make_client)(void)) {
    g_make = make_client;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table_lifecycle, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_put_get_delete, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_types_round_trip, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_key_schemas, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_conditions, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_update_expressions, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_validation_errors, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_batch_write, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_batch_get, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_query, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_scan, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_consumed_capacity, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_engine_many, test_setup, test_teardown),
    };
    return _cmocka_run_group_tests(group_name, tests, sizeof tests / sizeof tests[0], group_setup,
                                   group_teardown);
}
