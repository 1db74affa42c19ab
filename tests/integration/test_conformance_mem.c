/*
 * test_conformance_mem.c - the backend conformance suite on the memory
 * backend (tests/support/conformance.c), with default options and with a
 * single shard and simulated capacity on (tables are on-demand, so it must
 * change nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conformance.h"
#include "dynox/dynox.h"

static dx_client *make_default(void) {
    dx_client *c = NULL;
    return dx_mem_client_new(NULL, NULL, &c) == DX_OK ? c : NULL;
}

static dx_client *make_one_shard(void) {
    dx_mem_opts o = {.shards = 1, .simulate_capacity = true};
    dx_client_opts co = {.seed = 42};
    dx_client *c = NULL;
    return dx_mem_client_new(&o, &co, &c) == DX_OK ? c : NULL;
}

int main(void) {
    int failed = conformance_run("conformance/memory", make_default);
    failed += conformance_run("conformance/memory-1-shard", make_one_shard);
    return failed ? 1 : 0;
}
