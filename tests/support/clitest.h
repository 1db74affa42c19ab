/*
 * clitest.h - helpers for the golden tests of the dynox command
 * (tests/cmd/test_cli.c on the memory backend, test_cli_ddb.c on dynalite).
 *
 * ct_run starts build/$BUILD/dynox as a subprocess (fork/exec, from the
 * repository root, stdin from /dev/null, a clean environment plus what the
 * test adds) and captures its stdout, stderr and exit status. ct_golden
 * compares text with a file under tests/cmd/golden/, or rewrites that file
 * when DYNOX_UPDATE_GOLDEN=1 is set, so a deliberate change of output is one
 * command and a review of the diff:
 *
 *     DYNOX_UPDATE_GOLDEN=1 BUILD=build/x scripts/run-tests.sh \
 *         build/x/tests/cmd/test_cli build/x/tests/cmd/test_cli_ddb   (then: git diff
 * tests/cmd/golden)
 *
 * ct_mask_report removes what changes from run to run in a report (times,
 * rates, latencies, request and throttle counts) before it is compared.
 *
 * Must never: signal a process it did not start, or pass the caller's AWS
 * credentials to the child (the environment is built from scratch).
 */
#ifndef DYNOX_TEST_CLITEST_H
#define DYNOX_TEST_CLITEST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ct_result {
    int status; /* exit code; 128 + signal when killed */
    char *out;  /* stdout, NUL-terminated */
    size_t out_len;
    char *err; /* stderr, NUL-terminated */
    size_t err_len;
} ct_result;

/* build/$BUILD/dynox (BUILD from the environment, default "build"). */
const char *ct_dynox(void);

/*
 * Runs dynox with args (NULL-terminated, without argv[0]) and extra
 * environment entries "K=V" (NULL-terminated; may be NULL) on top of PATH,
 * HOME (a directory without AWS files), AWS_EC2_METADATA_DISABLED=true and sanitizer
 * options that make a sanitizer report exit 86 (not 1, which dynox uses).
 * Gives up after timeout_s seconds (SIGKILL; status 137). 0 or -1.
 */
int ct_run(const char *const *args, const char *const *env, int timeout_s, ct_result *res);
void ct_result_free(ct_result *res);

/* The whole file, NUL-terminated (NULL when it cannot be read); *len may be NULL. */
char *ct_read_file(const char *path, size_t *len);
int ct_write_file(const char *path, const char *text, size_t len);
/* ct_write_file of a NUL-terminated text. 0 or -1. */
int ct_write_text(const char *path, const char *text);

/* A fresh directory build/$BUILD/tests/cmd/<prefix>-XXXXXX; path in out. 0 or -1. */
int ct_tmpdir(const char *prefix, char *out, size_t n);
/* Removes dir and everything in it. */
void ct_rmdir(const char *dir);

/*
 * Compares text with tests/cmd/golden/<name>. With DYNOX_UPDATE_GOLDEN=1
 * writes text there instead and returns 0. On a difference prints the first
 * differing line of both and returns -1.
 */
int ct_golden(const char *name, const char *text, size_t len);
/* The same for a file's contents ("" when the file does not exist). */
int ct_golden_file(const char *name, const char *path);

/*
 * The report JSON (from --json or --report) with volatile keys replaced by
 * "<masked>", re-printed by cJSON (one key per line). malloc'd; NULL when
 * json is not a JSON object.
 */
char *ct_mask_report(const char *json);

/* true when DYNOX_UPDATE_GOLDEN=1. */
bool ct_updating(void);

#endif
