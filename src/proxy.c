/* proxy.c - streaming proxy engine: exchanges between libmicrohttpd connections
 * and upstream sockets. One engine per listener worker thread: its epoll set
 * holds the upstream connections (and the worker adds libmicrohttpd's own epoll
 * fd), so client and upstream events of a request are handled by one thread. */
#include "moat/proxy.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "moat/fwd.h"
#include "moat/http1.h"
#include "moat/log.h"
#include "moat/uptls.h"

#define PX_REQ_BODY_BUF (32 * 1024) /* request body bytes buffered per exchange */
#define PX_RESP_BUF (32 * 1024)     /* response head / body buffer per exchange */
#define PX_HEAD_SLACK 4096          /* forwarding headers added to the client's head */
#define PX_CHUNK_OVERHEAD 24        /* "<hex>\r\n" + "\r\n" + final "0\r\n\r\n" room */
#define PX_TICK_MS 100              /* deadline sweep period */
#define PX_SWEEP_BATCH 64           /* exchanges or idle connections handled per sweep pass */
#define PX_FREE_MAX 64              /* exchanges kept for reuse */

enum send_state {
    SEND_CONNECTING = 0, /* non-blocking connect in progress */
    SEND_HANDSHAKE,      /* https:// upstream: TLS handshake in progress */
    SEND_ACTIVE,         /* writing head/body as it comes */
    SEND_DONE,           /* every request byte written */
    SEND_ABANDONED,      /* upstream answered without reading it all: drop the rest */
};

enum recv_state {
    RECV_HEAD = 0,   /* collecting the response head */
    RECV_HEAD_READY, /* head parsed; waiting for the MHD side to take it */
    RECV_BODY,       /* streaming the body */
    RECV_DONE,       /* body complete */
};

/* One upstream connection. Registered in the engine's epoll for its whole life
 * (events name the upconn, never an exchange, so a finished exchange can go at
 * once); freed only by the I/O thread between epoll batches (retired list). */
struct upconn {
    int fd;                      /* socket (owned) */
    struct moat_uptls_conn *tls; /* TLS over fd for an https:// upstream (owned), else NULL */
    struct moat_exchange *ex;    /* exchange using it; NULL while idle (px->pool_lock) */
    int idle;                    /* in the idle stack (px->pool_lock) */
    uint64_t idle_since_ms;      /* when it went idle */
    struct upconn *next;         /* retired list link */
};

struct moat_exchange {
    struct moat_proxy *px;       /* engine (borrowed) */
    pthread_mutex_t lock;        /* guards the fields below */
    atomic_int refs;             /* MHD request, response, active list, event in progress */
    struct MHD_Connection *conn; /* client connection (borrowed from MHD) */

    /* client side */
    int suspended;            /* we suspended conn and owe it a resume */
    uint64_t park_until_ms;   /* waiting for the head unsuspended until then (0 = not yet) */
    int mhd_gone;             /* request completed/aborted on the MHD side */
    enum moat_body_kind body; /* client body framing */
    int head_request;         /* method is HEAD */
    int mhd_wants_space;      /* conn suspended until the request buffer drains */

    /* upstream side */
    struct upconn *uc;                 /* upstream connection, NULL when none */
    int started;                       /* moat_exchange_start() ran */
    int reused;                        /* uc came from the pool */
    int retried;                       /* a stale pooled connection was already replaced */
    enum send_state send;              /* request direction */
    enum recv_state recv;              /* response direction */
    int io_done;                       /* nothing more to do upstream */
    int failed;                        /* failed: status/reason below */
    int fail_status;                   /* 502/503/504 when no head was delivered */
    const char *fail_reason;           /* static reason label */
    _Atomic uint64_t deadline_ms;      /* upstream deadline in force, 0 = none */
    uint64_t start_ms;                 /* upstream work started */
    uint64_t head_ms;                  /* response head complete */
    int in_active;                     /* linked in px->list (px->list_lock) */
    struct moat_exchange *next, *prev; /* active list links (px->list_lock) */

    /* request buffer: head, then body bytes framed by moat */
    size_t req_r, req_w; /* read and write offsets */
    size_t head_len;     /* bytes of head at the start (for a retry) */
    int req_eof;         /* the client's body is complete */
    int body_started;    /* body bytes entered the buffer */
    uint64_t bytes_up;   /* body bytes taken from the client */

    /* response buffer: raw head, then decoded body bytes */
    size_t resp_r, resp_w;       /* read and write offsets */
    size_t resp_head_len;        /* bytes of the parsed head (while HEAD_READY) */
    uint64_t resp_got;           /* raw response bytes received */
    int upstream_status;         /* status of the final head */
    uint64_t body_left;          /* for LENGTH framing */
    struct moat_chunked chunked; /* for CHUNKED framing */
    int reusable;                /* upstream connection may be pooled afterwards */
    uint64_t bytes_down;         /* body bytes handed to the client */

    /* kept across reuse (not cleared by ex_reset) */
    struct moat_http1_resp head;     /* parsed head (points into resp until taken) */
    char *req;                       /* request buffer (owned), px->req_cap bytes */
    char *resp;                      /* response buffer (owned), PX_RESP_BUF bytes */
    struct moat_exchange *free_next; /* free list link */
};

struct moat_proxy {
    const struct moat_config *cfg; /* borrowed */
    struct moat_upstream *up;      /* borrowed */
    struct moat_uptls *tls;        /* https:// upstream: TLS context (borrowed from up), or NULL */
    size_t req_cap;                /* request buffer size of every exchange */
    int epfd;                      /* epoll instance the worker waits on */
    atomic_int stopping;           /* shutting down: no new waits */
    uint64_t last_sweep_ms;        /* last deadline sweep */
    uint64_t last_pool_ms;         /* last idle-pool sweep */
    atomic_uint active;            /* exchanges started and not io_done */
    int busy;                      /* the worker's last wait returned events (worker thread) */

    pthread_mutex_t pool_lock; /* guards idle, n_idle, draining, upconn ex/idle */
    struct upconn **idle;      /* idle stack, cfg->upstream.max_idle entries */
    size_t n_idle;             /* entries used */
    int draining;              /* no more pooling */

    pthread_mutex_t retired_lock; /* guards retired */
    struct upconn *retired;       /* closed upconns, freed by the I/O thread */

    pthread_mutex_t list_lock;  /* guards the active list */
    struct moat_exchange *list; /* exchanges with upstream work in progress */

    pthread_mutex_t free_lock;  /* guards the free list */
    struct moat_exchange *free; /* exchanges kept for reuse */
    size_t n_free;              /* entries in free */
};

/* ---------------------------------------------------------------- memory */

static void ex_destroy(struct moat_exchange *ex)
{
    pthread_mutex_destroy(&ex->lock);
    free(ex->req);
    free(ex->resp);
    free(ex);
}

static void ex_unref(struct moat_exchange *ex)
{
    struct moat_proxy *px = ex->px;

    if (atomic_fetch_sub(&ex->refs, 1) != 1)
        return;
    pthread_mutex_lock(&px->free_lock);
    if (px->n_free < PX_FREE_MAX) {
        ex->free_next = px->free;
        px->free = ex;
        px->n_free++;
        ex = NULL;
    }
    pthread_mutex_unlock(&px->free_lock);
    if (ex != NULL)
        ex_destroy(ex);
}

/* Clears the per-request fields of a new or recycled exchange. */
static void ex_reset(struct moat_exchange *ex, struct moat_proxy *px, struct MHD_Connection *conn)
{
    memset(ex, 0, offsetof(struct moat_exchange, head));
    pthread_mutex_init(&ex->lock, NULL);
    atomic_init(&ex->refs, 1);
    atomic_init(&ex->deadline_ms, 0);
    ex->px = px;
    ex->conn = conn;
}

/* ---------------------------------------------------------------- pool */

/* Closes an upstream connection (any thread): out of epoll, fd closed and
 * counted, the struct retired for the I/O thread to free. */
static void uc_close(struct moat_proxy *px, struct upconn *uc)
{
    pthread_mutex_lock(&px->pool_lock);
    uc->ex = NULL;
    pthread_mutex_unlock(&px->pool_lock);
    epoll_ctl(px->epfd, EPOLL_CTL_DEL, uc->fd, NULL);
    moat_uptls_conn_free(uc->tls);
    uc->tls = NULL;
    moat_upstream_close(px->up, uc->fd);
    uc->fd = -1;
    pthread_mutex_lock(&px->retired_lock);
    uc->next = px->retired;
    px->retired = uc;
    pthread_mutex_unlock(&px->retired_lock);
}

/* Puts a connection in the idle stack, or closes it when full or draining. */
static void pool_put(struct moat_proxy *px, struct upconn *uc)
{
    int pooled = 0;

    pthread_mutex_lock(&px->pool_lock);
    if (!px->draining && px->n_idle < px->cfg->upstream.max_idle) {
        uc->ex = NULL;
        uc->idle = 1;
        uc->idle_since_ms = moat_now_ms();
        px->idle[px->n_idle++] = uc;
        pooled = 1;
    }
    pthread_mutex_unlock(&px->pool_lock);
    if (!pooled)
        uc_close(px, uc);
}

/* Takes the most recently used idle connection for ex, or NULL. */
static struct upconn *pool_take(struct moat_proxy *px, struct moat_exchange *ex)
{
    struct upconn *uc = NULL;

    pthread_mutex_lock(&px->pool_lock);
    if (px->n_idle > 0) {
        uc = px->idle[--px->n_idle];
        uc->idle = 0;
        uc->ex = ex;
    }
    pthread_mutex_unlock(&px->pool_lock);
    return uc;
}

/* Removes uc from the idle stack if it is still there. Returns 1 when removed
 * (the caller then owns it). */
static int pool_remove(struct moat_proxy *px, struct upconn *uc)
{
    size_t i;
    int found = 0;

    pthread_mutex_lock(&px->pool_lock);
    if (uc->idle) {
        for (i = 0; i < px->n_idle; i++) {
            if (px->idle[i] == uc) {
                memmove(&px->idle[i], &px->idle[i + 1], (px->n_idle - i - 1) * sizeof(uc));
                px->n_idle--;
                found = 1;
                break;
            }
        }
        uc->idle = 0;
    }
    pthread_mutex_unlock(&px->pool_lock);
    return found;
}

/* Closes the oldest idle connection (to make room under max_connections). */
static int pool_evict_oldest(struct moat_proxy *px)
{
    struct upconn *uc = NULL;

    pthread_mutex_lock(&px->pool_lock);
    if (px->n_idle > 0) {
        uc = px->idle[0];
        memmove(&px->idle[0], &px->idle[1], (px->n_idle - 1) * sizeof(uc));
        px->n_idle--;
        uc->idle = 0;
    }
    pthread_mutex_unlock(&px->pool_lock);
    if (uc != NULL)
        uc_close(px, uc);
    return uc != NULL;
}

/* Closes idle connections older than upstream.keepalive_timeout (or all), in
 * batches of PX_SWEEP_BATCH so that no socket is closed under the pool lock. */
static void pool_sweep(struct moat_proxy *px, int all)
{
    struct upconn *victims[PX_SWEEP_BATCH];
    size_t n, i, kept;
    uint64_t now = moat_now_ms();

    do {
        n = kept = 0;
        pthread_mutex_lock(&px->pool_lock);
        for (i = 0; i < px->n_idle; i++) {
            struct upconn *uc = px->idle[i];
            if (n < PX_SWEEP_BATCH &&
                (all || now - uc->idle_since_ms >= px->cfg->upstream.keepalive_timeout_ms)) {
                uc->idle = 0;
                victims[n++] = uc;
            } else {
                px->idle[kept++] = uc;
            }
        }
        px->n_idle = kept;
        pthread_mutex_unlock(&px->pool_lock);
        for (i = 0; i < n; i++)
            uc_close(px, victims[i]);
    } while (n == PX_SWEEP_BATCH);
}

/* ---------------------------------------------------------------- I/O */

/* Decides, under ex->lock, whether the MHD connection must be resumed.
 * Returns 1 when the caller must call MHD_resume_connection() after unlocking. */
static int ex_take_resume(struct moat_exchange *ex)
{
    if (ex->suspended && !ex->mhd_gone) {
        ex->suspended = 0;
        return 1;
    }
    return 0;
}

/* Suspends the client connection (MHD thread, under ex->lock). Once the engine
 * is stopping nobody would resume it: the exchange fails instead and -1 is
 * returned. */
static int ex_suspend(struct moat_exchange *ex)
{
    if (atomic_load(&ex->px->stopping)) {
        if (!ex->failed) {
            ex->failed = 1;
            ex->fail_status = 503;
            ex->fail_reason = "shutdown";
        }
        return -1;
    }
    if (!ex->suspended) {
        ex->suspended = 1;
        MHD_suspend_connection(ex->conn);
    }
    return 0;
}

static void list_add(struct moat_proxy *px, struct moat_exchange *ex)
{
    pthread_mutex_lock(&px->list_lock);
    atomic_fetch_add(&ex->refs, 1); /* the list's reference */
    ex->prev = NULL;
    ex->next = px->list;
    if (px->list != NULL)
        px->list->prev = ex;
    px->list = ex;
    ex->in_active = 1;
    pthread_mutex_unlock(&px->list_lock);
}

/* Unlinks ex from the active list. Returns 1 when the caller must drop the
 * list's reference (never the last one: every caller holds another). */
static int list_del(struct moat_proxy *px, struct moat_exchange *ex)
{
    int was = 0;

    pthread_mutex_lock(&px->list_lock);
    if (ex->in_active) {
        if (ex->prev != NULL)
            ex->prev->next = ex->next;
        else
            px->list = ex->next;
        if (ex->next != NULL)
            ex->next->prev = ex->prev;
        ex->next = ex->prev = NULL;
        ex->in_active = 0;
        was = 1;
    }
    pthread_mutex_unlock(&px->list_lock);
    return was;
}

/* Nothing more to do upstream: pool or close the connection, leave the list. */
static void io_finish(struct moat_exchange *ex)
{
    struct moat_proxy *px = ex->px;
    int reusable = ex->reusable && ex->send == SEND_DONE && ex->recv == RECV_DONE && !ex->failed;

    if (ex->io_done)
        return;
    if (ex->uc != NULL) {
        if (reusable)
            pool_put(px, ex->uc);
        else
            uc_close(px, ex->uc);
        ex->uc = NULL;
    }
    ex->io_done = 1;
    atomic_store(&ex->deadline_ms, 0);
    atomic_fetch_sub(&px->active, 1);
    if (list_del(px, ex))
        atomic_fetch_sub(&ex->refs, 1); /* the list's reference; never the last */
}

/* Fails the exchange. Before a head was delivered the client gets `status`;
 * after it, the client connection is aborted mid-body. */
static void io_fail(struct moat_exchange *ex, int status, const char *reason)
{
    if (!ex->failed) {
        ex->failed = 1;
        ex->fail_status = status;
        ex->fail_reason = reason;
    }
    ex->reusable = 0;
    io_finish(ex);
}

static void set_deadline(struct moat_exchange *ex, unsigned ms)
{
    atomic_store(&ex->deadline_ms, ms == 0 ? 0 : moat_now_ms() + ms);
}

/* Wraps the new upstream socket fd for ex: TLS state for an https:// upstream
 * and the epoll registration. Returns the upconn, or NULL with fd closed and
 * *status / *reason set for io_fail. */
static struct upconn *uc_open(struct moat_proxy *px, struct moat_exchange *ex, int fd, int *status,
                              const char **reason)
{
    struct upconn *uc = calloc(1, sizeof(*uc));
    struct epoll_event ev;

    *status = 503;
    *reason = "memory";
    if (uc == NULL)
        goto fail;
    uc->fd = fd;
    if (px->tls != NULL) {
        uc->tls = moat_uptls_conn_new(px->tls, fd);
        if (uc->tls == NULL)
            goto fail;
    }
    uc->ex = ex; /* visible to events from the moment it is registered */
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = uc;
    if (epoll_ctl(px->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        *status = 502;
        *reason = "connect";
        goto fail;
    }
    goto out;
fail:
    if (uc != NULL)
        moat_uptls_conn_free(uc->tls);
    free(uc);
    uc = NULL;
    moat_upstream_close(px->up, fd);
out:
    return uc;
}

/* Gets an upstream connection: pooled first, else a new non-blocking connect. */
static void io_start(struct moat_exchange *ex, int allow_pool)
{
    struct moat_proxy *px = ex->px;
    const struct moat_config *cfg = px->cfg;
    const char *why = "connect";
    struct upconn *uc = allow_pool ? pool_take(px, ex) : NULL;
    int pending = 0;
    int fd = -1;
    int status;
    int rc;

    ex->reused = uc != NULL;
    if (uc == NULL) {
        rc = moat_upstream_connect(px->up, &fd, &pending, &why);
        if (rc != 0 && strcmp(why, "limit") == 0 && pool_evict_oldest(px))
            rc = moat_upstream_connect(px->up, &fd, &pending, &why);
        if (rc != 0) {
            io_fail(ex, strcmp(why, "limit") == 0 ? 503 : 502, why);
            return;
        }
        uc = uc_open(px, ex, fd, &status, &why);
        if (uc == NULL) {
            io_fail(ex, status, why);
            return;
        }
    }
    ex->uc = uc;
    ex->send = pending                          ? SEND_CONNECTING
               : uc->tls != NULL && !ex->reused ? SEND_HANDSHAKE
                                                : SEND_ACTIVE;
    set_deadline(ex, pending ? cfg->upstream.connect_timeout_ms : cfg->upstream.idle_timeout_ms);
}

/* A pooled connection failed before any response byte: try once more on a new
 * connection when the request can be replayed (its head is still buffered). */
static int io_retry(struct moat_exchange *ex)
{
    if (!ex->reused || ex->retried || ex->resp_got > 0 || ex->body_started)
        return 0;
    ex->retried = 1;
    uc_close(ex->px, ex->uc);
    ex->uc = NULL;
    ex->req_r = 0;
    ex->req_w = ex->head_len;
    io_start(ex, 0);
    return 1;
}

/* send() or TLS write on ex's connection: as send(2). */
static ssize_t uc_send(struct upconn *uc, const char *buf, size_t len)
{
    return uc->tls != NULL ? moat_uptls_write(uc->tls, buf, len)
                           : send(uc->fd, buf, len, MSG_NOSIGNAL);
}

/* recv() or TLS read on ex's connection: as recv(2). */
static ssize_t uc_recv(struct upconn *uc, char *buf, size_t len)
{
    return uc->tls != NULL ? moat_uptls_read(uc->tls, buf, len) : recv(uc->fd, buf, len, 0);
}

/* Writes buffered request bytes. Returns 0, or -1 when ex failed. */
static int io_send(struct moat_exchange *ex, int *resume)
{
    const struct moat_config *cfg = ex->px->cfg;
    ssize_t n;

    while (ex->send == SEND_ACTIVE && ex->req_r < ex->req_w) {
        n = uc_send(ex->uc, ex->req + ex->req_r, ex->req_w - ex->req_r);
        if (n > 0) {
            ex->req_r += (size_t)n;
            set_deadline(ex, cfg->upstream.idle_timeout_ms);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        /* The upstream stopped reading. If it is answering, keep reading the
         * answer and drop the rest of the request; else the exchange fails. */
        if (ex->resp_got > 0) {
            ex->send = SEND_ABANDONED;
            ex->reusable = 0;
            ex->req_r = ex->req_w = 0;
            if (ex->mhd_wants_space) {
                ex->mhd_wants_space = 0;
                *resume |= ex_take_resume(ex);
            }
            return 0;
        }
        if (io_retry(ex))
            return ex->io_done ? -1 : 0;
        io_fail(ex, 502, "reset");
        *resume |= ex_take_resume(ex);
        return -1;
    }
    if (ex->send == SEND_ACTIVE && ex->req_r == ex->req_w) {
        if (ex->body_started)
            ex->req_r = ex->req_w = 0; /* body bytes gone out: the buffer is free */
        if (ex->mhd_wants_space) {
            ex->mhd_wants_space = 0;
            *resume |= ex_take_resume(ex);
        }
        if (ex->req_eof) {
            ex->send = SEND_DONE;
            if (ex->recv == RECV_HEAD)
                set_deadline(ex, cfg->upstream.response_timeout_ms);
        } else if (ex->recv == RECV_HEAD) {
            set_deadline(ex, 0); /* waiting for the client is not the upstream's fault */
        }
    }
    return 0;
}

/* Processes freshly received body bytes at resp[resp_w .. resp_w+n). */
static int io_body_bytes(struct moat_exchange *ex, size_t n)
{
    char *p = ex->resp + ex->resp_w;
    size_t out = 0, used = 0;
    const char *why = "protocol";
    enum moat_chunked_rc crc;

    switch (ex->head.framing) {
    case MOAT_FRAME_LENGTH:
        if (n > ex->body_left) {
            n = (size_t)ex->body_left; /* bytes past the body: don't reuse */
            ex->reusable = 0;
        }
        ex->resp_w += n;
        ex->body_left -= n;
        if (ex->body_left == 0)
            ex->recv = RECV_DONE;
        break;
    case MOAT_FRAME_CHUNKED:
        crc = moat_chunked_decode(&ex->chunked, p, n, p, &out, &used, &why);
        if (crc == MOAT_CHUNKED_ERROR) {
            moat_log(MOAT_LOG_WARN, "upstream_protocol_error", "bad chunked body from upstream: %s",
                     why != NULL ? why : "?");
            return -1;
        }
        ex->resp_w += out;
        if (crc == MOAT_CHUNKED_DONE) {
            if (used < n)
                ex->reusable = 0;
            ex->recv = RECV_DONE;
        }
        break;
    case MOAT_FRAME_CLOSE:
        ex->resp_w += n;
        break;
    case MOAT_FRAME_NONE:
        if (n > 0)
            ex->reusable = 0;
        ex->recv = RECV_DONE;
        break;
    }
    return 0;
}

/* Starts the body phase once the MHD side took the head: bytes after the head
 * are moved to the front and processed as body. */
static int io_begin_body(struct moat_exchange *ex)
{
    size_t extra = ex->resp_w - ex->resp_head_len;

    memmove(ex->resp, ex->resp + ex->resp_head_len, extra);
    ex->resp_r = ex->resp_w = 0;
    ex->recv = RECV_BODY;
    ex->body_left = ex->head.content_length;
    ex->reusable = ex->head.keep_alive;
    memset(&ex->chunked, 0, sizeof(ex->chunked));
    if (ex->head.framing == MOAT_FRAME_NONE ||
        (ex->head.framing == MOAT_FRAME_LENGTH && ex->head.content_length == 0)) {
        if (extra > 0)
            ex->reusable = 0;
        ex->recv = RECV_DONE;
        return 0;
    }
    if (extra > 0)
        set_deadline(ex, ex->px->cfg->upstream.idle_timeout_ms);
    return io_body_bytes(ex, extra);
}

/* Tries to parse the head in resp[0..resp_w). Returns -1 when ex failed. */
static int io_parse_head(struct moat_exchange *ex, int *resume)
{
    const char *why = "protocol";
    size_t hlen = 0;
    enum moat_http1_rc rc;

    for (;;) {
        rc = moat_http1_parse_response(ex->resp, ex->resp_w, ex->head_request, &ex->head, &hlen,
                                       &why);
        if (rc == MOAT_HTTP1_PARTIAL) {
            if (ex->resp_w < PX_RESP_BUF)
                return 0;
            why = "head_too_large";
        }
        if (rc != MOAT_HTTP1_DONE || ex->head.status == 101) {
            moat_log(MOAT_LOG_WARN, "upstream_protocol_error",
                     "bad response head from upstream: %s",
                     rc == MOAT_HTTP1_DONE ? "unexpected 101" : (why != NULL ? why : "?"));
            io_fail(ex, 502, "protocol");
            *resume |= ex_take_resume(ex);
            return -1;
        }
        if (ex->head.status >= 200)
            break;
        /* Interim 1xx (100, 103): drop it and read on. */
        memmove(ex->resp, ex->resp + hlen, ex->resp_w - hlen);
        ex->resp_w -= hlen;
    }
    ex->resp_head_len = hlen;
    ex->upstream_status = ex->head.status;
    ex->head_ms = moat_now_ms();
    ex->recv = RECV_HEAD_READY;
    set_deadline(ex, 0);
    *resume |= ex_take_resume(ex);
    return 0;
}

/* Reads from the upstream as far as buffer space allows. */
static int io_recv(struct moat_exchange *ex, int *resume)
{
    size_t room;
    ssize_t n;

    for (;;) {
        if (ex->io_done || ex->recv == RECV_HEAD_READY || ex->recv == RECV_DONE ||
            ex->send == SEND_CONNECTING || ex->send == SEND_HANDSHAKE)
            return 0;
        if (ex->recv == RECV_BODY && ex->resp_r == ex->resp_w)
            ex->resp_r = ex->resp_w = 0;
        if (ex->recv == RECV_BODY && ex->resp_r > 0 && PX_RESP_BUF - ex->resp_w < PX_RESP_BUF / 4) {
            memmove(ex->resp, ex->resp + ex->resp_r, ex->resp_w - ex->resp_r);
            ex->resp_w -= ex->resp_r;
            ex->resp_r = 0;
        }
        room = PX_RESP_BUF - ex->resp_w;
        if (room == 0) {
            set_deadline(ex, 0); /* waiting for the client to read */
            return 0;
        }
        if (ex->recv == RECV_BODY && ex->head.framing == MOAT_FRAME_LENGTH &&
            room > ex->body_left + 1)
            room = (size_t)ex->body_left + 1; /* one more byte reveals excess */
        n = uc_recv(ex->uc, ex->resp + ex->resp_w, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* Waiting for the upstream again (e.g. after the client drained a
             * full buffer): make sure a deadline is running. */
            if (ex->recv == RECV_BODY && atomic_load(&ex->deadline_ms) == 0)
                set_deadline(ex, ex->px->cfg->upstream.idle_timeout_ms);
            return 0;
        }
        if (n <= 0) {
            if (n == 0 && ex->recv == RECV_BODY && ex->head.framing == MOAT_FRAME_CLOSE) {
                ex->recv = RECV_DONE;
                ex->reusable = 0;
                *resume |= ex_take_resume(ex);
                return 0;
            }
            if (ex->recv == RECV_HEAD && io_retry(ex))
                return ex->io_done ? -1 : 0;
            io_fail(ex, 502, n == 0 ? "closed" : "reset");
            *resume |= ex_take_resume(ex);
            return -1;
        }
        ex->resp_got += (uint64_t)n;
        if (ex->recv == RECV_HEAD) {
            ex->resp_w += (size_t)n;
            if (io_parse_head(ex, resume) != 0)
                return -1;
            continue;
        }
        if (io_body_bytes(ex, (size_t)n) != 0) {
            io_fail(ex, 502, "protocol");
            *resume |= ex_take_resume(ex);
            return -1;
        }
        set_deadline(ex, ex->recv == RECV_DONE ? 0 : ex->px->cfg->upstream.idle_timeout_ms);
        *resume |= ex_take_resume(ex);
    }
}

/* Finishes ex when both directions are complete. */
static void io_settle(struct moat_exchange *ex, int *resume)
{
    if (!ex->io_done && ex->recv == RECV_DONE &&
        (ex->send == SEND_DONE || ex->send == SEND_ABANDONED)) {
        *resume |= ex_take_resume(ex);
        io_finish(ex);
    }
}

/* Advances the TLS handshake with an https:// upstream. Returns 0 (done, or
 * waiting for the next socket event), or -1 when ex failed. */
static int io_handshake(struct moat_exchange *ex, int *resume)
{
    const char *why = "tls_handshake";
    char detail[256];
    int rc = moat_uptls_handshake(ex->uc->tls, &why, detail, sizeof(detail));

    if (rc > 0)
        ex->send = SEND_ACTIVE;
    if (rc >= 0)
        return 0;
    moat_log(MOAT_LOG_WARN, "upstream_tls_failed", "TLS to %s failed: %s",
             ex->px->cfg->upstream.url, detail);
    io_fail(ex, 502, why);
    *resume |= ex_take_resume(ex);
    return -1;
}

/* Moves ex forward as far as it can go without blocking (ex->lock held). */
static void io_progress(struct moat_exchange *ex, int *resume)
{
    int err;

    if (ex->io_done || !ex->started)
        return;
    if (ex->mhd_gone || ex->failed) {
        io_finish(ex);
        return;
    }
    if (ex->send == SEND_CONNECTING) {
        err = moat_upstream_connect_result(ex->uc->fd);
        if (err == EINPROGRESS || err == EALREADY)
            return;
        if (err != 0) {
            moat_log(MOAT_LOG_DEBUG, "upstream_connect_failed", "%s", strerror(err));
            io_fail(ex, 502, "connect");
            *resume |= ex_take_resume(ex);
            return;
        }
        ex->send = ex->uc->tls != NULL ? SEND_HANDSHAKE : SEND_ACTIVE;
        set_deadline(ex, ex->px->cfg->upstream.idle_timeout_ms);
    }
    if (ex->send == SEND_HANDSHAKE && (io_handshake(ex, resume) != 0 || ex->send == SEND_HANDSHAKE))
        return; /* failed, or waiting for the next socket event */
    if (io_send(ex, resume) != 0 || ex->io_done || ex->send == SEND_CONNECTING)
        return;
    if (io_recv(ex, resume) != 0 || ex->io_done)
        return;
    io_settle(ex, resume);
}

/* I/O thread: progress (or fail) ex, then resume its connection when due. */
static void io_step(struct moat_exchange *ex, int fail_status, const char *fail_reason)
{
    struct MHD_Connection *conn = ex->conn;
    int resume = 0;

    pthread_mutex_lock(&ex->lock);
    if (!ex->io_done) {
        if (fail_status != 0) {
            io_fail(ex, fail_status, fail_reason);
            resume = ex_take_resume(ex);
        } else {
            io_progress(ex, &resume);
        }
    }
    pthread_mutex_unlock(&ex->lock);
    if (resume)
        MHD_resume_connection(conn);
}

void moat_proxy_event(struct moat_proxy *px, void *ptr, uint32_t events)
{
    struct upconn *uc = ptr;
    struct moat_exchange *ex;
    int idle;

    pthread_mutex_lock(&px->pool_lock);
    ex = uc->ex;
    if (ex != NULL)
        atomic_fetch_add(&ex->refs, 1);
    idle = uc->idle;
    pthread_mutex_unlock(&px->pool_lock);
    if (ex != NULL) {
        io_step(ex, 0, NULL);
        ex_unref(ex);
    } else if (idle && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        /* The upstream closed (or wrote to) an idle connection: drop it now,
         * unless it only sent TLS records without data (session tickets). */
        if (pool_remove(px, uc)) {
            if (uc->tls != NULL && !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
                moat_uptls_idle_ok(uc->tls)) {
                pool_put(px, uc);
            } else {
                moat_log(MOAT_LOG_DEBUG, "upstream_idle_closed",
                         "the app closed or wrote to an idle connection (events 0x%x)",
                         (unsigned)events);
                uc_close(px, uc);
            }
        }
    }
}

/* Fails exchanges whose deadline passed (all of them when stopping). */
static void io_sweep(struct moat_proxy *px, int stopping)
{
    struct moat_exchange *batch[PX_SWEEP_BATCH];
    struct moat_exchange *ex;
    uint64_t now = moat_now_ms();
    uint64_t dl;
    size_t n, i;
    int more = 1;

    while (more) {
        n = 0;
        more = 0;
        pthread_mutex_lock(&px->list_lock);
        for (ex = px->list; ex != NULL; ex = ex->next) {
            dl = atomic_load(&ex->deadline_ms);
            if (!stopping && (dl == 0 || now < dl))
                continue;
            if (n == PX_SWEEP_BATCH) {
                more = 1;
                break;
            }
            atomic_fetch_add(&ex->refs, 1);
            batch[n++] = ex;
        }
        pthread_mutex_unlock(&px->list_lock);
        for (i = 0; i < n; i++) {
            ex = batch[i];
            if (stopping) {
                io_step(ex, 503, "shutdown");
            } else {
                int connecting;

                pthread_mutex_lock(&ex->lock);
                connecting = ex->send == SEND_CONNECTING;
                pthread_mutex_unlock(&ex->lock);
                io_step(ex, 504, connecting ? "connect_timeout" : "timeout");
            }
            ex_unref(ex);
        }
    }
}

static void io_free_retired(struct moat_proxy *px)
{
    struct upconn *uc, *next;

    pthread_mutex_lock(&px->retired_lock);
    uc = px->retired;
    px->retired = NULL;
    pthread_mutex_unlock(&px->retired_lock);
    for (; uc != NULL; uc = next) {
        next = uc->next;
        free(uc);
    }
}

/* ---------------------------------------------------------------- engine */

struct moat_proxy *moat_proxy_new(const struct moat_config *cfg, struct moat_upstream *up,
                                  char *err, size_t errlen)
{
    struct moat_proxy *px = calloc(1, sizeof(*px));

    if (px == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    px->cfg = cfg;
    px->up = up;
    px->tls = moat_upstream_tls(up);
    px->req_cap = (size_t)cfg->limits.max_header_bytes + cfg->limits.max_uri_bytes + PX_HEAD_SLACK +
                  PX_REQ_BODY_BUF;
    px->last_sweep_ms = px->last_pool_ms = moat_now_ms();
    pthread_mutex_init(&px->pool_lock, NULL);
    pthread_mutex_init(&px->retired_lock, NULL);
    pthread_mutex_init(&px->list_lock, NULL);
    pthread_mutex_init(&px->free_lock, NULL);
    px->idle = calloc(cfg->upstream.max_idle > 0 ? cfg->upstream.max_idle : 1, sizeof(*px->idle));
    px->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (px->idle == NULL || px->epfd < 0) {
        snprintf(err, errlen, "cannot create the proxy event loop: %s", strerror(errno));
        moat_proxy_free(px);
        return NULL;
    }
    return px;
}

void moat_proxy_set_busy(struct moat_proxy *px, int busy)
{
    px->busy = busy;
}

int moat_proxy_epoll_fd(struct moat_proxy *px)
{
    return px->epfd;
}

void moat_proxy_tick(struct moat_proxy *px)
{
    uint64_t now;

    /* Upconns retired during the batch just handled can go: no event that
     * names them is pending any more. */
    io_free_retired(px);
    now = moat_now_ms();
    if (now - px->last_sweep_ms >= PX_TICK_MS) {
        io_sweep(px, 0);
        px->last_sweep_ms = now;
    }
    if (now - px->last_pool_ms >= 1000) {
        pool_sweep(px, 0);
        px->last_pool_ms = now;
    }
}

unsigned moat_proxy_active(struct moat_proxy *px)
{
    return atomic_load(&px->active);
}

unsigned moat_proxy_idle(struct moat_proxy *px)
{
    size_t n;

    pthread_mutex_lock(&px->pool_lock);
    n = px->n_idle;
    pthread_mutex_unlock(&px->pool_lock);
    return (unsigned)n;
}

void moat_proxy_shutdown(struct moat_proxy *px)
{
    atomic_store(&px->stopping, 1);
    /* Fail whatever is left so every suspended connection is resumed. */
    io_sweep(px, 1);
    pthread_mutex_lock(&px->pool_lock);
    px->draining = 1;
    pthread_mutex_unlock(&px->pool_lock);
    pool_sweep(px, 1);
}

void moat_proxy_free(struct moat_proxy *px)
{
    struct moat_exchange *ex, *next;

    if (px == NULL)
        return;
    pool_sweep(px, 1);
    io_free_retired(px);
    for (ex = px->free; ex != NULL; ex = next) {
        next = ex->free_next;
        ex_destroy(ex);
    }
    if (px->epfd >= 0)
        close(px->epfd);
    pthread_mutex_destroy(&px->pool_lock);
    pthread_mutex_destroy(&px->retired_lock);
    pthread_mutex_destroy(&px->list_lock);
    pthread_mutex_destroy(&px->free_lock);
    free(px->idle);
    free(px);
}

/* ---------------------------------------------------------------- MHD side */

struct moat_exchange *moat_exchange_new(struct moat_proxy *px, struct MHD_Connection *conn)
{
    struct moat_exchange *ex = NULL;

    pthread_mutex_lock(&px->free_lock);
    if (px->free != NULL) {
        ex = px->free;
        px->free = ex->free_next;
        px->n_free--;
    }
    pthread_mutex_unlock(&px->free_lock);
    if (ex != NULL) {
        pthread_mutex_destroy(&ex->lock);
    } else {
        ex = calloc(1, sizeof(*ex));
        if (ex == NULL)
            return NULL;
        ex->req = malloc(px->req_cap);
        ex->resp = malloc(PX_RESP_BUF);
        if (ex->req == NULL || ex->resp == NULL) {
            free(ex->req);
            free(ex->resp);
            free(ex);
            return NULL;
        }
    }
    ex_reset(ex, px, conn);
    return ex;
}

char *moat_exchange_head_buffer(struct moat_exchange *ex, size_t *cap)
{
    *cap = ex->px->req_cap - PX_REQ_BODY_BUF;
    return ex->req;
}

void moat_exchange_start(struct moat_exchange *ex, size_t head_len, enum moat_body_kind body,
                         int head_request)
{
    struct moat_proxy *px = ex->px;
    int resume = 0;

    pthread_mutex_lock(&ex->lock);
    ex->body = body;
    ex->head_request = head_request;
    ex->req_r = 0;
    ex->req_w = head_len;
    ex->head_len = head_len;
    ex->req_eof = body == MOAT_BODY_NONE;
    ex->started = 1;
    ex->start_ms = moat_now_ms();
    atomic_fetch_add(&px->active, 1);
    list_add(px, ex);
    if (atomic_load(&px->stopping)) {
        io_fail(ex, 503, "shutdown");
    } else {
        /* Write the head right away from this thread: no hop to the I/O
         * thread unless the socket would block. */
        io_start(ex, 1);
        if (!ex->io_done && ex->send == SEND_ACTIVE)
            io_send(ex, &resume);
    }
    pthread_mutex_unlock(&ex->lock);
}

/* Space left in the request buffer for body payload (after compaction). */
static size_t req_room(struct moat_exchange *ex)
{
    size_t reserve = ex->body == MOAT_BODY_CHUNKED ? PX_CHUNK_OVERHEAD : 0;
    size_t cap = ex->px->req_cap;

    if (ex->req_r > 0 && ex->req_r == ex->req_w)
        ex->req_r = ex->req_w = 0;
    if (ex->req_r > 0 && cap - ex->req_w < PX_REQ_BODY_BUF / 2) {
        memmove(ex->req, ex->req + ex->req_r, ex->req_w - ex->req_r);
        ex->req_w -= ex->req_r;
        ex->req_r = 0;
    }
    if (cap - ex->req_w <= reserve)
        return 0;
    return cap - ex->req_w - reserve;
}

/* Appends up to *size body bytes to the request buffer, framed. */
static void req_append(struct moat_exchange *ex, const char *data, size_t *size)
{
    size_t n = req_room(ex);
    char hex[20];
    int len;

    if (n > *size)
        n = *size;
    if (n == 0)
        return;
    if (ex->body == MOAT_BODY_CHUNKED) {
        len = snprintf(hex, sizeof(hex), "%zx\r\n", n);
        memcpy(ex->req + ex->req_w, hex, (size_t)len);
        ex->req_w += (size_t)len;
    }
    memcpy(ex->req + ex->req_w, data, n);
    ex->req_w += n;
    if (ex->body == MOAT_BODY_CHUNKED) {
        memcpy(ex->req + ex->req_w, "\r\n", 2);
        ex->req_w += 2;
    }
    ex->body_started = 1;
    ex->bytes_up += n;
    *size -= n;
}

int moat_exchange_feed(struct moat_exchange *ex, const char *data, size_t *size)
{
    int resume = 0;
    size_t before;

    pthread_mutex_lock(&ex->lock);
    while (*size > 0) {
        if (ex->failed || ex->send == SEND_ABANDONED || ex->io_done) {
            /* Nobody upstream wants these bytes: swallow them so the client
             * can finish and get its answer. */
            ex->bytes_up += *size;
            *size = 0;
            break;
        }
        before = *size;
        req_append(ex, data + (before - *size), size);
        data += before - *size;
        if (ex->send == SEND_ACTIVE)
            io_send(ex, &resume);
        if (*size > 0 && ex->req_w - ex->req_r >= PX_REQ_BODY_BUF / 2)
            break; /* the upstream is not keeping up: wait */
        if (before == *size)
            break;
    }
    if (*size > 0) {
        ex->mhd_wants_space = 1;
        if (ex_suspend(ex) != 0) {
            ex->bytes_up += *size;
            *size = 0;
        }
    }
    io_settle(ex, &resume);
    pthread_mutex_unlock(&ex->lock);
    return 0;
}

void moat_exchange_body_done(struct moat_exchange *ex)
{
    int resume = 0;

    pthread_mutex_lock(&ex->lock);
    if (!ex->req_eof) {
        ex->req_eof = 1;
        if (ex->body == MOAT_BODY_CHUNKED && !ex->failed && ex->send != SEND_ABANDONED &&
            !ex->io_done) {
            /* req_room() always keeps PX_CHUNK_OVERHEAD bytes for this. */
            memcpy(ex->req + ex->req_w, "0\r\n\r\n", 5);
            ex->req_w += 5;
        }
        if (ex->send == SEND_ACTIVE && !ex->io_done)
            io_send(ex, &resume);
        io_settle(ex, &resume);
    }
    pthread_mutex_unlock(&ex->lock);
}

/* Whether the connection may wait for its head unsuspended (moat_proxy_set_busy):
 * the worker is busy, the exchange's parking time is not over and nothing
 * suspended it yet. Under ex->lock. */
static int ex_park(struct moat_exchange *ex)
{
    uint64_t now;
    int park = 0;

    if (!ex->px->busy || ex->suspended || atomic_load(&ex->px->stopping))
        goto out;
    now = moat_now_ms();
    if (ex->park_until_ms == 0)
        ex->park_until_ms = now + MOAT_PROXY_PARK_MS;
    park = now < ex->park_until_ms;
out:
    return park;
}

enum moat_exchange_wait moat_exchange_poll(struct moat_exchange *ex, int *status,
                                           const char **reason)
{
    enum moat_exchange_wait rc;

    pthread_mutex_lock(&ex->lock);
    if (ex->recv == RECV_HEAD_READY) {
        rc = MOAT_EXCHANGE_READY;
    } else if (ex->failed) {
        *status = ex->fail_status;
        *reason = ex->fail_reason;
        rc = MOAT_EXCHANGE_FAILED;
    } else if (ex_park(ex)) {
        rc = MOAT_EXCHANGE_WAIT;
    } else if (ex_suspend(ex) == 0) {
        rc = MOAT_EXCHANGE_WAIT;
    } else {
        *status = ex->fail_status;
        *reason = ex->fail_reason;
        rc = MOAT_EXCHANGE_FAILED;
    }
    pthread_mutex_unlock(&ex->lock);
    return rc;
}

/* Content reader: hands decoded body bytes to libmicrohttpd. */
static ssize_t ex_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct moat_exchange *ex = cls;
    int resume = 0;
    ssize_t rc;
    size_t n;

    (void)pos;
    pthread_mutex_lock(&ex->lock);
    n = ex->resp_w - ex->resp_r;
    if (n == 0 && ex->recv == RECV_BODY && !ex->io_done) {
        io_recv(ex, &resume); /* what arrived while the buffer was full */
        n = ex->resp_w - ex->resp_r;
    }
    if (n > 0) {
        if (n > max)
            n = max;
        memcpy(buf, ex->resp + ex->resp_r, n);
        ex->resp_r += n;
        ex->bytes_down += n;
        if (ex->recv == RECV_BODY && !ex->io_done && ex->resp_w == PX_RESP_BUF)
            io_recv(ex, &resume); /* room again: the socket may hold more */
        rc = (ssize_t)n;
    } else if (ex->recv == RECV_DONE) {
        rc = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (ex->failed || ex->io_done) {
        rc = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (ex_suspend(ex) == 0) {
        rc = 0;
    } else {
        rc = MHD_CONTENT_READER_END_WITH_ERROR;
    }
    io_settle(ex, &resume);
    pthread_mutex_unlock(&ex->lock);
    return rc;
}

static void ex_reader_free(void *cls)
{
    ex_unref(cls);
}

/* The head's end-to-end fields (hop-by-hop ones and Date dropped) into out[0..cap);
 * returns how many. */
static size_t ex_end_to_end(const struct moat_http1_resp *head, struct moat_hdr *out, size_t cap)
{
    const char *conn_val = NULL;
    size_t conn_len = 0, i, n = 0;

    for (i = 0; i < head->n_hdrs; i++) {
        if (moat_hdr_name_is(&head->hdrs[i], "Connection")) {
            conn_val = head->hdrs[i].value;
            conn_len = head->hdrs[i].value_len;
        }
    }
    for (i = 0; i < head->n_hdrs && n < cap; i++) {
        const struct moat_hdr *h = &head->hdrs[i];

        if (moat_fwd_is_hop_by_hop(h->name, h->name_len, conn_val, conn_len))
            continue;
        if (moat_hdr_eq_ci(h->name, h->name_len, "Date"))
            continue; /* libmicrohttpd writes its own */
        out[n++] = *h;
    }
    return n;
}

struct MHD_Response *moat_exchange_response(struct moat_exchange *ex, int *status,
                                            size_t *inline_body, moat_exchange_fields_fn fields,
                                            void *arg)
{
    struct moat_hdr e2e[MOAT_HTTP1_MAX_HDRS];
    struct MHD_Response *r = NULL;
    uint64_t size = MHD_SIZE_UNKNOWN;
    size_t block, avail, inline_len = 0;
    int resume = 0;

    pthread_mutex_lock(&ex->lock);
    if (ex->recv != RECV_HEAD_READY)
        goto out;
    if (ex->head.framing == MOAT_FRAME_LENGTH)
        size = ex->head.content_length;
    if (ex->head.framing == MOAT_FRAME_NONE)
        size = !ex->head_request       ? 0
               : ex->head.length_known ? ex->head.content_length
                                       : MHD_SIZE_UNKNOWN;
    /* libmicrohttpd callocs the block with every response: size it to the
     * body so small answers don't pay for clearing 32 KiB. */
    block = PX_RESP_BUF;
    if (ex->head.framing == MOAT_FRAME_LENGTH && ex->head.content_length < block)
        block = ex->head.content_length < 1024 ? 1024 : (size_t)ex->head.content_length;
    if (ex->head.framing == MOAT_FRAME_NONE)
        block = 1024;
    avail = ex->resp_w - ex->resp_head_len;
    if (!ex->head_request &&
        (ex->head.framing == MOAT_FRAME_NONE ||
         (ex->head.framing == MOAT_FRAME_LENGTH && avail >= ex->head.content_length))) {
        /* The whole body is here already (the common small answer): a buffer
         * response lets libmicrohttpd send head and body together. */
        r = MHD_create_response_from_buffer((size_t)size, ex->resp + ex->resp_head_len,
                                            MHD_RESPMEM_MUST_COPY);
        if (r == NULL)
            goto out;
        ex->bytes_down = size;
        inline_len = (size_t)size;
    } else {
        r = MHD_create_response_from_callback(size, block, ex_reader, ex, ex_reader_free);
        if (r == NULL)
            goto out;
        atomic_fetch_add(&ex->refs, 1); /* the response's reference */
    }
    if (fields(arg, r, e2e, ex_end_to_end(&ex->head, e2e, MOAT_HTTP1_MAX_HDRS)) != 0) {
        MHD_destroy_response(r);
        r = NULL;
        goto out;
    }
    *status = ex->head.status;
    *inline_body = inline_len;
    /* From here the head's buffer holds body bytes. */
    if (io_begin_body(ex) != 0) {
        io_fail(ex, 502, "protocol");
    } else if (!ex->io_done) {
        io_recv(ex, &resume); /* bytes that arrived while the head waited */
        io_settle(ex, &resume);
    }
out:
    pthread_mutex_unlock(&ex->lock);
    return r;
}

void moat_exchange_stats_get(struct moat_exchange *ex, struct moat_exchange_stats *out)
{
    pthread_mutex_lock(&ex->lock);
    out->bytes_up = ex->bytes_up;
    out->bytes_down = ex->bytes_down;
    out->upstream_seconds = ex->head_ms != 0 ? (double)(ex->head_ms - ex->start_ms) / 1000.0 : -1.0;
    out->upstream_status = ex->upstream_status;
    out->error = ex->failed ? ex->fail_reason : NULL;
    out->reused = ex->reused;
    pthread_mutex_unlock(&ex->lock);
}

void moat_exchange_release(struct moat_exchange *ex)
{
    pthread_mutex_lock(&ex->lock);
    ex->mhd_gone = 1;
    ex->suspended = 0;
    if (ex->started)
        io_finish(ex); /* pools the connection only when the exchange completed */
    pthread_mutex_unlock(&ex->lock);
    ex_unref(ex);
}
