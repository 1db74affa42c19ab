/*
 * util.c - arenas, buffers, clocks, random numbers, hashing, UTF-8 checks,
 * and the edit distance behind "did you mean" suggestions.
 *
 * The arena is a list of chunks; a request that does not fit the current
 * chunk gets a new one (of at least the request's size), so big values never
 * fail just for being big. Reset keeps the newest chunk: a loop that decodes
 * a row, uses it and resets touches the same memory every time.
 *
 * Must never: print, exit, or keep global mutable state other than the
 * per-thread fallback PRNG.
 */
#include "dynox/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

dx_str dx_str_c(const char *s) {
    dx_str v = {s ? s : "", s ? strlen(s) : 0};
    return v;
}

bool dx_str_eq(dx_str a, const char *s) {
    size_t n = strlen(s);
    return a.len == n && memcmp(a.ptr, s, n) == 0;
}

/* ---------------------------------------------------------------- arena */

struct dx_arena_chunk {
    dx_arena_chunk *next;
    size_t size; /* usable bytes after the header */
    _Alignas(max_align_t) char data[];
};

#define ALIGN_UP(n) (((n) + (_Alignof(max_align_t) - 1)) & ~(size_t)(_Alignof(max_align_t) - 1))

void *dx_arena_alloc(dx_arena *a, size_t n) {
    if (n > SIZE_MAX / 2) return NULL; /* ALIGN_UP and the chunk header would wrap */
    n = ALIGN_UP(n ? n : 1);
    if ((size_t)(a->end - a->cur) < n || !a->cur) {
        size_t want = a->chunk_size ? a->chunk_size : DX_ARENA_CHUNK;
        if (want < n) want = n;
        dx_arena_chunk *c = malloc(sizeof *c + want);
        if (!c) return NULL;
        c->size = want;
        if (a->head && n > want / 2 && a->cur && (size_t)(a->end - a->cur) > 256) {
            /* A big one-off: keep filling the current chunk afterwards. */
            c->next = a->head->next;
            a->head->next = c;
            a->used += n;
            return c->data;
        }
        c->next = a->head;
        a->head = c;
        a->cur = c->data;
        a->end = c->data + want;
    }
    void *p = a->cur;
    a->cur += n;
    a->used += n;
    return p;
}

void *dx_arena_calloc(dx_arena *a, size_t n) {
    void *p = dx_arena_alloc(a, n);
    if (p) memset(p, 0, n);
    return p;
}

char *dx_arena_strndup(dx_arena *a, const char *s, size_t n) {
    char *p = dx_arena_alloc(a, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *dx_arena_strdup(dx_arena *a, const char *s) { return dx_arena_strndup(a, s, strlen(s)); }

char *dx_arena_printf(dx_arena *a, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = NULL;
    if (n >= 0 && (p = dx_arena_alloc(a, (size_t)n + 1)) != NULL) vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void dx_arena_reset(dx_arena *a) {
    if (!a->head) return;
    dx_arena_chunk *keep = a->head, *c = keep->next;
    while (c) {
        dx_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    keep->next = NULL;
    a->cur = keep->data;
    a->end = keep->data + keep->size;
    a->used = 0;
}

void dx_arena_release(dx_arena *a) {
    if (!a) return;
    dx_arena_chunk *c = a->head;
    while (c) {
        dx_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->cur = a->end = NULL;
    a->used = 0;
}

/* ---------------------------------------------------------------- buffer */

bool dx_buf_reserve(dx_buf *b, size_t extra) {
    if (b->cap - b->len > extra && b->ptr) return true;
    size_t need = b->len + extra + 1;
    if (need < b->len) return false; /* overflow */
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(b->ptr, cap);
    if (!p) return false;
    b->ptr = p;
    b->cap = cap;
    return true;
}

bool dx_buf_append(dx_buf *b, const void *p, size_t n) {
    if (!dx_buf_reserve(b, n)) return false;
    if (n) memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = 0;
    return true;
}

bool dx_buf_puts(dx_buf *b, const char *s) { return dx_buf_append(b, s, strlen(s)); }

bool dx_buf_putc(dx_buf *b, char c) {
    if (!dx_buf_reserve(b, 1)) return false;
    b->ptr[b->len++] = c;
    b->ptr[b->len] = 0;
    return true;
}

bool dx_buf_vprintf(dx_buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return false;
    }
    bool ok;
    if ((size_t)n < sizeof tmp) {
        ok = dx_buf_append(b, tmp, (size_t)n);
    } else if ((ok = dx_buf_reserve(b, (size_t)n))) {
        vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
    return ok;
}

bool dx_buf_printf(dx_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    bool ok = dx_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return ok;
}

bool dx_buf_put_json_str(dx_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    if (!dx_buf_reserve(b, n * 6 + 2)) return false;
    char *o = b->ptr + b->len;
    *o++ = '"';
    size_t run = 0; /* bytes copied verbatim in one memcpy */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (i > run) {
            memcpy(o, s + run, i - run);
            o += i - run;
        }
        run = i + 1;
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    if (n > run) {
        memcpy(o, s + run, n - run);
        o += n - run;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->ptr);
    b->ptr[b->len] = 0;
    return true;
}

void dx_buf_clear(dx_buf *b) {
    b->len = 0;
    if (b->ptr) b->ptr[0] = 0;
}

void dx_buf_free(dx_buf *b) {
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void dx_buf_wipe(dx_buf *b) {
    if (b->ptr) dx_memwipe(b->ptr, b->cap);
    dx_buf_free(b);
}

void dx_memwipe(void *p, size_t n) {
    volatile unsigned char *v = p;
    while (n--) *v++ = 0;
}

/* ---------------------------------------------------------------- time */

uint64_t dx_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t dx_now_ms(void) { return dx_now_ns() / 1000000u; }

uint64_t dx_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---------------------------------------------------------------- random */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void dx_rng_seed(dx_rng *r, uint64_t seed) {
    if (seed == 0) {
        if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) seed = dx_now_ns();
        if (seed == 0) seed = 1;
    }
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t dx_rng_next(dx_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t dx_rng_below(dx_rng *r, uint64_t n) {
    /* Lemire's multiply-shift with the rejection step: exactly uniform. */
    unsigned __int128 m = (unsigned __int128)dx_rng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = (0 - n) % n;
        while (low < threshold) {
            m = (unsigned __int128)dx_rng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

void dx_random_bytes(void *p, size_t n) {
    unsigned char *o = p;
    while (n) {
        ssize_t got = getrandom(o, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            break;
        }
        o += got;
        n -= (size_t)got;
    }
    if (n) {
        static _Thread_local dx_rng fallback;
        static _Thread_local bool seeded;
        if (!seeded) {
            dx_rng_seed(&fallback, dx_now_ns() ^ (uint64_t)(uintptr_t)&fallback);
            seeded = true;
        }
        while (n--) *o++ = (unsigned char)dx_rng_next(&fallback);
    }
}

/* ---------------------------------------------------------------- hash */

static inline uint64_t mix(uint64_t a, uint64_t b) {
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t dx_hash64(const void *p, size_t n, uint64_t seed) {
    const unsigned char *s = p;
    uint64_t h = seed ^ 0x2d358dccaa6c78a5ull ^ (n * 0x8bb84b93962eacc9ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = mix(h ^ w, 0x4b33a62ed433d4a3ull);
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = mix(h ^ w ^ ((uint64_t)n << 56), 0x4d5a2da51de1aa47ull);
    return mix(h, 0x9e3779b97f4a7c15ull);
}

/* ---------------------------------------------------------------- UTF-8 */

bool dx_utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str, *end = s + n;
    while (s < end) {
        /* Fast path: 8 ASCII bytes at a time. */
        if (end - s >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if (!(w & 0x8080808080808080ull)) {
                s += 8;
                continue;
            }
        }
        unsigned c = *s;
        if (c < 0x80) {
            s++;
        } else if (c >= 0xc2 && c <= 0xdf) {
            if (end - s < 2 || (s[1] & 0xc0) != 0x80) return false;
            s += 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            if (end - s < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) return false;
            if (c == 0xe0 && s[1] < 0xa0) return false; /* overlong */
            if (c == 0xed && s[1] > 0x9f) return false; /* surrogate */
            s += 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            if (end - s < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
                (s[3] & 0xc0) != 0x80)
                return false;
            if (c == 0xf0 && s[1] < 0x90) return false; /* overlong */
            if (c == 0xf4 && s[1] > 0x8f) return false; /* > U+10FFFF */
            s += 4;
        } else {
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- suggestions */

size_t dx_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 64;
    size_t prev[64], cur[64]; /* two rows of the matrix: names are short */
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

const char *dx_suggest(const char *name, const char *const *candidates, size_t n, size_t max_dist) {
    const char *best = NULL;
    size_t bestd = max_dist;
    for (size_t i = 0; i < n && candidates[i]; i++) {
        size_t d = dx_edit_distance(name, candidates[i]);
        if (d <= bestd && (!best || d < bestd)) {
            bestd = d;
            best = candidates[i];
        }
    }
    return best;
}
