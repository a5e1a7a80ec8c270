/* test_cookie.c - unit tests for Set-Cookie hardening (flags, SameSite, prefixes, malformed). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "moat/cookie.h"

#define OUT_CAP 1024
#define CANARY 0x5a
#define MAL NULL /* expected output of a malformed value: passed through untouched */

/* The policies the cases run under. */
enum pol {
    P_DEF = 0, /* defaults, script-readable "csrftoken, XSRF-TOKEN" */
    P_HTTP,    /* Secure not added (plain-HTTP response) */
    P_STRICT,  /* SameSite=Strict added */
    P_SSOFF,   /* SameSite not added */
    P_NOHO,    /* HttpOnly not added */
};

struct cookie_case {
    const char *label; /* shown on failure */
    enum pol pol;      /* policy */
    const char *in;    /* Set-Cookie value */
    const char *want;  /* hardened value, MAL for malformed */
    int changed;       /* expected *changed */
};

#define ALL "; Secure; HttpOnly; SameSite=Lax"
#define EXP "Expires=Wed, 21 Oct 2015 07:28:00 GMT"

/* clang-format off */
static const struct cookie_case cases[] = {
    {"bare cookie", P_DEF, "id=1", "id=1" ALL, 1},
    {"path kept first", P_DEF, "id=1; Path=/", "id=1; Path=/" ALL, 1},
    {"already hardened", P_DEF, "id=1; Secure; HttpOnly; SameSite=Lax",
     "id=1; Secure; HttpOnly; SameSite=Lax", 0},
    {"attribute names any case", P_DEF, "id=1; secure; httponly; samesite=lax",
     "id=1; secure; httponly; samesite=lax", 0},
    {"upper case strict", P_DEF, "id=1; SECURE; HTTPONLY; SAMESITE=STRICT",
     "id=1; SECURE; HTTPONLY; SAMESITE=STRICT", 0},
    {"strict kept", P_DEF, "id=1; SameSite=Strict", "id=1; SameSite=Strict; Secure; HttpOnly", 1},
    {"none kept, secure added", P_DEF, "id=1; SameSite=None",
     "id=1; SameSite=None; Secure; HttpOnly", 1},
    {"none over http still needs secure", P_HTTP, "id=1; SameSite=None",
     "id=1; SameSite=None; Secure; HttpOnly", 1},
    {"http policy: no secure", P_HTTP, "id=1", "id=1; HttpOnly; SameSite=Lax", 1},
    {"lax kept under strict policy", P_STRICT, "id=1; SameSite=Lax",
     "id=1; SameSite=Lax; Secure; HttpOnly", 1},
    {"strict policy adds strict", P_STRICT, "id=1", "id=1; Secure; HttpOnly; SameSite=Strict", 1},
    {"samesite off", P_SSOFF, "id=1", "id=1; Secure; HttpOnly", 1},
    {"samesite off keeps bogus", P_SSOFF, "id=1; SameSite=x; Secure; HttpOnly",
     "id=1; SameSite=x; Secure; HttpOnly", 0},
    {"httponly off", P_NOHO, "id=1", "id=1; Secure; SameSite=Lax", 1},
    {"script readable", P_DEF, "csrftoken=abc", "csrftoken=abc; Secure; SameSite=Lax", 1},
    {"script readable second name", P_DEF, "XSRF-TOKEN=abc; Path=/",
     "XSRF-TOKEN=abc; Path=/; Secure; SameSite=Lax", 1},
    {"readable names are case-sensitive", P_DEF, "CSRFTOKEN=abc", "CSRFTOKEN=abc" ALL, 1},
    {"readable needs the whole name", P_DEF, "csrftoken2=abc", "csrftoken2=abc" ALL, 1},
    {"readable keeps app's HttpOnly", P_DEF, "csrftoken=abc; HttpOnly",
     "csrftoken=abc; HttpOnly; Secure; SameSite=Lax", 1},
    {"expires with commas untouched", P_DEF, "id=1; " EXP "; Path=/",
     "id=1; " EXP "; Path=/" ALL, 1},
    {"expires, complete", P_DEF, "id=1; " EXP "; Secure; HttpOnly; SameSite=Lax",
     "id=1; " EXP "; Secure; HttpOnly; SameSite=Lax", 0},
    {"expires last", P_DEF, "id=1; " EXP, "id=1; " EXP ALL, 1},
    {"trailing semicolon", P_DEF, "id=1;", "id=1" ALL, 1},
    {"trailing semicolon and space", P_DEF, "id=1; Path=/; ", "id=1; Path=/" ALL, 1},
    {"trailing junk kept when unchanged", P_DEF, "id=1; Secure; HttpOnly; SameSite=Lax;",
     "id=1; Secure; HttpOnly; SameSite=Lax;", 0},
    {"tight spacing kept", P_DEF, "id=1;Path=/;secure", "id=1;Path=/;secure; HttpOnly; SameSite=Lax",
     1},
    {"loose spacing kept", P_DEF, "id = 1 ;  Path = /", "id = 1 ;  Path = /" ALL, 1},
    {"tab kept", P_DEF, "id=1;\tPath=/", "id=1;\tPath=/" ALL, 1},
    {"__Host- gets Path", P_DEF, "__Host-s=1; Secure",
     "__Host-s=1; Secure; Path=/; HttpOnly; SameSite=Lax", 1},
    {"__Host- with path over http", P_HTTP, "__Host-s=1; Path=/",
     "__Host-s=1; Path=/; Secure; HttpOnly; SameSite=Lax", 1},
    {"__host- any case", P_HTTP, "__host-s=1; Path=/",
     "__host-s=1; Path=/; Secure; HttpOnly; SameSite=Lax", 1},
    {"__Host- domain left alone", P_DEF, "__Host-x=1; Domain=example.com; Secure; Path=/",
     "__Host-x=1; Domain=example.com; Secure; Path=/; HttpOnly; SameSite=Lax", 1},
    {"__Secure- over http", P_HTTP, "__Secure-x=1", "__Secure-x=1" ALL, 1},
    {"__Secure- complete", P_DEF, "__Secure-x=1; Secure; HttpOnly; SameSite=Strict",
     "__Secure-x=1; Secure; HttpOnly; SameSite=Strict", 0},
    {"partitioned over http", P_HTTP, "id=1; Partitioned; SameSite=None",
     "id=1; Partitioned; SameSite=None; Secure; HttpOnly", 1},
    {"bogus samesite replaced in place", P_DEF, "id=1; SameSite=Bogus; Path=/",
     "id=1; SameSite=Lax; Path=/; Secure; HttpOnly", 1},
    {"empty samesite replaced", P_DEF, "id=1; SameSite", "id=1; SameSite=Lax; Secure; HttpOnly", 1},
    {"spaced bogus replaced", P_STRICT, "id=1;  samesite = x ; Secure",
     "id=1;  SameSite=Strict ; Secure; HttpOnly", 1},
    {"last samesite counts: none", P_HTTP, "id=1; SameSite=Strict; SameSite=None",
     "id=1; SameSite=Strict; SameSite=None; Secure; HttpOnly", 1},
    {"last samesite counts: strict", P_HTTP, "id=1; SameSite=None; SameSite=Strict",
     "id=1; SameSite=None; SameSite=Strict; HttpOnly", 1},
    {"attribute values ignored for flags", P_DEF, "id=1; HttpOnly=yes; Secure=no; SameSite=Lax",
     "id=1; HttpOnly=yes; Secure=no; SameSite=Lax", 0},
    {"secure as a name", P_DEF, "secure=1", "secure=1" ALL, 1},
    {"secure as a value", P_DEF, "id=Secure", "id=Secure" ALL, 1},
    {"secure in a path", P_DEF, "id=1; Path=/Secure", "id=1; Path=/Secure" ALL, 1},
    {"securely is not secure", P_DEF, "id=1; Securely", "id=1; Securely" ALL, 1},
    {"quoted value", P_DEF, "id=\"a b\"", "id=\"a b\"" ALL, 1},
    {"empty value", P_DEF, "id=", "id=" ALL, 1},
    {"equals in value", P_DEF, "id=a=b==", "id=a=b==" ALL, 1},
    {"utf-8 value", P_DEF, "id=caf\xc3\xa9", "id=caf\xc3\xa9" ALL, 1},
    {"deletion cookie", P_DEF, "id=; Max-Age=0; Path=/", "id=; Max-Age=0; Path=/" ALL, 1},
    {"name with spaces around", P_DEF, " id =1", " id =1" ALL, 1},
    {"malformed: empty", P_DEF, "", MAL, 0},
    {"malformed: no equals", P_DEF, "novalue", MAL, 0},
    {"malformed: equals only in attributes", P_DEF, "noeq; a=b", MAL, 0},
    {"malformed: empty name", P_DEF, "=abc", MAL, 0},
    {"malformed: blank name", P_DEF, "  =abc; Secure", MAL, 0},
    {"malformed: space in name", P_DEF, "a b=c", MAL, 0},
    {"malformed: parens in name", P_DEF, "(x)=1", MAL, 0},
    {"malformed: CRLF", P_DEF, "id=1\r\nX-Evil: y", MAL, 0},
    {"malformed: control byte", P_DEF, "id=1\x01", MAL, 0},
    {"malformed: DEL in attribute", P_DEF, "id=1; Path=/\x7f", MAL, 0},
    {"malformed: non-ascii name", P_DEF, "caf\xc3\xa9=1", MAL, 0},
};
/* clang-format on */

static void policy_for(enum pol which, struct moat_cookie_policy *p)
{
    moat_cookie_policy_defaults(p);
    p->script_readable = "csrftoken, XSRF-TOKEN";
    if (which == P_HTTP)
        p->secure = 0;
    else if (which == P_STRICT)
        p->samesite = MOAT_COOKIE_SAMESITE_STRICT;
    else if (which == P_SSOFF)
        p->samesite = MOAT_COOKIE_SAMESITE_OFF;
    else if (which == P_NOHO)
        p->httponly = 0;
}

START_TEST(test_harden_table)
{
    const struct cookie_case *c = &cases[_i];
    struct moat_cookie_policy p;
    char out[OUT_CAP];
    size_t out_len = 99;
    int changed = 99;
    enum moat_cookie_rc rc;

    policy_for(c->pol, &p);
    memset(out, CANARY, sizeof(out));
    rc = moat_cookie_harden(c->in, strlen(c->in), &p, out, sizeof(out), &out_len, &changed);
    if (c->want == MAL) {
        ck_assert_msg(rc == MOAT_COOKIE_MALFORMED, "%s: rc %d", c->label, rc);
        ck_assert_msg((unsigned char)out[0] == CANARY, "%s: out written", c->label);
        return;
    }
    ck_assert_msg(rc == MOAT_COOKIE_OK, "%s: rc %d", c->label, rc);
    ck_assert_msg(out_len == strlen(out) && strcmp(out, c->want) == 0,
                  "%s:\n got  [%s]\n want [%s]", c->label, out, c->want);
    ck_assert_msg(changed == c->changed, "%s: changed %d", c->label, changed);
    ck_assert_msg(changed == (strcmp(c->in, c->want) != 0), "%s: changed disagrees", c->label);
}
END_TEST

/* The output fits in len + MOAT_COOKIE_GROWTH + 1, exactly in want + NUL, fails
 * one byte short, and nothing is written past cap. */
START_TEST(test_harden_cap)
{
    const struct cookie_case *c = &cases[_i];
    struct moat_cookie_policy p;
    char out[OUT_CAP];
    size_t want_len;
    size_t out_len;
    size_t cap;
    size_t i;
    int changed;

    if (c->want == MAL)
        return;
    policy_for(c->pol, &p);
    want_len = strlen(c->want);
    ck_assert_msg(want_len <= strlen(c->in) + MOAT_COOKIE_GROWTH, "%s: growth", c->label);
    memset(out, CANARY, sizeof(out));
    ck_assert_int_eq(
        moat_cookie_harden(c->in, strlen(c->in), &p, out, want_len + 1, &out_len, &changed),
        MOAT_COOKIE_OK);
    ck_assert_int_eq((unsigned char)out[want_len + 1], CANARY);
    for (cap = 0; cap <= want_len; cap++) {
        memset(out, CANARY, sizeof(out));
        ck_assert_msg(moat_cookie_harden(c->in, strlen(c->in), &p, out, cap, &out_len, &changed) ==
                          MOAT_COOKIE_ERROR,
                      "%s: cap %zu", c->label, cap);
        ck_assert_int_eq(out_len, 0);
        for (i = cap; i < want_len + 2; i++)
            ck_assert_msg((unsigned char)out[i] == CANARY, "%s: wrote past %zu", c->label, cap);
    }
}
END_TEST

/* Lengths, not strings: bytes after len are never read, a NUL inside is malformed. */
START_TEST(test_harden_lengths)
{
    struct moat_cookie_policy p;
    char out[OUT_CAP];
    size_t out_len;
    int changed;

    moat_cookie_policy_defaults(&p);
    ck_assert_int_eq(
        moat_cookie_harden("id=1; HttpOnly", 4, &p, out, sizeof(out), &out_len, &changed),
        MOAT_COOKIE_OK);
    ck_assert_str_eq(out, "id=1" ALL);
    ck_assert_int_eq(
        moat_cookie_harden("id=1\0; Secure", 14, &p, out, sizeof(out), &out_len, &changed),
        MOAT_COOKIE_MALFORMED);
    ck_assert_int_eq(moat_cookie_harden(NULL, 0, &p, out, sizeof(out), &out_len, &changed),
                     MOAT_COOKIE_ERROR);
    ck_assert_int_eq(moat_cookie_harden("id=1", 4, NULL, out, sizeof(out), &out_len, &changed),
                     MOAT_COOKIE_ERROR);
    ck_assert_int_eq(moat_cookie_harden("id=1", 4, &p, NULL, 0, &out_len, &changed),
                     MOAT_COOKIE_ERROR);
    p.samesite = (enum moat_cookie_samesite)7;
    ck_assert_int_eq(moat_cookie_harden("id=1", 4, &p, out, sizeof(out), &out_len, &changed),
                     MOAT_COOKIE_ERROR);
}
END_TEST

/* Every growth path at once stays within MOAT_COOKIE_GROWTH. */
START_TEST(test_harden_worst_growth)
{
    struct moat_cookie_policy p;
    char out[64];
    size_t out_len;
    int changed;

    moat_cookie_policy_defaults(&p);
    p.samesite = MOAT_COOKIE_SAMESITE_STRICT;
    ck_assert_int_eq(
        moat_cookie_harden("__Host-a=", 9, &p, out, 9 + MOAT_COOKIE_GROWTH + 1, &out_len, &changed),
        MOAT_COOKIE_OK);
    ck_assert_str_eq(out, "__Host-a=; Path=/; Secure; HttpOnly; SameSite=Strict");
    ck_assert_int_eq(moat_cookie_harden("__Host-a=;SameSite", 18, &p, out,
                                        18 + MOAT_COOKIE_GROWTH + 1, &out_len, &changed),
                     MOAT_COOKIE_OK);
    ck_assert_str_eq(out, "__Host-a=;SameSite=Strict; Path=/; Secure; HttpOnly");
}
END_TEST

struct ss_case {
    const char *s;                  /* text */
    int rc;                         /* expected return */
    enum moat_cookie_samesite want; /* expected value when rc is 0 */
};

static const struct ss_case ss_cases[] = {
    {"lax", 0, MOAT_COOKIE_SAMESITE_LAX}, {"Strict", 0, MOAT_COOKIE_SAMESITE_STRICT},
    {"OFF", 0, MOAT_COOKIE_SAMESITE_OFF}, {"none", -1, MOAT_COOKIE_SAMESITE_OFF},
    {"", -1, MOAT_COOKIE_SAMESITE_OFF},   {"laxx", -1, MOAT_COOKIE_SAMESITE_OFF},
    {NULL, -1, MOAT_COOKIE_SAMESITE_OFF},
};

START_TEST(test_samesite_parse)
{
    const struct ss_case *c = &ss_cases[_i];
    enum moat_cookie_samesite v = MOAT_COOKIE_SAMESITE_OFF;

    ck_assert_int_eq(moat_cookie_samesite_parse(c->s, &v), c->rc);
    if (c->rc == 0)
        ck_assert_int_eq(v, c->want);
}
END_TEST

struct names_case {
    const char *names; /* script_readable */
    int rc;            /* expected return */
};

static const struct names_case names_cases[] = {
    {NULL, 0},   {"", 0},     {"csrftoken", 0},    {"a, b,c  d\t e,", 0}, {"__Host-x", 0},
    {"a;b", -1}, {"a=b", -1}, {"caf\xc3\xa9", -1}, {"ok, (bad)", -1},     {"\"q\"", -1},
};

START_TEST(test_policy_check)
{
    const struct names_case *c = &names_cases[_i];
    struct moat_cookie_policy p;
    char err[256] = "";

    moat_cookie_policy_defaults(&p);
    p.script_readable = c->names;
    ck_assert_msg(moat_cookie_policy_check(&p, err, sizeof(err)) == c->rc, "%s",
                  c->names != NULL ? c->names : "(null)");
    if (c->rc < 0)
        ck_assert_ptr_nonnull(strstr(err, "not a cookie name"));
}
END_TEST

START_TEST(test_policy_check_long)
{
    struct moat_cookie_policy p;
    char names[MOAT_COOKIE_NAMES_MAX + 2];
    char err[256] = "";

    memset(names, 'a', sizeof(names) - 1);
    names[sizeof(names) - 1] = '\0';
    moat_cookie_policy_defaults(&p);
    p.script_readable = names;
    ck_assert_int_eq(moat_cookie_policy_check(&p, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "longer"));
    names[MOAT_COOKIE_NAMES_MAX] = '\0';
    ck_assert_int_eq(moat_cookie_policy_check(&p, NULL, 0), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cookie");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_harden_table, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_loop_test(tc, test_harden_cap, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_test(tc, test_harden_lengths);
    tcase_add_test(tc, test_harden_worst_growth);
    tcase_add_loop_test(tc, test_samesite_parse, 0, sizeof(ss_cases) / sizeof(ss_cases[0]));
    tcase_add_loop_test(tc, test_policy_check, 0, sizeof(names_cases) / sizeof(names_cases[0]));
    tcase_add_test(tc, test_policy_check_long);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
