/* admin_ready.c - the upstream check behind /readyz: one non-blocking connect
 * with a deadline, repeated every admin.ready_interval by a thread of its own. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "admin_int.h"
#include "moat/log.h"
#include "moat/upstream.h"

/* Connects to one address, waiting until deadline_ms (moat_now_ms clock).
 * Returns 0 when the connection was accepted, else -1 with the reason in err. */
static int try_connect(const struct sockaddr *sa, socklen_t len, uint64_t deadline_ms,
                       const char *label, char *err, size_t errlen)
{
    struct pollfd pfd;
    socklen_t elen = sizeof(int);
    uint64_t now;
    int soerr = 0;
    int fd;
    int n;
    int rc = -1;

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "connect to %s: socket: %s", label, strerror(errno));
        goto out;
    }
    if (connect(fd, sa, len) == 0) {
        rc = 0;
        goto out;
    }
    if (errno != EINPROGRESS && errno != EAGAIN) {
        snprintf(err, errlen, "connect to %s: %s", label, strerror(errno));
        goto out;
    }
    pfd.fd = fd;
    pfd.events = POLLOUT;
    for (;;) {
        now = moat_now_ms();
        if (now >= deadline_ms) {
            snprintf(err, errlen, "connect to %s: no answer in time", label);
            goto out;
        }
        n = poll(&pfd, 1, (int)(deadline_ms - now));
        if (n > 0)
            break;
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "connect to %s: poll: %s", label, strerror(errno));
            goto out;
        }
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0)
        soerr = errno;
    if (soerr != 0) {
        snprintf(err, errlen, "connect to %s: %s", label, strerror(soerr));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

int moat_admin_check_upstream(const struct moat_config *cfg, unsigned timeout_ms, char *err,
                              size_t errlen)
{
    const struct moat_upstream_addr *a = &cfg->upstream.addr;
    uint64_t deadline = moat_now_ms() + timeout_ms;
    struct sockaddr_un sun;
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    int gai;
    int rc = -1;

    if (errlen > 0)
        err[0] = '\0';
    if (a->kind == MOAT_UPSTREAM_UNIX) {
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->path);
        rc = try_connect((const struct sockaddr *)&sun, (socklen_t)sizeof(sun), deadline,
                         cfg->upstream.url, err, errlen);
        goto out;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", (unsigned)a->port);
    gai = getaddrinfo(a->host, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve \"%s\": %s", a->host, gai_strerror(gai));
        goto out;
    }
    /* Any address that accepts will do (the proxy round-robins over them). */
    for (ai = res; ai != NULL && rc != 0; ai = ai->ai_next)
        rc = try_connect(ai->ai_addr, ai->ai_addrlen, deadline, cfg->upstream.url, err, errlen);
out:
    if (res != NULL)
        freeaddrinfo(res);
    if (rc == 0 && errlen > 0)
        err[0] = '\0';
    return rc;
}

/* Runs one check and stores its outcome; logs when the outcome changes. */
static void probe_once(struct adm_probe *p)
{
    char err[sizeof(p->error)];
    int rc = moat_admin_check_upstream(p->cfg, p->cfg->admin.ready_timeout_ms, err, sizeof(err));
    int was_checked, was_ok;

    pthread_mutex_lock(&p->lock);
    was_checked = p->checked;
    was_ok = p->ok;
    p->checked = 1;
    p->ok = rc == 0;
    if (rc == 0) {
        p->ok_ms = moat_now_ms();
        p->error[0] = '\0';
    } else {
        memcpy(p->error, err, sizeof(p->error));
    }
    pthread_mutex_unlock(&p->lock);
    if (rc == 0 && (!was_checked || !was_ok))
        moat_log(MOAT_LOG_INFO, "upstream_reachable", "the upstream accepts connections");
    else if (rc != 0 && (!was_checked || was_ok))
        moat_log(MOAT_LOG_WARN, "upstream_unreachable", "%s (/readyz answers 503)", err);
}

static void *probe_main(void *arg)
{
    struct adm_probe *p = arg;
    struct timespec until;
    uint64_t ns;

    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        pthread_mutex_unlock(&p->lock);
        probe_once(p);
        pthread_mutex_lock(&p->lock);
        clock_gettime(CLOCK_MONOTONIC, &until);
        ns = (uint64_t)until.tv_nsec + (uint64_t)p->cfg->admin.ready_interval_ms * 1000000u;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        /* A wake-up without stop (spurious) goes back to waiting for the deadline. */
        while (!p->stop) {
            if (pthread_cond_timedwait(&p->wake, &p->lock, &until) != 0)
                break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int adm_probe_init(struct adm_probe *p, const struct moat_config *cfg)
{
    pthread_condattr_t ca;
    int rc = -1;

    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&p->wake, &ca) != 0)
        goto out;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        pthread_cond_destroy(&p->wake);
        goto out;
    }
    rc = 0;
out:
    pthread_condattr_destroy(&ca);
    return rc;
}

int adm_probe_start(struct adm_probe *p)
{
    if (pthread_create(&p->thread, NULL, probe_main, p) != 0)
        return -1;
    p->running = 1;
    return 0;
}

void adm_probe_destroy(struct adm_probe *p)
{
    if (p->running) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        p->running = 0;
    }
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
}

int adm_probe_ready(struct adm_probe *p, int draining, int lockdown, char *why, size_t cap)
{
    struct moat_admin_ready_in in;
    char error[sizeof(p->error)];
    uint64_t now = moat_now_ms();

    memset(&in, 0, sizeof(in));
    in.check_off = p->cfg->admin.ready_interval_ms == 0;
    in.lockdown = lockdown;
    in.draining = draining;
    in.max_age_ms = p->cfg->admin.ready_max_age_ms;
    pthread_mutex_lock(&p->lock);
    in.checked = p->checked;
    memcpy(error, p->error, sizeof(error));
    in.check_error = p->checked && !p->ok ? error : NULL;
    in.ok_age_ms = p->ok_ms != 0 && now >= p->ok_ms ? now - p->ok_ms : UINT64_MAX;
    pthread_mutex_unlock(&p->lock);
    return moat_admin_ready(&in, why, cap);
}
