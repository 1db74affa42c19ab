/*
 * dynox/error.h - one error enum for the whole library, and the result record
 * that carries the details of a failure.
 *
 * Every fallible function returns a dx_err (DX_OK == 0). Details go in a
 * caller-owned dx_result, never in a global: DynamoDB's own error type,
 * message, HTTP status and request id for server errors, and the field (and
 * for parse errors the byte offset) for input errors. Codes are append-only:
 * never renumber or reuse one, because scripts see them in reports.
 *
 * Must never: hold secrets. Messages are built from user data (attribute
 * names, values) and server text, never from credentials.
 */
#ifndef DYNOX_ERROR_H
#define DYNOX_ERROR_H

#include <stddef.h>

#include "util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(code, name, message). The name is DynamoDB's where one exists. */
#define DX_ERR_MAP(X)                                                                       \
    X(DX_OK, "OK", "success")                                                             \
    X(DX_ERR_NOMEM, "OutOfMemory", "out of memory")                                       \
    X(DX_ERR_INVALID_ARG, "InvalidArgument", "invalid argument to a dynox function")      \
    X(DX_ERR_VALIDATION, "ValidationException", "the request or the item is not valid")   \
    X(DX_ERR_RESOURCE_NOT_FOUND, "ResourceNotFoundException",                             \
      "the table does not exist")                                                         \
    X(DX_ERR_THROUGHPUT, "ProvisionedThroughputExceededException",                        \
      "throughput exceeded: the request was throttled")                                   \
    X(DX_ERR_CONDITIONAL, "ConditionalCheckFailedException",                              \
      "the conditional request failed")                                                   \
    X(DX_ERR_ITEM_TOO_LARGE, "ItemTooLarge", "the item is larger than the size limit")    \
    X(DX_ERR_RESOURCE_IN_USE, "ResourceInUseException", "the table already exists or is busy") \
    X(DX_ERR_AUTH, "AuthError", "the request was not authorised (credentials or signature)") \
    X(DX_ERR_SERVER, "InternalServerError", "the server failed (5xx)")                    \
    X(DX_ERR_NETWORK, "NetworkError", "could not reach the endpoint or the connection broke") \
    X(DX_ERR_TIMEOUT, "Timeout", "the request timed out")                                 \
    X(DX_ERR_CRC32, "Crc32Mismatch", "the response failed its CRC32 check")              \
    X(DX_ERR_PROTOCOL, "ProtocolError", "the response could not be understood")           \
    X(DX_ERR_CONFIG, "ConfigError", "configuration is missing or invalid")                \
    X(DX_ERR_IO, "IOError", "a file could not be read or written")                        \
    X(DX_ERR_PARSE, "ParseError", "the input could not be parsed")                        \
    X(DX_ERR_UNSUPPORTED, "Unsupported", "the operation is not supported by this backend") \
    X(DX_ERR_HOOK, "HookError", "a hook stopped the operation")                           \
    X(DX_ERR_CANCELLED, "Cancelled", "the operation was cancelled")                       \
    X(DX_ERR_LIMIT, "LimitExceededException", "a service limit was exceeded")             \
    X(DX_ERR_TRANSACTION_CONFLICT, "TransactionConflictException",                        \
      "a transaction was in progress on the item")                                        \
    X(DX_ERR_UNKNOWN, "UnknownError", "the server returned an error dynox does not know")

typedef enum dx_err {
#define DX_ERR_ENUM_(code, name, msg) code,
    DX_ERR_MAP(DX_ERR_ENUM_)
#undef DX_ERR_ENUM_
        DX_ERR__COUNT
} dx_err;

/* Static human message for a code; never NULL (unknown codes give "unknown error"). */
const char *dx_strerror(dx_err e);
/* Static stable name for a code, e.g. "ConditionalCheckFailedException". */
const char *dx_err_name(dx_err e);

/*
 * The details of the last failure of a call. Caller-owned; zero-initialise it
 * (or dx_result_clear) before a call. Fixed-size so filling it never fails.
 */
typedef struct dx_result {
    dx_err err;
    int http_status;      /* 0 when no HTTP exchange happened */
    char type[64];        /* DynamoDB's error type, the text after '#' in __type */
    char message[512];    /* what was wrong, where, and what to do */
    char request_id[64];  /* x-amzn-RequestId of the failed response */
    char field[128];      /* for input errors: the attribute or field name */
    char reason[64];      /* throttles: DynamoDB's ThrottlingReasons reason when sent,
                             e.g. "TableWriteKeyRangeThroughputExceeded" (hot key) */
    long offset;          /* for parse errors: byte offset in the input, else -1 */
} dx_result;

void dx_result_clear(dx_result *r);

/*
 * Records an error: sets r->err = e, r->field (NULL leaves it empty) and a
 * printf-style message, truncated to fit. r may be NULL. Returns e, so that
 * `return dx_fail(r, DX_ERR_VALIDATION, "age", "not a number: %s", s);` works.
 */
dx_err dx_fail(dx_result *r, dx_err e, const char *field, const char *fmt, ...) DX_PRINTF(4, 5);
dx_err dx_vfail(dx_result *r, dx_err e, const char *field, const char *fmt, va_list ap);

/* true for the errors worth retrying with backoff: throughput, 5xx, network, timeout, CRC. */
int dx_err_retryable(dx_err e);

#ifdef __cplusplus
}
#endif
#endif
