/* metrics_render.c - renders the registry in the Prometheus text format 0.0.4. */
#include "metrics_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Output into the caller's buffer. Writing goes on counting past the end, so a
 * failed render still reports the size it needed. */
struct wr {
    char *buf;  /* output (may be NULL when cap is 0) */
    size_t cap; /* bytes available in buf, NUL included */
    size_t len; /* bytes the text needs so far (may exceed cap) */
    int err;    /* a formatting error happened */
};

static void wr_mem(struct wr *w, const char *s, size_t n)
{
    size_t room;

    if (w->len < w->cap) {
        room = w->cap - w->len;
        memcpy(w->buf + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

static void wr_str(struct wr *w, const char *s)
{
    wr_mem(w, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void wr_fmt(struct wr *w, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    if (w->len < w->cap)
        n = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
    else
        n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        w->err = 1;
    else
        w->len += (size_t)n;
}

/* A label value with backslash, double quote and newline escaped. */
static void wr_escaped(struct wr *w, const char *s)
{
    const char *p;
    const char *run = s;

    for (p = s; *p != '\0'; p++) {
        if (*p != '\\' && *p != '"' && *p != '\n')
            continue;
        wr_mem(w, run, (size_t)(p - run));
        wr_str(w, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n");
        run = p + 1;
    }
    wr_mem(w, run, (size_t)(p - run));
}

/* A float in the shortest of %.15g / %.17g that reads back exactly. */
static void wr_double(struct wr *w, double v)
{
    char tmp[40];

    if (isnan(v)) {
        wr_str(w, "NaN");
        return;
    }
    if (isinf(v)) {
        wr_str(w, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    snprintf(tmp, sizeof(tmp), "%.15g", v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof(tmp), "%.17g", v);
    wr_str(w, tmp);
}

static void wr_family(struct wr *w, const char *name, const char *type, const char *help)
{
    wr_fmt(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Starts a sample line: name{key="value" (the label set left open). */
static void wr_open1(struct wr *w, const char *name, const char *key, const char *value)
{
    wr_str(w, name);
    wr_str(w, "{");
    wr_str(w, key);
    wr_str(w, "=\"");
    wr_escaped(w, value);
    wr_str(w, "\"");
}

static void wr_u64_line(struct wr *w, uint64_t v)
{
    wr_fmt(w, "} %" PRIu64 "\n", v);
}

static uint64_t get(const mx_counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* A counter family with one label over a fixed table, every value shown. */
static void wr_labelled(struct wr *w, const char *name, const char *help, const char *key,
                        const char *const *labels, const mx_counter *c, unsigned n)
{
    unsigned i;

    wr_family(w, name, "counter", help);
    for (i = 0; i < n; i++) {
        wr_open1(w, name, key, labels[i]);
        wr_u64_line(w, get(&c[i]));
    }
}

/* One label-less sample family. */
static void wr_single(struct wr *w, const char *name, const char *type, const char *help,
                      uint64_t v)
{
    wr_family(w, name, type, help);
    wr_fmt(w, "%s %" PRIu64 "\n", name, v);
}

/* The series of one histogram; key/value is its label (key NULL: none). */
static void wr_hist(struct wr *w, const char *name, const char *key, const char *value,
                    const struct mx_hist *h)
{
    uint64_t cum = 0;
    uint64_t sum_us;
    unsigned i;

    for (i = 0; i < MX_BUCKETS; i++) {
        cum += get(&h->bucket[i]);
        wr_fmt(w, "%s_bucket{", name);
        if (key != NULL) {
            wr_fmt(w, "%s=\"", key);
            wr_escaped(w, value);
            wr_str(w, "\",");
        }
        wr_fmt(w, "le=\"%s\"} %" PRIu64 "\n", moat_metrics_le_labels[i], cum);
    }
    sum_us = get(&h->sum_us);
    wr_fmt(w, "%s_sum", name);
    if (key != NULL) {
        wr_fmt(w, "{%s=\"", key);
        wr_escaped(w, value);
        wr_str(w, "\"}");
    }
    wr_fmt(w, " %" PRIu64 ".%06" PRIu64 "\n", sum_us / 1000000, sum_us % 1000000);
    wr_fmt(w, "%s_count", name);
    if (key != NULL) {
        wr_fmt(w, "{%s=\"", key);
        wr_escaped(w, value);
        wr_str(w, "\"}");
    }
    wr_fmt(w, " %" PRIu64 "\n", cum);
}

static const char *nz(const char *s)
{
    return s != NULL ? s : "";
}

static void render_info(struct wr *w, const struct moat_metrics_info *info)
{
    wr_family(w, "moat_build_info", "gauge",
              "Build information: moat version, TLS library and libmicrohttpd version.");
    wr_open1(w, "moat_build_info", "version", nz(info->version));
    wr_str(w, ",tls_library=\"");
    wr_escaped(w, nz(info->tls_library));
    wr_str(w, "\",mhd_version=\"");
    wr_escaped(w, nz(info->mhd_version));
    wr_str(w, "\"} 1\n");
    wr_family(w, "moat_start_time_seconds", "gauge",
              "Time moat started, in seconds since the Unix epoch.");
    wr_str(w, "moat_start_time_seconds ");
    wr_double(w, info->start_time);
    wr_str(w, "\n");
}

/* Requests by listener, folded method and status; only series seen are shown. */
static void render_requests(struct wr *w, struct moat_metrics *m)
{
    unsigned l, me, c;
    uint64_t v;

    wr_family(w, "moat_requests_total", "counter",
              "Requests answered, by listener, method (folded) and status code (0: none sent).");
    for (l = 0; l < MX_LISTENERS; l++) {
        for (me = 0; me < MX_METHODS; me++) {
            for (c = 0; c < MX_CODES; c++) {
                v = get(&m->requests[l][me][c]);
                if (v == 0)
                    continue;
                wr_fmt(w,
                       "moat_requests_total{listener=\"%s\",method=\"%s\",code=\"%u\"} %" PRIu64
                       "\n",
                       moat_metrics_listener_labels[l], moat_metrics_method_labels[me],
                       c == 0 ? 0u : c + 99, v);
            }
        }
    }
    wr_family(w, "moat_request_duration_seconds", "histogram",
              "Time from a request head to the end of its response, by listener.");
    for (l = 0; l < MX_LISTENERS; l++)
        wr_hist(w, "moat_request_duration_seconds", "listener", moat_metrics_listener_labels[l],
                &m->req_duration[l]);
    wr_labelled(w, "moat_bytes_received_total", "Request body bytes received from clients.",
                "listener", moat_metrics_listener_labels, m->bytes_in, MX_LISTENERS);
    wr_labelled(w, "moat_bytes_sent_total", "Response body bytes sent to clients.", "listener",
                moat_metrics_listener_labels, m->bytes_out, MX_LISTENERS);
    wr_labelled(w, "moat_requests_rejected_total",
                "Requests refused by a hardening rule, by reason.", "reason",
                moat_metrics_reqrej_labels, m->req_rejected, MX_REQREJ);
}

/* 301, 302, 307 and 308 always; any other 3xx once seen. */
static void render_redirects(struct wr *w, struct moat_metrics *m)
{
    unsigned i;
    uint64_t v;
    int always;

    wr_family(w, "moat_redirects_total", "counter",
              "Redirects to HTTPS sent by the HTTP listener, by status code.");
    for (i = 0; i < MX_REDIRECTS; i++) {
        v = get(&m->redirects[i]);
        always = i == 1 || i == 2 || i == 7 || i == 8;
        if (v == 0 && !always)
            continue;
        wr_fmt(w, "moat_redirects_total{code=\"%u\"} %" PRIu64 "\n", i + 300, v);
    }
}

static void render_connections(struct wr *w, struct moat_metrics *m)
{
    unsigned l;

    wr_family(w, "moat_connections_active", "gauge", "Client connections open now, by listener.");
    for (l = 0; l < MX_LISTENERS; l++) {
        wr_open1(w, "moat_connections_active", "listener", moat_metrics_listener_labels[l]);
        wr_fmt(w, "} %" PRId64 "\n",
               (int64_t)atomic_load_explicit(&m->conn_active[l], memory_order_relaxed));
    }
    wr_labelled(w, "moat_connections_total", "Client connections accepted, by listener.",
                "listener", moat_metrics_listener_labels, m->conn_total, MX_LISTENERS);
    wr_labelled(w, "moat_connections_rejected_total",
                "Client connections refused or cut before a request, by reason.", "reason",
                moat_metrics_connrej_labels, m->conn_rejected, MX_CONNREJ);
}

static void render_tls(struct wr *w, struct moat_metrics *m)
{
    struct mx_cert certs[MOAT_METRICS_MAX_CERTS];
    unsigned n, i;

    wr_labelled(w, "moat_tls_handshakes_total",
                "TLS handshakes completed on the HTTPS listener (client Finished received), by "
                "protocol version.",
                "version", moat_metrics_tlsver_labels, m->tls_ok, MX_TLSVER);
    wr_single(w, "moat_tls_handshake_failures_total", "counter",
              "TLS connections to the HTTPS listener closed before their handshake completed: "
              "refused versions or ciphers, certificates the client rejected, clients that sent "
              "nothing or no TLS.",
              get(&m->tls_failed));
    wr_single(w, "moat_tls_resumptions_total", "counter",
              "TLS handshakes on the HTTPS listener that resumed a session (by ticket); also "
              "counted in moat_tls_handshakes_total.",
              get(&m->tls_resumed));
    wr_family(w, "moat_tls_reload_total", "counter",
              "Reloads of the served certificates (SIGHUP or a file change), by result; on "
              "failure the previous certificates stay in service.");
    wr_fmt(w, "moat_tls_reload_total{result=\"success\"} %" PRIu64 "\n", get(&m->tls_reload[1]));
    wr_fmt(w, "moat_tls_reload_total{result=\"failure\"} %" PRIu64 "\n", get(&m->tls_reload[0]));
    pthread_mutex_lock(&m->cert_lock);
    n = m->n_certs;
    memcpy(certs, m->certs, n * sizeof(certs[0]));
    pthread_mutex_unlock(&m->cert_lock);
    wr_family(w, "moat_tls_certificate_expiry_timestamp_seconds", "gauge",
              "Expiry (notAfter) of each loaded certificate, in seconds since the Unix epoch.");
    for (i = 0; i < n; i++) {
        wr_open1(w, "moat_tls_certificate_expiry_timestamp_seconds", "name", certs[i].name);
        wr_fmt(w, "} %" PRId64 "\n", certs[i].not_after);
    }
}

static void render_upstream(struct wr *w, struct moat_metrics *m,
                            const struct moat_metrics_info *info)
{
    wr_family(w, "moat_upstream_request_duration_seconds", "histogram",
              "Time from upstream connect or reuse to the upstream's response head.");
    wr_hist(w, "moat_upstream_request_duration_seconds", NULL, NULL, &m->up_duration);
    wr_labelled(w, "moat_upstream_errors_total", "Upstream failures, by reason.", "reason",
                moat_metrics_uperr_labels, m->up_errors, MX_UPERR);
    wr_family(w, "moat_upstream_connections", "gauge",
              "Connections to the upstream open now, by state.");
    wr_fmt(w, "moat_upstream_connections{state=\"idle\"} %u\n", info->upstream_idle);
    wr_fmt(w, "moat_upstream_connections{state=\"active\"} %u\n", info->upstream_active);
}

static void render_misc(struct wr *w, struct moat_metrics *m)
{
    wr_single(w, "moat_cookies_hardened_total", "counter",
              "Set-Cookie fields from the upstream that moat hardened.", get(&m->cookies));
    wr_labelled(w, "moat_emergency_shutdown_attempts_total",
                "Requests to the emergency shutdown endpoint, by result.", "result",
                moat_metrics_shutdown_labels, m->shutdown, MX_SHUTDOWN);
}

static void render_process(struct wr *w, const struct moat_procstat *p)
{
    if (p->have & MOAT_PROC_CPU) {
        wr_family(w, "process_cpu_seconds_total", "counter",
                  "Total user and system CPU time spent in seconds.");
        wr_str(w, "process_cpu_seconds_total ");
        wr_double(w, p->cpu_seconds);
        wr_str(w, "\n");
    }
    if (p->have & MOAT_PROC_RSS)
        wr_single(w, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                  p->resident_bytes);
    if (p->have & MOAT_PROC_FDS)
        wr_single(w, "process_open_fds", "gauge", "Number of open file descriptors.", p->open_fds);
    if (p->have & MOAT_PROC_MAXFD)
        wr_single(w, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                  p->max_fds);
    if (p->have & MOAT_PROC_START) {
        wr_family(w, "process_start_time_seconds", "gauge",
                  "Start time of the process since unix epoch in seconds.");
        wr_str(w, "process_start_time_seconds ");
        wr_double(w, p->start_time);
        wr_str(w, "\n");
    }
}

int moat_metrics_render(struct moat_metrics *m, const struct moat_metrics_info *info, char *buf,
                        size_t cap, size_t *len)
{
    struct wr w = {buf, cap, 0, 0};

    if (len == NULL)
        return -1;
    *len = 0;
    if (m == NULL || info == NULL || (buf == NULL && cap != 0))
        return -1;
    render_info(&w, info);
    render_requests(&w, m);
    render_redirects(&w, m);
    render_connections(&w, m);
    render_tls(&w, m);
    render_upstream(&w, m, info);
    render_misc(&w, m);
    if (info->proc != NULL)
        render_process(&w, info->proc);
    if (w.err)
        return -1;
    *len = w.len;
    if (w.len >= w.cap) {
        if (w.cap > 0)
            w.buf[w.cap - 1] = '\0';
        return -1;
    }
    w.buf[w.len] = '\0';
    return 0;
}

int moat_metrics_render_alloc(struct moat_metrics *m, const struct moat_metrics_info *info,
                              char **out, size_t *len)
{
    size_t cap = 32768;
    size_t need = 0;
    char *buf = NULL;
    int attempt;
    int rc = -1;

    if (out == NULL || len == NULL)
        return -1;
    *out = NULL;
    *len = 0;
    /* Counters may add series between attempts; a few retries with slack settle it. */
    for (attempt = 0; attempt < 4; attempt++) {
        buf = malloc(cap);
        if (buf == NULL)
            goto out;
        if (moat_metrics_render(m, info, buf, cap, &need) == 0) {
            *out = buf;
            *len = need;
            buf = NULL;
            rc = 0;
            goto out;
        }
        free(buf);
        buf = NULL;
        if (need == 0)
            goto out;
        cap = need + need / 4 + 4096;
    }
out:
    free(buf);
    return rc;
}
