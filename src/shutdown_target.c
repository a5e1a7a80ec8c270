/* shutdown_target.c - the emergency shutdown's I/O on processes: pidfd_open and
 * pidfd_send_signal through the raw system calls, liveness, reading a pidfile
 * and scanning /proc for a process by name. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "moat/shutdown.h"

/* System call numbers (the same on every architecture since 5.1/5.3); glibc
 * 2.36 headers have them, older ones may not. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#define STAT_MAX 1024    /* /proc/PID/stat: pid (comm) state ppid ... */
#define CMDLINE_MAX 4096 /* enough for argv[0] and argv[1] */

int moat_sd_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int moat_sd_send(int pidfd, pid_t pid, int sig)
{
    if (pidfd >= 0)
        return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
    if (pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    return kill(pid, sig);
}

int moat_sd_alive(int pidfd, pid_t pid)
{
    struct pollfd p;

    if (pidfd >= 0) {
        p.fd = pidfd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, 0) < 0)
            return 1; /* unknown: assume alive (the SIGKILL then tries) */
        return (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0;
    }
    if (pid <= 0)
        return 0;
    return kill(pid, 0) == 0 || errno == EPERM;
}

/* Reads up to cap - 1 bytes of an open file, NUL-terminated. Returns the length or -1. */
static ssize_t read_fd(int fd, char *buf, size_t cap)
{
    size_t used = 0;
    ssize_t n;

    while (used < cap - 1) {
        n = read(fd, buf + used, cap - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    return (ssize_t)used;
}

int moat_sd_pidfile_read(const char *path, pid_t *pid, char *why, size_t whylen)
{
    char buf[MOAT_SD_PIDFILE_MAX + 2];
    const char *reason = NULL;
    struct stat st;
    ssize_t n;
    long v = 0;
    int fd;
    int rc = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open the pidfile %s: %s", path,
                 errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "the pidfile %s is not a regular file", path);
        goto out;
    }
    if ((st.st_mode & S_IWOTH) != 0) {
        snprintf(why, whylen, "the pidfile %s is writable by others: not trusted", path);
        goto out;
    }
    n = read_fd(fd, buf, sizeof(buf));
    if (n < 0) {
        snprintf(why, whylen, "cannot read the pidfile %s: %s", path, strerror(errno));
        goto out;
    }
    if (moat_sd_pidfile_parse(buf, (size_t)n, &v, &reason) != 0) {
        snprintf(why, whylen, "the pidfile %s does not hold a pid: %s", path, reason);
        goto out;
    }
    if (v == (long)getpid()) {
        snprintf(why, whylen, "the pidfile %s names moat itself", path);
        goto out;
    }
    *pid = (pid_t)v;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

int moat_sd_pidfile_owner_check(const char *path, int pidfd, pid_t pid, char *why, size_t whylen)
{
    char rel[64];
    char *status = NULL;
    struct stat st;
    long uid = -1;
    ssize_t n;
    int fd = -1;
    int rc = 0;

    if (lstat(path, &st) != 0)
        goto out; /* read a moment ago: gone now, nothing to judge by */
    snprintf(rel, sizeof(rel), "/proc/%ld/status", (long)pid);
    status = malloc(STAT_MAX * 4);
    fd = open(rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (status == NULL || fd < 0)
        goto out;
    n = read_fd(fd, status, STAT_MAX * 4);
    if (n <= 0 || moat_sd_status_uid(status, &uid) != 0)
        goto out;
    /* The pidfd pins the process: while it lives, /proc/PID is that process. */
    if (pidfd >= 0 && !moat_sd_alive(pidfd, pid))
        goto out;
    if (!moat_sd_pidfile_owner_ok((long)st.st_uid, uid, (long)geteuid())) {
        snprintf(why, whylen,
                 "the pidfile %s (owner uid %ld) names process %ld of uid %ld: a stale pidfile? "
                 "not signalled",
                 path, (long)st.st_uid, (long)pid, uid);
        rc = -1;
    }
out:
    if (fd >= 0)
        close(fd);
    free(status);
    return rc;
}

/* Parses "PID (COMM) S PPID ..." (comm may hold spaces and parentheses: the
 * last ')' ends it). Returns 0 or -1. */
static int stat_parse(char *text, char *comm, size_t cap, long *ppid)
{
    char *open_p = strchr(text, '(');
    char *close_p = strrchr(text, ')');
    size_t n;
    char *end;

    if (open_p == NULL || close_p == NULL || close_p < open_p || close_p[1] != ' ' ||
        close_p[2] == '\0' || close_p[3] != ' ')
        return -1;
    n = (size_t)(close_p - open_p - 1);
    if (n >= cap)
        n = cap - 1;
    memcpy(comm, open_p + 1, n);
    comm[n] = '\0';
    errno = 0;
    *ppid = strtol(close_p + 4, &end, 10);
    return errno == 0 && end != close_p + 4 ? 0 : -1;
}

/* Reads /proc/PID/NAME relative to the /proc directory fd. Returns the length or -1. */
static ssize_t proc_read(int procfd, const char *pid, const char *name, char *buf, size_t cap)
{
    char rel[64];
    ssize_t n;
    int fd;

    snprintf(rel, sizeof(rel), "%s/%s", pid, name);
    fd = openat(procfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    n = read_fd(fd, buf, cap);
    close(fd);
    return n;
}

int moat_sd_process_is(const char *name, pid_t pid)
{
    struct moat_sd_proc p;
    char pidstr[24];
    char comm[32];
    char *stat_buf = malloc(STAT_MAX);
    char *cmd = malloc(CMDLINE_MAX);
    ssize_t len;
    int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ok = 0;

    memset(&p, 0, sizeof(p));
    p.pid = (long)pid;
    snprintf(pidstr, sizeof(pidstr), "%ld", (long)pid);
    if (stat_buf != NULL && cmd != NULL && procfd >= 0 &&
        proc_read(procfd, pidstr, "stat", stat_buf, STAT_MAX) > 0 &&
        stat_parse(stat_buf, comm, sizeof(comm), &p.ppid) == 0) {
        p.comm = comm;
        len = proc_read(procfd, pidstr, "cmdline", cmd, CMDLINE_MAX);
        p.argv0 = len > 0 ? cmd : "";
        p.argv1 = len > 0 && strlen(cmd) + 1 < (size_t)len ? cmd + strlen(cmd) + 1 : "";
        ok = moat_sd_proc_matches(&p, name);
    }
    if (procfd >= 0)
        close(procfd);
    free(stat_buf);
    free(cmd);
    return ok;
}

/* One process scanned; strings live in the scan buffers. */
struct scan_entry {
    long pid, ppid;
    char comm[32];
};

int moat_sd_process_find(const char *name, pid_t *pid, char *why, size_t whylen)
{
    static const size_t cap = MOAT_SD_MAX_MATCHES;
    struct scan_entry *found = NULL;
    struct moat_sd_proc *list = NULL;
    struct moat_sd_proc p;
    struct dirent *de;
    DIR *dir = NULL;
    char *stat_buf = NULL;
    char *cmd = NULL;
    size_t n = 0, i;
    ssize_t len;
    long self = (long)getpid();
    long v = 0;
    char *end;
    int rc = -1;

    found = calloc(cap, sizeof(*found));
    list = calloc(cap, sizeof(*list));
    stat_buf = malloc(STAT_MAX);
    cmd = malloc(CMDLINE_MAX);
    if (found == NULL || list == NULL || stat_buf == NULL || cmd == NULL) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    dir = opendir("/proc");
    if (dir == NULL) {
        snprintf(why, whylen, "cannot read /proc: %s", strerror(errno));
        goto out;
    }
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        errno = 0;
        v = strtol(de->d_name, &end, 10);
        if (errno != 0 || *end != '\0' || v == self)
            continue;
        memset(&p, 0, sizeof(p));
        p.pid = v;
        /* A process may end between readdir and the reads: skipped. */
        if (proc_read(dirfd(dir), de->d_name, "stat", stat_buf, STAT_MAX) <= 0)
            continue;
        if (n >= cap) {
            snprintf(why, whylen, "more than %zu processes named %s", cap, name);
            goto out;
        }
        if (stat_parse(stat_buf, found[n].comm, sizeof(found[n].comm), &p.ppid) != 0)
            continue;
        p.comm = found[n].comm;
        len = proc_read(dirfd(dir), de->d_name, "cmdline", cmd, CMDLINE_MAX);
        p.argv0 = len > 0 ? cmd : "";
        p.argv1 = len > 0 && strlen(cmd) + 1 < (size_t)len ? cmd + strlen(cmd) + 1 : "";
        if (!moat_sd_proc_matches(&p, name))
            continue;
        found[n].pid = p.pid;
        found[n].ppid = p.ppid;
        n++;
    }
    /* Only matches matter to the choice (an entry's parent either is one or
     * not): each kept entry carries the name as argv0, so it matches again. */
    for (i = 0; i < n; i++) {
        list[i].pid = found[i].pid;
        list[i].ppid = found[i].ppid;
        list[i].comm = found[i].comm;
        list[i].argv0 = name;
        list[i].argv1 = "";
    }
    if (moat_sd_proc_select(list, n, name, self, &v, why, whylen) != 0)
        goto out;
    *pid = (pid_t)v;
    rc = 0;
out:
    if (dir != NULL)
        closedir(dir);
    free(found);
    free(list);
    free(stat_buf);
    free(cmd);
    return rc;
}
