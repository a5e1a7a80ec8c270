/* httpredir_fwd.c - the plain-HTTP listener's forwarder: relays exempted
 * requests (ACME http-01 challenges) to the app, one per forwarder thread,
 * with blocking I/O bounded by the upstream.* deadlines, and resumes
 * the suspended client connection with the answer.
 *
 * Why not the proxy engine: it belongs to the HTTPS workers' event loops and
 * streams without bounds on body size; ACME challenges are tiny, rare GETs, so a
 * small bounded relay (request framed by moat, response head parsed strictly by
 * http1.c, body buffered up to MOAT_HTTPREDIR_FWD_BODY) is simpler and keeps
 * this listener independent of the HTTPS path. An https:// upstream is reached
 * over the same verified TLS (uptls.h) as the proxy's. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpredir_int.h"
#include "moat/hdr.h"
#include "moat/http1.h"
#include "moat/log.h"
#include "moat/uptls.h"

#define FWD_SLICE_MS 200 /* longest single wait, so a stop is noticed */
#define FWD_RAW_CAP (HR_FWD_HEAD_MAX + MOAT_HTTPREDIR_FWD_BODY + 4096)

/* One connection to the app. */
struct fwd_conn {
    int fd;                      /* from moat_upstream_connect(), -1 when none */
    struct moat_uptls_conn *tls; /* https:// upstream: TLS over fd (owned), else NULL */
};

/* Waits until fd is ready for events or deadline_ms passes (or stop).
 * Returns 1 when ready, 0 on timeout or stop, -1 on a poll error. */
static int fwd_wait(struct hr_fwd *f, int fd, short events, uint64_t deadline_ms)
{
    struct pollfd pfd;
    uint64_t now;
    int slice, n;

    for (;;) {
        now = moat_now_ms();
        if (atomic_load(&f->stop) || now >= deadline_ms)
            return 0;
        slice = deadline_ms - now > FWD_SLICE_MS ? FWD_SLICE_MS : (int)(deadline_ms - now);
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        n = poll(&pfd, 1, slice);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* Sends all of buf (through TLS for an https:// upstream). A TLS write that
 * cannot go on waits for the socket to be writable: the request is far
 * smaller than a socket buffer, so OpenSSL never needs to read first here.
 * Returns 0, or -1 (timeout, error). */
static int fwd_send(struct hr_fwd *f, struct fwd_conn *c, const char *buf, size_t len)
{
    uint64_t deadline = moat_now_ms() + f->cfg->upstream.idle_timeout_ms;
    ssize_t w;
    size_t off = 0;

    while (off < len) {
        if (c->tls != NULL)
            w = moat_uptls_write(c->tls, buf + off, len - off);
        else
            w = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (fwd_wait(f, c->fd, POLLOUT, deadline) != 1)
            return -1;
    }
    return 0;
}

/* Receives into buf[0..cap) (decrypted for an https:// upstream) waiting
 * until deadline_ms. Returns the bytes read, 0 at EOF (for TLS: close_notify),
 * -1 on error, -2 on timeout. */
static ssize_t fwd_recv(struct hr_fwd *f, struct fwd_conn *c, char *buf, size_t cap,
                        uint64_t deadline_ms)
{
    ssize_t r;
    int w;

    for (;;) {
        r = c->tls != NULL ? moat_uptls_read(c->tls, buf, cap) : recv(c->fd, buf, cap, 0);
        if (r >= 0)
            return r;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        w = fwd_wait(f, c->fd, POLLIN, deadline_ms);
        if (w == 0)
            return -2;
        if (w < 0)
            return -1;
    }
}

/* Copies header name's value from the parsed head into out (when it fits). */
static void fwd_copy_header(const struct moat_http1_resp *resp, const char *name, char *out,
                            size_t cap)
{
    size_t i;

    out[0] = '\0';
    for (i = 0; i < resp->n_hdrs; i++) {
        if (!moat_hdr_eq_ci(resp->hdrs[i].name, resp->hdrs[i].name_len, name))
            continue;
        if (resp->hdrs[i].value_len > 0 && resp->hdrs[i].value_len < cap) {
            memcpy(out, resp->hdrs[i].value, resp->hdrs[i].value_len);
            out[resp->hdrs[i].value_len] = '\0';
        }
        return;
    }
}

/* Fails the job with status and an upstream-error label. */
static void fwd_fail(struct hr_fwd_job *j, int status, const char *error)
{
    j->status = status;
    j->error = error;
    j->body = NULL;
    j->body_len = 0;
}

/* Closes the connection to the app (TLS first). */
static void fwd_close(struct hr_fwd *f, struct fwd_conn *c)
{
    moat_uptls_conn_free(c->tls);
    c->tls = NULL;
    if (c->fd >= 0)
        moat_upstream_close(f->up, c->fd);
    c->fd = -1;
}

/* Completes the TLS handshake with an https:// upstream, verifying its
 * certificate (uptls.h), within upstream.idle_timeout as the proxy does.
 * After the ClientHello the client only waits to read. Returns 0, or -1 (job
 * failed). */
static int fwd_handshake(struct hr_fwd *f, struct hr_fwd_job *j, struct fwd_conn *c)
{
    uint64_t deadline = moat_now_ms() + f->cfg->upstream.idle_timeout_ms;
    const char *why = "tls_handshake";
    char detail[256];
    int rc = -1, hs, w;

    for (;;) {
        hs = moat_uptls_handshake(c->tls, &why, detail, sizeof(detail));
        if (hs > 0) {
            rc = 0;
            break;
        }
        if (hs < 0) {
            moat_log(MOAT_LOG_WARN, "upstream_tls_failed", "TLS to %s failed: %s",
                     f->cfg->upstream.url, detail);
            fwd_fail(j, 502, why);
            break;
        }
        w = fwd_wait(f, c->fd, POLLIN, deadline);
        if (w != 1) {
            fwd_fail(j, w == 0 ? 504 : 502, w == 0 ? "timeout" : "closed");
            break;
        }
    }
    return rc;
}

/* Connects to the app (and, for an https:// upstream, completes TLS) into c.
 * Returns 0, or -1 with c closed (job failed). */
static int fwd_connect(struct hr_fwd *f, struct hr_fwd_job *j, struct fwd_conn *c)
{
    struct moat_uptls *tls = moat_upstream_tls(f->up);
    const char *why = "connect";
    int pending = 0, w, rc = -1;

    c->fd = -1;
    c->tls = NULL;
    if (moat_upstream_connect(f->up, &c->fd, &pending, &why) != 0) {
        c->fd = -1;
        fwd_fail(j, 502, why);
        goto out;
    }
    if (pending) {
        w = fwd_wait(f, c->fd, POLLOUT, moat_now_ms() + f->cfg->upstream.connect_timeout_ms);
        if (w != 1 || moat_upstream_connect_result(c->fd) != 0) {
            fwd_fail(j, w == 0 ? 504 : 502, w == 0 ? "connect_timeout" : "connect");
            goto out;
        }
    }
    if (tls != NULL) {
        c->tls = moat_uptls_conn_new(tls, c->fd);
        if (c->tls == NULL) {
            fwd_fail(j, 503, "limit");
            goto out;
        }
        if (fwd_handshake(f, j, c) != 0)
            goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        fwd_close(f, c);
    return rc;
}

/* Reads the response head into raw; returns its length or -1 (job failed). */
static long fwd_read_head(struct hr_fwd *f, struct hr_fwd_job *j, struct fwd_conn *c, char *raw,
                          size_t *len, struct moat_http1_resp *resp)
{
    uint64_t deadline = moat_now_ms() + f->cfg->upstream.response_timeout_ms;
    enum moat_http1_rc prc;
    size_t head_len = 0;
    ssize_t r;

    for (;;) {
        if (*len >= HR_FWD_HEAD_MAX) {
            fwd_fail(j, 502, "protocol");
            return -1;
        }
        r = fwd_recv(f, c, raw + *len, HR_FWD_HEAD_MAX - *len, deadline);
        if (r <= 0) {
            fwd_fail(j, r == -2 ? 504 : 502, r == -2 ? "timeout" : "closed");
            return -1;
        }
        *len += (size_t)r;
        prc = moat_http1_parse_response(raw, *len, j->head_request, resp, &head_len, NULL);
        if (prc == MOAT_HTTP1_ERROR) {
            fwd_fail(j, 502, "protocol");
            return -1;
        }
        if (prc == MOAT_HTTP1_PARTIAL)
            continue;
        if (resp->status >= 200)
            return (long)head_len;
        if (resp->status == 101) {
            fwd_fail(j, 502, "protocol");
            return -1;
        }
        /* An interim 1xx: drop it and read on. */
        memmove(raw, raw + head_len, *len - head_len);
        *len -= head_len;
    }
}

/* Runs one relay: fills the job's outputs. */
static void fwd_run(struct hr_fwd *f, struct hr_fwd_job *j)
{
    struct moat_http1_resp *resp = NULL;
    struct moat_chunked ch;
    struct fwd_conn c = {-1, NULL};
    char *req = NULL;
    size_t req_cap, len = 0, body_end, consumed, outlen;
    uint64_t start = moat_now_ms(), deadline;
    long head_len;
    ssize_t r;
    int n;
    int done = 0;

    j->upstream_s = -1.0;
    j->buf = malloc(FWD_RAW_CAP);
    resp = malloc(sizeof(*resp));
    req_cap = strlen(j->path) + j->host_len + strlen(j->client_ip) + strlen(j->request_id) + 512;
    req = malloc(req_cap);
    if (j->buf == NULL || resp == NULL || req == NULL) {
        fwd_fail(j, 503, "limit");
        goto out;
    }
    /* moat frames the request itself; nothing of the client's head but the
     * (allowed) Host goes to the app. */
    n = snprintf(req, req_cap,
                 "%s %s HTTP/1.1\r\nHost: %.*s\r\nX-Forwarded-For: %s\r\n"
                 "X-Forwarded-Proto: http\r\n%s: %s\r\nConnection: close\r\n\r\n",
                 j->method, j->path, (int)j->host_len, j->host, j->client_ip,
                 f->cfg->proxy.request_id_header, j->request_id);
    if (n < 0 || (size_t)n >= req_cap) {
        fwd_fail(j, 502, "protocol");
        goto out;
    }
    if (fwd_connect(f, j, &c) != 0)
        goto out;
    if (fwd_send(f, &c, req, (size_t)n) != 0) {
        fwd_fail(j, 502, "reset");
        goto out;
    }
    head_len = fwd_read_head(f, j, &c, j->buf, &len, resp);
    if (head_len < 0)
        goto out;
    j->upstream_s = (double)(moat_now_ms() - start) / 1000.0;
    j->status = resp->status;
    fwd_copy_header(resp, "Content-Type", j->content_type, sizeof(j->content_type));
    fwd_copy_header(resp, "Cache-Control", j->cache_control, sizeof(j->cache_control));
    if (resp->framing == MOAT_FRAME_LENGTH && resp->content_length > MOAT_HTTPREDIR_FWD_BODY) {
        fwd_fail(j, 502, "protocol");
        goto out;
    }
    /* The body: bytes after the head first, then more reads; decoded (chunked)
     * or kept in place, always within FWD_RAW_CAP. The whole body must come
     * within upstream.idle_timeout of the head: a deadline restarted by each
     * read would let an app that trickles bytes pin this thread for days. */
    memset(&ch, 0, sizeof(ch));
    body_end = (size_t)head_len;
    consumed = len - (size_t)head_len; /* bytes already there to take in */
    deadline = moat_now_ms() + f->cfg->upstream.idle_timeout_ms;
    for (;;) {
        if (resp->framing == MOAT_FRAME_NONE) {
            done = 1;
        } else if (resp->framing == MOAT_FRAME_CHUNKED) {
            if (consumed > 0) {
                enum moat_chunked_rc crc;
                size_t used = 0;

                crc = moat_chunked_decode(&ch, j->buf + body_end, consumed, j->buf + body_end,
                                          &outlen, &used, NULL);
                if (crc == MOAT_CHUNKED_ERROR) {
                    fwd_fail(j, 502, "protocol");
                    goto out;
                }
                body_end += outlen;
                done = crc == MOAT_CHUNKED_DONE;
            }
        } else {
            body_end += consumed;
            if (resp->framing == MOAT_FRAME_LENGTH &&
                body_end - (size_t)head_len >= resp->content_length) {
                body_end = (size_t)head_len + (size_t)resp->content_length;
                done = 1;
            }
        }
        if (done)
            break;
        if (body_end - (size_t)head_len > MOAT_HTTPREDIR_FWD_BODY || body_end >= FWD_RAW_CAP) {
            fwd_fail(j, 502, "protocol");
            goto out;
        }
        r = fwd_recv(f, &c, j->buf + body_end, FWD_RAW_CAP - body_end, deadline);
        if (r == 0 && resp->framing == MOAT_FRAME_CLOSE)
            break;
        if (r <= 0) {
            fwd_fail(j, r == -2 ? 504 : 502, r == -2 ? "timeout" : "closed");
            goto out;
        }
        consumed = (size_t)r;
    }
    if (body_end - (size_t)head_len > MOAT_HTTPREDIR_FWD_BODY) {
        fwd_fail(j, 502, "protocol");
        goto out;
    }
    j->body = j->buf + head_len;
    j->body_len = body_end - (size_t)head_len;
out:
    fwd_close(f, &c);
    free(req);
    free(resp);
}

static void *fwd_main(void *arg)
{
    struct hr_fwd *f = arg;
    struct hr_fwd_job *j;

    for (;;) {
        pthread_mutex_lock(&f->lock);
        while (f->count == 0 && !atomic_load(&f->stop))
            pthread_cond_wait(&f->wake, &f->lock);
        if (atomic_load(&f->stop)) {
            pthread_mutex_unlock(&f->lock);
            break;
        }
        j = f->queue[f->first];
        f->first = (f->first + 1) % MOAT_HTTPREDIR_FWD_QUEUE;
        f->count--;
        pthread_mutex_unlock(&f->lock);
        /* Queued before the lockdown came: it must not reach the app either. */
        if (atomic_load(&f->lockdown)) {
            fwd_fail(j, 503, "lockdown");
        } else {
            fwd_run(f, j);
            if (j->upstream_s >= 0)
                moat_metrics_upstream(f->metrics, j->upstream_s);
            if (j->error != NULL)
                moat_metrics_upstream_error(f->metrics, j->error);
        }
        /* The job belongs to the request again from here on. */
        MHD_resume_connection(j->conn);
    }
    return NULL;
}

int hr_fwd_init(struct hr_fwd *f, const struct moat_config *cfg, struct moat_upstream *up,
                struct moat_metrics *metrics)
{
    memset(f, 0, sizeof(*f));
    f->cfg = cfg;
    f->up = up;
    f->metrics = metrics;
    atomic_init(&f->stop, 0);
    atomic_init(&f->lockdown, 0);
    if (pthread_mutex_init(&f->lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&f->wake, NULL) != 0) {
        pthread_mutex_destroy(&f->lock);
        return -1;
    }
    return 0;
}

int hr_fwd_start(struct hr_fwd *f)
{
    while (f->running < HR_FWD_THREADS) {
        if (pthread_create(&f->thread[f->running], NULL, fwd_main, f) != 0)
            return -1;
        f->running++;
    }
    return 0;
}

int hr_fwd_submit(struct hr_fwd *f, struct hr_fwd_job *job)
{
    int rc = -1;

    pthread_mutex_lock(&f->lock);
    if (f->running && !atomic_load(&f->stop) && f->count < MOAT_HTTPREDIR_FWD_QUEUE) {
        f->queue[(f->first + f->count) % MOAT_HTTPREDIR_FWD_QUEUE] = job;
        f->count++;
        pthread_cond_signal(&f->wake);
        rc = 0;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

void hr_fwd_stop(struct hr_fwd *f)
{
    struct hr_fwd_job *j;

    pthread_mutex_lock(&f->lock);
    atomic_store(&f->stop, 1);
    pthread_cond_broadcast(&f->wake);
    pthread_mutex_unlock(&f->lock);
    while (f->running > 0)
        pthread_join(f->thread[--f->running], NULL);
    while (f->count > 0) {
        j = f->queue[f->first];
        f->first = (f->first + 1) % MOAT_HTTPREDIR_FWD_QUEUE;
        f->count--;
        fwd_fail(j, 503, "shutdown");
        MHD_resume_connection(j->conn);
    }
}

void hr_fwd_destroy(struct hr_fwd *f)
{
    pthread_cond_destroy(&f->wake);
    pthread_mutex_destroy(&f->lock);
}
