/* http1.c - strict parser for upstream HTTP/1.x response heads and a chunked body decoder. */
#include "moat/http1.h"

#include <stdint.h>
#include <string.h>

#define CHUNK_LINE_MAX 1024   /* bytes in a chunk-size line, chunk extensions included */
#define CHUNK_DIGITS_MAX 16   /* hex digits in a chunk size, leading zeros included */
#define CHUNK_SIG_SHIFT 56    /* a size >= 2^56 already has 15 significant hex digits */
#define TRAILER_LINE_MAX 8192 /* bytes in one trailer field line */
#define TRAILERS_MAX 64       /* trailer fields after the last chunk */

/* Decoder states kept in moat_chunked.state (zero is the start of a size line). */
enum chunked_state {
    ST_SIZE = 0, /* reading hex digits of a chunk size */
    ST_SIZE_WS,  /* BWS after the size: only ';' or more BWS may follow */
    ST_EXT,      /* inside chunk extensions, up to the end of the line */
    ST_SIZE_LF,  /* saw CR ending the size line, LF must follow */
    ST_DATA,     /* copying chunk payload, remaining bytes to go */
    ST_DATA_CR,  /* payload done: CR (or a bare LF) must follow */
    ST_DATA_LF,  /* saw CR after the payload, LF must follow */
    ST_TR_START, /* start of a trailer line or of the final empty line */
    ST_TR_NAME,  /* inside a trailer field name */
    ST_TR_VALUE, /* inside a trailer field value */
    ST_TR_LF,    /* saw CR ending a trailer line, LF must follow */
    ST_END_LF,   /* saw CR of the final empty line, LF must follow */
    ST_DONE,     /* body complete */
    ST_FAILED,   /* an earlier call returned an error */
};

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* True for control characters other than HTAB (NUL, CR, LF and DEL included). */
static int is_ctl(char ch)
{
    unsigned char c = (unsigned char)ch;

    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Parses "HTTP/1.x SSS[ reason]" (without its line ending). Returns NULL or a reason. */
static const char *parse_status_line(const char *s, size_t n, struct moat_http1_resp *out)
{
    static const char prefix[] = "HTTP/1.";
    const size_t plen = sizeof(prefix) - 1;
    size_t i;

    if (n < plen + 5 || memcmp(s, prefix, plen) != 0)
        return "bad_status_line";
    if (s[plen] != '0' && s[plen] != '1')
        return "bad_status_line";
    out->minor = s[plen] - '0';
    if (s[plen + 1] != ' ')
        return "bad_status_line";
    for (i = plen + 2; i < plen + 5; i++)
        if (!is_digit(s[i]))
            return "bad_status_line";
    if (s[plen + 2] < '1' || s[plen + 2] > '5')
        return "bad_status_line";
    out->status = (s[plen + 2] - '0') * 100 + (s[plen + 3] - '0') * 10 + (s[plen + 4] - '0');
    out->reason = s + n;
    out->reason_len = 0;
    if (n == plen + 5)
        return NULL;
    if (s[plen + 5] != ' ')
        return "bad_status_line";
    for (i = plen + 6; i < n; i++)
        if (is_ctl(s[i]))
            return "bad_status_line";
    out->reason = s + plen + 6;
    out->reason_len = n - (plen + 6);
    return NULL;
}

/* Parses one "name: value" line (without its line ending) into h. Returns NULL or a reason. */
static const char *parse_field_line(const char *s, size_t n, struct moat_hdr *h)
{
    const char *colon;
    size_t start, end;

    if (is_ows(s[0]))
        return "obs_fold";
    colon = memchr(s, ':', n);
    if (colon == NULL || !moat_hdr_is_token(s, (size_t)(colon - s)))
        return "bad_header_name";
    start = (size_t)(colon - s) + 1;
    end = n;
    while (start < end && is_ows(s[start]))
        start++;
    while (end > start && is_ows(s[end - 1]))
        end--;
    if (!moat_hdr_value_ok(s + start, end - start))
        return "bad_header_value";
    h->name = s;
    h->name_len = (size_t)(colon - s);
    h->value = s + start;
    h->value_len = end - start;
    return NULL;
}

/* Parses a Content-Length value: digits only, at most INT64_MAX. Returns 0 or -1. */
static int parse_content_length(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        uint64_t d;

        if (!is_digit(s[i]))
            return -1;
        d = (uint64_t)(s[i] - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Scans the comma list in a Connection value for "close" and "keep-alive". */
static void scan_connection(const char *s, size_t n, int *close, int *keep)
{
    size_t i = 0;

    while (i < n) {
        size_t start, end;

        while (i < n && (is_ows(s[i]) || s[i] == ','))
            i++;
        start = i;
        while (i < n && s[i] != ',')
            i++;
        end = i;
        while (end > start && is_ows(s[end - 1]))
            end--;
        if (moat_hdr_eq_ci(s + start, end - start, "close"))
            *close = 1;
        else if (moat_hdr_eq_ci(s + start, end - start, "keep-alive"))
            *keep = 1;
    }
}

/* Decides framing and keep-alive from a complete head (RFC 9112 section 6.3). */
static const char *decide_framing(struct moat_http1_resp *out, int head_request)
{
    const struct moat_hdr *cl = NULL, *te = NULL;
    size_t n_cl = 0, n_te = 0, i;
    int close = 0, keep = 0;

    for (i = 0; i < out->n_hdrs; i++) {
        const struct moat_hdr *h = &out->hdrs[i];

        if (moat_hdr_name_is(h, "Content-Length")) {
            cl = h;
            n_cl++;
        } else if (moat_hdr_name_is(h, "Transfer-Encoding")) {
            te = h;
            n_te++;
        } else if (moat_hdr_name_is(h, "Connection")) {
            scan_connection(h->value, h->value_len, &close, &keep);
        }
    }
    out->keep_alive = out->minor == 0 ? (keep && !close) : !close;
    out->content_length = 0;
    out->length_known = 0;
    if (head_request || out->status < 200 || out->status == 204 || out->status == 304) {
        out->framing = MOAT_FRAME_NONE;
        /* A HEAD answer announces the length the GET body would have: keep it
         * (when it is one valid value) so the client sees the same. */
        if (head_request && out->status >= 200 && cl != NULL && n_cl == 1 && te == NULL &&
            parse_content_length(cl->value, cl->value_len, &out->content_length) == 0)
            out->length_known = 1;
        else
            out->content_length = 0;
        return NULL;
    }
    if (te != NULL && cl != NULL)
        return "cl_and_te";
    if (te != NULL) {
        /* An HTTP/1.0 message with Transfer-Encoding has faulty framing (RFC 9112 6.1). */
        if (out->minor == 0)
            return "te_in_http10";
        if (n_te != 1 || !moat_hdr_eq_ci(te->value, te->value_len, "chunked"))
            return "unsupported_transfer_encoding";
        out->framing = MOAT_FRAME_CHUNKED;
        return NULL;
    }
    if (cl != NULL) {
        if (n_cl != 1)
            return "dup_content_length";
        if (parse_content_length(cl->value, cl->value_len, &out->content_length) != 0)
            return "bad_content_length";
        out->framing = MOAT_FRAME_LENGTH;
        out->length_known = 1;
        return NULL;
    }
    out->framing = MOAT_FRAME_CLOSE;
    out->keep_alive = 0;
    return NULL;
}

enum moat_http1_rc moat_http1_parse_response(const char *buf, size_t len, int head_request,
                                             struct moat_http1_resp *out, size_t *head_len,
                                             const char **why)
{
    enum moat_http1_rc rc = MOAT_HTTP1_PARTIAL;
    const char *err = NULL;
    size_t pos = 0, nline = 0;

    out->n_hdrs = 0;
    out->framing = MOAT_FRAME_CLOSE;
    out->content_length = 0;
    out->length_known = 0;
    out->keep_alive = 0;
    *head_len = 0;
    for (;;) {
        const char *nl = len > pos ? memchr(buf + pos, '\n', len - pos) : NULL;
        size_t end, n;

        if (nl == NULL) {
            /* A CR in the unfinished line is fine only as its last byte so far. */
            if (len - pos > 1 && memchr(buf + pos, '\r', len - pos - 1) != NULL)
                err = "bad_line_ending";
            break;
        }
        end = (size_t)(nl - buf);
        n = end - pos;
        if (n > 0 && buf[end - 1] == '\r')
            n--;
        if (memchr(buf + pos, '\r', n) != NULL) {
            err = "bad_line_ending";
            break;
        }
        if (nline == 0) {
            err = parse_status_line(buf + pos, n, out);
        } else if (n == 0) {
            err = decide_framing(out, head_request);
            if (err == NULL) {
                *head_len = end + 1;
                rc = MOAT_HTTP1_DONE;
            }
            break;
        } else if (out->n_hdrs == MOAT_HTTP1_MAX_HDRS) {
            err = "too_many_headers";
        } else {
            err = parse_field_line(buf + pos, n, &out->hdrs[out->n_hdrs]);
            if (err == NULL)
                out->n_hdrs++;
        }
        if (err != NULL)
            break;
        nline++;
        pos = end + 1;
    }
    if (err != NULL)
        rc = MOAT_HTTP1_ERROR;
    if (why != NULL)
        *why = err;
    return rc;
}

/* Ends a chunk-size line: payload follows, or the trailer section after the last chunk. */
static void size_line_done(struct moat_chunked *c)
{
    c->line_len = 0;
    c->digits = 0;
    c->state = c->remaining == 0 ? ST_TR_START : ST_DATA;
}

/* Starts a new chunk-size line. */
static void size_line_start(struct moat_chunked *c)
{
    c->line_len = 0;
    c->digits = 0;
    c->remaining = 0;
    c->state = ST_SIZE;
}

/* One byte of a chunk-size line (digits, BWS, extensions). Returns NULL or a reason. */
static const char *step_size_line(struct moat_chunked *c, char ch)
{
    int hv = moat_hdr_hex_value(ch);

    if (ch == '\r' || ch == '\n') {
        if (c->state == ST_SIZE_WS || (c->state == ST_SIZE && c->digits == 0))
            return "bad_chunk_size";
        if (ch == '\r')
            c->state = ST_SIZE_LF;
        else
            size_line_done(c);
        return NULL;
    }
    c->line_len++;
    if (c->line_len > CHUNK_LINE_MAX)
        return "chunk_ext_too_long";
    if (c->state == ST_EXT)
        return is_ctl(ch) ? "bad_chunk_ext" : NULL;
    if (c->state == ST_SIZE && hv >= 0) {
        c->digits++;
        if (c->digits > CHUNK_DIGITS_MAX || (c->remaining >> CHUNK_SIG_SHIFT) != 0)
            return "chunk_size_too_large";
        c->remaining = (c->remaining << 4) | (uint64_t)hv;
        return NULL;
    }
    if (c->digits == 0)
        return "bad_chunk_size";
    if (is_ows(ch)) {
        c->state = ST_SIZE_WS;
        return NULL;
    }
    if (ch == ';') {
        c->state = ST_EXT;
        return NULL;
    }
    return "bad_chunk_size";
}

/* One byte of the trailer section. Returns NULL or a reason; sets ST_DONE at the end. */
static const char *step_trailer(struct moat_chunked *c, char ch)
{
    switch (c->state) {
    case ST_TR_START:
        if (ch == '\r') {
            c->state = ST_END_LF;
            return NULL;
        }
        if (ch == '\n') {
            c->state = ST_DONE;
            return NULL;
        }
        if (is_ows(ch))
            return "obs_fold";
        c->trailers++;
        if (c->trailers > TRAILERS_MAX)
            return "too_many_trailers";
        if (!moat_hdr_is_token(&ch, 1))
            return "bad_trailer";
        c->line_len = 1;
        c->state = ST_TR_NAME;
        return NULL;
    case ST_TR_NAME:
    case ST_TR_VALUE:
        if (c->state == ST_TR_VALUE && ch == '\r') {
            c->state = ST_TR_LF;
            return NULL;
        }
        if (c->state == ST_TR_VALUE && ch == '\n') {
            c->state = ST_TR_START;
            return NULL;
        }
        c->line_len++;
        if (c->line_len > TRAILER_LINE_MAX)
            return "trailer_too_long";
        if (c->state == ST_TR_VALUE)
            return is_ctl(ch) ? "bad_trailer" : NULL;
        if (ch == ':')
            c->state = ST_TR_VALUE;
        else if (!moat_hdr_is_token(&ch, 1))
            return "bad_trailer";
        return NULL;
    case ST_TR_LF:
        if (ch != '\n')
            return "bad_line_ending";
        c->state = ST_TR_START;
        return NULL;
    case ST_END_LF:
        if (ch != '\n')
            return "bad_line_ending";
        c->state = ST_DONE;
        return NULL;
    default:
        return "bad_chunked_state";
    }
}

/* One byte outside the payload. Returns NULL or a reason. */
static const char *step_byte(struct moat_chunked *c, char ch)
{
    switch (c->state) {
    case ST_SIZE:
    case ST_SIZE_WS:
    case ST_EXT:
        return step_size_line(c, ch);
    case ST_SIZE_LF:
        if (ch != '\n')
            return "bad_line_ending";
        size_line_done(c);
        return NULL;
    case ST_DATA_CR:
        if (ch == '\r') {
            c->state = ST_DATA_LF;
            return NULL;
        }
        if (ch != '\n')
            return "bad_chunk_crlf";
        size_line_start(c);
        return NULL;
    case ST_DATA_LF:
        if (ch != '\n')
            return "bad_chunk_crlf";
        size_line_start(c);
        return NULL;
    default:
        return step_trailer(c, ch);
    }
}

enum moat_chunked_rc moat_chunked_decode(struct moat_chunked *c, const char *in, size_t inlen,
                                         char *out, size_t *outlen, size_t *consumed,
                                         const char **why)
{
    enum moat_chunked_rc rc = MOAT_CHUNKED_MORE;
    const char *err = NULL;
    size_t i = 0, o = 0;

    if (c->state == ST_FAILED)
        err = "chunked_failed_before";
    while (err == NULL && c->state != ST_DONE && i < inlen) {
        if (c->state == ST_DATA) {
            size_t n = inlen - i;

            if ((uint64_t)n > c->remaining)
                n = (size_t)c->remaining;
            memmove(out + o, in + i, n);
            o += n;
            i += n;
            c->remaining -= n;
            if (c->remaining == 0)
                c->state = ST_DATA_CR;
            continue;
        }
        err = step_byte(c, in[i]);
        if (err == NULL)
            i++;
    }
    if (err != NULL) {
        c->state = ST_FAILED;
        rc = MOAT_CHUNKED_ERROR;
    } else if (c->state == ST_DONE) {
        rc = MOAT_CHUNKED_DONE;
    }
    *outlen = o;
    *consumed = i;
    if (why != NULL)
        *why = err;
    return rc;
}
