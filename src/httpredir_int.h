/* httpredir_int.h - internals shared by the plain-HTTP listener (httpredir.c)
 * and its forwarder for exempted paths (httpredir_fwd.c). Not a public API. */
#ifndef MOAT_HTTPREDIR_INT_H
#define MOAT_HTTPREDIR_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "moat/httpredir.h"

#define HR_FWD_HEAD_MAX 16384 /* largest response head accepted from the app */

/* One relay of a request to the app. The inputs are written by the listener
 * thread before submit and not touched until done; the outputs by the
 * forwarder, which then resumes conn and never touches the job again. */
struct hr_fwd_job {
    struct MHD_Connection *conn; /* suspended while the job runs (borrowed) */
    int head_request;            /* HEAD: no body expected */
    const char *method;          /* "GET" or "HEAD" (static) */
    const char *path;            /* normalised path?query (borrowed from the request) */
    const char *host;            /* the request's Host, already allowed (borrowed) */
    size_t host_len;             /* bytes in host */
    const char *client_ip;       /* textual client address (borrowed) */
    const char *request_id;      /* X-Request-Id value sent to the app (borrowed) */
    /* outputs */
    int status;              /* app's status, or 502/503/504 from moat */
    const char *error;       /* NULL, or an upstream-error label for metrics and the log */
    char *buf;               /* owned: response bytes (freed with the request) */
    const char *body;        /* into buf */
    size_t body_len;         /* bytes in body */
    char content_type[256];  /* app's Content-Type, "" when none */
    char cache_control[256]; /* app's Cache-Control, "" when none */
    double upstream_s;       /* connect to response head, seconds; < 0 when none */
};

#define HR_FWD_THREADS 2 /* relays under way at once */

/* The forwarder: HR_FWD_THREADS threads taking jobs from one queue. */
struct hr_fwd {
    const struct moat_config *cfg;                      /* borrowed */
    struct moat_upstream *up;                           /* borrowed */
    struct moat_metrics *metrics;                       /* borrowed, may be NULL */
    pthread_mutex_t lock;                               /* guards the fields below */
    pthread_cond_t wake;                                /* a job came or stop was set */
    struct hr_fwd_job *queue[MOAT_HTTPREDIR_FWD_QUEUE]; /* ring of waiting jobs */
    size_t first;                                       /* index of the oldest job */
    size_t count;                                       /* jobs waiting */
    atomic_int stop;                                    /* the thread must leave */
    atomic_int lockdown;                                /* emergency shutdown: relay nothing */
    unsigned running;                                   /* threads started, not joined */
    pthread_t thread[HR_FWD_THREADS];                   /* the forwarder threads */
};

/* Prepares f. Returns 0 or -1. */
int hr_fwd_init(struct hr_fwd *f, const struct moat_config *cfg, struct moat_upstream *up,
                struct moat_metrics *metrics);

/* Starts the forwarder threads. Returns 0 or -1 (those started are joined by destroy). */
int hr_fwd_start(struct hr_fwd *f);

/* Queues job (the caller has suspended or is about to suspend job->conn, from
 * within the access handler). Returns 0, or -1 when the queue is full or the
 * forwarder stopped (then nothing was queued). */
int hr_fwd_submit(struct hr_fwd *f, struct hr_fwd_job *job);

/* Stops the threads (a relay under way is cut at its next wait), answers every
 * queued job 503 and resumes its connection, joins; later submissions are
 * refused. Before MHD_stop_daemon. Safe when never started. */
void hr_fwd_stop(struct hr_fwd *f);

/* Releases f's lock and condition variable. After MHD_stop_daemon, so that no
 * request can still reach hr_fwd_submit. */
void hr_fwd_destroy(struct hr_fwd *f);

#endif
