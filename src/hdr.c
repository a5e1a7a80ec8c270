/* hdr.c - small helpers over borrowed header views (RFC 9110 tokens and values). */
#include "moat/hdr.h"

#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int moat_hdr_is_token(const char *s, size_t len)
{
    size_t i;

    if (len == 0)
        return 0;
    for (i = 0; i < len; i++)
        if (!is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

int moat_hdr_value_ok(const char *s, size_t len)
{
    size_t i;

    if (len > 0 && (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\t' || c == ' ' || (c > 0x20 && c != 0x7f))
            continue;
        return 0;
    }
    return 1;
}

int moat_hdr_mem_eq_ci(const char *a, size_t alen, const char *b, size_t blen)
{
    /* strncasecmp is ASCII-only here: moat never leaves the C locale. */
    return alen == blen && (alen == 0 || strncasecmp(a, b, alen) == 0);
}

int moat_hdr_eq_ci(const char *s, size_t len, const char *lit)
{
    return moat_hdr_mem_eq_ci(s, len, lit, strlen(lit));
}

int moat_hdr_name_is(const struct moat_hdr *h, const char *lit)
{
    return moat_hdr_eq_ci(h->name, h->name_len, lit);
}
