/* hdr.h - a borrowed view of one HTTP header field, shared by the pure modules.
 *
 * Ownership: a moat_hdr never owns its bytes; name and value point into a buffer
 * owned by whoever built the array (libmicrohttpd's connection pool, or the
 * upstream response buffer) and are valid only as long as that buffer is.
 * Strings are NOT necessarily NUL-terminated: always use the lengths. */
#ifndef MOAT_HDR_H
#define MOAT_HDR_H

#include <stddef.h>

struct moat_hdr {
    const char *name;  /* field name as received (case preserved) */
    size_t name_len;   /* bytes in name */
    const char *value; /* field value, leading/trailing OWS already trimmed */
    size_t value_len;  /* bytes in value (0 for an empty value) */
};

/* True when the header's name equals lit (ASCII case-insensitive). */
int moat_hdr_name_is(const struct moat_hdr *h, const char *lit);

/* True when s[0..len) is a non-empty RFC 9110 token. */
int moat_hdr_is_token(const char *s, size_t len);

/* True when s[0..len) is a valid field value: VCHAR, obs-text, SP and HTAB,
 * without leading or trailing whitespace. Empty is valid. */
int moat_hdr_value_ok(const char *s, size_t len);

/* The value of the hex digit c (either case), -1 when c is not one. */
int moat_hdr_hex_value(char c);

/* ASCII case-insensitive equality of two counted strings. */
int moat_hdr_mem_eq_ci(const char *a, size_t alen, const char *b, size_t blen);

/* ASCII case-insensitive compare of s[0..len) with the NUL-terminated lit. */
int moat_hdr_eq_ci(const char *s, size_t len, const char *lit);

/* Walks the NUL-terminated list s of names separated by commas, spaces and
 * tabs (config values such as "a, b c"): returns the next name at or after
 * *pos, with its length in *len, and moves *pos past it; NULL at the end of
 * the list. The returned name points into s and is not NUL-terminated. */
const char *moat_hdr_list_next(const char *s, size_t *pos, size_t *len);

#endif
