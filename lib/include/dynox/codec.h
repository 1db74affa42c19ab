/*
 * dynox/codec.h - JSON in and out: DynamoDB JSON ({"a":{"S":"x"}}), plain
 * JSON ({"a":"x"}) and base64.
 *
 * Decoding is a single pass over the text that builds dx_values directly in
 * an arena: no intermediate tree, no malloc per value, strings without
 * escapes pointing at arena copies made in one memcpy. A cursor API exposes
 * the same parser so that callers (the HTTP backend's response parser, the
 * JSON-lines reader) can walk their own envelope and hand the DynamoDB parts
 * to dx_jcur_ddb_value / dx_jcur_ddb_item.
 *
 * Decoding validates what it reads: numbers (DynamoDB's limits, and they are
 * stored in canonical form), UTF-8 of strings, base64 of binaries, set member
 * types. Errors say what and where: r->offset is the byte offset, r->field
 * the attribute name when inside an item.
 *
 * Errors: DX_ERR_PARSE for JSON syntax (the message ends "at byte N"),
 * DX_ERR_VALIDATION for DynamoDB's value rules (DynamoDB's own message where
 * it has one), DX_ERR_NOMEM. Emptiness of sets and strings and duplicates in
 * sets and maps are not decoding errors: dx_value_validate checks those.
 *
 * Ownership and threads: decoded values, their strings (NUL-terminated, as
 * are member names) and binaries live in the arena given; empty containers
 * have n == 0 and a NULL pointer. Every function is reentrant; a cursor, an
 * arena and a buffer belong to one thread at a time.
 *
 * Must never: read past `len` (input need not be NUL-terminated), recurse
 * deeper than DX_JSON_MAX_DEPTH, or accept a malformed document partially.
 */
#ifndef DYNOX_CODEC_H
#define DYNOX_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "util.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Containers open at once. Plain JSON and cursor-walked envelopes count every
 * object and array; DynamoDB JSON counts the item, each M's member object and
 * each L or set array, not the {"M": ...} wrapper around them -- so an item
 * with DynamoDB's 32 levels of nesting fits inside a response envelope.
 */
#define DX_JSON_MAX_DEPTH 64 /* DynamoDB allows 32 levels of nesting in an item */

/* --- Whole documents --- */

/*
 * {"a":{"S":"x"},...} -> M value. Values and strings are allocated in a.
 * On failure *out is untouched and r (which may be NULL) says what and where;
 * for an item r->field names the top-level attribute being decoded.
 */
dx_err dx_decode_item(dx_arena *a, const char *json, size_t len, dx_value *out, dx_result *r);
/* {"S":"x"} -> value. */
dx_err dx_decode_value(dx_arena *a, const char *json, size_t len, dx_value *out, dx_result *r);
/*
 * Plain JSON -> value with natural types: string S, number N (canonical),
 * true/false BOOL, null NULL, array L, object M. The model layer retypes
 * (sets, binary, datetime) by schema.
 */
dx_err dx_decode_plain(dx_arena *a, const char *json, size_t len, dx_value *out, dx_result *r);

/*
 * M -> {"a":{"S":"x"},...}, appended to b (NUL-terminated). The encoders
 * return DX_ERR_INVALID_ARG for a value of no or unknown type, or nested
 * deeper than DX_JSON_MAX_DEPTH, and DX_ERR_NOMEM; on failure b is left as it
 * was. Strings are written as they are (not checked for UTF-8).
 */
dx_err dx_encode_item(dx_buf *b, const dx_value *item);
/* value -> {"S":"x"}, appended to b. */
dx_err dx_encode_value(dx_buf *b, const dx_value *v);
/*
 * value -> plain JSON: S string, N bare number, B base64 string, BOOL, NULL
 * null, L and sets arrays, M object. Appended to b. An N whose text is not a
 * JSON number (".5") is written canonically; one that is no number at all
 * gives DX_ERR_VALIDATION.
 */
dx_err dx_encode_plain(dx_buf *b, const dx_value *v);

/*
 * --- Cursor: walk a JSON document by hand ---
 * Every reader skips leading whitespace and leaves the cursor just past what
 * it consumed. Strings come back unescaped: a view into the input when they
 * had no escapes, an arena copy when they had. After an error the cursor is
 * spent (its position and depth are unspecified).
 */

typedef struct dx_jcur {
    const char *start, *p, *end;
    dx_arena *arena; /* where decoded strings and values go */
    dx_result *r;    /* may be NULL */
    int depth;
} dx_jcur;

void dx_jcur_init(dx_jcur *c, dx_arena *a, const char *json, size_t len, dx_result *r);
/* The next non-space byte, without consuming anything; 0 at the end. */
char dx_jcur_peek(dx_jcur *c);
/* true when only whitespace remains. */
bool dx_jcur_at_end(dx_jcur *c);
/*
 * Objects: call dx_jcur_obj_begin, then dx_jcur_obj_next until it sets
 * *done; each call yields the next key (unescaped, in the arena when it had
 * escapes) and leaves the cursor at its value, which the caller must
 * consume (read or skip).
 */
dx_err dx_jcur_obj_begin(dx_jcur *c);
dx_err dx_jcur_obj_next(dx_jcur *c, dx_str *key, bool *done);
/* Arrays: same pattern; each call leaves the cursor at the next element. */
dx_err dx_jcur_arr_begin(dx_jcur *c);
dx_err dx_jcur_arr_next(dx_jcur *c, bool *done);
/* Scalars. Strings are unescaped and validated as UTF-8. */
dx_err dx_jcur_string(dx_jcur *c, dx_str *out);
/* The raw text of a JSON number (not canonicalised). */
dx_err dx_jcur_number(dx_jcur *c, dx_str *out);
dx_err dx_jcur_bool(dx_jcur *c, bool *out);
/* Consumes null if it is next and returns true; otherwise consumes nothing. */
bool dx_jcur_null(dx_jcur *c);
/* Skips one value of any kind (validating its syntax). */
dx_err dx_jcur_skip(dx_jcur *c);
/* The DynamoDB value / item / plain value at the cursor. */
dx_err dx_jcur_ddb_value(dx_jcur *c, dx_value *out);
dx_err dx_jcur_ddb_item(dx_jcur *c, dx_value *out);
dx_err dx_jcur_plain(dx_jcur *c, dx_value *out);
/* Records a parse error at the cursor's offset: "what" is e.g. "expected ':'". */
dx_err dx_jcur_fail(dx_jcur *c, const char *fmt, ...) DX_PRINTF(2, 3);

/*
 * Checks that the n bytes at s are exactly one JSON value (whitespace around
 * it allowed) and copies it into a without the whitespace outside strings;
 * the copy is NUL-terminated. DX_ERR_PARSE with the offset when s is not
 * well-formed JSON. Used for json attributes, which store compact JSON text.
 */
dx_err dx_json_compact(dx_arena *a, const char *s, size_t n, dx_str *out, dx_result *r);

/* --- base64 (RFC 4648, with padding) --- */

static inline size_t dx_base64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }
/* Writes dx_base64_encoded_len(n) bytes (no NUL) to out; returns that length. */
size_t dx_base64_encode(const void *p, size_t n, char *out);
bool dx_buf_put_base64(dx_buf *b, const void *p, size_t n);
/*
 * Decodes strictly (padding required, no whitespace, the bits padding leaves
 * over must be zero, so each input has one encoding); out holds n / 4 * 3
 * bytes and *outlen gets the decoded length. DX_ERR_PARSE for anything else.
 */
dx_err dx_base64_decode(const char *s, size_t n, unsigned char *out, size_t *outlen);

#ifdef __cplusplus
}
#endif
#endif
