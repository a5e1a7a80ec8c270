/* secheaders_int.h - internals shared by the secheaders*.c files (not installed). */
#ifndef MOAT_SECHEADERS_INT_H
#define MOAT_SECHEADERS_INT_H

#include <stddef.h>
#include <strings.h>

#include "moat/secheaders.h"

#define MOAT_SECH_NONCE_TOKEN "'nonce-{nonce}'" /* the only place "{nonce}" may appear */
#define MOAT_SECH_NONCE_TOKEN_LEN 15
#define MOAT_SECH_NONCE_MARK "{nonce}"
#define MOAT_SECH_NONCE_MARK_LEN 7

/* The NUL-terminated text of a pool string (borrowed from p). */
static inline const char *moat_sech_str(const struct moat_secheaders *p, struct moat_sech_str s)
{
    return p->pool + s.off;
}

/* True when pool string s is set and equals x[0..n) (ASCII case-insensitive). */
static inline int moat_sech_str_is(const struct moat_secheaders *p, struct moat_sech_str s,
                                   const char *x, size_t n)
{
    return s.len > 0 && s.len == n && strncasecmp(moat_sech_str(p, s), x, n) == 0;
}

/* Managed id of a header name (not a key), or -1. */
int moat_sech_managed_id(const char *name, size_t len);

/* Index of the custom header called name in sc, or -1. */
int moat_sech_find_custom(const struct moat_secheaders *p, const struct moat_sech_scope *sc,
                          const char *name, size_t len);

#endif
