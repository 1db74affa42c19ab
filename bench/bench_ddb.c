/*
 * bench_ddb.c - GetItem throughput of the DynamoDB backend against dynalite,
 * from one thread: 1 request in flight (the baseline) and 32 in flight, and
 * the client's own CPU time per 10,000 requests (getrusage of this process:
 * dynalite is a separate process and is not counted).
 *
 * Endpoint: DYNOX_TEST_ENDPOINT when set, else a dynalite this program
 * starts itself with the tests' tp_dynalite_start (tests/support/proc.c:
 * tests/node_modules/dynalite from `make deps`; run from the repository root)
 * and stops by PID at the end (PR_SET_PDEATHSIG covers a crash). Prints
 * requests/s for both, the 32/1 ratio, and CPU-seconds per 10k requests.
 *
 * Must never: time the table set-up, or leave the server or the table behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dynox/ddb.h"
#include "dynox/dynox.h"
#include "proc.h"

#define NITEMS 1000

static tp_proc server; /* the dynalite started here (pid 0: none) */

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

typedef struct slot {
    dx_call call;
    dx_arena arena;
    dx_member m;
    dx_value key;
} slot;

typedef struct run {
    dx_engine *e;
    uint64_t left, errors;
    char ids[NITEMS][16];
    dx_rng rng;
} run;

static run R;

static void on_done(dx_call *c);

static void submit(slot *s) {
    const char *id = R.ids[dx_rng_below(&R.rng, NITEMS)];
    dx_arena_reset(&s->arena);
    s->m = (dx_member){"id", 2, dx_vs(id)};
    s->key = dx_vmap(&s->m, 1);
    s->call.req.key = &s->key;
    dx_engine_submit(R.e, &s->call);
}

static void on_done(dx_call *c) {
    slot *s = (slot *)c;
    if (c->res.err != DX_OK || !c->resp.item) R.errors++;
    if (R.left) {
        R.left--;
        submit(s);
    }
}

/* n GetItem calls with `inflight` in flight; returns requests/s, sets *cpu to CPU-seconds used. */
static double measure(dx_client *c, const char *table, unsigned inflight, uint64_t n, double *cpu) {
    dx_engine_opts eo = {.max_inflight = inflight};
    R.e = dx_engine_new(c, &eo);
    R.errors = 0;
    slot *slots = calloc(inflight, sizeof *slots);
    R.left = n;
    double c0 = cpu_seconds();
    uint64_t t0 = dx_now_ns();
    for (unsigned i = 0; i < inflight && R.left; i++) {
        R.left--;
        slots[i].call.req = (dx_req){.op = DX_OP_GET, .table = table};
        slots[i].call.arena = &slots[i].arena;
        slots[i].call.done = on_done;
        submit(&slots[i]);
    }
    dx_engine_drain(R.e);
    uint64_t t1 = dx_now_ns();
    *cpu = cpu_seconds() - c0;
    dx_engine_free(R.e);
    for (unsigned i = 0; i < inflight; i++) dx_arena_release(&slots[i].arena);
    free(slots);
    if (R.errors) fprintf(stderr, "bench_ddb: %llu GetItem calls failed\n", (unsigned long long)R.errors);
    return (double)n / ((double)(t1 - t0) / 1e9);
}

int main(int argc, char **argv) {
    uint64_t n1 = argc > 1 ? strtoull(argv[1], NULL, 10) : 3000;
    uint64_t n32 = n1 * 4;
    char url[128];
    const char *ep = getenv("DYNOX_TEST_ENDPOINT");
    if (ep && *ep) {
        snprintf(url, sizeof url, "%s", ep);
    } else if (tp_dynalite_start(&server, false, url, sizeof url) != 0) {
        fprintf(stderr, "bench_ddb: no dynalite (run `make deps`, or set DYNOX_TEST_ENDPOINT)\n");
        return 1;
    }
    int status = 1;
    dx_client *c = NULL;
    dx_result r;
    dx_result_clear(&r);
    dx_ddb_opts o = {.endpoint_url = url, .region = "us-east-1", .access_key_id = "AKIDBENCH",
                     .secret_access_key = "bench-secret", .max_idle_ms = 4000};
    if (dx_ddb_client_new(&o, NULL, &c, &r) != DX_OK) {
        fprintf(stderr, "bench_ddb: %s\n", r.message);
        goto out;
    }
    char table[64];
    snprintf(table, sizeof table, "bench_%d", (int)getpid());
    dx_table_def def = {table, {"id", DX_T_S, NULL, DX_T_NONE}, 0, 0};
    if (dx_create_table(c, &def, &r) != DX_OK) {
        fprintf(stderr, "bench_ddb: create table: %s\n", r.message);
        goto out;
    }
    /* dynalite answers CreateTable with CREATING and flips to ACTIVE a moment later. */
    if (dx_wait_table_active(c, table, 5000, NULL, NULL, &r) != DX_OK) {
        fprintf(stderr, "bench_ddb: %s\n", r.message);
        goto drop;
    }
    /* Items of ~100 bytes. */
    dx_rng_seed(&R.rng, 12345);
    for (int i = 0; i < NITEMS; i += 25) {
        dx_arena a = {0};
        dx_write w[25];
        for (int k = 0; k < 25; k++) {
            snprintf(R.ids[i + k], sizeof R.ids[0], "user-%05d", i + k);
            dx_member *m = dx_arena_alloc(&a, 4 * sizeof *m);
            m[0] = (dx_member){"id", 2, dx_vs(R.ids[i + k])};
            m[1] = (dx_member){"name", 4, dx_vs("A. N. Example")};
            m[2] = (dx_member){"score", 5, dx_vn("12345.678")};
            m[3] = (dx_member){"bio", 3, dx_vs("lorem ipsum dolor sit amet, consectetur adipiscing")};
            dx_value *it = dx_arena_alloc(&a, sizeof *it);
            *it = dx_vmap(m, 4);
            w[k] = (dx_write){false, it};
        }
        dx_call call = {.req = {.op = DX_OP_BATCH_WRITE, .table = table, .writes = w, .nwrites = 25},
                        .arena = &a};
        if (dx_client_call(c, &call) != DX_OK) {
            fprintf(stderr, "bench_ddb: load: %s\n", call.res.message);
            dx_arena_release(&a);
            goto drop;
        }
        dx_arena_release(&a);
    }
    double cpu1, cpu32;
    measure(c, table, 32, 1000, &cpu1); /* warm-up: connections, JIT in dynalite */
    double rps1 = measure(c, table, 1, n1, &cpu1);
    double rps32 = measure(c, table, 32, n32, &cpu32);
    printf("GetItem, one thread, against %s (%s)\n", url, ep && *ep ? "DYNOX_TEST_ENDPOINT" : "dynalite started here");
    printf("  1 in flight:  %8.0f requests/s  (%llu requests)  client CPU %.3f s per 10k requests\n",
           rps1, (unsigned long long)n1, cpu1 / (double)n1 * 10000.0);
    printf("  32 in flight: %8.0f requests/s  (%llu requests)  client CPU %.3f s per 10k requests\n",
           rps32, (unsigned long long)n32, cpu32 / (double)n32 * 10000.0);
    printf("  ratio 32-in-flight / 1-in-flight: %.2fx\n", rps32 / rps1);
    status = R.errors ? 1 : 0;
drop:
    dx_delete_table(c, table, NULL);
out:
    dx_client_free(c);
    tp_stop(&server);
    return status;
}
