/*
 * test_report.c - latency histogram (bucket accuracy, quantiles, merge),
 * hot-key counter, and the report JSON (valid JSON, documented keys in their
 * stable order, values as given).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "testutil.h"

static void test_hist_exact_small(void **state) {
    (void)state;
    dxj_hist *h = calloc(1, sizeof *h);
    for (uint64_t v = 1; v <= 100; v++) dxj_hist_add(h, v);
    assert_int_equal(h->count, 100);
    assert_int_equal(h->max, 100);
    assert_int_equal(dxj_hist_quantile(h, 0.50), 50);
    assert_int_equal(dxj_hist_quantile(h, 0.95), 95);
    assert_int_equal(dxj_hist_quantile(h, 0.99), 99);
    assert_int_equal(dxj_hist_quantile(h, 1.0), 100);
    assert_int_equal(dxj_hist_quantile(h, 0.0), 1);
    free(h);
}

static void test_hist_relative_error(void **state) {
    (void)state;
    /* Every value maps to a bucket whose representative is within 1.6%. */
    static const uint64_t vals[] = {128, 129, 1000, 4095, 4096, 123456, 999999, 1000000,
                                    5000000000ull, 123456789012345ull, UINT64_MAX / 3};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        dxj_hist *h = calloc(1, sizeof *h);
        dxj_hist_add(h, vals[i]);
        dxj_hist_add(h, UINT64_MAX / 2); /* max far away, so the representative is not clipped */
        uint64_t q = dxj_hist_quantile(h, 0.5);
        double err = fabs((double)q - (double)vals[i]) / (double)vals[i];
        if (err > 0.016) print_error("row %zu: %llu -> %llu\n", i, (unsigned long long)vals[i],
                                     (unsigned long long)q);
        assert_row_true(i, err <= 0.016);
        free(h);
    }
}

static void test_hist_quantiles_and_merge(void **state) {
    (void)state;
    dxj_hist *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b), *all = calloc(1, sizeof *all);
    /* 1..10000 microseconds, as nanoseconds, split over two workers. */
    for (uint64_t i = 1; i <= 10000; i++) {
        uint64_t ns = i * 1000;
        dxj_hist_add(i % 2 ? a : b, ns);
        dxj_hist_add(all, ns);
    }
    dxj_hist m;
    memset(&m, 0, sizeof m);
    dxj_hist_merge(&m, a);
    dxj_hist_merge(&m, b);
    assert_int_equal(m.count, 10000);
    assert_int_equal(m.max, 10000000);
    assert_memory_equal(m.b, all->b, sizeof m.b);
    dxj_latency l;
    dxj_hist_latency(&m, &l);
    assert_int_equal(l.count, 10000);
    assert_true(fabs(l.p50_ms - 5.0) / 5.0 < 0.016);
    assert_true(fabs(l.p95_ms - 9.5) / 9.5 < 0.016);
    assert_true(fabs(l.p99_ms - 9.9) / 9.9 < 0.016);
    assert_true(l.max_ms == 10.0);
    /* Empty histogram: zeros. */
    dxj_hist e;
    memset(&e, 0, sizeof e);
    dxj_hist_latency(&e, &l);
    assert_true(l.p50_ms == 0 && l.max_ms == 0 && l.count == 0);
    free(a);
    free(b);
    free(all);
}

static void test_hotkeys(void **state) {
    (void)state;
    dxj_hotkeys a = {0}, b = {0};
    dxj_hotkeys_add(&a, "{\"id\":\"x\"}", "TableWriteKeyRangeThroughputExceeded", 3);
    dxj_hotkeys_add(&a, "{\"id\":\"y\"}", "TableWriteKeyRangeThroughputExceeded", 1);
    dxj_hotkeys_add(&b, "{\"id\":\"y\"}", NULL, 5);
    dxj_hotkeys_add(&b, "{\"id\":\"z\"}", "TableReadKeyRangeThroughputExceeded", 3);
    for (int i = 0; i < 20; i++) {
        char k[32];
        snprintf(k, sizeof k, "{\"id\":\"k%02d\"}", i);
        dxj_hotkeys_add(&b, k, "r", 1);
    }
    dxj_hotkeys_merge(&a, &b);
    dxj_hot_key top[DXJ_HOT_KEYS];
    size_t n = dxj_hotkeys_top(&a, top, DXJ_HOT_KEYS);
    assert_int_equal(n, DXJ_HOT_KEYS);
    assert_string_equal(top[0].key, "{\"id\":\"y\"}");
    assert_int_equal(top[0].throttles, 6);
    assert_string_equal(top[0].reason, "TableWriteKeyRangeThroughputExceeded");
    assert_string_equal(top[1].key, "{\"id\":\"x\"}"); /* ties broken by key */
    assert_string_equal(top[2].key, "{\"id\":\"z\"}");
    assert_string_equal(top[3].key, "{\"id\":\"k00\"}");
    /* Long keys are truncated to fit, and still counted together. */
    char lng[300];
    memset(lng, 'a', sizeof lng - 1);
    lng[sizeof lng - 1] = 0;
    dxj_hotkeys_add(&a, lng, "r", 100);
    dxj_hotkeys_add(&a, lng, "r", 100);
    n = dxj_hotkeys_top(&a, top, 1);
    assert_int_equal(n, 1);
    assert_int_equal(top[0].throttles, 200);
    assert_int_equal(strlen(top[0].key), sizeof top[0].key - 1);
    dxj_hotkeys_free(&a);
    dxj_hotkeys_free(&b);
}

static dxj_report sample_report(void) {
    dxj_report rep;
    memset(&rep, 0, sizeof rep);
    rep.status = DXJ_STATUS_INTERRUPTED;
    rep.op = "put";
    rep.backend = "memory";
    rep.dry_run = true;
    rep.rows_in = 10;
    rep.written = 7;
    rep.rejected = 2;
    rep.failed = 1;
    rep.superseded = 1;
    rep.not_started = 40;
    rep.after_stop = 3;
    rep.done_past_mark = 4; /* in written */
    rep.skipped_done = 6;
    rep.stopped_at_record = 107;
    rep.stopped_at_line = 108;
    rep.accounting_ok = true;
    rep.total_rows_in = 110;
    rep.total_written = 107;
    rep.total_rejected = 2;
    rep.total_failed = 1;
    rep.resumed_from = 100;
    rep.requests = 3;
    rep.rcu = 1.25;
    rep.wcu = NAN; /* never written as NaN */
    rep.latency.count = 3;
    rep.latency.p50_ms = 1.5;
    rep.nhot_keys = 1;
    snprintf(rep.hot_keys[0].key, sizeof rep.hot_keys[0].key, "{\"id\":\"a\\\"b\"}");
    snprintf(rep.hot_keys[0].reason, sizeof rep.hot_keys[0].reason, "KeyRange");
    rep.hot_keys[0].throttles = 4;
    rep.verified = 5;
    rep.mismatched = 1;
    rep.nmismatches = 1;
    snprintf(rep.mismatches[0].key, sizeof rep.mismatches[0].key, "{\"id\":\"k\"}");
    snprintf(rep.mismatches[0].what, sizeof rep.mismatches[0].what, "item missing");
    rep.pitr = NULL;
    rep.duration_s = 2;
    rep.rows_per_s = 5;
    snprintf(rep.started_at, sizeof rep.started_at, "2026-11-25T12:00:00.000Z");
    snprintf(rep.finished_at, sizeof rep.finished_at, "2026-11-25T12:00:02.000Z");
    return rep;
}

static void test_report_json(void **state) {
    (void)state;
    dxj_report rep = sample_report();
    dx_buf b = {0};
    assert_int_equal(dxj_report_json(&rep, &b), DX_OK);
    /* Valid JSON, parsed by dynox's own plain decoder. */
    dx_arena a = {0};
    dx_value v;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_decode_plain(&a, b.ptr, b.len, &v, &r), DX_OK);
    assert_int_equal(v.type, DX_T_M);
    static const char *const keys[] = {
        "status", "error", "op", "backend", "dry_run", "rows_in", "written", "rejected",
        "failed", "superseded", "missing", "conditional_failed", "not_started", "after_stop",
        "done_past_mark", "skipped_done", "stopped_at_record", "stopped_at_line", "accounting_ok",
        "total_rows_in", "total_written", "total_rejected", "total_failed", "resumed_from",
        "requests", "retries", "throttles", "errors", "rcu", "wcu", "latency", "hot_keys",
        "verified", "mismatched", "mismatches", "pitr", "duration_s", "rows_per_s",
        "started_at", "finished_at"};
    size_t nk = sizeof keys / sizeof keys[0];
    assert_int_equal(v.n, nk);
    for (size_t i = 0; i < nk; i++) assert_row_string_equal(i, v.u.members[i].name, keys[i]);
    const dx_value *x;
    assert_non_null(x = dx_map_get(&v, "status"));
    assert_true(dx_str_eq((dx_str){x->u.s, x->n}, "interrupted"));
    assert_non_null(x = dx_map_get(&v, "error"));
    assert_int_equal(x->type, DX_T_NULL);
    assert_non_null(x = dx_map_get(&v, "pitr"));
    assert_int_equal(x->type, DX_T_NULL);
    assert_non_null(x = dx_map_get(&v, "wcu"));
    assert_true(dx_str_eq((dx_str){x->u.s, x->n}, "0"));
    assert_non_null(x = dx_map_get(&v, "rcu"));
    assert_true(dx_str_eq((dx_str){x->u.s, x->n}, "1.2") || dx_str_eq((dx_str){x->u.s, x->n}, "1.3"));
    assert_non_null(x = dx_map_get(&v, "resumed_from"));
    assert_true(dx_str_eq((dx_str){x->u.s, x->n}, "100"));
    assert_non_null(x = dx_map_get(&v, "after_stop"));
    assert_true(dx_str_eq((dx_str){x->u.s, x->n}, "3"));
    assert_non_null(x = dx_map_get(&v, "done_past_mark"));
    assert_true(dx_str_eq((dx_str){x->u.s, x->n}, "4"));
    assert_non_null(x = dx_map_get(&v, "skipped_done"));
    assert_true(dx_str_eq((dx_str){x->u.s, x->n}, "6"));
    assert_non_null(x = dx_map_get(&v, "latency"));
    assert_int_equal(x->n, 5);
    assert_string_equal(x->u.members[1].name, "p50_ms");
    assert_true(dx_str_eq((dx_str){x->u.members[1].value.u.s, x->u.members[1].value.n}, "1.5"));
    assert_non_null(x = dx_map_get(&v, "hot_keys"));
    assert_int_equal(x->type, DX_T_L);
    assert_int_equal(x->n, 1);
    const dx_value *k = dx_map_get(&x->u.elems[0], "key");
    assert_true(dx_str_eq((dx_str){k->u.s, k->n}, "{\"id\":\"a\\\"b\"}"));
    assert_non_null(x = dx_map_get(&v, "mismatches"));
    assert_int_equal(x->n, 1);
    k = dx_map_get(&x->u.elems[0], "what");
    assert_true(dx_str_eq((dx_str){k->u.s, k->n}, "item missing"));
    /* Empty lists are [] and the text ends with a newline. */
    dx_buf_clear(&b);
    rep.nhot_keys = rep.nmismatches = 0;
    rep.status = DXJ_STATUS_FATAL;
    snprintf(rep.error, sizeof rep.error, "table users does not exist");
    assert_int_equal(dxj_report_json(&rep, &b), DX_OK);
    assert_non_null(strstr(b.ptr, "\"hot_keys\": [],"));
    assert_non_null(strstr(b.ptr, "\"error\": \"table users does not exist\""));
    assert_non_null(strstr(b.ptr, "\"status\": \"fatal\""));
    assert_int_equal(b.ptr[b.len - 1], '\n');
    dx_arena_release(&a);
    dx_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_exact_small),  cmocka_unit_test(test_hist_relative_error),
        cmocka_unit_test(test_hist_quantiles_and_merge), cmocka_unit_test(test_hotkeys),
        cmocka_unit_test(test_report_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
