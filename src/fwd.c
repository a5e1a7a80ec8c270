/* fwd.c - upstream request framing: the head moat writes, forwarding headers, hop-by-hop filter. */
#include "moat/fwd.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* A bounded output buffer; once failed, every later write is a no-op. */
struct wbuf {
    char *buf;  /* caller's output buffer */
    size_t cap; /* bytes available in buf */
    size_t len; /* bytes written so far (always <= cap) */
    int failed; /* set on overflow or on a byte that would break the framing */
};

/* What happens to one client header field on its way upstream. */
enum disp {
    DISP_KEEP = 0, /* copied as is, in order */
    DISP_DROP,     /* not forwarded */
    DISP_XFF,      /* trusted X-Forwarded-For: joined, then moat appends */
    DISP_XFP,      /* trusted X-Forwarded-Proto: kept instead of moat's */
    DISP_XFH,      /* trusted X-Forwarded-Host: kept instead of moat's */
    DISP_FWD,      /* trusted Forwarded: joined, then moat appends */
};

/* Hop-by-hop in both directions, plus the framing moat (or MHD) writes itself. */
static const char *const hop_names[] = {
    "Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length",
};

/* Client fields never forwarded: moat writes its own Host, MHD answers Expect itself. */
static const char *const own_names[] = {"Host", "Expect", "X-Real-IP"};

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* True when the comma-separated list[0..llen) names name (case-insensitive, OWS ignored). */
static int list_has(const char *list, size_t llen, const char *name, size_t nlen)
{
    size_t i = 0;

    while (i < llen) {
        size_t start;
        size_t end;

        while (i < llen && (is_ows(list[i]) || list[i] == ','))
            i++;
        start = i;
        while (i < llen && list[i] != ',')
            i++;
        end = i;
        while (end > start && is_ows(list[end - 1]))
            end--;
        if (end > start && moat_hdr_mem_eq_ci(list + start, end - start, name, nlen))
            return 1;
    }
    return 0;
}

static int hop_static(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof(hop_names) / sizeof(hop_names[0]); i++)
        if (moat_hdr_eq_ci(name, len, hop_names[i]))
            return 1;
    return len >= 6 && moat_hdr_mem_eq_ci(name, 6, "Proxy-", 6);
}

int moat_fwd_is_hop_by_hop(const char *name, size_t name_len, const char *connection,
                           size_t connection_len)
{
    if (name == NULL)
        return 0;
    if (hop_static(name, name_len))
        return 1;
    return connection != NULL && list_has(connection, connection_len, name, name_len);
}

/* True when s is set (not NULL, not ""). */
static int given(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* True when h is the field moat writes under name (name set). */
static int own_field(const struct moat_hdr *h, const char *name)
{
    return given(name) && moat_hdr_name_is(h, name);
}

/* True when any of the client's Connection fields lists h's name. */
static int listed_by_client(const struct moat_fwd_input *in, const struct moat_hdr *h)
{
    size_t i;

    for (i = 0; i < in->n_hdrs; i++) {
        const struct moat_hdr *c = &in->hdrs[i];

        if (c->value != NULL && moat_hdr_name_is(c, "Connection") &&
            list_has(c->value, c->value_len, h->name, h->name_len))
            return 1;
    }
    return 0;
}

static enum disp classify(const struct moat_fwd_input *in, const struct moat_hdr *h)
{
    size_t i;

    if (h->name == NULL || hop_static(h->name, h->name_len) || listed_by_client(in, h))
        return DISP_DROP;
    for (i = 0; i < sizeof(own_names) / sizeof(own_names[0]); i++)
        if (moat_hdr_name_is(h, own_names[i]))
            return DISP_DROP;
    /* moat's own fields: the client's copies never pass (only moat vouches
     * for a request id, a nonce or a client certificate). */
    if (own_field(h, in->request_id_header) || own_field(h, in->nonce_header) ||
        own_field(h, in->client_subject_header))
        return DISP_DROP;
    /* WSGI maps '-' and '_' to the same variable: "X_Forwarded_For" could pose as ours.
     * Dropped like nginx does by default (underscores_in_headers off). */
    if (memchr(h->name, '_', h->name_len) != NULL)
        return DISP_DROP;
    if (moat_hdr_name_is(h, "Forwarded"))
        return in->client_trusted ? DISP_FWD : DISP_DROP;
    if (h->name_len >= 12 && moat_hdr_mem_eq_ci(h->name, 12, "X-Forwarded-", 12)) {
        if (!in->client_trusted)
            return DISP_DROP; /* every X-Forwarded-* (Port, Prefix, Ssl...) is ours to say */
        if (moat_hdr_name_is(h, "X-Forwarded-For"))
            return DISP_XFF;
        if (moat_hdr_name_is(h, "X-Forwarded-Proto"))
            return DISP_XFP;
        if (moat_hdr_name_is(h, "X-Forwarded-Host"))
            return DISP_XFH;
    }
    return DISP_KEEP;
}

static void put(struct wbuf *w, const char *s, size_t n)
{
    if (w->failed)
        return;
    if (n > w->cap - w->len) {
        w->failed = 1;
        return;
    }
    if (n > 0)
        memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void put_lit(struct wbuf *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Copies a field value; CR, LF or NUL would break the framing and fail the whole head. */
static void put_value(struct wbuf *w, const char *s, size_t n)
{
    if (n > 0 && (s == NULL || memchr(s, '\r', n) != NULL || memchr(s, '\n', n) != NULL ||
                  memchr(s, '\0', n) != NULL)) {
        w->failed = 1;
        return;
    }
    put(w, s, n);
}

/* Copies a field name or method; anything but a token fails the head. */
static void put_token(struct wbuf *w, const char *s, size_t n)
{
    if (s == NULL || !moat_hdr_is_token(s, n)) {
        w->failed = 1;
        return;
    }
    put(w, s, n);
}

static void put_field(struct wbuf *w, const char *name, size_t nlen, const char *value, size_t vlen)
{
    put_token(w, name, nlen);
    put(w, ": ", 2);
    put_value(w, value, vlen);
    put(w, "\r\n", 2);
}

/* Writes name: value, one of moat's own fields, when both are set. */
static void put_own(struct wbuf *w, const char *name, const char *value)
{
    if (given(name) && given(value))
        put_field(w, name, strlen(name), value, strlen(value));
}

static void put_u64(struct wbuf *w, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    put(w, tmp + i, sizeof(tmp) - i);
}

/* The inside of an RFC 9110 quoted-string: '"' and '\' escaped, control bytes refused. */
static void put_quoted_inner(struct wbuf *w, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            w->failed = 1;
            return;
        }
        if (c == '"' || c == '\\')
            put(w, "\\", 1);
        put(w, s + i, 1);
    }
}

/* An RFC 7239 value: a token as is, anything else as a quoted-string. */
static void put_param(struct wbuf *w, const char *s, size_t n)
{
    if (n > 0 && s == NULL) {
        w->failed = 1;
        return;
    }
    if (moat_hdr_is_token(s, n)) {
        put(w, s, n);
        return;
    }
    put(w, "\"", 1);
    put_quoted_inner(w, s, n);
    put(w, "\"", 1);
}

static int has_ip(const struct moat_fwd_input *in)
{
    return (in->client_family == AF_INET || in->client_family == AF_INET6) && given(in->client_ip);
}

/* Our X-Forwarded-For element: the address without brackets, "unknown" without one. */
static void put_xff_node(struct wbuf *w, const struct moat_fwd_input *in)
{
    if (has_ip(in))
        put_value(w, in->client_ip, strlen(in->client_ip));
    else
        put_lit(w, "unknown");
}

/* Our Forwarded element: for=<node>;host=<host>;proto=<proto> (RFC 7239 section 4). */
static void put_fwd_elem(struct wbuf *w, const struct moat_fwd_input *in)
{
    const struct moat_reqcheck_result *ck = in->check;

    put_lit(w, "for=");
    if (has_ip(in) && in->client_family == AF_INET6) {
        put(w, "\"[", 2);
        put_quoted_inner(w, in->client_ip, strlen(in->client_ip));
        put(w, "]\"", 2);
    } else if (has_ip(in)) {
        put_param(w, in->client_ip, strlen(in->client_ip));
    } else {
        put_lit(w, "unknown");
    }
    put_lit(w, ";host=");
    put_param(w, ck->host, ck->host_len);
    put_lit(w, ";proto=");
    put_param(w, in->proto, strlen(in->proto));
}

/* Writes the non-empty values of the client's fields named name that classify as
 * which, joined with ", ". Returns how many were written. */
static size_t put_client_values(struct wbuf *w, const struct moat_fwd_input *in, const char *name,
                                enum disp which)
{
    size_t count = 0;
    size_t i;

    for (i = 0; i < in->n_hdrs; i++) {
        const struct moat_hdr *h = &in->hdrs[i];

        if (h->value_len == 0 || !moat_hdr_name_is(h, name) || classify(in, h) != which)
            continue;
        if (count > 0)
            put(w, ", ", 2);
        put_value(w, h->value, h->value_len);
        count++;
    }
    return count;
}

static void put_forwarding(struct wbuf *w, const struct moat_fwd_input *in)
{
    const struct moat_reqcheck_result *ck = in->check;
    int trusted = in->client_trusted;

    put_lit(w, "X-Forwarded-For: ");
    if (trusted && put_client_values(w, in, "X-Forwarded-For", DISP_XFF) > 0)
        put(w, ", ", 2);
    put_xff_node(w, in);
    put_lit(w, "\r\nX-Forwarded-Proto: ");
    if (!trusted || put_client_values(w, in, "X-Forwarded-Proto", DISP_XFP) == 0)
        put_value(w, in->proto, strlen(in->proto));
    put_lit(w, "\r\nX-Forwarded-Host: ");
    if (!trusted || put_client_values(w, in, "X-Forwarded-Host", DISP_XFH) == 0)
        put_value(w, ck->host, ck->host_len);
    put_lit(w, "\r\nForwarded: ");
    if (trusted && put_client_values(w, in, "Forwarded", DISP_FWD) > 0)
        put(w, ", ", 2);
    put_fwd_elem(w, in);
    put(w, "\r\n", 2);
}

/* Request line target: no space or control byte may reach the upstream. */
static void put_target(struct wbuf *w, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= 0x20 || c == 0x7f) {
            w->failed = 1;
            return;
        }
    }
    put(w, s, n);
}

long moat_fwd_build_head(const struct moat_fwd_input *in, char *out, size_t cap)
{
    struct wbuf w = {out, cap, 0, 0};
    const struct moat_reqcheck_result *ck;
    long rc = -1;
    size_t i;

    if (in == NULL || in->check == NULL || in->method == NULL || in->proto == NULL ||
        (out == NULL && cap > 0) || (in->hdrs == NULL && in->n_hdrs > 0))
        goto out;
    ck = in->check;
    if (ck->status != 0 || ck->path == NULL || ck->path_len == 0 || ck->host == NULL)
        goto out;

    put_token(&w, in->method, strlen(in->method));
    put(&w, " ", 1);
    put_target(&w, ck->path, ck->path_len);
    put_lit(&w, " HTTP/1.1\r\n");
    put_field(&w, "Host", 4, ck->host, ck->host_len);
    for (i = 0; i < in->n_hdrs; i++) {
        const struct moat_hdr *h = &in->hdrs[i];

        if (classify(in, h) == DISP_KEEP)
            put_field(&w, h->name, h->name_len, h->value, h->value_len);
    }
    if (ck->body == MOAT_BODY_LENGTH) {
        put_lit(&w, "Content-Length: ");
        put_u64(&w, ck->content_length);
        put(&w, "\r\n", 2);
    } else if (ck->body == MOAT_BODY_CHUNKED) {
        put_lit(&w, "Transfer-Encoding: chunked\r\n");
    }
    put_forwarding(&w, in);
    put_own(&w, in->request_id_header, in->request_id);
    put_own(&w, in->nonce_header, in->nonce);
    put_own(&w, in->client_subject_header, in->client_subject);
    put(&w, "\r\n", 2);
    if (!w.failed && w.len <= (size_t)LONG_MAX)
        rc = (long)w.len;
out:
    return rc;
}

static int id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
}

static int id_ok(const char *s, size_t len)
{
    size_t i;

    if (s == NULL || len == 0 || len > MOAT_REQUEST_ID_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!id_char(s[i]))
            return 0;
    return 1;
}

int moat_fwd_request_id(const struct moat_hdr *hdrs, size_t n, const char *name, int accept_client,
                        const char *generated, char *out, size_t cap)
{
    const struct moat_hdr *found = NULL;
    size_t count = 0;
    size_t len;
    size_t i;
    int kept = 0;

    if (out == NULL || cap == 0)
        goto out;
    if (accept_client && name != NULL && hdrs != NULL) {
        for (i = 0; i < n; i++) {
            if (moat_hdr_name_is(&hdrs[i], name)) {
                found = &hdrs[i];
                count++;
            }
        }
    }
    /* Exactly one well-formed client id; two copies are ambiguous and replaced. */
    if (count == 1 && id_ok(found->value, found->value_len) && found->value_len < cap) {
        memcpy(out, found->value, found->value_len);
        out[found->value_len] = '\0';
        kept = 1;
        goto out;
    }
    len = generated != NULL ? strnlen(generated, cap - 1) : 0;
    if (len > 0)
        memcpy(out, generated, len);
    out[len] = '\0';
out:
    return kept;
}
