/*
 * verify.h - read-back verification: which rows are checked, and whether
 * what DynamoDB returns is what the job wrote.
 *
 * After a sampled row's write succeeds the runner reads the item back with
 * ConsistentRead and calls one of the comparisons below:
 *   put, get_save              the whole item must equal what was written
 *   update_by_key, get_update  each SET attribute equal, each REMOVEd one absent
 *   delete_by_key, get_delete  the item must be absent
 * Equality is DynamoDB's (dx_value_equal: numbers numerically, maps and sets
 * regardless of order). On a mismatch `what` says what differed, in the
 * words of dxj_mismatch ("attribute score: wrote 3, read 4", "item
 * missing", "item still exists").
 *
 * Threads: every function is reentrant.
 */
#ifndef DYNOX_JOBS_VERIFY_H
#define DYNOX_JOBS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynox/dynox.h"

/*
 * true when the record with this 1-based ordinal is in the sample: a
 * deterministic hash of the ordinal compared with fraction, so a re-run
 * checks the same rows. fraction <= 0: none; >= 1: all.
 */
bool dxj_verify_sampled(uint64_t ordinal, double fraction);

/* Whole item: read (NULL: absent) must equal written. */
bool dxj_verify_item(const dx_value *written, const dx_value *read, char *what, size_t n);
/* Fields: members with a value must be equal in read; DX_T_NONE members must be absent. */
bool dxj_verify_fields(const dx_member *fields, size_t nfields, const dx_value *read, char *what,
                       size_t n);
/* Deletes: read must be NULL. */
bool dxj_verify_absent(const dx_value *read, char *what, size_t n);

/* The value as compact plain JSON, truncated with "..." to fit out[n]. */
void dxj_value_text(const dx_value *v, char *out, size_t n);

#endif
