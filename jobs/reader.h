/*
 * reader.h - streaming input: CSV (libcsv) or JSON lines, plain or
 * zstd-compressed (plain files, standard input, multi-frame files), cut into
 * chunks of records for the workers.
 *
 * The reader runs on one thread and keeps memory bounded: it holds one
 * decompression window and the chunk being filled. A record remembers where
 * it came from (record ordinal, physical line, byte offset in the
 * decompressed stream) so that a rejected row can be named precisely and a
 * checkpoint can say where to resume. A record that is structurally broken
 * (a CSV row with the wrong number of fields, an unterminated quote, invalid
 * UTF-8, a line longer than the limit) is still delivered, with `error` set,
 * so the worker can reject it and the job goes on; only an unreadable input
 * (I/O error, corrupt or truncated zstd) ends the read with an error.
 *
 * Must never: hold more than one chunk plus one read buffer of input in
 * memory, or lose a record: every record read is in exactly one chunk.
 */
#ifndef DYNOX_JOBS_READER_H
#define DYNOX_JOBS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynox/dynox.h"
#include "spec.h"

#define DXJ_MAX_LINE (4u << 20) /* longest record accepted: 4 MiB (an item is at most 400 KB) */

typedef struct dxj_record {
    uint64_t index;  /* 1-based ordinal among the data records of this input */
    uint64_t line;   /* physical line where the record starts (1-based; CSV header is line 1) */
    uint64_t offset; /* byte offset of its start in the decompressed stream */
    /* CSV: fields in column order, each NUL-terminated (ptr[len] == 0); a field equal to
     * the null marker has ptr == NULL. */
    dx_str *fields;
    uint32_t nfields;
    /* JSONL: the line without its newline. */
    dx_str text;
    const char *error; /* non-NULL: structurally broken, this says why (static or in the arena) */
} dxj_record;

typedef struct dxj_chunk {
    uint64_t seq;        /* 0, 1, 2, ... in input order */
    dxj_record *recs;
    size_t n, cap;
    uint64_t end_offset; /* decompressed offset just past the last record */
    uint64_t in_bytes;   /* raw (compressed) input bytes consumed when the chunk was cut */
    dx_arena arena;      /* owns recs, fields and text */
} dxj_chunk;

/* Frees what a chunk owns; the chunk can be reused (NULL is a no-op). */
void dxj_chunk_clear(dxj_chunk *c);

typedef struct dxj_reader dxj_reader;

/*
 * Opens the input described by `in` (path already resolved; "-" is standard
 * input). Detects compression from the magic bytes and, for DXJ_FMT_AUTO, the
 * format from the extension (.csv, .tsv, .jsonl, .ndjson, .json, with .zst)
 * or else from the first byte ('{' means JSON lines). Reads the CSV header.
 * DX_ERR_IO naming the path and errno text; DX_ERR_PARSE for a bad header.
 */
dx_err dxj_reader_open(const dxj_input *in, const char *path, dxj_reader **out, dx_result *r);
void dxj_reader_free(dxj_reader *rd);

/* The format in use after detection. */
dxj_format dxj_reader_format(const dxj_reader *rd);
/* CSV column names (from the header or the spec); NULL/0 for JSON lines. */
const char *const *dxj_reader_columns(const dxj_reader *rd, size_t *n);
/* The input's display name: the path, or "<stdin>". */
const char *dxj_reader_name(const dxj_reader *rd);

/*
 * Fills `c` (cleared first) with up to max_records records or about
 * max_bytes of record data, whichever comes first. Sets *eof when the input
 * is exhausted (c may still hold the last records). Returns an error only
 * when the input cannot be read further (I/O, corrupt zstd, truncated
 * frame); the records before the failure are in c.
 */
dx_err dxj_reader_next(dxj_reader *rd, dxj_chunk *c, size_t max_records, size_t max_bytes,
                       bool *eof, dx_result *r);

/*
 * Skips the first n data records (resume). Faster than reading chunks: no
 * record is materialised. DX_ERR_IO / DX_ERR_PARSE as dxj_reader_next; sets
 * *eof when the input had fewer records.
 */
dx_err dxj_reader_skip(dxj_reader *rd, uint64_t n, bool *eof, dx_result *r);

/*
 * Restricts the reader to shard i of n (0 <= i < n), before the first read:
 * a plain (uncompressed) JSON-lines file is split by byte ranges (shard i
 * takes the lines that start in its range), anything else by record ordinal
 * (index % n == i). Record ordinals and lines stay those of the whole input.
 */
dx_err dxj_reader_set_shard(dxj_reader *rd, uint32_t i, uint32_t n, dx_result *r);

/* Raw input bytes consumed so far and the input's size (0 when unknown: a pipe). */
void dxj_reader_progress(const dxj_reader *rd, uint64_t *consumed, uint64_t *total);

#endif
