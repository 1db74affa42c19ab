/*
 * backend_internal.h - what a backend implements, and what the engine gives it.
 *
 * A backend performs single attempts; client.c owns retries, batch re-drive,
 * rate limiting and statistics. The engine hands the backend one dx_attempt
 * at a time per call: `req` is what to send this time (for batches the
 * entries still pending), `resp`/`res` is where the backend writes the
 * outcome, with values allocated in `arena` (the call's). When the attempt is
 * over the backend calls dx_attempt_done(), from inside start() (memory) or
 * from poll() (HTTP); the engine never re-enters the backend from there.
 *
 * Batch attempts: the backend reports the entries of *this attempt's* req
 * that were not processed (UnprocessedItems / UnprocessedKeys) in
 * resp.unprocessed as indices into req.writes / req.keys; the engine maps
 * them back to the caller's indices and re-drives them.
 *
 * Not installed: only lib/ includes it.
 */
#ifndef DYNOX_BACKEND_INTERNAL_H
#define DYNOX_BACKEND_INTERNAL_H

#include "dynox/client.h"

typedef struct dx_attempt {
    dx_call *call;     /* the call this attempt serves */
    dx_req req;        /* what to send now */
    dx_resp resp;      /* outputs of this attempt; unprocessed is attempt-relative */
    dx_result res;     /* outcome; res.err == DX_OK on success */
    dx_arena *arena;   /* where outputs go (the call's arena) */
    void *be;          /* the backend engine that runs it */
    void *scratch;     /* free for the backend's use during the attempt */
    struct dx_attempt *next; /* engine-private */
} dx_attempt;

typedef struct dx_backend_vt {
    const char *name;
    /* Per-engine backend state (a curl multi handle, ...); NULL on OOM. */
    void *(*engine_new)(void *impl);
    /* Called with no attempt in flight. */
    void (*engine_free)(void *be);
    /* Starts an attempt; dx_attempt_done(a) follows, possibly before start returns. */
    void (*start)(void *be, dx_attempt *a);
    /*
     * Waits up to timeout_ms for I/O and completes finished attempts. Returns
     * the number of attempts still in flight in this backend engine.
     * Backends that complete inside start() return 0 at once.
     */
    size_t (*poll)(void *be, int timeout_ms);
    /* Frees the backend instance. */
    void (*impl_free)(void *impl);
} dx_backend_vt;

/* Creates the generic client around a backend instance; takes ownership of impl. */
dx_err dx_client_wrap_(const dx_backend_vt *vt, void *impl, const dx_client_opts *opts,
                       dx_client **out);
/* The backend instance of a client created by dx_client_wrap_. */
void *dx_client_impl_(const dx_client *c);
/* Called by the backend when an attempt is over. */
void dx_attempt_done(dx_attempt *a);

#endif
