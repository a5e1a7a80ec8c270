/* hdr.c - small helpers over borrowed header views (RFC 9110 tokens and values). */
#include "moat/hdr.h"

#include <string.h>

/* RFC 9110 tchar: ALPHA / DIGIT / "!#$%&'*+-.^_`|~". */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static int is_tchar(unsigned char c)
{
    return tchar[c];
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

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

int moat_hdr_hex_value(char c)
{
    int v = -1;

    if (c >= '0' && c <= '9')
        v = c - '0';
    else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10;
    return v;
}

int moat_hdr_mem_eq_ci(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i = 0;

    if (alen != blen)
        return 0;
    while (i < alen && lower((unsigned char)a[i]) == lower((unsigned char)b[i]))
        i++;
    return i == alen;
}

int moat_hdr_eq_ci(const char *s, size_t len, const char *lit)
{
    return moat_hdr_mem_eq_ci(s, len, lit, strlen(lit));
}

int moat_hdr_name_is(const struct moat_hdr *h, const char *lit)
{
    return moat_hdr_eq_ci(h->name, h->name_len, lit);
}

const char *moat_hdr_list_next(const char *s, size_t *pos, size_t *len)
{
    const char *item = NULL;
    size_t i = *pos + strspn(s + *pos, ", \t");

    *len = strcspn(s + i, ", \t");
    if (*len > 0)
        item = s + i;
    *pos = i + *len;
    return item;
}
