/* upstream.c - upstream address resolution, non-blocking connect, the open-connection count
 * (the keep-alive pool itself is the proxy engine's, proxy.c). */
#include "moat/upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "moat/log.h"

#define UP_MAX_ADDRS 8               /* resolved addresses kept */
#define UP_RESOLVE_INTERVAL_MS 10000 /* how often a host name is resolved again */

struct moat_upstream {
    const struct moat_config *cfg;               /* borrowed */
    pthread_mutex_t lock;                        /* guards everything below */
    struct sockaddr_storage addrs[UP_MAX_ADDRS]; /* resolved addresses */
    socklen_t addr_lens[UP_MAX_ADDRS];           /* their lengths */
    size_t n_addrs;                              /* entries used */
    size_t next_addr;                            /* round-robin cursor */
    unsigned open;                               /* open connections (idle + in use) */
    int resolver_running;                        /* resolver thread started */
    int stop;                                    /* resolver must exit */
    pthread_cond_t stop_cond;                    /* wakes the resolver for exit */
    pthread_t resolver;                          /* re-resolves TCP host names */
    struct moat_uptls *tls;                      /* https:// upstream: TLS context (owned) */
};

uint64_t moat_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int moat_upstream_is_ip_literal(const char *host)
{
    unsigned char tmp[16];

    return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

/* Resolves the TCP host (blocking; never called from an I/O thread). */
static int up_resolve(struct moat_upstream *up, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct sockaddr_storage addrs[UP_MAX_ADDRS];
    socklen_t lens[UP_MAX_ADDRS];
    char port[8];
    size_t n = 0;
    int rc = -1;
    int gai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    if (moat_upstream_is_ip_literal(up->cfg->upstream.addr.host))
        hints.ai_flags = AI_NUMERICHOST;
    snprintf(port, sizeof(port), "%u", (unsigned)up->cfg->upstream.addr.port);
    gai = getaddrinfo(up->cfg->upstream.addr.host, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve upstream host \"%s\": %s",
                 up->cfg->upstream.addr.host, gai_strerror(gai));
        goto out;
    }
    for (ai = res; ai != NULL && n < UP_MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(addrs[0]))
            continue;
        memcpy(&addrs[n], ai->ai_addr, ai->ai_addrlen);
        lens[n] = ai->ai_addrlen;
        n++;
    }
    if (n == 0) {
        snprintf(err, errlen, "upstream host \"%s\" has no usable address",
                 up->cfg->upstream.addr.host);
        goto out;
    }
    pthread_mutex_lock(&up->lock);
    memcpy(up->addrs, addrs, sizeof(addrs[0]) * n);
    memcpy(up->addr_lens, lens, sizeof(lens[0]) * n);
    up->n_addrs = n;
    pthread_mutex_unlock(&up->lock);
    rc = 0;
out:
    if (res != NULL)
        freeaddrinfo(res);
    return rc;
}

static void *up_resolver_main(void *arg)
{
    struct moat_upstream *up = arg;
    char err[512];
    struct timespec ts;
    int failing = 0;

    pthread_mutex_lock(&up->lock);
    while (!up->stop) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (up->n_addrs == 0 ? 1 : UP_RESOLVE_INTERVAL_MS / 1000);
        pthread_cond_timedwait(&up->stop_cond, &up->lock, &ts);
        if (up->stop)
            break;
        pthread_mutex_unlock(&up->lock);
        if (up_resolve(up, err, sizeof(err)) != 0) {
            if (!failing)
                moat_log(MOAT_LOG_WARN, "upstream_resolve_failed", "%s", err);
            failing = 1;
        } else if (failing) {
            moat_log(MOAT_LOG_INFO, "upstream_resolved", "upstream host resolved again");
            failing = 0;
        }
        pthread_mutex_lock(&up->lock);
    }
    pthread_mutex_unlock(&up->lock);
    return NULL;
}

struct moat_upstream *moat_upstream_new(const struct moat_config *cfg, char *err, size_t errlen)
{
    struct moat_upstream *up = calloc(1, sizeof(*up));
    struct sockaddr_un *sun;
    char rerr[512];

    if (up == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    up->cfg = cfg;
    pthread_mutex_init(&up->lock, NULL);
    pthread_cond_init(&up->stop_cond, NULL);
    if (moat_uptls_new(cfg, &up->tls, err, errlen) != 0) {
        moat_upstream_free(up);
        return NULL;
    }
    if (cfg->upstream.addr.kind == MOAT_UPSTREAM_UNIX) {
        sun = (struct sockaddr_un *)&up->addrs[0];
        sun->sun_family = AF_UNIX;
        snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", cfg->upstream.addr.path);
        up->addr_lens[0] = (socklen_t)sizeof(*sun);
        up->n_addrs = 1;
        return up;
    }
    if (up_resolve(up, rerr, sizeof(rerr)) != 0)
        moat_log(MOAT_LOG_WARN, "upstream_resolve_failed", "%s (will retry)", rerr);
    return up;
fail:
    free(up);
    return NULL;
}

int moat_upstream_start(struct moat_upstream *up, char *err, size_t errlen)
{
    int rc = 0;

    if (up->resolver_running || !moat_upstream_resolver_needed(up->cfg))
        goto out;
    if (pthread_create(&up->resolver, NULL, up_resolver_main, up) != 0) {
        snprintf(err, errlen, "cannot start the resolver thread");
        rc = -1;
        goto out;
    }
    up->resolver_running = 1;
out:
    return rc;
}

int moat_upstream_resolver_needed(const struct moat_config *cfg)
{
    return cfg->upstream.addr.kind != MOAT_UPSTREAM_UNIX &&
           !moat_upstream_is_ip_literal(cfg->upstream.addr.host);
}

int moat_upstream_connect(struct moat_upstream *up, int *fd_out, int *pending, const char **why)
{
    struct sockaddr_storage addr;
    socklen_t alen = 0;
    int fd = -1;
    int one = 1;
    int rc = -1;
    int have = 0;

    *fd_out = -1;
    *pending = 0;
    pthread_mutex_lock(&up->lock);
    if (up->open >= up->cfg->upstream.max_connections) {
        *why = "limit";
    } else if (up->n_addrs == 0) {
        *why = "no_address";
    } else {
        addr = up->addrs[up->next_addr % up->n_addrs];
        alen = up->addr_lens[up->next_addr % up->n_addrs];
        up->next_addr++;
        up->open++;
        have = 1;
    }
    pthread_mutex_unlock(&up->lock);
    if (!have)
        goto out;
    fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *why = "connect";
        goto undo;
    }
    if (addr.ss_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&addr, alen) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            *why = "connect";
            goto undo;
        }
        *pending = 1;
    }
    *fd_out = fd;
    fd = -1;
    rc = 0;
    goto out;
undo:
    pthread_mutex_lock(&up->lock);
    up->open--;
    pthread_mutex_unlock(&up->lock);
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

int moat_upstream_connect_result(int fd)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};

    /* SO_ERROR reads 0 while the connect is still in progress. */
    if (poll(&pfd, 1, 0) == 0)
        return EINPROGRESS;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        return errno;
    return soerr;
}

void moat_upstream_close(struct moat_upstream *up, int fd)
{
    if (fd < 0)
        return;
    close(fd);
    pthread_mutex_lock(&up->lock);
    up->open--;
    pthread_mutex_unlock(&up->lock);
}

void moat_upstream_stats_get(struct moat_upstream *up, struct moat_upstream_stats *out)
{
    pthread_mutex_lock(&up->lock);
    out->open = up->open;
    pthread_mutex_unlock(&up->lock);
}

void moat_upstream_free(struct moat_upstream *up)
{
    if (up == NULL)
        return;
    if (up->resolver_running) {
        pthread_mutex_lock(&up->lock);
        up->stop = 1;
        pthread_cond_signal(&up->stop_cond);
        pthread_mutex_unlock(&up->lock);
        pthread_join(up->resolver, NULL);
    }
    pthread_mutex_destroy(&up->lock);
    pthread_cond_destroy(&up->stop_cond);
    moat_uptls_free(up->tls);
    free(up);
}

struct moat_uptls *moat_upstream_tls(struct moat_upstream *up)
{
    return up->tls;
}
