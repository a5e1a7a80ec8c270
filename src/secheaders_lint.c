/* secheaders_lint.c - warnings about weak security-header choices, for moat --check-config. */
#include "moat/secheaders.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "secheaders_int.h"

#define HSTS_MIN_AGE 15552000ULL /* six months, in seconds */

/* A borrowed piece of text. */
struct span {
    const char *s; /* first byte */
    size_t n;      /* bytes */
};

/* Where warnings go. */
struct lint {
    moat_sech_lint_fn cb;            /* caller's callback */
    void *arg;                       /* its argument */
    const char *where;               /* "" or the override's prefix */
    int count;                       /* warnings so far */
    const struct moat_secheaders *p; /* policy linted */
};

static void warn(struct lint *l, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warn(struct lint *l, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    l->count++;
    if (l->cb != NULL)
        l->cb(l->arg, code, l->where, msg);
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static int span_is(struct span t, const char *lit)
{
    return t.n == strlen(lit) && strncasecmp(t.s, lit, t.n) == 0;
}

static int span_starts(struct span t, const char *lit)
{
    size_t n = strlen(lit);

    return t.n >= n && strncasecmp(t.s, lit, n) == 0;
}

/* Takes the next whitespace-separated token from *l. Returns 0 at the end. */
static int next_tok(struct span *l, struct span *t)
{
    while (l->n > 0 && is_ws(l->s[0])) {
        l->s++;
        l->n--;
    }
    t->s = l->s;
    t->n = 0;
    while (t->n < l->n && !is_ws(l->s[t->n]))
        t->n++;
    l->s += t->n;
    l->n -= t->n;
    return t->n > 0;
}

/* Takes the next directive (name and source list) from the CSP text at *pos;
 * ';' and ',' separate directives. Returns 0 at the end. */
static int next_directive(const char **pos, struct span *name, struct span *list)
{
    while (**pos != '\0') {
        const char *d = *pos;
        size_t len = strcspn(d, ";,");
        struct span all = {d, len};

        *pos = d[len] != '\0' ? d + len + 1 : d + len;
        if (next_tok(&all, name)) {
            *list = all;
            return 1;
        }
    }
    return 0;
}

/* Finds the first directive called dir (later duplicates are ignored by browsers). */
static int csp_find(const char *csp, const char *dir, struct span *list)
{
    struct span name;

    while (csp != NULL && next_directive(&csp, &name, list))
        if (span_is(name, dir))
            return 1;
    return 0;
}

static int has_tok(struct span l, const char *lit)
{
    struct span t;

    while (next_tok(&l, &t))
        if (span_is(t, lit))
            return 1;
    return 0;
}

/* True when the list is exactly the one source lit. */
static int only_tok(struct span l, const char *lit)
{
    struct span t;
    struct span rest;

    if (!next_tok(&l, &t) || !span_is(t, lit))
        return 0;
    rest = l;
    return !next_tok(&rest, &t);
}

/* True when the list has a nonce or hash source ('nonce-{nonce}' only while nonces are on). */
static int has_nonce_or_hash(const struct lint *l, struct span list)
{
    struct span t;

    while (next_tok(&list, &t)) {
        if (span_is(t, MOAT_SECH_NONCE_TOKEN) && !l->p->nonce)
            continue;
        if (span_starts(t, "'nonce-") || span_starts(t, "'sha256-") || span_starts(t, "'sha384-") ||
            span_starts(t, "'sha512-"))
            return 1;
    }
    return 0;
}

static void lint_hsts(struct lint *l, const char *v)
{
    unsigned long long age = 0;
    int have_age = 0;
    int subs = 0;
    int preload = 0;

    if (v == NULL) {
        warn(l, "hsts-off",
             "Strict-Transport-Security is off: the first visit and every "
             "typed http:// link can be downgraded");
        return;
    }
    while (*v != '\0') {
        size_t len = strcspn(v, ";");
        struct span all = {v, len};
        struct span d;

        v += v[len] != '\0' ? len + 1 : len;
        if (!next_tok(&all, &d))
            continue;
        subs |= span_is(d, "includeSubDomains");
        preload |= span_is(d, "preload");
        if (span_starts(d, "max-age=") && !have_age) {
            size_t i = 8;

            have_age = 1;
            if (i < d.n && d.s[i] == '"')
                i++;
            for (; i < d.n && d.s[i] >= '0' && d.s[i] <= '9' && age < HSTS_MIN_AGE * 100; i++)
                age = age * 10 + (unsigned long long)(d.s[i] - '0');
        }
    }
    if (!have_age)
        warn(l, "hsts-no-max-age", "Strict-Transport-Security has no max-age: browsers ignore it");
    else if (age < HSTS_MIN_AGE)
        warn(l, "hsts-short",
             "Strict-Transport-Security max-age=%llu is under six months "
             "(15552000)",
             age);
    if (preload && !subs)
        warn(l, "hsts-preload-no-subdomains",
             "Strict-Transport-Security has preload without includeSubDomains: preload lists "
             "refuse it");
}

/* Wildcard sources in every source-list directive. */
static void lint_csp_wildcards(struct lint *l, const char *csp)
{
    static const char *const wild[] = {"*", "http:", "https:"};
    struct span name;
    struct span list;

    while (next_directive(&csp, &name, &list)) {
        size_t i;

        if (!(name.n > 4 && strncasecmp(name.s + name.n - 4, "-src", 4) == 0) &&
            !span_is(name, "frame-ancestors") && !span_is(name, "form-action") &&
            !span_is(name, "base-uri"))
            continue;
        for (i = 0; i < sizeof(wild) / sizeof(wild[0]); i++)
            if (has_tok(list, wild[i]))
                warn(l, "csp-wildcard", "Content-Security-Policy %.*s allows any source (%s)",
                     (int)name.n, name.s, wild[i]);
    }
}

static void lint_csp(struct lint *l, const char *csp, const char *ro)
{
    struct span scripts;
    struct span obj;
    const char *dir = "script-src";

    if (csp == NULL) {
        warn(l, "csp-off", "Content-Security-Policy is off%s",
             ro != NULL ? ": only the report-only policy is sent, nothing is enforced" : "");
        return;
    }
    if (!csp_find(csp, dir, &scripts)) {
        dir = "default-src";
        if (!csp_find(csp, dir, &scripts)) {
            dir = NULL;
            warn(l, "csp-wildcard",
                 "Content-Security-Policy has neither script-src nor "
                 "default-src: scripts may load from anywhere");
        }
    }
    if (dir != NULL && has_tok(scripts, "'unsafe-inline'") && !has_nonce_or_hash(l, scripts))
        warn(l, "csp-unsafe-inline",
             "Content-Security-Policy %s allows 'unsafe-inline' scripts "
             "without a nonce or hash",
             dir);
    if (dir != NULL && has_tok(scripts, "'unsafe-eval'"))
        warn(l, "csp-unsafe-eval", "Content-Security-Policy %s allows 'unsafe-eval'", dir);
    if (dir != NULL && has_tok(scripts, "data:"))
        warn(l, "csp-wildcard", "Content-Security-Policy %s allows data: scripts", dir);
    lint_csp_wildcards(l, csp);
    if (!(csp_find(csp, "object-src", &obj) || csp_find(csp, "default-src", &obj)) ||
        !only_tok(obj, "'none'"))
        warn(l, "csp-object-src",
             "Content-Security-Policy does not set object-src 'none' "
             "(plugins can run scripts)");
    if (!csp_find(csp, "base-uri", &obj))
        warn(l, "csp-base-uri",
             "Content-Security-Policy has no base-uri (a <base> tag can "
             "redirect relative script URLs)");
}

static void lint_xfo(struct lint *l, const char *xfo, const char *csp)
{
    struct span fa;
    int has_fa = csp_find(csp, "frame-ancestors", &fa);
    struct span v = {xfo, xfo != NULL ? strlen(xfo) : 0};

    if (xfo == NULL && !has_fa) {
        warn(l, "xfo-missing",
             "neither X-Frame-Options nor CSP frame-ancestors is set: pages "
             "can be framed (clickjacking)");
    } else if (xfo != NULL && !span_is(v, "DENY") && !span_is(v, "SAMEORIGIN")) {
        warn(l, "xfo-invalid",
             "X-Frame-Options \"%s\" is neither DENY nor SAMEORIGIN "
             "(ALLOW-FROM is ignored by browsers)",
             xfo);
    } else if (xfo != NULL && has_fa && !only_tok(fa, span_is(v, "DENY") ? "'none'" : "'self'")) {
        warn(l, "xfo-inconsistent",
             "X-Frame-Options %s does not match CSP frame-ancestors "
             "%.*s (want %s)",
             xfo, (int)fa.n, fa.s, span_is(v, "DENY") ? "'none'" : "'self'");
    }
}

static void lint_misc(struct lint *l, const char *xcto, const char *ref, int do_xcto, int do_ref)
{
    struct span v = {xcto, xcto != NULL ? strlen(xcto) : 0};

    if (do_xcto && !span_is(v, "nosniff"))
        warn(l, "xcto-off",
             "X-Content-Type-Options is not nosniff: browsers may sniff "
             "uploads as scripts");
    if (do_ref && ref != NULL) {
        const char *last = strrchr(ref, ',');
        struct span t;
        struct span all;

        last = last != NULL ? last + 1 : ref;
        all.s = last;
        all.n = strlen(last);
        if (next_tok(&all, &t) &&
            (span_is(t, "unsafe-url") || span_is(t, "no-referrer-when-downgrade")))
            warn(l, "referrer-leaky", "Referrer-Policy %.*s sends full URLs to other origins",
                 (int)t.n, t.s);
    }
}

/* True when scope sc sets header id itself (always for the base). */
static int changed(const struct moat_secheaders *p, size_t sc, enum moat_sech_id id)
{
    const struct moat_sech_entry *e = &p->scope[sc].hdr[id];

    return sc == 0 || e->mode != MOAT_SECH_INHERIT || e->value.len > 0;
}

int moat_secheaders_lint(const struct moat_secheaders *p, moat_sech_lint_fn cb, void *arg)
{
    struct lint l = {cb, arg, "", 0, p};
    size_t sc;

    for (sc = 0; sc < p->n_scopes; sc++) {
        const char *v[MOAT_SECH_COUNT];
        int id;

        for (id = 0; id < MOAT_SECH_COUNT; id++)
            (void)moat_secheaders_effective(p, sc, (enum moat_sech_id)id, &v[id]);
        l.where = sc > 0 ? moat_sech_str(p, p->scope[sc].prefix) : "";
        if (changed(p, sc, MOAT_SECH_HSTS))
            lint_hsts(&l, v[MOAT_SECH_HSTS]);
        if (changed(p, sc, MOAT_SECH_CSP))
            lint_csp(&l, v[MOAT_SECH_CSP], v[MOAT_SECH_CSP_RO]);
        if (changed(p, sc, MOAT_SECH_CSP) || changed(p, sc, MOAT_SECH_XFO))
            lint_xfo(&l, v[MOAT_SECH_XFO], v[MOAT_SECH_CSP]);
        lint_misc(&l, v[MOAT_SECH_XCTO], v[MOAT_SECH_REFERRER], changed(p, sc, MOAT_SECH_XCTO),
                  changed(p, sc, MOAT_SECH_REFERRER));
    }
    return l.count;
}
