/* secheaders.h - security-header policy: what moat adds, replaces and strips in responses (pure).
 *
 * A policy holds, for each managed header (enum moat_sech_id), a value and a
 * mode: SET replaces whatever the app sent, DEFAULT adds moat's value only when
 * the app sent none, OFF leaves the header alone. On top: custom headers
 * (name, value, mode), names stripped from every app response, and per-path
 * overrides. An override is a partial policy under a path prefix: each field it
 * sets replaces the base's, everything else is inherited. The longest matching
 * prefix wins and overrides do not stack. Prefixes match whole path segments
 * ("/docs" matches "/docs", "/docs/" and "/docs/x", never "/docsx") on the path
 * as the app will see it: percent-escapes decoded, "." and ".." resolved, empty
 * segments, '\' and %2F/%5C treated as separators, the query ignored; so
 * "/%61dmin" still gets the "/admin" override.
 *
 * Storage: the struct is self-contained (strings are copied into its own pool
 * and referenced by offset), so it can be memcpy'd; it is built once at start-up
 * with the functions below and then only read (apply/lint are thread-safe on a
 * shared const policy). Nothing here allocates or does I/O.
 *
 * CSP nonces: when the policy's nonce flag is on and the caller passes a nonce,
 * every "{nonce}" in Content-Security-Policy(-Report-Only) is replaced by it;
 * otherwise each 'nonce-{nonce}' source is removed with its separating space
 * (a directive left without sources then allows nothing: it fails closed).
 * "{nonce}" is accepted only inside a whole 'nonce-{nonce}' source token.
 *
 * Built-in profiles (moat_secheaders_defaults), by key (see moat_secheaders_key):
 *   key (enum order)       standard                                 strict
 *   hsts                   set max-age=63072000; includeSubDomains  same (never preload)
 *   csp                    default MOAT_SECH_CSP_STANDARD           set MOAT_SECH_CSP_STRICT
 *   csp_report_only        off                                      off
 *   content_type_options   set nosniff                              set nosniff
 *   frame_options          default DENY                             set DENY
 *   referrer_policy        default strict-origin-when-cross-origin  set same-origin
 *   permissions_policy     default MOAT_SECH_PP_STANDARD            set MOAT_SECH_PP_STRICT
 *   coop                   default same-origin                      set same-origin
 *   corp                   default same-origin                      set same-origin
 *   coep                   off                                      set require-corp
 *   cross_domain_policies  set none                                 set none
 *   removed from app responses: Server, X-Powered-By, X-AspNet-Version, X-AspNetMvc-Version;
 *   CSP nonces on.
 * Why: moat terminates TLS, so it owns HSTS; nosniff and cross-domain "none"
 * have no legitimate alternative. Everything else describes the app's content,
 * so "standard" fills in what the app did not say and "strict" imposes moat's
 * policy. COEP is off in "standard": require-corp blocks every cross-origin
 * subresource (CDN fonts, images, embeds) that lacks CORP/CORS headers, its
 * benefit (cross-origin isolation for SharedArrayBuffer) is something an app opts
 * into, and unsafe-none is the browser's default so sending it says nothing.
 * "strict" drops data: images, uses default-src 'none', base-uri 'none' and
 * Trusted Types, and sends require-corp. Neither profile sets HSTS preload:
 * preloading is a commitment the operator must make (hstspreload.org). */
#ifndef MOAT_SECHEADERS_H
#define MOAT_SECHEADERS_H

#include <stddef.h>
#include <stdint.h>

#include "moat/hdr.h"

#define MOAT_SECH_CSP_STANDARD                                                                     \
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "    \
    "img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'self'; "                  \
    "form-action 'self'; frame-ancestors 'none'; upgrade-insecure-requests"
#define MOAT_SECH_CSP_STRICT                                                                       \
    "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "    \
    "img-src 'self'; font-src 'self'; connect-src 'self'; manifest-src 'self'; "                   \
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "             \
    "require-trusted-types-for 'script'; upgrade-insecure-requests"
#define MOAT_SECH_PP_STANDARD                                                                      \
    "accelerometer=(), browsing-topics=(), camera=(), display-capture=(), geolocation=(), "        \
    "gyroscope=(), hid=(), magnetometer=(), microphone=(), midi=(), payment=(), serial=(), "       \
    "usb=(), xr-spatial-tracking=()"
#define MOAT_SECH_PP_STRICT                                                                        \
    MOAT_SECH_PP_STANDARD ", autoplay=(), encrypted-media=(), idle-detection=(), "                 \
                          "picture-in-picture=(), screen-wake-lock=(), web-share=()"

#define MOAT_SECH_POOL 32768              /* bytes of string storage in a policy */
#define MOAT_SECH_VALUE_MAX 4096          /* longest configured header value */
#define MOAT_SECH_NAME_MAX 128            /* longest custom / removed header name */
#define MOAT_SECH_PREFIX_MAX 256          /* longest override prefix */
#define MOAT_SECH_PREFIX_SEGS 32          /* most segments in an override prefix */
#define MOAT_SECH_URI_MAX 1024            /* longest CSP report URI */
#define MOAT_SECH_MAX_CUSTOM 16           /* custom headers per scope */
#define MOAT_SECH_MAX_REMOVE 16           /* names stripped from app responses */
#define MOAT_SECH_MAX_OVERRIDES 16        /* path-prefix overrides */
#define MOAT_SECH_MAX_NONCES 8            /* 'nonce-{nonce}' sources per CSP value */
#define MOAT_SECH_NONCE_MAX 64            /* longest nonce accepted by apply */
#define MOAT_SECH_NONCE_B64 25            /* bytes for a base64 128-bit nonce plus NUL */
#define MOAT_SECH_REPORT_GROUP "moat-csp" /* report-to group moat names for report_uri */
/* Adds apply can emit: every managed header, every custom one, Reporting-Endpoints. */
#define MOAT_SECH_MAX_ADDS (MOAT_SECH_COUNT + 2 * MOAT_SECH_MAX_CUSTOM + 1)
/* A value buffer for apply that always suffices for a policy built with these functions. */
#define MOAT_SECH_APPLY_BUF 16384

/* The managed headers, in the order apply adds them. */
enum moat_sech_id {
    MOAT_SECH_HSTS = 0, /* Strict-Transport-Security (HTTPS responses only) */
    MOAT_SECH_CSP,      /* Content-Security-Policy */
    MOAT_SECH_CSP_RO,   /* Content-Security-Policy-Report-Only */
    MOAT_SECH_XCTO,     /* X-Content-Type-Options */
    MOAT_SECH_XFO,      /* X-Frame-Options */
    MOAT_SECH_REFERRER, /* Referrer-Policy */
    MOAT_SECH_PERMS,    /* Permissions-Policy */
    MOAT_SECH_COOP,     /* Cross-Origin-Opener-Policy */
    MOAT_SECH_CORP,     /* Cross-Origin-Resource-Policy */
    MOAT_SECH_COEP,     /* Cross-Origin-Embedder-Policy */
    MOAT_SECH_XPCDP,    /* X-Permitted-Cross-Domain-Policies */
    MOAT_SECH_COUNT
};

enum moat_sech_mode {
    MOAT_SECH_INHERIT = 0, /* overrides: take the base's mode (in the base: same as OFF) */
    MOAT_SECH_OFF,         /* moat neither adds nor touches the header */
    MOAT_SECH_DEFAULT,     /* add moat's value only when the app sent none */
    MOAT_SECH_SET,         /* remove the app's, add moat's */
};

enum moat_sech_profile { MOAT_SECH_STANDARD = 0, MOAT_SECH_STRICT };

/* A string in the policy's pool; len 0 means unset. */
struct moat_sech_str {
    uint16_t off; /* offset in moat_secheaders.pool (NUL-terminated there) */
    uint16_t len; /* bytes, without the NUL */
};

/* One header's setting in a scope. */
struct moat_sech_entry {
    unsigned char mode;         /* enum moat_sech_mode */
    struct moat_sech_str value; /* unset in an override: the base's value */
};

/* A custom header of a scope; in an override it replaces the base's of the same name. */
struct moat_sech_custom {
    struct moat_sech_str name;  /* header name (token) */
    struct moat_sech_entry set; /* mode (not INHERIT) and value */
};

/* The base policy (scope 0) or one override (scope >= 1). */
struct moat_sech_scope {
    struct moat_sech_str prefix;                 /* normalised prefix; unset for the base */
    unsigned n_segs;                             /* segments in prefix */
    struct moat_sech_entry hdr[MOAT_SECH_COUNT]; /* managed headers */
    struct moat_sech_custom custom[MOAT_SECH_MAX_CUSTOM]; /* custom headers */
    size_t n_custom;                                      /* entries used in custom */
};

/* The whole policy. Build with the functions below; read-only afterwards. */
struct moat_secheaders {
    struct moat_sech_scope scope[1 + MOAT_SECH_MAX_OVERRIDES]; /* [0] base, then overrides */
    size_t n_scopes;                                           /* 1 + overrides added */
    struct moat_sech_str remove[MOAT_SECH_MAX_REMOVE];         /* names stripped (base only) */
    size_t n_remove;                                           /* entries used in remove */
    struct moat_sech_str report_uri; /* CSP report endpoint (base only), unset = none */
    int nonce;                       /* CSP nonces enabled */
    size_t pool_used;                /* bytes used in pool */
    char pool[MOAT_SECH_POOL];       /* NUL-terminated strings referenced above */
};

/* What apply decided for one header. */
enum moat_sech_op_kind {
    MOAT_SECH_OP_REMOVE = 0, /* drop app_hdrs[index] */
    MOAT_SECH_OP_ADD,        /* add name: value */
};

/* One operation. name and value are NUL-terminated and borrowed from the policy
 * or from the caller's buffer passed to apply: valid while both are. */
struct moat_sech_op {
    enum moat_sech_op_kind kind; /* remove or add */
    size_t index;                /* REMOVE: index in app_hdrs */
    const char *name;            /* ADD: header name */
    size_t name_len;             /* ADD: bytes in name */
    const char *value;           /* ADD: header value */
    size_t value_len;            /* ADD: bytes in value */
};

/* Warning callback for lint: code is a short stable identifier ("hsts-short"),
 * where is "" for the base policy or the override's prefix, msg a sentence.
 * All three are borrowed for the duration of the call. */
typedef void (*moat_sech_lint_fn)(void *arg, const char *code, const char *where, const char *msg);

/* Empties p: every header OFF, no custom, no removals, no overrides, nonces off. */
void moat_secheaders_init(struct moat_secheaders *p);

/* Fills p with a built-in profile (table at the top of this file).
 * Returns 0, or -1 for an unknown profile (p is then empty as after init). */
int moat_secheaders_defaults(struct moat_secheaders *p, enum moat_sech_profile profile);

/* Parses "standard" / "strict". Returns 0, or -1 when unknown. */
int moat_secheaders_profile_parse(const char *s, enum moat_sech_profile *out);

/* Canonical header name of a managed header ("Content-Security-Policy"), or NULL. */
const char *moat_secheaders_name(enum moat_sech_id id);

/* Configuration key of a managed header ("csp", "frame_options"), or NULL. */
const char *moat_secheaders_key(enum moat_sech_id id);

/* The managed header called s[0..len): its header name (any case) or its key.
 * Returns the id, or -1 when s names no managed header. */
int moat_secheaders_lookup(const char *s, size_t len);

/* Parses "set", "default", "off" (and "inherit"). Returns 0, or -1 when unknown. */
int moat_secheaders_mode_parse(const char *s, enum moat_sech_mode *out);

/* Name of a mode ("set", ...), or "?" when out of range. */
const char *moat_secheaders_mode_name(enum moat_sech_mode mode);

/* The effective setting of managed header id in scope (0 = base; an override
 * merged over the base): returns the mode (OFF when unset, out of range, or
 * without a value) and points *value at the configured value (borrowed from p,
 * raw: "{nonce}" not substituted), or NULL when OFF. */
enum moat_sech_mode moat_secheaders_effective(const struct moat_secheaders *p, size_t scope,
                                              enum moat_sech_id id, const char **value);

/* Sets header id in scope (0 = base, else a value from add_override) to mode and
 * value (NUL-terminated, copied). value NULL keeps the scope's current value
 * (an override then inherits the base's). SET and DEFAULT need a value from
 * somewhere; OFF accepts NULL. The value is checked (no CR/LF/CTL, no
 * leading/trailing space, not empty, at most MOAT_SECH_VALUE_MAX bytes; for a
 * CSP, "{nonce}" only as a whole 'nonce-{nonce}' source, at most
 * MOAT_SECH_MAX_NONCES times). Returns 0, or -1 with a message naming the
 * header (and the override) in err; p is unchanged on error. */
int moat_secheaders_set(struct moat_secheaders *p, size_t scope, enum moat_sech_id id,
                        enum moat_sech_mode mode, const char *value, char *err, size_t errlen);

/* Builds the HSTS value "max-age=N[; includeSubDomains][; preload]" into
 * out[0..cap) (NUL-terminated). Returns its length, or -1 when it does not fit. */
long moat_secheaders_hsts_build(uint32_t max_age, int include_subdomains, int preload, char *out,
                                size_t cap);

/* Sets the HSTS header of scope from its parts (see hsts_build) and mode.
 * Returns 0, or -1 with a message in err. */
int moat_secheaders_set_hsts(struct moat_secheaders *p, size_t scope, enum moat_sech_mode mode,
                             uint32_t max_age, int include_subdomains, int preload, char *err,
                             size_t errlen);

/* The HSTS value for a response to path, or NULL: always NULL when !is_https
 * (RFC 6797 7.2: never over plain HTTP) or when the effective mode is OFF.
 * Borrowed from p. */
const char *moat_secheaders_hsts(const struct moat_secheaders *p, const char *path, size_t path_len,
                                 int is_https);

/* Adds a custom header to scope (copied). The name must be a token, not a
 * managed header, not framing/hop-by-hop (Connection, Content-Length, ...) nor
 * Set-Cookie; at most one entry per name and scope. mode is SET, DEFAULT or OFF
 * (OFF in an override suppresses the base's header of that name; value may then
 * be NULL). Returns 0, or -1 with a message naming the header in err. */
int moat_secheaders_add_custom(struct moat_secheaders *p, size_t scope, const char *name,
                               const char *value, enum moat_sech_mode mode, char *err,
                               size_t errlen);

/* Adds a name to strip from app responses (copied; duplicates ignored). Framing
 * fields (Connection, Content-Length, Transfer-Encoding) are refused.
 * Returns 0, or -1 with a message in err. */
int moat_secheaders_add_remove(struct moat_secheaders *p, const char *name, char *err,
                               size_t errlen);

/* Forgets every name to strip (to replace the profile's list). */
void moat_secheaders_clear_remove(struct moat_secheaders *p);

/* Adds an override for a path prefix ("/docs", "/docs/" and "/docs//" are the
 * same; "/" applies to every path). The prefix must start with '/' and hold only
 * RFC 3986 pchars without '%', no "." or ".." segment. On success *scope is the
 * override's scope number for set/add_custom and 0 is returned; a prefix added
 * twice is an error. Returns -1 with a message in err. */
int moat_secheaders_add_override(struct moat_secheaders *p, const char *prefix, size_t *scope,
                                 char *err, size_t errlen);

/* Like add_override, but a prefix already configured (after normalisation)
 * gives its existing scope instead of an error. Returns 0 with *scope, or -1
 * with a message in err. */
int moat_secheaders_override_scope(struct moat_secheaders *p, const char *prefix, size_t *scope,
                                   char *err, size_t errlen);

/* The scope that governs a response to path (raw request target; the query is
 * ignored): the override with the longest prefix matching whole segments of the
 * decoded, normalised path, or 0 (the base) when none matches. This is the
 * per-path choice apply() makes. Pure. */
size_t moat_secheaders_scope_for(const struct moat_secheaders *p, const char *path, size_t len);

/* Sets the CSP report endpoint (copied; NULL or "" removes it). Every CSP moat
 * adds then ends with "; report-uri URI; report-to moat-csp" and apply adds
 * "Reporting-Endpoints: moat-csp=\"URI\"". URI: RFC 3986 characters (ASCII
 * letters, digits, -._~:/?#[]@!$&'()*+=%) without ';' and ','.
 * Returns 0, or -1 with a message in err. */
int moat_secheaders_set_report_uri(struct moat_secheaders *p, const char *uri, char *err,
                                   size_t errlen);

/* Turns CSP nonces on or off (when off, 'nonce-{nonce}' sources are always removed). */
void moat_secheaders_set_nonce(struct moat_secheaders *p, int on);

/* True when a response to path would carry a CSP using a nonce, i.e. the caller
 * should generate one and hand it to the app. */
int moat_secheaders_wants_nonce(const struct moat_secheaders *p, const char *path, size_t path_len);

/* Decides the header operations for one response to path (raw request target:
 * the query is ignored). app_hdrs[0..n) are the app's response fields (n = 0
 * for moat's own errors and redirects). nonce is the request's nonce (base64
 * chars, at most MOAT_SECH_NONCE_MAX bytes) or NULL. Writes REMOVE ops first
 * (ascending index), then ADD ops (managed headers in enum order, custom
 * headers, Reporting-Endpoints) into ops[0..ops_cap) and sets *n_ops; values
 * that need rendering (CSPs) go into buf[0..buf_cap). Header names compare
 * case-insensitively. HSTS is only added on HTTPS; on plain HTTP the app's HSTS
 * is removed unless HSTS is OFF. ops_cap >= n + MOAT_SECH_MAX_ADDS and
 * buf_cap >= MOAT_SECH_APPLY_BUF always suffice. Returns 0, or -1 when ops or
 * buf is too small or the nonce is invalid (*n_ops is then 0). */
int moat_secheaders_apply(const struct moat_secheaders *p, const char *path, size_t path_len,
                          int is_https, const char *nonce, const struct moat_hdr *app_hdrs,
                          size_t n, struct moat_sech_op *ops, size_t ops_cap, size_t *n_ops,
                          char *buf, size_t buf_cap);

/* Encodes a 128-bit nonce as standard base64 (24 chars, "==" padded) into out,
 * NUL-terminated. Pure; the caller draws raw from libsodium. */
void moat_secheaders_nonce_encode(const unsigned char raw[16], char out[MOAT_SECH_NONCE_B64]);

/* Reports weak choices to cb, base first, then each override for the headers it
 * changes. Codes: hsts-off, hsts-short, hsts-no-max-age, hsts-preload-no-subdomains,
 * csp-off, csp-unsafe-inline, csp-unsafe-eval, csp-wildcard, csp-object-src,
 * csp-base-uri, xfo-inconsistent, xfo-invalid, xfo-missing, xcto-off, referrer-leaky.
 * Returns the number of warnings. */
int moat_secheaders_lint(const struct moat_secheaders *p, moat_sech_lint_fn cb, void *arg);

#endif
