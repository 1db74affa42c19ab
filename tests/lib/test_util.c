/*
 * test_util.c - lib/util.c: string views, the arena (alignment, chunk
 * boundaries, big allocations, reset and release), the growable buffer
 * (printf growth, JSON string escaping), UTF-8 validation, hashing, the PRNG,
 * the clocks, and the edit distance behind "did you mean".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynox/util.h"
#include "testutil.h"

static bool aligned(const void *p) { return ((uintptr_t)p % _Alignof(max_align_t)) == 0; }

/* ---------------------------------------------------------------- views */

static void test_str(void **state) {
    (void)state;
    dx_str s = dx_str_c("abc");
    assert_int_equal(s.len, 3);
    assert_true(dx_str_eq(s, "abc"));
    assert_false(dx_str_eq(s, "ab"));
    assert_false(dx_str_eq(s, "abcd"));
    s = dx_str_c(NULL);
    assert_int_equal(s.len, 0);
    assert_non_null(s.ptr);
    assert_true(dx_str_eq(s, ""));
    dx_str part = {"abcdef", 2};
    assert_true(dx_str_eq(part, "ab"));
}

/* ---------------------------------------------------------------- arena */

static void test_arena_small(void **state) {
    (void)state;
    dx_arena a = {0};
    /* many small allocations across several chunks keep their contents */
    enum { N = 5000 };
    unsigned char *p[N];
    for (int i = 0; i < N; i++) {
        size_t n = 1 + (size_t)i % 37;
        p[i] = dx_arena_alloc(&a, n);
        assert_non_null(p[i]);
        assert_true(aligned(p[i]));
        memset(p[i], i & 0xff, n);
    }
    for (int i = 0; i < N; i++) {
        size_t n = 1 + (size_t)i % 37;
        for (size_t k = 0; k < n; k++)
            if (p[i][k] != (i & 0xff)) {
                print_error("allocation %d byte %zu overwritten\n", i, k);
                fail();
            }
    }
    assert_true(a.used >= N); /* rounded up to alignment */
    /* zero bytes still gives a distinct, usable pointer */
    void *z1 = dx_arena_alloc(&a, 0), *z2 = dx_arena_alloc(&a, 0);
    assert_non_null(z1);
    assert_ptr_not_equal(z1, z2);

    unsigned char *c = dx_arena_calloc(&a, 100);
    for (int i = 0; i < 100; i++) assert_int_equal(c[i], 0);

    char *s = dx_arena_strndup(&a, "hello world", 5);
    assert_string_equal(s, "hello");
    s = dx_arena_strdup(&a, "copy");
    assert_string_equal(s, "copy");
    s = dx_arena_strndup(&a, NULL, 0);
    assert_string_equal(s, "");
    s = dx_arena_printf(&a, "%s-%d-%05.1f", "x", 42, 3.14159);
    assert_string_equal(s, "x-42-003.1");
    /* printf longer than any internal scratch */
    s = dx_arena_printf(&a, "%5000d|", 7);
    assert_int_equal(strlen(s), 5001);
    assert_int_equal(s[4999], '7');
    dx_arena_release(&a);
    assert_null(a.head);
    assert_int_equal(a.used, 0);
    dx_arena_release(&a); /* twice is fine */
    dx_arena_release(NULL);
}

static void test_arena_big(void **state) {
    (void)state;
    dx_arena a = {0};
    char *small1 = dx_arena_alloc(&a, 100);
    memset(small1, 'a', 100);
    /* bigger than a chunk: gets its own, and the current chunk keeps filling */
    size_t big_n = 10 * DX_ARENA_CHUNK + 3;
    char *big = dx_arena_alloc(&a, big_n);
    assert_non_null(big);
    assert_true(aligned(big));
    memset(big, 'b', big_n);
    char *small2 = dx_arena_alloc(&a, 100);
    memset(small2, 'c', 100);
    assert_true(small2 > small1 && small2 < small1 + DX_ARENA_CHUNK); /* same chunk as small1 */
    char *big2 = dx_arena_alloc(&a, 1 << 20);
    memset(big2, 'd', 1 << 20);
    for (size_t i = 0; i < 100; i++) assert_int_equal(small1[i], 'a');
    for (size_t i = 0; i < big_n; i += 4096) assert_int_equal(big[i], 'b');
    assert_int_equal(big[big_n - 1], 'b');
    assert_int_equal(small2[99], 'c');
    assert_true(a.used >= 200 + big_n + (1 << 20));
    /* a big string copy */
    char *src = malloc(100000);
    memset(src, 'q', 100000);
    char *copy = dx_arena_strndup(&a, src, 100000);
    assert_int_equal(strlen(copy), 100000);
    free(src);
    dx_arena_release(&a);

    /* a custom chunk size */
    dx_arena b = {.chunk_size = 256};
    for (int i = 0; i < 100; i++) {
        char *p = dx_arena_alloc(&b, 200);
        assert_non_null(p);
        memset(p, i, 200);
    }
    char *p = dx_arena_alloc(&b, 1000); /* larger than the chunk size */
    memset(p, 1, 1000);
    dx_arena_release(&b);
}

static void test_arena_huge_fails(void **state) {
    (void)state;
    dx_arena a = {0};
    /* Sizes that would wrap the alignment or the chunk header must fail, not
     * hand out a tiny block. */
    assert_null(dx_arena_alloc(&a, SIZE_MAX));
    assert_null(dx_arena_alloc(&a, SIZE_MAX - 8));
    assert_null(dx_arena_alloc(&a, SIZE_MAX / 2 + 1));
    assert_non_null(dx_arena_alloc(&a, 100));
    dx_arena_release(&a);
}

static void test_arena_reset(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_arena_reset(&a); /* empty arena: no-op */
    assert_null(a.head);
    char *first = dx_arena_alloc(&a, 64);
    memset(first, 1, 64);
    dx_arena_reset(&a);
    assert_int_equal(a.used, 0);
    /* one chunk: reset hands out the same memory again */
    char *again = dx_arena_alloc(&a, 64);
    assert_ptr_equal(again, first);
    /* a loop that fills several chunks and resets keeps working and reuses memory */
    for (int round = 0; round < 20; round++) {
        char *last = NULL;
        for (int i = 0; i < 200; i++) {
            last = dx_arena_alloc(&a, 500);
            assert_non_null(last);
            memset(last, round, 500);
        }
        char *big = dx_arena_alloc(&a, 3 * DX_ARENA_CHUNK);
        memset(big, round, 3 * DX_ARENA_CHUNK);
        assert_int_equal(last[499], round);
        dx_arena_reset(&a);
        assert_int_equal(a.used, 0);
        assert_non_null(a.head);
    }
    /* after reset the arena holds exactly one chunk */
    assert_null(((void **)(void *)a.head)[0]); /* chunk->next is its first field */
    dx_arena_release(&a);
    /* usable after release */
    char *p = dx_arena_strdup(&a, "back");
    assert_string_equal(p, "back");
    dx_arena_release(&a);
}

/* ---------------------------------------------------------------- buffer */

static void test_buf_basic(void **state) {
    (void)state;
    dx_buf b = {0};
    assert_true(dx_buf_append(&b, "abc", 3));
    assert_int_equal(b.len, 3);
    assert_string_equal(b.ptr, "abc");
    assert_true(dx_buf_putc(&b, '-'));
    assert_true(dx_buf_puts(&b, "xyz"));
    assert_string_equal(b.ptr, "abc-xyz");
    assert_true(dx_buf_append(&b, "", 0));
    assert_true(dx_buf_append(&b, "\0z", 2)); /* embedded NUL counts */
    assert_int_equal(b.len, 9);
    assert_int_equal(b.ptr[b.len], 0);
    size_t cap = b.cap;
    dx_buf_clear(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.ptr, "");
    /* many appends: capacity always exceeds len (room for the NUL) */
    for (int i = 0; i < 10000; i++) {
        assert_true(dx_buf_putc(&b, (char)('a' + i % 26)));
        assert_true(b.cap > b.len);
        assert_int_equal(b.ptr[b.len], 0);
    }
    assert_int_equal(b.len, 10000);
    assert_int_equal(b.ptr[9999], 'a' + 9999 % 26);
    assert_true(dx_buf_reserve(&b, 100000));
    assert_true(b.cap >= b.len + 100000);
    dx_buf_free(&b);
    assert_null(b.ptr);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    /* wipe: usable afterwards */
    assert_true(dx_buf_puts(&b, "secret"));
    dx_buf_wipe(&b);
    assert_null(b.ptr);
    dx_buf_wipe(&b);
    dx_buf_clear(&b); /* on an empty buffer */
}

static void test_buf_printf(void **state) {
    (void)state;
    dx_buf b = {0};
    assert_true(dx_buf_printf(&b, "%d+%d=%s", 2, 2, "4"));
    assert_string_equal(b.ptr, "2+2=4");
    /* longer than the 256-byte scratch: formatted straight into the buffer */
    assert_true(dx_buf_printf(&b, "[%1000s]", "r"));
    assert_int_equal(b.len, 5 + 1002);
    assert_int_equal(b.ptr[5], '[');
    assert_int_equal(b.ptr[5 + 1000], 'r');
    assert_int_equal(b.ptr[5 + 1001], ']');
    assert_int_equal(b.ptr[b.len], 0);
    /* exactly at the scratch boundary */
    dx_buf_clear(&b);
    assert_true(dx_buf_printf(&b, "%255d", 1));
    assert_int_equal(b.len, 255);
    assert_true(dx_buf_printf(&b, "%256d", 2));
    assert_int_equal(b.len, 511);
    assert_int_equal(b.ptr[510], '2');
    assert_int_equal(strlen(b.ptr), 511);
    /* repeated growth keeps the earlier text */
    dx_buf_clear(&b);
    for (int i = 0; i < 1000; i++) assert_true(dx_buf_printf(&b, "%04d,", i));
    assert_int_equal(b.len, 5000);
    assert_memory_equal(b.ptr, "0000,0001,", 10);
    assert_memory_equal(b.ptr + 4995, "0999,", 5);
    dx_buf_free(&b);
}

static void test_buf_json_str(void **state) {
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        const char *want;
    } rows[] = {
        {"", 0, "\"\""},
        {"abc", 3, "\"abc\""},
        {"a\"b", 3, "\"a\\\"b\""},
        {"a\\b", 3, "\"a\\\\b\""},
        {"\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""},
        {"\x01", 1, "\"\\u0001\""},
        {"\x1f", 1, "\"\\u001f\""},
        {"a\0b", 3, "\"a\\u0000b\""},
        {"\x7f", 1, "\"\x7f\""},             /* DEL needs no escape */
        {"/", 1, "\"/\""},                   /* nor does the solidus */
        {"caf\xc3\xa9", 5, "\"caf\xc3\xa9\""}, /* UTF-8 passes through */
        {"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""},
        {"x\"\"y", 4, "\"x\\\"\\\"y\""},
        {"\"", 1, "\"\\\"\""},
        {"end\n", 4, "\"end\\n\""},
        {"\x00\x00", 2, "\"\\u0000\\u0000\""},
    };
    dx_buf b = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_buf_clear(&b);
        assert_row_true(i, dx_buf_put_json_str(&b, rows[i].in, rows[i].n));
        assert_row_string_equal(i, b.ptr, rows[i].want);
        assert_row_int_equal(i, b.len, strlen(rows[i].want));
    }
    /* appends after existing content; a long string of control bytes */
    dx_buf_clear(&b);
    dx_buf_puts(&b, "k=");
    char ctl[3000];
    memset(ctl, '\x02', sizeof ctl);
    assert_true(dx_buf_put_json_str(&b, ctl, sizeof ctl));
    assert_int_equal(b.len, 2 + 2 + 6 * sizeof ctl);
    assert_memory_equal(b.ptr, "k=\"\\u0002\\u0002", 14);
    assert_int_equal(b.ptr[b.len - 1], '"');
    dx_buf_free(&b);
}

/* ---------------------------------------------------------------- UTF-8 */

static void test_utf8(void **state) {
    (void)state;
    static const struct {
        const char *s;
        size_t n;
        bool valid;
        const char *what;
    } rows[] = {
        {"", 0, true, "empty"},
        {"hello, world", 12, true, "ASCII"},
        {"a\0b", 3, true, "NUL is a valid code point"},
        {"\x7f", 1, true, "DEL"},
        {"\xc2\x80", 2, true, "U+0080, smallest 2-byte"},
        {"\xdf\xbf", 2, true, "U+07FF, largest 2-byte"},
        {"\xe0\xa0\x80", 3, true, "U+0800, smallest 3-byte"},
        {"\xed\x9f\xbf", 3, true, "U+D7FF, before the surrogates"},
        {"\xee\x80\x80", 3, true, "U+E000, after the surrogates"},
        {"\xef\xbf\xbf", 3, true, "U+FFFF"},
        {"\xef\xbb\xbf", 3, true, "BOM"},
        {"\xf0\x90\x80\x80", 4, true, "U+10000, smallest 4-byte"},
        {"\xf4\x8f\xbf\xbf", 4, true, "U+10FFFF, largest code point"},
        {"caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac", 14, true, "mixed"},
        {"abcdefgh\xc3\xa9ijklmnop", 18, true, "multibyte after the 8-byte fast path"},
        {"\x80", 1, false, "lone continuation byte"},
        {"\xbf", 1, false, "lone continuation byte 0xbf"},
        {"\xc0\x80", 2, false, "overlong NUL (C0)"},
        {"\xc1\xbf", 2, false, "overlong (C1)"},
        {"\xe0\x80\x80", 3, false, "overlong 3-byte"},
        {"\xe0\x9f\xbf", 3, false, "overlong U+07FF in 3 bytes"},
        {"\xf0\x80\x80\x80", 4, false, "overlong 4-byte"},
        {"\xf0\x8f\xbf\xbf", 4, false, "overlong U+FFFF in 4 bytes"},
        {"\xed\xa0\x80", 3, false, "U+D800, high surrogate"},
        {"\xed\xbf\xbf", 3, false, "U+DFFF, low surrogate"},
        {"\xf4\x90\x80\x80", 4, false, "U+110000, beyond Unicode"},
        {"\xf5\x80\x80\x80", 4, false, "F5 lead byte"},
        {"\xff", 1, false, "FF"},
        {"\xfe", 1, false, "FE"},
        {"\xc3", 1, false, "truncated 2-byte"},
        {"\xe2\x82", 2, false, "truncated 3-byte"},
        {"\xf0\x9f\x98", 3, false, "truncated 4-byte"},
        {"\xc3\x28", 2, false, "bad continuation"},
        {"\xe2\x28\xa1", 3, false, "bad 2nd byte of 3"},
        {"\xe2\x82\x28", 3, false, "bad 3rd byte of 3"},
        {"\xf0\x9f\x98\x28", 4, false, "bad 4th byte of 4"},
        {"abcdefgh\x80", 9, false, "bad byte after the fast path"},
        {"abcdefghijklmno\xc3", 16, false, "truncated at the very end"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool got = dx_utf8_valid(rows[i].s, rows[i].n);
        if (got != rows[i].valid) print_error("row %zu: %s\n", i, rows[i].what);
        assert_row_int_equal(i, got, rows[i].valid);
    }
    /* counted: the bytes after n are not looked at */
    assert_true(dx_utf8_valid("ok\xff", 2));
    assert_true(dx_utf8_valid(NULL, 0));
}

/* ---------------------------------------------------------------- hash */

static void test_hash64(void **state) {
    (void)state;
    /* Pinned values: hashes decide table shards and may be persisted in
     * checkpoints, so a change of algorithm must be deliberate. (Little-endian
     * hosts; the word loads use the host's byte order.) */
    static const struct {
        const char *s;
        uint64_t seed, want;
    } rows[] = {
        {"", 0, 0xe1c684970e07cf2dull},
        {"", 1, 0x407bedf40e3be431ull},
        {"a", 0, 0x3d4f7acb74a110f3ull},
        {"a", 1, 0x18992b7430ea83adull},
        {"abc", 0, 0xf5ea2febaf0536f1ull},
        {"abc", 1, 0x0f9b1be42a609b45ull},
        {"hello world", 0, 0xad9e815065805879ull},
        {"hello world", 1, 0x6040148462397b89ull},
        {"0123456789abcdef0123456789abcdef!", 0, 0x7329f5b3add1a11dull},
        {"0123456789abcdef0123456789abcdef!", 1, 0x86cbf961aefc6f9eull},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t h = dx_hash64(rows[i].s, strlen(rows[i].s), rows[i].seed);
        if (h != rows[i].want) print_error("row %zu: 0x%016llx\n", i, (unsigned long long)h);
        assert_row_true(i, h == rows[i].want);
    }
    /* every prefix of a buffer, and each single-bit flip, hashes differently */
    unsigned char buf[65];
    for (int i = 0; i < 65; i++) buf[i] = (unsigned char)(i * 7);
    uint64_t seen[66 + 65 * 8];
    size_t ns = 0;
    for (size_t n = 0; n <= 65; n++) seen[ns++] = dx_hash64(buf, n, 0);
    for (int byte = 0; byte < 65; byte++)
        for (int bit = 0; bit < 8; bit++) {
            buf[byte] ^= (unsigned char)(1u << bit);
            seen[ns++] = dx_hash64(buf, 65, 0);
            buf[byte] ^= (unsigned char)(1u << bit);
        }
    for (size_t i = 0; i < ns; i++)
        for (size_t j = 0; j < i; j++)
            if (seen[i] == seen[j]) {
                print_error("collision between %zu and %zu\n", j, i);
                fail();
            }
    /* the address does not matter, only the bytes */
    char a1[40], a2[41];
    memcpy(a1, "unaligned input must hash the same", 35);
    memcpy(a2 + 1, a1, 35);
    assert_true(dx_hash64(a1, 35, 9) == dx_hash64(a2 + 1, 35, 9));
    assert_true(dx_hash64("x", 1, 1) != dx_hash64("x", 1, 2));
}

/* ---------------------------------------------------------------- random */

static void test_rng(void **state) {
    (void)state;
    dx_rng r1, r2;
    dx_rng_seed(&r1, 42);
    dx_rng_seed(&r2, 42);
    /* pinned: the same seed gives the same sequence on every build */
    assert_true(dx_rng_next(&r1) == 0x15780b2e0c2ec716ull);
    assert_true(dx_rng_next(&r1) == 0x6104d9866d113a7eull);
    assert_true(dx_rng_next(&r1) == 0xae17533239e499a1ull);
    for (int i = 0; i < 3; i++) dx_rng_next(&r2);
    for (int i = 0; i < 1000; i++) assert_true(dx_rng_next(&r1) == dx_rng_next(&r2));
    dx_rng_seed(&r2, 43);
    assert_true(dx_rng_next(&r1) != dx_rng_next(&r2));
    /* seed 0 picks a random seed: two of them differ */
    dx_rng z1, z2;
    dx_rng_seed(&z1, 0);
    dx_rng_seed(&z2, 0);
    assert_true(dx_rng_next(&z1) != dx_rng_next(&z2));

    /* below: always in range, for small, odd, huge and maximal n */
    static const uint64_t ns[] = {1, 2, 3, 7, 10, 1000, 1ull << 32, (1ull << 63) + 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (int k = 0; k < 20000; k++) {
            uint64_t v = dx_rng_below(&r1, ns[i]);
            if (v >= ns[i]) {
                print_error("row %zu: %llu >= %llu\n", i, (unsigned long long)v, (unsigned long long)ns[i]);
                fail();
            }
        }
    /* and spread out: 200000 draws over 10 buckets, each within 5% of 20000 */
    int bucket[10] = {0};
    for (int k = 0; k < 200000; k++) bucket[dx_rng_below(&r1, 10)]++;
    for (int i = 0; i < 10; i++) assert_row_true(i, bucket[i] > 19000 && bucket[i] < 21000);
    /* n = 2^63 + 1: both halves of the range are reached */
    bool low = false, high = false;
    for (int k = 0; k < 1000; k++) {
        uint64_t v = dx_rng_below(&r1, (1ull << 63) + 1);
        if (v < (1ull << 62)) low = true;
        if (v > (3ull << 61)) high = true;
    }
    assert_true(low && high);
}

static void test_random_bytes_and_wipe(void **state) {
    (void)state;
    unsigned char a[64] = {0}, b[64] = {0}, zero[64] = {0};
    dx_random_bytes(a, sizeof a);
    dx_random_bytes(b, sizeof b);
    assert_memory_not_equal(a, zero, sizeof a);
    assert_memory_not_equal(a, b, sizeof a);
    dx_random_bytes(a, 0); /* nothing to do */
    dx_memwipe(a, sizeof a);
    assert_memory_equal(a, zero, sizeof a);
    dx_memwipe(b, 0);
}

/* ---------------------------------------------------------------- suggestions */

static void test_edit_distance(void **state) {
    (void)state;
    static const struct {
        const char *a, *b;
        size_t d;
    } cases[] = {
        {"", "", 0},
        {"abc", "abc", 0},
        {"", "abc", 3},
        {"abc", "", 3},
        {"conditon", "condition", 1},  /* deletion */
        {"workerz", "workers", 1},     /* substitution */
        {"workerss", "workers", 1},    /* insertion */
        {"kitten", "sitting", 3},
        {"flaw", "lawn", 2},
        {"rn", "run", 1},
        {"abc", "cba", 2},
        {"in_flight", "in-flight", 1},
        /* 63 bytes is still measured; 64 is "far" whatever the strings */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a", 62},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a", 64},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_row_int_equal(i, dx_edit_distance(cases[i].a, cases[i].b), cases[i].d);
        assert_row_int_equal(i, dx_edit_distance(cases[i].b, cases[i].a), cases[i].d);
    }
}

static void test_suggest(void **state) {
    (void)state;
    static const char *const keys[] = {"path", "format", "compression", "json", "csv", NULL};
    static const char *const ties[] = {"cat", "bat", "hat"};
    static const struct {
        const char *name;
        const char *const *cands;
        size_t n, max;
        const char *want; /* NULL: no suggestion */
    } cases[] = {
        {"fromat", keys, SIZE_MAX, 2, "format"},
        {"pth", keys, SIZE_MAX, 2, "path"},
        {"jsno", keys, SIZE_MAX, 2, "json"},
        {"compresion", keys, SIZE_MAX, 2, "compression"},
        {"zzzzzz", keys, SIZE_MAX, 2, NULL},     /* nothing close */
        {"fromat", keys, SIZE_MAX, 1, NULL},     /* 2 edits, only 1 allowed */
        {"path", keys, SIZE_MAX, 0, "path"},     /* exact */
        {"csvv", keys, SIZE_MAX, 2, "csv"},
        {"csvv", keys, 4, 2, NULL},              /* n stops before "csv" */
        {"jsn", keys, 4, 2, "json"},
        {"rat", ties, 3, 1, "cat"},              /* a tie: the first */
        {"hat", ties, 3, 1, "hat"},              /* exact beats the earlier near ones */
        {"x", keys, 0, 5, NULL},                 /* no candidates */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = dx_suggest(cases[i].name, cases[i].cands, cases[i].n, cases[i].max);
        if (!cases[i].want) {
            assert_row_true(i, got == NULL);
        } else {
            assert_row_string_equal(i, got, cases[i].want);
        }
    }
}

static void test_clocks(void **state) {
    (void)state;
    uint64_t n1 = dx_now_ns(), m1 = dx_now_ms();
    uint64_t n2 = dx_now_ns(), m2 = dx_now_ms();
    assert_true(n2 >= n1);
    assert_true(m2 >= m1);
    assert_true(m1 <= n2 / 1000000u + 1);
    /* wall clock: after 2020-01-01 and before 2100 */
    uint64_t w = dx_wall_ms();
    assert_true(w > 1577836800000ull && w < 4102444800000ull);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str),
        cmocka_unit_test(test_arena_small),
        cmocka_unit_test(test_arena_big),
        cmocka_unit_test(test_arena_huge_fails),
        cmocka_unit_test(test_arena_reset),
        cmocka_unit_test(test_buf_basic),
        cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_buf_json_str),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_hash64),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_random_bytes_and_wipe),
        cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
