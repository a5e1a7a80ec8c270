/* fuzz_tlsconf.c - libFuzzer target: the pure TLS policy parsers (tls.extra_certs lists, SNI
 * names, header-safe client subjects) never overrun and keep their promises.
 *
 * Input: one selector byte, then text (NUL bytes end it). Selector % 3:
 *   0  moat_tls_pairs_parse: on success every path is absolute, without blanks, ':' or ','
 *   1  "pattern LF name": normalised names hold only [a-z0-9.*_-]; a wildcard match means the
 *      name is exactly one label in front of the pattern's suffix; a name never matches as a
 *      pattern against itself with a '*' in it
 *   2  moat_tls_dn_header_value: the output is printable ASCII only (a header value that cannot
 *      break the framing), and fits the buffer */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moat/tlsconf.h"

#include "fuzz_common.h"

#define FZ_MAX_INPUT 8192

static void fz_pairs(const char *text)
{
    static struct moat_tls_pair pairs[4];
    char err[256];
    size_t n = 0, i, j;

    if (moat_tls_pairs_parse(text, pairs, 4, &n, err, sizeof(err)) != 0) {
        FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
        return;
    }
    FZ_CHECK(n <= 4);
    for (i = 0; i < n; i++) {
        const char *p[2] = {pairs[i].cert, pairs[i].key};

        for (j = 0; j < 2; j++) {
            FZ_CHECK(p[j][0] == '/');
            FZ_CHECK(strpbrk(p[j], ":, \t\r\n") == NULL);
        }
    }
}

static int fz_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
           c == '*';
}

static void fz_names(const char *text)
{
    char pat[MOAT_TLS_NAME_MAX], name[MOAT_TLS_NAME_MAX], raw[FZ_MAX_INPUT + 1];
    const char *lf = strchr(text, '\n');
    const char *dot;
    size_t i;
    int m;

    if (lf == NULL || (size_t)(lf - text) >= sizeof(raw))
        return;
    memcpy(raw, text, (size_t)(lf - text));
    raw[lf - text] = '\0';
    if (moat_tls_name_normalise(raw, pat, sizeof(pat)) != 0 ||
        moat_tls_name_normalise(lf + 1, name, sizeof(name)) != 0)
        return;
    for (i = 0; pat[i] != '\0'; i++)
        FZ_CHECK(fz_name_char(pat[i]));
    for (i = 0; name[i] != '\0'; i++)
        FZ_CHECK(fz_name_char(name[i]));
    m = moat_tls_name_match(pat, name);
    FZ_CHECK(m >= 0 && m <= 2);
    if (m == 2)
        FZ_CHECK(strcmp(pat, name) == 0 && strchr(name, '*') == NULL);
    if (m == 1) {
        dot = strchr(name, '.');
        FZ_CHECK(pat[0] == '*' && pat[1] == '.' && strchr(pat + 1, '*') == NULL);
        FZ_CHECK(dot != NULL && dot != name && strcmp(dot, pat + 1) == 0);
        FZ_CHECK(strchr(name, '*') == NULL);
    }
    if (strchr(name, '*') != NULL)
        FZ_CHECK(m == 0);
}

static void fz_dn(const char *text, uint8_t cap_byte)
{
    char out[512];
    size_t cap = 1 + (size_t)cap_byte % sizeof(out);
    size_t i;

    memset(out, 'Z', sizeof(out));
    if (moat_tls_dn_header_value(text, out, cap) == 0) {
        FZ_CHECK(memchr(out, '\0', cap) != NULL);
        for (i = 0; out[i] != '\0'; i++)
            FZ_CHECK((unsigned char)out[i] >= 0x20 && (unsigned char)out[i] <= 0x7e);
    } else {
        FZ_CHECK(out[0] == '\0');
    }
    for (i = cap; i < sizeof(out); i++)
        FZ_CHECK(out[i] == 'Z'); /* nothing written past cap */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[FZ_MAX_INPUT + 1];
    size_t n;

    if (size < 2 || size > FZ_MAX_INPUT + 2)
        return 0;
    n = size - 2;
    memcpy(text, data + 2, n);
    text[n] = '\0';
    switch (data[0] % 3) {
    case 0:
        fz_pairs(text);
        break;
    case 1:
        fz_names(text);
        break;
    default:
        fz_dn(text, data[1]);
        break;
    }
    return 0;
}
