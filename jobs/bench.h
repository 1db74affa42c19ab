/*
 * bench.h - `dynox bench`: measure one operation against a table, with
 * synthetic items or a sample of a real input file.
 *
 * A bench run generates items for a model (a model file, or the built-in
 * ten-attribute model of about 150 bytes), or takes a sample of rows from a
 * CSV / JSON-lines file through the job reader and mapper, and drives one
 * operation through W worker threads, each with its own engine keeping M
 * requests in flight, for a number of items or for a duration. It measures
 * what a user buying capacity and machines cares about: items/s, capacity
 * units/s, latency percentiles, throttles, retries, errors, and the client's
 * own CPU time per 1,000 items (user + system time of this process, from
 * getrusage). With a list of in-flight depths it sweeps them and says where
 * throughput stopped growing.
 *
 * Safety: a bench writes to a real table, so it refuses a table that holds
 * data (a Scan with Limit 1 finds an item) unless allow_existing, creates
 * the table when it is missing (and deletes it afterwards), and otherwise
 * deletes every item it wrote unless keep. Its keys carry a random run tag
 * ("bench-<tag>-<n>"), so even on an allowed non-empty table it never
 * overwrites or deletes an item it did not create.
 *
 * Operations: put (BatchWriteItem, 25 per call), update_by_key (UpdateItem
 * SET of every non-key attribute), delete_by_key (BatchWriteItem deletes),
 * get (GetItem), get_save (GetItem, then PutItem of the item read with one
 * attribute changed). Every operation but put works on items that exist:
 * the bench loads them first (not measured).
 *
 * Threads: dxj_bench_run starts and joins its own threads; callbacks run on
 * the calling thread. The options and the result belong to the caller.
 *
 * Must never: print (the CLI does), touch an item whose key it did not
 * generate in this run, or report a figure it did not measure.
 */
#ifndef DYNOX_JOBS_BENCH_H
#define DYNOX_JOBS_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynox/dynox.h"

typedef enum dxj_bench_op {
    DXJ_BENCH_PUT = 0,       /* BatchWriteItem puts, 25 per call (the default) */
    DXJ_BENCH_UPDATE_BY_KEY, /* one UpdateItem SET per item */
    DXJ_BENCH_DELETE_BY_KEY, /* BatchWriteItem deletes, 25 per call */
    DXJ_BENCH_GET,           /* one GetItem per item */
    DXJ_BENCH_GET_SAVE       /* GetItem, then PutItem of what was read, changed */
} dxj_bench_op;

/* "put", "update_by_key", "delete_by_key", "get", "get_save"; and back (-1 when unknown). */
const char *dxj_bench_op_name(dxj_bench_op op);
int dxj_bench_op_from_name(const char *s);

/* Where a run is, for dxj_bench_opts.phase. */
typedef enum dxj_bench_phase {
    DXJ_BENCH_PHASE_SETUP = 0, /* table checked or created, items being loaded */
    DXJ_BENCH_PHASE_START,     /* the measured part starts now (called once per depth) */
    DXJ_BENCH_PHASE_END,       /* the measured part has ended (called once per depth) */
    DXJ_BENCH_PHASE_CLEANUP    /* deleting what was written */
} dxj_bench_phase;

#define DXJ_BENCH_MAX_SWEEP 32
#define DXJ_BENCH_DEFAULT_ITEMS 100000u

/* Zero-initialise, then set what differs from the defaults. */
typedef struct dxj_bench_opts {
    dxj_bench_op op;
    /* --- What --- */
    const dx_model *model; /* NULL: the built-in model (table "dynox_bench") */
    const char *table;     /* NULL: the model's table */
    const char *sample;    /* CSV / JSON-lines file (.zst ok) whose rows are used as item
                              bodies, with generated keys; needs model */
    uint32_t sample_rows;  /* rows read from sample (default 1000) */
    uint32_t item_bytes;   /* synthetic items: pad to about this size (0: the model's own) */
    uint64_t seed;         /* value generator seed (0: random); the key tag is always random */
    /* --- How much --- */
    uint64_t items;        /* items per measured run (default 100,000; with duration_ms:
                              a cap, 0 = none) */
    uint32_t duration_ms;  /* run for this long instead (0: until `items` are done) */
    uint32_t workers;      /* threads (default 2) */
    uint32_t inflight;     /* requests in flight per worker (default 32) */
    uint32_t sweep[DXJ_BENCH_MAX_SWEEP]; /* in-flight depths to measure in turn */
    size_t nsweep;         /* 0: one run at `inflight` */
    /* --- Where --- */
    dx_client *client;     /* borrowed; NULL: create one as below */
    bool dynamodb;         /* create a DynamoDB client (else the memory backend) */
    const char *endpoint, *region, *profile;
    bool insecure;
    const dx_env *env;     /* environment for the DynamoDB client (NULL: none, so every
                              setting must be given explicitly) */
    dx_retry_opts retry;   /* for a client created here */
    dx_rate_opts rate;     /* for a client created here */
    double table_wcu, table_rcu; /* provisioned capacity when the table is created here
                                    (0: on-demand; memory backend: simulated capacity) */
    bool no_capacity_hint; /* with rate.adaptive, the limiter starts at the table's
                              provisioned capacity read with DescribeTable; this turns
                              that off, so it discovers the capacity by throttles */
    /* --- Safety --- */
    bool allow_existing;   /* run on a table that holds data */
    bool keep;             /* leave the items (and a table created here) behind */
    /* --- Callbacks (all optional; called on the calling thread) --- */
    atomic_int *stop;      /* set non-zero to end the measured part early */
    void (*phase)(dxj_bench_phase ph, uint32_t inflight, void *ud);
    void (*log)(const char *msg, void *ud);
    void *ud;
} dxj_bench_opts;

/* One measured run (one in-flight depth). */
typedef struct dxj_bench_point {
    uint32_t inflight;     /* per worker */
    uint64_t items;        /* items whose operation succeeded */
    uint64_t failed;       /* items whose operation failed after retries */
    uint64_t requests;     /* attempts sent (retries included) */
    uint64_t throttles, retries, errors;
    double seconds;
    double items_per_s;
    double units, units_per_s; /* capacity units consumed (read + write), as reported */
    double p50_ms, p95_ms, p99_ms, max_ms; /* per call (a batch of 25 is one; get_save's read
                                              and write together): submit to completion,
                                              retries and rate-limit waits included */
    double cpu_s;          /* user + system CPU of this process during the run */
    double cpu_ms_per_1k;  /* cpu_s * 1e6 / items: CPU-milliseconds per 1,000 items */
} dxj_bench_point;

typedef struct dxj_bench_result {
    const char *op;         /* static */
    char backend[16];       /* "memory", "dynamodb" */
    char table[256];
    char tag[16];           /* the run's key tag */
    uint32_t workers;
    uint32_t attributes;    /* attributes per item */
    double item_bytes;      /* mean item size as DynamoDB counts it */
    bool sampled;           /* item bodies came from a sample file */
    bool table_created;     /* the table did not exist and was created */
    bool table_deleted;     /* ... and was deleted afterwards */
    uint64_t loaded;        /* items written before the measured part (not measured) */
    uint64_t cleaned;       /* items deleted afterwards */
    bool cleanup_ok;        /* everything written is gone (or keep) */
    double hint_wcu;        /* provisioned write capacity the limiter started at (0: none) */
    dxj_bench_point points[DXJ_BENCH_MAX_SWEEP];
    size_t npoints;
    /* Sweep: the depth after which one more step gained less than 5% items/s
       (0 when throughput still grew at the last depth, or no sweep). */
    uint32_t knee;
    bool stopped;           /* o->stop ended the measured part early (set by the caller) */
} dxj_bench_result;

/*
 * Runs the bench. Returns DX_OK when every measured run happened (items
 * may still have failed: see the points); DX_ERR_CONFIG for bad options or
 * a table that holds data without allow_existing (nothing written);
 * otherwise the error that stopped it, with res filled as far as it got and
 * cleanup attempted. r says what and where.
 */
dx_err dxj_bench_run(const dxj_bench_opts *o, dxj_bench_result *res, dx_result *r);

/* Appends the result as JSON (stable key order) to out. */
dx_err dxj_bench_json(const dxj_bench_result *res, dx_buf *out);

/*
 * The built-in model: id (S, hash key) and nine attributes (strings,
 * numbers, a bool, a datetime) for items of about 150 bytes. Free with
 * dx_model_free.
 */
dx_err dxj_bench_builtin_model(const char *table, dx_model **out, dx_result *r);

#endif
