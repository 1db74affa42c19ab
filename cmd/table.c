/*
 * table.c - `dynox table create|describe|delete|dump` for a model's table.
 *
 * create builds the table from the model's key schema (dx_model_table_def)
 * and waits until it is ACTIVE so that a job can follow at once; describe
 * prints DescribeTable plus the point-in-time recovery status as JSON;
 * delete asks for the table's name first; dump writes the table in the
 * memory backend's dump format (DynamoDB JSON lines, sorted by key,
 * attributes sorted by name, numbers canonical), so that the dump of a real
 * table and the --dump of a dry run can be compared byte for byte.
 *
 * Must never: delete a table without a typed confirmation or --yes.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *type_name(dx_type t) { return dx_type_name(t); }

/* The description as one JSON object (stable key order, documented in README.md). */
static void desc_json(dx_buf *b, const dx_table_desc *d, const char *pitr) {
    dx_buf_puts(b, "{\"table\":");
    dx_buf_put_json_str(b, d->name ? d->name : "", d->name ? strlen(d->name) : 0);
    dx_buf_puts(b, ",\"status\":");
    dx_buf_put_json_str(b, d->status ? d->status : "", d->status ? strlen(d->status) : 0);
    dx_buf_puts(b, ",\"key\":{\"hash\":{\"name\":");
    dx_buf_put_json_str(b, d->key.hash ? d->key.hash : "", d->key.hash ? strlen(d->key.hash) : 0);
    dx_buf_printf(b, ",\"type\":\"%s\"}", type_name(d->key.hash_type));
    if (d->key.range) {
        dx_buf_puts(b, ",\"range\":{\"name\":");
        dx_buf_put_json_str(b, d->key.range, strlen(d->key.range));
        dx_buf_printf(b, ",\"type\":\"%s\"}}", type_name(d->key.range_type));
    } else {
        dx_buf_puts(b, ",\"range\":null}");
    }
    dx_buf_printf(b, ",\"billing\":\"%s\",\"rcu\":%g,\"wcu\":%g",
                  d->on_demand ? "PAY_PER_REQUEST" : "PROVISIONED", d->rcu, d->wcu);
    dx_buf_printf(b, ",\"item_count\":%llu,\"size_bytes\":%llu,\"pitr\":\"%s\"}",
                  (unsigned long long)d->item_count, (unsigned long long)d->size_bytes, pitr);
}

/* "enabled", "disabled", or "unknown" when the backend cannot say (dynalite). */
static const char *pitr_status(dx_client *c, const char *table, dx_arena *a) {
    dx_call call;
    memset(&call, 0, sizeof call);
    call.req.op = DX_OP_DESCRIBE_BACKUPS;
    call.req.table = table;
    call.arena = a;
    if (dx_client_call(c, &call) != DX_OK) return "unknown";
    return call.resp.table.pitr ? "enabled" : "disabled";
}

static int describe(const cli_config *cfg, dx_client *c, const char *table) {
    dx_arena a = {0};
    dx_table_desc d;
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_describe_table(c, table, &a, &d, &r);
    if (e) {
        cli_err_result(cfg, "", e, &r);
        dx_arena_release(&a);
        return CLI_EXIT_FATAL;
    }
    dx_buf b = {0};
    desc_json(&b, &d, pitr_status(c, table, &a));
    printf("%s\n", b.ptr ? b.ptr : "{}");
    dx_buf_free(&b);
    dx_arena_release(&a);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FATAL;
}

static int create(const cli_config *cfg, dx_client *c, const dx_model *m) {
    dx_table_def def;
    dx_model_table_def(m, &def);
    def.rcu = cfg->rcu;
    def.wcu = cfg->wcu;
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_create_table(c, &def, &r);
    if (e) {
        cli_err_result(cfg, "", e, &r);
        return CLI_EXIT_FATAL;
    }
    /* A job right after this needs the table ACTIVE: wait (up to 5 minutes). */
    e = dx_wait_table_active(c, def.name, 0, NULL, NULL, &r);
    if (e == DX_ERR_TIMEOUT) {
        cli_note(cfg, "dynox table create: waiting for table %s to become ACTIVE", def.name);
        e = dx_wait_table_active(c, def.name, 300000, NULL, NULL, &r);
    }
    if (e) {
        cli_err_result(cfg, "created, but it did not become ACTIVE", e, &r);
        return CLI_EXIT_FATAL;
    }
    if (!cfg->quiet)
        fprintf(stderr, "dynox table create: created table %s (%s)\n", def.name,
                def.rcu > 0 ? "provisioned" : "on-demand");
    return describe(cfg, c, def.name);
}

static int drop(const cli_config *cfg, dx_client *c, const char *table) {
    bool real = strcmp(dx_client_backend(c), "memory") != 0;
    if (real && !cfg->yes) {
        char region[64], prompt[512];
        cli_region(cfg->region, cfg->profile, region, sizeof region);
        snprintf(
            prompt, sizeof prompt,
            "This deletes table %s in %s and every item in it. Type the table name to continue:",
            table, region[0] ? region : "(default region)");
        int ok = cli_confirm(prompt, table);
        if (ok < 0) {
            cli_err(cfg,
                    "refusing to delete table %s without confirmation: standard input is not a "
                    "terminal, so pass --yes",
                    table);
            return CLI_EXIT_USAGE;
        }
        if (!ok) {
            cli_err(cfg, "not confirmed; table %s was not deleted", table);
            return CLI_EXIT_USAGE;
        }
    }
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_delete_table(c, table, &r);
    if (e) {
        cli_err_result(cfg, "", e, &r);
        return CLI_EXIT_FATAL;
    }
    cli_note(cfg, "dynox table delete: deleted table %s", table);
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- dump */

typedef struct row {
    dx_value *item; /* flattened (members sorted, numbers canonical): free(item) */
    const dx_value *pk, *rk;
} row;

static int row_cmp(const void *x, const void *y) {
    const row *a = x, *b = y;
    return dx_key_cmp(a->pk, a->rk, b->pk, b->rk); /* the order of dx_mem_dump */
}

/* Scans the whole table, sorts by key, writes DynamoDB JSON lines like dx_mem_dump. */
static dx_err scan_dump(dx_client *c, const dx_model *m, FILE *f, dx_result *r) {
    const char *table = dx_model_config_get(m)->table;
    const char *hash = dx_model_hash_key(m)->name;
    const dx_attr_def *rd = dx_model_range_key(m);
    const char *range = rd ? rd->name : NULL;
    row *rows = NULL;
    size_t n = 0, cap = 0;
    dx_arena a = {0}, keep = {0};
    dx_value *start = NULL;
    dx_err e = DX_OK;
    do {
        dx_call call;
        memset(&call, 0, sizeof call);
        call.req.op = DX_OP_SCAN;
        call.req.table = table;
        call.req.start_key = start;
        call.arena = &a;
        if ((e = dx_client_call(c, &call)) != DX_OK) {
            *r = call.res;
            break;
        }
        for (size_t i = 0; i < call.resp.nitems && !e; i++) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 1024;
                row *v = realloc(rows, nc * sizeof *v);
                if (!v) {
                    e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory after %zu items", n);
                    break;
                }
                rows = v;
                cap = nc;
            }
            if ((e = dx_value_flatten(&call.resp.items[i], &rows[n].item, r)) != DX_OK) break;
            rows[n].pk = dx_map_get(rows[n].item, hash);
            rows[n].rk = range ? dx_map_get(rows[n].item, range) : NULL;
            if (!rows[n].pk) {
                free(rows[n].item);
                e = dx_fail(r, DX_ERR_PROTOCOL, hash, "an item without its key %s", hash);
                break;
            }
            n++;
        }
        /* The next page starts after last_key, which lives in this page's arena: keep a copy. */
        start = NULL;
        if (!e && call.resp.last_key) {
            dx_arena_reset(&keep);
            start = dx_arena_alloc(&keep, sizeof *start);
            if (!start || dx_value_copy(&keep, call.resp.last_key, start) != DX_OK)
                e = dx_fail(r, DX_ERR_NOMEM, NULL, NULL);
        }
        dx_arena_reset(&a);
    } while (!e && start);
    if (!e && n) qsort(rows, n, sizeof *rows, row_cmp);
    dx_buf b = {0};
    for (size_t i = 0; i < n && !e; i++) {
        dx_buf_clear(&b);
        if ((e = dx_encode_item(&b, rows[i].item)) != DX_OK || !dx_buf_putc(&b, '\n')) {
            e = dx_fail(r, e ? e : DX_ERR_NOMEM, NULL, "cannot encode an item");
            break;
        }
        if (fwrite(b.ptr, 1, b.len, f) != b.len) e = dx_fail(r, DX_ERR_IO, NULL, "write error");
    }
    dx_buf_free(&b);
    for (size_t i = 0; i < n; i++) free(rows[i].item);
    free(rows);
    dx_arena_release(&a);
    dx_arena_release(&keep);
    return e;
}

static int dump(const cli_config *cfg, dx_client *c, const dx_model *m) {
    bool to_stdout = !cfg->output || strcmp(cfg->output, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(cfg->output, "w");
    if (!f) {
        cli_err(cfg, "--output: cannot write %s: %s", cfg->output, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    dx_result r;
    dx_result_clear(&r);
    const char *table = dx_model_config_get(m)->table;
    dx_err e = strcmp(dx_client_backend(c), "memory") == 0 ? dx_mem_dump(c, table, f, &r)
                                                           : scan_dump(c, m, f, &r);
    if (fflush(f) != 0 && !e) e = dx_fail(&r, DX_ERR_IO, NULL, "write error");
    if (!to_stdout && fclose(f) != 0 && !e) e = dx_fail(&r, DX_ERR_IO, NULL, "write error");
    if (e) {
        cli_err_result(cfg, "", e, &r);
        return CLI_EXIT_FATAL;
    }
    return CLI_EXIT_OK;
}

int cli_cmd_table(cli_cmd cmd, int argc, char **argv, int first) {
    const char *name = cmd == CLI_TABLE_CREATE     ? "table create"
                       : cmd == CLI_TABLE_DESCRIBE ? "table describe"
                       : cmd == CLI_TABLE_DELETE   ? "table delete"
                                                   : "table dump";
    cli_config cfg;
    const char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(cmd, name, argc, argv, first, &cfg, pos, 0, &npos);
    if (rc) return rc;
    if (cfg.help) {
        cli_help(stdout, cmd);
        return CLI_EXIT_OK;
    }
    if (!cfg.model) {
        cli_err(&cfg, "--model FILE is required (the table and its key schema come from it)");
        cli_try_help(&cfg);
        return CLI_EXIT_USAGE;
    }
    if ((cfg.rcu > 0) != (cfg.wcu > 0)) {
        cli_err(&cfg,
                "give both --rcu and --wcu for provisioned capacity, or neither for on-demand");
        cli_try_help(&cfg);
        return CLI_EXIT_USAGE;
    }
    dx_model *m = NULL;
    dx_client *c = NULL;
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_model_load(cfg.model, &m, &r);
    if (e) {
        cli_err_result(&cfg, "--model", e, &r);
        return CLI_EXIT_USAGE;
    }
    char where[1024] = "";
    /* The memory backend creates the model's table on open; create on it is a no-op check. */
    if ((rc = cli_client_open(&cfg, m, &c, where, sizeof where)) != 0) goto out;
    if (cfg.verbose) cli_note(&cfg, "dynox %s: using %s", name, where);
    const char *table = dx_model_config_get(m)->table;
    switch (cmd) {
    case CLI_TABLE_CREATE:
        if (strcmp(dx_client_backend(c), "memory") == 0) {
            rc = describe(&cfg, c, table);
        } else {
            rc = create(&cfg, c, m);
        }
        break;
    case CLI_TABLE_DESCRIBE:
        rc = describe(&cfg, c, table);
        break;
    case CLI_TABLE_DELETE:
        rc = drop(&cfg, c, table);
        break;
    default:
        rc = dump(&cfg, c, m);
        break;
    }
out:
    dx_model_free(m);
    dx_client_free(c);
    return rc;
}
