/*
 * clitest.c - see clitest.h: run the dynox binary, capture what it prints,
 * compare with golden files.
 *
 * The child's stdout and stderr go to files in a temporary directory rather
 * than pipes, so a chatty child can never block on a full pipe while the
 * test waits for it.
 *
 * Must never: signal anything but the child it started.
 */
#include "clitest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *ct_dynox(void) {
    static char path[512];
    if (!path[0]) {
        const char *b = getenv("BUILD");
        snprintf(path, sizeof path, "%s/dynox", b && *b ? b : "build");
    }
    return path;
}

bool ct_updating(void) {
    const char *u = getenv("DYNOX_UPDATE_GOLDEN");
    return u && strcmp(u, "1") == 0;
}

char *ct_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (got == 0) break;
        n += got;
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int ct_write_file(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(text, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

int ct_write_text(const char *path, const char *text) {
    return ct_write_file(path, text, strlen(text));
}

static int mkdirs(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return (mkdir(tmp, 0755) == 0 || errno == EEXIST) ? 0 : -1;
}

int ct_tmpdir(const char *prefix, char *out, size_t n) {
    const char *b = getenv("BUILD");
    char base[512];
    snprintf(base, sizeof base, "%s/tests/cmd", b && *b ? b : "build");
    if (mkdirs(base) != 0) return -1;
    snprintf(out, n, "%s/%s-XXXXXX", base, prefix);
    return mkdtemp(out) ? 0 : -1;
}

void ct_rmdir(const char *dir) {
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) waitpid(pid, NULL, 0);
}

void ct_result_free(ct_result *res) {
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}

int ct_run(const char *const *args, const char *const *env, int timeout_s, ct_result *res) {
    memset(res, 0, sizeof *res);
    char dir[600];
    if (ct_tmpdir("run", dir, sizeof dir) != 0) return -1;
    char out_path[700], err_path[700];
    snprintf(out_path, sizeof out_path, "%s/stdout", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);

    const char *argv[64];
    size_t na = 0;
    argv[na++] = ct_dynox();
    for (size_t i = 0; args && args[i] && na < 63; i++) argv[na++] = args[i];
    argv[na] = NULL;

    char home[700];
    snprintf(home, sizeof home, "HOME=%s", dir);
    const char *path = getenv("PATH");
    char path_env[4096];
    snprintf(path_env, sizeof path_env, "PATH=%s", path ? path : "/usr/bin:/bin");
    const char *envp[64];
    size_t ne = 0;
    envp[ne++] = path_env;
    envp[ne++] = home;
    envp[ne++] = "AWS_EC2_METADATA_DISABLED=true";
    envp[ne++] = "LC_ALL=C";
    /* Under SAN=1 a sanitizer report must not pass for dynox's own exit 1. */
    const char *asan = getenv("ASAN_OPTIONS");
    char asan_env[512];
    snprintf(asan_env, sizeof asan_env, "ASAN_OPTIONS=%s%sexitcode=86", asan ? asan : "",
             asan && *asan ? ":" : "");
    envp[ne++] = asan_env;
    envp[ne++] = "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86";
    for (size_t i = 0; env && env[i] && ne < 63; i++) envp[ne++] = env[i];
    envp[ne] = NULL;

    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || o < 0 || e < 0) _exit(126);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execve(argv[0], (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    int st = 0;
    time_t start = time(NULL);
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) return -1;
        if (time(NULL) - start > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    res->out = ct_read_file(out_path, &res->out_len);
    res->err = ct_read_file(err_path, &res->err_len);
    if (!res->out) res->out = calloc(1, 1);
    if (!res->err) res->err = calloc(1, 1);
    unlink(out_path);
    unlink(err_path);
    rmdir(dir);
    return 0;
}

/* ---------------------------------------------------------------- golden */

static void first_difference(const char *name, const char *a, size_t al, const char *b, size_t bl) {
    size_t line = 1, i = 0, start = 0;
    while (i < al && i < bl && a[i] == b[i]) {
        if (a[i] == '\n') {
            line++;
            start = i + 1;
        }
        i++;
    }
    const char *ae = memchr(a + start, '\n', al - start);
    const char *be = memchr(b + start, '\n', bl - start);
    int an = (int)(ae ? (size_t)(ae - a) - start : al - start);
    int bn = (int)(be ? (size_t)(be - b) - start : bl - start);
    fprintf(stderr,
            "golden %s differs at line %zu:\n  expected: %.*s\n  actual:   %.*s\n"
            "(if the change is intended: DYNOX_UPDATE_GOLDEN=1, then review git diff "
            "tests/cmd/golden)\n",
            name, line, start < bl ? bn : 0, start < bl ? b + start : "", start < al ? an : 0,
            start < al ? a + start : "");
}

int ct_golden(const char *name, const char *text, size_t len) {
    char path[600];
    snprintf(path, sizeof path, "tests/cmd/golden/%s", name);
    if (ct_updating()) {
        mkdirs("tests/cmd/golden");
        if (ct_write_file(path, text, len) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            return -1;
        }
        return 0;
    }
    size_t gl = 0;
    char *g = ct_read_file(path, &gl);
    if (!g) {
        fprintf(stderr, "golden file %s is missing (DYNOX_UPDATE_GOLDEN=1 creates it)\n", path);
        return -1;
    }
    int rc = 0;
    if (gl != len || memcmp(g, text, len) != 0) {
        first_difference(name, text, len, g, gl);
        rc = -1;
    }
    free(g);
    return rc;
}

int ct_golden_file(const char *name, const char *path) {
    size_t n = 0;
    char *t = ct_read_file(path, &n);
    int rc = ct_golden(name, t ? t : "", t ? n : 0);
    free(t);
    return rc;
}

/* ---------------------------------------------------------------- reports */

/* Keys whose values change from run to run (time, scheduling, throttling). */
static const char *const volatile_keys[] = {
    "duration_s", "rows_per_s", "started_at", "finished_at", "latency", "requests",
    "retries",    "throttles",  "errors",     "hot_keys",    "rcu",     "wcu",
};

char *ct_mask_report(const char *json) {
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return NULL;
    }
    for (size_t i = 0; i < sizeof volatile_keys / sizeof volatile_keys[0]; i++) {
        if (cJSON_GetObjectItemCaseSensitive(root, volatile_keys[i]))
            cJSON_ReplaceItemInObjectCaseSensitive(root, volatile_keys[i],
                                                   cJSON_CreateString("<masked>"));
    }
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    if (!out) return NULL;
    size_t n = strlen(out);
    char *s = malloc(n + 2);
    if (s) {
        memcpy(s, out, n);
        s[n] = '\n';
        s[n + 1] = 0;
    }
    cJSON_free(out);
    return s;
}
