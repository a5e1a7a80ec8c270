/* test_log.c - unit tests for the JSON log lines: string escaping and number fields. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "moat/log.h"

/* ---- moat_json_escape ---- */

struct esc_case {
    const char *in;  /* bytes to escape */
    size_t len;      /* their count */
    size_t cap;      /* output buffer size */
    const char *out; /* expected output */
};

#define LIT(s) s, sizeof(s) - 1

static const struct esc_case esc_cases[] = {
    {LIT("plain"), 64, "plain"},
    {LIT("a\"b\\c"), 64, "a\\\"b\\\\c"},
    {LIT("\r\n\t"), 64, "\\r\\n\\t"},
    {LIT("\x01\x7f"), 64, "\\u0001\\u007f"},
    {LIT("caf\xc3\xa9"), 64, "caf\\u00c3\\u00a9"},
    {LIT("a\0b"), 64, "a\\u0000b"},
    {LIT("abc"), 3, "ab"}, /* room kept for the NUL */
    {LIT("a\"b"), 3, "a"}, /* an escape is never cut */
    {LIT("\x01"), 6, ""},  /* \u0001 needs 7 bytes with the NUL */
    {LIT("\x01"), 7, "\\u0001"},
};

START_TEST(test_escape_table)
{
    const struct esc_case *c = &esc_cases[_i];
    char out[64];
    size_t n;

    memset(out, 'G', sizeof(out));
    n = moat_json_escape(out, c->cap, c->in, c->len);
    ck_assert_str_eq(out, c->out);
    ck_assert_uint_eq(n, strlen(c->out));
    if (c->cap < sizeof(out))
        ck_assert_int_eq(out[c->cap], 'G');
}
END_TEST

/* ---- number fields ---- */

struct double_case {
    const char *label; /* shown on failure */
    double value;      /* logged */
    const char *want;  /* the field as it must appear, NULL: checked by shape */
};

static const struct double_case double_cases[] = {
    {"duration", 0.25, "\"d\":0.250000"},
    {"negative", -1.5, "\"d\":-1.500000"},
    {"zero", 0.0, "\"d\":0.000000"},
    /* found by fuzz_log: "nan" and "inf" are no JSON, and %.6f of a large
     * value did not fit the 48-byte buffer its length was taken from */
    {"NaN", NAN, "\"d\":null"},
    {"infinity", INFINITY, "\"d\":null"},
    {"minus infinity", -INFINITY, "\"d\":null"},
    {"huge", 1e300, NULL},
    {"most negative", -DBL_MAX, NULL},
};

/* Builds one line with a double field "d" and returns it (static buffer). */
static const char *line_with(double value)
{
    static char buf[8192];
    struct moat_logline l;
    int fd = memfd_create("test_log", MFD_CLOEXEC);
    ssize_t got;

    ck_assert_int_ge(fd, 0);
    moat_log_setup(MOAT_LOG_DEBUG, fd);
    moat_logline_begin(&l, MOAT_LOG_INFO, "test");
    moat_logline_double(&l, "d", value);
    moat_logline_str(&l, "after", "x");
    moat_logline_end(&l);
    moat_log_setup(MOAT_LOG_INFO, 2);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    got = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    ck_assert_int_gt(got, 0);
    buf[got] = '\0';
    return buf;
}

START_TEST(test_double_table)
{
    const struct double_case *c = &double_cases[_i];
    const char *line = line_with(c->value);
    const char *f = strstr(line, ",\"d\":");
    size_t digits;

    ck_assert_msg(f != NULL, "%s: no field in %s", c->label, line);
    ck_assert_msg(strstr(line, ",\"after\":\"x\"}\n") != NULL, "%s: %s", c->label, line);
    if (c->want != NULL) {
        ck_assert_msg(strncmp(f + 1, c->want, strlen(c->want)) == 0 &&
                          f[1 + strlen(c->want)] == ',',
                      "%s: %s", c->label, line);
        return;
    }
    /* every digit of the value, then 6 decimals */
    f += 5;
    if (*f == '-')
        f++;
    digits = strspn(f, "0123456789");
    ck_assert_msg(digits > 300 && strncmp(f + digits, ".000000,", 8) == 0, "%s: %s", c->label,
                  line);
}
END_TEST

/* moat_log_target: the query goes unless asked for; always NUL-terminated. */
static const struct {
    const char *target;
    int with_query;
    size_t cap;
    const char *want;
} target_cases[] = {
    {"/a/b?token=secret", 0, 64, "/a/b"}, {"/a/b?token=secret", 1, 64, "/a/b?token=secret"},
    {"/plain", 0, 64, "/plain"},          {"?only", 0, 64, ""},
    {"/long/path?x", 0, 5, "/lon"},       {"/long/path?x", 1, 1, ""},
};

START_TEST(test_target_table)
{
    char out[64];

    memset(out, 'x', sizeof(out));
    moat_log_target(target_cases[_i].target, target_cases[_i].with_query, out,
                    target_cases[_i].cap);
    ck_assert_str_eq(out, target_cases[_i].want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_escape_table, 0, sizeof(esc_cases) / sizeof(esc_cases[0]));
    tcase_add_loop_test(tc, test_double_table, 0, sizeof(double_cases) / sizeof(double_cases[0]));
    tcase_add_loop_test(tc, test_target_table, 0, sizeof(target_cases) / sizeof(target_cases[0]));
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
