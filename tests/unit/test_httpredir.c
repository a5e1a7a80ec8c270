/* test_httpredir.c - unit tests for the plain-HTTP listener's policy: [http] keys and the
 * certificate's names to a redirect policy (httpredir_policy.c), checked through
 * moat_redirect_decide(). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moat/config.h"
#include "moat/httpredir.h"
#include "test_config_util.h"

/* ---- path lists ---- */

struct pcase {
    const char *list;  /* http.*_paths value */
    int ok;            /* parses */
    size_t n;          /* entries */
    const char *path0; /* first entry's stored path */
    int prefix0;       /* first entry is a prefix */
    const char *path1; /* second entry's stored path, NULL when n < 2 */
};

static const struct pcase pcases[] = {
    {"", 1, 0, NULL, 0, NULL},
    {"none", 1, 0, NULL, 0, NULL},
    {"/healthz", 1, 1, "/healthz", 0, NULL},
    {"/.well-known/acme-challenge/*", 1, 1, "/.well-known/acme-challenge/", 1, NULL},
    {" /a ,/b/*\t", 1, 2, "/a", 0, "/b/"},
    {"/a,,/b", 1, 2, "/a", 0, "/b"},
    {"/*", 0, 0, NULL, 0, NULL},
    {"/a*", 0, 0, NULL, 0, NULL},
    {"/a/*/b", 0, 0, NULL, 0, NULL},
    {"healthz", 0, 0, NULL, 0, NULL},
    {"//evil", 0, 0, NULL, 0, NULL},
    {"/a/../b", 0, 0, NULL, 0, NULL},
    {"/a?x=1", 0, 0, NULL, 0, NULL},
    {"/a\\b", 0, 0, NULL, 0, NULL},
    {"/1,/2,/3,/4,/5,/6,/7,/8,/9,/10,/11,/12,/13,/14,/15,/16", 1, 16, "/1", 0, "/2"},
    {"/1,/2,/3,/4,/5,/6,/7,/8,/9,/10,/11,/12,/13,/14,/15,/16,/17", 0, 0, NULL, 0, NULL},
};

START_TEST(test_paths_parse)
{
    const struct pcase *c = &pcases[_i];
    struct moat_redirect_exemption ex[MOAT_HTTPREDIR_MAX_PATHS];
    char store[1024];
    const char *why = NULL;
    size_t n = 99;
    int rc;

    rc = moat_httpredir_paths_parse(c->list, MOAT_REDIRECT_EXEMPT_HEALTH, ex,
                                    MOAT_HTTPREDIR_MAX_PATHS, &n, store, sizeof store, &why);
    ck_assert_msg((rc == 0) == c->ok, "%s: rc %d (%s)", c->list, rc, why ? why : "");
    if (!c->ok) {
        ck_assert_ptr_nonnull(why);
        return;
    }
    ck_assert_uint_eq(n, c->n);
    if (c->path0 != NULL) {
        ck_assert_str_eq(ex[0].path, c->path0);
        ck_assert_int_eq(ex[0].prefix, c->prefix0);
        ck_assert_int_eq(ex[0].action, MOAT_REDIRECT_EXEMPT_HEALTH);
    }
    if (c->path1 != NULL)
        ck_assert_str_eq(ex[1].path, c->path1);
}
END_TEST

/* ---- policies from configuration ---- */

static struct moat_httpredir_policy pol;

/* Loads --dev with env (after MOAT_CONFIG=/dev/null) and builds the policy with names. */
static int build(const char *const *env_extra, const char *const *names, size_t n_names, char *err,
                 size_t errlen)
{
    static struct moat_config cfg;
    const char *env[12] = {"MOAT_CONFIG=/dev/null", "MOAT_SERVER_LISTEN=0.0.0.0:8443"};
    const char *args[] = {"--dev", NULL};
    struct moat_cli cli;
    size_t i;

    for (i = 0; env_extra[i] != NULL && i < 9; i++)
        env[i + 2] = env_extra[i];
    env[i + 2] = NULL;
    if (load(args, env, &cfg, &cli, err, errlen) != 0)
        return -1;
    return moat_httpredir_policy_build(&cfg, names, n_names, &pol, err, errlen);
}

static const char *const cert_names[] = {"example.com", "*.apps.example.com", "192.0.2.7",
                                         "2001:db8::1"};

struct bcase {
    const char *env[4]; /* extra environment */
    const char *method; /* request */
    const char *target; /* request target */
    const char *host;   /* Host value */
    int status;         /* expected status (0 for PROXY/HEALTH) */
    enum moat_redirect_action action;
    const char *location; /* expected Location (REDIRECT) or path (PROXY/HEALTH), or NULL */
};

static const struct bcase bcases[] = {
    /* defaults: certificate names, the HTTPS listener's port, 308 */
    {{NULL},
     "GET",
     "/a?b=1",
     "example.com",
     308,
     MOAT_REDIRECT_REDIRECT,
     "https://example.com:8443/a?b=1"},
    {{NULL},
     "POST",
     "/a",
     "EXAMPLE.com:8080",
     308,
     MOAT_REDIRECT_REDIRECT,
     "https://example.com:8443/a"},
    {{NULL},
     "GET",
     "/",
     "x.apps.example.com",
     308,
     MOAT_REDIRECT_REDIRECT,
     "https://x.apps.example.com:8443/"},
    {{NULL},
     "GET",
     "/",
     "[2001:db8::1]:80",
     308,
     MOAT_REDIRECT_REDIRECT,
     "https://[2001:db8::1]:8443/"},
    {{NULL}, "GET", "/", "192.0.2.7", 308, MOAT_REDIRECT_REDIRECT, "https://192.0.2.7:8443/"},
    {{NULL}, "GET", "/", "evil.example", 421, MOAT_REDIRECT_REJECT, NULL},
    {{NULL},
     "GET",
     "//evil.example/x",
     "example.com",
     308,
     MOAT_REDIRECT_REDIRECT,
     "https://example.com:8443/evil.example/x"},
    {{NULL}, "GET", "/healthz", "anything.invalid", 0, MOAT_REDIRECT_HEALTH, "/healthz"},
    {{NULL},
     "GET",
     "/.well-known/acme-challenge/tok",
     "example.com",
     0,
     MOAT_REDIRECT_PROXY,
     "/.well-known/acme-challenge/tok"},
    {{NULL},
     "GET",
     "/.well-known/acme-challenge/tok",
     "evil.example",
     421,
     MOAT_REDIRECT_REJECT,
     NULL},
    /* redirect_port: 443 is left out, another port written */
    {{"MOAT_HTTP_REDIRECT_PORT=443"},
     "GET",
     "/",
     "example.com",
     308,
     MOAT_REDIRECT_REDIRECT,
     "https://example.com/"},
    {{"MOAT_HTTP_REDIRECT_PORT=9443"},
     "GET",
     "/",
     "example.com",
     308,
     MOAT_REDIRECT_REDIRECT,
     "https://example.com:9443/"},
    /* codes */
    {{"MOAT_HTTP_REDIRECT_CODE=301"},
     "POST",
     "/",
     "example.com",
     301,
     MOAT_REDIRECT_REDIRECT,
     NULL},
    {{"MOAT_HTTP_REDIRECT_CODE=mixed"},
     "GET",
     "/",
     "example.com",
     301,
     MOAT_REDIRECT_REDIRECT,
     NULL},
    {{"MOAT_HTTP_REDIRECT_CODE=mixed"},
     "HEAD",
     "/",
     "example.com",
     301,
     MOAT_REDIRECT_REDIRECT,
     NULL},
    {{"MOAT_HTTP_REDIRECT_CODE=mixed"},
     "PUT",
     "/",
     "example.com",
     308,
     MOAT_REDIRECT_REDIRECT,
     NULL},
    {{"MOAT_HTTP_WRONG_HOST_STATUS=400"},
     "GET",
     "/",
     "evil.example",
     400,
     MOAT_REDIRECT_REJECT,
     NULL},
    /* canonical host and aliases: the certificate names no longer count */
    {{"MOAT_HTTP_CANONICAL_HOST=www.example.org", "MOAT_HTTP_ALIASES=example.org, old.example"},
     "GET",
     "/p",
     "old.example",
     308,
     MOAT_REDIRECT_REDIRECT,
     "https://www.example.org:8443/p"},
    {{"MOAT_HTTP_CANONICAL_HOST=www.example.org"},
     "GET",
     "/p",
     "example.com",
     421,
     MOAT_REDIRECT_REJECT,
     NULL},
    /* configured exemptions replace the defaults */
    {{"MOAT_HTTP_HEALTH_PATHS=/ping", "MOAT_HTTP_PROXY_PATHS=none"},
     "GET",
     "/healthz",
     "example.com",
     308,
     MOAT_REDIRECT_REDIRECT,
     "https://example.com:8443/healthz"},
    {{"MOAT_HTTP_HEALTH_PATHS=/ping", "MOAT_HTTP_PROXY_PATHS=none"},
     "GET",
     "/ping",
     "x",
     0,
     MOAT_REDIRECT_HEALTH,
     "/ping"},
    {{"MOAT_HTTP_PROXY_PATHS=/.well-known/*"},
     "GET",
     "/.well-known/security.txt",
     "example.com",
     0,
     MOAT_REDIRECT_PROXY,
     "/.well-known/security.txt"},
};

START_TEST(test_policy_build)
{
    const struct bcase *c = &bcases[_i];
    struct moat_redirect_result res;
    char loc[2048];
    char err[1024];

    ck_assert_msg(build(c->env, cert_names, 4, err, sizeof err) == 0, "case %d: %s", _i, err);
    ck_assert_int_eq(moat_redirect_decide(&pol.pol, c->method, c->target, c->host, strlen(c->host),
                                          &res, loc, sizeof loc),
                     0);
    ck_assert_msg(res.action == c->action && res.status == c->status,
                  "case %d: action %d status %d (%s)", _i, res.action, res.status, res.reason);
    if (c->location != NULL && c->action == MOAT_REDIRECT_REDIRECT)
        ck_assert_str_eq(res.location, c->location);
    else if (c->location != NULL)
        ck_assert_str_eq(res.path, c->location);
}
END_TEST

struct ecase {
    const char *env[3]; /* extra environment */
    size_t n_names;     /* certificate names passed (from cert_names / bad_names) */
    int bad;            /* pass bad_names instead */
    const char *err;    /* expected message prefix */
};

static const char *const bad_names[] = {"bad name", "*", "*.com"};

static const struct ecase ecases[] = {
    {{NULL}, 0, 0, "http.canonical_host is empty and the served certificate has no usable"},
    {{NULL}, 3, 1, "http.canonical_host is empty and the served certificate has no usable"},
    {{"MOAT_HTTP_ALIASES=a.example"}, 4, 0, "http.aliases: set without a canonical_host"},
    {{"MOAT_HTTP_CANONICAL_HOST=a b"}, 4, 0, "http.canonical_host = \"a b\" (env"},
    {{"MOAT_HTTP_CANONICAL_HOST=example.com:443"}, 4, 0, "http.canonical_host = "},
    {{"MOAT_HTTP_CANONICAL_HOST=exämple.com"}, 4, 0, "http.canonical_host = "},
    {{"MOAT_HTTP_ALIASES=ok.example, x/y"}, 4, 0, "http.aliases = "},
    {{"MOAT_HTTP_REDIRECT_CODE=302"}, 4, 0, "http.redirect_code = \"302\" (env "},
    {{"MOAT_HTTP_WRONG_HOST_STATUS=404"}, 4, 0, "http.wrong_host_status = \"404\" (env "},
    {{"MOAT_HTTP_REDIRECT_PORT=70000"}, 4, 0, "http.redirect_port = \"70000\" (env "},
    {{"MOAT_HTTP_PROXY_PATHS=/*"}, 4, 0, "http.proxy_paths = \"/*\" (env "},
    {{"MOAT_HTTP_HEALTH_PATHS=//x"}, 4, 0, "http.health_paths = \"//x\" (env "},
    {{"MOAT_HTTP_LISTEN=unix:/tmp/x.sock"}, 4, 0, "http.listen = \"unix:/tmp/x.sock\" (env "},
};

START_TEST(test_policy_errors)
{
    const struct ecase *c = &ecases[_i];
    char err[1024] = "";

    ck_assert_int_eq(build(c->env, c->bad ? bad_names : cert_names, c->n_names, err, sizeof err),
                     -1);
    ck_assert_msg(strncmp(err, c->err, strlen(c->err)) == 0, "case %d got: %s\nwant: %s", _i, err,
                  c->err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("httpredir");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_paths_parse, 0, sizeof pcases / sizeof pcases[0]);
    tcase_add_loop_test(tc, test_policy_build, 0, sizeof bcases / sizeof bcases[0]);
    tcase_add_loop_test(tc, test_policy_errors, 0, sizeof ecases / sizeof ecases[0]);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
