/* secheaders_build.c - building a security-header policy: profiles, setters, value validation. */
#include "moat/secheaders.h"
#include "moat/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "secheaders_int.h"

/* Fields whose removal or replacement would break the response framing. */
static const char *const framing[] = {"Connection", "Content-Length", "Transfer-Encoding"};

/* Names a custom header may not take: framing, hop-by-hop, cookies. */
static const char *const no_custom[] = {
    "Connection", "Content-Length", "Transfer-Encoding", "Keep-Alive", "Upgrade",
    "TE",         "Trailer",        "Proxy-Connection",  "Set-Cookie",
};

static const char *const mode_names[] = {"inherit", "off", "default", "set"};

#define S MOAT_SECH_SET
#define D MOAT_SECH_DEFAULT
#define O MOAT_SECH_OFF
#define HSTS_2Y "max-age=63072000; includeSubDomains"
/* Built-in profiles (table in secheaders.h): per header, [standard, strict]. */
static const struct {
    unsigned char mode[2]; /* enum moat_sech_mode */
    const char *value[2];  /* NULL when off */
} profiles[MOAT_SECH_COUNT] = {
    [MOAT_SECH_HSTS] = {{S, S}, {HSTS_2Y, HSTS_2Y}},
    [MOAT_SECH_CSP] = {{D, S}, {MOAT_SECH_CSP_STANDARD, MOAT_SECH_CSP_STRICT}},
    [MOAT_SECH_CSP_RO] = {{O, O}, {NULL, NULL}},
    [MOAT_SECH_XCTO] = {{S, S}, {"nosniff", "nosniff"}},
    [MOAT_SECH_XFO] = {{D, S}, {"DENY", "DENY"}},
    [MOAT_SECH_REFERRER] = {{D, S}, {"strict-origin-when-cross-origin", "same-origin"}},
    [MOAT_SECH_PERMS] = {{D, S}, {MOAT_SECH_PP_STANDARD, MOAT_SECH_PP_STRICT}},
    [MOAT_SECH_COOP] = {{D, S}, {"same-origin", "same-origin"}},
    [MOAT_SECH_CORP] = {{D, S}, {"same-origin", "same-origin"}},
    [MOAT_SECH_COEP] = {{O, S}, {NULL, "require-corp"}},
    [MOAT_SECH_XPCDP] = {{S, S}, {"none", "none"}},
};
#undef S
#undef D
#undef O
#undef HSTS_2Y

static const char *const default_remove[] = {"Server", "X-Powered-By", "X-AspNet-Version",
                                             "X-AspNetMvc-Version"};

/* Copies s into out for an error message, control and non-ASCII bytes as '?'. */
static const char *printable(const char *s, char *out, size_t cap)
{
    size_t i;

    for (i = 0; s != NULL && s[i] != '\0' && i + 1 < cap; i++)
        out[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[i] = '\0';
    return out;
}

/* Copies s[0..n) and a NUL into the pool. Returns 0, or -1 when full. */
static int pool_put(struct moat_secheaders *p, const char *s, size_t n, struct moat_sech_str *out)
{
    if (n == 0 || n > UINT16_MAX || n + 1 > MOAT_SECH_POOL - p->pool_used)
        return -1;
    memcpy(p->pool + p->pool_used, s, n);
    p->pool[p->pool_used + n] = '\0';
    out->off = (uint16_t)p->pool_used;
    out->len = (uint16_t)n;
    p->pool_used += n + 1;
    return 0;
}

static int in_list(const char *const *list, size_t n, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (moat_hdr_eq_ci(s, len, list[i]))
            return 1;
    return 0;
}

/* " (override /docs)" or "" for the base, for error messages. */
static void scope_label(const struct moat_secheaders *p, size_t scope, char *out, size_t cap)
{
    out[0] = '\0';
    if (scope > 0)
        (void)snprintf(out, cap, " (override %s)", moat_sech_str(p, p->scope[scope].prefix));
}

static int tok_boundary(const char *s, size_t len, size_t i)
{
    return i >= len || s[i] == ' ' || s[i] == '\t' || s[i] == ';' || s[i] == ',';
}

/* Every "{nonce}" must sit in a whole 'nonce-{nonce}' source. Returns the count, or -1. */
static int csp_nonce_check(const char *s, size_t len)
{
    const char *q = s;
    int count = 0;

    while (count >= 0) {
        size_t at;
        size_t tok;

        q = memmem(q, len - (size_t)(q - s), MOAT_SECH_NONCE_MARK, MOAT_SECH_NONCE_MARK_LEN);
        if (q == NULL)
            break;
        at = (size_t)(q - s);
        tok = at >= 7 ? at - 7 : 0;
        count++;
        if (at < 7 || strncmp(s + tok, MOAT_SECH_NONCE_TOKEN, MOAT_SECH_NONCE_TOKEN_LEN) != 0 ||
            (tok > 0 && !tok_boundary(s, len, tok - 1)) ||
            !tok_boundary(s, len, tok + MOAT_SECH_NONCE_TOKEN_LEN) || count > MOAT_SECH_MAX_NONCES)
            count = -1;
        q += MOAT_SECH_NONCE_MARK_LEN;
    }
    return count;
}

static int check_value(const char *what, const char *where, enum moat_sech_id id, const char *v,
                       char *err, size_t errlen)
{
    size_t len = strlen(v);

    if (len == 0 || len > MOAT_SECH_VALUE_MAX) {
        moat_set_err(err, errlen, "%s%s: value is empty or longer than %d bytes", what, where,
                     MOAT_SECH_VALUE_MAX);
        return -1;
    }
    if (!moat_hdr_value_ok(v, len)) {
        moat_set_err(err, errlen, "%s%s: value has a control character or surrounding space", what,
                     where);
        return -1;
    }
    if ((id == MOAT_SECH_CSP || id == MOAT_SECH_CSP_RO) && csp_nonce_check(v, len) < 0) {
        moat_set_err(err, errlen,
                     "%s%s: {nonce} may only appear as a whole '%s' source, at most %d times", what,
                     where, "nonce-{nonce}", MOAT_SECH_MAX_NONCES);
        return -1;
    }
    return 0;
}

void moat_secheaders_init(struct moat_secheaders *p)
{
    int id;

    memset(p, 0, sizeof(*p));
    p->n_scopes = 1;
    for (id = 0; id < MOAT_SECH_COUNT; id++)
        p->scope[0].hdr[id].mode = MOAT_SECH_OFF;
}

int moat_secheaders_defaults(struct moat_secheaders *p, enum moat_sech_profile profile)
{
    size_t i;
    int id;
    int rc = 0;

    moat_secheaders_init(p);
    if ((unsigned)profile > MOAT_SECH_STRICT)
        return -1;
    for (id = 0; id < MOAT_SECH_COUNT; id++) {
        const char *v = profiles[id].value[profile];

        p->scope[0].hdr[id].mode = profiles[id].mode[profile];
        if (v != NULL)
            rc |= pool_put(p, v, strlen(v), &p->scope[0].hdr[id].value);
    }
    for (i = 0; i < sizeof(default_remove) / sizeof(default_remove[0]); i++)
        rc |= moat_secheaders_add_remove(p, default_remove[i], NULL, 0);
    p->nonce = 1;
    return rc == 0 ? 0 : -1;
}

int moat_secheaders_profile_parse(const char *s, enum moat_sech_profile *out)
{
    if (s != NULL && strcmp(s, "standard") == 0)
        *out = MOAT_SECH_STANDARD;
    else if (s != NULL && strcmp(s, "strict") == 0)
        *out = MOAT_SECH_STRICT;
    else
        return -1;
    return 0;
}

int moat_secheaders_mode_parse(const char *s, enum moat_sech_mode *out)
{
    int i;

    for (i = 0; s != NULL && i < 4; i++) {
        if (strcmp(s, mode_names[i]) == 0) {
            *out = (enum moat_sech_mode)i;
            return 0;
        }
    }
    return -1;
}

const char *moat_secheaders_mode_name(enum moat_sech_mode mode)
{
    return (unsigned)mode <= MOAT_SECH_SET ? mode_names[mode] : "?";
}

int moat_secheaders_set(struct moat_secheaders *p, size_t scope, enum moat_sech_id id,
                        enum moat_sech_mode mode, const char *value, char *err, size_t errlen)
{
    struct moat_sech_entry *e;
    struct moat_sech_str v = {0, 0};
    char where[MOAT_SECH_PREFIX_MAX + 16];
    int rc = -1;

    if ((unsigned)id >= MOAT_SECH_COUNT || scope >= p->n_scopes || (unsigned)mode > MOAT_SECH_SET) {
        moat_set_err(err, errlen, "security headers: bad header, scope or mode");
        goto out;
    }
    scope_label(p, scope, where, sizeof(where));
    e = &p->scope[scope].hdr[id];
    if (value != NULL && check_value(moat_secheaders_name(id), where, id, value, err, errlen) < 0)
        goto out;
    if (value == NULL && (mode == MOAT_SECH_SET || mode == MOAT_SECH_DEFAULT) &&
        e->value.len == 0 && p->scope[0].hdr[id].value.len == 0) {
        moat_set_err(err, errlen, "%s%s: mode %s needs a value", moat_secheaders_name(id), where,
                     mode_names[mode]);
        goto out;
    }
    if (value != NULL && pool_put(p, value, strlen(value), &v) < 0) {
        moat_set_err(err, errlen, "%s%s: policy storage full", moat_secheaders_name(id), where);
        goto out;
    }
    if (scope == 0 && mode == MOAT_SECH_INHERIT)
        mode = MOAT_SECH_OFF;
    e->mode = (unsigned char)mode;
    if (value != NULL)
        e->value = v;
    rc = 0;
out:
    return rc;
}

long moat_secheaders_hsts_build(uint32_t max_age, int include_subdomains, int preload, char *out,
                                size_t cap)
{
    int n;

    if (out == NULL || cap == 0)
        return -1;
    n = snprintf(out, cap, "max-age=%lu%s%s", (unsigned long)max_age,
                 include_subdomains ? "; includeSubDomains" : "", preload ? "; preload" : "");
    return (n < 0 || (size_t)n >= cap) ? -1 : (long)n;
}

int moat_secheaders_set_hsts(struct moat_secheaders *p, size_t scope, enum moat_sech_mode mode,
                             uint32_t max_age, int include_subdomains, int preload, char *err,
                             size_t errlen)
{
    char v[64];

    if (moat_secheaders_hsts_build(max_age, include_subdomains, preload, v, sizeof(v)) < 0)
        return -1;
    return moat_secheaders_set(p, scope, MOAT_SECH_HSTS, mode, v, err, errlen);
}

int moat_secheaders_add_custom(struct moat_secheaders *p, size_t scope, const char *name,
                               const char *value, enum moat_sech_mode mode, char *err,
                               size_t errlen)
{
    struct moat_sech_scope *sc;
    struct moat_sech_custom c;
    char where[MOAT_SECH_PREFIX_MAX + 16];
    char what[MOAT_SECH_NAME_MAX + 16];
    size_t nlen = name != NULL ? strlen(name) : 0;
    int rc = -1;

    memset(&c, 0, sizeof(c));
    if (scope >= p->n_scopes || name == NULL) {
        moat_set_err(err, errlen, "custom header: bad scope or name");
        goto out;
    }
    scope_label(p, scope, where, sizeof(where));
    sc = &p->scope[scope];
    if (nlen > MOAT_SECH_NAME_MAX || !moat_hdr_is_token(name, nlen)) {
        moat_set_err(err, errlen, "custom header \"%s\"%s: name is not a header name (token)",
                     printable(name, what, sizeof(what)), where);
        goto out;
    }
    (void)snprintf(what, sizeof(what), "custom header %s", name);
    if (moat_sech_managed_id(name, nlen) >= 0 ||
        in_list(no_custom, sizeof(no_custom) / sizeof(no_custom[0]), name, nlen)) {
        moat_set_err(err, errlen, "custom header %s%s: %s", name, where,
                     moat_sech_managed_id(name, nlen) >= 0 ? "is managed, use its own setting"
                                                           : "may not be set by policy");
        goto out;
    }
    if (mode != MOAT_SECH_OFF && mode != MOAT_SECH_DEFAULT && mode != MOAT_SECH_SET) {
        moat_set_err(err, errlen, "custom header %s%s: mode must be set, default or off", name,
                     where);
        goto out;
    }
    if (mode != MOAT_SECH_OFF && value == NULL) {
        moat_set_err(err, errlen, "custom header %s%s: mode %s needs a value", name, where,
                     mode_names[mode]);
        goto out;
    }
    if (value != NULL && check_value(what, where, MOAT_SECH_COUNT, value, err, errlen) < 0)
        goto out;
    if (moat_sech_find_custom(p, sc, name, nlen) >= 0 || sc->n_custom >= MOAT_SECH_MAX_CUSTOM) {
        moat_set_err(err, errlen, "custom header %s%s: %s", name, where,
                     sc->n_custom >= MOAT_SECH_MAX_CUSTOM ? "too many custom headers"
                                                          : "already configured");
        goto out;
    }
    c.set.mode = (unsigned char)mode;
    if (pool_put(p, name, nlen, &c.name) < 0 ||
        (value != NULL && pool_put(p, value, strlen(value), &c.set.value) < 0)) {
        moat_set_err(err, errlen, "custom header %s%s: policy storage full", name, where);
        goto out;
    }
    sc->custom[sc->n_custom++] = c;
    rc = 0;
out:
    return rc;
}

int moat_secheaders_add_remove(struct moat_secheaders *p, const char *name, char *err,
                               size_t errlen)
{
    size_t nlen = name != NULL ? strlen(name) : 0;
    char shown[MOAT_SECH_NAME_MAX + 1];
    size_t i;

    if (nlen > MOAT_SECH_NAME_MAX || !moat_hdr_is_token(name, nlen)) {
        moat_set_err(err, errlen, "removed header \"%s\": not a header name (token)",
                     printable(name, shown, sizeof(shown)));
        return -1;
    }
    if (in_list(framing, sizeof(framing) / sizeof(framing[0]), name, nlen)) {
        moat_set_err(err, errlen, "removed header %s: framing fields cannot be removed", name);
        return -1;
    }
    for (i = 0; i < p->n_remove; i++)
        if (moat_sech_str_is(p, p->remove[i], name, nlen))
            return 0;
    if (p->n_remove >= MOAT_SECH_MAX_REMOVE ||
        pool_put(p, name, nlen, &p->remove[p->n_remove]) < 0) {
        moat_set_err(err, errlen, "removed header %s: too many removed headers", name);
        return -1;
    }
    p->n_remove++;
    return 0;
}

void moat_secheaders_clear_remove(struct moat_secheaders *p)
{
    p->n_remove = 0;
}

static int is_pchar_nopct(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL;
}

/* Normalises an override prefix into norm (cap MOAT_SECH_PREFIX_MAX + 2):
 * sets *nlen and *segs. Returns 0, or -1 with a message in err. */
static int prefix_normalise(const char *prefix, char *norm, size_t *nlen_out, unsigned *segs_out,
                            char *err, size_t errlen)
{
    char shown[MOAT_SECH_PREFIX_MAX + 1];
    size_t nlen = 0;
    unsigned segs = 0;
    size_t i = 0;
    size_t len = prefix != NULL ? strlen(prefix) : 0;

    (void)printable(prefix, shown, sizeof(shown));
    if (len == 0 || len > MOAT_SECH_PREFIX_MAX || prefix[0] != '/') {
        moat_set_err(err, errlen, "override \"%s\": prefix must start with '/' (at most %d bytes)",
                     shown, MOAT_SECH_PREFIX_MAX);
        return -1;
    }
    while (i < len) {
        size_t st;

        while (i < len && prefix[i] == '/')
            i++;
        st = i;
        while (i < len && prefix[i] != '/' && is_pchar_nopct((unsigned char)prefix[i]))
            i++;
        if (i < len && prefix[i] != '/') {
            moat_set_err(err, errlen, "override %s: byte 0x%02x not allowed in a prefix", shown,
                         (unsigned char)prefix[i]);
            return -1;
        }
        if (i == st)
            continue;
        segs++;
        if ((i - st == 1 && prefix[st] == '.') ||
            (i - st == 2 && strncmp(prefix + st, "..", 2) == 0) || segs > MOAT_SECH_PREFIX_SEGS) {
            moat_set_err(err, errlen, "override %s: dot segment or more than %d segments", shown,
                         MOAT_SECH_PREFIX_SEGS);
            return -1;
        }
        norm[nlen++] = '/';
        memcpy(norm + nlen, prefix + st, i - st);
        nlen += i - st;
    }
    if (nlen == 0)
        norm[nlen++] = '/';
    *nlen_out = nlen;
    *segs_out = segs;
    return 0;
}

/* The override whose normalised prefix is norm[0..nlen), or 0 when none. */
static size_t override_find(const struct moat_secheaders *p, const char *norm, size_t nlen)
{
    size_t k;

    for (k = 1; k < p->n_scopes; k++) {
        if (p->scope[k].prefix.len == nlen &&
            memcmp(moat_sech_str(p, p->scope[k].prefix), norm, nlen) == 0)
            return k;
    }
    return 0;
}

int moat_secheaders_add_override(struct moat_secheaders *p, const char *prefix, size_t *scope,
                                 char *err, size_t errlen)
{
    char norm[MOAT_SECH_PREFIX_MAX + 2];
    char shown[MOAT_SECH_PREFIX_MAX + 1];
    size_t nlen = 0;
    unsigned segs = 0;
    struct moat_sech_scope *sc;

    (void)printable(prefix, shown, sizeof(shown));
    if (prefix_normalise(prefix, norm, &nlen, &segs, err, errlen) != 0)
        return -1;
    if (override_find(p, norm, nlen) != 0) {
        moat_set_err(err, errlen, "override %s: prefix configured twice", shown);
        return -1;
    }
    if (p->n_scopes > MOAT_SECH_MAX_OVERRIDES) {
        moat_set_err(err, errlen, "override %s: more than %d overrides", shown,
                     MOAT_SECH_MAX_OVERRIDES);
        return -1;
    }
    sc = &p->scope[p->n_scopes];
    memset(sc, 0, sizeof(*sc));
    if (pool_put(p, norm, nlen, &sc->prefix) < 0) {
        moat_set_err(err, errlen, "override %s: policy storage full", shown);
        return -1;
    }
    sc->n_segs = segs;
    *scope = p->n_scopes++;
    return 0;
}

int moat_secheaders_override_scope(struct moat_secheaders *p, const char *prefix, size_t *scope,
                                   char *err, size_t errlen)
{
    char norm[MOAT_SECH_PREFIX_MAX + 2];
    size_t nlen = 0;
    unsigned segs = 0;
    size_t k;

    if (prefix_normalise(prefix, norm, &nlen, &segs, err, errlen) != 0)
        return -1;
    k = override_find(p, norm, nlen);
    if (k != 0) {
        *scope = k;
        return 0;
    }
    return moat_secheaders_add_override(p, prefix, scope, err, errlen);
}

/* An RFC 3986 character: unreserved, reserved or '%'. */
static int uri_char(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL;
}

int moat_secheaders_set_report_uri(struct moat_secheaders *p, const char *uri, char *err,
                                   size_t errlen)
{
    size_t len = uri != NULL ? strlen(uri) : 0;
    size_t i;
    struct moat_sech_str v = {0, 0};

    /* RFC 3986 characters only: anything else (non-ASCII, '{', '|', ...) is no
     * URI and makes Reporting-Endpoints an invalid structured field, which
     * browsers drop; ';' and ',' would end the CSP directive or policy. */
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (!uri_char(c) || c == ';' || c == ',')
            break;
    }
    if (i < len || len > MOAT_SECH_URI_MAX) {
        moat_set_err(err, errlen,
                     "CSP report URI: only URI characters (no space, ';', ',', quote, "
                     "non-ASCII or control character), at most %d bytes",
                     MOAT_SECH_URI_MAX);
        return -1;
    }
    if (len > 0 && pool_put(p, uri, len, &v) < 0) {
        moat_set_err(err, errlen, "CSP report URI: policy storage full");
        return -1;
    }
    p->report_uri = v;
    return 0;
}

void moat_secheaders_set_nonce(struct moat_secheaders *p, int on)
{
    p->nonce = on != 0;
}
