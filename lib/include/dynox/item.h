/*
 * dynox/item.h - items: instances of a model, and the CRUD calls on them.
 *
 * An item holds its attributes as dx_values in its own arena. Setting an
 * attribute checks it against the model (type, number validity, non-empty
 * key) and copies it. The calls:
 *   save    - full replace (PutItem) after before_save hooks; after_save after
 *             (when the save fails, what before_save hooks changed is undone)
 *   get     - by key (GetItem); an absent item is DX_OK with *out == NULL
 *   update  - named fields (UpdateItem SET/REMOVE); the local item changes too
 *   delete  - DeleteItem by the item's key
 *   update_by_key / delete_by_key - exactly one backend call, no hooks, no read
 * Each takes dx_op_opts (NULL: defaults): skip hooks per call, consistent
 * read per call (default: the model's), an optional condition. ItemTooLarge
 * is raised before any backend call when the item exceeds the model's
 * max_size or DynamoDB's 400 KB, with the size and the limit in the message.
 *
 * Threads: an item belongs to one thread at a time; the calls are as
 * thread-safe as the client (which is).
 *
 * Must never: send an item that failed validation, or run hooks for
 * update_by_key / delete_by_key.
 */
#ifndef DYNOX_ITEM_H
#define DYNOX_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "error.h"
#include "model.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A new item of model m with defaults and generators applied. NULL on OOM. */
dx_item *dx_item_new(const dx_model *m);
void dx_item_free(dx_item *it);
const dx_model *dx_item_model(const dx_item *it);

/*
 * Sets attribute `name` to a copy of v (in the item's arena), checked
 * against the model: v must have the attribute's storage type (S for
 * string/datetime/json, N for number/ttl, ...); numbers are validated and
 * canonicalised at any depth; sets non-empty without duplicates; datetime
 * ISO 8601 ("YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm)"); ttl whole seconds; json
 * well-formed text, stored compact; key attributes non-empty. A v of type
 * DX_T_NONE unsets the attribute. DX_ERR_VALIDATION naming the attribute,
 * also for a name the model does not have. Each set allocates in the item's
 * arena until the item is freed. The typed setters below only accept
 * attributes of their kind (set_str: string/datetime/json; set_num, set_i64,
 * set_double: number/ttl).
 */
dx_err dx_item_set(dx_item *it, const char *name, const dx_value *v, dx_result *r);
dx_err dx_item_set_str(dx_item *it, const char *name, const char *s, dx_result *r);
/* Number from decimal text (validated, canonicalised). */
dx_err dx_item_set_num(dx_item *it, const char *name, const char *text, dx_result *r);
dx_err dx_item_set_i64(dx_item *it, const char *name, int64_t v, dx_result *r);
dx_err dx_item_set_double(dx_item *it, const char *name, double v, dx_result *r);
dx_err dx_item_set_bool(dx_item *it, const char *name, bool v, dx_result *r);
dx_err dx_item_set_bin(dx_item *it, const char *name, const void *p, size_t n, dx_result *r);
/* Removes the attribute; a later save will not have it. */
dx_err dx_item_unset(dx_item *it, const char *name, dx_result *r);

/* The attribute's value, or NULL when unset. Valid until the attribute changes. */
const dx_value *dx_item_get(const dx_item *it, const char *name);
/* Typed getters: DX_ERR_INVALID_ARG when unset or of another type. Strings are NUL-terminated. */
dx_err dx_item_get_str(const dx_item *it, const char *name, const char **out);
dx_err dx_item_get_i64(const dx_item *it, const char *name, int64_t *out, dx_result *r);
dx_err dx_item_get_double(const dx_item *it, const char *name, double *out, dx_result *r);
dx_err dx_item_get_bool(const dx_item *it, const char *name, bool *out);

/* The whole item as an M value (valid until the item changes). */
const dx_value *dx_item_value(const dx_item *it);
/* The key (hash and range attributes) as an M value allocated in a. */
dx_err dx_item_key(const dx_item *it, dx_arena *a, dx_value *out, dx_result *r);
/*
 * Checks required fields, key attributes present and non-empty, every value
 * of its attribute's type. DX_ERR_VALIDATION naming the field.
 */
dx_err dx_item_validate(const dx_item *it, dx_result *r);
/* Size as DynamoDB counts it (dynox/size.h). */
size_t dx_item_bytes(const dx_item *it);

/* --- Plain JSON --- */

/* Appends the item as plain JSON ({"id":"x","age":3,...}, model order) to b. */
dx_err dx_item_to_dict(const dx_item *it, dx_buf *b);

typedef struct dx_from_dict_opts {
    bool allow_unknown;  /* ignore attributes the model does not know (default: error) */
    bool no_defaults;    /* do not apply defaults/generators to absent attributes */
} dx_from_dict_opts;

/*
 * Builds an item from plain JSON typed by the model: numbers may be JSON
 * numbers or numeric strings, sets are arrays, binary is base64, json
 * attributes take any JSON, datetime an ISO 8601 string. Errors name the
 * field: wrong type, invalid number text, unknown attribute, duplicate set
 * members, missing required field. ttl takes epoch seconds or an ISO 8601
 * datetime; null means absent. The required check applies with no_defaults
 * too. json attributes are re-encoded (compact, numbers canonical).
 * *out is NULL on error.
 */
dx_err dx_item_from_dict(const dx_model *m, const char *json, size_t len,
                         const dx_from_dict_opts *opts, dx_item **out, dx_result *r);
/* The same from an already decoded plain value (an M from dx_decode_plain). */
dx_err dx_item_from_value(const dx_model *m, const dx_value *plain, const dx_from_dict_opts *opts,
                          dx_item **out, dx_result *r);
/*
 * An item from a stored DynamoDB item (types as stored; no defaults).
 * Attributes the model does not know are ignored; one of the wrong storage
 * type is DX_ERR_VALIDATION. Formats (datetime, json, ttl) are not checked
 * here: dx_item_validate and save do.
 */
dx_err dx_item_from_stored(const dx_model *m, const dx_value *stored, dx_item **out, dx_result *r);

/* --- Calls --- */

typedef struct dx_op_opts {
    dx_tristate skip_hooks;      /* DX_DEFAULT: the model's skip_hooks */
    dx_tristate consistent_read; /* DX_DEFAULT: the model's consistent_read */
    const char *condition;       /* ConditionExpression (placeholders in names/values) */
    const dx_value *names;       /* ExpressionAttributeNames for the condition */
    const dx_value *values;      /* ExpressionAttributeValues for the condition */
} dx_op_opts;

dx_err dx_item_save(dx_item *it, const dx_op_opts *o, dx_result *r);
dx_err dx_item_delete(dx_item *it, const dx_op_opts *o, dx_result *r);
/*
 * Updates the named fields (members with type DX_T_NONE are removed) on the
 * server and in the local item. Runs before_update / after_update; what a
 * before_update hook sets is sent too. Key attributes cannot be updated.
 * With ReturnValues ALL_NEW the local item becomes the server's item; on
 * any error the local item is left as it was.
 */
dx_err dx_item_update(dx_item *it, const dx_member *fields, size_t n, const dx_op_opts *o,
                      dx_result *r);
/*
 * Reads by key (an M with the key attributes). *out is NULL and DX_OK is
 * returned when there is no such item. Runs after_load.
 */
dx_err dx_model_get(const dx_model *m, const dx_value *key, const dx_op_opts *o, dx_item **out,
                    dx_result *r);
/* One UpdateItem; no hooks; key as for dx_model_get; fields as for dx_item_update. */
dx_err dx_update_by_key(const dx_model *m, const dx_value *key, const dx_member *fields, size_t n,
                        const dx_op_opts *o, dx_result *r);
/* One DeleteItem; no hooks. */
dx_err dx_delete_by_key(const dx_model *m, const dx_value *key, const dx_op_opts *o, dx_result *r);

/*
 * Request builders for callers that drive an engine themselves (the job
 * runner): fill call->req for a put of the item / an update by key, with
 * expression text and placeholders allocated in a. No hooks run here.
 * Everything the request points at is copied into a (the item, the key,
 * the fields, the table name, the condition and its names/values), so the
 * item may be freed before the call is made. put_req validates and checks
 * the size (ItemTooLarge) first. Thread-safe for distinct arenas.
 */
dx_err dx_item_put_req(const dx_item *it, dx_arena *a, dx_req *req, dx_result *r);
dx_err dx_update_req(const dx_model *m, const dx_value *key, const dx_member *fields, size_t n,
                     const char *condition, const dx_value *names, const dx_value *values,
                     dx_arena *a, dx_req *req, dx_result *r);

#ifdef __cplusplus
}
#endif
#endif
