/* test_headers.c - integration tests of the security-header policy and cookie hardening
 * through gunicorn + Flask: every managed header on app pages, app 404s and moat's own
 * errors; set/default modes; leaky headers removed; per-request CSP nonces handed to the
 * app; the strict profile; Set-Cookie hardening; --check-config warnings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness.h"

#define HSTS_DEFAULT "max-age=63072000; includeSubDomains"

/* A header's expected value on a response. */
struct want_hdr {
    const char *name;  /* header name */
    const char *value; /* exact value, or NULL: present, any value */
};

/* The standard profile's headers on a response the app said nothing about. */
static const struct want_hdr standard_hdrs[] = {
    {"Strict-Transport-Security", HSTS_DEFAULT},
    {"Content-Security-Policy", NULL},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "strict-origin-when-cross-origin"},
    {"Permissions-Policy", NULL},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
    {"X-Permitted-Cross-Domain-Policies", "none"},
};

static void start_for_app(struct h_moat *m, const char *const *env)
{
    h_start_moat(m, harness_shared_app()->url, env);
}

/* Checks that each wanted header appears exactly once with its value, and that
 * no leaky header is left. */
static void check_hdrs(const struct h_resp *r, const struct want_hdr *w, size_t n, const char *what)
{
    static const char *const leaky[] = {"Server", "X-Powered-By", "X-AspNet-Version"};
    const char *v;
    size_t i;

    for (i = 0; i < n; i++) {
        v = harness_resp_header(r, w[i].name);
        ck_assert_msg(v != NULL, "%s: no %s in\n%s", what, w[i].name, r->head);
        ck_assert_msg(harness_resp_header_count(r, w[i].name) == 1, "%s: %s sent %zu times", what,
                      w[i].name, harness_resp_header_count(r, w[i].name));
        if (w[i].value != NULL)
            ck_assert_msg(strcmp(v, w[i].value) == 0, "%s: %s: got \"%s\", want \"%s\"", what,
                          w[i].name, v, w[i].value);
    }
    for (i = 0; i < sizeof(leaky) / sizeof(leaky[0]); i++)
        ck_assert_msg(harness_resp_header(r, leaky[i]) == NULL, "%s: %s left in\n%s", what,
                      leaky[i], r->head);
    ck_assert_msg(harness_resp_header(r, "Content-Security-Policy-Report-Only") == NULL,
                  "%s: report-only CSP sent", what);
    ck_assert_msg(harness_resp_header(r, "Cross-Origin-Embedder-Policy") == NULL,
                  "%s: COEP sent by the standard profile", what);
}

#define N_STD (sizeof(standard_hdrs) / sizeof(standard_hdrs[0]))

START_TEST(test_app_page)
{
    struct h_moat m;
    struct h_resp r;

    start_for_app(&m, NULL);
    h_get(&m, "/", &r);
    ck_assert_int_eq(r.status, 200);
    check_hdrs(&r, standard_hdrs, N_STD, "GET /");
    ck_assert_msg(strstr(harness_resp_header(&r, "Content-Security-Policy"),
                         "default-src 'self'; script-src 'self' 'nonce-") != NULL,
                  "CSP: %s", harness_resp_header(&r, "Content-Security-Policy"));
    harness_resp_free(&r);
    h_get(&m, "/no/such/page", &r);
    ck_assert_int_eq(r.status, 404);
    check_hdrs(&r, standard_hdrs, N_STD, "app 404");
    harness_resp_free(&r);
}
END_TEST

START_TEST(test_moat_errors)
{
    struct h_moat m;
    struct h_resp r;
    char url[64];

    /* 502: nothing listens on the upstream port. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", harness_free_port());
    h_start_moat(&m, url, NULL);
    h_get(&m, "/", &r);
    ck_assert_int_eq(r.status, 502);
    check_hdrs(&r, standard_hdrs, N_STD, "moat 502");
    harness_resp_free(&r);
    /* 400: moat refuses a request without Host. */
    ck_assert_int_ge(harness_request(m.port, "GET / HTTP/1.1\r\n\r\n", &r, 0, NULL), -1);
    ck_assert_int_eq(r.status, 400);
    check_hdrs(&r, standard_hdrs, N_STD, "moat 400");
    harness_resp_free(&r);
}
END_TEST

/* "default" keeps what the app set; leaky headers go whatever the mode. */
START_TEST(test_default_keeps_app)
{
    static const struct want_hdr w[] = {
        {"Content-Security-Policy", "default-src 'self' https://app.example"},
        {"X-Frame-Options", "SAMEORIGIN"},
        {"Referrer-Policy", "no-referrer"},
        {"Strict-Transport-Security", HSTS_DEFAULT},
        {"X-Content-Type-Options", "nosniff"},
    };
    struct h_moat m;
    struct h_resp r;

    start_for_app(&m, NULL);
    h_get(&m, "/sech/own", &r);
    ck_assert_int_eq(r.status, 200);
    check_hdrs(&r, w, sizeof(w) / sizeof(w[0]), "/sech/own default");
    harness_resp_free(&r);
}
END_TEST

/* "set" replaces the app's value. */
START_TEST(test_set_replaces_app)
{
    static const char *const env[] = {
        "MOAT_HEADERS_CSP=default-src 'none'",   "MOAT_HEADERS_CSP_MODE=set",
        "MOAT_HEADERS_FRAME_OPTIONS_MODE=set",   "MOAT_HEADERS_REFERRER_POLICY=same-origin",
        "MOAT_HEADERS_REFERRER_POLICY_MODE=set", "MOAT_HEADERS_HSTS_MAX_AGE=31536000",
        "MOAT_HEADERS_HSTS_PRELOAD=true",        NULL};
    static const struct want_hdr w[] = {
        {"Content-Security-Policy", "default-src 'none'"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "same-origin"},
        {"Strict-Transport-Security", "max-age=31536000; includeSubDomains; preload"},
    };
    struct h_moat m;
    struct h_resp r;

    start_for_app(&m, env);
    h_get(&m, "/sech/own", &r);
    ck_assert_int_eq(r.status, 200);
    check_hdrs(&r, w, sizeof(w) / sizeof(w[0]), "/sech/own set");
    harness_resp_free(&r);
}
END_TEST

/* Copies the nonce the app rendered (nonce="...") into out. */
static void body_nonce(const struct h_resp *r, char *out, size_t cap)
{
    const char *p = strstr((const char *)r->body, "nonce=\"");
    const char *e;

    ck_assert_msg(p != NULL, "no nonce in body: %s", r->body);
    p += strlen("nonce=\"");
    e = strchr(p, '"');
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_lt((size_t)(e - p), cap);
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
}

START_TEST(test_nonce)
{
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    char nonce[2][64];
    char want[128];
    const char *csp;
    int i;

    start_for_app(&m, NULL);
    for (i = 0; i < 2; i++) {
        h_open(&c, &m);
        h_exchange(&c,
                   "GET /sech/nonce HTTP/1.1\r\nHost: localhost\r\nX-CSP-Nonce: forged\r\n"
                   "x-csp-nonce: forged2\r\n\r\n",
                   &r);
        harness_conn_close(&c);
        ck_assert_int_eq(r.status, 200);
        body_nonce(&r, nonce[i], sizeof(nonce[i]));
        ck_assert_msg(strlen(nonce[i]) == 24, "nonce \"%s\"", nonce[i]);
        ck_assert_msg(strstr(nonce[i], "forged") == NULL, "the client's nonce reached the app");
        csp = harness_resp_header(&r, "Content-Security-Policy");
        ck_assert_ptr_nonnull(csp);
        snprintf(want, sizeof(want), "script-src 'self' 'nonce-%s'", nonce[i]);
        ck_assert_msg(strstr(csp, want) != NULL, "CSP %s lacks %s", csp, want);
        snprintf(want, sizeof(want), "style-src 'self' 'nonce-%s'", nonce[i]);
        ck_assert_msg(strstr(csp, want) != NULL, "CSP %s lacks %s", csp, want);
        ck_assert_msg(strstr(csp, "{nonce}") == NULL, "placeholder left: %s", csp);
        harness_resp_free(&r);
    }
    ck_assert_msg(strcmp(nonce[0], nonce[1]) != 0, "same nonce twice: %s", nonce[0]);
}
END_TEST

/* With nonces off, no nonce goes to the app and the CSP has no nonce source. */
START_TEST(test_nonce_off)
{
    static const char *const env[] = {"MOAT_HEADERS_CSP_NONCE=false", NULL};
    struct h_moat m;
    struct h_resp r;
    char nonce[64];
    const char *csp;

    start_for_app(&m, env);
    h_get(&m, "/sech/nonce", &r);
    ck_assert_int_eq(r.status, 200);
    body_nonce(&r, nonce, sizeof(nonce));
    ck_assert_str_eq(nonce, "");
    csp = harness_resp_header(&r, "Content-Security-Policy");
    ck_assert_ptr_nonnull(csp);
    ck_assert_msg(strstr(csp, "nonce") == NULL, "CSP: %s", csp);
    harness_resp_free(&r);
}
END_TEST

START_TEST(test_strict_profile)
{
    static const char *const env[] = {"MOAT_HEADERS_PROFILE=strict", NULL};
    static const struct want_hdr w[] = {
        {"Strict-Transport-Security", HSTS_DEFAULT},
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "same-origin"},
        {"Cross-Origin-Opener-Policy", "same-origin"},
        {"Cross-Origin-Resource-Policy", "same-origin"},
        {"Cross-Origin-Embedder-Policy", "require-corp"},
        {"X-Permitted-Cross-Domain-Policies", "none"},
    };
    struct h_moat m;
    struct h_resp r;
    char nonce[64];
    char want[1024];
    const char *csp;
    size_t i;

    start_for_app(&m, env);
    h_get(&m, "/sech/nonce", &r);
    ck_assert_int_eq(r.status, 200);
    for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        ck_assert_msg(harness_resp_header(&r, w[i].name) != NULL &&
                          strcmp(harness_resp_header(&r, w[i].name), w[i].value) == 0,
                      "%s: %s", w[i].name, harness_resp_header(&r, w[i].name));
    body_nonce(&r, nonce, sizeof(nonce));
    snprintf(want, sizeof(want),
             "default-src 'none'; script-src 'self' 'nonce-%s'; style-src 'self' 'nonce-%s'; "
             "img-src 'self'; font-src 'self'; connect-src 'self'; manifest-src 'self'; "
             "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
             "require-trusted-types-for 'script'; upgrade-insecure-requests",
             nonce, nonce);
    csp = harness_resp_header(&r, "Content-Security-Policy");
    ck_assert_ptr_nonnull(csp);
    ck_assert_str_eq(csp, want);
    harness_resp_free(&r);
    /* strict sets: the app's own values are replaced */
    h_get(&m, "/sech/own", &r);
    ck_assert_str_eq(harness_resp_header(&r, "X-Frame-Options"), "DENY");
    ck_assert_str_eq(harness_resp_header(&r, "Referrer-Policy"), "same-origin");
    ck_assert_uint_eq(harness_resp_header_count(&r, "Content-Security-Policy"), 1);
    ck_assert_msg(strstr(harness_resp_header(&r, "Content-Security-Policy"), "app.example") == NULL,
                  "app CSP kept under strict");
    harness_resp_free(&r);
}
END_TEST

/* The value of the Set-Cookie field whose value starts with prefix, or NULL. */
static const char *cookie_value(const struct h_resp *r, const char *prefix)
{
    size_t i;

    for (i = 0; i < r->nhdr; i++)
        if (strcasecmp(r->name[i], "Set-Cookie") == 0 &&
            strncmp(r->value[i], prefix, strlen(prefix)) == 0)
            return r->value[i];
    return NULL;
}

START_TEST(test_cookies)
{
    static const char *const env[] = {"MOAT_COOKIES_SCRIPT_READABLE=csrftoken", NULL};
    static const struct {
        const char *prefix;
        const char *want;
    } cases[] = {
        {"session=", "session=abc123; Path=/; Secure; HttpOnly; SameSite=Lax"},
        {"csrftoken=", "csrftoken=tok; Path=/; Secure; SameSite=Lax"},
        {"strict=", "strict=1; Path=/; SameSite=Strict; Secure; HttpOnly"},
        {"done=", "done=1; Secure; HttpOnly; SameSite=Lax"},
        {"nameless-secret-value", "nameless-secret-value; Path=/"},
    };
    struct h_moat m;
    struct h_resp r;
    const char *v;
    char *log;
    size_t i;

    start_for_app(&m, env);
    h_get(&m, "/sech/cookies", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(harness_resp_header_count(&r, "Set-Cookie"), 5);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        v = cookie_value(&r, cases[i].prefix);
        ck_assert_msg(v != NULL, "no cookie %s in\n%s", cases[i].prefix, r.head);
        ck_assert_str_eq(v, cases[i].want);
    }
    harness_resp_free(&r);
    ck_assert_int_eq(harness_file_wait(m.log, "\"cookie_malformed\"", 1, 5000), 1);
    log = harness_moat_log(&m);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strstr(log, "nameless-secret-value") == NULL, "cookie value logged");
    free(log);
    h_admin_get(&m, "/metrics", &r);
    ck_assert_msg(strstr((const char *)r.body, "moat_cookies_hardened_total 3") != NULL,
                  "metrics:\n%s", r.body);
    harness_resp_free(&r);
}
END_TEST

START_TEST(test_cookies_off)
{
    static const char *const env[] = {"MOAT_COOKIES_HARDEN=false", NULL};
    struct h_moat m;
    struct h_resp r;

    start_for_app(&m, env);
    h_get(&m, "/sech/cookies", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(cookie_value(&r, "session="), "session=abc123; Path=/");
    harness_resp_free(&r);
}
END_TEST

/* --check-config prints the policy's weak choices as warnings and still exits 0;
 * a bad header key fails with the key named. */
START_TEST(test_check_config_lint)
{
    const char *argv[] = {harness_moat_bin(), "--check-config", "--dev", NULL};
    const char *const weak[] = {"MOAT_CONFIG=/dev/null", "MOAT_HEADERS_HSTS_MAX_AGE=600",
                                "MOAT_HEADERS_CSP=default-src *; object-src 'none'; "
                                "base-uri 'none'",
                                NULL};
    const char *const weak2[] = {
        "MOAT_CONFIG=/dev/null", "MOAT_HEADERS_HSTS_PRELOAD=true",
        "MOAT_HEADERS_HSTS_INCLUDE_SUBDOMAINS=false",
        "MOAT_HEADERS_OVERRIDES=/docs csp: default-src 'self'; script-src 'self' 'unsafe-inline'; "
        "object-src 'none'; base-uri 'none'",
        NULL};
    const char *const good[] = {"MOAT_CONFIG=/dev/null", NULL};
    const char *const bad[] = {"MOAT_CONFIG=/dev/null", "MOAT_HEADERS_CORP_MODE=sometimes", NULL};
    char *out = NULL, *err = NULL;
    int code;

    code = harness_run(argv, weak, 10000, &out, &err);
    ck_assert_msg(code == 0, "exit %d: %s", code, err);
    ck_assert_msg(strstr(err, "moat: warning: Strict-Transport-Security max-age=600") != NULL &&
                      strstr(err, "(hsts-short)") != NULL && strstr(err, "(csp-wildcard)") != NULL,
                  "stderr: %s", err);
    ck_assert_msg(strstr(out, "hsts_max_age = 600") != NULL, "stdout: %s", out);
    free(out);
    free(err);
    /* preload without includeSubDomains; 'unsafe-inline' scripts in a per-path override */
    code = harness_run(argv, weak2, 10000, &out, &err);
    ck_assert_msg(code == 0, "exit %d: %s", code, err);
    ck_assert_msg(strstr(err, "(hsts-preload-no-subdomains)") != NULL &&
                      strstr(err, "'unsafe-inline' scripts without a nonce or hash (under /docs, "
                                  "csp-unsafe-inline)") != NULL,
                  "stderr: %s", err);
    free(out);
    free(err);
    code = harness_run(argv, good, 10000, &out, &err);
    ck_assert_msg(code == 0, "exit %d: %s", code, err);
    ck_assert_msg(strstr(err, "warning") == NULL, "defaults warned: %s", err);
    free(out);
    free(err);
    code = harness_run(argv, bad, 10000, &out, &err);
    ck_assert_msg(code != 0, "bad mode accepted");
    ck_assert_msg(strstr(err, "headers.corp_mode = \"sometimes\" (env MOAT_HEADERS_CORP_MODE)") !=
                      NULL,
                  "stderr: %s", err);
    free(out);
    free(err);
}
END_TEST

/* Per-path overrides (longest prefix wins, /docs looser CSP, /api without CSP), custom
 * headers (set and default, switched off under a prefix) and the report endpoint, through
 * the Flask app; the app's own value survives a "default" custom header. */
START_TEST(test_overrides_custom)
{
    static const char *const env[] = {
        "MOAT_HEADERS_CUSTOM=X-Robots-Tag: noindex | default Cache-Control: no-store | "
        "default X-Frame-Options-Custom: x",
        "MOAT_HEADERS_OVERRIDES=/docs csp: default-src 'self'; style-src 'self' 'unsafe-inline' "
        "| /docs/api set frame_options: SAMEORIGIN | /docs/api csp: default-src 'none' | "
        "/echo off csp | /echo off X-Robots-Tag",
        "MOAT_HEADERS_REPORT_URI=https://reports.example/csp", NULL};
    struct h_moat m;
    struct h_resp r;
    const char *v;

    start_for_app(&m, env);
    /* the base policy: moat's CSP with the report endpoint, the custom headers */
    h_get(&m, "/", &r);
    ck_assert_int_eq(r.status, 200);
    v = harness_resp_header(&r, "Content-Security-Policy");
    ck_assert_msg(v != NULL && strstr(v, "default-src 'self'; script-src 'self' 'nonce-") == v &&
                      strstr(v, "; report-uri https://reports.example/csp; report-to moat-csp") !=
                          NULL,
                  "CSP %s", v != NULL ? v : "(none)");
    ck_assert_str_eq(harness_resp_header(&r, "Reporting-Endpoints"),
                     "moat-csp=\"https://reports.example/csp\"");
    ck_assert_str_eq(harness_resp_header(&r, "X-Robots-Tag"), "noindex");
    ck_assert_str_eq(harness_resp_header(&r, "Cache-Control"), "no-store");
    ck_assert_str_eq(harness_resp_header(&r, "X-Frame-Options"), "DENY");
    harness_resp_free(&r);

    /* /docs: the looser CSP (nonce-less, report endpoint still appended) */
    h_get(&m, "/docs/guide/intro", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(harness_resp_header(&r, "Content-Security-Policy"),
                     "default-src 'self'; style-src 'self' 'unsafe-inline'; report-uri "
                     "https://reports.example/csp; report-to moat-csp");
    ck_assert_str_eq(harness_resp_header(&r, "X-Frame-Options"), "DENY");
    ck_assert_str_eq(harness_resp_header(&r, "X-Robots-Tag"), "noindex");
    harness_resp_free(&r);

    /* /docs/api: the longer prefix wins; encoded and dotted spellings too */
    h_get(&m, "/docs/api/v1", &r);
    ck_assert_str_eq(harness_resp_header(&r, "Content-Security-Policy"),
                     "default-src 'none'; report-uri https://reports.example/csp; report-to "
                     "moat-csp");
    ck_assert_str_eq(harness_resp_header(&r, "X-Frame-Options"), "SAMEORIGIN");
    harness_resp_free(&r);
    h_get(&m, "/docs/x/../%61pi/v1", &r);
    ck_assert_str_eq(harness_resp_header(&r, "X-Frame-Options"), "SAMEORIGIN");
    harness_resp_free(&r);
    /* a segment boundary: /docsx is not /docs */
    h_get(&m, "/docsx", &r);
    v = harness_resp_header(&r, "Content-Security-Policy");
    ck_assert_msg(v != NULL && strstr(v, "'nonce-") != NULL, "CSP %s", v != NULL ? v : "");
    harness_resp_free(&r);

    /* /echo: no CSP, no X-Robots-Tag; the rest of the policy stays */
    h_get(&m, "/echo", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(harness_resp_header(&r, "Content-Security-Policy"));
    ck_assert_ptr_null(harness_resp_header(&r, "X-Robots-Tag"));
    ck_assert_str_eq(harness_resp_header(&r, "X-Content-Type-Options"), "nosniff");
    ck_assert_ptr_nonnull(harness_resp_header(&r, "Strict-Transport-Security"));
    harness_resp_free(&r);

    /* a "default" custom header gives way to the app's own value */
    h_get(&m, "/.well-known/acme-challenge/t", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(harness_resp_header(&r, "Cache-Control"), "no-cache");
    ck_assert_uint_eq(harness_resp_header_count(&r, "Cache-Control"), 1);
    harness_resp_free(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("headers");
    TCase *app = harness_tcase("gunicorn", 90);
    TCase *own = harness_tcase("moat", 60);
    Suite *const suites[] = {s, NULL};

    tcase_add_unchecked_fixture(app, harness_shared_app_setup, harness_shared_app_teardown);
    tcase_add_test(app, test_app_page);
    tcase_add_test(app, test_default_keeps_app);
    tcase_add_test(app, test_set_replaces_app);
    tcase_add_test(app, test_nonce);
    tcase_add_test(app, test_nonce_off);
    tcase_add_test(app, test_strict_profile);
    tcase_add_test(app, test_cookies);
    tcase_add_test(app, test_cookies_off);
    tcase_add_test(app, test_overrides_custom);
    tcase_add_test(own, test_moat_errors);
    tcase_add_test(own, test_check_config_lint);
    suite_add_tcase(s, app);
    suite_add_tcase(s, own);
    return harness_run_suites(suites);
}
