/*
 * checkpoint.c - atomic checkpoint files for --resume (see checkpoint.h).
 *
 * Writing: the JSON text is built in memory, written to
 * "<path>.tmp.<pid>" in the checkpoint's own directory (rename is atomic only
 * within one file system), fsync'd, renamed over <path>, and then the
 * directory itself is fsync'd so that the rename survives a power cut.
 * Reading: strict -- every key of this version must be present with the
 * right type; unknown keys are ignored so that a newer dynox can add some.
 * "done_after_mark" (version 2) is optional, so that a version 1 checkpoint
 * -- written before the key existed, or with no row done past the mark --
 * still loads; its ranges must be sorted, disjoint and after the mark.
 *
 * Must never: leave a partial checkpoint under the real name, or accept one
 * it cannot fully parse.
 */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void dxj_iso8601(uint64_t wall_ms, char out[32]) {
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(wall_ms % 1000));
    memcpy(out, tmp, 31);
    out[31] = 0;
}

static bool put_u64(dx_buf *b, const char *key, uint64_t v, bool last) {
    return dx_buf_printf(b, "  \"%s\": %" PRIu64 "%s\n", key, v, last ? "" : ",");
}

static bool put_str(dx_buf *b, const char *key, const char *v) {
    return dx_buf_printf(b, "  \"%s\": ", key) && dx_buf_put_json_str(b, v, strlen(v)) &&
           dx_buf_puts(b, ",\n");
}

/* "done_after_mark": [[first, last], ...] on one line, ranges of record ordinals. */
static bool put_done(dx_buf *b, const dxj_checkpoint *cp) {
    if (!cp->ndone) return true;
    bool ok = dx_buf_puts(b, "  \"done_after_mark\": [");
    for (size_t i = 0; ok && i < cp->ndone; i++)
        ok = dx_buf_printf(b, "%s[%" PRIu64 ", %" PRIu64 "]", i ? ", " : "", cp->done[i][0],
                           cp->done[i][1]);
    return ok && dx_buf_puts(b, "],\n");
}

void dxj_checkpoint_free(dxj_checkpoint *cp) {
    free(cp->done);
    cp->done = NULL;
    cp->ndone = 0;
}

bool dxj_checkpoint_done_has(const uint64_t (*done)[2], size_t n, uint64_t index) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (done[mid][1] < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && done[lo][0] <= index;
}

dx_err dxj_checkpoint_json(const dxj_checkpoint *cp, dx_buf *b) {
    /* Version 1 when there is no set: any dynox that reads checkpoints reads it. */
    bool ok = dx_buf_puts(b, "{\n") &&
              put_u64(b, "version", cp->ndone ? DXJ_CHECKPOINT_VERSION : 1, false) &&
              put_str(b, "input", cp->input) && put_str(b, "op", cp->op) &&
              put_u64(b, "input_bytes", cp->input_bytes, false) &&
              put_u64(b, "shard_index", cp->shard_index, false) &&
              put_u64(b, "shard_count", cp->shard_count, false) &&
              put_u64(b, "records", cp->records, false) &&
              put_u64(b, "offset", cp->offset, false) &&
              put_u64(b, "rows_in", cp->rows_in, false) &&
              put_u64(b, "written", cp->written, false) &&
              put_u64(b, "rejected", cp->rejected, false) &&
              put_u64(b, "failed", cp->failed, false) &&
              put_u64(b, "superseded", cp->superseded, false) &&
              put_u64(b, "missing", cp->missing, false) &&
              put_u64(b, "conditional_failed", cp->conditional_failed, false) &&
              put_u64(b, "rejects_size", cp->rejects_size, false) &&
              put_u64(b, "failures_size", cp->failures_size, false) && put_done(b, cp) &&
              dx_buf_puts(b, "  \"updated_at\": ") &&
              dx_buf_put_json_str(b, cp->updated_at, strlen(cp->updated_at)) &&
              dx_buf_puts(b, "\n}\n");
    return ok ? DX_OK : DX_ERR_NOMEM;
}

/* The directory part of path ("." when there is none), in out[PATH_MAX]. */
static void dir_of(const char *path, char *out, size_t n) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(out, n, ".");
    } else if (slash == path) {
        snprintf(out, n, "/");
    } else {
        snprintf(out, n, "%.*s", (int)(slash - path), path);
    }
}

static bool write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

dx_err dxj_checkpoint_write(const char *path, const dxj_checkpoint *cp, dx_result *r) {
    dx_buf b = {0};
    char tmp[PATH_MAX], dir[PATH_MAX];
    int fd = -1;
    dx_err e = dxj_checkpoint_json(cp, &b);
    if (e) return dx_fail(r, e, NULL, "out of memory writing checkpoint %s", path);
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        dx_buf_free(&b);
        return dx_fail(r, DX_ERR_IO, NULL, "checkpoint path too long: %s", path);
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        e = dx_fail(r, DX_ERR_IO, NULL, "cannot create checkpoint %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (!write_all(fd, b.ptr, b.len) || fsync(fd) != 0) {
        e = dx_fail(r, DX_ERR_IO, NULL, "cannot write checkpoint %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        e = dx_fail(r, DX_ERR_IO, NULL, "cannot write checkpoint %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        e = dx_fail(r, DX_ERR_IO, NULL, "cannot rename checkpoint %s to %s: %s", tmp, path,
                    strerror(errno));
        goto out;
    }
    dir_of(path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        /* Some file systems refuse fsync on a directory (EINVAL): the rename
         * is then as durable as they make it. */
        if (fsync(dfd) != 0 && errno != EINVAL && errno != EROFS) {
            e = dx_fail(r, DX_ERR_IO, NULL, "cannot sync directory %s: %s", dir, strerror(errno));
        }
        close(dfd);
    }
out:
    if (fd >= 0) close(fd);
    if (e != DX_OK) unlink(tmp);
    dx_buf_free(&b);
    return e;
}

/* ---------------------------------------------------------------- reading */

enum { K_VERSION, K_INPUT, K_OP, K_INPUT_BYTES, K_SHARD_INDEX, K_SHARD_COUNT, K_RECORDS,
       K_OFFSET, K_ROWS_IN, K_WRITTEN, K_REJECTED, K_FAILED, K_SUPERSEDED, K_MISSING,
       K_CONDFAIL, K_REJECTS_SIZE, K_FAILURES_SIZE, K_UPDATED_AT, K__COUNT };

static const char *const key_names[K__COUNT] = {
    "version", "input", "op", "input_bytes", "shard_index", "shard_count", "records",
    "offset", "rows_in", "written", "rejected", "failed", "superseded", "missing",
    "conditional_failed", "rejects_size", "failures_size", "updated_at"};

static uint64_t *u64_field(dxj_checkpoint *cp, int k, uint64_t *scratch) {
    switch (k) {
    case K_VERSION: return scratch;
    case K_INPUT_BYTES: return &cp->input_bytes;
    case K_RECORDS: return &cp->records;
    case K_OFFSET: return &cp->offset;
    case K_ROWS_IN: return &cp->rows_in;
    case K_WRITTEN: return &cp->written;
    case K_REJECTED: return &cp->rejected;
    case K_FAILED: return &cp->failed;
    case K_SUPERSEDED: return &cp->superseded;
    case K_MISSING: return &cp->missing;
    case K_CONDFAIL: return &cp->conditional_failed;
    case K_REJECTS_SIZE: return &cp->rejects_size;
    case K_FAILURES_SIZE: return &cp->failures_size;
    default: return NULL;
    }
}

static bool parse_u64(dx_str s, uint64_t *out) {
    if (s.len == 0 || s.len > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9') return false;
        uint64_t d = (uint64_t)(s.ptr[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* [[first, last], ...]: appended to cp->done (malloc'd). */
static dx_err parse_done(dx_jcur *c, dxj_checkpoint *cp, dx_result *pr) {
    static const char *const k = "done_after_mark";
    size_t cap = 0;
    dx_err e = dx_jcur_arr_begin(c);
    for (;;) {
        bool done;
        if (e || (e = dx_jcur_arr_next(c, &done)) != DX_OK) return e;
        if (done) return DX_OK;
        uint64_t v[2];
        if ((e = dx_jcur_arr_begin(c)) != DX_OK) return e;
        for (int i = 0; i < 3; i++) {
            bool end;
            if ((e = dx_jcur_arr_next(c, &end)) != DX_OK) return e;
            if (end != (i == 2))
                return dx_fail(pr, DX_ERR_PARSE, k, "'%s' must hold [first, last] pairs", k);
            if (end) break;
            dx_str num;
            if ((e = dx_jcur_number(c, &num)) != DX_OK) return e;
            if (!parse_u64(num, &v[i]))
                return dx_fail(pr, DX_ERR_PARSE, k, "'%s': not a record ordinal", k);
        }
        if (v[0] > v[1] || v[0] == 0 || (cp->ndone && v[0] <= cp->done[cp->ndone - 1][1]))
            return dx_fail(pr, DX_ERR_PARSE, k, "'%s': ranges not sorted and disjoint", k);
        if (cp->ndone == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t(*d)[2] = realloc(cp->done, cap * sizeof *d);
            if (!d) return dx_fail(pr, DX_ERR_NOMEM, k, "out of memory");
            cp->done = d;
        }
        cp->done[cp->ndone][0] = v[0];
        cp->done[cp->ndone][1] = v[1];
        cp->ndone++;
    }
}

static dx_err parse(const char *path, const char *text, size_t len, dxj_checkpoint *cp,
                    dx_result *r) {
    dx_arena a = {0};
    dx_jcur c;
    bool seen[K__COUNT] = {0};
    uint64_t version = 0, shard[2] = {0, 0};
    dx_err e;
    dx_result pr;
    dx_result_clear(&pr);
    memset(cp, 0, sizeof *cp);
    dx_jcur_init(&c, &a, text, len, &pr);
    if ((e = dx_jcur_obj_begin(&c)) != DX_OK) goto bad;
    for (;;) {
        dx_str key;
        bool done;
        if ((e = dx_jcur_obj_next(&c, &key, &done)) != DX_OK) goto bad;
        if (done) break;
        int k = -1;
        for (int i = 0; i < K__COUNT; i++)
            if (dx_str_eq(key, key_names[i])) k = i;
        if (k < 0 && dx_str_eq(key, "done_after_mark") && !cp->ndone) {
            if ((e = parse_done(&c, cp, &pr)) != DX_OK) goto bad;
            continue;
        }
        if (k < 0) {
            if ((e = dx_jcur_skip(&c)) != DX_OK) goto bad;
            continue;
        }
        seen[k] = true;
        if (k == K_INPUT || k == K_OP || k == K_UPDATED_AT) {
            dx_str s;
            if ((e = dx_jcur_string(&c, &s)) != DX_OK) goto bad;
            char *dst = k == K_INPUT ? cp->input : k == K_OP ? cp->op : cp->updated_at;
            size_t cap = k == K_INPUT ? sizeof cp->input : k == K_OP ? sizeof cp->op
                                                                      : sizeof cp->updated_at;
            if (s.len >= cap) {
                e = dx_fail(&pr, DX_ERR_PARSE, key_names[k], "value too long");
                goto bad;
            }
            memcpy(dst, s.ptr, s.len);
            dst[s.len] = 0;
            continue;
        }
        dx_str num;
        uint64_t v;
        if ((e = dx_jcur_number(&c, &num)) != DX_OK) goto bad;
        if (!parse_u64(num, &v)) {
            e = dx_fail(&pr, DX_ERR_PARSE, key_names[k], "'%s' is not a non-negative integer",
                        key_names[k]);
            goto bad;
        }
        if (k == K_SHARD_INDEX || k == K_SHARD_COUNT) {
            if (v > UINT32_MAX) {
                e = dx_fail(&pr, DX_ERR_PARSE, key_names[k], "'%s' out of range", key_names[k]);
                goto bad;
            }
            shard[k == K_SHARD_COUNT] = v;
            continue;
        }
        *u64_field(cp, k, &version) = v;
    }
    if (!dx_jcur_at_end(&c)) {
        e = dx_fail(&pr, DX_ERR_PARSE, NULL, "text after the object");
        goto bad;
    }
    for (int i = 0; i < K__COUNT; i++) {
        if (!seen[i]) {
            e = dx_fail(&pr, DX_ERR_PARSE, key_names[i], "key '%s' is missing", key_names[i]);
            goto bad;
        }
    }
    if (version < 1 || version > DXJ_CHECKPOINT_VERSION) {
        e = dx_fail(&pr, DX_ERR_PARSE, "version", "version %" PRIu64 " (this dynox reads 1 to %d)",
                    version, DXJ_CHECKPOINT_VERSION);
        goto bad;
    }
    /* Every record before the mark is finished: a done row is after it (ordinals >= count). */
    if (cp->ndone && cp->done[0][0] <= cp->records) {
        e = dx_fail(&pr, DX_ERR_PARSE, "done_after_mark",
                    "'done_after_mark' starts at record %" PRIu64 ", not after the mark (%" PRIu64
                    " records)",
                    cp->done[0][0], cp->records);
        goto bad;
    }
    cp->shard_index = (uint32_t)shard[0];
    cp->shard_count = (uint32_t)shard[1];
    dx_arena_release(&a);
    return DX_OK;
bad:
    dx_arena_release(&a);
    dxj_checkpoint_free(cp);
    return dx_fail(r, DX_ERR_PARSE, pr.field[0] ? pr.field : NULL,
                   "%s is not a valid dynox checkpoint: %s", path, pr.message);
}

dx_err dxj_checkpoint_read(const char *path, dxj_checkpoint *cp, dx_result *r) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return dx_fail(r, DX_ERR_IO, NULL, "cannot read checkpoint %s: %s%s", path,
                       strerror(errno),
                       errno == ENOENT ? " (run without --resume to start from the beginning)"
                                       : "");
    dx_buf b = {0};
    char tmp[4096];
    size_t n;
    bool ok = true;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (b.len + n > (64u << 20) || !dx_buf_append(&b, tmp, n)) {
            ok = false;
            break;
        }
    }
    bool err = ferror(f);
    fclose(f);
    if (err || !ok) {
        dx_buf_free(&b);
        return dx_fail(r, err ? DX_ERR_IO : DX_ERR_PARSE, NULL,
                       "cannot read checkpoint %s: %s", path,
                       err ? "read error" : "too large to be a checkpoint");
    }
    dx_err e = parse(path, b.ptr ? b.ptr : "", b.len, cp, r);
    dx_buf_free(&b);
    return e;
}

dx_err dxj_file_sync(FILE *f, const char *name, uint64_t *size, dx_result *r) {
    if (fflush(f) != 0)
        return dx_fail(r, DX_ERR_IO, NULL, "cannot write %s: %s", name, strerror(errno));
    int fd = fileno(f);
    struct stat st;
    if (fsync(fd) != 0 && errno != EINVAL)
        return dx_fail(r, DX_ERR_IO, NULL, "cannot sync %s: %s", name, strerror(errno));
    if (fstat(fd, &st) != 0)
        return dx_fail(r, DX_ERR_IO, NULL, "cannot stat %s: %s", name, strerror(errno));
    *size = (uint64_t)st.st_size;
    return DX_OK;
}
