/* fuzz_http1.c - libFuzzer target for the response head parser and the chunked decoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moat/hdr.h"
#include "moat/http1.h"

/* Input: byte 0 = flags (bit 0: HEAD request), byte 1 = split seed, rest = upstream bytes. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Outcome of decoding one body, compared between feeding strategies. */
struct decode_result {
    int rc;          /* final moat_chunked_rc */
    size_t used;     /* input consumed in total */
    size_t out_len;  /* payload bytes produced */
    const char *why; /* reason on error */
};

static void check(int cond)
{
    if (!cond)
        abort();
}

/* Checks the invariants of one parse_response result on buf[0..len). */
static void check_head(const char *buf, size_t len, int head_request)
{
    struct moat_http1_resp r;
    size_t head_len = 0, i;
    const char *why = NULL;
    int rc;

    rc = moat_http1_parse_response(buf, len, head_request, &r, &head_len, &why);
    if (rc != MOAT_HTTP1_DONE) {
        check(rc == MOAT_HTTP1_PARTIAL || rc == MOAT_HTTP1_ERROR);
        check((rc == MOAT_HTTP1_ERROR) == (why != NULL));
        return;
    }
    check(why == NULL && head_len > 0 && head_len <= len);
    check(r.status >= 100 && r.status <= 599 && (r.minor == 0 || r.minor == 1));
    check(r.n_hdrs <= MOAT_HTTP1_MAX_HDRS);
    check(r.reason >= buf && r.reason + r.reason_len <= buf + head_len);
    for (i = 0; i < r.n_hdrs; i++) {
        const struct moat_hdr *h = &r.hdrs[i];

        check(h->name >= buf && h->name + h->name_len <= buf + head_len);
        check(h->value >= buf && h->value + h->value_len <= buf + head_len);
        check(moat_hdr_is_token(h->name, h->name_len));
        check(moat_hdr_value_ok(h->value, h->value_len));
    }
    check(r.framing >= MOAT_FRAME_NONE && r.framing <= MOAT_FRAME_CLOSE);
    check(r.framing == MOAT_FRAME_LENGTH || r.content_length == 0);
    check(r.framing != MOAT_FRAME_CLOSE || r.keep_alive == 0);
    check(r.content_length <= (uint64_t)INT64_MAX);

    /* The head alone parses the same; one byte less is not complete. */
    rc = moat_http1_parse_response(buf, head_len, head_request, &r, &i, &why);
    check(rc == MOAT_HTTP1_DONE && i == head_len);
    rc = moat_http1_parse_response(buf, head_len - 1, head_request, &r, &i, &why);
    check(rc == MOAT_HTTP1_PARTIAL);
}

/* Decodes in[0..len) into out in one call, or in place in pieces when seed is non-zero. */
static struct decode_result decode(const char *in, size_t len, char *out, unsigned seed)
{
    struct moat_chunked c;
    struct decode_result res = {MOAT_CHUNKED_MORE, 0, 0, NULL};
    char *work = malloc(len + 1);

    check(work != NULL);
    memcpy(work, in, len);
    memset(&c, 0, sizeof(c));
    do {
        size_t piece = len - res.used, used = 0, produced = 0;
        char *dst = seed == 0 ? out + res.out_len : work + res.out_len;

        if (seed != 0) {
            seed = seed * 1103515245u + 12345u;
            if (piece > 0)
                piece = ((seed >> 16) & 0x7fff) % (piece < 64 ? piece + 1 : 64);
        }
        res.rc = moat_chunked_decode(&c, work + res.used, piece, dst, &produced, &used, &res.why);
        check(used <= piece && produced <= used);
        check(res.rc != MOAT_CHUNKED_MORE || used == piece);
        check((res.rc == MOAT_CHUNKED_ERROR) == (res.why != NULL));
        res.used += used;
        res.out_len += produced;
    } while (res.rc == MOAT_CHUNKED_MORE && res.used < len);
    if (seed != 0)
        memcpy(out, work, res.out_len);
    free(work);
    return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *msg;
    size_t len, body_off = 0, head_len = 0;
    struct moat_http1_resp r;
    struct decode_result whole, split;
    const char *why = NULL;
    char *out_a, *out_b;
    int head_request;

    if (size < 2)
        return 0;
    head_request = data[0] & 1;
    msg = (const char *)data + 2;
    len = size - 2;

    check_head(msg, len, head_request);
    if (moat_http1_parse_response(msg, len, head_request, &r, &head_len, &why) == MOAT_HTTP1_DONE)
        body_off = head_len;

    /* Whatever follows the head (or the whole input) as a chunked body, fed two ways. */
    out_a = malloc(len - body_off + 1);
    out_b = malloc(len - body_off + 1);
    check(out_a != NULL && out_b != NULL);
    whole = decode(msg + body_off, len - body_off, out_a, 0);
    split = decode(msg + body_off, len - body_off, out_b, (unsigned)data[1] + 1);
    check(whole.rc == split.rc && whole.out_len == split.out_len);
    check(memcmp(out_a, out_b, whole.out_len) == 0);
    if (whole.rc == MOAT_CHUNKED_ERROR)
        check(strcmp(whole.why, split.why) == 0);
    else
        check(whole.used == split.used);
    free(out_a);
    free(out_b);
    return 0;
}
