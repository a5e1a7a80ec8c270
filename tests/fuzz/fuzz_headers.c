/* fuzz_headers.c - libFuzzer target: the [headers] entry parsing (config_headers.c) and the
 * per-response decisions of the security-header policy (secheaders.h).
 *
 * Input: one flag byte (profile, HTTPS, nonce on/off, which keys get lines),
 * one byte of buffer shortening, then LF-separated lines:
 *   headers.custom, headers.overrides, headers.csp, headers.remove,
 *   headers.report_uri, the response's path, the nonce, then the app's
 *   response fields as "name:value".
 * A configuration that builds must give a policy whose every operation for any
 * app response is well formed: REMOVE ops first, ascending and in range; ADD
 * names tokens and values valid field values (NUL-terminated, inside the
 * caller's buffer or the policy); no "{nonce}" left in a CSP; no HSTS on plain
 * HTTP; one copy of each header moat sets; every name to strip stripped; the
 * documented buffer sizes always suffice and a smaller buffer is refused
 * whole, never cut. A configuration that fails names its key. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moat/config.h"
#include "moat/cookie.h"
#include "moat/hdr.h"
#include "moat/secheaders.h"

#include "fuzz_common.h"

#define FZ_MAX_INPUT 16384
#define FZ_MAX_LINES 64
#define FZ_MAX_APP 48
#define FZ_OPS_CAP (FZ_MAX_APP + MOAT_SECH_MAX_ADDS)

/* True when s (len bytes) lies inside [lo, lo + cap). */
static int fz_inside(const char *s, size_t len, const void *lo, size_t cap)
{
    const char *b = lo;

    return s >= b && s <= b + cap && len <= cap - (size_t)(s - b);
}

/* Checks one apply result against the policy and the app's fields. */
static void fz_check_ops(const struct moat_secheaders *p, const char *path, size_t path_len,
                         int https, const char *nonce, const struct moat_hdr *app, size_t n,
                         const struct moat_sech_op *ops, size_t n_ops, const char *buf,
                         size_t buf_cap)
{
    unsigned char removed[FZ_MAX_APP] = {0};
    unsigned added[MOAT_SECH_COUNT] = {0};
    size_t sc = moat_secheaders_scope_for(p, path, path_len);
    size_t last_remove = 0;
    int seen_add = 0;
    size_t i;
    size_t k;

    FZ_CHECK(sc < p->n_scopes);
    for (i = 0; i < n_ops; i++) {
        const struct moat_sech_op *op = &ops[i];

        if (op->kind == MOAT_SECH_OP_REMOVE) {
            FZ_CHECK(!seen_add && op->index < n && (i == 0 || op->index > last_remove));
            removed[op->index] = 1;
            last_remove = op->index;
            continue;
        }
        FZ_CHECK(op->kind == MOAT_SECH_OP_ADD);
        seen_add = 1;
        FZ_CHECK(op->name != NULL && strlen(op->name) == op->name_len);
        FZ_CHECK(moat_hdr_is_token(op->name, op->name_len));
        FZ_CHECK(op->value != NULL && strlen(op->value) == op->value_len);
        FZ_CHECK(moat_hdr_value_ok(op->value, op->value_len));
        FZ_CHECK(fz_inside(op->value, op->value_len + 1, buf, buf_cap) ||
                 fz_inside(op->value, op->value_len + 1, p->pool, sizeof(p->pool)));
        FZ_CHECK(!moat_hdr_eq_ci(op->name, op->name_len, "Content-Length") &&
                 !moat_hdr_eq_ci(op->name, op->name_len, "Transfer-Encoding") &&
                 !moat_hdr_eq_ci(op->name, op->name_len, "Connection") &&
                 !moat_hdr_eq_ci(op->name, op->name_len, "Set-Cookie"));
        for (k = 0; k < MOAT_SECH_COUNT; k++) {
            const char *name = moat_secheaders_name((enum moat_sech_id)k);

            if (moat_hdr_eq_ci(op->name, op->name_len, name))
                added[k]++;
        }
        if (moat_hdr_eq_ci(op->name, op->name_len, "Content-Security-Policy") ||
            moat_hdr_eq_ci(op->name, op->name_len, "Content-Security-Policy-Report-Only")) {
            FZ_CHECK(strstr(op->value, "{nonce}") == NULL);
            if (nonce != NULL && p->nonce) {
                char want[MOAT_SECH_NONCE_MAX + 16];
                const char *raw = NULL;
                enum moat_sech_id id =
                    moat_hdr_eq_ci(op->name, op->name_len, "Content-Security-Policy")
                        ? MOAT_SECH_CSP
                        : MOAT_SECH_CSP_RO;

                (void)moat_secheaders_effective(p, sc, id, &raw);
                snprintf(want, sizeof(want), "'nonce-%s'", nonce);
                FZ_CHECK(raw != NULL);
                FZ_CHECK(strstr(raw, "'nonce-{nonce}'") == NULL || strstr(op->value, want) != NULL);
            }
        }
    }
    for (k = 0; k < MOAT_SECH_COUNT; k++) {
        const char *value = NULL;
        enum moat_sech_mode mode = moat_secheaders_effective(p, sc, (enum moat_sech_id)k, &value);

        FZ_CHECK(added[k] <= 1);
        if (k == MOAT_SECH_HSTS && !https)
            FZ_CHECK(added[k] == 0);
        else if (mode == MOAT_SECH_SET)
            FZ_CHECK(added[k] == 1);
        else if (mode == MOAT_SECH_OFF)
            FZ_CHECK(added[k] == 0);
    }
    /* What moat sets replaces the app's; names to strip are stripped. */
    for (i = 0; i < n; i++) {
        const char *value = NULL;
        int id = -1;

        for (k = 0; k < MOAT_SECH_COUNT && id < 0; k++)
            if (moat_hdr_eq_ci(app[i].name, app[i].name_len,
                               moat_secheaders_name((enum moat_sech_id)k)))
                id = (int)k;
        if (id >= 0 &&
            moat_secheaders_effective(p, sc, (enum moat_sech_id)id, &value) == MOAT_SECH_SET)
            FZ_CHECK(removed[i]);
        if (id == MOAT_SECH_HSTS && !https &&
            moat_secheaders_effective(p, sc, MOAT_SECH_HSTS, &value) != MOAT_SECH_OFF)
            FZ_CHECK(removed[i]);
        for (k = 0; k < p->n_remove; k++)
            if (moat_hdr_mem_eq_ci(app[i].name, app[i].name_len, p->pool + p->remove[k].off,
                                   p->remove[k].len))
                FZ_CHECK(removed[i]);
    }
}

static void fz_warn(void *arg, const char *code, const char *where, const char *msg)
{
    FZ_CHECK(code != NULL && where != NULL && msg != NULL && code[0] != '\0');
    (void)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char in[FZ_MAX_INPUT + 1];
    static struct moat_config cfg;
    static struct moat_secheaders pol;
    static struct moat_sech_op ops[FZ_OPS_CAP];
    static struct moat_sech_op ops2[FZ_OPS_CAP];
    static char buf[MOAT_SECH_APPLY_BUF];
    static char buf2[MOAT_SECH_APPLY_BUF];
    static char empty[] = "";
    struct moat_hdr app[FZ_MAX_APP];
    struct moat_cookie_policy cp;
    char *lines[FZ_MAX_LINES];
    char err[1024];
    const char *nonce;
    const char *path;
    size_t path_len;
    size_t n_app = 0;
    size_t nl = 0;
    size_t len;
    size_t pos = 0;
    size_t n_ops = 99;
    size_t n_ops2 = 99;
    size_t cap;
    size_t i;
    uint8_t flags;
    int https;
    int rc;

    if (size < 2)
        return 0;
    flags = data[0];
    len = size - 2 > FZ_MAX_INPUT ? FZ_MAX_INPUT : size - 2;
    memcpy(in, data + 2, len);
    in[len] = '\0';
    while (pos <= len && nl < FZ_MAX_LINES) {
        char *lf = memchr(in + pos, '\n', len - pos);
        size_t end = lf != NULL ? (size_t)(lf - in) : len;

        in[end] = '\0';
        if (nl < 7)
            lines[nl++] = in + pos;
        else if (n_app < FZ_MAX_APP)
            fz_field(in + pos, end - pos, &app[n_app++]);
        pos = end + 1;
    }
    while (nl < 7)
        lines[nl++] = empty;

    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.headers.profile, sizeof(cfg.headers.profile), "%s",
             (flags & 1) ? "strict" : "standard");
    cfg.headers.hsts_max_age = 63072000;
    cfg.headers.hsts_include_subdomains = 1;
    cfg.headers.csp_nonce = (flags >> 1) & 1;
    snprintf(cfg.headers.custom, sizeof(cfg.headers.custom), "%s", lines[0]);
    snprintf(cfg.headers.overrides, sizeof(cfg.headers.overrides), "%s", lines[1]);
    if (flags & 4)
        snprintf(cfg.headers.csp, sizeof(cfg.headers.csp), "%s", lines[2]);
    else
        snprintf(cfg.headers.csp_report_only, sizeof(cfg.headers.csp_report_only), "%s", lines[2]);
    snprintf(cfg.headers.remove, sizeof(cfg.headers.remove), "%s", lines[3]);
    snprintf(cfg.headers.report_uri, sizeof(cfg.headers.report_uri), "%s", lines[4]);
    snprintf(cfg.cookies.samesite, sizeof(cfg.cookies.samesite), "lax");

    memset(err, 'G', sizeof(err));
    if (moat_config_headers_build(&cfg, &pol, &cp, err, sizeof(err)) != 0) {
        FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
        FZ_CHECK(strncmp(err, "headers.", 8) == 0 || strncmp(err, "cookies.", 8) == 0);
        return 0;
    }
    FZ_CHECK(pol.n_scopes >= 1 && pol.n_scopes <= 1 + MOAT_SECH_MAX_OVERRIDES);
    FZ_CHECK(pol.pool_used <= sizeof(pol.pool) && pol.n_remove <= MOAT_SECH_MAX_REMOVE);
    for (i = 0; i < pol.n_scopes; i++)
        FZ_CHECK(pol.scope[i].n_custom <= MOAT_SECH_MAX_CUSTOM);
    FZ_CHECK(moat_secheaders_lint(&pol, fz_warn, NULL) >= 0);

    https = (flags >> 3) & 1;
    path = lines[5];
    path_len = strlen(path);
    nonce = (flags & 0x10) ? lines[6] : NULL;
    if (flags & 0x20) {
        static char b64[MOAT_SECH_NONCE_B64];
        unsigned char raw[16];

        for (i = 0; i < 16; i++)
            raw[i] = (unsigned char)(data[1] + i * 37);
        moat_secheaders_nonce_encode(raw, b64);
        FZ_CHECK(strlen(b64) == MOAT_SECH_NONCE_B64 - 1);
        nonce = b64;
    }

    /* The documented sizes always suffice, unless the nonce is invalid. */
    rc = moat_secheaders_apply(&pol, path, path_len, https, nonce, app, n_app, ops, FZ_OPS_CAP,
                               &n_ops, buf, sizeof(buf));
    if (rc != 0) {
        FZ_CHECK(rc == -1 && n_ops == 0 && nonce != NULL && !(flags & 0x20));
        return 0;
    }
    FZ_CHECK(n_ops <= n_app + MOAT_SECH_MAX_ADDS);
    fz_check_ops(&pol, path, path_len, https, nonce, app, n_app, ops, n_ops, buf, sizeof(buf));

    /* Smaller buffers: the same operations, or refused whole. */
    cap = (size_t)data[1] * 64 % sizeof(buf2);
    rc = moat_secheaders_apply(&pol, path, path_len, https, nonce, app, n_app, ops2,
                               (size_t)data[1] % (n_ops + 1) + (flags & 0x40 ? n_ops : 0), &n_ops2,
                               buf2, cap);
    if (rc != 0) {
        FZ_CHECK(rc == -1 && n_ops2 == 0);
        return 0;
    }
    FZ_CHECK(n_ops2 == n_ops);
    for (i = 0; i < n_ops; i++) {
        FZ_CHECK(ops2[i].kind == ops[i].kind && ops2[i].index == ops[i].index);
        FZ_CHECK(ops2[i].value_len == ops[i].value_len);
        if (ops[i].kind == MOAT_SECH_OP_ADD)
            FZ_CHECK(strcmp(ops2[i].name, ops[i].name) == 0 &&
                     memcmp(ops2[i].value, ops[i].value, ops[i].value_len) == 0);
    }
    fz_check_ops(&pol, path, path_len, https, nonce, app, n_app, ops2, n_ops2, buf2, cap);
    return 0;
}
