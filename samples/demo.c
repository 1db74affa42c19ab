/*
 * demo.c - a guided tour of libdynox's models on the in-memory backend.
 *
 * Walks through the seed's flows one step at a time and prints what
 * happens: define a model in C, create its table, save, get, update,
 * update_by_key, delete_by_key, hooks firing and being skipped, the errors a
 * user meets first (ItemTooLarge, ConditionalCheckFailed, Validation), plain
 * JSON out and in, and a model loaded from a JSON model file. Nothing here
 * touches AWS. Each step checks that the library did what the text says; the
 * program exits 1 if any step did not.
 *
 * Usage: demo [models-dir]   (default: samples/models, run from the repo root)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynox/dynox.h"

static int failures;
static int step_no;

static void step(const char *title) { printf("\n== %d. %s\n", ++step_no, title); }

static void say(const char *fmt, ...) DX_PRINTF(1, 2);
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("   ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* Records a failed expectation; the demo goes on so the reader sees everything. */
static void expect(int ok, const char *what) {
    if (ok) return;
    failures++;
    printf("   !! UNEXPECTED: %s\n", what);
}

static dx_buf dict_buf;

/* The item as plain JSON; valid until the next call. */
static const char *dict(const dx_item *it) {
    dx_buf_clear(&dict_buf);
    if (dx_item_to_dict(it, &dict_buf) != DX_OK) return "(to_dict failed)";
    return dict_buf.ptr;
}

static uint64_t backend_calls(dx_client *c) {
    dx_client_stats s;
    dx_client_stats_get(c, &s);
    return s.calls;
}

/* A C hook: counts how often it runs and says so. */
typedef struct hook_counter {
    int runs;
} hook_counter;

static dx_err announce(dx_item *item, dx_hook_kind kind, void *ud, dx_result *r) {
    (void)r;
    hook_counter *hc = ud;
    hc->runs++;
    const char *id = "?";
    dx_item_get_str(item, "user_id", &id);
    say("   [hook] %s runs for user_id=%s", dx_hook_kind_name(kind), id);
    return DX_OK;
}

static dx_value key_of(dx_member *m, const char *id) {
    m->name = "user_id";
    m->name_len = 7;
    m->value = dx_vs(id);
    return dx_vmap(m, 1);
}

int main(int argc, char **argv) {
    const char *models_dir = argc > 1 ? argv[1] : "samples/models";
    dx_result r;
    dx_result_clear(&r);
    dx_client *client = NULL;
    dx_model *users = NULL, *orders = NULL;
    dx_item *alice = NULL, *again = NULL, *got = NULL, *big = NULL, *order = NULL;
    hook_counter hooks = {0};
    dx_member km;
    dx_value key;
    uint64_t before;
    dx_err e;

    printf("dynox %s demo: models, items and hooks on the in-memory backend\n", DYNOX_VERSION);

    step("Define a model in C");
    static const dx_attr_def attrs[] = {
        {.name = "user_id", .type = DX_ATTR_STRING, .key = DX_KEY_HASH},
        {.name = "email", .type = DX_ATTR_STRING, .required = true},
        {.name = "name", .type = DX_ATTR_STRING},
        {.name = "age", .type = DX_ATTR_NUMBER, .default_json = "0"},
        {.name = "tags", .type = DX_ATTR_STRING_SET},
        {.name = "created_at", .type = DX_ATTR_DATETIME, .gen = DX_GEN_NOW_ISO},
        {.name = "updated_at", .type = DX_ATTR_DATETIME},
        {.name = "version", .type = DX_ATTR_NUMBER},
    };
    dx_model_config cfg = {.table = "users"};
    e = dx_model_new("User", attrs, sizeof attrs / sizeof attrs[0], &cfg, &users, &r);
    expect(e == DX_OK, r.message);
    if (e) goto out;
    for (size_t i = 0; i < dx_model_nattrs(users); i++) {
        const dx_attr_def *d = dx_model_attr(users, i);
        static const char *const gens[] = {"", " generator uuid4", " generator ulid",
                                           " generator now", " generator now_epoch"};
        say("%-11s %-11s%s%s%s%s%s", d->name, dx_attr_type_name(d->type),
            d->key == DX_KEY_HASH ? " hash key" : "", d->required && !d->key ? " required" : "",
            d->default_json ? " default " : "", d->default_json ? d->default_json : "",
            gens[d->gen]);
    }
    say("hooks: before_save sets updated_at to now and bumps version (built-in hooks),");
    say("       and a C hook announces before_save, after_save, before_update and after_load");
    dx_model_add_builtin_hook(users, DX_HOOK_BEFORE_SAVE, "set_now", "updated_at", &r);
    dx_model_add_builtin_hook(users, DX_HOOK_BEFORE_SAVE, "bump_version", "version", &r);
    dx_model_add_hook(users, DX_HOOK_BEFORE_SAVE, announce, &hooks);
    dx_model_add_hook(users, DX_HOOK_AFTER_SAVE, announce, &hooks);
    dx_model_add_hook(users, DX_HOOK_BEFORE_UPDATE, announce, &hooks);
    dx_model_add_hook(users, DX_HOOK_AFTER_LOAD, announce, &hooks);

    step("Create a memory client (the default client) and the model's table");
    e = dx_mem_client_new(NULL, NULL, &client);
    expect(e == DX_OK, "memory client");
    if (e) goto out;
    dx_set_default_client(client);
    dx_table_def def;
    dx_model_table_def(users, &def);
    e = dx_create_table(client, &def, &r);
    expect(e == DX_OK, r.message);
    say("table \"%s\" with hash key %s (%s) on the \"%s\" backend", def.name, def.key.hash,
        dx_type_name(def.key.hash_type), dx_client_backend(client));

    step("A new item gets defaults and generated values");
    alice = dx_item_new(users);
    dx_item_set_str(alice, "user_id", "alice", &r);
    dx_item_set_str(alice, "email", "alice@example.com", &r);
    dx_item_set_str(alice, "name", "Alice", &r);
    dx_value tagv[] = {dx_vs("admin"), dx_vs("beta")};
    dx_value tags = dx_vset(DX_T_SS, tagv, 2);
    dx_item_set(alice, "tags", &tags, &r);
    say("%s", dict(alice));
    expect(dx_item_get(alice, "created_at") != NULL, "created_at generated");

    step("save: hooks run, then one PutItem");
    before = backend_calls(client);
    e = dx_item_save(alice, NULL, &r);
    expect(e == DX_OK, r.message);
    say("saved with %llu backend call; version is now %s", (unsigned long long)(backend_calls(client) - before),
        dx_item_get(alice, "version") ? dx_item_get(alice, "version")->u.s : "?");
    expect(backend_calls(client) - before == 1, "one backend call for save");
    expect(hooks.runs == 2, "before_save and after_save ran");

    step("get by key (an absent item is not an error)");
    key = key_of(&km, "alice");
    e = dx_model_get(users, &key, NULL, &got, &r);
    expect(e == DX_OK && got, "alice is found");
    if (got) say("found: %s", dict(got));
    dx_item_free(got);
    got = NULL;
    key = key_of(&km, "nobody");
    e = dx_model_get(users, &key, NULL, &got, &r);
    say("get user_id=nobody -> %s, item %s", dx_err_name(e), got ? "found" : "NULL (not found)");
    expect(e == DX_OK && got == NULL, "missing item is DX_OK with NULL");

    step("save replaces the whole item");
    again = dx_item_new(users);
    dx_item_set_str(again, "user_id", "alice", &r);
    dx_item_set_str(again, "email", "alice@new.example.com", &r);
    e = dx_item_save(again, NULL, &r);
    key = key_of(&km, "alice");
    dx_model_get(users, &key, NULL, &got, &r);
    say("after saving an item without name/tags: %s", got ? dict(got) : "(none)");
    expect(got && !dx_item_get(got, "name") && !dx_item_get(got, "tags"),
           "name and tags are gone after a full replace");
    dx_item_free(got);
    got = NULL;

    step("update named fields: the server and the local item change");
    dx_member fields[] = {{"age", 3, dx_vn("37")}, {"name", 4, dx_vs("Alice B.")}};
    e = dx_item_update(again, fields, 2, NULL, &r);
    expect(e == DX_OK, r.message);
    say("local item now: %s", dict(again));
    int64_t age = 0;
    dx_item_get_i64(again, "age", &age, &r);
    expect(age == 37, "local age is 37");

    step("update_by_key: exactly one backend call, no hooks, no read");
    int runs = hooks.runs;
    before = backend_calls(client);
    dx_member bump[] = {{"age", 3, dx_vn("38")}};
    e = dx_update_by_key(users, &key, bump, 1, NULL, &r);
    expect(e == DX_OK, r.message);
    say("backend calls: %llu, hooks run: %d",
        (unsigned long long)(backend_calls(client) - before), hooks.runs - runs);
    expect(backend_calls(client) - before == 1 && hooks.runs == runs, "one call, no hooks");

    step("skip hooks for one call");
    const char *v0 = dx_item_get(again, "version")->u.s;
    char ver_before[16];
    snprintf(ver_before, sizeof ver_before, "%s", v0);
    runs = hooks.runs;
    dx_op_opts skip = {.skip_hooks = DX_YES};
    e = dx_item_save(again, &skip, &r);
    say("saved with skip_hooks: version stays %s, hooks run: %d",
        dx_item_get(again, "version")->u.s, hooks.runs - runs);
    expect(e == DX_OK && hooks.runs == runs &&
               strcmp(ver_before, dx_item_get(again, "version")->u.s) == 0,
           "hooks skipped");

    step("ItemTooLarge: refused before any backend call");
    big = dx_item_new(users);
    dx_item_set_str(big, "user_id", "big", &r);
    dx_item_set_str(big, "email", "big@example.com", &r);
    size_t n = 500 * 1000;
    char *text = malloc(n + 1);
    if (text) {
        memset(text, 'x', n);
        text[n] = 0;
        dx_item_set_str(big, "name", text, &r);
        free(text);
    }
    before = backend_calls(client);
    dx_result_clear(&r);
    e = dx_item_save(big, NULL, &r);
    say("%s: %s (backend calls: %llu)", dx_err_name(e), r.message,
        (unsigned long long)(backend_calls(client) - before));
    expect(e == DX_ERR_ITEM_TOO_LARGE && backend_calls(client) == before, "ItemTooLarge, no call");

    step("ConditionalCheckFailed: create only if absent");
    dx_member nm = {"#id", 3, dx_vs("user_id")};
    dx_value names = dx_vmap(&nm, 1);
    dx_op_opts create_only = {.condition = "attribute_not_exists(#id)", .names = &names};
    dx_result_clear(&r);
    e = dx_item_save(again, &create_only, &r);
    say("%s: %s", dx_err_name(e), r.message);
    expect(e == DX_ERR_CONDITIONAL, "conditional check fails for an existing item");

    step("Plain JSON: to_dict and from_dict, with errors naming the field");
    say("to_dict: %s", dict(again));
    static const char *const inputs[] = {
        "{\"user_id\": \"bob\", \"email\": \"bob@example.com\", \"age\": \"41\", \"tags\": [\"x\"]}",
        "{\"user_id\": \"carol\"}",
        "{\"user_id\": \"dan\", \"email\": \"d@example.com\", \"age\": \"forty\"}",
        "{\"user_id\": \"erin\", \"email\": \"e@example.com\", \"tags\": [\"a\", \"a\"]}",
        "{\"user_id\": \"fay\", \"email\": \"f@example.com\", \"colour\": \"red\"}",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        dx_item *it = NULL;
        dx_result_clear(&r);
        e = dx_item_from_dict(users, inputs[i], strlen(inputs[i]), NULL, &it, &r);
        say("from_dict %s", inputs[i]);
        if (e) say("   -> %s (field \"%s\"): %s", dx_err_name(e), r.field, r.message);
        else say("   -> ok: %s", dict(it));
        expect((i == 0) == (e == DX_OK), "only the first input is valid");
        dx_item_free(it);
    }

    step("delete_by_key, then get finds nothing");
    before = backend_calls(client);
    e = dx_delete_by_key(users, &key, NULL, &r);
    expect(e == DX_OK && backend_calls(client) - before == 1, "one call");
    dx_model_get(users, &key, NULL, &got, &r);
    say("after delete_by_key: get -> %s", got ? "found (!)" : "not found");
    expect(got == NULL, "deleted");

    step("A model from a JSON model file");
    char path[512];
    snprintf(path, sizeof path, "%s/orders.json", models_dir);
    dx_result_clear(&r);
    e = dx_model_load(path, &orders, &r);
    expect(e == DX_OK, r.message);
    if (e) goto out;
    say("loaded %s: model %s, table %s, %zu attributes, sort key %s (ULID generated)", path,
        dx_model_name(orders), dx_model_config_get(orders)->table, dx_model_nattrs(orders),
        dx_model_range_key(orders)->name);
    dx_model_table_def(orders, &def);
    dx_create_table(client, &def, &r);
    static const char order_json[] = "{\"customer_id\": \"alice\", \"total\": 19.90, "
                                     "\"coupon_codes\": [\"WELCOME\"]}";
    e = dx_item_from_dict(orders, order_json, strlen(order_json), NULL, &order, &r);
    expect(e == DX_OK, r.message);
    if (order) {
        e = dx_item_save(order, NULL, &r);
        expect(e == DX_OK, r.message);
        say("saved order: %s", dict(order));
    }

out:
    dx_item_free(order);
    dx_item_free(big);
    dx_item_free(again);
    dx_item_free(alice);
    dx_model_free(orders);
    dx_model_free(users);
    dx_set_default_client(NULL);
    dx_client_free(client);
    dx_buf_free(&dict_buf);
    printf("\n%s\n", failures ? "demo: some steps did not behave as described (see !! above)"
                              : "demo: every step behaved as described");
    return failures ? 1 : 0;
}
