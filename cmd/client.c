/*
 * client.c - the backend the item and table commands talk to.
 *
 * DynamoDB is found the way the AWS CLI finds it (dynox/creds.h, through
 * dx_ddb_opts_from_env: --region/--endpoint/--profile first, then the
 * environment and the shared config files); the memory backend is a fresh
 * in-process table, optionally seeded from DynamoDB JSON lines, which makes
 * `dynox get/put/delete --backend memory` a safe place to try things. The
 * options become a backend section (jobs/backend.h), so the client is built
 * and a seed loaded exactly as `dynox run` does for a job file's backend.
 *
 * Must never: print a credential. The description of where the client
 * points (for -v) names sources ("AWS_REGION"), never secrets.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "backend.h"

void cli_region(const char *region_opt, const char *profile, char *out, size_t n) {
    dx_env env = dx_env_process();
    dx_aws_opts aws;
    memset(&aws, 0, sizeof aws);
    aws.region = region_opt;
    aws.profile = profile;
    dx_aws_settings st;
    dx_result r;
    dx_result_clear(&r);
    if (dx_aws_resolve(&env, &aws, &st, &r) == DX_OK) {
        snprintf(out, n, "%s", st.region);
    } else {
        snprintf(out, n, "%s", region_opt ? region_opt : "");
    }
}

/* ---------------------------------------------------------------- open */

/* The connection part of a backend section, from the options (the seed is fill_memory's). */
static dxj_backend_spec backend_of(const cli_config *cfg, bool memory) {
    dxj_backend_spec b;
    memset(&b, 0, sizeof b);
    b.type = memory ? DXJ_BACKEND_MEMORY : DXJ_BACKEND_DYNAMODB;
    b.endpoint = (char *)cfg->endpoint;
    b.region = (char *)cfg->region;
    b.profile = (char *)cfg->profile;
    b.insecure = cfg->insecure;
    return b;
}

/* The model's table on a fresh memory backend, then --seed. */
static int fill_memory(const cli_config *cfg, const dx_model *m, dx_client *c, char *where,
                       size_t wn) {
    dx_result r;
    dx_result_clear(&r);
    dx_table_def def;
    dx_model_table_def(m, &def);
    dx_err e = dx_create_table(c, &def, &r);
    if (e) {
        cli_err_result(cfg, "memory backend", e, &r);
        return CLI_EXIT_FATAL;
    }
    size_t l = strlen(where);
    snprintf(where + l, wn - l, " (table %s)", def.name);
    if (cfg->seed) {
        uint64_t count = 0;
        dx_result_clear(&r);
        if ((e = dxj_seed_load(c, def.name, cfg->seed, &count, &r)) != DX_OK) {
            cli_err_result(cfg, "--seed", e, &r);
            return CLI_EXIT_USAGE;
        }
        l = strlen(where);
        snprintf(where + l, wn - l, ", %llu items from %s", (unsigned long long)count, cfg->seed);
    }
    return 0;
}

int cli_client_open(const cli_config *cfg, const dx_model *m, dx_client **out, char *where,
                    size_t wn) {
    *out = NULL;
    bool memory = cfg->backend && strcmp(cfg->backend, "memory") == 0;
    if (!memory && (cfg->seed || cfg->dump)) {
        cli_err(cfg, "--%s needs --backend memory (it loads or writes the in-memory table)",
                cfg->seed ? "seed" : "dump");
        cli_try_help(cfg);
        return CLI_EXIT_USAGE;
    }
    if (memory && (cfg->endpoint || cfg->region || cfg->profile || cfg->insecure)) {
        cli_err(cfg, "--endpoint, --region, --profile and --insecure are for --backend dynamodb");
        cli_try_help(cfg);
        return CLI_EXIT_USAGE;
    }
    dxj_backend_spec b = backend_of(cfg, memory);
    dxj_backend_conn conn;
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dxj_backend_open(&conn, &b, false, NULL, &r);
    dx_client *c = NULL;
    if (!e) {
        dxj_backend_describe(&conn, where, wn);
        e = dxj_backend_client(&conn, NULL, &c, &r); /* takes the credentials over */
    }
    dxj_backend_close(&conn);
    if (e) {
        cli_err_result(cfg, memory ? "memory backend" : "DynamoDB", e, &r);
        return e == DX_ERR_CONFIG ? CLI_EXIT_USAGE : CLI_EXIT_FATAL;
    }
    int rc = memory ? fill_memory(cfg, m, c, where, wn) : 0;
    if (rc) {
        dx_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}
