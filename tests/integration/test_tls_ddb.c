/*
 * test_tls_ddb.c - TLS through the DynamoDB backend against dynalite --ssl
 * (dynalite's own self-signed certificate): verification is on unless the
 * explicit `insecure` option turns it off, and with it off the request
 * reaches the server over HTTPS.
 *
 * This binary starts its own dynalite with --ssl (tests/support/proc.c) and
 * stops it by PID in the group teardown; the plain dynalite that
 * scripts/run-tests.sh starts for *_ddb binaries is not used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "dynox/ddb.h"
#include "dynox/dynox.h"
#include "proc.h"

static tp_proc server = {0, -1, -1};
static char url[128];

static int setup(void **state) {
    (void)state;
    return tp_dynalite_start(&server, true, url, sizeof url) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tp_stop(&server);
    return 0;
}

static dx_err describe(bool insecure, dx_result *r) {
    dx_ddb_opts o = {.endpoint_url = url, .region = "us-east-1", .access_key_id = "AKIDTLS",
                     .secret_access_key = "tls-secret", .insecure = insecure};
    dx_client_opts co = {.retry = {.max_attempts = 1}};
    dx_client *c = NULL;
    assert_int_equal(dx_ddb_client_new(&o, &co, &c, r), DX_OK);
    dx_arena a = {0};
    dx_table_desc d;
    dx_result_clear(r);
    dx_err e = dx_describe_table(c, "no_such_table", &a, &d, r);
    dx_arena_release(&a);
    dx_client_free(c);
    return e;
}

static void test_verification_on_by_default(void **state) {
    (void)state;
    dx_result r;
    assert_int_equal(strncmp(url, "https://", 8), 0);
    dx_err e = describe(false, &r);
    print_message("verification on: %s: %s\n", dx_err_name(e), r.message);
    assert_int_equal(e, DX_ERR_CONFIG); /* not retryable: a bad certificate stays bad */
    assert_false(dx_err_retryable(e));
    assert_int_equal(r.http_status, 0);
    assert_non_null(strstr(r.message, "certificate"));
}

static void test_insecure_reaches_server(void **state) {
    (void)state;
    dx_result r;
    dx_err e = describe(true, &r);
    assert_int_equal(e, DX_ERR_RESOURCE_NOT_FOUND);
    assert_int_equal(r.http_status, 400);
    assert_string_equal(r.type, "ResourceNotFoundException");
    assert_true(strlen(r.request_id) > 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verification_on_by_default),
        cmocka_unit_test(test_insecure_reaches_server),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
