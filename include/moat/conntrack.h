/* conntrack.h - one listener's open connections, for what libmicrohttpd does
 * not bound itself: each connection's client key (for connlimit.h) and a
 * deadline by which its request head must be complete, enforced by a sweep
 * from the main loop that shuts the late sockets down.
 *
 * The caller embeds a struct moat_ct_conn in its per-connection context and
 * drives it from libmicrohttpd's callbacks: add on NOTIFY_STARTED, the deadline
 * setters from the request callbacks, remove on NOTIFY_CLOSED; the main thread
 * calls sweep. A connection's fd stays libmicrohttpd's: libmicrohttpd closes it
 * only after NOTIFY_CLOSED, which needs the tracker's lock, so a sweep never
 * reaches a closed fd; it still re-checks the peer before cutting.
 * Thread-safe (one mutex per tracker). */
#ifndef MOAT_CONNTRACK_H
#define MOAT_CONNTRACK_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "moat/hdr.h"

/* One tracked connection (embedded in the caller's context; the tracker only links it). */
struct moat_ct_conn {
    struct moat_ct_conn *prev, *next; /* the tracker's list (its lock) */
    int family;                       /* AF_INET / AF_INET6 / AF_UNSPEC: the client key */
    unsigned char addr[16];           /* the client's address bytes (moat_connlimit_addr_of) */
    char text[INET6_ADDRSTRLEN];      /* its printable form, "unknown" when there is none */
    int fd;                           /* the socket (libmicrohttpd's), -1 when unknown */
    struct sockaddr_storage peer;     /* its peer when added, to recognise the fd */
    socklen_t peer_len;               /* bytes in peer, 0 when unknown (never cut) */
    uint64_t deadline_ms;             /* cut after this (monotonic ms), 0 = none (the lock) */
};

/* The list and its lock. */
struct moat_conntrack {
    pthread_mutex_t lock;      /* guards the list and every entry's deadline */
    struct moat_ct_conn *head; /* open connections */
};

void moat_conntrack_init(struct moat_conntrack *ct);

/* Every connection must have been removed. */
void moat_conntrack_destroy(struct moat_conntrack *ct);

/* Returns the family of conn's client (AF_INET / AF_INET6, AF_UNSPEC when it
 * is not an IP client), fills addr as moat_connlimit_addr_of does and, when
 * text is not NULL, its printable form ("unknown" for AF_UNSPEC) in text[textlen]. */
int moat_conntrack_client(struct MHD_Connection *conn, unsigned char addr[16], char *text,
                          size_t textlen);

/* What moat_conntrack_client() returns and fills, taken from c's record when c
 * is not NULL (filled by moat_conntrack_add, so no per-request lookup and
 * formatting), else from conn. */
int moat_conntrack_client_of(const struct moat_ct_conn *c, struct MHD_Connection *conn,
                             unsigned char addr[16], char *text, size_t textlen);

/* Points hdrs[0..cap) at conn's request header fields (borrowed from
 * libmicrohttpd until the request completes) and returns how many it has,
 * which may exceed cap: only the first cap are stored. */
size_t moat_conntrack_headers(struct MHD_Connection *conn, struct moat_hdr *hdrs, size_t cap);

/* Fills c from conn (client key, fd and peer), sets its deadline and links it. */
void moat_conntrack_add(struct moat_conntrack *ct, struct moat_ct_conn *c,
                        struct MHD_Connection *conn, uint64_t deadline_ms);

/* Unlinks c (linked by add). */
void moat_conntrack_remove(struct moat_conntrack *ct, struct moat_ct_conn *c);

/* Sets c's deadline (0 = none). */
void moat_conntrack_set_deadline(struct moat_conntrack *ct, struct moat_ct_conn *c,
                                 uint64_t deadline_ms);

/* Brings c's deadline forward to deadline_ms unless it already falls earlier. */
void moat_conntrack_cap_deadline(struct moat_conntrack *ct, struct moat_ct_conn *c,
                                 uint64_t deadline_ms);

/* Called for each connection a sweep cuts, just before its socket is shut
 * down (so a metric counted here is visible before the close is), with the
 * tracker's lock held: it must not call back into the tracker. */
typedef void (*moat_ct_cut_fn)(void *arg);

/* Shuts down (SHUT_RDWR) every connection whose deadline passed at now_ms and
 * whose fd still has the recorded peer, clearing those deadlines; on_cut (may
 * be NULL) is told of each first. Returns how many were cut. */
unsigned moat_conntrack_sweep(struct moat_conntrack *ct, uint64_t now_ms, moat_ct_cut_fn on_cut,
                              void *arg);

#endif
