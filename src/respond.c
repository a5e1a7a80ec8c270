/* respond.c - the HTTPS listener's last word on every response: security
 * headers (secheaders.h), hardened cookies (cookie.h) and the per-request CSP nonce. */
#include <stdio.h>
#include <string.h>

#include "moat/cookie.h"
#include "moat/http1.h"
#include "moat/log.h"
#include "moat/secheaders.h"
#include "server_int.h"

/* Response fields seen: the app's (at most MOAT_HTTP1_MAX_HDRS) and moat's own. */
#define RESP_MAX_HDRS (MOAT_HTTP1_MAX_HDRS + 32)
/* A hardened Set-Cookie value: an app value (proxy.c copies at most 8 KiB) and growth. */
#define RESP_COOKIE_MAX (8192 + MOAT_COOKIE_GROWTH + 1)

/* The response's fields, pointing into libmicrohttpd's copies. */
struct resp_fields {
    struct moat_hdr hdrs[RESP_MAX_HDRS]; /* fields in order */
    size_t n;                            /* fields seen (may exceed RESP_MAX_HDRS) */
};

/* Per-response scratch space (about 60 KiB, on the worker thread's stack). */
struct resp_scratch {
    struct resp_fields f;                                        /* the fields */
    struct moat_sech_op ops[RESP_MAX_HDRS + MOAT_SECH_MAX_ADDS]; /* apply's decisions */
    unsigned char removed[RESP_MAX_HDRS];                        /* field already deleted */
    char buf[MOAT_SECH_APPLY_BUF];                               /* rendered values */
    char cookie[RESP_COOKIE_MAX];                                /* one hardened cookie */
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    struct resp_fields *f = cls;

    if (kind != MHD_HEADER_KIND || key == NULL)
        return MHD_YES;
    if (f->n < RESP_MAX_HDRS) {
        f->hdrs[f->n].name = key;
        f->hdrs[f->n].name_len = strlen(key);
        f->hdrs[f->n].value = value != NULL ? value : "";
        f->hdrs[f->n].value_len = value != NULL ? strlen(value) : 0;
    }
    f->n++;
    return MHD_YES;
}

void srv_nonce_make(struct moat_server *srv, struct req_ctx *rc)
{
    unsigned char raw[16];

    rc->nonce[0] = '\0';
    if (srv->sech == NULL || !srv->sech->nonce)
        return;
    if (!moat_secheaders_wants_nonce(srv->sech, rc->target, strlen(rc->target)))
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

/* Hardens the Set-Cookie field h (not yet deleted): replaced when it changes. */
static int harden_cookie(struct moat_server *srv, struct req_ctx *rc, struct MHD_Response *r,
                         const struct moat_hdr *h, struct resp_scratch *s)
{
    size_t out_len = 0;
    int changed = 0;
    enum moat_cookie_rc crc;

    crc = moat_cookie_harden(h->value, h->value_len, srv->cookies, s->cookie, sizeof(s->cookie),
                             &out_len, &changed);
    if (crc == MOAT_COOKIE_MALFORMED) {
        log_malformed(h, rc);
        return 0;
    }
    if (crc != MOAT_COOKIE_OK)
        return -1;
    if (!changed)
        return 0;
    if (MHD_del_response_header(r, h->name, h->value) != MHD_YES ||
        MHD_add_response_header(r, "Set-Cookie", s->cookie) != MHD_YES)
        return -1;
    moat_metrics_cookie_hardened(srv->metrics);
    return 0;
}

int srv_secure_response(struct moat_server *srv, struct req_ctx *rc, struct MHD_Response *r)
{
    struct resp_scratch scratch;
    struct resp_scratch *s = &scratch;
    const struct moat_sech_op *op;
    size_t n_ops = 0, i;
    int ret = -1;

    if (srv->sech == NULL)
        return 0;
    s->f.n = 0;
    MHD_get_response_headers(r, collect, &s->f);
    if (s->f.n > RESP_MAX_HDRS)
        goto out;
    if (moat_secheaders_apply(srv->sech, rc->target, strlen(rc->target), 1,
                              rc->nonce[0] != '\0' ? rc->nonce : NULL, s->f.hdrs, s->f.n, s->ops,
                              sizeof(s->ops) / sizeof(s->ops[0]), &n_ops, s->buf,
                              sizeof(s->buf)) != 0)
        goto out;
    memset(s->removed, 0, s->f.n);
    /* Removals first: they free the fields' strings, nothing else's. */
    for (i = 0; i < n_ops; i++) {
        op = &s->ops[i];
        if (op->kind != MOAT_SECH_OP_REMOVE || op->index >= s->f.n || s->removed[op->index])
            continue;
        if (MHD_del_response_header(r, s->f.hdrs[op->index].name, s->f.hdrs[op->index].value) !=
            MHD_YES)
            goto out;
        s->removed[op->index] = 1;
    }
    if (srv->cookies != NULL) {
        for (i = 0; i < s->f.n; i++) {
            if (s->removed[i] ||
                !moat_hdr_eq_ci(s->f.hdrs[i].name, s->f.hdrs[i].name_len, "Set-Cookie"))
                continue;
            if (harden_cookie(srv, rc, r, &s->f.hdrs[i], s) != 0)
                goto out;
        }
    }
    for (i = 0; i < n_ops; i++) {
        op = &s->ops[i];
        if (op->kind == MOAT_SECH_OP_ADD &&
            MHD_add_response_header(r, op->name, op->value) != MHD_YES)
            goto out;
    }
    ret = 0;
out:
    return ret;
}
