/*
 * opts.c - the command line's options as data, and the parser that walks
 * argv with them (after curl's tool_getparam.c).
 *
 * Every option is one row of `options[]`, sorted by long name so that
 * lookup is a bsearch: its short letter, the kind of argument it takes,
 * where in cli_config the value goes (an offsetof), the range a number must
 * be in, the commands it applies to, and the help text with its default.
 * The parser only fills cli_config and records which options were given; it
 * never acts on them. The help screens list options from the same table, so
 * an option cannot exist without being documented.
 *
 * Must never: accept an option a command does not use (it says which
 * command it belongs to instead), or read a value it cannot parse whole
 * ("4x" is not a number).
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum arg_kind {
    ARG_BOOL,   /* --flag: sets a bool */
    ARG_COUNT,  /* -v, -q: counts */
    ARG_STRING, /* --x VALUE */
    ARG_ENUM,   /* --x one|of|these */
    ARG_UINT,   /* whole number in [lo, hi], uint32_t */
    ARG_U64,    /* whole number in [lo, hi], uint64_t */
    ARG_NUM,    /* number in [lo, hi], double */
    ARG_OPTNUM, /* --x or --x=NUMBER (the bare flag means hi) */
    ARG_SHARD,  /* I/N or N */
    ARG_HELP
} arg_kind;

typedef struct opt {
    const char *name; /* long name, without "--" */
    char letter;      /* short form, 0 when none */
    arg_kind kind;
    size_t off;       /* where the value goes in cli_config */
    double lo, hi;    /* range of numbers; ARG_ENUM: unused */
    unsigned cmds;    /* commands that accept it */
    const char *meta; /* the value's name in help ("N", "FILE") or the enum's choices */
    const char *help;
    const char *deflt; /* shown as "(default: ...)"; NULL: nothing shown */
    unsigned alt_cmds; /* these commands show alt_deflt instead */
    const char *alt_deflt;
} opt;

#define F(field) offsetof(cli_config, field)
#define CONN (CLI_RUN | CLI_ITEM_CMDS | CLI_TABLE_CMDS)

/* Sorted by name (strcmp order): findopt bsearches it. */
static const opt options[] = {
    {"backend", 0, ARG_ENUM, F(backend), 0, 0, CONN, "memory|dynamodb",
     "where to read and write: the in-memory backend (nothing leaves this process) or DynamoDB",
     "dynamodb", CLI_RUN, "the job file's backend.type, else memory"},
    {"capacity-share", 0, ARG_NUM, F(capacity_share), 0, 1, CLI_RUN, "F",
     "use at most this fraction of the table's provisioned capacity, so live traffic keeps the "
     "rest",
     "the job file's capacity_share, else no limit", 0, NULL},
    {"checkpoint", 0, ARG_STRING, F(checkpoint), 0, 0, CLI_RUN, "FILE",
     "record every few seconds how far the input is finished, for --resume",
     "the job file's checkpoint, else none", 0, NULL},
    {"condition", 0, ARG_STRING, F(condition), 0, 0, CLI_PUT | CLI_DELETE, "EXPR",
     "ConditionExpression the write must meet; #name stands for attribute name, :v for a value "
     "from --values",
     "none", 0, NULL},
    {"consistent-read", 0, ARG_BOOL, F(consistent_read), 0, 0, CLI_RUN | CLI_GET, NULL,
     "strongly consistent reads (run: the reads of get_* operations and --verify)",
     "the model's consistent_read", CLI_RUN, "the job file's consistent_read, else off"},
    {"ddb-json", 0, ARG_BOOL, F(ddb_json), 0, 0, CLI_GET | CLI_PUT, NULL,
     "print the item as DynamoDB JSON ({\"a\":{\"S\":\"x\"}}) instead of plain JSON", "plain JSON",
     0, NULL},
    {"dry-run", 'n', ARG_BOOL, F(dry_run), 0, 0, CLI_RUN, NULL,
     "run on the memory backend whatever the job file says (with --seed/--dump to see the effect)",
     "the job file's dry_run", 0, NULL},
    {"dump", 0, ARG_STRING, F(dump), 0, 0, CLI_RUN | CLI_ITEM_CMDS, "FILE",
     "memory backend: write the table afterwards as DynamoDB JSON lines, sorted by key", "none",
     CLI_RUN, "the job file's backend.dump, else none"},
    {"endpoint", 0, ARG_STRING, F(endpoint), 0, 0, CONN, "URL",
     "DynamoDB endpoint (http://127.0.0.1:8000 for DynamoDB Local or dynalite)",
     "AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, the profile's, else the region's", 0, NULL},
    {"failures", 0, ARG_STRING, F(failures), 0, 0, CLI_RUN, "FILE",
     "write rows that failed after retries here, as JSON lines (a valid input for a re-run)",
     "the job file's failures, else none", 0, NULL},
    {"format", 0, ARG_ENUM, F(format), 0, 0, CLI_RUN | CLI_VALIDATE, "auto|csv|jsonl",
     "the input's format (auto: from the file name, else '{' means JSON lines)",
     "the job file's input.format, else auto", 0, NULL},
    {"help", 'h', ARG_HELP, F(help), 0, 0, CLI_ALL_CMDS, NULL, "show this help", NULL, 0, NULL},
    {"in-flight", 0, ARG_UINT, F(inflight), 1, 4096, CLI_RUN, "N",
     "requests each worker keeps in flight", "the job file's in_flight, else 32", 0, NULL},
    {"input", 'i', ARG_STRING, F(input), 0, 0, CLI_RUN | CLI_VALIDATE, "PATH",
     "read this file instead of the job file's input.path (- for standard input)",
     "the job file's input.path", 0, NULL},
    {"insecure", 0, ARG_BOOL, F(insecure), 0, 0, CONN, NULL,
     "do not verify the endpoint's TLS certificate (local test endpoints only)", "verify", 0, NULL},
    {"item", 0, ARG_STRING, F(item), 0, 0, CLI_PUT, "JSON",
     "the item as plain JSON typed by the model ({\"user_id\":\"u1\",\"age\":41})", "required", 0,
     NULL},
    {"json", 0, ARG_BOOL, F(json), 0, 0, CLI_RUN, NULL,
     "print the final report as JSON on standard output", "off", 0, NULL},
    {"key", 0, ARG_STRING, F(key), 0, 0, CLI_GET | CLI_DELETE, "JSON",
     "the item's key as plain JSON typed by the model ({\"user_id\":\"u1\"})", "required", 0, NULL},
    {"limit", 0, ARG_U64, F(limit), 1, 9e15, CLI_RUN, "N", "stop after N input rows",
     "the job file's limit, else all rows", 0, NULL},
    {"max-rcu", 0, ARG_NUM, F(max_rcu), 0, 1e9, CLI_RUN, "U",
     "hard cap on read capacity units per second", "the job file's max_rcu, else none", 0, NULL},
    {"max-wcu", 0, ARG_NUM, F(max_wcu), 0, 1e9, CLI_RUN, "U",
     "hard cap on write capacity units per second", "the job file's max_wcu, else none", 0, NULL},
    {"model", 'm', ARG_STRING, F(model), 0, 0, CLI_ITEM_CMDS | CLI_TABLE_CMDS, "FILE",
     "the model file (docs/models.md) naming the table and typing the JSON", "required", 0, NULL},
    {"output", 'o', ARG_STRING, F(output), 0, 0, CLI_TABLE_DUMP, "FILE",
     "write the dump here instead of standard output", "standard output", 0, NULL},
    {"profile", 0, ARG_STRING, F(profile), 0, 0, CONN, "NAME",
     "AWS profile for credentials and region (as aws --profile)", "AWS_PROFILE, else default", 0,
     NULL},
    {"quiet", 'q', ARG_COUNT, F(quiet), 0, 0, CLI_ALL_CMDS, NULL,
     "print only errors and warnings (no progress, no summary)", NULL, 0, NULL},
    {"rate", 0, ARG_NUM, F(rate), 0, 1e9, CLI_RUN, "ROWS/S",
     "at most this many rows per second, all workers together",
     "the job file's rate, else no limit", 0, NULL},
    {"rcu", 0, ARG_NUM, F(rcu), 1, 1e6, CLI_TABLE_CREATE, "U",
     "provisioned read capacity units (give --wcu too)", "on-demand", 0, NULL},
    {"region", 0, ARG_STRING, F(region), 0, 0, CONN, "REGION", "AWS region (us-east-1)",
     "AWS_REGION, AWS_DEFAULT_REGION, else the profile's region", 0, NULL},
    {"rejects", 0, ARG_STRING, F(rejects), 0, 0, CLI_RUN, "FILE",
     "write rejected rows here with the reason, as JSON lines (a valid input for a re-run)",
     "the job file's rejects, else none", 0, NULL},
    {"report", 0, ARG_STRING, F(report), 0, 0, CLI_RUN, "FILE",
     "write the final report as JSON here (- for standard output, like --json)",
     "the job file's report, else none", 0, NULL},
    {"resume", 0, ARG_BOOL, F(resume), 0, 0, CLI_RUN, NULL,
     "continue from the --checkpoint file: only rows after its mark are applied, except those an "
     "interrupted run had already written (listed in the checkpoint)",
     "off", 0, NULL},
    {"rows", 0, ARG_U64, F(rows), 1, 9e15, CLI_VALIDATE, "N", "map the first N rows of the input",
     "100", 0, NULL},
    {"seed", 0, ARG_STRING, F(seed), 0, 0, CLI_RUN | CLI_ITEM_CMDS | CLI_TABLE_DUMP, "FILE",
     "memory backend: load these DynamoDB JSON lines (.zst too) into the table first", "none",
     CLI_RUN, "the job file's backend.seed, else none"},
    {"shard", 0, ARG_SHARD, F(shard_index), 0, 0, CLI_RUN, "I/N",
     "take shard I of N (from 0) of the input; N alone takes I from JOB_COMPLETION_INDEX or "
     "AWS_BATCH_JOB_ARRAY_INDEX",
     "the whole input", 0, NULL},
    {"simulate-rcu", 0, ARG_NUM, F(sim_rcu), 0, 1e9, CLI_RUN, "U",
     "dry run: the memory table throttles like a table with U read units",
     "the job file's, else unlimited", 0, NULL},
    {"simulate-wcu", 0, ARG_NUM, F(sim_wcu), 0, 1e9, CLI_RUN, "U",
     "dry run: the memory table throttles like a table with U write units",
     "the job file's, else unlimited", 0, NULL},
    {"skip-hooks", 0, ARG_BOOL, F(skip_hooks), 0, 0, CLI_RUN | CLI_ITEM_CMDS, NULL,
     "do not run the model's hooks (set_now, bump_version, validate, plugins)", "hooks run",
     CLI_RUN, "the job file's hooks.skip, else hooks run"},
    {"values", 0, ARG_STRING, F(values), 0, 0, CLI_PUT | CLI_DELETE, "JSON",
     "values for --condition as a JSON object ({\":min\":3}; numbers N, strings S)", "none", 0,
     NULL},
    {"verbose", 'v', ARG_COUNT, F(verbose), 0, 0, CLI_ALL_CMDS, NULL,
     "say more: -v information messages (where the client connects, what the job does), -vv debug "
     "messages too",
     NULL, 0, NULL},
    {"verify", 0, ARG_OPTNUM, F(verify), 0, 1, CLI_RUN, "[=F]",
     "read back this fraction of written rows with consistent reads and compare (bare: all; "
     "--verify 0.1 or --verify=0.1)",
     "the job file's verify, else none", 0, NULL},
    {"wcu", 0, ARG_NUM, F(wcu), 1, 1e6, CLI_TABLE_CREATE, "U",
     "provisioned write capacity units (give --rcu too)", "on-demand", 0, NULL},
    {"workers", 'w', ARG_UINT, F(workers), 1, 256, CLI_RUN, "N", "worker threads",
     "the job file's workers, else 2", 0, NULL},
    {"yes", 'y', ARG_BOOL, F(yes), 0, 0, CLI_RUN | CLI_TABLE_DELETE, NULL,
     "confirm a destructive operation without asking (needed when not on a terminal)", "ask", 0,
     NULL},
};

#define NOPTS (sizeof options / sizeof options[0])
_Static_assert(NOPTS <= CLI_MAX_OPTS, "cli_config.given is too small");

static int optcmp(const void *k, const void *e) {
    return strcmp((const char *)k, ((const opt *)e)->name);
}

static const opt *findopt(const char *name) {
    return bsearch(name, options, NOPTS, sizeof options[0], optcmp);
}

static const opt *findshort(char c) {
    for (size_t i = 0; i < NOPTS; i++)
        if (options[i].letter == c) return &options[i];
    return NULL;
}

const char *cli_suggest(const char *name, cli_cmd cmd) {
    const char *best = NULL;
    size_t bestd = strlen(name) <= 4 ? 2 : 3; /* only close matches */
    for (size_t i = 0; i < NOPTS; i++) {
        if (!(options[i].cmds & cmd)) continue;
        size_t d = dx_edit_distance(name, options[i].name);
        /* A prefix of a longer option ("--work") is a near miss too. */
        if (d >= bestd && strncmp(options[i].name, name, strlen(name)) == 0 && strlen(name) >= 3)
            d = 1;
        if (d < bestd) {
            bestd = d;
            best = options[i].name;
        }
    }
    return best;
}

bool cli_given(const cli_config *cfg, const char *name) {
    const opt *o = findopt(name);
    return o && cfg->given[o - options];
}

char *cli_abs_path(const char *p) {
    if (!p) return NULL;
    if (p[0] == '/' || strcmp(p, "-") == 0) return strdup(p);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return strdup(p);
    size_t n = strlen(cwd) + strlen(p) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s/%s", cwd, p);
    return out;
}

/* ---------------------------------------------------------------- values */

static void range_text(const opt *o, char *out, size_t n) {
    if (o->hi >= 1e9) {
        snprintf(out, n, "%g or more", o->lo);
    } else {
        snprintf(out, n, "%g-%g", o->lo, o->hi);
    }
}

static int bad_value(const cli_config *cfg, const opt *o, const char *fmt, ...) DX_PRINTF(3, 4);
static int bad_value(const cli_config *cfg, const opt *o, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_err(cfg, "--%s: %s", o->name, msg);
    cli_try_help(cfg);
    return CLI_EXIT_USAGE;
}

/* Parses a whole decimal number (digits only: no sign, no space, no suffix). */
static bool parse_whole(const char *s, uint64_t *out) {
    if (!*s) return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        if (v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

static bool parse_number(const char *s, double *out) {
    if (!*s || *s == ' ' || *s == '\t') return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(d)) return false;
    *out = d;
    return true;
}

/* The environment variables --shard N takes its index from, in order. */
static const char *const shard_env[] = {"JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"};

static int set_shard(cli_config *cfg, const opt *o, const char *v) {
    uint64_t i = 0, n = 0;
    const char *slash = strchr(v, '/');
    char head[32];
    if (slash) {
        size_t hl = (size_t)(slash - v);
        if (hl >= sizeof head) hl = sizeof head - 1;
        memcpy(head, v, hl);
        head[hl] = 0;
        if (!parse_whole(head, &i) || !parse_whole(slash + 1, &n))
            return bad_value(cfg, o, "'%s' is not I/N (shard I of N, counting from 0) or N", v);
    } else {
        if (!parse_whole(v, &n))
            return bad_value(cfg, o, "'%s' is not I/N (shard I of N, counting from 0) or N", v);
        const char *env = NULL, *from = NULL;
        for (size_t k = 0; k < sizeof shard_env / sizeof shard_env[0] && !env; k++) {
            env = getenv(shard_env[k]);
            if (env && !*env) env = NULL;
            from = shard_env[k];
        }
        if (!env)
            return bad_value(cfg, o,
                             "only the count was given (%s) and neither JOB_COMPLETION_INDEX "
                             "(Kubernetes Indexed Job) nor AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch "
                             "array job) is set: give --shard I/N",
                             v);
        if (!parse_whole(env, &i))
            return bad_value(cfg, o, "%s='%s' is not a whole number", from, env);
    }
    if (n < 1 || n > 100000)
        return bad_value(cfg, o, "the count %llu is out of range (1-100000)",
                         (unsigned long long)n);
    if (i >= n)
        return bad_value(cfg, o,
                         "shard %llu of %llu: the index counts from 0 and must be below the count",
                         (unsigned long long)i, (unsigned long long)n);
    cfg->shard_index = (uint32_t)i;
    cfg->shard_count = (uint32_t)n;
    return 0;
}

/* Applies option o with value v (NULL when none was given). */
static int set_opt(cli_config *cfg, const opt *o, const char *v) {
    char *base = (char *)cfg;
    char rt[64];
    cfg->given[o - options] = true;
    switch (o->kind) {
    case ARG_HELP:
    case ARG_BOOL:
        *(bool *)(base + o->off) = true;
        return 0;
    case ARG_COUNT:
        (*(int *)(base + o->off))++;
        return 0;
    case ARG_STRING:
        if (!*v) return bad_value(cfg, o, "the value is empty");
        *(const char **)(base + o->off) = v;
        return 0;
    case ARG_ENUM: {
        size_t vl = strlen(v);
        for (const char *c = o->meta; *c;) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            if (cl == vl && strncmp(c, v, vl) == 0) {
                *(const char **)(base + o->off) = v;
                return 0;
            }
            c += cl + (bar ? 1 : 0);
        }
        char choices[128];
        size_t cn = 0;
        for (const char *c = o->meta; *c && cn + 8 < sizeof choices; c++) {
            if (*c != '|') {
                choices[cn++] = *c;
            } else if (strchr(c + 1, '|')) {
                memcpy(choices + cn, ", ", 2);
                cn += 2;
            } else {
                memcpy(choices + cn, " or ", 4);
                cn += 4;
            }
        }
        choices[cn] = 0;
        return bad_value(cfg, o, "'%s' is not %s", v, choices);
    }
    case ARG_UINT:
    case ARG_U64: {
        uint64_t x;
        range_text(o, rt, sizeof rt);
        if (!parse_whole(v, &x)) return bad_value(cfg, o, "'%s' is not a whole number (%s)", v, rt);
        if ((double)x < o->lo || (double)x > o->hi)
            return bad_value(cfg, o, "%s is out of range (%s)", v, rt);
        if (o->kind == ARG_UINT) {
            *(uint32_t *)(base + o->off) = (uint32_t)x;
        } else {
            *(uint64_t *)(base + o->off) = x;
        }
        return 0;
    }
    case ARG_OPTNUM:
        if (!v) {
            *(double *)(base + o->off) = o->hi;
            return 0;
        }
        /* fall through */
    case ARG_NUM: {
        double d;
        range_text(o, rt, sizeof rt);
        if (!parse_number(v, &d)) return bad_value(cfg, o, "'%s' is not a number (%s)", v, rt);
        if (d < o->lo || d > o->hi) return bad_value(cfg, o, "%s is out of range (%s)", v, rt);
        *(double *)(base + o->off) = d;
        return 0;
    }
    case ARG_SHARD:
        return set_shard(cfg, o, v);
    }
    return 0;
}

static bool takes_value(const opt *o) {
    return o->kind == ARG_STRING || o->kind == ARG_ENUM || o->kind == ARG_UINT ||
           o->kind == ARG_U64 || o->kind == ARG_NUM || o->kind == ARG_SHARD;
}

static int not_for_cmd(const cli_config *cfg, const char *shown) {
    cli_err(cfg, "%s does not apply to 'dynox %s'", shown, cfg->cmd_name);
    cli_try_help(cfg);
    return CLI_EXIT_USAGE;
}

/* The whole text is a decimal number (a job file name never is, in practice). */
static bool is_number(const char *s) {
    char *end;
    errno = 0;
    (void)strtod(s, &end);
    return *s && end != s && *end == 0 && errno == 0 && strpbrk(s, "0123456789") != NULL &&
           !strpbrk(s, "xXpP");
}

int cli_parse(cli_cmd cmd, const char *cmd_name, int argc, char **argv, int first, cli_config *cfg,
              const char **pos, size_t maxpos, size_t *npos) {
    memset(cfg, 0, sizeof *cfg);
    cfg->cmd = cmd;
    cfg->cmd_name = cmd_name;
    *npos = 0;
    bool only_pos = false;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
            if (*npos >= maxpos) {
                cli_err(cfg, "unexpected argument '%s'", a);
                cli_try_help(cfg);
                return CLI_EXIT_USAGE;
            }
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (a[1] == '-') {
            /* --name, --name=value, --name value */
            char name[64];
            const char *eq = strchr(a + 2, '=');
            size_t nl = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            if (nl >= sizeof name) nl = sizeof name - 1;
            memcpy(name, a + 2, nl);
            name[nl] = 0;
            const opt *o = findopt(name);
            if (!o) {
                const char *s = cli_suggest(name, cmd);
                if (s) {
                    cli_err(cfg, "unknown option --%s (did you mean --%s?)", name, s);
                } else {
                    cli_err(cfg, "unknown option --%s", name);
                }
                cli_try_help(cfg);
                return CLI_EXIT_USAGE;
            }
            char shown[80];
            snprintf(shown, sizeof shown, "--%s", o->name);
            if (!(o->cmds & cmd)) return not_for_cmd(cfg, shown);
            const char *v = NULL;
            if (takes_value(o)) {
                if (eq) {
                    v = eq + 1;
                } else if (i + 1 < argc) {
                    v = argv[++i];
                } else {
                    cli_err(cfg, "--%s needs a value (%s)", o->name, o->meta);
                    cli_try_help(cfg);
                    return CLI_EXIT_USAGE;
                }
            } else if (eq) {
                if (o->kind != ARG_OPTNUM) {
                    cli_err(cfg, "--%s does not take a value", o->name);
                    cli_try_help(cfg);
                    return CLI_EXIT_USAGE;
                }
                v = eq + 1;
            } else if (o->kind == ARG_OPTNUM && i + 1 < argc && is_number(argv[i + 1])) {
                v = argv[++i]; /* "--verify 0.1" means what "--verify=0.1" means */
            }
            int rc = set_opt(cfg, o, v);
            if (rc) return rc;
            continue;
        }
        /* -x, -xVALUE, -x VALUE, -abc (flags bundled) */
        for (const char *p = a + 1; *p; p++) {
            const opt *o = findshort(*p);
            if (!o) {
                cli_err(cfg, "unknown option -%c", *p);
                cli_try_help(cfg);
                return CLI_EXIT_USAGE;
            }
            char shown[80];
            snprintf(shown, sizeof shown, "-%c (--%s)", *p, o->name);
            if (!(o->cmds & cmd)) return not_for_cmd(cfg, shown);
            if (takes_value(o)) {
                const char *v = p[1] ? p + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (!v) {
                    cli_err(cfg, "-%c needs a value (%s)", *p, o->meta);
                    cli_try_help(cfg);
                    return CLI_EXIT_USAGE;
                }
                int rc = set_opt(cfg, o, v);
                if (rc) return rc;
                break;
            }
            int rc = set_opt(cfg, o, NULL);
            if (rc) return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- help */

/* Writes text wrapped at width, every line indented by indent (the first line too). */
static void wrap(FILE *f, const char *text, int indent, int width) {
    const char *p = text;
    while (*p) {
        int avail = width - indent;
        const char *line_end = p;
        const char *last_space = NULL;
        while (*line_end && line_end - p < avail) {
            if (*line_end == ' ') last_space = line_end;
            line_end++;
        }
        if (*line_end && *line_end != ' ' && last_space) line_end = last_space;
        fprintf(f, "%*s%.*s\n", indent, "", (int)(line_end - p), p);
        p = line_end;
        while (*p == ' ') p++;
    }
}

void cli_print_options(FILE *f, cli_cmd cmd) {
    for (size_t i = 0; i < NOPTS; i++) {
        const opt *o = &options[i];
        if (!(o->cmds & cmd)) continue;
        char head[96];
        int n = 0;
        if (o->letter) {
            n = snprintf(head, sizeof head, "-%c, --%s", o->letter, o->name);
        } else {
            n = snprintf(head, sizeof head, "    --%s", o->name);
        }
        if (o->meta && n > 0 && (size_t)n < sizeof head)
            snprintf(head + n, sizeof head - (size_t)n, o->kind == ARG_OPTNUM ? "%s" : " %s",
                     o->meta);
        fprintf(f, "  %s\n", head);
        char text[600];
        const char *d = (o->alt_cmds & cmd) ? o->alt_deflt : o->deflt;
        if (d && strcmp(d, "required") == 0) {
            snprintf(text, sizeof text, "%s (required)", o->help);
        } else if (d) {
            snprintf(text, sizeof text, "%s (default: %s)", o->help, d);
        } else {
            snprintf(text, sizeof text, "%s", o->help);
        }
        /* The first letter of a help text is written lower-case in the table. */
        wrap(f, text, 8, 80);
    }
}
