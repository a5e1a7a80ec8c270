/* child.h - the app moat starts itself (`moat [options] -- gunicorn app:app`),
 * supervised the way tini does it: SIGTERM, SIGINT and SIGHUP are forwarded,
 * every child (orphans too when moat is PID 1) is reaped, and moat exits with
 * the app's status when the app ends (see main.c).
 *
 * When it starts: after moat has bound its listeners, loaded its TLS material
 * and the shutdown token, and dropped privileges, but BEFORE Landlock and
 * seccomp are applied and before any thread is started. So the app:
 *   - runs as the user moat became (uid/gid 65532 when moat started as root),
 *     with no capabilities (CAP_KILL, if moat kept it, is not passed through
 *     exec) and no-new-privs set;
 *   - is under neither moat's seccomp filter nor its Landlock ruleset (both
 *     are installed in moat after the fork, and only in moat);
 *   - inherits no secret: MOAT_SHUTDOWN_TOKEN was removed from the environment
 *     when the token was loaded, the token lives only in moat's memory (gone
 *     at exec), and every descriptor above 2 is closed before exec;
 *   - inherits stdin, stdout and stderr, the environment otherwise, the
 *     working directory, and RLIMIT_CORE 0 (moat turned core dumps off before
 *     reading secrets and the hard limit cannot be raised again);
 *   - gets a default signal mask and dispositions, and PR_SET_PDEATHSIG
 *     SIGTERM so it does not outlive a moat that dies abruptly.
 * Nothing here logs a secret; errors name the command and errno. */
#ifndef MOAT_CHILD_H
#define MOAT_CHILD_H

#include <stddef.h>
#include <sys/types.h>

/* The supervised child. Zero-initialise, then moat_child_start. */
struct moat_child {
    pid_t pid;  /* its pid, 0 when none was started */
    int pidfd;  /* pidfd_open(pid), -1 when the kernel lacks it (owned) */
    int exited; /* it has ended and was reaped */
    int status; /* its wait status once exited */
};

/* Forks and executes argv[0] (searched in PATH) with argv. Returns 0 once the
 * exec succeeded, or -1 with a message in err (the command not found, not
 * executable, fork failed; the failed child is reaped). The process must be
 * single-threaded. c is caller-owned; free with moat_child_close. */
int moat_child_start(struct moat_child *c, char *const argv[], char *err, size_t errlen);

/* Sends sig to the child unless it has exited (through its pidfd, so never to
 * a recycled pid). Returns 0, or -1 with errno. */
int moat_child_signal(struct moat_child *c, int sig);

/* Reaps every ended child without waiting (waitpid(-1, WNOHANG)): moat's app
 * and, when moat is PID 1, orphans handed to it. Returns 1 when the app ended
 * during this call (c->exited and c->status set), else 0. */
int moat_child_reap(struct moat_child *c);

/* The exit status moat should end with for the child's wait status: its exit
 * code, or 128 + N when signal N killed it (as a shell reports it). */
int moat_child_exit_code(int status);

/* Logs the "child_exited" event (pid, exit_code or signal) of an ended child. */
void moat_child_log_exit(const struct moat_child *c);

/* Closes the pidfd. The child itself is left alone. */
void moat_child_close(struct moat_child *c);

#endif
