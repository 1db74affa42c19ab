/*
 * dynox/value.h - the DynamoDB value model.
 *
 * A dx_value is a 16-byte tagged view: S, N and B point at bytes, L and the
 * sets at an array of values, M at an array of members. Values never own
 * memory themselves; whoever built them owns it (an arena, a flattened block,
 * or the caller's own storage), so a value tree can be built, copied and
 * dropped without a free per node. Numbers are kept as decimal text so that
 * nothing is lost to doubles; dx_num parses that text into digits and an
 * exponent for comparison, arithmetic and DynamoDB's validation (at most 38
 * significant digits, magnitude between 1E-130 and 9.99..E+125).
 *
 * The canonical form of a number is the one DynamoDB (and dynalite) stores
 * and returns: plain decimal notation, no exponent, no leading or trailing
 * zeros, "0" for zero ("1.50" -> "1.5", "1e3" -> "1000", "-0" -> "0").
 *
 * Thread-safety: every function may be called from many threads at once on
 * values that nobody is modifying; a builder, like an arena, has one owner.
 *
 * Must never: convert numbers through double except in the explicit
 * dx_num_to_double/dx_num_from_double accessors; allocate outside the arena
 * it is given (dx_value_flatten excepted, which returns one malloc block).
 */
#ifndef DYNOX_VALUE_H
#define DYNOX_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "util.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dx_type {
    DX_T_NONE = 0, /* no value (an absent attribute); never stored */
    DX_T_S,
    DX_T_N,
    DX_T_B,
    DX_T_BOOL,
    DX_T_NULL,
    DX_T_L,
    DX_T_M,
    DX_T_SS,
    DX_T_NS,
    DX_T_BS
} dx_type;

typedef struct dx_value dx_value;
typedef struct dx_member dx_member;

struct dx_value {
    uint32_t type; /* a dx_type */
    uint32_t n;    /* S, N, B: byte length; L, M, sets: element count; BOOL: 0 or 1 */
    union {
        const char *s;        /* S (UTF-8), N (decimal text) and B (raw bytes) */
        dx_value *elems;      /* L, SS, NS, BS */
        dx_member *members;   /* M */
    } u;
};

struct dx_member {
    const char *name; /* NUL-terminated as well as counted */
    uint32_t name_len;
    dx_value value;
};

/* "S", "N", ... for a type; "?" for an unknown one. */
const char *dx_type_name(dx_type t);
/* The type for a DynamoDB type name ("S", "SS", ...); DX_T_NONE when unknown. */
dx_type dx_type_from_name(const char *name, size_t len);

/* --- Views: build values over memory the caller keeps alive (no copy). --- */
static inline dx_value dx_vsn(const char *s, size_t n) {
    dx_value v = {DX_T_S, (uint32_t)n, {.s = s}};
    return v;
}
dx_value dx_vs(const char *s);               /* S over a NUL-terminated string */
dx_value dx_vn(const char *text);            /* N over decimal text, not validated */
static inline dx_value dx_vb(const void *p, size_t n) {
    dx_value v = {DX_T_B, (uint32_t)n, {.s = (const char *)p}};
    return v;
}
static inline dx_value dx_vbool(bool b) {
    dx_value v = {DX_T_BOOL, b ? 1u : 0u, {.s = NULL}};
    return v;
}
static inline dx_value dx_vnull(void) {
    dx_value v = {DX_T_NULL, 1, {.s = NULL}};
    return v;
}
static inline dx_value dx_vlist(dx_value *elems, size_t n) {
    dx_value v = {DX_T_L, (uint32_t)n, {.elems = elems}};
    return v;
}
static inline dx_value dx_vset(dx_type t, dx_value *elems, size_t n) {
    dx_value v = {(uint32_t)t, (uint32_t)n, {.elems = elems}};
    return v;
}
static inline dx_value dx_vmap(dx_member *m, size_t n) {
    dx_value v = {DX_T_M, (uint32_t)n, {.members = m}};
    return v;
}
static inline bool dx_value_is(const dx_value *v, dx_type t) { return v && v->type == (uint32_t)t; }

/* --- Maps --- */

/* The member value named `name` in map m, or NULL. Linear: maps are small. */
const dx_value *dx_map_get(const dx_value *m, const char *name);
const dx_value *dx_map_getn(const dx_value *m, const char *name, size_t len);

/*
 * Growable map / list builders over an arena. Zero-initialise, set .arena,
 * add, then finish. The name is copied into the arena; the returned slot is
 * where the caller writes the value (it stays valid until the next add).
 * Adding never checks for duplicate names (dx_value_validate does). add
 * returns NULL when out of memory. finish hands back the value and leaves the
 * builder empty (arena kept), ready for the next map or list.
 */
typedef struct dx_map_builder {
    dx_arena *arena;
    dx_member *m;
    uint32_t n, cap;
} dx_map_builder;
dx_value *dx_mapb_add(dx_map_builder *b, const char *name, size_t len);
dx_value dx_mapb_finish(dx_map_builder *b);

typedef struct dx_list_builder {
    dx_arena *arena;
    dx_value *v;
    uint32_t n, cap;
} dx_list_builder;
dx_value *dx_listb_add(dx_list_builder *b);
/* t is DX_T_L or one of the set types. */
dx_value dx_listb_finish(dx_list_builder *b, dx_type t);

/* --- Numbers --- */

#define DX_NUM_MAX_DIGITS 38
/* Longest canonical text: "-0." + 129 zeros + 38 digits, and NUL. */
#define DX_NUM_TEXT_MAX 176

typedef struct dx_num {
    bool neg;
    uint8_t ndigits;               /* significant digits; 0 means the value is zero */
    int16_t exp;                   /* power of ten of the first digit: 123 -> 2, 0.05 -> -2 */
    char digits[DX_NUM_MAX_DIGITS]; /* ASCII, no leading or trailing zeros */
} dx_num;

/*
 * Parses decimal text (-?digits[.digits][e[+-]digits], as JSON and DynamoDB
 * accept it; leading/trailing space, '+' sign, "Infinity" and "NaN" are
 * rejected) and checks DynamoDB's limits. Errors are DX_ERR_VALIDATION with
 * DynamoDB's messages: "The parameter cannot be converted to a numeric value",
 * "Attempting to store more than 38 significant digits in a Number",
 * "Number overflow. ...", "Number underflow. ...". r may be NULL.
 */
dx_err dx_num_parse(const char *s, size_t n, dx_num *out, dx_result *r);
/*
 * Writes the canonical text (see top of file), NUL-terminated, and returns its
 * length; out holds DX_NUM_TEXT_MAX. A dx_num outside DynamoDB's limits (which
 * dx_num_parse never produces) gets "" and 0.
 */
size_t dx_num_format(const dx_num *x, char *out);
/* true when s is exactly what dx_num_format writes for some valid number (so it needs no
 * parsing to be validated or canonicalised). Conservative: false means "parse it". */
bool dx_num_is_canonical(const char *s, size_t n);
/* Numeric comparison: <0, 0, >0. */
int dx_num_cmp(const dx_num *a, const dx_num *b);
/* Exact a + b and a - b; DX_ERR_VALIDATION when the result needs more than 38 digits or leaves the range. */
dx_err dx_num_add(const dx_num *a, const dx_num *b, dx_num *out, dx_result *r);
dx_err dx_num_sub(const dx_num *a, const dx_num *b, dx_num *out, dx_result *r);
/* DX_ERR_VALIDATION (message says why) when x has a fraction or does not fit. */
dx_err dx_num_to_i64(const dx_num *x, int64_t *out, dx_result *r);
/* Nearest double; DX_ERR_VALIDATION when the magnitude overflows a double. */
dx_err dx_num_to_double(const dx_num *x, double *out, dx_result *r);
void dx_num_from_i64(int64_t v, dx_num *out);
/* Shortest decimal that round-trips; DX_ERR_VALIDATION for NaN/Inf or out of DynamoDB's range. */
dx_err dx_num_from_double(double v, dx_num *out, dx_result *r);

/* N value helpers: parse v's text (v must be N) and convert. */
dx_err dx_value_to_i64(const dx_value *v, int64_t *out, dx_result *r);
dx_err dx_value_to_double(const dx_value *v, double *out, dx_result *r);
/* Validates and canonicalises text into an N value whose text lives in arena a. */
dx_err dx_value_num(dx_arena *a, const char *text, size_t n, dx_value *out, dx_result *r);
dx_err dx_value_i64(dx_arena *a, int64_t x, dx_value *out);
dx_err dx_value_double(dx_arena *a, double x, dx_value *out, dx_result *r);
/* Canonical N value of a parsed number, text in arena a. */
dx_err dx_value_from_num(dx_arena *a, const dx_num *x, dx_value *out);

/* --- Whole values --- */

/*
 * Deep copy of src into arena a (numbers copied as they are). DX_ERR_NOMEM on
 * failure, with *dst unspecified.
 */
dx_err dx_value_copy(dx_arena *a, const dx_value *src, dx_value *dst);

/*
 * Deep copy of v into a single malloc'd block, with numbers canonicalised and
 * map members sorted by name (so equal items flatten to equal layouts and
 * dumps are deterministic). The block starts with the root dx_value: release
 * it with free(*out). Fails with DX_ERR_VALIDATION for an invalid number.
 */
dx_err dx_value_flatten(const dx_value *v, dx_value **out, dx_result *r);

/*
 * The packed form: a value as one compact, self-contained byte string (less
 * than half a flattened block for typical items), numbers canonical and map
 * members sorted by name as dx_value_flatten does. For storing many values;
 * reading one means unpacking it. The format is private to this version of
 * the library (never written to disk or sent anywhere).
 *
 * dx_value_packed_size measures v (DX_ERR_VALIDATION for an invalid number,
 * or for DX_T_NONE); dx_value_pack writes it to out, which holds that many
 * bytes (DX_ERR_NOMEM only for maps of more than 32 members, which need
 * scratch memory to sort). dx_value_unpack rebuilds the value in arena a:
 * with copy, strings and names are copied into the arena too; without, they
 * point into the packed bytes (NUL-terminated there), which must then outlive
 * the value.
 *
 * hint (may be NULL) remembers the order that sorted the last top-level map
 * packed with it; a caller packing many maps with the same attribute names
 * (a bulk load) passes the same hint each time and skips the sorting. A hint
 * is only ever a guess that is checked: any hint gives the same bytes. One
 * hint per thread.
 */
typedef struct dx_pack_hint {
    uint32_t n;
    uint8_t ord[32];
} dx_pack_hint;

dx_err dx_value_packed_size(const dx_value *v, size_t *out, dx_result *r);
dx_err dx_value_pack(const dx_value *v, void *out, dx_pack_hint *hint, dx_result *r);
dx_err dx_value_unpack(dx_arena *a, const void *packed, bool copy, dx_value *out);

/*
 * Order of two scalar values of the same type as DynamoDB sorts them: N
 * numerically, S and B as unsigned bytes. Other or mismatched types compare
 * by type tag (a total order, not a DynamoDB one); BOOL false < true; two
 * lists, maps, sets or NULLs compare equal here (use dx_value_equal). Text that
 * does not parse as a number sorts after every number.
 */
int dx_value_cmp(const dx_value *a, const dx_value *b);

/*
 * Deep equality as DynamoDB means it: same type; numbers compared
 * numerically; maps and sets regardless of order; lists in order. Values are
 * assumed valid: a set with duplicates or a map with a repeated name may
 * compare equal to one without. Large sets and maps use scratch memory
 * (freed before return) to compare in n log n.
 */
bool dx_value_equal(const dx_value *a, const dx_value *b);

/*
 * Checks v against DynamoDB's rules for an attribute value: well-formed
 * numbers, non-empty sets without duplicates, set members of the right type,
 * UTF-8 strings and attribute names, nested values recursively (at most 32
 * levels of lists/maps), no duplicate names in a map. `path` names the
 * attribute for the message (e.g. "tags"). DX_ERR_VALIDATION with a
 * DynamoDB-shaped message (dynalite's exact text where it has one) and
 * r->field = path. Large sets and maps use scratch memory, freed before return.
 */
dx_err dx_value_validate(const dx_value *v, const char *path, dx_result *r);

/*
 * For an item (an M value): dx_value_validate of every attribute value, with
 * the attribute's name as path (attribute names themselves are not checked
 * here, nor duplicates among them: see dx_map_find_dup), and in the same walk
 * its size as dx_item_size counts it (*size) and dx_value_packed_size
 * (*packed). Either output may be NULL. Errors as dx_value_validate;
 * DX_ERR_INVALID_ARG when item is not an M.
 */
dx_err dx_item_check(const dx_value *item, size_t *size, size_t *packed, dx_result *r);

/*
 * dx_item_check and dx_value_pack in one walk, for storing an item: appends
 * the packed item to out and gives its size as dx_item_size counts it
 * (*size) and whether two of its attributes share a name (*dup_names: the
 * packed bytes then hold both, so do not store them). DX_ERR_VALIDATION,
 * without a message, when dx_item_check would fail (call it for DynamoDB's
 * message, which names the first bad attribute in the item's own order);
 * DX_ERR_NOMEM; either way out is as it was. hint as for dx_value_pack.
 */
dx_err dx_item_check_pack(const dx_value *item, dx_pack_hint *hint, dx_buf *out, size_t *size,
                          bool *dup_names);

/* The first member of map m whose name another member also has, or NULL. Large maps use
 * scratch memory (freed before return). */
const dx_member *dx_map_find_dup(const dx_value *m);

#ifdef __cplusplus
}
#endif
#endif
