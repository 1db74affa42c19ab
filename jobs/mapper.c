/*
 * mapper.c - from an input record (a CSV row or a JSON line) to what an
 * operation needs: the item, its key and the fields to write.
 *
 * DESIGN
 * Everything that does not depend on the row is decided once, in
 * dxj_mapper_new: which attribute each CSV column fills (an index table),
 * a hash table from JSON key to attribute (explicit mappings first, then the
 * model's attribute names), the model's defaults and the spec's constants
 * already converted, and the item size limit. CSV configuration mistakes
 * (an unknown column, two columns for one attribute, a key attribute no
 * column or constant gives) are configuration errors found here, because
 * the header is known; for JSON lines the same mistakes reject single rows.
 *
 * dxj_map converts one record in the caller's arena: a value slot per model
 * attribute (absent / value / null), filled from the row, then constants,
 * then, per operation, defaults and generators (put only), the key and
 * required checks and the item size. Values are converted by the model's
 * attribute type:
 *   CSV text (and the string values of a rejects line written from a CSV
 *   row, marked "_dynox": {"csv": true}): numbers validated and
 *   canonicalised ("1,000" is refused), bools true/false/1/0/yes/no in any
 *   case, binary base64, list/map/set as JSON text (sets: a JSON array only,
 *   never a bare string), json as JSON text stored compacted, datetime ISO
 *   8601, ttl epoch seconds or ISO 8601 (converted to epoch seconds). Blanks
 *   around non-string values are trimmed. An empty field is an empty string
 *   for string attributes and absent for every other type.
 *   JSON lines, plain: the JSON type must fit (a number attribute also
 *   takes a numeric string, a bool attribute the words above, a ttl an ISO
 *   string); DynamoDB JSON ({"a":{"S":"x"}}, or an export line
 *   {"Item":{...}}) is taken as typed but must be the attribute's storage
 *   type. In auto mode a line is DynamoDB JSON when it is an export line or
 *   when every top-level value is a one-key object with a type name as key
 *   (checked by a structural pre-scan, only for lines whose first value
 *   looks so). A top-level "_dynox" member is metadata from a rejects or
 *   failures file and is never an attribute.
 * CSV text that is stored as it is (strings, datetimes) is not copied: the
 * value points at the field in the record's chunk, which lives as long as
 * the row; numbers are sized as they are converted, so the item size check
 * costs no second pass over the values.
 * Null (the CSV null marker, JSON null, {"NULL":true}) and an empty set
 * mean "no value": omitted in puts (defaults then apply), REMOVE in updates,
 * unless operation.null_stores, which stores NULL. Defaults and constants in
 * the results point into the mapper (it outlives every row).
 *
 * dxj_record_line writes a row back as one JSON line for the rejects or
 * failures file, with "_dynox" first ({"file","line","record","field",
 * "reason"}, "csv": true for CSV rows, "extra" for fields beyond the
 * header, "raw" for a line that is not a JSON object), so that the file is a
 * valid input whose rows map exactly as the originals did: a line holding
 * only "raw", or a non-empty "extra", is rejected again until the user fixes
 * it, and a line rejected again keeps both.
 *
 * Threads: a mapper is immutable once built; dxj_map and dxj_record_line
 * may run on any number of threads at once (ULIDs are monotonic per thread).
 *
 * Must never: accept a row without its full key, let a column matching
 * nothing pass silently (unless ignore_unknown), allocate per row outside
 * the caller's arena (the rejects writer's scratch arena excepted), or stop
 * the job for a bad row.
 */
#include "mapper.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NO_ATTR ((size_t)-1)
#define T_IGNORE (-1)
#define T_UNKNOWN (-2)
#define SHOW 40 /* bytes of a bad value quoted in a message */

/* Per-attribute state of a row. */
enum { ST_ABSENT = 0, ST_VALUE, ST_NULL };

typedef struct key_slot {
    const char *name; /* NULL: empty slot */
    uint32_t len;
    int32_t target;   /* attribute index, or T_IGNORE */
} key_slot;

struct dxj_mapper {
    const dx_model *m;
    const char *mname;
    dxj_op op;
    dxj_format fmt;
    dxj_json_kind json;
    bool ignore_unknown, null_stores;
    size_t nattrs;
    const dx_attr_def **attrs;
    uint32_t *nlen;     /* attribute name lengths */
    size_t hash, range;
    size_t limit;
    dx_arena arena;     /* everything below */
    dx_value *defaults; /* per attribute, DX_T_NONE when none */
    dx_value *consts;   /* per attribute */
    uint8_t *cstate;    /* per attribute: ST_ABSENT (no constant), ST_VALUE or ST_NULL */
    /* CSV */
    char **cols;
    size_t ncols;
    int32_t *col_attr;  /* per column: attribute index or T_IGNORE */
    /* JSON keys */
    key_slot *tab;
    size_t tabmask;
    bool item_is_attr;  /* "Item" names an attribute: no export-line detection */
};

/* One row being mapped. */
typedef struct row {
    const dxj_mapper *mp;
    dx_arena *a;
    dx_value *vals;
    uint8_t *state;
    const char **src; /* per attribute: the column/key it came from (for messages) */
    uint32_t *vsize;  /* per attribute: dx_value_size of vals[i] + 1 when conversion knew it, else 0 */
    dx_result *r;
} row;

/* ---------------------------------------------------------------- small helpers */

static bool by_key_only(dxj_op op) { return op == DXJ_OP_DELETE_BY_KEY || op == DXJ_OP_GET_DELETE; }

static bool is_key(const dxj_mapper *mp, size_t i) { return i == mp->hash || i == mp->range; }

/* Whether the operation reads attribute i from rows at all. */
static bool wanted(const dxj_mapper *mp, size_t i) { return !by_key_only(mp->op) || is_key(mp, i); }

static size_t attr_index(const dxj_mapper *mp, const char *name, size_t n) {
    for (size_t i = 0; i < mp->nattrs; i++) {
        if (mp->nlen[i] == n && memcmp(mp->attrs[i]->name, name, n) == 0) return i;
    }
    return NO_ATTR;
}

/* Keys are short and few: three bytes and the length spread them well enough, cheaply. */
static inline uint64_t key_hash(const char *s, size_t n) {
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ull;
    if (n) {
        h ^= (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[n / 2] << 8 |
             (uint64_t)(unsigned char)s[n - 1] << 16;
        h *= 0xff51afd7ed558ccdull;
    }
    return h ^ (h >> 29);
}

/* k equals the string literal lit. */
#define STR_IS(k, lit) ((k).len == sizeof(lit) - 1 && memcmp((k).ptr, lit, sizeof(lit) - 1) == 0)

/* The target of key s; *name (when not NULL) gets the mapper's NUL-terminated copy of it. */
static int32_t lookup_name(const dxj_mapper *mp, const char *s, size_t n, const char **name) {
    size_t i = (size_t)key_hash(s, n) & mp->tabmask;
    for (;; i = (i + 1) & mp->tabmask) {
        const key_slot *k = &mp->tab[i];
        if (!k->name) return T_UNKNOWN;
        if (k->len == n && memcmp(k->name, s, n) == 0) {
            if (name) *name = k->name;
            return k->target;
        }
    }
}

static int32_t lookup(const dxj_mapper *mp, const char *s, size_t n) {
    return lookup_name(mp, s, n, NULL);
}

/* Adds a key unless present; returns false when it was there already. */
static bool tab_add(dxj_mapper *mp, const char *s, int32_t target) {
    size_t n = strlen(s);
    size_t i = (size_t)key_hash(s, n) & mp->tabmask;
    for (;; i = (i + 1) & mp->tabmask) {
        key_slot *k = &mp->tab[i];
        if (!k->name) {
            k->name = s;
            k->len = (uint32_t)n;
            k->target = target;
            return true;
        }
        if (k->len == n && memcmp(k->name, s, n) == 0) return false;
    }
}

static bool json_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void trim(const char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

/* Text of v for a message: at most SHOW bytes, "..." when cut. */
static int show_len(size_t n) { return n > SHOW ? SHOW : (int)n; }
static const char *show_more(size_t n) { return n > SHOW ? "..." : ""; }

/*
 * A conversion failure: "attribute 'age' (number, from column 'Age'): <detail>",
 * r->field = the attribute.
 */
static dx_err bad(const row *rw, size_t idx, dx_err e, const char *fmt, ...) DX_PRINTF(4, 5);
static dx_err bad(const row *rw, size_t idx, dx_err e, const char *fmt, ...) {
    const dx_attr_def *d = rw->mp->attrs[idx];
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    const char *src = rw->src ? rw->src[idx] : NULL;
    const char *kind = rw->mp->fmt == DXJ_FMT_CSV ? "column" : "key";
    if (src && strcmp(src, d->name) != 0)
        return dx_fail(rw->r, e, d->name, "attribute '%s' (%s, from %s '%s'): %s", d->name,
                       dx_attr_type_name(d->type), kind, src, detail);
    return dx_fail(rw->r, e, d->name, "attribute '%s' (%s): %s", d->name,
                   dx_attr_type_name(d->type), detail);
}

static dx_err nomem(const row *rw) { return dx_fail(rw->r, DX_ERR_NOMEM, NULL, "out of memory mapping a row"); }

/* ---------------------------------------------------------------- conversions */

static bool bool_word(const char *s, size_t n, bool *out) {
    static const struct {
        const char *w;
        bool v;
    } words[] = {{"true", true}, {"false", false}, {"1", true}, {"0", false}, {"yes", true}, {"no", false}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i].w) == n && strncasecmp(words[i].w, s, n) == 0) {
            *out = words[i].v;
            return true;
        }
    return false;
}

static dx_err conv_number(const row *rw, size_t idx, const char *s, size_t n, dx_value *out) {
    dx_err e = dx_value_num(rw->a, s, n, out, NULL);
    if (e == DX_ERR_NOMEM) return nomem(rw);
    if (e) {
        dx_result in; /* only now: the result is large, and rows are many */
        dx_result_clear(&in);
        dx_value_num(rw->a, s, n, out, &in);
        bool range = strstr(in.message, "overflow") || strstr(in.message, "underflow") ||
                     strstr(in.message, "significant");
        if (range) return bad(rw, idx, DX_ERR_VALIDATION, "%s (got %.*s%s)", in.message, show_len(n), s, show_more(n));
        return bad(rw, idx, DX_ERR_VALIDATION,
                   "needs a number such as 42, -1.5 or 2.5e3 (no thousands separators or units), "
                   "got \"%.*s%s\"",
                   show_len(n), s, show_more(n));
    }
    return DX_OK;
}

/* Epoch seconds from a number (whole) or ISO 8601 text. */
static dx_err conv_ttl(const row *rw, size_t idx, const char *s, size_t n, dx_value *out) {
    dx_num x;
    if (dx_num_parse(s, n, &x, NULL) == DX_OK) {
        dx_err e = dx_value_from_num(rw->a, &x, out);
        if (e) return nomem(rw);
        if (memchr(out->u.s, '.', out->n))
            return bad(rw, idx, DX_ERR_VALIDATION, "needs whole epoch seconds, got %.*s%s", show_len(n), s, show_more(n));
        return DX_OK;
    }
    int64_t t;
    if (dx_datetime_parse(s, n, &t)) return dx_value_i64(rw->a, t, out) != DX_OK ? nomem(rw) : DX_OK;
    return bad(rw, idx, DX_ERR_VALIDATION,
               "needs epoch seconds (1767225600) or an ISO 8601 time (2026-01-01T00:00:00Z), got "
               "\"%.*s%s\"",
               show_len(n), s, show_more(n));
}

static dx_err conv_base64(const row *rw, size_t idx, const char *s, size_t n, dx_value *out) {
    unsigned char *p = dx_arena_alloc(rw->a, n / 4 * 3 + 1);
    if (!p) return nomem(rw);
    size_t len = 0;
    if (dx_base64_decode(s, n, p, &len) != DX_OK)
        return bad(rw, idx, DX_ERR_VALIDATION,
                   "needs base64 text (RFC 4648, padded, e.g. \"aGVsbG8=\"), got \"%.*s%s\"",
                   show_len(n), s, show_more(n));
    *out = dx_vb(p, len);
    return DX_OK;
}

static const char *type_want(dx_attr_type t) {
    switch (t) {
    case DX_ATTR_STRING:
        return "a string";
    case DX_ATTR_NUMBER:
        return "a number (or a numeric string)";
    case DX_ATTR_BINARY:
        return "base64 text";
    case DX_ATTR_BOOL:
        return "true or false";
    case DX_ATTR_LIST:
        return "an array";
    case DX_ATTR_MAP:
        return "an object";
    case DX_ATTR_STRING_SET:
        return "an array of strings";
    case DX_ATTR_NUMBER_SET:
        return "an array of numbers";
    case DX_ATTR_BINARY_SET:
        return "an array of base64 strings";
    case DX_ATTR_JSON:
        return "any JSON value";
    case DX_ATTR_DATETIME:
        return "an ISO 8601 string such as \"2026-11-25T12:00:00Z\"";
    case DX_ATTR_TTL:
        return "epoch seconds or an ISO 8601 string";
    }
    return "a value";
}

/* What a JSON value starting with ch is, for messages. */
static const char *json_kind(const char *p, size_t n) {
    char ch = n ? *p : 0;
    if ((ch == 't' || ch == 'f' || ch == 'n')) {
        const char *w = ch == 't' ? "true" : ch == 'f' ? "false" : "null";
        size_t wl = strlen(w);
        if (n < wl || memcmp(p, w, wl) != 0) return "something that is not JSON";
    }
    switch (ch) {
    case '"':
        return "a string";
    case '{':
        return "an object";
    case '[':
        return "an array";
    case 't':
    case 'f':
        return "a boolean";
    case 'n':
        return "null";
    case 0:
        return "nothing";
    default:
        return (ch == '-' || (ch >= '0' && ch <= '9')) ? "a number" : "something that is not JSON";
    }
}

/* DynamoDB's rules (sets non-empty and without duplicates, maps without repeated names, depth). */
static dx_err ddb_check(const row *rw, size_t idx, const dx_value *v) {
    dx_result in;
    dx_result_clear(&in);
    if (dx_value_validate(v, rw->mp->attrs[idx]->name, &in) == DX_OK) return DX_OK;
    return bad(rw, idx, DX_ERR_VALIDATION, "%s", in.message);
}

/* A set from a plain array; an empty array is "no value" (DynamoDB has no empty sets). */
static dx_err conv_set(const row *rw, size_t idx, const dx_value *plain, dx_value *out, uint8_t *st) {
    const dx_attr_def *d = rw->mp->attrs[idx];
    if (plain->type != DX_T_L)
        return bad(rw, idx, DX_ERR_VALIDATION, "needs a JSON array such as %s",
                   d->type == DX_ATTR_NUMBER_SET ? "[1, 2.5]" : "[\"a\", \"b\"]");
    if (plain->n == 0) {
        *st = ST_NULL;
        return DX_OK;
    }
    dx_value *el = dx_arena_alloc(rw->a, plain->n * sizeof *el);
    if (!el) return nomem(rw);
    for (uint32_t i = 0; i < plain->n; i++) {
        const dx_value *x = &plain->u.elems[i];
        dx_err e = DX_OK;
        if (d->type == DX_ATTR_STRING_SET && x->type == DX_T_S) {
            el[i] = *x;
        } else if (d->type == DX_ATTR_NUMBER_SET && x->type == DX_T_N) {
            el[i] = *x;
        } else if (d->type == DX_ATTR_NUMBER_SET && x->type == DX_T_S) {
            dx_result in;
            dx_result_clear(&in);
            e = dx_value_num(rw->a, x->u.s, x->n, &el[i], &in);
            if (e == DX_ERR_NOMEM) return nomem(rw);
            if (e)
                return bad(rw, idx, DX_ERR_VALIDATION, "element %u is not a number: \"%.*s%s\"",
                           (unsigned)i, show_len(x->n), x->u.s, show_more(x->n));
        } else if (d->type == DX_ATTR_BINARY_SET && x->type == DX_T_S) {
            if ((e = conv_base64(rw, idx, x->u.s, x->n, &el[i])) != DX_OK) return e;
        } else {
            return bad(rw, idx, DX_ERR_VALIDATION, "needs %s; element %u is %s", type_want(d->type),
                       (unsigned)i,
                       x->type == DX_T_S ? "a string" : x->type == DX_T_N ? "a number"
                       : x->type == DX_T_BOOL ? "a boolean" : x->type == DX_T_NULL ? "null"
                       : x->type == DX_T_L ? "an array" : "an object");
        }
    }
    *out = dx_vset(dx_attr_type_storage(d->type), el, plain->n);
    *st = ST_VALUE;
    return ddb_check(rw, idx, out);
}

static dx_err conv_json_text(const row *rw, size_t idx, const char *s, size_t n, dx_value *out) {
    dx_result in;
    dx_result_clear(&in);
    dx_str c;
    dx_err e = dx_json_compact(rw->a, s, n, &c, &in);
    if (e == DX_ERR_NOMEM) return nomem(rw);
    if (e)
        return bad(rw, idx, DX_ERR_VALIDATION, "needs JSON text, got \"%.*s%s\": %s", show_len(n),
                   s, show_more(n), in.message);
    *out = dx_vsn(c.ptr, c.len);
    return DX_OK;
}

/*
 * CSV text for attribute idx. *st gets ST_VALUE, ST_ABSENT (an empty field of a
 * non-string attribute) or ST_NULL (an empty set).
 */
/*
 * borrow: s is NUL-terminated and lives as long as the row (a CSV field in its
 * chunk), so text values may point at it instead of being copied.
 */
static dx_err conv_text(const row *rw, size_t idx, const char *s, size_t n, dx_value *out,
                        uint8_t *st, bool borrow) {
    const dx_attr_def *d = rw->mp->attrs[idx];
    *st = ST_VALUE;
    if (d->type == DX_ATTR_STRING) {
        const char *t = borrow && s[n] == 0 ? s : dx_arena_strndup(rw->a, s, n);
        if (!t) return nomem(rw);
        *out = dx_vsn(t, n);
        rw->vsize[idx] = (uint32_t)n + 1;
        return DX_OK;
    }
    if (d->type == DX_ATTR_NUMBER || d->type == DX_ATTR_BOOL || d->type == DX_ATTR_DATETIME ||
        d->type == DX_ATTR_TTL)
        trim(&s, &n);
    if (n == 0) {
        *st = ST_ABSENT;
        return DX_OK;
    }
    dx_err e;
    dx_value plain;
    dx_result in;
    switch (d->type) {
    case DX_ATTR_STRING:
        break;
    case DX_ATTR_DATETIME: {
        if (!dx_datetime_parse(s, n, NULL))
            return bad(rw, idx, DX_ERR_VALIDATION,
                       "needs ISO 8601 text such as \"2026-11-25T12:00:00Z\" "
                       "(YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm)), got \"%.*s%s\"",
                       show_len(n), s, show_more(n));
        /* trimmed: a borrowed field is NUL-terminated only when nothing was cut off its end */
        const char *t = borrow && s[n] == 0 ? s : dx_arena_strndup(rw->a, s, n);
        if (!t) return nomem(rw);
        *out = dx_vsn(t, n);
        rw->vsize[idx] = (uint32_t)n + 1;
        return DX_OK;
    }
    case DX_ATTR_NUMBER:
        e = conv_number(rw, idx, s, n, out);
        /* dx_value_num writes canonical text: sized from the text, no parse */
        if (!e) rw->vsize[idx] = (uint32_t)dx_num_canon_size(out->u.s, out->n) + 1;
        return e;
    case DX_ATTR_TTL:
        return conv_ttl(rw, idx, s, n, out);
    case DX_ATTR_BOOL: {
        bool b;
        if (!bool_word(s, n, &b))
            return bad(rw, idx, DX_ERR_VALIDATION,
                       "needs true or false (also 1/0, yes/no, in any case), got \"%.*s%s\"",
                       show_len(n), s, show_more(n));
        *out = dx_vbool(b);
        rw->vsize[idx] = 2;
        return DX_OK;
    }
    case DX_ATTR_BINARY:
        return conv_base64(rw, idx, s, n, out);
    case DX_ATTR_JSON:
        return conv_json_text(rw, idx, s, n, out);
    case DX_ATTR_LIST:
    case DX_ATTR_MAP:
    case DX_ATTR_STRING_SET:
    case DX_ATTR_NUMBER_SET:
    case DX_ATTR_BINARY_SET:
        dx_result_clear(&in);
        e = dx_decode_plain(rw->a, s, n, &plain, &in);
        if (e == DX_ERR_NOMEM) return nomem(rw);
        if (e)
            return bad(rw, idx, DX_ERR_VALIDATION, "needs JSON text (%s), got \"%.*s%s\": %s",
                       type_want(d->type), show_len(n), s, show_more(n), in.message);
        if (d->type == DX_ATTR_LIST || d->type == DX_ATTR_MAP) {
            dx_type want = d->type == DX_ATTR_LIST ? DX_T_L : DX_T_M;
            if (plain.type != (uint32_t)want)
                return bad(rw, idx, DX_ERR_VALIDATION, "needs JSON text holding %s, got \"%.*s%s\"",
                           type_want(d->type), show_len(n), s, show_more(n));
            *out = plain;
            return ddb_check(rw, idx, out);
        }
        return conv_set(rw, idx, &plain, out, st);
    }
    return bad(rw, idx, DX_ERR_VALIDATION, "attribute type %d is unknown", (int)d->type);
}

/* The row's JSON is broken: DX_ERR_PARSE with the codec's message (it says where). */
static dx_err syntax(const row *rw, const dx_result *jr, const char *key) {
    dx_err e = jr->err == DX_ERR_NOMEM ? DX_ERR_NOMEM : DX_ERR_PARSE;
    if (jr->err == DX_ERR_VALIDATION) e = DX_ERR_VALIDATION;
    if (key) return dx_fail(rw->r, e, key, "line is not valid JSON (in the value for '%s'): %s", key, jr->message);
    return dx_fail(rw->r, e, NULL, "line is not valid JSON: %s", jr->message);
}

/* Pointer to the first non-space byte at the cursor. */
static const char *cur_at(const dx_jcur *c) {
    const char *p = c->p;
    while (p < c->end && json_ws(*p)) p++;
    return p;
}

/*
 * A plain JSON value at the cursor for attribute idx. With csvtext, string
 * values are CSV text (a rejects line written from a CSV row).
 */
static dx_err conv_json(const row *rw, size_t idx, dx_jcur *c, dx_result *jr, bool csvtext,
                        dx_value *out, uint8_t *st) {
    const dx_attr_def *d = rw->mp->attrs[idx];
    char ch = dx_jcur_peek(c);
    *st = ST_VALUE;
    if (ch == 'n') {
        if (!dx_jcur_null(c)) {
            dx_jcur_skip(c);
            return syntax(rw, jr, d->name);
        }
        *st = ST_NULL;
        return DX_OK;
    }
    const char *p0 = cur_at(c);
    if (d->type == DX_ATTR_JSON && !(csvtext && ch == '"')) {
        if (dx_jcur_skip(c) != DX_OK) return syntax(rw, jr, d->name);
        dx_str t;
        if (dx_json_compact(rw->a, p0, (size_t)(c->p - p0), &t, NULL) != DX_OK) return nomem(rw);
        *out = dx_vsn(t.ptr, t.len);
        return DX_OK;
    }
    dx_err e;
    if (ch == '"') {
        dx_str s;
        if (dx_jcur_string(c, &s) != DX_OK) return syntax(rw, jr, d->name);
        if (csvtext) return conv_text(rw, idx, s.ptr, s.len, out, st, false);
        switch (d->type) {
        case DX_ATTR_STRING:
        case DX_ATTR_DATETIME: {
            if (d->type == DX_ATTR_DATETIME && !dx_datetime_parse(s.ptr, s.len, NULL))
                return bad(rw, idx, DX_ERR_VALIDATION,
                           "needs ISO 8601 text such as \"2026-11-25T12:00:00Z\" "
                           "(YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm)), got \"%.*s%s\"",
                           show_len(s.len), s.ptr, show_more(s.len));
            char *t = dx_arena_strndup(rw->a, s.ptr, s.len);
            if (!t) return nomem(rw);
            *out = dx_vsn(t, s.len);
            return DX_OK;
        }
        case DX_ATTR_NUMBER:
            return conv_number(rw, idx, s.ptr, s.len, out);
        case DX_ATTR_TTL:
            return conv_ttl(rw, idx, s.ptr, s.len, out);
        case DX_ATTR_BOOL: {
            bool b;
            if (!bool_word(s.ptr, s.len, &b))
                return bad(rw, idx, DX_ERR_VALIDATION,
                           "needs true or false (or the strings true/false/1/0/yes/no), got "
                           "\"%.*s%s\"",
                           show_len(s.len), s.ptr, show_more(s.len));
            *out = dx_vbool(b);
            return DX_OK;
        }
        case DX_ATTR_BINARY:
            return conv_base64(rw, idx, s.ptr, s.len, out);
        case DX_ATTR_JSON:
        case DX_ATTR_LIST:
        case DX_ATTR_MAP:
        case DX_ATTR_STRING_SET:
        case DX_ATTR_NUMBER_SET:
        case DX_ATTR_BINARY_SET:
            break;
        }
        return bad(rw, idx, DX_ERR_VALIDATION, "needs %s, got a string \"%.*s%s\"",
                   type_want(d->type), show_len(s.len), s.ptr, show_more(s.len));
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
        dx_str num;
        if (dx_jcur_number(c, &num) != DX_OK) return syntax(rw, jr, d->name);
        if (d->type == DX_ATTR_NUMBER) return conv_number(rw, idx, num.ptr, num.len, out);
        if (d->type == DX_ATTR_TTL) return conv_ttl(rw, idx, num.ptr, num.len, out);
        return bad(rw, idx, DX_ERR_VALIDATION, "needs %s, got a number %.*s%s", type_want(d->type),
                   show_len(num.len), num.ptr, show_more(num.len));
    }
    if (ch == 't' || ch == 'f') {
        bool b;
        if (dx_jcur_bool(c, &b) != DX_OK) return syntax(rw, jr, d->name);
        if (d->type != DX_ATTR_BOOL)
            return bad(rw, idx, DX_ERR_VALIDATION, "needs %s, got %s", type_want(d->type), b ? "true" : "false");
        *out = dx_vbool(b);
        return DX_OK;
    }
    if (ch == '[' || ch == '{') {
        bool list_like = d->type == DX_ATTR_LIST || d->type == DX_ATTR_STRING_SET ||
                         d->type == DX_ATTR_NUMBER_SET || d->type == DX_ATTR_BINARY_SET;
        if ((ch == '[' && !list_like) || (ch == '{' && d->type != DX_ATTR_MAP)) {
            const char *got = ch == '[' ? "an array" : "an object";
            if (dx_jcur_skip(c) != DX_OK) return syntax(rw, jr, d->name);
            return bad(rw, idx, DX_ERR_VALIDATION, "needs %s, got %s", type_want(d->type), got);
        }
        dx_value plain;
        e = dx_jcur_plain(c, &plain);
        if (e) return syntax(rw, jr, d->name);
        if (d->type == DX_ATTR_LIST || d->type == DX_ATTR_MAP) {
            *out = plain;
            return ddb_check(rw, idx, out);
        }
        return conv_set(rw, idx, &plain, out, st);
    }
    dx_jcur_skip(c);
    return syntax(rw, jr, d->name);
}

/* A DynamoDB-typed value (already decoded and validated by the codec) for attribute idx. */
static dx_err conv_ddb(const row *rw, size_t idx, const dx_value *v, dx_value *out, uint8_t *st) {
    const dx_attr_def *d = rw->mp->attrs[idx];
    if (v->type == DX_T_NULL) {
        *st = ST_NULL;
        return DX_OK;
    }
    *st = ST_VALUE;
    dx_type want = dx_attr_type_storage(d->type);
    if (v->type != (uint32_t)want)
        return bad(rw, idx, DX_ERR_VALIDATION, "is stored as %s, but the line gives a %s value",
                   dx_type_name(want), dx_type_name((dx_type)v->type));
    switch (d->type) {
    case DX_ATTR_DATETIME:
        if (!dx_datetime_parse(v->u.s, v->n, NULL))
            return bad(rw, idx, DX_ERR_VALIDATION,
                       "needs ISO 8601 text such as \"2026-11-25T12:00:00Z\", got \"%.*s%s\"",
                       show_len(v->n), v->u.s, show_more(v->n));
        break;
    case DX_ATTR_TTL:
        if (memchr(v->u.s, '.', v->n))
            return bad(rw, idx, DX_ERR_VALIDATION, "needs whole epoch seconds, got %.*s",
                       show_len(v->n), v->u.s);
        break;
    case DX_ATTR_JSON: {
        /* Stored compact, as items store json attributes. */
        dx_result in;
        dx_result_clear(&in);
        dx_str c;
        dx_err e = dx_json_compact(rw->a, v->u.s, v->n, &c, &in);
        if (e == DX_ERR_NOMEM) return nomem(rw);
        if (e) return bad(rw, idx, DX_ERR_VALIDATION, "holds text that is not valid JSON: %s", in.message);
        *out = dx_vsn(c.ptr, c.len);
        return DX_OK;
    }
    case DX_ATTR_LIST:
    case DX_ATTR_MAP:
    case DX_ATTR_STRING_SET:
    case DX_ATTR_NUMBER_SET:
    case DX_ATTR_BINARY_SET:
        *out = *v;
        return ddb_check(rw, idx, out);
    case DX_ATTR_STRING:
    case DX_ATTR_NUMBER:
    case DX_ATTR_BINARY:
    case DX_ATTR_BOOL:
        break;
    }
    *out = *v;
    return DX_OK;
}

/* ---------------------------------------------------------------- rows */

/* Records attribute idx's value from source `src`; a second source for it is an error. */
static dx_err claim(row *rw, size_t idx, const char *src) {
    if (rw->src[idx])
        return dx_fail(rw->r, DX_ERR_VALIDATION, rw->mp->attrs[idx]->name,
                       "attribute '%s' is given twice in the row (by '%s' and '%s'); keep one",
                       rw->mp->attrs[idx]->name, rw->src[idx], src);
    rw->src[idx] = src;
    return DX_OK;
}

static dx_err map_csv(row *rw, const dxj_record *rec) {
    const dxj_mapper *mp = rw->mp;
    size_t n = rec->nfields < mp->ncols ? rec->nfields : mp->ncols;
    for (size_t j = 0; j < n; j++) {
        int32_t t = mp->col_attr[j];
        if (t < 0) continue;
        size_t idx = (size_t)t;
        rw->src[idx] = mp->cols[j];
        const dx_str *f = &rec->fields[j];
        if (!f->ptr) {
            rw->state[idx] = ST_NULL;
            continue;
        }
        dx_err e = conv_text(rw, idx, f->ptr, f->len, &rw->vals[idx], &rw->state[idx], true);
        if (e) return e;
    }
    return DX_OK;
}

/* Whether the value at the cursor looks like a DynamoDB AttributeValue: {"<type>": ...}. */
static bool ddb_like(const dx_jcur *c) {
    dx_jcur k = *c;
    k.r = NULL;
    if (dx_jcur_peek(&k) != '{' || dx_jcur_obj_begin(&k) != DX_OK) return false;
    dx_str key;
    bool done;
    if (dx_jcur_obj_next(&k, &key, &done) != DX_OK || done) return false;
    return dx_type_from_name(key.ptr, key.len) != DX_T_NONE;
}

/*
 * Auto mode: whether every top-level value from the cursor (at a member's
 * value) on is DynamoDB JSON, "_dynox" excepted. A structural pre-scan that
 * builds nothing; malformed JSON says false (plain mapping reports it).
 */
static bool all_ddb_like(const dx_jcur *c) {
    dx_jcur k = *c;
    k.r = NULL;
    for (bool meta = false;;) {
        if (!meta && !ddb_like(&k)) return false;
        if (dx_jcur_skip(&k) != DX_OK) return false;
        dx_str key;
        bool done;
        if (dx_jcur_obj_next(&k, &key, &done) != DX_OK) return false;
        if (done) return true;
        meta = STR_IS(key, "_dynox");
    }
}

/* What a rejects or failures line says about its row in "_dynox". */
typedef struct meta {
    bool csv;       /* "csv": true: the string values are CSV text */
    dx_str raw;     /* "raw": the JSON text of the unreadable original line, or empty */
    dx_str extra;   /* "extra": the JSON text of a non-empty array of surplus CSV fields, or empty */
} meta;

/* "_dynox" as the first member: reads its "csv" flag, and where "raw" and "extra" are. */
static dx_err read_meta(dx_jcur *c, meta *mt) {
    dx_err e = dx_jcur_obj_begin(c);
    if (e) return e;
    for (;;) {
        dx_str k;
        bool done;
        if ((e = dx_jcur_obj_next(c, &k, &done)) != DX_OK) return e;
        if (done) return DX_OK;
        if (STR_IS(k, "csv") && (dx_jcur_peek(c) == 't' || dx_jcur_peek(c) == 'f')) {
            if ((e = dx_jcur_bool(c, &mt->csv)) != DX_OK) return e;
            continue;
        }
        bool raw = STR_IS(k, "raw") && dx_jcur_peek(c) == '"';
        bool extra = STR_IS(k, "extra") && dx_jcur_peek(c) == '[';
        const char *p0 = cur_at(c);
        if ((e = dx_jcur_skip(c)) != DX_OK) return e;
        dx_str span = {p0, (size_t)(c->p - p0)};
        if (raw) mt->raw = span;
        if (extra) { /* only a non-empty array counts */
            size_t i = 1;
            while (i < span.len && json_ws(span.ptr[i])) i++;
            if (i < span.len && span.ptr[i] != ']') mt->extra = span;
        }
    }
}

/* A key of the line -> attribute index, or a negative T_ value; *name as lookup_name. */
static int32_t resolve(const row *rw, const char *key, size_t n, const char **name) {
    int32_t t = lookup_name(rw->mp, key, n, name);
    if (t >= 0 && !wanted(rw->mp, (size_t)t)) return T_IGNORE;
    return t;
}

static dx_err unknown_key(const row *rw, const char *key, size_t n) {
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(n > 100 ? 100 : n), key);
    return dx_fail(rw->r, DX_ERR_VALIDATION, name,
                   "key '%s' matches no attribute of model %s (set mapping.ignore_unknown or map it)",
                   name, rw->mp->mname);
}

/* Keeps a NUL-terminated copy of a key for messages. */
static const char *key_copy(const row *rw, dx_str k) {
    const char *s = dx_arena_strndup(rw->a, k.ptr, k.len);
    return s ? s : "?";
}

static dx_err export_item(row *rw, const dx_value *item) {
    for (uint32_t i = 0; i < item->n; i++) {
        const dx_member *m = &item->u.members[i];
        int32_t t = resolve(rw, m->name, m->name_len, NULL);
        if (t == T_IGNORE) continue;
        if (t == T_UNKNOWN) {
            if (rw->mp->ignore_unknown || by_key_only(rw->mp->op)) continue;
            return unknown_key(rw, m->name, m->name_len);
        }
        size_t idx = (size_t)t;
        dx_err e = claim(rw, idx, m->name);
        if (e) return e;
        if ((e = conv_ddb(rw, idx, &m->value, &rw->vals[idx], &rw->state[idx])) != DX_OK) return e;
    }
    return DX_OK;
}

enum { MODE_PLAIN = 0, MODE_DDB };

/* Maps a JSON line: plain, DynamoDB JSON, or (auto) decided at its first attribute. */
static dx_err map_json(row *rw, const dxj_record *rec) {
    int mode = rw->mp->json == DXJ_JSON_DYNAMODB ? MODE_DDB : MODE_PLAIN;
    bool decided = rw->mp->json != DXJ_JSON_AUTO;
    const dxj_mapper *mp = rw->mp;
    dx_result jr;
    dx_result_clear(&jr);
    dx_jcur c;
    dx_jcur_init(&c, rw->a, rec->text.ptr, rec->text.len, &jr);
    char first = dx_jcur_peek(&c);
    if (first != '{')
        return dx_fail(rw->r, DX_ERR_PARSE, NULL,
                       "line is not a JSON object (it starts with %s); each line must be one "
                       "object such as {\"id\": \"u1\"}",
                       json_kind(c.p, (size_t)(c.end - c.p)));
    if (dx_jcur_obj_begin(&c) != DX_OK) return syntax(rw, &jr, NULL);
    bool firstm = true, exported = false;
    size_t members = 0; /* besides "_dynox" */
    meta mt = {0};
    for (;;) {
        dx_str k;
        bool done;
        if (dx_jcur_obj_next(&c, &k, &done) != DX_OK) return syntax(rw, &jr, NULL);
        if (done) break;
        if (STR_IS(k, "_dynox")) {
            dx_err e = firstm && dx_jcur_peek(&c) == '{' ? read_meta(&c, &mt) : dx_jcur_skip(&c);
            if (e) return syntax(rw, &jr, "_dynox");
            firstm = false;
            /* A CSV row with more fields than the header stays rejected until fixed. */
            if (mt.extra.len)
                return dx_fail(rw->r, DX_ERR_VALIDATION, NULL,
                               "the CSV row had more fields than the header (\"_dynox\".\"extra\": "
                               "%.*s); fix the row, then remove \"extra\"",
                               (int)(mt.extra.len > SHOW ? SHOW : mt.extra.len), mt.extra.ptr);
            continue;
        }
        firstm = false;
        members++;
        if (exported) {
            if (dx_jcur_skip(&c) != DX_OK) return syntax(rw, &jr, NULL);
            const char *name = key_copy(rw, k);
            return dx_fail(rw->r, DX_ERR_VALIDATION, name,
                           "an export line {\"Item\": {...}} has another member '%s'; an export "
                           "line holds the item only",
                           name);
        }
        if (mp->json != DXJ_JSON_PLAIN && !mp->item_is_attr && STR_IS(k, "Item") &&
            dx_jcur_peek(&c) == '{' && (mode == MODE_DDB || !decided) && !mt.csv) {
            dx_value item;
            if (dx_jcur_ddb_item(&c, &item) != DX_OK) return syntax(rw, &jr, NULL);
            dx_err e = export_item(rw, &item);
            if (e) return e;
            exported = true;
            continue;
        }
        if (!decided) {
            mode = ddb_like(&c) && all_ddb_like(&c) ? MODE_DDB : MODE_PLAIN;
            decided = true;
        }
        const char *kname = NULL;
        int32_t t = resolve(rw, k.ptr, k.len, &kname);
        if (t == T_UNKNOWN && !mp->ignore_unknown && !by_key_only(mp->op))
            return unknown_key(rw, k.ptr, k.len);
        if (t < 0) {
            if (dx_jcur_skip(&c) != DX_OK) return syntax(rw, &jr, NULL);
            continue;
        }
        size_t idx = (size_t)t;
        dx_err e = claim(rw, idx, kname);
        if (e) return e;
        if (mode == MODE_DDB) {
            dx_value v;
            if (dx_jcur_ddb_value(&c, &v) != DX_OK) {
                if (jr.err == DX_ERR_NOMEM) return nomem(rw);
                return dx_fail(rw->r, jr.err == DX_ERR_VALIDATION ? DX_ERR_VALIDATION : DX_ERR_PARSE,
                               mp->attrs[idx]->name, "the value for '%s' is not valid DynamoDB JSON%s: %s",
                               mp->attrs[idx]->name,
                               mp->json == DXJ_JSON_DYNAMODB
                                   ? " (input.json is \"dynamodb\"; use \"plain\" or \"auto\" for "
                                     "plain objects)"
                                   : "",
                               jr.message);
            }
            e = conv_ddb(rw, idx, &v, &rw->vals[idx], &rw->state[idx]);
        } else {
            e = conv_json(rw, idx, &c, &jr, mt.csv, &rw->vals[idx], &rw->state[idx]);
        }
        if (e) return e;
    }
    if (!dx_jcur_at_end(&c)) {
        dx_jcur_fail(&c, "unexpected data after the JSON object");
        return syntax(rw, &jr, NULL);
    }
    /* A rejected line that could not be read, as the rejects file keeps it: never a row. */
    if (mt.raw.len && !members)
        return dx_fail(rw->r, DX_ERR_PARSE, NULL,
                       "this line holds only the text of an unreadable line (\"_dynox\".\"raw\"); "
                       "replace it with the corrected row");
    return DX_OK;
}

static dx_err check_key(row *rw, size_t idx) {
    if (idx == NO_ATTR) return DX_OK;
    const dxj_mapper *mp = rw->mp;
    const char *name = mp->attrs[idx]->name;
    const char *kind = mp->fmt == DXJ_FMT_CSV ? "column" : "key";
    if (rw->state[idx] == ST_NULL)
        return dx_fail(rw->r, DX_ERR_VALIDATION, name,
                       "key attribute '%s' is null in this row (from %s '%s'); every row needs "
                       "its full key",
                       name, kind, rw->src[idx] ? rw->src[idx] : name);
    if (rw->state[idx] != ST_VALUE) {
        if (mp->fmt == DXJ_FMT_CSV && rw->src[idx])
            return dx_fail(rw->r, DX_ERR_VALIDATION, name,
                           "key attribute '%s' is empty in this row (column '%s'); every row "
                           "needs its full key",
                           name, rw->src[idx]);
        return dx_fail(rw->r, DX_ERR_VALIDATION, name,
                       "key attribute '%s' is missing from this row; every row needs its full "
                       "key (add it, or map a %s to it)",
                       name, kind);
    }
    const dx_value *v = &rw->vals[idx];
    if ((v->type == DX_T_S || v->type == DX_T_B) && v->n == 0)
        return dx_fail(rw->r, DX_ERR_VALIDATION, name,
                       "key attribute '%s' is empty in this row (%s '%s'); DynamoDB keys must not "
                       "be empty",
                       name, kind, rw->src[idx] ? rw->src[idx] : name);
    return DX_OK;
}

/* Per operation: defaults, checks, and the three views of the row. */
/* "attribute '<name>' is required ...": the put is missing attribute i. */
static dx_err missing_required(const row *rw, size_t i) {
    const dxj_mapper *mp = rw->mp;
    const dx_attr_def *d = mp->attrs[i];
    const char *kind = mp->fmt == DXJ_FMT_CSV ? "column" : "key";
    if (rw->src[i])
        return dx_fail(rw->r, DX_ERR_VALIDATION, d->name,
                       "attribute '%s' is required by model %s, but this row has no "
                       "value for it (%s '%s' is empty or null)",
                       d->name, mp->mname, kind, rw->src[i]);
    return dx_fail(rw->r, DX_ERR_VALIDATION, d->name,
                   "attribute '%s' is required by model %s, but this row has no "
                   "value for it",
                   d->name, mp->mname);
}

/*
 * Per operation: defaults, checks, and the three views of the row. Three
 * passes over the attributes (rows are many): states and counts, the key,
 * then required attributes, the views and the size together, so the first
 * error in attribute order is still the one reported.
 */
static dx_err finish(row *rw, dxj_mapped *out) {
    const dxj_mapper *mp = rw->mp;
    dx_err e;
    bool put = mp->op == DXJ_OP_PUT;
    bool by_key = by_key_only(mp->op);
    size_t ni = 0, nk = 0, n = 0;
    for (size_t i = 0; i < mp->nattrs; i++) {
        if (!wanted(mp, i)) {
            rw->state[i] = ST_ABSENT;
            continue;
        }
        if (rw->state[i] == ST_NULL && mp->null_stores && !is_key(mp, i)) {
            rw->vals[i] = dx_vnull();
            rw->vsize[i] = 0;
            rw->state[i] = ST_VALUE;
        }
        if (put) {
            if (rw->state[i] == ST_NULL) rw->state[i] = ST_ABSENT; /* omitted: defaults apply */
            if (rw->state[i] == ST_ABSENT) {
                const dx_attr_def *d = mp->attrs[i];
                rw->vsize[i] = 0;
                if (mp->defaults[i].type != DX_T_NONE) {
                    rw->vals[i] = mp->defaults[i];
                    rw->state[i] = ST_VALUE;
                } else if (d->gen != DX_GEN_NONE) {
                    e = dx_gen_value(d->gen, rw->a, &rw->vals[i]);
                    if (e) return nomem(rw);
                    rw->state[i] = ST_VALUE;
                }
            }
        }
        uint8_t sti = rw->state[i];
        ni += sti == ST_VALUE;
        if (is_key(mp, i)) nk += sti == ST_VALUE;
        else n += !by_key && (sti == ST_VALUE || (!put && sti == ST_NULL));
    }
    if ((e = check_key(rw, mp->hash)) != DX_OK || (e = check_key(rw, mp->range)) != DX_OK) return e;
    /*
     * One array holds the three views: the item (model order), the key
     * (hash, range) and the fields (non-key attributes; for updates a null
     * is a removal, DX_T_NONE).
     */
    dx_member *all = dx_arena_alloc(rw->a, (ni + nk + n + 1) * sizeof *all);
    if (!all) return nomem(rw);
    dx_member *it = all, *ky = all + ni, *f = all + ni + nk;
    size_t k = 0, kf = 0, size = 0; /* size: dx_item_size of the item, from what conversion knew */
    for (size_t i = 0; i < mp->nattrs; i++) {
        uint8_t sti = rw->state[i];
        if (put && sti != ST_VALUE && mp->attrs[i]->required) return missing_required(rw, i);
        if (sti == ST_VALUE) {
            it[k].name = mp->attrs[i]->name;
            it[k].name_len = mp->nlen[i];
            it[k].value = rw->vals[i];
            k++;
            size += mp->nlen[i] + (rw->vsize[i] ? rw->vsize[i] - 1 : dx_value_size(&rw->vals[i]));
        }
        if (!by_key && (sti == ST_VALUE || (!put && sti == ST_NULL)) && !is_key(mp, i)) {
            f[kf].name = mp->attrs[i]->name;
            f[kf].name_len = mp->nlen[i];
            f[kf].value = sti == ST_VALUE ? rw->vals[i] : (dx_value){0};
            kf++;
        }
    }
    size_t kk = 0;
    for (int w = 0; w < 2; w++) {
        size_t i = w ? mp->range : mp->hash;
        if (i == NO_ATTR || rw->state[i] != ST_VALUE) continue;
        ky[kk].name = mp->attrs[i]->name;
        ky[kk].name_len = mp->nlen[i];
        ky[kk].value = rw->vals[i];
        kk++;
    }
    out->key = dx_vmap(ky, nk);
    if (by_key) {
        out->item = out->key;
        out->fields = NULL;
        out->nfields = 0;
        return DX_OK;
    }
    out->item = dx_vmap(it, ni);
    out->fields = n ? f : NULL;
    out->nfields = n;
    if (mp->op == DXJ_OP_UPDATE_BY_KEY && n == 0)
        return dx_fail(rw->r, DX_ERR_VALIDATION, NULL,
                       "nothing to update: the row gives no attribute besides the key (every "
                       "other %s is absent or empty)",
                       mp->fmt == DXJ_FMT_CSV ? "column" : "key");
    if (size > mp->limit)
        return dx_fail(rw->r, DX_ERR_ITEM_TOO_LARGE, NULL,
                       "item is %zu bytes, over the limit of %zu%s", size, mp->limit,
                       mp->limit < DX_MAX_ITEM_SIZE
                           ? " (the model's config.max_size); shorten the largest attributes or "
                             "raise max_size"
                           : " (DynamoDB's 400 KB item limit); shorten the largest attributes or "
                             "store them elsewhere (e.g. S3) and keep a reference");
    return DX_OK;
}

dx_err dxj_map(const dxj_mapper *mp, const dxj_record *rec, dx_arena *a, dxj_mapped *out,
               dx_result *r) {
    if (!mp || !rec || !a || !out) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dxj_map: NULL argument");
    memset(out, 0, sizeof *out);
    if (rec->error) return dx_fail(r, DX_ERR_PARSE, NULL, "%s", rec->error);
    row rw = {.mp = mp, .a = a, .r = r};
    size_t n = mp->nattrs;
    /* One block for the per-attribute slots: values, sources, sizes, states. */
    char *blk = dx_arena_calloc(a, n * (sizeof *rw.vals + sizeof *rw.src + sizeof *rw.vsize + 1) + 1);
    if (!blk) return nomem(&rw);
    rw.vals = (dx_value *)(void *)blk;
    rw.src = (const char **)(void *)(blk + n * sizeof *rw.vals);
    rw.vsize = (uint32_t *)(void *)(blk + n * (sizeof *rw.vals + sizeof *rw.src));
    rw.state = (uint8_t *)(blk + n * (sizeof *rw.vals + sizeof *rw.src + sizeof *rw.vsize));
    bool csv = rec->fields != NULL || (mp->fmt == DXJ_FMT_CSV && !rec->text.ptr);
    dx_err e = csv ? map_csv(&rw, rec) : map_json(&rw, rec);
    if (e) return e;
    /* Constants. */
    for (size_t i = 0; i < n; i++) {
        if (mp->cstate[i] == ST_ABSENT || !wanted(mp, i)) continue;
        if (rw.src[i] && rw.state[i] != ST_ABSENT)
            return dx_fail(r, DX_ERR_VALIDATION, rw.src[i],
                           "key '%s' fills attribute '%s', which the job sets as a constant; "
                           "remove the key, the constant, or map the key to null",
                           rw.src[i], mp->attrs[i]->name);
        rw.vals[i] = mp->consts[i];
        rw.vsize[i] = 0;
        rw.state[i] = mp->cstate[i];
    }
    return finish(&rw, out);
}

/* ---------------------------------------------------------------- building */

static const char *op_name(dxj_op op) {
    switch (op) {
    case DXJ_OP_PUT:
        return "put";
    case DXJ_OP_UPDATE_BY_KEY:
        return "update_by_key";
    case DXJ_OP_DELETE_BY_KEY:
        return "delete_by_key";
    case DXJ_OP_GET_SAVE:
        return "get_save";
    case DXJ_OP_GET_UPDATE:
        return "get_update";
    case DXJ_OP_GET_DELETE:
        return "get_delete";
    case DXJ_OP_NONE:
        break;
    }
    return "none";
}

/* Converts plain JSON text (a default or a constant) for attribute idx at build time. */
static dx_err conv_fixed(dxj_mapper *mp, size_t idx, const char *json, dx_value *out, uint8_t *st,
                         dx_result *r) {
    row rw = {.mp = mp, .a = &mp->arena, .r = r};
    dx_result jr;
    dx_result_clear(&jr);
    dx_jcur c;
    dx_jcur_init(&c, &mp->arena, json, strlen(json), &jr);
    dx_err e = conv_json(&rw, idx, &c, &jr, false, out, st);
    if (e) return e;
    if (!dx_jcur_at_end(&c))
        return dx_fail(r, DX_ERR_VALIDATION, mp->attrs[idx]->name, "unexpected data after the JSON value");
    return DX_OK;
}

static void list_columns(char *buf, size_t n, char *const *cols, size_t ncols) {
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < ncols && k + 1 < n; i++) {
        int w = snprintf(buf + k, n - k, "%s%s", i ? ", " : "", cols[i]);
        if (w < 0) break;
        k += (size_t)w;
    }
    if (k >= n && n > 4) memcpy(buf + n - 4, "...", 4);
}

static dx_err build_csv(dxj_mapper *mp, const dxj_mapping *map, const dxj_input *in,
                        const char *const *columns, size_t ncolumns, dx_result *r) {
    const char *input = in && in->path ? in->path : "the input";
    mp->ncols = ncolumns;
    mp->cols = dx_arena_calloc(&mp->arena, (ncolumns ? ncolumns : 1) * sizeof *mp->cols);
    mp->col_attr = dx_arena_calloc(&mp->arena, (ncolumns ? ncolumns : 1) * sizeof *mp->col_attr);
    const char **from = dx_arena_calloc(&mp->arena, (mp->nattrs ? mp->nattrs : 1) * sizeof *from);
    if (!mp->cols || !mp->col_attr || !from) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    char list[300];
    list_columns(list, sizeof list, (char *const *)columns, ncolumns);
    /* Explicit mappings must name a column the input has (typos would silently do nothing). */
    for (size_t i = 0; map && i < map->ncolumns; i++) {
        bool found = false;
        for (size_t j = 0; j < ncolumns && !found; j++) found = columns[j] && strcmp(map->columns[i].column, columns[j]) == 0;
        if (!found)
            return dx_fail(r, DX_ERR_CONFIG, map->columns[i].column,
                           "mapping: column '%s' is not a column of %s (its columns: %s)",
                           map->columns[i].column, input, list);
    }
    for (size_t j = 0; j < ncolumns; j++) {
        const char *name = columns[j] ? columns[j] : "";
        mp->cols[j] = dx_arena_strdup(&mp->arena, name);
        if (!mp->cols[j]) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
        int32_t t = lookup(mp, name, strlen(name));
        if (t == T_UNKNOWN) {
            if (!mp->ignore_unknown && !by_key_only(mp->op)) {
                if (!*name)
                    return dx_fail(r, DX_ERR_CONFIG, "mapping",
                                   "column %zu of %s has no name in the header and matches no "
                                   "attribute of model %s (set mapping.ignore_unknown, or map "
                                   "column \"\" to null)",
                                   j + 1, input, mp->mname);
                return dx_fail(r, DX_ERR_CONFIG, name,
                               "column '%s' matches no attribute of model %s (set "
                               "mapping.ignore_unknown or map it)",
                               name, mp->mname);
            }
            t = T_IGNORE;
        }
        if (t >= 0 && !wanted(mp, (size_t)t)) t = T_IGNORE;
        if (t >= 0) {
            size_t idx = (size_t)t;
            if (from[idx])
                return dx_fail(r, DX_ERR_CONFIG, name,
                               "columns '%s' and '%s' both fill attribute '%s'; map one of them "
                               "to another attribute or to null (ignore it)",
                               from[idx], name, mp->attrs[idx]->name);
            if (mp->cstate[idx] != ST_ABSENT)
                return dx_fail(r, DX_ERR_CONFIG, name,
                               "column '%s' fills attribute '%s', which mapping.constants also "
                               "sets; drop the constant or map the column to null",
                               name, mp->attrs[idx]->name);
            from[idx] = mp->cols[j];
        }
        mp->col_attr[j] = t;
    }
    /* Every key attribute comes from somewhere; for put, required ones too. */
    for (size_t i = 0; i < mp->nattrs; i++) {
        const dx_attr_def *d = mp->attrs[i];
        bool given = from[i] || mp->cstate[i] != ST_ABSENT;
        bool filled = mp->op == DXJ_OP_PUT && (mp->defaults[i].type != DX_T_NONE || d->gen != DX_GEN_NONE);
        if (is_key(mp, i) && !given && !filled)
            return dx_fail(r, DX_ERR_CONFIG, d->name,
                           "mapping: key attribute '%s' comes from no column of %s (its columns: "
                           "%s); add the column, map one to '%s', or set a constant",
                           d->name, input, list, d->name);
        if (mp->op == DXJ_OP_PUT && d->required && !given && !filled)
            return dx_fail(r, DX_ERR_CONFIG, d->name,
                           "mapping: attribute '%s' is required by model %s, but no column of %s "
                           "gives it (its columns: %s); add the column, map one to it, or set a "
                           "constant",
                           d->name, mp->mname, input, list);
    }
    return DX_OK;
}

dx_err dxj_mapper_new(const dx_model *m, const dxj_mapping *map, const dxj_operation *op,
                      const dxj_input *in, const char *const *columns, size_t ncolumns,
                      dxj_mapper **out, dx_result *r) {
    if (!out) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dxj_mapper_new: NULL out");
    *out = NULL;
    if (!m || !op) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dxj_mapper_new: NULL model or operation");
    if (op->op == DXJ_OP_NONE)
        return dx_fail(r, DX_ERR_CONFIG, "operation", "operation: no operation given (put, update_by_key, ...)");
    dxj_format fmt = columns ? DXJ_FMT_CSV : in && in->format == DXJ_FMT_CSV ? DXJ_FMT_CSV : DXJ_FMT_JSONL;
    if (fmt == DXJ_FMT_CSV && !columns)
        return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dxj_mapper_new: CSV input without column names");
    dxj_mapper *mp = calloc(1, sizeof *mp);
    if (!mp) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory building the mapper");
    dx_err e = DX_OK;
    mp->m = m;
    mp->mname = dx_model_name(m);
    mp->op = op->op;
    mp->fmt = fmt;
    mp->json = in ? in->json : DXJ_JSON_AUTO;
    mp->ignore_unknown = map && map->ignore_unknown;
    mp->null_stores = op->null_stores;
    mp->nattrs = dx_model_nattrs(m);
    mp->hash = mp->range = NO_ATTR;
    const dx_model_config *cfg = dx_model_config_get(m);
    mp->limit = cfg && cfg->max_size && cfg->max_size < DX_MAX_ITEM_SIZE ? cfg->max_size : DX_MAX_ITEM_SIZE;
    size_t na = mp->nattrs ? mp->nattrs : 1;
    size_t nmap = map ? map->ncolumns : 0;
    size_t tabn = 8;
    while (tabn < 2 * (nmap + mp->nattrs) + 2) tabn *= 2;
    mp->attrs = dx_arena_calloc(&mp->arena, na * sizeof *mp->attrs);
    mp->nlen = dx_arena_calloc(&mp->arena, na * sizeof *mp->nlen);
    mp->defaults = dx_arena_calloc(&mp->arena, na * sizeof *mp->defaults);
    mp->consts = dx_arena_calloc(&mp->arena, na * sizeof *mp->consts);
    mp->cstate = dx_arena_calloc(&mp->arena, na);
    mp->tab = dx_arena_calloc(&mp->arena, tabn * sizeof *mp->tab);
    mp->tabmask = tabn - 1;
    if (!mp->attrs || !mp->nlen || !mp->defaults || !mp->consts || !mp->cstate || !mp->tab) goto oom;
    const dx_attr_def *hk = dx_model_hash_key(m), *rk = dx_model_range_key(m);
    for (size_t i = 0; i < mp->nattrs; i++) {
        mp->attrs[i] = dx_model_attr(m, i);
        mp->nlen[i] = (uint32_t)strlen(mp->attrs[i]->name);
        if (hk && strcmp(mp->attrs[i]->name, hk->name) == 0) mp->hash = i;
        if (rk && strcmp(mp->attrs[i]->name, rk->name) == 0) mp->range = i;
    }
    /* Defaults, in storage form. */
    for (size_t i = 0; i < mp->nattrs; i++) {
        const char *dj = mp->attrs[i]->default_json;
        if (!dj) continue;
        dx_result inner;
        dx_result_clear(&inner);
        uint8_t st;
        if (conv_fixed(mp, i, dj, &mp->defaults[i], &st, &inner) != DX_OK) {
            e = dx_fail(r, DX_ERR_CONFIG, mp->attrs[i]->name, "model %s: default of '%s': %s",
                        mp->mname, mp->attrs[i]->name, inner.message);
            goto fail;
        }
        if (st != ST_VALUE) mp->defaults[i] = (dx_value){0};
    }
    /* Explicit column mappings, then the attributes' own names. */
    for (size_t i = 0; i < nmap; i++) {
        const dxj_column *col = &map->columns[i];
        if (!col->column) {
            e = dx_fail(r, DX_ERR_CONFIG, "mapping", "mapping: entry %zu names no column", i + 1);
            goto fail;
        }
        int32_t t = T_IGNORE;
        if (col->attr) {
            size_t idx = attr_index(mp, col->attr, strlen(col->attr));
            if (idx == NO_ATTR) {
                e = dx_fail(r, DX_ERR_CONFIG, col->column,
                            "mapping: column '%s' maps to '%s', which model %s does not have",
                            col->column, col->attr, mp->mname);
                goto fail;
            }
            t = (int32_t)idx;
        }
        char *name = dx_arena_strdup(&mp->arena, col->column);
        if (!name) goto oom;
        if (!tab_add(mp, name, t)) {
            e = dx_fail(r, DX_ERR_CONFIG, col->column, "mapping: column '%s' is mapped twice; keep one entry",
                        col->column);
            goto fail;
        }
    }
    for (size_t i = 0; i < mp->nattrs; i++) tab_add(mp, mp->attrs[i]->name, (int32_t)i);
    mp->item_is_attr = lookup(mp, "Item", 4) >= 0;
    /* Constants. */
    for (size_t i = 0; map && i < map->nconstants; i++) {
        const dxj_constant *k = &map->constants[i];
        size_t idx = k->attr ? attr_index(mp, k->attr, strlen(k->attr)) : NO_ATTR;
        if (idx == NO_ATTR) {
            e = dx_fail(r, DX_ERR_CONFIG, k->attr ? k->attr : "mapping.constants",
                        "mapping.constants: '%s' is not an attribute of model %s",
                        k->attr ? k->attr : "", mp->mname);
            goto fail;
        }
        if (mp->cstate[idx] != ST_ABSENT) {
            e = dx_fail(r, DX_ERR_CONFIG, k->attr, "mapping.constants: '%s' is set twice; keep one", k->attr);
            goto fail;
        }
        dx_result inner;
        dx_result_clear(&inner);
        uint8_t st;
        if (!k->json || conv_fixed(mp, idx, k->json, &mp->consts[idx], &st, &inner) != DX_OK) {
            e = dx_fail(r, DX_ERR_CONFIG, k->attr, "mapping.constants.%s: %s", k->attr,
                        k->json ? inner.message : "no value given");
            goto fail;
        }
        if (st == ST_ABSENT) st = ST_NULL;
        if (st == ST_NULL && is_key(mp, idx)) {
            e = dx_fail(r, DX_ERR_CONFIG, k->attr, "mapping.constants.%s: a key attribute cannot be null", k->attr);
            goto fail;
        }
        mp->cstate[idx] = st;
    }
    if (fmt == DXJ_FMT_CSV && (e = build_csv(mp, map, in, columns, ncolumns, r)) != DX_OK) goto fail;
    (void)op_name;
    *out = mp;
    return DX_OK;
oom:
    e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory building the mapper");
fail:
    dxj_mapper_free(mp);
    return e;
}

void dxj_mapper_free(dxj_mapper *mp) {
    if (!mp) return;
    dx_arena_release(&mp->arena);
    free(mp);
}

/* ---------------------------------------------------------------- rejects lines */

/* A JSON string of s, invalid UTF-8 replaced by U+FFFD (so the line stays valid JSON). */
static bool put_str_lossy(dx_buf *b, const char *s, size_t n) {
    if (dx_utf8_valid(s, n)) return dx_buf_put_json_str(b, s, n);
    dx_buf tmp = {0};
    const unsigned char *u = (const unsigned char *)s;
    bool ok = true;
    for (size_t i = 0; i < n && ok;) {
        unsigned c = u[i];
        size_t k = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (k && i + k <= n && dx_utf8_valid(s + i, k)) {
            ok = dx_buf_append(&tmp, s + i, k);
            i += k;
        } else {
            ok = dx_buf_append(&tmp, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    ok = ok && dx_buf_put_json_str(b, tmp.ptr ? tmp.ptr : "", tmp.len);
    dx_buf_free(&tmp);
    return ok;
}

static bool put_cstr(dx_buf *b, const char *s) {
    return s ? put_str_lossy(b, s, strlen(s)) : dx_buf_puts(b, "null");
}

/*
 * Appends the members of a JSON object line (all but "_dynox") to b, each
 * preceded by a comma; *mt gets what a leading "_dynox" says (its csv flag,
 * and its raw and extra, which point into text). false when the line is not
 * one JSON object.
 */
static bool copy_members(dx_buf *b, dx_str text, meta *mt) {
    dx_arena a = {0};
    dx_jcur c;
    dx_jcur_init(&c, &a, text.ptr, text.len, NULL);
    size_t mark = b->len;
    bool ok = dx_jcur_peek(&c) == '{' && dx_jcur_obj_begin(&c) == DX_OK;
    bool first = true;
    while (ok) {
        dx_str k;
        bool done;
        if (dx_jcur_obj_next(&c, &k, &done) != DX_OK) {
            ok = false;
            break;
        }
        if (done) break;
        if (STR_IS(k, "_dynox")) {
            if (first && dx_jcur_peek(&c) == '{') ok = read_meta(&c, mt) == DX_OK;
            else ok = dx_jcur_skip(&c) == DX_OK;
            first = false;
            continue;
        }
        first = false;
        const char *p0 = cur_at(&c);
        if (dx_jcur_skip(&c) != DX_OK) {
            ok = false;
            break;
        }
        ok = dx_buf_putc(b, ',') && dx_buf_put_json_str(b, k.ptr, k.len) && dx_buf_putc(b, ':') &&
             dx_buf_append(b, p0, (size_t)(c.p - p0));
    }
    if (ok && !dx_jcur_at_end(&c)) ok = false;
    dx_arena_release(&a);
    if (!ok) {
        b->len = mark;
        if (b->ptr) b->ptr[mark] = 0;
    }
    return ok;
}

dx_err dxj_record_line(const dxj_mapper *mp, const dxj_record *rec, const char *file,
                       const char *field, const char *reason, dx_buf *out) {
    if (!rec || !out) return DX_ERR_INVALID_ARG;
    size_t start = out->len;
    bool csv = rec->fields != NULL || (mp && mp->fmt == DXJ_FMT_CSV && !rec->text.ptr);
    bool ok = dx_buf_puts(out, "{\"_dynox\":{\"file\":") && put_cstr(out, file) &&
              dx_buf_printf(out, ",\"line\":%llu,\"record\":%llu,\"field\":",
                            (unsigned long long)rec->line, (unsigned long long)rec->index) &&
              put_cstr(out, field) && dx_buf_puts(out, ",\"reason\":") && put_cstr(out, reason);
    if (csv) {
        size_t ncols = mp ? mp->ncols : 0;
        ok = ok && dx_buf_puts(out, ",\"csv\":true");
        if (ok && rec->nfields > ncols) {
            ok = dx_buf_puts(out, ",\"extra\":[");
            for (size_t i = ncols; ok && i < rec->nfields; i++) {
                const dx_str *f = &rec->fields[i];
                ok = (i == ncols || dx_buf_putc(out, ',')) &&
                     (f->ptr ? put_str_lossy(out, f->ptr, f->len) : dx_buf_puts(out, "null"));
            }
            ok = ok && dx_buf_putc(out, ']');
        }
        ok = ok && dx_buf_putc(out, '}');
        size_t n = rec->nfields < ncols ? rec->nfields : ncols;
        for (size_t i = 0; ok && i < n; i++) {
            const dx_str *f = &rec->fields[i];
            ok = dx_buf_putc(out, ',') && put_cstr(out, mp->cols[i]) && dx_buf_putc(out, ':') &&
                 (f->ptr ? put_str_lossy(out, f->ptr, f->len) : dx_buf_puts(out, "null"));
        }
    } else {
        /* The members go after "_dynox", which must be closed first: render them aside. */
        dx_buf members = {0};
        meta was = {0};
        bool object = rec->text.ptr && !rec->error && copy_members(&members, rec->text, &was);
        if (object) {
            /* A line from an earlier rejects file keeps what its "_dynox" said about the row. */
            ok = ok && (!was.csv || dx_buf_puts(out, ",\"csv\":true")) &&
                 (!was.extra.len || (dx_buf_puts(out, ",\"extra\":") &&
                                     dx_buf_append(out, was.extra.ptr, was.extra.len))) &&
                 (!was.raw.len || (dx_buf_puts(out, ",\"raw\":") &&
                                   dx_buf_append(out, was.raw.ptr, was.raw.len))) &&
                 dx_buf_putc(out, '}') &&
                 dx_buf_append(out, members.ptr ? members.ptr : "", members.len);
        } else {
            ok = ok && dx_buf_puts(out, ",\"raw\":") &&
                 put_str_lossy(out, rec->text.ptr ? rec->text.ptr : "", rec->text.len) &&
                 dx_buf_putc(out, '}');
        }
        dx_buf_free(&members);
    }
    ok = ok && dx_buf_puts(out, "}\n");
    if (!ok) {
        out->len = start;
        if (out->ptr) out->ptr[start] = 0;
        return DX_ERR_NOMEM;
    }
    return DX_OK;
}
