/* log.c - JSON-lines logger: events and access log on stderr. */
#include "moat/log.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_min_level = MOAT_LOG_INFO;
static atomic_int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void moat_log_setup(enum moat_log_level min_level, int fd)
{
    atomic_store(&log_min_level, (int)min_level);
    atomic_store(&log_fd, fd);
}

int moat_log_level_parse(const char *s, enum moat_log_level *out)
{
    int rc = -1;
    int i;

    for (i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum moat_log_level)i;
            rc = 0;
            break;
        }
    }
    return rc;
}

int moat_log_enabled(enum moat_log_level level)
{
    return (int)level >= atomic_load(&log_min_level);
}

size_t moat_json_escape(char *out, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    size_t i;

    if (cap == 0)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t n;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            n = 2;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2);
            n = 2;
        } else if (c == '\r') {
            memcpy(esc, "\\r", 2);
            n = 2;
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2);
            n = 2;
        } else if (c < 0x20 || c == 0x7f || c >= 0x80) {
            /* Non-ASCII is escaped byte-wise so the line stays valid JSON
             * whatever a client sent (invalid UTF-8 included). */
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        } else {
            esc[0] = (char)c;
            n = 1;
        }
        if (o + n >= cap)
            break;
        memcpy(out + o, esc, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}

static void line_append(struct moat_logline *l, const char *s, size_t n)
{
    if (l->len + n + 2 >= sizeof(l->buf)) {
        l->truncated = 1;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void line_key(struct moat_logline *l, const char *key)
{
    char tmp[160];
    size_t n;

    tmp[0] = ',';
    tmp[1] = '"';
    n = 2 + moat_json_escape(tmp + 2, sizeof(tmp) - 5, key, strlen(key));
    tmp[n++] = '"';
    tmp[n++] = ':';
    line_append(l, tmp, n);
}

void moat_logline_begin(struct moat_logline *l, enum moat_log_level level, const char *event)
{
    struct timespec ts;
    struct tm tm;
    char tbuf[64];
    int n;

    l->len = 0;
    l->truncated = 0;
    l->level = (int)level;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(tbuf, sizeof(tbuf), "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000L);
    line_append(l, tbuf, (size_t)n);
    moat_logline_str(l, "level", level_names[level < 4 ? level : 3]);
    moat_logline_str(l, "event", event);
}

void moat_logline_strn(struct moat_logline *l, const char *key, const char *value, size_t len)
{
    char tmp[2048];
    size_t n;
    size_t save = l->len;

    line_key(l, key);
    if (value == NULL) {
        line_append(l, "null", 4);
    } else {
        tmp[0] = '"';
        n = 1 + moat_json_escape(tmp + 1, sizeof(tmp) - 2, value, len);
        tmp[n++] = '"';
        line_append(l, tmp, n);
    }
    if (l->truncated)
        l->len = save;
}

void moat_logline_str(struct moat_logline *l, const char *key, const char *value)
{
    moat_logline_strn(l, key, value, value ? strlen(value) : 0);
}

void moat_logline_int(struct moat_logline *l, const char *key, long long value)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%lld", value);
    size_t save = l->len;

    line_key(l, key);
    line_append(l, tmp, (size_t)n);
    if (l->truncated)
        l->len = save;
}

void moat_logline_double(struct moat_logline *l, const char *key, double value)
{
    /* Room for any finite double in %.6f (DBL_MAX has 309 digits); NaN and
     * the infinities have no JSON number, so they are written as null. */
    char tmp[DBL_MAX_10_EXP + 16];
    int n = isfinite(value) ? snprintf(tmp, sizeof(tmp), "%.6f", value) : -1;
    size_t save = l->len;

    if (n <= 0 || (size_t)n >= sizeof(tmp))
        n = snprintf(tmp, sizeof(tmp), "null");
    line_key(l, key);
    line_append(l, tmp, (size_t)n);
    if (l->truncated)
        l->len = save;
}

void moat_logline_bool(struct moat_logline *l, const char *key, int value)
{
    size_t save = l->len;

    line_key(l, key);
    line_append(l, value ? "true" : "false", value ? 4 : 5);
    if (l->truncated)
        l->len = save;
}

void moat_logline_end(struct moat_logline *l)
{
    ssize_t w;
    size_t off = 0;

    if (!moat_log_enabled((enum moat_log_level)l->level))
        return;
    if (l->truncated) {
        l->truncated = 0;
        moat_logline_bool(l, "truncated", 1);
    }
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    while (off < l->len) {
        w = write(atomic_load(&log_fd), l->buf + off, l->len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}

void moat_log(enum moat_log_level level, const char *event, const char *fmt, ...)
{
    struct moat_logline l;
    char msg[1024];
    va_list ap;

    if (!moat_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    moat_logline_begin(&l, level, event);
    moat_logline_str(&l, "msg", msg);
    moat_logline_end(&l);
}

void moat_log_vdebug_line(const char *event, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    if (!moat_log_enabled(MOAT_LOG_DEBUG))
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    moat_log(MOAT_LOG_DEBUG, event, "%s", msg);
}

void moat_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void moat_log_target(const char *target, int with_query, char *out, size_t cap)
{
    size_t n = strlen(target);
    const char *q = strchr(target, '?');

    if (cap == 0)
        return;
    if (!with_query && q != NULL)
        n = (size_t)(q - target);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, target, n);
    out[n] = '\0';
}
