/* test_hdr.c - unit tests for the header helpers (tokens, values, case folding). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "moat/hdr.h"

struct tok_case {
    const char *s;
    int token;
    int value_ok;
};

static const struct tok_case tok_cases[] = {
    {"Content-Length", 1, 1},
    {"X_Custom!#$%&'*+.^`|~", 1, 1},
    {"", 0, 1},
    {"Content-Length ", 0, 0},
    {"a b", 0, 1},
    {"a:b", 0, 1},
    {"a\tb", 0, 1},
    {"caf\xc3\xa9", 0, 1},
    {"x\r", 0, 0},
    {"x\ny", 0, 0},
    {" lead", 0, 0},
    {"(paren)", 0, 1},
    {"del\x7f", 0, 0},
};

START_TEST(test_token_table)
{
    const struct tok_case *c = &tok_cases[_i];
    ck_assert_int_eq(moat_hdr_is_token(c->s, strlen(c->s)), c->token);
    ck_assert_int_eq(moat_hdr_value_ok(c->s, strlen(c->s)), c->value_ok);
}
END_TEST

START_TEST(test_case_insensitive)
{
    struct moat_hdr h = {"content-LENGTH", 14, "5", 1};
    ck_assert(moat_hdr_name_is(&h, "Content-Length"));
    ck_assert(!moat_hdr_name_is(&h, "Content-Lengt"));
    ck_assert(moat_hdr_eq_ci("HOST", 4, "host"));
    ck_assert(!moat_hdr_eq_ci("HOSTS", 5, "host"));
    ck_assert(moat_hdr_mem_eq_ci("X-Forwarded-", 12, "x-forwarded-", 12));
    ck_assert(!moat_hdr_mem_eq_ci("X-Forwarded-", 12, "x-forwarded", 11));
    ck_assert(!moat_hdr_mem_eq_ci("http", 4, "httq", 4));
    ck_assert(moat_hdr_mem_eq_ci("", 0, "", 0));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hdr");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_token_table, 0, sizeof(tok_cases) / sizeof(tok_cases[0]));
    tcase_add_test(tc, test_case_insensitive);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
