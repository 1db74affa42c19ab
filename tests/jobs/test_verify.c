/*
 * test_verify.c - read-back comparisons and the deterministic sample.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "testutil.h"
#include "verify.h"

static dx_value item(dx_arena *a, const char *json) {
    dx_value v;
    dx_result r;
    dx_result_clear(&r);
    if (dx_decode_item(a, json, strlen(json), &v, &r) != DX_OK) {
        print_error("bad test item %s: %s\n", json, r.message);
        fail();
    }
    return v;
}

static void test_items(void **state) {
    (void)state;
    dx_arena a = {0};
    struct {
        const char *wrote, *read; /* read NULL: absent */
        bool ok;
        const char *what;
    } cases[] = {
        {"{\"id\":{\"S\":\"a\"},\"n\":{\"N\":\"1.50\"}}", "{\"n\":{\"N\":\"1.5\"},\"id\":{\"S\":\"a\"}}", true, ""},
        {"{\"id\":{\"S\":\"a\"},\"s\":{\"SS\":[\"x\",\"y\"]}}", "{\"id\":{\"S\":\"a\"},\"s\":{\"SS\":[\"y\",\"x\"]}}", true, ""},
        {"{\"id\":{\"S\":\"a\"},\"n\":{\"N\":\"3\"}}", "{\"id\":{\"S\":\"a\"},\"n\":{\"N\":\"4\"}}", false, "attribute n: wrote 3, read 4"},
        {"{\"id\":{\"S\":\"a\"},\"n\":{\"N\":\"3\"}}", "{\"id\":{\"S\":\"a\"}}", false, "attribute n: wrote 3, read nothing"},
        {"{\"id\":{\"S\":\"a\"}}", "{\"id\":{\"S\":\"a\"},\"x\":{\"S\":\"extra\"}}", false, "attribute x: not written, read \"extra\""},
        {"{\"id\":{\"S\":\"a\"}}", NULL, false, "item missing"},
        {"{\"id\":{\"S\":\"a\"},\"n\":{\"N\":\"3\"}}", "{\"id\":{\"S\":\"a\"},\"n\":{\"S\":\"3\"}}", false, "attribute n: wrote 3, read \"3\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dx_value w = item(&a, cases[i].wrote), rd;
        if (cases[i].read) rd = item(&a, cases[i].read);
        char what[160] = "";
        bool ok = dxj_verify_item(&w, cases[i].read ? &rd : NULL, what, sizeof what);
        assert_row_int_equal(i, ok, cases[i].ok);
        if (!cases[i].ok) assert_row_string_equal(i, what, cases[i].what);
    }
    dx_arena_release(&a);
}

static void test_fields_and_absent(void **state) {
    (void)state;
    dx_arena a = {0};
    dx_value rd = item(&a, "{\"id\":{\"S\":\"a\"},\"score\":{\"N\":\"7\"},\"old\":{\"S\":\"x\"}}");
    dx_member f_ok[2] = {{"score", 5, dx_vn("7.0")}, {"gone", 4, {0}}};
    char what[160] = "";
    assert_true(dxj_verify_fields(f_ok, 2, &rd, what, sizeof what));
    dx_member f_bad[1] = {{"score", 5, dx_vn("8")}};
    assert_false(dxj_verify_fields(f_bad, 1, &rd, what, sizeof what));
    assert_string_equal(what, "attribute score: wrote 8, read 7");
    dx_member f_rm[1] = {{"old", 3, {0}}};
    assert_false(dxj_verify_fields(f_rm, 1, &rd, what, sizeof what));
    assert_string_equal(what, "attribute old: should be absent, read \"x\"");
    assert_false(dxj_verify_fields(f_ok, 2, NULL, what, sizeof what));
    assert_string_equal(what, "item missing");
    assert_true(dxj_verify_absent(NULL, what, sizeof what));
    assert_false(dxj_verify_absent(&rd, what, sizeof what));
    assert_string_equal(what, "item still exists");
    dx_arena_release(&a);
}

static void test_value_text(void **state) {
    (void)state;
    char out[12];
    dx_value v = dx_vs("abcdefghijklmnop");
    dxj_value_text(&v, out, sizeof out);
    assert_string_equal(out, "\"abcdefg...");
    dxj_value_text(NULL, out, sizeof out);
    assert_string_equal(out, "absent");
}

static void test_sample(void **state) {
    (void)state;
    size_t hit = 0;
    for (uint64_t i = 1; i <= 100000; i++) {
        bool s = dxj_verify_sampled(i, 0.1);
        assert_true(s == dxj_verify_sampled(i, 0.1)); /* deterministic */
        hit += s;
        assert_true(dxj_verify_sampled(i, 1.0));
        assert_false(dxj_verify_sampled(i, 0.0));
    }
    assert_true(hit > 9500 && hit < 10500);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_fields_and_absent),
        cmocka_unit_test(test_value_text),
        cmocka_unit_test(test_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
