/* cookie.c - Set-Cookie hardening: adds Secure, HttpOnly and SameSite, keeping the app's text. */
#include "moat/cookie.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "moat/hdr.h"

/* SameSite as the browser will read it from the last SameSite attribute. */
enum samesite { SS_MISSING = 0, SS_STRICT, SS_LAX, SS_NONE, SS_BOGUS };

/* What the attributes of one Set-Cookie value say. */
struct attrs {
    const char *name; /* cookie name (trimmed), borrowed from the value */
    size_t name_len;  /* bytes in name */
    int secure;       /* a Secure attribute is present */
    int httponly;     /* an HttpOnly attribute is present */
    int path;         /* a Path attribute is present */
    int partitioned;  /* a Partitioned attribute is present */
    enum samesite ss; /* the last SameSite attribute's meaning */
    size_t ss_start;  /* the last SameSite attribute, trimmed: first byte */
    size_t ss_end;    /* ... and one past its last byte */
};

static int is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* Narrows [*a, *b) of s to exclude leading and trailing SP/HTAB. */
static void trim(const char *s, size_t *a, size_t *b)
{
    while (*a < *b && is_wsp(s[*a]))
        (*a)++;
    while (*b > *a && is_wsp(s[*b - 1]))
        (*b)--;
}

static int span_is(const char *s, size_t a, size_t b, const char *lit)
{
    return moat_hdr_eq_ci(s + a, b - a, lit);
}

static enum samesite samesite_of(const char *v, size_t a, size_t b)
{
    if (span_is(v, a, b, "Strict"))
        return SS_STRICT;
    if (span_is(v, a, b, "Lax"))
        return SS_LAX;
    if (span_is(v, a, b, "None"))
        return SS_NONE;
    return SS_BOGUS;
}

/* Records one attribute v[a..b) (between semicolons, untrimmed). */
static void attr_note(const char *v, size_t a, size_t b, struct attrs *at)
{
    const char *eq;
    size_t ne;
    size_t vs;
    size_t ve;

    trim(v, &a, &b);
    if (a == b)
        return;
    eq = memchr(v + a, '=', b - a);
    ne = eq != NULL ? (size_t)(eq - v) : b;
    vs = eq != NULL ? ne + 1 : b;
    ve = b;
    trim(v, &vs, &ve);
    trim(v, &a, &ne);
    if (span_is(v, a, ne, "Secure")) {
        at->secure = 1;
    } else if (span_is(v, a, ne, "HttpOnly")) {
        at->httponly = 1;
    } else if (span_is(v, a, ne, "Path")) {
        at->path = 1;
    } else if (span_is(v, a, ne, "Partitioned")) {
        at->partitioned = 1;
    } else if (span_is(v, a, ne, "SameSite")) {
        at->ss = samesite_of(v, vs, ve);
        at->ss_start = a;
        at->ss_end = b;
    }
}

/* Splits the value; returns 0, or -1 when it is malformed. */
static int parse(const char *v, size_t len, struct attrs *at)
{
    const char *semi;
    const char *eq;
    size_t pair_end;
    size_t a = 0;
    size_t b;
    size_t i;

    memset(at, 0, sizeof(*at));
    if (len == 0)
        return -1;
    for (i = 0; i < len; i++)
        if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
            return -1;
    semi = memchr(v, ';', len);
    pair_end = semi != NULL ? (size_t)(semi - v) : len;
    eq = memchr(v, '=', pair_end);
    if (eq == NULL)
        return -1;
    b = (size_t)(eq - v);
    trim(v, &a, &b);
    if (!moat_hdr_is_token(v + a, b - a))
        return -1;
    at->name = v + a;
    at->name_len = b - a;
    while (pair_end < len) {
        size_t st = pair_end + 1;

        semi = memchr(v + st, ';', len - st);
        pair_end = semi != NULL ? (size_t)(semi - v) : len;
        attr_note(v, st, pair_end, at);
    }
    return 0;
}

/* True when the cookie's name is in the policy's script-readable list. */
static int readable(const struct moat_cookie_policy *p, const char *name, size_t len)
{
    const char *s = p->script_readable;
    const char *item;
    size_t pos = 0, n;

    if (s == NULL)
        return 0;
    while ((item = moat_hdr_list_next(s, &pos, &n)) != NULL) {
        if (n == len && memcmp(item, name, n) == 0)
            return 1;
    }
    return 0;
}

static int has_prefix_ci(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);

    return len >= n && strncasecmp(s, lit, n) == 0;
}

/* A bounded writer into the caller's buffer. */
struct out {
    char *buf;  /* caller's buffer */
    size_t cap; /* its size */
    size_t len; /* bytes written */
    int failed; /* a write did not fit (room is kept for the NUL) */
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->failed || n >= o->cap - o->len) {
        o->failed = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void put_lit(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

void moat_cookie_policy_defaults(struct moat_cookie_policy *p)
{
    p->secure = 1;
    p->httponly = 1;
    p->samesite = MOAT_COOKIE_SAMESITE_LAX;
    p->script_readable = NULL;
}

int moat_cookie_samesite_parse(const char *s, enum moat_cookie_samesite *out)
{
    if (s != NULL && strcasecmp(s, "lax") == 0)
        *out = MOAT_COOKIE_SAMESITE_LAX;
    else if (s != NULL && strcasecmp(s, "strict") == 0)
        *out = MOAT_COOKIE_SAMESITE_STRICT;
    else if (s != NULL && strcasecmp(s, "off") == 0)
        *out = MOAT_COOKIE_SAMESITE_OFF;
    else
        return -1;
    return 0;
}

int moat_cookie_policy_check(const struct moat_cookie_policy *p, char *err, size_t errlen)
{
    const char *s = p->script_readable;
    const char *item;
    size_t pos = 0, n;

    if (s != NULL && strlen(s) > MOAT_COOKIE_NAMES_MAX) {
        if (err != NULL && errlen > 0)
            (void)snprintf(err, errlen, "script-readable cookie names: longer than %d bytes",
                           MOAT_COOKIE_NAMES_MAX);
        return -1;
    }
    while (s != NULL && (item = moat_hdr_list_next(s, &pos, &n)) != NULL) {
        if (!moat_hdr_is_token(item, n)) {
            if (err != NULL && errlen > 0)
                (void)snprintf(err, errlen,
                               "script-readable cookie names: \"%.*s\" is not a cookie name",
                               (int)(n > 64 ? 64 : n), item);
            return -1;
        }
    }
    return 0;
}

enum moat_cookie_rc moat_cookie_harden(const char *v, size_t len,
                                       const struct moat_cookie_policy *p, char *out, size_t cap,
                                       size_t *out_len, int *changed)
{
    static const char *const ss_text[] = {"", "SameSite=Lax", "SameSite=Strict"};
    struct out o = {out, cap, 0, 0};
    struct attrs at;
    int prefixed;
    int host;
    int add_secure;
    int add_httponly;
    int add_ss;
    int fix_ss;
    int add_path;
    size_t end = len;
    enum moat_cookie_rc rc = MOAT_COOKIE_ERROR;

    if (v == NULL || p == NULL || out == NULL || out_len == NULL || changed == NULL ||
        (unsigned)p->samesite > MOAT_COOKIE_SAMESITE_STRICT)
        goto done;
    *out_len = 0;
    *changed = 0;
    if (parse(v, len, &at) < 0) {
        rc = MOAT_COOKIE_MALFORMED;
        goto done;
    }
    host = has_prefix_ci(at.name, at.name_len, "__Host-");
    prefixed = host || has_prefix_ci(at.name, at.name_len, "__Secure-");
    add_secure = !at.secure && (p->secure || prefixed || at.ss == SS_NONE || at.partitioned);
    add_httponly = !at.httponly && p->httponly && !readable(p, at.name, at.name_len);
    add_ss = at.ss == SS_MISSING && p->samesite != MOAT_COOKIE_SAMESITE_OFF;
    fix_ss = at.ss == SS_BOGUS && p->samesite != MOAT_COOKIE_SAMESITE_OFF;
    add_path = host && !at.path;
    *changed = add_secure || add_httponly || add_ss || fix_ss || add_path;
    if (*changed)
        while (end > 0 && (is_wsp(v[end - 1]) || v[end - 1] == ';'))
            end--;
    if (fix_ss) {
        put(&o, v, at.ss_start);
        put_lit(&o, ss_text[p->samesite]);
        put(&o, v + at.ss_end, end - at.ss_end);
    } else {
        put(&o, v, end);
    }
    if (add_path)
        put_lit(&o, "; Path=/");
    if (add_secure)
        put_lit(&o, "; Secure");
    if (add_httponly)
        put_lit(&o, "; HttpOnly");
    if (add_ss) {
        put_lit(&o, "; ");
        put_lit(&o, ss_text[p->samesite]);
    }
    if (o.failed)
        goto done;
    out[o.len] = '\0';
    *out_len = o.len;
    rc = MOAT_COOKIE_OK;
done:
    if (rc == MOAT_COOKIE_ERROR && changed != NULL)
        *changed = 0;
    return rc;
}
