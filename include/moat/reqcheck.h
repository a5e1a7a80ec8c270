/* reqcheck.h - request validation policy (pure; no I/O).
 *
 * libmicrohttpd 0.9.75's parser is permissive, so every request head it hands
 * moat goes through moat_reqcheck_run() before anything is sent upstream.
 * It decides: accept (status 0) or reject with a status and a short reason
 * that doubles as a metric label. Rejections are always answered with
 * "Connection: close". */
#ifndef MOAT_REQCHECK_H
#define MOAT_REQCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "moat/hdr.h"

struct moat_reqcheck_limits {
    size_t max_headers;      /* more header fields than this: 431 */
    size_t max_header_bytes; /* sum of name+value+4 over all fields above this: 431 */
    size_t max_uri_bytes;    /* longer request target: 414 */
    uint64_t max_body_bytes; /* larger Content-Length: 413 (0 = no limit) */
};

/* The request head as received. All pointers borrowed from the caller. */
struct moat_req_view {
    const char *method;          /* NUL-terminated method */
    const char *version;         /* "HTTP/1.1" or "HTTP/1.0" (anything else: 505) */
    const char *target;          /* raw request target, NUL-terminated, as on the wire */
    const struct moat_hdr *hdrs; /* header fields in arrival order */
    size_t n_hdrs;               /* entries in hdrs */
};

enum moat_body_kind {
    MOAT_BODY_NONE = 0,    /* no body */
    MOAT_BODY_LENGTH = 1,  /* Content-Length bytes */
    MOAT_BODY_CHUNKED = 2, /* Transfer-Encoding: chunked (MHD de-chunks it) */
};

struct moat_reqcheck_result {
    int status;               /* 0 = accepted; else 400, 413, 414, 417, 431, 501 or 505 */
    const char *reason;       /* static snake_case reason ("ok", "dup_content_length", ...) */
    enum moat_body_kind body; /* how the request body is framed (when accepted) */
    uint64_t content_length;  /* for MOAT_BODY_LENGTH */
    const char *host;         /* the Host value (points into hdrs, not NUL-terminated) */
    size_t host_len;          /* bytes in host */
    const char *path;         /* origin-form target (points into target; for absolute-form the
                                 path part, "/" when empty; "*" for OPTIONS *) */
    size_t path_len;          /* bytes in path (runs to the end of target) */
    int expect_continue;      /* client sent "Expect: 100-continue" */
};

/* Validates the request head. Rules (reason in brackets):
 *   method not a token [bad_method]; CONNECT/TRACE 501 [method_not_allowed]
 *   (any case: frameworks may upper-case the method);
 *   version not HTTP/1.0 or 1.1: 505 [bad_version];
 *   target longer than max_uri_bytes: 414 [uri_too_long]; CTL/space/non-ASCII/'#'/empty
 *   [bad_target]; asterisk-form other than OPTIONS [bad_target]; authority-form [bad_target];
 *   absolute-form whose scheme isn't http/https or authority differs from Host
 *   (exact, case-insensitive) [host_mismatch]; absolute-form with a query but no path
 *   ("http://h?q": no origin-form to point at) [bad_target];
 *   more than max_headers fields or max_header_bytes: 431 [too_many_headers, headers_too_large];
 *   header name not a token [bad_header_name]; value with CTL [bad_header_value];
 *   Host missing (HTTP/1.0 too) [missing_host], repeated [dup_host], malformed [bad_host];
 *   Content-Length repeated (even equal) [dup_content_length], not digits / list /
 *   overflow [bad_content_length]; larger than max_body_bytes: 413 [body_too_large];
 *   Transfer-Encoding repeated [dup_transfer_encoding], anything but exactly "chunked"
 *   (case-insensitive) [bad_transfer_encoding], with HTTP/1.0 [bad_transfer_encoding];
 *   Content-Length with Transfer-Encoding [cl_and_te];
 *   Expect other than 100-continue: 417 [bad_expect] (100-continue from HTTP/1.0 is ignored).
 * When several rules fail, the first in this order is reported: method, version,
 * target, header count/size, per-field syntax and duplicates (in arrival order),
 * Host, Content-Length, Transfer-Encoding, cl_and_te, body size, Expect.
 * A rejected result has body NONE and NULL host/path.
 * Always returns 0 and fills res (res->status says the outcome). */
int moat_reqcheck_run(const struct moat_reqcheck_limits *lim, const struct moat_req_view *req,
                      struct moat_reqcheck_result *res);

/* Validates a Host / authority value: reg-name (letters, digits, '-', '.', '_', at
 * most 253 bytes), IPv4 or [IPv6] with optional :port (1..65535, non-empty), no
 * userinfo, no path. Returns 1 when valid, 0 otherwise. */
int moat_reqcheck_host_ok(const char *s, size_t len);

#endif
