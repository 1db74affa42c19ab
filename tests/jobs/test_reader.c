/*
 * test_reader.c - jobs/reader.c: CSV and JSON lines, plain and zstd, files
 * and standard input; record positions, broken rows, chunk limits, skip
 * (resume) and shards.
 *
 * Most cases are tables: an input text and the expected "dump" of what the
 * reader delivers, one line per record:
 *     <index>@<line>:<offset> <fields joined by '|', null as \N> [!<error prefix>]
 * so a failing row prints both dumps in full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "reader.h"
#include "testutil.h"

/* ---------------------------------------------------------------- helpers */

static char tmpdir[256];

static int setup_dir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dynox-test-reader-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    if (getenv("KEEP_TMP")) return 0;
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes bytes to tmpdir/name; returns the path (static buffer rotated among 4). */
static const char *write_file(const char *name, const void *p, size_t n) {
    static char paths[4][512];
    static int k;
    char *path = paths[k++ % 4];
    snprintf(path, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* zstd-compresses text in frames cut at the given offsets (ascending, within n). */
static void zstd_frames(dx_buf *out, const char *p, size_t n, const size_t *cuts, size_t ncuts,
                        bool checksum) {
    size_t from = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        assert_non_null(cc);
        ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, checksum ? 1 : 0);
        size_t bound = ZSTD_compressBound(to - from);
        assert_true(dx_buf_reserve(out, bound));
        size_t z = ZSTD_compress2(cc, out->ptr + out->len, bound, p + from, to - from);
        assert_false(ZSTD_isError(z));
        out->len += z;
        ZSTD_freeCCtx(cc);
        from = to;
    }
}

static void put_escaped(dx_buf *b, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') dx_buf_puts(b, "\\n");
        else if (c == '\r') dx_buf_puts(b, "\\r");
        else if (c == '\t') dx_buf_puts(b, "\\t");
        else if (c == '|' || c == '\\') dx_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f) dx_buf_printf(b, "\\x%02x", c);
        else dx_buf_putc(b, (char)c);
    }
}

/* Appends one dump line per record; errors cut to `errlen` bytes. */
static void dump_chunk(dx_buf *b, const dxj_chunk *c, size_t errlen) {
    for (size_t i = 0; i < c->n; i++) {
        const dxj_record *rec = &c->recs[i];
        dx_buf_printf(b, "%llu@%llu:%llu ", (unsigned long long)rec->index,
                      (unsigned long long)rec->line, (unsigned long long)rec->offset);
        if (rec->fields || rec->nfields) {
            for (uint32_t k = 0; k < rec->nfields; k++) {
                if (k) dx_buf_putc(b, '|');
                if (!rec->fields[k].ptr) dx_buf_puts(b, "\\N");
                else put_escaped(b, rec->fields[k].ptr, rec->fields[k].len);
            }
        } else {
            put_escaped(b, rec->text.ptr, rec->text.len > 60 ? 60 : rec->text.len);
        }
        if (rec->error) {
            size_t n = strlen(rec->error);
            dx_buf_printf(b, " !%.*s", (int)(n < errlen ? n : errlen), rec->error);
        }
        dx_buf_putc(b, '\n');
    }
}

typedef struct readall {
    dx_buf dump;
    dx_err open_err, err;
    dx_result r;
    size_t chunks, records;
    uint64_t last_end;
    char columns[256];
} readall;

/* Opens path and reads it to the end in chunks, dumping every record. */
static void read_all(const char *path, const dxj_input *in, size_t maxr, size_t maxb,
                     size_t errlen, readall *ra) {
    memset(ra, 0, sizeof *ra);
    dx_result_clear(&ra->r);
    dxj_reader *rd = NULL;
    ra->open_err = dxj_reader_open(in, path, &rd, &ra->r);
    if (ra->open_err) {
        assert_null(rd);
        return;
    }
    size_t nc;
    const char *const *cols = dxj_reader_columns(rd, &nc);
    for (size_t i = 0; i < nc; i++) {
        size_t l = strlen(ra->columns);
        snprintf(ra->columns + l, sizeof ra->columns - l, "%s%s", i ? "," : "", cols[i]);
    }
    dxj_chunk c = {0};
    bool eof = false;
    uint64_t seq = 0;
    while (!eof) {
        dx_err e = dxj_reader_next(rd, &c, maxr, maxb, &eof, &ra->r);
        assert_int_equal(c.seq, seq++);
        dump_chunk(&ra->dump, &c, errlen);
        ra->records += c.n;
        if (c.n) ra->chunks++;
        assert_true(c.end_offset >= ra->last_end);
        ra->last_end = c.end_offset;
        if (e) {
            ra->err = e;
            assert_true(eof);
            break;
        }
    }
    dxj_chunk_clear(&c);
    dxj_reader_free(rd);
}

static dxj_input input_of(dxj_format fmt) {
    dxj_input in;
    memset(&in, 0, sizeof in);
    in.format = fmt;
    return in;
}

/* ---------------------------------------------------------------- CSV table */

typedef struct csv_case {
    const char *name;      /* file name (extension matters) */
    const char *text;
    char delim;
    const char *null_marker;
    const char *columns;   /* expected header */
    const char *dump;      /* expected records */
} csv_case;

static const csv_case csv_cases[] = {
    {"basic.csv", "id,name\n1,Alice\n2,Bob\n", 0, NULL, "id,name", "1@2:8 1|Alice\n2@3:16 2|Bob\n"},
    {"crlf.csv", "id,name\r\n1,Alice\r\n2,Bob\r\n", 0, NULL, "id,name",
     "1@2:9 1|Alice\n2@3:18 2|Bob\n"},
    {"nolf.csv", "id,name\n1,Alice\n2,Bob", 0, NULL, "id,name", "1@2:8 1|Alice\n2@3:16 2|Bob\n"},
    {"quoted.csv", "id,note\n1,\"a,b \"\"c\"\"\"\n2,\"\"\n", 0, NULL, "id,note",
     "1@2:8 1|a,b \"c\"\n2@3:22 2|\n"},
    {"multiline.csv", "id,note\n1,\"line one\nline two\r\nthree\"\n2,x\n", 0, NULL, "id,note",
     "1@2:8 1|line one\\nline two\\r\\nthree\n2@5:37 2|x\n"},
    {"blank.csv", "id,name\n\n1,A\n\n\n2,B\n\n", 0, NULL, "id,name", "1@3:9 1|A\n2@6:15 2|B\n"},
    {"spaces.csv", "id,name\n 1 , A \t\n2, \" B \" \n", 0, NULL, "id,name", "1@2:8 1|A\n2@3:17 2| B \n"},
    {"bom.csv", "\xEF\xBB\xBFid,name\n1,A\n", 0, NULL, "id,name", "1@2:11 1|A\n"},
    {"null.csv", "id,name,x\n1,NULL,\"NULL\"\n2,,NULLx\n", 0, "NULL", "id,name,x",
     "1@2:10 1|\\N|\\N\n2@3:24 2||NULLx\n"},
    {"emptynull.csv", "id,name,x\n1,,\"\"\n", 0, "", "id,name,x", "1@2:10 1|\\N|\n"},
    {"count.csv", "id,name\n1,A,extra\n2\n3,C\n", 0, NULL, "id,name",
     "1@2:8 1|A|extra !row has 3 fields, the header has 2\n"
     "2@3:18 2 !row has 1 field, the header has 2\n3@4:20 3|C\n"},
    {"unterminated.csv", "id,name\n1,A\n2,\"abc\n3,x\n", 0, NULL, "id,name",
     "1@2:8 1|A\n2@3:12 2|abc\\n3,x\\n !the input ends inside a quoted field (column 'name')\n"},
    {"strayquote.csv", "id,name\n1,a\"b\n2,B\n", 0, NULL, "id,name",
     "1@2:8 1 !bad quoting in column 'name' on line 2\n2@3:14 2|B\n"},
    {"afterquote.csv", "id,name\n1,\"a\"x,y\n2,B\n", 0, NULL, "id,name",
     "1@2:8 1 !bad quoting in column 'name' on line 2\n2@3:17 2|B\n"},
    {"quoteml.csv", "id,name\n1,\"a\nb\"x\n2,B\n", 0, NULL, "id,name",
     "1@2:8 1 !bad quoting in column 'name' on line 3\n2@4:17 2|B\n"},
    {"badutf8.csv", "id,name\n1,ok\xff\n2,\xc3\xa9\n", 0, NULL, "id,name",
     "1@2:8 1|ok\\xff !column 'name' is not valid UTF-8\n2@3:14 2|\\xc3\\xa9\n"},
    {"tabs.tsv", "id\tname\n1\tA B\n2\t\"x\ty\"\n", 0, NULL, "id,name",
     "1@2:8 1|A B\n2@3:14 2|x\\ty\n"},
    {"only-header.csv", "id,name\n", 0, NULL, "id,name", ""},
    {"only-header-nolf.csv", "id,name", 0, NULL, "id,name", ""},
};

static void test_csv_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof csv_cases / sizeof csv_cases[0]; i++) {
        const csv_case *tc = &csv_cases[i];
        if (!tc->dump) continue;
        const char *path = write_file(tc->name, tc->text, strlen(tc->text));
        dxj_input in = input_of(DXJ_FMT_AUTO);
        in.csv.delimiter = tc->delim;
        in.csv.null_marker = (char *)tc->null_marker;
        readall ra;
        read_all(path, &in, 0, 0, 80, &ra);
        if (ra.open_err || ra.err) print_error("row %zu (%s): %s\n", i, tc->name, ra.r.message);
        assert_row_int_equal(i, ra.open_err, DX_OK);
        assert_row_int_equal(i, ra.err, DX_OK);
        assert_row_string_equal(i, ra.columns, tc->columns);
        /* Compare with the error prefix only as long as the expectation gives. */
        const char *got = ra.dump.ptr ? ra.dump.ptr : "";
        bool ok = strlen(got) >= strlen(tc->dump) - 0;
        /* Each expected line is a prefix of the corresponding got line. */
        const char *g = got, *x = tc->dump;
        while (ok && *x) {
            const char *xe = strchr(x, '\n'), *ge = strchr(g, '\n');
            if (!xe || !ge || (size_t)(ge - g) < (size_t)(xe - x) || memcmp(g, x, (size_t)(xe - x)) != 0)
                ok = false;
            else {
                x = xe + 1;
                g = ge + 1;
            }
        }
        if (ok && *g) ok = false;
        if (!ok) print_error("row %zu (%s):\n--- got\n%s--- expected (prefixes)\n%s", i, tc->name, got, tc->dump);
        assert_row_true(i, ok);
        dx_buf_free(&ra.dump);
    }
}

static void test_csv_delimiter_and_spec_columns(void **state) {
    (void)state;
    const char *text = "1;A,B\n2;\"C;D\"\n";
    const char *path = write_file("semi.txt", text, strlen(text));
    char *cols[] = {"id", "name"};
    dxj_input in = input_of(DXJ_FMT_CSV);
    in.csv.delimiter = ';';
    in.csv.no_header = true;
    in.csv.columns = cols;
    in.csv.ncolumns = 2;
    readall ra;
    read_all(path, &in, 0, 0, 60, &ra);
    assert_int_equal(ra.open_err, DX_OK);
    assert_string_equal(ra.columns, "id,name");
    assert_string_equal(ra.dump.ptr, "1@1:0 1|A,B\n2@2:6 2|C;D\n");
    dx_buf_free(&ra.dump);

    /* A wrong count names the spec's list, not a header. */
    const char *bad = "1;A;x\n";
    path = write_file("semi2.txt", bad, strlen(bad));
    read_all(path, &in, 0, 0, 60, &ra);
    assert_string_equal(ra.dump.ptr, "1@1:0 1|A|x !row has 3 fields, the spec's csv.columns list has 2\n");
    dx_buf_free(&ra.dump);

    /* no_header without columns is a configuration error. */
    in.csv.columns = NULL;
    in.csv.ncolumns = 0;
    read_all(path, &in, 0, 0, 60, &ra);
    assert_int_equal(ra.open_err, DX_ERR_CONFIG);
    assert_non_null(strstr(ra.r.message, "csv.columns"));
}

typedef struct open_case {
    const char *name, *text;
    dxj_format fmt;
    dx_err err;
    const char *msg; /* substring */
} open_case;

static void test_open_errors(void **state) {
    (void)state;
    static const open_case cases[] = {
        {"empty.csv", "", DXJ_FMT_AUTO, DX_ERR_PARSE, "the input is empty"},
        {"dup.csv", "id,name,id\n1,2,3\n", DXJ_FMT_AUTO, DX_ERR_PARSE, "names column 'id' twice (columns 1 and 3)"},
        {"badhdr.csv", "id,na\"me\n1,2\n", DXJ_FMT_AUTO, DX_ERR_PARSE, "line 1: the header row is not valid CSV"},
        {"utf8hdr.csv", "id,n\xffm\n1,2\n", DXJ_FMT_AUTO, DX_ERR_PARSE, "header column 2 is not valid UTF-8"},
        {"array.json", "  [{\"a\":1}]\n", DXJ_FMT_AUTO, DX_ERR_PARSE, "a JSON array is not JSON lines"},
        {"sameq.csv", "a,b\n", DXJ_FMT_CSV, DX_ERR_CONFIG, "delimiter and quote"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const open_case *tc = &cases[i];
        const char *path = write_file(tc->name, tc->text, strlen(tc->text));
        dxj_input in = input_of(tc->fmt);
        if (strcmp(tc->name, "sameq.csv") == 0) in.csv.delimiter = in.csv.quote = '\'';
        dxj_reader *rd = (dxj_reader *)1;
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dxj_reader_open(&in, path, &rd, &r);
        if (e != tc->err || !strstr(r.message, tc->msg))
            print_error("row %zu (%s): err %d, message: %s\n", i, tc->name, e, r.message);
        assert_row_int_equal(i, e, tc->err);
        assert_row_true(i, rd == NULL);
        assert_row_true(i, strstr(r.message, tc->msg) != NULL);
        assert_row_true(i, strstr(r.message, tc->name) != NULL || tc->err == DX_ERR_CONFIG);
    }

    /* I/O errors name the path and the system's reason. */
    dxj_input in = input_of(DXJ_FMT_AUTO);
    dxj_reader *rd = NULL;
    dx_result r;
    dx_result_clear(&r);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no-such-file.csv", tmpdir);
    assert_int_equal(dxj_reader_open(&in, missing, &rd, &r), DX_ERR_IO);
    assert_non_null(strstr(r.message, missing));
    assert_non_null(strstr(r.message, strerror(ENOENT)));
    assert_int_equal(dxj_reader_open(&in, tmpdir, &rd, &r), DX_ERR_IO);
    assert_non_null(strstr(r.message, "directory"));
}

/* ---------------------------------------------------------------- JSON lines */

typedef struct jl_case {
    const char *name, *text, *dump;
} jl_case;

static const jl_case jl_cases[] = {
    {"a.jsonl", "{\"a\":1}\n{\"a\":2}\n", "1@1:0 {\"a\":1}\n2@2:8 {\"a\":2}\n"},
    {"crlf.jsonl", "{\"a\":1}\r\n\r\n  \t\n{\"a\":2}\r\n", "1@1:0 {\"a\":1}\n2@4:15 {\"a\":2}\n"},
    {"nolf.ndjson", "{\"a\":1}\n{\"a\":2}", "1@1:0 {\"a\":1}\n2@2:8 {\"a\":2}\n"},
    {"bom.json", "\xEF\xBB\xBF{\"a\":1}\n", "1@1:3 {\"a\":1}\n"},
    {"lead.jsonl", "\n\n{\"a\":1}\n", "1@3:2 {\"a\":1}\n"},
    {"sniffed", "  {\"a\":1}\n", "1@1:0   {\"a\":1}\n"},
    {"utf8.jsonl", "{\"a\":\"\xc3\xa9\"}\n{\"a\":\"\xc3\"}\n{\"b\":1}\n",
     "1@1:0 {\"a\":\"\\xc3\\xa9\"}\n2@2:11 {\"a\":\"\\xc3\"} !line is not valid UTF-8 (bad byte 0xc3 at column 7); convert the file to UTF-8 (e.g. with iconv)\n"
     "3@3:21 {\"b\":1}\n"},
    {"notjson.jsonl", "hello\n", "1@1:0 hello\n"}, /* the reader does not parse JSON */
    {"empty.jsonl", "", ""},
    {"blank.jsonl", "\n \n", ""},
};

static void test_jsonl_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof jl_cases / sizeof jl_cases[0]; i++) {
        const jl_case *tc = &jl_cases[i];
        const char *path = write_file(tc->name, tc->text, strlen(tc->text));
        dxj_input in = input_of(strcmp(tc->name, "notjson.jsonl") == 0 ? DXJ_FMT_JSONL : DXJ_FMT_AUTO);
        readall ra;
        read_all(path, &in, 0, 0, 200, &ra);
        if (ra.open_err || ra.err) print_error("row %zu (%s): %s\n", i, tc->name, ra.r.message);
        assert_row_int_equal(i, ra.open_err, DX_OK);
        assert_row_int_equal(i, ra.err, DX_OK);
        assert_row_string_equal(i, ra.columns, "");
        assert_row_string_equal(i, ra.dump.ptr ? ra.dump.ptr : "", tc->dump);
        dx_buf_free(&ra.dump);
    }
}

static void test_jsonl_long_lines(void **state) {
    (void)state;
    /* A line of exactly DXJ_MAX_LINE bytes (plus \r\n) is fine; one byte more is an error. */
    size_t n = DXJ_MAX_LINE;
    dx_buf b = {0};
    dx_buf_puts(&b, "{\"a\":1}\n");
    size_t at = b.len;
    assert_true(dx_buf_reserve(&b, 2 * n + 100));
    memset(b.ptr + b.len, 'x', n);
    b.len += n;
    dx_buf_puts(&b, "\r\n");
    size_t at2 = b.len;
    memset(b.ptr + b.len, 'y', n + 1);
    b.len += n + 1;
    dx_buf_puts(&b, "\n{\"a\":2}\n");
    const char *path = write_file("long.jsonl", b.ptr, b.len);
    dxj_input in = input_of(DXJ_FMT_AUTO);
    dxj_reader *rd = NULL;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_reader_open(&in, path, &rd, &r), DX_OK);
    dxj_chunk c = {0};
    bool eof = false;
    assert_int_equal(dxj_reader_next(rd, &c, 0, 0, &eof, &r), DX_OK);
    assert_true(eof);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.recs[1].text.len, n);
    assert_null(c.recs[1].error);
    assert_int_equal(c.recs[1].offset, at);
    assert_int_equal(c.recs[2].line, 3);
    assert_int_equal(c.recs[2].offset, at2);
    assert_non_null(c.recs[2].error);
    assert_non_null(strstr(c.recs[2].error, "line longer than 4 MiB"));
    assert_true(c.recs[2].text.len <= 256); /* a prefix, for the rejects file */
    assert_int_equal(c.recs[3].line, 4);
    assert_int_equal(c.recs[3].index, 4);
    assert_string_equal(c.recs[3].text.ptr, "{\"a\":2}");

    /* An overlong line at the end without a newline, and one longer than the window. */
    dx_buf_clear(&b);
    dx_buf_puts(&b, "{\"a\":1}\n");
    assert_true(dx_buf_reserve(&b, 3 * n));
    memset(b.ptr + b.len, 'z', 2 * n + 7);
    b.len += 2 * n + 7;
    dx_buf_puts(&b, "\n{\"a\":3}");
    path = write_file("long2.jsonl", b.ptr, b.len);
    dxj_reader_free(rd);
    assert_int_equal(dxj_reader_open(&in, path, &rd, &r), DX_OK);
    assert_int_equal(dxj_reader_next(rd, &c, 0, 0, &eof, &r), DX_OK);
    assert_int_equal(c.n, 3);
    assert_non_null(c.recs[1].error);
    assert_int_equal(c.recs[2].line, 3);
    assert_string_equal(c.recs[2].text.ptr, "{\"a\":3}");
    dxj_chunk_clear(&c);
    dxj_reader_free(rd);
    dx_buf_free(&b);
}

/* ---------------------------------------------------------------- zstd */

static const char *jl_text(size_t rows, dx_buf *b) {
    for (size_t i = 1; i <= rows; i++)
        dx_buf_printf(b, "{\"id\":\"u%zu\",\"n\":%zu,\"pad\":\"%.*s\"}\n", i, i * 7, (int)(i % 50),
                      "..................................................");
    return b->ptr;
}

static void test_zstd(void **state) {
    (void)state;
    dx_buf text = {0}, z = {0};
    jl_text(3000, &text);

    /* Plain reading gives the reference dump. */
    const char *path = write_file("ref.jsonl", text.ptr, text.len);
    dxj_input in = input_of(DXJ_FMT_AUTO);
    readall ref, ra;
    read_all(path, &in, 100, 0, 200, &ref);
    assert_int_equal(ref.err, DX_OK);
    assert_int_equal(ref.records, 3000);

    struct {
        const char *what;
        size_t cuts[4];
        size_t ncuts;
        bool skippable;
    } cases[] = {
        {"one frame", {0}, 0, false},
        {"three frames cut mid-line", {1000, 1001, 77777}, 3, false},
        {"skippable frame first", {5000}, 1, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dx_buf_clear(&z);
        if (cases[i].skippable) {
            const unsigned char skip[] = {0x50, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'};
            dx_buf_append(&z, skip, sizeof skip);
        }
        zstd_frames(&z, text.ptr, text.len, cases[i].cuts, cases[i].ncuts, false);
        path = write_file("data.jsonl.zst", z.ptr, z.len);
        read_all(path, &in, 100, 0, 200, &ra);
        if (ra.err) print_error("row %zu (%s): %s\n", i, cases[i].what, ra.r.message);
        assert_row_int_equal(i, ra.err, DX_OK);
        assert_row_string_equal(i, ra.dump.ptr, ref.dump.ptr);
        dx_buf_free(&ra.dump);

        /* Forced compression works without the name's help; the format is sniffed. */
        path = write_file("data.bin", z.ptr, z.len);
        in.compression = DXJ_COMP_ZSTD;
        read_all(path, &in, 0, 0, 200, &ra);
        in.compression = DXJ_COMP_AUTO;
        assert_row_int_equal(i, ra.err, DX_OK);
        assert_row_string_equal(i, ra.dump.ptr, ref.dump.ptr);
        dx_buf_free(&ra.dump);
    }

    /* Truncated: every complete line before the cut is delivered, then the error. */
    dx_buf_clear(&z);
    size_t cut1[] = {text.len / 2};
    zstd_frames(&z, text.ptr, text.len, cut1, 1, false);
    size_t trunc = z.len - 10;
    path = write_file("trunc.jsonl.zst", z.ptr, trunc);
    read_all(path, &in, 100, 0, 200, &ra);
    assert_int_equal(ra.err, DX_ERR_PARSE);
    char want[600];
    snprintf(want, sizeof want, "trunc.jsonl.zst: truncated zstd frame at compressed byte %zu", trunc);
    if (!strstr(ra.r.message, want)) print_error("got: %s\n", ra.r.message);
    assert_non_null(strstr(ra.r.message, want));
    assert_true(ra.records > 1500 && ra.records < 3000);
    /* What was delivered is exactly a prefix of the reference. */
    assert_int_equal(strncmp(ra.dump.ptr, ref.dump.ptr, ra.dump.len), 0);
    assert_true(ra.dump.len > 0 && ra.dump.ptr[ra.dump.len - 1] == '\n');
    dx_buf_free(&ra.dump);

    /* Corrupt: garbage where the second frame starts; checksummed frames catch bit flips too. */
    dx_buf_clear(&z);
    zstd_frames(&z, text.ptr, text.len, cut1, 1, true);
    dx_buf bad = {0};
    dx_buf_append(&bad, z.ptr, z.len);
    /* Find the second frame: its magic. */
    size_t second = 0;
    for (size_t k = 4; k + 4 <= bad.len; k++)
        if (memcmp(bad.ptr + k, "\x28\xB5\x2F\xFD", 4) == 0) {
            second = k;
            break;
        }
    assert_true(second > 0);
    memcpy(bad.ptr + second, "JUNK", 4);
    path = write_file("corrupt.jsonl.zst", bad.ptr, bad.len);
    read_all(path, &in, 100, 0, 200, &ra);
    assert_int_equal(ra.err, DX_ERR_PARSE);
    assert_non_null(strstr(ra.r.message, "corrupt.jsonl.zst: corrupt zstd data near compressed byte"));
    assert_true(ra.records > 0);
    assert_int_equal(strncmp(ra.dump.ptr, ref.dump.ptr, ra.dump.len), 0);
    dx_buf_free(&ra.dump);

    /* A flipped byte inside the second frame's data: the checksum fails; the first frame's
     * records come first. */
    memcpy(bad.ptr + second, "\x28\xB5\x2F\xFD", 4);
    bad.ptr[second + (bad.len - second) / 2] ^= 0x5a;
    path = write_file("flip.jsonl.zst", bad.ptr, bad.len);
    read_all(path, &in, 100, 0, 200, &ra);
    assert_int_equal(ra.err, DX_ERR_PARSE);
    assert_non_null(strstr(ra.r.message, "corrupt zstd data"));
    assert_true(ra.records >= 1500);
    assert_int_equal(strncmp(ra.dump.ptr, ref.dump.ptr, ra.dump.len), 0);
    dx_buf_free(&ra.dump);

    /* Corrupt from the start: the reader cannot even open it. */
    memcpy(bad.ptr + second, "\x28\xB5\x2F\xFD", 4);
    bad.ptr[second + (bad.len - second) / 2] ^= 0x5a;
    bad.ptr[8] ^= 0x5a;
    path = write_file("flip0.jsonl.zst", bad.ptr, bad.len);
    read_all(path, &in, 100, 0, 200, &ra);
    assert_int_equal(ra.open_err, DX_ERR_PARSE);
    assert_non_null(strstr(ra.r.message, "flip0.jsonl.zst: corrupt zstd data"));

    /* CSV in zstd, with a header. */
    const char *csv = "id,n\n1,a\n2,b\n";
    dx_buf_clear(&z);
    size_t cut2[] = {6};
    zstd_frames(&z, csv, strlen(csv), cut2, 1, false);
    path = write_file("x.csv.zst", z.ptr, z.len);
    read_all(path, &in, 0, 0, 200, &ra);
    assert_int_equal(ra.err, DX_OK);
    assert_string_equal(ra.columns, "id,n");
    assert_string_equal(ra.dump.ptr, "1@2:5 1|a\n2@3:9 2|b\n");
    dx_buf_free(&ra.dump);

    dx_buf_free(&bad);
    dx_buf_free(&ref.dump);
    dx_buf_free(&text);
    dx_buf_free(&z);
}

/* ---------------------------------------------------------------- stdin */

typedef struct feeder {
    int fd;
    const char *p;
    size_t n;
} feeder;

static void *feed(void *arg) {
    feeder *f = arg;
    size_t off = 0;
    while (off < f->n) {
        size_t k = f->n - off > 4093 ? 4093 : f->n - off; /* odd sizes: short reads */
        ssize_t w = write(f->fd, f->p + off, k);
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(f->fd);
    return NULL;
}

/* Reads `data` through a pipe on standard input. */
static void read_stdin(const void *data, size_t n, const dxj_input *in, readall *ra) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fds[0], STDIN_FILENO) >= 0);
    close(fds[0]);
    feeder f = {fds[1], data, n};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, feed, &f), 0);
    read_all("-", in, 50, 0, 200, ra);
    pthread_join(th, NULL);
    dup2(saved, STDIN_FILENO);
    close(saved);
}

static void test_stdin(void **state) {
    (void)state;
    dx_buf text = {0}, z = {0};
    jl_text(2000, &text);
    const char *path = write_file("ref2.jsonl", text.ptr, text.len);
    dxj_input in = input_of(DXJ_FMT_AUTO);
    readall ref, ra;
    read_all(path, &in, 50, 0, 200, &ref);

    read_stdin(text.ptr, text.len, &in, &ra);
    assert_int_equal(ra.err, DX_OK);
    assert_string_equal(ra.dump.ptr, ref.dump.ptr);
    dx_buf_free(&ra.dump);

    size_t cuts[] = {12345};
    zstd_frames(&z, text.ptr, text.len, cuts, 1, false);
    read_stdin(z.ptr, z.len, &in, &ra);
    assert_int_equal(ra.err, DX_OK);
    assert_string_equal(ra.dump.ptr, ref.dump.ptr);
    dx_buf_free(&ra.dump);

    /* The display name is <stdin>, and errors use it. */
    read_stdin(z.ptr, z.len - 3, &in, &ra);
    assert_int_equal(ra.err, DX_ERR_PARSE);
    assert_non_null(strstr(ra.r.message, "<stdin>: truncated zstd frame"));
    dx_buf_free(&ra.dump);

    const char *csv = "a,b\n1,2\n";
    read_stdin(csv, strlen(csv), &in, &ra);
    assert_string_equal(ra.columns, "a,b");
    assert_string_equal(ra.dump.ptr, "1@2:4 1|2\n");
    dx_buf_free(&ra.dump);

    dx_buf_free(&ref.dump);
    dx_buf_free(&text);
    dx_buf_free(&z);
}

/* ---------------------------------------------------------------- chunks */

static void test_chunk_limits(void **state) {
    (void)state;
    dx_buf text = {0};
    jl_text(1000, &text);
    const char *path = write_file("chunks.jsonl", text.ptr, text.len);
    dxj_input in = input_of(DXJ_FMT_AUTO);
    dxj_reader *rd;
    dx_result r;
    dx_result_clear(&r);

    /* By count. */
    assert_int_equal(dxj_reader_open(&in, path, &rd, &r), DX_OK);
    dxj_chunk c = {0};
    bool eof = false;
    uint64_t next_index = 1, prev_end = 0;
    size_t chunks = 0;
    while (!eof) {
        assert_int_equal(dxj_reader_next(rd, &c, 64, 0, &eof, &r), DX_OK);
        if (!eof) assert_int_equal(c.n, 64);
        for (size_t i = 0; i < c.n; i++) assert_int_equal(c.recs[i].index, next_index++);
        if (c.n) {
            assert_int_equal(c.recs[0].offset, prev_end);
            const dxj_record *last = &c.recs[c.n - 1];
            assert_int_equal(c.end_offset, last->offset + last->text.len + 1);
            chunks++;
        }
        prev_end = c.end_offset;
    }
    assert_int_equal(next_index, 1001);
    assert_int_equal(chunks, 16);
    uint64_t consumed, total;
    dxj_reader_progress(rd, &consumed, &total);
    assert_int_equal(total, text.len);
    assert_int_equal(consumed, text.len);
    assert_int_equal(c.end_offset, text.len);
    dxj_reader_free(rd);

    /* By bytes: each chunk passes the limit with its last record, never before. */
    assert_int_equal(dxj_reader_open(&in, path, &rd, &r), DX_OK);
    eof = false;
    next_index = 1;
    prev_end = 0;
    while (!eof) {
        assert_int_equal(dxj_reader_next(rd, &c, 0, 2000, &eof, &r), DX_OK);
        for (size_t i = 0; i < c.n; i++) assert_int_equal(c.recs[i].index, next_index++);
        if (c.n && !eof) {
            const dxj_record *last = &c.recs[c.n - 1];
            assert_true(c.end_offset - prev_end >= 2000);
            assert_true(last->offset - prev_end < 2000);
        }
        prev_end = c.end_offset;
    }
    assert_int_equal(next_index, 1001);
    dxj_chunk_clear(&c);
    dxj_chunk_clear(&c); /* twice is fine */
    dxj_chunk_clear(NULL);
    dxj_reader_free(rd);
    dxj_reader_free(NULL);
    dx_buf_free(&text);
}

/* ---------------------------------------------------------------- skip */

static void test_skip(void **state) {
    (void)state;
    struct {
        const char *name, *text;
        uint64_t skip;
        const char *dump; /* what next() gives after the skip */
        bool eof;
    } cases[] = {
        {"s.jsonl", "{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}\n", 2, "3@4:17 {\"a\":3}\n", false},
        {"s2.jsonl", "{\"a\":1}\n{\"a\":2}\n", 5, "", true},
        {"s.csv", "id,x\n1,\"a\nb\"\n2,\"oops\n3,c\n4,d\n", 1, "2@4:13 2|oops\\n3,c\\n4,d\\n !the input ends in\n", false},
        {"s2.csv", "id,x\n1,a,b\n2,b\"\n3,\"c\nd\"\n4,e\n", 3, "4@6:24 4|e\n", false},
        {"s3.csv", "id,x\n1,a\n", 0, "1@2:5 1|a\n", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = write_file(cases[i].name, cases[i].text, strlen(cases[i].text));
        dxj_input in = input_of(DXJ_FMT_AUTO);
        dxj_reader *rd;
        dx_result r;
        dx_result_clear(&r);
        assert_int_equal(dxj_reader_open(&in, path, &rd, &r), DX_OK);
        bool eof = false;
        assert_row_int_equal(i, dxj_reader_skip(rd, cases[i].skip, &eof, &r), DX_OK);
        assert_row_int_equal(i, eof, cases[i].eof);
        dxj_chunk c = {0};
        assert_row_int_equal(i, dxj_reader_next(rd, &c, 0, 0, &eof, &r), DX_OK);
        dx_buf d = {0};
        dump_chunk(&d, &c, 17);
        assert_row_string_equal(i, d.ptr ? d.ptr : "", cases[i].dump);
        dx_buf_free(&d);
        dxj_chunk_clear(&c);
        dxj_reader_free(rd);
    }
}

/* ---------------------------------------------------------------- shards */

/* Reads every shard of path and checks that each record lands in exactly one. */
static void check_shards(const char *path, uint32_t n, size_t want_records, bool contiguous) {
    dxj_input in = input_of(DXJ_FMT_AUTO);
    readall whole;
    read_all(path, &in, 0, 0, 200, &whole);
    assert_int_equal(whole.records, want_records);
    uint8_t *seen = calloc(want_records + 1, 1);
    dx_buf all = {0};
    for (uint32_t s = 0; s < n; s++) {
        dxj_reader *rd;
        dx_result r;
        dx_result_clear(&r);
        assert_int_equal(dxj_reader_open(&in, path, &rd, &r), DX_OK);
        assert_int_equal(dxj_reader_set_shard(rd, s, n, &r), DX_OK);
        dxj_chunk c = {0};
        bool eof = false;
        uint64_t prev = 0;
        while (!eof) {
            assert_int_equal(dxj_reader_next(rd, &c, 37, 0, &eof, &r), DX_OK);
            for (size_t i = 0; i < c.n; i++) {
                uint64_t ix = c.recs[i].index;
                assert_true(ix >= 1 && ix <= want_records);
                if (seen[ix]) print_error("shard %u: record %llu seen twice\n", s, (unsigned long long)ix);
                assert_int_equal(seen[ix], 0);
                seen[ix] = 1;
                if (contiguous && prev) assert_int_equal(ix, prev + 1);
                if (!contiguous) assert_int_equal(ix % n, s);
                prev = ix;
            }
            dump_chunk(&all, &c, 200);
        }
        dxj_chunk_clear(&c);
        /* Too late to change the shard now. */
        assert_int_equal(dxj_reader_set_shard(rd, 0, 2, &r), DX_ERR_INVALID_ARG);
        dxj_reader_free(rd);
    }
    for (size_t i = 1; i <= want_records; i++) {
        if (!seen[i]) print_error("record %zu in no shard\n", i);
        assert_int_equal(seen[i], 1);
    }
    /* Positions are those of the whole input: the shards' dumps, sorted, are the whole dump. */
    if (contiguous) assert_string_equal(all.ptr, whole.dump.ptr);
    free(seen);
    dx_buf_free(&all);
    dx_buf_free(&whole.dump);
}

static void test_shards(void **state) {
    (void)state;
    dx_buf text = {0}, z = {0};
    /* Blank lines and a broken line in the mix. */
    jl_text(500, &text);
    dx_buf_puts(&text, "\n\n{bad\xff}\n");
    jl_text(499, &text);
    const char *path = write_file("shard.jsonl", text.ptr, text.len);
    for (uint32_t n = 1; n <= 7; n++) check_shards(path, n, 1000, true);

    zstd_frames(&z, text.ptr, text.len, NULL, 0, false);
    path = write_file("shard.jsonl.zst", z.ptr, z.len);
    check_shards(path, 3, 1000, false);

    dx_buf_clear(&text);
    dx_buf_puts(&text, "id,v\n");
    for (int i = 0; i < 300; i++) dx_buf_printf(&text, "%d,\"v\n%d\"\n", i, i);
    path = write_file("shard.csv", text.ptr, text.len);
    check_shards(path, 4, 300, false);

    /* A bad shard. */
    dxj_input in = input_of(DXJ_FMT_AUTO);
    dxj_reader *rd;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_reader_open(&in, path, &rd, &r), DX_OK);
    assert_int_equal(dxj_reader_set_shard(rd, 4, 4, &r), DX_ERR_CONFIG);
    assert_int_equal(dxj_reader_set_shard(rd, 0, 0, &r), DX_ERR_CONFIG);
    dxj_reader_free(rd);
    dx_buf_free(&text);
    dx_buf_free(&z);
}

/* ---------------------------------------------------------------- bigger inputs */

static void test_big_csv(void **state) {
    (void)state;
    /* 200k rows through small windows: line numbers and offsets stay exact. */
    dx_buf text = {0};
    dx_buf_puts(&text, "id,name,note\r\n");
    size_t rows = 200000;
    for (size_t i = 1; i <= rows; i++) {
        if (i % 1000 == 0) dx_buf_printf(&text, "%zu,\"n\"\"%zu\",\"two\r\nlines\"\r\n", i, i);
        else dx_buf_printf(&text, "%zu,name %zu,\r\n", i, i);
    }
    const char *path = write_file("big.csv", text.ptr, text.len);
    dxj_input in = input_of(DXJ_FMT_AUTO);
    dxj_reader *rd;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_reader_open(&in, path, &rd, &r), DX_OK);
    dxj_chunk c = {0};
    bool eof = false;
    size_t seen = 0;
    uint64_t line = 2;
    while (!eof) {
        assert_int_equal(dxj_reader_next(rd, &c, 1000, 1 << 20, &eof, &r), DX_OK);
        for (size_t i = 0; i < c.n; i++) {
            const dxj_record *rec = &c.recs[i];
            seen++;
            assert_null(rec->error);
            assert_int_equal(rec->index, seen);
            assert_int_equal(rec->line, line);
            assert_int_equal(rec->nfields, 3);
            /* The offset points at the row's first byte in the file. */
            char want[32];
            int wl = snprintf(want, sizeof want, "%zu,", seen);
            assert_memory_equal(text.ptr + rec->offset, want, (size_t)wl);
            assert_int_equal(strtoul(rec->fields[0].ptr, NULL, 10), seen);
            line += seen % 1000 == 0 ? 2 : 1;
        }
    }
    assert_int_equal(seen, rows);
    dxj_chunk_clear(&c);
    dxj_reader_free(rd);
    dx_buf_free(&text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_table),
        cmocka_unit_test(test_csv_delimiter_and_spec_columns),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_jsonl_table),
        cmocka_unit_test(test_jsonl_long_lines),
        cmocka_unit_test(test_zstd),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_chunk_limits),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_big_csv),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
