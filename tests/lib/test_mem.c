/*
 * test_mem.c - what only the memory backend (lib/mem.c) does: sharded
 * storage under many concurrent writers (conditional puts, counters,
 * compare-and-swap; final counts exact), simulated capacity (throttling of
 * single requests, partial batches, hot partition keys), dump determinism and order, count,
 * large partitions in random order, Scan paging while the table changes,
 * the engines' table cache across delete + create, and the lazily ordered
 * index with its packed item blocks against a reference model. DynamoDB behaviour
 * shared with other backends is in tests/support/conformance.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynox/dynox.h"
#include "testutil.h"

/* ---------------------------------------------------------------- helpers */

static dx_client *new_client(const dx_mem_opts *o, uint32_t max_attempts) {
    dx_client_opts co = {.seed = 7, .retry = {.max_attempts = max_attempts, .base_ms = 1, .max_ms = 20}};
    dx_client *c = NULL;
    assert_int_equal(dx_mem_client_new(o, &co, &c), DX_OK);
    assert_non_null(c);
    return c;
}

static void create(dx_client *c, const char *name, const char *hash, dx_type ht, const char *range,
                   dx_type rt, double rcu, double wcu) {
    dx_table_def def = {.name = name, .key = {hash, ht, range, rt}, .rcu = rcu, .wcu = wcu};
    dx_result r;
    dx_result_clear(&r);
    if (dx_create_table(c, &def, &r) != DX_OK) print_error("create %s: %s\n", name, r.message);
    assert_int_equal(r.err, DX_OK);
}

/* An item {id: S "k<i>", <attr>: N n} built in arena a. */
static dx_value *item_s(dx_arena *a, const char *id, const char *attr, int64_t n) {
    dx_member *m = dx_arena_alloc(a, 2 * sizeof *m);
    dx_value *v = dx_arena_alloc(a, sizeof *v);
    assert_non_null(m);
    assert_non_null(v);
    m[0] = (dx_member){"id", 2, dx_vs(dx_arena_strdup(a, id))};
    m[1] = (dx_member){attr, (uint32_t)strlen(attr), {0}};
    assert_int_equal(dx_value_i64(a, n, &m[1].value), DX_OK);
    *v = dx_vmap(m, attr[0] ? 2 : 1);
    return v;
}

static dx_value *key_s(dx_arena *a, const char *id) { return item_s(a, id, "", 0); }

static dx_value *vals1(dx_arena *a, const char *name, int64_t n) {
    dx_member *m = dx_arena_alloc(a, sizeof *m);
    dx_value *v = dx_arena_alloc(a, sizeof *v);
    m[0] = (dx_member){name, (uint32_t)strlen(name), {0}};
    assert_int_equal(dx_value_i64(a, n, &m[0].value), DX_OK);
    *v = dx_vmap(m, 1);
    return v;
}

static int64_t num_attr(const dx_value *item, const char *attr) {
    int64_t n = -1;
    const dx_value *v = item ? dx_map_get(item, attr) : NULL;
    if (!v || dx_value_to_i64(v, &n, NULL) != DX_OK) return -1;
    return n;
}

static dx_value *get_item(dx_client *c, dx_arena *a, const char *table, const dx_value *key) {
    dx_call call = {.req = {.op = DX_OP_GET, .table = table, .key = key, .consistent = true}, .arena = a};
    assert_int_equal(dx_client_call(c, &call), DX_OK);
    return call.resp.item;
}

static uint64_t count(dx_client *c, const char *table) {
    uint64_t n = 0;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_mem_count(c, table, &n, &r), DX_OK);
    return n;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- basics */

static void test_backend_name(void **state) {
    (void)state;
    dx_client *c = new_client(NULL, 0);
    assert_string_equal(dx_client_backend(c), "memory");
    uint64_t n;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_mem_count(c, "nope_table", &n, &r), DX_ERR_RESOURCE_NOT_FOUND);
    assert_string_equal(r.type, "ResourceNotFoundException");
    assert_int_equal(dx_mem_dump(c, "nope_table", stdout, &r), DX_ERR_RESOURCE_NOT_FOUND);
    dx_client_free(c);
}

/* Segment without TotalSegments reaches the backend only through the C API. */
static void test_segment_without_total(void **state) {
    (void)state;
    dx_client *c = new_client(NULL, 0);
    create(c, "segs", "id", DX_T_S, NULL, DX_T_NONE, 0, 0);
    dx_arena a = {0};
    dx_call call = {.req = {.op = DX_OP_SCAN, .table = "segs", .segment = 1}, .arena = &a};
    assert_int_equal(dx_client_call(c, &call), DX_ERR_VALIDATION);
    assert_string_equal(call.res.type, "ValidationException");
    assert_int_equal(call.res.http_status, 400);

    /* A start key from one segment is refused by another. */
    char id[32];
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof id, "k%d", i);
        dx_call p = {.req = {.op = DX_OP_PUT, .table = "segs", .item = item_s(&a, id, "n", i)}};
        assert_int_equal(dx_client_call(c, &p), DX_OK);
    }
    dx_call s0 = {.req = {.op = DX_OP_SCAN, .table = "segs", .segment = 0, .total_segments = 2, .limit = 1},
                  .arena = &a};
    assert_int_equal(dx_client_call(c, &s0), DX_OK);
    assert_non_null(s0.resp.last_key);
    dx_call s1 = {.req = {.op = DX_OP_SCAN, .table = "segs", .segment = 1, .total_segments = 2,
                          .start_key = s0.resp.last_key},
                  .arena = &a};
    assert_int_equal(dx_client_call(c, &s1), DX_ERR_VALIDATION);
    assert_non_null(strstr(s1.res.message, "Invalid ExclusiveStartKey"));
    s0.req.start_key = s0.resp.last_key; /* and accepted by its own */
    assert_int_equal(dx_client_call(c, &s0), DX_OK);
    dx_arena_release(&a);
    dx_client_free(c);
}

static void test_count_and_describe(void **state) {
    (void)state;
    dx_client *c = new_client(NULL, 0);
    create(c, "cnt", "id", DX_T_S, NULL, DX_T_NONE, 0, 0);
    dx_arena a = {0};
    char id[32];
    size_t bytes = 0;
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof id, "k%d", i);
        dx_value *it = item_s(&a, id, "n", i);
        bytes += dx_item_size(it);
        dx_call p = {.req = {.op = DX_OP_PUT, .table = "cnt", .item = it}};
        assert_int_equal(dx_client_call(c, &p), DX_OK);
    }
    assert_int_equal(count(c, "cnt"), 500);
    dx_table_desc d;
    dx_result r;
    assert_int_equal(dx_describe_table(c, "cnt", &a, &d, &r), DX_OK);
    assert_int_equal(d.item_count, 500);
    assert_int_equal(d.size_bytes, bytes);
    /* Replacing keeps the count and corrects the bytes; deleting lowers both. */
    dx_call p = {.req = {.op = DX_OP_PUT, .table = "cnt", .item = item_s(&a, "k0", "longer_name", 1)}};
    assert_int_equal(dx_client_call(c, &p), DX_OK);
    bytes += dx_item_size(p.req.item) - dx_item_size(item_s(&a, "k0", "n", 0));
    for (int i = 1; i < 100; i++) {
        snprintf(id, sizeof id, "k%d", i);
        bytes -= dx_item_size(item_s(&a, id, "n", i));
        dx_call del = {.req = {.op = DX_OP_DELETE, .table = "cnt", .key = key_s(&a, id)}};
        assert_int_equal(dx_client_call(c, &del), DX_OK);
    }
    assert_int_equal(count(c, "cnt"), 401);
    assert_int_equal(dx_describe_table(c, "cnt", &a, &d, &r), DX_OK);
    assert_int_equal(d.item_count, 401);
    assert_int_equal(d.size_bytes, bytes);
    dx_call b = {.req = {.op = DX_OP_DESCRIBE_BACKUPS, .table = "cnt"}, .arena = &a};
    assert_int_equal(dx_client_call(c, &b), DX_OK);
    assert_false(b.resp.table.pitr);
    dx_arena_release(&a);
    dx_client_free(c);
}

/* ---------------------------------------------------------------- concurrency */

enum { THREADS = 4, KEYS = 3000 };

typedef struct worker {
    dx_client *c;
    int id;
    int ok, conditional, other;
} worker;

static void *conditional_puts(void *arg) {
    worker *w = arg;
    dx_arena a = {0};
    char id[32];
    /* Every thread tries every key, each in its own order. */
    for (int j = 0; j < KEYS; j++) {
        int k = (j * 7 + w->id * 1013) % KEYS;
        snprintf(id, sizeof id, "key%d", k);
        dx_call call = {.req = {.op = DX_OP_PUT, .table = "race", .item = item_s(&a, id, "owner", w->id),
                                .condition = "attribute_not_exists(id)"},
                        .arena = &a};
        dx_err e = dx_client_call(w->c, &call);
        if (e == DX_OK) {
            w->ok++;
        } else if (e == DX_ERR_CONDITIONAL) {
            w->conditional++;
        } else {
            w->other++;
        }
        if (j % 256 == 0) dx_arena_reset(&a);
    }
    dx_arena_release(&a);
    return NULL;
}

static void test_concurrent_conditional_puts(void **state) {
    (void)state;
    dx_mem_opts o = {.shards = 8};
    dx_client *c = new_client(&o, 1);
    create(c, "race", "id", DX_T_S, NULL, DX_T_NONE, 0, 0);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.c = c, .id = i};
        pthread_create(&th[i], NULL, conditional_puts, &w[i]);
    }
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].other, 0);
        assert_int_equal(w[i].ok + w[i].conditional, KEYS);
        ok += w[i].ok;
    }
    assert_int_equal(ok, KEYS); /* exactly one insert per key won */
    assert_int_equal(count(c, "race"), KEYS);
    /* Each winner's item says so. */
    dx_arena a = {0};
    int owned[THREADS] = {0};
    for (int k = 0; k < KEYS; k++) {
        char id[32];
        snprintf(id, sizeof id, "key%d", k);
        int64_t owner = num_attr(get_item(c, &a, "race", key_s(&a, id)), "owner");
        assert_true(owner >= 0 && owner < THREADS);
        owned[owner]++;
        if (k % 256 == 0) dx_arena_reset(&a);
    }
    for (int i = 0; i < THREADS; i++) assert_int_equal(owned[i], w[i].ok);
    dx_arena_release(&a);
    dx_client_free(c);
}

enum { COUNTERS = 16, INCS = 4000 };

/* A slot for one call in flight; the callback returns it to the free list. */
typedef struct slot {
    dx_call call;
    struct slot *next;
    struct slot **free;
    int *failed;
} slot;

static void slot_done(dx_call *call) {
    slot *s = call->ud;
    if (call->res.err != DX_OK) (*s->failed)++;
    s->next = *s->free;
    *s->free = s;
}

/* Increments through an engine: many updates in flight per thread. */
static void *counters(void *arg) {
    worker *w = arg;
    dx_engine *e = dx_engine_new(w->c, &(dx_engine_opts){.max_inflight = 32});
    dx_arena a = {0};
    dx_value *one = vals1(&a, ":one", 1);
    dx_value *keys[COUNTERS];
    for (int k = 0; k < COUNTERS; k++) {
        char id[32];
        snprintf(id, sizeof id, "c%d", k);
        keys[k] = key_s(&a, id);
    }
    slot slots[64], *free_list = NULL;
    int failed = 0, next = 0;
    for (int i = 0; i < 64; i++) {
        slots[i] = (slot){.free = &free_list, .failed = &failed, .next = free_list};
        free_list = &slots[i];
    }
    while (next < INCS || dx_engine_pending(e)) {
        while (free_list && next < INCS) {
            slot *sl = free_list;
            free_list = sl->next;
            sl->call = (dx_call){.req = {.op = DX_OP_UPDATE, .table = "ctr",
                                         .key = keys[(next * 5 + w->id) % COUNTERS],
                                         .update = "ADD n :one", .values = one},
                                 .done = slot_done, .ud = sl};
            assert_int_equal(dx_engine_submit(e, &sl->call), DX_OK);
            next++;
        }
        dx_engine_run(e, -1);
    }
    w->other = failed;
    dx_engine_free(e);
    dx_arena_release(&a);
    return NULL;
}

static void test_concurrent_counters(void **state) {
    (void)state;
    dx_client *c = new_client(NULL, 1);
    create(c, "ctr", "id", DX_T_S, NULL, DX_T_NONE, 0, 0);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.c = c, .id = i};
        pthread_create(&th[i], NULL, counters, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].other, 0);
    }
    /* Each thread added 1 to counter (j * 5 + id) % 16 for j < INCS. */
    int64_t want[COUNTERS] = {0};
    for (int i = 0; i < THREADS; i++)
        for (int j = 0; j < INCS; j++) want[(j * 5 + i) % COUNTERS]++;
    dx_arena a = {0};
    int64_t total = 0;
    for (int k = 0; k < COUNTERS; k++) {
        char id[32];
        snprintf(id, sizeof id, "c%d", k);
        int64_t n = num_attr(get_item(c, &a, "ctr", key_s(&a, id)), "n");
        assert_row_int_equal(k, n, want[k]);
        total += n;
    }
    assert_int_equal(total, THREADS * INCS);
    dx_arena_release(&a);
    dx_client_free(c);
}

enum { CAS_ROUNDS = 400 };

/* Compare-and-swap increments of one value: read, then write on condition. */
static void *cas(void *arg) {
    worker *w = arg;
    dx_arena a = {0};
    dx_value *key = key_s(&a, "cas");
    for (int i = 0; i < CAS_ROUNDS;) {
        dx_arena_reset(&a);
        key = key_s(&a, "cas");
        int64_t v = num_attr(get_item(w->c, &a, "casx", key), "v");
        dx_member *m = dx_arena_alloc(&a, 2 * sizeof *m);
        m[0] = (dx_member){":old", 4, {0}};
        m[1] = (dx_member){":new", 4, {0}};
        dx_value_i64(&a, v, &m[0].value);
        dx_value_i64(&a, v + 1, &m[1].value);
        dx_value vals = dx_vmap(m, 2);
        dx_call call = {.req = {.op = DX_OP_UPDATE, .table = "casx", .key = key, .update = "SET v = :new",
                                .condition = "v = :old", .values = &vals},
                        .arena = &a};
        dx_err e = dx_client_call(w->c, &call);
        if (e == DX_OK) {
            i++;
            w->ok++;
        } else if (e == DX_ERR_CONDITIONAL) {
            w->conditional++;
        } else {
            w->other++;
            break;
        }
    }
    dx_arena_release(&a);
    return NULL;
}

static void test_concurrent_cas(void **state) {
    (void)state;
    dx_client *c = new_client(NULL, 1);
    create(c, "casx", "id", DX_T_S, NULL, DX_T_NONE, 0, 0);
    dx_arena a = {0};
    dx_call p = {.req = {.op = DX_OP_PUT, .table = "casx", .item = item_s(&a, "cas", "v", 0)}};
    assert_int_equal(dx_client_call(c, &p), DX_OK);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.c = c, .id = i};
        pthread_create(&th[i], NULL, cas, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].other, 0);
        assert_int_equal(w[i].ok, CAS_ROUNDS);
    }
    assert_int_equal(num_attr(get_item(c, &a, "casx", key_s(&a, "cas")), "v"), THREADS * CAS_ROUNDS);
    dx_arena_release(&a);
    dx_client_free(c);
}

/* Writers on disjoint keys, with deletes, through batches: counts exact. */
static void *batch_churn(void *arg) {
    worker *w = arg;
    dx_arena a = {0};
    char id[32];
    for (int b = 0; b < 80; b++) {
        dx_arena_reset(&a);
        dx_write wr[25];
        for (int i = 0; i < 25; i++) {
            int k = b * 25 + i;
            snprintf(id, sizeof id, "t%d-%d", w->id, k);
            wr[i] = (dx_write){false, item_s(&a, id, "k", k)};
        }
        dx_call call = {.req = {.op = DX_OP_BATCH_WRITE, .table = "churn", .writes = wr, .nwrites = 25},
                        .arena = &a};
        if (dx_client_call(w->c, &call) != DX_OK || call.resp.nunprocessed) w->other++;
        if (b % 2) { /* delete the odd keys of the previous batch */
            dx_write del[12];
            int n = 0;
            for (int i = 1; i < 25; i += 2) {
                snprintf(id, sizeof id, "t%d-%d", w->id, (b - 1) * 25 + i);
                del[n++] = (dx_write){true, key_s(&a, id)};
            }
            dx_call d = {.req = {.op = DX_OP_BATCH_WRITE, .table = "churn", .writes = del, .nwrites = (size_t)n},
                         .arena = &a};
            if (dx_client_call(w->c, &d) != DX_OK) w->other++;
        }
    }
    dx_arena_release(&a);
    return NULL;
}

static void test_concurrent_batches(void **state) {
    (void)state;
    dx_mem_opts o = {.shards = 3}; /* rounded up to 4 */
    dx_client *c = new_client(&o, 1);
    create(c, "churn", "id", DX_T_S, NULL, DX_T_NONE, 0, 0);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.c = c, .id = i};
        pthread_create(&th[i], NULL, batch_churn, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].other, 0);
    }
    /* 80 batches of 25, then 40 rounds deleting 12 each, per thread. */
    assert_int_equal(count(c, "churn"), THREADS * (80 * 25 - 40 * 12));
    dx_client_free(c);
}

/* ---------------------------------------------------------------- simulated capacity */

static char *dump(dx_client *c, const char *table, size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    assert_non_null(f);
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_mem_dump(c, table, f, &r), DX_OK);
    fclose(f);
    return buf;
}


static void test_capacity_single(void **state) {
    (void)state;
    dx_mem_opts o = {.simulate_capacity = true, .burst_ms = 1000};
    dx_client *c = new_client(&o, 1); /* no retries: see every throttle */
    create(c, "prov", "id", DX_T_S, NULL, DX_T_NONE, 2, 5);
    create(c, "ondemand", "id", DX_T_S, NULL, DX_T_NONE, 0, 0);
    dx_arena a = {0};
    char id[32];

    /* Reads first, on a full bucket: 2 units pay four eventually consistent reads. */
    int ok = 0;
    for (int i = 0; i < 5; i++) {
        dx_call g = {.req = {.op = DX_OP_GET, .table = "prov", .key = key_s(&a, "k1")}, .arena = &a};
        dx_err e = dx_client_call(c, &g);
        assert_row_true(i, e == DX_OK || e == DX_ERR_THROUGHPUT);
        if (e == DX_OK) ok++;
    }
    assert_int_equal(ok, 4);

    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "k%d", i);
        dx_call p = {.req = {.op = DX_OP_PUT, .table = "prov", .item = item_s(&a, id, "n", i)}};
        assert_row_int_equal(i, dx_client_call(c, &p), DX_OK);
    }
    dx_call p = {.req = {.op = DX_OP_PUT, .table = "prov", .item = item_s(&a, "k5", "n", 5)}};
    assert_int_equal(dx_client_call(c, &p), DX_ERR_THROUGHPUT);
    assert_string_equal(p.res.type, "ProvisionedThroughputExceededException");
    assert_int_equal(p.res.http_status, 400);
    assert_non_null(strstr(p.res.message, "provisioned throughput for the table was exceeded"));
    assert_int_equal(count(c, "prov"), 5);
    sleep_ms(450); /* 5 units/s: two more writes */
    for (int i = 0; i < 2; i++) {
        dx_call q = {.req = {.op = DX_OP_PUT, .table = "prov", .item = item_s(&a, "k5", "n", 5)}};
        assert_row_int_equal(i, dx_client_call(c, &q), DX_OK);
    }

    /* On-demand tables are never throttled. */
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "k%d", i);
        dx_call q = {.req = {.op = DX_OP_PUT, .table = "ondemand", .item = item_s(&a, id, "n", i)}};
        assert_row_int_equal(i, dx_client_call(c, &q), DX_OK);
    }

    /* The engine's retries ride out throttling. */
    dx_client *c2 = new_client(&o, 20);
    create(c2, "prov", "id", DX_T_S, NULL, DX_T_NONE, 1, 50);
    for (int i = 0; i < 60; i++) {
        snprintf(id, sizeof id, "k%d", i);
        dx_call q = {.req = {.op = DX_OP_PUT, .table = "prov", .item = item_s(&a, id, "n", i)}};
        assert_row_int_equal(i, dx_client_call(c2, &q), DX_OK);
    }
    dx_client_stats st;
    dx_client_stats_get(c2, &st);
    assert_true(st.throttles > 0);
    assert_int_equal(count(c2, "prov"), 60);
    dx_client_free(c2);
    dx_arena_release(&a);
    dx_client_free(c);
}

static void test_capacity_batches(void **state) {
    (void)state;
    dx_mem_opts o = {.simulate_capacity = true};
    dx_client *c = new_client(&o, 1);
    create(c, "bprov", "id", DX_T_S, NULL, DX_T_NONE, 2, 10);
    dx_arena a = {0};
    dx_write w[25];
    char id[32];
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof id, "k%02d", i);
        w[i] = (dx_write){false, item_s(&a, id, "n", i)};
    }
    dx_call b = {.req = {.op = DX_OP_BATCH_WRITE, .table = "bprov", .writes = w, .nwrites = 25}, .arena = &a};
    assert_int_equal(dx_client_call(c, &b), DX_ERR_THROUGHPUT);
    assert_int_equal(b.resp.nunprocessed, 15);
    for (size_t i = 0; i < b.resp.nunprocessed; i++) assert_row_int_equal(i, b.resp.unprocessed[i], 10 + i);
    assert_true(b.resp.consumed == 10.0);
    assert_int_equal(count(c, "bprov"), 10);
    size_t dlen;
    char *d = dump(c, "bprov", &dlen);
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof id, "\"k%02d\"", i);
        assert_row_true(i, (strstr(d, id) != NULL) == (i < 10));
    }
    free(d);
    /* Nothing left in the bucket: the whole batch comes back. */
    dx_call b2 = {.req = {.op = DX_OP_BATCH_WRITE, .table = "bprov", .writes = w + 10, .nwrites = 15}, .arena = &a};
    assert_int_equal(dx_client_call(c, &b2), DX_ERR_THROUGHPUT);
    assert_string_equal(b2.res.type, "ProvisionedThroughputExceededException");
    assert_int_equal(b2.resp.nunprocessed, 15);

    /* Batch get on a full read bucket of 2 units. */
    dx_value keys[6];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "k%02d", i);
        keys[i] = *key_s(&a, id);
    }
    dx_call g = {.req = {.op = DX_OP_BATCH_GET, .table = "bprov", .keys = keys, .nkeys = 6}, .arena = &a};
    assert_int_equal(dx_client_call(c, &g), DX_ERR_THROUGHPUT);
    assert_int_equal(g.resp.nitems + g.resp.nunprocessed, 6);
    assert_int_equal(g.resp.nitems, 4); /* a full bucket of 2 units pays four 0.5s */
    dx_arena_release(&a);
    dx_client_free(c);

    /* With retries, a batch larger than the burst completes. */
    dx_mem_opts o2 = {.simulate_capacity = true, .burst_ms = 100};
    dx_client *c2 = new_client(&o2, 50);
    create(c2, "bprov", "id", DX_T_S, NULL, DX_T_NONE, 1, 100); /* 10 per 100 ms */
    dx_arena a2 = {0};
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof id, "k%02d", i);
        w[i] = (dx_write){false, item_s(&a2, id, "n", i)};
    }
    dx_call b3 = {.req = {.op = DX_OP_BATCH_WRITE, .table = "bprov", .writes = w, .nwrites = 25}, .arena = &a2};
    assert_int_equal(dx_client_call(c2, &b3), DX_OK);
    assert_int_equal(b3.resp.nunprocessed, 0);
    assert_true(b3.throttles > 0);
    assert_true(b3.resp.consumed == 25.0);
    assert_int_equal(count(c2, "bprov"), 25);
    dx_arena_release(&a2);
    dx_client_free(c2);
}

/* ---------------------------------------------------------------- dump */

static void fill_dump_table(dx_client *c, bool reverse) {
    static const char *const sks[] = {"10", "2", "-1", "1.5", "100"};
    static const char *const pks[] = {"b", "a", "c"};
    for (int n = 0; n < 15; n++) {
        int i = reverse ? 14 - n : n;
        const char *pk = pks[i / 5], *sk = sks[i % 5];
        /* Attributes in a different order each time. */
        dx_member m[4] = {{"pk", 2, dx_vs(pk)}, {"sk", 2, dx_vn(sk)}, {"zeta", 4, dx_vbool(true)},
                          {"alpha", 5, dx_vs("x")}};
        if (reverse) {
            dx_member t = m[0];
            m[0] = m[3];
            m[3] = t;
        }
        dx_value item = dx_vmap(m, 4);
        dx_call p = {.req = {.op = DX_OP_PUT, .table = "dump", .item = &item}};
        assert_int_equal(dx_client_call(c, &p), DX_OK);
    }
}

static void test_dump(void **state) {
    (void)state;
    dx_mem_opts o1 = {.shards = 1}, o2 = {.shards = 256};
    dx_client *c1 = new_client(&o1, 0), *c2 = new_client(&o2, 0);
    create(c1, "dump", "pk", DX_T_S, "sk", DX_T_N, 0, 0);
    create(c2, "dump", "pk", DX_T_S, "sk", DX_T_N, 0, 0);
    fill_dump_table(c1, false);
    fill_dump_table(c2, true);
    size_t n1, n2;
    char *d1 = dump(c1, "dump", &n1), *d2 = dump(c2, "dump", &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(d1, d2, n1);
    /* Sorted by partition key, then numerically by sort key; attributes by name. */
    static const char *const order[] = {"-1", "1.5", "2", "10", "100"};
    char *line = d1;
    for (int i = 0; i < 15; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        char want[160];
        snprintf(want, sizeof want,
                 "{\"alpha\":{\"S\":\"x\"},\"pk\":{\"S\":\"%c\"},\"sk\":{\"N\":\"%s\"},\"zeta\":{\"BOOL\":true}}",
                 "abc"[i / 5], order[i % 5]);
        assert_row_string_equal(i, line, want);
        line = nl + 1;
    }
    assert_int_equal(*line, 0);
    free(d1);
    free(d2);
    dx_client_free(c1);
    dx_client_free(c2);
}

/* An item {pk: S pk, sk: N sk} in arena a. */
static dx_value *item_ps(dx_arena *a, const char *pk, int64_t sk) {
    dx_member *m = dx_arena_alloc(a, 2 * sizeof *m);
    dx_value *v = dx_arena_alloc(a, sizeof *v);
    assert_non_null(m);
    assert_non_null(v);
    m[0] = (dx_member){"pk", 2, dx_vs(dx_arena_strdup(a, pk))};
    m[1] = (dx_member){"sk", 2, {0}};
    assert_int_equal(dx_value_i64(a, sk, &m[1].value), DX_OK);
    *v = dx_vmap(m, 2);
    return v;
}

/* {pk: S pk, sk: N sk, blob: B of 20000 bytes}: 20 write units. */
static dx_value *big_item(dx_arena *a, const char *pk, int64_t sk) {
    dx_value *v = item_ps(a, pk, sk);
    dx_member *m = dx_arena_alloc(a, 3 * sizeof *m);
    char *blob = dx_arena_calloc(a, 20000);
    assert_non_null(m);
    assert_non_null(blob);
    memcpy(m, v->u.members, 2 * sizeof *m);
    m[2] = (dx_member){"blob", 4, {.type = DX_T_B, .n = 20000, .u.s = blob}};
    *v = dx_vmap(m, 3);
    return v;
}

/* Puts to partition pk until the first throttle (at most max); returns how many were written. */
static int puts_until_throttled(dx_client *c, dx_arena *a, const char *pk, int from, int max,
                                dx_result *first) {
    for (int i = 0; i < max; i++) {
        dx_call p = {.req = {.op = DX_OP_PUT, .table = "hot", .item = item_ps(a, pk, from + i)}};
        dx_err e = dx_client_call(c, &p);
        if (e == DX_ERR_THROUGHPUT) {
            *first = p.res;
            return i;
        }
        assert_row_int_equal(i, e, DX_OK);
    }
    return max;
}

/*
 * DynamoDB's per-partition limits: 1000 write and 3000 read units a second
 * for one partition key, on any table. With burst_ms = 100 a partition
 * saves up 100 write and 300 read units.
 */
static void test_hot_partition(void **state) {
    (void)state;
    dx_mem_opts o = {.simulate_capacity = true, .burst_ms = 100};
    dx_client *c = new_client(&o, 1); /* no retries: see every throttle */
    create(c, "hot", "pk", DX_T_S, "sk", DX_T_N, 0, 0); /* on demand: no table limit */
    dx_arena a = {0};
    dx_result first;

    /* Writes: the burst, plus what refills while the loop runs, then a throttle. */
    uint64_t t0 = dx_now_ns();
    int ok = puts_until_throttled(c, &a, "w", 0, 1000, &first);
    double ms = (double)(dx_now_ns() - t0) / 1e6;
    if (ok < 100 || ok > 100 + ms + 2) print_error("%d writes before the throttle, in %.1f ms\n", ok, ms);
    assert_true(ok >= 100 && ok <= 100 + ms + 2);
    assert_int_equal(first.err, DX_ERR_THROUGHPUT);
    assert_string_equal(first.reason, "TableWriteKeyRangeThroughputExceeded");
    assert_string_equal(first.type, "ProvisionedThroughputExceededException");
    assert_int_equal(first.http_status, 400);
    assert_non_null(strstr(first.message, "key range"));
    assert_int_equal(count(c, "hot"), ok);
    /* Other partition keys are not affected. */
    assert_int_equal(puts_until_throttled(c, &a, "cold", 0, 50, &first), 50);

    /*
     * A batch to the hot key alone is throttled as a whole; mixed, the hot
     * entries come back. Its entries cost 20 units each, so the partition,
     * just throttled (less than 1 unit left), stays hot for 20 ms whatever
     * the machine's speed.
     */
    dx_write ws[4];
    for (int i = 0; i < 4; i++) ws[i] = (dx_write){false, big_item(&a, "w", 5000 + i)};
    assert_true(puts_until_throttled(c, &a, "w", 2000, 1000, &first) < 1000);
    dx_call b = {.req = {.op = DX_OP_BATCH_WRITE, .table = "hot", .writes = ws, .nwrites = 4}, .arena = &a};
    assert_int_equal(dx_client_call(c, &b), DX_ERR_THROUGHPUT);
    assert_string_equal(b.res.reason, "TableWriteKeyRangeThroughputExceeded");
    ws[1].item = item_ps(&a, "other", 1);
    ws[3].item = item_ps(&a, "other", 3);
    uint64_t before = count(c, "hot");
    dx_call b2 = {.req = {.op = DX_OP_BATCH_WRITE, .table = "hot", .writes = ws, .nwrites = 4}, .arena = &a};
    dx_client_call(c, &b2); /* one attempt: the hot entries are handed back */
    assert_int_equal(count(c, "hot"), before + 2); /* the two "other" entries */
    assert_int_equal(b2.resp.nunprocessed, 2);
    assert_int_equal(b2.resp.unprocessed[0], 0);
    assert_int_equal(b2.resp.unprocessed[1], 2);

    /* Reads: 300 units of burst; small consistent reads cost one each. */
    t0 = dx_now_ns();
    int reads = 0;
    dx_call g;
    for (; reads < 3000; reads++) {
        g = (dx_call){.req = {.op = DX_OP_GET, .table = "hot", .key = item_ps(&a, "cold", 1), .consistent = true},
                      .arena = &a};
        if (dx_client_call(c, &g) != DX_OK) break;
        assert_non_null(g.resp.item);
    }
    ms = (double)(dx_now_ns() - t0) / 1e6;
    if (reads < 300 || reads > 300 + 3 * ms + 3) print_error("%d reads before the throttle, in %.1f ms\n", reads, ms);
    assert_true(reads >= 300 && reads <= 300 + 3 * ms + 3);
    assert_int_equal(g.res.err, DX_ERR_THROUGHPUT);
    assert_string_equal(g.res.reason, "TableReadKeyRangeThroughputExceeded");
    /* Queries pay by the bytes they read: 4 items of 20 KB are 20 units a time. */
    for (int i = 0; i < 4; i++) {
        dx_call p = {.req = {.op = DX_OP_PUT, .table = "hot", .item = big_item(&a, "big", i)}};
        assert_row_int_equal(i, dx_client_call(c, &p), DX_OK);
    }
    dx_member vm[1] = {{":p", 2, dx_vs("big")}};
    dx_value vals = dx_vmap(vm, 1);
    int queries = 0;
    dx_call q;
    for (; queries < 50; queries++) {
        q = (dx_call){.req = {.op = DX_OP_QUERY, .table = "hot", .key_condition = "pk = :p",
                              .values = &vals, .consistent = true},
                      .arena = &a};
        if (dx_client_call(c, &q) != DX_OK) break;
        assert_int_equal(q.resp.nitems, 4);
        assert_true(q.resp.consumed >= 20);
    }
    assert_true(queries >= 10 && queries < 50);
    assert_int_equal(q.res.err, DX_ERR_THROUGHPUT);
    assert_string_equal(q.res.reason, "TableReadKeyRangeThroughputExceeded");
    /* Writes to that partition still go: reads and writes are separate buckets. */
    assert_int_equal(puts_until_throttled(c, &a, "cold", 100, 10, &first), 10);

    /* A partition left alone for the burst window has its burst back. */
    sleep_ms(150);
    assert_true(puts_until_throttled(c, &a, "w", 10000, 100, &first) == 100);
    dx_arena_release(&a);
    dx_client_free(c);

    /* Without simulated capacity nothing is limited. */
    c = new_client(NULL, 1);
    create(c, "hot", "pk", DX_T_S, "sk", DX_T_N, 0, 0);
    assert_int_equal(puts_until_throttled(c, &a, "w", 0, 3000, &first), 3000);
    dx_arena_release(&a);
    dx_client_free(c);
}

/* ---------------------------------------------------------------- big partitions, paging */

enum { PART = 6000 };

static void test_big_partition(void **state) {
    (void)state;
    dx_mem_opts o = {.shards = 1};
    dx_client *c = new_client(&o, 0);
    create(c, "part", "pk", DX_T_S, "sk", DX_T_N, 0, 0);
    dx_arena a = {0};
    /* Insert 0..PART-1 in a scrambled order (7919 is prime, coprime to PART). */
    for (int j = 0; j < PART; j++) {
        int k = (int)(((long)j * 7919) % PART);
        dx_member m[2] = {{"pk", 2, dx_vs("p")}, {"sk", 2, {0}}};
        assert_int_equal(dx_value_i64(&a, k, &m[1].value), DX_OK);
        dx_value item = dx_vmap(m, 2);
        dx_call p = {.req = {.op = DX_OP_PUT, .table = "part", .item = &item}};
        assert_int_equal(dx_client_call(c, &p), DX_OK);
    }
    /* Delete every odd one, again scrambled. */
    for (int j = 0; j < PART; j++) {
        int k = (int)(((long)j * 7919) % PART);
        if (k % 2 == 0) continue;
        dx_member m[2] = {{"pk", 2, dx_vs("p")}, {"sk", 2, {0}}};
        assert_int_equal(dx_value_i64(&a, k, &m[1].value), DX_OK);
        dx_value key = dx_vmap(m, 2);
        dx_call d = {.req = {.op = DX_OP_DELETE, .table = "part", .key = &key}};
        assert_int_equal(dx_client_call(c, &d), DX_OK);
    }
    assert_int_equal(count(c, "part"), PART / 2);
    dx_arena_reset(&a);
    dx_member vm[1] = {{":p", 2, dx_vs("p")}};
    dx_value vals = dx_vmap(vm, 1);
    for (int back = 0; back < 2; back++) {
        const dx_value *start = NULL;
        int64_t expect = back ? PART - 2 : 0;
        size_t seen = 0;
        dx_arena pa = {0};
        do {
            dx_call q = {.req = {.op = DX_OP_QUERY, .table = "part", .key_condition = "pk = :p",
                                 .values = &vals, .limit = 97, .start_key = start, .backward = back},
                         .arena = &pa};
            assert_int_equal(dx_client_call(c, &q), DX_OK);
            for (size_t i = 0; i < q.resp.nitems; i++) {
                assert_row_int_equal(seen, num_attr(&q.resp.items[i], "sk"), expect);
                expect += back ? -2 : 2;
                seen++;
            }
            start = q.resp.last_key;
        } while (start);
        assert_int_equal(seen, PART / 2);
        dx_arena_release(&pa);
    }
    dx_arena_release(&a);
    dx_client_free(c);
}

/* Scan pages while the table changes: items that stay are seen exactly once. */
static void test_scan_paging_under_writes(void **state) {
    (void)state;
    dx_client *c = new_client(NULL, 0);
    create(c, "scanw", "id", DX_T_S, NULL, DX_T_NONE, 0, 0);
    dx_arena a = {0};
    enum { N = 3000 };
    char id[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "k%d", i);
        dx_call p = {.req = {.op = DX_OP_PUT, .table = "scanw", .item = item_s(&a, id, "i", i)}};
        assert_int_equal(dx_client_call(c, &p), DX_OK);
    }
    static int seen[N + 2000];
    memset(seen, 0, sizeof seen);
    const dx_value *start = NULL;
    int pages = 0, added = 0;
    dx_arena pa = {0};
    do {
        dx_call s = {.req = {.op = DX_OP_SCAN, .table = "scanw", .limit = 50, .start_key = start}, .arena = &pa};
        assert_int_equal(dx_client_call(c, &s), DX_OK);
        for (size_t i = 0; i < s.resp.nitems; i++) seen[num_attr(&s.resp.items[i], "i")]++;
        start = s.resp.last_key;
        /* Between pages: add new items, delete items in the upper thousand. */
        for (int j = 0; j < 20 && added < 2000; j++, added++) {
            snprintf(id, sizeof id, "new%d", added);
            dx_call p = {.req = {.op = DX_OP_PUT, .table = "scanw", .item = item_s(&a, id, "i", N + added)}};
            assert_int_equal(dx_client_call(c, &p), DX_OK);
        }
        snprintf(id, sizeof id, "k%d", 2000 + pages % 1000);
        dx_call d = {.req = {.op = DX_OP_DELETE, .table = "scanw", .key = key_s(&a, id)}};
        assert_int_equal(dx_client_call(c, &d), DX_OK);
        pages++;
        if (pages % 50 == 0) dx_arena_reset(&a);
    } while (start);
    for (int i = 0; i < 2000; i++) assert_row_int_equal(i, seen[i], 1);
    for (int i = 2000; i < N + 2000; i++) assert_row_true(i, seen[i] <= 1);
    dx_arena_release(&pa);
    dx_arena_release(&a);
    dx_client_free(c);
}

/* ---------------------------------------------------------------- lazy order against a model */

enum { LZ_PARTS = 12, LZ_SORTS = 150, LZ_OPS = 30000, LZ_BIG = 3000 };

typedef struct lz_state {
    dx_client *c;
    dx_arena a;
    int ver[LZ_PARTS][LZ_SORTS]; /* 0: absent, else the version stored */
    bool big[LZ_PARTS][LZ_SORTS];
    char *filler;                /* LZ_BIG bytes: items that need a block of their own */
    uint64_t rng;
} lz_state;

static unsigned lz_rand(lz_state *z, unsigned n) {
    z->rng ^= z->rng << 13;
    z->rng ^= z->rng >> 7;
    z->rng ^= z->rng << 17;
    return (unsigned)(z->rng % n);
}

/* Sort keys are numbers, sometimes spelled non-canonically: "7" is "7.0" is "70e-1". */
static void lz_key(lz_state *z, int p, int k, dx_member *m) {
    char pk[8], sk[24];
    snprintf(pk, sizeof pk, "p%d", p);
    switch (lz_rand(z, 3)) {
    case 0: snprintf(sk, sizeof sk, "%d", k); break;
    case 1: snprintf(sk, sizeof sk, "%d.0", k); break;
    default: snprintf(sk, sizeof sk, "%de-1", k * 10); break;
    }
    m[0] = (dx_member){"pk", 2, dx_vs(dx_arena_strdup(&z->a, pk))};
    m[1] = (dx_member){"sk", 2, dx_vn(dx_arena_strdup(&z->a, sk))};
}

static int64_t lz_version(const dx_value *item) { return item ? num_attr(item, "v") : 0; }

static void lz_check_item(lz_state *z, int p, int k, const dx_value *item) {
    if (!z->ver[p][k]) {
        assert_null(item);
        return;
    }
    assert_non_null(item);
    assert_int_equal(lz_version(item), z->ver[p][k]);
    char want[8];
    snprintf(want, sizeof want, "p%d", p);
    assert_string_equal(dx_map_get(item, "pk")->u.s, want);
    assert_int_equal(num_attr(item, "sk"), k);
    const dx_value *f = dx_map_get(item, "filler");
    assert_int_equal(f != NULL, z->big[p][k]);
    if (f) assert_int_equal(f->n, LZ_BIG);
    assert_true(item->u.members[0].name[0] == 'a'); /* stored with members sorted */
}

static void lz_put(lz_state *z, int p, int k) {
    dx_member m[5];
    lz_key(z, p, k, m);
    int v = z->ver[p][k] + 1 + (int)lz_rand(z, 5);
    bool big = lz_rand(z, 8) == 0;
    m[2] = (dx_member){"v", 1, {0}};
    assert_int_equal(dx_value_i64(&z->a, v, &m[2].value), DX_OK);
    m[3] = (dx_member){"attr", 4, dx_vs("x")};
    m[4] = (dx_member){"filler", 6, dx_vsn(z->filler, LZ_BIG)};
    dx_value item = dx_vmap(m, big ? 5 : 4);
    bool cond = lz_rand(z, 4) == 0;
    dx_call call = {.req = {.op = DX_OP_PUT, .table = "lazy", .item = &item, .ret = DX_RET_ALL_OLD,
                            .condition = cond ? "attribute_not_exists(pk)" : NULL},
                    .arena = &z->a};
    dx_client_call(z->c, &call);
    if (cond && z->ver[p][k]) {
        assert_int_equal(call.res.err, DX_ERR_CONDITIONAL);
        return;
    }
    assert_int_equal(call.res.err, DX_OK);
    lz_check_item(z, p, k, call.resp.item); /* the old item */
    z->ver[p][k] = v;
    z->big[p][k] = big;
}

static void lz_delete(lz_state *z, int p, int k) {
    dx_member m[2];
    lz_key(z, p, k, m);
    dx_value key = dx_vmap(m, 2);
    dx_call call = {.req = {.op = DX_OP_DELETE, .table = "lazy", .key = &key, .ret = DX_RET_ALL_OLD},
                    .arena = &z->a};
    assert_int_equal(dx_client_call(z->c, &call), DX_OK);
    lz_check_item(z, p, k, call.resp.item);
    z->ver[p][k] = 0;
    z->big[p][k] = false;
}

static void lz_update(lz_state *z, int p, int k) {
    dx_member m[2];
    lz_key(z, p, k, m);
    dx_value key = dx_vmap(m, 2);
    dx_member vm[1] = {{":one", 4, dx_vn("1")}};
    dx_value vals = dx_vmap(vm, 1);
    dx_call call = {.req = {.op = DX_OP_UPDATE, .table = "lazy", .key = &key, .values = &vals,
                            .update = "SET v = if_not_exists(v, :one) + :one, attr = :one",
                            .ret = DX_RET_ALL_NEW},
                    .arena = &z->a};
    assert_int_equal(dx_client_call(z->c, &call), DX_OK);
    z->ver[p][k] = z->ver[p][k] ? z->ver[p][k] + 1 : 2;
    if (z->ver[p][k] == 2 && !dx_map_get(call.resp.item, "filler")) z->big[p][k] = false;
    assert_int_equal(lz_version(call.resp.item), z->ver[p][k]);
}

static void lz_query(lz_state *z, int p, bool back) {
    char pk[8];
    snprintf(pk, sizeof pk, "p%d", p);
    dx_member vm[1] = {{":p", 2, dx_vs(pk)}};
    dx_value vals = dx_vmap(vm, 1);
    const dx_value *start = NULL;
    int k = back ? LZ_SORTS - 1 : 0;
    dx_arena qa = {0};
    do {
        dx_call q = {.req = {.op = DX_OP_QUERY, .table = "lazy", .key_condition = "pk = :p",
                             .values = &vals, .limit = 1 + lz_rand(z, 40), .start_key = start,
                             .backward = back},
                     .arena = &qa};
        assert_int_equal(dx_client_call(z->c, &q), DX_OK);
        for (size_t i = 0; i < q.resp.nitems; i++) {
            while (k >= 0 && k < LZ_SORTS && !z->ver[p][k]) k += back ? -1 : 1;
            assert_true(k >= 0 && k < LZ_SORTS);
            lz_check_item(z, p, k, &q.resp.items[i]);
            k += back ? -1 : 1;
        }
        start = q.resp.last_key;
    } while (start);
    while (k >= 0 && k < LZ_SORTS) assert_int_equal(z->ver[p][k], 0), k += back ? -1 : 1;
    dx_arena_release(&qa);
}

static void lz_scan(lz_state *z) {
    static int seen[LZ_PARTS][LZ_SORTS];
    memset(seen, 0, sizeof seen);
    const dx_value *start = NULL;
    dx_arena sa = {0};
    do {
        dx_call q = {.req = {.op = DX_OP_SCAN, .table = "lazy", .limit = 1 + lz_rand(z, 300),
                             .start_key = start},
                     .arena = &sa};
        assert_int_equal(dx_client_call(z->c, &q), DX_OK);
        for (size_t i = 0; i < q.resp.nitems; i++) {
            int p = atoi(dx_map_get(&q.resp.items[i], "pk")->u.s + 1);
            int k = (int)num_attr(&q.resp.items[i], "sk");
            lz_check_item(z, p, k, &q.resp.items[i]);
            seen[p][k]++;
        }
        start = q.resp.last_key;
    } while (start);
    uint64_t n = 0;
    for (int p = 0; p < LZ_PARTS; p++)
        for (int k = 0; k < LZ_SORTS; k++) {
            assert_int_equal(seen[p][k], z->ver[p][k] ? 1 : 0);
            n += z->ver[p][k] != 0;
        }
    assert_int_equal(count(z->c, "lazy"), n);
    dx_arena_release(&sa);
}

/*
 * Random puts (new and replacing, some conditional, some too big for the
 * slabs), deletes, updates and gets, with Queries and Scans now and then so
 * that the pending entries are settled at every stage (none, a few, many,
 * all), checked against a plain array. Few shards: they hold many entries.
 */
static void test_lazy_index(void **state) {
    (void)state;
    static lz_state z;
    memset(&z, 0, sizeof z);
    z.rng = 0x9e3779b97f4a7c15ull;
    z.filler = malloc(LZ_BIG);
    assert_non_null(z.filler);
    memset(z.filler, 'f', LZ_BIG);
    dx_mem_opts o = {.shards = 4};
    z.c = new_client(&o, 0);
    create(z.c, "lazy", "pk", DX_T_S, "sk", DX_T_N, 0, 0);
    for (int op = 0; op < LZ_OPS; op++) {
        int p = (int)lz_rand(&z, LZ_PARTS), k = (int)lz_rand(&z, LZ_SORTS);
        unsigned what = lz_rand(&z, 100);
        /* Phases: a bulk load first (nothing read), then everything mixed. */
        if (op < LZ_OPS / 3 || what < 40) {
            lz_put(&z, p, k);
        } else if (what < 55) {
            lz_delete(&z, p, k);
        } else if (what < 65) {
            lz_update(&z, p, k);
        } else if (what < 97) {
            dx_member m[2];
            lz_key(&z, p, k, m);
            dx_value key = dx_vmap(m, 2);
            lz_check_item(&z, p, k, get_item(z.c, &z.a, "lazy", &key));
        } else if (what < 99) {
            lz_query(&z, p, what & 1);
        } else {
            lz_scan(&z);
        }
        if (op % 512 == 0) dx_arena_reset(&z.a);
    }
    lz_scan(&z);
    for (int p = 0; p < LZ_PARTS; p++) lz_query(&z, p, p & 1);
    /* Empty the table (its shards let their memory go), then fill it again. */
    for (int p = 0; p < LZ_PARTS; p++)
        for (int k = 0; k < LZ_SORTS; k++) {
            if (z.ver[p][k]) lz_delete(&z, p, k);
            if (k % 64 == 0) dx_arena_reset(&z.a);
        }
    assert_int_equal(count(z.c, "lazy"), 0);
    for (int i = 0; i < 500; i++) {
        lz_put(&z, (int)lz_rand(&z, LZ_PARTS), (int)lz_rand(&z, LZ_SORTS));
        if (i % 64 == 0) dx_arena_reset(&z.a);
    }
    lz_scan(&z);
    dx_arena_release(&z.a);
    dx_client_free(z.c); /* frees a table still holding items, big ones included */
    free(z.filler);
}

/* An engine that has a table cached sees a deleted and re-created table. */
static void test_table_cache(void **state) {
    (void)state;
    dx_client *c = new_client(NULL, 0);
    create(c, "cache", "id", DX_T_S, NULL, DX_T_NONE, 0, 0);
    dx_engine *e = dx_engine_new(c, NULL);
    assert_non_null(e);
    dx_arena a = {0};
    dx_call p = {.req = {.op = DX_OP_PUT, .table = "cache", .item = item_s(&a, "x", "n", 1)}};
    assert_int_equal(dx_engine_submit(e, &p), DX_OK);
    dx_engine_drain(e);
    assert_int_equal(p.res.err, DX_OK);
    dx_result r;
    assert_int_equal(dx_delete_table(c, "cache", &r), DX_OK);
    dx_call g = {.req = {.op = DX_OP_GET, .table = "cache", .key = key_s(&a, "x")}, .arena = &a};
    assert_int_equal(dx_engine_submit(e, &g), DX_OK);
    dx_engine_drain(e);
    assert_int_equal(g.res.err, DX_ERR_RESOURCE_NOT_FOUND);
    create(c, "cache", "id", DX_T_S, NULL, DX_T_NONE, 0, 0);
    dx_call g2 = {.req = {.op = DX_OP_GET, .table = "cache", .key = key_s(&a, "x")}, .arena = &a};
    assert_int_equal(dx_engine_submit(e, &g2), DX_OK);
    dx_engine_drain(e);
    assert_int_equal(g2.res.err, DX_OK);
    assert_null(g2.resp.item);
    /* Several tables in turn through one engine. */
    char name[32];
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "multi%d", i);
        create(c, name, "id", DX_T_S, NULL, DX_T_NONE, 0, 0);
    }
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 6; i++) {
            snprintf(name, sizeof name, "multi%d", i);
            char id[32];
            snprintf(id, sizeof id, "r%d", round);
            dx_call q = {.req = {.op = DX_OP_PUT, .table = dx_arena_strdup(&a, name), .item = item_s(&a, id, "n", i)}};
            assert_int_equal(dx_engine_submit(e, &q), DX_OK);
            dx_engine_drain(e);
            assert_int_equal(q.res.err, DX_OK);
        }
    }
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "multi%d", i);
        assert_int_equal(count(c, name), 3);
    }
    dx_engine_free(e);
    dx_arena_release(&a);
    dx_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_name),
        cmocka_unit_test(test_segment_without_total),
        cmocka_unit_test(test_count_and_describe),
        cmocka_unit_test(test_concurrent_conditional_puts),
        cmocka_unit_test(test_concurrent_counters),
        cmocka_unit_test(test_concurrent_cas),
        cmocka_unit_test(test_concurrent_batches),
        cmocka_unit_test(test_capacity_single),
        cmocka_unit_test(test_capacity_batches),
        cmocka_unit_test(test_hot_partition),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_big_partition),
        cmocka_unit_test(test_scan_paging_under_writes),
        cmocka_unit_test(test_table_cache),
        cmocka_unit_test(test_lazy_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
