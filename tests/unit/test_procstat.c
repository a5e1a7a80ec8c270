/* test_procstat.c - unit tests for the process_* parsers (sample /proc text) and reader. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "moat/procstat.h"

/* Fields 3..13 and 16..21 and 23 of a /proc/<pid>/stat line around the values
 * the parser reads (utime 150, stime 50, starttime 12345, rss 2500). */
#define STAT_HEAD " S 1 1234 1234 0 -1 4194560 500 0 0 0 "
#define STAT_MID " 0 0 20 0 4 0 "
#define STAT_TAIL " 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 3 0 0 0 0 0\n"
#define STAT_LINE(comm)                                                                            \
    "1234 (" comm ")" STAT_HEAD "150 50" STAT_MID "12345 123456789 2500" STAT_TAIL

/* One /proc/<pid>/stat sample and the expected reading. */
static const struct stat_case {
    const char *label; /* shown on failure */
    const char *text;  /* sample text */
    size_t len;        /* bytes to parse (0: strlen) */
    uint64_t btime;    /* boot time passed in */
    int rc;            /* expected return */
    unsigned have;     /* expected have bits */
    double cpu;        /* expected cpu_seconds */
    uint64_t rss;      /* expected resident_bytes */
    double start;      /* expected start_time */
} stat_cases[] = {
    {"typical", STAT_LINE("moat"), 0, 1700000000, 0,
     MOAT_PROC_CPU | MOAT_PROC_RSS | MOAT_PROC_START, 2.0, 10240000, 1700000123.45},
    {"no btime", STAT_LINE("moat"), 0, 0, 0, MOAT_PROC_CPU | MOAT_PROC_RSS, 2.0, 10240000, 0},
    {"comm with spaces and parens", STAT_LINE("a) b (c) S 9 9"), 0, 1700000000, 0,
     MOAT_PROC_CPU | MOAT_PROC_RSS | MOAT_PROC_START, 2.0, 10240000, 1700000123.45},
    {"empty comm", STAT_LINE(""), 0, 1, 0, MOAT_PROC_CPU | MOAT_PROC_RSS | MOAT_PROC_START, 2.0,
     10240000, 124.45},
    {"ends at rss, no newline", "1 (x)" STAT_HEAD "1 2" STAT_MID "3 4 5", 0, 10, 0,
     MOAT_PROC_CPU | MOAT_PROC_RSS | MOAT_PROC_START, 0.03, 5 * 4096, 10.03},
    {"len honoured",
     "1 (x)" STAT_HEAD "1 2" STAT_MID "3 4 5"
     "9 junk",
     0, 10, 0, MOAT_PROC_CPU | MOAT_PROC_RSS | MOAT_PROC_START, 0.03, 59 * 4096, 10.03},
    {"len cuts rss",
     "1 (x)" STAT_HEAD "1 2" STAT_MID "3 4 5"
     "9 junk",
     sizeof("1 (x)" STAT_HEAD "1 2" STAT_MID "3 4 5") - 1, 10, 0,
     MOAT_PROC_CPU | MOAT_PROC_RSS | MOAT_PROC_START, 0.03, 5 * 4096, 10.03},
    {"missing rss", "1 (x)" STAT_HEAD "1 2" STAT_MID "3 4", 0, 10, -1, 0, 0, 0, 0},
    {"no paren", "1 x" STAT_HEAD "1 2" STAT_MID "3 4 5", 0, 10, -1, 0, 0, 0, 0},
    {"negative utime", "1 (x)" STAT_HEAD "-1 2" STAT_MID "3 4 5", 0, 10, -1, 0, 0, 0, 0},
    {"letters in rss", "1 (x)" STAT_HEAD "1 2" STAT_MID "3 4 5k", 0, 10, -1, 0, 0, 0, 0},
    {"overflow", "1 (x)" STAT_HEAD "99999999999999999999 2" STAT_MID "3 4 5", 0, 10, -1, 0, 0, 0,
     0},
    {"empty", "", 0, 10, -1, 0, 0, 0, 0},
};

START_TEST(test_parse_stat)
{
    const struct stat_case *c = &stat_cases[_i];
    struct moat_procstat_sys sys = {100, 4096, c->btime};
    struct moat_procstat ps;
    size_t len = c->len != 0 ? c->len : strlen(c->text);

    memset(&ps, 0, sizeof(ps));
    ck_assert_msg(moat_procstat_parse_stat(c->text, len, &sys, &ps) == c->rc, "%s: rc", c->label);
    ck_assert_msg(ps.have == c->have, "%s: have %#x", c->label, ps.have);
    if (c->rc != 0)
        return;
    ck_assert_msg(fabs(ps.cpu_seconds - c->cpu) < 1e-9, "%s: cpu %f", c->label, ps.cpu_seconds);
    ck_assert_msg(ps.resident_bytes == c->rss, "%s: rss", c->label);
    if (c->have & MOAT_PROC_START)
        ck_assert_msg(fabs(ps.start_time - c->start) < 1e-6, "%s: start %f", c->label,
                      ps.start_time);
}
END_TEST

START_TEST(test_parse_stat_bad_sys)
{
    static const char text[] = STAT_LINE("moat");
    struct moat_procstat_sys sys = {0, 4096, 1};
    struct moat_procstat ps;

    memset(&ps, 0, sizeof(ps));
    ck_assert_int_eq(moat_procstat_parse_stat(text, sizeof(text) - 1, &sys, &ps), -1);
    sys.clk_tck = 100;
    sys.page_size = 0;
    ck_assert_int_eq(moat_procstat_parse_stat(text, sizeof(text) - 1, &sys, &ps), -1);
    ck_assert_int_eq(moat_procstat_parse_stat(text, sizeof(text) - 1, NULL, &ps), -1);
    ck_assert_uint_eq(ps.have, 0);
}
END_TEST

/* One /proc/stat sample and the boot time expected from it. */
static const struct {
    const char *text; /* sample text */
    int rc;           /* expected return */
    uint64_t btime;   /* expected value */
} btime_cases[] = {
    {"cpu  10 0 20 300 0 0 0 0 0 0\ncpu0 10 0 20 300 0 0 0 0 0 0\nintr 5 1 2 3 4\n"
     "ctxt 991\nbtime 1700000000\nprocesses 55\nprocs_running 1\n",
     0, 1700000000},
    {"btime 42\n", 0, 42},
    {"cpu 1\nbtime 42", 0, 42},
    {"cpu 1\nbtime  43\n", 0, 43},
    {"cpu 1\nxbtime 44\n", -1, 0},
    {"cpu 1\nbtimes 45\n", -1, 0},
    {"cpu 1\nbtime\n", -1, 0},
    {"cpu 1\nbtime \n", -1, 0},
    {"cpu 1\nbtime 12x\n", -1, 0},
    {"cpu 1\nctxt 5\n", -1, 0},
    {"", -1, 0},
};

START_TEST(test_parse_btime)
{
    uint64_t bt = 0;
    const char *t = btime_cases[_i].text;

    ck_assert_int_eq(moat_procstat_parse_btime(t, strlen(t), &bt), btime_cases[_i].rc);
    if (btime_cases[_i].rc == 0)
        ck_assert_uint_eq(bt, btime_cases[_i].btime);
}
END_TEST

START_TEST(test_read_self)
{
    struct moat_procstat a, b;
    int fds[2];

    ck_assert_int_eq(moat_procstat_read(&a), 0);
    ck_assert_uint_eq(a.have, MOAT_PROC_CPU | MOAT_PROC_RSS | MOAT_PROC_FDS | MOAT_PROC_MAXFD |
                                  MOAT_PROC_START);
    ck_assert(a.cpu_seconds >= 0);
    ck_assert(a.resident_bytes > 0);
    ck_assert(a.open_fds >= 3 && a.open_fds <= a.max_fds);
    ck_assert(a.start_time <= (double)time(NULL) + 1);
    ck_assert(a.start_time > (double)time(NULL) - 3600);
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(moat_procstat_read(&b), 0);
    ck_assert_uint_eq(b.open_fds, a.open_fds + 2);
    ck_assert(fabs(b.start_time - a.start_time) < 1e-9);
    close(fds[0]);
    close(fds[1]);
    ck_assert_int_eq(moat_procstat_read(NULL), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("procstat");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_parse_stat, 0, (int)(sizeof(stat_cases) / sizeof(stat_cases[0])));
    tcase_add_test(tc, test_parse_stat_bad_sys);
    tcase_add_loop_test(tc, test_parse_btime, 0,
                        (int)(sizeof(btime_cases) / sizeof(btime_cases[0])));
    tcase_add_test(tc, test_read_self);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
