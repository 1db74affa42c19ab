#!/usr/bin/env bash
# Installs what dynox's build and tests need, and nothing when all is there.
# Debian packages are checked with pkg-config (or the header, for libcsv which
# ships no .pc file); npm packages come from the lockfile in tests/.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
have_pc() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$1" 2>/dev/null; }
have_header() { printf '#include <%s>\n' "$1" | cc -E -x c - >/dev/null 2>&1; }

command -v cc >/dev/null 2>&1 || need_apt+=(gcc make)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
have_pc libcurl || need_apt+=(libcurl4-openssl-dev)
have_pc libcrypto || need_apt+=(libssl-dev)
have_pc libzstd || need_apt+=(libzstd-dev)
have_pc libcjson || need_apt+=(libcjson-dev)
have_pc cmocka || need_apt+=(libcmocka-dev)
have_header csv.h || need_apt+=(libcsv-dev)
command -v zstd >/dev/null 2>&1 || need_apt+=(zstd)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)

if [ ${#need_apt[@]} -gt 0 ]; then
    echo "deps: installing Debian packages: ${need_apt[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# npm packages (dynalite for the integration tests), pinned by tests/package-lock.json.
if [ -f tests/package-lock.json ]; then
    stamp=tests/node_modules/.dynox-lock
    if [ ! -f "$stamp" ] || ! cmp -s tests/package-lock.json "$stamp"; then
        echo "deps: installing npm packages from tests/package-lock.json"
        (cd tests && npm ci --no-audit --no-fund --loglevel=error)
        cp tests/package-lock.json "$stamp"
    fi
fi
