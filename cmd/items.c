/*
 * items.c - `dynox get`, `dynox put` and `dynox delete`: one item at a time.
 *
 * Keys and items are plain JSON typed by the model, exactly as a JSON-lines
 * job input is: the key goes through the job mapper (jobs/mapper.h, as a
 * delete_by_key row) and the item through dx_item_from_dict, so `dynox get
 * --key` accepts what a job file's input accepts. The calls are the
 * library's synchronous ones (dx_model_get, dx_item_save, dx_item_delete,
 * dx_delete_by_key), with hooks unless --skip-hooks.
 *
 * Must never: write when the input did not map (exit 2 before any call).
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapper.h"

/* What a library error means for the exit code of a single-item command. */
static int exit_for(dx_err e) {
    switch (e) {
    case DX_OK:
        return CLI_EXIT_OK;
    case DX_ERR_CONDITIONAL:
        return CLI_EXIT_ROWS;
    case DX_ERR_VALIDATION:
    case DX_ERR_ITEM_TOO_LARGE:
    case DX_ERR_HOOK:
    case DX_ERR_PARSE:
    case DX_ERR_CONFIG:
    case DX_ERR_INVALID_ARG:
        return CLI_EXIT_USAGE;
    default:
        return CLI_EXIT_FATAL;
    }
}

/*
 * The key given as plain JSON, typed by the model: mapped as one JSON line
 * of a delete_by_key job would be, so both accept the same text.
 */
static dx_err parse_key(const dx_model *m, const char *json, dx_arena *a, dx_value *out,
                        dx_result *r) {
    dxj_mapping map;
    memset(&map, 0, sizeof map);
    dxj_operation op;
    memset(&op, 0, sizeof op);
    op.op = DXJ_OP_DELETE_BY_KEY;
    dxj_input in;
    memset(&in, 0, sizeof in);
    in.format = DXJ_FMT_JSONL;
    in.json = DXJ_JSON_PLAIN;
    dxj_mapper *mp = NULL;
    dx_err e = dxj_mapper_new(m, &map, &op, &in, NULL, 0, &mp, r);
    if (e) return e;
    dxj_record rec;
    memset(&rec, 0, sizeof rec);
    rec.index = rec.line = 1;
    rec.text = dx_str_c(json);
    dxj_mapped mapped;
    memset(&mapped, 0, sizeof mapped);
    e = dxj_map(mp, &rec, a, &mapped, r);
    if (!e) *out = mapped.key;
    dxj_mapper_free(mp);
    return e;
}

static int print_item(const cli_config *cfg, const dx_item *it) {
    dx_buf b = {0};
    dx_err e = cfg->ddb_json ? dx_encode_item(&b, dx_item_value(it)) : dx_item_to_dict(it, &b);
    if (e) {
        dx_buf_free(&b);
        cli_err_result(cfg, "cannot print the item", e, NULL);
        return CLI_EXIT_FATAL;
    }
    fwrite(b.ptr, 1, b.len, stdout);
    fputc('\n', stdout);
    dx_buf_free(&b);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FATAL;
}

static int dump_table(const cli_config *cfg, dx_client *c, const char *table) {
    bool to_stdout = strcmp(cfg->dump, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(cfg->dump, "w");
    if (!f) {
        cli_err(cfg, "--dump: cannot write %s: %s", cfg->dump, strerror(errno));
        return CLI_EXIT_FATAL;
    }
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_mem_dump(c, table, f, &r);
    if (!to_stdout && fclose(f) != 0 && !e)
        e = dx_fail(&r, DX_ERR_IO, NULL, "cannot write %s", cfg->dump);
    if (e) {
        cli_err_result(cfg, "--dump", e, &r);
        return CLI_EXIT_FATAL;
    }
    return 0;
}

static const char *cmd_name(cli_cmd cmd) {
    return cmd == CLI_GET ? "get" : cmd == CLI_PUT ? "put" : "delete";
}

int cli_cmd_item(cli_cmd cmd, int argc, char **argv, int first) {
    cli_config cfg;
    const char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(cmd, cmd_name(cmd), argc, argv, first, &cfg, pos, 0, &npos);
    if (rc) return rc;
    if (cfg.help) {
        cli_help(stdout, cmd);
        return CLI_EXIT_OK;
    }
    const char *missing = !cfg.model                    ? "--model FILE"
                          : cmd == CLI_PUT && !cfg.item ? "--item JSON"
                          : cmd != CLI_PUT && !cfg.key  ? "--key JSON"
                                                        : NULL;
    if (missing) {
        cli_err(&cfg, "%s is required", missing);
        cli_try_help(&cfg);
        return CLI_EXIT_USAGE;
    }
    if (cfg.values && !cfg.condition) {
        cli_err(&cfg, "--values is given without --condition");
        cli_try_help(&cfg);
        return CLI_EXIT_USAGE;
    }

    dx_model *m = NULL;
    dx_client *c = NULL;
    dx_item *it = NULL;
    dx_arena a = {0};
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_model_load(cfg.model, &m, &r);
    if (e) {
        cli_err_result(&cfg, "--model", e, &r);
        return CLI_EXIT_USAGE;
    }

    dx_op_opts o;
    memset(&o, 0, sizeof o);
    if (cfg.skip_hooks) o.skip_hooks = DX_YES;
    if (cfg.consistent_read) o.consistent_read = DX_YES;
    dx_value names, values;
    if (cfg.condition) {
        /* #name stands for the attribute called name, as in job files. */
        if ((e = dx_expr_names_for(&a, cfg.condition, &names, &r)) != DX_OK) {
            cli_err_result(&cfg, "--condition", e, &r);
            rc = e == DX_ERR_NOMEM ? CLI_EXIT_FATAL : CLI_EXIT_USAGE;
            goto out;
        }
        o.condition = cfg.condition;
        o.names = names.n ? &names : NULL;
    }
    if (cfg.values) {
        if ((e = dx_decode_plain(&a, cfg.values, strlen(cfg.values), &values, &r)) != DX_OK ||
            values.type != DX_T_M) {
            cli_err(&cfg, "--values: %s", e ? r.message : "expected a JSON object ({\":v\": 1})");
            rc = CLI_EXIT_USAGE;
            goto out;
        }
        o.values = &values;
    }

    /* Parse the input before touching the backend: a typo must not cost a round trip. */
    dx_value key;
    memset(&key, 0, sizeof key);
    if (cmd == CLI_PUT) {
        dx_from_dict_opts fo = {0};
        if ((e = dx_item_from_dict(m, cfg.item, strlen(cfg.item), &fo, &it, &r)) != DX_OK) {
            cli_err_result(&cfg, "--item", e, &r);
            rc = CLI_EXIT_USAGE;
            goto out;
        }
    } else if ((e = parse_key(m, cfg.key, &a, &key, &r)) != DX_OK) {
        cli_err_result(&cfg, "--key", e, &r);
        rc = CLI_EXIT_USAGE;
        goto out;
    }

    char where[1024] = "";
    if ((rc = cli_client_open(&cfg, m, &c, where, sizeof where)) != 0) goto out;
    if (cfg.verbose) cli_note(&cfg, "dynox %s: using %s", cfg.cmd_name, where);
    dx_model_set_client(m, c);
    const char *table = dx_model_config_get(m)->table;

    dx_result_clear(&r);
    if (cmd == CLI_GET) {
        e = dx_model_get(m, &key, &o, &it, &r);
        if (!e && !it) {
            dx_buf kb = {0};
            dx_encode_plain(&kb, &key);
            cli_err(&cfg, "no item with key %s in table %s", kb.ptr ? kb.ptr : "?", table);
            dx_buf_free(&kb);
            rc = CLI_EXIT_ROWS;
            goto out;
        }
        if (!e) rc = print_item(&cfg, it);
    } else if (cmd == CLI_PUT) {
        e = dx_item_save(it, &o, &r);
        if (!e) rc = print_item(&cfg, it);
    } else {
        bool hooks = !cfg.skip_hooks && !dx_model_config_get(m)->skip_hooks &&
                     (dx_model_has_hooks(m, DX_HOOK_BEFORE_DELETE) ||
                      dx_model_has_hooks(m, DX_HOOK_AFTER_DELETE));
        if (hooks) {
            /* The hooks get the item as stored: read it (consistently) first. */
            dx_op_opts ro = o;
            ro.condition = NULL;
            ro.names = ro.values = NULL;
            ro.consistent_read = DX_YES;
            e = dx_model_get(m, &key, &ro, &it, &r);
            if (!e && it) e = dx_item_delete(it, &o, &r);
            if (!e && !it) cli_note(&cfg, "dynox delete: no such item; nothing to delete");
        } else {
            e = dx_delete_by_key(m, &key, &o, &r);
        }
        if (!e && cfg.verbose) cli_note(&cfg, "dynox delete: deleted from table %s", table);
    }
    if (e) {
        /* A server's answer names no table ("Requested resource not found"): say which. */
        char what[300] = "";
        if (e == DX_ERR_CONDITIONAL)
            snprintf(what, sizeof what, "the condition was not met");
        else if (r.http_status || e == DX_ERR_RESOURCE_NOT_FOUND)
            snprintf(what, sizeof what, "table %s", table);
        cli_err_result(&cfg, what, e, &r);
        rc = exit_for(e);
        goto out;
    }
    if (cfg.dump && rc == CLI_EXIT_OK) rc = dump_table(&cfg, c, table);
out:
    dx_item_free(it);
    dx_model_free(m);
    dx_client_free(c);
    dx_arena_release(&a);
    return rc;
}
