/* test_upstream_tls.c - TLS to the app (https:// upstreams): moat verifies the app's
 * certificate chain against upstream.tls_ca_file and its name against the URL's host or
 * upstream.tls_server_name, streams bodies both ways over TLS, keeps TLS connections in
 * its pool across TLS 1.3 session tickets, and answers 502 (counted as reason "tls") for
 * an untrusted certificate or a wrong name. Apps: gunicorn + Flask with --certfile, and a
 * small Python keep-alive HTTPS server that numbers its connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* A test CA, another CA, and an app certificate for app.test and 127.0.0.1 from the first. */
static const char pki_script[] =
    "set -e\n"
    "cd \"$1\"\n"
    "gen() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
    "-keyout $1.key -out $1.crt -subj /CN=$1 -addext basicConstraints=critical,CA:TRUE "
    "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null; }\n"
    "gen ca\n"
    "gen otherca\n"
    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout app.key "
    "-out app.csr -subj /CN=app.test 2>/dev/null\n"
    "printf 'subjectAltName=DNS:app.test,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > ext\n"
    "openssl x509 -req -in app.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
    "-extfile ext -out app.crt 2>/dev/null\n"
    "chmod 0644 ca.crt otherca.crt app.crt\n";

/* Python HTTPS/1.1 keep-alive server: GET /conn answers "conn N" where N numbers the TLS
 * connection the request came on; prints "ready PORT" once listening. */
static const char ka_server[] = "import http.server, socketserver, ssl, sys, threading\n"
                                "lock = threading.Lock()\n"
                                "count = [0]\n"
                                "class H(http.server.BaseHTTPRequestHandler):\n"
                                "    protocol_version = 'HTTP/1.1'\n"
                                "    def setup(self):\n"
                                "        super().setup()\n"
                                "        with lock:\n"
                                "            count[0] += 1\n"
                                "            self.conn_id = count[0]\n"
                                "    def do_GET(self):\n"
                                "        body = ('conn %d' % self.conn_id).encode()\n"
                                "        self.send_response(200)\n"
                                "        self.send_header('Content-Type', 'text/plain')\n"
                                "        self.send_header('Content-Length', str(len(body)))\n"
                                "        self.end_headers()\n"
                                "        self.wfile.write(body)\n"
                                "    def log_message(self, *a):\n"
                                "        pass\n"
                                "class S(socketserver.ThreadingMixIn, http.server.HTTPServer):\n"
                                "    daemon_threads = True\n"
                                "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
                                "ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n"
                                "srv = S(('127.0.0.1', 0), H)\n"
                                "srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
                                "print('ready %d' % srv.server_address[1], flush=True)\n"
                                "srv.serve_forever()\n";

/* Builds the PKI in the test dir; aborts the test when it fails. */
static void make_pki(void)
{
    const char *argv[] = {"/bin/sh", "-c", pki_script, "pki", harness_dir(), NULL};
    char *err = NULL;
    int rc = harness_run(argv, NULL, 30000, NULL, &err);

    ck_assert_msg(rc == 0, "PKI generation failed: %s", err != NULL ? err : "?");
    free(err);
}

/* "<dir>/<name>" in a static slot (one of four, rotating). */
static const char *in_dir(const char *name)
{
    static char slots[4][H_PATH];
    static int next;
    char *p = slots[next++ % 4];

    harness_path(p, H_PATH, name);
    return p;
}

/* Starts moat in front of url with the given TLS settings (NULL: not set). */
static void start_moat(struct h_moat *m, const char *url, const char *ca, const char *name)
{
    static char ca_env[H_PATH + 64];
    static char name_env[256];
    /* One worker: pools are per worker, and test_pool_reuse counts connections. */
    const char *env[4] = {"MOAT_SERVER_WORKERS=1", NULL, NULL, NULL};
    struct h_moat_opts o;
    int n = 1;

    if (ca != NULL) {
        snprintf(ca_env, sizeof(ca_env), "MOAT_UPSTREAM_TLS_CA_FILE=%s", ca);
        env[n++] = ca_env;
    }
    if (name != NULL) {
        snprintf(name_env, sizeof(name_env), "MOAT_UPSTREAM_TLS_SERVER_NAME=%s", name);
        env[n++] = name_env;
    }
    memset(&o, 0, sizeof(o));
    o.upstream = url;
    o.env = env;
    ck_assert_int_eq(harness_moat_start(m, &o), 0);
}

/* GET path through moat on a new connection; returns the status (0: no response). */
static int get(const struct h_moat *m, const char *path, struct h_resp *r)
{
    char raw[512];

    snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    harness_request(m->port, raw, r, 10000, NULL);
    return r->status;
}

/* The value of moat_upstream_errors_total{reason="tls"}, or -1. */
static long tls_errors_now(const struct h_moat *m)
{
    struct h_resp r;
    const char *p;
    long v = -1;

    memset(&r, 0, sizeof(r));
    if (harness_admin_request(m, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r) == 0 &&
        r.body != NULL) {
        p = strstr((const char *)r.body, "moat_upstream_errors_total{reason=\"tls\"} ");
        if (p != NULL)
            v = strtol(p + strlen("moat_upstream_errors_total{reason=\"tls\"} "), NULL, 10);
    }
    harness_resp_free(&r);
    return v;
}

/* tls_errors_now once it equals want (a request is counted when it completes, just
 * after the client has its answer), or its value after 3 s. */
static long tls_errors(const struct h_moat *m, long want)
{
    uint64_t end = harness_now_ms() + 3000;
    long v = tls_errors_now(m);

    while (v != want && harness_now_ms() < end) {
        harness_sleep_ms(20);
        v = tls_errors_now(m);
    }
    return v;
}

/* A verified app: bodies both ways, by IP (certificate IP entry) and by name. */
START_TEST(test_verified_app)
{
    struct h_app app;
    struct h_moat m;
    struct h_resp r;
    struct h_conn c;
    const char *post = "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 300000\r\n\r\n";
    int pass;

    make_pki();
    ck_assert_int_eq(
        harness_app_start_tls(&app, harness_dir(), in_dir("app.crt"), in_dir("app.key")), 0);
    for (pass = 0; pass < 2; pass++) {
        /* pass 0: the URL's IP literal is checked; pass 1: the configured name */
        start_moat(&m, app.url, in_dir("ca.crt"), pass == 0 ? NULL : "app.test");
        memset(&r, 0, sizeof(r));
        ck_assert_int_eq(get(&m, "/bytes/200000", &r), 200);
        ck_assert_uint_eq(r.body_len, 200000);
        ck_assert(r.pattern_ok);
        harness_resp_free(&r);

        ck_assert_int_eq(harness_conn_open(&c, m.port), 0);
        ck_assert_int_eq(harness_conn_send_str(&c, post), 0);
        ck_assert_int_eq(harness_conn_send_pattern(&c, 300000, 0), 0);
        memset(&r, 0, sizeof(r));
        ck_assert_int_eq(harness_read_response(&c, &r, NULL), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_msg(strstr((const char *)r.body, "\"body_len\": 300000") != NULL ||
                          strstr((const char *)r.body, "\"body_len\":300000") != NULL,
                      "echo: %.300s", r.body);
        harness_resp_free(&r);
        harness_conn_close(&c);
        ck_assert_int_eq(tls_errors(&m, 0), 0);
        ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
    }
    harness_app_stop(&app);
}
END_TEST

/* Untrusted chain, wrong name, and an unreadable CA bundle. */
START_TEST(test_refused_app)
{
    struct h_app app;
    struct h_moat m;
    struct h_resp r;
    struct h_moat_opts o;
    const char *env[] = {"MOAT_UPSTREAM_TLS_CA_FILE=/nonexistent/ca.pem", NULL};
    char *log;

    make_pki();
    ck_assert_int_eq(
        harness_app_start_tls(&app, harness_dir(), in_dir("app.crt"), in_dir("app.key")), 0);

    start_moat(&m, app.url, in_dir("otherca.crt"), NULL);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(get(&m, "/", &r), 502);
    harness_resp_free(&r);
    ck_assert_int_eq(tls_errors(&m, 1), 1);
    log = harness_moat_log(&m);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strstr(log, "upstream_tls_failed") != NULL &&
                      strstr(log, "certificate verification failed") != NULL,
                  "no verification failure logged");
    free(log);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);

    start_moat(&m, app.url, in_dir("ca.crt"), "other.test");
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(get(&m, "/", &r), 502);
    harness_resp_free(&r);
    ck_assert_int_eq(tls_errors(&m, 1), 1);
    log = harness_moat_log(&m);
    ck_assert_msg(strstr(log, "hostname mismatch") != NULL, "no name mismatch logged");
    free(log);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);

    /* A CA bundle that cannot be read stops moat at start-up, naming the path. */
    memset(&o, 0, sizeof(o));
    o.upstream = app.url;
    o.env = env;
    o.wait_ms = 5000;
    ck_assert_int_eq(harness_moat_start(&m, &o), -1);
    ck_assert_int_ne(m.exit_code, 0);
    log = harness_moat_log(&m);
    ck_assert_msg(strstr(log, "/nonexistent/ca.pem") != NULL, "CA path not named");
    free(log);
    harness_app_stop(&app);
}
END_TEST

/* Pooled TLS connections are reused, also after the server's TLS 1.3 session tickets. */
START_TEST(test_pool_reuse)
{
    const char *argv[] = {"/usr/bin/python3", "-c", ka_server, in_dir("app.crt"),
                          in_dir("app.key"),  NULL};
    struct h_spawn s;
    struct h_moat m;
    struct h_resp r;
    char url[64];
    char *out;
    const char *p;
    int i, port = 0;

    make_pki();
    memset(&s, 0, sizeof(s));
    s.argv = argv;
    s.out_path = in_dir("ka.out");
    s.err_path = in_dir("ka.log");
    ck_assert_int_gt(harness_spawn(&s), 0);
    ck_assert(harness_file_wait(in_dir("ka.out"), "ready ", 1, 15000));
    out = harness_read_file(in_dir("ka.out"), NULL);
    p = strstr(out, "ready ");
    port = atoi(p + 6);
    free(out);
    ck_assert_int_gt(port, 0);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);

    start_moat(&m, url, in_dir("ca.crt"), NULL);
    for (i = 0; i < 4; i++) {
        memset(&r, 0, sizeof(r));
        ck_assert_int_eq(get(&m, "/conn", &r), 200);
        /* One connection to the app serves every request, one after the other. */
        ck_assert_msg(strcmp((const char *)r.body, "conn 1") == 0, "request %d: %s", i, r.body);
        harness_resp_free(&r);
        harness_sleep_ms(200); /* time for tickets to arrive on the idle connection */
    }
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* GET target on moat's plain-HTTP listener (Host: localhost); returns the status (0: none). */
static int http_get(const struct h_moat *m, const char *target, struct h_resp *r)
{
    struct h_conn c;
    struct h_read_opts o = {0};
    char raw[512];

    ck_assert_int_gt(m->http_port, 0);
    snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", target);
    ck_assert_msg(harness_conn_open_plain(&c, m->http_port) == 0, "connect: %s", c.error);
    ck_assert_msg(harness_conn_send_str(&c, raw) == 0, "send: %s", c.error);
    o.timeout_ms = 15000;
    (void)harness_read_response(&c, r, &o);
    harness_conn_close(&c);
    return r->status;
}

/* The plain-HTTP listener's relay (ACME http-01) to an https:// app goes over verified TLS
 * like every proxied request: it used to write plain HTTP to the app's TLS port (502, and the
 * request in clear on the wire). An untrusted app certificate is refused there too. */
START_TEST(test_acme_relay_tls)
{
    struct h_app app;
    struct h_moat m;
    struct h_resp r;
    char *log;

    make_pki();
    ck_assert_int_eq(
        harness_app_start_tls(&app, harness_dir(), in_dir("app.crt"), in_dir("app.key")), 0);
    start_moat(&m, app.url, in_dir("ca.crt"), NULL);
    memset(&r, 0, sizeof(r));
    ck_assert_msg(http_get(&m, "/.well-known/acme-challenge/tok-1", &r) == 200, "status %d\n%s",
                  r.status, r.head != NULL ? r.head : "");
    ck_assert_str_eq((const char *)r.body, "tok-1.thumbprint host=localhost proto=http\n");
    harness_resp_free(&r);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(http_get(&m, "/.well-known/acme-challenge/", &r), 404);
    harness_resp_free(&r);
    ck_assert_int_eq(tls_errors(&m, 0), 0);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);

    start_moat(&m, app.url, in_dir("otherca.crt"), NULL);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(http_get(&m, "/.well-known/acme-challenge/tok-2", &r), 502);
    harness_resp_free(&r);
    ck_assert_int_eq(tls_errors(&m, 1), 1);
    log = harness_moat_log(&m);
    ck_assert_msg(strstr(log, "upstream_tls_failed") != NULL &&
                      strstr(log, "certificate verification failed") != NULL,
                  "no verification failure logged");
    free(log);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
    harness_app_stop(&app);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upstream_tls");
    TCase *tc = harness_tcase("core", 120);
    Suite *suites[] = {s, NULL};

    tcase_add_test(tc, test_verified_app);
    tcase_add_test(tc, test_refused_app);
    tcase_add_test(tc, test_pool_reuse);
    suite_add_tcase(s, tc);
    tc = harness_tcase("relay", 120);
    tcase_add_test(tc, test_acme_relay_tls);
    suite_add_tcase(s, tc);
    return harness_run_suites(suites);
}
