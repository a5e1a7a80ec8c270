/* test_child.c - unit tests of the supervised child (child.h): starting a command, a command that
 * cannot be started, reaping, forwarding a signal, and the exit status moat ends with. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "moat/child.h"

/* Reaps until the child has ended (at most about 10 s). */
static void reap_until_exited(struct moat_child *c)
{
    int i;

    for (i = 0; i < 1000 && !c->exited; i++) {
        if (moat_child_reap(c))
            break;
        usleep(10000);
    }
    ck_assert_msg(c->exited, "the child did not end");
}

START_TEST(test_exit_status)
{
    char sh[] = "/bin/sh", opt[] = "-c", cmd[] = "exit 3";
    char *argv[] = {sh, opt, cmd, NULL};
    struct moat_child c;
    char err[256];

    ck_assert_msg(moat_child_start(&c, argv, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_gt(c.pid, 0);
    reap_until_exited(&c);
    ck_assert_int_eq(moat_child_exit_code(c.status), 3);
    /* Ended: no signal goes anywhere (the pid may be someone else's by now). */
    ck_assert_int_eq(moat_child_signal(&c, SIGTERM), -1);
    moat_child_close(&c);
}
END_TEST

START_TEST(test_not_found)
{
    char path[] = "/nonexistent/moat-app";
    char *argv[] = {path, NULL};
    char *none[] = {NULL};
    struct moat_child c;
    char err[256];

    ck_assert_int_eq(moat_child_start(&c, argv, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "cannot start /nonexistent/moat-app") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
    ck_assert_int_eq(c.pid, 0);
    ck_assert_int_eq(moat_child_start(&c, none, err, sizeof(err)), -1);
    ck_assert_int_eq(moat_child_start(&c, NULL, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_signal_forwarded)
{
    /* exec resets the test's SIGTERM handler: the default action ends the child. */
    char sh[] = "/bin/sh", opt[] = "-c", cmd[] = "exec sleep 600";
    char *argv[] = {sh, opt, cmd, NULL};
    struct moat_child c;
    char err[256];

    ck_assert_msg(moat_child_start(&c, argv, err, sizeof(err)) == 0, "%s", err);
    usleep(200000);
    ck_assert_int_eq(moat_child_reap(&c), 0);
    ck_assert_int_eq(moat_child_signal(&c, SIGTERM), 0);
    reap_until_exited(&c);
    ck_assert_int_eq(moat_child_exit_code(c.status), 128 + SIGTERM);
    moat_child_close(&c);
}
END_TEST

START_TEST(test_exit_code_table)
{
    ck_assert_int_eq(moat_child_exit_code(0), 0);
    ck_assert_int_eq(moat_child_exit_code(7 << 8), 7);
    ck_assert_int_eq(moat_child_exit_code(SIGKILL), 128 + SIGKILL);
    ck_assert_int_eq(moat_child_exit_code(SIGSEGV | 0x80), 128 + SIGSEGV); /* core dumped */
}
END_TEST

static Suite *child_suite(void)
{
    Suite *s = suite_create("child");
    TCase *tc = tcase_create("child");

    tcase_add_test(tc, test_exit_status);
    tcase_add_test(tc, test_not_found);
    tcase_add_test(tc, test_signal_forwarded);
    tcase_add_test(tc, test_exit_code_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(child_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
