#!/usr/bin/env bash
# make demo: walks through the library's flows on the memory backend.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${BUILD:-build}/samples/demo"
