/*
 * reader.c - streaming input for jobs: CSV (libcsv) or JSON lines, plain or
 * zstd-compressed, from a file or standard input, cut into chunks of records.
 *
 * DESIGN
 * Bytes flow through three stages, each with one buffer:
 *
 *   fd --read()--> [zin: compressed, ZSTD_DStreamInSize()]      (zstd only)
 *      --ZSTD_decompressStream / read()--> [window: decoded bytes]
 *      --split into records--> chunk arena (records, fields, text)
 *
 * The window holds decoded bytes not yet consumed: buf[start, len), whose
 * first byte is at stream offset buf_off + start. It is refilled by fill(),
 * which first slides the unread tail to the front and grows the buffer only
 * when one record does not fit (up to WIN_MAX, enough for a DXJ_MAX_LINE
 * line and its "\r\n"), so memory is one window plus the chunk being filled.
 * Plain input is read straight into the window in BLOCK-sized reads.
 *
 * JSON lines are split with memchr. A line is copied once, into a "slab"
 * (a large block of the chunk's arena handed out without alignment), and the
 * record's text points at the copy: no per-record malloc. Blank lines are
 * skipped but counted, a UTF-8 BOM at the start is skipped, "\r\n" is
 * stripped. A line longer than DXJ_MAX_LINE becomes a record with an error
 * (and a short prefix as its text); the reader then drops bytes up to the
 * next newline ("discarding") and goes on. The reader never parses JSON.
 *
 * CSV goes through libcsv in strict mode (CSV_STRICT | CSV_STRICT_FINI):
 * a stray quote inside an unquoted field, text after a closing quote, or a
 * quote still open at the end of the input is an error in that row only.
 * libcsv is fed one slice at a time, each slice ending at a newline (or at
 * the end of the window), so the reader knows the line and stream offset of
 * every slice. Before a slice is fed while libcsv is between rows (its
 * public pstate is ROW_NOT_BEGUN) the slice's line and offset are where the
 * next row starts; a quoted newline inside a field ends a slice too, so
 * physical line numbers stay right. Offsets are exact at row boundaries for
 * files whose rows end in "\n" or "\r\n"; a bare "\r" (old Mac files) also
 * ends a row for libcsv, and a row starting after one in the middle of a
 * slice is given the slice's line and offset. After a quoting error the
 * parser is re-initialised and resumes at the next line. A row longer than
 * DXJ_MAX_LINE (typically an unclosed quote swallowing the file) becomes an
 * error record too, so libcsv's field buffer stays bounded. Blanks (spaces,
 * tabs) around unquoted fields are trimmed, libcsv's own rule: it accepts
 * the common hand-written `1, "a, b"` and is the fast path (a custom blank
 * test costs libcsv a call per byte); quote a field to keep its blanks.
 * UTF-8 is checked once per line; only the fields of a row that had an
 * invalid line are checked one by one, to name the column.
 * Fields are copied into the chunk's slab, NUL-terminated; the null marker
 * gives ptr == NULL (for an empty marker, "" unquoted is null and "\"\"" is
 * an empty string, via CSV_EMPTY_IS_NULL).
 *
 * zstd: the magic bytes (28 B5 2F FD, or a skippable frame 5? 2A 4D 18) are
 * sniffed unless the spec forces a compression. Decompression is streaming;
 * concatenated frames and skippable frames just work. At the end of the
 * input a decoder that has not finished its frame means a truncated file;
 * a decoder error means corrupt data. Both end the read with DX_ERR_PARSE
 * (sticky), after the complete records decoded before the failure have been
 * delivered.
 *
 * Records, shards, resume: every data record (good or broken) gets the next
 * ordinal. A shard keeps a record when index % n == i, or, for a plain JSON
 * lines file, when the record's line starts in the shard's byte range; in
 * both cases the records of other shards are still counted (a byte-range
 * shard reads the bytes before its range only to number lines and records
 * like the whole input, and stops after the last line that starts before the
 * range's end). Skipping (resume) runs the same code with materialisation
 * turned off, so it cuts records exactly as reading does.
 *
 * Threads: a reader belongs to one thread; dxj_reader_progress may be
 * called from any thread.
 *
 * Must never: hold more than one window plus the chunk being filled (and
 * libcsv's buffer for one field), lose or duplicate a record, deliver a
 * record cut short by a failing stream, or kill the read for a bad row.
 */
#include "reader.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define BLOCK ((size_t)256 << 10)                  /* plain read size */
#define WIN_MAX ((size_t)DXJ_MAX_LINE + 2 + 2 * BLOCK) /* a longest line fits, with room to read */
#define SLAB ((size_t)256 << 10)                   /* text block carved from a chunk's arena */
#define CHUNK_ARENA ((size_t)1 << 20)              /* arena block size for chunks */
#define ERR_PREFIX 256                             /* text kept of an overlong line */
#define CSV_ROW_NOT_BEGUN 0                        /* libcsv's pstate between rows (libcsv.c) */
#define CSV_BLK ((size_t)64 << 10)                 /* libcsv field-buffer growth step */

typedef enum { MODE_READ = 0, MODE_SKIP, MODE_HEADER } pump_mode;

struct dxj_reader {
    char *path;       /* malloc'd copy; NULL for standard input */
    const char *name; /* path or "<stdin>" */
    int fd;
    bool own_fd;
    dxj_format fmt;
    bool zstd;

    /* Compressed input (zstd). */
    ZSTD_DStream *zs;
    char *zin;
    size_t zin_cap, zin_len, zin_pos;
    uint64_t zin_base; /* compressed offset of zin[0] */
    size_t zret;       /* last ZSTD_decompressStream result: 0 at the end of a frame */
    bool zstarted;     /* some compressed byte was given to the decoder */
    bool raw_eof;
    _Atomic uint64_t consumed; /* raw bytes read so far */
    uint64_t total;            /* input size; 0 when unknown */
    bool regular;

    /* Window of decoded bytes. */
    char *buf;
    size_t cap, start, len;
    uint64_t buf_off; /* stream offset of buf[0] */
    bool eof;         /* nothing more will come into the window */
    dx_err err;       /* sticky: the stream cannot be read further */
    char errmsg[sizeof(((dx_result *)0)->message)];
    bool discarding;  /* dropping an overlong line up to its newline */

    /* Position. */
    uint64_t line;  /* physical line of buf[start] */
    uint64_t index; /* data records seen, all shards */
    uint64_t seq;
    bool done;      /* every record of this shard has been handed out */
    bool started;   /* next or skip was called */

    /* Shard. */
    uint32_t shard_i, shard_n;
    bool by_range;
    uint64_t range_lo, range_hi;

    /* Current call. */
    pump_mode mode;
    dxj_chunk *c;
    char *slab, *slab_end;
    size_t max_records, max_bytes;
    uint64_t chunk_off; /* stream offset where the chunk's data started */
    uint64_t skip_left;
    bool nomem;

    /* CSV. */
    struct csv_parser csv;
    bool csv_init;
    unsigned char csv_opts;
    unsigned char delim, quote;
    char *null_marker;
    size_t null_len;
    char **cols;
    size_t ncols;
    bool cols_from_spec;
    dx_arena hdr;      /* header field texts */
    bool hdr_done;
    dx_str *row;       /* the current row's fields (malloc'd scratch) */
    size_t nrow, row_cap;
    uint64_t row_line, row_off, row_bytes;
    bool row_keep;
    bool row_dirty;    /* a line of the row is not valid UTF-8: check fields one by one */
    long bad_col;      /* first field of the row that is not UTF-8, or -1 */
};

/* ---------------------------------------------------------------- errors */

/* Makes err sticky: later reads return it again. */
static dx_err stick(dxj_reader *rd, dx_err e, const char *fmt, ...) DX_PRINTF(3, 4);
static dx_err stick(dxj_reader *rd, dx_err e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rd->errmsg, sizeof rd->errmsg, fmt, ap);
    va_end(ap);
    rd->err = e;
    rd->eof = true;
    return e;
}

static dx_err report(const dxj_reader *rd, dx_result *r) {
    return dx_fail(r, rd->err, NULL, "%s", rd->errmsg);
}

/* ---------------------------------------------------------------- raw input */

static dx_err read_some(dxj_reader *rd, char *p, size_t n, size_t *got) {
    ssize_t k;
    do {
        k = read(rd->fd, p, n);
    } while (k < 0 && errno == EINTR);
    if (k < 0) return stick(rd, DX_ERR_IO, "%s: read failed: %s", rd->name, strerror(errno));
    *got = (size_t)k;
    atomic_fetch_add_explicit(&rd->consumed, (uint64_t)k, memory_order_relaxed);
    return DX_OK;
}

/* Decodes zstd into the window's free space until some output comes or the input ends. */
static dx_err zfill(dxj_reader *rd) {
    ZSTD_outBuffer out = {rd->buf + rd->len, rd->cap - rd->len, 0};
    for (;;) {
        if (rd->zin_pos == rd->zin_len && !rd->raw_eof) {
            rd->zin_base += rd->zin_len;
            rd->zin_len = rd->zin_pos = 0;
            size_t got;
            dx_err e = read_some(rd, rd->zin, rd->zin_cap, &got);
            if (e) return e;
            if (got == 0) rd->raw_eof = true;
            rd->zin_len = got;
        }
        ZSTD_inBuffer in = {rd->zin, rd->zin_len, rd->zin_pos};
        size_t before = in.pos, out_before = out.pos;
        size_t ret = ZSTD_decompressStream(rd->zs, &out, &in);
        rd->zin_pos = in.pos;
        if (in.pos > before) rd->zstarted = true;
        if (ZSTD_isError(ret))
            return stick(rd, DX_ERR_PARSE,
                         "%s: corrupt zstd data near compressed byte %llu (%s); the records "
                         "before it were read",
                         rd->name,
                         (unsigned long long)(rd->zin_base + (in.pos > before ? in.pos : before)),
                         ZSTD_getErrorName(ret));
        /* Without progress the result is only a hint for the next frame: an
         * earlier 0 (frame complete) must stand. */
        if (in.pos > before || out.pos > out_before) rd->zret = ret;
        if (out.pos > 0) break;
        if (rd->raw_eof && rd->zin_pos == rd->zin_len) {
            if (rd->zret != 0 && rd->zstarted)
                return stick(rd, DX_ERR_PARSE,
                             "%s: truncated zstd frame at compressed byte %llu; the records "
                             "before it were read",
                             rd->name, (unsigned long long)(rd->zin_base + rd->zin_len));
            rd->eof = true;
            break;
        }
    }
    rd->len += out.pos;
    return DX_OK;
}

/*
 * Appends decoded bytes to the window (sliding the unread tail to the front
 * and growing the buffer when needed), or sets rd->eof. Returns the sticky
 * error once the stream has failed.
 */
static dx_err fill(dxj_reader *rd) {
    if (rd->err) return rd->err;
    if (rd->eof) return DX_OK;
    size_t need = BLOCK;
    if (rd->zstd && ZSTD_DStreamOutSize() > need) need = ZSTD_DStreamOutSize();
    if (rd->start > 0 && (rd->cap - rd->len < need || rd->start == rd->len)) {
        size_t keep = rd->len - rd->start;
        if (keep) memmove(rd->buf, rd->buf + rd->start, keep);
        rd->buf_off += rd->start;
        rd->len = keep;
        rd->start = 0;
    }
    if (rd->cap - rd->len < need && rd->cap < WIN_MAX) {
        size_t ncap = rd->cap * 2;
        if (ncap < rd->len + need) ncap = rd->len + need;
        if (ncap > WIN_MAX) ncap = WIN_MAX;
        char *nb = realloc(rd->buf, ncap);
        if (!nb) return stick(rd, DX_ERR_NOMEM, "%s: out of memory growing the read window", rd->name);
        rd->buf = nb;
        rd->cap = ncap;
    }
    if (rd->len == rd->cap)
        return stick(rd, DX_ERR_INVALID_ARG, "%s: internal error: read window full", rd->name);
    if (rd->zstd) return zfill(rd);
    size_t got;
    dx_err e = read_some(rd, rd->buf + rd->len, rd->cap - rd->len, &got);
    if (e) return e;
    if (got == 0) rd->eof = true;
    rd->len += got;
    return DX_OK;
}

/* Fills until the window holds at least n unread bytes or the input ends. */
static dx_err fill_to(dxj_reader *rd, size_t n) {
    while (rd->len - rd->start < n && !rd->eof) {
        dx_err e = fill(rd);
        if (e) return e;
    }
    return DX_OK;
}

static inline uint64_t pos_of(const dxj_reader *rd) { return rd->buf_off + rd->start; }

/* ---------------------------------------------------------------- records */

/* Copies n bytes (plus a NUL) into the chunk's slab. NULL when out of memory. */
static char *slab_copy(dxj_reader *rd, const char *p, size_t n) {
    if ((size_t)(rd->slab_end - rd->slab) < n + 1) {
        if (n + 1 > SLAB / 4) {
            char *s = dx_arena_alloc(&rd->c->arena, n + 1);
            if (!s) return NULL;
            if (n) memcpy(s, p, n);
            s[n] = 0;
            return s;
        }
        char *s = dx_arena_alloc(&rd->c->arena, SLAB);
        if (!s) return NULL;
        rd->slab = s;
        rd->slab_end = s + SLAB;
    }
    char *d = rd->slab;
    if (n) memcpy(d, p, n);
    d[n] = 0;
    rd->slab += n + 1;
    return d;
}

/* A new zeroed record at the end of the chunk. NULL when out of memory. */
static dxj_record *push_record(dxj_reader *rd) {
    dxj_chunk *c = rd->c;
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 256;
        if (rd->max_records && ncap > rd->max_records && rd->max_records > c->n)
            ncap = rd->max_records;
        dxj_record *nr = dx_arena_alloc(&c->arena, ncap * sizeof *nr);
        if (!nr) return NULL;
        if (c->n) memcpy(nr, c->recs, c->n * sizeof *nr);
        c->recs = nr;
        c->cap = ncap;
    }
    dxj_record *rec = &c->recs[c->n++];
    memset(rec, 0, sizeof *rec);
    return rec;
}

/* Whether the record with this ordinal, starting at this offset, is this shard's. */
static bool keep(const dxj_reader *rd, uint64_t index, uint64_t off) {
    if (rd->shard_n <= 1) return true;
    if (rd->by_range) return off >= rd->range_lo && off < rd->range_hi;
    return index % rd->shard_n == rd->shard_i;
}

/* Whether next() should stop before the next record. */
static bool chunk_full(const dxj_reader *rd) {
    if (rd->max_records && rd->c->n >= rd->max_records) return true;
    return rd->max_bytes && pos_of(rd) - rd->chunk_off >= rd->max_bytes;
}

static bool want_stop(const dxj_reader *rd) {
    switch (rd->mode) {
    case MODE_READ:
        return chunk_full(rd);
    case MODE_SKIP:
        return rd->skip_left == 0;
    case MODE_HEADER:
        return rd->hdr_done;
    }
    return true;
}

/* Length of the longest prefix of p (at most max bytes) that does not cut a UTF-8 sequence. */
static size_t utf8_cut(const char *p, size_t n, size_t max) {
    if (n <= max) return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)p[k] & 0xc0) == 0x80) k--;
    return k;
}

/* Offset of the first byte of the first invalid UTF-8 sequence in s (n when valid). */
static size_t utf8_bad_at(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (k == 0 || i + k > n || !dx_utf8_valid(str + i, k)) return i;
        i += k;
    }
    return n;
}

/* ---------------------------------------------------------------- JSON lines */

typedef struct jline {
    const char *p;
    size_t len;        /* without "\r\n" */
    size_t adv;        /* bytes to consume */
    uint64_t off, line;
    bool newline;      /* adv includes a '\n' */
    bool toolong;
    bool discard_after; /* the line goes on past the window: drop the rest */
} jline;

static inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static bool blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return false;
    return true;
}

static dx_err skip_discarded(dxj_reader *rd) {
    while (rd->discarding) {
        char *p = rd->buf + rd->start;
        char *nl = memchr(p, '\n', rd->len - rd->start);
        if (nl) {
            rd->start = (size_t)(nl + 1 - rd->buf);
            rd->line++;
            rd->discarding = false;
            break;
        }
        rd->start = rd->len;
        if (rd->eof) {
            rd->discarding = false;
            break;
        }
        dx_err e = fill(rd);
        if (e) return e;
    }
    return DX_OK;
}

/*
 * The next non-blank line, not consumed (*have false at the end). Blank
 * lines before it are consumed and counted. An error is the stream's.
 */
static dx_err jl_peek(dxj_reader *rd, jline *l, bool *have) {
    for (;;) {
        if (rd->discarding) {
            dx_err e = skip_discarded(rd);
            if (e) return e;
            continue;
        }
        size_t avail = rd->len - rd->start;
        char *p = rd->buf + rd->start;
        char *nl = avail ? memchr(p, '\n', avail) : NULL;
        memset(l, 0, sizeof *l);
        if (!nl) {
            if (avail > (size_t)DXJ_MAX_LINE + 1) {
                l->p = p;
                l->len = avail;
                l->adv = avail;
                l->toolong = true;
                l->discard_after = true;
            } else if (!rd->eof) {
                dx_err e = fill(rd);
                if (e) return e;
                continue;
            } else if (avail == 0) {
                *have = false;
                return DX_OK;
            } else {
                l->p = p;
                l->len = l->adv = avail;
            }
        } else {
            l->p = p;
            l->len = (size_t)(nl - p);
            l->adv = l->len + 1;
            l->newline = true;
        }
        if (!l->toolong && l->len && p[l->len - 1] == '\r') l->len--;
        if (l->len > DXJ_MAX_LINE) l->toolong = true;
        l->off = pos_of(rd);
        l->line = rd->line;
        if (!l->toolong && (l->len == 0 || (p[0] != '{' && blank(p, l->len)))) {
            rd->start += l->adv;
            if (l->newline) rd->line++;
            continue;
        }
        *have = true;
        return DX_OK;
    }
}

static void jl_consume(dxj_reader *rd, const jline *l) {
    rd->start += l->adv;
    if (l->newline) rd->line++;
    if (l->discard_after) rd->discarding = true;
}

/* Reads (MODE_READ) or skips (MODE_SKIP) JSON lines until want_stop or the end. */
static dx_err jl_pump(dxj_reader *rd) {
    while (!rd->done && !want_stop(rd)) {
        jline l;
        bool have;
        dx_err e = jl_peek(rd, &l, &have);
        if (e) return e;
        if (!have) {
            rd->done = true;
            break;
        }
        if (rd->by_range && rd->shard_n > 1 && l.off >= rd->range_hi) {
            rd->done = true;
            break;
        }
        uint64_t index = ++rd->index;
        if (!keep(rd, index, l.off)) {
            jl_consume(rd, &l);
            continue;
        }
        if (rd->mode == MODE_SKIP) {
            rd->skip_left--;
            jl_consume(rd, &l);
            continue;
        }
        dxj_record *rec = push_record(rd);
        if (!rec) return stick(rd, DX_ERR_NOMEM, "%s: out of memory filling a chunk", rd->name);
        rec->index = index;
        rec->line = l.line;
        rec->offset = l.off;
        size_t keepn = l.toolong ? utf8_cut(l.p, l.len, ERR_PREFIX) : l.len;
        char *t = slab_copy(rd, l.p, keepn);
        if (!t) return stick(rd, DX_ERR_NOMEM, "%s: out of memory filling a chunk", rd->name);
        rec->text.ptr = t;
        rec->text.len = keepn;
        if (l.toolong) {
            rec->error = "line longer than 4 MiB (DXJ_MAX_LINE); a DynamoDB item is at most "
                         "400 KB: is this really JSON lines?";
        } else if (!dx_utf8_valid(l.p, l.len)) {
            size_t at = utf8_bad_at(l.p, l.len);
            rec->error = dx_arena_printf(&rd->c->arena,
                                         "line is not valid UTF-8 (bad byte 0x%02x at column %zu); "
                                         "convert the file to UTF-8 (e.g. with iconv)",
                                         at < l.len ? (unsigned char)l.p[at] : 0, at + 1);
            if (!rec->error) rec->error = "line is not valid UTF-8";
        }
        jl_consume(rd, &l);
    }
    return DX_OK;
}

/* ---------------------------------------------------------------- CSV */

static void csv_setup(dxj_reader *rd) {
    if (rd->csv_init) csv_free(&rd->csv);
    csv_init(&rd->csv, rd->csv_opts);
    csv_set_delim(&rd->csv, rd->delim);
    csv_set_quote(&rd->csv, rd->quote);
    csv_set_blk_size(&rd->csv, CSV_BLK);
    rd->csv_init = true;
}

static void row_reset(dxj_reader *rd) {
    rd->nrow = 0;
    rd->bad_col = -1;
}

/* The column's display name for messages. */
static const char *col_name(const dxj_reader *rd, size_t i, char *tmp, size_t n) {
    if (i < rd->ncols) return rd->cols[i];
    snprintf(tmp, n, "#%zu (beyond the last column)", i + 1);
    return tmp;
}

static void csv_field_cb(void *s, size_t n, void *ud) {
    dxj_reader *rd = ud;
    dx_str f = {NULL, 0};
    if (rd->mode == MODE_HEADER) {
        if (s && rd->bad_col < 0 && !dx_utf8_valid(s, n)) rd->bad_col = (long)rd->nrow;
        char *t = dx_arena_strndup(&rd->hdr, s ? s : "", s ? n : 0);
        if (!t) rd->nomem = true;
        f.ptr = t ? t : "";
        f.len = t && s ? n : 0;
    } else if (rd->mode == MODE_READ && rd->row_keep && s &&
               !(rd->null_len && n == rd->null_len && memcmp(s, rd->null_marker, n) == 0)) {
        if (rd->row_dirty && rd->bad_col < 0 && !dx_utf8_valid(s, n)) rd->bad_col = (long)rd->nrow;
        char *t = slab_copy(rd, s, n);
        if (!t) rd->nomem = true;
        f.ptr = t ? t : "";
        f.len = t ? n : 0;
    }
    if (rd->nrow == rd->row_cap) {
        size_t ncap = rd->row_cap ? rd->row_cap * 2 : 64;
        dx_str *nr = realloc(rd->row, ncap * sizeof *nr);
        if (!nr) {
            rd->nomem = true;
            return;
        }
        rd->row = nr;
        rd->row_cap = ncap;
    }
    rd->row[rd->nrow++] = f;
}

/* Turns the collected row into a record (err: a structural error, or NULL to derive one). */
static void csv_emit(dxj_reader *rd, const char *err) {
    uint64_t index = ++rd->index;
    bool kept = rd->row_keep;
    /* The next row's shard is known now: a row starting in the middle of a slice needs it. */
    rd->row_keep = keep(rd, rd->index + 1, 0);
    if (!kept) {
        row_reset(rd);
        return;
    }
    if (rd->mode == MODE_SKIP) {
        rd->skip_left--;
        row_reset(rd);
        return;
    }
    dxj_record *rec = push_record(rd);
    dx_str *fields = rd->nrow ? dx_arena_alloc(&rd->c->arena, rd->nrow * sizeof *fields) : NULL;
    if (!rec || (rd->nrow && !fields)) {
        rd->nomem = true;
        row_reset(rd);
        return;
    }
    if (rd->nrow) memcpy(fields, rd->row, rd->nrow * sizeof *fields);
    rec->index = index;
    rec->line = rd->row_line;
    rec->offset = rd->row_off;
    rec->fields = fields;
    rec->nfields = (uint32_t)rd->nrow;
    char tmp[48];
    if (err) {
        rec->error = err;
    } else if (rd->bad_col >= 0) {
        rec->error = dx_arena_printf(&rd->c->arena,
                                     "column '%s' is not valid UTF-8; convert the file to UTF-8 "
                                     "(e.g. with iconv)",
                                     col_name(rd, (size_t)rd->bad_col, tmp, sizeof tmp));
        if (!rec->error) rec->error = "a field is not valid UTF-8";
    } else if (rd->nrow != rd->ncols) {
        rec->error = dx_arena_printf(&rd->c->arena, "row has %zu field%s, the %s has %zu", rd->nrow,
                                     rd->nrow == 1 ? "" : "s",
                                     rd->cols_from_spec ? "spec's csv.columns list" : "header",
                                     rd->ncols);
        if (!rec->error) rec->error = "row has the wrong number of fields";
    }
    row_reset(rd);
}

/* Header row -> column names. Problems are reported by the caller (rd->errmsg). */
static void csv_header_row(dxj_reader *rd) {
    rd->hdr_done = true;
    rd->cols = calloc(rd->nrow ? rd->nrow : 1, sizeof *rd->cols);
    if (!rd->cols) {
        rd->nomem = true;
        return;
    }
    for (size_t i = 0; i < rd->nrow; i++)
        rd->cols[i] = (char *)(rd->row[i].ptr ? rd->row[i].ptr : "");
    rd->ncols = rd->nrow;
}

static void csv_row_cb(int ch, void *ud) {
    (void)ch;
    dxj_reader *rd = ud;
    if (rd->mode == MODE_HEADER) {
        csv_header_row(rd);
        return;
    }
    csv_emit(rd, NULL);
}

/* A row that libcsv could not finish: record it with what it has, reset the parser. */
static void csv_broken(dxj_reader *rd, const char *why) {
    if (rd->mode == MODE_HEADER) {
        if (!rd->err)
            stick(rd, DX_ERR_PARSE, "%s: line %llu: the header row is not valid CSV: %s", rd->name,
                  (unsigned long long)rd->row_line, why);
        rd->hdr_done = true;
    } else {
        const char *msg = why;
        if (rd->mode == MODE_READ && rd->row_keep && rd->c) {
            msg = dx_arena_printf(&rd->c->arena, "%s", why);
            if (!msg) msg = "malformed CSV row";
        }
        csv_emit(rd, msg);
    }
    csv_setup(rd);
}

/* Reads (MODE_READ), skips (MODE_SKIP) or reads the header (MODE_HEADER) of CSV input. */
static dx_err csv_pump(dxj_reader *rd) {
    char why[512], tmp[48];
    while (!rd->done) {
        if (rd->csv.pstate == CSV_ROW_NOT_BEGUN && want_stop(rd)) break;
        if (rd->nomem) return stick(rd, DX_ERR_NOMEM, "%s: out of memory reading CSV", rd->name);
        if (rd->discarding) {
            dx_err e = skip_discarded(rd);
            if (e) return e;
            continue;
        }
        size_t avail = rd->len - rd->start;
        if (avail == 0) {
            if (!rd->eof) {
                dx_err e = fill(rd);
                if (e) return e;
                continue;
            }
            /* End of input: finish the last row (one without a final newline). */
            if (rd->csv.pstate != CSV_ROW_NOT_BEGUN &&
                csv_fini(&rd->csv, csv_field_cb, csv_row_cb, rd) != 0) {
                /* A quoted field still open: keep what it has, for the rejects file. */
                csv_field_cb(rd->csv.entry_buf, rd->csv.entry_pos, rd);
                snprintf(why, sizeof why,
                         "the input ends inside a quoted field (column '%.100s'): a quote opened in "
                         "the row starting on line %llu is never closed",
                         col_name(rd, rd->nrow ? rd->nrow - 1 : 0, tmp, sizeof tmp),
                         (unsigned long long)rd->row_line);
                csv_broken(rd, why);
            }
            if (rd->nomem) return stick(rd, DX_ERR_NOMEM, "%s: out of memory reading CSV", rd->name);
            if (rd->mode != MODE_HEADER) rd->done = true;
            break;
        }
        char *p = rd->buf + rd->start;
        char *nl = memchr(p, '\n', avail);
        size_t slice = nl ? (size_t)(nl - p) + 1 : avail;
        if (rd->csv.pstate == CSV_ROW_NOT_BEGUN) {
            rd->row_line = rd->line;
            rd->row_off = pos_of(rd);
            rd->row_bytes = 0;
            rd->row_keep = keep(rd, rd->index + 1, rd->row_off);
            rd->row_dirty = false;
            row_reset(rd);
        }
        if (rd->mode != MODE_SKIP && !rd->row_dirty && !dx_utf8_valid(p, slice)) rd->row_dirty = true;
        size_t used = csv_parse(&rd->csv, p, slice, csv_field_cb, csv_row_cb, rd);
        if (used < slice) {
            if (csv_error(&rd->csv) != CSV_EPARSE)
                return stick(rd, DX_ERR_NOMEM, "%s: out of memory reading CSV (%s)", rd->name,
                             csv_strerror(csv_error(&rd->csv)));
            snprintf(why, sizeof why,
                     "bad quoting in column '%.100s' on line %llu: a quote inside an unquoted "
                     "field, or text after a closing quote; quote the whole field and double "
                     "the quotes inside it (\"a \"\"b\"\" c\")",
                     col_name(rd, rd->nrow, tmp, sizeof tmp), (unsigned long long)rd->line);
            csv_broken(rd, why);
            /* Resume at the next line. */
            rd->start += slice;
            if (nl) rd->line++;
            else rd->discarding = true;
            continue;
        }
        rd->start += slice;
        if (nl) rd->line++;
        rd->row_bytes += slice;
        if (rd->csv.pstate != CSV_ROW_NOT_BEGUN && rd->row_bytes > DXJ_MAX_LINE) {
            snprintf(why, sizeof why,
                     "row longer than 4 MiB (DXJ_MAX_LINE) starting on line %llu: is a quote "
                     "left open?",
                     (unsigned long long)rd->row_line);
            csv_broken(rd, why);
            if (!nl) rd->discarding = true;
        }
    }
    if (rd->nomem) return stick(rd, DX_ERR_NOMEM, "%s: out of memory reading CSV", rd->name);
    return DX_OK;
}

static dx_err csv_read_header(dxj_reader *rd, dx_result *r) {
    rd->mode = MODE_HEADER;
    dx_err e = csv_pump(rd);
    rd->mode = MODE_READ;
    if (e || rd->err) return report(rd, r);
    if (!rd->hdr_done)
        return dx_fail(r, DX_ERR_PARSE, NULL,
                       "%s: the input is empty: a CSV input starts with a header row naming the "
                       "columns (or set csv.no_header and csv.columns in the job spec)",
                       rd->name);
    if (rd->nomem) return dx_fail(r, DX_ERR_NOMEM, NULL, "%s: out of memory reading the header", rd->name);
    for (size_t i = 0; i < rd->ncols; i++) {
        if (!dx_utf8_valid(rd->cols[i], strlen(rd->cols[i])) || rd->bad_col == (long)i)
            return dx_fail(r, DX_ERR_PARSE, NULL,
                           "%s: line %llu: header column %zu is not valid UTF-8; convert the "
                           "file to UTF-8",
                           rd->name, (unsigned long long)rd->row_line, i + 1);
        if (!rd->cols[i][0]) continue;
        for (size_t k = 0; k < i; k++)
            if (strcmp(rd->cols[k], rd->cols[i]) == 0)
                return dx_fail(r, DX_ERR_PARSE, rd->cols[i],
                               "%s: line %llu: header names column '%s' twice (columns %zu and "
                               "%zu); rename one",
                               rd->name, (unsigned long long)rd->row_line, rd->cols[i], k + 1,
                               i + 1);
    }
    row_reset(rd);
    return DX_OK;
}

/* ---------------------------------------------------------------- open */

static bool ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

/* Format from the file name; DXJ_FMT_AUTO when it says nothing. *tsv for ".tsv". */
static dxj_format format_from_name(const char *path, bool *tsv) {
    *tsv = false;
    if (!path) return DXJ_FMT_AUTO;
    size_t n = strlen(path);
    if (ends_with(path, n, ".zst")) n -= 4;
    if (ends_with(path, n, ".csv")) return DXJ_FMT_CSV;
    if (ends_with(path, n, ".tsv")) {
        *tsv = true;
        return DXJ_FMT_CSV;
    }
    if (ends_with(path, n, ".jsonl") || ends_with(path, n, ".ndjson") || ends_with(path, n, ".json"))
        return DXJ_FMT_JSONL;
    return DXJ_FMT_AUTO;
}

static bool zstd_magic(const unsigned char *b, size_t n) {
    if (n < 4) return false;
    if (b[0] == 0x28 && b[1] == 0xB5 && b[2] == 0x2F && b[3] == 0xFD) return true;
    return (b[0] & 0xF0) == 0x50 && b[1] == 0x2A && b[2] == 0x4D && b[3] == 0x18; /* skippable */
}

static dx_err setup_zstd(dxj_reader *rd, dx_result *r) {
    rd->zs = ZSTD_createDStream();
    if (!rd->zs) return dx_fail(r, DX_ERR_NOMEM, NULL, "%s: out of memory starting zstd", rd->name);
    size_t ir = ZSTD_initDStream(rd->zs);
    if (ZSTD_isError(ir))
        return dx_fail(r, DX_ERR_NOMEM, NULL, "%s: cannot start zstd: %s", rd->name, ZSTD_getErrorName(ir));
    size_t have = rd->len - rd->start;
    rd->zin_cap = ZSTD_DStreamInSize();
    if (rd->zin_cap < have) rd->zin_cap = have;
    rd->zin = malloc(rd->zin_cap);
    if (!rd->zin) return dx_fail(r, DX_ERR_NOMEM, NULL, "%s: out of memory starting zstd", rd->name);
    /* The sniffed bytes are compressed: move them to zin. */
    memcpy(rd->zin, rd->buf + rd->start, have);
    rd->zin_len = have;
    rd->zin_pos = 0;
    rd->zin_base = 0;
    rd->start = rd->len = 0;
    rd->buf_off = 0;
    rd->eof = false;
    rd->raw_eof = false;
    rd->zstd = true;
    return DX_OK;
}

dx_err dxj_reader_open(const dxj_input *in, const char *path, dxj_reader **out, dx_result *r) {
    if (!out || !in) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dxj_reader_open: NULL argument");
    *out = NULL;
    if (!path) path = in->path;
    if (!path || !*path)
        return dx_fail(r, DX_ERR_CONFIG, "input.path", "input.path is missing: name a file, or - for standard input");
    dxj_reader *rd = calloc(1, sizeof *rd);
    if (!rd) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory opening the input");
    dx_err e = DX_OK;
    rd->fd = -1;
    rd->line = 1;
    rd->bad_col = -1;
    bool stdin_in = strcmp(path, "-") == 0;
    if (stdin_in) {
        rd->name = "<stdin>";
        rd->fd = STDIN_FILENO;
    } else {
        rd->path = strdup(path);
        if (!rd->path) {
            e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory opening the input");
            goto fail;
        }
        rd->name = rd->path;
        rd->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (rd->fd < 0) {
            e = dx_fail(r, DX_ERR_IO, "input.path", "%s: cannot open: %s", path, strerror(errno));
            goto fail;
        }
        rd->own_fd = true;
    }
    struct stat st;
    if (fstat(rd->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        rd->regular = true;
        rd->total = (uint64_t)st.st_size;
    } else if (!stdin_in && fstat(rd->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        e = dx_fail(r, DX_ERR_IO, "input.path", "%s: is a directory, not an input file", path);
        goto fail;
    }
    rd->cap = 2 * BLOCK;
    rd->buf = malloc(rd->cap);
    if (!rd->buf) {
        e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory opening the input");
        goto fail;
    }

    /* Compression: the spec's, else the magic bytes. */
    if (in->compression == DXJ_COMP_ZSTD) {
        if ((e = setup_zstd(rd, r)) != DX_OK) goto fail;
    } else if (in->compression == DXJ_COMP_AUTO) {
        if (fill_to(rd, 4)) {
            e = report(rd, r);
            goto fail;
        }
        if (zstd_magic((const unsigned char *)rd->buf, rd->len)) {
            bool was_eof = rd->eof;
            if ((e = setup_zstd(rd, r)) != DX_OK) goto fail;
            rd->raw_eof = was_eof;
        }
    }

    /* A UTF-8 byte order mark is not data. */
    if (fill_to(rd, 3)) {
        e = report(rd, r);
        goto fail;
    }
    if (rd->len - rd->start >= 3 && memcmp(rd->buf + rd->start, "\xEF\xBB\xBF", 3) == 0) rd->start += 3;

    /* Format: the spec's, else the name's, else the first non-blank byte. */
    bool tsv = false;
    rd->fmt = in->format;
    dxj_format by_name = format_from_name(stdin_in ? NULL : path, &tsv);
    if (rd->fmt == DXJ_FMT_AUTO) rd->fmt = by_name;
    if (rd->fmt == DXJ_FMT_AUTO || rd->fmt == DXJ_FMT_JSONL) {
        char first = 0;
        size_t k = 0; /* relative to start: fill may slide the window */
        for (;;) {
            while (rd->start + k < rd->len && is_space(rd->buf[rd->start + k])) k++;
            if (rd->start + k < rd->len) {
                first = rd->buf[rd->start + k];
                break;
            }
            if (rd->eof || k > BLOCK) break;
            if (fill(rd)) {
                e = report(rd, r);
                goto fail;
            }
        }
        if (rd->fmt == DXJ_FMT_AUTO) rd->fmt = first == '{' || first == 0 ? DXJ_FMT_JSONL : DXJ_FMT_CSV;
        if (rd->fmt == DXJ_FMT_JSONL && first == '[') {
            e = dx_fail(r, DX_ERR_PARSE, NULL,
                        "%s: starts with '[': a JSON array is not JSON lines (one object per "
                        "line); convert it with: jq -c '.[]' FILE > FILE.jsonl",
                        rd->name);
            goto fail;
        }
    }

    if (rd->fmt == DXJ_FMT_CSV) {
        const dxj_csv_opts *o = &in->csv;
        rd->delim = (unsigned char)(o->delimiter ? o->delimiter : ',');
        if (tsv && (o->delimiter == 0 || o->delimiter == ',')) rd->delim = '\t';
        rd->quote = (unsigned char)(o->quote ? o->quote : '"');
        if (rd->delim == rd->quote || rd->delim == '\n' || rd->delim == '\r' || rd->quote == '\n' ||
            rd->quote == '\r') {
            e = dx_fail(r, DX_ERR_CONFIG, "input.csv",
                        "input.csv: delimiter and quote must be two different characters, neither "
                        "a newline");
            goto fail;
        }
        rd->csv_opts = CSV_STRICT | CSV_STRICT_FINI;
        if (o->null_marker) {
            rd->null_marker = strdup(o->null_marker);
            if (!rd->null_marker) {
                e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory opening the input");
                goto fail;
            }
            rd->null_len = strlen(o->null_marker);
            if (rd->null_len == 0) rd->csv_opts |= CSV_EMPTY_IS_NULL;
        }
        csv_setup(rd);
        if (o->no_header) {
            if (!o->columns || o->ncolumns == 0) {
                e = dx_fail(r, DX_ERR_CONFIG, "input.csv.columns",
                            "input.csv.no_header is set but input.csv.columns is empty: name the "
                            "columns in the spec");
                goto fail;
            }
            rd->cols = calloc(o->ncolumns, sizeof *rd->cols);
            if (!rd->cols) {
                e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory opening the input");
                goto fail;
            }
            for (size_t i = 0; i < o->ncolumns; i++) {
                rd->cols[i] = dx_arena_strdup(&rd->hdr, o->columns[i] ? o->columns[i] : "");
                if (!rd->cols[i]) {
                    e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory opening the input");
                    goto fail;
                }
            }
            rd->ncols = o->ncolumns;
            rd->cols_from_spec = true;
            rd->hdr_done = true;
        } else if ((e = csv_read_header(rd, r)) != DX_OK) {
            goto fail;
        }
    }
    *out = rd;
    return DX_OK;
fail:
    dxj_reader_free(rd);
    return e;
}

void dxj_reader_free(dxj_reader *rd) {
    if (!rd) return;
    if (rd->own_fd && rd->fd >= 0) close(rd->fd);
    if (rd->zs) ZSTD_freeDStream(rd->zs);
    if (rd->csv_init) csv_free(&rd->csv);
    free(rd->zin);
    free(rd->buf);
    free(rd->path);
    free(rd->null_marker);
    free(rd->cols);
    free(rd->row);
    dx_arena_release(&rd->hdr);
    free(rd);
}

dxj_format dxj_reader_format(const dxj_reader *rd) { return rd->fmt; }

const char *const *dxj_reader_columns(const dxj_reader *rd, size_t *n) {
    if (rd->fmt != DXJ_FMT_CSV) {
        if (n) *n = 0;
        return NULL;
    }
    if (n) *n = rd->ncols;
    return (const char *const *)rd->cols;
}

const char *dxj_reader_name(const dxj_reader *rd) { return rd->name; }

/* ---------------------------------------------------------------- reading */

void dxj_chunk_clear(dxj_chunk *c) {
    if (!c) return;
    dx_arena_release(&c->arena);
    c->recs = NULL;
    c->n = c->cap = 0;
    c->end_offset = c->in_bytes = 0;
}

static uint64_t raw_pos(const dxj_reader *rd) {
    if (rd->zstd) return rd->zin_base + rd->zin_pos;
    return pos_of(rd);
}

static dx_err pump(dxj_reader *rd) {
    return rd->fmt == DXJ_FMT_CSV ? csv_pump(rd) : jl_pump(rd);
}

dx_err dxj_reader_next(dxj_reader *rd, dxj_chunk *c, size_t max_records, size_t max_bytes,
                       bool *eof, dx_result *r) {
    if (!rd || !c || !eof) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dxj_reader_next: NULL argument");
    rd->started = true;
    dx_arena_reset(&c->arena);
    if (!c->arena.chunk_size) c->arena.chunk_size = CHUNK_ARENA;
    c->recs = NULL;
    c->n = c->cap = 0;
    c->seq = rd->seq++;
    rd->c = c;
    rd->slab = rd->slab_end = NULL;
    rd->max_records = max_records;
    rd->max_bytes = max_bytes;
    rd->chunk_off = pos_of(rd);
    rd->mode = MODE_READ;
    dx_err e = rd->err ? rd->err : pump(rd);
    c->end_offset = pos_of(rd);
    c->in_bytes = raw_pos(rd);
    rd->c = NULL;
    *eof = rd->done || e != DX_OK;
    if (e) return report(rd, r);
    return DX_OK;
}

dx_err dxj_reader_skip(dxj_reader *rd, uint64_t n, bool *eof, dx_result *r) {
    if (!rd || !eof) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dxj_reader_skip: NULL argument");
    rd->started = true;
    *eof = false;
    if (n == 0) {
        *eof = rd->done;
        return DX_OK;
    }
    rd->mode = MODE_SKIP;
    rd->skip_left = n;
    dx_err e = rd->err ? rd->err : pump(rd);
    rd->mode = MODE_READ;
    *eof = rd->done || e != DX_OK;
    if (e) return report(rd, r);
    if (rd->skip_left)
        return DX_OK; /* fewer records than n: *eof says so */
    return DX_OK;
}

dx_err dxj_reader_set_shard(dxj_reader *rd, uint32_t i, uint32_t n, dx_result *r) {
    if (!rd) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dxj_reader_set_shard: NULL reader");
    if (n == 0 || i >= n)
        return dx_fail(r, DX_ERR_CONFIG, "shard", "shard %u/%u: the index must be below the count (0 <= i < n)", i, n);
    if (rd->started)
        return dx_fail(r, DX_ERR_INVALID_ARG, "shard", "dxj_reader_set_shard: call it before the first read");
    rd->shard_i = i;
    rd->shard_n = n;
    rd->by_range = n > 1 && rd->fmt == DXJ_FMT_JSONL && !rd->zstd && rd->regular && rd->total > 0;
    if (rd->by_range) {
        uint64_t t = rd->total;
        rd->range_lo = t / n * i + (t % n) * i / n;
        rd->range_hi = i + 1 == n ? UINT64_MAX : t / n * (i + 1) + (t % n) * (i + 1) / n;
    }
    rd->row_keep = keep(rd, rd->index + 1, 0);
    return DX_OK;
}

void dxj_reader_progress(const dxj_reader *rd, uint64_t *consumed, uint64_t *total) {
    if (consumed) *consumed = rd ? atomic_load_explicit(&rd->consumed, memory_order_relaxed) : 0;
    if (total) *total = rd ? rd->total : 0;
}
