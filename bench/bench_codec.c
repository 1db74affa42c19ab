/*
 * bench_codec.c - DynamoDB-JSON decode and encode throughput against cJSON.
 *
 * Generates N items (default 200000; the first argument changes it) of about
 * 150 bytes and 10 attributes each -- strings, numbers, booleans and now and
 * then a NULL, a small list or a small map -- from a fixed seed, then times,
 * best of 5 runs each, in this one process:
 *   - cJSON parse-only (cJSON_ParseWithLength + cJSON_Delete per item): the baseline;
 *   - dx_decode_item, resetting one arena per item (what a JSON-lines reader does);
 *   - dx_encode_item of the decoded items into a cleared buffer.
 * and prints the decode/cJSON time ratio (the project's target is <= 1.5).
 *
 * Must never: time anything but the calls being compared (generation and
 * checks happen outside the timed loops).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynox/codec.h"

#define REPS 5

static const char *const first_names[] = {"Ana", "Bo", "Chloé", "Dmitri", "Eve", "Fiona",
                                          "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea"};
static const char *const cities[] = {"Rome", "Oslo", "Kyoto", "Lima", "Bonn", "Perth",
                                     "Quito", "Turin", "Nice", "Riga"};

static void gen_item(dx_buf *b, dx_rng *rng, size_t i) {
    const char *name = first_names[dx_rng_below(rng, 12)];
    const char *city = cities[dx_rng_below(rng, 10)];
    unsigned long qty = (unsigned long)dx_rng_below(rng, 1000);
    unsigned long cents = (unsigned long)dx_rng_below(rng, 10000);
    unsigned long long ts = 1000 + dx_rng_below(rng, 9000);
    bool ok = dx_rng_below(rng, 2);
    dx_buf_printf(b,
                  "{\"k\":{\"S\":\"u%04zu\"},\"q\":{\"N\":\"%lu\"},\"p\":{\"N\":\"%lu.%lu\"},"
                  "\"o\":{\"BOOL\":%s},\"n\":{\"S\":\"%s\"},\"t\":{\"N\":\"%llu\"},"
                  "\"c\":{\"S\":\"%s\"},",
                  i % 10000, qty, cents / 100, cents % 9 + 1, ok ? "true" : "false", name, ts,
                  city);
    switch (dx_rng_below(rng, 4)) {
    case 0:
        dx_buf_printf(b, "\"l\":{\"L\":[{\"S\":\"a\"},{\"N\":\"%lu\"}]},",
                      (unsigned long)dx_rng_below(rng, 50));
        break;
    case 1:
        dx_buf_printf(b, "\"d\":{\"M\":{\"w\":{\"N\":\"%lu\"}}},",
                      (unsigned long)dx_rng_below(rng, 300));
        break;
    case 2:
        dx_buf_puts(b, "\"x\":{\"NULL\":true},");
        break;
    default:
        dx_buf_printf(b, "\"v\":{\"N\":\"%lu\"},", (unsigned long)dx_rng_below(rng, 100));
        break;
    }
    dx_buf_printf(b, "\"g\":{\"BOOL\":%s},\"s\":{\"S\":\"%c%c\"}}",
                  dx_rng_below(rng, 2) ? "true" : "false", 'a' + (int)dx_rng_below(rng, 26),
                  'a' + (int)dx_rng_below(rng, 26));
}

static double mbps(size_t bytes, uint64_t ns) { return (double)bytes / ((double)ns / 1e9) / 1e6; }

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    if (n == 0) {
        fprintf(stderr, "usage: bench_codec [items]\n");
        return 2;
    }
    dx_buf text = {0};
    size_t *off = malloc((n + 1) * sizeof *off);
    dx_value *items = malloc(n * sizeof *items);
    if (!off || !items) return 1;
    dx_rng rng;
    dx_rng_seed(&rng, 42);
    for (size_t i = 0; i < n; i++) {
        off[i] = text.len;
        gen_item(&text, &rng, i);
    }
    off[n] = text.len;
    size_t total = text.len;
    printf("bench_codec: %zu items, %zu bytes (%.1f bytes/item), best of %d\n", n, total,
           (double)total / (double)n, REPS);

    /* Decode everything once outside the clock: checks the data and feeds the encoder. */
    dx_arena keep = {0};
    dx_result r;
    dx_result_clear(&r);
    for (size_t i = 0; i < n; i++) {
        if (dx_decode_item(&keep, text.ptr + off[i], off[i + 1] - off[i], &items[i], &r) != DX_OK) {
            fprintf(stderr, "item %zu does not decode: %s\n", i, r.message);
            return 1;
        }
    }

    uint64_t best_cj = UINT64_MAX, best_dec = UINT64_MAX, best_enc = UINT64_MAX;
    size_t enc_bytes = 0, sink = 0;
    dx_arena a = {0};
    dx_buf out = {0};
    for (int rep = 0; rep < REPS; rep++) {
        uint64_t t0 = dx_now_ns();
        for (size_t i = 0; i < n; i++) {
            cJSON *j = cJSON_ParseWithLength(text.ptr + off[i], off[i + 1] - off[i]);
            if (!j) {
                fprintf(stderr, "cJSON rejects item %zu\n", i);
                return 1;
            }
            sink += j->child != NULL;
            cJSON_Delete(j);
        }
        uint64_t t1 = dx_now_ns();
        for (size_t i = 0; i < n; i++) {
            dx_value v;
            dx_arena_reset(&a);
            if (dx_decode_item(&a, text.ptr + off[i], off[i + 1] - off[i], &v, &r) != DX_OK) return 1;
            sink += v.n;
        }
        uint64_t t2 = dx_now_ns();
        enc_bytes = 0;
        for (size_t i = 0; i < n; i++) {
            dx_buf_clear(&out);
            if (dx_encode_item(&out, &items[i]) != DX_OK) return 1;
            enc_bytes += out.len;
        }
        uint64_t t3 = dx_now_ns();
        if (t1 - t0 < best_cj) best_cj = t1 - t0;
        if (t2 - t1 < best_dec) best_dec = t2 - t1;
        if (t3 - t2 < best_enc) best_enc = t3 - t2;
    }
    printf("cJSON parse-only:          %8.1f MB/s  %7.1f ns/item\n", mbps(total, best_cj),
           (double)best_cj / (double)n);
    printf("dx_decode_item:            %8.1f MB/s  %7.1f ns/item\n", mbps(total, best_dec),
           (double)best_dec / (double)n);
    printf("dx_encode_item:            %8.1f MB/s  %7.1f ns/item (%zu bytes out)\n",
           mbps(enc_bytes, best_enc), (double)best_enc / (double)n, enc_bytes);
    printf("decode/cJSON time ratio: %.2f (aim <= 1.5)\n", (double)best_dec / (double)best_cj);
    if (sink == 0) printf("(nothing decoded)\n");

    dx_buf_free(&out);
    dx_buf_free(&text);
    dx_arena_release(&a);
    dx_arena_release(&keep);
    free(off);
    free(items);
    return 0;
}
