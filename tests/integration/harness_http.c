/* harness_http.c - the harness's independent HTTP/1.1 response parser (Content-Length,
 * chunked and close framing, 1xx skipping, body hashing and pattern checks) and lookups of
 * headers in raw heads and in the test app's JSON. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define H_MAX_HEAD (256u * 1024u) /* a response head larger than this is an error */

/* Body accumulator: hash, pattern check, first bytes kept. */
struct h_sink {
    EVP_MD_CTX *md;   /* running SHA-256 */
    struct h_resp *r; /* where the results go */
    size_t cap;       /* body bytes to keep */
};

/* Feeds body bytes to the sink. */
static void h_sink_put(struct h_sink *s, const unsigned char *p, size_t n)
{
    struct h_resp *r = s->r;
    size_t done = 0;

    EVP_DigestUpdate(s->md, p, n);
    if (r->body_kept < s->cap) {
        size_t keep = s->cap - r->body_kept < n ? s->cap - r->body_kept : n;
        unsigned char *nb = realloc(r->body, r->body_kept + keep + 1);
        if (nb != NULL) {
            memcpy(nb + r->body_kept, p, keep);
            r->body = nb;
            r->body_kept += keep;
            r->body[r->body_kept] = '\0';
        }
    }
    while (r->pattern_ok && done < n) {
        size_t take = n - done < H_PATTERN_RUN ? n - done : H_PATTERN_RUN;
        if (memcmp(p + done, harness_pattern_at(r->body_len + done), take) != 0)
            r->pattern_ok = 0;
        done += take;
    }
    r->body_len += n;
}

/* Finds "\r\n\r\n" in c's unconsumed bytes; returns the head length including it, or 0. */
static size_t h_find_head_end(const struct h_conn *c)
{
    const unsigned char *p = c->buf + c->off;
    size_t n = c->len - c->off;
    size_t i;

    for (i = 0; i + 3 < n; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return i + 4;
    }
    return 0;
}

/* Frees the parsed header fields of r. */
static void h_resp_free_fields(struct h_resp *r)
{
    size_t i;

    for (i = 0; i < r->nhdr; i++) {
        free(r->name[i]);
        free(r->value[i]);
    }
    r->nhdr = 0;
    free(r->head);
    r->head = NULL;
}

/* Parses a head (text of len bytes, ending in CRLFCRLF) into r. Returns 0 or -1. */
static int h_parse_head(struct h_resp *r, const char *text, size_t len)
{
    const char *p = text;
    const char *end = text + len;
    const char *eol;
    char *endnum = NULL;
    long st;

    h_resp_free_fields(r);
    r->head = strndup(text, len);
    if (len < 12 || strncmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return -1;
    r->minor = p[7] - '0';
    st = strtol(p + 9, &endnum, 10);
    if (endnum != p + 12 || st < 100 || st > 999)
        return -1;
    r->status = (int)st;
    eol = strstr(p, "\r\n");
    if (eol == NULL)
        return -1;
    snprintf(r->reason, sizeof(r->reason), "%.*s",
             (int)(eol > endnum ? eol - endnum - (*endnum == ' ') : 0), endnum + (*endnum == ' '));
    p = eol + 2;
    while (p + 2 <= end && !(p[0] == '\r' && p[1] == '\n')) {
        const char *colon;
        const char *v;
        const char *ve;

        eol = strstr(p, "\r\n");
        if (eol == NULL || eol > end)
            return -1;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL)
            return -1;
        v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (r->nhdr < H_MAX_HDRS) {
            r->name[r->nhdr] = strndup(p, (size_t)(colon - p));
            r->value[r->nhdr] = strndup(v, (size_t)(ve - v));
            r->nhdr++;
        }
        p = eol + 2;
    }
    return 0;
}

/* Reads the next head into r (status, fields). Returns 0, or -1 with r->error set. */
static int h_read_head(struct h_conn *c, struct h_resp *r, int timeout_ms)
{
    for (;;) {
        size_t hl = h_find_head_end(c);
        int n;

        if (hl > 0) {
            int rc = h_parse_head(r, (const char *)c->buf + c->off, hl);
            c->off += hl;
            if (rc != 0) {
                snprintf(r->error, sizeof(r->error), "malformed response head");
                return -1;
            }
            return 0;
        }
        if (c->len - c->off > H_MAX_HEAD) {
            snprintf(r->error, sizeof(r->error), "response head over %u bytes", H_MAX_HEAD);
            return -1;
        }
        n = harness_conn_fill(c, timeout_ms);
        if (n < 0) {
            snprintf(r->error, sizeof(r->error), "timeout waiting for the response head");
            return -1;
        }
        if (n == 0) {
            snprintf(r->error, sizeof(r->error), "connection closed %s",
                     c->len > c->off ? "in the middle of the response head"
                                     : "before any response");
            return -1;
        }
    }
}

/* Waits until at least one unconsumed byte is buffered. Returns 1, 0 on close, -1 timeout. */
static int h_need(struct h_conn *c, int timeout_ms)
{
    while (c->len == c->off) {
        int n = harness_conn_fill(c, timeout_ms);
        if (n <= 0)
            return n;
    }
    return 1;
}

/* Reads a CRLF-terminated line; *line points into c's buffer (valid until the next read),
 * *llen excludes the CRLF, which is consumed. Returns 1, 0 on close, -1 on timeout. */
static int h_getline(struct h_conn *c, const char **line, size_t *llen, int timeout_ms)
{
    size_t scanned = 0;

    for (;;) {
        const unsigned char *p = c->buf != NULL ? c->buf + c->off : NULL;
        size_t n = c->len - c->off;
        size_t i;
        int rc;

        for (i = scanned; p != NULL && i + 1 < n; i++) {
            if (p[i] == '\r' && p[i + 1] == '\n') {
                *line = (const char *)p;
                *llen = i;
                c->off += i + 2;
                return 1;
            }
        }
        scanned = n > 0 ? n - 1 : 0;
        if (n > 65536)
            return -1;
        rc = harness_conn_fill(c, timeout_ms);
        if (rc <= 0)
            return rc;
    }
}

/* Reads a chunked body into the sink. Returns 0 or -1 with r->error set. */
static int h_read_chunked(struct h_conn *c, struct h_sink *s, int timeout_ms)
{
    struct h_resp *r = s->r;
    const char *line;
    size_t llen;
    int rc;

    for (;;) {
        uint64_t size = 0;
        size_t i;
        int digits = 0;

        rc = h_getline(c, &line, &llen, timeout_ms);
        if (rc <= 0)
            goto short_read;
        for (i = 0; i < llen; i++) {
            char ch = line[i];
            int v = (ch >= '0' && ch <= '9')   ? ch - '0'
                    : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
                    : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10
                                               : -1;
            if (v < 0)
                break;
            size = size * 16u + (uint64_t)v;
            digits++;
        }
        if (digits == 0 || digits > 15 || (i < llen && line[i] != ';' && line[i] != ' ')) {
            snprintf(r->error, sizeof(r->error), "bad chunk size line '%.*s'",
                     (int)(llen > 40 ? 40 : llen), line);
            return -1;
        }
        if (size == 0)
            break;
        while (size > 0) {
            size_t avail;

            rc = h_need(c, timeout_ms);
            if (rc <= 0)
                goto short_read;
            avail = c->len - c->off;
            if (avail > size)
                avail = (size_t)size;
            h_sink_put(s, c->buf + c->off, avail);
            c->off += avail;
            size -= avail;
        }
        rc = h_getline(c, &line, &llen, timeout_ms);
        if (rc <= 0)
            goto short_read;
        if (llen != 0) {
            snprintf(r->error, sizeof(r->error), "chunk data not followed by CRLF");
            return -1;
        }
    }
    for (;;) {
        rc = h_getline(c, &line, &llen, timeout_ms);
        if (rc <= 0)
            goto short_read;
        if (llen == 0)
            return 0;
    }
short_read:
    snprintf(r->error, sizeof(r->error), "%s in a chunked body after %llu bytes",
             rc == 0 ? "connection closed" : "timeout", (unsigned long long)r->body_len);
    return -1;
}

/* Reads a body of `want` bytes (UINT64_MAX: until close) into the sink. Returns 0 or -1. */
static int h_read_counted(struct h_conn *c, struct h_sink *s, uint64_t want, int timeout_ms)
{
    struct h_resp *r = s->r;
    uint64_t got = 0;

    while (got < want) {
        size_t avail;
        int rc = h_need(c, timeout_ms);

        if (rc == 0 && want == UINT64_MAX)
            return 0;
        if (rc <= 0) {
            snprintf(r->error, sizeof(r->error), "%s after %llu of %s%llu body bytes",
                     rc == 0 ? "connection closed" : "timeout", (unsigned long long)got,
                     want == UINT64_MAX ? "(close-delimited) " : "",
                     (unsigned long long)(want == UINT64_MAX ? 0 : want));
            return -1;
        }
        avail = c->len - c->off;
        if (avail > want - got)
            avail = (size_t)(want - got);
        h_sink_put(s, c->buf + c->off, avail);
        c->off += avail;
        got += avail;
    }
    return 0;
}

/* Decides the body framing of the parsed head. *cl gets the Content-Length. */
static enum h_framing h_framing_of(const struct h_resp *r, int head_request, uint64_t *cl)
{
    const char *te = harness_resp_header(r, "Transfer-Encoding");
    const char *len = harness_resp_header(r, "Content-Length");

    *cl = 0;
    if (head_request || r->status == 204 || r->status == 304 || r->status < 200)
        return H_FRAME_NONE;
    if (te != NULL) {
        size_t tl = strlen(te);
        if (tl >= 7 && strcasecmp(te + tl - 7, "chunked") == 0)
            return H_FRAME_CHUNKED;
        return H_FRAME_CLOSE;
    }
    if (len != NULL) {
        *cl = strtoull(len, NULL, 10);
        return H_FRAME_LENGTH;
    }
    return H_FRAME_CLOSE;
}

int harness_read_response(struct h_conn *c, struct h_resp *r, const struct h_read_opts *o)
{
    static const struct h_read_opts defaults;
    struct h_sink sink;
    unsigned char md[32];
    unsigned int mdlen = 0;
    uint64_t cl = 0;
    int timeout;
    int rc = -1;

    if (o == NULL)
        o = &defaults;
    timeout = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    memset(r, 0, sizeof(*r));
    r->pattern_ok = 1;
    sink.md = EVP_MD_CTX_new();
    sink.r = r;
    sink.cap = o->body_cap > 0 ? o->body_cap : 1048576;
    EVP_DigestInit_ex(sink.md, EVP_sha256(), NULL);
    for (;;) {
        if (h_read_head(c, r, timeout) != 0) {
            if (r->head == NULL)
                r->status = 0;
            goto out;
        }
        if (r->status >= 200 || r->status == 101)
            break;
        if (r->n_interim < H_MAX_INTERIM)
            r->interim[r->n_interim++] = r->status;
    }
    r->framing = h_framing_of(r, o->head_request, &cl);
    switch (r->framing) {
    case H_FRAME_NONE:
        rc = 0;
        break;
    case H_FRAME_LENGTH:
        rc = h_read_counted(c, &sink, cl, timeout);
        break;
    case H_FRAME_CHUNKED:
        rc = h_read_chunked(c, &sink, timeout);
        break;
    case H_FRAME_CLOSE:
        rc = h_read_counted(c, &sink, UINT64_MAX, timeout);
        break;
    }
out:
    EVP_DigestFinal_ex(sink.md, md, &mdlen);
    EVP_MD_CTX_free(sink.md);
    harness_hex(md, 32, r->sha256);
    if (r->body == NULL)
        r->body = calloc(1, 1);
    r->complete = rc == 0;
    return rc;
}

const char *harness_resp_header(const struct h_resp *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->nhdr; i++) {
        if (strcasecmp(r->name[i], name) == 0)
            return r->value[i];
    }
    return NULL;
}

size_t harness_resp_header_count(const struct h_resp *r, const char *name)
{
    size_t i;
    size_t n = 0;

    for (i = 0; i < r->nhdr; i++) {
        if (strcasecmp(r->name[i], name) == 0)
            n++;
    }
    return n;
}

void harness_resp_free(struct h_resp *r)
{
    h_resp_free_fields(r);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

int harness_request(int port, const char *raw, struct h_resp *r, int timeout_ms, int *closed)
{
    struct h_conn c;
    struct h_read_opts o;
    int rc;

    memset(r, 0, sizeof(*r));
    memset(&o, 0, sizeof(o));
    o.timeout_ms = timeout_ms;
    o.head_request = strncmp(raw, "HEAD ", 5) == 0;
    if (closed != NULL)
        *closed = 0;
    if (harness_conn_open(&c, port) != 0) {
        snprintf(r->error, sizeof(r->error), "%s", c.error);
        return -1;
    }
    if (harness_conn_send_str(&c, raw) != 0) {
        /* The server may have answered and closed already: still read what came. */
    }
    rc = harness_read_response(&c, r, &o);
    if (closed != NULL)
        *closed = harness_conn_wait_closed(&c, 2000);
    harness_conn_close(&c);
    return rc;
}

int harness_admin_request(const struct h_moat *m, const char *raw, struct h_resp *r)
{
    struct h_conn c;
    struct h_read_opts o;
    int rc;

    memset(r, 0, sizeof(*r));
    memset(&o, 0, sizeof(o));
    o.head_request = strncmp(raw, "HEAD ", 5) == 0;
    if (harness_conn_open_plain(&c, m->admin_port) != 0) {
        snprintf(r->error, sizeof(r->error), "%s", c.error);
        return -1;
    }
    if (harness_conn_send_str(&c, raw) != 0) {
        /* The server may have answered and closed already: still read what came. */
    }
    rc = harness_read_response(&c, r, &o);
    harness_conn_close(&c);
    return rc;
}

/* ------------------------------------------------------------ text lookups */

size_t harness_head_header(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p;
    size_t n = 0;

    if (out != NULL && cap > 0)
        out[0] = '\0';
    if (head == NULL)
        return 0;
    p = strstr(head, "\r\n");
    while (p != NULL && p[2] != '\r' && p[2] != '\0') {
        const char *line = p + 2;
        const char *eol = strstr(line, "\r\n");

        if (eol == NULL)
            eol = line + strlen(line);
        if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            if (n == 0 && out != NULL && cap > 0) {
                const char *v = line + nl + 1;
                const char *ve = eol;
                while (v < ve && (*v == ' ' || *v == '\t'))
                    v++;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                    ve--;
                snprintf(out, cap, "%.*s", (int)(ve - v), v);
            }
            n++;
        }
        p = *eol != '\0' ? eol : NULL;
    }
    return n;
}

/* Parses a JSON string starting at the opening quote into out (simple unescape). Returns
 * the position after the closing quote, or NULL. */
static const char *h_json_str(const char *p, char *out, size_t cap)
{
    size_t n = 0;

    if (*p != '"')
        return NULL;
    p++;
    while (*p != '\0' && *p != '"') {
        char ch = *p++;

        if (ch == '\\') {
            ch = *p++;
            switch (ch) {
            case 'n':
                ch = '\n';
                break;
            case 't':
                ch = '\t';
                break;
            case 'r':
                ch = '\r';
                break;
            case 'u': {
                char hex[5] = {0};
                size_t k;
                for (k = 0; k < 4 && p[k] != '\0'; k++)
                    hex[k] = p[k];
                p += k;
                ch = (char)strtol(hex, NULL, 16);
                break;
            }
            case '\0':
                return NULL;
            default:
                break;
            }
        }
        if (out != NULL && n + 1 < cap)
            out[n++] = ch;
    }
    if (out != NULL && cap > 0)
        out[n] = '\0';
    return *p == '"' ? p + 1 : NULL;
}

int harness_json_get(const char *json, const char *key, char *out, size_t cap)
{
    char pat[128];
    const char *p;
    size_t n = 0;

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    p = json != NULL ? strstr(json, pat) : NULL;
    if (p == NULL)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p == '"')
        return h_json_str(p, out, cap) != NULL ? 0 : -1;
    while (p[n] != '\0' && p[n] != ',' && p[n] != '}' && p[n] != ']' && p[n] != ' ')
        n++;
    snprintf(out, cap, "%.*s", (int)n, p);
    return 0;
}

size_t harness_echo_header(const char *json, const char *name, char *out, size_t cap)
{
    const char *p = json != NULL ? strstr(json, "\"headers\":[") : NULL;
    size_t found = 0;
    char n[256];
    char v[8192];

    if (out != NULL && cap > 0)
        out[0] = '\0';
    if (p == NULL)
        return 0;
    p += strlen("\"headers\":[");
    while (*p == '[') {
        p = h_json_str(p + 1, n, sizeof(n));
        if (p == NULL || *p != ',')
            break;
        p = h_json_str(p + 1, v, sizeof(v));
        if (p == NULL || *p != ']')
            break;
        p++;
        if (strcasecmp(n, name) == 0) {
            if (found == 0 && out != NULL)
                snprintf(out, cap, "%s", v);
            found++;
        }
        if (*p == ',')
            p++;
    }
    return found;
}
