/*
 * dynox/mem.h - the in-memory backend: DynamoDB's semantics without DynamoDB.
 *
 * Tables are hash tables keyed by the table's real key schema, split into
 * shards with a lock each so many writers proceed in parallel. Every request
 * is validated and answered as DynamoDB would (messages included): condition
 * and update expressions through dynox/expr.h, item size limits, batch
 * limits and duplicate keys, consumed capacity by DynamoDB's rules. An
 * optional simulated capacity per table (a token bucket of the table's
 * provisioned units) throttles like a real table, so a dry run shows
 * throttling and how long a job would take.
 *
 * Must never: hold a shard lock while calling out of the module, return an
 * item that a concurrent writer can change (results are copies in the call's
 * arena), or store a value it has not validated.
 */
#ifndef DYNOX_MEM_H
#define DYNOX_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dx_mem_opts {
    uint32_t shards;        /* lock shards per table, rounded to a power of two (default 64) */
    bool simulate_capacity; /* throttle tables created with provisioned rcu/wcu, and any
                               partition key over DynamoDB's 1000 WCU/s / 3000 RCU/s
                               (dx_result.reason "Table{Write,Read}KeyRangeThroughputExceeded") */
    uint32_t burst_ms;      /* capacity a bucket may save up (default 1000 ms of units) */
} dx_mem_opts;

/* A new memory client; opts and copts may be NULL. */
dx_err dx_mem_client_new(const dx_mem_opts *opts, const dx_client_opts *copts, dx_client **out);

/*
 * Writes every item of `table` to out as DynamoDB JSON, one per line, sorted
 * by key (partition key, then sort key), attributes sorted by name: equal
 * tables give byte-identical dumps. Thread-safe; a consistent snapshot only
 * when no writer runs.
 */
dx_err dx_mem_dump(dx_client *c, const char *table, FILE *out, dx_result *r);
/* Number of items in `table`. */
dx_err dx_mem_count(dx_client *c, const char *table, uint64_t *out, dx_result *r);

#ifdef __cplusplus
}
#endif
#endif
