/* server.h - the HTTPS listener: a pool of worker threads, each running its own
 * libmicrohttpd daemon in epoll mode with suspend/resume on the shared listening
 * socket, together with its own proxy engine (proxy.h); TLS through the
 * certificate callback; request validation, moat's own error responses,
 * connection limits, request-head deadlines and the access log.
 *
 * Lifetime: new -> start -> (tick ...) -> quiesce -> stop -> free, all from the
 * main thread. cfg, up and tls are borrowed and must outlive the server. */
#ifndef MOAT_SERVER_H
#define MOAT_SERVER_H

#include <stddef.h>

#include "moat/config.h"
#include "moat/tlsstore.h"
#include "moat/upstream.h"

struct moat_server; /* opaque */

/* Creates the server and binds its listening socket (so a privileged port can
 * be bound before privileges are dropped). Returns NULL with a message in err. */
struct moat_server *moat_server_new(const struct moat_config *cfg, struct moat_upstream *up,
                                    struct moat_tlsstore *tls, char *err, size_t errlen);

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

/* Stops the workers (requests still in flight are failed: 503 or cut) and
 * the daemons, closing every connection. */
void moat_server_stop(struct moat_server *srv);

/* Frees the server (stops it first if needed). */
void moat_server_free(struct moat_server *srv);

#endif
