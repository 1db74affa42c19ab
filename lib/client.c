/*
 * client.c - the generic client and engine: everything about running a call
 * that does not depend on the backend.
 *
 * DESIGN
 * A dx_client wraps one backend instance (memory or DynamoDB over HTTP) with
 * the shared, thread-safe parts: options, statistics (atomics) and the rate
 * limiter (one mutex, held for a few arithmetic operations). A dx_engine is
 * one thread's way of driving calls through that client. It keeps four
 * lists, all owned by the engine's thread:
 *
 *   ready    calls waiting to start (FIFO)
 *   timers   calls waiting for a time: a retry backoff or the rate limiter
 *            (a binary heap ordered by due time)
 *   done     attempts the backend has finished, not yet looked at
 *   complete calls that are finished, whose callbacks have not run yet
 *
 * dx_engine_run moves due timers to ready, starts attempts while fewer than
 * max_inflight are in the backend and the limiter allows, examines finished
 * attempts (success, retry with backoff, batch re-drive of the unprocessed
 * entries, or final error) and then runs callbacks. Callbacks run only from
 * dx_engine_run, never from submit and never while the backend is inside
 * start() or poll(), so a callback may submit new calls freely.
 *
 * RETRIES
 * Throttling, 5xx, network, timeout and CRC errors are retried with
 * exponential backoff and full jitter (delay uniform in [0, min(max, base *
 * 2^attempt)]), up to max_attempts attempts per call. Everything else ends
 * the call at once. A batch attempt that leaves entries unprocessed counts as
 * throttled: only those entries are sent again, after a backoff; when the
 * attempts run out the call ends with DX_ERR_THROUGHPUT and exactly those
 * entries in resp.unprocessed.
 *
 * RATE LIMITER
 * A token bucket of capacity units per direction (read, write), shared by
 * every engine of the client. A request is admitted when the bucket holds
 * its whole estimated cost, which is then charged: the costs of the requests
 * in flight are always covered by tokens already earned, so any number of
 * workers admitted together cannot overshoot. (A request costing more than
 * the burst is admitted when the bucket is full, into debt, never starved.)
 * When the attempt finishes the charge is corrected to the capacity the
 * server reports. With a hard cap the rate is the cap, with one second of
 * burst.
 *
 * Adaptive: the rate is unlimited until the server pushes back (a throttle,
 * or a batch with unprocessed entries), or starts at a table's provisioned
 * capacity when told it (dx_client_rate_hint). Pushback means the table is
 * at capacity right now, so what it accepted per second over the last two
 * seconds (consumed capacity, as reported) is its capacity: the limiter
 * paces at 98% of that (cutting by at most 30% per event), empties its
 * bucket (the server's is empty) and keeps a burst of only 0.1 s from then
 * on. Signals within 0.5 s of a cut are the same event. The first time, with
 * no rate yet, the window holds what the table accepted from the first wave
 * (its burst, about a second of capacity on a fresh table) measured over at
 * least a second, and answers of that wave arriving later still raise the
 * estimate; an estimate inflated by a larger burst is corrected by the next
 * events.
 * After a second without pushback the rate grows: 25% per second while
 * below the last measured capacity, 1% per second beyond it (probing for
 * more, e.g. when other traffic on the table stops). Never above a cap.
 *
 * Must never: invoke a callback from dx_engine_submit, complete a call twice
 * or not at all, or sleep holding a lock.
 */
#include "backend_internal.h"

#include <math.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynox/size.h"

enum { ST_IDLE = 0, ST_READY, ST_TIMER, ST_INFLIGHT, ST_COMPLETE, ST_DONE };

#define DEFAULT_MAX_ATTEMPTS 10
#define DEFAULT_BASE_MS 25
#define DEFAULT_MAX_MS 5000
#define DEFAULT_INFLIGHT 64

/* ---------------------------------------------------------------- limiter */

#define WIN_SLOTS 20               /* consumption window: 20 slots of 100 ms = 2 s */
#define SLOT_NS 100000000ull
#define CUT_HOLD_NS 500000000ull   /* congestion signals within this of a cut are the same event */
#define GROW_HOLD_NS 1000000000ull /* no growth this soon after a cut: let the window measure */
#define MARGIN 0.98                /* pace this far below a measured or hinted capacity */
#define PROBE_PER_S 0.01           /* growth per second near the last measured capacity */
#define RECOVER_PER_S 0.25         /* growth per second well below it */
#define MAX_CUT 0.7                /* one congestion event cuts the rate to no less than this */

typedef struct bucket {
    double cap;       /* hard cap, units/s; 0: none */
    double rate;      /* current pace; INFINITY: unlimited */
    double burst;     /* most tokens saved up */
    double tokens;    /* may be negative: the debt of a request larger than the burst */
    uint64_t last_ns; /* last refill */
    _Atomic bool limited; /* rate is finite: read without the lock by start_call */
    /* adaptive state */
    bool congested;   /* the server has pushed back at least once: keep the burst short */
    double ceiling;   /* capacity measured (or hinted) at the last congestion; 0: none */
    bool first_cut;   /* cut from unlimited: answers of the first wave still measure */
    uint64_t last_cut_ns, last_grow_ns;
    double win[WIN_SLOTS]; /* units consumed per 100 ms slot */
    uint64_t win_slot;     /* absolute slot number of the newest slot */
    uint64_t win_first_ns; /* first sample, for how much of the window is covered */
} bucket;

typedef struct limiter {
    pthread_mutex_t mu;
    bool adaptive;
    bucket b[2]; /* 0: read, 1: write */
} limiter;

static bool bucket_limited(const bucket *b) { return isfinite(b->rate); }

/* Paces at r (never above the cap); the burst is one second of r while the
 * server has not pushed back, a tenth of a second after it has. */
static void bucket_set_rate(bucket *b, double r, uint64_t now) {
    if (b->cap > 0 && r > b->cap) r = b->cap;
    if (isfinite(r) && r < 0.1) r = 0.1;
    if (isfinite(b->rate) && b->last_ns) {
        double dt = (double)(now - b->last_ns) / 1e9;
        b->tokens += dt * b->rate;
    }
    b->last_ns = now;
    b->rate = r;
    b->burst = isfinite(r) ? r * (b->congested ? 0.1 : 1.0) : 0;
    if (isfinite(r) && b->burst < 1) b->burst = 1;
    if (b->tokens > b->burst) b->tokens = b->burst;
    atomic_store(&b->limited, isfinite(r));
}

static void bucket_init(bucket *b, double cap) {
    memset(b, 0, sizeof *b);
    b->cap = cap;
    b->rate = INFINITY;
    bucket_set_rate(b, cap > 0 ? cap : INFINITY, 0);
    b->tokens = b->burst; /* a fresh table has its burst */
}

static void bucket_refill(bucket *b, uint64_t now) {
    if (!bucket_limited(b)) return;
    if (b->last_ns == 0 || now < b->last_ns) b->last_ns = now;
    double dt = (double)(now - b->last_ns) / 1e9;
    b->last_ns = now;
    b->tokens += dt * b->rate;
    if (b->tokens > b->burst) b->tokens = b->burst;
}

/*
 * 0 when admitted (cost charged); otherwise nanoseconds to wait. A request
 * waits until the bucket holds its whole cost, so that the costs of the
 * requests in flight are always covered by tokens already earned: many
 * workers admitted at once cannot send more than the bucket holds. A
 * request that costs more than the burst is admitted once the bucket is
 * full, into debt, rather than never.
 */
static uint64_t bucket_acquire(bucket *b, double cost, uint64_t now) {
    if (!bucket_limited(b)) return 0;
    bucket_refill(b, now);
    double need = cost < b->burst ? cost : b->burst;
    if (b->tokens >= need - 1e-9) {
        b->tokens -= cost;
        return 0;
    }
    double wait_s = (need - b->tokens) / b->rate;
    return (uint64_t)(wait_s * 1e9) + 1000000; /* at least 1 ms */
}

/* Units consumed per second over the covered part of the window (at least 1 s). */
static double bucket_measured(const bucket *b, uint64_t now) {
    double sum = 0;
    for (int i = 0; i < WIN_SLOTS; i++) sum += b->win[i];
    if (!b->win_first_ns) return 0;
    double span = (double)(now - b->win_first_ns) / 1e9;
    double full = (double)WIN_SLOTS * (double)SLOT_NS / 1e9;
    if (span > full) span = full;
    if (span < 1) span = 1;
    return sum / span;
}

static void window_add(bucket *b, double units, uint64_t now) {
    uint64_t slot = now / SLOT_NS;
    if (!b->win_first_ns) {
        b->win_first_ns = now;
        b->win_slot = slot;
    }
    if (slot > b->win_slot) {
        uint64_t gap = slot - b->win_slot;
        for (uint64_t i = 1; i <= gap && i <= WIN_SLOTS; i++) b->win[(b->win_slot + i) % WIN_SLOTS] = 0;
        b->win_slot = slot;
    }
    if (slot + WIN_SLOTS > b->win_slot) b->win[slot % WIN_SLOTS] += units;
}

/*
 * An attempt finished: `units` consumed as the server reported, `estimate`
 * charged when it was admitted (0 when the bucket was unlimited then).
 * Without congestion the charge is corrected to what was consumed (when the
 * server reported anything). With congestion the server's bucket is empty
 * right now, so ours is too: nothing is refunded.
 */
static void bucket_consumed(bucket *b, double units, double estimate, bool congestion,
                            uint64_t now) {
    window_add(b, units, now);
    if (b->first_cut && estimate <= 0 && bucket_limited(b)) {
        /* An answer of the first wave (sent unlimited, so not charged) that
         * arrives after its first throttle still belongs to the measurement. */
        double m = bucket_measured(b, now);
        if (m > b->ceiling) {
            b->ceiling = m;
            bucket_set_rate(b, m * MARGIN, now);
        }
    }
    if (!bucket_limited(b) || estimate <= 0) return;
    bucket_refill(b, now);
    if (congestion) {
        if (b->tokens > 0) b->tokens = 0;
    } else if (units > 0) {
        b->tokens += estimate - units;
        if (b->tokens > b->burst) b->tokens = b->burst;
    }
}

/*
 * Adaptive: the server throttled or left batch entries unprocessed, so the
 * table is at capacity and what it accepted over the recent window is its
 * capacity. Pace just below that; one event per CUT_HOLD_NS (the other
 * requests in flight say the same thing). The first time, with no rate yet,
 * the window holds the table's burst as well, so half of it is the guess.
 */
static void bucket_congestion(bucket *b, uint64_t now) {
    if (b->last_cut_ns && now < b->last_cut_ns + CUT_HOLD_NS) return;
    double measured = bucket_measured(b, now);
    double r;
    b->congested = true;
    if (!bucket_limited(b)) {
        r = measured > 0 ? measured * MARGIN : 1;
        b->ceiling = measured;
        b->first_cut = true;
    } else {
        double c = measured < b->rate ? measured : b->rate;
        if (c < b->rate * MAX_CUT) c = b->rate * MAX_CUT;
        b->ceiling = c;
        r = c * MARGIN;
    }
    bucket_set_rate(b, r, now);
    if (b->tokens > 0) b->tokens = 0;
    b->last_cut_ns = now;
    b->last_grow_ns = now;
}

/* Adaptive: without congestion the rate creeps up: quickly back towards the
 * last measured capacity, slowly beyond it (probing for more). */
static void bucket_grow(bucket *b, uint64_t now) {
    if (!bucket_limited(b) || !b->last_cut_ns) return;
    if (now < b->last_cut_ns + GROW_HOLD_NS || now <= b->last_grow_ns) return;
    if (b->cap > 0 && b->rate >= b->cap) return;
    double dt = (double)(now - b->last_grow_ns) / 1e9;
    if (dt < 0.05) return;
    double per_s = b->rate < b->ceiling * MARGIN ? RECOVER_PER_S : PROBE_PER_S;
    bucket_set_rate(b, b->rate * (1 + per_s * dt), now);
    b->last_grow_ns = now;
}

/* A known capacity (dx_client_rate_hint): pace just below it from the start. */
static void bucket_hint(bucket *b, double units, uint64_t now) {
    if (b->cap > 0 && units > b->cap) units = b->cap;
    b->ceiling = units;
    bucket_set_rate(b, units * MARGIN, now);
    b->tokens = b->burst; /* a table that has been idle has its burst */
    b->last_cut_ns = now; /* probe upward only after a while */
    b->last_grow_ns = now;
}

/* ---------------------------------------------------------------- client */

struct dx_client {
    const dx_backend_vt *vt;
    void *impl;
    dx_client_opts opts;
    limiter lim;
    bool limiting; /* a cap or adaptive limiting is configured */
    _Atomic uint64_t calls, attempts, retries, throttles, errors, wait_ms;
    _Atomic uint64_t rcu_milli, wcu_milli; /* consumed units x 1000 */
    _Atomic uint64_t seed_ctr;
    pthread_mutex_t pool_mu;
    dx_engine *pool; /* idle engines for dx_client_call */
};

struct dx_engine {
    dx_client *c;
    void *be;
    uint32_t max_inflight;
    size_t pending;  /* submitted, not yet completed (callback not yet run) */
    size_t inflight; /* attempts inside the backend */
    dx_call *ready_head, *ready_tail;
    dx_call **heap;  /* timers, min-heap by priv_.due_ns */
    size_t nheap, capheap;
    dx_attempt *done_head, *done_tail;
    dx_attempt *free_attempts;
    dx_call *complete_head, *complete_tail;
    dx_rng rng;
    dx_engine *pool_next;
};

const char *dx_op_name(dx_op op) {
    switch (op) {
    case DX_OP_NONE: return "None";
    case DX_OP_PUT: return "PutItem";
    case DX_OP_GET: return "GetItem";
    case DX_OP_UPDATE: return "UpdateItem";
    case DX_OP_DELETE: return "DeleteItem";
    case DX_OP_BATCH_WRITE: return "BatchWriteItem";
    case DX_OP_BATCH_GET: return "BatchGetItem";
    case DX_OP_QUERY: return "Query";
    case DX_OP_SCAN: return "Scan";
    case DX_OP_CREATE_TABLE: return "CreateTable";
    case DX_OP_DESCRIBE_TABLE: return "DescribeTable";
    case DX_OP_DELETE_TABLE: return "DeleteTable";
    case DX_OP_DESCRIBE_BACKUPS: return "DescribeContinuousBackups";
    case DX_OP__COUNT: break;
    }
    return "Unknown";
}

bool dx_op_is_write(dx_op op) {
    return op == DX_OP_PUT || op == DX_OP_UPDATE || op == DX_OP_DELETE || op == DX_OP_BATCH_WRITE;
}

static bool op_needs_arena(const dx_req *q) {
    switch (q->op) {
    case DX_OP_GET:
    case DX_OP_BATCH_WRITE:
    case DX_OP_BATCH_GET:
    case DX_OP_QUERY:
    case DX_OP_SCAN:
    case DX_OP_CREATE_TABLE:
    case DX_OP_DESCRIBE_TABLE:
    case DX_OP_DESCRIBE_BACKUPS:
        return true;
    case DX_OP_PUT:
    case DX_OP_UPDATE:
    case DX_OP_DELETE:
        return q->ret != DX_RET_NONE;
    case DX_OP_NONE:
    case DX_OP_DELETE_TABLE:
    case DX_OP__COUNT:
        return false;
    }
    return false;
}

static bool op_is_batch(dx_op op) { return op == DX_OP_BATCH_WRITE || op == DX_OP_BATCH_GET; }

dx_err dx_client_wrap_(const dx_backend_vt *vt, void *impl, const dx_client_opts *opts,
                       dx_client **out) {
    *out = NULL;
    dx_client *c = calloc(1, sizeof *c);
    if (!c) {
        vt->impl_free(impl);
        return DX_ERR_NOMEM;
    }
    c->vt = vt;
    c->impl = impl;
    if (opts) c->opts = *opts;
    if (!c->opts.retry.max_attempts) c->opts.retry.max_attempts = DEFAULT_MAX_ATTEMPTS;
    if (!c->opts.retry.base_ms) c->opts.retry.base_ms = DEFAULT_BASE_MS;
    if (!c->opts.retry.max_ms) c->opts.retry.max_ms = DEFAULT_MAX_MS;
    if (c->opts.retry.max_ms < c->opts.retry.base_ms) c->opts.retry.max_ms = c->opts.retry.base_ms;
    pthread_mutex_init(&c->lim.mu, NULL);
    c->lim.adaptive = c->opts.rate.adaptive;
    bucket_init(&c->lim.b[0], c->opts.rate.max_rcu);
    bucket_init(&c->lim.b[1], c->opts.rate.max_wcu);
    c->limiting = c->opts.rate.adaptive || c->opts.rate.max_rcu > 0 || c->opts.rate.max_wcu > 0;
    pthread_mutex_init(&c->pool_mu, NULL);
    *out = c;
    return DX_OK;
}

void *dx_client_impl_(const dx_client *c) { return c->impl; }

const char *dx_client_backend(const dx_client *c) { return c ? c->vt->name : "none"; }

void dx_client_free(dx_client *c) {
    if (!c) return;
    dx_engine *e = c->pool;
    while (e) {
        dx_engine *next = e->pool_next;
        e->c = c;
        dx_engine_free(e);
        e = next;
    }
    c->vt->impl_free(c->impl);
    pthread_mutex_destroy(&c->lim.mu);
    pthread_mutex_destroy(&c->pool_mu);
    free(c);
}

void dx_client_stats_get(dx_client *c, dx_client_stats *out) {
    memset(out, 0, sizeof *out);
    out->calls = atomic_load(&c->calls);
    out->attempts = atomic_load(&c->attempts);
    out->retries = atomic_load(&c->retries);
    out->throttles = atomic_load(&c->throttles);
    out->errors = atomic_load(&c->errors);
    out->rcu = (double)atomic_load(&c->rcu_milli) / 1000.0;
    out->wcu = (double)atomic_load(&c->wcu_milli) / 1000.0;
    out->limiter_wait_ms = atomic_load(&c->wait_ms);
}

void dx_client_rate_hint(dx_client *c, double rcu, double wcu) {
    if (!c || !c->lim.adaptive) return;
    uint64_t now = dx_now_ns();
    pthread_mutex_lock(&c->lim.mu);
    if (rcu > 0) bucket_hint(&c->lim.b[0], rcu, now);
    if (wcu > 0) bucket_hint(&c->lim.b[1], wcu, now);
    pthread_mutex_unlock(&c->lim.mu);
}

/* ---------------------------------------------------------------- calls */

void dx_call_reset(dx_call *call) {
    memset(&call->resp, 0, sizeof call->resp);
    dx_result_clear(&call->res);
    call->attempts = call->throttles = 0;
    call->start_ns = call->end_ns = 0;
    memset(&call->priv_, 0, sizeof call->priv_);
}

/* Capacity units an attempt is expected to cost, charged to the limiter up front. */
static double estimate_cost(const dx_call *call) {
    const dx_req *q = &call->req;
    double read_unit = q->consistent ? 1.0 : 0.5;
    switch (q->op) {
    case DX_OP_PUT:
        return q->item ? dx_write_units(dx_item_size(q->item)) : 1;
    case DX_OP_UPDATE:
    case DX_OP_DELETE:
        return 1;
    case DX_OP_BATCH_WRITE: {
        double sum = 0;
        for (size_t i = 0; i < call->priv_.npending; i++) {
            const dx_write *w = &q->writes[call->priv_.pending[i]];
            sum += (!w->del && w->item) ? dx_write_units(dx_item_size(w->item)) : 1;
        }
        return sum;
    }
    case DX_OP_GET:
    case DX_OP_QUERY:
    case DX_OP_SCAN:
        return read_unit;
    case DX_OP_BATCH_GET:
        return read_unit * (double)call->priv_.npending;
    case DX_OP_NONE:
    case DX_OP_CREATE_TABLE:
    case DX_OP_DESCRIBE_TABLE:
    case DX_OP_DELETE_TABLE:
    case DX_OP_DESCRIBE_BACKUPS:
    case DX_OP__COUNT:
        return 0;
    }
    return 0;
}

static int dir_of(dx_op op) { return dx_op_is_write(op) ? 1 : 0; }

/* ---------------------------------------------------------------- heap */

static bool heap_push(dx_engine *e, dx_call *call) {
    if (e->nheap == e->capheap) {
        size_t cap = e->capheap ? e->capheap * 2 : 64;
        dx_call **h = realloc(e->heap, cap * sizeof *h);
        if (!h) return false;
        e->heap = h;
        e->capheap = cap;
    }
    size_t i = e->nheap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (e->heap[parent]->priv_.due_ns <= call->priv_.due_ns) break;
        e->heap[i] = e->heap[parent];
        i = parent;
    }
    e->heap[i] = call;
    return true;
}

static dx_call *heap_pop(dx_engine *e) {
    dx_call *top = e->heap[0], *last = e->heap[--e->nheap];
    size_t i = 0, n = e->nheap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t mdue = last->priv_.due_ns;
        if (l < n && e->heap[l]->priv_.due_ns < mdue) {
            m = l;
            mdue = e->heap[l]->priv_.due_ns;
        }
        if (r < n && e->heap[r]->priv_.due_ns < mdue) m = r;
        if (m == i) break;
        e->heap[i] = e->heap[m];
        i = m;
    }
    if (n) e->heap[i] = last;
    return top;
}

/* ---------------------------------------------------------------- queues */

static void ready_push(dx_engine *e, dx_call *call) {
    call->priv_.state = ST_READY;
    call->priv_.next = NULL;
    if (e->ready_tail) {
        e->ready_tail->priv_.next = call;
    } else {
        e->ready_head = call;
    }
    e->ready_tail = call;
}

static dx_call *ready_pop(dx_engine *e) {
    dx_call *call = e->ready_head;
    if (call) {
        e->ready_head = call->priv_.next;
        if (!e->ready_head) e->ready_tail = NULL;
        call->priv_.next = NULL;
    }
    return call;
}

static void complete(dx_engine *e, dx_call *call) {
    call->end_ns = dx_now_ns();
    call->priv_.state = ST_COMPLETE;
    call->priv_.next = NULL;
    if (e->complete_tail) {
        e->complete_tail->priv_.next = call;
    } else {
        e->complete_head = call;
    }
    e->complete_tail = call;
    atomic_fetch_add(&e->c->calls, 1);
    if (call->res.err != DX_OK) atomic_fetch_add(&e->c->errors, 1);
}

/* Schedules the call to be tried again after delay_ns (or to wait for the limiter). */
static void schedule(dx_engine *e, dx_call *call, uint64_t delay_ns) {
    call->priv_.due_ns = dx_now_ns() + delay_ns;
    call->priv_.state = ST_TIMER;
    if (!heap_push(e, call)) {
        /* Out of memory for the timer heap: try again at once rather than lose it. */
        ready_push(e, call);
    }
}

static uint64_t backoff_ns(dx_engine *e, uint32_t attempt) {
    const dx_retry_opts *o = &e->c->opts.retry;
    uint64_t ceil_ms = o->base_ms;
    for (uint32_t i = 1; i < attempt && ceil_ms < o->max_ms; i++) ceil_ms *= 2;
    if (ceil_ms > o->max_ms) ceil_ms = o->max_ms;
    uint64_t ceil_ns = ceil_ms * 1000000u;
    return dx_rng_below(&e->rng, ceil_ns + 1);
}

/* ---------------------------------------------------------------- engine */

dx_engine *dx_engine_new(dx_client *c, const dx_engine_opts *opts) {
    dx_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->c = c;
    e->max_inflight = opts && opts->max_inflight ? opts->max_inflight : DEFAULT_INFLIGHT;
    e->be = c->vt->engine_new(c->impl);
    if (!e->be) {
        free(e);
        return NULL;
    }
    uint64_t seed = c->opts.seed;
    if (seed) seed += atomic_fetch_add(&c->seed_ctr, 1) * 0x9e3779b97f4a7c15ull;
    dx_rng_seed(&e->rng, seed);
    return e;
}

size_t dx_engine_pending(const dx_engine *e) { return e->pending; }

dx_err dx_engine_submit(dx_engine *e, dx_call *call) {
    if (!e || !call || call->req.op <= DX_OP_NONE || call->req.op >= DX_OP__COUNT)
        return DX_ERR_INVALID_ARG;
    if (call->priv_.state != ST_IDLE && call->priv_.state != ST_DONE) return DX_ERR_INVALID_ARG;
    if (op_needs_arena(&call->req) && !call->arena) return DX_ERR_INVALID_ARG;
    dx_call_reset(call);
    call->priv_.engine = e;
    call->start_ns = dx_now_ns();
    e->pending++;
    if (op_is_batch(call->req.op)) {
        size_t n = call->req.op == DX_OP_BATCH_WRITE ? call->req.nwrites : call->req.nkeys;
        size_t *idx = n ? dx_arena_alloc(call->arena, n * sizeof *idx) : NULL;
        if (n && !idx) {
            dx_fail(&call->res, DX_ERR_NOMEM, NULL, NULL);
            complete(e, call);
            return DX_OK;
        }
        for (size_t i = 0; i < n; i++) idx[i] = i;
        call->priv_.pending = idx;
        call->priv_.npending = n;
    }
    ready_push(e, call);
    return DX_OK;
}

static dx_attempt *attempt_alloc(dx_engine *e) {
    dx_attempt *a = e->free_attempts;
    if (a) {
        e->free_attempts = a->next;
    } else {
        a = malloc(sizeof *a);
        if (!a) return NULL;
    }
    memset(a, 0, sizeof *a);
    return a;
}

static void attempt_release(dx_engine *e, dx_attempt *a) {
    a->next = e->free_attempts;
    e->free_attempts = a;
}

/* Builds the attempt's request: the caller's, with batches narrowed to the pending entries. */
static bool attempt_prepare(dx_call *call, dx_attempt *a) {
    a->call = call;
    a->req = call->req;
    a->arena = call->arena;
    dx_result_clear(&a->res);
    size_t n = call->priv_.npending;
    if (call->req.op == DX_OP_BATCH_WRITE) {
        if (n != call->req.nwrites) {
            if (!call->priv_.sub_writes) {
                call->priv_.sub_writes = dx_arena_alloc(call->arena, n * sizeof(dx_write));
                if (!call->priv_.sub_writes) return false;
            }
            for (size_t i = 0; i < n; i++)
                call->priv_.sub_writes[i] = call->req.writes[call->priv_.pending[i]];
            a->req.writes = call->priv_.sub_writes;
        }
        a->req.nwrites = n;
    } else if (call->req.op == DX_OP_BATCH_GET) {
        if (n != call->req.nkeys) {
            if (!call->priv_.sub_keys) {
                call->priv_.sub_keys = dx_arena_alloc(call->arena, n * sizeof(dx_value));
                if (!call->priv_.sub_keys) return false;
            }
            for (size_t i = 0; i < n; i++)
                call->priv_.sub_keys[i] = call->req.keys[call->priv_.pending[i]];
            a->req.keys = call->priv_.sub_keys;
        }
        a->req.nkeys = n;
    }
    return true;
}

/* Tries to start the call now; false when the limiter made it wait. */
static bool start_call(dx_engine *e, dx_call *call) {
    dx_client *c = e->c;
    double cost = 0;
    bucket *b = &c->lim.b[dir_of(call->req.op)];
    /* While a direction is unlimited (adaptive, no congestion yet) nothing is
     * charged, so the cost is not even estimated. */
    if (c->limiting && atomic_load_explicit(&b->limited, memory_order_relaxed)) {
        cost = estimate_cost(call);
        if (cost > 0) {
            uint64_t now, wait;
            pthread_mutex_lock(&c->lim.mu);
            now = dx_now_ns(); /* under the lock: time never runs backwards for a bucket */
            if (c->lim.adaptive) bucket_grow(b, now);
            wait = bucket_acquire(b, cost, now);
            if (!bucket_limited(b)) cost = 0; /* not charged */
            pthread_mutex_unlock(&c->lim.mu);
            if (wait) {
                atomic_fetch_add(&c->wait_ms, wait / 1000000u);
                schedule(e, call, wait);
                return false;
            }
        }
    }
    call->priv_.cost = cost;
    dx_attempt *a = attempt_alloc(e);
    if (!a || !attempt_prepare(call, a)) {
        if (a) attempt_release(e, a);
        dx_fail(&call->res, DX_ERR_NOMEM, NULL, NULL);
        complete(e, call);
        return true;
    }
    a->be = e->be;
    call->priv_.state = ST_INFLIGHT;
    call->attempts++;
    atomic_fetch_add(&c->attempts, 1);
    if (call->attempts > 1) atomic_fetch_add(&c->retries, 1);
    e->inflight++;
    c->vt->start(e->be, a);
    return true;
}

void dx_attempt_done(dx_attempt *a) {
    dx_engine *e = a->call->priv_.engine;
    a->next = NULL;
    if (e->done_tail) {
        e->done_tail->next = a;
    } else {
        e->done_head = a;
    }
    e->done_tail = a;
}

static void feed_limiter(dx_engine *e, dx_call *call, double consumed, bool throttled) {
    dx_client *c = e->c;
    uint64_t milli = (uint64_t)llround(consumed * 1000.0);
    if (dx_op_is_write(call->req.op)) {
        atomic_fetch_add(&c->wcu_milli, milli);
    } else {
        atomic_fetch_add(&c->rcu_milli, milli);
    }
    if (!c->limiting) return;
    bucket *b = &c->lim.b[dir_of(call->req.op)];
    pthread_mutex_lock(&c->lim.mu);
    uint64_t now = dx_now_ns();
    bucket_consumed(b, consumed, call->priv_.cost, throttled, now);
    if (throttled && c->lim.adaptive) bucket_congestion(b, now);
    pthread_mutex_unlock(&c->lim.mu);
    call->priv_.cost = 0;
}

/* Appends the items an attempt found to the call's results (BatchGetItem). */
static bool merge_items(dx_call *call, const dx_resp *ar) {
    if (!ar->nitems) return true;
    if (!call->resp.nitems) {
        call->resp.items = ar->items;
        call->resp.nitems = ar->nitems;
        return true;
    }
    size_t n = call->resp.nitems + ar->nitems;
    dx_value *v = dx_arena_alloc(call->arena, n * sizeof *v);
    if (!v) return false;
    memcpy(v, call->resp.items, call->resp.nitems * sizeof *v);
    memcpy(v + call->resp.nitems, ar->items, ar->nitems * sizeof *v);
    call->resp.items = v;
    call->resp.nitems = n;
    return true;
}

/* Ends a batch call: whatever is still pending is handed back as unprocessed. */
static void finish_batch(dx_engine *e, dx_call *call) {
    call->resp.unprocessed = call->priv_.npending ? call->priv_.pending : NULL;
    call->resp.nunprocessed = call->priv_.npending;
    complete(e, call);
}

static void examine(dx_engine *e, dx_attempt *a) {
    dx_call *call = a->call;
    dx_client *c = e->c;
    bool batch = op_is_batch(call->req.op);
    bool throttled = a->res.err == DX_ERR_THROUGHPUT ||
                     (a->res.err == DX_OK && batch && a->resp.nunprocessed > 0);
    call->resp.consumed += a->resp.consumed;
    feed_limiter(e, call, a->resp.consumed, throttled);

    if (a->res.err == DX_OK) {
        if (!batch) {
            double consumed = call->resp.consumed;
            call->resp = a->resp;
            call->resp.consumed = consumed;
            /* Keep why earlier attempts were throttled (a hot key, say): the
             * caller counts throttles of calls that succeeded in the end too. */
            char reason[sizeof call->res.reason];
            memcpy(reason, call->res.reason, sizeof reason);
            call->res = a->res;
            if (call->throttles && !call->res.reason[0])
                memcpy(call->res.reason, reason, sizeof reason);
            attempt_release(e, a);
            complete(e, call);
            return;
        }
        if (!merge_items(call, &a->resp)) {
            dx_fail(&call->res, DX_ERR_NOMEM, NULL, NULL);
            attempt_release(e, a);
            finish_batch(e, call);
            return;
        }
        /* Narrow pending to the entries this attempt left unprocessed. */
        size_t left = 0;
        for (size_t i = 0; i < a->resp.nunprocessed; i++) {
            size_t rel = a->resp.unprocessed[i];
            if (rel < call->priv_.npending) call->priv_.pending[left++] = call->priv_.pending[rel];
        }
        call->priv_.npending = left;
        attempt_release(e, a);
        if (left == 0) {
            dx_result_clear(&call->res);
            finish_batch(e, call);
            return;
        }
        call->throttles += (uint32_t)left;
        atomic_fetch_add(&c->throttles, left);
        if (call->attempts >= c->opts.retry.max_attempts) {
            dx_fail(&call->res, DX_ERR_THROUGHPUT, NULL,
                    "%zu of %zu entries were still unprocessed after %u attempts",
                    left, call->req.op == DX_OP_BATCH_WRITE ? call->req.nwrites : call->req.nkeys,
                    call->attempts);
            snprintf(call->res.type, sizeof call->res.type, "%s",
                     "ProvisionedThroughputExceededException");
            finish_batch(e, call);
            return;
        }
        schedule(e, call, backoff_ns(e, call->attempts));
        return;
    }

    if (a->res.err == DX_ERR_THROUGHPUT) {
        call->throttles++;
        atomic_fetch_add(&c->throttles, 1);
    }
    call->res = a->res;
    attempt_release(e, a);
    /*
     * An expired session token (temporary credentials outliving their refresh, e.g. a
     * machine that slept): the backend has told its provider to fetch new ones, so one
     * more attempt, at once, goes out with them. Static credentials fail again and stop.
     */
    bool expired = call->res.err == DX_ERR_AUTH && !call->priv_.expired_retry &&
                   strcmp(call->res.type, "ExpiredTokenException") == 0;
    if (expired && call->attempts < c->opts.retry.max_attempts) {
        call->priv_.expired_retry = true;
        schedule(e, call, 0);
        return;
    }
    if (dx_err_retryable(call->res.err) && call->attempts < c->opts.retry.max_attempts) {
        schedule(e, call, backoff_ns(e, call->attempts));
        return;
    }
    if (batch) {
        finish_batch(e, call);
    } else {
        complete(e, call);
    }
}

static void process_done(dx_engine *e) {
    while (e->done_head) {
        dx_attempt *a = e->done_head;
        e->done_head = a->next;
        if (!e->done_head) e->done_tail = NULL;
        e->inflight--;
        examine(e, a);
    }
}

static void move_due_timers(dx_engine *e, uint64_t now) {
    while (e->nheap && e->heap[0]->priv_.due_ns <= now) ready_push(e, heap_pop(e));
}

static void pump(dx_engine *e) {
    while (e->inflight < e->max_inflight && e->ready_head) {
        dx_call *call = ready_pop(e);
        start_call(e, call);
        /* A backend that completes inside start() has freed its slot already. */
        process_done(e);
    }
}

static size_t run_callbacks(dx_engine *e) {
    size_t n = 0;
    while (e->complete_head) {
        dx_call *call = e->complete_head;
        e->complete_head = call->priv_.next;
        if (!e->complete_head) e->complete_tail = NULL;
        call->priv_.next = NULL;
        call->priv_.state = ST_DONE;
        e->pending--;
        n++;
        if (call->done) call->done(call);
    }
    return n;
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

size_t dx_engine_run(dx_engine *e, int timeout_ms) {
    uint64_t start = dx_now_ns();
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : start + (uint64_t)timeout_ms * 1000000u;
    size_t completed = 0;
    for (;;) {
        move_due_timers(e, dx_now_ns());
        pump(e);
        process_done(e);
        completed += run_callbacks(e);
        if (completed || e->pending == 0) return completed;
        if (e->ready_head && e->inflight < e->max_inflight) continue; /* callbacks queued work */
        uint64_t now = dx_now_ns();
        if (now >= deadline) return completed;
        uint64_t wait = deadline - now;
        if (e->nheap) {
            uint64_t due = e->heap[0]->priv_.due_ns;
            uint64_t until = due > now ? due - now : 0;
            if (until < wait) wait = until;
        }
        if (e->inflight) {
            int ms = (int)((wait + 999999u) / 1000000u);
            if (wait > (uint64_t)INT32_MAX * 1000000u) ms = INT32_MAX;
            e->c->vt->poll(e->be, ms);
        } else if (e->nheap) {
            sleep_ns(wait);
        } else if (!e->ready_head) {
            return completed; /* nothing can make progress */
        }
    }
}

void dx_engine_drain(dx_engine *e) {
    while (e->pending) dx_engine_run(e, -1);
}

void dx_engine_free(dx_engine *e) {
    if (!e) return;
    /* Attempts in the backend finish and report their real outcome: a write
     * that happened must not be reported as cancelled. */
    while (e->inflight) {
        e->c->vt->poll(e->be, 100);
        process_done(e);
    }
    dx_call *call;
    while ((call = ready_pop(e)) != NULL) {
        dx_fail(&call->res, DX_ERR_CANCELLED, NULL, "cancelled before it was sent");
        if (op_is_batch(call->req.op)) {
            finish_batch(e, call);
        } else {
            complete(e, call);
        }
    }
    while (e->nheap) {
        call = heap_pop(e);
        dx_fail(&call->res, DX_ERR_CANCELLED, NULL, "cancelled while waiting to retry");
        if (op_is_batch(call->req.op)) {
            finish_batch(e, call);
        } else {
            complete(e, call);
        }
    }
    run_callbacks(e);
    e->c->vt->engine_free(e->be);
    dx_attempt *a = e->free_attempts;
    while (a) {
        dx_attempt *next = a->next;
        free(a);
        a = next;
    }
    free(e->heap);
    free(e);
}

/* ---------------------------------------------------------------- sync */

dx_err dx_client_call(dx_client *c, dx_call *call) {
    if (!c || !call) return DX_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->pool_mu);
    dx_engine *e = c->pool;
    if (e) c->pool = e->pool_next;
    pthread_mutex_unlock(&c->pool_mu);
    if (!e) {
        dx_engine_opts o = {.max_inflight = 1};
        e = dx_engine_new(c, &o);
        if (!e) return dx_fail(&call->res, DX_ERR_NOMEM, NULL, NULL);
    }
    dx_err err = dx_engine_submit(e, call);
    if (err != DX_OK) {
        dx_fail(&call->res, err, NULL, "invalid call: %s needs an operation%s", dx_op_name(call->req.op),
                op_needs_arena(&call->req) ? " and an arena for its results" : "");
    } else {
        while (call->priv_.state != ST_DONE) dx_engine_run(e, -1);
        err = call->res.err;
    }
    pthread_mutex_lock(&c->pool_mu);
    e->pool_next = c->pool;
    c->pool = e;
    pthread_mutex_unlock(&c->pool_mu);
    return err;
}

dx_err dx_create_table(dx_client *c, const dx_table_def *def, dx_result *r) {
    dx_arena a = {0};
    dx_call call = {.req = {.op = DX_OP_CREATE_TABLE, .table = def->name, .def = def}, .arena = &a};
    dx_err err = dx_client_call(c, &call);
    if (r) *r = call.res;
    dx_arena_release(&a);
    return err;
}

dx_err dx_describe_table(dx_client *c, const char *table, dx_arena *a, dx_table_desc *out,
                         dx_result *r) {
    dx_call call = {.req = {.op = DX_OP_DESCRIBE_TABLE, .table = table}, .arena = a};
    dx_err err = dx_client_call(c, &call);
    if (err == DX_OK) *out = call.resp.table;
    if (r) *r = call.res;
    return err;
}

dx_err dx_wait_table_active(dx_client *c, const char *table, uint32_t timeout_ms, dx_arena *a,
                            dx_table_desc *out, dx_result *r) {
    dx_arena own = {0};
    dx_table_desc d;
    dx_result tmp;
    if (!r) r = &tmp;
    if (!a) a = &own;
    if (!out) out = &d;
    uint64_t deadline = dx_now_ms() + timeout_ms;
    long wait_ms = 10;
    dx_err e;
    for (;;) {
        dx_arena_reset(a);
        dx_result_clear(r);
        memset(out, 0, sizeof *out);
        e = dx_describe_table(c, table, a, out, r);
        if (e == DX_OK && out->status && strcmp(out->status, "ACTIVE") == 0) break;
        if (e != DX_OK && e != DX_ERR_RESOURCE_NOT_FOUND) break;
        if (dx_now_ms() >= deadline) {
            e = dx_fail(r, DX_ERR_TIMEOUT, NULL, "table %s did not become ACTIVE within %.1f s",
                        table, timeout_ms / 1000.0);
            break;
        }
        struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (wait_ms < 200) wait_ms = wait_ms * 2 > 200 ? 200 : wait_ms * 2;
    }
    if (a == &own) { /* its strings go with own: keep the figures only */
        out->name = out->status = NULL;
        out->key.hash = out->key.range = NULL;
    }
    dx_arena_release(&own);
    return e;
}

dx_err dx_delete_table(dx_client *c, const char *table, dx_result *r) {
    dx_call call = {.req = {.op = DX_OP_DELETE_TABLE, .table = table}};
    dx_err err = dx_client_call(c, &call);
    if (r) *r = call.res;
    return err;
}
