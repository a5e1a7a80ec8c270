/* sandbox.h - self-protection once setup is over: dropping root, no core
 * dumps, locked secrets, a seccomp-bpf allowlist and a Landlock ruleset.
 *
 * Wiring into main.c (the order matters; each step is one call):
 *   1. Right after the configuration is loaded, before any secret is read:
 *        moat_privs_harden()    no new privileges, not dumpable, RLIMIT_CORE 0.
 *   2. As the starting user: load the TLS material, read the token file,
 *      resolve the upstream once, bind every listener (moat_server_new and
 *      admin_prepare bind). Nothing after step 4 may bind, exec or fork.
 *   3. moat_privs_drop()        root -> sandbox.user/sandbox.group; refuses to
 *      stay root unless sandbox.allow_root. keep_kill = 1 once the emergency
 *      shutdown must signal an app running as another user; the process must
 *      then still be single-threaded (capabilities are per thread). With --dev
 *      as root, chown the state directory and the files moat_cert_dev_ensure
 *      made to the target ids first, or the first SIGHUP cannot read the key.
 *   4. moat_sandbox_apply()     Landlock, then seccomp. Landlock binds only the
 *      calling thread and the threads it creates later (ABI 7 cannot restrict
 *      threads already running), so call it BEFORE moat_server_start() and
 *      moat_admin_start() create their threads, and before the upstream's
 *      resolver thread starts: moat_upstream_new() starts that thread today
 *      for host names, so split it (resolve in _new, start the thread in a
 *      moat_upstream_start() after this step). Threads already running are
 *      still under seccomp (TSYNC) and the uid change (glibc applies setuid to
 *      every thread); the report counts them and the log line warns "partial".
 *      Fill the moat_sandbox_cfg (moat_sandbox_cfg_init, then):
 *        ro   moat_sandbox_cfg_add_ro_dir_of() for tls.cert_file, tls.key_file,
 *             the token file and any pidfile read at run time: whole
 *             directories, so Kubernetes' "..data" swap and certbot's
 *             live/ -> archive/ links keep working;
 *        rw   moat_sandbox_cfg_add_rw(state dir) when --dev (SIGHUP may write
 *             a new certificate there); leave empty otherwise;
 *        port moat_sandbox_cfg_add_port(cfg, 0, upstream port) for a TCP
 *             upstream; no bind ports (the listeners are bound already);
 *        resolver = 1 when upstream.url names a host rather than an IP literal
 *             (reads /etc/resolv.conf, /etc/hosts, /etc/nsswitch.conf,
 *             /etc/host.conf, /etc/gai.conf; DNS may use TCP port 53);
 *        proc = 1 (default): process_* metrics and moat_sandbox_status();
 *        landlock, seccomp from [sandbox].
 *   5. moat_sandbox_log_report(&rep), then start the threads and the loop.
 *   --sandbox=off (sandbox.enabled = false) skips step 4 only: steps 1 and 3
 *   always happen (allow_root is the only way to stay root).
 *
 * Proposed configuration keys ([sandbox] section, MOAT_SANDBOX_* variables):
 *   enabled    = true     --sandbox=on|off; false skips Landlock and seccomp
 *   user       = 65532    name or uid to become when started as root
 *   group      = 65532    name or gid ("" = the user's primary group)
 *   allow_root = false    started as root: stay root (logged as a warning)
 *   seccomp    = kill     kill | errno | log | off (see enum moat_sb_seccomp)
 *   landlock   = true     apply Landlock where the kernel has it
 *
 * Nothing here allocates; every struct is caller-owned. Errors are returned as
 * -1 with a one-line message in err; "the kernel lacks it" is not an error but
 * a state in the report. */
#ifndef MOAT_SANDBOX_H
#define MOAT_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MOAT_SB_MAX_PATHS 16          /* read-only (and, separately, read-write) paths */
#define MOAT_SB_PATH 1024             /* bytes for one path */
#define MOAT_SB_MAX_PORTS 8           /* TCP ports to bind, and to connect to */
#define MOAT_PRIVS_DEFAULT_ID "65532" /* uid and gid used when none is configured */

/* ---- privileges (src/privs.c) ---- */

/* Who to become when started as root. Strings are borrowed for the call. */
struct moat_privs_cfg {
    const char *user;  /* user name or numeric uid; NULL or "" = 65532 */
    const char *group; /* group name or numeric gid; NULL or "" = the user's
                          primary group when /etc/passwd knows it, else the uid's number */
    int allow_root;    /* started as root: stay root instead of dropping (warning) */
    int keep_kill;     /* keep CAP_KILL (and nothing else) across the uid change */
};

/* What moat_privs_drop() did. */
enum moat_privs_outcome {
    MOAT_PRIVS_DROPPED = 0, /* was root; now the configured ids, root cannot be regained */
    MOAT_PRIVS_UNCHANGED,   /* was not root: ids unchanged (capabilities narrowed if any) */
    MOAT_PRIVS_KEPT_ROOT,   /* was root and allow_root: still root (warning logged) */
};

/* Parses a numeric uid/gid ("0".."4294967294", digits only). Returns 0 or -1. Pure. */
int moat_privs_parse_id(const char *s, uint32_t *id);

/* Resolves cfg->user and cfg->group to the ids moat_privs_drop() would take
 * (names through the passwd and group databases; see struct moat_privs_cfg
 * for the defaults). Returns 0, or -1 with err naming the key and value. */
int moat_privs_resolve(const struct moat_privs_cfg *cfg, uid_t *uid, gid_t *gid, char *err,
                       size_t errlen);

/* Started as root (any of real/effective/saved uid 0): clears the ambient
 * capabilities, drops the bounding set (all but CAP_KILL when keep_kill), then
 * setgroups(0), setresgid, setresuid to the configured ids, keeps only CAP_KILL
 * when asked, and verifies: all three uids and gids are the target ones, no
 * supplementary groups, setuid(0) fails, the capability sets hold nothing else.
 * Makes the process non-dumpable again (an id change resets that flag).
 * Not root: ids stay; permitted capabilities are narrowed to CAP_KILL (if
 * keep_kill and held) or nothing. Names are looked up in /etc/passwd and
 * /etc/group, so call it before Landlock. Refuses a target uid or gid of 0
 * unless allow_root. keep_kill needs a single-threaded process. Returns 0
 * with *outcome set, or -1 with err set: the caller must exit. */
int moat_privs_drop(const struct moat_privs_cfg *cfg, enum moat_privs_outcome *outcome, char *err,
                    size_t errlen);

/* Sets PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0 and RLIMIT_CORE 0 (soft and
 * hard). Idempotent. Returns 0, or -1 with err set. */
int moat_privs_harden(char *err, size_t errlen);

/* Locks the pages holding buf[0..len) in RAM (mlock) and excludes them from
 * core dumps (MADV_DONTDUMP on the whole pages). The buffer stays the caller's.
 * Returns 0, or -1 (errno from mlock: ENOMEM/EPERM when RLIMIT_MEMLOCK is too
 * small) with nothing locked. */
int moat_privs_lock_secret(void *buf, size_t len);

/* Wipes buf[0..len) and unlocks its pages (the other half of lock_secret). */
void moat_privs_unlock_secret(void *buf, size_t len);

/* sandbox.lock_memory: keep every page of moat out of swap. */
enum moat_memlock_mode {
    MOAT_MEMLOCK_AUTO = 0, /* lock when RLIMIT_MEMLOCK allows it (or root can raise it) */
    MOAT_MEMLOCK_ON,       /* lock, or refuse to start */
    MOAT_MEMLOCK_OFF,      /* do not lock */
};

/* Parses "auto", "on", "off". Returns 0, or -1 when unknown. Pure. */
int moat_memlock_parse(const char *s, enum moat_memlock_mode *out);

/* Locks the whole process in RAM, so that no secret moat or its libraries hold
 * (the TLS private keys inside GnuTLS, session keys, the ticket key, the
 * shutdown token) is ever written to swap: mlockall(MCL_CURRENT | MCL_FUTURE |
 * MCL_ONFAULT), pages locked as they are first touched, so RSS does not grow.
 * Root first raises RLIMIT_MEMLOCK to unlimited (it stays so after the
 * privilege drop); otherwise the lock is only taken when the limit is
 * already unlimited, since a finite one could later make allocations fail.
 * Not inherited by children (fork, exec). *locked says whether it was taken;
 * why (cap bytes) says why not. Returns 0, or -1 (mode ON and not locked). */
int moat_privs_lock_memory(enum moat_memlock_mode mode, int *locked, char *why, size_t cap);

/* ---- seccomp and Landlock (src/sandbox*.c) ---- */

/* What the seccomp filter does with a system call outside the allowlist. */
enum moat_sb_seccomp {
    MOAT_SB_SECCOMP_OFF = 0, /* no filter */
    MOAT_SB_SECCOMP_KILL,    /* "kill": the whole process dies with SIGSYS (default) */
    MOAT_SB_SECCOMP_ERRNO,   /* "errno": the call fails with EPERM (debugging) */
    MOAT_SB_SECCOMP_LOG,     /* "log": the call is allowed and the kernel logs it
                                (audit / dmesg "type=1326"): to find a missing entry */
};

/* Parses "kill", "errno", "log", "off". Returns 0, or -1 when unknown. Pure. */
int moat_sandbox_seccomp_parse(const char *s, enum moat_sb_seccomp *out);

/* The name of a mode ("kill", ...). Static string. */
const char *moat_sandbox_seccomp_name(enum moat_sb_seccomp mode);

/* What to allow once sandboxed. Fill with moat_sandbox_cfg_init and the add
 * functions; the struct owns copies of the paths. */
struct moat_sandbox_cfg {
    int landlock;                              /* apply Landlock (best effort) */
    enum moat_sb_seccomp seccomp;              /* seccomp mode */
    int resolver;                              /* upstream host name resolved at run time */
    int proc;                                  /* read /proc: metrics, status (all of it) */
    char ro[MOAT_SB_MAX_PATHS][MOAT_SB_PATH];  /* read-only files or directory trees */
    size_t n_ro;                               /* entries used in ro */
    char rw[MOAT_SB_MAX_PATHS][MOAT_SB_PATH];  /* read-write directory trees (state) */
    size_t n_rw;                               /* entries used in rw */
    uint16_t bind_ports[MOAT_SB_MAX_PORTS];    /* TCP ports bind(2) may use */
    size_t n_bind;                             /* entries used in bind_ports */
    uint16_t connect_ports[MOAT_SB_MAX_PORTS]; /* TCP ports connect(2) may reach */
    size_t n_connect;                          /* entries used in connect_ports */
};

/* Defaults: Landlock on, seccomp "kill", proc on, no resolver, no paths/ports. */
void moat_sandbox_cfg_init(struct moat_sandbox_cfg *cfg);

/* Adds a read-only path (file or directory tree) as given, and, when it is a
 * symbolic link, its resolved target too. Returns 0, or -1 when the table is
 * full or the path too long. */
int moat_sandbox_cfg_add_ro(struct moat_sandbox_cfg *cfg, const char *path);

/* Adds the directory holding file (read-only), and the directory holding its
 * resolved target when that differs (certbot's live/ -> archive/ links).
 * Returns 0 or -1 (table full, path too long). */
int moat_sandbox_cfg_add_ro_dir_of(struct moat_sandbox_cfg *cfg, const char *file);

/* Adds a read-write directory tree (the state directory). Returns 0 or -1. */
int moat_sandbox_cfg_add_rw(struct moat_sandbox_cfg *cfg, const char *dir);

/* Adds a TCP port that bind(2) (bind != 0) or connect(2) may use. Duplicates
 * are ignored. Returns 0, or -1 when full or port is 0. */
int moat_sandbox_cfg_add_port(struct moat_sandbox_cfg *cfg, int bind, uint16_t port);

/* How one layer ended up. */
enum moat_sb_state {
    MOAT_SB_OFF = 0,     /* not asked for */
    MOAT_SB_ENFORCED,    /* in force for the whole process */
    MOAT_SB_PARTIAL,     /* in force, but not everywhere (see note) */
    MOAT_SB_UNSUPPORTED, /* the kernel lacks it: not enforced (see note) */
};

/* The outcome of moat_sandbox_apply(), for the log. */
struct moat_sandbox_report {
    enum moat_sb_state landlock; /* Landlock */
    int landlock_abi;            /* the kernel's Landlock ABI, 0 when none */
    int landlock_net;            /* TCP bind/connect rules in force (ABI >= 4) */
    enum moat_sb_state seccomp;  /* seccomp filter */
    enum moat_sb_seccomp mode;   /* its mode */
    unsigned threads;            /* threads in the process when applied */
    char note[512];              /* why something is partial or missing; "" when all is well */
};

/* Applies, in this order: PR_SET_NO_NEW_PRIVS, the Landlock ruleset (calling
 * thread and the threads it creates later), the seccomp filter (every thread).
 * Missing kernel support is reported in rep, not as an error; a missing path
 * is skipped with a note. Irreversible. Returns 0, or -1 with err set when a
 * supported layer could not be installed (the caller must exit). */
int moat_sandbox_apply(const struct moat_sandbox_cfg *cfg, struct moat_sandbox_report *rep,
                       char *err, size_t errlen);

/* Logs rep as one "sandbox" event (info; warn when partial or unsupported),
 * with the Seccomp:/NoNewPrivs: values read back from /proc/self/status. */
void moat_sandbox_log_report(const struct moat_sandbox_report *rep);

/* Facts about this process from /proc/self/status. */
struct moat_sandbox_status {
    int seccomp;      /* "Seccomp:" 0 none, 1 strict, 2 filter; -1 unknown */
    int no_new_privs; /* "NoNewPrivs:" 0 or 1; -1 unknown */
    unsigned threads; /* "Threads:", 0 unknown */
    uint64_t cap_prm; /* "CapPrm:" permitted capabilities */
    uint64_t cap_eff; /* "CapEff:" effective capabilities */
    uint64_t cap_bnd; /* "CapBnd:" bounding set */
    uint64_t cap_amb; /* "CapAmb:" ambient set */
};

/* Parses the text of /proc/PID/status (len bytes, need not be NUL-terminated).
 * Fields absent from the text keep their "unknown" value. Returns 0 when at
 * least Seccomp: and NoNewPrivs: were found, else -1. Pure. */
int moat_sandbox_status_parse(const char *text, size_t len, struct moat_sandbox_status *st);

/* Reads and parses /proc/self/status. Returns 0, or -1 (unreadable or
 * incomplete; st then holds what was found). */
int moat_sandbox_status(struct moat_sandbox_status *st);

#endif
