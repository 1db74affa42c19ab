/*
 * run.c - `dynox run` and `dynox validate`: a job file, the flags that
 * override it, and what the user sees around dxj_run.
 *
 * Order of events for run: load the job file (dxj_spec_load), apply the
 * flags that were given (only those: a flag not given never overrides the
 * file), check the result (dxj_spec_check), ask for confirmation when the
 * operation deletes from a real table, install the signal handlers, run
 * (dxj_run) with the progress line and the log, then print the summary,
 * the report (--json) and return the exit code that says how it went.
 * validate stops after the check and maps the first rows itself, with the
 * reader and mapper the runner uses, so that it rejects exactly what a run
 * would.
 *
 * Paths given as flags are relative to the current directory; paths in the
 * job file are relative to the job file's directory (so they are made
 * absolute here before they go into the spec).
 *
 * Must never: start writing before a destructive operation is confirmed,
 * or exit 0 when the accounting does not add up.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mapper.h"
#include "reader.h"

/* ---------------------------------------------------------------- overrides */

static bool set_path(char **field, const char *v) {
    char *p = cli_abs_path(v);
    if (!p) return false;
    free(*field);
    *field = p;
    return true;
}

#define GIVEN(name) cli_given(cfg, name)

/* Copies every flag that was given into the spec (config2setopts, in curl's words). */
static bool apply_overrides(const cli_config *cfg, dxj_spec *s) {
    bool ok = true;
    if (GIVEN("input")) ok &= set_path(&s->input.path, cfg->input);
    if (GIVEN("format")) {
        s->input.format = strcmp(cfg->format, "csv") == 0     ? DXJ_FMT_CSV
                          : strcmp(cfg->format, "jsonl") == 0 ? DXJ_FMT_JSONL
                                                              : DXJ_FMT_AUTO;
    }
    if (cfg->cmd == CLI_VALIDATE) return ok;

    if (GIVEN("backend"))
        s->backend.type =
            strcmp(cfg->backend, "memory") == 0 ? DXJ_BACKEND_MEMORY : DXJ_BACKEND_DYNAMODB;
    /* Connection flags mean DynamoDB unless the user said memory or dry run. */
    if ((GIVEN("endpoint") || GIVEN("region") || GIVEN("profile")) && !GIVEN("backend") &&
        !cfg->dry_run)
        s->backend.type = DXJ_BACKEND_DYNAMODB;
    if (GIVEN("endpoint")) dxj_spec_set_str(&s->backend.endpoint, cfg->endpoint);
    if (GIVEN("region")) dxj_spec_set_str(&s->backend.region, cfg->region);
    if (GIVEN("profile")) dxj_spec_set_str(&s->backend.profile, cfg->profile);
    if (GIVEN("insecure")) s->backend.insecure = true;
    if (GIVEN("seed")) ok &= set_path(&s->backend.seed, cfg->seed);
    if (GIVEN("dump")) ok &= set_path(&s->backend.dump, cfg->dump);
    if (GIVEN("simulate-wcu")) s->backend.sim_wcu = cfg->sim_wcu;
    if (GIVEN("simulate-rcu")) s->backend.sim_rcu = cfg->sim_rcu;
    if (GIVEN("dry-run")) s->dry_run = true;
    if (GIVEN("workers")) s->workers = cfg->workers;
    if (GIVEN("in-flight")) s->inflight = cfg->inflight;
    if (GIVEN("rate")) s->rate = cfg->rate;
    if (GIVEN("max-wcu")) s->max_wcu = cfg->max_wcu;
    if (GIVEN("max-rcu")) s->max_rcu = cfg->max_rcu;
    if (GIVEN("capacity-share")) s->capacity_share = cfg->capacity_share;
    if (GIVEN("skip-hooks")) s->hooks.skip = true;
    if (GIVEN("verify")) s->verify = cfg->verify;
    if (GIVEN("consistent-read")) s->consistent_read = true;
    if (GIVEN("report")) ok &= set_path(&s->report, cfg->report);
    if (GIVEN("rejects")) ok &= set_path(&s->rejects, cfg->rejects);
    if (GIVEN("failures")) ok &= set_path(&s->failures, cfg->failures);
    if (GIVEN("checkpoint")) ok &= set_path(&s->checkpoint, cfg->checkpoint);
    if (GIVEN("resume")) s->resume = true;
    if (GIVEN("limit")) s->limit = cfg->limit;
    if (GIVEN("shard")) {
        s->shard_index = cfg->shard_index;
        s->shard_count = cfg->shard_count;
    }
    if (GIVEN("yes")) s->yes = true;
    return ok;
}

/* Loads, overrides and checks; prints the error and returns 2 on failure. */
static int prepare(const cli_config *cfg, dxj_spec *s) {
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dxj_spec_load(cfg->job, s, &r);
    if (e) {
        cli_err(cfg, "%s", r.message);
        return CLI_EXIT_USAGE;
    }
    if (!apply_overrides(cfg, s)) {
        cli_err(cfg, "out of memory");
        return CLI_EXIT_FATAL;
    }
    dx_result_clear(&r);
    if ((e = dxj_spec_check(s, &r)) != DX_OK) {
        cli_err(cfg, "%s", r.message);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* ---------------------------------------------------------------- confirmation */

/* Records in a regular input file of reasonable size (for the prompt); 0 when unknown. */
static uint64_t count_rows(const dxj_spec *s, const char *path) {
    struct stat st;
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    if (st.st_size > (off_t)256 << 20) return 0; /* counting would keep the user waiting */
    dxj_reader *rd = NULL;
    dx_result r;
    dx_result_clear(&r);
    if (dxj_reader_open(&s->input, path, &rd, &r) != DX_OK) return 0;
    dxj_chunk ch;
    memset(&ch, 0, sizeof ch);
    uint64_t n = 0;
    bool eof = false;
    while (!eof) {
        if (dxj_reader_next(rd, &ch, 10000, 8u << 20, &eof, &r) != DX_OK) {
            n = 0;
            break;
        }
        n += ch.n;
    }
    dxj_chunk_clear(&ch);
    dx_arena_release(&ch.arena);
    dxj_reader_free(rd);
    return n;
}

static int confirm_destructive(const cli_config *cfg, const dxj_spec *s) {
    if (!dxj_op_destructive(s->operation.op) || s->dry_run || s->yes) return 0;
    const char *table = dx_model_config_get(s->model)->table;
    char region[64];
    cli_region(s->backend.region, s->backend.profile, region, sizeof region);
    if (!region[0]) snprintf(region, sizeof region, "(default region)");
    char *path = dxj_spec_path(s, s->input.path);
    char howmany[96];
    uint64_t rows = path ? count_rows(s, path) : 0;
    free(path);
    if (s->limit && (!rows || s->limit < rows)) rows = s->limit;
    if (rows) {
        snprintf(howmany, sizeof howmany, "up to %llu", (unsigned long long)rows);
    } else {
        snprintf(howmany, sizeof howmany, "one item per input row (all rows)");
    }
    char prompt[512];
    snprintf(prompt, sizeof prompt,
             "This deletes %s items from table %s in %s. Type the table name to continue:", howmany,
             table, region);
    int ok = cli_confirm(prompt, table);
    if (ok > 0) return 0;
    if (ok < 0) {
        cli_err(cfg,
                "%s deletes items from table %s in %s and needs confirmation: standard input is "
                "not a terminal, so pass --yes (or try it first with --dry-run)",
                dxj_op_name(s->operation.op), table, region);
    } else {
        cli_err(cfg, "not confirmed; nothing was deleted");
    }
    return CLI_EXIT_USAGE;
}

/* ---------------------------------------------------------------- summary */

/*
 * A spec path as the user should see it: resolved against the job file's
 * directory, "a/b/../c" folded to "a/c" (display only: the runner opens the
 * path as resolved), and relative to the current directory when under it.
 * Returns a static buffer.
 */
static const char *display_path(const dxj_spec *s, const char *p) {
    static char out[PATH_MAX];
    char *full = dxj_spec_path(s, p);
    if (!full) return p;
    char cwd[PATH_MAX];
    const char *parts[256];
    size_t lens[256], n = 0;
    bool abs = full[0] == '/';
    for (char *c = full; *c && n < 256;) {
        while (*c == '/') c++;
        if (!*c) break;
        char *e = strchr(c, '/');
        size_t l = e ? (size_t)(e - c) : strlen(c);
        if (l == 1 && c[0] == '.') {
            /* skip */
        } else if (l == 2 && c[0] == '.' && c[1] == '.' && n > 0 &&
                   !(lens[n - 1] == 2 && memcmp(parts[n - 1], "..", 2) == 0)) {
            n--;
        } else {
            parts[n] = c;
            lens[n++] = l;
        }
        c += l;
    }
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && o + lens[i] + 2 < sizeof out; i++) {
        if (i || abs) out[o++] = '/';
        memcpy(out + o, parts[i], lens[i]);
        o += lens[i];
    }
    out[o] = 0;
    free(full);
    if (abs && getcwd(cwd, sizeof cwd)) {
        size_t cl = strlen(cwd);
        if (strncmp(out, cwd, cl) == 0 && out[cl] == '/')
            memmove(out, out + cl + 1, strlen(out + cl + 1) + 1);
    }
    return out[0] ? out : ".";
}

static void summary(const cli_config *cfg, const dxj_spec *s, const dxj_report *rep) {
    if (cfg->quiet) return;
    char line[1024];
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(line + n, n < sizeof line ? sizeof line - n : 0, __VA_ARGS__)
    ADD("%s%llu rows: %llu written", rep->dry_run ? "dry run: " : "",
        (unsigned long long)rep->rows_in, (unsigned long long)rep->written);
    ADD(", %llu rejected", (unsigned long long)rep->rejected);
    if (rep->rejected && s->rejects) ADD(" (see %s)", display_path(s, s->rejects));
    ADD(", %llu failed", (unsigned long long)rep->failed);
    if (rep->failed && s->failures) ADD(" (see %s)", display_path(s, s->failures));
    ADD(" in %.1f s, %.0f rows/s", rep->duration_s, rep->rows_per_s);
    if (n >= sizeof line) n = sizeof line - 1;
    fprintf(stderr, "%s\n", line);

    if (rep->conditional_failed || rep->missing || rep->superseded) {
        char parts[512] = "";
        size_t pn = 0;
        if (rep->conditional_failed)
            pn += (size_t)snprintf(parts + pn, sizeof parts - pn, "%sconditions not met: %llu",
                                   pn ? ", " : "", (unsigned long long)rep->conditional_failed);
        if (rep->missing && pn < sizeof parts)
            pn += (size_t)snprintf(parts + pn, sizeof parts - pn, "%sitems missing: %llu",
                                   pn ? "; " : "", (unsigned long long)rep->missing);
        if (rep->superseded && pn < sizeof parts)
            snprintf(parts + pn, sizeof parts - pn,
                     "%sputs superseded by a later row with the same key: %llu", pn ? "; " : "",
                     (unsigned long long)rep->superseded);
        fprintf(stderr, "  %s\n", parts);
    }
    if (rep->stopped_at_record)
        fprintf(stderr,
                "  stopped at row %llu (line %llu): %llu rows read were not started; after it, "
                "%llu rows written anyway are counted (a resume skips them) and %llu rejected or "
                "failed are not (a resume does them again)\n",
                (unsigned long long)rep->stopped_at_record,
                (unsigned long long)rep->stopped_at_line, (unsigned long long)rep->not_started,
                (unsigned long long)rep->done_past_mark, (unsigned long long)rep->after_stop);
    if (rep->skipped_done)
        fprintf(stderr, "  %llu rows skipped: an earlier run had written them\n",
                (unsigned long long)rep->skipped_done);
    if ((rep->rejected && !s->rejects) || (rep->failed && !s->failures))
        fprintf(stderr,
                "  (give --rejects FILE / --failures FILE to keep those rows for a re-run)\n");
    fprintf(
        stderr,
        "  %llu requests, %llu retries, %llu throttled; %.1f WCU, %.1f RCU; latency p50 %.2f ms, "
        "p99 %.2f ms\n",
        (unsigned long long)rep->requests, (unsigned long long)rep->retries,
        (unsigned long long)rep->throttles, rep->wcu, rep->rcu, rep->latency.p50_ms,
        rep->latency.p99_ms);
    for (size_t i = 0; i < rep->nhot_keys && i < DXJ_HOT_KEYS; i++)
        fprintf(stderr, "  hot key %s: %llu throttles (%s)\n", rep->hot_keys[i].key,
                (unsigned long long)rep->hot_keys[i].throttles, rep->hot_keys[i].reason);
    if (rep->verified || rep->mismatched) {
        fprintf(stderr, "  verified %llu rows with consistent reads: %llu mismatched\n",
                (unsigned long long)rep->verified, (unsigned long long)rep->mismatched);
        for (size_t i = 0; i < rep->nmismatches && i < DXJ_MISMATCHES; i++)
            fprintf(stderr, "    %s: %s\n", rep->mismatches[i].key, rep->mismatches[i].what);
    }
    if (rep->resumed_from)
        fprintf(stderr,
                "  resumed after %llu finished rows; all runs: %llu rows, %llu written, "
                "%llu rejected, %llu failed\n",
                (unsigned long long)rep->resumed_from, (unsigned long long)rep->total_rows_in,
                (unsigned long long)rep->total_written, (unsigned long long)rep->total_rejected,
                (unsigned long long)rep->total_failed);
    if (rep->dry_run && s->backend.dump)
        fprintf(stderr, "  table dumped to %s\n", display_path(s, s->backend.dump));
    if (s->report && strcmp(s->report, "-") != 0)
        fprintf(stderr, "  report: %s\n", display_path(s, s->report));
#undef ADD
}

/* Writes the report JSON to the job's report file (the runner does not write it). */
static int write_report_file(const cli_config *cfg, const char *path, const dx_buf *json) {
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_err(cfg, "cannot write the report to %s: %s", path, strerror(errno));
        return -1;
    }
    size_t w = fwrite(json->ptr, 1, json->len, f);
    if (fclose(f) != 0 || w != json->len) {
        cli_err(cfg, "cannot write the report to %s", path);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- run */

/*
 * After a halt: where to go on from. With a checkpoint, its mark is the first
 * row not started (or the end of what was read); without one, say what was
 * left undone, since nothing records it.
 */
static void resume_hint(const cli_config *cfg, const dxj_spec *s, const dxj_report *rep,
                        const char *what) {
    if (s->checkpoint && rep->checkpoint_stale)
        cli_err(cfg, "%s: re-run with --resume to continue from its mark", what);
    else if (s->checkpoint && rep->stopped_at_record)
        cli_err(cfg, "%s: re-run with --resume to continue from row %llu (line %llu)", what,
                (unsigned long long)rep->stopped_at_record,
                (unsigned long long)rep->stopped_at_line);
    else if (s->checkpoint)
        cli_err(cfg, "%s: re-run with --resume to continue after the %llu rows finished", what,
                (unsigned long long)(rep->resumed_from + rep->rows_in + rep->skipped_done));
    else if (rep->stopped_at_record)
        cli_err(cfg,
                "%s: %llu rows read were not started, from row %llu (line %llu) on, and the rest "
                "of the input was not read; without a checkpoint there is nothing to resume "
                "from (run with --checkpoint FILE to be able to --resume)",
                what, (unsigned long long)rep->not_started,
                (unsigned long long)rep->stopped_at_record,
                (unsigned long long)rep->stopped_at_line);
    else
        cli_err(cfg,
                "%s: the input after row %llu was not read; without a checkpoint there is "
                "nothing to resume from (run with --checkpoint FILE to be able to --resume)",
                what, (unsigned long long)rep->rows_in);
}

/* Rows the job (all its runs, when resumed) did not write: exit 1. */
static bool rows_left(const dxj_report *rep) {
    if (rep->resumed_from) return rep->total_rejected || rep->total_failed;
    return rep->rejected || rep->failed;
}

int cli_cmd_run(int argc, char **argv, int first) {
    cli_config cfg;
    const char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(CLI_RUN, "run", argc, argv, first, &cfg, pos, 1, &npos);
    if (rc) return rc;
    if (cfg.help) {
        cli_help(stdout, CLI_RUN);
        return CLI_EXIT_OK;
    }
    if (npos != 1) {
        cli_err(&cfg, "no job file given (dynox run JOB.json)");
        cli_try_help(&cfg);
        return CLI_EXIT_USAGE;
    }
    cfg.job = pos[0];

    dxj_spec s;
    memset(&s, 0, sizeof s);
    dxj_report rep;
    memset(&rep, 0, sizeof rep);
    dx_buf json = {0};
    if ((rc = prepare(&cfg, &s)) != 0) goto out;

    /* Flags that only make sense on the memory backend. */
    if (!s.dry_run) {
        const char *mem_only = cli_given(&cfg, "seed")           ? "--seed"
                               : cli_given(&cfg, "dump")         ? "--dump"
                               : cli_given(&cfg, "simulate-wcu") ? "--simulate-wcu"
                               : cli_given(&cfg, "simulate-rcu") ? "--simulate-rcu"
                                                                 : NULL;
        if (mem_only) {
            cli_err(&cfg, "%s is for dry runs on the memory backend: add --dry-run", mem_only);
            cli_try_help(&cfg);
            rc = CLI_EXIT_USAGE;
            goto out;
        }
    }
    if (s.resume && !s.checkpoint) {
        cli_err(
            &cfg,
            "--resume needs a checkpoint: --checkpoint FILE, or \"checkpoint\" in the job file");
        cli_try_help(&cfg);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    /* The report is written at the end: make sure it can be, before anything is done. */
    if (s.report && strcmp(s.report, "-") != 0) {
        char *rp = dxj_spec_path(&s, s.report);
        FILE *f = rp ? fopen(rp, "a") : NULL;
        if (!f) {
            cli_err(&cfg, "cannot write the report to %s: %s", rp ? rp : s.report, strerror(errno));
            free(rp);
            rc = CLI_EXIT_USAGE;
            goto out;
        }
        fclose(f);
        free(rp);
    }
    if ((rc = confirm_destructive(&cfg, &s)) != 0) goto out;

    cli_ui ui;
    cli_ui_init(&ui, &cfg);
    ui.limit = s.limit;
    cli_signals_install();
    dxj_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.stop = cli_stop_flag();
    ro.progress = cli_ui_progress;
    ro.progress_ms = 500;
    ro.log = cli_ui_log;
    ro.ud = &ui;

    dx_result r;
    dx_result_clear(&r);
    dx_err e = dxj_run(&s, &ro, &rep, &r);
    cli_ui_finish(&ui);
    /* The job never started: nothing was read or written, there is no report to keep. */
    if (e && !rep.started) {
        cli_err_result(&cfg, "", e, &r);
        rc = (e == DX_ERR_CONFIG || e == DX_ERR_IO || e == DX_ERR_PARSE || e == DX_ERR_INVALID_ARG)
                 ? CLI_EXIT_USAGE
                 : CLI_EXIT_FATAL;
        goto out;
    }

    if (dxj_report_json(&rep, &json) != DX_OK) {
        cli_err(&cfg, "out of memory writing the report");
        rc = CLI_EXIT_FATAL;
        goto out;
    }
    /* "--report -" is --json: the report on standard output (once, even with both). */
    bool report_stdout = s.report && strcmp(s.report, "-") == 0;
    char *report_path = report_stdout ? NULL : dxj_spec_path(&s, s.report);
    bool report_lost = report_path && write_report_file(&cfg, report_path, &json) != 0;
    free(report_path);
    summary(&cfg, &s, &rep);
    if (cfg.json || report_stdout) {
        fwrite(json.ptr, 1, json.len, stdout);
        fflush(stdout);
    }

    if (rep.status == DXJ_STATUS_FATAL || e) {
        cli_err(&cfg, "fatal: %s; %llu rows were handled before it stopped (%llu written)",
                rep.error[0] ? rep.error : (r.message[0] ? r.message : dx_strerror(e)),
                (unsigned long long)rep.rows_in, (unsigned long long)rep.written);
        if (rep.started) {
            char what[700];
            char *cpp = s.checkpoint ? dxj_spec_path(&s, s.checkpoint) : NULL;
            bool none = s.checkpoint && rep.checkpoint_stale && cpp && access(cpp, F_OK) != 0;
            free(cpp);
            if (none)
                snprintf(what, sizeof what,
                         "no checkpoint %s was written before the error: fix the cause and run "
                         "the job again without --resume",
                         display_path(&s, s.checkpoint));
            else if (s.checkpoint && rep.checkpoint_stale)
                snprintf(what, sizeof what,
                         "the checkpoint %s is from before the error (the last one written "
                         "before it; this run's later work is not in it): fix the cause",
                         display_path(&s, s.checkpoint));
            else if (s.checkpoint)
                snprintf(what, sizeof what, "the checkpoint %s is up to date: fix the cause",
                         display_path(&s, s.checkpoint));
            else
                snprintf(what, sizeof what, "fix the cause");
            if (none)
                cli_err(&cfg, "%s", what);
            else
                resume_hint(&cfg, &s, &rep, what);
        }
        rc = CLI_EXIT_FATAL;
    }
    if (!rep.accounting_ok) {
        cli_err(&cfg,
                "BUG: the accounting does not add up: %llu rows in, but %llu written + %llu "
                "rejected + %llu failed = %llu. Some rows may not have been handled. Please report "
                "this with the job file and the report.",
                (unsigned long long)rep.rows_in, (unsigned long long)rep.written,
                (unsigned long long)rep.rejected, (unsigned long long)rep.failed,
                (unsigned long long)(rep.written + rep.rejected + rep.failed));
        rc = CLI_EXIT_FATAL;
    } else if (rc == CLI_EXIT_FATAL) {
        /* reported above */
    } else if (rep.status == DXJ_STATUS_INTERRUPTED) {
        int sig = cli_stop_signal();
        if (!cfg.quiet) resume_hint(&cfg, &s, &rep, "stopped by a signal before the end of the input");
        rc = 128 + (sig ? sig : SIGINT);
    } else if (rows_left(&rep) || rep.mismatched) {
        rc = CLI_EXIT_ROWS;
    } else {
        rc = CLI_EXIT_OK;
    }
    if (report_lost && rc < CLI_EXIT_FATAL) rc = CLI_EXIT_FATAL; /* asked for, not delivered */
out:
    dx_buf_free(&json);
    dxj_spec_free(&s);
    return rc;
}

/* ---------------------------------------------------------------- validate */

static void print_reject(const char *file, const dxj_record *rec, const char *field,
                         const char *why) {
    printf("%s:%llu: row %llu: ", file, (unsigned long long)rec->line,
           (unsigned long long)rec->index);
    if (field && *field) printf("%s: ", field);
    printf("%s\n", why);
}

int cli_cmd_validate(int argc, char **argv, int first) {
    cli_config cfg;
    const char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(CLI_VALIDATE, "validate", argc, argv, first, &cfg, pos, 1, &npos);
    if (rc) return rc;
    if (cfg.help) {
        cli_help(stdout, CLI_VALIDATE);
        return CLI_EXIT_OK;
    }
    if (npos != 1) {
        cli_err(&cfg, "no job file given (dynox validate JOB.json)");
        cli_try_help(&cfg);
        return CLI_EXIT_USAGE;
    }
    cfg.job = pos[0];
    uint64_t max_rows = cfg.rows ? cfg.rows : 100;

    dxj_spec s;
    memset(&s, 0, sizeof s);
    dxj_reader *rd = NULL;
    dxj_mapper *mp = NULL;
    char *path = NULL;
    dxj_chunk ch;
    memset(&ch, 0, sizeof ch);
    dx_arena a = {0};
    if ((rc = prepare(&cfg, &s)) != 0) goto out;

    const dx_model *m = s.model;
    const dx_attr_def *rk = dx_model_range_key(m);
    printf("job %s: %s on table %s (model %s, key %s%s%s), %s\n", cfg.job,
           dxj_op_name(s.operation.op), dx_model_config_get(m)->table, dx_model_name(m),
           dx_model_hash_key(m)->name, rk ? " + " : "", rk ? rk->name : "",
           s.dry_run ? "dry run on the memory backend" : "backend dynamodb");

    dx_result r;
    dx_result_clear(&r);
    path = dxj_spec_path(&s, s.input.path);
    dx_err e = path ? dxj_reader_open(&s.input, path, &rd, &r) : DX_ERR_NOMEM;
    if (e) {
        cli_err_result(&cfg, "input", e, &r);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    size_t ncols = 0;
    const char *const *cols = dxj_reader_columns(rd, &ncols);
    const char *name =
        strcmp(s.input.path, "-") == 0 ? dxj_reader_name(rd) : display_path(&s, s.input.path);
    if (cols) {
        printf("input %s: csv, %zu columns:", name, ncols);
        for (size_t i = 0; i < ncols; i++) printf(" %s", cols[i]);
        printf("\n");
    } else {
        printf("input %s: JSON lines\n", name);
    }
    dx_result_clear(&r);
    if ((e = dxj_mapper_new(m, &s.mapping, &s.operation, &s.input, cols, ncols, &mp, &r)) !=
        DX_OK) {
        cli_err(&cfg, "%s: %s", cfg.job, r.message);
        rc = CLI_EXIT_USAGE;
        goto out;
    }

    uint64_t seen = 0, bad = 0;
    bool eof = false;
    while (!eof && seen < max_rows) {
        uint64_t want = max_rows - seen;
        dx_result_clear(&r);
        e = dxj_reader_next(rd, &ch, want < 1000 ? (size_t)want : 1000, 1u << 20, &eof, &r);
        for (size_t i = 0; i < ch.n && seen < max_rows; i++, seen++) {
            const dxj_record *rec = &ch.recs[i];
            if (rec->error) {
                print_reject(name, rec, NULL, rec->error);
                bad++;
                continue;
            }
            dxj_mapped mm;
            dx_result mr;
            dx_result_clear(&mr);
            dx_arena_reset(&a);
            if (dxj_map(mp, rec, &a, &mm, &mr) != DX_OK) {
                print_reject(name, rec, mr.field, mr.message[0] ? mr.message : dx_strerror(mr.err));
                bad++;
            }
        }
        if (e) {
            cli_err_result(&cfg, "input", e, &r);
            rc = CLI_EXIT_USAGE;
            goto out;
        }
    }
    printf("checked %llu rows%s: %llu map, %llu would be rejected\n", (unsigned long long)seen,
           eof ? " (the whole input)" : "", (unsigned long long)(seen - bad),
           (unsigned long long)bad);
    rc = bad ? CLI_EXIT_ROWS : CLI_EXIT_OK;
out:
    fflush(stdout);
    dxj_chunk_clear(&ch);
    dx_arena_release(&ch.arena);
    dx_arena_release(&a);
    dxj_mapper_free(mp);
    dxj_reader_free(rd);
    free(path);
    dxj_spec_free(&s);
    return rc;
}
