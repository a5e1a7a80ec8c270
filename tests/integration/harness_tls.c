/* harness_tls.c - the harness's client side: test certificates and a raw TLS/TCP client
 * (connect, send arbitrary bytes, buffered reads with timeouts, close detection). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

/* ------------------------------------------------------------ certificates */

/* Adds one X509v3 extension given in OpenSSL's config syntax. Returns 0 or -1. */
static int h_add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int rc;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(ext);
    return rc;
}

int harness_make_cert(const char *cert_path, const char *key_path)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    FILE *f = NULL;
    int fd;
    long serial = 0;
    int rc = -1;

    if (pkey == NULL || x == NULL)
        goto out;
    if (RAND_bytes((unsigned char *)&serial, sizeof(serial)) != 1)
        goto out;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial < 0 ? -(serial + 1) : serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400L);
    X509_set_pubkey(x, pkey);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    if (h_add_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") != 0 ||
        h_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        h_add_ext(x, NID_key_usage, "critical,digitalSignature") != 0 ||
        h_add_ext(x, NID_ext_key_usage, "serverAuth") != 0)
        goto out;
    if (X509_sign(x, pkey, EVP_sha256()) == 0)
        goto out;

    fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto out;
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        goto out;
    }
    if (PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    fclose(f);
    f = fopen(cert_path, "we");
    if (f == NULL || PEM_write_X509(f, x) != 1)
        goto out;
    /* moat started as root reads them after dropping to H_SANDBOX_ID (SIGHUP reload). */
    if (harness_give(key_path) != 0 || harness_give(cert_path) != 0)
        goto out;
    rc = 0;
out:
    if (f != NULL)
        fclose(f);
    X509_free(x);
    EVP_PKEY_free(pkey);
    if (rc != 0)
        fprintf(stderr, "harness: cannot write test certificate %s\n", cert_path);
    return rc;
}

void harness_hex(const unsigned char *bytes, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        hex[2 * i] = digits[bytes[i] >> 4];
        hex[2 * i + 1] = digits[bytes[i] & 15];
    }
    hex[2 * n] = '\0';
}

int harness_cert_sha256(const char *cert_path, char *hex)
{
    FILE *f = fopen(cert_path, "re");
    X509 *x;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int rc = -1;

    if (f == NULL)
        return -1;
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x != NULL && X509_digest(x, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32) {
        harness_hex(md, 32, hex);
        rc = 0;
    }
    X509_free(x);
    return rc;
}

/* ------------------------------------------------------------ connections */

/* Sets c->error from a format. */
static void h_conn_err(struct h_conn *c, const char *what, const char *detail)
{
    snprintf(c->error, sizeof(c->error), "%s%s%s", what, detail != NULL ? ": " : "",
             detail != NULL ? detail : "");
}

/* poll() one fd for ev up to timeout_ms. Returns >0 ready, 0 timeout, -1 error. */
static int h_poll(int fd, short ev, int timeout_ms)
{
    struct pollfd p = {fd, ev, 0};
    uint64_t deadline = harness_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

    for (;;) {
        int left = (int)(deadline > harness_now_ms() ? deadline - harness_now_ms() : 0);
        int r = poll(&p, 1, left);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

/* TCP connect to 127.0.0.1:port (or [::1]:port), non-blocking. Returns 0 or -1. */
static int h_tcp_connect(struct h_conn *c, int ipv6, int port, int timeout_ms)
{
    struct sockaddr_storage ss;
    socklen_t sl = harness_loopback(ipv6, port, &ss);
    int one = 1;
    int soerr = 0;
    socklen_t el = sizeof(soerr);

    memset(c, 0, sizeof(*c));
    c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        h_conn_err(c, "socket", strerror(errno));
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&ss, sl) != 0) {
        if (errno != EINPROGRESS) {
            h_conn_err(c, "connect", strerror(errno));
            goto fail;
        }
        if (h_poll(c->fd, POLLOUT, timeout_ms) <= 0) {
            h_conn_err(c, "connect", "timeout");
            goto fail;
        }
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &el);
        if (soerr != 0) {
            h_conn_err(c, "connect", strerror(soerr));
            goto fail;
        }
    }
    return 0;
fail:
    close(c->fd);
    c->fd = -1;
    return -1;
}

int harness_conn_open_plain(struct h_conn *c, int port)
{
    return h_tcp_connect(c, 0, port, 5000);
}

int harness_conn_open(struct h_conn *c, int port)
{
    return harness_conn_open_tls(c, port, NULL);
}

int harness_conn_open_tls(struct h_conn *c, int port, const struct h_tls_opts *o)
{
    static const struct h_tls_opts defaults;
    int timeout;
    uint64_t deadline;
    const char *sni;

    if (o == NULL)
        o = &defaults;
    timeout = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    deadline = harness_now_ms() + (uint64_t)timeout;
    if (h_tcp_connect(c, o->ipv6, port, timeout) != 0)
        return -1;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL) {
        h_conn_err(c, "SSL_CTX_new", NULL);
        goto fail;
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (o->min_version != 0 && o->min_version < TLS1_2_VERSION)
        SSL_CTX_set_security_level(c->ctx, 0);
    SSL_CTX_set_min_proto_version(c->ctx, o->min_version != 0 ? o->min_version : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c->ctx, o->max_version != 0 ? o->max_version : TLS1_3_VERSION);
    if (o->cipher_list != NULL && SSL_CTX_set_cipher_list(c->ctx, o->cipher_list) != 1) {
        h_conn_err(c, "cipher list not supported by the client", o->cipher_list);
        goto fail;
    }
    if (o->client_cert != NULL &&
        (SSL_CTX_use_certificate_chain_file(c->ctx, o->client_cert) != 1 ||
         SSL_CTX_use_PrivateKey_file(c->ctx, o->client_key, SSL_FILETYPE_PEM) != 1)) {
        h_conn_err(c, "cannot load the client certificate", o->client_cert);
        goto fail;
    }
    c->ssl = SSL_new(c->ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        h_conn_err(c, "SSL_new", NULL);
        goto fail;
    }
    if (o->session != NULL && SSL_set_session(c->ssl, o->session) != 1) {
        h_conn_err(c, "SSL_set_session", NULL);
        goto fail;
    }
    SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    sni = o->sni != NULL ? o->sni : "localhost";
    if (sni[0] != '\0') {
        char name[256]; /* the macro takes a non-const pointer */

        snprintf(name, sizeof(name), "%s", sni);
        SSL_set_tlsext_host_name(c->ssl, name);
    }
    for (;;) {
        int r = SSL_connect(c->ssl);
        int e;
        int left = (int)(deadline > harness_now_ms() ? deadline - harness_now_ms() : 0);
        char buf[120];

        if (r == 1)
            return 0;
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (h_poll(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, left) <= 0) {
                h_conn_err(c, "TLS handshake", "timeout");
                goto fail;
            }
            continue;
        }
        ERR_error_string_n(ERR_peek_last_error(), buf, sizeof(buf));
        ERR_clear_error();
        h_conn_err(c, "TLS handshake failed",
                   e == SSL_ERROR_SYSCALL ? "connection closed or reset" : buf);
        goto fail;
    }
fail : {
    char keep[sizeof(c->error)];
    memcpy(keep, c->error, sizeof(keep));
    harness_conn_close(c);
    memcpy(c->error, keep, sizeof(keep));
}
    return -1;
}

void harness_conn_close(struct h_conn *c)
{
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    if (c->ctx != NULL)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    c->ssl = NULL;
    c->ctx = NULL;
    c->fd = -1;
    c->buf = NULL;
    c->off = c->len = c->cap = 0;
}

/* One raw read into buf. Returns >0 bytes, 0 on close (c->eof set), -1 on timeout. */
static int h_read_some(struct h_conn *c, unsigned char *buf, size_t cap, int timeout_ms)
{
    uint64_t deadline = harness_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

    if (c->eof || c->fd < 0)
        return 0;
    for (;;) {
        int left = (int)(deadline > harness_now_ms() ? deadline - harness_now_ms() : 0);

        if (c->ssl == NULL) {
            ssize_t n = read(c->fd, buf, cap);
            if (n > 0)
                return (int)n;
            if (n == 0) {
                c->eof = 1;
                return 0;
            }
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN) {
                c->eof = c->reset = 1;
                h_conn_err(c, "read", strerror(errno));
                return 0;
            }
            if (h_poll(c->fd, POLLIN, left) <= 0)
                return -1;
        } else {
            int n = SSL_read(c->ssl, buf, (int)(cap > 1048576 ? 1048576 : cap));
            int e;

            if (n > 0)
                return n;
            e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                if (h_poll(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, left) <= 0)
                    return -1;
                continue;
            }
            c->eof = 1;
            if (e != SSL_ERROR_ZERO_RETURN) {
                c->reset = 1;
                h_conn_err(c, "TLS read", e == SSL_ERROR_SYSCALL ? "reset" : "protocol error");
            }
            ERR_clear_error();
            return 0;
        }
    }
}

int harness_conn_fill(struct h_conn *c, int timeout_ms)
{
    int n;

    if (c->off > 0 && (c->off == c->len || c->off > c->cap / 2)) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->cap - c->len < 65536) {
        size_t ncap = c->cap < 262144 ? 262144 : c->cap * 2;
        unsigned char *nb = realloc(c->buf, ncap + 1);
        if (nb == NULL)
            return -1;
        c->buf = nb;
        c->cap = ncap;
    }
    n = h_read_some(c, c->buf + c->len, c->cap - c->len, timeout_ms);
    if (n > 0) {
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
    }
    return n;
}

int harness_conn_wait_closed(struct h_conn *c, int timeout_ms)
{
    uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;

    while (!c->eof) {
        uint64_t now = harness_now_ms();
        if (now >= deadline)
            return 0;
        if (harness_conn_fill(c, (int)(deadline - now)) < 0 && harness_now_ms() >= deadline)
            return 0;
    }
    return 1;
}

int harness_conn_send(struct h_conn *c, const void *data, size_t len)
{
    const unsigned char *p = data;

    if (c->fd < 0)
        return -1;
    while (len > 0) {
        if (c->ssl == NULL) {
            ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
            if (n > 0) {
                p += n;
                len -= (size_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                if (h_poll(c->fd, POLLOUT, 10000) <= 0) {
                    h_conn_err(c, "send", "timeout");
                    return -1;
                }
                continue;
            }
            h_conn_err(c, "send", strerror(errno));
            return -1;
        } else {
            int n = SSL_write(c->ssl, p, (int)(len > 1048576 ? 1048576 : len));
            int e;

            if (n > 0) {
                p += n;
                len -= (size_t)n;
                continue;
            }
            e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                if (h_poll(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 10000) <= 0) {
                    h_conn_err(c, "TLS write", "timeout");
                    return -1;
                }
                continue;
            }
            ERR_clear_error();
            h_conn_err(c, "TLS write", "connection closed");
            return -1;
        }
    }
    return 0;
}

int harness_conn_send_str(struct h_conn *c, const char *s)
{
    return harness_conn_send(c, s, strlen(s));
}

int harness_conn_send_pattern(struct h_conn *c, uint64_t n, int chunked)
{
    uint64_t off = 0;

    while (off < n) {
        size_t take = n - off < H_PATTERN_RUN ? (size_t)(n - off) : H_PATTERN_RUN;
        char line[32];

        if (chunked) {
            snprintf(line, sizeof(line), "%zx\r\n", take);
            if (harness_conn_send_str(c, line) != 0)
                return -1;
        }
        if (harness_conn_send(c, harness_pattern_at(off), take) != 0)
            return -1;
        if (chunked && harness_conn_send_str(c, "\r\n") != 0)
            return -1;
        off += take;
    }
    if (chunked)
        return harness_conn_send_str(c, "0\r\n\r\n");
    return 0;
}

int harness_conn_peer_sha256(struct h_conn *c, char *hex)
{
    X509 *x;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int rc = -1;

    if (c->ssl == NULL)
        return -1;
    x = SSL_get1_peer_certificate(c->ssl);
    if (x != NULL && X509_digest(x, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32) {
        harness_hex(md, 32, hex);
        rc = 0;
    }
    X509_free(x);
    return rc;
}
