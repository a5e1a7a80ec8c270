#!/usr/bin/env bash
# tests/run.sh - installs what the build and the test suite need (Debian 12, as
# root), builds moat twice (release, and ASan+UBSan) and runs the whole suite
# (unit + integration) under CTest for both builds. This is the README's test
# command and what .ci/run executes.
#   MOAT_SKIP_DEPS=1   do not call apt-get (dependencies already installed)
#   MOAT_SKIP_ASAN=1   only the release build
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)

PACKAGES=(build-essential cmake pkg-config libmicrohttpd-dev libgnutls28-dev libssl-dev
          libsodium-dev libinih-dev check openssl curl ca-certificates python3-flask gunicorn
          prometheus libseccomp-dev python3-yaml docker-compose bubblewrap chromium testssl.sh)

install_deps() {
    if [ "${MOAT_SKIP_DEPS:-0}" = 1 ]; then
        return
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "tests/run.sh: not root, skipping apt-get (install: ${PACKAGES[*]})" >&2
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
}

build_and_test() {
    local dir=$1
    shift
    cmake -S "$ROOT" -B "$ROOT/$dir" -DMOAT_TESTS=ON "$@" >/dev/null
    cmake --build "$ROOT/$dir" -j"$JOBS"
    ctest --test-dir "$ROOT/$dir" --output-on-failure --timeout 900
}

install_deps
echo "== release build =="
build_and_test build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${MOAT_SKIP_ASAN:-0}" != 1 ]; then
    echo "== ASan + UBSan build =="
    # The 1 GiB transfer tests run once, in the release build.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        MOAT_SKIP_HUGE=1 build_and_test build-asan -DCMAKE_BUILD_TYPE=Debug -DMOAT_SANITIZE=ON
fi
echo "all test runs passed"
