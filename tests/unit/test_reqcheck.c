/* test_reqcheck.c - unit tests for request validation (the anti-smuggling gate). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "moat/reqcheck.h"

#define MAX_FIELDS 12

/* 64 bytes of value, to build oversized heads out of literals. */
#define V64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* One request and the verdict expected for it. */
struct rc_case {
    const char *label;             /* shown on failure */
    const char *method;            /* request method */
    const char *version;           /* "HTTP/1.1" unless set (NULL = 1.1) */
    const char *target;            /* raw request target */
    const char *f[2 * MAX_FIELDS]; /* name, value pairs; NULL name ends the list */
    int status;                    /* expected status (0 = accepted) */
    const char *reason;            /* expected reason */
    enum moat_body_kind body;      /* expected framing when accepted */
    uint64_t cl;                   /* expected content_length */
    const char *path;              /* expected path when accepted */
    int expect;                    /* expected expect_continue */
};

static const struct moat_reqcheck_limits limits = {
    .max_headers = 8,
    .max_header_bytes = 256,
    .max_uri_bytes = 64,
    .max_body_bytes = 1000,
};

#define H11 "HTTP/1.1"
#define H10 "HTTP/1.0"
#define HOST "Host", "example.com"
#define OK 0, "ok"

/* clang-format off */
static const struct rc_case cases[] = {
    /* method */
    {"get", "GET", H11, "/", {HOST}, OK, MOAT_BODY_NONE, 0, "/", 0},
    {"custom method", "PURGE", H11, "/x", {HOST}, OK, MOAT_BODY_NONE, 0, "/x", 0},
    {"method with space", "GE T", H11, "/", {HOST}, 400, "bad_method", 0, 0, NULL, 0},
    {"empty method", "", H11, "/", {HOST}, 400, "bad_method", 0, 0, NULL, 0},
    {"method with slash", "GET/", H11, "/", {HOST}, 400, "bad_method", 0, 0, NULL, 0},
    {"trace", "TRACE", H11, "/", {HOST}, 501, "method_not_allowed", 0, 0, NULL, 0},
    {"trace lower", "trace", H11, "/", {HOST}, 501, "method_not_allowed", 0, 0, NULL, 0},
    {"connect", "CONNECT", H11, "example.com:443", {HOST}, 501, "method_not_allowed", 0, 0, NULL,
     0},
    /* version */
    {"http/1.0", "GET", H10, "/", {HOST}, OK, MOAT_BODY_NONE, 0, "/", 0},
    {"http/2.0", "GET", "HTTP/2.0", "/", {HOST}, 505, "bad_version", 0, 0, NULL, 0},
    {"http/0.9", "GET", "HTTP/0.9", "/", {HOST}, 505, "bad_version", 0, 0, NULL, 0},
    {"lower version", "GET", "http/1.1", "/", {HOST}, 505, "bad_version", 0, 0, NULL, 0},
    /* target */
    {"query", "GET", H11, "/a/b?c=d&e", {HOST}, OK, MOAT_BODY_NONE, 0, "/a/b?c=d&e", 0},
    {"uri 64", "GET", H11, "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     {HOST}, OK, MOAT_BODY_NONE, 0,
     "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
    {"uri too long", "GET", H11, "/" V64, {HOST}, 414, "uri_too_long", 0, 0, NULL, 0},
    {"empty target", "GET", H11, "", {HOST}, 400, "bad_target", 0, 0, NULL, 0},
    {"space in target", "GET", H11, "/a b", {HOST}, 400, "bad_target", 0, 0, NULL, 0},
    {"tab in target", "GET", H11, "/a\tb", {HOST}, 400, "bad_target", 0, 0, NULL, 0},
    {"ctl in target", "GET", H11, "/a\x01", {HOST}, 400, "bad_target", 0, 0, NULL, 0},
    {"del in target", "GET", H11, "/a\x7f", {HOST}, 400, "bad_target", 0, 0, NULL, 0},
    {"utf8 in target", "GET", H11, "/caf\xc3\xa9", {HOST}, 400, "bad_target", 0, 0, NULL, 0},
    {"fragment", "GET", H11, "/a#frag", {HOST}, 400, "bad_target", 0, 0, NULL, 0},
    {"relative", "GET", H11, "a/b", {HOST}, 400, "bad_target", 0, 0, NULL, 0},
    {"authority form", "GET", H11, "example.com:443", {HOST}, 400, "bad_target", 0, 0, NULL, 0},
    {"options *", "OPTIONS", H11, "*", {HOST}, OK, MOAT_BODY_NONE, 0, "*", 0},
    {"get *", "GET", H11, "*", {HOST}, 400, "bad_target", 0, 0, NULL, 0},
    {"options */x", "OPTIONS", H11, "*x", {HOST}, 400, "bad_target", 0, 0, NULL, 0},
    {"absolute", "GET", H11, "http://example.com/x?y", {HOST}, OK, MOAT_BODY_NONE, 0, "/x?y", 0},
    {"absolute https", "GET", H11, "https://example.com/", {HOST}, OK, MOAT_BODY_NONE, 0, "/", 0},
    {"absolute no path", "GET", H11, "http://example.com", {HOST}, OK, MOAT_BODY_NONE, 0, "/", 0},
    {"absolute case", "GET", H11, "HTTP://EXAMPLE.com/a", {HOST}, OK, MOAT_BODY_NONE, 0, "/a", 0},
    {"absolute port", "GET", H11, "http://example.com:8443/a", {"Host", "example.com:8443"}, OK,
     MOAT_BODY_NONE, 0, "/a", 0},
    {"absolute default port", "GET", H11, "http://example.com:80/a", {HOST}, 400, "host_mismatch",
     0, 0, NULL, 0},
    {"absolute evil", "GET", H11, "http://evil/x", {HOST}, 400, "host_mismatch", 0, 0, NULL, 0},
    {"absolute userinfo", "GET", H11, "http://u@example.com/", {HOST}, 400, "host_mismatch", 0, 0,
     NULL, 0},
    {"absolute empty auth", "GET", H11, "http:///x", {HOST}, 400, "host_mismatch", 0, 0, NULL, 0},
    {"absolute ftp", "GET", H11, "ftp://example.com/", {HOST}, 400, "host_mismatch", 0, 0, NULL, 0},
    {"absolute query no path", "GET", H11, "http://example.com?x", {HOST}, 400, "bad_target", 0,
     0, NULL, 0},
    {"urn", "GET", H11, "urn:x:y", {HOST}, 400, "bad_target", 0, 0, NULL, 0},
    /* header count and size */
    {"8 fields", "GET", H11, "/", {HOST, "A", "1", "B", "2", "C", "3", "D", "4", "E", "5", "F",
     "6", "G", "7"}, OK, MOAT_BODY_NONE, 0, "/", 0},
    {"9 fields", "GET", H11, "/", {HOST, "A", "1", "B", "2", "C", "3", "D", "4", "E", "5", "F",
     "6", "G", "7", "H", "8"}, 431, "too_many_headers", 0, 0, NULL, 0},
    /* Host: 4+11+4 = 19; X-Big: 5+228+4 = 237; total 256, the limit. */
    {"bytes at limit", "GET", H11, "/", {HOST, "X-Big",
     V64 V64 V64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, OK, MOAT_BODY_NONE, 0, "/", 0},
    {"bytes over limit", "GET", H11, "/", {HOST, "X-Big",
     V64 V64 V64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, 431, "headers_too_large", 0, 0, NULL, 0},
    /* field syntax */
    {"name with space", "GET", H11, "/", {HOST, "Content-Length ", "5"}, 400, "bad_header_name",
     0, 0, NULL, 0},
    {"name with colon", "GET", H11, "/", {HOST, "X:Y", "5"}, 400, "bad_header_name", 0, 0, NULL, 0},
    {"empty name", "GET", H11, "/", {HOST, "", "5"}, 400, "bad_header_name", 0, 0, NULL, 0},
    {"odd but token name", "GET", H11, "/", {HOST, "X-!#$%&'*+.^_`|~", "v"}, OK, MOAT_BODY_NONE,
     0, "/", 0},
    {"value with cr", "GET", H11, "/", {HOST, "X-A", "a\rb"}, 400, "bad_header_value", 0, 0, NULL,
     0},
    {"value with lf", "GET", H11, "/", {HOST, "X-A", "a\nX-B: b"}, 400, "bad_header_value", 0, 0,
     NULL, 0},
    {"value with ctl", "GET", H11, "/", {HOST, "X-A", "a\x01"}, 400, "bad_header_value", 0, 0,
     NULL, 0},
    {"value untrimmed", "GET", H11, "/", {HOST, "X-A", " a"}, 400, "bad_header_value", 0, 0, NULL,
     0},
    {"value empty", "GET", H11, "/", {HOST, "X-A", ""}, OK, MOAT_BODY_NONE, 0, "/", 0},
    {"value obs-text tab", "GET", H11, "/", {HOST, "X-A", "caf\xc3\xa9\tx"}, OK, MOAT_BODY_NONE,
     0, "/", 0},
    /* Host */
    {"missing host", "GET", H11, "/", {"X-A", "b"}, 400, "missing_host", 0, 0, NULL, 0},
    {"missing host 1.0", "GET", H10, "/", {NULL}, 400, "missing_host", 0, 0, NULL, 0},
    {"dup host", "GET", H11, "/", {HOST, "host", "example.com"}, 400, "dup_host", 0, 0, NULL, 0},
    {"empty host", "GET", H11, "/", {"Host", ""}, 400, "bad_host", 0, 0, NULL, 0},
    {"host with space", "GET", H11, "/", {"Host", "a b"}, 400, "bad_host", 0, 0, NULL, 0},
    {"host userinfo", "GET", H11, "/", {"Host", "user@host"}, 400, "bad_host", 0, 0, NULL, 0},
    {"host path", "GET", H11, "/", {"Host", "host/path"}, 400, "bad_host", 0, 0, NULL, 0},
    {"host v6", "GET", H11, "/", {"Host", "[::1]:8443"}, OK, MOAT_BODY_NONE, 0, "/", 0},
    {"host v6 unclosed", "GET", H11, "/", {"Host", "[::1"}, 400, "bad_host", 0, 0, NULL, 0},
    {"host empty port", "GET", H11, "/", {"Host", "host:"}, 400, "bad_host", 0, 0, NULL, 0},
    {"host big port", "GET", H11, "/", {"Host", "host:99999"}, 400, "bad_host", 0, 0, NULL, 0},
    {"host alpha port", "GET", H11, "/", {"Host", "host:abc"}, 400, "bad_host", 0, 0, NULL, 0},
    {"host port", "GET", H11, "/", {"Host", "Example.COM:8443"}, OK, MOAT_BODY_NONE, 0, "/", 0},
    /* Content-Length */
    {"cl", "POST", H11, "/", {HOST, "Content-Length", "5"}, OK, MOAT_BODY_LENGTH, 5, "/", 0},
    {"cl zero", "POST", H11, "/", {HOST, "content-length", "0"}, OK, MOAT_BODY_LENGTH, 0, "/", 0},
    {"cl leading zeros", "POST", H11, "/", {HOST, "Content-Length", "05"}, OK, MOAT_BODY_LENGTH,
     5, "/", 0},
    {"cl at limit", "POST", H11, "/", {HOST, "Content-Length", "1000"}, OK, MOAT_BODY_LENGTH,
     1000, "/", 0},
    {"cl over limit", "POST", H11, "/", {HOST, "Content-Length", "1001"}, 413, "body_too_large",
     0, 0, NULL, 0},
    {"cl plus", "POST", H11, "/", {HOST, "Content-Length", "+5"}, 400, "bad_content_length", 0, 0,
     NULL, 0},
    {"cl negative", "POST", H11, "/", {HOST, "Content-Length", "-1"}, 400, "bad_content_length",
     0, 0, NULL, 0},
    {"cl space", "POST", H11, "/", {HOST, "Content-Length", "5 5"}, 400, "bad_content_length", 0,
     0, NULL, 0},
    {"cl untrimmed", "POST", H11, "/", {HOST, "Content-Length", " 5"}, 400, "bad_header_value", 0,
     0, NULL, 0},
    {"cl list", "POST", H11, "/", {HOST, "Content-Length", "5,5"}, 400, "bad_content_length", 0,
     0, NULL, 0},
    {"cl hex", "POST", H11, "/", {HOST, "Content-Length", "0x5"}, 400, "bad_content_length", 0, 0,
     NULL, 0},
    {"cl empty", "POST", H11, "/", {HOST, "Content-Length", ""}, 400, "bad_content_length", 0, 0,
     NULL, 0},
    {"cl overflow", "POST", H11, "/", {HOST, "Content-Length", "18446744073709551616"}, 400,
     "bad_content_length", 0, 0, NULL, 0},
    {"cl 20 digits", "POST", H11, "/", {HOST, "Content-Length", "99999999999999999999"}, 400,
     "bad_content_length", 0, 0, NULL, 0},
    {"cl dup equal", "POST", H11, "/", {HOST, "Content-Length", "5", "Content-Length", "5"}, 400,
     "dup_content_length", 0, 0, NULL, 0},
    {"cl dup differ", "POST", H11, "/", {HOST, "Content-Length", "5", "CONTENT-LENGTH", "6"}, 400,
     "dup_content_length", 0, 0, NULL, 0},
    /* Transfer-Encoding */
    {"te chunked", "POST", H11, "/", {HOST, "Transfer-Encoding", "chunked"}, OK,
     MOAT_BODY_CHUNKED, 0, "/", 0},
    {"te Chunked", "POST", H11, "/", {HOST, "transfer-encoding", "Chunked"}, OK,
     MOAT_BODY_CHUNKED, 0, "/", 0},
    {"te gzip", "POST", H11, "/", {HOST, "Transfer-Encoding", "gzip"}, 400,
     "bad_transfer_encoding", 0, 0, NULL, 0},
    {"te identity", "POST", H11, "/", {HOST, "Transfer-Encoding", "identity"}, 400,
     "bad_transfer_encoding", 0, 0, NULL, 0},
    {"te chunked twice", "POST", H11, "/", {HOST, "Transfer-Encoding", "chunked, chunked"}, 400,
     "bad_transfer_encoding", 0, 0, NULL, 0},
    {"te gzip chunked", "POST", H11, "/", {HOST, "Transfer-Encoding", "gzip, chunked"}, 400,
     "bad_transfer_encoding", 0, 0, NULL, 0},
    {"te empty", "POST", H11, "/", {HOST, "Transfer-Encoding", ""}, 400, "bad_transfer_encoding",
     0, 0, NULL, 0},
    {"te http/1.0", "POST", H10, "/", {HOST, "Transfer-Encoding", "chunked"}, 400,
     "bad_transfer_encoding", 0, 0, NULL, 0},
    {"te dup", "POST", H11, "/", {HOST, "Transfer-Encoding", "chunked", "Transfer-Encoding",
     "chunked"}, 400, "dup_transfer_encoding", 0, 0, NULL, 0},
    {"cl and te", "POST", H11, "/", {HOST, "Content-Length", "5", "Transfer-Encoding", "chunked"},
     400, "cl_and_te", 0, 0, NULL, 0},
    {"te and cl", "POST", H11, "/", {HOST, "Transfer-Encoding", "chunked", "Content-Length", "0"},
     400, "cl_and_te", 0, 0, NULL, 0},
    /* Expect */
    {"expect 100", "POST", H11, "/", {HOST, "Content-Length", "5", "Expect", "100-continue"}, OK,
     MOAT_BODY_LENGTH, 5, "/", 1},
    {"expect 100 case", "POST", H11, "/", {HOST, "expect", "100-Continue"}, OK, MOAT_BODY_NONE, 0,
     "/", 1},
    {"expect 100 on 1.0", "POST", H10, "/", {HOST, "Expect", "100-continue"}, OK, MOAT_BODY_NONE,
     0, "/", 0},
    {"expect other", "POST", H11, "/", {HOST, "Expect", "200-ok"}, 417, "bad_expect", 0, 0, NULL,
     0},
    {"expect empty", "POST", H11, "/", {HOST, "Expect", ""}, 417, "bad_expect", 0, 0, NULL, 0},
    /* precedence: 400 framing beats 413 and 417 */
    {"cl_and_te before 413", "POST", H11, "/", {HOST, "Content-Length", "5000",
     "Transfer-Encoding", "chunked"}, 400, "cl_and_te", 0, 0, NULL, 0},
    {"bad cl before expect", "POST", H11, "/", {HOST, "Expect", "x", "Content-Length", "x"}, 400,
     "bad_content_length", 0, 0, NULL, 0},
};
/* clang-format on */

static void build_fields(const struct rc_case *c, struct moat_hdr *h, size_t *n)
{
    size_t i;

    *n = 0;
    for (i = 0; i < 2 * MAX_FIELDS && c->f[i] != NULL; i += 2) {
        h[*n].name = c->f[i];
        h[*n].name_len = strlen(c->f[i]);
        h[*n].value = c->f[i + 1];
        h[*n].value_len = strlen(c->f[i + 1]);
        (*n)++;
    }
}

START_TEST(test_reqcheck_table)
{
    const struct rc_case *c = &cases[_i];
    struct moat_hdr h[MAX_FIELDS];
    struct moat_req_view req;
    struct moat_reqcheck_result res;

    build_fields(c, h, &req.n_hdrs);
    req.hdrs = h;
    req.method = c->method;
    req.version = c->version;
    req.target = c->target;
    ck_assert_int_eq(moat_reqcheck_run(&limits, &req, &res), 0);
    ck_assert_msg(res.status == c->status, "%s: status %d, want %d (%s)", c->label, res.status,
                  c->status, res.reason);
    ck_assert_msg(strcmp(res.reason, c->reason) == 0, "%s: reason %s, want %s", c->label,
                  res.reason, c->reason);
    if (c->status != 0) {
        ck_assert_ptr_null(res.path);
        ck_assert_ptr_null(res.host);
        ck_assert_int_eq(res.body, MOAT_BODY_NONE);
        return;
    }
    ck_assert_msg(res.body == c->body, "%s: body %d", c->label, (int)res.body);
    ck_assert_msg(res.content_length == c->cl, "%s: cl", c->label);
    ck_assert_msg(res.path_len == strlen(c->path) && memcmp(res.path, c->path, res.path_len) == 0,
                  "%s: path %.*s", c->label, (int)res.path_len, res.path);
    ck_assert_int_eq(res.expect_continue, c->expect);
    /* The host is the Host field's value, borrowed. */
    ck_assert_ptr_nonnull(res.host);
    ck_assert_int_eq(res.host_len, h[0].value_len);
    ck_assert_ptr_eq(res.host, h[0].value);
}
END_TEST

/* Paths borrowed from the target point into it (not copies). */
START_TEST(test_path_points_into_target)
{
    static const char target[] = "http://example.com/x?y";
    const struct moat_hdr h = {"Host", 4, "example.com", 11};
    struct moat_req_view req = {"GET", "HTTP/1.1", target, &h, 1};
    struct moat_reqcheck_result res;

    moat_reqcheck_run(&limits, &req, &res);
    ck_assert_int_eq(res.status, 0);
    ck_assert_ptr_eq(res.path, target + 18);
    ck_assert_uint_eq(res.path_len, 4);
}
END_TEST

START_TEST(test_no_body_limit)
{
    const struct moat_reqcheck_limits nolim = {8, 256, 64, 0};
    const struct moat_hdr h[2] = {{"Host", 4, "a", 1},
                                  {"Content-Length", 14, "18446744073709551615", 20}};
    struct moat_req_view req = {"PUT", "HTTP/1.1", "/", h, 2};
    struct moat_reqcheck_result res;

    moat_reqcheck_run(&nolim, &req, &res);
    ck_assert_int_eq(res.status, 0);
    ck_assert_int_eq(res.body, MOAT_BODY_LENGTH);
    ck_assert(res.content_length == UINT64_MAX);
}
END_TEST

/* A NUL inside a value (lengths, not strings) is a control byte. */
START_TEST(test_nul_in_value)
{
    const struct moat_hdr h[2] = {{"Host", 4, "a", 1}, {"X-A", 3, "a\0b", 3}};
    struct moat_req_view req = {"GET", "HTTP/1.1", "/", h, 2};
    struct moat_reqcheck_result res;

    moat_reqcheck_run(&limits, &req, &res);
    ck_assert_int_eq(res.status, 400);
    ck_assert_str_eq(res.reason, "bad_header_value");
}
END_TEST

struct host_case {
    const char *s;
    int ok;
};

/* clang-format off */
static const struct host_case host_cases[] = {
    {"example.com", 1},
    {"EXAMPLE.com.", 1},
    {"localhost:8443", 1},
    {"a_b-c.d", 1},
    {"127.0.0.1", 1},
    {"127.0.0.1:1", 1},
    {"[::1]", 1},
    {"[2001:db8::1]:65535", 1},
    {"[::ffff:1.2.3.4]", 1},
    {"h:08443", 1},
    {"", 0},
    {":80", 0},
    {"host:", 0},
    {"host:0", 0},
    {"host:65536", 0},
    {"host:123456", 0},
    {"host:abc", 0},
    {"host:80:80", 0},
    {"a b", 0},
    {"user@host", 0},
    {"host/path", 0},
    {"host?q", 0},
    {"host#f", 0},
    {"ho%73t", 0},
    {"[::1", 0},
    {"::1", 0},
    {"[::1]x", 0},
    {"[::1]:", 0},
    {"[]", 0},
    {"[:::]", 0},
    {"[fe80::1%25eth0]", 0},
    {"[v1.x]", 0},
    {"[::1]]", 0},
    {"caf\xc3\xa9.example", 0},
    {"a,b", 0},
    {"a;b", 0},
};
/* clang-format on */

START_TEST(test_host_table)
{
    const struct host_case *c = &host_cases[_i];

    ck_assert_msg(moat_reqcheck_host_ok(c->s, strlen(c->s)) == c->ok, "host %s", c->s);
}
END_TEST

START_TEST(test_host_long)
{
    char buf[300];

    memset(buf, 'a', sizeof(buf));
    ck_assert(moat_reqcheck_host_ok(buf, 253));
    ck_assert(!moat_reqcheck_host_ok(buf, 254));
    memcpy(buf + 253, ":8443", 5);
    ck_assert(moat_reqcheck_host_ok(buf, 258));
    ck_assert(!moat_reqcheck_host_ok(NULL, 0));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reqcheck");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_reqcheck_table, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_loop_test(tc, test_host_table, 0, sizeof(host_cases) / sizeof(host_cases[0]));
    tcase_add_test(tc, test_path_points_into_target);
    tcase_add_test(tc, test_no_body_limit);
    tcase_add_test(tc, test_nul_in_value);
    tcase_add_test(tc, test_host_long);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
