/*
 * dynox/size.h - item size and capacity units exactly as DynamoDB counts them.
 *
 * Attribute names and strings count their UTF-8 bytes, binaries their raw
 * bytes, BOOL and NULL one byte, lists and maps 3 bytes plus one per element
 * plus their contents (map keys included). Numbers follow the empirical rule
 * dynalite implements (valSize in its db/index.js): 1 byte for zero, else
 * 1 + ceil(digits / 2), plus 1 when both the digit count and the exponent are
 * even (the digits straddle a base-100 pair boundary), plus 1 when negative:
 * "1" -> 2, "123" -> 3, "1.5" -> 3, "-1" -> 3.
 *
 * Must never: allocate, or fail on a value it was given (an invalid number
 * is sized by its text length).
 */
#ifndef DYNOX_SIZE_H
#define DYNOX_SIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DX_MAX_ITEM_SIZE 409600 /* 400 KB, DynamoDB's item limit */

/* Size of a number given as decimal text. */
size_t dx_num_size(const char *s, size_t n);
/* Size of a number whose text is canonical (dx_num_is_canonical), read off the text. */
size_t dx_num_canon_size(const char *s, size_t n);
/* Size of a parsed number (what dx_num_size gives for its text). */
size_t dx_num_stored_size(const dx_num *x);
/* Size of one value (not including any attribute name). */
size_t dx_value_size(const dx_value *v);
/* Size of an item (an M value): for each attribute, name bytes + value size. */
size_t dx_item_size(const dx_value *item);
/* Write capacity units for an item of `bytes` (1 per started KB, at least 1). */
double dx_write_units(size_t bytes);
/* Read capacity units: 1 per started 4 KB (at least 1), halved when not consistent. */
double dx_read_units(size_t bytes, bool consistent);

#ifdef __cplusplus
}
#endif
#endif
