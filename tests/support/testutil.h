/*
 * testutil.h - small helpers shared by the cmocka tests.
 *
 * cmocka stops at the first failed assertion without saying which row of a
 * table-driven test failed; these print the row only when it fails, so a
 * passing run stays quiet. Include after <cmocka.h>.
 */
#ifndef DYNOX_TESTUTIL_H
#define DYNOX_TESTUTIL_H

#include <stdio.h>

/* Fails the test, naming the row, when a != b (integers). */
#define assert_row_int_equal(row, a, b)                                                      \
    do {                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                \
        if (a_ != b_) {                                                                    \
            print_error("row %lld: %s == %lld, expected %lld\n", (long long)(row), #a, a_, b_); \
            fail();                                                                        \
        }                                                                                  \
    } while (0)

/* Fails the test, naming the row, when strings differ. */
#define assert_row_string_equal(row, a, b)                                                 \
    do {                                                                                   \
        const char *a_ = (a), *b_ = (b);                                                   \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                           \
            print_error("row %lld: %s == \"%s\", expected \"%s\"\n", (long long)(row), #a,  \
                        a_ ? a_ : "(null)", b_ ? b_ : "(null)");                           \
            fail();                                                                        \
        }                                                                                  \
    } while (0)

/* Fails the test, naming the row, when cond is false. */
#define assert_row_true(row, cond)                                                          \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            print_error("row %lld: expected %s\n", (long long)(row), #cond);               \
            fail();                                                                        \
        }                                                                                  \
    } while (0)

#endif
