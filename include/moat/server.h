/* server.h - the HTTPS listener: a pool of worker threads, each running its own
 * libmicrohttpd daemon in epoll mode with suspend/resume on the shared listening
 * socket, together with its own proxy engine (proxy.h); TLS through the
 * certificate callback; request validation, moat's own error responses,
 * connection limits, request-head deadlines and the access log.
 *
 * Metrics: connections (opened, closed, refused, cut at the head deadline),
 * requests (method, status, duration, body bytes), rejections by hardening rule,
 * upstream exchange durations and failures, and TLS handshakes are recorded in
 * the registry as they happen (lock-free).
 *
 * Lifetime: new -> start -> (tick ...) -> quiesce -> stop -> free, all from the
 * main thread. cfg, up, tls and metrics are borrowed and must outlive the server. */
#ifndef MOAT_SERVER_H
#define MOAT_SERVER_H

#include <stddef.h>

#include "moat/config.h"
#include "moat/metrics.h"
#include "moat/tlsconf.h"
#include "moat/tlsstore.h"
#include "moat/tlsticket.h"
#include "moat/upstream.h"

struct moat_server; /* opaque */

/* Creates the server and binds its listening socket (so a privileged port can
 * be bound before privileges are dropped). metrics may be NULL (nothing is
 * recorded). Returns NULL with a message in err. */
struct moat_server *moat_server_new(const struct moat_config *cfg, struct moat_upstream *up,
                                    struct moat_tlsstore *tls, struct moat_metrics *metrics,
                                    char *err, size_t errlen);

struct moat_secheaders;
struct moat_cookie_policy;

/* Sets the header policy and the cookie policy applied to every response
 * (both borrowed for the server's lifetime, read-only; NULL = none / no cookie
 * hardening). Call before moat_server_start. */
void moat_server_set_policy(struct moat_server *srv, const struct moat_secheaders *sech,
                            const struct moat_cookie_policy *cookies);

struct moat_shutdown;

/* Serves the emergency shutdown on this listener at path (shutdown.https_path;
 * NULL or "" = not at all): POST there is answered by sd (shutdown.h), never
 * proxied; other methods 405 (404 while sd has no token). Both borrowed for
 * the server's lifetime. Call before moat_server_start. */
void moat_server_set_shutdown(struct moat_server *srv, struct moat_shutdown *sd, const char *path);

/* TLS session options beyond the certificates. */
struct moat_server_tls {
    struct moat_tlsticket *tickets;        /* ticket key (borrowed), NULL = no tickets */
    enum moat_tls_client_auth client_auth; /* client certificate mode */
    const char *client_ca_pem;             /* CA bundle, PEM text (borrowed), NULL = none */
};

/* Sets the TLS session options (t copied; what it points to borrowed for the
 * server's lifetime). client_auth other than off needs client_ca_pem. Call
 * before moat_server_start. */
void moat_server_set_tls(struct moat_server *srv, const struct moat_server_tls *t);

/* Starts the worker threads and their daemons on the bound socket. Returns 0,
 * or -1 with a message in err. */
int moat_server_start(struct moat_server *srv, char *err, size_t errlen);

/* Enforces request-head deadlines (slow clients). Call every ~100-250 ms. */
void moat_server_tick(struct moat_server *srv);

/* Stops accepting new connections; established ones go on. */
void moat_server_quiesce(struct moat_server *srv);

/* Number of client connections currently open. */
unsigned moat_server_connections(struct moat_server *srv);

/* Number of requests in progress (head received, response not finished). */
unsigned moat_server_requests(struct moat_server *srv);

/* True once moat_server_quiesce() was called (moat is draining). Any thread. */
int moat_server_draining(struct moat_server *srv);

/* Sets or clears lockdown (emergency shutdown): while set, every request that
 * would be proxied is answered 503 by moat (security headers applied, reason
 * "lockdown"). Any thread. */
void moat_server_set_lockdown(struct moat_server *srv, int on);

/* Upstream connections now: *idle in the workers' keep-alive pools, *active
 * the other open ones (connecting or carrying a request). Any thread; takes
 * each pool's lock briefly (for scrapes, not for the request path). */
void moat_server_upstream_counts(struct moat_server *srv, unsigned *idle, unsigned *active);

/* Binds a TCP listening socket (non-blocking, SO_REUSEADDR, IPv6-only for an
 * IPv6 address) on la and listens. Returns the fd (caller closes), or -1 with
 * a message naming the address in err. */
int moat_server_listen_socket(const struct moat_listen_addr *la, char *err, size_t errlen);

/* Stops the workers (requests still in flight are failed: 503 or cut) and
 * the daemons, closing every connection. */
void moat_server_stop(struct moat_server *srv);

/* Frees the server (stops it first if needed). */
void moat_server_free(struct moat_server *srv);

#endif
