/* test_observatory.c - the demo app (docker/demo/app.py) through moat, graded by the Mozilla
 * HTTP Observatory's published rules (MDN HTTP Observatory "Tests and scoring": baseline 100,
 * penalties first, bonuses only when the score is still 90 or more; 100+ is A+). Each rule is
 * checked on the real responses: the plain-HTTP redirect, then the HTTPS page's headers,
 * cookies and scripts. The standard profile must reach 135, the strict one 140. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness.h"

/* One rule's outcome. */
struct rule {
    const char *test;   /* Observatory test name */
    const char *result; /* the result it would report */
    int modifier;       /* its score modifier */
};

/* The sources of CSP directive dir, trimmed, into out (NUL-terminated); returns 1, or 0
 * when the policy has no such directive. */
static int csp_directive(const char *csp, const char *dir, char *out, size_t cap)
{
    const char *p = csp;
    size_t dlen = strlen(dir);

    while (*p != '\0') {
        size_t n = strcspn(p, ";");
        const char *s = p;

        while (*s == ' ')
            s++;
        if ((size_t)(p + n - s) >= dlen && strncasecmp(s, dir, dlen) == 0 &&
            (s[dlen] == ' ' || s + dlen == p + n)) {
            size_t vlen = (size_t)(p + n - (s + dlen));

            const char *v = s + dlen;

            while (vlen > 0 && *v == ' ') {
                v++;
                vlen--;
            }
            while (vlen > 0 && v[vlen - 1] == ' ')
                vlen--;
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return 1;
        }
        p += n;
        if (*p == ';')
            p++;
    }
    return 0;
}

/* True when the space-separated list has token tok (exact). */
static int has_tok(const char *list, const char *tok)
{
    char buf[4096];
    char *save = NULL;
    char *t;

    snprintf(buf, sizeof(buf), "%s", list);
    for (t = strtok_r(buf, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save))
        if (strcmp(t, tok) == 0)
            return 1;
    return 0;
}

/* True when the list holds a source that makes it unsafe ('unsafe-inline' without a nonce,
 * data:, or an overly broad source). */
static int unsafe_list(const char *list)
{
    static const char *const broad[] = {"*", "http:", "https:", "ftp:", "data:"};
    size_t i;

    if (has_tok(list, "'unsafe-inline'") && strstr(list, "'nonce-") == NULL &&
        strstr(list, "'sha") == NULL)
        return 1;
    for (i = 0; i < sizeof(broad) / sizeof(broad[0]); i++)
        if (has_tok(list, broad[i]))
            return 1;
    return 0;
}

static struct rule rule_csp(const char *csp)
{
    char script[4096], style[4096], object[4096], def[4096], form[4096];
    int has_def = csp != NULL && csp_directive(csp, "default-src", def, sizeof(def));

    if (csp == NULL)
        return (struct rule){"content-security-policy", "csp-not-implemented", -25};
    if (!csp_directive(csp, "script-src", script, sizeof(script)))
        snprintf(script, sizeof(script), "%s", has_def ? def : "*");
    if (!csp_directive(csp, "style-src", style, sizeof(style)))
        snprintf(style, sizeof(style), "%s", has_def ? def : "*");
    if (!csp_directive(csp, "object-src", object, sizeof(object)))
        snprintf(object, sizeof(object), "%s", has_def ? def : "*");
    if (unsafe_list(script) || has_tok(object, "*") || has_tok(object, "https:"))
        return (struct rule){"content-security-policy", "csp-implemented-with-unsafe-inline", -20};
    if (has_tok(script, "'unsafe-eval'") || has_tok(style, "'unsafe-eval'"))
        return (struct rule){"content-security-policy", "csp-implemented-with-unsafe-eval", -10};
    if (unsafe_list(style))
        return (struct rule){"content-security-policy",
                             "csp-implemented-with-unsafe-inline-in-style-src-only", 0};
    if (has_def && strcmp(def, "'none'") == 0 && csp_directive(csp, "form-action", form, 64) &&
        (has_tok(form, "'self'") || has_tok(form, "'none'")))
        return (struct rule){"content-security-policy",
                             "csp-implemented-with-no-unsafe-default-src-none", 10};
    return (struct rule){"content-security-policy", "csp-implemented-with-no-unsafe", 5};
}

/* True when the cookie's name (before '=') holds "sess" or "login": the Observatory's test
 * for a session cookie. */
static int session_cookie(const char *v)
{
    char name[128];
    size_t n = strcspn(v, "=;");
    size_t i;

    if (n >= sizeof(name))
        n = sizeof(name) - 1;
    for (i = 0; i < n; i++)
        name[i] = (char)((v[i] >= 'A' && v[i] <= 'Z') ? v[i] - 'A' + 'a' : v[i]);
    name[n] = '\0';
    return strstr(name, "sess") != NULL || strstr(name, "login") != NULL;
}

static struct rule rule_cookies(const struct h_resp *r)
{
    size_t i, n = 0;
    int samesite = 1;

    for (i = 0; i < r->nhdr; i++) {
        const char *v = r->value[i];

        if (strcasecmp(r->name[i], "Set-Cookie") != 0)
            continue;
        n++;
        if (strcasestr(v, "; Secure") == NULL)
            return (struct rule){"cookies", "cookies-without-secure-flag-but-protected-by-hsts",
                                 -5};
        if (session_cookie(v) && strcasestr(v, "; HttpOnly") == NULL)
            return (struct rule){"cookies", "cookies-session-without-httponly-flag", -30};
        if (strcasestr(v, "; SameSite=Lax") == NULL && strcasestr(v, "; SameSite=Strict") == NULL)
            samesite = 0;
    }
    if (n == 0)
        return (struct rule){"cookies", "cookies-not-found", 0};
    if (!samesite)
        return (struct rule){"cookies", "cookies-secure-with-httponly-sessions", 0};
    return (struct rule){"cookies", "cookies-secure-with-httponly-sessions-and-samesite", 5};
}

static struct rule rule_cors(const struct h_resp *r)
{
    const char *acao = harness_resp_header(r, "Access-Control-Allow-Origin");
    const char *cred = harness_resp_header(r, "Access-Control-Allow-Credentials");

    if (acao == NULL)
        return (struct rule){"cross-origin-resource-sharing",
                             "cross-origin-resource-sharing-not-implemented", 0};
    if (cred != NULL && strcasecmp(cred, "true") == 0)
        return (struct rule){"cross-origin-resource-sharing",
                             "cross-origin-resource-sharing-implemented-with-universal-access",
                             -50};
    return (struct rule){"cross-origin-resource-sharing",
                         "cross-origin-resource-sharing-implemented-with-public-access", 0};
}

/* http://HOST/ -> the first Location must be https on the same host. */
static struct rule rule_redirect(const struct h_resp *r, const char *host)
{
    const char *loc = harness_resp_header(r, "Location");
    char want[128];

    snprintf(want, sizeof(want), "https://%s:", host);
    if (r->status < 300 || r->status > 399 || loc == NULL)
        return (struct rule){"redirection", "redirection-missing", -20};
    if (strncmp(loc, "https://", 8) != 0)
        return (struct rule){"redirection", "redirection-not-to-https-on-initial-redirection", -10};
    if (strncmp(loc, want, strlen(want)) != 0)
        return (struct rule){"redirection", "redirection-off-host-from-http", -5};
    return (struct rule){"redirection", "redirection-to-https", 0};
}

static struct rule rule_referrer(const char *v)
{
    static const char *const private_[] = {"no-referrer", "same-origin", "strict-origin",
                                           "strict-origin-when-cross-origin"};
    size_t i;

    if (v == NULL)
        return (struct rule){"referrer-policy", "referrer-policy-not-implemented", 0};
    for (i = 0; i < sizeof(private_) / sizeof(private_[0]); i++)
        if (strcasecmp(v, private_[i]) == 0)
            return (struct rule){"referrer-policy", "referrer-policy-private", 5};
    return (struct rule){"referrer-policy", "referrer-policy-unsafe", -5};
}

static struct rule rule_hsts(const char *v)
{
    const char *age = v != NULL ? strcasestr(v, "max-age=") : NULL;

    if (v == NULL)
        return (struct rule){"strict-transport-security", "hsts-not-implemented", -20};
    if (age == NULL)
        return (struct rule){"strict-transport-security", "hsts-header-invalid", -20};
    if (strtoul(age + 8, NULL, 10) < 15768000UL)
        return (struct rule){"strict-transport-security",
                             "hsts-implemented-max-age-less-than-six-months", -10};
    /* hsts-preloaded (+5) needs the host on the browsers' preload list: not for a test host */
    return (struct rule){"strict-transport-security",
                         "hsts-implemented-max-age-at-least-six-months", 0};
}

/* Every <script src=...> must carry integrity and be same-origin (relative). */
static struct rule rule_sri(const char *html)
{
    const char *p = html;
    int scripts = 0, with_src = 0, with_sri = 0;

    while ((p = strstr(p, "<script")) != NULL) {
        const char *end = strchr(p, '>');
        char tag[1024];
        size_t n;

        if (end == NULL)
            break;
        n = (size_t)(end - p) < sizeof(tag) - 1 ? (size_t)(end - p) : sizeof(tag) - 1;
        memcpy(tag, p, n);
        tag[n] = '\0';
        scripts++;
        if (strstr(tag, " src=\"") != NULL) {
            with_src++;
            if (strstr(tag, " src=\"/") == NULL || strstr(tag, " src=\"//") != NULL)
                return (struct rule){"subresource-integrity",
                                     "sri-not-implemented-but-external-scripts-loaded-securely",
                                     -5};
            if (strstr(tag, " integrity=\"sha384-") != NULL)
                with_sri++;
        }
        p = end;
    }
    if (scripts == 0)
        return (struct rule){"subresource-integrity", "sri-not-implemented-but-no-scripts-loaded",
                             0};
    if (with_src > 0 && with_sri == with_src)
        return (struct rule){"subresource-integrity",
                             "sri-implemented-and-all-scripts-loaded-securely", 5};
    return (struct rule){"subresource-integrity",
                         "sri-not-implemented-but-all-scripts-loaded-from-secure-origin", 0};
}

static struct rule rule_xcto(const char *v)
{
    if (v != NULL && strcasecmp(v, "nosniff") == 0)
        return (struct rule){"x-content-type-options", "x-content-type-options-nosniff", 0};
    return (struct rule){"x-content-type-options", "x-content-type-options-not-implemented", -5};
}

static struct rule rule_xfo(const char *xfo, const char *csp)
{
    char fa[256];

    if (csp != NULL && csp_directive(csp, "frame-ancestors", fa, sizeof(fa)))
        return (struct rule){"x-frame-options", "x-frame-options-implemented-via-csp", 5};
    if (xfo != NULL && (strcasecmp(xfo, "DENY") == 0 || strcasecmp(xfo, "SAMEORIGIN") == 0))
        return (struct rule){"x-frame-options", "x-frame-options-sameorigin-or-deny", 0};
    return (struct rule){"x-frame-options", "x-frame-options-not-implemented", -20};
}

static struct rule rule_corp(const char *v)
{
    if (v == NULL)
        return (struct rule){"cross-origin-resource-policy",
                             "cross-origin-resource-policy-not-implemented", 0};
    if (strcasecmp(v, "same-origin") == 0)
        return (struct rule){"cross-origin-resource-policy",
                             "cross-origin-resource-policy-implemented-with-same-origin", 10};
    if (strcasecmp(v, "same-site") == 0)
        return (struct rule){"cross-origin-resource-policy",
                             "cross-origin-resource-policy-implemented-with-same-site", 10};
    return (struct rule){"cross-origin-resource-policy",
                         "cross-origin-resource-policy-implemented-with-cross-origin", 0};
}

/* Grades the demo through a moat started with env; returns the score, the rules in out. */
static int grade(const char *const *env, struct rule *out, size_t *n_out)
{
    struct h_app app;
    struct h_moat m;
    struct h_resp http, page;
    struct h_conn c;
    struct h_read_opts o = {0};
    const char *csp;
    int score = 100, bonus = 0;
    size_t i, n = 0;

    ck_assert_msg(harness_demo_app_start(&app, harness_dir()) == 0, "demo app did not start");
    h_start_moat(&m, app.url, env);
    /* redirection: the plain-HTTP answer to http://127.0.0.1/ */
    ck_assert_int_eq(harness_conn_open_plain(&c, m.http_port), 0);
    ck_assert_int_eq(
        harness_conn_send_str(&c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: obs\r\n\r\n"),
        0);
    o.timeout_ms = 10000;
    ck_assert_int_eq(harness_read_response(&c, &http, &o), 0);
    harness_conn_close(&c);
    ck_assert_ptr_null(harness_resp_header(&http, "Set-Cookie"));
    /* the page itself over HTTPS */
    h_open(&c, &m);
    h_exchange(&c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: obs\r\n\r\n", &page);
    harness_conn_close(&c);
    ck_assert_int_eq(page.status, 200);
    csp = harness_resp_header(&page, "Content-Security-Policy");
    ck_assert_uint_le(harness_resp_header_count(&page, "Content-Security-Policy"), 1);
    out[n++] = rule_csp(csp);
    out[n++] = rule_cookies(&page);
    out[n++] = rule_cors(&page);
    out[n++] = rule_redirect(&http, "127.0.0.1");
    out[n++] = rule_referrer(harness_resp_header(&page, "Referrer-Policy"));
    out[n++] = rule_hsts(harness_resp_header(&page, "Strict-Transport-Security"));
    out[n++] = rule_sri((const char *)page.body);
    out[n++] = rule_xcto(harness_resp_header(&page, "X-Content-Type-Options"));
    out[n++] = rule_xfo(harness_resp_header(&page, "X-Frame-Options"), csp);
    out[n++] = rule_corp(harness_resp_header(&page, "Cross-Origin-Resource-Policy"));
    for (i = 0; i < n; i++) {
        if (out[i].modifier < 0)
            score += out[i].modifier;
        else
            bonus += out[i].modifier;
        fprintf(stderr, "observatory: %-32s %-62s %+d\n", out[i].test, out[i].result,
                out[i].modifier);
    }
    if (score >= 90)
        score += bonus;
    fprintf(stderr, "observatory: score %d (%s)\n", score, score >= 100 ? "A+" : "below A+");
    *n_out = n;
    harness_resp_free(&http);
    harness_resp_free(&page);
    harness_moat_stop(&m, 5000);
    harness_app_stop(&app);
    return score;
}

/* The expected result of each rule, in grade()'s order, for the standard profile. */
static const char *const standard_results[] = {
    "csp-implemented-with-no-unsafe",
    "cookies-secure-with-httponly-sessions-and-samesite",
    "cross-origin-resource-sharing-not-implemented",
    "redirection-to-https",
    "referrer-policy-private",
    "hsts-implemented-max-age-at-least-six-months",
    "sri-implemented-and-all-scripts-loaded-securely",
    "x-content-type-options-nosniff",
    "x-frame-options-implemented-via-csp",
    "cross-origin-resource-policy-implemented-with-same-origin",
};

START_TEST(test_standard_profile)
{
    struct rule rules[16];
    size_t n = 0, i;
    int score = grade(NULL, rules, &n);

    ck_assert_uint_eq(n, sizeof(standard_results) / sizeof(standard_results[0]));
    for (i = 0; i < n; i++)
        ck_assert_msg(strcmp(rules[i].result, standard_results[i]) == 0, "%s: %s, want %s",
                      rules[i].test, rules[i].result, standard_results[i]);
    ck_assert_int_eq(score, 135);
}
END_TEST

START_TEST(test_strict_profile)
{
    static const char *const env[] = {"MOAT_HEADERS_PROFILE=strict", NULL};
    struct rule rules[16];
    size_t n = 0;
    int score = grade(env, rules, &n);

    ck_assert_str_eq(rules[0].result, "csp-implemented-with-no-unsafe-default-src-none");
    ck_assert_int_eq(score, 140);
}
END_TEST

/* The grading is no rubber stamp: a leaky Referrer-Policy costs 5 and the bonuses stay. */
START_TEST(test_weak_referrer_graded_down)
{
    static const char *const weak[] = {"MOAT_HEADERS_REFERRER_POLICY=unsafe-url",
                                       "MOAT_HEADERS_REFERRER_POLICY_MODE=set", NULL};
    struct rule rules[16];
    size_t n = 0;
    int score = grade(weak, rules, &n);

    ck_assert_str_eq(rules[4].result, "referrer-policy-unsafe");
    ck_assert_int_eq(score, 125);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("observatory");
    TCase *tc = harness_tcase("demo", 120);
    Suite *const suites[] = {s, NULL};

    tcase_add_test(tc, test_standard_profile);
    tcase_add_test(tc, test_strict_profile);
    tcase_add_test(tc, test_weak_referrer_graded_down);
    suite_add_tcase(s, tc);
    return harness_run_suites(suites);
}
