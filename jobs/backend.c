/*
 * backend.c - from a backend section to a client, and seed files into a
 * memory table.
 *
 * Resolving DynamoDB (region, endpoint, credentials) is the expensive and
 * failure-prone part, so it is a step of its own (dxj_backend_open) whose
 * result can make more than one client: the runner makes a second client
 * with capacity caps once DescribeTable has told it the table's capacity,
 * without fetching the credentials again. Everything else is a plain record
 * the caller may adjust between the two steps.
 *
 * A seed file is read with the job reader (jobs/reader.h: plain or zstd,
 * any line length up to DXJ_MAX_LINE) and written with PutItem on an engine,
 * 16 requests in flight: one line, one request, so that a line number names
 * the item that failed, and duplicate keys are no error (the later line
 * wins, as when the lines are put one by one).
 *
 * Must never: print, put a credential in a message or a description, or
 * report a seed as loaded when a line of it was not written.
 */
#include "backend.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

#define SEED_RECORDS 1000        /* lines per chunk: also the calls one chunk needs */
#define SEED_BYTES (1u << 20)
#define SEED_INFLIGHT 16

/* ---------------------------------------------------------------- clients */

dx_err dxj_backend_open(dxj_backend_conn *c, const dxj_backend_spec *b, bool dry_run,
                        const dx_env *env, dx_result *r) {
    memset(c, 0, sizeof *c);
    c->memory = dry_run || b->type == DXJ_BACKEND_MEMORY;
    if (c->memory) {
        c->mem.simulate_capacity = b->sim_wcu > 0 || b->sim_rcu > 0;
        return DX_OK;
    }
    dx_env process = dx_env_process();
    dx_aws_opts aws;
    memset(&aws, 0, sizeof aws);
    aws.profile = b->profile;
    aws.region = b->region;
    aws.endpoint_url = b->endpoint;
    dx_err e = dx_ddb_opts_from_env(&c->ddb, &c->env, env ? env : &process, &aws, r);
    if (e) {
        memset(c, 0, sizeof *c);
        return e;
    }
    c->ddb.insecure = b->insecure;
    return DX_OK;
}

dx_err dxj_backend_client(dxj_backend_conn *c, const dx_client_opts *copts, dx_client **out,
                          dx_result *r) {
    *out = NULL;
    if (c->memory) {
        dx_err e = dx_mem_client_new(&c->mem, copts, out);
        if (e) return dx_fail(r, e, NULL, "cannot create the memory backend: %s", dx_strerror(e));
        return DX_OK;
    }
    bool handover = c->ddb.owns_provider;
    dx_err e = dx_ddb_client_new(&c->ddb, copts, out, r);
    if (handover) {
        /* The client owns the provider now (or freed it on failure). */
        c->ddb.provider = NULL;
        c->ddb.owns_provider = false;
        c->env.provider = NULL;
    }
    return e;
}

void dxj_backend_describe(const dxj_backend_conn *c, char *out, size_t n) {
    if (!n) return;
    if (c->memory) {
        snprintf(out, n, "the memory backend");
        return;
    }
    const dx_aws_settings *s = &c->env.settings;
    snprintf(out, n, "DynamoDB at %s (region %s from %s; endpoint from %s)", s->endpoint.url,
             s->region, s->region_from, s->endpoint_from);
}

void dxj_backend_close(dxj_backend_conn *c) {
    if (!c) return;
    dx_creds_provider_free(c->env.provider);
    memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------- seeds */

/* A seed line: DynamoDB JSON, or an export line {"Item": {...}}. */
static dx_err decode_seed(dx_arena *a, dx_str text, dx_value *out, dx_result *r) {
    dx_jcur c;
    dx_result tmp;
    dx_result_clear(&tmp);
    dx_jcur_init(&c, a, text.ptr, text.len, &tmp);
    dx_str key;
    bool done;
    if (dx_jcur_obj_begin(&c) == DX_OK && dx_jcur_obj_next(&c, &key, &done) == DX_OK && !done &&
        dx_str_eq(key, "Item") && dx_jcur_peek(&c) == '{' && dx_jcur_ddb_item(&c, out) == DX_OK &&
        dx_jcur_obj_next(&c, &key, &done) == DX_OK && done && dx_jcur_at_end(&c))
        return DX_OK;
    return dx_decode_item(a, text.ptr, text.len, out, r);
}

static dx_err open_seed(const char *path, dxj_reader **rd, dx_result *r) {
    dxj_input in;
    memset(&in, 0, sizeof in);
    in.path = (char *)path;
    in.format = DXJ_FMT_JSONL;
    in.json = DXJ_JSON_DYNAMODB;
    return dxj_reader_open(&in, path, rd, r);
}

static void seed_done(dx_call *c) { (void)c; }

dx_err dxj_seed_load(dx_client *c, const char *table, const char *path, uint64_t *count,
                     dx_result *r) {
    dxj_reader *rd = NULL;
    dx_engine *eng = NULL;
    dxj_chunk ch;
    memset(&ch, 0, sizeof ch);
    dx_call *calls = NULL;
    dx_value *items = NULL;
    uint64_t total = 0;
    if (count) *count = 0;
    dx_err e = open_seed(path, &rd, r);
    if (e) return e;
    dx_engine_opts eo = {.max_inflight = SEED_INFLIGHT};
    eng = dx_engine_new(c, &eo);
    calls = calloc(SEED_RECORDS, sizeof *calls);
    items = calloc(SEED_RECORDS, sizeof *items);
    if (!eng || !calls || !items) {
        e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory seeding %s", path);
        goto out;
    }
    bool eof = false;
    while (!eof) {
        if ((e = dxj_reader_next(rd, &ch, SEED_RECORDS, SEED_BYTES, &eof, r)) != DX_OK) goto out;
        size_t sent = 0;
        dx_result bad; /* the first line that is not an item, if any */
        dx_result_clear(&bad);
        for (; sent < ch.n; sent++) {
            const dxj_record *rec = &ch.recs[sent];
            dx_result res;
            dx_result_clear(&res);
            if (rec->error || decode_seed(&ch.arena, rec->text, &items[sent], &res) != DX_OK) {
                dx_fail(&bad, DX_ERR_PARSE, NULL, "seed file %s, line %" PRIu64 ": %s", path,
                        rec->line, rec->error ? rec->error : res.message);
                break;
            }
            memset(&calls[sent], 0, sizeof calls[sent]);
            calls[sent].req.op = DX_OP_PUT;
            calls[sent].req.table = table;
            calls[sent].req.item = &items[sent];
            calls[sent].done = seed_done;
            dx_engine_submit(eng, &calls[sent]);
        }
        /* The lines before a bad one were sent: let them finish, then name the first failure. */
        dx_engine_drain(eng);
        for (size_t i = 0; i < sent; i++) {
            if (calls[i].res.err == DX_OK) {
                total++;
            } else if (e == DX_OK) {
                e = dx_fail(r, calls[i].res.err, NULL, "seed file %s, line %" PRIu64 ": %s", path,
                            ch.recs[i].line, calls[i].res.message);
            }
        }
        if (!e && bad.err) {
            if (r) *r = bad;
            e = bad.err;
        }
        if (e) goto out;
    }
out:
    if (count) *count = total;
    dx_engine_free(eng);
    free(calls);
    free(items);
    dxj_chunk_clear(&ch);
    dx_arena_release(&ch.arena);
    dxj_reader_free(rd);
    return e;
}

dx_err dxj_seed_units(const char *path, double *units, dx_result *r) {
    dxj_reader *rd = NULL;
    dxj_chunk ch;
    memset(&ch, 0, sizeof ch);
    *units = 0;
    dx_err e = open_seed(path, &rd, r);
    bool eof = false;
    while (!e && !eof) {
        if ((e = dxj_reader_next(rd, &ch, SEED_RECORDS, SEED_BYTES, &eof, r)) != DX_OK) break;
        for (size_t i = 0; i < ch.n; i++) {
            dx_value item;
            dx_result res;
            dx_result_clear(&res);
            if (!ch.recs[i].error && decode_seed(&ch.arena, ch.recs[i].text, &item, &res) == DX_OK)
                *units += dx_write_units(dx_item_size(&item));
            else
                *units += 1; /* dxj_seed_load reports the bad line itself */
        }
    }
    dxj_chunk_clear(&ch);
    dx_arena_release(&ch.arena);
    dxj_reader_free(rd);
    return e;
}
