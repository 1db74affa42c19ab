#!/usr/bin/env bash
# make bench-peers: installs what the comparison needs (idempotently), then runs
# bench/peers/run.py, which starts and stops the local endpoints and writes
# bench/RESULTS.md.
#   - Debian's python3-boto3 (apt), used through /usr/bin/python3
#   - the AWS SDK for JavaScript v3, pinned by bench/peers/package-lock.json (npm ci)
#   - dynalite comes with `make deps` (tests/package-lock.json)
# Arguments are passed to run.py (--scale 0.1 for a quick trial, --only capacity).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}

if ! /usr/bin/python3 -c 'import boto3' >/dev/null 2>&1; then
    echo "bench-peers: installing Debian's python3-boto3"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends python3-boto3 >/dev/null
fi

stamp=bench/peers/node_modules/.dynox-lock
if [ ! -f "$stamp" ] || ! cmp -s bench/peers/package-lock.json "$stamp"; then
    echo "bench-peers: installing the AWS SDK for JavaScript from bench/peers/package-lock.json"
    (cd bench/peers && npm ci --no-audit --no-fund --loglevel=error)
    cp bench/peers/package-lock.json "$stamp"
fi

exec /usr/bin/python3 bench/peers/run.py --build "$BUILD" "$@"
