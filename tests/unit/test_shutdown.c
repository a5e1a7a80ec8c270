/* test_shutdown.c - unit tests of the emergency shutdown's pure policy (target, mode and signal
 * parsing, pidfile content, /proc match selection, plaintext exposure), of the runtime's
 * decisions without a target (disabled, denied, rate limited, accepted with target none) and of
 * signalling a real child through a pidfd. */
#include <check.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "moat/config.h"
#include "moat/metrics.h"
#include "moat/shutdown.h"
#include "moat/token.h"

/* ---- targets ---- */

struct target_case {
    const char *in;
    int ok;
    enum moat_sd_target_kind kind;
    const char *arg;
};

static const struct target_case target_cases[] = {
    {"child", 1, MOAT_SD_CHILD, ""},
    {"none", 1, MOAT_SD_NONE, ""},
    {"pidfile:/run/app/app.pid", 1, MOAT_SD_PIDFILE, "/run/app/app.pid"},
    {"pidfile:/a", 1, MOAT_SD_PIDFILE, "/a"},
    {"process:gunicorn", 1, MOAT_SD_PROCESS, "gunicorn"},
    {"process:uwsgi-core_2.0+x", 1, MOAT_SD_PROCESS, "uwsgi-core_2.0+x"},
    {"Child", 0, 0, NULL},
    {"", 0, 0, NULL},
    {"child ", 0, 0, NULL},
    {"pidfile:", 0, 0, NULL},
    {"pidfile:/", 0, 0, NULL},
    {"pidfile:run/app.pid", 0, 0, NULL},
    {"pidfile:/run/../etc/passwd", 0, 0, NULL},
    {"pidfile:/run/..", 0, 0, NULL},
    {"pidfile:/run/app/", 0, 0, NULL},
    {"pidfile:/run/app/.", 0, 0, NULL}, /* a directory (fuzz_shutdown_policy checks it) */
    {"pidfile:/.", 0, 0, NULL},
    {"pidfile:/run/./app.pid", 1, MOAT_SD_PIDFILE, "/run/./app.pid"},
    {"pidfile:/run/a\tb", 0, 0, NULL},
    {"process:", 0, 0, NULL},
    {"process:-9", 0, 0, NULL},
    {"process:a b", 0, 0, NULL},
    {"process:/usr/bin/gunicorn", 0, 0, NULL},
    {"process:g*", 0, 0, NULL},
    {"pid:12", 0, 0, NULL},
};

START_TEST(test_target_parse)
{
    const struct target_case *c = &target_cases[_i];
    struct moat_sd_target t;
    const char *why = NULL;
    int rc = moat_sd_target_parse(c->in, &t, &why);

    if (!c->ok) {
        ck_assert_msg(rc == -1, "%s accepted", c->in);
        ck_assert_ptr_nonnull(why);
        return;
    }
    ck_assert_msg(rc == 0, "%s: %s", c->in, why);
    ck_assert_int_eq(t.kind, c->kind);
    ck_assert_str_eq(t.arg, c->arg);
}
END_TEST

START_TEST(test_target_null)
{
    struct moat_sd_target t;
    const char *why = NULL;
    char long_name[300];

    ck_assert_int_eq(moat_sd_target_parse(NULL, &t, &why), -1);
    memset(long_name, 'a', sizeof(long_name));
    memcpy(long_name, "process:", 8);
    long_name[sizeof(long_name) - 1] = '\0';
    ck_assert_int_eq(moat_sd_target_parse(long_name, &t, &why), -1);
}
END_TEST

/* ---- mode and signal ---- */

START_TEST(test_mode_signal)
{
    enum moat_sd_mode m;
    int sig = 0;

    ck_assert_int_eq(moat_sd_mode_parse("lockdown", &m), 0);
    ck_assert_int_eq(m, MOAT_SD_LOCKDOWN);
    ck_assert_int_eq(moat_sd_mode_parse("exit", &m), 0);
    ck_assert_int_eq(m, MOAT_SD_EXIT);
    ck_assert_int_eq(moat_sd_mode_parse("Exit", &m), -1);
    ck_assert_int_eq(moat_sd_mode_parse("", &m), -1);
    ck_assert_int_eq(moat_sd_mode_parse(NULL, &m), -1);
    ck_assert_int_eq(moat_sd_signal_parse("SIGTERM", &sig), 0);
    ck_assert_int_eq(sig, SIGTERM);
    ck_assert_int_eq(moat_sd_signal_parse("TERM", &sig), 0);
    ck_assert_int_eq(sig, SIGTERM);
    ck_assert_int_eq(moat_sd_signal_parse("SIGKILL", &sig), 0);
    ck_assert_int_eq(sig, SIGKILL);
    ck_assert_int_eq(moat_sd_signal_parse("SIGQUIT", &sig), 0);
    ck_assert_int_eq(sig, SIGQUIT);
    ck_assert_int_eq(moat_sd_signal_parse("sigterm", &sig), -1);
    ck_assert_int_eq(moat_sd_signal_parse("SIGSTOP", &sig), -1);
    ck_assert_int_eq(moat_sd_signal_parse("15", &sig), -1);
    ck_assert_int_eq(moat_sd_signal_parse("SIG", &sig), -1);
    ck_assert_int_eq(moat_sd_signal_parse("", &sig), -1);
    ck_assert_int_eq(moat_sd_signal_parse(NULL, &sig), -1);
    ck_assert_str_eq(moat_sd_signal_name(SIGTERM), "SIGTERM");
    ck_assert_str_eq(moat_sd_signal_name(SIGUSR2), "SIGUSR2");
    ck_assert_str_eq(moat_sd_signal_name(SIGSEGV), "signal");
}
END_TEST

/* ---- pidfile content ---- */

struct pidfile_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    long pid;   /* 0: refused */
};

static const struct pidfile_case pidfile_cases[] = {
    {"1234", 0, 1234},
    {"1234\n", 0, 1234},
    {"1234\r\n", 0, 1234},
    {"1", 0, 1},
    {"4194304\n", 0, 4194304},
    {"4194305", 0, 0},
    {"9999999", 0, 0},
    {"12345678", 0, 0},
    {"99999999999999999999", 0, 0},
    {"0", 0, 0},
    {"0123", 0, 0},
    {"-5", 0, 0},
    {"+5", 0, 0},
    {" 5", 0, 0},
    {"5 ", 0, 0},
    {"5\n\n", 0, 0},
    {"5\n6\n", 0, 0},
    {"5x", 0, 0},
    {"0x10", 0, 0},
    {"", 0, 0},
    {"\n", 0, 0},
    {"12\0"
     "34",
     5, 0},
    {"\xef\xbc\x91\xef\xbc\x92", 0, 0}, /* full-width digits */
};

START_TEST(test_pidfile_parse)
{
    const struct pidfile_case *c = &pidfile_cases[_i];
    size_t len = c->len != 0 ? c->len : strlen(c->in);
    const char *why = NULL;
    long pid = -1;
    int rc = moat_sd_pidfile_parse(c->in, len, &pid, &why);

    if (c->pid == 0) {
        ck_assert_msg(rc == -1, "case %d accepted as %ld", _i, pid);
        ck_assert_ptr_nonnull(why);
    } else {
        ck_assert_msg(rc == 0, "case %d: %s", _i, why);
        ck_assert_int_eq(pid, c->pid);
    }
}
END_TEST

START_TEST(test_pidfile_parse_edges)
{
    char big[MOAT_SD_PIDFILE_MAX + 8];
    const char *why = NULL;
    long pid = 0;

    ck_assert_int_eq(moat_sd_pidfile_parse(NULL, 0, &pid, &why), -1);
    memset(big, '\n', sizeof(big));
    big[0] = '7';
    ck_assert_int_eq(moat_sd_pidfile_parse(big, sizeof(big), &pid, &why), -1);
}
END_TEST

/* ---- /proc matching and selection ---- */

struct match_case {
    struct moat_sd_proc p;
    const char *name;
    int match;
};

static const struct match_case match_cases[] = {
    {{10, 1, "gunicorn", "/usr/bin/python3", "/usr/bin/gunicorn"}, "gunicorn", 1},
    {{10, 1, "python3", "/usr/bin/python3", "/usr/bin/gunicorn"}, "gunicorn", 1},
    {{10, 1, "python3", "/usr/bin/python3.11", "/usr/local/bin/gunicorn"}, "gunicorn", 1},
    {{10, 1, "x", "gunicorn", ""}, "gunicorn", 1},
    {{10, 1, "x", "/opt/venv/bin/gunicorn", "-b"}, "gunicorn", 1},
    {{10, 1, "gunicorn: maste", "gunicorn: master [app:app]", ""}, "gunicorn", 0},
    {{10, 1, "bash", "/bin/bash", "/usr/bin/gunicorn"}, "gunicorn", 1},
    {{10, 1, "vim", "vim", "/usr/bin/gunicorn"}, "gunicorn", 0},
    {{10, 1, "pythonista", "pythonista", "gunicorn"}, "gunicorn", 0},
    {{10, 1, "gunicornx", "/usr/bin/gunicornx", ""}, "gunicorn", 0},
    {{10, 1, "gunicorn", "", ""}, "gunicorn", 1},
    {{10, 1, "kthreadd", "", ""}, "gunicorn", 0},
    {{10, 1, "a-very-long-pro", "/bin/a-very-long-process-name", ""},
     "a-very-long-process-name",
     1},
    {{10, 1, "a-very-long-pro", "/bin/other", ""}, "a-very-long-process-name", 1},
    {{10, 1, "a-very-long-pro", "/bin/other", ""}, "a-very-long-prox", 1},
    {{10, 1, "a-very-long-p", "/bin/other", ""}, "a-very-long-process-name", 0},
    {{10, 1, "uwsgi", "uwsgi", "--ini"}, "gunicorn", 0},
    {{10, 1, NULL, NULL, NULL}, "gunicorn", 0},
    {{10, 1, "gunicorn", "", ""}, "", 0},
};

START_TEST(test_proc_matches)
{
    const struct match_case *c = &match_cases[_i];

    ck_assert_msg(moat_sd_proc_matches(&c->p, c->name) == c->match, "case %d", _i);
}
END_TEST

/* A gunicorn master (100) with two workers, under a shell (1). */
static const struct moat_sd_proc tree_gunicorn[] = {
    {1, 0, "sh", "/bin/sh", "-c"},
    {100, 1, "gunicorn", "/usr/bin/python3", "/usr/bin/gunicorn"},
    {101, 100, "gunicorn", "/usr/bin/python3", "/usr/bin/gunicorn"},
    {102, 100, "gunicorn", "/usr/bin/python3", "/usr/bin/gunicorn"},
    {200, 1, "moat", "/usr/bin/moat", ""},
};

/* Two unrelated gunicorn masters. */
static const struct moat_sd_proc tree_two[] = {
    {100, 1, "gunicorn", "gunicorn", ""},
    {101, 100, "gunicorn", "gunicorn", ""},
    {300, 1, "gunicorn", "gunicorn", ""},
    {301, 300, "gunicorn", "gunicorn", ""},
};

/* The master is PID 1 of a shared namespace (compose pid: service:app). */
static const struct moat_sd_proc tree_pid1[] = {
    {1, 0, "gunicorn", "/usr/bin/python3", "/usr/bin/gunicorn"},
    {7, 1, "gunicorn", "/usr/bin/python3", "/usr/bin/gunicorn"},
    {8, 1, "gunicorn", "/usr/bin/python3", "/usr/bin/gunicorn"},
    {20, 0, "moat", "/usr/bin/moat", ""},
};

/* Workers whose master is gone (reparented to 1): several roots. */
static const struct moat_sd_proc tree_orphans[] = {
    {1, 0, "tini", "tini", ""},
    {101, 1, "gunicorn", "gunicorn", ""},
    {102, 1, "gunicorn", "gunicorn", ""},
};

/* moat itself is called like the target: never chosen. */
static const struct moat_sd_proc tree_self[] = {
    {50, 1, "moat", "/usr/bin/moat", ""},
    {60, 1, "moat", "/usr/bin/moat", ""},
};

/* A parent loop (cannot happen in /proc): no root, refused. */
static const struct moat_sd_proc tree_loop[] = {
    {5, 6, "app", "app", ""},
    {6, 5, "app", "app", ""},
};

struct select_case {
    const struct moat_sd_proc *v;
    size_t n;
    const char *name;
    long self;
    long want; /* 0: refused */
    const char *why;
};

#define TREE(t) t, sizeof(t) / sizeof(t[0])

static const struct select_case select_cases[] = {
    {TREE(tree_gunicorn), "gunicorn", 200, 100, NULL},
    {TREE(tree_gunicorn), "uwsgi", 200, 0, "no process named uwsgi"},
    {TREE(tree_gunicorn), "moat", 200, 0, "no process named moat"},
    {TREE(tree_two), "gunicorn", 999, 0, "2 unrelated processes named gunicorn (pids 100 300)"},
    {TREE(tree_pid1), "gunicorn", 20, 1, NULL},
    {TREE(tree_orphans), "gunicorn", 1000, 0, "2 unrelated processes named gunicorn"},
    {TREE(tree_self), "moat", 50, 60, NULL},
    {TREE(tree_loop), "app", 1, 0, "0 unrelated processes named app"},
    {NULL, 0, "gunicorn", 1, 0, "no process named gunicorn"},
};

START_TEST(test_proc_select)
{
    const struct select_case *c = &select_cases[_i];
    char why[256] = "";
    long pid = 0;
    int rc = moat_sd_proc_select(c->v, c->n, c->name, c->self, &pid, why, sizeof(why));

    if (c->want == 0) {
        ck_assert_msg(rc == -1, "case %d chose %ld", _i, pid);
        ck_assert_msg(strncmp(why, c->why, strlen(c->why)) == 0, "case %d: %s", _i, why);
    } else {
        ck_assert_msg(rc == 0, "case %d: %s", _i, why);
        ck_assert_int_eq(pid, c->want);
    }
}
END_TEST

START_TEST(test_proc_select_many)
{
    struct moat_sd_proc v[10];
    char why[64]; /* too small for every pid: cut, still terminated */
    long pid = 0;
    size_t i;

    for (i = 0; i < 10; i++) {
        v[i].pid = (long)(100 + i);
        v[i].ppid = 1;
        v[i].comm = "app";
        v[i].argv0 = "";
        v[i].argv1 = "";
    }
    ck_assert_int_eq(moat_sd_proc_select(v, 10, "app", 1, &pid, why, sizeof(why)), -1);
    ck_assert_uint_lt(strlen(why), sizeof(why));
    ck_assert_msg(strncmp(why, "10 unrelated processes named app", 32) == 0, "%s", why);
}
END_TEST

/* ---- plaintext exposure ---- */

struct plain_case {
    const char *bind;
    int tls;
    int exposed;
};

static const struct plain_case plain_cases[] = {
    {"127.0.0.1:9901", 0, 0},
    {"127.8.9.10:9901", 0, 0},
    {"[::1]:9901", 0, 0},
    {"0.0.0.0:9901", 0, 1},
    {"*:9901", 0, 1},
    {"10.0.0.5:9901", 0, 1},
    {"[::]:9901", 0, 1},
    {"[fd00::1]:9901", 0, 1},
    {"0.0.0.0:9901", 1, 0},
    {"[::]:9901", 1, 0},
    {"unix:/run/moat/admin.sock", 0, 0},
    {"off", 0, 0},
    {"[::ffff:127.0.0.1]:9901", 0, 0},
    {"[::ffff:10.0.0.1]:9901", 0, 1},
};

START_TEST(test_plaintext)
{
    const struct plain_case *c = &plain_cases[_i];
    struct moat_bind_addr b;

    ck_assert_msg(moat_config_parse_bind(c->bind, &b) == 0, "%s does not parse", c->bind);
    ck_assert_msg(moat_sd_plaintext_exposed(&b, c->tls) == c->exposed, "%s tls=%d", c->bind,
                  c->tls);
}
END_TEST

/* ---- shutdown.https_path ---- */

START_TEST(test_path_check)
{
    static const char *const good[] = {"", "/emergency-shutdown", "/.well-known/moat/stop",
                                       "/a~b_c-d.e", "/x/y/z"};
    static const char *const bad[] = {"/",  "relative", "/a/",  "/a//b", "/a/../b", "/..",
                                      "/.", "/a/./b",   "/a b", "/a?b",  "/a%2e",   "/a#b"};
    const char *why = NULL;
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(moat_sd_path_check(good[i], &why) == 0, "%s: %s", good[i], why);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(moat_sd_path_check(bad[i], &why) == -1, "%s accepted", bad[i]);
        ck_assert_ptr_nonnull(why);
    }
    ck_assert_int_eq(moat_sd_path_check(NULL, &why), 0);
}
END_TEST

/* ---- the runtime without a target ---- */

#define TOKEN "0123456789abcdefghijklmnopqrstuvwxyzABCDEF"

static void base_cfg(struct moat_config *cfg, const char *target)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->shutdown.target, sizeof(cfg->shutdown.target), "%s", target);
    snprintf(cfg->shutdown.mode, sizeof(cfg->shutdown.mode), "exit");
    snprintf(cfg->shutdown.signal, sizeof(cfg->shutdown.signal), "SIGTERM");
    cfg->shutdown.grace_ms = 100;
    cfg->shutdown.max_failures = 2;
    cfg->shutdown.global_max_failures = 20;
    cfg->shutdown.window_ms = 60000;
    cfg->shutdown.cooldown_ms = 30000;
    cfg->shutdown.max_cooldown_ms = 60000;
}

static struct moat_token *load_token(void)
{
    struct moat_token *t = NULL;
    char var[] = "MOAT_SHUTDOWN_TOKEN=" TOKEN;
    char *env[] = {var, NULL};
    char err[256];

    ck_assert_msg(moat_token_load(&t, "", env, err, sizeof(err)) == 0, "%s", err);
    ck_assert_ptr_nonnull(t);
    return t;
}

static int engaged_calls;
static void count_engage(void *arg)
{
    (void)arg;
    engaged_calls++;
}

static void attempt(struct moat_shutdown *sd, const char *auth, struct moat_sd_answer *ans)
{
    static const unsigned char addr[4] = {192, 0, 2, 7};
    struct moat_sd_request rq;

    memset(&rq, 0, sizeof(rq));
    rq.listener = "admin";
    rq.family = AF_INET;
    rq.addr = addr;
    rq.client = "192.0.2.7";
    rq.authorization = auth;
    rq.authorization_len = auth != NULL ? strlen(auth) : 0;
    rq.n_authorization = auth != NULL ? 1 : 0;
    moat_shutdown_handle(sd, &rq, ans);
}

START_TEST(test_runtime_disabled)
{
    struct moat_config cfg;
    struct moat_sd_answer ans;
    struct moat_shutdown *sd;
    char err[256];

    base_cfg(&cfg, "none");
    sd = moat_shutdown_new(&cfg, NULL, NULL, err, sizeof(err));
    ck_assert_msg(sd != NULL, "%s", err);
    ck_assert_int_eq(moat_shutdown_enabled(sd), 0);
    attempt(sd, "Bearer " TOKEN, &ans);
    ck_assert_int_eq(ans.status, 404);
    ck_assert_int_eq(moat_shutdown_engaged(sd), 0);
    moat_shutdown_free(sd);
    attempt(NULL, "Bearer " TOKEN, &ans);
    ck_assert_int_eq(ans.status, 404);
}
END_TEST

START_TEST(test_runtime_flow)
{
    struct moat_config cfg;
    struct moat_sd_answer ans;
    struct moat_shutdown *sd;
    struct moat_metrics *m = moat_metrics_new();
    char err[256];
    struct moat_sd_request rq;

    base_cfg(&cfg, "none");
    sd = moat_shutdown_new(&cfg, load_token(), m, err, sizeof(err));
    ck_assert_msg(sd != NULL, "%s", err);
    engaged_calls = 0;
    moat_shutdown_set_engage(sd, count_engage, NULL);
    ck_assert_int_eq(moat_shutdown_enabled(sd), 1);
    attempt(sd, NULL, &ans);
    ck_assert_int_eq(ans.status, 401);
    ck_assert_int_eq(ans.www_authenticate, 1);
    ck_assert_ptr_null(strstr(ans.body, TOKEN));
    /* Two Authorization fields are refused even when one is right (and count as a failure). */
    memset(&rq, 0, sizeof(rq));
    rq.family = AF_INET6;
    rq.authorization = "Bearer " TOKEN;
    rq.authorization_len = strlen(rq.authorization);
    rq.n_authorization = 2;
    moat_shutdown_handle(sd, &rq, &ans);
    ck_assert_int_eq(ans.status, 401);
    attempt(sd, "Basic " TOKEN, &ans);
    ck_assert_int_eq(ans.status, 401);
    /* The second failure of 192.0.2.7 locks it out: even the right token is 429 now. */
    attempt(sd, "Bearer " TOKEN, &ans);
    ck_assert_int_eq(ans.status, 429);
    ck_assert_uint_ge(ans.retry_after, 1);
    ck_assert_int_eq(moat_shutdown_engaged(sd), 0);
    ck_assert_int_eq(engaged_calls, 0);
    /* Another client (IPv6 shared key above failed once) with the right token. */
    rq.n_authorization = 1;
    rq.family = AF_UNIX;
    moat_shutdown_handle(sd, &rq, &ans);
    ck_assert_int_eq(ans.status, 202);
    ck_assert_msg(strstr(ans.body, "\"target\":\"none\"") != NULL, "%s", ans.body);
    ck_assert_int_eq(moat_shutdown_engaged(sd), 1);
    ck_assert_int_eq(engaged_calls, 1);
    ck_assert_int_eq(moat_shutdown_exit_due(sd), 1);
    moat_shutdown_handle(sd, &rq, &ans);
    ck_assert_int_eq(ans.status, 202);
    ck_assert_int_eq(engaged_calls, 1);
    moat_shutdown_free(sd);
    moat_metrics_free(m);
}
END_TEST

/* ---- signalling a real process through its pidfd ---- */

/* Parallel wrong attempts from one client: exactly max_failures reach the token
 * check (401), every other one is refused by the lockout (429). */
struct race_arg {
    struct moat_shutdown *sd;
    int denied; /* 401 answers seen by this thread */
    int other;  /* answers that are neither 401 nor 429 */
};

static void *race_thread(void *p)
{
    struct race_arg *a = p;
    struct moat_sd_answer ans;
    int i;

    for (i = 0; i < 50; i++) {
        attempt(a->sd, "Bearer wrong-wrong-wrong-wrong-wrong-wrong", &ans);
        if (ans.status == 401)
            a->denied++;
        else if (ans.status != 429)
            a->other++;
    }
    return NULL;
}

START_TEST(test_runtime_parallel_lockout)
{
    struct moat_config cfg;
    struct moat_shutdown *sd;
    struct race_arg args[8];
    pthread_t th[8];
    char err[256];
    int i, denied = 0;

    base_cfg(&cfg, "none");
    sd = moat_shutdown_new(&cfg, load_token(), NULL, err, sizeof(err));
    ck_assert_msg(sd != NULL, "%s", err);
    for (i = 0; i < 8; i++) {
        memset(&args[i], 0, sizeof(args[i]));
        args[i].sd = sd;
        ck_assert_int_eq(pthread_create(&th[i], NULL, race_thread, &args[i]), 0);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        denied += args[i].denied;
        ck_assert_int_eq(args[i].other, 0);
    }
    ck_assert_int_eq(denied, (int)cfg.shutdown.max_failures);
    moat_shutdown_free(sd);
}
END_TEST

START_TEST(test_signal_child_pidfd)
{
    pid_t pid = fork();
    int pidfd;
    int st = 0;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        pause();
        _exit(0);
    }
    pidfd = moat_sd_pidfd_open(pid);
    ck_assert_int_ge(pidfd, 0);
    ck_assert_int_eq(moat_sd_alive(pidfd, pid), 1);
    /* SIGKILL: the child inherited Check's SIGTERM handler (which kills the test's group). */
    ck_assert_int_eq(moat_sd_send(pidfd, pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    ck_assert_int_eq(moat_sd_alive(pidfd, pid), 0);
    /* Reaped: the pidfd still names that process, never a newcomer with its pid. */
    ck_assert_int_eq(moat_sd_send(pidfd, pid, SIGKILL), -1);
    close(pidfd);
}
END_TEST

START_TEST(test_pidfile_read)
{
    char dir[] = "/tmp/moat-sd-XXXXXX";
    char path[128];
    char link[160];
    char why[256];
    pid_t pid = 0;
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/app.pid", dir);
    snprintf(link, sizeof(link), "%s/link.pid", dir);
    ck_assert_int_eq(moat_sd_pidfile_read(path, &pid, why, sizeof(why)), -1);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "4321\n");
    fclose(f);
    ck_assert_int_eq(chmod(path, 0644), 0);
    ck_assert_msg(moat_sd_pidfile_read(path, &pid, why, sizeof(why)) == 0, "%s", why);
    ck_assert_int_eq(pid, 4321);
    ck_assert_int_eq(symlink(path, link), 0);
    ck_assert_int_eq(moat_sd_pidfile_read(link, &pid, why, sizeof(why)), -1);
    ck_assert_msg(strstr(why, "symbolic link") != NULL, "%s", why);
    ck_assert_int_eq(chmod(path, 0646), 0);
    ck_assert_int_eq(moat_sd_pidfile_read(path, &pid, why, sizeof(why)), -1);
    ck_assert_msg(strstr(why, "writable by others") != NULL, "%s", why);
    f = fopen(path, "w");
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_int_eq(moat_sd_pidfile_read(path, &pid, why, sizeof(why)), -1);
    ck_assert_msg(strstr(why, "moat itself") != NULL, "%s", why);
    f = fopen(path, "w");
    fprintf(f, "12 13\n");
    fclose(f);
    ck_assert_int_eq(moat_sd_pidfile_read(path, &pid, why, sizeof(why)), -1);
    ck_assert_int_eq(moat_sd_pidfile_read(dir, &pid, why, sizeof(why)), -1);
    unlink(link);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* /proc/PID/status: the real uid is the first number after "Uid:". */
static const struct {
    const char *text;
    int rc;
    long uid;
} status_cases[] = {
    {"Name:\tgunicorn\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t1001\t1002\t1003\n"
     "Gid:\t100\t100\t100\t100\n",
     0, 1000},
    {"Uid:\t0\t0\t0\t0\n", 0, 0},
    {"Name:\tx\nUid:\t65532\t0\t0\t0", 0, 65532},
    {"Name:\tx\nGid:\t1\t1\t1\t1\n", -1, 0}, /* no Uid line */
    {"Name:\tUid:\t5\t5\t5\t5\n", -1, 0},    /* "Uid:" only at a line start */
    {"Uid:\t-1\t0\t0\t0\n", -1, 0},          /* not a number */
    {"Uid:\t12x\t0\t0\t0\n", -1, 0},         /* trailing junk */
    {"", -1, 0},
};

START_TEST(test_status_uid)
{
    long uid = -7;
    int rc = moat_sd_status_uid(status_cases[_i].text, &uid);

    ck_assert_msg(rc == status_cases[_i].rc, "case %d: rc %d", _i, rc);
    if (rc == 0)
        ck_assert_int_eq(uid, status_cases[_i].uid);
}
END_TEST

/* Who may name which process: root's and moat's own pidfiles any, others their own only. */
static const struct {
    long file_uid, proc_uid, self_uid;
    int ok;
} owner_cases[] = {
    {0, 0, 65532, 1},    {0, 1000, 65532, 1},    {1000, 1000, 65532, 1}, {65532, 0, 65532, 1},
    {1000, 0, 65532, 0}, {1000, 1001, 65532, 0}, {12345, 0, 0, 0},       {12345, 12345, 0, 1},
};

START_TEST(test_pidfile_owner_ok)
{
    ck_assert_int_eq(moat_sd_pidfile_owner_ok(owner_cases[_i].file_uid, owner_cases[_i].proc_uid,
                                              owner_cases[_i].self_uid),
                     owner_cases[_i].ok);
}
END_TEST

START_TEST(test_process_find)
{
    char why[256];
    pid_t pid = 0;

    /* This test process is excluded (it is "self"); nothing else is called this. */
    ck_assert_int_eq(moat_sd_process_find("no-such-moat-proc", &pid, why, sizeof(why)), -1);
    ck_assert_str_eq(why, "no process named no-such-moat-proc");
}
END_TEST

/* The identity check after pidfd_open: the pid must still be the named process. */
START_TEST(test_process_is)
{
    pid_t pid = fork();
    int st, i;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 200 && !moat_sd_process_is("sleep", pid); i++)
        usleep(10000); /* until the exec is done */
    ck_assert(moat_sd_process_is("sleep", pid));
    ck_assert(!moat_sd_process_is("gunicorn", pid));
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(!moat_sd_process_is("sleep", pid)); /* gone */
}
END_TEST

static Suite *shutdown_suite(void)
{
    Suite *s = suite_create("shutdown");
    TCase *tc = tcase_create("policy");

    tcase_add_loop_test(tc, test_target_parse, 0, sizeof(target_cases) / sizeof(target_cases[0]));
    tcase_add_test(tc, test_target_null);
    tcase_add_test(tc, test_mode_signal);
    tcase_add_loop_test(tc, test_pidfile_parse, 0,
                        sizeof(pidfile_cases) / sizeof(pidfile_cases[0]));
    tcase_add_test(tc, test_pidfile_parse_edges);
    tcase_add_loop_test(tc, test_proc_matches, 0, sizeof(match_cases) / sizeof(match_cases[0]));
    tcase_add_loop_test(tc, test_proc_select, 0, sizeof(select_cases) / sizeof(select_cases[0]));
    tcase_add_test(tc, test_proc_select_many);
    tcase_add_loop_test(tc, test_plaintext, 0, sizeof(plain_cases) / sizeof(plain_cases[0]));
    tcase_add_test(tc, test_path_check);
    tcase_add_loop_test(tc, test_status_uid, 0, sizeof(status_cases) / sizeof(status_cases[0]));
    tcase_add_loop_test(tc, test_pidfile_owner_ok, 0, sizeof(owner_cases) / sizeof(owner_cases[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("runtime");
    tcase_add_test(tc, test_runtime_disabled);
    tcase_add_test(tc, test_runtime_flow);
    tcase_add_test(tc, test_runtime_parallel_lockout);
    tcase_add_test(tc, test_signal_child_pidfd);
    tcase_add_test(tc, test_pidfile_read);
    tcase_add_test(tc, test_process_find);
    tcase_add_test(tc, test_process_is);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(shutdown_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
