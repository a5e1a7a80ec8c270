/* connlimit.h - client connection admission: a total limit and a limit per
 * client address, shared by every listener worker.
 *
 * libmicrohttpd splits its own connection limit between worker threads, so
 * moat counts itself: moat_connlimit_admit() from the accept-policy callback,
 * moat_connlimit_add()/remove() when a connection starts and ends. Thread-safe
 * (one mutex; admission is not on the per-request path). Memory is bounded by
 * the number of open connections. */
#ifndef MOAT_CONNLIMIT_H
#define MOAT_CONNLIMIT_H

#include <stddef.h>
#include <sys/socket.h>

struct moat_connlimit; /* opaque */

enum moat_connlimit_verdict {
    MOAT_CONNLIMIT_OK = 0,     /* admit */
    MOAT_CONNLIMIT_TOTAL = 1,  /* max_total connections open */
    MOAT_CONNLIMIT_PER_IP = 2, /* max_per_ip connections open from this address */
};

/* Creates the table. max_total / max_per_ip of 0 mean unlimited. Returns NULL
 * on allocation failure. Caller frees with moat_connlimit_free(). */
struct moat_connlimit *moat_connlimit_new(unsigned max_total, unsigned max_per_ip);

/* The client key of a socket address: its address bytes into addr (4 for
 * IPv4, 16 for IPv6, the rest zero). Returns AF_INET, AF_INET6, or AF_UNSPEC
 * when sa is NULL or has no IP address (a Unix socket). Pure. */
int moat_connlimit_addr_of(const struct sockaddr *sa, unsigned char addr[16]);

/* Would a new connection from (family, addr) be admitted? addr is 4 bytes for
 * AF_INET, 16 for AF_INET6 (IPv4-mapped IPv6 counts as IPv4), ignored otherwise. */
enum moat_connlimit_verdict moat_connlimit_admit(struct moat_connlimit *cl, int family,
                                                 const unsigned char *addr);

/* Counts a connection that started. Returns 0, or -1 on allocation failure
 * (the connection is then counted in the total only). */
int moat_connlimit_add(struct moat_connlimit *cl, int family, const unsigned char *addr);

/* Uncounts a connection that ended (same arguments as its add). */
void moat_connlimit_remove(struct moat_connlimit *cl, int family, const unsigned char *addr);

/* Connections currently counted. */
unsigned moat_connlimit_total(struct moat_connlimit *cl);

/* Frees the table. */
void moat_connlimit_free(struct moat_connlimit *cl);

#endif
