/*
 * conformance.h - one behaviour suite for every backend.
 *
 * The suite speaks only the public client API (dx_client_call, dx_engine_*,
 * dx_create_table, ...), so the same tests run against the memory backend
 * and against a DynamoDB-compatible server (dynalite) through the HTTP
 * backend. Every test creates its own tables with unique names
 * ("dynox_cf_<pid>_<n>_<tag>"), waits for them to be ACTIVE and deletes them
 * afterwards. Nothing here tests what dynalite does not do (simulated
 * capacity, transactions).
 */
#ifndef DYNOX_CONFORMANCE_H
#define DYNOX_CONFORMANCE_H

#include "dynox/client.h"

/*
 * Runs the suite as one cmocka group named group_name. make_client is called
 * once before the first test (NULL fails the group); the client is freed
 * after the last. Returns the number of failed tests (cmocka's result).
 */
int conformance_run(const char *group_name, dx_client *(*make_client)(void));

#endif
