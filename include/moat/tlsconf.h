/* tlsconf.h - pure TLS policy: profiles to GnuTLS priority strings, the
 * tls.extra_certs list syntax, server-name matching for SNI, the client
 * certificate mode and certificate-expiry arithmetic.
 *
 * No I/O, no allocation, no global state: every function is a pure function of
 * its arguments (unit-tested in tests/unit/test_tlsconf.c). */
#ifndef MOAT_TLSCONF_H
#define MOAT_TLSCONF_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MOAT_TLS_MAX_PAIRS 16   /* certificate/key pairs served, the default one included */
#define MOAT_TLS_NAME_MAX 256   /* longest server name, NUL included */
#define MOAT_TLS_PAIR_PATH 1024 /* longest certificate or key path, NUL included */

/* TLS profiles (tls.profile). */
enum moat_tls_profile {
    MOAT_TLS_PROFILE_INTERMEDIATE = 0, /* TLS 1.2 + 1.3, AEAD suites with ECDHE only */
    MOAT_TLS_PROFILE_MODERN = 1,       /* TLS 1.3 only */
};

/* Client certificate modes (tls.client_auth). */
enum moat_tls_client_auth {
    MOAT_TLS_CLIENT_AUTH_OFF = 0,      /* no certificate requested */
    MOAT_TLS_CLIENT_AUTH_OPTIONAL = 1, /* requested; when sent it must verify */
    MOAT_TLS_CLIENT_AUTH_REQUIRED = 2, /* the handshake fails without a verified certificate */
};

/* One certificate/key pair to serve (paths copied, caller-owned struct). */
struct moat_tls_pair {
    char cert[MOAT_TLS_PAIR_PATH]; /* PEM chain, leaf first */
    char key[MOAT_TLS_PAIR_PATH];  /* PEM private key */
};

/* Parses "intermediate" or "modern" (ASCII case-insensitive). Returns 0, or -1
 * when s is anything else (out untouched). */
int moat_tls_profile_parse(const char *s, enum moat_tls_profile *out);

/* The GnuTLS priority string of a profile (static storage), or NULL for an
 * out-of-range value. */
const char *moat_tls_profile_priority(enum moat_tls_profile p);

/* The priority string moat serves with: custom when it is not NULL or "", else
 * the named profile's; NULL when the profile name is unknown. Borrowed (custom
 * itself, or static storage). */
const char *moat_tls_priority_effective(const char *profile, const char *custom);

/* Parses "off", "optional" or "required" (ASCII case-insensitive). Returns 0 or -1. */
int moat_tls_client_auth_parse(const char *s, enum moat_tls_client_auth *out);

/* Parses the tls.extra_certs syntax: "CERT:KEY" pairs separated by commas,
 * whitespace around each path ignored, "" = no pair. Paths must be absolute
 * and cannot contain ':' or ','. Appends up to max pairs to out starting at
 * out[*n] and advances *n. Returns 0, or -1 with a one-line reason in err
 * (naming the offending item) when the syntax is wrong or there are more than
 * max - *n pairs; *n and out are then unspecified. */
int moat_tls_pairs_parse(const char *list, struct moat_tls_pair *out, size_t max, size_t *n,
                         char *err, size_t errlen);

/* Normalises a server name for matching: ASCII lower case, one trailing dot
 * removed. Returns 0, or -1 when name is empty, too long for out (cap bytes) or
 * holds a byte outside [A-Za-z0-9.*_-]. */
int moat_tls_name_normalise(const char *name, char *out, size_t cap);

/* Matches a normalised server name against a normalised certificate name:
 * 2 for an exact match, 1 when pattern is "*.rest" and name is exactly one
 * label followed by ".rest" (the wildcard never matches an empty label, a dot,
 * or the bare "rest"), 0 otherwise. A '*' anywhere else in pattern never
 * matches. */
int moat_tls_name_match(const char *pattern, const char *name);

/* Makes a subject DN (RFC 4514 text, e.g. from GnuTLS) safe for a header
 * value: bytes outside printable ASCII (0x20..0x7e) become RFC 4514 hex escapes
 * ("\c3\a4"), which keep the DN's meaning. Writes a NUL-terminated string into
 * out (cap bytes). Returns 0, or -1 when dn is NULL/empty or the result does
 * not fit (out is then ""). */
int moat_tls_dn_header_value(const char *dn, char *out, size_t cap);

/* Whole days from now until not_after, rounded down (negative once expired). */
long moat_tls_days_left(time_t not_after, time_t now);

/* True when a certificate valid until not_after deserves the expiry warning at
 * now: fewer than warn_days whole days left (warn_days 0 = never). */
int moat_tls_expiry_warn(time_t not_after, time_t now, unsigned warn_days);

#endif
