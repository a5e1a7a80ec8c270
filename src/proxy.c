/* proxy.c - streaming proxy engine: exchanges between libmicrohttpd connections
 * and upstream sockets, driven by one non-blocking epoll I/O thread. */
#include "moat/proxy.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "moat/fwd.h"
#include "moat/http1.h"
#include "moat/log.h"

#define PX_REQ_BODY_BUF (32 * 1024)  /* request body bytes buffered per exchange */
#define PX_RESP_BUF (32 * 1024)      /* response head / body buffer per exchange */
#define PX_CHUNK_OVERHEAD 24         /* "<hex>\r\n" + "\r\n" + final "0\r\n\r\n" room */
#define PX_TICK_MS 100               /* deadline sweep period */
#define PX_EVENTS 64                 /* epoll events per wait */

enum send_state {
    SEND_NEW = 0,     /* not started: the I/O thread has not picked it up */
    SEND_CONNECTING,  /* non-blocking connect in progress */
    SEND_ACTIVE,      /* writing head/body as it comes */
    SEND_DONE,        /* every request byte written */
    SEND_ABANDONED,   /* upstream stopped reading (answered early): drop request bytes */
};

enum recv_state {
    RECV_HEAD = 0,    /* collecting the response head */
    RECV_HEAD_READY,  /* head parsed; waiting for the MHD side to take it */
    RECV_BODY,        /* streaming the body */
    RECV_DONE,        /* body complete */
};

struct moat_exchange {
    struct moat_proxy *px;        /* engine (borrowed) */
    pthread_mutex_t lock;         /* guards all fields below except refs/queue links */
    atomic_int refs;              /* MHD request + I/O thread + response + queue */
    struct MHD_Connection *conn;  /* client connection (borrowed from MHD) */

    /* client side */
    int suspended;                /* we suspended conn and owe it a resume */
    int mhd_gone;                 /* request completed/aborted on the MHD side */
    enum moat_body_kind body;     /* client body framing */
    int head_request;             /* method is HEAD */

    /* upstream side */
    int fd;                       /* upstream socket, -1 when none */
    int reused;                   /* fd came from the pool */
    int retried;                  /* a stale pooled connection was already replaced */
    enum send_state send;         /* request direction */
    enum recv_state recv;         /* response direction */
    int io_done;                  /* the I/O thread is finished with this exchange */
    int failed;                   /* failed: status/reason below */
    int fail_status;              /* 502/503/504 when no head was delivered */
    const char *fail_reason;      /* static reason label */
    int want_data;                /* I/O thread waits for request bytes */
    int want_space;               /* I/O thread waits for response buffer space */
    int mhd_wants_space;          /* MHD side suspended because req buffer was full */
    uint64_t deadline_ms;         /* upstream deadline in force, 0 = none */
    uint64_t start_ms;            /* upstream work started */
    uint64_t head_ms;             /* response head complete */

    /* request buffer: head, then body bytes framed by moat */
    char *req;                    /* buffer (owned) */
    size_t req_cap, req_r, req_w; /* capacity, read and write offsets */
    size_t head_len;              /* bytes of head at the start (for a retry) */
    int req_eof;                  /* the client's body is complete */
    int body_started;             /* body bytes entered the buffer */
    uint64_t bytes_up;            /* body bytes taken from the client */

    /* response buffer: raw head, then decoded body bytes */
    char *resp;                   /* buffer (owned) */
    size_t resp_r, resp_w;        /* read and write offsets */
    size_t resp_head_len;         /* bytes of the parsed head (while HEAD_READY) */
    uint64_t resp_got;            /* raw response bytes received */
    struct moat_http1_resp head;  /* parsed head (points into resp until taken) */
    int upstream_status;          /* status of the final head */
    uint64_t body_left;           /* for LENGTH framing */
    struct moat_chunked chunked;  /* for CHUNKED framing */
    int reusable;                 /* upstream connection may be pooled afterwards */
    uint64_t bytes_down;          /* body bytes handed to the client */

    /* I/O thread bookkeeping (I/O thread only) */
    struct moat_exchange *next, *prev; /* active list */
    int in_active;                /* linked in the active list */
    struct moat_exchange *qnext;  /* kick queue link (guarded by px->qlock) */
    int queued;                   /* in the kick queue (guarded by px->qlock) */
};

struct moat_proxy {
    const struct moat_config *cfg; /* borrowed */
    struct moat_upstream *up;      /* borrowed */
    int epfd;                      /* epoll instance */
    int evfd;                      /* eventfd: kick queue not empty / stop */
    pthread_t thread;              /* the I/O thread */
    int started;                   /* thread running */
    atomic_int stopping;           /* stop requested */
    atomic_uint active;            /* exchanges not io_done */
    pthread_mutex_t qlock;         /* guards the kick queue */
    struct moat_exchange *qhead, *qtail; /* kick queue */
    struct moat_exchange *list;    /* active exchanges (I/O thread only) */
    struct moat_exchange *dead;    /* finished this round, unref'd after the batch */
};

static void ex_unref(struct moat_exchange *ex)
{
    if (atomic_fetch_sub(&ex->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&ex->lock);
    free(ex->req);
    free(ex->resp);
    free(ex);
}

/* Queues ex for the I/O thread and wakes it. Any thread. */
static void ex_kick(struct moat_exchange *ex)
{
    struct moat_proxy *px = ex->px;
    uint64_t one = 1;
    int wake = 0;

    pthread_mutex_lock(&px->qlock);
    if (!ex->queued) {
        ex->queued = 1;
        atomic_fetch_add(&ex->refs, 1);
        ex->qnext = NULL;
        if (px->qtail != NULL)
            px->qtail->qnext = ex;
        else
            px->qhead = ex;
        px->qtail = ex;
        wake = 1;
    }
    pthread_mutex_unlock(&px->qlock);
    if (wake && write(px->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        moat_log(MOAT_LOG_ERROR, "proxy_wake_failed", "eventfd write: %s", strerror(errno));
}

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

/* ---------------------------------------------------------------- I/O side */

static void io_close_fd(struct moat_exchange *ex, int reusable)
{
    struct moat_proxy *px = ex->px;

    if (ex->fd < 0)
        return;
    epoll_ctl(px->epfd, EPOLL_CTL_DEL, ex->fd, NULL);
    if (reusable)
        moat_upstream_put_idle(px->up, ex->fd);
    else
        moat_upstream_close(px->up, ex->fd);
    ex->fd = -1;
}

/* The I/O thread is done with ex: release the socket, leave the active list. */
static void io_finish(struct moat_exchange *ex)
{
    int reusable = ex->reusable && ex->send == SEND_DONE && ex->recv == RECV_DONE &&
                   !ex->failed;

    io_close_fd(ex, reusable);
    ex->io_done = 1;
    ex->deadline_ms = 0;
    atomic_fetch_sub(&ex->px->active, 1);
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

static int io_register(struct moat_exchange *ex)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = ex;
    return epoll_ctl(ex->px->epfd, EPOLL_CTL_ADD, ex->fd, &ev);
}

/* Gets an upstream connection: pooled first, else a new non-blocking connect. */
static void io_start(struct moat_exchange *ex, int allow_pool)
{
    const struct moat_config *cfg = ex->px->cfg;
    const char *why = "connect";
    int pending = 0;
    int fd = allow_pool ? moat_upstream_take_idle(ex->px->up) : -1;

    ex->reused = fd >= 0;
    if (fd < 0 && moat_upstream_connect(ex->px->up, &fd, &pending, &why) != 0) {
        io_fail(ex, strcmp(why, "limit") == 0 ? 503 : 502, why);
        return;
    }
    ex->fd = fd;
    if (io_register(ex) != 0) {
        io_fail(ex, 502, "connect");
        return;
    }
    ex->send = pending ? SEND_CONNECTING : SEND_ACTIVE;
    ex->deadline_ms = moat_now_ms() + (pending ? cfg->upstream.connect_timeout_ms
                                               : cfg->upstream.idle_timeout_ms);
}

/* A pooled connection failed before any response byte: try once more on a new
 * connection when the request can be replayed (its head is still buffered). */
static int io_retry(struct moat_exchange *ex)
{
    if (!ex->reused || ex->retried || ex->resp_got > 0 || ex->body_started)
        return 0;
    ex->retried = 1;
    io_close_fd(ex, 0);
    ex->req_r = 0;
    ex->req_w = ex->head_len;
    io_start(ex, 0);
    return 1;
}

/* Writes buffered request bytes. Returns 0 normally, -1 when ex failed. */
static int io_send(struct moat_exchange *ex, int *resume)
{
    ssize_t n;

    while (ex->send == SEND_ACTIVE && ex->req_r < ex->req_w) {
        n = send(ex->fd, ex->req + ex->req_r, ex->req_w - ex->req_r, MSG_NOSIGNAL);
        if (n > 0) {
            ex->req_r += (size_t)n;
            ex->deadline_ms = moat_now_ms() + ex->px->cfg->upstream.idle_timeout_ms;
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
            *resume |= ex_take_resume(ex);
            return 0;
        }
        if (io_retry(ex))
            return 0;
        io_fail(ex, 502, "reset");
        *resume |= ex_take_resume(ex);
        return -1;
    }
    if (ex->send == SEND_ACTIVE && ex->req_r == ex->req_w) {
        if (ex->req_w > ex->head_len || ex->body_started) {
            /* Body bytes gone out: the buffer is free again. */
            ex->req_r = ex->req_w = 0;
        }
        if (ex->mhd_wants_space) {
            ex->mhd_wants_space = 0;
            *resume |= ex_take_resume(ex);
        }
        if (ex->req_eof) {
            ex->send = SEND_DONE;
            ex->want_data = 0;
            if (ex->recv == RECV_HEAD)
                ex->deadline_ms = moat_now_ms() + ex->px->cfg->upstream.response_timeout_ms;
        } else {
            ex->want_data = 1;
            /* Waiting for the client is not the upstream's fault. */
            if (ex->recv == RECV_HEAD)
                ex->deadline_ms = 0;
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
        if (crc == MOAT_CHUNKED_ERROR)
            return -1;
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

/* Starts the body phase once the MHD side took the head: leftover bytes after
 * the head are moved to the front and processed as body. */
static int io_begin_body(struct moat_exchange *ex)
{
    size_t extra = ex->resp_w - ex->resp_head_len;

    memmove(ex->resp, ex->resp + ex->resp_head_len, extra);
    ex->resp_r = ex->resp_w = 0;
    ex->recv = RECV_BODY;
    ex->body_left = ex->head.content_length;
    ex->reusable = ex->head.keep_alive;
    memset(&ex->chunked, 0, sizeof(ex->chunked));
    if (ex->head.framing == MOAT_FRAME_NONE || (ex->head.framing == MOAT_FRAME_LENGTH &&
                                                ex->head.content_length == 0)) {
        if (extra > 0)
            ex->reusable = 0;
        ex->recv = RECV_DONE;
        return 0;
    }
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
            if (ex->resp_w >= PX_RESP_BUF) {
                io_fail(ex, 502, "protocol");
                *resume |= ex_take_resume(ex);
                return -1;
            }
            return 0;
        }
        if (rc == MOAT_HTTP1_ERROR || ex->head.status == 101) {
            moat_log(MOAT_LOG_WARN, "upstream_protocol_error", "bad response head from upstream: %s",
                     rc == MOAT_HTTP1_ERROR ? why : "unexpected 101");
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
    ex->deadline_ms = 0;
    *resume |= ex_take_resume(ex);
    return 0;
}

/* Reads from the upstream as far as buffer space allows. */
static int io_recv(struct moat_exchange *ex, int *resume)
{
    ssize_t n;
    size_t room;
    uint64_t now;

    for (;;) {
        if (ex->recv == RECV_HEAD_READY || ex->recv == RECV_DONE)
            return 0;
        if (ex->recv == RECV_BODY && ex->resp_r == ex->resp_w)
            ex->resp_r = ex->resp_w = 0;
        if (ex->recv == RECV_BODY && ex->resp_w == PX_RESP_BUF && ex->resp_r > 0) {
            memmove(ex->resp, ex->resp + ex->resp_r, ex->resp_w - ex->resp_r);
            ex->resp_w -= ex->resp_r;
            ex->resp_r = 0;
        }
        room = PX_RESP_BUF - ex->resp_w;
        if (room == 0) {
            ex->want_space = 1;
            ex->deadline_ms = 0; /* waiting for the client */
            return 0;
        }
        if (ex->recv == RECV_BODY && ex->head.framing == MOAT_FRAME_LENGTH &&
            room > ex->body_left + 1)
            room = (size_t)ex->body_left + 1; /* one more byte reveals excess */
        n = recv(ex->fd, ex->resp + ex->resp_w, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0) {
            if (n == 0 && ex->recv == RECV_BODY && ex->head.framing == MOAT_FRAME_CLOSE) {
                ex->recv = RECV_DONE;
                ex->reusable = 0;
                *resume |= ex_take_resume(ex);
                return 0;
            }
            if (ex->recv == RECV_HEAD && io_retry(ex))
                return 0;
            io_fail(ex, 502, n == 0 ? "closed" : "reset");
            *resume |= ex_take_resume(ex);
            return -1;
        }
        ex->resp_got += (uint64_t)n;
        now = moat_now_ms();
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
        ex->deadline_ms = now + ex->px->cfg->upstream.idle_timeout_ms;
        ex->want_space = 0;
        *resume |= ex_take_resume(ex);
    }
}

/* Moves ex forward as far as it can go without blocking. I/O thread, ex->lock held. */
static void io_progress(struct moat_exchange *ex, int *resume)
{
    int err;

    if (ex->io_done)
        return;
    if (ex->mhd_gone || ex->failed) {
        /* The client went away, or the MHD side found the response unusable:
         * nothing more to do upstream (io_finish pools only complete exchanges). */
        io_finish(ex);
        return;
    }
    if (ex->send == SEND_NEW) {
        ex->start_ms = moat_now_ms();
        io_start(ex, 1);
        if (ex->io_done) {
            *resume |= ex_take_resume(ex);
            return;
        }
    }
    if (ex->send == SEND_CONNECTING) {
        err = moat_upstream_connect_result(ex->fd);
        if (err == EINPROGRESS || err == EALREADY)
            return;
        if (err != 0) {
            if (moat_log_enabled(MOAT_LOG_DEBUG))
                moat_log(MOAT_LOG_DEBUG, "upstream_connect_failed", "%s", strerror(err));
            io_fail(ex, 502, "connect");
            *resume |= ex_take_resume(ex);
            return;
        }
        ex->send = SEND_ACTIVE;
        ex->deadline_ms = moat_now_ms() + ex->px->cfg->upstream.idle_timeout_ms;
    }
    if (io_send(ex, resume) != 0 || ex->io_done)
        return;
    if (ex->send == SEND_CONNECTING)
        return; /* a retry started a new connect */
    if (io_recv(ex, resume) != 0 || ex->io_done)
        return;
    if (ex->recv == RECV_DONE && (ex->send == SEND_DONE || ex->send == SEND_ABANDONED)) {
        *resume |= ex_take_resume(ex);
        io_finish(ex);
    }
}

static void io_list_add(struct moat_proxy *px, struct moat_exchange *ex)
{
    ex->prev = NULL;
    ex->next = px->list;
    if (px->list != NULL)
        px->list->prev = ex;
    px->list = ex;
    ex->in_active = 1;
}

static void io_list_del(struct moat_proxy *px, struct moat_exchange *ex)
{
    if (ex->prev != NULL)
        ex->prev->next = ex->next;
    else
        px->list = ex->next;
    if (ex->next != NULL)
        ex->next->prev = ex->prev;
    ex->next = ex->prev = NULL;
    ex->in_active = 0;
}

/* Runs io_progress and afterwards resumes the MHD connection when due. Drops
 * the I/O thread's reference once the exchange is finished. */
static void io_step(struct moat_proxy *px, struct moat_exchange *ex, int fail_status,
                    const char *fail_reason)
{
    int resume = 0;
    int finished;
    struct MHD_Connection *conn = ex->conn;

    pthread_mutex_lock(&ex->lock);
    if (!ex->io_done) {
        if (fail_status != 0) {
            io_fail(ex, fail_status, fail_reason);
            resume = ex_take_resume(ex);
        } else {
            io_progress(ex, &resume);
        }
    }
    finished = ex->io_done;
    pthread_mutex_unlock(&ex->lock);
    if (resume)
        MHD_resume_connection(conn);
    if (finished && ex->in_active) {
        /* Events later in this epoll batch may still name ex: drop the I/O
         * thread's reference only after the batch (io_reap). */
        io_list_del(px, ex);
        ex->next = px->dead;
        px->dead = ex;
    }
}

static void io_reap(struct moat_proxy *px)
{
    struct moat_exchange *ex = px->dead, *next;

    px->dead = NULL;
    while (ex != NULL) {
        next = ex->next;
        ex->next = NULL;
        ex_unref(ex); /* the I/O thread's reference */
        ex = next;
    }
}

static void io_drain_queue(struct moat_proxy *px)
{
    struct moat_exchange *ex, *next;
    uint64_t v;

    if (read(px->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        moat_log(MOAT_LOG_ERROR, "proxy_wake_failed", "eventfd read: %s", strerror(errno));
    pthread_mutex_lock(&px->qlock);
    ex = px->qhead;
    px->qhead = px->qtail = NULL;
    for (next = ex; next != NULL; next = next->qnext)
        next->queued = 0;
    pthread_mutex_unlock(&px->qlock);
    while (ex != NULL) {
        next = ex->qnext;
        if (!ex->in_active && !ex->io_done)
            io_list_add(px, ex);
        if (ex->in_active)
            io_step(px, ex, 0, NULL);
        ex_unref(ex); /* the queue's reference */
        ex = next;
    }
}

static void io_sweep(struct moat_proxy *px, int stopping)
{
    struct moat_exchange *ex = px->list, *next;
    uint64_t now = moat_now_ms();
    uint64_t deadline;
    const char *reason;

    while (ex != NULL) {
        next = ex->next;
        pthread_mutex_lock(&ex->lock);
        deadline = ex->deadline_ms;
        reason = ex->send == SEND_CONNECTING ? "connect_timeout" : "timeout";
        pthread_mutex_unlock(&ex->lock);
        if (stopping)
            io_step(px, ex, 503, "shutdown");
        else if (deadline != 0 && now >= deadline)
            io_step(px, ex, 504, reason);
        ex = next;
    }
}

static void *io_main(void *arg)
{
    struct moat_proxy *px = arg;
    struct epoll_event evs[PX_EVENTS];
    uint64_t last_sweep = moat_now_ms(), last_pool = last_sweep, now;
    int n, i;

    while (!atomic_load(&px->stopping)) {
        n = epoll_wait(px->epfd, evs, PX_EVENTS, PX_TICK_MS);
        if (n < 0 && errno != EINTR) {
            moat_log(MOAT_LOG_ERROR, "proxy_epoll_failed", "epoll_wait: %s", strerror(errno));
            break;
        }
        for (i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                io_drain_queue(px);
                continue;
            }
            io_step(px, evs[i].data.ptr, 0, NULL);
        }
        io_reap(px);
        now = moat_now_ms();
        if (now - last_sweep >= PX_TICK_MS) {
            io_sweep(px, 0);
            io_reap(px);
            last_sweep = now;
        }
        if (now - last_pool >= 1000) {
            moat_upstream_sweep(px->up);
            last_pool = now;
        }
    }
    /* Stop: fail whatever is left so suspended connections get resumed. */
    io_drain_queue(px);
    io_sweep(px, 1);
    io_reap(px);
    return NULL;
}

/* ---------------------------------------------------------------- engine */

struct moat_proxy *moat_proxy_new(const struct moat_config *cfg, struct moat_upstream *up,
                                  char *err, size_t errlen)
{
    struct moat_proxy *px = calloc(1, sizeof(*px));
    struct epoll_event ev;

    if (px == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    px->cfg = cfg;
    px->up = up;
    px->epfd = epoll_create1(EPOLL_CLOEXEC);
    px->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&px->qlock, NULL);
    if (px->epfd < 0 || px->evfd < 0) {
        snprintf(err, errlen, "cannot create the proxy event loop: %s", strerror(errno));
        goto fail;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (epoll_ctl(px->epfd, EPOLL_CTL_ADD, px->evfd, &ev) != 0) {
        snprintf(err, errlen, "cannot watch the proxy eventfd: %s", strerror(errno));
        goto fail;
    }
    return px;
fail:
    moat_proxy_free(px);
    return NULL;
}

int moat_proxy_start(struct moat_proxy *px)
{
    if (pthread_create(&px->thread, NULL, io_main, px) != 0)
        return -1;
    px->started = 1;
    return 0;
}

unsigned moat_proxy_active(struct moat_proxy *px)
{
    return atomic_load(&px->active);
}

void moat_proxy_stop(struct moat_proxy *px)
{
    uint64_t one = 1;

    if (!px->started)
        return;
    atomic_store(&px->stopping, 1);
    if (write(px->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        moat_log(MOAT_LOG_ERROR, "proxy_wake_failed", "eventfd write: %s", strerror(errno));
    pthread_join(px->thread, NULL);
    px->started = 0;
}

void moat_proxy_free(struct moat_proxy *px)
{
    if (px == NULL)
        return;
    if (px->epfd >= 0)
        close(px->epfd);
    if (px->evfd >= 0)
        close(px->evfd);
    pthread_mutex_destroy(&px->qlock);
    free(px);
}

/* ---------------------------------------------------------------- MHD side */

struct moat_exchange *moat_exchange_new(struct moat_proxy *px, struct MHD_Connection *conn,
                                        const char *head, size_t head_len,
                                        enum moat_body_kind body, int head_request)
{
    struct moat_exchange *ex = calloc(1, sizeof(*ex));

    if (ex == NULL)
        return NULL;
    ex->req_cap = head_len + PX_REQ_BODY_BUF;
    ex->req = malloc(ex->req_cap);
    ex->resp = malloc(PX_RESP_BUF);
    if (ex->req == NULL || ex->resp == NULL) {
        free(ex->req);
        free(ex->resp);
        free(ex);
        return NULL;
    }
    pthread_mutex_init(&ex->lock, NULL);
    atomic_init(&ex->refs, 2); /* the MHD request and the I/O thread */
    ex->px = px;
    ex->conn = conn;
    ex->fd = -1;
    ex->body = body;
    ex->head_request = head_request;
    memcpy(ex->req, head, head_len);
    ex->req_w = head_len;
    ex->head_len = head_len;
    ex->req_eof = body == MOAT_BODY_NONE;
    atomic_fetch_add(&px->active, 1);
    if (atomic_load(&px->stopping)) {
        pthread_mutex_lock(&ex->lock);
        ex->failed = 1;
        ex->fail_status = 503;
        ex->fail_reason = "shutdown";
        ex->io_done = 1;
        pthread_mutex_unlock(&ex->lock);
        atomic_fetch_sub(&px->active, 1);
        ex_unref(ex); /* no I/O thread will take it */
        return ex;
    }
    ex_kick(ex);
    return ex;
}

/* Space left in the request buffer for body payload (after compaction). */
static size_t req_room(struct moat_exchange *ex)
{
    size_t reserve = ex->body == MOAT_BODY_CHUNKED ? PX_CHUNK_OVERHEAD : 0;

    if (ex->req_r > 0 && ex->req_r == ex->req_w)
        ex->req_r = ex->req_w = 0;
    if (ex->req_r > 0 && ex->req_cap - ex->req_w < ex->req_cap / 2) {
        memmove(ex->req, ex->req + ex->req_r, ex->req_w - ex->req_r);
        ex->req_w -= ex->req_r;
        ex->req_r = 0;
    }
    if (ex->req_cap - ex->req_w <= reserve)
        return 0;
    return ex->req_cap - ex->req_w - reserve;
}

int moat_exchange_feed(struct moat_exchange *ex, const char *data, size_t *size)
{
    size_t n;
    int kick = 0;
    int len;
    char hex[20];

    pthread_mutex_lock(&ex->lock);
    if (ex->failed || ex->send == SEND_ABANDONED || (ex->io_done && ex->send != SEND_DONE)) {
        /* Nobody upstream wants these bytes: swallow them so the client can
         * finish and get its answer. */
        ex->bytes_up += *size;
        *size = 0;
        goto out;
    }
    n = req_room(ex);
    if (n > *size)
        n = *size;
    if (n > 0) {
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
        if (ex->want_data) {
            ex->want_data = 0;
            kick = 1;
        }
    }
    if (*size > 0) {
        ex->mhd_wants_space = 1;
        if (ex_suspend(ex) != 0) {
            ex->bytes_up += *size;
            *size = 0;
        }
        kick = 1; /* make sure the I/O thread drains and resumes us */
    }
out:
    pthread_mutex_unlock(&ex->lock);
    if (kick)
        ex_kick(ex);
    return 0;
}

void moat_exchange_body_done(struct moat_exchange *ex)
{
    int kick = 0;

    pthread_mutex_lock(&ex->lock);
    if (!ex->req_eof) {
        ex->req_eof = 1;
        if (ex->body == MOAT_BODY_CHUNKED && !ex->failed && ex->send != SEND_ABANDONED) {
            /* req_room() always keeps PX_CHUNK_OVERHEAD bytes for this. */
            memcpy(ex->req + ex->req_w, "0\r\n\r\n", 5);
            ex->req_w += 5;
        }
        kick = 1;
    }
    pthread_mutex_unlock(&ex->lock);
    if (kick)
        ex_kick(ex);
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
    ssize_t rc;
    size_t n;
    int kick = 0;

    (void)pos;
    pthread_mutex_lock(&ex->lock);
    n = ex->resp_w - ex->resp_r;
    if (n > 0) {
        if (n > max)
            n = max;
        memcpy(buf, ex->resp + ex->resp_r, n);
        ex->resp_r += n;
        ex->bytes_down += n;
        if (ex->want_space) {
            ex->want_space = 0;
            kick = 1;
        }
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
    pthread_mutex_unlock(&ex->lock);
    if (kick)
        ex_kick(ex);
    return rc;
}

static void ex_reader_free(void *cls)
{
    ex_unref(cls);
}

/* Copies one upstream header onto the response unless it is hop-by-hop. */
static int ex_add_header(struct MHD_Response *r, const struct moat_hdr *h, const char *conn_val,
                         size_t conn_len)
{
    char name[256];
    char value[8192];

    if (moat_fwd_is_hop_by_hop(h->name, h->name_len, conn_val, conn_len))
        return 0;
    if (moat_hdr_eq_ci(h->name, h->name_len, "Date"))
        return 0; /* libmicrohttpd writes its own */
    if (h->name_len >= sizeof(name) || h->value_len >= sizeof(value))
        return -1;
    memcpy(name, h->name, h->name_len);
    name[h->name_len] = '\0';
    memcpy(value, h->value, h->value_len);
    value[h->value_len] = '\0';
    /* libmicrohttpd refuses empty values; a single space is read back as empty. */
    if (h->value_len == 0) {
        value[0] = ' ';
        value[1] = '\0';
    }
    return MHD_add_response_header(r, name, value) == MHD_YES ? 0 : -1;
}

/* For a HEAD request: the Content-Length the upstream announced, so the client
 * sees it too (no body follows). MHD_SIZE_UNKNOWN when absent or invalid. */
static uint64_t head_content_length(const struct moat_http1_resp *h)
{
    uint64_t v = 0;
    size_t i, j;

    for (i = 0; i < h->n_hdrs; i++) {
        if (!moat_hdr_name_is(&h->hdrs[i], "Content-Length"))
            continue;
        if (h->hdrs[i].value_len == 0 || h->hdrs[i].value_len > 18)
            return MHD_SIZE_UNKNOWN;
        for (j = 0; j < h->hdrs[i].value_len; j++) {
            if (h->hdrs[i].value[j] < '0' || h->hdrs[i].value[j] > '9')
                return MHD_SIZE_UNKNOWN;
            v = v * 10 + (uint64_t)(h->hdrs[i].value[j] - '0');
        }
        return v;
    }
    return MHD_SIZE_UNKNOWN;
}

struct MHD_Response *moat_exchange_response(struct moat_exchange *ex, int *status)
{
    struct MHD_Response *r = NULL;
    uint64_t size = MHD_SIZE_UNKNOWN;
    const char *conn_val = NULL;
    size_t conn_len = 0, i;
    int ok = 1;

    pthread_mutex_lock(&ex->lock);
    if (ex->recv != RECV_HEAD_READY)
        goto out;
    for (i = 0; i < ex->head.n_hdrs; i++) {
        if (moat_hdr_name_is(&ex->head.hdrs[i], "Connection")) {
            conn_val = ex->head.hdrs[i].value;
            conn_len = ex->head.hdrs[i].value_len;
        }
    }
    if (ex->head.framing == MOAT_FRAME_LENGTH)
        size = ex->head.content_length;
    if (ex->head.framing == MOAT_FRAME_NONE)
        size = ex->head_request ? head_content_length(&ex->head) : 0;
    r = MHD_create_response_from_callback(size, 32 * 1024, ex_reader, ex, ex_reader_free);
    if (r == NULL)
        goto out;
    atomic_fetch_add(&ex->refs, 1); /* the response's reference */
    for (i = 0; i < ex->head.n_hdrs && ok; i++)
        ok = ex_add_header(r, &ex->head.hdrs[i], conn_val, conn_len) == 0;
    if (!ok) {
        MHD_destroy_response(r);
        r = NULL;
        goto out;
    }
    *status = ex->head.status;
    /* From here the I/O thread may reuse the buffer the head lives in. */
    if (io_begin_body(ex) != 0) {
        ex->failed = 1;
        ex->fail_status = 502;
        ex->fail_reason = "protocol";
        ex->reusable = 0;
    }
out:
    pthread_mutex_unlock(&ex->lock);
    if (r != NULL)
        ex_kick(ex);
    return r;
}

void moat_exchange_stats_get(struct moat_exchange *ex, struct moat_exchange_stats *out)
{
    pthread_mutex_lock(&ex->lock);
    out->bytes_up = ex->bytes_up;
    out->bytes_down = ex->bytes_down;
    out->upstream_seconds =
        ex->head_ms != 0 ? (double)(ex->head_ms - ex->start_ms) / 1000.0 : -1.0;
    out->upstream_status = ex->upstream_status;
    out->error = ex->failed ? ex->fail_reason : NULL;
    out->reused = ex->reused;
    pthread_mutex_unlock(&ex->lock);
}

void moat_exchange_release(struct moat_exchange *ex)
{
    int kick;

    pthread_mutex_lock(&ex->lock);
    ex->mhd_gone = 1;
    ex->suspended = 0;
    kick = !ex->io_done;
    pthread_mutex_unlock(&ex->lock);
    if (kick)
        ex_kick(ex);
    ex_unref(ex);
}
