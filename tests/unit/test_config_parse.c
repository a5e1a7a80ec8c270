/* test_config_parse.c - unit tests for configuration values: addresses, upstreams, CIDRs, sizes,
 * durations. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "moat/config.h"
#include "moat/log.h"
#include "test_config_util.h"

/* ---- listen ---- */

struct listen_case {
    const char *s;
    int ok;
    const char *host;
    unsigned port;
    int family;
};

static const struct listen_case listen_cases[] = {
    {"0.0.0.0:8443", 1, "0.0.0.0", 8443, AF_INET},
    {"127.0.0.1:1", 1, "127.0.0.1", 1, AF_INET},
    {"*:65535", 1, "0.0.0.0", 65535, AF_INET},
    {"[::]:8443", 1, "::", 8443, AF_INET6},
    {"[::1]:9901", 1, "::1", 9901, AF_INET6},
    {"[2001:db8:0:0::1]:80", 1, "2001:db8::1", 80, AF_INET6},
    {"1.2.3.4:0", 0, NULL, 0, 0},
    {"1.2.3.4:65536", 0, NULL, 0, 0},
    {"1.2.3.4:99999", 0, NULL, 0, 0},
    {"1.2.3.4:", 0, NULL, 0, 0},
    {"1.2.3.4", 0, NULL, 0, 0},
    {":8443", 0, NULL, 0, 0},
    {"localhost:8443", 0, NULL, 0, 0},
    {"1.2.3:80", 0, NULL, 0, 0},
    {"256.1.1.1:80", 0, NULL, 0, 0},
    {"::1:80", 0, NULL, 0, 0},
    {"[::1]80", 0, NULL, 0, 0},
    {"[::1:80", 0, NULL, 0, 0},
    {"[1.2.3.4]:80", 0, NULL, 0, 0},
    {"1.2.3.4:+80", 0, NULL, 0, 0},
    {"1.2.3.4:80 ", 0, NULL, 0, 0},
    {"1.2.3.4:0080x", 0, NULL, 0, 0},
    {"", 0, NULL, 0, 0},
};

START_TEST(test_listen)
{
    const struct listen_case *c = &listen_cases[_i];
    struct moat_listen_addr a;

    memset(&a, 0, sizeof a);
    ck_assert_msg(moat_config_parse_listen(c->s, &a) == (c->ok ? 0 : -1), "case %s", c->s);
    if (c->ok) {
        ck_assert_str_eq(a.host, c->host);
        ck_assert_uint_eq(a.port, c->port);
        ck_assert_int_eq(a.family, c->family);
    }
}
END_TEST

/* ---- upstream ---- */

struct upstream_case {
    const char *s;
    int ok;
    int kind;
    const char *host_or_path;
    unsigned port;
    const char *why; /* expected in the load error, or NULL */
};

static const struct upstream_case upstream_cases[] = {
    {"http://127.0.0.1:8000", 1, MOAT_UPSTREAM_TCP, "127.0.0.1", 8000, NULL},
    {"http://app", 1, MOAT_UPSTREAM_TCP, "app", 80, NULL},
    {"http://app/", 1, MOAT_UPSTREAM_TCP, "app", 80, NULL},
    {"HTTP://app.internal:5000/", 1, MOAT_UPSTREAM_TCP, "app.internal", 5000, NULL},
    {"http://[::1]:8000", 1, MOAT_UPSTREAM_TCP, "::1", 8000, NULL},
    {"http://[fd00::5]", 1, MOAT_UPSTREAM_TCP, "fd00::5", 80, NULL},
    {"http://my_app-1:1", 1, MOAT_UPSTREAM_TCP, "my_app-1", 1, NULL},
    {"unix:/run/app.sock", 1, MOAT_UPSTREAM_UNIX, "/run/app.sock", 0, NULL},
    {"https://app", 1, MOAT_UPSTREAM_TCP, "app", 443, NULL},
    {"HTTPS://app.internal:8443/", 1, MOAT_UPSTREAM_TCP, "app.internal", 8443, NULL},
    {"https://[::1]:9443", 1, MOAT_UPSTREAM_TCP, "::1", 9443, NULL},
    {"https://app/api", 0, 0, NULL, 0, "paths in upstream.url are not supported"},
    {"https://", 0, 0, NULL, 0, "host"},
    {"http://app/api", 0, 0, NULL, 0, "paths in upstream.url are not supported"},
    {"http://app:80/x", 0, 0, NULL, 0, "paths in upstream.url are not supported"},
    {"http://app?x=1", 0, 0, NULL, 0, "paths in upstream.url are not supported"},
    {"http://app:0", 0, 0, NULL, 0, "port must be 1-65535"},
    {"http://app:65536", 0, 0, NULL, 0, "port must be 1-65535"},
    {"http://app:", 0, 0, NULL, 0, "port must be 1-65535"},
    {"http://app:80x", 0, 0, NULL, 0, "port must be 1-65535"},
    {"http://", 0, 0, NULL, 0, "host"},
    {"http://:80", 0, 0, NULL, 0, "host"},
    {"http://user@app", 0, 0, NULL, 0, "host"},
    {"http://-app", 0, 0, NULL, 0, "host"},
    {"http://a..b", 0, 0, NULL, 0, "host"},
    {"http://300.1.1.1", 0, 0, NULL, 0, "invalid IPv4 address"},
    {"http://[::1", 0, 0, NULL, 0, NULL},
    {"http://[zz::1]:80", 0, 0, NULL, 0, "IPv6"},
    {"unix:run/app.sock", 0, 0, NULL, 0, "absolute"},
    {"unix:", 0, 0, NULL, 0, "absolute"},
    {"unix:/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaa",
     0, 0, NULL, 0, "too long"},
    {"ftp://app", 0, 0, NULL, 0, "expected http://HOST[:PORT], https://HOST[:PORT] or unix:/PATH"},
    {"127.0.0.1:8000", 0, 0, NULL, 0, NULL},
    {"", 0, 0, NULL, 0, NULL},
};

START_TEST(test_upstream)
{
    const struct upstream_case *c = &upstream_cases[_i];
    struct moat_upstream_addr a;
    struct moat_config cfg;
    struct moat_cli cli;
    char err[1024];
    char var[512];
    const char *env[] = {"MOAT_CONFIG=/dev/null", var, NULL};
    const char *args[] = {"--dev", NULL};
    int rc;

    memset(&a, 0, sizeof a);
    ck_assert_msg(moat_config_parse_upstream(c->s, &a) == (c->ok ? 0 : -1), "case %s", c->s);
    if (c->ok) {
        ck_assert_int_eq(a.kind, c->kind);
        ck_assert_int_eq(a.tls, strncasecmp(c->s, "https://", 8) == 0);
        if (c->kind == MOAT_UPSTREAM_TCP) {
            ck_assert_str_eq(a.host, c->host_or_path);
            ck_assert_uint_eq(a.port, c->port);
        } else {
            ck_assert_str_eq(a.path, c->host_or_path);
        }
    }
    snprintf(var, sizeof var, "MOAT_UPSTREAM_URL=%s", c->s);
    rc = load(args, env, &cfg, &cli, err, sizeof err);
    ck_assert_int_eq(rc, c->ok ? 0 : -1);
    if (c->ok) {
        ck_assert_str_eq(cfg.upstream.url, c->s);
        ck_assert_int_eq(cfg.upstream.addr.kind, c->kind);
    } else {
        ck_assert_msg(strncmp(err, "upstream.url = \"", 16) == 0, "err: %s", err);
        ck_assert_msg(strstr(err, "(env MOAT_UPSTREAM_URL): ") != NULL, "err: %s", err);
        if (c->why != NULL)
            ck_assert_msg(strstr(err, c->why) != NULL, "err: %s", err);
    }
}
END_TEST

/* ---- CIDRs ---- */

struct cidr_case {
    const char *s;
    int ok;
    int family;
    unsigned prefix;
};

static const struct cidr_case cidr_cases[] = {
    {"10.0.0.0/8", 1, AF_INET, 8},
    {"0.0.0.0/0", 1, AF_INET, 0},
    {"192.168.1.7", 1, AF_INET, 32},
    {"192.168.1.7/32", 1, AF_INET, 32},
    {"172.16.0.0/12", 1, AF_INET, 12},
    {"::/0", 1, AF_INET6, 0},
    {"::1", 1, AF_INET6, 128},
    {"fd00::/8", 1, AF_INET6, 8},
    {"2001:db8::/33", 1, AF_INET6, 33},
    {"10.0.0.1/8", 0, 0, 0},
    {"10.0.0.0/33", 0, 0, 0},
    {"::/129", 0, 0, 0},
    {"10.0.0.0/", 0, 0, 0},
    {"10.0.0.0/-1", 0, 0, 0},
    {"10.0.0.0/8/8", 0, 0, 0},
    {"10.0.0/8", 0, 0, 0},
    {"fd00::1/8", 0, 0, 0},
    {"example.com/8", 0, 0, 0},
    {"", 0, 0, 0},
};

START_TEST(test_cidr_parse)
{
    const struct cidr_case *c = &cidr_cases[_i];
    struct moat_cidr n;

    ck_assert_msg(moat_config_parse_cidr(c->s, &n) == (c->ok ? 0 : -1), "case %s", c->s);
    if (c->ok) {
        ck_assert_int_eq(n.family, c->family);
        ck_assert_uint_eq(n.prefix, c->prefix);
    }
}
END_TEST

struct match_case {
    const char *nets; /* comma separated, parsed through the proxy.trusted_proxies key */
    const char *addr;
    int match;
};

static const struct match_case match_cases[] = {
    {"10.0.0.0/8", "10.255.1.2", 1},
    {"10.0.0.0/8", "11.0.0.1", 0},
    {"10.0.0.0/8", "::ffff:10.1.2.3", 1},
    {"10.0.0.0/8", "::ffff:11.1.2.3", 0},
    {"10.0.0.0/8", "::10.1.2.3", 0},
    {"0.0.0.0/0", "203.0.113.9", 1},
    {"0.0.0.0/0", "2001:db8::1", 0},
    {"192.168.1.7", "192.168.1.7", 1},
    {"192.168.1.7", "192.168.1.8", 0},
    {"192.168.0.0/23", "192.168.1.255", 1},
    {"192.168.0.0/23", "192.168.2.0", 0},
    {"172.16.0.0/12", "172.31.255.255", 1},
    {"172.16.0.0/12", "172.32.0.0", 0},
    {"128.0.0.0/1", "127.255.255.255", 0},
    {"128.0.0.0/1", "128.0.0.0", 1},
    {"::/0", "2001:db8::1", 1},
    {"::1", "::1", 1},
    {"::1", "::2", 0},
    {"2001:db8::/33", "2001:db8:7fff::1", 1},
    {"2001:db8::/33", "2001:db8:8000::1", 0},
    {"fe80::/10", "febf::1", 1},
    {"fe80::/10", "fec0::1", 0},
    {"::ffff:0:0/96", "10.0.0.1", 1},
    {"10.0.0.0/8, fd00::/8 192.168.0.0/16", "fd12::1", 1},
    {"10.0.0.0/8, fd00::/8 192.168.0.0/16", "192.168.44.1", 1},
    {"10.0.0.0/8, fd00::/8 192.168.0.0/16", "172.16.0.1", 0},
    {"", "10.0.0.1", 0},
};

START_TEST(test_cidr_match)
{
    const struct match_case *c = &match_cases[_i];
    struct moat_config cfg;
    struct moat_cli cli;
    unsigned char addr[16];
    int family = strchr(c->addr, ':') != NULL ? AF_INET6 : AF_INET;
    char err[512];
    char var[512];
    const char *env[] = {"MOAT_CONFIG=/dev/null", var, NULL};
    const char *args[] = {"--dev", NULL};

    snprintf(var, sizeof var, "MOAT_PROXY_TRUSTED_PROXIES=%s", c->nets);
    ck_assert_msg(load(args, env, &cfg, &cli, err, sizeof err) == 0, "err: %s", err);
    ck_assert_int_eq(inet_pton(family, c->addr, addr), 1);
    ck_assert_msg(moat_cidr_match(cfg.proxy.trusted, cfg.proxy.n_trusted, family, addr) == c->match,
                  "%s in %s", c->addr, c->nets);
}
END_TEST

/* ---- typed values through the environment ---- */

enum field {
    F_BODY,
    F_HEADER_BYTES,
    F_URI_BYTES,
    F_CONNECT,
    F_DRAIN,
    F_WORKERS,
    F_DEV,
    F_ACCESS,
    F_LEVEL,
    F_REQID_HDR,
    F_PRIORITY,
    F_NTRUSTED,
    F_WATCH,
    F_ROTATION,
    F_WARN_DAYS,
};

struct value_case {
    const char *var; /* NAME=VALUE */
    int ok;
    enum field field;
    uint64_t want;   /* numeric result when ok */
    const char *why; /* part of the error when not ok */
};

static const struct value_case value_cases[] = {
    {"MOAT_LIMITS_MAX_BODY_BYTES=0", 1, F_BODY, 0, NULL},
    {"MOAT_LIMITS_MAX_BODY_BYTES=12345", 1, F_BODY, 12345, NULL},
    {"MOAT_LIMITS_MAX_BODY_BYTES=16k", 1, F_BODY, 16384, NULL},
    {"MOAT_LIMITS_MAX_BODY_BYTES=16K", 1, F_BODY, 16384, NULL},
    {"MOAT_LIMITS_MAX_BODY_BYTES=100m", 1, F_BODY, UINT64_C(104857600), NULL},
    {"MOAT_LIMITS_MAX_BODY_BYTES=1g", 1, F_BODY, UINT64_C(1073741824), NULL},
    {"MOAT_LIMITS_MAX_BODY_BYTES=1024g", 1, F_BODY, UINT64_C(1099511627776), NULL},
    {"MOAT_LIMITS_MAX_BODY_BYTES=1025g", 0, F_BODY, 0, "must be between 0 and 1024g"},
    {"MOAT_LIMITS_MAX_BODY_BYTES=1t", 0, F_BODY, 0, "expected a size"},
    {"MOAT_LIMITS_MAX_BODY_BYTES=16kb", 0, F_BODY, 0, "expected a size"},
    {"MOAT_LIMITS_MAX_BODY_BYTES=-1", 0, F_BODY, 0, "expected a size"},
    {"MOAT_LIMITS_MAX_BODY_BYTES=1.5m", 0, F_BODY, 0, "expected a size"},
    {"MOAT_LIMITS_MAX_BODY_BYTES=", 0, F_BODY, 0, "expected a size"},
    {"MOAT_LIMITS_MAX_BODY_BYTES=99999999999999999999g", 0, F_BODY, 0, "expected a size"},
    {"MOAT_LIMITS_MAX_BODY_BYTES=17179869184g", 0, F_BODY, 0, "expected a size"},
    {"MOAT_LIMITS_MAX_HEADER_BYTES=32k", 1, F_HEADER_BYTES, 32768, NULL},
    {"MOAT_LIMITS_MAX_HEADER_BYTES=1m", 1, F_HEADER_BYTES, 1048576, NULL},
    {"MOAT_LIMITS_MAX_HEADER_BYTES=512", 0, F_HEADER_BYTES, 0, "must be between 1k and 1m"},
    {"MOAT_LIMITS_MAX_HEADER_BYTES=2m", 0, F_HEADER_BYTES, 0, "must be between 1k and 1m"},
    {"MOAT_LIMITS_MAX_URI_BYTES=300", 1, F_URI_BYTES, 300, NULL},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=250ms", 1, F_CONNECT, 250, NULL},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=10s", 1, F_CONNECT, 10000, NULL},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=2m", 1, F_CONNECT, 120000, NULL},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=1h", 1, F_CONNECT, 3600000, NULL},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=7", 1, F_CONNECT, 7000, NULL},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=1ms", 1, F_CONNECT, 1, NULL},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=0", 0, F_CONNECT, 0, "must be between 1ms and 1h"},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=2h", 0, F_CONNECT, 0, "must be between 1ms and 1h"},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=10S", 0, F_CONNECT, 0, "expected a duration"},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=1.5s", 0, F_CONNECT, 0, "expected a duration"},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=s", 0, F_CONNECT, 0, "expected a duration"},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=10 s", 0, F_CONNECT, 0, "expected a duration"},
    {"MOAT_UPSTREAM_CONNECT_TIMEOUT=18446744073709551615h", 0, F_CONNECT, 0, "expected a dur"},
    {"MOAT_SERVER_DRAIN_TIMEOUT=0", 1, F_DRAIN, 0, NULL},
    {"MOAT_SERVER_WORKERS=0", 1, F_WORKERS, 0, NULL},
    {"MOAT_SERVER_WORKERS=1024", 1, F_WORKERS, 1024, NULL},
    {"MOAT_SERVER_WORKERS=1025", 0, F_WORKERS, 0, "must be between 0 and 1024"},
    {"MOAT_SERVER_WORKERS=4x", 0, F_WORKERS, 0, "expected a non-negative integer"},
    {"MOAT_SERVER_WORKERS=+4", 0, F_WORKERS, 0, "expected a non-negative integer"},
    {"MOAT_SERVER_WORKERS=99999999999999999999999", 0, F_WORKERS, 0, "non-negative integer"},
    {"MOAT_TLS_DEV=true", 1, F_DEV, 1, NULL},
    {"MOAT_TLS_DEV=YES", 1, F_DEV, 1, NULL},
    {"MOAT_TLS_DEV=on", 1, F_DEV, 1, NULL},
    {"MOAT_TLS_DEV=1", 1, F_DEV, 1, NULL},
    {"MOAT_LOG_ACCESS=false", 1, F_ACCESS, 0, NULL},
    {"MOAT_LOG_ACCESS=No", 1, F_ACCESS, 0, NULL},
    {"MOAT_LOG_ACCESS=off", 1, F_ACCESS, 0, NULL},
    {"MOAT_LOG_ACCESS=0", 1, F_ACCESS, 0, NULL},
    {"MOAT_LOG_ACCESS=2", 0, F_ACCESS, 0, "expected true or false"},
    {"MOAT_LOG_ACCESS=", 0, F_ACCESS, 0, "expected true or false"},
    {"MOAT_LOG_LEVEL=debug", 1, F_LEVEL, MOAT_LOG_DEBUG, NULL},
    {"MOAT_LOG_LEVEL=error", 1, F_LEVEL, MOAT_LOG_ERROR, NULL},
    {"MOAT_LOG_LEVEL=verbose", 0, F_LEVEL, 0, "expected debug, info, warn or error"},
    {"MOAT_PROXY_REQUEST_ID_HEADER=X-Trace-Id", 1, F_REQID_HDR, 0, NULL},
    {"MOAT_PROXY_REQUEST_ID_HEADER=X Trace", 0, F_REQID_HDR, 0, "token"},
    {"MOAT_PROXY_REQUEST_ID_HEADER=", 0, F_REQID_HDR, 0, "token"},
    {"MOAT_PROXY_REQUEST_ID_HEADER=X-\x01", 0, F_REQID_HDR, 0, "control characters"},
    {"MOAT_TLS_PRIORITY=NORMAL:-VERS-TLS1.0", 1, F_PRIORITY, 0, NULL},
    {"MOAT_TLS_PRIORITY=NOT-A-PRIORITY", 0, F_PRIORITY, 0, "GnuTLS priority"},
    {"MOAT_TLS_PRIORITY=", 1, F_PRIORITY, 0, NULL},
    {"MOAT_TLS_PROFILE=sometimes", 0, F_PRIORITY, 0, "must be intermediate or modern"},
    {"MOAT_TLS_CLIENT_AUTH=maybe", 0, F_PRIORITY, 0, "must be off, optional or required"},
    {"MOAT_TLS_EXTRA_CERTS=/a.crt", 0, F_PRIORITY, 0, "CERT:KEY pairs"},
    {"MOAT_TLS_EXTRA_CERTS=a.crt:a.key", 0, F_PRIORITY, 0, "absolute paths"},
    {"MOAT_TLS_EXTRA_CERTS=/a.crt:/a.key,,/b.crt:/b.key", 0, F_PRIORITY, 0, "CERT:KEY pairs"},
    {"MOAT_TLS_CLIENT_SUBJECT_HEADER=X Client", 0, F_PRIORITY, 0, "token"},
    {"MOAT_TLS_WATCH_INTERVAL=0", 1, F_WATCH, 0, NULL},
    {"MOAT_TLS_WATCH_INTERVAL=250ms", 1, F_WATCH, 250, NULL},
    {"MOAT_TLS_WATCH_INTERVAL=2h", 0, F_WATCH, 0, "must be between"},
    {"MOAT_TLS_TICKET_KEY_ROTATION=10m", 1, F_ROTATION, 600000, NULL},
    {"MOAT_TLS_TICKET_KEY_ROTATION=10s", 0, F_ROTATION, 0, "must be between"},
    {"MOAT_TLS_TICKET_KEY_ROTATION=25h", 0, F_ROTATION, 0, "must be between"},
    {"MOAT_TLS_EXPIRY_WARN_DAYS=0", 1, F_WARN_DAYS, 0, NULL},
    {"MOAT_TLS_EXPIRY_WARN_DAYS=30", 1, F_WARN_DAYS, 30, NULL},
    {"MOAT_TLS_EXPIRY_WARN_DAYS=-1", 0, F_WARN_DAYS, 0, "expected"},
    {"MOAT_PROXY_TRUSTED_PROXIES=10.0.0.0/8,,192.168.0.0/16", 1, F_NTRUSTED, 2, NULL},
    {"MOAT_PROXY_TRUSTED_PROXIES= ", 1, F_NTRUSTED, 0, NULL},
    {"MOAT_PROXY_TRUSTED_PROXIES=10.0.0.1/8", 0, F_NTRUSTED, 0,
     "\"10.0.0.1/8\": the address has bits set beyond the prefix length"},
    {"MOAT_PROXY_TRUSTED_PROXIES=1.0.0.0/8,2.0.0.0/8,3.0.0.0/8,4.0.0.0/8,5.0.0.0/8,6.0.0.0/8,"
     "7.0.0.0/8,8.0.0.0/8,9.0.0.0/8,10.0.0.0/8,11.0.0.0/8,12.0.0.0/8,13.0.0.0/8,14.0.0.0/8,"
     "15.0.0.0/8,16.0.0.0/8,17.0.0.0/8,18.0.0.0/8,19.0.0.0/8,20.0.0.0/8,21.0.0.0/8,22.0.0.0/8,"
     "23.0.0.0/8,24.0.0.0/8,25.0.0.0/8,26.0.0.0/8,27.0.0.0/8,28.0.0.0/8,29.0.0.0/8,30.0.0.0/8,"
     "31.0.0.0/8,32.0.0.0/8,33.0.0.0/8",
     0, F_NTRUSTED, 0, "too many networks (at most 32)"},
};

static uint64_t field_value(const struct moat_config *cfg, enum field f)
{
    switch (f) {
    case F_BODY:
        return cfg->limits.max_body_bytes;
    case F_HEADER_BYTES:
        return cfg->limits.max_header_bytes;
    case F_URI_BYTES:
        return cfg->limits.max_uri_bytes;
    case F_CONNECT:
        return cfg->upstream.connect_timeout_ms;
    case F_DRAIN:
        return cfg->server.drain_timeout_ms;
    case F_WORKERS:
        return cfg->server.workers;
    case F_DEV:
        return (uint64_t)cfg->tls.dev;
    case F_ACCESS:
        return (uint64_t)cfg->log.access;
    case F_LEVEL:
        return (uint64_t)cfg->log.level;
    case F_WATCH:
        return cfg->tls.watch_interval_ms;
    case F_ROTATION:
        return cfg->tls.ticket_rotation_ms;
    case F_WARN_DAYS:
        return cfg->tls.expiry_warn_days;
    case F_NTRUSTED:
        return cfg->proxy.n_trusted;
    default:
        return 0;
    }
}

START_TEST(test_values)
{
    const struct value_case *c = &value_cases[_i];
    struct moat_config cfg;
    struct moat_cli cli;
    char err[1024];
    char prefix[256];
    const char *env[] = {"MOAT_CONFIG=/dev/null", c->var, NULL};
    const char *args[] = {"--dev", NULL};
    int rc = load(args, env, &cfg, &cli, err, sizeof err);

    ck_assert_msg(rc == (c->ok ? 0 : -1), "case %s: %s", c->var, err);
    if (c->ok) {
        if (c->field == F_REQID_HDR)
            ck_assert_str_eq(cfg.proxy.request_id_header, strchr(c->var, '=') + 1);
        else if (c->field == F_PRIORITY)
            ck_assert_str_eq(cfg.tls.priority, strchr(c->var, '=') + 1);
        else
            ck_assert_msg(field_value(&cfg, c->field) == c->want, "case %s", c->var);
    } else {
        /* "section.key = "value" (env NAME): why" */
        snprintf(prefix, sizeof prefix, "(env %.*s): ", (int)(strchr(c->var, '=') - c->var),
                 c->var);
        ck_assert_msg(strstr(err, prefix) != NULL, "err: %s", err);
        ck_assert_msg(strstr(err, c->why) != NULL, "err: %s", err);
        ck_assert_msg(strchr(err, '\n') == NULL && strchr(err, '\x01') == NULL, "err: %s", err);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_parse");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_listen, 0, sizeof listen_cases / sizeof listen_cases[0]);
    tcase_add_loop_test(tc, test_upstream, 0, sizeof upstream_cases / sizeof upstream_cases[0]);
    tcase_add_loop_test(tc, test_cidr_parse, 0, sizeof cidr_cases / sizeof cidr_cases[0]);
    tcase_add_loop_test(tc, test_cidr_match, 0, sizeof match_cases / sizeof match_cases[0]);
    tcase_add_loop_test(tc, test_values, 0, sizeof value_cases / sizeof value_cases[0]);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
