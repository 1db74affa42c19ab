/*
 * spec.h - a job: what to read, how to map it, what to do, how hard to push.
 *
 * A job spec is a JSON file (format in README.md, "Job files"); the CLI
 * loads it and then overrides fields from flags. Every field has a sensible
 * zero default. Paths in a spec file are relative to the spec file's
 * directory. Parsing is strict: an unknown key is an error naming it and its
 * location ("job.json: operation.conditon: unknown key (did you mean
 * 'condition'?)").
 *
 * Must never: touch a backend or an input file (dxj_spec_check does the
 * cheap checks that need no I/O beyond loading the model file).
 */
#ifndef DYNOX_JOBS_SPEC_H
#define DYNOX_JOBS_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynox/dynox.h"

typedef enum dxj_op {
    DXJ_OP_NONE = 0,
    DXJ_OP_PUT,           /* BatchWriteItem puts, 25 per call */
    DXJ_OP_UPDATE_BY_KEY, /* UpdateItem SET/REMOVE of the mapped fields, no hooks */
    DXJ_OP_DELETE_BY_KEY, /* BatchWriteItem deletes, or DeleteItem with a condition */
    DXJ_OP_GET_SAVE,      /* GetItem, hooks, apply row, PutItem */
    DXJ_OP_GET_UPDATE,    /* GetItem, hooks, UpdateItem of the mapped fields */
    DXJ_OP_GET_DELETE     /* GetItem, hooks, DeleteItem */
} dxj_op;

/* "put", "update_by_key", ...; and back (DXJ_OP_NONE when unknown). */
const char *dxj_op_name(dxj_op op);
dxj_op dxj_op_from_name(const char *s);
/* true for delete_by_key and get_delete (they ask for confirmation). */
bool dxj_op_destructive(dxj_op op);

typedef enum dxj_format { DXJ_FMT_AUTO = 0, DXJ_FMT_CSV, DXJ_FMT_JSONL } dxj_format;
typedef enum dxj_compression { DXJ_COMP_AUTO = 0, DXJ_COMP_NONE, DXJ_COMP_ZSTD } dxj_compression;
/* How JSON lines are typed: plain objects typed by the model, DynamoDB JSON
 * ({"a":{"S":"x"}} or export lines {"Item":{...}}), or decided per line. */
typedef enum dxj_json_kind { DXJ_JSON_AUTO = 0, DXJ_JSON_PLAIN, DXJ_JSON_DYNAMODB } dxj_json_kind;
typedef enum dxj_missing { DXJ_MISSING_SKIP = 0, DXJ_MISSING_CREATE } dxj_missing;
typedef enum dxj_backend { DXJ_BACKEND_MEMORY = 0, DXJ_BACKEND_DYNAMODB } dxj_backend;

typedef struct dxj_csv_opts {
    char delimiter;   /* default ',' */
    char quote;       /* default '"' */
    bool no_header;   /* default: the first row names the columns */
    char **columns;   /* column names when there is no header row */
    size_t ncolumns;
    char *null_marker; /* a field equal to this is null (default: none; "" is an empty string) */
} dxj_csv_opts;

typedef struct dxj_input {
    char *path;       /* file, or "-" for standard input */
    dxj_format format;           /* AUTO: from the extension, else sniffed */
    dxj_compression compression; /* AUTO: from the magic bytes */
    dxj_json_kind json;
    dxj_csv_opts csv;
} dxj_input;

/* One column's mapping. */
typedef struct dxj_column {
    char *column;   /* the input column (CSV header name or JSON key) */
    char *attr;     /* the model attribute it fills; NULL: ignore the column */
} dxj_column;

/* A constant attribute value added to every row. */
typedef struct dxj_constant {
    char *attr;
    char *json; /* plain JSON text, typed by the model */
} dxj_constant;

typedef struct dxj_mapping {
    dxj_column *columns; /* explicit mappings; other columns map to the attribute of the same name */
    size_t ncolumns;
    dxj_constant *constants;
    size_t nconstants;
    bool ignore_unknown; /* columns matching no attribute are ignored (default: the row is rejected) */
} dxj_mapping;

typedef struct dxj_operation {
    dxj_op op;
    char *condition;    /* ConditionExpression on each write. Write attribute names as
                           #name (each #name stands for the attribute called name, so
                           reserved words are safe) or plainly; values as :v from values_json */
    char *values_json;  /* {":min": 3}: compact JSON object, values typed as written
                           (numbers N, strings S, booleans, null, arrays L, objects M) */
    bool must_exist;    /* shorthand: attribute_exists(<hash key>) on update/delete */
    char *version_attr; /* get_* flows: optimistic lock on this number attribute */
    dxj_missing missing; /* get_* flows when the item does not exist */
    bool null_stores;   /* a null field stores NULL (default: REMOVE for updates, omit for puts) */
} dxj_operation;

typedef struct dxj_hook_ref {
    dx_hook_kind kind;
    char *builtin; /* "set_now", "bump_version", "validate" */
    char *attr;
} dxj_hook_ref;

typedef struct dxj_hooks {
    bool skip;           /* --skip-hooks */
    dxj_hook_ref *builtins;
    size_t nbuiltins;
    char *plugin;        /* shared library with dynox_plugin_init(), see plugin.h */
    char *plugin_arg;
    bool applied;        /* builtins were added to the model by dxj_spec_check */
} dxj_hooks;

typedef struct dxj_backend_spec {
    dxj_backend type;
    char *endpoint, *region, *profile;
    bool insecure;       /* no TLS verification (local endpoints only) */
    /*
     * memory: the model's table and its starting state, before the job:
     *  - the table exists already (a client passed in dxj_run_opts.client
     *    that has it): it is used as it is;
     *  - else it is created from the model (with the simulated capacity),
     *    unless no_create_table is set ("create_table": false in a job file)
     *    and there is no seed: then the job fails before reading anything,
     *    "table T does not exist on the memory backend" (as it would on
     *    DynamoDB). A seed creates the table it fills, so a seeded table
     *    always counts as existing;
     *  - then the seed, if any, is loaded into it (JSON lines of DynamoDB JSON
     *    or export lines {"Item": ...}, .zst ok; jobs/backend.h,
     *    dxj_seed_load), whether the table was created or was there.
     * The key schema is checked against the model before the seed is loaded.
     */
    char *seed;
    bool no_create_table;
    char *dump;          /* memory: JSON lines written after the job, sorted by key */
    double sim_wcu, sim_rcu; /* memory: simulated provisioned capacity (0: unlimited) */
} dxj_backend_spec;

typedef struct dxj_spec {
    char *path;      /* the spec file, for messages; NULL when built in code */
    char *base_dir;  /* relative paths resolve against this */
    char *model_path;
    dx_model *model; /* loaded by dxj_spec_load / dxj_spec_check; owned */
    dxj_input input;
    dxj_mapping mapping;
    dxj_operation operation;
    dxj_hooks hooks;
    uint32_t workers;  /* worker threads (default 2) */
    uint32_t inflight; /* requests in flight per worker (default 32) */
    double rate;       /* rows per second, all workers together (0: unlimited) */
    double max_wcu, max_rcu;
    double capacity_share; /* use at most this fraction of the table's provisioned capacity */
    dx_retry_opts retry;
    double verify;         /* fraction of written rows read back and compared (0: none) */
    bool consistent_read;  /* reads of get_* flows are consistent */
    dxj_backend_spec backend;
    bool dry_run;          /* run on the memory backend whatever backend says */
    char *report;          /* where the CLI writes the report (the runner never does) */
    char *rejects, *failures, *checkpoint;
    bool resume;
    uint64_t limit;        /* stop after this many input rows (0: all) */
    uint32_t shard_index, shard_count; /* --shard i/N (count 0: no sharding) */
    bool yes;              /* destructive operations confirmed */
} dxj_spec;

/* Parses a spec file; relative paths resolve against its directory. */
dx_err dxj_spec_load(const char *path, dxj_spec *out, dx_result *r);
/* Parses spec text; name is used in messages, base_dir for relative paths. */
dx_err dxj_spec_parse(const char *json, size_t len, const char *name, const char *base_dir,
                      dxj_spec *out, dx_result *r);
/* Sets defaults for every zero field (workers, inflight, retry, csv delimiter, ...). */
void dxj_spec_defaults(dxj_spec *s);
/*
 * Checks the spec as a whole (after CLI overrides): an operation, an input,
 * a model (loaded here from model_path if not yet loaded, with built-in
 * hooks from the spec added), mapping attributes that exist in the model,
 * constants that fit their types, numbers in range. DX_ERR_CONFIG naming
 * the field. Nothing is written and no input is read.
 */
dx_err dxj_spec_check(dxj_spec *s, dx_result *r);
/* Resolves a path from the spec against base_dir (malloc'd; "-" stays "-"). */
char *dxj_spec_path(const dxj_spec *s, const char *p);
void dxj_spec_free(dxj_spec *s);
/* Replaces a string field with a copy of v (used by CLI overrides). */
void dxj_spec_set_str(char **field, const char *v);

#endif
