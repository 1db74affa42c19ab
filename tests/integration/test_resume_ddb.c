/*
 * test_resume_ddb.c - the job runner against a real DynamoDB implementation
 * (dynalite, at DYNOX_TEST_ENDPOINT; scripts/run-tests.sh starts it for
 * binaries whose name ends in _ddb), through the runner's own DynamoDB
 * client (credentials and region from the environment, as the CLI does).
 *
 *   - kill -9 mid-job: a forked child runs a rate-limited put; the parent
 *     SIGKILLs it as soon as its first checkpoint exists, resumes in-process,
 *     and checks that the table equals the expected one (Scan) and that the
 *     two runs' accounting adds up to the input, with every reject exactly
 *     once in the rejects file;
 *   - every operation end to end, with conditions, optimistic locking and
 *     verification, as DynamoDB parses the expressions dynox generates;
 *   - faults (throttles, 5xx, resets, lost responses, partial batches, bad
 *     CRCs, through tests/support/fault-proxy.js): the accounting holds, the
 *     failures file re-run completes the table;
 *   - safety checks: a missing table is fatal before anything is read, a
 *     key schema that is not the model's too; PITR is reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "clitest.h"
#include "dynox/ddb.h"
#include "proc.h"
#include "runner.h"
#include "testutil.h"

static const char *endpoint;
static char dir[64];

static dx_client *direct_client(void) {
    dx_ddb_opts o = {.endpoint_url = endpoint, .region = "us-east-1",
                     .access_key_id = "AKIDLOCAL", .secret_access_key = "local-secret",
                     .timeout_ms = 10000};
    dx_client *c = NULL;
    dx_result r;
    dx_result_clear(&r);
    if (dx_ddb_client_new(&o, NULL, &c, &r) != DX_OK) {
        print_error("client: %s\n", r.message);
        fail();
    }
    return c;
}

static char *path(const char *name) {
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static void fresh_table(dx_client *c, const char *name, const char *hash) {
    dx_result r;
    dx_result_clear(&r);
    dx_delete_table(c, name, &r);
    dx_table_def def = {.name = name, .key = {.hash = hash, .hash_type = DX_T_S}};
    dx_err e = DX_ERR_RESOURCE_IN_USE;
    /* A table being deleted still exists for a moment (ResourceInUse): try again. */
    for (int i = 0; i < 100 && e == DX_ERR_RESOURCE_IN_USE; i++) {
        if (i) {
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
        dx_result_clear(&r);
        e = dx_create_table(c, &def, &r);
    }
    if (e != DX_OK) {
        print_error("create %s: %s\n", name, r.message);
        fail();
    }
}

static dx_model *model(const char *table) {
    static const dx_attr_def attrs[] = {
        {.name = "id", .type = DX_ATTR_STRING, .key = DX_KEY_HASH},
        {.name = "name", .type = DX_ATTR_STRING},
        {.name = "n", .type = DX_ATTR_NUMBER},
        {.name = "version", .type = DX_ATTR_NUMBER},
    };
    dx_model_config cfg = {.table = table};
    dx_model *m = NULL;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_model_new("users", attrs, 4, &cfg, &m, &r), DX_OK);
    return m;
}

static void spec_init(dxj_spec *s, const char *table, dxj_op op, const char *input) {
    memset(s, 0, sizeof *s);
    s->model = model(table);
    s->input.path = path("input.jsonl");
    s->input.format = DXJ_FMT_JSONL;
    if (input) assert_int_equal(ct_write_text(s->input.path, input), 0);
    s->operation.op = op;
    s->rejects = path("rejects.jsonl");
    s->failures = path("failures.jsonl");
    s->backend.type = DXJ_BACKEND_DYNAMODB;
    s->backend.endpoint = strdup(endpoint);
    s->backend.region = strdup("us-east-1");
    s->workers = 2;
    s->inflight = 8;
    dx_result r;
    dx_result_clear(&r);
    if (dxj_spec_check(s, &r) != DX_OK) {
        print_error("spec: %s\n", r.message);
        fail();
    }
}

/* Every item of the table, keyed by id, as one string per item "id=name/n". */
static size_t scan_all(dx_client *c, const char *table, char ***out) {
    size_t n = 0, cap = 1024;
    char **v = malloc(cap * sizeof *v);
    dx_arena a = {0};
    const dx_value *start = NULL;
    do {
        dx_call call = {.req = {.op = DX_OP_SCAN, .table = table, .start_key = start,
                                .consistent = true},
                        .arena = &a};
        assert_int_equal(dx_client_call(c, &call), DX_OK);
        for (size_t i = 0; i < call.resp.nitems; i++) {
            const dx_value *it = &call.resp.items[i];
            const dx_value *id = dx_map_get(it, "id"), *nm = dx_map_get(it, "name"),
                           *num = dx_map_get(it, "n");
            char buf[256];
            snprintf(buf, sizeof buf, "%.*s=%.*s/%.*s", (int)id->n, id->u.s, nm ? (int)nm->n : 0,
                     nm ? nm->u.s : "", num ? (int)num->n : 0, num ? num->u.s : "");
            if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
            v[n++] = strdup(buf);
        }
        start = call.resp.last_key;
    } while (start);
    dx_arena_release(&a);
    *out = v;
    return n;
}

static int cmp_str(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void free_strs(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* ---------------------------------------------------------------- kill -9 and resume */

#define ROWS 5000

static void child_job(dxj_spec *s) {
    dxj_report rep;
    dx_result r;
    dx_result_clear(&r);
    dxj_run(s, NULL, &rep, &r);
    _exit(0); /* should not get here: the parent kills us first */
}

static void test_sigkill_resume(void **state) {
    (void)state;
    dx_client *c = direct_client();
    fresh_table(c, "resume_users", "id");
    dx_buf in = {0};
    size_t good = 0, bad = 0;
    for (int i = 1; i <= ROWS; i++) {
        if (i % 101 == 0) {
            dx_buf_printf(&in, "{\"id\":\"k%05d\",\"n\":\"not a number\"}\n", i);
            bad++;
        } else {
            dx_buf_printf(&in, "{\"id\":\"k%05d\",\"name\":\"name %d\",\"n\":%d}\n", i, i, i);
            good++;
        }
    }
    dxj_spec s;
    spec_init(&s, "resume_users", DXJ_OP_PUT, in.ptr);
    s.checkpoint = path("job.checkpoint");
    s.rate = 800; /* slow enough to be mid-way at the first checkpoint (~2 s) */
    unlink(s.checkpoint);

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) child_job(&s);

    /* Wait for the first checkpoint, then kill the child without warning. */
    dxj_checkpoint cp;
    dx_result r;
    bool seen = false;
    for (int i = 0; i < 1500 && !seen; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        dx_result_clear(&r);
        seen = dxj_checkpoint_read(s.checkpoint, &cp, &r) == DX_OK && cp.records > 0;
    }
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(seen);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL); /* it did not finish by itself */
    assert_true(cp.records < ROWS);
    print_message("  killed after the checkpoint at record %llu\n",
                  (unsigned long long)cp.records);

    /* Resume in this process. */
    s.rate = 0;
    s.resume = true;
    s.verify = 0.05;
    dxj_report rep;
    dx_result_clear(&r);
    dx_err e = dxj_run(&s, NULL, &rep, &r);
    if (e) print_error("resume: %s\n", r.message);
    assert_int_equal(e, DX_OK);
    assert_int_equal(rep.status, DXJ_STATUS_COMPLETED);
    assert_string_equal(rep.backend, "dynamodb");
    assert_true(rep.accounting_ok);
    assert_int_equal(rep.resumed_from, cp.records);
    assert_int_equal(rep.rows_in, ROWS - cp.records);
    assert_int_equal(rep.total_rows_in, ROWS);
    assert_int_equal(rep.total_written, good);
    assert_int_equal(rep.total_rejected, bad);
    assert_int_equal(rep.total_failed, 0);
    assert_int_equal(rep.total_rows_in,
                     rep.total_written + rep.total_rejected + rep.total_failed);
    assert_true(rep.verified > 0);
    assert_int_equal(rep.mismatched, 0);
    assert_non_null(rep.pitr);

    /* The table is exactly the good rows. */
    char **items;
    size_t n = scan_all(c, "resume_users", &items);
    assert_int_equal(n, good);
    qsort(items, n, sizeof *items, cmp_str);
    size_t k = 0;
    for (int i = 1; i <= ROWS; i++) {
        if (i % 101 == 0) continue;
        char want[128];
        snprintf(want, sizeof want, "k%05d=name %d/%d", i, i, i);
        assert_row_string_equal(i, items[k], want);
        k++;
    }
    free_strs(items, n);

    /* Each reject once, in input order (lines the killed run wrote after its checkpoint
     * were cut off and written again). */
    char *text = ct_read_file(s.rejects, NULL);
    size_t lines = 0;
    long long last = 0;
    for (char *p = text; p && *p; lines++) {
        char *rec = strstr(p, "\"record\":");
        assert_non_null(rec);
        long long idx = atoll(rec + 9);
        assert_row_true(lines, idx > last && idx % 101 == 0);
        last = idx;
        char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : NULL;
    }
    assert_int_equal(lines, bad);
    free(text);
    dx_buf_free(&in);
    dxj_spec_free(&s);
    dx_client_free(c);
}

/* ---------------------------------------------------------------- every operation */

static dxj_report run_job(dxj_spec *s) {
    dxj_report rep;
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dxj_run(s, NULL, &rep, &r);
    if (e != DX_OK || !rep.accounting_ok) print_error("run: %s / %s\n", r.message, rep.error);
    assert_int_equal(e, DX_OK);
    assert_true(rep.accounting_ok);
    return rep;
}

static void test_operations(void **state) {
    (void)state;
    dx_client *c = direct_client();
    fresh_table(c, "ops_users", "id");
    dxj_spec s;
    dxj_report rep;

    /* put: batches, a duplicate key, verification of everything. */
    spec_init(&s, "ops_users", DXJ_OP_PUT,
              "{\"id\":\"a\",\"name\":\"A\",\"n\":1}\n{\"id\":\"b\",\"name\":\"B\",\"n\":2}\n"
              "{\"id\":\"c\",\"name\":\"C\",\"n\":3}\n{\"id\":\"a\",\"name\":\"A2\",\"n\":1}\n"
              "{\"id\":\"d\",\"name\":\"D\",\"n\":4,\"version\":1}\n");
    s.verify = 1;
    rep = run_job(&s);
    assert_int_equal(rep.written, 5);
    assert_int_equal(rep.superseded, 1);
    assert_int_equal(rep.verified, 4);
    assert_int_equal(rep.mismatched, 0);
    dxj_spec_free(&s);

    /* update_by_key with must_exist and a condition with a value. */
    spec_init(&s, "ops_users", DXJ_OP_UPDATE_BY_KEY,
              "{\"id\":\"a\",\"n\":10}\n{\"id\":\"zz\",\"n\":1}\n{\"id\":\"c\",\"name\":null,"
              "\"n\":30}\n{\"id\":\"d\",\"n\":40}\n");
    s.operation.must_exist = true;
    s.operation.condition = strdup("#n < :max");
    s.operation.values_json = strdup("{\":max\":4}");
    s.verify = 1;
    rep = run_job(&s);
    assert_int_equal(rep.written, 2);  /* a, c */
    assert_int_equal(rep.rejected, 2); /* zz missing, d has n = 4 */
    assert_int_equal(rep.conditional_failed, 2);
    assert_int_equal(rep.mismatched, 0);
    dxj_spec_free(&s);

    /* get_update with optimistic locking, missing=create. */
    spec_init(&s, "ops_users", DXJ_OP_GET_UPDATE,
              "{\"id\":\"d\",\"name\":\"D2\"}\n{\"id\":\"e\",\"name\":\"E\"}\n");
    s.operation.version_attr = strdup("version");
    s.operation.missing = DXJ_MISSING_CREATE;
    s.verify = 1;
    rep = run_job(&s);
    assert_int_equal(rep.written, 2);
    assert_int_equal(rep.missing, 1);
    assert_int_equal(rep.mismatched, 0);
    dxj_spec_free(&s);

    /* get_save keeps attributes the model does not know; get_delete; delete_by_key. */
    spec_init(&s, "ops_users", DXJ_OP_GET_SAVE, "{\"id\":\"b\",\"n\":22}\n");
    s.operation.version_attr = strdup("version");
    s.verify = 1;
    rep = run_job(&s);
    assert_int_equal(rep.written, 1);
    assert_int_equal(rep.mismatched, 0);
    dxj_spec_free(&s);
    spec_init(&s, "ops_users", DXJ_OP_GET_DELETE, "{\"id\":\"e\"}\n{\"id\":\"nope\"}\n");
    s.operation.version_attr = strdup("version");
    s.verify = 1;
    rep = run_job(&s);
    assert_int_equal(rep.written, 1);
    assert_int_equal(rep.rejected, 1);
    assert_int_equal(rep.missing, 1);
    dxj_spec_free(&s);
    spec_init(&s, "ops_users", DXJ_OP_DELETE_BY_KEY, "{\"id\":\"a\"}\n{\"id\":\"c\"}\n");
    s.verify = 1;
    rep = run_job(&s);
    assert_int_equal(rep.written, 2);
    assert_int_equal(rep.mismatched, 0);
    dxj_spec_free(&s);

    char **items;
    size_t n = scan_all(c, "ops_users", &items);
    qsort(items, n, sizeof *items, cmp_str);
    assert_int_equal(n, 2);
    assert_string_equal(items[0], "b=B/22");
    assert_string_equal(items[1], "d=D2/4");
    free_strs(items, n);

    /* The versions moved as the lock says: d 1 -> 2 (get_update), b absent -> 1. */
    dx_arena a = {0};
    dx_member km = {"id", 2, dx_vs("d")};
    dx_value key = dx_vmap(&km, 1);
    dx_call call = {.req = {.op = DX_OP_GET, .table = "ops_users", .key = &key, .consistent = true},
                    .arena = &a};
    assert_int_equal(dx_client_call(c, &call), DX_OK);
    const dx_value *v = dx_map_get(call.resp.item, "version");
    assert_true(v && v->n == 1 && v->u.s[0] == '2');
    dx_arena_release(&a);
    dx_client_free(c);
}

/* ---------------------------------------------------------------- faults */

static void test_faults(void **state) {
    (void)state;
    dx_client *c = direct_client();
    fresh_table(c, "fault_users", "id");
    static const char *const fopts[] = {"--seed", "11", "--throttle", "0.08", "--error5xx",
                                        "0.05", "--reset", "0.03", "--drop", "0.03",
                                        "--badcrc", "0.02", "--partial", "0.3", NULL};
    tp_proc proxy;
    int port = 0;
    if (tp_fault_proxy_start(endpoint, fopts, &proxy, &port) != 0) {
        print_message("  skipped: the fault proxy did not start (node missing?)\n");
        dx_client_free(c);
        skip();
    }
    char purl[64];
    snprintf(purl, sizeof purl, "http://127.0.0.1:%d", port);
    dx_buf in = {0};
    for (int i = 1; i <= 1500; i++)
        dx_buf_printf(&in, "{\"id\":\"f%04d\",\"name\":\"v%d\",\"n\":%d}\n", i, i, i);
    dxj_spec s;
    spec_init(&s, "fault_users", DXJ_OP_PUT, in.ptr);
    s.verify = 0.2;
    /*
     * Our own client to the proxy: few attempts (so that some rows fail), a short attempt
     * timeout, and no adaptive limiter -- this test is about what the runner does with
     * failures, not about the limiter (which, as of this writing, drops to 1 unit/s when
     * the first throttle comes in the client's first 50 ms and makes this test take minutes).
     */
    dx_ddb_opts po = {.endpoint_url = purl, .region = "us-east-1", .access_key_id = "AKIDLOCAL",
                      .secret_access_key = "local-secret", .timeout_ms = 2000,
                      .connect_timeout_ms = 1000};
    dx_client_opts pco = {.retry = {.max_attempts = 3, .base_ms = 5, .max_ms = 20}, .seed = 5};
    dx_client *pc = NULL;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_ddb_client_new(&po, &pco, &pc, &r), DX_OK);
    dxj_run_opts ro = {.client = pc};
    dxj_report rep;
    dx_err e = dxj_run(&s, &ro, &rep, &r);
    dx_client_free(pc);
    tp_stop(&proxy);
    if (e) print_error("faults: %s\n", r.message);
    assert_int_equal(e, DX_OK);
    assert_true(rep.accounting_ok);
    assert_int_equal(rep.rows_in, 1500);
    assert_int_equal(rep.rejected, 0);
    assert_int_equal(rep.written + rep.failed, 1500);
    assert_true(rep.retries > 0);
    assert_int_equal(rep.mismatched, 0);
    print_message("  through the faults: %llu written, %llu failed, %llu retries\n",
                  (unsigned long long)rep.written, (unsigned long long)rep.failed,
                  (unsigned long long)rep.retries);
    uint64_t failed = rep.failed;

    /* Re-run the failures file directly: then the table holds every row. */
    char *failures = path("failures1.jsonl");
    rename(s.failures, failures);
    free(s.input.path);
    s.input.path = failures;
    dx_result_clear(&r);
    assert_int_equal(dxj_run(&s, NULL, &rep, &r), DX_OK);
    assert_int_equal(rep.rows_in, failed);
    assert_int_equal(rep.written, failed);
    char **items;
    size_t n = scan_all(c, "fault_users", &items);
    assert_int_equal(n, 1500);
    qsort(items, n, sizeof *items, cmp_str);
    for (int i = 1; i <= 1500; i++) {
        char want[64];
        snprintf(want, sizeof want, "f%04d=v%d/%d", i, i, i);
        assert_row_string_equal(i, items[i - 1], want);
    }
    free_strs(items, n);
    dx_buf_free(&in);
    dxj_spec_free(&s);
    dx_client_free(c);
}

static void test_safety(void **state) {
    (void)state;
    dx_client *c = direct_client();
    dxj_spec s;
    dxj_report rep;
    dx_result r;
    /* No such table: fatal before any input is read (the input does not even exist). */
    spec_init(&s, "no_such_table", DXJ_OP_PUT, NULL);
    free(s.input.path);
    s.input.path = strdup("/nonexistent/input.jsonl");
    dx_result_clear(&r);
    assert_int_equal(dxj_run(&s, NULL, &rep, &r), DX_ERR_RESOURCE_NOT_FOUND);
    assert_non_null(strstr(r.message, "table no_such_table does not exist in us-east-1 at"));
    assert_non_null(strstr(r.message, endpoint));
    assert_int_equal(rep.status, DXJ_STATUS_FATAL);
    dxj_spec_free(&s);

    /* A table keyed differently from the model. */
    fresh_table(c, "other_key", "pk");
    spec_init(&s, "other_key", DXJ_OP_PUT, "{\"id\":\"a\"}\n");
    dx_result_clear(&r);
    assert_int_equal(dxj_run(&s, NULL, &rep, &r), DX_ERR_CONFIG);
    assert_non_null(strstr(r.message, "pk"));
    assert_non_null(strstr(r.message, "model users key id"));
    dxj_spec_free(&s);
    dx_client_free(c);
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/dynox-resume-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[400];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
    return 0;
}

int main(void) {
    endpoint = getenv("DYNOX_TEST_ENDPOINT");
    if (!endpoint || !*endpoint) {
        fprintf(stderr, "DYNOX_TEST_ENDPOINT is not set: run through scripts/run-tests.sh, which "
                        "starts dynalite\n");
        return 1;
    }
    /* The runner's DynamoDB client reads credentials from the environment, as the CLI does. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDLOCAL", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "local-secret-not-checked", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/dynox-test/config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/dynox-test/credentials", 1);
    unsetenv("AWS_PROFILE");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigkill_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_safety, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
