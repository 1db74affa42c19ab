/*
 * size.c - item size and capacity units as DynamoDB counts them.
 *
 * The rules are the ones dynalite's valSize/itemSize implement (db/index.js),
 * except that strings count UTF-8 bytes as DynamoDB does rather than the
 * UTF-16 length dynalite's JavaScript sees. Numbers are sized from their
 * parsed form (significant digits and the exponent of the first digit), so
 * "1.50" and "1.5" are the same size, as they are once DynamoDB stores them.
 *
 * Must never: allocate (numbers are parsed into a dx_num on the stack), or
 * fail: an invalid number is sized by its text length, and a type it does
 * not know counts 0.
 */
#include "dynox/size.h"

#include <string.h>

size_t dx_num_stored_size(const dx_num *x) {
    if (x->ndigits == 0) return 1;
    size_t nd = x->ndigits;
    /* JavaScript's e % 2 is nonzero for odd negative e, and so is C's. */
    return 1 + (nd + 1) / 2 + ((nd % 2 == 0 && x->exp % 2 == 0) ? 1 : 0) + (x->neg ? 1 : 0);
}

/*
 * DynamoDB's size of a number whose text dx_num_is_canonical accepts (what
 * dx_num_stored_size gives after parsing it): significant digits and the
 * exponent's parity read off the text.
 */
size_t dx_num_canon_size(const char *s, size_t n) {
    size_t neg = s[0] == '-', i = neg, nd;
    long e;
    if (n - neg == 1 && s[i] == '0') return 1; /* "0" */
    if (s[i] == '0') { /* 0.000ddd */
        i += 2;
        size_t z = 0;
        while (s[i + z] == '0') z++;
        e = -(long)z - 1;
        nd = n - i - z;
    } else {
        const char *dot = memchr(s + i, '.', n - i);
        size_t ilen = dot ? (size_t)(dot - s) - i : n - i;
        e = (long)ilen - 1;
        if (dot) {
            nd = n - i - 1;
        } else {
            size_t t = n;
            while (s[t - 1] == '0') t--;
            nd = t - i;
        }
    }
    /* As dx_num_stored_size: JavaScript's e % 2 is nonzero for odd negative e, and so is C's. */
    return 1 + (nd + 1) / 2 + ((nd % 2 == 0 && e % 2 == 0) ? 1 : 0) + neg;
}

size_t dx_num_size(const char *s, size_t n) {
    if (dx_num_is_canonical(s, n)) return dx_num_canon_size(s, n);
    dx_num x;
    if (dx_num_parse(s, n, &x, NULL) != DX_OK) return n;
    return dx_num_stored_size(&x);
}

size_t dx_value_size(const dx_value *v) {
    if (!v) return 0;
    size_t size = 0;
    switch ((dx_type)v->type) {
    case DX_T_S:
    case DX_T_B:
        return v->n;
    case DX_T_N:
        return dx_num_size(v->u.s, v->n);
    case DX_T_BOOL:
    case DX_T_NULL:
        return 1;
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS:
        for (uint32_t i = 0; i < v->n; i++) size += dx_value_size(&v->u.elems[i]);
        return size;
    case DX_T_L:
        size = 3;
        for (uint32_t i = 0; i < v->n; i++) size += 1 + dx_value_size(&v->u.elems[i]);
        return size;
    case DX_T_M:
        return 3 + v->n + dx_item_size(v);
    case DX_T_NONE:
        return 0;
    }
    return 0;
}

size_t dx_item_size(const dx_value *item) {
    if (!item) return 0;
    if (item->type != DX_T_M) return dx_value_size(item);
    size_t size = 0;
    for (uint32_t i = 0; i < item->n; i++) {
        const dx_member *m = &item->u.members[i];
        size += m->name_len + dx_value_size(&m->value);
    }
    return size;
}

double dx_write_units(size_t bytes) {
    size_t units = (bytes + 1023) / 1024;
    return units ? (double)units : 1.0;
}

double dx_read_units(size_t bytes, bool consistent) {
    size_t units = (bytes + 4095) / 4096;
    if (!units) units = 1;
    return consistent ? (double)units : (double)units / 2.0;
}
