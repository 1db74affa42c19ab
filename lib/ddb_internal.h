/*
 * ddb_internal.h - the stages of the DynamoDB backend (lib/ddb.c), exposed
 * so that tests can check each one on its own: request body encoding, error
 * mapping, response parsing, CRC32.
 *
 * Not installed: only lib/ and tests/ include it.
 */
#ifndef DYNOX_DDB_INTERNAL_H
#define DYNOX_DDB_INTERNAL_H

#include "dynox/client.h"
#include "dynox/ddb.h"

/*
 * Appends the JSON 1.0 request body of q to out (TableName first, then the
 * operation's fields, ReturnConsumedCapacity TOTAL last where it applies).
 * Returns DX_OK, DX_ERR_INVALID_ARG (the op's required inputs missing),
 * DX_ERR_VALIDATION (a value the codec cannot encode, a non-S name in
 * ExpressionAttributeNames), DX_ERR_NOMEM; with a message in r.
 */
dx_err dx_ddb_encode(const dx_req *q, dx_buf *out, dx_result *r);

/*
 * The error kind for DynamoDB's error type (the text after '#' in __type)
 * and HTTP status: the throttling family to DX_ERR_THROUGHPUT, 5xx and
 * unknown types with a 5xx status to DX_ERR_SERVER, unknown types otherwise
 * to DX_ERR_UNKNOWN.
 */
dx_err dx_ddb_error_kind(const char *type, size_t len, int status);

/*
 * Fills r from an error response: r->err (dx_ddb_error_kind), r->type (the
 * text after '#'), r->message (the "message" or "Message" member, or a
 * description of a body that is not DynamoDB's JSON), r->http_status and
 * r->request_id. scratch takes the parser's temporary strings. Returns r->err.
 */
dx_err dx_ddb_error_from_body(int status, const char *body, size_t len, const char *request_id,
                              dx_arena *scratch, dx_result *r);

/*
 * Parses a 2xx response body for request q into out. Values go to arena
 * (NULL: outputs that need memory are dropped, as when the call has no
 * arena); scratch takes temporaries (unprocessed entries while they are
 * matched). Batch Unprocessed* entries are matched back to q->writes /
 * q->keys by deep value equality and reported as indices in out->unprocessed.
 * Returns DX_OK or DX_ERR_PROTOCOL (malformed JSON, an unprocessed entry that
 * matches nothing in the request) / DX_ERR_NOMEM, with a message in r.
 */
dx_err dx_ddb_parse(const dx_req *q, const char *body, size_t len, dx_arena *arena,
                    dx_arena *scratch, dx_resp *out, dx_result *r);

/* CRC32 (IEEE 802.3, as zlib's crc32 and the x-amz-crc32 header): start with crc = 0. */
uint32_t dx_ddb_crc32(uint32_t crc, const void *p, size_t n);

#endif
