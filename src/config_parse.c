/* config_parse.c - pure parsers for configuration values: numbers, sizes, durations, addresses,
 * CIDRs. */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "config_int.h"

#define MS_PER_S UINT64_C(1000)
#define MS_PER_M UINT64_C(60000)
#define MS_PER_H UINT64_C(3600000)

/* The first 12 bytes of an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
static const unsigned char v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int moat_cfg_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    size_t i;
    int rc = -1;

    for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            rc = 0;
        } else if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            rc = 0;
        }
    }
    return rc;
}

int moat_cfg_looks_like_key(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");

    if (n == 0)
        return 0;
    s += n;
    s += strspn(s, " \t");
    return *s == '=';
}

int moat_cfg_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    unsigned d;
    size_t i;

    if (s[0] == '\0')
        return -1;
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Splits s into a leading decimal number and the rest. Returns 0 or -1. */
static int split_number(const char *s, uint64_t *num, const char **rest)
{
    char digits[24];
    size_t n = strspn(s, "0123456789");

    if (n == 0 || n >= sizeof digits)
        return -1;
    memcpy(digits, s, n);
    digits[n] = '\0';
    if (moat_cfg_parse_u64(digits, num) != 0)
        return -1;
    *rest = s + n;
    return 0;
}

int moat_cfg_parse_size(const char *s, uint64_t *out)
{
    uint64_t v;
    const char *suffix;
    unsigned shift;

    if (split_number(s, &v, &suffix) != 0)
        return -1;
    if (suffix[0] == '\0') {
        shift = 0;
    } else if (suffix[1] != '\0') {
        return -1;
    } else if (suffix[0] == 'k' || suffix[0] == 'K') {
        shift = 10;
    } else if (suffix[0] == 'm' || suffix[0] == 'M') {
        shift = 20;
    } else if (suffix[0] == 'g' || suffix[0] == 'G') {
        shift = 30;
    } else {
        return -1;
    }
    if (v > (UINT64_MAX >> shift))
        return -1;
    *out = v << shift;
    return 0;
}

int moat_cfg_parse_duration(const char *s, uint64_t *out_ms)
{
    uint64_t v;
    uint64_t mult;
    const char *unit;

    if (split_number(s, &v, &unit) != 0)
        return -1;
    if (strcmp(unit, "ms") == 0) {
        mult = 1;
    } else if (strcmp(unit, "s") == 0 || unit[0] == '\0') {
        mult = MS_PER_S;
    } else if (strcmp(unit, "m") == 0) {
        mult = MS_PER_M;
    } else if (strcmp(unit, "h") == 0) {
        mult = MS_PER_H;
    } else {
        return -1;
    }
    if (v > UINT64_MAX / mult)
        return -1;
    *out_ms = v * mult;
    return 0;
}

/* snprintf into out; 0 when it fit, -1 otherwise. */
static int fit(int n, size_t outlen)
{
    return (n >= 0 && (size_t)n < outlen) ? 0 : -1;
}

int moat_cfg_format_size(uint64_t bytes, char *out, size_t outlen)
{
    static const struct {
        uint64_t unit;
        const char *suffix;
    } units[] = {{UINT64_C(1) << 30, "g"}, {UINT64_C(1) << 20, "m"}, {UINT64_C(1) << 10, "k"}};
    size_t i;

    for (i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (bytes != 0 && bytes % units[i].unit == 0)
            return fit(
                snprintf(out, outlen, "%" PRIu64 "%s", bytes / units[i].unit, units[i].suffix),
                outlen);
    }
    return fit(snprintf(out, outlen, "%" PRIu64, bytes), outlen);
}

int moat_cfg_format_duration(uint64_t ms, char *out, size_t outlen)
{
    static const struct {
        uint64_t unit;
        const char *suffix;
    } units[] = {{MS_PER_H, "h"}, {MS_PER_M, "m"}, {MS_PER_S, "s"}};
    size_t i;

    if (ms == 0)
        return fit(snprintf(out, outlen, "0s"), outlen);
    for (i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms % units[i].unit == 0)
            return fit(snprintf(out, outlen, "%" PRIu64 "%s", ms / units[i].unit, units[i].suffix),
                       outlen);
    }
    return fit(snprintf(out, outlen, "%" PRIu64 "ms", ms), outlen);
}

/* Parses a TCP port "1".."65535" (digits only). Returns 0 or -1. */
static int parse_port(const char *s, uint16_t *out)
{
    uint64_t v;

    if (strlen(s) > 5 || moat_cfg_parse_u64(s, &v) != 0 || v < 1 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* Copies s[0..len) into out (NUL-terminated). Returns 0, or -1 when it does not fit. */
static int copy_n(char *out, size_t outlen, const char *s, size_t len)
{
    if (len >= outlen)
        return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

/* The reason given when a listen address has the wrong shape altogether. */
static const char listen_shape[] = "expected HOST:PORT, [IPV6]:PORT or *:PORT";

int moat_cfg_parse_listen(const char *s, struct moat_listen_addr *out, const char **why)
{
    struct moat_listen_addr a;
    unsigned char bin[16];
    char host[MOAT_CFG_STR];
    const char *sep;
    int rc = -1;

    memset(&a, 0, sizeof a);
    *why = listen_shape;
    if (s[0] == '[') {
        sep = strchr(s, ']');
        if (sep == NULL || sep[1] != ':' ||
            copy_n(host, sizeof host, s + 1, (size_t)(sep - s - 1)) != 0)
            goto out;
        sep++;
        a.family = AF_INET6;
        if (inet_pton(AF_INET6, host, bin) != 1) {
            *why = "host must be a numeric IPv6 address inside [brackets]";
            goto out;
        }
    } else {
        sep = strrchr(s, ':');
        if (sep == NULL || copy_n(host, sizeof host, s, (size_t)(sep - s)) != 0)
            goto out;
        if (strchr(host, ':') != NULL) {
            *why = "an IPv6 host must be written in brackets, e.g. [::1]:8443";
            goto out;
        }
        if (strcmp(host, "*") == 0)
            snprintf(host, sizeof host, "0.0.0.0");
        a.family = AF_INET;
        if (inet_pton(AF_INET, host, bin) != 1) {
            *why = "host must be a numeric IPv4 address, an [IPv6] address or * (names are not "
                   "resolved)";
            goto out;
        }
    }
    if (parse_port(sep + 1, &a.port) != 0) {
        *why = "port must be 1-65535";
        goto out;
    }
    if (inet_ntop(a.family, bin, a.host, sizeof a.host) == NULL)
        goto out;
    *out = a;
    rc = 0;
out:
    return rc;
}

int moat_config_parse_listen(const char *s, struct moat_listen_addr *out)
{
    const char *why;

    return moat_cfg_parse_listen(s, out, &why);
}

/* True when name is a plausible DNS host name (letters, digits, '-', '_', '.'). */
static int host_name_ok(const char *name)
{
    size_t i;
    size_t len = strlen(name);

    if (len == 0 || len > 253 || name[0] == '.' || name[0] == '-' || strstr(name, "..") != NULL)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return 0;
    }
    return 1;
}

/* Parses the part of an http:// URL after the scheme. */
static int parse_http_authority(const char *p, struct moat_upstream_addr *a, int tls,
                                const char **why)
{
    unsigned char bin[16];
    char port[8];
    const char *rest;
    size_t n;
    int rc = -1;

    a->kind = MOAT_UPSTREAM_TCP;
    a->tls = tls;
    a->port = tls ? 443 : 80;
    if (p[0] == '[') {
        rest = strchr(p, ']');
        *why = "expected http://[IPV6]:PORT";
        if (rest == NULL || copy_n(a->host, sizeof a->host, p + 1, (size_t)(rest - p - 1)) != 0)
            goto out;
        *why = "invalid IPv6 address in brackets";
        if (inet_pton(AF_INET6, a->host, bin) != 1)
            goto out;
        rest++;
    } else {
        n = strcspn(p, ":/?#");
        *why = "missing or invalid host name";
        if (copy_n(a->host, sizeof a->host, p, n) != 0 || !host_name_ok(a->host))
            goto out;
        *why = "invalid IPv4 address";
        if (strspn(a->host, "0123456789.") == n && inet_pton(AF_INET, a->host, bin) != 1)
            goto out;
        rest = p + n;
    }
    if (rest[0] == ':') {
        n = strcspn(rest + 1, "/?#");
        *why = "port must be 1-65535";
        if (copy_n(port, sizeof port, rest + 1, n) != 0 || parse_port(port, &a->port) != 0)
            goto out;
        rest += 1 + n;
    }
    *why = "paths in upstream.url are not supported";
    if (rest[0] != '\0' && strcmp(rest, "/") != 0)
        goto out;
    rc = 0;
out:
    return rc;
}

/* Checks and copies the p of "unix:p": absolute, fits sun_path, no control characters. */
static int parse_unix_path(const char *p, char *out, size_t outlen, const char **why)
{
    size_t i;

    *why = "the socket path must be absolute (unix:/path)";
    if (p[0] != '/')
        return -1;
    *why = "the socket path is too long for a Unix socket (max 107 bytes)";
    if (copy_n(out, outlen, p, strlen(p)) != 0)
        return -1;
    *why = "the socket path contains control characters";
    for (i = 0; p[i] != '\0'; i++) {
        if (iscntrl((unsigned char)p[i]))
            return -1;
    }
    return 0;
}

int moat_cfg_parse_bind(const char *s, struct moat_bind_addr *out, const char **why)
{
    struct moat_bind_addr a;
    int rc = -1;

    memset(&a, 0, sizeof a);
    if (strcasecmp(s, "off") == 0) {
        a.kind = MOAT_BIND_OFF;
    } else if (strncasecmp(s, "unix:", 5) == 0) {
        a.kind = MOAT_BIND_UNIX;
        if (parse_unix_path(s + 5, a.path, sizeof a.path, why) != 0)
            goto out;
    } else {
        a.kind = MOAT_BIND_TCP;
        if (moat_cfg_parse_listen(s, &a.tcp, why) != 0) {
            if (*why == listen_shape)
                *why = "expected HOST:PORT, [IPV6]:PORT, *:PORT, unix:/PATH or off";
            goto out;
        }
    }
    *out = a;
    rc = 0;
out:
    return rc;
}

int moat_config_parse_bind(const char *s, struct moat_bind_addr *out)
{
    const char *why;

    return moat_cfg_parse_bind(s, out, &why);
}

int moat_cfg_parse_upstream(const char *s, struct moat_upstream_addr *out, const char **why)
{
    struct moat_upstream_addr a;
    int rc = -1;

    memset(&a, 0, sizeof a);
    if (strncasecmp(s, "unix:", 5) == 0) {
        a.kind = MOAT_UPSTREAM_UNIX;
        if (parse_unix_path(s + 5, a.path, sizeof a.path, why) != 0)
            goto out;
    } else if (strncasecmp(s, "https://", 8) == 0) {
        if (parse_http_authority(s + 8, &a, 1, why) != 0)
            goto out;
    } else if (strncasecmp(s, "http://", 7) == 0) {
        if (parse_http_authority(s + 7, &a, 0, why) != 0)
            goto out;
    } else {
        *why = "expected http://HOST[:PORT], https://HOST[:PORT] or unix:/PATH";
        goto out;
    }
    *out = a;
    rc = 0;
out:
    return rc;
}

int moat_config_parse_upstream(const char *s, struct moat_upstream_addr *out)
{
    const char *why;

    return moat_cfg_parse_upstream(s, out, &why);
}

/* True when a and b agree on their first prefix bits. */
static int prefix_eq(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
    unsigned full = prefix / 8;
    unsigned rem = prefix % 8;
    unsigned char mask;

    if (memcmp(a, b, full) != 0)
        return 0;
    if (rem == 0)
        return 1;
    mask = (unsigned char)(0xffu << (8 - rem));
    return (a[full] & mask) == (b[full] & mask);
}

/* True when any bit after the first prefix bits of addr[0..len) is set. */
static int has_host_bits(const unsigned char *addr, size_t len, unsigned prefix)
{
    size_t i;
    unsigned bits_left;

    for (i = 0; i < len; i++) {
        bits_left = prefix > i * 8 ? prefix - (unsigned)(i * 8) : 0;
        if (bits_left >= 8)
            continue;
        if ((addr[i] & (unsigned char)(0xffu >> bits_left)) != 0)
            return 1;
    }
    return 0;
}

int moat_cfg_parse_cidr(const char *s, struct moat_cidr *out, const char **why)
{
    struct moat_cidr c;
    char host[64];
    const char *slash = strchr(s, '/');
    size_t hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    uint64_t prefix;
    unsigned maxbits;
    int rc = -1;

    memset(&c, 0, sizeof c);
    *why = "not an IPv4 or IPv6 address";
    if (copy_n(host, sizeof host, s, hlen) != 0)
        goto out;
    c.family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
    maxbits = c.family == AF_INET6 ? 128 : 32;
    if (inet_pton(c.family, host, c.addr) != 1)
        goto out;
    prefix = maxbits;
    *why = "prefix length must be 0-32 (IPv4) or 0-128 (IPv6)";
    if (slash != NULL &&
        (strlen(slash + 1) > 3 || moat_cfg_parse_u64(slash + 1, &prefix) != 0 || prefix > maxbits))
        goto out;
    c.prefix = (unsigned)prefix;
    *why = "the address has bits set beyond the prefix length";
    if (has_host_bits(c.addr, maxbits / 8, c.prefix))
        goto out;
    *out = c;
    rc = 0;
out:
    return rc;
}

int moat_config_parse_cidr(const char *s, struct moat_cidr *out)
{
    const char *why;

    return moat_cfg_parse_cidr(s, out, &why);
}

int moat_cidr_match(const struct moat_cidr *nets, size_t n, int family, const unsigned char *addr)
{
    unsigned char v4[4];
    unsigned char v6[16];
    int have4 = 0;
    size_t i;

    if (addr == NULL)
        return 0;
    if (family == AF_INET) {
        memcpy(v4, addr, 4);
        memcpy(v6, v4mapped_prefix, 12);
        memcpy(v6 + 12, addr, 4);
        have4 = 1;
    } else if (family == AF_INET6) {
        memcpy(v6, addr, 16);
        if (memcmp(addr, v4mapped_prefix, 12) == 0) {
            memcpy(v4, addr + 12, 4);
            have4 = 1;
        }
    } else {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (nets[i].family == AF_INET && have4 && nets[i].prefix <= 32 &&
            prefix_eq(nets[i].addr, v4, nets[i].prefix))
            return 1;
        if (nets[i].family == AF_INET6 && nets[i].prefix <= 128 &&
            prefix_eq(nets[i].addr, v6, nets[i].prefix))
            return 1;
    }
    return 0;
}
