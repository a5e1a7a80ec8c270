/* secheaders.c - security-header policy at run time: scope by path, per-response ops, HSTS, nonces.
 */
#include "moat/secheaders.h"

#include <string.h>

#include "secheaders_int.h"

/* Managed headers: wire name and configuration key, indexed by enum moat_sech_id. */
static const struct {
    const char *name; /* header name */
    const char *key;  /* configuration key */
} managed[MOAT_SECH_COUNT] = {
    {"Strict-Transport-Security", "hsts"},
    {"Content-Security-Policy", "csp"},
    {"Content-Security-Policy-Report-Only", "csp_report_only"},
    {"X-Content-Type-Options", "content_type_options"},
    {"X-Frame-Options", "frame_options"},
    {"Referrer-Policy", "referrer_policy"},
    {"Permissions-Policy", "permissions_policy"},
    {"Cross-Origin-Opener-Policy", "coop"},
    {"Cross-Origin-Resource-Policy", "corp"},
    {"Cross-Origin-Embedder-Policy", "coep"},
    {"X-Permitted-Cross-Domain-Policies", "cross_domain_policies"},
};

/* Managed id of a header name (not a key), or -1. */
int moat_sech_managed_id(const char *s, size_t len)
{
    int i;

    for (i = 0; i < MOAT_SECH_COUNT; i++)
        if (moat_hdr_eq_ci(s, len, managed[i].name))
            return i;
    return -1;
}

const char *moat_secheaders_name(enum moat_sech_id id)
{
    return (unsigned)id < MOAT_SECH_COUNT ? managed[id].name : NULL;
}

const char *moat_secheaders_key(enum moat_sech_id id)
{
    return (unsigned)id < MOAT_SECH_COUNT ? managed[id].key : NULL;
}

int moat_secheaders_lookup(const char *s, size_t len)
{
    int i;

    for (i = 0; i < MOAT_SECH_COUNT; i++)
        if (moat_hdr_eq_ci(s, len, managed[i].key))
            return i;
    return moat_sech_managed_id(s, len);
}

/* Index of the custom header called name in sc, or -1. */
int moat_sech_find_custom(const struct moat_secheaders *p, const struct moat_sech_scope *sc,
                          const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < sc->n_custom; i++)
        if (moat_sech_str_is(p, sc->custom[i].name, name, len))
            return (int)i;
    return -1;
}

/* --- choosing the scope for a path ------------------------------------------------------------ */

/* Decodes the byte at s[i] (a %XX escape or a plain byte) into *c; returns bytes consumed. */
static size_t decode_at(const char *s, size_t len, size_t i, char *c)
{
    if (s[i] == '%' && i + 2 < len && moat_hdr_hex_value(s[i + 1]) >= 0 &&
        moat_hdr_hex_value(s[i + 2]) >= 0) {
        *c = (char)(moat_hdr_hex_value(s[i + 1]) * 16 + moat_hdr_hex_value(s[i + 2]));
        return 3;
    }
    *c = s[i];
    return 1;
}

/* True when decoded s[a..b) equals lit[0..n). */
static int seg_eq(const char *s, size_t a, size_t b, const char *lit, size_t n)
{
    size_t j = 0;
    char c;

    while (a < b) {
        a += decode_at(s, b, a, &c);
        if (j >= n || c != lit[j++])
            return 0;
    }
    return j == n;
}

/* The first MOAT_SECH_PREFIX_SEGS segments of the normalised path, and how many there are. */
struct segs {
    size_t a[MOAT_SECH_PREFIX_SEGS]; /* segment start in the raw path */
    size_t b[MOAT_SECH_PREFIX_SEGS]; /* segment end */
    size_t depth;                    /* segments after normalisation */
};

static void path_segs(const char *path, size_t len, struct segs *sg)
{
    size_t i = 0;

    sg->depth = 0;
    while (i < len && path[i] != '?' && path[i] != '#') {
        size_t st = i;
        size_t end = st;
        char c;

        while (i < len && path[i] != '?' && path[i] != '#') {
            size_t step = decode_at(path, len, i, &c);

            if (c == '/' || c == '\\') {
                end = i;
                i += step;
                break;
            }
            i += step;
            end = i;
        }
        if (end == st || seg_eq(path, st, end, ".", 1))
            continue;
        if (seg_eq(path, st, end, "..", 2)) {
            if (sg->depth > 0)
                sg->depth--;
            continue;
        }
        if (sg->depth < MOAT_SECH_PREFIX_SEGS) {
            sg->a[sg->depth] = st;
            sg->b[sg->depth] = end;
        }
        sg->depth++;
    }
}

static int scope_matches(const struct moat_secheaders *p, const struct moat_sech_scope *sc,
                         const char *path, const struct segs *sg)
{
    const char *pre = moat_sech_str(p, sc->prefix);
    size_t i = 1;
    size_t k;

    if (sg->depth < sc->n_segs)
        return 0;
    for (k = 0; k < sc->n_segs; k++) {
        size_t st = i;

        while (pre[i] != '\0' && pre[i] != '/')
            i++;
        if (!seg_eq(path, sg->a[k], sg->b[k], pre + st, i - st))
            return 0;
        i++;
    }
    return 1;
}

static size_t scope_for(const struct moat_secheaders *p, const char *path, size_t len)
{
    struct segs sg;
    size_t best = 0;
    size_t k;

    if (p->n_scopes <= 1 || path == NULL)
        return 0;
    path_segs(path, len, &sg);
    for (k = 1; k < p->n_scopes; k++)
        if ((best == 0 || p->scope[k].n_segs > p->scope[best].n_segs) &&
            scope_matches(p, &p->scope[k], path, &sg))
            best = k;
    return best;
}

size_t moat_secheaders_scope_for(const struct moat_secheaders *p, const char *path, size_t len)
{
    return p != NULL ? scope_for(p, path, len) : 0;
}

/* --- per-response decisions ------------------------------------------------------------------- */

/* Effective mode and value of managed header id in scope sc (OFF when no value). */
static int eff_entry(const struct moat_secheaders *p, size_t sc, int id, struct moat_sech_str *val)
{
    const struct moat_sech_entry *b = &p->scope[0].hdr[id];
    const struct moat_sech_entry *o = &p->scope[sc].hdr[id];
    int mode = o->mode != MOAT_SECH_INHERIT ? o->mode : b->mode;

    *val = o->value.len > 0 ? o->value : b->value;
    if (mode == MOAT_SECH_INHERIT || val->len == 0)
        mode = MOAT_SECH_OFF;
    return mode;
}

/* The k-th custom header in effect for scope sc (base ones, replaced by the
 * override's of the same name, then the override's new ones). NULL when that
 * slot is suppressed, OFF or already counted. */
static const struct moat_sech_custom *eff_custom(const struct moat_secheaders *p, size_t sc,
                                                 size_t k)
{
    const struct moat_sech_scope *b = &p->scope[0];
    const struct moat_sech_scope *o = &p->scope[sc];
    const struct moat_sech_custom *c;
    int j;

    if (k < b->n_custom) {
        c = &b->custom[k];
        j = sc > 0 ? moat_sech_find_custom(p, o, moat_sech_str(p, c->name), c->name.len) : -1;
        if (j >= 0)
            c = &o->custom[j];
    } else {
        c = &o->custom[k - b->n_custom];
        if (sc == 0 || moat_sech_find_custom(p, b, moat_sech_str(p, c->name), c->name.len) >= 0)
            return NULL;
    }
    return (c->set.mode == MOAT_SECH_OFF || c->set.value.len == 0) ? NULL : c;
}

static size_t n_eff_custom(const struct moat_secheaders *p, size_t sc)
{
    return p->scope[0].n_custom + (sc > 0 ? p->scope[sc].n_custom : 0);
}

/* Output state of apply: ops and the value buffer. */
struct outs {
    struct moat_sech_op *ops; /* caller's op array */
    size_t ops_cap;           /* entries in ops */
    size_t n_ops;             /* entries used */
    char *buf;                /* caller's value buffer */
    size_t cap;               /* bytes in buf */
    size_t len;               /* bytes used */
    int failed;               /* something did not fit */
};

static void put(struct outs *o, const char *s, size_t n)
{
    if (o->failed || n > o->cap - o->len) {
        o->failed = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void add_op(struct outs *o, enum moat_sech_op_kind kind, size_t index, const char *name,
                   const char *value, size_t value_len)
{
    struct moat_sech_op *op;

    if (o->failed || o->n_ops >= o->ops_cap) {
        o->failed = 1;
        return;
    }
    op = &o->ops[o->n_ops++];
    op->kind = kind;
    op->index = index;
    op->name = name;
    op->name_len = name != NULL ? strlen(name) : 0;
    op->value = value;
    op->value_len = value_len;
}

/* Writes a CSP value into the buffer: nonces substituted or removed, report
 * directives appended; adds the op. */
static void add_csp(const struct moat_secheaders *p, int id, struct moat_sech_str v,
                    const char *nonce, struct outs *o)
{
    const char *s = moat_sech_str(p, v);
    size_t start = o->len;
    size_t i = 0;

    while (i < v.len && !o->failed) {
        const char *tok =
            memmem(s + i, v.len - i, MOAT_SECH_NONCE_TOKEN, MOAT_SECH_NONCE_TOKEN_LEN);
        size_t run = tok != NULL ? (size_t)(tok - (s + i)) : v.len - i;

        if (run > 0) {
            put(o, s + i, run); /* the text up to the next placeholder */
            i += run;
        } else if (nonce != NULL) {
            put(o, "'nonce-", 7);
            put(o, nonce, strlen(nonce));
            put(o, "'", 1);
            i += MOAT_SECH_NONCE_TOKEN_LEN;
        } else {
            while (o->len > start && (o->buf[o->len - 1] == ' ' || o->buf[o->len - 1] == '\t'))
                o->len--;
            i += MOAT_SECH_NONCE_TOKEN_LEN;
            if (o->len == start || o->buf[o->len - 1] == ';' || o->buf[o->len - 1] == ',')
                while (i < v.len && (s[i] == ' ' || s[i] == '\t'))
                    i++;
        }
    }
    if (p->report_uri.len > 0) {
        while (!o->failed && o->len > start && strchr(" \t;", o->buf[o->len - 1]) != NULL)
            o->len--;
        put(o, "; report-uri ", 13);
        put(o, moat_sech_str(p, p->report_uri), p->report_uri.len);
        put(o, "; report-to " MOAT_SECH_REPORT_GROUP, 12 + strlen(MOAT_SECH_REPORT_GROUP));
    }
    put(o, "", 1);
    if (!o->failed)
        add_op(o, MOAT_SECH_OP_ADD, 0, managed[id].name, o->buf + start, o->len - 1 - start);
}

static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A CSP base64-value: 1*( ALPHA / DIGIT / "+" / "/" / "-" / "_" ) *2"=". */
static int nonce_ok(const char *n)
{
    size_t len = strlen(n);
    size_t i = 0;

    while (i < len && (is_alnum(n[i]) || strchr("+/-_", n[i]) != NULL))
        i++;
    return i > 0 && len <= MOAT_SECH_NONCE_MAX && len - i <= 2 && strspn(n + i, "=") == len - i;
}

int moat_secheaders_apply(const struct moat_secheaders *p, const char *path, size_t path_len,
                          int is_https, const char *nonce, const struct moat_hdr *app_hdrs,
                          size_t n, struct moat_sech_op *ops, size_t ops_cap, size_t *n_ops,
                          char *buf, size_t buf_cap)
{
    struct outs o = {ops, ops_cap, 0, buf, buf_cap, 0, 0};
    unsigned char present[MOAT_SECH_COUNT] = {0};
    unsigned char cpresent[2 * MOAT_SECH_MAX_CUSTOM] = {0};
    size_t sc = scope_for(p, path, path_len);
    size_t ncust = n_eff_custom(p, sc);
    int csp_added = 0;
    size_t i;
    size_t k;
    int id;

    if (nonce != NULL && !nonce_ok(nonce))
        o.failed = 1;
    if (!p->nonce)
        nonce = NULL;
    for (i = 0; i < n && !o.failed; i++) {
        const struct moat_hdr *h = &app_hdrs[i];
        struct moat_sech_str v;
        int rm = 0;

        for (k = 0; k < p->n_remove && !rm; k++)
            rm = moat_sech_str_is(p, p->remove[k], h->name, h->name_len);
        id = moat_sech_managed_id(h->name, h->name_len);
        if (id >= 0) {
            int mode = eff_entry(p, sc, id, &v);
            rm |= mode == MOAT_SECH_SET ||
                  (id == MOAT_SECH_HSTS && !is_https && mode != MOAT_SECH_OFF);
            present[id] |= !rm;
        }
        for (k = 0; k < ncust && id < 0; k++) {
            const struct moat_sech_custom *c = eff_custom(p, sc, k);

            if (c != NULL && moat_sech_str_is(p, c->name, h->name, h->name_len)) {
                rm |= c->set.mode == MOAT_SECH_SET;
                cpresent[k] |= !rm;
            }
        }
        if (rm)
            add_op(&o, MOAT_SECH_OP_REMOVE, i, NULL, NULL, 0);
    }
    for (id = 0; id < MOAT_SECH_COUNT && !o.failed; id++) {
        struct moat_sech_str v;
        int mode = eff_entry(p, sc, id, &v);

        if (mode == MOAT_SECH_OFF || (mode == MOAT_SECH_DEFAULT && present[id]) ||
            (id == MOAT_SECH_HSTS && !is_https))
            continue;
        if (id == MOAT_SECH_CSP || id == MOAT_SECH_CSP_RO) {
            add_csp(p, id, v, nonce, &o);
            csp_added = 1;
        } else {
            add_op(&o, MOAT_SECH_OP_ADD, 0, managed[id].name, moat_sech_str(p, v), v.len);
        }
    }
    for (k = 0; k < ncust && !o.failed; k++) {
        const struct moat_sech_custom *c = eff_custom(p, sc, k);

        if (c != NULL && !(c->set.mode == MOAT_SECH_DEFAULT && cpresent[k]))
            add_op(&o, MOAT_SECH_OP_ADD, 0, moat_sech_str(p, c->name),
                   moat_sech_str(p, c->set.value), c->set.value.len);
    }
    if (csp_added && p->report_uri.len > 0 && !o.failed) {
        size_t start = o.len;

        put(&o, MOAT_SECH_REPORT_GROUP "=\"", strlen(MOAT_SECH_REPORT_GROUP) + 2);
        put(&o, moat_sech_str(p, p->report_uri), p->report_uri.len);
        put(&o, "\"", 2); /* the quote and the NUL */
        if (!o.failed)
            add_op(&o, MOAT_SECH_OP_ADD, 0, "Reporting-Endpoints", buf + start, o.len - 1 - start);
    }
    *n_ops = o.failed ? 0 : o.n_ops;
    return o.failed ? -1 : 0;
}

enum moat_sech_mode moat_secheaders_effective(const struct moat_secheaders *p, size_t scope,
                                              enum moat_sech_id id, const char **value)
{
    struct moat_sech_str v = {0, 0};
    int mode = MOAT_SECH_OFF;

    if (scope < p->n_scopes && (unsigned)id < MOAT_SECH_COUNT)
        mode = eff_entry(p, scope, id, &v);
    *value = mode == MOAT_SECH_OFF ? NULL : moat_sech_str(p, v);
    return (enum moat_sech_mode)mode;
}

const char *moat_secheaders_hsts(const struct moat_secheaders *p, const char *path, size_t path_len,
                                 int is_https)
{
    struct moat_sech_str v;

    if (!is_https ||
        eff_entry(p, scope_for(p, path, path_len), MOAT_SECH_HSTS, &v) == MOAT_SECH_OFF)
        return NULL;
    return moat_sech_str(p, v);
}

int moat_secheaders_wants_nonce(const struct moat_secheaders *p, const char *path, size_t path_len)
{
    size_t sc = scope_for(p, path, path_len);
    struct moat_sech_str v;
    int id;

    for (id = MOAT_SECH_CSP; p->nonce && id <= MOAT_SECH_CSP_RO; id++)
        if (eff_entry(p, sc, id, &v) != MOAT_SECH_OFF &&
            memmem(moat_sech_str(p, v), v.len, MOAT_SECH_NONCE_TOKEN, MOAT_SECH_NONCE_TOKEN_LEN) !=
                NULL)
            return 1;
    return 0;
}

void moat_secheaders_nonce_encode(const unsigned char raw[16], char out[MOAT_SECH_NONCE_B64])
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    size_t j = 0;

    for (i = 0; i < 15; i += 3) {
        unsigned long v =
            ((unsigned long)raw[i] << 16) | ((unsigned long)raw[i + 1] << 8) | raw[i + 2];

        out[j++] = tab[(v >> 18) & 63];
        out[j++] = tab[(v >> 12) & 63];
        out[j++] = tab[(v >> 6) & 63];
        out[j++] = tab[v & 63];
    }
    out[j++] = tab[raw[15] >> 2];
    out[j++] = tab[(raw[15] & 3) << 4];
    out[j++] = '=';
    out[j++] = '=';
    out[j] = '\0';
}
