/*
 * bench.c - `dynox bench`: drive one operation against a table and measure
 * it (see bench.h for what is measured and the safety rules).
 *
 * DESIGN
 * A run has phases: set-up (the table is described, created when missing,
 * checked for data with a Scan of Limit 1; items are loaded for operations
 * that need them), one measured part per in-flight depth, and clean-up
 * (delete every key written, or the table when it was created here). Every
 * phase uses the same machinery: `drive` starts W worker threads, each with
 * its own engine and M call slots; the workers claim item indices from one
 * atomic counter, 25 at a time for batch operations and one at a time
 * otherwise, and keep every slot busy until the work (a count, a duration,
 * or a stop request) is exhausted. Indices map to keys with the run's random
 * tag, so a run touches only what it created.
 *
 * Items are generated straight into each call's arena from the index and a
 * version (updates write version + 1): no allocation per item beyond the
 * arena, which a slot reuses for every call it makes. A sample file's rows
 * are read once, up front, and reused round robin with generated keys.
 *
 * Measurement: wall time and getrusage(RUSAGE_SELF) around the measured part
 * only, between two barriers so that thread start-up and engine creation are
 * not counted; requests, retries, throttles and capacity from the client's
 * statistics (deltas); latency per call (a batch is one call) in a
 * log-linear histogram per worker, merged at the end.
 *
 * Must never: print; write a key that does not carry the run's tag; leave a
 * worker thread running when dxj_bench_run returns.
 */
#include "bench.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "backend.h"
#include "mapper.h"
#include "reader.h"
#include "report.h"
#include "spec.h"

#define BATCH 25
#define DEFAULT_WORKERS 2
#define DEFAULT_INFLIGHT 32
#define DEFAULT_SAMPLE_ROWS 1000
#define BUILTIN_TABLE "dynox_bench"

/* ---------------------------------------------------------------- names */

const char *dxj_bench_op_name(dxj_bench_op op) {
    switch (op) {
    case DXJ_BENCH_PUT: return "put";
    case DXJ_BENCH_UPDATE_BY_KEY: return "update_by_key";
    case DXJ_BENCH_DELETE_BY_KEY: return "delete_by_key";
    case DXJ_BENCH_GET: return "get";
    case DXJ_BENCH_GET_SAVE: return "get_save";
    }
    return "unknown";
}

int dxj_bench_op_from_name(const char *s) {
    static const dxj_bench_op all[] = {DXJ_BENCH_PUT, DXJ_BENCH_UPDATE_BY_KEY,
                                       DXJ_BENCH_DELETE_BY_KEY, DXJ_BENCH_GET,
                                       DXJ_BENCH_GET_SAVE};
    for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, dxj_bench_op_name(all[i])) == 0) return (int)all[i];
    return -1;
}

/* ---------------------------------------------------------------- model */

dx_err dxj_bench_builtin_model(const char *table, dx_model **out, dx_result *r) {
    static const dx_attr_def attrs[] = {
        {.name = "id", .type = DX_ATTR_STRING, .key = DX_KEY_HASH},
        {.name = "name", .type = DX_ATTR_STRING},
        {.name = "email", .type = DX_ATTR_STRING},
        {.name = "age", .type = DX_ATTR_NUMBER},
        {.name = "score", .type = DX_ATTR_NUMBER},
        {.name = "active", .type = DX_ATTR_BOOL},
        {.name = "country", .type = DX_ATTR_STRING},
        {.name = "plan", .type = DX_ATTR_STRING},
        {.name = "created_at", .type = DX_ATTR_DATETIME},
        {.name = "version", .type = DX_ATTR_NUMBER},
    };
    dx_model_config cfg = {.table = table ? table : BUILTIN_TABLE};
    return dx_model_new("bench", attrs, sizeof attrs / sizeof attrs[0], &cfg, out, r);
}

/* ---------------------------------------------------------------- items */

typedef struct gen {
    const dx_model *m;
    bool builtin;
    const dx_attr_def *hash, *range;
    char tag[16];
    char prefix[32];     /* "bench-<tag>-", for S keys */
    uint64_t tagnum;     /* numeric form of the tag, for N keys */
    uint64_t seed;
    dx_value *samples;   /* sampled item bodies (M), in sample_arena */
    size_t nsamples;
    size_t pad;          /* bytes of padding added to the first plain string attribute */
    const char *pad_attr;
} gen;

static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static const char *const countries[] = {"DE", "FR", "US", "JP", "BR", "IN", "GB", "NG"};
static const char *const plans[] = {"free", "standard", "premium", "business"};

static bool put_s(dx_arena *a, dx_value *v, const char *fmt, ...) DX_PRINTF(3, 4);
static bool put_s(dx_arena *a, dx_value *v, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return false;
    if ((size_t)n >= sizeof buf) n = (int)sizeof buf - 1;
    char *s = dx_arena_strndup(a, buf, (size_t)n);
    if (!s) return false;
    *v = dx_vsn(s, (size_t)n);
    return true;
}

static bool put_n(dx_arena *a, dx_value *v, const char *fmt, ...) DX_PRINTF(3, 4);
static bool put_n(dx_arena *a, dx_value *v, const char *fmt, ...) {
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) return false;
    char *s = dx_arena_strndup(a, buf, (size_t)n);
    if (!s) return false;
    v->type = DX_T_N;
    v->n = (uint32_t)n;
    v->u.s = s;
    return true;
}

/* Writes v as `width` decimal digits (zero-padded; width 0: as many as needed). */
static char *put_dec(char *p, uint64_t v, int width) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width) tmp[n++] = '0';
    while (n) *p++ = tmp[--n];
    return p;
}

/* Copies the n bytes at s into the arena as an S (or N) value. */
static bool put_bytes(dx_arena *a, dx_value *v, dx_type t, const char *s, size_t n) {
    char *c = dx_arena_strndup(a, s, n);
    if (!c) return false;
    v->type = t;
    v->n = (uint32_t)n;
    v->u.s = c;
    return true;
}

/* Hot path of the built-in model: "<prefix><digits><suffix>" without printf. */
static bool put_fmt(dx_arena *a, dx_value *v, dx_type t, const char *prefix, uint64_t num,
                    int width, const char *suffix) {
    char buf[96], *p = buf;
    size_t pl = strlen(prefix), sl = suffix ? strlen(suffix) : 0;
    memcpy(p, prefix, pl);
    p = put_dec(p + pl, num, width);
    if (sl) memcpy(p, suffix, sl);
    return put_bytes(a, v, t, buf, (size_t)(p - buf) + sl);
}

/* ISO 8601 with milliseconds for epoch seconds s. */
static bool put_iso(dx_arena *a, dx_value *v, time_t s, unsigned ms) {
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[32], *p = buf;
    p = put_dec(p, (uint64_t)tm.tm_year + 1900, 4);
    *p++ = '-';
    p = put_dec(p, (uint64_t)tm.tm_mon + 1, 2);
    *p++ = '-';
    p = put_dec(p, (uint64_t)tm.tm_mday, 2);
    *p++ = 'T';
    p = put_dec(p, (uint64_t)tm.tm_hour, 2);
    *p++ = ':';
    p = put_dec(p, (uint64_t)tm.tm_min, 2);
    *p++ = ':';
    p = put_dec(p, (uint64_t)tm.tm_sec, 2);
    *p++ = '.';
    p = put_dec(p, ms % 1000u, 3);
    *p++ = 'Z';
    return put_bytes(a, v, DX_T_S, buf, (size_t)(p - buf));
}

/* The key attribute values for index idx. */
static bool key_value(const gen *g, const dx_attr_def *d, bool hash, uint64_t idx, dx_arena *a,
                      dx_value *v) {
    dx_type t = dx_attr_type_storage(d->type);
    if (!hash) { /* range key: a constant, so the hash key alone makes items unique */
        if (t == DX_T_N) return put_n(a, v, "0");
        if (t == DX_T_B) {
            char *b = dx_arena_strndup(a, "r", 1);
            if (!b) return false;
            *v = dx_vb(b, 1);
            return true;
        }
        if (d->type == DX_ATTR_DATETIME) return put_s(a, v, "2026-01-01T00:00:00Z");
        return put_s(a, v, "r");
    }
    if (t == DX_T_N) return put_n(a, v, "%" PRIu64 "%012" PRIu64, g->tagnum, idx);
    if (t == DX_T_B) {
        unsigned char *b = dx_arena_alloc(a, 16);
        if (!b) return false;
        memcpy(b, &g->tagnum, 8);
        memcpy(b + 8, &idx, 8);
        *v = dx_vb(b, 16);
        return true;
    }
    if (d->type == DX_ATTR_DATETIME) { /* unusual; the milliseconds carry part of the tag */
        time_t s = (time_t)(946684800 + idx);
        struct tm tm;
        gmtime_r(&s, &tm);
        return put_s(a, v, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (unsigned)(g->tagnum % 1000));
    }
    return put_fmt(a, v, DX_T_S, g->prefix, idx, 10, NULL);
}

static bool gen_key(const gen *g, uint64_t idx, dx_arena *a, dx_value *out) {
    dx_member *m = dx_arena_alloc(a, 2 * sizeof *m);
    if (!m) return false;
    size_t n = 0;
    m[n].name = g->hash->name;
    m[n].name_len = (uint32_t)strlen(g->hash->name);
    if (!key_value(g, g->hash, true, idx, a, &m[n].value)) return false;
    n++;
    if (g->range) {
        m[n].name = g->range->name;
        m[n].name_len = (uint32_t)strlen(g->range->name);
        if (!key_value(g, g->range, false, idx, a, &m[n].value)) return false;
        n++;
    }
    *out = dx_vmap(m, n);
    return true;
}

/* A value of the attribute's type, varying with h. */
static bool gen_value(const gen *g, const dx_attr_def *d, uint64_t h, uint32_t version,
                      dx_arena *a, dx_value *v) {
    (void)g;
    switch (d->type) {
    case DX_ATTR_STRING: return put_s(a, v, "v%011" PRIx64, (uint64_t)(h & 0xffffffffffu));
    case DX_ATTR_NUMBER: return put_n(a, v, "%" PRIu64, h % 1000000u + version);
    case DX_ATTR_TTL: return put_n(a, v, "%" PRIu64, (uint64_t)1900000000u + h % 1000000u);
    case DX_ATTR_BOOL: *v = dx_vbool(h & 1); return true;
    case DX_ATTR_DATETIME: {
        time_t s = (time_t)(1700000000 + h % 50000000u);
        struct tm tm;
        gmtime_r(&s, &tm);
        return put_s(a, v, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (unsigned)(h % 1000u));
    }
    case DX_ATTR_JSON: return put_s(a, v, "{\"n\":%" PRIu64 "}", h % 100000u);
    case DX_ATTR_BINARY: {
        unsigned char *b = dx_arena_alloc(a, 8);
        if (!b) return false;
        memcpy(b, &h, 8);
        *v = dx_vb(b, 8);
        return true;
    }
    case DX_ATTR_LIST:
    case DX_ATTR_STRING_SET:
    case DX_ATTR_NUMBER_SET: {
        dx_value *e = dx_arena_alloc(a, 2 * sizeof *e);
        if (!e) return false;
        bool num = d->type == DX_ATTR_NUMBER_SET;
        if (num) {
            if (!put_n(a, &e[0], "%" PRIu64, h % 1000u) || !put_n(a, &e[1], "%" PRIu64, 1000u + h % 1000u))
                return false;
        } else {
            if (!put_s(a, &e[0], "a%" PRIu64, h % 1000u) || !put_s(a, &e[1], "b%" PRIu64, h % 1000u))
                return false;
        }
        dx_type t = d->type == DX_ATTR_LIST ? DX_T_L : d->type == DX_ATTR_NUMBER_SET ? DX_T_NS : DX_T_SS;
        *v = dx_vset(t, e, 2);
        return true;
    }
    case DX_ATTR_BINARY_SET: {
        dx_value *e = dx_arena_alloc(a, 2 * sizeof *e);
        unsigned char *b = dx_arena_alloc(a, 2);
        if (!e || !b) return false;
        b[0] = (unsigned char)(h & 0x7f);
        b[1] = (unsigned char)(0x80 | (h & 0x7f));
        e[0] = dx_vb(b, 1);
        e[1] = dx_vb(b + 1, 1);
        *v = dx_vset(DX_T_BS, e, 2);
        return true;
    }
    case DX_ATTR_MAP: {
        dx_member *m = dx_arena_alloc(a, sizeof *m);
        if (!m) return false;
        m->name = "n";
        m->name_len = 1;
        if (!put_n(a, &m->value, "%" PRIu64, h % 100000u)) return false;
        *v = dx_vmap(m, 1);
        return true;
    }
    }
    return false;
}

/* The built-in model's attribute i (0 is the key). */
static bool builtin_value(const gen *g, size_t i, uint64_t idx, uint32_t version, dx_arena *a,
                          dx_value *v) {
    uint64_t h = mix(g->seed ^ (idx * 0x9e3779b97f4a7c15ull) ^ version);
    switch (i) {
    case 1: return put_fmt(a, v, DX_T_S, "user-", idx % 10000000u, 7, NULL);
    case 2: return put_fmt(a, v, DX_T_S, "user", (h >> 8) % 10000000u, 7, "@example.com");
    case 3: return put_fmt(a, v, DX_T_N, "", 18 + h % 70, 0, NULL);
    case 4: {
        char buf[32], *p = put_dec(buf, (h >> 16) % 100000u, 0);
        unsigned frac = (unsigned)((h >> 40) % 100u);
        if (frac) { /* canonical: no trailing zero */
            *p++ = '.';
            *p++ = (char)('0' + frac / 10);
            if (frac % 10) *p++ = (char)('0' + frac % 10);
        }
        return put_bytes(a, v, DX_T_N, buf, (size_t)(p - buf));
    }
    case 5: *v = dx_vbool((h >> 3) & 1); return true;
    case 6: *v = dx_vs(countries[(h >> 5) % 8]); return true; /* static strings: no copy */
    case 7: *v = dx_vs(plans[(h >> 9) % 4]); return true;
    case 8: return put_iso(a, v, (time_t)(1700000000 + (h >> 12) % 50000000u), (unsigned)(h % 1000u));
    case 9: return put_fmt(a, v, DX_T_N, "", (uint64_t)version + 1, 0, NULL);
    default: return false;
    }
}

/* Pads v (an S) with 'x' up to pad more bytes. */
static bool pad_value(dx_arena *a, dx_value *v, size_t pad) {
    char *s = dx_arena_alloc(a, v->n + pad + 1);
    if (!s) return false;
    memcpy(s, v->u.s, v->n);
    memset(s + v->n, 'x', pad);
    s[v->n + pad] = 0;
    v->u.s = s;
    v->n += (uint32_t)pad;
    return true;
}

/*
 * The item for index idx at `version` (0 for the first write): the key from
 * the index, the other attributes generated (or from a sample row).
 */
static bool gen_item(const gen *g, uint64_t idx, uint32_t version, dx_arena *a, dx_value *out) {
    size_t na = dx_model_nattrs(g->m);
    const dx_value *sample = g->nsamples ? &g->samples[idx % g->nsamples] : NULL;
    size_t cap = sample ? sample->n + 2 : na;
    dx_member *m = dx_arena_alloc(a, cap * sizeof *m);
    if (!m) return false;
    size_t n = 0;
    dx_value key;
    if (!gen_key(g, idx, a, &key)) return false;
    for (size_t k = 0; k < key.n; k++) m[n++] = key.u.members[k];
    if (sample) {
        for (size_t i = 0; i < sample->n; i++) {
            const dx_member *s = &sample->u.members[i];
            if (strcmp(s->name, g->hash->name) == 0 || (g->range && strcmp(s->name, g->range->name) == 0))
                continue;
            m[n++] = *s;
        }
        *out = dx_vmap(m, n);
        return true;
    }
    for (size_t i = 0; i < na; i++) {
        const dx_attr_def *d = dx_model_attr(g->m, i);
        if (d == g->hash || d == g->range) continue;
        m[n].name = d->name;
        m[n].name_len = (uint32_t)strlen(d->name);
        bool ok = g->builtin ? builtin_value(g, i, idx, version, a, &m[n].value)
                             : gen_value(g, d, mix(g->seed ^ idx * 31 ^ i * 0x9e3779b97f4a7c15ull) + version,
                                         version, a, &m[n].value);
        if (!ok) return false;
        if (g->pad && g->pad_attr == d->name && !pad_value(a, &m[n].value, g->pad)) return false;
        n++;
    }
    *out = dx_vmap(m, n);
    return true;
}

/* ---------------------------------------------------------------- driving */

typedef enum { WORK_PUT, WORK_UPDATE, WORK_DELETE, WORK_GET, WORK_GET_SAVE } work_kind;

typedef struct bench bench;
typedef struct worker worker;

typedef struct slot {
    dx_call call;
    dx_arena arena;
    worker *w;
    uint64_t idx;   /* first item index */
    size_t n;       /* items in the call */
    uint64_t t0;    /* get_save: when the GetItem was submitted */
    bool saving;    /* get_save: the PutItem phase */
    dx_write writes[BATCH];
    dx_value vals[BATCH];
    struct slot *next_free;
} slot;

struct worker {
    bench *b;
    pthread_t th;
    dx_engine *e;
    slot *slots;
    slot *free;
    dxj_hist hist;
    uint64_t ok, failed;
    dx_result first_err;
    bool has_err;
};

/* What one drive() call does. */
typedef struct drive_spec {
    work_kind kind;
    uint32_t inflight;
    uint64_t count;       /* indices [base, base + count) (0 with a duration: unlimited) */
    uint64_t base;
    uint64_t modulo;      /* > 0: index = base + (claimed % modulo) (re-visit loaded items) */
    uint64_t duration_ns; /* 0: until count */
    uint32_t version;     /* items are generated at this version */
    bool measure;
    bool cleanup;         /* deleting what the run wrote: a stop request does not cut it
                             short (the second Ctrl-C of the CLI still exits at once) */
} drive_spec;

struct bench {
    const dxj_bench_opts *o;
    dx_client *c;
    const char *table;
    gen g;
    drive_spec ds;
    _Atomic uint64_t next;   /* next claim (relative index) */
    uint64_t deadline_ns;
    pthread_mutex_t mu; /* with cv: the start gate */
    pthread_cond_t cv;
    uint32_t nready;    /* workers at the gate */
    int go;             /* 1: run, -1: give up */
    uint32_t nworkers;
    _Atomic int engine_fail;
    /* update_by_key of synthetic items: the expression and its names, built
     * once (every item sets the same attributes), as a peer would. */
    const char *upd_expr;
    dx_value upd_names;
    dx_str *upd_attrs; /* the attribute names, in item order */
    const char **upd_vnames; /* ":v0", ":v1", ... */
    size_t upd_n;
    dx_arena upd_arena;
};

/* Builds the cached update expression from one generated item. */
static bool upd_cache_init(bench *b) {
    dx_arena *a = &b->upd_arena;
    dx_value it;
    if (!gen_item(&b->g, 0, 0, a, &it)) return false;
    size_t nk = b->g.range ? 2 : 1, n = it.n - nk;
    dx_member *names = dx_arena_alloc(a, n * sizeof *names);
    b->upd_attrs = dx_arena_alloc(a, n * sizeof *b->upd_attrs);
    b->upd_vnames = dx_arena_alloc(a, n * sizeof *b->upd_vnames);
    dx_buf e = {0};
    bool ok = names && b->upd_attrs && b->upd_vnames && dx_buf_puts(&e, "SET ");
    for (size_t i = 0; ok && i < n; i++) {
        const dx_member *m = &it.u.members[nk + i];
        char *hn = dx_arena_printf(a, "#a%zu", i);
        b->upd_vnames[i] = dx_arena_printf(a, ":v%zu", i);
        ok = hn && b->upd_vnames[i] && dx_buf_printf(&e, "%s%s = %s", i ? ", " : "", hn, b->upd_vnames[i]);
        if (!ok) break;
        names[i].name = hn;
        names[i].name_len = (uint32_t)strlen(hn);
        names[i].value = dx_vsn(m->name, m->name_len);
        b->upd_attrs[i] = (dx_str){m->name, m->name_len};
    }
    if (ok) b->upd_expr = dx_arena_strndup(a, e.ptr, e.len);
    dx_buf_free(&e);
    if (!ok || !b->upd_expr) return false;
    b->upd_names = dx_vmap(names, n);
    b->upd_n = n;
    return true;
}

/* An UpdateItem with the cached expression when the item sets exactly the
 * cached attributes; false to build it with dx_update_req instead. */
static bool fill_update_cached(bench *b, slot *s, const dx_value *item, size_t nk) {
    if (!b->upd_expr || item->n - nk != b->upd_n) return false;
    dx_member *vals = dx_arena_alloc(&s->arena, b->upd_n * sizeof *vals);
    if (!vals) return false;
    for (size_t i = 0; i < b->upd_n; i++) {
        const dx_member *m = &item->u.members[nk + i];
        if (m->name_len != b->upd_attrs[i].len || memcmp(m->name, b->upd_attrs[i].ptr, m->name_len))
            return false;
        vals[i].name = b->upd_vnames[i];
        vals[i].name_len = (uint32_t)strlen(b->upd_vnames[i]);
        vals[i].value = m->value;
    }
    s->vals[2] = dx_vmap(vals, b->upd_n);
    dx_req *q = &s->call.req;
    q->op = DX_OP_UPDATE;
    q->key = &s->vals[0];
    q->update = b->upd_expr;
    q->names = &b->upd_names;
    q->values = &s->vals[2];
    return true;
}

static bool stopping(const bench *b) { return b->o->stop && atomic_load(b->o->stop); }

static void on_done(dx_call *call);

static void record_failure(worker *w, const dx_result *res, uint64_t n) {
    w->failed += n;
    if (!w->has_err) {
        w->first_err = *res;
        w->has_err = true;
    }
}

/* Claims up to `want` indices; returns how many (0: no more work). */
static size_t claim(bench *b, size_t want, uint64_t *first) {
    const drive_spec *ds = &b->ds;
    if (!ds->cleanup && stopping(b)) return 0;
    if (ds->duration_ns && dx_now_ns() >= b->deadline_ns) return 0;
    uint64_t at = atomic_fetch_add(&b->next, want);
    if (ds->count) {
        if (at >= ds->count) return 0;
        if (at + want > ds->count) want = (size_t)(ds->count - at);
    }
    if (ds->modulo) {
        at %= ds->modulo;
        if (at + want > ds->modulo) want = (size_t)(ds->modulo - at);
    }
    *first = ds->base + at;
    return want;
}

enum { FILL_NONE = 0, FILL_SENT, FILL_FAILED };

/* Fills and submits slot s with the next work: FILL_NONE when there is none,
 * FILL_FAILED when the work failed before it could be sent (counted; the
 * slot is still free). */
static int fill(worker *w, slot *s) {
    bench *b = w->b;
    const drive_spec *ds = &b->ds;
    bool batch = ds->kind == WORK_PUT || ds->kind == WORK_DELETE;
    uint64_t first;
    size_t n = claim(b, batch ? BATCH : 1, &first);
    if (!n) return FILL_NONE;
    dx_arena_reset(&s->arena);
    dx_call *call = &s->call;
    memset(call, 0, sizeof *call);
    call->arena = &s->arena;
    call->done = on_done;
    call->ud = s;
    s->idx = first;
    s->n = n;
    s->saving = false;
    dx_req *q = &call->req;
    q->table = b->table;
    dx_result r;
    dx_result_clear(&r);
    bool ok = true;
    switch (ds->kind) {
    case WORK_PUT:
    case WORK_DELETE:
        for (size_t i = 0; i < n && ok; i++) {
            ok = ds->kind == WORK_PUT ? gen_item(&b->g, first + i, ds->version, &s->arena, &s->vals[i])
                                      : gen_key(&b->g, first + i, &s->arena, &s->vals[i]);
            s->writes[i].del = ds->kind == WORK_DELETE;
            s->writes[i].item = &s->vals[i];
        }
        q->op = DX_OP_BATCH_WRITE;
        q->writes = s->writes;
        q->nwrites = n;
        break;
    case WORK_UPDATE: {
        ok = gen_item(&b->g, first, ds->version, &s->arena, &s->vals[1]);
        if (!ok) break;
        const dx_value *item = &s->vals[1];
        size_t nk = b->g.range ? 2 : 1; /* gen_item puts the key attributes first */
        s->vals[0] = dx_vmap(item->u.members, nk);
        if (fill_update_cached(b, s, item, nk)) break;
        ok = dx_update_req(b->g.m, &s->vals[0], item->u.members + nk, item->n - nk, NULL, NULL,
                           NULL, &s->arena, q, &r) == DX_OK;
        if (!ok) {
            record_failure(w, &r, 1);
            return FILL_FAILED;
        }
        q->table = b->table;
        break;
    }
    case WORK_GET:
    case WORK_GET_SAVE:
        ok = gen_key(&b->g, first, &s->arena, &s->vals[0]);
        q->op = DX_OP_GET;
        q->key = &s->vals[0];
        break;
    }
    if (!ok) {
        dx_fail(&r, DX_ERR_NOMEM, NULL, "out of memory generating items");
        record_failure(w, &r, n);
        return FILL_FAILED;
    }
    s->t0 = dx_now_ns();
    dx_err e = dx_engine_submit(w->e, call);
    if (e != DX_OK) {
        dx_fail(&r, e, NULL, "could not submit a call");
        record_failure(w, &r, n);
        return FILL_FAILED;
    }
    return FILL_SENT;
}

/* get_save: the item read comes back with `version` bumped, as a PutItem. */
static bool resubmit_save(worker *w, slot *s) {
    dx_call *call = &s->call;
    const dx_value *got = call->resp.item;
    size_t n = got->n;
    dx_member *m = dx_arena_alloc(&s->arena, (n + 1) * sizeof *m);
    if (!m) return false;
    memcpy(m, got->u.members, n * sizeof *m);
    /* Change one non-key attribute: a number gets +1, anything else a new string "saved". */
    bool changed = false;
    for (size_t i = 0; i < n && !changed; i++) {
        if (strcmp(m[i].name, w->b->g.hash->name) == 0) continue;
        if (w->b->g.range && strcmp(m[i].name, w->b->g.range->name) == 0) continue;
        if (m[i].value.type == DX_T_N) {
            int64_t x = 0;
            if (dx_value_to_i64(&m[i].value, &x, NULL) == DX_OK &&
                dx_value_i64(&s->arena, x + 1, &m[i].value) == DX_OK)
                changed = true;
        }
    }
    (void)changed; /* an item with no whole number is saved as read: still a full write */
    s->vals[0] = dx_vmap(m, n);
    dx_call_reset(call);
    const char *table = call->req.table;
    memset(&call->req, 0, sizeof call->req);
    call->req.op = DX_OP_PUT;
    call->req.table = table;
    call->req.item = &s->vals[0];
    s->saving = true;
    return dx_engine_submit(w->e, call) == DX_OK;
}

static void on_done(dx_call *call) {
    slot *s = call->ud;
    worker *w = s->w;
    const drive_spec *ds = &w->b->ds;
    if (ds->kind == WORK_GET_SAVE && !s->saving && call->res.err == DX_OK && call->resp.item) {
        if (resubmit_save(w, s)) return;
        dx_result r;
        dx_result_clear(&r);
        dx_fail(&r, DX_ERR_NOMEM, NULL, "could not submit the PutItem of get_save");
        record_failure(w, &r, 1);
    } else if (call->res.err == DX_OK) {
        if (call->req.op == DX_OP_GET && !call->resp.item) {
            dx_result r;
            dx_result_clear(&r);
            dx_fail(&r, DX_ERR_RESOURCE_NOT_FOUND, NULL,
                    "GetItem found no item for a key the bench loaded (was it deleted meanwhile?)");
            record_failure(w, &r, 1);
        } else {
            w->ok += s->n;
        }
    } else {
        size_t bad = call->req.op == DX_OP_BATCH_WRITE ? call->resp.nunprocessed : 1;
        if (call->req.op == DX_OP_BATCH_WRITE) w->ok += s->n - bad;
        record_failure(w, &call->res, bad);
    }
    dxj_hist_add(&w->hist, dx_now_ns() - s->t0);
    s->next_free = w->free;
    w->free = s;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    bench *b = w->b;
    dx_engine_opts eo = {.max_inflight = b->ds.inflight};
    w->e = dx_engine_new(b->c, &eo);
    w->slots = calloc(b->ds.inflight, sizeof *w->slots);
    if (!w->e || !w->slots) atomic_store(&b->engine_fail, 1);
    pthread_mutex_lock(&b->mu);
    b->nready++;
    pthread_cond_broadcast(&b->cv);
    while (!b->go) pthread_cond_wait(&b->cv, &b->mu);
    bool run = b->go > 0;
    pthread_mutex_unlock(&b->mu);
    if (run && !atomic_load(&b->engine_fail)) {
        for (uint32_t i = 0; i < b->ds.inflight; i++) {
            w->slots[i].w = w;
            w->slots[i].next_free = w->free;
            w->free = &w->slots[i];
        }
        bool more = true;
        for (;;) {
            while (more && w->free) {
                slot *s = w->free;
                w->free = s->next_free;
                s->w = w;
                int f = fill(w, s);
                if (f != FILL_SENT) {
                    if (f == FILL_NONE) more = false;
                    s->next_free = w->free;
                    w->free = s;
                }
            }
            if (!dx_engine_pending(w->e)) {
                if (!more) break;
                continue;
            }
            dx_engine_run(w->e, 50);
        }
    }
    dx_engine_free(w->e);
    w->e = NULL;
    if (w->slots) {
        for (uint32_t i = 0; i < b->ds.inflight; i++) dx_arena_release(&w->slots[i].arena);
        free(w->slots);
        w->slots = NULL;
    }
    return NULL;
}

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Runs b->ds on W threads; fills *pt when measuring. */
static dx_err drive(bench *b, dxj_bench_point *pt, uint64_t *done_ok, uint64_t *done_failed,
                    dx_result *r) {
    uint32_t nw = b->nworkers;
    worker *ws = calloc(nw, sizeof *ws);
    if (!ws) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory starting the workers");
    atomic_store(&b->next, 0);
    atomic_store(&b->engine_fail, 0);
    b->nready = 0;
    b->go = 0;
    uint32_t started = 0;
    for (; started < nw; started++) {
        ws[started].b = b;
        if (pthread_create(&ws[started].th, NULL, worker_main, &ws[started]) != 0) break;
    }
    pthread_mutex_lock(&b->mu);
    while (b->nready < started) pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    bool run = started == nw && !atomic_load(&b->engine_fail);
    dx_client_stats s0, s1;
    memset(&s0, 0, sizeof s0);
    double cpu0 = 0, cpu1;
    uint64_t t0 = 0, t1;
    if (run) {
        if (b->ds.measure && b->o->phase) b->o->phase(DXJ_BENCH_PHASE_START, b->ds.inflight, b->o->ud);
        dx_client_stats_get(b->c, &s0);
        cpu0 = cpu_now();
        t0 = dx_now_ns();
        b->deadline_ns = t0 + b->ds.duration_ns;
    }
    pthread_mutex_lock(&b->mu);
    b->go = run ? 1 : -1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    for (uint32_t i = 0; i < started; i++) pthread_join(ws[i].th, NULL);
    t1 = dx_now_ns();
    cpu1 = cpu_now();
    dx_client_stats_get(b->c, &s1);
    dx_err err = DX_OK;
    if (!run) {
        err = dx_fail(r, DX_ERR_NOMEM, NULL, "could not start %u worker threads with an engine each", nw);
    }
    if (b->ds.measure && b->o->phase && run)
        b->o->phase(DXJ_BENCH_PHASE_END, b->ds.inflight, b->o->ud);
    dxj_hist h;
    memset(&h, 0, sizeof h);
    uint64_t ok = 0, failed = 0;
    const dx_result *first_err = NULL;
    for (uint32_t i = 0; i < nw; i++) {
        dxj_hist_merge(&h, &ws[i].hist);
        ok += ws[i].ok;
        failed += ws[i].failed;
        if (!first_err && ws[i].has_err) first_err = &ws[i].first_err;
    }
    if (done_ok) *done_ok = ok;
    if (done_failed) *done_failed = failed;
    if (err == DX_OK && first_err && ok == 0) {
        /* Nothing succeeded: that is an error worth stopping for (table gone, auth). */
        *r = *first_err;
        err = first_err->err ? first_err->err : DX_ERR_UNKNOWN;
    }
    if (pt && run) {
        memset(pt, 0, sizeof *pt);
        pt->inflight = b->ds.inflight;
        pt->items = ok;
        pt->failed = failed;
        pt->requests = s1.attempts - s0.attempts;
        pt->retries = s1.retries - s0.retries;
        pt->throttles = s1.throttles - s0.throttles;
        pt->errors = s1.errors - s0.errors;
        pt->seconds = (double)(t1 - t0) / 1e9;
        pt->items_per_s = pt->seconds > 0 ? (double)ok / pt->seconds : 0;
        pt->units = (s1.wcu - s0.wcu) + (s1.rcu - s0.rcu);
        pt->units_per_s = pt->seconds > 0 ? pt->units / pt->seconds : 0;
        dxj_latency lat;
        dxj_hist_latency(&h, &lat);
        pt->p50_ms = lat.p50_ms;
        pt->p95_ms = lat.p95_ms;
        pt->p99_ms = lat.p99_ms;
        pt->max_ms = lat.max_ms;
        pt->cpu_s = cpu1 - cpu0;
        pt->cpu_ms_per_1k = ok ? pt->cpu_s * 1e6 / (double)ok : 0;
    }
    free(ws);
    return err;
}

/* ---------------------------------------------------------------- set-up */

static void logf_(const dxj_bench_opts *o, const char *fmt, ...) DX_PRINTF(2, 3);
static void logf_(const dxj_bench_opts *o, const char *fmt, ...) {
    if (!o->log) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->log(buf, o->ud);
}

static const char *no_env(void *ud, const char *name) {
    (void)ud;
    (void)name;
    return NULL;
}

static dx_err open_client(const dxj_bench_opts *o, uint32_t max_inflight, dx_client **out,
                          dx_result *r) {
    dx_client_opts copts;
    memset(&copts, 0, sizeof copts);
    copts.retry = o->retry;
    copts.rate = o->rate;
    dxj_backend_spec b;
    memset(&b, 0, sizeof b);
    b.type = o->dynamodb ? DXJ_BACKEND_DYNAMODB : DXJ_BACKEND_MEMORY;
    b.endpoint = (char *)o->endpoint;
    b.region = (char *)o->region;
    b.profile = (char *)o->profile;
    b.insecure = o->insecure;
    b.sim_wcu = o->table_wcu; /* memory: simulate capacity when the table has some */
    b.sim_rcu = o->table_rcu;
    dx_env env = o->env ? *o->env : (dx_env){.get = no_env};
    dxj_backend_conn conn;
    dx_err e = dxj_backend_open(&conn, &b, false, &env, r);
    if (e) return e;
    conn.ddb.max_inflight = max_inflight;
    e = dxj_backend_client(&conn, &copts, out, r); /* takes the credentials over */
    dxj_backend_close(&conn);
    return e;
}

static dx_err table_has_data(bench *b, bool *has, dx_result *r) {
    dx_arena a = {0};
    dx_call call;
    memset(&call, 0, sizeof call);
    call.req.op = DX_OP_SCAN;
    call.req.table = b->table;
    call.req.limit = 1;
    call.arena = &a;
    dx_err e = dx_client_call(b->c, &call);
    if (e) *r = call.res;
    *has = e == DX_OK && call.resp.nitems > 0;
    dx_arena_release(&a);
    return e;
}

static dx_err setup_table(bench *b, dxj_bench_result *res, dx_result *r) {
    const dxj_bench_opts *o = b->o;
    dx_table_desc desc;
    memset(&desc, 0, sizeof desc);
    dx_arena a = {0};
    dx_err e = dx_describe_table(b->c, b->table, &a, &desc, r);
    dx_arena_release(&a);
    if (e == DX_ERR_RESOURCE_NOT_FOUND) {
        dx_table_def def;
        dx_model_table_def(b->g.m, &def);
        def.name = b->table;
        def.wcu = o->table_wcu;
        def.rcu = o->table_rcu;
        if (def.wcu > 0 && def.rcu <= 0) def.rcu = def.wcu;
        if (def.rcu > 0 && def.wcu <= 0) def.wcu = def.rcu;
        logf_(o, "creating table %s (%s)", b->table, def.wcu > 0 ? "provisioned" : "on-demand");
        dx_result_clear(r);
        if ((e = dx_create_table(b->c, &def, r)) != DX_OK) return e;
        res->table_created = true;
        if ((e = dx_wait_table_active(b->c, b->table, 120000, NULL, &desc, r)) != DX_OK) return e;
    } else if (e != DX_OK) {
        return e;
    } else {
        bool has = false;
        dx_result_clear(r);
        if ((e = table_has_data(b, &has, r)) != DX_OK) return e;
        if (has && !o->allow_existing)
            return dx_fail(r, DX_ERR_CONFIG, NULL,
                           "table %s holds data: a bench writes and deletes items, so it refuses "
                           "a table in use; point it at an empty or new table, or pass "
                           "--allow-existing (its keys carry a random tag, so existing items "
                           "are never touched)",
                           b->table);
        if (has) logf_(o, "table %s holds data; going on as allowed (keys tagged %s)", b->table, b->g.tag);
    }
    if (o->rate.adaptive && !o->no_capacity_hint && !desc.on_demand && desc.wcu > 0 && !o->client) {
        dx_client_rate_hint(b->c, desc.rcu, desc.wcu);
        res->hint_wcu = desc.wcu;
        logf_(o, "table %s is provisioned at %.0f WCU / %.0f RCU: the limiter starts there",
              b->table, desc.wcu, desc.rcu);
    }
    return DX_OK;
}

static dx_err load_samples(bench *b, dx_arena *sa, dx_result *r) {
    const dxj_bench_opts *o = b->o;
    dxj_input in;
    memset(&in, 0, sizeof in);
    dxj_reader *rd = NULL;
    dx_err e = dxj_reader_open(&in, o->sample, &rd, r);
    if (e) return e;
    size_t ncols = 0;
    const char *const *cols = dxj_reader_columns(rd, &ncols);
    dxj_mapping map;
    memset(&map, 0, sizeof map);
    map.ignore_unknown = true;
    dxj_operation op;
    memset(&op, 0, sizeof op);
    op.op = DXJ_OP_PUT;
    dxj_mapper *mp = NULL;
    if ((e = dxj_mapper_new(b->g.m, &map, &op, &in, cols, ncols, &mp, r)) != DX_OK) {
        dxj_reader_free(rd);
        return e;
    }
    size_t want = o->sample_rows ? o->sample_rows : DEFAULT_SAMPLE_ROWS;
    b->g.samples = dx_arena_alloc(sa, want * sizeof *b->g.samples);
    if (!b->g.samples) e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory for the sample");
    dxj_chunk ch;
    memset(&ch, 0, sizeof ch);
    bool eof = false;
    uint64_t rejected = 0;
    char why[300] = ""; /* the first rejected row: its line and the reason */
    while (!e && !eof && b->g.nsamples < want) {
        if ((e = dxj_reader_next(rd, &ch, 1000, 1u << 20, &eof, r)) != DX_OK) break;
        for (size_t i = 0; i < ch.n && b->g.nsamples < want; i++) {
            dxj_mapped mv;
            dx_result rr;
            dx_result_clear(&rr);
            if (ch.recs[i].error || dxj_map(mp, &ch.recs[i], sa, &mv, &rr) != DX_OK) {
                if (!rejected++)
                    snprintf(why, sizeof why, "line %" PRIu64 ": %.100s%s%.160s", ch.recs[i].line,
                             rr.field[0] ? rr.field : "", rr.field[0] ? ": " : "",
                             ch.recs[i].error ? ch.recs[i].error : rr.message);
                continue;
            }
            /* The mapped value points into the chunk or sa: copy into sa to outlive the chunk. */
            if (dx_value_copy(sa, &mv.item, &b->g.samples[b->g.nsamples]) != DX_OK) {
                e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory for the sample");
                break;
            }
            b->g.nsamples++;
        }
    }
    dxj_chunk_clear(&ch);
    dx_arena_release(&ch.arena);
    dxj_mapper_free(mp);
    dxj_reader_free(rd);
    if (!e && b->g.nsamples == 0)
        e = dx_fail(r, DX_ERR_CONFIG, NULL,
                    "%s: no row could be used as an item of the model (%" PRIu64
                    " rejected; the first, %s)",
                    o->sample, rejected, why);
    if (!e && rejected)
        logf_(o, "sampled %zu rows of %s (%" PRIu64 " rejected; the first, %s)", b->g.nsamples,
              o->sample, rejected, why);
    else if (!e)
        logf_(o, "sampled %zu rows of %s", b->g.nsamples, o->sample);
    return e;
}

/* ---------------------------------------------------------------- run */

static work_kind kind_of(dxj_bench_op op) {
    switch (op) {
    case DXJ_BENCH_PUT: return WORK_PUT;
    case DXJ_BENCH_UPDATE_BY_KEY: return WORK_UPDATE;
    case DXJ_BENCH_DELETE_BY_KEY: return WORK_DELETE;
    case DXJ_BENCH_GET: return WORK_GET;
    case DXJ_BENCH_GET_SAVE: return WORK_GET_SAVE;
    }
    return WORK_PUT;
}

/* Loads `count` items (indices [0, count)) with `inflight` per worker; not measured. */
static dx_err load(bench *b, uint64_t count, uint32_t inflight, dx_result *r) {
    drive_spec keep = b->ds;
    b->ds = (drive_spec){.kind = WORK_PUT, .inflight = inflight, .count = count};
    uint64_t ok = 0, failed = 0;
    dx_err e = drive(b, NULL, &ok, &failed, r);
    b->ds = keep;
    if (e == DX_OK && failed)
        e = dx_fail(r, DX_ERR_THROUGHPUT, NULL,
                    "loading the items to work on: %" PRIu64 " of %" PRIu64 " could not be written",
                    failed, count);
    return e;
}

/* Checks the options that need no I/O; fills the depths to measure. */
static dx_err check_opts(const dxj_bench_opts *o, uint32_t *depths, size_t *ndepths,
                         uint32_t *maxdepth, dx_result *r) {
    if ((unsigned)o->op > (unsigned)DXJ_BENCH_GET_SAVE)
        return dx_fail(r, DX_ERR_CONFIG, "op", "unknown bench operation %d", (int)o->op);
    if (o->sample && !o->model)
        return dx_fail(r, DX_ERR_CONFIG, "sample",
                       "a sample file needs a model (--model) to type its rows");
    if (o->nsweep > DXJ_BENCH_MAX_SWEEP)
        return dx_fail(r, DX_ERR_CONFIG, "sweep", "at most %d sweep depths", DXJ_BENCH_MAX_SWEEP);
    if (o->workers > 1024) return dx_fail(r, DX_ERR_CONFIG, "workers", "at most 1024 workers");
    *ndepths = o->nsweep ? o->nsweep : 1;
    *maxdepth = 0;
    for (size_t i = 0; i < *ndepths; i++) {
        depths[i] = o->nsweep ? o->sweep[i] : (o->inflight ? o->inflight : DEFAULT_INFLIGHT);
        if (depths[i] == 0 || depths[i] > 4096)
            return dx_fail(r, DX_ERR_CONFIG, "in_flight",
                           "in-flight depth %u is out of range (1-4096)", depths[i]);
        if (depths[i] > *maxdepth) *maxdepth = depths[i];
    }
    return DX_OK;
}

dx_err dxj_bench_run(const dxj_bench_opts *o, dxj_bench_result *res, dx_result *r) {
    memset(res, 0, sizeof *res);
    uint32_t depths[DXJ_BENCH_MAX_SWEEP], maxdepth = 0;
    size_t ndepths = 1;
    dx_err e = check_opts(o, depths, &ndepths, &maxdepth, r);
    if (e) return e;

    bench b;
    memset(&b, 0, sizeof b);
    b.o = o;
    b.nworkers = o->workers ? o->workers : DEFAULT_WORKERS;
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    dx_model *own_model = NULL;
    dx_arena sample_arena = {0};
    work_kind kind = kind_of(o->op);
    uint64_t loaded_hi = 0; /* indices [0, loaded_hi) may hold this run's items */
    uint64_t items = o->items ? o->items : (o->duration_ms ? 0 : DXJ_BENCH_DEFAULT_ITEMS);
    uint64_t pool = items ? items : DXJ_BENCH_DEFAULT_ITEMS;

    /* Model and generator. */
    if (o->model) {
        b.g.m = o->model;
    } else {
        if ((e = dxj_bench_builtin_model(o->table, &own_model, r)) != DX_OK) goto out;
        b.g.m = own_model;
        b.g.builtin = true;
    }
    b.table = o->table ? o->table : dx_model_config_get(b.g.m)->table;
    b.g.hash = dx_model_hash_key(b.g.m);
    b.g.range = dx_model_range_key(b.g.m);
    uint64_t tagbits;
    dx_random_bytes(&tagbits, sizeof tagbits);
    b.g.tagnum = 100000 + tagbits % 900000; /* six digits */
    snprintf(b.g.tag, sizeof b.g.tag, "%06" PRIu64, b.g.tagnum);
    snprintf(b.g.prefix, sizeof b.g.prefix, "bench-%s-", b.g.tag);
    b.g.seed = o->seed ? o->seed : mix(tagbits);
    res->op = dxj_bench_op_name(o->op);
    snprintf(res->table, sizeof res->table, "%s", b.table);
    snprintf(res->tag, sizeof res->tag, "%s", b.g.tag);
    res->workers = b.nworkers;

    if (o->sample && (e = load_samples(&b, &sample_arena, r)) != DX_OK) goto out;
    res->sampled = b.g.nsamples > 0;

    /* Item size, and padding towards item_bytes. */
    {
        dx_arena a = {0};
        dx_value it;
        if (!gen_item(&b.g, 0, 0, &a, &it)) {
            dx_arena_release(&a);
            e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory generating an item");
            goto out;
        }
        size_t sz = dx_item_size(&it);
        if (o->item_bytes > sz && !res->sampled) {
            for (size_t i = 0; i < dx_model_nattrs(b.g.m); i++) {
                const dx_attr_def *d = dx_model_attr(b.g.m, i);
                if (d->type == DX_ATTR_STRING && d != b.g.hash && d != b.g.range) {
                    b.g.pad_attr = d->name;
                    b.g.pad = o->item_bytes - sz;
                    break;
                }
            }
        }
        double total = 0;
        for (uint64_t i = 0; i < 64; i++) {
            dx_arena_reset(&a);
            if (gen_item(&b.g, i, 0, &a, &it)) total += (double)dx_item_size(&it);
        }
        res->item_bytes = total / 64;
        res->attributes = it.n;
        dx_arena_release(&a);
    }

    /* Client and table. */
    if (o->client) {
        b.c = o->client;
    } else if ((e = open_client(o, maxdepth, &b.c, r)) != DX_OK) {
        goto out;
    }
    snprintf(res->backend, sizeof res->backend, "%s", dx_client_backend(b.c));
    if (o->phase) o->phase(DXJ_BENCH_PHASE_SETUP, 0, o->ud);
    if ((e = setup_table(&b, res, r)) != DX_OK) goto out;

    /* Items to work on. */
    bool needs_items = kind != WORK_PUT;
    if (kind == WORK_UPDATE && !res->sampled && !upd_cache_init(&b)) {
        e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory building the update expression");
        goto cleanup;
    }
    if (needs_items && kind != WORK_DELETE) {
        logf_(o, "loading %" PRIu64 " items", pool);
        loaded_hi = pool;
        if ((e = load(&b, pool, maxdepth, r)) != DX_OK) goto cleanup;
        res->loaded += pool;
    }

    for (size_t i = 0; i < ndepths; i++) {
        if (kind == WORK_DELETE) {
            logf_(o, "loading %" PRIu64 " items to delete", pool);
            if (pool > loaded_hi) loaded_hi = pool;
            if ((e = load(&b, pool, depths[i], r)) != DX_OK) goto cleanup;
            res->loaded += pool;
        }
        b.ds = (drive_spec){.kind = kind,
                            .inflight = depths[i],
                            .count = items,
                            .duration_ns = (uint64_t)o->duration_ms * 1000000u,
                            .version = (uint32_t)(i + 1),
                            .measure = true};
        if (needs_items) {
            b.ds.count = items ? items : 0;
            b.ds.modulo = kind == WORK_DELETE ? 0 : pool;
            if (kind == WORK_DELETE) b.ds.count = pool;
        }
        logf_(o, "measuring %s with %u workers x %u in flight", res->op, b.nworkers, depths[i]);
        dxj_bench_point *pt = &res->points[res->npoints];
        e = drive(&b, pt, NULL, NULL, r);
        if (e != DX_OK) goto cleanup;
        res->npoints++;
        if (kind == WORK_PUT) {
            uint64_t hi = atomic_load(&b.next);
            if (items && hi > items) hi = items;
            if (hi > loaded_hi) loaded_hi = hi;
        }
        if (stopping(&b)) break;
    }
    if (res->npoints > 1) {
        for (size_t i = 0; i + 1 < res->npoints; i++) {
            if (res->points[i + 1].items_per_s < res->points[i].items_per_s * 1.05) {
                res->knee = res->points[i].inflight;
                break;
            }
        }
    }

cleanup:
    if (o->phase) o->phase(DXJ_BENCH_PHASE_CLEANUP, 0, o->ud);
    if (o->keep) {
        res->cleanup_ok = true;
    } else if (res->table_created) {
        dx_result rr;
        dx_result_clear(&rr);
        logf_(o, "deleting table %s (created by this run)", b.table);
        if (dx_delete_table(b.c, b.table, &rr) == DX_OK) {
            res->table_deleted = true;
            res->cleanup_ok = true;
        } else {
            logf_(o, "could not delete table %s: %s", b.table, rr.message);
        }
    } else if (loaded_hi > 0 && b.c) {
        dx_result rr;
        dx_result_clear(&rr);
        bool all_deleted = kind == WORK_DELETE && res->npoints == ndepths &&
                           res->points[res->npoints - 1].failed == 0 &&
                           res->points[res->npoints - 1].items == loaded_hi;
        if (all_deleted) {
            res->cleanup_ok = true;
        } else {
            logf_(o, "deleting the %" PRIu64 " keys this run wrote", loaded_hi);
            b.ds = (drive_spec){.kind = WORK_DELETE, .inflight = maxdepth, .count = loaded_hi,
                                .cleanup = true};
            uint64_t ok = 0, failed = 0;
            dx_err ce = drive(&b, NULL, &ok, &failed, &rr);
            res->cleaned = ok;
            /* Every key must have been deleted (a delete of a missing key succeeds). */
            res->cleanup_ok = ce == DX_OK && failed == 0 && ok == loaded_hi;
            if (ok + failed < loaded_hi) failed = loaded_hi - ok;
            if (!res->cleanup_ok)
                logf_(o, "clean-up left %" PRIu64 " keys (tag %s): %s", failed, b.g.tag,
                      rr.message[0] ? rr.message : "see errors");
        }
    } else {
        res->cleanup_ok = true;
    }

out:
    if (b.c && !o->client) dx_client_free(b.c);
    dx_model_free(own_model);
    dx_arena_release(&sample_arena);
    dx_arena_release(&b.upd_arena);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);
    return e;
}

/* ---------------------------------------------------------------- JSON */

static void jnum(dx_buf *b, const char *k, double v, bool comma) {
    if (!isfinite(v)) v = 0;
    dx_buf_printf(b, "\"%s\":%.6g%s", k, v, comma ? "," : "");
}

dx_err dxj_bench_json(const dxj_bench_result *res, dx_buf *out) {
    size_t len0 = out->len;
    bool ok = dx_buf_puts(out, "{\"op\":") && dx_buf_put_json_str(out, res->op, strlen(res->op)) &&
              dx_buf_puts(out, ",\"backend\":") &&
              dx_buf_put_json_str(out, res->backend, strlen(res->backend)) &&
              dx_buf_puts(out, ",\"table\":") &&
              dx_buf_put_json_str(out, res->table, strlen(res->table)) &&
              dx_buf_printf(out,
                            ",\"tag\":\"%s\",\"workers\":%u,\"attributes\":%u,\"item_bytes\":%.1f,"
                            "\"sampled\":%s,\"table_created\":%s,\"table_deleted\":%s,"
                            "\"loaded\":%" PRIu64 ",\"cleaned\":%" PRIu64 ",\"cleanup_ok\":%s,"
                            "\"hint_wcu\":%.6g,\"knee\":%u,\"stopped\":%s,\"points\":[",
                            res->tag, res->workers, res->attributes, res->item_bytes,
                            res->sampled ? "true" : "false", res->table_created ? "true" : "false",
                            res->table_deleted ? "true" : "false", res->loaded, res->cleaned,
                            res->cleanup_ok ? "true" : "false", res->hint_wcu, res->knee,
                            res->stopped ? "true" : "false");
    for (size_t i = 0; ok && i < res->npoints; i++) {
        const dxj_bench_point *p = &res->points[i];
        ok = dx_buf_printf(out,
                           "%s{\"in_flight\":%u,\"items\":%" PRIu64 ",\"failed\":%" PRIu64
                           ",\"requests\":%" PRIu64 ",\"throttles\":%" PRIu64
                           ",\"retries\":%" PRIu64 ",\"errors\":%" PRIu64 ",",
                           i ? "," : "", p->inflight, p->items, p->failed, p->requests,
                           p->throttles, p->retries, p->errors);
        jnum(out, "seconds", p->seconds, true);
        jnum(out, "items_per_s", p->items_per_s, true);
        jnum(out, "units", p->units, true);
        jnum(out, "units_per_s", p->units_per_s, true);
        jnum(out, "p50_ms", p->p50_ms, true);
        jnum(out, "p95_ms", p->p95_ms, true);
        jnum(out, "p99_ms", p->p99_ms, true);
        jnum(out, "max_ms", p->max_ms, true);
        jnum(out, "cpu_s", p->cpu_s, true);
        jnum(out, "cpu_ms_per_1k", p->cpu_ms_per_1k, false);
        ok = ok && dx_buf_putc(out, '}');
    }
    ok = ok && dx_buf_puts(out, "]}");
    if (!ok) {
        out->len = len0;
        if (out->ptr) out->ptr[len0] = 0;
        return DX_ERR_NOMEM;
    }
    return DX_OK;
}
