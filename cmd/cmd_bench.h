/*
 * cmd_bench.h - `dynox bench`: measure an operation against a table.
 *
 * The command parses its own options (see `dynox bench --help`), runs
 * dxj_bench_run (jobs/bench.h) and prints the result for people or, with
 * --json, for scripts.
 */
#ifndef DYNOX_CMD_BENCH_H
#define DYNOX_CMD_BENCH_H

/*
 * Runs `dynox bench`: argv[0] is "bench", the options follow. Returns the
 * exit code: 0 done (every item succeeded), 1 done with failed items or an
 * incomplete clean-up, 2 usage error or a table that holds data (nothing
 * written), 3 fatal error during the run.
 */
int cli_bench_main(int argc, char **argv);

#endif
