/*
 * test_backend.c - jobs/backend.c: backend sections resolved into clients
 * (memory, DynamoDB from a fake environment, the credential provider handed
 * over or shared, errors, the description for -v) and seed files loaded into
 * a memory table (both line forms, zstd, duplicate keys, a bad line, a
 * failing write, the units a seed costs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "backend.h"
#include "testutil.h"

/* ---------------------------------------------------------------- fixture */

typedef struct fx {
    char dir[64];
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/dynox-backend-XXXXXX");
    if (!f || !mkdtemp(f->dir)) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    static const char *const names[] = {"seed.jsonl", "seed.jsonl.zst", "bad.jsonl", "big.jsonl"};
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", f->dir, names[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static const char *fpath(fx *f, const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", f->dir, name);
    return buf;
}

static void write_bytes(const char *p, const void *data, size_t n) {
    FILE *o = fopen(p, "wb");
    assert_non_null(o);
    assert_int_equal(fwrite(data, 1, n, o), n);
    fclose(o);
}

/* A fake environment: NULL-terminated "NAME=value" entries. */
static const char *fake_get(void *ud, const char *name) {
    size_t n = strlen(name);
    for (const char *const *e = ud; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static const char *const aws_env[] = {
    "AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "AWS_EC2_METADATA_DISABLED=true", NULL};

static dx_client *users_table(void) {
    dx_client *c = NULL;
    assert_int_equal(dx_mem_client_new(NULL, NULL, &c), DX_OK);
    dx_table_def def = {.name = "users", .key = {.hash = "id", .hash_type = DX_T_S}};
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_create_table(c, &def, &r), DX_OK);
    return c;
}

/* The item with this id as DynamoDB JSON, or "" (a static buffer). */
static const char *item_json(dx_client *c, const char *id) {
    static char out[512];
    dx_arena a = {0};
    dx_member km = {"id", 2, dx_vs(id)};
    dx_value key = dx_vmap(&km, 1);
    dx_call call = {.req = {.op = DX_OP_GET, .table = "users", .key = &key, .consistent = true},
                    .arena = &a};
    assert_int_equal(dx_client_call(c, &call), DX_OK);
    out[0] = 0;
    if (call.resp.item) {
        dx_value *flat = NULL;
        dx_result r;
        dx_result_clear(&r);
        assert_int_equal(dx_value_flatten(call.resp.item, &flat, &r), DX_OK);
        dx_buf b = {0};
        assert_int_equal(dx_encode_item(&b, flat), DX_OK);
        snprintf(out, sizeof out, "%s", b.ptr);
        dx_buf_free(&b);
        free(flat);
    }
    dx_arena_release(&a);
    return out;
}

static uint64_t count(dx_client *c) {
    uint64_t n = 0;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_mem_count(c, "users", &n, &r), DX_OK);
    return n;
}

/* ---------------------------------------------------------------- clients */

static void test_memory(void **state) {
    (void)state;
    static const struct {
        dxj_backend type;
        bool dry_run;
        double wcu, rcu;
        bool simulate;
    } cases[] = {
        {DXJ_BACKEND_MEMORY, false, 0, 0, false},
        {DXJ_BACKEND_DYNAMODB, true, 0, 0, false}, /* a dry run is memory whatever the type */
        {DXJ_BACKEND_MEMORY, false, 100, 0, true},
        {DXJ_BACKEND_MEMORY, true, 0, 5, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dxj_backend_spec b = {.type = cases[i].type, .sim_wcu = cases[i].wcu,
                              .sim_rcu = cases[i].rcu};
        b.endpoint = "http://127.0.0.1:9"; /* ignored: nothing is resolved for memory */
        dxj_backend_conn conn;
        dx_result r;
        dx_result_clear(&r);
        /* An environment without a region: resolving DynamoDB would fail. */
        static const char *const empty[] = {NULL};
        dx_env env = {fake_get, (void *)empty};
        assert_row_int_equal(i, dxj_backend_open(&conn, &b, cases[i].dry_run, &env, &r), DX_OK);
        assert_row_true(i, conn.memory);
        assert_row_true(i, conn.mem.simulate_capacity == cases[i].simulate);
        char where[128];
        dxj_backend_describe(&conn, where, sizeof where);
        assert_row_string_equal(i, where, "the memory backend");
        dx_client *c = NULL;
        assert_row_int_equal(i, dxj_backend_client(&conn, NULL, &c, &r), DX_OK);
        dxj_backend_close(&conn);
        assert_row_string_equal(i, dx_client_backend(c), "memory");
        /* A fresh backend: no tables. */
        dx_arena a = {0};
        dx_table_desc d;
        assert_row_int_equal(i, dx_describe_table(c, "users", &a, &d, &r),
                             DX_ERR_RESOURCE_NOT_FOUND);
        dx_arena_release(&a);
        dx_client_free(c);
    }
}

static void test_dynamodb(void **state) {
    (void)state;
    dx_env env = {fake_get, (void *)aws_env};
    dxj_backend_spec b = {.type = DXJ_BACKEND_DYNAMODB, .endpoint = "http://127.0.0.1:9",
                          .insecure = true};
    dxj_backend_conn conn;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_backend_open(&conn, &b, false, &env, &r), DX_OK);
    assert_false(conn.memory);
    assert_true(conn.ddb.insecure);
    assert_string_equal(conn.ddb.region, "eu-west-1");
    assert_string_equal(conn.ddb.endpoint_url, "http://127.0.0.1:9");
    assert_non_null(conn.env.provider);
    assert_true(conn.ddb.owns_provider);
    char where[512];
    dxj_backend_describe(&conn, where, sizeof where);
    assert_string_equal(where,
                        "DynamoDB at http://127.0.0.1:9 (region eu-west-1 from AWS_REGION; "
                        "endpoint from option)");
    assert_null(strstr(where, "wJalr")); /* never a secret */
    char tiny[8];
    dxj_backend_describe(&conn, tiny, sizeof tiny);
    assert_string_equal(tiny, "DynamoD");

    /* One client takes the credentials over: the conn can be closed at once. */
    dx_client *c = NULL;
    assert_int_equal(dxj_backend_client(&conn, NULL, &c, &r), DX_OK);
    assert_string_equal(dx_client_backend(c), "dynamodb");
    assert_null(conn.env.provider);
    assert_false(conn.ddb.owns_provider);
    dxj_backend_close(&conn);
    dx_client_free(c);

    /* Shared: several clients borrow the provider; close after freeing them. */
    b.region = "us-east-2";
    assert_int_equal(dxj_backend_open(&conn, &b, false, &env, &r), DX_OK);
    assert_string_equal(conn.env.settings.region_from, "option");
    conn.ddb.owns_provider = false;
    dx_client *c1 = NULL, *c2 = NULL;
    dx_client_opts co = {.rate = {.max_wcu = 10}};
    assert_int_equal(dxj_backend_client(&conn, NULL, &c1, &r), DX_OK);
    assert_int_equal(dxj_backend_client(&conn, &co, &c2, &r), DX_OK);
    assert_non_null(conn.env.provider);
    dx_client_free(c1);
    dx_client_free(c2);
    dxj_backend_close(&conn);
    dxj_backend_close(NULL);
}

static void test_dynamodb_errors(void **state) {
    (void)state;
    static const char *const no_region[] = {"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
                                            "AWS_SECRET_ACCESS_KEY=x",
                                            "AWS_EC2_METADATA_DISABLED=true", NULL};
    static const char *const no_creds[] = {"AWS_REGION=eu-west-1",
                                           "AWS_EC2_METADATA_DISABLED=true", NULL};
    static const struct {
        const char *const *env;
        const char *endpoint;
        const char *want; /* in the message */
    } cases[] = {
        {no_region, NULL, "region"},
        {no_creds, NULL, "credentials"},
        {aws_env, "ftp://127.0.0.1:9", "ftp://127.0.0.1:9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dx_env env = {fake_get, (void *)cases[i].env};
        dxj_backend_spec b = {.type = DXJ_BACKEND_DYNAMODB, .endpoint = (char *)cases[i].endpoint};
        dxj_backend_conn conn;
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dxj_backend_open(&conn, &b, false, &env, &r);
        if (!strstr(r.message, cases[i].want)) print_error("row %zu: %s\n", i, r.message);
        assert_row_int_equal(i, e, DX_ERR_CONFIG);
        assert_row_true(i, strstr(r.message, cases[i].want) != NULL);
        assert_row_true(i, conn.env.provider == NULL && !conn.memory);
        dxj_backend_close(&conn); /* harmless */
    }
}

/* ---------------------------------------------------------------- seeds */

static const char seed_text[] =
    "{\"id\":{\"S\":\"u1\"},\"name\":{\"S\":\"A\"},\"age\":{\"N\":\"10\"}}\n"
    "\n"
    "{\"Item\":{\"id\":{\"S\":\"u2\"},\"name\":{\"S\":\"B\"}}}\n"
    "{\"id\":{\"S\":\"u3\"},\"tags\":{\"SS\":[\"x\",\"y\"]}}\n"
    "{\"id\":{\"S\":\"u1\"},\"name\":{\"S\":\"A2\"}}\n"; /* the later line wins */

static void check_seeded(dx_client *c) {
    assert_int_equal(count(c), 3);
    assert_string_equal(item_json(c, "u1"), "{\"id\":{\"S\":\"u1\"},\"name\":{\"S\":\"A2\"}}");
    assert_string_equal(item_json(c, "u2"), "{\"id\":{\"S\":\"u2\"},\"name\":{\"S\":\"B\"}}");
    assert_string_equal(item_json(c, "u3"),
                        "{\"id\":{\"S\":\"u3\"},\"tags\":{\"SS\":[\"x\",\"y\"]}}");
}

static void test_seed_load(void **state) {
    fx *f = *state;
    char p[128], pz[128];
    fpath(f, "seed.jsonl", p, sizeof p);
    write_bytes(p, seed_text, strlen(seed_text));
    dx_client *c = users_table();
    dx_result r;
    dx_result_clear(&r);
    uint64_t n = 99;
    assert_int_equal(dxj_seed_load(c, "users", p, &n, &r), DX_OK);
    assert_int_equal(n, 4); /* lines written, the replaced one included */
    check_seeded(c);
    dx_client_free(c);

    /* The same, compressed. */
    fpath(f, "seed.jsonl.zst", pz, sizeof pz);
    size_t cap = ZSTD_compressBound(strlen(seed_text));
    char *z = malloc(cap);
    size_t zn = ZSTD_compress(z, cap, seed_text, strlen(seed_text), 3);
    assert_false(ZSTD_isError(zn));
    write_bytes(pz, z, zn);
    free(z);
    c = users_table();
    assert_int_equal(dxj_seed_load(c, "users", pz, NULL, &r), DX_OK);
    check_seeded(c);
    dx_client_free(c);
}

static void test_seed_errors(void **state) {
    fx *f = *state;
    char p[128];
    fpath(f, "bad.jsonl", p, sizeof p);
    static const struct {
        const char *text;
        dx_err err;
        const char *want;  /* after "seed file PATH, " */
        uint64_t written;  /* items in the table afterwards */
    } cases[] = {
        /* Not an item: the lines before it are written, nothing after. */
        {"{\"id\":{\"S\":\"a\"}}\n{\"id\":{\"S\":\"b\"}}\n{\"id\":\"plain\"}\n"
         "{\"id\":{\"S\":\"c\"}}\n",
         DX_ERR_PARSE, "line 3: ", 2},
        {"{\"id\":{\"S\":\"a\"}}\nnot json\n", DX_ERR_PARSE, "line 2: ", 1},
        /* A write the table refuses: no key. */
        {"{\"id\":{\"S\":\"a\"}}\n{\"name\":{\"S\":\"no key\"}}\n{\"id\":{\"S\":\"c\"}}\n",
         DX_ERR_VALIDATION, "line 2: ", 2},
        /* A write error before a bad line: the first failing line is named. */
        {"{\"name\":{\"S\":\"no key\"}}\n{\"id\":{\"S\":\"b\"}}\nnot json\n", DX_ERR_VALIDATION,
         "line 1: ", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_bytes(p, cases[i].text, strlen(cases[i].text));
        dx_client *c = users_table();
        dx_result r;
        dx_result_clear(&r);
        uint64_t n = 99;
        dx_err e = dxj_seed_load(c, "users", p, &n, &r);
        char want[256];
        snprintf(want, sizeof want, "seed file %s, %s", p, cases[i].want);
        if (strncmp(r.message, want, strlen(want)) != 0) print_error("row %zu: %s\n", i, r.message);
        assert_row_int_equal(i, e, cases[i].err);
        assert_row_true(i, strncmp(r.message, want, strlen(want)) == 0);
        assert_row_int_equal(i, count(c), cases[i].written);
        assert_row_int_equal(i, n, cases[i].written);
        dx_client_free(c);
    }

    /* No such file; no such table. */
    dx_client *c = users_table();
    dx_result r;
    dx_result_clear(&r);
    char missing[128];
    fpath(f, "missing.jsonl", missing, sizeof missing);
    assert_int_equal(dxj_seed_load(c, "users", missing, NULL, &r), DX_ERR_IO);
    assert_non_null(strstr(r.message, "missing.jsonl"));
    write_bytes(p, "{\"id\":{\"S\":\"a\"}}\n", 17);
    dx_result_clear(&r);
    assert_int_equal(dxj_seed_load(c, "nosuch", p, NULL, &r), DX_ERR_RESOURCE_NOT_FOUND);
    assert_non_null(strstr(r.message, ", line 1: "));
    dx_client_free(c);
}

static void test_seed_units(void **state) {
    fx *f = *state;
    char p[128];
    fpath(f, "big.jsonl", p, sizeof p);
    /* One small item (1 unit), one of about 2.5 KB (3 units), one bad line (1). */
    dx_buf b = {0};
    dx_buf_puts(&b, "{\"id\":{\"S\":\"a\"}}\n{\"id\":{\"S\":\"b\"},\"blob\":{\"S\":\"");
    for (int i = 0; i < 2500; i++) dx_buf_putc(&b, 'x');
    dx_buf_puts(&b, "\"}}\nnot json\n");
    write_bytes(p, b.ptr, b.len);
    dx_buf_free(&b);
    double units = -1;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_seed_units(p, &units, &r), DX_OK);
    assert_true(units == 5);
    char missing[128];
    fpath(f, "missing.jsonl", missing, sizeof missing);
    assert_int_equal(dxj_seed_units(missing, &units, &r), DX_ERR_IO);
    assert_true(units == 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_dynamodb),
        cmocka_unit_test(test_dynamodb_errors),
        cmocka_unit_test_setup_teardown(test_seed_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed_units, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
