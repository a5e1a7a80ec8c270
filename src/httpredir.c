/* httpredir.c - the plain-HTTP listener: a libmicrohttpd daemon with its own
 * epoll thread answering every request with a redirect to HTTPS, a rejection,
 * a local health answer or (exempted paths) the app's answer through the
 * forwarder (httpredir_fwd.c). The decision is moat_redirect_decide()'s. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpredir_int.h"
#include "moat/connlimit.h"
#include "moat/conntrack.h"
#include "moat/log.h"
#include "moat/reqcheck.h"
#include "moat/server.h"

#define HR_LOC_SLACK 512 /* Location room beyond twice the longest target */

/* One client connection (MHD socket context). */
struct hr_conn {
    struct moat_ct_conn ct; /* client key, socket and head deadline (h->conns) */
};

enum hr_state {
    HR_NEW = 0, /* head received, not yet answered */
    HR_WAIT,    /* relayed to the app: the connection is suspended */
    HR_DONE,    /* an answer was queued */
};

/* One request (MHD request context, created by the URI log callback). */
struct hr_req {
    char *target;                     /* raw request target (owned) */
    uint64_t start_ms;                /* request line received */
    enum hr_state state;              /* where the request is */
    int status;                       /* status queued, 0 = none */
    const char *reason;               /* decision / rejection label, or NULL */
    uint64_t bytes_out;               /* body bytes queued */
    char method[32];                  /* method (truncated), for metrics and the log */
    char client_ip[INET6_ADDRSTRLEN]; /* textual client address */
    char request_id[33];              /* id sent to the app on a relay */
    char *host;                       /* relay: copy of the Host value (owned) */
    struct hr_fwd_job job;            /* relay state (job.buf owned) */
    char *loc;                        /* decide()'s buffer (owned) */
};

struct moat_httpredir {
    struct moat_httpredir_deps deps;     /* borrowed pointers */
    const struct moat_config *cfg;       /* = deps.cfg */
    int fd;                              /* bound socket until the daemon takes it */
    struct MHD_Daemon *daemon;           /* running daemon, or NULL */
    struct moat_connlimit *climit;       /* admission (owned) */
    struct moat_reqcheck_limits lim;     /* request validation limits */
    struct moat_hdr *hdrs;               /* header scratch (daemon thread only; owned) */
    size_t loc_cap;                      /* bytes of a request's loc buffer */
    pthread_rwlock_t pol_lock;           /* guards pol (readers: the daemon thread) */
    struct moat_httpredir_policy *pol;   /* current policy (owned) */
    struct moat_httpredir_policy *spare; /* scratch for set_names (owned) */
    int have_policy;                     /* set_names succeeded once */
    struct moat_conntrack conns;         /* open connections and their head deadlines */
    struct hr_fwd fwd;                   /* the forwarder */
    int fwd_ready;                       /* fwd initialised */
    int quiesced;                        /* no longer accepting */
};

static void hr_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void hr_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    moat_log_vdebug_line("mhd_http", fmt, ap);
}

/* ------------------------------------------------------- answers */

/* Short fixed bodies: nothing from the request is ever echoed. */
static const char *hr_body(int status)
{
    switch (status) {
    case 200:
        return "ok\n";
    case 400:
        return "Bad Request\n";
    case 403:
        return "Forbidden: the emergency shutdown is served over HTTPS only\n";
    case 405:
        return "Method Not Allowed\n";
    case 413:
        return "Content Too Large\n";
    case 414:
        return "URI Too Long\n";
    case 417:
        return "Expectation Failed\n";
    case 421:
        return "Misdirected Request\n";
    case 431:
        return "Request Header Fields Too Large\n";
    case 501:
        return "Not Implemented\n";
    case 502:
        return "Bad Gateway\n";
    case 503:
        return "Service Unavailable\n";
    case 504:
        return "Gateway Timeout\n";
    case 505:
        return "HTTP Version Not Supported\n";
    default:
        break;
    }
    return status >= 300 && status < 400 ? "" : "Error\n";
}

/* Queues an answer: status, body (copied), the fixed headers, Connection: close.
 * location and allow may be NULL. */
static enum MHD_Result hr_queue(struct MHD_Connection *conn, struct hr_req *rq, int status,
                                const char *body, size_t len, const char *type,
                                const char *location, const char *allow)
{
    struct MHD_Response *r;
    enum MHD_Result ret = MHD_NO;

    r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        goto out;
    if (type != NULL)
        MHD_add_response_header(r, "Content-Type", type);
    if (location != NULL && MHD_add_response_header(r, "Location", location) != MHD_YES) {
        MHD_destroy_response(r);
        goto out;
    }
    if (allow != NULL)
        MHD_add_response_header(r, "Allow", allow);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Connection", "close");
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    rq->status = status;
    rq->bytes_out = strcmp(rq->method, "HEAD") == 0 ? 0 : len;
out:
    rq->state = HR_DONE;
    return ret;
}

/* Queues one of moat's fixed text answers. */
static enum MHD_Result hr_text(struct MHD_Connection *conn, struct hr_req *rq, int status,
                               const char *allow)
{
    const char *body = hr_body(status);

    return hr_queue(conn, rq, status, body, strlen(body), "text/plain; charset=utf-8", NULL, allow);
}

/* Queues the relay's outcome (the app's answer, or moat's error). */
static enum MHD_Result hr_relay_answer(struct MHD_Connection *conn, struct hr_req *rq)
{
    struct hr_fwd_job *j = &rq->job;
    struct MHD_Response *r;
    enum MHD_Result ret = MHD_NO;

    if (j->error != NULL && j->body == NULL) {
        rq->reason = j->error;
        return hr_text(conn, rq, j->status, NULL);
    }
    r = MHD_create_response_from_buffer(j->body_len, (void *)(uintptr_t)(j->body ? j->body : ""),
                                        MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        goto out;
    if (j->content_type[0] != '\0')
        MHD_add_response_header(r, "Content-Type", j->content_type);
    if (j->cache_control[0] != '\0')
        MHD_add_response_header(r, "Cache-Control", j->cache_control);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Connection", "close");
    ret = MHD_queue_response(conn, (unsigned)j->status, r);
    MHD_destroy_response(r);
    rq->status = j->status;
    rq->bytes_out = rq->job.head_request ? 0 : j->body_len;
out:
    rq->state = HR_DONE;
    return ret;
}

/* ------------------------------------------------------- requests */

/* 32 hex digits for X-Request-Id on a relay. */
static void hr_request_id(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];
    size_t i;

    randombytes_buf(raw, sizeof(raw));
    for (i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = '\0';
}

/* Relays the request to the app: suspends the connection until the forwarder is done. */
static enum MHD_Result hr_relay(struct moat_httpredir *h, struct MHD_Connection *conn,
                                struct hr_req *rq, const struct moat_reqcheck_result *res,
                                const struct moat_redirect_result *dec, const char *method)
{
    struct hr_fwd_job *j = &rq->job;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        rq->reason = "exempt_method";
        return hr_text(conn, rq, 405, "GET, HEAD");
    }
    if (res->body != MOAT_BODY_NONE) {
        rq->reason = "exempt_body";
        return hr_text(conn, rq, 413, NULL);
    }
    if (atomic_load(&h->fwd.lockdown)) {
        rq->reason = "lockdown";
        moat_metrics_request_rejected(h->deps.metrics, rq->reason);
        return hr_text(conn, rq, 503, NULL);
    }
    rq->host = malloc(res->host_len + 1);
    if (rq->host == NULL)
        return hr_text(conn, rq, 503, NULL);
    memcpy(rq->host, res->host, res->host_len);
    rq->host[res->host_len] = '\0';
    hr_request_id(rq->request_id);
    memset(j, 0, sizeof(*j));
    j->conn = conn;
    j->head_request = strcmp(method, "HEAD") == 0;
    j->method = j->head_request ? "HEAD" : "GET";
    j->path = dec->path; /* in rq->loc, NUL-terminated by decide() */
    j->host = rq->host;
    j->host_len = res->host_len;
    j->client_ip = rq->client_ip;
    j->request_id = rq->request_id;
    j->upstream_s = -1.0;
    rq->state = HR_WAIT;
    MHD_suspend_connection(conn);
    if (hr_fwd_submit(&h->fwd, j) != 0) {
        j->status = 503;
        j->error = "limit";
        MHD_resume_connection(conn);
    }
    return MHD_YES;
}

/* First call for a request: validate, decide, answer (or start the relay). */
/* True when the normalised path?query (len bytes) names shutdown.https_path. */
static int hr_is_shutdown_path(const struct moat_config *cfg, const char *path, size_t len)
{
    const char *sp = cfg->shutdown.https_path;
    const char *q = path != NULL ? memchr(path, '?', len) : NULL;
    size_t n = q != NULL ? (size_t)(q - path) : len;

    return sp[0] != '\0' && path != NULL && n == strlen(sp) && memcmp(path, sp, n) == 0;
}

static enum MHD_Result hr_begin(struct moat_httpredir *h, struct MHD_Connection *conn,
                                struct hr_req *rq, const char *method, const char *version)
{
    struct moat_reqcheck_result res;
    struct moat_redirect_result dec;
    struct moat_req_view view;
    size_t cap = (size_t)h->cfg->limits.max_headers + 1, n_seen;
    unsigned char addr[16];
    int rc;

    moat_conntrack_client(conn, addr, rq->client_ip, sizeof(rq->client_ip));
    n_seen = moat_conntrack_headers(conn, h->hdrs, cap);
    memset(&view, 0, sizeof(view));
    view.method = method;
    view.version = version;
    view.target = rq->target;
    view.hdrs = h->hdrs;
    view.n_hdrs = n_seen < cap ? n_seen : cap;
    if (n_seen > h->cfg->limits.max_headers) {
        res.status = 431;
        res.reason = "too_many_headers";
    } else {
        moat_reqcheck_run(&h->lim, &view, &res);
    }
    /* A probe may come without Host (HTTP/1.0): decide() answers health paths
     * without one and refuses everything else (missing_host). Nothing is read
     * or relayed after a local answer, so the checks reqcheck skipped after
     * Host do not matter there. */
    if (res.status == 400 && strcmp(res.reason, "missing_host") == 0) {
        res.host = NULL;
        res.host_len = 0;
        res.body = MOAT_BODY_NONE;
    } else if (res.status != 0) {
        rq->reason = res.reason;
        moat_metrics_request_rejected(h->deps.metrics, res.reason);
        return hr_text(conn, rq, res.status, NULL);
    }
    pthread_rwlock_rdlock(&h->pol_lock);
    rc = moat_redirect_decide(&h->pol->pol, method, rq->target, res.host, res.host_len, &dec,
                              rq->loc, h->loc_cap);
    pthread_rwlock_unlock(&h->pol_lock);
    if (rc != 0) {
        rq->reason = "internal";
        return hr_text(conn, rq, 500, NULL);
    }
    rq->reason = dec.reason;
    switch (dec.action) {
    case MOAT_REDIRECT_REDIRECT:
        if (hr_is_shutdown_path(h->cfg, dec.path, dec.path_len)) {
            /* Never redirect it: a client that follows would send the token
             * again, and the operator would not learn it went out in clear. */
            moat_log(MOAT_LOG_WARN, "shutdown_over_plain_http",
                     "a request for the emergency shutdown path came over plain HTTP from %s: "
                     "any token it carried crossed the network unencrypted; refused",
                     rq->client_ip);
            rq->reason = "shutdown_over_http";
            moat_metrics_request_rejected(h->deps.metrics, rq->reason);
            return hr_text(conn, rq, 403, NULL);
        }
        moat_metrics_redirect(h->deps.metrics, dec.status);
        return hr_queue(conn, rq, dec.status, "", 0, NULL, dec.location, NULL);
    case MOAT_REDIRECT_REJECT:
        moat_metrics_request_rejected(h->deps.metrics, dec.reason);
        return hr_text(conn, rq, dec.status, NULL);
    case MOAT_REDIRECT_HEALTH:
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return hr_text(conn, rq, 405, "GET, HEAD");
        return hr_text(conn, rq, 200, NULL);
    case MOAT_REDIRECT_PROXY:
        break;
    }
    return hr_relay(h, conn, rq, &res, &dec, method);
}

static struct hr_conn *hr_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

static enum MHD_Result hr_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    struct moat_httpredir *h = cls;
    struct hr_req *rq = *req_cls;
    struct hr_conn *hc;

    (void)url;
    (void)upload_data;
    if (rq == NULL)
        return MHD_NO;
    switch (rq->state) {
    case HR_NEW:
        hc = hr_conn_of(conn);
        if (hc != NULL) {
            moat_conntrack_set_deadline(&h->conns, &hc->ct, 0);
        }
        snprintf(rq->method, sizeof(rq->method), "%s", method);
        return hr_begin(h, conn, rq, method, version);
    case HR_WAIT:
        return hr_relay_answer(conn, rq);
    case HR_DONE:
        break;
    }
    *upload_data_size = 0; /* a body after the answer is not read */
    return MHD_YES;
}

static void hr_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct moat_httpredir *h = cls;
    struct hr_req *rq = *req_cls;
    struct moat_logline l;
    char path[512];
    double duration;

    (void)conn;
    if (rq == NULL)
        return;
    duration = (double)(moat_now_ms() - rq->start_ms) / 1000.0;
    if (rq->status != 0)
        moat_metrics_request(h->deps.metrics, MOAT_METRICS_HTTP, rq->method, rq->status, duration,
                             0, rq->bytes_out);
    if (h->cfg->log.access && rq->method[0] != '\0') {
        moat_log_target(rq->target, h->cfg->log.log_query, path, sizeof(path));
        moat_logline_begin(&l, MOAT_LOG_INFO, "access");
        moat_logline_str(&l, "listener", "http");
        moat_logline_str(&l, "client", rq->client_ip[0] ? rq->client_ip : NULL);
        moat_logline_str(&l, "method", rq->method);
        moat_logline_str(&l, "path", path);
        moat_logline_int(&l, "status", rq->status);
        moat_logline_int(&l, "bytes_out", (long long)rq->bytes_out);
        moat_logline_double(&l, "duration", duration);
        if (rq->job.upstream_s > 0)
            moat_logline_double(&l, "upstream_duration", rq->job.upstream_s);
        moat_logline_str(&l, "request_id", rq->request_id[0] ? rq->request_id : NULL);
        if (rq->reason != NULL)
            moat_logline_str(&l, "reason", rq->reason);
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            moat_logline_bool(&l, "aborted", 1);
        moat_logline_end(&l);
    }
    free(rq->job.buf);
    free(rq->host);
    free(rq->loc);
    free(rq->target);
    free(rq);
    *req_cls = NULL;
}

static void *hr_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct moat_httpredir *h = cls;
    struct hr_req *rq = calloc(1, sizeof(*rq));

    (void)conn;
    if (rq == NULL)
        return NULL;
    rq->start_ms = moat_now_ms();
    rq->job.upstream_s = -1.0;
    rq->target = strdup(uri != NULL ? uri : "");
    rq->loc = malloc(h->loc_cap);
    if (rq->target == NULL || rq->loc == NULL) {
        free(rq->target);
        free(rq->loc);
        free(rq);
        return NULL;
    }
    return rq;
}

static enum MHD_Result hr_accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct moat_httpredir *h = cls;
    unsigned char ip[16];
    enum moat_connlimit_verdict v;
    int family;

    (void)addrlen;
    family = moat_connlimit_addr_of(addr, ip);
    v = moat_connlimit_admit(h->climit, family, ip);
    if (v == MOAT_CONNLIMIT_OK)
        return MHD_YES;
    moat_metrics_conn_rejected(h->deps.metrics,
                               v == MOAT_CONNLIMIT_TOTAL ? "limit" : "per_ip_limit");
    return MHD_NO;
}

static void hr_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe)
{
    struct moat_httpredir *h = cls;
    struct hr_conn *hc = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        moat_metrics_conn_open(h->deps.metrics, MOAT_METRICS_HTTP);
        hc = calloc(1, sizeof(*hc));
        *socket_context = hc;
        if (hc == NULL)
            return;
        moat_conntrack_add(&h->conns, &hc->ct, conn,
                           moat_now_ms() + h->cfg->limits.header_timeout_ms);
        if (moat_connlimit_add(h->climit, hc->ct.family, hc->ct.addr) != 0)
            moat_log(MOAT_LOG_WARN, "connlimit_degraded", "out of memory counting a client");
        return;
    }
    moat_metrics_conn_close(h->deps.metrics, MOAT_METRICS_HTTP);
    if (hc == NULL)
        return;
    moat_conntrack_remove(&h->conns, &hc->ct);
    moat_connlimit_remove(h->climit, hc->ct.family, hc->ct.addr);
    free(hc);
    *socket_context = NULL;
}

/* A connection cut for its late head (counted before its socket goes). */
static void hr_head_cut(void *arg)
{
    struct moat_httpredir *h = arg;

    moat_metrics_conn_rejected(h->deps.metrics, "head_timeout");
}

void moat_httpredir_tick(struct moat_httpredir *h)
{
    if (h != NULL)
        (void)moat_conntrack_sweep(&h->conns, moat_now_ms(), hr_head_cut, h);
}

/* ------------------------------------------------------- lifecycle */

struct moat_httpredir *moat_httpredir_new(const struct moat_httpredir_deps *deps, char *err,
                                          size_t errlen)
{
    const struct moat_config *cfg = deps->cfg;
    struct moat_httpredir *h;
    char why[512];

    if (errlen > 0)
        err[0] = '\0';
    if (cfg->http.listen.kind != MOAT_BIND_TCP)
        return NULL;
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        moat_set_err(err, errlen, "out of memory");
        return NULL;
    }
    h->deps = *deps;
    h->cfg = cfg;
    h->fd = -1;
    pthread_rwlock_init(&h->pol_lock, NULL);
    moat_conntrack_init(&h->conns);
    h->lim.max_headers = cfg->limits.max_headers;
    h->lim.max_header_bytes = cfg->limits.max_header_bytes;
    h->lim.max_uri_bytes = cfg->limits.max_uri_bytes;
    h->lim.max_body_bytes = cfg->limits.max_body_bytes;
    h->loc_cap = 2 * (size_t)cfg->limits.max_uri_bytes + HR_LOC_SLACK;
    h->pol = calloc(1, sizeof(*h->pol));
    h->spare = calloc(1, sizeof(*h->spare));
    h->hdrs = calloc((size_t)cfg->limits.max_headers + 1, sizeof(*h->hdrs));
    h->climit = moat_connlimit_new(cfg->http.max_connections, cfg->server.max_connections_per_ip);
    if (h->pol == NULL || h->spare == NULL || h->hdrs == NULL || h->climit == NULL) {
        moat_set_err(err, errlen, "out of memory");
        goto fail;
    }
    if (hr_fwd_init(&h->fwd, cfg, deps->up, deps->metrics) != 0) {
        moat_set_err(err, errlen, "cannot set up the plain-HTTP forwarder");
        goto fail;
    }
    h->fwd_ready = 1;
    h->fd = moat_server_listen_socket(&cfg->http.listen.tcp, why, sizeof(why));
    if (h->fd < 0) {
        moat_set_err(err, errlen, "http listener: %s", why);
        goto fail;
    }
    return h;
fail:
    moat_httpredir_free(h);
    return NULL;
}

int moat_httpredir_set_names(struct moat_httpredir *h, const char *const *cert_names,
                             size_t n_names, char *err, size_t errlen)
{
    int rc = -1;

    /* Validate into the spare first: the live policy changes only on success. */
    if (moat_httpredir_policy_build(h->cfg, cert_names, n_names, h->spare, err, errlen) != 0)
        goto out;
    pthread_rwlock_wrlock(&h->pol_lock);
    rc = moat_httpredir_policy_build(h->cfg, cert_names, n_names, h->pol, err, errlen);
    pthread_rwlock_unlock(&h->pol_lock);
    if (rc == 0)
        h->have_policy = 1;
out:
    return rc;
}

int moat_httpredir_start(struct moat_httpredir *h, char *err, size_t errlen)
{
    const struct moat_config *cfg = h->cfg;
    unsigned idle_s = (cfg->limits.header_timeout_ms + 999) / 1000;
    size_t mem = (size_t)cfg->limits.max_header_bytes + cfg->limits.max_uri_bytes + 4096;

    if (!h->have_policy) {
        moat_set_err(err, errlen, "http listener: no redirect policy");
        return -1;
    }
    if (hr_fwd_start(&h->fwd) != 0) {
        moat_set_err(err, errlen, "cannot start the plain-HTTP forwarder thread");
        return -1;
    }
    /* One request per connection, so the idle timeout only ever covers a
     * silent client before or inside its head; tick() bounds the whole head. */
    h->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
        hr_accept_policy, h, hr_access, h, MHD_OPTION_EXTERNAL_LOGGER, hr_mhd_log, h,
        MHD_OPTION_LISTEN_SOCKET, h->fd, MHD_OPTION_CONNECTION_LIMIT,
        cfg->http.max_connections + 16, MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_URI_LOG_CALLBACK, hr_uri_log, h,
        MHD_OPTION_NOTIFY_COMPLETED, hr_completed, h, MHD_OPTION_NOTIFY_CONNECTION, hr_notify, h,
        MHD_OPTION_END);
    if (h->daemon == NULL) {
        moat_set_err(err, errlen, "cannot start the plain-HTTP listener");
        return -1;
    }
    h->fd = -1; /* the daemon owns it now */
    return 0;
}

void moat_httpredir_set_lockdown(struct moat_httpredir *h, int on)
{
    if (h != NULL)
        atomic_store(&h->fwd.lockdown, on != 0);
}

void moat_httpredir_quiesce(struct moat_httpredir *h)
{
    MHD_socket fd;

    if (h == NULL || h->daemon == NULL || h->quiesced)
        return;
    fd = MHD_quiesce_daemon(h->daemon);
    h->quiesced = 1;
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void moat_httpredir_address(const struct moat_httpredir *h, char *out, size_t cap)
{
    if (moat_config_format_bind(&h->cfg->http.listen, out, cap) != 0 && cap > 0)
        out[0] = '\0';
}

void moat_httpredir_free(struct moat_httpredir *h)
{
    if (h == NULL)
        return;
    /* Every suspended connection is resumed (answered 503) before the daemon stops. */
    if (h->fwd_ready)
        hr_fwd_stop(&h->fwd);
    if (h->daemon != NULL)
        MHD_stop_daemon(h->daemon);
    if (h->fwd_ready)
        hr_fwd_destroy(&h->fwd); /* no request can reach the forwarder any more */
    if (h->fd >= 0)
        close(h->fd);
    moat_connlimit_free(h->climit);
    free(h->hdrs);
    free(h->pol);
    free(h->spare);
    moat_conntrack_destroy(&h->conns);
    pthread_rwlock_destroy(&h->pol_lock);
    free(h);
}
