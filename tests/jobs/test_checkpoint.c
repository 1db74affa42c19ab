/*
 * test_checkpoint.c - checkpoint files: round trip, atomic replacement (no
 * temporary left behind, the old file intact when writing fails), strict
 * reading of broken files, and dxj_file_sync.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "testutil.h"

typedef struct fx {
    char dir[64];
    char path[128];
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/dynox-cp-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/job.checkpoint", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char p[400];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static dxj_checkpoint sample(void) {
    dxj_checkpoint cp;
    memset(&cp, 0, sizeof cp);
    snprintf(cp.input, sizeof cp.input, "data/users \"2026\".csv");
    snprintf(cp.op, sizeof cp.op, "update_by_key");
    cp.input_bytes = 123456789012ull;
    cp.shard_index = 2;
    cp.shard_count = 8;
    cp.records = 18446744073709551615ull; /* the largest value round-trips */
    cp.offset = 99;
    cp.rows_in = 1000;
    cp.written = 990;
    cp.rejected = 7;
    cp.failed = 3;
    cp.superseded = 4;
    cp.missing = 2;
    cp.conditional_failed = 1;
    cp.rejects_size = 2048;
    cp.failures_size = 512;
    snprintf(cp.updated_at, sizeof cp.updated_at, "2026-11-25T12:00:00.000Z");
    return cp;
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void test_round_trip(void **state) {
    fx *f = *state;
    dxj_checkpoint cp = sample(), back;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_checkpoint_write(f->path, &cp, &r), DX_OK);
    assert_int_equal(count_files(f->dir), 1); /* no temporary left behind */
    assert_int_equal(dxj_checkpoint_read(f->path, &back, &r), DX_OK);
    assert_memory_equal(&cp, &back, sizeof cp);
    /* Overwrite: the new one replaces the old one. */
    cp.records = 5;
    assert_int_equal(dxj_checkpoint_write(f->path, &cp, &r), DX_OK);
    assert_int_equal(dxj_checkpoint_read(f->path, &back, &r), DX_OK);
    assert_int_equal(back.records, 5);
    assert_int_equal(count_files(f->dir), 1);
}

static void test_json_shape(void **state) {
    (void)state;
    dxj_checkpoint cp = sample();
    dx_buf b = {0};
    assert_int_equal(dxj_checkpoint_json(&cp, &b), DX_OK);
    static const char *const keys[] = {"version", "input", "op", "input_bytes", "shard_index",
                                       "shard_count", "records", "offset", "rows_in", "written",
                                       "rejected", "failed", "superseded", "missing",
                                       "conditional_failed", "rejects_size", "failures_size",
                                       "updated_at"};
    const char *prev = b.ptr;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char k[64];
        snprintf(k, sizeof k, "\"%s\":", keys[i]);
        const char *at = strstr(b.ptr, k);
        assert_row_true(i, at != NULL && at >= prev); /* present, in this order */
        prev = at;
    }
    assert_non_null(strstr(b.ptr, "\"input\": \"data/users \\\"2026\\\".csv\""));
    dx_buf_free(&b);
}

static void test_missing_file(void **state) {
    fx *f = *state;
    dxj_checkpoint cp;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_checkpoint_read(f->path, &cp, &r), DX_ERR_IO);
    assert_non_null(strstr(r.message, f->path));
    assert_non_null(strstr(r.message, "without --resume"));
}

static void test_broken_files(void **state) {
    fx *f = *state;
    dxj_checkpoint good = sample();
    dx_buf b = {0};
    dxj_checkpoint_json(&good, &b);
    struct {
        const char *from, *to, *expect;
    } cases[] = {
        {"\"records\"", "\"recordz\"", "'records' is missing"},
        {"\"version\": 1", "\"version\": 3", "version 3"},
        {"\"version\": 1", "\"version\": 0", "version 0"},
        {"\"failures_size\": 512,", "\"failures_size\": 512, \"done_after_mark\": [[5, 3]],",
         "not sorted"},
        {"\"failures_size\": 512,",
         "\"failures_size\": 512, \"done_after_mark\": [[5, 9], [9, 12]],", "not sorted"},
        {"\"failures_size\": 512,", "\"failures_size\": 512, \"done_after_mark\": [[5]],",
         "pairs"},
        {"\"failures_size\": 512,", "\"failures_size\": 512, \"done_after_mark\": [5, 6],",
         "not a valid dynox checkpoint"},
        /* sample() has records = UINT64_MAX: no ordinal is after that mark */
        {"\"failures_size\": 512,", "\"failures_size\": 512, \"done_after_mark\": [[5, 6]],",
         "not after the mark"},
        {"\"offset\": 99", "\"offset\": -1", "not a valid dynox checkpoint"},
        {"\"offset\": 99", "\"offset\": 1.5", "not a non-negative integer"},
        {"\"op\": \"update_by_key\"", "\"op\": 7", "not a valid dynox checkpoint"},
        {"\n}\n", "\n", "not a valid dynox checkpoint"}, /* torn */
        {"\n}\n", "\n}\n{}", "text after"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *at = strstr(b.ptr, cases[i].from);
        assert_row_true(i, at != NULL);
        FILE *o = fopen(f->path, "wb");
        fwrite(b.ptr, 1, (size_t)(at - b.ptr), o);
        fputs(cases[i].to, o);
        fputs(at + strlen(cases[i].from), o);
        fclose(o);
        dxj_checkpoint cp;
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dxj_checkpoint_read(f->path, &cp, &r);
        if (e != DX_ERR_PARSE || !strstr(r.message, cases[i].expect))
            print_error("row %zu: %s -> %s: %s\n", i, cases[i].from, cases[i].to, r.message);
        assert_row_int_equal(i, e, DX_ERR_PARSE);
        assert_row_true(i, strstr(r.message, cases[i].expect) != NULL);
    }
    /* Unknown keys are ignored (a newer dynox may add some). */
    FILE *o = fopen(f->path, "wb");
    fprintf(o, "{\"future\": [1, {\"x\": null}], %s", b.ptr + 1);
    fclose(o);
    dxj_checkpoint cp;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_checkpoint_read(f->path, &cp, &r), DX_OK);
    assert_int_equal(cp.written, 990);
    dx_buf_free(&b);
}

/*
 * The rows done past the mark round-trip as ranges (version 2); a checkpoint
 * without them -- what dynox wrote before they existed -- says version 1 and
 * still loads, with an empty set.
 */
static void test_done_after_mark(void **state) {
    fx *f = *state;
    dxj_checkpoint cp = sample(), back;
    cp.records = 4000;
    uint64_t ranges[3][2] = {{4003, 4003}, {4010, 4999}, {5002, 6100}};
    cp.done = ranges;
    cp.ndone = 3;
    dx_result r;
    dx_result_clear(&r);
    dx_buf b = {0};
    assert_int_equal(dxj_checkpoint_json(&cp, &b), DX_OK);
    assert_non_null(strstr(b.ptr, "\"version\": 2,"));
    assert_non_null(
        strstr(b.ptr, "\"done_after_mark\": [[4003, 4003], [4010, 4999], [5002, 6100]],\n"));
    dx_buf_free(&b);
    assert_int_equal(dxj_checkpoint_write(f->path, &cp, &r), DX_OK);
    assert_int_equal(dxj_checkpoint_read(f->path, &back, &r), DX_OK);
    assert_int_equal(back.ndone, 3);
    assert_memory_equal(back.done, ranges, sizeof ranges);
    assert_int_equal(back.records, 4000);
    assert_false(dxj_checkpoint_done_has(back.done, back.ndone, 4002));
    assert_true(dxj_checkpoint_done_has(back.done, back.ndone, 4003));
    assert_false(dxj_checkpoint_done_has(back.done, back.ndone, 4004));
    assert_true(dxj_checkpoint_done_has(back.done, back.ndone, 4010));
    assert_true(dxj_checkpoint_done_has(back.done, back.ndone, 4500));
    assert_true(dxj_checkpoint_done_has(back.done, back.ndone, 4999));
    assert_false(dxj_checkpoint_done_has(back.done, back.ndone, 5001));
    assert_true(dxj_checkpoint_done_has(back.done, back.ndone, 6100));
    assert_false(dxj_checkpoint_done_has(back.done, back.ndone, 6101));
    dxj_checkpoint_free(&back);
    assert_null(back.done);

    /* A checkpoint as dynox wrote it before the set existed. */
    static const char old[] =
        "{\n  \"version\": 1,\n  \"input\": \"in.jsonl\",\n  \"op\": \"put\",\n"
        "  \"input_bytes\": 10,\n  \"shard_index\": 0,\n  \"shard_count\": 0,\n"
        "  \"records\": 7,\n  \"offset\": 70,\n  \"rows_in\": 7,\n  \"written\": 7,\n"
        "  \"rejected\": 0,\n  \"failed\": 0,\n  \"superseded\": 0,\n  \"missing\": 0,\n"
        "  \"conditional_failed\": 0,\n  \"rejects_size\": 0,\n  \"failures_size\": 0,\n"
        "  \"updated_at\": \"2026-11-25T12:00:00.000Z\"\n}\n";
    FILE *o = fopen(f->path, "wb");
    fputs(old, o);
    fclose(o);
    assert_int_equal(dxj_checkpoint_read(f->path, &back, &r), DX_OK);
    assert_int_equal(back.records, 7);
    assert_int_equal(back.ndone, 0);
    assert_null(back.done);
    /* and one without a set is written the same way, as version 1 */
    b = (dx_buf){0};
    assert_int_equal(dxj_checkpoint_json(&back, &b), DX_OK);
    assert_non_null(strstr(b.ptr, "\"version\": 1,"));
    assert_null(strstr(b.ptr, "done_after_mark"));
    dx_buf_free(&b);
}

static void test_write_failure_keeps_old(void **state) {
    fx *f = *state;
    dxj_checkpoint cp = sample(), back;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_checkpoint_write(f->path, &cp, &r), DX_OK);
    if (geteuid() == 0) {
        /* root ignores directory permissions; use a path whose directory does not exist. */
        char bad[256];
        snprintf(bad, sizeof bad, "%s/nope/job.checkpoint", f->dir);
        assert_int_equal(dxj_checkpoint_write(bad, &cp, &r), DX_ERR_IO);
        assert_non_null(strstr(r.message, "nope"));
    } else {
        chmod(f->dir, 0500);
        cp.records = 1;
        assert_int_equal(dxj_checkpoint_write(f->path, &cp, &r), DX_ERR_IO);
        chmod(f->dir, 0700);
    }
    assert_int_equal(dxj_checkpoint_read(f->path, &back, &r), DX_OK);
    assert_int_equal(back.records, sample().records); /* the old checkpoint is intact */
}

static void test_file_sync(void **state) {
    fx *f = *state;
    char p[160];
    snprintf(p, sizeof p, "%s/rejects.jsonl", f->dir);
    FILE *o = fopen(p, "wb");
    fputs("{\"a\":1}\n{\"a\":2}\n", o); /* buffered, not yet written */
    uint64_t size = 0;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_file_sync(o, p, &size, &r), DX_OK);
    assert_int_equal(size, 16);
    struct stat st;
    stat(p, &st);
    assert_int_equal(st.st_size, 16);
    fclose(o);
}

static void test_iso8601(void **state) {
    (void)state;
    char out[32];
    dxj_iso8601(1795608000123ull, out);
    assert_string_equal(out, "2026-11-25T12:00:00.123Z");
    dxj_iso8601(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_done_after_mark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_keeps_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_sync, setup, teardown),
        cmocka_unit_test(test_iso8601),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
