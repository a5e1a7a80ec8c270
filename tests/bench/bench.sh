#!/usr/bin/env bash
# bench.sh - compare moat with nginx (and optionally HAProxy) as TLS reverse proxies.
#
# A benchmark, not a test: CTest never runs it. Everything happens on 127.0.0.1
# with ports picked at run time, inside one mktemp directory that is removed at
# the end together with every process the script started.
#
# Usage:  tests/bench/bench.sh [path/to/moat]        (default: build/moat)
#
# One shared plain-HTTP upstream (an nginx instance, plus tests/bench/upload_sink.py
# behind it for /upload) serves /small (13 bytes), /big (BENCH_BIG_MIB MiB) and
# /upload (reads the whole body, then answers 200). Each proxy terminates TLS
# (ECDSA P-256, TLS 1.2/1.3 AEAD only; session tickets only in the resumption
# scenario, see below), adds the same
# security headers and forwards to that upstream over kept-alive connections.
# Each scenario starts each proxy afresh (so VmHWM is the peak for that scenario),
# runs the same load against them back to back and prints figures and ratios.
#
# Scenarios: keepalive  wrk, small responses over kept-alive TLS connections
#            handshake  h2load --h1 with "Connection: close": one full TLS handshake per request
#            resumption wrk with "Connection: close": a new connection per request, each one
#                       resuming the TLS session by ticket (wrk offers its last session; h2load
#                       does not); every proxy has session tickets on (nginx: ssl_session_tickets
#                       on, no session cache); resumption is checked first with openssl s_client
#                       -sess_out/-sess_in
#            download   curl GET /big: MiB/s and the proxy's peak RSS
#            upload     curl POST of BENCH_BIG_MIB MiB to /upload: MiB/s and peak RSS
#
# Environment (defaults in brackets):
#   BENCH_DURATION [10]            seconds of wrk per proxy (keepalive)
#   BENCH_THREADS [2]  BENCH_CONNECTIONS [50]          wrk threads / connections
#   BENCH_HANDSHAKE_REQUESTS [10000]  BENCH_HANDSHAKE_CONNECTIONS [20]   h2load -n / -c
#   BENCH_BIG_MIB [256]            size of /big and of the upload (1024 for the 1 GiB target)
#   BENCH_SCENARIOS ["keepalive handshake resumption download upload"]
#   BENCH_HAPROXY [0]              1 = also measure HAProxy
#   BENCH_UPSTREAM_WORKERS [1]     worker processes of the upstream nginx
#   BENCH_READY_TIMEOUT [10]       seconds to wait for a proxy to answer
#   BENCH_TRANSFER_TIMEOUT [180]   seconds allowed per download/upload
#   BENCH_KEEP [0]                 1 = keep the temp directory (configs, logs)
#   BENCH_STOP_GRACE [5]           seconds a proxy gets to exit after SIGTERM before SIGKILL
#
# Exit status: 0 all proxies measured; 1 setup problem (e.g. moat not built);
# 2 moat did not come up, failed or crashed in a scenario, or hung/failed on SIGTERM
# (the other figures are still printed).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
MOAT=${1:-$REPO_ROOT/build/moat}

DURATION=${BENCH_DURATION:-10}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-50}
HS_REQUESTS=${BENCH_HANDSHAKE_REQUESTS:-10000}
HS_CONNS=${BENCH_HANDSHAKE_CONNECTIONS:-20}
BIG_MIB=${BENCH_BIG_MIB:-256}
SCENARIOS=${BENCH_SCENARIOS:-keepalive handshake resumption download upload}
CUR_SCENARIO=""          # the scenario being run (proxy configs depend on it)
WITH_HAPROXY=${BENCH_HAPROXY:-0}
UPSTREAM_WORKERS=${BENCH_UPSTREAM_WORKERS:-1}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-10}
TRANSFER_TIMEOUT=${BENCH_TRANSFER_TIMEOUT:-180}
KEEP=${BENCH_KEEP:-0}
STOP_GRACE=${BENCH_STOP_GRACE:-5}
PYTHON=/usr/bin/python3

SMALL_BODY=$'hello, moat!\n'
BIG_BYTES=$((BIG_MIB * 1024 * 1024))
# Every proxy chooses the suite in the same order as moat's default profile
# (AES-128-GCM, AES-256-GCM, ChaCha20, the server's order), for TLS 1.2 and 1.3.
TLS13_SUITES='TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256'
TLS12_CIPHERS='ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305'
# The peers are configured to do what moat does by default, so the comparison is
# like for like: the same nine security headers with the same values, a fresh
# CSP nonce per request (nginx: $request_id, HAProxy: its unique id) also passed
# to the app, X-Request-Id both ways, X-Forwarded-* and Forwarded upstream.
# Keep these in step with moat's defaults (check_headers reports what each sends).
CSP_PRE="default-src 'self'; script-src 'self' 'nonce-"
CSP_MID="'; style-src 'self' 'nonce-"
CSP_POST="'; img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; upgrade-insecure-requests"
PERMISSIONS_POLICY='accelerometer=(), browsing-topics=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), hid=(), magnetometer=(), microphone=(), midi=(), payment=(), serial=(), usb=(), xr-spatial-tracking=()'
STATIC_HEADERS=(
    "Strict-Transport-Security|max-age=63072000; includeSubDomains"
    "X-Content-Type-Options|nosniff"
    "X-Frame-Options|DENY"
    "Referrer-Policy|strict-origin-when-cross-origin"
    "Permissions-Policy|$PERMISSIONS_POLICY"
    "Cross-Origin-Opener-Policy|same-origin"
    "Cross-Origin-Resource-Policy|same-origin"
    "X-Permitted-Cross-Domain-Policies|none"
)
SEC_HEADERS=(Strict-Transport-Security Content-Security-Policy X-Content-Type-Options X-Frame-Options
             Referrer-Policy Permissions-Policy Cross-Origin-Opener-Policy Cross-Origin-Resource-Policy
             X-Permitted-Cross-Domain-Policies X-Request-Id)

peer_headers() { # FORMAT NONCE: one line per response header, FORMAT with %s %s for name and value
    local h
    for h in "${STATIC_HEADERS[@]}"; do
        # shellcheck disable=SC2059
        printf "$1\n" "${h%%|*}" "${h#*|}"
    done
    # shellcheck disable=SC2059
    printf "$1\n" Content-Security-Policy "$CSP_PRE$2$CSP_MID$2$CSP_POST"
}

WORK=""
PIDS=()                  # every background process started, for cleanup
declare -A RES=()        # RES[proxy:metric] = value
declare -A DOWN=()       # DOWN[proxy] = why it is not measured any more
PROXIES=(moat nginx)
[[ $WITH_HAPROXY == 1 ]] && PROXIES+=(haproxy)
EXIT_STATUS=0

# ---------------------------------------------------------------- utilities

log()  { printf '%s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'bench: %s\n' "$*" >&2; exit 1; }

is_alive() { # PID: true while the process exists and is not a zombie
    local state
    [[ -r /proc/$1/stat ]] || return 1
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

descendants() { # PID: prints PID's descendants, one a line
    local c
    for c in $(pgrep -P "$1" 2>/dev/null || true); do
        echo "$c"
        descendants "$c"
    done
}

stop_pid() { # PID: TERM it (and then KILL it and its descendants if need be), reap it.
    # Sets STOP_KILLED (1 when it outlived STOP_GRACE seconds) and STOP_STATUS.
    local pid=$1 kids i
    STOP_KILLED=0 STOP_STATUS=0
    if ! is_alive "$pid"; then
        wait "$pid" 2>/dev/null || STOP_STATUS=$?
        forget_pid "$pid"
        return 0
    fi
    kids=$(descendants "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_GRACE * 10; i++)); do is_alive "$pid" || break; sleep 0.1; done
    if is_alive "$pid"; then
        STOP_KILLED=1
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for i in $kids; do
        if is_alive "$i"; then kill -KILL "$i" 2>/dev/null || true; fi
    done
    wait "$pid" 2>/dev/null || STOP_STATUS=$?
    forget_pid "$pid"
}

forget_pid() { # PID: drops a reaped PID from PIDS (so cleanup never signals a reused PID)
    local p keep=()
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

cleanup() {
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_bg() { # NAME CMD...: runs CMD in the background, output to $WORK/NAME.log; sets BG_PID
    local name=$1; shift
    "$@" >"$WORK/$name.log" 2>&1 &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

run_client() { # OUTFILE CMD...: runs CMD to completion, output to OUTFILE. In the
    # background plus "wait", so that INT/TERM interrupt it at once (then cleanup kills it).
    local out=$1 pid
    shift
    "$@" >"$out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait "$pid" || true
    forget_pid "$pid"
}

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

fmt() { # NUMBER [DECIMALS]: prints it rounded, or n/a
    [[ -z ${1:-} || $1 == n/a ]] && { echo n/a; return; }
    printf "%.${2:-0}f" "$1"
}

ratio() { # A B: prints A/B with two decimals, or n/a
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN {
        if (a == "" || b == "" || a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a";
        else printf "%.2f", a / b }'
}

kib_to_mib() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f", k / 1024 }'; }

status_kib() { # PID FIELD: prints FIELD (VmHWM, VmRSS) of /proc/PID/status in KiB, 0 if gone
    awk -v f="$2:" '$1 == f { print $2; found = 1 } END { if (!found) print 0 }' \
        "/proc/$1/status" 2>/dev/null || echo 0
}

# ------------------------------------------------------------------- checks

check_tools() {
    local t missing=()
    for t in nginx wrk h2load curl openssl awk pgrep timeout; do
        command -v "$t" >/dev/null || missing+=("$t")
    done
    [[ -x $PYTHON ]] || missing+=("$PYTHON")
    [[ $WITH_HAPROXY == 1 ]] && { command -v haproxy >/dev/null || missing+=(haproxy); }
    ((${#missing[@]} == 0)) ||
        die "missing tools: ${missing[*]} (apt-get install nginx-light wrk nghttp2-client curl haproxy)"
}

check_moat() {
    if [[ ! -x $MOAT ]]; then
        cat >&2 <<EOF
bench: moat binary not found at $MOAT
Build it first, e.g.:
  cmake -S $REPO_ROOT -B $REPO_ROOT/build -DMOAT_TESTS=OFF
  cmake --build $REPO_ROOT/build -j2
then run:  $0 [$REPO_ROOT/build/moat]
EOF
        exit 1
    fi
    MOAT=$(cd "$(dirname "$MOAT")" && pwd)/$(basename "$MOAT")
}

# -------------------------------------------------------------------- setup

make_material() {
    mkdir -p "$WORK/www" "$WORK/tmp"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 -subj /CN=localhost \
        -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' >"$WORK/openssl.log" 2>&1 ||
        die "openssl req failed: $(cat "$WORK/openssl.log")"
    cat "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/haproxy.pem"
    # Unwritten extents read back as zeros: no disk I/O when serving or uploading it.
    fallocate -l "$BIG_BYTES" "$WORK/www/big" 2>/dev/null ||
        head -c "$BIG_BYTES" /dev/zero >"$WORK/www/big"
    # Read it once so its pages are cached before anything is measured: the
    # first transfer would otherwise pay for filling the page cache (moat runs
    # first in each scenario and measured 320 MiB/s on its first download,
    # 490-540 on the next ones, against 450-600 for nginx).
    cat "$WORK/www/big" >/dev/null
}

nginx_common() { # NAME: main-context lines shared by both nginx configs
    local name=$1
    ((EUID == 0)) && echo "user $(id -un) $(id -gn);"   # else root nginx workers become nobody
    cat <<EOF
daemon off;
master_process on;
pid $WORK/$name.pid;
error_log stderr warn;
events { worker_connections 4096; }
EOF
}

nginx_temp_paths() { # NAME
    local t=$WORK/tmp/$1
    mkdir -p "$t"
    cat <<EOF
    client_body_temp_path $t/body;
    proxy_temp_path $t/proxy;
    fastcgi_temp_path $t/fastcgi;
    uwsgi_temp_path $t/uwsgi;
    scgi_temp_path $t/scgi;
EOF
}

start_upstream() {
    UPSTREAM_PORT=$(free_port)
    start_bg sink "$PYTHON" "$SCRIPT_DIR/upload_sink.py" "$WORK/sink.sock"
    {
        nginx_common upstream
        echo "worker_processes $UPSTREAM_WORKERS;"
        cat <<EOF
http {
$(nginx_temp_paths upstream)
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    upstream sink { server unix:$WORK/sink.sock; keepalive 16; }
    server {
        listen 127.0.0.1:$UPSTREAM_PORT backlog=4096;
        root $WORK/www;
        client_max_body_size 0;
        location = /small { default_type text/plain; return 200 "hello, moat!\n"; }
        location = /big { default_type application/octet-stream; }
        # nginx's own "return 200" answers before reading the body, and a proxy in
        # front then stops forwarding it: hand /upload to a sink that reads it all.
        location = /upload {
            proxy_pass http://sink;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
            proxy_buffering off;
        }
        location / { return 404; }
    }
}
EOF
    } >"$WORK/upstream.conf"
    start_bg upstream nginx -p "$WORK" -c "$WORK/upstream.conf" -e stderr

    local i body
    for ((i = 0; i < 50; i++)); do
        body=$(curl -s --max-time 2 "http://127.0.0.1:$UPSTREAM_PORT/small" 2>/dev/null || true)
        [[ $body == "${SMALL_BODY%$'\n'}" ]] && [[ -S $WORK/sink.sock ]] && break
        sleep 0.1
    done
    [[ $body == "${SMALL_BODY%$'\n'}" ]] || die "upstream nginx did not start: $(tail -5 "$WORK/upstream.log")"
    [[ -S $WORK/sink.sock ]] || die "upload sink did not start: $(tail -5 "$WORK/sink.log")"
    # The sink must see every byte of an upload through the upstream.
    local hdr got
    hdr=$(head -c 3000000 /dev/zero | curl -s --max-time 10 -o /dev/null -D - -H 'Expect:' \
        -H 'Content-Type: application/octet-stream' --data-binary @- \
        "http://127.0.0.1:$UPSTREAM_PORT/upload" || true)
    got=$(awk -F': *' 'tolower($1) == "x-received-bytes" { print $2 + 0 }' <<<"$hdr")
    [[ $got == 3000000 ]] || die "upstream /upload check failed (received ${got:-?} of 3000000 bytes)"
}

write_nginx_proxy_conf() { # PORT
    {
        nginx_common proxy-nginx
        echo "worker_processes 2;"
        cat <<EOF
http {
$(nginx_temp_paths proxy-nginx)
    access_log off;
    server_tokens off;
    upstream app {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$1 ssl backlog=4096;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers $TLS12_CIPHERS;
        ssl_conf_command Ciphersuites $TLS13_SUITES;
        ssl_prefer_server_ciphers on;
$(if [[ $CUR_SCENARIO == resumption ]]; then
        echo "        ssl_session_tickets on;"
    else
        echo "        ssl_session_tickets off;"
    fi)
        ssl_session_cache off;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
        client_max_body_size 0;
        proxy_request_buffering off;   # stream uploads like moat (default: spool to disk)
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$host;
            proxy_set_header Forwarded "for=\$remote_addr;proto=\$scheme;host=\$host";
            proxy_set_header X-Request-Id \$request_id;
            proxy_set_header X-CSP-Nonce \$request_id;
            proxy_hide_header X-Powered-By;
            add_header X-Request-Id \$request_id always;
$(peer_headers '            add_header %s "%s" always;' '$request_id')
        }
    }
}
EOF
    } >"$WORK/proxy-nginx.conf"
}

write_haproxy_conf() { # PORT
    cat >"$WORK/haproxy.cfg" <<EOF
global
    nbthread 2
    maxconn 4096
    tune.ssl.cachesize 0
    ssl-default-bind-options ssl-min-ver TLSv1.2$([[ $CUR_SCENARIO == resumption ]] || echo " no-tls-tickets")
    ssl-default-bind-ciphers $TLS12_CIPHERS
    ssl-default-bind-ciphersuites $TLS13_SUITES

defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 120s

frontend tls
    bind 127.0.0.1:$1 ssl crt $WORK/haproxy.pem alpn http/1.1
    option forwardfor
    unique-id-format %{+X}o%ci%cp%fi%fp%Ts%rt%pid
    http-request set-header X-Forwarded-Proto https
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request set-header Forwarded "for=%[src];proto=https;host=%[req.hdr(host)]"
    http-request set-header X-Request-Id %[unique-id]
    http-request set-header X-CSP-Nonce %[unique-id]
    http-response del-header X-Powered-By
    http-response set-header X-Request-Id %[unique-id]
$(peer_headers '    http-response set-header %s "%s"' '%[unique-id]')
    default_backend app

backend app
    http-reuse always
    server app 127.0.0.1:$UPSTREAM_PORT
EOF
}

# ------------------------------------------------------------------ proxies

start_proxy() { # NAME: starts it on a fresh port; sets PROXY_PID, PROXY_PORT; false if not up
    local name=$1
    PROXY_PORT=$(free_port)
    case $name in
    moat)
        mkdir -p "$WORK/moat-state"
        # The admin listener gets a free port of its own (the default 9901 may be taken).
        start_bg proxy-moat env MOAT_LOG_ACCESS=false MOAT_LIMITS_MAX_BODY_BYTES=0 \
            MOAT_SERVER_STATE_DIR="$WORK/moat-state" \
            "$MOAT" --listen "127.0.0.1:$PROXY_PORT" --upstream "http://127.0.0.1:$UPSTREAM_PORT" \
            --admin-listen "127.0.0.1:$(free_port)" \
            --cert "$WORK/cert.pem" --key "$WORK/key.pem" --workers 2 --log-level warn
        ;;
    nginx)
        write_nginx_proxy_conf "$PROXY_PORT"
        start_bg proxy-nginx nginx -p "$WORK" -c "$WORK/proxy-nginx.conf" -e stderr
        ;;
    haproxy)
        write_haproxy_conf "$PROXY_PORT"
        start_bg proxy-haproxy haproxy -db -f "$WORK/haproxy.cfg"
        ;;
    esac
    PROXY_PID=$BG_PID
    wait_ready "$name"
}

wait_ready() { # NAME: waits until the proxy serves /small; on failure records DOWN[NAME]
    local name=$1 deadline body rc=0 code
    deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! is_alive "$PROXY_PID"; then
            wait "$PROXY_PID" 2>/dev/null || rc=$?
            DOWN[$name]="exited with status $rc before serving; last output: $(tail -c 300 "$WORK/proxy-$name.log" | tr '\n' ' ')"
            return 1
        fi
        body=$(curl -sk --max-time 2 "https://127.0.0.1:$PROXY_PORT/small" 2>/dev/null || true)
        [[ $body == "${SMALL_BODY%$'\n'}" ]] && return 0
        sleep 0.1
    done
    code=$(curl -sk --max-time 2 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PROXY_PORT/small" 2>/dev/null || true)
    DOWN[$name]="did not serve /small within ${READY_TIMEOUT}s (last HTTP status ${code:-none}); log: $(tail -c 300 "$WORK/proxy-$name.log" | tr '\n' ' ')"
    stop_pid "$PROXY_PID"
    return 1
}

stop_proxy() { # NAME: stops the proxy; warns when it hung or failed on SIGTERM
    stop_pid "$PROXY_PID"
    if ((STOP_KILLED)); then
        warn "$1 did not exit within ${STOP_GRACE}s of SIGTERM after $2 (SIGKILLed); log: $(tail -c 300 "$WORK/proxy-$1.log" | tr '\n' ' ')"
        RES[$1:problems]+="$2: hung on SIGTERM; "
    elif ((STOP_STATUS != 0)) && ! [[ $1 == haproxy && $STOP_STATUS == 143 ]]; then
        # (haproxy -db stops on SIGTERM by the signal's default action: status 143)
        warn "$1 exited with status $STOP_STATUS on SIGTERM after $2; log: $(tail -c 300 "$WORK/proxy-$1.log" | tr '\n' ' ')"
        RES[$1:problems]+="$2: exit status $STOP_STATUS on SIGTERM; "
    fi
}

check_headers() { # NAME: records how many of the security headers the proxy adds
    local hdr h n=0 missing=()
    hdr=$(curl -sk --max-time 5 -o /dev/null -D - "https://127.0.0.1:$PROXY_PORT/small" || true)
    for h in "${SEC_HEADERS[@]}"; do
        if grep -qi "^$h:" <<<"$hdr"; then n=$((n + 1)); else missing+=("$h"); fi
    done
    RES[$1:headers]="$n/${#SEC_HEADERS[@]}${missing:+ (missing: ${missing[*]})}"
}

check_conn_close() { # NAME: does the proxy close after "Connection: close"? (handshake scenario)
    local n
    n=$(curl -sk --max-time 5 -H 'Connection: close' -o /dev/null -o /dev/null \
        -w '%{num_connects} ' "https://127.0.0.1:$PROXY_PORT/small" "https://127.0.0.1:$PROXY_PORT/small" || true)
    if [[ $n != "1 1 " ]]; then
        warn "$1 kept the connection open after 'Connection: close' (num_connects: $n): its handshake figure is not one handshake per request"
        RES[$1:handshake_note]="connection reused"
    fi
}

# RSS: VmHWM of the proxy and of every descendant (nginx master + workers), plus a
# sampled peak of the total VmRSS during the transfer.
proxy_procs() { echo "$PROXY_PID"; descendants "$PROXY_PID"; }

rss_sampler() { # OUTFILE PID...: until killed, keeps the peak total VmRSS (KiB) in OUTFILE
    local out=$1 peak=0 total p k v _
    shift
    while :; do
        total=0
        for p in "$@"; do
            while read -r k v _; do
                [[ $k == VmRSS: ]] && total=$((total + v))
            done <"/proc/$p/status" 2>/dev/null || true
        done
        ((total > peak)) && { peak=$total; echo "$peak" >"$out"; }
        sleep 0.1
    done
}

record_rss() { # NAME SCENARIO SAMPLEFILE
    local name=$1 sc=$2 p hwm master=0 maxchild=0 sum=0
    master=$(status_kib "$PROXY_PID" VmHWM)
    sum=$master
    for p in $(descendants "$PROXY_PID"); do
        hwm=$(status_kib "$p" VmHWM)
        sum=$((sum + hwm))
        ((hwm > maxchild)) && maxchild=$hwm
    done
    RES[$name:${sc}_rss_main]=$master
    RES[$name:${sc}_rss_child]=$maxchild
    RES[$name:${sc}_rss_sum]=$sum
    RES[$name:${sc}_rss_max]=$((master > maxchild ? master : maxchild))
    RES[$name:${sc}_rss_sampled]=$(cat "$3" 2>/dev/null || echo 0)
}

# ---------------------------------------------------------------- scenarios

run_keepalive() { # NAME
    local out rps err
    run_client "$WORK/keepalive-$1.txt" timeout $((DURATION + 60)) \
        wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" "https://127.0.0.1:$PROXY_PORT/small"
    out=$(cat "$WORK/keepalive-$1.txt")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    err=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | paste -sd';' - || true)
    RES[$1:keepalive]=${rps:-n/a}
    log "  $(printf '%-8s' "$1") $(fmt "${rps:-n/a}") req/s${err:+  ($err)}"
    [[ -n $rps ]] || warn "wrk gave no figure for $1: $(tail -3 <<<"$out" | tr '\n' ' ')"
}

run_handshake() { # NAME
    local out rps ok
    check_conn_close "$1"
    run_client "$WORK/handshake-$1.txt" timeout 120 h2load --h1 -n "$HS_REQUESTS" -c "$HS_CONNS" \
        -T 10 -H 'Connection: close' "https://127.0.0.1:$PROXY_PORT/small"
    out=$(cat "$WORK/handshake-$1.txt")
    rps=$(awk '/^finished in/ { print $4 }' <<<"$out")
    ok=$(awk '/^requests:/ { print $8 }' <<<"$out")
    RES[$1:handshake]=${rps:-n/a}
    log "  $(printf '%-8s' "$1") $(fmt "${rps:-n/a}") req/s (${ok:-0}/$HS_REQUESTS succeeded)"
    [[ ${ok:-0} == "$HS_REQUESTS" ]] || warn "h2load against $1: only ${ok:-0} of $HS_REQUESTS requests succeeded"
}

check_resumed() { # NAME: does a second connection resume the first one's session? (s_client)
    local sess=$WORK/resume-$1.sess first second
    # A whole request and its answer on each connection: TLS 1.3 tickets arrive after the
    # handshake, and s_client only saves a session it has read one for.
    local req=$'GET /small HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
    rm -f "$sess"
    first=$(printf '%s' "$req" | timeout 10 openssl s_client -connect "127.0.0.1:$PROXY_PORT" \
        -servername localhost -ign_eof -sess_out "$sess" 2>/dev/null | grep -E '^(New|Reused),' || true)
    second=$(printf '%s' "$req" | timeout 10 openssl s_client -connect "127.0.0.1:$PROXY_PORT" \
        -servername localhost -ign_eof -sess_in "$sess" 2>/dev/null | grep -E '^(New|Reused),' || true)
    if [[ $second == Reused,* ]]; then
        RES[$1:resumed]=yes
    else
        RES[$1:resumed]="no (${second:-no handshake})"
        warn "$1 did not resume a TLS session (first: '${first:-none}', second: '${second:-none}'): its resumption figure is full handshakes"
    fi
}

run_resumption() { # NAME
    local out rps err
    check_resumed "$1"
    run_client "$WORK/resumption-$1.txt" timeout $((DURATION + 60)) \
        wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -H 'Connection: close' \
        "https://127.0.0.1:$PROXY_PORT/small"
    out=$(cat "$WORK/resumption-$1.txt")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    err=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | paste -sd';' - || true)
    RES[$1:resumption]=${rps:-n/a}
    log "  $(printf '%-8s' "$1") $(fmt "${rps:-n/a}") req/s, session resumed: ${RES[$1:resumed]}${err:+  ($err)}"
    [[ -n $rps ]] || warn "wrk gave no figure for $1: $(tail -3 <<<"$out" | tr '\n' ' ')"
}

run_transfer() { # NAME download|upload
    local name=$1 sc=$2 sample=$WORK/rss-$1-$2 out code size speed spid procs extra="" got=""
    procs=$(proxy_procs)
    echo 0 >"$sample"
    # shellcheck disable=SC2086
    rss_sampler "$sample" $procs &
    spid=$!
    PIDS+=("$spid")
    if [[ $sc == download ]]; then
        run_client "$WORK/$sc-$name.txt" curl -sk --max-time "$TRANSFER_TIMEOUT" \
            --speed-limit 1 --speed-time 15 -o /dev/null \
            -w '%{http_code} %{size_download} %{speed_download}' "https://127.0.0.1:$PROXY_PORT/big"
    else
        # -T streams the file (--data-binary @file would load it into curl's memory);
        # "Expect:" suppresses 100-continue so only the body transfer is measured.
        run_client "$WORK/$sc-$name.txt" curl -sk --max-time "$TRANSFER_TIMEOUT" \
            --speed-limit 1 --speed-time 15 -o /dev/null -D "$WORK/upload-$name.hdr" \
            -X POST -T "$WORK/www/big" -H 'Expect:' -H 'Content-Type: application/octet-stream' \
            -w '%{http_code} %{size_upload} %{speed_upload}' "https://127.0.0.1:$PROXY_PORT/upload"
        got=$(awk -F': *' 'tolower($1) == "x-received-bytes" { print $2 + 0 }' \
            "$WORK/upload-$name.hdr" 2>/dev/null || true)
        extra=" upstream received ${got:-?} bytes"
    fi
    out=$(cat "$WORK/$sc-$name.txt")
    [[ $sc == upload && ${got:-} != "$BIG_BYTES" ]] && out="$out short"
    stop_pid "$spid"
    record_rss "$name" "$sc" "$sample"
    read -r code size speed _ <<<"$out" || true
    if [[ $code == 200 && $size == "$BIG_BYTES" && $out != *short ]]; then
        RES[$name:$sc]=$(awk -v s="$speed" 'BEGIN { printf "%.1f", s / 1048576 }')
    else
        RES[$name:$sc]=n/a
        warn "$sc through $name failed: curl said '$out'$extra"
    fi
    log "  $(printf '%-8s' "$name") ${RES[$name:$sc]} MiB/s; peak RSS: largest process $(kib_to_mib "${RES[$name:${sc}_rss_max]}") MiB, sum of processes $(kib_to_mib "${RES[$name:${sc}_rss_sum]}") MiB (VmHWM), sampled total VmRSS $(kib_to_mib "${RES[$name:${sc}_rss_sampled]}") MiB"
}

run_scenario() { # SCENARIO
    local sc=$1 name
    case $sc in
    keepalive) log "== keepalive: wrk -t$THREADS -c$CONNS -d${DURATION}s GET /small (13 bytes) over kept-alive TLS" ;;
    handshake) log "== handshake: h2load --h1 -n $HS_REQUESTS -c $HS_CONNS 'Connection: close' (one full TLS handshake per request)" ;;
    resumption) log "== resumption: wrk -t$THREADS -c$CONNS -d${DURATION}s 'Connection: close' GET /small (a resumed TLS handshake per request, tickets on)" ;;
    download) log "== download: curl GET /big ($BIG_MIB MiB)" ;;
    upload) log "== upload: curl POST $BIG_MIB MiB to /upload (streamed; nginx: proxy_request_buffering off)" ;;
    *) die "unknown scenario '$sc' (keepalive handshake resumption download upload)" ;;
    esac
    CUR_SCENARIO=$sc
    for name in "${PROXIES[@]}"; do
        if [[ -n ${DOWN[$name]:-} ]]; then
            log "  $(printf '%-8s' "$name") skipped (not up)"
            continue
        fi
        if ! start_proxy "$name"; then
            log "  $(printf '%-8s' "$name") NOT UP: ${DOWN[$name]}"
            continue
        fi
        [[ -n ${RES[$name:headers]:-} ]] || check_headers "$name"
        case $sc in
        keepalive) run_keepalive "$name" ;;
        handshake) run_handshake "$name" ;;
        resumption) run_resumption "$name" ;;
        download | upload) run_transfer "$name" "$sc" ;;
        esac
        if ! is_alive "$PROXY_PID"; then
            stop_pid "$PROXY_PID"   # reaps it
            warn "$name died during $sc (status $STOP_STATUS; its figure is discarded): $(tail -c 300 "$WORK/proxy-$name.log" | tr '\n' ' ')"
            RES[$name:$sc]=n/a
            RES[$name:problems]+="$sc: died (status $STOP_STATUS); "
        else
            stop_proxy "$name" "$sc"
        fi
    done
}

# ------------------------------------------------------------------ summary

print_summary() {
    local name sc r line
    log ""
    log "== results ($(nproc) cores shared by clients, proxies and upstream: compare ratios, not absolutes)"
    printf '%-38s' "metric"
    for name in "${PROXIES[@]}"; do printf '%12s' "$name"; done
    printf '%12s\n' "moat/nginx"
    row() { # LABEL KEY [DECIMALS]
        printf '%-38s' "$1"
        for name in "${PROXIES[@]}"; do printf '%12s' "$(fmt "${RES[$name:$2]:-n/a}" "${3:-0}")"; done
        printf '%12s\n' "$(ratio "${RES[moat:$2]:-}" "${RES[nginx:$2]:-}")"
    }
    rssrow() { # LABEL KEY
        printf '%-38s' "$1"
        for name in "${PROXIES[@]}"; do
            if [[ -n ${RES[$name:$2]:-} ]]; then printf '%12s' "$(kib_to_mib "${RES[$name:$2]}")"
            else printf '%12s' n/a; fi
        done
        printf '%12s\n' "$(ratio "${RES[moat:$2]:-}" "${RES[nginx:$2]:-}")"
    }
    for sc in $SCENARIOS; do
        case $sc in
        keepalive) row "keepalive req/s" keepalive ;;
        handshake) row "handshake req/s" handshake ;;
        resumption) row "resumption req/s" resumption ;;
        download | upload)
            row "$sc MiB/s" "$sc" 1
            rssrow "$sc peak RSS MiB, largest proc" "${sc}_rss_max"
            rssrow "$sc peak RSS MiB, sum of procs" "${sc}_rss_sum"
            ;;
        esac
    done
    log ""
    log "security headers seen on responses:"
    for name in "${PROXIES[@]}"; do log "  $(printf '%-8s' "$name") ${RES[$name:headers]:-n/a}"; done
    log "notes: session tickets are on for every proxy in the resumption scenario only (nginx/HAProxy"
    log "       have them off elsewhere; moat keeps its default, on, which h2load and kept-alive wrk"
    log "       never use); nginx and HAProxy are configured to add the same headers as moat (see"
    log "       above), with a per-request CSP nonce; nginx keeps proxy_buffering on (default) and"
    log "       proxy_request_buffering off; RSS is VmHWM of a proxy started fresh for the scenario."
    for name in "${PROXIES[@]}"; do
        [[ -n ${DOWN[$name]:-} ]] && log "NOT MEASURED: $name ${DOWN[$name]}"
        [[ -n ${RES[$name:problems]:-} ]] && log "PROBLEMS: $name ${RES[$name:problems]}"
    done

    log ""
    summary() { # KEY LABEL TARGET-TEXT DECIMALS
        line="$2: moat=$(fmt "${RES[moat:$1]:-n/a}" "$4") nginx=$(fmt "${RES[nginx:$1]:-n/a}" "$4")"
        [[ $WITH_HAPROXY == 1 ]] && line+=" haproxy=$(fmt "${RES[haproxy:$1]:-n/a}" "$4")"
        line+=" ratio=$(ratio "${RES[moat:$1]:-}" "${RES[nginx:$1]:-}") ($3)"
        log "$line"
    }
    for sc in $SCENARIOS; do
        case $sc in
        keepalive) summary keepalive keepalive_rps "target >= 0.90" 0 ;;
        handshake) summary handshake handshake_rps "no target; nginx without resumption" 0 ;;
        resumption) summary resumption resumption_rps "target >= 1.00: nginx with tickets on" 0 ;;
        download | upload)
            summary "$sc" "${sc}_mibps" "no target" 1
            r=${RES[moat:${sc}_rss_max]:-}
            line="${sc}_peak_rss_mib: moat=$( [[ -n $r ]] && kib_to_mib "$r" || echo n/a)"
            line+=" nginx_worker=$( [[ -n ${RES[nginx:${sc}_rss_child]:-} ]] && kib_to_mib "${RES[nginx:${sc}_rss_child]}" || echo n/a)"
            line+=" nginx_master=$( [[ -n ${RES[nginx:${sc}_rss_main]:-} ]] && kib_to_mib "${RES[nginx:${sc}_rss_main]}" || echo n/a)"
            [[ $WITH_HAPROXY == 1 ]] && line+=" haproxy=$( [[ -n ${RES[haproxy:${sc}_rss_max]:-} ]] && kib_to_mib "${RES[haproxy:${sc}_rss_max]}" || echo n/a)"
            line+=" (target: moat < 64 MiB with BENCH_BIG_MIB=1024"
            [[ -n $r ]] && line+="; $( ((r < 65536)) && echo met || echo NOT met) at $BIG_MIB MiB"
            line+=")"
            log "$line"
            ;;
        esac
    done
}

# --------------------------------------------------------------------- main

main() {
    check_tools
    check_moat
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/moat-bench.XXXXXX")
    log "moat bench: $MOAT ($("$MOAT" --version 2>/dev/null | head -1 || echo 'version unknown'))"
    log "            vs $(nginx -v 2>&1 | sed 's/^nginx version: //')$([[ $WITH_HAPROXY == 1 ]] && echo ", $(haproxy -v | head -1 | cut -d' ' -f1-3)")"
    log "            scenarios: $SCENARIOS; work dir $WORK"
    make_material
    start_upstream
    log "upstream: nginx on 127.0.0.1:$UPSTREAM_PORT (+ upload sink), /big = $BIG_MIB MiB"
    local sc
    for sc in $SCENARIOS; do run_scenario "$sc"; done
    print_summary
    if [[ -n ${DOWN[moat]:-} || -n ${RES[moat:problems]:-} ]]; then EXIT_STATUS=2; fi
    for sc in $SCENARIOS; do
        case $sc in
        keepalive | handshake | resumption | download | upload)
            [[ ${RES[moat:$sc]:-n/a} == n/a ]] && EXIT_STATUS=2 ;;
        esac
    done
    if ((EXIT_STATUS == 2)); then
        log ""
        log "moat was not (fully) measured or misbehaved: see the NOT MEASURED / PROBLEMS / WARNING lines."
    fi
    return "$EXIT_STATUS"
}

main "$@"
