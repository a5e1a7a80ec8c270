/* config_keys.c - the table of configuration keys, and how each type is parsed, checked and
 * printed. */
#include <arpa/inet.h>
#include <ctype.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "config_int.h"
#include "moat/cookie.h"
#include "moat/hdr.h"
#include "moat/httpredir.h"
#include "moat/log.h"
#include "moat/redirect.h"
#include "moat/sandbox.h"
#include "moat/ratelimit.h"
#include "moat/secheaders.h"
#include "moat/shutdown.h"
#include "moat/token.h"
#include "moat/tlsconf.h"

#define MS_S UINT64_C(1000)
#define MS_H UINT64_C(3600000)
#define KIB UINT64_C(1024)
#define MIB (UINT64_C(1024) * 1024)

static int check_priority(const char *value, const char **why);
static int check_tls_profile(const char *value, const char **why);
static int check_tls_pairs(const char *value, const char **why);
static int check_client_auth(const char *value, const char **why);
static int check_token(const char *value, const char **why);
static int check_seccomp(const char *value, const char **why);
static int check_ident(const char *value, const char **why);
static int check_profile(const char *value, const char **why);
static int check_mode(const char *value, const char **why);
static int check_samesite(const char *value, const char **why);
static int check_names(const char *value, const char **why);
static int check_server_name(const char *value, const char **why);
static int check_memlock(const char *value, const char **why);
static int check_sd_target(const char *value, const char **why);
static int check_sd_mode(const char *value, const char **why);
static int check_sd_signal(const char *value, const char **why);
static int check_sd_path(const char *value, const char **why);
static int check_tcp_or_off(const char *value, const char **why);
static int check_host_name(const char *value, const char **why);
static int check_host_list(const char *value, const char **why);
static int check_redirect_code(const char *value, const char **why);
static int check_wrong_host(const char *value, const char **why);
static int check_paths(const char *value, const char **why);

#define OFF(field) offsetof(struct moat_config, field)
#define SZ(field) sizeof(((struct moat_config *)0)->field)

/* Every key moat knows, grouped by section, in the order they are printed. */
/* clang-format off */
static const struct moat_cfg_key keys[] = {
    {.section = "server", .name = "listen", .type = MOAT_CFG_T_LISTEN,
     .offset = OFF(server.listen), .def = "0.0.0.0:8443", .flag = "listen",
     .help = "HTTPS address: IPV4:PORT, [IPV6]:PORT or *:PORT"},
    {.section = "server", .name = "workers", .type = MOAT_CFG_T_UINT,
     .offset = OFF(server.workers), .def = "0", .min = 0, .max = 1024, .flag = "workers",
     .help = "worker threads, 0 = one per CPU core"},
    {.section = "server", .name = "max_connections", .type = MOAT_CFG_T_UINT,
     .offset = OFF(server.max_connections), .def = "1024", .min = 1, .max = 1000000,
     .help = "client connections open at once, in total"},
    {.section = "server", .name = "max_connections_per_ip", .type = MOAT_CFG_T_UINT,
     .offset = OFF(server.max_connections_per_ip), .def = "128", .min = 1, .max = 1000000,
     .help = "client connections open at once from one IP address"},
    {.section = "server", .name = "drain_timeout", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(server.drain_timeout_ms), .def = "10s", .min = 0, .max = MS_H,
     .help = "on SIGTERM/SIGINT, how long requests in flight may take to finish"},
    {.section = "server", .name = "state_dir", .type = MOAT_CFG_T_PATH,
     .offset = OFF(server.state_dir), .size = SZ(server.state_dir), .def = "",
     .flag = "state-dir", .help = "writable directory for generated state, \"\" = automatic"},

    {.section = "http", .name = "listen", .type = MOAT_CFG_T_BIND,
     .offset = OFF(http.listen), .def = "0.0.0.0:8080", .flag = "http-listen",
     .check = check_tcp_or_off,
     .help = "plain-HTTP listener (redirects to HTTPS): HOST:PORT, *:PORT or off"},
    {.section = "http", .name = "canonical_host", .type = MOAT_CFG_T_STRING,
     .offset = OFF(http.canonical_host), .size = SZ(http.canonical_host), .def = "",
     .check = check_host_name,
     .help = "host every redirect goes to; \"\" = the names in the served certificate"},
    {.section = "http", .name = "aliases", .type = MOAT_CFG_T_STRING,
     .offset = OFF(http.aliases), .size = SZ(http.aliases), .def = "",
     .check = check_host_list,
     .help = "other Host names redirected to the canonical host (comma-separated)"},
    {.section = "http", .name = "redirect_port", .type = MOAT_CFG_T_UINT,
     .offset = OFF(http.redirect_port), .def = "0", .min = 0, .max = 65535,
     .help = "port written in Location; 0 = the HTTPS listener's (443 is left out)"},
    {.section = "http", .name = "redirect_code", .type = MOAT_CFG_T_STRING,
     .offset = OFF(http.redirect_code), .size = SZ(http.redirect_code), .def = "308",
     .check = check_redirect_code,
     .help = "308, 301, or mixed (301 for GET/HEAD, 308 for other methods)"},
    {.section = "http", .name = "wrong_host_status", .type = MOAT_CFG_T_UINT,
     .offset = OFF(http.wrong_host_status), .def = "421", .min = 400, .max = 421,
     .check = check_wrong_host, .help = "status for a Host that is not ours: 421 or 400"},
    {.section = "http", .name = "proxy_paths", .type = MOAT_CFG_T_STRING,
     .offset = OFF(http.proxy_paths), .size = SZ(http.proxy_paths),
     .def = "/.well-known/acme-challenge/*", .check = check_paths,
     .help = "paths passed to the app over plain HTTP (GET/HEAD; /* = prefix), none for none"},
    {.section = "http", .name = "health_paths", .type = MOAT_CFG_T_STRING,
     .offset = OFF(http.health_paths), .size = SZ(http.health_paths), .def = "/healthz",
     .check = check_paths,
     .help = "paths answered 200 locally, whatever the Host (/* = prefix), none for none"},
    {.section = "http", .name = "max_connections", .type = MOAT_CFG_T_UINT,
     .offset = OFF(http.max_connections), .def = "256", .min = 1, .max = 1000000,
     .help = "plain-HTTP connections open at once (per IP: server.max_connections_per_ip)"},

    {.section = "tls", .name = "cert_file", .type = MOAT_CFG_T_PATH,
     .offset = OFF(tls.cert_file), .size = SZ(tls.cert_file), .def = "", .flag = "cert",
     .help = "certificate chain, PEM (required unless --dev)"},
    {.section = "tls", .name = "key_file", .type = MOAT_CFG_T_PATH,
     .offset = OFF(tls.key_file), .size = SZ(tls.key_file), .def = "", .flag = "key",
     .help = "private key, PEM (required unless --dev)"},
    {.section = "tls", .name = "priority", .type = MOAT_CFG_T_STRING,
     .offset = OFF(tls.priority), .size = SZ(tls.priority), .def = "",
     .check = check_priority,
     .help = "custom GnuTLS priority string, \"\" = the profile's"},
    {.section = "tls", .name = "dev", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(tls.dev), .def = "false", .flag = "dev",
     .help = "serve a generated localhost certificate (development only)"},
    {.section = "tls", .name = "extra_certs", .type = MOAT_CFG_T_STRING,
     .offset = OFF(tls.extra_certs), .size = SZ(tls.extra_certs), .def = "",
     .check = check_tls_pairs,
     .help = "more pairs chosen by SNI: CERT:KEY, CERT:KEY (names from the certificates' DNS SANs)"},
    {.section = "tls", .name = "profile", .type = MOAT_CFG_T_STRING,
     .offset = OFF(tls.profile), .size = SZ(tls.profile), .def = "intermediate",
     .check = check_tls_profile,
     .help = "intermediate (TLS 1.2+1.3, AEAD, ECDHE) or modern (TLS 1.3 only)"},
    {.section = "tls", .name = "watch_interval", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(tls.watch_interval_ms), .def = "5s", .min = 0, .max = MS_H,
     .help = "how often to look for changed certificate/key files, 0 = only on SIGHUP"},
    {.section = "tls", .name = "session_tickets", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(tls.session_tickets), .def = "true",
     .help = "resume TLS sessions with tickets (TLS 1.2 and 1.3)"},
    {.section = "tls", .name = "ticket_key_rotation", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(tls.ticket_rotation_ms), .def = "1h", .min = 60 * MS_S, .max = 24 * MS_H,
     .help = "replace the ticket master key this often (also the ticket lifetime)"},
    {.section = "tls", .name = "expiry_warn_days", .type = MOAT_CFG_T_UINT,
     .offset = OFF(tls.expiry_warn_days), .def = "14", .min = 0, .max = 3650,
     .help = "warn when a served certificate expires within this many days, 0 = never"},
    {.section = "tls", .name = "client_ca", .type = MOAT_CFG_T_PATH,
     .offset = OFF(tls.client_ca), .size = SZ(tls.client_ca), .def = "",
     .help = "CA bundle (PEM) that client certificates must chain to"},
    {.section = "tls", .name = "client_auth", .type = MOAT_CFG_T_STRING,
     .offset = OFF(tls.client_auth), .size = SZ(tls.client_auth), .def = "off",
     .check = check_client_auth,
     .help = "client certificates: off, optional or required (needs tls.client_ca)"},
    {.section = "tls", .name = "client_subject_header", .type = MOAT_CFG_T_STRING,
     .offset = OFF(tls.client_subject_header), .size = SZ(tls.client_subject_header),
     .def = "X-Client-Subject", .check = check_token,
     .help = "request header carrying a verified client certificate's subject DN"},

    {.section = "upstream", .name = "url", .type = MOAT_CFG_T_UPSTREAM,
     .offset = OFF(upstream.addr), .size = SZ(upstream.url), .aux = OFF(upstream.url),
     .def = "http://127.0.0.1:8000", .flag = "upstream",
     .help = "the app: http://HOST[:PORT], https://HOST[:PORT] or unix:/PATH"},
    {.section = "upstream", .name = "connect_timeout", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(upstream.connect_timeout_ms), .def = "5s", .min = 1, .max = MS_H,
     .help = "time to connect to the app"},
    {.section = "upstream", .name = "response_timeout", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(upstream.response_timeout_ms), .def = "60s", .min = 1, .max = 24 * MS_H,
     .help = "time for the app to send its response head"},
    {.section = "upstream", .name = "idle_timeout", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(upstream.idle_timeout_ms), .def = "60s", .min = 1, .max = 24 * MS_H,
     .help = "longest silence from the app while a response is streamed"},
    {.section = "upstream", .name = "keepalive_timeout", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(upstream.keepalive_timeout_ms), .def = "30s", .min = 1, .max = MS_H,
     .help = "how long an idle pooled connection to the app is kept"},
    {.section = "upstream", .name = "max_idle", .type = MOAT_CFG_T_UINT,
     .offset = OFF(upstream.max_idle), .def = "64", .min = 0, .max = 65535,
     .help = "idle connections to the app kept, per listener worker"},
    {.section = "upstream", .name = "max_connections", .type = MOAT_CFG_T_UINT,
     .offset = OFF(upstream.max_connections), .def = "512", .min = 1, .max = 1000000,
     .help = "connections to the app open at once, in total"},
    {.section = "upstream", .name = "tls_ca_file", .type = MOAT_CFG_T_PATH,
     .offset = OFF(upstream.tls_ca_file), .size = SZ(upstream.tls_ca_file), .def = "",
     .help = "https:// app: CA bundle its certificate must chain to, empty = the system bundle"},
    {.section = "upstream", .name = "tls_server_name", .type = MOAT_CFG_T_STRING,
     .offset = OFF(upstream.tls_server_name), .size = SZ(upstream.tls_server_name), .def = "",
     .check = check_server_name,
     .help = "https:// app: name its certificate must carry (and SNI), empty = the URL's host"},

    {.section = "limits", .name = "max_header_bytes", .type = MOAT_CFG_T_SIZE,
     .offset = OFF(limits.max_header_bytes), .def = "8k", .min = KIB, .max = MIB,
     .help = "largest request head, else 431"},
    {.section = "limits", .name = "max_headers", .type = MOAT_CFG_T_UINT,
     .offset = OFF(limits.max_headers), .def = "100", .min = 1, .max = 10000,
     .help = "most header fields in a request, else 431"},
    {.section = "limits", .name = "max_uri_bytes", .type = MOAT_CFG_T_SIZE,
     .offset = OFF(limits.max_uri_bytes), .def = "4k", .min = 256, .max = MIB,
     .help = "longest request target, else 414"},
    {.section = "limits", .name = "max_body_bytes", .type = MOAT_CFG_T_SIZE64,
     .offset = OFF(limits.max_body_bytes), .def = "100m", .min = 0, .max = KIB * KIB * MIB,
     .help = "largest request body, else 413; 0 = no limit"},
    {.section = "limits", .name = "header_timeout", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(limits.header_timeout_ms), .def = "10s", .min = 1, .max = MS_H,
     .help = "time for a client to send a whole request head"},
    {.section = "limits", .name = "client_idle_timeout", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(limits.client_idle_timeout_ms), .def = "60s", .min = 1, .max = 24 * MS_H,
     .help = "longest silence from a client (idle keep-alive or slow body)"},

    {.section = "proxy", .name = "trusted_proxies", .type = MOAT_CFG_T_CIDRS,
     .offset = OFF(proxy.trusted), .aux = OFF(proxy.n_trusted), .def = "",
     .help = "networks whose X-Forwarded-* headers are believed (comma separated CIDRs)"},
    {.section = "proxy", .name = "request_id", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(proxy.request_id), .def = "true",
     .help = "generate a request id when the request has none"},
    {.section = "proxy", .name = "request_id_header", .type = MOAT_CFG_T_STRING,
     .offset = OFF(proxy.request_id_header), .size = SZ(proxy.request_id_header),
     .def = "X-Request-Id", .check = check_token,
     .help = "header carrying the request id to the app and in the response"},

    {.section = "log", .name = "level", .type = MOAT_CFG_T_LOGLEVEL,
     .offset = OFF(log.level), .def = "info", .flag = "log-level",
     .help = "least severe events logged: debug, info, warn, error"},
    {.section = "log", .name = "access", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(log.access), .def = "true",
     .help = "write one access-log line per request"},
    {.section = "log", .name = "query", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(log.log_query), .def = "false",
     .help = "include query strings in the access log (they may hold tokens)"},

    {.section = "admin", .name = "listen", .type = MOAT_CFG_T_BIND,
     .offset = OFF(admin.listen), .def = "127.0.0.1:9901", .flag = "admin-listen",
     .help = "admin listener (/metrics, probes): HOST:PORT, unix:/PATH or off"},
    {.section = "admin", .name = "tls", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(admin.tls), .def = "false",
     .help = "serve the admin listener over TLS with the main certificate"},
    {.section = "admin", .name = "ready_interval", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(admin.ready_interval_ms), .def = "2s", .min = 0, .max = MS_H,
     .help = "how often /readyz's upstream check connects to the app; 0 = no check"},
    {.section = "admin", .name = "ready_timeout", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(admin.ready_timeout_ms), .def = "1s", .min = 10, .max = 60 * MS_S,
     .help = "how long one upstream check may wait for the connection"},
    {.section = "admin", .name = "ready_max_age", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(admin.ready_max_age_ms), .def = "10s", .min = 100, .max = 24 * MS_H,
     .help = "/readyz fails when the app last accepted a connection longer ago than this"},

    {.section = "shutdown", .name = "token_file", .type = MOAT_CFG_T_PATH,
     .offset = OFF(shutdown.token_file), .size = SZ(shutdown.token_file),
     .def = MOAT_TOKEN_DEFAULT_FILE,
     .help = "emergency-shutdown token file (else env MOAT_SHUTDOWN_TOKEN); \"\" = env only"},
    {.section = "shutdown", .name = "target", .type = MOAT_CFG_T_STRING,
     .offset = OFF(shutdown.target), .size = SZ(shutdown.target), .def = "child",
     .check = check_sd_target,
     .help = "what the shutdown signals: child, pidfile:/PATH, process:NAME or none"},
    {.section = "shutdown", .name = "mode", .type = MOAT_CFG_T_STRING,
     .offset = OFF(shutdown.mode), .size = SZ(shutdown.mode), .def = "lockdown",
     .check = check_sd_mode, .help = "afterwards: lockdown (answer 503 until restarted) or exit"},
    {.section = "shutdown", .name = "signal", .type = MOAT_CFG_T_STRING,
     .offset = OFF(shutdown.signal), .size = SZ(shutdown.signal), .def = "SIGTERM",
     .check = check_sd_signal,
     .help = "first signal: SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 or SIGKILL"},
    {.section = "shutdown", .name = "grace", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(shutdown.grace_ms), .def = "10s", .min = 100, .max = MS_H,
     .help = "SIGKILL follows when the target still lives this long after the signal"},
    {.section = "shutdown", .name = "allow_plaintext", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(shutdown.allow_plaintext), .def = "false",
     .help = "allow the endpoint on a plain-HTTP admin listener off loopback (warning)"},
    {.section = "shutdown", .name = "https_path", .type = MOAT_CFG_T_STRING,
     .offset = OFF(shutdown.https_path), .size = SZ(shutdown.https_path), .def = "",
     .check = check_sd_path,
     .help = "also serve the endpoint on the HTTPS listener at this path; \"\" = off"},
    {.section = "shutdown", .name = "max_failures", .type = MOAT_CFG_T_UINT,
     .offset = OFF(shutdown.max_failures), .def = "5", .min = 1,
     .max = MOAT_RATELIMIT_MAX_FAILURES_CAP,
     .help = "failed attempts from one client within window that lock it out"},
    {.section = "shutdown", .name = "global_max_failures", .type = MOAT_CFG_T_UINT,
     .offset = OFF(shutdown.global_max_failures), .def = "20", .min = 1,
     .max = MOAT_RATELIMIT_MAX_FAILURES_CAP,
     .help = "failed attempts from all clients within window that lock the endpoint"},
    {.section = "shutdown", .name = "window", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(shutdown.window_ms), .def = "60s", .min = MS_S, .max = 24 * MS_H,
     .help = "the window failed attempts are counted in"},
    {.section = "shutdown", .name = "cooldown", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(shutdown.cooldown_ms), .def = "30s", .min = MS_S, .max = 24 * MS_H,
     .help = "first lockout (429); each further lockout doubles it"},
    {.section = "shutdown", .name = "max_cooldown", .type = MOAT_CFG_T_DURATION,
     .offset = OFF(shutdown.max_cooldown_ms), .def = "1h", .min = MS_S, .max = 24 * MS_H,
     .help = "longest lockout (at least cooldown)"},

    {.section = "sandbox", .name = "enabled", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(sandbox.enabled), .def = "true", .flag = "sandbox", .flag_value = 1,
     .help = "Landlock and seccomp once started; off for debugging only"},
    {.section = "sandbox", .name = "user", .type = MOAT_CFG_T_STRING,
     .offset = OFF(sandbox.user), .size = SZ(sandbox.user), .def = MOAT_PRIVS_DEFAULT_ID,
     .check = check_ident, .help = "user name or uid to become when started as root"},
    {.section = "sandbox", .name = "group", .type = MOAT_CFG_T_STRING,
     .offset = OFF(sandbox.group), .size = SZ(sandbox.group), .def = MOAT_PRIVS_DEFAULT_ID,
     .check = check_ident, .help = "group name or gid to become when started as root"},
    {.section = "sandbox", .name = "allow_root", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(sandbox.allow_root), .def = "false",
     .help = "started as root, stay root (logged as a warning)"},
    {.section = "sandbox", .name = "seccomp", .type = MOAT_CFG_T_STRING,
     .offset = OFF(sandbox.seccomp), .size = SZ(sandbox.seccomp), .def = "kill",
     .check = check_seccomp,
     .help = "a system call outside the allowlist: kill, errno, log or off"},
    {.section = "sandbox", .name = "landlock", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(sandbox.landlock), .def = "true",
     .help = "restrict files and TCP ports with Landlock where the kernel has it"},
    {.section = "sandbox", .name = "lock_memory", .type = MOAT_CFG_T_STRING,
     .offset = OFF(sandbox.lock_memory), .size = SZ(sandbox.lock_memory), .def = "auto",
     .check = check_memlock,
     .help = "keep moat's memory (keys) out of swap: auto, on (or refuse to start), off"},

    {.section = "headers", .name = "profile", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.profile), .size = SZ(headers.profile), .def = "standard",
     .check = check_profile, .help = "security-header profile: standard or strict"},
    {.section = "headers", .name = "hsts_max_age", .type = MOAT_CFG_T_UINT,
     .offset = OFF(headers.hsts_max_age), .def = "63072000", .min = 0, .max = UINT32_MAX,
     .help = "Strict-Transport-Security max-age in seconds"},
    {.section = "headers", .name = "hsts_include_subdomains", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(headers.hsts_include_subdomains), .def = "true",
     .help = "add includeSubDomains to Strict-Transport-Security"},
    {.section = "headers", .name = "hsts_preload", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(headers.hsts_preload), .def = "false",
     .help = "add preload to Strict-Transport-Security"},
    {.section = "headers", .name = "hsts_mode", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.hsts_mode), .size = SZ(headers.hsts_mode), .def = "",
     .check = check_mode, .help = "Strict-Transport-Security: set, default or off"},
    {.section = "headers", .name = "csp", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.csp), .size = SZ(headers.csp), .def = "",
     .help = "Content-Security-Policy; 'nonce-{nonce}' takes the request's nonce"},
    {.section = "headers", .name = "csp_mode", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.csp_mode), .size = SZ(headers.csp_mode), .def = "",
     .check = check_mode, .help = "Content-Security-Policy: set, default or off"},
    {.section = "headers", .name = "csp_report_only", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.csp_report_only), .size = SZ(headers.csp_report_only), .def = "",
     .help = "Content-Security-Policy-Report-Only"},
    {.section = "headers", .name = "csp_report_only_mode", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.csp_report_only_mode), .size = SZ(headers.csp_report_only_mode), .def = "",
     .check = check_mode, .help = "Content-Security-Policy-Report-Only: set, default or off"},
    {.section = "headers", .name = "csp_nonce", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(headers.csp_nonce), .def = "true",
     .help = "a fresh nonce per request, in the CSP and sent to the app"},
    {.section = "headers", .name = "nonce_header", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.nonce_header), .size = SZ(headers.nonce_header),
     .def = "X-CSP-Nonce", .check = check_token,
     .help = "request header carrying the nonce to the app"},
    {.section = "headers", .name = "frame_options", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.frame_options), .size = SZ(headers.frame_options), .def = "",
     .help = "X-Frame-Options"},
    {.section = "headers", .name = "frame_options_mode", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.frame_options_mode), .size = SZ(headers.frame_options_mode), .def = "",
     .check = check_mode, .help = "X-Frame-Options: set, default or off"},
    {.section = "headers", .name = "referrer_policy", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.referrer_policy), .size = SZ(headers.referrer_policy), .def = "",
     .help = "Referrer-Policy"},
    {.section = "headers", .name = "referrer_policy_mode", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.referrer_policy_mode), .size = SZ(headers.referrer_policy_mode), .def = "",
     .check = check_mode, .help = "Referrer-Policy: set, default or off"},
    {.section = "headers", .name = "permissions_policy", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.permissions_policy), .size = SZ(headers.permissions_policy), .def = "",
     .help = "Permissions-Policy"},
    {.section = "headers", .name = "permissions_policy_mode", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.permissions_policy_mode), .size = SZ(headers.permissions_policy_mode), .def = "",
     .check = check_mode, .help = "Permissions-Policy: set, default or off"},
    {.section = "headers", .name = "coop", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.coop), .size = SZ(headers.coop), .def = "",
     .help = "Cross-Origin-Opener-Policy"},
    {.section = "headers", .name = "coop_mode", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.coop_mode), .size = SZ(headers.coop_mode), .def = "",
     .check = check_mode, .help = "Cross-Origin-Opener-Policy: set, default or off"},
    {.section = "headers", .name = "corp", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.corp), .size = SZ(headers.corp), .def = "",
     .help = "Cross-Origin-Resource-Policy"},
    {.section = "headers", .name = "corp_mode", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.corp_mode), .size = SZ(headers.corp_mode), .def = "",
     .check = check_mode, .help = "Cross-Origin-Resource-Policy: set, default or off"},
    {.section = "headers", .name = "coep", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.coep), .size = SZ(headers.coep), .def = "",
     .help = "Cross-Origin-Embedder-Policy"},
    {.section = "headers", .name = "coep_mode", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.coep_mode), .size = SZ(headers.coep_mode), .def = "",
     .check = check_mode, .help = "Cross-Origin-Embedder-Policy: set, default or off"},
    {.section = "headers", .name = "remove", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.remove), .size = SZ(headers.remove),
     .def = "Server, X-Powered-By, X-AspNet-Version, X-AspNetMvc-Version", .check = check_names,
     .help = "headers stripped from the app's responses (comma-separated, none for none)"},
    {.section = "headers", .name = "report_uri", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.report_uri), .size = SZ(headers.report_uri), .def = "",
     .help = "CSP violation reports go here (report-uri and report-to), \"\" = none"},
    {.section = "headers", .name = "custom", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.custom), .size = SZ(headers.custom), .def = "",
     .help = "extra headers: [set|default|off] Name: value, separated by |"},
    {.section = "headers", .name = "overrides", .type = MOAT_CFG_T_STRING,
     .offset = OFF(headers.overrides), .size = SZ(headers.overrides), .def = "",
     .help = "per-path changes: /PREFIX [MODE] header: value, separated by |"},

    {.section = "cookies", .name = "harden", .type = MOAT_CFG_T_BOOL,
     .offset = OFF(cookies.harden), .def = "true",
     .help = "add Secure, HttpOnly and SameSite to the app's cookies when missing"},
    {.section = "cookies", .name = "script_readable", .type = MOAT_CFG_T_STRING,
     .offset = OFF(cookies.script_readable), .size = SZ(cookies.script_readable), .def = "",
     .check = check_names, .help = "cookie names that get no HttpOnly (comma-separated)"},
    {.section = "cookies", .name = "samesite", .type = MOAT_CFG_T_STRING,
     .offset = OFF(cookies.samesite), .size = SZ(cookies.samesite), .def = "Lax",
     .check = check_samesite, .help = "SameSite added when missing: Lax, Strict or off"},
};
/* clang-format on */

_Static_assert(sizeof keys / sizeof keys[0] <= MOAT_CFG_MAX_KEYS,
               "MOAT_CFG_MAX_KEYS is too small for the key table");

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const struct moat_cfg_key *moat_cfg_keys(size_t *n)
{
    *n = sizeof keys / sizeof keys[0];
    return keys;
}

int moat_cfg_key_find(const char *section, const char *name)
{
    size_t i;

    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcasecmp(keys[i].section, section) == 0 && strcasecmp(keys[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

int moat_config_key_index(const char *section, const char *name)
{
    return moat_cfg_key_find(section, name);
}

int moat_cfg_section_known(const char *section)
{
    size_t i;

    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcasecmp(keys[i].section, section) == 0)
            return 1;
    }
    return 0;
}

/* Validates a GnuTLS priority string by compiling it ("" = the profile's). */
static int check_priority(const char *value, const char **why)
{
    gnutls_priority_t prio;
    const char *errpos = NULL;

    if (value[0] == '\0')
        return 0;
    if (gnutls_priority_init(&prio, value, &errpos) < 0) {
        *why = "not a valid GnuTLS priority string";
        return -1;
    }
    gnutls_priority_deinit(prio);
    return 0;
}

/* Validates a TLS profile name. */
static int check_tls_profile(const char *value, const char **why)
{
    enum moat_tls_profile p;

    if (moat_tls_profile_parse(value, &p) != 0) {
        *why = "must be intermediate or modern";
        return -1;
    }
    return 0;
}

/* Validates the tls.extra_certs list syntax (the files are checked at startup). */
static int check_tls_pairs(const char *value, const char **why)
{
    static struct moat_tls_pair pairs[MOAT_TLS_MAX_PAIRS - 1]; /* large: off the stack */
    size_t n = 0;

    if (moat_tls_pairs_parse(value, pairs, MOAT_TLS_MAX_PAIRS - 1, &n, NULL, 0) != 0) {
        *why = "must be CERT:KEY pairs of absolute paths separated by commas (at most 15)";
        return -1;
    }
    return 0;
}

/* Validates a client certificate mode. */
static int check_client_auth(const char *value, const char **why)
{
    enum moat_tls_client_auth a;

    if (moat_tls_client_auth_parse(value, &a) != 0) {
        *why = "must be off, optional or required";
        return -1;
    }
    return 0;
}

/* Validates an HTTP header name. */
static int check_token(const char *value, const char **why)
{
    if (!moat_hdr_is_token(value, strlen(value))) {
        *why = "must be an HTTP header name (RFC 9110 token)";
        return -1;
    }
    return 0;
}

/* sandbox.lock_memory: auto, on or off. */
static int check_memlock(const char *value, const char **why)
{
    enum moat_memlock_mode m;

    if (moat_memlock_parse(value, &m) != 0) {
        *why = "must be auto, on or off";
        return -1;
    }
    return 0;
}

/* A DNS name (letters, digits, '-', '.') or an IPv4/IPv6 address, or "". */
static int check_server_name(const char *value, const char **why)
{
    unsigned char bin[16];
    size_t n = strlen(value);

    if (n == 0 || inet_pton(AF_INET, value, bin) == 1 || inet_pton(AF_INET6, value, bin) == 1)
        return 0;
    if (strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != n ||
        value[0] == '-' || value[0] == '.' || strstr(value, "..") != NULL) {
        *why = "must be a DNS name or an IP address";
        return -1;
    }
    return 0;
}

/* Validates a header profile. */
static int check_profile(const char *value, const char **why)
{
    enum moat_sech_profile p;

    if (moat_secheaders_profile_parse(value, &p) != 0) {
        *why = "must be standard or strict";
        return -1;
    }
    return 0;
}

/* Validates a header mode ("" = the profile's). */
static int check_mode(const char *value, const char **why)
{
    enum moat_sech_mode m;

    if (value[0] != '\0' &&
        (moat_secheaders_mode_parse(value, &m) != 0 || m == MOAT_SECH_INHERIT)) {
        *why = "must be set, default or off";
        return -1;
    }
    return 0;
}

/* Validates a cookie SameSite choice. */
static int check_samesite(const char *value, const char **why)
{
    enum moat_cookie_samesite ss;

    if (moat_cookie_samesite_parse(value, &ss) != 0) {
        *why = "must be Lax, Strict or off";
        return -1;
    }
    return 0;
}

/* Validates a list of header or cookie names: tokens separated by commas and/or spaces. */
static int check_names(const char *value, const char **why)
{
    const char *item;
    size_t pos = 0, n;

    while ((item = moat_hdr_list_next(value, &pos, &n)) != NULL) {
        if (!moat_hdr_is_token(item, n)) {
            *why = "must be names (RFC 9110 tokens) separated by commas";
            return -1;
        }
    }
    return 0;
}

/* Validates a seccomp mode. */
static int check_seccomp(const char *value, const char **why)
{
    enum moat_sb_seccomp mode;

    if (moat_sandbox_seccomp_parse(value, &mode) != 0) {
        *why = "must be kill, errno, log or off";
        return -1;
    }
    return 0;
}

/* Validates shutdown.target. */
static int check_sd_target(const char *value, const char **why)
{
    struct moat_sd_target t;

    return moat_sd_target_parse(value, &t, why);
}

/* Validates shutdown.mode. */
static int check_sd_mode(const char *value, const char **why)
{
    enum moat_sd_mode m;

    if (moat_sd_mode_parse(value, &m) != 0) {
        *why = "must be lockdown or exit";
        return -1;
    }
    return 0;
}

/* Validates shutdown.signal. */
static int check_sd_signal(const char *value, const char **why)
{
    int sig;

    if (moat_sd_signal_parse(value, &sig) != 0) {
        *why = "must be SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 or SIGKILL";
        return -1;
    }
    return 0;
}

/* Validates shutdown.https_path ("" = off). */
static int check_sd_path(const char *value, const char **why)
{
    return moat_sd_path_check(value, why);
}

/* Validates a user or group: a name or a number, not empty. */
static int check_ident(const char *value, const char **why)
{
    size_t i;

    for (i = 0; value[i] != '\0'; i++) {
        if (!isalnum((unsigned char)value[i]) && strchr("._-", value[i]) == NULL)
            break;
    }
    if (i == 0 || value[i] != '\0' || value[0] == '-') {
        *why = "must be a user/group name or a numeric id";
        return -1;
    }
    return 0;
}

/* Validates the plain-HTTP listener address: TCP or off (no Unix socket). */
static int check_tcp_or_off(const char *value, const char **why)
{
    if (strncasecmp(value, "unix:", 5) == 0) {
        *why = "the plain-HTTP listener takes HOST:PORT, *:PORT or off";
        return -1;
    }
    return 0;
}

/* Validates one host name for the redirect policy ("" allowed: unset). */
static int check_host_name(const char *value, const char **why)
{
    if (value[0] != '\0' && !moat_redirect_name_ok(value)) {
        *why = "must be a host name, IPv4 address or [IPv6] literal, without port (IDN as xn--)";
        return -1;
    }
    return 0;
}

/* Validates a comma/space separated list of host names. */
static int check_host_list(const char *value, const char **why)
{
    char name[MOAT_CFG_STR];
    const char *item;
    size_t pos = 0, n;

    while ((item = moat_hdr_list_next(value, &pos, &n)) != NULL) {
        if (n >= sizeof(name)) {
            *why = "a name is too long";
            return -1;
        }
        memcpy(name, item, n);
        name[n] = '\0';
        if (check_host_name(name, why) != 0)
            return -1;
    }
    return 0;
}

/* Validates http.redirect_code. */
static int check_redirect_code(const char *value, const char **why)
{
    enum moat_redirect_code_mode m;

    if (moat_redirect_code_parse(value, &m) != 0) {
        *why = "must be 308, 301 or mixed";
        return -1;
    }
    return 0;
}

/* Validates http.wrong_host_status (already a number in 400..421). */
static int check_wrong_host(const char *value, const char **why)
{
    if (strcmp(value, "400") != 0 && strcmp(value, "421") != 0) {
        *why = "must be 421 or 400";
        return -1;
    }
    return 0;
}

/* Validates a list of exempted paths ("/exact", or a prefix ending in '/' and '*';
 * comma-separated) or "none". */
static int check_paths(const char *value, const char **why)
{
    struct moat_redirect_exemption ex[MOAT_HTTPREDIR_MAX_PATHS];
    char store[MOAT_CFG_PATH];
    size_t n = 0;

    return moat_httpredir_paths_parse(value, MOAT_REDIRECT_EXEMPT_PROXY, ex,
                                      MOAT_HTTPREDIR_MAX_PATHS, &n, store, sizeof(store), why);
}

/* Writes the bound n of key k in its own unit ("16k", "10s", "5"). */
static void format_bound(const struct moat_cfg_key *k, uint64_t n, char *out, size_t outlen)
{
    int rc;

    if (k->type == MOAT_CFG_T_DURATION)
        rc = moat_cfg_format_duration(n, out, outlen);
    else if (k->type == MOAT_CFG_T_SIZE || k->type == MOAT_CFG_T_SIZE64)
        rc = moat_cfg_format_size(n, out, outlen);
    else
        rc = snprintf(out, outlen, "%" PRIu64, n) > 0 ? 0 : -1;
    if (rc != 0 && outlen > 0)
        out[0] = '\0';
}

/* Parses a numeric key into *v and checks its bounds. */
static int set_number(const struct moat_cfg_key *k, const char *value, uint64_t *v, char *why,
                      size_t whylen)
{
    char lo[32];
    char hi[32];
    int rc = -1;

    if (k->type == MOAT_CFG_T_DURATION) {
        if (moat_cfg_parse_duration(value, v) != 0) {
            snprintf(why, whylen, "expected a duration such as 250ms, 10s, 2m or 1h");
            goto out;
        }
    } else if (k->type == MOAT_CFG_T_SIZE || k->type == MOAT_CFG_T_SIZE64) {
        if (moat_cfg_parse_size(value, v) != 0) {
            snprintf(why, whylen, "expected a size in bytes such as 8192, 16k, 100m or 1g");
            goto out;
        }
    } else if (moat_cfg_parse_u64(value, v) != 0) {
        snprintf(why, whylen, "expected a non-negative integer");
        goto out;
    }
    if (*v < k->min || *v > k->max) {
        format_bound(k, k->min, lo, sizeof lo);
        format_bound(k, k->max, hi, sizeof hi);
        snprintf(why, whylen, "must be between %s and %s", lo, hi);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* Copies a text value into the fixed buffer of key k. */
static int set_text(const struct moat_cfg_key *k, char *dst, const char *value, char *why,
                    size_t whylen)
{
    const char *reason = NULL;
    size_t len = strlen(value);
    size_t i;

    for (i = 0; i < len; i++) {
        if (iscntrl((unsigned char)value[i])) {
            snprintf(why, whylen, "contains control characters");
            return -1;
        }
    }
    if (len >= k->size) {
        snprintf(why, whylen, "too long (at most %zu bytes)", k->size - 1);
        return -1;
    }
    if (k->check != NULL && k->check(value, &reason) != 0) {
        snprintf(why, whylen, "%s", reason);
        return -1;
    }
    memset(dst, 0, k->size);
    memcpy(dst, value, len);
    return 0;
}

/* Parses a comma/space separated list of CIDRs into nets[]/count. */
static int set_cidrs(const struct moat_cfg_key *k, struct moat_cidr *nets, size_t *count,
                     const char *value, char *why, size_t whylen)
{
    static const char seps[] = ", \t";
    struct moat_cidr parsed[MOAT_CFG_MAX_CIDRS];
    char item[64];
    const char *p = value;
    const char *reason = NULL;
    size_t n = 0;
    size_t len;
    int rc = -1;

    p += strspn(p, seps);
    while (*p != '\0') {
        len = strcspn(p, seps);
        if (n == MOAT_CFG_MAX_CIDRS) {
            snprintf(why, whylen, "too many networks (at most %d)", MOAT_CFG_MAX_CIDRS);
            goto out;
        }
        if (len >= sizeof item) {
            snprintf(why, whylen, "an entry is too long to be a network");
            goto out;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (moat_cfg_parse_cidr(item, &parsed[n], &reason) != 0) {
            if (k->secret)
                snprintf(why, whylen, "%s", reason);
            else
                snprintf(why, whylen, "\"%s\": %s", item, reason);
            goto out;
        }
        n++;
        p += len;
        p += strspn(p, seps);
    }
    memcpy(nets, parsed, n * sizeof parsed[0]);
    *count = n;
    rc = 0;
out:
    return rc;
}

int moat_cfg_key_set(struct moat_config *cfg, const struct moat_cfg_key *k, const char *value,
                     char *why, size_t whylen)
{
    char *base = (char *)cfg;
    char *dst = base + k->offset;
    const char *reason = NULL;
    uint64_t v = 0;
    int b;
    enum moat_log_level level;
    struct moat_upstream_addr up;
    int rc = -1;

    memset(&up, 0, sizeof up);
    switch (k->type) {
    case MOAT_CFG_T_BOOL:
        if (moat_cfg_parse_bool(value, &b) != 0) {
            snprintf(why, whylen, "expected true or false (yes/no, on/off, 1/0)");
            goto out;
        }
        *(int *)(void *)dst = b;
        break;
    case MOAT_CFG_T_UINT:
    case MOAT_CFG_T_SIZE:
    case MOAT_CFG_T_DURATION:
        if (set_number(k, value, &v, why, whylen) != 0)
            goto out;
        if (k->check != NULL && k->check(value, &reason) != 0) {
            snprintf(why, whylen, "%s", reason);
            goto out;
        }
        *(unsigned *)(void *)dst = (unsigned)v;
        break;
    case MOAT_CFG_T_SIZE64:
        if (set_number(k, value, &v, why, whylen) != 0)
            goto out;
        *(uint64_t *)(void *)dst = v;
        break;
    case MOAT_CFG_T_STRING:
    case MOAT_CFG_T_PATH:
        if (set_text(k, dst, value, why, whylen) != 0)
            goto out;
        break;
    case MOAT_CFG_T_LISTEN:
        if (moat_cfg_parse_listen(value, (struct moat_listen_addr *)(void *)dst, &reason) != 0) {
            snprintf(why, whylen, "%s", reason);
            goto out;
        }
        break;
    case MOAT_CFG_T_UPSTREAM:
        if (strlen(value) >= k->size) {
            snprintf(why, whylen, "too long (at most %zu bytes)", k->size - 1);
            goto out;
        }
        if (moat_cfg_parse_upstream(value, &up, &reason) != 0) {
            snprintf(why, whylen, "%s", reason);
            goto out;
        }
        memcpy(dst, &up, sizeof up);
        memset(base + k->aux, 0, k->size);
        memcpy(base + k->aux, value, strlen(value));
        break;
    case MOAT_CFG_T_CIDRS:
        if (set_cidrs(k, (struct moat_cidr *)(void *)dst, (size_t *)(void *)(base + k->aux), value,
                      why, whylen) != 0)
            goto out;
        break;
    case MOAT_CFG_T_BIND:
        if (k->check != NULL && k->check(value, &reason) != 0) {
            snprintf(why, whylen, "%s", reason);
            goto out;
        }
        if (moat_cfg_parse_bind(value, (struct moat_bind_addr *)(void *)dst, &reason) != 0) {
            snprintf(why, whylen, "%s", reason);
            goto out;
        }
        break;
    case MOAT_CFG_T_LOGLEVEL:
        if (moat_log_level_parse(value, &level) != 0) {
            snprintf(why, whylen, "expected debug, info, warn or error");
            goto out;
        }
        *(int *)(void *)dst = (int)level;
        break;
    default:
        snprintf(why, whylen, "internal error: unknown key type");
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* Writes the networks as "A/N, B/M". */
static int format_cidrs(const struct moat_cidr *nets, size_t n, char *out, size_t outlen)
{
    char addr[INET6_ADDRSTRLEN];
    size_t used = 0;
    size_t i;
    int w;

    out[0] = '\0';
    for (i = 0; i < n; i++) {
        if (inet_ntop(nets[i].family, nets[i].addr, addr, sizeof addr) == NULL)
            return -1;
        w = snprintf(out + used, outlen - used, "%s%s/%u", i > 0 ? ", " : "", addr, nets[i].prefix);
        if (w < 0 || (size_t)w >= outlen - used)
            return -1;
        used += (size_t)w;
    }
    return 0;
}

int moat_cfg_key_format(const struct moat_config *cfg, const struct moat_cfg_key *k, char *out,
                        size_t outlen)
{
    const char *base = (const char *)cfg;
    const void *src = base + k->offset;
    const struct moat_listen_addr *la;
    int level;
    int n;

    switch (k->type) {
    case MOAT_CFG_T_BOOL:
        n = snprintf(out, outlen, "%s", *(const int *)src ? "true" : "false");
        break;
    case MOAT_CFG_T_UINT:
        n = snprintf(out, outlen, "%u", *(const unsigned *)src);
        break;
    case MOAT_CFG_T_SIZE:
        return moat_cfg_format_size(*(const unsigned *)src, out, outlen);
    case MOAT_CFG_T_SIZE64:
        return moat_cfg_format_size(*(const uint64_t *)src, out, outlen);
    case MOAT_CFG_T_DURATION:
        return moat_cfg_format_duration(*(const unsigned *)src, out, outlen);
    case MOAT_CFG_T_STRING:
    case MOAT_CFG_T_PATH:
        n = snprintf(out, outlen, "%s", (const char *)src);
        break;
    case MOAT_CFG_T_LISTEN:
        la = src;
        n = snprintf(out, outlen, la->family == AF_INET6 ? "[%s]:%u" : "%s:%u", la->host,
                     (unsigned)la->port);
        break;
    case MOAT_CFG_T_UPSTREAM:
        n = snprintf(out, outlen, "%s", base + k->aux);
        break;
    case MOAT_CFG_T_BIND:
        return moat_config_format_bind(src, out, outlen);
    case MOAT_CFG_T_CIDRS:
        return format_cidrs(src, *(const size_t *)(const void *)(base + k->aux), out, outlen);
    case MOAT_CFG_T_LOGLEVEL:
        level = *(const int *)src;
        if (level < 0 || level > MOAT_LOG_ERROR)
            return -1;
        n = snprintf(out, outlen, "%s", level_names[level]);
        break;
    default:
        return -1;
    }
    return (n >= 0 && (size_t)n < outlen) ? 0 : -1;
}

int moat_config_format_bind(const struct moat_bind_addr *b, char *out, size_t outlen)
{
    int n;

    if (b->kind == MOAT_BIND_OFF)
        n = snprintf(out, outlen, "off");
    else if (b->kind == MOAT_BIND_UNIX)
        n = snprintf(out, outlen, "unix:%s", b->path);
    else
        n = snprintf(out, outlen, b->tcp.family == AF_INET6 ? "[%s]:%u" : "%s:%u", b->tcp.host,
                     (unsigned)b->tcp.port);
    return (n >= 0 && (size_t)n < outlen) ? 0 : -1;
}

/* Writes MOAT_<SECTION>_<KEY> for key k. */
void moat_cfg_env_name(const struct moat_cfg_key *k, char *out, size_t outlen)
{
    size_t i;

    snprintf(out, outlen, "MOAT_%s_%s", k->section, k->name);
    for (i = 0; out[i] != '\0'; i++)
        out[i] = (char)toupper((unsigned char)out[i]);
}

/* Writes where key idx got its value: "default", "conf/moat.conf:12", "env MOAT_X", "flag --x". */
void moat_cfg_source_text(const struct moat_config *cfg, size_t idx, char *out, size_t outlen)
{
    size_t n;
    const struct moat_cfg_key *k = &moat_cfg_keys(&n)[idx];
    const struct moat_cfg_source *s = &cfg->sources[idx];
    char name[128];

    switch (s->origin) {
    case MOAT_CFG_FROM_FILE:
        snprintf(out, outlen, "%s:%u", cfg->source_file, s->line);
        break;
    case MOAT_CFG_FROM_ENV:
        moat_cfg_env_name(k, name, sizeof name);
        snprintf(out, outlen, "env %s", name);
        break;
    case MOAT_CFG_FROM_FLAG:
        snprintf(out, outlen, "flag --%s", k->flag != NULL ? k->flag : "?");
        break;
    default:
        snprintf(out, outlen, "default");
        break;
    }
}
