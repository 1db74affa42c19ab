/*
 * report.c - latency histogram, hot-key counter and the JSON report (see
 * report.h; the report's keys are documented in README.md, "Reports").
 *
 * The histogram maps a value v to a bucket by its highest set bit and the
 * DXJ_HIST_SUB_BITS bits below it: values below DXJ_HIST_LINEAR get a
 * bucket each, larger ones share a bucket with the values that agree in
 * those leading bits. Adding is a few shifts and an increment, so workers
 * can time every request.
 *
 * Must never: write a key out of its documented order, or a number JSON
 * cannot hold (NaN, infinity).
 */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- histogram */

static unsigned msb64(uint64_t v) { return 63u - (unsigned)__builtin_clzll(v); }

static size_t bucket_of(uint64_t v) {
    if (v < DXJ_HIST_LINEAR) return (size_t)v;
    unsigned m = msb64(v); /* >= SUB_BITS + 1 */
    unsigned shift = m - DXJ_HIST_SUB_BITS;
    size_t sub = (size_t)((v >> shift) & ((1u << DXJ_HIST_SUB_BITS) - 1));
    return DXJ_HIST_LINEAR + (size_t)(m - DXJ_HIST_SUB_BITS - 1) * (1u << DXJ_HIST_SUB_BITS) + sub;
}

/* The smallest and largest value of bucket i. */
static void bucket_range(size_t i, uint64_t *lo, uint64_t *hi) {
    if (i < DXJ_HIST_LINEAR) {
        *lo = *hi = i;
        return;
    }
    size_t k = i - DXJ_HIST_LINEAR;
    unsigned m = (unsigned)(k >> DXJ_HIST_SUB_BITS) + DXJ_HIST_SUB_BITS + 1;
    uint64_t sub = k & ((1u << DXJ_HIST_SUB_BITS) - 1);
    unsigned shift = m - DXJ_HIST_SUB_BITS;
    *lo = ((uint64_t)1 << m) | (sub << shift);
    *hi = *lo + (((uint64_t)1 << shift) - 1);
}

void dxj_hist_add(dxj_hist *h, uint64_t v) {
    h->b[bucket_of(v)]++;
    h->count++;
    if (v > h->max) h->max = v;
}

void dxj_hist_merge(dxj_hist *dst, const dxj_hist *src) {
    if (!src->count) return;
    for (size_t i = 0; i < DXJ_HIST_BUCKETS; i++) dst->b[i] += src->b[i];
    dst->count += src->count;
    if (src->max > dst->max) dst->max = src->max;
}

uint64_t dxj_hist_quantile(const dxj_hist *h, double q) {
    if (!h->count) return 0;
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < DXJ_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            bucket_range(i, &lo, &hi);
            uint64_t mid = lo + (hi - lo) / 2;
            return mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}

void dxj_hist_latency(const dxj_hist *h, dxj_latency *out) {
    out->count = h->count;
    out->p50_ms = (double)dxj_hist_quantile(h, 0.50) / 1e6;
    out->p95_ms = (double)dxj_hist_quantile(h, 0.95) / 1e6;
    out->p99_ms = (double)dxj_hist_quantile(h, 0.99) / 1e6;
    out->max_ms = (double)h->max / 1e6;
}

/* ---------------------------------------------------------------- hot keys */

static dxj_hot_key *hk_find(dxj_hotkeys *h, const char *key) {
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->e[i].key, key) == 0) return &h->e[i];
    return NULL;
}

void dxj_hotkeys_add(dxj_hotkeys *h, const char *key, const char *reason, uint64_t n) {
    char k[sizeof h->e->key];
    snprintf(k, sizeof k, "%s", key);
    dxj_hot_key *e = hk_find(h, k);
    if (!e) {
        if (h->n == h->cap) {
            size_t cap = h->cap ? h->cap * 2 : 16;
            dxj_hot_key *ne = h->n < DXJ_HOTKEYS_MAX ? realloc(h->e, cap * sizeof *ne) : NULL;
            if (!ne) {
                h->dropped += n;
                return;
            }
            h->e = ne;
            h->cap = cap;
        }
        e = &h->e[h->n++];
        memset(e, 0, sizeof *e);
        memcpy(e->key, k, sizeof k);
    }
    if (reason && reason[0]) snprintf(e->reason, sizeof e->reason, "%s", reason);
    e->throttles += n;
}

void dxj_hotkeys_merge(dxj_hotkeys *dst, const dxj_hotkeys *src) {
    for (size_t i = 0; i < src->n; i++)
        dxj_hotkeys_add(dst, src->e[i].key, src->e[i].reason, src->e[i].throttles);
    dst->dropped += src->dropped;
}

static int hk_cmp(const void *x, const void *y) {
    const dxj_hot_key *a = x, *b = y;
    if (a->throttles != b->throttles) return a->throttles > b->throttles ? -1 : 1;
    return strcmp(a->key, b->key);
}

size_t dxj_hotkeys_top(const dxj_hotkeys *h, dxj_hot_key *out, size_t max) {
    if (!h->n || !max) return 0;
    dxj_hot_key *tmp = malloc(h->n * sizeof *tmp);
    if (!tmp) return 0;
    memcpy(tmp, h->e, h->n * sizeof *tmp);
    qsort(tmp, h->n, sizeof *tmp, hk_cmp);
    size_t n = h->n < max ? h->n : max;
    memcpy(out, tmp, n * sizeof *out);
    free(tmp);
    return n;
}

void dxj_hotkeys_free(dxj_hotkeys *h) {
    free(h->e);
    memset(h, 0, sizeof *h);
}

/* ---------------------------------------------------------------- JSON */

const char *dxj_status_name(dxj_status s) {
    switch (s) {
    case DXJ_STATUS_COMPLETED: return "completed";
    case DXJ_STATUS_INTERRUPTED: return "interrupted";
    case DXJ_STATUS_FATAL: return "fatal";
    }
    return "unknown";
}

typedef struct jw {
    dx_buf *b;
    bool ok;
    int depth;
    bool first[8];
} jw;

static void jw_key(jw *w, const char *k) {
    if (!w->first[w->depth]) w->ok = w->ok && dx_buf_puts(w->b, ",");
    w->first[w->depth] = false;
    w->ok = w->ok && dx_buf_puts(w->b, "\n");
    for (int i = 0; i <= w->depth; i++) w->ok = w->ok && dx_buf_puts(w->b, "  ");
    if (k) w->ok = w->ok && dx_buf_put_json_str(w->b, k, strlen(k)) && dx_buf_puts(w->b, ": ");
}

static void jw_open(jw *w, const char *k, char c) {
    jw_key(w, k);
    w->ok = w->ok && dx_buf_putc(w->b, c);
    w->depth++;
    w->first[w->depth] = true;
}

static void jw_close(jw *w, char c) {
    bool empty = w->first[w->depth];
    w->depth--;
    if (!empty) {
        w->ok = w->ok && dx_buf_puts(w->b, "\n");
        for (int i = 0; i <= w->depth; i++) w->ok = w->ok && dx_buf_puts(w->b, "  ");
    }
    w->ok = w->ok && dx_buf_putc(w->b, c);
}

static void jw_u64(jw *w, const char *k, uint64_t v) {
    jw_key(w, k);
    w->ok = w->ok && dx_buf_printf(w->b, "%" PRIu64, v);
}

static void jw_num(jw *w, const char *k, double v, int decimals) {
    jw_key(w, k);
    if (!isfinite(v)) v = 0;
    w->ok = w->ok && dx_buf_printf(w->b, "%.*f", decimals, v);
}

static void jw_bool(jw *w, const char *k, bool v) {
    jw_key(w, k);
    w->ok = w->ok && dx_buf_puts(w->b, v ? "true" : "false");
}

static void jw_str(jw *w, const char *k, const char *s) {
    jw_key(w, k);
    if (!s) {
        w->ok = w->ok && dx_buf_puts(w->b, "null");
        return;
    }
    w->ok = w->ok && dx_buf_put_json_str(w->b, s, strlen(s));
}

dx_err dxj_report_json(const dxj_report *rep, dx_buf *out) {
    size_t start = out->len;
    jw w = {.b = out, .ok = true, .depth = 0};
    w.first[0] = true;
    w.ok = dx_buf_putc(out, '{');
    w.depth = 0;
    w.first[0] = true;
    /* depth 0 is the top object's members */
    jw_str(&w, "status", dxj_status_name(rep->status));
    jw_str(&w, "error", rep->error[0] ? rep->error : NULL);
    jw_str(&w, "op", rep->op);
    jw_str(&w, "backend", rep->backend);
    jw_bool(&w, "dry_run", rep->dry_run);
    jw_u64(&w, "rows_in", rep->rows_in);
    jw_u64(&w, "written", rep->written);
    jw_u64(&w, "rejected", rep->rejected);
    jw_u64(&w, "failed", rep->failed);
    jw_u64(&w, "superseded", rep->superseded);
    jw_u64(&w, "missing", rep->missing);
    jw_u64(&w, "conditional_failed", rep->conditional_failed);
    jw_u64(&w, "not_started", rep->not_started);
    jw_u64(&w, "after_stop", rep->after_stop);
    jw_u64(&w, "done_past_mark", rep->done_past_mark);
    jw_u64(&w, "skipped_done", rep->skipped_done);
    jw_u64(&w, "stopped_at_record", rep->stopped_at_record);
    jw_u64(&w, "stopped_at_line", rep->stopped_at_line);
    jw_bool(&w, "accounting_ok", rep->accounting_ok);
    jw_u64(&w, "total_rows_in", rep->total_rows_in);
    jw_u64(&w, "total_written", rep->total_written);
    jw_u64(&w, "total_rejected", rep->total_rejected);
    jw_u64(&w, "total_failed", rep->total_failed);
    jw_u64(&w, "resumed_from", rep->resumed_from);
    jw_u64(&w, "requests", rep->requests);
    jw_u64(&w, "retries", rep->retries);
    jw_u64(&w, "throttles", rep->throttles);
    jw_u64(&w, "errors", rep->errors);
    jw_num(&w, "rcu", rep->rcu, 1);
    jw_num(&w, "wcu", rep->wcu, 1);
    jw_open(&w, "latency", '{');
    jw_u64(&w, "count", rep->latency.count);
    jw_num(&w, "p50_ms", rep->latency.p50_ms, 3);
    jw_num(&w, "p95_ms", rep->latency.p95_ms, 3);
    jw_num(&w, "p99_ms", rep->latency.p99_ms, 3);
    jw_num(&w, "max_ms", rep->latency.max_ms, 3);
    jw_close(&w, '}');
    jw_open(&w, "hot_keys", '[');
    for (size_t i = 0; i < rep->nhot_keys && i < DXJ_HOT_KEYS; i++) {
        jw_open(&w, NULL, '{');
        jw_str(&w, "key", rep->hot_keys[i].key);
        jw_str(&w, "reason", rep->hot_keys[i].reason);
        jw_u64(&w, "throttles", rep->hot_keys[i].throttles);
        jw_close(&w, '}');
    }
    jw_close(&w, ']');
    jw_u64(&w, "verified", rep->verified);
    jw_u64(&w, "mismatched", rep->mismatched);
    jw_open(&w, "mismatches", '[');
    for (size_t i = 0; i < rep->nmismatches && i < DXJ_MISMATCHES; i++) {
        jw_open(&w, NULL, '{');
        jw_str(&w, "key", rep->mismatches[i].key);
        jw_str(&w, "what", rep->mismatches[i].what);
        jw_close(&w, '}');
    }
    jw_close(&w, ']');
    jw_str(&w, "pitr", rep->pitr);
    jw_num(&w, "duration_s", rep->duration_s, 3);
    jw_num(&w, "rows_per_s", rep->rows_per_s, 1);
    jw_str(&w, "started_at", rep->started_at);
    jw_str(&w, "finished_at", rep->finished_at);
    w.ok = w.ok && dx_buf_puts(out, "\n}\n");
    if (!w.ok) {
        out->len = start;
        if (out->ptr) out->ptr[start] = 0;
        return DX_ERR_NOMEM;
    }
    return DX_OK;
}
