/* shutdown.h - the emergency shutdown: POST /emergency-shutdown with a Bearer
 * token stops the app, then holds the service in lockdown or makes moat exit.
 *
 * Pure policy (shutdown_policy.c, table-tested): parsing shutdown.target,
 * shutdown.mode and shutdown.signal, strict pidfile content, choosing the
 * process to signal from a list of /proc entries, and whether the endpoint may
 * be served where it is configured.
 *
 * Runtime (shutdown.c, shutdown_target.c): one struct moat_shutdown per moat,
 * created at startup, used by the admin listener's thread for each attempt
 * (moat_shutdown_handle) and by the main loop (moat_shutdown_tick):
 *   1. the rate limiter (ratelimit.h) is asked first: a locked-out client or
 *      endpoint gets 429 + Retry-After and the token is not even looked at;
 *   2. the Authorization field must be exactly one "Bearer <token68>"
 *      (token.h); the token is verified in constant time; a wrong or missing
 *      token is 401 + WWW-Authenticate: Bearer and counts as a failure;
 *   3. a correct token engages lockdown at once (the engage callback: the
 *      HTTPS listener answers 503 and /readyz 503), then the target is found
 *      (pidfile read, /proc scanned, or the child moat started) and opened as
 *      a pidfd (pidfd_open), which is what every later signal goes through,
 *      so a recycled pid is never hit; a pidfile not owned by root must
 *      name a process of its owner (moat_sd_pidfile_owner_check); the signal is sent and the answer
 * is 202 with a small JSON body saying what was signalled, or 500 with the reason when no target
 * could be signalled (lockdown stays engaged). A later correct attempt while the target is being
 * stopped answers 202 again without signalling twice; after a failure it tries again; once the
 * target is gone, a pidfile: or process: target that now names another live process (the app
 * started again by a supervisor) is stopped the same way, while the process already stopped (a
 * stale pidfile) is never signalled again.
 *   4. the main loop's tick sends SIGKILL through the same pidfd once
 *      shutdown.grace has passed and the target still lives; with
 *      shutdown.mode = exit, moat_shutdown_exit_due() then tells main to drain
 *      and exit with MOAT_SHUTDOWN_EXIT_STATUS.
 * Every attempt is one "emergency_shutdown_attempt" JSON event (client address,
 * listener, result: accepted, denied, rate_limited, disabled) and counted in
 * moat_emergency_shutdown_attempts_total{result}. Neither events, answers nor
 * errors ever contain the token (it is only ever handed to token.h).
 *
 * A signal to a process of another uid needs CAP_KILL: main keeps it across the
 * privilege drop (moat_privs_cfg.keep_kill) when the endpoint is enabled with a
 * pidfile: or process: target and moat starts as root. A target that is PID 1
 * of its PID namespace (the app's entrypoint under compose `pid: service:app`)
 * only receives signals it handles: SIGKILL from inside the namespace is
 * dropped by the kernel, so the grace-period SIGKILL cannot stop it. */
#ifndef MOAT_SHUTDOWN_H
#define MOAT_SHUTDOWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "moat/config.h"
#include "moat/metrics.h"

/* The admin path of the endpoint. */
#define MOAT_SHUTDOWN_PATH "/emergency-shutdown"
/* moat's exit status after an emergency shutdown with shutdown.mode = exit. */
#define MOAT_SHUTDOWN_EXIT_STATUS 4
/* Matching processes considered at most (process: targets). */
#define MOAT_SD_MAX_MATCHES 256
/* Largest pidfile accepted, in bytes. */
#define MOAT_SD_PIDFILE_MAX 32
/* Highest pid Linux hands out (PID_MAX_LIMIT). */
#define MOAT_SD_PID_MAX 4194304L

/* ---- pure policy (shutdown_policy.c) ---- */

/* What shutdown.target names. */
enum moat_sd_target_kind {
    MOAT_SD_CHILD = 0, /* "child": the app moat started after "--" */
    MOAT_SD_PIDFILE,   /* "pidfile:/abs/path": the pid in that file at shutdown time */
    MOAT_SD_PROCESS,   /* "process:NAME": found in /proc at shutdown time */
    MOAT_SD_NONE,      /* "none": lockdown only, nothing is signalled */
};

/* A parsed shutdown.target. */
struct moat_sd_target {
    enum moat_sd_target_kind kind; /* which target */
    char arg[MOAT_CFG_PATH];       /* PIDFILE: the absolute path; PROCESS: the name; else "" */
};

/* Parses "child", "none", "pidfile:/abs/path" (absolute, no "..", no control
 * characters, not ending in "/" or "/.") or "process:NAME" (1..255 bytes of [A-Za-z0-9._+-], not
 * starting with '-'). Returns 0, or -1 with a static reason in *why. Pure. */
int moat_sd_target_parse(const char *s, struct moat_sd_target *out, const char **why);

/* What happens after a successful shutdown. */
enum moat_sd_mode {
    MOAT_SD_LOCKDOWN = 0, /* answer 503 until moat restarts */
    MOAT_SD_EXIT,         /* drain and exit with MOAT_SHUTDOWN_EXIT_STATUS */
};

/* Parses "lockdown" or "exit". Returns 0 or -1. Pure. */
int moat_sd_mode_parse(const char *s, enum moat_sd_mode *out);

/* Parses a signal name: SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 or
 * SIGKILL, with or without "SIG", upper case. Returns 0 or -1. Pure. */
int moat_sd_signal_parse(const char *s, int *signo);

/* The name ("SIGTERM") of a signal moat_sd_signal_parse accepts, else "signal". Static. */
const char *moat_sd_signal_name(int signo);

/* Parses pidfile content buf[0..len): decimal digits without sign, spaces or
 * leading zeros, optionally followed by one "\n" (or "\r\n"), a value in
 * 1..MOAT_SD_PID_MAX, at most MOAT_SD_PIDFILE_MAX bytes. Returns 0 with *pid,
 * or -1 with a static reason in *why. Pure. */
int moat_sd_pidfile_parse(const char *buf, size_t len, long *pid, const char **why);

/* Parses the real uid from /proc/PID/status text (the line "Uid:\tREAL\tEFF..."),
 * NUL-terminated. Returns 0 with *uid, or -1. Pure. */
int moat_sd_status_uid(const char *text, long *uid);

/* True when a pidfile owned by file_uid may name a process whose real uid is
 * proc_uid: a pidfile of root's, or of moat's own uid self_uid (handed to moat
 * by its operator), names any process, anyone else's only their own (a stale
 * pidfile whose pid went to another user's process is refused). Pure. */
int moat_sd_pidfile_owner_ok(long file_uid, long proc_uid, long self_uid);

/* One process as /proc shows it (strings borrowed, NUL-terminated, may be ""). */
struct moat_sd_proc {
    long pid;          /* its pid */
    long ppid;         /* its parent's pid */
    const char *comm;  /* /proc/PID/stat's comm (at most 15 bytes) */
    const char *argv0; /* first word of /proc/PID/cmdline, "" for a kernel thread */
    const char *argv1; /* second word, "" when none */
};

/* True when p is called name: comm equals name (cut to 15 bytes, as the kernel
 * cuts comm), or the last path component of argv0 equals name, or argv0 is an
 * interpreter (python*, perl*, ruby*, node, sh, bash) and the last component of
 * argv1 equals name ("/usr/bin/python3 /usr/bin/gunicorn ..."). Pure. */
int moat_sd_proc_matches(const struct moat_sd_proc *p, const char *name);

/* Chooses the process to signal among v[0..n) for the name: of the entries
 * that match (self, moat's own pid, never does), those whose parent is not a
 * match; exactly one must remain (the gunicorn master, not its workers).
 * Returns 0 with *pid, or -1 with a one-line reason in why (no process, or
 * several unrelated ones, naming up to four pids). Pure. */
int moat_sd_proc_select(const struct moat_sd_proc *v, size_t n, const char *name, long self,
                        long *pid, char *why, size_t whylen);

/* Checks shutdown.https_path: "" (off), or an absolute path of letters,
 * digits and - . _ ~ / without empty, "." or ".." segments, not "/" and not
 * ending in "/". Returns 0, or -1 with a static reason in *why. Pure. */
int moat_sd_path_check(const char *path, const char **why);

/* True when the endpoint must not be served on the admin listener at b: plain
 * HTTP (tls == 0) on a TCP address that is not loopback (127.0.0.0/8, ::1, or
 * an IPv4-mapped loopback); a wildcard address counts as not loopback. A Unix
 * socket or "off" is never refused. Pure. */
int moat_sd_plaintext_exposed(const struct moat_bind_addr *b, int tls);

/* ---- runtime (shutdown.c) ---- */

struct moat_token;
struct moat_shutdown; /* opaque */

/* One attempt, as the listener saw it (everything borrowed for the call). */
struct moat_sd_request {
    const char *listener;      /* "admin" or "https" (for the event) */
    int family;                /* AF_INET, AF_INET6, else the limiter's shared key */
    const unsigned char *addr; /* 4 or 16 address bytes, or NULL */
    const char *client;        /* the address as text for the event, or NULL */
    const char *authorization; /* the Authorization field value, NULL when absent */
    size_t authorization_len;  /* its length */
    unsigned n_authorization;  /* how many Authorization fields (more than 1: refused) */
};

/* The answer to give. */
struct moat_sd_answer {
    int status;           /* 202, 401, 404, 429 or 500 */
    unsigned retry_after; /* 429: seconds for Retry-After, else 0 */
    int www_authenticate; /* 401: send WWW-Authenticate: Bearer */
    char body[512];       /* JSON (or "Not Found\n" for 404), NUL-terminated */
    const char *type;     /* Content-Type of body (static) */
};

/* Creates the runtime. token: the loaded token (takes ownership; NULL = the
 * endpoint is disabled). cfg and metrics are borrowed for its lifetime. The
 * shutdown.* keys must have passed the config checks. Returns NULL with a
 * message in err (bad limiter settings, out of memory); the token is freed
 * then too. Caller frees with moat_shutdown_free. */
struct moat_shutdown *moat_shutdown_new(const struct moat_config *cfg, struct moat_token *token,
                                        struct moat_metrics *metrics, char *err, size_t errlen);

/* Sets what a correct token engages at once (lockdown of the listeners), run
 * on the thread that handled the attempt, before the answer. Call before any
 * listener starts. fn may be NULL. */
void moat_shutdown_set_engage(struct moat_shutdown *sd, void (*fn)(void *arg), void *arg);

/* The child target: moat's child pid and a pidfd for it (borrowed; -1 when
 * the kernel has no pidfd_open: kill() is used, safe for an unreaped child).
 * Call before any listener starts. */
void moat_shutdown_set_child(struct moat_shutdown *sd, pid_t pid, int pidfd);

/* True when a token was loaded (the endpoint answers), else the endpoint is 404. */
int moat_shutdown_enabled(const struct moat_shutdown *sd);

/* Handles one attempt (see the top of this file): decides, signals, logs the
 * event, counts the metric and fills ans. Thread-safe; never blocks for long
 * (no sleep, no wait: the grace period is the tick's). */
void moat_shutdown_handle(struct moat_shutdown *sd, const struct moat_sd_request *rq,
                          struct moat_sd_answer *ans);

/* True once a correct token was presented (lockdown engaged). Any thread. */
int moat_shutdown_engaged(struct moat_shutdown *sd);

/* Main loop, every tick: SIGKILL once the grace period is over and the target
 * still lives; notices (and logs) the target's end. now_ms: CLOCK_MONOTONIC. */
void moat_shutdown_tick(struct moat_shutdown *sd, uint64_t now_ms);

/* True when shutdown.mode = exit, a correct token was presented and the target
 * is gone (or there was none, or it could not be signalled, or it outlived the
 * SIGKILL by 2 s): main should drain and exit with MOAT_SHUTDOWN_EXIT_STATUS. */
int moat_shutdown_exit_due(struct moat_shutdown *sd);

/* Frees everything, wiping the token. NULL is fine. */
void moat_shutdown_free(struct moat_shutdown *sd);

/* ---- target I/O (shutdown_target.c) ---- */

/* pidfd_open(pid) through the raw system call. Returns the fd, or -1 with
 * errno (ENOSYS when the kernel lacks it, ESRCH when pid is gone). */
int moat_sd_pidfd_open(pid_t pid);

/* Sends sig through pidfd (pidfd_send_signal), or with kill(pid) when pidfd
 * is -1. Returns 0, or -1 with errno. */
int moat_sd_send(int pidfd, pid_t pid, int sig);

/* True while the process lives: pidfd not yet readable (poll), or, without a
 * pidfd, kill(pid, 0) succeeding or failing with EPERM. A zombie counts as gone. */
int moat_sd_alive(int pidfd, pid_t pid);

/* Reads and parses the pidfile at path: a regular file (not a symbolic link),
 * not writable by others, at most MOAT_SD_PIDFILE_MAX bytes. Returns 0 with
 * *pid, or -1 with a one-line reason in why. */
int moat_sd_pidfile_read(const char *path, pid_t *pid, char *why, size_t whylen);

/* After pidfd_open: checks (moat_sd_pidfile_owner_ok) that the pidfile at
 * path may name the process pid that pidfd holds (-1: none), reading its real
 * uid from /proc/PID/status. Returns 0 when it may, also when /proc cannot
 * tell (hidepid, the process already gone: the signal then fails), or -1
 * with a one-line reason in why. */
int moat_sd_pidfile_owner_check(const char *path, int pidfd, pid_t pid, char *why, size_t whylen);

/* Scans /proc for the process called name (moat_sd_proc_matches) and chooses
 * one (moat_sd_proc_select, moat itself excluded). Returns 0 with *pid, or -1
 * with a one-line reason in why. */
int moat_sd_process_find(const char *name, pid_t *pid, char *why, size_t whylen);

/* True when process pid (still) matches name (moat_sd_proc_matches on its
 * /proc entry). Called once its pidfd is open: the pid may have been reused
 * between the /proc scan and pidfd_open, and the pidfd pins whatever process
 * the check then sees. */
int moat_sd_process_is(const char *name, pid_t pid);

#endif
