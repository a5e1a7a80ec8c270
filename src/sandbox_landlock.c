/* sandbox_landlock.c - the Landlock layer: read-only paths, a writable state
 * directory, TCP bind/connect ports, through the raw system calls. */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_int.h"
#include "moat/log.h"

/* The Debian 12 headers (Linux 6.1) stop at ABI 2: later constants, from the
 * kernel's include/uapi/linux/landlock.h, are defined here when missing. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0) /* ABI 4 */
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#endif
/* LANDLOCK_RULE_NET_PORT is an enum constant in newer headers: own name. */
#define SB_LL_RULE_NET_PORT 2

/* struct landlock_ruleset_attr as of ABI 6; the size passed to the kernel
 * stops at the last field the running ABI knows. */
struct sb_ll_ruleset_attr {
    uint64_t handled_access_fs;  /* ABI 1 */
    uint64_t handled_access_net; /* ABI 4 */
    uint64_t scoped;             /* ABI 6 */
};

/* struct landlock_net_port_attr (ABI 4). */
struct sb_ll_net_port_attr {
    uint64_t allowed_access; /* LANDLOCK_ACCESS_NET_* */
    uint64_t port;           /* host byte order */
};

#define LL_FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
/* What the state directory needs: mkostemp + fchmod + write + rename + unlink. */
#define LL_FS_WRITE                                                                                \
    (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_FILE |                              \
     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |   \
     LANDLOCK_ACCESS_FS_TRUNCATE)

/* The files glibc's resolver reads again while running (when they change). */
static const char *const ll_resolver_files[] = {
    "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
};

static int ll_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

    return v < 0 ? 0 : (int)v;
}

/* Every file system right the ABI knows (all handled: denied unless granted). */
static uint64_t ll_fs_handled(int abi)
{
    uint64_t all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */

    if (abi >= 2)
        all |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        all |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        all |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return all;
}

/* Grants access (masked to what is handled; READ_DIR only on directories)
 * beneath path. A missing path is skipped with a note when optional, or
 * named in the note otherwise; both return 0. Other failures return -1. */
static int ll_add_path(int ruleset, const char *path, uint64_t access, uint64_t handled,
                       int optional, struct moat_sandbox_report *rep, char *err, size_t errlen)
{
    struct landlock_path_beneath_attr pb;
    struct stat st;
    int fd;
    int rc = -1;

    fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            if (!optional)
                moat_sb_note(rep, "%s does not exist: not allowed", path);
            rc = 0;
            goto out;
        }
        moat_set_err(err, errlen, "landlock: cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        moat_set_err(err, errlen, "landlock: cannot stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISDIR(st.st_mode))
        access &= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                  LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_EXECUTE |
                  LANDLOCK_ACCESS_FS_IOCTL_DEV;
    memset(&pb, 0, sizeof(pb));
    pb.allowed_access = access & handled;
    pb.parent_fd = fd;
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0) {
        moat_set_err(err, errlen, "landlock: cannot add a rule for %s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static int ll_add_port(int ruleset, uint16_t port, uint64_t access, char *err, size_t errlen)
{
    struct sb_ll_net_port_attr np = {access, port};
    int rc = -1;

    if (syscall(SYS_landlock_add_rule, ruleset, SB_LL_RULE_NET_PORT, &np, 0) != 0) {
        moat_set_err(err, errlen, "landlock: cannot add a rule for TCP port %u: %s", (unsigned)port,
                     strerror(errno));
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* Adds every rule cfg asks for to ruleset. */
static int ll_add_rules(int ruleset, int abi, const struct moat_sandbox_cfg *cfg,
                        struct moat_sandbox_report *rep, char *err, size_t errlen)
{
    uint64_t handled = ll_fs_handled(abi);
    size_t i;
    int rc = -1;

    for (i = 0; i < cfg->n_ro; i++)
        if (ll_add_path(ruleset, cfg->ro[i], LL_FS_READ, handled, 0, rep, err, errlen) != 0)
            goto out;
    for (i = 0; i < cfg->n_rw; i++)
        if (ll_add_path(ruleset, cfg->rw[i], LL_FS_READ | LL_FS_WRITE, handled, 0, rep, err,
                        errlen) != 0)
            goto out;
    /* All of /proc, not /proc/self/...: per-process proc inodes are made anew
     * when their dentries are reclaimed, and a rule on the old inode would stop
     * matching. Other processes' private files (environ, mem, fd/) stay closed
     * to a non-root moat: Landlock refuses ptrace-mode access outside the
     * domain even to the same uid (tests/unit/test_sandbox_landlock.c). */
    if (cfg->proc && ll_add_path(ruleset, "/proc", LL_FS_READ, handled, 0, rep, err, errlen) != 0)
        goto out;
    for (i = 0; cfg->resolver && i < sizeof(ll_resolver_files) / sizeof(ll_resolver_files[0]); i++)
        if (ll_add_path(ruleset, ll_resolver_files[i], LL_FS_READ, handled, 1, rep, err, errlen) !=
            0)
            goto out;
    if (abi >= 4) {
        for (i = 0; i < cfg->n_bind; i++)
            if (ll_add_port(ruleset, cfg->bind_ports[i], LANDLOCK_ACCESS_NET_BIND_TCP, err,
                            errlen) != 0)
                goto out;
        for (i = 0; i < cfg->n_connect; i++)
            if (ll_add_port(ruleset, cfg->connect_ports[i], LANDLOCK_ACCESS_NET_CONNECT_TCP, err,
                            errlen) != 0)
                goto out;
        /* DNS falls back to TCP for truncated answers. */
        if (cfg->resolver &&
            ll_add_port(ruleset, 53, LANDLOCK_ACCESS_NET_CONNECT_TCP, err, errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    return rc;
}

int moat_sb_landlock_apply(const struct moat_sandbox_cfg *cfg, struct moat_sandbox_report *rep,
                           char *err, size_t errlen)
{
    struct sb_ll_ruleset_attr attr;
    size_t attr_size = sizeof(attr.handled_access_fs);
    int abi = ll_abi();
    int ruleset = -1;
    int rc = -1;

    rep->landlock_abi = abi;
    if (abi < 1) {
        rep->landlock = MOAT_SB_UNSUPPORTED;
        moat_sb_note(rep, "Landlock is not available in this kernel (not enforced)");
        rc = 0;
        goto out;
    }
    memset(&attr, 0, sizeof(attr));
    attr.handled_access_fs = ll_fs_handled(abi);
    if (abi >= 4) {
        attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
        attr_size = offsetof(struct sb_ll_ruleset_attr, scoped);
    }
    /* Abstract Unix sockets outside the sandbox are out of reach. Signals are
     * not scoped: the emergency shutdown must signal the app. */
    if (abi >= 6) {
        attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
        attr_size = sizeof(attr);
    }
    ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (ruleset < 0) {
        moat_set_err(err, errlen, "landlock_create_ruleset (ABI %d): %s", abi, strerror(errno));
        goto out;
    }
    if (ll_add_rules(ruleset, abi, cfg, rep, err, errlen) != 0)
        goto out;
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
        moat_set_err(err, errlen, "landlock_restrict_self: %s", strerror(errno));
        goto out;
    }
    rep->landlock_net = abi >= 4;
    if (abi < 4 && (cfg->n_bind > 0 || cfg->n_connect > 0))
        moat_sb_note(rep, "Landlock ABI %d has no TCP rules (needs 4): ports not restricted", abi);
    rep->landlock = MOAT_SB_ENFORCED;
    if (rep->threads > 1) {
        rep->landlock = MOAT_SB_PARTIAL;
        moat_sb_note(rep, "Landlock does not cover the %u thread(s) started before it",
                     rep->threads - 1);
    }
    rc = 0;
out:
    if (ruleset >= 0)
        close(ruleset);
    return rc;
}
