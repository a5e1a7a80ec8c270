#!/bin/sh
# token_timing.sh - builds and runs the timing benchmark of moat_token_verify (a benchmark, not a test).
#
# Usage: tests/bench/token_timing.sh [measurements per class]   (default 1000000)
#   TOKEN_TIMING_BUILD=dir   CMake build directory to take libmoatcore.a from (default: build;
#                            configured with -DMOAT_TESTS=OFF when it does not exist yet)
#   TOKEN_TIMING_MODE=standalone  compile src/token.c, src/log.c, src/hdr.c directly instead
#                            (same -O2; for when the rest of the tree does not build)
#   TOKEN_TIMING_CPU=n       pin to this CPU with taskset (default: the last CPU, when taskset exists)
# Exit status: 0 no detectable leak (max |t| < 4.5), 2 a timing difference was detected, 1 setup failure.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${TOKEN_TIMING_BUILD:-$root/build}
mode=${TOKEN_TIMING_MODE:-library}
count=${1:-1000000}
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

cflags="-std=c11 -O2 -D_GNU_SOURCE -I$root/include $(pkg-config --cflags libsodium)"
libs="$(pkg-config --libs libsodium) -lpthread -lm"

case $mode in
library)
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S "$root" -B "$build" -DMOAT_TESTS=OFF >/dev/null
    fi
    cmake --build "$build" --target moatcore -j2 >/dev/null
    # shellcheck disable=SC2086
    $cc $cflags -o "$tmp/token_timing" "$here/token_timing.c" "$build/libmoatcore.a" $libs
    echo "built against $build/libmoatcore.a ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"))"
    ;;
standalone)
    # shellcheck disable=SC2086
    $cc $cflags -o "$tmp/token_timing" "$here/token_timing.c" "$root/src/token.c" "$root/src/log.c" \
        "$root/src/hdr.c" $libs
    echo "built standalone from src/token.c (-O2)"
    ;;
*)
    echo "token_timing.sh: TOKEN_TIMING_MODE must be library or standalone" >&2
    exit 1
    ;;
esac

pin=""
if command -v taskset >/dev/null 2>&1; then
    cpu=${TOKEN_TIMING_CPU:-$(($(nproc) - 1))}
    pin="taskset -c $cpu"
    echo "pinned to CPU $cpu"
fi
echo "$(uname -m), $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo
status=0
$pin "$tmp/token_timing" "$count" || status=$?
exit $status
