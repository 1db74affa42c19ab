/*
 * cmd_bench.c - `dynox bench`: argv -> dxj_bench_opts -> dxj_bench_run ->
 * a table for people or JSON for scripts.
 *
 * The options are data (one table: name, argument, default, help line) so
 * that --help lists exactly what the parser accepts. Everything measured
 * comes from jobs/bench.c; this file only parses, prints and picks the exit
 * code.
 *
 * Must never: write to a table before the options are known to be valid, or
 * print a credential.
 */
#include "cmd_bench.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "dynox/dynox.h"

enum { EXIT_OK = 0, EXIT_ROWS = 1, EXIT_USAGE = 2, EXIT_FATAL = 3 };

typedef enum {
    O_OP = 1, O_MODEL, O_TABLE, O_SAMPLE, O_SAMPLE_ROWS, O_ITEM_BYTES, O_ITEMS, O_DURATION,
    O_WORKERS, O_INFLIGHT, O_SWEEP, O_BACKEND, O_ENDPOINT, O_REGION, O_PROFILE, O_INSECURE,
    O_WCU, O_RCU, O_MAX_WCU, O_MAX_RCU, O_NO_ADAPTIVE, O_NO_HINT, O_MAX_ATTEMPTS, O_SEED,
    O_ALLOW_EXISTING, O_KEEP, O_JSON, O_QUIET, O_HELP
} opt_id;

typedef struct opt {
    opt_id id;
    const char *name;  /* long name without dashes */
    char shrt;         /* short letter or 0 */
    const char *arg;   /* argument placeholder, NULL for flags */
    const char *help;  /* one line; the default goes in brackets */
} opt;

static const opt opts[] = {
    {O_OP, "op", 0, "OP", "put | update_by_key | delete_by_key | get | get_save [put]"},
    {O_MODEL, "model", 'm', "FILE", "model file (docs/models.md) [built-in: 10 attributes, ~150 bytes]"},
    {O_TABLE, "table", 't', "NAME", "table [the model's; built-in model: dynox_bench]"},
    {O_SAMPLE, "sample", 0, "FILE", "item bodies from rows of a CSV/JSON-lines file (.zst ok); needs --model"},
    {O_SAMPLE_ROWS, "sample-rows", 0, "N", "rows read from --sample [1000]"},
    {O_ITEM_BYTES, "item-bytes", 0, "N", "pad synthetic items to about N bytes [the model's natural size]"},
    {O_ITEMS, "items", 'n', "N", "items per measured run [100000; with --duration: no limit]"},
    {O_DURATION, "duration", 'd', "TIME", "run for TIME instead (30, 30s, 500ms, 2m) [off]"},
    {O_WORKERS, "workers", 'w', "N", "worker threads, each with its own engine [2]"},
    {O_INFLIGHT, "in-flight", 'i', "N", "requests in flight per worker [32]"},
    {O_SWEEP, "sweep", 0, "LIST", "measure each in-flight depth in turn: 1,2,4,8 or 1..256 (doubling) [off]"},
    {O_BACKEND, "backend", 'b', "NAME", "memory | dynamodb [memory; dynamodb when --endpoint/--region/--profile is given]"},
    {O_ENDPOINT, "endpoint", 0, "URL", "DynamoDB endpoint [AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, the region's]"},
    {O_REGION, "region", 0, "NAME", "AWS region [AWS_REGION, AWS_DEFAULT_REGION, the profile's]"},
    {O_PROFILE, "profile", 0, "NAME", "AWS profile for credentials and region [AWS_PROFILE, default]"},
    {O_INSECURE, "insecure", 0, NULL, "do not verify TLS certificates (local endpoints only) [off]"},
    {O_WCU, "wcu", 0, "N", "write capacity when the bench creates the table (memory: simulated) [on-demand]"},
    {O_RCU, "rcu", 0, "N", "read capacity when the bench creates the table [= --wcu]"},
    {O_MAX_WCU, "max-wcu", 0, "N", "client-side cap, write units per second [none]"},
    {O_MAX_RCU, "max-rcu", 0, "N", "client-side cap, read units per second [none]"},
    {O_NO_ADAPTIVE, "no-adaptive", 0, NULL, "no adaptive rate limiting: retry throttles with backoff only [adaptive]"},
    {O_NO_HINT, "no-capacity-hint", 0, NULL, "do not start the limiter at the table's provisioned capacity [use it]"},
    {O_MAX_ATTEMPTS, "max-attempts", 0, "N", "attempts per request, retries included [10]"},
    {O_SEED, "seed", 0, "N", "seed of the value generator, for repeatable items [random]"},
    {O_ALLOW_EXISTING, "allow-existing", 0, NULL, "run on a table that holds data (its items are never touched) [refuse]"},
    {O_KEEP, "keep", 0, NULL, "keep the items written (and a table created by the bench) [delete them]"},
    {O_JSON, "json", 0, NULL, "print the result as JSON on stdout [a table]"},
    {O_QUIET, "quiet", 'q', NULL, "no progress messages on stderr [messages]"},
    {O_HELP, "help", 'h', NULL, "this help"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

static void usage(FILE *f) {
    fprintf(f,
            "Usage: dynox bench [OPTIONS]\n"
            "\n"
            "Measures one operation against a table: items/s, capacity units/s, latency\n"
            "p50/p95/p99/max, throttles, retries, errors and the client's own CPU time per\n"
            "1,000 items. Items are generated for a model (or come from a sample of a real\n"
            "input file) with keys tagged by the run, driven by --workers threads that keep\n"
            "--in-flight requests each. put uses BatchWriteItem (25 per call),\n"
            "update_by_key one UpdateItem per item, delete_by_key BatchWriteItem deletes,\n"
            "get one GetItem, get_save a GetItem then a PutItem. Every operation but put\n"
            "first loads the items it works on (not measured).\n"
            "\n"
            "Safe by default: a table that holds data is refused (--allow-existing), a\n"
            "missing table is created and deleted afterwards, and every item written is\n"
            "deleted at the end (--keep).\n"
            "\n"
            "Options:\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char left[48];
        if (opts[i].shrt) {
            snprintf(left, sizeof left, "-%c, --%s%s%s", opts[i].shrt, opts[i].name,
                     opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
        } else {
            snprintf(left, sizeof left, "    --%s%s%s", opts[i].name, opts[i].arg ? " " : "",
                     opts[i].arg ? opts[i].arg : "");
        }
        fprintf(f, "  %-28s %s\n", left, opts[i].help);
    }
    fprintf(f,
            "\n"
            "CPU per 1k items is user + system time of this process (getrusage) during the\n"
            "measured part; on the memory backend it includes the backend's own work.\n"
            "Latency is per request (a batch of 25 is one), retries and rate-limit waits\n"
            "included. Throttles count throttled requests plus, for batches, the items\n"
            "DynamoDB handed back unprocessed (each is one write the table refused).\n"
            "--max-wcu/--max-rcu allow one second of burst, as DynamoDB does, so a run\n"
            "of a second or two can exceed them. A sweep prints where throughput stops\n"
            "growing (< 5%% gain). Ctrl-C ends the measured part early, still cleans up\n"
            "and exits 130; a second Ctrl-C exits at once.\n"
            "\n"
            "Examples:\n"
            "  dynox bench                                    100k puts on the memory backend\n"
            "  dynox bench --op update_by_key --sweep 1..256  find the in-flight depth that pays\n"
            "  dynox bench --backend dynamodb --region eu-west-1 --table bench_tmp \\\n"
            "              --op put --duration 60s --workers 4 --in-flight 64\n"
            "  dynox bench --endpoint http://127.0.0.1:8000 --op get --items 20000 --json\n"
            "  dynox bench --model users.json --sample users.csv.zst --op put --items 50000\n"
            "  dynox bench --backend memory --wcu 500 --op put --items 6000 --item-bytes 900\n"
            "              (a simulated 500 WCU table: shows the limiter at work)\n"
            "\n"
            "Exit codes: 0 done; 1 done but items failed or clean-up was incomplete;\n"
            "2 usage error or a table that holds data (nothing written); 3 fatal error;\n"
            "130 stopped by Ctrl-C (after cleaning up).\n");
}

static void err(const char *fmt, ...) DX_PRINTF(1, 2);
static void err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("dynox bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int usage_err(const char *fmt, ...) DX_PRINTF(1, 2);
static int usage_err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("dynox bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fputs("Try 'dynox bench --help'.\n", stderr);
    return EXIT_USAGE;
}

static const opt *find_long(const char *name, size_t len) {
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0) return &opts[i];
    return NULL;
}

static const opt *find_short(char c) {
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].shrt == c) return &opts[i];
    return NULL;
}

static bool parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-') return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

static bool parse_u32(const char *s, uint32_t *out) {
    uint64_t v;
    if (!parse_u64(s, &v) || v > UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_double(const char *s, double *out) {
    if (!s || !*s) return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0)) return false;
    *out = v;
    return true;
}

/* "30", "30s", "500ms", "2m", "1h" -> milliseconds. */
static bool parse_duration(const char *s, uint32_t *ms) {
    if (!s || !*s) return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || !(v > 0)) return false;
    double mul = 1000;
    if (strcmp(end, "ms") == 0) mul = 1;
    else if (strcmp(end, "s") == 0 || !*end) mul = 1000;
    else if (strcmp(end, "m") == 0) mul = 60000;
    else if (strcmp(end, "h") == 0) mul = 3600000;
    else return false;
    double r = v * mul;
    if (r < 1 || r > 86400000.0 * 7) return false;
    *ms = (uint32_t)r;
    return true;
}

/* "1,2,4,8" or "1..256" (doubling from the first to the last). */
static bool parse_sweep(const char *s, dxj_bench_opts *o) {
    const char *dots = strstr(s, "..");
    o->nsweep = 0;
    if (dots) {
        char a[32];
        size_t n = (size_t)(dots - s);
        if (n == 0 || n >= sizeof a) return false;
        memcpy(a, s, n);
        a[n] = 0;
        uint32_t lo, hi;
        if (!parse_u32(a, &lo) || !parse_u32(dots + 2, &hi) || lo == 0 || hi < lo) return false;
        for (uint64_t d = lo; d <= hi; d *= 2) {
            if (o->nsweep == DXJ_BENCH_MAX_SWEEP) return false;
            o->sweep[o->nsweep++] = (uint32_t)d;
        }
        return true;
    }
    char buf[512];
    if (strlen(s) >= sizeof buf) return false;
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint32_t d;
        if (o->nsweep == DXJ_BENCH_MAX_SWEEP || !parse_u32(t, &d) || d == 0) return false;
        o->sweep[o->nsweep++] = d;
    }
    return o->nsweep > 0;
}

typedef struct cfg {
    dxj_bench_opts o;
    const char *model_path;
    const char *backend;
    bool no_adaptive;
    bool json;
    int quiet;
    bool help;
} cfg;

static int apply(cfg *c, const opt *op, const char *arg) {
    dxj_bench_opts *o = &c->o;
    const char *name = op->name;
    switch (op->id) {
    case O_OP: {
        int v = dxj_bench_op_from_name(arg);
        if (v < 0)
            return usage_err("--op %s: unknown operation (put, update_by_key, delete_by_key, get, "
                             "get_save)", arg);
        o->op = (dxj_bench_op)v;
        return 0;
    }
    case O_MODEL: c->model_path = arg; return 0;
    case O_TABLE: o->table = arg; return 0;
    case O_SAMPLE: o->sample = arg; return 0;
    case O_SAMPLE_ROWS:
        if (!parse_u32(arg, &o->sample_rows) || !o->sample_rows) break;
        return 0;
    case O_ITEM_BYTES:
        if (!parse_u32(arg, &o->item_bytes) || o->item_bytes > DX_MAX_ITEM_SIZE) break;
        return 0;
    case O_ITEMS:
        if (!parse_u64(arg, &o->items) || !o->items) break;
        return 0;
    case O_DURATION:
        if (!parse_duration(arg, &o->duration_ms))
            return usage_err("--duration %s: expected a time such as 30, 30s, 500ms or 2m", arg);
        return 0;
    case O_WORKERS:
        if (!parse_u32(arg, &o->workers) || !o->workers || o->workers > 1024) break;
        return 0;
    case O_INFLIGHT:
        if (!parse_u32(arg, &o->inflight) || !o->inflight || o->inflight > 4096) break;
        return 0;
    case O_SWEEP:
        if (!parse_sweep(arg, o))
            return usage_err("--sweep %s: expected depths such as 1,2,4,8 or 1..256 (at most %d, "
                             "each > 0)", arg, DXJ_BENCH_MAX_SWEEP);
        return 0;
    case O_BACKEND:
        if (strcmp(arg, "memory") != 0 && strcmp(arg, "dynamodb") != 0)
            return usage_err("--backend %s: expected memory or dynamodb", arg);
        c->backend = arg;
        return 0;
    case O_ENDPOINT: o->endpoint = arg; return 0;
    case O_REGION: o->region = arg; return 0;
    case O_PROFILE: o->profile = arg; return 0;
    case O_INSECURE: o->insecure = true; return 0;
    case O_WCU:
        if (!parse_double(arg, &o->table_wcu)) break;
        return 0;
    case O_RCU:
        if (!parse_double(arg, &o->table_rcu)) break;
        return 0;
    case O_MAX_WCU:
        if (!parse_double(arg, &o->rate.max_wcu)) break;
        return 0;
    case O_MAX_RCU:
        if (!parse_double(arg, &o->rate.max_rcu)) break;
        return 0;
    case O_NO_ADAPTIVE: c->no_adaptive = true; return 0;
    case O_NO_HINT: o->no_capacity_hint = true; return 0;
    case O_MAX_ATTEMPTS:
        if (!parse_u32(arg, &o->retry.max_attempts) || !o->retry.max_attempts) break;
        return 0;
    case O_SEED:
        if (!parse_u64(arg, &o->seed)) break;
        return 0;
    case O_ALLOW_EXISTING: o->allow_existing = true; return 0;
    case O_KEEP: o->keep = true; return 0;
    case O_JSON: c->json = true; return 0;
    case O_QUIET: c->quiet++; return 0;
    case O_HELP: c->help = true; return 0;
    }
    return usage_err("--%s %s: expected %s", name, arg ? arg : "",
                     op->id == O_ITEM_BYTES ? "a size in bytes up to 409600"
                     : op->id == O_WORKERS  ? "a number from 1 to 1024"
                     : op->id == O_INFLIGHT ? "a number from 1 to 4096"
                     : op->id == O_SEED     ? "a whole number"
                     : (op->id == O_WCU || op->id == O_RCU || op->id == O_MAX_WCU ||
                        op->id == O_MAX_RCU)
                         ? "a number of units per second (0 or more)"
                         : "a whole number above 0");
}

static int parse(int argc, char **argv, cfg *c) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const opt *op = NULL;
        const char *arg = NULL;
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            op = find_long(a + 2, len);
            if (!op) return usage_err("unknown option --%.*s", (int)len, a + 2);
            if (eq) {
                if (!op->arg) return usage_err("--%s takes no value", op->name);
                arg = eq + 1;
            }
        } else if (a[0] == '-' && a[1] && !a[2]) {
            op = find_short(a[1]);
            if (!op) return usage_err("unknown option %s", a);
        } else {
            return usage_err("unexpected argument '%s' (bench takes only options)", a);
        }
        if (op->arg && !arg) {
            if (i + 1 >= argc) return usage_err("--%s needs a value (%s)", op->name, op->arg);
            arg = argv[++i];
        }
        int rc = apply(c, op, arg);
        if (rc) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- run */

static atomic_int stop_flag;

static void on_signal(int sig) {
    (void)sig;
    if (atomic_exchange(&stop_flag, 1)) _exit(130);
}

static void log_cb(const char *msg, void *ud) {
    const cfg *c = ud;
    if (c->quiet) return;
    fprintf(stderr, "dynox bench: %s\n", msg);
}

static void print_human(const cfg *c, const dxj_bench_result *res, const char *model_desc) {
    const dxj_bench_opts *o = &c->o;
    printf("dynox bench: %s on %s, table %s (%s)\n", res->op, res->backend, res->table,
           res->table_created ? "created for the run" : "existing");
    printf("  items: %s, %u attributes, %.0f bytes on average%s\n", model_desc, res->attributes,
           res->item_bytes, res->sampled ? " (bodies sampled from the input file)" : "");
    printf("  workers: %u, each with its own engine", res->workers);
    if (o->duration_ms) printf("; %.1f s per run", (double)o->duration_ms / 1000.0);
    if (res->hint_wcu > 0) printf("; limiter started at the table's %.0f WCU", res->hint_wcu);
    printf("\n\n");
    printf("%9s %10s %10s %12s %8s %8s %8s %8s %9s %8s %7s %9s\n", "in-flight", "items",
           "items/s", "units/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "throttles", "retries",
           "errors", "CPU ms/1k");
    for (size_t i = 0; i < res->npoints; i++) {
        const dxj_bench_point *p = &res->points[i];
        printf("%9u %10" PRIu64 " %10.0f %12.1f %8.2f %8.2f %8.2f %8.2f %9" PRIu64 " %8" PRIu64
               " %7" PRIu64 " %9.2f\n",
               p->inflight, p->items, p->items_per_s, p->units_per_s, p->p50_ms, p->p95_ms,
               p->p99_ms, p->max_ms, p->throttles, p->retries, p->errors, p->cpu_ms_per_1k);
    }
    printf("\n");
    if (res->stopped)
        printf("Stopped by a signal: the last run is shorter than asked (its figures cover the "
               "time it ran).\n");
    if (res->npoints > 1) {
        if (res->knee)
            printf("Throughput stops growing at %u in flight per worker (the next depth gained "
                   "less than 5%%).\n", res->knee);
        else
            printf("Throughput was still growing at the last depth: try deeper.\n");
    }
    for (size_t i = 0; i < res->npoints; i++) {
        if (res->points[i].failed)
            printf("In-flight %u: %" PRIu64 " items failed after retries.\n",
                   res->points[i].inflight, res->points[i].failed);
    }
    if (o->keep) {
        printf("Kept what was written (keys bench-%s-*)%s.\n", res->tag,
               res->table_created ? " and the table" : "");
    } else if (res->table_deleted) {
        printf("Deleted table %s (created by this run).\n", res->table);
    } else if (res->cleanup_ok) {
        printf("Deleted every item this run wrote (%" PRIu64 " deletes).\n", res->cleaned);
    } else {
        printf("Clean-up incomplete: items with keys tagged %s may remain in %s.\n", res->tag,
               res->table);
    }
}

int cli_bench_main(int argc, char **argv) {
    cfg c;
    memset(&c, 0, sizeof c);
    int rc = parse(argc, argv, &c);
    if (rc) return rc;
    if (c.help) {
        usage(stdout);
        return EXIT_OK;
    }
    dxj_bench_opts *o = &c.o;
    if (o->sample && !c.model_path)
        return usage_err("--sample needs --model: the model types the sample's rows");
    if (o->nsweep && o->inflight)
        return usage_err("--sweep and --in-flight both set the depth: give one");
    bool remote = o->endpoint || o->region || o->profile;
    if (c.backend && strcmp(c.backend, "memory") == 0 && (remote || o->insecure))
        return usage_err("--endpoint, --region, --profile and --insecure are for --backend dynamodb");
    o->dynamodb = c.backend ? strcmp(c.backend, "dynamodb") == 0 : remote;
    o->rate.adaptive = !c.no_adaptive;

    dx_model *model = NULL;
    dx_result r;
    dx_result_clear(&r);
    char model_desc[300];
    if (c.model_path) {
        dx_err e = dx_model_load(c.model_path, &model, &r);
        if (e) {
            err("%s", r.message[0] ? r.message : dx_strerror(e));
            return EXIT_USAGE;
        }
        o->model = model;
        snprintf(model_desc, sizeof model_desc, "model %s", c.model_path);
    } else {
        snprintf(model_desc, sizeof model_desc, "built-in model");
    }
    dx_env env = dx_env_process();
    o->env = &env;
    o->stop = &stop_flag;
    o->log = log_cb;
    o->ud = &c;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    dxj_bench_result res;
    dx_err e = dxj_bench_run(o, &res, &r);
    res.stopped = atomic_load(&stop_flag) != 0;
    int code = EXIT_OK;
    if (e == DX_ERR_CONFIG && res.npoints == 0) {
        err("%s", r.message[0] ? r.message : dx_strerror(e));
        code = EXIT_USAGE;
    } else if (e != DX_OK) {
        err("%s", r.message[0] ? r.message : dx_strerror(e));
        code = EXIT_FATAL;
    }
    if (res.npoints) {
        if (c.json) {
            dx_buf b = {0};
            if (dxj_bench_json(&res, &b) == DX_OK) printf("%s\n", b.ptr);
            dx_buf_free(&b);
        } else {
            print_human(&c, &res, model_desc);
        }
        if (code == EXIT_OK) {
            for (size_t i = 0; i < res.npoints; i++)
                if (res.points[i].failed) code = EXIT_ROWS;
            if (!res.cleanup_ok) code = EXIT_ROWS;
        }
        if (res.stopped && code == EXIT_OK) code = 128 + SIGINT; /* like dynox run */
    }
    fflush(stdout);
    dx_model_free(model);
    return code;
}
