/* shutdown_policy.c - the emergency shutdown's pure decisions: target, mode and
 * signal parsing, pidfile content, which /proc entry to signal, and where the
 * endpoint may be served. No I/O. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "moat/shutdown.h"

#define COMM_MAX 15 /* TASK_COMM_LEN - 1 */

static const struct {
    const char *name; /* without "SIG" */
    int signo;
} sd_signals[] = {
    {"TERM", SIGTERM}, {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"HUP", SIGHUP},
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"KILL", SIGKILL},
};

static const char *const sd_signal_full[] = {
    "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGKILL",
};

/* Interpreters whose first argument is the program (argv1 names the process). */
static const char *const sd_interpreters[] = {"python", "perl", "ruby", "node", "sh", "bash"};

static int name_char_ok(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '_' || c == '+' || c == '-';
}

int moat_sd_target_parse(const char *s, struct moat_sd_target *out, const char **why)
{
    const char *arg;
    size_t i, len;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    *why = "must be child, none, pidfile:/ABSOLUTE/PATH or process:NAME";
    if (s == NULL)
        goto out;
    if (strcmp(s, "child") == 0) {
        out->kind = MOAT_SD_CHILD;
    } else if (strcmp(s, "none") == 0) {
        out->kind = MOAT_SD_NONE;
    } else if (strncmp(s, "pidfile:", 8) == 0) {
        arg = s + 8;
        len = strlen(arg);
        if (arg[0] != '/' || len < 2 || len >= sizeof(out->arg)) {
            *why = "pidfile: needs an absolute path";
            goto out;
        }
        for (i = 0; i < len; i++) {
            if (iscntrl((unsigned char)arg[i])) {
                *why = "pidfile: path contains control characters";
                goto out;
            }
        }
        /* A final "/" or "/." names a directory, never the pidfile. */
        if (strstr(arg, "/../") != NULL || (len >= 3 && strcmp(arg + len - 3, "/..") == 0) ||
            strcmp(arg + len - 2, "/.") == 0 || arg[len - 1] == '/') {
            *why = "pidfile: path must name a file without \"..\"";
            goto out;
        }
        out->kind = MOAT_SD_PIDFILE;
        memcpy(out->arg, arg, len + 1);
    } else if (strncmp(s, "process:", 8) == 0) {
        arg = s + 8;
        len = strlen(arg);
        if (len == 0 || len > 255 || arg[0] == '-') {
            *why = "process: needs a name (1-255 characters, not starting with -)";
            goto out;
        }
        for (i = 0; i < len; i++) {
            if (!name_char_ok((unsigned char)arg[i])) {
                *why = "process: name may hold only letters, digits and . _ + -";
                goto out;
            }
        }
        out->kind = MOAT_SD_PROCESS;
        memcpy(out->arg, arg, len + 1);
    } else {
        goto out;
    }
    *why = NULL;
    rc = 0;
out:
    return rc;
}

int moat_sd_mode_parse(const char *s, enum moat_sd_mode *out)
{
    if (s != NULL && strcmp(s, "lockdown") == 0) {
        *out = MOAT_SD_LOCKDOWN;
        return 0;
    }
    if (s != NULL && strcmp(s, "exit") == 0) {
        *out = MOAT_SD_EXIT;
        return 0;
    }
    return -1;
}

int moat_sd_signal_parse(const char *s, int *signo)
{
    size_t i;

    if (s == NULL)
        return -1;
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (i = 0; i < sizeof(sd_signals) / sizeof(sd_signals[0]); i++) {
        if (strcmp(s, sd_signals[i].name) == 0) {
            *signo = sd_signals[i].signo;
            return 0;
        }
    }
    return -1;
}

const char *moat_sd_signal_name(int signo)
{
    size_t i;

    for (i = 0; i < sizeof(sd_signals) / sizeof(sd_signals[0]); i++)
        if (sd_signals[i].signo == signo)
            return sd_signal_full[i];
    return "signal";
}

int moat_sd_pidfile_parse(const char *buf, size_t len, long *pid, const char **why)
{
    size_t digits = 0;
    long v = 0;
    int rc = -1;

    *why = "empty";
    if (buf == NULL || len == 0)
        goto out;
    *why = "too long to hold a pid";
    if (len > MOAT_SD_PIDFILE_MAX)
        goto out;
    while (digits < len && buf[digits] >= '0' && buf[digits] <= '9') {
        if (digits >= 7) /* MOAT_SD_PID_MAX has 7 digits */
            goto out;
        v = v * 10 + (buf[digits] - '0');
        digits++;
    }
    *why = "not a decimal pid (digits and one final newline only)";
    if (digits == 0)
        goto out;
    if (!(digits == len || (digits + 1 == len && buf[digits] == '\n') ||
          (digits + 2 == len && buf[digits] == '\r' && buf[digits + 1] == '\n')))
        goto out;
    *why = "leading zero";
    if (buf[0] == '0')
        goto out;
    *why = "pid out of range";
    if (v < 1 || v > MOAT_SD_PID_MAX)
        goto out;
    *why = NULL;
    *pid = v;
    rc = 0;
out:
    return rc;
}

int moat_sd_status_uid(const char *text, long *uid)
{
    const char *p = text;
    char *end;
    long v;
    int rc = -1;

    while (p != NULL && strncmp(p, "Uid:", 4) != 0) {
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    if (p == NULL)
        goto out;
    p += 4;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p < '0' || *p > '9')
        goto out;
    errno = 0;
    v = strtol(p, &end, 10);
    if (errno != 0 || (*end != '\t' && *end != ' ' && *end != '\n' && *end != '\0'))
        goto out;
    *uid = v;
    rc = 0;
out:
    return rc;
}

int moat_sd_pidfile_owner_ok(long file_uid, long proc_uid, long self_uid)
{
    return file_uid == 0 || file_uid == self_uid || file_uid == proc_uid;
}

/* The last path component of s. */
static const char *base_name(const char *s)
{
    const char *slash = strrchr(s, '/');

    return slash != NULL ? slash + 1 : s;
}

static int is_interpreter(const char *argv0)
{
    const char *b = base_name(argv0);
    size_t i, n;

    for (i = 0; i < sizeof(sd_interpreters) / sizeof(sd_interpreters[0]); i++) {
        n = strlen(sd_interpreters[i]);
        if (strncmp(b, sd_interpreters[i], n) != 0)
            continue;
        /* "python3", "python3.11", "perl5.36": the name then a version. */
        if (b[n] == '\0' || strspn(b + n, "0123456789.") == strlen(b + n))
            return 1;
    }
    return 0;
}

int moat_sd_proc_matches(const struct moat_sd_proc *p, const char *name)
{
    size_t n;

    if (p == NULL || name == NULL || name[0] == '\0')
        return 0;
    n = strlen(name);
    if (p->comm != NULL &&
        (n > COMM_MAX ? strncmp(p->comm, name, COMM_MAX) == 0 && strlen(p->comm) == COMM_MAX
                      : strcmp(p->comm, name) == 0))
        return 1;
    if (p->argv0 != NULL && p->argv0[0] != '\0') {
        if (strcmp(base_name(p->argv0), name) == 0)
            return 1;
        if (is_interpreter(p->argv0) && p->argv1 != NULL && p->argv1[0] != '\0' &&
            strcmp(base_name(p->argv1), name) == 0)
            return 1;
    }
    return 0;
}

/* True when pid is one of the matching entries. */
static int is_match(const struct moat_sd_proc *v, size_t n, const char *name, long self, long pid)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (v[i].pid == pid && v[i].pid != self && moat_sd_proc_matches(&v[i], name))
            return 1;
    return 0;
}

int moat_sd_proc_select(const struct moat_sd_proc *v, size_t n, const char *name, long self,
                        long *pid, char *why, size_t whylen)
{
    long roots[4];
    size_t n_roots = 0, n_match = 0, i;
    size_t used;
    int rc = -1;

    for (i = 0; i < n; i++) {
        if (v[i].pid == self || !moat_sd_proc_matches(&v[i], name))
            continue;
        n_match++;
        if (is_match(v, n, name, self, v[i].ppid))
            continue;
        if (n_roots < sizeof(roots) / sizeof(roots[0]))
            roots[n_roots] = v[i].pid;
        n_roots++;
    }
    if (n_match == 0) {
        snprintf(why, whylen, "no process named %s", name);
        goto out;
    }
    if (n_roots != 1) {
        /* n_roots == 0 cannot happen with finite pids unless parents loop. */
        used =
            (size_t)snprintf(why, whylen, "%zu unrelated processes named %s (pids", n_roots, name);
        for (i = 0; i < n_roots && i < 4 && used < whylen; i++)
            used += (size_t)snprintf(why + used, whylen - used, " %ld", roots[i]);
        if (used < whylen)
            snprintf(why + used, whylen - used, "%s): use a pidfile: target",
                     n_roots > 4 ? " ..." : "");
        goto out;
    }
    *pid = roots[0];
    rc = 0;
out:
    return rc;
}

int moat_sd_path_check(const char *path, const char **why)
{
    const char *seg;
    size_t i, n;

    *why = NULL;
    if (path == NULL || path[0] == '\0')
        return 0;
    *why = "must be an absolute path of letters, digits and - . _ ~ / (not \"/\")";
    if (path[0] != '/' || path[1] == '\0' || path[strlen(path) - 1] == '/')
        return -1;
    for (i = 0; path[i] != '\0'; i++)
        if (!isalnum((unsigned char)path[i]) && strchr("-._~/", path[i]) == NULL)
            return -1;
    seg = path + 1;
    for (;;) {
        n = strcspn(seg, "/");
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
            *why = "must not hold empty, \".\" or \"..\" segments";
            return -1;
        }
        if (seg[n] == '\0')
            break;
        seg += n + 1;
    }
    *why = NULL;
    return 0;
}

int moat_sd_plaintext_exposed(const struct moat_bind_addr *b, int tls)
{
    unsigned char a[16];

    if (b == NULL || tls || b->kind != MOAT_BIND_TCP)
        return 0;
    if (b->tcp.family == AF_INET) {
        if (inet_pton(AF_INET, b->tcp.host, a) != 1)
            return 1;
        return a[0] != 127;
    }
    if (b->tcp.family == AF_INET6) {
        if (inet_pton(AF_INET6, b->tcp.host, a) != 1)
            return 1;
        if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0)
            return 0;
        /* ::ffff:127.x.y.z */
        if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0 && a[12] == 127)
            return 0;
        return 1;
    }
    return 1;
}
