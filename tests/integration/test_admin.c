/* test_admin.c - integration tests of the admin listener: routing (404, 405 with Allow),
 * exact metric values after a scripted set of requests (errors, 502s, rejections, TLS
 * versions and failures), promtool over real scrapes, histogram invariants, scrapes during
 * load, connection rejections, /readyz following the upstream and draining, TLS and Unix
 * socket admin listeners, and the `moat healthcheck` subcommand. */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "harness.h"

#define PROMTOOL "/usr/bin/promtool"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---------------------------------------------------------------- scrape helpers */

/* GET /metrics on m's admin listener; returns the text (caller frees). */
static char *scrape(const struct h_moat *m)
{
    struct h_resp r;
    char *text;

    h_admin_get(m, "/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(harness_resp_header(&r, "Content-Type"), METRICS_TYPE);
    ck_assert_msg(r.body_len == r.body_kept, "scrape larger than the harness keeps");
    text = strdup(r.body != NULL ? (const char *)r.body : "");
    ck_assert_ptr_nonnull(text);
    harness_resp_free(&r);
    return text;
}

/* The value of a series that must be present. */
static double value(const char *text, const char *series)
{
    double v = 0;

    ck_assert_msg(h_metrics_sample(text, series, &v), "series %s missing from the scrape", series);
    return v;
}

/* Asserts that series has exactly want. */
static void expect(const char *text, const char *series, double want)
{
    double got = value(text, series);

    ck_assert_msg(got == want, "%s = %.17g, want %.17g", series, got, want);
}

/* Checks every histogram in the scrape: buckets cumulative (never decreasing), the last
 * one le="+Inf", and +Inf equal to _count. Returns the number of histograms seen. */
static int check_histograms(const char *text)
{
    char base[128] = "";
    char labels[256] = "";
    char series[512];
    double prev = -1;
    double v;
    int seen = 0;
    int last_inf = 1;
    const char *line = text;

    while (line != NULL && *line != '\0') {
        const char *b = strstr(line, "_bucket{");
        const char *eol = strchr(line, '\n');
        const char *le;

        if (line[0] != '#' && b != NULL && (eol == NULL || b < eol)) {
            char nb[128];
            char nl[256];
            size_t bl = (size_t)(b - line);

            le = strstr(b, "le=\"");
            ck_assert_msg(le != NULL && bl < sizeof(nb), "odd bucket line: %.80s", line);
            memcpy(nb, line, bl);
            nb[bl] = '\0';
            snprintf(nl, sizeof(nl), "%.*s", (int)(le - (b + 8)), b + 8);
            if (strcmp(nb, base) != 0 || strcmp(nl, labels) != 0) {
                ck_assert_msg(last_inf, "histogram %s{%s} does not end with +Inf", base, labels);
                snprintf(base, sizeof(base), "%s", nb);
                snprintf(labels, sizeof(labels), "%s", nl);
                prev = -1;
                seen++;
            }
            v = strtod(strchr(le, '}') + 2, NULL);
            ck_assert_msg(v >= prev, "%s{%s} buckets not cumulative at %.20s", base, labels, le);
            prev = v;
            last_inf = strncmp(le, "le=\"+Inf\"", 9) == 0;
            if (last_inf) {
                size_t ll = strlen(labels);

                if (ll > 0 && labels[ll - 1] == ',')
                    labels[ll - 1] = '\0';
                if (labels[0] != '\0')
                    snprintf(series, sizeof(series), "%s_count{%s}", base, labels);
                else
                    snprintf(series, sizeof(series), "%s_count", base);
                ck_assert_msg(value(text, series) == v, "%s != its +Inf bucket", series);
                if (ll > 0)
                    labels[ll - 1] = ',';
            }
        }
        line = eol != NULL ? eol + 1 : NULL;
    }
    ck_assert_msg(last_inf, "the last histogram does not end with +Inf");
    return seen;
}

/* Runs promtool check metrics over text: must exit 0 and print nothing (no warnings). */
static void promtool_check(const char *text)
{
    const char *argv[] = {"/bin/sh", "-c", NULL, NULL};
    char path[H_PATH];
    char cmd[H_PATH + 64];
    char *out = NULL;
    char *err = NULL;
    int code;

    ck_assert_msg(access(PROMTOOL, X_OK) == 0,
                  PROMTOOL " is missing: install the Debian package prometheus");
    harness_path(path, sizeof(path), "scrape.prom");
    ck_assert_int_eq(harness_write_file(path, text, strlen(text), 0644), 0);
    snprintf(cmd, sizeof(cmd), "exec " PROMTOOL " check metrics < '%s'", path);
    argv[2] = cmd;
    code = harness_run(argv, NULL, 30000, &out, &err);
    ck_assert_msg(code == 0 && out != NULL && err != NULL && out[0] == '\0' && err[0] == '\0',
                  "promtool exit %d\nstdout: %s\nstderr: %s", code, out, err);
    free(out);
    free(err);
}

/* Scrapes until moat_connections_active{listener="https"} is 0 (closures are noticed
 * asynchronously), at most 5 s; returns that scrape (caller frees). */
static char *scrape_settled(const struct h_moat *m)
{
    uint64_t deadline = harness_now_ms() + 5000;
    char *text;

    for (;;) {
        text = scrape(m);
        if (value(text, "moat_connections_active{listener=\"https\"}") == 0 ||
            harness_now_ms() > deadline)
            return text;
        free(text);
        harness_sleep_ms(20);
    }
}

/* ---------------------------------------------------------------- routing */

START_TEST(test_admin_routes)
{
    struct h_upstream *u = h_ok_upstream();
    struct h_moat m;
    struct h_resp r;
    struct h_conn c;
    struct h_read_opts o = {0};
    char *log;
    int i;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    log = harness_moat_log(&m);
    ck_assert_msg(log != NULL &&
                      strstr(log, "\"event\":\"listening\",\"listener\":\"admin\"") != NULL,
                  "no listening event for the admin listener");
    free(log);

    h_admin_get(&m, "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq((const char *)r.body, "ok\n");
    ck_assert_str_eq(harness_resp_header(&r, "Cache-Control"), "no-store");
    harness_resp_free(&r);
    h_admin_get(&m, "/readyz", &r); /* the check is off (harness default): ready */
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    h_admin_get(&m, "/nope", &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_ptr_null(harness_resp_header(&r, "Allow"));
    harness_resp_free(&r);
    h_admin_get(&m, "/metrics/", &r);
    ck_assert_int_eq(r.status, 404);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_admin_request(&m,
                                           "POST /metrics HTTP/1.1\r\nHost: x\r\n"
                                           "Content-Length: 3\r\n\r\nabc",
                                           &r),
                     0);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(harness_resp_header(&r, "Allow"), "GET, HEAD");
    harness_resp_free(&r);
    ck_assert_int_eq(harness_admin_request(&m, "DELETE /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r),
                     0);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(harness_resp_header(&r, "Allow"), "GET, HEAD");
    harness_resp_free(&r);
    ck_assert_int_eq(harness_admin_request(&m, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(harness_resp_header(&r, "Content-Type"), METRICS_TYPE);
    ck_assert_uint_eq(r.body_len, 0);
    harness_resp_free(&r);
    /* the endpoints keep the connection alive (Prometheus reuses it) */
    ck_assert_int_eq(harness_conn_open_plain(&c, m.admin_port), 0);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(harness_conn_send_str(&c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        ck_assert_int_eq(harness_read_response(&c, &r, &o), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_msg(strstr((const char *)r.body, "# TYPE moat_requests_total counter") != NULL,
                      "no requests family");
        harness_resp_free(&r);
    }
    harness_conn_close(&c);
}
END_TEST

/* ---------------------------------------------------------------- exact values */

static const struct h_step s_ok[] = {H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                                     H_END};
static const struct h_step s_head[] = {H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"),
                                       H_END};
static const struct h_step s_err[] = {
    H_SEND("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom"), H_END};
static const struct h_step s_reset[] = {H_RESET};
static const struct h_step s_garbage[] = {H_SEND("NOT HTTP AT ALL\r\n\r\n"), H_CLOSE};
static const struct h_route scripted_routes[] = {
    {"/ok", s_ok}, {"/head", s_head}, {"/err", s_err}, {"/reset", s_reset}, {"/garbage", s_garbage},
};

/* One request on its own new TLS connection; returns the status. */
static int one_request(const struct h_moat *m, const char *raw, const struct h_tls_opts *tls)
{
    struct h_conn c;
    struct h_resp r;
    struct h_read_opts o = {0};
    int status;

    ck_assert_msg(harness_conn_open_tls(&c, m->port, tls) == 0, "TLS connect: %s", c.error);
    ck_assert_int_eq(harness_conn_send_str(&c, raw), 0);
    o.head_request = strncmp(raw, "HEAD ", 5) == 0;
    harness_read_response(&c, &r, &o);
    status = r.status;
    harness_resp_free(&r);
    harness_conn_wait_closed(&c, 200);
    harness_conn_close(&c);
    return status;
}

START_TEST(test_exact_values)
{
    struct h_upstream *u = harness_upstream_start_routes(
        scripted_routes, sizeof(scripted_routes) / sizeof(scripted_routes[0]));
    struct h_tls_opts tls12 = {0};
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    char series[H_PATH + 96];
    char *text;
    double expiry;
    int i;

    ck_assert_ptr_nonnull(u);
    h_start_moat(&m, harness_upstream_url(u), NULL);
    /* connection A: seven requests on one keep-alive connection */
    h_open(&c, &m);
    for (i = 0; i < 3; i++) {
        h_exchange(&c, "GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
        ck_assert_int_eq(r.status, 200);
        harness_resp_free(&r);
    }
    h_exchange(&c, "GET /err HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 500);
    harness_resp_free(&r);
    h_exchange(&c, "HEAD /head HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_conn_send_str(&c, "POST /ok HTTP/1.1\r\nHost: localhost\r\n"
                                               "Content-Length: 1000\r\n\r\n"),
                     0);
    ck_assert_int_eq(harness_conn_send_pattern(&c, 1000, 0), 0);
    ck_assert_int_eq(harness_read_response(&c, &r, NULL), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    h_exchange(&c, "DELETE /ok HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    harness_conn_close(&c);
    /* B..E: upstream reset and garbage (502s), two hardening rejections */
    ck_assert_int_eq(one_request(&m, "GET /reset HTTP/1.1\r\nHost: localhost\r\n\r\n", NULL), 502);
    ck_assert_int_eq(one_request(&m, "GET /garbage HTTP/1.1\r\nHost: localhost\r\n\r\n", NULL),
                     502);
    ck_assert_int_eq(one_request(&m,
                                 "POST /ok HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n"
                                 "Content-Length: 3\r\n\r\nabc",
                                 NULL),
                     400);
    ck_assert_int_eq(one_request(&m, "TRACE /ok HTTP/1.1\r\nHost: localhost\r\n\r\n", NULL), 501);
    /* F: TLS 1.2; G: plain HTTP to the TLS port (a failed handshake) */
    tls12.max_version = TLS1_2_VERSION;
    ck_assert_int_eq(one_request(&m, "GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n", &tls12), 200);
    ck_assert_int_eq(harness_conn_open_plain(&c, m.port), 0);
    harness_conn_send_str(&c, "GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n");
    ck_assert_msg(harness_conn_wait_closed(&c, 5000), "moat kept a plain-HTTP connection open");
    harness_conn_close(&c);

    text = scrape_settled(&m);
    /* requests: 12 in all, by method and code */
    expect(text, "moat_requests_total{listener=\"https\",method=\"GET\",code=\"200\"}", 4);
    expect(text, "moat_requests_total{listener=\"https\",method=\"GET\",code=\"500\"}", 1);
    expect(text, "moat_requests_total{listener=\"https\",method=\"GET\",code=\"502\"}", 2);
    expect(text, "moat_requests_total{listener=\"https\",method=\"HEAD\",code=\"200\"}", 1);
    expect(text, "moat_requests_total{listener=\"https\",method=\"POST\",code=\"200\"}", 1);
    expect(text, "moat_requests_total{listener=\"https\",method=\"POST\",code=\"400\"}", 1);
    expect(text, "moat_requests_total{listener=\"https\",method=\"DELETE\",code=\"200\"}", 1);
    expect(text, "moat_requests_total{listener=\"https\",method=\"OTHER\",code=\"501\"}", 1);
    expect(text, "moat_request_duration_seconds_count{listener=\"https\"}", 12);
    expect(text, "moat_request_duration_seconds_count{listener=\"http\"}", 0);
    /* bodies: 1000 up; down 16 from the upstream + 2 x "Bad Gateway\n" + "Bad Request\n"
     * + "Not Implemented\n" from moat */
    expect(text, "moat_bytes_received_total{listener=\"https\"}", 1000);
    expect(text, "moat_bytes_sent_total{listener=\"https\"}", 16 + 24 + 12 + 16);
    /* upstream: 8 response heads, one reset, one unparseable answer */
    expect(text, "moat_upstream_request_duration_seconds_count", 8);
    expect(text, "moat_upstream_errors_total{reason=\"reset\"}", 1);
    expect(text, "moat_upstream_errors_total{reason=\"protocol\"}", 1);
    expect(text, "moat_upstream_errors_total{reason=\"connect\"}", 0);
    expect(text, "moat_upstream_errors_total{reason=\"timeout\"}", 0);
    expect(text, "moat_upstream_connections{state=\"active\"}", 0);
    ck_assert_msg(value(text, "moat_upstream_connections{state=\"idle\"}") >= 1,
                  "no idle pooled upstream connection after keep-alive traffic");
    /* rejections */
    expect(text, "moat_requests_rejected_total{reason=\"dup_content_length\"}", 1);
    expect(text, "moat_requests_rejected_total{reason=\"method_not_allowed\"}", 1);
    expect(text, "moat_requests_rejected_total{reason=\"cl_and_te\"}", 0);
    expect(text, "moat_connections_rejected_total{reason=\"limit\"}", 0);
    /* connections and TLS: A-E over TLS 1.3, F over 1.2, G never completed one */
    expect(text, "moat_connections_total{listener=\"https\"}", 7);
    expect(text, "moat_connections_active{listener=\"https\"}", 0);
    expect(text, "moat_tls_handshakes_total{version=\"1.3\"}", 5);
    expect(text, "moat_tls_handshakes_total{version=\"1.2\"}", 1);
    expect(text, "moat_tls_handshakes_total{version=\"other\"}", 0);
    expect(text, "moat_tls_handshake_failures_total", 1);
    /* present from the start */
    expect(text, "moat_redirects_total{code=\"301\"}", 0);
    expect(text, "moat_redirects_total{code=\"308\"}", 0);
    expect(text, "moat_cookies_hardened_total", 0);
    expect(text, "moat_emergency_shutdown_attempts_total{result=\"accepted\"}", 0);
    expect(text, "moat_emergency_shutdown_attempts_total{result=\"denied\"}", 0);
    expect(text, "moat_emergency_shutdown_attempts_total{result=\"rate_limited\"}", 0);
    ck_assert_msg(strstr(text, "moat_build_info{version=\"") != NULL &&
                      strstr(text, "tls_library=\"GnuTLS ") != NULL,
                  "build info");
    ck_assert_msg(value(text, "moat_connections_active{listener=\"admin\"}") >= 1,
                  "the scrape's own connection is not active");
    /* the certificate: valid until 30 days from now (harness_make_cert) */
    snprintf(series, sizeof(series), "moat_tls_certificate_expiry_timestamp_seconds{name=\"%s\"}",
             harness_cert());
    expiry = value(text, series);
    ck_assert_msg(fabs(expiry - ((double)time(NULL) + 30 * 86400.0)) < 3700,
                  "certificate expiry %.0f", expiry);
    ck_assert_msg(value(text, "process_resident_memory_bytes") > 0, "no RSS");
    ck_assert_msg(value(text, "process_open_fds") > 0, "no fds");
    ck_assert_msg(value(text, "process_start_time_seconds") > 1.6e9, "no start time");
    ck_assert_int_eq(check_histograms(text), 4);
    promtool_check(text);
    free(text);
    /* the admin listener counts its own requests (the scrapes above) */
    text = scrape(&m);
    ck_assert_msg(
        value(text, "moat_requests_total{listener=\"admin\",method=\"GET\",code=\"200\"}") >= 1,
        "the admin listener's own requests are not counted");
    free(text);
}
END_TEST

/* ---------------------------------------------------------------- connection rejections */

START_TEST(test_connection_rejections)
{
    static const char *const env[] = {"MOAT_SERVER_MAX_CONNECTIONS_PER_IP=1",
                                      "MOAT_LIMITS_HEADER_TIMEOUT=300ms", NULL};
    struct h_upstream *u = h_ok_upstream();
    struct h_tls_opts quick = {0};
    struct h_moat m;
    struct h_conn held;
    struct h_conn extra;
    char *text;

    h_start_moat(&m, harness_upstream_url(u), env);
    h_open(&held, &m); /* sends nothing: cut at the head deadline */
    quick.timeout_ms = 2000;
    ck_assert_msg(harness_conn_open_tls(&extra, m.port, &quick) != 0 ||
                      harness_conn_wait_closed(&extra, 2000),
                  "a second connection from the same address was served");
    harness_conn_close(&extra);
    ck_assert_msg(harness_conn_wait_closed(&held, 5000), "the idle connection was not cut");
    harness_conn_close(&held);
    text = scrape_settled(&m);
    expect(text, "moat_connections_rejected_total{reason=\"per_ip_limit\"}", 1);
    expect(text, "moat_connections_rejected_total{reason=\"head_timeout\"}", 1);
    expect(text, "moat_connections_rejected_total{reason=\"limit\"}", 0);
    expect(text, "moat_connections_total{listener=\"https\"}", 1);
    expect(text, "moat_tls_handshakes_total{version=\"1.3\"}", 1);
    expect(text, "moat_tls_handshake_failures_total", 0);
    free(text);
}
END_TEST

/* ---------------------------------------------------------------- scrapes during load */

#define LOAD_THREADS 4
#define LOAD_REQUESTS 100

struct load_arg {
    int port;        /* moat's HTTPS port */
    int ok;          /* requests answered 200 */
    char error[200]; /* first failure, "" when none */
};

/* One client: LOAD_REQUESTS sequential requests on one keep-alive connection. */
static void *load_main(void *p)
{
    struct load_arg *a = p;
    struct h_read_opts o = {0};
    struct h_conn c;
    struct h_resp r;
    int i;

    if (harness_conn_open(&c, a->port) != 0) {
        snprintf(a->error, sizeof(a->error), "connect: %s", c.error);
        return NULL;
    }
    for (i = 0; i < LOAD_REQUESTS; i++) {
        if (harness_conn_send_str(&c, "GET /load HTTP/1.1\r\nHost: localhost\r\n\r\n") != 0 ||
            harness_read_response(&c, &r, &o) != 0 || r.status != 200) {
            snprintf(a->error, sizeof(a->error), "request %d: status %d %s", i, r.status, r.error);
            harness_resp_free(&r);
            break;
        }
        a->ok++;
        harness_resp_free(&r);
    }
    harness_conn_close(&c);
    return NULL;
}

/* True when a client has given up (its error is then reported after the join). */
static int load_failed(const struct load_arg *args)
{
    int i;

    for (i = 0; i < LOAD_THREADS; i++) {
        if (args[i].error[0] != '\0')
            return 1;
    }
    return 0;
}

START_TEST(test_scrape_under_load)
{
    static const char *const env[] = {"MOAT_LOG_ACCESS=false", NULL};
    struct h_upstream *u = h_ok_upstream();
    struct load_arg args[LOAD_THREADS];
    pthread_t th[LOAD_THREADS];
    struct h_moat m;
    const char *ok200 = "moat_requests_total{listener=\"https\",method=\"GET\",code=\"200\"}";
    double seen = 0, now_seen;
    uint64_t t0, spent = 0, max_ms = 0;
    size_t bytes = 0;
    int scrapes = 0, i;
    char *mid_load = NULL;
    char *text;

    h_start_moat(&m, harness_upstream_url(u), env);
    memset(args, 0, sizeof(args));
    for (i = 0; i < LOAD_THREADS; i++) {
        args[i].port = m.port;
        ck_assert_int_eq(pthread_create(&th[i], NULL, load_main, &args[i]), 0);
    }
    /* Scrape while the clients run: every scrape consistent, counters never going back. */
    for (;;) {
        t0 = harness_now_ms();
        text = scrape(&m);
        t0 = harness_now_ms() - t0;
        spent += t0;
        max_ms = t0 > max_ms ? t0 : max_ms;
        bytes = strlen(text);
        scrapes++;
        check_histograms(text);
        now_seen = 0;
        h_metrics_sample(text, ok200, &now_seen);
        ck_assert_msg(now_seen >= seen, "requests went back from %.0f to %.0f", seen, now_seen);
        seen = now_seen;
        if (mid_load == NULL && seen > 0 && seen < LOAD_THREADS * LOAD_REQUESTS)
            mid_load = text;
        else
            free(text);
        if (seen >= LOAD_THREADS * LOAD_REQUESTS || load_failed(args))
            break;
    }
    for (i = 0; i < LOAD_THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(args[i].error[0] == '\0', "client %d: %s", i, args[i].error);
        ck_assert_int_eq(args[i].ok, LOAD_REQUESTS);
    }
    harness_log("%d scrapes during load: %zu bytes each, %.2f ms on average, %llu ms at most",
                scrapes, bytes, (double)spent / scrapes, (unsigned long long)max_ms);
    ck_assert_msg(mid_load != NULL, "no scrape was taken while the clients ran");
    promtool_check(mid_load);
    free(mid_load);
    text = scrape_settled(&m);
    expect(text, ok200, LOAD_THREADS * LOAD_REQUESTS);
    expect(text, "moat_request_duration_seconds_count{listener=\"https\"}",
           LOAD_THREADS * LOAD_REQUESTS);
    expect(text, "moat_upstream_request_duration_seconds_count", LOAD_THREADS * LOAD_REQUESTS);
    expect(text, "moat_bytes_sent_total{listener=\"https\"}", 2.0 * LOAD_THREADS * LOAD_REQUESTS);
    expect(text, "moat_connections_total{listener=\"https\"}", LOAD_THREADS);
    expect(text, "moat_tls_handshakes_total{version=\"1.3\"}", LOAD_THREADS);
    check_histograms(text);
    promtool_check(text);
    free(text);
}
END_TEST

/* ---------------------------------------------------------------- readiness */

/* A listening socket the test holds as the upstream (backlog only: connections wait in
 * the queue until drained). */
static int upstream_listen(int port)
{
    struct sockaddr_storage ss;
    socklen_t len = harness_loopback(0, port, &ss);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ck_assert_msg(bind(fd, (struct sockaddr *)&ss, len) == 0, "bind %d: %s", port, strerror(errno));
    ck_assert_int_eq(listen(fd, 512), 0);
    return fd;
}

/* Accepts what waits on fd: closed at once, or kept (up to *n_kept of kept[]) when keep. */
static void upstream_drain(int fd, int keep, int *kept, int *n_kept)
{
    int c;

    for (;;) {
        c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            return;
        if (keep && *n_kept < 64)
            kept[(*n_kept)++] = c;
        else
            close(c);
    }
}

/* Polls /readyz until it answers want (at most 5 s); returns its body (caller frees). */
static char *readyz_until(const struct h_moat *m, int want, int upfd)
{
    uint64_t deadline = harness_now_ms() + 5000;
    struct h_resp r;
    char *body;

    for (;;) {
        if (upfd >= 0)
            upstream_drain(upfd, 0, NULL, NULL);
        h_admin_get(m, "/readyz", &r);
        if (r.status == want || harness_now_ms() > deadline)
            break;
        harness_resp_free(&r);
        harness_sleep_ms(25);
    }
    ck_assert_msg(r.status == want, "/readyz stayed %d (%s), want %d", r.status, r.body, want);
    body = strdup((const char *)r.body);
    harness_resp_free(&r);
    return body;
}

START_TEST(test_readyz_follows_upstream)
{
    static const char *const env[] = {"MOAT_ADMIN_READY_INTERVAL=100ms",
                                      "MOAT_ADMIN_READY_TIMEOUT=500ms",
                                      "MOAT_SERVER_DRAIN_TIMEOUT=5s", NULL};
    int port = harness_free_port();
    int upfd = upstream_listen(port);
    int kept[64];
    int n_kept = 0;
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    char url[64];
    char *body;
    char *log;
    int i;

    harness_url(url, sizeof(url), port);
    h_start_moat(&m, url, env);
    body = readyz_until(&m, 200, upfd);
    ck_assert_str_eq(body, "ready\n");
    free(body);
    /* the upstream goes away */
    close(upfd);
    body = readyz_until(&m, 503, -1);
    ck_assert_msg(strstr(body, "not ready: upstream unreachable") != NULL &&
                      strstr(body, "Connection refused") != NULL && strstr(body, url) != NULL,
                  "body: %s", body);
    free(body);
    h_admin_get(&m, "/healthz", &r); /* alive all the same */
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    /* ... and comes back */
    upfd = upstream_listen(port);
    body = readyz_until(&m, 200, upfd);
    free(body);
    log = harness_moat_log(&m);
    ck_assert_msg(log != NULL && strstr(log, "\"event\":\"upstream_unreachable\"") != NULL,
                  "the outage was not logged");
    free(log);
    /* draining: a request stays in flight (the upstream never answers) while moat drains */
    h_open(&c, &m);
    ck_assert_int_eq(harness_conn_send_str(&c, "GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0);
    for (i = 0; i < 100 && n_kept == 0; i++) {
        harness_sleep_ms(10);
        upstream_drain(upfd, 1, kept, &n_kept);
    }
    ck_assert_msg(n_kept > 0, "moat did not connect to the upstream");
    ck_assert_int_eq(kill(m.pid, SIGTERM), 0);
    body = readyz_until(&m, 503, -1);
    ck_assert_msg(strstr(body, "draining") != NULL, "body: %s", body);
    free(body);
    h_admin_get(&m, "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    for (i = 0; i < n_kept; i++)
        close(kept[i]); /* the request fails (502), the drain ends */
    harness_conn_close(&c);
    close(upfd);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* ---------------------------------------------------------------- healthcheck, TLS, Unix */

/* Runs `moat healthcheck ARGS...` with env; returns the exit code, stderr into *err. */
static int healthcheck(const char *admin, const char *const *env, char **err)
{
    const char *argv[] = {harness_moat_bin(), "healthcheck", "--admin-listen", admin, NULL};

    return harness_run(argv, env, 15000, NULL, err);
}

START_TEST(test_healthcheck_plain)
{
    struct h_upstream *u = h_ok_upstream();
    struct h_moat m;
    char admin[64];
    char *err = NULL;
    int dead = harness_free_port();

    h_start_moat(&m, harness_upstream_url(u), NULL);
    snprintf(admin, sizeof(admin), "127.0.0.1:%d", m.admin_port);
    ck_assert_msg(healthcheck(admin, NULL, &err) == 0, "healthcheck failed: %s", err);
    ck_assert_msg(strstr(err, "healthy") != NULL, "stderr: %s", err);
    free(err);
    snprintf(admin, sizeof(admin), "127.0.0.1:%d", dead);
    ck_assert_int_eq(healthcheck(admin, NULL, &err), 1);
    ck_assert_msg(strstr(err, "Connection refused") != NULL, "stderr: %s", err);
    free(err);
    /* a wildcard address is reached through loopback */
    snprintf(admin, sizeof(admin), "0.0.0.0:%d", m.admin_port);
    ck_assert_msg(healthcheck(admin, NULL, &err) == 0, "healthcheck failed: %s", err);
    free(err);
}
END_TEST

START_TEST(test_admin_tls)
{
    static const char *const env[] = {"MOAT_ADMIN_TLS=true", NULL};
    struct h_upstream *u = h_ok_upstream();
    struct h_moat m;
    struct h_resp r;
    char admin[64];
    char *err = NULL;

    h_start_moat(&m, harness_upstream_url(u), env);
    ck_assert_int_eq(
        harness_request(m.admin_port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r, 5000, NULL),
        0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(harness_resp_header(&r, "Content-Type"), METRICS_TYPE);
    harness_resp_free(&r);
    snprintf(admin, sizeof(admin), "127.0.0.1:%d", m.admin_port);
    ck_assert_msg(healthcheck(admin, env, &err) == 0, "TLS healthcheck failed: %s", err);
    free(err);
    /* plain HTTP to a TLS admin listener gets no answer */
    ck_assert_int_eq(healthcheck(admin, NULL, &err), 1);
    free(err);
}
END_TEST

START_TEST(test_admin_unix_socket)
{
    struct h_upstream *u = h_ok_upstream();
    const char *args[] = {"--admin-listen", NULL, NULL};
    struct h_moat_opts o = {0};
    struct h_moat m;
    struct stat st;
    char path[H_PATH];
    char flag[H_PATH + 8];
    char *err = NULL;

    harness_path(path, sizeof(path), "admin.sock");
    snprintf(flag, sizeof(flag), "unix:%s", path);
    args[1] = flag;
    /* a stale socket file from an earlier run is replaced */
    ck_assert_int_eq(mknod(path, S_IFSOCK | 0600, 0), 0);
    o.upstream = harness_upstream_url(u);
    o.args = args;
    ck_assert_int_eq(harness_moat_start(&m, &o), 0);
    ck_assert_int_eq(m.admin_port, 0);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert_msg(S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0660, "mode %o", st.st_mode);
    ck_assert_msg(healthcheck(flag, NULL, &err) == 0, "healthcheck failed: %s", err);
    free(err);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
    /* Sandboxed (the default), moat may not unlink at exit: the file stays,
     * dead, and the next start replaces it. */
    ck_assert_int_eq(healthcheck(flag, NULL, &err), 1);
    free(err);
    ck_assert_int_eq(harness_moat_start(&m, &o), 0);
    ck_assert_msg(healthcheck(flag, NULL, &err) == 0, "healthcheck after restart: %s", err);
    free(err);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("admin");
    TCase *routes = harness_tcase("routes", 30);
    TCase *metrics = harness_tcase("metrics", 60);
    TCase *probes = harness_tcase("probes", 60);
    Suite *const suites[] = {s, NULL};

    tcase_add_test(routes, test_admin_routes);
    tcase_add_test(routes, test_healthcheck_plain);
    tcase_add_test(routes, test_admin_tls);
    tcase_add_test(routes, test_admin_unix_socket);
    tcase_add_test(metrics, test_exact_values);
    tcase_add_test(metrics, test_connection_rejections);
    tcase_add_test(metrics, test_scrape_under_load);
    tcase_add_test(probes, test_readyz_follows_upstream);
    suite_add_tcase(s, routes);
    suite_add_tcase(s, metrics);
    suite_add_tcase(s, probes);
    return harness_run_suites(suites);
}
