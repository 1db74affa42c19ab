/*
 * runner.h - runs a job: reader thread, bounded queue, worker threads each
 * driving its own engine, accounting, verification, checkpoints, report.
 *
 * Every input row ends in exactly one place: written, rejected (bad input,
 * or a condition the row did not meet: in the rejects file with the reason)
 * or failed (gave up after retries: in the failures file). Both files are
 * valid inputs for a re-run. The report proves rows_in = written + rejected
 * + failed; when it does not hold, that is a bug and the run says so.
 *
 * The CLI calls dxj_run and owns everything user-facing: confirmation,
 * progress drawing, exit codes, and the report file: the runner fills a
 * dxj_report and never writes spec.report itself (dxj_report_json gives the
 * text to write). The runner writes nothing to stdout or stderr; warnings go
 * through the log callback.
 */
#ifndef DYNOX_JOBS_RUNNER_H
#define DYNOX_JOBS_RUNNER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dynox/dynox.h"
#include "spec.h"

#define DXJ_HOT_KEYS 10
#define DXJ_MISMATCHES 20

typedef struct dxj_progress {
    uint64_t rows_in, written, rejected, failed;
    uint64_t throttles, retries;
    uint64_t in_bytes, in_total; /* raw input consumed / size (0: unknown) */
    double elapsed_s;
} dxj_progress;

typedef struct dxj_latency {
    double p50_ms, p95_ms, p99_ms, max_ms;
    uint64_t count;
} dxj_latency;

typedef struct dxj_hot_key {
    char key[128];    /* the key as compact JSON, truncated */
    char reason[64];  /* e.g. "TableWriteKeyRangeThroughputExceeded" */
    uint64_t throttles;
} dxj_hot_key;

typedef struct dxj_mismatch {
    char key[128];
    char what[160]; /* "attribute score: wrote 3, read 4", "item missing", "item still exists" */
} dxj_mismatch;

typedef enum dxj_status {
    DXJ_STATUS_COMPLETED = 0, /* the input was read to the end (or --limit) */
    DXJ_STATUS_INTERRUPTED,   /* stopped by a signal: in-flight work finished, report written */
    DXJ_STATUS_FATAL          /* could not go on (input unreadable, table missing, auth) */
} dxj_status;

typedef struct dxj_report {
    dxj_status status;
    /*
     * The job passed its checks (client, table, seed, hooks, input opened,
     * checkpoint) and began reading input: the counts say what it did, and
     * the report is worth keeping even when status is FATAL. false when
     * dxj_run failed before that: then no input row was read or written and
     * only status, error, backend and the times mean anything.
     */
    bool started;
    char error[512];          /* for FATAL: what went wrong */
    const char *op;           /* operation name */
    const char *backend;      /* "memory" or "dynamodb" */
    bool dry_run;
    /* Accounting for this run. */
    uint64_t rows_in, written, rejected, failed;
    uint64_t superseded; /* puts replaced by a later row with the same key in one batch (counted in written) */
    uint64_t missing;    /* get_* rows whose item did not exist (in rejected unless missing=create) */
    uint64_t conditional_failed; /* rows whose condition was not met (in rejected) */
    /*
     * A halted run (stop or fatal error): rows read but not started (never
     * sent, or cancelled while waiting for a retry or the rate limiter), the
     * first of them -- the stop point, by record ordinal and line (0 when
     * every row read finished), where the checkpoint's mark stays -- and the
     * rows after it that finished anyway: rejected or failed ones are
     * after_stop (not in rows_in, no line: a --resume does them again, which
     * keeps the files in input order); written ones are done_past_mark (in
     * rows_in and written, and listed in the checkpoint so that a --resume
     * skips them). skipped_done: rows a --resume skipped because an earlier
     * run had written them past its mark (not in rows_in: counted then).
     */
    uint64_t not_started, after_stop, done_past_mark, skipped_done;
    uint64_t stopped_at_record, stopped_at_line;
    /* The final checkpoint could not be written (e.g. after a rejects/failures file could not
     * be): the one on disk, if any, is from before -- a resume continues from it. */
    bool checkpoint_stale;
    bool accounting_ok;
    /* Totals including the runs before a --resume (equal to the above otherwise). */
    uint64_t total_rows_in, total_written, total_rejected, total_failed;
    uint64_t resumed_from; /* rows already finished when this run started */
    /* Requests. */
    uint64_t requests, retries, throttles, errors;
    double rcu, wcu;
    dxj_latency latency;
    dxj_hot_key hot_keys[DXJ_HOT_KEYS];
    size_t nhot_keys;
    /* Verification. */
    uint64_t verified, mismatched;
    dxj_mismatch mismatches[DXJ_MISMATCHES];
    size_t nmismatches;
    /* Safety. */
    const char *pitr; /* "enabled", "disabled", "unknown", or NULL (memory) */
    /* Time. */
    double duration_s, rows_per_s;
    char started_at[32], finished_at[32]; /* ISO 8601 UTC */
} dxj_report;

typedef enum dxj_log_level { DXJ_LOG_ERROR = 0, DXJ_LOG_WARN, DXJ_LOG_INFO, DXJ_LOG_DEBUG } dxj_log_level;

typedef struct dxj_run_opts {
    atomic_int *stop;  /* set non-zero (from a signal handler) to stop reading and finish */
    /* Called about every progress_ms from the runner's main thread (the caller's), and once
     * more at the end. Counts are rows final so far, including rows not yet committed. */
    void (*progress)(const dxj_progress *p, void *ud);
    uint32_t progress_ms; /* default 500 */
    /* Warnings and information (never secrets); NULL discards them. Called from any of the
     * runner's threads (workers report verification mismatches, failed after-hooks), one
     * call at a time. */
    void (*log)(dxj_log_level level, const char *msg, void *ud);
    void *ud;
    /* Memory backend to use instead of creating one (tests, bench); not freed. Its table
     * is used when it has one (spec.h, dxj_backend_spec.no_create_table). */
    dx_client *client;
} dxj_run_opts;

/*
 * Runs a checked spec (dxj_spec_check) to the end, or until *stop. Fills
 * *rep in every case (rep->started says whether the job got as far as
 * reading input); returns DX_OK when the run completed or was interrupted
 * (look at rep->status and the counts), and an error when the job could not
 * start (input not found, table missing, bad checkpoint: rep->started is
 * false) or hit a fatal error (then rep->status is DXJ_STATUS_FATAL and the
 * counts say what was done).
 */
dx_err dxj_run(dxj_spec *spec, const dxj_run_opts *opts, dxj_report *rep, dx_result *r);

/* Appends the report as JSON (stable key order, documented in README.md). */
dx_err dxj_report_json(const dxj_report *rep, dx_buf *out);

#endif
