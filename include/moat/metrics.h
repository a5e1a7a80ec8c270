/* metrics.h - the metrics registry: fixed metric families with bounded labels,
 * lock-free recording and the Prometheus text-format (0.0.4) renderer.
 *
 * The registry is one object created at startup and passed to whoever records.
 * Every family and every label value is known up front, so memory is fixed at
 * creation and a scrape costs the same after one request or a billion:
 *   listener  https, http, admin (enum below)
 *   method    GET HEAD POST PUT PATCH DELETE OPTIONS, anything else OTHER
 *   code      the status 100..599 (0 when no response was sent); only codes
 *             seen are rendered
 *   reason    the fixed lists below; an unknown reason string counts as "other"
 *
 * Recording functions are thread-safe, take no lock and never allocate (relaxed
 * C11 atomics); a NULL registry or an out-of-range enum makes them a no-op.
 * Rendering reads the atomics while recording goes on (each value is exact; the
 * scrape is not a snapshot across values, except that a histogram's +Inf bucket
 * always equals its _count).
 *
 * Families and labels (counters end in _total):
 *   moat_build_info{version,tls_library,mhd_version} 1, moat_start_time_seconds
 *   moat_requests_total{listener,method,code}
 *   moat_request_duration_seconds{listener} (histogram), moat_bytes_received_total{listener},
 *   moat_bytes_sent_total{listener}
 *   moat_upstream_request_duration_seconds (histogram), moat_upstream_errors_total{reason},
 *   moat_upstream_connections{state=idle|active}
 *   moat_connections_active{listener}, moat_connections_total{listener},
 *   moat_connections_rejected_total{reason}
 *   moat_requests_rejected_total{reason}, moat_redirects_total{code}
 *   moat_tls_handshakes_total{version=1.2|1.3|other}, moat_tls_handshake_failures_total,
 *   moat_tls_resumptions_total
 *   moat_cookies_hardened_total, moat_emergency_shutdown_attempts_total{result}
 *   moat_tls_certificate_expiry_timestamp_seconds{name}, moat_tls_reload_total{result}
 *   process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds,
 *   process_max_fds, process_start_time_seconds (see procstat.h)
 *
 * Reasons (input string -> label; anything else -> "other"):
 *   upstream errors: connect (also no_address, connect_timeout), timeout, reset
 *     (also closed), protocol (also bad_response_head), limit, shutdown
 *   connections rejected: limit, per_ip_limit, head_timeout, draining, lockdown
 *   requests rejected: every reqcheck.h reason (bad_method ... bad_expect), plus
 *     head_timeout, body_timeout, draining, lockdown */
#ifndef MOAT_METRICS_H
#define MOAT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "moat/procstat.h"

struct moat_metrics; /* opaque */

/* The listener a connection or request arrived on (the "listener" label). */
enum moat_metrics_listener {
    MOAT_METRICS_HTTPS = 0, /* the TLS traffic listener */
    MOAT_METRICS_HTTP = 1,  /* the plain-HTTP redirect listener */
    MOAT_METRICS_ADMIN = 2, /* the admin listener (metrics, probes, shutdown) */
};

/* The outcome of a POST /emergency-shutdown (the "result" label). */
enum moat_metrics_shutdown {
    MOAT_METRICS_SHUTDOWN_ACCEPTED = 0,     /* valid token: the app is being stopped */
    MOAT_METRICS_SHUTDOWN_DENIED = 1,       /* missing or wrong token */
    MOAT_METRICS_SHUTDOWN_RATE_LIMITED = 2, /* refused before the token was checked */
    MOAT_METRICS_SHUTDOWN_DISABLED = 3,     /* the endpoint is not configured */
};

#define MOAT_METRICS_MAX_CERTS 16      /* certificate names tracked for expiry */
#define MOAT_METRICS_CERT_NAME_MAX 128 /* longest certificate name, NUL included */

/* What a scrape adds to the recorded values. Everything borrowed for the call. */
struct moat_metrics_info {
    const char *version;              /* moat version for moat_build_info (NULL: "") */
    const char *tls_library;          /* e.g. "GnuTLS 3.7.9" (NULL: "") */
    const char *mhd_version;          /* libmicrohttpd version, MHD_get_version() (NULL: "") */
    double start_time;                /* moat's start, seconds since the Unix epoch */
    unsigned upstream_idle;           /* upstream connections idle in the pool now */
    unsigned upstream_active;         /* upstream connections in use now */
    const struct moat_procstat *proc; /* process figures (NULL: no process_* families) */
};

/* Creates a registry with every counter at zero. Returns NULL when out of
 * memory. Caller frees with moat_metrics_free(). */
struct moat_metrics *moat_metrics_new(void);

/* Frees the registry (NULL is fine). Nothing may record or render after this. */
void moat_metrics_free(struct moat_metrics *m);

/* Counts one finished request: moat_requests_total{listener,method,code}, the
 * duration histogram and the byte counters of the listener. method is folded
 * (see moat_metrics_method_label; NULL counts as OTHER); a status outside
 * 100..599 counts as code "0"; a negative or NaN duration counts as 0. */
void moat_metrics_request(struct moat_metrics *m, enum moat_metrics_listener listener,
                          const char *method, int status, double duration_s, uint64_t bytes_in,
                          uint64_t bytes_out);

/* Observes one upstream exchange (connect or reuse to response head) in
 * moat_upstream_request_duration_seconds. */
void moat_metrics_upstream(struct moat_metrics *m, double duration_s);

/* Counts an upstream failure; reason is the proxy's static label (folded, see above). */
void moat_metrics_upstream_error(struct moat_metrics *m, const char *reason);

/* A client connection was accepted / closed on listener (connections_active
 * gauge, connections_total counter). Each open must be paired with one close. */
void moat_metrics_conn_open(struct moat_metrics *m, enum moat_metrics_listener listener);
void moat_metrics_conn_close(struct moat_metrics *m, enum moat_metrics_listener listener);

/* Counts a connection refused or cut before a request (reason folded, see above). */
void moat_metrics_conn_rejected(struct moat_metrics *m, const char *reason);

/* Counts a request refused by a hardening rule (reason folded, see above). */
void moat_metrics_request_rejected(struct moat_metrics *m, const char *reason);

/* Counts a redirect sent by the HTTP listener; code must be 300..399 (else ignored).
 * 301, 302, 307 and 308 are rendered from the start, other codes once seen. */
void moat_metrics_redirect(struct moat_metrics *m, int code);

/* Counts a TLS handshake. ok != 0: moat_tls_handshakes_total{version} where
 * version "TLS1.2", "TLSv1.2" or "1.2" (any case) is "1.2", likewise 1.3, and
 * anything else (NULL too) "other". ok == 0: moat_tls_handshake_failures_total
 * (version ignored). */
void moat_metrics_tls_handshake(struct moat_metrics *m, const char *version, int ok);

/* Counts one Set-Cookie field that moat rewrote. */
void moat_metrics_cookie_hardened(struct moat_metrics *m);

/* Counts an emergency-shutdown attempt; all four results are rendered from the start. */
void moat_metrics_shutdown_attempt(struct moat_metrics *m, enum moat_metrics_shutdown result);

/* Counts a completed handshake that resumed a session (moat_tls_resumptions_total). */
void moat_metrics_tls_resumed(struct moat_metrics *m);

/* Counts a certificate reload: moat_tls_reload_total{result="success"} when
 * ok != 0, else {result="failure"} (both rendered from the start). */
void moat_metrics_tls_reload(struct moat_metrics *m, int ok);

/* Sets the expiry (notAfter, seconds since the epoch) of the certificate called
 * name (copied; shown escaped as the "name" label), replacing a previous value
 * for the same name. Called at load and reload, not on the request path (takes
 * a mutex). Returns 0, or -1 when name is NULL, empty, too long or all
 * MOAT_METRICS_MAX_CERTS slots hold other names. */
int moat_metrics_cert_expiry(struct moat_metrics *m, const char *name, int64_t not_after);

/* Forgets every certificate expiry (before setting them again on reload). */
void moat_metrics_cert_clear(struct moat_metrics *m);

/* Renders every family in the Prometheus text format 0.0.4 into buf (cap bytes,
 * NUL-terminated), in a fixed order. On success returns 0 with *len the text's
 * length. Returns -1 when buf is too small (then *len is the size needed,
 * NUL excluded, which may grow by the next call) or on an argument error
 * (*len = 0). Safe while other threads record. */
int moat_metrics_render(struct moat_metrics *m, const struct moat_metrics_info *info, char *buf,
                        size_t cap, size_t *len);

/* Like moat_metrics_render() into a buffer it allocates: on success returns 0
 * with *out (caller frees) holding *len bytes plus a NUL. Returns -1 when out of
 * memory or on an argument error (*out = NULL). */
int moat_metrics_render_alloc(struct moat_metrics *m, const struct moat_metrics_info *info,
                              char **out, size_t *len);

/* The "method" label for a request method: one of GET, HEAD, POST, PUT, PATCH,
 * DELETE, OPTIONS (exact, case-sensitive match as HTTP defines) or "OTHER".
 * Returns a static string, never NULL. */
const char *moat_metrics_method_label(const char *method);

#endif
