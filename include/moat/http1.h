/* http1.h - strict incremental parser for upstream HTTP/1.x responses (pure).
 *
 * moat never trusts its upstream's framing blindly: a response head is parsed
 * whole from a buffer; ambiguous framing (Content-Length with Transfer-Encoding,
 * conflicting lengths, transfer codings other than chunked) is a protocol error
 * that the proxy answers with 502. Bodies are decoded by moat_chunked_*. */
#ifndef MOAT_HTTP1_H
#define MOAT_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "moat/hdr.h"

#define MOAT_HTTP1_MAX_HDRS 128 /* fields in one response head */

enum moat_framing {
    MOAT_FRAME_NONE = 0,    /* no body: HEAD request, 1xx, 204, 304 */
    MOAT_FRAME_LENGTH = 1,  /* Content-Length bytes */
    MOAT_FRAME_CHUNKED = 2, /* chunked transfer coding */
    MOAT_FRAME_CLOSE = 3,   /* body runs until the upstream closes */
};

struct moat_http1_resp {
    int status;                                /* 100..599 */
    int minor;                                 /* HTTP/1.<minor>: 0 or 1 */
    const char *reason;                        /* reason phrase (points into buf) */
    size_t reason_len;                         /* bytes in reason */
    struct moat_hdr hdrs[MOAT_HTTP1_MAX_HDRS]; /* fields, pointing into buf */
    size_t n_hdrs;                             /* entries used in hdrs */
    enum moat_framing framing;                 /* how the body is delimited */
    uint64_t content_length; /* for MOAT_FRAME_LENGTH (and a HEAD answer: see below) */
    int length_known;        /* content_length holds a single valid Content-Length: always
                                with MOAT_FRAME_LENGTH, and for a HEAD answer that announced one */
    int keep_alive;          /* connection reusable after this response */
};

enum moat_http1_rc {
    MOAT_HTTP1_ERROR = -1,  /* malformed: answer 502 and close the upstream connection */
    MOAT_HTTP1_PARTIAL = 0, /* need more bytes */
    MOAT_HTTP1_DONE = 1,    /* head complete; *head_len bytes consumed */
};

/* Parses a response head from buf[0..len). head_request: the request was HEAD
 * (so no body whatever the headers say). Line endings must be CRLF (a bare LF is
 * tolerated only as the whole line terminator "\n"); obs-fold, header names that
 * are not tokens, values with CTL, status outside 100..599, repeated or
 * non-numeric Content-Length (identical repeats are an error too),
 * Content-Length with Transfer-Encoding, a Transfer-Encoding that is not exactly
 * "chunked", more than MOAT_HTTP1_MAX_HDRS fields: MOAT_HTTP1_ERROR with a static
 * reason in *why. 1xx heads parse as DONE with framing NONE: the caller skips
 * them (except 101, which the caller treats as an error for now). An HTTP/1.0
 * head with Transfer-Encoding is an error too (RFC 9112 6.1). Content-Length is
 * capped at INT64_MAX. *head_len counts the bytes through the final empty line.
 * Pointers in out point into buf; out is only meaningful on DONE. why may be
 * NULL; it is set to NULL unless the result is ERROR. */
enum moat_http1_rc moat_http1_parse_response(const char *buf, size_t len, int head_request,
                                             struct moat_http1_resp *out, size_t *head_len,
                                             const char **why);

/* Incremental chunked-body decoder. Zero-initialise, then feed bytes. */
struct moat_chunked {
    int state;          /* internal */
    uint64_t remaining; /* bytes left in the current chunk */
    unsigned line_len;  /* bytes of the current size/trailer line seen (bounded) */
    unsigned digits;    /* hex digits of the current size */
    unsigned trailers;  /* trailer fields seen (bounded) */
};

enum moat_chunked_rc {
    MOAT_CHUNKED_ERROR = -1, /* malformed or over a limit */
    MOAT_CHUNKED_MORE = 0,   /* all input consumed, body not finished */
    MOAT_CHUNKED_DONE = 1,   /* last chunk and trailers done; *consumed says where the body ended */
};

/* Decodes in[0..inlen). Payload bytes are written to out (which may equal in:
 * decoding in place is allowed since output never overtakes input); *outlen
 * gets their count, *consumed the input bytes used. out needs room for inlen
 * bytes. MORE always consumes all input; DONE stops right after the body; on
 * ERROR *consumed is the offset of the offending byte. DONE and ERROR are
 * sticky: later calls consume nothing. Trailers are read and dropped. why may
 * be NULL; it is set to NULL unless the result is ERROR. */
enum moat_chunked_rc moat_chunked_decode(struct moat_chunked *c, const char *in, size_t inlen,
                                         char *out, size_t *outlen, size_t *consumed,
                                         const char **why);

#endif
