/*
 * test_bench.c - `dynox bench`'s engine (jobs/bench.c) on the memory
 * backend: exact counts for every operation, clean-up (items deleted, or a
 * table created by the run deleted), refusal of a table that holds data,
 * --keep, the shape of a sweep, and the JSON result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "testutil.h"

#define TABLE "dynox_bench"

/* A memory client with the built-in model's table created (empty). */
static dx_client *mem_with_table(void) {
    dx_client *c = NULL;
    assert_int_equal(dx_mem_client_new(NULL, NULL, &c), DX_OK);
    dx_model *m = NULL;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_bench_builtin_model(TABLE, &m, &r), DX_OK);
    dx_table_def def;
    dx_model_table_def(m, &def);
    assert_int_equal(dx_create_table(c, &def, &r), DX_OK);
    dx_model_free(m);
    return c;
}

static uint64_t count(dx_client *c) {
    uint64_t n = 0;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_mem_count(c, TABLE, &n, &r), DX_OK);
    return n;
}

static void test_builtin_model(void **state) {
    (void)state;
    dx_model *m = NULL;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_bench_builtin_model(NULL, &m, &r), DX_OK);
    assert_int_equal(dx_model_nattrs(m), 10);
    assert_string_equal(dx_model_config_get(m)->table, TABLE);
    assert_string_equal(dx_model_hash_key(m)->name, "id");
    dx_model_free(m);
}

static void test_op_names(void **state) {
    (void)state;
    static const char *const names[] = {"put", "update_by_key", "delete_by_key", "get", "get_save"};
    for (size_t i = 0; i < 5; i++) {
        assert_row_int_equal(i, dxj_bench_op_from_name(names[i]), (int)i);
        assert_row_string_equal(i, dxj_bench_op_name((dxj_bench_op)i), names[i]);
    }
    assert_int_equal(dxj_bench_op_from_name("puts"), -1);
    assert_int_equal(dxj_bench_op_from_name(NULL), -1);
}

/* Every operation processes exactly `items` items and leaves the table empty. */
static void test_counts_and_cleanup(void **state) {
    (void)state;
    static const struct {
        dxj_bench_op op;
        uint64_t items;
        uint32_t workers, inflight;
        uint64_t loaded;   /* items written before the measured part */
        uint64_t requests; /* expected attempts (no throttling on memory) */
    } rows[] = {
        {DXJ_BENCH_PUT, 1000, 2, 4, 0, 40},             /* 1000 / 25 batches */
        {DXJ_BENCH_PUT, 1010, 3, 2, 0, 41},             /* 40 full batches + one of 10 */
        {DXJ_BENCH_UPDATE_BY_KEY, 300, 2, 8, 300, 300}, /* one UpdateItem per item */
        {DXJ_BENCH_DELETE_BY_KEY, 500, 2, 4, 500, 20},
        {DXJ_BENCH_GET, 200, 1, 8, 200, 200},
        {DXJ_BENCH_GET_SAVE, 100, 2, 3, 100, 200},      /* GetItem + PutItem */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_client *c = mem_with_table();
        dxj_bench_opts o;
        memset(&o, 0, sizeof o);
        o.op = rows[i].op;
        o.items = rows[i].items;
        o.workers = rows[i].workers;
        o.inflight = rows[i].inflight;
        o.client = c;
        o.seed = 42;
        dxj_bench_result res;
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dxj_bench_run(&o, &res, &r);
        if (e) print_error("row %zu: %s\n", i, r.message);
        assert_row_int_equal(i, e, DX_OK);
        assert_row_int_equal(i, res.npoints, 1);
        const dxj_bench_point *p = &res.points[0];
        assert_row_int_equal(i, p->items, rows[i].items);
        assert_row_int_equal(i, p->failed, 0);
        assert_row_int_equal(i, p->errors, 0);
        assert_row_int_equal(i, p->requests, rows[i].requests);
        assert_row_int_equal(i, p->inflight, rows[i].inflight);
        assert_row_int_equal(i, res.loaded, rows[i].loaded);
        assert_row_true(i, p->items_per_s > 0);
        assert_row_true(i, p->seconds > 0);
        assert_row_true(i, p->p50_ms <= p->p99_ms && p->p99_ms <= p->max_ms);
        assert_row_true(i, p->units > 0);
        assert_row_true(i, res.cleanup_ok);
        assert_row_true(i, !res.table_created);
        assert_row_string_equal(i, res.backend, "memory");
        assert_row_int_equal(i, res.attributes, 10);
        assert_row_true(i, res.item_bytes > 120 && res.item_bytes < 180);
        assert_row_int_equal(i, count(c), 0);
        dx_client_free(c);
    }
}

static void test_keep(void **state) {
    (void)state;
    dx_client *c = mem_with_table();
    dxj_bench_opts o;
    memset(&o, 0, sizeof o);
    o.items = 777;
    o.inflight = 5;
    o.client = c;
    o.keep = true;
    dxj_bench_result res;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_bench_run(&o, &res, &r), DX_OK);
    assert_int_equal(res.points[0].items, 777);
    assert_int_equal(count(c), 777);
    assert_int_equal(res.cleaned, 0);
    dx_client_free(c);
}

static void test_refuses_table_with_data(void **state) {
    (void)state;
    dx_client *c = mem_with_table();
    dx_value item = dx_vmap(NULL, 0);
    dx_member m[1] = {{.name = "id", .name_len = 2, .value = dx_vs("someone-elses")}};
    item = dx_vmap(m, 1);
    dx_call call;
    memset(&call, 0, sizeof call);
    call.req.op = DX_OP_PUT;
    call.req.table = TABLE;
    call.req.item = &item;
    assert_int_equal(dx_client_call(c, &call), DX_OK);

    dxj_bench_opts o;
    memset(&o, 0, sizeof o);
    o.items = 100;
    o.client = c;
    dxj_bench_result res;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_bench_run(&o, &res, &r), DX_ERR_CONFIG);
    assert_non_null(strstr(r.message, "holds data"));
    assert_non_null(strstr(r.message, "--allow-existing"));
    assert_int_equal(res.npoints, 0);
    assert_int_equal(count(c), 1); /* nothing written */

    /* Allowed: runs, and removes only its own items. */
    o.allow_existing = true;
    dx_result_clear(&r);
    assert_int_equal(dxj_bench_run(&o, &res, &r), DX_OK);
    assert_int_equal(res.points[0].items, 100);
    assert_true(res.cleanup_ok);
    assert_int_equal(res.cleaned, 100);
    assert_int_equal(count(c), 1);
    dx_client_free(c);
}

/* With no borrowed client the run creates the table on its own memory backend and drops it. */
static void test_creates_and_deletes_table(void **state) {
    (void)state;
    dxj_bench_opts o;
    memset(&o, 0, sizeof o);
    o.items = 250;
    o.table = "bench_fresh";
    dxj_bench_result res;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_bench_run(&o, &res, &r), DX_OK);
    assert_true(res.table_created);
    assert_true(res.table_deleted);
    assert_true(res.cleanup_ok);
    assert_string_equal(res.table, "bench_fresh");
    assert_int_equal(res.points[0].items, 250);
}

static void test_sweep_and_json(void **state) {
    (void)state;
    dx_client *c = mem_with_table();
    dxj_bench_opts o;
    memset(&o, 0, sizeof o);
    o.op = DXJ_BENCH_UPDATE_BY_KEY;
    o.items = 200;
    o.workers = 1;
    o.client = c;
    static const uint32_t depths[] = {1, 2, 4, 8};
    memcpy(o.sweep, depths, sizeof depths);
    o.nsweep = 4;
    dxj_bench_result res;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_bench_run(&o, &res, &r), DX_OK);
    assert_int_equal(res.npoints, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_row_int_equal(i, res.points[i].inflight, depths[i]);
        assert_row_int_equal(i, res.points[i].items, 200);
        assert_row_int_equal(i, res.points[i].requests, 200);
    }
    /* The knee is 0 (still growing) or one of the depths but the last. */
    assert_true(res.knee == 0 || res.knee == 1 || res.knee == 2 || res.knee == 4);
    assert_int_equal(res.loaded, 200);
    assert_int_equal(count(c), 0);

    dx_buf b = {0};
    assert_int_equal(dxj_bench_json(&res, &b), DX_OK);
    dx_arena a = {0};
    dx_value v;
    assert_int_equal(dx_decode_plain(&a, b.ptr, b.len, &v, &r), DX_OK);
    const dx_value *pts = dx_map_get(&v, "points");
    assert_non_null(pts);
    assert_int_equal(pts->type, DX_T_L);
    assert_int_equal(pts->n, 4);
    const dx_value *depth = dx_map_get(&pts->u.elems[3], "in_flight");
    assert_non_null(depth);
    assert_int_equal(depth->n, 1);
    assert_memory_equal(depth->u.s, "8", 1);
    assert_non_null(dx_map_get(&pts->u.elems[0], "cpu_ms_per_1k"));
    assert_non_null(dx_map_get(&v, "knee"));
    const dx_value *stopped = dx_map_get(&v, "stopped");
    assert_non_null(stopped);
    assert_int_equal(stopped->type, DX_T_BOOL);
    assert_int_equal(stopped->n, 0);
    const dx_value *op = dx_map_get(&v, "op");
    assert_non_null(op);
    assert_int_equal(op->n, strlen("update_by_key"));
    dx_arena_release(&a);
    dx_buf_free(&b);
    dx_client_free(c);
}

static void test_bad_options(void **state) {
    (void)state;
    static const struct {
        const char *field;
        int which;
    } rows[] = {{"in_flight", 0}, {"sample", 1}, {"op", 2}, {"workers", 3}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dxj_bench_opts o;
        memset(&o, 0, sizeof o);
        switch (rows[i].which) {
        case 0: o.nsweep = 2; o.sweep[0] = 1; o.sweep[1] = 0; break;
        case 1: o.sample = "x.csv"; break;
        case 2: o.op = (dxj_bench_op)99; break;
        case 3: o.workers = 5000; break;
        }
        dxj_bench_result res;
        dx_result r;
        dx_result_clear(&r);
        assert_row_int_equal(i, dxj_bench_run(&o, &res, &r), DX_ERR_CONFIG);
        assert_row_string_equal(i, r.field, rows[i].field);
    }
}

/* A duration run stops by itself and counts what it did. */
static void test_duration(void **state) {
    (void)state;
    dx_client *c = mem_with_table();
    dxj_bench_opts o;
    memset(&o, 0, sizeof o);
    o.duration_ms = 200;
    o.inflight = 4;
    o.client = c;
    dxj_bench_result res;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_bench_run(&o, &res, &r), DX_OK);
    assert_true(res.points[0].seconds >= 0.19 && res.points[0].seconds < 5);
    assert_true(res.points[0].items > 0);
    assert_int_equal(res.points[0].items % 25, 0);
    assert_true(res.cleanup_ok);
    assert_int_equal(count(c), 0);
    dx_client_free(c);
}

/* Ctrl-C: the CLI sets the stop flag, which ends the measured part; the
 * clean-up that follows must still delete every key the run wrote (it used
 * to see the flag too, delete nothing and report success). The flag is set
 * as the measured part ends, as a Ctrl-C arriving then would. */
static void stop_at_end(dxj_bench_phase ph, uint32_t inflight, void *ud) {
    (void)inflight;
    if (ph == DXJ_BENCH_PHASE_END) atomic_store((atomic_int *)ud, 1);
}

static void test_stop_still_cleans_up(void **state) {
    (void)state;
    static const struct {
        dxj_bench_op op;
        uint64_t items;
    } rows[] = {{DXJ_BENCH_PUT, 1000}, {DXJ_BENCH_UPDATE_BY_KEY, 300}, {DXJ_BENCH_GET_SAVE, 200}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_client *c = mem_with_table();
        atomic_int stop = 0;
        dxj_bench_opts o;
        memset(&o, 0, sizeof o);
        o.op = rows[i].op;
        o.items = rows[i].items;
        o.inflight = 4;
        o.client = c;
        o.stop = &stop;
        o.phase = stop_at_end;
        o.ud = &stop;
        dxj_bench_result res;
        dx_result r;
        dx_result_clear(&r);
        assert_row_int_equal(i, dxj_bench_run(&o, &res, &r), DX_OK);
        assert_row_int_equal(i, res.points[0].items, rows[i].items);
        assert_row_int_equal(i, atomic_load(&stop), 1);
        assert_row_int_equal(i, count(c), 0);
        assert_row_true(i, res.cleanup_ok);
        assert_row_int_equal(i, res.cleaned, rows[i].items);
        dx_client_free(c);
    }
}

/* Item bodies from a sample file: rows mapped by the model, keys generated; a bad row is skipped. */
static void test_sample_file(void **state) {
    (void)state;
    static const char model[] =
        "{\"name\":\"users\",\"config\":{\"table\":\"users_bench\"},\"attributes\":{"
        "\"id\":{\"type\":\"string\",\"key\":\"hash\"},\"name\":{\"type\":\"string\"},"
        "\"age\":{\"type\":\"number\"}}}";
    dx_model *m = NULL;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_model_from_json(model, strlen(model), &m, &r), DX_OK);
    char path[] = "/tmp/dynox_bench_sample_XXXXXX.csv";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    static const char csv[] = "id,name,age\na,Alice,30\nb,Bob,41\nc,Carol,not-a-number\n";
    assert_int_equal(write(fd, csv, sizeof csv - 1), (ssize_t)(sizeof csv - 1));
    close(fd);
    dxj_bench_opts o;
    memset(&o, 0, sizeof o);
    o.model = m;
    o.sample = path;
    o.items = 300;
    o.op = DXJ_BENCH_UPDATE_BY_KEY;
    dxj_bench_result res;
    dx_result_clear(&r);
    dx_err e = dxj_bench_run(&o, &res, &r);
    unlink(path);
    if (e) print_error("%s\n", r.message);
    assert_int_equal(e, DX_OK);
    assert_true(res.sampled);
    assert_int_equal(res.attributes, 3);
    assert_int_equal(res.points[0].items, 300);
    assert_int_equal(res.points[0].requests, 300);
    assert_int_equal(res.loaded, 300);
    assert_true(res.table_deleted);
    assert_string_equal(res.table, "users_bench");

    /* No usable row: the error names the file, the first bad line and its field. */
    char path2[] = "/tmp/dynox_bench_sample_XXXXXX.csv";
    int fd2 = mkstemps(path2, 4);
    assert_true(fd2 >= 0);
    static const char bad[] = "id,name,age\na,Alice,old\nb,Bob,older\n";
    assert_int_equal(write(fd2, bad, sizeof bad - 1), (ssize_t)(sizeof bad - 1));
    close(fd2);
    o.sample = path2;
    dx_result_clear(&r);
    e = dxj_bench_run(&o, &res, &r);
    unlink(path2);
    if (e != DX_ERR_CONFIG || !strstr(r.message, "line 2: age")) print_error("%s\n", r.message);
    assert_int_equal(e, DX_ERR_CONFIG);
    assert_non_null(strstr(r.message, path2));
    assert_non_null(strstr(r.message, "2 rejected"));
    assert_non_null(strstr(r.message, "line 2: age"));
    dx_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_model),
        cmocka_unit_test(test_op_names),
        cmocka_unit_test(test_counts_and_cleanup),
        cmocka_unit_test(test_keep),
        cmocka_unit_test(test_refuses_table_with_data),
        cmocka_unit_test(test_creates_and_deletes_table),
        cmocka_unit_test(test_sweep_and_json),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_stop_still_cleans_up),
        cmocka_unit_test(test_sample_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
