/* redirect.c - the plain-HTTP listener's decision: redirect to HTTPS, reject, or exempt (pure). */
#include "moat/redirect.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "moat/hdr.h"
#include "moat/reqcheck.h"

#define NAME_MAX_LEN 253     /* longest DNS name accepted as a host */
#define LABEL_MAX_LEN 63     /* longest DNS label (what a wildcard stands for) */
#define V6_TEXT_MAX 45       /* longest textual IPv6 address */
#define EXEMPT_PATH_MAX 1024 /* longest exemption path policy_check accepts */
#define SCHEME_HTTPS "https://"

/* What kind of name a policy entry or a request's host is. */
enum name_kind {
    NAME_INVALID = 0, /* unusable: never matches */
    NAME_REG = 1,     /* reg-name or IPv4, compared case-insensitively */
    NAME_V6 = 2,      /* IPv6 literal, compared as an address */
    NAME_WILD = 3,    /* "*." + reg-name (policy side only): one label */
};

/* A parsed name; text borrowed from the policy or the request. */
struct name_view {
    enum name_kind kind;  /* what it is */
    const char *s;        /* REG: the name without a trailing dot; V6: the address text
                             without brackets; WILD: the suffix after "*." */
    size_t len;           /* bytes in s */
    struct in6_addr addr; /* V6: the address */
};

/* The name Location will carry, and for a wildcard the label filling it. */
struct auth_pick {
    struct name_view name; /* the policy's entry (never the client's bytes) */
    const char *label;     /* WILD: the request's validated label */
    size_t label_len;      /* bytes in label */
};

/* An output buffer that always keeps room for a terminating NUL. */
struct wbuf {
    char *b;    /* caller's buffer */
    size_t cap; /* its size */
    size_t len; /* bytes written */
    int full;   /* a write did not fit */
};

/* How a target was parsed: the path?query to normalise and, for absolute-form,
 * the authority (both point into the raw target). */
struct target_view {
    const char *path; /* starts with '/' */
    size_t path_len;  /* bytes up to the end of the target */
    const char *auth; /* absolute-form authority, NULL for origin-form */
    size_t auth_len;  /* bytes in auth */
};

static const struct moat_redirect_exemption default_exemptions[] = {
    {"/.well-known/acme-challenge/", 1, MOAT_REDIRECT_EXEMPT_PROXY},
    {"/healthz", 0, MOAT_REDIRECT_EXEMPT_HEALTH},
};

static const char hex_digits[] = "0123456789ABCDEF";

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* True when s[0..3) (bounded by end) is "%XX" with the given value, any hex case. */
static int is_pct(const char *s, const char *end, int value)
{
    return end - s >= 3 && s[0] == '%' && moat_hdr_hex_value(s[1]) >= 0 &&
           moat_hdr_hex_value(s[2]) >= 0 &&
           moat_hdr_hex_value(s[1]) * 16 + moat_hdr_hex_value(s[2]) == value;
}

/* Returns -1 so callers can "return reject(...)". */
static int reject(struct moat_redirect_result *out, int status, const char *reason)
{
    out->action = MOAT_REDIRECT_REJECT;
    out->status = status;
    out->reason = reason;
    return -1;
}

/* ---- names ------------------------------------------------------------------------------ */

/* A reg-name (or IPv4) of at most 253 bytes: labels of letters, digits, '-' and '_'
 * separated by single dots; one trailing dot already removed by the caller. */
static int regname_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > NAME_MAX_LEN || s[0] == '.' || s[len - 1] == '.')
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];

        if (c == '.' && s[i - 1] == '.')
            return 0;
        if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_' && c != '.')
            return 0;
    }
    return 1;
}

/* A DNS label a wildcard may stand for: 1..63 letters, digits and '-'. */
static int label_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > LABEL_MAX_LEN)
        return 0;
    for (i = 0; i < len; i++)
        if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-')
            return 0;
    return 1;
}

/* Parses the text of an IPv6 address (no brackets, no zone) into v. */
static int v6_parse(const char *s, size_t len, struct name_view *v)
{
    char text[V6_TEXT_MAX + 1];
    size_t i;

    if (len < 2 || len > V6_TEXT_MAX)
        return -1;
    for (i = 0; i < len; i++)
        if (moat_hdr_hex_value(s[i]) < 0 && s[i] != ':' && s[i] != '.')
            return -1;
    memcpy(text, s, len);
    text[len] = '\0';
    if (inet_pton(AF_INET6, text, &v->addr) != 1)
        return -1;
    v->kind = NAME_V6;
    v->s = s;
    v->len = len;
    return 0;
}

/* Parses a host without a port: "[v6]", reg-name or IPv4 (one trailing dot allowed).
 * With allow_bare_v6, an unbracketed IPv6 address too (policy entries only). */
static void host_parse(const char *s, size_t len, int allow_bare_v6, struct name_view *v)
{
    memset(v, 0, sizeof(*v));
    v->kind = NAME_INVALID;
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        (void)v6_parse(s + 1, len - 2, v);
        return;
    }
    if (allow_bare_v6 && memchr(s, ':', len) != NULL) {
        (void)v6_parse(s, len, v);
        return;
    }
    if (len > 0 && s[len - 1] == '.')
        len--;
    if (regname_ok(s, len)) {
        v->kind = NAME_REG;
        v->s = s;
        v->len = len;
    }
}

/* Parses one policy entry; wildcards ("*.suffix", suffix with at least one dot)
 * only when allow_wild. NULL is invalid. */
static void policy_name_parse(const char *s, int allow_wild, struct name_view *v)
{
    size_t len;

    memset(v, 0, sizeof(*v));
    v->kind = NAME_INVALID;
    if (s == NULL)
        return;
    len = strlen(s);
    if (allow_wild && len > 2 && s[0] == '*' && s[1] == '.') {
        host_parse(s + 2, len - 2, 0, v);
        if (v->kind == NAME_REG && memchr(v->s, '.', v->len) != NULL)
            v->kind = NAME_WILD;
        else
            v->kind = NAME_INVALID;
        return;
    }
    host_parse(s, len, 1, v);
}

/* Splits a request's "host[:port]" (already valid per moat_reqcheck_host_ok) into
 * its host part and parses it; the port is ignored. */
static void request_host_parse(const char *s, size_t len, struct name_view *v)
{
    size_t hlen = len;

    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);

        hlen = close != NULL ? (size_t)(close - s) + 1 : len;
    } else {
        const char *colon = memchr(s, ':', len);

        if (colon != NULL)
            hlen = (size_t)(colon - s);
    }
    host_parse(s, hlen, 0, v);
}

/* Does the request's host h match the policy entry p? Fills pick on a match. */
static int name_match(const struct name_view *h, const struct name_view *p, struct auth_pick *pick)
{
    const char *dot;

    if (h->kind == NAME_V6 && p->kind == NAME_V6) {
        if (memcmp(&h->addr, &p->addr, sizeof(h->addr)) != 0)
            return 0;
    } else if (h->kind == NAME_REG && p->kind == NAME_REG) {
        if (!moat_hdr_mem_eq_ci(h->s, h->len, p->s, p->len))
            return 0;
    } else if (h->kind == NAME_REG && p->kind == NAME_WILD) {
        dot = memchr(h->s, '.', h->len);
        if (dot == NULL || !label_ok(h->s, (size_t)(dot - h->s)) ||
            !moat_hdr_mem_eq_ci(dot + 1, h->len - (size_t)(dot - h->s) - 1, p->s, p->len))
            return 0;
        pick->label = h->s;
        pick->label_len = (size_t)(dot - h->s);
    } else {
        return 0;
    }
    pick->name = *p;
    return 1;
}

/* Finds the Location name for a request host, or returns -1 when it is not ours.
 * With a canonical host: canonical or an alias matches, Location gets the canonical.
 * Without: the first matching certificate name is Location's name. */
static int host_allowed(const struct moat_redirect_policy *p, const struct name_view *h,
                        struct auth_pick *pick)
{
    struct name_view canon;
    struct name_view e;
    struct auth_pick ignored;
    size_t i;

    memset(pick, 0, sizeof(*pick));
    if (p->canonical_host != NULL && p->canonical_host[0] != '\0') {
        policy_name_parse(p->canonical_host, 0, &canon);
        if (canon.kind == NAME_INVALID)
            return -1;
        if (name_match(h, &canon, pick))
            return 0;
        for (i = 0; i < p->n_aliases && p->aliases != NULL; i++) {
            policy_name_parse(p->aliases[i], 0, &e);
            if (name_match(h, &e, &ignored)) {
                pick->name = canon;
                return 0;
            }
        }
        return -1;
    }
    for (i = 0; i < p->n_cert_names && p->cert_names != NULL; i++) {
        policy_name_parse(p->cert_names[i], 1, &e);
        if (name_match(h, &e, pick))
            return 0;
    }
    return -1;
}

/* ---- output ----------------------------------------------------------------------------- */

static void w_put(struct wbuf *w, char c)
{
    if (w->len + 1 >= w->cap) {
        w->full = 1;
        return;
    }
    w->b[w->len++] = c;
}

static void w_put_pct(struct wbuf *w, unsigned char c)
{
    w_put(w, '%');
    w_put(w, hex_digits[c >> 4]);
    w_put(w, hex_digits[c & 15]);
}

static void w_put_lower(struct wbuf *w, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        w_put(w, lower(s[i]));
}

/* RFC 3986 pchar minus pct-encoded: unreserved, sub-delims, ':' and '@'. */
static int pchar_safe(char c)
{
    return c != '\0' && (is_alpha(c) || is_digit(c) || strchr("-._~!$&'()*+,;=:@", c) != NULL);
}

/* Copies one byte of path (query = 0) or query (query = 1) at s[*i], encoding what
 * is not safe and keeping valid %XX escapes. Returns -1 for an escaped control
 * byte in the path. */
static int put_uri_byte(struct wbuf *w, const char *s, const char *end, size_t *i, int query)
{
    char c = s[*i];
    int v;

    if (c == '%' && end - (s + *i) >= 3 && moat_hdr_hex_value(s[*i + 1]) >= 0 &&
        moat_hdr_hex_value(s[*i + 2]) >= 0) {
        v = moat_hdr_hex_value(s[*i + 1]) * 16 + moat_hdr_hex_value(s[*i + 2]);
        if (!query && (v < 0x20 || v == 0x7f))
            return -1;
        w_put(w, c);
        w_put(w, s[*i + 1]);
        w_put(w, s[*i + 2]);
        *i += 3;
        return 0;
    }
    if (c != '\0' && (pchar_safe(c) || (query && (c == '/' || c == '?'))))
        w_put(w, c);
    else
        w_put_pct(w, (unsigned char)c);
    *i += 1;
    return 0;
}

/* Number of dots in a segment made only of '.' and "%2e" (0 when anything else). */
static int dot_count(const char *s, size_t len)
{
    const char *end = s + len;
    int n = 0;

    while (s < end) {
        if (*s == '.') {
            s++;
        } else if (is_pct(s, end, '.')) {
            s += 3;
        } else {
            return 0;
        }
        n++;
    }
    return n;
}

/* Drops the last segment of the path written from base (which ends with '/'). */
static void pop_segment(struct wbuf *w, size_t base)
{
    if (w->len - base <= 1)
        return;
    w->len--;
    while (w->len - base > 1 && w->b[w->len - 1] != '/')
        w->len--;
}

/* Writes the normalised form of s[0..len) (starts with '/') to w: leading
 * separators collapsed, dot segments removed, unsafe bytes encoded, query kept.
 * *path_only receives the length of the path part. Returns 0, -1 for a bad path
 * (escaped control byte); w->full tells about overflow. */
static int normalise(const char *s, size_t len, struct wbuf *w, size_t *path_only)
{
    const char *end = s + len;
    size_t base = w->len;
    size_t i = 0;

    w_put(w, '/');
    while (i < len && s[i] != '?' && !w->full) {
        size_t j;
        int dots;

        if (w->len - base == 1) {
            /* At the root: nothing may make the path start with a second separator. */
            while (i < len && (s[i] == '/' || s[i] == '\\' || is_pct(s + i, end, '/') ||
                               is_pct(s + i, end, '\\')))
                i += s[i] == '%' ? 3 : 1;
            if (i == len || s[i] == '?')
                break;
        }
        j = i;
        while (j < len && s[j] != '/' && s[j] != '?')
            j++;
        dots = dot_count(s + i, j - i);
        if (dots == 1 || dots == 2) {
            if (dots == 2)
                pop_segment(w, base);
            i = j < len && s[j] == '/' ? j + 1 : j;
            continue;
        }
        while (i < j)
            if (put_uri_byte(w, s, end, &i, 0) != 0)
                return -1;
        if (i < len && s[i] == '/') {
            w_put(w, '/');
            i++;
        }
    }
    *path_only = w->len - base;
    if (i < len && s[i] == '?') {
        while (i < len)
            (void)put_uri_byte(w, s, end, &i, 1); /* '?' itself is query-safe */
    }
    return 0;
}

/* ---- request parsing -------------------------------------------------------------------- */

/* Splits the raw target into path?query and (absolute-form) authority. */
static int target_parse(const char *t, struct target_view *tv, struct moat_redirect_result *out)
{
    size_t len = strlen(t);
    size_t i;
    size_t a;

    memset(tv, 0, sizeof(*tv));
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];

        if (c <= 0x20 || c == 0x7f || c == '#')
            return reject(out, 400, "bad_target");
    }
    if (len > 0 && t[0] == '/') {
        tv->path = t;
        tv->path_len = len;
        return 0;
    }
    i = 0;
    while (i < len && (is_alpha(t[i]) ||
                       (i > 0 && (is_digit(t[i]) || t[i] == '+' || t[i] == '-' || t[i] == '.'))))
        i++;
    if (i == 0 || len - i < 3 || memcmp(t + i, "://", 3) != 0 ||
        (!moat_hdr_mem_eq_ci(t, i, "http", 4) && !moat_hdr_mem_eq_ci(t, i, "https", 5)))
        return reject(out, 400, "bad_target");
    a = i + 3;
    i = a;
    while (i < len && t[i] != '/' && t[i] != '?')
        i++;
    if ((i < len && t[i] == '?') || !moat_reqcheck_host_ok(t + a, i - a))
        return reject(out, 400, "bad_target");
    tv->auth = t + a;
    tv->auth_len = i - a;
    tv->path = i < len ? t + i : "/";
    tv->path_len = i < len ? len - i : 1;
    return 0;
}

/* Checks one host[:port] value from the request and finds the Location name. */
static int check_host(const struct moat_redirect_policy *p, const char *s, size_t len,
                      struct auth_pick *pick, struct moat_redirect_result *out)
{
    struct name_view h;
    size_t i;

    if (s == NULL || len == 0)
        return reject(out, 400, "missing_host");
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return reject(out, 400, "bad_host"); /* IDN must arrive as punycode */
    if (!moat_reqcheck_host_ok(s, len))
        return reject(out, 400, "bad_host");
    request_host_parse(s, len, &h);
    if (h.kind == NAME_INVALID)
        return reject(out, 400, "bad_host");
    if (host_allowed(p, &h, pick) != 0)
        return reject(out, p->wrong_host_status == 400 ? 400 : 421, "host_not_allowed");
    return 0;
}

/* First exemption whose path matches the normalised path p[0..len), or NULL. */
static const struct moat_redirect_exemption *exemption_find(const struct moat_redirect_policy *pol,
                                                            const char *p, size_t len)
{
    size_t i;

    if (len > 1 && p[len - 1] == '/')
        len--;
    for (i = 0; i < pol->n_exemptions && pol->exemptions != NULL; i++) {
        const struct moat_redirect_exemption *e = &pol->exemptions[i];
        size_t elen;

        if (e->path == NULL || e->path[0] != '/')
            continue;
        elen = strlen(e->path);
        if (elen > 1 && e->path[elen - 1] == '/')
            elen--;
        if (len == elen && memcmp(p, e->path, elen) == 0)
            return e;
        if (e->prefix &&
            (elen == 1 || (len > elen && memcmp(p, e->path, elen) == 0 && p[elen] == '/')))
            return e;
    }
    return NULL;
}

/* Writes "https://NAME[:PORT]" for the picked name. */
static void put_authority(struct wbuf *w, const struct auth_pick *pick, unsigned int port)
{
    char digits[8];
    size_t n = 0;

    w_put_lower(w, SCHEME_HTTPS, sizeof(SCHEME_HTTPS) - 1);
    if (pick->name.kind == NAME_V6) {
        w_put(w, '[');
        w_put_lower(w, pick->name.s, pick->name.len);
        w_put(w, ']');
    } else if (pick->name.kind == NAME_WILD) {
        w_put_lower(w, pick->label, pick->label_len);
        w_put(w, '.');
        w_put_lower(w, pick->name.s, pick->name.len);
    } else {
        w_put_lower(w, pick->name.s, pick->name.len);
    }
    if (port == 0 || port == MOAT_REDIRECT_DEFAULT_PORT)
        return;
    while (port > 0 && n < sizeof(digits)) {
        digits[n++] = (char)('0' + port % 10);
        port /= 10;
    }
    w_put(w, ':');
    while (n > 0)
        w_put(w, digits[--n]);
}

/* Status for a redirect of this method under the policy's code mode. */
static int redirect_status(enum moat_redirect_code_mode mode, const char *method)
{
    if (mode == MOAT_REDIRECT_CODE_301)
        return 301;
    if (mode == MOAT_REDIRECT_CODE_MIXED &&
        (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
        return 301;
    return 308;
}

/* ---- public ----------------------------------------------------------------------------- */

void moat_redirect_policy_init(struct moat_redirect_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->https_port = MOAT_REDIRECT_DEFAULT_PORT;
    p->code_mode = MOAT_REDIRECT_CODE_308;
    p->wrong_host_status = 421;
    p->exemptions = moat_redirect_default_exemptions(&p->n_exemptions);
}

const struct moat_redirect_exemption *moat_redirect_default_exemptions(size_t *n)
{
    *n = sizeof(default_exemptions) / sizeof(default_exemptions[0]);
    return default_exemptions;
}

/* True when path is absolute and already in the form normalise() produces, without
 * a query: otherwise it could never match. */
static int exempt_path_ok(const char *path)
{
    char buf[EXEMPT_PATH_MAX];
    struct wbuf w = {buf, sizeof(buf), 0, 0};
    size_t len;
    size_t plen = 0;
    size_t i;

    if (path == NULL || path[0] != '/')
        return 0;
    len = strlen(path);
    if (len >= sizeof(buf) || strpbrk(path, "?#") != NULL)
        return 0;
    for (i = 0; i < len; i++)
        if ((unsigned char)path[i] <= 0x20 || (unsigned char)path[i] >= 0x7f)
            return 0;
    if (normalise(path, len, &w, &plen) != 0 || w.full)
        return 0;
    return w.len == len && memcmp(buf, path, len) == 0;
}

int moat_redirect_exempt_path_ok(const char *path)
{
    return exempt_path_ok(path);
}

int moat_redirect_name_ok(const char *s)
{
    struct name_view v;

    policy_name_parse(s, 0, &v);
    return v.kind != NAME_INVALID;
}

int moat_redirect_code_parse(const char *s, enum moat_redirect_code_mode *out)
{
    int rc = 0;

    if (s == NULL)
        rc = -1;
    else if (strcmp(s, "308") == 0)
        *out = MOAT_REDIRECT_CODE_308;
    else if (strcmp(s, "301") == 0)
        *out = MOAT_REDIRECT_CODE_301;
    else if (strcasecmp(s, "mixed") == 0)
        *out = MOAT_REDIRECT_CODE_MIXED;
    else
        rc = -1;
    return rc;
}

/* Sets *why (when asked for) and returns -1. */
static int bad(const char **why, const char *msg)
{
    if (why != NULL)
        *why = msg;
    return -1;
}

int moat_redirect_policy_check(const struct moat_redirect_policy *p, const char **why)
{
    struct name_view v;
    size_t i;
    int usable = 0;

    if (why != NULL)
        *why = NULL;
    if (p == NULL)
        return bad(why, "no redirect policy");
    if (p->canonical_host != NULL && p->canonical_host[0] != '\0') {
        policy_name_parse(p->canonical_host, 0, &v);
        if (v.kind == NAME_INVALID)
            return bad(why, "canonical_host: not a host name, IPv4 or [IPv6] address "
                            "(no port, ASCII/punycode only)");
        for (i = 0; i < p->n_aliases; i++) {
            policy_name_parse(p->aliases != NULL ? p->aliases[i] : NULL, 0, &v);
            if (v.kind == NAME_INVALID)
                return bad(why, "aliases: an entry is not a host name, IPv4 or [IPv6] address "
                                "(no port, ASCII/punycode only)");
        }
    } else {
        if (p->n_aliases > 0)
            return bad(why, "aliases: set without a canonical_host");
        for (i = 0; i < p->n_cert_names && p->cert_names != NULL; i++) {
            policy_name_parse(p->cert_names[i], 1, &v);
            usable |= v.kind != NAME_INVALID;
        }
        if (!usable)
            return bad(why, "canonical_host: unset and the certificate has no usable name");
    }
    if (p->https_port > 65535)
        return bad(why, "https_port: above 65535");
    if (p->code_mode != MOAT_REDIRECT_CODE_308 && p->code_mode != MOAT_REDIRECT_CODE_301 &&
        p->code_mode != MOAT_REDIRECT_CODE_MIXED)
        return bad(why, "code: unknown redirect code mode");
    if (p->wrong_host_status != 0 && p->wrong_host_status != 400 && p->wrong_host_status != 421)
        return bad(why, "wrong_host_status: must be 400 or 421");
    if (p->n_exemptions > 0 && p->exemptions == NULL)
        return bad(why, "exemptions: missing table");
    for (i = 0; i < p->n_exemptions; i++) {
        const struct moat_redirect_exemption *e = &p->exemptions[i];

        if (!exempt_path_ok(e->path))
            return bad(why, "exemptions: path must be absolute, normalised, without query, "
                            "of safe characters");
        if (e->prefix && strcmp(e->path, "/") == 0)
            return bad(why, "exemptions: prefix \"/\" would exempt every path");
        if (e->action != MOAT_REDIRECT_EXEMPT_PROXY && e->action != MOAT_REDIRECT_EXEMPT_HEALTH)
            return bad(why, "exemptions: unknown action");
    }
    return 0;
}

int moat_redirect_decide(const struct moat_redirect_policy *policy, const char *method,
                         const char *raw_target, const char *host_value, size_t host_len,
                         struct moat_redirect_result *out, char *location_buf, size_t cap)
{
    struct wbuf w = {location_buf, cap, 0, 0};
    struct target_view tv;
    struct auth_pick pick;
    struct auth_pick from_host;
    const struct moat_redirect_exemption *ex;
    size_t path_only = 0;
    size_t plen;
    size_t alen;

    if (policy == NULL || method == NULL || raw_target == NULL || out == NULL ||
        location_buf == NULL || cap == 0 || policy->https_port > 65535)
        return -1;
    memset(out, 0, sizeof(*out));
    location_buf[0] = '\0';
    if (!moat_hdr_is_token(method, strlen(method))) {
        reject(out, 400, "bad_method");
        goto out;
    }
    if (target_parse(raw_target, &tv, out) != 0)
        goto out;
    if (normalise(tv.path, tv.path_len, &w, &path_only) != 0) {
        reject(out, 400, "bad_target");
        goto out;
    }
    if (w.full) {
        reject(out, 414, "uri_too_long");
        goto out;
    }
    plen = w.len;
    location_buf[plen] = '\0';
    out->path = location_buf;
    out->path_len = plen;

    ex = exemption_find(policy, location_buf, path_only);
    if (ex != NULL && ex->action == MOAT_REDIRECT_EXEMPT_HEALTH) {
        out->action = MOAT_REDIRECT_HEALTH;
        out->reason = "exempt_health";
        goto out;
    }
    if (check_host(policy, host_value, host_len, &from_host, out) != 0)
        goto out;
    pick = from_host;
    if (tv.auth != NULL && check_host(policy, tv.auth, tv.auth_len, &pick, out) != 0)
        goto out;
    if (ex != NULL) {
        out->action = MOAT_REDIRECT_PROXY;
        out->reason = "exempt_proxy";
        goto out;
    }

    /* Write the authority aside, then slide the path right to make room for it. */
    {
        char auth[NAME_MAX_LEN + 64];
        struct wbuf a = {auth, sizeof(auth), 0, 0};

        put_authority(&a, &pick, policy->https_port);
        alen = a.len;
        if (a.full || alen + plen + 1 > cap) {
            reject(out, 414, "uri_too_long");
            goto out;
        }
        memmove(location_buf + alen, location_buf, plen + 1);
        memcpy(location_buf, auth, alen);
    }
    out->action = MOAT_REDIRECT_REDIRECT;
    out->status = redirect_status(policy->code_mode, method);
    out->reason = "redirect";
    out->location = location_buf;
    out->location_len = alen + plen;
    out->path = location_buf + alen;
out:
    if (out->action == MOAT_REDIRECT_REJECT) {
        out->location = NULL;
        out->location_len = 0;
        out->path = NULL;
        out->path_len = 0;
        location_buf[0] = '\0';
    }
    return 0;
}
