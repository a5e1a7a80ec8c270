/* privs.c - dropping root, keeping at most CAP_KILL, no core dumps, locked secrets. */
#include "moat/sandbox.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "moat/log.h"
#include "sandbox_int.h"

#define PW_BUF 16384     /* room for one passwd or group entry */
#define CAP_MAX_PROBE 64 /* capability numbers probed in the bounding set */

int moat_privs_parse_id(const char *s, uint32_t *id)
{
    unsigned long long v = 0;
    size_t i;

    if (s == NULL || s[0] == '\0' || strlen(s) > 10)
        return -1;
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    /* (uid_t)-1 means "unchanged" to the set*id calls: never a real id. */
    if (v >= 0xffffffffULL)
        return -1;
    *id = (uint32_t)v;
    return 0;
}

int moat_privs_resolve(const struct moat_privs_cfg *cfg, uid_t *uid, gid_t *gid, char *err,
                       size_t errlen)
{
    const char *user =
        (cfg->user != NULL && cfg->user[0] != '\0') ? cfg->user : MOAT_PRIVS_DEFAULT_ID;
    const char *group = cfg->group;
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;
    char buf[PW_BUF];
    uint32_t id;
    int have_pw_gid = 0;
    gid_t pw_gid = 0;
    int rc = -1;

    if (moat_privs_parse_id(user, &id) == 0) {
        *uid = (uid_t)id;
        if (getpwuid_r(*uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp != NULL) {
            pw_gid = pw.pw_gid;
            have_pw_gid = 1;
        }
    } else {
        if (getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL) {
            moat_set_err(err, errlen, "sandbox.user \"%s\": no such user (use a numeric uid)",
                         user);
            goto out;
        }
        *uid = pw.pw_uid;
        pw_gid = pw.pw_gid;
        have_pw_gid = 1;
    }
    if (group == NULL || group[0] == '\0') {
        *gid = have_pw_gid ? pw_gid : (gid_t)*uid;
    } else if (moat_privs_parse_id(group, &id) == 0) {
        *gid = (gid_t)id;
    } else {
        if (getgrnam_r(group, &gr, buf, sizeof(buf), &grp) != 0 || grp == NULL) {
            moat_set_err(err, errlen, "sandbox.group \"%s\": no such group (use a numeric gid)",
                         group);
            goto out;
        }
        *gid = gr.gr_gid;
    }
    rc = 0;
out:
    return rc;
}

/* capget/capset through the raw system calls (no libcap). Sets 0..63 as one
 * 64-bit mask per set. */
static int caps_get(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];

    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) != 0)
        return -1;
    *eff = (uint64_t)data[0].effective | ((uint64_t)data[1].effective << 32);
    *prm = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
    *inh = (uint64_t)data[0].inheritable | ((uint64_t)data[1].inheritable << 32);
    return 0;
}

static int caps_set(uint64_t eff, uint64_t prm, uint64_t inh)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];

    data[0].effective = (uint32_t)eff;
    data[1].effective = (uint32_t)(eff >> 32);
    data[0].permitted = (uint32_t)prm;
    data[1].permitted = (uint32_t)(prm >> 32);
    data[0].inheritable = (uint32_t)inh;
    data[1].inheritable = (uint32_t)(inh >> 32);
    return syscall(SYS_capset, &hdr, data) == 0 ? 0 : -1;
}

/* Clears the ambient set and, when we may (CAP_SETPCAP), the bounding set but keep. */
static int caps_narrow_inherited(uint64_t keep, int may_drop_bounding, char *err, size_t errlen)
{
    int cap;
    int rc = -1;

    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        moat_set_err(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
        goto out;
    }
    if (!may_drop_bounding) {
        rc = 0;
        goto out;
    }
    for (cap = 0; cap < CAP_MAX_PROBE; cap++) {
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
            break; /* EINVAL: past the kernel's last capability */
        if ((keep >> cap) & 1u)
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            moat_set_err(err, errlen, "cannot drop capability %d from the bounding set: %s", cap,
                         strerror(errno));
            goto out;
        }
    }
    rc = 0;
out:
    return rc;
}

/* Checks that the process is uid/gid everywhere, has no groups, cannot become
 * root again, and holds no capability outside keep. */
static int privs_verify(uid_t uid, gid_t gid, uint64_t keep, char *err, size_t errlen)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    uint64_t eff, prm, inh;
    int rc = -1;

    if (getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid) {
        moat_set_err(err, errlen,
                     "uid change did not take: real/effective/saved %u/%u/%u, wanted %u",
                     (unsigned)r, (unsigned)e, (unsigned)s, (unsigned)uid);
        goto out;
    }
    if (getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid) {
        moat_set_err(err, errlen,
                     "gid change did not take: real/effective/saved %u/%u/%u, wanted %u",
                     (unsigned)rg, (unsigned)eg, (unsigned)sg, (unsigned)gid);
        goto out;
    }
    if (getgroups(0, NULL) != 0) {
        moat_set_err(err, errlen, "supplementary groups are still set");
        goto out;
    }
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
        moat_set_err(err, errlen, "root could be regained after dropping privileges");
        goto out;
    }
    if (caps_get(&eff, &prm, &inh) != 0 || (prm & ~keep) != 0 || (eff & ~keep) != 0 || inh != 0) {
        moat_set_err(err, errlen, "capabilities remain after dropping privileges");
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* The root path of moat_privs_drop. */
static int privs_drop_root(uid_t uid, gid_t gid, uint64_t keep, char *err, size_t errlen)
{
    int rc = -1;

    if (caps_narrow_inherited(keep, 1, err, errlen) != 0)
        goto out;
    if (keep != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
        moat_set_err(err, errlen, "PR_SET_KEEPCAPS: %s", strerror(errno));
        goto out;
    }
    if (setgroups(0, NULL) != 0) {
        moat_set_err(err, errlen, "setgroups: %s", strerror(errno));
        goto out;
    }
    if (setresgid(gid, gid, gid) != 0) {
        moat_set_err(err, errlen, "cannot change group to %u: %s", (unsigned)gid, strerror(errno));
        goto out;
    }
    if (setresuid(uid, uid, uid) != 0) {
        moat_set_err(err, errlen, "cannot change user to %u: %s", (unsigned)uid, strerror(errno));
        goto out;
    }
    /* With KEEPCAPS the permitted set survived the uid change: keep only
     * keep. Without it, this clears the inheritable set the kernel leaves. */
    if (caps_set(keep, keep, 0) != 0) {
        moat_set_err(err, errlen, "cannot keep CAP_KILL: %s", strerror(errno));
        goto out;
    }
    if (keep != 0 && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) {
        moat_set_err(err, errlen, "PR_SET_KEEPCAPS: %s", strerror(errno));
        goto out;
    }
    if (privs_verify(uid, gid, keep, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    return rc;
}

/* The non-root path: keep the ids, narrow capabilities to keep & permitted. */
static int privs_narrow_user(uint64_t keep, char *err, size_t errlen)
{
    uint64_t eff, prm, inh, want;
    int rc = -1;

    if (caps_get(&eff, &prm, &inh) != 0) {
        moat_set_err(err, errlen, "capget: %s", strerror(errno));
        goto out;
    }
    want = prm & keep;
    if (caps_narrow_inherited(want, (eff >> CAP_SETPCAP) & 1u, err, errlen) != 0)
        goto out;
    if ((prm != want || eff != want || inh != 0) && caps_set(want, want, 0) != 0) {
        moat_set_err(err, errlen, "cannot drop capabilities: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    return rc;
}

int moat_privs_drop(const struct moat_privs_cfg *cfg, enum moat_privs_outcome *outcome, char *err,
                    size_t errlen)
{
    uint64_t keep = cfg->keep_kill ? (1ULL << CAP_KILL) : 0;
    uid_t r, e, s, uid = 0;
    gid_t gid = 0;
    unsigned threads;
    int rc = -1;

    if (getresuid(&r, &e, &s) != 0) {
        moat_set_err(err, errlen, "getresuid: %s", strerror(errno));
        goto out;
    }
    threads = moat_sb_thread_count();
    if (keep != 0 && threads != 1) {
        moat_set_err(err, errlen, "keeping CAP_KILL needs a single-threaded process (%u threads)",
                     threads);
        goto out;
    }
    if (r != 0 && e != 0 && s != 0) {
        if (privs_narrow_user(keep, err, errlen) != 0)
            goto out;
        *outcome = MOAT_PRIVS_UNCHANGED;
        rc = 0;
        goto out;
    }
    if (cfg->allow_root) {
        moat_log(MOAT_LOG_WARN, "running_as_root",
                 "sandbox.allow_root is set: moat keeps running as root");
        *outcome = MOAT_PRIVS_KEPT_ROOT;
        rc = 0;
        goto out;
    }
    if (moat_privs_resolve(cfg, &uid, &gid, err, errlen) != 0)
        goto out;
    if (uid == 0 || gid == 0) {
        moat_set_err(err, errlen,
                     "refusing to run as uid %u gid %u: root (set sandbox.allow_root to allow)",
                     (unsigned)uid, (unsigned)gid);
        goto out;
    }
    if (privs_drop_root(uid, gid, keep, err, errlen) != 0)
        goto out;
    /* A credential change resets the dumpable flag: clear it again. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        moat_set_err(err, errlen, "PR_SET_DUMPABLE: %s", strerror(errno));
        goto out;
    }
    *outcome = MOAT_PRIVS_DROPPED;
    rc = 0;
out:
    return rc;
}

int moat_privs_harden(char *err, size_t errlen)
{
    struct rlimit none = {0, 0};
    int rc = -1;

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        moat_set_err(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        goto out;
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        moat_set_err(err, errlen, "PR_SET_DUMPABLE: %s", strerror(errno));
        goto out;
    }
    if (setrlimit(RLIMIT_CORE, &none) != 0) {
        moat_set_err(err, errlen, "RLIMIT_CORE: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* The whole pages covering buf[0..len). */
static void page_span(void *buf, size_t len, void **start, size_t *span)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)buf & ~(page - 1);
    uintptr_t b = ((uintptr_t)buf + len + page - 1) & ~(page - 1);

    *start = (void *)a;
    *span = (size_t)(b - a);
}

int moat_memlock_parse(const char *s, enum moat_memlock_mode *out)
{
    static const char *const names[] = {"auto", "on", "off"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum moat_memlock_mode)i;
            return 0;
        }
    }
    return -1;
}

int moat_privs_lock_memory(enum moat_memlock_mode mode, int *locked, char *why, size_t cap)
{
    struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
    int rc = 0;

    *locked = 0;
    snprintf(why, cap, "sandbox.lock_memory = off");
    if (mode == MOAT_MEMLOCK_OFF)
        goto out;
    if (geteuid() == 0)
        (void)setrlimit(RLIMIT_MEMLOCK, &rl); /* fails without CAP_SYS_RESOURCE: checked below */
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur != RLIM_INFINITY) {
        snprintf(why, cap,
                 "RLIMIT_MEMLOCK is %llu bytes, not unlimited (raise it: ulimit -l unlimited, "
                 "docker --ulimit memlock=-1)",
                 (unsigned long long)rl.rlim_cur);
    } else if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0) {
        snprintf(why, cap, "mlockall: %s", strerror(errno));
    } else {
        *locked = 1;
        why[0] = '\0';
    }
    if (!*locked && mode == MOAT_MEMLOCK_ON)
        rc = -1;
out:
    return rc;
}

int moat_privs_lock_secret(void *buf, size_t len)
{
    void *start;
    size_t span;

    if (buf == NULL || len == 0)
        return 0;
    if (mlock(buf, len) != 0)
        return -1;
    page_span(buf, len, &start, &span);
    (void)madvise(start, span, MADV_DONTDUMP); /* best effort: dumps are off anyway */
    return 0;
}

void moat_privs_unlock_secret(void *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return;
    explicit_bzero(buf, len);
    (void)munlock(buf, len);
}
