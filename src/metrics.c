/* metrics.c - the metrics registry: label tables, creation, lock-free recording. */
#include "metrics_int.h"

#include <stdlib.h>
#include <string.h>

/* Recording must never fall back to libatomic's locks. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2,
               "64-bit atomics must be lock-free");

/* An input string counted under another label (index into the label table). */
struct alias {
    const char *in; /* reason as a caller spells it */
    unsigned idx;   /* label it is counted under */
};

const char *const moat_metrics_listener_labels[] = {"https", "http", "admin"};

const char *const moat_metrics_method_labels[] = {"GET",   "HEAD",   "POST",    "PUT",
                                                  "PATCH", "DELETE", "OPTIONS", "OTHER"};

const char *const moat_metrics_uperr_labels[] = {"connect", "timeout",  "reset", "protocol",
                                                 "limit",   "shutdown", "tls",   "other"};

/* Proxy and pool reasons that share a label with a broader one. */
static const struct alias uperr_aliases[] = {
    {"no_address", 0},        /* connect: the name did not resolve */
    {"connect_timeout", 0},   /* connect: no answer to the SYN in time */
    {"closed", 2},            /* reset: closed before a response head */
    {"bad_response_head", 3}, /* protocol: head moat cannot represent */
    {"tls_verify", 6},        /* tls: the app's certificate failed verification */
    {"tls_handshake", 6},     /* tls: the handshake failed otherwise */
};

const char *const moat_metrics_connrej_labels[] = {"limit",    "per_ip_limit", "head_timeout",
                                                   "draining", "lockdown",     "other"};

/* Every reqcheck.h reason, then the server's own, then "other". */
/* clang-format off */
const char *const moat_metrics_reqrej_labels[] = {
    "bad_method",         "method_not_allowed",    "bad_version",
    "uri_too_long",       "bad_target",            "host_mismatch",
    "too_many_headers",   "headers_too_large",     "bad_header_name",
    "bad_header_value",   "missing_host",          "dup_host",
    "bad_host",           "dup_content_length",    "bad_content_length",
    "body_too_large",     "dup_transfer_encoding", "bad_transfer_encoding",
    "cl_and_te",          "bad_expect",            "head_timeout",
    "body_timeout",       "draining",              "lockdown",
    "other",
};
/* clang-format on */

const char *const moat_metrics_tlsver_labels[] = {"1.2", "1.3", "other"};

const char *const moat_metrics_shutdown_labels[] = {"accepted", "denied", "rate_limited",
                                                    "disabled"};

const double moat_metrics_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                      1,     2.5,  5,     10,   30,  60};

const char *const moat_metrics_le_labels[] = {"0.005", "0.01", "0.025", "0.05", "0.1",
                                              "0.25",  "0.5",  "1",     "2.5",  "5",
                                              "10",    "30",   "60",    "+Inf"};

static void count(mx_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Index of s in labels[0..n-1] (the last being "other"), through aliases;
 * NULL and unknown strings give n - 1. */
static unsigned label_index(const char *s, const char *const *labels, unsigned n,
                            const struct alias *aliases, size_t n_aliases)
{
    unsigned i;
    size_t a;

    if (s == NULL)
        return n - 1;
    for (i = 0; i + 1 < n; i++) {
        if (strcmp(s, labels[i]) == 0)
            return i;
    }
    for (a = 0; a < n_aliases; a++) {
        if (strcmp(s, aliases[a].in) == 0)
            return aliases[a].idx;
    }
    return n - 1;
}

static unsigned method_index(const char *method)
{
    return label_index(method, moat_metrics_method_labels, MX_METHODS, NULL, 0);
}

/* Bucket i holds observations in (bounds[i-1], bounds[i]]; NaN and negative
 * durations count as 0, huge ones are capped so the microsecond sum stays sane. */
static void hist_observe(struct mx_hist *h, double seconds)
{
    unsigned i = 0;
    double s = seconds;

    if (!(s > 0))
        s = 0;
    if (s > 1e9)
        s = 1e9;
    while (i < MX_BOUNDS && s > moat_metrics_bounds[i])
        i++;
    count(&h->bucket[i], 1);
    count(&h->sum_us, (uint64_t)(s * 1e6 + 0.5));
}

static int listener_ok(enum moat_metrics_listener listener)
{
    return (unsigned)listener < MX_LISTENERS;
}

struct moat_metrics *moat_metrics_new(void)
{
    struct moat_metrics *m;

    /* All-zero bytes are a valid zero for lock-free atomic integers. */
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    if (pthread_mutex_init(&m->cert_lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void moat_metrics_free(struct moat_metrics *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->cert_lock);
    free(m);
}

const char *moat_metrics_method_label(const char *method)
{
    return moat_metrics_method_labels[method_index(method)];
}

void moat_metrics_request(struct moat_metrics *m, enum moat_metrics_listener listener,
                          const char *method, int status, double duration_s, uint64_t bytes_in,
                          uint64_t bytes_out)
{
    unsigned code = 0;

    if (m == NULL || !listener_ok(listener))
        return;
    if (status >= 100 && status <= 599)
        code = (unsigned)status - 99;
    count(&m->requests[listener][method_index(method)][code], 1);
    hist_observe(&m->req_duration[listener], duration_s);
    if (bytes_in != 0)
        count(&m->bytes_in[listener], bytes_in);
    if (bytes_out != 0)
        count(&m->bytes_out[listener], bytes_out);
}

void moat_metrics_upstream(struct moat_metrics *m, double duration_s)
{
    if (m != NULL)
        hist_observe(&m->up_duration, duration_s);
}

void moat_metrics_upstream_error(struct moat_metrics *m, const char *reason)
{
    unsigned i;

    if (m == NULL)
        return;
    i = label_index(reason, moat_metrics_uperr_labels, MX_UPERR, uperr_aliases,
                    sizeof(uperr_aliases) / sizeof(uperr_aliases[0]));
    count(&m->up_errors[i], 1);
}

void moat_metrics_conn_open(struct moat_metrics *m, enum moat_metrics_listener listener)
{
    if (m == NULL || !listener_ok(listener))
        return;
    atomic_fetch_add_explicit(&m->conn_active[listener], 1, memory_order_relaxed);
    count(&m->conn_total[listener], 1);
}

void moat_metrics_conn_close(struct moat_metrics *m, enum moat_metrics_listener listener)
{
    if (m == NULL || !listener_ok(listener))
        return;
    atomic_fetch_sub_explicit(&m->conn_active[listener], 1, memory_order_relaxed);
}

void moat_metrics_conn_rejected(struct moat_metrics *m, const char *reason)
{
    if (m == NULL)
        return;
    count(&m->conn_rejected[label_index(reason, moat_metrics_connrej_labels, MX_CONNREJ, NULL, 0)],
          1);
}

void moat_metrics_request_rejected(struct moat_metrics *m, const char *reason)
{
    if (m == NULL)
        return;
    count(&m->req_rejected[label_index(reason, moat_metrics_reqrej_labels, MX_REQREJ, NULL, 0)], 1);
}

void moat_metrics_redirect(struct moat_metrics *m, int code)
{
    if (m == NULL || code < 300 || code > 399)
        return;
    count(&m->redirects[code - 300], 1);
}

/* "TLS1.2", "TLSv1.2", "1.2" (any case) -> 0; likewise 1.3 -> 1; else 2. */
static unsigned tls_version_index(const char *version)
{
    const char *v = version;

    if (v == NULL)
        return 2;
    if ((v[0] == 'T' || v[0] == 't') && (v[1] == 'L' || v[1] == 'l') &&
        (v[2] == 'S' || v[2] == 's')) {
        v += 3;
        if (*v == 'v' || *v == 'V')
            v++;
    }
    if (strcmp(v, "1.2") == 0)
        return 0;
    if (strcmp(v, "1.3") == 0)
        return 1;
    return 2;
}

void moat_metrics_tls_handshake(struct moat_metrics *m, const char *version, int ok)
{
    if (m == NULL)
        return;
    if (ok)
        count(&m->tls_ok[tls_version_index(version)], 1);
    else
        count(&m->tls_failed, 1);
}

void moat_metrics_cookie_hardened(struct moat_metrics *m)
{
    if (m != NULL)
        count(&m->cookies, 1);
}

void moat_metrics_shutdown_attempt(struct moat_metrics *m, enum moat_metrics_shutdown result)
{
    if (m == NULL || (unsigned)result >= MX_SHUTDOWN)
        return;
    count(&m->shutdown[result], 1);
}

void moat_metrics_tls_resumed(struct moat_metrics *m)
{
    if (m == NULL)
        return;
    count(&m->tls_resumed, 1);
}

void moat_metrics_tls_reload(struct moat_metrics *m, int ok)
{
    if (m == NULL)
        return;
    count(&m->tls_reload[ok ? 1 : 0], 1);
}

int moat_metrics_cert_expiry(struct moat_metrics *m, const char *name, int64_t not_after)
{
    size_t len;
    unsigned i;
    int cmp = 1;
    int rc = -1;

    if (m == NULL || name == NULL)
        return -1;
    len = strlen(name);
    if (len == 0 || len >= MOAT_METRICS_CERT_NAME_MAX)
        return -1;
    pthread_mutex_lock(&m->cert_lock);
    /* Slots stay sorted by name: find the first name >= this one. */
    for (i = 0; i < m->n_certs; i++) {
        cmp = strcmp(m->certs[i].name, name);
        if (cmp >= 0)
            break;
    }
    if (i < m->n_certs && cmp == 0) {
        m->certs[i].not_after = not_after;
        rc = 0;
        goto out;
    }
    if (m->n_certs == MOAT_METRICS_MAX_CERTS)
        goto out;
    memmove(&m->certs[i + 1], &m->certs[i], (m->n_certs - i) * sizeof(m->certs[0]));
    memcpy(m->certs[i].name, name, len + 1);
    m->certs[i].not_after = not_after;
    m->n_certs++;
    rc = 0;
out:
    pthread_mutex_unlock(&m->cert_lock);
    return rc;
}

void moat_metrics_cert_clear(struct moat_metrics *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->cert_lock);
    m->n_certs = 0;
    pthread_mutex_unlock(&m->cert_lock);
}
