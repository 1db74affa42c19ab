/*
 * test_size.c - lib/size.c: number sizes (checked against dynalite 4.0.0's
 * valSize run on big.js 6.2.1), value sizes for every type including nested
 * lists, maps and sets, item sizes and capacity units.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "dynox/size.h"
#include "testutil.h"
#include "value_text.h"

#define D38 "12345678901234567890123456789012345678"

static void test_num_size(void **state) {
    (void)state;
    /* Expected sizes are valSize's output for the same text. */
    static const struct {
        const char *in;
        size_t size;
    } rows[] = {
        {"0", 1},
        {"-0", 1},
        {"0.000", 1},
        {"0e50", 1},
        {"1", 2},
        {"-1", 3},
        {"9", 2},
        {"10", 2},
        {"100", 2},
        {"1000000", 2},
        {"123", 3},
        {"1234", 3},
        {"12345", 4},
        {"1.5", 3},
        {"-1.5", 4},
        {"0.1", 2},
        {"0.01", 2},
        {"0.001", 2},
        {"0.12", 2},  /* even digits, odd exponent (-1): no extra byte */
        {"0.123", 3},
        {"1.23", 3},
        {"12.3", 3},
        {"-12.34", 4},
        {"99", 2},
        {"-99", 3},
        {"100.5", 4},
        {"1e125", 2},
        {"9.9999999999999999999999999999999999999e125", 20},
        {"1e-130", 2},
        {"-1e-130", 3},
        {"1.1e-130", 3}, /* even digits, even negative exponent */
        {D38, 20},
        {"-" D38, 21},
        {D38 "0", 21},
        {"0.000" D38, 21},
        {"0.0" D38, 21},
        {"1.50", 3}, /* trailing zeros are not stored */
        {"00012", 2},
        {"12e3", 3},
        {"1.2e-3", 2},
        {"0.5", 2},
        {"5", 2},
        {"55", 2},
        {"555", 3},
        {"5555", 3},
        {"0.55", 2},
        {"0.055", 3},
        {"-0.0055", 3},
        {"1234567.1", 6},
        {"-1234567.12", 7},
        /* invalid numbers are sized by their text */
        {"abc", 3},
        {"1e126", 5},
        {"1e-131", 6},
        {"123456789012345678901234567890123456789", 39},
        {" 1", 2},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t got = dx_num_size(rows[i].in, strlen(rows[i].in));
        if (got != rows[i].size) print_error("row %zu [%s]\n", i, rows[i].in);
        assert_row_int_equal(i, got, rows[i].size);
        dx_value v = dx_vn(rows[i].in);
        assert_row_int_equal(i, dx_value_size(&v), rows[i].size);
    }
}

static void test_value_size(void **state) {
    (void)state;
    static const struct {
        const char *v;
        size_t size;
    } rows[] = {
        {"S'abc'", 3},
        {"S''", 0},
        {"S'caf\\xc3\\xa9'", 5},          /* UTF-8 bytes, not characters */
        {"S'\\xf0\\x9f\\x98\\x80'", 4},   /* one emoji: 4 bytes (dynalite's JS would say 2) */
        {"B'\\x00\\x01'", 2},
        {"B''", 0},
        {"T", 1},
        {"F", 1},
        {"Z", 1},
        {"N'-1.5'", 4},
        {"?", 0},
        /* lists: 3 + (1 + element) each */
        {"L[]", 3},
        {"L[S'a']", 5},
        {"L[N'1', S'ab']", 9},
        {"L[T, F, Z]", 9},
        {"L[L[]]", 7},
        {"L[L[L[]]]", 11},
        {"L[S'', S'']", 5},
        /* maps: 3 + one per member + name bytes + value */
        {"M{}", 3},
        {"M{'a': S'b'}", 6},
        {"M{'ab': L[T]}", 11},
        {"M{'m': M{'x': N'0'}}", 11},
        {"M{'a': T, 'bb': F, 'ccc': Z}", 3 + 3 + 6 + 3},
        {"M{'': S''}", 4},
        {"M{'caf\\xc3\\xa9': S'x'}", 3 + 1 + 5 + 1},
        /* sets: the sum of their members */
        {"SS[S'a', S'bc']", 3},
        {"NS[N'1', N'-1', N'123']", 8},
        {"NS[N'0']", 1},
        {"BS[B'xyz']", 3},
        {"SS[]", 0},
        /* everything nested */
        {"L[M{'k': SS[S'ab', S'c']}, NS[N'10', N'1.5'], BS[B'q']]",
         3 + (1 + (3 + 1 + 1 + 3)) + (1 + (2 + 3)) + (1 + 1)},
        {"M{'a': L[M{'b': L[N'12345']}]}",
         3 + 1 + 1 + (3 + 1 + (3 + 1 + 1 + (3 + 1 + 4)))},
    };
    dx_arena a = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_value v;
        assert_row_true(i, vt_parse(&a, rows[i].v, &v));
        size_t got = dx_value_size(&v);
        if (got != rows[i].size) print_error("row %zu [%s]: %zu\n", i, rows[i].v, got);
        assert_row_int_equal(i, got, rows[i].size);
    }
    assert_int_equal(dx_value_size(NULL), 0);
    dx_arena_release(&a);
}

static void test_item_size(void **state) {
    (void)state;
    dx_arena a = {0};
    static const struct {
        const char *item;
        size_t size;
    } rows[] = {
        {"M{}", 0},
        {"M{'id': S'abc'}", 5},
        {"M{'id': S'abc', 'n': N'12'}", 2 + 3 + 1 + 2},
        {"M{'pk': S'user#1', 'tags': SS[S'a', S'b'], 'm': M{'x': T}}",
         2 + 6 + 4 + 2 + 1 + (3 + 1 + 1 + 1)},
        {"M{'l': L[N'1', N'-1']}", 1 + 3 + 3 + 4},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dx_value v;
        assert_row_true(i, vt_parse(&a, rows[i].item, &v));
        assert_row_int_equal(i, dx_item_size(&v), rows[i].size);
        /* an item is a map without the map's own overhead */
        assert_row_int_equal(i, dx_value_size(&v), rows[i].size + 3 + v.n);
    }
    /* exactly at DynamoDB's limit */
    char *big = malloc(DX_MAX_ITEM_SIZE);
    assert_non_null(big);
    memset(big, 'x', DX_MAX_ITEM_SIZE);
    dx_member m[] = {{"data", 4, dx_vsn(big, DX_MAX_ITEM_SIZE - 4)}};
    dx_value item = dx_vmap(m, 1);
    assert_int_equal(dx_item_size(&item), DX_MAX_ITEM_SIZE);
    m[0].value.n++;
    assert_int_equal(dx_item_size(&item), DX_MAX_ITEM_SIZE + 1);
    free(big);
    /* not a map: the value's size; NULL: 0 */
    dx_value s = dx_vs("abc");
    assert_int_equal(dx_item_size(&s), 3);
    assert_int_equal(dx_item_size(NULL), 0);
    dx_arena_release(&a);
}

static void test_capacity_units(void **state) {
    (void)state;
    static const struct {
        size_t bytes;
        double write, read_consistent, read_eventual;
    } rows[] = {
        {0, 1, 1, 0.5},          {1, 1, 1, 0.5},         {1023, 1, 1, 0.5},
        {1024, 1, 1, 0.5},       {1025, 2, 1, 0.5},      {2048, 2, 1, 0.5},
        {4096, 4, 1, 0.5},       {4097, 5, 2, 1},        {8192, 8, 2, 1},
        {8193, 9, 3, 1.5},       {409600, 400, 100, 50}, {409601, 401, 101, 50.5},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_row_true(i, dx_write_units(rows[i].bytes) == rows[i].write);
        assert_row_true(i, dx_read_units(rows[i].bytes, true) == rows[i].read_consistent);
        assert_row_true(i, dx_read_units(rows[i].bytes, false) == rows[i].read_eventual);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_num_size),
        cmocka_unit_test(test_value_size),
        cmocka_unit_test(test_item_size),
        cmocka_unit_test(test_capacity_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
