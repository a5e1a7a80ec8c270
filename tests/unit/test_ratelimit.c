/* test_ratelimit.c - unit tests for the shutdown attempt limiter, with scripted time. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "moat/ratelimit.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define SCRIPT(a) a, NELEM(a)
#define S 1000ull /* one second in ms */

/* Client addresses used by the scripts. */
enum { A, B, C, D, V6A, V6B, V6C, MAPPED_A, UNIX_SOCK };

static const struct {
    int family;
    unsigned char bytes[16];
    int null_addr;
} addrs[] = {
    [A] = {AF_INET, {192, 0, 2, 1}, 0},
    [B] = {AF_INET, {192, 0, 2, 2}, 0},
    [C] = {AF_INET, {198, 51, 100, 7}, 0},
    [D] = {AF_INET, {203, 0, 113, 9}, 0},
    [V6A] = {AF_INET6, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 0},
    [V6B] = {AF_INET6,
             {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0xaa, 0xbb, 0, 0, 0, 0, 0, 2},
             0}, /* same /64 */
    [V6C] = {AF_INET6,
             {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1},
             0}, /* next /64 */
    [MAPPED_A] = {AF_INET6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, 0},
    [UNIX_SOCK] = {AF_UNIX, {0}, 1},
};

enum op { CHECK, FAIL, SUCCESS };

/* One scripted call and what it must answer (SUCCESS answers nothing). */
struct step {
    enum op op;
    int addr;
    uint64_t t;     /* now, ms */
    int locked;     /* expected verdict is LOCKED */
    unsigned retry; /* expected Retry-After seconds */
};

struct scenario {
    const char *name;
    unsigned max_failures;        /* 0 = default */
    unsigned global_max_failures; /* 0 = default */
    size_t table_size;            /* 0 = default */
    const struct step *steps;
    size_t nsteps;
};

/* Four failures of client a at time t (ms), each still allowed (the default threshold is 5). */
/* clang-format off */
#define ALLOWED4(a, t) {FAIL, a, t, 0, 0}, {FAIL, a, t, 0, 0}, {FAIL, a, t, 0, 0}, {FAIL, a, t, 0, 0}
/* clang-format on */

/* Defaults: 5 per client, 20 globally, 60 s window, 30 s doubling to 1 h. */
static const struct step s_lockout[] = {
    {FAIL, A, 0, 0, 0},
    {FAIL, A, 1 * S, 0, 0},
    {FAIL, A, 2 * S, 0, 0},
    {CHECK, A, 3 * S, 0, 0},
    {FAIL, A, 3 * S, 0, 0},
    {FAIL, A, 4 * S, 1, 30},
    {CHECK, A, 4 * S + 1, 1, 30},
    {CHECK, A, 5 * S, 1, 29},
    {CHECK, A, 33 * S, 1, 1},
    {CHECK, A, 34 * S - 1, 1, 1},
    {CHECK, A, 34 * S, 0, 0},
    {CHECK, B, 5 * S, 0, 0},
    /* After expiry the count starts afresh: 4 more are allowed. */
    {FAIL, A, 35 * S, 0, 0},
    {FAIL, A, 36 * S, 0, 0},
    {FAIL, A, 37 * S, 0, 0},
    {FAIL, A, 38 * S, 0, 0},
    {CHECK, A, 38 * S, 0, 0},
    /* The fifth: the second lockout lasts 60 s. */
    {FAIL, A, 39 * S, 1, 60},
    {CHECK, A, 99 * S - 1, 1, 1},
    {CHECK, A, 99 * S, 0, 0},
};

/* The window slides: 5 failures spread over exactly 60 s do not lock. */
static const struct step s_window[] = {
    {FAIL, A, 0, 0, 0},
    {FAIL, A, 15 * S, 0, 0},
    {FAIL, A, 30 * S, 0, 0},
    {FAIL, A, 45 * S, 0, 0},
    {FAIL, A, 60 * S, 0, 0},
    {CHECK, A, 60 * S, 0, 0},
    /* ... but the latest five (15..61 s) are within 60 s. */
    {FAIL, A, 61 * S, 1, 30},
};

/* Failures racing a lockout neither count nor extend it. */
static const struct step s_no_extend[] = {
    ALLOWED4(A, 0),           {FAIL, A, 0, 1, 30},      {FAIL, A, 10 * S, 1, 20},
    {FAIL, A, 20 * S, 1, 10}, {CHECK, A, 30 * S, 0, 0}, {FAIL, A, 30 * S, 0, 0},
};

/* The doubling is forgotten after max_cooldown of quiet past the lockout's end... */
static const struct step s_decay[] = {
    ALLOWED4(A, 0),
    {FAIL, A, 0, 1, 30},
    ALLOWED4(A, 30 * S + 3600 * S),
    {FAIL, A, 30 * S + 3600 * S, 1, 30},
};

/* ... and not a millisecond earlier. */
static const struct step s_no_decay[] = {
    ALLOWED4(A, 0),
    {FAIL, A, 0, 1, 30},
    ALLOWED4(A, 30 * S + 3600 * S - 1),
    {FAIL, A, 30 * S + 3600 * S - 1, 1, 60},
};

/* Clients are counted apart. */
static const struct step s_per_client[] = {
    ALLOWED4(A, 0),      ALLOWED4(B, 0),      {FAIL, A, 1, 1, 30},
    {CHECK, B, 1, 0, 0}, {CHECK, C, 1, 0, 0}, {FAIL, B, 2, 1, 30},
};

/* Global threshold 6: three clients, none locked alone, lock everyone. */
static const struct step s_global[] = {
    {FAIL, A, 0, 0, 0},
    {FAIL, A, 0, 0, 0},
    {FAIL, B, 1 * S, 0, 0},
    {FAIL, B, 1 * S, 0, 0},
    {FAIL, C, 2 * S, 0, 0},
    {FAIL, C, 2 * S, 1, 30},
    {CHECK, D, 2 * S, 1, 30},
    {CHECK, A, 20 * S, 1, 12},
    {CHECK, D, 32 * S, 0, 0},
    /* The global level grew: the next global lockout is 60 s. */
    {FAIL, A, 40 * S, 0, 0},
    {FAIL, B, 40 * S, 0, 0},
    {FAIL, C, 40 * S, 0, 0},
    {FAIL, D, 40 * S, 0, 0},
    {FAIL, D, 40 * S, 0, 0},
    {FAIL, D, 40 * S, 1, 60},
};

/* Retry-After is the later of the client's and the global lockout. */
static const struct step s_retry_max[] = {
    ALLOWED4(A, 0),           {FAIL, A, 0, 1, 30},       {FAIL, B, 10 * S, 0, 0},
    {FAIL, C, 10 * S, 1, 30}, {CHECK, A, 10 * S, 1, 30}, {CHECK, A, 35 * S, 1, 5},
    {CHECK, D, 35 * S, 1, 5}, {CHECK, A, 40 * S, 0, 0},
};

/* Success clears the client's own count... */
static const struct step s_success_resets_client[] = {
    ALLOWED4(A, 0),
    {SUCCESS, A, 1, 0, 0},
    ALLOWED4(A, 2),
    {FAIL, A, 3, 1, 30},
};

/* ... and its doubling: a new lockout is 30 s again. */
static const struct step s_success_resets_growth[] = {
    ALLOWED4(A, 0),      {FAIL, A, 0, 1, 30},      {SUCCESS, A, 31 * S, 0, 0},
    ALLOWED4(A, 31 * S), {FAIL, A, 31 * S, 1, 30},
};

/* ... but never a global lockout (global threshold 3). */
static const struct step s_success_keeps_global[] = {
    {FAIL, A, 0, 0, 0},        {FAIL, B, 0, 0, 0},       {FAIL, C, 0, 1, 30},
    {SUCCESS, A, 1 * S, 0, 0}, {CHECK, A, 1 * S, 1, 29}, {SUCCESS, C, 1 * S, 0, 0},
    {CHECK, C, 1 * S, 1, 29},  {CHECK, D, 30 * S, 0, 0},
};

/* IPv6 clients are keyed by /64; IPv4-mapped addresses count as IPv4. */
static const struct step s_ipv6[] = {
    {FAIL, V6A, 0, 0, 0},       {FAIL, V6A, 0, 0, 0},  {FAIL, V6A, 0, 0, 0},
    {FAIL, V6B, 0, 0, 0},       {FAIL, V6B, 0, 1, 30}, {CHECK, V6A, 1, 1, 30},
    {CHECK, V6C, 1, 0, 0},      {CHECK, A, 1, 0, 0},   {FAIL, A, 1, 0, 0},
    {FAIL, MAPPED_A, 1, 0, 0},  {FAIL, A, 1, 0, 0},    {FAIL, MAPPED_A, 1, 0, 0},
    {FAIL, MAPPED_A, 2, 1, 30}, {CHECK, A, 2, 1, 30},  {CHECK, B, 2, 0, 0},
};

/* Clients without an IP address share one key. */
static const struct step s_unknown[] = {
    ALLOWED4(UNIX_SOCK, 0),
    {FAIL, UNIX_SOCK, 0, 1, 30},
    {CHECK, UNIX_SOCK, 1, 1, 30},
    {CHECK, A, 1, 0, 0},
};

/* One failure locks when the threshold is 1; the table is tiny (2): a third
 * client evicts the least recently active one that is not locked out. */
static const struct step s_evict_unlocked_first[] = {
    {FAIL, A, 0, 1, 30},
    {FAIL, B, 1, 1, 30},
    {FAIL, C, 2, 1, 30},
    /* Table full of locked clients: C evicted A (least recent), B is kept. */
    {CHECK, A, 3, 0, 0},
    {CHECK, B, 3, 1, 30},
    {CHECK, C, 3, 1, 30},
};

static const struct step s_evict_lru[] = {
    /* Threshold 2, table 2: A locked, B one failure; C takes B's slot, not A's. */
    {FAIL, A, 0, 0, 0},
    {FAIL, A, 0, 1, 30},
    {FAIL, B, 1, 0, 0},
    {FAIL, C, 2, 0, 0},
    {CHECK, A, 3, 1, 30},
    /* B was forgotten: one more failure does not lock it... */
    {FAIL, B, 4, 0, 0},
    /* ... and that evicted C (A still locked), whose next failure is a first one. */
    {FAIL, C, 5, 0, 0},
};

static const struct scenario scenarios[] = {
    {"lockout after N", 0, 0, 0, SCRIPT(s_lockout)},
    {"sliding window", 0, 0, 0, SCRIPT(s_window)},
    {"no extension while locked", 0, 0, 0, SCRIPT(s_no_extend)},
    {"growth decays", 0, 0, 0, SCRIPT(s_decay)},
    {"growth kept", 0, 0, 0, SCRIPT(s_no_decay)},
    {"per client", 0, 0, 0, SCRIPT(s_per_client)},
    {"global", 5, 6, 0, SCRIPT(s_global)},
    {"retry-after max", 5, 7, 0, SCRIPT(s_retry_max)},
    {"success resets client", 0, 0, 0, SCRIPT(s_success_resets_client)},
    {"success resets growth", 0, 0, 0, SCRIPT(s_success_resets_growth)},
    {"success keeps global", 5, 3, 0, SCRIPT(s_success_keeps_global)},
    {"ipv6 /64 and mapped", 0, 0, 0, SCRIPT(s_ipv6)},
    {"unknown family", 0, 0, 0, SCRIPT(s_unknown)},
    {"eviction when all locked", 1, 32, 2, SCRIPT(s_evict_unlocked_first)},
    {"eviction prefers unlocked", 2, 32, 2, SCRIPT(s_evict_lru)},
};

static struct moat_ratelimit *make_rl(unsigned n, unsigned gn, size_t table)
{
    struct moat_ratelimit_cfg cfg;
    struct moat_ratelimit *rl = NULL;
    char err[256] = "";

    moat_ratelimit_cfg_default(&cfg);
    if (n != 0)
        cfg.max_failures = n;
    if (gn != 0)
        cfg.global_max_failures = gn;
    if (table != 0)
        cfg.table_size = table;
    ck_assert_msg(moat_ratelimit_new(&cfg, &rl, err, sizeof err) == 0, "new: %s", err);
    return rl;
}

START_TEST(test_scenarios)
{
    const struct scenario *sc = &scenarios[_i];
    struct moat_ratelimit *rl = make_rl(sc->max_failures, sc->global_max_failures, sc->table_size);
    size_t k;

    for (k = 0; k < sc->nsteps; k++) {
        const struct step *st = &sc->steps[k];
        const void *addr = addrs[st->addr].null_addr ? NULL : addrs[st->addr].bytes;
        unsigned retry = 12345;
        enum moat_ratelimit_verdict v = MOAT_RATELIMIT_ALLOWED;

        if (st->op == SUCCESS) {
            moat_ratelimit_success(rl, addrs[st->addr].family, addr, st->t);
            continue;
        }
        if (st->op == CHECK)
            v = moat_ratelimit_check(rl, addrs[st->addr].family, addr, st->t, &retry);
        else
            v = moat_ratelimit_fail(rl, addrs[st->addr].family, addr, st->t, &retry);
        ck_assert_msg(v == (st->locked ? MOAT_RATELIMIT_LOCKED : MOAT_RATELIMIT_ALLOWED),
                      "%s: step %zu: verdict %d", sc->name, k, (int)v);
        ck_assert_msg(retry == st->retry, "%s: step %zu: retry %u, want %u", sc->name, k, retry,
                      st->retry);
    }
    moat_ratelimit_free(rl);
}
END_TEST

/* Each further lockout doubles the cooldown, capped at an hour. */
START_TEST(test_growth)
{
    static const unsigned want[] = {30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600};
    struct moat_ratelimit *rl = make_rl(0, 0, 0);
    uint64_t now = 1000;
    unsigned retry = 0;
    size_t k;
    int i;

    for (k = 0; k < NELEM(want); k++) {
        for (i = 0; i < 4; i++)
            ck_assert_int_eq(moat_ratelimit_fail(rl, AF_INET, addrs[A].bytes, now, &retry),
                             MOAT_RATELIMIT_ALLOWED);
        ck_assert_int_eq(moat_ratelimit_fail(rl, AF_INET, addrs[A].bytes, now, &retry),
                         MOAT_RATELIMIT_LOCKED);
        ck_assert_msg(retry == want[k], "lockout %zu: %u s, want %u", k, retry, want[k]);
        ck_assert_int_eq(
            moat_ratelimit_check(rl, AF_INET, addrs[A].bytes, now + want[k] * S - 1, &retry),
            MOAT_RATELIMIT_LOCKED);
        now += want[k] * S;
        ck_assert_int_eq(moat_ratelimit_check(rl, AF_INET, addrs[A].bytes, now, &retry),
                         MOAT_RATELIMIT_ALLOWED);
        ck_assert_uint_eq(retry, 0);
    }
    moat_ratelimit_free(rl);
}
END_TEST

/* Many distinct clients: memory stays at table_size entries (ASan checks the
 * bounds), and the most recent clients are the ones remembered. */
START_TEST(test_eviction_bound)
{
    struct moat_ratelimit *rl = make_rl(2, 32, 8);
    unsigned char a6[16] = {0x20, 0x01, 0x0d, 0xb8};
    unsigned retry;
    uint32_t i;

    for (i = 0; i < 100000; i++) {
        memcpy(a6 + 4, &i, sizeof i);
        moat_ratelimit_fail(rl, AF_INET6, a6, (uint64_t)i * 2 * 60 * S, &retry);
    }
    /* The last client has one failure: the second locks it. */
    i = 99999;
    memcpy(a6 + 4, &i, sizeof i);
    ck_assert_int_eq(moat_ratelimit_fail(rl, AF_INET6, a6, (uint64_t)i * 2 * 60 * S, &retry),
                     MOAT_RATELIMIT_LOCKED);
    /* The first was forgotten long ago: its second failure is a first one. */
    i = 0;
    memcpy(a6 + 4, &i, sizeof i);
    ck_assert_int_eq(moat_ratelimit_fail(rl, AF_INET6, a6, (uint64_t)99999 * 2 * 60 * S, &retry),
                     MOAT_RATELIMIT_ALLOWED);
    moat_ratelimit_free(rl);
}
END_TEST

struct cfg_case {
    const char *name;
    unsigned n, gn;
    uint64_t window, cooldown, max_cooldown;
    size_t table;
    const char *err_has; /* NULL: valid */
};

static const struct cfg_case cfg_cases[] = {
    {"defaults", 5, 20, 60000, 30000, 3600000, 1024, NULL},
    {"bounds", 32, 1, 1, 1, 1, 65536, NULL},
    {"n 0", 0, 20, 60000, 30000, 3600000, 1024, "max_failures"},
    {"n 33", 33, 20, 60000, 30000, 3600000, 1024, "max_failures"},
    {"gn 0", 5, 0, 60000, 30000, 3600000, 1024, "global_max_failures"},
    {"window 0", 5, 20, 0, 30000, 3600000, 1024, "window_ms"},
    {"cooldown 0", 5, 20, 60000, 0, 3600000, 1024, "cooldown_ms"},
    {"max below", 5, 20, 60000, 30000, 29999, 1024, "max_cooldown_ms"},
    {"max huge", 5, 20, 60000, 30000, 8ull * 24 * 3600 * 1000, 1024, "max_cooldown_ms"},
    {"table 0", 5, 20, 60000, 30000, 3600000, 0, "table_size"},
    {"table big", 5, 20, 60000, 30000, 3600000, 65537, "table_size"},
};

START_TEST(test_cfg_table)
{
    const struct cfg_case *c = &cfg_cases[_i];
    struct moat_ratelimit_cfg cfg = {c->n,        c->gn,           c->window,
                                     c->cooldown, c->max_cooldown, c->table};
    struct moat_ratelimit *rl = NULL;
    char err[256] = "";
    int rc = moat_ratelimit_new(&cfg, &rl, err, sizeof err);

    if (c->err_has == NULL) {
        ck_assert_msg(rc == 0 && rl != NULL, "%s: %s", c->name, err);
    } else {
        ck_assert_msg(rc == -1 && rl == NULL, "%s accepted", c->name);
        ck_assert_msg(strstr(err, c->err_has) != NULL, "%s: err '%s'", c->name, err);
    }
    moat_ratelimit_free(rl);
}
END_TEST

START_TEST(test_defaults)
{
    struct moat_ratelimit_cfg cfg;

    moat_ratelimit_cfg_default(&cfg);
    ck_assert_uint_eq(cfg.max_failures, 5);
    ck_assert_uint_eq(cfg.global_max_failures, 20);
    ck_assert_uint_eq(cfg.window_ms, 60000);
    ck_assert_uint_eq(cfg.cooldown_ms, 30000);
    ck_assert_uint_eq(cfg.max_cooldown_ms, 3600000);
    ck_assert_uint_eq(cfg.table_size, 1024);
    moat_ratelimit_free(NULL);
}
END_TEST

struct thread_arg {
    struct moat_ratelimit *rl;
    unsigned char base;
};

static void *hammer(void *p)
{
    const struct thread_arg *ta = p;
    unsigned char a4[4] = {10, ta->base, 0, 0};
    unsigned retry;
    unsigned i;

    for (i = 0; i < 20000; i++) {
        a4[2] = (unsigned char)(i >> 8);
        a4[3] = (unsigned char)i;
        if (moat_ratelimit_check(ta->rl, AF_INET, a4, i, &retry) == MOAT_RATELIMIT_ALLOWED)
            moat_ratelimit_fail(ta->rl, AF_INET, a4, i, &retry);
        if (i % 7 == 0)
            moat_ratelimit_success(ta->rl, AF_INET, a4, i);
    }
    return NULL;
}

/* Concurrent use is safe (meaningful under the sanitizers). */
START_TEST(test_threads)
{
    struct moat_ratelimit *rl = make_rl(3, 32, 64);
    struct thread_arg args[4];
    pthread_t th[4];
    int i;

    for (i = 0; i < 4; i++) {
        args[i].rl = rl;
        args[i].base = (unsigned char)i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
    }
    for (i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    moat_ratelimit_free(rl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ratelimit");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_scenarios, 0, NELEM(scenarios));
    tcase_add_test(tc, test_growth);
    tcase_add_test(tc, test_eviction_bound);
    tcase_add_loop_test(tc, test_cfg_table, 0, NELEM(cfg_cases));
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
