/*
 * mapper.h - from an input record to what an operation needs: a model item,
 * its key, and the fields to change.
 *
 * Columns map to model attributes by name unless the spec's mapping says
 * otherwise (rename, ignore); constants are added to every row. Values are
 * converted to the attribute's type: CSV fields are text ("42" for a number,
 * "true"/"false"/"1"/"0"/"yes"/"no" for bool, JSON text for list/map/json
 * attributes, base64 for binary, JSON arrays or comma-free JSON for sets);
 * JSON lines are plain objects typed by the model, or DynamoDB JSON (also
 * DynamoDB's export-to-S3 lines {"Item": {...}}) taken as typed.
 *
 * What an item holds depends on the operation:
 *   put                 every attribute, defaults and generators applied,
 *                       required attributes checked (the model's rules)
 *   update_by_key,      the key plus the mapped fields only: no defaults, no
 *   get_update          required checks; a null field means REMOVE (unless
 *                       null_stores)
 *   delete_by_key,      the key only (other columns are ignored)
 *   get_delete
 *   get_save            the key plus the mapped fields, applied over the item read
 *
 * A row that cannot be mapped is rejected with the field and the reason in
 * the dx_result (DX_ERR_VALIDATION / DX_ERR_PARSE); it never stops the job.
 *
 * Threads: a mapper is immutable after dxj_mapper_new and shared by all
 * workers; each call works in the caller's arena.
 *
 * Must never: accept a row without its full key, or silently drop a column
 * that matches nothing (unless ignore_unknown).
 */
#ifndef DYNOX_JOBS_MAPPER_H
#define DYNOX_JOBS_MAPPER_H

#include <stdbool.h>
#include <stddef.h>

#include "dynox/dynox.h"
#include "reader.h"
#include "spec.h"

typedef struct dxj_mapper dxj_mapper;

typedef struct dxj_mapped {
    dx_value item;     /* M: every attribute the row gives (key included), typed */
    dx_value key;      /* M: the key attributes only */
    dx_member *fields; /* non-key attributes to write; value type DX_T_NONE = remove */
    size_t nfields;
} dxj_mapped;

/*
 * Builds a mapper for a model, a mapping and an operation. `columns` are the
 * CSV column names (NULL for JSON lines). Checks that every mapping target
 * exists in the model and, for CSV, that the key attributes are reachable
 * from some column (DX_ERR_CONFIG naming the attribute).
 */
dx_err dxj_mapper_new(const dx_model *m, const dxj_mapping *map, const dxj_operation *op,
                      const dxj_input *in, const char *const *columns, size_t ncolumns,
                      dxj_mapper **out, dx_result *r);
void dxj_mapper_free(dxj_mapper *mp);

/* Maps one record; results are allocated in a, and may point into the record's own memory
 * (its chunk) and into the mapper: keep both while the results are in use. */
dx_err dxj_map(const dxj_mapper *mp, const dxj_record *rec, dx_arena *a, dxj_mapped *out,
               dx_result *r);

/*
 * Appends the record as one JSON line for a rejects or failures file: the
 * original row as a JSON object (CSV: column -> text, null marker fields as
 * null; JSON lines: the line itself) with a "_dynox" member holding the
 * file, line, record, field and reason. Such files are valid inputs: the
 * mapper ignores "_dynox" and maps the rest exactly as the original row.
 */
dx_err dxj_record_line(const dxj_mapper *mp, const dxj_record *rec, const char *file,
                       const char *field, const char *reason, dx_buf *out);

#endif
