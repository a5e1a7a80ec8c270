/* uptls.c - TLS to the application with OpenSSL: a verifying client context
 * and non-blocking per-connection calls (see uptls.h). */
#include "moat/uptls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "moat/log.h"
#include "moat/upstream.h"

struct moat_uptls {
    SSL_CTX *ctx;                /* client context (verify peer, TLS >= 1.2) */
    char name[MOAT_CFG_STR];     /* name the certificate must carry */
    int name_is_ip;              /* name is an IP literal: check IP SANs, no SNI */
    char ca_file[MOAT_CFG_PATH]; /* bundle the context trusts (for messages) */
};

struct moat_uptls_conn {
    SSL *ssl; /* the connection (owns its BIO, not the fd) */
};

/* The last OpenSSL error as text (cap bytes), and the queue cleared. */
static void ossl_err(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_last_error();

    if (e != 0)
        ERR_error_string_n(e, buf, cap);
    else
        snprintf(buf, cap, "unknown error");
    ERR_clear_error();
}

int moat_uptls_new(const struct moat_config *cfg, struct moat_uptls **out, char *err, size_t errlen)
{
    struct moat_uptls *t = NULL;
    const char *ca =
        cfg->upstream.tls_ca_file[0] != '\0' ? cfg->upstream.tls_ca_file : MOAT_UPTLS_SYSTEM_CA;
    const char *name = cfg->upstream.tls_server_name[0] != '\0' ? cfg->upstream.tls_server_name
                                                                : cfg->upstream.addr.host;
    char why[256];
    int rc = -1;

    *out = NULL;
    if (cfg->upstream.addr.kind != MOAT_UPSTREAM_TCP || !cfg->upstream.addr.tls)
        return 0;
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        moat_set_err(err, errlen, "out of memory for the upstream TLS context");
        goto out;
    }
    snprintf(t->name, sizeof(t->name), "%s", name);
    snprintf(t->ca_file, sizeof(t->ca_file), "%s", ca);
    t->name_is_ip = moat_upstream_is_ip_literal(t->name);
    ERR_clear_error();
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (t->ctx == NULL) {
        ossl_err(why, sizeof(why));
        moat_set_err(err, errlen, "cannot create the upstream TLS context: %s", why);
        goto out;
    }
    if (SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(t->ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
        ossl_err(why, sizeof(why));
        moat_set_err(err, errlen, "cannot configure the upstream TLS context: %s", why);
        goto out;
    }
    if (SSL_CTX_load_verify_locations(t->ctx, ca, NULL) != 1) {
        ossl_err(why, sizeof(why));
        moat_set_err(err, errlen, "upstream.tls_ca_file: cannot load CA certificates from %s: %s",
                     ca, why);
        goto out;
    }
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
    /* No renegotiation towards the app; session tickets are not kept. */
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
    *out = t;
    t = NULL;
    rc = 0;
out:
    moat_uptls_free(t);
    return rc;
}

void moat_uptls_free(struct moat_uptls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

struct moat_uptls_conn *moat_uptls_conn_new(struct moat_uptls *t, int fd)
{
    struct moat_uptls_conn *c = calloc(1, sizeof(*c));
    X509_VERIFY_PARAM *vp;
    int ok = c != NULL;

    ERR_clear_error();
    if (ok)
        c->ssl = SSL_new(t->ctx);
    ok = ok && c->ssl != NULL && SSL_set_fd(c->ssl, fd) == 1;
    if (ok) {
        vp = SSL_get0_param(c->ssl);
        if (t->name_is_ip) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(vp, t->name) == 1;
        } else {
            X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            ok = SSL_set1_host(c->ssl, t->name) == 1 &&
                 SSL_set_tlsext_host_name(c->ssl, t->name) == 1;
        }
    }
    if (ok) {
        SSL_set_connect_state(c->ssl);
    } else {
        ERR_clear_error();
        moat_uptls_conn_free(c);
        c = NULL;
    }
    return c;
}

void moat_uptls_conn_free(struct moat_uptls_conn *c)
{
    if (c == NULL)
        return;
    if (c->ssl != NULL) {
        /* One non-blocking attempt at close_notify; the socket closes anyway. */
        if (SSL_is_init_finished(c->ssl))
            (void)SSL_shutdown(c->ssl);
        ERR_clear_error();
        SSL_free(c->ssl);
    }
    free(c);
}

int moat_uptls_handshake(struct moat_uptls_conn *c, const char **why, char *detail, size_t cap)
{
    long vr;
    int rc, e;

    ERR_clear_error();
    rc = SSL_do_handshake(c->ssl);
    if (rc == 1)
        return 1;
    e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    vr = SSL_get_verify_result(c->ssl);
    if (vr != X509_V_OK) {
        *why = "tls_verify";
        snprintf(detail, cap, "certificate verification failed: %s",
                 X509_verify_cert_error_string(vr));
        ERR_clear_error();
    } else if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0) {
        *why = "tls_handshake";
        snprintf(detail, cap, "connection closed during the TLS handshake");
    } else {
        *why = "tls_handshake";
        ossl_err(detail, cap);
    }
    return -1;
}

ssize_t moat_uptls_read(struct moat_uptls_conn *c, void *buf, size_t len)
{
    size_t got = 0;
    ssize_t ret = -1;
    int e;

    ERR_clear_error();
    if (SSL_read_ex(c->ssl, buf, len, &got) == 1)
        return (ssize_t)got;
    e = SSL_get_error(c->ssl, 0);
    if (e == SSL_ERROR_ZERO_RETURN) {
        ret = 0;
    } else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
    } else {
        /* Includes an EOF without close_notify: a truncation, never a clean end. */
        errno = ECONNRESET;
    }
    ERR_clear_error();
    return ret;
}

ssize_t moat_uptls_write(struct moat_uptls_conn *c, const void *buf, size_t len)
{
    size_t put = 0;
    int e;

    ERR_clear_error();
    if (SSL_write_ex(c->ssl, buf, len, &put) == 1)
        return (ssize_t)put;
    e = SSL_get_error(c->ssl, 0);
    errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : EPIPE;
    ERR_clear_error();
    return -1;
}

int moat_uptls_idle_ok(struct moat_uptls_conn *c)
{
    unsigned char b;
    size_t got = 0;
    int e, ok;

    ERR_clear_error();
    if (SSL_read_ex(c->ssl, &b, 1, &got) == 1)
        return 0; /* application data on an idle connection: out of step */
    e = SSL_get_error(c->ssl, 0);
    ok = e == SSL_ERROR_WANT_READ;
    ERR_clear_error();
    return ok;
}
