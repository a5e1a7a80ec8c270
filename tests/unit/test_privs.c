/* test_privs.c - dropping root, keeping CAP_KILL, no core dumps, locked secrets; each in a
 * throwaway child. The root-only cases say SKIPPED and pass when not run as root. */
#include <check.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "moat/sandbox.h"
#include "test_sandbox_util.h"

#define MSG 2048

static int need_root(const char *test)
{
    if (geteuid() == 0)
        return 1;
    fprintf(stderr, "%s: SKIPPED (needs root)\n", test);
    return 0;
}

/* ---- pure ---- */

static const struct id_case {
    const char *text; /* input */
    int rc;           /* expected return */
    uint32_t id;      /* expected id */
} id_cases[] = {
    {"65532", 0, 65532},
    {"0", 0, 0},
    {"4294967294", 0, 4294967294u},
    {"4294967295", -1, 0},
    {"99999999999", -1, 0},
    {"", -1, 0},
    {"-1", -1, 0},
    {"12a", -1, 0},
    {" 1", -1, 0},
    {"nobody", -1, 0},
};

START_TEST(test_parse_id)
{
    const struct id_case *c = &id_cases[_i];
    uint32_t id = 0;

    ck_assert_msg(moat_privs_parse_id(c->text, &id) == c->rc, "\"%s\"", c->text);
    if (c->rc == 0)
        ck_assert_uint_eq(id, c->id);
}
END_TEST

/* The ids moat would become (also what --dev as root hands its pair to):
 * numbers as given, names through the databases, unknown names refused with
 * the key and value in the message. Needs no root. */
START_TEST(test_resolve)
{
    struct moat_privs_cfg pc = {"4242", "4343", 0, 0};
    struct passwd *pw = getpwuid(0);
    char err[256] = "";
    uid_t uid = 1;
    gid_t gid = 1;

    ck_assert_int_eq(moat_privs_resolve(&pc, &uid, &gid, err, sizeof(err)), 0);
    ck_assert_uint_eq(uid, 4242);
    ck_assert_uint_eq(gid, 4343);
    pc.user = NULL;
    pc.group = NULL;
    ck_assert_int_eq(moat_privs_resolve(&pc, &uid, &gid, err, sizeof(err)), 0);
    ck_assert_uint_eq(uid, 65532);
    if (pw != NULL) {
        pc.user = pw->pw_name;
        ck_assert_int_eq(moat_privs_resolve(&pc, &uid, &gid, err, sizeof(err)), 0);
        ck_assert_uint_eq(uid, 0);
        ck_assert_uint_eq(gid, pw->pw_gid); /* no group: the user's primary group */
    }
    pc.user = "no-such-user-moat";
    ck_assert_int_eq(moat_privs_resolve(&pc, &uid, &gid, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "sandbox.user \"no-such-user-moat\": no such user (use a numeric uid)");
    pc.user = "4242";
    pc.group = "no-such-group-moat";
    ck_assert_int_eq(moat_privs_resolve(&pc, &uid, &gid, err, sizeof(err)), -1);
    ck_assert_str_eq(err,
                     "sandbox.group \"no-such-group-moat\": no such group (use a numeric gid)");
}
END_TEST

/* ---- hardening, secrets ---- */

static int child_harden(int out, void *arg)
{
    struct moat_sandbox_status st;
    struct rlimit rl;
    char err[256];

    (void)arg;
    CHILD_CHECK(moat_privs_harden(err, sizeof(err)) == 0, "harden: %s", err);
    CHILD_CHECK(moat_privs_harden(err, sizeof(err)) == 0, "harden twice: %s", err);
    CHILD_CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs");
    CHILD_CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, "dumpable");
    CHILD_CHECK(getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0 && rl.rlim_max == 0,
                "RLIMIT_CORE");
    CHILD_CHECK(moat_sandbox_status(&st) == 0 && st.no_new_privs == 1, "NoNewPrivs: %d",
                st.no_new_privs);
    return 0;
}

START_TEST(test_harden)
{
    char msg[MSG];
    int st = in_child(child_harden, NULL, msg, sizeof(msg));

    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
}
END_TEST

/* VmLck: from /proc/self/status, in kB. */
static long vm_locked_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int child_lock_secret(int out, void *arg)
{
    static unsigned char secret[100] __attribute__((aligned(4096)));
    size_t i;

    (void)arg;
    memset(secret, 0xa5, sizeof(secret));
    CHILD_CHECK(moat_privs_lock_secret(secret, sizeof(secret)) == 0, "lock");
#ifndef __SANITIZE_ADDRESS__ /* AddressSanitizer turns mlock into a no-op */
    CHILD_CHECK(vm_locked_kb() >= 4, "VmLck %ld kB", vm_locked_kb());
#endif
    moat_privs_unlock_secret(secret, sizeof(secret));
    for (i = 0; i < sizeof(secret); i++)
        CHILD_CHECK(secret[i] == 0, "byte %zu not wiped", i);
    CHILD_CHECK(vm_locked_kb() == 0, "still locked: %ld kB", vm_locked_kb());
    CHILD_CHECK(moat_privs_lock_secret(NULL, 0) == 0, "empty buffer");
    return 0;
}

START_TEST(test_lock_secret)
{
    char msg[MSG];
    int st = in_child(child_lock_secret, NULL, msg, sizeof(msg));

    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
}
END_TEST

/* lock_memory: off does nothing; auto locks (as root, or with an unlimited
 * RLIMIT_MEMLOCK) and pages then show in VmLck; on refuses a finite limit that
 * cannot be raised. */
static int child_lock_memory(int out, void *arg)
{
#ifndef __SANITIZE_ADDRESS__
    static unsigned char page[8192] __attribute__((aligned(4096)));
#endif
    struct rlimit small = {65536, 65536}, cur;
    enum moat_memlock_mode m;
    char why[256];
    int locked = 1;

    (void)arg;
    CHILD_CHECK(moat_memlock_parse("auto", &m) == 0 && m == MOAT_MEMLOCK_AUTO, "parse auto");
    CHILD_CHECK(moat_memlock_parse("on", &m) == 0 && m == MOAT_MEMLOCK_ON, "parse on");
    CHILD_CHECK(moat_memlock_parse("off", &m) == 0 && m == MOAT_MEMLOCK_OFF, "parse off");
    CHILD_CHECK(moat_memlock_parse("yes", &m) == -1 && moat_memlock_parse("", &m) == -1, "bad");
    CHILD_CHECK(moat_privs_lock_memory(MOAT_MEMLOCK_OFF, &locked, why, sizeof(why)) == 0 && !locked,
                "off");
    /* auto locks exactly when the limit is (or root could make it) unlimited */
    CHILD_CHECK(moat_privs_lock_memory(MOAT_MEMLOCK_AUTO, &locked, why, sizeof(why)) == 0, "auto");
    CHILD_CHECK(getrlimit(RLIMIT_MEMLOCK, &cur) == 0, "getrlimit");
    if (cur.rlim_cur == RLIM_INFINITY) {
        CHILD_CHECK(locked, "unlimited but not locked: %s", why);
#ifndef __SANITIZE_ADDRESS__           /* AddressSanitizer turns mlockall into a no-op */
        memset(page, 1, sizeof(page)); /* faulted in after the lock: locked now */
        CHILD_CHECK(vm_locked_kb() >= 8, "VmLck %ld kB", vm_locked_kb());
#endif
        munlockall();
    } else {
        CHILD_CHECK(!locked && strstr(why, "RLIMIT_MEMLOCK") != NULL, "finite limit: %s", why);
    }
    /* A finite limit that cannot be raised: auto declines, on refuses. */
    CHILD_CHECK(setrlimit(RLIMIT_MEMLOCK, &small) == 0, "setrlimit");
    if (geteuid() == 0)
        CHILD_CHECK(setresgid(65532, 65532, 65532) == 0 && setresuid(65532, 65532, 65532) == 0,
                    "drop");
    CHILD_CHECK(moat_privs_lock_memory(MOAT_MEMLOCK_AUTO, &locked, why, sizeof(why)) == 0 &&
                    !locked && strstr(why, "RLIMIT_MEMLOCK") != NULL,
                "auto with a small limit: %d %s", locked, why);
    CHILD_CHECK(moat_privs_lock_memory(MOAT_MEMLOCK_ON, &locked, why, sizeof(why)) == -1 && !locked,
                "on with a small limit");
    return 0;
}

START_TEST(test_lock_memory)
{
    char msg[MSG];
    int st = in_child(child_lock_memory, NULL, msg, sizeof(msg));

    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
}
END_TEST

/* ---- dropping root ---- */

/* The drop under test, and what must hold after it. */
struct drop_case {
    const char *user;  /* sandbox.user */
    const char *group; /* sandbox.group */
    int allow_root;    /* sandbox.allow_root */
    int keep_kill;     /* keep CAP_KILL */
    pid_t root_pid;    /* a process of root's to signal, 0 = none */
    uid_t uid;         /* expected uid afterwards */
    gid_t gid;         /* expected gid afterwards */
    int outcome;       /* expected enum moat_privs_outcome */
};

static int child_drop(int out, void *arg)
{
    const struct drop_case *c = arg;
    struct moat_privs_cfg cfg = {c->user, c->group, c->allow_root, c->keep_kill};
    struct moat_sandbox_status st;
    enum moat_privs_outcome oc;
    uint64_t kill_bit = 1ULL << CAP_KILL;
    uid_t r, e, s;
    char err[256];

    CHILD_CHECK(moat_privs_drop(&cfg, &oc, err, sizeof(err)) == 0, "drop: %s", err);
    CHILD_CHECK((int)oc == c->outcome, "outcome %d", (int)oc);
    CHILD_CHECK(getresuid(&r, &e, &s) == 0 && r == c->uid && e == c->uid && s == c->uid,
                "uids %u/%u/%u", (unsigned)r, (unsigned)e, (unsigned)s);
    CHILD_CHECK(getgid() == c->gid && getegid() == c->gid, "gid %u", (unsigned)getgid());
    if (oc == MOAT_PRIVS_KEPT_ROOT)
        return 0;
    CHILD_CHECK(getgroups(0, NULL) == 0, "supplementary groups left");
    errno = 0;
    CHILD_CHECK(setuid(0) == -1 && errno == EPERM, "setuid(0) must fail");
    CHILD_CHECK(moat_sandbox_status(&st) == 0, "status");
    CHILD_CHECK(st.cap_prm == (c->keep_kill ? kill_bit : 0), "CapPrm %llx",
                (unsigned long long)st.cap_prm);
    CHILD_CHECK(st.cap_eff == (c->keep_kill ? kill_bit : 0), "CapEff %llx",
                (unsigned long long)st.cap_eff);
    CHILD_CHECK(st.cap_amb == 0, "CapAmb %llx", (unsigned long long)st.cap_amb);
    if (oc == MOAT_PRIVS_DROPPED) {
        CHILD_CHECK(st.cap_bnd == (c->keep_kill ? kill_bit : 0), "CapBnd %llx",
                    (unsigned long long)st.cap_bnd);
        CHILD_CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, "dumpable again after the uid change");
    }
    if (c->root_pid > 0) {
        errno = 0;
        if (c->keep_kill)
            CHILD_CHECK(kill(c->root_pid, 0) == 0, "kill(root's process, 0) with CAP_KILL");
        else
            CHILD_CHECK(kill(c->root_pid, 0) == -1 && errno == EPERM,
                        "kill(root's process, 0) without CAP_KILL");
    }
    return 0;
}

START_TEST(test_drop_default)
{
    struct drop_case c = {NULL, NULL, 0, 0, 0, 65532, 65532, MOAT_PRIVS_DROPPED};
    char msg[MSG];
    int st;

    if (!need_root("test_drop_default"))
        return;
    st = in_child(child_drop, &c, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
}
END_TEST

START_TEST(test_drop_names)
{
    struct passwd *pw = getpwnam("nobody");
    struct group *gr = getgrnam("nogroup");
    struct drop_case c = {"nobody", "nogroup", 0, 0, 0, 0, 0, MOAT_PRIVS_DROPPED};
    struct drop_case n = {"4242", "", 0, 0, 0, 4242, 4242, MOAT_PRIVS_DROPPED};
    char msg[MSG];
    int st;

    if (!need_root("test_drop_names"))
        return;
    st = in_child(child_drop, &n, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "numeric uid, no group: status %#x: %s", st, msg);
    if (pw == NULL || gr == NULL) {
        fprintf(stderr, "test_drop_names: no nobody/nogroup here, names not tried\n");
        return;
    }
    c.uid = pw->pw_uid;
    c.gid = gr->gr_gid;
    st = in_child(child_drop, &c, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
    c.group = NULL; /* the user's primary group */
    c.gid = pw->pw_gid;
    st = in_child(child_drop, &c, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "primary group: status %#x: %s", st, msg);
}
END_TEST

/* CAP_KILL kept: a root-owned process can be signalled after the drop; not kept: EPERM. */
START_TEST(test_keep_kill)
{
    struct drop_case with = {"65532", "65532", 0, 1, 0, 65532, 65532, MOAT_PRIVS_DROPPED};
    struct drop_case without = {"65532", "65532", 0, 0, 0, 65532, 65532, MOAT_PRIVS_DROPPED};
    char msg[MSG];
    pid_t sleeper;
    int st;

    if (!need_root("test_keep_kill"))
        return;
    sleeper = fork();
    ck_assert_int_ge(sleeper, 0);
    if (sleeper == 0) {
        pause();
        _exit(0);
    }
    with.root_pid = without.root_pid = sleeper;
    st = in_child(child_drop, &with, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "keep_kill: status %#x: %s", st, msg);
    st = in_child(child_drop, &without, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "no keep_kill: status %#x: %s", st, msg);
    kill(sleeper, SIGKILL);
    waitpid(sleeper, NULL, 0);
}
END_TEST

START_TEST(test_allow_root)
{
    struct drop_case c = {NULL, NULL, 1, 0, 0, 0, 0, MOAT_PRIVS_KEPT_ROOT};
    char msg[MSG];
    int st;

    if (!need_root("test_allow_root"))
        return;
    st = in_child(child_drop, &c, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
}
END_TEST

static void *idle_thread(void *arg)
{
    (void)arg;
    pause();
    return NULL;
}

/* Refusals: a root target, an unknown name, keep_kill with threads. */
static int child_refusals(int out, void *arg)
{
    struct moat_privs_cfg cfg = {"0", NULL, 0, 0};
    enum moat_privs_outcome oc;
    char err[256];
    pthread_t th;

    (void)arg;
    CHILD_CHECK(moat_privs_drop(&cfg, &oc, err, sizeof(err)) == -1, "uid 0 accepted");
    CHILD_CHECK(strstr(err, "refusing") != NULL, "err: %s", err);
    cfg.user = "root";
    CHILD_CHECK(moat_privs_drop(&cfg, &oc, err, sizeof(err)) == -1, "root accepted");
    cfg.user = "65532";
    cfg.group = "0";
    CHILD_CHECK(moat_privs_drop(&cfg, &oc, err, sizeof(err)) == -1, "gid 0 accepted");
    cfg.group = NULL;
    cfg.user = "no-such-user-moat";
    CHILD_CHECK(moat_privs_drop(&cfg, &oc, err, sizeof(err)) == -1, "unknown user accepted");
    CHILD_CHECK(strstr(err, "sandbox.user \"no-such-user-moat\"") != NULL, "err: %s", err);
    cfg.user = "65532";
    cfg.group = "no-such-group-moat";
    CHILD_CHECK(moat_privs_drop(&cfg, &oc, err, sizeof(err)) == -1, "unknown group accepted");
    CHILD_CHECK(strstr(err, "sandbox.group") != NULL, "err: %s", err);
    CHILD_CHECK(getuid() == 0, "still root after refusals");
    cfg.group = NULL;
    cfg.keep_kill = 1;
    CHILD_CHECK(pthread_create(&th, NULL, idle_thread, NULL) == 0, "pthread_create");
    CHILD_CHECK(moat_privs_drop(&cfg, &oc, err, sizeof(err)) == -1,
                "keep_kill with threads accepted");
    CHILD_CHECK(strstr(err, "single-threaded") != NULL, "err: %s", err);
    return 0;
}

START_TEST(test_refusals)
{
    char msg[MSG];
    int st;

    if (!need_root("test_refusals"))
        return;
    st = in_child(child_refusals, NULL, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
}
END_TEST

/* Not root: nothing to drop (reached as root by becoming 65532 first, with
 * CAP_KILL left in the permitted set to see it narrowed away). */
static int child_not_root(int out, void *arg)
{
    struct moat_privs_cfg first = {"65532", NULL, 0, 1};
    struct moat_privs_cfg again = {"65532", NULL, 0, 0};
    struct moat_sandbox_status st;
    enum moat_privs_outcome oc;
    char err[256];

    (void)arg;
    CHILD_CHECK(moat_privs_drop(&first, &oc, err, sizeof(err)) == 0 && oc == MOAT_PRIVS_DROPPED,
                "%s", err);
    CHILD_CHECK(moat_privs_drop(&again, &oc, err, sizeof(err)) == 0, "again: %s", err);
    CHILD_CHECK(oc == MOAT_PRIVS_UNCHANGED, "outcome %d", (int)oc);
    CHILD_CHECK(getuid() == 65532, "uid %u", (unsigned)getuid());
    CHILD_CHECK(moat_sandbox_status(&st) == 0 && st.cap_prm == 0 && st.cap_eff == 0,
                "caps %llx/%llx", (unsigned long long)st.cap_prm, (unsigned long long)st.cap_eff);
    return 0;
}

START_TEST(test_not_root_unchanged)
{
    struct drop_case c = {NULL, NULL, 0, 0, 0, 0, 0, MOAT_PRIVS_UNCHANGED};
    char msg[MSG];
    int st;

    if (geteuid() != 0) {
        c.uid = getuid();
        c.gid = getgid();
        st = in_child(child_drop, &c, msg, sizeof(msg));
        ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
        return;
    }
    st = in_child(child_not_root, NULL, msg, sizeof(msg));
    ck_assert_msg(child_ok(st), "status %#x: %s", st, msg);
}
END_TEST

/* The whole sequence as main.c runs it: harden, drop keeping CAP_KILL,
 * sandbox; then the app (root here) can still be signalled, the certificate
 * directory read, and nothing else. */
struct full_case {
    pid_t app;      /* a root-owned process standing for the app */
    char dir[64];   /* a directory to allow read-only */
    char file[128]; /* a file in it */
};

static int child_full(int out, void *arg)
{
    static struct moat_sandbox_cfg cfg;
    static char arg0[] = "true";
    char *const argv[] = {arg0, NULL};
    const struct full_case *fc = arg;
    struct moat_privs_cfg pc = {NULL, NULL, 0, 1};
    struct moat_sandbox_report rep;
    struct moat_sandbox_status st;
    enum moat_privs_outcome oc;
    char err[256], buf[16];
    int fd;

    CHILD_CHECK(moat_privs_harden(err, sizeof(err)) == 0, "harden: %s", err);
    CHILD_CHECK(moat_privs_drop(&pc, &oc, err, sizeof(err)) == 0 && oc == MOAT_PRIVS_DROPPED,
                "drop: %s", err);
    moat_sandbox_cfg_init(&cfg);
    CHILD_CHECK(moat_sandbox_cfg_add_ro_dir_of(&cfg, fc->file) == 0, "cfg");
    CHILD_CHECK(moat_sandbox_apply(&cfg, &rep, err, sizeof(err)) == 0, "apply: %s", err);
    CHILD_CHECK(rep.seccomp == MOAT_SB_ENFORCED, "seccomp %d", rep.seccomp);
    CHILD_CHECK(rep.landlock == MOAT_SB_ENFORCED || rep.landlock == MOAT_SB_UNSUPPORTED,
                "landlock %d", rep.landlock);
    CHILD_CHECK(moat_sandbox_status(&st) == 0 && st.seccomp == 2 && st.no_new_privs == 1, "status");
    CHILD_CHECK(kill(fc->app, 0) == 0, "signal the app with CAP_KILL under the sandbox");
    fd = open(fc->file, O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) > 0, "read the allowed file");
    close(fd);
    if (rep.landlock == MOAT_SB_ENFORCED)
        CHILD_CHECK(open("/etc/hostname", O_RDONLY | O_CLOEXEC) == -1 && errno == EACCES,
                    "read elsewhere");
    child_say(out, "ok");
    execve("/bin/true", argv, argv + 1);
    return 1;
}

START_TEST(test_full_sequence)
{
    struct full_case fc;
    char msg[MSG], cmd[128];
    FILE *f;
    int st;

    if (!need_root("test_full_sequence"))
        return;
    snprintf(fc.dir, sizeof(fc.dir), "/tmp/moat-privs-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fc.dir));
    ck_assert_int_eq(chmod(fc.dir, 0755), 0);
    snprintf(fc.file, sizeof(fc.file), "%s/cert.pem", fc.dir);
    f = fopen(fc.file, "w");
    ck_assert_ptr_nonnull(f);
    fputs("cert", f);
    fclose(f);
    fc.app = fork();
    ck_assert_int_ge(fc.app, 0);
    if (fc.app == 0) {
        pause();
        _exit(0);
    }
    st = in_child(child_full, &fc, msg, sizeof(msg));
    ck_assert_msg(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "status %#x: %s", st, msg);
    ck_assert_str_eq(msg, "ok");
    kill(fc.app, SIGKILL);
    waitpid(fc.app, NULL, 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fc.dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *privs_suite(void)
{
    Suite *s = suite_create("privs");
    TCase *tc = tcase_create("privs");

    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_parse_id, 0, (int)(sizeof(id_cases) / sizeof(id_cases[0])));
    tcase_add_test(tc, test_resolve);
    tcase_add_test(tc, test_harden);
    tcase_add_test(tc, test_lock_secret);
    tcase_add_test(tc, test_lock_memory);
    tcase_add_test(tc, test_drop_default);
    tcase_add_test(tc, test_drop_names);
    tcase_add_test(tc, test_keep_kill);
    tcase_add_test(tc, test_allow_root);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_not_root_unchanged);
    tcase_add_test(tc, test_full_sequence);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(privs_suite());
    int failed;

    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
