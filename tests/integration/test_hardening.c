/* test_hardening.c - integration tests of moat's request hardening: every rejection rule
 * (raw request bytes -> status + closed connection, nothing sent upstream), header/URI/body
 * limits, connection limits, slowloris and idle timeouts, and the TLS protocol floor. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness.h"

/* Limits every table row runs with (small, so the rows stay small). */
static const char *const limits_env[] = {
    "MOAT_LIMITS_MAX_HEADERS=20", "MOAT_LIMITS_MAX_HEADER_BYTES=4096",
    "MOAT_LIMITS_MAX_URI_BYTES=1024", "MOAT_LIMITS_MAX_BODY_BYTES=1k", NULL};

/* Builds a request that does not fit in a literal. */
typedef void (*build_fn)(char *buf, size_t cap);

/* 30 header fields (limit 20). */
static void build_many_headers(char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\nHost: localhost\r\n");
    int i;

    for (i = 0; i < 30 && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "X-Many-%d: v\r\n", i);
    snprintf(buf + n, cap - n, "\r\n");
}

/* One 6000-byte header value (limit 4096 bytes in all). */
static void build_big_header(char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ");

    memset(buf + n, 'b', 6000);
    n += 6000;
    snprintf(buf + n, cap - n, "\r\n\r\n");
}

/* Headers that add up to over 4096 bytes, each small. */
static void build_header_sum(char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\nHost: localhost\r\n");
    int i;

    for (i = 0; i < 10 && n < cap; i++) {
        n += (size_t)snprintf(buf + n, cap - n, "X-Part-%d: ", i);
        memset(buf + n, 'p', 500);
        n += 500;
        n += (size_t)snprintf(buf + n, cap - n, "\r\n");
    }
    snprintf(buf + n, cap - n, "\r\n");
}

/* A 2000-byte request target (limit 1024). */
static void build_long_uri(char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "GET /");

    memset(buf + n, 'u', 2000);
    n += 2000;
    snprintf(buf + n, cap - n, " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

/* One row: request bytes, the expected status, and whether it reaches the upstream. */
struct reject_case {
    const char *name;
    const char *raw; /* request bytes (NULL: build) */
    build_fn build;  /* builds the request when raw is NULL */
    int status;      /* expected status */
    int forwarded;   /* 1: a valid request (the control rows) */
    int alt_status;  /* another acceptable status, 0: none */
};

static const struct reject_case reject_cases[] = {
    {"control: plain GET", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", NULL, 200, 1, 0},
    {"control: absolute-form matching Host",
     "GET http://good.example/x HTTP/1.1\r\nHost: good.example\r\n\r\n", NULL, 200, 1, 0},
    {"duplicate Content-Length (equal)",
     "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", NULL,
     400, 0, 0},
    {"duplicate Content-Length (different)",
     "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", NULL,
     400, 0, 0},
    {"Content-Length list", "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 5\r\n\r\n",
     NULL, 400, 0, 0},
    {"Content-Length not numeric",
     "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n", NULL, 400, 0, 0},
    {"Content-Length with sign", "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: +5\r\n\r\n",
     NULL, 400, 0, 0},
    {"Content-Length negative", "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
     NULL, 400, 0, 0},
    {"Content-Length overflow",
     "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999999\r\n\r\n", NULL,
     400, 0, 413},
    {"Content-Length with Transfer-Encoding",
     "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     NULL, 400, 0, 0},
    {"Transfer-Encoding gzip",
     "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n", NULL, 400, 0, 0},
    {"Transfer-Encoding gzip, chunked",
     "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", NULL, 400, 0,
     0},
    {"Transfer-Encoding identity",
     "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: identity\r\n\r\n", NULL, 400, 0, 0},
    {"Transfer-Encoding twice",
     "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     NULL, 400, 0, 0},
    {"Transfer-Encoding in HTTP/1.0",
     "POST / HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n", NULL, 400, 0, 0},
    {"space before colon", "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length : 5\r\n\r\n", NULL,
     400, 0, 0},
    {"header name with space", "GET / HTTP/1.1\r\nHost: localhost\r\nX Bad: 1\r\n\r\n", NULL, 400,
     0, 0},
    {"header value with control byte", "GET / HTTP/1.1\r\nHost: localhost\r\nX-Ctl: a\001b\r\n\r\n",
     NULL, 400, 0, 0},
    {"missing Host", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", NULL, 400, 0, 0},
    {"two Host headers", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", NULL, 400,
     0, 0},
    {"Host with userinfo", "GET / HTTP/1.1\r\nHost: user@good.example\r\n\r\n", NULL, 400, 0, 0},
    {"absolute-form authority differs from Host",
     "GET http://evil.example/ HTTP/1.1\r\nHost: good.example\r\n\r\n", NULL, 400, 0, 0},
    {"method not a token", "G@T / HTTP/1.1\r\nHost: localhost\r\n\r\n", NULL, 400, 0, 0},
    {"TRACE", "TRACE / HTTP/1.1\r\nHost: localhost\r\n\r\n", NULL, 501, 0, 0},
    {"CONNECT", "CONNECT good.example:443 HTTP/1.1\r\nHost: good.example:443\r\n\r\n", NULL, 501, 0,
     0},
    {"HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: localhost\r\n\r\n", NULL, 505, 0, 0},
    {"Expect other than 100-continue",
     "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nExpect: 200-ok\r\n\r\n", NULL, 417,
     0, 0},
    {"smuggling CL.TE",
     "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n"
     "\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n",
     NULL, 400, 0, 0},
    {"smuggling obfuscated TE",
     "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n"
     "\r\n5c\r\nGET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n",
     NULL, 400, 0, 0},
    {"smuggling TE with space before colon",
     "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"
     "GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n",
     NULL, 400, 0, 0},
    {"smuggling second TE header",
     "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-encoding: identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: "
     "localhost\r\n\r\n",
     NULL, 400, 0, 0},
    {"too many headers", NULL, build_many_headers, 431, 0, 0},
    {"one header too large", NULL, build_big_header, 431, 0, 0},
    {"headers too large in sum", NULL, build_header_sum, 431, 0, 0},
    {"URI too long", NULL, build_long_uri, 414, 0, 0},
    {"Content-Length over the body limit",
     "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\r\n", NULL, 413, 0, 0},
};

static const struct h_step ok_script[] = {H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                                          H_END};

/* Starts an "ok" raw upstream and moat in front of it with env. */
static struct h_upstream *start_pair(struct h_moat *m, const char *const *env)
{
    const struct h_step *const scripts[] = {ok_script};
    struct h_upstream *u = harness_upstream_start(scripts, 1);
    struct h_moat_opts o = {0};

    ck_assert_ptr_nonnull(u);
    o.upstream = harness_upstream_url(u);
    o.env = env;
    ck_assert_msg(harness_moat_start(m, &o) == 0, "moat did not start");
    return u;
}

START_TEST(test_reject_table)
{
    const struct reject_case *c = &reject_cases[_i];
    static char built[16384];
    const char *raw = c->raw;
    struct h_moat m;
    struct h_upstream *u = start_pair(&m, limits_env);
    struct h_resp r;
    int closed = 0;
    const char *conn;

    if (raw == NULL) {
        c->build(built, sizeof(built));
        raw = built;
    }
    harness_request(m.port, raw, &r, 5000, c->forwarded ? NULL : &closed);
    ck_assert_msg(r.status == c->status || (c->alt_status != 0 && r.status == c->alt_status),
                  "%s: status %d, want %d (%s)\n%s", c->name, r.status, c->status, r.error,
                  r.head != NULL ? r.head : "");
    if (c->forwarded) {
        ck_assert_msg(harness_upstream_wait(u, 1, 2000), "%s: not forwarded", c->name);
        harness_resp_free(&r);
        return;
    }
    conn = harness_resp_header(&r, "Connection");
    ck_assert_msg(conn != NULL && strcasecmp(conn, "close") == 0,
                  "%s: rejection without Connection: close\n%s", c->name, r.head);
    ck_assert_msg(r.complete, "%s: rejection body incomplete: %s", c->name, r.error);
    ck_assert_msg(closed, "%s: moat kept the connection open after %d", c->name, r.status);
    harness_resp_free(&r);
    ck_assert_msg(harness_upstream_bytes(u) == 0, "%s: the upstream received %llu bytes", c->name,
                  (unsigned long long)harness_upstream_bytes(u));
    /* moat still serves, and only that request reaches the upstream. */
    harness_request(m.port, "GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n", &r, 5000, NULL);
    ck_assert_msg(r.status == 200, "%s: follow-up request got %d (%s)", c->name, r.status, r.error);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_upstream_requests(u), 1);
}
END_TEST

START_TEST(test_chunked_body_over_limit)
{
    struct h_moat m;
    struct h_upstream *u = start_pair(&m, limits_env);
    struct h_conn c;
    struct h_resp r;
    struct h_up_body b;
    int rc;

    ck_assert_msg(harness_conn_open(&c, m.port) == 0, "connect: %s", c.error);
    harness_conn_send_str(&c, "POST /big HTTP/1.1\r\nHost: localhost\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n");
    harness_conn_send_pattern(&c, 100000, 1); /* may fail once moat gives up: fine */
    rc = harness_read_response(&c, &r, NULL);
    ck_assert_msg((rc == 0 && r.status == 413) || (r.status == 0 && c.eof),
                  "oversized chunked body: status %d (%s)", r.status, r.error);
    ck_assert_msg(harness_conn_wait_closed(&c, 3000), "connection left open");
    harness_resp_free(&r);
    harness_conn_close(&c);
    if (harness_upstream_body(u, 0, &b) == 0)
        ck_assert_msg(!b.complete, "the upstream received the whole oversized body");
}
END_TEST

/* Environment for the connection-limit rows. libmicrohttpd splits a global connection limit
 * between its worker threads, so that row runs with one worker to be exact. */
static const char *const conn_limit_env[][3] = {
    {"MOAT_SERVER_MAX_CONNECTIONS_PER_IP=2", NULL, NULL},
    {"MOAT_SERVER_MAX_CONNECTIONS=2", "MOAT_SERVER_WORKERS=1", NULL},
};

/* True when a request on a fresh connection is answered 200 within 5 s of tries. */
static int can_serve(int port)
{
    uint64_t deadline = harness_now_ms() + 5000;

    while (harness_now_ms() < deadline) {
        struct h_resp r;
        int ok = harness_request(port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", &r, 2000,
                                 NULL) == 0 &&
                 r.status == 200;
        harness_resp_free(&r);
        if (ok)
            return 1;
        harness_sleep_ms(100);
    }
    return 0;
}

START_TEST(test_connection_limits)
{
    struct h_moat m;
    struct h_conn c[3];
    struct h_resp r;
    int i;

    start_pair(&m, conn_limit_env[_i]);
    for (i = 0; i < 2; i++) {
        ck_assert_msg(harness_conn_open(&c[i], m.port) == 0, "%s: connection %d: %s",
                      conn_limit_env[_i][0], i + 1, c[i].error);
        harness_conn_send_str(&c[i], "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        ck_assert_int_eq(harness_read_response(&c[i], &r, NULL), 0);
        harness_resp_free(&r);
    }
    if (harness_conn_open(&c[2], m.port) == 0) {
        harness_conn_send_str(&c[2], "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        ck_assert_msg(harness_read_response(&c[2], &r, NULL) != 0 && r.status == 0,
                      "%s: third connection served with %d", conn_limit_env[_i][0], r.status);
        ck_assert_msg(harness_conn_wait_closed(&c[2], 3000), "%s: third connection left open",
                      conn_limit_env[_i][0]);
        harness_resp_free(&r);
        harness_conn_close(&c[2]);
    }
    harness_conn_close(&c[0]);
    ck_assert_msg(can_serve(m.port), "%s: no connection accepted after one closed",
                  conn_limit_env[_i][0]);
    harness_conn_close(&c[1]);
}
END_TEST

START_TEST(test_slowloris_head)
{
    static const char *const env[] = {"MOAT_LIMITS_HEADER_TIMEOUT=1s", NULL};
    struct h_moat m;
    struct h_conn c;
    uint64_t t0;
    uint64_t elapsed = 0;
    int closed = 0;
    int i;

    start_pair(&m, env);
    ck_assert_msg(harness_conn_open(&c, m.port) == 0, "connect: %s", c.error);
    t0 = harness_now_ms();
    harness_conn_send_str(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n");
    for (i = 0; i < 40 && !closed; i++) {
        char line[64];

        snprintf(line, sizeof(line), "X-Drip-%d: a\r\n", i);
        if (harness_conn_send_str(&c, line) != 0)
            closed = 1;
        else
            closed = harness_conn_wait_closed(&c, 200);
    }
    elapsed = harness_now_ms() - t0;
    ck_assert_msg(closed, "drip-fed head still open after %llu ms", (unsigned long long)elapsed);
    ck_assert_msg(elapsed <= 3000, "drip-fed head cut only after %llu ms",
                  (unsigned long long)elapsed);
    harness_conn_close(&c);
    ck_assert_msg(can_serve(m.port), "moat stopped serving after the slowloris");
}
END_TEST

START_TEST(test_idle_client_timeout)
{
    static const char *const env[] = {"MOAT_LIMITS_CLIENT_IDLE_TIMEOUT=1s",
                                      "MOAT_LIMITS_HEADER_TIMEOUT=1s", NULL};
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    uint64_t t0;

    start_pair(&m, env);
    /* Silent from the start. */
    ck_assert_msg(harness_conn_open(&c, m.port) == 0, "connect: %s", c.error);
    t0 = harness_now_ms();
    ck_assert_msg(harness_conn_wait_closed(&c, 4000), "silent connection still open");
    ck_assert_msg(harness_now_ms() - t0 <= 3000, "silent connection closed after %llu ms",
                  (unsigned long long)(harness_now_ms() - t0));
    harness_conn_close(&c);
    /* Idle after a complete request. */
    ck_assert_msg(harness_conn_open(&c, m.port) == 0, "connect: %s", c.error);
    harness_conn_send_str(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    ck_assert_int_eq(harness_read_response(&c, &r, NULL), 0);
    harness_resp_free(&r);
    t0 = harness_now_ms();
    ck_assert_msg(harness_conn_wait_closed(&c, 4000), "idle keep-alive connection still open");
    ck_assert_msg(harness_now_ms() - t0 <= 3000, "idle connection closed after %llu ms",
                  (unsigned long long)(harness_now_ms() - t0));
    harness_conn_close(&c);
}
END_TEST

/* TLS client settings and whether moat must accept them. */
struct tls_case {
    const char *name;
    int min_version;
    int max_version;
    const char *ciphers;
    int accepted;
};

static const struct tls_case tls_cases[] = {
    {"TLS 1.3", TLS1_3_VERSION, TLS1_3_VERSION, NULL, 1},
    {"TLS 1.2 ECDHE-ECDSA-AES128-GCM", TLS1_2_VERSION, TLS1_2_VERSION,
     "ECDHE-ECDSA-AES128-GCM-SHA256", 1},
    {"TLS 1.2 ECDHE-ECDSA-CHACHA20", TLS1_2_VERSION, TLS1_2_VERSION,
     "ECDHE-ECDSA-CHACHA20-POLY1305", 1},
    {"TLS 1.1", TLS1_1_VERSION, TLS1_1_VERSION, "ALL:@SECLEVEL=0", 0},
    {"TLS 1.0", TLS1_VERSION, TLS1_VERSION, "ALL:@SECLEVEL=0", 0},
    {"TLS 1.2 CBC only", TLS1_2_VERSION, TLS1_2_VERSION,
     "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256", 0},
    {"TLS 1.2 no forward secrecy", TLS1_2_VERSION, TLS1_2_VERSION,
     "AES128-GCM-SHA256:AES256-GCM-SHA384", 0},
};

START_TEST(test_tls_floor)
{
    const struct tls_case *t = &tls_cases[_i];
    struct h_moat m;
    struct h_conn c;
    struct h_tls_opts o = {0};
    int rc;

    start_pair(&m, NULL);
    o.min_version = t->min_version;
    o.max_version = t->max_version;
    o.cipher_list = t->ciphers;
    rc = harness_conn_open_tls(&c, m.port, &o);
    if (t->accepted) {
        struct h_resp r;
        ck_assert_msg(rc == 0, "%s refused: %s", t->name, c.error);
        harness_conn_send_str(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        ck_assert_int_eq(harness_read_response(&c, &r, NULL), 0);
        ck_assert_int_eq(r.status, 200);
        harness_resp_free(&r);
    } else {
        ck_assert_msg(rc != 0, "%s accepted", t->name);
    }
    harness_conn_close(&c);
}
END_TEST

/* Fingerprint of the certificate moat serves now. */
static void served_sha256(const struct h_moat *m, char *hex)
{
    struct h_conn c;

    ck_assert_msg(harness_conn_open(&c, m->port) == 0, "connect: %s", c.error);
    ck_assert_int_eq(harness_conn_peer_sha256(&c, hex), 0);
    harness_conn_close(&c);
}

START_TEST(test_cert_reload)
{
    struct h_moat m;
    char before[65];
    char want[65];
    char now[65];
    char cert2[H_PATH];
    char key2[H_PATH];
    uint64_t deadline;

    start_pair(&m, NULL);
    served_sha256(&m, before);
    harness_path(cert2, sizeof(cert2), "cert2.pem");
    harness_path(key2, sizeof(key2), "key2.pem");
    ck_assert_int_eq(harness_make_cert(cert2, key2), 0);
    ck_assert_int_eq(harness_cert_sha256(cert2, want), 0);
    ck_assert_int_eq(rename(key2, harness_key()), 0);
    ck_assert_int_eq(rename(cert2, harness_cert()), 0);
    kill(m.pid, SIGHUP);
    deadline = harness_now_ms() + 3000;
    do {
        harness_sleep_ms(50);
        served_sha256(&m, now);
    } while (strcmp(now, want) != 0 && harness_now_ms() < deadline);
    ck_assert_msg(strcmp(now, want) == 0, "SIGHUP did not load the new certificate");
    ck_assert_msg(strcmp(before, want) != 0, "test certificates collide");

    /* A broken certificate on reload: the working one stays in service. */
    ck_assert_int_eq(harness_write_file(harness_cert(), "not a certificate\n", 18, 0644), 0);
    kill(m.pid, SIGHUP);
    harness_sleep_ms(500);
    ck_assert_msg(harness_proc_alive(m.pid), "moat died on a bad certificate reload");
    served_sha256(&m, now);
    ck_assert_str_eq(now, want);
    ck_assert_msg(can_serve(m.port), "moat stopped serving after a bad reload");
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

START_TEST(test_plain_http_on_tls_port)
{
    struct h_moat m;
    struct h_upstream *u = start_pair(&m, NULL);
    struct h_conn c;
    struct h_resp r;

    ck_assert_int_eq(harness_conn_open_plain(&c, m.port), 0);
    harness_conn_send_str(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    harness_read_response(&c, &r, NULL);
    ck_assert_msg(r.status != 200, "plain HTTP served on the TLS port");
    ck_assert_msg(harness_conn_wait_closed(&c, 3000), "plain-HTTP connection left open");
    harness_resp_free(&r);
    harness_conn_close(&c);
    ck_assert_int_eq(harness_upstream_bytes(u), 0);
    ck_assert_msg(can_serve(m.port), "moat stopped serving");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hardening");
    TCase *rules = harness_tcase("rules", 30);
    TCase *limits = harness_tcase("limits", 30);
    TCase *tls = harness_tcase("tls", 30);
    Suite *const suites[] = {s, NULL};

    tcase_add_loop_test(rules, test_reject_table, 0,
                        (int)(sizeof(reject_cases) / sizeof(reject_cases[0])));
    tcase_add_test(rules, test_chunked_body_over_limit);
    tcase_add_loop_test(limits, test_connection_limits, 0,
                        (int)(sizeof(conn_limit_env) / sizeof(conn_limit_env[0])));
    tcase_add_test(limits, test_slowloris_head);
    tcase_add_test(limits, test_idle_client_timeout);
    tcase_add_loop_test(tls, test_tls_floor, 0, (int)(sizeof(tls_cases) / sizeof(tls_cases[0])));
    tcase_add_test(tls, test_plain_http_on_tls_port);
    tcase_add_test(tls, test_cert_reload);
    suite_add_tcase(s, rules);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, tls);
    return harness_run_suites(suites);
}
