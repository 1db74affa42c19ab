/*
 * client.c - the backend the item and table commands talk to.
 *
 * DynamoDB is found the way the AWS CLI finds it (dynox/creds.h, through
 * dx_ddb_opts_from_env: --region/--endpoint/--profile first, then the
 * environment and the shared config files); the memory backend is a fresh
 * in-process table, optionally seeded from DynamoDB JSON lines, which makes
 * `dynox get/put/delete --backend memory` a safe place to try things.
 * (`dynox run` does not come here: the runner builds its own client from the
 * job's backend section.)
 *
 * Must never: print a credential. The description of where the client
 * points (for -v) names sources ("AWS_REGION"), never secrets.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "reader.h"

void cli_region(const char *region_opt, const char *profile, char *out, size_t n) {
    dx_env env = dx_env_process();
    dx_aws_opts aws;
    memset(&aws, 0, sizeof aws);
    aws.region = region_opt;
    aws.profile = profile;
    dx_aws_settings st;
    dx_result r;
    dx_result_clear(&r);
    if (dx_aws_resolve(&env, &aws, &st, &r) == DX_OK) {
        snprintf(out, n, "%s", st.region);
    } else {
        snprintf(out, n, "%s", region_opt ? region_opt : "");
    }
}

/* ---------------------------------------------------------------- seed */

/* One line of a seed file: DynamoDB JSON, or an export line {"Item": {...}}. */
static dx_err seed_item(dx_arena *a, dx_str line, dx_value *out, dx_result *r) {
    dx_jcur c;
    dx_jcur_init(&c, a, line.ptr, line.len, r);
    dx_str key;
    bool done;
    if (dx_jcur_obj_begin(&c) == DX_OK && dx_jcur_obj_next(&c, &key, &done) == DX_OK && !done &&
        dx_str_eq(key, "Item") && dx_jcur_peek(&c) == '{') {
        dx_err e = dx_jcur_ddb_item(&c, out);
        if (e) return e;
        if (dx_jcur_obj_next(&c, &key, &done) == DX_OK && done && dx_jcur_at_end(&c)) return DX_OK;
    }
    dx_result_clear(r);
    return dx_decode_item(a, line.ptr, line.len, out, r);
}

static dx_err seed_flush(dx_client *c, const char *table, dx_write *w, size_t n, dx_arena *a,
                         dx_result *r) {
    if (!n) return DX_OK;
    dx_call call;
    memset(&call, 0, sizeof call);
    call.req.op = DX_OP_BATCH_WRITE;
    call.req.table = table;
    call.req.writes = w;
    call.req.nwrites = n;
    call.arena = a;
    dx_err e = dx_client_call(c, &call);
    if (e) {
        *r = call.res;
        return e;
    }
    if (call.resp.nunprocessed)
        return dx_fail(r, DX_ERR_THROUGHPUT, NULL, "%zu seed items were not written",
                       call.resp.nunprocessed);
    return DX_OK;
}

/*
 * Loads a seed file (DynamoDB JSON lines, plain or zstd) into table, 25
 * items per BatchWriteItem. A line that is not an item stops the load with
 * its line number: a seed is the starting state of an experiment, and a
 * partial one would mislead.
 */
static dx_err seed_load(dx_client *c, const char *table, const char *path, uint64_t *count,
                        dx_result *r) {
    dxj_input in;
    memset(&in, 0, sizeof in);
    in.format = DXJ_FMT_JSONL;
    in.json = DXJ_JSON_DYNAMODB;
    dxj_reader *rd = NULL;
    dx_err e = dxj_reader_open(&in, path, &rd, r);
    if (e) return e;
    dxj_chunk ch;
    memset(&ch, 0, sizeof ch);
    dx_arena a = {0}, ca = {0};
    dx_write w[25];
    dx_value items[25];
    size_t n = 0;
    bool eof = false;
    *count = 0;
    while (!eof && !e) {
        e = dxj_reader_next(rd, &ch, 1000, 1u << 20, &eof, r);
        for (size_t i = 0; i < ch.n && !e; i++) {
            const dxj_record *rec = &ch.recs[i];
            if (rec->error) {
                e = dx_fail(r, DX_ERR_PARSE, NULL, "%s: line %llu: %s", path,
                            (unsigned long long)rec->line, rec->error);
                break;
            }
            if (rec->text.len == 0) continue;
            if (seed_item(&a, rec->text, &items[n], r) != DX_OK) {
                char msg[sizeof r->message];
                snprintf(msg, sizeof msg, "%s", r->message);
                e = dx_fail(r, DX_ERR_PARSE, NULL, "%s: line %llu: %s", path,
                            (unsigned long long)rec->line, msg);
                break;
            }
            w[n].del = false;
            w[n].item = &items[n];
            if (++n == 25) {
                e = seed_flush(c, table, w, n, &ca, r);
                *count += n;
                n = 0;
                dx_arena_reset(&a);
                dx_arena_reset(&ca);
            }
        }
    }
    if (!e) {
        e = seed_flush(c, table, w, n, &ca, r);
        *count += n;
    }
    dxj_chunk_clear(&ch);
    dx_arena_release(&ch.arena);
    dx_arena_release(&a);
    dx_arena_release(&ca);
    dxj_reader_free(rd);
    return e;
}

/* ---------------------------------------------------------------- open */

static int open_memory(const cli_config *cfg, const dx_model *m, dx_client **out, char *where,
                       size_t wn) {
    dx_client *c = NULL;
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_mem_client_new(NULL, NULL, &c);
    if (e) {
        cli_err_result(cfg, "memory backend", e, NULL);
        return CLI_EXIT_FATAL;
    }
    dx_table_def def;
    dx_model_table_def(m, &def);
    if ((e = dx_create_table(c, &def, &r)) != DX_OK) {
        cli_err_result(cfg, "memory backend", e, &r);
        dx_client_free(c);
        return CLI_EXIT_FATAL;
    }
    snprintf(where, wn, "the memory backend (table %s)", def.name);
    if (cfg->seed) {
        uint64_t count = 0;
        dx_result_clear(&r);
        if ((e = seed_load(c, def.name, cfg->seed, &count, &r)) != DX_OK) {
            cli_err_result(cfg, "--seed", e, &r);
            dx_client_free(c);
            return CLI_EXIT_USAGE;
        }
        size_t l = strlen(where);
        snprintf(where + l, wn - l, ", %llu items from %s", (unsigned long long)count, cfg->seed);
    }
    *out = c;
    return 0;
}

static int open_dynamodb(const cli_config *cfg, dx_client **out, char *where, size_t wn) {
    dx_env env = dx_env_process();
    dx_aws_opts aws;
    memset(&aws, 0, sizeof aws);
    aws.profile = cfg->profile;
    aws.region = cfg->region;
    aws.endpoint_url = cfg->endpoint;
    dx_ddb_opts o;
    memset(&o, 0, sizeof o);
    dx_ddb_env store;
    memset(&store, 0, sizeof store);
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_ddb_opts_from_env(&o, &store, &env, &aws, &r);
    if (e) {
        cli_err_result(cfg, "DynamoDB", e, &r);
        return e == DX_ERR_CONFIG ? CLI_EXIT_USAGE : CLI_EXIT_FATAL;
    }
    o.insecure = cfg->insecure;
    snprintf(where, wn, "DynamoDB at %s (region %s from %s; endpoint from %s)",
             store.settings.endpoint.url, store.settings.region, store.settings.region_from,
             store.settings.endpoint_from);
    dx_client *c = NULL;
    if ((e = dx_ddb_client_new(&o, NULL, &c, &r)) != DX_OK) {
        cli_err_result(cfg, "DynamoDB", e, &r);
        return e == DX_ERR_CONFIG ? CLI_EXIT_USAGE : CLI_EXIT_FATAL;
    }
    *out = c;
    return 0;
}

int cli_client_open(const cli_config *cfg, const dx_model *m, dx_client **out, char *where,
                    size_t wn) {
    *out = NULL;
    bool memory = cfg->backend && strcmp(cfg->backend, "memory") == 0;
    if (!memory && (cfg->seed || cfg->dump)) {
        cli_err(cfg, "--%s needs --backend memory (it loads or writes the in-memory table)",
                cfg->seed ? "seed" : "dump");
        cli_try_help(cfg);
        return CLI_EXIT_USAGE;
    }
    if (memory && (cfg->endpoint || cfg->region || cfg->profile || cfg->insecure)) {
        cli_err(cfg, "--endpoint, --region, --profile and --insecure are for --backend dynamodb");
        cli_try_help(cfg);
        return CLI_EXIT_USAGE;
    }
    return memory ? open_memory(cfg, m, out, where, wn) : open_dynamodb(cfg, out, where, wn);
}
