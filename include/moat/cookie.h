/* cookie.h - hardening of the app's Set-Cookie values: Secure, HttpOnly, SameSite (pure).
 *
 * moat_cookie_harden() adds what is missing and never weakens what the app
 * set: Secure; HttpOnly unless the cookie is listed as script-readable;
 * SameSite=<policy default> when the app sent none (an explicit Strict, Lax or
 * None is kept; an unrecognised value is replaced in place by the default,
 * since browsers ignore it). Secure is also added, whatever the policy says,
 * when the cookie needs it to be accepted at all: SameSite=None, Partitioned,
 * or a __Secure- / __Host- name prefix (prefixes match case-insensitively);
 * a __Host- cookie without a Path attribute also gets "Path=/". A Domain on a
 * __Host- cookie is the app's bug and is left alone.
 *
 * The app's text is kept byte for byte: new attributes are appended as
 * "; Name[=value]" after the last non-blank, non-';' byte; attribute names
 * compare case-insensitively; attribute values (Expires dates with commas,
 * Path, Domain) are never touched. The last occurrence of an attribute counts,
 * as in RFC 6265 5.3.
 *
 * Malformed values are left for the caller to pass through untouched (and log):
 * empty, a control byte (other than HTAB) anywhere, no '=' in the first
 * name=value pair (nameless cookies), an empty or non-token cookie name. */
#ifndef MOAT_COOKIE_H
#define MOAT_COOKIE_H

#include <stddef.h>

/* Bytes harden can add to a value: "; Secure; HttpOnly; SameSite=Strict; Path=/". */
#define MOAT_COOKIE_GROWTH 48
#define MOAT_COOKIE_NAMES_MAX 1024 /* longest script-readable list */

enum moat_cookie_samesite {
    MOAT_COOKIE_SAMESITE_OFF = 0, /* do not add SameSite */
    MOAT_COOKIE_SAMESITE_LAX,     /* add SameSite=Lax when missing (default) */
    MOAT_COOKIE_SAMESITE_STRICT,  /* add SameSite=Strict when missing */
};

enum moat_cookie_rc {
    MOAT_COOKIE_ERROR = -1,    /* out too small, or bad arguments; out unspecified */
    MOAT_COOKIE_OK = 0,        /* out holds the value to send (*changed says if it differs) */
    MOAT_COOKIE_MALFORMED = 1, /* not understood: send the original untouched and log it */
};

/* What to add. Caller-owned; read only by harden. */
struct moat_cookie_policy {
    int secure;                         /* add Secure when missing (HTTPS responses) */
    int httponly;                       /* add HttpOnly when missing */
    enum moat_cookie_samesite samesite; /* SameSite value to add when missing */
    const char *script_readable;        /* names kept without HttpOnly, separated by commas
                                           and/or spaces, matched exactly (RFC 6265 names are
                                           case-sensitive); NULL or "" for none. Borrowed. */
};

/* Fills p with moat's defaults: Secure, HttpOnly, SameSite=Lax, no script-readable names. */
void moat_cookie_policy_defaults(struct moat_cookie_policy *p);

/* Parses "lax", "strict", "off" (any case). Returns 0, or -1 when unknown. */
int moat_cookie_samesite_parse(const char *s, enum moat_cookie_samesite *out);

/* Checks p->script_readable: every name a token, at most MOAT_COOKIE_NAMES_MAX
 * bytes in all. Returns 0, or -1 with a message naming the offending entry. */
int moat_cookie_policy_check(const struct moat_cookie_policy *p, char *err, size_t errlen);

/* Hardens one Set-Cookie value v[0..len) (a single cookie, not a comma-joined
 * list) into out[0..cap), NUL-terminated, its length in *out_len; *changed is
 * 1 when out differs from v. cap >= len + MOAT_COOKIE_GROWTH + 1 always
 * suffices; out must not overlap v. Returns MOAT_COOKIE_OK, MOAT_COOKIE_MALFORMED
 * (out untouched) or MOAT_COOKIE_ERROR (out too small; *out_len is 0). */
enum moat_cookie_rc moat_cookie_harden(const char *v, size_t len,
                                       const struct moat_cookie_policy *p, char *out, size_t cap,
                                       size_t *out_len, int *changed);

#endif
