/* test_forward.c - integration tests of what moat forwards, checked byte for byte at a raw
 * upstream: forwarding headers (untrusted and trusted clients), request ids, hop-by-hop
 * removal in responses, request lines and framing passed on verbatim, pipelining. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness.h"

/* True when every character of s is in [A-Za-z0-9._:-] and its length is 8..128. */
static int request_id_ok(const char *s)
{
    size_t n = strlen(s);
    size_t i;

    if (n < 8 || n > 128)
        return 0;
    for (i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && strchr("._:-", s[i]) == NULL)
            return 0;
    }
    return 1;
}

START_TEST(test_hop_by_hop_response)
{
    static const struct h_step script[] = {
        H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: X-Leak, keep-alive\r\n"
               "X-Leak: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\n"
               "Proxy-Connection: keep-alive\r\nTrailer: X-T\r\nUpgrade: h2c\r\n"
               "X-Keep: yes\r\n\r\nok"),
        H_END};
    static const char *const dropped[] = {"X-Leak",           "Keep-Alive", "Proxy-Authenticate",
                                          "Proxy-Connection", "Trailer",    "Upgrade"};
    const struct h_step *const scripts[] = {script};
    struct h_upstream *u = harness_upstream_start(scripts, 1);
    struct h_moat m;
    struct h_resp r;
    const char *conn;
    size_t i;

    ck_assert_ptr_nonnull(u);
    h_start_moat(&m, harness_upstream_url(u), NULL);
    h_get(&m, "/", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq((const char *)r.body, "ok");
    for (i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
        ck_assert_msg(harness_resp_header(&r, dropped[i]) == NULL, "%s reached the client:\n%s",
                      dropped[i], r.head);
    conn = harness_resp_header(&r, "Connection");
    ck_assert_msg(conn == NULL || strcasestr(conn, "x-leak") == NULL, "Connection: %s", conn);
    ck_assert_str_eq(harness_resp_header(&r, "X-Keep"), "yes");
    harness_resp_free(&r);
}
END_TEST

START_TEST(test_forwarding_untrusted)
{
    struct h_upstream *u = h_ok_upstream();
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    char v[512];
    char *head;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    h_open(&c, &m);
    h_exchange(&c,
               "GET /path?q=1 HTTP/1.1\r\nHost: good.example\r\nX-Forwarded-For: 203.0.113.9\r\n"
               "X-Forwarded-Proto: http\r\nX-Forwarded-Host: evil.example\r\n"
               "X-Forwarded-Port: 1\r\nForwarded: for=198.51.100.7;proto=http\r\n\r\n",
               &r);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    harness_conn_close(&c);
    head = h_upstream_head(u, 0);
    ck_assert_msg(strncmp(head, "GET /path?q=1 HTTP/1.1\r\n", 24) == 0, "request line: %.60s",
                  head);
    ck_assert_msg(strstr(head, "203.0.113.9") == NULL && strstr(head, "198.51.100.7") == NULL &&
                      strstr(head, "evil.example") == NULL,
                  "client-sent forwarding headers reached the upstream:\n%s", head);
    ck_assert_msg(harness_head_header(head, "X-Forwarded-For", v, sizeof(v)) == 1, "XFF:\n%s",
                  head);
    ck_assert_str_eq(v, "127.0.0.1");
    ck_assert_msg(harness_head_header(head, "X-Forwarded-Proto", v, sizeof(v)) == 1, "XFP:\n%s",
                  head);
    ck_assert_str_eq(v, "https");
    ck_assert_msg(harness_head_header(head, "X-Forwarded-Host", v, sizeof(v)) == 1, "XFH:\n%s",
                  head);
    ck_assert_str_eq(v, "good.example");
    ck_assert_msg(harness_head_header(head, "Host", v, sizeof(v)) == 1, "Host:\n%s", head);
    ck_assert_str_eq(v, "good.example");
    ck_assert_msg(harness_head_header(head, "Forwarded", v, sizeof(v)) == 1, "Forwarded:\n%s",
                  head);
    ck_assert_msg(strstr(v, "for=127.0.0.1") != NULL || strstr(v, "for=\"127.0.0.1\"") != NULL,
                  "Forwarded: %s", v);
    ck_assert_msg(strstr(v, "proto=https") != NULL && strstr(v, "host=") != NULL &&
                      strstr(v, "good.example") != NULL,
                  "Forwarded: %s", v);
    free(head);
}
END_TEST

START_TEST(test_forwarding_trusted)
{
    struct h_upstream *u = h_ok_upstream();
    struct h_moat m;
    struct h_resp r;
    struct h_conn c;
    char v[512];
    char *head;
    size_t n;

    h_start_moat(&m, harness_upstream_url(u),
                 (const char *const[]){"MOAT_PROXY_TRUSTED_PROXIES=127.0.0.1/32", NULL});
    h_open(&c, &m);
    h_exchange(&c,
               "GET / HTTP/1.1\r\nHost: good.example\r\nX-Forwarded-For: 203.0.113.9\r\n"
               "Forwarded: for=203.0.113.9\r\n\r\n",
               &r);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    harness_conn_close(&c);
    head = h_upstream_head(u, 0);
    ck_assert_msg(harness_head_header(head, "X-Forwarded-For", v, sizeof(v)) == 1, "XFF:\n%s",
                  head);
    n = strlen(v);
    ck_assert_msg(strncmp(v, "203.0.113.9", 11) == 0 && n > 9 &&
                      strcmp(v + n - 9, "127.0.0.1") == 0,
                  "trusted XFF not appended: '%s'", v);
    ck_assert_msg(harness_head_header(head, "Forwarded", v, sizeof(v)) >= 1, "Forwarded:\n%s",
                  head);
    ck_assert_msg(
        strstr(head, "for=203.0.113.9") != NULL &&
            (strstr(head, "for=127.0.0.1") != NULL || strstr(head, "for=\"127.0.0.1\"") != NULL),
        "trusted Forwarded not appended:\n%s", head);
    free(head);
}
END_TEST

START_TEST(test_request_id_generated)
{
    struct h_upstream *u = h_ok_upstream();
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    char up[256];
    char first[256];
    char *head;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    h_open(&c, &m);
    /* 0: none sent, generated; the response carries the same id. */
    h_exchange(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    head = h_upstream_head(u, 0);
    ck_assert_msg(harness_head_header(head, "X-Request-Id", up, sizeof(up)) == 1, "%s", head);
    ck_assert_msg(request_id_ok(up), "generated id '%s'", up);
    ck_assert_msg(harness_resp_header_count(&r, "X-Request-Id") == 1,
                  "response has %zu X-Request-Id fields",
                  harness_resp_header_count(&r, "X-Request-Id"));
    ck_assert_str_eq(harness_resp_header(&r, "X-Request-Id"), up);
    snprintf(first, sizeof(first), "%s", up);
    free(head);
    harness_resp_free(&r);
    /* 1: another generated one differs. */
    h_exchange(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    head = h_upstream_head(u, 1);
    ck_assert_int_eq(harness_head_header(head, "X-Request-Id", up, sizeof(up)), 1);
    ck_assert_msg(strcmp(up, first) != 0, "two requests got the same id %s", up);
    free(head);
    harness_resp_free(&r);
    /* 2: an invalid client id is replaced. */
    h_exchange(&c, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: bad id<script>\r\n\r\n", &r);
    head = h_upstream_head(u, 2);
    ck_assert_int_eq(harness_head_header(head, "X-Request-Id", up, sizeof(up)), 1);
    ck_assert_msg(request_id_ok(up) && strstr(up, "script") == NULL, "invalid id kept: %s", up);
    ck_assert_str_eq(harness_resp_header(&r, "X-Request-Id"), up);
    free(head);
    harness_resp_free(&r);
    harness_conn_close(&c);
}
END_TEST

/* Sends a valid client request id through moat (started with env) and checks that both the
 * upstream and the response carry it. */
static void check_client_id_kept(const char *const *env)
{
    struct h_upstream *u = h_ok_upstream();
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    char up[256];
    char *head;

    h_start_moat(&m, harness_upstream_url(u), env);
    h_open(&c, &m);
    h_exchange(&c, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: client-id_42.a:b\r\n\r\n",
               &r);
    head = h_upstream_head(u, 0);
    ck_assert_int_eq(harness_head_header(head, "X-Request-Id", up, sizeof(up)), 1);
    ck_assert_msg(strcmp(up, "client-id_42.a:b") == 0, "valid client id replaced by %s", up);
    ck_assert_str_eq(harness_resp_header(&r, "X-Request-Id"), "client-id_42.a:b");
    free(head);
    harness_resp_free(&r);
    harness_conn_close(&c);
}

START_TEST(test_request_id_kept_trusted)
{
    check_client_id_kept((const char *const[]){"MOAT_PROXY_TRUSTED_PROXIES=127.0.0.1/32", NULL});
}
END_TEST

START_TEST(test_request_id_kept_untrusted)
{
    check_client_id_kept(NULL);
}
END_TEST

START_TEST(test_pipelined_requests)
{
    struct h_upstream *u = h_ok_upstream();
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    char *head;
    int i;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    h_open(&c, &m);
    ck_assert_int_eq(harness_conn_send_str(&c, "GET /p1 HTTP/1.1\r\nHost: localhost\r\n\r\n"
                                               "GET /p2 HTTP/1.1\r\nHost: localhost\r\n\r\n"
                                               "GET /p3 HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                     0);
    for (i = 0; i < 3; i++) {
        ck_assert_msg(harness_read_response(&c, &r, NULL) == 0, "pipelined response %d: %s", i,
                      r.error);
        ck_assert_int_eq(r.status, 200);
        harness_resp_free(&r);
    }
    for (i = 0; i < 3; i++) {
        char want[32];
        head = h_upstream_head(u, (unsigned)i);
        snprintf(want, sizeof(want), "GET /p%d ", i + 1);
        ck_assert_msg(strncmp(head, want, strlen(want)) == 0, "request %d forwarded as %.30s", i,
                      head);
        free(head);
    }
    harness_conn_close(&c);
}
END_TEST

/* Methods and targets that must reach the upstream verbatim. */
static const char *const verbatim_lines[] = {
    "GET /a%2Fb/./c/../d;p=1?x=%20y&z HTTP/1.1",
    "PUT /item/1 HTTP/1.1",
    "PATCH /item/1 HTTP/1.1",
    "DELETE /item/1 HTTP/1.1",
    "OPTIONS * HTTP/1.1",
    "OPTIONS /cors HTTP/1.1",
    "PURGE /cache HTTP/1.1",
    "POST /form?q=%E2%9C%93 HTTP/1.1",
};

START_TEST(test_request_line_verbatim)
{
    const char *line = verbatim_lines[_i];
    struct h_upstream *u = h_ok_upstream();
    struct h_moat m;
    struct h_resp r;
    char raw[512];
    char *head;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    snprintf(raw, sizeof(raw), "%s\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n", line);
    harness_request(m.port, raw, &r, 5000, NULL);
    ck_assert_msg(r.status == 200, "%s: status %d (%s)", line, r.status, r.error);
    harness_resp_free(&r);
    head = h_upstream_head(u, 0);
    ck_assert_msg(strncmp(head, line, strlen(line)) == 0 && head[strlen(line)] == '\r',
                  "sent '%s', upstream got '%.*s'", line, (int)strcspn(head, "\r"), head);
    free(head);
}
END_TEST

START_TEST(test_request_framing_upstream)
{
    struct h_upstream *u = h_ok_upstream();
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    struct h_up_body b;
    char v[64];
    char *head;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    h_open(&c, &m);
    h_exchange(&c, "POST /up HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n0123456789",
               &r);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_conn_send_str(&c, "POST /up2 HTTP/1.1\r\nHost: localhost\r\n"
                                               "Transfer-Encoding: chunked\r\n\r\n"),
                     0);
    ck_assert_int_eq(harness_conn_send_pattern(&c, 70000, 1), 0);
    ck_assert_int_eq(harness_read_response(&c, &r, NULL), 0);
    harness_resp_free(&r);
    head = h_upstream_head(u, 0);
    ck_assert_int_eq(harness_head_header(head, "Content-Length", v, sizeof(v)), 1);
    ck_assert_str_eq(v, "10");
    ck_assert_int_eq(harness_head_header(head, "Transfer-Encoding", NULL, 0), 0);
    ck_assert_int_eq(harness_upstream_body(u, 0, &b), 0);
    ck_assert_msg(b.len == 10 && b.complete, "body %llu bytes", (unsigned long long)b.len);
    free(head);
    head = h_upstream_head(u, 1);
    ck_assert_msg(harness_head_header(head, "Content-Length", NULL, 0) +
                          harness_head_header(head, "Transfer-Encoding", NULL, 0) ==
                      1,
                  "ambiguous upstream framing:\n%s", head);
    ck_assert_int_eq(harness_upstream_body(u, 1, &b), 0);
    ck_assert_msg(b.len == 70000 && b.complete && b.pattern_ok, "chunked body %llu bytes",
                  (unsigned long long)b.len);
    free(head);
    harness_conn_close(&c);
}
END_TEST

START_TEST(test_ipv6_client)
{
    struct h_upstream *u = h_ok_upstream();
    struct h_moat m;
    struct h_moat_opts o = {0};
    struct h_conn c;
    struct h_resp r;
    char v[256];
    char *head;

    o.upstream = harness_upstream_url(u);
    o.ipv6 = 1;
    ck_assert_msg(harness_moat_start(&m, &o) == 0, "moat did not start on [::1]");
    h_open(&c, &m);
    h_exchange(&c, "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    harness_conn_close(&c);
    head = h_upstream_head(u, 0);
    ck_assert_int_eq(harness_head_header(head, "X-Forwarded-For", v, sizeof(v)), 1);
    ck_assert_str_eq(v, "::1");
    ck_assert_int_eq(harness_head_header(head, "Forwarded", v, sizeof(v)), 1);
    ck_assert_msg(strstr(v, "for=\"[::1]\"") != NULL, "IPv6 Forwarded not quoted per RFC 7239: %s",
                  v);
    ck_assert_int_eq(harness_head_header(head, "X-Forwarded-Host", v, sizeof(v)), 1);
    ck_assert_str_eq(v, "[::1]");
    free(head);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("forward");
    TCase *tc = harness_tcase("raw", 30);
    Suite *const suites[] = {s, NULL};

    tcase_add_test(tc, test_hop_by_hop_response);
    tcase_add_test(tc, test_forwarding_untrusted);
    tcase_add_test(tc, test_forwarding_trusted);
    tcase_add_test(tc, test_request_id_generated);
    tcase_add_test(tc, test_request_id_kept_trusted);
    tcase_add_test(tc, test_request_id_kept_untrusted);
    tcase_add_test(tc, test_pipelined_requests);
    tcase_add_loop_test(tc, test_request_line_verbatim, 0,
                        (int)(sizeof(verbatim_lines) / sizeof(verbatim_lines[0])));
    tcase_add_test(tc, test_request_framing_upstream);
    tcase_add_test(tc, test_ipv6_client);
    suite_add_tcase(s, tc);
    return harness_run_suites(suites);
}
