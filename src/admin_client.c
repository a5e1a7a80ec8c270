/* admin_client.c - `moat healthcheck`: a minimal HTTP/1.1 client (plain or
 * GnuTLS, over TCP or a Unix socket) that asks the admin listener for /healthz,
 * so container images need no curl. */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "moat/admin.h"
#include "moat/upstream.h"

#define HC_REQUEST "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

/* One client connection with a deadline for everything. */
struct hc_conn {
    int fd;                                /* the socket, -1 when none */
    gnutls_session_t tls;                  /* TLS session, NULL for plain HTTP */
    gnutls_certificate_credentials_t cred; /* client credentials (no verification) */
    uint64_t deadline_ms;                  /* moat_now_ms() by which all must be done */
};

/* Waits for fd to become readable (out == 0) or writable. Returns 0, or -1 at the deadline. */
static int hc_wait(struct hc_conn *c, int out)
{
    struct pollfd pfd;
    uint64_t now;
    int n;

    pfd.fd = c->fd;
    pfd.events = out ? POLLOUT : POLLIN;
    for (;;) {
        now = moat_now_ms();
        if (now >= c->deadline_ms)
            return -1;
        n = poll(&pfd, 1, (int)(c->deadline_ms - now));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* Where to connect for the listener address: a wildcard is reached on loopback. */
static socklen_t hc_target(const struct moat_bind_addr *ba, struct sockaddr_storage *ss)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    struct sockaddr_un *su = (struct sockaddr_un *)ss;

    memset(ss, 0, sizeof(*ss));
    if (ba->kind == MOAT_BIND_UNIX) {
        su->sun_family = AF_UNIX;
        snprintf(su->sun_path, sizeof(su->sun_path), "%s", ba->path);
        return (socklen_t)sizeof(*su);
    }
    if (ba->tcp.family == AF_INET6) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(ba->tcp.port);
        inet_pton(AF_INET6, ba->tcp.host, &s6->sin6_addr);
        if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
            s6->sin6_addr = in6addr_loopback;
        return (socklen_t)sizeof(*s6);
    }
    s4->sin_family = AF_INET;
    s4->sin_port = htons(ba->tcp.port);
    inet_pton(AF_INET, ba->tcp.host, &s4->sin_addr);
    if (s4->sin_addr.s_addr == htonl(INADDR_ANY))
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return (socklen_t)sizeof(*s4);
}

/* Connects (non-blocking, bounded by the deadline). Returns 0 or -1 with err set. */
static int hc_connect(struct hc_conn *c, const struct moat_bind_addr *ba, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len = hc_target(ba, &ss);
    socklen_t elen = sizeof(int);
    int soerr = 0;

    c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(c->fd, (struct sockaddr *)&ss, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EAGAIN) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    if (hc_wait(c, 1) != 0) {
        snprintf(err, errlen, "no answer in time");
        return -1;
    }
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0)
        soerr = errno;
    if (soerr != 0) {
        snprintf(err, errlen, "%s", strerror(soerr));
        return -1;
    }
    return 0;
}

/* Client TLS handshake without certificate verification (the peer is moat's
 * own admin listener on this host). Returns 0 or -1 with err set. */
static int hc_tls(struct hc_conn *c, char *err, size_t errlen)
{
    int rc;

    if (gnutls_certificate_allocate_credentials(&c->cred) < 0 ||
        gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0) {
        snprintf(err, errlen, "cannot set up TLS");
        return -1;
    }
    if (gnutls_set_default_priority(c->tls) < 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->cred) < 0) {
        snprintf(err, errlen, "cannot set up TLS");
        return -1;
    }
    gnutls_transport_set_int(c->tls, c->fd);
    for (;;) {
        rc = gnutls_handshake(c->tls);
        if (rc == GNUTLS_E_SUCCESS)
            return 0;
        if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED) {
            snprintf(err, errlen, "TLS handshake failed: %s", gnutls_strerror(rc));
            return -1;
        }
        if (hc_wait(c, gnutls_record_get_direction(c->tls)) != 0) {
            snprintf(err, errlen, "TLS handshake timed out");
            return -1;
        }
    }
}

/* Sends all of buf. Returns 0 or -1. */
static int hc_send(struct hc_conn *c, const char *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        if (c->tls != NULL)
            n = gnutls_record_send(c->tls, buf, len);
        else
            n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (c->tls != NULL && (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)) {
            if (hc_wait(c, gnutls_record_get_direction(c->tls)) != 0)
                return -1;
        } else if (c->tls == NULL && n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (hc_wait(c, 1) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads into buf until the status line is complete, EOF or the deadline.
 * Returns the bytes read (NUL-terminated), or -1 on an error or timeout. */
static ssize_t hc_recv_status(struct hc_conn *c, char *buf, size_t cap)
{
    size_t used = 0;
    ssize_t n;

    while (used + 1 < cap && memchr(buf, '\n', used) == NULL) {
        if (c->tls != NULL)
            n = gnutls_record_recv(c->tls, buf + used, cap - 1 - used);
        else
            n = recv(c->fd, buf + used, cap - 1 - used, 0);
        if (n > 0) {
            used += (size_t)n;
            continue;
        }
        if (n == 0)
            break;
        if (c->tls != NULL && (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)) {
            if (hc_wait(c, gnutls_record_get_direction(c->tls)) != 0)
                return -1;
        } else if (c->tls == NULL && (errno == EAGAIN || errno == EINTR)) {
            if (hc_wait(c, 0) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    buf[used] = '\0';
    return (ssize_t)used;
}

/* The status code of an "HTTP/1.x NNN ..." line, or -1. */
static int hc_status(const char *line)
{
    int code = 0;
    int i;

    if (strncmp(line, "HTTP/1.", 7) != 0 || line[7] == '\0' || line[8] != ' ')
        return -1;
    for (i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return -1;
        code = code * 10 + (line[i] - '0');
    }
    return code;
}

int moat_admin_healthcheck(const struct moat_config *cfg, unsigned timeout_ms, char *msg,
                           size_t msglen)
{
    const struct moat_bind_addr *ba = &cfg->admin.listen;
    struct hc_conn c;
    char addr[MOAT_CFG_STR + 16];
    char why[256];
    char resp[512];
    char *eol;
    int status;
    int rc = -1;

    memset(&c, 0, sizeof(c));
    c.fd = -1;
    c.deadline_ms = moat_now_ms() + timeout_ms;
    if (ba->kind == MOAT_BIND_OFF) {
        snprintf(msg, msglen, "the admin listener is off (admin.listen = off)");
        return -1;
    }
    if (moat_config_format_bind(ba, addr, sizeof(addr)) != 0)
        addr[0] = '\0';
    if (hc_connect(&c, ba, why, sizeof(why)) != 0) {
        snprintf(msg, msglen, "cannot connect to the admin listener %s: %s", addr, why);
        goto out;
    }
    if (cfg->admin.tls && hc_tls(&c, why, sizeof(why)) != 0) {
        snprintf(msg, msglen, "admin listener %s: %s", addr, why);
        goto out;
    }
    if (hc_send(&c, HC_REQUEST, sizeof(HC_REQUEST) - 1) != 0 ||
        hc_recv_status(&c, resp, sizeof(resp)) < 0) {
        snprintf(msg, msglen, "admin listener %s: no answer to GET /healthz", addr);
        goto out;
    }
    eol = strpbrk(resp, "\r\n");
    if (eol != NULL)
        *eol = '\0';
    status = hc_status(resp);
    if (status != 200) {
        snprintf(msg, msglen, "admin listener %s: GET /healthz answered %.60s", addr,
                 status < 0 ? "something that is not HTTP/1.x" : resp);
        goto out;
    }
    snprintf(msg, msglen, "healthy (admin listener %s answered 200)", addr);
    rc = 0;
out:
    if (c.tls != NULL)
        gnutls_deinit(c.tls);
    if (c.cred != NULL)
        gnutls_certificate_free_credentials(c.cred);
    if (c.fd >= 0)
        close(c.fd);
    return rc;
}
