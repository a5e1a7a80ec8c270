/* fuzz_log.c - libFuzzer target: JSON log lines (log.h) carrying attacker-controlled strings
 * (paths, Host values, user agents, app errors).
 *
 * Input: one flag byte, then NUL-separated chunks used as key, value pairs.
 * moat_json_escape must give printable ASCII that decodes back to a prefix of
 * its input (all of it when the buffer is large enough), cut only between
 * escapes; a line built from any fields, however long, must be exactly one
 * JSON object of printable ASCII on one line, at most the buffer's size. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "moat/hdr.h"
#include "moat/log.h"

#include "fuzz_common.h"

#define FZ_MAX_INPUT 16384
#define FZ_MAX_FIELDS 64

static int fz_fd = -1;

/* Decodes one JSON string body from *p (up to the closing quote, which it
 * skips) into out (may be NULL); returns its length or -1 when malformed. */
static long fz_json_string(const char **p, const char *end, char *out)
{
    const char *s = *p;
    long n = 0;

    while (s < end && *s != '"') {
        unsigned char c = (unsigned char)*s;
        char v = (char)c;

        if (c < 0x20 || c >= 0x7f)
            return -1;
        if (c == '\\') {
            if (end - s < 2)
                return -1;
            switch (s[1]) {
            case '"':
            case '\\':
            case '/':
                v = s[1];
                s += 2;
                break;
            case 'n':
                v = '\n';
                s += 2;
                break;
            case 'r':
                v = '\r';
                s += 2;
                break;
            case 't':
                v = '\t';
                s += 2;
                break;
            case 'b':
                v = '\b';
                s += 2;
                break;
            case 'f':
                v = '\f';
                s += 2;
                break;
            case 'u':
                if (end - s < 6 || moat_hdr_hex_value(s[2]) != 0 || moat_hdr_hex_value(s[3]) != 0 ||
                    moat_hdr_hex_value(s[4]) < 0 || moat_hdr_hex_value(s[5]) < 0)
                    return -1; /* moat only writes \u00XX */
                v = (char)(moat_hdr_hex_value(s[4]) * 16 + moat_hdr_hex_value(s[5]));
                s += 6;
                break;
            default:
                return -1;
            }
        } else {
            s++;
        }
        if (out != NULL)
            out[n] = v;
        n++;
    }
    if (s >= end)
        return -1;
    *p = s + 1;
    return n;
}

/* Checks that buf[0..len) is exactly one flat JSON object and "\n". */
static void fz_check_line(const char *buf, size_t len)
{
    const char *p = buf;
    const char *end = buf + len - 1;
    int first = 1;

    FZ_CHECK(len >= 3 && len <= sizeof(((struct moat_logline *)0)->buf));
    FZ_CHECK(buf[len - 1] == '\n' && memchr(buf, '\n', len - 1) == NULL);
    FZ_CHECK(*p++ == '{');
    while (p < end && *p != '}') {
        if (!first)
            FZ_CHECK(*p++ == ',');
        first = 0;
        FZ_CHECK(p < end && *p++ == '"');
        FZ_CHECK(fz_json_string(&p, end, NULL) >= 0);
        FZ_CHECK(p < end && *p++ == ':');
        FZ_CHECK(p < end);
        if (*p == '"') {
            p++;
            FZ_CHECK(fz_json_string(&p, end, NULL) >= 0);
        } else if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            p += 4;
        } else if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            p += 4;
        } else if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            p += 5;
        } else {
            size_t n = strspn(p, "-0123456789.");

            FZ_CHECK(n > 0 && (p[0] == '-' || (p[0] >= '0' && p[0] <= '9')));

            FZ_CHECK(n > 0 && p + n <= end);
            p += n;
        }
    }
    FZ_CHECK(p == end - 1 && *p == '}');
}

/* Escapes s[0..len) into a buffer of cap bytes and checks the result. */
static void fz_check_escape(const char *s, size_t len, size_t cap)
{
    char *out = malloc(cap + 1);
    char *back = malloc(len + 1);
    const char *p;
    size_t n;
    long m;

    FZ_CHECK(out != NULL && back != NULL);
    out[cap] = 'G';
    n = moat_json_escape(out, cap, s, len);
    FZ_CHECK(out[cap] == 'G');
    if (cap == 0) {
        FZ_CHECK(n == 0);
        goto done;
    }
    FZ_CHECK(n < cap && out[n] == '\0' && strlen(out) == n);
    out[n] = '"'; /* a closing quote for the decoder */
    p = out;
    m = fz_json_string(&p, out + n + 1, back);
    FZ_CHECK(m >= 0 && (size_t)m <= len && p == out + n + 1);
    FZ_CHECK(memcmp(back, s, (size_t)m) == 0);
    if (cap > 6 * len)
        FZ_CHECK((size_t)m == len); /* room for the worst case: nothing cut */
done:
    free(out);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char in[FZ_MAX_INPUT + 1];
    static char line[2 * sizeof(((struct moat_logline *)0)->buf)];
    struct moat_logline l;
    const char *chunk[FZ_MAX_FIELDS];
    size_t chunk_len[FZ_MAX_FIELDS];
    size_t n = 0;
    size_t len;
    size_t pos = 0;
    size_t i;
    ssize_t got;
    uint8_t flags;

    if (fz_fd < 0) {
        fz_fd = memfd_create("fuzz_log", MFD_CLOEXEC);
        FZ_CHECK(fz_fd >= 0);
        moat_log_setup(MOAT_LOG_DEBUG, fz_fd);
    }
    if (size < 1)
        return 0;
    flags = data[0];
    len = size - 1 > FZ_MAX_INPUT ? FZ_MAX_INPUT : size - 1;
    memcpy(in, data + 1, len);
    in[len] = '\0';
    while (pos <= len && n < FZ_MAX_FIELDS) {
        size_t l0 = strnlen(in + pos, len - pos);

        chunk[n] = in + pos;
        chunk_len[n++] = l0;
        pos += l0 + 1;
    }

    fz_check_escape(in, len, (size_t)flags * 7 % 97);
    fz_check_escape(in, len, 6 * len + 7);

    FZ_CHECK(ftruncate(fz_fd, 0) == 0 && lseek(fz_fd, 0, SEEK_SET) == 0);
    moat_logline_begin(&l, (enum moat_log_level)(flags & 3), n > 0 ? chunk[0] : "event");
    for (i = 1; i + 1 < n; i += 2) {
        switch ((chunk_len[i] + flags) % 5) {
        case 0:
            moat_logline_strn(&l, chunk[i], chunk[i + 1], chunk_len[i + 1]);
            break;
        case 1:
            moat_logline_str(&l, chunk[i], (flags & 4) ? NULL : chunk[i + 1]);
            break;
        case 2:
            moat_logline_int(&l, chunk[i], (long long)strtoull(chunk[i + 1], NULL, 10) - 7);
            break;
        case 3: {
            /* any double, NaN and infinities included, from the value's first bytes */
            double d = (double)chunk_len[i + 1] / 7.0 - 3.0;

            if (chunk_len[i + 1] >= sizeof(d))
                memcpy(&d, chunk[i + 1], sizeof(d));
            moat_logline_double(&l, chunk[i], d);
            break;
        }
        default:
            moat_logline_bool(&l, chunk[i], (int)chunk_len[i + 1] & 1);
            break;
        }
    }
    moat_logline_end(&l);
    FZ_CHECK(lseek(fz_fd, 0, SEEK_SET) == 0);
    got = read(fz_fd, line, sizeof(line));
    FZ_CHECK(got > 0);
    fz_check_line(line, (size_t)got);
    return 0;
}
