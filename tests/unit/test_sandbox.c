/* test_sandbox.c - the sandbox's pure parts and its seccomp layer, applied in throwaway
 * children and proven enforced: allowed work still works, denied calls are really denied. */
#include <check.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "moat/sandbox.h"
#include "test_sandbox_util.h"

#define MSG 2048

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#endif

/* ---- pure parts ---- */

static const struct status_case {
    const char *label; /* shown on failure */
    const char *text;  /* /proc/PID/status sample */
    int rc;            /* expected return */
    int seccomp;       /* expected Seccomp */
    int nnp;           /* expected NoNewPrivs */
    unsigned threads;  /* expected Threads */
    uint64_t eff;      /* expected CapEff */
    uint64_t bnd;      /* expected CapBnd */
} status_cases[] = {
    {"sandboxed",
     "Name:\tmoat\nThreads:\t3\nCapEff:\t0000000000000020\nCapBnd:\t0000000000000020\n"
     "NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n",
     0, 2, 1, 3, 0x20, 0x20},
    {"plain root",
     "Threads: 1\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nNoNewPrivs:\t0\n"
     "Seccomp:\t0\n",
     0, 0, 0, 1, 0x1ffffffffffULL, 0x1ffffffffffULL},
    {"no trailing newline", "NoNewPrivs:\t1\nSeccomp:\t1", 0, 1, 1, 0, 0, 0},
    {"Seccomp_filters is not Seccomp", "NoNewPrivs:\t1\nSeccomp_filters:\t2\n", -1, -1, 1, 0, 0, 0},
    {"missing NoNewPrivs", "Seccomp:\t2\n", -1, 2, -1, 0, 0, 0},
    {"out of range", "Seccomp:\t7\nNoNewPrivs:\t3\n", -1, -1, -1, 0, 0, 0},
    {"garbage", "Seccomp:\tx\nNoNewPrivs:\n", -1, -1, -1, 0, 0, 0},
    {"empty", "", -1, -1, -1, 0, 0, 0},
};

START_TEST(test_status_parse)
{
    const struct status_case *c = &status_cases[_i];
    struct moat_sandbox_status st;
    int rc = moat_sandbox_status_parse(c->text, strlen(c->text), &st);

    ck_assert_msg(rc == c->rc, "%s: rc %d", c->label, rc);
    ck_assert_msg(st.seccomp == c->seccomp, "%s: seccomp %d", c->label, st.seccomp);
    ck_assert_msg(st.no_new_privs == c->nnp, "%s: nnp %d", c->label, st.no_new_privs);
    ck_assert_msg(st.threads == c->threads, "%s: threads %u", c->label, st.threads);
    ck_assert_msg(st.cap_eff == c->eff, "%s: eff %llx", c->label, (unsigned long long)st.cap_eff);
    ck_assert_msg(st.cap_bnd == c->bnd, "%s: bnd %llx", c->label, (unsigned long long)st.cap_bnd);
}
END_TEST

START_TEST(test_status_self)
{
    struct moat_sandbox_status st;

    ck_assert_int_eq(moat_sandbox_status(&st), 0);
    ck_assert_int_ge(st.seccomp, 0);
    ck_assert_int_ge(st.threads, 1);
}
END_TEST

START_TEST(test_seccomp_parse)
{
    enum moat_sb_seccomp m;
    const char *names[] = {"off", "kill", "errno", "log"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ck_assert_int_eq(moat_sandbox_seccomp_parse(names[i], &m), 0);
        ck_assert_str_eq(moat_sandbox_seccomp_name(m), names[i]);
    }
    ck_assert_int_eq(moat_sandbox_seccomp_parse("KILL", &m), -1);
    ck_assert_int_eq(moat_sandbox_seccomp_parse("", &m), -1);
    ck_assert_int_eq(moat_sandbox_seccomp_parse(NULL, &m), -1);
    ck_assert_str_eq(moat_sandbox_seccomp_name((enum moat_sb_seccomp)9), "?");
}
END_TEST

START_TEST(test_cfg_add)
{
    static struct moat_sandbox_cfg cfg;
    struct tree t;
    char p[64];
    size_t i;

    tree_make(&t);
    moat_sandbox_cfg_init(&cfg);
    ck_assert_int_eq(cfg.landlock, 1);
    ck_assert_int_eq(cfg.seccomp, MOAT_SB_SECCOMP_KILL);
    /* The Secret's directory, and the directory the link resolves to. */
    ck_assert_int_eq(moat_sandbox_cfg_add_ro_dir_of(&cfg, t.tls_crt), 0);
    ck_assert_uint_eq(cfg.n_ro, 2);
    ck_assert_str_eq(cfg.ro[0], t.tls_dir);
    ck_assert_msg(strstr(cfg.ro[1], "/tls/..v1") != NULL, "%s", cfg.ro[1]);
    ck_assert_int_eq(moat_sandbox_cfg_add_ro_dir_of(&cfg, t.tls_crt), 0); /* duplicates ignored */
    ck_assert_uint_eq(cfg.n_ro, 2);
    ck_assert_int_eq(moat_sandbox_cfg_add_ro_dir_of(&cfg, "/x"), 0);
    ck_assert_str_eq(cfg.ro[2], "/");
    ck_assert_int_eq(moat_sandbox_cfg_add_ro_dir_of(&cfg, "bare"), 0);
    ck_assert_str_eq(cfg.ro[3], ".");
    for (i = cfg.n_ro; i < MOAT_SB_MAX_PATHS; i++) {
        snprintf(p, sizeof(p), "/nonexistent/%zu", i);
        ck_assert_int_eq(moat_sandbox_cfg_add_ro(&cfg, p), 0);
    }
    ck_assert_int_eq(moat_sandbox_cfg_add_ro(&cfg, "/one/too/many"), -1);
    ck_assert_int_eq(moat_sandbox_cfg_add_rw(&cfg, ""), -1);
    ck_assert_int_eq(moat_sandbox_cfg_add_rw(&cfg, t.rw), 0);
    ck_assert_int_eq(moat_sandbox_cfg_add_port(&cfg, 0, 8000), 0);
    ck_assert_int_eq(moat_sandbox_cfg_add_port(&cfg, 0, 8000), 0);
    ck_assert_uint_eq(cfg.n_connect, 1);
    ck_assert_int_eq(moat_sandbox_cfg_add_port(&cfg, 1, 0), -1);
    for (i = 0; i < MOAT_SB_MAX_PORTS; i++)
        ck_assert_int_eq(moat_sandbox_cfg_add_port(&cfg, 1, (uint16_t)(1000 + i)), 0);
    ck_assert_int_eq(moat_sandbox_cfg_add_port(&cfg, 1, 2000), -1);
    tree_remove(&t);
}
END_TEST

/* ---- seccomp ---- */

static void *thread_main(void *arg)
{
    *(int *)arg = 42;
    return NULL;
}

/* Applies a seccomp-only sandbox in mode. */
static int apply_seccomp(int out, enum moat_sb_seccomp mode, const char *rw)
{
    static struct moat_sandbox_cfg cfg;
    struct moat_sandbox_report rep;
    struct moat_sandbox_status st;
    char err[256];

    moat_sandbox_cfg_init(&cfg);
    cfg.landlock = 0;
    cfg.seccomp = mode;
    if (rw != NULL)
        CHILD_CHECK(moat_sandbox_cfg_add_rw(&cfg, rw) == 0, "add_rw");
    CHILD_CHECK(moat_sandbox_apply(&cfg, &rep, err, sizeof(err)) == 0, "apply: %s", err);
    CHILD_CHECK(rep.seccomp == MOAT_SB_ENFORCED, "seccomp state %d", rep.seccomp);
    CHILD_CHECK(rep.landlock == MOAT_SB_OFF, "landlock state %d", rep.landlock);
    CHILD_CHECK(moat_sandbox_status(&st) == 0, "status");
    CHILD_CHECK(st.seccomp == 2, "Seccomp: %d", st.seccomp);
    CHILD_CHECK(st.no_new_privs == 1, "NoNewPrivs: %d", st.no_new_privs);
    return 0;
}

/* Descriptors made before the filter, as moat makes its own at setup. */
struct prepared {
    int ep;    /* an epoll instance */
    int sv[2]; /* a connected socket pair */
};

static int prepare(int out, struct prepared *p)
{
    struct epoll_event ev = {.events = EPOLLIN};

    p->ep = epoll_create1(EPOLL_CLOEXEC);
    CHILD_CHECK(p->ep >= 0, "epoll_create1");
    CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->sv) == 0, "socketpair");
    CHILD_CHECK(epoll_ctl(p->ep, EPOLL_CTL_ADD, p->sv[1], &ev) == 0, "epoll_ctl");
    return 0;
}

/* What moat does at run time still works under the filter. */
static int allowed_work(int out, const struct prepared *p, const char *readable)
{
    struct epoll_event ev = {.events = EPOLLIN}, got;
    unsigned char rnd[16];
    char buf[64];
    pthread_t th;
    int fd, ep, v = 0;
    void *m;

    CHILD_CHECK(write(p->sv[0], "ping", 4) == 4, "write");
    CHILD_CHECK(epoll_wait(p->ep, &got, 1, 1000) == 1, "epoll_wait");
    CHILD_CHECK(read(p->sv[1], buf, sizeof(buf)) == 4 && memcmp(buf, "ping", 4) == 0, "read");
    CHILD_CHECK(send(p->sv[1], "pong", 4, MSG_NOSIGNAL) == 4 && recv(p->sv[0], buf, 4, 0) == 4,
                "send/recv");
    CHILD_CHECK(epoll_ctl(p->ep, EPOLL_CTL_DEL, p->sv[1], &ev) == 0, "epoll_ctl del");
    ep = epoll_create1(EPOLL_CLOEXEC);
    CHILD_CHECK(ep >= 0, "epoll_create1");
    close(ep);
    CHILD_CHECK(getrandom(rnd, sizeof(rnd), 0) == (ssize_t)sizeof(rnd), "getrandom");
    CHILD_CHECK(slurp(readable, buf, sizeof(buf)) > 0, "open %s read-only", readable);
    fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHILD_CHECK(fd >= 0, "socket(AF_INET6)");
    close(fd);
    m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(m != MAP_FAILED, "mmap rw");
    CHILD_CHECK(mprotect(m, 4096, PROT_READ) == 0, "mprotect r");
    munmap(m, 1 << 20);
    m = malloc(8u << 20); /* a large malloc goes to mmap */
    CHILD_CHECK(m != NULL, "malloc");
    free(m);
    CHILD_CHECK(pthread_create(&th, NULL, thread_main, &v) == 0, "pthread_create");
    CHILD_CHECK(pthread_join(th, NULL) == 0 && v == 42, "pthread_join");
    CHILD_CHECK(kill(getpid(), 0) == 0, "kill(self, 0)");
    return 0;
}

static int child_seccomp_kill_execve(int out, void *arg)
{
    static char arg0[] = "true";
    char *const argv[] = {arg0, NULL};
    struct prepared p;

    if (prepare(out, &p) != 0 || apply_seccomp(out, MOAT_SB_SECCOMP_KILL, NULL) != 0 ||
        allowed_work(out, &p, (const char *)arg) != 0)
        return 1;
    child_say(out, "allowed-ok");
    execve("/bin/true", argv, argv + 1);
    child_say(out, " execve returned");
    return 1;
}

START_TEST(test_seccomp_kill_execve)
{
    char msg[MSG];
    static char readable[] = "/etc/passwd";
    int st = in_child(child_seccomp_kill_execve, readable, msg, sizeof(msg));

    ck_assert_msg(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "status %#x: %s", st, msg);
    ck_assert_str_eq(msg, "allowed-ok");
}
END_TEST

static int child_seccomp_kill_mount(int out, void *arg)
{
    (void)arg;
    if (apply_seccomp(out, MOAT_SB_SECCOMP_KILL, NULL) != 0)
        return 1;
    child_say(out, "applied");
    mount("none", "/mnt", "tmpfs", 0, NULL);
    child_say(out, " mount returned");
    return 1;
}

static int child_seccomp_kill_fork(int out, void *arg)
{
    (void)arg;
    if (apply_seccomp(out, MOAT_SB_SECCOMP_KILL, NULL) != 0)
        return 1;
    child_say(out, "applied");
    if (fork() == 0)
        _exit(0);
    child_say(out, " fork returned");
    return 1;
}

START_TEST(test_seccomp_kill_others)
{
    child_fn fns[] = {child_seccomp_kill_mount, child_seccomp_kill_fork};
    char msg[MSG];
    size_t i;
    int st;

    for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        st = in_child(fns[i], NULL, msg, sizeof(msg));
        ck_assert_msg(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
                      "case %zu status %#x: %s", i, st, msg);
        ck_assert_str_eq(msg, "applied");
    }
}
END_TEST

/* In errno mode every refused call fails with EPERM and the process lives. */
static int child_seccomp_errno(int out, void *arg)
{
    static char arg0[] = "true";
    char *const argv[] = {arg0, NULL};
    struct rlimit rl = {16, 16};
    const char *dir = arg;
    struct prepared p;
    char path[256];
    void *m;

    if (prepare(out, &p) != 0 || apply_seccomp(out, MOAT_SB_SECCOMP_ERRNO, NULL) != 0 ||
        allowed_work(out, &p, "/etc/passwd") != 0)
        return 1;
    CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p.sv) == -1 && errno == EPERM, "socketpair");
    errno = 0;
    CHILD_CHECK(execve("/bin/true", argv, argv + 1) == -1 && errno == EPERM, "execve");
#ifndef SANITIZED /* the sanitizer's leak check needs ptrace and prctl: allowed in those builds */
    CHILD_CHECK(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1 && errno == EPERM, "ptrace");
    CHILD_CHECK(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1 && errno == EPERM, "prctl");
#endif
    CHILD_CHECK(mount("none", "/mnt", "tmpfs", 0, NULL) == -1 && errno == EPERM, "mount");
    CHILD_CHECK(unshare(CLONE_NEWUSER) == -1 && errno == EPERM, "unshare");
    CHILD_CHECK(fork() == -1 && errno == EPERM, "fork");
    CHILD_CHECK(syscall(SYS_clone3, NULL, 0) == -1 && errno == ENOSYS, "clone3 must say ENOSYS");
    CHILD_CHECK(socket(AF_PACKET, SOCK_RAW, 0) == -1 && errno == EPERM, "socket(AF_PACKET)");
    CHILD_CHECK(socket(AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT) == -1 && errno == EPERM,
                "NETLINK_KOBJECT_UEVENT");
    CHILD_CHECK(socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT) == -1 && errno == EPERM,
                "NETLINK_AUDIT");
    snprintf(path, sizeof(path), "%s/new", dir);
    CHILD_CHECK(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) == -1 && errno == EPERM,
                "open for writing");
    CHILD_CHECK(open("/etc/passwd", O_RDWR | O_CLOEXEC) == -1 && errno == EPERM, "open O_RDWR");
    CHILD_CHECK(mkdir(path, 0700) == -1 && errno == EPERM, "mkdir without a state dir");
    m = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(m == MAP_FAILED && errno == EPERM, "mmap W+X");
    m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(m != MAP_FAILED, "mmap rw");
    CHILD_CHECK(mprotect(m, 4096, PROT_WRITE | PROT_EXEC) == -1 && errno == EPERM, "mprotect W+X");
    CHILD_CHECK(mprotect(m, 4096, PROT_READ | PROT_EXEC) == 0, "mprotect R+X");
    CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == -1 && errno == EPERM, "setrlimit");
    CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
    CHILD_CHECK(ioctl(0, TIOCSTI, "x") == -1 && errno == EPERM, "ioctl(TIOCSTI)");
    CHILD_CHECK(syscall(SYS_setuid, 0) == -1 && errno == EPERM, "setuid");
    CHILD_CHECK(syscall(SYS_landlock_create_ruleset, NULL, 0, 1u) == -1 && errno == EPERM,
                "landlock");
    return 0;
}

START_TEST(test_seccomp_errno)
{
    char msg[MSG];
    struct tree t;
    int st;

    tree_make(&t);
    st = in_child(child_seccomp_errno, t.rw, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
    tree_remove(&t);
}
END_TEST

/* "log" lets a call outside the list through (the kernel logs it). */
static int child_seccomp_log(int out, void *arg)
{
    (void)arg;
    if (apply_seccomp(out, MOAT_SB_SECCOMP_LOG, NULL) != 0)
        return 1;
    CHILD_CHECK(getppid() > 0, "getppid should pass in log mode");
    CHILD_CHECK(syscall(SYS_getpgid, 0) >= 0, "getpgid should pass in log mode");
    return 0;
}

START_TEST(test_seccomp_log)
{
    char msg[MSG];
    int st = in_child(child_seccomp_log, NULL, msg, sizeof(msg));

    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
}
END_TEST

/* With a state directory the dev-certificate writes pass (mkostemp, fchmod,
 * fsync, rename, unlink, mkdir). */
static int child_seccomp_state(int out, void *arg)
{
    const char *dir = arg;
    char tmp[256], final[256];
    int fd;

    if (apply_seccomp(out, MOAT_SB_SECCOMP_KILL, dir) != 0)
        return 1;
    snprintf(tmp, sizeof(tmp), "%s/.cert.XXXXXX", dir);
    snprintf(final, sizeof(final), "%s/cert.pem", dir);
    fd = mkostemp(tmp, O_CLOEXEC);
    CHILD_CHECK(fd >= 0, "mkostemp");
    CHILD_CHECK(fchmod(fd, 0644) == 0 && write(fd, "x", 1) == 1 && fsync(fd) == 0, "write");
    close(fd);
    CHILD_CHECK(rename(tmp, final) == 0, "rename");
    CHILD_CHECK(mkdir(dir, 0700) == -1 && errno == EEXIST, "mkdir existing");
    CHILD_CHECK(unlink(final) == 0, "unlink");
    return 0;
}

START_TEST(test_seccomp_state_dir)
{
    char msg[MSG];
    struct tree t;
    int st;

    tree_make(&t);
    st = in_child(child_seccomp_state, t.rw, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
    tree_remove(&t);
}
END_TEST

static Suite *sandbox_suite(void)
{
    Suite *s = suite_create("sandbox");
    TCase *tc = tcase_create("pure");

    tcase_add_loop_test(tc, test_status_parse, 0,
                        (int)(sizeof(status_cases) / sizeof(status_cases[0])));
    tcase_add_test(tc, test_status_self);
    tcase_add_test(tc, test_seccomp_parse);
    tcase_add_test(tc, test_cfg_add);
    suite_add_tcase(s, tc);
    tc = tcase_create("seccomp");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_seccomp_kill_execve);
    tcase_add_test(tc, test_seccomp_kill_others);
    tcase_add_test(tc, test_seccomp_errno);
    tcase_add_test(tc, test_seccomp_log);
    tcase_add_test(tc, test_seccomp_state_dir);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sandbox_suite());
    int failed;

    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
