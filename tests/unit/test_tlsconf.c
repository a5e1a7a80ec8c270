/* test_tlsconf.c - unit tests for the pure TLS policy (profiles, the extra_certs syntax, SNI name
 * matching, client-auth modes, expiry arithmetic), the file-change watch and the ticket key. */
#include <check.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "moat/tlsconf.h"
#include "moat/tlsticket.h"
#include "moat/tlswatch.h"

/* ---- server-name matching ---- */

struct match_case {
    const char *pattern; /* certificate name, normalised */
    const char *name;    /* client name, normalised */
    int want;            /* 2 exact, 1 wildcard, 0 none */
};

static const struct match_case match_cases[] = {
    {"example.com", "example.com", 2},
    {"example.com", "www.example.com", 0},
    {"www.example.com", "example.com", 0},
    {"*.example.com", "www.example.com", 1},
    {"*.example.com", "a-b.example.com", 1},
    {"*.example.com", "example.com", 0},     /* the bare domain is not covered */
    {"*.example.com", "a.b.example.com", 0}, /* one label only */
    {"*.example.com", ".example.com", 0},    /* empty label */
    {"*.example.com", "wwwexample.com", 0},  /* no dot boundary */
    {"*.example.com", "www.example.com.evil", 0},
    {"*.example.com", "www.example.co", 0},
    {"*.example.com", "*.example.com", 0},    /* a client name is never a pattern */
    {"w*.example.com", "www.example.com", 0}, /* partial wildcards are refused */
    {"*w.example.com", "www.example.com", 0},
    {"www.*.com", "www.example.com", 0},
    {"*.*.com", "a.b.com", 0},
    {"*", "localhost", 0},
    {"*.", "a.", 0},
    {"", "example.com", 0},
    {"example.com", "", 0},
    {"localhost", "localhost", 2},
};

START_TEST(test_name_match)
{
    const struct match_case *c = &match_cases[_i];

    ck_assert_msg(moat_tls_name_match(c->pattern, c->name) == c->want, "%s vs %s", c->pattern,
                  c->name);
}
END_TEST

struct norm_case {
    const char *in;
    int ok;
    const char *out;
};

static const struct norm_case norm_cases[] = {
    {"Example.COM", 1, "example.com"},
    {"example.com.", 1, "example.com"},
    {"*.Example.com", 1, "*.example.com"},
    {"a_b-c.example", 1, "a_b-c.example"},
    {"", 0, NULL},
    {".", 0, NULL},
    {"exa mple.com", 0, NULL},
    {"ex\xc3\xa4mple.com", 0, NULL},
    {"example.com/", 0, NULL},
    {"a\nb", 0, NULL},
};

START_TEST(test_name_normalise)
{
    const struct norm_case *c = &norm_cases[_i];
    char out[MOAT_TLS_NAME_MAX];

    ck_assert_int_eq(moat_tls_name_normalise(c->in, out, sizeof(out)), c->ok ? 0 : -1);
    if (c->ok)
        ck_assert_str_eq(out, c->out);
}
END_TEST

START_TEST(test_name_normalise_long)
{
    char in[400], out[MOAT_TLS_NAME_MAX];

    memset(in, 'a', sizeof(in) - 1);
    in[sizeof(in) - 1] = '\0';
    ck_assert_int_eq(moat_tls_name_normalise(in, out, sizeof(out)), -1);
    in[MOAT_TLS_NAME_MAX] = '\0'; /* no room for the NUL */
    ck_assert_int_eq(moat_tls_name_normalise(in, out, sizeof(out)), -1);
    in[MOAT_TLS_NAME_MAX - 1] = '\0';
    ck_assert_int_eq(moat_tls_name_normalise(in, out, sizeof(out)), 0);
}
END_TEST

/* ---- the extra_certs list ---- */

struct pairs_case {
    const char *list;
    int ok;
    size_t n;           /* pairs parsed when ok */
    const char *cert0;  /* first cert when n > 0 */
    const char *key_n1; /* last key when n > 0 */
    const char *why;    /* part of the error when not ok */
};

static const struct pairs_case pairs_cases[] = {
    {"", 1, 0, NULL, NULL, NULL},
    {"   ", 1, 0, NULL, NULL, NULL},
    {"/a.crt:/a.key", 1, 1, "/a.crt", "/a.key", NULL},
    {" /a.crt : /a.key , /b/c.pem:/b/k.pem ", 1, 2, "/a.crt", "/b/k.pem", NULL},
    {"/a.crt:/a.key,/b.crt:/b.key,/c.crt:/c.key", 1, 3, "/a.crt", "/c.key", NULL},
    {"/a.crt", 0, 0, NULL, NULL, "one colon"},
    {"/a.crt:/a.key:/x", 0, 0, NULL, NULL, "one colon"},
    {"/a.crt:", 0, 0, NULL, NULL, "absolute"},
    {":/a.key", 0, 0, NULL, NULL, "absolute"},
    {"a.crt:/a.key", 0, 0, NULL, NULL, "absolute"},
    {"/a crt:/a.key", 0, 0, NULL, NULL, "absolute"},
    {"/a.crt:/a.key,", 0, 0, NULL, NULL, "empty item"},
    {",/a.crt:/a.key", 0, 0, NULL, NULL, "empty item"},
    {"/a.crt:/a.key,,/b.crt:/b.key", 0, 0, NULL, NULL, "empty item"},
    {"/a.crt:/a.key, ,/b.crt:/b.key", 0, 0, NULL, NULL, "empty item"},
    {"/1:/1,/2:/2,/3:/3,/4:/4", 0, 0, NULL, NULL, "more than 3"},
};

START_TEST(test_pairs_parse)
{
    const struct pairs_case *c = &pairs_cases[_i];
    struct moat_tls_pair pairs[3];
    char err[256] = "";
    size_t n = 0;
    int rc = moat_tls_pairs_parse(c->list, pairs, 3, &n, err, sizeof(err));

    ck_assert_msg(rc == (c->ok ? 0 : -1), "case \"%s\": %s", c->list, err);
    if (c->ok) {
        ck_assert_uint_eq(n, c->n);
        if (n > 0) {
            ck_assert_str_eq(pairs[0].cert, c->cert0);
            ck_assert_str_eq(pairs[n - 1].key, c->key_n1);
        }
    } else {
        ck_assert_msg(strstr(err, c->why) != NULL, "case \"%s\": %s", c->list, err);
        ck_assert(strchr(err, '\n') == NULL);
    }
}
END_TEST

START_TEST(test_pairs_append)
{
    struct moat_tls_pair pairs[2];
    char err[256];
    size_t n = 1;

    /* appended after the default pair, and the room left is what counts */
    ck_assert_int_eq(moat_tls_pairs_parse("/b.crt:/b.key", pairs, 2, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(pairs[1].cert, "/b.crt");
    n = 1;
    ck_assert_int_eq(moat_tls_pairs_parse("/b:/b,/c:/c", pairs, 2, &n, err, sizeof(err)), -1);
}
END_TEST

/* ---- profiles ---- */

/* The protocol versions a priority string enables, as a bit set (1 << (v - GNUTLS_TLS1_0)). */
static unsigned prio_versions(const char *prio)
{
    gnutls_priority_t p;
    const unsigned int *list = NULL;
    const char *errpos = NULL;
    unsigned bits = 0;
    int n, i;

    ck_assert_msg(gnutls_priority_init(&p, prio, &errpos) == 0, "%s at %s", prio,
                  errpos != NULL ? errpos : "?");
    n = gnutls_priority_protocol_list(p, &list);
    for (i = 0; i < n; i++)
        bits |= 1u << (list[i] - GNUTLS_TLS1_0);
    gnutls_priority_deinit(p);
    return bits;
}

#define V12 (1u << (GNUTLS_TLS1_2 - GNUTLS_TLS1_0))
#define V13 (1u << (GNUTLS_TLS1_3 - GNUTLS_TLS1_0))

START_TEST(test_profiles)
{
    enum moat_tls_profile p = MOAT_TLS_PROFILE_MODERN;
    const char *s;

    ck_assert_int_eq(moat_tls_profile_parse("intermediate", &p), 0);
    ck_assert_int_eq(p, MOAT_TLS_PROFILE_INTERMEDIATE);
    ck_assert_int_eq(moat_tls_profile_parse("MODERN", &p), 0);
    ck_assert_int_eq(p, MOAT_TLS_PROFILE_MODERN);
    ck_assert_int_eq(moat_tls_profile_parse("old", &p), -1);
    ck_assert_int_eq(moat_tls_profile_parse("", &p), -1);
    ck_assert_int_eq(moat_tls_profile_parse(NULL, &p), -1);
    ck_assert_ptr_null(moat_tls_profile_priority((enum moat_tls_profile)7));

    s = moat_tls_priority_effective("intermediate", "");
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(prio_versions(s), V12 | V13);
    ck_assert(strstr(s, "%SERVER_PRECEDENCE") != NULL && strstr(s, "-KX-ALL") != NULL);
    s = moat_tls_priority_effective("modern", NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(prio_versions(s), V13);
    /* a custom string wins over the profile, whatever the profile says */
    ck_assert_str_eq(moat_tls_priority_effective("modern", "NORMAL"), "NORMAL");
    ck_assert_str_eq(moat_tls_priority_effective("bogus", "NORMAL"), "NORMAL");
    ck_assert_ptr_null(moat_tls_priority_effective("bogus", ""));
}
END_TEST

START_TEST(test_client_auth)
{
    enum moat_tls_client_auth a = MOAT_TLS_CLIENT_AUTH_REQUIRED;

    ck_assert_int_eq(moat_tls_client_auth_parse("off", &a), 0);
    ck_assert_int_eq(a, MOAT_TLS_CLIENT_AUTH_OFF);
    ck_assert_int_eq(moat_tls_client_auth_parse("Optional", &a), 0);
    ck_assert_int_eq(a, MOAT_TLS_CLIENT_AUTH_OPTIONAL);
    ck_assert_int_eq(moat_tls_client_auth_parse("required", &a), 0);
    ck_assert_int_eq(a, MOAT_TLS_CLIENT_AUTH_REQUIRED);
    ck_assert_int_eq(moat_tls_client_auth_parse("yes", &a), -1);
    ck_assert_int_eq(moat_tls_client_auth_parse(NULL, &a), -1);
}
END_TEST

/* ---- expiry ---- */

struct expiry_case {
    long long delta; /* not_after - now, seconds */
    unsigned warn_days;
    long days;
    int warn;
};

static const struct expiry_case expiry_cases[] = {
    {30LL * 86400, 14, 30, 0},
    {14LL * 86400, 14, 14, 0},
    {14LL * 86400 - 1, 14, 13, 1},
    {86399, 14, 0, 1},
    {0, 14, 0, 1},
    {-1, 14, -1, 1},
    {-86400, 14, -1, 1},
    {-86401, 14, -2, 1},
    {1, 0, 0, 0},
    {-5 * 86400LL, 0, -5, 0},
    {400LL * 86400, 3650, 400, 1},
};

START_TEST(test_expiry)
{
    const struct expiry_case *c = &expiry_cases[_i];
    time_t now = 1800000000;

    ck_assert_int_eq(moat_tls_days_left((time_t)(now + c->delta), now), c->days);
    ck_assert_int_eq(moat_tls_expiry_warn((time_t)(now + c->delta), now, c->warn_days), c->warn);
}
END_TEST

/* ---- client subjects as header values ---- */

START_TEST(test_dn_header_value)
{
    char out[32];
    char small[8];

    ck_assert_int_eq(moat_tls_dn_header_value("CN=alice,O=Acme", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "CN=alice,O=Acme");
    ck_assert_int_eq(moat_tls_dn_header_value("CN=J\xc3\xa4ger", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "CN=J\\c3\\a4ger");
    ck_assert_int_eq(moat_tls_dn_header_value("CN=a\r\nX: y", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "CN=a\\0d\\0aX: y");
    ck_assert_int_eq(moat_tls_dn_header_value("CN=\x7f", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "CN=\\7f");
    ck_assert_int_eq(moat_tls_dn_header_value("", out, sizeof(out)), -1);
    ck_assert_int_eq(moat_tls_dn_header_value(NULL, out, sizeof(out)), -1);
    ck_assert_int_eq(moat_tls_dn_header_value("CN=1234", small, sizeof(small)), 0);
    ck_assert_int_eq(moat_tls_dn_header_value("CN=12345", small, sizeof(small)), -1);
    ck_assert_str_eq(small, "");
    ck_assert_int_eq(moat_tls_dn_header_value("CN=\xff", small, sizeof(small)), 0);
    ck_assert_int_eq(moat_tls_dn_header_value("CN=12\xff", small, sizeof(small)), -1);
}
END_TEST

/* ---- the file watch ---- */

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_watch_kubernetes_swap)
{
    char dir[] = "/tmp/moat-tlswatch-XXXXXX";
    char p[512], q[512];
    struct moat_tls_pair pair;
    static struct moat_tlswatch w;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* dir/..2026_a/{tls.crt,tls.key}, dir/..data -> ..2026_a, dir/tls.* -> ..data/tls.* */
    snprintf(p, sizeof(p), "%s/..2026_a", dir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/..2026_a/tls.crt", dir);
    put(p, "cert one");
    snprintf(p, sizeof(p), "%s/..2026_a/tls.key", dir);
    put(p, "key one");
    snprintf(p, sizeof(p), "%s/..data", dir);
    ck_assert_int_eq(symlink("..2026_a", p), 0);
    snprintf(pair.cert, sizeof(pair.cert), "%s/tls.crt", dir);
    snprintf(pair.key, sizeof(pair.key), "%s/tls.key", dir);
    ck_assert_int_eq(symlink("..data/tls.crt", pair.cert), 0);
    ck_assert_int_eq(symlink("..data/tls.key", pair.key), 0);

    ck_assert_int_eq(moat_tlswatch_init(&w, &pair, 1), 0);
    ck_assert_int_eq(moat_tlswatch_poll(&w), 0);
    ck_assert_int_eq(moat_tlswatch_poll(&w), 0);

    /* the new generation, same sizes, then ..data swapped atomically */
    snprintf(p, sizeof(p), "%s/..2026_b", dir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/..2026_b/tls.crt", dir);
    put(p, "cert two");
    snprintf(p, sizeof(p), "%s/..2026_b/tls.key", dir);
    put(p, "key two");
    ck_assert_int_eq(moat_tlswatch_poll(&w), 0); /* not visible yet */
    snprintf(p, sizeof(p), "%s/..data_tmp", dir);
    ck_assert_int_eq(symlink("..2026_b", p), 0);
    snprintf(q, sizeof(q), "%s/..data", dir);
    ck_assert_int_eq(rename(p, q), 0);
    /* seen, then reported once the files stayed put for a poll, and only once */
    ck_assert_int_eq(moat_tlswatch_poll(&w), 0);
    ck_assert_int_eq(moat_tlswatch_poll(&w), 1);
    ck_assert_int_eq(moat_tlswatch_poll(&w), 0);

    /* a file that vanishes and comes back is a change too */
    snprintf(p, sizeof(p), "%s/..2026_b/tls.key", dir);
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(moat_tlswatch_poll(&w), 0);
    ck_assert_int_eq(moat_tlswatch_poll(&w), 1);
    put(p, "key three");
    ck_assert_int_eq(moat_tlswatch_poll(&w), 0);
    ck_assert_int_eq(moat_tlswatch_poll(&w), 1);

    /* clean up */
    snprintf(p, sizeof(p), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(p), 0);
}
END_TEST

START_TEST(test_watch_state)
{
    struct moat_tlswatch_state a, b;

    memset(&a, 0, sizeof(a));
    a.present = 1;
    a.ino = 5;
    b = a;
    ck_assert_int_eq(moat_tlswatch_state_differs(&a, &b), 0);
    b.ctime_ns++;
    ck_assert_int_eq(moat_tlswatch_state_differs(&a, &b), 1);
    b = a;
    b.ino = 6;
    ck_assert_int_eq(moat_tlswatch_state_differs(&a, &b), 1);
    b = a;
    b.present = 0;
    ck_assert_int_eq(moat_tlswatch_state_differs(&a, &b), 1);
    moat_tlswatch_stat("/nonexistent/moat/file", &b);
    ck_assert_int_eq(b.present, 0);
}
END_TEST

/* ---- the ticket key ---- */

START_TEST(test_ticket_schedule)
{
    struct moat_tlsticket *t = moat_tlsticket_new(60);
    gnutls_session_t s;

    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(moat_tlsticket_generation(t), 1);
    ck_assert_int_eq(moat_tlsticket_tick(t, 1000), 0); /* schedules */
    ck_assert_int_eq(moat_tlsticket_tick(t, 60999), 0);
    ck_assert_int_eq(moat_tlsticket_tick(t, 61000), 1);
    ck_assert_uint_eq(moat_tlsticket_generation(t), 2);
    ck_assert_int_eq(moat_tlsticket_tick(t, 61001), 0);
    ck_assert_int_eq(moat_tlsticket_tick(t, 121000), 1);
    ck_assert_uint_eq(moat_tlsticket_generation(t), 3);
    ck_assert_int_eq(moat_tlsticket_tick(NULL, 1), 0);
    ck_assert_int_eq(gnutls_init(&s, GNUTLS_SERVER), 0);
    ck_assert_int_eq(moat_tlsticket_apply(t, s), 0); /* GnuTLS accepts the key */
    ck_assert_int_eq(moat_tlsticket_apply(NULL, s), 0);
    gnutls_deinit(s);
    moat_tlsticket_free(t);
    moat_tlsticket_free(NULL);
    ck_assert_ptr_null(moat_tlsticket_new(0));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tlsconf");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_name_match, 0, sizeof match_cases / sizeof match_cases[0]);
    tcase_add_loop_test(tc, test_name_normalise, 0, sizeof norm_cases / sizeof norm_cases[0]);
    tcase_add_test(tc, test_name_normalise_long);
    tcase_add_loop_test(tc, test_pairs_parse, 0, sizeof pairs_cases / sizeof pairs_cases[0]);
    tcase_add_test(tc, test_pairs_append);
    tcase_add_test(tc, test_profiles);
    tcase_add_test(tc, test_client_auth);
    tcase_add_loop_test(tc, test_expiry, 0, sizeof expiry_cases / sizeof expiry_cases[0]);
    tcase_add_test(tc, test_dn_header_value);
    tcase_add_test(tc, test_watch_kubernetes_swap);
    tcase_add_test(tc, test_watch_state);
    tcase_add_test(tc, test_ticket_schedule);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
