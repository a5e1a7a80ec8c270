/* child.c - starting the app after "--", forwarding signals to it and reaping
 * children, as a minimal init (tini) does. */
#include "moat/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "moat/log.h"
#include "moat/shutdown.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* In the child before exec: a clean signal state, a parent-death signal, no
 * descriptors but 0-2 (and the error pipe, close-on-exec). Async-signal-safe
 * calls only. */
static void child_prepare(int err_fd, pid_t parent)
{
    struct rlimit rl;
    sigset_t none;
    int sig;
    int fd;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
    if (getppid() != parent)
        _exit(127); /* moat is already gone */
    if ((err_fd > 3 && syscall(SYS_close_range, 3, err_fd - 1, 0) != 0) ||
        syscall(SYS_close_range, err_fd + 1, ~0U, 0) != 0) {
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > 65536)
            rl.rlim_cur = 65536;
        for (fd = 3; fd < (int)rl.rlim_cur; fd++)
            if (fd != err_fd)
                close(fd);
    }
}

int moat_child_start(struct moat_child *c, char *const argv[], char *err, size_t errlen)
{
    pid_t parent = getpid();
    int pipefd[2] = {-1, -1};
    int child_errno = 0;
    ssize_t n;
    int st;
    int rc = -1;

    memset(c, 0, sizeof(*c));
    c->pidfd = -1;
    if (argv == NULL || argv[0] == NULL) {
        moat_set_err(err, errlen, "no command to start");
        goto out;
    }
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        moat_set_err(err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }
    c->pid = fork();
    if (c->pid < 0) {
        moat_set_err(err, errlen, "cannot start %s: fork: %s", argv[0], strerror(errno));
        c->pid = 0;
        goto out;
    }
    if (c->pid == 0) {
        close(pipefd[0]);
        child_prepare(pipefd[1], parent);
        execvp(argv[0], argv);
        child_errno = errno;
        n = write(pipefd[1], &child_errno, sizeof(child_errno));
        (void)n;
        _exit(127);
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    /* EOF (the pipe closed at exec) means the exec worked. */
    do {
        n = read(pipefd[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(child_errno)) {
        moat_set_err(err, errlen, "cannot start %s: %s", argv[0], strerror(child_errno));
        while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
            ;
        c->pid = 0;
        goto out;
    }
    /* Unreaped, the pid cannot be reused: the pidfd names this child. */
    c->pidfd = moat_sd_pidfd_open(c->pid);
    rc = 0;
out:
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    return rc;
}

int moat_child_signal(struct moat_child *c, int sig)
{
    if (c->pid <= 0 || c->exited) {
        errno = ESRCH;
        return -1;
    }
    return moat_sd_send(c->pidfd, c->pid, sig);
}

int moat_child_reap(struct moat_child *c)
{
    pid_t p;
    int st;
    int ended = 0;

    for (;;) {
        p = waitpid(-1, &st, WNOHANG);
        if (p < 0 && errno == EINTR)
            continue;
        if (p <= 0)
            break;
        if (c != NULL && c->pid > 0 && p == c->pid && !c->exited) {
            c->exited = 1;
            c->status = st;
            ended = 1;
        }
    }
    return ended;
}

int moat_child_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

void moat_child_log_exit(const struct moat_child *c)
{
    struct moat_logline l;

    moat_logline_begin(&l, MOAT_LOG_INFO, "child_exited");
    moat_logline_int(&l, "pid", (long long)c->pid);
    if (WIFEXITED(c->status))
        moat_logline_int(&l, "exit_code", WEXITSTATUS(c->status));
    else if (WIFSIGNALED(c->status))
        moat_logline_str(&l, "signal", strsignal(WTERMSIG(c->status)));
    moat_logline_end(&l);
}

void moat_child_close(struct moat_child *c)
{
    if (c->pidfd >= 0)
        close(c->pidfd);
    c->pidfd = -1;
}
