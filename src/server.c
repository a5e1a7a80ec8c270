/* server.c - what the HTTPS listener does with each connection and request:
 * validation, proxying through the worker's engine, moat's own error answers,
 * connection admission and the access log (libmicrohttpd callbacks). */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "moat/log.h"
#include "server_int.h"

#define MOAT_CLIENT_DN_MAX 2048 /* longest client subject forwarded, NUL included */

static const char *srv_client_dn(struct MHD_Connection *conn, struct conn_ctx *cc);

/* 16 unpredictable bytes for a request id or a nonce without a getrandom(2) per
 * request: ChaCha20 keystream under a random per-process key, one block per counter. */
void srv_random16(struct moat_server *srv, unsigned char out[16])
{
    uint64_t n = atomic_fetch_add(&srv->rid_counter, 1);
    unsigned char nonce[crypto_stream_chacha20_NONCEBYTES] = {0};

    memcpy(nonce, &n, sizeof(n) < sizeof(nonce) ? sizeof(n) : sizeof(nonce));
    crypto_stream_chacha20(out, 16, nonce, srv->rid_key);
}

static const struct {
    int status;
    const char *body;
} error_bodies[] = {
    {400, "Bad Request\n"},
    {404, "Not Found\n"},
    {408, "Request Timeout\n"},
    {413, "Content Too Large\n"},
    {414, "URI Too Long\n"},
    {417, "Expectation Failed\n"},
    {431, "Request Header Fields Too Large\n"},
    {500, "Internal Server Error\n"},
    {501, "Not Implemented\n"},
    {502, "Bad Gateway\n"},
    {503, "Service Unavailable\n"},
    {504, "Gateway Timeout\n"},
    {505, "HTTP Version Not Supported\n"},
};

static const char *error_body(int status)
{
    size_t i;

    for (i = 0; i < sizeof(error_bodies) / sizeof(error_bodies[0]); i++)
        if (error_bodies[i].status == status)
            return error_bodies[i].body;
    return "Error\n";
}

/* Queues moat's own short error answer. close_conn: end the connection after it. */
static enum MHD_Result srv_queue_error(struct moat_server *srv, struct MHD_Connection *conn,
                                       struct req_ctx *rc, int status, int close_conn)
{
    const char *body = error_body(status);
    struct MHD_Response *r;
    enum MHD_Result ret = MHD_NO;

    r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                        MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        goto out;
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (rc->request_id[0] != '\0')
        MHD_add_response_header(r, srv->cfg->proxy.request_id_header, rc->request_id);
    if (close_conn || atomic_load(&srv->draining))
        MHD_add_response_header(r, "Connection", "close");
    if (srv_secure_response(srv, rc, r) != 0)
        moat_log(MOAT_LOG_WARN, "header_policy_failed", "security headers not applied to a %d",
                 status);
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    rc->status = status;
    rc->own_bytes = strcmp(rc->method, "HEAD") == 0 ? 0 : strlen(body);
out:
    rc->state = REQ_DONE;
    return ret;
}

/* ------------------------------------------------------- request handling */

/* First call for a request: validate, frame the upstream head, start the exchange. */
static enum MHD_Result srv_begin(struct srv_worker *w, struct MHD_Connection *conn,
                                 struct req_ctx *rc, const char *method, const char *version)
{
    struct moat_server *srv = w->srv;
    const struct moat_config *cfg = srv->cfg;
    struct moat_reqcheck_result res;
    struct moat_req_view view;
    size_t cap = (size_t)cfg->limits.max_headers + 1, n_seen;
    struct moat_fwd_input in;
    const union MHD_ConnectionInfo *ci;
    struct conn_ctx *cc;
    unsigned char addr[16] = {0};
    unsigned char rnd[16];
    char generated[33];
    char *head = NULL;
    size_t head_cap;
    long head_len;
    int family;
    enum MHD_Result ret = MHD_NO;

    /* w->hdrs is the worker's scratch: its callbacks run on its thread only. */
    n_seen = moat_conntrack_headers(conn, w->hdrs, cap);
    memset(&view, 0, sizeof(view));
    view.method = method;
    view.version = version;
    view.target = rc->target;
    view.hdrs = w->hdrs;
    view.n_hdrs = n_seen < cap ? n_seen : cap;
    if (n_seen > cfg->limits.max_headers) {
        res.status = 431;
        res.reason = "too_many_headers";
    } else {
        moat_reqcheck_run(&srv->lim, &view, &res);
    }
    if (res.status != 0) {
        rc->reason = res.reason;
        moat_metrics_request_rejected(srv->metrics, res.reason);
        ret = srv_queue_error(srv, conn, rc, res.status, 1);
        goto out;
    }

    family = moat_conntrack_client_of(rc->cc != NULL ? &rc->cc->ct : NULL, conn, addr,
                                      rc->client_ip, sizeof(rc->client_ip));
    srv_random16(srv, rnd);
    sodium_bin2hex(generated, sizeof(generated), rnd, sizeof(rnd));
    memset(&in, 0, sizeof(in));
    in.client_trusted = family != AF_UNSPEC &&
                        moat_cidr_match(cfg->proxy.trusted, cfg->proxy.n_trusted, family, addr);
    /* A well-formed client id is kept (it correlates logs across hops); one is
     * generated only when absent, and not at all when proxy.request_id is off. */
    moat_fwd_request_id(view.hdrs, view.n_hdrs, cfg->proxy.request_id_header, 1,
                        cfg->proxy.request_id ? generated : "", rc->request_id,
                        sizeof(rc->request_id));
    in.method = method;
    in.check = &res;
    in.hdrs = view.hdrs;
    in.n_hdrs = view.n_hdrs;
    in.client_family = family;
    in.client_addr = family == AF_UNSPEC ? NULL : addr;
    in.client_ip = rc->client_ip;
    in.proto = "https";
    in.request_id = rc->request_id;
    in.request_id_header = cfg->proxy.request_id_header;
    srv_nonce_make(srv, rc);
    in.nonce_header = cfg->headers.nonce_header;
    in.nonce = rc->nonce;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    cc = ci != NULL ? ci->socket_context : NULL;
    in.client_subject_header = cfg->tls.client_subject_header;
    in.client_subject = cc != NULL ? srv_client_dn(conn, cc) : NULL;

    if (srv_shutdown_match(srv, rc->target)) {
        ret = srv_shutdown_answer(srv, conn, rc, method, view.hdrs, view.n_hdrs, family, addr);
        goto out;
    }
    if (atomic_load(&srv->lockdown)) {
        rc->reason = "lockdown";
        moat_metrics_request_rejected(srv->metrics, rc->reason);
        ret = srv_queue_error(srv, conn, rc, 503, 1);
        goto out;
    }
    rc->ex = moat_exchange_new(w->px, conn);
    if (rc->ex == NULL) {
        ret = srv_queue_error(srv, conn, rc, 503, 1);
        goto out;
    }
    head = moat_exchange_head_buffer(rc->ex, &head_cap);
    head_len = moat_fwd_build_head(&in, head, head_cap);
    if (head_len < 0) {
        rc->reason = "headers_too_large";
        moat_metrics_request_rejected(srv->metrics, rc->reason);
        ret = srv_queue_error(srv, conn, rc, 431, 1);
        goto out;
    }
    moat_exchange_start(rc->ex, (size_t)head_len, res.body, strcmp(method, "HEAD") == 0);
    rc->state = res.body == MOAT_BODY_NONE ? REQ_WAIT : REQ_BODY;
    ret = MHD_YES;
out:
    return ret;
}

/* Asks the connection's transport to hold the next record (the head of the
 * answer about to be queued) for the one after it (tlspush.h). The transport
 * is attached at the first such answer, after the handshake, so the
 * handshake's records never pass through it and kTLS is seen. */
static void srv_push_hold(struct MHD_Connection *conn, struct conn_ctx *cc)
{
    const union MHD_ConnectionInfo *ci;
    gnutls_session_t session;

    if (cc->push_state == 0) {
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        session = ci != NULL ? (gnutls_session_t)ci->tls_session : NULL;
        cc->push_state = session != NULL && moat_tlspush_attach(&cc->push, session) == 0 ? 1 : -1;
    }
    if (cc->push_state > 0)
        moat_tlspush_hold_next(&cc->push);
}

/* Response head available (or failure): queue the answer. */
static enum MHD_Result srv_respond(struct moat_server *srv, struct MHD_Connection *conn,
                                   struct req_ctx *rc)
{
    struct MHD_Response *r;
    struct srv_fields_ctx fc;
    const char *reason = NULL;
    enum MHD_Result ret;
    int status = 502;
    size_t inline_body = 0;

    switch (moat_exchange_poll(rc->ex, &status, &reason)) {
    case MOAT_EXCHANGE_WAIT:
        return MHD_YES;
    case MOAT_EXCHANGE_FAILED:
        rc->reason = reason;
        return srv_queue_error(srv, conn, rc, status, 0);
    case MOAT_EXCHANGE_READY:
        break;
    }
    fc.srv = srv;
    fc.rc = rc;
    r = moat_exchange_response(rc->ex, &status, &inline_body, srv_proxied_fields, &fc);
    if (r == NULL) {
        rc->reason = "bad_response_head";
        return srv_queue_error(srv, conn, rc, 502, 0);
    }
    if (atomic_load(&srv->draining))
        MHD_add_response_header(r, "Connection", "close");
    /* The body follows the head at once: one write carries both records. */
    if (inline_body > 0 && rc->cc != NULL)
        srv_push_hold(conn, rc->cc);
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    rc->status = status;
    rc->state = REQ_DONE;
    return ret;
}

/* After a TLS 1.3 KeyUpdate from the client, GnuTLS answers the read that
 * consumed it with E_AGAIN, and libmicrohttpd 0.9.75 then waits for the
 * socket's next epoll edge even when the request sent with the KeyUpdate is
 * already in the socket: it would wait until the client sends more or the
 * idle timeout. Re-registering the socket in libmicrohttpd's epoll set, with
 * the events and data the library itself registers (the connection), makes
 * the kernel report it again when it is readable. A suspended connection is
 * not in the set (ENOENT): its resume marks it ready anyway. */
static void srv_tls_rearm(struct conn_ctx *cc)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLET;
    ev.data.ptr = cc->conn;
    if (cc->mhd_epfd >= 0 && cc->ct.fd >= 0 && cc->conn != NULL &&
        epoll_ctl(cc->mhd_epfd, EPOLL_CTL_MOD, cc->ct.fd, &ev) != 0 && errno != ENOENT)
        moat_log(MOAT_LOG_WARN, "tls_rearm_failed",
                 "cannot re-arm a connection after a TLS key update: %s", strerror(errno));
}

/* GnuTLS hook after each handshake message. The client's (incoming) Finished
 * completes the handshake on the server side, for TLS 1.2 and 1.3 alike; a
 * client's KeyUpdate needs srv_tls_rearm. libmicrohttpd keeps the session's
 * own user pointer; the connection context rides on the session-cache
 * pointer, which nothing else uses (libmicrohttpd sets up no session cache).
 * Runs on the connection's worker thread. */
static int srv_tls_hook(gnutls_session_t session, unsigned int htype, unsigned when,
                        unsigned int incoming, const gnutls_datum_t *msg)
{
    struct conn_ctx *cc = gnutls_db_get_ptr(session);

    (void)when;
    (void)msg;
    if (cc == NULL || !incoming)
        goto out;
    if (htype == GNUTLS_HANDSHAKE_KEY_UPDATE) {
        srv_tls_rearm(cc);
    } else if (htype == GNUTLS_HANDSHAKE_FINISHED && !cc->tls_counted) {
        cc->tls_counted = 1;
        moat_metrics_tls_handshake(
            cc->metrics, gnutls_protocol_get_name(gnutls_protocol_get_version(session)), 1);
        if (gnutls_session_is_resumed(session))
            moat_metrics_tls_resumed(cc->metrics);
    }
out:
    return 0;
}

/* 0 when the peer's certificate chain verifies against tls.client_ca (the
 * listener's trust list) for TLS client authentication, at the current time.
 * No certificate at all is 1. Anything else is -1. */
static int srv_peer_verified(gnutls_session_t session)
{
    gnutls_typed_vdata_st purpose;
    unsigned int n = 0, status = 1;
    int rc = -1;

    if (gnutls_certificate_get_peers(session, &n) == NULL || n == 0) {
        rc = 1;
        goto out;
    }
    memset(&purpose, 0, sizeof(purpose));
    purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
    purpose.data = (void *)(uintptr_t)GNUTLS_KP_TLS_WWW_CLIENT; /* GnuTLS only reads it */
    if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) == 0 && status == 0)
        rc = 0;
out:
    return rc;
}

/* GnuTLS verify function (during the handshake, after the client's
 * Certificate message): a certificate that does not verify fails the
 * handshake; none at all fails it when client certificates are required. */
static int srv_tls_verify(gnutls_session_t session)
{
    struct conn_ctx *cc = gnutls_db_get_ptr(session);
    int v = srv_peer_verified(session);
    int rc = -1;

    if (v == 0 || (v == 1 && cc != NULL && cc->client_auth != MOAT_TLS_CLIENT_AUTH_REQUIRED))
        rc = 0;
    return rc;
}

/* The verified client subject of the connection, header-safe, looked up once
 * per connection (resumed sessions carry the certificate in the ticket, which
 * only moat can have issued; it is verified again here). NULL when there is
 * none. Worker thread only. */
static const char *srv_client_dn(struct MHD_Connection *conn, struct conn_ctx *cc)
{
    const union MHD_ConnectionInfo *ci;
    gnutls_session_t session;
    const gnutls_datum_t *peers;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t dn = {NULL, 0};
    unsigned int n = 0;
    char *v = NULL;

    if (cc->dn_done || cc->client_auth == MOAT_TLS_CLIENT_AUTH_OFF)
        goto out;
    cc->dn_done = 1;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    session = ci != NULL ? (gnutls_session_t)ci->tls_session : NULL;
    if (session == NULL || srv_peer_verified(session) != 0)
        goto out;
    peers = gnutls_certificate_get_peers(session, &n);
    if (peers == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0)
        goto out;
    if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) < 0 ||
        gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0)
        goto out;
    v = malloc(MOAT_CLIENT_DN_MAX);
    if (v == NULL || moat_tls_dn_header_value((const char *)dn.data, v, MOAT_CLIENT_DN_MAX) != 0) {
        free(v);
        v = NULL;
        moat_log(MOAT_LOG_WARN, "tls_client_subject_dropped",
                 "a verified client certificate subject is too long to forward");
        goto out;
    }
    cc->client_dn = v;
out:
    gnutls_free(dn.data);
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    return cc->client_dn;
}

/* Sets up the connection's TLS session (from the STARTED notification, after
 * gnutls_init and before the handshake): the handshake hook (a connection that
 * closes before it fired counts as a failed handshake, srv_notify_conn),
 * session tickets, and the client certificate request. Tickets need no
 * session cache, so the cache pointer stays free for the hook. */
static void srv_tls_watch(struct moat_server *srv, struct MHD_Connection *conn, struct conn_ctx *cc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session = ci != NULL ? (gnutls_session_t)ci->tls_session : NULL;
    int ret;

    if (session == NULL)
        return;
    gnutls_db_set_ptr(session, cc);
    gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_POST,
                                       srv_tls_hook);
    ret = moat_tlsticket_apply(srv->tls_opts.tickets, session);
    if (ret < 0)
        moat_log(MOAT_LOG_WARN, "tls_tickets_failed", "cannot enable session tickets: %s",
                 gnutls_strerror(ret));
    cc->client_auth = (int)srv->tls_opts.client_auth;
    if (srv->tls_opts.client_auth != MOAT_TLS_CLIENT_AUTH_OFF) {
        /* Checked in the handshake against tls.client_ca (srv_tls_verify). */
        gnutls_certificate_server_set_request(session, srv->tls_opts.client_auth ==
                                                               MOAT_TLS_CLIENT_AUTH_REQUIRED
                                                           ? GNUTLS_CERT_REQUIRE
                                                           : GNUTLS_CERT_REQUEST);
        gnutls_session_set_verify_function(session, srv_tls_verify);
    }
}

/* Backstop at a request head, should the hook not have fired: the handshake
 * is complete by then (the session is valid while a request runs). */
static void srv_tls_seen(struct MHD_Connection *conn, struct conn_ctx *cc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session = ci != NULL ? (gnutls_session_t)ci->tls_session : NULL;

    cc->tls_counted = 1;
    moat_metrics_tls_handshake(
        cc->metrics,
        session != NULL ? gnutls_protocol_get_name(gnutls_protocol_get_version(session)) : NULL, 1);
}

enum MHD_Result srv_access(void *cls, struct MHD_Connection *conn, const char *url,
                           const char *method, const char *version, const char *upload_data,
                           size_t *upload_data_size, void **req_cls)
{
    struct srv_worker *w = cls;
    struct moat_server *srv = w->srv;
    struct req_ctx *rc = *req_cls;
    const union MHD_ConnectionInfo *ci;
    struct conn_ctx *cc;
    uint64_t limit = srv->cfg->limits.max_body_bytes;

    (void)url;
    if (rc == NULL)
        return MHD_NO;
    switch (rc->state) {
    case REQ_NEW:
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        cc = ci != NULL ? ci->socket_context : NULL;
        if (cc != NULL) {
            moat_conntrack_set_deadline(&srv->conns, &cc->ct, 0); /* the head is complete */
            if (!cc->tls_counted)
                srv_tls_seen(conn, cc);
        }
        atomic_fetch_add(&srv->n_reqs, 1);
        snprintf(rc->method, sizeof(rc->method), "%s", method);
        return srv_begin(w, conn, rc, method, version);
    case REQ_BODY:
        if (*upload_data_size > 0) {
            rc->body_seen += *upload_data_size;
            if (limit != 0 && rc->body_seen > limit) {
                /* Only a chunked body can get here (Content-Length was checked):
                 * the head is gone already, so the connection is cut. */
                rc->reason = "body_too_large";
                rc->status = 413;
                moat_metrics_request_rejected(srv->metrics, rc->reason);
                return MHD_NO;
            }
            if (moat_exchange_feed(rc->ex, upload_data, upload_data_size) != 0)
                return MHD_NO;
            rc->body_seen -= *upload_data_size; /* what was not taken comes again */
            return MHD_YES;
        }
        moat_exchange_body_done(rc->ex);
        rc->state = REQ_WAIT;
        return srv_respond(srv, conn, rc);
    case REQ_WAIT:
        if (*upload_data_size > 0) {
            *upload_data_size = 0; /* cannot happen: no body expected */
            return MHD_YES;
        }
        return srv_respond(srv, conn, rc);
    case REQ_DONE:
        break;
    }
    return MHD_YES;
}

/* Records a finished request in the metrics: the request itself, and the
 * upstream exchange's duration (head received) or failure. */
static void srv_record(struct moat_server *srv, const struct req_ctx *rc,
                       const struct moat_exchange_stats *st, double duration)
{
    moat_metrics_request(srv->metrics, MOAT_METRICS_HTTPS, rc->method, rc->status, duration,
                         st->bytes_up, st->bytes_down + rc->own_bytes);
    if (st->upstream_seconds >= 0)
        moat_metrics_upstream(srv->metrics, st->upstream_seconds);
    if (st->error != NULL)
        moat_metrics_upstream_error(srv->metrics, st->error);
}

/* A request that never reached the access handler: libmicrohttpd refused its
 * head itself (e.g. 431 when it outgrows the connection's memory, 400 for a
 * malformed request line). Counted when an answer was queued. */
static void srv_record_mhd_answer(struct moat_server *srv, struct MHD_Connection *conn,
                                  double duration)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
    unsigned status = ci != NULL ? ci->http_status : 0;

    if (status < 400 || status > 599)
        return;
    moat_metrics_request(srv->metrics, MOAT_METRICS_HTTPS, NULL, (int)status, duration, 0, 0);
    moat_metrics_request_rejected(srv->metrics, status == 431   ? "headers_too_large"
                                                : status == 414 ? "uri_too_long"
                                                                : "other");
}

void srv_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                   enum MHD_RequestTerminationCode toe)
{
    struct moat_server *srv = cls;
    struct req_ctx *rc = *req_cls;
    struct moat_exchange_stats st;
    struct moat_logline l;
    const union MHD_ConnectionInfo *ci;
    struct conn_ctx *cc;
    char path[512];
    double duration;

    if (rc == NULL)
        return;
    memset(&st, 0, sizeof(st));
    st.upstream_seconds = -1.0;
    if (rc->ex != NULL)
        moat_exchange_stats_get(rc->ex, &st);
    duration = (double)(moat_now_ms() - rc->start_ms) / 1000.0;
    if (rc->state != REQ_NEW) {
        atomic_fetch_sub(&srv->n_reqs, 1);
        srv_record(srv, rc, &st, duration);
    } else {
        srv_record_mhd_answer(srv, conn, duration);
    }
    if (srv->cfg->log.access && rc->state != REQ_NEW) {
        moat_log_target(rc->target, srv->cfg->log.log_query, path, sizeof(path));
        moat_logline_begin(&l, MOAT_LOG_INFO, "access");
        moat_logline_str(&l, "listener", "https");
        moat_logline_str(&l, "client", rc->client_ip[0] ? rc->client_ip : NULL);
        moat_logline_str(&l, "method", rc->method);
        moat_logline_str(&l, "path", path);
        moat_logline_int(&l, "status", rc->status);
        moat_logline_int(&l, "bytes_in", (long long)st.bytes_up);
        moat_logline_int(&l, "bytes_out", (long long)(st.bytes_down + rc->own_bytes));
        moat_logline_double(&l, "duration", duration);
        if (st.upstream_seconds >= 0)
            moat_logline_double(&l, "upstream_duration", st.upstream_seconds);
        else
            moat_logline_str(&l, "upstream_duration", NULL);
        moat_logline_str(&l, "request_id", rc->request_id[0] ? rc->request_id : NULL);
        if (rc->reason != NULL)
            moat_logline_str(&l, "reason", rc->reason);
        else if (st.error != NULL)
            moat_logline_str(&l, "reason", st.error);
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            moat_logline_bool(&l, "aborted", 1);
        moat_logline_end(&l);
    }
    if (rc->ex != NULL)
        moat_exchange_release(rc->ex);
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    cc = ci != NULL ? ci->socket_context : NULL;
    /* Nothing is left held once the answer is out: a hold is always followed
     * by the body's record, this only covers a body that never came. What
     * cannot leave now would wait for the next answer while the client waits
     * for this one: the connection is cut instead. */
    if (cc != NULL && cc->push.len > 0 && moat_tlspush_flush(&cc->push) != 0) {
        if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) /* else the client left */
            moat_log(MOAT_LOG_WARN, "tls_flush_failed",
                     "could not send the end of an answer at once: closing the connection");
        (void)shutdown(cc->push.fd, SHUT_RDWR);
    }
    if (cc != NULL) /* idle allowance, then the next head must arrive within header_timeout */
        moat_conntrack_set_deadline(&srv->conns, &cc->ct,
                                    moat_now_ms() + srv->cfg->limits.client_idle_timeout_ms +
                                        srv->cfg->limits.header_timeout_ms);
    free(rc->target);
    free(rc);
    *req_cls = NULL;
}

void *srv_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct moat_server *srv = cls;
    struct req_ctx *rc = calloc(1, sizeof(*rc));
    const union MHD_ConnectionInfo *ci;
    struct conn_ctx *cc;
    uint64_t now = moat_now_ms();

    if (rc == NULL)
        return NULL;
    rc->srv = srv;
    rc->start_ms = now;
    rc->target = strdup(uri != NULL ? uri : "");
    if (rc->target == NULL) {
        free(rc);
        return NULL;
    }
    rc->target_len = strlen(rc->target);
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    cc = ci != NULL ? ci->socket_context : NULL;
    rc->cc = cc;
    if (cc != NULL)
        moat_conntrack_cap_deadline(&srv->conns, &cc->ct, now + srv->cfg->limits.header_timeout_ms);
    return rc;
}

void moat_server_set_policy(struct moat_server *srv, const struct moat_secheaders *sech,
                            const struct moat_cookie_policy *cookies)
{
    srv->sech = sech;
    srv->cookies = cookies;
}

enum MHD_Result srv_accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct moat_server *srv = cls;
    unsigned char ip[16];
    int family;
    enum moat_connlimit_verdict v;

    (void)addrlen;
    family = moat_connlimit_addr_of(addr, ip);
    v = moat_connlimit_admit(srv->climit, family, ip);
    if (v == MOAT_CONNLIMIT_OK)
        return MHD_YES;
    moat_metrics_conn_rejected(srv->metrics, v == MOAT_CONNLIMIT_TOTAL ? "limit" : "per_ip_limit");
    if (moat_log_enabled(MOAT_LOG_DEBUG))
        moat_log(MOAT_LOG_DEBUG, "connection_rejected", "%s",
                 v == MOAT_CONNLIMIT_TOTAL ? "server.max_connections reached"
                                           : "server.max_connections_per_ip reached");
    return MHD_NO;
}

/* The epoll fd of the daemon serving conn, or -1. Each worker runs a daemon
 * of its own (no libmicrohttpd thread pool), so this is the epoll set that
 * holds conn's socket (srv_tls_rearm). */
static int srv_daemon_epoll_fd(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);
    const union MHD_DaemonInfo *di =
        ci != NULL ? MHD_get_daemon_info(ci->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;

    return di != NULL ? di->epoll_fd : -1;
}

void srv_notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe)
{
    struct moat_server *srv = cls;
    struct conn_ctx *cc = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        cc = calloc(1, sizeof(*cc));
        *socket_context = cc;
        atomic_fetch_add(&srv->n_conns, 1);
        moat_metrics_conn_open(srv->metrics, MOAT_METRICS_HTTPS);
        if (cc == NULL)
            return;
        cc->metrics = srv->metrics;
        cc->conn = conn;
        cc->mhd_epfd = srv_daemon_epoll_fd(conn);
        moat_tlspush_init(&cc->push, -1);
        srv_tls_watch(srv, conn, cc);
        moat_conntrack_add(&srv->conns, &cc->ct, conn,
                           moat_now_ms() + srv->cfg->limits.header_timeout_ms);
        if (moat_connlimit_add(srv->climit, cc->ct.family, cc->ct.addr) != 0)
            moat_log(MOAT_LOG_WARN, "connlimit_degraded", "out of memory counting a client");
        return;
    }
    /* The TLS session is gone by now (libmicrohttpd frees it before this
     * notification): only what the hook recorded is used. Counted before the
     * connection gauge drops, so a scrape that sees it closed sees the count. */
    if (cc != NULL && !cc->tls_counted)
        moat_metrics_tls_handshake(srv->metrics, NULL, 0);
    atomic_fetch_sub(&srv->n_conns, 1);
    moat_metrics_conn_close(srv->metrics, MOAT_METRICS_HTTPS);
    if (cc == NULL)
        return;
    moat_conntrack_remove(&srv->conns, &cc->ct);
    moat_connlimit_remove(srv->climit, cc->ct.family, cc->ct.addr);
    free(cc->client_dn);
    moat_tlspush_free(&cc->push);
    free(cc);
    *socket_context = NULL;
}
