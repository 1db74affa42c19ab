/*
 * proc.h - start and stop helper processes from a test (the fault proxy, a
 * dynalite server), so that a test binary owns what it starts.
 *
 * A child gets a pipe on its stdin and one on its stdout. It is stopped by
 * PID: tp_stop closes its stdin, sends SIGTERM, waits, and SIGKILLs it after
 * a grace period. If the test process dies first (a failed assertion that
 * aborts, a sanitizer report), the child is still stopped: on Linux it is
 * started with PR_SET_PDEATHSIG = SIGTERM, and the helpers written for this
 * (fault-proxy.js) also exit when their stdin reaches end of file.
 *
 * Must never: signal anything but the PID it started.
 */
#ifndef DYNOX_TEST_PROC_H
#define DYNOX_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct tp_proc {
    pid_t pid;     /* 0 when not running */
    int in_fd;     /* the child's stdin (write end) */
    int out_fd;    /* the child's stdout (read end) */
} tp_proc;

/* Starts argv[0] (looked up in PATH) with argv; stderr is inherited. 0 or -1. */
int tp_spawn(const char *const argv[], tp_proc *out);
/* Reads one line of the child's stdout (without the newline) within timeout_ms. 0 or -1. */
int tp_read_line(tp_proc *p, char *buf, size_t n, int timeout_ms);
/* Stops the child (see above) and reaps it. Safe to call twice. */
void tp_stop(tp_proc *p);

/*
 * Starts tests/support/fault-proxy.js in front of target_url with the given
 * extra options ("--seed", "7", ..., NULL-terminated) and waits for its
 * port. Run from the repository root (scripts/run-tests.sh does). 0 or -1.
 */
int tp_fault_proxy_start(const char *target_url, const char *const *opts, tp_proc *out,
                         int *port);

/* A free TCP port on 127.0.0.1 (bound and released; racy but fine for tests). */
int tp_free_port(void);

/*
 * Starts dynalite (tests/node_modules/dynalite/cli.js, as scripts/run-tests.sh
 * does) on a free port and waits until it accepts connections; writes its
 * URL to url. ssl: serve HTTPS with dynalite's own self-signed certificate
 * (https:// URL). 0 or -1 (not installed: run `make deps`).
 */
int tp_dynalite_start(tp_proc *out, bool ssl, char *url, size_t n);

#endif
