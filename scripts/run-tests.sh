#!/usr/bin/env bash
# Runs every test binary given, in order, and prints one summary line.
# Integration binaries named *_ddb run against a dynalite server that this
# script starts on a free port and stops by PID, whatever happens.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
failed=()
passed=0
server_pid=""
test_pid=""

stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=""
    fi
}
# Interrupted (Ctrl-C, a CI timeout's SIGTERM): stop the test in progress and
# the server, and end the run with 128+signal; the rest must not run on, nor
# the run end with "OK".
on_signal() {
    trap - INT TERM
    if [ -n "$test_pid" ]; then
        kill -TERM "$test_pid" 2>/dev/null
        wait "$test_pid" 2>/dev/null
    fi
    stop_server
    echo "run-tests: interrupted by SIG$1" >&2
    exit "$2"
}
trap stop_server EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

start_server() {
    [ -n "$server_pid" ] && return 0
    if [ ! -f tests/node_modules/dynalite/cli.js ]; then
        echo "run-tests: dynalite is not installed (make deps installs it)" >&2
        return 1
    fi
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000)))
    node tests/node_modules/dynalite/cli.js --host 127.0.0.1 --port "$port" \
        --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$BUILD/dynalite.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            export DYNOX_TEST_ENDPOINT="http://127.0.0.1:$port"
            return 0
        fi
        sleep 0.1
    done
    echo "run-tests: dynalite did not start (see $BUILD/dynalite.log)" >&2
    return 1
}

for t in "$@"; do
    name=${t#"$BUILD"/}
    case "$t" in
    *_ddb | *_dynalite)
        if ! start_server; then
            failed+=("$name (no server)")
            continue
        fi
        ;;
    esac
    echo "== $name"
    # In the background with wait, so that a signal is handled at once rather
    # than when the test ends; stdin stays the runner's.
    "$t" <&0 &
    test_pid=$!
    wait "$test_pid"
    rc=$?
    test_pid=""
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed+=("$name")
    fi
done
stop_server

echo
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${#failed[@]} of $(($# )) test programs: ${failed[*]}"
    exit 1
fi
echo "OK: all $passed test programs passed"
