/*
 * value_text.h - a compact text notation for dx_value trees, so value tests
 * can be tables of one-line cases instead of pages of hand-built arrays.
 *
 *   S'abc'  N'1.50'  B'\x00\xff'     strings, numbers, binaries ('\xHH', '\'', '\\')
 *   T  F                             BOOL true / false
 *   Z  Z0                            NULL (true) / NULL with n = 0 (invalid)
 *   ?                                DX_T_NONE
 *   L[v, v]   M{'name': v, ...}      list, map
 *   SS[S'a', S'b']  NS[N'1']  BS[B'x']   sets (members written as values, so
 *                                    wrongly typed members can be expressed)
 *
 * Everything is built with the dx_mapb/dx_listb builders in the given arena.
 * Test-only; static inline so each test includes only what it uses.
 */
#ifndef DYNOX_TEST_VALUE_TEXT_H
#define DYNOX_TEST_VALUE_TEXT_H

#include <stdbool.h>
#include <string.h>

#include "dynox/value.h"

typedef struct vt_parser {
    const char *p;
    dx_arena *a;
} vt_parser;

static inline void vt_ws(vt_parser *t) {
    while (*t->p == ' ' || *t->p == '\n') t->p++;
}

static inline int vt_hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses '...' into the arena (NUL-terminated too). */
static inline bool vt_quoted(vt_parser *t, const char **out, uint32_t *n) {
    vt_ws(t);
    if (*t->p != '\'') return false;
    const char *s = ++t->p;
    size_t cap = 0;
    while (s[cap] && s[cap] != '\'') cap += s[cap] == '\\' && s[cap + 1] ? 2 : 1;
    char *buf = dx_arena_alloc(t->a, cap + 1);
    if (!buf) return false;
    size_t len = 0;
    while (*t->p && *t->p != '\'') {
        if (*t->p == '\\') {
            t->p++;
            if (*t->p == 'x' && vt_hex(t->p[1]) >= 0 && vt_hex(t->p[2]) >= 0) {
                buf[len++] = (char)(vt_hex(t->p[1]) * 16 + vt_hex(t->p[2]));
                t->p += 3;
                continue;
            }
            if (!*t->p) return false;
        }
        buf[len++] = *t->p++;
    }
    if (*t->p != '\'') return false;
    t->p++;
    buf[len] = 0;
    *out = buf;
    *n = (uint32_t)len;
    return true;
}

static inline bool vt_value(vt_parser *t, dx_value *out);

static inline bool vt_list(vt_parser *t, dx_type type, dx_value *out) {
    dx_list_builder b = {.arena = t->a};
    vt_ws(t);
    if (*t->p != '[') return false;
    t->p++;
    vt_ws(t);
    while (*t->p != ']') {
        dx_value *slot = dx_listb_add(&b);
        if (!slot || !vt_value(t, slot)) return false;
        vt_ws(t);
        if (*t->p == ',') t->p++;
        else if (*t->p != ']') return false;
        vt_ws(t);
    }
    t->p++;
    *out = dx_listb_finish(&b, type);
    return true;
}

static inline bool vt_map(vt_parser *t, dx_value *out) {
    dx_map_builder b = {.arena = t->a};
    vt_ws(t);
    if (*t->p != '{') return false;
    t->p++;
    vt_ws(t);
    while (*t->p != '}') {
        const char *name;
        uint32_t n;
        if (!vt_quoted(t, &name, &n)) return false;
        vt_ws(t);
        if (*t->p != ':') return false;
        t->p++;
        dx_value *slot = dx_mapb_add(&b, name, n);
        if (!slot || !vt_value(t, slot)) return false;
        vt_ws(t);
        if (*t->p == ',') t->p++;
        else if (*t->p != '}') return false;
        vt_ws(t);
    }
    t->p++;
    *out = dx_mapb_finish(&b);
    return true;
}

static inline bool vt_value(vt_parser *t, dx_value *out) {
    vt_ws(t);
    const char *p = t->p;
    memset(out, 0, sizeof *out);
    if (p[0] == 'S' && p[1] == 'S') return t->p += 2, vt_list(t, DX_T_SS, out);
    if (p[0] == 'N' && p[1] == 'S') return t->p += 2, vt_list(t, DX_T_NS, out);
    if (p[0] == 'B' && p[1] == 'S') return t->p += 2, vt_list(t, DX_T_BS, out);
    t->p++;
    switch (p[0]) {
    case 'S':
    case 'N':
    case 'B':
        out->type = p[0] == 'S' ? DX_T_S : p[0] == 'N' ? DX_T_N : DX_T_B;
        return vt_quoted(t, &out->u.s, &out->n);
    case 'T':
    case 'F':
        *out = dx_vbool(p[0] == 'T');
        return true;
    case 'Z':
        *out = dx_vnull();
        if (*t->p == '0') {
            out->n = 0;
            t->p++;
        }
        return true;
    case '?':
        return true;
    case 'L':
        return vt_list(t, DX_T_L, out);
    case 'M':
        return vt_map(t, out);
    default:
        return false;
    }
}

/* Parses a whole text; false when it is malformed (a bug in the test table). */
static inline bool vt_parse(dx_arena *a, const char *text, dx_value *out) {
    vt_parser t = {text, a};
    if (!vt_value(&t, out)) return false;
    vt_ws(&t);
    return *t.p == 0;
}

#endif
