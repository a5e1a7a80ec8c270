/* tlspush.h - the transport GnuTLS writes a client connection's records
 * through: plain non-blocking sendmsg(), except that one record can be held
 * back and sent in the same system call as the record after it.
 *
 * libmicrohttpd 0.9.75 hands GnuTLS a response's head and its body in two
 * calls, so a small answer leaves as two records in two sendmsg() calls. The
 * server asks to hold the head when the whole body is in hand and follows at
 * once; the body's record then carries both out together.
 *
 * Delivery: held bytes are reported to GnuTLS as written, so they always
 * leave before anything written after them. When the next write cannot take
 * them all (socket full) the rest stays held and that write reports EAGAIN,
 * which GnuTLS and libmicrohttpd retry when the socket is writable again.
 * moat_tlspush_flush() sends what is held without a following record.
 *
 * Threading: a connection's transport is used by its worker thread only. */
#ifndef MOAT_TLSPUSH_H
#define MOAT_TLSPUSH_H

#include <stddef.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>

#define MOAT_TLSPUSH_HOLD_MAX 4096 /* a record larger than this is never held */

/* One connection's transport (embedded in the caller's per-connection state). */
struct moat_tlspush {
    int fd;             /* the connection's socket (borrowed) */
    int hold_next;      /* hold the next record for the one after it */
    size_t off;         /* bytes of buf already sent */
    size_t len;         /* bytes held in buf (0 = none) */
    unsigned char *buf; /* cap bytes, allocated at the first hold (owned) */
    size_t cap;         /* bytes allocated: the largest record held, rounded up to 1 KiB */
};

/* Sets tp up for fd (-1: none yet, see moat_tlspush_attach), holding nothing. */
void moat_tlspush_init(struct moat_tlspush *tp, int fd);

/* Makes session write through tp from now on, tp->fd becoming the session's
 * socket (reads stay with GnuTLS as before). Call it after the handshake: a
 * session whose records the kernel handles (kTLS, when the system's GnuTLS
 * configuration enables it) keeps GnuTLS's own transport, since kTLS takes
 * the socket from the transport pointer this replaces. Returns 0 when
 * attached, -1 when not. tp must outlive the session's last write. */
int moat_tlspush_attach(struct moat_tlspush *tp, gnutls_session_t session);

/* Asks that the next record written be held and sent with the one after it. */
void moat_tlspush_hold_next(struct moat_tlspush *tp);

/* The GnuTLS vector push function (ptr is the struct moat_tlspush): returns
 * the bytes of iov written, or -1 with errno set (EAGAIN included). */
ssize_t moat_tlspush_vec(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt);

/* Sends what is held, if anything, without waiting. Returns 0 when nothing is
 * left held, -1 when some is (socket full or broken). */
int moat_tlspush_flush(struct moat_tlspush *tp);

/* Frees the hold buffer; tp holds nothing afterwards. */
void moat_tlspush_free(struct moat_tlspush *tp);

#endif
