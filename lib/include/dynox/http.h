/*
 * dynox/http.h - an asynchronous HTTP/1.1 engine: one thread, many requests
 * in flight, on a libcurl multi handle driven through epoll.
 *
 * A dx_http engine keeps one connection cache (a curl multi handle), an
 * epoll set and a pool of reusable transfer slots. dx_http_submit queues a
 * request; up to max_inflight of them run at once and the rest wait in FIFO
 * order.
 * dx_http_poll drives the I/O and calls each request's completion callback
 * exactly once, on the thread that polls. Connections are kept alive and
 * reused between requests to the same host; TLS peers and host names are
 * always verified unless the explicit `insecure` option turns it off (meant
 * for local test endpoints only).
 *
 * Outcome classification (dx_http_resp.err): DX_OK whenever an HTTP response
 * was received, whatever its status; DX_ERR_TIMEOUT when the connect or total
 * timeout fired; DX_ERR_CONFIG when retrying cannot help (malformed URL,
 * unsupported scheme, TLS certificate verification failed); DX_ERR_PROTOCOL
 * when the body exceeded max_body; DX_ERR_NETWORK for every other transport
 * failure, including
 * a reused keep-alive connection that the server had closed or reset (the
 * caller retries those; nothing here retries on its own); DX_ERR_CANCELLED
 * for requests still pending when the engine is freed.
 *
 * Threads: an engine belongs to one thread at a time; different engines may
 * run on different threads at once. curl_global_init runs once per process
 * (pthread_once) on the first dx_http_new.
 *
 * Must never: call a completion callback from inside dx_http_submit, lose a
 * request (each completes exactly once), follow redirects, or log anything.
 */
#ifndef DYNOX_HTTP_H
#define DYNOX_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "util.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dx_http dx_http;

/* Engine options; zero means the default for every field. */
typedef struct dx_http_opts {
    uint32_t max_inflight;       /* transfers running at once (default 64) */
    uint32_t connect_timeout_ms; /* TCP + TLS connect (default 5000) */
    uint32_t timeout_ms;         /* whole request, connect included (default 60000) */
    uint32_t max_idle_ms;        /* do not reuse a connection idle longer (0: curl's 118 s) */
    size_t max_body;             /* largest response body accepted (default 64 MiB) */
    bool insecure;               /* turn TLS verification off: local test endpoints only */
    const char *user_agent;      /* default "dynox/<version>" */
} dx_http_opts;

/*
 * One request. Nothing is copied at submit time except the header list:
 * `url` and `body` must stay valid until the completion callback has run.
 */
typedef struct dx_http_req {
    const char *method;          /* "GET" (NULL), "POST", "PUT", ... */
    const char *url;
    const char *const *headers;  /* "Name: value" lines, copied at submit; a
                                  * User-Agent line replaces the engine's */
    size_t nheaders;
    const char *body;            /* request body (may be NULL when body_len == 0) */
    size_t body_len;
    uint32_t timeout_ms;         /* overrides the engine's total timeout when non-zero */
} dx_http_req;

/*
 * The outcome of one request, valid only during the completion callback.
 * The callback may take the body (move resp->body out and zero it); whatever
 * is left is reused by the engine.
 */
typedef struct dx_http_resp {
    dx_err err;             /* see the top of this file */
    int status;             /* HTTP status, 0 when no response arrived */
    dx_buf body;            /* response body, NUL-terminated */
    bool has_crc32;         /* an x-amz-crc32 header was present */
    uint32_t crc32;         /* its value */
    char request_id[64];    /* x-amzn-RequestId (or x-amz-request-id), "" when absent */
    char error[256];        /* curl's error text when err != DX_OK, else "" */
    bool reused;            /* the request went over a reused connection */
    uint64_t elapsed_us;    /* submit to completion */
} dx_http_resp;

typedef void (*dx_http_done_fn)(void *ud, dx_http_resp *resp);

/*
 * A new engine; opts may be NULL. Returns DX_ERR_NOMEM or DX_ERR_NETWORK
 * (curl could not be initialised) with a message in r (may be NULL).
 * Free with dx_http_free.
 */
dx_err dx_http_new(const dx_http_opts *opts, dx_http **out, dx_result *r);

/*
 * Completes every request still pending with DX_ERR_CANCELLED (callbacks
 * run, on this thread), closes the connections and frees the engine. NULL
 * is a no-op. Must not be called from inside a completion callback.
 */
void dx_http_free(dx_http *h);

/*
 * Queues a request; `done(ud, resp)` runs later from dx_http_poll. Returns
 * DX_ERR_INVALID_ARG (no URL, no callback, a NULL header line), DX_ERR_NOMEM,
 * DX_ERR_CONFIG (curl rejected the request's options) or DX_ERR_NETWORK
 * (curl refused the transfer), and then the callback never runs. May be
 * called from inside a completion callback.
 */
dx_err dx_http_submit(dx_http *h, const dx_http_req *req, dx_http_done_fn done, void *ud);

/*
 * Drives I/O and runs the callbacks of finished requests, returning as soon
 * as at least one request has completed, or after timeout_ms. 0: do what is
 * ready and return; negative: no time limit (returns at once when nothing is
 * pending). Returns the number of requests still pending (running or
 * queued). Must not be called from inside a completion callback.
 */
size_t dx_http_poll(dx_http *h, int timeout_ms);

/* Requests submitted and not yet completed. */
size_t dx_http_pending(const dx_http *h);

/* Counters for tests and benchmarks. */
typedef struct dx_http_stats {
    uint64_t requests;     /* completed */
    uint64_t connects;     /* new connections opened */
    uint64_t reused;       /* requests sent over a reused connection */
    uint64_t net_errors;   /* completed with DX_ERR_NETWORK or DX_ERR_TIMEOUT */
} dx_http_stats;
void dx_http_stats_get(const dx_http *h, dx_http_stats *out);

#ifdef __cplusplus
}
#endif
#endif
