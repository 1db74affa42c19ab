/*
 * test_runner.c - the job runner end to end on the memory backend: exact
 * accounting for every operation on mixed good and bad input, rejects and
 * failures files line by line in input order, superseded duplicates, batch
 * isolation of a bad item, throttling that fails rows and a re-run of the
 * failures file that writes them, missing items per policy, version
 * conflicts, hooks run and skipped, verification catching a corrupted item,
 * stop mid-run, checkpoint and resume, fatal errors, the memory table's
 * setup (create_table, seed), the plugin loader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "backend_internal.h"
#include "checkpoint.h"
#include "clitest.h"
#include "runner.h"
#include "testutil.h"

/* ---------------------------------------------------------------- fixture */

typedef struct fx {
    char dir[64];
    dx_buf log;
    pthread_mutex_t log_mu;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/dynox-runner-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    pthread_mutex_init(&f->log_mu, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char p[400];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(f->dir);
    dx_buf_free(&f->log);
    pthread_mutex_destroy(&f->log_mu);
    free(f);
    return 0;
}

static char *path(fx *f, const char *name) {
    char *p = malloc(strlen(f->dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", f->dir, name);
    return p;
}

/* The lines of a file (NUL-terminated in place); *n set. */
static char **lines_of(char *text, size_t *n) {
    size_t cap = 16, k = 0;
    char **v = malloc(cap * sizeof *v);
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        if (k == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[k++] = p;
        p = nl ? nl + 1 : NULL;
    }
    *n = k;
    return v;
}

static size_t count_lines(const char *p) {
    char *t = ct_read_file(p, NULL);
    if (!t) return 0;
    size_t n = 0;
    for (char *c = t; *c; c++) n += *c == '\n';
    free(t);
    return n;
}

static void log_cb(dxj_log_level level, const char *msg, void *ud) {
    fx *f = ud;
    pthread_mutex_lock(&f->log_mu);
    dx_buf_printf(&f->log, "[%d] %s\n", (int)level, msg);
    pthread_mutex_unlock(&f->log_mu);
}

/* The users model: id (hash), name (required), age, note, version, updated_at. */
static dx_model *users_model(size_t max_size) {
    static const dx_attr_def attrs[] = {
        {.name = "id", .type = DX_ATTR_STRING, .key = DX_KEY_HASH},
        {.name = "name", .type = DX_ATTR_STRING, .required = true},
        {.name = "age", .type = DX_ATTR_NUMBER},
        {.name = "note", .type = DX_ATTR_STRING},
        {.name = "version", .type = DX_ATTR_NUMBER},
        {.name = "updated_at", .type = DX_ATTR_DATETIME},
        {.name = "status", .type = DX_ATTR_STRING, .default_json = "\"new\""},
    };
    dx_model_config cfg = {.table = "users", .max_size = max_size};
    dx_model *m = NULL;
    dx_result r;
    dx_result_clear(&r);
    if (dx_model_new("users", attrs, sizeof attrs / sizeof attrs[0], &cfg, &m, &r) != DX_OK) {
        print_error("model: %s\n", r.message);
        fail();
    }
    return m;
}

static void spec_init(dxj_spec *s, fx *f, dxj_op op, const char *input_text) {
    memset(s, 0, sizeof *s);
    s->model = users_model(0);
    s->input.path = path(f, "input.jsonl");
    s->input.format = DXJ_FMT_JSONL;
    if (input_text) assert_int_equal(ct_write_text(s->input.path, input_text), 0);
    s->operation.op = op;
    s->rejects = path(f, "rejects.jsonl");
    s->failures = path(f, "failures.jsonl");
    s->backend.type = DXJ_BACKEND_MEMORY;
    s->dry_run = true;
    s->workers = 2;
    s->inflight = 8;
}

static void check_spec(dxj_spec *s) {
    dx_result r;
    dx_result_clear(&r);
    if (dxj_spec_check(s, &r) != DX_OK) {
        print_error("spec: %s\n", r.message);
        fail();
    }
}

static dx_client *mem_client(bool simulate, uint32_t max_attempts) {
    dx_mem_opts mo = {.simulate_capacity = simulate};
    dx_client_opts co = {.retry = {.max_attempts = max_attempts, .base_ms = 1, .max_ms = 2},
                         .seed = 7};
    dx_client *c = NULL;
    assert_int_equal(dx_mem_client_new(&mo, &co, &c), DX_OK);
    return c;
}

static dx_err run(fx *f, dxj_spec *s, dx_client *c, dxj_report *rep, dx_result *r) {
    dxj_run_opts o = {.log = log_cb, .ud = f, .client = c};
    dx_result_clear(r);
    return dxj_run(s, &o, rep, r);
}

static void run_ok(fx *f, dxj_spec *s, dx_client *c, dxj_report *rep) {
    dx_result r;
    dx_err e = run(f, s, c, rep, &r);
    if (e != DX_OK) print_error("dxj_run: %s (%s)\nlog:\n%s\n", dx_err_name(e), r.message,
                                f->log.ptr ? f->log.ptr : "");
    assert_int_equal(e, DX_OK);
    assert_true(rep->started);
    if (!rep->accounting_ok) print_error("accounting: %s\n", rep->error);
    assert_true(rep->accounting_ok);
    assert_int_equal(rep->rows_in, rep->written + rep->rejected + rep->failed);
}

/* The stored item with this id, or NULL (allocated in a). */
static const dx_value *get_item(dx_client *c, const char *id, dx_arena *a) {
    dx_member km = {"id", 2, dx_vs(id)};
    dx_value key = dx_vmap(&km, 1);
    dx_call call = {.req = {.op = DX_OP_GET, .table = "users", .key = &key, .consistent = true},
                    .arena = a};
    assert_int_equal(dx_client_call(c, &call), DX_OK);
    return call.resp.item;
}

static bool attr_is(const dx_value *item, const char *name, const char *text) {
    const dx_value *v = item ? dx_map_get(item, name) : NULL;
    if (!v) return text == NULL;
    return text && v->n == strlen(text) && memcmp(v->u.s, text, v->n) == 0;
}

static uint64_t table_count(dx_client *c) {
    uint64_t n = 0;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_mem_count(c, "users", &n, &r), DX_OK);
    return n;
}

static void put_items(dx_client *c, const char *const *json, size_t n) {
    dx_arena a = {0};
    for (size_t i = 0; i < n; i++) {
        dx_value item;
        dx_result r;
        dx_result_clear(&r);
        assert_int_equal(dx_decode_item(&a, json[i], strlen(json[i]), &item, &r), DX_OK);
        dx_call call = {.req = {.op = DX_OP_PUT, .table = "users", .item = &item}};
        assert_int_equal(dx_client_call(c, &call), DX_OK);
    }
    dx_arena_release(&a);
}

static void create_users_table(dx_client *c) {
    dx_table_def def = {.name = "users", .key = {.hash = "id", .hash_type = DX_T_S}};
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_create_table(c, &def, &r), DX_OK);
}

/* A number member of a rejects/failures line's "_dynox" object, found textually. */
static long long dynox_num(const char *line, const char *key) {
    const char *d = strstr(line, "\"_dynox\"");
    if (!d) return -1;
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(d, k);
    return p ? atoll(p + strlen(k)) : -1;
}

/* ---------------------------------------------------------------- put */

static void test_put_accounting(void **state) {
    fx *f = *state;
    dxj_spec s;
    char big[400];
    memset(big, 'x', 300);
    big[300] = 0;
    char input[2048];
    snprintf(input, sizeof input,
             "{\"id\":\"u1\",\"name\":\"Ann\",\"age\":30}\n"      /* 1: superseded by 6 */
             "{\"id\":\"u2\",\"name\":\"Bob\",\"age\":\"x\"}\n"   /* 2: bad number */
             "this is not json\n"                                   /* 3: parse error */
             "{\"id\":\"u3\",\"age\":5}\n"                          /* 4: no name (required) */
             "{\"id\":\"u4\",\"name\":\"Dee\",\"age\":40}\n"        /* 5 */
             "{\"id\":\"u1\",\"name\":\"Ann2\",\"age\":31}\n"     /* 6: replaces 1 */
             "{\"id\":\"u5\",\"name\":\"%s\"}\n"                    /* 7: over max_size */
             "{\"id\":\"u6\",\"name\":\"Fay\"}\n",                /* 8 */
             big);
    spec_init(&s, f, DXJ_OP_PUT, input);
    dx_model_free(s.model);
    s.model = users_model(256);
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    dxj_report rep;
    run_ok(f, &s, c, &rep);
    assert_int_equal(rep.status, DXJ_STATUS_COMPLETED);
    assert_string_equal(rep.op, "put");
    assert_string_equal(rep.backend, "memory");
    assert_int_equal(rep.rows_in, 8);
    assert_int_equal(rep.written, 4);
    assert_int_equal(rep.superseded, 1);
    assert_int_equal(rep.rejected, 4);
    assert_int_equal(rep.failed, 0);
    assert_int_equal(rep.total_rows_in, 8);
    assert_int_equal(rep.resumed_from, 0);
    assert_true(rep.requests >= 1);
    assert_true(rep.wcu >= 3);
    assert_true(rep.latency.count >= 1);

    dx_arena a = {0};
    assert_int_equal(table_count(c), 3);
    const dx_value *u1 = get_item(c, "u1", &a);
    assert_true(attr_is(u1, "name", "Ann2")); /* the later row won */
    assert_true(attr_is(u1, "age", "31"));
    assert_true(attr_is(u1, "status", "new")); /* default applied */
    assert_null(get_item(c, "u2", &a));

    /* Rejects: in input order, with where and why. */
    char *text = ct_read_file(s.rejects, NULL);
    size_t n;
    char **ln = lines_of(text, &n);
    assert_int_equal(n, 4);
    static const long long want_line[] = {2, 3, 4, 7};
    for (size_t i = 0; i < n; i++) {
        assert_row_int_equal(i, dynox_num(ln[i], "line"), want_line[i]);
        assert_row_int_equal(i, dynox_num(ln[i], "record"), want_line[i]);
        assert_row_true(i, strstr(ln[i], "\"file\":") != NULL);
        assert_row_true(i, strstr(ln[i], "\"reason\":\"") != NULL);
    }
    assert_non_null(strstr(ln[0], "\"field\":\"age\""));
    assert_non_null(strstr(ln[2], "name"));
    if (!strstr(ln[3], "over the limit of 256")) print_error("%s\n", ln[3]);
    assert_non_null(strstr(ln[3], "over the limit of 256"));
    assert_int_equal(count_lines(s.failures), 0);

    /* The report of a real run is valid JSON with the same numbers. */
    dx_buf b = {0};
    assert_int_equal(dxj_report_json(&rep, &b), DX_OK);
    dx_value v;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_decode_plain(&a, b.ptr, b.len, &v, &r), DX_OK);
    const dx_value *x = dx_map_get(&v, "written");
    assert_true(x && dx_str_eq((dx_str){x->u.s, x->n}, "4"));
    x = dx_map_get(&v, "accounting_ok");
    assert_true(x && x->type == DX_T_BOOL && x->n == 1);
    dx_buf_free(&b);

    free(ln);
    free(text);
    dx_arena_release(&a);
    dx_client_free(c);
    dxj_spec_free(&s);
}

static void test_put_superseded_later_row_wins(void **state) {
    fx *f = *state;
    dx_buf in = {0};
    for (int i = 1; i <= 100; i++)
        dx_buf_printf(&in, "{\"id\":\"k%d\",\"name\":\"n\",\"age\":%d}\n", i % 10, i);
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, in.ptr);
    s.verify = 1.0;
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    dxj_report rep;
    run_ok(f, &s, c, &rep);
    assert_int_equal(rep.rows_in, 100);
    assert_int_equal(rep.written, 100);
    assert_int_equal(rep.superseded, 90);
    assert_int_equal(rep.verified, 10); /* only the rows whose item was sent */
    assert_int_equal(rep.mismatched, 0);
    assert_int_equal(table_count(c), 10);
    dx_arena a = {0};
    for (int k = 0; k < 10; k++) {
        char id[8], age[8];
        snprintf(id, sizeof id, "k%d", k);
        snprintf(age, sizeof age, "%d", 90 + (k == 0 ? 10 : k));
        assert_row_true(k, attr_is(get_item(c, id, &a), "age", age));
    }
    dx_arena_release(&a);
    dx_buf_free(&in);
    dx_client_free(c);
    dxj_spec_free(&s);
}

static void test_put_batch_isolation(void **state) {
    fx *f = *state;
    dx_buf in = {0};
    for (int i = 1; i <= 30; i++) {
        if (i == 7) {
            dx_buf_puts(&in, "{\"id\":\"");
            for (int k = 0; k < 3000; k++) dx_buf_putc(&in, 'h');
            dx_buf_puts(&in, "\",\"name\":\"too long a key\"}\n");
        } else {
            dx_buf_printf(&in, "{\"id\":\"i%d\",\"name\":\"n%d\"}\n", i, i);
        }
    }
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, in.ptr);
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    dxj_report rep;
    run_ok(f, &s, c, &rep);
    assert_int_equal(rep.written, 29);
    assert_int_equal(rep.rejected, 1);
    assert_int_equal(rep.failed, 0);
    assert_int_equal(table_count(c), 29);
    char *text = ct_read_file(s.rejects, NULL);
    size_t n;
    char **ln = lines_of(text, &n);
    assert_int_equal(n, 1);
    assert_int_equal(dynox_num(ln[0], "record"), 7);
    assert_non_null(strstr(ln[0], "2048")); /* the server's own message */
    free(ln);
    free(text);
    dx_buf_free(&in);
    dx_client_free(c);
    dxj_spec_free(&s);
}

/*
 * The runner's own client learns a provisioned table's capacity from
 * DescribeTable and paces just below it: no request is throttled, and the
 * run takes about as long as the capacity says.
 */
static void test_paced_by_table_capacity(void **state) {
    fx *f = *state;
    dx_buf in = {0};
    for (int i = 1; i <= 150; i++) dx_buf_printf(&in, "{\"id\":\"p%03d\",\"name\":\"n\"}\n", i);
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_UPDATE_BY_KEY, in.ptr);
    s.backend.sim_wcu = 100;
    s.backend.sim_rcu = 100;
    s.inflight = 16;
    check_spec(&s);
    dxj_report rep;
    run_ok(f, &s, NULL, &rep);
    assert_int_equal(rep.written, 150);
    assert_int_equal(rep.throttles, 0);
    assert_int_equal(rep.retries, 0);
    /* 150 units at 98 a second after one second of burst: at least ~0.5 s (a lower bound only). */
    assert_true(rep.duration_s >= 0.4);
    dxj_spec_free(&s);
    dx_buf_free(&in);
}

static void test_throttle_failures_rerun(void **state) {
    fx *f = *state;
    dx_buf in = {0};
    for (int i = 1; i <= 300; i++) dx_buf_printf(&in, "{\"id\":\"t%03d\",\"name\":\"n\"}\n", i);
    /* Run 1: a table of 20 WCU, one attempt per call: throttled entries fail. */
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, in.ptr);
    s.backend.sim_wcu = 20;
    s.backend.sim_rcu = 20;
    check_spec(&s);
    dx_client *c = mem_client(true, 1);
    dxj_report rep;
    run_ok(f, &s, c, &rep);
    assert_int_equal(rep.rows_in, 300);
    assert_true(rep.failed > 0);
    assert_true(rep.throttles > 0);
    assert_int_equal(rep.written + rep.failed, 300);
    assert_int_equal(count_lines(s.failures), rep.failed);
    char *dump1 = path(f, "dump1.jsonl");
    FILE *o = fopen(dump1, "wb");
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_mem_dump(c, "users", o, &r), DX_OK);
    fclose(o);
    assert_int_equal(count_lines(dump1), rep.written);
    uint64_t failed1 = rep.failed;
    char *failures1 = path(f, "failures1.jsonl");
    rename(s.failures, failures1);
    dx_client_free(c);
    dxj_spec_free(&s);

    /* Run 2: the failures file as input, on a table seeded from run 1's dump. */
    spec_init(&s, f, DXJ_OP_PUT, NULL);
    free(s.input.path);
    s.input.path = strdup(failures1);
    s.backend.seed = strdup(dump1);
    s.backend.dump = path(f, "dump2.jsonl");
    check_spec(&s);
    run_ok(f, &s, NULL, &rep);
    assert_int_equal(rep.rows_in, failed1);
    assert_int_equal(rep.written, failed1);
    assert_int_equal(rep.rejected, 0);
    assert_int_equal(rep.failed, 0);
    char *d2 = ct_read_file(s.backend.dump, NULL);
    size_t n;
    char **ln = lines_of(d2, &n);
    assert_int_equal(n, 300); /* every row of the input is now in the table */
    for (int i = 1; i <= 300; i++) {
        char id[32];
        snprintf(id, sizeof id, "{\"S\":\"t%03d\"}", i);
        assert_row_true(i, strstr(ln[i - 1], id) != NULL); /* the dump is sorted by key */
    }
    free(ln);
    free(d2);
    free(dump1);
    free(failures1);
    dx_buf_free(&in);
    dxj_spec_free(&s);
}

/* ---------------------------------------------------------------- by key */

static void test_update_by_key(void **state) {
    fx *f = *state;
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_UPDATE_BY_KEY,
              "{\"id\":\"u1\",\"age\":50}\n"                       /* 1: SET */
              "{\"id\":\"u2\",\"name\":\"B2\",\"note\":null}\n"    /* 2: SET + REMOVE */
              "{\"id\":\"zz\",\"age\":1}\n"                         /* 3: must exist */
              "{\"age\":3}\n"                                       /* 4: no key */
              "{\"id\":\"u3\",\"age\":21}\n");                      /* 5 */
    /* Seed in both forms: DynamoDB JSON and export lines. */
    s.backend.seed = path(f, "seed.jsonl");
    assert_int_equal(ct_write_text(s.backend.seed,
               "{\"id\":{\"S\":\"u1\"},\"name\":{\"S\":\"A\"},\"age\":{\"N\":\"10\"}}\n"
               "{\"Item\":{\"id\":{\"S\":\"u2\"},\"name\":{\"S\":\"B\"},\"note\":{\"S\":\"x\"}}}\n"
               "{\"id\":{\"S\":\"u3\"},\"name\":{\"S\":\"C\"},\"age\":{\"N\":\"20\"}}\n"), 0);
    s.backend.dump = path(f, "dump.jsonl");
    s.operation.must_exist = true;
    s.verify = 1.0;
    check_spec(&s);
    dxj_report rep;
    run_ok(f, &s, NULL, &rep);
    assert_int_equal(rep.rows_in, 5);
    if (rep.written != 3) {
        char *t = ct_read_file(s.rejects, NULL);
        print_error("rejects:\n%s\nlog:\n%s\n", t ? t : "", f->log.ptr ? f->log.ptr : "");
        free(t);
    }
    assert_int_equal(rep.written, 3);
    assert_int_equal(rep.rejected, 2);
    assert_int_equal(rep.conditional_failed, 1);
    assert_int_equal(rep.verified, 3);
    assert_int_equal(rep.mismatched, 0);
    char *text = ct_read_file(s.rejects, NULL);
    size_t n;
    char **ln = lines_of(text, &n);
    assert_int_equal(n, 2);
    assert_int_equal(dynox_num(ln[0], "record"), 3);
    assert_non_null(strstr(ln[0], "condition not met"));
    assert_int_equal(dynox_num(ln[1], "record"), 4);
    free(ln);
    free(text);
    char *dump = ct_read_file(s.backend.dump, NULL);
    ln = lines_of(dump, &n);
    assert_int_equal(n, 3); /* zz was not created */
    assert_string_equal(ln[0], "{\"age\":{\"N\":\"50\"},\"id\":{\"S\":\"u1\"},\"name\":{\"S\":\"A\"}}");
    assert_string_equal(ln[1], "{\"id\":{\"S\":\"u2\"},\"name\":{\"S\":\"B2\"}}");
    assert_string_equal(ln[2], "{\"age\":{\"N\":\"21\"},\"id\":{\"S\":\"u3\"},\"name\":{\"S\":\"C\"}}");
    free(ln);
    free(dump);
    dxj_spec_free(&s);

    /* A condition with a value: age below :max. */
    spec_init(&s, f, DXJ_OP_UPDATE_BY_KEY,
              "{\"id\":\"a\",\"note\":\"young\"}\n{\"id\":\"b\",\"note\":\"young\"}\n");
    s.operation.condition = strdup("#age < :max");
    s.operation.values_json = strdup("{\":max\":45}");
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    create_users_table(c);
    static const char *const items[] = {
        "{\"id\":{\"S\":\"a\"},\"name\":{\"S\":\"A\"},\"age\":{\"N\":\"30\"}}",
        "{\"id\":{\"S\":\"b\"},\"name\":{\"S\":\"B\"},\"age\":{\"N\":\"60\"}}"};
    put_items(c, items, 2);
    run_ok(f, &s, c, &rep);
    assert_int_equal(rep.written, 1);
    assert_int_equal(rep.rejected, 1);
    assert_int_equal(rep.conditional_failed, 1);
    dx_arena a = {0};
    assert_true(attr_is(get_item(c, "a", &a), "note", "young"));
    assert_true(attr_is(get_item(c, "b", &a), "note", NULL));
    text = ct_read_file(s.rejects, NULL);
    assert_non_null(strstr(text, "condition not met: #age < :max"));
    free(text);
    dx_arena_release(&a);
    dx_client_free(c);
    dxj_spec_free(&s);

    /* A value the condition does not use is a configuration error, before anything runs. */
    spec_init(&s, f, DXJ_OP_UPDATE_BY_KEY, "{\"id\":\"a\",\"note\":\"x\"}\n");
    s.operation.condition = strdup("attribute_exists(id)");
    s.operation.values_json = strdup("{\":unused\":1}");
    check_spec(&s);
    dx_result r;
    assert_int_equal(run(f, &s, NULL, &rep, &r), DX_ERR_CONFIG);
    assert_non_null(strstr(r.message, ":unused"));
    assert_int_equal(rep.status, DXJ_STATUS_FATAL);
    dxj_spec_free(&s);
}

static void test_delete_by_key(void **state) {
    fx *f = *state;
    dx_client *c = mem_client(false, 0);
    create_users_table(c);
    static const char *const items[] = {"{\"id\":{\"S\":\"d1\"},\"name\":{\"S\":\"A\"}}",
                                        "{\"id\":{\"S\":\"d2\"},\"name\":{\"S\":\"B\"}}",
                                        "{\"id\":{\"S\":\"d3\"},\"name\":{\"S\":\"C\"}}"};
    put_items(c, items, 3);
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_DELETE_BY_KEY,
              "{\"id\":\"d1\"}\n{\"id\":\"d2\",\"name\":\"ignored\"}\n{\"id\":\"d1\"}\n"
              "{\"id\":\"nope\"}\n{\"nokey\":1}\n");
    s.verify = 1.0;
    check_spec(&s);
    dxj_report rep;
    run_ok(f, &s, c, &rep);
    assert_int_equal(rep.rows_in, 5);
    assert_int_equal(rep.written, 4); /* deleting an absent item is not an error */
    assert_int_equal(rep.superseded, 1);
    assert_int_equal(rep.rejected, 1);
    assert_int_equal(rep.verified, 3);
    assert_int_equal(rep.mismatched, 0);
    assert_int_equal(table_count(c), 1);
    dxj_spec_free(&s);

    /* With a condition: one DeleteItem per row. */
    spec_init(&s, f, DXJ_OP_DELETE_BY_KEY, "{\"id\":\"d3\"}\n{\"id\":\"gone\"}\n");
    s.operation.must_exist = true;
    check_spec(&s);
    run_ok(f, &s, c, &rep);
    assert_int_equal(rep.written, 1);
    assert_int_equal(rep.rejected, 1);
    assert_int_equal(rep.conditional_failed, 1);
    assert_int_equal(table_count(c), 0);
    dxj_spec_free(&s);
    dx_client_free(c);
}

/* ---------------------------------------------------------------- get flows */

static void seed_abc(dx_client *c) {
    create_users_table(c);
    static const char *const items[] = {
        "{\"id\":{\"S\":\"a\"},\"name\":{\"S\":\"A\"},\"age\":{\"N\":\"1\"},\"extra\":{\"S\":\"keep\"}}",
        "{\"id\":{\"S\":\"b\"},\"name\":{\"S\":\"B\"},\"age\":{\"N\":\"2\"}}",
        "{\"id\":{\"S\":\"c\"},\"name\":{\"S\":\"C\"},\"age\":{\"N\":\"3\"}}"};
    put_items(c, items, 3);
}

static void test_get_flows_missing(void **state) {
    fx *f = *state;
    const char *input = "{\"id\":\"a\",\"age\":10}\n{\"id\":\"x\",\"age\":11}\n"
                        "{\"id\":\"b\",\"age\":12}\n{\"id\":\"y\",\"age\":13,\"name\":\"Y\"}\n";
    struct {
        dxj_op op;
        dxj_missing missing;
        uint64_t written, rejected, missing_n, count_after;
    } cases[] = {
        {DXJ_OP_GET_UPDATE, DXJ_MISSING_SKIP, 2, 2, 2, 3},
        {DXJ_OP_GET_UPDATE, DXJ_MISSING_CREATE, 4, 0, 2, 5},
        {DXJ_OP_GET_SAVE, DXJ_MISSING_SKIP, 2, 2, 2, 3},
        {DXJ_OP_GET_SAVE, DXJ_MISSING_CREATE, 3, 1, 2, 4}, /* x has no name: required */
        {DXJ_OP_GET_DELETE, DXJ_MISSING_SKIP, 2, 2, 2, 1},
        {DXJ_OP_GET_DELETE, DXJ_MISSING_CREATE, 4, 0, 2, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dx_client *c = mem_client(false, 0);
        seed_abc(c);
        dxj_spec s;
        spec_init(&s, f, cases[i].op, input);
        s.operation.missing = cases[i].missing;
        s.verify = 1.0;
        check_spec(&s);
        dxj_report rep;
        run_ok(f, &s, c, &rep);
        if (rep.written != cases[i].written || rep.rejected != cases[i].rejected)
            print_error("row %zu: log %s\n", i, f->log.ptr ? f->log.ptr : "");
        assert_row_int_equal(i, rep.rows_in, 4);
        assert_row_int_equal(i, rep.written, cases[i].written);
        assert_row_int_equal(i, rep.rejected, cases[i].rejected);
        assert_row_int_equal(i, rep.missing, cases[i].missing_n);
        assert_row_int_equal(i, rep.failed, 0);
        assert_row_int_equal(i, rep.mismatched, 0);
        assert_row_int_equal(i, table_count(c), cases[i].count_after);
        if (cases[i].missing == DXJ_MISSING_SKIP) {
            char *text = ct_read_file(s.rejects, NULL);
            size_t n;
            char **ln = lines_of(text, &n);
            assert_row_int_equal(i, n, 2);
            assert_row_true(i, strstr(ln[0], "item not found") && dynox_num(ln[0], "record") == 2);
            assert_row_true(i, strstr(ln[1], "item not found") && dynox_num(ln[1], "record") == 4);
            free(ln);
            free(text);
        }
        dx_arena a = {0};
        const dx_value *it = get_item(c, "a", &a);
        if (cases[i].op == DXJ_OP_GET_DELETE) {
            assert_row_true(i, it == NULL);
        } else {
            assert_row_true(i, attr_is(it, "age", "10"));
            assert_row_true(i, attr_is(it, "name", "A"));
            assert_row_true(i, attr_is(it, "extra", "keep")); /* unknown attributes survive */
        }
        if (cases[i].op == DXJ_OP_GET_SAVE && cases[i].missing == DXJ_MISSING_CREATE)
            assert_row_true(i, attr_is(get_item(c, "y", &a), "status", "new")); /* defaults */
        dx_arena_release(&a);
        dx_client_free(c);
        dxj_spec_free(&s);
    }
}

typedef struct conflict_ud {
    dx_client *c;
    atomic_int calls_c2, calls_c5;
} conflict_ud;

/* Another writer: bumps the stored version of c2 (twice) and c5 (always) under our feet. */
static dx_err conflict_hook(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r) {
    (void)kind;
    (void)r;
    conflict_ud *u = ud;
    const char *id = NULL;
    dx_item_get_str(item, "id", &id);
    bool bump = false;
    if (strcmp(id, "c2") == 0) bump = atomic_fetch_add(&u->calls_c2, 1) < 2;
    if (strcmp(id, "c5") == 0) {
        atomic_fetch_add(&u->calls_c5, 1);
        bump = true;
    }
    if (bump) {
        dx_member km = {"id", 2, dx_vs(id)};
        dx_value key = dx_vmap(&km, 1);
        dx_member nm = {"#v", 2, dx_vs("version")};
        dx_value names = dx_vmap(&nm, 1);
        dx_member vm = {":one", 4, dx_vn("1")};
        dx_value values = dx_vmap(&vm, 1);
        dx_call call = {.req = {.op = DX_OP_UPDATE, .table = "users", .key = &key,
                                .update = "SET #v = #v + :one", .names = &names,
                                .values = &values}};
        dx_client_call(u->c, &call);
    }
    return DX_OK;
}

/* Another writer's conflicts retry, with or without a condition of the job's own. */
static void version_conflicts(fx *f, const char *condition) {
    dx_client *c = mem_client(false, 0);
    create_users_table(c);
    static const char *const items[] = {
        "{\"id\":{\"S\":\"c1\"},\"name\":{\"S\":\"A\"},\"version\":{\"N\":\"1\"}}",
        "{\"id\":{\"S\":\"c2\"},\"name\":{\"S\":\"B\"},\"version\":{\"N\":\"1\"}}",
        "{\"id\":{\"S\":\"c3\"},\"name\":{\"S\":\"C\"}}",
        "{\"id\":{\"S\":\"c5\"},\"name\":{\"S\":\"E\"},\"version\":{\"N\":\"7\"}}"};
    put_items(c, items, 4);
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_GET_UPDATE,
              "{\"id\":\"c1\",\"age\":1}\n{\"id\":\"c2\",\"age\":2}\n{\"id\":\"c3\",\"age\":3}\n"
              "{\"id\":\"c5\",\"age\":5}\n");
    s.operation.version_attr = strdup("version");
    if (condition) s.operation.condition = strdup(condition);
    conflict_ud u = {.c = c};
    assert_int_equal(dx_model_add_hook(s.model, DX_HOOK_BEFORE_UPDATE, conflict_hook, &u), DX_OK);
    check_spec(&s);
    dxj_report rep;
    run_ok(f, &s, c, &rep);
    assert_int_equal(rep.written, 3);
    assert_int_equal(rep.failed, 1);
    assert_int_equal(rep.conditional_failed, 0);
    assert_int_equal(atomic_load(&u.calls_c2), 3); /* two conflicts, then success */
    assert_int_equal(atomic_load(&u.calls_c5), 5); /* five reads, then give up */
    dx_arena a = {0};
    assert_true(attr_is(get_item(c, "c1", &a), "version", "2"));
    assert_true(attr_is(get_item(c, "c2", &a), "version", "4")); /* 1 + 2 others + ours */
    assert_true(attr_is(get_item(c, "c2", &a), "age", "2"));
    assert_true(attr_is(get_item(c, "c3", &a), "version", "1")); /* absent -> 1 */
    assert_true(attr_is(get_item(c, "c5", &a), "version", "12")); /* only the other writer's */
    assert_true(attr_is(get_item(c, "c5", &a), "age", NULL));
    char *text = ct_read_file(s.failures, NULL);
    assert_non_null(strstr(text, "version conflict"));
    assert_int_equal(dynox_num(text, "record"), 4);
    free(text);
    dx_arena_release(&a);
    dxj_spec_free(&s);
    dx_client_free(c);
}

static void test_version_conflicts(void **state) {
    version_conflicts(*state, NULL);
    version_conflicts(*state, "attribute_exists(id)"); /* always true here */
}

/*
 * get_* with version_attr and a condition that is never true: the write's
 * condition fails, and the read after it finds the item as it was -- the
 * job's condition failed, not the lock. Rejected as "condition not met", as
 * without version_attr; one extra read per row, not five.
 */
static void test_version_with_unmet_condition(void **state) {
    fx *f = *state;
    struct {
        dxj_op op;
        dxj_missing missing;
    } cases[] = {
        {DXJ_OP_GET_UPDATE, DXJ_MISSING_SKIP},
        {DXJ_OP_GET_UPDATE, DXJ_MISSING_CREATE},
        {DXJ_OP_GET_SAVE, DXJ_MISSING_CREATE},
        {DXJ_OP_GET_DELETE, DXJ_MISSING_SKIP},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dx_client *c = mem_client(false, 0);
        seed_abc(c); /* a, b and c; a has no version, b and c get one below */
        static const char *const versioned[] = {
            "{\"id\":{\"S\":\"b\"},\"name\":{\"S\":\"B\"},\"version\":{\"N\":\"3\"}}",
            "{\"id\":{\"S\":\"c\"},\"name\":{\"S\":\"C\"},\"version\":{\"N\":\"9\"}}"};
        put_items(c, versioned, 2);
        bool create = cases[i].missing == DXJ_MISSING_CREATE;
        dxj_spec s;
        spec_init(&s, f, cases[i].op,
                  create ? "{\"id\":\"a\",\"age\":7,\"name\":\"A\"}\n"
                           "{\"id\":\"b\",\"age\":7,\"name\":\"B\"}\n"
                           "{\"id\":\"c\",\"age\":7,\"name\":\"C\"}\n"
                           "{\"id\":\"new\",\"age\":7,\"name\":\"N\"}\n"
                         : "{\"id\":\"a\",\"age\":7,\"name\":\"A\"}\n"
                           "{\"id\":\"b\",\"age\":7,\"name\":\"B\"}\n"
                           "{\"id\":\"c\",\"age\":7,\"name\":\"C\"}\n");
        s.operation.version_attr = strdup("version");
        s.operation.condition = strdup("attribute_exists(nosuch)");
        s.operation.missing = cases[i].missing;
        check_spec(&s);
        dxj_report rep;
        run_ok(f, &s, c, &rep);
        uint64_t rows = create ? 4 : 3;
        assert_row_int_equal(i, rep.rows_in, rows);
        assert_row_int_equal(i, rep.rejected, rows);
        assert_row_int_equal(i, rep.conditional_failed, rows);
        assert_row_int_equal(i, rep.failed, 0);
        assert_row_int_equal(i, rep.written, 0);
        assert_row_int_equal(i, rep.missing, create ? 1 : 0);
        assert_row_int_equal(i, rep.requests, 3 * rows); /* read, write, read: no retries */
        assert_row_int_equal(i, count_lines(s.failures), 0);
        char *text = ct_read_file(s.rejects, NULL);
        size_t n;
        char **ln = lines_of(text, &n);
        assert_row_int_equal(i, n, rows);
        for (size_t k = 0; k < n; k++)
            assert_row_true(i, strstr(ln[k], "condition not met: attribute_exists(nosuch)"));
        free(ln);
        free(text);
        dx_arena a = {0};
        assert_row_true(i, attr_is(get_item(c, "b", &a), "version", "3")); /* untouched */
        assert_row_true(i, attr_is(get_item(c, "c", &a), "age", NULL));
        assert_row_true(i, get_item(c, "new", &a) == NULL);
        dx_arena_release(&a);
        dx_client_free(c);
        dxj_spec_free(&s);
    }
}

typedef struct count_ud {
    atomic_int n;
} count_ud;

static dx_err count_hook(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r) {
    (void)item;
    (void)kind;
    (void)r;
    atomic_fetch_add(&((count_ud *)ud)->n, 1);
    return DX_OK;
}

static dx_err veto_hook(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r) {
    (void)kind;
    (void)ud;
    const char *id = NULL;
    dx_item_get_str(item, "id", &id);
    if (id && strcmp(id, "b") == 0)
        return dx_fail(r, DX_ERR_HOOK, "id", "b may not be saved by this job");
    return DX_OK;
}

static void test_hooks_run_and_skipped(void **state) {
    fx *f = *state;
    for (int skip = 0; skip < 2; skip++) {
        dx_client *c = mem_client(false, 0);
        seed_abc(c);
        dxj_spec s;
        spec_init(&s, f, DXJ_OP_GET_SAVE,
                  "{\"id\":\"a\",\"note\":\"n1\"}\n{\"id\":\"b\",\"note\":\"n2\"}\n"
                  "{\"id\":\"c\",\"note\":\"n3\"}\n");
        dx_result r;
        dx_result_clear(&r);
        assert_int_equal(dx_model_add_builtin_hook(s.model, DX_HOOK_BEFORE_SAVE, "set_now",
                                                   "updated_at", &r),
                         DX_OK);
        count_ud after = {0}, load = {0};
        dx_model_add_hook(s.model, DX_HOOK_BEFORE_SAVE, veto_hook, NULL);
        dx_model_add_hook(s.model, DX_HOOK_AFTER_SAVE, count_hook, &after);
        dx_model_add_hook(s.model, DX_HOOK_AFTER_LOAD, count_hook, &load);
        s.hooks.skip = skip;
        check_spec(&s);
        dxj_report rep;
        run_ok(f, &s, c, &rep);
        dx_arena a = {0};
        const dx_value *ia = get_item(c, "a", &a);
        assert_true(attr_is(ia, "note", "n1"));
        if (!skip) {
            assert_int_equal(rep.written, 2);
            assert_int_equal(rep.rejected, 1); /* the before hook refused b */
            assert_non_null(dx_map_get(ia, "updated_at"));
            assert_int_equal(atomic_load(&after.n), 2);
            assert_int_equal(atomic_load(&load.n), 3);
            assert_true(attr_is(get_item(c, "b", &a), "note", NULL));
            char *text = ct_read_file(s.rejects, NULL);
            assert_non_null(strstr(text, "b may not be saved"));
            free(text);
        } else {
            assert_int_equal(rep.written, 3);
            assert_null(dx_map_get(ia, "updated_at"));
            assert_int_equal(atomic_load(&after.n), 0);
            assert_int_equal(atomic_load(&load.n), 0);
            assert_true(attr_is(get_item(c, "b", &a), "note", "n2"));
        }
        dx_arena_release(&a);
        dx_client_free(c);
        dxj_spec_free(&s);
    }
}

typedef struct corrupt_ud {
    dx_client *c;
} corrupt_ud;

/* A second writer that changes b right after the job wrote it. */
static dx_err corrupt_hook(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r) {
    (void)kind;
    (void)r;
    const char *id = NULL;
    dx_item_get_str(item, "id", &id);
    if (strcmp(id, "b") != 0) return DX_OK;
    dx_arena a = {0};
    dx_value v;
    const char *json = "{\"id\":{\"S\":\"b\"},\"name\":{\"S\":\"CORRUPT\"}}";
    dx_decode_item(&a, json, strlen(json), &v, NULL);
    dx_call call = {.req = {.op = DX_OP_PUT, .table = "users", .item = &v}};
    dx_client_call(((corrupt_ud *)ud)->c, &call);
    dx_arena_release(&a);
    return DX_OK;
}

static void test_verify_catches_corruption(void **state) {
    fx *f = *state;
    dx_client *c = mem_client(false, 0);
    seed_abc(c);
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_GET_SAVE,
              "{\"id\":\"a\",\"name\":\"A1\"}\n{\"id\":\"b\",\"name\":\"B1\"}\n"
              "{\"id\":\"c\",\"name\":\"C1\"}\n");
    corrupt_ud u = {.c = c};
    dx_model_add_hook(s.model, DX_HOOK_AFTER_SAVE, corrupt_hook, &u);
    s.verify = 1.0;
    check_spec(&s);
    dxj_report rep;
    run_ok(f, &s, c, &rep);
    assert_int_equal(rep.written, 3);
    assert_int_equal(rep.verified, 3);
    assert_int_equal(rep.mismatched, 1);
    assert_int_equal(rep.nmismatches, 1);
    assert_string_equal(rep.mismatches[0].key, "{\"id\":\"b\"}");
    assert_non_null(strstr(rep.mismatches[0].what, "B1"));
    assert_non_null(strstr(rep.mismatches[0].what, "CORRUPT"));
    assert_non_null(strstr(f->log.ptr, "verification mismatch for {\"id\":\"b\"}"));
    dxj_spec_free(&s);
    dx_client_free(c);
}

/* ---------------------------------------------------------------- stop, resume, fatal */

typedef struct stop_ud {
    atomic_int *stop;
    uint64_t at;
} stop_ud;

static void stop_progress(const dxj_progress *p, void *ud) {
    stop_ud *s = ud;
    if (p->written >= s->at) atomic_store(s->stop, 1);
}

/*
 * A stop leaves the rows read but not sent as not started: not failed, not
 * counted, no line anywhere; the checkpoint's mark is the first of them, and
 * --resume applies every one of them, so all runs together account for each
 * input row exactly once.
 */
static void test_stop_mid_run(void **state) {
    fx *f = *state;
    dx_buf in = {0};
    uint64_t bad = 0;
    for (int i = 1; i <= 30000; i++) {
        if (i % 97 == 0) {
            dx_buf_printf(&in, "{\"id\":\"s%d\",\"age\":\"bad\"}\n", i);
            bad++;
        } else {
            dx_buf_printf(&in, "{\"id\":\"s%d\",\"name\":\"n\"}\n", i);
        }
    }
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, in.ptr);
    s.rate = 10000;
    s.checkpoint = path(f, "job.checkpoint");
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    atomic_int stop = 0;
    stop_ud su = {.stop = &stop, .at = 1000};
    dxj_run_opts o = {.stop = &stop, .progress = stop_progress, .progress_ms = 20, .ud = &su,
                      .client = c};
    dxj_report rep;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_run(&s, &o, &rep, &r), DX_OK);
    assert_int_equal(rep.status, DXJ_STATUS_INTERRUPTED);
    if (!rep.accounting_ok) print_error("%s\n", rep.error);
    assert_true(rep.accounting_ok);
    assert_true(rep.rows_in < 30000); /* the reader stopped */
    assert_true(rep.written + rep.after_stop >= 1000); /* the rows final at the stop */
    assert_true(rep.not_started > 0); /* the read-ahead was not sent */
    assert_int_equal(rep.rows_in, rep.written + rep.rejected + rep.failed);
    /* Rows past the stop point that were written are counted (done_past_mark); the rest not. */
    uint64_t before = rep.rows_in - rep.done_past_mark;
    assert_true(rep.done_past_mark <= rep.written);
    assert_int_equal(rep.rejected, before / 97); /* only the rows before the stop point */
    assert_int_equal(count_lines(s.rejects), rep.rejected);
    assert_int_equal(rep.stopped_at_record, before + 1); /* the first row not started */
    assert_int_equal(rep.stopped_at_line, before + 1);
    assert_int_equal(count_lines(s.failures), rep.failed);
    char *text = ct_read_file(s.failures, NULL);
    assert_true(!text || !strstr(text, "not sent"));
    free(text);
    dxj_checkpoint cp;
    assert_int_equal(dxj_checkpoint_read(s.checkpoint, &cp, &r), DX_OK);
    assert_int_equal(cp.records, rep.stopped_at_record - 1);
    assert_int_equal(cp.rows_in, rep.rows_in);
    assert_int_equal(cp.written, rep.written);
    assert_int_equal(cp.failed, rep.failed);
    assert_string_equal(cp.op, "put");
    uint64_t listed = 0;
    for (size_t i = 0; i < cp.ndone; i++) {
        assert_true(cp.done[i][0] > rep.stopped_at_record);
        listed += cp.done[i][1] - cp.done[i][0] + 1;
    }
    assert_int_equal(listed, rep.done_past_mark);
    dxj_checkpoint_free(&cp);

    /* --resume: every input row ends in the table, each counted once over both runs. */
    s.rate = 0;
    s.resume = true;
    dxj_report rep2;
    dxj_run_opts o2 = {.client = c, .log = log_cb, .ud = f};
    dx_result_clear(&r);
    assert_int_equal(dxj_run(&s, &o2, &rep2, &r), DX_OK);
    assert_int_equal(rep2.status, DXJ_STATUS_COMPLETED);
    assert_true(rep2.accounting_ok);
    assert_int_equal(rep2.not_started, 0);
    assert_int_equal(rep2.after_stop, 0);
    assert_int_equal(rep2.stopped_at_record, 0);
    assert_int_equal(rep2.resumed_from, cp.records);
    assert_int_equal(rep2.skipped_done, rep.done_past_mark);
    assert_int_equal(rep2.rows_in, 30000 - cp.records - rep.done_past_mark);
    assert_int_equal(rep2.total_rows_in, 30000);
    assert_int_equal(rep2.total_written, 30000 - bad);
    assert_int_equal(rep2.total_rejected, bad);
    assert_int_equal(rep2.total_failed, 0);
    assert_int_equal(table_count(c), 30000 - bad);
    /* Each reject once, in input order, across the two runs. */
    text = ct_read_file(s.rejects, NULL);
    size_t n;
    char **ln = lines_of(text, &n);
    assert_int_equal(n, bad);
    for (size_t i = 0; i < n; i++) assert_row_int_equal(i, dynox_num(ln[i], "record"), 97 * (i + 1));
    free(ln);
    free(text);
    dx_buf_free(&in);
    dxj_spec_free(&s);
    dx_client_free(c);
}

static void stop_after_1s(const dxj_progress *p, void *ud) {
    if (p->elapsed_s >= 1.0) atomic_store((atomic_int *)ud, 1);
}

static void test_stop_cancels_waiting_calls(void **state) {
    (void)state;
    dx_buf in = {0};
    for (int i = 1; i <= 2000; i++) dx_buf_printf(&in, "{\"id\":\"w%d\",\"name\":\"n\"}\n", i);
    fx *f = *state;
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, in.ptr);
    s.backend.sim_wcu = 20;
    s.backend.sim_rcu = 20;
    check_spec(&s);
    /* Throttled calls wait seconds before each retry. */
    dx_mem_opts mo = {.simulate_capacity = true};
    dx_client_opts co = {.retry = {.max_attempts = 10, .base_ms = 3000, .max_ms = 5000}};
    dx_client *c = NULL;
    assert_int_equal(dx_mem_client_new(&mo, &co, &c), DX_OK);
    atomic_int stop = 0;
    dxj_run_opts o = {.stop = &stop, .progress = stop_after_1s, .progress_ms = 20, .ud = &stop,
                      .client = c};
    dxj_report rep;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_run(&s, &o, &rep, &r), DX_OK);
    if (rep.status != DXJ_STATUS_INTERRUPTED || rep.duration_s >= 2.5)
        print_error("status %d, %.3f s, written %llu failed %llu throttles %llu\n", rep.status,
                    rep.duration_s, (unsigned long long)rep.written,
                    (unsigned long long)rep.failed, (unsigned long long)rep.throttles);
    assert_int_equal(rep.status, DXJ_STATUS_INTERRUPTED);
    assert_true(rep.accounting_ok);
    assert_true(rep.duration_s < 2.5); /* stopped at 1 s: not the seconds of backoff left */
    /* The calls waiting for a retry were cancelled: not started, not failed. */
    assert_true(rep.not_started > 0);
    assert_true(rep.stopped_at_record > 0);
    assert_int_equal(rep.failed, 0);
    assert_int_equal(rep.rows_in, rep.written);
    assert_int_equal(rep.rows_in - rep.done_past_mark, rep.stopped_at_record - 1);
    assert_int_equal(count_lines(s.failures), 0);
    dx_buf_free(&in);
    dxj_spec_free(&s);
    dx_client_free(c);
}

typedef struct capture_ud {
    char *cp_path;
    char *captured;
} capture_ud;

static void capture_progress(const dxj_progress *p, void *ud) {
    (void)p;
    capture_ud *u = ud;
    if (!u->captured) u->captured = ct_read_file(u->cp_path, NULL);
}

static void test_checkpoint_resume(void **state) {
    fx *f = *state;
    dx_buf in = {0};
    size_t good = 0;
    for (int i = 1; i <= 6000; i++) {
        if (i % 97 == 0)
            dx_buf_printf(&in, "{\"id\":\"r%d\",\"age\":\"bad\"}\n", i);
        else {
            dx_buf_printf(&in, "{\"id\":\"r%d\",\"name\":\"n%d\"}\n", i, i);
            good++;
        }
    }
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, in.ptr);
    s.rate = 2000;
    s.checkpoint = path(f, "job.checkpoint");
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    capture_ud cu = {.cp_path = s.checkpoint};
    dxj_run_opts o = {.progress = capture_progress, .progress_ms = 50, .ud = &cu, .client = c};
    dxj_report rep1, rep2;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_run(&s, &o, &rep1, &r), DX_OK);
    assert_int_equal(rep1.status, DXJ_STATUS_COMPLETED);
    assert_int_equal(rep1.rows_in, 6000);
    if (!cu.captured) print_error("run took %.3f s\n", rep1.duration_s);
    assert_non_null(cu.captured); /* a checkpoint was written while the job ran */
    char *rejects_full = ct_read_file(s.rejects, NULL);

    /* Pretend the process died right after that mid-run checkpoint: put it back, and add
     * a line the dead run appended after it (resume must cut it off). */
    assert_int_equal(ct_write_text(s.checkpoint, cu.captured), 0);
    dxj_checkpoint cp;
    assert_int_equal(dxj_checkpoint_read(s.checkpoint, &cp, &r), DX_OK);
    assert_true(cp.records > 0 && cp.records < 6000);
    FILE *o2 = fopen(s.rejects, "ab");
    fputs("{\"partial line of a dead run\n", o2);
    fclose(o2);

    s.rate = 0;
    s.resume = true;
    dx_result_clear(&r);
    dxj_run_opts o3 = {.client = c, .log = log_cb, .ud = f};
    assert_int_equal(dxj_run(&s, &o3, &rep2, &r), DX_OK);
    assert_true(rep2.accounting_ok);
    assert_int_equal(rep2.resumed_from, cp.records);
    assert_int_equal(rep2.rows_in, 6000 - cp.records);
    assert_int_equal(rep2.total_rows_in, 6000);
    assert_int_equal(rep2.total_written, good);
    assert_int_equal(rep2.total_rejected, 6000 - good);
    assert_int_equal(rep2.total_failed, 0);
    assert_int_equal(rep2.total_rows_in,
                     rep2.total_written + rep2.total_rejected + rep2.total_failed);
    char *rejects_resumed = ct_read_file(s.rejects, NULL);
    assert_string_equal(rejects_resumed, rejects_full); /* each reject once, in input order */
    assert_int_equal(table_count(c), good);

    /* A checkpoint of another job is refused. */
    s.operation.op = DXJ_OP_DELETE_BY_KEY;
    assert_int_equal(run(f, &s, c, &rep2, &r), DX_ERR_CONFIG);
    assert_non_null(strstr(r.message, "belongs to another job"));

    free(rejects_full);
    free(rejects_resumed);
    free(cu.captured);
    dx_buf_free(&in);
    dxj_spec_free(&s);
    dx_client_free(c);
}

typedef struct drop_ud {
    dx_client *c;
    atomic_int n;
} drop_ud;

/* The table disappears in the middle of the job. */
static dx_err drop_table_hook(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r) {
    (void)item;
    (void)kind;
    (void)r;
    drop_ud *u = ud;
    if (atomic_fetch_add(&u->n, 1) == 20) dx_delete_table(u->c, "users", NULL);
    return DX_OK;
}

static void test_fatal_table_deleted(void **state) {
    fx *f = *state;
    dx_client *c = mem_client(false, 0);
    create_users_table(c);
    dx_buf in = {0}, seed = {0};
    const char **items = calloc(3000, sizeof *items);
    for (int i = 1; i <= 3000; i++) {
        dx_buf_printf(&in, "{\"id\":\"f%d\",\"age\":%d}\n", i, i);
        char *it = malloc(80);
        snprintf(it, 80, "{\"id\":{\"S\":\"f%d\"},\"name\":{\"S\":\"n\"}}", i);
        items[i - 1] = it;
    }
    put_items(c, items, 3000);
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_GET_UPDATE, in.ptr);
    drop_ud u = {.c = c};
    dx_model_add_hook(s.model, DX_HOOK_BEFORE_UPDATE, drop_table_hook, &u);
    check_spec(&s);
    dxj_report rep;
    dx_result r;
    dx_err e = run(f, &s, c, &rep, &r);
    assert_int_equal(e, DX_ERR_RESOURCE_NOT_FOUND);
    assert_int_equal(rep.status, DXJ_STATUS_FATAL);
    assert_true(rep.error[0] != 0);
    assert_true(rep.accounting_ok);
    assert_true(rep.failed + rep.after_stop > 0); /* the calls that met the missing table */
    assert_true(rep.not_started > 0);              /* the rest: a resume does them */
    assert_int_equal(rep.rows_in, rep.written + rep.rejected + rep.failed);
    assert_int_equal(count_lines(s.failures), rep.failed);
    for (int i = 0; i < 3000; i++) free((void *)items[i]);
    free(items);
    dx_buf_free(&in);
    dx_buf_free(&seed);
    dxj_spec_free(&s);
    dx_client_free(c);
}

static void test_fatal_truncated_input(void **state) {
    fx *f = *state;
    dx_buf in = {0};
    for (int i = 1; i <= 20000; i++)
        dx_buf_printf(&in, "{\"id\":\"z%d\",\"name\":\"name number %d\"}\n", i, i);
    size_t cap = ZSTD_compressBound(in.len);
    char *z = malloc(cap);
    size_t zn = ZSTD_compress(z, cap, in.ptr, in.len, 3);
    assert_false(ZSTD_isError(zn));
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, NULL);
    free(s.input.path);
    s.input.path = path(f, "input.jsonl.zst");
    FILE *o = fopen(s.input.path, "wb");
    fwrite(z, 1, zn * 2 / 3, o); /* cut off mid-frame */
    fclose(o);
    check_spec(&s);
    dxj_report rep;
    dx_result r;
    dx_err e = run(f, &s, NULL, &rep, &r);
    assert_int_not_equal(e, DX_OK);
    assert_int_equal(rep.status, DXJ_STATUS_FATAL);
    assert_true(rep.started); /* fatal, but after reading: the report counts what was done */
    assert_non_null(strstr(rep.error, "input.jsonl.zst"));
    assert_true(rep.accounting_ok);
    /* Rows read before the input broke: done, or not started (the halt came at once). */
    uint64_t read = rep.rows_in + rep.not_started + rep.after_stop + rep.skipped_done;
    assert_true(read > 0 && read < 20000);
    assert_int_equal(rep.rows_in, rep.written + rep.failed);
    free(z);
    dx_buf_free(&in);
    dxj_spec_free(&s);
}


/* ---------------------------------------------------------------- more halts */

/* Stops the job once `at` rows are final, and resumes it; reports of both runs. */
static void stop_then_resume(fx *f, dxj_spec *s, dx_client *c, uint64_t at, dxj_report *rep1,
                             dxj_report *rep2) {
    atomic_int stop = 0;
    stop_ud su = {.stop = &stop, .at = at};
    dxj_run_opts o = {.stop = &stop, .progress = stop_progress, .progress_ms = 10, .ud = &su,
                      .client = c};
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_run(s, &o, rep1, &r), DX_OK);
    if (!rep1->accounting_ok) print_error("run 1: %s\n", rep1->error);
    assert_true(rep1->accounting_ok);
    assert_int_equal(rep1->rows_in, rep1->written + rep1->rejected + rep1->failed);
    assert_int_equal(count_lines(s->rejects), rep1->rejected);
    assert_int_equal(count_lines(s->failures), rep1->failed);
    if (rep1->stopped_at_record) {
        dxj_checkpoint cp;
        assert_int_equal(dxj_checkpoint_read(s->checkpoint, &cp, &r), DX_OK);
        assert_int_equal(cp.rows_in, rep1->rows_in);
        assert_int_equal(cp.rejected, rep1->rejected);
        dxj_checkpoint_free(&cp);
    }
    double rate = s->rate;
    s->rate = 0;
    s->resume = true;
    dxj_run_opts o2 = {.client = c, .log = log_cb, .ud = f};
    dx_result_clear(&r);
    assert_int_equal(dxj_run(s, &o2, rep2, &r), DX_OK);
    if (!rep2->accounting_ok) print_error("run 2: %s\n", rep2->error);
    assert_true(rep2->accounting_ok);
    assert_int_equal(rep2->status, DXJ_STATUS_COMPLETED);
    /* the rows run 1 wrote past its stop point are skipped, not applied again */
    assert_int_equal(rep2->skipped_done, rep1->done_past_mark);
    s->rate = rate;
    s->resume = false;
}

/* Rejects lines: `n` of them, with these record ordinals, in order. */
static void assert_reject_records(const char *p, const uint64_t *want, size_t n) {
    char *text = ct_read_file(p, NULL);
    size_t k = 0;
    char **ln = lines_of(text, &k);
    assert_int_equal(k, n);
    for (size_t i = 0; i < n; i++) assert_row_int_equal(i, dynox_num(ln[i], "record"), want[i]);
    free(ln);
    free(text);
}

/*
 * put with duplicate keys in pairs that straddle chunk boundaries (rows 1000
 * and 1001 share a key), bad rows, verification sampling; stopped mid-run,
 * then resumed: each input row counted once, each reject once and in order,
 * every key in the table.
 */
static void test_stop_resume_dups_verify(void **state) {
    fx *f = *state;
    dx_buf in = {0};
    uint64_t *bad = calloc(30000, sizeof *bad);
    size_t nbad = 0;
    const int N = 24000;
    for (int i = 1; i <= N; i++) {
        if (i % 89 == 0) {
            dx_buf_printf(&in, "{\"id\":\"d%d\",\"age\":\"bad\"}\n", i / 2);
            bad[nbad++] = (uint64_t)i;
        } else {
            dx_buf_printf(&in, "{\"id\":\"d%d\",\"name\":\"n%d\"}\n", i / 2, i);
        }
    }
    for (int round = 0; round < 3; round++) {
        dxj_spec s;
        spec_init(&s, f, DXJ_OP_PUT, in.ptr);
        unlink(s.rejects);
        unlink(s.failures);
        s.rate = 8000;
        s.verify = 0.3;
        s.workers = 3;
        s.inflight = 4;
        s.checkpoint = path(f, "adv.checkpoint");
        unlink(s.checkpoint);
        check_spec(&s);
        dx_client *c = mem_client(false, 0);
        dxj_report r1, r2;
        stop_then_resume(f, &s, c, 2000 + 1500 * (uint64_t)round, &r1, &r2);
        assert_int_equal(r1.status, DXJ_STATUS_INTERRUPTED);
        assert_int_equal(r2.total_rows_in, (uint64_t)N);
        assert_int_equal(r2.total_rejected, nbad);
        assert_int_equal(r2.total_written, (uint64_t)N - nbad);
        assert_int_equal(r2.total_failed, 0);
        assert_reject_records(s.rejects, bad, nbad);
        /* every key whose last row is good is in the table */
        assert_true(table_count(c) >= (uint64_t)N / 2 - nbad);
        dxj_spec_free(&s);
        dx_client_free(c);
    }
    free(bad);
    dx_buf_free(&in);
}


/* A stop before the job could send more than a row or two; then the resume does all. */
static void test_stop_at_once(void **state) {
    fx *f = *state;
    const int N = 3000;
    dx_buf in = {0};
    uint64_t bad[64];
    size_t nbad = 0;
    for (int i = 1; i <= N; i++) {
        if (i % 101 == 0) {
            dx_buf_printf(&in, "{\"id\":\"a%d\",\"age\":\"x\"}\n", i);
            bad[nbad++] = (uint64_t)i;
        } else {
            dx_buf_printf(&in, "{\"id\":\"a%d\",\"age\":%d}\n", i, i);
        }
    }
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_UPDATE_BY_KEY, in.ptr);
    s.rate = 0.5;
    s.checkpoint = path(f, "once.checkpoint");
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    create_users_table(c);
    atomic_int stop = 1;
    dxj_run_opts o = {.stop = &stop, .client = c};
    dxj_report rep, rep2;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_run(&s, &o, &rep, &r), DX_OK);
    assert_true(rep.accounting_ok);
    assert_int_equal(rep.status, DXJ_STATUS_INTERRUPTED);
    assert_true(rep.rows_in <= 2);
    s.rate = 0;
    s.resume = true;
    run_ok(f, &s, c, &rep2);
    assert_int_equal(rep2.total_rows_in, N);
    assert_int_equal(rep2.total_rejected, nbad);
    assert_reject_records(s.rejects, bad, nbad);
    assert_int_equal(table_count(c), N - nbad);
    dx_buf_free(&in);
    dxj_spec_free(&s);
    dx_client_free(c);
}


/*
 * The rejects file stops growing mid-run (RLIMIT_FSIZE): the job halts; any
 * checkpoint it wrote has exactly the lines it counts, and a resume from it
 * (once the file may grow) gives every row once and each reject once, in order.
 */
static void test_rejects_write_error_mid_run(void **state) {
    fx *f = *state;
    const int N = 24000;
    dx_buf in = {0};
    uint64_t *bad = calloc((size_t)N, sizeof *bad);
    size_t nbad = 0;
    for (int i = 1; i <= N; i++) {
        if (i % 3 == 0) {
            dx_buf_printf(&in, "{\"id\":\"e%d\",\"age\":\"bad %0200d\"}\n", i, i);
            bad[nbad++] = (uint64_t)i;
        } else {
            dx_buf_printf(&in, "{\"id\":\"e%d\",\"name\":\"n\"}\n", i);
        }
    }
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, in.ptr);
    s.rate = 4000;
    s.checkpoint = path(f, "efbig.checkpoint");
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    struct rlimit lim = old;
    lim.rlim_cur = 3500000; /* ~6500 rejects lines of ~530 bytes: ~3.5 s into the run */
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    dxj_report rep;
    dx_result r;
    dx_err e = run(f, &s, c, &rep, &r);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, oldsig);
    assert_int_equal(e, DX_ERR_IO);
    assert_int_equal(rep.status, DXJ_STATUS_FATAL);
    if (!rep.accounting_ok) print_error("%s\n", rep.error);
    assert_true(rep.accounting_ok);
    assert_int_equal(rep.rows_in, rep.written + rep.rejected + rep.failed);
    assert_true(rep.stopped_at_record > 0);
    assert_true(rep.checkpoint_stale); /* no checkpoint after the write error */
    /* nothing past the failed chunk but rows written anyway */
    assert_int_equal(rep.rows_in - rep.done_past_mark + 1, rep.stopped_at_record);
    dxj_checkpoint cp;
    if (dxj_checkpoint_read(s.checkpoint, &cp, &r) != DX_OK) {
        print_message("no checkpoint before the write error (%.1f s, %llu rows)\n", rep.duration_s,
                      (unsigned long long)rep.rows_in);
    } else {
        /* The checkpoint's rejects are the first lines of the file, each whole. */
        char *text = ct_read_file(s.rejects, NULL);
        assert_true(strlen(text) >= cp.rejects_size);
        text[cp.rejects_size] = 0;
        size_t n = 0;
        char **ln = lines_of(text, &n);
        assert_int_equal(n, cp.rejected);
        for (size_t i = 0; i < n; i++) assert_row_int_equal(i, dynox_num(ln[i], "record"), bad[i]);
        assert_true(cp.records <= rep.rows_in);
        dxj_checkpoint_free(&cp);
        free(ln);
        free(text);
        s.rate = 0;
        s.resume = true;
        dxj_report rep2;
        run_ok(f, &s, c, &rep2);
        assert_int_equal(rep2.total_rows_in, (uint64_t)N);
        assert_int_equal(rep2.total_rejected, nbad);
        assert_reject_records(s.rejects, bad, nbad);
    }
    free(bad);
    dx_buf_free(&in);
    dxj_spec_free(&s);
    dx_client_free(c);
}

/* --limit and shards over a stop and a resume. */
static void test_stop_resume_limit_shard(void **state) {
    fx *f = *state;
    const int N = 30000;
    dx_buf in = {0};
    for (int i = 1; i <= N; i++) dx_buf_printf(&in, "{\"id\":\"l%d\",\"name\":\"n\"}\n", i);
    for (uint32_t sh = 0; sh < 2; sh++) {
        dxj_spec s;
        spec_init(&s, f, DXJ_OP_PUT, in.ptr);
        unlink(s.rejects);
        unlink(s.failures);
        s.rate = 6000;
        s.limit = 9000;
        s.shard_index = sh;
        s.shard_count = 2;
        s.checkpoint = path(f, "ls.checkpoint");
        unlink(s.checkpoint);
        check_spec(&s);
        dx_client *c = mem_client(false, 0);
        dxj_report r1, r2;
        stop_then_resume(f, &s, c, 1500, &r1, &r2);
        assert_int_equal(r1.status, DXJ_STATUS_INTERRUPTED);
        assert_int_equal(r2.total_rows_in, 9000);
        assert_int_equal(r2.total_written, 9000);
        assert_int_equal(table_count(c), 9000);
        dxj_spec_free(&s);
        dx_client_free(c);
    }
    dx_buf_free(&in);
}

/* ---------------------------------------------------------------- rows done past the stop point */

/* Seeds n items "<prefix><i>" with version 1. */
static void seed_versioned(dx_client *c, const char *prefix, int n) {
    create_users_table(c);
    dx_arena a = {0};
    for (int i = 1; i <= n; i++) {
        char it[160];
        snprintf(it, sizeof it,
                 "{\"id\":{\"S\":\"%s%d\"},\"name\":{\"S\":\"n\"},\"version\":{\"N\":\"1\"}}",
                 prefix, i);
        dx_value item;
        dx_result r;
        dx_result_clear(&r);
        assert_int_equal(dx_decode_item(&a, it, strlen(it), &item, &r), DX_OK);
        dx_call call = {.req = {.op = DX_OP_PUT, .table = "users", .item = &item}};
        assert_int_equal(dx_client_call(c, &call), DX_OK);
        if (i % 1000 == 0) dx_arena_reset(&a);
    }
    dx_arena_release(&a);
}

/* Items "<prefix><i>", i in 1..n, whose version is not `want` (NULL: that exist). */
static int versions_not(dx_client *c, const char *prefix, int n, const char *want) {
    dx_arena a = {0};
    int bad = 0;
    for (int i = 1; i <= n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s%d", prefix, i);
        const dx_value *it = get_item(c, id, &a);
        if (want ? !attr_is(it, "version", want) : it != NULL) bad++;
        if (i % 1000 == 0) dx_arena_reset(&a);
    }
    dx_arena_release(&a);
    return bad;
}

/*
 * get_delete (missing: skip), stopped mid-run and resumed: every row deleted
 * an item that existed. Rows written after the stop point are counted and
 * skipped by the resume, which would otherwise reject them as "item not found".
 */
static void test_stop_resume_get_delete(void **state) {
    fx *f = *state;
    const int N = 12000;
    dx_buf in = {0};
    for (int i = 1; i <= N; i++) dx_buf_printf(&in, "{\"id\":\"g%d\"}\n", i);
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_GET_DELETE, in.ptr);
    s.rate = 3000;
    s.checkpoint = path(f, "gd.checkpoint");
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    seed_versioned(c, "g", N);
    dxj_report r1, r2;
    stop_then_resume(f, &s, c, 2500, &r1, &r2);
    print_message("get_delete: run 1 rows_in %llu not_started %llu after_stop %llu done_past_mark "
                  "%llu\n",
                  (unsigned long long)r1.rows_in, (unsigned long long)r1.not_started,
                  (unsigned long long)r1.after_stop, (unsigned long long)r1.done_past_mark);
    assert_int_equal(r1.status, DXJ_STATUS_INTERRUPTED);
    assert_int_equal(r2.total_rows_in, (uint64_t)N);
    assert_int_equal(r2.total_rejected, 0); /* no item was missing */
    assert_int_equal(r2.total_written, (uint64_t)N);
    assert_int_equal(r1.missing + r2.missing, 0);
    assert_int_equal(count_lines(s.rejects), 0);
    assert_int_equal(table_count(c), 0);
    dx_buf_free(&in);
    dxj_spec_free(&s);
    dx_client_free(c);
}

typedef struct hook_count {
    atomic_int before, after;
} hook_count;

static dx_err counting_hook(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r) {
    (void)item;
    (void)r;
    hook_count *h = ud;
    if (kind == DX_HOOK_BEFORE_UPDATE) atomic_fetch_add(&h->before, 1);
    if (kind == DX_HOOK_AFTER_UPDATE) atomic_fetch_add(&h->after, 1);
    return DX_OK;
}

/* get_update with version_attr: each row bumps its item's version once, its hooks run once. */
static void test_stop_resume_get_update_version(void **state) {
    fx *f = *state;
    const int N = 12000;
    dx_buf in = {0};
    for (int i = 1; i <= N; i++) dx_buf_printf(&in, "{\"id\":\"v%d\",\"age\":%d}\n", i, i);
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_GET_UPDATE, in.ptr);
    s.rate = 3000;
    s.operation.version_attr = strdup("version");
    s.checkpoint = path(f, "gu.checkpoint");
    hook_count hc = {0};
    assert_int_equal(dx_model_add_hook(s.model, DX_HOOK_BEFORE_UPDATE, counting_hook, &hc), DX_OK);
    assert_int_equal(dx_model_add_hook(s.model, DX_HOOK_AFTER_UPDATE, counting_hook, &hc), DX_OK);
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    seed_versioned(c, "v", N);
    dxj_report r1, r2;
    stop_then_resume(f, &s, c, 2500, &r1, &r2);
    int twice = versions_not(c, "v", N, "2");
    print_message("get_update: done_past_mark %llu after_stop %llu, items not at version 2: %d, "
                  "hooks %d/%d\n",
                  (unsigned long long)r1.done_past_mark, (unsigned long long)r1.after_stop, twice,
                  atomic_load(&hc.before), atomic_load(&hc.after));
    assert_int_equal(r1.status, DXJ_STATUS_INTERRUPTED);
    assert_int_equal(r2.total_rows_in, (uint64_t)N);
    assert_int_equal(r2.total_written, (uint64_t)N);
    assert_int_equal(twice, 0);
    /* a before-hook may run for a row whose write then did not happen (not started) */
    assert_true(atomic_load(&hc.before) >= N);
    assert_int_equal(atomic_load(&hc.after), N);
    dx_buf_free(&in);
    dxj_spec_free(&s);
    dx_client_free(c);
}

/* put with attribute_not_exists: a row written past the stop point is not put (and rejected) again. */
static void test_stop_resume_conditional_put(void **state) {
    fx *f = *state;
    const int N = 12000;
    dx_buf in = {0};
    uint64_t bad[200];
    size_t nbad = 0;
    for (int i = 1; i <= N; i++) {
        if (i % 83 == 0) {
            dx_buf_printf(&in, "{\"id\":\"p%d\",\"age\":\"bad\"}\n", i);
            bad[nbad++] = (uint64_t)i;
        } else {
            dx_buf_printf(&in, "{\"id\":\"p%d\",\"name\":\"n\"}\n", i);
        }
    }
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, in.ptr);
    s.rate = 3000;
    s.operation.condition = strdup("attribute_not_exists(id)");
    s.checkpoint = path(f, "cp.checkpoint");
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    create_users_table(c);
    dxj_report r1, r2;
    stop_then_resume(f, &s, c, 2500, &r1, &r2);
    print_message("conditional put: done_past_mark %llu after_stop %llu\n",
                  (unsigned long long)r1.done_past_mark, (unsigned long long)r1.after_stop);
    assert_int_equal(r1.status, DXJ_STATUS_INTERRUPTED);
    assert_int_equal(r2.total_rows_in, (uint64_t)N);
    assert_int_equal(r2.total_written, (uint64_t)N - nbad);
    assert_int_equal(r2.total_rejected, nbad); /* only the bad rows: no condition failed */
    assert_int_equal(r1.conditional_failed + r2.conditional_failed, 0);
    assert_reject_records(s.rejects, bad, nbad);
    assert_int_equal(table_count(c), (uint64_t)N - nbad);
    dx_buf_free(&in);
    dxj_spec_free(&s);
    dx_client_free(c);
}

/* Every ordinal of `a` from `from` on is in `b`. */
static void assert_done_kept(const dxj_checkpoint *a, const dxj_checkpoint *b, uint64_t from) {
    for (size_t i = 0; i < a->ndone; i++)
        for (uint64_t x = a->done[i][0]; x <= a->done[i][1]; x++)
            if (x >= from) assert_row_true(x, dxj_checkpoint_done_has(b->done, b->ndone, x));
}

static uint64_t done_rows(const dxj_checkpoint *cp) {
    uint64_t n = 0;
    for (size_t i = 0; i < cp->ndone; i++) n += cp->done[i][1] - cp->done[i][0] + 1;
    return n;
}

/*
 * stop -> resume, stopped again -> resume: the second checkpoint carries the
 * first one's rows done past the mark that are still after its own mark, with
 * its own; get_update with versions shows any row applied twice.
 */
static void test_stop_resume_chain(void **state) {
    fx *f = *state;
    const int N = 15000;
    dx_buf in = {0};
    uint64_t bad[256];
    size_t nbad = 0;
    for (int i = 1; i <= N; i++) {
        if (i % 71 == 0) {
            dx_buf_printf(&in, "{\"id\":\"c%d\",\"age\":\"bad\"}\n", i);
            bad[nbad++] = (uint64_t)i;
        } else {
            dx_buf_printf(&in, "{\"id\":\"c%d\",\"age\":%d}\n", i, i);
        }
    }
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_GET_UPDATE, in.ptr);
    s.operation.version_attr = strdup("version");
    s.checkpoint = path(f, "chain.checkpoint");
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    seed_versioned(c, "c", N);
    dx_result r;
    dxj_report rep[4];
    dxj_checkpoint cps[3];
    uint64_t stops[3] = {2000, 2500, 0};
    uint64_t rows = 0, skipped = 0, past = 0;
    for (int run = 0; run < 3; run++) {
        atomic_int stop = 0;
        stop_ud su = {.stop = &stop, .at = stops[run]};
        dxj_run_opts o = {.client = c, .log = log_cb, .ud = f};
        if (stops[run]) {
            o.stop = &stop;
            o.progress = stop_progress;
            o.progress_ms = 10;
            o.ud = &su;
            o.log = NULL;
        }
        s.rate = stops[run] ? 3000 : 0;
        s.resume = run > 0;
        dx_result_clear(&r);
        assert_int_equal(dxj_run(&s, &o, &rep[run], &r), DX_OK);
        if (!rep[run].accounting_ok) print_error("run %d: %s\n", run + 1, rep[run].error);
        assert_true(rep[run].accounting_ok);
        assert_int_equal(rep[run].status,
                         stops[run] ? DXJ_STATUS_INTERRUPTED : DXJ_STATUS_COMPLETED);
        assert_int_equal(count_lines(s.rejects), rep[run].total_rejected);
        rows += rep[run].rows_in;
        skipped += rep[run].skipped_done;
        past += rep[run].done_past_mark;
        assert_int_equal(dxj_checkpoint_read(s.checkpoint, &cps[run], &r), DX_OK);
        print_message("chain run %d: rows_in %llu, skipped %llu, done past mark %llu, stop %llu, "
                      "%zu ranges (%llu rows)\n",
                      run + 1, (unsigned long long)rep[run].rows_in,
                      (unsigned long long)rep[run].skipped_done,
                      (unsigned long long)rep[run].done_past_mark,
                      (unsigned long long)rep[run].stopped_at_record, cps[run].ndone,
                      (unsigned long long)done_rows(&cps[run]));
        if (run > 0) {
            /* the earlier set, from this run's stop point on, is still listed */
            uint64_t from = rep[run].stopped_at_record ? rep[run].stopped_at_record : UINT64_MAX;
            assert_done_kept(&cps[run - 1], &cps[run], from);
        }
    }
    assert_int_equal(cps[2].ndone, 0); /* finished: nothing past the mark */
    assert_int_equal(rows, (uint64_t)N);
    assert_int_equal(rep[2].total_rows_in, (uint64_t)N);
    assert_int_equal(rep[2].total_written, (uint64_t)N - nbad);
    assert_int_equal(rep[2].total_rejected, nbad);
    /* the last run skips exactly the rows the checkpoint it resumed from listed */
    assert_int_equal(rep[2].skipped_done, done_rows(&cps[1]));
    assert_true(skipped >= past);
    assert_reject_records(s.rejects, bad, nbad);
    int wrong = 0;
    {
        dx_arena a = {0};
        for (int i = 1; i <= N; i++) {
            char id[32];
            snprintf(id, sizeof id, "c%d", i);
            if (!attr_is(get_item(c, id, &a), "version", i % 71 == 0 ? "1" : "2")) wrong++;
            if (i % 1000 == 0) dx_arena_reset(&a);
        }
        dx_arena_release(&a);
    }
    assert_int_equal(wrong, 0);
    for (int i = 0; i < 3; i++) dxj_checkpoint_free(&cps[i]);
    dx_buf_free(&in);
    dxj_spec_free(&s);
    dx_client_free(c);
}

/*
 * The same, made deterministic with a checkpoint written by hand: rows 151..200
 * and 301 were done past a mark at 100. A resume stopped at once keeps listing
 * them (carried over, or skipped and listed again); the next resume skips them.
 * And a checkpoint without the set -- as written before it existed -- resumes.
 */
static void test_resume_hand_checkpoint(void **state) {
    fx *f = *state;
    const int N = 30000;
    dx_buf in = {0};
    for (int i = 1; i <= N; i++) dx_buf_printf(&in, "{\"id\":\"h%d\",\"name\":\"n\"}\n", i);
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, in.ptr);
    s.checkpoint = path(f, "hand.checkpoint");
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    create_users_table(c);
    dx_result r;
    dx_result_clear(&r);

    /* A checkpoint as dynox wrote it before the set existed (version 1, no key). */
    {
        FILE *o = fopen(s.checkpoint, "wb");
        fprintf(o,
                "{\n  \"version\": 1,\n  \"input\": \"%s\",\n  \"op\": \"put\",\n"
                "  \"input_bytes\": 0,\n  \"shard_index\": 0,\n  \"shard_count\": 0,\n"
                "  \"records\": 29900,\n  \"offset\": 0,\n  \"rows_in\": 29900,\n  \"written\": 29900,\n"
                "  \"rejected\": 0,\n  \"failed\": 0,\n  \"superseded\": 0,\n  \"missing\": 0,\n"
                "  \"conditional_failed\": 0,\n  \"rejects_size\": 0,\n  \"failures_size\": 0,\n"
                "  \"updated_at\": \"2026-11-25T12:00:00.000Z\"\n}\n",
                s.input.path);
        fclose(o);
        s.resume = true;
        dxj_report rep;
        run_ok(f, &s, c, &rep);
        assert_int_equal(rep.resumed_from, 29900);
        assert_int_equal(rep.rows_in, 100);
        assert_int_equal(rep.skipped_done, 0);
        assert_int_equal(rep.total_rows_in, N);
        assert_int_equal(table_count(c), 100);
    }

    dxj_checkpoint cp;
    memset(&cp, 0, sizeof cp);
    snprintf(cp.input, sizeof cp.input, "%s", s.input.path);
    snprintf(cp.op, sizeof cp.op, "put");
    cp.records = 100;
    cp.rows_in = cp.written = 100 + 61;
    uint64_t ranges[3][2] = {{151, 200}, {301, 301}, {25001, 25010}};
    cp.done = ranges;
    cp.ndone = 3;
    snprintf(cp.updated_at, sizeof cp.updated_at, "2026-11-25T12:00:00.000Z");
    assert_int_equal(dxj_checkpoint_write(s.checkpoint, &cp, &r), DX_OK);

    /* Resumed and stopped at once: the set is still in the checkpoint. */
    s.resume = true;
    s.rate = 0.5;
    atomic_int stop = 1;
    dxj_run_opts o = {.stop = &stop, .client = c};
    dxj_report r2, r3;
    dx_result_clear(&r);
    assert_int_equal(dxj_run(&s, &o, &r2, &r), DX_OK);
    assert_true(r2.accounting_ok);
    assert_int_equal(r2.status, DXJ_STATUS_INTERRUPTED);
    dxj_checkpoint back;
    assert_int_equal(dxj_checkpoint_read(s.checkpoint, &back, &r), DX_OK);
    for (uint64_t x = 151; x <= 200; x++)
        assert_row_true(x, x < back.records + 1 ||
                               dxj_checkpoint_done_has(back.done, back.ndone, x));
    assert_true(dxj_checkpoint_done_has(back.done, back.ndone, 301));
    /* not read by the stopped run (the read-ahead is 12 chunks): carried over */
    for (uint64_t x = 25001; x <= 25010; x++)
        assert_row_true(x, dxj_checkpoint_done_has(back.done, back.ndone, x));
    assert_int_equal(back.rows_in, 161 + r2.rows_in);
    uint64_t listed = done_rows(&back);
    dxj_checkpoint_free(&back);

    /* The last resume does everything else, and none of those rows. */
    s.rate = 0;
    run_ok(f, &s, c, &r3);
    assert_int_equal(r3.status, DXJ_STATUS_COMPLETED);
    assert_int_equal(r3.skipped_done, listed); /* rows run 2 committed past are not listed */
    assert_true(r2.skipped_done + r3.skipped_done >= 61);
    assert_int_equal(r3.total_rows_in, N);
    assert_int_equal(r3.total_written, N);
    dx_arena a = {0};
    int present = 0;
    for (int i = 1; i <= 400; i++) {
        char id[32];
        snprintf(id, sizeof id, "h%d", i);
        bool done_before = i <= 100 || (i >= 151 && i <= 200) || i == 301;
        if ((get_item(c, id, &a) != NULL) != !done_before) assert_row_true(i, false);
        present += get_item(c, id, &a) != NULL;
    }
    assert_int_equal(present, 400 - 151);
    for (int i = 25001; i <= 25010; i++) {
        char id[32];
        snprintf(id, sizeof id, "h%d", i);
        assert_row_true(i, get_item(c, id, &a) == NULL);
    }
    assert_non_null(get_item(c, "h25011", &a));
    dx_arena_release(&a);
    dx_buf_free(&in);
    dxj_spec_free(&s);
    dx_client_free(c);
}

static void test_bad_start(void **state) {
    fx *f = *state;
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, "{\"id\":\"a\",\"name\":\"b\"}\n");
    free(s.rejects);
    s.rejects = strdup("/nonexistent-dir/rejects.jsonl");
    check_spec(&s);
    dxj_report rep;
    dx_result r;
    assert_int_equal(run(f, &s, NULL, &rep, &r), DX_ERR_IO);
    assert_non_null(strstr(r.message, "/nonexistent-dir/rejects.jsonl"));
    assert_int_equal(rep.status, DXJ_STATUS_FATAL);
    assert_false(rep.started);
    dxj_spec_free(&s);

    /* A table whose key schema is not the model's. */
    spec_init(&s, f, DXJ_OP_PUT, "{\"id\":\"a\",\"name\":\"b\"}\n");
    check_spec(&s);
    dx_client *c = mem_client(false, 0);
    dx_table_def def = {.name = "users", .key = {.hash = "pk", .hash_type = DX_T_S}};
    assert_int_equal(dx_create_table(c, &def, &r), DX_OK);
    assert_int_equal(run(f, &s, c, &rep, &r), DX_ERR_CONFIG);
    assert_non_null(strstr(r.message, "pk"));
    assert_non_null(strstr(r.message, "id"));
    assert_int_equal(table_count(c), 0);
    assert_false(rep.started);
    dx_client_free(c);

    /* --resume without a checkpoint file. */
    s.resume = true;
    s.checkpoint = path(f, "missing.checkpoint");
    assert_int_equal(run(f, &s, NULL, &rep, &r), DX_ERR_IO);
    assert_non_null(strstr(r.message, "missing.checkpoint"));
    assert_false(rep.started);
    dxj_spec_free(&s);
}

/* ---------------------------------------------------------------- memory table setup */

/*
 * backend.no_create_table and backend.seed on the memory backend: a missing
 * table is created unless create_table is false and no seed fills it; a seed
 * is loaded into the job's table whether it was created or was there.
 */
static void test_memory_table_setup(void **state) {
    fx *f = *state;
    const char *input = "{\"id\":\"j1\",\"name\":\"J\"}\n";
    char *seed = path(f, "setup-seed.jsonl");
    assert_int_equal(ct_write_text(seed, "{\"id\":{\"S\":\"s1\"},\"name\":{\"S\":\"S1\"}}\n"
                     "{\"Item\":{\"id\":{\"S\":\"s2\"},\"name\":{\"S\":\"S2\"}}}\n"), 0);
    static const struct {
        bool no_create, seed, client, table; /* table: the client has it before the job */
        dx_err err;
        uint64_t items; /* in the table after the job */
    } cases[] = {
        {false, false, false, false, DX_OK, 1},                     /* created */
        {false, true, false, false, DX_OK, 3},                      /* created, seeded */
        {true, false, false, false, DX_ERR_RESOURCE_NOT_FOUND, 0}, /* must exist: it does not */
        {true, true, false, false, DX_OK, 3},                       /* the seed creates it */
        {true, false, true, false, DX_ERR_RESOURCE_NOT_FOUND, 0},  /* a client without it */
        {true, false, true, true, DX_OK, 2},                        /* the client's table */
        {true, true, true, true, DX_OK, 4},                         /* seeded into it */
        {false, true, true, true, DX_OK, 4},                        /* seeded into it */
        {false, false, true, false, DX_OK, 1},                      /* created on the client */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dxj_spec s;
        spec_init(&s, f, DXJ_OP_PUT, input);
        s.backend.no_create_table = cases[i].no_create;
        if (cases[i].seed) s.backend.seed = strdup(seed);
        s.backend.dump = path(f, "setup-dump.jsonl");
        unlink(s.backend.dump);
        unlink(s.rejects);
        check_spec(&s);
        dx_client *c = cases[i].client ? mem_client(false, 0) : NULL;
        if (cases[i].table) {
            create_users_table(c);
            const char *before[] = {"{\"id\":{\"S\":\"c1\"},\"name\":{\"S\":\"C1\"}}"};
            put_items(c, before, 1);
        }
        dxj_report rep;
        dx_result r;
        dx_buf_clear(&f->log);
        dx_err e = run(f, &s, c, &rep, &r);
        if (e != cases[i].err) print_error("row %zu: %s\n", i, r.message);
        assert_row_int_equal(i, e, cases[i].err);
        if (e) {
            /* Refused before anything was read or written. */
            assert_row_true(i, !rep.started);
            const char *want = "table users does not exist on the memory backend, and "
                               "backend.create_table is false";
            assert_row_true(i, strstr(r.message, want) != NULL);
            assert_row_true(i, access(s.rejects, F_OK) != 0);
            assert_row_true(i, access(s.backend.dump, F_OK) != 0);
        } else {
            assert_row_true(i, rep.started);
            assert_row_int_equal(i, rep.written, 1);
            assert_row_int_equal(i, count_lines(s.backend.dump), cases[i].items);
            if (cases[i].seed)
                assert_row_true(i, strstr(f->log.ptr, "seeded table users with 2 items") != NULL);
        }
        if (c) {
            uint64_t n = 0;
            dx_result_clear(&r);
            if (cases[i].table || !e) {
                assert_row_int_equal(i, dx_mem_count(c, "users", &n, &r), DX_OK);
                assert_row_int_equal(i, n, cases[i].items);
            } else {
                assert_row_int_equal(i, dx_mem_count(c, "users", &n, &r),
                                     DX_ERR_RESOURCE_NOT_FOUND);
            }
            dx_client_free(c);
        }
        dxj_spec_free(&s);
    }
    free(seed);
}

/* ---------------------------------------------------------------- hot keys */

/* A backend that throttles every write to key "hot" as DynamoDB does a hot partition. */
static void hk_start(void *be, dx_attempt *a) {
    (void)be;
    memset(&a->resp, 0, sizeof a->resp);
    dx_result_clear(&a->res);
    if (a->req.op == DX_OP_DESCRIBE_TABLE) {
        a->resp.table.name = a->req.table;
        a->resp.table.key.hash = "id";
        a->resp.table.key.hash_type = DX_T_S;
        a->resp.table.status = "ACTIVE";
        a->resp.table.on_demand = true;
    } else if (a->req.op == DX_OP_DESCRIBE_BACKUPS) {
        a->resp.table.pitr = false;
    } else if (a->req.key) {
        const dx_value *id = dx_map_get(a->req.key, "id");
        if (id && id->n == 3 && memcmp(id->u.s, "hot", 3) == 0) {
            dx_fail(&a->res, DX_ERR_THROUGHPUT, NULL, "Throughput exceeds the key's limit");
            snprintf(a->res.type, sizeof a->res.type, "ThrottlingException");
            snprintf(a->res.reason, sizeof a->res.reason, "TableWriteKeyRangeThroughputExceeded");
        }
        a->resp.consumed = 1;
    }
    dx_attempt_done(a);
}
static void *hk_engine_new(void *impl) { return impl; }
static void hk_engine_free(void *be) { (void)be; }
static size_t hk_poll(void *be, int ms) {
    (void)be;
    (void)ms;
    return 0;
}
static void hk_impl_free(void *impl) { (void)impl; }
static const dx_backend_vt hk_vt = {.name = "hotkeys", .engine_new = hk_engine_new,
                                    .engine_free = hk_engine_free, .start = hk_start,
                                    .poll = hk_poll, .impl_free = hk_impl_free};
static int hk_impl;

/*
 * A dry run with simulated capacity: one partition key written far faster
 * than DynamoDB's 1000 WCU/s per-key limit is throttled as a hot key, the
 * retries get every row written, and the report names the key.
 */
static void test_hot_key_dry_run(void **state) {
    fx *f = *state;
    dx_buf in = {0};
    for (int i = 0; i < 3000; i++) dx_buf_printf(&in, "{\"id\":\"%s\",\"age\":%d}\n", i % 10 ? "hot" : "cold", i);
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_UPDATE_BY_KEY, in.ptr);
    s.backend.sim_wcu = 40000; /* the table has room; the key does not */
    s.backend.sim_rcu = 40000;
    s.inflight = 32;
    s.retry.max_attempts = 30;
    check_spec(&s);
    dxj_report rep;
    run_ok(f, &s, NULL, &rep);
    assert_int_equal(rep.written, 3000);
    assert_true(rep.throttles > 0);
    assert_int_equal(rep.nhot_keys, 1);
    assert_string_equal(rep.hot_keys[0].key, "{\"id\":\"hot\"}");
    assert_string_equal(rep.hot_keys[0].reason, "TableWriteKeyRangeThroughputExceeded");
    assert_true(rep.hot_keys[0].throttles > 0);
    dxj_spec_free(&s);
    dx_buf_free(&in);
}

static void test_hot_keys(void **state) {
    fx *f = *state;
    dx_client *c = NULL;
    dx_client_opts co = {.retry = {.max_attempts = 3, .base_ms = 1, .max_ms = 2}};
    assert_int_equal(dx_client_wrap_(&hk_vt, &hk_impl, &co, &c), DX_OK);
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_UPDATE_BY_KEY,
              "{\"id\":\"a\",\"age\":1}\n{\"id\":\"hot\",\"age\":2}\n{\"id\":\"b\",\"age\":3}\n"
              "{\"id\":\"hot\",\"age\":4}\n");
    s.dry_run = false;
    s.backend.type = DXJ_BACKEND_DYNAMODB;
    check_spec(&s);
    dxj_report rep;
    run_ok(f, &s, c, &rep);
    assert_string_equal(rep.backend, "hotkeys");
    assert_string_equal(rep.pitr, "disabled");
    assert_non_null(strstr(f->log.ptr, "point-in-time recovery is off for table users"));
    assert_int_equal(rep.written, 2);
    assert_int_equal(rep.failed, 2);
    assert_int_equal(rep.throttles, 6);
    assert_int_equal(rep.nhot_keys, 1);
    assert_string_equal(rep.hot_keys[0].key, "{\"id\":\"hot\"}");
    assert_string_equal(rep.hot_keys[0].reason, "TableWriteKeyRangeThroughputExceeded");
    assert_int_equal(rep.hot_keys[0].throttles, 6);
    char *text = ct_read_file(s.failures, NULL);
    assert_non_null(strstr(text, "ThrottlingException"));
    free(text);
    dxj_spec_free(&s);
    dx_client_free(c);
}

/* ---------------------------------------------------------------- CSV, limit, shards, capacity */

static void test_csv_limit_shards(void **state) {
    fx *f = *state;
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, NULL);
    free(s.input.path);
    s.input.path = path(f, "input.csv");
    s.input.format = DXJ_FMT_CSV;
    assert_int_equal(ct_write_text(s.input.path, "id,name,age\n"
                             "c1,Ann,30\n"
                             "c2,Bob,old\n"           /* record 2, line 3: bad number */
                             "c3,\"Quoted, name\",7\n"
                             "c4,Dee\n"               /* wrong number of fields */
                             "c5,Eve,50\n"
                             "c6,Fay,60\n"), 0);
    check_spec(&s);
    dxj_report rep;
    dx_client *c = mem_client(false, 0);
    run_ok(f, &s, c, &rep);
    assert_int_equal(rep.rows_in, 6);
    assert_int_equal(rep.written, 4);
    assert_int_equal(rep.rejected, 2);
    char *text = ct_read_file(s.rejects, NULL);
    size_t n;
    char **ln = lines_of(text, &n);
    assert_int_equal(n, 2);
    assert_int_equal(dynox_num(ln[0], "line"), 3);
    assert_int_equal(dynox_num(ln[0], "record"), 2);
    assert_non_null(strstr(ln[0], "\"field\":\"age\""));
    assert_non_null(strstr(ln[0], "\"name\":\"Bob\"")); /* the row itself, re-runnable */
    assert_int_equal(dynox_num(ln[1], "line"), 5);
    free(ln);
    free(text);
    dx_arena a = {0};
    assert_true(attr_is(get_item(c, "c3", &a), "name", "Quoted, name"));
    dx_arena_release(&a);
    dx_client_free(c);

    /* --limit: only the first rows. */
    s.limit = 3;
    c = mem_client(false, 0);
    run_ok(f, &s, c, &rep);
    assert_int_equal(rep.rows_in, 3);
    assert_int_equal(table_count(c), 2);
    dx_client_free(c);
    s.limit = 0;

    /* Two shards: disjoint, and together the whole input. */
    c = mem_client(false, 0);
    uint64_t total = 0;
    for (uint32_t i = 0; i < 2; i++) {
        s.shard_index = i;
        s.shard_count = 2;
        run_ok(f, &s, c, &rep);
        total += rep.rows_in;
        assert_row_true(i, rep.rows_in >= 2 && rep.rows_in <= 4);
    }
    assert_int_equal(total, 6);
    assert_int_equal(table_count(c), 4);
    dx_client_free(c);
    dxj_spec_free(&s);
}

static void test_capacity_share(void **state) {
    fx *f = *state;
    dx_buf in = {0};
    for (int i = 1; i <= 120; i++) dx_buf_printf(&in, "{\"id\":\"p%d\",\"name\":\"n\"}\n", i);
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_PUT, in.ptr);
    s.backend.sim_wcu = 100;
    s.backend.sim_rcu = 100;
    s.capacity_share = 0.5; /* at most 50 WCU/s of the simulated 100 */
    check_spec(&s);
    dxj_report rep;
    run_ok(f, &s, NULL, &rep);
    assert_int_equal(rep.written, 120);
    assert_int_equal(rep.throttles, 0); /* the cap keeps the job below the table's capacity */
    assert_true(rep.duration_s >= 1.2);  /* 50 at once, then 70 more at 50/s */
    assert_true(rep.wcu >= 120);
    dx_buf_free(&in);
    dxj_spec_free(&s);

    /* A dry run refuses a client that is not the memory backend. */
    spec_init(&s, f, DXJ_OP_PUT, "{\"id\":\"a\",\"name\":\"b\"}\n");
    check_spec(&s);
    dx_client *c = NULL;
    dx_client_opts co = {0};
    assert_int_equal(dx_client_wrap_(&hk_vt, &hk_impl, &co, &c), DX_OK);
    dx_result r;
    assert_int_equal(run(f, &s, c, &rep, &r), DX_ERR_CONFIG);
    assert_non_null(strstr(r.message, "dry run"));
    dx_client_free(c);
    dxj_spec_free(&s);
}

/* ---------------------------------------------------------------- plugin */

static const char plugin_src[] =
    "#include \"dynox/dynox.h\"\n"
    "#include <string.h>\n"
    "static dx_err stamp(dx_item *it, dx_hook_kind k, void *ud, dx_result *r) {\n"
    "    (void)k;\n"
    "    return dx_item_set_str(it, \"note\", (const char *)ud, r);\n"
    "}\n"
    "static char arg_copy[64];\n"
    "int dynox_plugin_init(dx_model *m, const char *arg) {\n"
    "    if (!arg) return 3;\n"
    "    strncpy(arg_copy, arg, sizeof arg_copy - 1);\n"
    "    return dx_model_add_hook(m, DX_HOOK_BEFORE_SAVE, stamp, arg_copy);\n"
    "}\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "void dynox_plugin_fini(void) {\n"
    "    const char *p = getenv(\"DYNOX_TEST_PLUGIN_FINI\");\n"
    "    FILE *f = p ? fopen(p, \"a\") : NULL;\n"
    "    if (f) { fputs(\"fini\\n\", f); fclose(f); }\n"
    "}\n";

static void test_plugin(void **state) {
    fx *f = *state;
    if (!dlsym(RTLD_DEFAULT, "dx_model_add_hook")) {
        print_message("  skipped: this test binary does not export dx_* symbols (link with "
                      "-rdynamic to run it)\n");
        skip();
    }
    char *src = path(f, "plugin.c"), *so = path(f, "plugin.so");
    assert_int_equal(ct_write_text(src, plugin_src), 0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC -Ilib/include -o %s %s 2>&1", so, src);
    if (system(cmd) != 0) {
        print_message("  skipped: no C compiler to build the test plugin\n");
        skip();
    }
    char *marker = path(f, "fini.txt");
    setenv("DYNOX_TEST_PLUGIN_FINI", marker, 1);
    for (int round = 0; round < 2; round++) { /* twice: the hooks must not pile up */
        dx_client *c = mem_client(false, 0);
        seed_abc(c);
        dxj_spec s;
        spec_init(&s, f, DXJ_OP_GET_SAVE, "{\"id\":\"a\",\"age\":5}\n");
        s.hooks.plugin = strdup(so);
        s.hooks.plugin_arg = strdup("from-plugin");
        check_spec(&s);
        dxj_report rep;
        run_ok(f, &s, c, &rep);
        assert_int_equal(rep.written, 1);
        dx_arena a = {0};
        assert_true(attr_is(get_item(c, "a", &a), "note", "from-plugin"));
        dx_arena_release(&a);
        dx_client_free(c);
        dxj_spec_free(&s);
    }
    /* dynox_plugin_fini ran once per run, before the library was unloaded. */
    FILE *mf = fopen(marker, "r");
    assert_non_null(mf);
    char line[16];
    int calls = 0;
    while (fgets(line, sizeof line, mf)) calls += strcmp(line, "fini\n") == 0;
    fclose(mf);
    assert_int_equal(calls, 2);
    unsetenv("DYNOX_TEST_PLUGIN_FINI");
    free(marker);
    /* init failing, and a library that is not a plugin */
    dxj_spec s;
    spec_init(&s, f, DXJ_OP_GET_SAVE, "{\"id\":\"a\",\"age\":5}\n");
    s.hooks.plugin = strdup(so);
    check_spec(&s);
    dxj_report rep;
    dx_result r;
    assert_int_equal(run(f, &s, NULL, &rep, &r), DX_ERR_HOOK);
    assert_non_null(strstr(r.message, "returned 3"));
    free(s.hooks.plugin);
    s.hooks.plugin = strdup("libm.so.6");
    assert_int_equal(run(f, &s, NULL, &rep, &r), DX_ERR_CONFIG);
    assert_non_null(strstr(r.message, "dynox_plugin_init"));
    dxj_spec_free(&s);
    free(src);
    free(so);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_accounting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_superseded_later_row_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_batch_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paced_by_table_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttle_failures_rerun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_by_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_by_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_flows_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_with_unmet_condition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hooks_run_and_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_catches_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_mid_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_cancels_waiting_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fatal_table_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fatal_truncated_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_table_setup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hot_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hot_key_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_limit_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capacity_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_resume_dups_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_resume_limit_shard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_write_error_mid_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_resume_get_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_resume_get_update_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_resume_conditional_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_resume_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_hand_checkpoint, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
