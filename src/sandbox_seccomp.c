/* sandbox_seccomp.c - the seccomp-bpf allowlist (libseccomp) installed once moat serves.
 *
 * Where the list comes from: tests/sandbox/strace-workload.sh runs the real
 * binary under `strace -f` through TLS 1.2 and 1.3 handshakes, GET, POST and
 * chunked requests, 20 concurrent clients, two SIGHUP reloads (the second one
 * regenerating the --dev certificate), the upstream going away and coming
 * back, a half-sent request, the admin listener (/healthz, /readyz,
 * /metrics) and a SIGTERM drain, in four set-ups: TCP upstream by IP, by host
 * name (resolver thread), Unix socket, --dev (state directory); and prints the
 * calls made once the sandbox is in place. `getent ahosts` gave the DNS path.
 * Seen (libmicrohttpd 0.9.75, GnuTLS 3.7.9, OpenSSL 3.0, glibc 2.36):
 *   epoll_wait epoll_ctl recvfrom sendmsg sendto read write close accept4
 *   socket connect poll getsockopt setsockopt getpeername mprotect mmap munmap
 *   madvise brk futex openat newfstatat lseek getrandom rt_sigtimedwait
 *   rt_sigprocmask exit exit_group shutdown; clone3/clone set_robust_list
 *   rseq prctl(PR_SET_NAME) epoll_create1 fcntl rt_sigaction as the workers
 *   and libmicrohttpd's admin thread start; getdents64 prlimit64 (/metrics
 *   reading /proc/self/fd and RLIMIT_NOFILE); socket(AF_NETLINK) bind
 *   getsockname recvmsg (getaddrinfo with AI_ADDRCONFIG: resolver thread and
 *   readiness probe); uname sendmmsg ioctl(FIONREAD) (DNS); mkdir mkostemp
 *   fchmod fsync rename unlink (--dev state directory).
 * Checked: the same workload with the sandbox wired in and seccomp "log"
 * leaves no audit record (dmesg type=1326), and passes with "kill", as root
 * and as uid 65532, in release and ASan/UBSan builds.
 * Added, not seen but on rarer paths: readv/writev, pread64, epoll_pwait*,
 * ppoll, the rest of the recv/send family, mremap, fstat/statx, clock and
 * sleep calls, rt_sigreturn, sigaltstack, sched_yield, membarrier,
 * getpid/gettid/getuid family, sched_getaffinity (pthread_getattr_np),
 * tgkill/tkill (abort, raise), kill/pidfd_open/pidfd_send_signal/wait4/waitid
 * (issue 5 signals the app), eventfd2; munlock (sodium_free wiping the
 * emergency-shutdown token and the session-ticket key at exit).
 * Argument checks: socket only AF_UNIX/AF_INET/AF_INET6 and AF_NETLINK with
 * NETLINK_ROUTE; mmap/mprotect never PROT_WRITE with PROT_EXEC; openat with
 * read-only flags, plus write/create flags only when a state directory is
 * writable (Landlock keeps writes inside it); clone only with CLONE_THREAD
 * (clone3 answers ENOSYS so glibc falls back to clone, whose flags BPF can
 * read); ioctl only FIONREAD; prctl only PR_SET_NAME/PR_GET_NAME; prlimit64
 * cannot set. Everything else (execve, fork, ptrace, mount, bpf, setuid,
 * open_by_handle_at, ...) meets the default action. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <linux/netlink.h>

#include "sandbox_int.h"
#include "moat/log.h"

/* Allowed with any arguments. */
/* clang-format off */
static const char *const sc_plain[] = {
    /* I/O on descriptors moat holds */
    "read", "write", "readv", "writev", "pread64", "close", "lseek", "fstat", "newfstatat",
    "statx", "getdents64",
    /* event loops (libmicrohttpd in epoll mode, the upstream's poll) */
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "epoll_create1", "poll", "ppoll",
    "eventfd2",
    /* sockets already open or being connected (creation is checked below) */
    "accept4", "accept", "connect", "recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg",
    "sendmmsg", "shutdown", "setsockopt", "getsockopt", "getpeername", "getsockname",
    /* memory (mmap and mprotect are checked below); munlock: sodium_free of
     * guarded memory (the shutdown token, the TLS session-ticket key) at exit */
    "munmap", "madvise", "brk", "mremap", "munlock",
    /* threads, locks, exit */
    "futex", "set_robust_list", "rseq", "sched_yield", "membarrier", "exit", "exit_group",
    /* time */
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
    /* signals: the main loop's sigtimedwait, abort() */
    "rt_sigtimedwait", "rt_sigprocmask", "rt_sigreturn", "rt_sigaction", "sigaltstack",
    /* identity, randomness, the resolver's uname; pthread_getattr_np's affinity */
    "getpid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getrandom", "getrlimit",
    "uname", "sched_getaffinity",
    /* signalling: abort()/raise(), and the app for the emergency shutdown */
    "tgkill", "tkill", "kill", "pidfd_open", "pidfd_send_signal", "wait4", "waitid",
};
/* clang-format on */

/* Allowed in addition when a state directory is writable. */
static const char *const sc_state[] = {
    "mkdir",     "mkdirat", "unlink",    "unlinkat", "rename",    "renameat",
    "renameat2", "fsync",   "fdatasync", "fchmod",   "ftruncate",
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SC_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SC_SANITIZER 1
#endif
#endif
#ifdef SC_SANITIZER
/* Sanitizer builds only (-DMOAT_SANITIZE=ON): LeakSanitizer's check at exit
 * clones a tracer (CLONE_VM, not a thread) that ptraces every thread after
 * reading /proc/self/task and /proc/self/maps through the legacy calls, and
 * toggles the dumpable flag with prctl. Never in a release build. */
static const char *const sc_sanitizer[] = {
    "open", "getdents", "readlink", "getppid", "prctl", "ptrace",
};
#endif

/* Flags a read-only openat may carry (O_RDONLY is 0). */
#define SC_OPEN_RO                                                                                 \
    ((uint32_t)(O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_DIRECTORY | O_NOFOLLOW | O_LARGEFILE))
/* ... and one creating files in the state directory (mkostemp: O_RDWR|O_CREAT|O_EXCL). */
#define SC_OPEN_RW (SC_OPEN_RO | (uint32_t)(O_WRONLY | O_RDWR | O_CREAT | O_EXCL | O_TRUNC))

/* Allows each named call; names this architecture lacks are skipped. */
static int sc_allow_names(scmp_filter_ctx ctx, const char *const *names, size_t n, char *err,
                          size_t errlen)
{
    size_t i;
    int nr, r;
    int rc = -1;

    for (i = 0; i < n; i++) {
        nr = seccomp_syscall_resolve_name(names[i]);
        if (nr == __NR_SCMP_ERROR)
            continue;
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (r != 0) {
            moat_set_err(err, errlen, "seccomp: cannot allow %s: %s", names[i], strerror(-r));
            goto out;
        }
    }
    rc = 0;
out:
    return rc;
}

/* One argument comparison, every field set (libseccomp's SCMP_A* macros leave
 * datum_b implicit, which clang's -Wmissing-field-initializers rejects). */
static struct scmp_arg_cmp sc_arg(unsigned int arg, enum scmp_compare op, scmp_datum_t a,
                                  scmp_datum_t b)
{
    struct scmp_arg_cmp c;

    c.arg = arg;
    c.op = op;
    c.datum_a = a;
    c.datum_b = b;
    return c;
}

/* Adds one rule and names the call on failure. */
static int sc_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *name, unsigned n,
                   const struct scmp_arg_cmp *args, char *err, size_t errlen)
{
    int r = seccomp_rule_add_array(ctx, action, nr, n, args);

    if (r != 0) {
        moat_set_err(err, errlen, "seccomp: cannot add a rule for %s: %s", name, strerror(-r));
        return -1;
    }
    return 0;
}

/* The calls allowed only with some arguments. */
static int sc_allow_checked(scmp_filter_ctx ctx, const struct moat_sandbox_cfg *cfg, char *err,
                            size_t errlen)
{
    const uint32_t open_ok = cfg->n_rw > 0 ? SC_OPEN_RW : SC_OPEN_RO;
    const int families[] = {AF_UNIX, AF_INET, AF_INET6};
    const unsigned long fcntl_ops[] = {F_GETFD, F_SETFD, F_GETFL, F_SETFL};
    struct scmp_arg_cmp a[2];
    size_t i;
    int rc = -1;

    for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        a[0] = sc_arg(0, SCMP_CMP_EQ, (scmp_datum_t)families[i], 0);
        if (sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket", 1, a, err, errlen) != 0)
            goto out;
    }
    /* getaddrinfo(AI_ADDRCONFIG) asks the kernel for the local addresses over
     * a bound NETLINK_ROUTE socket: the resolver thread and the admin
     * readiness probe (even for an IP literal). Changing routes would need
     * CAP_NET_ADMIN; TCP binds are Landlock's to refuse (ABI >= 4). */
    a[0] = sc_arg(0, SCMP_CMP_EQ, AF_NETLINK, 0);
    a[1] = sc_arg(2, SCMP_CMP_EQ, NETLINK_ROUTE, 0);
    if (sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket", 2, a, err, errlen) != 0 ||
        sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(bind), "bind", 0, a, err, errlen) != 0)
        goto out;
    /* W^X: PROT_WRITE and PROT_EXEC never together (two rules: either bit clear). */
    a[0] = sc_arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
    a[1] = sc_arg(2, SCMP_CMP_MASKED_EQ, PROT_WRITE, 0);
    if (sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), "mmap", 1, &a[0], err, errlen) != 0 ||
        sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), "mmap", 1, &a[1], err, errlen) != 0 ||
        sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), "mprotect", 1, &a[0], err, errlen) != 0 ||
        sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), "mprotect", 1, &a[1], err, errlen) != 0)
        goto out;
    /* Only the low 32 bits carry the int flags. */
    a[0] = sc_arg(2, SCMP_CMP_MASKED_EQ, (scmp_datum_t)(uint32_t)~open_ok, 0);
    if (sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), "openat", 1, a, err, errlen) != 0)
        goto out;
    a[0] = sc_arg(1, SCMP_CMP_EQ, FIONREAD, 0);
    if (sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), "ioctl", 1, a, err, errlen) != 0)
        goto out;
    for (i = 0; i < sizeof(fcntl_ops) / sizeof(fcntl_ops[0]); i++) {
        a[0] = sc_arg(1, SCMP_CMP_EQ, fcntl_ops[i], 0);
        if (sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), "fcntl", 1, a, err, errlen) != 0)
            goto out;
    }
    /* Thread names: libmicrohttpd names the threads it starts ("MHD-single"). */
    a[0] = sc_arg(0, SCMP_CMP_EQ, PR_SET_NAME, 0);
    if (sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), "prctl", 1, a, err, errlen) != 0)
        goto out;
    a[0] = sc_arg(0, SCMP_CMP_EQ, PR_GET_NAME, 0);
    if (sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), "prctl", 1, a, err, errlen) != 0)
        goto out;
    /* getrlimit() is prlimit64(0, res, NULL, &old) in glibc: reading only. */
    a[0] = sc_arg(2, SCMP_CMP_EQ, 0, 0);
    if (sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), "prlimit64", 1, a, err, errlen) != 0)
        goto out;
    /* Threads only: a new process could escape nothing (no execve) but is not needed. */
    a[0] = sc_arg(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
    if (sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), "clone", 1, a, err, errlen) != 0)
        goto out;
    /* clone3 passes its flags in memory BPF cannot read: ENOSYS makes glibc use clone. */
    if (sc_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), "clone3", 0, a, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    return rc;
}

/* The default action of a mode. */
static uint32_t sc_default_action(enum moat_sb_seccomp mode)
{
    if (mode == MOAT_SB_SECCOMP_ERRNO)
        return SCMP_ACT_ERRNO(EPERM);
    if (mode == MOAT_SB_SECCOMP_LOG)
        return SCMP_ACT_LOG;
    return SCMP_ACT_KILL_PROCESS;
}

int moat_sb_seccomp_apply(const struct moat_sandbox_cfg *cfg, struct moat_sandbox_report *rep,
                          char *err, size_t errlen)
{
    scmp_filter_ctx ctx = NULL;
    int r;
    int rc = -1;

    rep->mode = cfg->seccomp;
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL) {
        rep->seccomp = MOAT_SB_UNSUPPORTED;
        moat_sb_note(rep, "this kernel has no seccomp (not enforced)");
        rc = 0;
        goto out;
    }
    ctx = seccomp_init(sc_default_action(cfg->seccomp));
    if (ctx == NULL) {
        moat_set_err(err, errlen, "seccomp: cannot create a filter");
        goto out;
    }
    /* Every thread gets the filter; a foreign architecture's calls die;
     * errors come back as the kernel's errno. */
    r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (r == 0)
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (r == 0)
        r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
    if (r != 0) {
        moat_set_err(err, errlen, "seccomp: cannot set filter attributes: %s", strerror(-r));
        goto out;
    }
    /* The kernel logs kills anyway (audit type 1326); in "errno" mode ask it to
     * log the refusals too (best effort; clone3's ENOSYS shows up as well). */
    if (cfg->seccomp == MOAT_SB_SECCOMP_ERRNO)
        (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
    if (sc_allow_names(ctx, sc_plain, sizeof(sc_plain) / sizeof(sc_plain[0]), err, errlen) != 0)
        goto out;
    if (cfg->n_rw > 0 &&
        sc_allow_names(ctx, sc_state, sizeof(sc_state) / sizeof(sc_state[0]), err, errlen) != 0)
        goto out;
    if (sc_allow_checked(ctx, cfg, err, errlen) != 0)
        goto out;
#ifdef SC_SANITIZER
    if (sc_allow_names(ctx, sc_sanitizer, sizeof(sc_sanitizer) / sizeof(sc_sanitizer[0]), err,
                       errlen) != 0 ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                         sc_arg(0, SCMP_CMP_MASKED_EQ, CLONE_VM, CLONE_VM)) != 0) {
        moat_set_err(err, errlen, "seccomp: cannot add the sanitizer's rules");
        goto out;
    }
#endif
    r = seccomp_load(ctx);
    if (r != 0) {
        moat_set_err(err, errlen, "seccomp: cannot load the filter: %s",
                     strerror(r < 0 ? -r : ESRCH));
        goto out;
    }
    rep->seccomp = MOAT_SB_ENFORCED;
    rc = 0;
out:
    if (ctx != NULL)
        seccomp_release(ctx);
    return rc;
}
