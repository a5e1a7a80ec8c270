/* proxy.h - the streaming proxy engine: one exchange per proxied request, driven
 * on the client side by libmicrohttpd's callbacks and on the upstream side by an
 * I/O thread (epoll) that never blocks.
 *
 * Threading: functions marked [MHD] run on a libmicrohttpd worker thread inside a
 * callback for the exchange's connection. An engine belongs to one listener
 * worker thread, which runs both libmicrohttpd (external epoll mode) and the
 * engine's upstream events: a request never crosses threads. Upstream I/O is
 * non-blocking; the engine suspends the client connection when it must wait
 * (upload buffer full, response head or body bytes not there yet) and resumes
 * it when the upstream side moves. Memory per exchange is fixed
 * (request and response buffers, recycled through a free list); nothing is
 * allocated per byte copied.
 *
 * Ownership: an exchange is reference counted. moat_exchange_new() returns it
 * holding the caller's (MHD request's) reference, released by
 * moat_exchange_release() from the request-completed callback. A response made
 * by moat_exchange_response() holds its own reference until libmicrohttpd frees
 * the response. */
#ifndef MOAT_PROXY_H
#define MOAT_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "moat/config.h"
#include "moat/reqcheck.h"
#include "moat/upstream.h"

#define MOAT_PROXY_PARK_MS 2 /* longest unsuspended wait for a response head */

struct moat_proxy;    /* opaque engine */
struct moat_exchange; /* opaque, one per proxied request */

/* Creates an engine over cfg (borrowed) and up (borrowed, shared by every
 * engine); both must outlive it. Returns NULL with a message in err. */
struct moat_proxy *moat_proxy_new(const struct moat_config *cfg, struct moat_upstream *up,
                                  char *err, size_t errlen);

/* The engine's epoll fd. The worker thread that owns the engine waits on it,
 * after adding its own fds (libmicrohttpd's epoll fd, a wake-up eventfd) with
 * data.ptr values of its own; every other event belongs to the engine. */
int moat_proxy_epoll_fd(struct moat_proxy *px);

/* Tells the engine whether the worker's last wait returned events. While it
 * is busy, a connection waiting for its response head is left unsuspended for
 * up to MOAT_PROXY_PARK_MS (libmicrohttpd then asks again at every turn of
 * the loop): suspending and resuming costs libmicrohttpd an epoll_ctl() pair
 * per request, more than a few polls when the loop turns anyway. A wait that
 * returns nothing ends the parking at the next turn. Worker thread. */
void moat_proxy_set_busy(struct moat_proxy *px, int busy);

/* Handles one event from the epoll fd that the worker did not recognise as its
 * own (ptr is epoll_event.data.ptr). Worker thread only. */
void moat_proxy_event(struct moat_proxy *px, void *ptr, uint32_t events);

/* Call after every batch of events (and at least every 100 ms): frees retired
 * connections, enforces upstream deadlines, trims the idle pool. Worker thread. */
void moat_proxy_tick(struct moat_proxy *px);

/* Number of exchanges not yet finished on the upstream side. Any thread. */
unsigned moat_proxy_active(struct moat_proxy *px);

/* Number of idle connections in the engine's keep-alive pool. Any thread
 * (takes the pool lock briefly: for scrapes, not the request path). */
unsigned moat_proxy_idle(struct moat_proxy *px);

/* Fails every exchange still in flight (so every suspended connection is
 * resumed and answered or aborted) and closes the idle pool; no suspension is
 * accepted afterwards. Worker thread, before MHD_stop_daemon(). */
void moat_proxy_shutdown(struct moat_proxy *px);

/* Frees the engine. After MHD_stop_daemon() of the daemon it served. */
void moat_proxy_free(struct moat_proxy *px);

/* [MHD] Creates an exchange for conn, holding the caller's reference. Its
 * request buffer receives the upstream head: see moat_exchange_head_buffer().
 * Returns NULL on allocation failure. */
struct moat_exchange *moat_exchange_new(struct moat_proxy *px, struct MHD_Connection *conn);

/* [MHD] The buffer the caller writes the upstream request head into (fwd), and
 * its capacity in *cap (at least limits.max_header_bytes + max_uri_bytes + 4 KiB).
 * Borrowed; valid until moat_exchange_start(). */
char *moat_exchange_head_buffer(struct moat_exchange *ex, size_t *cap);

/* [MHD] Starts proxying: the head is the first head_len bytes of the head
 * buffer. body says how the client's body is framed (upstream framing is
 * Content-Length or chunked to match); head_request: the method is HEAD.
 * Failures (no upstream connection, shutting down) show up in moat_exchange_poll(). */
void moat_exchange_start(struct moat_exchange *ex, size_t head_len, enum moat_body_kind body,
                         int head_request);

/* [MHD] Hands over upload bytes. Consumes what fits and decrements *size by
 * that; when not all fit the connection is suspended until there is room.
 * Returns 0, or -1 when the connection must be aborted. */
int moat_exchange_feed(struct moat_exchange *ex, const char *data, size_t *size);

/* [MHD] The client's body is complete (or there was none). */
void moat_exchange_body_done(struct moat_exchange *ex);

enum moat_exchange_wait {
    MOAT_EXCHANGE_WAIT = 0,   /* connection suspended; call again when resumed */
    MOAT_EXCHANGE_READY = 1,  /* response head available: moat_exchange_response() */
    MOAT_EXCHANGE_FAILED = 2, /* upstream failed before a head: answer *status */
};

/* [MHD] Checks for the response head; when it is not there yet, suspends the
 * connection or, while the worker is busy, leaves it parked (see
 * moat_proxy_set_busy()). On FAILED, *status is 502, 503 or 504 and *reason a static label. */
enum moat_exchange_wait moat_exchange_poll(struct moat_exchange *ex, int *status,
                                           const char **reason);

/* Puts the upstream's end-to-end fields onto the client response r: called once
 * by moat_exchange_response() with the head's fields minus the hop-by-hop ones
 * and Date (hdrs[0..n), borrowed for the call only; names and values are not
 * NUL-terminated). Returns 0, or -1 to refuse the response. */
typedef int (*moat_exchange_fields_fn)(void *arg, struct MHD_Response *r,
                                       const struct moat_hdr *hdrs, size_t n);

/* [MHD] Builds the client response from the upstream head (body streamed by a
 * content reader, or copied when it is all there) and has fields() add the
 * head's end-to-end fields, so that a header policy decides on the upstream's
 * fields before anything is copied into libmicrohttpd. *status gets the
 * upstream status; *inline_body the body bytes copied into the response (the
 * whole body was there), 0 when the body is streamed or empty. Returns NULL when the head cannot be
 * represented or fields() refused (then answer 502). Caller queues and destroys the response as
 * usual. */
struct MHD_Response *moat_exchange_response(struct moat_exchange *ex, int *status,
                                            size_t *inline_body, moat_exchange_fields_fn fields,
                                            void *arg);

/* Figures for the access log and metrics. */
struct moat_exchange_stats {
    uint64_t bytes_up;       /* request body bytes taken from the client */
    uint64_t bytes_down;     /* response body bytes handed to the client */
    double upstream_seconds; /* from upstream connect/reuse to the response head (-1: none) */
    int upstream_status;     /* status of the upstream's head, 0 when none */
    const char *error;       /* static reason when the upstream side failed, else NULL */
    int reused;              /* the upstream connection came from the pool */
};

/* Copies the current figures (any thread). */
void moat_exchange_stats_get(struct moat_exchange *ex, struct moat_exchange_stats *out);

/* [MHD] Drops the request's reference (from the request-completed callback).
 * An exchange the client abandoned is aborted on the upstream side. */
void moat_exchange_release(struct moat_exchange *ex);

#endif
