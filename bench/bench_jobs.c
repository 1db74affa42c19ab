/*
 * bench_jobs.c - the job runner's speed and memory (issue 4, section 8).
 *
 * Generates N rows (default 1M; ~150-byte items of 10 attributes) as JSON
 * lines compressed with zstd and as CSV in a temporary directory, then, in
 * the same run:
 *   - baselines: cJSON parse-only time of the decompressed JSON lines
 *     (decompression not counted), and libcsv parse-only time of the CSV;
 *   - a dry-run `put` of each file on the memory backend, 2 workers, through
 *     dxj_run exactly as `dynox run --dry-run` does it;
 *   - prints rows/s and the ratio dry run / parse-only (aims: <= 2.5x for
 *     jsonl.zst, <= 4x for CSV).
 * Every dxj_run happens in a forked child so that its peak RSS
 * (ru_maxrss from wait4) is its own. The dry runs' RSS includes the memory
 * backend's table (every item is kept), so the streaming part is measured
 * separately: the same put (both files) against a "null" backend that accepts and
 * forgets everything, first on the 1M-row file, then on a 10M-row file when
 * the 1M run suggests it finishes in reasonable time (else 1M and 3M are
 * measured and 10M is extrapolated, and the output says so). Aim: < 100 MB.
 *
 * Usage: bench_jobs [rows]   (default 1000000; DYNOX_BENCH_NO_10M=1 skips the big run,
 *        DYNOX_BENCH_KEEP=1 keeps the generated files)
 */
#include <cjson/cJSON.h>
#include <csv.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include "backend_internal.h"
#include "dynox/dynox.h"
#include "runner.h"

#define WORKERS 2

static const dx_attr_def ATTRS[] = {
    {.name = "id", .type = DX_ATTR_STRING, .key = DX_KEY_HASH},
    {.name = "name", .type = DX_ATTR_STRING},
    {.name = "email", .type = DX_ATTR_STRING},
    {.name = "age", .type = DX_ATTR_NUMBER},
    {.name = "score", .type = DX_ATTR_NUMBER},
    {.name = "city", .type = DX_ATTR_STRING},
    {.name = "country", .type = DX_ATTR_STRING},
    {.name = "active", .type = DX_ATTR_BOOL},
    {.name = "created_at", .type = DX_ATTR_DATETIME},
    {.name = "plan", .type = DX_ATTR_STRING},
};
#define NATTRS (sizeof ATTRS / sizeof ATTRS[0])

static const char *const CITIES[] = {"Lisbon", "Berlin", "Osaka", "Lima", "Austin", "Nairobi",
                                     "Oslo", "Hanoi"};
static const char *const PLANS[] = {"free", "pro", "team", "enterprise"};

static double now_s(void) { return (double)dx_now_ns() / 1e9; }

/* ---------------------------------------------------------------- generation */

typedef struct row {
    char id[16], name[32], email[48], city[16], country[4], created[32], plan[16];
    unsigned age;
    double score;
    bool active;
} row;

static void make_row(uint64_t i, dx_rng *rng, row *r) {
    snprintf(r->id, sizeof r->id, "u%09" PRIu64, i);
    snprintf(r->name, sizeof r->name, "User Number %" PRIu64, i);
    snprintf(r->email, sizeof r->email, "user%" PRIu64 "@example.com", i);
    unsigned c = (unsigned)dx_rng_below(rng, 8);
    snprintf(r->city, sizeof r->city, "%s", CITIES[c]);
    snprintf(r->country, sizeof r->country, "%c%c", 'A' + (int)(c * 3 % 26), 'A' + (int)(c * 7 % 26));
    r->age = 18 + (unsigned)dx_rng_below(rng, 70);
    r->score = (double)dx_rng_below(rng, 100000) / 100.0;
    r->active = dx_rng_below(rng, 2);
    snprintf(r->created, sizeof r->created, "2025-%02u-%02uT%02u:%02u:%02uZ",
             1 + (unsigned)dx_rng_below(rng, 12), 1 + (unsigned)dx_rng_below(rng, 28),
             (unsigned)dx_rng_below(rng, 24), (unsigned)dx_rng_below(rng, 60),
             (unsigned)dx_rng_below(rng, 60));
    snprintf(r->plan, sizeof r->plan, "%s", PLANS[dx_rng_below(rng, 4)]);
}

static int json_line(const row *r, char *out, size_t n) {
    return snprintf(out, n,
                    "{\"id\":\"%s\",\"name\":\"%s\",\"email\":\"%s\",\"age\":%u,\"score\":%.2f,"
                    "\"city\":\"%s\",\"country\":\"%s\",\"active\":%s,\"created_at\":\"%s\","
                    "\"plan\":\"%s\"}\n",
                    r->id, r->name, r->email, r->age, r->score, r->city, r->country,
                    r->active ? "true" : "false", r->created, r->plan);
}

static int csv_line(const row *r, char *out, size_t n) {
    return snprintf(out, n, "%s,%s,%s,%u,%.2f,%s,%s,%s,%s,%s\n", r->id, r->name, r->email, r->age,
                    r->score, r->city, r->country, r->active ? "true" : "false", r->created,
                    r->plan);
}

/* Writes rows as jsonl.zst (and CSV when csv_path is set). Returns decompressed JSONL bytes. */
static uint64_t generate(uint64_t rows, const char *zst_path, const char *csv_path) {
    FILE *zf = fopen(zst_path, "wb"), *cf = csv_path ? fopen(csv_path, "wb") : NULL;
    if (!zf || (csv_path && !cf)) {
        fprintf(stderr, "bench_jobs: cannot create %s: %s\n", zst_path, strerror(errno));
        exit(1);
    }
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
    size_t outcap = ZSTD_CStreamOutSize();
    char *zout = malloc(outcap);
    char *batch = malloc(1 << 20);
    size_t blen = 0;
    uint64_t total = 0;
    dx_rng rng;
    dx_rng_seed(&rng, 42);
    if (cf) fputs("id,name,email,age,score,city,country,active,created_at,plan\n", cf);
    for (uint64_t i = 1; i <= rows; i++) {
        row r;
        char line[512];
        make_row(i, &rng, &r);
        int n = json_line(&r, line, sizeof line);
        memcpy(batch + blen, line, (size_t)n);
        blen += (size_t)n;
        total += (uint64_t)n;
        if (cf) {
            n = csv_line(&r, line, sizeof line);
            fwrite(line, 1, (size_t)n, cf);
        }
        if (blen > (1 << 20) - 1024 || i == rows) {
            ZSTD_inBuffer in = {batch, blen, 0};
            ZSTD_EndDirective mode = i == rows ? ZSTD_e_end : ZSTD_e_continue;
            size_t left;
            do {
                ZSTD_outBuffer o = {zout, outcap, 0};
                left = ZSTD_compressStream2(cc, &o, &in, mode);
                if (ZSTD_isError(left)) {
                    fprintf(stderr, "bench_jobs: zstd: %s\n", ZSTD_getErrorName(left));
                    exit(1);
                }
                fwrite(zout, 1, o.pos, zf);
            } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
            blen = 0;
        }
    }
    ZSTD_freeCCtx(cc);
    free(zout);
    free(batch);
    fclose(zf);
    if (cf) fclose(cf);
    return total;
}

/* ---------------------------------------------------------------- baselines */

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

static char *decompress_all(const char *path, uint64_t expect, size_t *n) {
    size_t zn;
    char *z = read_all(path, &zn);
    char *out = malloc(expect + 1);
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    ZSTD_inBuffer in = {z, zn, 0};
    ZSTD_outBuffer o = {out, expect + 1, 0};
    while (in.pos < in.size) {
        size_t rc = ZSTD_decompressStream(dc, &o, &in);
        if (ZSTD_isError(rc)) break;
    }
    ZSTD_freeDCtx(dc);
    free(z);
    *n = o.pos;
    return out;
}

static double cjson_parse_only(const char *buf, size_t n, uint64_t *rows) {
    double t0 = now_s();
    uint64_t k = 0;
    for (const char *p = buf, *end = buf + n; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        cJSON *j = cJSON_ParseWithLength(p, len);
        if (j) k++;
        cJSON_Delete(j);
        p += len + 1;
    }
    *rows = k;
    return now_s() - t0;
}

static void csv_field(void *s, size_t len, void *ud) {
    (void)s;
    (void)len;
    (void)ud;
}
static void csv_row(int c, void *ud) {
    (void)c;
    (*(uint64_t *)ud)++;
}

static double csv_parse_only(const char *buf, size_t n, uint64_t *rows) {
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    uint64_t k = 0;
    double t0 = now_s();
    csv_parse(&p, buf, n, csv_field, csv_row, &k);
    csv_fini(&p, csv_field, csv_row, &k);
    double dt = now_s() - t0;
    csv_free(&p);
    *rows = k > 0 ? k - 1 : 0; /* the header */
    return dt;
}

/* ---------------------------------------------------------------- a null backend */

/* Accepts every request and keeps nothing: what is left is the runner's own memory. */
static void nb_start(void *be, dx_attempt *a) {
    (void)be;
    memset(&a->resp, 0, sizeof a->resp);
    dx_result_clear(&a->res);
    if (a->req.op == DX_OP_DESCRIBE_TABLE || a->req.op == DX_OP_DESCRIBE_BACKUPS) {
        a->resp.table.name = a->req.table;
        a->resp.table.key.hash = "id";
        a->resp.table.key.hash_type = DX_T_S;
        a->resp.table.status = "ACTIVE";
        a->resp.table.on_demand = true;
        a->resp.table.pitr = true;
    } else if (a->req.op == DX_OP_BATCH_WRITE) {
        a->resp.consumed = (double)a->req.nwrites;
    } else {
        a->resp.consumed = 1;
    }
    dx_attempt_done(a);
}
static void *nb_engine_new(void *impl) { return impl; }
static void nb_engine_free(void *be) { (void)be; }
static size_t nb_poll(void *be, int ms) {
    (void)be;
    (void)ms;
    return 0;
}
static void nb_impl_free(void *impl) { (void)impl; }
static const dx_backend_vt null_vt = {.name = "null", .engine_new = nb_engine_new,
                                      .engine_free = nb_engine_free, .start = nb_start,
                                      .poll = nb_poll, .impl_free = nb_impl_free};
static int nb_impl;

/* ---------------------------------------------------------------- runs in children */

typedef struct result {
    int ok;
    double secs;     /* wall time of dxj_run, memory table teardown included */
    double job_secs; /* the report's duration_s: the job, without freeing the client */
    uint64_t rows, written, rejected, failed;
    long rss_kb;
    char error[600];
} result;

static void child_run(const char *input, dxj_format fmt, bool null_backend, int fd) {
    result res;
    memset(&res, 0, sizeof res);
    dxj_spec s;
    memset(&s, 0, sizeof s);
    dx_model_config cfg = {.table = "bench_jobs"};
    dx_result r;
    dx_result_clear(&r);
    dx_client *c = NULL;
    if (dx_model_new("bench", ATTRS, NATTRS, &cfg, &s.model, &r) != DX_OK) goto out;
    s.input.path = strdup(input);
    s.input.format = fmt;
    s.operation.op = DXJ_OP_PUT;
    s.dry_run = !null_backend;
    s.backend.type = null_backend ? DXJ_BACKEND_DYNAMODB : DXJ_BACKEND_MEMORY;
    s.workers = WORKERS;
    if (dxj_spec_check(&s, &r) != DX_OK) goto out;
    if (null_backend) {
        dx_client_opts co = {0};
        dx_client_wrap_(&null_vt, &nb_impl, &co, &c);
    }
    dxj_run_opts o = {.client = c};
    dxj_report rep;
    double t0 = now_s();
    dx_err e = dxj_run(&s, &o, &rep, &r);
    res.secs = now_s() - t0;
    res.job_secs = rep.duration_s;
    res.rows = rep.rows_in;
    res.written = rep.written;
    res.rejected = rep.rejected;
    res.failed = rep.failed;
    res.ok = e == DX_OK && rep.accounting_ok && rep.status == DXJ_STATUS_COMPLETED;
    if (!res.ok) snprintf(res.error, sizeof res.error, "%s", rep.error[0] ? rep.error : r.message);
out:
    if (!res.ok && !res.error[0]) snprintf(res.error, sizeof res.error, "%s", r.message);
    if (write(fd, &res, sizeof res) != (ssize_t)sizeof res) _exit(2);
    dx_client_free(c);
    dxj_spec_free(&s);
    _exit(0);
}

static result run_in_child(const char *input, dxj_format fmt, bool null_backend) {
    result res;
    memset(&res, 0, sizeof res);
    int p[2];
    if (pipe(p) != 0) exit(1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child_run(input, fmt, null_backend, p[1]);
    }
    close(p[1]);
    ssize_t got = read(p[0], &res, sizeof res);
    close(p[0]);
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    if (got != (ssize_t)sizeof res) {
        res.ok = 0;
        snprintf(res.error, sizeof res.error, "the child died (status %d)", st);
    }
    res.rss_kb = ru.ru_maxrss;
    return res;
}

static void check(const result *r, uint64_t rows, const char *what) {
    if (!r->ok || r->written != rows) {
        printf("  %s: FAILED: %s (rows %" PRIu64 ", written %" PRIu64 ", rejected %" PRIu64
               ", failed %" PRIu64 ")\n",
               what, r->error, r->rows, r->written, r->rejected, r->failed);
        exit(1);
    }
}

int main(int argc, char **argv) {
    uint64_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    if (rows == 0) rows = 1000000;
    char dir[] = "/tmp/dynox-bench-jobs-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char zst[128], csvp[128], big[128];
    snprintf(zst, sizeof zst, "%s/rows.jsonl.zst", dir);
    snprintf(csvp, sizeof csvp, "%s/rows.csv", dir);
    snprintf(big, sizeof big, "%s/big.jsonl.zst", dir);

    double t0 = now_s();
    uint64_t jbytes = generate(rows, zst, csvp);
    size_t zn = 0, cn = 0;
    free(read_all(zst, &zn));
    printf("bench_jobs: %" PRIu64 " rows, 10 attributes, ~%" PRIu64
           " bytes of JSON per row, %d workers (generated in %.1f s)\n",
           rows, jbytes / rows, WORKERS, now_s() - t0);
    printf("  files: jsonl.zst %.1f MB (%.1f MB decompressed)\n", (double)zn / 1e6,
           (double)jbytes / 1e6);

    /* Every run in a child, first, while this process is still small (a child's RSS
     * includes the pages it inherits). */
    result rj = run_in_child(zst, DXJ_FMT_JSONL, false);
    check(&rj, rows, "dry run jsonl.zst");
    result rc = run_in_child(csvp, DXJ_FMT_CSV, false);
    check(&rc, rows, "dry run csv");
    result rn1 = run_in_child(zst, DXJ_FMT_JSONL, true);
    check(&rn1, rows, "streaming run, null backend");
    result rnc = run_in_child(csvp, DXJ_FMT_CSV, true);
    check(&rnc, rows, "streaming run, null backend, csv");
    /* The 10M-row streaming run when it finishes in reasonable time (about 2 minutes with
     * generating the file), else 3x the rows, extrapolated to 10M. */
    uint64_t big_rows = 10000000, mid = rows * 3;
    double est = rn1.secs * (double)big_rows / (double)rows * 1.6;
    const char *skip = getenv("DYNOX_BENCH_NO_10M");
    bool run_big = rows < big_rows && (!skip || !*skip) && est < 150;
    double gen = 0;
    result rb;
    memset(&rb, 0, sizeof rb);
    if (rows < big_rows) {
        double g0 = now_s();
        generate(run_big ? big_rows : mid, big, NULL);
        gen = now_s() - g0;
        rb = run_in_child(big, DXJ_FMT_JSONL, true);
        check(&rb, run_big ? big_rows : mid, "big streaming run");
    }

    /* Baselines, on the same files. */
    size_t dn = 0;
    char *dec = decompress_all(zst, jbytes, &dn);
    uint64_t jrows = 0, crows = 0;
    double tj = cjson_parse_only(dec, dn, &jrows);
    free(dec);
    char *cbuf = read_all(csvp, &cn);
    double tc = csv_parse_only(cbuf, cn, &crows);
    free(cbuf);
    if (jrows != rows || crows != rows) {
        printf("  baseline parse counted %" PRIu64 " / %" PRIu64 " rows, expected %" PRIu64 "\n",
               jrows, crows, rows);
        return 1;
    }

    printf("  cJSON parse-only (decompressed lines)  %7.3f s  %9.0f rows/s\n", tj,
           (double)rows / tj);
    printf("  dry-run put, jsonl.zst, memory backend %7.3f s  %9.0f rows/s  ratio %.2fx "
           "(aim <= 2.5x)%s\n",
           rj.secs, (double)rows / rj.secs, rj.secs / tj, rj.secs / tj <= 2.5 ? "" : "  MISSED");
    printf("      of which the job itself (report duration_s, before the memory table is freed) "
           "%.3f s, ratio %.2fx\n",
           rj.job_secs, rj.job_secs / tj);
    printf("  libcsv parse-only                      %7.3f s  %9.0f rows/s\n", tc,
           (double)rows / tc);
    printf("  dry-run put, csv, memory backend       %7.3f s  %9.0f rows/s  ratio %.2fx "
           "(aim <= 4x)%s\n",
           rc.secs, (double)rows / rc.secs, rc.secs / tc, rc.secs / tc <= 4 ? "" : "  MISSED");
    printf("      of which the job itself (report duration_s, before the memory table is freed) "
           "%.3f s, ratio %.2fx\n",
           rc.job_secs, rc.job_secs / tc);
    printf("  peak RSS of the dry runs: %.0f MB (jsonl.zst), %.0f MB (csv) -- includes the memory "
           "backend's table of %" PRIu64 " items\n",
           (double)rj.rss_kb / 1024, (double)rc.rss_kb / 1024, rows);
    printf("  streaming put, null backend (nothing kept), jsonl.zst: %" PRIu64
           " rows in %.2f s (%.0f rows/s, ratio %.2fx), peak RSS %.1f MB\n",
           rows, rn1.secs, (double)rows / rn1.secs, rn1.secs / tj, (double)rn1.rss_kb / 1024);
    printf("  streaming put, null backend (nothing kept), csv:       %" PRIu64
           " rows in %.2f s (%.0f rows/s, ratio %.2fx), peak RSS %.1f MB\n",
           rows, rnc.secs, (double)rows / rnc.secs, rnc.secs / tc, (double)rnc.rss_kb / 1024);
    printf("  (the difference between the dry runs and the null-backend runs is the memory "
           "backend storing the items)\n");
    if (run_big) {
        printf("  streaming put, null backend: %" PRIu64 " rows in %.1f s (file generated in "
               "%.1f s), peak RSS %.1f MB (aim < 100 MB)%s\n",
               big_rows, rb.secs, gen, (double)rb.rss_kb / 1024,
               rb.rss_kb < 100 * 1024 ? "" : "  MISSED");
    } else if (rows < big_rows) {
        double slope = (double)(rb.rss_kb - rn1.rss_kb) / (double)(mid - rows);
        double extra = slope > 0 ? slope * (double)(big_rows - mid) : 0;
        printf("  streaming put, null backend: %" PRIu64 " rows in %.1f s, peak RSS %.1f MB; 10M "
               "rows not run (%s): extrapolated linearly from %" PRIu64 " and %" PRIu64
               " rows: %.1f MB (aim < 100 MB)\n",
               mid, rb.secs, (double)rb.rss_kb / 1024,
               skip && *skip ? "DYNOX_BENCH_NO_10M is set" : "it would take too long", rows, mid,
               ((double)rb.rss_kb + extra) / 1024);
    }
    if (getenv("DYNOX_BENCH_KEEP")) {
        printf("  files kept in %s\n", dir);
        return 0;
    }
    unlink(zst);
    unlink(csvp);
    unlink(big);
    rmdir(dir);
    return 0;
}
