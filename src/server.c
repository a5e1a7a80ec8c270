/* server.c - HTTPS listener on libmicrohttpd: validation, proxying, errors,
 * request-head deadlines and the access log. */
#include "moat/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "moat/fwd.h"
#include "moat/log.h"
#include "moat/reqcheck.h"
#include "moat/upstream.h"

/* One client connection (MHD socket context). */
struct conn_ctx {
    struct conn_ctx *prev, *next;     /* server's connection list */
    int fd;                           /* the client socket (owned by MHD) */
    struct sockaddr_storage peer;     /* peer address, to re-check before shutdown */
    socklen_t peer_len;               /* bytes in peer */
    uint64_t head_deadline_ms;        /* request head must be complete by then, 0 = none */
};

enum req_state {
    REQ_NEW = 0,   /* head received, not yet validated */
    REQ_BODY,      /* receiving the client's body */
    REQ_WAIT,      /* waiting for the upstream's response head */
    REQ_DONE,      /* a response was queued */
};

/* One request (MHD request context, created by the URI log callback). */
struct req_ctx {
    struct moat_server *srv;          /* borrowed */
    char *target;                     /* raw request target (owned) */
    uint64_t start_ms;                /* request line received */
    enum req_state state;             /* where the request is */
    struct moat_exchange *ex;         /* proxy exchange (one reference), or NULL */
    int status;                       /* status queued to the client, 0 = none */
    const char *reason;               /* rejection / failure label, or NULL */
    uint64_t body_seen;               /* body bytes received */
    char request_id[MOAT_REQUEST_ID_MAX + 1]; /* id sent upstream and logged */
    char client_ip[INET6_ADDRSTRLEN]; /* textual client address */
    char method[32];                  /* request method (truncated) */
};

struct moat_server {
    const struct moat_config *cfg;    /* borrowed */
    struct moat_proxy *px;            /* borrowed */
    struct moat_tlsstore *tls;        /* borrowed */
    struct moat_reqcheck_limits lim;  /* from cfg */
    int listen_fd;                    /* bound listening socket (owned) */
    struct MHD_Daemon *daemon;        /* running daemon, or NULL */
    atomic_int draining;              /* quiesced: answer with Connection: close */
    atomic_uint n_conns;              /* open client connections */
    atomic_uint n_reqs;               /* requests in progress */
    pthread_mutex_t conn_lock;        /* guards the connection list */
    struct conn_ctx *conns;           /* open connections */
    unsigned char rid_key[crypto_stream_chacha20_KEYBYTES]; /* request-id key (random) */
    atomic_uint_fast64_t rid_counter; /* request ids issued */
};

/* 16 unpredictable bytes for a request id without a getrandom(2) per request:
 * ChaCha20 keystream under a random per-process key, one block per counter. */
static void srv_request_id(struct moat_server *srv, unsigned char out[16])
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
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    rc->status = status;
out:
    rc->state = REQ_DONE;
    return ret;
}

/* ------------------------------------------------------- header collection */

struct hdr_collect {
    struct moat_hdr *hdrs; /* array of cap entries (owned by the caller) */
    size_t cap;            /* capacity */
    size_t n;              /* fields seen (may exceed cap: then only counted) */
};

static enum MHD_Result collect_hdr(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct hdr_collect *hc = cls;

    (void)kind;
    if (hc->n < hc->cap) {
        hc->hdrs[hc->n].name = key;
        hc->hdrs[hc->n].name_len = key_size;
        hc->hdrs[hc->n].value = value != NULL ? value : "";
        hc->hdrs[hc->n].value_len = value != NULL ? value_size : 0;
    }
    hc->n++;
    return MHD_YES;
}

/* Fills family/addr bytes/text of the client address. */
static void client_addr(struct MHD_Connection *conn, int *family, unsigned char *addr,
                        char *text, size_t textlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

    *family = AF_UNIX;
    snprintf(text, textlen, "unknown");
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)sa;
        *family = AF_INET;
        memcpy(addr, &in4->sin_addr, 4);
        inet_ntop(AF_INET, &in4->sin_addr, text, (socklen_t)textlen);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        *family = AF_INET6;
        memcpy(addr, &in6->sin6_addr, 16);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)textlen);
    }
}

/* ------------------------------------------------------- request handling */

/* First call for a request: validate, frame the upstream head, start the exchange. */
static enum MHD_Result srv_begin(struct moat_server *srv, struct MHD_Connection *conn,
                                 struct req_ctx *rc, const char *method, const char *version)
{
    const struct moat_config *cfg = srv->cfg;
    struct moat_reqcheck_result res;
    struct moat_req_view view;
    struct hdr_collect hc;
    struct moat_fwd_input in;
    unsigned char addr[16] = {0};
    unsigned char rnd[16];
    char generated[33];
    char *head = NULL;
    size_t head_cap;
    long head_len;
    int family;
    enum MHD_Result ret = MHD_NO;

    memset(&hc, 0, sizeof(hc));
    hc.cap = cfg->limits.max_headers + 1;
    hc.hdrs = calloc(hc.cap, sizeof(*hc.hdrs));
    if (hc.hdrs == NULL) {
        ret = srv_queue_error(srv, conn, rc, 503, 1);
        goto out;
    }
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, collect_hdr, &hc);
    memset(&view, 0, sizeof(view));
    view.method = method;
    view.version = version;
    view.target = rc->target;
    view.hdrs = hc.hdrs;
    view.n_hdrs = hc.n < hc.cap ? hc.n : hc.cap;
    if (hc.n > cfg->limits.max_headers) {
        res.status = 431;
        res.reason = "too_many_headers";
    } else {
        moat_reqcheck_run(&srv->lim, &view, &res);
    }
    if (res.status != 0) {
        rc->reason = res.reason;
        ret = srv_queue_error(srv, conn, rc, res.status, 1);
        goto out;
    }

    client_addr(conn, &family, addr, rc->client_ip, sizeof(rc->client_ip));
    srv_request_id(srv, rnd);
    sodium_bin2hex(generated, sizeof(generated), rnd, sizeof(rnd));
    memset(&in, 0, sizeof(in));
    in.client_trusted = family != AF_UNIX &&
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
    in.client_addr = family == AF_UNIX ? NULL : addr;
    in.client_ip = rc->client_ip;
    in.proto = "https";
    in.request_id = rc->request_id;
    in.request_id_header = cfg->proxy.request_id_header;

    rc->ex = moat_exchange_new(srv->px, conn);
    if (rc->ex == NULL) {
        ret = srv_queue_error(srv, conn, rc, 503, 1);
        goto out;
    }
    head = moat_exchange_head_buffer(rc->ex, &head_cap);
    head_len = moat_fwd_build_head(&in, head, head_cap);
    if (head_len < 0) {
        rc->reason = "headers_too_large";
        ret = srv_queue_error(srv, conn, rc, 431, 1);
        goto out;
    }
    moat_exchange_start(rc->ex, (size_t)head_len, res.body, strcmp(method, "HEAD") == 0);
    rc->state = res.body == MOAT_BODY_NONE ? REQ_WAIT : REQ_BODY;
    ret = MHD_YES;
out:
    free(hc.hdrs);
    return ret;
}

/* Response head available (or failure): queue the answer. */
static enum MHD_Result srv_respond(struct moat_server *srv, struct MHD_Connection *conn,
                                   struct req_ctx *rc)
{
    struct MHD_Response *r;
    const char *reason = NULL;
    enum MHD_Result ret;
    int status = 502;

    switch (moat_exchange_poll(rc->ex, &status, &reason)) {
    case MOAT_EXCHANGE_WAIT:
        return MHD_YES;
    case MOAT_EXCHANGE_FAILED:
        rc->reason = reason;
        return srv_queue_error(srv, conn, rc, status, 0);
    case MOAT_EXCHANGE_READY:
        break;
    }
    r = moat_exchange_response(rc->ex, &status);
    if (r == NULL) {
        rc->reason = "bad_response_head";
        return srv_queue_error(srv, conn, rc, 502, 0);
    }
    if (MHD_get_response_header(r, srv->cfg->proxy.request_id_header) == NULL)
        MHD_add_response_header(r, srv->cfg->proxy.request_id_header, rc->request_id);
    if (atomic_load(&srv->draining))
        MHD_add_response_header(r, "Connection", "close");
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    rc->status = status;
    rc->state = REQ_DONE;
    return ret;
}

static enum MHD_Result srv_access(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct moat_server *srv = cls;
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
            pthread_mutex_lock(&srv->conn_lock);
            cc->head_deadline_ms = 0; /* the head is complete */
            pthread_mutex_unlock(&srv->conn_lock);
        }
        atomic_fetch_add(&srv->n_reqs, 1);
        snprintf(rc->method, sizeof(rc->method), "%s", method);
        return srv_begin(srv, conn, rc, method, version);
    case REQ_BODY:
        if (*upload_data_size > 0) {
            rc->body_seen += *upload_data_size;
            if (limit != 0 && rc->body_seen > limit) {
                /* Only a chunked body can get here (Content-Length was checked):
                 * the head is gone already, so the connection is cut. */
                rc->reason = "body_too_large";
                rc->status = 413;
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

/* Builds the path for the access log: without the query unless log.query. */
static void log_path(const struct moat_config *cfg, const char *target, char *out, size_t cap)
{
    size_t n = strlen(target);
    const char *q = strchr(target, '?');

    if (!cfg->log.log_query && q != NULL)
        n = (size_t)(q - target);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, target, n);
    out[n] = '\0';
}

static void srv_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
    struct moat_server *srv = cls;
    struct req_ctx *rc = *req_cls;
    struct moat_exchange_stats st;
    struct moat_logline l;
    const union MHD_ConnectionInfo *ci;
    struct conn_ctx *cc;
    char path[512];

    if (rc == NULL)
        return;
    memset(&st, 0, sizeof(st));
    st.upstream_seconds = -1.0;
    if (rc->ex != NULL)
        moat_exchange_stats_get(rc->ex, &st);
    if (rc->state != REQ_NEW)
        atomic_fetch_sub(&srv->n_reqs, 1);
    if (srv->cfg->log.access && rc->state != REQ_NEW) {
        log_path(srv->cfg, rc->target, path, sizeof(path));
        moat_logline_begin(&l, MOAT_LOG_INFO, "access");
        moat_logline_str(&l, "listener", "https");
        moat_logline_str(&l, "client", rc->client_ip[0] ? rc->client_ip : NULL);
        moat_logline_str(&l, "method", rc->method);
        moat_logline_str(&l, "path", path);
        moat_logline_int(&l, "status", rc->status);
        moat_logline_int(&l, "bytes_in", (long long)st.bytes_up);
        moat_logline_int(&l, "bytes_out", (long long)st.bytes_down);
        moat_logline_double(&l, "duration", (double)(moat_now_ms() - rc->start_ms) / 1000.0);
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
    if (cc != NULL) {
        pthread_mutex_lock(&srv->conn_lock);
        /* Idle allowance, then the next head must arrive within header_timeout. */
        cc->head_deadline_ms = moat_now_ms() + srv->cfg->limits.client_idle_timeout_ms +
                               srv->cfg->limits.header_timeout_ms;
        pthread_mutex_unlock(&srv->conn_lock);
    }
    free(rc->target);
    free(rc);
    *req_cls = NULL;
}

static void *srv_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
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
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    cc = ci != NULL ? ci->socket_context : NULL;
    if (cc != NULL) {
        pthread_mutex_lock(&srv->conn_lock);
        if (cc->head_deadline_ms == 0 ||
            cc->head_deadline_ms > now + srv->cfg->limits.header_timeout_ms)
            cc->head_deadline_ms = now + srv->cfg->limits.header_timeout_ms;
        pthread_mutex_unlock(&srv->conn_lock);
    }
    return rc;
}

static void srv_notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                            enum MHD_ConnectionNotificationCode toe)
{
    struct moat_server *srv = cls;
    struct conn_ctx *cc = *socket_context;
    const union MHD_ConnectionInfo *ci;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        cc = calloc(1, sizeof(*cc));
        *socket_context = cc;
        atomic_fetch_add(&srv->n_conns, 1);
        if (cc == NULL)
            return;
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        cc->fd = ci != NULL ? ci->connect_fd : -1;
        cc->peer_len = sizeof(cc->peer);
        if (cc->fd < 0 || getpeername(cc->fd, (struct sockaddr *)&cc->peer, &cc->peer_len) != 0)
            cc->peer_len = 0;
        cc->head_deadline_ms = moat_now_ms() + srv->cfg->limits.header_timeout_ms;
        pthread_mutex_lock(&srv->conn_lock);
        cc->next = srv->conns;
        if (srv->conns != NULL)
            srv->conns->prev = cc;
        srv->conns = cc;
        pthread_mutex_unlock(&srv->conn_lock);
        return;
    }
    atomic_fetch_sub(&srv->n_conns, 1);
    if (cc == NULL)
        return;
    pthread_mutex_lock(&srv->conn_lock);
    if (cc->prev != NULL)
        cc->prev->next = cc->next;
    else
        srv->conns = cc->next;
    if (cc->next != NULL)
        cc->next->prev = cc->prev;
    pthread_mutex_unlock(&srv->conn_lock);
    free(cc);
    *socket_context = NULL;
}

void moat_server_tick(struct moat_server *srv)
{
    struct conn_ctx *cc;
    struct sockaddr_storage now_peer;
    socklen_t len;
    uint64_t now = moat_now_ms();

    pthread_mutex_lock(&srv->conn_lock);
    for (cc = srv->conns; cc != NULL; cc = cc->next) {
        if (cc->head_deadline_ms == 0 || now < cc->head_deadline_ms || cc->fd < 0)
            continue;
        cc->head_deadline_ms = 0;
        /* MHD closes the socket only after the CLOSED notification, which
         * needs conn_lock: the fd is still this connection's. Check the peer
         * anyway before cutting it. */
        len = sizeof(now_peer);
        if (cc->peer_len == 0 || getpeername(cc->fd, (struct sockaddr *)&now_peer, &len) != 0 ||
            len != cc->peer_len || memcmp(&now_peer, &cc->peer, len) != 0)
            continue;
        shutdown(cc->fd, SHUT_RDWR);
        moat_log(MOAT_LOG_INFO, "request_head_timeout",
                 "closed a connection that did not send a complete request head in time");
    }
    pthread_mutex_unlock(&srv->conn_lock);
}

static void srv_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    moat_log(MOAT_LOG_DEBUG, "mhd", "%s", msg);
}

/* ------------------------------------------------------- lifecycle */

static int srv_bind(const struct moat_listen_addr *la, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = -1, one = 1;

    memset(&ss, 0, sizeof(ss));
    if (la->family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(la->port);
        inet_pton(AF_INET6, la->host, &s6->sin6_addr);
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(la->port);
        inet_pton(AF_INET, la->host, &s4->sin_addr);
        len = sizeof(*s4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        snprintf(err, errlen, "cannot bind %s%s%s:%u: %s", la->family == AF_INET6 ? "[" : "",
                 la->host, la->family == AF_INET6 ? "]" : "", (unsigned)la->port,
                 strerror(errno));
        goto fail;
    }
    if (listen(fd, 1024) != 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        goto fail;
    }
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

struct moat_server *moat_server_new(const struct moat_config *cfg, struct moat_proxy *px,
                                    struct moat_tlsstore *tls, char *err, size_t errlen)
{
    struct moat_server *srv = calloc(1, sizeof(*srv));

    if (srv == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->cfg = cfg;
    srv->px = px;
    srv->tls = tls;
    srv->lim.max_headers = cfg->limits.max_headers;
    srv->lim.max_header_bytes = cfg->limits.max_header_bytes;
    srv->lim.max_uri_bytes = cfg->limits.max_uri_bytes;
    srv->lim.max_body_bytes = cfg->limits.max_body_bytes;
    pthread_mutex_init(&srv->conn_lock, NULL);
    randombytes_buf(srv->rid_key, sizeof(srv->rid_key));
    srv->listen_fd = srv_bind(&cfg->server.listen, err, errlen);
    if (srv->listen_fd < 0) {
        pthread_mutex_destroy(&srv->conn_lock);
        free(srv);
        return NULL;
    }
    return srv;
}

int moat_server_start(struct moat_server *srv, char *err, size_t errlen)
{
    const struct moat_config *cfg = srv->cfg;
    unsigned workers = cfg->server.workers;
    unsigned idle_s = (cfg->limits.client_idle_timeout_ms + 999) / 1000;
    size_t mem = (size_t)cfg->limits.max_header_bytes + cfg->limits.max_uri_bytes + 16384;
    long ncpu;

    if (workers == 0) {
        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        workers = ncpu > 0 ? (unsigned)ncpu : 1;
    }
    if (mem < 32768)
        mem = 32768;
    moat_tlsstore_install(srv->tls);
    srv->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TLS |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, srv_access, srv, MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, workers, MHD_OPTION_CONNECTION_LIMIT,
        cfg->server.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->server.max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_URI_LOG_CALLBACK, srv_uri_log, srv,
        MHD_OPTION_NOTIFY_COMPLETED, srv_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
        srv_notify_conn, srv, MHD_OPTION_EXTERNAL_LOGGER, srv_mhd_log, srv,
        MHD_OPTION_HTTPS_PRIORITIES, cfg->tls.priority, MHD_OPTION_HTTPS_CERT_CALLBACK,
        moat_tlsstore_retrieve, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        snprintf(err, errlen,
                 "cannot start the HTTPS listener (check tls.priority and the listen address)");
        return -1;
    }
    return 0;
}

void moat_server_quiesce(struct moat_server *srv)
{
    atomic_store(&srv->draining, 1);
    if (srv->daemon != NULL)
        MHD_quiesce_daemon(srv->daemon);
}

unsigned moat_server_connections(struct moat_server *srv)
{
    return atomic_load(&srv->n_conns);
}

unsigned moat_server_requests(struct moat_server *srv)
{
    return atomic_load(&srv->n_reqs);
}

void moat_server_stop(struct moat_server *srv)
{
    if (srv->daemon != NULL) {
        MHD_stop_daemon(srv->daemon);
        srv->daemon = NULL;
    }
    moat_tlsstore_install(NULL);
}

void moat_server_free(struct moat_server *srv)
{
    if (srv == NULL)
        return;
    moat_server_stop(srv);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    pthread_mutex_destroy(&srv->conn_lock);
    sodium_memzero(srv->rid_key, sizeof(srv->rid_key));
    free(srv);
}
