/* test_sandbox_landlock.c - the sandbox's Landlock layer, applied in throwaway children and
 * proven enforced: allowed paths and ports work, everything else is refused. Each test says
 * SKIPPED and passes when the kernel lacks Landlock (or, for ports, ABI 4). */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "moat/sandbox.h"
#include "test_sandbox_util.h"

#define MSG 2048

static int apply_landlock(int out, struct moat_sandbox_cfg *cfg, struct moat_sandbox_report *rep)
{
    char err[256];

    CHILD_CHECK(moat_sandbox_apply(cfg, rep, err, sizeof(err)) == 0, "apply: %s", err);
    CHILD_CHECK(rep->landlock == MOAT_SB_ENFORCED, "landlock state %d (%s)", rep->landlock,
                rep->note);
    return 0;
}

static int child_landlock_fs(int out, void *arg)
{
    static struct moat_sandbox_cfg cfg;
    const struct tree *t = arg;
    struct moat_sandbox_report rep;
    struct moat_sandbox_status st;
    char buf[64], p[256], q[256];
    DIR *d;
    int fd;

    moat_sandbox_cfg_init(&cfg);
    cfg.seccomp = MOAT_SB_SECCOMP_OFF;
    CHILD_CHECK(moat_sandbox_cfg_add_ro(&cfg, t->ro) == 0 &&
                    moat_sandbox_cfg_add_rw(&cfg, t->rw) == 0,
                "cfg");
    if (apply_landlock(out, &cfg, &rep) != 0)
        return 1;
    CHILD_CHECK(slurp(t->ro_file, buf, sizeof(buf)) == 5 && strcmp(buf, "hello") == 0,
                "read allowed file");
    d = opendir(t->ro);
    CHILD_CHECK(d != NULL, "list the read-only directory");
    closedir(d);
    CHILD_CHECK(slurp("/etc/passwd", buf, sizeof(buf)) == -1 && errno == EACCES,
                "/etc/passwd must be denied");
    CHILD_CHECK(slurp(t->secret, buf, sizeof(buf)) == -1 && errno == EACCES,
                "other/ must be denied");
    CHILD_CHECK(open(t->ro_file, O_WRONLY | O_CLOEXEC) == -1 && errno == EACCES,
                "write into ro/ must be denied");
    snprintf(p, sizeof(p), "%s/new", t->ro);
    CHILD_CHECK(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) == -1 && errno == EACCES,
                "create in ro/ denied");
    CHILD_CHECK(unlink(t->ro_file) == -1 && errno == EACCES, "unlink in ro/ denied");
    CHILD_CHECK(opendir("/") == NULL && errno == EACCES, "listing / must be denied");
    snprintf(p, sizeof(p), "%s/f", t->rw);
    snprintf(q, sizeof(q), "%s/g", t->rw);
    fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHILD_CHECK(fd >= 0 && write(fd, "x", 1) == 1, "write in rw/");
    close(fd);
    CHILD_CHECK(rename(p, q) == 0 && unlink(q) == 0, "rename and unlink in rw/");
    CHILD_CHECK(moat_sandbox_status(&st) == 0 && st.no_new_privs == 1,
                "/proc/self/status readable");
    /* /proc is readable, but not another process's private files (root,
     * with CAP_SYS_PTRACE, still may: moat does not stay root). */
    snprintf(p, sizeof(p), "/proc/%d/environ", (int)getppid());
    if (geteuid() != 0)
        CHILD_CHECK(slurp(p, buf, sizeof(buf)) == -1 && errno == EACCES, "%s must be denied", p);
    return 0;
}

START_TEST(test_landlock_fs)
{
    char msg[MSG];
    struct tree t;
    int st;

    if (landlock_abi() < 1) {
        fprintf(stderr, "test_landlock_fs: SKIPPED (no Landlock in this kernel)\n");
        return;
    }
    tree_make(&t);
    st = in_child(child_landlock_fs, &t, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
    tree_remove(&t);
}
END_TEST

/* Kubernetes updates a Secret by swapping the "..data" link; an allowed
 * directory keeps the new files readable. A helper outside the sandbox swaps. */
static int child_landlock_k8s(int out, void *arg)
{
    static struct moat_sandbox_cfg cfg;
    const struct tree *t = arg;
    struct moat_sandbox_report rep;
    char buf[64], a[256], b[256];
    int go[2], status;
    pid_t pid;

    CHILD_CHECK(pipe(go) == 0, "pipe");
    pid = fork();
    CHILD_CHECK(pid >= 0, "fork");
    if (pid == 0) {
        close(go[1]);
        close(out);
        if (read(go[0], buf, 1) != 1)
            _exit(1);
        snprintf(a, sizeof(a), "%s/..v2", t->tls_dir);
        if (mkdir(a, 0755) != 0)
            _exit(1);
        snprintf(a, sizeof(a), "%s/..v2/tls.crt", t->tls_dir);
        write_file(a, "two");
        snprintf(a, sizeof(a), "%s/..data_tmp", t->tls_dir);
        snprintf(b, sizeof(b), "%s/..data", t->tls_dir);
        _exit(symlink("..v2", a) == 0 && rename(a, b) == 0 ? 0 : 1);
    }
    close(go[0]);
    moat_sandbox_cfg_init(&cfg);
    cfg.seccomp = MOAT_SB_SECCOMP_KILL;
    CHILD_CHECK(moat_sandbox_cfg_add_ro_dir_of(&cfg, t->tls_crt) == 0, "cfg");
    if (apply_landlock(out, &cfg, &rep) != 0)
        return 1;
    CHILD_CHECK(slurp(t->tls_crt, buf, sizeof(buf)) == 3 && strcmp(buf, "one") == 0,
                "read before the swap");
    CHILD_CHECK(write(go[1], "g", 1) == 1, "signal the swapper");
    CHILD_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                "swapper");
    CHILD_CHECK(slurp(t->tls_crt, buf, sizeof(buf)) == 3 && strcmp(buf, "two") == 0,
                "read after the swap: %s", buf);
    return 0;
}

START_TEST(test_landlock_k8s_secret_swap)
{
    char msg[MSG];
    struct tree t;
    int st;

    if (landlock_abi() < 1) {
        fprintf(stderr, "test_landlock_k8s_secret_swap: SKIPPED (no Landlock in this kernel)\n");
        return;
    }
    tree_make(&t);
    st = in_child(child_landlock_k8s, &t, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
    tree_remove(&t);
}
END_TEST

/* Two loopback listeners: one port allowed to connect(2), one not. */
struct net_ports {
    uint16_t allowed;  /* in connect_ports */
    uint16_t denied;   /* not */
    char abstract[32]; /* an abstract Unix socket name (after the NUL) */
};

static int tcp_connect(uint16_t port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc;

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    return rc;
}

static int child_landlock_net(int out, void *arg)
{
    static struct moat_sandbox_cfg cfg;
    const struct net_ports *np = arg;
    struct moat_sandbox_report rep;
    struct sockaddr_in sa;
    struct sockaddr_un su;
    int fd;

    moat_sandbox_cfg_init(&cfg);
    cfg.seccomp = MOAT_SB_SECCOMP_OFF; /* seccomp would refuse bind(2) itself */
    CHILD_CHECK(moat_sandbox_cfg_add_port(&cfg, 0, np->allowed) == 0, "cfg");
    if (apply_landlock(out, &cfg, &rep) != 0)
        return 1;
    CHILD_CHECK(rep.landlock_net == 1, "network rules not reported");
    CHILD_CHECK(tcp_connect(np->allowed) == 0, "connect to the allowed port");
    CHILD_CHECK(tcp_connect(np->denied) == -1 && errno == EACCES,
                "connect to port %u must be denied", (unsigned)np->denied);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHILD_CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 && errno == EACCES,
                "bind must be refused");
    close(fd);
    if (rep.landlock_abi >= 6) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        memset(&su, 0, sizeof(su));
        su.sun_family = AF_UNIX;
        memcpy(su.sun_path + 1, np->abstract, strlen(np->abstract));
        CHILD_CHECK(connect(fd, (struct sockaddr *)&su,
                            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                        strlen(np->abstract))) == -1 &&
                        errno == EPERM,
                    "abstract Unix socket outside the sandbox must be out of reach");
        close(fd);
    }
    return 0;
}

static int listen_loopback(uint16_t *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

START_TEST(test_landlock_net)
{
    struct net_ports np;
    struct sockaddr_un su;
    char msg[MSG];
    int a, b, u, st;

    if (landlock_abi() < 4) {
        fprintf(stderr, "test_landlock_net: SKIPPED (Landlock ABI %d < 4: no network rules)\n",
                landlock_abi());
        return;
    }
    memset(&np, 0, sizeof(np));
    a = listen_loopback(&np.allowed);
    b = listen_loopback(&np.denied);
    snprintf(np.abstract, sizeof(np.abstract), "moat-test-%d", (int)getpid());
    u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&su, 0, sizeof(su));
    su.sun_family = AF_UNIX;
    memcpy(su.sun_path + 1, np.abstract, strlen(np.abstract));
    ck_assert_int_eq(
        bind(u, (struct sockaddr *)&su,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(np.abstract))),
        0);
    ck_assert_int_eq(listen(u, 8), 0);
    st = in_child(child_landlock_net, &np, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
    close(a);
    close(b);
    close(u);
}
END_TEST

/* A path that does not exist is skipped with a note, not an error. */
static int child_landlock_missing(int out, void *arg)
{
    static struct moat_sandbox_cfg cfg;
    struct moat_sandbox_report rep;

    (void)arg;
    moat_sandbox_cfg_init(&cfg);
    cfg.seccomp = MOAT_SB_SECCOMP_OFF;
    cfg.resolver = 1;
    CHILD_CHECK(moat_sandbox_cfg_add_ro(&cfg, "/nonexistent/moat") == 0, "cfg");
    if (apply_landlock(out, &cfg, &rep) != 0)
        return 1;
    CHILD_CHECK(strstr(rep.note, "/nonexistent/moat does not exist") != NULL, "note: %s", rep.note);
    return 0;
}

START_TEST(test_landlock_missing_path)
{
    char msg[MSG];
    int st;

    if (landlock_abi() < 1) {
        fprintf(stderr, "test_landlock_missing_path: SKIPPED (no Landlock in this kernel)\n");
        return;
    }
    st = in_child(child_landlock_missing, NULL, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
}
END_TEST

/* A thread already running when the sandbox goes on is outside Landlock:
 * the report says so. */
static void *sleeper_thread(void *arg)
{
    struct timespec ts = {3600, 0};

    (void)arg;
    /* nanosleep, not pause(): the thread may reach its sleep after the
     * seccomp filter is on, and the allowlist has no pause(2). */
    for (;;)
        nanosleep(&ts, NULL);
    return NULL;
}

static int child_partial(int out, void *arg)
{
    static struct moat_sandbox_cfg cfg;
    struct moat_sandbox_report rep;
    char err[256];
    pthread_t th;

    (void)arg;
    CHILD_CHECK(pthread_create(&th, NULL, sleeper_thread, NULL) == 0, "pthread_create");
    moat_sandbox_cfg_init(&cfg);
    CHILD_CHECK(moat_sandbox_apply(&cfg, &rep, err, sizeof(err)) == 0, "apply: %s", err);
    CHILD_CHECK(rep.threads == 2, "threads %u", rep.threads);
    CHILD_CHECK(rep.landlock == MOAT_SB_PARTIAL, "landlock state %d", rep.landlock);
    CHILD_CHECK(rep.seccomp == MOAT_SB_ENFORCED, "seccomp state %d", rep.seccomp);
    CHILD_CHECK(strstr(rep.note, "1 thread(s)") != NULL, "note: %s", rep.note);
    return 0;
}

START_TEST(test_partial_with_threads)
{
    char msg[MSG];
    int st;

    if (landlock_abi() < 1) {
        fprintf(stderr, "test_partial_with_threads: SKIPPED (no Landlock in this kernel)\n");
        return;
    }
    st = in_child(child_partial, NULL, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
}
END_TEST

static Suite *landlock_suite(void)
{
    Suite *s = suite_create("sandbox_landlock");
    TCase *tc = tcase_create("landlock");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_landlock_fs);
    tcase_add_test(tc, test_landlock_k8s_secret_swap);
    tcase_add_test(tc, test_landlock_net);
    tcase_add_test(tc, test_landlock_missing_path);
    tcase_add_test(tc, test_partial_with_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(landlock_suite());
    int failed;

    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
