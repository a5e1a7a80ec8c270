/* uptls.h - TLS to the application (OpenSSL libssl), for https:// upstreams.
 *
 * One context per process: TLS 1.2 or 1.3 only, the peer certificate always
 * verified against a CA bundle read once at start-up (upstream.tls_ca_file, or
 * the system bundle), and its name checked against upstream.tls_server_name (or
 * the URL's host: a DNS name is also sent as SNI, an IP literal is matched
 * against the certificate's IP addresses). There is no switch to turn
 * verification off.
 *
 * Connections are driven without blocking: every call returns at once and says
 * whether it must be retried when the socket is readable or writable (the proxy
 * engine waits for both, edge-triggered, so it simply retries on any event).
 * The context is immutable after moat_uptls_new() and may be shared by all
 * threads; each connection belongs to whichever thread holds its exchange. */
#ifndef MOAT_UPTLS_H
#define MOAT_UPTLS_H

#include <stddef.h>
#include <sys/types.h>

#include "moat/config.h"

/* The system CA bundle (Debian's ca-certificates) used when no CA file is configured. */
#define MOAT_UPTLS_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

struct moat_uptls;      /* opaque: the SSL_CTX and the name to verify */
struct moat_uptls_conn; /* opaque: one connection's SSL */

/* Makes the context for cfg's upstream when it is https:// (reads the CA
 * bundle now, before any sandbox); *out = NULL for an http:// or unix:
 * upstream. Returns 0, or -1 with err saying which file or setting is wrong.
 * Caller frees with moat_uptls_free(). */
int moat_uptls_new(const struct moat_config *cfg, struct moat_uptls **out, char *err,
                   size_t errlen);

/* Frees the context. NULL is a no-op. Every connection must be gone first. */
void moat_uptls_free(struct moat_uptls *t);

/* Starts the client side over the connected (or connecting) socket fd
 * (borrowed: the caller still closes it). Returns NULL when out of memory. */
struct moat_uptls_conn *moat_uptls_conn_new(struct moat_uptls *t, int fd);

/* Frees c after a best-effort close_notify that never blocks. NULL is a no-op. */
void moat_uptls_conn_free(struct moat_uptls_conn *c);

/* Advances the handshake. Returns 1 when it is complete, 0 when it must be
 * called again on the next socket event, -1 when it failed: *why is then a
 * static reason and detail (cap bytes) says what was wrong (certificate
 * verification, name mismatch, protocol) for the log. */
int moat_uptls_handshake(struct moat_uptls_conn *c, const char **why, char *detail, size_t cap);

/* Reads decrypted bytes. Returns > 0 bytes read, 0 on a clean close
 * (close_notify), or -1 with errno EAGAIN (try again on the next event) or
 * ECONNRESET (the connection ended without close_notify, or a TLS error). */
ssize_t moat_uptls_read(struct moat_uptls_conn *c, void *buf, size_t len);

/* Writes bytes (partial writes allowed; the buffer may move between retries).
 * Returns > 0 bytes written, or -1 with errno EAGAIN or EPIPE. */
ssize_t moat_uptls_write(struct moat_uptls_conn *c, const void *buf, size_t len);

/* For an idle pooled connection whose socket became readable: consumes TLS
 * records that carry no application data (TLS 1.3 session tickets, key
 * updates). Returns 1 when the connection is still fit to reuse, 0 when the
 * peer sent data, closed or broke it. */
int moat_uptls_idle_ok(struct moat_uptls_conn *c);

#endif
