/* upstream.h - connections to the application: address resolution (with a
 * background re-resolver for host names), non-blocking connect, and the count of
 * open connections bounded by upstream.max_connections.
 *
 * Thread-safe. Every fd handed out by moat_upstream_connect() must be given back
 * through moat_upstream_close(), which keeps the count exact. The keep-alive pool
 * itself lives in the proxy engine (proxy.c), which owns idle connections. */
#ifndef MOAT_UPSTREAM_H
#define MOAT_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "moat/config.h"
#include "moat/uptls.h"

struct moat_upstream; /* opaque */

/* Gauges for metrics and tests. */
struct moat_upstream_stats {
    unsigned open; /* connections open (idle + in use) */
};

/* Creates the pool for cfg->upstream (borrowed; must outlive the pool) and, for
 * a TCP host name, resolves it once now (a failure is logged, not fatal: the
 * name is resolved again by the background thread moat_upstream_start() starts).
 * For an https:// upstream it also makes the TLS context (uptls.h), reading the
 * CA bundle now. Creates no thread. Returns NULL with a message in err on
 * failure (e.g. an unreadable CA bundle). Caller frees with moat_upstream_free(). */
struct moat_upstream *moat_upstream_new(const struct moat_config *cfg, char *err, size_t errlen);

/* Starts the background re-resolver for a TCP host name (nothing for a Unix
 * socket or an IP literal). Call it after the sandbox is applied, so the thread
 * is under Landlock too. Idempotent. Returns 0, or -1 with err set. */
int moat_upstream_start(struct moat_upstream *up, char *err, size_t errlen);

/* 1 when cfg->upstream names a TCP host to resolve at run time (not an IP
 * literal, not a Unix socket), else 0. Pure. */
int moat_upstream_resolver_needed(const struct moat_config *cfg);

/* Starts a non-blocking connect. On success returns 0 with *fd_out set (owned by
 * the caller from now on) and *pending = 1 when the connect is still in progress
 * (wait for EPOLLOUT, then check with moat_upstream_connect_result()).
 * Returns -1 with *why set to a static reason ("no_address", "connect",
 * "limit") when no connection could be started; "limit" means
 * upstream.max_connections are open (the caller may free an idle one and retry). */
int moat_upstream_connect(struct moat_upstream *up, int *fd_out, int *pending, const char **why);

/* After EPOLLOUT on a pending connect: returns 0 when connected, else the errno. */
int moat_upstream_connect_result(int fd);

/* Closes a connection handed out by moat_upstream_connect() (takes ownership). */
void moat_upstream_close(struct moat_upstream *up, int fd);

/* Copies the current gauges. */
void moat_upstream_stats_get(struct moat_upstream *up, struct moat_upstream_stats *out);

/* 1 when host is an IPv4 or IPv6 address literal (no brackets), else 0. Pure. */
int moat_upstream_is_ip_literal(const char *host);

/* The TLS context for an https:// upstream (owned by up), or NULL. */
struct moat_uptls *moat_upstream_tls(struct moat_upstream *up);

/* Stops the resolver thread. Every connection must have been closed first. */
void moat_upstream_free(struct moat_upstream *up);

/* Milliseconds on the monotonic clock. */
uint64_t moat_now_ms(void);

#endif
