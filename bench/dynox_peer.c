/*
 * dynox_peer.c - dynox's side of `make bench-peers` (bench/peers/run.py):
 * one `dynox bench` run (jobs/bench.h) against an endpoint, with the same
 * start/stop handshake as the boto3 and JavaScript peers, so that the
 * harness measures every client's CPU the same way, from outside.
 *
 * Handshake (with --handshake): when the measured part is about to start
 * it prints "ready" and waits for a line on stdin; when it has ended it
 * prints "done" and waits for another line. The harness reads the process's
 * CPU time from /proc between the two. The result follows as one JSON line
 * (dxj_bench_json) prefixed "result ".
 *
 * Credentials, region and endpoint come from the environment as for the CLI
 * (the harness sets dummy keys; the local endpoints do not check them).
 *
 * With no arguments (`make bench` runs every program in bench/) it says what
 * it is for and exits 0.
 *
 * Must never: be the thing measured for anything but dynox's own work (set-up
 * and clean-up happen outside the handshake).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "dynox/dynox.h"

static bool handshake;

static void wait_line(void) {
    char line[64];
    if (!fgets(line, sizeof line, stdin)) exit(3);
}

static void on_phase(dxj_bench_phase ph, uint32_t inflight, void *ud) {
    (void)inflight;
    (void)ud;
    if (!handshake) return;
    if (ph == DXJ_BENCH_PHASE_START) {
        printf("ready\n");
        fflush(stdout);
        wait_line();
    } else if (ph == DXJ_BENCH_PHASE_END) {
        printf("done\n");
        fflush(stdout);
        wait_line();
    }
}

static void on_log(const char *msg, void *ud) {
    (void)ud;
    fprintf(stderr, "dynox_peer: %s\n", msg);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        printf("dynox_peer: dynox's client for `make bench-peers` (bench/peers/run.py); nothing to "
               "measure on its own\n");
        return 0;
    }
    dxj_bench_opts o;
    memset(&o, 0, sizeof o);
    o.dynamodb = true;
    o.rate.adaptive = true;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--endpoint") == 0 && v) {
            o.endpoint = v;
            i++;
        } else if (strcmp(a, "--table") == 0 && v) {
            o.table = v;
            i++;
        } else if (strcmp(a, "--op") == 0 && v) {
            int op = dxj_bench_op_from_name(v);
            if (op < 0) {
                fprintf(stderr, "dynox_peer: unknown --op %s\n", v);
                return 2;
            }
            o.op = (dxj_bench_op)op;
            i++;
        } else if (strcmp(a, "--items") == 0 && v) {
            o.items = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--workers") == 0 && v) {
            o.workers = (uint32_t)atoi(v);
            i++;
        } else if (strcmp(a, "--in-flight") == 0 && v) {
            o.inflight = (uint32_t)atoi(v);
            i++;
        } else if (strcmp(a, "--item-bytes") == 0 && v) {
            o.item_bytes = (uint32_t)atoi(v);
            i++;
        } else if (strcmp(a, "--wcu") == 0 && v) {
            o.table_wcu = atof(v);
            i++;
        } else if (strcmp(a, "--keep") == 0) {
            o.keep = true;
        } else if (strcmp(a, "--no-capacity-hint") == 0) {
            o.no_capacity_hint = true;
        } else if (strcmp(a, "--no-adaptive") == 0) {
            o.rate.adaptive = false;
        } else if (strcmp(a, "--handshake") == 0) {
            handshake = true;
        } else if (strcmp(a, "-q") == 0) {
            quiet = true;
        } else {
            fprintf(stderr, "dynox_peer: unknown argument %s\n", a);
            return 2;
        }
    }
    dx_env env = dx_env_process();
    o.env = &env;
    o.phase = on_phase;
    if (!quiet) o.log = on_log;
    dxj_bench_result res;
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dxj_bench_run(&o, &res, &r);
    if (e != DX_OK) {
        fprintf(stderr, "dynox_peer: %s\n", r.message[0] ? r.message : dx_strerror(e));
        return 3;
    }
    dx_buf b = {0};
    if (dxj_bench_json(&res, &b) != DX_OK) return 3;
    printf("result %s\n", b.ptr);
    dx_buf_free(&b);
    return res.points[0].failed ? 1 : 0;
}
