/*
 * dynox/sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256, header form).
 *
 * Signing runs in stages, each a public function so each can be tested on
 * its own against the AWS test suite:
 *
 *   1. canonical request   dx_sigv4_canonical_request() (built from
 *                          dx_sigv4_canonical_uri/_query/_headers and the
 *                          payload hash, dx_sigv4_payload_hash())
 *   2. string to sign      dx_sigv4_string_to_sign() (scope: dx_sigv4_scope())
 *   3. signing key         dx_sigv4_signing_key()  HMAC chain over date, region,
 *                          service, "aws4_request"
 *   4. signature           dx_sigv4_signature()    hex HMAC of the string to sign
 *   5. Authorization value dx_sigv4_authorization()
 *
 * dx_sigv4_sign() runs all five, using a dx_sigv4_signer to cache the
 * signing key, and dx_sigv4_sign_dynamodb() builds and signs the exact
 * header set of a DynamoDB JSON 1.0 request, which is what the HTTP backend
 * sends.
 *
 * Time: nothing here reads the clock. The caller passes the request time as
 * an X-Amz-Date string ("20150830T123600Z", UTC); dx_sigv4_amzdate() formats
 * one from seconds since the epoch.
 *
 * Secrets: the secret key and the derived signing key are secrets. Copies
 * made here are wiped (dx_memwipe) before their memory is released, and no
 * error message ever contains the secret key, the session token, a signing
 * key or a signature. The access key id is not a secret but is not put in
 * messages either.
 *
 * Strings: every dx_str input is a view (need not be NUL-terminated); every
 * const char * input is NUL-terminated. Outputs are caller-owned dx_bufs
 * (zero-initialised is fine) that the functions clear and refill, so a
 * caller that keeps its buffers between requests allocates nothing per
 * request once they have grown.
 *
 * Hashing: SHA-256 is looked up in OpenSSL once per process, and each thread
 * that signs keeps one digest context (freed when the thread exits), so no
 * call pays for an algorithm lookup; every function stays thread-safe.
 *
 * Must never: read the clock or the environment, print, or leave secret
 * material in memory it frees.
 */
#ifndef DYNOX_SIGV4_H
#define DYNOX_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DX_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define DX_SIGV4_AMZDATE_LEN 16 /* strlen("20150830T123600Z") */
#define DX_SIGV4_HEX_LEN 64     /* a hex SHA-256 or signature, without the NUL */
#define DX_SIGV4_KEY_LEN 32     /* a derived signing key, raw bytes */

/* DynamoDB's JSON 1.0 protocol. */
#define DX_SIGV4_DDB_SERVICE "dynamodb"
#define DX_SIGV4_DDB_CONTENT_TYPE "application/x-amz-json-1.0"

/*
 * Credentials as the signer needs them: non-owning, NUL-terminated.
 * session_token is NULL (or "") for long-term credentials.
 * (creds.h's dx_creds snapshot gives one with dx_creds_sigv4().)
 */
typedef struct dx_sigv4_creds {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
} dx_sigv4_creds;

/* One request header, name and value as sent (any case, untrimmed). */
typedef struct dx_sigv4_header {
    dx_str name;
    dx_str value;
} dx_sigv4_header;

/* Flags for dx_sigv4_request.flags and dx_sigv4_canonical_uri(). Zero is right for
 * every service except S3. */
enum {
    /* Do not remove "." / ".." segments or collapse "//" (S3 signs the path as is). */
    DX_SIGV4_NO_NORMALIZE_PATH = 1u << 0,
    /* Do not percent-encode the path again (S3 signs the sent path, encoded once). */
    DX_SIGV4_NO_ENCODE_PATH = 1u << 1,
    /* dx_sigv4_sign_dynamodb(): also send and sign Content-Length. */
    DX_SIGV4_SIGN_CONTENT_LENGTH = 1u << 2
};

/*
 * A request to sign. Nothing is copied; the pointers must stay valid for the call.
 *
 * path is the path exactly as it goes on the wire (already percent-encoded
 * as the HTTP request carries it, or raw bytes as in the AWS test suite);
 * every byte outside the unreserved set and '/' is percent-encoded once more
 * when signing, which is the "double encoding" AWS expects from every
 * service but S3. An empty path means "/". DynamoDB always uses "/".
 *
 * query is the text after '?', without the '?' (empty for none). Parameters
 * are percent-decoded, re-encoded in AWS's strict form and sorted, so an
 * already-encoded and a raw query sign the same.
 *
 * headers are the headers to sign, exactly as they will be sent; Host must be
 * among them, and X-Amz-Date (equal to the amzdate passed in) should be.
 * Names are compared case-insensitively; repeated names are joined with ','
 * in the order given.
 *
 * payload_hash: NULL to hash payload here; otherwise the 64 lower-case hex
 * digits of its SHA-256 (as sent in x-amz-content-sha256), or a literal such as
 * "UNSIGNED-PAYLOAD", used as is.
 */
typedef struct dx_sigv4_request {
    const char *method; /* "POST", "GET", ... as sent */
    dx_str path;
    dx_str query;
    const dx_sigv4_header *headers;
    size_t nheaders;
    dx_str payload;
    const char *payload_hash;
    unsigned flags; /* DX_SIGV4_NO_NORMALIZE_PATH | DX_SIGV4_NO_ENCODE_PATH */
} dx_sigv4_request;

/* ---- Time ---- */

/*
 * Formats seconds since the epoch (UTC) as an X-Amz-Date, "YYYYMMDDTHHMMSSZ",
 * into out (DX_SIGV4_AMZDATE_LEN + 1 bytes). Returns DX_ERR_INVALID_ARG for a
 * time outside years 1970-9999. Thread-safe.
 */
dx_err dx_sigv4_amzdate(int64_t epoch_s, char out[DX_SIGV4_AMZDATE_LEN + 1]);

/* true when s is a well-formed X-Amz-Date ("YYYYMMDDTHHMMSSZ", digits where digits go). */
bool dx_sigv4_amzdate_valid(const char *s);

/* ---- Stage 1: canonical request ---- */

/*
 * Replaces out's contents with the canonical URI of path (see
 * dx_sigv4_request): dot segments removed and "//" collapsed unless
 * DX_SIGV4_NO_NORMALIZE_PATH, then every byte but A-Z a-z 0-9 - _ . ~ and '/'
 * written as %XX (upper-case hex) unless DX_SIGV4_NO_ENCODE_PATH. A trailing
 * '/' is kept. Returns DX_OK or DX_ERR_NOMEM. Thread-safe.
 */
dx_err dx_sigv4_canonical_uri(dx_str path, unsigned flags, dx_buf *out, dx_result *r);

/*
 * Replaces out's contents with the canonical query string of query (the text
 * after '?'): parameters split on '&' (empty ones dropped), names and values
 * percent-decoded then encoded with only A-Z a-z 0-9 - _ . ~ left bare, a
 * parameter without '=' given an empty value, sorted by encoded name then
 * encoded value (bytewise), joined with '&'. Returns DX_OK or DX_ERR_NOMEM.
 * Thread-safe.
 */
dx_err dx_sigv4_canonical_query(dx_str query, dx_buf *out, dx_result *r);

/*
 * Replaces canon's contents with the canonical headers block ("name:value\n"
 * per distinct name: names lower-cased and sorted bytewise, values trimmed and
 * every run of spaces, tabs, CR or LF collapsed to one space, values of a
 * repeated name joined with ',' in the order given) and signed's contents with
 * the signed-headers list ("host;x-amz-date"). Returns DX_ERR_INVALID_ARG for
 * an empty header name or one with a ':' or whitespace in it, DX_ERR_NOMEM.
 * Thread-safe.
 */
dx_err dx_sigv4_canonical_headers(const dx_sigv4_header *headers, size_t n, dx_buf *canon,
                                  dx_buf *signed_headers, dx_result *r);

/*
 * Writes the lower-case hex SHA-256 of payload into out (65 bytes with the
 * NUL). Returns DX_OK, or DX_ERR_NOMEM when OpenSSL fails. Thread-safe.
 */
dx_err dx_sigv4_payload_hash(dx_str payload, char out[DX_SIGV4_HEX_LEN + 1]);

/*
 * Replaces out's contents with the canonical request of req:
 *   METHOD \n canonical URI \n canonical query \n canonical headers \n
 *   signed headers \n payload hash
 * and signed_headers' contents with the signed-headers list. payload_hash is
 * the hash to use (NULL: req->payload_hash, else the SHA-256 of req->payload).
 * Exactly req->headers are signed. Returns DX_OK, DX_ERR_INVALID_ARG (no
 * method, no Host header, a malformed header name), DX_ERR_NOMEM. Thread-safe.
 */
dx_err dx_sigv4_canonical_request(const dx_sigv4_request *req, const char *payload_hash,
                                  dx_buf *out, dx_buf *signed_headers, dx_result *r);

/* ---- Stage 2: string to sign ---- */

/*
 * Replaces out's contents with the credential scope,
 * "YYYYMMDD/region/service/aws4_request", the date taken from amzdate.
 * Returns DX_ERR_INVALID_ARG for a malformed amzdate or an empty region or
 * service or one containing '/' or whitespace. Thread-safe.
 */
dx_err dx_sigv4_scope(const char *amzdate, const char *region, const char *service, dx_buf *out,
                      dx_result *r);

/*
 * Replaces out's contents with the string to sign:
 *   AWS4-HMAC-SHA256 \n amzdate \n scope \n hex(SHA-256(canonical_request))
 * Errors as dx_sigv4_scope(), DX_ERR_NOMEM. Thread-safe.
 */
dx_err dx_sigv4_string_to_sign(const char *amzdate, const char *region, const char *service,
                               dx_str canonical_request, dx_buf *out, dx_result *r);

/* ---- Stage 3: signing key ---- */

/*
 * Derives the signing key HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region),
 * service), "aws4_request") into key. amzdate is the request's X-Amz-Date
 * (only its date part is used; a bare "YYYYMMDD" is accepted too). Every
 * intermediate is wiped. Returns DX_ERR_INVALID_ARG (empty secret, malformed
 * date, bad region or service), DX_ERR_NOMEM. Thread-safe. The key is a
 * secret: wipe it (dx_memwipe) when done.
 */
dx_err dx_sigv4_signing_key(const char *secret_access_key, const char *amzdate, const char *region,
                            const char *service, unsigned char key[DX_SIGV4_KEY_LEN],
                            dx_result *r);

/* ---- Stage 4: signature ---- */

/*
 * Writes hex(HMAC-SHA256(key, string_to_sign)) into out (65 bytes with the NUL).
 * Returns DX_OK or DX_ERR_NOMEM. Thread-safe.
 */
dx_err dx_sigv4_signature(const unsigned char key[DX_SIGV4_KEY_LEN], dx_str string_to_sign,
                          char out[DX_SIGV4_HEX_LEN + 1]);

/* ---- Stage 5: Authorization header value ---- */

/*
 * Replaces out's contents with the Authorization header's value:
 *   AWS4-HMAC-SHA256 Credential=<akid>/<scope>, SignedHeaders=<list>, Signature=<hex>
 * Returns DX_ERR_INVALID_ARG (empty access key id or one with '/', ',', or
 * whitespace; errors of dx_sigv4_scope()), DX_ERR_NOMEM. Thread-safe.
 */
dx_err dx_sigv4_authorization(const char *access_key_id, const char *amzdate, const char *region,
                              const char *service, const char *signed_headers,
                              const char *signature, dx_buf *out, dx_result *r);

/* ---- All stages, with a cached signing key ---- */

/*
 * A signer caches derived signing keys, keyed by (access key id, secret,
 * date, region, service); the secret takes part only as its SHA-256, so a
 * rotated secret never reuses a stale key. A few entries are kept (least
 * recently used goes first), enough for a date change at midnight and a
 * handful of regions or credential sets.
 *
 * Thread-safe: one signer may be shared by every thread. A mutex guards the
 * cache and is held only to look up or store a 32-byte key, never while
 * hashing or signing.
 */
typedef struct dx_sigv4_signer dx_sigv4_signer;

/* Returns a new signer, or NULL when out of memory. Free with dx_sigv4_signer_free. */
dx_sigv4_signer *dx_sigv4_signer_new(void);
/* Wipes every cached key and frees the signer. NULL is a no-op. Not while in use. */
void dx_sigv4_signer_free(dx_sigv4_signer *s);

/* Cache counters, for tests and statistics. Thread-safe. */
typedef struct dx_sigv4_signer_stats {
    uint64_t hits;    /* signing keys served from the cache */
    uint64_t derives; /* signing keys derived (cache misses) */
} dx_sigv4_signer_stats;
dx_sigv4_signer_stats dx_sigv4_signer_stats_get(dx_sigv4_signer *s);

/*
 * Everything signing produced. Zero-initialise once and reuse between calls
 * (the buffers are cleared and refilled); free with dx_sigv4_output_free.
 * Not thread-safe: one per thread or per request.
 */
typedef struct dx_sigv4_output {
    dx_buf canonical_request;
    dx_buf string_to_sign;
    dx_buf signed_headers;
    dx_buf authorization; /* the value of the Authorization header to send */
    char signature[DX_SIGV4_HEX_LEN + 1];
    /* true when creds carried a session token that req->headers lacked: it was
     * signed as an x-amz-security-token header, and the caller must send
     * `X-Amz-Security-Token: <token>` with the request. */
    bool token_added;
} dx_sigv4_output;

/* Wipes and frees the buffers; out is zeroed and reusable. NULL is a no-op. */
void dx_sigv4_output_free(dx_sigv4_output *out);

/*
 * Signs req: runs the five stages with the given credentials, region, service
 * and request time, and fills out. The signing key comes from s's cache (s
 * may be NULL: derived each time, nothing cached).
 *
 * Session token: when creds->session_token is non-empty and req->headers has
 * no X-Amz-Security-Token, the token is signed as that header and
 * out->token_added is set (the caller must send it). A token header already
 * in req->headers is signed as given.
 *
 * Returns DX_OK; DX_ERR_INVALID_ARG with a message (missing access key id or
 * secret, malformed amzdate, no Host header, ...); DX_ERR_NOMEM. Messages never
 * contain secrets. Thread-safe when each thread has its own out.
 */
dx_err dx_sigv4_sign(dx_sigv4_signer *s, const dx_sigv4_creds *creds, const char *region,
                     const char *service, const char *amzdate, const dx_sigv4_request *req,
                     dx_sigv4_output *out, dx_result *r);

/* ---- DynamoDB ---- */

/* A DynamoDB JSON 1.0 request: always POST "/" with an empty query. */
typedef struct dx_sigv4_ddb_request {
    const char *host;    /* Host header value: "dynamodb.us-east-1.amazonaws.com", or
                          * "127.0.0.1:8000" (with ":port" only when it is not the
                          * scheme's default; creds.h's dx_endpoint.host_header) */
    const char *target;  /* X-Amz-Target: "DynamoDB_20120810.PutItem" */
    dx_str body;         /* the exact bytes that will be sent */
    const char *amzdate; /* request time, "YYYYMMDDTHHMMSSZ" */
    const char *region;  /* "us-east-1" */
    const dx_sigv4_creds *creds;
    unsigned flags;      /* DX_SIGV4_SIGN_CONTENT_LENGTH */
} dx_sigv4_ddb_request;

#define DX_SIGV4_DDB_MAX_HEADERS 8

/*
 * The headers to send with a DynamoDB request, in this order:
 *   Host, X-Amz-Date, X-Amz-Target, Content-Type, [Content-Length],
 *   [X-Amz-Security-Token], Authorization
 * Every one of them is signed except Authorization. h[i].line is
 * "Name: value", ready for curl_slist_append(); passing all the lines to
 * CURLOPT_HTTPHEADER replaces curl's own Host and Content-Type, so what is
 * sent is exactly what was signed. (Headers curl adds on its own, such as
 * Accept or Content-Length, are unsigned and harmless; add "Expect:" to stop
 * 100-continue.)
 *
 * Zero-initialise once, reuse between requests, free with
 * dx_sigv4_headers_free (which wipes: the lines hold the session token).
 * Pointers stay valid until the next dx_sigv4_sign_dynamodb on the same
 * struct or the free. Not thread-safe: one per thread or per request.
 */
typedef struct dx_sigv4_headers {
    size_t count;
    struct {
        const char *name;  /* "X-Amz-Date" */
        const char *value; /* "20150830T123600Z" */
        const char *line;  /* "X-Amz-Date: 20150830T123600Z" */
    } h[DX_SIGV4_DDB_MAX_HEADERS];
    dx_sigv4_output out; /* the stages' intermediates, for debugging and tests */
    dx_buf text_;        /* private: storage the pointers point into */
} dx_sigv4_headers;

/*
 * Builds and signs the header set of a DynamoDB request (service
 * "dynamodb", POST, path "/", Content-Type application/x-amz-json-1.0) into
 * out; the signing key comes from s's cache (s may be NULL). Returns DX_OK;
 * DX_ERR_INVALID_ARG naming the missing or malformed field (host, target,
 * amzdate, region, credentials; a CR or LF in any header value);
 * DX_ERR_NOMEM. Messages never contain secrets. Thread-safe when each thread
 * has its own out.
 */
dx_err dx_sigv4_sign_dynamodb(dx_sigv4_signer *s, const dx_sigv4_ddb_request *req,
                              dx_sigv4_headers *out, dx_result *r);

/* Wipes and frees out's storage; out is zeroed and reusable. NULL is a no-op. */
void dx_sigv4_headers_free(dx_sigv4_headers *out);

/* Looks up a header of out by name (case-insensitive); its value or NULL. */
const char *dx_sigv4_headers_get(const dx_sigv4_headers *out, const char *name);

#ifdef __cplusplus
}
#endif
#endif
