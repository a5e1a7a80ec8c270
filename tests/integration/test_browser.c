/* test_browser.c - a real browser (Debian's headless chromium) loads the demo app
 * (docker/demo/app.py under gunicorn) through moat and the test reads the DOM it ends up with:
 * the inline script carrying moat's per-request nonce ran, the inline script without it was
 * blocked by the Content-Security-Policy, the same-origin script with Subresource Integrity
 * ran; the page was reached through moat's plain-HTTP redirect. Controls: with moat's CSP off
 * the nonce-less script runs (so "blocked" really is the CSP's doing), and the strict profile
 * (Trusted Types, default-src 'none') still runs the page's own scripts.
 * Skips (passes with a message) only when chromium is not installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define CHROMIUM "/usr/bin/chromium"

/* The page's status cells as the browser left them. */
#define NONCE_RAN "<output id=\"csp-nonce\" class=\"ok\">ran</output>"
#define PLAIN_BLOCKED "<output id=\"csp-plain\" class=\"ok\">blocked</output>"
#define PLAIN_RAN "<output id=\"csp-plain\" class=\"bad\">ran (no Content-Security-Policy in force)"
#define SRI_RAN "<output id=\"sri\" class=\"ok\">ran</output>"

static int have_chromium(void)
{
    if (access(CHROMIUM, X_OK) == 0)
        return 1;
    fprintf(stderr, "test_browser: SKIPPED: %s is not installed (apt-get install chromium)\n",
            CHROMIUM);
    return 0;
}

/* Loads url in headless chromium (certificate errors ignored: the test's own CA) and returns
 * the serialised DOM after the page ran its scripts (caller frees). */
static char *dump_dom(const char *url, const char *tag)
{
    char profile[H_PATH];
    char home[H_PATH];
    char user_dir[H_PATH + 32];
    char env_home[H_PATH + 8];
    const char *argv[] = {CHROMIUM,
                          "--headless",
                          "--no-sandbox",
                          "--disable-gpu",
                          "--disable-background-networking",
                          "--disable-component-update",
                          "--disable-default-apps",
                          "--disable-sync",
                          "--no-first-run",
                          "--ignore-certificate-errors",
                          user_dir,
                          "--virtual-time-budget=5000",
                          "--dump-dom",
                          url,
                          NULL};
    const char *env[] = {env_home, NULL};
    char *out = NULL;
    char *err = NULL;
    int code;

    harness_path(profile, sizeof(profile), tag);
    harness_path(home, sizeof(home), "home");
    ck_assert_int_eq(mkdir(home, 0700) == 0 || access(home, W_OK) == 0, 1);
    snprintf(user_dir, sizeof(user_dir), "--user-data-dir=%s", profile);
    snprintf(env_home, sizeof(env_home), "HOME=%s", home);
    code = harness_run(argv, env, 90000, &out, &err);
    ck_assert_msg(code == 0 && out != NULL && strstr(out, "<html") != NULL,
                  "chromium exit %d loading %s\nstdout: %.2000s\nstderr: %.3000s", code, url,
                  out != NULL ? out : "", err != NULL ? err : "");
    free(err);
    return out;
}

static void start_demo(struct h_app *app, struct h_moat *m, const char *const *env)
{
    ck_assert_msg(harness_demo_app_start(app, harness_dir()) == 0, "the demo app did not start");
    h_start_moat(m, app->url, env);
}

/* Starts the demo app and moat (env), then loads the page in chromium with the profile
 * directory tag: over the plain-HTTP listener (redirected to HTTPS) when via_http, else over
 * HTTPS directly. Returns the DOM (caller frees). */
static char *load_demo(struct h_app *app, struct h_moat *m, const char *const *env, int via_http,
                       const char *tag)
{
    char url[128];

    start_demo(app, m, env);
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d/", via_http ? "http" : "https",
             via_http ? m->http_port : m->port);
    return dump_dom(url, tag);
}

START_TEST(test_csp_enforced)
{
    struct h_app app;
    struct h_moat m;
    char *dom;

    if (!have_chromium())
        return;
    /* Through the plain-HTTP listener: a 308 to https://127.0.0.1:PORT/ first. */
    dom = load_demo(&app, &m, NULL, 1, "profile-standard");
    ck_assert_msg(strstr(dom, "Hello from behind the") != NULL, "not the demo page:\n%s", dom);
    ck_assert_msg(strstr(dom, "served through <strong>moat</strong> over HTTPS") != NULL,
                  "not served over HTTPS through moat:\n%s", dom);
    ck_assert_msg(strstr(dom, NONCE_RAN) != NULL, "the nonce-carrying script did not run:\n%s",
                  dom);
    ck_assert_msg(strstr(dom, PLAIN_BLOCKED) != NULL,
                  "the script without nonce was not blocked:\n%s", dom);
    ck_assert_msg(strstr(dom, SRI_RAN) != NULL, "the SRI script did not run:\n%s", dom);
    free(dom);
    ck_assert(harness_file_wait(m.log, "\"listener\":\"http\",\"client\":\"127.0.0.1\"", 1, 5000));
    harness_app_stop(&app);
}
END_TEST

/* Control: with moat's CSP off, the very same page runs the nonce-less script. */
START_TEST(test_csp_off_control)
{
    static const char *const env[] = {"MOAT_HEADERS_CSP_MODE=off", NULL};
    struct h_app app;
    struct h_moat m;
    char *dom;

    if (!have_chromium())
        return;
    dom = load_demo(&app, &m, env, 0, "profile-off");
    ck_assert_msg(strstr(dom, NONCE_RAN) != NULL, "nonce script:\n%s", dom);
    ck_assert_msg(strstr(dom, PLAIN_RAN) != NULL, "without a CSP the plain script must run:\n%s",
                  dom);
    free(dom);
    harness_app_stop(&app);
}
END_TEST

/* The strict profile (default-src 'none', Trusted Types, COEP) still runs the page's own
 * scripts and still blocks the nonce-less one. */
START_TEST(test_strict_profile)
{
    static const char *const env[] = {"MOAT_HEADERS_PROFILE=strict", NULL};
    struct h_app app;
    struct h_moat m;
    char *dom;

    if (!have_chromium())
        return;
    dom = load_demo(&app, &m, env, 0, "profile-strict");
    ck_assert_msg(strstr(dom, NONCE_RAN) != NULL, "nonce script:\n%s", dom);
    ck_assert_msg(strstr(dom, PLAIN_BLOCKED) != NULL, "plain script:\n%s", dom);
    ck_assert_msg(strstr(dom, SRI_RAN) != NULL, "SRI script:\n%s", dom);
    free(dom);
    harness_app_stop(&app);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("browser");
    TCase *tc = harness_tcase("chromium", 180);
    Suite *const suites[] = {s, NULL};

    tcase_add_test(tc, test_csp_enforced);
    tcase_add_test(tc, test_csp_off_control);
    tcase_add_test(tc, test_strict_profile);
    suite_add_tcase(s, tc);
    return harness_run_suites(suites);
}
