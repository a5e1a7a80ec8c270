/* test_config_headers.c - unit tests for [headers] and [cookies]: keys to header and cookie
 * policies. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* ---- custom headers, per-path overrides, report URI ---- */

struct xcase {
    const char *env[3];       /* extra environment */
    const char *path;         /* request path whose effective policy is checked */
    const char *header;       /* header name (managed key or custom name) */
    enum moat_sech_mode mode; /* expected effective mode for path */
    const char *value;        /* expected value (NULL: OFF) */
};

static const struct xcase xcases[] = {
    /* custom headers: SET unless a mode word comes first */
    {{"MOAT_HEADERS_CUSTOM=X-Robots-Tag: noindex, nofollow"},
     "/",
     "X-Robots-Tag",
     MOAT_SECH_SET,
     "noindex, nofollow"},
    {{"MOAT_HEADERS_CUSTOM= default  Cache-Control :  no-store  | X-A: 1"},
     "/x",
     "Cache-Control",
     MOAT_SECH_DEFAULT,
     "no-store"},
    {{"MOAT_HEADERS_CUSTOM=X-A: 1|X-B: two words"}, "/", "X-B", MOAT_SECH_SET, "two words"},
    /* overrides: longest prefix wins, whole segments, the base elsewhere */
    {{"MOAT_HEADERS_OVERRIDES=/docs csp: default-src 'self' 'unsafe-inline' | "
      "/docs/api csp: default-src 'none'"},
     "/docs/intro",
     "csp",
     MOAT_SECH_DEFAULT,
     "default-src 'self' 'unsafe-inline'"},
    {{"MOAT_HEADERS_OVERRIDES=/docs csp: default-src 'self' 'unsafe-inline' | "
      "/docs/api csp: default-src 'none'"},
     "/docs/api/v1?q=1",
     "csp",
     MOAT_SECH_DEFAULT,
     "default-src 'none'"},
    {{"MOAT_HEADERS_OVERRIDES=/docs csp: default-src 'self' 'unsafe-inline'"},
     "/docsx",
     "csp",
     MOAT_SECH_DEFAULT,
     MOAT_SECH_CSP_STANDARD},
    {{"MOAT_HEADERS_OVERRIDES=/docs csp: default-src 'self' 'unsafe-inline'"},
     "/%64ocs/a",
     "csp",
     MOAT_SECH_DEFAULT,
     "default-src 'self' 'unsafe-inline'"},
    {{"MOAT_HEADERS_OVERRIDES=/api off csp"}, "/api/x", "csp", MOAT_SECH_OFF, NULL},
    {{"MOAT_HEADERS_OVERRIDES=/embed set frame_options: SAMEORIGIN"},
     "/embed",
     "X-Frame-Options",
     MOAT_SECH_SET,
     "SAMEORIGIN"},
    /* the same prefix twice adds to one override */
    {{"MOAT_HEADERS_OVERRIDES=/a csp: default-src 'none' | /a/ X-Extra: yes"},
     "/a/b",
     "csp",
     MOAT_SECH_DEFAULT,
     "default-src 'none'"},
    {{"MOAT_HEADERS_OVERRIDES=/a csp: default-src 'none' | /a/ X-Extra: yes"},
     "/a/b",
     "X-Extra",
     MOAT_SECH_SET,
     "yes"},
    /* a custom header switched off under a prefix */
    {{"MOAT_HEADERS_CUSTOM=X-Robots-Tag: noindex",
      "MOAT_HEADERS_OVERRIDES=/public off X-Robots-Tag"},
     "/public/page",
     "X-Robots-Tag",
     MOAT_SECH_OFF,
     NULL},
    {{"MOAT_HEADERS_CUSTOM=X-Robots-Tag: noindex",
      "MOAT_HEADERS_OVERRIDES=/public off X-Robots-Tag"},
     "/private",
     "X-Robots-Tag",
     MOAT_SECH_SET,
     "noindex"},
};

/* The effective mode/value of header (managed or custom) for path, through apply(). */
static enum moat_sech_mode effective_for(const char *path, const char *header, const char **value)
{
    static struct moat_sech_op ops[MOAT_SECH_MAX_ADDS];
    static char buf[MOAT_SECH_APPLY_BUF];
    size_t scope = moat_secheaders_scope_for(&pol, path, strlen(path));
    int id = moat_secheaders_lookup(header, strlen(header));
    size_t n_ops = 0, i;
    struct moat_hdr app = {"X-Probe", 7, "1", 1};

    if (id >= 0)
        return moat_secheaders_effective(&pol, scope, (enum moat_sech_id)id, value);
    /* custom: DEFAULT adds only when the app sent none, SET also replaces */
    *value = NULL;
    ck_assert_int_eq(moat_secheaders_apply(&pol, path, strlen(path), 1, NULL, &app, 1, ops,
                                           sizeof ops / sizeof ops[0], &n_ops, buf, sizeof buf),
                     0);
    for (i = 0; i < n_ops; i++) {
        if (ops[i].kind == MOAT_SECH_OP_ADD && strcasecmp(ops[i].name, header) == 0) {
            const struct moat_sech_scope *sc = &pol.scope[scope];
            size_t k;

            *value = ops[i].value;
            for (k = 0; k < sc->n_custom; k++)
                if (strcasecmp(pol.pool + sc->custom[k].name.off, header) == 0)
                    return (enum moat_sech_mode)sc->custom[k].set.mode;
            for (k = 0; k < pol.scope[0].n_custom; k++)
                if (strcasecmp(pol.pool + pol.scope[0].custom[k].name.off, header) == 0)
                    return (enum moat_sech_mode)pol.scope[0].custom[k].set.mode;
            return MOAT_SECH_SET;
        }
    }
    return MOAT_SECH_OFF;
}

START_TEST(test_custom_and_overrides)
{
    const struct xcase *c = &xcases[_i];
    struct moat_config cfg;
    struct moat_cookie_policy cp;
    char err[1024];
    const char *value = NULL;

    ck_assert_msg(build(c->env, &cfg, &cp, err, sizeof err) == 0, "case %d err: %s", _i, err);
    ck_assert_int_eq(effective_for(c->path, c->header, &value), c->mode);
    if (c->value == NULL)
        ck_assert_ptr_null(value);
    else
        ck_assert_msg(value != NULL && strcmp(value, c->value) == 0, "case %d: got %s", _i,
                      value != NULL ? value : "(null)");
}
END_TEST

static const struct ecase xerr[] = {
    {{"MOAT_HEADERS_CUSTOM=X-A"},
     "headers.custom = \"X-A\" (env MOAT_HEADERS_CUSTOM): a header needs \": value\""},
    {{"MOAT_HEADERS_CUSTOM=always X-A: 1"},
     "headers.custom = \"always X-A: 1\" (env MOAT_HEADERS_CUSTOM): expected [set|default|off]"},
    {{"MOAT_HEADERS_CUSTOM=Content-Length: 5"},
     "headers.custom = \"Content-Length: 5\" (env MOAT_HEADERS_CUSTOM): "},
    {{"MOAT_HEADERS_CUSTOM=X-A:"},
     "headers.custom = \"X-A:\" (env MOAT_HEADERS_CUSTOM): empty value"},
    {{"MOAT_HEADERS_OVERRIDES=/docs"},
     "headers.overrides = \"/docs\" (env MOAT_HEADERS_OVERRIDES): expected /PREFIX"},
    {{"MOAT_HEADERS_OVERRIDES=docs csp: default-src 'none'"},
     "headers.overrides = \"docs csp: default-src 'none'\" (env MOAT_HEADERS_OVERRIDES): "
     "override \"docs\": prefix must start with '/'"},
    {{"MOAT_HEADERS_OVERRIDES=/a/../b csp: default-src 'none'"},
     "headers.overrides = \"/a/../b csp: default-src 'none'\" (env MOAT_HEADERS_OVERRIDES): "},
    {{"MOAT_HEADERS_OVERRIDES=/a csp: script-src {nonce}"},
     "headers.overrides = \"/a csp: script-src {nonce}\" (env MOAT_HEADERS_OVERRIDES): "},
    {{"MOAT_HEADERS_REPORT_URI=https://r.example/a b"},
     "headers.report_uri = \"https://r.example/a b\" (env MOAT_HEADERS_REPORT_URI): "},
};

START_TEST(test_custom_errors)
{
    const struct ecase *c = &xerr[_i];
    struct moat_config cfg;
    struct moat_cookie_policy cp;
    char err[1024] = "";

    ck_assert_int_eq(build(c->env, &cfg, &cp, err, sizeof err), -1);
    ck_assert_msg(strncmp(err, c->err, strlen(c->err)) == 0, "got: %s\nwant: %s", err, c->err);
}
END_TEST

START_TEST(test_report_uri)
{
    const char *env[] = {"MOAT_HEADERS_REPORT_URI=https://reports.example/csp", NULL};
    struct moat_config cfg;
    struct moat_cookie_policy cp;
    struct moat_sech_op ops[MOAT_SECH_MAX_ADDS];
    char buf[MOAT_SECH_APPLY_BUF];
    char err[1024];
    size_t n_ops = 0, i;
    int csp = 0, rep = 0;

    ck_assert_msg(build(env, &cfg, &cp, err, sizeof err) == 0, "err: %s", err);
    ck_assert_int_eq(moat_secheaders_apply(&pol, "/", 1, 1, "AAAAAAAAAAAAAAAAAAAAAA==", NULL, 0,
                                           ops, MOAT_SECH_MAX_ADDS, &n_ops, buf, sizeof buf),
                     0);
    for (i = 0; i < n_ops; i++) {
        if (strcmp(ops[i].name, "Content-Security-Policy") == 0) {
            csp = 1;
            ck_assert_ptr_nonnull(strstr(ops[i].value, "report-uri https://reports.example/csp"));
            ck_assert_ptr_nonnull(strstr(ops[i].value, "report-to moat-csp"));
        }
        if (strcmp(ops[i].name, "Reporting-Endpoints") == 0) {
            rep = 1;
            ck_assert_str_eq(ops[i].value, "moat-csp=\"https://reports.example/csp\"");
        }
    }
    ck_assert(csp && rep);
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
    tcase_add_loop_test(tc, test_custom_and_overrides, 0, sizeof xcases / sizeof xcases[0]);
    tcase_add_loop_test(tc, test_custom_errors, 0, sizeof xerr / sizeof xerr[0]);
    tcase_add_test(tc, test_report_uri);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
