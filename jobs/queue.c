/*
 * queue.c - bounded blocking FIFO of pointers (see queue.h).
 *
 * A circular buffer of cap + 1 slots, so that head == tail means empty and
 * tail + 1 == head means full without a separate count; one mutex, one
 * condition variable for "not empty" (poppers wait on it) and one for "not
 * full" (pushers wait on it), as zstd's pool.c does. Closing broadcasts both
 * so that nobody sleeps through the shutdown.
 *
 * Must never: drop an element (a push after close fails and says so), or
 * wait while holding anything but its own mutex.
 */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct dxj_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **slot;
    size_t nslots; /* cap + 1 */
    size_t head, tail;
    bool closed;
};

dxj_queue *dxj_queue_new(size_t cap) {
    if (cap == 0) cap = 1;
    dxj_queue *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->nslots = cap + 1;
    q->slot = calloc(q->nslots, sizeof *q->slot);
    if (!q->slot) {
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &ca);
    pthread_cond_init(&q->not_full, &ca);
    pthread_condattr_destroy(&ca);
    return q;
}

void dxj_queue_free(dxj_queue *q) {
    if (!q) return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->slot);
    free(q);
}

static bool is_full(const dxj_queue *q) { return (q->tail + 1) % q->nslots == q->head; }
static bool is_empty(const dxj_queue *q) { return q->head == q->tail; }

static void put(dxj_queue *q, void *p) {
    q->slot[q->tail] = p;
    q->tail = (q->tail + 1) % q->nslots;
    pthread_cond_signal(&q->not_empty);
}

static void *take(dxj_queue *q) {
    void *p = q->slot[q->head];
    q->slot[q->head] = NULL;
    q->head = (q->head + 1) % q->nslots;
    pthread_cond_signal(&q->not_full);
    return p;
}

bool dxj_queue_push(dxj_queue *q, void *p) {
    pthread_mutex_lock(&q->mu);
    while (!q->closed && is_full(q)) pthread_cond_wait(&q->not_full, &q->mu);
    bool ok = !q->closed;
    if (ok) put(q, p);
    pthread_mutex_unlock(&q->mu);
    return ok;
}

bool dxj_queue_try_push(dxj_queue *q, void *p) {
    pthread_mutex_lock(&q->mu);
    bool ok = !q->closed && !is_full(q);
    if (ok) put(q, p);
    pthread_mutex_unlock(&q->mu);
    return ok;
}

void *dxj_queue_pop(dxj_queue *q) {
    pthread_mutex_lock(&q->mu);
    while (!q->closed && is_empty(q)) pthread_cond_wait(&q->not_empty, &q->mu);
    void *p = is_empty(q) ? NULL : take(q);
    pthread_mutex_unlock(&q->mu);
    return p;
}

void *dxj_queue_try_pop(dxj_queue *q) {
    pthread_mutex_lock(&q->mu);
    void *p = is_empty(q) ? NULL : take(q);
    pthread_mutex_unlock(&q->mu);
    return p;
}

void *dxj_queue_pop_timed(dxj_queue *q, int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (timeout_ms < 0) timeout_ms = 0;
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->mu);
    while (!q->closed && is_empty(q)) {
        if (pthread_cond_timedwait(&q->not_empty, &q->mu, &ts) == ETIMEDOUT) break;
    }
    void *p = is_empty(q) ? NULL : take(q);
    pthread_mutex_unlock(&q->mu);
    return p;
}

void dxj_queue_close(dxj_queue *q) {
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

bool dxj_queue_closed(dxj_queue *q) {
    pthread_mutex_lock(&q->mu);
    bool c = q->closed;
    pthread_mutex_unlock(&q->mu);
    return c;
}

size_t dxj_queue_len(dxj_queue *q) {
    pthread_mutex_lock(&q->mu);
    size_t n = (q->tail + q->nslots - q->head) % q->nslots;
    pthread_mutex_unlock(&q->mu);
    return n;
}
