/*
 * ddb.c - the DynamoDB backend: one attempt = one signed JSON 1.0 request.
 *
 * DESIGN
 * The backend instance (struct ddb) is shared by every thread and read-only
 * after creation: endpoint, region, the credentials provider and the SigV4
 * signer (both thread-safe themselves). Each engine gets a backend engine
 * (struct ddb_engine) with its own HTTP engine and a pool of attempt
 * contexts; a context holds what must live while the request is on the wire
 * (the body, the signed header lines, the credentials snapshot that signed
 * it) and a scratch arena, and is reused, so a steady stream of requests
 * allocates little beyond the call's own arena.
 *
 * An attempt runs in four stages, each a function the tests call directly
 * (ddb_internal.h): dx_ddb_encode builds the body; start() reads the clock,
 * gets credentials and signs (the signer never reads the clock); the HTTP
 * engine sends it; on completion the CRC32 of the body is checked against
 * x-amz-crc32, then dx_ddb_parse (2xx) or dx_ddb_error_from_body (other
 * statuses) fills the attempt's resp/res and dx_attempt_done hands it back.
 * Completions only happen inside poll(), or inside start() when the request
 * could not even be sent. What does not change per request is made once:
 * the X-Amz-Target strings per client, the X-Amz-Date per second per engine.
 *
 * Batch responses name unprocessed entries by value, not position: each
 * entry of UnprocessedItems / UnprocessedKeys is matched to the first unused
 * request entry that is deeply equal to it (dx_value_equal: numbers compare
 * numerically, maps regardless of order), so the engine gets
 * attempt-relative indices and re-drives exactly those.
 *
 * Must never: retry (the engine does), read the environment outside
 * dx_ddb_opts_from_env, or let a secret into a message: error messages from
 * the server are scrubbed of the access key id, secret key and session token
 * that signed the request, and nothing else here quotes credentials.
 */
#include "ddb_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend_internal.h"
#include "dynox/codec.h"
#include "dynox/http.h"
#include "dynox/sigv4.h"

#define TARGET_PREFIX "DynamoDB_20120810."

/* ================================================================ CRC32 */

static uint32_t crc_tab[4][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 4; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

uint32_t dx_ddb_crc32(uint32_t crc, const void *p, size_t n) {
    pthread_once(&crc_once, crc_init);
    const unsigned char *s = p;
    uint32_t c = ~crc;
    while (n >= 4) { /* slice-by-4 */
        c ^= (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
        c = crc_tab[3][c & 0xff] ^ crc_tab[2][(c >> 8) & 0xff] ^ crc_tab[1][(c >> 16) & 0xff] ^
            crc_tab[0][c >> 24];
        s += 4;
        n -= 4;
    }
    while (n--) c = crc_tab[0][(c ^ *s++) & 0xff] ^ (c >> 8);
    return ~c;
}

/* ================================================================ encode */

/* Writes `"key":` after a comma unless it is the object's first member. */
static bool key(dx_buf *b, bool *first, const char *k) {
    if (!*first && !dx_buf_putc(b, ',')) return false;
    *first = false;
    return dx_buf_put_json_str(b, k, strlen(k)) && dx_buf_putc(b, ':');
}

static bool kstr(dx_buf *b, bool *first, const char *k, const char *v) {
    return key(b, first, k) && dx_buf_put_json_str(b, v, strlen(v));
}

static dx_err nomem(dx_result *r) {
    return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory encoding a DynamoDB request");
}

/* An item-shaped value (M) as DynamoDB JSON, under key k. */
static dx_err kitem(dx_buf *b, bool *first, const char *k, const dx_value *v, dx_result *r) {
    if (!key(b, first, k)) return nomem(r);
    dx_err e = dx_encode_item(b, v);
    if (e == DX_ERR_NOMEM) return nomem(r);
    if (e != DX_OK)
        return dx_fail(r, e, k, "%s cannot be encoded as DynamoDB JSON (%s): it must be a map of "
                       "valid attribute values", k, dx_err_name(e));
    return DX_OK;
}

static dx_err put_names(dx_buf *b, const dx_value *names, dx_result *r) {
    if (!dx_value_is(names, DX_T_M))
        return dx_fail(r, DX_ERR_VALIDATION, "ExpressionAttributeNames",
                       "ExpressionAttributeNames must be a map of strings (an M of S)");
    if (!dx_buf_putc(b, '{')) return nomem(r);
    for (uint32_t i = 0; i < names->n; i++) {
        const dx_member *m = &names->u.members[i];
        if (m->value.type != DX_T_S)
            return dx_fail(r, DX_ERR_VALIDATION, "ExpressionAttributeNames",
                           "ExpressionAttributeNames: the value of %s must be a string (S), not %s",
                           m->name, dx_type_name((dx_type)m->value.type));
        if ((i && !dx_buf_putc(b, ',')) || !dx_buf_put_json_str(b, m->name, m->name_len) ||
            !dx_buf_putc(b, ':') || !dx_buf_put_json_str(b, m->value.u.s, m->value.n))
            return nomem(r);
    }
    return dx_buf_putc(b, '}') ? DX_OK : nomem(r);
}

/* ExpressionAttributeNames / ExpressionAttributeValues when the request has them. */
static dx_err put_placeholders(dx_buf *b, bool *first, const dx_req *q, dx_result *r) {
    if (q->names) {
        if (!key(b, first, "ExpressionAttributeNames")) return nomem(r);
        dx_err e = put_names(b, q->names, r);
        if (e) return e;
    }
    if (q->values) return kitem(b, first, "ExpressionAttributeValues", q->values, r);
    return DX_OK;
}

static const char *return_name(dx_return ret) {
    switch (ret) {
    case DX_RET_NONE: return NULL;
    case DX_RET_ALL_OLD: return "ALL_OLD";
    case DX_RET_UPDATED_OLD: return "UPDATED_OLD";
    case DX_RET_ALL_NEW: return "ALL_NEW";
    case DX_RET_UPDATED_NEW: return "UPDATED_NEW";
    }
    return NULL;
}

static const char *key_type_name(dx_type t) { return t == DX_T_NONE ? "S" : dx_type_name(t); }

static dx_err encode_create(dx_buf *b, bool *first, const dx_table_def *def, dx_result *r) {
    const dx_key_schema *k = &def->key;
    bool ok = key(b, first, "AttributeDefinitions") && dx_buf_puts(b, "[{\"AttributeName\":") &&
              dx_buf_put_json_str(b, k->hash ? k->hash : "", k->hash ? strlen(k->hash) : 0) &&
              dx_buf_printf(b, ",\"AttributeType\":\"%s\"}", key_type_name(k->hash_type));
    if (ok && k->range)
        ok = dx_buf_puts(b, ",{\"AttributeName\":") &&
             dx_buf_put_json_str(b, k->range, strlen(k->range)) &&
             dx_buf_printf(b, ",\"AttributeType\":\"%s\"}", key_type_name(k->range_type));
    ok = ok && dx_buf_puts(b, "]") && key(b, first, "KeySchema") &&
         dx_buf_puts(b, "[{\"AttributeName\":") &&
         dx_buf_put_json_str(b, k->hash ? k->hash : "", k->hash ? strlen(k->hash) : 0) &&
         dx_buf_puts(b, ",\"KeyType\":\"HASH\"}");
    if (ok && k->range)
        ok = dx_buf_puts(b, ",{\"AttributeName\":") &&
             dx_buf_put_json_str(b, k->range, strlen(k->range)) &&
             dx_buf_puts(b, ",\"KeyType\":\"RANGE\"}");
    ok = ok && dx_buf_puts(b, "]");
    if (ok && def->rcu == 0 && def->wcu == 0) {
        ok = kstr(b, first, "BillingMode", "PAY_PER_REQUEST");
    } else if (ok) {
        ok = kstr(b, first, "BillingMode", "PROVISIONED") &&
             key(b, first, "ProvisionedThroughput") &&
             dx_buf_printf(b, "{\"ReadCapacityUnits\":%lld,\"WriteCapacityUnits\":%lld}",
                           (long long)llround(def->rcu), (long long)llround(def->wcu));
    }
    return ok ? DX_OK : nomem(r);
}

dx_err dx_ddb_encode(const dx_req *q, dx_buf *b, dx_result *r) {
    bool first = true, ok = dx_buf_putc(b, '{');
    dx_err e = DX_OK;
    const char *table = q->table;
    if (q->op == DX_OP_CREATE_TABLE && !table && q->def) table = q->def->name;
    if (!ok) return nomem(r);
    if (q->op <= DX_OP_NONE || q->op >= DX_OP__COUNT)
        return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "the request has no operation (dx_req.op)");

    if (q->op != DX_OP_BATCH_WRITE && q->op != DX_OP_BATCH_GET && table &&
        !kstr(b, &first, "TableName", table))
        return nomem(r);

#define STR(k, v)                                                                          \
    do {                                                                                   \
        if ((v) && !kstr(b, &first, k, v)) return nomem(r);                                \
    } while (0)
#define ITEM(k, v)                                                                         \
    do {                                                                                   \
        if ((v) && (e = kitem(b, &first, k, v, r)) != DX_OK) return e;                     \
    } while (0)
#define RAW(k, ...)                                                                        \
    do {                                                                                   \
        if (!key(b, &first, k) || !dx_buf_printf(b, __VA_ARGS__)) return nomem(r);        \
    } while (0)

    switch (q->op) {
    case DX_OP_PUT:
        ITEM("Item", q->item);
        STR("ConditionExpression", q->condition);
        break;
    case DX_OP_GET:
        ITEM("Key", q->key);
        STR("ProjectionExpression", q->projection);
        break;
    case DX_OP_UPDATE:
        ITEM("Key", q->key);
        STR("UpdateExpression", q->update);
        STR("ConditionExpression", q->condition);
        break;
    case DX_OP_DELETE:
        ITEM("Key", q->key);
        STR("ConditionExpression", q->condition);
        break;
    case DX_OP_QUERY:
        STR("KeyConditionExpression", q->key_condition);
        STR("FilterExpression", q->filter);
        STR("ProjectionExpression", q->projection);
        break;
    case DX_OP_SCAN:
        STR("FilterExpression", q->filter);
        STR("ProjectionExpression", q->projection);
        break;
    case DX_OP_BATCH_WRITE:
        if (!key(b, &first, "RequestItems") || !dx_buf_putc(b, '{') ||
            !dx_buf_put_json_str(b, table ? table : "", table ? strlen(table) : 0) ||
            !dx_buf_puts(b, ":["))
            return nomem(r);
        for (size_t i = 0; i < q->nwrites; i++) {
            const dx_write *w = &q->writes[i];
            bool f2 = true;
            if ((i && !dx_buf_putc(b, ',')) ||
                !dx_buf_puts(b, w->del ? "{\"DeleteRequest\":{" : "{\"PutRequest\":{"))
                return nomem(r);
            if (w->item && (e = kitem(b, &f2, w->del ? "Key" : "Item", w->item, r)) != DX_OK)
                return e;
            if (!dx_buf_puts(b, "}}")) return nomem(r);
        }
        if (!dx_buf_puts(b, "]}")) return nomem(r);
        break;
    case DX_OP_BATCH_GET: {
        bool f2 = true;
        if (!key(b, &first, "RequestItems") || !dx_buf_putc(b, '{') ||
            !dx_buf_put_json_str(b, table ? table : "", table ? strlen(table) : 0) ||
            !dx_buf_putc(b, ':') || !dx_buf_putc(b, '{') || !key(b, &f2, "Keys") ||
            !dx_buf_putc(b, '['))
            return nomem(r);
        for (size_t i = 0; i < q->nkeys; i++) {
            if (i && !dx_buf_putc(b, ',')) return nomem(r);
            e = dx_encode_item(b, &q->keys[i]);
            if (e == DX_ERR_NOMEM) return nomem(r);
            if (e) return dx_fail(r, e, "Keys", "Keys[%zu] cannot be encoded as DynamoDB JSON (%s)",
                                  i, dx_err_name(e));
        }
        if (!dx_buf_putc(b, ']')) return nomem(r);
        if (q->projection && !kstr(b, &f2, "ProjectionExpression", q->projection))
            return nomem(r);
        if (q->names) {
            if (!key(b, &f2, "ExpressionAttributeNames")) return nomem(r);
            if ((e = put_names(b, q->names, r)) != DX_OK) return e;
        }
        if (q->consistent && !(key(b, &f2, "ConsistentRead") && dx_buf_puts(b, "true")))
            return nomem(r);
        if (!dx_buf_puts(b, "}}")) return nomem(r);
        break;
    }
    case DX_OP_CREATE_TABLE:
        if (q->def && (e = encode_create(b, &first, q->def, r)) != DX_OK) return e;
        break;
    case DX_OP_DESCRIBE_TABLE:
    case DX_OP_DELETE_TABLE:
    case DX_OP_DESCRIBE_BACKUPS:
    case DX_OP_NONE:
    case DX_OP__COUNT:
        break;
    }

    /* Placeholders, return values, read options, paging, capacity. */
    switch (q->op) {
    case DX_OP_PUT:
    case DX_OP_UPDATE:
    case DX_OP_DELETE:
        if ((e = put_placeholders(b, &first, q, r)) != DX_OK) return e;
        STR("ReturnValues", return_name(q->ret));
        break;
    case DX_OP_GET:
        if ((e = put_placeholders(b, &first, q, r)) != DX_OK) return e;
        if (q->consistent) RAW("ConsistentRead", "true");
        break;
    case DX_OP_QUERY:
    case DX_OP_SCAN:
        if ((e = put_placeholders(b, &first, q, r)) != DX_OK) return e;
        if (q->consistent) RAW("ConsistentRead", "true");
        if (q->op == DX_OP_QUERY && q->backward) RAW("ScanIndexForward", "false");
        if (q->limit) RAW("Limit", "%u", (unsigned)q->limit);
        ITEM("ExclusiveStartKey", q->start_key);
        /* A Segment without TotalSegments (or the reverse) is sent as given: the server's
         * validation error is the right answer. */
        if (q->op == DX_OP_SCAN && (q->segment || q->total_segments))
            RAW("Segment", "%u", (unsigned)q->segment);
        if (q->op == DX_OP_SCAN && q->total_segments)
            RAW("TotalSegments", "%u", (unsigned)q->total_segments);
        break;
    case DX_OP_BATCH_WRITE:
    case DX_OP_BATCH_GET:
    case DX_OP_CREATE_TABLE:
    case DX_OP_DESCRIBE_TABLE:
    case DX_OP_DELETE_TABLE:
    case DX_OP_DESCRIBE_BACKUPS:
    case DX_OP_NONE:
    case DX_OP__COUNT:
        break;
    }
    switch (q->op) {
    case DX_OP_PUT:
    case DX_OP_GET:
    case DX_OP_UPDATE:
    case DX_OP_DELETE:
    case DX_OP_BATCH_WRITE:
    case DX_OP_BATCH_GET:
    case DX_OP_QUERY:
    case DX_OP_SCAN:
        STR("ReturnConsumedCapacity", "TOTAL");
        break;
    case DX_OP_CREATE_TABLE:
    case DX_OP_DESCRIBE_TABLE:
    case DX_OP_DELETE_TABLE:
    case DX_OP_DESCRIBE_BACKUPS:
    case DX_OP_NONE:
    case DX_OP__COUNT:
        break;
    }
#undef STR
#undef ITEM
#undef RAW
    return dx_buf_putc(b, '}') ? DX_OK : nomem(r);
}

/* ================================================================ errors */

static const struct {
    const char *type;
    dx_err err;
} error_types[] = {
    {"ProvisionedThroughputExceededException", DX_ERR_THROUGHPUT},
    {"ThrottlingException", DX_ERR_THROUGHPUT},
    {"RequestLimitExceeded", DX_ERR_THROUGHPUT},
    {"LimitExceededException", DX_ERR_THROUGHPUT},
    {"ValidationException", DX_ERR_VALIDATION},
    {"SerializationException", DX_ERR_VALIDATION},
    {"ResourceNotFoundException", DX_ERR_RESOURCE_NOT_FOUND},
    {"ResourceInUseException", DX_ERR_RESOURCE_IN_USE},
    {"ConditionalCheckFailedException", DX_ERR_CONDITIONAL},
    {"UnrecognizedClientException", DX_ERR_AUTH},
    {"InvalidSignatureException", DX_ERR_AUTH},
    {"AccessDeniedException", DX_ERR_AUTH},
    {"MissingAuthenticationToken", DX_ERR_AUTH},
    {"MissingAuthenticationTokenException", DX_ERR_AUTH},
    {"ExpiredTokenException", DX_ERR_AUTH},
    {"IncompleteSignatureException", DX_ERR_AUTH},
    {"InvalidClientTokenId", DX_ERR_AUTH},
    {"InternalServerError", DX_ERR_SERVER},
    {"InternalFailure", DX_ERR_SERVER},
    {"ServiceUnavailable", DX_ERR_SERVER},
    {"ServiceUnavailableException", DX_ERR_SERVER},
    {"TransactionConflictException", DX_ERR_TRANSACTION_CONFLICT},
    {"UnknownOperationException", DX_ERR_UNSUPPORTED},
};

dx_err dx_ddb_error_kind(const char *type, size_t len, int status) {
    for (size_t i = 0; type && i < sizeof error_types / sizeof error_types[0]; i++)
        if (strlen(error_types[i].type) == len && memcmp(error_types[i].type, type, len) == 0)
            return error_types[i].err;
    if (status >= 500) return DX_ERR_SERVER;
    if (len == 0) {
        /* No DynamoDB error type: a proxy or load balancer answered. */
        if (status == 429) return DX_ERR_THROUGHPUT;
        if (status == 413) return DX_ERR_VALIDATION;
        if (status == 401 || status == 403) return DX_ERR_AUTH;
    }
    return DX_ERR_UNKNOWN;
}

/* Copies up to n bytes of text for a message, replacing control bytes. */
static void printable(char *dst, size_t cap, const char *s, size_t n) {
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[j++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    dst[j] = 0;
}

/*
 * The first "reason" of ThrottlingReasons: [{"reason": "...", "resource": "arn..."}], which
 * DynamoDB sends with throttling errors (e.g. TableWriteKeyRangeThroughputExceeded for a
 * hot partition key). The cursor is left after the array.
 */
static dx_err first_throttling_reason(dx_jcur *c, dx_str *out) {
    dx_err e = dx_jcur_arr_begin(c);
    for (bool done = false; e == DX_OK;) {
        if ((e = dx_jcur_arr_next(c, &done)) != DX_OK || done) break;
        if (dx_jcur_peek(c) != '{' || out->len) {
            e = dx_jcur_skip(c);
            continue;
        }
        if ((e = dx_jcur_obj_begin(c)) != DX_OK) break;
        for (bool odone = false; e == DX_OK;) {
            dx_str k;
            if ((e = dx_jcur_obj_next(c, &k, &odone)) != DX_OK || odone) break;
            if (dx_str_eq(k, "reason") && dx_jcur_peek(c) == '"') {
                e = dx_jcur_string(c, out);
            } else {
                e = dx_jcur_skip(c);
            }
        }
    }
    return e;
}

dx_err dx_ddb_error_from_body(int status, const char *body, size_t len, const char *request_id,
                              dx_arena *scratch, dx_result *r) {
    dx_str type = {"", 0}, msg = {"", 0}, reason = {"", 0};
    bool parsed = false;
    dx_result tmp;
    dx_result_clear(&tmp);
    dx_jcur c;
    dx_jcur_init(&c, scratch, body ? body : "", body ? len : 0, &tmp);
    if (dx_jcur_peek(&c) == '{' && dx_jcur_obj_begin(&c) == DX_OK) {
        parsed = true;
        for (;;) {
            dx_str k;
            bool done;
            if (dx_jcur_obj_next(&c, &k, &done) != DX_OK) {
                parsed = false;
                break;
            }
            if (done) break;
            dx_err e;
            if (dx_str_eq(k, "__type") && dx_jcur_peek(&c) == '"') {
                e = dx_jcur_string(&c, &type);
            } else if ((dx_str_eq(k, "message") || dx_str_eq(k, "Message")) &&
                       dx_jcur_peek(&c) == '"') {
                e = dx_jcur_string(&c, &msg);
            } else if (dx_str_eq(k, "ThrottlingReasons") && dx_jcur_peek(&c) == '[') {
                e = first_throttling_reason(&c, &reason);
            } else {
                e = dx_jcur_skip(&c);
            }
            if (e != DX_OK) {
                parsed = false;
                break;
            }
        }
    }
    if (parsed) {
        const char *hash = memchr(type.ptr, '#', type.len);
        if (hash) {
            type.len -= (size_t)(hash + 1 - type.ptr);
            type.ptr = hash + 1;
        }
    } else {
        type.ptr = "";
        type.len = 0;
        msg.len = 0;
    }
    dx_err kind = dx_ddb_error_kind(type.ptr, type.len, status);
    char text[400];
    if (msg.len) {
        printable(text, sizeof text, msg.ptr, msg.len);
        dx_fail(r, kind, NULL, "%s", text);
    } else if (type.len) {
        printable(text, sizeof text, type.ptr, type.len);
        dx_fail(r, kind, NULL, "DynamoDB answered HTTP %d %s without a message", status, text);
    } else {
        printable(text, sizeof text, body ? body : "", len > 200 ? 200 : len);
        dx_fail(r, kind, NULL,
                "HTTP %d with a body that is not a DynamoDB error%s%s%s: is the endpoint a "
                "DynamoDB endpoint?", status, len ? " (\"" : "", text, len ? "\")" : "");
    }
    if (r) {
        printable(r->type, sizeof r->type, type.ptr, type.len);
        r->http_status = status;
        snprintf(r->request_id, sizeof r->request_id, "%s", request_id ? request_id : "");
        printable(r->reason, sizeof r->reason, reason.ptr, parsed ? reason.len : 0);
    }
    return kind;
}

/* ================================================================ parse */

typedef struct pctx {
    dx_jcur c;
    const dx_req *q;
    dx_arena *arena;   /* outputs; NULL: drop them */
    dx_arena *scratch; /* temporaries */
    dx_resp *out;
    dx_result *r;      /* the caller's */
    dx_result jr;      /* the cursor's */
    const char *where; /* the member being parsed, for messages */
} pctx;

/* Turns a cursor failure into DX_ERR_PROTOCOL (NOMEM stays NOMEM) in the caller's result. */
static dx_err perr(pctx *p, dx_err e) {
    if (e == DX_ERR_NOMEM) return nomem(p->r);
    return dx_fail(p->r, DX_ERR_PROTOCOL, p->where,
                   "could not parse the %s response%s%s: %s (at byte %ld)", dx_op_name(p->q->op),
                   p->where ? " at " : "", p->where ? p->where : "",
                   p->jr.message[0] ? p->jr.message : dx_err_name(e),
                   p->jr.offset >= 0 ? p->jr.offset : (long)(p->c.p - p->c.start));
}

#define TRY(expr)                                                                          \
    do {                                                                                   \
        dx_err e_ = (expr);                                                                \
        if (e_ != DX_OK) return e_;                                                        \
    } while (0)
#define J(expr)                                                                            \
    do {                                                                                   \
        dx_err e_ = (expr);                                                                \
        if (e_ != DX_OK) return perr(p, e_);                                               \
    } while (0)

static dx_err p_double(pctx *p, double *out) {
    dx_str s;
    J(dx_jcur_number(&p->c, &s));
    char buf[64];
    if (s.len >= sizeof buf) {
        *out = 0;
        return DX_OK;
    }
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = 0;
    *out = strtod(buf, NULL);
    return DX_OK;
}

static dx_err p_u64(pctx *p, uint64_t *out) {
    double d;
    TRY(p_double(p, &d));
    *out = d > 0 ? (uint64_t)d : 0;
    return DX_OK;
}

/* A string copied into arena a (NULL when a is NULL). */
static dx_err p_string(pctx *p, dx_arena *a, const char **out) {
    dx_str s;
    J(dx_jcur_string(&p->c, &s));
    *out = NULL;
    if (a && !(*out = dx_arena_strndup(a, s.ptr, s.len))) return nomem(p->r);
    return DX_OK;
}

static dx_err p_capacity_obj(pctx *p, double *sum) {
    J(dx_jcur_obj_begin(&p->c));
    for (;;) {
        dx_str k;
        bool done;
        J(dx_jcur_obj_next(&p->c, &k, &done));
        if (done) return DX_OK;
        if (dx_str_eq(k, "CapacityUnits")) {
            double d;
            TRY(p_double(p, &d));
            *sum += d;
        } else {
            J(dx_jcur_skip(&p->c));
        }
    }
}

/* ConsumedCapacity: one object (single-item ops) or an array (batches). */
static dx_err p_capacity(pctx *p) {
    p->where = "ConsumedCapacity";
    if (dx_jcur_peek(&p->c) != '[') return p_capacity_obj(p, &p->out->consumed);
    J(dx_jcur_arr_begin(&p->c));
    for (;;) {
        bool done;
        J(dx_jcur_arr_next(&p->c, &done));
        if (done) return DX_OK;
        TRY(p_capacity_obj(p, &p->out->consumed));
    }
}

/* One item-shaped value into a new slot in the output arena (or skipped). */
static dx_err p_item(pctx *p, dx_value **out) {
    *out = NULL;
    if (dx_jcur_null(&p->c)) return DX_OK;
    if (!p->arena) {
        J(dx_jcur_skip(&p->c));
        return DX_OK;
    }
    dx_value *v = dx_arena_alloc(p->arena, sizeof *v);
    if (!v) return nomem(p->r);
    J(dx_jcur_ddb_item(&p->c, v));
    *out = v;
    return DX_OK;
}

/* An array of items appended to out->items (BatchGetItem may have several tables). */
static dx_err p_items(pctx *p) {
    if (!p->arena) {
        J(dx_jcur_skip(&p->c));
        return DX_OK;
    }
    dx_list_builder lb = {.arena = p->arena};
    for (size_t i = 0; i < p->out->nitems; i++) {
        dx_value *slot = dx_listb_add(&lb);
        if (!slot) return nomem(p->r);
        *slot = p->out->items[i];
    }
    J(dx_jcur_arr_begin(&p->c));
    for (;;) {
        bool done;
        J(dx_jcur_arr_next(&p->c, &done));
        if (done) break;
        dx_value *slot = dx_listb_add(&lb);
        if (!slot) return nomem(p->r);
        J(dx_jcur_ddb_item(&p->c, slot));
    }
    dx_value all = dx_listb_finish(&lb, DX_T_L);
    p->out->items = all.u.elems;
    p->out->nitems = all.n;
    return DX_OK;
}

/* Parses one DynamoDB value into scratch (for matching only). */
static dx_err p_scratch_item(pctx *p, dx_value *v) {
    dx_arena *keep = p->c.arena;
    p->c.arena = p->scratch;
    dx_err e = dx_jcur_ddb_item(&p->c, v);
    p->c.arena = keep;
    if (e != DX_OK) return perr(p, e);
    return DX_OK;
}

/* Marks the first unused request entry equal to v; DX_ERR_PROTOCOL when there is none. */
static dx_err match_entry(pctx *p, bool *used, const dx_value *v, bool is_del, bool is_write) {
    size_t n = is_write ? p->q->nwrites : p->q->nkeys;
    for (size_t i = 0; i < n; i++) {
        if (used[i]) continue;
        const dx_value *cand;
        if (is_write) {
            if (p->q->writes[i].del != is_del || !p->q->writes[i].item) continue;
            cand = p->q->writes[i].item;
        } else {
            cand = &p->q->keys[i];
        }
        if (dx_value_equal(cand, v)) {
            used[i] = true;
            return DX_OK;
        }
    }
    return dx_fail(p->r, DX_ERR_PROTOCOL, p->where,
                   "%s names an entry that is not in the request (or names it twice): cannot "
                   "tell which entries were processed", p->where);
}

/* Turns the used[] marks into sorted attempt-relative indices in the output arena. */
static dx_err collect_unprocessed(pctx *p, const bool *used, size_t n) {
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) cnt += used[i];
    if (!cnt) return DX_OK;
    dx_arena *a = p->arena ? p->arena : p->scratch;
    size_t *idx = dx_arena_alloc(a, cnt * sizeof *idx);
    if (!idx) return nomem(p->r);
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (used[i]) idx[j++] = i;
    p->out->unprocessed = idx;
    p->out->nunprocessed = cnt;
    return DX_OK;
}

/* UnprocessedItems: {"table":[{"PutRequest":{"Item":{...}}},{"DeleteRequest":{"Key":{...}}}]} */
static dx_err p_unprocessed_items(pctx *p) {
    p->where = "UnprocessedItems";
    size_t n = p->q->nwrites;
    bool *used = dx_arena_calloc(p->scratch, n ? n : 1);
    if (!used) return nomem(p->r);
    J(dx_jcur_obj_begin(&p->c));
    for (;;) {
        dx_str tname;
        bool done;
        J(dx_jcur_obj_next(&p->c, &tname, &done));
        if (done) break;
        J(dx_jcur_arr_begin(&p->c));
        for (;;) {
            J(dx_jcur_arr_next(&p->c, &done));
            if (done) break;
            J(dx_jcur_obj_begin(&p->c));
            for (;;) {
                dx_str kind;
                J(dx_jcur_obj_next(&p->c, &kind, &done));
                if (done) break;
                bool is_del = dx_str_eq(kind, "DeleteRequest");
                if (!is_del && !dx_str_eq(kind, "PutRequest")) {
                    J(dx_jcur_skip(&p->c));
                    continue;
                }
                J(dx_jcur_obj_begin(&p->c));
                for (;;) {
                    dx_str k;
                    J(dx_jcur_obj_next(&p->c, &k, &done));
                    if (done) break;
                    if (dx_str_eq(k, is_del ? "Key" : "Item")) {
                        dx_value v;
                        TRY(p_scratch_item(p, &v));
                        TRY(match_entry(p, used, &v, is_del, true));
                    } else {
                        J(dx_jcur_skip(&p->c));
                    }
                }
            }
        }
    }
    return collect_unprocessed(p, used, n);
}

/* UnprocessedKeys: {"table":{"Keys":[{...}],"ProjectionExpression":...}} */
static dx_err p_unprocessed_keys(pctx *p) {
    p->where = "UnprocessedKeys";
    size_t n = p->q->nkeys;
    bool *used = dx_arena_calloc(p->scratch, n ? n : 1);
    if (!used) return nomem(p->r);
    J(dx_jcur_obj_begin(&p->c));
    for (;;) {
        dx_str tname;
        bool done;
        J(dx_jcur_obj_next(&p->c, &tname, &done));
        if (done) break;
        J(dx_jcur_obj_begin(&p->c));
        for (;;) {
            dx_str k;
            J(dx_jcur_obj_next(&p->c, &k, &done));
            if (done) break;
            if (!dx_str_eq(k, "Keys")) {
                J(dx_jcur_skip(&p->c));
                continue;
            }
            J(dx_jcur_arr_begin(&p->c));
            for (;;) {
                J(dx_jcur_arr_next(&p->c, &done));
                if (done) break;
                dx_value v;
                TRY(p_scratch_item(p, &v));
                TRY(match_entry(p, used, &v, false, false));
            }
        }
    }
    return collect_unprocessed(p, used, n);
}

/* Responses: {"table":[items...], ...} */
static dx_err p_responses(pctx *p) {
    p->where = "Responses";
    J(dx_jcur_obj_begin(&p->c));
    for (;;) {
        dx_str tname;
        bool done;
        J(dx_jcur_obj_next(&p->c, &tname, &done));
        if (done) return DX_OK;
        TRY(p_items(p));
    }
}

typedef struct attr_def {
    dx_str name;
    dx_type type; /* AttributeDefinitions */
    bool range;   /* KeySchema: KeyType RANGE (else HASH) */
} attr_def;

/* [{"AttributeName":"id","KeyType":"HASH"}] or [{"AttributeName":"id","AttributeType":"S"}] */
static dx_err p_name_pairs(pctx *p, const char *second, attr_def *defs, size_t cap, size_t *n) {
    J(dx_jcur_arr_begin(&p->c));
    for (;;) {
        bool done;
        J(dx_jcur_arr_next(&p->c, &done));
        if (done) return DX_OK;
        attr_def d = {{"", 0}, DX_T_NONE, false};
        dx_str v2 = {"", 0};
        J(dx_jcur_obj_begin(&p->c));
        for (;;) {
            dx_str k;
            J(dx_jcur_obj_next(&p->c, &k, &done));
            if (done) break;
            if (dx_str_eq(k, "AttributeName")) {
                J(dx_jcur_string(&p->c, &d.name));
            } else if (dx_str_eq(k, second)) {
                J(dx_jcur_string(&p->c, &v2));
            } else {
                J(dx_jcur_skip(&p->c));
            }
        }
        if (strcmp(second, "KeyType") == 0) {
            d.range = dx_str_eq(v2, "RANGE");
        } else {
            d.type = dx_type_from_name(v2.ptr, v2.len);
        }
        if (*n < cap) defs[(*n)++] = d;
    }
}

static dx_err p_table(pctx *p, dx_table_desc *t) {
    p->where = "TableDescription";
    if (!p->arena) {
        J(dx_jcur_skip(&p->c));
        return DX_OK;
    }
    enum { MAXDEF = 64 };
    attr_def keys[4], defs[MAXDEF];
    size_t nkeys = 0, ndefs = 0;
    bool pay_per_request = false;
    J(dx_jcur_obj_begin(&p->c));
    for (;;) {
        dx_str k;
        bool done;
        J(dx_jcur_obj_next(&p->c, &k, &done));
        if (done) break;
        if (dx_str_eq(k, "TableName")) {
            TRY(p_string(p, p->arena, &t->name));
        } else if (dx_str_eq(k, "TableStatus")) {
            TRY(p_string(p, p->arena, &t->status));
        } else if (dx_str_eq(k, "ItemCount")) {
            TRY(p_u64(p, &t->item_count));
        } else if (dx_str_eq(k, "TableSizeBytes")) {
            TRY(p_u64(p, &t->size_bytes));
        } else if (dx_str_eq(k, "KeySchema")) {
            TRY(p_name_pairs(p, "KeyType", keys, 4, &nkeys));
        } else if (dx_str_eq(k, "AttributeDefinitions")) {
            TRY(p_name_pairs(p, "AttributeType", defs, MAXDEF, &ndefs));
        } else if (dx_str_eq(k, "ProvisionedThroughput")) {
            J(dx_jcur_obj_begin(&p->c));
            for (;;) {
                dx_str k2;
                J(dx_jcur_obj_next(&p->c, &k2, &done));
                if (done) break;
                if (dx_str_eq(k2, "ReadCapacityUnits")) {
                    TRY(p_double(p, &t->rcu));
                } else if (dx_str_eq(k2, "WriteCapacityUnits")) {
                    TRY(p_double(p, &t->wcu));
                } else {
                    J(dx_jcur_skip(&p->c));
                }
            }
        } else if (dx_str_eq(k, "BillingModeSummary")) {
            J(dx_jcur_obj_begin(&p->c));
            for (;;) {
                dx_str k2, v;
                J(dx_jcur_obj_next(&p->c, &k2, &done));
                if (done) break;
                if (dx_str_eq(k2, "BillingMode")) {
                    J(dx_jcur_string(&p->c, &v));
                    pay_per_request = dx_str_eq(v, "PAY_PER_REQUEST");
                } else {
                    J(dx_jcur_skip(&p->c));
                }
            }
        } else {
            J(dx_jcur_skip(&p->c));
        }
    }
    for (size_t i = 0; i < nkeys; i++) {
        dx_type ty = DX_T_NONE;
        for (size_t j = 0; j < ndefs; j++)
            if (defs[j].name.len == keys[i].name.len &&
                memcmp(defs[j].name.ptr, keys[i].name.ptr, keys[i].name.len) == 0)
                ty = defs[j].type;
        const char *name = dx_arena_strndup(p->arena, keys[i].name.ptr, keys[i].name.len);
        if (!name) return nomem(p->r);
        if (keys[i].range) {
            t->key.range = name;
            t->key.range_type = ty;
        } else {
            t->key.hash = name;
            t->key.hash_type = ty;
        }
    }
    t->on_demand = pay_per_request || (t->rcu == 0 && t->wcu == 0);
    if (t->on_demand) t->rcu = t->wcu = 0;
    return DX_OK;
}

/* {"ContinuousBackupsStatus":"ENABLED","PointInTimeRecoveryDescription":{"PointInTimeRecoveryStatus":"ENABLED"}} */
static dx_err p_backups(pctx *p, dx_table_desc *t) {
    p->where = "ContinuousBackupsDescription";
    J(dx_jcur_obj_begin(&p->c));
    for (;;) {
        dx_str k;
        bool done;
        J(dx_jcur_obj_next(&p->c, &k, &done));
        if (done) break;
        if (!dx_str_eq(k, "PointInTimeRecoveryDescription")) {
            J(dx_jcur_skip(&p->c));
            continue;
        }
        J(dx_jcur_obj_begin(&p->c));
        for (;;) {
            dx_str k2, v;
            J(dx_jcur_obj_next(&p->c, &k2, &done));
            if (done) break;
            if (dx_str_eq(k2, "PointInTimeRecoveryStatus")) {
                J(dx_jcur_string(&p->c, &v));
                t->pitr = dx_str_eq(v, "ENABLED");
            } else {
                J(dx_jcur_skip(&p->c));
            }
        }
    }
    if (p->arena && p->q->table && !(t->name = dx_arena_strdup(p->arena, p->q->table)))
        return nomem(p->r);
    return DX_OK;
}

dx_err dx_ddb_parse(const dx_req *q, const char *body, size_t len, dx_arena *arena,
                    dx_arena *scratch, dx_resp *out, dx_result *r) {
    pctx pc, *p = &pc;
    memset(p, 0, sizeof *p);
    memset(out, 0, sizeof *out);
    p->q = q;
    p->arena = arena;
    p->scratch = scratch;
    p->out = out;
    p->r = r;
    dx_result_clear(&p->jr);
    dx_jcur_init(&p->c, arena ? arena : scratch, body ? body : "", body ? len : 0, &p->jr);
    J(dx_jcur_obj_begin(&p->c));
    for (;;) {
        dx_str k;
        bool done;
        p->where = NULL;
        J(dx_jcur_obj_next(&p->c, &k, &done));
        if (done) break;
        if (dx_str_eq(k, "Item") || dx_str_eq(k, "Attributes")) {
            p->where = k.ptr[0] == 'I' ? "Item" : "Attributes";
            TRY(p_item(p, &out->item));
        } else if (dx_str_eq(k, "Items")) {
            p->where = "Items";
            TRY(p_items(p));
        } else if (dx_str_eq(k, "ScannedCount")) {
            uint64_t n;
            TRY(p_u64(p, &n));
            out->scanned = (size_t)n;
        } else if (dx_str_eq(k, "LastEvaluatedKey")) {
            p->where = "LastEvaluatedKey";
            TRY(p_item(p, &out->last_key));
        } else if (dx_str_eq(k, "ConsumedCapacity")) {
            TRY(p_capacity(p));
        } else if (dx_str_eq(k, "Responses")) {
            TRY(p_responses(p));
        } else if (dx_str_eq(k, "UnprocessedItems") && q->op == DX_OP_BATCH_WRITE) {
            TRY(p_unprocessed_items(p));
        } else if (dx_str_eq(k, "UnprocessedKeys") && q->op == DX_OP_BATCH_GET) {
            TRY(p_unprocessed_keys(p));
        } else if (dx_str_eq(k, "TableDescription") || dx_str_eq(k, "Table")) {
            TRY(p_table(p, &out->table));
        } else if (dx_str_eq(k, "ContinuousBackupsDescription")) {
            TRY(p_backups(p, &out->table));
        } else {
            J(dx_jcur_skip(&p->c));
        }
    }
    p->where = NULL;
    if (!dx_jcur_at_end(&p->c)) {
        return dx_fail(r, DX_ERR_PROTOCOL, NULL,
                       "could not parse the %s response: text after the JSON object (at byte %ld)",
                       dx_op_name(q->op), (long)(p->c.p - p->c.start));
    }
    return DX_OK;
}

#undef TRY
#undef J

/* ================================================================ backend */

typedef struct ddb {
    dx_endpoint ep;
    char url[520];
    char region[64];
    char target[DX_OP__COUNT][48]; /* X-Amz-Target per operation, "DynamoDB_20120810.PutItem" */
    dx_creds_provider *prov;
    bool owns_prov;
    dx_sigv4_signer *signer;
    dx_http_opts hopts;
    int64_t (*clock_s)(void *ud);
    void *clock_ud;
} ddb;

typedef struct ddb_engine ddb_engine;

/* What one attempt needs while it is on the wire; pooled per engine. */
typedef struct actx {
    struct actx *next;
    ddb_engine *eng;
    dx_attempt *a;
    dx_creds *creds; /* the snapshot that signed the request */
    dx_buf body;
    dx_sigv4_headers sh;
    const char *lines[DX_SIGV4_DDB_MAX_HEADERS];
    dx_arena scratch;
} actx;

struct ddb_engine {
    ddb *d;
    dx_http *http;
    actx *free_ctx;
    int64_t date_s;                         /* the second amzdate was formatted for */
    char amzdate[DX_SIGV4_AMZDATE_LEN + 1]; /* "" until the first request */
};

/* Replaces every occurrence of secret in msg (NUL-terminated, cap bytes) with "[redacted]". */
static void redact(char *msg, size_t cap, const char *secret) {
    static const char mark[] = "[redacted]";
    const size_t ml = sizeof mark - 1;
    size_t sl = secret ? strlen(secret) : 0;
    if (sl < 4 || cap == 0) return;
    char *from = msg, *hit;
    while ((hit = strstr(from, secret)) != NULL) {
        size_t pos = (size_t)(hit - msg), len = strlen(msg);
        size_t tail = len - pos - sl;
        if (pos + ml >= cap) { /* no room for the mark: end the message here */
            *hit = 0;
            return;
        }
        if (pos + ml + tail >= cap) tail = cap - 1 - pos - ml;
        memmove(hit + ml, hit + sl, tail);
        memcpy(hit, mark, ml);
        hit[ml + tail] = 0;
        from = hit + ml; /* never rescan the mark itself */
    }
    /* A message cut short may end in the first part of a secret: drop that too. */
    size_t len = strlen(msg);
    for (size_t k = sl - 1 < len ? sl - 1 : len; k >= 4; k--) {
        if (memcmp(msg + len - k, secret, k) == 0) {
            msg[len - k] = 0;
            if (len - k + ml < cap) memcpy(msg + len - k, mark, ml + 1);
            return;
        }
    }
}

static void ctx_release(ddb_engine *e, actx *x) {
    dx_creds_release(x->creds);
    x->creds = NULL;
    x->a = NULL;
    dx_buf_clear(&x->body);
    dx_arena_reset(&x->scratch);
    x->next = e->free_ctx;
    e->free_ctx = x;
}

/* snprintf(dst, cap, "%s", src) without the format parsing, for the per-request path. */
static void copy_str(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static void on_http(void *ud, dx_http_resp *h) {
    actx *x = ud;
    ddb_engine *e = x->eng;
    dx_attempt *a = x->a;
    dx_result *r = &a->res;
    const char *op = dx_op_name(a->req.op);
    if (h->err != DX_OK) {
        dx_fail(r, h->err, NULL, "%s to %s: %s", op, e->d->ep.url, h->error);
    } else if (h->has_crc32 && dx_ddb_crc32(0, h->body.ptr, h->body.len) != h->crc32) {
        dx_fail(r, DX_ERR_CRC32, NULL,
                "%s: the response body (%zu bytes, HTTP %d) does not match its x-amz-crc32 "
                "header %u; it was damaged on the way and will be retried",
                op, h->body.len, h->status, (unsigned)h->crc32);
        r->http_status = h->status;
        copy_str(r->request_id, sizeof r->request_id, h->request_id);
    } else if (h->status >= 200 && h->status < 300) {
        if (dx_ddb_parse(&a->req, h->body.ptr, h->body.len, a->arena, &x->scratch, &a->resp, r) ==
            DX_OK) {
            r->err = DX_OK;
        }
        r->http_status = h->status;
        copy_str(r->request_id, sizeof r->request_id, h->request_id);
    } else {
        dx_ddb_error_from_body(h->status, h->body.ptr, h->body.len, h->request_id, &x->scratch, r);
        if (strcmp(r->type, "ExpiredTokenException") == 0) dx_creds_provider_invalidate(e->d->prov);
        if (x->creds) {
            redact(r->message, sizeof r->message, x->creds->secret_access_key);
            redact(r->message, sizeof r->message, x->creds->session_token);
            redact(r->message, sizeof r->message, x->creds->access_key_id);
        }
    }
    ctx_release(e, x);
    dx_attempt_done(a);
}

static void *ddb_engine_new(void *impl) {
    ddb *d = impl;
    ddb_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->d = d;
    if (dx_http_new(&d->hopts, &e->http, NULL) != DX_OK) {
        free(e);
        return NULL;
    }
    return e;
}

static void ddb_engine_free(void *be) {
    ddb_engine *e = be;
    if (!e) return;
    dx_http_free(e->http);
    actx *x = e->free_ctx;
    while (x) {
        actx *next = x->next;
        dx_buf_free(&x->body);
        dx_sigv4_headers_free(&x->sh);
        dx_arena_release(&x->scratch);
        free(x);
        x = next;
    }
    free(e);
}

static int64_t now_s(const ddb *d) {
    return d->clock_s ? d->clock_s(d->clock_ud) : (int64_t)(dx_wall_ms() / 1000u);
}

static void ddb_start(void *be, dx_attempt *a) {
    ddb_engine *e = be;
    ddb *d = e->d;
    actx *x = e->free_ctx;
    if (x) {
        e->free_ctx = x->next;
    } else if ((x = calloc(1, sizeof *x)) == NULL) {
        dx_fail(&a->res, DX_ERR_NOMEM, NULL, "out of memory starting a DynamoDB request");
        dx_attempt_done(a);
        return;
    } else {
        x->eng = e;
    }
    x->a = a;
    dx_err err = dx_ddb_encode(&a->req, &x->body, &a->res); /* checks that op is in range */
    if (err == DX_OK) err = dx_creds_provider_get(d->prov, &x->creds, &a->res);
    if (err == DX_OK) {
        /* X-Amz-Date changes once a second: format it then, not per request. */
        int64_t t = now_s(d);
        if (t != e->date_s || !e->amzdate[0]) {
            if (dx_sigv4_amzdate(t, e->amzdate) != DX_OK) {
                e->amzdate[0] = 0;
                err = dx_fail(&a->res, DX_ERR_CONFIG, NULL, "the clock is outside 1970-9999");
            }
            e->date_s = t;
        }
    }
    if (err == DX_OK) {
        dx_sigv4_creds sc = dx_creds_sigv4(x->creds);
        dx_sigv4_ddb_request sr = {.host = d->ep.host_header,
                                   .target = d->target[a->req.op],
                                   .body = {x->body.ptr, x->body.len},
                                   .amzdate = e->amzdate,
                                   .region = d->region,
                                   .creds = &sc};
        err = dx_sigv4_sign_dynamodb(d->signer, &sr, &x->sh, &a->res);
    }
    if (err == DX_OK) {
        for (size_t i = 0; i < x->sh.count; i++) x->lines[i] = x->sh.h[i].line;
        dx_http_req hr = {.method = "POST", .url = d->url, .headers = x->lines,
                          .nheaders = x->sh.count, .body = x->body.ptr, .body_len = x->body.len};
        err = dx_http_submit(e->http, &hr, on_http, x);
        if (err != DX_OK)
            dx_fail(&a->res, err, NULL, "%s to %s: could not start the HTTP request (%s)",
                    dx_op_name(a->req.op), d->ep.url, dx_strerror(err));
    }
    if (err != DX_OK) {
        ctx_release(e, x);
        dx_attempt_done(a);
    }
}

static size_t ddb_poll(void *be, int timeout_ms) {
    ddb_engine *e = be;
    return dx_http_poll(e->http, timeout_ms);
}

static void ddb_impl_free(void *impl) {
    ddb *d = impl;
    if (!d) return;
    dx_sigv4_signer_free(d->signer);
    if (d->owns_prov) dx_creds_provider_free(d->prov);
    free(d);
}

static const dx_backend_vt ddb_vt = {
    .name = "dynamodb",
    .engine_new = ddb_engine_new,
    .engine_free = ddb_engine_free,
    .start = ddb_start,
    .poll = ddb_poll,
    .impl_free = ddb_impl_free,
};

static bool nonempty(const char *s) { return s && *s; }

static bool ends_with_ci(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* A host of AWS's own (amazonaws.com, amazonaws.com.cn, api.aws), with or without a final dot. */
static bool is_aws_host(const char *host) {
    char h[256];
    snprintf(h, sizeof h, "%s", host);
    size_t n = strlen(h);
    if (n && h[n - 1] == '.') h[n - 1] = 0;
    static const char *const domains[] = {"amazonaws.com", "amazonaws.com.cn", "api.aws"};
    for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++) {
        char dot[32];
        snprintf(dot, sizeof dot, ".%s", domains[i]);
        if (strcasecmp(h, domains[i]) == 0 || ends_with_ci(h, dot)) return true;
    }
    return false;
}

dx_err dx_ddb_client_new(const dx_ddb_opts *o, const dx_client_opts *copts, dx_client **out,
                         dx_result *r) {
    *out = NULL;
    dx_err err = DX_OK;
    ddb *d = calloc(1, sizeof *d);
    if (!d) {
        if (o && o->owns_provider) dx_creds_provider_free(o->provider);
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory creating the DynamoDB client");
    }
    if (o && o->owns_provider) {
        d->prov = o->provider;
        d->owns_prov = true;
    }
    if (!o || !nonempty(o->region)) {
        err = dx_fail(r, DX_ERR_CONFIG, "region",
                      "no region: set dx_ddb_opts.region (e.g. \"us-east-1\"), or resolve it from "
                      "the environment with dx_ddb_opts_from_env");
        goto fail;
    }
    if (strlen(o->region) >= sizeof d->region) {
        err = dx_fail(r, DX_ERR_CONFIG, "region", "region \"%.80s\" is too long", o->region);
        goto fail;
    }
    snprintf(d->region, sizeof d->region, "%s", o->region);
    for (int op = 0; op < DX_OP__COUNT; op++)
        snprintf(d->target[op], sizeof d->target[op], TARGET_PREFIX "%s", dx_op_name((dx_op)op));
    if (nonempty(o->endpoint_url)) {
        err = dx_endpoint_parse(o->endpoint_url, &d->ep, r);
    } else {
        char url[160];
        dx_aws_default_endpoint(d->region, url, sizeof url);
        err = dx_endpoint_parse(url, &d->ep, r);
    }
    if (err != DX_OK) goto fail;
    if (strcmp(d->ep.path, "/") != 0 && d->ep.path[0]) {
        err = dx_fail(r, DX_ERR_CONFIG, "endpoint_url",
                      "endpoint %s has a path (%s): DynamoDB endpoints take requests at \"/\"; "
                      "give the URL without a path", d->ep.url, d->ep.path);
        goto fail;
    }
    if (o->insecure && is_aws_host(d->ep.host)) {
        err = dx_fail(r, DX_ERR_CONFIG, "insecure",
                      "TLS verification can be turned off (insecure, --insecure) for local test "
                      "endpoints only, not for the AWS endpoint %s", d->ep.url);
        goto fail;
    }
    snprintf(d->url, sizeof d->url, "%s://%s/", d->ep.scheme, d->ep.host_header);

    if (o->provider) {
        d->prov = o->provider;
        d->owns_prov = o->owns_provider;
    } else if (nonempty(o->access_key_id) && nonempty(o->secret_access_key)) {
        err = dx_creds_provider_new_static(o->access_key_id, o->secret_access_key,
                                           o->session_token, &d->prov, r);
        if (err != DX_OK) goto fail;
        d->owns_prov = true;
    } else if (nonempty(o->access_key_id) || nonempty(o->secret_access_key)) {
        err = dx_fail(r, DX_ERR_CONFIG, nonempty(o->access_key_id) ? "secret_access_key"
                                                                    : "access_key_id",
                      "static credentials need both an access key id and a secret access key; "
                      "only the %s was given", nonempty(o->access_key_id) ? "access key id"
                                                                          : "secret access key");
        goto fail;
    } else {
        err = dx_fail(r, DX_ERR_CONFIG, "credentials",
                      "no credentials: set dx_ddb_opts.provider or access_key_id and "
                      "secret_access_key, or resolve them with dx_ddb_opts_from_env");
        goto fail;
    }
    d->signer = dx_sigv4_signer_new();
    if (!d->signer) {
        err = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory creating the SigV4 signer");
        goto fail;
    }
    d->hopts.max_inflight = o->max_inflight;
    d->hopts.connect_timeout_ms = o->connect_timeout_ms;
    d->hopts.timeout_ms = o->timeout_ms;
    d->hopts.max_idle_ms = o->max_idle_ms;
    d->hopts.insecure = o->insecure;
    d->clock_s = o->clock_s;
    d->clock_ud = o->clock_ud;
    /* Creating an HTTP engine now surfaces curl initialisation failures here. */
    dx_http *probe = NULL;
    if ((err = dx_http_new(&d->hopts, &probe, r)) != DX_OK) goto fail;
    dx_http_free(probe);
    err = dx_client_wrap_(&ddb_vt, d, copts, out); /* frees d on failure */
    if (err != DX_OK) return dx_fail(r, err, NULL, "out of memory creating the DynamoDB client");
    return DX_OK;
fail:
    ddb_impl_free(d);
    return err;
}

dx_err dx_ddb_opts_from_env(dx_ddb_opts *o, dx_ddb_env *store, const dx_env *env,
                            const dx_aws_opts *aws, dx_result *r) {
    memset(store, 0, sizeof *store);
    dx_err err = dx_aws_resolve(env, aws, &store->settings, r);
    if (err != DX_OK) return err;
    err = dx_creds_provider_new(env, aws, &store->provider, r);
    if (err != DX_OK) return err;
    dx_creds *c = NULL;
    err = dx_creds_provider_get(store->provider, &c, r);
    if (err != DX_OK) {
        dx_creds_provider_free(store->provider);
        store->provider = NULL;
        return err;
    }
    dx_creds_release(c);
    o->endpoint_url = store->settings.endpoint.url;
    o->region = store->settings.region;
    o->provider = store->provider;
    o->owns_provider = true;
    return DX_OK;
}
