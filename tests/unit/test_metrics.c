/* test_metrics.c - unit tests for the metrics registry and its Prometheus renderer. */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "moat/metrics.h"

/* What one scripted recording does. */
enum rec_kind {
    R_REQ,      /* moat_metrics_request(listener, s, code, dur, in, out) */
    R_UP,       /* moat_metrics_upstream(dur) */
    R_UPERR,    /* moat_metrics_upstream_error(s) */
    R_OPEN,     /* moat_metrics_conn_open(listener) */
    R_CLOSE,    /* moat_metrics_conn_close(listener) */
    R_CONNREJ,  /* moat_metrics_conn_rejected(s) */
    R_REQREJ,   /* moat_metrics_request_rejected(s) */
    R_REDIR,    /* moat_metrics_redirect(code) */
    R_TLS,      /* moat_metrics_tls_handshake(s, code) */
    R_COOKIE,   /* moat_metrics_cookie_hardened() */
    R_SHUTDOWN, /* moat_metrics_shutdown_attempt(code) */
    R_CERT,     /* moat_metrics_cert_expiry(s, in) */
    R_RESUMED,  /* moat_metrics_tls_resumed() */
    R_RELOAD,   /* moat_metrics_tls_reload(code) */
};

/* One recording in a script. */
struct rec {
    enum rec_kind kind;                  /* what to call */
    enum moat_metrics_listener listener; /* R_REQ, R_OPEN, R_CLOSE */
    const char *s;                       /* method, reason, version or cert name */
    int code;                            /* status, redirect code, tls ok, shutdown result */
    double dur;                          /* seconds */
    uint64_t in;                         /* bytes in; cert expiry for R_CERT */
    uint64_t out;                        /* bytes out */
};

#define HTTPS MOAT_METRICS_HTTPS
#define HTTP MOAT_METRICS_HTTP
#define ADMIN MOAT_METRICS_ADMIN

/* clang-format off */
/* A recording that only takes a string (reason, version, name) or a code. */
#define S(kind, str) {kind, HTTPS, str, 0, 0, 0, 0}
#define C(kind, code) {kind, HTTPS, NULL, code, 0, 0, 0}
#define L(kind, listener) {kind, listener, NULL, 0, 0, 0, 0}

static const struct rec script[] = {
    {R_REQ, HTTPS, "GET", 200, 0.003, 10, 100},
    {R_REQ, HTTPS, "GET", 200, 0.2, 0, 50},
    {R_REQ, HTTPS, "get", 200, 0.004, 0, 0},
    {R_REQ, HTTPS, "PURGE", 404, 0.004, 0, 0},
    {R_REQ, HTTPS, "POST", 502, 1.5, 1000, 7},
    {R_REQ, HTTPS, NULL, 0, 0.01, 0, 0},
    {R_REQ, HTTPS, "DELETE", 999, 0.01, 0, 0},
    {R_REQ, HTTP, "GET", 301, 0.001, 0, 0},
    {R_REQ, ADMIN, "GET", 200, 0.0001, 0, 2048},
    {R_UP, HTTPS, NULL, 0, 0.004, 0, 0}, {R_UP, HTTPS, NULL, 0, 0.3, 0, 0},
    S(R_UPERR, "connect"), S(R_UPERR, "no_address"), S(R_UPERR, "connect_timeout"),
    S(R_UPERR, "timeout"), S(R_UPERR, "closed"), S(R_UPERR, "reset"), S(R_UPERR, "protocol"),
    S(R_UPERR, "gremlins"), S(R_UPERR, NULL),
    L(R_OPEN, HTTPS), L(R_OPEN, HTTPS), L(R_OPEN, HTTPS), L(R_CLOSE, HTTPS),
    L(R_OPEN, HTTP), L(R_CLOSE, HTTP),
    S(R_CONNREJ, "limit"), S(R_CONNREJ, "per_ip_limit"), S(R_CONNREJ, "flood"),
    S(R_REQREJ, "dup_content_length"), S(R_REQREJ, "dup_content_length"),
    S(R_REQREJ, "cl_and_te"), S(R_REQREJ, "smuggle\"d"), S(R_REQREJ, NULL),
    C(R_REDIR, 301), C(R_REDIR, 301), C(R_REDIR, 308), C(R_REDIR, 399), C(R_REDIR, 200),
    C(R_REDIR, 400),
    {R_TLS, HTTPS, "TLS1.3", 1, 0, 0, 0}, {R_TLS, HTTPS, "TLSv1.3", 1, 0, 0, 0},
    {R_TLS, HTTPS, "1.2", 1, 0, 0, 0}, {R_TLS, HTTPS, "tls1.2", 1, 0, 0, 0},
    {R_TLS, HTTPS, "SSL3.0", 1, 0, 0, 0}, {R_TLS, HTTPS, NULL, 0, 0, 0, 0},
    C(R_COOKIE, 0), C(R_COOKIE, 0), C(R_COOKIE, 0),
    C(R_SHUTDOWN, MOAT_METRICS_SHUTDOWN_DENIED), C(R_SHUTDOWN, MOAT_METRICS_SHUTDOWN_DENIED),
    C(R_SHUTDOWN, MOAT_METRICS_SHUTDOWN_RATE_LIMITED), C(R_SHUTDOWN, 99),
    {R_CERT, HTTPS, "main", 0, 0, 1700000000, 0},
    {R_CERT, HTTPS, "alt", 0, 0, 1, 0},
    {R_CERT, HTTPS, "alt", 0, 0, 1800000000, 0},
    C(R_RESUMED, 0), C(R_RESUMED, 0),
    C(R_RELOAD, 1), C(R_RELOAD, 0), C(R_RELOAD, 7),
};

/* Lines the script must produce, exactly. */
static const char *const expect_present[] = {
    "moat_requests_total{listener=\"https\",method=\"GET\",code=\"200\"} 2",
    "moat_requests_total{listener=\"https\",method=\"OTHER\",code=\"200\"} 1",
    "moat_requests_total{listener=\"https\",method=\"OTHER\",code=\"404\"} 1",
    "moat_requests_total{listener=\"https\",method=\"POST\",code=\"502\"} 1",
    "moat_requests_total{listener=\"https\",method=\"OTHER\",code=\"0\"} 1",
    "moat_requests_total{listener=\"https\",method=\"DELETE\",code=\"0\"} 1",
    "moat_requests_total{listener=\"http\",method=\"GET\",code=\"301\"} 1",
    "moat_requests_total{listener=\"admin\",method=\"GET\",code=\"200\"} 1",
    "moat_request_duration_seconds_bucket{listener=\"https\",le=\"0.005\"} 3",
    "moat_request_duration_seconds_bucket{listener=\"https\",le=\"0.01\"} 5",
    "moat_request_duration_seconds_bucket{listener=\"https\",le=\"0.1\"} 5",
    "moat_request_duration_seconds_bucket{listener=\"https\",le=\"0.25\"} 6",
    "moat_request_duration_seconds_bucket{listener=\"https\",le=\"1\"} 6",
    "moat_request_duration_seconds_bucket{listener=\"https\",le=\"2.5\"} 7",
    "moat_request_duration_seconds_bucket{listener=\"https\",le=\"+Inf\"} 7",
    "moat_request_duration_seconds_sum{listener=\"https\"} 1.731000",
    "moat_request_duration_seconds_count{listener=\"https\"} 7",
    "moat_request_duration_seconds_bucket{listener=\"http\",le=\"0.005\"} 1",
    "moat_request_duration_seconds_sum{listener=\"http\"} 0.001000",
    "moat_request_duration_seconds_sum{listener=\"admin\"} 0.000100",
    "moat_request_duration_seconds_count{listener=\"admin\"} 1",
    "moat_bytes_received_total{listener=\"https\"} 1010",
    "moat_bytes_sent_total{listener=\"https\"} 157",
    "moat_bytes_sent_total{listener=\"admin\"} 2048",
    "moat_bytes_received_total{listener=\"http\"} 0",
    "moat_upstream_request_duration_seconds_bucket{le=\"0.005\"} 1",
    "moat_upstream_request_duration_seconds_bucket{le=\"0.25\"} 1",
    "moat_upstream_request_duration_seconds_bucket{le=\"0.5\"} 2",
    "moat_upstream_request_duration_seconds_bucket{le=\"+Inf\"} 2",
    "moat_upstream_request_duration_seconds_sum 0.304000",
    "moat_upstream_request_duration_seconds_count 2",
    "moat_upstream_errors_total{reason=\"connect\"} 3",
    "moat_upstream_errors_total{reason=\"timeout\"} 1",
    "moat_upstream_errors_total{reason=\"reset\"} 2",
    "moat_upstream_errors_total{reason=\"protocol\"} 1",
    "moat_upstream_errors_total{reason=\"limit\"} 0",
    "moat_upstream_errors_total{reason=\"shutdown\"} 0",
    "moat_upstream_errors_total{reason=\"other\"} 2",
    "moat_upstream_connections{state=\"idle\"} 4",
    "moat_upstream_connections{state=\"active\"} 3",
    "moat_connections_active{listener=\"https\"} 2",
    "moat_connections_active{listener=\"http\"} 0",
    "moat_connections_active{listener=\"admin\"} 0",
    "moat_connections_total{listener=\"https\"} 3",
    "moat_connections_total{listener=\"http\"} 1",
    "moat_connections_rejected_total{reason=\"limit\"} 1",
    "moat_connections_rejected_total{reason=\"per_ip_limit\"} 1",
    "moat_connections_rejected_total{reason=\"draining\"} 0",
    "moat_connections_rejected_total{reason=\"other\"} 1",
    "moat_requests_rejected_total{reason=\"dup_content_length\"} 2",
    "moat_requests_rejected_total{reason=\"cl_and_te\"} 1",
    "moat_requests_rejected_total{reason=\"bad_method\"} 0",
    "moat_requests_rejected_total{reason=\"other\"} 2",
    "moat_redirects_total{code=\"301\"} 2",
    "moat_redirects_total{code=\"302\"} 0",
    "moat_redirects_total{code=\"307\"} 0",
    "moat_redirects_total{code=\"308\"} 1",
    "moat_redirects_total{code=\"399\"} 1",
    "moat_tls_handshakes_total{version=\"1.2\"} 2",
    "moat_tls_handshakes_total{version=\"1.3\"} 2",
    "moat_tls_handshakes_total{version=\"other\"} 1",
    "moat_tls_handshake_failures_total 1",
    "moat_tls_resumptions_total 2",
    "moat_tls_reload_total{result=\"success\"} 2",
    "moat_tls_reload_total{result=\"failure\"} 1",
    "moat_cookies_hardened_total 3",
    "moat_emergency_shutdown_attempts_total{result=\"accepted\"} 0",
    "moat_emergency_shutdown_attempts_total{result=\"denied\"} 2",
    "moat_emergency_shutdown_attempts_total{result=\"rate_limited\"} 1",
    "moat_emergency_shutdown_attempts_total{result=\"disabled\"} 0",
    /* two lines in this order (one string on purpose) */
    ("moat_tls_certificate_expiry_timestamp_seconds{name=\"alt\"} 1800000000\n"
     "moat_tls_certificate_expiry_timestamp_seconds{name=\"main\"} 1700000000"),
    "moat_build_info{version=\"0.1.0\",tls_library=\"GnuTLS 3.7.9\",mhd_version=\"0.9.75\"} 1",
    "moat_start_time_seconds 1700000000.25",
};

/* Series the script must not produce (ignored or folded recordings). */
static const char *const expect_absent[] = {
    "method=\"get\"",
    "method=\"PURGE\"",
    "code=\"999\"",
    "moat_redirects_total{code=\"200\"}",
    "moat_redirects_total{code=\"400\"}",
    "reason=\"gremlins\"",
    "reason=\"smuggle",
    "reason=\"flood\"",
    "version=\"SSL3.0\"",
    "reason=\"no_address\"",
    "process_",
};
/* clang-format on */

static const struct moat_metrics_info base_info = {
    "0.1.0", "GnuTLS 3.7.9", "0.9.75", 1700000000.25, 4, 3, NULL,
};

static void play(struct moat_metrics *m, const struct rec *r, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        switch (r[i].kind) {
        case R_REQ:
            moat_metrics_request(m, r[i].listener, r[i].s, r[i].code, r[i].dur, r[i].in, r[i].out);
            break;
        case R_UP:
            moat_metrics_upstream(m, r[i].dur);
            break;
        case R_UPERR:
            moat_metrics_upstream_error(m, r[i].s);
            break;
        case R_OPEN:
            moat_metrics_conn_open(m, r[i].listener);
            break;
        case R_CLOSE:
            moat_metrics_conn_close(m, r[i].listener);
            break;
        case R_CONNREJ:
            moat_metrics_conn_rejected(m, r[i].s);
            break;
        case R_REQREJ:
            moat_metrics_request_rejected(m, r[i].s);
            break;
        case R_REDIR:
            moat_metrics_redirect(m, r[i].code);
            break;
        case R_TLS:
            moat_metrics_tls_handshake(m, r[i].s, r[i].code);
            break;
        case R_COOKIE:
            moat_metrics_cookie_hardened(m);
            break;
        case R_SHUTDOWN:
            moat_metrics_shutdown_attempt(m, (enum moat_metrics_shutdown)r[i].code);
            break;
        case R_CERT:
            ck_assert_int_eq(moat_metrics_cert_expiry(m, r[i].s, (int64_t)r[i].in), 0);
            break;
        case R_RESUMED:
            moat_metrics_tls_resumed(m);
            break;
        case R_RELOAD:
            moat_metrics_tls_reload(m, r[i].code);
            break;
        }
    }
}

static char *render(struct moat_metrics *m, const struct moat_metrics_info *info)
{
    char *text = NULL;
    size_t len = 0;

    ck_assert_int_eq(moat_metrics_render_alloc(m, info, &text, &len), 0);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(strlen(text), len);
    ck_assert(len > 0 && text[len - 1] == '\n');
    return text;
}

/* True when text holds want as whole line(s). */
static int has_lines(const char *text, const char *want)
{
    size_t n = strlen(want);
    const char *p = text;

    for (;;) {
        p = strstr(p, want);
        if (p == NULL)
            return 0;
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
        p++;
    }
}

/* The first line of text that starts with prefix, or NULL. */
static const char *line_starting(const char *text, const char *prefix)
{
    const char *p = text;

    for (;;) {
        p = strstr(p, prefix);
        if (p == NULL || p == text || p[-1] == '\n')
            return p;
        p++;
    }
}

/* The value of the sample line starting with "series ", as an unsigned integer. */
static uint64_t value_of(const char *text, const char *series)
{
    char key[256];
    const char *p;

    snprintf(key, sizeof(key), "%s ", series);
    p = line_starting(text, key);
    ck_assert_msg(p != NULL, "no series %s", series);
    return strtoull(p + strlen(key), NULL, 10);
}

START_TEST(test_script_values)
{
    struct moat_metrics *m = moat_metrics_new();
    char *text;
    size_t i;

    ck_assert_ptr_nonnull(m);
    play(m, script, sizeof(script) / sizeof(script[0]));
    text = render(m, &base_info);
    for (i = 0; i < sizeof(expect_present) / sizeof(expect_present[0]); i++)
        ck_assert_msg(has_lines(text, expect_present[i]), "missing line: %s\n--- render:\n%s",
                      expect_present[i], text);
    for (i = 0; i < sizeof(expect_absent) / sizeof(expect_absent[0]); i++)
        ck_assert_msg(strstr(text, expect_absent[i]) == NULL, "unexpected: %s", expect_absent[i]);
    free(text);
    moat_metrics_free(m);
}
END_TEST

/* Every family, with its type: HELP and TYPE lines always present. */
static const struct {
    const char *name; /* family name */
    const char *type; /* Prometheus type */
} families[] = {
    {"moat_build_info", "gauge"},
    {"moat_start_time_seconds", "gauge"},
    {"moat_requests_total", "counter"},
    {"moat_request_duration_seconds", "histogram"},
    {"moat_bytes_received_total", "counter"},
    {"moat_bytes_sent_total", "counter"},
    {"moat_requests_rejected_total", "counter"},
    {"moat_redirects_total", "counter"},
    {"moat_connections_active", "gauge"},
    {"moat_connections_total", "counter"},
    {"moat_connections_rejected_total", "counter"},
    {"moat_tls_handshakes_total", "counter"},
    {"moat_tls_handshake_failures_total", "counter"},
    {"moat_tls_resumptions_total", "counter"},
    {"moat_tls_reload_total", "counter"},
    {"moat_tls_certificate_expiry_timestamp_seconds", "gauge"},
    {"moat_upstream_request_duration_seconds", "histogram"},
    {"moat_upstream_errors_total", "counter"},
    {"moat_upstream_connections", "gauge"},
    {"moat_cookies_hardened_total", "counter"},
    {"moat_emergency_shutdown_attempts_total", "counter"},
    {"process_cpu_seconds_total", "counter"},
    {"process_resident_memory_bytes", "gauge"},
    {"process_open_fds", "gauge"},
    {"process_max_fds", "gauge"},
    {"process_start_time_seconds", "gauge"},
};

START_TEST(test_families_from_start)
{
    struct moat_metrics *m = moat_metrics_new();
    struct moat_procstat ps = {
        .have = MOAT_PROC_CPU | MOAT_PROC_RSS | MOAT_PROC_FDS | MOAT_PROC_MAXFD | MOAT_PROC_START,
        .cpu_seconds = 1.5,
        .resident_bytes = 4096,
        .open_fds = 12,
        .max_fds = 1024,
        .start_time = 1700000000.5,
    };
    struct moat_metrics_info info = base_info;
    char line[256];
    char *text;
    size_t i;

    info.proc = &ps;
    text = render(m, &info);
    for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        snprintf(line, sizeof(line), "# HELP %s ", families[i].name);
        ck_assert_msg(line_starting(text, line) != NULL, "no HELP for %s", families[i].name);
        snprintf(line, sizeof(line), "# TYPE %s %s", families[i].name, families[i].type);
        ck_assert_msg(has_lines(text, line), "no TYPE for %s", families[i].name);
    }
    ck_assert(strncmp(text, "# HELP moat_build_info ", 23) == 0);
    ck_assert(has_lines(text, "moat_emergency_shutdown_attempts_total{result=\"accepted\"} 0"));
    ck_assert(has_lines(text, "moat_emergency_shutdown_attempts_total{result=\"disabled\"} 0"));
    ck_assert(has_lines(text, "moat_request_duration_seconds_count{listener=\"admin\"} 0"));
    ck_assert(has_lines(text, "moat_upstream_request_duration_seconds_sum 0.000000"));
    ck_assert(has_lines(text, "process_cpu_seconds_total 1.5"));
    ck_assert(has_lines(text, "process_resident_memory_bytes 4096"));
    ck_assert(has_lines(text, "process_open_fds 12"));
    ck_assert(has_lines(text, "process_max_fds 1024"));
    ck_assert(has_lines(text, "process_start_time_seconds 1700000000.5"));
    ck_assert(strstr(text, "moat_requests_total{") == NULL);
    ck_assert(strstr(text, "moat_tls_certificate_expiry_timestamp_seconds{") == NULL);
    free(text);
    moat_metrics_free(m);
}
END_TEST

/* Label values with the three characters the format escapes. */
static const struct {
    const char *in;  /* raw value */
    const char *out; /* as rendered between the quotes */
} escapes[] = {
    {"plain.example", "plain.example"},
    {"a\"b", "a\\\"b"},
    {"a\\b", "a\\\\b"},
    {"a\nb", "a\\nb"},
    {"\\\"\n", "\\\\\\\"\\n"},
    {"tab\tstays", "tab\tstays"},
    {"caf\xc3\xa9", "caf\xc3\xa9"},
};

START_TEST(test_escaping)
{
    struct moat_metrics *m = moat_metrics_new();
    struct moat_metrics_info info = base_info;
    char line[256];
    char *text;
    size_t i;

    info.version = escapes[_i].in;
    info.tls_library = NULL;
    ck_assert_int_eq(moat_metrics_cert_expiry(m, escapes[_i].in, 7), 0);
    text = render(m, &info);
    snprintf(line, sizeof(line), "moat_tls_certificate_expiry_timestamp_seconds{name=\"%s\"} 7",
             escapes[_i].out);
    ck_assert_msg(has_lines(text, line), "missing: %s\n%s", line, text);
    snprintf(line, sizeof(line), "moat_build_info{version=\"%s\",tls_library=\"\",",
             escapes[_i].out);
    ck_assert_msg(strstr(text, line) != NULL, "missing: %s", line);
    for (i = 0; text[i] != '\0'; i++)
        ck_assert(text[i] != '\n' || text[i + 1] != '\n'); /* no blank lines */
    free(text);
    moat_metrics_free(m);
}
END_TEST

/* Request methods and the label they are counted under. */
static const struct {
    const char *method; /* as received (NULL: none) */
    const char *label;  /* expected label */
} methods[] = {
    {"GET", "GET"},       {"HEAD", "HEAD"},      {"POST", "POST"},       {"PUT", "PUT"},
    {"PATCH", "PATCH"},   {"DELETE", "DELETE"},  {"OPTIONS", "OPTIONS"}, {"get", "OTHER"},
    {"Post", "OTHER"},    {"GETX", "OTHER"},     {"GE", "OTHER"},        {"", "OTHER"},
    {"CONNECT", "OTHER"}, {"PROPFIND", "OTHER"}, {"OTHER", "OTHER"},     {NULL, "OTHER"},
    {"GET\"x", "OTHER"},
};

START_TEST(test_method_folding)
{
    struct moat_metrics *m = moat_metrics_new();
    char line[160];
    char *text;

    ck_assert_str_eq(moat_metrics_method_label(methods[_i].method), methods[_i].label);
    moat_metrics_request(m, MOAT_METRICS_HTTPS, methods[_i].method, 204, 0.0, 0, 0);
    text = render(m, &base_info);
    snprintf(line, sizeof(line),
             "moat_requests_total{listener=\"https\",method=\"%s\",code=\"204\"} 1",
             methods[_i].label);
    ck_assert_msg(has_lines(text, line), "missing: %s", line);
    free(text);
    moat_metrics_free(m);
}
END_TEST

/* Durations for the histogram test, boundary values included. */
static const double durations[] = {
    0.0, 0.005, 0.0050001, 0.01, 0.02, 0.025,  0.1, 0.2500001, 0.5,  0.99, 1.0,
    2.5, 3,     10,        29.9, 30,   59.999, 60,  60.000001, 3600, -1.0, 1e12,
};

/* The value durations[i] is counted as (after the registry's clamping). */
static double clamped(double d)
{
    if (!(d > 0))
        return 0;
    return d > 1e9 ? 1e9 : d;
}

static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static const char *const les[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                                  "1",     "2.5",  "5",     "10",   "30",  "60"};

START_TEST(test_histogram_invariants)
{
    struct moat_metrics *m = moat_metrics_new();
    size_t n = sizeof(durations) / sizeof(durations[0]);
    char series[160];
    char line[200];
    uint64_t prev = 0, cum, want_sum_us = 0, count, inf;
    size_t i, b, want;
    char *text;

    for (i = 0; i < n; i++) {
        moat_metrics_request(m, MOAT_METRICS_ADMIN, "GET", 200, durations[i], 0, 0);
        moat_metrics_upstream(m, durations[i]);
        want_sum_us += (uint64_t)(clamped(durations[i]) * 1e6 + 0.5);
    }
    moat_metrics_upstream(m, NAN);
    want_sum_us += 0;
    text = render(m, &base_info);
    for (b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
        snprintf(series, sizeof(series),
                 "moat_request_duration_seconds_bucket{listener=\"admin\",le=\"%s\"}", les[b]);
        cum = value_of(text, series);
        for (want = 0, i = 0; i < n; i++)
            want += clamped(durations[i]) <= bounds[b];
        ck_assert_msg(cum == want, "%s = %" PRIu64 ", want %zu", series, cum, want);
        ck_assert(cum >= prev);
        prev = cum;
    }
    inf = value_of(text, "moat_request_duration_seconds_bucket{listener=\"admin\",le=\"+Inf\"}");
    count = value_of(text, "moat_request_duration_seconds_count{listener=\"admin\"}");
    ck_assert_uint_eq(inf, n);
    ck_assert_uint_eq(count, n);
    ck_assert(inf >= prev);
    snprintf(line, sizeof(line),
             "moat_request_duration_seconds_sum{listener=\"admin\"} %" PRIu64 ".%06" PRIu64,
             want_sum_us / 1000000, want_sum_us % 1000000);
    ck_assert_msg(has_lines(text, line), "missing: %s", line);
    /* The upstream histogram got the same values plus a NaN (counted as 0). */
    ck_assert_uint_eq(value_of(text, "moat_upstream_request_duration_seconds_count"), n + 1);
    ck_assert_uint_eq(value_of(text, "moat_upstream_request_duration_seconds_bucket{le=\"+Inf\"}"),
                      n + 1);
    ck_assert_uint_eq(value_of(text, "moat_upstream_request_duration_seconds_bucket{le=\"0.005\"}"),
                      value_of(text, "moat_request_duration_seconds_bucket{listener=\"admin\","
                                     "le=\"0.005\"}") +
                          1);
    free(text);
    moat_metrics_free(m);
}
END_TEST

START_TEST(test_render_buffer)
{
    struct moat_metrics *m = moat_metrics_new();
    size_t need = 0, len = 0;
    char small[64];
    char *buf;

    moat_metrics_request(m, MOAT_METRICS_HTTPS, "GET", 200, 0.1, 1, 1);
    ck_assert_int_eq(moat_metrics_render(m, &base_info, NULL, 0, &need), -1);
    ck_assert(need > 1000);
    ck_assert_int_eq(moat_metrics_render(m, &base_info, small, sizeof(small), &len), -1);
    ck_assert_uint_eq(len, need);
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
    buf = malloc(need + 1);
    ck_assert_int_eq(moat_metrics_render(m, &base_info, buf, need, &len), -1);
    ck_assert_int_eq(moat_metrics_render(m, &base_info, buf, need + 1, &len), 0);
    ck_assert_uint_eq(len, need);
    ck_assert_uint_eq(strlen(buf), need);
    free(buf);
    /* Argument errors report no size. */
    ck_assert_int_eq(moat_metrics_render(NULL, &base_info, small, sizeof(small), &len), -1);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(moat_metrics_render(m, NULL, small, sizeof(small), &len), -1);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(moat_metrics_render(m, &base_info, NULL, 10, &len), -1);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(moat_metrics_render_alloc(NULL, &base_info, &buf, &len), -1);
    ck_assert_ptr_null(buf);
    moat_metrics_free(m);
}
END_TEST

static size_t count_lines(const char *text)
{
    size_t n = 0;

    for (; *text != '\0'; text++)
        n += *text == '\n';
    return n;
}

/* A scrape's size depends on the label combinations seen, not on the traffic. */
START_TEST(test_scrape_cost_bounded)
{
    struct moat_metrics *m = moat_metrics_new();
    size_t lines_one, i;
    char *text;

    moat_metrics_request(m, MOAT_METRICS_HTTPS, "GET", 200, 0.01, 10, 10);
    moat_metrics_request_rejected(m, "bad_host");
    text = render(m, &base_info);
    lines_one = count_lines(text);
    free(text);
    for (i = 0; i < 200000; i++) {
        moat_metrics_request(m, MOAT_METRICS_HTTPS, "GET", 200, 0.01, 10, 10);
        moat_metrics_request_rejected(m, (i & 1) ? "bad_host" : "whatever");
        moat_metrics_upstream_error(m, "nope");
    }
    text = render(m, &base_info);
    ck_assert_uint_eq(count_lines(text), lines_one);
    ck_assert_uint_eq(value_of(text, "moat_requests_total{listener=\"https\",method=\"GET\","
                                     "code=\"200\"}"),
                      200001);
    free(text);
    moat_metrics_free(m);
}
END_TEST

START_TEST(test_cert_table)
{
    struct moat_metrics *m = moat_metrics_new();
    char name[MOAT_METRICS_CERT_NAME_MAX + 1];
    char *text;
    int i;

    ck_assert_int_eq(moat_metrics_cert_expiry(m, NULL, 1), -1);
    ck_assert_int_eq(moat_metrics_cert_expiry(m, "", 1), -1);
    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    ck_assert_int_eq(moat_metrics_cert_expiry(m, name, 1), -1);
    name[MOAT_METRICS_CERT_NAME_MAX - 1] = '\0';
    ck_assert_int_eq(moat_metrics_cert_expiry(m, name, 1), 0);
    moat_metrics_cert_clear(m);
    for (i = MOAT_METRICS_MAX_CERTS - 1; i >= 0; i--) {
        snprintf(name, sizeof(name), "cert%02d", i);
        ck_assert_int_eq(moat_metrics_cert_expiry(m, name, -i), 0);
    }
    ck_assert_int_eq(moat_metrics_cert_expiry(m, "one-too-many", 1), -1);
    ck_assert_int_eq(moat_metrics_cert_expiry(m, "cert03", 33), 0); /* update still works */
    text = render(m, &base_info);
    ck_assert(has_lines(text, "moat_tls_certificate_expiry_timestamp_seconds{name=\"cert00\"} 0\n"
                              "moat_tls_certificate_expiry_timestamp_seconds{name=\"cert01\"} -1"));
    ck_assert(has_lines(text, "moat_tls_certificate_expiry_timestamp_seconds{name=\"cert03\"} 33"));
    ck_assert(strstr(text, "one-too-many") == NULL);
    free(text);
    moat_metrics_cert_clear(m);
    text = render(m, &base_info);
    ck_assert(strstr(text, "moat_tls_certificate_expiry_timestamp_seconds{") == NULL);
    free(text);
    moat_metrics_free(m);
}
END_TEST

/* NULL registry and out-of-range enums are no-ops, not crashes. */
START_TEST(test_defensive)
{
    struct moat_metrics *m = moat_metrics_new();
    char *text;

    moat_metrics_request(NULL, MOAT_METRICS_HTTPS, "GET", 200, 0.1, 1, 1);
    moat_metrics_upstream(NULL, 0.1);
    moat_metrics_upstream_error(NULL, "connect");
    moat_metrics_conn_open(NULL, MOAT_METRICS_HTTPS);
    moat_metrics_conn_close(NULL, MOAT_METRICS_HTTPS);
    moat_metrics_conn_rejected(NULL, "limit");
    moat_metrics_request_rejected(NULL, "bad_host");
    moat_metrics_redirect(NULL, 301);
    moat_metrics_tls_handshake(NULL, "1.3", 1);
    moat_metrics_cookie_hardened(NULL);
    moat_metrics_shutdown_attempt(NULL, MOAT_METRICS_SHUTDOWN_DENIED);
    moat_metrics_cert_clear(NULL);
    ck_assert_int_eq(moat_metrics_cert_expiry(NULL, "x", 1), -1);
    moat_metrics_request(m, (enum moat_metrics_listener)3, "GET", 200, 0.1, 1, 1);
    moat_metrics_conn_open(m, (enum moat_metrics_listener) - 1);
    moat_metrics_shutdown_attempt(m, (enum moat_metrics_shutdown)4);
    text = render(m, &base_info);
    ck_assert(strstr(text, "moat_requests_total{") == NULL);
    ck_assert(has_lines(text, "moat_connections_total{listener=\"https\"} 0"));
    ck_assert(has_lines(text, "moat_connections_active{listener=\"https\"} 0"));
    ck_assert(has_lines(text, "moat_emergency_shutdown_attempts_total{result=\"disabled\"} 0"));
    free(text);
    moat_metrics_free(m);
    moat_metrics_free(NULL);
}
END_TEST

#define N_THREADS 4
#define N_PER_THREAD 100000

/* Shared by the concurrency test's threads. */
struct race {
    struct moat_metrics *m; /* registry under test */
    atomic_int done;        /* recorders finished */
    int scrapes;            /* scrapes the scraper took */
    int bad;                /* a scrape broke +Inf == _count */
};

static void *recorder(void *arg)
{
    struct race *r = arg;
    int i;

    for (i = 0; i < N_PER_THREAD; i++) {
        moat_metrics_conn_open(r->m, MOAT_METRICS_HTTPS);
        moat_metrics_request(r->m, MOAT_METRICS_HTTPS, (i & 1) ? "GET" : "POST", 200, 0.001, 1, 2);
        moat_metrics_upstream(r->m, 0.002);
        moat_metrics_request_rejected(r->m, "bad_host");
        moat_metrics_upstream_error(r->m, "reset");
        moat_metrics_tls_handshake(r->m, "TLS1.3", 1);
        moat_metrics_cookie_hardened(r->m);
        moat_metrics_conn_close(r->m, MOAT_METRICS_HTTPS);
    }
    atomic_fetch_add(&r->done, 1);
    return NULL;
}

static void *scraper(void *arg)
{
    struct race *r = arg;
    char *text;

    while (atomic_load(&r->done) < N_THREADS) {
        text = render(r->m, &base_info);
        if (value_of(text, "moat_upstream_request_duration_seconds_count") !=
            value_of(text, "moat_upstream_request_duration_seconds_bucket{le=\"+Inf\"}"))
            r->bad = 1;
        free(text);
        r->scrapes++;
    }
    return NULL;
}

START_TEST(test_concurrency)
{
    struct race r;
    pthread_t th[N_THREADS + 1];
    const uint64_t total = (uint64_t)N_THREADS * N_PER_THREAD;
    char *text;
    int i;

    memset(&r, 0, sizeof(r));
    r.m = moat_metrics_new();
    atomic_init(&r.done, 0);
    for (i = 0; i < N_THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, recorder, &r), 0);
    ck_assert_int_eq(pthread_create(&th[N_THREADS], NULL, scraper, &r), 0);
    for (i = 0; i <= N_THREADS; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(r.bad, 0);
    text = render(r.m, &base_info);
    ck_assert_uint_eq(value_of(text, "moat_requests_total{listener=\"https\",method=\"GET\","
                                     "code=\"200\"}"),
                      total / 2);
    ck_assert_uint_eq(value_of(text, "moat_requests_total{listener=\"https\",method=\"POST\","
                                     "code=\"200\"}"),
                      total / 2);
    ck_assert_uint_eq(value_of(text, "moat_request_duration_seconds_count{listener=\"https\"}"),
                      total);
    ck_assert_uint_eq(value_of(text, "moat_request_duration_seconds_bucket{listener=\"https\","
                                     "le=\"0.005\"}"),
                      total);
    ck_assert(has_lines(text, "moat_request_duration_seconds_sum{listener=\"https\"} 400.000000"));
    ck_assert(has_lines(text, "moat_upstream_request_duration_seconds_sum 800.000000"));
    ck_assert_uint_eq(value_of(text, "moat_bytes_received_total{listener=\"https\"}"), total);
    ck_assert_uint_eq(value_of(text, "moat_bytes_sent_total{listener=\"https\"}"), 2 * total);
    ck_assert_uint_eq(value_of(text, "moat_connections_total{listener=\"https\"}"), total);
    ck_assert_uint_eq(value_of(text, "moat_connections_active{listener=\"https\"}"), 0);
    ck_assert_uint_eq(value_of(text, "moat_requests_rejected_total{reason=\"bad_host\"}"), total);
    ck_assert_uint_eq(value_of(text, "moat_upstream_errors_total{reason=\"reset\"}"), total);
    ck_assert_uint_eq(value_of(text, "moat_tls_handshakes_total{version=\"1.3\"}"), total);
    ck_assert_uint_eq(value_of(text, "moat_cookies_hardened_total"), total);
    free(text);
    moat_metrics_free(r.m);
}
END_TEST

/* Runs `promtool check metrics` over text; returns its exit status and output. */
static int promtool_check(const char *text, char *out, size_t outlen)
{
    char path[] = "/tmp/moat-metrics-XXXXXX";
    char cmd[128];
    size_t n = 0, r;
    FILE *f;
    int fd, status;

    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    for (;;) {
        r = fread(out + n, 1, outlen - 1 - n, f);
        n += r;
        if (r == 0 || n == outlen - 1)
            break;
    }
    out[n] = '\0';
    status = pclose(f);
    unlink(path);
    return status;
}

START_TEST(test_promtool_clean)
{
    struct moat_metrics *m = moat_metrics_new();
    struct moat_metrics_info info = base_info;
    struct moat_procstat ps;
    char out[4096];
    char *text;
    int status;

    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_promtool_clean: SKIPPED, promtool not installed\n");
        moat_metrics_free(m);
        return;
    }
    play(m, script, sizeof(script) / sizeof(script[0]));
    ck_assert_int_eq(moat_metrics_cert_expiry(m, "we\"ird\\na\nme", 5), 0);
    moat_metrics_request(m, MOAT_METRICS_HTTPS, "PUT", 100, 0.0, 0, 0);
    moat_metrics_request(m, MOAT_METRICS_HTTPS, "PUT", 599, 0.0, 0, 0);
    ck_assert_int_eq(moat_procstat_read(&ps), 0);
    info.proc = &ps;
    info.tls_library = "GnuTLS \"3.7.9\"";
    text = render(m, &info);
    status = promtool_check(text, out, sizeof(out));
    ck_assert_msg(status == 0 && out[0] == '\0', "promtool status %d:\n%s\n--- render:\n%s", status,
                  out, text);
    free(text);
    /* And the empty registry. */
    moat_metrics_free(m);
    m = moat_metrics_new();
    text = render(m, &base_info);
    status = promtool_check(text, out, sizeof(out));
    ck_assert_msg(status == 0 && out[0] == '\0', "promtool status %d (empty):\n%s", status, out);
    free(text);
    moat_metrics_free(m);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_script_values);
    tcase_add_test(tc, test_families_from_start);
    tcase_add_loop_test(tc, test_escaping, 0, (int)(sizeof(escapes) / sizeof(escapes[0])));
    tcase_add_loop_test(tc, test_method_folding, 0, (int)(sizeof(methods) / sizeof(methods[0])));
    tcase_add_test(tc, test_histogram_invariants);
    tcase_add_test(tc, test_render_buffer);
    tcase_add_test(tc, test_scrape_cost_bounded);
    tcase_add_test(tc, test_cert_table);
    tcase_add_test(tc, test_defensive);
    tcase_add_test(tc, test_concurrency);
    tcase_add_test(tc, test_promtool_clean);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
