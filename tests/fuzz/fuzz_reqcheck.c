/* fuzz_reqcheck.c - libFuzzer target: request validation, then upstream framing of what passed.
 *
 * Input: one flag byte (version, trust, address family, proto, nonce), then lines split on LF:
 * method, target, then "name:value" header lines (value trimmed like MHD does).
 * Whatever reqcheck accepts must frame into a head with exactly one way to find
 * the body's end, one Host, no stray CR/LF, and must not fit one byte short. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "moat/fwd.h"
#include "moat/reqcheck.h"

#include "fuzz_common.h"

#define FZ_MAX_INPUT 8192
#define FZ_MAX_FIELDS 64
#define FZ_OUT_CAP 32768

/* True when value[0..len) is want, or ends with ", " + want. */
static int fz_ends_with_elem(const char *value, size_t len, const char *want)
{
    size_t wl = strlen(want);

    if (len == wl)
        return memcmp(value, want, wl) == 0;
    return len > wl + 2 && memcmp(value + len - wl - 2, ", ", 2) == 0 &&
           memcmp(value + len - wl, want, wl) == 0;
}

/* Checks the framed head: CRLF lines only, token names without '_', one Host,
 * framing as decided, exactly one of each forwarding field (the client's
 * element last in X-Forwarded-For, only ours from an untrusted client), one
 * request id, and the nonce header only when moat sends a nonce. */
static void fz_check_head(const char *out, size_t n, const struct moat_reqcheck_result *res,
                          const struct moat_fwd_input *in)
{
    const char *node = in->client_family == AF_UNIX ? "unknown" : in->client_ip;
    size_t i = 0;
    size_t line = 0;
    int hosts = 0;
    int cls = 0;
    int tes = 0;
    int ended = 0;
    int xff = 0;
    int xfp = 0;
    int xfh = 0;
    int fwd = 0;
    int rid = 0;
    int nonces = 0;

    while (i < n) {
        const char *cr = memchr(out + i, '\r', n - i);
        size_t end;
        size_t vs;
        size_t vlen;

        FZ_CHECK(cr != NULL);
        end = (size_t)(cr - out);
        FZ_CHECK(end + 1 < n && out[end + 1] == '\n');
        FZ_CHECK(memchr(out + i, '\n', end - i) == NULL);
        FZ_CHECK(!ended);
        if (end == i) {
            ended = 1; /* the empty line: must be the very end */
            FZ_CHECK(end + 2 == n);
        } else if (line > 0) {
            const char *colon = memchr(out + i, ':', end - i);
            size_t nlen;

            FZ_CHECK(colon != NULL);
            nlen = (size_t)(colon - (out + i));
            FZ_CHECK(moat_hdr_is_token(out + i, nlen));
            FZ_CHECK(end - i >= nlen + 2 && colon[1] == ' ');
            FZ_CHECK(memchr(out + i, '_', nlen) == NULL);
            vs = i + nlen + 2;
            vlen = end - vs;
            hosts += moat_hdr_eq_ci(out + i, nlen, "Host");
            cls += moat_hdr_eq_ci(out + i, nlen, "Content-Length");
            tes += moat_hdr_eq_ci(out + i, nlen, "Transfer-Encoding");
            rid += moat_hdr_eq_ci(out + i, nlen, in->request_id_header);
            if (in->nonce_header != NULL && moat_hdr_eq_ci(out + i, nlen, in->nonce_header)) {
                nonces++;
                FZ_CHECK(in->nonce != NULL && vlen == strlen(in->nonce) &&
                         memcmp(out + vs, in->nonce, vlen) == 0);
            }
            if (moat_hdr_eq_ci(out + i, nlen, "X-Forwarded-For")) {
                xff++;
                FZ_CHECK(fz_ends_with_elem(out + vs, vlen, node));
                FZ_CHECK(in->client_trusted || (vlen == strlen(node)));
            }
            if (moat_hdr_eq_ci(out + i, nlen, "X-Forwarded-Proto")) {
                xfp++;
                FZ_CHECK(in->client_trusted ||
                         (vlen == strlen(in->proto) && memcmp(out + vs, in->proto, vlen) == 0));
            }
            if (moat_hdr_eq_ci(out + i, nlen, "X-Forwarded-Host")) {
                xfh++;
                FZ_CHECK(in->client_trusted ||
                         (vlen == res->host_len && memcmp(out + vs, res->host, vlen) == 0));
            }
            if (moat_hdr_eq_ci(out + i, nlen, "Forwarded")) {
                fwd++;
                FZ_CHECK(in->client_trusted || (vlen > 4 && memcmp(out + vs, "for=", 4) == 0));
            }
        }
        line++;
        i = end + 2;
    }
    FZ_CHECK(ended);
    FZ_CHECK(hosts == 1);
    FZ_CHECK(cls == (res->body == MOAT_BODY_LENGTH));
    FZ_CHECK(tes == (res->body == MOAT_BODY_CHUNKED));
    FZ_CHECK(xff == 1 && xfp == 1 && xfh == 1 && fwd == 1 && rid == 1);
    FZ_CHECK(nonces == (in->nonce != NULL && in->nonce[0] != '\0'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct moat_reqcheck_limits lim = {32, 4096, 2048, 1 << 20};
    static const char *const versions[] = {"HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1"};
    static const int families[] = {AF_INET, AF_INET6, AF_UNIX, AF_INET};
    static const char *const ips[] = {"192.0.2.7", "2001:db8::7", NULL, "10.0.0.1"};
    static const unsigned char addr[16] = {192, 0, 2, 7};
    char buf[FZ_MAX_INPUT + 1];
    char *lines[2] = {NULL, NULL};
    struct moat_hdr hdrs[FZ_MAX_FIELDS];
    struct moat_req_view req;
    struct moat_reqcheck_result res;
    struct moat_fwd_input in;
    char rid[MOAT_REQUEST_ID_MAX + 1];
    char out[FZ_OUT_CAP];
    size_t nl = 0;
    size_t pos = 0;
    size_t len;
    uint8_t flags;
    long n;

    if (size < 1)
        return 0;
    flags = data[0];
    len = size - 1 > FZ_MAX_INPUT ? FZ_MAX_INPUT : size - 1;
    memcpy(buf, data + 1, len);
    buf[len] = '\0';

    memset(&req, 0, sizeof(req));
    req.hdrs = hdrs;
    while (pos <= len) {
        char *lf = memchr(buf + pos, '\n', len - pos);
        size_t end = lf != NULL ? (size_t)(lf - buf) : len;

        buf[end] = '\0';
        if (nl < 2)
            lines[nl] = buf + pos;
        else if (req.n_hdrs < FZ_MAX_FIELDS)
            fz_field(buf + pos, end - pos, &hdrs[req.n_hdrs++]);
        nl++;
        pos = end + 1;
    }
    req.method = lines[0];
    req.version = versions[flags & 3];
    req.target = lines[1] != NULL ? lines[1] : "";

    moat_reqcheck_run(&lim, &req, &res);
    FZ_CHECK(res.reason != NULL);
    if (res.status != 0)
        return 0;
    FZ_CHECK(res.path != NULL && res.path_len > 0);
    FZ_CHECK(moat_reqcheck_host_ok(res.host, res.host_len));
    FZ_CHECK(res.body != MOAT_BODY_LENGTH || res.content_length <= lim.max_body_bytes);

    memset(&in, 0, sizeof(in));
    in.method = req.method;
    in.check = &res;
    in.hdrs = req.hdrs;
    in.n_hdrs = req.n_hdrs;
    in.client_family = families[(flags >> 3) & 3];
    in.client_addr = in.client_family == AF_UNIX ? NULL : addr;
    in.client_ip = ips[(flags >> 3) & 3];
    in.client_trusted = (flags >> 2) & 1;
    in.proto = (flags & 0x20) ? "http" : "https";
    in.request_id_header = "X-Request-Id";
    moat_fwd_request_id(req.hdrs, req.n_hdrs, in.request_id_header, in.client_trusted, "gen-0001",
                        rid, sizeof(rid));
    in.request_id = rid;
    if (flags & 0x40) {
        /* the client's copies of the nonce header are dropped, moat's sent */
        in.nonce_header = "X-CSP-Nonce";
        in.nonce = (flags & 0x80) ? "bm9uY2Utbm9uY2Utbm9uY2U=" : NULL;
    }

    n = moat_fwd_build_head(&in, out, sizeof(out));
    FZ_CHECK(n > 0); /* validated input always frames */
    fz_check_head(out, (size_t)n, &res, &in);
    FZ_CHECK(moat_fwd_build_head(&in, out, (size_t)n - 1) == -1);
    return 0;
}
