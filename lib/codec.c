/*
 * codec.c - JSON in and out: DynamoDB JSON ({"a":{"S":"x"}}), plain JSON and
 * base64.
 *
 * DESIGN
 * One hand-written, single-pass, recursive-descent parser. Every reader works
 * on a dx_jcur: it loads c->p into a local, advances it, and stores it back
 * before it returns or calls another reader, so the cursor always sits just
 * after the last thing consumed (never after trailing whitespace). The public
 * cursor API, the DynamoDB decoder and the plain decoder are the same code.
 *
 * Hot path (a DynamoDB-JSON item of short strings and numbers):
 *   - whitespace and string bodies are scanned with 256-entry tables; a
 *     string without escapes is found in one scan and copied into the arena
 *     with one memcpy (plus a NUL), so dx_member.name and S text are
 *     NUL-terminated; UTF-8 is checked (dx_utf8_valid) only when the scan saw
 *     a byte >= 0x80;
 *   - the type key of an AttributeValue ("S", "BOOL", ...) is matched in
 *     place, never copied;
 *   - an N whose text is already canonical (the common case: "42", "-1.5") is
 *     recognised in the same scan that finds its closing quote and copied;
 *     anything else goes through dx_value_num, which validates and
 *     canonicalises it;
 *   - members and list elements are collected in a small array on the C
 *     stack and copied once, at the exact size, into the arena when the
 *     container closes; a container that outgrows it continues in an arena
 *     array that doubles. No malloc per value: the arena is the only memory.
 *
 * Depth: c->depth counts containers. In plain JSON and in envelopes walked
 * with the cursor that is every object and array. In DynamoDB JSON it is the
 * item, each M's member object and each L / set array: the one-key wrapper
 * object {"M": ...} is part of its value and is not counted, so an item with
 * DynamoDB's 32 levels of nesting fits inside a response envelope under
 * DX_JSON_MAX_DEPTH. Recursion is bounded by the same counter. Each map level
 * keeps up to 16 members (512 bytes) on the stack, about 1 KB a level in all,
 * so the deepest legal document needs some 64 KB of stack.
 *
 * Errors: DX_ERR_PARSE for JSON syntax, with " at byte N" in the message and
 * r->offset = N (the offending byte, or the start of the offending token);
 * DX_ERR_VALIDATION for DynamoDB value rules, with DynamoDB's own message where
 * it has one and r->offset at the offending value. dx_jcur_ddb_item (and so
 * dx_decode_item) sets r->field to the top-level attribute being decoded, and
 * so does dx_decode_plain for a value error (a number DynamoDB would refuse)
 * in a member of a top-level object.
 * After an error the cursor is spent: its position and depth are unspecified.
 *
 * Must never: read a byte at or past c->end (the input need not be
 * NUL-terminated), recurse deeper than DX_JSON_MAX_DEPTH containers, hand out a
 * partially decoded value on failure, allocate outside the caller's arena and
 * buffer, or go through double for a number.
 */
#include "dynox/codec.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- tables */

#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x

/* RFC 8259 whitespace. */
static const unsigned char ws_tab[256] = {['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1};

/*
 * What a byte means inside a string: 0 ordinary, 1 the closing quote, 2 a
 * backslash, 3 a control character (must be escaped), 4 a non-ASCII byte (the
 * string needs a UTF-8 check). Scanning with mask 7 stops at all of them;
 * once a non-ASCII byte has been seen, mask 3 no longer stops at the others.
 */
enum { SC_QUOTE = 1, SC_BSLASH = 2, SC_CTRL = 3, SC_HIGH = 4 };
static const unsigned char str_tab[256] = {
    R16(SC_CTRL), R16(SC_CTRL),
    0, 0, SC_QUOTE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 */
    R16(0), R16(0),                                         /* 0x30, 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, SC_BSLASH, 0, 0, 0, /* 0x50 */
    R16(0), R16(0),                                         /* 0x60, 0x70 */
    R16(SC_HIGH), R16(SC_HIGH), R16(SC_HIGH), R16(SC_HIGH),
    R16(SC_HIGH), R16(SC_HIGH), R16(SC_HIGH), R16(SC_HIGH),
};

/* base64 alphabet value of a byte, or 0xff. */
static const unsigned char b64_val[256] = {
    R16(0xff), R16(0xff),
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 62, 0xff, 0xff, 0xff, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 0xff, 0xff, 0xff, 0xff, 0xff,
    R16(0xff), R16(0xff), R16(0xff), R16(0xff),
    R16(0xff), R16(0xff), R16(0xff), R16(0xff),
};
static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define UC(p) ((unsigned char)*(p))
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif
#define STACK_MEMBERS 16
#define STACK_ELEMS 16

/* ---------------------------------------------------------------- errors */

static long offset_of(const dx_jcur *c, const char *at) { return (long)(at - c->start); }

/* What sits at `at`, for messages: ", found 'x'" or ", found end of input". */
static void describe(const dx_jcur *c, const char *at, char *buf, size_t size) {
    if (at >= c->end) {
        snprintf(buf, size, ", found end of input");
    } else if (UC(at) > 0x20 && UC(at) < 0x7f) {
        snprintf(buf, size, ", found '%c'", *at);
    } else {
        snprintf(buf, size, ", found byte 0x%02x", UC(at));
    }
}

static dx_err vfail_at(dx_jcur *c, dx_err e, const char *at, bool found, const char *fmt,
                       va_list ap) {
    if (!c->r) return e;
    char what[320], tail[32] = "";
    vsnprintf(what, sizeof what, fmt, ap);
    if (found) describe(c, at, tail, sizeof tail);
    if (e == DX_ERR_PARSE) {
        dx_fail(c->r, e, NULL, "%s%s at byte %ld", what, tail, offset_of(c, at));
    } else {
        dx_fail(c->r, e, NULL, "%s", what);
    }
    c->r->offset = offset_of(c, at);
    return e;
}

/* A JSON syntax error at `at`; the message gains what was found there and the offset. */
static dx_err perr(dx_jcur *c, const char *at, const char *fmt, ...) DX_PRINTF(3, 4);
static dx_err perr(dx_jcur *c, const char *at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    dx_err e = vfail_at(c, DX_ERR_PARSE, at, true, fmt, ap);
    va_end(ap);
    return e;
}

/* A syntax error whose message already says enough (no "found ..."). */
static dx_err perr_plain(dx_jcur *c, const char *at, const char *fmt, ...) DX_PRINTF(3, 4);
static dx_err perr_plain(dx_jcur *c, const char *at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    dx_err e = vfail_at(c, DX_ERR_PARSE, at, false, fmt, ap);
    va_end(ap);
    return e;
}

/* A DynamoDB value rule broken by the value at `at`; the message is kept as given. */
static dx_err verr(dx_jcur *c, const char *at, const char *fmt, ...) DX_PRINTF(3, 4);
static dx_err verr(dx_jcur *c, const char *at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    dx_err e = vfail_at(c, DX_ERR_VALIDATION, at, false, fmt, ap);
    va_end(ap);
    return e;
}

static dx_err nomem(dx_jcur *c, const char *at) {
    if (!c->r) return DX_ERR_NOMEM;
    dx_fail(c->r, DX_ERR_NOMEM, NULL, "out of memory decoding JSON at byte %ld", offset_of(c, at));
    c->r->offset = offset_of(c, at);
    return DX_ERR_NOMEM;
}

/* A failure that came from elsewhere (dx_value_num): keep its message, add where. */
static dx_err fail_from(dx_jcur *c, dx_err e, const char *at) {
    if (c->r) c->r->offset = offset_of(c, at);
    return e;
}

static dx_err too_deep(dx_jcur *c, const char *at) {
    return perr_plain(c, at, "nesting deeper than %d levels", DX_JSON_MAX_DEPTH);
}

dx_err dx_jcur_fail(dx_jcur *c, const char *fmt, ...) {
    const char *p = c->p;
    while (p < c->end && ws_tab[UC(p)]) p++;
    va_list ap;
    va_start(ap, fmt);
    dx_err e = vfail_at(c, DX_ERR_PARSE, p, false, fmt, ap);
    va_end(ap);
    return e;
}

/* ---------------------------------------------------------------- scanning */

static inline const char *skip_ws(const char *p, const char *end) {
    while (p < end && ws_tab[UC(p)]) p++;
    return p;
}

/* The first byte at or after q whose class is in mask, or end. */
static inline const char *scan_plain(const char *q, const char *end, unsigned mask) {
    while (end - q >= 4) {
        if (str_tab[UC(q)] & mask) return q;
        if (str_tab[UC(q + 1)] & mask) return q + 1;
        if (str_tab[UC(q + 2)] & mask) return q + 2;
        if (str_tab[UC(q + 3)] & mask) return q + 3;
        q += 4;
    }
    while (q < end && !(str_tab[UC(q)] & mask)) q++;
    return q;
}

/* A scanned string: its raw bytes between the quotes. */
typedef struct jstr {
    const char *raw;
    size_t len;
    bool esc; /* contains backslash escapes: needs unescape() */
} jstr;

static int hexval(unsigned char h) {
    if (h >= '0' && h <= '9') return h - '0';
    h |= 0x20;
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    return -1;
}

/* The code unit of the \uXXXX at q (q[0] == '\\', q[1] == 'u'), or -1. */
static long hex4(const char *q, const char *end) {
    if (end - q < 6) return -1;
    long v = 0;
    for (int i = 2; i < 6; i++) {
        int h = hexval(UC(q + i));
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Offset of the first byte that starts an invalid UTF-8 sequence in s[0..n). */
static size_t utf8_bad_at(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char b = (unsigned char)s[i];
        size_t len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
        if (len > n - i || !dx_utf8_valid(s + i, len)) return i;
        i += len;
    }
    return n;
}

/*
 * The rest of a string scan, after the fast scan stopped at q on something
 * other than a closing quote. Validates escapes (including surrogate pairs),
 * rejects control characters and checks UTF-8.
 */
static dx_err scan_str_slow(dx_jcur *c, const char *open, const char *q, jstr *s,
                            const char **after) {
    const char *end = c->end;
    unsigned mask = 7;
    bool esc = false, high = false;
    for (;;) {
        q = scan_plain(q, end, mask);
        if (q >= end) return perr_plain(c, open, "unterminated string (no closing '\"')");
        switch (str_tab[UC(q)]) {
        case SC_QUOTE:
            goto closed;
        case SC_HIGH:
            high = true;
            mask = 3;
            q++;
            break;
        case SC_CTRL:
            return perr_plain(c, q,
                              "control character 0x%02x in a string: write it as an escape "
                              "such as \\n or \\u%04x",
                              UC(q), UC(q));
        case SC_BSLASH:
            esc = true;
            if (end - q < 2) return perr_plain(c, open, "unterminated string (no closing '\"')");
            switch (q[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                q += 2;
                break;
            case 'u': {
                long u = hex4(q, end);
                if (u < 0) return perr_plain(c, q, "invalid \\u escape: expected 4 hex digits");
                if (u >= 0xdc00 && u <= 0xdfff)
                    return perr_plain(c, q,
                                      "lone low surrogate \\u%04lx: it must follow a high "
                                      "surrogate (\\ud800-\\udbff)",
                                      u);
                if (u >= 0xd800 && u <= 0xdbff) {
                    long lo = (end - q >= 12 && q[6] == '\\' && q[7] == 'u') ? hex4(q + 6, end) : -1;
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return perr_plain(c, q,
                                          "lone high surrogate \\u%04lx: it must be followed "
                                          "by a low surrogate (\\udc00-\\udfff)",
                                          u);
                    q += 12;
                } else {
                    q += 6;
                }
                break;
            }
            default:
                if (UC(q + 1) > 0x20 && UC(q + 1) < 0x7f)
                    return perr_plain(c, q, "invalid escape '\\%c' in a string", q[1]);
                return perr_plain(c, q, "invalid escape in a string (byte 0x%02x after '\\')",
                                  UC(q + 1));
            }
            break;
        default:
            q++; /* unreachable: class 0 never stops the scan */
        }
    }
closed:
    s->raw = open + 1;
    s->len = (size_t)(q - s->raw);
    s->esc = esc;
    if (high && !dx_utf8_valid(s->raw, s->len))
        return perr_plain(c, s->raw + utf8_bad_at(s->raw, s->len), "invalid UTF-8 in a string");
    *after = q + 1;
    return DX_OK;
}

/* Scans the string whose opening quote is at `open`; *after is past the closing quote. */
static inline dx_err scan_str(dx_jcur *c, const char *open, jstr *s, const char **after) {
    const char *q = scan_plain(open + 1, c->end, 7);
    if (q < c->end && *q == '"') {
        s->raw = open + 1;
        s->len = (size_t)(q - s->raw);
        s->esc = false;
        *after = q + 1;
        return DX_OK;
    }
    return scan_str_slow(c, open, q, s, after);
}

static char *put_utf8(char *o, unsigned long cp) {
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/*
 * Unescapes a string scan_str validated. The output is never longer than the
 * input (\uXXXX is 6 bytes for at most 3; a pair is 12 for 4). Returns its length.
 */
static size_t unescape(const char *s, size_t n, char *out) {
    const char *end = s + n;
    char *o = out;
    while (s < end) {
        const char *bs = memchr(s, '\\', (size_t)(end - s));
        if (!bs) bs = end;
        memcpy(o, s, (size_t)(bs - s));
        o += bs - s;
        s = bs;
        if (s >= end) break;
        switch (s[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned long cp = (unsigned long)hex4(s, end);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned long lo = (unsigned long)hex4(s + 6, end);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                s += 6;
            }
            o = put_utf8(o, cp);
            s += 6;
            continue;
        }
        default: *o++ = s[1]; break; /* " \ / */
        }
        s += 2;
    }
    return (size_t)(o - out);
}

/* The string's text as a NUL-terminated arena copy (unescaped). */
static inline dx_err str_to_arena(dx_jcur *c, const jstr *s, const char **out, size_t *outlen) {
    *out = "";
    *outlen = 0;
    if (s->len > UINT32_MAX) return perr_plain(c, s->raw - 1, "string longer than 4 GiB");
    char *p = dx_arena_alloc(c->arena, s->len + 1);
    if (!p) return nomem(c, s->raw);
    size_t n = s->len;
    if (s->esc) {
        n = unescape(s->raw, s->len, p);
    } else {
        memcpy(p, s->raw, n);
    }
    p[n] = 0;
    *out = p;
    *outlen = n;
    return DX_OK;
}

/* Scans a JSON number at p (RFC 8259 grammar); *after is where it ends. */
static dx_err scan_number(dx_jcur *c, const char *p, const char **after) {
    const char *end = c->end, *q = p;
    if (q < end && *q == '-') q++;
    if (q >= end || (unsigned)(*q - '0') > 9) return perr(c, q, "expected a digit in a number");
    if (*q == '0') {
        q++;
        if (q < end && (unsigned)(*q - '0') <= 9)
            return perr_plain(c, p, "leading zeros are not allowed in a JSON number");
    } else {
        while (q < end && (unsigned)(*q - '0') <= 9) q++;
    }
    if (q < end && *q == '.') {
        q++;
        if (q >= end || (unsigned)(*q - '0') > 9)
            return perr(c, q, "expected a digit after '.' in a number");
        while (q < end && (unsigned)(*q - '0') <= 9) q++;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < end && (*q == '+' || *q == '-')) q++;
        if (q >= end || (unsigned)(*q - '0') > 9)
            return perr(c, q, "expected a digit in the exponent of a number");
        while (q < end && (unsigned)(*q - '0') <= 9) q++;
    }
    *after = q;
    return DX_OK;
}

/*
 * Recognises a number already in DynamoDB's canonical form -- plain decimal,
 * no leading zeros, no trailing zeros after the point, not "-0", at most 38
 * digits and 40 bytes (which keeps it well inside the exponent range) --
 * starting at p. Returns where that form stops (the caller checks that the
 * number really ends there), or NULL when what was read is not canonical.
 * Conservative: a NULL only means "ask dx_value_num".
 */
static inline const char *canon_num(const char *p, const char *end) {
    const char *q = p;
    size_t sig;
    if (q < end && *q == '-') q++;
    if (q >= end) return NULL;
    if (*q == '0') {
        q++;
        if (q >= end || *q != '.') return q - p == 1 ? q : NULL; /* "0" yes, "-0" no */
        q++;
        while (q < end && *q == '0') q++;
        const char *ds = q;
        while (q < end && (unsigned)(*q - '0') <= 9) q++;
        sig = (size_t)(q - ds);
        if (sig == 0 || q[-1] == '0') return NULL;
    } else if ((unsigned)(*q - '1') <= 8) {
        const char *ds = q;
        while (q < end && (unsigned)(*q - '0') <= 9) q++;
        sig = (size_t)(q - ds);
        if (q < end && *q == '.') {
            q++;
            const char *fs = q;
            while (q < end && (unsigned)(*q - '0') <= 9) q++;
            if (q == fs || q[-1] == '0') return NULL;
            sig += (size_t)(q - fs);
        }
    } else {
        return NULL;
    }
    if (sig > DX_NUM_MAX_DIGITS || q - p > 40) return NULL;
    return q;
}

/* Stores number text s[0..n) as an N value: copied when canonical, else via dx_value_num. */
static dx_err make_num(dx_jcur *c, const char *s, size_t n, bool canonical, const char *at,
                       dx_value *out) {
    if (canonical) {
        char *t = dx_arena_alloc(c->arena, n + 1);
        if (!t) return nomem(c, at);
        memcpy(t, s, n);
        t[n] = 0;
        out->type = DX_T_N;
        out->n = (uint32_t)n;
        out->u.s = t;
        return DX_OK;
    }
    dx_err e = dx_value_num(c->arena, s, n, out, c->r);
    return e ? fail_from(c, e, at) : DX_OK;
}

/* ---------------------------------------------------------------- growable arrays */

/* Members of an object being decoded: on the stack until they outgrow it. */
typedef struct mvec {
    dx_member *m;
    uint32_t n, cap;
    bool in_arena;
} mvec;

static dx_member *mvec_grow(dx_arena *a, mvec *v) {
    if (v->cap > UINT32_MAX / 4) return NULL;
    uint32_t cap = v->cap * 2;
    dx_member *m = dx_arena_alloc(a, (size_t)cap * sizeof *m);
    if (!m) return NULL;
    memcpy(m, v->m, (size_t)v->n * sizeof *m);
    v->m = m;
    v->cap = cap;
    v->in_arena = true;
    return &v->m[v->n++];
}

static inline dx_member *mvec_push(dx_arena *a, mvec *v) {
    if (v->n < v->cap) return &v->m[v->n++];
    return mvec_grow(a, v);
}

static inline bool mvec_finish(dx_arena *a, mvec *v, dx_value *out) {
    dx_member *m = v->m;
    if (v->n == 0) {
        m = NULL;
    } else if (!v->in_arena) {
        m = dx_arena_alloc(a, (size_t)v->n * sizeof *m);
        if (!m) return false;
        memcpy(m, v->m, (size_t)v->n * sizeof *m);
    }
    *out = dx_vmap(m, v->n);
    return true;
}

/* Elements of an array being decoded. */
typedef struct vvec {
    dx_value *v;
    uint32_t n, cap;
    bool in_arena;
} vvec;

static dx_value *vvec_grow(dx_arena *a, vvec *v) {
    if (v->cap > UINT32_MAX / 4) return NULL;
    uint32_t cap = v->cap * 2;
    dx_value *e = dx_arena_alloc(a, (size_t)cap * sizeof *e);
    if (!e) return NULL;
    memcpy(e, v->v, (size_t)v->n * sizeof *e);
    v->v = e;
    v->cap = cap;
    v->in_arena = true;
    return &v->v[v->n++];
}

static inline dx_value *vvec_push(dx_arena *a, vvec *v) {
    if (v->n < v->cap) return &v->v[v->n++];
    return vvec_grow(a, v);
}

static inline bool vvec_finish(dx_arena *a, vvec *v, dx_type t, dx_value *out) {
    dx_value *e = v->v;
    if (v->n == 0) {
        e = NULL;
    } else if (!v->in_arena) {
        e = dx_arena_alloc(a, (size_t)v->n * sizeof *e);
        if (!e) return false;
        memcpy(e, v->v, (size_t)v->n * sizeof *e);
    }
    *out = dx_vset(t, e, v->n);
    return true;
}

/* ---------------------------------------------------------------- generic syntax */

static dx_err expect_value_start(dx_jcur *c, const char *p) {
    return perr(c, p, "expected a JSON value (string, number, object, array, true, false or null)");
}

/* Literal true/false/null at p; returns its length or 0. */
static inline size_t literal(const char *p, const char *end, const char *word, size_t n) {
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? n : 0;
}

static dx_err bad_literal(dx_jcur *c, const char *p) {
    return perr_plain(c, p, "invalid literal: expected true, false or null");
}

/*
 * After a member's value: ',' (then *more) or the closing bracket `close`.
 * p is past the value; on success c->p is past the ',' or the bracket.
 */
static inline dx_err after_item(dx_jcur *c, const char *p, char close, bool *more) {
    const char *end = c->end;
    p = skip_ws(p, end);
    if (p < end && *p == ',') {
        c->p = p + 1;
        *more = true;
        return DX_OK;
    }
    if (p < end && *p == close) {
        c->p = p + 1;
        *more = false;
        return DX_OK;
    }
    return close == '}' ? perr(c, p, "expected ',' or '}' after an object member")
                        : perr(c, p, "expected ',' or ']' after an array element");
}

/* At the start of an object key (ws skipped): p must be '"'. Sets *after past the ':'. */
static inline dx_err object_key(dx_jcur *c, const char *p, bool after_comma, jstr *key,
                                const char **after) {
    const char *end = c->end;
    if (p >= end || *p != '"') {
        if (after_comma && p < end && *p == '}')
            return perr_plain(c, p, "trailing comma before '}' is not allowed in JSON");
        return perr(c, p, after_comma ? "expected '\"' to start an object key after ','"
                                      : "expected '\"' to start an object key or '}'");
    }
    dx_err e = scan_str(c, p, key, &p);
    if (e) return e;
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return perr(c, p, "expected ':' after object key");
    *after = skip_ws(p + 1, end);
    return DX_OK;
}

static dx_err skip_value(dx_jcur *c);

/* Skips an object or array (c->p at its opening bracket), validating it. */
static dx_err skip_container(dx_jcur *c) {
    const char *p = c->p, *end = c->end;
    char close = *p == '{' ? '}' : ']';
    if (++c->depth > DX_JSON_MAX_DEPTH) return too_deep(c, p);
    p = skip_ws(p + 1, end);
    if (p < end && *p == close) {
        c->p = p + 1;
        c->depth--;
        return DX_OK;
    }
    bool more = true, after_comma = false;
    while (more) {
        dx_err e;
        if (close == '}') {
            jstr key;
            if ((e = object_key(c, p, after_comma, &key, &p))) return e;
        } else {
            p = skip_ws(p, end);
            if (after_comma && p < end && *p == ']')
                return perr_plain(c, p, "trailing comma before ']' is not allowed in JSON");
        }
        c->p = p;
        if ((e = skip_value(c))) return e;
        if ((e = after_item(c, c->p, close, &more))) return e;
        p = more ? skip_ws(c->p, end) : c->p;
        after_comma = true;
    }
    c->depth--;
    return DX_OK;
}

static dx_err skip_value(dx_jcur *c) {
    const char *p = skip_ws(c->p, c->end), *end = c->end;
    size_t n;
    if (p >= end) return expect_value_start(c, p);
    switch (*p) {
    case '"': {
        jstr s;
        dx_err e = scan_str(c, p, &s, &p);
        if (e) return e;
        c->p = p;
        return DX_OK;
    }
    case '{':
    case '[':
        c->p = p;
        return skip_container(c);
    case 't':
        if (!(n = literal(p, end, "true", 4))) return bad_literal(c, p);
        c->p = p + n;
        return DX_OK;
    case 'f':
        if (!(n = literal(p, end, "false", 5))) return bad_literal(c, p);
        c->p = p + n;
        return DX_OK;
    case 'n':
        if (!(n = literal(p, end, "null", 4))) return bad_literal(c, p);
        c->p = p + n;
        return DX_OK;
    default:
        if (*p == '-' || (unsigned)(*p - '0') <= 9) {
            const char *q;
            dx_err e = scan_number(c, p, &q);
            if (e) return e;
            c->p = q;
            return DX_OK;
        }
        return expect_value_start(c, p);
    }
}

/* ---------------------------------------------------------------- DynamoDB JSON */

static const char msg_empty[] =
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";
static const char msg_multi[] = "Supplied AttributeValue has more than one datatypes set, "
                                "must contain exactly one of the supported datatypes";

static dx_type type_of_name(const char *s, size_t n) {
    switch (n) {
    case 1:
        switch (s[0]) {
        case 'S': return DX_T_S;
        case 'N': return DX_T_N;
        case 'B': return DX_T_B;
        case 'L': return DX_T_L;
        case 'M': return DX_T_M;
        default: return DX_T_NONE;
        }
    case 2:
        if (s[1] != 'S') return DX_T_NONE;
        switch (s[0]) {
        case 'S': return DX_T_SS;
        case 'N': return DX_T_NS;
        case 'B': return DX_T_BS;
        default: return DX_T_NONE;
        }
    case 4:
        if (memcmp(s, "BOOL", 4) == 0) return DX_T_BOOL;
        if (memcmp(s, "NULL", 4) == 0) return DX_T_NULL;
        return DX_T_NONE;
    default:
        return DX_T_NONE;
    }
}

/* Reads the type key at p ('"'); *after is past it. DX_T_NONE (and an error) when unknown. */
static inline dx_err type_key(dx_jcur *c, const char *p, dx_type *t, const char **after) {
    const char *end = c->end;
    size_t rem = (size_t)(end - p);
    /* Fast path: the name has no escapes and sits right there. */
    for (size_t k = 2; k <= 5 && k < rem; k++) {
        if (p[k] == '"') {
            *t = type_of_name(p + 1, k - 1);
            if (*t != DX_T_NONE) {
                *after = p + k + 1;
                return DX_OK;
            }
            break;
        }
        if (p[k] == '\\') break;
    }
    jstr s;
    dx_err e = scan_str(c, p, &s, after);
    if (e) return e;
    char name[8];
    size_t n = s.len;
    if (s.esc && s.len <= 6 * 4) {
        char tmp[24];
        n = unescape(s.raw, s.len, tmp);
        if (n <= sizeof name) memcpy(name, tmp, n);
    } else if (n <= sizeof name) {
        memcpy(name, s.raw, n);
    }
    *t = n <= sizeof name ? type_of_name(name, n) : DX_T_NONE;
    if (*t == DX_T_NONE) {
        int shown = s.len > 40 ? 40 : (int)s.len;
        return verr(c, p,
                    "Supplied AttributeValue has an unknown datatype \"%.*s%s\", must contain "
                    "exactly one of the supported datatypes (S, N, B, BOOL, NULL, L, M, SS, NS, BS)",
                    shown, s.raw, s.len > 40 ? "..." : "");
    }
    return DX_OK;
}

static const char *json_kind(const char *p, const char *end) {
    if (p >= end) return "nothing";
    switch (*p) {
    case '"': return "a string";
    case '{': return "an object";
    case '[': return "an array";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
    }
}

static dx_err ddb_value(dx_jcur *c, dx_value *out);
static dx_err ddb_members(dx_jcur *c, dx_value *out, bool top);
static dx_err ddb_payload(dx_jcur *c, dx_type t, const char *p, dx_value *out);

/* A base64 string (the JSON string at `at`, scanned into s) decoded into the arena. */
static dx_err ddb_binary(dx_jcur *c, const char *at, const jstr *s, dx_value *out) {
    const char *text = s->raw;
    size_t n = s->len;
    if (n / 4 * 3 > UINT32_MAX) return perr_plain(c, at, "binary value longer than 4 GiB");
    if (s->esc) { /* "\/" is a legal way to write '/' */
        char *t = dx_arena_alloc(c->arena, s->len);
        if (!t) return nomem(c, at);
        n = unescape(s->raw, s->len, t);
        text = t;
    }
    unsigned char *bin = dx_arena_alloc(c->arena, n / 4 * 3 + 1);
    if (!bin) return nomem(c, at);
    size_t blen;
    if (n % 4 != 0 || dx_base64_decode(text, n, bin, &blen) != DX_OK)
        return verr(c, at,
                    "Invalid base64 in a binary value: expected standard base64 (A-Z a-z 0-9 + /) "
                    "with '=' padding to a multiple of 4 characters");
    out->type = DX_T_B;
    out->n = (uint32_t)blen;
    out->u.s = (const char *)bin;
    return DX_OK;
}

/*
 * The array of an L or a set value at p (ws skipped). Kept out of line so that
 * its on-stack element array is not part of every M level's stack frame.
 */
static NOINLINE dx_err ddb_array(dx_jcur *c, dx_type t, const char *p, dx_value *out) {
    const char *end = c->end;
    dx_err e;
    if (p >= end || *p != '[')
        return verr(c, p, "An %s value must be a JSON array, found %s", dx_type_name(t),
                    json_kind(p, end));
    if (++c->depth > DX_JSON_MAX_DEPTH) return too_deep(c, p);
    dx_value stack[STACK_ELEMS];
    vvec v = {stack, 0, STACK_ELEMS, false};
    p = skip_ws(p + 1, end);
    bool more = !(p < end && *p == ']');
    if (!more) p++;
    bool after_comma = false;
    while (more) {
        if (after_comma && p < end && *p == ']')
            return perr_plain(c, p, "trailing comma before ']' is not allowed in JSON");
        dx_value *slot = vvec_push(c->arena, &v);
        if (!slot) return nomem(c, p);
        if (t == DX_T_L) {
            c->p = p;
            if ((e = ddb_value(c, slot))) return e;
        } else {
            if (p >= end || *p != '"') {
                if (p < end && (*p == '{' || *p == '[' || *p == '-' || *p == 't' ||
                                *p == 'f' || *p == 'n' || (unsigned)(*p - '0') <= 9))
                    return verr(c, p, "The members of an %s value must be JSON strings, found %s",
                                dx_type_name(t), json_kind(p, end));
                return expect_value_start(c, p);
            }
            dx_type et = t == DX_T_SS ? DX_T_S : t == DX_T_NS ? DX_T_N : DX_T_B;
            if ((e = ddb_payload(c, et, p, slot))) return e;
        }
        if ((e = after_item(c, c->p, ']', &more))) return e;
        p = more ? skip_ws(c->p, end) : c->p;
        after_comma = true;
    }
    c->depth--;
    c->p = p;
    if (!vvec_finish(c->arena, &v, t, out)) return nomem(c, p);
    return DX_OK;
}

/* The payload of an AttributeValue of type t, at p (ws skipped). */
static dx_err ddb_payload(dx_jcur *c, dx_type t, const char *p, dx_value *out) {
    const char *end = c->end;
    dx_err e;
    jstr s;
    size_t n;
    switch (t) {
    case DX_T_S: {
        if (p >= end || *p != '"')
            return verr(c, p, "An S value must be a JSON string, found %s", json_kind(p, end));
        if ((e = scan_str(c, p, &s, &c->p))) return e;
        const char *text;
        if ((e = str_to_arena(c, &s, &text, &n))) return e;
        *out = dx_vsn(text, n);
        return DX_OK;
    }
    case DX_T_N: {
        if (p >= end || *p != '"')
            return verr(c, p,
                        "An N value must be a JSON string holding a number, e.g. {\"N\":\"1.5\"}, "
                        "found %s",
                        json_kind(p, end));
        const char *q = canon_num(p + 1, end);
        if (q && q < end && *q == '"') {
            c->p = q + 1;
            return make_num(c, p + 1, (size_t)(q - p - 1), true, p, out);
        }
        if ((e = scan_str(c, p, &s, &c->p))) return e;
        if (s.esc) {
            char *t2 = dx_arena_alloc(c->arena, s.len + 1);
            if (!t2) return nomem(c, p);
            n = unescape(s.raw, s.len, t2);
            return make_num(c, t2, n, false, p, out);
        }
        return make_num(c, s.raw, s.len, false, p, out);
    }
    case DX_T_B:
        if (p >= end || *p != '"')
            return verr(c, p, "A B value must be a base64 JSON string, found %s", json_kind(p, end));
        if ((e = scan_str(c, p, &s, &c->p))) return e;
        return ddb_binary(c, p, &s, out);
    case DX_T_BOOL:
        if ((n = literal(p, end, "true", 4))) {
            *out = dx_vbool(true);
        } else if ((n = literal(p, end, "false", 5))) {
            *out = dx_vbool(false);
        } else {
            return verr(c, p, "A BOOL value must be true or false, found %s", json_kind(p, end));
        }
        c->p = p + n;
        return DX_OK;
    case DX_T_NULL:
        if ((n = literal(p, end, "true", 4))) {
            *out = dx_vnull();
            c->p = p + n;
            return DX_OK;
        }
        if (literal(p, end, "false", 5))
            return verr(c, p,
                        "One or more parameter values were invalid: Null attribute value types "
                        "must have the value of true");
        return verr(c, p, "A NULL value must be true, found %s", json_kind(p, end));
    case DX_T_M:
        if (p >= end || *p != '{')
            return verr(c, p, "An M value must be a JSON object, found %s", json_kind(p, end));
        c->p = p;
        return ddb_members(c, out, false);
    case DX_T_L:
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS:
        return ddb_array(c, t, p, out);
    case DX_T_NONE:
        break;
    }
    return verr(c, p, "%s", msg_empty);
}

/* {"T": payload} at c->p (ws may precede). */
static dx_err ddb_value(dx_jcur *c, dx_value *out) {
    const char *end = c->end, *p = skip_ws(c->p, end), *open = p;
    dx_err e;
    if (p >= end || *p != '{') {
        if (p < end && (*p == '"' || *p == '[' || *p == '-' || *p == 't' || *p == 'f' ||
                        *p == 'n' || (unsigned)(*p - '0') <= 9))
            return verr(c, p,
                        "Supplied AttributeValue must be an object with one datatype key such as "
                        "{\"S\":\"text\"}, found %s",
                        json_kind(p, end));
        return expect_value_start(c, p);
    }
    p = skip_ws(p + 1, end);
    if (p >= end || *p != '"') {
        if (p < end && *p == '}') return verr(c, open, "%s", msg_empty);
        return perr(c, p, "expected '\"' to start an object key or '}'");
    }
    dx_type t;
    if ((e = type_key(c, p, &t, &p))) return e;
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return perr(c, p, "expected ':' after object key");
    p = skip_ws(p + 1, end);
    if ((e = ddb_payload(c, t, p, out))) return e;
    p = c->p;
    /* Fast path: the wrapper closes right away. */
    if (p < end && *p == '}') {
        c->p = p + 1;
        return DX_OK;
    }
    p = skip_ws(p, end);
    if (p < end && *p == '}') {
        c->p = p + 1;
        return DX_OK;
    }
    if (p < end && *p == ',') {
        const char *k = skip_ws(p + 1, end);
        if (k < end && *k == '"') return verr(c, k, "%s", msg_multi);
        if (k < end && *k == '}')
            return perr_plain(c, k, "trailing comma before '}' is not allowed in JSON");
        return perr(c, k, "expected '\"' to start an object key after ','");
    }
    return perr(c, p, "expected ',' or '}' after an object member");
}

static void set_field(dx_jcur *c, const char *name, size_t n) {
    if (!c->r) return;
    if (n >= sizeof c->r->field) n = sizeof c->r->field - 1;
    memcpy(c->r->field, name, n);
    c->r->field[n] = 0;
}

/*
 * The members of an item or an M value: c->p at '{'. `top` marks an item, whose
 * errors name the attribute in r->field.
 */
static dx_err ddb_members(dx_jcur *c, dx_value *out, bool top) {
    const char *end = c->end, *p = c->p;
    dx_err e;
    if (++c->depth > DX_JSON_MAX_DEPTH) return too_deep(c, p);
    dx_member stack[STACK_MEMBERS];
    mvec v = {stack, 0, STACK_MEMBERS, false};
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        bool more = true, after_comma = false;
        while (more) {
            jstr key;
            if ((e = object_key(c, p, after_comma, &key, &p))) return e;
            dx_member *m = mvec_push(c->arena, &v);
            if (!m) return nomem(c, key.raw);
            size_t n;
            if ((e = str_to_arena(c, &key, &m->name, &n))) return e;
            m->name_len = (uint32_t)n;
            c->p = p;
            e = ddb_value(c, &m->value);
            if (!e) e = after_item(c, c->p, '}', &more);
            if (e) {
                if (top) set_field(c, m->name, n);
                return e;
            }
            p = more ? skip_ws(c->p, end) : c->p;
            after_comma = true;
        }
    }
    c->depth--;
    c->p = p;
    if (!mvec_finish(c->arena, &v, out)) return nomem(c, p);
    return DX_OK;
}

/* ---------------------------------------------------------------- plain JSON */

static dx_err plain_value(dx_jcur *c, dx_value *out);

/* A plain object at p ('{'). Out of line, like ddb_array, to keep frames small. */
static NOINLINE dx_err plain_object(dx_jcur *c, const char *p, dx_value *out) {
    const char *end = c->end;
    dx_err e;
    size_t n;
    if (++c->depth > DX_JSON_MAX_DEPTH) return too_deep(c, p);
    bool top = c->depth == 1; /* a document's object: its errors name the member */
    dx_member stack[STACK_MEMBERS];
    mvec v = {stack, 0, STACK_MEMBERS, false};
    p = skip_ws(p + 1, end);
    bool more = !(p < end && *p == '}'), after_comma = false;
    if (!more) p++;
    while (more) {
        jstr key;
        if ((e = object_key(c, p, after_comma, &key, &p))) return e;
        dx_member *m = mvec_push(c->arena, &v);
        if (!m) return nomem(c, key.raw);
        if ((e = str_to_arena(c, &key, &m->name, &n))) return e;
        m->name_len = (uint32_t)n;
        c->p = p;
        e = plain_value(c, &m->value);
        if (!e) e = after_item(c, c->p, '}', &more);
        if (e) {
            if (top && e == DX_ERR_VALIDATION) set_field(c, m->name, n);
            return e;
        }
        p = more ? skip_ws(c->p, end) : c->p;
        after_comma = true;
    }
    c->depth--;
    c->p = p;
    return mvec_finish(c->arena, &v, out) ? DX_OK : nomem(c, p);
}

/* A plain array at p ('['). */
static NOINLINE dx_err plain_array(dx_jcur *c, const char *p, dx_value *out) {
    const char *end = c->end;
    dx_err e;
    if (++c->depth > DX_JSON_MAX_DEPTH) return too_deep(c, p);
    dx_value stack[STACK_ELEMS];
    vvec v = {stack, 0, STACK_ELEMS, false};
    p = skip_ws(p + 1, end);
    bool more = !(p < end && *p == ']'), after_comma = false;
    if (!more) p++;
    while (more) {
        if (after_comma && p < end && *p == ']')
            return perr_plain(c, p, "trailing comma before ']' is not allowed in JSON");
        dx_value *slot = vvec_push(c->arena, &v);
        if (!slot) return nomem(c, p);
        c->p = p;
        if ((e = plain_value(c, slot))) return e;
        if ((e = after_item(c, c->p, ']', &more))) return e;
        p = more ? skip_ws(c->p, end) : c->p;
        after_comma = true;
    }
    c->depth--;
    c->p = p;
    return vvec_finish(c->arena, &v, DX_T_L, out) ? DX_OK : nomem(c, p);
}

static dx_err plain_value(dx_jcur *c, dx_value *out) {
    const char *end = c->end, *p = skip_ws(c->p, end);
    dx_err e;
    size_t n;
    if (p >= end) return expect_value_start(c, p);
    switch (*p) {
    case '"': {
        jstr s;
        const char *text;
        if ((e = scan_str(c, p, &s, &c->p))) return e;
        if ((e = str_to_arena(c, &s, &text, &n))) return e;
        *out = dx_vsn(text, n);
        return DX_OK;
    }
    case '{':
        return plain_object(c, p, out);
    case '[':
        return plain_array(c, p, out);
    case 't':
        if (!(n = literal(p, end, "true", 4))) return bad_literal(c, p);
        *out = dx_vbool(true);
        c->p = p + n;
        return DX_OK;
    case 'f':
        if (!(n = literal(p, end, "false", 5))) return bad_literal(c, p);
        *out = dx_vbool(false);
        c->p = p + n;
        return DX_OK;
    case 'n':
        if (!(n = literal(p, end, "null", 4))) return bad_literal(c, p);
        *out = dx_vnull();
        c->p = p + n;
        return DX_OK;
    default: {
        if (!(*p == '-' || (unsigned)(*p - '0') <= 9)) return expect_value_start(c, p);
        const char *q;
        if ((e = scan_number(c, p, &q))) return e;
        c->p = q;
        return make_num(c, p, (size_t)(q - p), canon_num(p, q) == q, p, out);
    }
    }
}

/* ---------------------------------------------------------------- cursor API */

void dx_jcur_init(dx_jcur *c, dx_arena *a, const char *json, size_t len, dx_result *r) {
    c->start = c->p = json ? json : "";
    c->end = c->start + (json ? len : 0);
    c->arena = a;
    c->r = r;
    c->depth = 0;
}

char dx_jcur_peek(dx_jcur *c) {
    const char *p = skip_ws(c->p, c->end);
    return p < c->end ? *p : 0;
}

bool dx_jcur_at_end(dx_jcur *c) { return skip_ws(c->p, c->end) == c->end; }

static dx_err open_container(dx_jcur *c, char open) {
    const char *p = skip_ws(c->p, c->end);
    if (p >= c->end || *p != open)
        return perr(c, p, open == '{' ? "expected '{' to start an object"
                                      : "expected '[' to start an array");
    if (++c->depth > DX_JSON_MAX_DEPTH) return too_deep(c, p);
    c->p = p + 1;
    return DX_OK;
}

/*
 * Shared by obj_next and arr_next: decides whether the container closes here
 * and consumes the ',' between members. The cursor is either just past the
 * opening bracket (first member) or just past a member's value: which one is
 * told by the last non-space byte before it, because no value ends in '{' or '['.
 */
static dx_err next_member(dx_jcur *c, char open, char close, bool *done, bool *first) {
    const char *end = c->end, *q = c->p;
    while (q > c->start && ws_tab[UC(q - 1)]) q--;
    *first = q > c->start && q[-1] == open;
    const char *p = skip_ws(c->p, end);
    if (p < end && *p == close) {
        c->p = p + 1;
        c->depth--;
        *done = true;
        return DX_OK;
    }
    if (!*first) {
        if (p >= end || *p != ',')
            return close == '}' ? perr(c, p, "expected ',' or '}' after an object member")
                                : perr(c, p, "expected ',' or ']' after an array element");
        p = skip_ws(p + 1, end);
        if (p < end && *p == close)
            return perr_plain(c, p, "trailing comma before '%c' is not allowed in JSON", close);
    }
    c->p = p;
    *done = false;
    return DX_OK;
}

dx_err dx_jcur_obj_begin(dx_jcur *c) { return open_container(c, '{'); }

dx_err dx_jcur_obj_next(dx_jcur *c, dx_str *key, bool *done) {
    bool first;
    dx_err e = next_member(c, '{', '}', done, &first);
    if (e || *done) return e;
    jstr s;
    const char *p = c->p;
    if ((e = object_key(c, c->p, !first, &s, &p))) return e;
    if (s.esc) {
        const char *text;
        size_t n;
        if ((e = str_to_arena(c, &s, &text, &n))) return e;
        key->ptr = text;
        key->len = n;
    } else {
        key->ptr = s.raw;
        key->len = s.len;
    }
    c->p = p;
    return DX_OK;
}

dx_err dx_jcur_arr_begin(dx_jcur *c) { return open_container(c, '['); }

dx_err dx_jcur_arr_next(dx_jcur *c, bool *done) {
    bool first;
    return next_member(c, '[', ']', done, &first);
}

dx_err dx_jcur_string(dx_jcur *c, dx_str *out) {
    const char *p = skip_ws(c->p, c->end);
    if (p >= c->end || *p != '"') return perr(c, p, "expected a string");
    jstr s;
    const char *after;
    dx_err e = scan_str(c, p, &s, &after);
    if (e) return e;
    if (s.esc) {
        const char *text;
        size_t n;
        if ((e = str_to_arena(c, &s, &text, &n))) return e;
        out->ptr = text;
        out->len = n;
    } else {
        out->ptr = s.raw;
        out->len = s.len;
    }
    c->p = after;
    return DX_OK;
}

dx_err dx_jcur_number(dx_jcur *c, dx_str *out) {
    const char *p = skip_ws(c->p, c->end);
    if (p >= c->end || !(*p == '-' || (unsigned)(*p - '0') <= 9))
        return perr(c, p, "expected a number");
    const char *q;
    dx_err e = scan_number(c, p, &q);
    if (e) return e;
    out->ptr = p;
    out->len = (size_t)(q - p);
    c->p = q;
    return DX_OK;
}

dx_err dx_jcur_bool(dx_jcur *c, bool *out) {
    const char *p = skip_ws(c->p, c->end);
    size_t n;
    if ((n = literal(p, c->end, "true", 4))) {
        *out = true;
    } else if ((n = literal(p, c->end, "false", 5))) {
        *out = false;
    } else {
        return perr(c, p, "expected true or false");
    }
    c->p = p + n;
    return DX_OK;
}

bool dx_jcur_null(dx_jcur *c) {
    const char *p = skip_ws(c->p, c->end);
    if (!literal(p, c->end, "null", 4)) return false;
    c->p = p + 4;
    return true;
}

dx_err dx_jcur_skip(dx_jcur *c) { return skip_value(c); }

dx_err dx_jcur_ddb_value(dx_jcur *c, dx_value *out) {
    dx_value v;
    dx_err e = ddb_value(c, &v);
    if (!e) *out = v;
    return e;
}

dx_err dx_jcur_ddb_item(dx_jcur *c, dx_value *out) {
    const char *p = skip_ws(c->p, c->end);
    if (p >= c->end || *p != '{') return perr(c, p, "expected '{' to start an item");
    c->p = p;
    dx_value v;
    dx_err e = ddb_members(c, &v, true);
    if (!e) *out = v;
    return e;
}

dx_err dx_jcur_plain(dx_jcur *c, dx_value *out) {
    dx_value v;
    dx_err e = plain_value(c, &v);
    if (!e) *out = v;
    return e;
}

/* ---------------------------------------------------------------- whole documents */

typedef dx_err (*reader_fn)(dx_jcur *c, dx_value *out);

static dx_err decode_doc(dx_arena *a, const char *json, size_t len, dx_value *out, dx_result *r,
                         reader_fn read) {
    if (!a || !out || (!json && len)) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "decode: NULL argument");
    dx_jcur c;
    dx_jcur_init(&c, a, json, len, r);
    dx_value v;
    dx_err e = read(&c, &v);
    if (e) return e;
    const char *p = skip_ws(c.p, c.end);
    if (p != c.end) return perr(&c, p, "unexpected data after the JSON document");
    *out = v;
    return DX_OK;
}

dx_err dx_decode_item(dx_arena *a, const char *json, size_t len, dx_value *out, dx_result *r) {
    return decode_doc(a, json, len, out, r, dx_jcur_ddb_item);
}

dx_err dx_decode_value(dx_arena *a, const char *json, size_t len, dx_value *out, dx_result *r) {
    return decode_doc(a, json, len, out, r, dx_jcur_ddb_value);
}

dx_err dx_decode_plain(dx_arena *a, const char *json, size_t len, dx_value *out, dx_result *r) {
    return decode_doc(a, json, len, out, r, dx_jcur_plain);
}

/* ---------------------------------------------------------------- encoding */

/* Appends n bytes without the NUL (the top-level encoder writes it once at the end). */
static inline bool put(dx_buf *b, const char *s, size_t n) {
    if (b->cap - b->len <= n && !dx_buf_reserve(b, n)) return false;
    memcpy(b->ptr + b->len, s, n);
    b->len += n;
    return true;
}

static inline bool put1(dx_buf *b, char ch) {
    if (b->cap - b->len <= 1 && !dx_buf_reserve(b, 1)) return false;
    b->ptr[b->len++] = ch;
    return true;
}

#define PUTL(b, lit) put((b), (lit), sizeof(lit) - 1)

static bool put_b64_str(dx_buf *b, const void *p, size_t n) {
    size_t m = dx_base64_encoded_len(n);
    if (b->cap - b->len <= m + 2 && !dx_buf_reserve(b, m + 2)) return false;
    char *o = b->ptr + b->len;
    *o++ = '"';
    o += dx_base64_encode(p, n, o);
    *o++ = '"';
    b->len = (size_t)(o - b->ptr);
    return true;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if (!(x)) return DX_ERR_NOMEM;                                                             \
    } while (0)

static dx_err enc_ddb(dx_buf *b, const dx_value *v, int depth);

static dx_err enc_members(dx_buf *b, const dx_value *m, int depth) {
    TRY(put1(b, '{'));
    for (uint32_t i = 0; i < m->n; i++) {
        const dx_member *mb = &m->u.members[i];
        if (i) TRY(put1(b, ','));
        TRY(dx_buf_put_json_str(b, mb->name, mb->name_len));
        TRY(put1(b, ':'));
        dx_err e = enc_ddb(b, &mb->value, depth);
        if (e) return e;
    }
    TRY(put1(b, '}'));
    return DX_OK;
}

static dx_err enc_ddb(dx_buf *b, const dx_value *v, int depth) {
    switch ((dx_type)v->type) {
    case DX_T_S:
        TRY(PUTL(b, "{\"S\":") && dx_buf_put_json_str(b, v->u.s, v->n) && put1(b, '}'));
        return DX_OK;
    case DX_T_N:
        TRY(PUTL(b, "{\"N\":") && dx_buf_put_json_str(b, v->u.s, v->n) && put1(b, '}'));
        return DX_OK;
    case DX_T_B:
        TRY(PUTL(b, "{\"B\":") && put_b64_str(b, v->u.s, v->n) && put1(b, '}'));
        return DX_OK;
    case DX_T_BOOL:
        TRY(v->n ? PUTL(b, "{\"BOOL\":true}") : PUTL(b, "{\"BOOL\":false}"));
        return DX_OK;
    case DX_T_NULL:
        TRY(PUTL(b, "{\"NULL\":true}"));
        return DX_OK;
    case DX_T_M: {
        if (depth >= DX_JSON_MAX_DEPTH) return DX_ERR_INVALID_ARG;
        TRY(PUTL(b, "{\"M\":"));
        dx_err e = enc_members(b, v, depth + 1);
        if (e) return e;
        TRY(put1(b, '}'));
        return DX_OK;
    }
    case DX_T_L:
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS: {
        if (depth >= DX_JSON_MAX_DEPTH) return DX_ERR_INVALID_ARG;
        static const char *const open[] = {[DX_T_L] = "{\"L\":[", [DX_T_SS] = "{\"SS\":[",
                                           [DX_T_NS] = "{\"NS\":[", [DX_T_BS] = "{\"BS\":["};
        const char *o = open[v->type];
        TRY(put(b, o, strlen(o)));
        for (uint32_t i = 0; i < v->n; i++) {
            const dx_value *x = &v->u.elems[i];
            if (i) TRY(put1(b, ','));
            if (v->type == DX_T_L) {
                dx_err e = enc_ddb(b, x, depth + 1);
                if (e) return e;
            } else if (v->type == DX_T_BS) {
                TRY(put_b64_str(b, x->u.s, x->n));
            } else {
                TRY(dx_buf_put_json_str(b, x->u.s, x->n));
            }
        }
        TRY(PUTL(b, "]}"));
        return DX_OK;
    }
    case DX_T_NONE:
        break;
    }
    return DX_ERR_INVALID_ARG;
}

/* true when s[0..n) is a JSON number as it stands. */
static bool json_number_ok(const char *s, size_t n) {
    dx_jcur c;
    dx_jcur_init(&c, NULL, s, n, NULL);
    const char *q;
    return n && scan_number(&c, s, &q) == DX_OK && q == s + n;
}

static dx_err enc_plain(dx_buf *b, const dx_value *v, int depth) {
    switch ((dx_type)v->type) {
    case DX_T_S:
        TRY(dx_buf_put_json_str(b, v->u.s, v->n));
        return DX_OK;
    case DX_T_N:
        if (json_number_ok(v->u.s, v->n)) {
            TRY(put(b, v->u.s, v->n));
        } else {
            /* e.g. ".5" or "5." from dx_vn: legal for DynamoDB, not for JSON. */
            dx_num x;
            char text[DX_NUM_TEXT_MAX];
            if (dx_num_parse(v->u.s, v->n, &x, NULL) != DX_OK) return DX_ERR_VALIDATION;
            size_t n = dx_num_format(&x, text);
            TRY(put(b, text, n));
        }
        return DX_OK;
    case DX_T_B:
        TRY(put_b64_str(b, v->u.s, v->n));
        return DX_OK;
    case DX_T_BOOL:
        TRY(v->n ? PUTL(b, "true") : PUTL(b, "false"));
        return DX_OK;
    case DX_T_NULL:
        TRY(PUTL(b, "null"));
        return DX_OK;
    case DX_T_M:
        if (depth >= DX_JSON_MAX_DEPTH) return DX_ERR_INVALID_ARG;
        TRY(put1(b, '{'));
        for (uint32_t i = 0; i < v->n; i++) {
            const dx_member *mb = &v->u.members[i];
            if (i) TRY(put1(b, ','));
            TRY(dx_buf_put_json_str(b, mb->name, mb->name_len) && put1(b, ':'));
            dx_err e = enc_plain(b, &mb->value, depth + 1);
            if (e) return e;
        }
        TRY(put1(b, '}'));
        return DX_OK;
    case DX_T_L:
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS:
        if (depth >= DX_JSON_MAX_DEPTH) return DX_ERR_INVALID_ARG;
        TRY(put1(b, '['));
        for (uint32_t i = 0; i < v->n; i++) {
            const dx_value *x = &v->u.elems[i];
            if (i) TRY(put1(b, ','));
            dx_err e;
            if (v->type == DX_T_L) {
                e = enc_plain(b, x, depth + 1);
            } else {
                /* Members take the set's element type whatever their own tag says. */
                dx_value m = *x;
                m.type = v->type == DX_T_SS ? DX_T_S : v->type == DX_T_NS ? DX_T_N : DX_T_B;
                e = enc_plain(b, &m, depth + 1);
            }
            if (e) return e;
        }
        TRY(put1(b, ']'));
        return DX_OK;
    case DX_T_NONE:
        break;
    }
    return DX_ERR_INVALID_ARG;
}

/* Runs an encoder; on failure the buffer is put back as it was. */
static dx_err encode_top(dx_buf *b, const dx_value *v, dx_err (*enc)(dx_buf *, const dx_value *, int),
                         int depth) {
    if (!b || !v) return DX_ERR_INVALID_ARG;
    size_t len0 = b->len;
    dx_err e = enc(b, v, depth);
    if (!e && !dx_buf_reserve(b, 0)) e = DX_ERR_NOMEM;
    if (e) {
        b->len = len0;
        if (b->ptr) b->ptr[len0] = 0;
        return e;
    }
    b->ptr[b->len] = 0;
    return DX_OK;
}

static dx_err enc_item(dx_buf *b, const dx_value *v, int depth) {
    if (v->type != DX_T_M) return DX_ERR_INVALID_ARG;
    return enc_members(b, v, depth + 1);
}

dx_err dx_encode_item(dx_buf *b, const dx_value *item) { return encode_top(b, item, enc_item, 0); }

dx_err dx_encode_value(dx_buf *b, const dx_value *v) { return encode_top(b, v, enc_ddb, 0); }

dx_err dx_encode_plain(dx_buf *b, const dx_value *v) { return encode_top(b, v, enc_plain, 0); }

/* ---------------------------------------------------------------- base64 */

size_t dx_base64_encode(const void *p, size_t n, char *out) {
    const unsigned char *s = p;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        o[0] = b64_chars[w >> 18];
        o[1] = b64_chars[(w >> 12) & 63];
        o[2] = b64_chars[(w >> 6) & 63];
        o[3] = b64_chars[w & 63];
        o += 4;
    }
    if (n - i == 1) {
        uint32_t w = (uint32_t)s[i] << 16;
        o[0] = b64_chars[w >> 18];
        o[1] = b64_chars[(w >> 12) & 63];
        o[2] = '=';
        o[3] = '=';
        o += 4;
    } else if (n - i == 2) {
        uint32_t w = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        o[0] = b64_chars[w >> 18];
        o[1] = b64_chars[(w >> 12) & 63];
        o[2] = b64_chars[(w >> 6) & 63];
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}

bool dx_buf_put_base64(dx_buf *b, const void *p, size_t n) {
    size_t m = dx_base64_encoded_len(n);
    if (!dx_buf_reserve(b, m)) return false;
    b->len += dx_base64_encode(p, n, b->ptr + b->len);
    b->ptr[b->len] = 0;
    return true;
}

/*
 * Strict RFC 4648 decoding: length a multiple of 4, the standard alphabet, '='
 * only as the last one or two characters, and the bits padding leaves over
 * must be zero (so that every input has exactly one encoding and decoding then
 * encoding gives the input back).
 */
dx_err dx_base64_decode(const char *str, size_t n, unsigned char *out, size_t *outlen) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned char *o = out;
    if (n % 4 != 0) return DX_ERR_PARSE;
    size_t full = n == 0 ? 0 : n - 4; /* the last quad may carry padding */
    for (size_t i = 0; i < full; i += 4) {
        unsigned a = b64_val[s[i]], b = b64_val[s[i + 1]], c = b64_val[s[i + 2]], d = b64_val[s[i + 3]];
        if ((a | b | c | d) & 0x80) return DX_ERR_PARSE;
        uint32_t w = a << 18 | b << 12 | c << 6 | d;
        o[0] = (unsigned char)(w >> 16);
        o[1] = (unsigned char)(w >> 8);
        o[2] = (unsigned char)w;
        o += 3;
    }
    if (n) {
        const unsigned char *q = s + full;
        unsigned a = b64_val[q[0]], b = b64_val[q[1]];
        if ((a | b) & 0x80) return DX_ERR_PARSE;
        if (q[2] == '=') {
            if (q[3] != '=' || (b & 15)) return DX_ERR_PARSE;
            *o++ = (unsigned char)(a << 2 | b >> 4);
        } else {
            unsigned c = b64_val[q[2]];
            if (c & 0x80) return DX_ERR_PARSE;
            if (q[3] == '=') {
                if (c & 3) return DX_ERR_PARSE;
                *o++ = (unsigned char)(a << 2 | b >> 4);
                *o++ = (unsigned char)(b << 4 | c >> 2);
            } else {
                unsigned d = b64_val[q[3]];
                if (d & 0x80) return DX_ERR_PARSE;
                *o++ = (unsigned char)(a << 2 | b >> 4);
                *o++ = (unsigned char)(b << 4 | c >> 2);
                *o++ = (unsigned char)(c << 6 | d);
            }
        }
    }
    if (outlen) *outlen = (size_t)(o - out);
    return DX_OK;
}

/* ---------------------------------------------------------------- compact JSON */

dx_err dx_json_compact(dx_arena *a, const char *s, size_t n, dx_str *out, dx_result *r) {
    dx_jcur c;
    dx_jcur_init(&c, a, s, n, r);
    if (dx_jcur_skip(&c) != DX_OK) return DX_ERR_PARSE;
    if (!dx_jcur_at_end(&c)) return dx_jcur_fail(&c, "unexpected data after the JSON value");
    char *o = dx_arena_alloc(a, n + 1);
    if (!o) return dx_fail(r, DX_ERR_NOMEM, NULL, NULL);
    size_t k = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            o[k++] = ch;
            if (ch == '\\' && i + 1 < n) {
                o[k++] = s[++i];
            } else if (ch == '"') {
                in_str = false;
            }
        } else if (ch == '"') {
            in_str = true;
            o[k++] = ch;
        } else if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
            o[k++] = ch;
        }
    }
    o[k] = 0;
    out->ptr = o;
    out->len = k;
    return DX_OK;
}
