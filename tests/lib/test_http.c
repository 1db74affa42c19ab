/*
 * test_http.c - the HTTP engine (lib/http.c) against an in-test server
 * (tests/support/mini_httpd.c) on 127.0.0.1: request and response contents,
 * keep-alive reuse, many requests in flight and the in-flight limit,
 * time-outs, connection resets (fresh, reused, idle-closed), refused
 * connections, the body limit, cancellation on free, submitting from a
 * callback, more sockets ready than one epoll_wait returns, one slot taking
 * turns between URLs, and the User-Agent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynox/dynox.h"
#include "dynox/http.h"
#include "mini_httpd.h"
#include "testutil.h"

/* ---------------------------------------------------------------- server side */

typedef enum { BEH_ECHO = 0, BEH_DELAY, BEH_HANG, BEH_RESET, BEH_RESET_REUSED, BEH_BIG } behaviour;

typedef struct srv_ctx {
    behaviour beh;
    unsigned delay_ms;
} srv_ctx;

static void handler(void *ud, const mh_req *q, mh_reply *out) {
    srv_ctx *c = ud;
    switch (c->beh) {
    case BEH_HANG:
        out->action = MH_HANG;
        return;
    case BEH_RESET:
        out->action = MH_RESET;
        return;
    case BEH_RESET_REUSED:
        if (q->conn_seq >= 2) {
            out->action = MH_RESET;
            return;
        }
        break;
    case BEH_BIG:
        for (int i = 0; i < 4096; i++) dx_buf_puts(&out->body, "0123456789abcdef");
        return;
    case BEH_DELAY:
        out->delay_ms = c->delay_ms;
        break;
    case BEH_ECHO:
        break;
    }
    out->status = strcmp(q->path, "/created") == 0 ? 201 : 200;
    snprintf(out->headers, sizeof out->headers,
             "x-amz-crc32: 3735928559\r\nx-amzn-RequestId: REQ-%u\r\n", q->seq);
    dx_buf_printf(&out->body, "%s %s conn=%u seq=%u body=", q->method, q->path, q->conn_id,
                  q->conn_seq);
    dx_buf_append(&out->body, q->body, q->body_len);
    /* The request's own header block, so tests can check what was sent. */
    dx_buf_puts(&out->body, "\n--\n");
    dx_buf_append(&out->body, q->raw, (size_t)(q->body - q->raw));
}

/* ---------------------------------------------------------------- client side */

typedef struct got {
    int n;
    dx_err err;
    int status;
    bool has_crc32;
    uint32_t crc32;
    char request_id[64];
    char error[256];
    dx_buf body;
    bool reused;
} got;

static void on_done(void *ud, dx_http_resp *r) {
    got *g = ud;
    g->n++;
    g->err = r->err;
    g->status = r->status;
    g->has_crc32 = r->has_crc32;
    g->crc32 = r->crc32;
    g->reused = r->reused;
    snprintf(g->request_id, sizeof g->request_id, "%s", r->request_id);
    snprintf(g->error, sizeof g->error, "%s", r->error);
    dx_buf_clear(&g->body);
    dx_buf_append(&g->body, r->body.ptr ? r->body.ptr : "", r->body.len);
}

#define assert_prefix(s, pre) assert_memory_equal((s), (pre), strlen(pre))

static void run_all(dx_http *h) {
    uint64_t start = dx_now_ms();
    while (dx_http_pending(h) && dx_now_ms() - start < 15000) dx_http_poll(h, 100);
    assert_int_equal(dx_http_pending(h), 0);
}

static void one(dx_http *h, const char *url, const char *method, const char *body, got *g) {
    const char *hdrs[] = {"X-Test: yes", "Content-Type: text/plain"};
    dx_http_req rq = {.method = method, .url = url, .headers = hdrs, .nheaders = 2,
                      .body = body, .body_len = body ? strlen(body) : 0};
    assert_int_equal(dx_http_submit(h, &rq, on_done, g), DX_OK);
    run_all(h);
}

static void test_get_and_post(void **state) {
    (void)state;
    srv_ctx sc = {BEH_ECHO, 0};
    mh_server *s = mh_start(handler, &sc, NULL);
    assert_non_null(s);
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(NULL, &h, NULL), DX_OK);
    char url[128];
    got g = {0};

    mh_url(s, "/created", url, sizeof url);
    one(h, url, "POST", "{\"a\":1}", &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.err, DX_OK);
    assert_int_equal(g.status, 201);
    assert_true(g.has_crc32);
    assert_int_equal(g.crc32, 3735928559u);
    assert_string_equal(g.request_id, "REQ-1");
    assert_string_equal(g.error, "");
    assert_prefix(g.body.ptr, "POST /created conn=1 seq=1 body={\"a\":1}\n--\n");
    /* Our headers went out; curl's Expect and Accept did not. */
    assert_non_null(strstr(g.body.ptr, "\r\nX-Test: yes\r\n"));
    assert_non_null(strstr(g.body.ptr, "\r\nContent-Type: text/plain\r\n"));
    assert_non_null(strstr(g.body.ptr, "\r\nContent-Length: 7\r\n"));
    assert_non_null(strstr(g.body.ptr, "\r\nUser-Agent: dynox/"));
    assert_null(strstr(g.body.ptr, "Expect:"));
    assert_null(strstr(g.body.ptr, "Accept:"));

    mh_url(s, "/x?y=1", url, sizeof url);
    one(h, url, NULL, NULL, &g);
    assert_int_equal(g.err, DX_OK);
    assert_int_equal(g.status, 200);
    assert_prefix(g.body.ptr, "GET /x?y=1 conn=1 seq=2 body=\n--\n");
    assert_string_equal(g.request_id, "REQ-2");

    /* A large body (no 100-continue round trip) after a GET on the same handle. */
    char *big = malloc(200001);
    memset(big, 'b', 200000);
    big[200000] = 0;
    one(h, url, "PUT", big, &g);
    assert_int_equal(g.err, DX_OK);
    assert_prefix(g.body.ptr, "PUT /x?y=1 conn=1 seq=3 body=bbbb");
    assert_int_equal(strlen(g.body.ptr), 29 + 200000 + strlen(strstr(g.body.ptr, "\n--\n")));
    free(big);

    dx_http_stats st;
    dx_http_stats_get(h, &st);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.reused, 2);
    assert_int_equal(mh_connections(s), 1);
    dx_http_free(h);
    mh_stop(s);
    dx_buf_free(&g.body);
}

static void test_keepalive_reuse(void **state) {
    (void)state;
    srv_ctx sc = {BEH_ECHO, 0};
    mh_server *s = mh_start(handler, &sc, NULL);
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(NULL, &h, NULL), DX_OK);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    got g = {0};
    for (int i = 0; i < 20; i++) {
        one(h, url, "POST", "x", &g);
        assert_row_int_equal(i, g.err, DX_OK);
        assert_row_int_equal(i, g.reused, i > 0);
    }
    assert_int_equal(mh_connections(s), 1);
    dx_http_stats st;
    dx_http_stats_get(h, &st);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.reused, 19);
    dx_http_free(h);
    mh_stop(s);
    dx_buf_free(&g.body);
}

static void test_many_in_flight(void **state) {
    (void)state;
    srv_ctx sc = {BEH_DELAY, 200};
    mh_server *s = mh_start(handler, &sc, NULL);
    dx_http_opts o = {.max_inflight = 64};
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(&o, &h, NULL), DX_OK);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    enum { N = 64 };
    static got g[N];
    memset(g, 0, sizeof g);
    for (int round = 0; round < 2; round++) {
        uint64_t t0 = dx_now_ms();
        for (int i = 0; i < N; i++) {
            dx_http_req rq = {.method = "POST", .url = url, .body = "abc", .body_len = 3};
            assert_int_equal(dx_http_submit(h, &rq, on_done, &g[i]), DX_OK);
        }
        assert_int_equal(dx_http_pending(h), N);
        run_all(h);
        uint64_t ms = dx_now_ms() - t0;
        /* Serially this would take 64 x 200 ms = 12.8 s. */
        print_message("round %d: %d requests of 200 ms each in %llu ms\n", round, N,
                      (unsigned long long)ms);
        assert_true(ms < 2500);
        for (int i = 0; i < N; i++) {
            assert_row_int_equal(i, g[i].n, round + 1);
            assert_row_int_equal(i, g[i].err, DX_OK);
            assert_row_int_equal(i, g[i].status, 200);
        }
    }
    assert_int_equal(mh_max_outstanding(s), N);
    /* The second round went over the first round's connections. */
    assert_int_equal(mh_connections(s), N);
    dx_http_stats st;
    dx_http_stats_get(h, &st);
    assert_int_equal(st.connects, N);
    assert_int_equal(st.reused, N);
    dx_http_free(h);
    mh_stop(s);
    for (int i = 0; i < N; i++) dx_buf_free(&g[i].body);
}

/* More requests ready at once than one epoll_wait returns (64): none is lost. */
static void test_many_ready_at_once(void **state) {
    (void)state;
    srv_ctx sc = {BEH_DELAY, 50};
    mh_server *s = mh_start(handler, &sc, NULL);
    dx_http_opts o = {.max_inflight = 150};
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(&o, &h, NULL), DX_OK);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    enum { N = 150 };
    static got g[N];
    memset(g, 0, sizeof g);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            dx_http_req rq = {.method = "POST", .url = url, .body = "abc", .body_len = 3};
            assert_int_equal(dx_http_submit(h, &rq, on_done, &g[i]), DX_OK);
        }
        run_all(h);
        for (int i = 0; i < N; i++) {
            assert_row_int_equal(i, g[i].n, round + 1);
            assert_row_int_equal(i, g[i].err, DX_OK);
            assert_row_int_equal(i, g[i].status, 200);
        }
    }
    dx_http_stats st;
    dx_http_stats_get(h, &st);
    assert_int_equal(st.requests, 2 * N);
    assert_int_equal(st.connects, N);
    assert_int_equal(st.reused, N);
    dx_http_free(h);
    mh_stop(s);
    for (int i = 0; i < N; i++) dx_buf_free(&g[i].body);
}

/* One connection (and slot) taking turns between URLs: each request goes to its own. */
static void test_url_changes(void **state) {
    (void)state;
    srv_ctx sc = {BEH_ECHO, 0};
    mh_server *s = mh_start(handler, &sc, NULL);
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(NULL, &h, NULL), DX_OK);
    char a[128], b[128], want[160];
    mh_url(s, "/a", a, sizeof a);
    mh_url(s, "/b?x=1", b, sizeof b);
    got g = {0};
    for (int i = 0; i < 6; i++) {
        const char *u = i % 3 == 1 ? b : a;
        one(h, u, "POST", "x", &g);
        assert_row_int_equal(i, g.err, DX_OK);
        snprintf(want, sizeof want, "POST %s conn=1 seq=%d body=x", i % 3 == 1 ? "/b?x=1" : "/a",
                 i + 1);
        assert_row_true(i, strncmp(g.body.ptr, want, strlen(want)) == 0);
    }
    assert_int_equal(mh_connections(s), 1);
    dx_http_free(h);
    mh_stop(s);
    dx_buf_free(&g.body);
}

/* The default User-Agent, the engine's own, and a request's own replacing it. */
static void test_user_agent(void **state) {
    (void)state;
    srv_ctx sc = {BEH_ECHO, 0};
    mh_server *s = mh_start(handler, &sc, NULL);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    got g = {0};
    dx_http_opts o = {.user_agent = "tester/1.0"};
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(&o, &h, NULL), DX_OK);
    one(h, url, "POST", "x", &g);
    assert_int_equal(g.err, DX_OK);
    /* Where curl would put it: right after Host. */
    assert_non_null(strstr(g.body.ptr, "\r\nUser-Agent: tester/1.0\r\nX-Test: yes\r\n"));
    const char *hdrs[] = {"user-agent: mine/2", "X-Test: yes"};
    dx_http_req rq = {.method = "POST", .url = url, .headers = hdrs, .nheaders = 2,
                      .body = "x", .body_len = 1};
    assert_int_equal(dx_http_submit(h, &rq, on_done, &g), DX_OK);
    run_all(h);
    assert_int_equal(g.err, DX_OK);
    assert_non_null(strstr(g.body.ptr, "\r\nuser-agent: mine/2\r\n"));
    assert_null(strstr(g.body.ptr, "tester/1.0"));
    const char *bad[] = {"X-Test: yes", NULL};
    rq.headers = bad;
    assert_int_equal(dx_http_submit(h, &rq, on_done, &g), DX_ERR_INVALID_ARG);
    dx_http_free(h);
    mh_stop(s);
    dx_buf_free(&g.body);
}

static void test_inflight_limit(void **state) {
    (void)state;
    srv_ctx sc = {BEH_DELAY, 100};
    mh_server *s = mh_start(handler, &sc, NULL);
    dx_http_opts o = {.max_inflight = 8};
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(&o, &h, NULL), DX_OK);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    enum { N = 32 };
    static got g[N];
    memset(g, 0, sizeof g);
    uint64_t t0 = dx_now_ms();
    for (int i = 0; i < N; i++) {
        dx_http_req rq = {.url = url};
        assert_int_equal(dx_http_submit(h, &rq, on_done, &g[i]), DX_OK);
    }
    run_all(h);
    uint64_t ms = dx_now_ms() - t0;
    assert_true(ms >= 4 * 100 - 20); /* 32 / 8 waves of 100 ms */
    assert_int_equal(mh_max_outstanding(s), 8);
    assert_true(mh_connections(s) <= 8);
    for (int i = 0; i < N; i++) {
        assert_row_int_equal(i, g[i].n, 1);
        assert_row_int_equal(i, g[i].err, DX_OK);
        /* FIFO: requests start in submission order, so request i arrived as roughly
         * the (i+1)-th; only the 8 that start together may overtake each other. */
        int seq = atoi(g[i].request_id + 4);
        assert_row_true(i, strncmp(g[i].request_id, "REQ-", 4) == 0);
        assert_row_true(i, seq > i + 1 - 8 && seq < i + 1 + 8);
    }
    dx_http_free(h);
    mh_stop(s);
    for (int i = 0; i < N; i++) dx_buf_free(&g[i].body);
}

static void test_timeout(void **state) {
    (void)state;
    srv_ctx sc = {BEH_HANG, 0};
    mh_server *s = mh_start(handler, &sc, NULL);
    dx_http_opts o = {.timeout_ms = 300};
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(&o, &h, NULL), DX_OK);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    got g = {0};
    uint64_t t0 = dx_now_ms();
    one(h, url, "POST", "x", &g);
    uint64_t ms = dx_now_ms() - t0;
    assert_int_equal(g.n, 1);
    assert_int_equal(g.err, DX_ERR_TIMEOUT);
    assert_int_equal(g.status, 0);
    assert_true(g.error[0] != 0);
    assert_true(ms >= 280 && ms < 2000);
    /* Per-request timeout overrides the engine's. */
    dx_http_req rq = {.url = url, .timeout_ms = 100};
    t0 = dx_now_ms();
    assert_int_equal(dx_http_submit(h, &rq, on_done, &g), DX_OK);
    run_all(h);
    ms = dx_now_ms() - t0;
    assert_int_equal(g.err, DX_ERR_TIMEOUT);
    assert_true(ms >= 90 && ms < 1000);
    dx_http_stats st;
    dx_http_stats_get(h, &st);
    assert_int_equal(st.net_errors, 2);
    dx_http_free(h);
    mh_stop(s);
    dx_buf_free(&g.body);
}

static void test_reset_fresh_connection(void **state) {
    (void)state;
    srv_ctx sc = {BEH_RESET, 0};
    mh_server *s = mh_start(handler, &sc, NULL);
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(NULL, &h, NULL), DX_OK);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    got g = {0};
    one(h, url, "POST", "{}", &g);
    assert_int_equal(g.err, DX_ERR_NETWORK);
    assert_int_equal(g.status, 0);
    assert_true(g.error[0] != 0);
    assert_true(dx_err_retryable(g.err));
    dx_http_free(h);
    mh_stop(s);
    dx_buf_free(&g.body);
}

/*
 * The server answers the first request on a connection and resets the
 * connection when a second one arrives on it. Whatever curl does about it
 * (7.88 retries once on a fresh connection when nothing at all was received
 * on a reused one), the outcome is either the answer or DX_ERR_NETWORK,
 * which the engine retries: never a hang, a crash or an HTTP error.
 */
static void test_reset_reused_connection(void **state) {
    (void)state;
    srv_ctx sc = {BEH_RESET_REUSED, 0};
    mh_server *s = mh_start(handler, &sc, NULL);
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(NULL, &h, NULL), DX_OK);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    got g = {0};
    one(h, url, "POST", "{}", &g);
    assert_int_equal(g.err, DX_OK);
    int ok = 0, neterr = 0;
    for (int i = 0; i < 6; i++) {
        one(h, url, "POST", "{}", &g);
        assert_row_true(i, g.err == DX_OK || g.err == DX_ERR_NETWORK);
        if (g.err == DX_OK) {
            ok++;
            assert_row_int_equal(i, g.status, 200);
        } else {
            neterr++;
            assert_row_int_equal(i, g.status, 0);
        }
    }
    print_message("reset on reused connection: %d answered after curl's own retry, %d network errors\n",
                  ok, neterr);
    assert_int_equal(ok + neterr, 6);
    assert_true(mh_connections(s) >= 2);
    dx_http_free(h);
    mh_stop(s);
    dx_buf_free(&g.body);
}

/* dynalite closes idle connections after 5 s; here after 100 ms. */
static void test_idle_closed_connection(void **state) {
    (void)state;
    srv_ctx sc = {BEH_ECHO, 0};
    mh_opts mo = {.idle_close_ms = 100};
    mh_server *s = mh_start(handler, &sc, &mo);
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(NULL, &h, NULL), DX_OK);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    got g = {0};
    for (int i = 0; i < 3; i++) {
        one(h, url, "POST", "{}", &g);
        assert_row_true(i, g.err == DX_OK || g.err == DX_ERR_NETWORK);
        if (g.err == DX_ERR_NETWORK) { /* the retry the engine would make */
            one(h, url, "POST", "{}", &g);
            assert_row_int_equal(i, g.err, DX_OK);
        }
        assert_row_int_equal(i, g.status, 200);
        struct timespec ts = {0, 300 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(mh_connections(s) >= 3);
    dx_http_free(h);
    mh_stop(s);
    dx_buf_free(&g.body);
}

static void test_connection_refused(void **state) {
    (void)state;
    /* Start and stop a server to get a port nobody listens on. */
    srv_ctx sc = {BEH_ECHO, 0};
    mh_server *s = mh_start(handler, &sc, NULL);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    mh_stop(s);
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(NULL, &h, NULL), DX_OK);
    got g = {0};
    one(h, url, "POST", "{}", &g);
    assert_int_equal(g.err, DX_ERR_NETWORK);
    assert_non_null(strstr(g.error, "onnect"));
    dx_http_free(h);
    dx_buf_free(&g.body);
}

static void test_bad_url_and_args(void **state) {
    (void)state;
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(NULL, &h, NULL), DX_OK);
    got g = {0};
    dx_http_req rq = {.url = "gopher://127.0.0.1:1/"};
    assert_int_equal(dx_http_submit(h, &rq, on_done, &g), DX_OK);
    run_all(h);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.err, DX_ERR_CONFIG);
    assert_false(dx_err_retryable(g.err));
    dx_http_req none = {0};
    assert_int_equal(dx_http_submit(h, &none, on_done, &g), DX_ERR_INVALID_ARG);
    dx_http_req nobody = {.url = "http://127.0.0.1:1/", .body_len = 3};
    assert_int_equal(dx_http_submit(h, &nobody, on_done, &g), DX_ERR_INVALID_ARG);
    assert_int_equal(dx_http_submit(h, &rq, NULL, &g), DX_ERR_INVALID_ARG);
    assert_int_equal(g.n, 1);
    dx_http_free(h);
    dx_http_free(NULL);
    dx_buf_free(&g.body);
}

static void test_body_limit(void **state) {
    (void)state;
    srv_ctx sc = {BEH_BIG, 0};
    mh_server *s = mh_start(handler, &sc, NULL);
    dx_http_opts o = {.max_body = 1000};
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(&o, &h, NULL), DX_OK);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    got g = {0};
    one(h, url, NULL, NULL, &g);
    assert_int_equal(g.err, DX_ERR_PROTOCOL);
    assert_non_null(strstr(g.error, "max_body"));
    dx_http_free(h);
    mh_stop(s);
    dx_buf_free(&g.body);
}

static void test_free_cancels_pending(void **state) {
    (void)state;
    srv_ctx sc = {BEH_HANG, 0};
    mh_server *s = mh_start(handler, &sc, NULL);
    dx_http_opts o = {.max_inflight = 2};
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(&o, &h, NULL), DX_OK);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    got g[5];
    memset(g, 0, sizeof g);
    for (int i = 0; i < 5; i++) {
        dx_http_req rq = {.url = url};
        assert_int_equal(dx_http_submit(h, &rq, on_done, &g[i]), DX_OK);
    }
    assert_int_equal(dx_http_poll(h, 100), 5); /* 2 running (hung), 3 waiting */
    for (int i = 0; i < 5; i++) assert_row_int_equal(i, g[i].n, 0);
    dx_http_free(h);
    for (int i = 0; i < 5; i++) {
        assert_row_int_equal(i, g[i].n, 1);
        assert_row_int_equal(i, g[i].err, DX_ERR_CANCELLED);
        dx_buf_free(&g[i].body);
    }
    mh_stop(s);
}

typedef struct chain {
    dx_http *h;
    const char *url;
    int left, done;
    dx_err last;
} chain;

static void on_chain(void *ud, dx_http_resp *r) {
    chain *c = ud;
    c->done++;
    c->last = r->err;
    if (c->left-- > 0) {
        dx_http_req rq = {.url = c->url};
        dx_http_submit(c->h, &rq, on_chain, c);
    }
}

static void test_submit_from_callback(void **state) {
    (void)state;
    srv_ctx sc = {BEH_ECHO, 0};
    mh_server *s = mh_start(handler, &sc, NULL);
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(NULL, &h, NULL), DX_OK);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    chain c = {h, url, 9, 0, DX_ERR_UNKNOWN};
    dx_http_req rq = {.url = url};
    assert_int_equal(dx_http_submit(h, &rq, on_chain, &c), DX_OK);
    assert_int_equal(c.done, 0); /* never from inside submit */
    run_all(h);
    assert_int_equal(c.done, 10);
    assert_int_equal(c.last, DX_OK);
    assert_int_equal(mh_connections(s), 1);
    dx_http_free(h);
    mh_stop(s);
}

/* poll(-1) returns once something completed; poll(0) never waits. */
static void test_poll_modes(void **state) {
    (void)state;
    srv_ctx sc = {BEH_DELAY, 150};
    mh_server *s = mh_start(handler, &sc, NULL);
    dx_http *h = NULL;
    assert_int_equal(dx_http_new(NULL, &h, NULL), DX_OK);
    char url[128];
    mh_url(s, "/", url, sizeof url);
    got g = {0};
    dx_http_req rq = {.url = url};
    assert_int_equal(dx_http_submit(h, &rq, on_done, &g), DX_OK);
    uint64_t t0 = dx_now_ms();
    assert_int_equal(dx_http_poll(h, 0), 1);
    assert_true(dx_now_ms() - t0 < 50);
    assert_int_equal(dx_http_poll(h, -1), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.err, DX_OK);
    assert_true(dx_now_ms() - t0 >= 140);
    assert_int_equal(dx_http_poll(h, -1), 0); /* nothing pending: returns at once */
    dx_http_free(h);
    mh_stop(s);
    dx_buf_free(&g.body);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_and_post),
        cmocka_unit_test(test_keepalive_reuse),
        cmocka_unit_test(test_many_in_flight),
        cmocka_unit_test(test_many_ready_at_once),
        cmocka_unit_test(test_url_changes),
        cmocka_unit_test(test_user_agent),
        cmocka_unit_test(test_inflight_limit),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_reset_fresh_connection),
        cmocka_unit_test(test_reset_reused_connection),
        cmocka_unit_test(test_idle_closed_connection),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_bad_url_and_args),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_free_cancels_pending),
        cmocka_unit_test(test_submit_from_callback),
        cmocka_unit_test(test_poll_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
