/* fuzz_redirect.c - libFuzzer target: the plain-HTTP redirect decision can never be an open
 * redirect.
 *
 * Input: two flag bytes (policy, method, buffer size), then "target LF host"
 * (no LF: no Host). Whatever the bytes, a REDIRECT's Location must be
 * https:// + one of our own names (the canonical host, or a certificate name)
 * + the policy's port, followed by a path that starts with exactly one '/',
 * has no dot segment, only safe URI characters and well-formed escapes, and
 * must not fit one byte short. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moat/redirect.h"

#include "fuzz_common.h"

#define FZ_MAX_INPUT 4096
#define FZ_BIG_CAP 8192

static const char *const fz_aliases[] = {"www.example.com", "EXAMPLE.net.", "[2001:db8::1]"};
static const char *const fz_certs[] = {"*.example.org", "Example.org.", "2001:db8::2", "*.com",
                                       "xn--bcher-kva.example"};
static const struct moat_redirect_exemption fz_exempt[] = {
    {"/.well-known/acme-challenge/", 1, MOAT_REDIRECT_EXEMPT_PROXY},
    {"/healthz", 0, MOAT_REDIRECT_EXEMPT_HEALTH},
    {"/status", 1, MOAT_REDIRECT_EXEMPT_HEALTH},
};

static int fz_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int fz_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Bytes a Location path or query may hold literally. */
static int fz_uri_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~!$&'()*+,;=:@/?%", c) != NULL);
}

/* True when an authority is one the certificate-name policy may produce. */
static int fz_cert_authority(const char *a, size_t len)
{
    static const char *const exact[] = {"example.org", "[2001:db8::2]", "xn--bcher-kva.example"};
    static const char suffix[] = ".example.org";
    size_t slen = sizeof(suffix) - 1;
    size_t i;

    for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (len == strlen(exact[i]) && memcmp(a, exact[i], len) == 0)
            return 1;
    /* "*.example.org": one label of [a-z0-9-], 1..63 bytes */
    if (len <= slen || len - slen > 63 || memcmp(a + len - slen, suffix, slen) != 0)
        return 0;
    for (i = 0; i < len - slen; i++)
        if (!fz_lower_alnum(a[i]) && a[i] != '-')
            return 0;
    return 1;
}

/* Checks a normalised path?query: one leading '/', no dot segment, safe bytes only. */
static void fz_check_path(const char *p, size_t len)
{
    size_t i;
    size_t seg = 1;

    FZ_CHECK(len >= 1 && p[0] == '/');
    FZ_CHECK(len == 1 || (p[1] != '/' && p[1] != '\\'));
    for (i = 0; i < len; i++) {
        FZ_CHECK(fz_uri_char(p[i]));
        if (p[i] == '%')
            FZ_CHECK(i + 2 < len && fz_hex(p[i + 1]) && fz_hex(p[i + 2]));
    }
    /* no "." or ".." segment (literal or %2e) in the path part */
    for (i = 1; i <= len; i++) {
        if (i == len || p[i] == '/' || p[i] == '?') {
            const char *s = p + seg;
            size_t n = i - seg;
            size_t k = 0;
            int dots = 0;

            while (k < n && dots >= 0) {
                if (s[k] == '.') {
                    k++;
                } else if (n - k >= 3 && s[k] == '%' && s[k + 1] == '2' &&
                           (s[k + 2] == 'e' || s[k + 2] == 'E')) {
                    k += 3;
                } else {
                    dots = -1;
                    break;
                }
                dots++;
            }
            FZ_CHECK(!(n > 0 && (dots == 1 || dots == 2)));
            if (i == len || p[i] == '?')
                break;
            seg = i + 1;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "get"};
    static const size_t caps[] = {FZ_BIG_CAP, 64, 32, 1};
    static const char *const want_canon[] = {"https://example.com/", "https://example.com:8443/"};
    char target[FZ_MAX_INPUT + 1];
    char *buf;
    char *host = NULL;
    size_t host_len = 0;
    size_t len;
    size_t cap;
    struct moat_redirect_policy pol;
    struct moat_redirect_result res;
    struct moat_redirect_result again;
    const char *method;
    uint8_t flags;
    uint8_t flags2;
    int cert_policy;
    char *lf;

    if (size < 2)
        return 0;
    flags = data[0];
    flags2 = data[1];
    len = size - 2 > FZ_MAX_INPUT ? FZ_MAX_INPUT : size - 2;
    memcpy(target, data + 2, len);
    target[len] = '\0';
    lf = memchr(target, '\n', len);
    if (lf != NULL) {
        *lf = '\0';
        host = lf + 1;
        host_len = len - (size_t)(host - target); /* may hold NUL bytes: it is counted */
    }

    moat_redirect_policy_init(&pol);
    cert_policy = flags & 1;
    if (cert_policy) {
        pol.cert_names = fz_certs;
        pol.n_cert_names = sizeof(fz_certs) / sizeof(fz_certs[0]);
    } else {
        pol.canonical_host = "Example.COM.";
        pol.aliases = fz_aliases;
        pol.n_aliases = sizeof(fz_aliases) / sizeof(fz_aliases[0]);
    }
    pol.https_port = (flags & 2) ? 8443 : 443;
    pol.code_mode = (enum moat_redirect_code_mode)(((flags >> 2) & 3) % 3);
    pol.wrong_host_status = (flags & 0x10) ? 400 : 421;
    if (flags & 0x20) {
        pol.exemptions = fz_exempt;
        pol.n_exemptions = sizeof(fz_exempt) / sizeof(fz_exempt[0]);
    }
    FZ_CHECK(moat_redirect_policy_check(&pol, NULL) == 0);
    method = methods[(flags >> 6) & 3];
    cap = caps[flags2 & 3];

    buf = malloc(cap + 1); /* one guard byte past cap */
    FZ_CHECK(buf != NULL);
    buf[cap] = 'G';
    FZ_CHECK(moat_redirect_decide(&pol, method, target, host, host_len, &res, buf, cap) == 0);
    FZ_CHECK(buf[cap] == 'G');
    FZ_CHECK(res.reason != NULL);

    switch (res.action) {
    case MOAT_REDIRECT_REDIRECT: {
        const char *auth;
        const char *slash;
        size_t alen;

        FZ_CHECK(res.location == buf && res.location_len < cap);
        FZ_CHECK(strlen(buf) == res.location_len);
        FZ_CHECK(res.status == 301 || res.status == 308);
        if (pol.code_mode == MOAT_REDIRECT_CODE_308 ||
            (pol.code_mode == MOAT_REDIRECT_CODE_MIXED && strcmp(method, "GET") != 0 &&
             strcmp(method, "HEAD") != 0))
            FZ_CHECK(res.status == 308);
        else
            FZ_CHECK(res.status == 301);
        FZ_CHECK(strncmp(buf, "https://", 8) == 0);
        auth = buf + 8;
        slash = strchr(auth, '/');
        FZ_CHECK(slash != NULL && slash == res.path);
        alen = (size_t)(slash - auth);
        if (pol.https_port == 8443) {
            FZ_CHECK(alen > 5 && memcmp(slash - 5, ":8443", 5) == 0);
            alen -= 5;
        }
        if (cert_policy) {
            FZ_CHECK(fz_cert_authority(auth, alen));
        } else {
            const char *want = want_canon[pol.https_port == 8443];

            FZ_CHECK(strncmp(buf, want, strlen(want)) == 0);
        }
        FZ_CHECK(memchr(auth, '@', alen) == NULL && memchr(auth, '\\', alen) == NULL);
        fz_check_path(res.path, res.path_len);
        FZ_CHECK(res.path + res.path_len == buf + res.location_len);
        /* one byte short: refused, never truncated */
        FZ_CHECK(moat_redirect_decide(&pol, method, target, host, host_len, &again, buf,
                                      res.location_len) == 0);
        FZ_CHECK(again.action == MOAT_REDIRECT_REJECT && again.status == 414);
        break;
    }
    case MOAT_REDIRECT_PROXY:
    case MOAT_REDIRECT_HEALTH:
        FZ_CHECK(res.status == 0 && res.location == NULL && res.path == buf);
        FZ_CHECK(strlen(buf) == res.path_len && res.path_len < cap);
        fz_check_path(res.path, res.path_len);
        if (res.action == MOAT_REDIRECT_PROXY)
            FZ_CHECK(strncmp(buf, "/.well-known/acme-challenge", 27) == 0);
        break;
    case MOAT_REDIRECT_REJECT:
        FZ_CHECK(res.status == 400 || res.status == 414 || res.status == 421);
        FZ_CHECK(res.status != 421 || pol.wrong_host_status == 421);
        FZ_CHECK(res.location == NULL && res.path == NULL && buf[0] == '\0');
        break;
    default:
        FZ_CHECK(0);
    }
    free(buf);
    return 0;
}
