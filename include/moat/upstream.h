/* upstream.h - connections to the application: address resolution, non-blocking
 * connect and a bounded keep-alive pool.
 *
 * Thread-safe. A connection is a plain file descriptor owned by exactly one
 * party at a time: the pool while idle, an exchange while in use. Every fd
 * handed out must come back through moat_upstream_put_idle() (reusable) or
 * moat_upstream_close() (not reusable), which keeps the open-connection count
 * (bounded by upstream.max_connections) exact. */
#ifndef MOAT_UPSTREAM_H
#define MOAT_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "moat/config.h"

struct moat_upstream; /* opaque */

/* Gauges for metrics and tests. */
struct moat_upstream_stats {
    unsigned open;   /* connections open (idle + in use) */
    unsigned idle;   /* connections waiting in the pool */
};

/* Creates the pool for cfg->upstream (borrowed; must outlive the pool) and, for
 * a TCP host name, resolves it once now (a failure is logged, not fatal: the
 * name is resolved again on later connects by a background thread).
 * Returns NULL with a message in err on failure. Caller frees with moat_upstream_free(). */
struct moat_upstream *moat_upstream_new(const struct moat_config *cfg, char *err, size_t errlen);

/* Starts a non-blocking connect. On success returns 0 with *fd_out set (owned by
 * the caller from now on) and *pending = 1 when the connect is still in progress
 * (wait for EPOLLOUT, then check with moat_upstream_connect_result()).
 * Returns -1 with *why set to a static reason ("no_address", "connect",
 * "limit") when no connection could be started. */
int moat_upstream_connect(struct moat_upstream *up, int *fd_out, int *pending, const char **why);

/* After EPOLLOUT on a pending connect: returns 0 when connected, else the errno. */
int moat_upstream_connect_result(int fd);

/* Takes a live idle connection from the pool. Returns the fd (caller owns it)
 * or -1 when none is idle. Connections the upstream closed are dropped here. */
int moat_upstream_take_idle(struct moat_upstream *up);

/* Gives a connection back for reuse (takes ownership). It is closed instead
 * when the pool is full or draining. */
void moat_upstream_put_idle(struct moat_upstream *up, int fd);

/* Closes a connection that must not be reused (takes ownership). */
void moat_upstream_close(struct moat_upstream *up, int fd);

/* Closes idle connections older than upstream.keepalive_timeout or closed by the
 * upstream. Call about once a second. */
void moat_upstream_sweep(struct moat_upstream *up);

/* Closes every idle connection and stops pooling new ones (for shutdown). */
void moat_upstream_drain(struct moat_upstream *up);

/* Copies the current gauges. */
void moat_upstream_stats_get(struct moat_upstream *up, struct moat_upstream_stats *out);

/* Stops the resolver thread and closes idle connections. In-use connections
 * must have been returned first. */
void moat_upstream_free(struct moat_upstream *up);

/* Milliseconds on the monotonic clock. */
uint64_t moat_now_ms(void);

#endif
