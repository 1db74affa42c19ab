/*
 * bench_mem.c - memory-backend write throughput through the engine.
 *
 * Each thread owns a dx_engine with 64 calls in flight and writes its own
 * range of keys into one shared on-demand table: items of 10 attributes and
 * about 150 bytes (DynamoDB's size), built per call the way a job runner
 * builds them (a fresh key and a varying number, the rest shared). Measured
 * for single PutItem calls and for BatchWriteItem of 25, with 1 and 2
 * threads, best of 3 runs, each run on a fresh client. Prints puts/s (items
 * written per second) and the ratio 2 threads / 1 thread.
 *
 * Usage: bench_mem [items-per-thread]   (default 400000)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynox/dynox.h"

#define INFLIGHT 64
#define BATCH 25
#define NATTR 10
#define RUNS 3

static const char *const TABLE = "bench_mem";

/* One item under construction: its members and the bytes that vary. */
typedef struct bitem {
    dx_member m[NATTR];
    char id[32];
    char score[24];
    dx_value v;
} bitem;

typedef struct slot {
    dx_call call;
    bitem items[BATCH];
    dx_write writes[BATCH];
    dx_arena arena; /* the engine's bookkeeping for a batch */
    struct slot *next;
    struct slot **free;
    long *failed;
} slot;

typedef struct job {
    dx_client *c;
    int thread;
    long items;
    bool batch;
    pthread_barrier_t *barrier;
    long failed;
} job;

/* Writes n as exactly `width` decimal digits (zero-padded) and returns the end. */
static char *digits(char *p, unsigned long n, int width) {
    for (int i = width - 1; i >= 0; i--, n /= 10) p[i] = (char)('0' + n % 10);
    return p + width;
}

/* Like snprintf("user-%d-%09ld") and ("%ld.%02ld"), without printf's cost
 * inside the timed loop. */
static void item_fill(bitem *b, int thread, long k) {
    char *p = b->id;
    memcpy(p, "user-", 5);
    p = digits(p + 5, (unsigned long)thread, 1);
    *p++ = '-';
    p = digits(p, (unsigned long)k, 9);
    *p = 0;
    p = digits(b->score, (unsigned long)(1000 + k % 9000), 4);
    *p++ = '.';
    p = digits(p, (unsigned long)(k % 97 + 1), 2);
    *p = 0;
    dx_member m[NATTR] = {
        {"id", 2, dx_vs(b->id)},
        {"name", 4, dx_vs("Alexandra Johnson-Smith")},
        {"email", 5, dx_vs("alexandra.johnson@example.com")},
        {"age", 3, dx_vn("42")},
        {"score", 5, dx_vs(b->score)},
        {"active", 6, dx_vbool(true)},
        {"city", 4, dx_vs("Springfield")},
        {"country", 7, dx_vs("US")},
        {"created", 7, dx_vn("1700000000123")},
        {"tier", 4, dx_vs("gold")},
    };
    m[4].value = dx_vn(b->score);
    memcpy(b->m, m, sizeof m);
    b->v = dx_vmap(b->m, NATTR);
}

static void slot_done(dx_call *call) {
    slot *s = call->ud;
    if (call->res.err != DX_OK || call->resp.nunprocessed) (*s->failed)++;
    s->next = *s->free;
    *s->free = s;
}

static void *writer(void *arg) {
    job *j = arg;
    dx_engine *e = dx_engine_new(j->c, &(dx_engine_opts){.max_inflight = INFLIGHT});
    slot *slots = calloc(INFLIGHT, sizeof *slots), *free_list = NULL;
    if (!e || !slots) {
        fprintf(stderr, "bench_mem: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < INFLIGHT; i++) {
        slots[i].free = &free_list;
        slots[i].failed = &j->failed;
        slots[i].next = free_list;
        free_list = &slots[i];
    }
    long per_call = j->batch ? BATCH : 1, calls = j->items / per_call, next = 0;
    pthread_barrier_wait(j->barrier);
    while (next < calls || dx_engine_pending(e)) {
        while (free_list && next < calls) {
            slot *s = free_list;
            free_list = s->next;
            s->call = (dx_call){.done = slot_done, .ud = s};
            if (j->batch) {
                for (int i = 0; i < BATCH; i++) {
                    item_fill(&s->items[i], j->thread, next * BATCH + i);
                    s->writes[i] = (dx_write){false, &s->items[i].v};
                }
                s->call.req = (dx_req){.op = DX_OP_BATCH_WRITE, .table = TABLE, .writes = s->writes,
                                       .nwrites = BATCH};
                dx_arena_reset(&s->arena);
                s->call.arena = &s->arena;
            } else {
                item_fill(&s->items[0], j->thread, next);
                s->call.req = (dx_req){.op = DX_OP_PUT, .table = TABLE, .item = &s->items[0].v};
            }
            if (dx_engine_submit(e, &s->call) != DX_OK) {
                fprintf(stderr, "bench_mem: submit failed\n");
                exit(1);
            }
            next++;
        }
        dx_engine_run(e, -1);
    }
    dx_engine_free(e);
    for (int i = 0; i < INFLIGHT; i++) dx_arena_release(&slots[i].arena);
    free(slots);
    return NULL;
}

/* Items written per second by `threads` threads (one fresh client). */
static double run_once(int threads, long per_thread, bool batch) {
    dx_client *c = NULL;
    if (dx_mem_client_new(NULL, NULL, &c) != DX_OK) {
        fprintf(stderr, "bench_mem: no client\n");
        exit(1);
    }
    dx_table_def def = {.name = TABLE, .key = {"id", DX_T_S, NULL, DX_T_NONE}};
    dx_result r;
    dx_result_clear(&r);
    if (dx_create_table(c, &def, &r) != DX_OK) {
        fprintf(stderr, "bench_mem: create table: %s\n", r.message);
        exit(1);
    }
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1);
    pthread_t th[8];
    job jobs[8];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job){.c = c, .thread = i, .items = per_thread, .batch = batch, .barrier = &barrier};
        pthread_create(&th[i], NULL, writer, &jobs[i]);
    }
    pthread_barrier_wait(&barrier);
    uint64_t t0 = dx_now_ns();
    long failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        failed += jobs[i].failed;
    }
    uint64_t ns = dx_now_ns() - t0;
    pthread_barrier_destroy(&barrier);
    uint64_t n = 0;
    dx_mem_count(c, TABLE, &n, &r);
    long per_call = batch ? BATCH : 1;
    uint64_t want = (uint64_t)threads * (uint64_t)(per_thread / per_call * per_call);
    if (failed || n != want) {
        fprintf(stderr, "bench_mem: %ld failed calls, %llu items stored, %llu expected\n", failed,
                (unsigned long long)n, (unsigned long long)want);
        exit(1);
    }
    dx_client_free(c);
    return (double)want / ((double)ns / 1e9);
}

static double best_of(int threads, long per_thread, bool batch) {
    double best = 0;
    for (int i = 0; i < RUNS; i++) {
        double v = run_once(threads, per_thread, batch);
        if (v > best) best = v;
    }
    return best;
}

int main(int argc, char **argv) {
    long per_thread = argc > 1 ? atol(argv[1]) : 400000;
    if (per_thread < BATCH) per_thread = BATCH;
    bitem sample;
    item_fill(&sample, 0, 123456);
    printf("memory backend puts/s through the engine: %d in flight per thread, items of %d "
           "attributes and %zu bytes, %ld items per thread, best of %d\n",
           INFLIGHT, NATTR, dx_item_size(&sample.v), per_thread, RUNS);
    static const struct {
        const char *name;
        bool batch;
    } modes[] = {{"PutItem", false}, {"BatchWriteItem x25", true}};
    for (size_t m = 0; m < 2; m++) {
        double one = best_of(1, per_thread, modes[m].batch);
        double two = best_of(2, per_thread, modes[m].batch);
        printf("%-20s 1 thread: %10.0f puts/s   2 threads: %10.0f puts/s   ratio 2 threads / 1 "
               "thread: %.2f\n",
               modes[m].name, one, two, two / one);
    }
    return 0;
}
