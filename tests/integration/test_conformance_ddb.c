/*
 * test_conformance_ddb.c - the backend conformance suite
 * (tests/support/conformance.c) through the DynamoDB backend, against the
 * endpoint in DYNOX_TEST_ENDPOINT: dynalite, started and stopped by
 * scripts/run-tests.sh for binaries whose names end in _ddb. Dummy
 * credentials and region us-east-1, as for any local endpoint (dynalite
 * checks that a signature is well formed, not that it is right).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "conformance.h"
#include "dynox/ddb.h"

static dx_client *make_client(void) {
    const char *ep = getenv("DYNOX_TEST_ENDPOINT");
    if (!ep || !*ep) {
        fprintf(stderr, "DYNOX_TEST_ENDPOINT is not set: run through scripts/run-tests.sh "
                        "(make test), which starts dynalite\n");
        return NULL;
    }
    dx_ddb_opts o = {.endpoint_url = ep, .region = "us-east-1", .access_key_id = "AKIDLOCAL",
                     .secret_access_key = "local-secret-not-checked", .timeout_ms = 10000,
                     .max_idle_ms = 4000}; /* dynalite drops connections idle for 5 s */
    dx_client_opts co = {.retry = {.max_attempts = 5, .base_ms = 5, .max_ms = 200}, .seed = 1};
    dx_client *c = NULL;
    dx_result r;
    dx_result_clear(&r);
    if (dx_ddb_client_new(&o, &co, &c, &r) != DX_OK) {
        fprintf(stderr, "dx_ddb_client_new(%s): %s\n", ep, r.message);
        return NULL;
    }
    return c;
}

int main(void) { return conformance_run("conformance_ddb", make_client); }
