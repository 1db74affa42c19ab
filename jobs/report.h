/*
 * report.h - what a run measured, and the final JSON report.
 *
 * A latency histogram (log-linear, HDR-style: exact below 128 ns, then 64
 * sub-buckets per power of two, so every quantile is within 1.6% of the
 * true value) that each worker fills on its own and the runner merges at the
 * end; a hot-key counter for throttles DynamoDB attributes to one key; and
 * dxj_report_json (declared in runner.h), the report writer with a stable
 * key order.
 *
 * Threads: a histogram or hot-key counter belongs to one thread; merging is
 * done by the owner of the destination once the sources are no longer
 * written.
 */
#ifndef DYNOX_JOBS_REPORT_H
#define DYNOX_JOBS_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "runner.h"

#define DXJ_HIST_SUB_BITS 6
#define DXJ_HIST_LINEAR (1u << (DXJ_HIST_SUB_BITS + 1)) /* 128 exact buckets */
#define DXJ_HIST_BUCKETS (DXJ_HIST_LINEAR + (64 - DXJ_HIST_SUB_BITS - 1) * (1u << DXJ_HIST_SUB_BITS))

/* Zero-initialised is an empty histogram. Values are nanoseconds. */
typedef struct dxj_hist {
    uint64_t count, max;
    uint64_t b[DXJ_HIST_BUCKETS];
} dxj_hist;

void dxj_hist_add(dxj_hist *h, uint64_t v);
void dxj_hist_merge(dxj_hist *dst, const dxj_hist *src);
/* The value at quantile q (0..1): the representative of the bucket holding it, at most max. 0 when empty. */
uint64_t dxj_hist_quantile(const dxj_hist *h, double q);
/* p50/p95/p99/max in milliseconds. */
void dxj_hist_latency(const dxj_hist *h, dxj_latency *out);

/* Counts throttles per key (keys as compact JSON, truncated to fit dxj_hot_key.key). */
typedef struct dxj_hotkeys {
    dxj_hot_key *e;
    size_t n, cap;
    uint64_t dropped; /* throttles not counted because the table was full */
} dxj_hotkeys;

#define DXJ_HOTKEYS_MAX 4096 /* distinct keys tracked per counter */

void dxj_hotkeys_add(dxj_hotkeys *h, const char *key, const char *reason, uint64_t n);
void dxj_hotkeys_merge(dxj_hotkeys *dst, const dxj_hotkeys *src);
/* The `max` most throttled keys, most first (ties by key), into out; returns how many. */
size_t dxj_hotkeys_top(const dxj_hotkeys *h, dxj_hot_key *out, size_t max);
void dxj_hotkeys_free(dxj_hotkeys *h);

/* "completed", "interrupted", "fatal". */
const char *dxj_status_name(dxj_status s);

#endif
