#!/usr/bin/env bash
# make demo: two short tours on the in-memory backend, nothing leaves this machine.
#   1. the library: models, items and hooks (samples/demo.c);
#   2. the dynox command: a sample job (samples/jobs/dry-run.json, the nightly update of
#      300 users) as a dry run, seeded, throttled like a 100-WCU table, dumped, reported.
# Works from a fresh clone after `make all samples` (make demo does that first).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
out=samples/jobs   # the job writes dry-run.* next to itself

rule() { printf '\n%s\n%s\n' "$1" "$(printf '%*s' "${#1}" '' | tr ' ' '=')"; }

rule "Part 1 of 2: the library (samples/demo.c)"
"$B/samples/demo"

rule "Part 2 of 2: a job as a dry run (dynox run samples/jobs/dry-run.json)"
rm -f "$out"/dry-run.dump.jsonl "$out"/dry-run.rejects.jsonl "$out"/dry-run.failures.jsonl \
    "$out"/dry-run.report.json
cat <<'TXT'
The nightly update of samples/jobs/nightly-update.json, on the memory backend:
300 CSV rows, of which 4 are broken on purpose and 2 name users that do not exist.
The table is seeded with 300 users first and dumped afterwards; its simulated
capacity of 100 write units/s makes it throttle like a small provisioned table.

$ dynox run samples/jobs/dry-run.json
TXT
rc=0
"$B/dynox" run samples/jobs/dry-run.json || rc=$?
echo
echo "exit code $rc (1: finished, some rows rejected -- here on purpose)"

echo
echo "The rejected rows ($out/dry-run.rejects.jsonl; a valid input for a re-run), first 3:"
head -n 3 "$out/dry-run.rejects.jsonl" | cut -c1-220

echo
echo "A user before and after (dynox get on a memory table loaded from the seed, then from the dump):"
"$B/dynox" get -m samples/models/users.json --backend memory --seed samples/data/seed-users.jsonl \
    --key '{"user_id":"u0020"}'
"$B/dynox" get -m samples/models/users.json --backend memory --seed "$out/dry-run.dump.jsonl" \
    --key '{"user_id":"u0020"}'

echo
echo "The report ($out/dry-run.report.json):"
cat "$out/dry-run.report.json"

cat <<TXT

Next: $B/dynox --help, $B/dynox run --help, README.md ("Quick start", "Job files").
The whole difference, seed against dump (both sorted by key by dynox table dump):
  diff <($B/dynox table dump -m samples/models/users.json --backend memory \\
           --seed samples/data/seed-users.jsonl) $out/dry-run.dump.jsonl
TXT
