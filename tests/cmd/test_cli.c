/*
 * test_cli.c - golden tests of the dynox command on the memory backend.
 *
 * Runs build/$BUILD/dynox as a subprocess (tests/support/clitest.h) and
 * compares what it prints and writes with files under tests/cmd/golden/:
 *   - every --help text, and the messages and exit code 2 of usage errors;
 *   - `dynox validate` on the sample jobs (exit 1: they hold bad rows on
 *     purpose) and on broken job files (tests/cmd/data/, exit 2);
 *   - each sample job as a dry run: the report (volatile keys masked), the
 *     dumped table byte for byte, the rejects and failures files line by
 *     line; exit codes 0 and 1;
 *   - the single-item and table commands on the memory backend;
 *   - the confirmation that deleting from a real table needs.
 * test_cli_ddb.c runs the same jobs against dynalite and compares with the
 * same dump and rejects files.
 *
 * Run from the repository root (scripts/run-tests.sh does). To regenerate
 * the golden files after a deliberate change of output:
 *
 *     make BUILD=build/x tests
 *     DYNOX_UPDATE_GOLDEN=1 BUILD=build/x scripts/run-tests.sh \
 *         build/x/tests/cmd/test_cli build/x/tests/cmd/test_cli_ddb
 *     git diff tests/cmd/golden     # review every change before committing
 *
 * DYNOX_TEST_FILTER=test_jobs (a cmocka pattern, * allowed) runs some tests only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "dynox/dynox.h"
#include "testutil.h"

#define T 60 /* seconds before a hung dynox is killed */

static const char *const ENV[] = {"AWS_REGION=us-east-1", NULL};

/* ---------------------------------------------------------------- help */

typedef struct help_case {
    const char *args[4];
    const char *golden;
} help_case;

static const help_case help_cases[] = {
    {{"--help"}, "help.txt"},
    {{"run", "--help"}, "help-run.txt"},
    {{"validate", "--help"}, "help-validate.txt"},
    {{"get", "--help"}, "help-get.txt"},
    {{"put", "--help"}, "help-put.txt"},
    {{"delete", "--help"}, "help-delete.txt"},
    {{"table", "--help"}, "help-table.txt"},
    {{"table", "create", "--help"}, "help-table-create.txt"},
    {{"table", "describe", "--help"}, "help-table-describe.txt"},
    {{"table", "delete", "--help"}, "help-table-delete.txt"},
    {{"table", "dump", "--help"}, "help-table-dump.txt"},
    /* the same texts by the other spellings */
    {{"help"}, "help.txt"},
    {{"-h"}, "help.txt"},
    {{"help", "run"}, "help-run.txt"},
    {{"run", "-h"}, "help-run.txt"},
    {{"help", "table", "dump"}, "help-table-dump.txt"},
};

static void test_help(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof help_cases / sizeof help_cases[0]; i++) {
        const help_case *c = &help_cases[i];
        ct_result res;
        assert_int_equal(ct_run(c->args, ENV, T, &res), 0);
        assert_row_int_equal(i, res.status, 0);
        assert_row_string_equal(i, res.err, "");
        assert_row_int_equal(i, ct_golden(c->golden, res.out, res.out_len), 0);
        /* Help fits a terminal: no line over 80 columns. */
        for (const char *l = res.out; *l;) {
            const char *e = strchr(l, '\n');
            size_t n = e ? (size_t)(e - l) : strlen(l);
            if (n > 80) print_error("row %zu: line over 80 columns: %.*s\n", i, (int)n, l);
            assert_row_true(i, n <= 80);
            l = e ? e + 1 : l + n;
        }
        ct_result_free(&res);
    }
}

static void test_version(void **state) {
    (void)state;
    const char *const args[][2] = {{"version"}, {"--version"}};
    for (size_t i = 0; i < 2; i++) {
        ct_result res;
        assert_int_equal(ct_run(args[i], ENV, T, &res), 0);
        assert_row_int_equal(i, res.status, 0);
        assert_row_true(i, strncmp(res.out, "dynox ", 6) == 0);
        ct_result_free(&res);
    }
}

/* ---------------------------------------------------------------- usage errors */

/* Every row must exit 2 with nothing on stdout; the messages are in one golden transcript. */
static const char *const usage_cases[][12] = {
    {NULL},
    {"rn"},
    {"--workers", "2"},
    {"table"},
    {"table", "drop"},
    {"run"},
    {"run", "a.json", "b.json"},
    {"run", "samples/jobs/dry-run.json", "--workers", "two"},
    {"run", "samples/jobs/dry-run.json", "--workers", "0"},
    {"run", "samples/jobs/dry-run.json", "--workers=300"},
    {"run", "samples/jobs/dry-run.json", "--worker", "3"},
    {"run", "samples/jobs/dry-run.json", "--in-flight"},
    {"run", "samples/jobs/dry-run.json", "-w"},
    {"run", "samples/jobs/dry-run.json", "-x"},
    {"run", "samples/jobs/dry-run.json", "--rate", "fast"},
    {"run", "samples/jobs/dry-run.json", "--rate", "-5"},
    {"run", "samples/jobs/dry-run.json", "--capacity-share", "1.5"},
    {"run", "samples/jobs/dry-run.json", "--verify=all"},
    {"run", "samples/jobs/dry-run.json", "--verify=2"},
    {"run", "samples/jobs/dry-run.json", "--dry-run=yes"},
    {"run", "samples/jobs/dry-run.json", "--limit", "10k"},
    {"run", "samples/jobs/dry-run.json", "--shard", "3"},
    {"run", "samples/jobs/dry-run.json", "--shard", "8/8"},
    {"run", "samples/jobs/dry-run.json", "--shard", "a/b"},
    {"run", "samples/jobs/dry-run.json", "--backend", "mem"},
    {"run", "samples/jobs/dry-run.json", "--key", "{}"},
    {"run", "samples/jobs/dry-run.json", "--region", ""},
    {"run", "samples/jobs/nightly-update.json", "--seed", "samples/data/seed-users.jsonl"},
    {"run", "samples/jobs/dry-run.json", "--resume"},
    {"run", "samples/jobs/dry-run.json", "--rejects", "-"},
    {"run", "no-such-job.json"},
    {"validate"},
    {"validate", "samples/jobs/dry-run.json", "--rows", "0"},
    {"validate", "samples/jobs/dry-run.json", "--workers", "2"},
    {"get"},
    {"get", "--model", "samples/models/users.json"},
    {"get", "--model", "samples/models/no-such.json", "--key", "{}"},
    {"get", "-m", "samples/models/users.json", "--key", "{\"user_id\":\"u1\"}", "--seed",
     "x.jsonl"},
    {"get", "-m", "samples/models/users.json", "--backend", "memory", "--key", "{\"age\":3}"},
    {"get", "-m", "samples/models/users.json", "--backend", "memory", "--key", "[1]"},
    {"put", "-m", "samples/models/users.json"},
    {"put", "-m", "samples/models/users.json", "--backend", "memory", "--item",
     "{\"user_id\":\"u1\"}"},
    {"put", "-m", "samples/models/users.json", "--backend", "memory", "--item",
     "{\"user_id\":\"u1\",\"email\":\"a@b\",\"age\":\"old\"}"},
    {"put", "-m", "samples/models/users.json", "--backend", "memory", "--item",
     "{\"user_id\":\"u1\",\"email\":\"a@b\",\"shoe_size\":44}"},
    {"put", "-m", "samples/models/users.json", "--values", "{}", "--item", "{}"},
    {"delete", "-m", "samples/models/users.json", "--item", "{}"},
    {"table", "create", "--rcu", "5", "-m", "samples/models/users.json", "--backend", "memory"},
    {"table", "create", "-m", "samples/models/users.json", "--rcu", "5"},
};

static void test_usage_errors(void **state) {
    (void)state;
    dx_buf t = {0};
    for (size_t i = 0; i < sizeof usage_cases / sizeof usage_cases[0]; i++) {
        ct_result res;
        assert_int_equal(ct_run(usage_cases[i], ENV, T, &res), 0);
        dx_buf_puts(&t, "$ dynox");
        for (size_t k = 0; usage_cases[i][k]; k++) {
            dx_buf_putc(&t, ' ');
            dx_buf_puts(&t, usage_cases[i][k]);
        }
        dx_buf_printf(&t, "\n%s[exit %d]\n\n", res.err, res.status);
        if (res.status != 2 || res.out_len != 0)
            print_error("row %zu: exit %d, stdout: %s\nstderr: %s\n", i, res.status, res.out,
                        res.err);
        assert_row_int_equal(i, res.status, 2);
        if (i > 0)
            assert_row_int_equal(i, res.out_len, 0); /* row 0: dynox alone prints the overview */
        ct_result_free(&res);
    }
    assert_int_equal(ct_golden("usage-errors.txt", t.ptr, t.len), 0);
    dx_buf_free(&t);
}

/* ---------------------------------------------------------------- validate */

typedef struct validate_case {
    const char *args[6];
    int status;
    const char *golden; /* stdout for exit 0/1, stderr for exit 2 */
} validate_case;

static const validate_case validate_cases[] = {
    {{"validate", "samples/jobs/nightly-update.json"}, 1, "validate-nightly-update.txt"},
    {{"validate", "samples/jobs/dry-run.json", "--rows", "300"}, 1, "validate-dry-run.txt"},
    {{"validate", "samples/jobs/migrate.json"}, 1, "validate-migrate.txt"},
    {{"validate", "samples/jobs/cleanup.json"}, 1, "validate-cleanup.txt"},
    {{"validate", "samples/jobs/nightly-update.json", "--rows", "30"}, 0, "validate-30-rows.txt"},
    {{"validate", "tests/cmd/data/bad-json.json"}, 2, "validate-bad-json.txt"},
    {{"validate", "tests/cmd/data/unknown-key.json"}, 2, "validate-unknown-key.txt"},
    {{"validate", "tests/cmd/data/unknown-op.json"}, 2, "validate-unknown-op.txt"},
    {{"validate", "tests/cmd/data/no-model.json"}, 2, "validate-no-model.txt"},
    {{"validate", "tests/cmd/data/bad-mapping.json"}, 2, "validate-bad-mapping.txt"},
    {{"validate", "tests/cmd/data/no-input.json"}, 2, "validate-no-input.txt"},
    {{"validate", "tests/cmd/data/comment-nested.json"}, 2, "validate-comment-nested.txt"},
    {{"validate", "tests/cmd/data/bad-version.json"}, 2, "validate-bad-version.txt"},
};

static void test_validate(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof validate_cases / sizeof validate_cases[0]; i++) {
        const validate_case *c = &validate_cases[i];
        ct_result res;
        assert_int_equal(ct_run(c->args, ENV, T, &res), 0);
        if (res.status != c->status)
            print_error("row %zu: stdout: %s\nstderr: %s\n", i, res.out, res.err);
        assert_row_int_equal(i, res.status, c->status);
        if (c->status == 2) {
            assert_row_int_equal(i, ct_golden(c->golden, res.err, res.err_len), 0);
        } else {
            assert_row_string_equal(i, res.err, "");
            assert_row_int_equal(i, ct_golden(c->golden, res.out, res.out_len), 0);
        }
        ct_result_free(&res);
    }
}

/* ---------------------------------------------------------------- jobs */

typedef struct job_case {
    const char *name; /* golden files job-<name>.* */
    const char *job;
    const char *extra[6];
    int status;
} job_case;

static const job_case job_cases[] = {
    {"dry-run", "samples/jobs/dry-run.json", {NULL}, 1},
    {"nightly-update",
     "samples/jobs/nightly-update.json",
     {"--dry-run", "--seed", "samples/data/seed-users.jsonl", NULL},
     1},
    {"migrate",
     "samples/jobs/migrate.json",
     {"--dry-run", "--seed", "samples/data/seed-orders.jsonl", NULL},
     1},
    {"cleanup",
     "samples/jobs/cleanup.json",
     {"--dry-run", "--seed", "samples/data/seed-users.jsonl", NULL},
     1},
    /* The other two operations, with a missing item each (tests/cmd/data/). */
    {"get-update",
     "tests/cmd/data/get-update.json",
     {"--dry-run", "--seed", "samples/data/seed-orders.jsonl", NULL},
     1},
    {"get-delete",
     "tests/cmd/data/get-delete.json",
     {"--dry-run", "--seed", "samples/data/seed-users.jsonl", NULL},
     1},
    /* The first 30 rows are all good: exit 0. */
    {"dry-run-30", "samples/jobs/dry-run.json", {"--limit", "30", NULL}, 0},
};

/* The report's counts must add up: rows_in = written + rejected + failed. */
static void check_accounting(size_t row, const char *json) {
    cJSON *r = cJSON_Parse(json);
    assert_row_true(row, cJSON_IsObject(r));
    double in = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "rows_in"));
    double w = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "written"));
    double rj = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "rejected"));
    double f = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "failed"));
    if (in != w + rj + f) print_error("row %zu: %g != %g + %g + %g\n", row, in, w, rj, f);
    assert_row_true(row, in == w + rj + f);
    assert_row_true(row, cJSON_IsTrue(cJSON_GetObjectItem(r, "accounting_ok")));
    cJSON_Delete(r);
}

static void test_jobs(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof job_cases / sizeof job_cases[0]; i++) {
        const job_case *c = &job_cases[i];
        char dir[600], dump[700], rej[700], fail[700], rep[700], ckpt[700], g[128];
        assert_int_equal(ct_tmpdir("job", dir, sizeof dir), 0);
        snprintf(ckpt, sizeof ckpt, "%s/job.ckpt", dir);
        snprintf(dump, sizeof dump, "%s/dump.jsonl", dir);
        snprintf(rej, sizeof rej, "%s/rejects.jsonl", dir);
        snprintf(fail, sizeof fail, "%s/failures.jsonl", dir);
        snprintf(rep, sizeof rep, "%s/report.json", dir);
        /* Every output goes to the temporary directory, never next to the sample job. */
        const char *args[24] = {"run",        c->job, "--dump",   dump, "--rejects",    rej,
                                "--failures", fail,   "--report", rep,  "--checkpoint", ckpt,
                                "--json",     "-q"};
        size_t n = 14;
        for (size_t k = 0; c->extra[k]; k++) args[n++] = c->extra[k];
        args[n] = NULL;
        ct_result res;
        assert_int_equal(ct_run(args, ENV, T, &res), 0);
        if (res.status != c->status) print_error("row %zu (%s): stderr: %s\n", i, c->name, res.err);
        assert_row_int_equal(i, res.status, c->status);
        assert_row_string_equal(i, res.err, ""); /* -q on the memory backend: nothing to say */
        check_accounting(i, res.out);

        char *masked = ct_mask_report(res.out);
        assert_row_true(i, masked != NULL);
        snprintf(g, sizeof g, "job-%s.report.json", c->name);
        assert_row_int_equal(i, ct_golden(g, masked, strlen(masked)), 0);
        /* --report wrote the same report. */
        char *file = ct_read_file(rep, NULL);
        assert_row_true(i, file != NULL);
        char *masked2 = ct_mask_report(file);
        assert_row_string_equal(i, masked2, masked);
        free(file);
        free(masked2);
        free(masked);

        snprintf(g, sizeof g, "job-%s.dump.jsonl", c->name);
        assert_row_int_equal(i, ct_golden_file(g, dump), 0);
        snprintf(g, sizeof g, "job-%s.rejects.jsonl", c->name);
        assert_row_int_equal(i, ct_golden_file(g, rej), 0);
        snprintf(g, sizeof g, "job-%s.failures.jsonl", c->name);
        assert_row_int_equal(i, ct_golden_file(g, fail), 0);
        ct_result_free(&res);
        ct_rmdir(dir);
    }
}

/* Without -q and --json: a summary on stderr, nothing on stdout (not a terminal: no progress). */
static void test_summary(void **state) {
    (void)state;
    char dir[600], rej[700], dump[700], fail[700], rep[700];
    assert_int_equal(ct_tmpdir("sum", dir, sizeof dir), 0);
    snprintf(rej, sizeof rej, "%s/rejects.jsonl", dir);
    snprintf(dump, sizeof dump, "%s/dump.jsonl", dir);
    snprintf(fail, sizeof fail, "%s/failures.jsonl", dir);
    snprintf(rep, sizeof rep, "%s/report.json", dir);
    const char *args[] = {"run",        "samples/jobs/dry-run.json",
                          "--rejects",  rej,
                          "--dump",     dump,
                          "--failures", fail,
                          "--report",   rep,
                          NULL};
    ct_result res;
    assert_int_equal(ct_run(args, ENV, T, &res), 0);
    assert_int_equal(res.status, 1);
    assert_string_equal(res.out, "");
    assert_non_null(strstr(res.err, "dry run: 300 rows: 294 written, 6 rejected (see "));
    assert_non_null(strstr(res.err, "rejects.jsonl), 0 failed in "));
    assert_null(strchr(res.err, '\r')); /* no progress line when stderr is not a terminal */
    ct_result_free(&res);
    ct_rmdir(dir);
}

/* "--report -" puts the report on stdout (once) and "--verify 0.5" means "--verify=0.5". */
static void test_report_stdout(void **state) {
    (void)state;
    char dir[600], rej[700], dump[700], fail[700];
    assert_int_equal(ct_tmpdir("rstdout", dir, sizeof dir), 0);
    snprintf(rej, sizeof rej, "%s/rejects.jsonl", dir);
    snprintf(dump, sizeof dump, "%s/dump.jsonl", dir);
    snprintf(fail, sizeof fail, "%s/failures.jsonl", dir);
    const char *args[] = {"run",      "samples/jobs/dry-run.json", "--rejects", rej, "--dump", dump,
                          "--failures", fail, "--report", "-", "--json", "--verify", "0.5", NULL};
    ct_result res;
    assert_int_equal(ct_run(args, ENV, T, &res), 0);
    assert_int_equal(res.status, 1);
    assert_true(res.out[0] == '{');
    assert_non_null(strstr(res.out, "\"rows_in\": 300,"));
    assert_null(strstr(strstr(res.out, "\"rows_in\"") + 1, "\"rows_in\"")); /* printed once */
    const char *v = strstr(res.out, "\"verified\": ");
    assert_non_null(v);
    long verified = strtol(v + 12, NULL, 10);
    assert_true(verified > 0 && verified < 294); /* a sample, not all 294 written rows */
    assert_null(strstr(res.err, "report: -"));
    ct_result_free(&res);
    ct_rmdir(dir);
}

/* --shard N takes the index from JOB_COMPLETION_INDEX (Kubernetes) or AWS_BATCH_JOB_ARRAY_INDEX. */
static void test_shard_env(void **state) {
    (void)state;
    static const char *const envs[][3] = {
        {"AWS_REGION=us-east-1", "JOB_COMPLETION_INDEX=1", NULL},
        {"AWS_REGION=us-east-1", "AWS_BATCH_JOB_ARRAY_INDEX=1", NULL},
    };
    for (size_t i = 0; i < 2; i++) {
        char dir[600], dump[700], rej[700], fail[700], rep[700];
        assert_int_equal(ct_tmpdir("shard", dir, sizeof dir), 0);
        snprintf(dump, sizeof dump, "%s/dump.jsonl", dir);
        snprintf(rej, sizeof rej, "%s/rejects.jsonl", dir);
        snprintf(fail, sizeof fail, "%s/failures.jsonl", dir);
        snprintf(rep, sizeof rep, "%s/report.json", dir);
        const char *args[] = {"run",        "samples/jobs/dry-run.json",
                              "--shard",    "4",
                              "--dump",     dump,
                              "--rejects",  rej,
                              "--failures", fail,
                              "--report",   rep,
                              "--json",     "-q",
                              NULL};
        ct_result res;
        assert_int_equal(ct_run(args, envs[i], T, &res), 0);
        cJSON *r = cJSON_Parse(res.out);
        assert_row_true(i, r != NULL);
        /* CSV is sharded by record ordinal: 300 rows, every 4th. */
        assert_row_int_equal(i, cJSON_GetNumberValue(cJSON_GetObjectItem(r, "rows_in")), 75);
        cJSON_Delete(r);
        ct_result_free(&res);
        ct_rmdir(dir);
    }
}

/* ---------------------------------------------------------------- items and tables */

typedef struct item_case {
    const char *args[16];
    int status;
    const char *golden; /* stdout; NULL: not compared */
    const char *err;    /* a substring of stderr; NULL: stderr empty */
} item_case;

#define USERS "-m", "samples/models/users.json", "--backend", "memory"
#define SEED "--seed", "samples/data/seed-users.jsonl"

static const item_case item_cases[] = {
    {{"get", USERS, SEED, "--key", "{\"user_id\":\"u0002\"}"}, 0, "get.json", NULL},
    {{"get", USERS, SEED, "--key", "{\"user_id\":\"u0002\"}", "--ddb-json"},
     0,
     "get-ddb.json",
     NULL},
    {{"get", USERS, SEED, "--key", "{\"user_id\":\"nobody\"}"},
     1,
     NULL,
     "no item with key {\"user_id\":\"nobody\"} in table users"},
    {{"put", USERS, "--skip-hooks", "--dump", "-", "--item",
      "{\"user_id\":\"u1\",\"email\":\"a@example.com\",\"age\":41,\"tags\":[\"x\",\"y\"],"
      "\"created_at\":\"2026-01-01T00:00:00.000Z\"}"},
     0,
     "put.jsonl",
     NULL},
    {{"put", USERS, SEED, "--condition", "attribute_not_exists(#user_id)", "--item",
      "{\"user_id\":\"u0001\",\"email\":\"a@example.com\"}"},
     1,
     NULL,
     "the condition was not met"},
    {{"delete", USERS, SEED, "--key", "{\"user_id\":\"u0001\"}", "--condition", "#age > :a",
      "--values", "{\":a\":100}"},
     1,
     NULL,
     "the condition was not met"},
    /* #name needs a name; checked before the backend is touched. */
    {{"put", USERS, "--condition", "attribute_not_exists(#)", "--item",
      "{\"user_id\":\"u1\",\"email\":\"a@example.com\"}"},
     2,
     NULL,
     "dynox put: --condition: '#' must be followed by an attribute name\n"},
    /* A seed that is not DynamoDB JSON lines stops at its first line. */
    {{"get", USERS, "--seed", "samples/jobs/dry-run.json", "--key", "{\"user_id\":\"u1\"}"},
     2,
     NULL,
     "dynox get: --seed: seed file samples/jobs/dry-run.json, line 1: "},
    {{"table", "describe", USERS}, 0, "table-describe.json", NULL},
    {{"table", "dump", USERS, SEED}, 0, "table-dump.jsonl", NULL},
};

static void test_items(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof item_cases / sizeof item_cases[0]; i++) {
        const item_case *c = &item_cases[i];
        ct_result res;
        assert_int_equal(ct_run(c->args, ENV, T, &res), 0);
        if (res.status != c->status) print_error("row %zu: stderr: %s\n", i, res.err);
        assert_row_int_equal(i, res.status, c->status);
        if (c->golden) assert_row_int_equal(i, ct_golden(c->golden, res.out, res.out_len), 0);
        if (c->err) {
            if (!strstr(res.err, c->err)) print_error("row %zu: stderr: %s\n", i, res.err);
            assert_row_true(i, strstr(res.err, c->err) != NULL);
        } else {
            assert_row_string_equal(i, res.err, "");
        }
        ct_result_free(&res);
    }
}

/* A put with hooks: bump_version sets version 1, set_now sets updated_at. */
static void test_put_hooks(void **state) {
    (void)state;
    const char *args[] = {"put", USERS, "--item",
                          "{\"user_id\":\"u1\",\"email\":\"a@example.com\"}", NULL};
    ct_result res;
    assert_int_equal(ct_run(args, ENV, T, &res), 0);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "\"version\":1"));
    assert_non_null(strstr(res.out, "\"updated_at\":\"20"));
    ct_result_free(&res);
}

/* Deleting from a real table needs confirmation; without a terminal, --yes. Nothing is contacted.
 */
static void test_confirmation(void **state) {
    (void)state;
    static const char *const cases[][6] = {
        {"run", "samples/jobs/cleanup.json", NULL},
        {"table", "delete", "-m", "samples/models/users.json", NULL},
    };
    static const char *const want[] = {
        "dynox run: delete_by_key deletes items from table users in us-east-1 and needs "
        "confirmation: standard input is not a terminal, so pass --yes (or try it first with "
        "--dry-run)\n",
        "dynox table delete: refusing to delete table users without confirmation: standard input "
        "is not a terminal, so pass --yes\n",
    };
    const char *env[] = {"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
                         "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                         "AWS_ENDPOINT_URL=http://127.0.0.1:9", NULL};
    for (size_t i = 0; i < 2; i++) {
        ct_result res;
        assert_int_equal(ct_run(cases[i], env, T, &res), 0);
        assert_row_int_equal(i, res.status, 2);
        assert_row_string_equal(i, res.err, want[i]);
        /* Credentials are never printed. */
        assert_row_true(i, strstr(res.err, "wJalrXUtnFEMI") == NULL);
        ct_result_free(&res);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),         cmocka_unit_test(test_version),
        cmocka_unit_test(test_usage_errors), cmocka_unit_test(test_validate),
        cmocka_unit_test(test_jobs),         cmocka_unit_test(test_summary),
        cmocka_unit_test(test_report_stdout),
        cmocka_unit_test(test_shard_env),    cmocka_unit_test(test_items),
        cmocka_unit_test(test_put_hooks),    cmocka_unit_test(test_confirmation),
    };
    /* DYNOX_TEST_FILTER=test_help runs only the tests matching the pattern. */
    const char *filter = getenv("DYNOX_TEST_FILTER");
    if (filter && *filter) cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
