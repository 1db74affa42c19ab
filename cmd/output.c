/*
 * output.c - messages on stderr, the confirmation prompt, and the signal
 * handlers.
 *
 * Messages start with "dynox CMD: " so that a script's log says who spoke.
 * The signal handlers only touch an atomic flag and write(2): the first
 * SIGINT or SIGTERM asks the runner to stop reading and finish what is in
 * flight; a second SIGINT exits at once with 130, for a user who cannot
 * wait.
 *
 * Must never: print a credential, or read a confirmation from anything
 * but a terminal.
 */
#include "cli.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void vmsg(const cli_config *cfg, const char *fmt, va_list ap) {
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (cfg && cfg->cmd_name) {
        fprintf(stderr, "dynox %s: %s\n", cfg->cmd_name, buf);
    } else {
        fprintf(stderr, "dynox: %s\n", buf);
    }
}

void cli_err(const cli_config *cfg, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg(cfg, fmt, ap);
    va_end(ap);
}

void cli_note(const cli_config *cfg, const char *fmt, ...) {
    if (cfg && cfg->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", buf);
}

void cli_try_help(const cli_config *cfg) {
    if (cfg && cfg->cmd_name) {
        fprintf(stderr, "Try 'dynox %s --help'.\n", cfg->cmd_name);
    } else {
        fprintf(stderr, "Try 'dynox --help'.\n");
    }
}

void cli_err_result(const cli_config *cfg, const char *what, dx_err e, const dx_result *r) {
    const char *msg = r && r->message[0] ? r->message : dx_strerror(e);
    /* An answer from DynamoDB: its error type, HTTP status and request id are
     * what a user quotes to AWS support, and the type says what the message
     * is about ("Requested resource not found" alone names no resource). */
    char detail[200] = "";
    if (r && r->http_status) {
        snprintf(detail, sizeof detail, " (%s%sHTTP %d%s%s)", r->type, r->type[0] ? ", " : "",
                 r->http_status, r->request_id[0] ? ", request id " : "", r->request_id);
    }
    if (what && *what) {
        cli_err(cfg, "%s: %s%s", what, msg, detail);
    } else {
        cli_err(cfg, "%s%s", msg, detail);
    }
}

int cli_confirm(const char *prompt, const char *expect) {
    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO)) return -1;
    fprintf(stderr, "%s ", prompt);
    fflush(stderr);
    char line[512];
    if (!fgets(line, sizeof line, stdin)) {
        fputc('\n', stderr);
        return 0;
    }
    line[strcspn(line, "\r\n")] = 0;
    return strcmp(line, expect) == 0 ? 1 : 0;
}

/* ---------------------------------------------------------------- signals */

static atomic_int stop_flag;
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
    if (stop_signal && sig == SIGINT) {
        static const char msg[] = "\ndynox: interrupted again, exiting now\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
    stop_signal = sig;
    atomic_store(&stop_flag, 1);
    static const char msg[] =
        "\ndynox: stopping: finishing the rows in flight (Ctrl-C again to quit at once)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
}

void cli_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

atomic_int *cli_stop_flag(void) { return &stop_flag; }

int cli_stop_signal(void) { return (int)stop_signal; }
