/*
 * spec.c - job files: parse, default, check.
 *
 * A job file is JSON parsed with cJSON and walked object by object against a
 * table of the keys each object allows, so that an unknown or misspelt key
 * is an error that names its path and suggests the nearest known key. Every
 * value is type-checked where it is read, with a message naming the file,
 * the key path and what was expected. Nothing here reads input data or talks
 * to a backend: dxj_spec_check only loads the model file and cross-checks
 * the spec against it.
 *
 * Must never: accept a key it does not understand, or leave a field
 * half-parsed on error (the spec is freed and zeroed).
 */
#include "spec.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- names */

static const char *const op_names[] = {
    [DXJ_OP_NONE] = "none",
    [DXJ_OP_PUT] = "put",
    [DXJ_OP_UPDATE_BY_KEY] = "update_by_key",
    [DXJ_OP_DELETE_BY_KEY] = "delete_by_key",
    [DXJ_OP_GET_SAVE] = "get_save",
    [DXJ_OP_GET_UPDATE] = "get_update",
    [DXJ_OP_GET_DELETE] = "get_delete",
};

const char *dxj_op_name(dxj_op op) {
    if ((unsigned)op >= sizeof op_names / sizeof op_names[0]) return "none";
    return op_names[op];
}

dxj_op dxj_op_from_name(const char *s) {
    for (size_t i = 1; s && i < sizeof op_names / sizeof op_names[0]; i++)
        if (strcmp(s, op_names[i]) == 0) return (dxj_op)i;
    return DXJ_OP_NONE;
}

bool dxj_op_destructive(dxj_op op) { return op == DXJ_OP_DELETE_BY_KEY || op == DXJ_OP_GET_DELETE; }

/* ---------------------------------------------------------------- helpers */

typedef struct ctx {
    const char *name; /* the file name for messages */
    dx_result *r;
} ctx;

static char *xstrdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

void dxj_spec_set_str(char **field, const char *v) {
    free(*field);
    *field = xstrdup(v);
}

static dx_err bad(ctx *c, const char *path, const char *fmt, ...) DX_PRINTF(3, 4);
static dx_err bad(ctx *c, const char *path, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dx_fail(c->r, DX_ERR_CONFIG, path, "%s: %s: %s", c->name, path, msg);
}

static void join_path(char *out, size_t cap, const char *parent, const char *key) {
    if (parent && *parent) {
        snprintf(out, cap, "%s.%s", parent, key);
    } else {
        snprintf(out, cap, "%s", key);
    }
}

/* An error when member `it` of obj repeats an earlier key: cJSON keeps both and lookups
 * see the first, so the second would be silently ignored. */
static dx_err check_twice(ctx *c, const cJSON *obj, const cJSON *it, const char *path) {
    for (const cJSON *p = obj->child; p != it; p = p->next) {
        if (strcmp(p->string, it->string) != 0) continue;
        char kp[256];
        join_path(kp, sizeof kp, path, it->string);
        return bad(c, kp, "given twice (keep one)");
    }
    return DX_OK;
}

/* Errors for the first key of obj not in allowed (NULL-terminated), or given twice. */
static dx_err check_keys(ctx *c, const cJSON *obj, const char *path, const char *const *allowed) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = false;
        for (const char *const *k = allowed; *k; k++)
            if (strcmp(it->string, *k) == 0) ok = true;
        dx_err e = ok ? check_twice(c, obj, it, path) : DX_OK;
        if (e) return e;
        if (ok) continue;
        const char *best = dx_suggest(it->string, allowed, SIZE_MAX, 2); /* only close matches */
        char p[256];
        join_path(p, sizeof p, path, it->string);
        if (best) return bad(c, p, "unknown key (did you mean '%s'?)", best);
        char list[300] = "";
        for (const char *const *k = allowed; *k; k++) {
            if (list[0]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, *k, sizeof list - strlen(list) - 1);
        }
        return bad(c, p, "unknown key (known keys here: %s)", list);
    }
    return DX_OK;
}

static dx_err get_obj(ctx *c, const cJSON *parent, const char *key, const char *path,
                      const cJSON **out) {
    *out = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (*out && !cJSON_IsObject(*out)) {
        char p[256];
        join_path(p, sizeof p, path, key);
        return bad(c, p, "expected an object");
    }
    return DX_OK;
}

static dx_err get_str(ctx *c, const cJSON *parent, const char *key, const char *path, char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (!v || cJSON_IsNull(v)) return DX_OK;
    char p[256];
    join_path(p, sizeof p, path, key);
    if (!cJSON_IsString(v)) return bad(c, p, "expected a string");
    dxj_spec_set_str(out, v->valuestring);
    return *out ? DX_OK : dx_fail(c->r, DX_ERR_NOMEM, p, NULL);
}

static dx_err get_bool(ctx *c, const cJSON *parent, const char *key, const char *path, bool *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (!v) return DX_OK;
    if (!cJSON_IsBool(v)) {
        char p[256];
        join_path(p, sizeof p, path, key);
        return bad(c, p, "expected true or false");
    }
    *out = cJSON_IsTrue(v);
    return DX_OK;
}

static dx_err get_num(ctx *c, const cJSON *parent, const char *key, const char *path, double lo,
                      double hi, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (!v) return DX_OK;
    char p[256];
    join_path(p, sizeof p, path, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return bad(c, p, "expected a number");
    if (v->valuedouble < lo || v->valuedouble > hi)
        return bad(c, p, "%g is out of range (%g to %g)", v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return DX_OK;
}

static dx_err get_u32(ctx *c, const cJSON *parent, const char *key, const char *path, uint32_t lo,
                      uint32_t hi, uint32_t *out) {
    double d = -1;
    dx_err e = get_num(c, parent, key, path, lo, hi, &d);
    if (e || d < 0) return e;
    if (d != floor(d)) {
        char p[256];
        join_path(p, sizeof p, path, key);
        return bad(c, p, "expected a whole number, got %g", d);
    }
    *out = (uint32_t)d;
    return DX_OK;
}

/* A one-character option such as the CSV delimiter ("\t" is written as "\t" in JSON). */
static dx_err get_char(ctx *c, const cJSON *parent, const char *key, const char *path, char *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (!v) return DX_OK;
    char p[256];
    join_path(p, sizeof p, path, key);
    if (!cJSON_IsString(v) || strlen(v->valuestring) != 1)
        return bad(c, p, "expected a string of exactly one character");
    *out = v->valuestring[0];
    return DX_OK;
}

/* ---------------------------------------------------------------- sections */

static dx_err parse_csv(ctx *c, const cJSON *o, dxj_csv_opts *csv) {
    static const char *const keys[] = {"delimiter", "quote", "header", "columns", "null", NULL};
    dx_err e;
    bool header = true;
    if ((e = check_keys(c, o, "input.csv", keys)) || (e = get_char(c, o, "delimiter", "input.csv", &csv->delimiter)) ||
        (e = get_char(c, o, "quote", "input.csv", &csv->quote)) ||
        (e = get_bool(c, o, "header", "input.csv", &header)) ||
        (e = get_str(c, o, "null", "input.csv", &csv->null_marker)))
        return e;
    csv->no_header = !header;
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(o, "columns");
    if (cols) {
        if (!cJSON_IsArray(cols) || cJSON_GetArraySize(cols) == 0)
            return bad(c, "input.csv.columns", "expected a non-empty array of column names");
        size_t n = (size_t)cJSON_GetArraySize(cols);
        csv->columns = calloc(n, sizeof *csv->columns);
        if (!csv->columns) return dx_fail(c->r, DX_ERR_NOMEM, NULL, NULL);
        csv->ncolumns = n;
        size_t i = 0;
        for (const cJSON *it = cols->child; it; it = it->next, i++) {
            if (!cJSON_IsString(it) || !*it->valuestring)
                return bad(c, "input.csv.columns", "element %zu: expected a non-empty string", i);
            csv->columns[i] = xstrdup(it->valuestring);
        }
    }
    return DX_OK;
}

static dx_err parse_input(ctx *c, const cJSON *o, dxj_input *in) {
    static const char *const keys[] = {"path", "format", "compression", "json", "csv", NULL};
    dx_err e;
    char *fmt = NULL, *comp = NULL, *json = NULL;
    if ((e = check_keys(c, o, "input", keys)) || (e = get_str(c, o, "path", "input", &in->path)) ||
        (e = get_str(c, o, "format", "input", &fmt)) ||
        (e = get_str(c, o, "compression", "input", &comp)) ||
        (e = get_str(c, o, "json", "input", &json)))
        goto out;
    if (fmt) {
        if (strcmp(fmt, "csv") == 0) {
            in->format = DXJ_FMT_CSV;
        } else if (strcmp(fmt, "jsonl") == 0) {
            in->format = DXJ_FMT_JSONL;
        } else if (strcmp(fmt, "auto") == 0) {
            in->format = DXJ_FMT_AUTO;
        } else {
            e = bad(c, "input.format", "'%s' is not a format (csv, jsonl or auto)", fmt);
            goto out;
        }
    }
    if (comp) {
        if (strcmp(comp, "zstd") == 0) {
            in->compression = DXJ_COMP_ZSTD;
        } else if (strcmp(comp, "none") == 0) {
            in->compression = DXJ_COMP_NONE;
        } else if (strcmp(comp, "auto") == 0) {
            in->compression = DXJ_COMP_AUTO;
        } else {
            e = bad(c, "input.compression", "'%s' is not a compression (auto, none or zstd)", comp);
            goto out;
        }
    }
    if (json) {
        if (strcmp(json, "plain") == 0) {
            in->json = DXJ_JSON_PLAIN;
        } else if (strcmp(json, "dynamodb") == 0) {
            in->json = DXJ_JSON_DYNAMODB;
        } else if (strcmp(json, "auto") == 0) {
            in->json = DXJ_JSON_AUTO;
        } else {
            e = bad(c, "input.json", "'%s' is not a JSON kind (auto, plain or dynamodb)", json);
            goto out;
        }
    }
    const cJSON *csv;
    if ((e = get_obj(c, o, "csv", "input", &csv))) goto out;
    if (csv) e = parse_csv(c, csv, &in->csv);
out:
    free(fmt);
    free(comp);
    free(json);
    return e;
}

static dx_err parse_mapping(ctx *c, const cJSON *o, dxj_mapping *m) {
    static const char *const keys[] = {"columns", "constants", "ignore_unknown", NULL};
    dx_err e;
    if ((e = check_keys(c, o, "mapping", keys)) ||
        (e = get_bool(c, o, "ignore_unknown", "mapping", &m->ignore_unknown)))
        return e;
    const cJSON *cols, *consts;
    if ((e = get_obj(c, o, "columns", "mapping", &cols)) ||
        (e = get_obj(c, o, "constants", "mapping", &consts)))
        return e;
    if (cols) {
        size_t n = (size_t)cJSON_GetArraySize(cols), i = 0;
        m->columns = calloc(n ? n : 1, sizeof *m->columns);
        if (!m->columns) return dx_fail(c->r, DX_ERR_NOMEM, NULL, NULL);
        for (const cJSON *it = cols->child; it; it = it->next, i++) {
            char p[256];
            join_path(p, sizeof p, "mapping.columns", it->string);
            if ((e = check_twice(c, cols, it, "mapping.columns"))) return e;
            if (!cJSON_IsNull(it) && !(cJSON_IsString(it) && *it->valuestring))
                return bad(c, p, "expected an attribute name, or null to ignore the column");
            m->columns[i].column = xstrdup(it->string);
            m->columns[i].attr = cJSON_IsNull(it) ? NULL : xstrdup(it->valuestring);
            m->ncolumns = i + 1;
        }
    }
    if (consts) {
        size_t n = (size_t)cJSON_GetArraySize(consts), i = 0;
        m->constants = calloc(n ? n : 1, sizeof *m->constants);
        if (!m->constants) return dx_fail(c->r, DX_ERR_NOMEM, NULL, NULL);
        for (const cJSON *it = consts->child; it; it = it->next, i++) {
            if ((e = check_twice(c, consts, it, "mapping.constants"))) return e;
            m->constants[i].attr = xstrdup(it->string);
            m->constants[i].json = cJSON_PrintUnformatted(it);
            m->nconstants = i + 1;
            if (!m->constants[i].json) return dx_fail(c->r, DX_ERR_NOMEM, NULL, NULL);
        }
    }
    return DX_OK;
}

static dx_err parse_operation(ctx *c, const cJSON *o, dxj_operation *op) {
    static const char *const keys[] = {"type", "condition", "values", "must_exist",
                                       "version_attr", "missing", "null", NULL};
    dx_err e;
    char *type = NULL, *missing = NULL, *nul = NULL;
    if ((e = check_keys(c, o, "operation", keys)) || (e = get_str(c, o, "type", "operation", &type)) ||
        (e = get_str(c, o, "condition", "operation", &op->condition)) ||
        (e = get_bool(c, o, "must_exist", "operation", &op->must_exist)) ||
        (e = get_str(c, o, "version_attr", "operation", &op->version_attr)) ||
        (e = get_str(c, o, "missing", "operation", &missing)) ||
        (e = get_str(c, o, "null", "operation", &nul)))
        goto out;
    if (type && (op->op = dxj_op_from_name(type)) == DXJ_OP_NONE) {
        e = bad(c, "operation.type",
                "'%s' is not an operation (put, update_by_key, delete_by_key, get_save, "
                "get_update, get_delete)",
                type);
        goto out;
    }
    if (missing) {
        if (strcmp(missing, "skip") == 0) {
            op->missing = DXJ_MISSING_SKIP;
        } else if (strcmp(missing, "create") == 0) {
            op->missing = DXJ_MISSING_CREATE;
        } else {
            e = bad(c, "operation.missing", "'%s' is not a policy (skip or create)", missing);
            goto out;
        }
    }
    if (nul) {
        if (strcmp(nul, "remove") == 0) {
            op->null_stores = false;
        } else if (strcmp(nul, "store") == 0) {
            op->null_stores = true;
        } else {
            e = bad(c, "operation.null", "'%s' is not a policy (remove or store)", nul);
            goto out;
        }
    }
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(o, "values");
    if (vals) {
        if (!cJSON_IsObject(vals)) {
            e = bad(c, "operation.values", "expected an object of \":name\": value");
            goto out;
        }
        for (const cJSON *it = vals->child; it; it = it->next) {
            if (it->string[0] != ':' || !it->string[1]) {
                char p[256];
                join_path(p, sizeof p, "operation.values", it->string);
                e = bad(c, p, "value placeholders start with ':' (\":%s\")", it->string);
                goto out;
            }
        }
        op->values_json = cJSON_PrintUnformatted(vals);
    }
out:
    free(type);
    free(missing);
    free(nul);
    return e;
}

/*
 * "hooks": {"skip": false, "plugin": "x.so", "plugin_arg": "...",
 *           "before_save": [{"builtin": "set_now", "attr": "updated_at"}], ...}
 * The per-kind lists have the same form as in model files.
 */
static dx_err parse_hooks(ctx *c, const cJSON *o, dxj_hooks *h) {
    static const char *const keys[] = {"skip", "plugin", "plugin_arg", "before_save",
                                       "after_save", "before_update", "after_update",
                                       "before_delete", "after_delete", "after_load", NULL};
    static const char *const bkeys[] = {"builtin", "attr", NULL};
    dx_err e;
    if ((e = check_keys(c, o, "hooks", keys)) || (e = get_bool(c, o, "skip", "hooks", &h->skip)) ||
        (e = get_str(c, o, "plugin", "hooks", &h->plugin)) ||
        (e = get_str(c, o, "plugin_arg", "hooks", &h->plugin_arg)))
        return e;
    size_t total = 0;
    for (const cJSON *it = o->child; it; it = it->next)
        if (cJSON_IsArray(it)) total += (size_t)cJSON_GetArraySize(it);
    h->builtins = calloc(total ? total : 1, sizeof *h->builtins);
    if (!h->builtins) return dx_fail(c->r, DX_ERR_NOMEM, NULL, NULL);
    for (const cJSON *list = o->child; list; list = list->next) {
        dx_hook_kind kind = dx_hook_kind_from_name(list->string);
        if (kind == DX_HOOK__COUNT) continue; /* skip, plugin, plugin_arg */
        char p[64];
        snprintf(p, sizeof p, "hooks.%s", list->string);
        if (!cJSON_IsArray(list))
            return bad(c, p, "expected an array of {\"builtin\": name, \"attr\": attribute}");
        size_t i = 0;
        for (const cJSON *it = list->child; it; it = it->next, i++) {
            char pi[80];
            snprintf(pi, sizeof pi, "%s[%zu]", p, i);
            if (!cJSON_IsObject(it)) return bad(c, pi, "expected an object");
            dxj_hook_ref *ref = &h->builtins[h->nbuiltins++];
            ref->kind = kind;
            if ((e = check_keys(c, it, pi, bkeys)) || (e = get_str(c, it, "builtin", pi, &ref->builtin)) ||
                (e = get_str(c, it, "attr", pi, &ref->attr)))
                return e;
            if (!ref->builtin) return bad(c, pi, "builtin is required (set_now, bump_version, validate)");
        }
    }
    return DX_OK;
}

static dx_err parse_backend(ctx *c, const cJSON *o, dxj_backend_spec *b) {
    static const char *const keys[] = {"type", "endpoint", "region", "profile", "insecure",
                                       "seed", "dump", "create_table", "simulate", NULL};
    static const char *const skeys[] = {"wcu", "rcu", NULL};
    dx_err e;
    char *type = NULL;
    bool create = !b->no_create_table;
    if ((e = check_keys(c, o, "backend", keys)) || (e = get_str(c, o, "type", "backend", &type)) ||
        (e = get_str(c, o, "endpoint", "backend", &b->endpoint)) ||
        (e = get_str(c, o, "region", "backend", &b->region)) ||
        (e = get_str(c, o, "profile", "backend", &b->profile)) ||
        (e = get_bool(c, o, "insecure", "backend", &b->insecure)) ||
        (e = get_str(c, o, "seed", "backend", &b->seed)) ||
        (e = get_str(c, o, "dump", "backend", &b->dump)) ||
        (e = get_bool(c, o, "create_table", "backend", &create)))
        goto out;
    b->no_create_table = !create;
    if (type) {
        if (strcmp(type, "memory") == 0) {
            b->type = DXJ_BACKEND_MEMORY;
        } else if (strcmp(type, "dynamodb") == 0) {
            b->type = DXJ_BACKEND_DYNAMODB;
        } else {
            e = bad(c, "backend.type", "'%s' is not a backend (memory or dynamodb)", type);
            goto out;
        }
    }
    const cJSON *sim;
    if ((e = get_obj(c, o, "simulate", "backend", &sim))) goto out;
    if (sim && ((e = check_keys(c, sim, "backend.simulate", skeys)) ||
                (e = get_num(c, sim, "wcu", "backend.simulate", 0, 1e9, &b->sim_wcu)) ||
                (e = get_num(c, sim, "rcu", "backend.simulate", 0, 1e9, &b->sim_rcu))))
        goto out;
out:
    free(type);
    return e;
}

static dx_err parse_retry(ctx *c, const cJSON *o, dx_retry_opts *rt) {
    static const char *const keys[] = {"max_attempts", "base_ms", "max_ms", NULL};
    dx_err e;
    if ((e = check_keys(c, o, "retry", keys)) ||
        (e = get_u32(c, o, "max_attempts", "retry", 1, 1000, &rt->max_attempts)) ||
        (e = get_u32(c, o, "base_ms", "retry", 1, 600000, &rt->base_ms)) ||
        (e = get_u32(c, o, "max_ms", "retry", 1, 3600000, &rt->max_ms)))
        return e;
    return DX_OK;
}

static dx_err parse_root(ctx *c, const cJSON *root, dxj_spec *s) {
    static const char *const keys[] = {
        "model", "input", "mapping", "operation", "hooks", "workers", "in_flight", "rate",
        "max_wcu", "max_rcu", "capacity_share", "retry", "verify", "consistent_read", "backend",
        "dry_run", "report", "rejects", "failures", "checkpoint", "limit", "$comment", NULL};
    dx_err e;
    if (!cJSON_IsObject(root)) return bad(c, "(top)", "a job file is a JSON object");
    if ((e = check_keys(c, root, "", keys))) return e;

    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (model) {
        if (cJSON_IsString(model)) {
            dxj_spec_set_str(&s->model_path, model->valuestring);
        } else if (cJSON_IsObject(model)) {
            char *text = cJSON_PrintUnformatted(model);
            if (!text) return dx_fail(c->r, DX_ERR_NOMEM, NULL, NULL);
            dx_result mr;
            dx_result_clear(&mr);
            e = dx_model_from_json(text, strlen(text), &s->model, &mr);
            free(text);
            if (e) return bad(c, "model", "%s", mr.message);
        } else {
            return bad(c, "model", "expected a model file path or an inline model object");
        }
    }
    const cJSON *sub;
    if ((e = get_obj(c, root, "input", "", &sub))) return e;
    if (sub && (e = parse_input(c, sub, &s->input))) return e;
    if ((e = get_obj(c, root, "mapping", "", &sub))) return e;
    if (sub && (e = parse_mapping(c, sub, &s->mapping))) return e;
    if ((e = get_obj(c, root, "operation", "", &sub))) return e;
    if (sub && (e = parse_operation(c, sub, &s->operation))) return e;
    if ((e = get_obj(c, root, "hooks", "", &sub))) return e;
    if (sub && (e = parse_hooks(c, sub, &s->hooks))) return e;
    if ((e = get_obj(c, root, "retry", "", &sub))) return e;
    if (sub && (e = parse_retry(c, sub, &s->retry))) return e;
    if ((e = get_obj(c, root, "backend", "", &sub))) return e;
    if (sub && (e = parse_backend(c, sub, &s->backend))) return e;

    double limit = 0;
    const cJSON *verify = cJSON_GetObjectItemCaseSensitive(root, "verify");
    if (cJSON_IsBool(verify)) {
        s->verify = cJSON_IsTrue(verify) ? 1.0 : 0.0;
    } else if ((e = get_num(c, root, "verify", "", 0, 1, &s->verify))) {
        return e;
    }
    if ((e = get_u32(c, root, "workers", "", 1, 256, &s->workers)) ||
        (e = get_u32(c, root, "in_flight", "", 1, 4096, &s->inflight)) ||
        (e = get_num(c, root, "rate", "", 0, 1e9, &s->rate)) ||
        (e = get_num(c, root, "max_wcu", "", 0, 1e9, &s->max_wcu)) ||
        (e = get_num(c, root, "max_rcu", "", 0, 1e9, &s->max_rcu)) ||
        (e = get_num(c, root, "capacity_share", "", 0, 1, &s->capacity_share)) ||
        (e = get_bool(c, root, "consistent_read", "", &s->consistent_read)) ||
        (e = get_bool(c, root, "dry_run", "", &s->dry_run)) ||
        (e = get_str(c, root, "report", "", &s->report)) ||
        (e = get_str(c, root, "rejects", "", &s->rejects)) ||
        (e = get_str(c, root, "failures", "", &s->failures)) ||
        (e = get_str(c, root, "checkpoint", "", &s->checkpoint)) ||
        (e = get_num(c, root, "limit", "", 0, 9e15, &limit)))
        return e;
    s->limit = (uint64_t)limit;
    return DX_OK;
}

/* ---------------------------------------------------------------- public */

dx_err dxj_spec_parse(const char *json, size_t len, const char *name, const char *base_dir,
                      dxj_spec *out, dx_result *r) {
    memset(out, 0, sizeof *out);
    ctx c = {name ? name : "job", r};
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!root) {
        long off = end ? (long)(end - json) : 0;
        long line = 1;
        for (long i = 0; i < off && i < (long)len; i++)
            if (json[i] == '\n') line++;
        dx_fail(r, DX_ERR_CONFIG, NULL, "%s: line %ld: not valid JSON near byte %ld", c.name, line, off);
        if (r) r->offset = off;
        return DX_ERR_CONFIG;
    }
    out->path = name ? xstrdup(name) : NULL;
    out->base_dir = xstrdup(base_dir ? base_dir : ".");
    dx_err e = parse_root(&c, root, out);
    cJSON_Delete(root);
    if (e) dxj_spec_free(out);
    return e;
}

dx_err dxj_spec_load(const char *path, dxj_spec *out, dx_result *r) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return dx_fail(r, DX_ERR_IO, NULL, "%s: cannot open the job file: %s", path, strerror(errno));
    dx_buf b = {0};
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (!dx_buf_append(&b, tmp, n)) {
            fclose(f);
            dx_buf_free(&b);
            return dx_fail(r, DX_ERR_NOMEM, NULL, NULL);
        }
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        dx_buf_free(&b);
        return dx_fail(r, DX_ERR_IO, NULL, "%s: read error", path);
    }
    char *copy = xstrdup(path);
    const char *dir = copy ? dirname(copy) : ".";
    dx_err e = dxj_spec_parse(b.ptr ? b.ptr : "", b.len, path, dir, out, r);
    free(copy);
    dx_buf_free(&b);
    return e;
}

void dxj_spec_defaults(dxj_spec *s) {
    if (!s->workers) s->workers = 2;
    if (!s->inflight) s->inflight = 32;
    if (!s->input.csv.delimiter) s->input.csv.delimiter = ',';
    if (!s->input.csv.quote) s->input.csv.quote = '"';
    if (!s->retry.max_attempts) s->retry.max_attempts = 10;
    if (!s->retry.base_ms) s->retry.base_ms = 25;
    if (!s->retry.max_ms) s->retry.max_ms = 5000;
}

char *dxj_spec_path(const dxj_spec *s, const char *p) {
    if (!p) return NULL;
    if (strcmp(p, "-") == 0 || p[0] == '/' || !s->base_dir || strcmp(s->base_dir, ".") == 0)
        return xstrdup(p);
    size_t n = strlen(s->base_dir) + strlen(p) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s/%s", s->base_dir, p);
    return out;
}

static dx_err check_model(dxj_spec *s, dx_result *r) {
    const char *name = s->path ? s->path : "job";
    if (!s->model) {
        if (!s->model_path)
            return dx_fail(r, DX_ERR_CONFIG, "model", "%s: model: no model (give a model file path)", name);
        char *p = dxj_spec_path(s, s->model_path);
        dx_result mr;
        dx_result_clear(&mr);
        dx_err e = p ? dx_model_load(p, &s->model, &mr) : DX_ERR_NOMEM;
        free(p);
        if (e) return dx_fail(r, DX_ERR_CONFIG, "model", "%s: model: %s", name, mr.message);
    }
    for (size_t i = 0; !s->hooks.applied && i < s->hooks.nbuiltins; i++) {
        const dxj_hook_ref *h = &s->hooks.builtins[i];
        dx_result hr;
        dx_result_clear(&hr);
        if (dx_model_add_builtin_hook(s->model, h->kind, h->builtin, h->attr, &hr))
            return dx_fail(r, DX_ERR_CONFIG, "hooks", "%s: hooks.%s: %s", name,
                           dx_hook_kind_name(h->kind), hr.message);
    }
    s->hooks.applied = true; /* added once; a second check must not add them again */
    return DX_OK;
}

dx_err dxj_spec_check(dxj_spec *s, dx_result *r) {
    const char *name = s->path ? s->path : "job";
    dxj_spec_defaults(s);
    if (s->operation.op == DXJ_OP_NONE)
        return dx_fail(r, DX_ERR_CONFIG, "operation.type",
                       "%s: operation.type: no operation (put, update_by_key, delete_by_key, "
                       "get_save, get_update or get_delete)",
                       name);
    if (!s->input.path || !*s->input.path)
        return dx_fail(r, DX_ERR_CONFIG, "input.path", "%s: input.path: no input (a file, or - for standard input)", name);
    dx_err e = check_model(s, r);
    if (e) return e;
    for (size_t i = 0; i < s->mapping.ncolumns; i++) {
        const char *a = s->mapping.columns[i].attr;
        if (a && !dx_model_find(s->model, a))
            return dx_fail(r, DX_ERR_CONFIG, "mapping.columns",
                           "%s: mapping.columns.%s: maps to '%s', which model %s does not have", name,
                           s->mapping.columns[i].column, a, dx_model_name(s->model));
    }
    for (size_t i = 0; i < s->mapping.nconstants; i++) {
        const char *a = s->mapping.constants[i].attr;
        if (!dx_model_find(s->model, a))
            return dx_fail(r, DX_ERR_CONFIG, "mapping.constants",
                           "%s: mapping.constants.%s: model %s has no such attribute", name, a,
                           dx_model_name(s->model));
    }
    if (s->operation.version_attr) {
        const dx_attr_def *v = dx_model_find(s->model, s->operation.version_attr);
        if (!v || v->type != DX_ATTR_NUMBER)
            return dx_fail(r, DX_ERR_CONFIG, "operation.version_attr",
                           "%s: operation.version_attr: '%s' must be a number attribute of model %s",
                           name, s->operation.version_attr, dx_model_name(s->model));
        if (s->operation.op != DXJ_OP_GET_SAVE && s->operation.op != DXJ_OP_GET_UPDATE &&
            s->operation.op != DXJ_OP_GET_DELETE)
            return dx_fail(r, DX_ERR_CONFIG, "operation.version_attr",
                           "%s: operation.version_attr: only get_save, get_update and get_delete read "
                           "the version to check",
                           name);
    }
    if (s->operation.values_json && !s->operation.condition)
        return dx_fail(r, DX_ERR_CONFIG, "operation.values",
                       "%s: operation.values: given without operation.condition", name);
    if (s->shard_count && s->shard_index >= s->shard_count)
        return dx_fail(r, DX_ERR_CONFIG, "shard", "%s: shard %u/%u: the index must be below the count",
                       name, s->shard_index, s->shard_count);
    /* Only the report may go to standard output ("-"): the others are files that are
     * appended to, re-read or re-run, and two of them on one stream could not be told apart. */
    const struct {
        const char *key, *path;
    } files[] = {{"rejects", s->rejects},           {"failures", s->failures},
                 {"checkpoint", s->checkpoint},     {"backend.dump", s->backend.dump},
                 {"backend.seed", s->backend.seed}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (files[i].path && strcmp(files[i].path, "-") == 0)
            return dx_fail(r, DX_ERR_CONFIG, files[i].key,
                           "%s: %s: '-' (standard input/output) is not possible here: give a file "
                           "(only the report can go to standard output)",
                           name, files[i].key);
    if (s->backend.type == DXJ_BACKEND_MEMORY && !s->dry_run) s->dry_run = true;
    if (s->dry_run && (s->backend.sim_wcu > 0 || s->backend.sim_rcu > 0) &&
        (s->backend.sim_wcu <= 0 || s->backend.sim_rcu <= 0))
        return dx_fail(r, DX_ERR_CONFIG, "backend.simulate",
                       "%s: backend.simulate: give both wcu and rcu, a table has both "
                       "(--simulate-wcu N --simulate-rcu N)",
                       name);
    return DX_OK;
}

static void free_strs(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void dxj_spec_free(dxj_spec *s) {
    if (!s) return;
    free(s->path);
    free(s->base_dir);
    free(s->model_path);
    dx_model_free(s->model);
    free(s->input.path);
    free_strs(s->input.csv.columns, s->input.csv.ncolumns);
    free(s->input.csv.null_marker);
    for (size_t i = 0; i < s->mapping.ncolumns; i++) {
        free(s->mapping.columns[i].column);
        free(s->mapping.columns[i].attr);
    }
    free(s->mapping.columns);
    for (size_t i = 0; i < s->mapping.nconstants; i++) {
        free(s->mapping.constants[i].attr);
        cJSON_free(s->mapping.constants[i].json);
    }
    free(s->mapping.constants);
    free(s->operation.condition);
    cJSON_free(s->operation.values_json);
    free(s->operation.version_attr);
    for (size_t i = 0; i < s->hooks.nbuiltins; i++) {
        free(s->hooks.builtins[i].builtin);
        free(s->hooks.builtins[i].attr);
    }
    free(s->hooks.builtins);
    free(s->hooks.plugin);
    free(s->hooks.plugin_arg);
    free(s->backend.endpoint);
    free(s->backend.region);
    free(s->backend.profile);
    free(s->backend.seed);
    free(s->backend.dump);
    free(s->report);
    free(s->rejects);
    free(s->failures);
    free(s->checkpoint);
    memset(s, 0, sizeof *s);
}
