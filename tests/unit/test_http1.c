/* test_http1.c - unit tests for the upstream response head parser and the chunked decoder. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moat/http1.h"

#define S(lit) lit, sizeof(lit) - 1
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define ANY (-1) /* "do not check this field" */

enum { PARTIAL = MOAT_HTTP1_PARTIAL, DONE = MOAT_HTTP1_DONE, ERROR = MOAT_HTTP1_ERROR };
enum {
    NONE = MOAT_FRAME_NONE,
    LEN = MOAT_FRAME_LENGTH,
    CHUNK = MOAT_FRAME_CHUNKED,
    CLOSE = MOAT_FRAME_CLOSE
};

struct head_case {
    const char *in;   /* raw head */
    size_t len;       /* bytes in in */
    int head_request; /* request was HEAD */
    int rc;           /* expected moat_http1_rc */
    int status;       /* expected status (DONE only) */
    int minor;        /* expected HTTP/1.<minor> (DONE only) */
    int framing;      /* expected framing (DONE only) */
    uint64_t cl;      /* expected content_length (LEN only) */
    int keep_alive;   /* expected keep_alive (DONE only) */
    const char *why;  /* expected reason (ERROR only) */
};

/* clang-format off */
#define H_OK(raw, head, st, mi, fr, cl, ka) {S(raw), head, DONE, st, mi, fr, cl, ka, NULL}
#define H_ERR(raw, head, why) {S(raw), head, ERROR, 0, 0, 0, 0, 0, why}
#define H_PART(raw) {S(raw), 0, PARTIAL, 0, 0, 0, 0, 0, NULL}

static const struct head_case head_cases[] = {
    /* status lines and reasons */
    H_OK("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0, 200, 1, LEN, 5, 1),
    H_OK("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, 200, 1, LEN, 0, 1),
    H_OK("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 0, 200, 1, LEN, 0, 1),
    H_OK("HTTP/1.1 404 Not  Found \xc3\xa9\t!\r\nContent-Length: 3\r\n\r\n", 0, 404, 1, LEN, 3, 1),
    H_OK("HTTP/1.1 599 x\r\nContent-Length: 1\r\n\r\n", 0, 599, 1, LEN, 1, 1),
    H_OK("HTTP/1.1 200 OK\nContent-Length: 2\n\n", 0, 200, 1, LEN, 2, 1),
    H_OK("HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\n", 0, 200, 1, LEN, 2, 1),
    H_OK("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n", 0, 200, 1, LEN,
         9223372036854775807ULL, 1),
    H_OK("HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n", 0, 200, 1, LEN, 7, 1),
    H_OK("HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Ows: \t \r\nContent-Length:1\r\n\r\n", 0, 200, 1,
         LEN, 1, 1),
    /* chunked and close-delimited */
    H_OK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 200, 1, CHUNK, 0, 1),
    H_OK("HTTP/1.1 200 OK\r\ntransfer-encoding:  \tCHUNKED \t\r\n\r\n", 0, 200, 1, CHUNK, 0, 1),
    H_OK("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", 0, 200, 1, CLOSE, 0, 0),
    H_OK("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", 0, 200, 0, CLOSE, 0, 0),
    /* keep-alive rules */
    H_OK("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", 0, 200, 1, LEN, 1, 0),
    H_OK("HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 1\r\n\r\n", 0, 200, 1,
         LEN, 1, 0),
    H_OK("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Upgrade\r\nContent-Length: 1\r\n\r\n", 0,
         200, 1, LEN, 1, 1),
    H_OK("HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 1\r\n\r\n", 0, 200, 1, LEN,
         1, 1),
    H_OK("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 0, 200, 0, LEN, 1, 0),
    H_OK("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", 0, 200, 0,
         LEN, 1, 1),
    H_OK("HTTP/1.0 200 OK\r\nConnection: ,Keep-Alive ,\r\nContent-Length: 1\r\n\r\n", 0, 200, 0,
         LEN, 1, 1),
    H_OK("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n"
         "Content-Length: 1\r\n\r\n", 0, 200, 0, LEN, 1, 0),
    /* bodiless responses: CL/TE ignored */
    H_OK("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 1, 200, 1, NONE, 100, 1),
    H_OK("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 1, 200, 1, NONE, 0, 1),
    H_OK("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 1, 200, 1, NONE,
         0, 1),
    H_OK("HTTP/1.1 200 OK\r\n\r\n", 1, 200, 1, NONE, 0, 1),
    H_OK("HTTP/1.1 100 Continue\r\n\r\n", 0, 100, 1, NONE, 0, 1),
    H_OK("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", 0, 103, 1, NONE, 0,
         1),
    H_OK("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
         0, 101, 1, NONE, 0, 1),
    H_OK("HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 204, 1, NONE, 0, 1),
    H_OK("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 0, 304, 1, NONE, 0, 1),
    H_OK("HTTP/1.1 304 Not Modified\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
         0, 304, 1, NONE, 0, 1),
    H_OK("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 0, 204, 1, NONE, 0, 0),
    /* incomplete heads */
    H_PART(""),
    H_PART("HTTP/1.1 200 OK"),
    H_PART("HTTP/1.1 200 OK\r"),
    H_PART("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"),
    H_PART("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r"),
    H_PART("HTTP/1.1 200 OK\nContent-Length: 5\n"),
    /* line endings and NUL */
    H_ERR("HTTP/1.1 200 OK\rContent-Length: 1\r\n\r\n", 0, "bad_line_ending"),
    H_ERR("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", 0, "bad_line_ending"),
    H_ERR("HTTP/1.1 200 OK\r\nA: b\r\r\n\r\n", 0, "bad_line_ending"),
    H_ERR("HTTP/1.1 200 OK\r\n\r\r\n", 0, "bad_line_ending"),
    H_ERR("HTTP/1.1 200 OK\rX", 0, "bad_line_ending"),
    H_ERR("HTTP/1.1 200 OK\0\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n", 0, "bad_header_value"),
    H_ERR("HTTP/1.1 200 OK\r\nA\0: b\r\n\r\n", 0, "bad_header_name"),
    /* status lines */
    H_ERR("HTTP/2 200 OK\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.2 200 OK\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.1 20 OK\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.1 2000 OK\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.1 200OK\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.1  200 OK\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.1\t200 OK\r\n\r\n", 0, "bad_status_line"),
    H_ERR("http/1.1 200 OK\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.1 600 Nope\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.1 099 Nope\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.1 2a0 OK\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.1 200 O\x01K\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.1 200 O\x7fK\r\n\r\n", 0, "bad_status_line"),
    H_ERR("\r\nHTTP/1.1 200 OK\r\n\r\n", 0, "bad_status_line"),
    H_ERR(" HTTP/1.1 200 OK\r\n\r\n", 0, "bad_status_line"),
    H_ERR("HTTP/1.1 2x0 OK\r\n", 0, "bad_status_line"),
    /* field lines */
    H_ERR("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", 0, "obs_fold"),
    H_ERR("HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n", 0, "obs_fold"),
    H_ERR("HTTP/1.1 200 OK\r\n A: b\r\n\r\n", 0, "obs_fold"),
    H_ERR("HTTP/1.1 200 OK\r\nName : v\r\n\r\n", 0, "bad_header_name"),
    H_ERR("HTTP/1.1 200 OK\r\n: v\r\n\r\n", 0, "bad_header_name"),
    H_ERR("HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", 0, "bad_header_name"),
    H_ERR("HTTP/1.1 200 OK\r\nNa me: v\r\n\r\n", 0, "bad_header_name"),
    H_ERR("HTTP/1.1 200 OK\r\nN\xc3\xa4me: v\r\n\r\n", 0, "bad_header_name"),
    H_ERR("HTTP/1.1 200 OK\r\n(x): v\r\n\r\n", 0, "bad_header_name"),
    H_ERR("HTTP/1.1 200 OK\r\nA: b\x01c\r\n\r\n", 0, "bad_header_value"),
    H_ERR("HTTP/1.1 200 OK\r\nA: \x7f\r\n\r\n", 0, "bad_header_value"),
    H_ERR("HTTP/1.1 200 OK\r\nA: b\x1b[0m\r\n\r\n", 0, "bad_header_value"),
    /* Content-Length */
    H_ERR("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 0,
          "dup_content_length"),
    H_ERR("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", 0,
          "dup_content_length"),
    H_ERR("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", 0, "bad_content_length"),
    H_ERR("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, "bad_content_length"),
    H_ERR("HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", 0, "bad_content_length"),
    H_ERR("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", 0, "bad_content_length"),
    H_ERR("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", 0, "bad_content_length"),
    H_ERR("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", 0, "bad_content_length"),
    H_ERR("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", 0,
          "bad_content_length"),
    H_ERR("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n", 0,
          "bad_content_length"),
    /* Transfer-Encoding */
    H_ERR("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
          "cl_and_te"),
    H_ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n", 0,
          "cl_and_te"),
    H_ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0,
          "unsupported_transfer_encoding"),
    H_ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 0,
          "unsupported_transfer_encoding"),
    H_ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
          0, "unsupported_transfer_encoding"),
    H_ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n", 0,
          "unsupported_transfer_encoding"),
    H_ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 0,
          "unsupported_transfer_encoding"),
    H_ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", 0, "unsupported_transfer_encoding"),
    H_ERR("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, "te_in_http10"),
};
/* clang-format on */

START_TEST(test_head_table)
{
    const struct head_case *tc = &head_cases[_i];
    struct moat_http1_resp r;
    size_t head_len = 12345;
    const char *why = "unset";
    int rc;

    rc = moat_http1_parse_response(tc->in, tc->len, tc->head_request, &r, &head_len, &why);
    ck_assert_msg(rc == tc->rc, "case %d: rc %d, want %d (why %s)", _i, rc, tc->rc,
                  why != NULL ? why : "-");
    if (rc == DONE) {
        ck_assert_ptr_null(why);
        ck_assert_uint_eq(head_len, tc->len);
        ck_assert_int_eq(r.status, tc->status);
        ck_assert_int_eq(r.minor, tc->minor);
        ck_assert_int_eq(r.framing, tc->framing);
        ck_assert_uint_eq(r.content_length, tc->cl);
        ck_assert_int_eq(r.length_known, tc->framing == LEN || tc->cl != 0);
        ck_assert_int_eq(r.keep_alive, tc->keep_alive);
    } else if (rc == ERROR) {
        ck_assert_ptr_nonnull(why);
        ck_assert_str_eq(why, tc->why);
    } else {
        ck_assert_ptr_null(why);
    }
}
END_TEST

/* A complete good head: every proper prefix is PARTIAL; body bytes after it are not consumed. */
START_TEST(test_head_prefixes)
{
    const struct head_case *tc = &head_cases[_i];
    struct moat_http1_resp r;
    size_t head_len, n;
    const char *why;
    char *buf;
    int rc;

    if (tc->rc != DONE)
        return;
    for (n = 0; n < tc->len; n++) {
        rc = moat_http1_parse_response(tc->in, n, tc->head_request, &r, &head_len, &why);
        ck_assert_msg(rc == PARTIAL, "case %d prefix %zu: rc %d", _i, n, rc);
    }
    buf = malloc(tc->len + 16);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, tc->in, tc->len);
    memcpy(buf + tc->len, "HTTP/1.1 200\r\n\r\n", 16);
    rc = moat_http1_parse_response(buf, tc->len + 16, tc->head_request, &r, &head_len, &why);
    ck_assert_int_eq(rc, DONE);
    ck_assert_uint_eq(head_len, tc->len);
    free(buf);
}
END_TEST

struct count_case {
    int n_fields; /* header fields in the head */
    int rc;       /* expected result */
};

static const struct count_case count_cases[] = {
    {0, DONE},
    {MOAT_HTTP1_MAX_HDRS - 1, DONE},
    {MOAT_HTTP1_MAX_HDRS, DONE},
    {MOAT_HTTP1_MAX_HDRS + 1, ERROR},
    {MOAT_HTTP1_MAX_HDRS * 4, ERROR},
};

START_TEST(test_head_field_count)
{
    const struct count_case *tc = &count_cases[_i];
    struct moat_http1_resp r;
    size_t head_len, len = 0, cap = 64 + (size_t)tc->n_fields * 16;
    const char *why;
    char *buf = malloc(cap);
    int i, rc;

    ck_assert_ptr_nonnull(buf);
    len += (size_t)snprintf(buf + len, cap - len, "HTTP/1.1 200 OK\r\n");
    for (i = 0; i < tc->n_fields; i++)
        len += (size_t)snprintf(buf + len, cap - len, "X-%d: %d\r\n", i, i);
    len += (size_t)snprintf(buf + len, cap - len, "\r\n");
    rc = moat_http1_parse_response(buf, len, 0, &r, &head_len, &why);
    ck_assert_int_eq(rc, tc->rc);
    if (rc == DONE) {
        ck_assert_uint_eq(r.n_hdrs, (size_t)tc->n_fields);
        ck_assert_int_eq(r.framing, CLOSE);
    } else {
        ck_assert_str_eq(why, "too_many_headers");
    }
    free(buf);
}
END_TEST

START_TEST(test_head_fields)
{
    static const char raw[] = "HTTP/1.1 201 Created here\r\nLocation:  /x/1 \r\n"
                              "X-Empty: \t\r\nSet-Cookie: a=b; Path=/\r\nContent-Length: 4\r\n"
                              "\r\nbody";
    struct moat_http1_resp r;
    size_t head_len;
    const char *why;
    int rc;

    rc = moat_http1_parse_response(raw, sizeof(raw) - 1, 0, &r, &head_len, &why);
    ck_assert_int_eq(rc, DONE);
    ck_assert_uint_eq(head_len, sizeof(raw) - 1 - 4);
    ck_assert_uint_eq(r.reason_len, 12);
    ck_assert(memcmp(r.reason, "Created here", 12) == 0);
    ck_assert(r.reason > raw && r.reason < raw + head_len);
    ck_assert_uint_eq(r.n_hdrs, 4);
    ck_assert(moat_hdr_name_is(&r.hdrs[0], "location"));
    ck_assert(moat_hdr_eq_ci(r.hdrs[0].value, r.hdrs[0].value_len, "/x/1"));
    ck_assert(moat_hdr_name_is(&r.hdrs[1], "X-Empty"));
    ck_assert_uint_eq(r.hdrs[1].value_len, 0);
    ck_assert(moat_hdr_eq_ci(r.hdrs[2].value, r.hdrs[2].value_len, "a=b; Path=/"));
    ck_assert_uint_eq(r.hdrs[2].name_len, 10);
    ck_assert(r.hdrs[3].value == raw + (strstr(raw, ": 4") - raw) + 2);
    ck_assert_uint_eq(r.content_length, 4);

    /* why may be NULL */
    rc = moat_http1_parse_response("x\r\n", 3, 0, &r, &head_len, NULL);
    ck_assert_int_eq(rc, ERROR);
}
END_TEST

/* ---- chunked decoder ---- */

enum { C_MORE = MOAT_CHUNKED_MORE, C_DONE = MOAT_CHUNKED_DONE, C_ERROR = MOAT_CHUNKED_ERROR };

struct chunk_case {
    const char *in;  /* encoded body */
    size_t len;      /* bytes in in */
    int rc;          /* expected final result */
    const char *out; /* expected payload (decoded before the error, for ERROR) */
    size_t out_len;  /* bytes in out */
    const char *why; /* expected reason (ERROR only) */
};

/* clang-format off */
#define C_OK(raw, dec) {S(raw), C_DONE, S(dec), NULL}
#define C_PART(raw, dec) {S(raw), C_MORE, S(dec), NULL}
#define C_BAD(raw, dec, why) {S(raw), C_ERROR, S(dec), why}

static const struct chunk_case chunk_cases[] = {
    C_OK("5\r\nhello\r\n0\r\n\r\n", "hello"),
    C_OK("0\r\n\r\n", ""),
    C_OK("3\r\nabc\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\n", "abcdef"),
    C_OK("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij"),
    C_OK("0005\r\nhello\r\n0000\r\n\r\n", "hello"),
    C_OK("4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"),
    C_OK("3\r\n\0\x01\xff\r\n0\r\n\r\n", "\0\x01\xff"),
    C_OK("5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello"),
    C_OK("5 ;a=b ; c=\"q d\"\r\nhello\r\n0\t;x\r\n\r\n", "hello"),
    C_OK("5;\xc3\xa9\r\nhello\r\n0\r\n\r\n", "hello"),
    C_OK("2\r\nok\r\n0\r\nX-Trailer: 1\r\nY: \r\nEtag:\"x\"\r\n\r\n", "ok"),
    C_OK("5\nhello\n0\n\n", "hello"),
    C_OK("5\r\nhello\n0\r\nA: b\n\r\n", "hello"),
    C_PART("", ""),
    C_PART("5\r\nhel", "hel"),
    C_PART("5\r\nhello\r\n", "hello"),
    C_PART("5\r\nhello\r\n0\r\n", "hello"),
    C_PART("5\r\nhello\r\n0\r\nA: b\r\n", "hello"),
    C_PART("5\r\nhello\r\n0\r\n\r", "hello"),
    C_PART("FFFFFFFFFFFFFFF\r\nab", "ab"),
    C_PART("0FFFFFFFFFFFFFFF\r\nab", "ab"),
    C_PART("000000000000000F\r\nab", "ab"),
    /* size lines */
    C_BAD("g\r\n", "", "bad_chunk_size"),
    C_BAD("\r\n", "", "bad_chunk_size"),
    C_BAD("\n", "", "bad_chunk_size"),
    C_BAD(";x\r\n", "", "bad_chunk_size"),
    C_BAD(" 5\r\nhello\r\n", "", "bad_chunk_size"),
    C_BAD("5 5\r\nhello\r\n", "", "bad_chunk_size"),
    C_BAD("5 \r\nhello\r\n", "", "bad_chunk_size"),
    C_BAD("-5\r\n", "", "bad_chunk_size"),
    C_BAD("+5\r\n", "", "bad_chunk_size"),
    C_BAD("0x5\r\n", "", "bad_chunk_size"),
    C_BAD("5\rX", "", "bad_line_ending"),
    C_BAD("5;a\rb\r\n", "", "bad_line_ending"),
    C_BAD("3\r\nabc\r\nz\r\n", "abc", "bad_chunk_size"),
    C_BAD("1000000000000000\r\n", "", "chunk_size_too_large"),
    C_BAD("FFFFFFFFFFFFFFFF\r\n", "", "chunk_size_too_large"),
    C_BAD("FFFFFFFFFFFFFFFFF\r\n", "", "chunk_size_too_large"),
    C_BAD("00000000000000001\r\n", "", "chunk_size_too_large"),
    C_BAD("1;a\x01\r\nx\r\n", "", "bad_chunk_ext"),
    C_BAD("1;a\0\r\nx\r\n", "", "bad_chunk_ext"),
    C_BAD("1;a\x7f\r\nx\r\n", "", "bad_chunk_ext"),
    /* CRLF after data */
    C_BAD("5\r\nhelloX\r\n0\r\n\r\n", "hello", "bad_chunk_crlf"),
    C_BAD("5\r\nhello0\r\n\r\n", "hello", "bad_chunk_crlf"),
    C_BAD("5\r\nhello\rX", "hello", "bad_chunk_crlf"),
    C_BAD("5\r\nhello\r\r\n", "hello", "bad_chunk_crlf"),
    C_BAD("3\r\nhello\r\n0\r\n\r\n", "hel", "bad_chunk_crlf"),
    /* trailers */
    C_BAD("0\r\nA: b\r\n c\r\n\r\n", "", "obs_fold"),
    C_BAD("0\r\n\tA: b\r\n\r\n", "", "obs_fold"),
    C_BAD("0\r\nAbc\r\n\r\n", "", "bad_trailer"),
    C_BAD("0\r\nA b: c\r\n\r\n", "", "bad_trailer"),
    C_BAD("0\r\n: c\r\n\r\n", "", "bad_trailer"),
    C_BAD("0\r\nA: b\x01\r\n\r\n", "", "bad_trailer"),
    C_BAD("0\r\nA: b\0\r\n\r\n", "", "bad_trailer"),
    C_BAD("0\r\nA: b\rX", "", "bad_line_ending"),
    C_BAD("0\r\n\rX", "", "bad_line_ending"),
};
/* clang-format on */

/* Small deterministic generator for split sizes (state owned by the caller). */
static uint32_t lcg_next(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

struct chunk_result {
    int rc;          /* last result */
    size_t used;     /* input consumed in total */
    size_t out_len;  /* payload produced in total */
    const char *why; /* reason on error */
};

/* Feeds in[0..len) to a fresh decoder in pieces: mode 0 whole (separate output buffer),
 * 1 byte by byte, otherwise random splits seeded by mode; modes >= 1 decode in place.
 * The payload goes to out (len bytes of room). */
static struct chunk_result feed_chunked(const char *in, size_t len, int mode, char *out)
{
    struct moat_chunked c;
    struct chunk_result res = {C_MORE, 0, 0, NULL};
    uint32_t seed = (uint32_t)mode * 2654435761u;
    char *work = malloc(len + 1);
    size_t pos = 0;

    ck_assert_ptr_nonnull(work);
    memcpy(work, in, len);
    memset(&c, 0, sizeof(c));
    do {
        size_t piece = len - pos, used = 0, produced = 0;
        char *dst = mode == 0 ? out + res.out_len : work + res.out_len;

        if (mode == 1 && piece > 1)
            piece = 1;
        else if (mode > 1 && piece > 0)
            piece = lcg_next(&seed) % (piece < 7 ? piece + 1 : 7);
        res.rc = moat_chunked_decode(&c, work + pos, piece, dst, &produced, &used, &res.why);
        ck_assert_uint_le(used, piece);
        ck_assert_uint_le(produced, used);
        if (res.rc == C_MORE)
            ck_assert_uint_eq(used, piece);
        pos += used;
        res.out_len += produced;
    } while (res.rc == C_MORE && pos < len);
    if (mode != 0)
        memcpy(out, work, res.out_len);
    res.used = pos;
    free(work);
    return res;
}

#define N_MODES 8

static void check_chunked(const char *in, size_t len, int want_rc, const char *want_out,
                          size_t want_out_len, const char *want_why, int idx)
{
    char *tail = malloc(len + 4);
    char *out = malloc(len + 4);
    int mode;

    ck_assert_ptr_nonnull(tail);
    ck_assert_ptr_nonnull(out);
    /* bytes after the body must be left alone */
    memcpy(tail, in, len);
    memcpy(tail + len, "XYZ", 3);
    for (mode = 0; mode < N_MODES; mode++) {
        size_t feed_len = want_rc == C_DONE ? len + 3 : len;
        struct chunk_result res = feed_chunked(tail, feed_len, mode, out);

        ck_assert_msg(res.rc == want_rc, "case %d mode %d: rc %d want %d (why %s)", idx, mode,
                      res.rc, want_rc, res.why != NULL ? res.why : "-");
        ck_assert_uint_eq(res.out_len, want_out_len);
        ck_assert(memcmp(out, want_out, want_out_len) == 0);
        if (want_rc == C_ERROR) {
            ck_assert_ptr_nonnull(res.why);
            ck_assert_str_eq(res.why, want_why);
        } else {
            ck_assert_ptr_null(res.why);
            ck_assert_uint_eq(res.used, len);
        }
    }
    free(tail);
    free(out);
}

START_TEST(test_chunked_table)
{
    const struct chunk_case *tc = &chunk_cases[_i];

    check_chunked(tc->in, tc->len, tc->rc, tc->out, tc->out_len, tc->why, _i);
}
END_TEST

enum gen_kind { GEN_EXT, GEN_TRAILER_LEN, GEN_TRAILERS };

struct gen_case {
    enum gen_kind kind; /* what to generate */
    size_t n;           /* extension bytes, trailer value bytes, or trailer count */
    int rc;             /* expected result */
    const char *why;    /* expected reason on error */
};

static const struct gen_case gen_cases[] = {
    {GEN_EXT, 1022, C_DONE, NULL}, /* "1;" + 1022 = 1024-byte size line */
    {GEN_EXT, 1023, C_ERROR, "chunk_ext_too_long"},
    {GEN_EXT, 100000, C_ERROR, "chunk_ext_too_long"},
    {GEN_TRAILER_LEN, 8190, C_DONE, NULL}, /* "A:" + 8190 = 8192-byte trailer line */
    {GEN_TRAILER_LEN, 8191, C_ERROR, "trailer_too_long"},
    {GEN_TRAILERS, 64, C_DONE, NULL},
    {GEN_TRAILERS, 65, C_ERROR, "too_many_trailers"},
    {GEN_TRAILERS, 1000, C_ERROR, "too_many_trailers"},
};

START_TEST(test_chunked_limits)
{
    const struct gen_case *tc = &gen_cases[_i];
    size_t cap = tc->n * 16 + 64, len = 0, i;
    char *buf = malloc(cap);
    const char *payload = "";

    ck_assert_ptr_nonnull(buf);
    if (tc->kind == GEN_EXT) {
        memcpy(buf, "1;", 2);
        memset(buf + 2, 'e', tc->n);
        len = 2 + tc->n;
        memcpy(buf + len, "\r\nx\r\n0\r\n\r\n", 10);
        len += 10;
        payload = "x";
    } else if (tc->kind == GEN_TRAILER_LEN) {
        memcpy(buf, "0\r\nA:", 5);
        memset(buf + 5, 'v', tc->n);
        len = 5 + tc->n;
        memcpy(buf + len, "\r\n\r\n", 4);
        len += 4;
    } else {
        memcpy(buf, "0\r\n", 3);
        len = 3;
        for (i = 0; i < tc->n; i++)
            len += (size_t)snprintf(buf + len, cap - len, "T%zu: v\r\n", i % 1000);
        memcpy(buf + len, "\r\n", 2);
        len += 2;
    }
    check_chunked(buf, len, tc->rc, payload, tc->rc == C_DONE ? strlen(payload) : 0, tc->why, _i);
    free(buf);
}
END_TEST

START_TEST(test_chunked_sticky)
{
    struct moat_chunked c;
    char out[32];
    size_t produced, used;
    const char *why;
    int rc;

    memset(&c, 0, sizeof(c));
    rc = moat_chunked_decode(&c, "0\r\n\r\nmore", 9, out, &produced, &used, &why);
    ck_assert_int_eq(rc, C_DONE);
    ck_assert_uint_eq(used, 5);
    rc = moat_chunked_decode(&c, "more", 4, out, &produced, &used, &why);
    ck_assert_int_eq(rc, C_DONE);
    ck_assert_uint_eq(used, 0);
    ck_assert_uint_eq(produced, 0);

    memset(&c, 0, sizeof(c));
    rc = moat_chunked_decode(&c, "3\r\nabcX", 7, out, &produced, &used, &why);
    ck_assert_int_eq(rc, C_ERROR);
    ck_assert_uint_eq(used, 6);
    ck_assert_uint_eq(produced, 3);
    rc = moat_chunked_decode(&c, "\r\n0\r\n\r\n", 7, out, &produced, &used, NULL);
    ck_assert_int_eq(rc, C_ERROR);
    ck_assert_uint_eq(used, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http1");
    TCase *head = tcase_create("head");
    TCase *chunked = tcase_create("chunked");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(head, test_head_table, 0, N_ELEMS(head_cases));
    tcase_add_loop_test(head, test_head_prefixes, 0, N_ELEMS(head_cases));
    tcase_add_loop_test(head, test_head_field_count, 0, N_ELEMS(count_cases));
    tcase_add_test(head, test_head_fields);
    tcase_add_loop_test(chunked, test_chunked_table, 0, N_ELEMS(chunk_cases));
    tcase_add_loop_test(chunked, test_chunked_limits, 0, N_ELEMS(gen_cases));
    tcase_add_test(chunked, test_chunked_sticky);
    suite_add_tcase(s, head);
    suite_add_tcase(s, chunked);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
