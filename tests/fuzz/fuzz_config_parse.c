/* fuzz_config_parse.c - libFuzzer target: the typed value parsers of the configuration
 * (config_parse.c, config_int.h): booleans, numbers, sizes, durations, listen and bind
 * addresses, upstream URLs and CIDRs.
 *
 * Input: one selector byte, 17 bytes of address for moat_cidr_match (family
 * byte, then 16 address bytes), then the value text. Whatever parses must be
 * in range, written back it must parse to the same value, and an error must
 * come with a reason. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config_int.h" /* the typed parsers (src/ is on the fuzz targets' include path) */
#include "moat/config.h"

#include "fuzz_common.h"

#define FZ_MAX_INPUT 2048

static void fz_numbers(const char *s, unsigned sel)
{
    char text[64];
    uint64_t v = 7;
    uint64_t back = 0;
    int b = 7;

    switch (sel) {
    case 0:
        if (moat_cfg_parse_bool(s, &b) == 0)
            FZ_CHECK((b == 0 || b == 1) && strlen(s) <= 5);
        else
            FZ_CHECK(b == 7);
        break;
    case 1:
        if (moat_cfg_parse_u64(s, &v) == 0) {
            snprintf(text, sizeof(text), "%" PRIu64, v);
            FZ_CHECK(strspn(s, "0123456789") == strlen(s));
            FZ_CHECK(moat_cfg_parse_u64(text, &back) == 0 && back == v);
        }
        break;
    case 2:
        if (moat_cfg_parse_size(s, &v) == 0) {
            FZ_CHECK(moat_cfg_format_size(v, text, sizeof(text)) == 0);
            FZ_CHECK(moat_cfg_parse_size(text, &back) == 0 && back == v);
            FZ_CHECK(moat_cfg_format_size(v, text, strlen(text)) == -1); /* one byte short */
        }
        break;
    default:
        if (moat_cfg_parse_duration(s, &v) == 0) {
            FZ_CHECK(moat_cfg_format_duration(v, text, sizeof(text)) == 0);
            FZ_CHECK(moat_cfg_parse_duration(text, &back) == 0 && back == v);
            FZ_CHECK(moat_cfg_format_duration(v, text, strlen(text)) == -1);
        }
        break;
    }
}

/* A listen address: numeric host as inet_ntop writes it, port 1..65535. */
static void fz_check_listen(const struct moat_listen_addr *a)
{
    unsigned char bin[16];
    char again[64];

    FZ_CHECK(a->family == AF_INET || a->family == AF_INET6);
    FZ_CHECK(a->port >= 1);
    FZ_CHECK(inet_pton(a->family, a->host, bin) == 1);
    FZ_CHECK(inet_ntop(a->family, bin, again, sizeof(again)) != NULL);
    FZ_CHECK(strcmp(again, a->host) == 0);
}

static void fz_addresses(const char *s, unsigned sel)
{
    char text[MOAT_CFG_PATH + 16];
    const char *why = NULL;

    if (sel == 4) {
        struct moat_listen_addr a;
        struct moat_listen_addr b;

        if (moat_cfg_parse_listen(s, &a, &why) != 0) {
            FZ_CHECK(why != NULL && why[0] != '\0');
            return;
        }
        fz_check_listen(&a);
        snprintf(text, sizeof(text), a.family == AF_INET6 ? "[%s]:%u" : "%s:%u", a.host,
                 (unsigned)a.port);
        FZ_CHECK(moat_cfg_parse_listen(text, &b, &why) == 0);
        FZ_CHECK(b.family == a.family && b.port == a.port && strcmp(b.host, a.host) == 0);
    } else if (sel == 5) {
        struct moat_bind_addr a;
        struct moat_bind_addr b;

        if (moat_cfg_parse_bind(s, &a, &why) != 0) {
            FZ_CHECK(why != NULL && why[0] != '\0');
            return;
        }
        FZ_CHECK(a.kind == MOAT_BIND_OFF || a.kind == MOAT_BIND_TCP || a.kind == MOAT_BIND_UNIX);
        if (a.kind == MOAT_BIND_TCP)
            fz_check_listen(&a.tcp);
        if (a.kind == MOAT_BIND_UNIX)
            FZ_CHECK(a.path[0] == '/' && strnlen(a.path, sizeof(a.path)) < sizeof(a.path));
        FZ_CHECK(moat_config_format_bind(&a, text, sizeof(text)) == 0);
        FZ_CHECK(moat_cfg_parse_bind(text, &b, &why) == 0);
        FZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
        FZ_CHECK(moat_config_format_bind(&a, text, strlen(text)) == -1);
    } else {
        struct moat_upstream_addr a;
        struct moat_upstream_addr b;

        if (moat_cfg_parse_upstream(s, &a, &why) != 0) {
            FZ_CHECK(why != NULL && why[0] != '\0');
            return;
        }
        if (a.kind == MOAT_UPSTREAM_UNIX) {
            FZ_CHECK(a.path[0] == '/' && strnlen(a.path, sizeof(a.path)) < sizeof(a.path));
            snprintf(text, sizeof(text), "unix:%s", a.path);
        } else {
            FZ_CHECK(a.kind == MOAT_UPSTREAM_TCP && a.port >= 1 && a.host[0] != '\0');
            FZ_CHECK(strpbrk(a.host, "/?#@ ") == NULL);
            snprintf(text, sizeof(text), strchr(a.host, ':') ? "%s://[%s]:%u" : "%s://%s:%u",
                     a.tls ? "https" : "http", a.host, (unsigned)a.port);
        }
        FZ_CHECK(moat_cfg_parse_upstream(text, &b, &why) == 0);
        FZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    }
}

/* A CIDR: prefix in range, no host bits; written back it parses the same; its
 * own network address matches it, and match agrees with a bit-by-bit check. */
static void fz_cidr(const char *s, const uint8_t *probe)
{
    struct moat_cidr c;
    struct moat_cidr b;
    char host[64];
    char text[80];
    unsigned char addr[16];
    const char *why = NULL;
    unsigned maxbits;
    unsigned bit;
    int family = (probe[0] & 1) ? AF_INET6 : AF_INET;
    int want = 1;

    if (moat_cfg_parse_cidr(s, &c, &why) != 0) {
        FZ_CHECK(why != NULL && why[0] != '\0');
        return;
    }
    FZ_CHECK(c.family == AF_INET || c.family == AF_INET6);
    maxbits = c.family == AF_INET6 ? 128 : 32;
    FZ_CHECK(c.prefix <= maxbits);
    for (bit = c.prefix; bit < maxbits; bit++)
        FZ_CHECK((c.addr[bit / 8] & (0x80u >> (bit % 8))) == 0);
    FZ_CHECK(inet_ntop(c.family, c.addr, host, sizeof(host)) != NULL);
    snprintf(text, sizeof(text), "%s/%u", host, c.prefix);
    FZ_CHECK(moat_cfg_parse_cidr(text, &b, &why) == 0 && memcmp(&b, &c, sizeof(c)) == 0);
    FZ_CHECK(moat_cidr_match(&c, 1, c.family, c.addr) == 1);

    /* A probe address of either family, compared bit by bit (IPv4 as ::ffff:a.b.c.d). */
    memcpy(addr, probe + 1, 16);
    if (c.family == AF_INET6) {
        unsigned char v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

        if (family == AF_INET)
            memcpy(v6 + 12, addr, 4);
        else
            memcpy(v6, addr, 16);
        for (bit = 0; bit < c.prefix; bit++)
            want &= ((v6[bit / 8] ^ c.addr[bit / 8]) & (0x80u >> (bit % 8))) == 0;
    } else {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        const unsigned char *v4 = addr;

        if (family == AF_INET6) {
            want = memcmp(addr, mapped, 12) == 0;
            v4 = addr + 12;
        }
        for (bit = 0; bit < c.prefix; bit++)
            want &= ((v4[bit / 8] ^ c.addr[bit / 8]) & (0x80u >> (bit % 8))) == 0;
    }
    FZ_CHECK(moat_cidr_match(&c, 1, family, addr) == want);
    FZ_CHECK(moat_cidr_match(&c, 1, AF_UNIX, addr) == 0);
    FZ_CHECK(moat_cidr_match(&c, 1, family, NULL) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[FZ_MAX_INPUT + 1];
    size_t len;
    unsigned sel;

    if (size < 18)
        return 0;
    sel = data[0] % 8;
    len = size - 18 > FZ_MAX_INPUT ? FZ_MAX_INPUT : size - 18;
    memcpy(buf, data + 18, len);
    buf[len] = '\0';
    if (sel < 4)
        fz_numbers(buf, sel);
    else if (sel < 7)
        fz_addresses(buf, sel);
    else
        fz_cidr(buf, data + 1);
    return 0;
}
