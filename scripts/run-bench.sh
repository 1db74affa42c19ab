#!/usr/bin/env bash
# make bench: runs every benchmark in bench/ in turn. Each prints its own
# figures and the ratios against a baseline measured in the same run.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
status=0
for b in "$BUILD"/bench/*; do
    [ -x "$b" ] || continue
    echo "== ${b#"$BUILD"/}"
    "$b" || status=1
    echo
done
exit $status
