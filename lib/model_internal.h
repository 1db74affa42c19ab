/*
 * model_internal.h - what model.c and item.c share and nobody else sees.
 *
 * The model struct is defined here so that items can reach the attribute
 * table, the parsed defaults and the hook lists without a call per field.
 * The value checks (storage type, number canonicalisation, datetime format,
 * json compaction) live in item.c because items use them on every set; the
 * model uses the same code to check its defaults, so a default can never be
 * something an item would refuse.
 *
 * Not installed: only lib/ (and tests) include it.
 */
#ifndef DYNOX_MODEL_INTERNAL_H
#define DYNOX_MODEL_INTERNAL_H

#include <stdint.h>

#include "dynox/item.h"
#include "dynox/model.h"

#define DX_NO_ATTR ((size_t)-1)

typedef struct dx_hook_entry {
    dx_hook_fn fn;
    void *ud;
} dx_hook_entry;

struct dx_model {
    char *name;          /* in arena */
    dx_arena arena;      /* names, default texts, parsed defaults, built-in hook data */
    dx_attr_def *attrs;  /* nattrs entries, in arena, in definition order */
    size_t nattrs;
    dx_value *defaults;  /* per attribute: the default in storage form, or DX_T_NONE */
    size_t hash, range;  /* attribute indices; range is DX_NO_ATTR when there is none */
    dx_model_config cfg; /* cfg.table in arena */
    struct {
        dx_hook_entry *v; /* malloc'd */
        size_t n, cap;
    } hooks[DX_HOOK__COUNT];
};

/* Index of the attribute named by the n bytes at name, or DX_NO_ATTR. */
size_t dx_model_index_(const dx_model *m, const char *name, size_t n);

/*
 * Checks v (already in storage form: S for string/datetime/json, N for
 * number/ttl, ...) against attribute idx and writes a canonical deep copy
 * allocated in a to *out: numbers canonicalised at any depth, strings
 * NUL-terminated, json text compacted. DX_ERR_VALIDATION naming the
 * attribute when it does not fit.
 */
dx_err dx_attr_check_(const dx_model *m, size_t idx, const dx_value *v, dx_arena *a,
                      dx_value *out, dx_result *r);
/*
 * Converts a plain-JSON value (from dx_decode_plain) for attribute idx into
 * its storage form, allocated in a, then checks it as dx_attr_check_ does.
 */
dx_err dx_attr_from_plain_(const dx_model *m, size_t idx, const dx_value *plain, dx_arena *a,
                           dx_value *out, dx_result *r);
/* A new UUID v4 (36 chars + NUL) / ULID (26 chars + NUL). */
void dx_uuid4_(char out[37]);
void dx_ulid_(uint64_t epoch_ms, char out[27]);

#endif
