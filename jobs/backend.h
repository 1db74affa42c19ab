/*
 * backend.h - the backend a job or a command talks to: the client a backend
 * section (spec.h, dxj_backend_spec) describes, and the seed files that give
 * a memory table its starting state.
 *
 * `dynox run` (the runner), the item and table commands and `dynox bench`
 * all build their client here, so that DynamoDB is found the same way
 * everywhere (dynox/creds.h: endpoint, region and profile from the backend
 * section first, then the environment and the shared config files, as the
 * AWS CLI does) and a seed file means the same thing everywhere.
 *
 * Usage:
 *
 *     dxj_backend_conn conn;
 *     if (dxj_backend_open(&conn, &spec->backend, spec->dry_run, NULL, r)) ...;
 *     conn.ddb.max_inflight = 256;               (tune the plain records if needed)
 *     dx_client *c;
 *     dx_err e = dxj_backend_client(&conn, &copts, &c, r);
 *     dxj_backend_close(&conn);                  (the client took the credentials)
 *     ...
 *     dx_client_free(c);
 *
 * Must never: print, or put a credential in a message or a description.
 */
#ifndef DYNOX_JOBS_BACKEND_H
#define DYNOX_JOBS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynox/dynox.h"
#include "spec.h"

/*
 * A backend section resolved into client options. A plain record: after
 * dxj_backend_open the caller may adjust mem and ddb (burst_ms, max_inflight,
 * timeouts) before making clients. Do not copy one: ddb's region and
 * endpoint point into env.
 */
typedef struct dxj_backend_conn {
    bool memory;     /* the memory backend (dry_run, or backend.type memory) */
    dx_mem_opts mem; /* memory: simulate_capacity when backend.simulate gives a wcu or rcu */
    /*
     * DynamoDB: endpoint, region and credentials resolved, insecure from the
     * spec. ddb.owns_provider is true after open: the next client made takes
     * the credential provider over (and the conn forgets it), so the conn can
     * be closed at once. Set it false to make several clients that share the
     * provider; then close the conn only after freeing them.
     */
    dx_ddb_opts ddb;
    dx_ddb_env env;  /* DynamoDB: the settings and where each came from (never a secret) */
} dxj_backend_conn;

/*
 * Resolves backend section b into *c: the memory backend when dry_run or
 * b->type is memory (nothing is resolved then), else DynamoDB from b's
 * endpoint, region and profile and from env (NULL: the process environment,
 * dx_env_process()). The credentials are fetched once here, so that a
 * missing source is reported now: DX_ERR_CONFIG naming every place looked,
 * DX_ERR_NETWORK / DX_ERR_TIMEOUT from a metadata service. On error *c holds
 * nothing to close (closing it is harmless). Not thread-safe against
 * setenv().
 */
dx_err dxj_backend_open(dxj_backend_conn *c, const dxj_backend_spec *b, bool dry_run,
                        const dx_env *env, dx_result *r);

/*
 * A new client for c with the generic client's options copts (retries, rate
 * limits; NULL: defaults): a fresh memory backend with no tables, or a
 * DynamoDB client (see ddb.owns_provider above). Errors: DX_ERR_CONFIG (a
 * malformed endpoint, no credentials), DX_ERR_NOMEM. *out is the caller's:
 * dx_client_free.
 */
dx_err dxj_backend_client(dxj_backend_conn *c, const dx_client_opts *copts, dx_client **out,
                          dx_result *r);

/*
 * Where c points, for -v and logs: "the memory backend", or "DynamoDB at
 * URL (region R from AWS_REGION; endpoint from the region)". Always
 * NUL-terminated (truncated to n).
 */
void dxj_backend_describe(const dxj_backend_conn *c, char *out, size_t n);

/* Frees the credential provider the conn still holds; zeroes *c. NULL is a no-op. */
void dxj_backend_close(dxj_backend_conn *c);

/*
 * Loads the seed file at path into `table` (which must exist): JSON lines of
 * DynamoDB JSON ({"id":{"S":"u1"}}) or export lines ({"Item":{...}}), plain
 * or zstd; "-" is standard input. Items are written with PutItem, up to 16 in
 * flight, so a later line replaces an earlier one with the same key. A seed is
 * the starting state of an experiment, and a partial one would mislead: the
 * first line that is not an item (DX_ERR_PARSE) or write that fails (its
 * error) stops the load with "seed file PATH, line N: why"; items of earlier
 * lines may have been written by then. *count (may be NULL) gets the number
 * of items written. Thread-safe as dx_client_call is.
 */
dx_err dxj_seed_load(dx_client *c, const char *table, const char *path, uint64_t *count,
                     dx_result *r);

/*
 * The write capacity units that loading the seed at path costs (each item as
 * a new item; a line that is not an item counts 1, dxj_seed_load reports
 * it). For a simulated table: capacity to save up so that seeding is not
 * throttled. DX_ERR_IO / DX_ERR_PARSE when the file cannot be read.
 */
dx_err dxj_seed_units(const char *path, double *units, dx_result *r);

#endif
