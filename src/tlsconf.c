/* tlsconf.c - pure TLS policy: profiles, the extra_certs list, SNI name
 * matching, client-auth modes, expiry arithmetic. */
#include "moat/tlsconf.h"

#include "moat/log.h"

#include <string.h>
#include <strings.h>

/* Both profiles: AEAD ciphers only, ECDHE only, modern groups, the server's
 * order. GnuTLS ignores the KX entries for TLS 1.3 (its key exchange is
 * always ephemeral). */
#define TLS_SUITES                                                                                 \
    "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:"             \
    "+ECDHE-ECDSA:+ECDHE-RSA:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:"          \
    "%SERVER_PRECEDENCE"

static const char prio_intermediate[] =
    "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" TLS_SUITES;
static const char prio_modern[] = "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:" TLS_SUITES;

int moat_tls_profile_parse(const char *s, enum moat_tls_profile *out)
{
    int rc = -1;

    if (s == NULL)
        goto out;
    if (strcasecmp(s, "intermediate") == 0) {
        *out = MOAT_TLS_PROFILE_INTERMEDIATE;
        rc = 0;
    } else if (strcasecmp(s, "modern") == 0) {
        *out = MOAT_TLS_PROFILE_MODERN;
        rc = 0;
    }
out:
    return rc;
}

const char *moat_tls_profile_priority(enum moat_tls_profile p)
{
    const char *s = NULL;

    switch (p) {
    case MOAT_TLS_PROFILE_INTERMEDIATE:
        s = prio_intermediate;
        break;
    case MOAT_TLS_PROFILE_MODERN:
        s = prio_modern;
        break;
    }
    return s;
}

const char *moat_tls_priority_effective(const char *profile, const char *custom)
{
    enum moat_tls_profile p;
    const char *s = NULL;

    if (custom != NULL && custom[0] != '\0')
        s = custom;
    else if (moat_tls_profile_parse(profile, &p) == 0)
        s = moat_tls_profile_priority(p);
    return s;
}

int moat_tls_client_auth_parse(const char *s, enum moat_tls_client_auth *out)
{
    int rc = -1;

    if (s == NULL)
        goto out;
    if (strcasecmp(s, "off") == 0) {
        *out = MOAT_TLS_CLIENT_AUTH_OFF;
        rc = 0;
    } else if (strcasecmp(s, "optional") == 0) {
        *out = MOAT_TLS_CLIENT_AUTH_OPTIONAL;
        rc = 0;
    } else if (strcasecmp(s, "required") == 0) {
        *out = MOAT_TLS_CLIENT_AUTH_REQUIRED;
        rc = 0;
    }
out:
    return rc;
}

/* Copies s[0..len) with surrounding blanks removed into out (cap bytes).
 * Returns the copied length, or -1 when it does not fit. */
static long trim_copy(const char *s, size_t len, char *out, size_t cap)
{
    long rc = -1;

    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len < cap) {
        memcpy(out, s, len);
        out[len] = '\0';
        rc = (long)len;
    }
    return rc;
}

/* Checks one path of a pair: absolute, printable, no blanks inside. */
static int path_ok(const char *p)
{
    size_t i;
    int ok = p[0] == '/';

    for (i = 0; ok && p[i] != '\0'; i++)
        ok = (unsigned char)p[i] >= 0x21 && (unsigned char)p[i] != 0x7f;
    return ok;
}

int moat_tls_pairs_parse(const char *list, struct moat_tls_pair *out, size_t max, size_t *n,
                         char *err, size_t errlen)
{
    char item[2 * MOAT_TLS_PAIR_PATH + 2];
    const char *p = list;
    const char *colon;
    size_t len;
    long ilen;
    int rc = -1;

    while (*p != '\0') {
        len = strcspn(p, ",");
        ilen = trim_copy(p, len, item, sizeof(item));
        if (ilen < 0) {
            moat_set_err(err, errlen, "a certificate:key pair is too long");
            goto out;
        }
        if (ilen == 0) {
            if (p[len] == ',' || p != list) {
                moat_set_err(err, errlen,
                             "empty item in the list (two commas, or a comma at an end)");
                goto out;
            }
        } else {
            colon = strchr(item, ':');
            if (colon == NULL || strchr(colon + 1, ':') != NULL) {
                moat_set_err(err, errlen, "\"%s\" is not CERT:KEY (one colon between two paths)",
                             item);
                goto out;
            }
            if (*n >= max) {
                moat_set_err(err, errlen, "more than %zu certificate/key pairs", max);
                goto out;
            }
            if (trim_copy(item, (size_t)(colon - item), out[*n].cert, sizeof(out[*n].cert)) <= 0 ||
                trim_copy(colon + 1, strlen(colon + 1), out[*n].key, sizeof(out[*n].key)) <= 0 ||
                !path_ok(out[*n].cert) || !path_ok(out[*n].key)) {
                moat_set_err(err, errlen, "\"%s\": both paths must be absolute, without blanks",
                             item);
                goto out;
            }
            (*n)++;
        }
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                moat_set_err(err, errlen,
                             "empty item in the list (two commas, or a comma at an end)");
                goto out;
            }
        }
    }
    rc = 0;
out:
    return rc;
}

int moat_tls_name_normalise(const char *name, char *out, size_t cap)
{
    size_t len, i;
    int rc = -1;
    char c;

    if (name == NULL || cap == 0)
        goto out;
    len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len >= cap)
        goto out;
    for (i = 0; i < len; i++) {
        c = name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_' || c == '*'))
            goto out;
        out[i] = c;
    }
    out[len] = '\0';
    rc = 0;
out:
    return rc;
}

int moat_tls_name_match(const char *pattern, const char *name)
{
    const char *dot;
    int m = 0;

    if (pattern == NULL || name == NULL || pattern[0] == '\0' || name[0] == '\0')
        goto out;
    if (strchr(name, '*') != NULL)
        goto out; /* a client name is never a pattern */
    if (strchr(pattern, '*') == NULL) {
        if (strcmp(pattern, name) == 0)
            m = 2;
        goto out;
    }
    /* Only "*." followed by at least one label, and no other '*'. */
    if (pattern[0] != '*' || pattern[1] != '.' || pattern[2] == '\0' ||
        strchr(pattern + 1, '*') != NULL)
        goto out;
    dot = strchr(name, '.');
    if (dot == NULL || dot == name)
        goto out;
    if (strcmp(dot, pattern + 1) == 0) /* the labels after the first are ".rest" */
        m = 1;
out:
    return m;
}

int moat_tls_dn_header_value(const char *dn, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;
    unsigned char c;
    int rc = -1;

    if (cap == 0)
        goto out;
    out[0] = '\0';
    if (dn == NULL || dn[0] == '\0')
        goto out;
    for (i = 0; dn[i] != '\0'; i++) {
        c = (unsigned char)dn[i];
        if (c >= 0x20 && c <= 0x7e) {
            if (o + 1 >= cap)
                goto fail;
            out[o++] = (char)c;
        } else {
            if (o + 3 >= cap)
                goto fail;
            out[o++] = '\\';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    rc = 0;
    goto out;
fail:
    out[0] = '\0';
out:
    return rc;
}

long moat_tls_days_left(time_t not_after, time_t now)
{
    long long d = (long long)not_after - (long long)now;
    long long days = d / 86400;

    if (d < 0 && d % 86400 != 0)
        days--;
    return (long)days;
}

int moat_tls_expiry_warn(time_t not_after, time_t now, unsigned warn_days)
{
    return warn_days > 0 && (long long)not_after - (long long)now < (long long)warn_days * 86400LL;
}
