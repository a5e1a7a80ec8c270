/* harness_assert.c - short h_* helpers for test bodies: each does one common step (start moat,
 * connect, exchange a request) and fails the running Check test when the step fails. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void h_start_moat(struct h_moat *m, const char *upstream, const char *const *env)
{
    struct h_moat_opts o = {0};

    o.upstream = upstream;
    o.env = env;
    ck_assert_msg(harness_moat_start(m, &o) == 0, "moat did not start (upstream %s)", upstream);
}

void h_open(struct h_conn *c, const struct h_moat *m)
{
    struct h_tls_opts o = {0};

    o.ipv6 = m->ipv6;
    ck_assert_msg(harness_conn_open_tls(c, m->port, &o) == 0, "TLS connect to moat: %s", c->error);
}

void h_exchange(struct h_conn *c, const char *raw, struct h_resp *r)
{
    struct h_read_opts o = {0};

    o.head_request = strncmp(raw, "HEAD ", 5) == 0;
    o.timeout_ms = 20000;
    ck_assert_msg(harness_conn_send_str(c, raw) == 0, "send: %s", c->error);
    ck_assert_msg(harness_read_response(c, r, &o) == 0, "response to %.40s: %s (status %d)", raw,
                  r->error, r->status);
}

void h_get(const struct h_moat *m, const char *path, struct h_resp *r)
{
    struct h_conn c;
    char raw[2048];

    snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    h_open(&c, m);
    h_exchange(&c, raw, r);
    harness_conn_close(&c);
}

void h_admin_get(const struct h_moat *m, const char *path, struct h_resp *r)
{
    char raw[1024];

    ck_assert_msg(m->admin_port > 0, "moat has no admin port of the harness's choosing");
    snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    ck_assert_msg(harness_admin_request(m, raw, r) == 0, "admin GET %s: %s (status %d)", path,
                  r->error, r->status);
}

int h_metrics_sample(const char *text, const char *series, double *out)
{
    size_t n = strlen(series);
    const char *p = text;
    int found = 0;

    while (!found && p != NULL && *p != '\0') {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            *out = strtod(p + n + 1, NULL);
            found = 1;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return found;
}

double h_metric(const struct h_moat *m, const char *series)
{
    struct h_resp r;
    double v = -1;

    h_admin_get(m, "/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    if (!h_metrics_sample(r.body != NULL ? (const char *)r.body : "", series, &v))
        v = -1;
    harness_resp_free(&r);
    return v;
}

struct h_upstream *h_ok_upstream(void)
{
    static const struct h_step ok[] = {
        H_SEND("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"),
        H_END};
    const struct h_step *const scripts[] = {ok};
    struct h_upstream *u = harness_upstream_start(scripts, 1);

    ck_assert_msg(u != NULL, "cannot start a raw upstream");
    return u;
}

char *h_upstream_head(struct h_upstream *u, unsigned idx)
{
    char *head;

    ck_assert_msg(harness_upstream_wait(u, idx + 1, 5000), "the upstream got no request %u", idx);
    head = harness_upstream_head(u, idx);
    ck_assert_msg(head != NULL, "request %u was not recorded", idx);
    return head;
}
