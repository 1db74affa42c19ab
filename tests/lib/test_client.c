/*
 * test_client.c - the generic engine (lib/client.c) against a scripted fake
 * backend: retries and backoff, batch re-drive and hand-back, in-flight
 * limits, re-entrant callbacks, cancellation, the synchronous wrapper from
 * many threads, and the rate limiter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backend_internal.h"
#include "dynox/dynox.h"
#include "testutil.h"

/* ---------------------------------------------------------------- fake backend */

enum { MAX_ENTRIES = 64 };

typedef struct fake {
    bool async;                 /* complete in poll() instead of start() */
    int throttle_first;         /* fail this many attempts per call with THROUGHPUT */
    dx_err fail_with;           /* non-retryable error for every attempt (0: none) */
    int expired_first;          /* the first N attempts fail with ExpiredTokenException */
    int batch_leave_odd_once;   /* first batch attempt leaves odd positions unprocessed */
    int never_process[4];       /* batch entries (by item tag) never processed; -1 ends */
    double consumed_per_attempt;
    _Atomic int performed[MAX_ENTRIES]; /* per item tag: times written */
    _Atomic int attempts;
    int inflight, max_inflight_seen;
    /* A table with a write capacity: a bucket of cap_rate units/s holding at
     * most one second; each item costs 1. Batches get what the bucket pays
     * for, the rest unprocessed; nothing at all is a throttle. */
    double cap_rate, cap_tokens;
    uint64_t cap_ns;
    int cap_throttled, cap_partial;
    long cap_written;
} fake;

/* Capacity mode: how many of n items the bucket pays for now. */
static size_t cap_take(fake *f, size_t n) {
    uint64_t now = dx_now_ns();
    if (!f->cap_ns) {
        f->cap_ns = now;
        f->cap_tokens = f->cap_rate;
    }
    f->cap_tokens += (double)(now - f->cap_ns) / 1e9 * f->cap_rate;
    f->cap_ns = now;
    if (f->cap_tokens > f->cap_rate) f->cap_tokens = f->cap_rate;
    size_t k = 0;
    while (k < n && f->cap_tokens >= 1) {
        f->cap_tokens -= 1;
        k++;
    }
    return k;
}

typedef struct fake_engine {
    fake *f;
    dx_attempt *queue[256];
    size_t n;
} fake_engine;

/* Items carry their tag in a number attribute "tag". */
static int tag_of(const dx_value *item) {
    const dx_value *v = dx_map_get(item, "tag");
    return v ? atoi(v->u.s) : -1;
}

static void *fake_engine_new(void *impl) {
    fake_engine *fe = calloc(1, sizeof *fe);
    fe->f = impl;
    return fe;
}

static void fake_engine_free(void *be) { free(be); }

static bool never(const fake *f, int tag) {
    for (int i = 0; i < 4 && f->never_process[i] >= 0; i++)
        if (f->never_process[i] == tag) return true;
    return false;
}

static void perform(fake *f, dx_attempt *a) {
    int n = atomic_fetch_add(&f->attempts, 1);
    a->resp.consumed = f->consumed_per_attempt;
    if (f->fail_with) {
        dx_fail(&a->res, f->fail_with, NULL, "scripted failure");
        snprintf(a->res.type, sizeof a->res.type, "%s", dx_err_name(f->fail_with));
        return;
    }
    if (f->expired_first && (int)a->call->attempts <= f->expired_first) {
        dx_fail(&a->res, DX_ERR_AUTH, NULL, "The security token included in the request is expired");
        snprintf(a->res.type, sizeof a->res.type, "%s", "ExpiredTokenException");
        return;
    }
    uint32_t attempt_no = a->call->attempts; /* 1-based, counted by the engine */
    if ((int)attempt_no <= f->throttle_first) {
        dx_fail(&a->res, DX_ERR_THROUGHPUT, NULL, "scripted throttle");
        snprintf(a->res.reason, sizeof a->res.reason, "%s", "TableWriteKeyRangeThroughputExceeded");
        return;
    }
    if (f->cap_rate > 0 && a->req.op == DX_OP_BATCH_WRITE) {
        size_t nw = a->req.nwrites, k = cap_take(f, nw);
        if (k == 0) {
            f->cap_throttled++;
            a->resp.consumed = 0;
            dx_fail(&a->res, DX_ERR_THROUGHPUT, NULL, "capacity exceeded");
            return;
        }
        if (k < nw) {
            f->cap_partial++;
            size_t *un = dx_arena_alloc(a->arena, (nw - k) * sizeof *un);
            for (size_t i = k; i < nw; i++) un[i - k] = i;
            a->resp.unprocessed = un;
            a->resp.nunprocessed = nw - k;
        }
        f->cap_written += (long)k;
        a->resp.consumed = (double)k;
        return;
    }
    if (a->req.op == DX_OP_BATCH_WRITE) {
        size_t *un = dx_arena_alloc(a->arena, a->req.nwrites * sizeof *un);
        size_t nun = 0;
        for (size_t i = 0; i < a->req.nwrites; i++) {
            int tag = tag_of(a->req.writes[i].item);
            bool leave = never(f, tag) || (f->batch_leave_odd_once && attempt_no == 1 && (i % 2));
            if (leave) {
                un[nun++] = i;
            } else {
                atomic_fetch_add(&f->performed[tag], 1);
            }
        }
        a->resp.unprocessed = un;
        a->resp.nunprocessed = nun;
        return;
    }
    int tag = a->req.op == DX_OP_PUT ? tag_of(a->req.item) : -1;
    if (tag >= 0) atomic_fetch_add(&f->performed[tag], 1);
    (void)n;
}

static void fake_start(void *be, dx_attempt *a) {
    fake_engine *fe = be;
    fe->f->inflight++;
    if (fe->f->inflight > fe->f->max_inflight_seen) fe->f->max_inflight_seen = fe->f->inflight;
    if (!fe->f->async) {
        perform(fe->f, a);
        fe->f->inflight--;
        dx_attempt_done(a);
        return;
    }
    fe->queue[fe->n++] = a;
}

static size_t fake_poll(void *be, int timeout_ms) {
    fake_engine *fe = be;
    (void)timeout_ms;
    /* Complete the oldest attempt only, so several stay in flight. */
    if (fe->n) {
        dx_attempt *a = fe->queue[0];
        memmove(fe->queue, fe->queue + 1, (fe->n - 1) * sizeof *fe->queue);
        fe->n--;
        perform(fe->f, a);
        fe->f->inflight--;
        dx_attempt_done(a);
    }
    return fe->n;
}

static void fake_free(void *impl) { (void)impl; }

static const dx_backend_vt fake_vt = {"fake", fake_engine_new, fake_engine_free, fake_start,
                                      fake_poll, fake_free};

static fake *fake_new(void) {
    fake *f = calloc(1, sizeof *f);
    for (int i = 0; i < 4; i++) f->never_process[i] = -1;
    return f;
}

static dx_client *client_for(fake *f, uint32_t max_attempts) {
    dx_client_opts o = {.retry = {.max_attempts = max_attempts, .base_ms = 1, .max_ms = 4},
                        .seed = 42};
    dx_client *c = NULL;
    assert_int_equal(dx_client_wrap_(&fake_vt, f, &o, &c), DX_OK);
    return c;
}

/* Items with a "tag" attribute. */
typedef struct tagged {
    dx_member m[2];
    dx_value v;
    char num[8];
} tagged;

static void tagged_init(tagged *t, int tag) {
    snprintf(t->num, sizeof t->num, "%d", tag);
    t->m[0] = (dx_member){"id", 2, dx_vs("k")};
    t->m[1] = (dx_member){"tag", 3, dx_vn(t->num)};
    t->v = dx_vmap(t->m, 2);
}

static int done_count;
static void count_done(dx_call *call) {
    (void)call;
    done_count++;
}

/* ---------------------------------------------------------------- tests */

static void test_success_first_try(void **state) {
    (void)state;
    fake *f = fake_new();
    dx_client *c = client_for(f, 5);
    tagged t;
    tagged_init(&t, 1);
    dx_call call = {.req = {.op = DX_OP_PUT, .table = "t", .item = &t.v}};
    assert_int_equal(dx_client_call(c, &call), DX_OK);
    assert_int_equal(call.attempts, 1);
    assert_int_equal(call.throttles, 0);
    assert_int_equal(f->performed[1], 1);
    dx_client_stats st;
    dx_client_stats_get(c, &st);
    assert_int_equal(st.calls, 1);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.errors, 0);
    dx_client_free(c);
    free(f);
}

static void test_retry_then_success(void **state) {
    (void)state;
    fake *f = fake_new();
    f->throttle_first = 2;
    dx_client *c = client_for(f, 5);
    tagged t;
    tagged_init(&t, 2);
    dx_call call = {.req = {.op = DX_OP_PUT, .table = "t", .item = &t.v}};
    assert_int_equal(dx_client_call(c, &call), DX_OK);
    assert_int_equal(call.attempts, 3);
    assert_int_equal(call.throttles, 2);
    assert_int_equal(f->performed[2], 1);
    /* The throttling reason outlives the retries that got past it (hot-key reports). */
    assert_string_equal(call.res.reason, "TableWriteKeyRangeThroughputExceeded");
    assert_string_equal(call.res.message, "");
    dx_client_stats st;
    dx_client_stats_get(c, &st);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.throttles, 2);
    dx_client_free(c);
    free(f);
}

/* An expired token is retried once, at once (the provider refreshes); not twice. */
static void test_expired_token_retried_once(void **state) {
    (void)state;
    for (int expired = 1; expired <= 2; expired++) {
        fake *f = fake_new();
        f->expired_first = expired;
        dx_client *c = client_for(f, 5);
        tagged t;
        tagged_init(&t, 4);
        dx_call call = {.req = {.op = DX_OP_PUT, .table = "t", .item = &t.v}};
        dx_err e = dx_client_call(c, &call);
        if (expired == 1) {
            assert_int_equal(e, DX_OK);
            assert_int_equal(call.attempts, 2);
            assert_int_equal(f->performed[4], 1);
        } else {
            assert_int_equal(e, DX_ERR_AUTH);
            assert_int_equal(call.attempts, 2);
            assert_string_equal(call.res.type, "ExpiredTokenException");
            assert_int_equal(f->performed[4], 0);
        }
        dx_client_free(c);
        free(f);
    }
}

/* dx_wait_table_active: ACTIVE at once, a missing table waited for until the timeout. */
static void test_wait_table_active(void **state) {
    (void)state;
    dx_client *c = NULL;
    assert_int_equal(dx_mem_client_new(NULL, NULL, &c), DX_OK);
    dx_table_def def = {.name = "waited", .key = {"id", DX_T_S, NULL, DX_T_NONE}, .wcu = 7, .rcu = 3};
    dx_result r;
    assert_int_equal(dx_create_table(c, &def, &r), DX_OK);
    dx_arena a = {0};
    dx_table_desc d;
    assert_int_equal(dx_wait_table_active(c, "waited", 1000, &a, &d, &r), DX_OK);
    assert_string_equal(d.status, "ACTIVE");
    assert_string_equal(d.name, "waited");
    assert_true(d.wcu == 7 && d.rcu == 3);
    /* Without an arena the figures stay and the strings are dropped. */
    assert_int_equal(dx_wait_table_active(c, "waited", 1000, NULL, &d, &r), DX_OK);
    assert_null(d.status);
    assert_true(d.wcu == 7);
    uint64_t t0 = dx_now_ms();
    assert_int_equal(dx_wait_table_active(c, "nosuch", 100, NULL, NULL, &r), DX_ERR_TIMEOUT);
    assert_true(dx_now_ms() - t0 >= 100);
    assert_non_null(strstr(r.message, "table nosuch did not become ACTIVE within 0.1 s"));
    /* Other errors return at once. */
    assert_int_equal(dx_wait_table_active(c, "x", 100000, NULL, NULL, &r), DX_ERR_VALIDATION);
    dx_arena_release(&a);
    dx_client_free(c);
}

static void test_non_retryable_returns_at_once(void **state) {
    (void)state;
    static const dx_err kinds[] = {DX_ERR_VALIDATION, DX_ERR_CONDITIONAL, DX_ERR_RESOURCE_NOT_FOUND,
                                   DX_ERR_AUTH};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        fake *f = fake_new();
        f->fail_with = kinds[i];
        dx_client *c = client_for(f, 5);
        tagged t;
        tagged_init(&t, 3);
        dx_call call = {.req = {.op = DX_OP_PUT, .table = "t", .item = &t.v}};
        assert_int_equal(dx_client_call(c, &call), kinds[i]);
        assert_int_equal(call.attempts, 1);
        assert_string_equal(call.res.type, dx_err_name(kinds[i]));
        assert_string_equal(call.res.message, "scripted failure");
        dx_client_free(c);
        free(f);
    }
}

static void test_retries_exhausted(void **state) {
    (void)state;
    fake *f = fake_new();
    f->throttle_first = 100;
    dx_client *c = client_for(f, 3);
    tagged t;
    tagged_init(&t, 4);
    dx_call call = {.req = {.op = DX_OP_PUT, .table = "t", .item = &t.v}};
    assert_int_equal(dx_client_call(c, &call), DX_ERR_THROUGHPUT);
    assert_int_equal(call.attempts, 3);
    assert_int_equal(call.throttles, 3);
    assert_int_equal(f->performed[4], 0);
    dx_client_free(c);
    free(f);
}

static void run_batch(fake *f, uint32_t max_attempts, size_t n, dx_call *call, tagged *items,
                      dx_write *w, dx_arena *a) {
    dx_client *c = client_for(f, max_attempts);
    for (size_t i = 0; i < n; i++) {
        tagged_init(&items[i], (int)i);
        w[i] = (dx_write){false, &items[i].v};
    }
    *call = (dx_call){.req = {.op = DX_OP_BATCH_WRITE, .table = "t", .writes = w, .nwrites = n},
                      .arena = a};
    dx_client_call(c, call);
    dx_client_free(c);
}

static void test_batch_redrive_completes(void **state) {
    (void)state;
    fake *f = fake_new();
    f->batch_leave_odd_once = 1;
    tagged items[25];
    dx_write w[25];
    dx_arena a = {0};
    dx_call call;
    run_batch(f, 5, 25, &call, items, w, &a);
    assert_int_equal(call.res.err, DX_OK);
    assert_int_equal(call.resp.nunprocessed, 0);
    assert_int_equal(call.attempts, 2);
    assert_int_equal(call.throttles, 12); /* the 12 odd positions of 25 */
    for (int i = 0; i < 25; i++) /* exactly once: nothing resent twice */
        assert_row_int_equal(i, f->performed[i], 1);
    dx_arena_release(&a);
    free(f);
}

static void test_batch_hands_back_leftovers(void **state) {
    (void)state;
    fake *f = fake_new();
    f->never_process[0] = 3;
    f->never_process[1] = 17;
    f->never_process[2] = -1;
    tagged items[25];
    dx_write w[25];
    dx_arena a = {0};
    dx_call call;
    run_batch(f, 4, 25, &call, items, w, &a);
    assert_int_equal(call.res.err, DX_ERR_THROUGHPUT);
    assert_int_equal(call.attempts, 4);
    assert_int_equal(call.resp.nunprocessed, 2);
    assert_int_equal(call.resp.unprocessed[0], 3);
    assert_int_equal(call.resp.unprocessed[1], 17);
    assert_non_null(strstr(call.res.message, "2 of 25 entries"));
    for (int i = 0; i < 25; i++) assert_row_int_equal(i, f->performed[i], (i == 3 || i == 17) ? 0 : 1);
    dx_arena_release(&a);
    free(f);
}

static void test_batch_fatal_error_hands_back_all(void **state) {
    (void)state;
    fake *f = fake_new();
    f->fail_with = DX_ERR_VALIDATION;
    tagged items[5];
    dx_write w[5];
    dx_arena a = {0};
    dx_call call;
    run_batch(f, 4, 5, &call, items, w, &a);
    assert_int_equal(call.res.err, DX_ERR_VALIDATION);
    assert_int_equal(call.resp.nunprocessed, 5);
    for (size_t i = 0; i < 5; i++) assert_int_equal(call.resp.unprocessed[i], i);
    dx_arena_release(&a);
    free(f);
}

static void test_async_inflight_limit(void **state) {
    (void)state;
    fake *f = fake_new();
    f->async = true;
    f->throttle_first = 1; /* every call retried once */
    dx_client *c = client_for(f, 5);
    dx_engine_opts eo = {.max_inflight = 8};
    dx_engine *e = dx_engine_new(c, &eo);
    enum { N = 40 };
    static tagged items[N];
    static dx_call calls[N];
    done_count = 0;
    for (int i = 0; i < N; i++) {
        tagged_init(&items[i], i);
        calls[i] = (dx_call){.req = {.op = DX_OP_PUT, .table = "t", .item = &items[i].v},
                             .done = count_done};
        assert_int_equal(dx_engine_submit(e, &calls[i]), DX_OK);
    }
    assert_int_equal(done_count, 0); /* never from submit */
    assert_int_equal(dx_engine_pending(e), N);
    dx_engine_drain(e);
    assert_int_equal(done_count, N);
    assert_int_equal(dx_engine_pending(e), 0);
    assert_int_equal(f->max_inflight_seen, 8);
    for (int i = 0; i < N; i++) {
        assert_int_equal(calls[i].res.err, DX_OK);
        assert_int_equal(calls[i].attempts, 2);
        assert_int_equal(f->performed[i], 1);
    }
    dx_engine_free(e);
    dx_client_free(c);
    free(f);
}

/* A callback that submits a follow-up call until a chain of 10 is done. */
typedef struct chain {
    dx_engine *e;
    dx_call call;
    tagged item;
    int left;
} chain;

static void chain_done(dx_call *call) {
    chain *ch = call->ud;
    assert_int_equal(call->res.err, DX_OK);
    if (--ch->left > 0) assert_int_equal(dx_engine_submit(ch->e, &ch->call), DX_OK);
}

static void test_callback_resubmits(void **state) {
    (void)state;
    fake *f = fake_new();
    dx_client *c = client_for(f, 5);
    chain ch = {.e = dx_engine_new(c, NULL), .left = 10};
    tagged_init(&ch.item, 9);
    ch.call = (dx_call){.req = {.op = DX_OP_PUT, .table = "t", .item = &ch.item.v},
                        .done = chain_done, .ud = &ch};
    assert_int_equal(dx_engine_submit(ch.e, &ch.call), DX_OK);
    assert_int_equal(dx_engine_submit(ch.e, &ch.call), DX_ERR_INVALID_ARG); /* already queued */
    dx_engine_drain(ch.e);
    assert_int_equal(ch.left, 0);
    assert_int_equal(f->performed[9], 10);
    dx_engine_free(ch.e);
    dx_client_free(c);
    free(f);
}

static void test_free_cancels_unsent(void **state) {
    (void)state;
    fake *f = fake_new();
    f->async = true;
    dx_client *c = client_for(f, 5);
    dx_engine_opts eo = {.max_inflight = 2};
    dx_engine *e = dx_engine_new(c, &eo);
    tagged items[6];
    dx_call calls[6];
    done_count = 0;
    for (int i = 0; i < 6; i++) {
        tagged_init(&items[i], 20 + i);
        calls[i] = (dx_call){.req = {.op = DX_OP_PUT, .table = "t", .item = &items[i].v},
                             .done = count_done};
        dx_engine_submit(e, &calls[i]);
    }
    dx_engine_run(e, 0); /* starts two */
    dx_engine_free(e);
    assert_int_equal(done_count, 6);
    int ok = 0, cancelled = 0;
    for (int i = 0; i < 6; i++) {
        if (calls[i].res.err == DX_OK) {
            ok++;
            assert_int_equal(f->performed[20 + i], 1);
        } else {
            assert_int_equal(calls[i].res.err, DX_ERR_CANCELLED);
            assert_int_equal(f->performed[20 + i], 0);
            cancelled++;
        }
    }
    assert_int_equal(ok, 2);
    assert_int_equal(cancelled, 4);
    dx_client_free(c);
    free(f);
}

static void test_missing_arena_rejected(void **state) {
    (void)state;
    fake *f = fake_new();
    dx_client *c = client_for(f, 5);
    dx_value key = dx_vmap(NULL, 0);
    dx_call call = {.req = {.op = DX_OP_GET, .table = "t", .key = &key}};
    assert_int_equal(dx_client_call(c, &call), DX_ERR_INVALID_ARG);
    assert_non_null(strstr(call.res.message, "arena"));
    assert_int_equal(f->attempts, 0);
    dx_client_free(c);
    free(f);
}

typedef struct thread_arg {
    dx_client *c;
    int base;
} thread_arg;

static void *sync_worker(void *p) {
    thread_arg *ta = p;
    for (int i = 0; i < 8; i++) {
        tagged t;
        tagged_init(&t, ta->base + i);
        dx_call call = {.req = {.op = DX_OP_PUT, .table = "t", .item = &t.v}};
        if (dx_client_call(ta->c, &call) != DX_OK) return (void *)1;
    }
    return NULL;
}

static void test_sync_from_threads(void **state) {
    (void)state;
    fake *f = fake_new();
    f->throttle_first = 1;
    dx_client *c = client_for(f, 5);
    pthread_t th[4];
    thread_arg ta[4];
    for (int i = 0; i < 4; i++) {
        ta[i] = (thread_arg){c, i * 8};
        pthread_create(&th[i], NULL, sync_worker, &ta[i]);
    }
    for (int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_null(rv);
    }
    for (int i = 0; i < 32; i++) assert_int_equal(f->performed[i], 1);
    dx_client_stats st;
    dx_client_stats_get(c, &st);
    assert_int_equal(st.calls, 32);
    assert_int_equal(st.attempts, 64);
    dx_client_free(c);
    free(f);
}

static void test_rate_cap_waits(void **state) {
    (void)state;
    fake *f = fake_new();
    f->consumed_per_attempt = 1;
    dx_client_opts o = {.retry = {.max_attempts = 3}, .rate = {.max_wcu = 100}, .seed = 7};
    dx_client *c = NULL;
    assert_int_equal(dx_client_wrap_(&fake_vt, f, &o, &c), DX_OK);
    dx_engine *e = dx_engine_new(c, NULL);
    enum { N = 150 };
    static tagged items[N];
    static dx_call calls[N];
    uint64_t t0 = dx_now_ns();
    for (int i = 0; i < N; i++) {
        tagged_init(&items[i], i % MAX_ENTRIES);
        calls[i] = (dx_call){.req = {.op = DX_OP_PUT, .table = "t", .item = &items[i].v}};
        dx_engine_submit(e, &calls[i]);
    }
    dx_engine_drain(e);
    double secs = (double)(dx_now_ns() - t0) / 1e9;
    /* 100 units of burst, then 50 more at 100/s: at least ~0.5 s. A lower
     * bound only, so a slow machine cannot make it fail. */
    assert_true(secs >= 0.4);
    dx_client_stats st;
    dx_client_stats_get(c, &st);
    assert_true(st.limiter_wait_ms > 0);
    assert_true(st.wcu > 149.9 && st.wcu < 150.1);
    for (int i = 0; i < N; i++) assert_int_equal(calls[i].res.err, DX_OK);
    dx_engine_free(e);
    dx_client_free(c);
    free(f);
}

static void test_big_request_never_starves(void **state) {
    (void)state;
    fake *f = fake_new();
    dx_client_opts o = {.rate = {.max_wcu = 2}, .seed = 7};
    dx_client *c = NULL;
    assert_int_equal(dx_client_wrap_(&fake_vt, f, &o, &c), DX_OK);
    /* A 20 KB item costs 20 write units, ten times the bucket. */
    static char big[20000];
    memset(big, 'x', sizeof big);
    dx_member m[2] = {{"id", 2, dx_vs("k")}, {"blob", 4, dx_vsn(big, sizeof big)}};
    dx_value item = dx_vmap(m, 2);
    dx_call call = {.req = {.op = DX_OP_PUT, .table = "t", .item = &item}};
    assert_int_equal(dx_client_call(c, &call), DX_OK);
    dx_client_stats st;
    dx_client_stats_get(c, &st);
    assert_int_equal(st.limiter_wait_ms, 0); /* admitted at once, into debt */
    dx_client_free(c);
    free(f);
}

/* Puts `batches` BatchWriteItems of 25 items through an adaptive client on a
 * capacity-limited fake table; returns the seconds taken. */
static double run_capacity(fake *f, double hint, int batches, dx_client_stats *st) {
    dx_client_opts o = {.retry = {.max_attempts = 20, .base_ms = 5, .max_ms = 100},
                        .rate = {.adaptive = true}, .seed = 9};
    dx_client *c = NULL;
    assert_int_equal(dx_client_wrap_(&fake_vt, f, &o, &c), DX_OK);
    if (hint > 0) dx_client_rate_hint(c, 0, hint);
    dx_engine_opts eo = {.max_inflight = 8};
    dx_engine *e = dx_engine_new(c, &eo);
    static tagged items[25];
    static dx_write w[25];
    for (int i = 0; i < 25; i++) {
        tagged_init(&items[i], i);
        w[i] = (dx_write){.item = &items[i].v};
    }
    dx_call *calls = calloc((size_t)batches, sizeof *calls);
    dx_arena *arenas = calloc((size_t)batches, sizeof *arenas);
    uint64_t t0 = dx_now_ns();
    for (int i = 0; i < batches; i++) {
        calls[i] = (dx_call){.req = {.op = DX_OP_BATCH_WRITE, .table = "t", .writes = w, .nwrites = 25},
                             .arena = &arenas[i]};
        assert_int_equal(dx_engine_submit(e, &calls[i]), DX_OK);
    }
    dx_engine_drain(e);
    double secs = (double)(dx_now_ns() - t0) / 1e9;
    for (int i = 0; i < batches; i++) {
        if (calls[i].res.err != DX_OK) print_error("batch %d: %s\n", i, calls[i].res.message);
        assert_int_equal(calls[i].res.err, DX_OK);
        assert_int_equal(calls[i].resp.nunprocessed, 0);
        dx_arena_release(&arenas[i]);
    }
    dx_client_stats_get(c, st);
    dx_engine_free(e);
    dx_client_free(c);
    free(calls);
    free(arenas);
    return secs;
}

/*
 * The adaptive limiter on a table of 10,000 units/s with a 1 s burst, told
 * nothing: after the burst it finds the capacity from what the table
 * accepted when it pushed back, and then keeps it busy without hammering it.
 * 22,000 items: the burst, then 1.2 s at full capacity.
 */
static void test_adaptive_finds_capacity(void **state) {
    (void)state;
    fake *f = fake_new();
    f->cap_rate = 10000;
    dx_client_stats st;
    double secs = run_capacity(f, 0, 880, &st);
    assert_int_equal(f->cap_written, 22000);
    int attempts = atomic_load(&f->attempts);
    print_message("adaptive: %.2f s, %d attempts, %d throttled, %d partial\n", secs, attempts,
                  f->cap_throttled, f->cap_partial);
    assert_true(secs >= 1.1);           /* cannot beat the table */
    assert_true(secs <= 2.4);           /* and does not crawl: >= 50% of it after the burst */
    assert_true(attempts <= 880 * 3 / 2); /* few partial batches */
    assert_true(f->cap_throttled <= 880 / 50);
    assert_true(st.limiter_wait_ms > 0); /* it paced itself */
    free(f);
}

/* Told the table's capacity, it paces below it from the start: no throttle at all. */
static void test_rate_hint_paces(void **state) {
    (void)state;
    fake *f = fake_new();
    f->cap_rate = 10000;
    dx_client_stats st;
    double secs = run_capacity(f, 10000, 880, &st);
    assert_int_equal(f->cap_written, 22000);
    print_message("hinted: %.2f s, %d attempts, %d throttled, %d partial\n", secs,
                  atomic_load(&f->attempts), f->cap_throttled, f->cap_partial);
    assert_int_equal(f->cap_throttled, 0);
    assert_true(f->cap_partial <= 5);
    assert_true(secs >= 1.1 && secs <= 2.4);
    assert_true(st.limiter_wait_ms > 0);
    free(f);
}

/* A hint changes nothing unless the client is adaptive, and never lifts a cap. */
static void test_rate_hint_respects_cap(void **state) {
    (void)state;
    fake *f = fake_new();
    f->consumed_per_attempt = 1;
    dx_client_opts o = {.rate = {.max_wcu = 100, .adaptive = true}, .seed = 7};
    dx_client *c = NULL;
    assert_int_equal(dx_client_wrap_(&fake_vt, f, &o, &c), DX_OK);
    dx_client_rate_hint(c, 0, 1e6); /* far above the cap */
    dx_engine *e = dx_engine_new(c, NULL);
    enum { N = 150 };
    static tagged items[N];
    static dx_call calls[N];
    uint64_t t0 = dx_now_ns();
    for (int i = 0; i < N; i++) {
        tagged_init(&items[i], i % MAX_ENTRIES);
        calls[i] = (dx_call){.req = {.op = DX_OP_PUT, .table = "t", .item = &items[i].v}};
        dx_engine_submit(e, &calls[i]);
    }
    dx_engine_drain(e);
    double secs = (double)(dx_now_ns() - t0) / 1e9;
    assert_true(secs >= 0.4); /* ~98 of burst, then ~52 at ~98/s */
    dx_engine_free(e);
    dx_client_free(c);
    dx_client_rate_hint(NULL, 1, 1); /* NULL is a no-op */
    free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_first_try),
        cmocka_unit_test(test_retry_then_success),
        cmocka_unit_test(test_non_retryable_returns_at_once),
        cmocka_unit_test(test_expired_token_retried_once),
        cmocka_unit_test(test_wait_table_active),
        cmocka_unit_test(test_retries_exhausted),
        cmocka_unit_test(test_batch_redrive_completes),
        cmocka_unit_test(test_batch_hands_back_leftovers),
        cmocka_unit_test(test_batch_fatal_error_hands_back_all),
        cmocka_unit_test(test_async_inflight_limit),
        cmocka_unit_test(test_callback_resubmits),
        cmocka_unit_test(test_free_cancels_unsent),
        cmocka_unit_test(test_missing_arena_rejected),
        cmocka_unit_test(test_sync_from_threads),
        cmocka_unit_test(test_rate_cap_waits),
        cmocka_unit_test(test_big_request_never_starves),
        cmocka_unit_test(test_adaptive_finds_capacity),
        cmocka_unit_test(test_rate_hint_paces),
        cmocka_unit_test(test_rate_hint_respects_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
