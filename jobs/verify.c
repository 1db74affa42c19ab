/*
 * verify.c - comparisons for read-back verification (see verify.h).
 *
 * Pure functions over values: the runner does the reading. Messages show
 * values as compact plain JSON, truncated, because they end up in a report
 * line of fixed size.
 *
 * Must never: report a mismatch that DynamoDB's own equality would not
 * (number text "1.50" equals "1.5"; set and map order do not matter).
 */
#include "verify.h"

#include <string.h>

static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

bool dxj_verify_sampled(uint64_t ordinal, double fraction) {
    if (!(fraction > 0)) return false;
    if (fraction >= 1) return true;
    double u = (double)(mix64(ordinal) >> 11) / 9007199254740992.0; /* [0, 1) */
    return u < fraction;
}

void dxj_value_text(const dx_value *v, char *out, size_t n) {
    if (n == 0) return;
    dx_buf b = {0};
    if (!v || v->type == DX_T_NONE) {
        snprintf(out, n, "absent");
        return;
    }
    if (dx_encode_plain(&b, v) != DX_OK || !b.ptr) {
        snprintf(out, n, "(%s value)", dx_type_name((dx_type)v->type));
        dx_buf_free(&b);
        return;
    }
    if (b.len < n) {
        memcpy(out, b.ptr, b.len + 1);
    } else if (n > 4) {
        memcpy(out, b.ptr, n - 4);
        memcpy(out + n - 4, "...", 4);
    } else {
        out[0] = 0;
    }
    dx_buf_free(&b);
}

static void differs(const char *name, size_t name_len, const dx_value *wrote, const dx_value *read,
                    char *what, size_t n) {
    char a[56], b[56];
    dxj_value_text(wrote, a, sizeof a);
    dxj_value_text(read, b, sizeof b);
    if (!wrote || wrote->type == DX_T_NONE)
        snprintf(what, n, "attribute %.*s: should be absent, read %s", (int)name_len, name, b);
    else if (!read)
        snprintf(what, n, "attribute %.*s: wrote %s, read nothing", (int)name_len, name, a);
    else
        snprintf(what, n, "attribute %.*s: wrote %s, read %s", (int)name_len, name, a, b);
}

bool dxj_verify_item(const dx_value *written, const dx_value *read, char *what, size_t n) {
    if (!read) {
        snprintf(what, n, "item missing");
        return false;
    }
    if (dx_value_equal(written, read)) return true;
    /* Name the first attribute that differs: written ones first, then extras. */
    for (uint32_t i = 0; i < written->n; i++) {
        const dx_member *m = &written->u.members[i];
        const dx_value *rv = dx_map_getn(read, m->name, m->name_len);
        if (!rv || !dx_value_equal(&m->value, rv)) {
            differs(m->name, m->name_len, &m->value, rv, what, n);
            return false;
        }
    }
    for (uint32_t i = 0; i < read->n; i++) {
        const dx_member *m = &read->u.members[i];
        if (!dx_map_getn(written, m->name, m->name_len)) {
            char b[56];
            dxj_value_text(&m->value, b, sizeof b);
            snprintf(what, n, "attribute %.*s: not written, read %s", (int)m->name_len, m->name,
                     b);
            return false;
        }
    }
    snprintf(what, n, "item differs");
    return false;
}

bool dxj_verify_fields(const dx_member *fields, size_t nfields, const dx_value *read, char *what,
                       size_t n) {
    if (!read) {
        snprintf(what, n, "item missing");
        return false;
    }
    for (size_t i = 0; i < nfields; i++) {
        const dx_member *f = &fields[i];
        const dx_value *rv = dx_map_getn(read, f->name, f->name_len);
        bool ok = f->value.type == DX_T_NONE ? rv == NULL : (rv && dx_value_equal(&f->value, rv));
        if (!ok) {
            differs(f->name, f->name_len, &f->value, rv, what, n);
            return false;
        }
    }
    return true;
}

bool dxj_verify_absent(const dx_value *read, char *what, size_t n) {
    if (!read) return true;
    snprintf(what, n, "item still exists");
    return false;
}
