/*
 * test_faults_ddb.c - zero loss under injected faults: the engine's retries,
 * backoff and batch re-drive, over the DynamoDB backend, against dynalite
 * behind tests/support/fault-proxy.js.
 *
 * Who starts what: scripts/run-tests.sh starts dynalite for every binary
 * whose name ends in _ddb and passes its URL in DYNOX_TEST_ENDPOINT (and
 * stops it by PID). This binary starts the fault proxies itself, in front of
 * that endpoint (tests/support/proc.c: fork/exec, stopped by PID in the
 * group teardown; if this process dies first the proxies get SIGTERM through
 * PR_SET_PDEATHSIG and also exit when their stdin pipe closes). Keeping the
 * proxy inside the test means its options (rates, seed) sit next to the
 * assertions that depend on them, and run-tests.sh stays a plain runner.
 *
 * The proof, per phase, with "sent" the entries submitted:
 *   - every entry is in the table afterwards (read back through the direct,
 *     fault-free endpoint with consistent reads, compared value by value) or
 *     was handed back as failed (a batch call's resp.unprocessed, or a call's
 *     error); nothing is lost: lost == 0;
 *   - with enough attempts nothing is handed back either;
 *   - with too few attempts (a second proxy that only injects faults that
 *     never perform the write) sent == in_table + handed_back exactly.
 * The proxy's own counters must show that every kind of fault happened.
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

#include "dynox/ddb.h"
#include "dynox/dynox.h"
#include "dynox/http.h"
#include "proc.h"
#include "testutil.h"

enum { NPUT = 5000, NUPD = 2000, NGET = 2000, INFLIGHT = 8 };

/* Rates for the main proxy: every kind of fault, often enough to be seen. */
static const char *const faults_all[] = {
    "--seed", "20240611", "--throttle", "0.05", "--error5xx", "0.03", "--reset", "0.02",
    "--drop", "0.02", "--slow", "0.02", "--slow-ms", "150", "--hang", "0.004",
    "--hang-ms", "1500", "--badcrc", "0.02", "--partial", "0.3", NULL};
/* Only faults after which the write has certainly not happened. */
static const char *const faults_unperformed[] = {
    "--seed", "99", "--throttle", "0.3", "--error5xx", "0.1", "--reset", "0.1",
    "--partial", "0.5", NULL};

typedef struct fixture {
    const char *endpoint;
    tp_proc proxy, proxy2;
    char proxy_url[64], proxy2_url[64];
    dx_client *direct, *faulty, *faulty_few;
    char table[64], table2[64];
    dx_arena arena;       /* the items sent */
    dx_value *items;      /* NPUT items */
    dx_value *keys;       /* their keys */
} fixture;

static fixture F;

static dx_client *client_for(const char *url, uint32_t attempts) {
    dx_ddb_opts o = {.endpoint_url = url, .region = "us-east-1", .access_key_id = "AKIDDUMMY",
                     .secret_access_key = "dummy-secret-key-for-tests", .timeout_ms = 1000,
                     .connect_timeout_ms = 1000};
    dx_client_opts co = {.retry = {.max_attempts = attempts, .base_ms = 5, .max_ms = 100},
                         .seed = 42};
    dx_client *c = NULL;
    dx_result r;
    dx_result_clear(&r);
    if (dx_ddb_client_new(&o, &co, &c, &r) != DX_OK) {
        fprintf(stderr, "dx_ddb_client_new(%s): %s\n", url, r.message);
        return NULL;
    }
    return c;
}

static int make_table(const char *name) {
    dx_table_def def = {name, {"id", DX_T_S, NULL, DX_T_NONE}, 0, 0};
    dx_result r;
    dx_result_clear(&r);
    if (dx_create_table(F.direct, &def, &r) != DX_OK) {
        fprintf(stderr, "create table %s: %s\n", name, r.message);
        return -1;
    }
    /* dynalite answers CreateTable with CREATING and flips to ACTIVE a moment later. */
    if (dx_wait_table_active(F.direct, name, 5000, NULL, NULL, &r) != DX_OK) {
        fprintf(stderr, "%s\n", r.message);
        return -1;
    }
    return 0;
}

static int setup(void **state) {
    (void)state;
    memset(&F, 0, sizeof F);
    F.proxy.pid = F.proxy2.pid = 0;
    F.proxy.in_fd = F.proxy.out_fd = F.proxy2.in_fd = F.proxy2.out_fd = -1;
    F.endpoint = getenv("DYNOX_TEST_ENDPOINT");
    if (!F.endpoint || !*F.endpoint) return 0; /* each test skips */
    int port;
    if (tp_fault_proxy_start(F.endpoint, faults_all, &F.proxy, &port) != 0) return -1;
    snprintf(F.proxy_url, sizeof F.proxy_url, "http://127.0.0.1:%d", port);
    if (tp_fault_proxy_start(F.endpoint, faults_unperformed, &F.proxy2, &port) != 0) return -1;
    snprintf(F.proxy2_url, sizeof F.proxy2_url, "http://127.0.0.1:%d", port);
    F.direct = client_for(F.endpoint, 3);
    F.faulty = client_for(F.proxy_url, 40);
    F.faulty_few = client_for(F.proxy2_url, 2);
    if (!F.direct || !F.faulty || !F.faulty_few) return -1;
    snprintf(F.table, sizeof F.table, "faults_%d", (int)getpid());
    snprintf(F.table2, sizeof F.table2, "faults_few_%d", (int)getpid());
    if (make_table(F.table) != 0 || make_table(F.table2) != 0) return -1;

    F.items = dx_arena_alloc(&F.arena, NPUT * sizeof *F.items);
    F.keys = dx_arena_alloc(&F.arena, NPUT * sizeof *F.keys);
    for (int i = 0; i < NPUT; i++) {
        dx_member *m = dx_arena_alloc(&F.arena, 3 * sizeof *m);
        char *id = dx_arena_printf(&F.arena, "item-%05d", i);
        char *num = dx_arena_printf(&F.arena, "%d.25", i);
        char *pay = dx_arena_printf(&F.arena, "payload %d %s", i, i % 7 ? "x" : "with \"quotes\" é");
        m[0] = (dx_member){"id", 2, dx_vs(id)};
        m[1] = (dx_member){"n", 1, dx_vn(num)};
        m[2] = (dx_member){"p", 1, dx_vs(pay)};
        F.items[i] = dx_vmap(m, 3);
        F.keys[i] = dx_vmap(m, 1); /* the key is the first member */
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (F.direct) {
        dx_delete_table(F.direct, F.table, NULL);
        dx_delete_table(F.direct, F.table2, NULL);
    }
    dx_client_free(F.direct);
    dx_client_free(F.faulty);
    dx_client_free(F.faulty_few);
    tp_stop(&F.proxy);
    tp_stop(&F.proxy2);
    dx_arena_release(&F.arena);
    return 0;
}

#define NEED_ENDPOINT()                                                                     \
    do {                                                                                    \
        if (!F.endpoint || !*F.endpoint) {                                                  \
            print_message("DYNOX_TEST_ENDPOINT is not set (scripts/run-tests.sh sets it)\n"); \
            skip();                                                                         \
        }                                                                                   \
    } while (0)

/* ---------------------------------------------------------------- driving calls */

typedef struct batch {
    dx_call call;
    dx_arena arena;
    dx_write w[25];
    int first; /* index of the first item */
    int n;
} batch;

static void noop_done(dx_call *c) { (void)c; }

/* Writes items [0, n) to table through client c in batches of 25; marks handed_back. */
static void put_all(dx_client *c, const char *table, int n, bool *handed_back, size_t *calls_failed) {
    int nb = (n + 24) / 25;
    batch *b = calloc((size_t)nb, sizeof *b);
    dx_engine_opts eo = {.max_inflight = INFLIGHT};
    dx_engine *e = dx_engine_new(c, &eo);
    assert_non_null(e);
    for (int i = 0; i < nb; i++) {
        b[i].first = i * 25;
        b[i].n = n - b[i].first < 25 ? n - b[i].first : 25;
        for (int k = 0; k < b[i].n; k++) b[i].w[k] = (dx_write){false, &F.items[b[i].first + k]};
        b[i].call.req = (dx_req){.op = DX_OP_BATCH_WRITE, .table = table, .writes = b[i].w,
                                 .nwrites = (size_t)b[i].n};
        b[i].call.arena = &b[i].arena;
        b[i].call.done = noop_done;
        assert_int_equal(dx_engine_submit(e, &b[i].call), DX_OK);
    }
    dx_engine_drain(e);
    *calls_failed = 0;
    for (int i = 0; i < nb; i++) {
        dx_call *call = &b[i].call;
        if (call->res.err != DX_OK) (*calls_failed)++;
        /* The batch invariant: entries not listed were written; listed ones were not. */
        if (call->res.err == DX_OK) assert_row_int_equal(i, call->resp.nunprocessed, 0);
        for (size_t k = 0; k < call->resp.nunprocessed; k++) {
            size_t idx = call->resp.unprocessed[k];
            assert_row_true(i, idx < (size_t)b[i].n);
            handed_back[b[i].first + (int)idx] = true;
        }
        dx_arena_release(&b[i].arena);
    }
    dx_engine_free(e);
    free(b);
}

/*
 * Reads keys [0, n) back through the direct endpoint (consistent reads) and
 * sets found[i] when the item is there and equal to want(i) (NULL: F.items).
 */
static void read_back(const char *table, int n, bool *found, const dx_value *want) {
    for (int first = 0; first < n; first += 100) {
        int cnt = n - first < 100 ? n - first : 100;
        dx_arena a = {0};
        dx_call call = {.req = {.op = DX_OP_BATCH_GET, .table = table, .keys = &F.keys[first],
                                .nkeys = (size_t)cnt, .consistent = true},
                        .arena = &a};
        assert_int_equal(dx_client_call(F.direct, &call), DX_OK);
        assert_int_equal(call.resp.nunprocessed, 0);
        for (size_t k = 0; k < call.resp.nitems; k++) {
            const dx_value *it = &call.resp.items[k];
            const dx_value *id = dx_map_get(it, "id");
            assert_non_null(id);
            int i = atoi(id->u.s + 5);
            assert_true(i >= first && i < first + cnt);
            const dx_value *expect = want ? &want[i] : &F.items[i];
            if (!dx_value_equal(it, expect)) {
                print_error("item %d differs from what was sent\n", i);
                fail();
            }
            assert_false(found[i]); /* each key once */
            found[i] = true;
        }
        dx_arena_release(&a);
    }
}

typedef struct text_out {
    char *out;
    size_t n;
} text_out;

static void stats_done(void *ud, dx_http_resp *r) {
    text_out *t = ud;
    snprintf(t->out, t->n, "%s", r->err == DX_OK && r->body.ptr ? r->body.ptr : "");
}

/* The proxy's counters, as JSON (GET /__stats). */
static void proxy_stats(const char *url, char *out, size_t n) {
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(NULL, &h, NULL), DX_OK);
    char u[96];
    snprintf(u, sizeof u, "%s/__stats", url);
    text_out t = {out, n};
    dx_http_req rq = {.url = u};
    out[0] = 0;
    assert_int_equal(dx_http_submit(h, &rq, stats_done, &t), DX_OK);
    while (dx_http_pending(h)) dx_http_poll(h, 1000);
    dx_http_free(h);
}

/* The count of "name": in the proxy's JSON stats. */
static long stat_of(const char *json, const char *name) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", name);
    const char *p = strstr(json, k);
    return p ? atol(p + strlen(k)) : -1;
}

/* ---------------------------------------------------------------- tests */

static void test_batch_write_zero_loss(void **state) {
    (void)state;
    NEED_ENDPOINT();
    bool *handed = calloc(NPUT, 1), *found = calloc(NPUT, 1);
    size_t failed_calls = 0;
    uint64_t t0 = dx_now_ms();
    put_all(F.faulty, F.table, NPUT, handed, &failed_calls);
    uint64_t t1 = dx_now_ms();
    read_back(F.table, NPUT, found, NULL);
    int in_table = 0, handed_back = 0, lost = 0;
    for (int i = 0; i < NPUT; i++) {
        in_table += found[i];
        handed_back += handed[i];
        if (!found[i] && !handed[i]) {
            if (lost < 5) print_error("item %d was neither written nor handed back\n", i);
            lost++;
        }
    }
    dx_client_stats st;
    dx_client_stats_get(F.faulty, &st);
    print_message("batch write: sent %d, in table %d, handed back %d, lost %d; %llu attempts, "
                  "%llu retries, %llu throttles; %llu ms\n",
                  NPUT, in_table, handed_back, lost, (unsigned long long)st.attempts,
                  (unsigned long long)st.retries, (unsigned long long)st.throttles,
                  (unsigned long long)(t1 - t0));
    assert_int_equal(lost, 0);
    assert_int_equal(handed_back, 0);
    assert_int_equal(failed_calls, 0);
    assert_int_equal(in_table, NPUT);
    assert_int_equal(NPUT, in_table + handed_back);
    assert_true(st.retries > 0);
    free(handed);
    free(found);
}

typedef struct upd {
    dx_call call;
    dx_member name, val;
    dx_value names, values;
    dx_value uval;
} upd;

static void test_update_zero_loss(void **state) {
    (void)state;
    NEED_ENDPOINT();
    upd *u = calloc(NUPD, sizeof *u);
    dx_arena a = {0};
    dx_engine_opts eo = {.max_inflight = INFLIGHT};
    dx_engine *e = dx_engine_new(F.faulty, &eo);
    for (int i = 0; i < NUPD; i++) {
        u[i].uval = dx_vs(dx_arena_printf(&a, "updated-%d", i));
        u[i].name = (dx_member){"#u", 2, dx_vs("u")};
        u[i].val = (dx_member){":u", 2, u[i].uval};
        u[i].names = dx_vmap(&u[i].name, 1);
        u[i].values = dx_vmap(&u[i].val, 1);
        /* SET is idempotent: a write whose answer was lost may be repeated safely. */
        u[i].call.req = (dx_req){.op = DX_OP_UPDATE, .table = F.table, .key = &F.keys[i],
                                 .update = "SET #u = :u", .condition = "attribute_exists(id)",
                                 .names = &u[i].names, .values = &u[i].values};
        u[i].call.done = noop_done;
        assert_int_equal(dx_engine_submit(e, &u[i].call), DX_OK);
    }
    dx_engine_drain(e);
    int failed = 0;
    bool *handed = calloc(NUPD, 1);
    for (int i = 0; i < NUPD; i++) {
        if (u[i].call.res.err != DX_OK) {
            if (failed < 5)
                print_error("update %d: %s: %s\n", i, dx_err_name(u[i].call.res.err),
                            u[i].call.res.message);
            failed++;
            handed[i] = true;
        }
    }
    dx_engine_free(e);
    /* Expected items: the originals plus u. */
    dx_value *want = dx_arena_alloc(&a, NUPD * sizeof *want);
    for (int i = 0; i < NUPD; i++) {
        dx_member *m = dx_arena_alloc(&a, 4 * sizeof *m);
        memcpy(m, F.items[i].u.members, 3 * sizeof *m);
        m[3] = (dx_member){"u", 1, u[i].uval};
        want[i] = dx_vmap(m, 4);
    }
    bool *found = calloc(NUPD, 1);
    read_back(F.table, NUPD, found, want);
    int updated = 0, lost = 0;
    for (int i = 0; i < NUPD; i++) {
        updated += found[i];
        if (!found[i] && !handed[i]) lost++;
    }
    print_message("update: sent %d, applied %d, handed back %d, lost %d\n", NUPD, updated, failed,
                  lost);
    assert_int_equal(lost, 0);
    assert_int_equal(failed, 0);
    assert_int_equal(updated, NUPD);
    free(found);
    free(handed);
    free(u);
    dx_arena_release(&a);
}

typedef struct getb {
    dx_call call;
    dx_arena arena;
} getb;

static void test_batch_get_zero_loss(void **state) {
    (void)state;
    NEED_ENDPOINT();
    enum { PER = 100, NB = NGET / PER };
    getb *g = calloc(NB, sizeof *g);
    dx_engine_opts eo = {.max_inflight = INFLIGHT};
    dx_engine *e = dx_engine_new(F.faulty, &eo);
    /* Items NUPD..NUPD+NGET were not updated: they must read back as sent. */
    int base = NUPD;
    for (int i = 0; i < NB; i++) {
        g[i].call.req = (dx_req){.op = DX_OP_BATCH_GET, .table = F.table,
                                 .keys = &F.keys[base + i * PER], .nkeys = PER, .consistent = true};
        g[i].call.arena = &g[i].arena;
        g[i].call.done = noop_done;
        assert_int_equal(dx_engine_submit(e, &g[i].call), DX_OK);
    }
    dx_engine_drain(e);
    bool *seen = calloc(NGET, 1), *handed = calloc(NGET, 1);
    int got = 0, dup = 0, handed_back = 0, lost = 0;
    uint32_t redriven = 0;
    for (int i = 0; i < NB; i++) {
        dx_call *c = &g[i].call;
        redriven += c->attempts > 1;
        for (size_t k = 0; k < c->resp.nunprocessed; k++) {
            handed[i * PER + (int)c->resp.unprocessed[k]] = true;
            handed_back++;
        }
        for (size_t k = 0; k < c->resp.nitems; k++) {
            const dx_value *id = dx_map_get(&c->resp.items[k], "id");
            int idx = atoi(id->u.s + 5) - base;
            assert_true(idx >= i * PER && idx < (i + 1) * PER);
            if (seen[idx]) dup++;
            seen[idx] = true;
            got++;
            assert_true(dx_value_equal(&c->resp.items[k], &F.items[base + idx]));
        }
        dx_arena_release(&g[i].arena);
    }
    for (int i = 0; i < NGET; i++)
        if (!seen[i] && !handed[i]) lost++;
    print_message("batch get: asked %d, got %d, duplicates %d, handed back %d, lost %d; "
                  "%u of %d calls needed more than one attempt\n",
                  NGET, got, dup, handed_back, lost, redriven, NB);
    assert_int_equal(dup, 0);
    assert_int_equal(lost, 0);
    assert_int_equal(handed_back, 0);
    assert_int_equal(got, NGET);
    dx_engine_free(e);
    free(seen);
    free(handed);
    free(g);
}

/* Every kind of fault was really injected (checked after the tests above). */
static void test_faults_were_injected(void **state) {
    (void)state;
    NEED_ENDPOINT();
    char js[1024];
    proxy_stats(F.proxy_url, js, sizeof js);
    print_message("fault proxy: %s\n", js);
    static const char *kinds[] = {"throttle", "error5xx", "reset", "drop", "slow",
                                  "hang", "badcrc", "partial", "partial_entries"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        long v = stat_of(js, kinds[i]);
        if (v <= 0) print_error("no %s fault was injected (%ld)\n", kinds[i], v);
        assert_row_true(i, v > 0);
    }
    assert_int_equal(stat_of(js, "upstream_errors"), 0);
}

/*
 * Too few attempts: faults remain, and whatever was not written is handed
 * back entry by entry. This proxy injects only faults that never perform the
 * write, so the accounting is exact: sent == in_table + handed_back.
 */
static void test_exhausted_attempts_hand_back(void **state) {
    (void)state;
    NEED_ENDPOINT();
    enum { N = 1000 };
    bool *handed = calloc(N, 1), *found = calloc(N, 1);
    size_t failed_calls = 0;
    put_all(F.faulty_few, F.table2, N, handed, &failed_calls);
    read_back(F.table2, N, found, NULL);
    int in_table = 0, handed_back = 0, both = 0;
    for (int i = 0; i < N; i++) {
        in_table += found[i];
        handed_back += handed[i];
        both += found[i] && handed[i];
    }
    print_message("2 attempts: sent %d, in table %d, handed back %d (%zu calls failed)\n", N,
                  in_table, handed_back, failed_calls);
    assert_int_equal(both, 0);
    assert_int_equal(N, in_table + handed_back);
    assert_true(handed_back > 0);
    assert_true(in_table > 0);
    free(handed);
    free(found);
}

/*
 * dynalite closes connections idle for 5 s. A request after such a pause
 * goes over a stale keep-alive connection unless curl notices first; either
 * way the caller sees success (a reset is a retried network error).
 */
static void test_idle_connection_closed_by_server(void **state) {
    (void)state;
    NEED_ENDPOINT();
    dx_engine *e = dx_engine_new(F.direct, NULL);
    for (int round = 0; round < 2; round++) {
        dx_arena a = {0};
        dx_call call = {.req = {.op = DX_OP_GET, .table = F.table, .key = &F.keys[round],
                                .consistent = true},
                        .arena = &a};
        assert_int_equal(dx_engine_submit(e, &call), DX_OK);
        dx_engine_drain(e);
        if (call.res.err != DX_OK) print_error("round %d: %s\n", round, call.res.message);
        assert_int_equal(call.res.err, DX_OK);
        assert_non_null(call.resp.item);
        print_message("round %d: %u attempt(s)\n", round, call.attempts);
        dx_arena_release(&a);
        if (round == 0) {
            struct timespec ts = {5, 600 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    dx_engine_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_write_zero_loss),
        cmocka_unit_test(test_update_zero_loss),
        cmocka_unit_test(test_batch_get_zero_loss),
        cmocka_unit_test(test_faults_were_injected),
        cmocka_unit_test(test_exhausted_attempts_hand_back),
        cmocka_unit_test(test_idle_connection_closed_by_server),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
