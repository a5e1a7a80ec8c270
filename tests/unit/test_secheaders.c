/* test_secheaders.c - unit tests for header policy at run time: modes, overrides, nonces, HSTS. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "moat/secheaders.h"

#define MAX_APP 8
#define OPS_CAP (MAX_APP + MOAT_SECH_MAX_ADDS)
#define RENDER_CAP 8192

static void ok(int rc, const char *err)
{
    ck_assert_msg(rc == 0, "policy setup failed: %s", err);
}

/* Renders ops as "-INDEX\n" and "+Name: value\n" lines. */
static void render(const struct moat_sech_op *ops, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    size_t i;

    out[0] = '\0';
    for (i = 0; i < n && len < cap; i++) {
        int w;

        if (ops[i].kind == MOAT_SECH_OP_REMOVE)
            w = snprintf(out + len, cap - len, "-%zu\n", ops[i].index);
        else
            w = snprintf(out + len, cap - len, "+%.*s: %.*s\n", (int)ops[i].name_len, ops[i].name,
                         (int)ops[i].value_len, ops[i].value);
        ck_assert_int_ge(w, 0);
        len += (size_t)w;
        if (ops[i].kind == MOAT_SECH_OP_ADD) {
            ck_assert_int_eq(strlen(ops[i].name), ops[i].name_len);
            ck_assert_int_eq(strlen(ops[i].value), ops[i].value_len);
        }
    }
    ck_assert_uint_lt(len, cap);
}

/* Builds header views from name, value pairs (NULL ends). */
static size_t build_hdrs(const char *const *f, struct moat_hdr *h)
{
    size_t n = 0;

    while (n < MAX_APP && f[2 * n] != NULL) {
        h[n].name = f[2 * n];
        h[n].name_len = strlen(f[2 * n]);
        h[n].value = f[2 * n + 1];
        h[n].value_len = strlen(f[2 * n + 1]);
        n++;
    }
    return n;
}

/* Runs apply and renders the result; returns apply's rc. */
static int run(const struct moat_secheaders *pol, const char *path, int https, const char *nonce,
               const char *const *f, char *out)
{
    struct moat_hdr h[MAX_APP];
    struct moat_sech_op ops[OPS_CAP];
    char buf[MOAT_SECH_APPLY_BUF];
    size_t n = build_hdrs(f, h);
    size_t n_ops = 99;
    int rc;

    rc = moat_secheaders_apply(pol, path, path != NULL ? strlen(path) : 0, https, nonce, h, n, ops,
                               OPS_CAP, &n_ops, buf, sizeof(buf));
    if (rc < 0)
        ck_assert_uint_eq(n_ops, 0);
    render(ops, rc < 0 ? 0 : n_ops, out, RENDER_CAP);
    return rc;
}

/* --- every managed header x mode x app copies x scheme ------------------------------------- */

static const enum moat_sech_mode matrix_modes[] = {MOAT_SECH_OFF, MOAT_SECH_DEFAULT, MOAT_SECH_SET};
#define MATRIX_N (MOAT_SECH_COUNT * 3 * 3 * 2)

START_TEST(test_mode_matrix)
{
    int https = _i % 2;
    int copies = (_i / 2) % 3;
    enum moat_sech_mode mode = matrix_modes[(_i / 6) % 3];
    enum moat_sech_id id = (enum moat_sech_id)(_i / 18);
    const char *name = moat_secheaders_name(id);
    char lower[64];
    const char *f[2 * MAX_APP + 1] = {"Content-Type", "text/html", NULL};
    struct moat_secheaders pol;
    char want[RENDER_CAP] = "";
    char got[RENDER_CAP];
    char err[256] = "";
    size_t nf = 2;
    size_t i;
    int removed =
        mode == MOAT_SECH_SET || (id == MOAT_SECH_HSTS && !https && mode != MOAT_SECH_OFF);
    int add;

    for (i = 0; name[i] != '\0'; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    lower[i] = '\0';
    for (i = 0; i < (size_t)copies; i++) {
        f[nf++] = i == 0 ? name : lower;
        f[nf++] = "app-value";
    }
    f[nf++] = "X-Other";
    f[nf++] = "o";
    f[nf] = NULL;
    moat_secheaders_init(&pol);
    ok(moat_secheaders_set(&pol, 0, id, mode, "moat-value", err, sizeof(err)), err);
    for (i = 0; removed && i < (size_t)copies; i++)
        (void)snprintf(want + strlen(want), sizeof(want) - strlen(want), "-%zu\n", i + 1);
    add = mode != MOAT_SECH_OFF && !(id == MOAT_SECH_HSTS && !https) &&
          !(mode == MOAT_SECH_DEFAULT && copies > 0 && !removed);
    if (add)
        (void)snprintf(want + strlen(want), sizeof(want) - strlen(want), "+%s: moat-value\n", name);
    ck_assert_int_eq(run(&pol, "/", https, NULL, f, got), 0);
    ck_assert_msg(strcmp(got, want) == 0, "%s mode %s copies %d https %d:\n got:\n%s want:\n%s",
                  name, moat_secheaders_mode_name(mode), copies, https, got, want);
}
END_TEST

/* --- table of whole-policy cases ------------------------------------------------------------ */

enum polid {
    POL_STANDARD = 0, /* moat_secheaders_defaults(standard) */
    POL_STRICT,       /* moat_secheaders_defaults(strict) */
    POL_OVR,          /* CSP per prefix: base, /docs, /docs/api, /admin (XFO only) */
    POL_ROOT,         /* an override for "/" */
    POL_CUSTOM,       /* custom headers, replaced and suppressed under /o */
    POL_NONCE,        /* CSP and CSP-RO with nonces */
    POL_NONCE_OFF,    /* POL_NONCE with nonces turned off */
    POL_REPORT,       /* report URI */
    POL_REMOVE,       /* removal list only */
};

static void build(struct moat_secheaders *pol, enum polid which)
{
    char err[256] = "";
    size_t sc;

    moat_secheaders_init(pol);
    switch (which) {
    case POL_STANDARD:
    case POL_STRICT:
        ok(moat_secheaders_defaults(pol,
                                    which == POL_STRICT ? MOAT_SECH_STRICT : MOAT_SECH_STANDARD),
           "defaults");
        break;
    case POL_OVR:
        ok(moat_secheaders_set(pol, 0, MOAT_SECH_CSP, MOAT_SECH_SET, "base", err, sizeof(err)),
           err);
        ok(moat_secheaders_set(pol, 0, MOAT_SECH_XCTO, MOAT_SECH_SET, "nosniff", err, sizeof(err)),
           err);
        ok(moat_secheaders_add_override(pol, "/docs/api/", &sc, err, sizeof(err)), err);
        ok(moat_secheaders_set(pol, sc, MOAT_SECH_CSP, MOAT_SECH_SET, "api", err, sizeof(err)),
           err);
        ok(moat_secheaders_add_override(pol, "/docs", &sc, err, sizeof(err)), err);
        ok(moat_secheaders_set(pol, sc, MOAT_SECH_CSP, MOAT_SECH_DEFAULT, "docs", err, sizeof(err)),
           err);
        ok(moat_secheaders_set(pol, sc, MOAT_SECH_XCTO, MOAT_SECH_OFF, NULL, err, sizeof(err)),
           err);
        ok(moat_secheaders_add_override(pol, "//admin//", &sc, err, sizeof(err)), err);
        ok(moat_secheaders_set(pol, sc, MOAT_SECH_XFO, MOAT_SECH_SET, "DENY", err, sizeof(err)),
           err);
        break;
    case POL_ROOT:
        ok(moat_secheaders_set(pol, 0, MOAT_SECH_CSP, MOAT_SECH_SET, "base", err, sizeof(err)),
           err);
        ok(moat_secheaders_add_override(pol, "/", &sc, err, sizeof(err)), err);
        ok(moat_secheaders_set(pol, sc, MOAT_SECH_CSP, MOAT_SECH_SET, "root", err, sizeof(err)),
           err);
        ok(moat_secheaders_add_override(pol, "/a", &sc, err, sizeof(err)), err);
        ok(moat_secheaders_set(pol, sc, MOAT_SECH_CSP, MOAT_SECH_INHERIT, "a", err, sizeof(err)),
           err);
        break;
    case POL_CUSTOM:
        ok(moat_secheaders_add_custom(pol, 0, "X-A", "base-a", MOAT_SECH_SET, err, sizeof(err)),
           err);
        ok(moat_secheaders_add_custom(pol, 0, "X-B", "base-b", MOAT_SECH_DEFAULT, err, sizeof(err)),
           err);
        ok(moat_secheaders_add_custom(pol, 0, "X-Off", NULL, MOAT_SECH_OFF, err, sizeof(err)), err);
        ok(moat_secheaders_add_override(pol, "/o", &sc, err, sizeof(err)), err);
        ok(moat_secheaders_add_custom(pol, sc, "x-a", NULL, MOAT_SECH_OFF, err, sizeof(err)), err);
        ok(moat_secheaders_add_custom(pol, sc, "X-C", "o-c", MOAT_SECH_SET, err, sizeof(err)), err);
        ok(moat_secheaders_add_custom(pol, sc, "X-B", "o-b", MOAT_SECH_SET, err, sizeof(err)), err);
        break;
    case POL_NONCE:
    case POL_NONCE_OFF:
        ok(moat_secheaders_set(pol, 0, MOAT_SECH_CSP, MOAT_SECH_SET,
                               "script-src 'self' 'nonce-{nonce}'; style-src 'nonce-{nonce}' "
                               "'self'; img-src 'self'",
                               err, sizeof(err)),
           err);
        ok(moat_secheaders_set(pol, 0, MOAT_SECH_CSP_RO, MOAT_SECH_SET,
                               "'nonce-{nonce}' x;script-src 'nonce-{nonce}'", err, sizeof(err)),
           err);
        ok(moat_secheaders_add_override(pol, "/plain", &sc, err, sizeof(err)), err);
        ok(moat_secheaders_set(pol, sc, MOAT_SECH_CSP, MOAT_SECH_SET, "default-src 'self'", err,
                               sizeof(err)),
           err);
        ok(moat_secheaders_set(pol, sc, MOAT_SECH_CSP_RO, MOAT_SECH_OFF, NULL, err, sizeof(err)),
           err);
        moat_secheaders_set_nonce(pol, which == POL_NONCE);
        break;
    case POL_REPORT:
        ok(moat_secheaders_set(pol, 0, MOAT_SECH_CSP, MOAT_SECH_DEFAULT, "default-src 'self';", err,
                               sizeof(err)),
           err);
        ok(moat_secheaders_set_report_uri(pol, "https://r.example/csp?a=1", err, sizeof(err)), err);
        break;
    case POL_REMOVE:
        ok(moat_secheaders_add_remove(pol, "Server", err, sizeof(err)), err);
        ok(moat_secheaders_add_remove(pol, "x-powered-by", err, sizeof(err)), err);
        ok(moat_secheaders_add_remove(pol, "SERVER", err, sizeof(err)), err);
        break;
    }
}

struct apply_case {
    const char *label;              /* shown on failure */
    enum polid pol;                 /* policy */
    const char *path;               /* request target */
    int https;                      /* response over TLS */
    const char *nonce;              /* request nonce or NULL */
    const char *f[2 * MAX_APP + 1]; /* app fields: name, value pairs, NULL ends */
    const char *want;               /* rendered ops, NULL when apply must fail */
};

#define STD_TAIL                                                                                   \
    "+X-Content-Type-Options: nosniff\n+X-Frame-Options: DENY\n"                                   \
    "+Referrer-Policy: strict-origin-when-cross-origin\n"                                          \
    "+Permissions-Policy: " MOAT_SECH_PP_STANDARD "\n"                                             \
    "+Cross-Origin-Opener-Policy: same-origin\n+Cross-Origin-Resource-Policy: same-origin\n"       \
    "+X-Permitted-Cross-Domain-Policies: none\n"
#define HSTS "+Strict-Transport-Security: max-age=63072000; includeSubDomains\n"
#define STD_CSP_N                                                                                  \
    "default-src 'self'; script-src 'self' 'nonce-N0nce+/=='; style-src 'self' "                   \
    "'nonce-N0nce+/=='; "                                                                          \
    "img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'self'; "                  \
    "form-action 'self'; frame-ancestors 'none'; upgrade-insecure-requests"
#define STD_CSP_NO_NONCE                                                                           \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "                    \
    "frame-ancestors 'none'; upgrade-insecure-requests"
#define BASE "+Content-Security-Policy: base\n+X-Content-Type-Options: nosniff\n"
#define DOCS "+Content-Security-Policy: docs\n"
#define API "+Content-Security-Policy: api\n+X-Content-Type-Options: nosniff\n"
#define ADMIN BASE "+X-Frame-Options: DENY\n"
#define NONE                                                                                       \
    {                                                                                              \
        NULL                                                                                       \
    }

/* clang-format off */
static const struct apply_case cases[] = {
    /* built-in profiles */
    {"standard, moat's own response", POL_STANDARD, "/", 1, "N0nce+/==", NONE,
     HSTS "+Content-Security-Policy: " STD_CSP_N "\n" STD_TAIL},
    {"standard without nonce", POL_STANDARD, "/", 1, NULL, NONE,
     HSTS "+Content-Security-Policy: " STD_CSP_NO_NONCE "\n" STD_TAIL},
    {"standard over http: no HSTS", POL_STANDARD, "/", 0, NULL, NONE,
     "+Content-Security-Policy: " STD_CSP_NO_NONCE "\n" STD_TAIL},
    {"standard keeps app's CSP, strips leaks, replaces nosniff", POL_STANDARD, "/x", 1, "abc",
     {"Content-Type", "text/html", "Server", "gunicorn", "content-security-policy", "app",
      "X-Powered-By", "Flask", "X-Content-Type-Options", "nosniff", "x-aspnet-version", "4",
      "Referrer-Policy", "no-referrer", NULL},
     "-1\n-3\n-4\n-5\n" HSTS "+X-Content-Type-Options: nosniff\n+X-Frame-Options: DENY\n"
     "+Permissions-Policy: " MOAT_SECH_PP_STANDARD "\n"
     "+Cross-Origin-Opener-Policy: same-origin\n+Cross-Origin-Resource-Policy: same-origin\n"
     "+X-Permitted-Cross-Domain-Policies: none\n"},
    {"standard removes app HSTS over http", POL_STANDARD, "/", 0, NULL,
     {"Strict-Transport-Security", "max-age=1", NULL},
     "-0\n+Content-Security-Policy: " STD_CSP_NO_NONCE "\n" STD_TAIL},
    {"strict replaces the app's CSP", POL_STRICT, "/", 1, NULL,
     {"Content-Security-Policy", "default-src *", NULL},
     "-0\n" HSTS "+Content-Security-Policy: default-src 'none'; script-src 'self'; "
     "style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; "
     "manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
     "frame-ancestors 'none'; require-trusted-types-for 'script'; upgrade-insecure-requests\n"
     "+X-Content-Type-Options: nosniff\n+X-Frame-Options: DENY\n+Referrer-Policy: same-origin\n"
     "+Permissions-Policy: " MOAT_SECH_PP_STRICT "\n"
     "+Cross-Origin-Opener-Policy: same-origin\n+Cross-Origin-Resource-Policy: same-origin\n"
     "+Cross-Origin-Embedder-Policy: require-corp\n+X-Permitted-Cross-Domain-Policies: none\n"},
    /* prefix overrides: longest wins, whole segments, normalised path */
    {"base", POL_OVR, "/", 1, NULL, NONE, BASE},
    {"docs exact", POL_OVR, "/docs", 1, NULL, NONE, DOCS},
    {"docs slash", POL_OVR, "/docs/", 1, NULL, NONE, DOCS},
    {"docs child", POL_OVR, "/docs/x/y", 1, NULL, NONE, DOCS},
    {"docs query", POL_OVR, "/docs?x=/docs/api", 1, NULL, NONE, DOCS},
    {"docsx is not docs", POL_OVR, "/docsx", 1, NULL, NONE, BASE},
    {"doc is not docs", POL_OVR, "/doc", 1, NULL, NONE, BASE},
    {"query is not path", POL_OVR, "/x?/docs", 1, NULL, NONE, BASE},
    {"case-sensitive", POL_OVR, "/DOCS", 1, NULL, NONE, BASE},
    {"docs/api longest", POL_OVR, "/docs/api", 1, NULL, NONE, API},
    {"docs/api child", POL_OVR, "/docs/api/v1?q", 1, NULL, NONE, API},
    {"docs/apix falls to docs", POL_OVR, "/docs/apix", 1, NULL, NONE, DOCS},
    {"override default keeps app's", POL_OVR, "/docs/", 1, NULL,
     {"Content-Security-Policy", "app", "X-Content-Type-Options", "app", NULL}, ""},
    {"override set replaces app's", POL_OVR, "/docs/api", 1, NULL,
     {"Content-Security-Policy", "app", NULL}, "-0\n" API},
    {"inherits the rest", POL_OVR, "/admin/users", 1, NULL, NONE, ADMIN},
    {"escaped letter", POL_OVR, "/%64ocs/x", 1, NULL, NONE, DOCS},
    {"escaped slash", POL_OVR, "/docs%2fapi", 1, NULL, NONE, API},
    {"escaped upper-case slash", POL_OVR, "/docs%2Fapi%2F", 1, NULL, NONE, API},
    {"backslash", POL_OVR, "/docs\\api", 1, NULL, NONE, API},
    {"escaped backslash", POL_OVR, "/docs%5capi", 1, NULL, NONE, API},
    {"dot segment", POL_OVR, "/docs/./api", 1, NULL, NONE, API},
    {"escaped dot segment", POL_OVR, "/docs/%2E/api", 1, NULL, NONE, API},
    {"dot-dot back out", POL_OVR, "/docs/../admin", 1, NULL, NONE, ADMIN},
    {"escaped dot-dot", POL_OVR, "/docs/%2e%2e/admin", 1, NULL, NONE, ADMIN},
    {"half-escaped dot-dot and slash", POL_OVR, "/docs/.%2e%2fadmin", 1, NULL, NONE, ADMIN},
    {"dot-dot into", POL_OVR, "/x/y/../../docs/api", 1, NULL, NONE, API},
    {"dot-dot above root", POL_OVR, "/../../docs", 1, NULL, NONE, DOCS},
    {"double slashes", POL_OVR, "//docs//api", 1, NULL, NONE, API},
    {"dots in a name are not dot segments", POL_OVR, "/docs/.../api", 1, NULL, NONE, DOCS},
    {"bad escape kept literal", POL_OVR, "/docs%", 1, NULL, NONE, BASE},
    {"bad escape in a child", POL_OVR, "/docs/%zz", 1, NULL, NONE, DOCS},
    {"escaped NUL", POL_OVR, "/docs%00", 1, NULL, NONE, BASE},
    {"asterisk", POL_OVR, "*", 1, NULL, NONE, BASE},
    {"empty path", POL_OVR, "", 1, NULL, NONE, BASE},
    {"NULL path", POL_OVR, NULL, 1, NULL, NONE, BASE},
    {"root override", POL_ROOT, "/", 1, NULL, NONE, "+Content-Security-Policy: root\n"},
    {"root override anywhere", POL_ROOT, "/x/y", 1, NULL, NONE, "+Content-Security-Policy: root\n"},
    {"root override vs /a", POL_ROOT, "/a/b", 1, NULL, NONE, "+Content-Security-Policy: a\n"},
    {"root override for *", POL_ROOT, "*", 1, NULL, NONE, "+Content-Security-Policy: root\n"},
    /* custom headers */
    {"custom base", POL_CUSTOM, "/", 1, NULL, NONE, "+X-A: base-a\n+X-B: base-b\n"},
    {"custom base with app's", POL_CUSTOM, "/", 0, NULL,
     {"x-a", "app", "X-B", "app", "X-Off", "app", "X-C", "app", NULL}, "-0\n+X-A: base-a\n"},
    {"custom override", POL_CUSTOM, "/o/p", 1, NULL, NONE, "+X-B: o-b\n+X-C: o-c\n"},
    {"custom override with app's", POL_CUSTOM, "/o", 1, NULL,
     {"X-A", "app", "X-B", "app", "X-C", "app", NULL}, "-1\n-2\n+X-B: o-b\n+X-C: o-c\n"},
    /* nonces */
    {"nonce substituted", POL_NONCE, "/", 1, "abc123==", NONE,
     "+Content-Security-Policy: script-src 'self' 'nonce-abc123=='; style-src 'nonce-abc123==' "
     "'self'; img-src 'self'\n"
     "+Content-Security-Policy-Report-Only: 'nonce-abc123==' x;script-src 'nonce-abc123=='\n"},
    {"nonce removed cleanly", POL_NONCE, "/", 1, NULL, NONE,
     "+Content-Security-Policy: script-src 'self'; style-src 'self'; img-src 'self'\n"
     "+Content-Security-Policy-Report-Only: x;script-src\n"},
    {"nonces off: removed", POL_NONCE_OFF, "/", 1, "abc", NONE,
     "+Content-Security-Policy: script-src 'self'; style-src 'self'; img-src 'self'\n"
     "+Content-Security-Policy-Report-Only: x;script-src\n"},
    {"override without nonce", POL_NONCE, "/plain", 1, "abc", NONE,
     "+Content-Security-Policy: default-src 'self'\n"},
    {"url-safe nonce", POL_NONCE, "/plain", 1, "a-_+/9=", NONE,
     "+Content-Security-Policy: default-src 'self'\n"},
    {"nonce with space refused", POL_NONCE, "/", 1, "a b", NONE, NULL},
    {"nonce with quote refused", POL_NONCE, "/", 1, "a'; script-src *", NONE, NULL},
    {"empty nonce refused", POL_NONCE, "/", 1, "", NONE, NULL},
    {"nonce with three pads refused", POL_NONCE, "/", 1, "abc===", NONE, NULL},
    {"nonce with inner pad refused", POL_NONCE, "/", 1, "ab=c", NONE, NULL},
    {"only pads refused", POL_NONCE, "/", 1, "==", NONE, NULL},
    {"long nonce refused", POL_NONCE, "/", 1,
     "0123456789012345678901234567890123456789012345678901234567890123x", NONE, NULL},
    /* report URI */
    {"report uri", POL_REPORT, "/", 1, NULL, NONE,
     "+Content-Security-Policy: default-src 'self'; report-uri https://r.example/csp?a=1; "
     "report-to moat-csp\n+Reporting-Endpoints: moat-csp=\"https://r.example/csp?a=1\"\n"},
    {"report uri, app's CSP kept", POL_REPORT, "/", 1, NULL,
     {"Content-Security-Policy", "app", NULL}, ""},
    /* removal */
    {"removal any case, every copy", POL_REMOVE, "/", 1, NULL,
     {"server", "a", "Content-Type", "t", "SERVER", "b", "X-Powered-By", "c", "X-Powered", "d",
      NULL}, "-0\n-2\n-3\n"},
    {"removal on error responses", POL_REMOVE, "/", 1, NULL, NONE, ""},
};
/* clang-format on */

START_TEST(test_apply_table)
{
    const struct apply_case *c = &cases[_i];
    struct moat_secheaders pol;
    char got[RENDER_CAP];
    int rc;

    build(&pol, c->pol);
    rc = run(&pol, c->path, c->https, c->nonce, c->f, got);
    if (c->want == NULL) {
        ck_assert_msg(rc == -1, "%s: want -1, got\n%s", c->label, got);
        return;
    }
    ck_assert_msg(rc == 0, "%s: apply failed", c->label);
    ck_assert_msg(strcmp(got, c->want) == 0, "%s:\n--- got\n%s--- want\n%s", c->label, got,
                  c->want);
}
END_TEST

/* apply fails cleanly when ops or the value buffer are one short, never writing past them. */
START_TEST(test_apply_caps)
{
    const struct apply_case *c = &cases[_i];
    struct moat_secheaders pol;
    struct moat_hdr h[MAX_APP];
    struct moat_sech_op ops[OPS_CAP];
    char buf[MOAT_SECH_APPLY_BUF];
    size_t n;
    size_t n_ops;
    size_t need_ops;
    size_t cap;
    size_t plen = c->path != NULL ? strlen(c->path) : 0;
    int rc = -1;

    if (c->want == NULL)
        return;
    build(&pol, c->pol);
    n = build_hdrs(c->f, h);
    ck_assert_int_eq(moat_secheaders_apply(&pol, c->path, plen, c->https, c->nonce, h, n, ops,
                                           OPS_CAP, &need_ops, buf, sizeof(buf)),
                     0);
    ck_assert_int_eq(moat_secheaders_apply(&pol, c->path, plen, c->https, c->nonce, h, n, ops,
                                           need_ops, &n_ops, buf, sizeof(buf)),
                     0);
    if (need_ops > 0) {
        n_ops = 99;
        ck_assert_int_eq(moat_secheaders_apply(&pol, c->path, plen, c->https, c->nonce, h, n, ops,
                                               need_ops - 1, &n_ops, buf, sizeof(buf)),
                         -1);
        ck_assert_int_eq(n_ops, 0);
    }
    for (cap = 0; rc != 0 && cap < sizeof(buf); cap++) {
        memset(buf, 0x5a, sizeof(buf));
        rc = moat_secheaders_apply(&pol, c->path, plen, c->https, c->nonce, h, n, ops, OPS_CAP,
                                   &n_ops, buf, cap);
        ck_assert_msg((unsigned char)buf[cap] == 0x5a, "%s: wrote past %zu", c->label, cap);
    }
    ck_assert_int_eq(rc, 0);
}
END_TEST

/* Deep paths: only the first segments are kept, pops below the cap still work. */
START_TEST(test_deep_paths)
{
    char path[1024];
    char got[RENDER_CAP];
    const char *none[] = {NULL};
    struct moat_secheaders pol;
    size_t i;

    build(&pol, POL_OVR);
    strcpy(path, "/docs/api");
    for (i = 0; i < 40; i++)
        strcat(path, "/s");
    ck_assert_int_eq(run(&pol, path, 1, NULL, none, got), 0);
    ck_assert_str_eq(got, API);
    strcpy(path, "");
    for (i = 0; i < 40; i++)
        strcat(path, "/s");
    for (i = 0; i < 40; i++)
        strcat(path, "/..");
    strcat(path, "/docs");
    ck_assert_int_eq(run(&pol, path, 1, NULL, none, got), 0);
    ck_assert_str_eq(got, DOCS);
}
END_TEST

/* The per-path choice on its own: which scope (1 = /docs/api, 2 = /docs,
 * 3 = /admin, 0 = base) governs each path. */
struct scope_case {
    const char *path; /* raw request target */
    size_t scope;     /* expected scope */
};

static const struct scope_case scope_cases[] = {
    {"/", 0},
    {"/docs", 2},
    {"/docs/", 2},
    {"/docs/intro?x=/docs/api", 2},
    {"/docs/api", 1},
    {"/docs/api/v2/x", 1},
    {"/docsx", 0},
    {"/doc", 0},
    {"//docs//api", 1},
    {"/%64ocs/api", 1},
    {"/docs%2fapi", 1},
    {"/x/../docs", 2},
    {"/docs/api/..", 2},
    {"/admin/", 3},
    {"/ADMIN", 0},
    {"", 0},
    {"*", 0},
};

START_TEST(test_scope_for)
{
    const struct scope_case *c = &scope_cases[_i];
    struct moat_secheaders pol;

    build(&pol, POL_OVR);
    ck_assert_msg(moat_secheaders_scope_for(&pol, c->path, strlen(c->path)) == c->scope,
                  "%s: scope %zu, want %zu", c->path,
                  moat_secheaders_scope_for(&pol, c->path, strlen(c->path)), c->scope);
}
END_TEST

/* --- HSTS ------------------------------------------------------------------------------------ */

struct hsts_case {
    uint32_t age;     /* max-age */
    int subs;         /* includeSubDomains */
    int preload;      /* preload */
    const char *want; /* built value */
};

static const struct hsts_case hsts_cases[] = {
    {63072000, 1, 0, "max-age=63072000; includeSubDomains"},
    {31536000, 1, 1, "max-age=31536000; includeSubDomains; preload"},
    {0, 0, 0, "max-age=0"},
    {300, 0, 1, "max-age=300; preload"},
    {4294967295u, 1, 1, "max-age=4294967295; includeSubDomains; preload"},
};

START_TEST(test_hsts_build)
{
    const struct hsts_case *c = &hsts_cases[_i];
    char out[128];
    size_t len = strlen(c->want);

    ck_assert_int_eq(moat_secheaders_hsts_build(c->age, c->subs, c->preload, out, sizeof(out)),
                     (long)len);
    ck_assert_str_eq(out, c->want);
    ck_assert_int_eq(moat_secheaders_hsts_build(c->age, c->subs, c->preload, out, len + 1),
                     (long)len);
    ck_assert_int_eq(moat_secheaders_hsts_build(c->age, c->subs, c->preload, out, len), -1);
    ck_assert_int_eq(moat_secheaders_hsts_build(c->age, c->subs, c->preload, NULL, 0), -1);
}
END_TEST

START_TEST(test_hsts_only_https)
{
    struct moat_secheaders pol;
    char err[256] = "";
    size_t sc;

    moat_secheaders_init(&pol);
    ck_assert_ptr_null(moat_secheaders_hsts(&pol, "/", 1, 1));
    ok(moat_secheaders_set_hsts(&pol, 0, MOAT_SECH_DEFAULT, 600, 0, 0, err, sizeof(err)), err);
    ok(moat_secheaders_add_override(&pol, "/off", &sc, err, sizeof(err)), err);
    ok(moat_secheaders_set(&pol, sc, MOAT_SECH_HSTS, MOAT_SECH_OFF, NULL, err, sizeof(err)), err);
    ok(moat_secheaders_add_override(&pol, "/long", &sc, err, sizeof(err)), err);
    ok(moat_secheaders_set_hsts(&pol, sc, MOAT_SECH_INHERIT, 63072000, 1, 1, err, sizeof(err)),
       err);
    ck_assert_str_eq(moat_secheaders_hsts(&pol, "/", 1, 1), "max-age=600");
    ck_assert_ptr_null(moat_secheaders_hsts(&pol, "/", 1, 0));
    ck_assert_ptr_null(moat_secheaders_hsts(&pol, "/off/x", 6, 1));
    ck_assert_str_eq(moat_secheaders_hsts(&pol, "/long", 5, 1),
                     "max-age=63072000; includeSubDomains; preload");
    ck_assert_ptr_null(moat_secheaders_hsts(&pol, "/long", 5, 0));
}
END_TEST

/* --- nonces ---------------------------------------------------------------------------------- */

START_TEST(test_wants_nonce)
{
    struct moat_secheaders pol;

    moat_secheaders_init(&pol);
    ck_assert_int_eq(moat_secheaders_wants_nonce(&pol, "/", 1), 0);
    build(&pol, POL_STANDARD);
    ck_assert_int_eq(moat_secheaders_wants_nonce(&pol, "/", 1), 1);
    moat_secheaders_set_nonce(&pol, 0);
    ck_assert_int_eq(moat_secheaders_wants_nonce(&pol, "/", 1), 0);
    build(&pol, POL_NONCE);
    ck_assert_int_eq(moat_secheaders_wants_nonce(&pol, "/x", 2), 1);
    ck_assert_int_eq(moat_secheaders_wants_nonce(&pol, "/plain/x", 8), 0);
    build(&pol, POL_NONCE_OFF);
    ck_assert_int_eq(moat_secheaders_wants_nonce(&pol, "/x", 2), 0);
}
END_TEST

struct b64_case {
    unsigned char raw[16]; /* input */
    const char *want;      /* base64 */
};

static const struct b64_case b64_cases[] = {
    {{0}, "AAAAAAAAAAAAAAAAAAAAAA=="},
    {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff},
     "/////////////////////w=="},
    {{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
      0xff},
     "ABEiM0RVZneImaq7zN3u/w=="},
    {{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!', '!', '!', '!', '?'},
     "aGVsbG8gd29ybGQhISEhPw=="},
    {{0xfb, 0xef, 0xbe, 0xfb, 0xef, 0xbe, 0xfb, 0xef, 0xbe, 0xfb, 0xef, 0xbe, 0xfb, 0xef, 0xbe,
      0xfb},
     "+++++++++++++++++++++w=="},
};

START_TEST(test_nonce_encode)
{
    const struct b64_case *c = &b64_cases[_i];
    char out[MOAT_SECH_NONCE_B64 + 1];

    memset(out, 'z', sizeof(out));
    moat_secheaders_nonce_encode(c->raw, out);
    ck_assert_str_eq(out, c->want);
    ck_assert_int_eq(out[MOAT_SECH_NONCE_B64], 'z');
}
END_TEST

int main(void)
{
    Suite *s = suite_create("secheaders");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_mode_matrix, 0, MATRIX_N);
    tcase_add_loop_test(tc, test_apply_table, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_loop_test(tc, test_apply_caps, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_test(tc, test_deep_paths);
    tcase_add_loop_test(tc, test_scope_for, 0, sizeof(scope_cases) / sizeof(scope_cases[0]));
    tcase_add_loop_test(tc, test_hsts_build, 0, sizeof(hsts_cases) / sizeof(hsts_cases[0]));
    tcase_add_test(tc, test_hsts_only_https);
    tcase_add_test(tc, test_wants_nonce);
    tcase_add_loop_test(tc, test_nonce_encode, 0, sizeof(b64_cases) / sizeof(b64_cases[0]));
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
