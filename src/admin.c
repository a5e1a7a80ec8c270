/* admin.c - the admin listener: a libmicrohttpd daemon with its own thread on
 * a TCP or Unix socket, plain or TLS, answering /metrics, /healthz, /readyz
 * and POST /emergency-shutdown (routing in admin_policy.c, the upstream check
 * in admin_ready.c). Bounded so that nobody can hold it: ADM_MAX_CONNS
 * connections, ADM_MAX_PER_IP per address, each request whole within
 * limits.header_timeout (moat_admin_tick). */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "admin_int.h"
#include "moat/connlimit.h"
#include "moat/conntrack.h"
#include "moat/log.h"
#include "moat/procstat.h"
#include "moat/shutdown.h"
#include "moat/tlsconf.h"
#include "moat/tlsstore.h"
#include "moat/upstream.h"

#ifndef MOAT_VERSION
#define MOAT_VERSION "unknown"
#endif

#define ADM_MAX_CONNS 64  /* admin connections open at once */
#define ADM_MAX_PER_IP 16 /* of which from one address (IPv6: one address, not a /64) */
#define ADM_IDLE_S 30     /* idle admin connections are closed after this */
#define ADM_MEMORY 16384  /* per-connection memory (request head limit) */
#define ADM_WHY 320       /* room for a /readyz reason */
#define ADM_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct moat_admin {
    struct moat_admin_deps deps; /* borrowed pointers */
    int fd;                      /* the bound listening socket (owned until the daemon takes it) */
    int unix_bound;              /* fd is a Unix socket whose file we created */
    dev_t sock_dev;              /* that file's device, to remove only our own file */
    ino_t sock_ino;              /* and its inode */
    struct MHD_Daemon *daemon;   /* running daemon, or NULL */
    struct adm_probe probe;      /* the upstream check */
    int probe_ready;             /* probe initialised (needs destroying) */
    atomic_int lockdown;         /* /readyz answers 503 "lockdown" */
    char tls_library[64];        /* "GnuTLS 3.7.9", for moat_build_info */
    struct moat_connlimit *climit; /* admission: ADM_MAX_CONNS, ADM_MAX_PER_IP (owned) */
    struct moat_conntrack conns;   /* open connections and their request deadlines */
};

/* One admin connection (libmicrohttpd socket context). A request must be
 * whole (head and any body) by deadline_ms, so that dripping clients cannot
 * hold the listener (each byte restarts libmicrohttpd's idle timeout). */
struct adm_conn {
    struct moat_ct_conn ct; /* client key, socket and request deadline (0 = answering) */
};

/* One admin request (libmicrohttpd request context). */
struct adm_req {
    uint64_t start_ms;             /* first handler call (head received) */
    struct moat_admin_match match; /* routing decision */
    int head;                      /* HEAD: no body is sent */
    int status;                    /* status queued, 0 = none yet */
    uint64_t bytes_out;            /* body bytes queued */
    char method[16];               /* request method (truncated), for the method label */
};

static void adm_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void adm_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    moat_log_vdebug_line("mhd_admin", fmt, ap);
}

/* ------------------------------------------------------- answers */

/* Queues status with body (copied; len bytes) and the usual admin headers.
 * allow: the Allow value, or NULL. */
static enum MHD_Result adm_queue(struct MHD_Connection *conn, struct adm_req *rq, int status,
                                 const char *type, const char *body, size_t len,
                                 enum MHD_ResponseMemoryMode mode, const char *allow)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, mode);
    if (r == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free((void *)(uintptr_t)body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (allow != NULL)
        MHD_add_response_header(r, "Allow", allow);
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    rq->status = status;
    rq->bytes_out = rq->head ? 0 : len;
    return ret;
}

static enum MHD_Result adm_text(struct MHD_Connection *conn, struct adm_req *rq, int status,
                                const char *text, const char *allow)
{
    return adm_queue(conn, rq, status, "text/plain; charset=utf-8", text, strlen(text),
                     MHD_RESPMEM_PERSISTENT, allow);
}

static enum MHD_Result adm_metrics(struct moat_admin *adm, struct MHD_Connection *conn,
                                   struct adm_req *rq)
{
    struct moat_metrics_info info;
    struct moat_procstat proc;
    char *text = NULL;
    size_t len = 0;

    memset(&info, 0, sizeof(info));
    memset(&proc, 0, sizeof(proc));
    info.version = MOAT_VERSION;
    info.tls_library = adm->tls_library;
    info.mhd_version = MHD_get_version();
    info.start_time = adm->deps.start_time;
    moat_server_upstream_counts(adm->deps.srv, &info.upstream_idle, &info.upstream_active);
    /* Whatever /proc yields is shown; a hidden /proc only loses process_*. */
    moat_procstat_read(&proc);
    info.proc = &proc;
    if (moat_metrics_render_alloc(adm->deps.metrics, &info, &text, &len) != 0)
        return adm_text(conn, rq, 500, "cannot render the metrics\n", NULL);
    return adm_queue(conn, rq, 200, ADM_METRICS_TYPE, text, len, MHD_RESPMEM_MUST_FREE, NULL);
}

static enum MHD_Result adm_readyz(struct moat_admin *adm, struct MHD_Connection *conn,
                                  struct adm_req *rq)
{
    char why[ADM_WHY];
    char body[ADM_WHY + 16];
    int draining = moat_server_draining(adm->deps.srv);
    int lockdown = atomic_load(&adm->lockdown);

    if (adm_probe_ready(&adm->probe, draining, lockdown, why, sizeof(why)))
        return adm_text(conn, rq, 200, "ready\n", NULL);
    snprintf(body, sizeof(body), "not ready: %s\n", why);
    return adm_queue(conn, rq, 503, "text/plain; charset=utf-8", body, strlen(body),
                     MHD_RESPMEM_MUST_COPY, NULL);
}

/* Counts the Authorization fields and keeps the first. */
struct adm_auth {
    const char *value; /* first value (MHD's memory), NULL when none */
    size_t len;        /* its length */
    unsigned n;        /* fields seen */
};

static enum MHD_Result adm_auth_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                        size_t key_size, const char *value, size_t value_size)
{
    struct adm_auth *a = cls;

    (void)kind;
    if (key_size != 13 || strncasecmp(key, "Authorization", 13) != 0)
        return MHD_YES;
    if (a->n == 0) {
        a->value = value != NULL ? value : "";
        a->len = value != NULL ? value_size : 0;
    }
    a->n++;
    return MHD_YES;
}

/* POST /emergency-shutdown: the decision is shutdown.c's; only the answer is made here. */
static enum MHD_Result adm_shutdown(struct moat_admin *adm, struct MHD_Connection *conn,
                                    struct adm_req *rq)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
    struct moat_sd_request sr;
    struct moat_sd_answer ans;
    struct adm_auth auth;
    struct MHD_Response *r;
    unsigned char addr[16];
    char client[INET6_ADDRSTRLEN] = "unix";
    char retry[16];
    enum MHD_Result ret;

    memset(&sr, 0, sizeof(sr));
    memset(&auth, 0, sizeof(auth));
    sr.listener = "admin";
    sr.family = moat_connlimit_addr_of(sa, addr);
    if (sr.family == AF_UNSPEC)
        sr.family = AF_UNIX; /* no IP address: the Unix socket */
    if (sr.family != AF_UNIX) {
        inet_ntop(sr.family, addr, client, sizeof(client));
        sr.addr = addr;
    }
    sr.client = client;
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, adm_auth_collect, &auth);
    sr.authorization = auth.value;
    sr.authorization_len = auth.len;
    sr.n_authorization = auth.n;
    moat_shutdown_handle(adm->deps.shutdown, &sr, &ans);
    r = MHD_create_response_from_buffer(strlen(ans.body), ans.body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ans.type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (ans.www_authenticate)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"moat\"");
    if (ans.retry_after > 0) {
        snprintf(retry, sizeof(retry), "%u", ans.retry_after);
        MHD_add_response_header(r, "Retry-After", retry);
    }
    ret = MHD_queue_response(conn, (unsigned)ans.status, r);
    MHD_destroy_response(r);
    rq->status = ans.status;
    rq->bytes_out = strlen(ans.body);
    return ret;
}

static enum MHD_Result adm_answer(struct moat_admin *adm, struct MHD_Connection *conn,
                                  struct adm_req *rq)
{
    switch (rq->match.route) {
    case MOAT_ADMIN_METRICS:
        return adm_metrics(adm, conn, rq);
    case MOAT_ADMIN_HEALTHZ:
        return adm_text(conn, rq, 200, "ok\n", NULL);
    case MOAT_ADMIN_READYZ:
        return adm_readyz(adm, conn, rq);
    case MOAT_ADMIN_SHUTDOWN:
        return adm_shutdown(adm, conn, rq);
    case MOAT_ADMIN_BAD_METHOD:
        return adm_text(conn, rq, 405, "Method Not Allowed\n", rq->match.allow);
    case MOAT_ADMIN_NOT_FOUND:
        break;
    }
    return adm_text(conn, rq, 404, "Not Found\n", NULL);
}

/* ------------------------------------------------------- callbacks */

/* Sets conn's request deadline (0: none while the answer goes out). */
static void adm_conn_deadline(struct moat_admin *adm, struct MHD_Connection *conn, uint64_t when)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct adm_conn *ac = ci != NULL ? ci->socket_context : NULL;

    if (ac == NULL)
        return;
    moat_conntrack_set_deadline(&adm->conns, &ac->ct, when);
}

/* Answers the request: no deadline while the answer is written. */
static enum MHD_Result adm_answer_now(struct moat_admin *adm, struct MHD_Connection *conn,
                                      struct adm_req *rq)
{
    adm_conn_deadline(adm, conn, 0);
    return adm_answer(adm, conn, rq);
}

static enum MHD_Result adm_access(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct moat_admin *adm = cls;
    struct adm_req *rq = *req_cls;

    (void)version;
    (void)upload_data;
    if (rq == NULL) {
        rq = calloc(1, sizeof(*rq));
        if (rq == NULL)
            return MHD_NO;
        rq->start_ms = moat_now_ms();
        rq->head = strcmp(method, "HEAD") == 0;
        snprintf(rq->method, sizeof(rq->method), "%s", method);
        moat_admin_route(method, url, &rq->match);
        *req_cls = rq;
        /* A disabled endpoint does not exist, whatever the method. */
        if (rq->match.route == MOAT_ADMIN_BAD_METHOD && strcmp(url, MOAT_SHUTDOWN_PATH) == 0 &&
            !moat_shutdown_enabled(adm->deps.shutdown)) {
            rq->match.route = MOAT_ADMIN_NOT_FOUND;
            rq->match.allow = NULL;
        }
        /* Errors are answered at once (the connection then closes, and a body
         * sent with them is never read); the endpoints once the request is
         * whole (a body is read and ignored: the shutdown token is only ever
         * taken from the Authorization field). */
        if (rq->match.route == MOAT_ADMIN_NOT_FOUND || rq->match.route == MOAT_ADMIN_BAD_METHOD)
            return adm_answer_now(adm, conn, rq);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0; /* a body is ignored */
        return MHD_YES;
    }
    if (rq->status != 0)
        return MHD_YES;
    return adm_answer_now(adm, conn, rq);
}

static void adm_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
    struct moat_admin *adm = cls;
    struct adm_req *rq = *req_cls;
    struct moat_logline l;
    double duration;

    if (rq == NULL)
        return;
    /* Keep-alive: libmicrohttpd's idle allowance, then the next request must be whole. */
    adm_conn_deadline(adm, conn,
                      moat_now_ms() + (uint64_t)ADM_IDLE_S * 1000 +
                          adm->deps.cfg->limits.header_timeout_ms);
    duration = (double)(moat_now_ms() - rq->start_ms) / 1000.0;
    moat_metrics_request(adm->deps.metrics, MOAT_METRICS_ADMIN, rq->method, rq->status, duration, 0,
                         rq->bytes_out);
    /* Probes and scrapes come every few seconds: logged only at debug level. */
    if (adm->deps.cfg->log.access && moat_log_enabled(MOAT_LOG_DEBUG)) {
        moat_logline_begin(&l, MOAT_LOG_DEBUG, "access");
        moat_logline_str(&l, "listener", "admin");
        moat_logline_str(&l, "method", rq->method);
        moat_logline_int(&l, "status", rq->status);
        moat_logline_int(&l, "bytes_out", (long long)rq->bytes_out);
        moat_logline_double(&l, "duration", duration);
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            moat_logline_bool(&l, "aborted", 1);
        moat_logline_end(&l);
    }
    free(rq);
    *req_cls = NULL;
}

static enum MHD_Result adm_accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct moat_admin *adm = cls;
    unsigned char ip[16];
    enum moat_connlimit_verdict v;
    int family;

    (void)addrlen;
    family = moat_connlimit_addr_of(addr, ip);
    v = moat_connlimit_admit(adm->climit, family, ip);
    if (v == MOAT_CONNLIMIT_OK)
        return MHD_YES;
    moat_metrics_conn_rejected(adm->deps.metrics,
                               v == MOAT_CONNLIMIT_TOTAL ? "limit" : "per_ip_limit");
    return MHD_NO;
}

static void adm_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
    struct moat_admin *adm = cls;
    struct adm_conn *ac = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        moat_metrics_conn_open(adm->deps.metrics, MOAT_METRICS_ADMIN);
        ac = calloc(1, sizeof(*ac));
        *socket_context = ac;
        if (ac == NULL)
            return;
        /* The TLS handshake (admin.tls) and the first request, head and body. */
        moat_conntrack_add(&adm->conns, &ac->ct, conn,
                           moat_now_ms() + adm->deps.cfg->limits.header_timeout_ms);
        if (moat_connlimit_add(adm->climit, ac->ct.family, ac->ct.addr) != 0)
            moat_log(MOAT_LOG_WARN, "connlimit_degraded", "out of memory counting a client");
        return;
    }
    moat_metrics_conn_close(adm->deps.metrics, MOAT_METRICS_ADMIN);
    if (ac == NULL)
        return;
    moat_conntrack_remove(&adm->conns, &ac->ct);
    moat_connlimit_remove(adm->climit, ac->ct.family, ac->ct.addr);
    free(ac);
    *socket_context = NULL;
}

/* A connection cut for its late request (counted before its socket goes). */
static void adm_late_cut(void *arg)
{
    struct moat_admin *adm = arg;

    moat_metrics_conn_rejected(adm->deps.metrics, "head_timeout");
}

void moat_admin_tick(struct moat_admin *adm)
{
    if (adm != NULL)
        (void)moat_conntrack_sweep(&adm->conns, moat_now_ms(), adm_late_cut, adm);
}

/* ------------------------------------------------------- socket */

/* True when something accepts connections on the Unix socket at path. */
static int unix_in_use(const struct sockaddr_un *sun)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int used;

    if (fd < 0)
        return 0;
    used = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
    close(fd);
    return used;
}

/* Binds the Unix socket path (mode 0660), replacing a stale socket file.
 * Returns the fd, or -1 with a message in err. */
static int adm_bind_unix(struct moat_admin *adm, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    struct stat st;
    mode_t old_mask;
    int fd = -1;
    int rc;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen,
                     "cannot bind the admin socket %s: the path exists and is not "
                     "a socket",
                     path);
            goto fail;
        }
        if (unix_in_use(&sun)) {
            snprintf(err, errlen,
                     "cannot bind the admin socket %s: Address already in use "
                     "(another moat?)",
                     path);
            goto fail;
        }
        unlink(path); /* stale: left by a moat that did not exit cleanly */
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    /* Startup is single-threaded here: the umask change is seen by nobody else. */
    old_mask = umask(0117);
    rc = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
    umask(old_mask);
    if (rc != 0) {
        snprintf(err, errlen, "cannot bind the admin socket %s: %s", path, strerror(errno));
        goto fail;
    }
    if (stat(path, &st) == 0) {
        adm->unix_bound = 1;
        adm->sock_dev = st.st_dev;
        adm->sock_ino = st.st_ino;
    }
    if (listen(fd, 64) != 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        goto fail;
    }
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Removes the Unix socket file if it is still the one we bound. */
static void adm_unlink_unix(struct moat_admin *adm)
{
    const char *path = adm->deps.cfg->admin.listen.path;
    struct stat st;

    if (!adm->unix_bound || adm->deps.keep_unix_socket)
        return;
    if (lstat(path, &st) == 0 && st.st_dev == adm->sock_dev && st.st_ino == adm->sock_ino)
        unlink(path);
    adm->unix_bound = 0;
}

/* ------------------------------------------------------- lifecycle */

struct moat_admin *moat_admin_new(const struct moat_admin_deps *deps, char *err, size_t errlen)
{
    const struct moat_bind_addr *ba = &deps->cfg->admin.listen;
    struct moat_admin *adm;
    char addr[MOAT_CFG_STR + 16];
    char why[512];

    if (errlen > 0)
        err[0] = '\0';
    if (ba->kind == MOAT_BIND_OFF)
        return NULL;
    adm = calloc(1, sizeof(*adm));
    if (adm == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    adm->deps = *deps;
    adm->fd = -1;
    moat_conntrack_init(&adm->conns);
    adm->climit = moat_connlimit_new(ADM_MAX_CONNS, ADM_MAX_PER_IP);
    if (adm->climit == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(adm->tls_library, sizeof(adm->tls_library), "GnuTLS %s", gnutls_check_version(NULL));
    if (adm_probe_init(&adm->probe, deps->cfg) != 0) {
        snprintf(err, errlen, "cannot set up the upstream check");
        goto fail;
    }
    adm->probe_ready = 1;
    if (ba->kind == MOAT_BIND_UNIX) {
        adm->fd = adm_bind_unix(adm, ba->path, err, errlen);
    } else {
        adm->fd = moat_server_listen_socket(&ba->tcp, why, sizeof(why));
        if (adm->fd < 0) {
            moat_config_format_bind(ba, addr, sizeof(addr));
            snprintf(err, errlen, "admin listener %s: %s", addr, why);
        }
    }
    if (adm->fd < 0)
        goto fail;
    return adm;
fail:
    moat_admin_free(adm);
    return NULL;
}

int moat_admin_start(struct moat_admin *adm, char *err, size_t errlen)
{
    const struct moat_config *cfg = adm->deps.cfg;
    /* MHD_USE_ITC: at its connection limit libmicrohttpd stops watching the
     * listening socket, and MHD_stop_daemon could then only wake the thread at
     * the next idle timeout (ADM_IDLE_S), holding up moat's exit. */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;

    if (cfg->admin.tls)
        adm->daemon = MHD_start_daemon(
            flags | MHD_USE_TLS, 0, adm_accept_policy, adm, adm_access, adm,
            MHD_OPTION_EXTERNAL_LOGGER, adm_mhd_log, adm, MHD_OPTION_LISTEN_SOCKET, adm->fd,
            MHD_OPTION_CONNECTION_LIMIT, ADM_MAX_CONNS, MHD_OPTION_CONNECTION_TIMEOUT, ADM_IDLE_S,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ADM_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
            adm_completed, adm, MHD_OPTION_NOTIFY_CONNECTION, adm_notify, adm,
            MHD_OPTION_HTTPS_PRIORITIES,
            moat_tls_priority_effective(cfg->tls.profile, cfg->tls.priority),
            MHD_OPTION_HTTPS_CERT_CALLBACK, moat_tlsstore_retrieve, MHD_OPTION_END);
    else
        adm->daemon = MHD_start_daemon(
            flags, 0, adm_accept_policy, adm, adm_access, adm, MHD_OPTION_EXTERNAL_LOGGER,
            adm_mhd_log, adm, MHD_OPTION_LISTEN_SOCKET, adm->fd, MHD_OPTION_CONNECTION_LIMIT,
            ADM_MAX_CONNS, MHD_OPTION_CONNECTION_TIMEOUT, ADM_IDLE_S,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ADM_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
            adm_completed, adm, MHD_OPTION_NOTIFY_CONNECTION, adm_notify, adm, MHD_OPTION_END);
    if (adm->daemon == NULL) {
        snprintf(err, errlen, "cannot start the admin listener");
        return -1;
    }
    if (cfg->admin.ready_interval_ms > 0 && adm_probe_start(&adm->probe) != 0) {
        snprintf(err, errlen, "cannot start the upstream check thread");
        return -1;
    }
    return 0;
}

void moat_admin_address(const struct moat_admin *adm, char *out, size_t cap)
{
    if (moat_config_format_bind(&adm->deps.cfg->admin.listen, out, cap) != 0 && cap > 0)
        out[0] = '\0';
}

void moat_admin_set_lockdown(struct moat_admin *adm, int on)
{
    atomic_store(&adm->lockdown, on != 0);
}

void moat_admin_free(struct moat_admin *adm)
{
    if (adm == NULL)
        return;
    if (adm->daemon != NULL)
        MHD_stop_daemon(adm->daemon); /* closes the listening socket it was given */
    else if (adm->fd >= 0)
        close(adm->fd);
    adm_unlink_unix(adm);
    if (adm->probe_ready)
        adm_probe_destroy(&adm->probe);
    moat_connlimit_free(adm->climit);
    moat_conntrack_destroy(&adm->conns);
    free(adm);
}
