/* test_fwd.c - unit tests for the upstream request head, request ids and hop-by-hop filtering. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "moat/fwd.h"

#define MAX_FIELDS 12
#define OUT_CAP 2048
#define CANARY 0x5a

/* One request as reqcheck accepted it, and the exact head expected upstream. */
struct fwd_case {
    const char *label;             /* shown on failure */
    const char *method;            /* request method */
    const char *path;              /* check->path */
    const char *host;              /* check->host */
    enum moat_body_kind body;      /* check->body */
    uint64_t cl;                   /* check->content_length */
    const char *f[2 * MAX_FIELDS]; /* client fields: name, value pairs, NULL ends */
    int family;                    /* client address family */
    const char *ip;                /* client address text */
    int trusted;                   /* client is a trusted proxy */
    const char *proto;             /* "https" / "http" */
    const char *rid_hdr;           /* request id header name */
    const char *rid;               /* request id */
    const char *want;              /* exact head, NULL when -1 is expected */
};

#define V4 AF_INET, "192.0.2.7"
#define RID "X-Request-Id", "abc"
#define LINE "GET / HTTP/1.1\r\nHost: example.com\r\n"
#define FWD_V4                                                                                     \
    "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: https\r\n"                                   \
    "X-Forwarded-Host: example.com\r\n"                                                            \
    "Forwarded: for=192.0.2.7;host=example.com;proto=https\r\n"
#define TAIL FWD_V4 "X-Request-Id: abc\r\n\r\n"
#define GET "GET", "/", "example.com", MOAT_BODY_NONE, 0

/* clang-format off */
static const struct fwd_case cases[] = {
    {"plain get", GET, {NULL}, V4, 0, "https", RID, LINE TAIL},
    {"fields in order, empty kept", GET, {"Accept", "*/*", "X-Empty", "", "User-Agent", "t/1",
     "accept", "text/html"}, V4, 0, "https", RID,
     LINE "Accept: */*\r\nX-Empty: \r\nUser-Agent: t/1\r\naccept: text/html\r\n" TAIL},
    {"hop-by-hop dropped", GET, {"Connection", "close, X-Secret", "X-Secret", "s", "Keep-Alive",
     "timeout=5", "TE", "trailers", "Trailer", "X-T", "Upgrade", "websocket", "Proxy-Connection",
     "keep-alive", "Proxy-Authorization", "Basic eA==", "Accept", "*/*", "Close", "x"}, V4, 0,
     "https", RID, LINE "Accept: */*\r\n" TAIL},
    {"several Connection fields, OWS and case", GET, {"Connection", "keep-alive", "X-A", "1",
     "connection", " ,  x-a ,, X-C\t", "X-B", "2", "X-C", "3", "X-AB", "4"}, V4, 0, "https", RID,
     LINE "X-B: 2\r\nX-AB: 4\r\n" TAIL},
    {"client framing and Host replaced", "POST", "/up", "example.com", MOAT_BODY_LENGTH, 5,
     {"Host", "example.com", "Content-Length", "5", "Expect", "100-continue", "X-A", "a"}, V4, 0,
     "https", RID,
     "POST /up HTTP/1.1\r\nHost: example.com\r\nX-A: a\r\nContent-Length: 5\r\n" TAIL},
    {"chunked", "POST", "/up", "example.com", MOAT_BODY_CHUNKED, 0, {"Transfer-Encoding",
     "chunked", "X-A", "a"}, V4, 0, "https", RID,
     "POST /up HTTP/1.1\r\nHost: example.com\r\nX-A: a\r\nTransfer-Encoding: chunked\r\n" TAIL},
    {"length zero", "PUT", "/", "example.com", MOAT_BODY_LENGTH, 0, {NULL}, V4, 0, "https", RID,
     "PUT / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n" TAIL},
    {"big length", "PUT", "/", "example.com", MOAT_BODY_LENGTH, UINT64_MAX, {NULL}, V4, 0,
     "https", RID,
     "PUT / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 18446744073709551615\r\n" TAIL},
    {"untrusted forwarding dropped", GET, {"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto",
     "http", "X-Forwarded-Host", "evil", "Forwarded", "for=6.6.6.6", "X-Real-IP", "6.6.6.6",
     "X-Forwarded-Port", "1", "x-forwarded-ssl", "on", "X_Forwarded_For", "6.6.6.6", "My_Header",
     "u", "X-Forwardedx", "k"}, V4, 0, "https", RID, LINE "X-Forwardedx: k\r\n" TAIL},
    {"untrusted never looks at values", GET, {"X-Forwarded-For", "a\nb"}, V4, 0, "https", RID,
     LINE TAIL},
    {"trusted appends and keeps", GET, {"X-Forwarded-For", "1.1.1.1", "Forwarded",
     "for=1.1.1.1;proto=https", "X-Real-IP", "9.9.9.9", "x-forwarded-for", "2.2.2.2, 3.3.3.3",
     "X-Forwarded-Proto", "http", "X-Forwarded-Host", "orig.example", "X-Forwarded-Port", "443",
     "forwarded", "for=\"[2001:db8::2]\""}, V4, 1, "https", RID,
     LINE "X-Forwarded-Port: 443\r\n"
          "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 192.0.2.7\r\n"
          "X-Forwarded-Proto: http\r\nX-Forwarded-Host: orig.example\r\n"
          "Forwarded: for=1.1.1.1;proto=https, for=\"[2001:db8::2]\", "
          "for=192.0.2.7;host=example.com;proto=https\r\nX-Request-Id: abc\r\n\r\n"},
    {"trusted without forwarding fields", GET, {"Accept", "*/*"}, V4, 1, "https", RID,
     LINE "Accept: */*\r\n" TAIL},
    {"trusted empty values skipped", GET, {"X-Forwarded-For", "", "X-Forwarded-Proto", "",
     "Forwarded", ""}, V4, 1, "https", RID, LINE TAIL},
    {"trusted but listed in Connection", GET, {"Connection", "X-Forwarded-For", "X-Forwarded-For",
     "1.1.1.1"}, V4, 1, "https", RID, LINE TAIL},
    {"trusted value with LF refused", GET, {"X-Forwarded-For", "a\nb"}, V4, 1, "https", RID, NULL},
    {"ipv6 client", GET, {NULL}, AF_INET6, "2001:db8::1", 0, "https", RID,
     LINE "X-Forwarded-For: 2001:db8::1\r\nX-Forwarded-Proto: https\r\n"
          "X-Forwarded-Host: example.com\r\n"
          "Forwarded: for=\"[2001:db8::1]\";host=example.com;proto=https\r\n"
          "X-Request-Id: abc\r\n\r\n"},
    {"unix client", GET, {NULL}, AF_UNIX, NULL, 0, "https", RID,
     LINE "X-Forwarded-For: unknown\r\nX-Forwarded-Proto: https\r\n"
          "X-Forwarded-Host: example.com\r\n"
          "Forwarded: for=unknown;host=example.com;proto=https\r\n"
          "X-Request-Id: abc\r\n\r\n"},
    {"host with port quoted", "GET", "/", "example.com:8443", MOAT_BODY_NONE, 0, {NULL}, V4, 0,
     "http", RID,
     "GET / HTTP/1.1\r\nHost: example.com:8443\r\n"
          "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\n"
          "X-Forwarded-Host: example.com:8443\r\n"
          "Forwarded: for=192.0.2.7;host=\"example.com:8443\";proto=http\r\n"
          "X-Request-Id: abc\r\n\r\n"},
    {"v6 host", "OPTIONS", "*", "[::1]:8443", MOAT_BODY_NONE, 0, {NULL}, V4, 0, "https", RID,
     "OPTIONS * HTTP/1.1\r\nHost: [::1]:8443\r\n"
          "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: https\r\n"
          "X-Forwarded-Host: [::1]:8443\r\n"
          "Forwarded: for=192.0.2.7;host=\"[::1]:8443\";proto=https\r\n"
          "X-Request-Id: abc\r\n\r\n"},
    {"client request ids dropped", GET, {"X-Request-Id", "evil", "x-request-id", "evil2", "X-A",
     "a"}, V4, 0, "https", RID, LINE "X-A: a\r\n" TAIL},
    {"custom request id header", GET, {"X-Correlation-Id", "c", "X-Request-Id", "r"}, V4, 0,
     "https", "X-Correlation-Id", "zz-9",
     LINE "X-Request-Id: r\r\n" FWD_V4 "X-Correlation-Id: zz-9\r\n\r\n"},
    {"no request id header", GET, {"X-Request-Id", "r"}, V4, 0, "https", NULL, NULL,
     LINE "X-Request-Id: r\r\n" FWD_V4 "\r\n"},
    {"custom method and path", "PURGE", "/a/b?c=d", "example.com", MOAT_BODY_NONE, 0, {NULL}, V4,
     0, "https", RID, "PURGE /a/b?c=d HTTP/1.1\r\nHost: example.com\r\n" TAIL},
    /* defence in depth: nothing that could break the framing is ever written */
    {"CR in value", GET, {"X-A", "a\rb"}, V4, 0, "https", RID, NULL},
    {"LF in value", GET, {"X-A", "a\nX-B: b"}, V4, 0, "https", RID, NULL},
    {"bad field name", GET, {"X A", "a"}, V4, 0, "https", RID, NULL},
    {"CR in host", "GET", "/", "example.com\r\nX: y", MOAT_BODY_NONE, 0, {NULL}, V4, 0, "https",
     RID, NULL},
    {"space in path", "GET", "/a HTTP/1.0\r\n", "example.com", MOAT_BODY_NONE, 0, {NULL}, V4, 0,
     "https", RID, NULL},
    {"method not a token", "GET /x", "/", "example.com", MOAT_BODY_NONE, 0, {NULL}, V4, 0,
     "https", RID, NULL},
    {"LF in request id", GET, {NULL}, V4, 0, "https", "X-Request-Id", "a\nb", NULL},
    {"bad request id header", GET, {NULL}, V4, 0, "https", "X Request", "a", NULL},
    {"LF in client ip", GET, {NULL}, AF_INET, "1.2.3.4\nX: y", 0, "https", RID, NULL},
    {"LF in proto", GET, {NULL}, V4, 0, "https\n", RID, NULL},
};
/* clang-format on */

static void build_fields(const struct fwd_case *c, struct moat_hdr *h, size_t *n)
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

/* Fills in/check/h from a case; check and h must outlive in. */
static void build_input(const struct fwd_case *c, struct moat_fwd_input *in,
                        struct moat_reqcheck_result *check, struct moat_hdr *h)
{
    static const unsigned char addr[16] = {192, 0, 2, 7};

    memset(check, 0, sizeof(*check));
    check->reason = "ok";
    check->body = c->body;
    check->content_length = c->cl;
    check->host = c->host;
    check->host_len = strlen(c->host);
    check->path = c->path;
    check->path_len = strlen(c->path);
    memset(in, 0, sizeof(*in));
    in->method = c->method;
    in->check = check;
    in->hdrs = h;
    build_fields(c, h, &in->n_hdrs);
    in->client_family = c->family;
    in->client_addr = c->family == AF_UNIX ? NULL : addr;
    in->client_ip = c->ip;
    in->client_trusted = c->trusted;
    in->proto = c->proto;
    in->request_id = c->rid;
    in->request_id_header = c->rid_hdr;
}

START_TEST(test_head_table)
{
    const struct fwd_case *c = &cases[_i];
    struct moat_reqcheck_result check;
    struct moat_hdr h[MAX_FIELDS];
    struct moat_fwd_input in;
    char out[OUT_CAP];
    long n;

    build_input(c, &in, &check, h);
    n = moat_fwd_build_head(&in, out, sizeof(out));
    if (c->want == NULL) {
        ck_assert_msg(n == -1, "%s: got %ld bytes, want -1", c->label, n);
        return;
    }
    ck_assert_msg(n >= 0, "%s: got -1", c->label);
    ck_assert_msg((size_t)n == strlen(c->want) && memcmp(out, c->want, (size_t)n) == 0,
                  "%s:\n--- got\n%.*s--- want\n%s", c->label, (int)n, out, c->want);
}
END_TEST

/* Every accepted case fits exactly in its own length, fails one byte short, and
 * never writes past cap. */
START_TEST(test_head_cap)
{
    const struct fwd_case *c = &cases[_i];
    struct moat_reqcheck_result check;
    struct moat_hdr h[MAX_FIELDS];
    struct moat_fwd_input in;
    char out[OUT_CAP];
    size_t len;
    size_t cap;
    size_t i;

    if (c->want == NULL)
        return;
    build_input(c, &in, &check, h);
    len = strlen(c->want);
    memset(out, CANARY, sizeof(out));
    ck_assert_int_eq(moat_fwd_build_head(&in, out, len), (long)len);
    ck_assert_int_eq((unsigned char)out[len], CANARY);
    for (cap = 0; cap < len; cap += (cap < 8 || cap + 8 > len) ? 1 : 7) {
        memset(out, CANARY, sizeof(out));
        ck_assert_msg(moat_fwd_build_head(&in, out, cap) == -1, "%s: cap %zu", c->label, cap);
        for (i = cap; i < len + 1; i++)
            ck_assert_msg((unsigned char)out[i] == CANARY, "%s: wrote past cap %zu", c->label, cap);
    }
}
END_TEST

/* The CSP nonce header: the client's copies (any case) are dropped, moat's is
 * added after the request id; without a nonce none is sent at all. */
START_TEST(test_head_nonce)
{
    static const char *const fields[] = {"X-CSP-Nonce", "forged",      "Accept",
                                         "*/*",         "x-csp-nonce", "again"};
    static const char *const want_tail[] = {"X-Request-Id: abc\r\nX-CSP-Nonce: bm9uY2U=\r\n\r\n",
                                            "X-Request-Id: abc\r\n\r\n"};
    struct moat_reqcheck_result check;
    struct moat_hdr h[MAX_FIELDS];
    struct moat_fwd_input in;
    char out[OUT_CAP];
    char want[OUT_CAP];
    size_t i;
    long n;

    for (i = 0; i < 2; i++) {
        build_input(&cases[0], &in, &check, h);
        h[0].name = fields[0];
        h[0].name_len = strlen(fields[0]);
        h[0].value = fields[1];
        h[0].value_len = strlen(fields[1]);
        h[1].name = fields[2];
        h[1].name_len = strlen(fields[2]);
        h[1].value = fields[3];
        h[1].value_len = strlen(fields[3]);
        h[2].name = fields[4];
        h[2].name_len = strlen(fields[4]);
        h[2].value = fields[5];
        h[2].value_len = strlen(fields[5]);
        in.n_hdrs = 3;
        in.nonce_header = "X-CSP-Nonce";
        in.nonce = i == 0 ? "bm9uY2U=" : "";
        snprintf(want, sizeof(want), "%s%s%s", LINE "Accept: */*\r\n", FWD_V4, want_tail[i]);
        n = moat_fwd_build_head(&in, out, sizeof(out));
        ck_assert_int_ge(n, 0);
        ck_assert_msg((size_t)n == strlen(want) && memcmp(out, want, (size_t)n) == 0,
                      "--- got\n%.*s--- want\n%s", (int)n, out, want);
    }
}
END_TEST

/* The verified client-certificate subject: the client's copies (any case) are
 * always dropped, also when moat has no subject to send (mTLS off, or no
 * certificate); moat's comes last. */
START_TEST(test_head_client_subject)
{
    static const char *const fields[] = {"X-Client-Subject", "CN=forged", "Accept", "*/*",
                                         "x-client-subject", "CN=again"};
    static const char *const want_tail[] = {
        "X-Request-Id: abc\r\nX-Client-Subject: CN=alice,O=Acme\r\n\r\n",
        "X-Request-Id: abc\r\n\r\n", "X-Request-Id: abc\r\n\r\n"};
    static const char *const subjects[] = {"CN=alice,O=Acme", "", NULL};
    struct moat_reqcheck_result check;
    struct moat_hdr h[MAX_FIELDS];
    struct moat_fwd_input in;
    char out[OUT_CAP];
    char want[OUT_CAP];
    size_t i, j;
    long n;

    for (i = 0; i < 3; i++) {
        build_input(&cases[0], &in, &check, h);
        for (j = 0; j < 3; j++) {
            h[j].name = fields[2 * j];
            h[j].name_len = strlen(fields[2 * j]);
            h[j].value = fields[2 * j + 1];
            h[j].value_len = strlen(fields[2 * j + 1]);
        }
        in.n_hdrs = 3;
        in.client_subject_header = "X-Client-Subject";
        in.client_subject = subjects[i];
        snprintf(want, sizeof(want), "%s%s%s", LINE "Accept: */*\r\n", FWD_V4, want_tail[i]);
        n = moat_fwd_build_head(&in, out, sizeof(out));
        ck_assert_int_ge(n, 0);
        ck_assert_msg((size_t)n == strlen(want) && memcmp(out, want, (size_t)n) == 0,
                      "--- got\n%.*s--- want\n%s", (int)n, out, want);
    }
    /* a subject that would break the framing is refused, never sent */
    in.client_subject = "CN=a\r\nX-Admin: 1";
    ck_assert_int_eq(moat_fwd_build_head(&in, out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_head_bad_input)
{
    const struct fwd_case *c = &cases[0];
    struct moat_reqcheck_result check;
    struct moat_hdr h[MAX_FIELDS];
    struct moat_fwd_input in;
    char out[OUT_CAP];

    build_input(c, &in, &check, h);
    ck_assert_int_gt(moat_fwd_build_head(&in, out, sizeof(out)), 0);
    check.status = 400;
    ck_assert_int_eq(moat_fwd_build_head(&in, out, sizeof(out)), -1);
    check.status = 0;
    in.check = NULL;
    ck_assert_int_eq(moat_fwd_build_head(&in, out, sizeof(out)), -1);
    ck_assert_int_eq(moat_fwd_build_head(NULL, out, sizeof(out)), -1);
    in.check = &check;
    ck_assert_int_eq(moat_fwd_build_head(&in, NULL, sizeof(out)), -1);
    check.path_len = 0;
    ck_assert_int_eq(moat_fwd_build_head(&in, out, sizeof(out)), -1);
}
END_TEST

/* A value with a NUL (lengths, not strings) is refused too. */
START_TEST(test_head_nul_in_value)
{
    const struct fwd_case *c = &cases[0];
    struct moat_reqcheck_result check;
    struct moat_hdr h[MAX_FIELDS];
    struct moat_fwd_input in;
    char out[OUT_CAP];

    build_input(c, &in, &check, h);
    h[0].name = "X-A";
    h[0].name_len = 3;
    h[0].value = "a\0b";
    h[0].value_len = 3;
    in.n_hdrs = 1;
    ck_assert_int_eq(moat_fwd_build_head(&in, out, sizeof(out)), -1);
}
END_TEST

#define ID128                                                                                      \
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"                             \
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Request id choice: client's id kept or the generated one used. */
struct rid_case {
    const char *label; /* shown on failure */
    const char *f[6];  /* client fields: name, value pairs, NULL ends */
    const char *name;  /* request id header name */
    int accept;        /* accept_client */
    const char *gen;   /* generated id */
    const char *want;  /* expected id */
    int kept;          /* expected return */
};

/* clang-format off */
static const struct rid_case rid_cases[] = {
    {"absent", {"X-A", "b"}, "X-Request-Id", 1, "gen1", "gen1", 0},
    {"valid kept", {"X-Request-Id", "Ab9._:-z"}, "X-Request-Id", 1, "gen1", "Ab9._:-z", 1},
    {"case-insensitive name", {"x-request-id", "abc"}, "X-Request-Id", 1, "gen1", "abc", 1},
    {"not accepted", {"X-Request-Id", "abc"}, "X-Request-Id", 0, "gen1", "gen1", 0},
    {"128 bytes", {"X-Request-Id", ID128}, "X-Request-Id", 1, "gen1", ID128, 1},
    {"129 bytes", {"X-Request-Id", ID128 "x"}, "X-Request-Id", 1, "gen1", "gen1", 0},
    {"empty", {"X-Request-Id", ""}, "X-Request-Id", 1, "gen1", "gen1", 0},
    {"space", {"X-Request-Id", "a b"}, "X-Request-Id", 1, "gen1", "gen1", 0},
    {"slash", {"X-Request-Id", "a/b"}, "X-Request-Id", 1, "gen1", "gen1", 0},
    {"quote", {"X-Request-Id", "a\"b"}, "X-Request-Id", 1, "gen1", "gen1", 0},
    {"newline", {"X-Request-Id", "a\nb"}, "X-Request-Id", 1, "gen1", "gen1", 0},
    {"non-ascii", {"X-Request-Id", "caf\xc3\xa9"}, "X-Request-Id", 1, "gen1", "gen1", 0},
    {"twice", {"X-Request-Id", "a", "X-Request-Id", "b"}, "X-Request-Id", 1, "gen1", "gen1", 0},
    {"other name", {"X-Request-Id", "a"}, "X-Trace", 1, "gen1", "gen1", 0},
    {"no name", {"X-Request-Id", "a"}, NULL, 1, "gen1", "gen1", 0},
    {"no generated", {NULL}, "X-Request-Id", 1, NULL, "", 0},
};
/* clang-format on */

START_TEST(test_request_id_table)
{
    const struct rid_case *c = &rid_cases[_i];
    struct moat_hdr h[3];
    char out[MOAT_REQUEST_ID_MAX + 1];
    size_t n = 0;
    size_t i;
    int kept;

    for (i = 0; i < 6 && c->f[i] != NULL; i += 2) {
        h[n].name = c->f[i];
        h[n].name_len = strlen(c->f[i]);
        h[n].value = c->f[i + 1];
        h[n].value_len = strlen(c->f[i + 1]);
        n++;
    }
    memset(out, 'z', sizeof(out));
    kept = moat_fwd_request_id(h, n, c->name, c->accept, c->gen, out, sizeof(out));
    ck_assert_msg(kept == c->kept, "%s: kept %d", c->label, kept);
    ck_assert_msg(strcmp(out, c->want) == 0, "%s: id %s", c->label, out);
}
END_TEST

START_TEST(test_request_id_small_cap)
{
    const struct moat_hdr h = {"X-Request-Id", 12, "abcdef", 6};
    char out[8];

    memset(out, 'z', sizeof(out));
    ck_assert_int_eq(moat_fwd_request_id(&h, 1, "X-Request-Id", 1, "0123456789", out, 4), 0);
    ck_assert_str_eq(out, "012");
    ck_assert_int_eq(out[4], 'z');
    ck_assert_int_eq(moat_fwd_request_id(&h, 1, "X-Request-Id", 1, "0123456789", out, 7), 1);
    ck_assert_str_eq(out, "abcdef");
    ck_assert_int_eq(moat_fwd_request_id(&h, 1, "X-Request-Id", 1, "g", NULL, 0), 0);
}
END_TEST

struct hop_case {
    const char *name;       /* field name */
    const char *connection; /* joined Connection value, or NULL */
    int hop;                /* expected result */
};

/* clang-format off */
static const struct hop_case hop_cases[] = {
    {"Connection", NULL, 1},
    {"keep-alive", NULL, 1},
    {"TE", NULL, 1},
    {"te", NULL, 1},
    {"Trailer", NULL, 1},
    {"Transfer-Encoding", NULL, 1},
    {"Upgrade", NULL, 1},
    {"Proxy-Connection", NULL, 1},
    {"Proxy-Authenticate", NULL, 1},
    {"proxy-authorization", NULL, 1},
    {"Content-Length", NULL, 1},
    {"Proxy", NULL, 0},
    {"Trailers", NULL, 0},
    {"Content-Type", NULL, 0},
    {"Set-Cookie", NULL, 0},
    {"X-Secret", "close, X-Secret", 1},
    {"x-secret", "close,X-SECRET ", 1},
    {"X-Secret", "close, X-Secrets", 0},
    {"X-Secret", "X-Secre", 0},
    {"X-Secret", "", 0},
    {"X-Secret", ",,, ,x-secret,,", 1},
    {"X-Secret", "keep-alive,\tX-Secret\t, upgrade", 1},
    {"Close", "close", 1},
    {"", "close", 0},
};
/* clang-format on */

START_TEST(test_hop_table)
{
    const struct hop_case *c = &hop_cases[_i];
    size_t clen = c->connection != NULL ? strlen(c->connection) : 0;

    ck_assert_msg(moat_fwd_is_hop_by_hop(c->name, strlen(c->name), c->connection, clen) == c->hop,
                  "%s / %s", c->name, c->connection != NULL ? c->connection : "(null)");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fwd");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_head_table, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_loop_test(tc, test_head_cap, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_test(tc, test_head_nonce);
    tcase_add_test(tc, test_head_client_subject);
    tcase_add_test(tc, test_head_bad_input);
    tcase_add_test(tc, test_head_nul_in_value);
    tcase_add_loop_test(tc, test_request_id_table, 0, sizeof(rid_cases) / sizeof(rid_cases[0]));
    tcase_add_test(tc, test_request_id_small_cap);
    tcase_add_loop_test(tc, test_hop_table, 0, sizeof(hop_cases) / sizeof(hop_cases[0]));
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
