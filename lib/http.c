/*
 * http.c - the asynchronous HTTP engine (dynox/http.h) on a libcurl multi
 * handle, in the manner of curl's 10-at-a-time example.
 *
 * DESIGN
 * An engine owns one multi handle (and with it one connection cache, so
 * keep-alive connections are reused across requests) and a set of transfer
 * slots. A slot holds a reusable easy handle, the request's header list, and
 * the response being collected; finished slots go back to a free list, so a
 * steady stream of requests allocates nothing after warm-up except curl's
 * header list. Requests beyond max_inflight wait in a FIFO and are added to
 * the multi handle as slots finish. Every slot is in exactly one of three
 * places: the free list, the wait queue, or the running list; a request is
 * completed (callback run) exactly once, when its slot leaves the queue or
 * the running list for the free list.
 *
 * Errors: every CURLMcode is checked. A failing curl_multi_perform or
 * curl_multi_poll completes every running transfer with an error rather
 * than leaving it stranded; failing to add a handle completes that request.
 * Transport errors are classified once, in classify(): time-outs, bad
 * configuration (URL, TLS verification) and everything else as a network
 * error, which is what a reset keep-alive connection gives.
 *
 * Must never: run a callback from dx_http_submit, turn TLS verification off
 * unless opts.insecure says so, follow a redirect, print or log (request
 * headers carry signatures and tokens), or retry on its own.
 */
#include "dynox/http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "dynox/dynox.h"

#define DEF_INFLIGHT 64
#define DEF_CONNECT_MS 5000
#define DEF_TIMEOUT_MS 60000
#define DEF_MAX_BODY ((size_t)64 << 20)
#define KEEP_BODY_CAP ((size_t)1 << 20)

typedef struct xfer xfer;
struct xfer {
    xfer *prev, *next; /* list links: free list / wait queue / running list */
    dx_http *h;
    CURL *easy;
    struct curl_slist *hdrs;
    dx_http_req req;
    dx_http_done_fn done;
    void *ud;
    dx_http_resp resp;
    uint64_t submit_ns;
    bool too_big;
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct xlist {
    xfer *head, *tail;
    size_t n;
} xlist;

struct dx_http {
    CURLM *multi;
    dx_http_opts o;
    char ua[64];
    xlist free_slots, waiting, running;
    dx_http_stats stats;
};

/* ------------------------------------------------------------ global init */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_ALL); }

/* ------------------------------------------------------------------ lists */

static void list_push(xlist *l, xfer *x) {
    x->next = NULL;
    x->prev = l->tail;
    if (l->tail)
        l->tail->next = x;
    else
        l->head = x;
    l->tail = x;
    l->n++;
}

static void list_remove(xlist *l, xfer *x) {
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        l->tail = x->prev;
    x->prev = x->next = NULL;
    l->n--;
}

static xfer *list_pop(xlist *l) {
    xfer *x = l->head;
    if (x) list_remove(l, x);
    return x;
}

/* -------------------------------------------------------------- callbacks */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    xfer *x = ud;
    size_t len = size * n;
    if (x->resp.body.len + len > x->h->o.max_body) {
        x->too_big = true;
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    }
    if (!dx_buf_append(&x->resp.body, p, len)) return 0;
    return len;
}

/* Case-insensitive "name:" prefix; returns the trimmed value or NULL. */
static const char *header_value(const char *line, size_t len, const char *name, size_t *vlen) {
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0) return NULL;
    const char *v = line + nl + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    *vlen = (size_t)(end - v);
    return v;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    xfer *x = ud;
    size_t len = size * n, vlen;
    const char *v;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the last one's headers. */
        x->resp.has_crc32 = false;
        x->resp.crc32 = 0;
        x->resp.request_id[0] = 0;
    } else if ((v = header_value(p, len, "x-amz-crc32", &vlen)) != NULL) {
        uint64_t c = 0;
        bool ok = vlen > 0 && vlen <= 10;
        for (size_t i = 0; ok && i < vlen; i++) {
            if (!isdigit((unsigned char)v[i])) ok = false;
            else c = c * 10 + (uint64_t)(v[i] - '0');
        }
        /* A malformed value is kept as a mismatch the caller will notice. */
        x->resp.has_crc32 = true;
        x->resp.crc32 = ok && c <= UINT32_MAX ? (uint32_t)c : 0;
    } else if ((v = header_value(p, len, "x-amzn-RequestId", &vlen)) != NULL ||
               ((v = header_value(p, len, "x-amz-request-id", &vlen)) != NULL &&
                !x->resp.request_id[0])) {
        if (vlen >= sizeof x->resp.request_id) vlen = sizeof x->resp.request_id - 1;
        memcpy(x->resp.request_id, v, vlen);
        x->resp.request_id[vlen] = 0;
    }
    return len;
}

/* ---------------------------------------------------------------- helpers */

static dx_err classify(const xfer *x, CURLcode rc) {
    switch (rc) {
    case CURLE_OK:
        return DX_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return DX_ERR_TIMEOUT;
    case CURLE_OUT_OF_MEMORY:
        return DX_ERR_NOMEM;
    case CURLE_WRITE_ERROR:
        return x->too_big ? DX_ERR_PROTOCOL : DX_ERR_NOMEM;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
        return DX_ERR_CONFIG;
    default:
        /* Connection refused/reset/closed, nothing received, DNS, TLS handshake...: */
        return DX_ERR_NETWORK;
    }
}

static bool setup_easy(dx_http *h, xfer *x) {
    if (x->easy) return true;
    CURL *e = curl_easy_init();
    if (!e) return false;
    bool ok = true;
#define SET(opt, val) ok = ok && curl_easy_setopt(e, opt, val) == CURLE_OK
    SET(CURLOPT_PRIVATE, (void *)x);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_KEEPIDLE, 30L);
    SET(CURLOPT_TCP_KEEPINTVL, 15L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_SSL_VERIFYPEER, h->o.insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, h->o.insecure ? 0L : 2L);
    SET(CURLOPT_USERAGENT, h->ua);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)h->o.connect_timeout_ms);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, (void *)x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, (void *)x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    if (h->o.max_idle_ms) SET(CURLOPT_MAXAGE_CONN, (long)((h->o.max_idle_ms + 999) / 1000));
#undef SET
    if (!ok) {
        curl_easy_cleanup(e);
        return false;
    }
    x->easy = e;
    return true;
}

/* Per-request options on a (possibly reused) easy handle. */
static CURLcode setup_request(dx_http *h, xfer *x) {
    CURL *e = x->easy;
    const dx_http_req *q = &x->req;
    const char *m = q->method ? q->method : "GET";
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                   \
    do {                                                                                \
        if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val);                         \
    } while (0)
    x->errbuf[0] = 0;
    SET(CURLOPT_URL, q->url);
    SET(CURLOPT_HTTPHEADER, x->hdrs);
    SET(CURLOPT_CUSTOMREQUEST, (char *)NULL);
    SET(CURLOPT_NOBODY, 0L);
    if (strcmp(m, "GET") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
        SET(CURLOPT_POSTFIELDS, q->body ? q->body : "");
        if (strcmp(m, "POST") != 0) SET(CURLOPT_CUSTOMREQUEST, m);
    }
    SET(CURLOPT_TIMEOUT_MS, (long)(q->timeout_ms ? q->timeout_ms : h->o.timeout_ms));
#undef SET
    return rc;
}

static void resp_reset(dx_http_resp *r) {
    dx_buf body = r->body;
    dx_buf_clear(&body);
    memset(r, 0, sizeof *r);
    r->body = body;
}

/*
 * Takes a transfer off the multi handle. Should that fail, the easy handle's
 * state is unknown: it is thrown away and the slot gets a fresh one next time.
 */
static void detach(dx_http *h, xfer *x) {
    if (curl_multi_remove_handle(h->multi, x->easy) != CURLM_OK) {
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
}

/* Runs the callback and returns the slot to the free list. */
static void complete(dx_http *h, xfer *x) {
    if (x->resp.err != DX_OK && !x->resp.error[0]) {
        const char *msg = x->errbuf[0] ? x->errbuf : dx_strerror(x->resp.err);
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) n--;
        if (n >= sizeof x->resp.error) n = sizeof x->resp.error - 1;
        memcpy(x->resp.error, msg, n);
        x->resp.error[n] = 0;
    }
    if (!x->resp.body.ptr) dx_buf_reserve(&x->resp.body, 1); /* NUL-terminated if possible */
    x->resp.elapsed_us = (dx_now_ns() - x->submit_ns) / 1000u;
    h->stats.requests++;
    if (x->resp.err == DX_ERR_NETWORK || x->resp.err == DX_ERR_TIMEOUT) h->stats.net_errors++;
    dx_http_done_fn done = x->done;
    void *ud = x->ud;
    x->done = NULL;
    done(ud, &x->resp);
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    /* Keep a typical body's buffer for the next request, not a one-off 16 MB scan page. */
    if (x->resp.body.cap > KEEP_BODY_CAP) dx_buf_free(&x->resp.body);
    resp_reset(&x->resp);
    x->too_big = false;
    memset(&x->req, 0, sizeof x->req);
    list_push(&h->free_slots, x);
}

static void fail_now(dx_http *h, xfer *x, dx_err e, const char *msg) {
    x->resp.err = e;
    snprintf(x->resp.error, sizeof x->resp.error, "%s", msg);
    complete(h, x);
}

/*
 * Puts one request on the multi handle. On failure returns the error and a
 * message, and the slot is not on any list.
 */
static dx_err start_one(dx_http *h, xfer *x, const char **msg) {
    if (!setup_easy(h, x)) {
        *msg = "could not create a curl handle";
        return DX_ERR_NOMEM;
    }
    CURLcode rc = setup_request(h, x);
    if (rc != CURLE_OK) {
        *msg = curl_easy_strerror(rc);
        return rc == CURLE_OUT_OF_MEMORY ? DX_ERR_NOMEM : DX_ERR_CONFIG;
    }
    CURLMcode mc = curl_multi_add_handle(h->multi, x->easy);
    if (mc != CURLM_OK) {
        *msg = curl_multi_strerror(mc);
        return mc == CURLM_OUT_OF_MEMORY ? DX_ERR_NOMEM : DX_ERR_NETWORK;
    }
    list_push(&h->running, x);
    return DX_OK;
}

/* Moves waiting requests onto the multi handle while there is room (poll only). */
static void start_waiting(dx_http *h) {
    while (h->waiting.n && h->running.n < h->o.max_inflight) {
        xfer *x = list_pop(&h->waiting);
        const char *msg = NULL;
        dx_err e = start_one(h, x, &msg);
        if (e != DX_OK) fail_now(h, x, e, msg);
    }
}

/* Completes the transfers curl reports as done; returns how many. */
static size_t finish_done(dx_http *h) {
    size_t n = 0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *e = msg->easy_handle;
        CURLcode rc = msg->data.result;
        xfer *x = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        if (!x) { /* not ours: cannot happen */
            curl_multi_remove_handle(h->multi, e);
            continue;
        }
        list_remove(&h->running, x);
        long code = 0, connects = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
        detach(h, x);
        h->stats.connects += (uint64_t)connects;
        x->resp.reused = connects == 0 && rc != CURLE_COULDNT_CONNECT;
        if (x->resp.reused) h->stats.reused++;
        x->resp.err = classify(x, rc);
        x->resp.status = rc == CURLE_OK ? (int)code : 0;
        if (x->too_big)
            snprintf(x->resp.error, sizeof x->resp.error,
                     "response body larger than %zu bytes (dx_http_opts.max_body)",
                     h->o.max_body);
        complete(h, x);
        n++;
    }
    return n;
}

/* A multi-level failure: nothing running can finish, so complete it all with e. */
static size_t fail_running(dx_http *h, CURLMcode mc) {
    size_t n = 0;
    xfer *x;
    while ((x = list_pop(&h->running)) != NULL) {
        detach(h, x);
        fail_now(h, x, mc == CURLM_OUT_OF_MEMORY ? DX_ERR_NOMEM : DX_ERR_NETWORK,
                 curl_multi_strerror(mc));
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------ API */

dx_err dx_http_new(const dx_http_opts *opts, dx_http **out, dx_result *r) {
    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return dx_fail(r, DX_ERR_NETWORK, NULL, "curl_global_init failed: %s",
                       curl_easy_strerror(global_rc));
    dx_http *h = calloc(1, sizeof *h);
    if (!h) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory creating the HTTP engine");
    if (opts) h->o = *opts;
    if (!h->o.max_inflight) h->o.max_inflight = DEF_INFLIGHT;
    if (!h->o.connect_timeout_ms) h->o.connect_timeout_ms = DEF_CONNECT_MS;
    if (!h->o.timeout_ms) h->o.timeout_ms = DEF_TIMEOUT_MS;
    if (!h->o.max_body) h->o.max_body = DEF_MAX_BODY;
    snprintf(h->ua, sizeof h->ua, "%s", h->o.user_agent ? h->o.user_agent : "dynox/" DYNOX_VERSION);
    h->o.user_agent = h->ua;
    h->multi = curl_multi_init();
    if (!h->multi) {
        free(h);
        return dx_fail(r, DX_ERR_NOMEM, NULL, "curl_multi_init failed");
    }
    CURLMcode mc = curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->o.max_inflight);
    if (mc == CURLM_OK) mc = curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    if (mc != CURLM_OK) {
        curl_multi_cleanup(h->multi);
        free(h);
        return dx_fail(r, DX_ERR_NETWORK, NULL, "curl_multi_setopt failed: %s",
                       curl_multi_strerror(mc));
    }
    *out = h;
    return DX_OK;
}

void dx_http_free(dx_http *h) {
    if (!h) return;
    xfer *x;
    while ((x = list_pop(&h->running)) != NULL) {
        detach(h, x);
        fail_now(h, x, DX_ERR_CANCELLED, "the HTTP engine was freed with the request pending");
    }
    while ((x = list_pop(&h->waiting)) != NULL)
        fail_now(h, x, DX_ERR_CANCELLED, "the HTTP engine was freed with the request pending");
    while ((x = list_pop(&h->free_slots)) != NULL) {
        if (x->easy) curl_easy_cleanup(x->easy);
        dx_buf_free(&x->resp.body);
        free(x);
    }
    (void)curl_multi_cleanup(h->multi); /* nothing is attached any more: cannot fail usefully */
    free(h);
}

dx_err dx_http_submit(dx_http *h, const dx_http_req *req, dx_http_done_fn done, void *ud) {
    if (!h || !req || !req->url || !done || (req->body_len && !req->body))
        return DX_ERR_INVALID_ARG;
    xfer *x = list_pop(&h->free_slots);
    if (!x) {
        x = calloc(1, sizeof *x);
        if (!x) return DX_ERR_NOMEM;
        x->h = h;
    }
    struct curl_slist *hl = NULL;
    bool ok = true;
    for (size_t i = 0; ok && i < req->nheaders; i++) {
        struct curl_slist *t = curl_slist_append(hl, req->headers[i]);
        if (!t) ok = false;
        else hl = t;
    }
    /* No "Expect: 100-continue" round trip for larger bodies, no default Accept. */
    const char *extra[] = {"Expect:", "Accept:"};
    for (size_t i = 0; ok && i < sizeof extra / sizeof extra[0]; i++) {
        struct curl_slist *t = curl_slist_append(hl, extra[i]);
        if (!t) ok = false;
        else hl = t;
    }
    if (!ok) {
        curl_slist_free_all(hl);
        list_push(&h->free_slots, x);
        return DX_ERR_NOMEM;
    }
    x->hdrs = hl;
    x->req = *req;
    x->req.headers = NULL;
    x->req.nheaders = 0;
    x->done = done;
    x->ud = ud;
    x->submit_ns = dx_now_ns();
    resp_reset(&x->resp);
    /* Adding to the multi handle runs no callback; the transfer starts at the next poll. */
    if (h->waiting.n || h->running.n >= h->o.max_inflight) {
        list_push(&h->waiting, x);
        return DX_OK;
    }
    const char *msg = NULL;
    dx_err e = start_one(h, x, &msg);
    if (e != DX_OK) {
        curl_slist_free_all(x->hdrs);
        x->hdrs = NULL;
        x->done = NULL;
        list_push(&h->free_slots, x);
    }
    return e;
}

size_t dx_http_pending(const dx_http *h) { return h ? h->waiting.n + h->running.n : 0; }

size_t dx_http_poll(dx_http *h, int timeout_ms) {
    if (!h) return 0;
    uint64_t deadline = timeout_ms > 0 ? dx_now_ms() + (uint64_t)timeout_ms : 0;
    size_t completed = 0;
    for (;;) {
        start_waiting(h);
        int still = 0;
        CURLMcode mc = curl_multi_perform(h->multi, &still);
        if (mc != CURLM_OK) completed += fail_running(h, mc);
        completed += finish_done(h);
        start_waiting(h);
        if (!dx_http_pending(h) || completed || timeout_ms == 0) break;
        int wait = 1000;
        if (timeout_ms > 0) {
            uint64_t now = dx_now_ms();
            if (now >= deadline) break;
            wait = (int)(deadline - now);
        }
        if (!h->running.n) continue;
        mc = curl_multi_poll(h->multi, NULL, 0, wait, NULL);
        if (mc != CURLM_OK) completed += fail_running(h, mc);
    }
    return dx_http_pending(h);
}

void dx_http_stats_get(const dx_http *h, dx_http_stats *out) {
    if (h)
        *out = h->stats;
    else
        memset(out, 0, sizeof *out);
}
