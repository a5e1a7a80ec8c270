/* procstat.c - process_* figures: pure /proc text parsers and the reader doing the I/O. */
#include "moat/procstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define STAT_MAX (4u << 20) /* largest /proc file read (the intr line can be long) */

/* Tokens after the ")" closing the command name in /proc/<pid>/stat: token 0 is
 * field 3 (state), so field f is token f - 3. */
#define TOK_UTIME 11     /* field 14 */
#define TOK_STIME 12     /* field 15 */
#define TOK_STARTTIME 19 /* field 22 */
#define TOK_RSS 21       /* field 24 */

/* Parses [p, end) as a decimal unsigned number. Returns 0, or -1 when empty,
 * not all digits or over UINT64_MAX. */
static int parse_u64(const char *p, const char *end, uint64_t *v)
{
    uint64_t n = 0;
    unsigned d;

    if (p == end)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    *v = n;
    return 0;
}

int moat_procstat_parse_btime(const char *text, size_t len, uint64_t *btime)
{
    static const char key[] = "btime ";
    const char *p = text;
    const char *end = text + len;
    const char *eol;
    const char *num;

    if (text == NULL || btime == NULL)
        return -1;
    while (p < end) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) > sizeof(key) - 1 && memcmp(p, key, sizeof(key) - 1) == 0) {
            num = p + sizeof(key) - 1;
            while (num < eol && *num == ' ')
                num++;
            return parse_u64(num, eol, btime);
        }
        p = eol + 1;
    }
    return -1;
}

int moat_procstat_parse_stat(const char *text, size_t len, const struct moat_procstat_sys *sys,
                             struct moat_procstat *out)
{
    uint64_t utime = 0, stime = 0, start = 0, rss = 0;
    const char *p = NULL;
    const char *end = text + len;
    const char *tok;
    uint64_t *want;
    unsigned k;
    size_t i;

    if (text == NULL || sys == NULL || out == NULL || sys->clk_tck <= 0 || sys->page_size <= 0)
        return -1;
    /* The command name may contain ')' itself: the last one closes it. */
    for (i = len; i > 0; i--) {
        if (text[i - 1] == ')') {
            p = text + i;
            break;
        }
    }
    if (p == NULL)
        return -1;
    for (k = 0; k <= TOK_RSS; k++) {
        while (p < end && *p == ' ')
            p++;
        tok = p;
        while (p < end && *p != ' ' && *p != '\n')
            p++;
        if (tok == p)
            return -1;
        want = k == TOK_UTIME       ? &utime
               : k == TOK_STIME     ? &stime
               : k == TOK_STARTTIME ? &start
               : k == TOK_RSS       ? &rss
                                    : NULL;
        if (want != NULL && parse_u64(tok, p, want) != 0)
            return -1;
    }
    out->cpu_seconds = (double)(utime + stime) / (double)sys->clk_tck;
    out->resident_bytes = rss * (uint64_t)sys->page_size;
    out->have |= MOAT_PROC_CPU | MOAT_PROC_RSS;
    if (sys->btime != 0) {
        out->start_time = (double)sys->btime + (double)start / (double)sys->clk_tck;
        out->have |= MOAT_PROC_START;
    }
    return 0;
}

/* Reads a whole (proc) file into a malloc'd, NUL-terminated buffer the caller
 * frees. Returns 0, or -1 on an I/O error or when it exceeds STAT_MAX. */
static int slurp(const char *path, char **out, size_t *len)
{
    size_t cap = 4096;
    size_t n = 0;
    char *buf = NULL;
    char *grown;
    ssize_t r;
    int fd;
    int rc = -1;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    buf = malloc(cap);
    if (buf == NULL)
        goto out;
    for (;;) {
        if (n + 1 >= cap) {
            if (cap >= STAT_MAX)
                goto out;
            grown = realloc(buf, cap * 2);
            if (grown == NULL)
                goto out;
            buf = grown;
            cap *= 2;
        }
        r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

/* Counts /proc/self/fd entries, minus the descriptor the listing itself uses. */
static int count_fds(uint64_t *n)
{
    struct dirent *de;
    uint64_t c = 0;
    DIR *d;

    d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    for (;;) {
        de = readdir(d);
        if (de == NULL)
            break;
        if (de->d_name[0] != '.')
            c++;
    }
    closedir(d);
    *n = c > 0 ? c - 1 : 0;
    return 0;
}

int moat_procstat_read(struct moat_procstat *out)
{
    struct moat_procstat_sys sys = {0, 0, 0};
    struct rlimit rl;
    char *text = NULL;
    size_t len = 0;
    int rc = 0;

    if (out == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    sys.clk_tck = sysconf(_SC_CLK_TCK);
    sys.page_size = sysconf(_SC_PAGESIZE);
    if (slurp("/proc/stat", &text, &len) != 0 ||
        moat_procstat_parse_btime(text, len, &sys.btime) != 0) {
        sys.btime = 0;
        rc = -1;
    }
    free(text);
    text = NULL;
    if (slurp("/proc/self/stat", &text, &len) != 0 ||
        moat_procstat_parse_stat(text, len, &sys, out) != 0)
        rc = -1;
    free(text);
    if (count_fds(&out->open_fds) == 0)
        out->have |= MOAT_PROC_FDS;
    else
        rc = -1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        out->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
        out->have |= MOAT_PROC_MAXFD;
    } else {
        rc = -1;
    }
    if ((out->have & MOAT_PROC_START) == 0)
        rc = -1;
    return rc;
}
