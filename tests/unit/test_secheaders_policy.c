/* test_secheaders_policy.c - unit tests for building a header policy: profiles, validation, lint.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "moat/secheaders.h"

/* --- validation of configured values --------------------------------------------------------- */

enum op { OP_SET, OP_CUSTOM, OP_REMOVE, OP_OVERRIDE, OP_REPORT };

struct val_case {
    const char *label;        /* shown on failure */
    enum op op;               /* what to call */
    int scope;                /* 0 base, 1 the "/docs" override, 9 a scope that does not exist */
    int id;                   /* OP_SET: header */
    enum moat_sech_mode mode; /* OP_SET / OP_CUSTOM */
    const char *name;         /* OP_CUSTOM / OP_REMOVE name, OP_OVERRIDE prefix, OP_REPORT uri */
    const char *value;        /* OP_SET / OP_CUSTOM value */
    const char *err;          /* NULL: must succeed; else a substring of the error */
};

#define CSP MOAT_SECH_CSP
#define SET MOAT_SECH_SET
#define DEF MOAT_SECH_DEFAULT
#define OFF MOAT_SECH_OFF

/* clang-format off */
static const struct val_case val_cases[] = {
    {"csp ok", OP_SET, 0, CSP, SET, NULL, "default-src 'self'", NULL},
    {"CRLF", OP_SET, 0, CSP, SET, NULL, "a\r\nX-Evil: y", "Content-Security-Policy:"},
    {"LF", OP_SET, 0, MOAT_SECH_REFERRER, SET, NULL, "a\nb", "Referrer-Policy:"},
    {"leading space", OP_SET, 0, MOAT_SECH_XFO, SET, NULL, " DENY", "X-Frame-Options:"},
    {"trailing tab", OP_SET, 0, MOAT_SECH_XFO, SET, NULL, "DENY\t", "X-Frame-Options:"},
    {"empty", OP_SET, 0, MOAT_SECH_COOP, SET, NULL, "", "Cross-Origin-Opener-Policy:"},
    {"DEL", OP_SET, 0, MOAT_SECH_CORP, SET, NULL, "a\x7f", "Cross-Origin-Resource-Policy:"},
    {"control byte", OP_SET, 0, MOAT_SECH_HSTS, SET, NULL, "max-age=1\x01", "Strict-Transport"},
    {"inner tab ok", OP_SET, 0, MOAT_SECH_PERMS, SET, NULL, "a=()\t, b=()", NULL},
    {"obs-text ok", OP_SET, 0, MOAT_SECH_PERMS, SET, NULL, "caf\xc3\xa9", NULL},
    {"bare {nonce}", OP_SET, 0, CSP, SET, NULL, "script-src {nonce}", "{nonce}"},
    {"glued {nonce}", OP_SET, 0, CSP, SET, NULL, "script-src 'nonce-{nonce}'x", "{nonce}"},
    {"glued before {nonce}", OP_SET, 0, CSP, SET, NULL, "script-src x'nonce-{nonce}'", "{nonce}"},
    {"{nonce} in a host", OP_SET, 0, CSP, SET, NULL, "script-src https://{nonce}.x", "{nonce}"},
    {"{nonce} in report-only", OP_SET, 0, MOAT_SECH_CSP_RO, SET, NULL, "x {nonce}",
     "Content-Security-Policy-Report-Only:"},
    {"nonce tokens ok", OP_SET, 0, CSP, SET, NULL,
     "script-src 'nonce-{nonce}';style-src 'self' 'nonce-{nonce}',img-src 'nonce-{nonce}'", NULL},
    {"eight nonces ok", OP_SET, 0, CSP, SET, NULL,
     "a 'nonce-{nonce}' 'nonce-{nonce}' 'nonce-{nonce}' 'nonce-{nonce}' 'nonce-{nonce}' "
     "'nonce-{nonce}' 'nonce-{nonce}' 'nonce-{nonce}'", NULL},
    {"nine nonces", OP_SET, 0, CSP, SET, NULL,
     "a 'nonce-{nonce}' 'nonce-{nonce}' 'nonce-{nonce}' 'nonce-{nonce}' 'nonce-{nonce}' "
     "'nonce-{nonce}' 'nonce-{nonce}' 'nonce-{nonce}' 'nonce-{nonce}'", "at most 8"},
    {"{nonce} outside CSP is text", OP_SET, 0, MOAT_SECH_PERMS, SET, NULL, "x={nonce}", NULL},
    {"set without any value", OP_SET, 0, MOAT_SECH_XFO, SET, NULL, NULL, "needs a value"},
    {"default without any value", OP_SET, 1, MOAT_SECH_XFO, DEF, NULL, NULL, "needs a value"},
    {"override inherits base value", OP_SET, 1, CSP, SET, NULL, NULL, NULL},
    {"off without value", OP_SET, 0, MOAT_SECH_XFO, OFF, NULL, NULL, NULL},
    {"override named in error", OP_SET, 1, CSP, SET, NULL, "a\nb", "(override /docs)"},
    {"no such scope", OP_SET, 9, CSP, SET, NULL, "x", "bad header, scope or mode"},
    {"no such header", OP_SET, 0, MOAT_SECH_COUNT, SET, NULL, "x", "bad header"},
    {"no such mode", OP_SET, 0, CSP, (enum moat_sech_mode)9, NULL, "x", "bad header"},
    {"custom ok", OP_CUSTOM, 0, 0, SET, "X-Custom", "v", NULL},
    {"custom off without value", OP_CUSTOM, 0, 0, OFF, "X-Gone", NULL, NULL},
    {"custom space in name", OP_CUSTOM, 0, 0, SET, "X A", "v", "\"X?A\""},
    {"custom colon in name", OP_CUSTOM, 0, 0, SET, "X-A:", "v", "not a header name"},
    {"custom empty name", OP_CUSTOM, 0, 0, SET, "", "v", "not a header name"},
    {"custom managed name", OP_CUSTOM, 0, 0, SET, "content-security-policy", "v", "is managed"},
    {"custom set-cookie", OP_CUSTOM, 0, 0, SET, "Set-Cookie", "a=b", "Set-Cookie: may not"},
    {"custom content-length", OP_CUSTOM, 0, 0, SET, "content-length", "1", "may not"},
    {"custom transfer-encoding", OP_CUSTOM, 0, 0, SET, "Transfer-Encoding", "x", "may not"},
    {"custom connection", OP_CUSTOM, 0, 0, SET, "Connection", "close", "may not"},
    {"custom duplicate", OP_CUSTOM, 0, 0, SET, "x-dup", "v", "x-dup: already configured"},
    {"custom duplicate in override ok", OP_CUSTOM, 1, 0, SET, "X-Dup", "v", NULL},
    {"custom bad value", OP_CUSTOM, 0, 0, SET, "X-V", "a\r\nb", "custom header X-V:"},
    {"custom bad value in override", OP_CUSTOM, 1, 0, SET, "X-V", "a\nb", "(override /docs)"},
    {"custom without value", OP_CUSTOM, 0, 0, DEF, "X-V", NULL, "needs a value"},
    {"custom inherit mode", OP_CUSTOM, 0, 0, MOAT_SECH_INHERIT, "X-V", "v", "mode must be"},
    {"custom bad scope", OP_CUSTOM, 9, 0, SET, "X-V", "v", "bad scope"},
    {"remove ok", OP_REMOVE, 0, 0, OFF, "X-Runtime", NULL, NULL},
    {"remove again ok", OP_REMOVE, 0, 0, OFF, "x-dup-remove", NULL, NULL},
    {"remove content-length", OP_REMOVE, 0, 0, OFF, "Content-Length", NULL, "framing"},
    {"remove connection", OP_REMOVE, 0, 0, OFF, "connection", NULL, "framing"},
    {"remove transfer-encoding", OP_REMOVE, 0, 0, OFF, "Transfer-Encoding", NULL, "framing"},
    {"remove bad name", OP_REMOVE, 0, 0, OFF, "X Foo\n", NULL, "\"X?Foo?\""},
    {"remove empty", OP_REMOVE, 0, 0, OFF, "", NULL, "not a header name"},
    {"override ok", OP_OVERRIDE, 0, 0, OFF, "/ok;v=1/x:y@z/a-b_c~d!$&'()*+,=", NULL, NULL},
    {"override acme", OP_OVERRIDE, 0, 0, OFF, "/.well-known/acme-challenge/", NULL, NULL},
    {"override root", OP_OVERRIDE, 0, 0, OFF, "/", NULL, NULL},
    {"override relative", OP_OVERRIDE, 0, 0, OFF, "docs", NULL, "must start with '/'"},
    {"override empty", OP_OVERRIDE, 0, 0, OFF, "", NULL, "must start with '/'"},
    {"override dot-dot", OP_OVERRIDE, 0, 0, OFF, "/a/../b", NULL, "dot segment"},
    {"override dot", OP_OVERRIDE, 0, 0, OFF, "/a/./b", NULL, "dot segment"},
    {"override trailing dot-dot", OP_OVERRIDE, 0, 0, OFF, "/a/..", NULL, "dot segment"},
    {"override escape", OP_OVERRIDE, 0, 0, OFF, "/a%20b", NULL, "0x25"},
    {"override space", OP_OVERRIDE, 0, 0, OFF, "/a b", NULL, "0x20"},
    {"override query", OP_OVERRIDE, 0, 0, OFF, "/a?b", NULL, "0x3f"},
    {"override backslash", OP_OVERRIDE, 0, 0, OFF, "/a\\b", NULL, "0x5c"},
    {"override newline", OP_OVERRIDE, 0, 0, OFF, "/a\n", NULL, "override /a?: byte 0x0a"},
    {"override twice", OP_OVERRIDE, 0, 0, OFF, "/docs/", NULL, "twice"},
    {"override twice, slashes", OP_OVERRIDE, 0, 0, OFF, "//docs//", NULL, "twice"},
    {"report ok", OP_REPORT, 0, 0, OFF, "https://r.example/csp?x=1&y=2", NULL, NULL},
    {"report relative", OP_REPORT, 0, 0, OFF, "/csp-report", NULL, NULL},
    {"report cleared", OP_REPORT, 0, 0, OFF, "", NULL, NULL},
    {"report NULL", OP_REPORT, 0, 0, OFF, NULL, NULL, NULL},
    {"report space", OP_REPORT, 0, 0, OFF, "a b", NULL, "CSP report URI"},
    {"report semicolon", OP_REPORT, 0, 0, OFF, "a;b", NULL, "CSP report URI"},
    {"report comma", OP_REPORT, 0, 0, OFF, "a,b", NULL, "CSP report URI"},
    {"report quote", OP_REPORT, 0, 0, OFF, "a\"b", NULL, "CSP report URI"},
    {"report newline", OP_REPORT, 0, 0, OFF, "a\nb", NULL, "CSP report URI"},
    /* found by fuzz_headers: not URI characters, an invalid Reporting-Endpoints string */
    {"report non-ASCII", OP_REPORT, 0, 0, OFF, "https://r.ex\xc3\xa4mple/csp", NULL,
     "CSP report URI"},
    {"report brace", OP_REPORT, 0, 0, OFF, "/csp/{nonce}", NULL, "CSP report URI"},
    {"report backslash", OP_REPORT, 0, 0, OFF, "a\\b", NULL, "CSP report URI"},
    {"report full URI", OP_REPORT, 0, 0, OFF, "https://u@r.example:8443/c%20s/p?q=1#f", NULL, NULL},
};
/* clang-format on */

/* A base with a CSP value, a custom X-Dup, a removed name, and the "/docs" override (scope 1). */
static void val_setup(struct moat_secheaders *p)
{
    char err[256] = "";
    size_t sc = 0;

    moat_secheaders_init(p);
    ck_assert_int_eq(moat_secheaders_set(p, 0, CSP, OFF, "default-src 'self'", err, sizeof(err)),
                     0);
    ck_assert_int_eq(moat_secheaders_add_custom(p, 0, "X-Dup", "v", SET, err, sizeof(err)), 0);
    ck_assert_int_eq(moat_secheaders_add_remove(p, "X-Dup-Remove", err, sizeof(err)), 0);
    ck_assert_int_eq(moat_secheaders_add_override(p, "/docs", &sc, err, sizeof(err)), 0);
    ck_assert_uint_eq(sc, 1);
}

START_TEST(test_validation)
{
    const struct val_case *c = &val_cases[_i];
    struct moat_secheaders p;
    struct moat_secheaders before;
    char err[512] = "";
    size_t sc = 0;
    int rc = -2;

    val_setup(&p);
    memcpy(&before, &p, sizeof(p));
    if (c->op == OP_SET)
        rc = moat_secheaders_set(&p, (size_t)c->scope, (enum moat_sech_id)c->id, c->mode, c->value,
                                 err, sizeof(err));
    else if (c->op == OP_CUSTOM)
        rc = moat_secheaders_add_custom(&p, (size_t)c->scope, c->name, c->value, c->mode, err,
                                        sizeof(err));
    else if (c->op == OP_REMOVE)
        rc = moat_secheaders_add_remove(&p, c->name, err, sizeof(err));
    else if (c->op == OP_OVERRIDE)
        rc = moat_secheaders_add_override(&p, c->name, &sc, err, sizeof(err));
    else
        rc = moat_secheaders_set_report_uri(&p, c->name, err, sizeof(err));
    if (c->err == NULL) {
        ck_assert_msg(rc == 0, "%s: failed: %s", c->label, err);
        return;
    }
    ck_assert_msg(rc == -1, "%s: accepted", c->label);
    ck_assert_msg(strstr(err, c->err) != NULL, "%s: error \"%s\" lacks \"%s\"", c->label, err,
                  c->err);
    ck_assert_msg(memcmp(&before.scope, &p.scope, sizeof(p.scope)) == 0 &&
                      before.n_scopes == p.n_scopes && before.n_remove == p.n_remove &&
                      before.report_uri.len == p.report_uri.len,
                  "%s: policy changed on error", c->label);
}
END_TEST

START_TEST(test_limits)
{
    struct moat_secheaders p;
    char big[MOAT_SECH_VALUE_MAX + 2];
    char name[64];
    char err[512] = "";
    size_t sc;
    int i;
    int rc = 0;

    moat_secheaders_init(&p);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(moat_secheaders_set(&p, 0, CSP, SET, big, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "longer than 4096"));
    big[MOAT_SECH_VALUE_MAX] = '\0';
    for (i = 0; i < 20 && rc == 0; i++)
        rc = moat_secheaders_set(&p, 0, CSP, SET, big, err, sizeof(err));
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_nonnull(strstr(err, "storage full"));
    moat_secheaders_init(&p);
    for (i = 0; i < MOAT_SECH_MAX_CUSTOM; i++) {
        (void)snprintf(name, sizeof(name), "X-C%d", i);
        ck_assert_int_eq(moat_secheaders_add_custom(&p, 0, name, "v", SET, err, sizeof(err)), 0);
    }
    ck_assert_int_eq(moat_secheaders_add_custom(&p, 0, "X-More", "v", SET, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "too many"));
    for (i = 0; i < MOAT_SECH_MAX_REMOVE; i++) {
        (void)snprintf(name, sizeof(name), "X-R%d", i);
        ck_assert_int_eq(moat_secheaders_add_remove(&p, name, err, sizeof(err)), 0);
    }
    ck_assert_int_eq(moat_secheaders_add_remove(&p, "X-R0", err, sizeof(err)), 0);
    ck_assert_int_eq(moat_secheaders_add_remove(&p, "X-More", err, sizeof(err)), -1);
    moat_secheaders_clear_remove(&p);
    ck_assert_int_eq(moat_secheaders_add_remove(&p, "X-More", err, sizeof(err)), 0);
    for (i = 0; i < MOAT_SECH_MAX_OVERRIDES; i++) {
        (void)snprintf(name, sizeof(name), "/p%d", i);
        ck_assert_int_eq(moat_secheaders_add_override(&p, name, &sc, err, sizeof(err)), 0);
        ck_assert_uint_eq(sc, (size_t)i + 1);
    }
    ck_assert_int_eq(moat_secheaders_add_override(&p, "/more", &sc, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "more than 16"));
    moat_secheaders_init(&p);
    big[0] = '\0';
    for (i = 0; i < MOAT_SECH_PREFIX_SEGS; i++)
        strcat(big, "/s");
    ck_assert_int_eq(moat_secheaders_add_override(&p, big, &sc, err, sizeof(err)), 0);
    strcat(big, "/t");
    ck_assert_int_eq(moat_secheaders_add_override(&p, big, &sc, err, sizeof(err)), -1);
    memset(big, 'a', MOAT_SECH_NAME_MAX + 1);
    big[MOAT_SECH_NAME_MAX + 1] = '\0';
    ck_assert_int_eq(moat_secheaders_add_custom(&p, 0, big, "v", SET, err, sizeof(err)), -1);
    ck_assert_int_eq(moat_secheaders_add_remove(&p, big, NULL, 0), -1);
    big[0] = '/';
    ck_assert_int_eq(moat_secheaders_add_override(&p, big, &sc, err, sizeof(err)), 0);
}
END_TEST

/* --- profiles, names, modes ------------------------------------------------------------------ */

START_TEST(test_profiles)
{
    struct moat_secheaders p;
    enum moat_sech_profile prof = MOAT_SECH_STRICT;
    const char *v = "x";

    ck_assert_int_eq(moat_secheaders_defaults(&p, MOAT_SECH_STANDARD), 0);
    ck_assert_int_eq(moat_secheaders_effective(&p, 0, MOAT_SECH_HSTS, &v), SET);
    ck_assert_str_eq(v, "max-age=63072000; includeSubDomains");
    ck_assert_int_eq(moat_secheaders_effective(&p, 0, CSP, &v), DEF);
    ck_assert_str_eq(v, MOAT_SECH_CSP_STANDARD);
    ck_assert_int_eq(moat_secheaders_effective(&p, 0, MOAT_SECH_CSP_RO, &v), OFF);
    ck_assert_ptr_null(v);
    ck_assert_int_eq(moat_secheaders_effective(&p, 0, MOAT_SECH_COEP, &v), OFF);
    ck_assert_int_eq(moat_secheaders_effective(&p, 0, MOAT_SECH_XFO, &v), DEF);
    ck_assert_str_eq(v, "DENY");
    ck_assert_int_eq(moat_secheaders_effective(&p, 0, MOAT_SECH_XPCDP, &v), SET);
    ck_assert_str_eq(v, "none");
    ck_assert_int_eq(moat_secheaders_effective(&p, 3, CSP, &v), OFF);
    ck_assert_int_eq(moat_secheaders_effective(&p, 0, MOAT_SECH_COUNT, &v), OFF);
    ck_assert_uint_eq(p.n_remove, 4);
    ck_assert_int_eq(p.nonce, 1);
    ck_assert_int_eq(moat_secheaders_defaults(&p, MOAT_SECH_STRICT), 0);
    ck_assert_int_eq(moat_secheaders_effective(&p, 0, MOAT_SECH_COEP, &v), SET);
    ck_assert_str_eq(v, "require-corp");
    ck_assert_int_eq(moat_secheaders_effective(&p, 0, CSP, &v), SET);
    ck_assert_ptr_nonnull(strstr(v, "require-trusted-types-for 'script'"));
    ck_assert_ptr_null(strstr(v, "data:"));
    ck_assert_int_eq(moat_secheaders_defaults(&p, (enum moat_sech_profile)5), -1);
    ck_assert_int_eq(moat_secheaders_effective(&p, 0, MOAT_SECH_HSTS, &v), OFF);
    ck_assert_int_eq(moat_secheaders_profile_parse("standard", &prof), 0);
    ck_assert_int_eq(prof, MOAT_SECH_STANDARD);
    ck_assert_int_eq(moat_secheaders_profile_parse("strict", &prof), 0);
    ck_assert_int_eq(prof, MOAT_SECH_STRICT);
    ck_assert_int_eq(moat_secheaders_profile_parse("Strict", &prof), -1);
    ck_assert_int_eq(moat_secheaders_profile_parse(NULL, &prof), -1);
}
END_TEST

START_TEST(test_names)
{
    enum moat_sech_mode m = OFF;
    int id;

    for (id = 0; id < MOAT_SECH_COUNT; id++) {
        const char *name = moat_secheaders_name((enum moat_sech_id)id);
        const char *key = moat_secheaders_key((enum moat_sech_id)id);

        ck_assert_int_eq(moat_secheaders_lookup(name, strlen(name)), id);
        ck_assert_int_eq(moat_secheaders_lookup(key, strlen(key)), id);
    }
    ck_assert_int_eq(moat_secheaders_lookup("x-frame-OPTIONS", 15), MOAT_SECH_XFO);
    ck_assert_int_eq(moat_secheaders_lookup("Content-Security-Policy-Report", 30), -1);
    ck_assert_int_eq(moat_secheaders_lookup("csp", 2), -1);
    ck_assert_ptr_null(moat_secheaders_name(MOAT_SECH_COUNT));
    ck_assert_ptr_null(moat_secheaders_key((enum moat_sech_id) - 1));
    ck_assert_int_eq(moat_secheaders_mode_parse("set", &m), 0);
    ck_assert_int_eq(m, SET);
    ck_assert_int_eq(moat_secheaders_mode_parse("default", &m), 0);
    ck_assert_int_eq(m, DEF);
    ck_assert_int_eq(moat_secheaders_mode_parse("off", &m), 0);
    ck_assert_int_eq(m, OFF);
    ck_assert_int_eq(moat_secheaders_mode_parse("inherit", &m), 0);
    ck_assert_int_eq(m, MOAT_SECH_INHERIT);
    ck_assert_int_eq(moat_secheaders_mode_parse("SET", &m), -1);
    ck_assert_int_eq(moat_secheaders_mode_parse(NULL, &m), -1);
    ck_assert_str_eq(moat_secheaders_mode_name(DEF), "default");
    ck_assert_str_eq(moat_secheaders_mode_name((enum moat_sech_mode)8), "?");
}
END_TEST

/* Overrides merge field by field; INHERIT in the base means OFF. */
START_TEST(test_effective_merge)
{
    struct moat_secheaders p;
    char err[256] = "";
    const char *v = NULL;
    size_t sc;

    moat_secheaders_init(&p);
    ck_assert_int_eq(moat_secheaders_set(&p, 0, CSP, MOAT_SECH_INHERIT, "base", err, 256), 0);
    ck_assert_int_eq(moat_secheaders_effective(&p, 0, CSP, &v), OFF);
    ck_assert_int_eq(moat_secheaders_add_override(&p, "/o", &sc, err, sizeof(err)), 0);
    ck_assert_int_eq(moat_secheaders_set(&p, sc, CSP, DEF, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(moat_secheaders_effective(&p, sc, CSP, &v), DEF);
    ck_assert_str_eq(v, "base");
    ck_assert_int_eq(moat_secheaders_set(&p, 0, CSP, SET, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(moat_secheaders_set(&p, sc, CSP, MOAT_SECH_INHERIT, "mine", err, 256), 0);
    ck_assert_int_eq(moat_secheaders_effective(&p, sc, CSP, &v), SET);
    ck_assert_str_eq(v, "mine");
    ck_assert_int_eq(moat_secheaders_effective(&p, 0, CSP, &v), SET);
    ck_assert_str_eq(v, "base");
}
END_TEST

/* --- lint ------------------------------------------------------------------------------------ */

/* Warnings collected from the callback. */
struct seen {
    char codes[2048]; /* " code@where" for each warning */
    int n;            /* warnings */
};

static void collect(void *arg, const char *code, const char *where, const char *msg)
{
    struct seen *s = arg;
    size_t len = strlen(s->codes);

    ck_assert_ptr_nonnull(msg);
    ck_assert_int_gt(strlen(msg), 10);
    (void)snprintf(s->codes + len, sizeof(s->codes) - len, " %s@%s", code, where);
    s->n++;
}

struct lint_case {
    const char *label; /* shown on failure */
    const char *hsts;  /* values set with SET; NULL leaves the header OFF */
    const char *csp;
    const char *xfo;
    const char *xcto;
    const char *ref;
    int nonce;        /* nonces on */
    const char *code; /* warning code looked for */
    int want;         /* 1 when it must be reported, 0 when it must not */
};

#define H_OK "max-age=63072000; includeSubDomains"
#define C_TAIL "; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
#define C_OK "default-src 'self'" C_TAIL
#define GOOD H_OK, C_OK, "DENY", "nosniff", "no-referrer", 1

/* clang-format off */
static const struct lint_case lint_cases[] = {
    {"good policy: nothing", GOOD, "", 0},
    {"hsts off", NULL, C_OK, "DENY", "nosniff", NULL, 1, "hsts-off", 1},
    {"hsts on", GOOD, "hsts-off", 0},
    {"hsts short", "max-age=15551999", C_OK, "DENY", "nosniff", NULL, 1, "hsts-short", 1},
    {"hsts six months", "max-age=15552000", C_OK, "DENY", "nosniff", NULL, 1, "hsts-short", 0},
    {"hsts quoted short", "max-age=\"300\"", C_OK, "DENY", "nosniff", NULL, 1, "hsts-short", 1},
    {"hsts huge", "max-age=99999999999999999999999", C_OK, "DENY", "nosniff", NULL, 1,
     "hsts-short", 0},
    {"hsts no max-age", "includeSubDomains", C_OK, "DENY", "nosniff", NULL, 1, "hsts-no-max-age",
     1},
    {"hsts max-age any case", "MAX-AGE=63072000", C_OK, "DENY", "nosniff", NULL, 1,
     "hsts-no-max-age", 0},
    {"preload alone", "max-age=63072000; preload", C_OK, "DENY", "nosniff", NULL, 1,
     "hsts-preload-no-subdomains", 1},
    {"preload with subdomains", "max-age=63072000;includeSubDomains;preload", C_OK, "DENY",
     "nosniff", NULL, 1, "hsts-preload-no-subdomains", 0},
    {"csp off", H_OK, NULL, "DENY", "nosniff", NULL, 1, "csp-off", 1},
    {"csp on", GOOD, "csp-off", 0},
    {"unsafe-inline", H_OK, "script-src 'self' 'unsafe-inline'" C_TAIL, "DENY", "nosniff", NULL,
     1, "csp-unsafe-inline", 1},
    {"unsafe-inline with nonce", H_OK, "script-src 'unsafe-inline' 'nonce-{nonce}'" C_TAIL,
     "DENY", "nosniff", NULL, 1, "csp-unsafe-inline", 0},
    {"unsafe-inline, nonces off", H_OK, "script-src 'unsafe-inline' 'nonce-{nonce}'" C_TAIL,
     "DENY", "nosniff", NULL, 0, "csp-unsafe-inline", 1},
    {"unsafe-inline with hash", H_OK, "script-src 'unsafe-inline' 'sha256-abc='" C_TAIL, "DENY",
     "nosniff", NULL, 0, "csp-unsafe-inline", 0},
    {"unsafe-inline with static nonce", H_OK, "script-src 'unsafe-inline' 'nonce-abc'" C_TAIL,
     "DENY", "nosniff", NULL, 0, "csp-unsafe-inline", 0},
    {"unsafe-inline in default-src", H_OK, "default-src 'self' 'UNSAFE-INLINE'" C_TAIL, "DENY",
     "nosniff", NULL, 1, "csp-unsafe-inline", 1},
    {"script-src wins over default-src", H_OK,
     "default-src 'unsafe-inline'; script-src 'self'" C_TAIL, "DENY", "nosniff", NULL, 1,
     "csp-unsafe-inline", 0},
    {"unsafe-inline in style-src only", H_OK, "style-src 'unsafe-inline'; default-src 'self'"
     C_TAIL, "DENY", "nosniff", NULL, 1, "csp-unsafe-inline", 0},
    {"unsafe-eval", H_OK, "script-src 'self' 'unsafe-eval'" C_TAIL, "DENY", "nosniff", NULL, 1,
     "csp-unsafe-eval", 1},
    {"no unsafe-eval", GOOD, "csp-unsafe-eval", 0},
    {"wildcard img", H_OK, C_OK "; img-src *", "DENY", "nosniff", NULL, 1, "csp-wildcard", 1},
    {"scheme-only script", H_OK, C_OK "; script-src https:", "DENY", "nosniff", NULL, 1,
     "csp-wildcard", 1},
    {"scheme-only any case", H_OK, C_OK "; connect-src HTTP:", "DENY", "nosniff", NULL, 1,
     "csp-wildcard", 1},
    {"wildcard frame-ancestors", H_OK, "default-src 'self'; object-src 'none'; base-uri 'self'; "
     "frame-ancestors *", NULL, "nosniff", NULL, 1, "csp-wildcard", 1},
    {"data: scripts", H_OK, C_OK "; script-src 'self' data:", "DENY", "nosniff", NULL, 1,
     "csp-wildcard", 1},
    {"no script restriction", H_OK, "object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
     "DENY", "nosniff", NULL, 1, "csp-wildcard", 1},
    {"host source is fine", H_OK, C_OK "; img-src https://cdn.example data:", "DENY", "nosniff",
     NULL, 1, "csp-wildcard", 0},
    {"trusted-types * is not a source", H_OK, C_OK "; trusted-types *", "DENY", "nosniff", NULL,
     1, "csp-wildcard", 0},
    {"object-src missing", H_OK, "default-src 'self'; base-uri 'self'", "DENY", "nosniff", NULL,
     1, "csp-object-src", 1},
    {"default-src none covers objects", H_OK, "default-src 'none'; base-uri 'self'", "DENY",
     "nosniff", NULL, 1, "csp-object-src", 0},
    {"object-src self", H_OK, "default-src 'none'; object-src 'self'; base-uri 'none'", "DENY",
     "nosniff", NULL, 1, "csp-object-src", 1},
    {"object-src none plus more", H_OK, "default-src 'none'; object-src 'none' 'self'", "DENY",
     "nosniff", NULL, 1, "csp-object-src", 1},
    {"object-src none", GOOD, "csp-object-src", 0},
    {"base-uri missing", H_OK, "default-src 'none'", "DENY", "nosniff", NULL, 1, "csp-base-uri",
     1},
    {"base-uri present", GOOD, "csp-base-uri", 0},
    {"frame protection missing", H_OK, "default-src 'self'", NULL, "nosniff", NULL, 1,
     "xfo-missing", 1},
    {"frame-ancestors alone", H_OK, C_OK, NULL, "nosniff", NULL, 1, "xfo-missing", 0},
    {"xfo alone", H_OK, NULL, "DENY", "nosniff", NULL, 1, "xfo-missing", 0},
    {"deny vs self", H_OK, "default-src 'self'; frame-ancestors 'self'", "DENY", "nosniff", NULL,
     1, "xfo-inconsistent", 1},
    {"sameorigin vs none", H_OK, C_OK, "SAMEORIGIN", "nosniff", NULL, 1, "xfo-inconsistent", 1},
    {"sameorigin vs self", H_OK, "default-src 'self'; frame-ancestors 'self'", "sameorigin",
     "nosniff", NULL, 1, "xfo-inconsistent", 0},
    {"deny vs none plus host", H_OK, "frame-ancestors 'none' https://x", "DENY", "nosniff", NULL,
     1, "xfo-inconsistent", 1},
    {"deny vs none", GOOD, "xfo-inconsistent", 0},
    {"allow-from", H_OK, C_OK, "ALLOW-FROM https://x", "nosniff", NULL, 1, "xfo-invalid", 1},
    {"deny is valid", GOOD, "xfo-invalid", 0},
    {"nosniff off", H_OK, C_OK, "DENY", NULL, NULL, 1, "xcto-off", 1},
    {"nosniff wrong", H_OK, C_OK, "DENY", "sniff", NULL, 1, "xcto-off", 1},
    {"nosniff on", GOOD, "xcto-off", 0},
    {"unsafe-url", H_OK, C_OK, "DENY", "nosniff", "unsafe-url", 1, "referrer-leaky", 1},
    {"downgrade", H_OK, C_OK, "DENY", "nosniff", "no-referrer-when-downgrade", 1,
     "referrer-leaky", 1},
    {"last policy wins: leaky", H_OK, C_OK, "DENY", "nosniff", "no-referrer, unsafe-url", 1,
     "referrer-leaky", 1},
    {"last policy wins: fine", H_OK, C_OK, "DENY", "nosniff", "unsafe-url,strict-origin", 1,
     "referrer-leaky", 0},
    {"referrer off", H_OK, C_OK, "DENY", "nosniff", NULL, 1, "referrer-leaky", 0},
};
/* clang-format on */

static void set_or_off(struct moat_secheaders *p, enum moat_sech_id id, const char *v)
{
    char err[256] = "";

    ck_assert_msg(moat_secheaders_set(p, 0, id, v != NULL ? SET : OFF, v, err, sizeof(err)) == 0,
                  "%s", err);
}

START_TEST(test_lint_table)
{
    const struct lint_case *c = &lint_cases[_i];
    struct moat_secheaders p;
    struct seen s;
    char needle[64];
    int n;

    memset(&s, 0, sizeof(s));
    moat_secheaders_init(&p);
    moat_secheaders_set_nonce(&p, c->nonce);
    set_or_off(&p, MOAT_SECH_HSTS, c->hsts);
    set_or_off(&p, CSP, c->csp);
    set_or_off(&p, MOAT_SECH_XFO, c->xfo);
    set_or_off(&p, MOAT_SECH_XCTO, c->xcto);
    set_or_off(&p, MOAT_SECH_REFERRER, c->ref);
    n = moat_secheaders_lint(&p, collect, &s);
    ck_assert_int_eq(n, s.n);
    if (c->code[0] == '\0') {
        ck_assert_msg(n == 0, "%s: warnings:%s", c->label, s.codes);
        return;
    }
    (void)snprintf(needle, sizeof(needle), " %s@", c->code);
    ck_assert_msg((strstr(s.codes, needle) != NULL) == c->want, "%s: %s %s in:%s", c->label,
                  c->code, c->want ? "missing" : "reported", s.codes);
}
END_TEST

START_TEST(test_lint_profiles_clean)
{
    struct moat_secheaders p;
    struct seen s;

    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(moat_secheaders_defaults(&p, MOAT_SECH_STANDARD), 0);
    ck_assert_msg(moat_secheaders_lint(&p, collect, &s) == 0, "standard:%s", s.codes);
    ck_assert_int_eq(moat_secheaders_defaults(&p, MOAT_SECH_STRICT), 0);
    ck_assert_msg(moat_secheaders_lint(&p, collect, &s) == 0, "strict:%s", s.codes);
    moat_secheaders_set_nonce(&p, 0);
    ck_assert_msg(moat_secheaders_lint(&p, NULL, NULL) == 0, "strict without nonces");
}
END_TEST

/* Overrides are linted for the headers they change, named by prefix. */
START_TEST(test_lint_overrides)
{
    struct moat_secheaders p;
    struct seen s;
    char err[256] = "";
    size_t sc;

    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(moat_secheaders_defaults(&p, MOAT_SECH_STANDARD), 0);
    ck_assert_int_eq(moat_secheaders_set_hsts(&p, 0, SET, 3600, 1, 0, err, sizeof(err)), 0);
    ck_assert_int_eq(moat_secheaders_add_override(&p, "/docs/", &sc, err, sizeof(err)), 0);
    ck_assert_int_eq(moat_secheaders_set(&p, sc, CSP, SET,
                                         "default-src 'self'; script-src 'unsafe-inline'" C_TAIL,
                                         err, sizeof(err)),
                     0);
    ck_assert_int_eq(moat_secheaders_add_override(&p, "/x", &sc, err, sizeof(err)), 0);
    ck_assert_int_eq(moat_secheaders_set(&p, sc, MOAT_SECH_XCTO, OFF, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(
        moat_secheaders_set(&p, sc, MOAT_SECH_XFO, SET, "SAMEORIGIN", err, sizeof(err)), 0);
    ck_assert_int_eq(moat_secheaders_lint(&p, collect, &s), 4);
    ck_assert_str_eq(s.codes, " hsts-short@ csp-unsafe-inline@/docs xfo-inconsistent@/x"
                              " xcto-off@/x");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("secheaders_policy");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_validation, 0, sizeof(val_cases) / sizeof(val_cases[0]));
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_profiles);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_effective_merge);
    tcase_add_loop_test(tc, test_lint_table, 0, sizeof(lint_cases) / sizeof(lint_cases[0]));
    tcase_add_test(tc, test_lint_profiles_clean);
    tcase_add_test(tc, test_lint_overrides);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
