/*
 * worker.c - a worker thread: takes rows from chunks, maps them, and drives
 * the job's operation for each row on its own engine until every row it took
 * has reached a final state (written, rejected or failed). The threads,
 * queues and the commit are runner.c's; see the design comment there.
 *
 * Requests. A wcall is a dx_call with its own arena, kept on the worker's
 * free list and reused, so steady state allocates nothing per row.
 *   - put / delete_by_key without a condition: rows go into the batch being
 *     filled (at most 25 entries, never two for one key: a later row with the
 *     same key replaces the entry and the earlier row is chained behind it,
 *     "superseded", sharing its fate). The batch is sent when full, or when
 *     no more rows are immediately available.
 *   - every other case is one call per row, and the row owns that call for
 *     its whole life: GetItem, the write, the verification read; the arena
 *     keeps what was written until the comparison is done.
 * A batch that the server rejects as a whole with a validation error (one bad
 * item spoils the batch) is re-sent entry by entry, so that only the bad rows
 * are rejected.
 *
 * Row life (single-row operations): PH_GET -> PH_WRITE -> PH_VERIFY ->
 * final. A get_* write whose optimistic-lock condition fails goes back to
 * PH_GET (at most RJ_RMW_TRIES reads). When the write also carried the
 * spec's condition, DynamoDB does not say which part failed: the read after
 * it does -- an item still as read (same version, or still absent) means the
 * spec's condition was not met, and the row is rejected as it would be
 * without version_attr; only a changed item is a conflict worth retrying.
 * Verification and after-hooks never change a row's outcome: the write has
 * happened.
 *
 * Ownership. Rows and mapped values live in their chunk's work arena; a row
 * may be touched only until row_final(), after which its chunk may be
 * committed and recycled at once -- so read anything needed (the superseded
 * chain) before finalising.
 *
 * Halting. Once the job halts, rows taken but not sent, rows of chunks still
 * queued, and calls the engine cancels while they wait for a retry or for the
 * rate limiter end as ROW_NOT_STARTED: no line, no count -- the commit stops
 * at the first of them and a resume applies them (runner.c, Shutdown).
 *
 * Resuming. A row the checkpoint lists as already written past its mark
 * (job->prior) is not mapped or sent: it ends as ROW_SKIPPED at once.
 *
 * Must never: finalise a row twice or not at all, send a row after the job
 * halted (it ends as not started instead), send a row an earlier run wrote
 * past its mark, or block on the chunk queue while
 * its engine has requests pending.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "runner_internal.h"
#include "verify.h"

enum { K_BATCH = 1, K_ROW };
enum { PH_NONE = 0, PH_GET, PH_WRITE, PH_VERIFY };

static void on_done(dx_call *c);

/* ---------------------------------------------------------------- slots */

static wcall *slot_get(rworker *w, int kind) {
    wcall *s = w->free_calls;
    if (s) {
        w->free_calls = s->next_free;
    } else {
        if (w->ncalls == w->capcalls) {
            size_t cap = w->capcalls ? w->capcalls * 2 : 64;
            wcall **a = realloc(w->all_calls, cap * sizeof *a);
            if (!a) return NULL;
            w->all_calls = a;
            w->capcalls = cap;
        }
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        w->all_calls[w->ncalls++] = s;
    }
    memset(&s->call, 0, sizeof s->call);
    s->call.arena = &s->arena;
    s->call.done = on_done;
    s->call.ud = s;
    s->w = w;
    s->kind = kind;
    s->row = NULL;
    s->n = 0;
    s->next_free = NULL;
    return s;
}

static void slot_put(rworker *w, wcall *s) {
    dx_arena_reset(&s->arena);
    s->next_free = w->free_calls;
    w->free_calls = s;
}

void rj_worker_cleanup(rworker *w) {
    dx_engine_free(w->eng);
    w->eng = NULL;
    for (size_t i = 0; i < w->ncalls; i++) {
        dx_arena_release(&w->all_calls[i]->arena);
        free(w->all_calls[i]);
    }
    free(w->all_calls);
    w->all_calls = NULL;
    w->ncalls = w->capcalls = 0;
    w->free_calls = NULL;
    dxj_hotkeys_free(&w->hot);
    dx_buf_free(&w->line);
}

/* ---------------------------------------------------------------- helpers */

static bool is_get_flow(dxj_op op) {
    return op == DXJ_OP_GET_SAVE || op == DXJ_OP_GET_UPDATE || op == DXJ_OP_GET_DELETE;
}


/* "Type: message", or the error's name when the result has no message. */
static const char *err_text(const dx_result *res, char *buf, size_t n) {
    const char *type = res->type[0] ? res->type : dx_err_name(res->err);
    if (res->message[0])
        snprintf(buf, n, "%s: %s", type, res->message);
    else
        snprintf(buf, n, "%s: %s", type, dx_strerror(res->err));
    return buf;
}

static void key_text(const dx_value *key, char *out, size_t n) {
    dx_buf b = {0};
    if (dx_encode_plain(&b, key) == DX_OK && b.ptr) {
        snprintf(out, n, "%s", b.ptr);
    } else {
        snprintf(out, n, "?");
    }
    dx_buf_free(&b);
}

/*
 * Order-independent hash of a key (an M of scalars), only to skip the deep
 * comparison of keys that differ: the keys of one job all have the same
 * attribute names, so only the values are hashed, numbers in canonical form
 * ("1.50" and "1.5" are one key, as dx_value_equal says).
 */
static uint64_t key_hash(const dx_value *key) {
    uint64_t h = key->n;
    for (uint32_t i = 0; i < key->n; i++) {
        const dx_value *v = &key->u.members[i].value;
        const char *s = v->u.s;
        size_t n = v->n;
        char text[DX_NUM_TEXT_MAX];
        dx_num x;
        if (v->type == DX_T_N && !dx_num_is_canonical(s, n) && dx_num_parse(s, n, &x, NULL) == DX_OK) {
            n = dx_num_format(&x, text);
            s = text;
        }
        if (v->type == DX_T_S || v->type == DX_T_N || v->type == DX_T_B)
            h += dx_hash64(s, n, 0x6b6579u ^ v->type);
        else
            h += v->type;
    }
    return h;
}

/* Appends a line for the rejects or failures file to ls, noting which row it belongs to. */
static void add_line(rworker *w, rrow *r, lines *ls, const char *field, const char *reason) {
    rjob *job = w->job;
    rchunk *ch = r->ch;
    dx_buf *buf = &ls->buf;
    size_t before = buf->len;
    if (dxj_record_line(job->mp, r->rec, job->input_name, field, reason, buf) != DX_OK) {
        /* The mapper could not render the row: keep at least where it was and why. */
        buf->len = before;
        if (buf->ptr) buf->ptr[before] = 0;
        dx_buf_printf(buf, "{\"_dynox\":{\"file\":");
        dx_buf_put_json_str(buf, job->input_name, strlen(job->input_name));
        dx_buf_printf(buf, ",\"line\":%" PRIu64 ",\"record\":%" PRIu64 ",\"field\":",
                      r->rec->line, r->rec->index);
        if (field)
            dx_buf_put_json_str(buf, field, strlen(field));
        else
            dx_buf_puts(buf, "null");
        dx_buf_puts(buf, ",\"reason\":");
        dx_buf_put_json_str(buf, reason, strlen(reason));
        dx_buf_puts(buf, "}}");
    }
    if (buf->len == before || buf->ptr[buf->len - 1] != '\n') dx_buf_putc(buf, '\n');
    if (!ls->refs) ls->refs = dx_arena_alloc(&ch->work, ch->in.n * sizeof *ls->refs);
    if (ls->refs && ls->n < ch->in.n) {
        uint32_t row = (uint32_t)(r - ch->rows);
        if (ls->n && ls->refs[ls->n - 1].row > row) ls->unsorted = true;
        ls->refs[ls->n].row = row;
        ls->refs[ls->n].off = (uint32_t)before;
        ls->refs[ls->n].len = (uint32_t)(buf->len - before);
        ls->n++;
    } else {
        ls->unsorted = false; /* out of memory for the index: keep the order they came in */
        ls->refs = NULL;
    }
}

/* The one place a row becomes final. Do not touch r afterwards. */
static void row_final(rworker *w, rrow *r, row_state st, const char *field, const char *reason) {
    rchunk *ch = r->ch;
    if (r->state != ROW_PENDING) {
        rj_log(w->job, DXJ_LOG_ERROR, "BUG: record %" PRIu64 " finalised twice", r->rec->index);
        return;
    }
    r->state = (uint8_t)st;
    switch (st) {
    case ROW_WRITTEN:
        ch->written++;
        atomic_fetch_add_explicit(&w->live_written, 1, memory_order_relaxed);
        break;
    case ROW_REJECTED:
        ch->rejected++;
        add_line(w, r, &ch->rejects, field, reason ? reason : "rejected");
        atomic_fetch_add_explicit(&w->live_rejected, 1, memory_order_relaxed);
        break;
    case ROW_FAILED:
        ch->failed++;
        add_line(w, r, &ch->failures, field, reason ? reason : "failed");
        atomic_fetch_add_explicit(&w->live_failed, 1, memory_order_relaxed);
        break;
    case ROW_NOT_STARTED:
        ch->not_started++;
        break;
    case ROW_SKIPPED:
        ch->skipped++;
        break;
    case ROW_PENDING:
        break;
    }
    if (st != ROW_NOT_STARTED && st != ROW_SKIPPED) {
        if (r->superseded) ch->superseded++;
        if (r->created || r->missing) ch->missing++;
        if (r->condfail) ch->condfail++;
    }
    if (r->item) {
        dx_item_free(r->item);
        r->item = NULL;
    }
    if (r->slot) {
        slot_put(w, r->slot);
        r->slot = NULL;
    }
    if (--ch->open == 0 && ch->next == ch->in.n) rj_chunk_finished(w->job, ch);
}

static void reject(rworker *w, rrow *r, const char *field, const char *fmt, ...) DX_PRINTF(4, 5);
static void reject(rworker *w, rrow *r, const char *field, const char *fmt, ...) {
    char reason[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    row_final(w, r, ROW_REJECTED, field && field[0] ? field : NULL, reason);
}

/* A rejected row's result: field and message from res. */
static void reject_res(rworker *w, rrow *r, const dx_result *res) {
    char buf[640];
    if (res->message[0])
        reject(w, r, res->field, "%s", res->message);
    else
        reject(w, r, res->field, "%s", err_text(res, buf, sizeof buf));
}

/* Superseded rows share the fate of the row that replaced them. */
static void chain_final(rworker *w, rrow *r, row_state st, const char *reason) {
    rrow *o = r->sup;
    r->sup = NULL;
    while (o) {
        rrow *next = o->sup;
        if (st == ROW_REJECTED) {
            char buf[800];
            snprintf(buf, sizeof buf, "superseded by record %" PRIu64 ", which was rejected: %s",
                     r->rec->index, reason ? reason : "");
            row_final(w, o, ROW_FAILED, NULL, buf);
        } else {
            row_final(w, o, st, NULL, reason);
        }
        o = next;
    }
}

static void entry_failed(rworker *w, rrow *r, const char *reason) {
    chain_final(w, r, ROW_FAILED, reason);
    row_final(w, r, ROW_FAILED, NULL, reason);
}

/* The job halted before the row (and the rows it superseded) could be sent. */
static void entry_not_started(rworker *w, rrow *r) {
    chain_final(w, r, ROW_NOT_STARTED, NULL);
    row_final(w, r, ROW_NOT_STARTED, NULL, NULL);
}

static void entry_rejected(rworker *w, rrow *r, const char *field, const char *reason) {
    chain_final(w, r, ROW_REJECTED, reason);
    row_final(w, r, ROW_REJECTED, field && field[0] ? field : NULL, reason);
}

static void submit(rworker *w, wcall *s) {
    if (w->closing || !w->eng) {
        /* The job halted: nothing new is sent; the row ends as not started. */
        memset(&s->call.resp, 0, sizeof s->call.resp);
        dx_fail(&s->call.res, DX_ERR_CANCELLED, NULL, "not sent: the job stopped");
        s->call.start_ns = s->call.end_ns = 0;
        on_done(&s->call);
        return;
    }
    dx_err e = dx_engine_submit(w->eng, &s->call);
    if (e != DX_OK) {
        /* Only a programming error gets here; complete the call by hand so the row ends. */
        dx_fail(&s->call.res, e, NULL, "internal error: the engine refused the call");
        on_done(&s->call);
    }
}

static void start_verify(rworker *w, rrow *r) {
    wcall *s = r->slot;
    if (!s) {
        s = slot_get(w, K_ROW);
        if (!s) {
            rj_log(w->job, DXJ_LOG_WARN, "out of memory: record %" PRIu64 " not verified",
                   r->rec->index);
            row_final(w, r, ROW_WRITTEN, NULL, NULL);
            return;
        }
        r->slot = s;
    }
    s->kind = K_ROW;
    s->row = r;
    memset(&s->call.req, 0, sizeof s->call.req);
    s->call.req.op = DX_OP_GET;
    s->call.req.table = w->job->table;
    s->call.req.key = &r->m.key;
    s->call.req.consistent = true;
    r->phase = PH_VERIFY;
    submit(w, s);
}

/* The row's write happened: superseded rows are written too; verify if sampled. */
static void entry_written(rworker *w, rrow *r) {
    chain_final(w, r, ROW_WRITTEN, NULL);
    if (r->verify && !w->closing) {
        start_verify(w, r);
    } else {
        row_final(w, r, ROW_WRITTEN, NULL, NULL);
    }
}

static void note_hot_key(rworker *w, rrow *r, const dx_call *c) {
    if (!c->throttles || !strstr(c->res.reason, "KeyRange")) return;
    char key[128];
    key_text(&r->m.key, key, sizeof key);
    dxj_hotkeys_add(&w->hot, key, c->res.reason, c->throttles);
}

/*
 * An error that is not the row's fault: failed (and the job halts if it is
 * fatal). A call cancelled by the halt was not sent, or waited for a retry
 * whose earlier attempts did not apply: the row is not started.
 */
static void call_failed(rworker *w, rrow *r, const dx_result *res) {
    char buf[640];
    if (res->err == DX_ERR_CANCELLED) {
        entry_not_started(w, r);
        return;
    }
    if (rj_fatal_err(res->err)) rj_halt(w->job, HALT_FATAL, res);
    entry_failed(w, r, err_text(res, buf, sizeof buf));
}

/* ---------------------------------------------------------------- batches */

static void batch_flush(rworker *w) {
    wcall *b = w->batch;
    if (!b) return;
    w->batch = NULL;
    memset(&b->call.req, 0, sizeof b->call.req);
    b->call.req.op = DX_OP_BATCH_WRITE;
    b->call.req.table = w->job->table;
    b->call.req.writes = b->writes;
    b->call.req.nwrites = b->n;
    rj_rate_charge(w->job, (double)b->n);
    submit(w, b);
}

static void batch_add(rworker *w, rrow *r, bool del) {
    const dx_value *v = del ? &r->m.key : &r->m.item;
    if (!w->batch) {
        w->batch = slot_get(w, K_BATCH);
        if (!w->batch) {
            entry_failed(w, r, "out of memory");
            return;
        }
    }
    wcall *b = w->batch;
    uint64_t h = key_hash(&r->m.key);
    for (size_t i = 0; i < b->n; i++) {
        if (b->khash[i] == h && dx_value_equal(&b->owner[i]->m.key, &r->m.key)) {
            rrow *old = b->owner[i];
            old->superseded = true;
            r->sup = old; /* old's own chain stays behind it */
            b->owner[i] = r;
            b->writes[i].item = v;
            return;
        }
    }
    b->writes[b->n].del = del;
    b->writes[b->n].item = v;
    b->owner[b->n] = r;
    b->khash[b->n] = h;
    b->n++;
    if (b->n == RJ_BATCH) batch_flush(w);
}

/* Re-sends one entry of a batch on its own (to isolate a bad item). */
static void isolate(rworker *w, rrow *r, const dx_write *wr) {
    wcall *s = slot_get(w, K_ROW);
    if (!s) {
        entry_failed(w, r, "out of memory");
        return;
    }
    s->row = r;
    r->slot = s;
    r->phase = PH_WRITE;
    s->call.req.op = wr->del ? DX_OP_DELETE : DX_OP_PUT;
    s->call.req.table = w->job->table;
    if (wr->del) {
        s->call.req.key = wr->item;
    } else {
        s->call.req.item = wr->item;
        r->wrote = wr->item;
    }
    submit(w, s);
}

static void batch_done(rworker *w, wcall *s) {
    dx_call *c = &s->call;
    dx_err err = c->res.err;
    bool unproc[RJ_BATCH] = {0};
    size_t nun = 0;
    for (size_t k = 0; k < c->resp.nunprocessed; k++) {
        size_t i = c->resp.unprocessed[k];
        if (i < s->n && !unproc[i]) {
            unproc[i] = true;
            nun++;
        }
    }
    if (err != DX_OK && nun == 0 && c->resp.nunprocessed == 0) {
        /* An error without the list of entries left: treat every entry as not done. */
        for (size_t i = 0; i < s->n; i++) unproc[i] = true;
        nun = s->n;
    }
    bool isolate_them = nun > 0 && (err == DX_ERR_VALIDATION || err == DX_ERR_ITEM_TOO_LARGE);
    char reason[640] = "";
    if (nun > 0 && !isolate_them) {
        if (rj_fatal_err(err)) rj_halt(w->job, HALT_FATAL, &c->res);
        err_text(&c->res, reason, sizeof reason);
        if (err == DX_OK) snprintf(reason, sizeof reason, "left unprocessed by BatchWriteItem");
    }
    for (size_t i = 0; i < s->n; i++) {
        rrow *r = s->owner[i];
        r->wrote = s->writes[i].del ? NULL : s->writes[i].item;
        if (!unproc[i]) {
            entry_written(w, r);
        } else if (isolate_them) {
            isolate(w, r, &s->writes[i]);
        } else if (err == DX_ERR_CANCELLED) {
            entry_not_started(w, r); /* the halt: the entries left were not applied */
        } else {
            entry_failed(w, r, reason);
        }
    }
    slot_put(w, s);
}

/* ---------------------------------------------------------------- conditions */

/* A small builder for a request's condition text and its names/values maps. */
typedef struct cond_b {
    dx_arena *a;
    dx_buf text;
    dx_map_builder names, values;
    bool ok;
} cond_b;

static void cb_and(cond_b *b, const char *part) {
    if (b->text.len) b->ok = b->ok && dx_buf_puts(&b->text, " AND ");
    b->ok = b->ok && dx_buf_printf(&b->text, "(%s)", part);
}

static void cb_copy(dx_map_builder *mb, const dx_value *m, bool *ok) {
    if (!m) return;
    for (uint32_t i = 0; i < m->n; i++) {
        dx_value *slot = dx_mapb_add(mb, m->u.members[i].name, m->u.members[i].name_len);
        if (!slot) {
            *ok = false;
            return;
        }
        *slot = m->u.members[i].value;
    }
}

static void cb_name(cond_b *b, const char *ph, const char *attr) {
    dx_value *slot = dx_mapb_add(&b->names, ph, strlen(ph));
    const char *copy = dx_arena_strdup(b->a, attr);
    if (!slot || !copy) {
        b->ok = false;
        return;
    }
    *slot = dx_vs(copy);
}

static void cb_value(cond_b *b, const char *ph, const dx_value *v) {
    dx_value *slot = dx_mapb_add(&b->values, ph, strlen(ph));
    if (!slot || dx_value_copy(b->a, v, slot) != DX_OK) b->ok = false;
}

static const dx_value *cb_map(cond_b *b, dx_map_builder *mb) {
    if (!mb->n) return NULL;
    dx_value *v = dx_arena_alloc(b->a, sizeof *v);
    if (!v) {
        b->ok = false;
        return NULL;
    }
    *v = dx_mapb_finish(mb);
    return v;
}

/*
 * The condition of a get_* write: the spec's condition, plus the optimistic
 * lock on the version attribute (its value as read, or its absence), plus
 * attribute_not_exists(hash key) when the item is being created.
 */
static bool get_flow_cond(rworker *w, rrow *r, const dx_value *old_version, const char **cond,
                          const dx_value **names, const dx_value **values) {
    rjob *job = w->job;
    const dxj_operation *op = &job->spec->operation;
    cond_b b = {.a = &r->slot->arena, .ok = true};
    b.names.arena = b.a;
    b.values.arena = b.a;
    if (job->user_cond) {
        cb_and(&b, job->user_cond);
        cb_copy(&b.names, job->user_names, &b.ok);
        cb_copy(&b.values, job->cond_values, &b.ok);
    }
    if (op->version_attr) {
        cb_name(&b, "#dxver", op->version_attr);
        if (old_version) {
            cb_and(&b, "#dxver = :dxver");
            cb_value(&b, ":dxver", old_version);
        } else {
            cb_and(&b, "attribute_not_exists(#dxver)");
        }
    }
    if (r->created) {
        cb_name(&b, "#dxhash", dx_model_hash_key(job->model)->name);
        cb_and(&b, "attribute_not_exists(#dxhash)");
    }
    *cond = b.text.len ? dx_arena_strndup(b.a, b.text.ptr, b.text.len) : NULL;
    if (b.text.len && !*cond) b.ok = false;
    dx_buf_free(&b.text);
    *names = cb_map(&b, &b.names);
    *values = cb_map(&b, &b.values);
    return b.ok;
}

/* ---------------------------------------------------------------- single-row operations */

/* The size limit check for an item about to be put; rejects the row when over. */
static bool size_ok(rworker *w, rrow *r, const dx_value *item) {
    size_t sz = dx_item_size(item);
    if (sz <= w->job->max_item) return true;
    char buf[200];
    snprintf(buf, sizeof buf, "item is %zu bytes, over the limit of %zu bytes", sz,
             w->job->max_item);
    entry_rejected(w, r, NULL, buf);
    return false;
}

static void start_get(rworker *w, rrow *r) {
    wcall *s = r->slot;
    s->kind = K_ROW;
    s->row = r;
    memset(&s->call.req, 0, sizeof s->call.req);
    s->call.req.op = DX_OP_GET;
    s->call.req.table = w->job->table;
    s->call.req.key = &r->m.key;
    s->call.req.consistent = w->job->spec->consistent_read;
    r->phase = PH_GET;
    submit(w, s);
}

static void start_single(rworker *w, rrow *r) {
    rjob *job = w->job;
    wcall *s = slot_get(w, K_ROW);
    if (!s) {
        entry_failed(w, r, "out of memory");
        return;
    }
    s->row = r;
    r->slot = s;
    dx_req *q = &s->call.req;
    switch (job->op) {
    case DXJ_OP_UPDATE_BY_KEY:
        dx_result_clear(&w->res);
        if (dx_update_req(job->model, &r->m.key, r->m.fields, r->m.nfields, job->cond,
                          job->cond_names, job->cond_values, &s->arena, q, &w->res) != DX_OK) {
            reject_res(w, r, &w->res);
            return;
        }
        r->wrote_fields = r->m.fields;
        r->nwrote_fields = r->m.nfields;
        r->phase = PH_WRITE;
        break;
    case DXJ_OP_DELETE_BY_KEY:
        q->op = DX_OP_DELETE;
        q->table = job->table;
        q->key = &r->m.key;
        q->condition = job->cond;
        q->names = job->cond_names;
        q->values = job->cond_values;
        r->phase = PH_WRITE;
        break;
    case DXJ_OP_PUT:
        q->op = DX_OP_PUT;
        q->table = job->table;
        q->item = &r->m.item;
        q->condition = job->cond;
        q->names = job->cond_names;
        q->values = job->cond_values;
        r->wrote = &r->m.item;
        r->phase = PH_WRITE;
        break;
    case DXJ_OP_GET_SAVE:
    case DXJ_OP_GET_UPDATE:
    case DXJ_OP_GET_DELETE:
        rj_rate_charge(job, 1);
        start_get(w, r);
        return;
    case DXJ_OP_NONE:
        entry_failed(w, r, "internal error: no operation");
        return;
    }
    rj_rate_charge(job, 1);
    submit(w, s);
}

/* Applies the row to the item read (or created). */
static dx_err apply_row(rworker *w, rrow *r, dx_item *it, dx_result *res) {
    rjob *job = w->job;
    dx_err e = DX_OK;
    if (job->op == DXJ_OP_GET_SAVE) {
        const dx_value *m = &r->m.item;
        for (uint32_t i = 0; i < m->n && !e; i++) {
            const dx_member *mb = &m->u.members[i];
            if (mb->value.type == DX_T_NONE)
                e = dx_item_unset(it, mb->name, res);
            else
                e = dx_item_set(it, mb->name, &mb->value, res);
        }
    } else if (job->op == DXJ_OP_GET_UPDATE) {
        for (size_t i = 0; i < r->m.nfields && !e; i++) {
            const dx_member *mb = &r->m.fields[i];
            if (mb->value.type == DX_T_NONE)
                e = dx_item_unset(it, mb->name, res);
            else
                e = dx_item_set(it, mb->name, &mb->value, res);
        }
    }
    return e;
}

/* Sets the version attribute to old + 1 (1 when absent) unless a hook changed it already. */
static dx_err bump_version(rworker *w, rrow *r, dx_item *it, const dx_value *old, dx_result *res) {
    const char *va = w->job->spec->operation.version_attr;
    const dx_value *cur = dx_item_get(it, va);
    if (cur && (!old || !dx_value_equal(cur, old))) return DX_OK; /* a hook set it */
    dx_num n, one, sum;
    dx_num_from_i64(1, &one);
    if (old) {
        if (old->type != DX_T_N)
            return dx_fail(res, DX_ERR_VALIDATION, va,
                           "version attribute %s is a %s, not a number", va,
                           dx_type_name((dx_type)old->type));
        dx_err e = dx_num_parse(old->u.s, old->n, &n, res);
        if (!e) e = dx_num_add(&n, &one, &sum, res);
        if (e) return e;
    } else {
        sum = one;
    }
    dx_value v;
    dx_err e = dx_value_from_num(&r->slot->arena, &sum, &v);
    if (e) return dx_fail(res, e, NULL, "out of memory");
    return dx_item_set(it, va, &v, res);
}

/* The whole item to put for get_save: the model's attributes, and the stored
 * attributes the model does not know (a put must not drop them). */
static const dx_value *merged_item(rworker *w, rrow *r, const dx_value *model_item,
                                   const dx_value *stored) {
    dx_arena *a = &r->slot->arena;
    dx_map_builder b = {.arena = a};
    for (uint32_t i = 0; i < model_item->n; i++) {
        dx_value *slot = dx_mapb_add(&b, model_item->u.members[i].name,
                                     model_item->u.members[i].name_len);
        if (!slot) return NULL;
        *slot = model_item->u.members[i].value;
    }
    if (stored) {
        for (uint32_t i = 0; i < stored->n; i++) {
            const dx_member *mb = &stored->u.members[i];
            if (dx_model_find(w->job->model, mb->name)) continue;
            dx_value *slot = dx_mapb_add(&b, mb->name, mb->name_len);
            if (!slot) return NULL;
            *slot = mb->value;
        }
    }
    dx_value *v = dx_arena_alloc(a, sizeof *v);
    if (!v) return NULL;
    *v = dx_mapb_finish(&b);
    return v;
}

/* get_update: the fields to send: the row's, and whatever hooks changed. */
static dx_err update_fields(rworker *w, rrow *r, dx_item *it, const dx_value *stored,
                            dx_member **out, size_t *nout, dx_result *res) {
    const dx_model *m = w->job->model;
    size_t na = dx_model_nattrs(m);
    dx_member *fs = dx_arena_alloc(&r->slot->arena, (na ? na : 1) * sizeof *fs);
    if (!fs) return dx_fail(res, DX_ERR_NOMEM, NULL, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < na; i++) {
        const dx_attr_def *d = dx_model_attr(m, i);
        const dx_value *cur = dx_item_get(it, d->name);
        const dx_value *old = stored ? dx_map_get(stored, d->name) : NULL;
        bool changed = (cur == NULL) != (old == NULL) || (cur && !dx_value_equal(cur, old));
        bool in_row = false;
        for (size_t k = 0; k < r->m.nfields && !in_row; k++)
            in_row = strcmp(r->m.fields[k].name, d->name) == 0;
        if (d->key != DX_KEY_NONE) {
            if (changed && stored)
                return dx_fail(res, DX_ERR_VALIDATION, d->name,
                               "a hook changed key attribute '%s'; keys cannot be updated",
                               d->name);
            continue;
        }
        if (!changed && !in_row) continue;
        if (!cur && !old) continue; /* removing what is not there */
        fs[n].name = d->name;
        fs[n].name_len = (uint32_t)strlen(d->name);
        if (cur) {
            fs[n].value = *cur;
        } else {
            memset(&fs[n].value, 0, sizeof fs[n].value);
        }
        n++;
    }
    *out = fs;
    *nout = n;
    return DX_OK;
}

static dx_hook_kind before_kind(dxj_op op) {
    return op == DXJ_OP_GET_SAVE ? DX_HOOK_BEFORE_SAVE
           : op == DXJ_OP_GET_UPDATE ? DX_HOOK_BEFORE_UPDATE
                                     : DX_HOOK_BEFORE_DELETE;
}

static dx_hook_kind after_kind(dxj_op op) {
    return op == DXJ_OP_GET_SAVE ? DX_HOOK_AFTER_SAVE
           : op == DXJ_OP_GET_UPDATE ? DX_HOOK_AFTER_UPDATE
                                     : DX_HOOK_AFTER_DELETE;
}

/* The condition of the spec was not met: the row is rejected, whatever the operation. */
static void condition_not_met(rworker *w, rrow *r) {
    const dxj_operation *op = &w->job->spec->operation;
    char buf[700];
    r->condfail = true;
    snprintf(buf, sizeof buf, "condition not met: %s",
             op->condition ? op->condition
             : op->must_exist ? "the item must exist"
                              : "(condition)");
    entry_rejected(w, r, NULL, buf);
}

static void version_conflict(rworker *w, rrow *r) {
    char buf[200];
    snprintf(buf, sizeof buf, "version conflict: the item changed between read and write %d times",
             RJ_RMW_TRIES);
    entry_failed(w, r, buf);
}

/*
 * A get_* write whose condition failed. Without a condition of the spec's own
 * only the lock can have failed -- another writer changed (or created) the
 * item between our read and our write -- so the row starts over, at most
 * RJ_RMW_TRIES reads. With one, the read that follows also tells which part
 * failed (get_done): the item as it was read means the spec's condition.
 */
static void read_again(rworker *w, rrow *r) {
    wcall *s = r->slot;
    if (!w->job->user_cond) {
        if (r->tries >= RJ_RMW_TRIES) {
            version_conflict(w, r);
            return;
        }
    } else {
        /* The version read lives in the call's arena, which the next read reuses. */
        dx_value *v = NULL;
        if (r->read_version) {
            v = dx_arena_alloc(&r->ch->work, sizeof *v);
            if (!v || dx_value_copy(&r->ch->work, r->read_version, v) != DX_OK) {
                entry_failed(w, r, "out of memory");
                return;
            }
        }
        r->read_version = v;
        r->recheck = true;
    }
    dx_item_free(r->item);
    r->item = NULL;
    r->created = false;
    r->wrote = NULL;
    r->wrote_fields = NULL;
    dx_arena_reset(&s->arena);
    start_get(w, r);
}

/* After a failed write: is the item still as it was read (same version, or still absent)? */
static bool unchanged_since_read(rworker *w, const rrow *r, const dx_value *stored) {
    const char *va = w->job->spec->operation.version_attr;
    if (r->read_absent || !stored) return r->read_absent && !stored;
    if (!va) return false; /* cannot tell: treat it as a conflict, bounded by the tries */
    const dx_value *now = dx_map_get(stored, va);
    if (!now || !r->read_version) return !now && !r->read_version;
    return dx_value_equal(now, r->read_version);
}

static void get_done(rworker *w, rrow *r) {
    rjob *job = w->job;
    const dxj_operation *op = &job->spec->operation;
    wcall *s = r->slot;
    dx_call *c = &s->call;
    dx_result *res = &w->res;
    note_hot_key(w, r, c);
    if (c->res.err != DX_OK) {
        if (c->res.err == DX_ERR_VALIDATION) {
            reject_res(w, r, &c->res);
        } else {
            call_failed(w, r, &c->res);
        }
        return;
    }
    const dx_value *stored = c->resp.item;
    if (r->recheck) {
        r->recheck = false;
        if (unchanged_since_read(w, r, stored)) {
            r->created = !stored; /* counted in missing, as on the first read */
            condition_not_met(w, r);
            return;
        }
        if (r->tries >= RJ_RMW_TRIES) {
            version_conflict(w, r);
            return;
        }
    }
    r->tries++;
    r->read_absent = stored == NULL;
    r->read_version = NULL;
    dx_item *it = NULL;
    dx_result_clear(res);
    if (!stored) {
        if (op->missing == DXJ_MISSING_SKIP) {
            r->missing = true;
            reject(w, r, NULL, "item not found");
            return;
        }
        r->created = true;
        if (job->op == DXJ_OP_GET_DELETE) { /* nothing to delete: the goal already holds */
            entry_written(w, r);
            return;
        }
        dx_err e = job->op == DXJ_OP_GET_SAVE ? ((it = dx_item_new(job->model)) ? DX_OK
                                                                                : DX_ERR_NOMEM)
                                              : dx_item_from_stored(job->model, &r->m.key, &it,
                                                                    res);
        if (e == DX_ERR_NOMEM && !res->message[0]) dx_fail(res, e, NULL, "out of memory");
        if (e) {
            if (e == DX_ERR_NOMEM)
                entry_failed(w, r, res->message);
            else
                reject_res(w, r, res);
            return;
        }
    } else {
        dx_err e = dx_item_from_stored(job->model, stored, &it, res);
        if (e) {
            reject(w, r, res->field, "%s", res->message);
            return;
        }
        r->item = it;
        if ((e = dxj_run_hooks(job->model, job->plugin, it, DX_HOOK_AFTER_LOAD, job->skip_hooks,
                               res)) != DX_OK) {
            reject_res(w, r, res);
            return;
        }
    }
    r->item = it;
    dx_err e = apply_row(w, r, it, res);
    if (!e) e = dxj_run_hooks(job->model, job->plugin, it, before_kind(job->op), job->skip_hooks, res);
    const dx_value *old_version = NULL;
    if (!e && op->version_attr) {
        old_version = stored ? dx_map_get(stored, op->version_attr) : NULL;
        r->read_version = old_version;
        if (job->op != DXJ_OP_GET_DELETE) e = bump_version(w, r, it, old_version, res);
    }
    if (e) {
        reject_res(w, r, res);
        return;
    }
    const char *cond;
    const dx_value *names, *values;
    if (!get_flow_cond(w, r, old_version, &cond, &names, &values)) {
        entry_failed(w, r, "out of memory");
        return;
    }
    dx_req *q = &c->req;
    if (job->op == DXJ_OP_GET_SAVE) {
        if ((e = dx_item_put_req(it, &s->arena, q, res)) != DX_OK) {
            reject_res(w, r, res);
            return;
        }
        const dx_value *whole = merged_item(w, r, q->item, stored);
        if (!whole) {
            entry_failed(w, r, "out of memory");
            return;
        }
        if (!size_ok(w, r, whole)) return;
        q->item = whole;
        q->condition = cond;
        q->names = names;
        q->values = values;
        r->wrote = whole;
    } else if (job->op == DXJ_OP_GET_UPDATE) {
        dx_member *fs = NULL;
        size_t nfs = 0;
        if ((e = update_fields(w, r, it, stored, &fs, &nfs, res)) != DX_OK) {
            reject_res(w, r, res);
            return;
        }
        if (nfs == 0) { /* nothing changes: the item already is what the row says */
            entry_written(w, r);
            return;
        }
        if ((e = dx_update_req(job->model, &r->m.key, fs, nfs, cond, names, values, &s->arena, q,
                               res)) != DX_OK) {
            reject_res(w, r, res);
            return;
        }
        r->wrote_fields = fs;
        r->nwrote_fields = nfs;
    } else {
        memset(q, 0, sizeof *q);
        q->op = DX_OP_DELETE;
        q->table = job->table;
        q->key = &r->m.key;
        q->condition = cond;
        q->names = names;
        q->values = values;
    }
    r->phase = PH_WRITE;
    submit(w, s);
}

static void write_done(rworker *w, rrow *r) {
    rjob *job = w->job;
    wcall *s = r->slot;
    dx_call *c = &s->call;
    dx_err err = c->res.err;
    note_hot_key(w, r, c);
    if (err == DX_OK) {
        if (r->item) {
            dx_result_clear(&w->res);
            if (dxj_run_hooks(job->model, job->plugin, r->item, after_kind(job->op),
                              job->skip_hooks, &w->res) != DX_OK) {
                w->after_hook_errors++;
                rj_log(job, DXJ_LOG_WARN,
                       "record %" PRIu64 ": written, but an after hook failed: %s",
                       r->rec->index, w->res.message);
            }
        }
        entry_written(w, r);
        return;
    }
    if (err == DX_ERR_CONDITIONAL) {
        if (is_get_flow(job->op) && (job->spec->operation.version_attr || r->created))
            read_again(w, r);
        else
            condition_not_met(w, r);
        return;
    }
    if (err == DX_ERR_VALIDATION || err == DX_ERR_ITEM_TOO_LARGE) {
        char buf[640];
        entry_rejected(w, r, c->res.field, c->res.message[0] ? c->res.message
                                                              : err_text(&c->res, buf, sizeof buf));
        return;
    }
    call_failed(w, r, &c->res);
}

static void verify_done(rworker *w, rrow *r) {
    rjob *job = w->job;
    dx_call *c = &r->slot->call;
    if (c->res.err != DX_OK) {
        char buf[640], key[128];
        key_text(&r->m.key, key, sizeof key);
        rj_log(job, DXJ_LOG_WARN, "verification read of %s (record %" PRIu64 ") failed: %s", key,
               r->rec->index, err_text(&c->res, buf, sizeof buf));
        row_final(w, r, ROW_WRITTEN, NULL, NULL);
        return;
    }
    char what[160];
    bool ok;
    const dx_value *got = c->resp.item;
    switch (job->op) {
    case DXJ_OP_PUT:
    case DXJ_OP_GET_SAVE:
        ok = r->wrote ? dxj_verify_item(r->wrote, got, what, sizeof what)
                      : dxj_verify_absent(got, what, sizeof what);
        break;
    case DXJ_OP_UPDATE_BY_KEY:
    case DXJ_OP_GET_UPDATE:
        ok = dxj_verify_fields(r->wrote_fields, r->nwrote_fields, got, what, sizeof what);
        break;
    default:
        ok = dxj_verify_absent(got, what, sizeof what);
        break;
    }
    w->verified++;
    if (!ok) {
        w->mismatched++;
        char key[128];
        key_text(&r->m.key, key, sizeof key);
        rj_log(job, DXJ_LOG_WARN, "verification mismatch for %s (record %" PRIu64 "): %s", key,
               r->rec->index, what);
        /* Keep the first ones in input order. */
        size_t at = w->nmism;
        if (at == DXJ_MISMATCHES) {
            if (w->mism[at - 1].index < r->rec->index) goto done;
            at--;
        } else {
            w->nmism++;
        }
        while (at > 0 && w->mism[at - 1].index > r->rec->index) {
            w->mism[at] = w->mism[at - 1];
            at--;
        }
        w->mism[at].index = r->rec->index;
        snprintf(w->mism[at].m.key, sizeof w->mism[at].m.key, "%s", key);
        snprintf(w->mism[at].m.what, sizeof w->mism[at].m.what, "%s", what);
    }
done:
    row_final(w, r, ROW_WRITTEN, NULL, NULL);
}

static void on_done(dx_call *c) {
    wcall *s = c->ud;
    rworker *w = s->w;
    if (c->end_ns > c->start_ns) dxj_hist_add(&w->hist, c->end_ns - c->start_ns);
    if (s->kind == K_BATCH) {
        batch_done(w, s);
        return;
    }
    rrow *r = s->row;
    switch (r->phase) {
    case PH_GET: get_done(w, r); break;
    case PH_WRITE: write_done(w, r); break;
    case PH_VERIFY: verify_done(w, r); break;
    default: entry_failed(w, r, "internal error: call completed in no phase"); break;
    }
}

/* ---------------------------------------------------------------- taking rows */

static void process_row(rworker *w, rrow *r) {
    rjob *job = w->job;
    const dxj_record *rec = r->rec;
    if (rec->error) {
        reject(w, r, NULL, "%s", rec->error);
        return;
    }
    dx_result_clear(&w->res);
    if (dxj_map(job->mp, rec, &r->ch->work, &r->m, &w->res) != DX_OK) {
        reject_res(w, r, &w->res);
        return;
    }
    r->verify = dxj_verify_sampled(rec->index, job->spec->verify);
    switch (job->op) {
    case DXJ_OP_PUT:
        /* The mapper has checked the item against the size limit (dxj_map). */
        if (job->cond)
            start_single(w, r);
        else
            batch_add(w, r, false);
        return;
    case DXJ_OP_DELETE_BY_KEY:
        if (job->cond)
            start_single(w, r);
        else
            batch_add(w, r, true);
        return;
    default:
        start_single(w, r);
        return;
    }
}

static bool start_chunk(rworker *w, rchunk *ch) {
    size_t n = ch->in.n;
    ch->rows = dx_arena_calloc(&ch->work, n * sizeof *ch->rows);
    ch->next = 0;
    ch->open = n;
    if (!ch->rows) {
        /* Cannot even track the rows: fail them through a minimal path. */
        dx_result res;
        dx_fail(&res, DX_ERR_NOMEM, NULL, "out of memory for a chunk of %zu rows", n);
        rj_halt(w->job, HALT_FATAL, &res);
        ch->open = 0;
        ch->next = n;
        ch->failed = n;
        rj_chunk_finished(w->job, ch);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        ch->rows[i].ch = ch;
        ch->rows[i].rec = &ch->in.recs[i];
    }
    w->cur = ch;
    return true;
}

static rrow *take_row(rworker *w) {
    rchunk *ch = w->cur;
    rrow *r = &ch->rows[ch->next++];
    if (ch->next == ch->in.n) w->cur = NULL;
    return r;
}

/*
 * --resume: a row the checkpoint lists as written past its mark by an earlier
 * run is not done again (ROW_SKIPPED, final at once). true when r was skipped.
 */
static bool skip_done(rworker *w, rrow *r) {
    rjob *job = w->job;
    if (!job->nprior || !dxj_checkpoint_done_has(job->prior, job->nprior, r->rec->index))
        return false;
    row_final(w, r, ROW_SKIPPED, NULL, NULL);
    return true;
}

/*
 * The job halted: every row not sent yet -- the batch being filled, the rest
 * of the current chunk, the chunks still queued -- ends as not started (or
 * skipped, when an earlier run did it).
 */
static void leave_unsent(rworker *w) {
    if (w->batch) {
        wcall *b = w->batch;
        w->batch = NULL;
        for (size_t i = 0; i < b->n; i++) entry_not_started(w, b->owner[i]);
        slot_put(w, b);
    }
    for (;;) {
        while (w->cur) {
            rrow *r = take_row(w);
            if (!skip_done(w, r)) row_final(w, r, ROW_NOT_STARTED, NULL, NULL);
        }
        rchunk *ch = dxj_queue_try_pop(w->job->chunks);
        if (!ch) break;
        start_chunk(w, ch);
    }
}

typedef enum { F_FULL, F_EMPTY, F_RATE } fill_res;

/* Takes rows while the engine has room. */
static fill_res fill(rworker *w, uint64_t *wait_ns) {
    rjob *job = w->job;
    for (;;) {
        if (atomic_load(&job->halt) != HALT_NONE) {
            leave_unsent(w);
            if (!w->closing) {
                /*
                 * Calls waiting for a retry or for the rate limiter are not in flight: the
                 * engine completes them as cancelled (their rows are not started), while
                 * attempts already sent finish with their real outcome. The callbacks this
                 * runs submit nothing new (w->closing).
                 */
                w->closing = true;
                dx_engine *e = w->eng;
                w->eng = NULL;
                dx_engine_free(e);
                leave_unsent(w);
            }
            return F_EMPTY;
        }
        if (dx_engine_pending(w->eng) >= w->inflight) return F_FULL;
        if (!w->cur) {
            rchunk *ch = dxj_queue_try_pop(job->chunks);
            if (!ch) {
                batch_flush(w); /* nothing more right now: do not let a partial batch wait */
                return F_EMPTY;
            }
            start_chunk(w, ch);
            continue;
        }
        if (job->nprior) {
            /* Rows an earlier run wrote cost no request: not charged to the rate limiter. */
            rchunk *ch = w->cur;
            rrow *r = &ch->rows[ch->next];
            if (dxj_checkpoint_done_has(job->prior, job->nprior, r->rec->index)) {
                skip_done(w, take_row(w));
                continue;
            }
        }
        uint64_t wait = rj_rate_wait(job);
        if (wait) {
            *wait_ns = wait;
            return F_RATE;
        }
        process_row(w, take_row(w));
    }
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

void *rj_worker_main(void *arg) {
    rworker *w = arg;
    rjob *job = w->job;
    for (;;) {
        uint64_t wait = 0;
        fill_res f = fill(w, &wait);
        size_t pending = w->eng ? dx_engine_pending(w->eng) : 0;
        if (f == F_FULL) {
            /* Bounded, so that a halt is seen while calls wait for long backoffs. */
            dx_engine_run(w->eng, 100);
            continue;
        }
        if (pending == 0 && !w->cur && !w->batch) {
            /* Idle: wait for the next chunk (none will come once the queue is closed). */
            rchunk *ch = dxj_queue_pop(job->chunks);
            if (!ch) break;
            start_chunk(w, ch);
            continue;
        }
        if (f == F_RATE) {
            uint64_t cap = 10000000u; /* look at the halt flag and the engine at least every 10 ms */
            if (wait > cap) wait = cap;
            if (pending)
                dx_engine_run(w->eng, (int)((wait + 999999u) / 1000000u));
            else
                sleep_ns(wait);
            continue;
        }
        if (pending) dx_engine_run(w->eng, 10);
    }
    pthread_mutex_lock(&job->mu);
    job->workers_left--;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
    return NULL;
}
