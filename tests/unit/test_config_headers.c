/* test_config_headers.c - unit tests for [headers] and [cookies]: keys to header and cookie
 * policies. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moat/config.h"
#include "moat/cookie.h"
#include "moat/secheaders.h"
#include "test_config_util.h"

static struct moat_secheaders pol;

/* Loads with env (after MOAT_CONFIG=/dev/null) and --dev, then builds the policies. */
static int build(const char *const *env_extra, struct moat_config *cfg,
                 struct moat_cookie_policy *cp, char *err, size_t errlen)
{
    const char *env[16] = {"MOAT_CONFIG=/dev/null"};
    const char *args[] = {"--dev", NULL};
    struct moat_cli cli;
    size_t i;

    for (i = 0; env_extra[i] != NULL && i < 14; i++)
        env[i + 1] = env_extra[i];
    env[i + 1] = NULL;
    if (load(args, env, cfg, &cli, err, errlen) != 0)
        return -1;
    return moat_config_headers_build(cfg, &pol, cp, err, errlen);
}

struct hcase {
    const char *env[4];       /* extra environment */
    enum moat_sech_id id;     /* header checked */
    enum moat_sech_mode mode; /* its expected mode */
    const char *value;        /* its expected value, NULL when OFF */
};

static const struct hcase hcases[] = {
    {{NULL}, MOAT_SECH_HSTS, MOAT_SECH_SET, "max-age=63072000; includeSubDomains"},
    {{NULL}, MOAT_SECH_CSP, MOAT_SECH_DEFAULT, MOAT_SECH_CSP_STANDARD},
    {{NULL}, MOAT_SECH_COEP, MOAT_SECH_OFF, NULL},
    {{NULL}, MOAT_SECH_XFO, MOAT_SECH_DEFAULT, "DENY"},
    {{"MOAT_HEADERS_PROFILE=strict"}, MOAT_SECH_CSP, MOAT_SECH_SET, MOAT_SECH_CSP_STRICT},
    {{"MOAT_HEADERS_PROFILE=strict"}, MOAT_SECH_COEP, MOAT_SECH_SET, "require-corp"},
    {{"MOAT_HEADERS_HSTS_MAX_AGE=300", "MOAT_HEADERS_HSTS_PRELOAD=true"},
     MOAT_SECH_HSTS,
     MOAT_SECH_SET,
     "max-age=300; includeSubDomains; preload"},
    {{"MOAT_HEADERS_HSTS_INCLUDE_SUBDOMAINS=false"},
     MOAT_SECH_HSTS,
     MOAT_SECH_SET,
     "max-age=63072000"},
    {{"MOAT_HEADERS_HSTS_MODE=off"}, MOAT_SECH_HSTS, MOAT_SECH_OFF, NULL},
    {{"MOAT_HEADERS_CSP=default-src 'none'"},
     MOAT_SECH_CSP,
     MOAT_SECH_DEFAULT,
     "default-src 'none'"},
    {{"MOAT_HEADERS_CSP=default-src 'none'", "MOAT_HEADERS_CSP_MODE=set"},
     MOAT_SECH_CSP,
     MOAT_SECH_SET,
     "default-src 'none'"},
    {{"MOAT_HEADERS_CSP_MODE=set"}, MOAT_SECH_CSP, MOAT_SECH_SET, MOAT_SECH_CSP_STANDARD},
    {{"MOAT_HEADERS_CSP_MODE=off"}, MOAT_SECH_CSP, MOAT_SECH_OFF, NULL},
    {{"MOAT_HEADERS_CSP_REPORT_ONLY=default-src 'self'"},
     MOAT_SECH_CSP_RO,
     MOAT_SECH_DEFAULT,
     "default-src 'self'"},
    {{"MOAT_HEADERS_PROFILE=strict", "MOAT_HEADERS_CSP_REPORT_ONLY=default-src 'self'"},
     MOAT_SECH_CSP_RO,
     MOAT_SECH_SET,
     "default-src 'self'"},
    {{"MOAT_HEADERS_FRAME_OPTIONS=SAMEORIGIN", "MOAT_HEADERS_FRAME_OPTIONS_MODE=set"},
     MOAT_SECH_XFO,
     MOAT_SECH_SET,
     "SAMEORIGIN"},
    {{"MOAT_HEADERS_REFERRER_POLICY=no-referrer"},
     MOAT_SECH_REFERRER,
     MOAT_SECH_DEFAULT,
     "no-referrer"},
    {{"MOAT_HEADERS_PERMISSIONS_POLICY=camera=()"},
     MOAT_SECH_PERMS,
     MOAT_SECH_DEFAULT,
     "camera=()"},
    {{"MOAT_HEADERS_COOP=same-origin-allow-popups"},
     MOAT_SECH_COOP,
     MOAT_SECH_DEFAULT,
     "same-origin-allow-popups"},
    {{"MOAT_HEADERS_CORP=cross-origin", "MOAT_HEADERS_CORP_MODE=set"},
     MOAT_SECH_CORP,
     MOAT_SECH_SET,
     "cross-origin"},
    {{"MOAT_HEADERS_COEP=credentialless"}, MOAT_SECH_COEP, MOAT_SECH_DEFAULT, "credentialless"},
};

START_TEST(test_header_keys)
{
    const struct hcase *c = &hcases[_i];
    struct moat_config cfg;
    struct moat_cookie_policy cp;
    char err[1024];
    const char *value = NULL;

    ck_assert_msg(build(c->env, &cfg, &cp, err, sizeof err) == 0, "err: %s", err);
    ck_assert_int_eq(moat_secheaders_effective(&pol, 0, c->id, &value), c->mode);
    if (c->value == NULL)
        ck_assert_ptr_null(value);
    else
        ck_assert_str_eq(value, c->value);
}
END_TEST

struct ecase {
    const char *env[3]; /* extra environment */
    const char *err;    /* expected message */
};

static const struct ecase ecases[] = {
    {{"MOAT_HEADERS_PROFILE=lax"},
     "headers.profile = \"lax\" (env MOAT_HEADERS_PROFILE): must be standard or strict"},
    {{"MOAT_HEADERS_CSP_MODE=always"},
     "headers.csp_mode = \"always\" (env MOAT_HEADERS_CSP_MODE): must be set, default or off"},
    {{"MOAT_HEADERS_COEP_MODE=set"},
     "headers.coep_mode = \"set\" (env MOAT_HEADERS_COEP_MODE): needs a value in headers.coep"},
    {{"MOAT_HEADERS_CSP=script-src {nonce}"},
     "headers.csp = \"script-src {nonce}\" (env "
     "MOAT_HEADERS_CSP): "},
    {{"MOAT_HEADERS_REMOVE=Server, Content-Length"},
     "headers.remove = \"Server, "
     "Content-Length\" (env MOAT_HEADERS_REMOVE): "},
    {{"MOAT_HEADERS_REMOVE=Server, X(1)"},
     "headers.remove = \"Server, X(1)\" (env "
     "MOAT_HEADERS_REMOVE): must be names"},
    {{"MOAT_COOKIES_SAMESITE=none"},
     "cookies.samesite = \"none\" (env MOAT_COOKIES_SAMESITE): must be Lax, Strict or off"},
    {{"MOAT_COOKIES_SCRIPT_READABLE=a;b"},
     "cookies.script_readable = \"a;b\" (env "
     "MOAT_COOKIES_SCRIPT_READABLE): must be names"},
    {{"MOAT_HEADERS_NONCE_HEADER=X Nonce"},
     "headers.nonce_header = \"X Nonce\" (env "
     "MOAT_HEADERS_NONCE_HEADER): must be an HTTP header"},
};

START_TEST(test_header_errors)
{
    const struct ecase *c = &ecases[_i];
    struct moat_config cfg;
    struct moat_cookie_policy cp;
    char err[1024] = "";

    ck_assert_int_eq(build(c->env, &cfg, &cp, err, sizeof err), -1);
    ck_assert_msg(strncmp(err, c->err, strlen(c->err)) == 0, "got: %s\nwant: %s", err, c->err);
}
END_TEST

START_TEST(test_remove_and_cookies)
{
    const char *def[] = {NULL};
    const char *custom[] = {"MOAT_HEADERS_REMOVE=Via, X-Runtime", "MOAT_COOKIES_SAMESITE=strict",
                            "MOAT_COOKIES_SCRIPT_READABLE=csrftoken, theme",
                            "MOAT_HEADERS_CSP_NONCE=false", NULL};
    const char *none[] = {"MOAT_HEADERS_REMOVE=none", "MOAT_COOKIES_HARDEN=false", NULL};
    struct moat_config cfg;
    struct moat_cookie_policy cp;
    char err[1024];

    ck_assert_msg(build(def, &cfg, &cp, err, sizeof err) == 0, "err: %s", err);
    ck_assert_uint_eq(pol.n_remove, 4);
    ck_assert_str_eq(pol.pool + pol.remove[0].off, "Server");
    ck_assert_int_eq(pol.nonce, 1);
    ck_assert_int_eq(cp.samesite, MOAT_COOKIE_SAMESITE_LAX);
    ck_assert_int_eq(cp.secure, 1);
    ck_assert_int_eq(cp.httponly, 1);
    ck_assert_str_eq(cp.script_readable, "");
    ck_assert_int_eq(cfg.cookies.harden, 1);
    ck_assert_str_eq(cfg.headers.nonce_header, "X-CSP-Nonce");

    ck_assert_msg(build(custom, &cfg, &cp, err, sizeof err) == 0, "err: %s", err);
    ck_assert_uint_eq(pol.n_remove, 2);
    ck_assert_str_eq(pol.pool + pol.remove[1].off, "X-Runtime");
    ck_assert_int_eq(pol.nonce, 0);
    ck_assert_int_eq(cp.samesite, MOAT_COOKIE_SAMESITE_STRICT);
    ck_assert_str_eq(cp.script_readable, "csrftoken, theme");

    ck_assert_msg(build(none, &cfg, &cp, err, sizeof err) == 0, "err: %s", err);
    ck_assert_uint_eq(pol.n_remove, 0);
    ck_assert_int_eq(cfg.cookies.harden, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_headers");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_header_keys, 0, sizeof hcases / sizeof hcases[0]);
    tcase_add_loop_test(tc, test_header_errors, 0, sizeof ecases / sizeof ecases[0]);
    tcase_add_test(tc, test_remove_and_cookies);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
