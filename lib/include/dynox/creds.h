/*
 * dynox/creds.h - AWS credentials, region and endpoint, resolved the way the
 * AWS CLI resolves them.
 *
 * Credentials, first that answers wins:
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *      (skipped when a profile is named explicitly in dx_aws_opts.profile, as
 *      `aws --profile x` does; AWS_PROFILE does not skip it)
 *   2. the profile (dx_aws_opts.profile, else AWS_PROFILE, else "default") in
 *      the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
 *      ~/.aws/credentials; sections "[name]"), then in the config file
 *      (AWS_CONFIG_FILE, else ~/.aws/config; sections "[profile name]" and
 *      "[default]")
 *   3. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI against
 *      http://169.254.170.2, or AWS_CONTAINER_CREDENTIALS_FULL_URI (plain http
 *      only to a loopback or the ECS/EKS link-local addresses), with
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read at every refresh) or
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN as the Authorization header
 *   4. EC2 instance metadata, IMDSv2: PUT /latest/api/token, then GET
 *      /latest/meta-data/iam/security-credentials/ and .../<role>, with
 *      short timeouts; AWS_EC2_METADATA_DISABLED=true skips it,
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT replaces http://169.254.169.254,
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 selects [fd00:ec2::254].
 *      When the token PUT is refused with 404/405 the IMDSv1 GETs are tried
 *      unless AWS_EC2_METADATA_V1_DISABLED=true.
 * Credentials from 3 and 4 expire; the provider refreshes them ahead of
 * time from the same source.
 *
 * Region: dx_aws_opts.region, AWS_REGION, AWS_DEFAULT_REGION, the profile's
 * `region` in the config file.
 * Endpoint: dx_aws_opts.endpoint_url, AWS_ENDPOINT_URL_DYNAMODB,
 * AWS_ENDPOINT_URL, the profile's `services` section (`dynamodb =` then an
 * indented `endpoint_url =`), the profile's `endpoint_url`, else
 * https://dynamodb.<region>.amazonaws.com. AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
 * =true (or the profile's ignore_configured_endpoint_urls = true) ignores all
 * but dx_aws_opts.endpoint_url.
 *
 * Environment: read only through the dx_env passed in, and only inside
 * dx_aws_resolve() and dx_creds_provider_new() (which copies what it needs),
 * never behind the caller's back. A program passes dx_env_process(); tests
 * pass a fake.
 *
 * Secrets: secret keys and session tokens are never put in an error message;
 * every buffer that held one (file contents, HTTP bodies, copies) is wiped
 * before it is freed. (libcurl's own receive buffers are outside our reach.)
 *
 * Must never: print, call getenv() other than in dx_env_process()'s callback,
 * or block for long: every network step has a timeout of about a second.
 */
#ifndef DYNOX_CREDS_H
#define DYNOX_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sigv4.h"
#include "util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Environment ---- */

/* Returns name's value, or NULL when it is unset. The string must stay valid
 * until the call that was given the dx_env returns. */
typedef const char *(*dx_getenv_fn)(void *ud, const char *name);

typedef struct dx_env {
    dx_getenv_fn get;
    void *ud;
} dx_env;

/* A dx_env reading the process environment (getenv). For programs (cmd/):
 * the library itself never calls this. Not thread-safe against setenv(). */
dx_env dx_env_process(void);

/* ---- Options shared by the resolvers ---- */

typedef struct dx_aws_opts {
    const char *profile;      /* NULL: AWS_PROFILE, else "default"; non-NULL is an
                               * explicit choice: env credentials are skipped and a
                               * profile found in neither file is an error */
    const char *region;       /* NULL: resolve (--region) */
    const char *endpoint_url; /* NULL: resolve (--endpoint-url) */
    uint32_t metadata_timeout_ms; /* per HTTP request to container/IMDS (0: 1000) */
    uint32_t metadata_attempts;   /* attempts per HTTP request (0: 1) */
    uint32_t refresh_margin_ms;   /* refresh this long before expiry (0: 5 minutes) */
    uint32_t retry_after_ms;      /* after a failed early refresh, keep the current
                                   * credentials and retry no sooner (0: 10 s) */
    /* Wall clock in ms since the epoch (NULL: dx_wall_ms). Tests inject one. */
    uint64_t (*clock_ms)(void *ud);
    void *clock_ud;
    /* For tests: replaces "http://169.254.170.2" as the base of
     * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI. NULL in real use. */
    const char *container_base_url;
} dx_aws_opts;

/* ---- Endpoint ---- */

typedef struct dx_endpoint {
    char url[512];         /* normalised, no trailing '/': "https://dynamodb.us-east-1.amazonaws.com" */
    char scheme[8];        /* "https" or "http" */
    char host[256];        /* "dynamodb.us-east-1.amazonaws.com", "127.0.0.1", "::1" (no []) */
    uint16_t port;         /* explicit or the scheme's default (443, 80) */
    char host_header[272]; /* the Host header to send and sign: host ("[::1]" for IPv6)
                            * plus ":port" only when it is not the scheme's default */
    char path[256];        /* the URL's path, "/" when it has none */
} dx_endpoint;

/*
 * Parses an http(s) URL ("http://127.0.0.1:8000", "https://h/") into out.
 * Returns DX_ERR_CONFIG naming the URL and what is wrong (scheme not http or
 * https, no host, bad port, user info, query or fragment present, too long).
 * Thread-safe.
 */
dx_err dx_endpoint_parse(const char *url, dx_endpoint *out, dx_result *r);

/* ---- Region and endpoint ---- */

typedef struct dx_aws_settings {
    char profile[128];       /* the profile in effect */
    char region[64];         /* "us-east-1" */
    char region_from[320];   /* "AWS_REGION", "profile 'x' in /root/.aws/config", ... */
    dx_endpoint endpoint;
    char endpoint_from[320]; /* "AWS_ENDPOINT_URL_DYNAMODB", "default for the region", ... */
} dx_aws_settings;

/*
 * Resolves the profile, region and DynamoDB endpoint (see the file comment)
 * from env (may be NULL: an empty environment) and opt (NULL: defaults) into
 * out. Reads the config file. Returns DX_OK; DX_ERR_CONFIG when no region is
 * found, naming every place looked ("no region: looked in AWS_REGION,
 * AWS_DEFAULT_REGION, profile 'x' in /root/.aws/config; ..."), when an
 * explicit profile does not exist, or when an endpoint URL is malformed;
 * DX_ERR_IO when a file exists but cannot be read; DX_ERR_NOMEM. Thread-safe.
 */
/* DynamoDB's endpoint for a region: https://dynamodb.<region>.amazonaws.com, with .cn
 * for the China regions (cn-*). */
void dx_aws_default_endpoint(const char *region, char *url, size_t n);

dx_err dx_aws_resolve(const dx_env *env, const dx_aws_opts *opt, dx_aws_settings *out,
                      dx_result *r);

/* ---- Credentials ---- */

/*
 * A credentials snapshot: immutable and reference-counted, so a thread can
 * keep using one while the provider installs a newer one. Strings are owned
 * by the snapshot; the secret and token are wiped when the last reference
 * goes.
 */
typedef struct dx_creds {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL for long-term credentials */
    int64_t expiration_ms;     /* wall clock, ms since the epoch; 0: does not expire */
    const char *source;        /* where they came from: "environment",
                                * "shared credentials file", "config file",
                                * "container", "instance metadata", "static" */
} dx_creds;

/* New snapshot holding copies of the strings (token may be NULL or ""). NULL when
 * out of memory or when access_key_id or secret is NULL or empty. Thread-safe. */
dx_creds *dx_creds_new(const char *access_key_id, const char *secret_access_key,
                       const char *session_token, int64_t expiration_ms);
/* Adds a reference; returns c. Thread-safe (atomic). */
dx_creds *dx_creds_ref(dx_creds *c);
/* Drops a reference; the last one wipes and frees. NULL is a no-op. Thread-safe. */
void dx_creds_release(dx_creds *c);
/* The view dx_sigv4_sign() takes; valid while the caller holds c. */
dx_sigv4_creds dx_creds_sigv4(const dx_creds *c);

/*
 * A provider hands out current credentials. Thread-safe: share one among all
 * threads. Inside, a mutex guards the current snapshot; a refresh runs
 * outside the lock in one thread while the others keep using the current
 * snapshot, and only wait when they have none that is still valid.
 */
typedef struct dx_creds_provider dx_creds_provider;

/*
 * Creates a provider for the chain in the file comment. Copies every
 * environment variable the chain may need from env (may be NULL) now, and
 * reads nothing from env later; opt (may be NULL) is copied too. Resolution
 * happens at the first dx_creds_provider_get. Returns DX_OK or DX_ERR_NOMEM.
 * *out is owned by the caller: dx_creds_provider_free.
 */
dx_err dx_creds_provider_new(const dx_env *env, const dx_aws_opts *opt, dx_creds_provider **out,
                             dx_result *r);

/* A provider that always hands out these credentials (tests, local endpoints). */
dx_err dx_creds_provider_new_static(const char *access_key_id, const char *secret_access_key,
                                    const char *session_token, dx_creds_provider **out,
                                    dx_result *r);

/*
 * Returns in *out a reference to credentials valid now (release it with
 * dx_creds_release). Resolves the chain on first use and whenever the
 * current credentials are within refresh_margin_ms of expiring. When an
 * early refresh fails but the current credentials have not expired yet, they
 * are returned and the refresh is retried after retry_after_ms. Returns DX_OK;
 * DX_ERR_CONFIG naming every place looked when no source has credentials
 * ("no credentials: looked in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (not
 * set), profile 'default' in /root/.aws/credentials (no such file) and
 * /root/.aws/config (no such file), container credentials (not configured),
 * EC2 instance metadata (disabled)"), or when a source is misconfigured
 * (partial keys, unsupported profile kinds such as role_arn, bad container
 * URL); DX_ERR_NETWORK / DX_ERR_TIMEOUT / DX_ERR_PROTOCOL when the source
 * that was chosen failed; DX_ERR_NOMEM. Thread-safe.
 */
dx_err dx_creds_provider_get(dx_creds_provider *p, dx_creds **out, dx_result *r);

/* Forces the next dx_creds_provider_get to resolve again (e.g. after the
 * server said ExpiredTokenException). Thread-safe. */
void dx_creds_provider_invalidate(dx_creds_provider *p);

/* Frees the provider and drops its reference to the current snapshot. NULL is
 * a no-op. No other thread may be using it. */
void dx_creds_provider_free(dx_creds_provider *p);

#ifdef __cplusplus
}
#endif
#endif
