/*
 * dynox/ddb.h - the DynamoDB backend: a dx_client that speaks DynamoDB's
 * JSON 1.0 protocol over HTTP(S) to Amazon DynamoDB or any compatible
 * endpoint (dynalite, DynamoDB Local).
 *
 * Each attempt the engine starts becomes one signed POST / with
 * X-Amz-Target: DynamoDB_20120810.<Operation>, sent through the engine's
 * own asynchronous HTTP engine (dynox/http.h), so one thread keeps many
 * requests in flight. Responses are parsed straight into the call's arena;
 * errors keep DynamoDB's type, message, HTTP status and request id; the
 * x-amz-crc32 header is checked when present. Retries, batch re-drive and
 * rate limiting are the generic client's (dynox/client.h), not this
 * backend's.
 *
 * Configuration is explicit: dx_ddb_client_new never reads the environment.
 * dx_ddb_opts_from_env is the one call that does, resolving region,
 * endpoint and credentials the way the AWS CLI does (dynox/creds.h).
 *
 * Must never: put credentials (secret key, session token, signing key,
 * signature) in a message or a log.
 */
#ifndef DYNOX_DDB_H
#define DYNOX_DDB_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "creds.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dx_ddb_opts {
    /* "https://dynamodb.us-east-1.amazonaws.com", "http://127.0.0.1:8000".
     * NULL: the region's default https endpoint. */
    const char *endpoint_url;
    const char *region;          /* required: "us-east-1" */
    /*
     * Credentials: a provider, or else static keys. The provider is
     * borrowed (it must outlive the client) unless owns_provider is set, in
     * which case the client frees it, also when dx_ddb_client_new fails.
     */
    dx_creds_provider *provider;
    bool owns_provider;
    const char *access_key_id;   /* static credentials, copied */
    const char *secret_access_key;
    const char *session_token;   /* NULL for long-term keys */
    bool insecure;               /* no TLS verification: local test endpoints only (refused,
                                  * DX_ERR_CONFIG, for AWS hosts: *.amazonaws.com(.cn), *.api.aws) */
    uint32_t connect_timeout_ms; /* default 5000 */
    uint32_t timeout_ms;         /* per attempt, default 60000 */
    uint32_t max_idle_ms;        /* do not reuse connections idle longer (0: curl's 118 s) */
    uint32_t max_inflight;       /* HTTP transfers per engine at once (default 64; the
                                  * engine's own max_inflight limits attempts first) */
    /* The signing clock in seconds since the epoch (NULL: the system clock). For tests. */
    int64_t (*clock_s)(void *ud);
    void *clock_ud;
} dx_ddb_opts;

/*
 * Creates a DynamoDB client. o is copied (strings included); copts may be
 * NULL. Returns DX_OK; DX_ERR_CONFIG naming what is missing or malformed (no
 * region, a bad endpoint URL, no credentials, a half-given key pair);
 * DX_ERR_NOMEM. *out is owned by the caller: dx_client_free. Thread-safe.
 */
dx_err dx_ddb_client_new(const dx_ddb_opts *o, const dx_client_opts *copts, dx_client **out,
                         dx_result *r);

/* Storage for what dx_ddb_opts_from_env resolves. */
typedef struct dx_ddb_env {
    dx_aws_settings settings;    /* region, endpoint, and where each came from */
    dx_creds_provider *provider; /* handed to the options with owns_provider set */
} dx_ddb_env;

/*
 * Resolves region, endpoint and credentials from env (dx_env_process() in a
 * program) and aws (may be NULL) as the AWS CLI does, and points o at the
 * result: o->endpoint_url and o->region into *store, o->provider =
 * store->provider with o->owns_provider = true. Other fields of o are left
 * as they are. The credentials are fetched once now, so that a missing or
 * broken source is reported here (DX_ERR_CONFIG naming every place looked,
 * or DX_ERR_NETWORK / DX_ERR_TIMEOUT from a metadata service) rather than at
 * the first request. Returns DX_OK or the error, with nothing left to free.
 * When DX_OK and no client is created afterwards, free store->provider with
 * dx_creds_provider_free. Not thread-safe against setenv().
 */
dx_err dx_ddb_opts_from_env(dx_ddb_opts *o, dx_ddb_env *store, const dx_env *env,
                            const dx_aws_opts *aws, dx_result *r);

#ifdef __cplusplus
}
#endif
#endif
