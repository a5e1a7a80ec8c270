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

/* Every byte: the hex digits of both cases have their value, nothing else has one. */
START_TEST(test_hex_value)
{
    int c, want;

    for (c = 0; c < 256; c++) {
        want = c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
        ck_assert_int_eq(moat_hdr_hex_value((char)c), want);
    }
}
END_TEST

struct list_case {
    const char *s;
    const char *joined; /* the names found, each followed by '/' */
};

static const struct list_case list_cases[] = {
    {"", ""},
    {" ,\t, ", ""},
    {"a", "a/"},
    {"a,b", "a/b/"},
    {"  X-One,\tX-Two  three,", "X-One/X-Two/three/"},
    {",,a,,", "a/"},
};

START_TEST(test_list_table)
{
    const struct list_case *c = &list_cases[_i];
    char got[64] = "";
    size_t pos = 0, len = 0, used = 0, steps = 0;
    const char *item;

    while ((item = moat_hdr_list_next(c->s, &pos, &len)) != NULL) {
        ck_assert_uint_gt(len, 0);
        ck_assert_uint_lt(used + len + 2, sizeof(got));
        memcpy(got + used, item, len);
        used += len;
        got[used++] = '/';
        got[used] = '\0';
        ck_assert_uint_lt(++steps, 16);
    }
    ck_assert_uint_eq(len, 0);
    ck_assert_uint_eq(pos, strlen(c->s));
    ck_assert_str_eq(got, c->joined);
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
    tcase_add_test(tc, test_hex_value);
    tcase_add_loop_test(tc, test_list_table, 0, sizeof(list_cases) / sizeof(list_cases[0]));
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
