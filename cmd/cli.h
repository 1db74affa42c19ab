/*
 * cli.h - the dynox command: what the pieces of cmd/ share.
 *
 * cmd/ is a thin program over jobs/ and lib/ (zstd's programs/ over its
 * lib/, curl's src/tool_* over libcurl): argv becomes a cli_config through a
 * table of options (opts.c), and each command (run.c, items.c, table.c)
 * turns the config into library calls. cmd/ owns everything the user sees:
 * stdout, stderr, the progress line, prompts and exit codes. It holds no
 * logic of its own beyond that.
 *
 * Must never: print a credential (not even with -v), or write anything
 * before the user has confirmed a destructive operation on a real table.
 */
#ifndef DYNOX_CMD_CLI_H
#define DYNOX_CMD_CLI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dynox/dynox.h"
#include "runner.h"
#include "spec.h"

/* Exit codes (README.md, "Exit codes"). */
enum {
    CLI_EXIT_OK = 0,    /* every row written / the command did what it was asked */
    CLI_EXIT_ROWS = 1,  /* finished, but rows were rejected or failed, or verification found
                           mismatches; get: no such item; put/delete: condition not met */
    CLI_EXIT_USAGE = 2, /* usage, spec or model error: nothing was written */
    CLI_EXIT_FATAL = 3  /* fatal error during the run (what was done is reported) */
};

/* The commands, as bits so that an option can list those it applies to. */
typedef enum cli_cmd {
    CLI_RUN = 1u << 0,
    CLI_VALIDATE = 1u << 1,
    CLI_GET = 1u << 2,
    CLI_PUT = 1u << 3,
    CLI_DELETE = 1u << 4,
    CLI_TABLE_CREATE = 1u << 5,
    CLI_TABLE_DESCRIBE = 1u << 6,
    CLI_TABLE_DELETE = 1u << 7,
    CLI_TABLE_DUMP = 1u << 8
} cli_cmd;

#define CLI_ITEM_CMDS (CLI_GET | CLI_PUT | CLI_DELETE)
#define CLI_TABLE_CMDS (CLI_TABLE_CREATE | CLI_TABLE_DESCRIBE | CLI_TABLE_DELETE | CLI_TABLE_DUMP)
#define CLI_ALL_CMDS (CLI_RUN | CLI_VALIDATE | CLI_ITEM_CMDS | CLI_TABLE_CMDS)

#define CLI_MAX_OPTS 96

/*
 * Everything the command line can say. Zero means "not given" for every
 * field; given[] (indexed like the option table) tells a flag given as 0
 * from one not given, so that only given flags override a job file.
 */
typedef struct cli_config {
    cli_cmd cmd;
    const char *cmd_name; /* "run", "table create", ... for messages */
    const char *job;      /* run, validate: the job file */
    bool help;

    /* Backend and connection. */
    const char *backend; /* "memory" or "dynamodb" */
    const char *endpoint, *region, *profile;
    bool insecure;
    const char *seed, *dump;
    double sim_wcu, sim_rcu;

    /* run (and validate) overrides of the job file. */
    bool dry_run;
    const char *input, *format;
    uint32_t workers, inflight;
    double rate, max_wcu, max_rcu, capacity_share;
    bool skip_hooks;
    double verify;
    bool consistent_read;
    const char *report, *rejects, *failures, *checkpoint;
    bool resume;
    uint64_t limit;
    uint32_t shard_index, shard_count;
    bool yes;
    int quiet, verbose;
    bool json;

    /* validate */
    uint64_t rows;

    /* get, put, delete, table */
    const char *model;
    const char *key, *item, *condition, *values;
    bool ddb_json;
    double rcu, wcu;
    const char *output;

    bool given[CLI_MAX_OPTS];
} cli_config;

/* --- opts.c --- */

/*
 * Parses argv[first..argc) for command cmd into cfg (zeroed first, then
 * cmd set). Positional arguments go to pos (at most maxpos; *npos gets the
 * count). Prints the error to stderr and returns CLI_EXIT_USAGE on a bad
 * option; 0 otherwise.
 */
int cli_parse(cli_cmd cmd, const char *cmd_name, int argc, char **argv, int first, cli_config *cfg,
              const char **pos, size_t maxpos, size_t *npos);
/* true when the option named `name` (long name, no dashes) was given. */
bool cli_given(const cli_config *cfg, const char *name);
/* Writes the option list for cmd (every option it takes, with its default) to f. */
void cli_print_options(FILE *f, cli_cmd cmd);
/* The nearest long option to `name` among those for cmd, or NULL when none is close. */
const char *cli_suggest(const char *name, cli_cmd cmd);
/* A path given on the command line, made absolute (so a job file's directory does not
 * apply to it); "-" stays "-". malloc'd; NULL on OOM. */
char *cli_abs_path(const char *p);

/* --- help.c --- */

/* Prints the help of command cmd (0: the overview) to f. */
void cli_help(FILE *f, cli_cmd cmd);
/* The command for a name ("run", "table create", "table"), 0 when unknown. */
cli_cmd cli_cmd_from_name(const char *name, const char *sub);

/* --- output.c: messages, log, progress, confirmation, signals --- */

/* "dynox: ...\n" to stderr (with the command name when known). */
void cli_err(const cli_config *cfg, const char *fmt, ...) DX_PRINTF(2, 3);
/* A message to stderr unless -q. */
void cli_note(const cli_config *cfg, const char *fmt, ...) DX_PRINTF(2, 3);
/* "Try 'dynox CMD --help'." after a usage error. */
void cli_try_help(const cli_config *cfg);
/* Prints r's message (or dx_strerror) after a prefix. */
void cli_err_result(const cli_config *cfg, const char *what, dx_err e, const dx_result *r);

/*
 * Asks the user to type `expect` on the terminal (prompt on stderr) when
 * stdin and stderr are terminals. Returns 1 when confirmed, 0 when the user
 * typed something else, -1 when there is no terminal to ask on.
 */
int cli_confirm(const char *prompt, const char *expect);

/*
 * Installs SIGINT/SIGTERM handlers that set the stop flag (pass
 * cli_stop_flag() to dxj_run_opts.stop) and say so on stderr; a second
 * SIGINT exits 130 at once.
 */
void cli_signals_install(void);
atomic_int *cli_stop_flag(void);
/* The signal that stopped the run (0: none). */
int cli_stop_signal(void);

/* --- progress.c: the progress line, the runner's log, the final summary --- */

#define CLI_RING 10

/* What the progress line and the log share. Zero-initialise, then cli_ui_init. */
typedef struct cli_ui {
    const cli_config *cfg;
    uint64_t limit; /* the job's limit (0: none), for the time left */
    bool tty;       /* stderr is a terminal: draw the progress line */
    bool drawn;     /* a progress line is on the screen */
    size_t drawn_len;
    uint64_t last_ms; /* when the line was last drawn */
    struct {
        uint64_t ms, rows, bytes; /* rows finished */
    } ring[CLI_RING];             /* recent samples, for rates that follow the present */
    size_t nring, head;
    void *mu; /* pthread_mutex_t *: logs come from several threads */
} cli_ui;

void cli_ui_init(cli_ui *ui, const cli_config *cfg);
/* dxj_run_opts.progress: redraws the line, at most every 500 ms. */
void cli_ui_progress(const dxj_progress *p, void *ud);
/* dxj_run_opts.log: errors and warnings always, information with -v, debug with -vv. */
void cli_ui_log(dxj_log_level level, const char *msg, void *ud);
/* Erases the progress line (before the summary). */
void cli_ui_finish(cli_ui *ui);
/* "12.3k": a count in at most 5 columns. */
void cli_fmt_count(uint64_t v, char out[8]);
/* "1:02:03" / "2:03": a duration; "--:--" when unknown (negative). */
void cli_fmt_eta(double s, char out[16]);

/* --- client.c --- */

/*
 * The client for the item and table commands: the memory backend (the
 * model's table created, then --seed loaded) or DynamoDB resolved from the
 * environment and --endpoint/--region/--profile/--insecure. *where gets a
 * description for -v ("DynamoDB at URL, region R from AWS_REGION"). Prints
 * the error and returns the exit code on failure; 0 on success.
 */
int cli_client_open(const cli_config *cfg, const dx_model *m, dx_client **out, char *where,
                    size_t wn);
/* The region the DynamoDB backend would use (for the confirmation prompt); "" when none. */
void cli_region(const char *region_opt, const char *profile, char *out, size_t n);

/* --- commands --- */

int cli_cmd_run(int argc, char **argv, int first);
int cli_cmd_validate(int argc, char **argv, int first);
int cli_cmd_item(cli_cmd cmd, int argc, char **argv, int first);
int cli_cmd_table(cli_cmd cmd, int argc, char **argv, int first);

#endif
