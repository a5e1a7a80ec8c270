/* admin.h - the admin listener: GET /metrics (Prometheus text format 0.0.4),
 * GET /healthz, GET /readyz and POST /emergency-shutdown (shutdown.h) on a libmicrohttpd daemon of
 * its own, with its own thread (never on the traffic workers), plain HTTP or TLS, on TCP or a Unix
 * socket; the periodic upstream check behind /readyz; and the client behind
 * `moat healthcheck`.
 *
 * Routing and the readiness decision are pure functions (table-tested); the
 * rest does the I/O. Lifetime of the listener: new (binds) -> start -> free,
 * from the main thread; everything it is given is borrowed and must outlive it. */
#ifndef MOAT_ADMIN_H
#define MOAT_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "moat/config.h"
#include "moat/metrics.h"
#include "moat/server.h"

/* What a request to the admin listener asks for. */
enum moat_admin_route {
    MOAT_ADMIN_NOT_FOUND = 0, /* unknown path: 404 */
    MOAT_ADMIN_BAD_METHOD,    /* known path, wrong method: 405 with Allow */
    MOAT_ADMIN_METRICS,       /* GET/HEAD /metrics */
    MOAT_ADMIN_HEALTHZ,       /* GET/HEAD /healthz */
    MOAT_ADMIN_READYZ,        /* GET/HEAD /readyz */
    MOAT_ADMIN_SHUTDOWN,      /* POST /emergency-shutdown (shutdown.h) */
};

/* The routing decision. */
struct moat_admin_match {
    enum moat_admin_route route; /* what to answer */
    const char *allow;           /* the path's Allow value (static), NULL when not found */
};

/* Routes method and path (exact, case-sensitive; the query already removed).
 * NULL arguments route to NOT_FOUND. Pure. */
void moat_admin_route(const char *method, const char *path, struct moat_admin_match *out);

/* What /readyz decides from. */
struct moat_admin_ready_in {
    int lockdown;            /* moat holds the service in lockdown (emergency shutdown) */
    int draining;            /* moat is draining before exit */
    int check_off;           /* the upstream check is off (admin.ready_interval = 0): the
                                fields below are ignored */
    int checked;             /* at least one upstream check has finished */
    const char *check_error; /* why the latest check failed; NULL when it succeeded */
    uint64_t ok_age_ms;      /* since the upstream last accepted a connection; UINT64_MAX: never */
    uint64_t max_age_ms;     /* admin.ready_max_age */
};

/* Decides readiness: ready only when not in lockdown, not draining, and (unless
 * the check is off) the latest upstream check succeeded and that success is at
 * most max_age_ms old. Returns
 * 1 when ready, else 0 with a one-line reason in why (cap bytes, NUL-terminated;
 * e.g. "draining", "upstream unreachable: ..."). Pure. */
int moat_admin_ready(const struct moat_admin_ready_in *in, char *why, size_t cap);

struct moat_admin;    /* opaque */
struct moat_shutdown; /* shutdown.h */

/* What the admin listener serves from (all borrowed, outliving the listener). */
struct moat_admin_deps {
    const struct moat_config *cfg;  /* admin.*, tls.priority, upstream.url */
    struct moat_metrics *metrics;   /* the registry it renders (and records its own requests in) */
    struct moat_server *srv;        /* draining state and upstream connection figures */
    double start_time;              /* moat's start, seconds since the Unix epoch */
    int keep_unix_socket;           /* leave a Unix socket file at exit (the sandbox forbids
                                       unlink; a stale file is replaced at the next start) */
    struct moat_shutdown *shutdown; /* answers POST /emergency-shutdown; NULL: 404 */
};

/* Creates the listener and binds its socket (TCP, or a Unix socket created
 * mode 0660, replacing a stale one). Returns NULL with a message in err; also
 * NULL with err[0] == '\0' when admin.listen is "off". Caller frees. */
struct moat_admin *moat_admin_new(const struct moat_admin_deps *deps, char *err, size_t errlen);

/* Starts the daemon thread and, unless admin.ready_interval is 0, the upstream
 * check thread (its first check runs at once). With admin.tls the certificate comes from the
 * installed TLS store (moat_tlsstore_install). Returns 0, or -1 with a message in err. */
int moat_admin_start(struct moat_admin *adm, char *err, size_t errlen);

/* Writes the listening address ("127.0.0.1:9901", "unix:/path") into out. */
void moat_admin_address(const struct moat_admin *adm, char *out, size_t cap);

/* Cuts connections whose request (head and body; the TLS handshake before
 * the first) is not whole within limits.header_timeout, so that a client that
 * drips bytes cannot keep the listener, and the emergency shutdown on it, busy
 * (libmicrohttpd's idle timeout restarts with each byte). At most
 * ADM_MAX_CONNS (64) connections are open, 16 from one address. Call every
 * ~100-250 ms from the main thread. NULL is fine. */
void moat_admin_tick(struct moat_admin *adm);

/* Sets or clears lockdown: /readyz answers 503 "lockdown" while set. Any thread. */
void moat_admin_set_lockdown(struct moat_admin *adm, int on);

/* Stops both threads, closes the socket (removing a Unix socket file it made)
 * and frees. NULL is fine. */
void moat_admin_free(struct moat_admin *adm);

/* One upstream check: connects to cfg->upstream.addr (resolving a host name),
 * waiting at most timeout_ms, then closes. Returns 0 when the upstream accepted
 * the connection, else -1 with a one-line reason in err (e.g. "connect to
 * 127.0.0.1:8000: Connection refused"). Blocking: never call it on a worker. */
int moat_admin_check_upstream(const struct moat_config *cfg, unsigned timeout_ms, char *err,
                              size_t errlen);

/* `moat healthcheck`: GET /healthz on cfg->admin.listen (a wildcard address is
 * reached through loopback; TLS when admin.tls, certificate not verified),
 * waiting at most timeout_ms in all. Returns 0 when the answer is 200, else -1;
 * either way a one-line message in msg. */
int moat_admin_healthcheck(const struct moat_config *cfg, unsigned timeout_ms, char *msg,
                           size_t msglen);

#endif
