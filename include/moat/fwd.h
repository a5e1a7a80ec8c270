/* fwd.h - what moat writes upstream: the request head it frames itself (pure).
 *
 * Takes a validated request (see reqcheck.h) and writes the HTTP/1.1 request
 * head for the upstream: origin-form target, Host, the client's end-to-end
 * headers minus hop-by-hop ones (Connection and every name it lists,
 * Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-*), framing that
 * moat wrote (Content-Length or Transfer-Encoding: chunked), and the
 * forwarding headers X-Forwarded-For/-Proto/-Host, Forwarded (RFC 7239) and the
 * request id. Client-sent forwarding headers are dropped unless the client is a
 * trusted proxy, in which case moat appends to them (For, Forwarded) or keeps
 * them (Proto, Host); from an untrusted client every X-Forwarded-* field is
 * dropped. Always dropped: the client's Host, Content-Length, Expect, X-Real-IP,
 * request id header, the CSP nonce header, and any field whose name contains
 * '_' (WSGI would confuse "X_Forwarded_For" with "X-Forwarded-For"). Also
 * filters the upstream's response headers for the client. */
#ifndef MOAT_FWD_H
#define MOAT_FWD_H

#include <stddef.h>
#include <stdint.h>

#include "moat/config.h"
#include "moat/hdr.h"
#include "moat/reqcheck.h"

#define MOAT_REQUEST_ID_MAX 128 /* longest accepted client request id */

struct moat_fwd_input {
    const char *method;                       /* NUL-terminated */
    const struct moat_reqcheck_result *check; /* accepted result (path, host, body framing) */
    const struct moat_hdr *hdrs;              /* client's header fields */
    size_t n_hdrs;                            /* entries in hdrs */
    int client_family;                        /* AF_INET / AF_INET6 / AF_UNIX */
    const unsigned char *client_addr;         /* 4 or 16 bytes (NULL for AF_UNIX) */
    const char *client_ip;                    /* textual client address, no brackets */
    int client_trusted;                       /* result of moat_cidr_match for the client */
    const char *proto;                        /* "https" or "http" */
    const char *request_id;                   /* id to send (NUL-terminated) */
    const char *request_id_header;            /* header name to carry it */
    const char *nonce_header;          /* CSP nonce header: the client's copies are always dropped;
                                          NULL or "" for none */
    const char *nonce;                 /* nonce to send in nonce_header, NULL or "" for none */
    const char *client_subject_header; /* verified client-certificate subject header: the
                                          client's copies are always dropped; NULL or "" none */
    const char *client_subject;        /* verified subject DN to send in it (printable ASCII),
                                          NULL or "" for none */
};

/* Writes the upstream request head (request line, headers, final CRLF) into
 * out[0..cap); out is not NUL-terminated. Returns the number of bytes written,
 * or -1 when it does not fit (the caller answers 431) or when an input would
 * break the framing (check not accepted, method not a token, CR/LF/NUL in a
 * value, control byte or space in the path); bytes past cap are never touched.
 * Borrowed inputs; nothing allocated. */
long moat_fwd_build_head(const struct moat_fwd_input *in, char *out, size_t cap);

/* Chooses the request id: the client's value of header `name` when present,
 * at most MOAT_REQUEST_ID_MAX bytes of [A-Za-z0-9._:-] and (when the client is
 * trusted or accept_client is set); otherwise copies `generated` (caller's fresh
 * random id). A header sent more than once is ignored. Writes a NUL-terminated
 * id into out (cap >= MOAT_REQUEST_ID_MAX+1; generated is truncated to fit).
 * Returns 1 when the client's id was kept, 0 when generated was used. */
int moat_fwd_request_id(const struct moat_hdr *hdrs, size_t n, const char *name, int accept_client,
                        const char *generated, char *out, size_t cap);

/* True when a header of this name must not be forwarded in either direction
 * (hop-by-hop, framing moat rewrites itself). `connection` is the value of the
 * message's Connection header(s) joined (may be NULL): names listed there are
 * hop-by-hop too. */
int moat_fwd_is_hop_by_hop(const char *name, size_t name_len, const char *connection,
                           size_t connection_len);

#endif
