/*
 * value.c - the DynamoDB value model: numbers, builders, copies, flattening,
 * comparison, equality and validation.
 *
 * Numbers stay decimal text in a dx_value. dx_num is their parsed form: sign,
 * up to 38 significant ASCII digits and the power of ten of the first digit,
 * exactly what big.js (and so dynalite, and so DynamoDB as far as anyone can
 * observe it) keeps. Every check and every canonical text is derived from
 * that form, so "1.50", "15e-1" and "1.5" are one number everywhere.
 * Arithmetic is exact, digit by digit, in a fixed stack buffer wide enough
 * for any two numbers inside DynamoDB's range.
 *
 * dx_value_flatten measures the whole tree first, then makes one malloc, and
 * copies with two cursors, nodes (aligned dx_value / dx_member arrays) first
 * and bytes after, so no node ever needs its own allocation. Numbers already
 * in canonical form are recognised by a single scan and copied as they are.
 *
 * The memory backend's hot path (once per stored item) is dx_item_check, one
 * walk that validates, sizes (dx_item_size) and measures the packed form,
 * then dx_value_pack into a block the backend places itself. Maps are put in
 * name order by sorting one-byte indices on 8-byte name prefixes, or by
 * checking the caller's hint (the order of its previous item) in n - 1
 * comparisons, so 32-byte members are never shuffled.
 *
 * Validation and equality on large sets and maps (more than a few dozen
 * members) sort scratch index arrays instead of comparing every pair, so a
 * 100k-member set costs n log n, not n^2; if that scratch malloc fails they
 * fall back to the pairwise loop, so they never fail for want of memory.
 *
 * Must never: go through double except in the *_double accessors; allocate
 * outside the arena it is given, except flatten's single block and that
 * scratch (freed before the call returns; packing a map of more than 32
 * members uses some too); keep any state between calls (a pack hint is the
 * caller's).
 */
#include "dynox/value.h"

#include "dynox/size.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- types */

static const char *const type_names[] = {
    [DX_T_NONE] = "?", [DX_T_S] = "S",     [DX_T_N] = "N",   [DX_T_B] = "B",
    [DX_T_BOOL] = "BOOL", [DX_T_NULL] = "NULL", [DX_T_L] = "L", [DX_T_M] = "M",
    [DX_T_SS] = "SS", [DX_T_NS] = "NS",    [DX_T_BS] = "BS",
};

const char *dx_type_name(dx_type t) {
    if ((unsigned)t > DX_T_BS) return "?";
    return type_names[t];
}

dx_type dx_type_from_name(const char *name, size_t len) {
    if (!name) return DX_T_NONE;
    for (unsigned t = DX_T_S; t <= DX_T_BS; t++) {
        const char *s = type_names[t];
        if (strlen(s) == len && memcmp(s, name, len) == 0) return (dx_type)t;
    }
    return DX_T_NONE;
}

dx_value dx_vs(const char *s) { return dx_vsn(s ? s : "", s ? strlen(s) : 0); }

dx_value dx_vn(const char *text) {
    dx_value v = {DX_T_N, text ? (uint32_t)strlen(text) : 0, {.s = text ? text : ""}};
    return v;
}

/* ---------------------------------------------------------------- maps and builders */

const dx_value *dx_map_getn(const dx_value *m, const char *name, size_t len) {
    if (!m || m->type != DX_T_M || !name) return NULL;
    for (uint32_t i = 0; i < m->n; i++) {
        const dx_member *e = &m->u.members[i];
        if (e->name_len == len && (len == 0 || memcmp(e->name, name, len) == 0)) return &e->value;
    }
    return NULL;
}

const dx_value *dx_map_get(const dx_value *m, const char *name) {
    return name ? dx_map_getn(m, name, strlen(name)) : NULL;
}

/* Grows an arena array of `size`-byte elements to hold at least n + 1. */
static void *grow(dx_arena *a, void *old, uint32_t n, uint32_t *cap, size_t size) {
    if (n < *cap) return old;
    if (n >= UINT32_MAX / 2) return NULL;
    uint32_t ncap = *cap ? *cap * 2 : 8;
    void *p = dx_arena_alloc(a, (size_t)ncap * size);
    if (!p) return NULL;
    if (n) memcpy(p, old, (size_t)n * size);
    *cap = ncap;
    return p;
}

dx_value *dx_mapb_add(dx_map_builder *b, const char *name, size_t len) {
    if (!b || !b->arena || (!name && len) || len > UINT32_MAX) return NULL;
    dx_member *m = grow(b->arena, b->m, b->n, &b->cap, sizeof *m);
    if (!m) return NULL;
    b->m = m;
    char *copy = dx_arena_strndup(b->arena, name ? name : "", len);
    if (!copy) return NULL;
    dx_member *e = &m[b->n++];
    e->name = copy;
    e->name_len = (uint32_t)len;
    memset(&e->value, 0, sizeof e->value);
    return &e->value;
}

dx_value dx_mapb_finish(dx_map_builder *b) {
    dx_value v = dx_vmap(b->m, b->n);
    b->m = NULL;
    b->n = b->cap = 0;
    return v;
}

dx_value *dx_listb_add(dx_list_builder *b) {
    if (!b || !b->arena) return NULL;
    dx_value *v = grow(b->arena, b->v, b->n, &b->cap, sizeof *v);
    if (!v) return NULL;
    b->v = v;
    dx_value *e = &v[b->n++];
    memset(e, 0, sizeof *e);
    return e;
}

dx_value dx_listb_finish(dx_list_builder *b, dx_type t) {
    dx_value v = dx_vset(t, b->v, b->n);
    b->v = NULL;
    b->n = b->cap = 0;
    return v;
}

/* ---------------------------------------------------------------- numbers */

#define NUM_EXP_MAX 125
#define NUM_EXP_MIN (-130)

static const char msg_nan[] = "The parameter cannot be converted to a numeric value";
static const char msg_digits[] = "Attempting to store more than 38 significant digits in a Number";
static const char msg_over[] =
    "Number overflow. Attempting to store a number with magnitude larger than supported range";
static const char msg_under[] =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* DynamoDB's checks in dynalite's order: overflow, underflow, then digits. */
static dx_err check_limits(long e, size_t nd, dx_result *r) {
    if (nd == 0) return DX_OK;
    if (e > NUM_EXP_MAX) return dx_fail(r, DX_ERR_VALIDATION, NULL, "%s", msg_over);
    if (e < NUM_EXP_MIN) return dx_fail(r, DX_ERR_VALIDATION, NULL, "%s", msg_under);
    if (nd > DX_NUM_MAX_DIGITS) return dx_fail(r, DX_ERR_VALIDATION, NULL, "%s", msg_digits);
    return DX_OK;
}

dx_err dx_num_parse(const char *s, size_t n, dx_num *out, dx_result *r) {
    if (!s || n == 0) return dx_fail(r, DX_ERR_VALIDATION, NULL, "%s", msg_nan);
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-') {
        neg = true;
        i = 1;
    }
    size_t int_start = i;
    while (i < n && is_digit(s[i])) i++;
    size_t int_len = i - int_start, frac_start = i, frac_len = 0;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && is_digit(s[i])) i++;
        frac_len = i - frac_start;
    }
    long long ex = 0;
    bool ok = int_len + frac_len > 0;
    if (ok && i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        size_t es = i;
        while (i < n && is_digit(s[i])) {
            /* Saturate: anything this large is out of range either way. */
            if (ex < 1000000000000LL) ex = ex * 10 + (s[i] - '0');
            i++;
        }
        if (i == es) ok = false;
        if (eneg) ex = -ex;
    }
    if (!ok || i != n) {
        int shown = n > 200 ? 200 : (int)n;
        return dx_fail(r, DX_ERR_VALIDATION, NULL, "%s: %.*s%s", msg_nan, shown, s,
                       n > 200 ? "..." : "");
    }

    /* Digits as one sequence: int part then fraction, the point after int_len. */
    size_t total = int_len + frac_len, f = 0, l;
#define DIGIT_AT(k) ((k) < int_len ? s[int_start + (k)] : s[frac_start + (k) - int_len])
    while (f < total && DIGIT_AT(f) == '0') f++;
    if (f == total) {
        memset(out, 0, sizeof *out);
        return DX_OK;
    }
    l = total - 1;
    while (DIGIT_AT(l) == '0') l--;
    long long e = (long long)int_len - (long long)f - 1 + ex;
    size_t nd = l - f + 1;
    if (e > NUM_EXP_MAX) return check_limits(NUM_EXP_MAX + 1, nd, r);
    if (e < NUM_EXP_MIN) return check_limits(NUM_EXP_MIN - 1, nd, r);
    dx_err err = check_limits((long)e, nd, r);
    if (err) return err;
    out->neg = neg;
    out->ndigits = (uint8_t)nd;
    out->exp = (int16_t)e;
    /* The digits f..l lie in the integer part, the fraction, or both. */
    char *o = out->digits;
    if (f < int_len) {
        size_t end = l < int_len ? l + 1 : int_len;
        memcpy(o, s + int_start + f, end - f);
        o += end - f;
    }
    if (l >= int_len) {
        size_t from = f > int_len ? f - int_len : 0;
        memcpy(o, s + frac_start + from, l - int_len + 1 - from);
    }
#undef DIGIT_AT
    return DX_OK;
}

size_t dx_num_format(const dx_num *x, char *out) {
    char *o = out;
    if (x->ndigits > DX_NUM_MAX_DIGITS ||
        (x->ndigits && (x->exp > NUM_EXP_MAX || x->exp < NUM_EXP_MIN))) {
        *o = 0; /* not something dx_num_parse makes; would not fit DX_NUM_TEXT_MAX */
        return 0;
    }
    if (x->ndigits == 0) {
        *o++ = '0';
        *o = 0;
        return 1;
    }
    size_t nd = x->ndigits;
    if (x->neg) *o++ = '-';
    if (x->exp >= 0) {
        size_t ilen = (size_t)x->exp + 1;
        if (nd <= ilen) {
            memcpy(o, x->digits, nd);
            o += nd;
            memset(o, '0', ilen - nd);
            o += ilen - nd;
        } else {
            memcpy(o, x->digits, ilen);
            o += ilen;
            *o++ = '.';
            memcpy(o, x->digits + ilen, nd - ilen);
            o += nd - ilen;
        }
    } else {
        size_t zeros = (size_t)(-x->exp - 1);
        *o++ = '0';
        *o++ = '.';
        memset(o, '0', zeros);
        o += zeros;
        memcpy(o, x->digits, nd);
        o += nd;
    }
    *o = 0;
    return (size_t)(o - out);
}

/* Length of dx_num_format's text for x, without formatting it. */
static size_t num_canon_len(const dx_num *x) {
    if (x->ndigits == 0) return 1;
    size_t nd = x->ndigits, len = x->neg ? 1 : 0;
    if (x->exp >= 0) {
        size_t ilen = (size_t)x->exp + 1;
        return len + (nd <= ilen ? ilen : nd + 1);
    }
    return len + 2 + (size_t)(-x->exp - 1) + nd;
}

/* Compares magnitudes only. */
static int mag_cmp(const dx_num *a, const dx_num *b) {
    if (a->ndigits == 0 || b->ndigits == 0) return (a->ndigits != 0) - (b->ndigits != 0);
    if (a->exp != b->exp) return a->exp < b->exp ? -1 : 1;
    size_t m = a->ndigits < b->ndigits ? a->ndigits : b->ndigits;
    int c = memcmp(a->digits, b->digits, m);
    if (c) return c < 0 ? -1 : 1;
    return (a->ndigits > b->ndigits) - (a->ndigits < b->ndigits);
}

int dx_num_cmp(const dx_num *a, const dx_num *b) {
    int sa = a->ndigits == 0 ? 0 : a->neg ? -1 : 1;
    int sb = b->ndigits == 0 ? 0 : b->neg ? -1 : 1;
    if (sa != sb) return sa < sb ? -1 : 1;
    if (sa == 0) return 0;
    int m = mag_cmp(a, b);
    return sa < 0 ? -m : m;
}

/*
 * Exact sum. Digits are laid out by power of ten in one stack array, lowest
 * power at index 0; any two numbers inside DynamoDB's range (exponents
 * 125 .. -130, 38 digits each) span at most 126 + 130 + 37 + 1 positions.
 */
#define ADD_WIDTH 300

dx_err dx_num_add(const dx_num *a, const dx_num *b, dx_num *out, dx_result *r) {
    if (a->ndigits == 0) {
        *out = *b;
        return DX_OK;
    }
    if (b->ndigits == 0) {
        *out = *a;
        return DX_OK;
    }
    int lo_a = a->exp - a->ndigits + 1, lo_b = b->exp - b->ndigits + 1;
    int lo = lo_a < lo_b ? lo_a : lo_b;
    int hi = (a->exp > b->exp ? a->exp : b->exp) + 1; /* room for a carry */
    if (hi - lo + 1 > ADD_WIDTH)
        return dx_fail(r, DX_ERR_INVALID_ARG, NULL,
                       "dx_num_add: operands outside DynamoDB's range (parse them with dx_num_parse)");
    /* big gets the larger magnitude, so a difference never goes negative. */
    int mc = mag_cmp(a, b);
    bool same = a->neg == b->neg;
    if (!same && mc == 0) {
        memset(out, 0, sizeof *out);
        return DX_OK;
    }
    const dx_num *big = mc >= 0 ? a : b, *small = mc >= 0 ? b : a;
    unsigned char acc[ADD_WIDTH] = {0};
    int width = hi - lo + 1;
    for (int k = 0; k < big->ndigits; k++) acc[big->exp - k - lo] = (unsigned char)(big->digits[k] - '0');
    int carry = 0;
    int s_lo = small->exp - small->ndigits + 1 - lo;
    for (int p = s_lo; p < width; p++) {
        int k = small->exp - lo - p; /* index into small->digits */
        int d = (k >= 0 && k < small->ndigits) ? small->digits[k] - '0' : 0;
        if (d == 0 && carry == 0 && k < 0) break;
        int v = same ? acc[p] + d + carry : acc[p] - d - carry;
        if (same) {
            carry = v >= 10;
            if (carry) v -= 10;
        } else {
            carry = v < 0;
            if (carry) v += 10;
        }
        acc[p] = (unsigned char)v;
    }
    int top = width - 1, bot = 0;
    while (top >= 0 && acc[top] == 0) top--;
    if (top < 0) {
        memset(out, 0, sizeof *out);
        return DX_OK;
    }
    while (acc[bot] == 0) bot++;
    long e = (long)top + lo;
    size_t nd = (size_t)(top - bot + 1);
    dx_err err = check_limits(e, nd, r);
    if (err) return err;
    out->neg = big->neg;
    out->exp = (int16_t)e;
    out->ndigits = (uint8_t)nd;
    for (size_t k = 0; k < nd; k++) out->digits[k] = (char)('0' + acc[top - (int)k]);
    return DX_OK;
}

dx_err dx_num_sub(const dx_num *a, const dx_num *b, dx_num *out, dx_result *r) {
    dx_num nb = *b;
    if (nb.ndigits) nb.neg = !nb.neg;
    return dx_num_add(a, &nb, out, r);
}

dx_err dx_num_to_i64(const dx_num *x, int64_t *out, dx_result *r) {
    if (x->ndigits == 0) {
        *out = 0;
        return DX_OK;
    }
    char text[DX_NUM_TEXT_MAX];
    if (x->exp < 0 || (int)x->ndigits - 1 > x->exp) {
        dx_num_format(x, text);
        return dx_fail(r, DX_ERR_VALIDATION, NULL, "%s is not an integer", text);
    }
    uint64_t limit = x->neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    bool fits = x->exp < 19;
    for (int k = 0; fits && k <= x->exp; k++) {
        unsigned d = k < x->ndigits ? (unsigned)(x->digits[k] - '0') : 0;
        if (v > (limit - d) / 10) fits = false;
        else v = v * 10 + d;
    }
    if (!fits) {
        dx_num_format(x, text);
        return dx_fail(r, DX_ERR_VALIDATION, NULL,
                       "%s does not fit a 64-bit integer (%" PRId64 " to %" PRId64 ")", text,
                       INT64_MIN, INT64_MAX);
    }
    *out = x->neg ? (int64_t)(0 - v) : (int64_t)v;
    return DX_OK;
}

dx_err dx_num_to_double(const dx_num *x, double *out, dx_result *r) {
    if (x->ndigits == 0) {
        *out = 0.0;
        return DX_OK;
    }
    /* "-d.ddde-NNN" is what strtod reads fastest and most exactly. */
    char text[DX_NUM_MAX_DIGITS + 16], *o = text;
    if (x->neg) *o++ = '-';
    *o++ = x->digits[0];
    if (x->ndigits > 1) {
        *o++ = '.';
        memcpy(o, x->digits + 1, (size_t)x->ndigits - 1);
        o += x->ndigits - 1;
    }
    snprintf(o, 8, "e%d", (int)x->exp);
    double d = strtod(text, NULL);
    if (isinf(d)) return dx_fail(r, DX_ERR_VALIDATION, NULL, "%s does not fit a double", text);
    *out = d;
    return DX_OK;
}

void dx_num_from_i64(int64_t v, dx_num *out) {
    memset(out, 0, sizeof *out);
    if (v == 0) return;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    char tmp[24];
    int n = 0;
    while (u) {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    }
    out->neg = v < 0;
    out->exp = (int16_t)(n - 1);
    int lo = 0;
    while (tmp[lo] == '0') lo++; /* trailing zeros of the number */
    out->ndigits = (uint8_t)(n - lo);
    for (int k = 0; k < n - lo; k++) out->digits[k] = tmp[n - 1 - k];
}

dx_err dx_num_from_double(double v, dx_num *out, dx_result *r) {
    if (isnan(v) || isinf(v))
        return dx_fail(r, DX_ERR_VALIDATION, NULL, "%s cannot be stored as a Number",
                       isnan(v) ? "NaN" : v < 0 ? "-Infinity" : "Infinity");
    char text[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(text, sizeof text, "%.*g", prec, v);
        if (strtod(text, NULL) == v) break;
    }
    return dx_num_parse(text, (size_t)n, out, r);
}

/*
 * true when s is already the canonical text of a valid number, so flatten can
 * copy it as it is. Conservative: anything it is unsure of goes the slow way
 * (parse + format), which gives the same answer.
 */
static bool num_is_canonical(const char *s, size_t n) {
    size_t i = 0;
    if (n == 0) return false;
    if (s[0] == '-') i = 1;
    if (i >= n) return false;
    if (s[i] == '0') {
        if (i + 1 == n) return i == 0; /* "0" yes, "-0" no */
        if (s[i + 1] != '.') return false;
        i += 2;
        size_t fs = i;
        while (i < n && s[i] == '0') i++;
        size_t z = i - fs;
        size_t ds = i;
        while (i < n && is_digit(s[i])) i++;
        size_t nd = i - ds;
        return i == n && nd > 0 && nd <= DX_NUM_MAX_DIGITS && s[n - 1] != '0' &&
               z <= (size_t)(-NUM_EXP_MIN - 1);
    }
    size_t is = i;
    while (i < n && is_digit(s[i])) i++;
    size_t ilen = i - is;
    if (ilen == 0 || ilen > NUM_EXP_MAX + 1) return false;
    if (i == n) {
        size_t t = n;
        while (s[t - 1] == '0') t--;
        return t - is <= DX_NUM_MAX_DIGITS;
    }
    if (s[i] != '.') return false;
    i++;
    size_t fs = i;
    while (i < n && is_digit(s[i])) i++;
    size_t flen = i - fs;
    return i == n && flen > 0 && s[n - 1] != '0' && ilen + flen <= DX_NUM_MAX_DIGITS;
}


bool dx_num_is_canonical(const char *s, size_t n) { return s && num_is_canonical(s, n); }

/* ---------------------------------------------------------------- N values */

static dx_err need_n(const dx_value *v, dx_num *x, dx_result *r) {
    if (!v || v->type != DX_T_N)
        return dx_fail(r, DX_ERR_VALIDATION, NULL, "expected a number (N), got %s",
                       v ? dx_type_name((dx_type)v->type) : "nothing");
    return dx_num_parse(v->u.s, v->n, x, r);
}

dx_err dx_value_to_i64(const dx_value *v, int64_t *out, dx_result *r) {
    dx_num x;
    dx_err e = need_n(v, &x, r);
    return e ? e : dx_num_to_i64(&x, out, r);
}

dx_err dx_value_to_double(const dx_value *v, double *out, dx_result *r) {
    dx_num x;
    dx_err e = need_n(v, &x, r);
    return e ? e : dx_num_to_double(&x, out, r);
}

dx_err dx_value_from_num(dx_arena *a, const dx_num *x, dx_value *out) {
    char text[DX_NUM_TEXT_MAX];
    size_t n = dx_num_format(x, text);
    char *p = dx_arena_strndup(a, text, n);
    if (!p) return DX_ERR_NOMEM;
    out->type = DX_T_N;
    out->n = (uint32_t)n;
    out->u.s = p;
    return DX_OK;
}

dx_err dx_value_num(dx_arena *a, const char *text, size_t n, dx_value *out, dx_result *r) {
    if (text && num_is_canonical(text, n)) { /* valid, and already as dx_num_format writes it */
        char *p = dx_arena_strndup(a, text, n);
        if (!p) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory storing a number");
        out->type = DX_T_N;
        out->n = (uint32_t)n;
        out->u.s = p;
        return DX_OK;
    }
    dx_num x;
    dx_err e = dx_num_parse(text, n, &x, r);
    if (e) return e;
    e = dx_value_from_num(a, &x, out);
    return e ? dx_fail(r, e, NULL, "out of memory storing a number") : DX_OK;
}

dx_err dx_value_i64(dx_arena *a, int64_t x, dx_value *out) {
    dx_num num;
    dx_num_from_i64(x, &num);
    return dx_value_from_num(a, &num, out);
}

dx_err dx_value_double(dx_arena *a, double x, dx_value *out, dx_result *r) {
    dx_num num;
    dx_err e = dx_num_from_double(x, &num, r);
    if (e) return e;
    e = dx_value_from_num(a, &num, out);
    return e ? dx_fail(r, e, NULL, "out of memory storing a number") : DX_OK;
}

/* ---------------------------------------------------------------- copy */

dx_err dx_value_copy(dx_arena *a, const dx_value *src, dx_value *dst) {
    *dst = *src;
    switch ((dx_type)src->type) {
    case DX_T_S:
    case DX_T_N:
    case DX_T_B: {
        char *p = dx_arena_strndup(a, src->n ? src->u.s : "", src->n);
        if (!p) return DX_ERR_NOMEM;
        dst->u.s = p;
        return DX_OK;
    }
    case DX_T_L:
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS: {
        if (!src->n) return DX_OK;
        dx_value *e = dx_arena_alloc(a, (size_t)src->n * sizeof *e);
        if (!e) return DX_ERR_NOMEM;
        for (uint32_t i = 0; i < src->n; i++) {
            dx_err err = dx_value_copy(a, &src->u.elems[i], &e[i]);
            if (err) return err;
        }
        dst->u.elems = e;
        return DX_OK;
    }
    case DX_T_M: {
        if (!src->n) return DX_OK;
        dx_member *m = dx_arena_alloc(a, (size_t)src->n * sizeof *m);
        if (!m) return DX_ERR_NOMEM;
        for (uint32_t i = 0; i < src->n; i++) {
            const dx_member *s = &src->u.members[i];
            char *name = dx_arena_strndup(a, s->name_len ? s->name : "", s->name_len);
            if (!name) return DX_ERR_NOMEM;
            m[i].name = name;
            m[i].name_len = s->name_len;
            dx_err err = dx_value_copy(a, &s->value, &m[i].value);
            if (err) return err;
        }
        dst->u.members = m;
        return DX_OK;
    }
    case DX_T_NONE:
    case DX_T_BOOL:
    case DX_T_NULL:
        return DX_OK;
    }
    return DX_OK;
}

/* ---------------------------------------------------------------- flatten */

/* Bytes of x as a LEB128 varint. */
static size_t vlen(size_t x) {
    size_t n = 1;
    while (x >= 0x80) {
        x >>= 7;
        n++;
    }
    return n;
}

static int member_ptr_qcmp(const void *a, const void *b);


typedef struct flat_size {
    size_t nodes; /* dx_value and dx_member arrays */
    size_t bytes; /* strings, numbers, binaries, names (each NUL-terminated) */
} flat_size;

/* Length of the canonical text of number v, or (size_t)-1 with r filled. */
static size_t flat_num_len(const dx_value *v, dx_result *r) {
    if (num_is_canonical(v->u.s, v->n)) return v->n;
    dx_num x;
    char text[DX_NUM_TEXT_MAX];
    if (dx_num_parse(v->u.s, v->n, &x, r) != DX_OK) return (size_t)-1;
    return dx_num_format(&x, text);
}

static dx_err flat_measure(const dx_value *v, flat_size *sz, dx_result *r) {
    switch ((dx_type)v->type) {
    case DX_T_S:
    case DX_T_B:
        sz->bytes += (size_t)v->n + 1;
        return DX_OK;
    case DX_T_N: {
        size_t len = flat_num_len(v, r);
        if (len == (size_t)-1) return DX_ERR_VALIDATION;
        sz->bytes += len + 1;
        return DX_OK;
    }
    case DX_T_L:
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS:
        sz->nodes += (size_t)v->n * sizeof(dx_value);
        for (uint32_t i = 0; i < v->n; i++) {
            dx_err e = flat_measure(&v->u.elems[i], sz, r);
            if (e) return e;
        }
        return DX_OK;
    case DX_T_M:
        sz->nodes += (size_t)v->n * sizeof(dx_member);
        for (uint32_t i = 0; i < v->n; i++) {
            const dx_member *m = &v->u.members[i];
            sz->bytes += (size_t)m->name_len + 1;
            dx_err e = flat_measure(&m->value, sz, r);
            if (e) return e;
        }
        return DX_OK;
    case DX_T_NONE:
    case DX_T_BOOL:
    case DX_T_NULL:
        return DX_OK;
    }
    return dx_fail(r, DX_ERR_VALIDATION, NULL, "unknown value type %u", (unsigned)v->type);
}

typedef struct flat_cursor {
    char *nodes;
    char *bytes;
} flat_cursor;

static const char *flat_bytes(flat_cursor *c, const char *s, size_t n) {
    char *p = c->bytes;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    c->bytes += n + 1;
    return p;
}

static int member_cmp(const dx_member *a, const dx_member *b) {
    size_t m = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = m ? memcmp(a->name, b->name, m) : 0;
    if (c) return c;
    return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

static int member_qsort_cmp(const void *a, const void *b) { return member_cmp(a, b); }

/* Sorts members by name; free for the already-sorted maps flatten mostly sees. */
static void sort_members(dx_member *m, uint32_t n) {
    uint32_t i = 1;
    while (i < n && member_cmp(&m[i - 1], &m[i]) <= 0) i++;
    if (i >= n) return;
    if (n > 32) {
        qsort(m, n, sizeof *m, member_qsort_cmp);
        return;
    }
    for (; i < n; i++) {
        dx_member t = m[i];
        uint32_t j = i;
        while (j > 0 && member_cmp(&m[j - 1], &t) > 0) {
            m[j] = m[j - 1];
            j--;
        }
        m[j] = t;
    }
}

/* Above this many members, a map is copied as it is and then sorted with qsort. */
#define ORDER_SMALL 32
_Static_assert(ORDER_SMALL <= sizeof ((dx_pack_hint *)0)->ord, "a hint holds a small map's order");

/* The first 8 bytes of a name, big-endian and zero-padded: compares like the
 * name itself, except that equal keys need member_cmp to tell them apart. */
static uint64_t name_key(const dx_member *m) {
    uint64_t k = 0;
    memcpy(&k, m->name, m->name_len < 8 ? m->name_len : 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    k = __builtin_bswap64(k);
#endif
    return k;
}

/*
 * ord[] = 0..n-1 in name order (n <= ORDER_SMALL): an insertion sort of
 * one-byte indices on 8-byte keys, so the 32-byte members are copied once,
 * into place, and memcmp runs only for names sharing their first 8 bytes.
 */
static bool member_order(const dx_member *m, uint32_t n, uint8_t *ord, dx_pack_hint *hint) {
    uint64_t key[ORDER_SMALL];
    for (uint32_t i = 0; i < n; i++) key[i] = name_key(&m[i]);
    if (hint && hint->n == n) {
        /* The order that sorted the caller's previous map sorts this one if it
         * puts these names in strictly increasing order: n - 1 comparisons. */
        uint32_t i = n && hint->ord[0] < n ? 1 : n + 1;
        for (; i < n; i++) {
            uint8_t p = hint->ord[i - 1], q = hint->ord[i];
            if (q >= n || (key[p] != key[q] ? key[p] > key[q] : member_cmp(&m[p], &m[q]) >= 0))
                break;
        }
        if (i == n) {
            memcpy(ord, hint->ord, n);
            return true; /* strictly increasing: no name twice */
        }
    }
    for (uint32_t i = 0; i < n; i++) ord[i] = (uint8_t)i;
    for (uint32_t i = 1; i < n; i++) {
        uint8_t t = ord[i];
        uint32_t j = i;
        while (j > 0) {
            uint8_t p = ord[j - 1];
            bool greater = key[p] != key[t] ? key[p] > key[t] : member_cmp(&m[p], &m[t]) > 0;
            if (!greater) break;
            ord[j] = p;
            j--;
        }
        ord[j] = t;
    }
    if (hint) {
        hint->n = n;
        memcpy(hint->ord, ord, n);
    }
    for (uint32_t i = 1; i < n; i++)
        if (key[ord[i - 1]] == key[ord[i]] && member_cmp(&m[ord[i - 1]], &m[ord[i]]) == 0) return false;
    return true;
}

/* Copies src into dst (already placed) using the measured space; cannot fail. */
static void flat_copy(const dx_value *src, dx_value *dst, flat_cursor *c) {
    *dst = *src;
    switch ((dx_type)src->type) {
    case DX_T_S:
    case DX_T_B:
        dst->u.s = flat_bytes(c, src->u.s, src->n);
        return;
    case DX_T_N:
        if (num_is_canonical(src->u.s, src->n)) {
            dst->u.s = flat_bytes(c, src->u.s, src->n);
        } else {
            dx_num x;
            dx_num_parse(src->u.s, src->n, &x, NULL); /* measured: cannot fail */
            size_t len = dx_num_format(&x, c->bytes);
            dst->u.s = c->bytes;
            dst->n = (uint32_t)len;
            c->bytes += len + 1;
        }
        return;
    case DX_T_L:
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS: {
        dx_value *e = (dx_value *)(void *)c->nodes;
        c->nodes += (size_t)src->n * sizeof *e;
        dst->u.elems = src->n ? e : NULL;
        for (uint32_t i = 0; i < src->n; i++) flat_copy(&src->u.elems[i], &e[i], c);
        return;
    }
    case DX_T_M: {
        dx_member *m = (dx_member *)(void *)c->nodes;
        uint32_t n = src->n;
        c->nodes += (size_t)n * sizeof *m;
        dst->u.members = n ? m : NULL;
        uint8_t ord[ORDER_SMALL];
        bool small = n <= ORDER_SMALL;
        if (small) (void)member_order(src->u.members, n, ord, NULL);
        for (uint32_t i = 0; i < n; i++) {
            const dx_member *s = &src->u.members[small ? ord[i] : i];
            m[i].name = flat_bytes(c, s->name, s->name_len);
            m[i].name_len = s->name_len;
            flat_copy(&s->value, &m[i].value, c);
        }
        if (!small) sort_members(m, n);
        return;
    }
    case DX_T_NONE:
    case DX_T_BOOL:
    case DX_T_NULL:
        return;
    }
}

/* The node arrays are packed back to back; each must leave the next aligned. */
_Static_assert(sizeof(dx_value) % _Alignof(dx_member) == 0 && sizeof(dx_member) % _Alignof(dx_value) == 0 &&
                   sizeof(dx_value) % _Alignof(dx_value) == 0 && sizeof(dx_member) % _Alignof(dx_member) == 0,
               "flatten packs dx_value and dx_member arrays back to back");

dx_err dx_value_flatten(const dx_value *v, dx_value **out, dx_result *r) {
    *out = NULL;
    if (!v) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dx_value_flatten: no value given");
    flat_size sz = {sizeof(dx_value), 0};
    dx_err e = flat_measure(v, &sz, r);
    if (e) return e;
    char *block = malloc(sz.nodes + sz.bytes);
    if (!block) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory flattening a value");
    flat_cursor c = {block + sizeof(dx_value), block + sz.nodes};
    flat_copy(v, (dx_value *)(void *)block, &c);
    *out = (dx_value *)(void *)block;
    return DX_OK;
}

/* ---------------------------------------------------------------- packing */

/*
 * The packed form, for storing many items compactly (the memory backend):
 *   value   := tag (the dx_type, one byte) body
 *   S, N, B := varint length, the bytes, a NUL        (numbers canonical)
 *   BOOL    := one byte, 0 or 1                       NULL := nothing
 *   L       := varint count, count values
 *   SS, NS, BS := varint count, count x (varint length, bytes, NUL)
 *   M       := varint count, count x (varint name length, name, NUL, value),
 *              members sorted by name as dx_value_flatten sorts them
 * Varints are LEB128. Every string keeps its NUL so that unpacked views can
 * point into the block like flattened ones do.
 */

static size_t vput(unsigned char *p, size_t x) {
    size_t n = 0;
    while (x >= 0x80) {
        p[n++] = (unsigned char)(x | 0x80);
        x >>= 7;
    }
    p[n++] = (unsigned char)x;
    return n;
}

static size_t vget(const unsigned char **p) {
    size_t x = 0;
    unsigned shift = 0;
    for (;;) {
        unsigned char b = *(*p)++;
        x |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return x;
        shift += 7;
    }
}

static dx_err pack_measure(const dx_value *v, size_t *sz, dx_result *r) {
    switch ((dx_type)v->type) {
    case DX_T_S:
    case DX_T_B:
        *sz += 1 + vlen(v->n) + v->n + 1;
        return DX_OK;
    case DX_T_N: {
        size_t len = flat_num_len(v, r);
        if (len == (size_t)-1) return DX_ERR_VALIDATION;
        *sz += 1 + vlen(len) + len + 1;
        return DX_OK;
    }
    case DX_T_BOOL:
        *sz += 2;
        return DX_OK;
    case DX_T_NULL:
        *sz += 1;
        return DX_OK;
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS:
        *sz += 1 + vlen(v->n);
        for (uint32_t i = 0; i < v->n; i++) {
            const dx_value *e = &v->u.elems[i];
            size_t len = e->n;
            if (v->type == DX_T_NS && (len = flat_num_len(e, r)) == (size_t)-1) return DX_ERR_VALIDATION;
            *sz += vlen(len) + len + 1;
        }
        return DX_OK;
    case DX_T_L:
        *sz += 1 + vlen(v->n);
        for (uint32_t i = 0; i < v->n; i++) {
            dx_err e = pack_measure(&v->u.elems[i], sz, r);
            if (e) return e;
        }
        return DX_OK;
    case DX_T_M:
        *sz += 1 + vlen(v->n);
        for (uint32_t i = 0; i < v->n; i++) {
            const dx_member *m = &v->u.members[i];
            *sz += vlen(m->name_len) + m->name_len + 1;
            dx_err e = pack_measure(&m->value, sz, r);
            if (e) return e;
        }
        return DX_OK;
    case DX_T_NONE:
        break;
    }
    return dx_fail(r, DX_ERR_VALIDATION, NULL, "cannot store a value of type %s",
                   dx_type_name((dx_type)v->type));
}

dx_err dx_value_packed_size(const dx_value *v, size_t *out, dx_result *r) {
    if (!v) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dx_value_packed_size: no value given");
    size_t sz = 0;
    dx_err e = pack_measure(v, &sz, r);
    if (e) return e;
    *out = sz;
    return DX_OK;
}

static unsigned char *pack_bytes(unsigned char *p, const char *s, size_t n) {
    p += vput(p, n);
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p + n + 1;
}

static unsigned char *pack_num(unsigned char *p, const dx_value *v) {
    if (num_is_canonical(v->u.s, v->n)) return pack_bytes(p, v->u.s, v->n);
    dx_num x;
    char text[DX_NUM_TEXT_MAX];
    dx_num_parse(v->u.s, v->n, &x, NULL); /* measured: cannot fail */
    return pack_bytes(p, text, dx_num_format(&x, text));
}

/* NULL when out of memory (the order of a map of more than ORDER_SMALL members).
 * hint, for this value's own members when it is a map, may be NULL. */
static unsigned char *pack_rec(const dx_value *v, unsigned char *p, dx_pack_hint *hint) {
    *p++ = (unsigned char)v->type;
    switch ((dx_type)v->type) {
    case DX_T_S:
    case DX_T_B:
        return pack_bytes(p, v->u.s, v->n);
    case DX_T_N:
        return pack_num(p, v);
    case DX_T_BOOL:
        *p++ = v->n ? 1 : 0;
        return p;
    case DX_T_NULL:
    case DX_T_NONE:
        return p;
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS:
        p += vput(p, v->n);
        for (uint32_t i = 0; i < v->n; i++) {
            const dx_value *e = &v->u.elems[i];
            p = v->type == DX_T_NS ? pack_num(p, e) : pack_bytes(p, e->u.s, e->n);
        }
        return p;
    case DX_T_L:
        p += vput(p, v->n);
        for (uint32_t i = 0; i < v->n && p; i++) p = pack_rec(&v->u.elems[i], p, NULL);
        return p;
    case DX_T_M: {
        uint32_t n = v->n;
        const dx_member *m = v->u.members;
        p += vput(p, n);
        uint8_t ord[ORDER_SMALL];
        const dx_member **big = NULL;
        if (n <= ORDER_SMALL) {
            (void)member_order(m, n, ord, hint);
        } else {
            big = malloc((size_t)n * sizeof *big);
            if (!big) return NULL;
            for (uint32_t i = 0; i < n; i++) big[i] = &m[i];
            qsort(big, n, sizeof *big, member_ptr_qcmp);
        }
        for (uint32_t i = 0; i < n && p; i++) {
            const dx_member *e = big ? big[i] : &m[ord[i]];
            p = pack_bytes(p, e->name, e->name_len);
            p = pack_rec(&e->value, p, NULL);
        }
        free(big);
        return p;
    }
    }
    return p;
}

dx_err dx_value_pack(const dx_value *v, void *out, dx_pack_hint *hint, dx_result *r) {
    if (!pack_rec(v, out, hint)) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory packing a value");
    return DX_OK;
}

static const char *unpack_str(dx_arena *a, const unsigned char **p, bool copy, uint32_t *n) {
    size_t len = vget(p);
    const char *s = (const char *)*p;
    *p += len + 1;
    *n = (uint32_t)len;
    return copy ? dx_arena_strndup(a, s, len) : s;
}

static dx_err unpack_rec(dx_arena *a, const unsigned char **p, bool copy, dx_value *out) {
    uint32_t t = *(*p)++;
    out->type = t;
    out->n = 0;
    out->u.s = NULL;
    switch ((dx_type)t) {
    case DX_T_S:
    case DX_T_N:
    case DX_T_B:
        out->u.s = unpack_str(a, p, copy, &out->n);
        return out->u.s ? DX_OK : DX_ERR_NOMEM;
    case DX_T_BOOL:
        out->n = *(*p)++;
        return DX_OK;
    case DX_T_NULL:
        out->n = 1;
        return DX_OK;
    case DX_T_NONE:
        return DX_OK;
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS:
    case DX_T_L: {
        size_t n = vget(p);
        out->n = (uint32_t)n;
        if (!n) return DX_OK;
        dx_value *e = dx_arena_alloc(a, n * sizeof *e);
        if (!e) return DX_ERR_NOMEM;
        out->u.elems = e;
        uint32_t et = t == DX_T_SS ? DX_T_S : t == DX_T_NS ? DX_T_N : DX_T_B;
        for (size_t i = 0; i < n; i++) {
            if (t == DX_T_L) {
                dx_err err = unpack_rec(a, p, copy, &e[i]);
                if (err) return err;
            } else {
                e[i].type = et;
                if (!(e[i].u.s = unpack_str(a, p, copy, &e[i].n))) return DX_ERR_NOMEM;
            }
        }
        return DX_OK;
    }
    case DX_T_M: {
        size_t n = vget(p);
        out->n = (uint32_t)n;
        if (!n) return DX_OK;
        dx_member *m = dx_arena_alloc(a, n * sizeof *m);
        if (!m) return DX_ERR_NOMEM;
        out->u.members = m;
        for (size_t i = 0; i < n; i++) {
            if (!(m[i].name = unpack_str(a, p, copy, &m[i].name_len))) return DX_ERR_NOMEM;
            dx_err err = unpack_rec(a, p, copy, &m[i].value);
            if (err) return err;
        }
        return DX_OK;
    }
    }
    return DX_OK;
}

dx_err dx_value_unpack(dx_arena *a, const void *packed, bool copy, dx_value *out) {
    const unsigned char *p = packed;
    return unpack_rec(a, &p, copy, out);
}

/* ---------------------------------------------------------------- order and equality */

static int bytes_cmp(const char *a, size_t na, const char *b, size_t nb) {
    size_t m = na < nb ? na : nb;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c < 0 ? -1 : 1;
    return (na > nb) - (na < nb);
}

/* Numeric order; text that does not parse sorts after every number, bytewise. */
static int num_text_cmp(const char *a, size_t na, const char *b, size_t nb) {
    dx_num x, y;
    bool okx = dx_num_parse(a, na, &x, NULL) == DX_OK;
    bool oky = dx_num_parse(b, nb, &y, NULL) == DX_OK;
    if (okx && oky) return dx_num_cmp(&x, &y);
    if (okx != oky) return okx ? -1 : 1;
    return bytes_cmp(a, na, b, nb);
}

int dx_value_cmp(const dx_value *a, const dx_value *b) {
    if (a->type != b->type) return a->type < b->type ? -1 : 1;
    switch ((dx_type)a->type) {
    case DX_T_N:
        if (a->n == b->n && (a->n == 0 || memcmp(a->u.s, b->u.s, a->n) == 0)) return 0;
        return num_text_cmp(a->u.s, a->n, b->u.s, b->n);
    case DX_T_S:
    case DX_T_B:
        return bytes_cmp(a->u.s, a->n, b->u.s, b->n);
    case DX_T_BOOL:
        return (a->n != 0) - (b->n != 0);
    case DX_T_NONE:
    case DX_T_NULL:
    case DX_T_L:
    case DX_T_M:
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS:
        return 0;
    }
    return 0;
}

static int value_bytes_qcmp(const void *a, const void *b) {
    const dx_value *x = *(const dx_value *const *)a, *y = *(const dx_value *const *)b;
    return bytes_cmp(x->u.s, x->n, y->u.s, y->n);
}

static int member_ptr_qcmp(const void *a, const void *b) {
    return member_cmp(*(const dx_member *const *)a, *(const dx_member *const *)b);
}

static int num_qcmp(const void *a, const void *b) { return dx_num_cmp(a, b); }

/* Above this many members, unordered comparison sorts scratch copies instead of searching. */
#define EQUAL_SORT_MIN 32

/*
 * Order-free equality of two sets or maps of the same type and size n by
 * sorting scratch arrays: 1 equal, 0 not, -1 when it cannot tell (no memory,
 * or a number that does not parse) and the caller should search instead.
 */
static int equal_sorted(const dx_value *a, const dx_value *b) {
    uint32_t n = a->n;
    int res = 1;
    if (a->type == DX_T_NS) {
        dx_num *x = malloc(2 * (size_t)n * sizeof *x);
        if (!x) return -1;
        dx_num *y = x + n;
        for (uint32_t i = 0; i < n && res == 1; i++)
            if (dx_num_parse(a->u.elems[i].u.s, a->u.elems[i].n, &x[i], NULL) ||
                dx_num_parse(b->u.elems[i].u.s, b->u.elems[i].n, &y[i], NULL))
                res = -1;
        if (res == 1) {
            qsort(x, n, sizeof *x, num_qcmp);
            qsort(y, n, sizeof *y, num_qcmp);
            for (uint32_t i = 0; i < n && res == 1; i++)
                if (dx_num_cmp(&x[i], &y[i]) != 0) res = 0;
        }
        free(x);
        return res;
    }
    if (a->type == DX_T_M) {
        const dx_member **x = malloc(2 * (size_t)n * sizeof *x);
        if (!x) return -1;
        const dx_member **y = x + n;
        for (uint32_t i = 0; i < n; i++) {
            x[i] = &a->u.members[i];
            y[i] = &b->u.members[i];
        }
        qsort(x, n, sizeof *x, member_ptr_qcmp);
        qsort(y, n, sizeof *y, member_ptr_qcmp);
        for (uint32_t i = 0; i < n && res == 1; i++)
            if (member_cmp(x[i], y[i]) != 0 || !dx_value_equal(&x[i]->value, &y[i]->value)) res = 0;
        free(x);
        return res;
    }
    /* SS, BS: members are S or B; anything else is left to the search */
    for (uint32_t i = 0; i < n; i++)
        if (a->u.elems[i].type != (a->type == DX_T_SS ? DX_T_S : DX_T_B) ||
            b->u.elems[i].type != a->u.elems[i].type)
            return -1;
    const dx_value **x = malloc(2 * (size_t)n * sizeof *x);
    if (!x) return -1;
    const dx_value **y = x + n;
    for (uint32_t i = 0; i < n; i++) {
        x[i] = &a->u.elems[i];
        y[i] = &b->u.elems[i];
    }
    qsort(x, n, sizeof *x, value_bytes_qcmp);
    qsort(y, n, sizeof *y, value_bytes_qcmp);
    for (uint32_t i = 0; i < n && res == 1; i++)
        if (value_bytes_qcmp(&x[i], &y[i]) != 0) res = 0;
    free(x);
    return res;
}

/* true when x equals some element of the n in elems, trying index `hint` first. */
static bool set_has(const dx_value *elems, uint32_t n, uint32_t hint, const dx_value *x) {
    if (hint < n && dx_value_equal(&elems[hint], x)) return true;
    for (uint32_t j = 0; j < n; j++)
        if (j != hint && dx_value_equal(&elems[j], x)) return true;
    return false;
}

static bool names_equal(const dx_member *a, const dx_member *b) {
    return a->name_len == b->name_len &&
           (a->name_len == 0 || memcmp(a->name, b->name, a->name_len) == 0);
}

bool dx_value_equal(const dx_value *a, const dx_value *b) {
    if (a == b) return true;
    if (!a || !b || a->type != b->type) return false;
    switch ((dx_type)a->type) {
    case DX_T_S:
    case DX_T_B:
        return a->n == b->n && (a->n == 0 || memcmp(a->u.s, b->u.s, a->n) == 0);
    case DX_T_N:
        if (a->n == b->n && (a->n == 0 || memcmp(a->u.s, b->u.s, a->n) == 0)) return true;
        return num_text_cmp(a->u.s, a->n, b->u.s, b->n) == 0;
    case DX_T_BOOL:
        return (a->n != 0) == (b->n != 0);
    case DX_T_NONE:
    case DX_T_NULL:
        return true;
    case DX_T_L:
        if (a->n != b->n) return false;
        for (uint32_t i = 0; i < a->n; i++)
            if (!dx_value_equal(&a->u.elems[i], &b->u.elems[i])) return false;
        return true;
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS: {
        /* Sets have no duplicates, so same size + every a in b is equality. */
        if (a->n != b->n) return false;
        uint32_t i = 0; /* same order is the common case (flattened, or echoed back) */
        while (i < a->n && dx_value_equal(&a->u.elems[i], &b->u.elems[i])) i++;
        if (i == a->n) return true;
        if (a->n > EQUAL_SORT_MIN) {
            int r = equal_sorted(a, b);
            if (r >= 0) return r == 1;
        }
        for (; i < a->n; i++)
            if (!set_has(b->u.elems, b->n, i, &a->u.elems[i])) return false;
        return true;
    }
    case DX_T_M: {
        if (a->n != b->n) return false;
        uint32_t i = 0;
        while (i < a->n && names_equal(&a->u.members[i], &b->u.members[i]) &&
               dx_value_equal(&a->u.members[i].value, &b->u.members[i].value))
            i++;
        if (i == a->n) return true;
        if (a->n > EQUAL_SORT_MIN) {
            int r = equal_sorted(a, b);
            if (r >= 0) return r == 1;
        }
        for (; i < a->n; i++) {
            const dx_member *m = &a->u.members[i], *o = &b->u.members[i];
            const dx_value *bv = names_equal(m, o) ? &o->value : dx_map_getn(b, m->name, m->name_len);
            if (!bv || !dx_value_equal(&m->value, bv)) return false;
        }
        return true;
    }
    }
    return false;
}

/* ---------------------------------------------------------------- validation */

/* DynamoDB's documented nesting limit for lists and maps. */
#define MAX_DEPTH 32
/* Up to this many members, duplicates are found pairwise without scratch memory. */
#define DUP_PAIRWISE 16

static const char msg_invalid[] = "One or more parameter values were invalid: ";

static dx_err fail_at(dx_result *r, const char *path, dx_err e) {
    if (r && e) snprintf(r->field, sizeof r->field, "%s", path ? path : "");
    return e;
}

/* A bounded text appender for messages; truncates with "..." */
typedef struct msgbuf {
    char s[400];
    size_t len;
    bool full;
} msgbuf;

static void mb_put(msgbuf *m, const char *p, size_t n) {
    if (m->full) return;
    size_t room = sizeof m->s - 4 - m->len; /* keep space for "..." and NUL */
    if (n > room) {
        memcpy(m->s + m->len, p, room);
        m->len += room;
        memcpy(m->s + m->len, "...", 4);
        m->len += 3;
        m->full = true;
        return;
    }
    memcpy(m->s + m->len, p, n);
    m->len += n;
    m->s[m->len] = 0;
}

static void mb_base64(msgbuf *m, const unsigned char *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n && !m->full; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n) v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        mb_put(m, q, 4);
    }
}

/* dynalite's valueStr of a set: "[a, b]", binaries in base64. */
static void mb_set(msgbuf *m, const dx_value *set) {
    mb_put(m, "[", 1);
    for (uint32_t i = 0; i < set->n; i++) {
        const dx_value *e = &set->u.elems[i];
        if (i) mb_put(m, ", ", 2);
        if (set->type == DX_T_BS)
            mb_base64(m, (const unsigned char *)e->u.s, e->n);
        else
            mb_put(m, e->u.s, e->n);
    }
    mb_put(m, "]", 1);
}

/* Index of a duplicated byte string among the set's members, or -1. */
static long find_dup_bytes(const dx_value *set) {
    uint32_t n = set->n;
    const dx_value *e = set->u.elems;
    const dx_value **idx = n > DUP_PAIRWISE ? malloc((size_t)n * sizeof *idx) : NULL;
    if (!idx) {
        for (uint32_t i = 1; i < n; i++)
            for (uint32_t j = 0; j < i; j++)
                if (e[i].n == e[j].n && (e[i].n == 0 || memcmp(e[i].u.s, e[j].u.s, e[i].n) == 0))
                    return (long)i;
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) idx[i] = &e[i];
    qsort(idx, n, sizeof *idx, value_bytes_qcmp);
    long dup = -1;
    for (uint32_t i = 1; i < n && dup < 0; i++)
        if (value_bytes_qcmp(&idx[i - 1], &idx[i]) == 0) dup = (long)(idx[i] - e);
    free(idx);
    return dup;
}

/* true when two members of the (valid) number set are numerically equal. */
static bool has_dup_nums(const dx_value *set) {
    uint32_t n = set->n;
    const dx_value *e = set->u.elems;
    dx_num local[DUP_PAIRWISE];
    dx_num *x = n <= DUP_PAIRWISE ? local : malloc((size_t)n * sizeof *x);
    if (!x) {
        for (uint32_t i = 1; i < n; i++) {
            dx_num a, b;
            dx_num_parse(e[i].u.s, e[i].n, &a, NULL);
            for (uint32_t j = 0; j < i; j++) {
                dx_num_parse(e[j].u.s, e[j].n, &b, NULL);
                if (dx_num_cmp(&a, &b) == 0) return true;
            }
        }
        return false;
    }
    for (uint32_t i = 0; i < n; i++) dx_num_parse(e[i].u.s, e[i].n, &x[i], NULL);
    bool dup = false;
    if (n <= DUP_PAIRWISE) {
        for (uint32_t i = 1; i < n && !dup; i++)
            for (uint32_t j = 0; j < i && !dup; j++) dup = dx_num_cmp(&x[i], &x[j]) == 0;
    } else {
        qsort(x, n, sizeof *x, num_qcmp);
        for (uint32_t i = 1; i < n && !dup; i++) dup = dx_num_cmp(&x[i - 1], &x[i]) == 0;
        free(x);
    }
    return dup;
}

/* The first duplicated member name of map m, or NULL. */
static const dx_member *find_dup_name(const dx_value *m) {
    uint32_t n = m->n;
    const dx_member *e = m->u.members;
    const dx_member **idx = n > DUP_PAIRWISE ? malloc((size_t)n * sizeof *idx) : NULL;
    if (!idx) {
        /*
         * Equality only. Each name gets a 6-bit signature of its length and end
         * bytes; only names whose signature was seen before are compared, and
         * only with those sharing it, so n distinct names cost about n steps.
         */
        uint64_t seen = 0;
        uint8_t sig[DUP_PAIRWISE];
        for (uint32_t i = 0; i < n; i++) {
            uint32_t len = e[i].name_len;
            uint64_t x = len;
            if (len) x ^= (uint64_t)(unsigned char)e[i].name[0] << 32 ^
                          (uint64_t)(unsigned char)e[i].name[len - 1] << 48;
            uint8_t g = (uint8_t)((x * 0x9e3779b97f4a7c15ull) >> 58);
            if (i < DUP_PAIRWISE) sig[i] = g;
            if (i >= DUP_PAIRWISE || (seen >> g & 1)) {
                for (uint32_t j = 0; j < i; j++)
                    if ((j >= DUP_PAIRWISE || sig[j] == g) && e[j].name_len == len &&
                        (len == 0 || memcmp(e[i].name, e[j].name, len) == 0))
                        return &e[i];
            }
            seen |= 1ull << g;
        }
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) idx[i] = &e[i];
    qsort(idx, n, sizeof *idx, member_ptr_qcmp);
    const dx_member *dup = NULL;
    for (uint32_t i = 1; i < n && !dup; i++)
        if (member_cmp(idx[i - 1], idx[i]) == 0) dup = idx[i];
    free(idx);
    return dup;
}

/* true when s is plain ASCII (so valid UTF-8): the common case, a few word tests. */
static bool is_ascii(const char *s, size_t n) {
    uint64_t acc = 0, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++) acc |= (unsigned char)s[i];
    return (acc & 0x8080808080808080ull) == 0;
}

/* What validation measures on the way (dx_item_check): DynamoDB's size, and
 * the bytes of dx_value_pack's encoding. NULL when not wanted. */
typedef struct meas {
    size_t size;
    size_t packed;
} meas;

static dx_err validate_set(const dx_value *v, const char *path, dx_result *r, meas *ms) {
    static const char *const empty[] = {
        [DX_T_SS] = "An string set  may not be empty",
        [DX_T_NS] = "An number set  may not be empty",
        [DX_T_BS] = "Binary sets should not be empty",
    };
    static const char *const kind[] = {[DX_T_SS] = "string", [DX_T_NS] = "number", [DX_T_BS] = "binary"};
    static const dx_type member_type[] = {[DX_T_SS] = DX_T_S, [DX_T_NS] = DX_T_N, [DX_T_BS] = DX_T_B};
    dx_type t = (dx_type)v->type;
    if (v->n == 0) return dx_fail(r, DX_ERR_VALIDATION, path, "%s%s", msg_invalid, empty[t]);
    for (uint32_t i = 0; i < v->n; i++) {
        const dx_value *e = &v->u.elems[i];
        if (e->type != (uint32_t)member_type[t])
            return dx_fail(r, DX_ERR_VALIDATION, path,
                           "%sMember %u of the %s set %s is of type %s; every member must be %s",
                           msg_invalid, (unsigned)i, kind[t], path ? path : "",
                           dx_type_name((dx_type)e->type), dx_type_name(member_type[t]));
        if (t == DX_T_NS) {
            dx_num x;
            dx_err err = dx_num_parse(e->u.s, e->n, &x, r);
            if (err) return fail_at(r, path, err);
            if (ms) {
                size_t len = num_canon_len(&x);
                ms->size += dx_num_stored_size(&x);
                ms->packed += vlen(len) + len + 1;
            }
        } else {
            if (t == DX_T_SS && !dx_utf8_valid(e->u.s, e->n))
                return dx_fail(r, DX_ERR_VALIDATION, path,
                               "%sMember %u of the string set %s is not valid UTF-8", msg_invalid,
                               (unsigned)i, path ? path : "");
            if (ms) {
                ms->size += e->n;
                ms->packed += vlen(e->n) + e->n + 1;
            }
        }
    }
    if (ms) ms->packed += 1 + vlen(v->n);
    if (t == DX_T_NS) {
        if (has_dup_nums(v)) return dx_fail(r, DX_ERR_VALIDATION, path, "Input collection contains duplicates");
        return DX_OK;
    }
    if (find_dup_bytes(v) < 0) return DX_OK;
    if (!r) return DX_ERR_VALIDATION;
    msgbuf m = {.len = 0};
    mb_set(&m, v);
    if (t == DX_T_SS)
        return dx_fail(r, DX_ERR_VALIDATION, path, "%sInput collection %s contains duplicates.",
                       msg_invalid, m.s);
    return dx_fail(r, DX_ERR_VALIDATION, path, "%sInput collection %sof type BS contains duplicates.",
                   msg_invalid, m.s);
}

/*
 * Validates v (see dx_value_validate) and, when ms is given, adds its
 * DynamoDB size (dx_value_size) and flattened space (dx_value_flat_size) to
 * *ms: one walk instead of three on the memory backend's write path.
 */
static dx_err validate_rec(const dx_value *v, const char *path, int depth, dx_result *r, meas *ms) {
    switch ((dx_type)v->type) {
    case DX_T_NONE:
        return dx_fail(r, DX_ERR_VALIDATION, path,
                       "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
    case DX_T_N: {
        if (ms && num_is_canonical(v->u.s, v->n)) { /* valid as it is: no need to parse */
            ms->size += dx_num_canon_size(v->u.s, v->n);
            ms->packed += 1 + vlen(v->n) + v->n + 1;
            return DX_OK;
        }
        dx_num x;
        dx_err e = dx_num_parse(v->u.s, v->n, &x, r);
        if (e) return fail_at(r, path, e);
        if (ms) {
            size_t len = num_canon_len(&x);
            ms->size += dx_num_stored_size(&x);
            ms->packed += 1 + vlen(len) + len + 1;
        }
        return DX_OK;
    }
    case DX_T_S:
        if (!is_ascii(v->u.s, v->n) && !dx_utf8_valid(v->u.s, v->n))
            return dx_fail(r, DX_ERR_VALIDATION, path, "%sThe string value of %s is not valid UTF-8",
                           msg_invalid, path ? path : "");
        /* fall through */
    case DX_T_B:
        if (ms) {
            ms->size += v->n;
            ms->packed += 1 + vlen(v->n) + v->n + 1;
        }
        return DX_OK;
    case DX_T_BOOL:
        if (ms) {
            ms->size += 1;
            ms->packed += 2;
        }
        return DX_OK;
    case DX_T_NULL:
        if (!v->n)
            return dx_fail(r, DX_ERR_VALIDATION, path,
                           "%sNull attribute value types must have the value of true", msg_invalid);
        if (ms) {
            ms->size += 1;
            ms->packed += 1;
        }
        return DX_OK;
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS:
        return validate_set(v, path, r, ms);
    case DX_T_L:
        if (depth > MAX_DEPTH)
            return dx_fail(r, DX_ERR_VALIDATION, path, "Nesting Levels have exceeded supported limits");
        if (ms) {
            ms->size += 3 + (size_t)v->n;
            ms->packed += 1 + vlen(v->n);
        }
        for (uint32_t i = 0; i < v->n; i++) {
            dx_err e = validate_rec(&v->u.elems[i], path, depth + 1, r, ms);
            if (e) return e;
        }
        return DX_OK;
    case DX_T_M: {
        if (depth > MAX_DEPTH)
            return dx_fail(r, DX_ERR_VALIDATION, path, "Nesting Levels have exceeded supported limits");
        if (ms) {
            ms->size += 3 + (size_t)v->n;
            ms->packed += 1 + vlen(v->n);
        }
        for (uint32_t i = 0; i < v->n; i++) {
            const dx_member *m = &v->u.members[i];
            if (!dx_utf8_valid(m->name, m->name_len))
                return dx_fail(r, DX_ERR_VALIDATION, path,
                               "%sAn attribute name inside %s is not valid UTF-8", msg_invalid,
                               path ? path : "");
            if (ms) {
                ms->size += m->name_len;
                ms->packed += vlen(m->name_len) + m->name_len + 1;
            }
            dx_err e = validate_rec(&m->value, path, depth + 1, r, ms);
            if (e) return e;
        }
        const dx_member *dup = find_dup_name(v);
        if (dup)
            return dx_fail(r, DX_ERR_VALIDATION, path, "duplicate attribute name: %.*s",
                           (int)(dup->name_len > 200 ? 200 : dup->name_len), dup->name);
        return DX_OK;
    }
    }
    return dx_fail(r, DX_ERR_VALIDATION, path,
                   "Supplied AttributeValue has an unknown type (tag %u)", (unsigned)v->type);
}

dx_err dx_value_validate(const dx_value *v, const char *path, dx_result *r) {
    if (!v) return dx_fail(r, DX_ERR_INVALID_ARG, path, "dx_value_validate: no value given");
    return validate_rec(v, path, 1, r, NULL);
}

dx_err dx_item_check(const dx_value *item, size_t *size, size_t *packed, dx_result *r) {
    if (!item || item->type != DX_T_M)
        return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dx_item_check: not an M value");
    meas ms = {0, 1 + vlen(item->n)};
    for (uint32_t i = 0; i < item->n; i++) {
        const dx_member *m = &item->u.members[i];
        ms.size += m->name_len;
        ms.packed += vlen(m->name_len) + m->name_len + 1;
        dx_err e = validate_rec(&m->value, m->name, 1, r, &ms);
        if (e) return e;
    }
    if (size) *size = ms.size;
    if (packed) *packed = ms.packed;
    return DX_OK;
}

const dx_member *dx_map_find_dup(const dx_value *m) {
    if (!m || m->type != DX_T_M) return NULL;
    return find_dup_name(m);
}

/* ---------------------------------------------------------------- checking and packing in one walk */

/*
 * dx_item_check_pack walks an item once: it makes every check validate_rec
 * makes (only the verdict matters here: on a failure the caller asks
 * dx_item_check for DynamoDB's message, in the item's own order) while it
 * sums the size and writes the packed form, so that a stored item is read
 * once, not three times. Members are visited in name order, as packed.
 */
typedef struct cpk {
    dx_buf *out;
    size_t size;
    bool nomem;
} cpk;

/* Room for n more bytes in c->out (a test inline, dx_buf_reserve only to grow). */
static inline bool cp_room(cpk *c, size_t n) {
    if (c->out->ptr && c->out->cap - c->out->len > n) return true;
    if (dx_buf_reserve(c->out, n < 4096 ? 4096 : n)) return true;
    c->nomem = true;
    return false;
}

static bool cp_str(cpk *c, const char *s, size_t n) {
    if (!cp_room(c, n + 11)) return false;
    unsigned char *p = (unsigned char *)c->out->ptr + c->out->len;
    unsigned char *e = pack_bytes(p, s, n);
    c->out->len += (size_t)(e - p);
    return true;
}

/* A tag, then a string as pack_bytes writes it. */
static bool cp_tag_str(cpk *c, unsigned tag, const char *s, size_t n) {
    if (!cp_room(c, n + 12)) return false;
    unsigned char *p = (unsigned char *)c->out->ptr + c->out->len, *o = p;
    *o++ = (unsigned char)tag;
    if (n < 0x80) {
        *o++ = (unsigned char)n;
    } else {
        o += vput(o, n);
    }
    memcpy(o, s, n);
    o[n] = 0;
    c->out->len += (size_t)(o - p) + n + 1;
    return true;
}

static bool cp_byte(cpk *c, unsigned b) {
    if (!cp_room(c, 1)) return false;
    c->out->ptr[c->out->len++] = (char)b;
    return true;
}

static bool cp_count(cpk *c, unsigned tag, size_t n) {
    if (!cp_room(c, 11)) return false;
    unsigned char *p = (unsigned char *)c->out->ptr + c->out->len;
    p[0] = (unsigned char)tag;
    c->out->len += 1 + vput(p + 1, n);
    return true;
}

/* A number: valid (else false), sized and written in canonical form, after tag (0: none). */
static bool cp_num(cpk *c, unsigned tag, const char *s, size_t n) {
    if (num_is_canonical(s, n)) {
        c->size += dx_num_canon_size(s, n);
        return tag ? cp_tag_str(c, tag, s, n) : cp_str(c, s, n);
    }
    dx_num x;
    char text[DX_NUM_TEXT_MAX];
    if (dx_num_parse(s, n, &x, NULL) != DX_OK) return false;
    c->size += dx_num_stored_size(&x);
    size_t len = dx_num_format(&x, text);
    return tag ? cp_tag_str(c, tag, text, len) : cp_str(c, text, len);
}

static bool cp_rec(const dx_value *v, int depth, cpk *c);

/*
 * The members of map m in name order: ord (n <= ORDER_SMALL) or *big
 * (malloc'd, to free). *distinct: known to have no name twice (else: maybe).
 */
static bool cp_order(cpk *c, const dx_value *m, uint8_t *ord, dx_pack_hint *hint,
                     const dx_member ***big, bool *distinct) {
    *big = NULL;
    *distinct = false;
    if (m->n <= ORDER_SMALL) {
        *distinct = member_order(m->u.members, m->n, ord, hint);
        return true;
    }
    const dx_member **b = malloc((size_t)m->n * sizeof *b);
    if (!b) {
        c->nomem = true;
        return false;
    }
    for (uint32_t i = 0; i < m->n; i++) b[i] = &m->u.members[i];
    qsort(b, m->n, sizeof *b, member_ptr_qcmp);
    *big = b;
    return true;
}

static bool cp_members(const dx_value *m, int depth, cpk *c, dx_pack_hint *hint, bool *dup) {
    uint8_t ord[ORDER_SMALL];
    const dx_member **big;
    bool distinct;
    if (!cp_count(c, DX_T_M, m->n) || !cp_order(c, m, ord, hint, &big, &distinct)) return false;
    if (distinct) dup = NULL; /* nothing to look for */
    bool ok = true;
    const dx_member *prev = NULL;
    for (uint32_t i = 0; i < m->n && ok; i++) {
        const dx_member *e = big ? big[i] : &m->u.members[ord[i]];
        if (dup && prev && member_cmp(prev, e) == 0) *dup = true;
        prev = e;
        c->size += e->name_len;
        ok = cp_str(c, e->name, e->name_len) && cp_rec(&e->value, depth, c);
    }
    free(big);
    return ok;
}

static bool cp_rec(const dx_value *v, int depth, cpk *c) {
    switch ((dx_type)v->type) {
    case DX_T_NONE:
        return false;
    case DX_T_N:
        return cp_num(c, DX_T_N, v->u.s, v->n);
    case DX_T_S:
        if (!is_ascii(v->u.s, v->n) && !dx_utf8_valid(v->u.s, v->n)) return false;
        /* fall through */
    case DX_T_B:
        c->size += v->n;
        return cp_tag_str(c, v->type, v->u.s, v->n);
    case DX_T_BOOL:
        c->size += 1;
        return cp_byte(c, DX_T_BOOL) && cp_byte(c, v->n ? 1 : 0);
    case DX_T_NULL:
        c->size += 1;
        return v->n && cp_byte(c, DX_T_NULL);
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS: {
        uint32_t et = v->type == DX_T_SS ? DX_T_S : v->type == DX_T_NS ? DX_T_N : DX_T_B;
        if (v->n == 0 || !cp_count(c, v->type, v->n)) return false;
        for (uint32_t i = 0; i < v->n; i++) {
            const dx_value *e = &v->u.elems[i];
            if (e->type != et) return false;
            if (et == DX_T_N) {
                if (!cp_num(c, 0, e->u.s, e->n)) return false;
                continue;
            }
            if (et == DX_T_S && !is_ascii(e->u.s, e->n) && !dx_utf8_valid(e->u.s, e->n)) return false;
            c->size += e->n;
            if (!cp_str(c, e->u.s, e->n)) return false;
        }
        return et == DX_T_N ? !has_dup_nums(v) : find_dup_bytes(v) < 0;
    }
    case DX_T_L:
        if (depth > MAX_DEPTH || !cp_count(c, DX_T_L, v->n)) return false;
        c->size += 3 + (size_t)v->n;
        for (uint32_t i = 0; i < v->n; i++)
            if (!cp_rec(&v->u.elems[i], depth + 1, c)) return false;
        return true;
    case DX_T_M:
        if (depth > MAX_DEPTH) return false;
        c->size += 3 + (size_t)v->n;
        for (uint32_t i = 0; i < v->n; i++)
            if (!dx_utf8_valid(v->u.members[i].name, v->u.members[i].name_len)) return false;
        if (find_dup_name(v)) return false;
        return cp_members(v, depth + 1, c, NULL, NULL);
    }
    return false;
}

dx_err dx_item_check_pack(const dx_value *item, dx_pack_hint *hint, dx_buf *out, size_t *size,
                          bool *dup_names) {
    if (!item || item->type != DX_T_M || !out) return DX_ERR_INVALID_ARG;
    size_t start = out->len;
    cpk c = {out, 0, false};
    bool dup = false;
    bool ok = cp_members(item, 1, &c, hint, &dup);
    if (!ok) {
        out->len = start;
        if (out->ptr) out->ptr[start] = 0;
        return c.nomem ? DX_ERR_NOMEM : DX_ERR_VALIDATION;
    }
    if (size) *size = c.size;
    if (dup_names) *dup_names = dup;
    return DX_OK;
}
