/*
 * test_cli_ddb.c - the sample jobs through the dynox command against
 * dynalite, compared with the same golden files as the dry runs of
 * test_cli.c: what a job does to a real table is what its dry run showed.
 *
 * For each job: `dynox table delete` (whatever an earlier run left) and
 * `dynox table create` from the model, a put job (written here) that loads
 * the seed file the dry run used, the job itself with --endpoint, then
 * `dynox table dump`. The dump and the rejects and failures files must equal
 * tests/cmd/golden/job-<name>.{dump,rejects,failures}.jsonl byte for byte;
 * the report (volatile keys masked) has its own golden file, as the backend,
 * dry_run and pitr differ.
 *
 * Also: get, put, delete and table create/describe against the endpoint; a
 * job on a missing table (exit 3); and --verify catching an item that a
 * second writer (a hook plugin) changed right after the job wrote it. That
 * last test needs dynox linked with -rdynamic (plugins resolve dx_* from the
 * program) and is skipped, saying so, when it is not.
 *
 * scripts/run-tests.sh starts dynalite for binaries whose name ends in _ddb
 * and exports DYNOX_TEST_ENDPOINT; without it the tests are skipped.
 * Golden files: DYNOX_UPDATE_GOLDEN=1 rewrites them (see test_cli.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clitest.h"
#include "testutil.h"

#define T 120

static const char *endpoint;
static char env_endpoint[512];
static const char *env[6];

typedef struct ddb_case {
    const char *name; /* golden job-<name>.* (dump, rejects, failures shared with test_cli.c) */
    const char *job;
    const char *model;
    const char *seed;
    const char *extra[4];
    int status;
} ddb_case;

static const ddb_case cases[] = {
    {"nightly-update",
     "samples/jobs/nightly-update.json",
     "samples/models/users.json",
     "samples/data/seed-users.jsonl",
     {NULL},
     1},
    {"migrate",
     "samples/jobs/migrate.json",
     "samples/models/orders.json",
     "samples/data/seed-orders.jsonl",
     {NULL},
     1},
    {"cleanup",
     "samples/jobs/cleanup.json",
     "samples/models/users.json",
     "samples/data/seed-users.jsonl",
     {"--yes", NULL},
     1},
    {"get-update",
     "tests/cmd/data/get-update.json",
     "samples/models/orders.json",
     "samples/data/seed-orders.jsonl",
     {NULL},
     1},
    {"get-delete",
     "tests/cmd/data/get-delete.json",
     "samples/models/users.json",
     "samples/data/seed-users.jsonl",
     {"--yes", NULL},
     1},
};

static int run_ok(size_t row, const char *const *args, int want) {
    ct_result res;
    if (ct_run(args, env, T, &res) != 0) return -1;
    if (res.status != want)
        print_error("row %zu: %s exited %d: %s\n", row, args[0], res.status, res.err);
    int st = res.status;
    ct_result_free(&res);
    return st == want ? 0 : -1;
}

/* A put job that loads a seed file (DynamoDB JSON lines) as it is: no hooks. */
static void write_seed_job(const char *path, const char *model, const char *seed) {
    char cwd[PATH_MAX], text[3 * PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(text, sizeof text,
             "{\"model\": \"%s/%s\", \"input\": {\"path\": \"%s/%s\", \"json\": \"dynamodb\"},\n"
             " \"operation\": {\"type\": \"put\"}, \"hooks\": {\"skip\": true},\n"
             " \"backend\": {\"type\": \"dynamodb\"}}\n",
             cwd, model, cwd, seed);
    assert_int_equal(ct_write_file(path, text, strlen(text)), 0);
}

static void test_jobs_ddb(void **state) {
    (void)state;
    if (!endpoint) skip();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ddb_case *c = &cases[i];
        char dir[600], seedjob[700], dump[700], rej[700], fail[700], rep[700], ckpt[700], g[128];
        assert_int_equal(ct_tmpdir("ddb", dir, sizeof dir), 0);
        snprintf(seedjob, sizeof seedjob, "%s/seed.json", dir);
        snprintf(dump, sizeof dump, "%s/dump.jsonl", dir);
        snprintf(rej, sizeof rej, "%s/rejects.jsonl", dir);
        snprintf(fail, sizeof fail, "%s/failures.jsonl", dir);
        snprintf(rep, sizeof rep, "%s/report.json", dir);
        snprintf(ckpt, sizeof ckpt, "%s/job.ckpt", dir);

        /* A fresh table: delete what an earlier run left (may fail: no table), create. */
        const char *del[] = {"table", "delete", "-m", c->model, "--yes", "-q", NULL};
        ct_result res;
        assert_int_equal(ct_run(del, env, T, &res), 0);
        ct_result_free(&res);
        const char *create[] = {"table", "create", "-m", c->model, "-q", NULL};
        assert_row_int_equal(i, run_ok(i, create, 0), 0);

        /* The same starting state as the dry run's --seed. */
        write_seed_job(seedjob, c->model, c->seed);
        const char *seed[] = {"run", seedjob, "-q", NULL};
        assert_row_int_equal(i, run_ok(i, seed, 0), 0);

        /* Every output goes to the temporary directory, never next to the sample job. */
        const char *args[20] = {"run",      c->job, "--rejects",    rej,  "--failures", fail,
                                "--report", rep,    "--checkpoint", ckpt, "--json",     "-q"};
        size_t n = 12;
        for (size_t k = 0; c->extra[k]; k++) args[n++] = c->extra[k];
        args[n] = NULL;
        assert_int_equal(ct_run(args, env, T, &res), 0);
        if (res.status != c->status) print_error("row %zu (%s): stderr: %s\n", i, c->name, res.err);
        assert_row_int_equal(i, res.status, c->status);
        char *masked = ct_mask_report(res.out);
        assert_row_true(i, masked != NULL);
        snprintf(g, sizeof g, "job-%s.report-ddb.json", c->name);
        assert_row_int_equal(i, ct_golden(g, masked, strlen(masked)), 0);
        free(masked);
        ct_result_free(&res);

        const char *dumpa[] = {"table", "dump", "-m", c->model, "-o", dump, NULL};
        assert_row_int_equal(i, run_ok(i, dumpa, 0), 0);
        /* Shared with the dry run (test_cli.c writes them when updating). */
        if (!ct_updating()) {
            snprintf(g, sizeof g, "job-%s.dump.jsonl", c->name);
            assert_row_int_equal(i, ct_golden_file(g, dump), 0);
            snprintf(g, sizeof g, "job-%s.rejects.jsonl", c->name);
            assert_row_int_equal(i, ct_golden_file(g, rej), 0);
            snprintf(g, sizeof g, "job-%s.failures.jsonl", c->name);
            assert_row_int_equal(i, ct_golden_file(g, fail), 0);
        }
        assert_row_int_equal(i, run_ok(i, del, 0), 0);
        ct_rmdir(dir);
    }
}

/* get, put, delete and describe against a real endpoint. */
static void test_items_ddb(void **state) {
    (void)state;
    if (!endpoint) skip();
    const char *m = "samples/models/users.json";
    const char *del[] = {"table", "delete", "-m", m, "--yes", "-q", NULL};
    ct_result res;
    assert_int_equal(ct_run(del, env, T, &res), 0);
    ct_result_free(&res);
    const char *create[] = {"table", "create", "-m", m, "--rcu", "5", "--wcu", "5", NULL};
    assert_int_equal(ct_run(create, env, T, &res), 0);
    assert_int_equal(res.status, 0);
    cJSON *d = cJSON_Parse(res.out);
    assert_non_null(d);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "status")), "ACTIVE");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "billing")), "PROVISIONED");
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(d, "wcu")) == 5);
    cJSON_Delete(d);
    ct_result_free(&res);

    const char *put[] = {
        "put",
        "-m",
        m,
        "--skip-hooks",
        "--item",
        "{\"user_id\":\"u1\",\"email\":\"a@example.com\",\"age\":41,\"tags\":[\"x\",\"y\"],"
        "\"created_at\":\"2026-01-01T00:00:00.000Z\"}",
        NULL};
    assert_int_equal(run_ok(0, put, 0), 0);
    const char *get[] = {"get", "-m", m, "--consistent-read", "--key", "{\"user_id\":\"u1\"}",
                         NULL};
    assert_int_equal(ct_run(get, env, T, &res), 0);
    assert_int_equal(res.status, 0);
    /* The same item as the memory backend gives (test_cli.c, put.jsonl's first line). */
    char *golden = ct_read_file("tests/cmd/golden/put.jsonl", NULL);
    assert_non_null(golden);
    char *nl = strchr(golden, '\n');
    assert_non_null(nl);
    nl[1] = 0;
    assert_string_equal(res.out, golden);
    free(golden);
    ct_result_free(&res);

    const char *cond[] = {"put",
                          "-m",
                          m,
                          "--condition",
                          "attribute_not_exists(#user_id)",
                          "--item",
                          "{\"user_id\":\"u1\",\"email\":\"b@example.com\"}",
                          NULL};
    assert_int_equal(run_ok(1, cond, 1), 0);
    const char *rm[] = {"delete", "-m", m, "--key", "{\"user_id\":\"u1\"}", NULL};
    assert_int_equal(run_ok(2, rm, 0), 0);
    assert_int_equal(run_ok(3, get, 1), 0);
    assert_int_equal(run_ok(4, del, 0), 0);
}

/* A job on a table that does not exist stops before reading: exit 3 and a message saying what to
 * do. */
static void test_fatal_ddb(void **state) {
    (void)state;
    if (!endpoint) skip();
    const char *del[] = {"table", "delete", "-m", "samples/models/users.json", "--yes", "-q", NULL};
    ct_result res;
    assert_int_equal(ct_run(del, env, T, &res), 0);
    ct_result_free(&res);
    char dir[600], rej[700], fail[700], rep[700], ckpt[700];
    assert_int_equal(ct_tmpdir("fatal", dir, sizeof dir), 0);
    snprintf(rej, sizeof rej, "%s/rejects.jsonl", dir);
    snprintf(fail, sizeof fail, "%s/failures.jsonl", dir);
    snprintf(rep, sizeof rep, "%s/report.json", dir);
    snprintf(ckpt, sizeof ckpt, "%s/job.ckpt", dir);
    const char *args[] = {"run",
                          "samples/jobs/nightly-update.json",
                          "--rejects",
                          rej,
                          "--failures",
                          fail,
                          "--report",
                          rep,
                          "--checkpoint",
                          ckpt,
                          NULL};
    assert_int_equal(ct_run(args, env, T, &res), 0);
    if (res.status != 3) print_error("exit %d: %s\n", res.status, res.err);
    assert_int_equal(res.status, 3);
    assert_non_null(strstr(res.err, "table users does not exist"));
    assert_non_null(strstr(res.err, "dynox table create"));
    assert_string_equal(res.out, "");
    ct_result_free(&res);

    /* get on the missing table: the error names the table and keeps what DynamoDB said
     * (its type, HTTP status and request id, which AWS support asks for). */
    const char *get[] = {"get", "-m", "samples/models/users.json", "--key", "{\"user_id\":\"u1\"}",
                         NULL};
    assert_int_equal(ct_run(get, env, T, &res), 0);
    if (res.status != 3) print_error("exit %d: %s\n", res.status, res.err);
    assert_int_equal(res.status, 3);
    assert_non_null(strstr(res.err, "table users: "));
    assert_non_null(strstr(res.err, "(ResourceNotFoundException, HTTP 400, request id "));
    assert_string_equal(res.out, "");
    ct_result_free(&res);
    ct_rmdir(dir);
}

/* ---------------------------------------------------------------- verification */

/*
 * A plugin whose after_save hook plays a second writer: right after the job
 * writes u0002, it overwrites the item through its own client. --verify must
 * catch it (exit 1, one mismatch naming the key).
 */
static const char plugin_src[] =
    "#include <string.h>\n"
    "#include \"dynox/dynox.h\"\n"
    "#include \"dynox/ddb.h\"\n"
    "static dx_client *c;\n"
    "static dx_err corrupt(dx_item *it, dx_hook_kind k, void *ud, dx_result *r) {\n"
    "    (void)k; (void)ud; (void)r;\n"
    "    const char *id = NULL;\n"
    "    if (dx_item_get_str(it, \"user_id\", &id) != DX_OK || strcmp(id, \"u0002\") != 0) return "
    "DX_OK;\n"
    "    dx_arena a = {0};\n"
    "    dx_value v;\n"
    "    const char *j = "
    "\"{\\\"user_id\\\":{\\\"S\\\":\\\"u0002\\\"},\\\"email\\\":{\\\"S\\\":\\\"CORRUPTED\\\"}}\";\n"
    "    dx_decode_item(&a, j, strlen(j), &v, NULL);\n"
    "    dx_call call = {.req = {.op = DX_OP_PUT, .table = \"users\", .item = &v}};\n"
    "    dx_client_call(c, &call);\n"
    "    dx_arena_release(&a);\n"
    "    return DX_OK;\n"
    "}\n"
    "int dynox_plugin_init(dx_model *m, const char *arg) {\n"
    "    (void)arg;\n"
    "    static dx_ddb_env st;\n"
    "    dx_env env = dx_env_process();\n"
    "    dx_ddb_opts o = {0};\n"
    "    dx_result r;\n"
    "    if (dx_ddb_opts_from_env(&o, &st, &env, NULL, &r) != DX_OK) return 4;\n"
    "    if (dx_ddb_client_new(&o, NULL, &c, &r) != DX_OK) return 5;\n"
    "    return dx_model_add_hook(m, DX_HOOK_AFTER_SAVE, corrupt, NULL);\n"
    "}\n"
    "void dynox_plugin_fini(void) { dx_client_free(c); }\n";

static void test_verify_corruption_ddb(void **state) {
    (void)state;
    if (!endpoint) skip();
    char dir[600], src[700], so[700], job[700], in[700], cmd[2200], cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(ct_tmpdir("verify", dir, sizeof dir), 0);
    snprintf(src, sizeof src, "%s/corrupt.c", dir);
    snprintf(so, sizeof so, "%s/corrupt.so", dir);
    snprintf(job, sizeof job, "%s/job.json", dir);
    snprintf(in, sizeof in, "%s/rows.jsonl", dir);
    assert_int_equal(ct_write_file(src, plugin_src, strlen(plugin_src)), 0);
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC -Ilib/include -o %s %s", so, src);
    if (system(cmd) != 0) {
        print_message("  skipped: no C compiler for the test plugin\n");
        ct_rmdir(dir);
        skip();
    }
    static const char rows[] = "{\"user_id\":\"u0001\",\"name\":\"One\"}\n"
                               "{\"user_id\":\"u0002\",\"name\":\"Two\"}\n"
                               "{\"user_id\":\"u0003\",\"name\":\"Three\"}\n";
    assert_int_equal(ct_write_file(in, rows, strlen(rows)), 0);
    char text[4 * PATH_MAX];
    snprintf(
        text, sizeof text,
        "{\"model\": \"%s/samples/models/users.json\", \"input\": {\"path\": \"rows.jsonl\"},\n"
        " \"operation\": {\"type\": \"get_save\"}, \"hooks\": {\"plugin\": \"%s/%s\"},\n"
        " \"backend\": {\"type\": \"dynamodb\"}, \"verify\": 1.0}\n",
        cwd, cwd, so);
    assert_int_equal(ct_write_file(job, text, strlen(text)), 0);

    const char *m = "samples/models/users.json";
    const char *del[] = {"table", "delete", "-m", m, "--yes", "-q", NULL};
    ct_result res;
    assert_int_equal(ct_run(del, env, T, &res), 0);
    ct_result_free(&res);
    const char *create[] = {"table", "create", "-m", m, "-q", NULL};
    assert_int_equal(run_ok(0, create, 0), 0);
    char seedjob[700];
    snprintf(seedjob, sizeof seedjob, "%s/seed.json", dir);
    write_seed_job(seedjob, m, "samples/data/seed-users.jsonl");
    const char *seed[] = {"run", seedjob, "-q", NULL};
    assert_int_equal(run_ok(1, seed, 0), 0);

    const char *args[] = {"run", job, "--json", "-q", NULL};
    assert_int_equal(ct_run(args, env, T, &res), 0);
    if (res.status == 2 && strstr(res.err, "undefined symbol")) {
        print_message(
            "  skipped: dynox does not export dx_* to plugins (link it with -rdynamic): %s",
            res.err);
        ct_result_free(&res);
        run_ok(2, del, 0);
        ct_rmdir(dir);
        skip();
    }
    if (res.status != 1) print_error("exit %d: %s\n", res.status, res.err);
    assert_int_equal(res.status, 1);
    cJSON *r = cJSON_Parse(res.out);
    assert_non_null(r);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "written")), 3);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "verified")), 3);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "mismatched")), 1);
    cJSON *mm = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "mismatches"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(mm, "key")),
                        "{\"user_id\":\"u0002\"}");
    cJSON_Delete(r);
    ct_result_free(&res);
    assert_int_equal(run_ok(3, del, 0), 0);
    ct_rmdir(dir);
}

int main(void) {
    endpoint = getenv("DYNOX_TEST_ENDPOINT");
    if (endpoint && !*endpoint) endpoint = NULL;
    snprintf(env_endpoint, sizeof env_endpoint, "AWS_ENDPOINT_URL=%s", endpoint ? endpoint : "");
    env[0] = "AWS_REGION=us-east-1";
    env[1] = "AWS_ACCESS_KEY_ID=AKIDEXAMPLE";
    env[2] = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    env[3] = env_endpoint;
    env[4] = NULL;
    if (!endpoint) fprintf(stderr, "test_cli_ddb: DYNOX_TEST_ENDPOINT is not set: skipping\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_ddb),
        cmocka_unit_test(test_items_ddb),
        cmocka_unit_test(test_fatal_ddb),
        cmocka_unit_test(test_verify_corruption_ddb),
    };
    /* DYNOX_TEST_FILTER=test_help runs only the tests matching the pattern. */
    const char *filter = getenv("DYNOX_TEST_FILTER");
    if (filter && *filter) cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
