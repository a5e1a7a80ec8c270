/* redirect.h - what the plain-HTTP listener answers: redirect to HTTPS, reject, or exempt (pure).
 *
 * moat_redirect_decide() turns (policy, method, raw target, Host) into one of:
 *   REDIRECT  301/308 to https://NAME[:PORT]/path?query
 *   REJECT    400 (bad request), 414 (Location would not fit) or 421/400 (host not ours)
 *   PROXY     pass the request to the app over plain HTTP (ACME http-01 challenges)
 *   HEALTH    answer locally (load-balancer / kubelet probes)
 *
 * The client's Host is never copied into Location: the authority is always the
 * policy's canonical host, or (no canonical host) the allowed name that matched,
 * copied from the policy's list and lower-cased. The one exception is a wildcard
 * certificate name ("*.example.com"): the one label it stands for comes from the
 * request, but only as 1..63 letters, digits and '-', lower-cased.
 *
 * The path is rebuilt so that nothing in it can change Location's authority:
 * leading '/', '\', "%2f" and "%5c" collapse into a single '/', dot segments
 * (also spelled "%2e") are removed, and every byte that is not a safe path or
 * query character is percent-encoded. Existing %XX escapes are kept as they
 * are (never decoded). The result always starts with exactly one '/' followed
 * by end-of-path, '?' or a byte other than '/' and '\'.
 *
 * Nothing here allocates or does I/O. */
#ifndef MOAT_REDIRECT_H
#define MOAT_REDIRECT_H

#include <stddef.h>

#define MOAT_REDIRECT_DEFAULT_PORT 443 /* https_port 0 means this; never written in Location */

/* Which redirect status to send. */
enum moat_redirect_code_mode {
    MOAT_REDIRECT_CODE_308 = 0,   /* 308 Permanent Redirect for every method (default) */
    MOAT_REDIRECT_CODE_301 = 1,   /* 301 Moved Permanently for every method */
    MOAT_REDIRECT_CODE_MIXED = 2, /* 301 for GET and HEAD, 308 for every other method */
};

/* What an exemption does with a matching request. */
enum moat_redirect_exempt_action {
    MOAT_REDIRECT_EXEMPT_PROXY = 0,  /* pass to the app; only with an allowed Host */
    MOAT_REDIRECT_EXEMPT_HEALTH = 1, /* answer locally; any Host, even none */
};

/* One exempted path. Matching is on the normalised path (no query), case-sensitive.
 * A trailing '/' is ignored on both sides: "/a/" and "/a" are the same entry, and
 * each matches the paths "/a" and "/a/" (a prefix entry also "/a/anything"). */
struct moat_redirect_exemption {
    const char *path;                        /* absolute path, e.g. "/healthz" */
    int prefix;                              /* 1: also matches everything below path
                                                (at a '/' boundary); 0: exact match */
    enum moat_redirect_exempt_action action; /* what a match does */
};

/* The policy. All pointers borrowed from the caller and must outlive every call;
 * the struct is read-only for this module. Start from moat_redirect_policy_init(). */
struct moat_redirect_policy {
    const char *canonical_host;             /* host (no port) every redirect goes to; NULL or "" =
                                               use cert_names instead */
    const char *const *aliases;             /* other names accepted in Host, redirected to the
                                               canonical host; ignored without a canonical host */
    size_t n_aliases;                       /* entries in aliases */
    const char *const *cert_names;          /* names of the served certificate ("*.x.y" allowed);
                                               the allowed hosts when canonical_host is empty */
    size_t n_cert_names;                    /* entries in cert_names */
    unsigned int https_port;                /* port written in Location; 0 = 443; 443 is omitted */
    enum moat_redirect_code_mode code_mode; /* default MOAT_REDIRECT_CODE_308 */
    int wrong_host_status;                  /* 400 or 421 for a Host that isn't ours; 0 = 421 */
    const struct moat_redirect_exemption *exemptions; /* checked in order, first match wins */
    size_t n_exemptions;                              /* entries in exemptions */
};

enum moat_redirect_action {
    MOAT_REDIRECT_REDIRECT = 0, /* send status with Location */
    MOAT_REDIRECT_REJECT = 1,   /* send status (400, 414 or 421) with a short body */
    MOAT_REDIRECT_PROXY = 2,    /* hand the request to the proxy path */
    MOAT_REDIRECT_HEALTH = 3,   /* answer the health probe locally */
};

struct moat_redirect_result {
    enum moat_redirect_action action; /* the decision */
    int status;           /* 301/308 (REDIRECT), 400/414/421 (REJECT), 0 (PROXY, HEALTH) */
    const char *reason;   /* static snake_case label, usable as a metric label */
    const char *location; /* REDIRECT: the NUL-terminated Location (= location_buf); else NULL */
    size_t location_len;  /* bytes in location, without the NUL */
    const char *path;     /* normalised path?query (in location_buf; inside location for a
                             REDIRECT); NULL for REJECT */
    size_t path_len;      /* bytes in path */
};

/* Fills p with the defaults: no names, port 443, 308 for every method, 421 for a
 * wrong Host, and the default exemptions (see moat_redirect_default_exemptions). */
void moat_redirect_policy_init(struct moat_redirect_policy *p);

/* The built-in exemption table (static, never freed; *n receives its length):
 *   "/.well-known/acme-challenge/" prefix  PROXY   (ACME http-01 must reach the app)
 *   "/healthz"                     exact   HEALTH  (probes, whatever their Host) */
const struct moat_redirect_exemption *moat_redirect_default_exemptions(size_t *n);

/* Validates a policy for configuration time. Returns 0 when usable, -1 otherwise
 * with *why (may be NULL) set to a static message naming the bad field: a canonical
 * host or alias that isn't a plain host name / IPv4 / [IPv6] literal (no port,
 * ASCII only), aliases without a canonical host, no canonical host and no usable
 * certificate name ("name" or "*.name"; unusable ones are skipped, not errors),
 * https_port above 65535, an unknown code mode or wrong_host_status, or an
 * exemption path that is not an absolute, already-normalised path of safe
 * characters (or the prefix "/", which would exempt everything).
 * moat_redirect_decide() never matches an invalid name. */
int moat_redirect_policy_check(const struct moat_redirect_policy *p, const char **why);

/* True when s (NUL-terminated) is usable as canonical_host or alias: a plain host
 * name, IPv4 or IPv6 address (bracketed or not), no port, ASCII only. Pure. */
int moat_redirect_name_ok(const char *s);

/* Parses "308", "301" or "mixed" (any case). Returns 0, or -1 when unknown. Pure. */
int moat_redirect_code_parse(const char *s, enum moat_redirect_code_mode *out);

/* True when path is valid as an exemption path (absolute, already normalised, no
 * query, safe characters; see moat_redirect_policy_check). Pure. */
int moat_redirect_exempt_path_ok(const char *path);

/* Decides what to answer to one plain-HTTP request.
 *   method      NUL-terminated request method (case-sensitive; picks 301/308)
 *   raw_target  NUL-terminated request target exactly as on the wire (not decoded)
 *   host_value  the Host field value (host_len bytes, need not be NUL-terminated;
 *               NULL or empty = missing)
 *   location_buf, cap  caller's buffer: receives the NUL-terminated Location on a
 *               REDIRECT, the normalised path?query on PROXY/HEALTH; scratch otherwise
 * Order: target syntax and method [bad_target, bad_method: 400] -> path normalisation
 * [uri_too_long: 414 when it or the Location does not fit in cap] -> HEALTH exemptions
 * [exempt_health] -> Host (and absolute-form authority) checks [missing_host,
 * bad_host: 400; host_not_allowed: wrong_host_status] -> PROXY exemptions
 * [exempt_proxy] -> redirect [redirect].
 * Rejected targets: anything not origin-form or absolute-form http(s)://, raw
 * control bytes, space or DEL, '#', a query without a path in absolute form,
 * userinfo or an invalid authority, percent-encoded control bytes (%00-%1f, %7f)
 * in the path. Host must be ASCII (IDN as punycode "xn--"), a valid host[:port];
 * its port is ignored, a trailing dot tolerated, case ignored, IPv6 literals
 * compared as addresses. Absolute-form: both its authority and Host must be allowed;
 * the authority picks the Location name.
 * Returns 0 with *out filled; -1 (out untouched) when an argument is NULL, cap is
 * 0 or policy->https_port is above 65535. */
int moat_redirect_decide(const struct moat_redirect_policy *policy, const char *method,
                         const char *raw_target, const char *host_value, size_t host_len,
                         struct moat_redirect_result *out, char *location_buf, size_t cap);

#endif
