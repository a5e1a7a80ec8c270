/* sandbox.c - the sandbox's configuration, the order it is applied in, its report and
 * /proc/self/status. */
#include "moat/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "moat/log.h"
#include "sandbox_int.h"

#define STATUS_MAX 8192 /* /proc/self/status is about 1.5 KiB */

static const char *const sb_mode_names[] = {"off", "kill", "errno", "log"};

int moat_sandbox_seccomp_parse(const char *s, enum moat_sb_seccomp *out)
{
    size_t i;

    for (i = 0; s != NULL && i < sizeof(sb_mode_names) / sizeof(sb_mode_names[0]); i++) {
        if (strcmp(s, sb_mode_names[i]) == 0) {
            *out = (enum moat_sb_seccomp)i;
            return 0;
        }
    }
    return -1;
}

const char *moat_sandbox_seccomp_name(enum moat_sb_seccomp mode)
{
    if ((unsigned)mode >= sizeof(sb_mode_names) / sizeof(sb_mode_names[0]))
        return "?";
    return sb_mode_names[mode];
}

void moat_sandbox_cfg_init(struct moat_sandbox_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->landlock = 1;
    cfg->seccomp = MOAT_SB_SECCOMP_KILL;
    cfg->proc = 1;
}

/* Appends path to a table unless it is already there. */
static int sb_add_path(char table[][MOAT_SB_PATH], size_t *n, const char *path)
{
    size_t i, len = strlen(path);

    if (len == 0 || len >= MOAT_SB_PATH)
        return -1;
    for (i = 0; i < *n; i++)
        if (strcmp(table[i], path) == 0)
            return 0;
    if (*n >= MOAT_SB_MAX_PATHS)
        return -1;
    memcpy(table[*n], path, len + 1);
    (*n)++;
    return 0;
}

/* The directory part of path into out ("." for a bare name, "/" for "/x"). */
static int sb_dirname(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t len;

    if (slash == NULL)
        return snprintf(out, cap, ".") < (int)cap ? 0 : -1;
    len = (size_t)(slash - path);
    if (len == 0)
        len = 1;
    if (len >= cap)
        return -1;
    memcpy(out, path, len);
    out[len] = '\0';
    return 0;
}

int moat_sandbox_cfg_add_ro(struct moat_sandbox_cfg *cfg, const char *path)
{
    char real[PATH_MAX];
    int rc = -1;

    if (sb_add_path(cfg->ro, &cfg->n_ro, path) != 0)
        goto out;
    if (realpath(path, real) != NULL && strcmp(real, path) != 0 &&
        sb_add_path(cfg->ro, &cfg->n_ro, real) != 0)
        goto out;
    rc = 0;
out:
    return rc;
}

int moat_sandbox_cfg_add_ro_dir_of(struct moat_sandbox_cfg *cfg, const char *file)
{
    char dir[MOAT_SB_PATH];
    char real[PATH_MAX];
    int rc = -1;

    if (sb_dirname(file, dir, sizeof(dir)) != 0 || sb_add_path(cfg->ro, &cfg->n_ro, dir) != 0)
        goto out;
    if (realpath(file, real) != NULL) {
        if (sb_dirname(real, dir, sizeof(dir)) != 0 || sb_add_path(cfg->ro, &cfg->n_ro, dir) != 0)
            goto out;
    }
    rc = 0;
out:
    return rc;
}

int moat_sandbox_cfg_add_rw(struct moat_sandbox_cfg *cfg, const char *dir)
{
    return sb_add_path(cfg->rw, &cfg->n_rw, dir);
}

int moat_sandbox_cfg_add_port(struct moat_sandbox_cfg *cfg, int bind, uint16_t port)
{
    uint16_t *ports = bind ? cfg->bind_ports : cfg->connect_ports;
    size_t *n = bind ? &cfg->n_bind : &cfg->n_connect;
    size_t i;

    if (port == 0)
        return -1;
    for (i = 0; i < *n; i++)
        if (ports[i] == port)
            return 0;
    if (*n >= MOAT_SB_MAX_PORTS)
        return -1;
    ports[(*n)++] = port;
    return 0;
}

/* The value after "Key:" on the line starting at p (up to end), or NULL. */
static const char *status_field(const char *p, const char *end, const char *key)
{
    size_t klen = strlen(key);

    if ((size_t)(end - p) <= klen || memcmp(p, key, klen) != 0 || p[klen] != ':')
        return NULL;
    p += klen + 1;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Parses an unsigned number in base 10 or 16 from [p, end). */
static int status_number(const char *p, const char *end, int base, uint64_t *out)
{
    uint64_t v = 0;
    unsigned d;
    int any = 0;

    for (; p < end; p++) {
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            break;
        if (v > (UINT64_MAX - d) / (uint64_t)base)
            return -1;
        v = v * (uint64_t)base + d;
        any = 1;
    }
    if (!any)
        return -1;
    *out = v;
    return 0;
}

/* The status lines read, in the order status_store() knows them. */
static const struct {
    const char *key; /* name before the colon */
    int base;        /* 10, or 16 for capability masks */
} status_keys[] = {
    {"Seccomp", 10}, {"NoNewPrivs", 10}, {"Threads", 10}, {"CapPrm", 16},
    {"CapEff", 16},  {"CapBnd", 16},     {"CapAmb", 16},
};

static void status_store(struct moat_sandbox_status *st, size_t idx, uint64_t n)
{
    switch (idx) {
    case 0:
        if (n <= 2)
            st->seccomp = (int)n;
        break;
    case 1:
        if (n <= 1)
            st->no_new_privs = (int)n;
        break;
    case 2:
        if (n <= UINT32_MAX)
            st->threads = (unsigned)n;
        break;
    case 3:
        st->cap_prm = n;
        break;
    case 4:
        st->cap_eff = n;
        break;
    case 5:
        st->cap_bnd = n;
        break;
    default:
        st->cap_amb = n;
        break;
    }
}

int moat_sandbox_status_parse(const char *text, size_t len, struct moat_sandbox_status *st)
{
    const char *p = text, *end = text + len, *nl, *v;
    uint64_t n;
    size_t i;

    memset(st, 0, sizeof(*st));
    st->seccomp = -1;
    st->no_new_privs = -1;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end;
        for (i = 0; i < sizeof(status_keys) / sizeof(status_keys[0]); i++) {
            v = status_field(p, nl, status_keys[i].key);
            if (v == NULL)
                continue;
            if (status_number(v, nl, status_keys[i].base, &n) == 0)
                status_store(st, i, n);
            break;
        }
        p = nl + 1;
    }
    return (st->seccomp >= 0 && st->no_new_privs >= 0) ? 0 : -1;
}

int moat_sandbox_status(struct moat_sandbox_status *st)
{
    char buf[STATUS_MAX];
    size_t len = 0;
    ssize_t n;
    int fd;
    int rc = -1;

    memset(st, 0, sizeof(*st));
    st->seccomp = -1;
    st->no_new_privs = -1;
    fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto out;
    while (len < sizeof(buf)) {
        n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    rc = moat_sandbox_status_parse(buf, len, st);
out:
    return rc;
}

unsigned moat_sb_thread_count(void)
{
    struct moat_sandbox_status st;

    (void)moat_sandbox_status(&st);
    return st.threads;
}

void moat_sb_note(struct moat_sandbox_report *rep, const char *fmt, ...)
{
    size_t used = strlen(rep->note);
    va_list ap;

    if (used > 0 && used + 2 < sizeof(rep->note)) {
        memcpy(rep->note + used, "; ", 3);
        used += 2;
    }
    if (used + 1 >= sizeof(rep->note))
        return;
    va_start(ap, fmt);
    vsnprintf(rep->note + used, sizeof(rep->note) - used, fmt, ap);
    va_end(ap);
}

int moat_sandbox_apply(const struct moat_sandbox_cfg *cfg, struct moat_sandbox_report *rep,
                       char *err, size_t errlen)
{
    int rc = -1;

    memset(rep, 0, sizeof(*rep));
    rep->mode = cfg->seccomp;
    rep->threads = moat_sb_thread_count();
    if (!cfg->landlock && cfg->seccomp == MOAT_SB_SECCOMP_OFF) {
        rc = 0;
        goto out;
    }
    /* Both layers require it of an unprivileged process. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        goto out;
    }
    if (cfg->landlock && moat_sb_landlock_apply(cfg, rep, err, errlen) != 0)
        goto out;
    /* Last: from here on even the Landlock calls are refused. */
    if (cfg->seccomp != MOAT_SB_SECCOMP_OFF && moat_sb_seccomp_apply(cfg, rep, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    return rc;
}

static const char *sb_state_name(enum moat_sb_state s)
{
    switch (s) {
    case MOAT_SB_ENFORCED:
        return "enforced";
    case MOAT_SB_PARTIAL:
        return "partial";
    case MOAT_SB_UNSUPPORTED:
        return "not_enforced";
    case MOAT_SB_OFF:
        break;
    }
    return "off";
}

void moat_sandbox_log_report(const struct moat_sandbox_report *rep)
{
    struct moat_sandbox_status st;
    struct moat_logline l;
    int level = MOAT_LOG_INFO;

    if (rep->landlock == MOAT_SB_PARTIAL || rep->landlock == MOAT_SB_UNSUPPORTED ||
        rep->seccomp == MOAT_SB_PARTIAL || rep->seccomp == MOAT_SB_UNSUPPORTED)
        level = MOAT_LOG_WARN;
    (void)moat_sandbox_status(&st);
    moat_logline_begin(&l, (enum moat_log_level)level, "sandbox");
    moat_logline_str(&l, "landlock", sb_state_name(rep->landlock));
    moat_logline_int(&l, "landlock_abi", rep->landlock_abi);
    moat_logline_bool(&l, "landlock_net", rep->landlock_net);
    moat_logline_str(&l, "seccomp", sb_state_name(rep->seccomp));
    moat_logline_str(&l, "seccomp_mode", moat_sandbox_seccomp_name(rep->mode));
    moat_logline_int(&l, "proc_seccomp", st.seccomp);
    moat_logline_int(&l, "proc_no_new_privs", st.no_new_privs);
    moat_logline_int(&l, "threads", rep->threads);
    if (rep->note[0] != '\0')
        moat_logline_str(&l, "note", rep->note);
    moat_logline_end(&l);
}
