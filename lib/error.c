/*
 * error.c - names and messages for dx_err, and filling a dx_result.
 *
 * The tables are generated from DX_ERR_MAP so that a code, its name and its
 * message can never drift apart.
 *
 * Must never: allocate (errors are reported when memory is gone, too).
 */
#include "dynox/error.h"

#include <stdio.h>
#include <string.h>

static const char *const names[] = {
#define X(code, name, msg) [code] = name,
    DX_ERR_MAP(X)
#undef X
};

static const char *const messages[] = {
#define X(code, name, msg) [code] = msg,
    DX_ERR_MAP(X)
#undef X
};

const char *dx_strerror(dx_err e) {
    if ((unsigned)e >= DX_ERR__COUNT) return "unknown error";
    return messages[e];
}

const char *dx_err_name(dx_err e) {
    if ((unsigned)e >= DX_ERR__COUNT) return "UnknownError";
    return names[e];
}

void dx_result_clear(dx_result *r) {
    if (!r) return;
    r->err = DX_OK;
    r->http_status = 0;
    r->type[0] = r->message[0] = r->request_id[0] = r->field[0] = r->reason[0] = 0;
    r->offset = -1;
}

dx_err dx_vfail(dx_result *r, dx_err e, const char *field, const char *fmt, va_list ap) {
    if (!r) return e;
    r->err = e;
    if (field) {
        snprintf(r->field, sizeof r->field, "%s", field);
    } else {
        r->field[0] = 0;
    }
    if (fmt) {
        vsnprintf(r->message, sizeof r->message, fmt, ap);
    } else {
        snprintf(r->message, sizeof r->message, "%s", dx_strerror(e));
    }
    return e;
}

dx_err dx_fail(dx_result *r, dx_err e, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    dx_vfail(r, e, field, fmt, ap);
    va_end(ap);
    return e;
}

int dx_err_retryable(dx_err e) {
    switch (e) {
    case DX_ERR_THROUGHPUT:
    case DX_ERR_SERVER:
    case DX_ERR_NETWORK:
    case DX_ERR_TIMEOUT:
    case DX_ERR_CRC32:
    case DX_ERR_LIMIT:
    case DX_ERR_TRANSACTION_CONFLICT:
        return 1;
    case DX_OK:
    case DX_ERR_NOMEM:
    case DX_ERR_INVALID_ARG:
    case DX_ERR_VALIDATION:
    case DX_ERR_RESOURCE_NOT_FOUND:
    case DX_ERR_CONDITIONAL:
    case DX_ERR_ITEM_TOO_LARGE:
    case DX_ERR_RESOURCE_IN_USE:
    case DX_ERR_AUTH:
    case DX_ERR_PROTOCOL:
    case DX_ERR_CONFIG:
    case DX_ERR_IO:
    case DX_ERR_PARSE:
    case DX_ERR_UNSUPPORTED:
    case DX_ERR_HOOK:
    case DX_ERR_CANCELLED:
    case DX_ERR_UNKNOWN:
    case DX_ERR__COUNT:
        return 0;
    }
    return 0;
}
