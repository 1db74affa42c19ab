/*
 * test_model.c - models from C tables and model files: what is accepted,
 * what is refused and with which message, accessors, hooks (order, skip per
 * call and per model, errors), built-in hooks, the default client.
 *
 * Backend behaviour of items lives in test_item.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dynox/dynox.h"
#include "model_internal.h"

#define N_(a) (sizeof(a) / sizeof((a)[0]))

static void assert_contains(const char *hay, const char *needle) {
    if (!strstr(hay, needle)) {
        print_message("expected \"%s\" in \"%s\"\n", needle, hay);
        fail();
    }
}

/* ---------------------------------------------------------------- names */

static void test_type_names(void **state) {
    (void)state;
    static const struct {
        dx_attr_type t;
        const char *name;
        dx_type storage;
    } rows[] = {
        {DX_ATTR_STRING, "string", DX_T_S},         {DX_ATTR_NUMBER, "number", DX_T_N},
        {DX_ATTR_BINARY, "binary", DX_T_B},         {DX_ATTR_BOOL, "bool", DX_T_BOOL},
        {DX_ATTR_LIST, "list", DX_T_L},             {DX_ATTR_MAP, "map", DX_T_M},
        {DX_ATTR_STRING_SET, "string_set", DX_T_SS}, {DX_ATTR_NUMBER_SET, "number_set", DX_T_NS},
        {DX_ATTR_BINARY_SET, "binary_set", DX_T_BS}, {DX_ATTR_JSON, "json", DX_T_S},
        {DX_ATTR_DATETIME, "datetime", DX_T_S},     {DX_ATTR_TTL, "ttl", DX_T_N},
    };
    for (size_t i = 0; i < N_(rows); i++) {
        print_message("[%zu] %s\n", i, rows[i].name);
        assert_string_equal(dx_attr_type_name(rows[i].t), rows[i].name);
        assert_int_equal(dx_attr_type_from_name(rows[i].name), rows[i].t);
        assert_int_equal(dx_attr_type_storage(rows[i].t), rows[i].storage);
    }
    assert_null(dx_attr_type_name((dx_attr_type)0));
    assert_null(dx_attr_type_name((dx_attr_type)99));
    assert_int_equal(dx_attr_type_from_name("String"), 0);
    assert_int_equal(dx_attr_type_from_name(NULL), 0);
    for (int k = 0; k < DX_HOOK__COUNT; k++)
        assert_int_equal(dx_hook_kind_from_name(dx_hook_kind_name((dx_hook_kind)k)), k);
    assert_string_equal(dx_hook_kind_name(DX_HOOK_AFTER_LOAD), "after_load");
    assert_int_equal(dx_hook_kind_from_name("before_get"), DX_HOOK__COUNT);
    assert_null(dx_hook_kind_name(DX_HOOK__COUNT));
}

/* ---------------------------------------------------------------- C tables */

static const dx_attr_def user_attrs[] = {
    {.name = "tenant", .type = DX_ATTR_STRING, .key = DX_KEY_HASH},
    {.name = "user_no", .type = DX_ATTR_NUMBER, .key = DX_KEY_RANGE},
    {.name = "email", .type = DX_ATTR_STRING, .required = true},
    {.name = "age", .type = DX_ATTR_NUMBER, .default_json = "1.50"},
    {.name = "tags", .type = DX_ATTR_STRING_SET, .default_json = "[\"a\",\"b\"]"},
    {.name = "meta", .type = DX_ATTR_JSON, .default_json = "{\"x\": [1, 2]}"},
    {.name = "seen", .type = DX_ATTR_DATETIME, .gen = DX_GEN_NOW_ISO},
};

static void test_model_new_ok(void **state) {
    (void)state;
    dx_model_config cfg = {.table = "users", .consistent_read = true, .max_size = 1000};
    dx_model *m = NULL;
    dx_result r;
    dx_result_clear(&r);
    char tname[] = "users";
    cfg.table = tname;
    assert_int_equal(dx_model_new("User", user_attrs, N_(user_attrs), &cfg, &m, &r), DX_OK);
    tname[0] = 'X'; /* the model copied it */
    assert_string_equal(dx_model_name(m), "User");
    assert_string_equal(dx_model_config_get(m)->table, "users");
    assert_true(dx_model_config_get(m)->consistent_read);
    assert_int_equal(dx_model_config_get(m)->max_size, 1000);
    assert_int_equal(dx_model_nattrs(m), N_(user_attrs));
    for (size_t i = 0; i < N_(user_attrs); i++)
        assert_string_equal(dx_model_attr(m, i)->name, user_attrs[i].name);
    assert_null(dx_model_attr(m, N_(user_attrs)));
    assert_string_equal(dx_model_hash_key(m)->name, "tenant");
    assert_string_equal(dx_model_range_key(m)->name, "user_no");
    assert_true(dx_model_hash_key(m)->required); /* keys are always required */
    assert_true(dx_model_range_key(m)->required);
    assert_false(dx_model_find(m, "age")->required);
    assert_null(dx_model_find(m, "nope"));
    assert_string_equal(dx_model_find(m, "age")->default_json, "1.50");

    /* Defaults are parsed once into storage form, numbers canonical, json compact. */
    assert_int_equal(m->defaults[3].type, DX_T_N);
    assert_string_equal(m->defaults[3].u.s, "1.5");
    assert_int_equal(m->defaults[4].type, DX_T_SS);
    assert_int_equal(m->defaults[4].n, 2);
    assert_int_equal(m->defaults[5].type, DX_T_S);
    assert_string_equal(m->defaults[5].u.s, "{\"x\":[1,2]}");
    assert_int_equal(m->defaults[6].type, DX_T_NONE);

    dx_table_def def;
    dx_model_table_def(m, &def);
    assert_string_equal(def.name, "users");
    assert_string_equal(def.key.hash, "tenant");
    assert_int_equal(def.key.hash_type, DX_T_S);
    assert_string_equal(def.key.range, "user_no");
    assert_int_equal(def.key.range_type, DX_T_N);

    dx_model_set_table(m, "users2");
    assert_string_equal(dx_model_config_get(m)->table, "users2");
    dx_model_set_skip_hooks(m, true);
    assert_true(dx_model_config_get(m)->skip_hooks);
    dx_model_set_consistent_read(m, false);
    assert_false(dx_model_config_get(m)->consistent_read);
    dx_model_set_max_size(m, 10);
    assert_int_equal(dx_model_config_get(m)->max_size, 10);
    dx_model_set_max_size(m, 1u << 30);
    assert_int_equal(dx_model_config_get(m)->max_size, DX_MAX_ITEM_SIZE);
    dx_model_free(m);
    dx_model_free(NULL);
}

typedef struct bad_model {
    const char *what;
    dx_attr_def attrs[3];
    size_t n;
    const char *table;
    size_t max_size;
    dx_err err;
    const char *field;
    const char *msg;
} bad_model;

#define HASH_S {.name = "id", .type = DX_ATTR_STRING, .key = DX_KEY_HASH}

static void test_model_new_errors(void **state) {
    (void)state;
    static const bad_model rows[] = {
        {"no table", {HASH_S}, 1, NULL, 0, DX_ERR_CONFIG, "table", "has no table"},
        {"empty table", {HASH_S}, 1, "", 0, DX_ERR_CONFIG, "table", "has no table"},
        {"max_size over 400 KB", {HASH_S}, 1, "t", 409601, DX_ERR_CONFIG, "max_size",
         "over DynamoDB's item limit of 409600"},
        {"no attributes", {HASH_S}, 0, "t", 0, DX_ERR_CONFIG, "", "has no attributes"},
        {"empty name", {HASH_S, {.name = "", .type = DX_ATTR_STRING}}, 2, "t", 0, DX_ERR_CONFIG,
         "", "attribute #2 has no name"},
        {"NULL name", {HASH_S, {.name = NULL, .type = DX_ATTR_STRING}}, 2, "t", 0, DX_ERR_CONFIG,
         "", "attribute #2 has no name"},
        {"duplicate", {HASH_S, {.name = "id", .type = DX_ATTR_NUMBER}}, 2, "t", 0, DX_ERR_CONFIG,
         "id", "'id' is defined twice (#1 and #2)"},
        {"no hash key", {{.name = "a", .type = DX_ATTR_STRING}}, 1, "t", 0, DX_ERR_CONFIG, "",
         "has no hash key"},
        {"two hash keys",
         {HASH_S, {.name = "id2", .type = DX_ATTR_STRING, .key = DX_KEY_HASH}},
         2, "t", 0, DX_ERR_CONFIG, "id2", "two hash keys ('id' and 'id2')"},
        {"two range keys",
         {HASH_S, {.name = "r1", .type = DX_ATTR_NUMBER, .key = DX_KEY_RANGE},
          {.name = "r2", .type = DX_ATTR_NUMBER, .key = DX_KEY_RANGE}},
         3, "t", 0, DX_ERR_CONFIG, "r2", "two range keys ('r1' and 'r2')"},
        {"bool key", {{.name = "k", .type = DX_ATTR_BOOL, .key = DX_KEY_HASH}}, 1, "t", 0,
         DX_ERR_CONFIG, "k", "key attribute 'k' is of type bool"},
        {"json key", {HASH_S, {.name = "k", .type = DX_ATTR_JSON, .key = DX_KEY_RANGE}}, 2, "t",
         0, DX_ERR_CONFIG, "k", "a range key must be string, number, binary"},
        {"set key", {{.name = "k", .type = DX_ATTR_STRING_SET, .key = DX_KEY_HASH}}, 1, "t", 0,
         DX_ERR_CONFIG, "k", "of type string_set"},
        {"unknown type", {HASH_S, {.name = "x", .type = (dx_attr_type)77}}, 2, "t", 0,
         DX_ERR_CONFIG, "x", "unknown type"},
        {"uuid4 on number", {HASH_S, {.name = "x", .type = DX_ATTR_NUMBER, .gen = DX_GEN_UUID4}},
         2, "t", 0, DX_ERR_CONFIG, "x", "generator 'uuid4' makes text"},
        {"ulid on datetime",
         {HASH_S, {.name = "x", .type = DX_ATTR_DATETIME, .gen = DX_GEN_ULID}}, 2, "t", 0,
         DX_ERR_CONFIG, "x", "generator 'ulid'"},
        {"now on number", {HASH_S, {.name = "x", .type = DX_ATTR_NUMBER, .gen = DX_GEN_NOW_ISO}},
         2, "t", 0, DX_ERR_CONFIG, "x", "generator 'now' makes ISO 8601 text"},
        {"now_epoch on datetime",
         {HASH_S, {.name = "x", .type = DX_ATTR_DATETIME, .gen = DX_GEN_NOW_EPOCH}}, 2, "t", 0,
         DX_ERR_CONFIG, "x", "generator 'now_epoch' makes epoch seconds"},
        {"default and generator",
         {{.name = "id", .type = DX_ATTR_STRING, .key = DX_KEY_HASH, .gen = DX_GEN_UUID4,
           .default_json = "\"a\""}},
         1, "t", 0, DX_ERR_CONFIG, "id", "both a default and a generator"},
        {"default wrong type", {HASH_S, {.name = "n", .type = DX_ATTR_NUMBER, .default_json = "true"}},
         2, "t", 0, DX_ERR_CONFIG, "n", "default true does not fit type number"},
        {"default bad number text",
         {HASH_S, {.name = "n", .type = DX_ATTR_NUMBER, .default_json = "\"12abc\""}}, 2, "t", 0,
         DX_ERR_CONFIG, "n", "invalid number"},
        {"default not JSON", {HASH_S, {.name = "s", .type = DX_ATTR_STRING, .default_json = "abc"}},
         2, "t", 0, DX_ERR_CONFIG, "s", "default abc is not valid JSON"},
        {"default empty set",
         {HASH_S, {.name = "s", .type = DX_ATTR_STRING_SET, .default_json = "[]"}}, 2, "t", 0,
         DX_ERR_CONFIG, "s", "default [] does not fit type string_set"},
        {"default duplicate set members",
         {HASH_S, {.name = "s", .type = DX_ATTR_NUMBER_SET, .default_json = "[1, 1.0]"}}, 2, "t",
         0, DX_ERR_CONFIG, "s", "does not fit type number_set"},
        {"default null", {HASH_S, {.name = "s", .type = DX_ATTR_STRING, .default_json = "null"}},
         2, "t", 0, DX_ERR_CONFIG, "s", "a default of null means no default"},
        {"default bad datetime",
         {HASH_S, {.name = "d", .type = DX_ATTR_DATETIME, .default_json = "\"yesterday\""}}, 2,
         "t", 0, DX_ERR_CONFIG, "d", "ISO 8601"},
        {"default empty key", {{.name = "id", .type = DX_ATTR_STRING, .key = DX_KEY_HASH, .default_json = "\"\""}},
         1, "t", 0, DX_ERR_CONFIG, "id", "key attribute 'id' is empty"},
        {"default bad base64",
         {HASH_S, {.name = "b", .type = DX_ATTR_BINARY, .default_json = "\"%%%\""}}, 2, "t", 0,
         DX_ERR_CONFIG, "b", "base64"},
    };
    for (size_t i = 0; i < N_(rows); i++) {
        print_message("[%zu] %s\n", i, rows[i].what);
        dx_model_config cfg = {.table = rows[i].table, .max_size = rows[i].max_size};
        dx_model *m = (dx_model *)&cfg; /* must be reset to NULL */
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dx_model_new("M", rows[i].attrs, rows[i].n, &cfg, &m, &r);
        print_message("    -> %s: %s\n", dx_err_name(e), r.message);
        assert_int_equal(e, rows[i].err);
        assert_null(m);
        assert_int_equal(r.err, rows[i].err);
        assert_string_equal(r.field, rows[i].field);
        assert_contains(r.message, rows[i].msg);
        assert_contains(r.message, "model 'M'");
    }
    /* Datetime and ttl keys are accepted (stored as S and N). */
    dx_attr_def ok[] = {{.name = "day", .type = DX_ATTR_DATETIME, .key = DX_KEY_HASH},
                        {.name = "exp", .type = DX_ATTR_TTL, .key = DX_KEY_RANGE}};
    dx_model_config cfg = {.table = "t"};
    dx_model *m = NULL;
    assert_int_equal(dx_model_new("K", ok, 2, &cfg, &m, NULL), DX_OK);
    dx_table_def def;
    dx_model_table_def(m, &def);
    assert_int_equal(def.key.hash_type, DX_T_S);
    assert_int_equal(def.key.range_type, DX_T_N);
    dx_model_free(m);
    assert_int_equal(dx_model_new("", ok, 2, &cfg, &m, NULL), DX_ERR_CONFIG);
    assert_int_equal(dx_model_new("K", ok, 2, NULL, &m, NULL), DX_ERR_CONFIG);
}

/* ---------------------------------------------------------------- model files */

static const char good_json[] =
    "{\n"
    "  \"name\": \"Order\",\n"
    "  \"description\": \"orders\",\n"
    "  \"config\": {\"table\": \"orders\", \"skip_hooks\": true, \"max_size\": 2048,\n"
    "             \"consistent_read\": true},\n"
    "  \"attributes\": {\n"
    "    \"customer\": {\"type\": \"string\", \"key\": \"hash\"},\n"
    "    \"order_id\": {\"type\": \"string\", \"key\": \"range\", \"generator\": \"ulid\"},\n"
    "    \"total\":    {\"type\": \"number\", \"required\": true, \"description\": \"EUR\"},\n"
    "    \"status\":   {\"type\": \"string\", \"default\": \"new\"},\n"
    "    \"lines\":    {\"type\": \"list\", \"default\": [1, \"a\", {\"b\": null}]},\n"
    "    \"flags\":    {\"type\": \"number_set\", \"default\": [3, \"2\", 1.5]},\n"
    "    \"at\":       {\"type\": \"datetime\", \"generator\": \"now\"},\n"
    "    \"exp\":      {\"type\": \"ttl\", \"default\": \"2030-01-01T00:00:00Z\"},\n"
    "    \"ver\":      {\"type\": \"number\"},\n"
    "    \"touched\":  {\"type\": \"number\"}\n"
    "  },\n"
    "  \"hooks\": {\n"
    "    \"before_save\": [{\"builtin\": \"bump_version\", \"attr\": \"ver\"},\n"
    "                    {\"builtin\": \"validate\"}],\n"
    "    \"before_update\": [{\"builtin\": \"set_now\", \"attr\": \"touched\"}]\n"
    "  }\n"
    "}\n";

static void test_model_json_ok(void **state) {
    (void)state;
    dx_model *m = NULL;
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_model_from_json(good_json, strlen(good_json), &m, &r);
    if (e) print_message("%s\n", r.message);
    assert_int_equal(e, DX_OK);
    assert_string_equal(dx_model_name(m), "Order");
    const dx_model_config *cfg = dx_model_config_get(m);
    assert_string_equal(cfg->table, "orders");
    assert_true(cfg->skip_hooks);
    assert_true(cfg->consistent_read);
    assert_int_equal(cfg->max_size, 2048);
    assert_null(cfg->client);
    static const char *const order[] = {"customer", "order_id", "total", "status", "lines",
                                        "flags",    "at",       "exp",   "ver",    "touched"};
    assert_int_equal(dx_model_nattrs(m), N_(order));
    for (size_t i = 0; i < N_(order); i++) assert_string_equal(dx_model_attr(m, i)->name, order[i]);
    assert_int_equal(dx_model_hash_key(m)->type, DX_ATTR_STRING);
    assert_string_equal(dx_model_range_key(m)->name, "order_id");
    assert_int_equal(dx_model_range_key(m)->gen, DX_GEN_ULID);
    assert_true(dx_model_find(m, "total")->required);
    assert_int_equal(dx_model_find(m, "at")->gen, DX_GEN_NOW_ISO);
    assert_string_equal(dx_model_find(m, "status")->default_json, "\"new\"");
    assert_int_equal(m->defaults[5].type, DX_T_NS);
    assert_int_equal(m->defaults[5].n, 3);
    assert_string_equal(m->defaults[5].u.elems[1].u.s, "2");
    assert_int_equal(m->defaults[7].type, DX_T_N);
    assert_string_equal(m->defaults[7].u.s, "1893456000"); /* 2030-01-01T00:00:00Z */
    assert_int_equal(m->defaults[4].type, DX_T_L);
    assert_true(dx_model_has_hooks(m, DX_HOOK_BEFORE_SAVE));
    assert_true(dx_model_has_hooks(m, DX_HOOK_BEFORE_UPDATE));
    assert_false(dx_model_has_hooks(m, DX_HOOK_AFTER_SAVE));
    assert_int_equal(m->hooks[DX_HOOK_BEFORE_SAVE].n, 2);
    dx_model_free(m);
}

typedef struct bad_file {
    const char *what;
    const char *json;
    dx_err err;
    const char *msg;
} bad_file;

#define ATTRS_OK "\"attributes\": {\"id\": {\"type\": \"string\", \"key\": \"hash\"}}"
#define CFG_OK "\"config\": {\"table\": \"t\"}"
#define HEAD "{\"name\": \"M\", " CFG_OK ", "

static void test_model_json_errors(void **state) {
    (void)state;
    static const bad_file rows[] = {
        {"not JSON", "{\"name\": \"M\",\n \"config\": {,}}", DX_ERR_PARSE, "line 2, column"},
        {"trailing comma", HEAD ATTRS_OK ",}", DX_ERR_PARSE, "not valid JSON"},
        {"text after", HEAD ATTRS_OK "} x", DX_ERR_PARSE, "unexpected text after"},
        {"array", "[1]", DX_ERR_CONFIG, "one JSON object, got an array"},
        {"unknown top key", HEAD ATTRS_OK ", \"hook\": {}}", DX_ERR_CONFIG,
         "model: unknown key 'hook' (did you mean 'hooks'? allowed here: name, description, config, attributes, hooks)"},
        {"duplicate top key", HEAD ATTRS_OK ", \"name\": \"N\"}", DX_ERR_CONFIG,
         "model: key 'name' appears twice"},
        {"missing name", "{" CFG_OK ", " ATTRS_OK "}", DX_ERR_CONFIG, "name: expected the model's name"},
        {"empty name", "{\"name\": \"\", " CFG_OK ", " ATTRS_OK "}", DX_ERR_CONFIG,
         "name: expected the model's name (a non-empty string), got an empty string"},
        {"missing config", "{\"name\": \"M\", " ATTRS_OK "}", DX_ERR_CONFIG, "config is missing"},
        {"config not object", "{\"name\": \"M\", \"config\": \"t\", " ATTRS_OK "}", DX_ERR_CONFIG,
         "config: expected an object, got a string"},
        {"missing table", "{\"name\": \"M\", \"config\": {}, " ATTRS_OK "}", DX_ERR_CONFIG,
         "config: \"table\" is missing"},
        {"unknown config key", "{\"name\": \"M\", \"config\": {\"table\": \"t\", \"region\": 1}, " ATTRS_OK "}",
         DX_ERR_CONFIG, "config: unknown key 'region'"},
        {"skip_hooks not bool", "{\"name\": \"M\", \"config\": {\"table\": \"t\", \"skip_hooks\": 1}, " ATTRS_OK "}",
         DX_ERR_CONFIG, "config.skip_hooks: expected true or false, got a number"},
        {"max_size negative", "{\"name\": \"M\", \"config\": {\"table\": \"t\", \"max_size\": -1}, " ATTRS_OK "}",
         DX_ERR_CONFIG, "config.max_size: expected a whole number of bytes"},
        {"max_size fraction", "{\"name\": \"M\", \"config\": {\"table\": \"t\", \"max_size\": 1.5}, " ATTRS_OK "}",
         DX_ERR_CONFIG, "config.max_size"},
        {"max_size too big", "{\"name\": \"M\", \"config\": {\"table\": \"t\", \"max_size\": 500000}, " ATTRS_OK "}",
         DX_ERR_CONFIG, "config.max_size"},
        {"missing attributes", "{\"name\": \"M\", " CFG_OK "}", DX_ERR_CONFIG,
         "attributes: expected an object"},
        {"empty attributes", HEAD "\"attributes\": {}}", DX_ERR_CONFIG, "got an empty object"},
        {"attributes a string", HEAD "\"attributes\": \"id\"}", DX_ERR_CONFIG,
         "attributes: expected an object with at least the hash key"},
        {"attributes empty array", HEAD "\"attributes\": []}", DX_ERR_CONFIG, "got an empty array"},
        {"array: type missing", HEAD "\"attributes\": [{\"name\": \"id\"}]}", DX_ERR_CONFIG,
         "attributes[0] (id): \"type\" is missing"},
        {"array: name missing", HEAD "\"attributes\": [{\"type\": \"string\", \"key\": \"hash\"}]}",
         DX_ERR_CONFIG, "attributes[0].name: expected the attribute's name (a non-empty string), got nothing"},
        {"array: name not a string", HEAD "\"attributes\": [{\"name\": 3, \"type\": \"string\"}]}",
         DX_ERR_CONFIG, "attributes[0].name: expected the attribute's name (a non-empty string), got a number"},
        {"array: element not an object", HEAD "\"attributes\": [\"id\"]}", DX_ERR_CONFIG,
         "attributes[0]: expected an object"},
        {"array: unknown key",
         HEAD "\"attributes\": [{\"name\": \"id\", \"type\": \"string\", \"key\": \"hash\", \"size\": 1}]}",
         DX_ERR_CONFIG,
         "attributes[0]: unknown key 'size' (allowed here: name, type, key, required, default, generator, description)"},
        {"array: name twice",
         HEAD "\"attributes\": [{\"name\": \"id\", \"type\": \"string\", \"key\": \"hash\"},"
              " {\"name\": \"id\", \"type\": \"number\"}]}",
         DX_ERR_CONFIG, "attribute 'id' is defined twice (#1 and #2)"},
        {"object form: name key not allowed",
         HEAD "\"attributes\": {\"id\": {\"name\": \"id\", \"type\": \"string\", \"key\": \"hash\"}}}",
         DX_ERR_CONFIG, "attributes.id: unknown key 'name'"},
        {"attribute twice",
         HEAD "\"attributes\": {\"id\": {\"type\": \"string\", \"key\": \"hash\"}, \"id\": {\"type\": \"number\"}}}",
         DX_ERR_CONFIG, "attribute 'id' is defined twice"},
        {"attribute not object", HEAD "\"attributes\": {\"id\": \"string\"}}", DX_ERR_CONFIG,
         "attributes.id: expected an object"},
        {"unknown attribute key",
         HEAD "\"attributes\": {\"id\": {\"type\": \"string\", \"key\": \"hash\", \"defualt\": 1}}}",
         DX_ERR_CONFIG,
         "attributes.id: unknown key 'defualt' (did you mean 'default'? allowed here: type, key, required, default, generator, description)"},
        {"missing type", HEAD "\"attributes\": {\"id\": {\"key\": \"hash\"}}}", DX_ERR_CONFIG,
         "attributes.id: \"type\" is missing"},
        {"unknown type", HEAD "\"attributes\": {\"id\": {\"type\": \"str\", \"key\": \"hash\"}}}",
         DX_ERR_CONFIG, "attributes.id.type: unknown type 'str'"},
        {"bad key role", HEAD "\"attributes\": {\"id\": {\"type\": \"string\", \"key\": \"partition\"}}}",
         DX_ERR_CONFIG, "attributes.id.key: expected \"hash\" or \"range\", got \"partition\""},
        {"required not bool",
         HEAD "\"attributes\": {\"id\": {\"type\": \"string\", \"key\": \"hash\", \"required\": \"yes\"}}}",
         DX_ERR_CONFIG, "attributes.id.required: expected true or false, got a string"},
        {"unknown generator",
         HEAD "\"attributes\": {\"id\": {\"type\": \"string\", \"key\": \"hash\", \"generator\": \"uuid\"}}}",
         DX_ERR_CONFIG, "attributes.id.generator: unknown generator 'uuid'"},
        {"default wrong type",
         HEAD "\"attributes\": {\"id\": {\"type\": \"string\", \"key\": \"hash\"}, \"n\": {\"type\": \"number\", \"default\": [1]}}}",
         DX_ERR_CONFIG, "attribute 'n': default [1] does not fit type number"},
        {"no hash key", HEAD "\"attributes\": {\"id\": {\"type\": \"string\"}}}", DX_ERR_CONFIG,
         "has no hash key"},
        {"hooks not object", HEAD ATTRS_OK ", \"hooks\": []}", DX_ERR_CONFIG,
         "hooks: expected an object"},
        {"unknown hook kind", HEAD ATTRS_OK ", \"hooks\": {\"before_get\": []}}", DX_ERR_CONFIG,
         "hooks: unknown key 'before_get'"},
        {"hook list not array", HEAD ATTRS_OK ", \"hooks\": {\"before_save\": {}}}", DX_ERR_CONFIG,
         "hooks.before_save: expected an array"},
        {"unknown builtin", HEAD ATTRS_OK ", \"hooks\": {\"before_save\": [{\"builtin\": \"now\"}]}}",
         DX_ERR_CONFIG, "hooks.before_save[0]: model 'M': unknown built-in hook 'now'"},
        {"hook unknown key",
         HEAD ATTRS_OK ", \"hooks\": {\"before_save\": [{\"builtin\": \"validate\", \"fn\": \"x\"}]}}",
         DX_ERR_CONFIG, "hooks.before_save[0]: unknown key 'fn' (allowed here: builtin, attr)"},
        {"hook without builtin", HEAD ATTRS_OK ", \"hooks\": {\"before_save\": [{}]}}",
         DX_ERR_CONFIG, "hooks.before_save[0]: \"builtin\" is missing"},
        {"set_now without attr",
         HEAD ATTRS_OK ", \"hooks\": {\"before_save\": [{\"builtin\": \"set_now\"}]}}",
         DX_ERR_CONFIG, "needs the attribute it sets"},
        {"set_now unknown attr",
         HEAD ATTRS_OK ", \"hooks\": {\"before_save\": [{\"builtin\": \"set_now\", \"attr\": \"x\"}]}}",
         DX_ERR_CONFIG, "the model has no attribute 'x'"},
        {"set_now on key",
         HEAD ATTRS_OK ", \"hooks\": {\"before_save\": [{\"builtin\": \"set_now\", \"attr\": \"id\"}]}}",
         DX_ERR_CONFIG, "cannot change key attribute 'id'"},
        {"validate after_save",
         HEAD ATTRS_OK ", \"hooks\": {\"after_save\": [{\"builtin\": \"validate\"}]}}",
         DX_ERR_CONFIG, "runs before_save or before_update, not after_save"},
        {"validate with attr",
         HEAD ATTRS_OK ", \"hooks\": {\"before_save\": [{\"builtin\": \"validate\", \"attr\": \"id\"}]}}",
         DX_ERR_CONFIG, "takes no attr"},
    };
    for (size_t i = 0; i < N_(rows); i++) {
        print_message("[%zu] %s\n", i, rows[i].what);
        dx_model *m = NULL;
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dx_model_from_json(rows[i].json, strlen(rows[i].json), &m, &r);
        print_message("    -> %s: %s\n", dx_err_name(e), r.message);
        assert_int_equal(e, rows[i].err);
        assert_null(m);
        assert_contains(r.message, rows[i].msg);
    }
}

/* The array form of "attributes" gives the same model as the object form. */
static void test_model_json_array_form(void **state) {
    (void)state;
    static const char obj[] =
        "{\"name\": \"M\", \"config\": {\"table\": \"t\"}, \"attributes\": {"
        "\"id\": {\"type\": \"string\", \"key\": \"hash\"},"
        "\"at\": {\"type\": \"number\", \"key\": \"range\"},"
        "\"n\": {\"type\": \"number\", \"default\": 5, \"required\": true},"
        "\"g\": {\"type\": \"string\", \"generator\": \"ulid\"}}}";
    static const char arr[] =
        "{\"name\": \"M\", \"config\": {\"table\": \"t\"}, \"attributes\": ["
        "{\"name\": \"id\", \"type\": \"string\", \"key\": \"hash\"},"
        "{\"name\": \"at\", \"type\": \"number\", \"key\": \"range\"},"
        "{\"name\": \"n\", \"type\": \"number\", \"default\": 5, \"required\": true},"
        "{\"name\": \"g\", \"type\": \"string\", \"generator\": \"ulid\"}]}";
    dx_model *a = NULL, *b = NULL;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_model_from_json(obj, strlen(obj), &a, &r), DX_OK);
    assert_int_equal(dx_model_from_json(arr, strlen(arr), &b, &r), DX_OK);
    assert_int_equal(dx_model_nattrs(a), dx_model_nattrs(b));
    for (size_t i = 0; i < dx_model_nattrs(a); i++) {
        const dx_attr_def *x = dx_model_attr(a, i), *y = dx_model_attr(b, i);
        print_message("[%zu] %s\n", i, x->name);
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->key, y->key);
        assert_int_equal(x->required, y->required);
        assert_int_equal(x->gen, y->gen);
        assert_true(dx_value_equal(&a->defaults[i], &b->defaults[i]) ||
                    (a->defaults[i].type == DX_T_NONE && b->defaults[i].type == DX_T_NONE));
    }
    dx_model_free(a);
    dx_model_free(b);
}

static void test_model_json_not_terminated(void **state) {
    (void)state;
    /* The text need not be NUL-terminated: only len bytes are read. */
    size_t n = strlen(good_json);
    char *copy = malloc(n);
    memcpy(copy, good_json, n);
    dx_model *m = NULL;
    assert_int_equal(dx_model_from_json(copy, n, &m, NULL), DX_OK);
    dx_model_free(m);
    free(copy);
}

static void test_model_load_files(void **state) {
    (void)state;
    dx_model *m = NULL;
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_model_load("samples/models/users.json", &m, &r);
    if (e) print_message("%s\n", r.message);
    assert_int_equal(e, DX_OK);
    assert_string_equal(dx_model_name(m), "User");
    assert_string_equal(dx_model_hash_key(m)->name, "user_id");
    assert_null(dx_model_range_key(m));
    assert_int_equal(m->hooks[DX_HOOK_BEFORE_SAVE].n, 3);
    dx_model_free(m);

    e = dx_model_load("samples/models/orders.json", &m, &r);
    if (e) print_message("%s\n", r.message);
    assert_int_equal(e, DX_OK);
    assert_string_equal(dx_model_range_key(m)->name, "order_id");
    assert_int_equal(dx_model_config_get(m)->max_size, 102400);
    dx_model_free(m);

    dx_result_clear(&r);
    assert_int_equal(dx_model_load("no/such/model.json", &m, &r), DX_ERR_IO);
    assert_null(m);
    assert_contains(r.message, "no/such/model.json");

    /* Errors name the file. */
    char path[] = "/tmp/dynox-test-model-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"name\": \"M\", \"config\": {\"table\": \"t\"},\n \"attributes\": {\"id\": "
          "{\"type\": \"string\", \"key\": \"hash\", \"requird\": true}}}\n",
          f);
    fclose(f);
    dx_result_clear(&r);
    assert_int_equal(dx_model_load(path, &m, &r), DX_ERR_CONFIG);
    char want[128];
    snprintf(want, sizeof want, "%s: attributes.id: unknown key 'requird'", path);
    assert_contains(r.message, want);
    assert_string_equal(r.field, "requird");
    remove(path);
}

/* ---------------------------------------------------------------- hooks */

typedef struct hook_log {
    char order[32];
    int n;
    dx_err fail_with;
    bool fill_result;
} hook_log;

static dx_err log_hook(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r) {
    (void)item;
    (void)kind;
    hook_log *l = ud;
    l->order[l->n % 31] = (char)('a' + l->n % 26);
    l->n++;
    if (l->fail_with && l->fill_result)
        return dx_fail(r, l->fail_with, "email", "email must be lower case");
    return l->fail_with;
}

static dx_model *simple_model(void) {
    static const dx_attr_def attrs[] = {
        {.name = "id", .type = DX_ATTR_STRING, .key = DX_KEY_HASH},
        {.name = "email", .type = DX_ATTR_STRING, .required = true},
        {.name = "at", .type = DX_ATTR_DATETIME},
        {.name = "at_s", .type = DX_ATTR_STRING},
        {.name = "epoch", .type = DX_ATTR_NUMBER},
        {.name = "exp", .type = DX_ATTR_TTL},
        {.name = "ver", .type = DX_ATTR_NUMBER},
        {.name = "flag", .type = DX_ATTR_BOOL},
    };
    dx_model_config cfg = {.table = "t"};
    dx_model *m = NULL;
    assert_int_equal(dx_model_new("Simple", attrs, N_(attrs), &cfg, &m, NULL), DX_OK);
    return m;
}

static void test_hooks_run(void **state) {
    (void)state;
    dx_model *m = simple_model();
    hook_log a = {0}, b = {0};
    assert_false(dx_model_has_hooks(m, DX_HOOK_BEFORE_SAVE));
    assert_int_equal(dx_model_add_hook(m, DX_HOOK_BEFORE_SAVE, log_hook, &a), DX_OK);
    assert_int_equal(dx_model_add_hook(m, DX_HOOK_BEFORE_SAVE, log_hook, &b), DX_OK);
    assert_int_equal(dx_model_add_hook(m, DX_HOOK__COUNT, log_hook, &a), DX_ERR_INVALID_ARG);
    assert_int_equal(dx_model_add_hook(m, DX_HOOK_AFTER_SAVE, NULL, &a), DX_ERR_INVALID_ARG);
    assert_true(dx_model_has_hooks(m, DX_HOOK_BEFORE_SAVE));
    dx_item *it = dx_item_new(m);
    dx_result r;
    dx_result_clear(&r);

    /* The skip tristate: per call wins, DX_DEFAULT follows the model. */
    static const struct {
        bool model_skip;
        dx_tristate call;
        int runs;
    } rows[] = {
        {false, DX_DEFAULT, 1}, {false, DX_NO, 1}, {false, DX_YES, 0},
        {true, DX_DEFAULT, 0},  {true, DX_NO, 1},  {true, DX_YES, 0},
    };
    for (size_t i = 0; i < N_(rows); i++) {
        print_message("[%zu] model_skip=%d call=%d\n", i, rows[i].model_skip, (int)rows[i].call);
        a.n = b.n = 0;
        dx_model_set_skip_hooks(m, rows[i].model_skip);
        assert_int_equal(dx_model_run_hooks(m, it, DX_HOOK_BEFORE_SAVE, rows[i].call, &r), DX_OK);
        assert_int_equal(a.n, rows[i].runs);
        assert_int_equal(b.n, rows[i].runs);
    }
    dx_model_set_skip_hooks(m, false);

    /* Other kinds are not run. */
    a.n = b.n = 0;
    assert_int_equal(dx_model_run_hooks(m, it, DX_HOOK_AFTER_SAVE, DX_DEFAULT, &r), DX_OK);
    assert_int_equal(a.n, 0);

    /* The first failing hook stops the rest; its error and message come back. */
    a.n = b.n = 0;
    a.fail_with = DX_ERR_VALIDATION;
    a.fill_result = true;
    assert_int_equal(dx_model_run_hooks(m, it, DX_HOOK_BEFORE_SAVE, DX_DEFAULT, &r),
                     DX_ERR_VALIDATION);
    assert_int_equal(a.n, 1);
    assert_int_equal(b.n, 0);
    assert_string_equal(r.message, "email must be lower case");
    assert_string_equal(r.field, "email");

    /* A hook that returns an error without saying why gets a message naming it. */
    a.n = 0;
    a.fail_with = DX_ERR_HOOK;
    a.fill_result = false;
    dx_result_clear(&r);
    assert_int_equal(dx_model_run_hooks(m, it, DX_HOOK_BEFORE_SAVE, DX_DEFAULT, &r), DX_ERR_HOOK);
    assert_int_equal(r.err, DX_ERR_HOOK);
    assert_contains(r.message, "before_save hook #1 of model 'Simple' stopped the operation");
    /* r may be NULL. */
    assert_int_equal(dx_model_run_hooks(m, it, DX_HOOK_BEFORE_SAVE, DX_DEFAULT, NULL), DX_ERR_HOOK);
    dx_item_free(it);
    dx_model_free(m);
}

static bool iso_ms(const char *s) {
    /* YYYY-MM-DDTHH:MM:SS.mmmZ */
    static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (strlen(s) != strlen(pat)) return false;
    for (size_t i = 0; pat[i]; i++) {
        if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i]) return false;
    }
    return true;
}

static void test_builtin_hooks(void **state) {
    (void)state;
    dx_model *m = simple_model();
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_model_add_builtin_hook(m, DX_HOOK_BEFORE_SAVE, "set_now", "at", &r), DX_OK);
    assert_int_equal(dx_model_add_builtin_hook(m, DX_HOOK_BEFORE_SAVE, "set_now", "at_s", &r), DX_OK);
    assert_int_equal(dx_model_add_builtin_hook(m, DX_HOOK_BEFORE_SAVE, "set_now", "epoch", &r), DX_OK);
    assert_int_equal(dx_model_add_builtin_hook(m, DX_HOOK_BEFORE_UPDATE, "set_now", "exp", &r), DX_OK);
    assert_int_equal(dx_model_add_builtin_hook(m, DX_HOOK_BEFORE_SAVE, "bump_version", "ver", &r), DX_OK);
    assert_int_equal(dx_model_add_builtin_hook(m, DX_HOOK_BEFORE_SAVE, "validate", NULL, &r), DX_OK);

    static const struct {
        dx_hook_kind kind;
        const char *builtin, *attr, *msg;
    } bad[] = {
        {DX_HOOK_BEFORE_SAVE, "set_now", "flag", "cannot set 'flag' of type bool"},
        {DX_HOOK_BEFORE_SAVE, "bump_version", "at", "cannot set 'at' of type datetime"},
        {DX_HOOK_BEFORE_SAVE, "bump_version", "id", "cannot change key attribute 'id'"},
        {DX_HOOK_AFTER_UPDATE, "set_now", "at", "not after_update"},
        {DX_HOOK_BEFORE_DELETE, "validate", NULL, "not before_delete"},
        {DX_HOOK_BEFORE_SAVE, "uppercase", "at", "unknown built-in hook 'uppercase'"},
        {DX_HOOK_BEFORE_SAVE, NULL, "at", "unknown built-in hook"},
        {DX_HOOK_BEFORE_SAVE, "set_now", "", "needs the attribute"},
        {DX_HOOK__COUNT, "set_now", "at", "unknown hook kind"},
    };
    for (size_t i = 0; i < N_(bad); i++) {
        print_message("[%zu] %s %s\n", i, bad[i].builtin ? bad[i].builtin : "(null)",
                      bad[i].attr ? bad[i].attr : "(null)");
        dx_result_clear(&r);
        assert_int_equal(dx_model_add_builtin_hook(m, bad[i].kind, bad[i].builtin, bad[i].attr, &r),
                         DX_ERR_CONFIG);
        assert_contains(r.message, bad[i].msg);
    }

    dx_item *it = dx_item_new(m);
    assert_int_equal(dx_item_set_str(it, "id", "x", &r), DX_OK);
    /* validate runs last and stops the save path: email is required. */
    dx_result_clear(&r);
    assert_int_equal(dx_model_run_hooks(m, it, DX_HOOK_BEFORE_SAVE, DX_DEFAULT, &r),
                     DX_ERR_VALIDATION);
    assert_string_equal(r.field, "email");
    assert_contains(r.message, "missing required attribute 'email'");
    /* Hooks before it ran: bump_version already made ver 1. */
    int64_t ver = 0;
    assert_int_equal(dx_item_get_i64(it, "ver", &ver, &r), DX_OK);
    assert_int_equal(ver, 1);
    assert_int_equal(dx_item_set_str(it, "email", "a@b.c", &r), DX_OK);

    uint64_t before = dx_wall_ms() / 1000;
    assert_int_equal(dx_model_run_hooks(m, it, DX_HOOK_BEFORE_SAVE, DX_DEFAULT, &r), DX_OK);
    const char *at = NULL, *at_s = NULL;
    assert_int_equal(dx_item_get_str(it, "at", &at), DX_OK);
    assert_int_equal(dx_item_get_str(it, "at_s", &at_s), DX_OK);
    assert_true(iso_ms(at));
    assert_true(iso_ms(at_s));
    int64_t epoch = 0;
    assert_int_equal(dx_item_get_i64(it, "epoch", &epoch, &r), DX_OK);
    assert_true(epoch >= (int64_t)before && epoch <= (int64_t)before + 2);
    assert_int_equal(dx_item_get_i64(it, "ver", &ver, &r), DX_OK);
    assert_int_equal(ver, 2);
    assert_int_equal(dx_model_run_hooks(m, it, DX_HOOK_BEFORE_SAVE, DX_DEFAULT, &r), DX_OK);
    assert_int_equal(dx_item_get_i64(it, "ver", &ver, &r), DX_OK);
    assert_int_equal(ver, 3);
    /* bump_version adds exactly, beyond what a double holds. */
    assert_int_equal(dx_item_set_num(it, "ver", "12345678901234567890123456789", &r), DX_OK);
    assert_int_equal(dx_model_run_hooks(m, it, DX_HOOK_BEFORE_SAVE, DX_DEFAULT, &r), DX_OK);
    assert_string_equal(dx_item_get(it, "ver")->u.s, "12345678901234567890123456790");

    assert_null(dx_item_get(it, "exp"));
    assert_int_equal(dx_model_run_hooks(m, it, DX_HOOK_BEFORE_UPDATE, DX_DEFAULT, &r), DX_OK);
    assert_int_equal(dx_item_get_i64(it, "exp", &epoch, &r), DX_OK);
    assert_true(epoch >= (int64_t)before);
    dx_item_free(it);
    dx_model_free(m);
}

static void test_default_client(void **state) {
    (void)state;
    dx_model *m = simple_model();
    dx_client *fake1 = (dx_client *)(uintptr_t)0x1000, *fake2 = (dx_client *)(uintptr_t)0x2000;
    assert_null(dx_default_client());
    assert_null(dx_model_client(m));
    dx_set_default_client(fake1);
    assert_ptr_equal(dx_default_client(), fake1);
    assert_ptr_equal(dx_model_client(m), fake1);
    dx_model_set_client(m, fake2); /* the model's own wins */
    assert_ptr_equal(dx_model_client(m), fake2);
    dx_model_set_client(m, NULL);
    assert_ptr_equal(dx_model_client(m), fake1);
    dx_set_default_client(NULL);
    assert_null(dx_model_client(m));

    /* Without any client, calls fail with a config error naming the model. */
    dx_item *it = dx_item_new(m);
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_item_save(it, NULL, &r), DX_ERR_CONFIG);
    assert_string_equal(r.message,
                        "model Simple has no client and no default client is set (use "
                        "dx_model_set_client or dx_set_default_client)");
    dx_item_free(it);
    dx_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_model_new_ok),
        cmocka_unit_test(test_model_new_errors),
        cmocka_unit_test(test_model_json_ok),
        cmocka_unit_test(test_model_json_errors),
        cmocka_unit_test(test_model_json_array_form),
        cmocka_unit_test(test_model_json_not_terminated),
        cmocka_unit_test(test_model_load_files),
        cmocka_unit_test(test_hooks_run),
        cmocka_unit_test(test_builtin_hooks),
        cmocka_unit_test(test_default_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
