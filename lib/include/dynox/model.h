/*
 * dynox/model.h - models: the schema of a table's items, their config, and
 * their lifecycle hooks (after pydynox "Models").
 *
 * A model lists typed attributes: a partition key, an optional sort key (any
 * names), required fields, defaults (a constant, written as plain JSON) and
 * generators (uuid4, ulid, the current time as ISO 8601 or as epoch seconds).
 * Its config says which table and client it uses, whether hooks are skipped,
 * the largest item it will send (max_size) and whether reads are consistent
 * by default. Models are defined from a static C table or loaded from a JSON
 * model file. A model is immutable once its hooks are
 * registered and may then be shared by any number of threads. The model file
 * format is documented in docs/models.md.
 *
 * Must never: talk to a backend (items do that), or accept a schema that
 * DynamoDB would not (key attributes must be string, number or binary).
 */
#ifndef DYNOX_MODEL_H
#define DYNOX_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "error.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dx_attr_type {
    DX_ATTR_STRING = 1, /* S */
    DX_ATTR_NUMBER,     /* N */
    DX_ATTR_BINARY,     /* B; base64 in plain JSON */
    DX_ATTR_BOOL,       /* BOOL */
    DX_ATTR_LIST,       /* L */
    DX_ATTR_MAP,        /* M */
    DX_ATTR_STRING_SET, /* SS; a JSON array of strings in plain JSON */
    DX_ATTR_NUMBER_SET, /* NS */
    DX_ATTR_BINARY_SET, /* BS */
    DX_ATTR_JSON,       /* any JSON, stored as its compact text in an S */
    DX_ATTR_DATETIME,   /* ISO 8601 text in an S ("2026-11-25T12:00:00Z") */
    DX_ATTR_TTL         /* epoch seconds in an N */
} dx_attr_type;

/* "string", "number", ... as in model files; NULL when unknown. */
const char *dx_attr_type_name(dx_attr_type t);
/* 0 when unknown. */
dx_attr_type dx_attr_type_from_name(const char *name);
/* The DynamoDB type an attribute of type t is stored as. */
dx_type dx_attr_type_storage(dx_attr_type t);

typedef enum dx_key_role { DX_KEY_NONE = 0, DX_KEY_HASH, DX_KEY_RANGE } dx_key_role;

typedef enum dx_gen {
    DX_GEN_NONE = 0,
    DX_GEN_UUID4,     /* random UUID, lower-case text */
    DX_GEN_ULID,      /* 26-char Crockford base32, time-ordered */
    DX_GEN_NOW_ISO,   /* current UTC time, ISO 8601 with milliseconds */
    DX_GEN_NOW_EPOCH  /* current time, epoch seconds (N) */
} dx_gen;

typedef struct dx_attr_def {
    const char *name;
    dx_attr_type type;
    dx_key_role key;
    bool required;            /* keys are always required */
    const char *default_json; /* default as plain JSON ("0", "\"new\"", "[]"), or NULL */
    dx_gen gen;               /* generator used when the attribute is not set */
} dx_attr_def;

typedef enum dx_tristate { DX_DEFAULT = 0, DX_YES, DX_NO } dx_tristate;

typedef struct dx_model_config {
    const char *table;   /* table name (required) */
    dx_client *client;   /* NULL: the default client at the time of each call */
    bool skip_hooks;     /* never run this model's hooks */
    size_t max_size;     /* largest item in bytes (0: DynamoDB's 400 KB) */
    bool consistent_read; /* default for reads */
} dx_model_config;

typedef struct dx_model dx_model;
typedef struct dx_item dx_item;

/*
 * Builds a model from a C table. Everything is copied: attrs and cfg need not
 * outlive the call. Checks: names unique and non-empty, exactly one hash
 * key, at most one range key, keys stored as S, N or B (string, number,
 * binary, datetime, ttl), generators that fit their type, no attribute with
 * both a default and a generator, defaults parse and fit their type exactly
 * as a value set on an item must, cfg->table set, cfg->max_size at most
 * DX_MAX_ITEM_SIZE. Errors are DX_ERR_CONFIG with r->field naming the
 * attribute. *out is NULL on error (details in r). Thread-safe.
 */
dx_err dx_model_new(const char *name, const dx_attr_def *attrs, size_t nattrs,
                    const dx_model_config *cfg, dx_model **out, dx_result *r);
/*
 * Parses a JSON model file's text (len bytes, need not be NUL-terminated) /
 * reads and parses the file at path. Strict: unknown keys, keys given twice
 * and values of the wrong JSON type are errors naming the location
 * ("attributes.age.default"); messages start with the path when there is
 * one. DX_ERR_PARSE (r->offset set) for malformed JSON, DX_ERR_IO for an
 * unreadable file, DX_ERR_CONFIG otherwise. Built-in hooks listed in the
 * file are registered. Format: docs/models.md.
 */
dx_err dx_model_from_json(const char *json, size_t len, dx_model **out, dx_result *r);
dx_err dx_model_load(const char *path, dx_model **out, dx_result *r);
void dx_model_free(dx_model *m);

const char *dx_model_name(const dx_model *m);
const dx_model_config *dx_model_config_get(const dx_model *m);
/*
 * Replace the client (NULL: default client), the table name (copied; the
 * old one stays valid until the model is freed) and skip_hooks. Not
 * thread-safe with calls in flight.
 */
void dx_model_set_client(dx_model *m, dx_client *c);
void dx_model_set_table(dx_model *m, const char *table);
void dx_model_set_skip_hooks(dx_model *m, bool skip);
void dx_model_set_consistent_read(dx_model *m, bool consistent);
/* 0 means DynamoDB's 400 KB; values above DX_MAX_ITEM_SIZE are clamped to it. */
void dx_model_set_max_size(dx_model *m, size_t max_size);
size_t dx_model_nattrs(const dx_model *m);
const dx_attr_def *dx_model_attr(const dx_model *m, size_t i);
/* The attribute named `name`, or NULL. */
const dx_attr_def *dx_model_find(const dx_model *m, const char *name);
const dx_attr_def *dx_model_hash_key(const dx_model *m);
const dx_attr_def *dx_model_range_key(const dx_model *m); /* NULL when none */
/* The table definition (name, key schema) for dx_create_table. */
void dx_model_table_def(const dx_model *m, dx_table_def *out);
/* The client calls go to: the model's, else the default one; NULL when neither is set. */
dx_client *dx_model_client(const dx_model *m);

/*
 * The default client for models without one. Set it once at start-up, before
 * threads use models; later calls replace it (the old one is not freed).
 */
void dx_set_default_client(dx_client *c);
dx_client *dx_default_client(void);

/* --- Datetimes and generators (shared with the job runner's mapper) --- */

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+hh:mm|-hh:mm)" strictly (calendar
 * checked), the form datetime attributes take. On success, when epoch_s is
 * not NULL, stores the instant in whole seconds since the epoch (fraction
 * dropped, toward minus infinity).
 */
bool dx_datetime_parse(const char *s, size_t n, int64_t *epoch_s);
/* Formats epoch milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (24 chars + NUL). */
void dx_datetime_format(uint64_t epoch_ms, char out[25]);
/*
 * The value generator g makes now, allocated in a: a UUID v4, a ULID
 * (monotonic per thread), the time as ISO 8601 with milliseconds, or epoch
 * seconds. Thread-safe and cheap enough to call per row: random bytes come
 * from a per-thread pool and the time text is formatted once per millisecond.
 * DX_ERR_NOMEM on failure, DX_ERR_INVALID_ARG for DX_GEN_NONE.
 */
dx_err dx_gen_value(dx_gen g, dx_arena *a, dx_value *out);

/* --- Hooks --- */

typedef enum dx_hook_kind {
    DX_HOOK_BEFORE_SAVE = 0,
    DX_HOOK_AFTER_SAVE,
    DX_HOOK_BEFORE_UPDATE,
    DX_HOOK_AFTER_UPDATE,
    DX_HOOK_BEFORE_DELETE,
    DX_HOOK_AFTER_DELETE,
    DX_HOOK_AFTER_LOAD,
    DX_HOOK__COUNT
} dx_hook_kind;

/* "before_save", ...; and back (DX_HOOK__COUNT when unknown). */
const char *dx_hook_kind_name(dx_hook_kind k);
dx_hook_kind dx_hook_kind_from_name(const char *name);

/*
 * A hook gets the item (which a before-hook may change) and its user
 * pointer. A before-hook that returns an error stops the operation, and the
 * operation returns that error (fill r to say why; DX_ERR_HOOK or
 * DX_ERR_VALIDATION are the usual codes). An after-hook's error is returned
 * too, but the write has happened. Hooks run on the caller's thread.
 */
typedef dx_err (*dx_hook_fn)(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r);

/* Appends a hook; hooks of one kind run in the order added. */
dx_err dx_model_add_hook(dx_model *m, dx_hook_kind kind, dx_hook_fn fn, void *ud);
/*
 * Adds a built-in hook by name, as model files and job specs name them:
 *   "set_now"       (before_save/before_update): attr = current time (datetime
 *                   attributes get ISO 8601, number and ttl get epoch seconds)
 *   "bump_version"  (before_save/before_update): attr = attr + 1 (1 when absent)
 *   "validate"      (before_save): required fields present, types right
 */
dx_err dx_model_add_builtin_hook(dx_model *m, dx_hook_kind kind, const char *builtin,
                                 const char *attr, dx_result *r);
/* true when the model has at least one hook of this kind. */
bool dx_model_has_hooks(const dx_model *m, dx_hook_kind kind);
/*
 * Runs the hooks of `kind` on item unless skip resolves to yes (per call
 * DX_YES / DX_NO wins; DX_DEFAULT uses the model's skip_hooks).
 */
dx_err dx_model_run_hooks(const dx_model *m, dx_item *item, dx_hook_kind kind, dx_tristate skip,
                          dx_result *r);

#ifdef __cplusplus
}
#endif
#endif
