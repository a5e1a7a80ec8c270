/* test_connlimit.c - unit tests for connection admission (total and per address). */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "moat/connlimit.h"

/* A scripted sequence: op 'a' = admit?, '+' = add, '-' = remove. */
struct step {
    char op;
    const char *ip;
    int expect; /* for 'a': expected verdict */
};

struct script {
    unsigned max_total;
    unsigned max_per_ip;
    struct step steps[12];
};

static const struct script scripts[] = {
    /* per-address limit 2, total 10 */
    {10,
     2,
     {{'+', "10.0.0.1", 0},
      {'+', "10.0.0.1", 0},
      {'a', "10.0.0.1", MOAT_CONNLIMIT_PER_IP},
      {'a', "10.0.0.2", MOAT_CONNLIMIT_OK},
      {'-', "10.0.0.1", 0},
      {'a', "10.0.0.1", MOAT_CONNLIMIT_OK},
      {0, NULL, 0}}},
    /* total limit 2 across addresses */
    {2,
     0,
     {{'+', "10.0.0.1", 0},
      {'+', "::1", 0},
      {'a', "10.0.0.3", MOAT_CONNLIMIT_TOTAL},
      {'-', "::1", 0},
      {'a', "10.0.0.3", MOAT_CONNLIMIT_OK},
      {0, NULL, 0}}},
    /* IPv4-mapped IPv6 counts as the IPv4 address */
    {0,
     1,
     {{'+', "192.0.2.7", 0},
      {'a', "::ffff:192.0.2.7", MOAT_CONNLIMIT_PER_IP},
      {'a', "2001:db8::7", MOAT_CONNLIMIT_OK},
      {'-', "::ffff:192.0.2.7", 0},
      {'a', "192.0.2.7", MOAT_CONNLIMIT_OK},
      {0, NULL, 0}}},
    /* unlimited */
    {0,
     0,
     {{'+', "10.0.0.1", 0},
      {'+', "10.0.0.1", 0},
      {'a', "10.0.0.1", MOAT_CONNLIMIT_OK},
      {0, NULL, 0}}},
    /* removing more than added never underflows */
    {1,
     1,
     {{'-', "10.0.0.1", 0},
      {'a', "10.0.0.1", MOAT_CONNLIMIT_OK},
      {'+', "10.0.0.1", 0},
      {'a', "10.0.0.9", MOAT_CONNLIMIT_TOTAL},
      {0, NULL, 0}}},
};

static int parse(const char *ip, unsigned char *addr)
{
    if (inet_pton(AF_INET, ip, addr) == 1)
        return AF_INET;
    ck_assert_int_eq(inet_pton(AF_INET6, ip, addr), 1);
    return AF_INET6;
}

START_TEST(test_scripts)
{
    const struct script *s = &scripts[_i];
    struct moat_connlimit *cl = moat_connlimit_new(s->max_total, s->max_per_ip);
    unsigned char addr[16];
    size_t i;
    int fam;

    ck_assert_ptr_nonnull(cl);
    for (i = 0; s->steps[i].op != 0; i++) {
        memset(addr, 0, sizeof(addr));
        fam = parse(s->steps[i].ip, addr);
        if (s->steps[i].op == 'a')
            ck_assert_msg((int)moat_connlimit_admit(cl, fam, addr) == s->steps[i].expect,
                          "script %d step %zu", _i, i);
        else if (s->steps[i].op == '+')
            ck_assert_int_eq(moat_connlimit_add(cl, fam, addr), 0);
        else
            moat_connlimit_remove(cl, fam, addr);
    }
    moat_connlimit_free(cl);
}
END_TEST

START_TEST(test_many_addresses)
{
    struct moat_connlimit *cl = moat_connlimit_new(0, 1);
    unsigned char addr[4];
    unsigned i;

    for (i = 0; i < 5000; i++) {
        memcpy(addr, &i, 4);
        ck_assert_int_eq(moat_connlimit_add(cl, AF_INET, addr), 0);
    }
    ck_assert_uint_eq(moat_connlimit_total(cl), 5000);
    for (i = 0; i < 5000; i++) {
        memcpy(addr, &i, 4);
        ck_assert_int_eq(moat_connlimit_admit(cl, AF_INET, addr), MOAT_CONNLIMIT_PER_IP);
        moat_connlimit_remove(cl, AF_INET, addr);
    }
    ck_assert_uint_eq(moat_connlimit_total(cl), 0);
    /* AF_UNIX peers have no address: counted in the total only. */
    ck_assert_int_eq(moat_connlimit_add(cl, AF_UNIX, NULL), 0);
    ck_assert_int_eq(moat_connlimit_admit(cl, AF_UNIX, NULL), MOAT_CONNLIMIT_OK);
    moat_connlimit_free(cl);
}
END_TEST

/* The client key of each kind of socket address. */
START_TEST(test_addr_of)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct sockaddr_un un;
    unsigned char addr[16];
    const unsigned char want6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x07};

    memset(&v4, 0, sizeof(v4));
    v4.sin_family = AF_INET;
    ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.9", &v4.sin_addr), 1);
    memset(addr, 0xff, sizeof(addr));
    ck_assert_int_eq(moat_connlimit_addr_of((struct sockaddr *)&v4, addr), AF_INET);
    ck_assert(addr[0] == 192 && addr[1] == 0 && addr[2] == 2 && addr[3] == 9 && addr[4] == 0 &&
              addr[15] == 0);
    memset(&v6, 0, sizeof(v6));
    v6.sin6_family = AF_INET6;
    ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::7", &v6.sin6_addr), 1);
    ck_assert_int_eq(moat_connlimit_addr_of((struct sockaddr *)&v6, addr), AF_INET6);
    ck_assert(memcmp(addr, want6, 16) == 0);
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    ck_assert_int_eq(moat_connlimit_addr_of((struct sockaddr *)&un, addr), AF_UNSPEC);
    ck_assert_int_eq(moat_connlimit_addr_of(NULL, addr), AF_UNSPEC);
    ck_assert(addr[0] == 0 && addr[15] == 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("connlimit");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_scripts, 0, sizeof(scripts) / sizeof(scripts[0]));
    tcase_add_test(tc, test_many_addresses);
    tcase_add_test(tc, test_addr_of);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
