/*
 * test_queue.c - the bounded queue: FIFO order, bounds, blocking and
 * backpressure between threads, close semantics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "dynox/util.h"
#include "queue.h"
#include "testutil.h"

static void test_fifo_and_bounds(void **state) {
    (void)state;
    dxj_queue *q = dxj_queue_new(3);
    assert_non_null(q);
    int v[5];
    for (int i = 0; i < 3; i++) assert_true(dxj_queue_try_push(q, &v[i]));
    assert_false(dxj_queue_try_push(q, &v[3])); /* full */
    assert_int_equal(dxj_queue_len(q), 3);
    assert_ptr_equal(dxj_queue_try_pop(q), &v[0]);
    assert_true(dxj_queue_try_push(q, &v[3])); /* wraps around */
    assert_ptr_equal(dxj_queue_pop(q), &v[1]);
    assert_ptr_equal(dxj_queue_pop(q), &v[2]);
    assert_ptr_equal(dxj_queue_pop(q), &v[3]);
    assert_null(dxj_queue_try_pop(q));
    assert_int_equal(dxj_queue_len(q), 0);
    dxj_queue_free(q);
}

static void test_close(void **state) {
    (void)state;
    dxj_queue *q = dxj_queue_new(4);
    int a, b;
    assert_true(dxj_queue_push(q, &a));
    assert_true(dxj_queue_push(q, &b));
    dxj_queue_close(q);
    dxj_queue_close(q); /* idempotent */
    assert_true(dxj_queue_closed(q));
    assert_false(dxj_queue_push(q, &a)); /* refused, not dropped silently */
    assert_false(dxj_queue_try_push(q, &a));
    assert_ptr_equal(dxj_queue_pop(q), &a); /* drains what is left */
    assert_ptr_equal(dxj_queue_pop(q), &b);
    assert_null(dxj_queue_pop(q));
    assert_null(dxj_queue_pop_timed(q, 1000)); /* closed: returns at once */
    dxj_queue_free(q);
}

static void test_pop_timed(void **state) {
    (void)state;
    dxj_queue *q = dxj_queue_new(1);
    uint64_t t0 = dx_now_ms();
    assert_null(dxj_queue_pop_timed(q, 50));
    uint64_t dt = dx_now_ms() - t0;
    assert_true(dt >= 45 && dt < 2000);
    dxj_queue_free(q);
}

#define N_ITEMS 20000
#define N_PRODUCERS 3
#define N_CONSUMERS 3

typedef struct shared {
    dxj_queue *q;
    atomic_int max_len;
    atomic_long sum;
    atomic_int count;
} shared;

typedef struct item {
    int producer, seq;
} item;

static item items[N_ITEMS];

typedef struct pargs {
    shared *s;
    int id;
} pargs;

static void *producer(void *arg) {
    pargs *p = arg;
    for (int i = p->id; i < N_ITEMS; i += N_PRODUCERS) {
        items[i].producer = p->id;
        items[i].seq = i / N_PRODUCERS;
        assert_true(dxj_queue_push(p->s->q, &items[i]));
        int len = (int)dxj_queue_len(p->s->q);
        int m = atomic_load(&p->s->max_len);
        while (len > m && !atomic_compare_exchange_weak(&p->s->max_len, &m, len)) {
        }
    }
    return NULL;
}

typedef struct cargs {
    shared *s;
    int last[N_PRODUCERS];
    bool ordered;
} cargs;

static void *consumer(void *arg) {
    cargs *c = arg;
    for (int i = 0; i < N_PRODUCERS; i++) c->last[i] = -1;
    c->ordered = true;
    item *it;
    while ((it = dxj_queue_pop(c->s->q)) != NULL) {
        /* Per producer, one consumer sees items in the order they were pushed. */
        if (it->seq <= c->last[it->producer]) c->ordered = false;
        c->last[it->producer] = it->seq;
        atomic_fetch_add(&c->s->sum, (long)(it - items));
        atomic_fetch_add(&c->s->count, 1);
    }
    return NULL;
}

static void test_threads_backpressure(void **state) {
    (void)state;
    static shared s;
    memset(&s, 0, sizeof s);
    s.q = dxj_queue_new(8);
    pthread_t pt[N_PRODUCERS], ct[N_CONSUMERS];
    pargs pa[N_PRODUCERS];
    cargs ca[N_CONSUMERS];
    for (int i = 0; i < N_CONSUMERS; i++) {
        ca[i].s = &s;
        pthread_create(&ct[i], NULL, consumer, &ca[i]);
    }
    for (int i = 0; i < N_PRODUCERS; i++) {
        pa[i].s = &s;
        pa[i].id = i;
        pthread_create(&pt[i], NULL, producer, &pa[i]);
    }
    for (int i = 0; i < N_PRODUCERS; i++) pthread_join(pt[i], NULL);
    dxj_queue_close(s.q);
    for (int i = 0; i < N_CONSUMERS; i++) pthread_join(ct[i], NULL);
    assert_int_equal(atomic_load(&s.count), N_ITEMS);
    assert_int_equal(atomic_load(&s.sum), (long)N_ITEMS * (N_ITEMS - 1) / 2);
    assert_true(atomic_load(&s.max_len) <= 8); /* never above the bound */
    for (int i = 0; i < N_CONSUMERS; i++) assert_true(ca[i].ordered);
    dxj_queue_free(s.q);
}

static void *slow_consumer(void *arg) {
    dxj_queue *q = arg;
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    return dxj_queue_pop(q);
}

static void test_push_blocks_when_full(void **state) {
    (void)state;
    dxj_queue *q = dxj_queue_new(1);
    int a, b;
    assert_true(dxj_queue_push(q, &a));
    pthread_t t;
    pthread_create(&t, NULL, slow_consumer, q);
    uint64_t t0 = dx_now_ms();
    assert_true(dxj_queue_push(q, &b)); /* waits for the consumer */
    assert_true(dx_now_ms() - t0 >= 15);
    void *got;
    pthread_join(t, &got);
    assert_ptr_equal(got, &a);
    assert_ptr_equal(dxj_queue_pop(q), &b);
    dxj_queue_free(q);
}

static void *blocked_pusher(void *arg) {
    dxj_queue *q = arg;
    static int x;
    return dxj_queue_push(q, &x) ? (void *)1 : NULL;
}

static void test_close_wakes_pusher(void **state) {
    (void)state;
    dxj_queue *q = dxj_queue_new(1);
    int a;
    assert_true(dxj_queue_push(q, &a));
    pthread_t t;
    pthread_create(&t, NULL, blocked_pusher, q);
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
    dxj_queue_close(q);
    void *res;
    pthread_join(t, &res);
    assert_null(res); /* the push failed instead of hanging or dropping */
    dxj_queue_free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_bounds),     cmocka_unit_test(test_close),
        cmocka_unit_test(test_pop_timed),           cmocka_unit_test(test_threads_backpressure),
        cmocka_unit_test(test_push_blocks_when_full), cmocka_unit_test(test_close_wakes_pusher),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
