/* harness_upstream.c - scripted raw HTTP/1.1 upstreams for integration tests: record what
 * moat forwards, then answer with canned (possibly broken, slow or stalled) bytes. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#define H_UP_MAX_REQS 4096  /* requests whose head and body facts are recorded */
#define H_UP_MAX_CONNS 4096 /* connections served over an upstream's life */
#define H_UP_MAX_HEAD (1024u * 1024u)
#define H_UP_MAX_LIVE 16 /* upstreams alive at once in a test */

/* One connection being served. */
struct h_uconn {
    pthread_t th;         /* its thread */
    int has_thread;       /* th was created (and must be joined) */
    int fd;               /* socket */
    struct h_upstream *u; /* owner */
    unsigned id;          /* 1-based connection number */
    unsigned char *buf;   /* received bytes not yet consumed: buf[off..len) */
    size_t off, len, cap; /* buffer bookkeeping */
};

/* One recorded request. */
struct h_up_rec {
    char *head;            /* request head text, NUL-terminated */
    struct h_up_body body; /* body facts once read */
    int done;              /* head and body read */
};

struct h_upstream {
    int lfd;                               /* listening socket */
    int port;                              /* its port */
    char url[64];                          /* http://127.0.0.1:port */
    int stop_pipe[2];                      /* becomes readable when stopping */
    pthread_t acceptor;                    /* accept loop */
    pthread_mutex_t mu;                    /* guards everything below */
    struct h_step **scripts;               /* deep copies of the scripts */
    char **prefixes;                       /* route prefixes per script, NULL: by request index */
    size_t n_scripts;                      /* entries in scripts (and prefixes) */
    unsigned n_conn;                       /* connections accepted */
    unsigned n_req;                        /* request heads received */
    unsigned n_done;                       /* requests read whole */
    uint64_t bytes;                        /* bytes received */
    struct h_up_rec rec[H_UP_MAX_REQS];    /* recorded requests */
    struct h_uconn *conns[H_UP_MAX_CONNS]; /* connections, joined at stop */
    size_t n_conns;                        /* entries in conns */
    FILE *log;                             /* event log in the test dir, line-buffered */
};

/* Upstreams alive in this test process (stopped by harness_upstream_stop_all). */
static struct {
    struct h_upstream *live[H_UP_MAX_LIVE]; /* running upstreams */
} h_up_rt;

/* Appends an event line to the upstream's log. */
static void h_up_log(struct h_upstream *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void h_up_log(struct h_upstream *u, const char *fmt, ...)
{
    va_list ap;

    if (u->log == NULL)
        return;
    pthread_mutex_lock(&u->mu);
    fprintf(u->log, "[%llu] ", (unsigned long long)harness_now_ms());
    va_start(ap, fmt);
    vfprintf(u->log, fmt, ap);
    va_end(ap);
    fputc('\n', u->log);
    pthread_mutex_unlock(&u->mu);
}

/* Waits for fd to become ready for ev, or the stop pipe, for up to timeout_ms (-1: no
 * limit). Returns 1 ready, 0 timeout, -1 stopping. */
static int h_up_wait(struct h_upstream *u, int fd, short ev, int timeout_ms)
{
    struct pollfd p[2] = {{u->stop_pipe[0], POLLIN, 0}, {fd, ev, 0}};
    int r;

    for (;;) {
        r = poll(p, fd >= 0 ? 2 : 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        break;
    }
    if (r < 0 || (p[0].revents & POLLIN) != 0)
        return -1;
    return r > 0 ? 1 : 0;
}

/* Reads more bytes into the connection buffer. Returns bytes, 0 on EOF, -1 on error/stop. */
static int h_up_fill(struct h_uconn *c)
{
    ssize_t n;

    if (c->off > 0 && c->off == c->len)
        c->off = c->len = 0;
    if (c->cap - c->len < 65536) {
        if (c->off > 0) {
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
    }
    for (;;) {
        if (h_up_wait(c->u, c->fd, POLLIN, -1) < 0)
            return -1;
        n = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return -1;
        break;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    pthread_mutex_lock(&c->u->mu);
    c->u->bytes += (uint64_t)n;
    pthread_mutex_unlock(&c->u->mu);
    return (int)n;
}

/* Reads a CRLF line (pointer into the buffer, CRLF consumed). Returns 1, or <= 0. */
static int h_up_line(struct h_uconn *c, const char **line, size_t *llen)
{
    for (;;) {
        const unsigned char *p = c->buf != NULL ? c->buf + c->off : NULL;
        size_t n = c->len - c->off;
        size_t i;
        int rc;

        for (i = 0; p != NULL && i + 1 < n; i++) {
            if (p[i] == '\r' && p[i + 1] == '\n') {
                *line = (const char *)p;
                *llen = i;
                c->off += i + 2;
                return 1;
            }
        }
        if (n > 65536)
            return -1;
        rc = h_up_fill(c);
        if (rc <= 0)
            return rc;
    }
}

/* Body accumulator of the upstream. */
struct h_up_sink {
    EVP_MD_CTX *md;         /* running SHA-256 */
    struct h_up_body *body; /* results */
};

/* Feeds body bytes to the sink. */
static void h_up_put(struct h_up_sink *s, const unsigned char *p, size_t n)
{
    size_t done = 0;

    EVP_DigestUpdate(s->md, p, n);
    while (s->body->pattern_ok && done < n) {
        size_t take = n - done < H_PATTERN_RUN ? n - done : H_PATTERN_RUN;
        if (memcmp(p + done, harness_pattern_at(s->body->len + done), take) != 0)
            s->body->pattern_ok = 0;
        done += take;
    }
    s->body->len += n;
}

/* Consumes up to want bytes of body from the connection. Returns 0, or -1 when the
 * connection ended first. */
static int h_up_take(struct h_uconn *c, struct h_up_sink *s, uint64_t want)
{
    while (want > 0) {
        size_t avail = c->len - c->off;

        if (avail == 0) {
            if (h_up_fill(c) <= 0)
                return -1;
            continue;
        }
        if (avail > want)
            avail = (size_t)want;
        h_up_put(s, c->buf + c->off, avail);
        c->off += avail;
        want -= avail;
    }
    return 0;
}

/* Reads a chunked request body. Returns 0 or -1. */
static int h_up_chunked(struct h_uconn *c, struct h_up_sink *s)
{
    const char *line;
    size_t llen;

    for (;;) {
        char tmp[32];
        uint64_t size;

        if (h_up_line(c, &line, &llen) <= 0)
            return -1;
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(llen < 31 ? llen : 31), line);
        size = strtoull(tmp, NULL, 16);
        if (size == 0)
            break;
        if (h_up_take(c, s, size) != 0 || h_up_line(c, &line, &llen) <= 0 || llen != 0)
            return -1;
    }
    for (;;) {
        if (h_up_line(c, &line, &llen) <= 0)
            return -1;
        if (llen == 0)
            return 0;
    }
}

/* Reads one request (head + body) and records it. Returns the request index, -1 when the
 * connection ended or broke. */
static long h_up_read_request(struct h_uconn *c)
{
    struct h_upstream *u = c->u;
    size_t hl = 0;
    char *head;
    char val[64];
    struct h_up_body body;
    struct h_up_sink sink;
    unsigned char md[32];
    unsigned int mdlen = 0;
    unsigned idx;
    int rc = 0;

    for (;;) {
        const char *p = c->buf != NULL ? (const char *)c->buf + c->off : NULL;
        const char *e = p != NULL ? strstr(p, "\r\n\r\n") : NULL;
        int n;

        if (e != NULL) {
            hl = (size_t)(e - p) + 4;
            break;
        }
        if (c->len - c->off > H_UP_MAX_HEAD)
            return -1;
        n = h_up_fill(c);
        if (n <= 0) {
            if (c->len > c->off)
                h_up_log(u, "conn %u: closed after %zu bytes of an incomplete head", c->id,
                         c->len - c->off);
            return -1;
        }
    }
    head = strndup((const char *)c->buf + c->off, hl);
    c->off += hl;
    pthread_mutex_lock(&u->mu);
    idx = u->n_req++;
    if (idx < H_UP_MAX_REQS)
        u->rec[idx].head = strdup(head);
    pthread_mutex_unlock(&u->mu);
    h_up_log(u, "conn %u: request %u head:\n%.*s", c->id, idx, (int)(hl > 2048 ? 2048 : hl - 4),
             head);
    memset(&body, 0, sizeof(body));
    body.pattern_ok = 1;
    sink.md = EVP_MD_CTX_new();
    sink.body = &body;
    EVP_DigestInit_ex(sink.md, EVP_sha256(), NULL);
    if (harness_head_header(head, "Transfer-Encoding", val, sizeof(val)) > 0 &&
        strcasecmp(val, "chunked") == 0)
        rc = h_up_chunked(c, &sink);
    else if (harness_head_header(head, "Content-Length", val, sizeof(val)) > 0)
        rc = h_up_take(c, &sink, strtoull(val, NULL, 10));
    EVP_DigestFinal_ex(sink.md, md, &mdlen);
    EVP_MD_CTX_free(sink.md);
    harness_hex(md, 32, body.sha256);
    body.complete = rc == 0;
    free(head);
    pthread_mutex_lock(&u->mu);
    if (idx < H_UP_MAX_REQS) {
        u->rec[idx].body = body;
        u->rec[idx].done = 1;
    }
    u->n_done++;
    pthread_mutex_unlock(&u->mu);
    h_up_log(u, "conn %u: request %u: body %llu bytes%s", c->id, idx, (unsigned long long)body.len,
             body.complete ? "" : " (incomplete)");
    return rc == 0 ? (long)idx : -1;
}

/* Writes all of data. Returns 0, or -1 on error or stop. */
static int h_up_write(struct h_uconn *c, const void *data, size_t len)
{
    const unsigned char *p = data;

    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (h_up_wait(c->u, c->fd, POLLOUT, -1) <= 0)
                return -1;
            continue;
        }
        return -1;
    }
    return 0;
}

/* Waits until the peer closes (draining what it sends) or the upstream stops. */
static void h_up_stall(struct h_uconn *c)
{
    for (;;) {
        char tmp[4096];
        ssize_t n;

        if (h_up_wait(c->u, c->fd, POLLIN, -1) <= 0)
            return;
        n = read(c->fd, tmp, sizeof(tmp));
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return;
    }
}

/* Runs one script. Returns 1 to keep the connection, 0 to close it. */
static int h_up_run_script(struct h_uconn *c, const struct h_step *s, unsigned idx)
{
    struct h_upstream *u = c->u;

    for (;; s++) {
        switch (s->op) {
        case H_OP_END:
            return 1;
        case H_OP_SEND:
            if (h_up_write(c, s->data, s->len) != 0) {
                h_up_log(u, "conn %u: request %u: write failed", c->id, idx);
                return 0;
            }
            break;
        case H_OP_PATTERN: {
            uint64_t off = 0;
            while (off < s->n) {
                size_t take = s->n - off < H_PATTERN_RUN ? (size_t)(s->n - off) : H_PATTERN_RUN;
                if (h_up_write(c, harness_pattern_at(off), take) != 0) {
                    h_up_log(u, "conn %u: request %u: write failed after %llu pattern bytes", c->id,
                             idx, (unsigned long long)off);
                    return 0;
                }
                off += take;
            }
            break;
        }
        case H_OP_SLEEP:
            if (h_up_wait(u, -1, 0, (int)s->n) < 0)
                return 0;
            break;
        case H_OP_CLOSE:
            h_up_log(u, "conn %u: request %u: closing as scripted", c->id, idx);
            return 0;
        case H_OP_RESET: {
            struct linger lg = {1, 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            h_up_log(u, "conn %u: request %u: resetting as scripted", c->id, idx);
            return 0;
        }
        case H_OP_STALL:
            h_up_log(u, "conn %u: request %u: stalling", c->id, idx);
            h_up_stall(c);
            h_up_log(u, "conn %u: request %u: stall ended (peer closed or stop)", c->id, idx);
            return 0;
        }
    }
}

/* The script for request idx: by route when the upstream has routes, else by index.
 * NULL when no route matches. */
static const struct h_step *h_up_pick(struct h_upstream *u, unsigned idx)
{
    const char *head;
    const char *target;
    size_t i;

    if (u->prefixes == NULL)
        return u->scripts[idx % u->n_scripts];
    if (idx >= H_UP_MAX_REQS)
        return NULL;
    pthread_mutex_lock(&u->mu);
    head = u->rec[idx].head;
    pthread_mutex_unlock(&u->mu);
    target = head != NULL ? strchr(head, ' ') : NULL;
    if (target == NULL)
        return NULL;
    target++;
    for (i = 0; i < u->n_scripts; i++) {
        if (strncmp(target, u->prefixes[i], strlen(u->prefixes[i])) == 0)
            return u->scripts[i];
    }
    return NULL;
}

/* Connection thread: read a request, answer with its script, repeat while kept alive. */
static void *h_up_conn_main(void *arg)
{
    struct h_uconn *c = arg;
    struct h_upstream *u = c->u;

    for (;;) {
        long idx = h_up_read_request(c);
        const struct h_step *script;

        if (idx < 0)
            break;
        script = h_up_pick(u, (unsigned)idx);
        if (script == NULL) {
            h_up_log(u, "conn %u: request %ld: no route; closing", c->id, idx);
            break;
        }
        if (!h_up_run_script(c, script, (unsigned)idx))
            break;
    }
    h_up_log(u, "conn %u: closed", c->id);
    close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    return NULL;
}

/* Accept loop. */
static void *h_up_accept_main(void *arg)
{
    struct h_upstream *u = arg;

    for (;;) {
        struct h_uconn *c;
        int fd;

        if (h_up_wait(u, u->lfd, POLLIN, -1) <= 0)
            break;
        fd = accept4(u->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)
                continue;
            break;
        }
        pthread_mutex_lock(&u->mu);
        if (u->n_conns >= H_UP_MAX_CONNS) {
            pthread_mutex_unlock(&u->mu);
            close(fd);
            continue;
        }
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            pthread_mutex_unlock(&u->mu);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->u = u;
        c->id = ++u->n_conn;
        u->conns[u->n_conns++] = c;
        pthread_mutex_unlock(&u->mu);
        h_up_log(u, "conn %u: accepted", c->id);
        if (pthread_create(&c->th, NULL, h_up_conn_main, c) == 0) {
            c->has_thread = 1;
        } else {
            close(fd);
            c->fd = -1;
        }
    }
    return NULL;
}

/* Copy of one script (steps up to and including the one that ends it) in one allocation:
 * the steps, then the bytes of every H_OP_SEND. Caller frees. */
static struct h_step *h_up_copy_script(const struct h_step *s)
{
    size_t n = 0;
    size_t i;
    size_t bytes = 0;
    struct h_step *out;
    char *tail;

    while (s[n].op != H_OP_END && s[n].op != H_OP_CLOSE && s[n].op != H_OP_STALL &&
           s[n].op != H_OP_RESET)
        n++;
    n++;
    for (i = 0; i < n; i++)
        bytes += s[i].op == H_OP_SEND ? s[i].len + 1 : 0;
    out = malloc(n * sizeof(*out) + bytes);
    if (out == NULL)
        return NULL;
    tail = (char *)(out + n);
    for (i = 0; i < n; i++) {
        out[i] = s[i];
        if (s[i].op == H_OP_SEND) {
            memcpy(tail, s[i].data, s[i].len);
            tail[s[i].len] = '\0';
            out[i].data = tail;
            tail += s[i].len + 1;
        }
    }
    return out;
}

/* Frees the script copies. */
static void h_up_free_scripts(struct h_upstream *u)
{
    size_t i;

    for (i = 0; u->scripts != NULL && i < u->n_scripts; i++)
        free(u->scripts[i]);
    free(u->scripts);
    for (i = 0; u->prefixes != NULL && i < u->n_scripts; i++)
        free(u->prefixes[i]);
    free(u->prefixes);
}

/* Starts an upstream with n scripts and, when routes is not NULL, their route prefixes. */
static struct h_upstream *h_up_start(const struct h_step *const *scripts,
                                     const struct h_route *routes, size_t n)
{
    struct h_upstream *u = calloc(1, sizeof(*u));
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    char path[H_PATH];
    size_t i;
    size_t slot;

    if (u == NULL || n == 0)
        goto fail;
    for (slot = 0; slot < H_UP_MAX_LIVE && h_up_rt.live[slot] != NULL; slot++) {
    }
    if (slot == H_UP_MAX_LIVE)
        goto fail;
    pthread_mutex_init(&u->mu, NULL);
    u->stop_pipe[0] = u->stop_pipe[1] = -1;
    u->scripts = calloc(n, sizeof(*u->scripts));
    if (u->scripts == NULL)
        goto fail;
    u->n_scripts = n;
    if (routes != NULL) {
        u->prefixes = calloc(n, sizeof(*u->prefixes));
        if (u->prefixes == NULL)
            goto fail;
    }
    for (i = 0; i < n; i++) {
        u->scripts[i] = h_up_copy_script(routes != NULL ? routes[i].script : scripts[i]);
        if (u->scripts[i] == NULL)
            goto fail;
        if (routes != NULL) {
            u->prefixes[i] = strdup(routes[i].prefix);
            if (u->prefixes[i] == NULL)
                goto fail;
        }
    }
    u->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (u->lfd < 0)
        goto fail;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(u->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(u->lfd, 128) != 0 ||
        getsockname(u->lfd, (struct sockaddr *)&sa, &sl) != 0)
        goto fail;
    u->port = ntohs(sa.sin_port);
    snprintf(u->url, sizeof(u->url), "http://127.0.0.1:%d", u->port);
    if (pipe2(u->stop_pipe, O_CLOEXEC) != 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/upstream-%d.log", harness_dir(), u->port);
    u->log = fopen(path, "ae");
    if (u->log != NULL)
        setvbuf(u->log, NULL, _IOLBF, 0);
    h_up_log(u, "listening on %s with %zu script(s)", u->url, n);
    if (pthread_create(&u->acceptor, NULL, h_up_accept_main, u) != 0)
        goto fail;
    h_up_rt.live[slot] = u;
    return u;
fail:
    fprintf(stderr, "harness: cannot start a raw upstream: %s\n", strerror(errno));
    if (u != NULL) {
        if (u->lfd > 0)
            close(u->lfd);
        if (u->stop_pipe[0] >= 0) {
            close(u->stop_pipe[0]);
            close(u->stop_pipe[1]);
        }
        if (u->log != NULL)
            fclose(u->log);
        h_up_free_scripts(u);
        free(u);
    }
    return NULL;
}

struct h_upstream *harness_upstream_start(const struct h_step *const *scripts, size_t n)
{
    return h_up_start(scripts, NULL, n);
}

struct h_upstream *harness_upstream_start_routes(const struct h_route *routes, size_t n)
{
    return h_up_start(NULL, routes, n);
}

int harness_upstream_port(const struct h_upstream *u)
{
    return u->port;
}

const char *harness_upstream_url(const struct h_upstream *u)
{
    return u->url;
}

unsigned harness_upstream_connections(struct h_upstream *u)
{
    unsigned n;

    pthread_mutex_lock(&u->mu);
    n = u->n_conn;
    pthread_mutex_unlock(&u->mu);
    return n;
}

unsigned harness_upstream_requests(struct h_upstream *u)
{
    unsigned n;

    pthread_mutex_lock(&u->mu);
    n = u->n_req;
    pthread_mutex_unlock(&u->mu);
    return n;
}

uint64_t harness_upstream_bytes(struct h_upstream *u)
{
    uint64_t n;

    pthread_mutex_lock(&u->mu);
    n = u->bytes;
    pthread_mutex_unlock(&u->mu);
    return n;
}

int harness_upstream_wait(struct h_upstream *u, unsigned n, int timeout_ms)
{
    uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;

    for (;;) {
        unsigned done;

        pthread_mutex_lock(&u->mu);
        done = u->n_done;
        pthread_mutex_unlock(&u->mu);
        if (done >= n)
            return 1;
        if (harness_now_ms() >= deadline)
            return 0;
        harness_sleep_ms(5);
    }
}

char *harness_upstream_head(struct h_upstream *u, unsigned idx)
{
    char *s = NULL;

    pthread_mutex_lock(&u->mu);
    if (idx < u->n_req && idx < H_UP_MAX_REQS && u->rec[idx].head != NULL)
        s = strdup(u->rec[idx].head);
    pthread_mutex_unlock(&u->mu);
    return s;
}

int harness_upstream_body(struct h_upstream *u, unsigned idx, struct h_up_body *out)
{
    int rc = -1;

    pthread_mutex_lock(&u->mu);
    if (idx < H_UP_MAX_REQS && idx < u->n_req && u->rec[idx].done) {
        *out = u->rec[idx].body;
        rc = 0;
    }
    pthread_mutex_unlock(&u->mu);
    return rc;
}

void harness_upstream_stop(struct h_upstream *u)
{
    size_t i;
    char b = 'x';

    if (u == NULL)
        return;
    for (i = 0; i < H_UP_MAX_LIVE; i++) {
        if (h_up_rt.live[i] == u)
            h_up_rt.live[i] = NULL;
    }
    if (write(u->stop_pipe[1], &b, 1) != 1)
        fprintf(stderr, "harness: upstream stop pipe: %s\n", strerror(errno));
    shutdown(u->lfd, SHUT_RDWR);
    pthread_join(u->acceptor, NULL);
    for (i = 0; i < u->n_conns; i++) {
        struct h_uconn *c = u->conns[i];
        if (c->has_thread)
            pthread_join(c->th, NULL);
        free(c->buf);
        free(c);
    }
    for (i = 0; i < H_UP_MAX_REQS; i++)
        free(u->rec[i].head);
    close(u->lfd);
    close(u->stop_pipe[0]);
    close(u->stop_pipe[1]);
    if (u->log != NULL)
        fclose(u->log);
    h_up_free_scripts(u);
    pthread_mutex_destroy(&u->mu);
    free(u);
}

void harness_upstream_stop_all(void)
{
    size_t i;

    for (i = 0; i < H_UP_MAX_LIVE; i++) {
        if (h_up_rt.live[i] != NULL)
            harness_upstream_stop(h_up_rt.live[i]);
    }
}
