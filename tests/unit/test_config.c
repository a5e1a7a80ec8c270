/* test_config.c - unit tests for loading the configuration: file, env, flags, precedence, print,
 * help. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "moat/config.h"
#include "moat/log.h"
#include "moat/secheaders.h"
#include "test_config_util.h"

#define MOAT_TEST_N_KEYS 103 /* keys in the table (and in conf/moat.conf) */

START_TEST(test_defaults)
{
    struct moat_config cfg;
    struct moat_cli cli;
    char err[512];
    const char *env[] = {"MOAT_CONFIG=/dev/null", NULL};
    const char *args[] = {"--dev", NULL};
    size_t i;

    ck_assert_msg(load(args, env, &cfg, &cli, err, sizeof err) == 0, "err: %s", err);
    ck_assert_str_eq(cfg.source_file, "/dev/null");
    ck_assert_str_eq(cfg.server.listen.host, "0.0.0.0");
    ck_assert_uint_eq(cfg.server.listen.port, 8443);
    ck_assert_uint_eq(cfg.server.workers, 0);
    ck_assert_uint_eq(cfg.server.max_connections, 1024);
    ck_assert_uint_eq(cfg.server.max_connections_per_ip, 128);
    ck_assert_uint_eq(cfg.server.drain_timeout_ms, 10000);
    ck_assert_str_eq(cfg.server.state_dir, "");
    ck_assert_str_eq(cfg.tls.cert_file, "");
    ck_assert_str_eq(cfg.tls.key_file, "");
    ck_assert_str_eq(cfg.tls.priority, ""); /* the profile's */
    ck_assert_int_eq(cfg.tls.dev, 1);
    ck_assert_str_eq(cfg.tls.profile, "intermediate");
    ck_assert_str_eq(cfg.tls.extra_certs, "");
    ck_assert_uint_eq(cfg.tls.watch_interval_ms, 5000);
    ck_assert_int_eq(cfg.tls.session_tickets, 1);
    ck_assert_uint_eq(cfg.tls.ticket_rotation_ms, 3600000);
    ck_assert_uint_eq(cfg.tls.expiry_warn_days, 14);
    ck_assert_str_eq(cfg.tls.client_ca, "");
    ck_assert_str_eq(cfg.tls.client_auth, "off");
    ck_assert_str_eq(cfg.tls.client_subject_header, "X-Client-Subject");
    ck_assert_str_eq(cfg.upstream.url, "http://127.0.0.1:8000");
    ck_assert_int_eq(cfg.upstream.addr.kind, MOAT_UPSTREAM_TCP);
    ck_assert_str_eq(cfg.upstream.addr.host, "127.0.0.1");
    ck_assert_uint_eq(cfg.upstream.addr.port, 8000);
    ck_assert_uint_eq(cfg.upstream.connect_timeout_ms, 5000);
    ck_assert_uint_eq(cfg.upstream.response_timeout_ms, 60000);
    ck_assert_uint_eq(cfg.upstream.idle_timeout_ms, 60000);
    ck_assert_uint_eq(cfg.upstream.keepalive_timeout_ms, 30000);
    ck_assert_uint_eq(cfg.upstream.max_idle, 64);
    ck_assert_uint_eq(cfg.upstream.max_connections, 512);
    ck_assert_uint_eq(cfg.limits.max_header_bytes, 8192);
    ck_assert_uint_eq(cfg.limits.max_headers, 100);
    ck_assert_uint_eq(cfg.limits.max_uri_bytes, 4096);
    ck_assert(cfg.limits.max_body_bytes == UINT64_C(100) * 1024 * 1024);
    ck_assert_uint_eq(cfg.limits.header_timeout_ms, 10000);
    ck_assert_uint_eq(cfg.limits.client_idle_timeout_ms, 60000);
    ck_assert_uint_eq(cfg.proxy.n_trusted, 0);
    ck_assert_int_eq(cfg.proxy.request_id, 1);
    ck_assert_str_eq(cfg.proxy.request_id_header, "X-Request-Id");
    ck_assert_int_eq(cfg.log.level, MOAT_LOG_INFO);
    ck_assert_int_eq(cfg.log.access, 1);
    ck_assert_int_eq(cfg.log.log_query, 0);
    ck_assert_int_eq(cfg.sandbox.enabled, 1);
    ck_assert_str_eq(cfg.sandbox.user, "65532");
    ck_assert_str_eq(cfg.sandbox.group, "65532");
    ck_assert_int_eq(cfg.sandbox.allow_root, 0);
    ck_assert_str_eq(cfg.sandbox.seccomp, "kill");
    ck_assert_int_eq(cfg.sandbox.landlock, 1);
    ck_assert_str_eq(cfg.shutdown.token_file, "/run/secrets/moat_shutdown_token");
    ck_assert_str_eq(cfg.shutdown.target, "child");
    ck_assert_str_eq(cfg.shutdown.mode, "lockdown");
    ck_assert_str_eq(cfg.shutdown.signal, "SIGTERM");
    ck_assert_uint_eq(cfg.shutdown.grace_ms, 10000);
    ck_assert_int_eq(cfg.shutdown.allow_plaintext, 0);
    ck_assert_str_eq(cfg.shutdown.https_path, "");
    ck_assert_uint_eq(cfg.shutdown.max_failures, 5);
    ck_assert_uint_eq(cfg.shutdown.global_max_failures, 20);
    ck_assert_uint_eq(cfg.shutdown.window_ms, 60000);
    ck_assert_uint_eq(cfg.shutdown.cooldown_ms, 30000);
    ck_assert_uint_eq(cfg.shutdown.max_cooldown_ms, 3600000);
    ck_assert_str_eq(cfg.http.listen.tcp.host, "0.0.0.0");
    ck_assert_uint_eq(cfg.http.listen.tcp.port, 8080);
    ck_assert_str_eq(cfg.http.canonical_host, "");
    ck_assert_uint_eq(cfg.http.redirect_port, 0);
    ck_assert_str_eq(cfg.http.redirect_code, "308");
    ck_assert_uint_eq(cfg.http.wrong_host_status, 421);
    ck_assert_str_eq(cfg.http.proxy_paths, "/.well-known/acme-challenge/*");
    ck_assert_str_eq(cfg.http.health_paths, "/healthz");
    ck_assert_uint_eq(cfg.http.max_connections, 256);
    for (i = 0; i < MOAT_CFG_MAX_KEYS; i++) {
        if ((int)i != moat_config_key_index("tls", "dev")) /* tls.dev came from --dev */
            ck_assert_uint_eq(cfg.sources[i].origin, MOAT_CFG_FROM_DEFAULT);
    }
    ck_assert_uint_eq(cfg.sources[moat_config_key_index("tls", "dev")].origin, MOAT_CFG_FROM_FLAG);
}
END_TEST

/* ---- the file ---- */

struct file_case {
    const char *content;
    const char *err; /* NULL = loads; else the message after "PATH" */
};

static const struct file_case file_cases[] = {
    {"[server]\nlisten = 127.0.0.1:9443\nworkers = 3\n\n[limits]\nmax_body_bytes = 5m\n", NULL},
    {"# comment\n; comment\n[server]\n  listen = [::1]:9443   # trailing\n\tworkers=3 ; x\n", NULL},
    {"[server]\r\nlisten = 127.0.0.1:9443\r\n", NULL},
    {"[tls]\npriority = NORMAL:\n  -VERS-TLS1.0:\n\t-VERS-TLS1.1\ndev = true\n", NULL},
    {"[server]\n[server]\nworkers = 3\n[tls]\n[server]\nlisten = *:1\n", NULL},
    {"[Server]\nWorkers = 3\n", NULL},
    {"", NULL},
    {"[server]\nlisten = 127.0.0.1:9443\nfoo = 1\n", ":3: unknown key \"foo\" in section [server]"},
    {"[server]\nworkers = 2\n\n# again\nworkers = 3\n",
     ":5: duplicate key \"workers\" in section [server] (first set on line 2)"},
    {"[server]\nworkers = 2\n[tls]\n[server]\nworkers = 3\n",
     ":5: duplicate key \"workers\" in section [server] (first set on line 2)"},
    {"[serv]\nworkers = 2\n", ":1: unknown section [serv]"},
    {"[server]\nworkers = 2\n[shutdwn]\n", ":3: unknown section [shutdwn]"},
    {"workers = 2\n", ":1: key \"workers\" outside any section"},
    {"[server]\nworkers = 2\nlisten = 1.2.3.4:99999\n",
     "server.listen = \"1.2.3.4:99999\" (%s:3): port must be 1-65535"},
    {"[server]\nlisten = 1.2.3.4:99999\nworkers = 2\n",
     "server.listen = \"1.2.3.4:99999\" (%s:2): port must be 1-65535"},
    {"[upstream]\n\nurl = ftp://app\n", "upstream.url = \"ftp://app\" (%s:3): expected http://"},
    {"[upstream]\ntls_ca_file = /etc/ssl/certs/ca-certificates.crt\n",
     "upstream.tls_ca_file (%s:2) is set but upstream.url \"http://127.0.0.1:8000\" is not an "
     "https:// URL"},
    {"[upstream]\ntls_server_name = -bad\n",
     "upstream.tls_server_name = \"-bad\" (%s:2): must be a DNS name"},
    {"[server]\nworkers\n", ":2: syntax error"},
    {"[server\nworkers = 1\n", ":1: syntax error"},
    {"[server]\nworkers = 1\nnope\nfoo = 2\n", ":3: syntax error"},
    {"[server]\nworkers = 1\n[tls]\n  foo bar = x\n",
     ":4: unknown key \"foo bar\" in section [tls]"},
    {"[server]\nlisten = 0.0.0.0:8443\n  workers = 1\n  bogus\n",
     "server.workers = \"1bogus\" (%s:3): expected a non-negative integer"},
    {"[server]\nstate_dir = "
     "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
     ":2: line too long"},
};

START_TEST(test_file)
{
    const struct file_case *c = &file_cases[_i];
    struct moat_config cfg;
    struct moat_cli cli;
    char path[64];
    char opt[128];
    char want[512];
    char err[1024];
    const char *env[] = {NULL};
    const char *args[] = {opt, "--dev", NULL};
    int rc;

    temp_file(path, sizeof path, c->content);
    snprintf(opt, sizeof opt, "--config=%s", path);
    rc = load(args, env, &cfg, &cli, err, sizeof err);
    unlink(path);
    if (c->err == NULL) {
        ck_assert_msg(rc == 0, "case %d: %s", _i, err);
        ck_assert_str_eq(cfg.source_file, path);
        return;
    }
    ck_assert_msg(rc == -1, "case %d loaded", _i);
    if (strstr(c->err, "%s") != NULL) {
        /* "%s" in the expected text stands for the file's path */
        snprintf(want, sizeof want, "%.*s%s%s", (int)(strstr(c->err, "%s") - c->err), c->err, path,
                 strstr(c->err, "%s") + 2);
    } else {
        snprintf(want, sizeof want, "%s%s", path, c->err);
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "want %s got %s", want, err);
    }
    ck_assert_msg(strstr(err, want) != NULL, "want %s got %s", want, err);
}
END_TEST

/* Files with NUL bytes: refused with the line, never cut at the NUL (fgets did). */
struct nul_case {
    const char *content; /* file bytes */
    size_t len;          /* their count (the content holds NULs) */
    const char *err;     /* expected message after "PATH" */
};

#define NUL_LIT(s) s, sizeof(s) - 1

static const struct nul_case nul_cases[] = {
    {NUL_LIT("[tls]\ncert_file = /etc/moat/cert.pem\0.bak\n"), ":2: NUL byte in the line"},
    {NUL_LIT("[server]\nworkers = 3\n\0\n"), ":3: NUL byte in the line"},
    {NUL_LIT("[server]\nworkers = 3\0"), ":2: NUL byte in the line"},
    {NUL_LIT("\xff\xfe[\0s\0e\0r\0v\0e\0r\0]\0\n\0"), ":1: NUL byte in the line"},
};

START_TEST(test_file_nul)
{
    const struct nul_case *c = &nul_cases[_i];
    struct moat_config cfg;
    struct moat_cli cli;
    char path[64];
    char opt[128];
    char want[512];
    char err[1024];
    const char *env[] = {NULL};
    const char *args[] = {opt, "--dev", NULL};
    int rc;

    temp_file_n(path, sizeof path, c->content, c->len);
    snprintf(opt, sizeof opt, "--config=%s", path);
    rc = load(args, env, &cfg, &cli, err, sizeof err);
    unlink(path);
    ck_assert_msg(rc == -1, "case %d loaded", _i);
    snprintf(want, sizeof want, "%s%s", path, c->err);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "want %s got %s", want, err);
}
END_TEST

START_TEST(test_file_values)
{
    struct moat_config cfg;
    struct moat_cli cli;
    char path[64];
    char err[1024];
    const char *env[] = {NULL};
    const char *args[] = {"--config", path, NULL};

    temp_file(path, sizeof path,
              "[server]\nlisten = [::1]:9443\nworkers = 3\n[tls]\ncert_file = /c.pem\n"
              "key_file = /k.pem\npriority = NORMAL:\n    -VERS-TLS1.0\n[upstream]\n"
              "url = unix:/run/app.sock\n[limits]\nmax_body_bytes = 5m\n"
              "[proxy]\ntrusted_proxies = 10.0.0.0/8, fd00::/8\n[log]\nlevel = warn\n");
    ck_assert_msg(load(args, env, &cfg, &cli, err, sizeof err) == 0, "err: %s", err);
    unlink(path);
    ck_assert_str_eq(cfg.server.listen.host, "::1");
    ck_assert_int_eq(cfg.server.listen.family, AF_INET6);
    ck_assert_uint_eq(cfg.server.workers, 3);
    ck_assert_str_eq(cfg.tls.cert_file, "/c.pem");
    ck_assert_str_eq(cfg.tls.key_file, "/k.pem");
    ck_assert_str_eq(cfg.tls.priority, "NORMAL:-VERS-TLS1.0");
    ck_assert_int_eq(cfg.upstream.addr.kind, MOAT_UPSTREAM_UNIX);
    ck_assert_str_eq(cfg.upstream.addr.path, "/run/app.sock");
    ck_assert(cfg.limits.max_body_bytes == 5 * 1024 * 1024);
    ck_assert_uint_eq(cfg.proxy.n_trusted, 2);
    ck_assert_int_eq(cfg.log.level, MOAT_LOG_WARN);
    ck_assert_uint_eq(cfg.sources[0].origin, MOAT_CFG_FROM_FILE);
    ck_assert_uint_eq(cfg.sources[0].line, 2);
    /* tls.priority starts on line 7 */
    ck_assert_uint_eq(cfg.sources[moat_config_key_index("tls", "priority")].line, 7);
}
END_TEST

START_TEST(test_file_missing)
{
    struct moat_config cfg;
    struct moat_cli cli;
    char err[1024];
    const char *env[] = {"MOAT_CONFIG=/nonexistent/moat.conf", NULL};
    const char *args[] = {"--dev", NULL};
    const char *args2[] = {"--dev", "--config", "/nonexistent/other.conf", NULL};
    const char *args3[] = {"--dev", "--config", "/", NULL};
    const char *env_empty[] = {"MOAT_CONFIG=", NULL};

    ck_assert_int_eq(load(args, env, &cfg, &cli, err, sizeof err), -1);
    ck_assert_str_eq(err,
                     "cannot open config file /nonexistent/moat.conf: No such file or directory");
    /* --config beats $MOAT_CONFIG */
    ck_assert_int_eq(load(args2, env, &cfg, &cli, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "/nonexistent/other.conf: No such file") != NULL, "err: %s", err);
    ck_assert_int_eq(load(args3, env, &cfg, &cli, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "config file /: Is a directory") != NULL, "err: %s", err);
    /* no --config, empty $MOAT_CONFIG: the compiled-in default, which may be absent */
    if (access(MOAT_DEFAULT_CONFIG, F_OK) != 0 && errno == ENOENT) {
        ck_assert_msg(load(args, env_empty, &cfg, &cli, err, sizeof err) == 0, "err: %s", err);
        ck_assert_str_eq(cfg.source_file, "");
    }
}
END_TEST

/* ---- sources and precedence ---- */

START_TEST(test_precedence)
{
    struct moat_config cfg;
    struct moat_cli cli;
    char path[64];
    char cfgenv[128];
    char err[1024];
    const char *env[] = {cfgenv, "MOAT_SERVER_LISTEN=2.2.2.2:2000", "MOAT_SERVER_WORKERS=5",
                         "MOAT_LOG_LEVEL=debug", NULL};
    const char *args[] = {"--listen", "3.3.3.3:3000", "--log-level=error", "--dev", NULL};

    temp_file(path, sizeof path,
              "[server]\nlisten = 1.1.1.1:1000\nworkers = 2\nmax_connections = 7\n"
              "[log]\nlevel = warn\n");
    snprintf(cfgenv, sizeof cfgenv, "MOAT_CONFIG=%s", path);
    ck_assert_msg(load(args, env, &cfg, &cli, err, sizeof err) == 0, "err: %s", err);
    unlink(path);
    ck_assert_str_eq(cfg.server.listen.host, "3.3.3.3");       /* flag beats env and file */
    ck_assert_uint_eq(cfg.server.workers, 5);                  /* env beats file */
    ck_assert_uint_eq(cfg.server.max_connections, 7);          /* file beats default */
    ck_assert_uint_eq(cfg.server.max_connections_per_ip, 128); /* default */
    ck_assert_int_eq(cfg.log.level, MOAT_LOG_ERROR);
    ck_assert_uint_eq(cfg.sources[0].origin, MOAT_CFG_FROM_FLAG);
    ck_assert_uint_eq(cfg.sources[1].origin, MOAT_CFG_FROM_ENV);
    ck_assert_uint_eq(cfg.sources[2].origin, MOAT_CFG_FROM_FILE);
    ck_assert_uint_eq(cfg.sources[2].line, 4);
    ck_assert_uint_eq(cfg.sources[3].origin, MOAT_CFG_FROM_DEFAULT);
}
END_TEST

struct env_case {
    const char *var;
    const char *err; /* NULL = accepted */
};

static const struct env_case env_cases[] = {
    {"MOAT_SERVER_LISTN=1.2.3.4:80",
     "unknown environment variable MOAT_SERVER_LISTN: section [server] has no such key"},
    {"MOAT_TLS_CERT=/x",
     "unknown environment variable MOAT_TLS_CERT: section [tls] has no such key"},
    {"MOAT_LOG_=x", "unknown environment variable MOAT_LOG_"},
    {"MOAT_SERVER_LISTEN=1.2.3.4:99999",
     "server.listen = \"1.2.3.4:99999\" (env MOAT_SERVER_LISTEN): port must be 1-65535"},
    {"MOAT_SERVER_LISTEN=\x1b[31mred",
     "server.listen = \"\\x1b[31mred\" (env MOAT_SERVER_LISTEN): expected HOST:PORT"},
    {"MOAT_SHUTDOWN_TOKEN=s3cret", NULL},
    {"MOAT_SHUTDOWN_TARGET=process:gunicorn", NULL},
    {"MOAT_SHUTDOWN_TARGET=pidfile:/run/app/app.pid", NULL},
    {"MOAT_SHUTDOWN_TARGET=none", NULL},
    {"MOAT_SHUTDOWN_TARGET=pidfile:relative",
     "shutdown.target = \"pidfile:relative\" (env MOAT_SHUTDOWN_TARGET): pidfile: needs an "
     "absolute path"},
    {"MOAT_SHUTDOWN_TARGET=process:a b",
     "shutdown.target = \"process:a b\" (env MOAT_SHUTDOWN_TARGET): process: name may hold"},
    {"MOAT_SHUTDOWN_TARGET=kill-all", "shutdown.target = \"kill-all\" (env MOAT_SHUTDOWN_TARGET)"},
    {"MOAT_SHUTDOWN_MODE=exit", NULL},
    {"MOAT_SHUTDOWN_HTTPS_PATH=/.well-known/moat/emergency-shutdown", NULL},
    {"MOAT_SHUTDOWN_HTTPS_PATH=/a/../b", "shutdown.https_path = \"/a/../b\" (env "},
    {"MOAT_SHUTDOWN_HTTPS_PATH=relative", "shutdown.https_path = \"relative\" (env "},
    {"MOAT_SHUTDOWN_HTTPS_PATH=/", "shutdown.https_path = \"/\" (env "},
    {"MOAT_SHUTDOWN_MODE=halt", "shutdown.mode = \"halt\" (env MOAT_SHUTDOWN_MODE): must be"},
    {"MOAT_SHUTDOWN_SIGNAL=SIGINT", NULL},
    {"MOAT_SHUTDOWN_SIGNAL=QUIT", NULL},
    {"MOAT_SHUTDOWN_SIGNAL=SIGSTOP", "shutdown.signal = \"SIGSTOP\" (env MOAT_SHUTDOWN_SIGNAL)"},
    {"MOAT_SHUTDOWN_GRACE=10ms", "shutdown.grace = \"10ms\" (env MOAT_SHUTDOWN_GRACE): must be"},
    {"MOAT_SHUTDOWN_MAX_FAILURES=33", "shutdown.max_failures = \"33\" (env "},
    {"MOAT_SHUTDOWN_MAX_COOLDOWN=10s",
     "shutdown.max_cooldown = \"10s\" (env MOAT_SHUTDOWN_MAX_COOLDOWN): must be at least "
     "shutdown.cooldown (30s)"},
    {"MOAT_SHUTDOWN_TOKN=x", "unknown environment variable MOAT_SHUTDOWN_TOKN: section [shutdown]"},
    {"MOAT_HEADERS_CSP=default-src 'self'", NULL},
    {"MOAT_REDIRECT_LISTEN=x", NULL},
    {"MOAT_ADMIN_LISTEN=x", "admin.listen = \"x\" (env MOAT_ADMIN_LISTEN): expected HOST:PORT"},
    {"MOAT_ADMIN_LISTEN=unix:/run/moat/admin.sock", NULL},
    {"MOAT_ADMIN_READY_MAX_AGE=2s",
     "admin.ready_max_age = \"2s\" (env MOAT_ADMIN_READY_MAX_AGE): must be at least "
     "admin.ready_interval + admin.ready_timeout (3s)"},
    {"MOAT_METRICS_ENABLED=x", NULL},
    {"MOAT_FUTURE=1", NULL},
    {"MOAT_LOGGING_X=1", NULL},
    {"MOAT_SERVER=1", NULL},
    {"MOAT_BIN=/usr/bin/moat", NULL},
    {"moat_server_listn=x", NULL},
    {"PATH=/usr/bin", NULL},
};

START_TEST(test_env)
{
    const struct env_case *c = &env_cases[_i];
    struct moat_config cfg;
    struct moat_cli cli;
    char err[1024];
    const char *env[] = {"MOAT_CONFIG=/dev/null", c->var, NULL};
    const char *args[] = {"--dev", NULL};
    int rc = load(args, env, &cfg, &cli, err, sizeof err);

    if (c->err == NULL) {
        ck_assert_msg(rc == 0, "case %s: %s", c->var, err);
    } else {
        ck_assert_msg(rc == -1, "case %s loaded", c->var);
        ck_assert_msg(strncmp(err, c->err, strlen(c->err)) == 0, "want %s got %s", c->err, err);
    }
}
END_TEST

/* ---- argv ---- */

struct argv_case {
    const char *args[8];
    const char *err; /* NULL = accepted; else the start of the message */
    int help;
    int version;
    int check;
    int child_argc;
    const char *child0;
};

static const struct argv_case argv_cases[] = {
    {{"--dev", NULL}, NULL, 0, 0, 0, 0, NULL},
    {{"--help", NULL}, NULL, 1, 0, 0, 0, NULL},
    {{"-h", NULL}, NULL, 1, 0, 0, 0, NULL},
    {{"--version", NULL}, NULL, 0, 1, 0, 0, NULL},
    {{"-V", NULL}, NULL, 0, 1, 0, 0, NULL},
    {{"--help", "--config", "/nonexistent", NULL}, NULL, 1, 0, 0, 0, NULL},
    {{"--dev", "--check-config", NULL}, NULL, 0, 0, 1, 0, NULL},
    {{"--dev", "--", "flask", "run", "-p", "5000", NULL}, NULL, 0, 0, 0, 4, "flask"},
    {{"--dev", "--", "--listen", NULL}, NULL, 0, 0, 0, 1, "--listen"},
    {{"--dev", "--", NULL}, NULL, 0, 0, 0, 0, NULL},
    {{"--cert", "/c", "--key=/k", "--workers", "2", NULL}, NULL, 0, 0, 0, 0, NULL},
    {{"--dev", "--state-dir", "/var/lib/moat", "--upstream=unix:/run/a.sock", NULL},
     NULL,
     0,
     0,
     0,
     0,
     NULL},
    {{"--foo", NULL}, "unknown option \"--foo\" (see moat --help)", 0, 0, 0, 0, NULL},
    {{"--foo=secret", NULL}, "unknown option \"--foo\" (see moat --help)", 0, 0, 0, 0, NULL},
    {{"-x", NULL}, "unknown option \"-x\"", 0, 0, 0, 0, NULL},
    {{"--Listen", "1.2.3.4:5", NULL}, "unknown option \"--Listen\"", 0, 0, 0, 0, NULL},
    {{"--dev", "run", NULL}, "unexpected argument \"run\"", 0, 0, 0, 0, NULL},
    {{"--listen", NULL}, "option --listen needs a value", 0, 0, 0, 0, NULL},
    {{"--listen", "--", "app", NULL}, "option --listen needs a value", 0, 0, 0, 0, NULL},
    {{"--config", NULL}, "option --config needs a value", 0, 0, 0, 0, NULL},
    {{"--dev=yes", NULL}, "option --dev takes no value", 0, 0, 0, 0, NULL},
    {{"--help=1", NULL}, "option --help takes no value", 0, 0, 0, 0, NULL},
    {{"--config=", "--dev", NULL}, "--config needs a file name", 0, 0, 0, 0, NULL},
    {{"--dev", "--listen", "1.2.3.4:99999", NULL},
     "server.listen = \"1.2.3.4:99999\" (flag --listen): port must be 1-65535",
     0,
     0,
     0,
     0,
     NULL},
    {{"--dev", "--workers=-1", NULL},
     "server.workers = \"-1\" (flag --workers): expected",
     0,
     0,
     0,
     0,
     NULL},
    {{"--dev", "--log-level", "loud", NULL},
     "log.level = \"loud\" (flag --log-level)",
     0,
     0,
     0,
     0,
     NULL},
    {{NULL}, "tls.cert_file and tls.key_file are required unless --dev is given", 0, 0, 0, 0, NULL},
    {{"--cert", "/c", NULL},
     "tls.cert_file and tls.key_file are required unless --dev",
     0,
     0,
     0,
     0,
     NULL},
};

START_TEST(test_argv)
{
    const struct argv_case *c = &argv_cases[_i];
    struct moat_config cfg;
    struct moat_cli cli;
    char err[1024];
    const char *env[] = {"MOAT_CONFIG=/dev/null", NULL};
    int rc = load(c->args, env, &cfg, &cli, err, sizeof err);

    if (c->err != NULL) {
        ck_assert_msg(rc == -1, "case %d loaded", _i);
        ck_assert_msg(strncmp(err, c->err, strlen(c->err)) == 0, "want %s got %s", c->err, err);
        return;
    }
    ck_assert_msg(rc == 0, "case %d: %s", _i, err);
    ck_assert_int_eq(cli.help, c->help);
    ck_assert_int_eq(cli.version, c->version);
    ck_assert_int_eq(cli.check_config, c->check);
    ck_assert_int_eq(cli.child_argc, c->child_argc);
    if (c->child_argc > 0) {
        ck_assert_str_eq(cli.child_argv[0], c->child0);
        ck_assert_ptr_null(cli.child_argv[c->child_argc]);
    } else {
        ck_assert_ptr_null(cli.child_argv);
    }
}
END_TEST

START_TEST(test_flag_values)
{
    struct moat_config cfg;
    struct moat_cli cli;
    char err[1024];
    const char *env[] = {"MOAT_CONFIG=/dev/null", "MOAT_SERVER_WORKERS=9", NULL};
    const char *args[] = {"--cert",         "/c.pem",     "--key=/k.pem",       "--workers", "2",
                          "--state-dir=/s", "--upstream", "http://[::1]:9000/", NULL};

    ck_assert_msg(load(args, env, &cfg, &cli, err, sizeof err) == 0, "err: %s", err);
    ck_assert_str_eq(cfg.tls.cert_file, "/c.pem");
    ck_assert_str_eq(cfg.tls.key_file, "/k.pem");
    ck_assert_int_eq(cfg.tls.dev, 0);
    ck_assert_uint_eq(cfg.server.workers, 2);
    ck_assert_str_eq(cfg.server.state_dir, "/s");
    ck_assert_str_eq(cfg.upstream.addr.host, "::1");
    ck_assert_uint_eq(cfg.upstream.addr.port, 9000);
}
END_TEST

/* --sandbox takes on|off, with a space or "="; sandbox.seccomp and the ids are validated. */
START_TEST(test_sandbox_keys)
{
    struct moat_config cfg;
    struct moat_cli cli;
    char err[1024];
    const char *env[] = {"MOAT_CONFIG=/dev/null", NULL};
    const char *env_bad[] = {"MOAT_CONFIG=/dev/null", "MOAT_SANDBOX_SECCOMP=trap", NULL};
    const char *env_ok[] = {"MOAT_CONFIG=/dev/null", "MOAT_SANDBOX_SECCOMP=errno",
                            "MOAT_SANDBOX_USER=nobody", NULL};
    const char *off_space[] = {"--dev", "--sandbox", "off", NULL};
    const char *off_eq[] = {"--dev", "--sandbox=off", NULL};
    const char *on_eq[] = {"--dev", "--sandbox=on", NULL};
    const char *bare[] = {"--dev", "--sandbox", NULL};
    const char *bad_user[] = {"--dev", NULL};
    const char *env_user[] = {"MOAT_CONFIG=/dev/null", "MOAT_SANDBOX_USER=a b", NULL};

    ck_assert_msg(load(off_space, env, &cfg, &cli, err, sizeof err) == 0, "err: %s", err);
    ck_assert_int_eq(cfg.sandbox.enabled, 0);
    ck_assert_msg(load(off_eq, env, &cfg, &cli, err, sizeof err) == 0, "err: %s", err);
    ck_assert_int_eq(cfg.sandbox.enabled, 0);
    ck_assert_msg(load(on_eq, env, &cfg, &cli, err, sizeof err) == 0, "err: %s", err);
    ck_assert_int_eq(cfg.sandbox.enabled, 1);
    ck_assert_int_eq(load(bare, env, &cfg, &cli, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "needs a value") != NULL, "err: %s", err);
    ck_assert_int_eq(load(off_eq + 1, env_bad, &cfg, &cli, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "sandbox.seccomp") != NULL &&
                      strstr(err, "must be kill, errno, log or off") != NULL,
                  "err: %s", err);
    ck_assert_msg(load(bad_user, env_ok, &cfg, &cli, err, sizeof err) == 0, "err: %s", err);
    ck_assert_str_eq(cfg.sandbox.seccomp, "errno");
    ck_assert_str_eq(cfg.sandbox.user, "nobody");
    ck_assert_int_eq(load(bad_user, env_user, &cfg, &cli, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "sandbox.user") != NULL, "err: %s", err);
}
END_TEST

/* ---- the shipped file, print and usage ---- */

/* conf/moat.conf relative to this source file (or $MOAT_SOURCE_DIR). */
static void shipped_conf(char *out, size_t outlen)
{
    const char *src = getenv("MOAT_SOURCE_DIR");
    const char *slash = strrchr(__FILE__, '/');

    if (src != NULL && src[0] != '\0')
        snprintf(out, outlen, "%s/conf/moat.conf", src);
    else if (slash != NULL)
        snprintf(out, outlen, "%.*s/../../conf/moat.conf", (int)(slash - __FILE__), __FILE__);
    else
        snprintf(out, outlen, "../../conf/moat.conf");
}

START_TEST(test_shipped_conf)
{
    struct moat_config cfg;
    struct moat_config def;
    struct moat_cli cli;
    char path[1024];
    char opt[1100];
    char err[1024];
    const char *env[] = {NULL};
    const char *env_def[] = {"MOAT_CONFIG=/dev/null", NULL};
    const char *args[] = {opt, "--dev", NULL};
    const char *args_nodev[] = {opt, NULL};
    size_t i;

    shipped_conf(path, sizeof path);
    snprintf(opt, sizeof opt, "--config=%s", path);
    ck_assert_msg(load(args, env, &cfg, &cli, err, sizeof err) == 0, "err: %s", err);
    ck_assert_msg(load(args + 1, env_def, &def, &cli, err, sizeof err) == 0, "err: %s", err);
    /* every key is in the file (tls.dev then comes from --dev), with its default value */
    for (i = 0; i < MOAT_CFG_MAX_KEYS && i < MOAT_TEST_N_KEYS; i++) {
        if ((int)i != moat_config_key_index("tls", "dev"))
            ck_assert_msg(cfg.sources[i].origin == MOAT_CFG_FROM_FILE, "key %zu not in file", i);
    }
    ck_assert_uint_eq(cfg.sources[MOAT_TEST_N_KEYS].line, 0);
    /* [http] comes right after [server] */
    ck_assert_int_eq(moat_config_key_index("http", "listen"),
                     moat_config_key_index("server", "state_dir") + 1);
    memcpy(def.source_file, cfg.source_file, sizeof def.source_file);
    memcpy(def.sources, cfg.sources, sizeof def.sources);
    ck_assert_msg(memcmp(&cfg, &def, sizeof cfg) == 0, "shipped values differ from defaults");
    ck_assert_int_eq(load(args_nodev, env, &cfg, &cli, err, sizeof err), -1);
    ck_assert_str_eq(err, "tls.cert_file and tls.key_file are required unless --dev is given");
}
END_TEST

/* Reads all of fd (from the start) into buf. */
static void slurp(int fd, char *buf, size_t cap)
{
    ssize_t n;
    size_t used = 0;

    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    for (;;) {
        n = read(fd, buf + used, cap - 1 - used);
        ck_assert_int_ge(n, 0);
        if (n == 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
}

/* Prints cfg (moat_config_print) into a new temp file, whose name goes to path, and
 * its text into out. The caller unlinks path. */
static void print_temp(const struct moat_config *cfg, char *path, size_t pathlen, char *out,
                       size_t outlen)
{
    int fd;

    snprintf(path, pathlen, "/tmp/moat-test-print-XXXXXX"); /* mkstemp's template */
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(moat_config_print(cfg, fd), 0);
    slurp(fd, out, outlen);
    close(fd);
}

START_TEST(test_print)
{
    struct moat_config cfg;
    struct moat_config again;
    struct moat_cli cli;
    char path[64];
    char opt[128];
    char err[1024];
    static char out[16384];
    const char *env[] = {"MOAT_CONFIG=/dev/null", "MOAT_SERVER_WORKERS=4",
                         "MOAT_PROXY_TRUSTED_PROXIES=10.0.0.0/8 fd00::/8", NULL};
    const char *args[] = {"--dev", "--listen=[::1]:9443", "--upstream", "unix:/run/app.sock", NULL};
    const char *env2[] = {NULL};
    const char *args2[] = {opt, NULL};

    ck_assert_msg(load(args, env, &cfg, &cli, err, sizeof err) == 0, "err: %s", err);
    print_temp(&cfg, path, sizeof path, out, sizeof out);
    ck_assert_msg(strstr(out, "[server]\nlisten = [::1]:9443  # from: flag --listen\n") != NULL,
                  "%s", out);
    ck_assert(strstr(out, "workers = 4  # from: env MOAT_SERVER_WORKERS\n") != NULL);
    ck_assert(strstr(out, "max_connections = 1024  # from: default\n") != NULL);
    ck_assert(strstr(out, "drain_timeout = 10s  # from: default\n") != NULL);
    ck_assert(strstr(out, "max_body_bytes = 100m  # from: default\n") != NULL);
    ck_assert(strstr(out, "max_header_bytes = 8k  # from: default\n") != NULL);
    ck_assert(strstr(out, "dev = true  # from: flag --dev\n") != NULL);
    ck_assert(strstr(out, "url = unix:/run/app.sock  # from: flag --upstream\n") != NULL);
    ck_assert(strstr(out, "trusted_proxies = 10.0.0.0/8, fd00::/8  # from: env") != NULL);
    ck_assert(strstr(out, "cert_file =   # from: default\n") != NULL);
    ck_assert(strstr(out, "[tls]\n") != NULL && strstr(out, "[log]\nlevel = info") != NULL);
    ck_assert(strstr(out, "profile = intermediate  # from: default\n") != NULL);
    ck_assert(strstr(out, "client_auth = off  # from: default\n") != NULL);
    /* the output is itself a valid config file giving the same configuration */
    snprintf(opt, sizeof opt, "--config=%s", path);
    ck_assert_msg(load(args2, env2, &again, &cli, err, sizeof err) == 0, "err: %s", err);
    unlink(path);
    memcpy(again.source_file, cfg.source_file, sizeof again.source_file);
    memcpy(again.sources, cfg.sources, sizeof again.sources);
    ck_assert_msg(memcmp(&cfg, &again, sizeof cfg) == 0, "printed config does not round-trip");
    ck_assert_int_eq(moat_config_print(&cfg, -1), -1);
}
END_TEST

/* Values --check-config must print so that the printed file loads back to them
 * (found by fuzz_config): long values are cut over continuation lines, and the
 * loader strips the whitespace around each line, joins them without a
 * separator, and reads a line starting like "name =" as a key, '#' or ';' as a
 * comment. */
struct roundtrip_case {
    const char *label; /* shown on failure */
    const char *env;   /* MOAT_...=value; NULL: headers.csp of the longest length allowed */
};

static const struct roundtrip_case roundtrip_cases[] = {
    {"permissions policy: pieces after \", \" look like keys",
     "MOAT_HEADERS_PERMISSIONS_POLICY=" MOAT_SECH_PP_STRICT},
    {"csp: a space at the cut", "MOAT_HEADERS_CSP=default-src 'self'; script-src 'self' "
                                "'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; object-src "
                                "'none' 'self'; base-uri 'self'"},
    {"words of one letter", "MOAT_HEADERS_CSP=a b c d e f g h i j k l m n o p q r s t u v w x y z "
                            "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h "
                            "i j k l m n o p q r s t u v w x y z"},
    {"starts with #", "MOAT_HEADERS_PERMISSIONS_POLICY=#x=()"},
    {"starts with ;", "MOAT_HEADERS_PERMISSIONS_POLICY=; x=()"},
    {"; after a space", "MOAT_HEADERS_PERMISSIONS_POLICY=a=() ;b=()"},
    {"semicolons and brackets at the cut",
     "MOAT_HEADERS_CSP=default-src 'self';;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;"
     ";;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "["},
    {"the longest value", NULL},
};

START_TEST(test_print_roundtrip)
{
    const struct roundtrip_case *c = &roundtrip_cases[_i];
    static struct moat_config cfg;
    static struct moat_config again;
    static char out[65536];
    static char longest[sizeof("MOAT_HEADERS_CSP=") + MOAT_CFG_VALUE];
    struct moat_cli cli;
    char path[64];
    char opt[128];
    char err[1024];
    const char *env[] = {c->env, NULL};
    const char *args[] = {"--dev", NULL};
    const char *env2[] = {NULL};
    const char *args2[] = {opt, NULL};

    if (c->env == NULL) {
        size_t n = (size_t)snprintf(longest, sizeof longest, "MOAT_HEADERS_CSP=");

        memset(longest + n, 'a', MOAT_CFG_VALUE - 1);
        longest[n + MOAT_CFG_VALUE - 1] = '\0';
        env[0] = longest;
    }
    ck_assert_msg(load(args, env, &cfg, &cli, err, sizeof err) == 0, "%s: %s", c->label, err);
    print_temp(&cfg, path, sizeof path, out, sizeof out);
    snprintf(opt, sizeof opt, "--config=%s", path);
    ck_assert_msg(load(args2, env2, &again, &cli, err, sizeof err) == 0, "%s: %s\n%s", c->label,
                  err, out);
    unlink(path);
    memcpy(again.source_file, cfg.source_file, sizeof again.source_file);
    memcpy(again.sources, cfg.sources, sizeof again.sources);
    ck_assert_msg(memcmp(&cfg.headers, &again.headers, sizeof cfg.headers) == 0,
                  "%s: printed value does not load back:\n%s", c->label, out);
    ck_assert_msg(memcmp(&cfg, &again, sizeof cfg) == 0, "%s: printed config does not round-trip",
                  c->label);
}
END_TEST

START_TEST(test_usage)
{
    static char out[16384];
    char path[64];
    static const char *const want[] = {"Usage: moat [options] [-- app args...]\n",
                                       "--config PATH",
                                       "--listen ADDR",
                                       "--upstream URL",
                                       "--cert PATH",
                                       "--key PATH",
                                       "--dev ",
                                       "--state-dir PATH",
                                       "--workers N",
                                       "--log-level LEVEL",
                                       "--sandbox on|off",
                                       "--check-config",
                                       "-h, --help",
                                       "-V, --version",
                                       "MOAT_<SECTION>_<KEY>",
                                       "0  success",
                                       "1  invalid configuration or usage",
                                       "2  startup failure (cannot bind, TLS material unusable)",
                                       "3  runtime failure"};
    size_t i;
    int fd;

    snprintf(path, sizeof path, "/tmp/moat-test-usage-XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    moat_config_usage(fd);
    slurp(fd, out, sizeof out);
    close(fd);
    for (i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(out, want[i]) != NULL, "missing %s in\n%s", want[i], out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_file, 0, sizeof file_cases / sizeof file_cases[0]);
    tcase_add_loop_test(tc, test_env, 0, sizeof env_cases / sizeof env_cases[0]);
    tcase_add_loop_test(tc, test_argv, 0, sizeof argv_cases / sizeof argv_cases[0]);
    tcase_add_test(tc, test_defaults);
    tcase_add_loop_test(tc, test_file_nul, 0, sizeof nul_cases / sizeof nul_cases[0]);
    tcase_add_test(tc, test_file_values);
    tcase_add_test(tc, test_file_missing);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_flag_values);
    tcase_add_test(tc, test_sandbox_keys);
    tcase_add_test(tc, test_shipped_conf);
    tcase_add_test(tc, test_print);
    tcase_add_loop_test(tc, test_print_roundtrip, 0,
                        sizeof roundtrip_cases / sizeof roundtrip_cases[0]);
    tcase_add_test(tc, test_usage);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
