#!/usr/bin/env bash
# docker/demo/run.sh - installs what moat needs (Debian 12, as root), builds it,
# starts the bundled demo Flask app under gunicorn on 127.0.0.1:8000 and runs
# moat in front of it on https://localhost:8443 with a development certificate,
# and on http://localhost:8080 redirecting to it. Ctrl-C stops both.
#   MOAT_SKIP_DEPS=1        do not call apt-get
#   MOAT_DEMO_LISTEN        where moat listens (default 127.0.0.1:8443)
#   MOAT_DEMO_HTTP_LISTEN   the plain-HTTP redirect listener (default 127.0.0.1:8080, or off)
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PACKAGES=(build-essential cmake pkg-config libmicrohttpd-dev libgnutls28-dev libssl-dev
          libsodium-dev libinih-dev libseccomp-dev check openssl curl ca-certificates python3-flask
          gunicorn)

if [ "${MOAT_SKIP_DEPS:-0}" != 1 ] && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
fi

cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$ROOT/build" -j"$(nproc 2>/dev/null || echo 2)" --target moat

/usr/bin/gunicorn --bind 127.0.0.1:8000 --workers 2 --chdir "$ROOT/docker/demo" \
    --access-logfile - app:app &
APP_PID=$!
trap 'kill "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 50); do
    if curl -s -o /dev/null http://127.0.0.1:8000/healthz; then
        break
    fi
    sleep 0.1
done

echo "moat: serving the demo app on https://localhost:8443 (development certificate;" \
    "http://localhost:8080 redirects there; Ctrl-C stops)" >&2
# As root, moat drops to uid 65532 once set up: keep the development
# certificate where that user can read it again on SIGHUP (not under /root).
STATE_ARGS=()
if [ "$(id -u)" = 0 ]; then
    STATE_ARGS=(--state-dir /var/lib/moat)
fi
"$ROOT/build/moat" --dev --listen "${MOAT_DEMO_LISTEN:-127.0.0.1:8443}" \
    --http-listen "${MOAT_DEMO_HTTP_LISTEN:-127.0.0.1:8080}" \
    --upstream http://127.0.0.1:8000 "${STATE_ARGS[@]}" || true
