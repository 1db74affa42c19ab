/*
 * dynox/expr.h - DynamoDB expressions: one module parses, evaluates and
 * builds them.
 *
 * Parsing turns ConditionExpression / FilterExpression / KeyConditionExpression,
 * UpdateExpression and ProjectionExpression text into trees in an arena, with
 * `#name` and `:value` placeholders resolved against the request's
 * ExpressionAttributeNames and ExpressionAttributeValues (a dx_expr_env, which
 * also records which placeholders were used, so that unused ones are rejected
 * as DynamoDB rejects them). Evaluation runs a parsed tree against an item.
 * The memory backend uses parse + eval; the library and the job runner use the
 * builder to write expressions with placeholders for every name and value, so
 * that reserved words and odd characters in attribute names never matter.
 *
 * Grammar (DynamoDB's): comparisons = <> < <= > >=, BETWEEN .. AND .., IN (..),
 * functions attribute_exists, attribute_not_exists, attribute_type,
 * begins_with, contains, size; AND, OR, NOT, parentheses; document paths
 * a.b[1].c. Update: SET (incl. a + :v, a - :v, if_not_exists, list_append),
 * REMOVE, ADD, DELETE clauses, each at most once. Errors are DX_ERR_VALIDATION
 * with DynamoDB's messages (dynalite 4.0.0's texts, and the same choice of
 * message when an expression has several faults), r->field naming the
 * expression; syntax errors are worded as DynamoDB words them, e.g.
 * "Invalid UpdateExpression: Syntax error; token: \"-\", near: \"a-b\"", with
 * r->offset the byte offset of the token.
 *
 * Threads: parsing writes the env's used flags, so one env belongs to one
 * thread; parsed trees are never modified afterwards, so evaluating and
 * applying them from several threads at once is safe. The builder is not
 * thread-safe.
 *
 * Must never: evaluate a placeholder it did not resolve at parse time, modify
 * the item it evaluates against, or recurse without a depth bound.
 */
#ifndef DYNOX_EXPR_H
#define DYNOX_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "util.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Placeholders of one request, shared by all of its expressions. */
typedef struct dx_expr_env {
    const dx_value *names;  /* ExpressionAttributeNames: M of S, or NULL */
    const dx_value *values; /* ExpressionAttributeValues: M, or NULL */
    bool *name_used;        /* parallel to names->u.members, set by the parsers */
    bool *value_used;       /* parallel to values->u.members */
} dx_expr_env;

/*
 * Prepares env for a request. Checks that names holds only non-empty S
 * values, that the keys are #name / :value shaped, and that values are valid
 * attribute values (dx_value_validate); DynamoDB's messages ("...must not be
 * empty", "...contains invalid key: Syntax error; key: \"x\"",
 * "ExpressionAttributeValues contains invalid value: <why> for key :v").
 * names and values may be NULL; both are referenced, not copied. The used
 * flags are allocated in a.
 */
dx_err dx_expr_env_init(dx_expr_env *env, dx_arena *a, const dx_value *names,
                        const dx_value *values, dx_result *r);
/*
 * After every expression of the request was parsed: DX_ERR_VALIDATION when a
 * name or value was never used ("Value provided in ExpressionAttributeValues
 * unused in expressions: keys: {:v}").
 */
dx_err dx_expr_env_check_unused(const dx_expr_env *env, dx_result *r);

/* --- Conditions (ConditionExpression, FilterExpression) --- */

typedef struct dx_cond dx_cond;
/*
 * Parses text into a tree allocated in a (it lives as long as a, and points
 * into env's values). env may be NULL (no placeholders defined); the
 * placeholders the text uses are marked used in env. `what` names the
 * expression in messages: "ConditionExpression" (the default for NULL),
 * "FilterExpression", "KeyConditionExpression".
 */
dx_err dx_cond_parse(dx_arena *a, dx_expr_env *env, const char *what, const char *text,
                     dx_cond **out, dx_result *r);
/*
 * Evaluates c against item (NULL: the item does not exist). Comparisons are
 * DynamoDB's: operands of different types are never equal, < <= > >= and
 * BETWEEN hold only between two S, N or B values, a missing attribute makes
 * everything false except <> and attribute_not_exists; size() is the UTF-8
 * byte length of S, the byte length of B, the element count of L, M and sets.
 * Never allocates. DX_ERR_INVALID_ARG when item is not an M.
 */
dx_err dx_cond_eval(const dx_cond *c, const dx_value *item, bool *out, dx_result *r);

/*
 * How an expression refers to top-level attribute `name`: 0 when it does not,
 * else DX_EXPR_REF_TOP (some document path starts at it), plus
 * DX_EXPR_REF_NESTED when a path goes below it (name.x, name[0]). For the
 * key-attribute checks DynamoDB makes outside the grammar: "Filter Expression
 * can only contain non-primary key attributes", "Cannot update attribute id.
 * This attribute is part of the key", "Key attributes must be scalars; ...".
 */
#define DX_EXPR_REF_TOP 1u
#define DX_EXPR_REF_NESTED 2u
unsigned dx_cond_refs(const dx_cond *c, const char *name);

/* --- Key conditions (Query) --- */

typedef enum dx_key_op {
    DX_KEY_OP_NONE = 0, /* no sort key condition */
    DX_KEY_OP_EQ,
    DX_KEY_OP_LT,
    DX_KEY_OP_LE,
    DX_KEY_OP_GT,
    DX_KEY_OP_GE,
    DX_KEY_OP_BETWEEN,
    DX_KEY_OP_BEGINS_WITH
} dx_key_op;

typedef struct dx_key_cond {
    dx_value hash;      /* the partition key value (equality is the only form allowed) */
    dx_key_op range_op;
    dx_value r1, r2;    /* sort key operand(s); r2 only for BETWEEN */
} dx_key_cond;

/*
 * Parses a KeyConditionExpression for a table whose partition key is
 * hash_name and sort key range_name (NULL when none), checking the forms
 * DynamoDB allows ("Query condition missed key schema element: id"). The
 * values in *out are shallow copies of ExpressionAttributeValues members.
 * Not checked here (the key types are not known): that the operands have the
 * key attributes' types, DynamoDB's "One or more parameter values were
 * invalid: Condition parameter type does not match schema type".
 * dx_key_cond_parse = dx_cond_parse (what = "KeyConditionExpression") +
 * dx_key_cond_from_cond. DynamoDB (and dynalite) report unused placeholders
 * before the key-condition form errors: for that order, parse with
 * dx_cond_parse, parse the request's other expressions, call
 * dx_expr_env_check_unused, then dx_key_cond_from_cond.
 */
dx_err dx_key_cond_parse(dx_arena *a, dx_expr_env *env, const char *text, const char *hash_name,
                         const char *range_name, dx_key_cond *out, dx_result *r);
dx_err dx_key_cond_from_cond(dx_arena *a, const dx_cond *c, const char *hash_name, const char *range_name,
                             dx_key_cond *out, dx_result *r);
/* true when value v (the item's sort key) satisfies the sort key part of kc. */
bool dx_key_cond_match_range(const dx_key_cond *kc, const dx_value *v);

/*
 * The order of items by key that dumps use (dx_mem_dump, `dynox table
 * dump`), so that two dumps of equal tables are byte-identical: by partition
 * key value, then by sort key value (within a partition, the order Query
 * returns), each compared with dx_value_cmp (N numerically, S and B as
 * unsigned bytes). hash_a and hash_b must not be NULL; range_a and range_b
 * are NULL for a table without a sort key (a missing one sorts first).
 * Returns <0, 0, >0. Pure: thread-safe.
 */
int dx_key_cmp(const dx_value *hash_a, const dx_value *range_a, const dx_value *hash_b,
               const dx_value *range_b);

/* --- Updates --- */

typedef struct dx_update_expr dx_update_expr;
/* Parses an UpdateExpression; as dx_cond_parse (what = "UpdateExpression"). */
dx_err dx_update_parse(dx_arena *a, dx_expr_env *env, const char *text, dx_update_expr **out,
                       dx_result *r);
/*
 * Applies u to old (NULL or an M: the item as it is; not modified) and writes
 * the new item, allocated in a, to *out. Errors as DynamoDB gives them (wrong
 * operand types, invalid document paths, ADD to a non-number/non-set,
 * arithmetic beyond 38 digits or the number range). All SET operands are
 * evaluated against old before anything changes, and every list index refers
 * to the list as it was before the update, as in DynamoDB (REMOVE a[0], a[1]
 * removes the first two elements; SET a[i] past the end appends, in index
 * order). Copy-on-write: the maps and lists on the paths u touches are new
 * (in a); untouched attributes and values taken from old point into old, and
 * values set from placeholders point into ExpressionAttributeValues: keep
 * both alive while *out is in use, or dx_value_flatten / dx_value_copy it.
 * Results of arithmetic are canonical numbers.
 */
dx_err dx_update_apply(const dx_update_expr *u, dx_arena *a, const dx_value *old, dx_value *out,
                       dx_result *r);
/* true when u writes or removes top-level attribute `name` (or a path under it). */
bool dx_update_touches(const dx_update_expr *u, const char *name);
/* dx_cond_refs for the paths an update writes or removes. */
unsigned dx_update_refs(const dx_update_expr *u, const char *name);
/*
 * The parts of item under the paths u writes or removes, as dx_proj_apply
 * cuts them (deep copies in a): ReturnValues UPDATED_OLD (item = the old
 * item) and UPDATED_NEW (item = the new one). An empty M when none exist.
 */
dx_err dx_update_project(const dx_update_expr *u, dx_arena *a, const dx_value *item, dx_value *out);

/* --- Projections --- */

typedef struct dx_projection dx_projection;
/* Parses a ProjectionExpression; as dx_cond_parse (what = "ProjectionExpression"). */
dx_err dx_proj_parse(dx_arena *a, dx_expr_env *env, const char *text, dx_projection **out,
                     dx_result *r);
/*
 * The part of item that p selects, allocated in a (a deep copy: nothing
 * points into item). Nested structure is kept; selected list elements keep
 * their order and close up, as DynamoDB returns them ("a[2], a[0]" gives a
 * two-element list). NULL item or nothing selected: an empty M.
 */
dx_err dx_proj_apply(const dx_projection *p, dx_arena *a, const dx_value *item, dx_value *out);
/* dx_cond_refs for a projection's paths. */
unsigned dx_proj_refs(const dx_projection *p, const char *name);

/* --- Building expressions --- */

/*
 * Collects placeholders while the caller writes expression text. Every name
 * becomes "#nK" (the same attribute gets the same placeholder), every value
 * ":vK". Names and values are referenced, not copied: keep them alive until
 * the request is done. Zero-initialise and set .arena.
 */
typedef struct dx_expr_builder {
    dx_arena *arena;
    dx_map_builder names;  /* "#nK" -> S attribute name */
    dx_map_builder values; /* ":vK" -> value */
} dx_expr_builder;

void dx_eb_init(dx_expr_builder *b, dx_arena *a);
/* The placeholder for top-level attribute `attr` (NUL-terminated, in the arena). NULL on OOM. */
const char *dx_eb_name(dx_expr_builder *b, const char *attr);
/* A new placeholder for value v. NULL on OOM. */
const char *dx_eb_value(dx_expr_builder *b, const dx_value *v);
/*
 * The ExpressionAttributeNames / Values collected, written to *storage; NULL
 * when none (DynamoDB rejects empty maps). Call when done adding: a later
 * add may move the members.
 */
const dx_value *dx_eb_names(dx_expr_builder *b, dx_value *storage);
const dx_value *dx_eb_values(dx_expr_builder *b, dx_value *storage);

/*
 * Appends "SET #n0 = :v0, #n1 = :v1 REMOVE #n2" for the fields: members
 * whose value type is DX_T_NONE are removed, all others set (the SET part
 * first, in field order). DX_ERR_INVALID_ARG for no fields; on
 * DX_ERR_NOMEM out is left as it was.
 */
dx_err dx_eb_update_set(dx_expr_builder *b, const dx_member *fields, size_t n, dx_buf *out);
/* Appends "attribute_exists(#nK)" / "attribute_not_exists(#nK)". */
dx_err dx_eb_exists(dx_expr_builder *b, const char *attr, bool exists, dx_buf *out);

/*
 * ExpressionAttributeNames for text a user wrote with "#name" placeholders,
 * each #name standing for the attribute called name (the convention of job
 * files and `dynox put --condition`, which lets reserved words such as
 * #status be used): {"#status": "status", ...}, one member per distinct
 * placeholder in order of first use. *out is an M allocated in a (names
 * included); out->n is 0 when text has none (send no map then: DynamoDB
 * rejects an empty one). A placeholder is '#' followed by [A-Za-z0-9_]+, as
 * the parser reads it. DX_ERR_VALIDATION when a '#' is followed by no name
 * character (r->offset is its byte offset), DX_ERR_INVALID_ARG for a NULL a
 * or text, DX_ERR_NOMEM; *out is then an empty M. Not thread-safe on a.
 */
dx_err dx_expr_names_for(dx_arena *a, const char *text, dx_value *out, dx_result *r);

#ifdef __cplusplus
}
#endif
#endif
