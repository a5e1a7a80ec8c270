/* test_proxy.c - integration tests of moat as a reverse proxy in front of gunicorn + Flask:
 * bodies both ways (up to 64 MiB), keep-alive, HEAD/204/304 framing, Expect, HTTP/1.0
 * clients, hop-by-hop removal, empty header values, Unix sockets, the access log, SIGTERM
 * draining and fd hygiene. Exact forwarded bytes are checked in test_forward.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness.h"

#define MIB (1024ull * 1024ull)

/* Starts moat in front of the shared app with extra environment env (may be NULL). */
static void start_for_app(struct h_moat *m, const char *const *env)
{
    h_start_moat(m, harness_shared_app()->url, env);
}

START_TEST(test_get_root)
{
    struct h_moat m;
    struct h_resp r;

    start_for_app(&m, NULL);
    h_get(&m, "/", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr((const char *)r.body, "hello from the test app") != NULL, "body: %s",
                  r.body);
    ck_assert_msg(harness_resp_header(&r, "Content-Type") != NULL, "no Content-Type");
    ck_assert_msg(harness_resp_header(&r, "X-Request-Id") != NULL, "no X-Request-Id");
    harness_resp_free(&r);
}
END_TEST

START_TEST(test_keepalive)
{
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    int i;

    start_for_app(&m, NULL);
    h_open(&c, &m);
    for (i = 0; i < 3; i++) {
        h_exchange(&c, "GET /echo?n=1 HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_msg(harness_resp_header(&r, "Connection") == NULL ||
                          strcasecmp(harness_resp_header(&r, "Connection"), "close") != 0,
                      "request %d: moat answered Connection: close", i);
        harness_resp_free(&r);
    }
    ck_assert_msg(!c.eof, "moat closed the keep-alive connection");
    harness_conn_close(&c);
}
END_TEST

/* Uploads n pattern bytes to /echo (chunked or with Content-Length) and checks what the
 * app received. */
static void upload_check(const struct h_moat *m, uint64_t n, int chunked)
{
    struct h_conn c;
    struct h_resp r;
    struct h_read_opts o = {0};
    char head[256];
    char want[65];
    char got[80];

    harness_pattern_sha256(n, want);
    if (chunked)
        snprintf(head, sizeof(head),
                 "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n");
    else
        snprintf(head, sizeof(head),
                 "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: %llu\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n",
                 (unsigned long long)n);
    h_open(&c, m);
    ck_assert_int_eq(harness_conn_send_str(&c, head), 0);
    ck_assert_msg(harness_conn_send_pattern(&c, n, chunked) == 0, "upload: %s", c.error);
    o.timeout_ms = 30000;
    ck_assert_msg(harness_read_response(&c, &r, &o) == 0, "response: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(harness_json_get((const char *)r.body, "body_len", got, sizeof(got)), 0);
    ck_assert_msg(strtoull(got, NULL, 10) == n, "app got %s bytes, sent %llu", got,
                  (unsigned long long)n);
    ck_assert_int_eq(harness_json_get((const char *)r.body, "body_sha256", got, sizeof(got)), 0);
    ck_assert_str_eq(got, want);
    harness_resp_free(&r);
    harness_conn_close(&c);
}

START_TEST(test_post_content_length)
{
    struct h_moat m;

    start_for_app(&m, NULL);
    upload_check(&m, 100000, 0);
    upload_check(&m, 0, 0);
}
END_TEST

START_TEST(test_post_chunked)
{
    struct h_moat m;

    start_for_app(&m, NULL);
    upload_check(&m, 300001, 1);
}
END_TEST

START_TEST(test_large_upload)
{
    struct h_moat m;

    start_for_app(&m, NULL);
    upload_check(&m, 64 * MIB, 0);
    upload_check(&m, 16 * MIB + 7, 1);
}
END_TEST

START_TEST(test_large_download)
{
    struct h_moat m;
    struct h_resp r;
    char path[64];

    start_for_app(&m, NULL);
    snprintf(path, sizeof(path), "/bytes/%llu", 64 * MIB);
    h_get(&m, path, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(r.body_len == 64 * MIB, "got %llu bytes", (unsigned long long)r.body_len);
    ck_assert_msg(r.pattern_ok, "downloaded bytes differ from the pattern");
    harness_resp_free(&r);

    snprintf(path, sizeof(path), "/bytes/%llu?cl=1", 8 * MIB + 3);
    h_get(&m, path, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(r.body_len == 8 * MIB + 3, "got %llu bytes", (unsigned long long)r.body_len);
    ck_assert_msg(r.pattern_ok, "downloaded bytes differ from the pattern");
    harness_resp_free(&r);
}
END_TEST

START_TEST(test_head)
{
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;

    start_for_app(&m, NULL);
    h_open(&c, &m);
    h_exchange(&c, "HEAD /head-test HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(harness_resp_header(&r, "Content-Length") != NULL &&
                      strcmp(harness_resp_header(&r, "Content-Length"), "15") == 0,
                  "HEAD lost its Content-Length: %s", r.head);
    ck_assert_str_eq(harness_resp_header(&r, "X-Head-Test"), "1");
    harness_resp_free(&r);
    /* Any body bytes after the HEAD response would corrupt this next response. */
    h_exchange(&c, "GET /head-test HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq((const char *)r.body, "head-test body\n");
    harness_resp_free(&r);
    harness_conn_close(&c);
}
END_TEST

START_TEST(test_204_304)
{
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;

    start_for_app(&m, NULL);
    h_open(&c, &m);
    h_exchange(&c, "GET /nocontent HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 204);
    ck_assert_msg(harness_resp_header(&r, "Transfer-Encoding") == NULL,
                  "204 with Transfer-Encoding");
    ck_assert_str_eq(harness_resp_header(&r, "X-Nocontent"), "1");
    harness_resp_free(&r);
    h_exchange(&c, "GET /notmodified HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: \"v1\"\r\n\r\n",
               &r);
    ck_assert_int_eq(r.status, 304);
    ck_assert_msg(harness_resp_header(&r, "ETag") != NULL, "304 lost its ETag");
    ck_assert_msg(harness_resp_header(&r, "Transfer-Encoding") == NULL,
                  "304 with Transfer-Encoding");
    harness_resp_free(&r);
    h_exchange(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    harness_conn_close(&c);
}
END_TEST

START_TEST(test_hop_by_hop_request)
{
    static const char *const dropped[] = {
        "X-Hop", "Keep-Alive", "TE", "Trailer", "Proxy-Authorization", "Proxy-Foo", "X-Hop-Two"};
    struct h_moat m;
    struct h_resp r;
    struct h_conn c;
    char v[256];
    size_t i;

    start_for_app(&m, NULL);
    h_open(&c, &m);
    h_exchange(&c,
               "GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive, X-Hop\r\n"
               "Connection: x-hop-two\r\nX-Hop: secret\r\nX-Hop-Two: 2\r\nKeep-Alive: 300\r\n"
               "TE: trailers\r\nTrailer: X-T\r\nProxy-Authorization: Basic eDp5\r\n"
               "Proxy-Foo: 1\r\nX-End-To-End: kept\r\n\r\n",
               &r);
    ck_assert_int_eq(r.status, 200);
    for (i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
        ck_assert_msg(harness_echo_header((const char *)r.body, dropped[i], NULL, 0) == 0,
                      "%s reached the app: %s", dropped[i], r.body);
    if (harness_echo_header((const char *)r.body, "Connection", v, sizeof(v)) > 0)
        ck_assert_msg(strcasestr(v, "hop") == NULL, "Connection forwarded as '%s'", v);
    ck_assert_int_eq(harness_echo_header((const char *)r.body, "X-End-To-End", v, sizeof(v)), 1);
    ck_assert_str_eq(v, "kept");
    harness_resp_free(&r);
    harness_conn_close(&c);
}
END_TEST

START_TEST(test_empty_header_values)
{
    struct h_moat m;
    struct h_resp r;
    struct h_conn c;
    char v[64] = "unset";

    start_for_app(&m, NULL);
    h_open(&c, &m);
    h_exchange(&c, "GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Empty:\r\nX-Blank:   \r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(harness_echo_header((const char *)r.body, "X-Empty", v, sizeof(v)) == 1,
                  "empty request header lost: %s", r.body);
    ck_assert_str_eq(v, "");
    ck_assert_msg(harness_echo_header((const char *)r.body, "X-Blank", v, sizeof(v)) == 1,
                  "blank request header lost: %s", r.body);
    harness_resp_free(&r);
    h_exchange(&c, "GET /empty-header HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(harness_resp_header(&r, "X-Empty") != NULL, "empty response header lost:\n%s",
                  r.head);
    ck_assert_str_eq(harness_resp_header(&r, "X-Empty"), "");
    harness_resp_free(&r);
    harness_conn_close(&c);
}
END_TEST

START_TEST(test_expect_continue)
{
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    char v[80];
    const char *end = NULL;
    uint64_t deadline;

    start_for_app(&m, NULL);
    h_open(&c, &m);
    ck_assert_int_eq(harness_conn_send_str(&c, "POST /echo HTTP/1.1\r\nHost: localhost\r\n"
                                               "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"),
                     0);
    deadline = harness_now_ms() + 3000;
    while (end == NULL && harness_now_ms() < deadline && !c.eof) {
        harness_conn_fill(&c, 200);
        if (c.buf != NULL)
            end = strstr((const char *)c.buf + c.off, "\r\n\r\n");
    }
    ck_assert_msg(end != NULL, "no interim response to Expect: 100-continue");
    ck_assert_msg(strncmp((const char *)c.buf + c.off, "HTTP/1.1 100", 12) == 0,
                  "first response is not 100 Continue: %.40s", (const char *)c.buf + c.off);
    c.off = (size_t)((const unsigned char *)end + 4 - c.buf);
    h_exchange(&c, "hello", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(harness_json_get((const char *)r.body, "body_len", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "5");
    harness_resp_free(&r);
    harness_conn_close(&c);
}
END_TEST

START_TEST(test_http10_client)
{
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;

    start_for_app(&m, NULL);
    h_open(&c, &m);
    /* gunicorn answers this chunked; an HTTP/1.0 client must not see chunked framing. */
    h_exchange(&c, "GET /bytes/100000 HTTP/1.0\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(r.framing != H_FRAME_CHUNKED, "chunked response to an HTTP/1.0 client");
    ck_assert_msg(r.body_len == 100000 && r.pattern_ok, "body %llu bytes",
                  (unsigned long long)r.body_len);
    harness_resp_free(&r);
    ck_assert_msg(harness_conn_wait_closed(&c, 3000), "HTTP/1.0 connection kept open");
    harness_conn_close(&c);
}
END_TEST

START_TEST(test_unix_socket_upstream)
{
    struct h_app app;
    struct h_moat m;
    struct h_moat_opts o = {0};
    struct h_resp r;
    char v[64];

    ck_assert_msg(harness_app_start(&app, harness_dir(), 1) == 0, "gunicorn on a Unix socket");
    o.upstream = app.url;
    ck_assert_msg(harness_moat_start(&m, &o) == 0, "moat did not start");
    h_get(&m, "/echo?via=unix", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(harness_json_get((const char *)r.body, "query", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "via=unix");
    harness_resp_free(&r);
    upload_check(&m, 1000000, 1);
    harness_app_stop(&app);
}
END_TEST

START_TEST(test_access_log)
{
    static const char *const fields[] = {"\"client\":\"127.0.0.1\"",
                                         "\"method\":\"GET\"",
                                         "\"path\":\"/echo\"",
                                         "\"status\":200",
                                         "\"bytes_in\":",
                                         "\"bytes_out\":",
                                         "\"duration\":",
                                         "\"upstream_duration\":",
                                         "\"request_id\":\""};
    struct h_moat m;
    struct h_resp r;
    char *log;
    char *line;
    char *eol;
    char rid[160];
    size_t i;

    start_for_app(&m, NULL);
    h_get(&m, "/echo?secret=hunter2", &r);
    ck_assert_int_eq(r.status, 200);
    snprintf(rid, sizeof(rid), "\"request_id\":\"%s\"", harness_resp_header(&r, "X-Request-Id"));
    harness_resp_free(&r);
    ck_assert_msg(harness_file_wait(m.log, "\"event\":\"access\"", 1, 3000), "no access log line");
    log = harness_moat_log(&m);
    line = strstr(log, "\"event\":\"access\"");
    while (line > log && line[-1] != '\n')
        line--;
    eol = strchr(line, '\n');
    if (eol != NULL)
        *eol = '\0';
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        ck_assert_msg(strstr(line, fields[i]) != NULL, "access line lacks %s: %s", fields[i], line);
    ck_assert_msg(strstr(line, rid) != NULL, "access line has another request id than %s: %s", rid,
                  line);
    ck_assert_msg(strstr(line, "hunter2") == NULL, "query logged with log.query off: %s", line);
    free(log);
}
END_TEST

START_TEST(test_sigterm_drains)
{
    struct h_moat m;
    struct h_conn c;
    struct h_conn late;
    struct h_resp r;
    struct h_read_opts o = {0};
    uint64_t t0;
    int code;

    start_for_app(&m, (const char *const[]){"MOAT_SERVER_DRAIN_TIMEOUT=10s", NULL});
    h_open(&c, &m);
    ck_assert_int_eq(
        harness_conn_send_str(&c, "GET /slow/1500 HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0);
    harness_sleep_ms(400);
    t0 = harness_now_ms();
    kill(m.pid, SIGTERM);
    harness_sleep_ms(300);
    /* New connections are no longer served. */
    if (harness_conn_open(&late, m.port) == 0) {
        struct h_resp lr;
        int lrc;
        harness_conn_send_str(&late, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        lrc = harness_read_response(&late, &lr, NULL);
        ck_assert_msg(lrc != 0 || lr.status == 503,
                      "a new request during the drain was served with %d", lr.status);
        harness_resp_free(&lr);
        harness_conn_close(&late);
    }
    o.timeout_ms = 10000;
    ck_assert_msg(harness_read_response(&c, &r, &o) == 0, "in-flight request lost: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq((const char *)r.body, "slept 1500 ms\n");
    harness_resp_free(&r);
    harness_conn_close(&c);
    code = harness_proc_wait(m.pid, 10000);
    ck_assert_msg(code == 0, "moat exited with %d after SIGTERM", code);
    ck_assert_msg(harness_now_ms() - t0 < 9000, "drain took %llu ms",
                  (unsigned long long)(harness_now_ms() - t0));
    m.pid = 0;
}
END_TEST

START_TEST(test_sigterm_idle_exit)
{
    struct h_moat m;
    struct h_resp r;
    uint64_t t0;

    start_for_app(&m, NULL);
    h_get(&m, "/", &r);
    harness_resp_free(&r);
    t0 = harness_now_ms();
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
    ck_assert_msg(harness_now_ms() - t0 < 3000, "idle moat took %llu ms to exit",
                  (unsigned long long)(harness_now_ms() - t0));
}
END_TEST

START_TEST(test_no_fd_leak)
{
    struct h_moat m;
    struct h_resp r;
    struct h_conn c;
    int before;
    int after = -1;
    int i;
    uint64_t deadline;

    start_for_app(&m, (const char *const[]){"MOAT_UPSTREAM_MAX_IDLE=4", NULL});
    h_get(&m, "/", &r);
    harness_resp_free(&r);
    harness_sleep_ms(200);
    before = harness_fd_count(m.pid);
    ck_assert_msg(before > 0, "cannot read /proc/%d/fd", (int)m.pid);
    /* 200 requests: 100 on fresh connections, 100 on 10 keep-alive connections. */
    for (i = 0; i < 100; i++) {
        h_get(&m, (i % 2) ? "/" : "/echo", &r);
        ck_assert_int_eq(r.status, 200);
        harness_resp_free(&r);
    }
    for (i = 0; i < 100; i++) {
        if (i % 10 == 0)
            h_open(&c, &m);
        h_exchange(&c, "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
                   &r);
        ck_assert_int_eq(r.status, 200);
        harness_resp_free(&r);
        if (i % 10 == 9)
            harness_conn_close(&c);
    }
    deadline = harness_now_ms() + 5000;
    while (harness_now_ms() < deadline) {
        after = harness_fd_count(m.pid);
        if (after <= before + 4)
            break;
        harness_sleep_ms(100);
    }
    ck_assert_msg(after <= before + 4, "fds: %d before, %d after 200 requests", before, after);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxy");
    TCase *app = harness_tcase("gunicorn", 90);
    Suite *const suites[] = {s, NULL};

    tcase_add_unchecked_fixture(app, harness_shared_app_setup, harness_shared_app_teardown);
    tcase_add_test(app, test_get_root);
    tcase_add_test(app, test_keepalive);
    tcase_add_test(app, test_post_content_length);
    tcase_add_test(app, test_post_chunked);
    tcase_add_test(app, test_large_upload);
    tcase_add_test(app, test_large_download);
    tcase_add_test(app, test_head);
    tcase_add_test(app, test_204_304);
    tcase_add_test(app, test_hop_by_hop_request);
    tcase_add_test(app, test_empty_header_values);
    tcase_add_test(app, test_expect_continue);
    tcase_add_test(app, test_http10_client);
    tcase_add_test(app, test_unix_socket_upstream);
    tcase_add_test(app, test_access_log);
    tcase_add_test(app, test_sigterm_drains);
    tcase_add_test(app, test_sigterm_idle_exit);
    tcase_add_test(app, test_no_fd_leak);
    suite_add_tcase(s, app);
    return harness_run_suites(suites);
}
