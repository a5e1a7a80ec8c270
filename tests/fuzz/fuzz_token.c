/* fuzz_token.c - libFuzzer target: Authorization parsing and token verification (token.h).
 *
 * Input: one flag byte, then bytes used two ways: as an Authorization field
 * value for moat_token_parse_bearer, and as the token presented to
 * moat_token_verify, either raw or (flag bit 0) as an XOR mask over one of two
 * loaded tokens (a short one and one of MOAT_TOKEN_MAX_LEN bytes), so inputs
 * near the secret are reached. The parser must only accept "Bearer" SP+ token68
 * with OWS around, pointing inside the header; verify must say 1 exactly when
 * the presented bytes equal the token. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moat/hdr.h"
#include "moat/token.h"

#include "fuzz_common.h"

#define FZ_MAX_INPUT (2 * MOAT_TOKEN_MAX_LEN + 64)

/* The two tokens, as text, and loaded. */
static char fz_short[] = "Kq7Wf3kP9mR2vX8yB4nH6sJ1tL5cD0gA-._~+/Z==";
static char fz_long[MOAT_TOKEN_MAX_LEN + 1];
static struct moat_token *fz_tok[2];

/* Loads text through the environment (a private envp: the process's is left alone). */
static struct moat_token *fz_load(const char *text)
{
    static char entry[MOAT_TOKEN_MAX_LEN + 64];
    char *envp[2] = {entry, NULL};
    struct moat_token *t = NULL;
    char err[256];

    snprintf(entry, sizeof(entry), "%s=%s", MOAT_TOKEN_ENV, text);
    FZ_CHECK(moat_token_load(&t, "", envp, err, sizeof(err)) == 0 && t != NULL);
    FZ_CHECK(envp[0] == NULL); /* scrubbed from the array */
    return t;
}

static void fz_setup(void)
{
    size_t i;

    if (fz_tok[0] != NULL)
        return;
    for (i = 0; i < MOAT_TOKEN_MAX_LEN; i++)
        fz_long[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/"[i % 68];
    fz_long[MOAT_TOKEN_MAX_LEN] = '\0';
    fz_tok[0] = fz_load(fz_short);
    fz_tok[1] = fz_load(fz_long);
}

static int fz_token68_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~+/", c) != NULL);
}

/* Checks one parse_bearer call on h[0..len) against the grammar. */
static void fz_check_bearer(const char *h, size_t len)
{
    const char *tok = (const char *)1;
    size_t tok_len = 99;
    size_t a = 0;
    size_t b = len;
    size_t off;
    size_t i;
    size_t body;
    int rc = moat_token_parse_bearer(h, len, &tok, &tok_len);

    FZ_CHECK(rc == 0 || rc == -1);
    if (rc != 0) {
        FZ_CHECK(tok == NULL && tok_len == 0);
        return;
    }
    FZ_CHECK(tok != NULL && tok_len > 0 && tok >= h && tok + tok_len <= h + len);
    /* [OWS] "Bearer" 1*SP token68 [OWS], nothing else */
    while (a < b && fz_ows(h[a]))
        a++;
    while (b > a && fz_ows(h[b - 1]))
        b--;
    FZ_CHECK(b - a > 7 && moat_hdr_eq_ci(h + a, 6, "Bearer"));
    off = (size_t)(tok - h);
    FZ_CHECK(off > a + 6 && off + tok_len == b);
    for (i = a + 6; i < off; i++)
        FZ_CHECK(h[i] == ' ');
    for (body = 0; body < tok_len && fz_token68_char((unsigned char)tok[body]); body++)
        ;
    FZ_CHECK(body > 0);
    for (i = body; i < tok_len; i++)
        FZ_CHECK(tok[i] == '=');
}

/* verify must match exactly the loaded bytes. */
static void fz_check_verify(const char *p, size_t len)
{
    size_t short_len = sizeof(fz_short) - 1;
    int want0 = len == short_len && memcmp(p, fz_short, len) == 0;
    int want1 = len == MOAT_TOKEN_MAX_LEN && memcmp(p, fz_long, len) == 0;

    FZ_CHECK(moat_token_verify(fz_tok[0], p, len) == want0);
    FZ_CHECK(moat_token_verify(fz_tok[1], p, len) == want1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[FZ_MAX_INPUT + 16];
    static char hdr[FZ_MAX_INPUT + 16];
    const char *tok;
    size_t tok_len;
    size_t len;
    size_t i;
    uint8_t flags;

    fz_setup();
    if (size < 1)
        return 0;
    flags = data[0];
    len = size - 1 > FZ_MAX_INPUT ? FZ_MAX_INPUT : size - 1;
    memcpy(buf, data + 1, len);

    fz_check_bearer(buf, len);
    if (flags & 1) {
        /* XOR over a token: a zero mask of the right length is the token itself;
         * flag bit 2 lengthens the long one by a byte (overlong never matches). */
        const char *t = (flags & 2) ? fz_long : fz_short;
        size_t tlen = strlen(t);
        size_t n = (flags & 4) && t == fz_long ? tlen + 1 : tlen;

        for (i = 0; i < n; i++)
            buf[i] = (char)((i < tlen ? t[i] : 'x') ^ (i < len ? buf[i] : 0));
        len = n;
    }
    fz_check_verify(buf, len);

    /* Round trip: what the parser returns, presented as a header again, parses back. */
    if (len <= FZ_MAX_INPUT - 16) {
        size_t hl = (size_t)snprintf(hdr, sizeof(hdr), "%sBEARER %s", (flags & 8) ? "\t " : "",
                                     (flags & 16) ? "  " : "");

        memcpy(hdr + hl, buf, len);
        fz_check_bearer(hdr, hl + len);
        if (moat_token_parse_bearer(hdr, hl + len, &tok, &tok_len) == 0) {
            FZ_CHECK(tok == hdr + hl || tok > hdr + hl); /* leading SPs of buf are skipped */
            fz_check_verify(tok, tok_len);
        }
    }
    FZ_CHECK(moat_token_verify(fz_tok[0], NULL, 0) == 0);
    return 0;
}
