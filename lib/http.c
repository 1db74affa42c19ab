/*
 * http.c - the asynchronous HTTP engine (dynox/http.h): a libcurl multi
 * handle driven by curl_multi_socket_action on an epoll set, in the manner
 * of curl's ephiperfifo example.
 *
 * DESIGN
 * An engine owns one multi handle (and with it one connection cache, so
 * keep-alive connections are reused across requests), one epoll set and a
 * set of transfer slots. A slot holds a reusable easy handle, its parsed URL,
 * the request's header list and the response being collected; finished
 * slots go back to a free list, so a steady stream of requests allocates
 * nothing here after warm-up. Requests beyond max_inflight wait in a FIFO
 * and are added to the multi handle as slots finish. Every slot is in
 * exactly one of three places: the free list, the wait queue, or the running
 * list; a request is completed (callback run) exactly once, when its slot
 * leaves the queue or the running list for the free list.
 *
 * Event loop. curl tells us which sockets to watch (on_socket) and when it
 * next needs to run on its own (on_timer: a deadline we keep, no timerfd);
 * dx_http_poll runs the due timer, waits in epoll_wait until a socket is
 * ready or the deadline comes, and hands each ready socket to
 * curl_multi_socket_action. A wake-up therefore costs work for the sockets
 * that are ready, never a walk over every transfer in flight or a poll() of
 * every socket, which is what curl_multi_perform + curl_multi_poll did.
 *
 * Socket registrations are kept lazily. Between two requests on a keep-alive
 * connection curl drops the socket (CURL_POLL_REMOVE) and asks for it again
 * when the next request is sent; the epoll registration of a socket this
 * engine opened (on_open_socket) is left in place meanwhile, so the steady
 * state costs no epoll_ctl per request. An event on such an idle socket (the
 * server closed it) removes the registration then. A closed descriptor
 * leaves the epoll set by itself: on_close_socket forgets it, and
 * on_open_socket resets the entry of every number it hands out (curl closes
 * an unused connect attempt without the callback), so a recycled number
 * never inherits a stale registration. Sockets we did not open (the
 * resolver's) are registered and removed eagerly, and a failing
 * EPOLL_CTL_MOD/ADD falls back to the other, so a stale entry can cost a
 * syscall but never a lost event.
 *
 * Per-request work kept small: the URL is parsed once per slot (CURLOPT_CURLU)
 * while it stays the same, the header list is the slot's own array of
 * curl_slist nodes over one text buffer (no allocation per header; the
 * User-Agent is one of its lines, which spares curl formatting one per
 * request), and the easy handle keeps every per-engine option.
 *
 * Errors: every CURLMcode is checked. A failing curl_multi_socket_action
 * completes every running transfer with an error rather than leaving it
 * stranded; failing to add a handle completes that request. Transport errors
 * are classified once, in classify(): time-outs, bad configuration (URL, TLS
 * verification) and everything else as a network error, which is what a
 * reset keep-alive connection gives.
 *
 * Must never: run a callback from dx_http_submit, turn TLS verification off
 * unless opts.insecure says so, follow a redirect, print or log (request
 * headers carry signatures and tokens), or retry on its own.
 */
#include "dynox/http.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "dynox/dynox.h"

#define DEF_INFLIGHT 64
#define DEF_CONNECT_MS 5000
#define DEF_TIMEOUT_MS 60000
#define DEF_MAX_BODY ((size_t)64 << 20)
#define KEEP_BODY_CAP ((size_t)1 << 20)
#define MAX_EVENTS 64
#define NO_TIMER UINT64_MAX
#define MAX_WAIT_MS 1000 /* a lost timer costs at most this much latency */

/*
 * Headers every request gets besides its own: our User-Agent line first
 * (unless the request has one), and after the request's headers "Expect:"
 * and "Accept:" (no 100-continue round trip, no default Accept). The
 * User-Agent goes in the list rather than through CURLOPT_USERAGENT, which
 * curl would format into a new string for every request; first in the list,
 * it goes on the wire where curl's own would (right after Host).
 */
enum { NTAIL = 2 };
static const char *const TAIL_HEADERS[NTAIL] = {"Expect:", "Accept:"};

typedef struct xfer xfer;
struct xfer {
    xfer *prev, *next; /* list links: free list / wait queue / running list */
    dx_http *h;
    CURL *easy;
    CURLU *uh;         /* the URL of the slot's first request, parsed once */
    char *uh_url;      /* its text, to recognise the same URL again */
    bool plain_url;    /* the slot has seen another URL: CURLOPT_URL per request */
    struct curl_slist *hnodes; /* header list nodes, linked in order; data in htext */
    size_t hcap;
    dx_buf htext;      /* the header lines, NUL-separated; may hold a token: wiped */
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

/* What we know of one descriptor number, indexed by the number. */
typedef struct fdent {
    uint32_t reg;  /* events registered in the epoll set (0: not registered) */
    uint32_t want; /* events curl wants now (0: none) */
    bool ours;     /* opened by on_open_socket, will be closed by on_close_socket */
} fdent;

struct dx_http {
    CURLM *multi;
    int ep; /* epoll set */
    dx_http_opts o;
    char ua[64];
    char ua_line[80]; /* "User-Agent: <ua>" */
    xlist free_slots, waiting, running;
    dx_http_stats stats;
    fdent *fds;
    size_t nfds;
    uint64_t timer_ns;  /* when curl wants to run next: NO_TIMER, 0 = now, else dx_now_ns() */
    bool timer_touched; /* on_timer ran since the flag was cleared */
    bool sock_failed;   /* on_socket could not update the epoll set */
    struct epoll_event evs[MAX_EVENTS];
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

/* ------------------------------------------------------ sockets and timer */

/* The entry for descriptor s, growing the table; NULL when out of memory. */
static fdent *fd_get(dx_http *h, curl_socket_t s) {
    if (s < 0) return NULL;
    size_t i = (size_t)s;
    if (i >= h->nfds) {
        size_t n = h->nfds ? h->nfds : 64;
        while (n <= i) n *= 2;
        fdent *t = realloc(h->fds, n * sizeof *t);
        if (!t) return NULL;
        memset(t + h->nfds, 0, (n - h->nfds) * sizeof *t);
        h->fds = t;
        h->nfds = n;
    }
    return &h->fds[i];
}

/* Makes the epoll set watch s for exactly ev (non-zero). */
static bool ep_set(dx_http *h, curl_socket_t s, fdent *f, uint32_t ev) {
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = ev;
    e.data.fd = s;
    int op = f->reg ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(h->ep, op, s, &e) != 0) {
        /* Our idea of the registration was stale: try the other operation. */
        if (!((op == EPOLL_CTL_MOD && errno == ENOENT) || (op == EPOLL_CTL_ADD && errno == EEXIST)))
            return false;
        op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        if (epoll_ctl(h->ep, op, s, &e) != 0) return false;
    }
    f->reg = ev;
    return true;
}

static void ep_del(dx_http *h, curl_socket_t s, fdent *f) {
    if (f->reg) (void)epoll_ctl(h->ep, EPOLL_CTL_DEL, s, NULL); /* may be closed already */
    f->reg = 0;
}

/* CURLMOPT_SOCKETFUNCTION: what curl wants to hear about socket s. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)e;
    (void)socketp;
    dx_http *h = userp;
    fdent *f = fd_get(h, s);
    if (!f) {
        h->sock_failed = true;
        return -1;
    }
    uint32_t want = 0;
    switch (what) {
    case CURL_POLL_IN: want = EPOLLIN; break;
    case CURL_POLL_OUT: want = EPOLLOUT; break;
    case CURL_POLL_INOUT: want = EPOLLIN | EPOLLOUT; break;
    default: want = 0; break; /* CURL_POLL_REMOVE */
    }
    f->want = want;
    if (!want) {
        /* A socket of ours stays registered while idle (see the top of the file). */
        if (!f->ours) ep_del(h, s, f);
        return 0;
    }
    if (f->reg == want) return 0;
    if (!ep_set(h, s, f, want)) {
        h->sock_failed = true;
        return -1;
    }
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl wants socket_action(CURL_SOCKET_TIMEOUT) in timeout_ms. */
static int on_timer(CURLM *m, long timeout_ms, void *userp) {
    (void)m;
    dx_http *h = userp;
    h->timer_touched = true;
    if (timeout_ms < 0)
        h->timer_ns = NO_TIMER;
    else if (timeout_ms == 0)
        h->timer_ns = 0;
    else
        h->timer_ns = dx_now_ns() + (uint64_t)timeout_ms * 1000000u;
    return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: curl's default, plus close-on-exec, remembered as ours. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
    dx_http *h = clientp;
    (void)purpose;
    curl_socket_t s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (s == CURL_SOCKET_BAD) return s;
    fdent *f = fd_get(h, s);
    if (f) { /* a new descriptor: nothing of an earlier one with this number is registered */
        f->reg = 0;
        f->want = 0;
        f->ours = true;
    }
    return s;
}

/* CURLOPT_CLOSESOCKETFUNCTION: forget the socket (closing it drops it from the epoll set). */
static int on_close_socket(void *clientp, curl_socket_t s) {
    dx_http *h = clientp;
    if (s >= 0 && (size_t)s < h->nfds) memset(&h->fds[s], 0, sizeof h->fds[s]);
    return close(s);
}

static bool timer_due(const dx_http *h) {
    return h->timer_ns != NO_TIMER && (h->timer_ns == 0 || dx_now_ns() >= h->timer_ns);
}

/* ms until curl's timer (0 when due), or -1 when there is none. */
static int timer_wait_ms(const dx_http *h) {
    if (h->timer_ns == NO_TIMER) return -1;
    if (h->timer_ns == 0) return 0;
    uint64_t now = dx_now_ns();
    if (now >= h->timer_ns) return 0;
    uint64_t ms = (h->timer_ns - now + 999999u) / 1000000u;
    return ms > MAX_WAIT_MS ? MAX_WAIT_MS : (int)ms;
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
static const char *header_value(const char *line, size_t len, const char *name, size_t nl,
                                size_t *vlen) {
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0) return NULL;
    const char *v = line + nl + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    *vlen = (size_t)(end - v);
    return v;
}

#define HV(p, len, lit, vlen) header_value(p, len, lit, sizeof lit - 1, vlen)

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    xfer *x = ud;
    size_t len = size * n, vlen;
    const char *v;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the last one's headers. */
        x->resp.has_crc32 = false;
        x->resp.crc32 = 0;
        x->resp.request_id[0] = 0;
    } else if (len < 6 || (p[0] | 0x20) != 'x') {
        return len; /* only x-amz* headers matter: the rest cost one compare */
    } else if ((v = HV(p, len, "x-amz-crc32", &vlen)) != NULL) {
        uint64_t c = 0;
        bool ok = vlen > 0 && vlen <= 10;
        for (size_t i = 0; ok && i < vlen; i++) {
            if (!isdigit((unsigned char)v[i])) ok = false;
            else c = c * 10 + (uint64_t)(v[i] - '0');
        }
        /* A malformed value is kept as a mismatch the caller will notice. */
        x->resp.has_crc32 = true;
        x->resp.crc32 = ok && c <= UINT32_MAX ? (uint32_t)c : 0;
    } else if ((v = HV(p, len, "x-amzn-RequestId", &vlen)) != NULL ||
               ((v = HV(p, len, "x-amz-request-id", &vlen)) != NULL && !x->resp.request_id[0])) {
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
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)h->o.connect_timeout_ms);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, (void *)x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, (void *)x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    SET(CURLOPT_OPENSOCKETDATA, (void *)h);
    SET(CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    SET(CURLOPT_CLOSESOCKETDATA, (void *)h);
    if (h->o.max_idle_ms) SET(CURLOPT_MAXAGE_CONN, (long)((h->o.max_idle_ms + 999) / 1000));
#undef SET
    if (!ok) {
        curl_easy_cleanup(e);
        return false;
    }
    x->easy = e;
    return true;
}

/*
 * The request's URL on the slot's easy handle: the parsed CURLU when it is
 * the URL the slot was first used with, else CURLOPT_URL (curl parses it).
 * Once a slot has seen a second URL it stays with CURLOPT_URL: switching a
 * handle back from CURLOPT_URL to a CURLU is not something curl supports.
 */
static CURLcode set_url(xfer *x, const char *url) {
    if (!x->plain_url) {
        if (x->uh_url && strcmp(x->uh_url, url) == 0) return CURLE_OK;
        if (!x->uh_url) {
            x->uh = curl_url();
            x->uh_url = strdup(url);
            if (x->uh && x->uh_url &&
                curl_url_set(x->uh, CURLUPART_URL, url,
                             CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
                curl_easy_setopt(x->easy, CURLOPT_CURLU, x->uh) == CURLE_OK)
                return CURLE_OK;
            /* Out of memory or a URL curl_url_set rejects: curl will say why, per request. */
        }
        x->plain_url = true;
        (void)curl_easy_setopt(x->easy, CURLOPT_CURLU, (CURLU *)NULL);
        curl_url_cleanup(x->uh);
        x->uh = NULL;
        free(x->uh_url);
        x->uh_url = NULL;
    }
    return curl_easy_setopt(x->easy, CURLOPT_URL, url);
}

/* Per-request options on a (possibly reused) easy handle. */
static CURLcode setup_request(dx_http *h, xfer *x) {
    CURL *e = x->easy;
    const dx_http_req *q = &x->req;
    const char *m = q->method ? q->method : "GET";
    CURLcode rc = set_url(x, q->url);
#define SET(opt, val)                                                                   \
    do {                                                                                \
        if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val);                         \
    } while (0)
    x->errbuf[0] = 0;
    SET(CURLOPT_HTTPHEADER, x->hnodes);
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

/* Line i of a request's header list: [our User-Agent], the request's headers, the tail. */
static const char *header_line(const dx_http *h, const dx_http_req *req, bool ua, size_t i) {
    if (ua) {
        if (i == 0) return h->ua_line;
        i--;
    }
    return i < req->nheaders ? req->headers[i] : TAIL_HEADERS[i - req->nheaders];
}

/*
 * Copies the request's header lines and the fixed ones into the slot's own
 * list: nodes in an array the slot keeps, text in one buffer. curl only reads
 * the list, so these nodes are never passed to curl_slist_free_all. The text
 * can hold a session token: a buffer that must grow is wiped, not realloc'd.
 */
static bool set_headers(const dx_http *h, xfer *x, const dx_http_req *req) {
    bool ua = true;
    for (size_t i = 0; ua && i < req->nheaders; i++) {
        const char *s = req->headers[i];
        if ((s[0] | 0x20) == 'u' && strncasecmp(s, "User-Agent:", 11) == 0)
            ua = false; /* the caller's own User-Agent replaces ours */
    }
    size_t n = (ua ? 1 : 0) + req->nheaders + NTAIL, total = 0;
    if (n > x->hcap) {
        struct curl_slist *t = realloc(x->hnodes, n * sizeof *t);
        if (!t) return false;
        x->hnodes = t;
        x->hcap = n;
    }
    for (size_t i = 0; i < n; i++) total += strlen(header_line(h, req, ua, i)) + 1;
    if (total >= x->htext.cap) {
        dx_buf_wipe(&x->htext);
        if (!dx_buf_reserve(&x->htext, total)) return false;
    }
    char *p = x->htext.ptr;
    for (size_t i = 0; i < n; i++) {
        const char *s = header_line(h, req, ua, i);
        size_t l = strlen(s);
        memcpy(p, s, l + 1);
        x->hnodes[i].data = p;
        x->hnodes[i].next = i + 1 < n ? &x->hnodes[i + 1] : NULL;
        p += l + 1;
    }
    *p = 0;
    x->htext.len = total;
    return true;
}

static void resp_reset(dx_http_resp *r) {
    dx_buf body = r->body;
    dx_buf_clear(&body);
    memset(r, 0, sizeof *r);
    r->body = body;
}

/*
 * Takes a transfer off the multi handle. Should that fail, the easy handle's
 * state is unknown: it is thrown away and the slot gets a fresh one next time
 * (its URL handle goes with it).
 */
static void detach(dx_http *h, xfer *x) {
    if (curl_multi_remove_handle(h->multi, x->easy) != CURLM_OK) {
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
        curl_url_cleanup(x->uh);
        x->uh = NULL;
        free(x->uh_url);
        x->uh_url = NULL;
        x->plain_url = false;
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
 * message, and the slot is not on any list. Adding a handle runs no callback
 * of ours but on_timer: the transfer starts at the next poll.
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
    const char *msg = h->sock_failed ? "could not watch a socket (epoll_ctl failed)"
                                     : curl_multi_strerror(mc);
    dx_err e = mc == CURLM_OUT_OF_MEMORY ? DX_ERR_NOMEM : DX_ERR_NETWORK;
    while ((x = list_pop(&h->running)) != NULL) {
        detach(h, x);
        fail_now(h, x, e, msg);
        n++;
    }
    h->sock_failed = false;
    return n;
}

/* One curl_multi_socket_action; a failure fails every running transfer. */
static size_t act(dx_http *h, curl_socket_t s, int bits) {
    int still = 0;
    CURLMcode mc = curl_multi_socket_action(h->multi, s, bits, &still);
    return mc == CURLM_OK ? 0 : fail_running(h, mc);
}

/* Runs curl's due timer; afterwards the deadline we keep is curl's current one. */
static size_t run_timer(dx_http *h) {
    h->timer_touched = false;
    size_t n = act(h, CURL_SOCKET_TIMEOUT, 0);
    if (!h->timer_touched) {
        /* curl did not move its timer (the same expiry stays due, or none is left):
         * ask rather than spin on a deadline that has passed. */
        long ms = -1;
        if (curl_multi_timeout(h->multi, &ms) != CURLM_OK) ms = MAX_WAIT_MS;
        on_timer(h->multi, ms, h);
    }
    return n;
}

/* Hands the ready sockets of one epoll_wait to curl. */
static size_t dispatch(dx_http *h, int nev) {
    size_t failed = 0;
    for (int i = 0; i < nev; i++) {
        curl_socket_t s = h->evs[i].data.fd;
        uint32_t ev = h->evs[i].events;
        fdent *f = (s >= 0 && (size_t)s < h->nfds) ? &h->fds[s] : NULL;
        if (!f || !f->want) {
            /* An idle keep-alive socket the server closed (or wrote to): stop watching it
             * until curl wants it again; curl finds it dead when it next looks. */
            (void)epoll_ctl(h->ep, EPOLL_CTL_DEL, s, NULL);
            if (f) f->reg = 0;
            continue;
        }
        /* Errors and hang-ups go to curl as readiness: the read or write it then
         * tries reports the actual error. */
        int bits = 0;
        if ((f->want & EPOLLIN) && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
            bits |= CURL_CSELECT_IN;
        if ((f->want & EPOLLOUT) && (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
            bits |= CURL_CSELECT_OUT;
        if (!bits) continue;
        failed += act(h, s, bits);
    }
    return failed;
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
    snprintf(h->ua_line, sizeof h->ua_line, "User-Agent: %s", h->ua);
    h->timer_ns = NO_TIMER;
    h->ep = epoll_create1(EPOLL_CLOEXEC);
    if (h->ep < 0) {
        int en = errno;
        free(h);
        return dx_fail(r, en == ENOMEM ? DX_ERR_NOMEM : DX_ERR_NETWORK, NULL,
                       "epoll_create1 failed for the HTTP engine: %s", strerror(en));
    }
    h->multi = curl_multi_init();
    if (!h->multi) {
        close(h->ep);
        free(h);
        return dx_fail(r, DX_ERR_NOMEM, NULL, "curl_multi_init failed");
    }
    CURLMcode mc = curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->o.max_inflight);
    if (mc == CURLM_OK) mc = curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    if (mc == CURLM_OK) mc = curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    if (mc == CURLM_OK) mc = curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, (void *)h);
    if (mc == CURLM_OK) mc = curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    if (mc == CURLM_OK) mc = curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, (void *)h);
    if (mc != CURLM_OK) {
        curl_multi_cleanup(h->multi);
        close(h->ep);
        free(h);
        return dx_fail(r, DX_ERR_NETWORK, NULL, "curl_multi_setopt failed: %s",
                       curl_multi_strerror(mc));
    }
    *out = h;
    return DX_OK;
}

static void slot_free(xfer *x) {
    if (x->easy) curl_easy_cleanup(x->easy);
    curl_url_cleanup(x->uh);
    free(x->uh_url);
    free(x->hnodes);
    dx_buf_wipe(&x->htext);
    dx_buf_free(&x->resp.body);
    free(x);
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
    while ((x = list_pop(&h->free_slots)) != NULL) slot_free(x);
    /* Closes the cached connections through on_close_socket: h must still be whole. */
    (void)curl_multi_cleanup(h->multi); /* nothing is attached any more: cannot fail usefully */
    close(h->ep);
    free(h->fds);
    free(h);
}

dx_err dx_http_submit(dx_http *h, const dx_http_req *req, dx_http_done_fn done, void *ud) {
    if (!h || !req || !req->url || !done || (req->body_len && !req->body) ||
        (req->nheaders && !req->headers))
        return DX_ERR_INVALID_ARG;
    for (size_t i = 0; i < req->nheaders; i++)
        if (!req->headers[i]) return DX_ERR_INVALID_ARG;
    xfer *x = list_pop(&h->free_slots);
    if (!x) {
        x = calloc(1, sizeof *x);
        if (!x) return DX_ERR_NOMEM;
        x->h = h;
    }
    if (!set_headers(h, x, req)) {
        list_push(&h->free_slots, x);
        return DX_ERR_NOMEM;
    }
    x->req = *req;
    x->req.headers = NULL;
    x->req.nheaders = 0;
    x->done = done;
    x->ud = ud;
    x->submit_ns = dx_now_ns();
    resp_reset(&x->resp);
    if (h->waiting.n || h->running.n >= h->o.max_inflight) {
        list_push(&h->waiting, x);
        return DX_OK;
    }
    const char *msg = NULL;
    dx_err e = start_one(h, x, &msg);
    if (e != DX_OK) {
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
    bool waited = false;
    for (;;) {
        start_waiting(h);
        if (timer_due(h)) completed += run_timer(h);
        completed += finish_done(h);
        start_waiting(h);
        if (!dx_http_pending(h) || completed) break;
        int wait;
        if (timeout_ms == 0) {
            if (waited) break;
            wait = 0;
        } else {
            wait = timer_wait_ms(h);
            if (wait < 0 || wait > MAX_WAIT_MS) wait = MAX_WAIT_MS;
            if (timeout_ms > 0) {
                uint64_t now = dx_now_ms();
                if (now >= deadline) {
                    if (waited) break;
                    wait = 0;
                } else if ((uint64_t)wait > deadline - now) {
                    wait = (int)(deadline - now);
                }
            }
        }
        if (!h->running.n) continue; /* only waiting requests: start them */
        int nev = epoll_wait(h->ep, h->evs, MAX_EVENTS, wait);
        waited = true;
        if (nev > 0) completed += dispatch(h, nev);
    }
    return dx_http_pending(h);
}

void dx_http_stats_get(const dx_http *h, dx_http_stats *out) {
    if (h)
        *out = h->stats;
    else
        memset(out, 0, sizeof *out);
}
