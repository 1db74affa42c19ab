/*
 * proc.c - see proc.h: fork/exec with pipes, stop by PID with a grace
 * period, and the two helper servers the integration tests start.
 *
 * Must never: signal a process it did not start, or leave a zombie.
 */
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* quiet: the child's stdout goes to /dev/null instead of a pipe nobody may read. */
static int spawn(const char *const argv[], tp_proc *out, bool quiet) {
    int in[2], o[2];
    memset(out, 0, sizeof *out);
    out->in_fd = out->out_fd = -1;
    if (pipe(in) != 0) return -1;
    if (pipe(o) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(in[0]);
        close(in[1]);
        close(o[0]);
        close(o[1]);
        return -1;
    }
    if (pid == 0) {
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(127); /* the parent died before prctl */
#else
        (void)parent;
#endif
        dup2(in[0], 0);
        if (quiet) {
            int dn = open("/dev/null", O_WRONLY);
            if (dn >= 0) dup2(dn, 1);
        } else {
            dup2(o[1], 1);
        }
        close(in[0]);
        close(in[1]);
        close(o[0]);
        close(o[1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    fcntl(in[1], F_SETFD, FD_CLOEXEC);
    fcntl(o[0], F_SETFD, FD_CLOEXEC);
    out->pid = pid;
    out->in_fd = in[1];
    out->out_fd = o[0];
    return 0;
}

int tp_spawn(const char *const argv[], tp_proc *out) { return spawn(argv, out, false); }

int tp_read_line(tp_proc *p, char *buf, size_t n, int timeout_ms) {
    size_t len = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (len + 1 < n) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long el = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= timeout_ms) break;
        struct pollfd pf = {p->out_fd, POLLIN, 0};
        int rc = poll(&pf, 1, (int)(timeout_ms - el));
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) break;
        char c;
        ssize_t r = read(p->out_fd, &c, 1);
        if (r <= 0) break;
        if (c == '\n') {
            buf[len] = 0;
            return 0;
        }
        buf[len++] = c;
    }
    buf[len] = 0;
    return -1;
}

void tp_stop(tp_proc *p) {
    if (p->in_fd >= 0) close(p->in_fd);
    p->in_fd = -1;
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        int status;
        for (int i = 0; i < 300; i++) { /* 3 s grace */
            if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
                p->pid = 0;
                break;
            }
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (p->pid > 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            p->pid = 0;
        }
    }
    if (p->out_fd >= 0) close(p->out_fd);
    p->out_fd = -1;
}

int tp_fault_proxy_start(const char *target_url, const char *const *opts, tp_proc *out,
                         int *port) {
    const char *argv[64];
    size_t n = 0;
    argv[n++] = "node";
    argv[n++] = "tests/support/fault-proxy.js";
    argv[n++] = "--target";
    argv[n++] = target_url;
    for (size_t i = 0; opts && opts[i] && n < 62; i++) argv[n++] = opts[i];
    argv[n] = NULL;
    if (access("tests/support/fault-proxy.js", R_OK) != 0) {
        fprintf(stderr, "fault proxy: tests/support/fault-proxy.js not found: run from the "
                        "repository root\n");
        return -1;
    }
    if (tp_spawn(argv, out) != 0) return -1;
    char line[128];
    if (tp_read_line(out, line, sizeof line, 10000) != 0 || strncmp(line, "LISTENING ", 10) != 0) {
        fprintf(stderr, "fault proxy did not start (said \"%s\")\n", line);
        tp_stop(out);
        return -1;
    }
    *port = atoi(line + 10);
    return 0;
}

int tp_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static bool can_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

int tp_dynalite_start(tp_proc *out, bool ssl, char *url, size_t n) {
    const char *cli = "tests/node_modules/dynalite/cli.js";
    if (access(cli, R_OK) != 0) {
        fprintf(stderr, "dynalite is not installed (%s): run `make deps`\n", cli);
        return -1;
    }
    int port = tp_free_port();
    if (port <= 0) return -1;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    const char *argv[] = {"node", cli, "--host", "127.0.0.1", "--port", ps, "--createTableMs", "0",
                          "--deleteTableMs", "0", "--updateTableMs", "0", ssl ? "--ssl" : NULL,
                          NULL};
    if (spawn(argv, out, true) != 0) return -1;
    for (int i = 0; i < 200; i++) {
        if (can_connect(port)) {
            snprintf(url, n, "%s://127.0.0.1:%d", ssl ? "https" : "http", port);
            return 0;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "dynalite did not start on port %d\n", port);
    tp_stop(out);
    return -1;
}
