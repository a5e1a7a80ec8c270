#!/bin/sh
# docker/pin-digests.sh - pins the base images of docker/Dockerfile and docker/demo/Dockerfile to
# the digests their tags point at right now, rewriting each `ARG <NAME>_IMAGE=<image>:<tag>@sha256:...`
# line in place. Needs Docker with buildx and access to the registries:
#
#   docker/pin-digests.sh            # then review `git diff docker/` and commit the new digests
#
# The digest written is the one of the tag's manifest list (image index), so multi-platform builds
# keep working. Re-run it to take base-image security updates, deliberately.
set -eu

cd "$(dirname "$0")"
for file in Dockerfile demo/Dockerfile; do
    grep -E '^ARG [A-Z_]+_IMAGE=' "$file" | while IFS= read -r line; do
        var=${line#ARG }
        var=${var%%=*}
        ref=${line#*=}
        name=${ref%@*}
        digest=$(docker buildx imagetools inspect "$name" --format '{{json .Manifest.Digest}}' | tr -d '"')
        case "$digest" in
            sha256:????????????????????????????????????????????????????????????????) ;;
            *)
                echo "pin-digests: no digest for $name (got: $digest)" >&2
                exit 1
                ;;
        esac
        sed -i "s|^ARG $var=.*\$|ARG $var=$name@$digest|" "$file"
        echo "pin-digests: $file: $var=$name@$digest"
    done
done
