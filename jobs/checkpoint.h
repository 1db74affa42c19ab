/*
 * checkpoint.h - the resume point of a job, written atomically.
 *
 * A checkpoint says: of this input, for this operation, the first `records`
 * records (up to decompressed byte `offset`) are finished -- written,
 * rejected or failed -- and these were the counts and the sizes of the
 * rejects and failures files when that was true. dynox run --resume reads
 * it, truncates the two files back to those sizes (dropping lines of rows
 * that will be done again), skips the finished records and carries the
 * counts forward.
 *
 * After a halt the mark is the stop point (the first row not started), and
 * some rows after it may have been written anyway: those are counted in the
 * checkpoint's counts and listed in `done`, sorted inclusive ranges of record
 * ordinals, so that --resume skips them instead of applying them twice (a
 * range may also span ordinals of other shards, which this job never reads).
 * The set is small: at most the rows read ahead when the job halted. A
 * checkpoint with a non-empty set says version 2, so that a dynox that does
 * not know the set refuses it instead of applying those rows again; without
 * one it says version 1, as before.
 *
 * The file is JSON (one object; keys documented in README.md, "Checkpoints")
 * and is replaced atomically: written to a temporary file in the same
 * directory, fsync'd, renamed over the old one, and the directory fsync'd,
 * so a crash at any moment leaves either the old or the new checkpoint,
 * never a torn one.
 *
 * Must never: leave a partial checkpoint under the real name, or accept one
 * it cannot fully parse.
 */
#ifndef DYNOX_JOBS_CHECKPOINT_H
#define DYNOX_JOBS_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dynox/dynox.h"

#define DXJ_CHECKPOINT_VERSION 2 /* the newest this dynox reads (and writes with `done`) */

typedef struct dxj_checkpoint {
    char input[4096];    /* the input path as the job named it ("-" for stdin) */
    char op[32];         /* operation name, "put", ... */
    uint64_t input_bytes; /* the input's size when known (0: unknown, e.g. a pipe) */
    uint32_t shard_index, shard_count;
    /* Low-water mark: every record before it is finished. */
    uint64_t records;    /* records finished (ordinal of the last finished one) */
    uint64_t offset;     /* decompressed byte offset just past them */
    /* Committed counts over all runs so far. */
    uint64_t rows_in, written, rejected, failed;
    uint64_t superseded, missing, conditional_failed;
    /* Sizes of the rejects / failures files holding exactly the lines of those rows. */
    uint64_t rejects_size, failures_size;
    char updated_at[32]; /* ISO 8601 UTC */
    /* Rows past the mark already written and counted: inclusive ranges of record ordinals,
     * sorted, disjoint, all after the mark ("done_after_mark"). Malloc'd by
     * dxj_checkpoint_read (free with dxj_checkpoint_free); a writer may point it anywhere. */
    uint64_t (*done)[2];
    size_t ndone;
} dxj_checkpoint;

/* Frees what dxj_checkpoint_read allocated (cp->done) and clears it. */
void dxj_checkpoint_free(dxj_checkpoint *cp);

/* true when record ordinal `index` is in the sorted ranges done[0..n). */
bool dxj_checkpoint_done_has(const uint64_t (*done)[2], size_t n, uint64_t index);

/*
 * Writes cp to path atomically (see the file comment). DX_ERR_IO naming the
 * path and the errno text. Thread-safe for distinct paths.
 */
dx_err dxj_checkpoint_write(const char *path, const dxj_checkpoint *cp, dx_result *r);

/*
 * Reads the checkpoint at path into *cp. DX_ERR_IO when it cannot be read
 * (r->message names the path; errno ENOENT is reported as such), DX_ERR_PARSE
 * when it is not a checkpoint of version 1 or 2 (or its ranges are not sorted
 * and after the mark). Free it with dxj_checkpoint_free.
 */
dx_err dxj_checkpoint_read(const char *path, dxj_checkpoint *cp, dx_result *r);

/* Appends cp as JSON (stable key order) to out. */
dx_err dxj_checkpoint_json(const dxj_checkpoint *cp, dx_buf *out);

/*
 * Flushes f's buffers, fsyncs it and stores its size in *size. DX_ERR_IO on
 * failure (name is the file's path, for the message).
 */
dx_err dxj_file_sync(FILE *f, const char *name, uint64_t *size, dx_result *r);

/* Formats wall-clock milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out[32]. */
void dxj_iso8601(uint64_t wall_ms, char out[32]);

#endif
