/*
 * runner_internal.h - what runner.c (threads, commit, checkpoints, report)
 * and worker.c (the operations, row by row, on a worker's engine) share.
 * See the top of runner.c for the design. Not installed.
 */
#ifndef DYNOX_JOBS_RUNNER_INTERNAL_H
#define DYNOX_JOBS_RUNNER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "mapper.h"
#include "plugin.h"
#include "queue.h"
#include "reader.h"
#include "report.h"
#include "runner.h"

#define RJ_CHUNK_RECORDS 1000
#define RJ_CHUNK_BYTES (1u << 20)
#define RJ_BATCH 25          /* BatchWriteItem's limit */
#define RJ_RMW_TRIES 5       /* read-modify-write attempts of a get_* row */

/*
 * ROW_NOT_STARTED: the job halted before the row was sent (or while its call
 * waited for a retry or the rate limiter). Not an outcome: the commit stops
 * at the first such row, and a --resume applies it (runner.c, Shutdown).
 * ROW_SKIPPED: --resume, and the checkpoint lists the row as written past its
 * mark by an earlier run: not sent, not counted again (skipped_done).
 */
typedef enum {
    ROW_PENDING = 0,
    ROW_WRITTEN,
    ROW_REJECTED,
    ROW_FAILED,
    ROW_NOT_STARTED,
    ROW_SKIPPED
} row_state;

/* Halt reasons (rjob.halt). */
enum { HALT_NONE = 0, HALT_STOP, HALT_FATAL };

typedef struct rchunk rchunk;
typedef struct rworker rworker;
typedef struct wcall wcall;

/* One input row on its way to a final state. Lives in its chunk's work arena. */
typedef struct rrow {
    rchunk *ch;
    const dxj_record *rec;
    dxj_mapped m;
    struct rrow *sup;   /* batches: the rows this one superseded (a chain) */
    dx_item *item;      /* get_* flows: the item being read-modified-written (malloc'd) */
    wcall *slot;        /* the call this row uses (single-row operations, verification) */
    const dx_value *wrote;      /* what was written: a whole item (put, get_save) */
    const dx_member *wrote_fields; /* or the fields set/removed (updates) */
    size_t nwrote_fields;
    uint8_t state;      /* row_state */
    uint8_t phase;      /* worker.c's step for single-row operations */
    uint8_t tries;      /* read-modify-write attempts so far */
    bool verify;        /* in the verification sample */
    bool superseded;
    bool created;       /* get_*: the item did not exist and missing=create */
    bool missing;       /* get_*: the item did not exist (counted in missing) */
    bool condfail;      /* the condition was not met (counted in conditional_failed) */
    bool recheck;       /* get_*: this read follows a failed condition that included the
                           spec's own: was it that condition, or another writer? */
    bool read_absent;   /* get_*: the item did not exist when last read */
    const dx_value *read_version; /* get_*: version_attr as last read (NULL: absent) */
} rrow;

/* Where a row's line is in a chunk's rejects/failures buffer (lines are appended as rows
 * become final, which is not input order; the commit writes them sorted by row). */
typedef struct lref {
    uint32_t row, off, len;
} lref;

typedef struct lines {
    dx_buf buf;
    lref *refs;     /* in the chunk's work arena, one per row at most */
    size_t n;
    bool unsorted;  /* some line was added after a line of a later row */
} lines;

/* A chunk of input and everything the rows in it produce. */
struct rchunk {
    dxj_chunk in;       /* records, from the reader (its arena owns them) */
    uint64_t seq;       /* 0, 1, 2, ... in input order (set by the reader thread) */
    dx_arena work;      /* rows, mapped values */
    rrow *rows;
    size_t next;        /* next row to take (worker) */
    size_t open;        /* rows not final yet (worker) */
    lines rejects, failures; /* lines for the rejects / failures files */
    uint64_t written, rejected, failed, superseded, missing, condfail;
    uint64_t not_started, skipped;
};

typedef struct rmismatch {
    uint64_t index; /* record ordinal, to keep the first ones in input order */
    dxj_mismatch m;
} rmismatch;

/* The whole run. */
typedef struct rjob {
    dxj_spec *spec;
    const dxj_run_opts *opts;
    const dx_model *model;
    const char *table;
    dxj_op op;
    dx_client *client;
    dxj_reader *rd;
    dxj_mapper *mp;
    dxj_plugin *plugin;
    const char *input_name;
    dx_tristate skip_hooks;
    /* --resume: the checkpoint's rows done past its mark (read-only during the run). */
    const uint64_t (*prior)[2];
    size_t nprior;

    /* Condition from the spec, built once (NULL when none). */
    const char *cond;          /* user condition and must_exist combined */
    const dx_value *cond_names;
    const dx_value *cond_values;
    const char *user_cond;     /* the spec's condition alone (get_* flows) */
    const dx_value *user_names;
    dx_arena cond_arena;
    size_t max_item;           /* client-side item size limit */

    /* Threads and queues. */
    dxj_queue *chunks;         /* filled chunks, reader -> workers (bounded) */
    dxj_queue *pool;           /* empty chunks, -> reader */
    rchunk *all;               /* every chunk, for freeing */
    size_t nall;
    rworker *workers;
    uint32_t nworkers;
    pthread_t reader_th;
    bool reader_started;
    atomic_int halt;           /* HALT_* */
    atomic_uint_fast64_t rows_read;
    atomic_uint_fast64_t in_bytes;
    atomic_int reader_done;

    /* Ordered commit (commit_mu). */
    pthread_mutex_t commit_mu;
    rchunk **done;             /* finished chunks by seq % nall */
    uint64_t next_seq;         /* next chunk to commit */
    FILE *rejects_f, *failures_f;
    char *rejects_path, *failures_path;
    uint64_t mark_records, mark_offset; /* low-water mark, including resumed records */
    uint64_t rows_in, written, rejected, failed, superseded, missing, condfail;
    /* After a halt: the first row not started (record ordinal and line; 0 when none), the
     * rows read but not started, the rows past that stop point that were rejected or failed
     * (not counted: a resume does them again), and those that were written (counted, and
     * listed in `dset` so that a resume skips them). skipped: rows the resumed checkpoint
     * listed as done past its mark (prior), not done again. */
    uint64_t stop_record, stop_line;
    uint64_t not_started, after_stop, done_past_mark, skipped;
    /* Rows past the stop point already written (and rows of `prior` seen past it): sorted
     * inclusive ranges of record ordinals; done_open: the last row seen past the stop point
     * is in the last range. seen_index: the ordinal of the last row committed or looked at. */
    uint64_t (*dset)[2];
    size_t ndset, capdset;
    bool done_open;
    bool done_lost;            /* out of memory for `dset`: no checkpoint any more */
    uint64_t seen_index;
    dx_err io_err;

    /* Everything else that several threads touch (mu). */
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* a worker ended / a fatal error */
    uint32_t workers_left;
    dx_result fatal;           /* the first fatal error */
    atomic_int rate_on;
    double rate, rate_tokens;  /* rows per second, token bucket (mu) */
    uint64_t rate_last_ns;
    pthread_mutex_t log_mu;
} rjob;

/* A request slot: a call with its own arena, reused from a worker's free list. */
struct wcall {
    dx_call call;
    dx_arena arena;
    rworker *w;
    int kind;
    rrow *row;                  /* single-row calls */
    dx_write writes[RJ_BATCH];  /* batches */
    rrow *owner[RJ_BATCH];
    uint64_t khash[RJ_BATCH];
    size_t n;
    wcall *next_free;
};

struct rworker {
    rjob *job;
    uint32_t id;
    pthread_t th;
    dx_engine *eng;
    uint32_t inflight;
    rchunk *cur;         /* the chunk rows are taken from */
    wcall *batch;        /* the batch being filled (put / delete_by_key) */
    wcall *free_calls;
    wcall **all_calls;
    size_t ncalls, capcalls;
    dxj_hist hist;
    dxj_hotkeys hot;
    uint64_t verified, mismatched;
    rmismatch mism[DXJ_MISMATCHES];
    size_t nmism;
    uint64_t after_hook_errors;
    bool closing;        /* the job halted: the engine is gone or going, submit nothing */
    /* Rows this worker finalised, for progress (committed or not); only it writes them. */
    _Atomic uint64_t live_written, live_rejected, live_failed;
    dx_result res;       /* scratch */
    dx_buf line;         /* scratch */
};

/* worker.c */
void *rj_worker_main(void *arg);
void rj_worker_cleanup(rworker *w);

/* runner.c, for worker.c */
void rj_chunk_finished(rjob *job, rchunk *ch);
void rj_halt(rjob *job, int why, const dx_result *res);
void rj_log(rjob *job, dxj_log_level level, const char *fmt, ...) DX_PRINTF(3, 4);
/*
 * Row rate limiter (spec.rate, shared by all workers): rj_rate_wait gives 0
 * when rows may be taken now (the bucket is not in debt), else nanoseconds to
 * wait; rj_rate_charge pays for n rows as they are sent (a batch pays for all
 * its entries at once, and may put the bucket in debt).
 */
uint64_t rj_rate_wait(rjob *job);
void rj_rate_charge(rjob *job, double n);
/* true for errors after which the job cannot go on (auth, table gone). */
bool rj_fatal_err(dx_err e);

#endif
