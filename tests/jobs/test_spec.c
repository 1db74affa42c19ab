/*
 * test_spec.c - job files (jobs/spec.c): parsing every section, defaults,
 * and the errors a user sees for unknown keys, wrong types and specs that
 * do not fit their model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "testutil.h"

#define MODEL                                                                                 \
    "{\"name\":\"users\",\"config\":{\"table\":\"users\"},\"attributes\":{"                    \
    "\"id\":{\"type\":\"string\",\"key\":\"hash\"},"                                              \
    "\"score\":{\"type\":\"number\"},"                                                            \
    "\"version\":{\"type\":\"number\"},"                                                          \
    "\"updated_at\":{\"type\":\"datetime\"}}}"

static const char full[] =
    "{\"model\":" MODEL ","
    "\"input\":{\"path\":\"data/in.csv\",\"format\":\"csv\",\"compression\":\"none\","
    "\"csv\":{\"delimiter\":\";\",\"quote\":\"'\",\"header\":false,\"columns\":[\"id\",\"Score\"],"
    "\"null\":\"NULL\"}},"
    "\"mapping\":{\"columns\":{\"Score\":\"score\",\"junk\":null},\"constants\":{\"version\":1},"
    "\"ignore_unknown\":true},"
    "\"operation\":{\"type\":\"update_by_key\",\"condition\":\"#score < :max\","
    "\"values\":{\":max\":100},\"must_exist\":true,\"null\":\"store\"},"
    "\"hooks\":{\"skip\":true,\"before_update\":[{\"builtin\":\"set_now\","
    "\"attr\":\"updated_at\"}]},"
    "\"workers\":3,\"in_flight\":16,\"rate\":500,\"max_wcu\":100,\"capacity_share\":0.5,"
    "\"retry\":{\"max_attempts\":4,\"base_ms\":10,\"max_ms\":200},"
    "\"verify\":0.25,\"consistent_read\":true,"
    "\"backend\":{\"type\":\"memory\",\"seed\":\"seed.jsonl.zst\",\"dump\":\"out.jsonl\","
    "\"simulate\":{\"wcu\":50,\"rcu\":60}},"
    "\"report\":\"r.json\",\"rejects\":\"rej.jsonl\",\"failures\":\"fail.jsonl\","
    "\"checkpoint\":\"job.ckpt\",\"limit\":1000}";

static void test_full_spec(void **state) {
    (void)state;
    dxj_spec s;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dxj_spec_parse(full, strlen(full), "job.json", "/jobs", &s, &r), DX_OK);
    assert_non_null(s.model);
    assert_string_equal(s.input.path, "data/in.csv");
    assert_int_equal(s.input.format, DXJ_FMT_CSV);
    assert_int_equal(s.input.compression, DXJ_COMP_NONE);
    assert_int_equal(s.input.csv.delimiter, ';');
    assert_int_equal(s.input.csv.quote, '\'');
    assert_true(s.input.csv.no_header);
    assert_int_equal(s.input.csv.ncolumns, 2);
    assert_string_equal(s.input.csv.columns[1], "Score");
    assert_string_equal(s.input.csv.null_marker, "NULL");
    assert_int_equal(s.mapping.ncolumns, 2);
    assert_string_equal(s.mapping.columns[0].column, "Score");
    assert_string_equal(s.mapping.columns[0].attr, "score");
    assert_null(s.mapping.columns[1].attr); /* null: ignore the column */
    assert_int_equal(s.mapping.nconstants, 1);
    assert_string_equal(s.mapping.constants[0].json, "1");
    assert_true(s.mapping.ignore_unknown);
    assert_int_equal(s.operation.op, DXJ_OP_UPDATE_BY_KEY);
    assert_string_equal(s.operation.condition, "#score < :max");
    assert_string_equal(s.operation.values_json, "{\":max\":100}");
    assert_true(s.operation.must_exist);
    assert_true(s.operation.null_stores);
    assert_true(s.hooks.skip);
    assert_int_equal(s.hooks.nbuiltins, 1);
    assert_int_equal(s.hooks.builtins[0].kind, DX_HOOK_BEFORE_UPDATE);
    assert_int_equal(s.workers, 3);
    assert_int_equal(s.inflight, 16);
    assert_true(s.rate == 500 && s.max_wcu == 100 && s.capacity_share == 0.5);
    assert_int_equal(s.retry.max_attempts, 4);
    assert_int_equal(s.retry.max_ms, 200);
    assert_true(s.verify == 0.25);
    assert_true(s.consistent_read);
    assert_int_equal(s.backend.type, DXJ_BACKEND_MEMORY);
    assert_false(s.backend.no_create_table); /* "create_table" defaults to true */
    assert_true(s.backend.sim_wcu == 50 && s.backend.sim_rcu == 60);
    assert_int_equal(s.limit, 1000);
    char *p = dxj_spec_path(&s, s.input.path);
    assert_string_equal(p, "/jobs/data/in.csv");
    free(p);
    p = dxj_spec_path(&s, "/abs/x");
    assert_string_equal(p, "/abs/x");
    free(p);
    assert_int_equal(dxj_spec_check(&s, &r), DX_OK);
    assert_true(s.dry_run); /* the memory backend is always a dry run */
    assert_true(dx_model_has_hooks(s.model, DX_HOOK_BEFORE_UPDATE));
    /* A second check does not add the built-in hooks twice. */
    assert_int_equal(dxj_spec_check(&s, &r), DX_OK);
    dxj_spec_free(&s);
}

static void test_defaults(void **state) {
    (void)state;
    const char *t = "{\"input\":{\"path\":\"-\"},\"operation\":{\"type\":\"put\"},\"model\":" MODEL "}";
    dxj_spec s;
    dx_result r;
    assert_int_equal(dxj_spec_parse(t, strlen(t), "j", NULL, &s, &r), DX_OK);
    assert_int_equal(dxj_spec_check(&s, &r), DX_OK);
    assert_int_equal(s.workers, 2);
    assert_int_equal(s.inflight, 32);
    assert_int_equal(s.input.csv.delimiter, ',');
    assert_int_equal(s.retry.max_attempts, 10);
    assert_int_equal(s.retry.base_ms, 25);
    char *p = dxj_spec_path(&s, "-");
    assert_string_equal(p, "-");
    free(p);
    dxj_spec_free(&s);
}

typedef struct bad_case {
    const char *json;
    const char *expect; /* substring of the message */
} bad_case;

static const bad_case parse_errors[] = {
    {"[1]", "a job file is a JSON object"},
    {"{\"input\":{\"path\":\"x\"},", "not valid JSON"},
    {"{\"workerz\":2}", "workerz: unknown key (did you mean 'workers'?)"},
    {"{\"operation\":{\"conditon\":\"x\"}}", "operation.conditon: unknown key (did you mean 'condition'?)"},
    {"{\"zzzzzzzz\":1}", "zzzzzzzz: unknown key (known keys here: model, input"},
    {"{\"workers\":\"two\"}", "workers: expected a number"},
    {"{\"workers\":0}", "workers: 0 is out of range (1 to 256)"},
    {"{\"workers\":1.5}", "workers: expected a whole number, got 1.5"},
    {"{\"verify\":2}", "verify: 2 is out of range (0 to 1)"},
    {"{\"input\":{\"format\":\"xml\"}}", "input.format: 'xml' is not a format"},
    {"{\"input\":{\"csv\":{\"delimiter\":\"ab\"}}}", "input.csv.delimiter: expected a string of exactly one character"},
    {"{\"input\":{\"csv\":{\"columns\":[]}}}", "input.csv.columns: expected a non-empty array"},
    {"{\"operation\":{\"type\":\"upsert\"}}", "operation.type: 'upsert' is not an operation"},
    {"{\"operation\":{\"values\":{\"max\":1}}}", "operation.values.max: value placeholders start with ':'"},
    {"{\"operation\":{\"missing\":\"ignore\"}}", "operation.missing: 'ignore' is not a policy"},
    {"{\"mapping\":{\"columns\":{\"a\":3}}}", "mapping.columns.a: expected an attribute name, or null"},
    {"{\"hooks\":{\"before_lunch\":[{\"builtin\":\"set_now\"}]}}", "hooks.before_lunch: unknown key"},
    {"{\"hooks\":{\"before_save\":[{\"name\":\"set_now\"}]}}", "hooks.before_save[0].name: unknown key"},
    {"{\"hooks\":{\"before_save\":[{\"attr\":\"x\"}]}}", "hooks.before_save[0]: builtin is required"},
    {"{\"backend\":{\"type\":\"cassandra\"}}", "backend.type: 'cassandra' is not a backend"},
    {"{\"backend\":{\"simulate\":{\"wcu\":-1}}}", "backend.simulate.wcu: -1 is out of range"},
    {"{\"retry\":{\"max_attempts\":0}}", "retry.max_attempts: 0 is out of range"},
    {"{\"model\":42}", "model: expected a model file path or an inline model object"},
    {"{\"input\":\"x.csv\"}", "input: expected an object"},
    {"{\"workers\":2,\"workers\":3}", "workers: given twice (keep one)"},
    {"{\"operation\":{\"type\":\"put\",\"type\":\"put\"}}", "operation.type: given twice"},
    {"{\"mapping\":{\"columns\":{\"a\":\"x\",\"a\":\"y\"}}}", "mapping.columns.a: given twice"},
    {"{\"mapping\":{\"constants\":{\"a\":1,\"a\":2}}}", "mapping.constants.a: given twice"},
};

static void test_parse_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof parse_errors / sizeof parse_errors[0]; i++) {
        dxj_spec s;
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dxj_spec_parse(parse_errors[i].json, strlen(parse_errors[i].json), "job.json", NULL,
                                  &s, &r);
        assert_row_int_equal(i, e, DX_ERR_CONFIG);
        if (!strstr(r.message, parse_errors[i].expect)) {
            print_error("row %zu: message \"%s\" lacks \"%s\"\n", i, r.message, parse_errors[i].expect);
            fail();
        }
        assert_row_true(i, strncmp(r.message, "job.json: ", 10) == 0); /* names the file */
        assert_row_true(i, s.path == NULL && s.model == NULL);          /* freed and zeroed */
    }
}

static const bad_case check_errors[] = {
    {"{\"input\":{\"path\":\"x\"},\"model\":" MODEL "}", "operation.type: no operation"},
    {"{\"operation\":{\"type\":\"put\"},\"model\":" MODEL "}", "input.path: no input"},
    {"{\"operation\":{\"type\":\"put\"},\"input\":{\"path\":\"x\"}}", "model: no model"},
    {"{\"operation\":{\"type\":\"put\"},\"input\":{\"path\":\"x\"},\"model\":\"/nonexistent/m.json\"}",
     "model: "},
    {"{\"operation\":{\"type\":\"put\"},\"input\":{\"path\":\"x\"},\"model\":" MODEL
     ",\"mapping\":{\"columns\":{\"Score\":\"scor\"}}}",
     "mapping.columns.Score: maps to 'scor', which model users does not have"},
    {"{\"operation\":{\"type\":\"put\"},\"input\":{\"path\":\"x\"},\"model\":" MODEL
     ",\"mapping\":{\"constants\":{\"nope\":1}}}",
     "mapping.constants.nope: model users has no such attribute"},
    {"{\"operation\":{\"type\":\"get_save\",\"version_attr\":\"updated_at\"},\"input\":{\"path\":\"x\"},"
     "\"model\":" MODEL "}",
     "'updated_at' must be a number attribute"},
    {"{\"operation\":{\"type\":\"put\",\"version_attr\":\"version\"},\"input\":{\"path\":\"x\"},"
     "\"model\":" MODEL "}",
     "only get_save, get_update and get_delete"},
    {"{\"operation\":{\"type\":\"put\",\"values\":{\":a\":1}},\"input\":{\"path\":\"x\"},\"model\":" MODEL
     "}",
     "operation.values: given without operation.condition"},
    {"{\"operation\":{\"type\":\"put\"},\"input\":{\"path\":\"x\"},\"model\":" MODEL
     ",\"hooks\":{\"before_save\":[{\"builtin\":\"teleport\",\"attr\":\"id\"}]}}",
     "hooks.before_save: "},
    {"{\"operation\":{\"type\":\"put\"},\"input\":{\"path\":\"x\"},\"model\":" MODEL
     ",\"backend\":{\"simulate\":{\"wcu\":5}}}",
     "backend.simulate: give both wcu and rcu, a table has both (--simulate-wcu N --simulate-rcu N)"},
    {"{\"operation\":{\"type\":\"put\"},\"input\":{\"path\":\"x\"},\"model\":" MODEL
     ",\"rejects\":\"-\"}",
     "rejects: '-' (standard input/output) is not possible here"},
    {"{\"operation\":{\"type\":\"put\"},\"input\":{\"path\":\"x\"},\"model\":" MODEL
     ",\"backend\":{\"dump\":\"-\"}}",
     "backend.dump: '-' (standard input/output) is not possible here"},
};

static void test_check_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof check_errors / sizeof check_errors[0]; i++) {
        dxj_spec s;
        dx_result r;
        dx_result_clear(&r);
        const char *t = check_errors[i].json;
        assert_row_int_equal(i, dxj_spec_parse(t, strlen(t), "job.json", NULL, &s, &r), DX_OK);
        assert_row_int_equal(i, dxj_spec_check(&s, &r), DX_ERR_CONFIG);
        if (!strstr(r.message, check_errors[i].expect)) {
            print_error("row %zu: message \"%s\" lacks \"%s\"\n", i, r.message, check_errors[i].expect);
            fail();
        }
        dxj_spec_free(&s);
    }
}

static void test_shard_check(void **state) {
    (void)state;
    const char *t = "{\"input\":{\"path\":\"-\"},\"operation\":{\"type\":\"put\"},\"model\":" MODEL "}";
    dxj_spec s;
    dx_result r;
    assert_int_equal(dxj_spec_parse(t, strlen(t), "j", NULL, &s, &r), DX_OK);
    s.shard_index = 3;
    s.shard_count = 3;
    assert_int_equal(dxj_spec_check(&s, &r), DX_ERR_CONFIG);
    assert_non_null(strstr(r.message, "shard 3/3"));
    s.shard_index = 2;
    assert_int_equal(dxj_spec_check(&s, &r), DX_OK);
    dxj_spec_free(&s);
}

static void test_op_names(void **state) {
    (void)state;
    for (int op = DXJ_OP_PUT; op <= DXJ_OP_GET_DELETE; op++)
        assert_row_int_equal(op, dxj_op_from_name(dxj_op_name((dxj_op)op)), op);
    assert_int_equal(dxj_op_from_name("nope"), DXJ_OP_NONE);
    assert_true(dxj_op_destructive(DXJ_OP_DELETE_BY_KEY));
    assert_true(dxj_op_destructive(DXJ_OP_GET_DELETE));
    assert_false(dxj_op_destructive(DXJ_OP_PUT));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_spec),    cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_check_errors),
        cmocka_unit_test(test_shard_check),  cmocka_unit_test(test_op_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
