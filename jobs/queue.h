/*
 * queue.h - a bounded, blocking FIFO of pointers between threads.
 *
 * The runner uses two: the queue of filled chunks from the reader to the
 * workers, whose bound is what keeps memory flat (the reader blocks when the
 * workers fall behind), and the pool of empty chunks the reader fills.
 * After dxj_queue_close, pushes fail (they never drop an element silently)
 * and pops drain what is left, then return NULL.
 *
 * Threads: every function is thread-safe except new/free.
 */
#ifndef DYNOX_JOBS_QUEUE_H
#define DYNOX_JOBS_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct dxj_queue dxj_queue;

/* A queue holding at most cap (>= 1) elements; NULL when out of memory. */
dxj_queue *dxj_queue_new(size_t cap);
/* Frees the queue (not the elements still in it). NULL is a no-op. No thread may be using it. */
void dxj_queue_free(dxj_queue *q);

/* Appends p (non-NULL), waiting while the queue is full. false when the queue is closed. */
bool dxj_queue_push(dxj_queue *q, void *p);
/* Appends p without waiting; false when the queue is full or closed. */
bool dxj_queue_try_push(dxj_queue *q, void *p);
/*
 * Removes the oldest element, waiting while the queue is empty and open;
 * NULL when it is closed and empty.
 */
void *dxj_queue_pop(dxj_queue *q);
/* Removes the oldest element without waiting; NULL when empty. */
void *dxj_queue_try_pop(dxj_queue *q);
/* Like dxj_queue_pop, giving up after timeout_ms (NULL then too). */
void *dxj_queue_pop_timed(dxj_queue *q, int timeout_ms);
/* Wakes every waiter; later pushes fail, pops drain what is left. Idempotent. */
void dxj_queue_close(dxj_queue *q);
bool dxj_queue_closed(dxj_queue *q);
/* Elements in the queue now (a snapshot). */
size_t dxj_queue_len(dxj_queue *q);

#endif
