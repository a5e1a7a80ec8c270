/* listener.c - the HTTPS listener's sockets and threads: one bound socket
 * shared by N worker threads, each running its own libmicrohttpd daemon in
 * external epoll mode together with its own proxy engine, so a request's client
 * and upstream events are handled by one thread with no hand-offs. Also the
 * request-head deadline sweep and the drain/stop lifecycle. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "moat/log.h"
#include "server_int.h"

#define LSN_EVENTS 128   /* epoll events per wait */
#define LSN_MAX_WAIT 100 /* ms: the longest a worker sleeps (engine deadlines) */

static void srv_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void srv_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    moat_log_vdebug_line("mhd", fmt, ap);
}

/* A connection cut for its late head: counted before the socket goes, so a
 * scrape that sees the connection gone sees the count. */
static void srv_head_cut(void *arg)
{
    struct moat_server *srv = arg;

    moat_metrics_conn_rejected(srv->metrics, "head_timeout");
    moat_log(MOAT_LOG_INFO, "request_head_timeout",
             "closed a connection that did not send a complete request head in time");
}

void moat_server_tick(struct moat_server *srv)
{
    (void)moat_conntrack_sweep(&srv->conns, moat_now_ms(), srv_head_cut, srv);
}

/* ------------------------------------------------------- worker threads */

static void *worker_main(void *arg)
{
    struct srv_worker *w = arg;
    struct moat_server *srv = w->srv;
    struct epoll_event evs[LSN_EVENTS];
    MHD_UNSIGNED_LONG_LONG mhd_to;
    int ep = moat_proxy_epoll_fd(w->px);
    int timeout, n, i, run_mhd;
    uint64_t v;

    while (!atomic_load(&srv->stopping)) {
        timeout = LSN_MAX_WAIT;
        if (MHD_get_timeout(w->daemon, &mhd_to) == MHD_YES && mhd_to < (unsigned)timeout)
            timeout = (int)mhd_to;
        n = epoll_wait(ep, evs, LSN_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            moat_log(MOAT_LOG_ERROR, "listener_epoll_failed", "epoll_wait: %s", strerror(errno));
            break;
        }
        run_mhd = n == 0;
        moat_proxy_set_busy(w->px, n > 0);
        for (i = 0; i < n; i++) {
            if (evs[i].data.ptr == &w->mhd_mark) {
                run_mhd = 1;
            } else if (evs[i].data.ptr == &w->wake_mark) {
                if (read(w->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                    moat_log(MOAT_LOG_ERROR, "listener_wake_failed", "%s", strerror(errno));
                run_mhd = 1;
            } else {
                /* The engine may resume connections: let the daemon serve
                 * them now, on this thread, without another round trip. */
                moat_proxy_event(w->px, evs[i].data.ptr, evs[i].events);
                run_mhd = 1;
            }
        }
        if (run_mhd)
            MHD_run(w->daemon);
        moat_proxy_tick(w->px);
        if (atomic_load(&srv->draining) && !w->quiesced) {
            MHD_quiesce_daemon(w->daemon);
            w->quiesced = 1;
        }
    }
    /* Stop: fail what is in flight (resuming every suspended connection) and
     * let the daemon answer what it can before the main thread stops it. */
    moat_proxy_shutdown(w->px);
    MHD_run(w->daemon);
    moat_proxy_tick(w->px);
    return NULL;
}

static void worker_wake(struct srv_worker *w)
{
    uint64_t one = 1;

    if (w->wake_fd >= 0 && write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        moat_log(MOAT_LOG_ERROR, "listener_wake_failed", "%s", strerror(errno));
}

/* Starts worker w's daemon on the shared socket and hooks its fds into the
 * engine's epoll set. Returns 0 or -1 with a message in err. */
static int worker_start_daemon(struct srv_worker *w, char *err, size_t errlen)
{
    struct moat_server *srv = w->srv;
    const struct moat_config *cfg = srv->cfg;
    unsigned idle_s = (cfg->limits.client_idle_timeout_ms + 999) / 1000;
    size_t mem = (size_t)cfg->limits.max_header_bytes + cfg->limits.max_uri_bytes + 4096;
    const union MHD_DaemonInfo *di;
    const char *prio = moat_tls_priority_effective(cfg->tls.profile, cfg->tls.priority);
    const char *trust =
        srv->tls_opts.client_auth != MOAT_TLS_CLIENT_AUTH_OFF ? srv->tls_opts.client_ca_pem : NULL;
    struct epoll_event ev;
    int ep = moat_proxy_epoll_fd(w->px);

    if (mem < 8192)
        mem = 8192;
    if (prio == NULL) {
        snprintf(err, errlen, "tls.profile %s is unknown", cfg->tls.profile);
        return -1;
    }
    /* Connection limits are moat's own (connlimit via the accept policy):
     * libmicrohttpd would split its limit between daemons. Its own limit is
     * only a backstop here. */
    w->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TLS | MHD_USE_ERROR_LOG | MHD_USE_TURBO,
        0, srv_accept_policy, srv, srv_access, w, MHD_OPTION_EXTERNAL_LOGGER, srv_mhd_log, srv,
        MHD_OPTION_LISTEN_SOCKET, srv->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
        cfg->server.max_connections + 16, MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_URI_LOG_CALLBACK, srv_uri_log, srv,
        MHD_OPTION_NOTIFY_COMPLETED, srv_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
        srv_notify_conn, srv, MHD_OPTION_HTTPS_PRIORITIES, prio, MHD_OPTION_HTTPS_CERT_CALLBACK,
        moat_tlsstore_retrieve, trust != NULL ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, trust,
        MHD_OPTION_END);
    if (w->daemon == NULL) {
        snprintf(err, errlen,
                 "cannot start the HTTPS listener (check tls.priority, tls.client_ca and the "
                 "listen address)");
        return -1;
    }
    di = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = &w->mhd_mark;
    if (di == NULL || epoll_ctl(ep, EPOLL_CTL_ADD, di->epoll_fd, &ev) != 0) {
        snprintf(err, errlen, "cannot watch the listener's event loop: %s", strerror(errno));
        return -1;
    }
    ev.data.ptr = &w->wake_mark;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, w->wake_fd, &ev) != 0) {
        snprintf(err, errlen, "cannot watch the listener's wake-up fd: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------- lifecycle */

int moat_server_listen_socket(const struct moat_listen_addr *la, char *err, size_t errlen)
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
    /* Non-blocking: every worker's daemon accepts from it, and a worker that
     * loses the race must get EAGAIN rather than block. */
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        struct moat_bind_addr b = {.kind = MOAT_BIND_TCP, .tcp = *la};
        char addr[MOAT_CFG_STR + 16];

        if (moat_config_format_bind(&b, addr, sizeof(addr)) != 0)
            snprintf(addr, sizeof(addr), "?");
        snprintf(err, errlen, "cannot bind %s: %s", addr, strerror(errno));
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

struct moat_server *moat_server_new(const struct moat_config *cfg, struct moat_upstream *up,
                                    struct moat_tlsstore *tls, struct moat_metrics *metrics,
                                    char *err, size_t errlen)
{
    struct moat_server *srv = calloc(1, sizeof(*srv));
    unsigned i;
    long ncpu;

    if (srv == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->cfg = cfg;
    srv->up = up;
    srv->tls = tls;
    srv->metrics = metrics;
    srv->listen_fd = -1;
    srv->lim.max_headers = cfg->limits.max_headers;
    srv->lim.max_header_bytes = cfg->limits.max_header_bytes;
    srv->lim.max_uri_bytes = cfg->limits.max_uri_bytes;
    srv->lim.max_body_bytes = cfg->limits.max_body_bytes;
    moat_conntrack_init(&srv->conns);
    randombytes_buf(srv->rid_key, sizeof(srv->rid_key));
    srv->n_workers = cfg->server.workers;
    if (srv->n_workers == 0) {
        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        srv->n_workers = ncpu > 0 ? (unsigned)ncpu : 1;
    }
    srv->climit =
        moat_connlimit_new(cfg->server.max_connections, cfg->server.max_connections_per_ip);
    srv->workers = calloc(srv->n_workers, sizeof(*srv->workers));
    if (srv->climit == NULL || srv->workers == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (i = 0; i < srv->n_workers; i++)
        srv->workers[i].wake_fd = -1;
    for (i = 0; i < srv->n_workers; i++) {
        srv->workers[i].srv = srv;
        srv->workers[i].idx = i;
        srv->workers[i].wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (srv->workers[i].wake_fd < 0) {
            snprintf(err, errlen, "eventfd: %s", strerror(errno));
            goto fail;
        }
        srv->workers[i].hdrs = calloc((size_t)cfg->limits.max_headers + 1, sizeof(struct moat_hdr));
        if (srv->workers[i].hdrs == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        srv->workers[i].px = moat_proxy_new(cfg, up, err, errlen);
        if (srv->workers[i].px == NULL)
            goto fail;
    }
    srv->listen_fd = moat_server_listen_socket(&cfg->server.listen, err, errlen);
    if (srv->listen_fd < 0)
        goto fail;
    return srv;
fail:
    moat_server_free(srv);
    return NULL;
}

void moat_server_set_tls(struct moat_server *srv, const struct moat_server_tls *t)
{
    srv->tls_opts = *t;
}

int moat_server_start(struct moat_server *srv, char *err, size_t errlen)
{
    unsigned i;

    moat_tlsstore_install(srv->tls);
    for (i = 0; i < srv->n_workers; i++) {
        if (worker_start_daemon(&srv->workers[i], err, errlen) != 0)
            return -1;
    }
    for (i = 0; i < srv->n_workers; i++) {
        if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]) != 0) {
            snprintf(err, errlen, "cannot start listener thread %u", i);
            return -1;
        }
        srv->workers[i].running = 1;
    }
    return 0;
}

void moat_server_quiesce(struct moat_server *srv)
{
    unsigned i;

    /* Each worker quiesces its own daemon (libmicrohttpd in external mode is
     * driven by one thread only). */
    atomic_store(&srv->draining, 1);
    for (i = 0; i < srv->n_workers; i++)
        worker_wake(&srv->workers[i]);
}

unsigned moat_server_connections(struct moat_server *srv)
{
    return atomic_load(&srv->n_conns);
}

unsigned moat_server_requests(struct moat_server *srv)
{
    return atomic_load(&srv->n_reqs);
}

int moat_server_draining(struct moat_server *srv)
{
    return atomic_load(&srv->draining);
}

void moat_server_set_lockdown(struct moat_server *srv, int on)
{
    atomic_store(&srv->lockdown, on != 0);
}

void moat_server_upstream_counts(struct moat_server *srv, unsigned *idle, unsigned *active)
{
    struct moat_upstream_stats st;
    unsigned i;
    unsigned n = 0;

    for (i = 0; i < srv->n_workers; i++) {
        if (srv->workers[i].px != NULL)
            n += moat_proxy_idle(srv->workers[i].px);
    }
    moat_upstream_stats_get(srv->up, &st);
    /* The two figures are read a moment apart: never show a negative gauge. */
    *idle = n < st.open ? n : st.open;
    *active = st.open - *idle;
}

void moat_server_stop(struct moat_server *srv)
{
    struct srv_worker *w;
    unsigned i;

    if (srv->workers == NULL)
        return;
    atomic_store(&srv->stopping, 1);
    for (i = 0; i < srv->n_workers; i++)
        worker_wake(&srv->workers[i]);
    for (i = 0; i < srv->n_workers; i++) {
        w = &srv->workers[i];
        if (w->running) {
            pthread_join(w->thread, NULL);
            w->running = 0;
        }
    }
    for (i = 0; i < srv->n_workers; i++) {
        w = &srv->workers[i];
        if (w->daemon == NULL)
            continue;
        /* The daemons share one listening socket: quiesced, none closes it. */
        if (!w->quiesced) {
            MHD_quiesce_daemon(w->daemon);
            w->quiesced = 1;
        }
        if (w->px != NULL && moat_proxy_active(w->px) > 0)
            moat_proxy_shutdown(w->px);
        MHD_stop_daemon(w->daemon);
        w->daemon = NULL;
    }
    moat_tlsstore_install(NULL);
}

void moat_server_free(struct moat_server *srv)
{
    unsigned i;

    if (srv == NULL)
        return;
    moat_server_stop(srv);
    for (i = 0; srv->workers != NULL && i < srv->n_workers; i++) {
        moat_proxy_free(srv->workers[i].px);
        free(srv->workers[i].hdrs);
        if (srv->workers[i].wake_fd >= 0)
            close(srv->workers[i].wake_fd);
    }
    free(srv->workers);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    moat_connlimit_free(srv->climit);
    moat_conntrack_destroy(&srv->conns);
    sodium_memzero(srv->rid_key, sizeof(srv->rid_key));
    free(srv);
}
