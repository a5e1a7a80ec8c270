/* metrics_int.h - the registry's layout and label tables, shared by the recording
 * side (metrics.c) and the renderer (metrics_render.c). Not a public header. */
#ifndef MOAT_METRICS_INT_H
#define MOAT_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "moat/metrics.h"

#define MX_LISTENERS 3   /* https, http, admin */
#define MX_METHODS 8     /* GET HEAD POST PUT PATCH DELETE OPTIONS OTHER */
#define MX_CODES 501     /* index 0: no valid status; index s - 99: status s in 100..599 */
#define MX_BOUNDS 13     /* finite histogram bucket bounds */
#define MX_BUCKETS 14    /* MX_BOUNDS plus +Inf */
#define MX_UPERR 8       /* upstream error labels, "other" last */
#define MX_CONNREJ 6     /* connection rejection labels, "other" last */
#define MX_REQREJ 25     /* request rejection labels, "other" last */
#define MX_REDIRECTS 100 /* index c - 300: redirect code c in 300..399 */
#define MX_TLSVER 3      /* "1.2", "1.3", "other" */
#define MX_SHUTDOWN 4    /* enum moat_metrics_shutdown */

typedef atomic_uint_least64_t mx_counter; /* a monotonic count, updated relaxed */

/* A histogram with the fixed buckets moat_metrics_bounds. Buckets hold
 * non-cumulative counts (the renderer sums them), so _count is the sum of all
 * buckets and always equals the rendered +Inf bucket. */
struct mx_hist {
    mx_counter bucket[MX_BUCKETS]; /* observations in (bound[i-1], bound[i]]; last: > bound[12] */
    mx_counter sum_us;             /* sum of observations in microseconds */
};

/* One certificate's expiry (rendered sorted by name). */
struct mx_cert {
    char name[MOAT_METRICS_CERT_NAME_MAX]; /* label value, NUL-terminated */
    int64_t not_after;                     /* seconds since the epoch */
};

struct moat_metrics {
    /* moat_requests_total by listener, method label and status slot (see MX_CODES) */
    mx_counter requests[MX_LISTENERS][MX_METHODS][MX_CODES];
    struct mx_hist req_duration[MX_LISTENERS];      /* moat_request_duration_seconds */
    struct mx_hist up_duration;                     /* moat_upstream_request_duration_seconds */
    mx_counter bytes_in[MX_LISTENERS];              /* moat_bytes_received_total */
    mx_counter bytes_out[MX_LISTENERS];             /* moat_bytes_sent_total */
    atomic_int_least64_t conn_active[MX_LISTENERS]; /* moat_connections_active */
    mx_counter conn_total[MX_LISTENERS];            /* moat_connections_total */
    mx_counter up_errors[MX_UPERR];                 /* moat_upstream_errors_total */
    mx_counter conn_rejected[MX_CONNREJ];           /* moat_connections_rejected_total */
    mx_counter req_rejected[MX_REQREJ];             /* moat_requests_rejected_total */
    mx_counter redirects[MX_REDIRECTS];             /* moat_redirects_total */
    mx_counter tls_ok[MX_TLSVER];                   /* moat_tls_handshakes_total */
    mx_counter tls_failed;                          /* moat_tls_handshake_failures_total */
    mx_counter cookies;                             /* moat_cookies_hardened_total */
    mx_counter shutdown[MX_SHUTDOWN];               /* moat_emergency_shutdown_attempts_total */
    pthread_mutex_t cert_lock;                      /* guards n_certs and certs */
    unsigned n_certs;                               /* slots used in certs */
    struct mx_cert certs[MOAT_METRICS_MAX_CERTS];   /* sorted by name */

    mx_counter tls_resumed;   /* moat_tls_resumptions_total */
    mx_counter tls_reload[2]; /* moat_tls_reload_total: [0] failure, [1] success */
};

/* Label tables (defined in metrics.c; index = storage index). */
extern const char *const moat_metrics_listener_labels[MX_LISTENERS];
extern const char *const moat_metrics_method_labels[MX_METHODS];
extern const char *const moat_metrics_uperr_labels[MX_UPERR];
extern const char *const moat_metrics_connrej_labels[MX_CONNREJ];
extern const char *const moat_metrics_reqrej_labels[MX_REQREJ];
extern const char *const moat_metrics_tlsver_labels[MX_TLSVER];
extern const char *const moat_metrics_shutdown_labels[MX_SHUTDOWN];
extern const double moat_metrics_bounds[MX_BOUNDS];          /* bucket upper bounds, seconds */
extern const char *const moat_metrics_le_labels[MX_BUCKETS]; /* "0.005" ... "+Inf" */

#endif
