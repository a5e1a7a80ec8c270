/* procstat.h - the standard process_* metrics: pure parsers over /proc text and
 * a thin reader that does the I/O (at scrape time, never on the request path). */
#ifndef MOAT_PROCSTAT_H
#define MOAT_PROCSTAT_H

#include <stddef.h>
#include <stdint.h>

/* Bits of moat_procstat.have: which fields hold a value. */
#define MOAT_PROC_CPU 0x01u   /* cpu_seconds */
#define MOAT_PROC_RSS 0x02u   /* resident_bytes */
#define MOAT_PROC_FDS 0x04u   /* open_fds */
#define MOAT_PROC_MAXFD 0x08u /* max_fds */
#define MOAT_PROC_START 0x10u /* start_time */

/* One reading of the process figures. */
struct moat_procstat {
    unsigned have;           /* MOAT_PROC_* bits of the valid fields below */
    double cpu_seconds;      /* user + system CPU time */
    uint64_t resident_bytes; /* resident set size */
    uint64_t open_fds;       /* open file descriptors */
    uint64_t max_fds;        /* RLIMIT_NOFILE soft limit (UINT64_MAX: unlimited) */
    double start_time;       /* process start, seconds since the Unix epoch */
};

/* System constants the parsers need (the reader takes them from sysconf). */
struct moat_procstat_sys {
    long clk_tck;   /* clock ticks per second (_SC_CLK_TCK), > 0 */
    long page_size; /* bytes per page (_SC_PAGESIZE), > 0 */
    uint64_t btime; /* boot time, seconds since the epoch (0: unknown) */
};

/* Parses the "btime N" line of /proc/stat (len bytes, need not be NUL-terminated).
 * Returns 0 with *btime set, or -1 when the line is missing or malformed. */
int moat_procstat_parse_btime(const char *text, size_t len, uint64_t *btime);

/* Parses /proc/<pid>/stat (len bytes, need not be NUL-terminated; the command
 * name may hold spaces and parentheses): sets cpu_seconds from utime + stime,
 * resident_bytes from rss, and start_time from starttime when sys->btime != 0,
 * with their bits in out->have (other fields untouched). Returns 0, or -1 when
 * the text is malformed or sys is invalid (out->have unchanged). */
int moat_procstat_parse_stat(const char *text, size_t len, const struct moat_procstat_sys *sys,
                             struct moat_procstat *out);

/* Reads this process's figures from /proc/self/stat, /proc/stat, /proc/self/fd
 * and getrlimit(). Fills what it can (out->have says what) and returns 0 when
 * everything was read, -1 when something was not (e.g. /proc not mounted or
 * hidden by the sandbox). */
int moat_procstat_read(struct moat_procstat *out);

#endif
