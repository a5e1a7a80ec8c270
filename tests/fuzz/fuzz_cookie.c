/* fuzz_cookie.c - libFuzzer target: Set-Cookie hardening (cookie.h) never weakens, never
 * overflows, always yields a valid field value from a valid one, and is idempotent.
 *
 * Input: one flag byte (policy: secure, httponly, samesite, a script-readable
 * list), one byte of cap shortening, then the Set-Cookie value; with flag 0x10
 * the value is split at its first LF: the script-readable list, then the value. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moat/cookie.h"
#include "moat/hdr.h"

#include "fuzz_common.h"

#define FZ_MAX_INPUT 4096
#define FZ_GUARD 'G'

/* Hardens v[0..len) under p into a fresh buffer of exactly cap bytes plus a
 * guard; checks the return contract. Returns the rc; *out is malloc'd. */
static enum moat_cookie_rc fz_harden(const char *v, size_t len, const struct moat_cookie_policy *p,
                                     size_t cap, char **out, size_t *out_len, int *changed)
{
    char *buf = malloc(cap + 1);
    enum moat_cookie_rc rc;

    FZ_CHECK(buf != NULL);
    memset(buf, FZ_GUARD, cap + 1);
    *out_len = 12345;
    *changed = 7;
    rc = moat_cookie_harden(v, len, p, buf, cap, out_len, changed);
    FZ_CHECK(buf[cap] == FZ_GUARD);
    switch (rc) {
    case MOAT_COOKIE_OK:
        FZ_CHECK(*out_len < cap && buf[*out_len] == '\0');
        FZ_CHECK(strlen(buf) == *out_len); /* no NUL inside: controls are malformed */
        FZ_CHECK(*changed == 0 || *changed == 1);
        FZ_CHECK(*changed == !(*out_len == len && memcmp(buf, v, len) == 0));
        FZ_CHECK(*out_len <= len + MOAT_COOKIE_GROWTH);
        break;
    case MOAT_COOKIE_MALFORMED: {
        size_t i;

        for (i = 0; i < cap; i++) /* out untouched */
            FZ_CHECK(buf[i] == FZ_GUARD);
        FZ_CHECK(*changed == 0);
        break;
    }
    case MOAT_COOKIE_ERROR:
        FZ_CHECK(*out_len == 0 && *changed == 0);
        break;
    default:
        FZ_CHECK(0);
    }
    *out = buf;
    return rc;
}

/* True when harden(v) under p is OK and changes nothing. */
static int fz_unchanged(const char *v, size_t len, const struct moat_cookie_policy *p)
{
    size_t cap = len + MOAT_COOKIE_GROWTH + 1;
    size_t n;
    int changed;
    char *out;
    enum moat_cookie_rc rc = fz_harden(v, len, p, cap, &out, &n, &changed);

    free(out);
    return rc == MOAT_COOKIE_OK && changed == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[FZ_MAX_INPUT + 1];
    struct moat_cookie_policy pol;
    struct moat_cookie_policy one[3];
    const char *v;
    char *out;
    char *again;
    size_t len;
    size_t vlen;
    size_t cap;
    size_t out_len;
    size_t again_len;
    size_t i;
    int changed;
    int again_changed;
    uint8_t flags;
    enum moat_cookie_rc rc;

    if (size < 2)
        return 0;
    flags = data[0];
    len = size - 2 > FZ_MAX_INPUT ? FZ_MAX_INPUT : size - 2;
    memcpy(in, data + 2, len);
    in[len] = '\0';

    moat_cookie_policy_defaults(&pol);
    pol.secure = flags & 1;
    pol.httponly = (flags >> 1) & 1;
    pol.samesite = (enum moat_cookie_samesite)(((flags >> 2) & 3) % 3);
    v = in;
    vlen = len;
    if (flags & 0x10) {
        char *lf = memchr(in, '\n', len);

        if (lf != NULL) {
            *lf = '\0';
            pol.script_readable = in; /* may hold junk: harden must not care */
            v = lf + 1;
            vlen = len - (size_t)(v - in);
        }
    } else if (flags & 0x20) {
        pol.script_readable = " csrftoken,,XSRF-TOKEN\t__Host-id ";
        FZ_CHECK(moat_cookie_policy_check(&pol, NULL, 0) == 0);
    }

    /* The documented cap always suffices. */
    cap = vlen + MOAT_COOKIE_GROWTH + 1;
    rc = fz_harden(v, vlen, &pol, cap, &out, &out_len, &changed);
    FZ_CHECK(rc != MOAT_COOKIE_ERROR);
    if (rc != MOAT_COOKIE_OK) {
        free(out);
        return 0;
    }

    /* The cookie's name=value text is kept byte for byte. */
    {
        const char *semi = memchr(v, ';', vlen);
        size_t keep = semi != NULL ? (size_t)(semi - v) : vlen;

        while (keep > 0 && (v[keep - 1] == ' ' || v[keep - 1] == '\t'))
            keep--;
        FZ_CHECK(out_len >= keep && memcmp(out, v, keep) == 0);
    }

    /* A valid field value stays a valid field value. */
    if (moat_hdr_value_ok(v, vlen))
        FZ_CHECK(moat_hdr_value_ok(out, out_len));

    /* Idempotent: hardening the result again changes nothing. */
    FZ_CHECK(fz_unchanged(out, out_len, &pol));

    /* Each thing the policy asks for is there, and nothing the app had is lost:
     * under a policy asking one thing, the output needs nothing more, and an
     * input that needed nothing is left untouched. */
    for (i = 0; i < 3; i++) {
        one[i].secure = i == 0;
        one[i].httponly = i == 1;
        one[i].samesite = i == 2 ? MOAT_COOKIE_SAMESITE_LAX : MOAT_COOKIE_SAMESITE_OFF;
        one[i].script_readable = pol.script_readable;
    }
    if (pol.secure)
        FZ_CHECK(fz_unchanged(out, out_len, &one[0]));
    if (pol.httponly)
        FZ_CHECK(fz_unchanged(out, out_len, &one[1]));
    if (pol.samesite != MOAT_COOKIE_SAMESITE_OFF)
        FZ_CHECK(fz_unchanged(out, out_len, &one[2]));
    for (i = 0; i < 3; i++)
        if (fz_unchanged(v, vlen, &one[i]))
            FZ_CHECK(fz_unchanged(out, out_len, &one[i]));

    /* A shorter buffer: the same result when it fits, else an error, never a cut. */
    cap = (size_t)data[1] % (out_len + 2);
    if (fz_harden(v, vlen, &pol, cap, &again, &again_len, &again_changed) == MOAT_COOKIE_OK) {
        FZ_CHECK(cap > out_len && again_len == out_len && again_changed == changed);
        FZ_CHECK(memcmp(again, out, out_len) == 0);
    } else {
        FZ_CHECK(cap <= out_len);
    }
    free(again);
    free(out);
    return 0;
}
