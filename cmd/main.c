/*
 * main.c - the dynox command: picks the command and hands argv to it.
 *
 *   dynox run JOB.json [OPTIONS]      run.c
 *   dynox validate JOB.json           run.c
 *   dynox get|put|delete              items.c
 *   dynox table create|describe|delete|dump   table.c
 *   dynox bench                       cmd_bench.c (parses its own options)
 *   dynox version | help [COMMAND] | --help | --version
 *
 * Everything a command does is in its own file; the options are data in
 * opts.c and the help texts in help.c.
 *
 * Must never: do a command's work here.
 */
#include "cli.h"
#include "cmd_bench.h"

#include <stdio.h>
#include <string.h>

static const char *const commands[] = {"run",   "validate", "get",     "put", "delete",
                                       "table", "bench",    "version", "help"};

static int unknown_command(const char *name) {
    const char *best = dx_suggest(name, commands, sizeof commands / sizeof commands[0], 2);
    if (best) {
        fprintf(stderr, "dynox: unknown command '%s' (did you mean '%s'?)\n", name, best);
    } else {
        fprintf(stderr, "dynox: unknown command '%s'\n", name);
    }
    fprintf(stderr, "Try 'dynox --help'.\n");
    return CLI_EXIT_USAGE;
}

static int table_usage(FILE *f) {
    fprintf(f, "Usage: dynox table create|describe|delete|dump --model FILE [OPTIONS]\n"
               "\n"
               "  table create      create the model's table (on-demand, or --rcu/--wcu)\n"
               "  table describe    print the table's description as JSON\n"
               "  table delete      delete the table (asks for its name, or --yes)\n"
               "  table dump        print the table as DynamoDB JSON lines, sorted by key\n"
               "\n"
               "'dynox table SUBCOMMAND --help' lists its options.\n");
    return f == stdout ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

static int help(int argc, char **argv) {
    if (argc < 3) {
        cli_help(stdout, 0);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[2], "table") == 0 && argc < 4) return table_usage(stdout);
    if (strcmp(argv[2], "bench") == 0) {
        char *args[] = {argv[2], "--help", NULL};
        return cli_bench_main(2, args);
    }
    cli_cmd c = cli_cmd_from_name(argv[2], argc > 3 ? argv[3] : NULL);
    if (!c) {
        if (strcmp(argv[2], "version") == 0 || strcmp(argv[2], "help") == 0) {
            cli_help(stdout, 0);
            return CLI_EXIT_OK;
        }
        return unknown_command(argv[2]);
    }
    cli_help(stdout, c);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cli_help(stderr, 0);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0)
        return help(argc, argv);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        if (argc > 2 && strcmp(cmd, "version") == 0 &&
            (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            printf("Usage: dynox version\n\nPrints the version of dynox.\n");
            return CLI_EXIT_OK;
        }
        printf("dynox %s\n", DYNOX_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "run") == 0) return cli_cmd_run(argc, argv, 2);
    if (strcmp(cmd, "validate") == 0) return cli_cmd_validate(argc, argv, 2);
    if (strcmp(cmd, "get") == 0) return cli_cmd_item(CLI_GET, argc, argv, 2);
    if (strcmp(cmd, "put") == 0) return cli_cmd_item(CLI_PUT, argc, argv, 2);
    if (strcmp(cmd, "delete") == 0) return cli_cmd_item(CLI_DELETE, argc, argv, 2);
    if (strcmp(cmd, "bench") == 0) return cli_bench_main(argc - 1, argv + 1);
    if (strcmp(cmd, "table") == 0) {
        if (argc < 3) return table_usage(stderr);
        const char *sub = argv[2];
        if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) return table_usage(stdout);
        cli_cmd c = cli_cmd_from_name("table", sub);
        if (!c) {
            fprintf(stderr,
                    "dynox table: unknown subcommand '%s' (create, describe, delete or dump)\n",
                    sub);
            fprintf(stderr, "Try 'dynox table --help'.\n");
            return CLI_EXIT_USAGE;
        }
        return cli_cmd_table(c, argc, argv, 3);
    }
    if (cmd[0] == '-') {
        fprintf(stderr, "dynox: %s before a command: options go after it (dynox run JOB.json %s)\n",
                cmd, cmd);
        fprintf(stderr, "Try 'dynox --help'.\n");
        return CLI_EXIT_USAGE;
    }
    return unknown_command(cmd);
}
