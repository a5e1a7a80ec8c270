/* log.h - one JSON object a line on stderr: events and the access log.
 *
 * Every line has "time" (RFC 3339, UTC, milliseconds), "level" and "event".
 * Fields are added with a small builder so every string is JSON-escaped;
 * nothing here ever formats a secret: callers must not pass one.
 * Thread-safe: each line is written with a single write(2). */
#ifndef MOAT_LOG_H
#define MOAT_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum moat_log_level { MOAT_LOG_DEBUG = 0, MOAT_LOG_INFO, MOAT_LOG_WARN, MOAT_LOG_ERROR };

/* A line being built. Lives on the caller's stack; no allocation. A line that
 * would exceed the buffer is truncated at a field boundary and marked. */
struct moat_logline {
    char buf[4096]; /* the JSON text so far, without the closing brace */
    size_t len;     /* bytes used in buf */
    int truncated;  /* a field did not fit and was dropped */
    int level;      /* enum moat_log_level of this line */
};

/* Sets the minimum level written (default INFO) and the file descriptor (default 2). */
void moat_log_setup(enum moat_log_level min_level, int fd);

/* Parses "debug", "info", "warn", "error". Returns 0, or -1 when unknown. */
int moat_log_level_parse(const char *s, enum moat_log_level *out);

/* True when a line of this level would be written. */
int moat_log_enabled(enum moat_log_level level);

/* Starts a line with time, level and event. */
void moat_logline_begin(struct moat_logline *l, enum moat_log_level level, const char *event);
/* Adds "key":"escaped value". A NULL value is written as null. */
void moat_logline_str(struct moat_logline *l, const char *key, const char *value);
/* Adds "key":"escaped value" for a counted string. */
void moat_logline_strn(struct moat_logline *l, const char *key, const char *value, size_t len);
/* Adds "key":integer. */
void moat_logline_int(struct moat_logline *l, const char *key, long long value);
/* Adds "key":number with 6 decimals (durations in seconds); null for NaN or an infinity. */
void moat_logline_double(struct moat_logline *l, const char *key, double value);
/* Adds "key":true/false. */
void moat_logline_bool(struct moat_logline *l, const char *key, int value);
/* Closes the line and writes it (if the level is enabled). */
void moat_logline_end(struct moat_logline *l);

/* Shorthand: one event with a human message formatted from fmt ("msg" field). */
void moat_log(enum moat_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes a library's printf-style message (e.g. libmicrohttpd's error log) as a
 * debug event with trailing newlines removed. */
void moat_log_vdebug_line(const char *event, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Formats a one-line error message into err[0..errlen) (nothing when err is
 * NULL or errlen 0): the error-out convention of every module. */
void moat_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies a request target into out (cap bytes, NUL-terminated, truncated) for
 * an access log: without its query unless with_query (log.query). Pure. */
void moat_log_target(const char *target, int with_query, char *out, size_t cap);

/* Writes the JSON-escaped form of s[0..len) into out (NUL-terminated, truncated
 * to cap). Returns the number of bytes written, without the NUL. Pure. */
size_t moat_json_escape(char *out, size_t cap, const char *s, size_t len);

#endif
