#!/bin/sh
# docker/collect-runtime-libs.sh - used by docker/Dockerfile's "rootfs" stage: copies the shared
# libraries a binary needs into a staging root, so the distroless runtime stage gets exactly those
# and nothing else (no package manager, no shell).
#
#   collect-runtime-libs.sh BINARY DESTROOT
#
# Fails if a library cannot be resolved (a runtime package is missing from the stage). Libraries of
# glibc and libgcc are skipped: gcr.io/distroless/cc-debian12 ships them itself, and mixing two
# glibc builds in one image is how containers break. Each library lands under its canonical
# directory (merged /usr: /lib/x86_64-linux-gnu -> /usr/lib/x86_64-linux-gnu), file dereferenced
# and named by its soname, which is all the dynamic loader looks for.
set -eu

bin=$1
dest=$2

if ! ldd "$bin" >/dev/null 2>&1; then
    echo "collect-runtime-libs: ldd cannot read $bin" >&2
    exit 1
fi
if ldd "$bin" | grep -q 'not found'; then
    echo "collect-runtime-libs: unresolved libraries (a runtime package is missing):" >&2
    ldd "$bin" | grep 'not found' >&2
    exit 1
fi

for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do
    name=${lib##*/}
    owner=$(dpkg -S "*/$name" 2>/dev/null | head -n 1 | cut -d: -f1)
    case "$owner" in
        libc6 | libgcc-s1) continue ;;
    esac
    dir=$(readlink -f "$(dirname "$lib")")
    mkdir -p "$dest$dir"
    cp -L "$lib" "$dest$dir/$name"
    echo "collect-runtime-libs: $dir/$name (${owner:-unknown package})"
done
