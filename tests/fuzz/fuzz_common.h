/* fuzz_common.h - what the libFuzzer targets in tests/fuzz/ share: the entry point's prototype,
 * the invariant check that stops a run, and the split of a "name:value" input line into a
 * header field. Header only (static inline): each target is one executable of its own. */
#ifndef MOAT_FUZZ_COMMON_H
#define MOAT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moat/hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run: an invariant of the code under test was broken. */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* Optional whitespace of a field value (RFC 9110 OWS). */
static inline int fz_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Splits "name:value" (or a bare name: empty value) into a field, OWS around the value trimmed
 * (as MHD and http1 do). h borrows line. */
static inline void fz_field(char *line, size_t len, struct moat_hdr *h)
{
    char *colon = memchr(line, ':', len);
    size_t vs;
    size_t ve = len;

    h->name = line;
    h->name_len = colon != NULL ? (size_t)(colon - line) : len;
    vs = colon != NULL ? h->name_len + 1 : len;
    while (vs < ve && fz_ows(line[vs]))
        vs++;
    while (ve > vs && fz_ows(line[ve - 1]))
        ve--;
    h->value = line + vs;
    h->value_len = ve - vs;
}

#endif
