/*
 * help.c - what `dynox --help` and `dynox COMMAND --help` print.
 *
 * Each command's help says what it does, lists every option it takes with
 * its default (from the option table in opts.c, so the list cannot go
 * stale), gives a few real examples (the ones in samples/ work as written
 * from the repository root) and says where exit codes are documented. The
 * texts are compared byte for byte with tests/cmd/golden/help-*.txt:
 * DYNOX_UPDATE_GOLDEN=1 rewrites those after a deliberate change.
 *
 * Must never: describe an option or a default that the code does not have.
 */
#include "cli.h"

#include <string.h>

typedef struct cmd_help {
    cli_cmd cmd;
    const char *name;
    const char *usage;
    const char *about;
    const char *examples;
    const char *exits;
} cmd_help;

static const char exit_codes_run[] =
    "Exit codes:\n"
    "  0  every row was written\n"
    "  1  finished, but some rows were rejected or failed, or --verify found\n"
    "     mismatches\n"
    "  2  usage, job file or model error: nothing was written\n"
    "  3  fatal error during the run (the summary and report say what was done),\n"
    "     or the report's accounting did not add up (a bug: please report it)\n"
    "  130, 143  stopped by SIGINT / SIGTERM after finishing the rows in flight\n"
    "See README.md, \"Exit codes\".\n";

static const char exit_codes_item[] =
    "Exit codes: 0 done; 1 no such item (get) or the condition was not met (put,\n"
    "delete); 2 usage, model or input error: nothing was written; 3 the backend\n"
    "failed (network, credentials, missing table). See README.md, \"Exit codes\".\n";

static const char exit_codes_table[] =
    "Exit codes: 0 done; 2 usage or model error, or not confirmed; 3 the backend\n"
    "failed (network, credentials, missing or existing table). See README.md,\n"
    "\"Exit codes\".\n";

static const cmd_help helps[] = {
    {CLI_RUN, "run", "dynox run JOB.json [OPTIONS]",
     "Runs a job: reads its input (CSV or JSON lines, plain or zstd-compressed, a file\n"
     "or standard input), maps each row to an item of the job's model and applies the\n"
     "operation (put, update_by_key, delete_by_key, get_save, get_update, get_delete)\n"
     "to the table. Options override the job file (README.md, \"Job files\").\n"
     "\n"
     "Every input row ends up written, rejected (bad input, or a condition it did not\n"
     "meet: --rejects) or failed (gave up after retries: --failures); both files are\n"
     "valid inputs for a re-run. On a terminal a progress line shows rows/s, counts,\n"
     "throttles and the time left; a summary follows unless -q. Deleting operations on\n"
     "a real table ask you to type the table name, or need --yes. Ctrl-C stops\n"
     "reading, finishes the rows in flight and writes the report; rows read but not\n"
     "sent are not started (in no file): with --checkpoint, --resume does them. A\n"
     "second Ctrl-C quits at once.\n",
     "Examples:\n"
     "  # Dry run on the memory backend: seed the table, run, dump it (see the job)\n"
     "  dynox run samples/jobs/dry-run.json\n"
     "\n"
     "  # The nightly update against DynamoDB, 4 workers, at most 200 write units/s\n"
     "  dynox run samples/jobs/nightly-update.json --workers 4 --max-wcu 200 \\\n"
     "      --report report.json --rejects rejects.jsonl\n"
     "\n"
     "  # Try a real job on memory first, seeded from a dump, to see what it would do\n"
     "  dynox run samples/jobs/cleanup.json --dry-run \\\n"
     "      --seed samples/data/seed-users.jsonl --dump after.jsonl\n"
     "\n"
     "  # Shard 3 of 8 with a checkpoint; after a crash, run it again with --resume\n"
     "  dynox run samples/jobs/migrate.json --shard 3/8 --checkpoint migrate-3.ckpt\n",
     exit_codes_run},
    {CLI_VALIDATE, "validate", "dynox validate JOB.json [OPTIONS]",
     "Checks a job without writing anything: the job file, its model, and the first\n"
     "rows of its input (read and mapped exactly as `dynox run` would). Prints each\n"
     "row that would be rejected with its file, line, field and reason.\n",
     "Examples:\n"
     "  dynox validate samples/jobs/nightly-update.json\n"
     "  dynox validate samples/jobs/migrate.json --rows 1000\n"
     "  dynox validate samples/jobs/nightly-update.json --input tonight.csv\n",
     "Exit codes: 0 every row read maps; 1 some rows would be rejected; 2 the job\n"
     "file, the model or the input cannot be used. See README.md, \"Exit codes\".\n"},
    {CLI_GET, "get", "dynox get --model FILE --key JSON [OPTIONS]",
     "Reads one item by its key and prints it as plain JSON (or DynamoDB JSON with\n"
     "--ddb-json) on standard output. Runs the model's after_load hooks unless\n"
     "--skip-hooks. The backend is DynamoDB, found from the environment as the AWS CLI\n"
     "finds it (or --endpoint, --region, --profile), unless --backend memory.\n",
     "Examples:\n"
     "  dynox get --model samples/models/users.json --key '{\"user_id\":\"u0001\"}'\n"
     "  dynox get -m samples/models/orders.json --consistent-read \\\n"
     "      --key '{\"customer_id\":\"c001\",\"order_id\":\"01JDX001A00000000000000001\"}'\n"
     "  dynox get -m samples/models/users.json --backend memory --ddb-json \\\n"
     "      --seed samples/data/seed-users.jsonl --key '{\"user_id\":\"u0002\"}'\n",
     exit_codes_item},
    {CLI_PUT, "put", "dynox put --model FILE --item JSON [OPTIONS]",
     "Writes one item (a full replace, PutItem). The item is plain JSON typed by the\n"
     "model; attributes it leaves out get the model's defaults and generators. Runs\n"
     "the model's before_save hooks (set_now, bump_version, validate) unless\n"
     "--skip-hooks, and prints the item as written.\n",
     "Examples:\n"
     "  dynox put -m samples/models/users.json \\\n"
     "      --item '{\"user_id\":\"u9001\",\"email\":\"new@example.com\",\"age\":30}'\n"
     "  # Only if it does not exist yet\n"
     "  dynox put -m samples/models/users.json \\\n"
     "      --condition 'attribute_not_exists(#user_id)' \\\n"
     "      --item '{\"user_id\":\"u9001\",\"email\":\"new@example.com\"}'\n"
     "  # Try it on memory and look at the table afterwards\n"
     "  dynox put -m samples/models/users.json --backend memory --dump - \\\n"
     "      --item '{\"user_id\":\"u1\",\"email\":\"a@example.com\"}'\n",
     exit_codes_item},
    {CLI_DELETE, "delete", "dynox delete --model FILE --key JSON [OPTIONS]",
     "Deletes one item by its key. When the model has before_delete or after_delete\n"
     "hooks (and not --skip-hooks), the item is read first so the hooks see it;\n"
     "otherwise it is one DeleteItem. Deleting an item that does not exist is not an\n"
     "error unless a --condition says so.\n",
     "Examples:\n"
     "  dynox delete -m samples/models/users.json --key '{\"user_id\":\"u0001\"}'\n"
     "  dynox delete -m samples/models/users.json --key '{\"user_id\":\"u0001\"}' \\\n"
     "      --condition '#active = :no' --values '{\":no\":false}'\n",
     exit_codes_item},
    {CLI_TABLE_CREATE, "table create", "dynox table create --model FILE [OPTIONS]",
     "Creates the model's table with the model's key schema: on-demand capacity, or\n"
     "provisioned with --rcu and --wcu. Prints the new table's description as JSON.\n",
     "Examples:\n"
     "  dynox table create -m samples/models/users.json\n"
     "  dynox table create -m samples/models/orders.json --rcu 5 --wcu 5 \\\n"
     "      --endpoint http://127.0.0.1:8000 --region us-east-1\n",
     exit_codes_table},
    {CLI_TABLE_DESCRIBE, "table describe", "dynox table describe --model FILE [OPTIONS]",
     "Prints the model's table as JSON: key schema, status, item count, size,\n"
     "capacity mode and units, and whether point-in-time recovery is on.\n",
     "Examples:\n"
     "  dynox table describe -m samples/models/users.json\n"
     "  dynox table describe -m samples/models/users.json --profile prod \\\n"
     "      --region eu-west-1\n",
     exit_codes_table},
    {CLI_TABLE_DELETE, "table delete", "dynox table delete --model FILE [OPTIONS]",
     "Deletes the model's table and every item in it. Asks you to type the table name\n"
     "on a terminal; needs --yes otherwise.\n",
     "Examples:\n"
     "  dynox table delete -m samples/models/users.json\n"
     "  dynox table delete -m samples/models/users.json --yes \\\n"
     "      --endpoint http://127.0.0.1:8000\n",
     exit_codes_table},
    {CLI_TABLE_DUMP, "table dump", "dynox table dump --model FILE [OPTIONS]",
     "Writes every item of the model's table as DynamoDB JSON lines, sorted by key\n"
     "(partition key, then sort key) with attributes sorted by name: the same format\n"
     "as a dry run's --dump, so a real table and a dry run can be compared with diff.\n"
     "Reads the whole table (Scan) and sorts it in memory: for tables that fit.\n",
     "Examples:\n"
     "  dynox table dump -m samples/models/users.json -o users.jsonl\n"
     "  # A real table against the dump of a dry run\n"
     "  dynox table dump -m samples/models/users.json -o users-now.jsonl\n"
     "  diff users-now.jsonl samples/jobs/dry-run.dump.jsonl\n",
     exit_codes_table},
};

#define NHELPS (sizeof helps / sizeof helps[0])

cli_cmd cli_cmd_from_name(const char *name, const char *sub) {
    if (!name) return 0;
    if (strcmp(name, "table") == 0) {
        if (!sub) return 0;
        char full[64];
        snprintf(full, sizeof full, "table %s", sub);
        name = full;
        for (size_t i = 0; i < NHELPS; i++)
            if (strcmp(helps[i].name, full) == 0) return helps[i].cmd;
        return 0;
    }
    for (size_t i = 0; i < NHELPS; i++)
        if (strcmp(helps[i].name, name) == 0) return helps[i].cmd;
    return 0;
}

static void overview(FILE *f) {
    fprintf(f,
            "dynox %s - bulk updates, deletes and migrations on Amazon DynamoDB\n"
            "\n"
            "Usage: dynox COMMAND [OPTIONS]\n"
            "\n"
            "Commands:\n"
            "  run JOB.json        run a job: read the input, map each row, write the table\n"
            "  validate JOB.json   check a job file, its model and its first input rows\n"
            "  get                 read one item by key\n"
            "  put                 write one item\n"
            "  delete              delete one item by key\n"
            "  table create        create a model's table\n"
            "  table describe      print a table's description as JSON\n"
            "  table delete        delete a model's table\n"
            "  table dump          print a table as DynamoDB JSON lines, sorted by key\n"
            "  bench               measure an operation's throughput and cost on a table\n"
            "  version             print the version\n"
            "  help [COMMAND]      show a command's options and examples\n"
            "\n"
            "Start with a dry run on the in-memory backend (nothing leaves this machine):\n"
            "  dynox run samples/jobs/dry-run.json\n"
            "\n"
            "'dynox COMMAND --help' lists a command's options with their defaults.\n"
            "Job files: README.md, \"Job files\"; model files: docs/models.md.\n"
            "Exit codes: 0 done; 1 some rows rejected or failed; 2 usage or job file error\n"
            "(nothing written); 3 fatal error during the run. See README.md, \"Exit codes\".\n",
            DYNOX_VERSION);
}

void cli_help(FILE *f, cli_cmd cmd) {
    for (size_t i = 0; cmd && i < NHELPS; i++) {
        const cmd_help *h = &helps[i];
        if (h->cmd != cmd) continue;
        fprintf(f, "Usage: %s\n\n%s\nOptions:\n", h->usage, h->about);
        cli_print_options(f, cmd);
        fprintf(f, "\n%s\n%s", h->examples, h->exits);
        return;
    }
    overview(f);
}
