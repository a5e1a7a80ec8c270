/* tlspush.c - a client connection's TLS record transport: see tlspush.h. */
#include "moat/tlspush.h"

#include <errno.h>
#include <gnutls/socket.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define TP_IOV_MAX 64 /* vectors per write: GnuTLS passes at most 32 (a queued flight) */

void moat_tlspush_init(struct moat_tlspush *tp, int fd)
{
    memset(tp, 0, sizeof(*tp));
    tp->fd = fd;
}

int moat_tlspush_attach(struct moat_tlspush *tp, gnutls_session_t session)
{
    int ret = -1;

#if GNUTLS_VERSION_NUMBER >= 0x030703
    if (gnutls_transport_is_ktls_enabled(session) != 0)
        goto out;
#endif
    tp->fd = gnutls_transport_get_int(session);
    if (tp->fd < 0)
        goto out;
    gnutls_transport_set_ptr2(session, (gnutls_transport_ptr_t)(intptr_t)tp->fd, tp);
    gnutls_transport_set_vec_push_function(session, moat_tlspush_vec);
    ret = 0;
out:
    return ret;
}

void moat_tlspush_hold_next(struct moat_tlspush *tp)
{
    tp->hold_next = 1;
}

/* Copies iov into the hold buffer when the record is small enough. Returns
 * 1 when held, 0 when it must be written now. */
static int tp_hold(struct moat_tlspush *tp, const giovec_t *iov, int iovcnt, size_t total)
{
    int i, held = 0;
    size_t at = 0;

    if (tp->len != 0 || total == 0 || total > MOAT_TLSPUSH_HOLD_MAX)
        goto out;
    if (tp->cap < total) {
        /* Sized to what is held (a head is about 1 KiB), not to the limit:
         * the buffer lives as long as the connection. */
        size_t want = (total + 1023) & ~(size_t)1023;
        unsigned char *b = realloc(tp->buf, want);

        if (b == NULL)
            goto out;
        tp->buf = b;
        tp->cap = want;
    }
    for (i = 0; i < iovcnt; i++) {
        memcpy(tp->buf + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    tp->off = 0;
    tp->len = total;
    held = 1;
out:
    return held;
}

ssize_t moat_tlspush_vec(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
    struct moat_tlspush *tp = ptr;
    struct iovec v[TP_IOV_MAX + 1];
    struct msghdr mh;
    size_t total = 0, pending = tp->len - tp->off;
    ssize_t n = -1;
    int i, nv = 0;

    for (i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (tp->hold_next) {
        tp->hold_next = 0;
        if (tp_hold(tp, iov, iovcnt, total)) {
            n = (ssize_t)total;
            goto out;
        }
    }
    if (pending > 0) {
        v[nv].iov_base = tp->buf + tp->off;
        v[nv].iov_len = pending;
        nv++;
    }
    for (i = 0; i < iovcnt && nv <= TP_IOV_MAX; i++) {
        v[nv].iov_base = iov[i].iov_base;
        v[nv].iov_len = iov[i].iov_len;
        nv++;
    }
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = v;
    mh.msg_iovlen = (size_t)nv;
    n = sendmsg(tp->fd, &mh, MSG_NOSIGNAL);
    if (n < 0 || pending == 0)
        goto out;
    /* The held bytes go first; only what follows them belongs to this write. */
    if ((size_t)n < pending) {
        tp->off += (size_t)n;
        n = 0;
    } else {
        n -= (ssize_t)pending;
        tp->off = tp->len = 0;
    }
    if (n == 0) {
        errno = EAGAIN;
        n = -1;
    }
out:
    return n;
}

int moat_tlspush_flush(struct moat_tlspush *tp)
{
    ssize_t n;
    int ret = 0;

    tp->hold_next = 0;
    while (tp->off < tp->len) {
        n = send(tp->fd, tp->buf + tp->off, tp->len - tp->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ret = -1;
            goto out;
        }
        tp->off += (size_t)n;
    }
    tp->off = tp->len = 0;
out:
    return ret;
}

void moat_tlspush_free(struct moat_tlspush *tp)
{
    free(tp->buf);
    tp->buf = NULL;
    tp->cap = 0;
    tp->off = tp->len = 0;
    tp->hold_next = 0;
}
