/*
 * model.c - models: attribute schema, config, hooks, and JSON model files.
 *
 * A model is built once (from a C table or a model file), checked as a whole
 * (names, keys, types, generators, defaults) and then only read, so any
 * number of threads may share it once its hooks are registered. Everything a
 * model points at lives in its own arena: the caller's table and strings need
 * not outlive dx_model_new. Defaults are parsed once here, with the very
 * checks an item applies when a value is set (dx_attr_from_plain_ in item.c),
 * and items then point at them without copying.
 *
 * Model files are parsed with cJSON and are strict: an unknown key, a key
 * given twice or a value of the wrong JSON type is an error naming the file,
 * the location ("attributes.age.default") and what was expected. The format
 * is documented in docs/models.md.
 *
 * Must never: talk to a backend, accept a schema DynamoDB would refuse (key
 * attributes are S, N or B), or let a model file set anything a C table
 * could not.
 */
#include "model_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynox/codec.h"
#include "dynox/size.h"

/* ---------------------------------------------------------------- names */

static const char *const attr_type_names[] = {
    [DX_ATTR_STRING] = "string",         [DX_ATTR_NUMBER] = "number",
    [DX_ATTR_BINARY] = "binary",         [DX_ATTR_BOOL] = "bool",
    [DX_ATTR_LIST] = "list",             [DX_ATTR_MAP] = "map",
    [DX_ATTR_STRING_SET] = "string_set", [DX_ATTR_NUMBER_SET] = "number_set",
    [DX_ATTR_BINARY_SET] = "binary_set", [DX_ATTR_JSON] = "json",
    [DX_ATTR_DATETIME] = "datetime",     [DX_ATTR_TTL] = "ttl",
};
#define NTYPES (sizeof attr_type_names / sizeof attr_type_names[0])

const char *dx_attr_type_name(dx_attr_type t) {
    if ((unsigned)t >= NTYPES) return NULL;
    return attr_type_names[t];
}

dx_attr_type dx_attr_type_from_name(const char *name) {
    if (!name) return (dx_attr_type)0;
    for (size_t i = 1; i < NTYPES; i++)
        if (strcmp(attr_type_names[i], name) == 0) return (dx_attr_type)i;
    return (dx_attr_type)0;
}

dx_type dx_attr_type_storage(dx_attr_type t) {
    switch (t) {
    case DX_ATTR_STRING:
    case DX_ATTR_JSON:
    case DX_ATTR_DATETIME:
        return DX_T_S;
    case DX_ATTR_NUMBER:
    case DX_ATTR_TTL:
        return DX_T_N;
    case DX_ATTR_BINARY:
        return DX_T_B;
    case DX_ATTR_BOOL:
        return DX_T_BOOL;
    case DX_ATTR_LIST:
        return DX_T_L;
    case DX_ATTR_MAP:
        return DX_T_M;
    case DX_ATTR_STRING_SET:
        return DX_T_SS;
    case DX_ATTR_NUMBER_SET:
        return DX_T_NS;
    case DX_ATTR_BINARY_SET:
        return DX_T_BS;
    }
    return DX_T_NONE;
}

static const char *const hook_names[DX_HOOK__COUNT] = {
    [DX_HOOK_BEFORE_SAVE] = "before_save",     [DX_HOOK_AFTER_SAVE] = "after_save",
    [DX_HOOK_BEFORE_UPDATE] = "before_update", [DX_HOOK_AFTER_UPDATE] = "after_update",
    [DX_HOOK_BEFORE_DELETE] = "before_delete", [DX_HOOK_AFTER_DELETE] = "after_delete",
    [DX_HOOK_AFTER_LOAD] = "after_load",
};

const char *dx_hook_kind_name(dx_hook_kind k) {
    if ((unsigned)k >= DX_HOOK__COUNT) return NULL;
    return hook_names[k];
}

dx_hook_kind dx_hook_kind_from_name(const char *name) {
    if (!name) return DX_HOOK__COUNT;
    for (int k = 0; k < DX_HOOK__COUNT; k++)
        if (strcmp(hook_names[k], name) == 0) return (dx_hook_kind)k;
    return DX_HOOK__COUNT;
}

static const char *const gen_names[] = {
    [DX_GEN_NONE] = "none", [DX_GEN_UUID4] = "uuid4", [DX_GEN_ULID] = "ulid",
    [DX_GEN_NOW_ISO] = "now", [DX_GEN_NOW_EPOCH] = "now_epoch",
};
#define NGENS (sizeof gen_names / sizeof gen_names[0])

/* ---------------------------------------------------------------- default client */

static _Atomic(dx_client *) default_client;

void dx_set_default_client(dx_client *c) { atomic_store(&default_client, c); }

dx_client *dx_default_client(void) { return atomic_load(&default_client); }

/* ---------------------------------------------------------------- building */

/* Records an error whose message starts with `prefix` (a file name and ": ", or ""). */
static dx_err failp(dx_result *r, dx_err e, const char *field, const char *prefix,
                    const char *fmt, ...) DX_PRINTF(5, 6);
static dx_err failp(dx_result *r, dx_err e, const char *field, const char *prefix,
                    const char *fmt, ...) {
    char msg[sizeof r->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dx_fail(r, e, field, "%s%s", prefix ? prefix : "", msg);
}

size_t dx_model_index_(const dx_model *m, const char *name, size_t n) {
    for (size_t i = 0; i < m->nattrs; i++) {
        const char *an = m->attrs[i].name;
        if (strncmp(an, name, n) == 0 && an[n] == 0) return i;
    }
    return DX_NO_ATTR;
}

static bool key_type_ok(dx_attr_type t) {
    /* Stored as S, N or B; json text as a key would change with formatting. */
    return t == DX_ATTR_STRING || t == DX_ATTR_NUMBER || t == DX_ATTR_BINARY ||
           t == DX_ATTR_DATETIME || t == DX_ATTR_TTL;
}

static const char *gen_fit(dx_gen g, dx_attr_type t) {
    switch (g) {
    case DX_GEN_NONE:
        return NULL;
    case DX_GEN_UUID4:
    case DX_GEN_ULID:
        return t == DX_ATTR_STRING ? NULL : "makes text: use it with a string attribute";
    case DX_GEN_NOW_ISO:
        return t == DX_ATTR_DATETIME || t == DX_ATTR_STRING
                   ? NULL
                   : "makes ISO 8601 text: use it with a datetime or string attribute "
                     "(now_epoch gives epoch seconds for number and ttl)";
    case DX_GEN_NOW_EPOCH:
        return t == DX_ATTR_NUMBER || t == DX_ATTR_TTL
                   ? NULL
                   : "makes epoch seconds: use it with a number or ttl attribute "
                     "(now gives ISO 8601 text for datetime and string)";
    }
    return "is not a known generator";
}

/* Parses and checks the default of attribute i into the model's arena. */
static dx_err load_default(dx_model *m, size_t i, const char *prefix, dx_result *r) {
    const dx_attr_def *d = &m->attrs[i];
    dx_arena tmp = {0};
    dx_value plain;
    dx_result inner;
    dx_result_clear(&inner);
    dx_err e = dx_decode_plain(&tmp, d->default_json, strlen(d->default_json), &plain, &inner);
    if (e == DX_ERR_NOMEM) goto out;
    if (e) {
        e = failp(r, DX_ERR_CONFIG, d->name, prefix,
                  "model '%s': attribute '%s': default %s is not valid JSON: %s", m->name,
                  d->name, d->default_json, inner.message);
        goto out;
    }
    if (plain.type == DX_T_NULL) {
        e = failp(r, DX_ERR_CONFIG, d->name, prefix,
                  "model '%s': attribute '%s': a default of null means no default; leave "
                  "\"default\" out instead",
                  m->name, d->name);
        goto out;
    }
    e = dx_attr_from_plain_(m, i, &plain, &m->arena, &m->defaults[i], &inner);
    if (e == DX_ERR_NOMEM) goto out;
    if (e) {
        e = failp(r, DX_ERR_CONFIG, d->name, prefix,
                  "model '%s': attribute '%s': default %s does not fit type %s: %s", m->name,
                  d->name, d->default_json, dx_attr_type_name(d->type), inner.message);
    }
out:
    if (e == DX_ERR_NOMEM) dx_fail(r, e, d->name, "out of memory loading a default");
    dx_arena_release(&tmp);
    return e;
}

static dx_err check_attr(const dx_model *m, const dx_attr_def *attrs, size_t i,
                         const char *prefix, dx_result *r) {
    const dx_attr_def *d = &attrs[i];
    if (!d->name || !d->name[0])
        return failp(r, DX_ERR_CONFIG, NULL, prefix, "model '%s': attribute #%zu has no name",
                     m->name, i + 1);
    size_t len = strlen(d->name);
    if (!dx_utf8_valid(d->name, len))
        return failp(r, DX_ERR_CONFIG, NULL, prefix,
                     "model '%s': attribute #%zu's name is not valid UTF-8", m->name, i + 1);
    if (len > 65535)
        return failp(r, DX_ERR_CONFIG, d->name, prefix,
                     "model '%s': attribute #%zu's name is %zu bytes, over DynamoDB's 65535",
                     m->name, i + 1, len);
    for (size_t j = 0; j < i; j++)
        if (strcmp(attrs[j].name, d->name) == 0)
            return failp(r, DX_ERR_CONFIG, d->name, prefix,
                         "model '%s': attribute '%s' is defined twice (#%zu and #%zu)", m->name,
                         d->name, j + 1, i + 1);
    if (!dx_attr_type_name(d->type))
        return failp(r, DX_ERR_CONFIG, d->name, prefix,
                     "model '%s': attribute '%s' has an unknown type (%d)", m->name, d->name,
                     (int)d->type);
    if ((unsigned)d->key > DX_KEY_RANGE)
        return failp(r, DX_ERR_CONFIG, d->name, prefix,
                     "model '%s': attribute '%s' has an unknown key role (%d)", m->name, d->name,
                     (int)d->key);
    if (d->key != DX_KEY_NONE && !key_type_ok(d->type))
        return failp(r, DX_ERR_CONFIG, d->name, prefix,
                     "model '%s': key attribute '%s' is of type %s; a %s key must be string, "
                     "number, binary, datetime (stored as a string) or ttl (stored as a number)",
                     m->name, d->name, dx_attr_type_name(d->type),
                     d->key == DX_KEY_HASH ? "hash" : "range");
    if ((unsigned)d->gen >= NGENS)
        return failp(r, DX_ERR_CONFIG, d->name, prefix,
                     "model '%s': attribute '%s' has an unknown generator (%d)", m->name, d->name,
                     (int)d->gen);
    const char *why = gen_fit(d->gen, d->type);
    if (why)
        return failp(r, DX_ERR_CONFIG, d->name, prefix,
                     "model '%s': attribute '%s' of type %s: generator '%s' %s", m->name, d->name,
                     dx_attr_type_name(d->type), gen_names[d->gen], why);
    if (d->gen != DX_GEN_NONE && d->default_json)
        return failp(r, DX_ERR_CONFIG, d->name, prefix,
                     "model '%s': attribute '%s' has both a default and a generator; keep one",
                     m->name, d->name);
    return DX_OK;
}

static dx_err model_build(const char *name, const dx_attr_def *attrs, size_t nattrs,
                          const dx_model_config *cfg, const char *prefix, dx_model **out,
                          dx_result *r) {
    *out = NULL;
    if (!name || !name[0])
        return failp(r, DX_ERR_CONFIG, NULL, prefix, "a model needs a non-empty name");
    if (!cfg || !cfg->table || !cfg->table[0])
        return failp(r, DX_ERR_CONFIG, "table", prefix,
                     "model '%s' has no table: set config.table to the table's name", name);
    if (cfg->max_size > DX_MAX_ITEM_SIZE)
        return failp(r, DX_ERR_CONFIG, "max_size", prefix,
                     "model '%s': max_size %zu is over DynamoDB's item limit of %d bytes (400 "
                     "KB); use 0 for that limit",
                     name, cfg->max_size, DX_MAX_ITEM_SIZE);
    if (!attrs || nattrs == 0)
        return failp(r, DX_ERR_CONFIG, NULL, prefix, "model '%s' has no attributes", name);

    dx_model *m = calloc(1, sizeof *m);
    if (!m) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory creating model '%s'", name);
    dx_err e = DX_ERR_NOMEM;
    m->name = dx_arena_strdup(&m->arena, name);
    if (!m->name) goto fail;

    size_t nhash = 0, nrange = 0;
    m->hash = m->range = DX_NO_ATTR;
    for (size_t i = 0; i < nattrs; i++) {
        if ((e = check_attr(m, attrs, i, prefix, r)) != DX_OK) goto fail;
        if (attrs[i].key == DX_KEY_HASH) {
            if (nhash++) {
                e = failp(r, DX_ERR_CONFIG, attrs[i].name, prefix,
                          "model '%s' has two hash keys ('%s' and '%s'); it needs exactly one",
                          name, attrs[m->hash].name, attrs[i].name);
                goto fail;
            }
            m->hash = i;
        } else if (attrs[i].key == DX_KEY_RANGE) {
            if (nrange++) {
                e = failp(r, DX_ERR_CONFIG, attrs[i].name, prefix,
                          "model '%s' has two range keys ('%s' and '%s'); it may have one",
                          name, attrs[m->range].name, attrs[i].name);
                goto fail;
            }
            m->range = i;
        }
    }
    if (!nhash) {
        e = failp(r, DX_ERR_CONFIG, NULL, prefix,
                  "model '%s' has no hash key: mark one attribute with key = hash", name);
        goto fail;
    }

    e = DX_ERR_NOMEM;
    m->attrs = dx_arena_calloc(&m->arena, nattrs * sizeof *m->attrs);
    m->defaults = dx_arena_calloc(&m->arena, nattrs * sizeof *m->defaults);
    m->cfg = *cfg;
    m->cfg.table = dx_arena_strdup(&m->arena, cfg->table);
    if (!m->attrs || !m->defaults || !m->cfg.table) goto fail;
    for (size_t i = 0; i < nattrs; i++) {
        m->attrs[i] = attrs[i];
        m->attrs[i].name = dx_arena_strdup(&m->arena, attrs[i].name);
        if (!m->attrs[i].name) goto fail;
        if (attrs[i].key != DX_KEY_NONE) m->attrs[i].required = true;
        if (attrs[i].default_json) {
            m->attrs[i].default_json = dx_arena_strdup(&m->arena, attrs[i].default_json);
            if (!m->attrs[i].default_json) goto fail;
        }
    }
    m->nattrs = nattrs;
    for (size_t i = 0; i < nattrs; i++) {
        if (!m->attrs[i].default_json) continue;
        if ((e = load_default(m, i, prefix, r)) != DX_OK) goto fail;
    }
    *out = m;
    return DX_OK;
fail:
    if (e == DX_ERR_NOMEM) dx_fail(r, e, NULL, "out of memory creating model '%s'", name);
    dx_model_free(m);
    return e;
}

dx_err dx_model_new(const char *name, const dx_attr_def *attrs, size_t nattrs,
                    const dx_model_config *cfg, dx_model **out, dx_result *r) {
    if (!out) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dx_model_new: out is NULL");
    return model_build(name, attrs, nattrs, cfg, NULL, out, r);
}

void dx_model_free(dx_model *m) {
    if (!m) return;
    for (int k = 0; k < DX_HOOK__COUNT; k++) free(m->hooks[k].v);
    dx_arena_release(&m->arena);
    free(m);
}

/* ---------------------------------------------------------------- accessors */

const char *dx_model_name(const dx_model *m) { return m->name; }
const dx_model_config *dx_model_config_get(const dx_model *m) { return &m->cfg; }
void dx_model_set_client(dx_model *m, dx_client *c) { m->cfg.client = c; }

void dx_model_set_table(dx_model *m, const char *table) {
    /* The old name stays in the arena: a request in flight may still point at it. */
    char *t = table ? dx_arena_strdup(&m->arena, table) : NULL;
    if (t) m->cfg.table = t;
}

void dx_model_set_skip_hooks(dx_model *m, bool skip) { m->cfg.skip_hooks = skip; }
void dx_model_set_consistent_read(dx_model *m, bool consistent) { m->cfg.consistent_read = consistent; }

void dx_model_set_max_size(dx_model *m, size_t max_size) {
    m->cfg.max_size = max_size > DX_MAX_ITEM_SIZE ? DX_MAX_ITEM_SIZE : max_size;
}
size_t dx_model_nattrs(const dx_model *m) { return m->nattrs; }

const dx_attr_def *dx_model_attr(const dx_model *m, size_t i) {
    return i < m->nattrs ? &m->attrs[i] : NULL;
}

const dx_attr_def *dx_model_find(const dx_model *m, const char *name) {
    if (!name) return NULL;
    size_t i = dx_model_index_(m, name, strlen(name));
    return i == DX_NO_ATTR ? NULL : &m->attrs[i];
}

const dx_attr_def *dx_model_hash_key(const dx_model *m) { return &m->attrs[m->hash]; }

const dx_attr_def *dx_model_range_key(const dx_model *m) {
    return m->range == DX_NO_ATTR ? NULL : &m->attrs[m->range];
}

void dx_model_table_def(const dx_model *m, dx_table_def *out) {
    memset(out, 0, sizeof *out);
    out->name = m->cfg.table;
    out->key.hash = m->attrs[m->hash].name;
    out->key.hash_type = dx_attr_type_storage(m->attrs[m->hash].type);
    if (m->range != DX_NO_ATTR) {
        out->key.range = m->attrs[m->range].name;
        out->key.range_type = dx_attr_type_storage(m->attrs[m->range].type);
    }
}

dx_client *dx_model_client(const dx_model *m) {
    return m->cfg.client ? m->cfg.client : dx_default_client();
}

/* ---------------------------------------------------------------- hooks */

dx_err dx_model_add_hook(dx_model *m, dx_hook_kind kind, dx_hook_fn fn, void *ud) {
    if (!m || !fn || (unsigned)kind >= DX_HOOK__COUNT) return DX_ERR_INVALID_ARG;
    if (m->hooks[kind].n == m->hooks[kind].cap) {
        size_t cap = m->hooks[kind].cap ? m->hooks[kind].cap * 2 : 4;
        dx_hook_entry *v = realloc(m->hooks[kind].v, cap * sizeof *v);
        if (!v) return DX_ERR_NOMEM;
        m->hooks[kind].v = v;
        m->hooks[kind].cap = cap;
    }
    m->hooks[kind].v[m->hooks[kind].n++] = (dx_hook_entry){fn, ud};
    return DX_OK;
}

bool dx_model_has_hooks(const dx_model *m, dx_hook_kind kind) {
    return (unsigned)kind < DX_HOOK__COUNT && m->hooks[kind].n > 0;
}

dx_err dx_model_run_hooks(const dx_model *m, dx_item *item, dx_hook_kind kind, dx_tristate skip,
                          dx_result *r) {
    if ((unsigned)kind >= DX_HOOK__COUNT) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "bad hook kind");
    if (skip == DX_YES || (skip == DX_DEFAULT && m->cfg.skip_hooks)) return DX_OK;
    for (size_t i = 0; i < m->hooks[kind].n; i++) {
        const dx_hook_entry *h = &m->hooks[kind].v[i];
        dx_result_clear(r);
        dx_err e = h->fn(item, kind, h->ud, r);
        if (e == DX_OK) continue;
        if (r && r->err != e)
            dx_fail(r, e, NULL, "%s hook #%zu of model '%s' stopped the operation: %s",
                    hook_names[kind], i + 1, m->name, dx_strerror(e));
        return e;
    }
    return DX_OK;
}

/* Built-in hooks: ud points at one of these, in the model's arena. */
typedef struct builtin_ud {
    const dx_model *m;
    size_t attr; /* DX_NO_ATTR for validate */
} builtin_ud;

static dx_err hook_set_now(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r) {
    (void)kind;
    const builtin_ud *b = ud;
    const dx_attr_def *d = &b->m->attrs[b->attr];
    uint64_t ms = dx_wall_ms();
    if (d->type == DX_ATTR_DATETIME || d->type == DX_ATTR_STRING) {
        char iso[25];
        dx_datetime_format(ms, iso);
        return dx_item_set_str(item, d->name, iso, r);
    }
    return dx_item_set_i64(item, d->name, (int64_t)(ms / 1000), r);
}

static dx_err hook_bump_version(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r) {
    (void)kind;
    const builtin_ud *b = ud;
    const char *name = b->m->attrs[b->attr].name;
    const dx_value *v = dx_item_get(item, name);
    if (!v) return dx_item_set_i64(item, name, 1, r);
    dx_num cur, one, next;
    dx_err e = dx_num_parse(v->u.s, v->n, &cur, r);
    if (e) return dx_fail(r, e, name, "bump_version: '%s' holds %.*s, not a number", name,
                          (int)v->n, v->u.s);
    dx_num_from_i64(1, &one);
    if ((e = dx_num_add(&cur, &one, &next, r)) != DX_OK) return e;
    char text[DX_NUM_TEXT_MAX];
    dx_num_format(&next, text);
    return dx_item_set_num(item, name, text, r);
}

static dx_err hook_validate(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r) {
    (void)kind;
    (void)ud;
    return dx_item_validate(item, r);
}

static dx_err add_builtin(dx_model *m, dx_hook_kind kind, const char *builtin, const char *attr,
                          const char *prefix, dx_result *r) {
    if ((unsigned)kind >= DX_HOOK__COUNT)
        return failp(r, DX_ERR_CONFIG, NULL, prefix, "model '%s': unknown hook kind %d", m->name,
                     (int)kind);
    const char *kn = hook_names[kind];
    dx_hook_fn fn;
    bool wants_attr = true;
    if (builtin && strcmp(builtin, "set_now") == 0) {
        fn = hook_set_now;
    } else if (builtin && strcmp(builtin, "bump_version") == 0) {
        fn = hook_bump_version;
    } else if (builtin && strcmp(builtin, "validate") == 0) {
        fn = hook_validate;
        wants_attr = false;
    } else {
        return failp(r, DX_ERR_CONFIG, NULL, prefix,
                     "model '%s': unknown built-in hook '%s' (known: set_now, bump_version, "
                     "validate)",
                     m->name, builtin ? builtin : "(null)");
    }
    if (kind != DX_HOOK_BEFORE_SAVE && kind != DX_HOOK_BEFORE_UPDATE)
        return failp(r, DX_ERR_CONFIG, NULL, prefix,
                     "model '%s': built-in hook '%s' runs before_save or before_update, not %s",
                     m->name, builtin, kn);
    size_t idx = DX_NO_ATTR;
    if (wants_attr) {
        if (!attr || !attr[0])
            return failp(r, DX_ERR_CONFIG, NULL, prefix,
                         "model '%s': built-in hook '%s' needs the attribute it sets (attr)",
                         m->name, builtin);
        idx = dx_model_index_(m, attr, strlen(attr));
        if (idx == DX_NO_ATTR)
            return failp(r, DX_ERR_CONFIG, attr, prefix,
                         "model '%s': built-in hook '%s': the model has no attribute '%s'",
                         m->name, builtin, attr);
        const dx_attr_def *d = &m->attrs[idx];
        if (d->key != DX_KEY_NONE)
            return failp(r, DX_ERR_CONFIG, attr, prefix,
                         "model '%s': built-in hook '%s' cannot change key attribute '%s'",
                         m->name, builtin, attr);
        bool ok = fn == hook_set_now ? (d->type == DX_ATTR_DATETIME || d->type == DX_ATTR_STRING ||
                                        d->type == DX_ATTR_NUMBER || d->type == DX_ATTR_TTL)
                                     : d->type == DX_ATTR_NUMBER;
        if (!ok)
            return failp(r, DX_ERR_CONFIG, attr, prefix,
                         "model '%s': built-in hook '%s' cannot set '%s' of type %s (%s)",
                         m->name, builtin, attr, dx_attr_type_name(d->type),
                         fn == hook_set_now ? "use datetime, string, number or ttl"
                                            : "use a number attribute");
    } else if (attr && attr[0]) {
        return failp(r, DX_ERR_CONFIG, attr, prefix,
                     "model '%s': built-in hook '%s' takes no attr (it checks the whole item)",
                     m->name, builtin);
    }
    builtin_ud *ud = dx_arena_alloc(&m->arena, sizeof *ud);
    if (!ud) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory adding a hook");
    ud->m = m;
    ud->attr = idx;
    if (dx_model_add_hook(m, kind, fn, ud) != DX_OK)
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory adding a hook");
    return DX_OK;
}

dx_err dx_model_add_builtin_hook(dx_model *m, dx_hook_kind kind, const char *builtin,
                                 const char *attr, dx_result *r) {
    if (!m) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dx_model_add_builtin_hook: no model");
    return add_builtin(m, kind, builtin, attr, NULL, r);
}

/* ---------------------------------------------------------------- model files */

typedef struct mf_ctx {
    const char *prefix; /* "file.json: " or "" */
    dx_result *r;
} mf_ctx;

static const char *jtype(const cJSON *j) {
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    return "an unknown value";
}

/*
 * Checks that every key of object j is one of `allowed` (a NULL-terminated
 * list) and appears once. `where` is the location, e.g. "attributes.age".
 */
static dx_err mf_keys(mf_ctx *c, const cJSON *j, const char *where, const char *const *allowed) {
    for (const cJSON *k = j->child; k; k = k->next) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k->string) == 0) ok = true;
        if (!ok) {
            char list[256] = "";
            size_t used = 0;
            for (const char *const *a = allowed; *a; a++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", a == allowed ? "" : ", ", *a);
                if (w < 0 || (size_t)w >= sizeof list - used) break;
                used += (size_t)w;
            }
            const char *near = dx_suggest(k->string, allowed, SIZE_MAX, 2);
            if (near)
                return failp(c->r, DX_ERR_CONFIG, k->string, c->prefix,
                             "%s: unknown key '%s' (did you mean '%s'? allowed here: %s)", where,
                             k->string, near, list);
            return failp(c->r, DX_ERR_CONFIG, k->string, c->prefix,
                         "%s: unknown key '%s' (allowed here: %s)", where, k->string, list);
        }
        for (const cJSON *p = j->child; p != k; p = p->next)
            if (strcmp(p->string, k->string) == 0)
                return failp(c->r, DX_ERR_CONFIG, k->string, c->prefix,
                             "%s: key '%s' appears twice", where, k->string);
    }
    return DX_OK;
}

static dx_err mf_want(mf_ctx *c, const cJSON *j, const char *where, const char *key,
                      bool ok, const char *what) {
    if (ok) return DX_OK;
    return failp(c->r, DX_ERR_CONFIG, key, c->prefix, "%s.%s: expected %s, got %s", where, key,
                 what, jtype(j));
}

static dx_err mf_config(mf_ctx *c, const cJSON *cfg, dx_model_config *out) {
    static const char *const keys[] = {"table", "skip_hooks", "max_size", "consistent_read",
                                       "description", NULL};
    dx_err e;
    if (!cJSON_IsObject(cfg))
        return failp(c->r, DX_ERR_CONFIG, "config", c->prefix,
                     "config: expected an object, got %s", jtype(cfg));
    if ((e = mf_keys(c, cfg, "config", keys)) != DX_OK) return e;
    for (const cJSON *k = cfg->child; k; k = k->next) {
        const char *n = k->string;
        if (strcmp(n, "table") == 0) {
            if ((e = mf_want(c, k, "config", n, cJSON_IsString(k) && k->valuestring[0],
                             "the table name (a non-empty string)")))
                return e;
            out->table = k->valuestring;
        } else if (strcmp(n, "skip_hooks") == 0 || strcmp(n, "consistent_read") == 0) {
            if ((e = mf_want(c, k, "config", n, cJSON_IsBool(k), "true or false"))) return e;
            if (n[0] == 's') out->skip_hooks = cJSON_IsTrue(k);
            else out->consistent_read = cJSON_IsTrue(k);
        } else if (strcmp(n, "max_size") == 0) {
            bool ok = cJSON_IsNumber(k) && k->valuedouble >= 0 &&
                      k->valuedouble <= DX_MAX_ITEM_SIZE &&
                      k->valuedouble == (double)(size_t)k->valuedouble;
            if (!ok)
                return failp(c->r, DX_ERR_CONFIG, n, c->prefix,
                             "config.max_size: expected a whole number of bytes from 0 to %d "
                             "(DynamoDB's 400 KB; 0 means that limit)",
                             DX_MAX_ITEM_SIZE);
            out->max_size = (size_t)k->valuedouble;
        } else if (strcmp(n, "description") == 0) {
            if ((e = mf_want(c, k, "config", n, cJSON_IsString(k), "a string"))) return e;
        }
    }
    if (!out->table)
        return failp(c->r, DX_ERR_CONFIG, "table", c->prefix,
                     "config: \"table\" is missing (the DynamoDB table's name)");
    return DX_OK;
}

/*
 * Fills d from one attribute definition: `a` is attributes.<name> (object
 * form, name given) or attributes[i] (array form, name read from "name").
 * Default texts are malloc'd into *deftext (caller frees).
 */
static dx_err mf_attr(mf_ctx *c, const cJSON *a, const char *name, int index, dx_attr_def *d,
                      char **deftext) {
    static const char *const keys[] = {"type", "key", "required", "default", "generator",
                                       "description", NULL};
    static const char *const keys_arr[] = {"name", "type", "key", "required", "default",
                                           "generator", "description", NULL};
    char where[300];
    if (name) snprintf(where, sizeof where, "attributes.%s", name);
    else snprintf(where, sizeof where, "attributes[%d]", index);
    dx_err e;
    if (!cJSON_IsObject(a))
        return failp(c->r, DX_ERR_CONFIG, name, c->prefix,
                     "%s: expected an object such as {\"type\": \"string\"}, got %s", where,
                     jtype(a));
    if ((e = mf_keys(c, a, where, name ? keys : keys_arr)) != DX_OK) return e;
    if (!name) {
        const cJSON *jn = cJSON_GetObjectItemCaseSensitive(a, "name");
        if (!jn || !cJSON_IsString(jn) || !jn->valuestring[0])
            return failp(c->r, DX_ERR_CONFIG, NULL, c->prefix,
                         "%s.name: expected the attribute's name (a non-empty string), got %s",
                         where, !jn ? "nothing" : cJSON_IsString(jn) ? "an empty string" : jtype(jn));
        name = jn->valuestring;
        snprintf(where, sizeof where, "attributes[%d] (%s)", index, name);
    }
    d->name = name;
    for (const cJSON *k = a->child; k; k = k->next) {
        const char *n = k->string;
        if (strcmp(n, "type") == 0) {
            if ((e = mf_want(c, k, where, n, cJSON_IsString(k), "a type name"))) return e;
            d->type = dx_attr_type_from_name(k->valuestring);
            if (!d->type)
                return failp(c->r, DX_ERR_CONFIG, name, c->prefix,
                             "%s.type: unknown type '%s' (known: string, number, binary, bool, "
                             "list, map, string_set, number_set, binary_set, json, datetime, ttl)",
                             where, k->valuestring);
        } else if (strcmp(n, "key") == 0) {
            if ((e = mf_want(c, k, where, n, cJSON_IsString(k), "\"hash\" or \"range\"")))
                return e;
            if (strcmp(k->valuestring, "hash") == 0) d->key = DX_KEY_HASH;
            else if (strcmp(k->valuestring, "range") == 0) d->key = DX_KEY_RANGE;
            else
                return failp(c->r, DX_ERR_CONFIG, name, c->prefix,
                             "%s.key: expected \"hash\" or \"range\", got \"%s\"", where,
                             k->valuestring);
        } else if (strcmp(n, "required") == 0) {
            if ((e = mf_want(c, k, where, n, cJSON_IsBool(k), "true or false"))) return e;
            d->required = cJSON_IsTrue(k);
        } else if (strcmp(n, "generator") == 0) {
            if ((e = mf_want(c, k, where, n, cJSON_IsString(k), "a generator name"))) return e;
            d->gen = DX_GEN_NONE;
            for (size_t g = 1; g < NGENS; g++)
                if (strcmp(gen_names[g], k->valuestring) == 0) d->gen = (dx_gen)g;
            if (!d->gen)
                return failp(c->r, DX_ERR_CONFIG, name, c->prefix,
                             "%s.generator: unknown generator '%s' (known: uuid4, ulid, now, "
                             "now_epoch)",
                             where, k->valuestring);
        } else if (strcmp(n, "default") == 0) {
            /* cJSON reads numbers as doubles: see docs/models.md on long numbers. */
            *deftext = cJSON_PrintUnformatted(k);
            if (!*deftext) return dx_fail(c->r, DX_ERR_NOMEM, name, "out of memory");
            d->default_json = *deftext;
        } else if (strcmp(n, "description") == 0) {
            if ((e = mf_want(c, k, where, n, cJSON_IsString(k), "a string"))) return e;
        }
    }
    if (!d->type)
        return failp(c->r, DX_ERR_CONFIG, name, c->prefix,
                     "%s: \"type\" is missing (e.g. \"string\", \"number\")", where);
    return DX_OK;
}

static dx_err mf_hooks(mf_ctx *c, dx_model *m, const cJSON *hooks) {
    if (!cJSON_IsObject(hooks))
        return failp(c->r, DX_ERR_CONFIG, "hooks", c->prefix,
                     "hooks: expected an object of hook lists by kind, got %s", jtype(hooks));
    static const char *const kinds[] = {"before_save",   "after_save",   "before_update",
                                        "after_update",  "before_delete", "after_delete",
                                        "after_load",    NULL};
    static const char *const keys[] = {"builtin", "attr", NULL};
    dx_err e;
    if ((e = mf_keys(c, hooks, "hooks", kinds)) != DX_OK) return e;
    for (const cJSON *k = hooks->child; k; k = k->next) {
        if (!cJSON_IsArray(k))
            return failp(c->r, DX_ERR_CONFIG, k->string, c->prefix,
                         "hooks.%s: expected an array of hooks, got %s", k->string, jtype(k));
        int i = 0;
        for (const cJSON *h = k->child; h; h = h->next, i++) {
            char where[64];
            snprintf(where, sizeof where, "hooks.%s[%d]", k->string, i);
            if (!cJSON_IsObject(h))
                return failp(c->r, DX_ERR_CONFIG, k->string, c->prefix,
                             "%s: expected an object such as {\"builtin\": \"validate\"}, got %s",
                             where, jtype(h));
            if ((e = mf_keys(c, h, where, keys)) != DX_OK) return e;
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(h, "builtin");
            const cJSON *at = cJSON_GetObjectItemCaseSensitive(h, "attr");
            if (!b)
                return failp(c->r, DX_ERR_CONFIG, k->string, c->prefix,
                             "%s: \"builtin\" is missing (set_now, bump_version or validate)",
                             where);
            if ((e = mf_want(c, b, where, "builtin", cJSON_IsString(b), "a built-in hook name")))
                return e;
            if (at && (e = mf_want(c, at, where, "attr", cJSON_IsString(at), "an attribute name")))
                return e;
            char pre[400];
            snprintf(pre, sizeof pre, "%s%s: ", c->prefix, where);
            e = add_builtin(m, dx_hook_kind_from_name(k->string), b->valuestring,
                            at ? at->valuestring : NULL, pre, c->r);
            if (e) return e;
        }
    }
    return DX_OK;
}

static dx_err from_json(const char *json, size_t len, const char *file, dx_model **out,
                        dx_result *r) {
    static const char *const keys[] = {"name", "description", "config", "attributes", "hooks",
                                       NULL};
    char prefix[300] = "";
    if (file) snprintf(prefix, sizeof prefix, "%s: ", file);
    mf_ctx c = {prefix, r};
    dx_attr_def *defs = NULL;
    char **texts = NULL;
    size_t n = 0;
    dx_model *m = NULL;
    dx_model_config cfg = {0};
    dx_err e;

    *out = NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root || (size_t)(end - json) > len) {
        size_t off = end && end >= json && (size_t)(end - json) <= len ? (size_t)(end - json) : 0;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            if (json[i] == '\n') line++, col = 1;
            else col++;
        }
        e = failp(r, DX_ERR_PARSE, NULL, prefix,
                  "line %zu, column %zu: not valid JSON (check for a missing comma, quote or "
                  "brace, or a trailing comma)",
                  line, col);
        if (r) r->offset = (long)off;
        goto out;
    }
    for (const char *p = end; p < json + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            e = failp(r, DX_ERR_PARSE, NULL, prefix,
                      "unexpected text after the model's closing brace at byte %zu",
                      (size_t)(p - json));
            if (r) r->offset = (long)(p - json);
            goto out;
        }
    }
    if (!cJSON_IsObject(root)) {
        e = failp(r, DX_ERR_CONFIG, NULL, prefix,
                  "a model file holds one JSON object, got %s", jtype(root));
        goto out;
    }
    if ((e = mf_keys(&c, root, "model", keys)) != DX_OK) goto out;

    const cJSON *jname = cJSON_GetObjectItemCaseSensitive(root, "name");
    const cJSON *jcfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *jattrs = cJSON_GetObjectItemCaseSensitive(root, "attributes");
    const cJSON *jhooks = cJSON_GetObjectItemCaseSensitive(root, "hooks");
    const cJSON *jdesc = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (!jname || !cJSON_IsString(jname) || !jname->valuestring[0]) {
        e = failp(r, DX_ERR_CONFIG, "name", prefix,
                  "name: expected the model's name (a non-empty string), got %s",
                  !jname ? "nothing" : cJSON_IsString(jname) ? "an empty string" : jtype(jname));
        goto out;
    }
    if (jdesc && !cJSON_IsString(jdesc)) {
        e = failp(r, DX_ERR_CONFIG, "description", prefix,
                  "description: expected a string, got %s", jtype(jdesc));
        goto out;
    }
    if (!jcfg) {
        e = failp(r, DX_ERR_CONFIG, "config", prefix,
                  "config is missing: at least {\"table\": \"<table name>\"}");
        goto out;
    }
    if ((e = mf_config(&c, jcfg, &cfg)) != DX_OK) goto out;
    bool arr = jattrs && cJSON_IsArray(jattrs);
    if (!jattrs || !(cJSON_IsObject(jattrs) || arr) || !jattrs->child) {
        e = failp(r, DX_ERR_CONFIG, "attributes", prefix,
                  "attributes: expected an object with at least the hash key, such as "
                  "{\"id\": {\"type\": \"string\", \"key\": \"hash\"}} (or an array of "
                  "definitions with a \"name\"), got %s",
                  !jattrs                  ? "nothing"
                  : cJSON_IsObject(jattrs) ? "an empty object"
                  : arr                    ? "an empty array"
                                           : jtype(jattrs));
        goto out;
    }
    if (!arr) {
        for (const cJSON *a = jattrs->child; a; a = a->next)
            for (const cJSON *p = jattrs->child; p != a; p = p->next)
                if (strcmp(p->string, a->string) == 0) {
                    e = failp(r, DX_ERR_CONFIG, a->string, prefix,
                              "attributes: attribute '%s' is defined twice", a->string);
                    goto out;
                }
    }
    n = (size_t)cJSON_GetArraySize(jattrs);
    e = DX_ERR_NOMEM;
    defs = calloc(n, sizeof *defs);
    texts = calloc(n, sizeof *texts);
    if (!defs || !texts) {
        dx_fail(r, e, NULL, "out of memory reading a model file");
        goto out;
    }
    /* Array form: duplicate names are caught by model_build ("defined twice"). */
    int i = 0;
    for (const cJSON *a = jattrs->child; a; a = a->next, i++)
        if ((e = mf_attr(&c, a, arr ? NULL : a->string, i, &defs[i], &texts[i])) != DX_OK)
            goto out;
    dx_result_clear(r);
    if ((e = model_build(jname->valuestring, defs, n, &cfg, prefix, &m, r)) != DX_OK) goto out;
    if (jhooks && (e = mf_hooks(&c, m, jhooks)) != DX_OK) goto out;
    *out = m;
    m = NULL;
    e = DX_OK;
out:
    dx_model_free(m);
    if (texts)
        for (size_t k = 0; k < n; k++) cJSON_free(texts[k]);
    free(texts);
    free(defs);
    cJSON_Delete(root);
    return e;
}

dx_err dx_model_from_json(const char *json, size_t len, dx_model **out, dx_result *r) {
    if (!out || !json) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dx_model_from_json: NULL argument");
    return from_json(json, len, NULL, out, r);
}

dx_err dx_model_load(const char *path, dx_model **out, dx_result *r) {
    if (!out || !path) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dx_model_load: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return dx_fail(r, DX_ERR_IO, NULL, "cannot open model file %s: %s", path, strerror(errno));
    dx_buf b = {0};
    char chunk[8192];
    size_t got;
    dx_err e = DX_OK;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (!dx_buf_append(&b, chunk, got)) {
            e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory reading model file %s", path);
            break;
        }
    }
    if (!e && ferror(f))
        e = dx_fail(r, DX_ERR_IO, NULL, "cannot read model file %s: %s", path, strerror(errno));
    fclose(f);
    if (!e) e = from_json(b.ptr ? b.ptr : "", b.len, path, out, r);
    dx_buf_free(&b);
    return e;
}
