/*
 * dynox/util.h - the small building blocks every other module stands on.
 *
 * An arena hands out memory that is released all at once: values decoded from
 * a response, an item's attributes, the parse tree of an expression. It exists
 * so that hot paths (decoding ten million rows) do one malloc per chunk, not
 * one per value. A buffer is a growable byte string with explicit capacity,
 * used for encoding JSON and building requests. A dx_str is a non-owning view.
 *
 * Must never: print, exit, or allocate behind the caller's back outside the
 * arena or buffer it was given.
 */
#ifndef DYNOX_UTIL_H
#define DYNOX_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DX_PRINTF(f, a)
#endif

/* A non-owning view of bytes; ptr need not be NUL-terminated. */
typedef struct dx_str {
    const char *ptr;
    size_t len;
} dx_str;

/* dx_str for a NUL-terminated string (NULL gives the empty view). */
dx_str dx_str_c(const char *s);
/* true when the view equals the NUL-terminated string s. */
bool dx_str_eq(dx_str a, const char *s);

/*
 * Arena. Embeddable (zero-initialised is a valid empty arena whose chunks are
 * `DX_ARENA_CHUNK` bytes); not thread-safe: one owner at a time.
 */
#define DX_ARENA_CHUNK 16384
typedef struct dx_arena_chunk dx_arena_chunk;
typedef struct dx_arena {
    dx_arena_chunk *head;  /* newest chunk first */
    char *cur, *end;       /* free space in head */
    size_t chunk_size;     /* 0 means DX_ARENA_CHUNK */
    size_t used;           /* bytes handed out since the last reset */
} dx_arena;

/* Returns n bytes aligned for any type, or NULL when out of memory. */
void *dx_arena_alloc(dx_arena *a, size_t n);
/* Like dx_arena_alloc, zero-filled. */
void *dx_arena_calloc(dx_arena *a, size_t n);
/* Copies n bytes and appends a NUL (the copy is n + 1 bytes). NULL on OOM. */
char *dx_arena_strndup(dx_arena *a, const char *s, size_t n);
char *dx_arena_strdup(dx_arena *a, const char *s);
/* printf into the arena. NULL on OOM. */
char *dx_arena_printf(dx_arena *a, const char *fmt, ...) DX_PRINTF(2, 3);
/* Forgets every allocation but keeps the newest chunk for reuse. */
void dx_arena_reset(dx_arena *a);
/* Frees every chunk; the arena is empty and reusable afterwards. NULL is a no-op. */
void dx_arena_release(dx_arena *a);

/*
 * Growable byte buffer. Zero-initialised is valid and empty. The contents are
 * always NUL-terminated after a successful append (ptr[len] == 0), so text can
 * be passed to C string functions. Functions return false on out of memory and
 * leave the buffer as it was.
 */
typedef struct dx_buf {
    char *ptr;
    size_t len, cap;
} dx_buf;

bool dx_buf_reserve(dx_buf *b, size_t extra);
bool dx_buf_append(dx_buf *b, const void *p, size_t n);
bool dx_buf_puts(dx_buf *b, const char *s);
bool dx_buf_putc(dx_buf *b, char c);
bool dx_buf_printf(dx_buf *b, const char *fmt, ...) DX_PRINTF(2, 3);
bool dx_buf_vprintf(dx_buf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included, escaping as RFC 8259 requires. */
bool dx_buf_put_json_str(dx_buf *b, const char *s, size_t n);
/* Sets len to 0 and keeps the memory. */
void dx_buf_clear(dx_buf *b);
/* Frees the memory; the buffer is empty and reusable. */
void dx_buf_free(dx_buf *b);
/* Overwrites the whole capacity with zeros, then frees: for secrets. */
void dx_buf_wipe(dx_buf *b);

/* Overwrites n bytes in a way the compiler will not optimise away. */
void dx_memwipe(void *p, size_t n);

/* Monotonic clock in milliseconds and in nanoseconds; wall clock in ms since the epoch. */
uint64_t dx_now_ms(void);
uint64_t dx_now_ns(void);
uint64_t dx_wall_ms(void);

/* A small fast PRNG (xoshiro256**), one state per thread; seed 0 picks a random seed. */
typedef struct dx_rng {
    uint64_t s[4];
} dx_rng;
void dx_rng_seed(dx_rng *r, uint64_t seed);
uint64_t dx_rng_next(dx_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t dx_rng_below(dx_rng *r, uint64_t n);
/* Fills n bytes from the operating system's CSPRNG (getrandom), falling back to dx_rng. */
void dx_random_bytes(void *p, size_t n);

/*
 * 64-bit hash of bytes (wyhash-like multiply-mix; not cryptographic). The
 * value depends on byte order: use it in memory, never persist it.
 */
uint64_t dx_hash64(const void *p, size_t n, uint64_t seed);

/* true when the n bytes are well-formed UTF-8 (no overlongs, no surrogates). */
bool dx_utf8_valid(const char *s, size_t n);

/*
 * "Did you mean" for names: option names, job file keys, commands.
 *
 * dx_edit_distance is the Levenshtein distance between a and b (byte
 * insertions, deletions and substitutions). It is meant for short names: when
 * either string is longer than 63 bytes the result is 64 ("far"), whatever
 * the strings. dx_suggest returns the candidate nearest to name when its
 * distance is at most max_dist (the first one on a tie), else NULL. It looks
 * at candidates[0..n) and stops early at a NULL entry, so a NULL-terminated
 * list can be passed with n = SIZE_MAX. Both are pure: thread-safe, no
 * allocation.
 */
size_t dx_edit_distance(const char *a, const char *b);
const char *dx_suggest(const char *name, const char *const *candidates, size_t n, size_t max_dist);

#ifdef __cplusplus
}
#endif
#endif
