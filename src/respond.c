/* respond.c - the HTTPS listener's last word on every response: security
 * headers (secheaders.h), hardened cookies (cookie.h) and the per-request CSP nonce. */
#include <stdio.h>
#include <string.h>

#include "moat/cookie.h"
#include "moat/http1.h"
#include "moat/log.h"
#include "moat/secheaders.h"
#include "server_int.h"

/* Ops for one response: a REMOVE per app field at most, and moat's additions. */
#define RESP_MAX_OPS (MOAT_HTTP1_MAX_HDRS + MOAT_SECH_MAX_ADDS)
/* A hardened Set-Cookie value: an app value (at most RESP_VALUE_MAX) and growth. */
#define RESP_VALUE_MAX 8192
#define RESP_COOKIE_MAX (RESP_VALUE_MAX + MOAT_COOKIE_GROWTH + 1)
#define RESP_NAME_MAX 256

/* Per-response scratch space (about 40 KiB, on the worker thread's stack). */
struct resp_scratch {
    struct moat_sech_op ops[RESP_MAX_OPS];      /* apply's decisions */
    unsigned char removed[MOAT_HTTP1_MAX_HDRS]; /* app field dropped by the policy */
    char buf[MOAT_SECH_APPLY_BUF];              /* rendered values */
    char name[RESP_NAME_MAX];                   /* one field name, NUL-terminated */
    char value[RESP_COOKIE_MAX];                /* one field value (or hardened cookie) */
};

/* Adds name: value (not NUL-terminated) to r through s's buffers. libmicrohttpd
 * refuses empty values: a single space is read back as empty. */
static int add_field(struct MHD_Response *r, struct resp_scratch *s, const char *name,
                     size_t name_len, const char *value, size_t value_len)
{
    int ret = -1;

    if (name_len >= sizeof(s->name) || value_len > RESP_VALUE_MAX)
        goto out;
    memcpy(s->name, name, name_len);
    s->name[name_len] = '\0';
    memcpy(s->value, value, value_len);
    s->value[value_len] = '\0';
    if (value_len == 0) {
        s->value[0] = ' ';
        s->value[1] = '\0';
    }
    ret = MHD_add_response_header(r, s->name, s->value) == MHD_YES ? 0 : -1;
out:
    return ret;
}

/* Decides the policy's operations for a response to rc with the app fields
 * hdrs[0..n) into s->ops; returns how many, or -1. */
static int decide(struct moat_server *srv, struct req_ctx *rc, const struct moat_hdr *hdrs,
                  size_t n, struct resp_scratch *s, size_t *n_ops)
{
    *n_ops = 0;
    return moat_secheaders_apply(srv->sech, rc->target, rc->target_len, 1,
                                 rc->nonce[0] != '\0' ? rc->nonce : NULL, hdrs, n, s->ops,
                                 RESP_MAX_OPS, n_ops, s->buf, sizeof(s->buf));
}

/* Adds the ADD operations of s->ops[0..n_ops). */
static int add_policy_headers(struct MHD_Response *r, const struct resp_scratch *s, size_t n_ops)
{
    size_t i;
    int ret = 0;

    for (i = 0; i < n_ops && ret == 0; i++) {
        if (s->ops[i].kind == MOAT_SECH_OP_ADD &&
            MHD_add_response_header(r, s->ops[i].name, s->ops[i].value) != MHD_YES)
            ret = -1;
    }
    return ret;
}

void srv_nonce_make(struct moat_server *srv, struct req_ctx *rc)
{
    unsigned char raw[16];

    rc->nonce[0] = '\0';
    if (srv->sech == NULL || !srv->sech->nonce)
        return;
    if (!moat_secheaders_wants_nonce(srv->sech, rc->target, rc->target_len))
        return;
    srv_random16(srv, raw);
    moat_secheaders_nonce_encode(raw, rc->nonce);
    sodium_memzero(raw, sizeof(raw));
}

/* Logs a Set-Cookie value moat could not parse: the cookie's name only (the
 * text before '=' when there is one; a nameless cookie is all value). */
static void log_malformed(const struct moat_hdr *h, const struct req_ctx *rc)
{
    struct moat_logline l;
    const char *eq = memchr(h->value, '=', h->value_len);
    const char *semi = memchr(h->value, ';', h->value_len);
    size_t n = 0;

    if (eq != NULL && (semi == NULL || eq < semi))
        n = (size_t)(eq - h->value);
    if (n > 64)
        n = 64;
    moat_logline_begin(&l, MOAT_LOG_WARN, "cookie_malformed");
    moat_logline_strn(&l, "cookie", h->value, n);
    moat_logline_str(&l, "request_id", rc->request_id[0] ? rc->request_id : NULL);
    moat_logline_end(&l);
}

/* Adds the app's Set-Cookie field h to r, hardened when the policy changes it. */
static int add_cookie(struct moat_server *srv, struct req_ctx *rc, struct MHD_Response *r,
                      const struct moat_hdr *h, struct resp_scratch *s)
{
    size_t out_len = 0;
    int changed = 0, ret = -1;
    enum moat_cookie_rc crc;

    if (h->value_len > RESP_VALUE_MAX)
        goto out;
    crc = moat_cookie_harden(h->value, h->value_len, srv->cookies, s->value, sizeof(s->value),
                             &out_len, &changed);
    if (crc == MOAT_COOKIE_MALFORMED)
        log_malformed(h, rc);
    if (crc == MOAT_COOKIE_OK && changed) {
        ret = MHD_add_response_header(r, "Set-Cookie", s->value) == MHD_YES ? 0 : -1;
        if (ret == 0)
            moat_metrics_cookie_hardened(srv->metrics);
    } else if (crc == MOAT_COOKIE_OK || crc == MOAT_COOKIE_MALFORMED) {
        ret = add_field(r, s, h->name, h->name_len, h->value, h->value_len);
    }
out:
    return ret;
}

int srv_secure_response(struct moat_server *srv, struct req_ctx *rc, struct MHD_Response *r)
{
    struct resp_scratch s;
    size_t n_ops = 0;
    int ret = 0;

    if (srv->sech != NULL)
        ret = decide(srv, rc, NULL, 0, &s, &n_ops) == 0 ? add_policy_headers(r, &s, n_ops) : -1;
    return ret;
}

int srv_proxied_fields(void *arg, struct MHD_Response *r, const struct moat_hdr *hdrs, size_t n)
{
    struct srv_fields_ctx *fc = arg;
    struct moat_server *srv = fc->srv;
    struct req_ctx *rc = fc->rc;
    const char *rid = srv->cfg->proxy.request_id_header;
    struct resp_scratch s;
    size_t n_ops = 0, i;
    int ret = -1, have_rid = 0;

    if (n > MOAT_HTTP1_MAX_HDRS)
        goto out;
    memset(s.removed, 0, n);
    if (srv->sech != NULL) {
        if (decide(srv, rc, hdrs, n, &s, &n_ops) != 0)
            goto out;
        for (i = 0; i < n_ops; i++) {
            if (s.ops[i].kind == MOAT_SECH_OP_REMOVE && s.ops[i].index < n)
                s.removed[s.ops[i].index] = 1;
        }
    }
    for (i = 0; i < n; i++) {
        const struct moat_hdr *h = &hdrs[i];

        if (s.removed[i])
            continue;
        if (srv->cookies != NULL && moat_hdr_eq_ci(h->name, h->name_len, "Set-Cookie")) {
            if (add_cookie(srv, rc, r, h, &s) != 0)
                goto out;
            continue;
        }
        if (!have_rid && moat_hdr_eq_ci(h->name, h->name_len, rid))
            have_rid = 1;
        if (add_field(r, &s, h->name, h->name_len, h->value, h->value_len) != 0)
            goto out;
    }
    if (add_policy_headers(r, &s, n_ops) != 0)
        goto out;
    if (!have_rid && rc->request_id[0] != '\0' &&
        MHD_add_response_header(r, rid, rc->request_id) != MHD_YES)
        goto out;
    ret = 0;
out:
    return ret;
}
