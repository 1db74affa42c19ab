/*
 * item.c - items (instances of a model): typed fields, plain JSON, and the
 * CRUD calls with their hooks.
 *
 * Layout: an item has one value slot per model attribute (vals[i] is
 * DX_T_NONE when attribute i is unset), so a pointer from dx_item_get stays
 * valid until that attribute changes, and a members array that mirrors the
 * set slots in model order, rebuilt on each change (O(attributes)), so the
 * whole item is always ready to send as an M without copying. Values live in
 * the item's arena, or in the model's arena for defaults (a model outlives
 * its items). Every value that enters an item goes through one check
 * (dx_attr_check_): storage type, numbers validated and canonicalised at any
 * depth, strings NUL-terminated, datetime ISO 8601, ttl whole seconds, json
 * well-formed and compacted, key attributes non-empty, and DynamoDB's own
 * rules via dx_value_validate. Each set allocates: an item's memory comes
 * back when it is freed, so reuse items per row, not per program.
 *
 * The calls resolve the client (model's, else the default), run the hooks of
 * their kind, check, and make exactly one backend call through
 * dx_client_call: save = before_save, validate, size check, PutItem,
 * after_save; update = fields applied locally, before_update, size check,
 * UpdateItem of every attribute that changed (the caller's fields and what
 * the hooks set) with ReturnValues ALL_NEW, local item replaced by the
 * result, after_update; a failed update leaves the local item as it was.
 *
 * Must never: send an item that failed validation or is over the size limit
 * (ItemTooLarge is raised before any backend call), run hooks for
 * update_by_key / delete_by_key, or make more than one backend call per
 * operation.
 */
#include "model_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynox/codec.h"
#include "dynox/expr.h"
#include "dynox/size.h"

#define MAX_DEPTH 64 /* nesting bound for copies; DynamoDB itself allows 32 levels */

struct dx_item {
    const dx_model *m;
    dx_arena arena;
    dx_value *vals;  /* per attribute; DX_T_NONE when unset */
    bool *dirty;     /* per attribute: changed since the last clear_dirty */
    dx_member *mem;  /* the set attributes in model order */
    dx_value whole;  /* M over mem */
};

/* ---------------------------------------------------------------- time, ids */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool dx_datetime_parse(const char *s, size_t n, int64_t *epoch_s) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    if (n < 20) return false;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
        return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == f || i - f > 9) return false;
    }
    if (i < n && s[i] == 'Z') {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '+' ? 1 : -1;
        if (n - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &om))
            return false;
        i += 6;
    } else {
        return false;
    }
    if (i != n) return false;
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59 || oh > 23 || om > 59)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int dim = mdays[mo - 1] + (mo == 2 && leap);
    if (d > dim) return false;
    if (epoch_s) {
        int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
        *epoch_s = t - (int64_t)sign * (oh * 3600 + om * 60);
    }
    return true;
}

static char *put_digits(char *p, unsigned v, int n) {
    for (int i = n - 1; i >= 0; i--, v /= 10) p[i] = (char)('0' + v % 10);
    return p + n;
}

void dx_datetime_format(uint64_t epoch_ms, char out[25]) {
    time_t secs = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char *p = out;
    p = put_digits(p, (unsigned)(tm.tm_year + 1900) % 10000, 4);
    *p++ = '-';
    p = put_digits(p, (unsigned)tm.tm_mon + 1, 2);
    *p++ = '-';
    p = put_digits(p, (unsigned)tm.tm_mday, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)tm.tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)tm.tm_min, 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)tm.tm_sec, 2);
    *p++ = '.';
    p = put_digits(p, (unsigned)(epoch_ms % 1000), 3);
    *p++ = 'Z';
    *p = 0;
}

/*
 * Random bytes for identifiers from a per-thread pool refilled from the OS
 * 4 KiB at a time: one syscall per 256 UUIDs, not one per row. Bytes are
 * zeroed in the pool once handed out.
 */
static void id_random(void *p, size_t n) {
    static _Thread_local unsigned char pool[4096];
    static _Thread_local size_t left;
    if (n > sizeof pool) {
        dx_random_bytes(p, n);
        return;
    }
    if (left < n) {
        dx_random_bytes(pool, sizeof pool);
        left = sizeof pool;
    }
    memcpy(p, pool + sizeof pool - left, n);
    memset(pool + sizeof pool - left, 0, n);
    left -= n;
}

void dx_uuid4_(char out[37]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    id_random(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = 0;
}

/*
 * ULIDs are monotonic per thread: within one millisecond (or if the clock
 * steps back) the 80 random bits of the previous ULID are incremented, as
 * the ULID spec's monotonic factory does, so a thread's ULIDs sort in the
 * order they were made.
 */
static _Thread_local uint64_t ulid_last_ms;
static _Thread_local unsigned char ulid_last_rand[10];

void dx_ulid_(uint64_t epoch_ms, char out[27]) {
    static const char enc[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    unsigned char b[16];
    bool fresh = true;
    if (ulid_last_ms && epoch_ms <= ulid_last_ms) {
        epoch_ms = ulid_last_ms;
        int k = 9;
        while (k >= 0 && ++ulid_last_rand[k] == 0) k--;
        if (k >= 0) fresh = false;
        else epoch_ms++; /* 2^80 ULIDs in one ms: move on to the next ms */
    }
    if (fresh) id_random(ulid_last_rand, sizeof ulid_last_rand);
    epoch_ms &= 0xFFFFFFFFFFFFull;
    ulid_last_ms = epoch_ms;
    for (int i = 0; i < 6; i++) b[i] = (unsigned char)(epoch_ms >> (40 - 8 * i));
    memcpy(b + 6, ulid_last_rand, 10);
    /* 26 characters of 5 bits cover 130 bits: the 128 bits with two leading zeros. */
    for (int i = 0; i < 26; i++) {
        unsigned v = 0;
        for (int k = 0; k < 5; k++) {
            int bit = i * 5 + k - 2;
            v <<= 1;
            if (bit >= 0) v |= (unsigned)(b[bit / 8] >> (7 - bit % 8)) & 1u;
        }
        out[i] = enc[v];
    }
    out[26] = 0;
}

dx_err dx_gen_value(dx_gen g, dx_arena *a, dx_value *out) {
    char buf[40];
    switch (g) {
    case DX_GEN_UUID4:
        dx_uuid4_(buf);
        break;
    case DX_GEN_ULID:
        dx_ulid_(dx_wall_ms(), buf);
        break;
    case DX_GEN_NOW_ISO: {
        /* Formatted once per millisecond per thread: bulk jobs ask per row. */
        static _Thread_local uint64_t last_ms = UINT64_MAX;
        static _Thread_local char last[25];
        uint64_t ms = dx_wall_ms();
        if (ms != last_ms) {
            dx_datetime_format(ms, last);
            last_ms = ms;
        }
        memcpy(buf, last, sizeof last);
        break;
    }
    case DX_GEN_NOW_EPOCH:
        return dx_value_i64(a, (int64_t)(dx_wall_ms() / 1000), out);
    case DX_GEN_NONE:
    default:
        return DX_ERR_INVALID_ARG;
    }
    char *s = dx_arena_strdup(a, buf);
    if (!s) return DX_ERR_NOMEM;
    *out = dx_vsn(s, strlen(s));
    return DX_OK;
}

/* ---------------------------------------------------------------- value checks */

static const char *plain_kind(uint32_t t) {
    switch ((dx_type)t) {
    case DX_T_S:
        return "a string";
    case DX_T_N:
        return "a number";
    case DX_T_B:
        return "binary";
    case DX_T_BOOL:
        return "a boolean";
    case DX_T_NULL:
        return "null";
    case DX_T_L:
        return "an array";
    case DX_T_M:
        return "an object";
    case DX_T_SS:
        return "a string set";
    case DX_T_NS:
        return "a number set";
    case DX_T_BS:
        return "a binary set";
    case DX_T_NONE:
        break;
    }
    return "nothing";
}

static dx_err wrong_type(const dx_attr_def *d, const dx_value *v, const char *want,
                         dx_result *r) {
    if (v->type == DX_T_S)
        return dx_fail(r, DX_ERR_VALIDATION, d->name,
                       "attribute '%s' (%s) needs %s, got a string \"%.*s%s\"", d->name,
                       dx_attr_type_name(d->type), want, v->n > 40 ? 40 : (int)v->n, v->u.s,
                       v->n > 40 ? "..." : "");
    if (v->type == DX_T_N)
        return dx_fail(r, DX_ERR_VALIDATION, d->name, "attribute '%s' (%s) needs %s, got a number %.*s",
                       d->name, dx_attr_type_name(d->type), want, v->n > 40 ? 40 : (int)v->n, v->u.s);
    return dx_fail(r, DX_ERR_VALIDATION, d->name, "attribute '%s' (%s) needs %s, got %s", d->name,
                   dx_attr_type_name(d->type), want, plain_kind(v->type));
}

/* Deep copy of v into a with numbers canonicalised; `name` is the attribute for messages. */
static dx_err copy_canon(dx_arena *a, const dx_value *v, dx_value *out, const char *name,
                         int depth, dx_result *r) {
    if (depth > MAX_DEPTH)
        return dx_fail(r, DX_ERR_VALIDATION, name,
                       "attribute '%s' is nested more than %d levels deep", name, MAX_DEPTH);
    *out = *v;
    switch ((dx_type)v->type) {
    case DX_T_S:
    case DX_T_B: {
        char *s = dx_arena_strndup(a, v->n ? v->u.s : "", v->n);
        if (!s) return DX_ERR_NOMEM;
        out->u.s = s;
        return DX_OK;
    }
    case DX_T_N: {
        dx_result in;
        dx_result_clear(&in);
        dx_err e = dx_value_num(a, v->u.s, v->n, out, &in);
        if (e == DX_ERR_NOMEM) return e;
        if (e)
            return dx_fail(r, DX_ERR_VALIDATION, name,
                           "attribute '%s': invalid number \"%.*s\": %s", name,
                           v->n > 60 ? 60 : (int)v->n, v->u.s, in.message);
        return DX_OK;
    }
    case DX_T_BOOL:
    case DX_T_NULL:
        return DX_OK;
    case DX_T_L:
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS: {
        dx_value *el = dx_arena_alloc(a, (v->n ? v->n : 1) * sizeof *el);
        if (!el) return DX_ERR_NOMEM;
        for (uint32_t i = 0; i < v->n; i++) {
            dx_err e = copy_canon(a, &v->u.elems[i], &el[i], name, depth + 1, r);
            if (e) return e;
        }
        out->u.elems = el;
        return DX_OK;
    }
    case DX_T_M: {
        dx_member *mm = dx_arena_alloc(a, (v->n ? v->n : 1) * sizeof *mm);
        if (!mm) return DX_ERR_NOMEM;
        for (uint32_t i = 0; i < v->n; i++) {
            const dx_member *src = &v->u.members[i];
            char *nm = dx_arena_strndup(a, src->name, src->name_len);
            if (!nm) return DX_ERR_NOMEM;
            mm[i].name = nm;
            mm[i].name_len = src->name_len;
            dx_err e = copy_canon(a, &src->value, &mm[i].value, name, depth + 1, r);
            if (e) return e;
        }
        out->u.members = mm;
        return DX_OK;
    }
    case DX_T_NONE:
        break;
    }
    return dx_fail(r, DX_ERR_VALIDATION, name, "attribute '%s' holds a value of unknown type %u",
                   name, (unsigned)v->type);
}

/* true when the n bytes at s are one well-formed JSON value (the cursor builds nothing). */
static bool json_ok(const char *s, size_t n) {
    dx_arena scratch = {0};
    dx_jcur c;
    dx_jcur_init(&c, &scratch, s, n, NULL);
    bool ok = dx_jcur_skip(&c) == DX_OK && dx_jcur_at_end(&c);
    dx_arena_release(&scratch);
    return ok;
}

/* The format rules beyond the storage type; v is already of the storage type. */
static dx_err check_format(const dx_attr_def *d, const dx_value *v, dx_result *r) {
    if (d->key != DX_KEY_NONE && (v->type == DX_T_S || v->type == DX_T_B) && v->n == 0)
        return dx_fail(r, DX_ERR_VALIDATION, d->name,
                       "key attribute '%s' is empty; DynamoDB keys must not be empty strings "
                       "or empty binaries",
                       d->name);
    switch (d->type) {
    case DX_ATTR_DATETIME:
        if (!dx_datetime_parse(v->u.s, v->n, NULL))
            return dx_fail(r, DX_ERR_VALIDATION, d->name,
                           "attribute '%s' (datetime) needs ISO 8601 text such as "
                           "\"2026-11-25T12:00:00Z\" (YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm)), got "
                           "\"%.*s\"",
                           d->name, v->n > 40 ? 40 : (int)v->n, v->u.s);
        break;
    case DX_ATTR_TTL:
        if (memchr(v->u.s, '.', v->n) || memchr(v->u.s, 'e', v->n) || memchr(v->u.s, 'E', v->n))
            return dx_fail(r, DX_ERR_VALIDATION, d->name,
                           "attribute '%s' (ttl) needs whole epoch seconds, got %.*s", d->name,
                           v->n > 40 ? 40 : (int)v->n, v->u.s);
        break;
    case DX_ATTR_JSON:
        if (!json_ok(v->u.s, v->n))
            return dx_fail(r, DX_ERR_VALIDATION, d->name,
                           "attribute '%s' (json) holds text that is not valid JSON: \"%.*s%s\"",
                           d->name, v->n > 40 ? 40 : (int)v->n, v->u.s, v->n > 40 ? "..." : "");
        break;
    case DX_ATTR_STRING:
    case DX_ATTR_NUMBER:
    case DX_ATTR_BINARY:
    case DX_ATTR_BOOL:
    case DX_ATTR_LIST:
    case DX_ATTR_MAP:
    case DX_ATTR_STRING_SET:
    case DX_ATTR_NUMBER_SET:
    case DX_ATTR_BINARY_SET:
        break;
    }
    return DX_OK;
}

/* DynamoDB's checks (sets, UTF-8, nesting), with the attribute named in the message. */
static dx_err ddb_validate(const dx_attr_def *d, const dx_value *v, dx_result *r) {
    dx_result in;
    dx_result_clear(&in);
    dx_err e = dx_value_validate(v, d->name, &in);
    if (e == DX_OK) return DX_OK;
    return dx_fail(r, e, d->name, "attribute '%s': %s", d->name, in.message);
}

static dx_err check_value(const dx_model *m, size_t idx, const dx_value *v, dx_arena *a,
                          dx_value *out, bool strict, dx_result *r) {
    const dx_attr_def *d = &m->attrs[idx];
    dx_type want = dx_attr_type_storage(d->type);
    if (v->type != (uint32_t)want) {
        char what[64];
        snprintf(what, sizeof what, "a %s value (%s)", dx_attr_type_name(d->type),
                 dx_type_name(want));
        return wrong_type(d, v, what, r);
    }
    dx_err e = copy_canon(a, v, out, d->name, 0, r);
    if (e == DX_ERR_NOMEM) return dx_fail(r, e, d->name, "out of memory");
    if (e) return e;
    if (d->type == DX_ATTR_JSON && strict) {
        dx_str c;
        dx_err je = dx_json_compact(a, out->u.s, out->n, &c, NULL);
        if (je == DX_ERR_NOMEM) return dx_fail(r, DX_ERR_NOMEM, d->name, "out of memory");
        if (je) return check_format(d, out, r);
        *out = dx_vsn(c.ptr, c.len);
    }
    if (strict && (e = check_format(d, out, r)) != DX_OK) return e;
    return ddb_validate(d, out, r);
}

dx_err dx_attr_check_(const dx_model *m, size_t idx, const dx_value *v, dx_arena *a,
                      dx_value *out, dx_result *r) {
    return check_value(m, idx, v, a, out, true, r);
}

/* Numeric text of a plain N, or of an S that parses as a number. */
static bool numeric_plain(const dx_value *v) {
    if (v->type == DX_T_N) return true;
    if (v->type != DX_T_S) return false;
    dx_num x;
    return dx_num_parse(v->u.s, v->n, &x, NULL) == DX_OK;
}

static dx_err base64_plain(const dx_attr_def *d, const dx_value *v, dx_arena *a, dx_value *out,
                           dx_result *r) {
    if (v->type != DX_T_S) return wrong_type(d, v, "base64 text", r);
    unsigned char *p = dx_arena_alloc(a, v->n / 4 * 3 + 1);
    if (!p) return dx_fail(r, DX_ERR_NOMEM, d->name, "out of memory");
    size_t n = 0;
    if (dx_base64_decode(v->u.s, v->n, p, &n) != DX_OK)
        return dx_fail(r, DX_ERR_VALIDATION, d->name,
                       "attribute '%s' (%s) needs base64 text (RFC 4648, padded), got \"%.*s%s\"",
                       d->name, dx_attr_type_name(d->type), v->n > 40 ? 40 : (int)v->n, v->u.s,
                       v->n > 40 ? "..." : "");
    *out = dx_vb(p, n);
    return DX_OK;
}

dx_err dx_attr_from_plain_(const dx_model *m, size_t idx, const dx_value *plain, dx_arena *a,
                           dx_value *out, dx_result *r) {
    const dx_attr_def *d = &m->attrs[idx];
    dx_value sv = *plain; /* the storage form, elements possibly new in a */
    dx_err e;
    switch (d->type) {
    case DX_ATTR_STRING:
    case DX_ATTR_DATETIME:
        if (plain->type != DX_T_S)
            return wrong_type(d, plain, d->type == DX_ATTR_STRING ? "a string" : "an ISO 8601 string", r);
        break;
    case DX_ATTR_NUMBER:
        if (plain->type == DX_T_S) sv.type = DX_T_N; /* checked as number text below */
        else if (plain->type != DX_T_N)
            return wrong_type(d, plain, "a JSON number or a numeric string", r);
        break;
    case DX_ATTR_TTL:
        if (plain->type == DX_T_S && !numeric_plain(plain)) {
            int64_t t;
            if (!dx_datetime_parse(plain->u.s, plain->n, &t))
                return wrong_type(d, plain, "epoch seconds or an ISO 8601 datetime", r);
            if ((e = dx_value_i64(a, t, &sv)) != DX_OK)
                return dx_fail(r, e, d->name, "out of memory");
        } else if (plain->type == DX_T_S) {
            sv.type = DX_T_N;
        } else if (plain->type != DX_T_N) {
            return wrong_type(d, plain, "epoch seconds or an ISO 8601 datetime", r);
        }
        break;
    case DX_ATTR_BINARY:
        if ((e = base64_plain(d, plain, a, &sv, r)) != DX_OK) return e;
        break;
    case DX_ATTR_BOOL:
        if (plain->type != DX_T_BOOL) return wrong_type(d, plain, "true or false", r);
        break;
    case DX_ATTR_LIST:
        if (plain->type != DX_T_L) return wrong_type(d, plain, "an array", r);
        break;
    case DX_ATTR_MAP:
        if (plain->type != DX_T_M) return wrong_type(d, plain, "an object", r);
        break;
    case DX_ATTR_STRING_SET:
    case DX_ATTR_NUMBER_SET:
    case DX_ATTR_BINARY_SET: {
        const char *what = d->type == DX_ATTR_STRING_SET   ? "an array of strings"
                           : d->type == DX_ATTR_NUMBER_SET ? "an array of numbers"
                                                           : "an array of base64 strings";
        if (plain->type != DX_T_L) return wrong_type(d, plain, what, r);
        dx_value *el = dx_arena_alloc(a, (plain->n ? plain->n : 1) * sizeof *el);
        if (!el) return dx_fail(r, DX_ERR_NOMEM, d->name, "out of memory");
        for (uint32_t i = 0; i < plain->n; i++) {
            const dx_value *x = &plain->u.elems[i];
            el[i] = *x;
            bool ok = d->type == DX_ATTR_STRING_SET ? x->type == DX_T_S
                      : d->type == DX_ATTR_NUMBER_SET ? x->type == DX_T_N || x->type == DX_T_S
                                                      : true;
            if (d->type == DX_ATTR_NUMBER_SET && x->type == DX_T_S) el[i].type = DX_T_N;
            if (d->type == DX_ATTR_BINARY_SET) {
                if ((e = base64_plain(d, x, a, &el[i], r)) != DX_OK) return e;
            }
            if (!ok)
                return dx_fail(r, DX_ERR_VALIDATION, d->name,
                               "attribute '%s' (%s) needs %s; element %u is %s", d->name,
                               dx_attr_type_name(d->type), what, (unsigned)i, plain_kind(x->type));
        }
        sv = dx_vset(dx_attr_type_storage(d->type), el, plain->n);
        break;
    }
    case DX_ATTR_JSON: {
        dx_buf b = {0};
        if ((e = dx_encode_plain(&b, plain)) != DX_OK) {
            dx_buf_free(&b);
            return dx_fail(r, e, d->name, "attribute '%s': cannot encode the value as JSON",
                           d->name);
        }
        char *s = dx_arena_strndup(a, b.ptr ? b.ptr : "", b.len);
        size_t n = b.len;
        dx_buf_free(&b);
        if (!s) return dx_fail(r, DX_ERR_NOMEM, d->name, "out of memory");
        sv = dx_vsn(s, n);
        break;
    }
    }
    return check_value(m, idx, &sv, a, out, true, r);
}

/* ---------------------------------------------------------------- items */

static dx_item *item_alloc(const dx_model *m) {
    size_t n = m->nattrs;
    dx_item *it = calloc(1, sizeof *it);
    if (!it) return NULL;
    it->vals = calloc(n, sizeof *it->vals);
    it->dirty = calloc(n, sizeof *it->dirty);
    it->mem = calloc(n, sizeof *it->mem);
    if (!it->vals || !it->dirty || !it->mem) {
        dx_item_free(it);
        return NULL;
    }
    it->m = m;
    it->whole = dx_vmap(it->mem, 0);
    return it;
}

static void rebuild(dx_item *it) {
    uint32_t k = 0;
    for (size_t i = 0; i < it->m->nattrs; i++) {
        if (it->vals[i].type == DX_T_NONE) continue;
        it->mem[k].name = it->m->attrs[i].name;
        it->mem[k].name_len = (uint32_t)strlen(it->m->attrs[i].name);
        it->mem[k].value = it->vals[i];
        k++;
    }
    it->whole = dx_vmap(it->mem, k);
}

static void put(dx_item *it, size_t idx, const dx_value *v) {
    it->vals[idx] = *v;
    it->dirty[idx] = true;
    rebuild(it);
}

static void clear_dirty(dx_item *it) { memset(it->dirty, 0, it->m->nattrs * sizeof *it->dirty); }

static dx_err apply_defaults(dx_item *it) {
    const dx_model *m = it->m;
    for (size_t i = 0; i < m->nattrs; i++) {
        if (it->vals[i].type != DX_T_NONE) continue;
        if (m->defaults[i].type != DX_T_NONE) {
            it->vals[i] = m->defaults[i];
        } else if (m->attrs[i].gen != DX_GEN_NONE) {
            dx_err e = dx_gen_value(m->attrs[i].gen, &it->arena, &it->vals[i]);
            if (e) return e;
        }
    }
    rebuild(it);
    return DX_OK;
}

dx_item *dx_item_new(const dx_model *m) {
    if (!m) return NULL;
    dx_item *it = item_alloc(m);
    if (it && apply_defaults(it) != DX_OK) {
        dx_item_free(it);
        return NULL;
    }
    return it;
}

void dx_item_free(dx_item *it) {
    if (!it) return;
    dx_arena_release(&it->arena);
    free(it->vals);
    free(it->dirty);
    free(it->mem);
    free(it);
}

const dx_model *dx_item_model(const dx_item *it) { return it->m; }

static dx_err find_attr(const dx_model *m, const char *name, size_t *idx, dx_result *r) {
    if (!name) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "attribute name is NULL");
    *idx = dx_model_index_(m, name, strlen(name));
    if (*idx == DX_NO_ATTR)
        return dx_fail(r, DX_ERR_VALIDATION, name,
                       "model '%s' has no attribute '%s'", m->name, name);
    return DX_OK;
}

dx_err dx_item_set(dx_item *it, const char *name, const dx_value *v, dx_result *r) {
    size_t idx;
    dx_err e = find_attr(it->m, name, &idx, r);
    if (e) return e;
    if (!v) return dx_fail(r, DX_ERR_INVALID_ARG, name, "dx_item_set: value is NULL");
    if (v->type == DX_T_NONE) {
        it->vals[idx].type = DX_T_NONE;
        it->dirty[idx] = true;
        rebuild(it);
        return DX_OK;
    }
    dx_value out;
    if ((e = check_value(it->m, idx, v, &it->arena, &out, true, r)) != DX_OK) return e;
    put(it, idx, &out);
    return DX_OK;
}

/* Checks that attribute `name` is of one of the types in `ok` (0-terminated). */
static dx_err want_types(const dx_item *it, const char *name, const dx_attr_type *ok,
                         const char *setter, dx_result *r) {
    size_t idx;
    dx_err e = find_attr(it->m, name, &idx, r);
    if (e) return e;
    for (; *ok; ok++)
        if (it->m->attrs[idx].type == *ok) return DX_OK;
    return dx_fail(r, DX_ERR_VALIDATION, name,
                   "attribute '%s' is of type %s; %s cannot set it (use dx_item_set with a %s "
                   "value)",
                   name, dx_attr_type_name(it->m->attrs[idx].type), setter,
                   dx_type_name(dx_attr_type_storage(it->m->attrs[idx].type)));
}

static const dx_attr_type STR_TYPES[] = {DX_ATTR_STRING, DX_ATTR_DATETIME, DX_ATTR_JSON, 0};
static const dx_attr_type NUM_TYPES[] = {DX_ATTR_NUMBER, DX_ATTR_TTL, 0};

dx_err dx_item_set_str(dx_item *it, const char *name, const char *s, dx_result *r) {
    dx_err e = want_types(it, name, STR_TYPES, "dx_item_set_str", r);
    if (e) return e;
    if (!s) return dx_fail(r, DX_ERR_INVALID_ARG, name, "dx_item_set_str: string is NULL");
    dx_value v = dx_vsn(s, strlen(s));
    return dx_item_set(it, name, &v, r);
}

dx_err dx_item_set_num(dx_item *it, const char *name, const char *text, dx_result *r) {
    dx_err e = want_types(it, name, NUM_TYPES, "dx_item_set_num", r);
    if (e) return e;
    if (!text) return dx_fail(r, DX_ERR_INVALID_ARG, name, "dx_item_set_num: text is NULL");
    dx_value v = {DX_T_N, (uint32_t)strlen(text), {.s = text}};
    return dx_item_set(it, name, &v, r);
}

dx_err dx_item_set_i64(dx_item *it, const char *name, int64_t x, dx_result *r) {
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, x);
    dx_err e = want_types(it, name, NUM_TYPES, "dx_item_set_i64", r);
    return e ? e : dx_item_set_num(it, name, text, r);
}

dx_err dx_item_set_double(dx_item *it, const char *name, double x, dx_result *r) {
    dx_err e = want_types(it, name, NUM_TYPES, "dx_item_set_double", r);
    if (e) return e;
    dx_num n;
    dx_result in;
    dx_result_clear(&in);
    if (dx_num_from_double(x, &n, &in) != DX_OK)
        return dx_fail(r, DX_ERR_VALIDATION, name, "attribute '%s': %g is not a storable number: %s",
                       name, x, in.message);
    char text[DX_NUM_TEXT_MAX];
    dx_num_format(&n, text);
    return dx_item_set_num(it, name, text, r);
}

dx_err dx_item_set_bool(dx_item *it, const char *name, bool b, dx_result *r) {
    dx_value v = dx_vbool(b);
    return dx_item_set(it, name, &v, r);
}

dx_err dx_item_set_bin(dx_item *it, const char *name, const void *p, size_t n, dx_result *r) {
    if (!p && n) return dx_fail(r, DX_ERR_INVALID_ARG, name, "dx_item_set_bin: bytes are NULL");
    dx_value v = dx_vb(p ? p : "", n);
    return dx_item_set(it, name, &v, r);
}

dx_err dx_item_unset(dx_item *it, const char *name, dx_result *r) {
    dx_value none = {DX_T_NONE, 0, {.s = NULL}};
    return dx_item_set(it, name, &none, r);
}

const dx_value *dx_item_get(const dx_item *it, const char *name) {
    if (!name) return NULL;
    size_t idx = dx_model_index_(it->m, name, strlen(name));
    if (idx == DX_NO_ATTR || it->vals[idx].type == DX_T_NONE) return NULL;
    return &it->vals[idx];
}

dx_err dx_item_get_str(const dx_item *it, const char *name, const char **out) {
    const dx_value *v = dx_item_get(it, name);
    if (!v || v->type != DX_T_S) return DX_ERR_INVALID_ARG;
    *out = v->u.s;
    return DX_OK;
}

static const dx_value *get_num(const dx_item *it, const char *name, dx_result *r) {
    const dx_value *v = dx_item_get(it, name);
    if (!v || v->type != DX_T_N) {
        dx_fail(r, DX_ERR_INVALID_ARG, name, "attribute '%s' %s", name ? name : "(null)",
                v ? "is not a number" : "is not set");
        return NULL;
    }
    return v;
}

dx_err dx_item_get_i64(const dx_item *it, const char *name, int64_t *out, dx_result *r) {
    const dx_value *v = get_num(it, name, r);
    return v ? dx_value_to_i64(v, out, r) : DX_ERR_INVALID_ARG;
}

dx_err dx_item_get_double(const dx_item *it, const char *name, double *out, dx_result *r) {
    const dx_value *v = get_num(it, name, r);
    return v ? dx_value_to_double(v, out, r) : DX_ERR_INVALID_ARG;
}

dx_err dx_item_get_bool(const dx_item *it, const char *name, bool *out) {
    const dx_value *v = dx_item_get(it, name);
    if (!v || v->type != DX_T_BOOL) return DX_ERR_INVALID_ARG;
    *out = v->n != 0;
    return DX_OK;
}

const dx_value *dx_item_value(const dx_item *it) { return &it->whole; }

dx_err dx_item_key(const dx_item *it, dx_arena *a, dx_value *out, dx_result *r) {
    const dx_model *m = it->m;
    size_t keys[2] = {m->hash, m->range};
    dx_map_builder b = {.arena = a};
    for (int k = 0; k < 2; k++) {
        if (keys[k] == DX_NO_ATTR) continue;
        const dx_attr_def *d = &m->attrs[keys[k]];
        if (it->vals[keys[k]].type == DX_T_NONE)
            return dx_fail(r, DX_ERR_VALIDATION, d->name, "key attribute '%s' is not set",
                           d->name);
        dx_value *slot = dx_mapb_add(&b, d->name, strlen(d->name));
        if (!slot || dx_value_copy(a, &it->vals[keys[k]], slot) != DX_OK)
            return dx_fail(r, DX_ERR_NOMEM, d->name, "out of memory");
    }
    *out = dx_mapb_finish(&b);
    return DX_OK;
}

dx_err dx_item_validate(const dx_item *it, dx_result *r) {
    const dx_model *m = it->m;
    for (size_t i = 0; i < m->nattrs; i++) {
        const dx_attr_def *d = &m->attrs[i];
        const dx_value *v = &it->vals[i];
        if (v->type == DX_T_NONE) {
            if (d->required)
                return dx_fail(r, DX_ERR_VALIDATION, d->name,
                               "missing required %sattribute '%s' of model '%s'",
                               d->key == DX_KEY_HASH    ? "hash key "
                               : d->key == DX_KEY_RANGE ? "range key "
                                                        : "",
                               d->name, m->name);
            continue;
        }
        dx_type want = dx_attr_type_storage(d->type);
        if (v->type != (uint32_t)want) {
            char what[64];
            snprintf(what, sizeof what, "a %s value (%s)", dx_attr_type_name(d->type),
                     dx_type_name(want));
            return wrong_type(d, v, what, r);
        }
        dx_err e = check_format(d, v, r);
        if (!e) e = ddb_validate(d, v, r);
        if (e) return e;
    }
    return DX_OK;
}

size_t dx_item_bytes(const dx_item *it) { return dx_item_size(&it->whole); }

/* ---------------------------------------------------------------- plain JSON */

dx_err dx_item_to_dict(const dx_item *it, dx_buf *b) {
    size_t start = b->len;
    dx_err e = DX_ERR_NOMEM;
    if (!dx_buf_putc(b, '{')) goto fail;
    for (uint32_t k = 0; k < it->whole.n; k++) {
        const dx_member *mb = &it->mem[k];
        if ((k && !dx_buf_putc(b, ',')) || !dx_buf_put_json_str(b, mb->name, mb->name_len) ||
            !dx_buf_putc(b, ':'))
            goto fail;
        const dx_attr_def *d = dx_model_find(it->m, mb->name);
        if (d && d->type == DX_ATTR_JSON && json_ok(mb->value.u.s, mb->value.n)) {
            /* Not JSON (an item read from a table another program wrote): a string below. */
            if (!dx_buf_append(b, mb->value.u.s, mb->value.n)) goto fail;
        } else if ((e = dx_encode_plain(b, &mb->value)) != DX_OK) {
            goto fail;
        }
    }
    if (!dx_buf_putc(b, '}')) goto fail;
    return DX_OK;
fail:
    if (b->ptr) {
        b->len = start;
        b->ptr[start] = 0;
    }
    return e ? e : DX_ERR_NOMEM;
}

static dx_err check_required(const dx_item *it, dx_result *r) {
    const dx_model *m = it->m;
    for (size_t i = 0; i < m->nattrs; i++)
        if (m->attrs[i].required && it->vals[i].type == DX_T_NONE)
            return dx_fail(r, DX_ERR_VALIDATION, m->attrs[i].name,
                           "missing required attribute '%s' of model '%s'", m->attrs[i].name,
                           m->name);
    return DX_OK;
}

dx_err dx_item_from_value(const dx_model *m, const dx_value *plain, const dx_from_dict_opts *opts,
                          dx_item **out, dx_result *r) {
    static const dx_from_dict_opts none = {0};
    if (!opts) opts = &none;
    *out = NULL;
    if (!plain || plain->type != DX_T_M)
        return dx_fail(r, DX_ERR_VALIDATION, NULL,
                       "an item of model '%s' is a JSON object, got %s", m->name,
                       plain ? plain_kind(plain->type) : "nothing");
    dx_item *it = item_alloc(m);
    if (!it) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    dx_err e = DX_OK;
    for (uint32_t k = 0; k < plain->n; k++) {
        const dx_member *mb = &plain->u.members[k];
        size_t idx = dx_model_index_(m, mb->name, mb->name_len);
        if (idx == DX_NO_ATTR) {
            if (opts->allow_unknown) continue;
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)mb->name_len, mb->name);
            e = dx_fail(r, DX_ERR_VALIDATION, name,
                        "unknown attribute '%s': model '%s' does not define it", name, m->name);
            goto fail;
        }
        if (it->dirty[idx]) {
            e = dx_fail(r, DX_ERR_VALIDATION, m->attrs[idx].name, "attribute '%s' appears twice",
                        m->attrs[idx].name);
            goto fail;
        }
        it->dirty[idx] = true;
        if (mb->value.type == DX_T_NULL) continue; /* null: absent */
        e = dx_attr_from_plain_(m, idx, &mb->value, &it->arena, &it->vals[idx], r);
        if (e) goto fail;
    }
    if (!opts->no_defaults && (e = apply_defaults(it)) != DX_OK) {
        e = dx_fail(r, e, NULL, "out of memory");
        goto fail;
    }
    rebuild(it);
    if ((e = check_required(it, r)) != DX_OK) goto fail;
    clear_dirty(it);
    *out = it;
    return DX_OK;
fail:
    dx_item_free(it);
    return e;
}

dx_err dx_item_from_dict(const dx_model *m, const char *json, size_t len,
                         const dx_from_dict_opts *opts, dx_item **out, dx_result *r) {
    dx_arena tmp = {0};
    dx_value plain;
    *out = NULL;
    dx_err e = dx_decode_plain(&tmp, json, len, &plain, r);
    if (e == DX_ERR_VALIDATION && r && r->field[0]) {
        /* A value the decoder refused (a number out of DynamoDB's range or
         * precision): say which attribute, as the model's own checks do. */
        char msg[sizeof r->message], field[sizeof r->field];
        long offset = r->offset;
        snprintf(msg, sizeof msg, "%s", r->message);
        snprintf(field, sizeof field, "%s", r->field);
        dx_fail(r, e, field, "attribute '%s': %s", field, msg);
        r->offset = offset;
    }
    if (!e) e = dx_item_from_value(m, &plain, opts, out, r);
    dx_arena_release(&tmp);
    return e;
}

/* Replaces every attribute of it by the ones in stored (unknown attributes are ignored). */
static dx_err load_stored(dx_item *it, const dx_value *stored, dx_result *r) {
    const dx_model *m = it->m;
    if (!stored || stored->type != DX_T_M)
        return dx_fail(r, DX_ERR_VALIDATION, NULL, "a stored item is an M value");
    for (size_t i = 0; i < m->nattrs; i++) it->vals[i].type = DX_T_NONE;
    for (uint32_t k = 0; k < stored->n; k++) {
        const dx_member *mb = &stored->u.members[k];
        size_t idx = dx_model_index_(m, mb->name, mb->name_len);
        if (idx == DX_NO_ATTR) continue;
        dx_err e = check_value(m, idx, &mb->value, &it->arena, &it->vals[idx], false, r);
        if (e) {
            if (e != DX_ERR_NOMEM)
                dx_fail(r, e, m->attrs[idx].name, "stored item does not fit model '%s': %s",
                        m->name, r ? r->message : "");
            rebuild(it);
            return e;
        }
    }
    rebuild(it);
    return DX_OK;
}

dx_err dx_item_from_stored(const dx_model *m, const dx_value *stored, dx_item **out,
                           dx_result *r) {
    *out = NULL;
    dx_item *it = item_alloc(m);
    if (!it) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    dx_err e = load_stored(it, stored, r);
    if (e) {
        dx_item_free(it);
        return e;
    }
    *out = it;
    return DX_OK;
}

/* ---------------------------------------------------------------- requests */

static const dx_op_opts no_opts = {0};

static dx_err need_client(const dx_model *m, dx_client **c, dx_result *r) {
    *c = dx_model_client(m);
    if (*c) return DX_OK;
    return dx_fail(r, DX_ERR_CONFIG, NULL,
                   "model %s has no client and no default client is set (use "
                   "dx_model_set_client or dx_set_default_client)",
                   m->name);
}

static dx_err size_check(const dx_item *it, dx_result *r) {
    const dx_model *m = it->m;
    size_t bytes = dx_item_size(&it->whole);
    size_t limit = m->cfg.max_size && m->cfg.max_size < DX_MAX_ITEM_SIZE ? m->cfg.max_size
                                                                          : DX_MAX_ITEM_SIZE;
    if (bytes <= limit) return DX_OK;
    char field[128];
    const dx_value *h = &it->vals[m->hash];
    if (h->type == DX_T_S || h->type == DX_T_N)
        snprintf(field, sizeof field, "%.*s", (int)h->n, h->u.s);
    else
        snprintf(field, sizeof field, "%s", m->name);
    return dx_fail(r, DX_ERR_ITEM_TOO_LARGE, field,
                   "item is %zu bytes, over the limit of %zu bytes (%s)", bytes, limit,
                   limit == DX_MAX_ITEM_SIZE ? "DynamoDB's 400 KB" : "the model's max_size");
}

/*
 * ExpressionAttributeNames/Values: the builder's placeholders followed by the
 * caller's (for the condition), all copied into a. A caller placeholder that
 * clashes with a generated one is an error.
 */
static dx_err merge_map(dx_arena *a, const dx_value *gen, const dx_value *user, const char *what,
                        const dx_value **out, dx_result *r) {
    *out = NULL;
    if (!gen && !user) return DX_OK;
    if (user && user->type != DX_T_M)
        return dx_fail(r, DX_ERR_INVALID_ARG, what, "%s must be an M value", what);
    dx_map_builder b = {.arena = a};
    const dx_value *src[2] = {gen, user};
    for (int s = 0; s < 2; s++) {
        if (!src[s]) continue;
        for (uint32_t k = 0; k < src[s]->n; k++) {
            const dx_member *mb = &src[s]->u.members[k];
            if (s == 1 && gen && dx_map_getn(gen, mb->name, mb->name_len))
                return dx_fail(r, DX_ERR_INVALID_ARG, mb->name,
                               "%s: placeholder '%.*s' clashes with one dynox generates for the "
                               "update; rename it in the condition",
                               what, (int)mb->name_len, mb->name);
            dx_value *slot = dx_mapb_add(&b, mb->name, mb->name_len);
            if (!slot || dx_value_copy(a, &mb->value, slot) != DX_OK)
                return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
        }
    }
    dx_value *v = dx_arena_alloc(a, sizeof *v);
    if (!v) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    *v = dx_mapb_finish(&b);
    *out = v;
    return DX_OK;
}

/* Checks that key holds exactly the model's key attributes, of the right types, non-empty. */
static dx_err check_key(const dx_model *m, const dx_value *key, dx_result *r) {
    if (!key || key->type != DX_T_M)
        return dx_fail(r, DX_ERR_VALIDATION, NULL,
                       "the key of model '%s' is an M value with its key attributes", m->name);
    for (uint32_t k = 0; k < key->n; k++) {
        const dx_member *mb = &key->u.members[k];
        size_t idx = dx_model_index_(m, mb->name, mb->name_len);
        if (idx == DX_NO_ATTR || (idx != m->hash && idx != m->range)) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)mb->name_len, mb->name);
            return dx_fail(r, DX_ERR_VALIDATION, name,
                           "'%s' is not a key attribute of model '%s' (the key is %s%s%s)", name,
                           m->name, m->attrs[m->hash].name, m->range != DX_NO_ATTR ? " + " : "",
                           m->range != DX_NO_ATTR ? m->attrs[m->range].name : "");
        }
        const dx_attr_def *d = &m->attrs[idx];
        dx_type want = dx_attr_type_storage(d->type);
        if (mb->value.type != (uint32_t)want) {
            char what[64];
            snprintf(what, sizeof what, "a %s value (%s)", dx_attr_type_name(d->type),
                     dx_type_name(want));
            return wrong_type(d, &mb->value, what, r);
        }
        dx_err e = check_format(d, &mb->value, r);
        if (e) return e;
    }
    size_t keys[2] = {m->hash, m->range};
    for (int k = 0; k < 2; k++)
        if (keys[k] != DX_NO_ATTR && !dx_map_get(key, m->attrs[keys[k]].name))
            return dx_fail(r, DX_ERR_VALIDATION, m->attrs[keys[k]].name,
                           "the key is missing %s key attribute '%s' of model '%s'",
                           k == 0 ? "hash" : "range", m->attrs[keys[k]].name, m->name);
    return DX_OK;
}

/* Checks update fields against the model; copies them (canonical) into a as *out. */
static dx_err check_fields(const dx_model *m, const dx_member *fields, size_t n, dx_arena *a,
                           dx_member **out, dx_result *r) {
    if (!fields || n == 0)
        return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "nothing to update: no fields were given");
    dx_member *fs = dx_arena_alloc(a, n * sizeof *fs);
    if (!fs) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    for (size_t k = 0; k < n; k++) {
        const char *name = fields[k].name;
        size_t idx;
        dx_err e = find_attr(m, name, &idx, r);
        if (e) return e;
        const dx_attr_def *d = &m->attrs[idx];
        if (d->key != DX_KEY_NONE)
            return dx_fail(r, DX_ERR_VALIDATION, name,
                           "cannot update key attribute '%s' (it is part of the key); save a new "
                           "item and delete the old one instead",
                           name);
        fs[k].name = d->name;
        fs[k].name_len = (uint32_t)strlen(d->name);
        if (fields[k].value.type == DX_T_NONE) {
            if (d->required)
                return dx_fail(r, DX_ERR_VALIDATION, name,
                               "cannot remove required attribute '%s'", name);
            fs[k].value = fields[k].value;
            continue;
        }
        if ((e = check_value(m, idx, &fields[k].value, a, &fs[k].value, true, r)) != DX_OK)
            return e;
    }
    *out = fs;
    return DX_OK;
}

/* Fills an UpdateItem request from checked fields; strings and maps in a. */
static dx_err fill_update(const dx_model *m, const dx_value *key, const dx_member *fs, size_t n,
                          const char *condition, const dx_value *names, const dx_value *values,
                          dx_arena *a, dx_req *req, dx_result *r) {
    dx_expr_builder b;
    dx_buf text = {0};
    dx_value ns, vs;
    dx_err e;
    dx_eb_init(&b, a);
    if ((e = dx_eb_update_set(&b, fs, n, &text)) != DX_OK) {
        dx_buf_free(&text);
        return dx_fail(r, e, NULL, "cannot build the update expression: %s", dx_strerror(e));
    }
    memset(req, 0, sizeof *req);
    req->op = DX_OP_UPDATE;
    req->table = dx_arena_strdup(a, m->cfg.table);
    req->update = dx_arena_strndup(a, text.ptr ? text.ptr : "", text.len);
    dx_buf_free(&text);
    dx_value *k = dx_arena_alloc(a, sizeof *k);
    if (!req->table || !req->update || !k || dx_value_copy(a, key, k) != DX_OK)
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    req->key = k;
    if (condition && !(req->condition = dx_arena_strdup(a, condition)))
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    if ((e = merge_map(a, dx_eb_names(&b, &ns), names, "ExpressionAttributeNames", &req->names, r)))
        return e;
    return merge_map(a, dx_eb_values(&b, &vs), values, "ExpressionAttributeValues", &req->values, r);
}

dx_err dx_item_put_req(const dx_item *it, dx_arena *a, dx_req *req, dx_result *r) {
    dx_err e = dx_item_validate(it, r);
    if (!e) e = size_check(it, r);
    if (e) return e;
    memset(req, 0, sizeof *req);
    dx_value *v = dx_arena_alloc(a, sizeof *v);
    req->op = DX_OP_PUT;
    req->table = dx_arena_strdup(a, it->m->cfg.table);
    if (!v || !req->table || dx_value_copy(a, &it->whole, v) != DX_OK)
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    req->item = v;
    return DX_OK;
}

dx_err dx_update_req(const dx_model *m, const dx_value *key, const dx_member *fields, size_t n,
                     const char *condition, const dx_value *names, const dx_value *values,
                     dx_arena *a, dx_req *req, dx_result *r) {
    dx_member *fs;
    dx_err e = check_key(m, key, r);
    if (!e) e = check_fields(m, fields, n, a, &fs, r);
    if (!e) e = fill_update(m, key, fs, n, condition, names, values, a, req, r);
    return e;
}

/* ---------------------------------------------------------------- calls */

static dx_err run_call(dx_client *c, dx_call *call, dx_result *r) {
    dx_err e = dx_client_call(c, call);
    if (e == DX_OK) return DX_OK;
    if (call->res.err == e) *r = call->res;
    else dx_fail(r, e, NULL, "%s failed: %s", dx_op_name(call->req.op), dx_strerror(e));
    return e;
}

static void call_init(dx_call *call, dx_arena *a) {
    memset(call, 0, sizeof *call);
    dx_result_clear(&call->res);
    call->arena = a;
}

dx_err dx_item_save(dx_item *it, const dx_op_opts *o, dx_result *r) {
    dx_result tmp;
    if (!r) r = &tmp;
    dx_result_clear(r);
    if (!o) o = &no_opts;
    const dx_model *m = it->m;
    dx_client *c;
    dx_err e = need_client(m, &c, r);
    if (e) return e;
    /* What before_save hooks change (set_now, bump_version) is undone when the
     * save fails, as for dx_item_update: a retried save must not bump twice. */
    dx_value *saved = malloc(m->nattrs * sizeof *saved);
    bool *saved_dirty = malloc(m->nattrs * sizeof *saved_dirty);
    if (!saved || !saved_dirty) {
        free(saved);
        free(saved_dirty);
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    }
    memcpy(saved, it->vals, m->nattrs * sizeof *saved);
    memcpy(saved_dirty, it->dirty, m->nattrs * sizeof *saved_dirty);
    e = dx_model_run_hooks(m, it, DX_HOOK_BEFORE_SAVE, o->skip_hooks, r);
    if (!e) e = dx_item_validate(it, r);
    if (!e) e = size_check(it, r);
    if (!e) {
        dx_arena a = {0};
        dx_call call;
        call_init(&call, &a);
        call.req.op = DX_OP_PUT;
        call.req.table = m->cfg.table;
        call.req.item = &it->whole;
        call.req.condition = o->condition;
        call.req.names = o->names;
        call.req.values = o->values;
        e = run_call(c, &call, r);
        dx_arena_release(&a);
    }
    if (e) {
        memcpy(it->vals, saved, m->nattrs * sizeof *saved);
        memcpy(it->dirty, saved_dirty, m->nattrs * sizeof *saved_dirty);
        rebuild(it);
    }
    free(saved);
    free(saved_dirty);
    if (e) return e;
    return dx_model_run_hooks(m, it, DX_HOOK_AFTER_SAVE, o->skip_hooks, r);
}

dx_err dx_item_delete(dx_item *it, const dx_op_opts *o, dx_result *r) {
    dx_result tmp;
    if (!r) r = &tmp;
    dx_result_clear(r);
    if (!o) o = &no_opts;
    const dx_model *m = it->m;
    dx_client *c;
    dx_err e = need_client(m, &c, r);
    if (!e) e = dx_model_run_hooks(m, it, DX_HOOK_BEFORE_DELETE, o->skip_hooks, r);
    if (e) return e;

    dx_arena a = {0};
    dx_value key;
    dx_call call;
    call_init(&call, &a);
    if ((e = dx_item_key(it, &a, &key, r)) != DX_OK) goto out;
    call.req.op = DX_OP_DELETE;
    call.req.table = m->cfg.table;
    call.req.key = &key;
    call.req.condition = o->condition;
    call.req.names = o->names;
    call.req.values = o->values;
    e = run_call(c, &call, r);
out:
    dx_arena_release(&a);
    if (e) return e;
    return dx_model_run_hooks(m, it, DX_HOOK_AFTER_DELETE, o->skip_hooks, r);
}

dx_err dx_item_update(dx_item *it, const dx_member *fields, size_t n, const dx_op_opts *o,
                      dx_result *r) {
    dx_result tmp;
    if (!r) r = &tmp;
    dx_result_clear(r);
    if (!o) o = &no_opts;
    const dx_model *m = it->m;
    dx_client *c;
    dx_err e = need_client(m, &c, r);
    if (e) return e;

    dx_arena a = {0};
    dx_member *fs = NULL, *sent = NULL;
    size_t nsent = 0;
    dx_value key;
    dx_call call;
    call_init(&call, &a);
    dx_value *saved = malloc(m->nattrs * sizeof *saved);
    if (!saved) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    memcpy(saved, it->vals, m->nattrs * sizeof *saved);

    /* The key first: it names the item on the server and cannot change. */
    if ((e = dx_item_key(it, &a, &key, r)) != DX_OK) goto restore;
    if (n && (e = check_fields(m, fields, n, &it->arena, &fs, r)) != DX_OK) goto restore;
    clear_dirty(it);
    for (size_t k = 0; k < n; k++) {
        size_t idx = dx_model_index_(m, fs[k].name, fs[k].name_len);
        it->vals[idx] = fs[k].value; /* DX_T_NONE removes */
        it->dirty[idx] = true;
    }
    rebuild(it);
    if ((e = dx_model_run_hooks(m, it, DX_HOOK_BEFORE_UPDATE, o->skip_hooks, r)) != DX_OK)
        goto restore;
    if ((e = size_check(it, r)) != DX_OK) goto restore;

    sent = dx_arena_alloc(&a, m->nattrs * sizeof *sent);
    if (!sent) {
        e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
        goto restore;
    }
    for (size_t i = 0; i < m->nattrs; i++) {
        if (!it->dirty[i]) continue;
        if (m->attrs[i].key != DX_KEY_NONE) {
            e = dx_fail(r, DX_ERR_VALIDATION, m->attrs[i].name,
                        "a before_update hook changed key attribute '%s'; keys cannot be updated",
                        m->attrs[i].name);
            goto restore;
        }
        sent[nsent].name = m->attrs[i].name;
        sent[nsent].name_len = (uint32_t)strlen(m->attrs[i].name);
        sent[nsent].value = it->vals[i];
        nsent++;
    }
    if (nsent == 0) {
        e = dx_fail(r, DX_ERR_INVALID_ARG, NULL, "nothing to update: no fields were given");
        goto restore;
    }
    e = fill_update(m, &key, sent, nsent, o->condition, o->names, o->values, &a, &call.req, r);
    if (e) goto restore;
    call.req.ret = DX_RET_ALL_NEW;
    if ((e = run_call(c, &call, r)) != DX_OK) goto restore;
    /* The server's item is the truth (other writers may have changed other attributes). */
    if (call.resp.item && (e = load_stored(it, call.resp.item, r)) != DX_OK) goto restore;
    clear_dirty(it);
    free(saved);
    dx_arena_release(&a);
    return dx_model_run_hooks(m, it, DX_HOOK_AFTER_UPDATE, o->skip_hooks, r);
restore:
    memcpy(it->vals, saved, m->nattrs * sizeof *saved);
    clear_dirty(it);
    rebuild(it);
    free(saved);
    dx_arena_release(&a);
    return e;
}

dx_err dx_model_get(const dx_model *m, const dx_value *key, const dx_op_opts *o, dx_item **out,
                    dx_result *r) {
    dx_result tmp;
    if (!r) r = &tmp;
    dx_result_clear(r);
    if (!o) o = &no_opts;
    *out = NULL;
    dx_client *c;
    dx_err e = need_client(m, &c, r);
    if (!e) e = check_key(m, key, r);
    if (e) return e;

    dx_arena a = {0};
    dx_call call;
    call_init(&call, &a);
    call.req.op = DX_OP_GET;
    call.req.table = m->cfg.table;
    call.req.key = key;
    call.req.consistent = o->consistent_read == DX_YES ||
                          (o->consistent_read == DX_DEFAULT && m->cfg.consistent_read);
    dx_item *it = NULL;
    e = run_call(c, &call, r);
    if (!e && call.resp.item) e = dx_item_from_stored(m, call.resp.item, &it, r);
    dx_arena_release(&a);
    if (e || !it) return e;
    if ((e = dx_model_run_hooks(m, it, DX_HOOK_AFTER_LOAD, o->skip_hooks, r)) != DX_OK) {
        dx_item_free(it);
        return e;
    }
    *out = it;
    return DX_OK;
}

dx_err dx_update_by_key(const dx_model *m, const dx_value *key, const dx_member *fields, size_t n,
                        const dx_op_opts *o, dx_result *r) {
    dx_result tmp;
    if (!r) r = &tmp;
    dx_result_clear(r);
    if (!o) o = &no_opts;
    dx_client *c;
    dx_err e = need_client(m, &c, r);
    if (e) return e;
    dx_arena a = {0};
    dx_call call;
    call_init(&call, &a);
    e = dx_update_req(m, key, fields, n, o->condition, o->names, o->values, &a, &call.req, r);
    if (!e) e = run_call(c, &call, r);
    dx_arena_release(&a);
    return e;
}

dx_err dx_delete_by_key(const dx_model *m, const dx_value *key, const dx_op_opts *o,
                        dx_result *r) {
    dx_result tmp;
    if (!r) r = &tmp;
    dx_result_clear(r);
    if (!o) o = &no_opts;
    dx_client *c;
    dx_err e = need_client(m, &c, r);
    if (!e) e = check_key(m, key, r);
    if (e) return e;
    dx_arena a = {0};
    dx_call call;
    call_init(&call, &a);
    call.req.op = DX_OP_DELETE;
    call.req.table = m->cfg.table;
    call.req.key = key;
    call.req.condition = o->condition;
    call.req.names = o->names;
    call.req.values = o->values;
    e = run_call(c, &call, r);
    dx_arena_release(&a);
    return e;
}
