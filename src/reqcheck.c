/* reqcheck.c - request validation: the anti-request-smuggling gate in front of the upstream. */
#include "moat/reqcheck.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#define REGNAME_MAX 253 /* longest host name accepted in Host / authority */
#define V6_TEXT_MAX 45  /* longest textual IPv6 address (INET6_ADDRSTRLEN - 1) */

/* Where the request target points once its form is known. */
enum target_form {
    FORM_ORIGIN = 0,   /* "/path?query" */
    FORM_ASTERISK = 1, /* "*" (OPTIONS only) */
    FORM_ABSOLUTE = 2, /* "http://authority/path?query" */
};

/* What the header scan and the target parse found; all pointers borrowed. */
struct rc_state {
    enum target_form form;       /* form of the request target */
    const char *auth;            /* absolute-form authority (points into target) */
    size_t auth_len;             /* bytes in auth */
    const struct moat_hdr *host; /* the Host field, NULL when absent */
    const struct moat_hdr *cl;   /* the Content-Length field, NULL when absent */
    const struct moat_hdr *te;   /* the Transfer-Encoding field, NULL when absent */
    int expect_seen;             /* at least one Expect field */
    int expect_bad;              /* an Expect field other than 100-continue */
};

static const char root_path[] = "/";

/* Marks the request rejected; returns -1 so callers can "return reject(...)". */
static int reject(struct moat_reqcheck_result *res, int status, const char *reason)
{
    res->status = status;
    res->reason = reason;
    return -1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* a + b, saturating at SIZE_MAX instead of wrapping. */
static size_t sat_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* Parses 1*DIGIT into *out; -1 on an empty string, a non-digit or uint64 overflow. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0)
        return -1;
    for (i = 0; i < len; i++) {
        uint64_t d;

        if (!is_digit(s[i]))
            return -1;
        d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Port: 1 to 5 digits, value 1..65535. */
static int port_ok(const char *s, size_t len)
{
    uint64_t v;

    if (len == 0 || len > 5 || parse_u64(s, len, &v) != 0)
        return 0;
    return v >= 1 && v <= 65535;
}

/* Bracketed IPv6 literal contents, checked by inet_pton (pure, no I/O). */
static int v6_ok(const char *s, size_t len)
{
    char text[V6_TEXT_MAX + 1];
    struct in6_addr a;
    size_t i;

    if (len < 2 || len > V6_TEXT_MAX)
        return 0;
    for (i = 0; i < len; i++) {
        char c = lower(s[i]);
        if (!is_digit(c) && !(c >= 'a' && c <= 'f') && c != ':' && c != '.')
            return 0;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    return inet_pton(AF_INET6, text, &a) == 1;
}

/* A strict reg-name (or IPv4) character: letters, digits, '-', '.', '_'. */
static int regname_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

int moat_reqcheck_host_ok(const char *s, size_t len)
{
    const char *rest;
    size_t i;

    if (s == NULL || len == 0)
        return 0;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);

        if (close == NULL || !v6_ok(s + 1, (size_t)(close - s) - 1))
            return 0;
        rest = close + 1;
    } else {
        for (i = 0; i < len && s[i] != ':'; i++)
            if (!regname_char(s[i]))
                return 0;
        if (i == 0 || i > REGNAME_MAX)
            return 0;
        rest = s + i;
    }
    if (rest == s + len)
        return 1;
    if (rest[0] != ':')
        return 0;
    return port_ok(rest + 1, (size_t)(s + len - rest) - 1);
}

static int check_method(const struct moat_req_view *req, struct moat_reqcheck_result *res)
{
    size_t len;

    if (req->method == NULL)
        return reject(res, 400, "bad_method");
    len = strlen(req->method);
    if (!moat_hdr_is_token(req->method, len))
        return reject(res, 400, "bad_method");
    /* Methods are case-sensitive, but some frameworks upper-case them: refuse any spelling. */
    if (moat_hdr_eq_ci(req->method, len, "CONNECT") || moat_hdr_eq_ci(req->method, len, "TRACE"))
        return reject(res, 501, "method_not_allowed");
    return 0;
}

static int check_version(const struct moat_req_view *req, struct moat_reqcheck_result *res)
{
    if (req->version == NULL ||
        (strcmp(req->version, "HTTP/1.1") != 0 && strcmp(req->version, "HTTP/1.0") != 0))
        return reject(res, 505, "bad_version");
    return 0;
}

/* Splits an absolute-form target ("scheme://authority[/path]") into st and res.
 * t[0..len) has already been checked for bytes outside VCHAR and for '#'. */
static int parse_absolute(const char *t, size_t len, struct rc_state *st,
                          struct moat_reqcheck_result *res)
{
    size_t i = 0;
    size_t a;

    while (i < len && (is_alpha(t[i]) ||
                       (i > 0 && (is_digit(t[i]) || t[i] == '+' || t[i] == '-' || t[i] == '.'))))
        i++;
    if (i == 0 || len - i < 3 || memcmp(t + i, "://", 3) != 0)
        return reject(res, 400, "bad_target"); /* authority-form or not a URI we serve */
    if (!moat_hdr_mem_eq_ci(t, i, "http", 4) && !moat_hdr_mem_eq_ci(t, i, "https", 5))
        return reject(res, 400, "host_mismatch");
    a = i + 3;
    i = a;
    while (i < len && t[i] != '/' && t[i] != '?')
        i++;
    /* "http://h?q" has no origin-form inside the target to point at: refuse it. */
    if (i < len && t[i] == '?')
        return reject(res, 400, "bad_target");
    st->form = FORM_ABSOLUTE;
    st->auth = t + a;
    st->auth_len = i - a;
    if (i == len) {
        res->path = root_path;
        res->path_len = 1;
    } else {
        res->path = t + i;
        res->path_len = len - i;
    }
    return 0;
}

static int check_target(const struct moat_reqcheck_limits *lim, const struct moat_req_view *req,
                        struct rc_state *st, struct moat_reqcheck_result *res)
{
    const char *t = req->target;
    size_t len;
    size_t i;

    if (t == NULL)
        return reject(res, 400, "bad_target");
    len = strlen(t);
    if (len > lim->max_uri_bytes)
        return reject(res, 414, "uri_too_long");
    if (len == 0)
        return reject(res, 400, "bad_target");
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        /* RFC 9112 request-target: visible ASCII only; a fragment is never sent. */
        if (c <= 0x20 || c >= 0x7f || c == '#')
            return reject(res, 400, "bad_target");
    }
    if (t[0] == '/') {
        st->form = FORM_ORIGIN;
        res->path = t;
        res->path_len = len;
        return 0;
    }
    if (len == 1 && t[0] == '*') {
        if (strcmp(req->method, "OPTIONS") != 0)
            return reject(res, 400, "bad_target");
        st->form = FORM_ASTERISK;
        res->path = t;
        res->path_len = 1;
        return 0;
    }
    return parse_absolute(t, len, st, res);
}

/* Counts, sizes and classifies the header fields; reports syntax errors and duplicates. */
static int scan_headers(const struct moat_reqcheck_limits *lim, const struct moat_req_view *req,
                        struct rc_state *st, struct moat_reqcheck_result *res)
{
    size_t bytes = 0;
    size_t i;

    if (req->n_hdrs > 0 && req->hdrs == NULL)
        return reject(res, 400, "bad_header_name");
    if (req->n_hdrs > lim->max_headers)
        return reject(res, 431, "too_many_headers");
    for (i = 0; i < req->n_hdrs; i++) {
        bytes = sat_add(bytes, req->hdrs[i].name_len);
        bytes = sat_add(bytes, req->hdrs[i].value_len);
        bytes = sat_add(bytes, 4); /* ": " and CRLF */
    }
    if (bytes > lim->max_header_bytes)
        return reject(res, 431, "headers_too_large");
    for (i = 0; i < req->n_hdrs; i++) {
        const struct moat_hdr *h = &req->hdrs[i];

        if (h->name == NULL || !moat_hdr_is_token(h->name, h->name_len))
            return reject(res, 400, "bad_header_name");
        if ((h->value == NULL && h->value_len > 0) ||
            (h->value != NULL && !moat_hdr_value_ok(h->value, h->value_len)))
            return reject(res, 400, "bad_header_value");
        if (moat_hdr_name_is(h, "Host")) {
            if (st->host != NULL)
                return reject(res, 400, "dup_host");
            st->host = h;
        } else if (moat_hdr_name_is(h, "Content-Length")) {
            if (st->cl != NULL)
                return reject(res, 400, "dup_content_length");
            st->cl = h;
        } else if (moat_hdr_name_is(h, "Transfer-Encoding")) {
            if (st->te != NULL)
                return reject(res, 400, "dup_transfer_encoding");
            st->te = h;
        } else if (moat_hdr_name_is(h, "Expect")) {
            st->expect_seen = 1;
            if (h->value == NULL || !moat_hdr_eq_ci(h->value, h->value_len, "100-continue"))
                st->expect_bad = 1;
        }
    }
    return 0;
}

static int check_host(const struct rc_state *st, struct moat_reqcheck_result *res)
{
    const struct moat_hdr *h = st->host;

    if (h == NULL)
        return reject(res, 400, "missing_host");
    if (h->value == NULL || !moat_reqcheck_host_ok(h->value, h->value_len))
        return reject(res, 400, "bad_host");
    if (st->form == FORM_ABSOLUTE &&
        !moat_hdr_mem_eq_ci(st->auth, st->auth_len, h->value, h->value_len))
        return reject(res, 400, "host_mismatch");
    res->host = h->value;
    res->host_len = h->value_len;
    return 0;
}

static int check_framing(const struct moat_reqcheck_limits *lim, const struct moat_req_view *req,
                         const struct rc_state *st, struct moat_reqcheck_result *res)
{
    uint64_t n = 0;

    if (st->cl != NULL &&
        (st->cl->value == NULL || parse_u64(st->cl->value, st->cl->value_len, &n) != 0))
        return reject(res, 400, "bad_content_length");
    if (st->te != NULL) {
        /* Exactly "chunked": no codings list, no "identity", and never from HTTP/1.0. */
        if (st->te->value == NULL || !moat_hdr_eq_ci(st->te->value, st->te->value_len, "chunked") ||
            strcmp(req->version, "HTTP/1.0") == 0)
            return reject(res, 400, "bad_transfer_encoding");
        if (st->cl != NULL)
            return reject(res, 400, "cl_and_te");
        res->body = MOAT_BODY_CHUNKED;
        return 0;
    }
    if (st->cl != NULL) {
        if (lim->max_body_bytes > 0 && n > lim->max_body_bytes)
            return reject(res, 413, "body_too_large");
        res->body = MOAT_BODY_LENGTH;
        res->content_length = n;
    }
    return 0;
}

static int check_expect(const struct moat_req_view *req, const struct rc_state *st,
                        struct moat_reqcheck_result *res)
{
    if (st->expect_bad)
        return reject(res, 417, "bad_expect");
    /* RFC 9110 10.1.1: a 100-continue from an HTTP/1.0 client is ignored. */
    res->expect_continue = st->expect_seen && strcmp(req->version, "HTTP/1.1") == 0;
    return 0;
}

int moat_reqcheck_run(const struct moat_reqcheck_limits *lim, const struct moat_req_view *req,
                      struct moat_reqcheck_result *res)
{
    struct rc_state st;

    memset(res, 0, sizeof(*res));
    memset(&st, 0, sizeof(st));
    res->reason = "ok";
    res->body = MOAT_BODY_NONE;
    if (check_method(req, res) != 0 || check_version(req, res) != 0)
        goto out;
    if (check_target(lim, req, &st, res) != 0 || scan_headers(lim, req, &st, res) != 0)
        goto out;
    if (check_host(&st, res) != 0 || check_framing(lim, req, &st, res) != 0)
        goto out;
    if (check_expect(req, &st, res) != 0)
        goto out;
out:
    if (res->status != 0) {
        /* A rejected request carries no half-filled view of itself. */
        res->body = MOAT_BODY_NONE;
        res->content_length = 0;
        res->host = NULL;
        res->host_len = 0;
        res->path = NULL;
        res->path_len = 0;
        res->expect_continue = 0;
    }
    return 0;
}
