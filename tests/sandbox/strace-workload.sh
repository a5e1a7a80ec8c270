#!/usr/bin/env bash
# tests/sandbox/strace-workload.sh - runs the real moat binary under `strace -f`
# through a short workload (TLS 1.2/1.3 handshakes, proxied requests, a failing
# upstream, SIGHUP reloads, the admin endpoints, SIGTERM drain) and prints the
# system calls made once the sandbox is in place (after the "sandbox" log line,
# else after "listening"), with how often, to keep the seccomp allowlist in
# src/sandbox_seccomp.c honest. Usage:
#   tests/sandbox/strace-workload.sh BUILD/moat [tcp|name|unix|dev] [extra moat flags...]
# CHOWN=UID gives the TLS files and state directory to the user moat drops to.
# With NO_STRACE=1 moat runs as is (to check a sandboxed build survives the
# workload): the HTTP status of each request and moat's exit status are shown.
# Needs strace, curl, openssl and /usr/bin/python3. Not run by CI.
set -euo pipefail

MOAT=$(readlink -f "${1:?usage: $0 path/to/moat [tcp|name|unix|dev] [flags...]}")
MODE=${2:-tcp}
shift $(( $# >= 2 ? 2 : 1 ))
WORK=$(mktemp -d /tmp/moat-strace.XXXXXX)
APP_PID=
MOAT_PID=
cleanup() {
    [ -n "$MOAT_PID" ] && kill "$MOAT_PID" 2>/dev/null || true
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTPS=$(port)
APP=$(port)

cd "$WORK"
start_app() {
    if [ "$MODE" = unix ]; then
        /usr/bin/python3 - "$WORK/app.sock" <<'PY' &
import http.server, socketserver, sys, os
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    request_queue_size = 128
    def get_request(self):
        r, _ = self.socket.accept(); return r, ("unix", 0)
try: os.unlink(sys.argv[1])
except FileNotFoundError: pass
S(sys.argv[1], H).serve_forever()
PY
    else
        /usr/bin/python3 -m http.server --bind 127.0.0.1 "$APP" >/dev/null 2>&1 &
    fi
    APP_PID=$!
    sleep 0.7
}
echo hello > "$WORK/index.html"
start_app

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
chmod 600 "$WORK/key.pem"
mkdir -m 700 "$WORK/state"
# CHOWN=65532: hand the work directory to the user moat drops to (reloads then still read the key).
[ -n "${CHOWN:-}" ] && chown -R "$CHOWN" "$WORK"

case "$MODE" in
    tcp)  ARGS=(--upstream "http://127.0.0.1:$APP" --cert "$WORK/cert.pem" --key "$WORK/key.pem") ;;
    name) ARGS=(--upstream "http://localhost:$APP" --cert "$WORK/cert.pem" --key "$WORK/key.pem") ;;
    unix) ARGS=(--upstream "unix:$WORK/app.sock" --cert "$WORK/cert.pem" --key "$WORK/key.pem") ;;
    dev)  ARGS=(--upstream "http://127.0.0.1:$APP" --dev --state-dir "$WORK/state") ;;
    *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac

WRAP=(strace -f -qq -s 128 -o "$WORK/trace")
[ "${NO_STRACE:-0}" = 1 ] && WRAP=(env) && : > "$WORK/trace"
"${WRAP[@]}" "$MOAT" --listen "127.0.0.1:$HTTPS" "${ARGS[@]}" "$@" \
    2>"$WORK/moat.log" &
MOAT_PID=$!
for _ in $(seq 1 100); do
    grep -q '"event":"listening"' "$WORK/moat.log" 2>/dev/null && break
    sleep 0.1
done
set +e  # the workload provokes failures on purpose
REAL=$(pgrep -P "$MOAT_PID")   # moat itself ($MOAT_PID is strace or env)
[ -z "$REAL" ] && REAL=$MOAT_PID
sleep 0.2

U="https://127.0.0.1:$HTTPS"
exec 3>"$WORK/codes"
curl_() { curl -sk -o /dev/null --max-time 10 -w '%{http_code} '"${*: -1}"'\n' "$@" >&3; }
C=(curl_)
"${C[@]}" "$U/"
"${C[@]}" --tlsv1.2 --tls-max 1.2 "$U/index.html"
"${C[@]}" --tlsv1.3 "$U/index.html"
"${C[@]}" -X POST --data-binary @"$WORK/cert.pem" "$U/upload"
"${C[@]}" -H 'Transfer-Encoding: chunked' -X POST --data-binary @"$WORK/key.pem" "$U/chunked"
PIDS=()
for _ in $(seq 1 20); do "${C[@]}" "$U/?k=$RANDOM" & PIDS+=($!); done
wait "${PIDS[@]}"
kill -HUP "$REAL"; sleep 0.5
# The admin listener, when this build has one (default 127.0.0.1:9901): metrics read /proc.
"${C[@]}" http://127.0.0.1:9901/healthz
"${C[@]}" http://127.0.0.1:9901/readyz
curl -s --max-time 5 http://127.0.0.1:9901/metrics > "$WORK/metrics" 2>/dev/null
"${C[@]}" "$U/after-hup"
kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true; APP_PID=
"${C[@]}" "$U/upstream-down" || true
"${C[@]}" "$U/upstream-down-2" || true
start_app
sleep 0.3
"${C[@]}" "$U/upstream-back" || true
printf 'GET / HTTP/1.1\r\nHost: x\r\n' | timeout 2 openssl s_client -quiet -connect "127.0.0.1:$HTTPS" >/dev/null 2>&1 || true
# --dev: without its certificate the next reload writes a new one into the state directory.
[ "$MODE" = dev ] && rm -f "$WORK/state/dev-cert.pem"
kill -HUP "$REAL"; sleep 0.3
"${C[@]}" "$U/after-second-hup"
[ "$MODE" = name ] && sleep 11   # let the resolver thread run once
"${C[@]}" --max-time 3 "$U/slow" &
sleep 0.05
kill -TERM "$REAL"
wait "$MOAT_PID"
STATUS=$?
MOAT_PID=
exec 3>&-
echo "== moat exit status $STATUS; HTTP status per request:" >&2
sort "$WORK/codes" | awk '{print $1}' | uniq -c >&2

echo "== moat log tail" >&2
tail -3 "$WORK/moat.log" >&2
# The end of startup in the trace: the write of the "sandbox" (else "listening") event.
MARK=$(grep -n -m1 'event\\":\\"sandbox' "$WORK/trace" | cut -d: -f1)
[ -z "$MARK" ] && MARK=$(grep -n -m1 'event\\":\\"listening' "$WORK/trace" | cut -d: -f1)
MARK=${MARK:-0}
echo "== system calls after startup (count name)"
tail -n +"$((MARK + 1))" "$WORK/trace" | sed -E 's/^[0-9]+ +//; s/^<\.\.\. ([a-z0-9_]+) resumed>.*/\1 resumed/' |
    grep -Eo '^[a-z0-9_]+(\(| resumed)' | grep -v resumed | tr -d '(' | sort | uniq -c | sort -rn
echo "== trace kept in $WORK/trace (startup ends at line $MARK)"
trap - EXIT
cleanup
