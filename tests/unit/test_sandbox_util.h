/* test_sandbox_util.h - runs a check in a throwaway child process (sandboxing is irreversible)
 * and brings back its exit status and what it said; a temporary file tree to sandbox.
 * Shared by test_sandbox.c, test_sandbox_landlock.c and test_privs.c. */
#ifndef MOAT_TEST_SANDBOX_UTIL_H
#define MOAT_TEST_SANDBOX_UTIL_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A check run in the child: returns 0 when everything held, else non-zero
 * after saying why with child_say(out, ...). */
typedef int (*child_fn)(int out, void *arg);

/* Writes a message to the parent (one write, so it survives a later SIGSYS). */
static inline void child_say(int out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void child_say(int out, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        (void)!write(out, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* In a child: fails the check with a message naming the line and errno. */
#define CHILD_CHECK(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            int e_ = errno;                                                                        \
            child_say(out, "line %d: ", __LINE__);                                                 \
            child_say(out, __VA_ARGS__);                                                           \
            child_say(out, " (errno %d %s)", e_, strerror(e_));                                    \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* Runs fn(out, arg) in a forked child that leaves with _exit (no atexit
 * handlers, no leak checker: the sandbox would refuse what they do). Fills msg
 * with everything the child wrote and returns its wait status, or -1. */
static inline int in_child(child_fn fn, void *arg, char *msg, size_t cap)
{
    int fds[2];
    size_t len = 0;
    ssize_t n;
    pid_t pid;
    int status = -1;

    msg[0] = '\0';
    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        _exit(fn(fds[1], arg) == 0 ? 0 : 1);
    }
    close(fds[1]);
    for (;;) {
        n = read(fds[0], msg + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || len + (size_t)n >= cap - 1) {
            if (n > 0)
                len += (size_t)n;
            break;
        }
        len += (size_t)n;
    }
    msg[len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* True when status is a clean exit 0. */
static inline int child_ok(int status)
{
    return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A temporary tree: ro/a.txt, rw/, other/secret.txt, tls/ as Kubernetes
 * mounts a Secret (tls.crt -> ..data/tls.crt, ..data -> ..v1). */
struct tree {
    char base[64];     /* mkdtemp directory */
    char ro[128];      /* read-only directory */
    char ro_file[160]; /* a file in it ("hello") */
    char rw[128];      /* writable directory */
    char secret[160];  /* a file in neither */
    char tls_dir[128]; /* the Secret's mount point */
    char tls_crt[160]; /* tls.crt as the config names it */
};

static inline void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_msg(f != NULL, "cannot create %s", path);
    fputs(text, f);
    fclose(f);
}

static inline void tree_make(struct tree *t)
{
    char p[256];

    snprintf(t->base, sizeof(t->base), "/tmp/moat-sb-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t->base));
    /* Readable by the dropped user too (privileged tests read it as 65532). */
    ck_assert_int_eq(chmod(t->base, 0755), 0);
    snprintf(t->ro, sizeof(t->ro), "%s/ro", t->base);
    snprintf(t->ro_file, sizeof(t->ro_file), "%s/a.txt", t->ro);
    snprintf(t->rw, sizeof(t->rw), "%s/rw", t->base);
    snprintf(t->secret, sizeof(t->secret), "%s/other/secret.txt", t->base);
    snprintf(t->tls_dir, sizeof(t->tls_dir), "%s/tls", t->base);
    snprintf(t->tls_crt, sizeof(t->tls_crt), "%s/tls.crt", t->tls_dir);
    ck_assert_int_eq(mkdir(t->ro, 0755), 0);
    ck_assert_int_eq(mkdir(t->rw, 0777), 0);
    snprintf(p, sizeof(p), "%s/other", t->base);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(mkdir(t->tls_dir, 0755), 0);
    snprintf(p, sizeof(p), "%s/..v1", t->tls_dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/..v1/tls.crt", t->tls_dir);
    write_file(p, "one");
    snprintf(p, sizeof(p), "%s/..data", t->tls_dir);
    ck_assert_int_eq(symlink("..v1", p), 0);
    ck_assert_int_eq(symlink("..data/tls.crt", t->tls_crt), 0);
    write_file(t->ro_file, "hello");
    write_file(t->secret, "secret");
}

static inline void tree_remove(const struct tree *t)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->base);
    ck_assert_int_eq(system(cmd), 0);
}

/* Reads path into buf (NUL-terminated). Returns bytes read or -1 (errno set). */
static inline ssize_t slurp(const char *path, char *buf, size_t cap)
{
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    n = read(fd, buf, cap - 1);
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static inline int landlock_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, 1u);

    return v < 0 ? 0 : (int)v;
}

#endif
