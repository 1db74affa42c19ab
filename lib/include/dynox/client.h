/*
 * dynox/client.h - a client (one backend: memory or DynamoDB over HTTP) and
 * the engines that drive requests through it.
 *
 * A request is a dx_call: the operation and its inputs (dx_req), the outputs
 * (dx_resp) and the error details (dx_result). Calls are asynchronous: a
 * thread submits them to its own dx_engine and runs the engine, which keeps
 * up to max_inflight of them going at once and invokes each call's `done`
 * callback when it has finished, retries included. dx_client_call is the
 * synchronous form and goes through exactly the same path.
 *
 * Everything that is the same for every backend lives here rather than in
 * the backends: retries with exponential backoff and full jitter on
 * throttling, 5xx, network and CRC errors; re-driving BatchWriteItem's
 * UnprocessedItems and BatchGetItem's UnprocessedKeys; the client-side rate
 * limiter; statistics. A backend only performs single attempts.
 *
 * Batch invariant: when a batch call is done, exactly the entries listed in
 * resp.unprocessed were not performed (and err says why); every other entry
 * was. Nothing is dropped silently.
 *
 * Threads: a dx_client is thread-safe and shared; a dx_engine belongs to one
 * thread at a time. Callbacks run on the thread that runs the engine.
 *
 * Must never: call `done` from inside dx_engine_submit, lose a call (every
 * submitted call completes exactly once, also on dx_engine_free), or sleep
 * while holding a lock.
 */
#ifndef DYNOX_CLIENT_H
#define DYNOX_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "util.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dx_client dx_client;
typedef struct dx_engine dx_engine;

typedef enum dx_op {
    DX_OP_NONE = 0,
    DX_OP_PUT,
    DX_OP_GET,
    DX_OP_UPDATE,
    DX_OP_DELETE,
    DX_OP_BATCH_WRITE,
    DX_OP_BATCH_GET,
    DX_OP_QUERY,
    DX_OP_SCAN,
    DX_OP_CREATE_TABLE,
    DX_OP_DESCRIBE_TABLE,
    DX_OP_DELETE_TABLE,
    DX_OP_DESCRIBE_BACKUPS,
    DX_OP__COUNT
} dx_op;

/* DynamoDB's operation name ("PutItem", ...). */
const char *dx_op_name(dx_op op);
/* true for operations that consume write capacity. */
bool dx_op_is_write(dx_op op);

typedef enum dx_return {
    DX_RET_NONE = 0,
    DX_RET_ALL_OLD,
    DX_RET_UPDATED_OLD,
    DX_RET_ALL_NEW,
    DX_RET_UPDATED_NEW
} dx_return;

typedef struct dx_key_schema {
    const char *hash;   /* partition key attribute name */
    dx_type hash_type;  /* DX_T_S, DX_T_N or DX_T_B */
    const char *range;  /* sort key name, or NULL */
    dx_type range_type;
} dx_key_schema;

typedef struct dx_table_def {
    const char *name;
    dx_key_schema key;
    double rcu, wcu; /* provisioned capacity; both 0 means on-demand (PAY_PER_REQUEST) */
} dx_table_def;

typedef struct dx_table_desc {
    const char *name;   /* strings point into the call's arena */
    dx_key_schema key;
    const char *status; /* "ACTIVE", "CREATING", ... */
    uint64_t item_count;
    uint64_t size_bytes;
    double rcu, wcu; /* 0 when on-demand */
    bool on_demand;
    bool pitr; /* DESCRIBE_BACKUPS: point-in-time recovery is enabled */
} dx_table_desc;

/* One entry of a BatchWriteItem: a put of a full item, or a delete by key. */
typedef struct dx_write {
    bool del;
    const dx_value *item; /* the item (put) or the key (delete), an M */
} dx_write;

/* Inputs. Zero means "absent / default" for every field. Nothing is copied:
 * keep what the pointers reference alive until the call is done. */
typedef struct dx_req {
    dx_op op;
    const char *table;
    const dx_value *item;      /* PUT */
    const dx_value *key;       /* GET, UPDATE, DELETE */
    const char *update;        /* UPDATE: UpdateExpression */
    const char *condition;     /* PUT, UPDATE, DELETE: ConditionExpression */
    const char *key_condition; /* QUERY */
    const char *filter;        /* QUERY, SCAN */
    const char *projection;    /* GET, BATCH_GET, QUERY, SCAN */
    const dx_value *names;     /* ExpressionAttributeNames (M of S) */
    const dx_value *values;    /* ExpressionAttributeValues (M) */
    dx_return ret;             /* PUT, UPDATE, DELETE: ReturnValues */
    bool consistent;           /* GET, BATCH_GET, QUERY, SCAN: ConsistentRead */
    const dx_write *writes;    /* BATCH_WRITE: at most 25 */
    size_t nwrites;
    const dx_value *keys;      /* BATCH_GET: at most 100 keys (M values) */
    size_t nkeys;
    uint32_t limit;            /* QUERY, SCAN: Limit (0: none) */
    const dx_value *start_key; /* QUERY, SCAN: ExclusiveStartKey */
    bool backward;             /* QUERY: ScanIndexForward = false */
    uint32_t segment;          /* SCAN: Segment / TotalSegments (0: no parallel scan) */
    uint32_t total_segments;
    const dx_table_def *def;   /* CREATE_TABLE */
} dx_req;

/* Outputs, allocated in the call's arena. */
typedef struct dx_resp {
    dx_value *item;       /* GET: the item, NULL when absent; PUT/UPDATE/DELETE: ReturnValues */
    dx_value *items;      /* BATCH_GET, QUERY, SCAN: the items (M values) */
    size_t nitems;
    dx_value *last_key;   /* QUERY, SCAN: LastEvaluatedKey, NULL at the end */
    size_t scanned;       /* QUERY, SCAN: ScannedCount */
    size_t *unprocessed;  /* BATCH_*: indices into writes / keys that were not done */
    size_t nunprocessed;
    double consumed;      /* capacity units consumed, summed over attempts */
    dx_table_desc table;  /* CREATE_TABLE, DESCRIBE_TABLE, DESCRIBE_BACKUPS */
} dx_resp;

typedef struct dx_call dx_call;
typedef void (*dx_done_fn)(dx_call *call);

struct dx_call {
    dx_req req;
    dx_resp resp;
    dx_result res;     /* res.err is the outcome; res.reason keeps the throttling reason of
                          the last throttled attempt even when a later one succeeded */
    dx_arena *arena;   /* required when the operation returns values (GET, BATCH_*, QUERY,
                          SCAN, table operations, ReturnValues); engine bookkeeping for
                          batches lives here too */
    dx_done_fn done;   /* may be NULL for dx_client_call */
    void *ud;
    /* Filled by the engine. */
    uint32_t attempts;  /* attempts made (1 when the first succeeded) */
    uint32_t throttles; /* attempts (or batch entries) that were throttled */
    uint64_t start_ns, end_ns;
    /* Engine-private; do not touch. */
    struct {
        dx_call *next;
        uint64_t due_ns;
        size_t *pending;     /* batch entries still to do, as original indices */
        size_t npending;
        dx_write *sub_writes; /* the subset sent in the current attempt */
        dx_value *sub_keys;
        dx_engine *engine;
        uint32_t state;
        bool expired_retry;  /* already retried once after an expired session token */
        double cost;         /* capacity units reserved for the current attempt */
    } priv_;
};

/* Resets outputs and engine state so the call can be submitted again. */
void dx_call_reset(dx_call *call);

/* --- Retry, rate and client options (zero means the default) --- */

typedef struct dx_retry_opts {
    uint32_t max_attempts; /* total attempts per call (default 10; 1 = never retry) */
    uint32_t base_ms;      /* first backoff ceiling (default 25 ms) */
    uint32_t max_ms;       /* backoff ceiling (default 5000 ms) */
} dx_retry_opts;

typedef struct dx_rate_opts {
    double max_wcu;   /* hard cap, write units per second (0: none) */
    double max_rcu;   /* hard cap, read units per second (0: none) */
    bool adaptive;    /* slow down on throttles, recover when they stop */
} dx_rate_opts;

typedef struct dx_client_opts {
    dx_retry_opts retry;
    dx_rate_opts rate;
    uint64_t seed; /* jitter PRNG seed; 0 = random (tests fix it) */
} dx_client_opts;

typedef struct dx_client_stats {
    uint64_t calls;        /* calls completed */
    uint64_t attempts;     /* attempts started */
    uint64_t retries;      /* attempts beyond the first */
    uint64_t throttles;    /* throttled attempts or batch entries */
    uint64_t errors;       /* calls completed with an error */
    double rcu, wcu;       /* capacity units consumed */
    uint64_t limiter_wait_ms; /* time calls spent waiting for the rate limiter */
} dx_client_stats;

void dx_client_free(dx_client *c);
/* The backend's name: "memory" or "dynamodb". */
const char *dx_client_backend(const dx_client *c);
/* A snapshot of the counters. Thread-safe. */
void dx_client_stats_get(dx_client *c, dx_client_stats *out);
/*
 * Tells the adaptive limiter a table's provisioned capacity in units per
 * second (from DescribeTable); 0 leaves that direction as it is. The limiter
 * then paces just below it (98%) from the start, with one second of burst,
 * instead of discovering the capacity through throttles, and keeps adapting
 * from there (down on throttles, slowly up while none come). No effect unless
 * rate.adaptive, and never above a hard cap (max_wcu / max_rcu). NULL is a
 * no-op. Thread-safe.
 */
void dx_client_rate_hint(dx_client *c, double rcu, double wcu);

/*
 * Runs one call to completion on the calling thread and returns
 * call->res.err. Thread-safe: any number of threads may call it at once.
 */
dx_err dx_client_call(dx_client *c, dx_call *call);

/* --- Engines --- */

typedef struct dx_engine_opts {
    uint32_t max_inflight; /* attempts in flight at once (default 64) */
} dx_engine_opts;

/* A new engine on client c; opts may be NULL. NULL on out of memory. */
dx_engine *dx_engine_new(dx_client *c, const dx_engine_opts *opts);
/*
 * Lets attempts already sent finish (they report their real outcome: a write
 * that happened is never reported as cancelled), completes every call not
 * yet sent or waiting to retry with DX_ERR_CANCELLED (batches: all their
 * pending entries unprocessed), runs the callbacks and frees the engine.
 * NULL is a no-op.
 */
void dx_engine_free(dx_engine *e);
/*
 * Queues a call. It is started when a slot is free and the rate limiter
 * allows; its `done` runs later from dx_engine_run on this thread. Input
 * errors are reported through the call, not here: only DX_ERR_INVALID_ARG
 * (NULL call, no op, already queued) is returned directly.
 */
dx_err dx_engine_submit(dx_engine *e, dx_call *call);
/*
 * Drives I/O, timers and retries for up to timeout_ms (0: do what is ready
 * and return; -1: until at least one call completes). Returns the number of
 * calls completed (their callbacks have run).
 */
size_t dx_engine_run(dx_engine *e, int timeout_ms);
/* Runs until no call is pending. */
void dx_engine_drain(dx_engine *e);
/* Calls submitted and not yet completed. */
size_t dx_engine_pending(const dx_engine *e);

/* --- Table helpers (synchronous) --- */

dx_err dx_create_table(dx_client *c, const dx_table_def *def, dx_result *r);
/* Fills *out with strings allocated in a. */
dx_err dx_describe_table(dx_client *c, const char *table, dx_arena *a, dx_table_desc *out,
                         dx_result *r);
dx_err dx_delete_table(dx_client *c, const char *table, dx_result *r);
/*
 * Waits until the table is ACTIVE (DynamoDB creates tables asynchronously):
 * polls DescribeTable, 10 ms after the first try and backing off to every
 * 200 ms, for at most timeout_ms. ResourceNotFound counts as "not yet"
 * (DescribeTable can lag right after CreateTable); any other error returns at
 * once. out (may be NULL) gets the last description, its strings in a (a
 * may be NULL: then out keeps its figures and its strings are NULL).
 * DX_ERR_TIMEOUT, naming the table, when it is not ACTIVE in time.
 */
dx_err dx_wait_table_active(dx_client *c, const char *table, uint32_t timeout_ms, dx_arena *a,
                            dx_table_desc *out, dx_result *r);

#ifdef __cplusplus
}
#endif
#endif
