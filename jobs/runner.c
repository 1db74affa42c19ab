/*
 * runner.c - runs a job: one reader thread, a bounded queue of chunks, N
 * worker threads each driving its own engine, an ordered commit, periodic
 * checkpoints and the final report.
 *
 * DESIGN
 *
 * Threads. The caller's thread runs the runner loop: it starts the others,
 * then wakes at least every 100 ms to watch opts->stop, calls the progress
 * callback every progress_ms and writes a checkpoint about every 2 s. One
 * reader thread cuts the input into chunks (RJ_CHUNK_RECORDS records or
 * about RJ_CHUNK_BYTES of data, whichever comes first) and pushes them to
 * the chunk queue. `workers` worker threads (worker.c) pop chunks, map the
 * rows and drive the operation on their own dx_engine with up to
 * spec.inflight requests pending, taking more rows -- from the current chunk,
 * then the next one -- whenever there is room.
 *
 * Queues and memory. Chunks are allocated once, at the start: 2 * workers +
 * 2 for the queue, plus two per worker (one being filled from, one whose
 * last requests are finishing) and two for the reader and the commit. The
 * reader takes an empty chunk from the pool before it reads, and the chunk
 * returns to the pool only once it is committed. So however large the input,
 * memory is that fixed set of chunks (each with its own arenas: records,
 * mapped rows, reject lines) plus one request slot per request in flight;
 * when the workers or the table fall behind, the reader simply waits. The
 * runner calls no malloc per row once the arenas have grown (a get_* row's
 * dx_item is the library's one allocation per row).
 *
 * Ownership. A chunk belongs to the reader while it is filled, to exactly one
 * worker from the moment it is popped until all its rows are final, then to
 * the commit, then to the pool. Only the owning worker touches its rows, so
 * per-chunk counters need no locks. A row references its chunk (mapped
 * values live in the chunk's arena), which is why a chunk cannot be recycled
 * before its last row is final.
 *
 * Ordering. Rows reach their final states in any order (batches, retries,
 * several workers), but chunks are committed strictly in input order: a
 * worker that finishes a chunk puts it in the `done` ring (indexed by seq
 * modulo the number of chunks, which is enough because no more chunks exist)
 * and whoever finishes chunk `next_seq` commits it and every finished chunk
 * after it. Committing appends the chunk's reject and failure lines to the
 * two files, adds its counts to the committed totals and advances the
 * low-water mark (records finished, decompressed offset). Hence the rejects
 * and failures files are in input order and only ever hold whole finished
 * chunks, and a checkpoint (mark + counts + the files' sizes, all taken under
 * the commit lock) is always consistent. Rows of the same key in different
 * chunks may be written in any order when there are several workers.
 *
 * Shutdown. At the end of the input the reader closes the chunk queue;
 * workers drain it, finish every row and exit; the runner loop joins them,
 * writes the final checkpoint and the report. A stop (opts->stop) or a fatal
 * error (authentication, table gone, input unreadable, a rejects file that
 * cannot be written) halts the job: the pool is closed so the reader stops
 * at once; each worker marks the rows it has not sent NOT STARTED and frees
 * its engine, which lets attempts already sent finish with their real
 * outcome (a write that happened is reported as written) and completes the
 * calls still waiting for a retry or for the rate limiter as cancelled --
 * their rows are not started too (no attempt of theirs was applied); the
 * callbacks that runs submit nothing new. So a stop takes at most one
 * request's time, not the remaining backoffs.
 *
 * Not started is not an outcome: such a row has no line in any file and is
 * not in rows_in. They need not be the tail of what was read (a cancelled
 * retry can sit before rows that were written), so the commit cuts the input
 * at the first one, the stop point: its chunk is committed only up to that
 * row, and the mark stays there (the checkpoint's mark is the stop point).
 * Rows after it that did finish are handled by their state (past_stop):
 *   - written (a request already in flight): applying it again would not be
 *     safe (a get_delete would find no item and reject it, a versioned
 *     get_update would bump twice and run its hooks twice, a conditional put
 *     or a must_exist delete would fail its condition), so it is committed
 *     now -- counted in rows_in/written (done_past_mark) -- and its record
 *     ordinal goes into the job's "done past the mark" set (dset, sorted
 *     ranges), which the checkpoint stores (done_after_mark);
 *   - rejected or failed: not committed (after_stop), its line dropped, so
 *     that --resume does it again and the files stay in input order.
 * --resume skips the rows in the checkpoint's set (worker.c: ROW_SKIPPED,
 * counted in skipped_done, committed like any row before a stop point) and
 * does every other row from the mark: over all runs each input row is
 * counted and applied once. If the resumed run halts too, its checkpoint
 * lists its own rows written past its new stop point, the skipped rows past
 * it, and the earlier set's rows beyond every row it looked at (done_set).
 * The set is bounded by the rows read ahead at the halt (all chunks exist at
 * once). Without a checkpoint the report still says where the stop point is
 * and how many rows were not started. The report says INTERRUPTED or FATAL.
 * A chunk whose reject/failure lines cannot be written is cut the same way,
 * at its first row (a committed row always has its line); after such an
 * error no checkpoint is written any more, since what the files hold is
 * unknown: the last one stands (report: checkpoint_stale).
 *
 * Accounting. rows_in = written + rejected + failed is checked at the end,
 * along with "every row read was committed (counted, or skipped as done by
 * an earlier run), not started, or redone after the stop point" (rows_read =
 * rows_in + not_started + after_stop + skipped_done); a difference is a bug
 * and the report says so in its error field.
 *
 * Must never: write to stdout or stderr (warnings go through opts->log),
 * commit a chunk before an earlier one, commit a row after the stop point
 * other than a written one (which must then be in the set), or lose a row.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "checkpoint.h"
#include "runner_internal.h"

#define CHECKPOINT_MS 2000
#define WATCH_MS 100

/* ---------------------------------------------------------------- shared helpers */

bool rj_fatal_err(dx_err e) {
    return e == DX_ERR_AUTH || e == DX_ERR_RESOURCE_NOT_FOUND || e == DX_ERR_CONFIG ||
           e == DX_ERR_NOMEM || e == DX_ERR_IO;
}

void rj_log(rjob *job, dxj_log_level level, const char *fmt, ...) {
    if (!job->opts->log) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&job->log_mu);
    job->opts->log(level, msg, job->opts->ud);
    pthread_mutex_unlock(&job->log_mu);
}

void rj_halt(rjob *job, int why, const dx_result *res) {
    pthread_mutex_lock(&job->mu);
    if (why == HALT_FATAL && job->fatal.err == DX_OK) {
        if (res) job->fatal = *res;
        if (job->fatal.err == DX_OK) job->fatal.err = DX_ERR_UNKNOWN;
        if (!job->fatal.message[0])
            snprintf(job->fatal.message, sizeof job->fatal.message, "%s",
                     dx_strerror(job->fatal.err));
    }
    int cur = atomic_load(&job->halt);
    if (why == HALT_FATAL || cur == HALT_NONE) atomic_store(&job->halt, why);
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
    if (job->pool) dxj_queue_close(job->pool); /* wakes the reader */
}

uint64_t rj_rate_wait(rjob *job) {
    if (!atomic_load(&job->rate_on)) return 0;
    uint64_t wait = 0;
    pthread_mutex_lock(&job->mu);
    uint64_t now = dx_now_ns(); /* under the lock: another thread may have moved rate_last_ns */
    double dt = now > job->rate_last_ns ? (double)(now - job->rate_last_ns) / 1e9 : 0;
    if (now > job->rate_last_ns) job->rate_last_ns = now;
    job->rate_tokens += dt * job->rate;
    double burst = job->rate * 0.2 > RJ_BATCH ? job->rate * 0.2 : RJ_BATCH;
    if (job->rate_tokens > burst) job->rate_tokens = burst;
    if (job->rate_tokens < 0) wait = (uint64_t)(-job->rate_tokens / job->rate * 1e9) + 100000u;
    pthread_mutex_unlock(&job->mu);
    return wait;
}

void rj_rate_charge(rjob *job, double n) {
    if (!atomic_load(&job->rate_on)) return;
    pthread_mutex_lock(&job->mu);
    job->rate_tokens -= n;
    pthread_mutex_unlock(&job->mu);
}

/* ---------------------------------------------------------------- commit */

static void chunk_reset(rchunk *ch) {
    dx_arena_reset(&ch->work);
    dx_buf_clear(&ch->rejects.buf);
    dx_buf_clear(&ch->failures.buf);
    ch->rejects.refs = ch->failures.refs = NULL;
    ch->rejects.n = ch->failures.n = 0;
    ch->rejects.unsorted = ch->failures.unsorted = false;
    ch->rows = NULL;
    ch->next = ch->open = 0;
    ch->written = ch->rejected = ch->failed = 0;
    ch->superseded = ch->missing = ch->condfail = 0;
    ch->not_started = ch->skipped = 0;
}

static int lref_cmp(const void *x, const void *y) {
    const lref *a = x, *b = y;
    return a->row < b->row ? -1 : a->row > b->row;
}

/* Writes a chunk's lines of the rows before row `upto`, in row (input) order. */
static bool write_lines(FILE *f, lines *ls, size_t upto) {
    if (!f || !ls->buf.len) return true;
    if (!ls->refs) return fwrite(ls->buf.ptr, 1, ls->buf.len, f) == ls->buf.len;
    if (!ls->unsorted) {
        /* In row order already: one write of the lines before the cut. */
        size_t end = ls->buf.len;
        for (size_t i = 0; i < ls->n; i++)
            if (ls->refs[i].row >= upto) {
                end = ls->refs[i].off;
                break;
            }
        return fwrite(ls->buf.ptr, 1, end, f) == end;
    }
    qsort(ls->refs, ls->n, sizeof *ls->refs, lref_cmp);
    for (size_t i = 0; i < ls->n && ls->refs[i].row < upto; i++)
        if (fwrite(ls->buf.ptr + ls->refs[i].off, 1, ls->refs[i].len, f) != ls->refs[i].len)
            return false;
    return true;
}

typedef struct counts {
    uint64_t written, rejected, failed, superseded, missing, condfail, skipped;
} counts;

/* The counts of a chunk's rows before row k: all of them, or a cut at the stop point. */
static counts chunk_counts(const rchunk *ch, size_t k) {
    counts c = {0};
    if (k == ch->in.n) {
        c = (counts){ch->written, ch->rejected, ch->failed, ch->superseded, ch->missing,
                     ch->condfail, ch->skipped};
        return c;
    }
    for (size_t i = 0; i < k; i++) {
        const rrow *r = &ch->rows[i];
        c.written += r->state == ROW_WRITTEN;
        c.rejected += r->state == ROW_REJECTED;
        c.failed += r->state == ROW_FAILED;
        c.superseded += r->superseded;
        c.missing += r->created || r->missing;
        c.condfail += r->condfail;
        c.skipped += r->state == ROW_SKIPPED;
    }
    return c;
}

/*
 * How many rows of a chunk to commit: all of them, or -- once the job halted
 * -- the rows before the first one not started (none after an earlier stop
 * point). Called with commit_mu held.
 */
static size_t commit_upto(const rjob *job, const rchunk *ch) {
    if (job->stop_record) return 0;
    if (!ch->not_started) return ch->in.n;
    /* A line file without its row index cannot be cut: then the whole chunk goes again. */
    if ((ch->rejects.buf.len && !ch->rejects.refs) || (ch->failures.buf.len && !ch->failures.refs))
        return 0;
    size_t k = 0;
    while (k < ch->in.n && ch->rows[k].state != ROW_NOT_STARTED) k++;
    return k;
}

/*
 * Adds record ordinal idx, the row after the last one seen past the stop
 * point, to the rows done past the mark. false when out of memory. Called with
 * commit_mu held.
 */
static bool done_add(rjob *job, uint64_t idx) {
    if (job->done_open && job->ndset) {
        job->dset[job->ndset - 1][1] = idx;
        return true;
    }
    if (job->ndset == job->capdset) {
        size_t cap = job->capdset ? job->capdset * 2 : 64;
        uint64_t(*d)[2] = realloc(job->dset, cap * sizeof *d);
        if (!d) return false;
        job->dset = d;
        job->capdset = cap;
    }
    job->dset[job->ndset][0] = job->dset[job->ndset][1] = idx;
    job->ndset++;
    job->done_open = true;
    return true;
}

/*
 * The rows of a chunk from row `from` on, all after the stop point. Written
 * ones are committed now -- counted, and listed as done past the mark so
 * that a resume skips them instead of applying them twice; rows an earlier
 * run wrote (skipped) stay listed. Rejected and failed ones are not committed
 * (after_stop, their lines dropped): a resume does them again, which keeps
 * the files in input order. Called with commit_mu held.
 */
static void past_stop(rjob *job, const rchunk *ch, size_t from) {
    if (from >= ch->in.n) return;
    job->seen_index = ch->in.recs[ch->in.n - 1].index;
    if (!ch->rows) { /* start_chunk ran out of memory: every row failed */
        job->after_stop += ch->in.n - from;
        job->done_open = false;
        return;
    }
    for (size_t i = from; i < ch->in.n; i++) {
        const rrow *r = &ch->rows[i];
        uint64_t idx = ch->in.recs[i].index;
        bool listed = false;
        switch (r->state) {
        case ROW_WRITTEN:
            if (!job->done_lost && done_add(job, idx)) {
                listed = true;
                job->rows_in++;
                job->written++;
                job->done_past_mark++;
                job->superseded += r->superseded;
                job->missing += r->created || r->missing;
                job->condfail += r->condfail;
            } else {
                job->after_stop++; /* cannot be listed: a resume applies it again */
            }
            break;
        case ROW_SKIPPED:
            job->skipped++;
            listed = !job->done_lost && done_add(job, idx);
            if (!listed && !job->done_lost) {
                /* Losing it would have a resume apply it again: no checkpoint from now on. */
                job->done_lost = true;
                dx_result res;
                dx_fail(&res, DX_ERR_NOMEM, NULL,
                        "out of memory listing the rows done past the stop point");
                rj_halt(job, HALT_FATAL, &res);
            }
            break;
        case ROW_NOT_STARTED:
            job->not_started++;
            break;
        default:
            job->after_stop++;
            break;
        }
        if (!listed) job->done_open = false;
    }
}

/*
 * Called with commit_mu held. A chunk whose lines cannot be written (or that
 * comes after such a chunk) is not committed: its first row is the stop point,
 * so that no committed row lacks its line.
 */
static void commit_one(rjob *job, rchunk *ch) {
    size_t k = commit_upto(job, ch);
    bool stopped_before = job->stop_record != 0;
    if (job->io_err != DX_OK) k = 0;
    if (k > 0) {
        bool ok = write_lines(job->rejects_f, &ch->rejects, k);
        const char *which = job->rejects_path;
        if (ok) {
            ok = write_lines(job->failures_f, &ch->failures, k);
            which = job->failures_path;
        }
        if (!ok) {
            dx_result res;
            dx_result_clear(&res);
            job->io_err = dx_fail(&res, DX_ERR_IO, NULL, "cannot write %s: %s", which,
                                  strerror(errno));
            rj_halt(job, HALT_FATAL, &res);
            k = 0;
        }
    }
    if (k < ch->in.n && !stopped_before) {
        job->stop_record = ch->in.recs[k].index;
        job->stop_line = ch->in.recs[k].line;
    }
    counts c = chunk_counts(ch, k);
    job->rows_in += k - c.skipped;
    job->written += c.written;
    job->rejected += c.rejected;
    job->failed += c.failed;
    job->superseded += c.superseded;
    job->missing += c.missing;
    job->condfail += c.condfail;
    job->skipped += c.skipped;
    if (k > 0) job->seen_index = ch->in.recs[k - 1].index;
    past_stop(job, ch, k);
    if (stopped_before) return; /* the mark stays at the stop point */
    job->mark_records += k;
    job->mark_offset = k == ch->in.n ? ch->in.end_offset : ch->in.recs[k].offset;
}

void rj_chunk_finished(rjob *job, rchunk *ch) {
    pthread_mutex_lock(&job->commit_mu);
    job->done[ch->seq % job->nall] = ch;
    for (;;) {
        rchunk *c = job->done[job->next_seq % job->nall];
        if (!c || c->seq != job->next_seq) break;
        job->done[job->next_seq % job->nall] = NULL;
        commit_one(job, c);
        job->next_seq++;
        chunk_reset(c);
        dxj_queue_try_push(job->pool, c); /* fails only once the pool is closed */
    }
    pthread_mutex_unlock(&job->commit_mu);
}

/* ---------------------------------------------------------------- reader thread */

static void *reader_main(void *arg) {
    rjob *job = arg;
    uint64_t seq = 0;
    uint64_t left = UINT64_MAX;
    if (job->spec->limit)
        left = job->spec->limit > job->mark_records ? job->spec->limit - job->mark_records : 0;
    while (atomic_load(&job->halt) == HALT_NONE && left > 0) {
        rchunk *ch = dxj_queue_pop(job->pool);
        if (!ch) break;
        if (atomic_load(&job->halt) != HALT_NONE) break;
        bool eof = false;
        dx_result res;
        dx_result_clear(&res);
        dx_err e = dxj_reader_next(job->rd, &ch->in, RJ_CHUNK_RECORDS, RJ_CHUNK_BYTES, &eof, &res);
        if (ch->in.n > left) {
            ch->in.end_offset = ch->in.recs[left].offset;
            ch->in.n = (size_t)left;
            eof = true;
        }
        left -= ch->in.n;
        uint64_t consumed, total;
        dxj_reader_progress(job->rd, &consumed, &total);
        atomic_store(&job->in_bytes, consumed);
        if (ch->in.n) {
            ch->seq = seq++;
            atomic_fetch_add(&job->rows_read, ch->in.n);
            if (!dxj_queue_push(job->chunks, ch)) break; /* not closed by anyone else: cannot happen */
        } else {
            dxj_queue_try_push(job->pool, ch);
        }
        if (e != DX_OK) {
            dx_result fr;
            dx_result_clear(&fr);
            dx_fail(&fr, e, NULL, "input %s became unreadable: %s", job->input_name, res.message);
            rj_halt(job, HALT_FATAL, &fr);
            break;
        }
        if (eof) break;
    }
    atomic_store(&job->reader_done, 1);
    dxj_queue_close(job->chunks);
    return NULL;
}

/* ---------------------------------------------------------------- setup */

typedef struct setup {
    dx_client *own_client;
    dxj_backend_conn conn;  /* what own_client was made from (zero with opts->client) */
    dxj_checkpoint cp;      /* what the checkpoint records (identity + base counts) */
    bool resumed;
    char *input_path, *checkpoint_path;
    dx_client_stats stats0;
    double table_rcu, table_wcu; /* provisioned capacity (0: on-demand or unknown) */
} setup;

/* A client from st->conn with these options; it replaces the one the job had. */
static dx_err new_client(rjob *job, setup *st, const dx_client_opts *co, dx_result *r) {
    dx_client *c = NULL;
    dx_err e = dxj_backend_client(&st->conn, co, &c, r);
    if (e) return e;
    dx_client_free(st->own_client);
    st->own_client = c;
    job->client = c;
    return DX_OK;
}

static dx_client_opts client_opts(const dxj_spec *s, double max_wcu, double max_rcu) {
    dx_client_opts co = {0};
    co.retry = s->retry;
    co.rate.max_wcu = max_wcu;
    co.rate.max_rcu = max_rcu;
    co.rate.adaptive = true;
    return co;
}

/* The client the spec's backend section describes (when the caller gave none). */
static dx_err open_client(rjob *job, setup *st, dx_result *r) {
    const dxj_spec *s = job->spec;
    dx_err e = dxj_backend_open(&st->conn, &s->backend, s->dry_run, NULL, r);
    if (e) return e;
    char where[1200];
    dxj_backend_describe(&st->conn, where, sizeof where);
    rj_log(job, DXJ_LOG_INFO, "table %s on %s", job->table, where);
    dx_client_opts co = client_opts(s, s->max_wcu, s->max_rcu);
    if (!st->conn.memory) {
        st->conn.ddb.owns_provider = false; /* kept for a second client with capacity caps */
        if (s->inflight > 64) st->conn.ddb.max_inflight = s->inflight;
        return new_client(job, st, &co, r);
    }
    dx_mem_opts *mo = &st->conn.mem;
    if (mo->simulate_capacity && s->backend.seed && s->backend.sim_wcu > 0) {
        /*
         * The seed is the table as it is before the job, not work the job does: it must not
         * be throttled by the simulated capacity (nor teach the adaptive limiter that the
         * table is slow). The memory backend has no way to load a table outside its
         * capacity, so the table starts with enough saved-up capacity for the seed plus the
         * usual one second of burst.
         */
        char *seed = dxj_spec_path(s, s->backend.seed);
        double units = 0;
        e = seed ? dxj_seed_units(seed, &units, r)
                 : dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
        free(seed);
        if (e) return e;
        double ms = 1000.0 + 1000.0 * units / s->backend.sim_wcu;
        mo->burst_ms = ms > 4e9 ? 4000000000u : (uint32_t)ms;
    }
    if (s->capacity_share > 0 && mo->simulate_capacity) {
        double w = s->backend.sim_wcu * s->capacity_share, rd = s->backend.sim_rcu * s->capacity_share;
        if (w > 0 && (co.rate.max_wcu == 0 || w < co.rate.max_wcu)) co.rate.max_wcu = w;
        if (rd > 0 && (co.rate.max_rcu == 0 || rd < co.rate.max_rcu)) co.rate.max_rcu = rd;
    }
    return new_client(job, st, &co, r);
}

static bool key_matches(const dx_model *m, const dx_key_schema *k, char *why, size_t n) {
    const dx_attr_def *h = dx_model_hash_key(m), *rk = dx_model_range_key(m);
    dx_type ht = dx_attr_type_storage(h->type), rt = rk ? dx_attr_type_storage(rk->type) : DX_T_NONE;
    bool ok = k->hash && strcmp(k->hash, h->name) == 0 && k->hash_type == ht &&
              (rk ? (k->range && strcmp(k->range, rk->name) == 0 && k->range_type == rt)
                  : k->range == NULL);
    if (!ok)
        snprintf(why, n, "table key %s (%s)%s%s%s%s%s, model %s key %s (%s)%s%s%s%s%s",
                 k->hash ? k->hash : "?", dx_type_name(k->hash_type), k->range ? " + " : "",
                 k->range ? k->range : "", k->range ? " (" : "",
                 k->range ? dx_type_name(k->range_type) : "", k->range ? ")" : "",
                 dx_model_name(m), h->name, dx_type_name(ht), rk ? " + " : "",
                 rk ? rk->name : "", rk ? " (" : "", rk ? dx_type_name(rt) : "", rk ? ")" : "");
    return ok;
}

/*
 * DescribeTable, key schema, PITR, capacity share. On the memory backend a
 * missing table is created unless backend.no_create_table is set and no
 * seed will fill it (spec.h, dxj_backend_spec).
 */
static dx_err check_table(rjob *job, setup *st, dxj_report *rep, bool memory, dx_result *r) {
    const dxj_spec *s = job->spec;
    dx_arena a = {0};
    dx_table_desc d;
    dx_result res;
    dx_result_clear(&res);
    dx_err e = dx_describe_table(job->client, job->table, &a, &d, &res);
    bool may_create = !s->backend.no_create_table || s->backend.seed; /* a seed creates its table */
    if (e == DX_ERR_RESOURCE_NOT_FOUND && memory && may_create) {
        dx_table_def def;
        dx_model_table_def(job->model, &def);
        def.name = job->table;
        if (s->backend.sim_wcu > 0 || s->backend.sim_rcu > 0) {
            def.wcu = s->backend.sim_wcu > 0 ? s->backend.sim_wcu : 1e9;
            def.rcu = s->backend.sim_rcu > 0 ? s->backend.sim_rcu : 1e9;
        }
        if ((e = dx_create_table(job->client, &def, &res)) != DX_OK && e != DX_ERR_RESOURCE_IN_USE) {
            dx_arena_release(&a);
            return dx_fail(r, e, NULL, "cannot create table %s on the memory backend: %s",
                           job->table, res.message);
        }
        dx_result_clear(&res);
        e = dx_describe_table(job->client, job->table, &a, &d, &res);
    }
    if (e == DX_ERR_RESOURCE_NOT_FOUND) {
        dx_arena_release(&a);
        if (memory && s->backend.no_create_table)
            return dx_fail(r, e, NULL,
                           "table %s does not exist on the memory backend, and "
                           "backend.create_table is false (create it before the job, or give "
                           "backend.seed to load it from)",
                           job->table);
        if (memory)
            return dx_fail(r, e, NULL, "table %s does not exist on the memory backend", job->table);
        return dx_fail(r, e, NULL,
                       "table %s does not exist in %s at %s (create it with `dynox table create`, "
                       "or check --region / --endpoint)",
                       job->table, st->conn.env.settings.region,
                       st->conn.env.settings.endpoint.url);
    }
    if (e) {
        dx_arena_release(&a);
        *r = res;
        return dx_fail(r, e, NULL, "DescribeTable %s failed: %s", job->table, res.message);
    }
    char why[512];
    if (!key_matches(job->model, &d.key, why, sizeof why)) {
        dx_arena_release(&a);
        return dx_fail(r, DX_ERR_CONFIG, NULL, "table %s does not match model %s: %s", job->table,
                       dx_model_name(job->model), why);
    }
    double wcu = d.wcu, rcu = d.rcu;
    bool on_demand = d.on_demand;
    if (!on_demand) {
        st->table_wcu = wcu;
        st->table_rcu = rcu;
    }
    if (!memory) {
        dx_call call = {.req = {.op = DX_OP_DESCRIBE_BACKUPS, .table = job->table}, .arena = &a};
        if (dx_client_call(job->client, &call) == DX_OK) {
            rep->pitr = call.resp.table.pitr ? "enabled" : "disabled";
            if (!call.resp.table.pitr && !s->dry_run && dxj_op_destructive(s->operation.op))
                rj_log(job, DXJ_LOG_WARN,
                       "point-in-time recovery is off for table %s: a mistake in this job cannot "
                       "be undone by a restore",
                       job->table);
            else if (!call.resp.table.pitr)
                rj_log(job, DXJ_LOG_WARN, "point-in-time recovery is off for table %s",
                       job->table);
        } else {
            rep->pitr = "unknown";
            rj_log(job, DXJ_LOG_WARN,
                   "could not read the backup settings of table %s (%s); continuing", job->table,
                   call.res.message);
        }
        if (s->capacity_share > 0) {
            if (on_demand) {
                rj_log(job, DXJ_LOG_WARN,
                       "table %s is on-demand: --capacity-share has no provisioned capacity to "
                       "share and sets no cap",
                       job->table);
            } else {
                double mw = wcu * s->capacity_share, mr = rcu * s->capacity_share;
                if (s->max_wcu > 0 && s->max_wcu < mw) mw = s->max_wcu;
                if (s->max_rcu > 0 && s->max_rcu < mr) mr = s->max_rcu;
                rj_log(job, DXJ_LOG_INFO,
                       "capacity share %.0f%% of table %s: at most %.1f WCU/s and %.1f RCU/s",
                       s->capacity_share * 100, job->table, mw, mr);
                if (st->own_client) {
                    dx_arena_release(&a);
                    dx_client_opts co = client_opts(s, mw, mr);
                    return new_client(job, st, &co, r);
                }
            }
        }
    }
    dx_arena_release(&a);
    return DX_OK;
}

static bool ident_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* true when placeholder ph (":v" or "#n") occurs in text as a whole token. */
static bool uses_placeholder(const char *text, const char *ph, size_t n) {
    for (const char *p = strstr(text, ph); p; p = strstr(p + 1, ph)) {
        if (!ident_char(p[n]) && (p == text || !ident_char(p[-1]))) return true;
    }
    return false;
}

/* The spec's condition, its #names and its :values, and must_exist, built once. */
static dx_err build_conditions(rjob *job, dx_result *r) {
    const dxj_operation *op = &job->spec->operation;
    dx_arena *a = &job->cond_arena;
    dx_buf text = {0};
    dx_err e = DX_OK;
    if (op->values_json && op->values_json[0]) {
        dx_value v;
        dx_result res;
        dx_result_clear(&res);
        if (dx_decode_plain(a, op->values_json, strlen(op->values_json), &v, &res) != DX_OK ||
            v.type != DX_T_M)
            return dx_fail(r, DX_ERR_CONFIG, "operation.values",
                           "operation.values must be a JSON object of \":name\": value%s%s",
                           res.message[0] ? ": " : "", res.message);
        for (uint32_t i = 0; i < v.n; i++) {
            const dx_member *m = &v.u.members[i];
            if (m->name[0] != ':' || m->name_len < 2)
                return dx_fail(r, DX_ERR_CONFIG, "operation.values",
                               "operation.values: '%s' must start with ':' (e.g. \":min\")",
                               m->name);
            if (!op->condition || !uses_placeholder(op->condition, m->name, m->name_len))
                return dx_fail(r, DX_ERR_CONFIG, "operation.values",
                               "operation.values: %s is not used in operation.condition (DynamoDB "
                               "rejects unused values)",
                               m->name);
        }
        dx_value *vv = dx_arena_alloc(a, sizeof *vv);
        if (!vv) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
        *vv = v;
        job->cond_values = vv->n ? vv : NULL;
    }
    if (op->condition && op->condition[0]) {
        dx_value names;
        dx_result res;
        dx_result_clear(&res);
        if ((e = dx_expr_names_for(a, op->condition, &names, &res)) != DX_OK)
            return e == DX_ERR_NOMEM ? dx_fail(r, e, NULL, "out of memory")
                                     : dx_fail(r, DX_ERR_CONFIG, "operation.condition",
                                               "operation.condition: %s", res.message);
        job->user_cond = dx_arena_strdup(a, op->condition);
        if (names.n) {
            dx_value *nv = dx_arena_alloc(a, sizeof *nv);
            if (!nv) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
            *nv = names;
            job->user_names = nv;
        }
        dx_buf_printf(&text, "(%s)", op->condition);
    }
    bool must = op->must_exist &&
                (job->op == DXJ_OP_UPDATE_BY_KEY || job->op == DXJ_OP_DELETE_BY_KEY);
    dx_map_builder all = {.arena = a};
    if (job->user_names)
        for (uint32_t i = 0; i < job->user_names->n; i++) {
            dx_value *slot = dx_mapb_add(&all, job->user_names->u.members[i].name,
                                         job->user_names->u.members[i].name_len);
            if (!slot) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
            *slot = job->user_names->u.members[i].value;
        }
    if (must) {
        if (text.len) dx_buf_puts(&text, " AND ");
        dx_buf_puts(&text, "attribute_exists(#dxhash)");
        dx_value *slot = dx_mapb_add(&all, "#dxhash", 7);
        if (!slot) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
        *slot = dx_vs(dx_model_hash_key(job->model)->name);
    }
    if (text.len) {
        job->cond = dx_arena_strndup(a, text.ptr, text.len);
        if (all.n) {
            dx_value *nv = dx_arena_alloc(a, sizeof *nv);
            if (!nv) e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
            else {
                *nv = dx_mapb_finish(&all);
                job->cond_names = nv;
            }
        }
    }
    dx_buf_free(&text);
    return e;
}

/* Resume: read and check the checkpoint, cut the rejects/failures files back, skip. */
static dx_err resume(rjob *job, setup *st, const char *rejects, const char *failures,
                     dx_result *r) {
    dxj_checkpoint cp;
    dx_err e = dxj_checkpoint_read(st->checkpoint_path, &cp, r);
    if (e) return e;
    /* The set of rows done past the mark belongs to the job from here (free_job frees it). */
    job->prior = (const uint64_t(*)[2])cp.done;
    if (strcmp(cp.input, st->cp.input) != 0 || strcmp(cp.op, st->cp.op) != 0 ||
        cp.shard_index != st->cp.shard_index || cp.shard_count != st->cp.shard_count)
        return dx_fail(r, DX_ERR_CONFIG, "checkpoint",
                       "checkpoint %s belongs to another job (input %s, op %s, shard %u/%u); this "
                       "job is input %s, op %s, shard %u/%u",
                       st->checkpoint_path, cp.input, cp.op, cp.shard_index, cp.shard_count,
                       st->cp.input, st->cp.op, st->cp.shard_index, st->cp.shard_count);
    if (cp.input_bytes && st->cp.input_bytes && cp.input_bytes != st->cp.input_bytes)
        return dx_fail(r, DX_ERR_CONFIG, "checkpoint",
                       "input %s changed since checkpoint %s was written (%" PRIu64
                       " bytes then, %" PRIu64 " now): resuming would skip the wrong rows",
                       cp.input, st->checkpoint_path, cp.input_bytes, st->cp.input_bytes);
    const char *paths[2] = {rejects, failures};
    uint64_t sizes[2] = {cp.rejects_size, cp.failures_size};
    for (int i = 0; i < 2; i++) {
        if (!paths[i]) continue;
        struct stat sb;
        if (stat(paths[i], &sb) != 0) {
            if (errno == ENOENT && sizes[i] == 0) continue;
            return dx_fail(r, DX_ERR_CONFIG, "checkpoint",
                           "cannot resume: %s (%" PRIu64 " bytes at the checkpoint): %s", paths[i],
                           sizes[i], strerror(errno));
        }
        if ((uint64_t)sb.st_size < sizes[i])
            return dx_fail(r, DX_ERR_CONFIG, "checkpoint",
                           "cannot resume: %s is %" PRIu64 " bytes, shorter than the %" PRIu64
                           " the checkpoint recorded",
                           paths[i], (uint64_t)sb.st_size, sizes[i]);
        if (truncate(paths[i], (off_t)sizes[i]) != 0)
            return dx_fail(r, DX_ERR_IO, NULL, "cannot truncate %s: %s", paths[i],
                           strerror(errno));
    }
    bool eof = false;
    if (cp.records && (e = dxj_reader_skip(job->rd, cp.records, &eof, r)) != DX_OK) return e;
    st->cp.records = cp.records;
    st->cp.offset = cp.offset;
    st->cp.rows_in = cp.rows_in;
    st->cp.written = cp.written;
    st->cp.rejected = cp.rejected;
    st->cp.failed = cp.failed;
    st->cp.superseded = cp.superseded;
    st->cp.missing = cp.missing;
    st->cp.conditional_failed = cp.conditional_failed;
    job->mark_records = cp.records;
    job->mark_offset = cp.offset;
    job->nprior = cp.ndone;
    st->resumed = true;
    uint64_t ndone = 0;
    for (size_t i = 0; i < cp.ndone; i++) ndone += cp.done[i][1] - cp.done[i][0] + 1;
    rj_log(job, DXJ_LOG_INFO,
           "resuming %s after %" PRIu64 " finished records (%" PRIu64 " written, %" PRIu64
           " rejected, %" PRIu64 " failed so far); %" PRIu64
           " rows after them already written are skipped",
           cp.input, cp.records, cp.written, cp.rejected, cp.failed, ndone);
    return DX_OK;
}

static dx_err open_out(const char *path, bool append, FILE **out, dx_result *r) {
    *out = NULL;
    if (!path) return DX_OK;
    *out = fopen(path, append ? "ab" : "wb");
    if (!*out) return dx_fail(r, DX_ERR_IO, NULL, "cannot open %s: %s", path, strerror(errno));
    return DX_OK;
}

/* ---------------------------------------------------------------- checkpoints */

/*
 * The rows done past the mark, for a checkpoint: those this run listed (rows
 * past its stop point written now or by an earlier run), then the resumed
 * checkpoint's that lie beyond every row this run looked at (not read, or
 * not committed yet). Malloc'd into cp->done. Called with commit_mu held.
 */
static dx_err done_set(const rjob *job, dxj_checkpoint *cp, dx_result *r) {
    cp->done = NULL;
    cp->ndone = 0;
    if (!job->ndset && !job->nprior) return DX_OK;
    uint64_t(*out)[2] = malloc((job->ndset + job->nprior) * sizeof *out);
    if (!out) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory writing the checkpoint");
    size_t n = job->ndset;
    if (n) memcpy(out, job->dset, n * sizeof *out);
    for (size_t i = 0; i < job->nprior; i++) {
        if (job->prior[i][1] <= job->seen_index) continue;
        uint64_t lo = job->prior[i][0] > job->seen_index ? job->prior[i][0] : job->seen_index + 1;
        if (n && out[n - 1][1] + 1 >= lo) {
            out[n - 1][1] = job->prior[i][1];
        } else {
            out[n][0] = lo;
            out[n][1] = job->prior[i][1];
            n++;
        }
    }
    cp->done = out;
    cp->ndone = n;
    return DX_OK;
}

static dx_err write_checkpoint(rjob *job, setup *st, dx_result *r) {
    dxj_checkpoint cp = st->cp;
    dx_err e = DX_OK;
    cp.done = NULL;
    cp.ndone = 0;
    pthread_mutex_lock(&job->commit_mu);
    cp.records = job->mark_records;
    cp.offset = job->mark_offset;
    cp.rows_in += job->rows_in;
    cp.written += job->written;
    cp.rejected += job->rejected;
    cp.failed += job->failed;
    cp.superseded += job->superseded;
    cp.missing += job->missing;
    cp.conditional_failed += job->condfail;
    /* After a write error nobody knows what the files hold: the last checkpoint stands. */
    if (job->io_err != DX_OK)
        e = dx_fail(r, DX_ERR_IO, NULL,
                    "a rejects/failures file could not be written: the last checkpoint stands");
    else if (job->done_lost)
        e = dx_fail(r, DX_ERR_NOMEM, NULL,
                    "the rows done past the stop point could not be listed: the last checkpoint "
                    "stands");
    if (!e) e = done_set(job, &cp, r);
    /* The files must hold what the counts say before the checkpoint says so. */
    if (!e && job->rejects_f)
        e = dxj_file_sync(job->rejects_f, job->rejects_path, &cp.rejects_size, r);
    if (!e && job->failures_f)
        e = dxj_file_sync(job->failures_f, job->failures_path, &cp.failures_size, r);
    pthread_mutex_unlock(&job->commit_mu);
    if (!e) {
        dxj_iso8601(dx_wall_ms(), cp.updated_at);
        e = dxj_checkpoint_write(st->checkpoint_path, &cp, r);
    }
    if (!e)
        rj_log(job, DXJ_LOG_DEBUG,
               "checkpoint: %" PRIu64 " records finished (offset %" PRIu64 "), %zu ranges done "
               "past the mark",
               cp.records, cp.offset, cp.ndone);
    dxj_checkpoint_free(&cp);
    return e;
}

/* ---------------------------------------------------------------- the run */

static void progress_now(rjob *job, setup *st, uint64_t t0) {
    if (!job->opts->progress) return;
    dxj_progress p = {0};
    /* Rows final so far, committed or not: the workers' own counters. */
    for (uint32_t i = 0; i < job->nworkers; i++) {
        rworker *w = &job->workers[i];
        p.written += atomic_load_explicit(&w->live_written, memory_order_relaxed);
        p.rejected += atomic_load_explicit(&w->live_rejected, memory_order_relaxed);
        p.failed += atomic_load_explicit(&w->live_failed, memory_order_relaxed);
    }
    p.rows_in = atomic_load(&job->rows_read);
    dx_client_stats cs;
    dx_client_stats_get(job->client, &cs);
    p.throttles = cs.throttles - st->stats0.throttles;
    p.retries = cs.retries - st->stats0.retries;
    p.in_bytes = atomic_load(&job->in_bytes);
    p.in_total = st->cp.input_bytes;
    p.elapsed_s = (double)(dx_now_ms() - t0) / 1000.0;
    job->opts->progress(&p, job->opts->ud);
}

static void fill_report(rjob *job, setup *st, dxj_report *rep, uint64_t t0) {
    rep->verified = rep->mismatched = 0;
    rep->rows_in = job->rows_in;
    rep->written = job->written;
    rep->rejected = job->rejected;
    rep->failed = job->failed;
    rep->superseded = job->superseded;
    rep->missing = job->missing;
    rep->conditional_failed = job->condfail;
    rep->not_started = job->not_started;
    rep->after_stop = job->after_stop;
    rep->done_past_mark = job->done_past_mark;
    rep->skipped_done = job->skipped;
    rep->stopped_at_record = job->stop_record;
    rep->stopped_at_line = job->stop_line;
    rep->resumed_from = st->resumed ? st->cp.records : 0;
    rep->total_rows_in = st->cp.rows_in + job->rows_in;
    rep->total_written = st->cp.written + job->written;
    rep->total_rejected = st->cp.rejected + job->rejected;
    rep->total_failed = st->cp.failed + job->failed;
    dx_client_stats cs;
    dx_client_stats_get(job->client, &cs);
    rep->requests = cs.calls - st->stats0.calls;
    rep->retries = cs.retries - st->stats0.retries;
    rep->throttles = cs.throttles - st->stats0.throttles;
    rep->errors = cs.errors - st->stats0.errors;
    rep->rcu = cs.rcu - st->stats0.rcu;
    rep->wcu = cs.wcu - st->stats0.wcu;
    dxj_hist *h = calloc(1, sizeof *h);
    dxj_hotkeys hot = {0};
    rmismatch mism[DXJ_MISMATCHES * 2];
    size_t nm = 0;
    for (uint32_t i = 0; i < job->nworkers; i++) {
        rworker *w = &job->workers[i];
        if (h) dxj_hist_merge(h, &w->hist);
        dxj_hotkeys_merge(&hot, &w->hot);
        rep->verified += w->verified;
        rep->mismatched += w->mismatched;
        for (size_t k = 0; k < w->nmism; k++) {
            /* insertion into a sorted list of at most DXJ_MISMATCHES */
            size_t at = nm < DXJ_MISMATCHES ? nm++ : DXJ_MISMATCHES;
            if (at == DXJ_MISMATCHES) {
                if (mism[at - 1].index < w->mism[k].index) continue;
                at--;
            }
            while (at > 0 && mism[at - 1].index > w->mism[k].index) {
                mism[at] = mism[at - 1];
                at--;
            }
            mism[at] = w->mism[k];
        }
    }
    if (h) dxj_hist_latency(h, &rep->latency);
    free(h);
    rep->nhot_keys = dxj_hotkeys_top(&hot, rep->hot_keys, DXJ_HOT_KEYS);
    dxj_hotkeys_free(&hot);
    for (size_t k = 0; k < nm; k++) rep->mismatches[k] = mism[k].m;
    rep->nmismatches = nm;
    uint64_t t1 = dx_now_ms();
    rep->duration_s = (double)(t1 - t0) / 1000.0;
    rep->rows_per_s = rep->duration_s > 0 ? (double)rep->rows_in / rep->duration_s : 0;
    dxj_iso8601(dx_wall_ms(), rep->finished_at);
}

static dx_err start_threads(rjob *job, dx_result *r) {
    const dxj_spec *s = job->spec;
    job->nworkers = s->workers ? s->workers : 2;
    size_t qcap = 2 * (size_t)job->nworkers + 2;
    job->nall = qcap + 2 * (size_t)job->nworkers + 2;
    job->all = calloc(job->nall, sizeof *job->all);
    job->done = calloc(job->nall, sizeof *job->done);
    job->workers = calloc(job->nworkers, sizeof *job->workers);
    job->chunks = dxj_queue_new(qcap);
    job->pool = dxj_queue_new(job->nall);
    if (!job->all || !job->done || !job->workers || !job->chunks || !job->pool)
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < job->nall; i++) {
        job->all[i].in.arena.chunk_size = RJ_CHUNK_BYTES + (RJ_CHUNK_BYTES >> 1);
        job->all[i].work.chunk_size = RJ_CHUNK_BYTES;
        dxj_queue_push(job->pool, &job->all[i]);
    }
    dx_engine_opts eo = {.max_inflight = s->inflight ? s->inflight : 32};
    rj_log(job, DXJ_LOG_DEBUG,
           "%u workers x %u requests in flight; chunks of %d rows, %zu chunks queued ahead; retries: %u "
           "attempts, %u-%u ms backoff",
           job->nworkers, eo.max_inflight, RJ_CHUNK_RECORDS, qcap, s->retry.max_attempts,
           s->retry.base_ms, s->retry.max_ms);
    for (uint32_t i = 0; i < job->nworkers; i++) {
        rworker *w = &job->workers[i];
        w->job = job;
        w->id = i;
        w->inflight = eo.max_inflight;
        w->eng = dx_engine_new(job->client, &eo);
        if (!w->eng) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    }
    /* Workers first: if one cannot start, the job halts before the reader reads anything. */
    job->workers_left = job->nworkers;
    for (uint32_t i = 0; i < job->nworkers; i++) {
        if (pthread_create(&job->workers[i].th, NULL, rj_worker_main, &job->workers[i]) != 0) {
            dx_result res;
            dx_fail(&res, DX_ERR_NOMEM, NULL, "cannot start worker thread %u", i);
            pthread_mutex_lock(&job->mu);
            job->workers_left -= job->nworkers - i;
            pthread_mutex_unlock(&job->mu);
            job->nworkers = i;
            rj_halt(job, HALT_FATAL, &res);
            break;
        }
    }
    if (pthread_create(&job->reader_th, NULL, reader_main, job) != 0) {
        dx_result res;
        dx_fail(&res, DX_ERR_NOMEM, NULL, "cannot start the reader thread");
        rj_halt(job, HALT_FATAL, &res);
        dxj_queue_close(job->chunks); /* the workers see the end of the input */
        job->reader_started = false;
    } else {
        job->reader_started = true;
    }
    return DX_OK;
}

/* The runner loop on the caller's thread: stop flag, progress, checkpoints. */
static void watch(rjob *job, setup *st, uint64_t t0) {
    uint32_t prog_ms = job->opts->progress_ms ? job->opts->progress_ms : 500;
    uint64_t next_prog = dx_now_ms() + prog_ms, next_cp = dx_now_ms() + CHECKPOINT_MS;
    pthread_mutex_lock(&job->mu);
    while (job->workers_left > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += WATCH_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&job->cv, &job->mu, &ts);
        if (job->workers_left == 0) break;
        pthread_mutex_unlock(&job->mu);
        if (job->opts->stop && atomic_load(job->opts->stop) &&
            atomic_load(&job->halt) == HALT_NONE) {
            rj_log(job, DXJ_LOG_INFO, "stopping: finishing the requests in flight");
            rj_halt(job, HALT_STOP, NULL);
        }
        uint64_t now = dx_now_ms();
        if (now >= next_prog) {
            progress_now(job, st, t0);
            next_prog = now + prog_ms;
        }
        if (st->checkpoint_path && now >= next_cp) {
            dx_result res;
            dx_result_clear(&res);
            if (write_checkpoint(job, st, &res) != DX_OK)
                rj_log(job, DXJ_LOG_WARN, "checkpoint not written: %s", res.message);
            next_cp = dx_now_ms() + CHECKPOINT_MS;
        }
        pthread_mutex_lock(&job->mu);
    }
    pthread_mutex_unlock(&job->mu);
}

static void free_job(rjob *job, setup *st) {
    if (job->workers) {
        for (uint32_t i = 0; i < job->nworkers; i++) rj_worker_cleanup(&job->workers[i]);
        free(job->workers);
    }
    if (job->all) {
        for (size_t i = 0; i < job->nall; i++) {
            dxj_chunk_clear(&job->all[i].in);
            dx_arena_release(&job->all[i].in.arena);
            dx_arena_release(&job->all[i].work);
            dx_buf_free(&job->all[i].rejects.buf);
            dx_buf_free(&job->all[i].failures.buf);
        }
        free(job->all);
    }
    free(job->done);
    free(job->dset);
    free((void *)job->prior);
    dxj_queue_free(job->chunks);
    dxj_queue_free(job->pool);
    if (job->rejects_f) fclose(job->rejects_f);
    if (job->failures_f) fclose(job->failures_f);
    free(job->rejects_path);
    free(job->failures_path);
    dxj_mapper_free(job->mp);
    dxj_reader_free(job->rd);
    dxj_plugin_free(job->plugin);
    dx_arena_release(&job->cond_arena);
    dx_client_free(st->own_client);
    dxj_backend_close(&st->conn); /* after the clients that borrow its credentials */
    free(st->input_path);
    free(st->checkpoint_path);
    pthread_mutex_destroy(&job->mu);
    pthread_mutex_destroy(&job->commit_mu);
    pthread_mutex_destroy(&job->log_mu);
    pthread_cond_destroy(&job->cv);
}

static char *spec_path(const dxj_spec *s, const char *p) { return p ? dxj_spec_path(s, p) : NULL; }

dx_err dxj_run(dxj_spec *spec, const dxj_run_opts *opts, dxj_report *rep, dx_result *r) {
    static const dxj_run_opts no_opts;
    dx_result tmp;
    if (!r) r = &tmp;
    dx_result_clear(r);
    if (!opts) opts = &no_opts;
    memset(rep, 0, sizeof *rep);
    uint64_t t0 = dx_now_ms();
    dxj_iso8601(dx_wall_ms(), rep->started_at);
    rep->op = dxj_op_name(spec->operation.op);
    rep->dry_run = spec->dry_run;
    rep->status = DXJ_STATUS_FATAL;
    if (!spec->model)
        return dx_fail(r, DX_ERR_CONFIG, "model", "the job has no model (run dxj_spec_check first)");
    if (spec->operation.op == DXJ_OP_NONE)
        return dx_fail(r, DX_ERR_CONFIG, "operation", "the job has no operation");
    if (!spec->input.path) return dx_fail(r, DX_ERR_CONFIG, "input", "the job has no input");

    rjob job;
    setup st;
    memset(&job, 0, sizeof job);
    memset(&st, 0, sizeof st);
    job.spec = spec;
    job.opts = opts;
    job.model = spec->model;
    job.table = dx_model_config_get(spec->model)->table;
    job.op = spec->operation.op;
    job.skip_hooks = spec->hooks.skip ? DX_YES : DX_DEFAULT;
    size_t ms = dx_model_config_get(spec->model)->max_size;
    job.max_item = ms && ms < DX_MAX_ITEM_SIZE ? ms : DX_MAX_ITEM_SIZE;
    pthread_mutex_init(&job.mu, NULL);
    pthread_mutex_init(&job.commit_mu, NULL);
    pthread_mutex_init(&job.log_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&job.cv, &ca);
    pthread_condattr_destroy(&ca);
    if (spec->rate > 0) {
        job.rate = spec->rate;
        job.rate_last_ns = dx_now_ns();
        atomic_store(&job.rate_on, 1);
    }

    dx_err e = DX_OK;
    bool memory = false; /* the client is the memory backend's */
    bool threads = false;
    char *rejects = NULL, *failures = NULL;

    /* 1. The client and the table. Nothing is read or written before these checks pass. */
    if (opts->client) {
        job.client = opts->client;
    } else {
        e = open_client(&job, &st, r);
    }
    if (e) goto out;
    rep->backend = dx_client_backend(job.client);
    if (spec->dry_run && strcmp(rep->backend, "memory") != 0) {
        e = dx_fail(r, DX_ERR_CONFIG, "dry_run",
                    "a dry run must not use the %s backend it was given; it runs on memory",
                    rep->backend);
        goto out;
    }
    memory = strcmp(rep->backend, "memory") == 0;
    if ((e = check_table(&job, &st, rep, memory, r)) != DX_OK) goto out;
    if (memory && spec->backend.seed) {
        char *seed = spec_path(spec, spec->backend.seed);
        uint64_t n = 0;
        e = seed ? dxj_seed_load(job.client, job.table, seed, &n, r)
                 : dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
        if (!e)
            rj_log(&job, DXJ_LOG_INFO, "seeded table %s with %" PRIu64 " items from %s", job.table,
                   n, seed);
        free(seed);
        if (e) goto out;
    }
    /*
     * A provisioned table says its capacity: the adaptive limiter starts just
     * below it instead of learning it from throttles (after the seed, which
     * is not the job's work). Caps from --max-wcu or --capacity-share still
     * bound it.
     */
    if (st.table_wcu > 0 || st.table_rcu > 0) dx_client_rate_hint(job.client, st.table_rcu, st.table_wcu);

    /* 2. Hooks and conditions. */
    if (spec->hooks.plugin) {
        char *pp = spec_path(spec, spec->hooks.plugin);
        e = pp ? dxj_plugin_load(pp, spec->hooks.plugin_arg, job.model, &job.plugin, r)
               : dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
        free(pp);
        if (e) goto out;
    }
    if ((e = build_conditions(&job, r)) != DX_OK) goto out;

    /* 3. The input, the mapper, the checkpoint. */
    st.input_path = spec_path(spec, spec->input.path);
    st.checkpoint_path = spec_path(spec, spec->checkpoint);
    rejects = spec_path(spec, spec->rejects);
    failures = spec_path(spec, spec->failures);
    if (!st.input_path) {
        e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    if ((e = dxj_reader_open(&spec->input, st.input_path, &job.rd, r)) != DX_OK) goto out;
    if (spec->shard_count > 0 &&
        (e = dxj_reader_set_shard(job.rd, spec->shard_index, spec->shard_count, r)) != DX_OK)
        goto out;
    job.input_name = dxj_reader_name(job.rd);
    {
        size_t ncol = 0;
        const char *const *cols = dxj_reader_columns(job.rd, &ncol);
        dxj_input in = spec->input;
        in.format = dxj_reader_format(job.rd);
        if ((e = dxj_mapper_new(job.model, &spec->mapping, &spec->operation, &in, cols, ncol,
                                &job.mp, r)) != DX_OK)
            goto out;
    }
    snprintf(st.cp.input, sizeof st.cp.input, "%s", st.input_path);
    snprintf(st.cp.op, sizeof st.cp.op, "%s", rep->op);
    st.cp.shard_index = spec->shard_index;
    st.cp.shard_count = spec->shard_count;
    {
        uint64_t consumed, total;
        dxj_reader_progress(job.rd, &consumed, &total);
        st.cp.input_bytes = total;
    }
    if (spec->resume) {
        if (!st.checkpoint_path) {
            e = dx_fail(r, DX_ERR_CONFIG, "checkpoint",
                        "--resume needs the checkpoint file of the earlier run (spec "
                        "\"checkpoint\" or --checkpoint)");
            goto out;
        }
        if ((e = resume(&job, &st, rejects, failures, r)) != DX_OK) goto out;
    }
    if ((e = open_out(rejects, st.resumed, &job.rejects_f, r)) != DX_OK) goto out;
    if ((e = open_out(failures, st.resumed, &job.failures_f, r)) != DX_OK) goto out;
    job.rejects_path = rejects;
    job.failures_path = failures;
    rejects = failures = NULL;

    /* 4. Run. */
    dx_client_stats_get(job.client, &st.stats0);
    if ((e = start_threads(&job, r)) != DX_OK) goto out; /* no thread was started */
    threads = true;
    rep->started = job.reader_started;
    watch(&job, &st, t0);
    if (job.reader_started) pthread_join(job.reader_th, NULL);
    for (uint32_t i = 0; i < job.nworkers; i++) pthread_join(job.workers[i].th, NULL);
    progress_now(&job, &st, t0);

    /* 5. Accounting, checkpoint, dump, report. */
    fill_report(&job, &st, rep, t0);
    uint64_t read = atomic_load(&job.rows_read);
    rep->accounting_ok = rep->rows_in == rep->written + rep->rejected + rep->failed &&
                         read == rep->rows_in + rep->not_started + rep->after_stop +
                                     rep->skipped_done &&
                         rep->done_past_mark <= rep->written &&
                         (rep->not_started == 0 || rep->stopped_at_record != 0);
    int halt = atomic_load(&job.halt);
    rep->status = halt == HALT_FATAL  ? DXJ_STATUS_FATAL
                  : halt == HALT_STOP ? DXJ_STATUS_INTERRUPTED
                                      : DXJ_STATUS_COMPLETED;
    if (job.rejects_f && fflush(job.rejects_f) != 0 && halt != HALT_FATAL) {
        dx_result res;
        dx_fail(&res, DX_ERR_IO, NULL, "cannot write %s: %s", job.rejects_path, strerror(errno));
        rj_halt(&job, HALT_FATAL, &res);
    }
    if (job.failures_f && fflush(job.failures_f) != 0 && atomic_load(&job.halt) != HALT_FATAL) {
        dx_result res;
        dx_fail(&res, DX_ERR_IO, NULL, "cannot write %s: %s", job.failures_path, strerror(errno));
        rj_halt(&job, HALT_FATAL, &res);
    }
    if (st.checkpoint_path) {
        dx_result res;
        dx_result_clear(&res);
        if (write_checkpoint(&job, &st, &res) != DX_OK) {
            rep->checkpoint_stale = true;
            rj_log(&job, DXJ_LOG_ERROR, "final checkpoint not written: %s", res.message);
            if (atomic_load(&job.halt) != HALT_FATAL) rj_halt(&job, HALT_FATAL, &res);
        }
    }
    if (memory && spec->backend.dump) {
        char *dp = spec_path(spec, spec->backend.dump);
        FILE *f = dp ? fopen(dp, "wb") : NULL;
        dx_result res;
        dx_result_clear(&res);
        if (!f) {
            dx_fail(&res, DX_ERR_IO, NULL, "cannot write dump %s: %s", dp ? dp : "?",
                    strerror(errno));
        } else {
            dx_mem_dump(job.client, job.table, f, &res);
            if (fclose(f) != 0 && res.err == DX_OK)
                dx_fail(&res, DX_ERR_IO, NULL, "cannot write dump %s: %s", dp, strerror(errno));
        }
        if (res.err != DX_OK) {
            rj_log(&job, DXJ_LOG_ERROR, "%s", res.message);
            if (atomic_load(&job.halt) != HALT_FATAL) rj_halt(&job, HALT_FATAL, &res);
        }
        free(dp);
    }
    halt = atomic_load(&job.halt);
    if (halt == HALT_FATAL) {
        rep->status = DXJ_STATUS_FATAL;
        snprintf(rep->error, sizeof rep->error, "%s", job.fatal.message);
        *r = job.fatal;
        e = job.fatal.err;
    }
    if (!rep->accounting_ok) {
        char buf[sizeof rep->error + 512];
        snprintf(buf, sizeof buf,
                 "BUG: accounting does not add up: %" PRIu64 " rows read, %" PRIu64
                 " committed, %" PRIu64 " written + %" PRIu64 " rejected + %" PRIu64
                 " failed, %" PRIu64 " not started, %" PRIu64
                 " redone after the stop point, %" PRIu64
                 " skipped as done by an earlier run; please report this%s%s",
                 read, rep->rows_in, rep->written, rep->rejected, rep->failed, rep->not_started,
                 rep->after_stop, rep->skipped_done,
                 rep->error[0] ? "; also: " : "", rep->error);
        memcpy(rep->error, buf, sizeof rep->error - 1);
        rep->error[sizeof rep->error - 1] = 0;
        rj_log(&job, DXJ_LOG_ERROR, "%s", rep->error);
    }
    fill_report(&job, &st, rep, t0); /* duration includes the final checkpoint and dump */
out:
    if (e != DX_OK && !threads) {
        rep->status = DXJ_STATUS_FATAL;
        snprintf(rep->error, sizeof rep->error, "%s", r->message[0] ? r->message : dx_strerror(e));
        if (job.client) rep->backend = dx_client_backend(job.client);
        uint64_t t1 = dx_now_ms();
        rep->duration_s = (double)(t1 - t0) / 1000.0;
        dxj_iso8601(dx_wall_ms(), rep->finished_at);
    }
    if (e != DX_OK && r->err == DX_OK) r->err = e;
    free(rejects);
    free(failures);
    free_job(&job, &st);
    return e;
}
