/* test_shutdown.c - integration tests of the emergency shutdown with the real binary, the sandbox
 * on (the default) and, when the tests run as root, moat dropping to uid 65532: a correct token
 * stops a real gunicorn app in each target mode (child, pidfile, process, none) and a wrong one
 * does not; lockout engages (429 + Retry-After) and expires; lockdown answers 503 with the
 * security headers and /readyz 503; exit mode exits with status 4; the token is scrubbed from
 * /proc/PID/environ (moat's and the app's) and never appears in the log; the endpoint is 404
 * without a token and 405 for other methods; a short token and a plain-HTTP admin listener off
 * loopback refuse to start; the child's exit status becomes moat's and the child runs outside
 * moat's seccomp filter. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "harness.h"

#define TOKEN "Zq3-vT8.kL2_mN5~pR7+wX1/yB4cD6eF9gH0jK3s"
#define GUNICORN "/usr/bin/gunicorn"

/* ------------------------------------------------------------------ helpers */

/* "MOAT_SHUTDOWN_TOKEN=<TOKEN>" for moat's environment. */
static const char token_env[] = "MOAT_SHUTDOWN_TOKEN=" TOKEN;

/* POST /emergency-shutdown on moat's admin listener with the Authorization value auth (NULL:
 * none); the whole response into r. */
static void shutdown_post(const struct h_moat *m, const char *auth, struct h_resp *r)
{
    char raw[1024];

    if (auth != NULL)
        snprintf(raw, sizeof(raw),
                 "POST /emergency-shutdown HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                 "Content-Length: 0\r\nConnection: close\r\n\r\n",
                 auth);
    else
        snprintf(raw, sizeof(raw),
                 "POST /emergency-shutdown HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n");
    ck_assert_int_eq(harness_admin_request(m, raw, r), 0);
}

/* The correct token's POST is accepted (202); the response is not needed further. */
static void post_accepted(const struct h_moat *m)
{
    struct h_resp r;

    shutdown_post(m, "Bearer " TOKEN, &r);
    ck_assert_int_eq(r.status, 202);
    harness_resp_free(&r);
}

/* Occurrences of needle in moat's log. */
static size_t log_count(const struct h_moat *m, const char *needle)
{
    char *log = harness_moat_log(m);
    size_t n = harness_count(log, needle);

    free(log);
    return n;
}

/* Asserts that moat's log and /metrics output never contain the token. */
static void assert_no_token_leak(const struct h_moat *m)
{
    char *log = harness_moat_log(m);

    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strstr(log, TOKEN) == NULL, "the token is in moat's log");
    ck_assert_msg(strstr(log, "Zq3-vT8") == NULL, "part of the token is in moat's log");
    free(log);
}

/* Asserts /proc/PID/environ does not hold the token variable nor its value. */
static void assert_environ_clean(pid_t pid)
{
    char path[64];
    size_t len = 0, i;
    char *env;

    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    env = harness_read_file(path, &len);
    ck_assert_msg(env != NULL, "cannot read %s", path);
    for (i = 0; i < len; i++)
        if (env[i] == '\0')
            env[i] = '\n';
    ck_assert_msg(strstr(env, "MOAT_SHUTDOWN_TOKEN") == NULL, "%s names the token variable", path);
    ck_assert_msg(strstr(env, TOKEN) == NULL, "%s holds the token", path);
    free(env);
}

/* The value of "key":N in moat's log line for event (first one), or -1. */
static long log_event_number(const struct h_moat *m, const char *event, const char *key)
{
    char *log = harness_moat_log(m);
    char needle[128];
    char v[64];
    char *line;
    char *end;
    long n = -1;

    snprintf(needle, sizeof(needle), "\"event\":\"%s\"", event);
    line = log != NULL ? strstr(log, needle) : NULL;
    if (line != NULL) {
        end = strchr(line, '\n');
        if (end != NULL)
            *end = '\0';
        if (harness_json_get(line, key, v, sizeof(v)) == 0)
            n = strtol(v, NULL, 10);
    }
    free(log);
    return n;
}

/* Waits until GET / through moat answers want (at most timeout_ms). Returns 1 when it did. */
static int wait_status(const struct h_moat *m, int want, int timeout_ms)
{
    uint64_t end = harness_now_ms() + (uint64_t)timeout_ms;
    struct h_resp r;
    int got;

    for (;;) {
        memset(&r, 0, sizeof(r));
        harness_request(m->port, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                        &r, 5000, NULL);
        got = r.status;
        harness_resp_free(&r);
        if (got == want)
            return 1;
        if (harness_now_ms() > end)
            return 0;
        harness_sleep_ms(100);
    }
}

/* Waits until pid is gone (kill(pid, 0) fails with ESRCH), at most timeout_ms. */
static int wait_gone(pid_t pid, int timeout_ms)
{
    uint64_t end = harness_now_ms() + (uint64_t)timeout_ms;

    while (harness_now_ms() <= end) {
        if (!harness_proc_alive(pid) || (kill(pid, 0) != 0 && errno == ESRCH))
            return 1;
        harness_sleep_ms(50);
    }
    return 0;
}

/* Asserts the lockdown answers: 503 with the security headers on HTTPS, /readyz 503. */
static void assert_lockdown(const struct h_moat *m)
{
    struct h_resp r;

    ck_assert_int_eq(
        harness_request(m->port, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                        &r, 0, NULL),
        0);
    ck_assert_int_eq(r.status, 503);
    ck_assert_ptr_nonnull(harness_resp_header(&r, "Strict-Transport-Security"));
    ck_assert_ptr_nonnull(harness_resp_header(&r, "X-Content-Type-Options"));
    ck_assert_ptr_nonnull(harness_resp_header(&r, "Content-Security-Policy"));
    harness_resp_free(&r);
    h_admin_get(m, "/readyz", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_msg(strstr((const char *)r.body, "lockdown") != NULL, "readyz: %s",
                  (const char *)r.body);
    harness_resp_free(&r);
}

/* Asserts a 401 with WWW-Authenticate: Bearer for auth. */
static void assert_denied(const struct h_moat *m, const char *auth)
{
    struct h_resp r;
    const char *www;

    shutdown_post(m, auth, &r);
    ck_assert_int_eq(r.status, 401);
    www = harness_resp_header(&r, "WWW-Authenticate");
    ck_assert_msg(www != NULL && strncmp(www, "Bearer", 6) == 0, "WWW-Authenticate: %s",
                  www != NULL ? www : "(none)");
    harness_resp_free(&r);
}

/* Starts gunicorn on a free port running the test app, its executable called name (a symbolic
 * link to gunicorn in the temp dir, so that /proc shows that name). Returns the master's pid
 * and the port in *port. */
static pid_t start_named_gunicorn(const char *name, int *port)
{
    static char bind[64];
    static char appdir[H_PATH];
    static char exe[H_PATH];
    static char log[H_PATH];
    const char *argv[] = {
        exe, "--bind",      bind,   "--workers",   "2", "--chdir", appdir, "--graceful-timeout",
        "2", "--log-level", "info", "testapp:app", NULL};
    const char *env[] = {"PYTHONDONTWRITEBYTECODE=1", NULL};
    struct h_spawn s;
    pid_t pid;
    int i;

    *port = harness_free_port();
    ck_assert_int_gt(*port, 0);
    snprintf(bind, sizeof(bind), "127.0.0.1:%d", *port);
    snprintf(appdir, sizeof(appdir), "%s/tests/integration/app", harness_source_dir());
    harness_path(exe, sizeof(exe), name);
    harness_path(log, sizeof(log), "app.log");
    ck_assert_int_eq(symlink(GUNICORN, exe), 0);
    memset(&s, 0, sizeof(s));
    s.argv = argv;
    s.env = env;
    s.err_path = log;
    s.own_group = 1;
    pid = harness_spawn(&s);
    ck_assert_int_gt(pid, 0);
    for (i = 0; i < 300; i++) {
        if (harness_file_wait(log, "Booting worker", 1, 100))
            break;
        ck_assert_msg(harness_proc_alive(pid), "gunicorn exited");
    }
    ck_assert_msg(harness_file_wait(log, "Listening at", 1, 100), "gunicorn did not start");
    return pid;
}

/* ------------------------------------------------------------------ targets */

/* child: moat starts gunicorn itself; a wrong token changes nothing, the right one stops it;
 * lockdown then holds (moat stays up) until SIGTERM, and the exit status is 0. */
START_TEST(test_child_target)
{
    char bind[64];
    char appdir[H_PATH];
    const char *args[] = {"--",      GUNICORN, "--bind",      bind,   "--workers",   "2",
                          "--chdir", appdir,   "--log-level", "info", "testapp:app", NULL};
    const char *env[] = {token_env, NULL};
    struct h_moat_opts o;
    struct h_moat m;
    struct h_resp r;
    char url[64];
    char v[64];
    long child;
    int port = harness_free_port();

    ck_assert_int_gt(port, 0);
    snprintf(bind, sizeof(bind), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    snprintf(appdir, sizeof(appdir), "%s/tests/integration/app", harness_source_dir());
    memset(&o, 0, sizeof(o));
    o.upstream = url;
    o.args = args;
    o.env = env;
    ck_assert_msg(harness_moat_start(&m, &o) == 0, "moat did not start");
    ck_assert_msg(wait_status(&m, 200, 20000), "the app never answered through moat");
    child = log_event_number(&m, "child_started", "pid");
    ck_assert_int_gt(child, 1);
    assert_environ_clean(m.pid);
    assert_environ_clean((pid_t)child);

    assert_denied(&m, "Bearer Zq3-vT8.kL2_mN5~pR7+wX1/yB4cD6eF9gH0jK3t");
    assert_denied(&m, NULL);
    ck_assert_msg(wait_status(&m, 200, 5000), "a wrong token disturbed the app");
    ck_assert_int_eq(kill((pid_t)child, 0), 0);

    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_int_eq(r.status, 202);
    ck_assert_str_eq(harness_resp_header(&r, "Content-Type"), "application/json");
    ck_assert_int_eq(harness_json_get((const char *)r.body, "pid", v, sizeof(v)), 0);
    ck_assert_int_eq(strtol(v, NULL, 10), child);
    ck_assert_int_eq(harness_json_get((const char *)r.body, "signal", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "SIGTERM");
    harness_resp_free(&r);
    ck_assert_msg(harness_file_wait(m.log, "\"event\":\"child_exited\"", 1, 15000),
                  "the app did not stop");
    ck_assert_msg(kill((pid_t)child, 0) != 0, "the app is still there");
    assert_lockdown(&m);
    ck_assert_msg(harness_proc_alive(m.pid), "moat left lockdown by exiting");
    /* Audited and counted. */
    ck_assert_msg(harness_file_wait(m.log, "\"result\":\"accepted\"", 1, 1000), "no audit event");
    ck_assert_int_eq((int)log_count(&m, "\"result\":\"denied\""), 2);
    h_admin_get(&m, "/metrics", &r);
    ck_assert_msg(strstr((const char *)r.body,
                         "moat_emergency_shutdown_attempts_total{result=\"accepted\"} 1") != NULL,
                  "metrics: %s", (const char *)r.body);
    ck_assert_msg(strstr((const char *)r.body,
                         "moat_emergency_shutdown_attempts_total{result=\"denied\"} 2") != NULL,
                  "metrics lack the denied count");
    ck_assert_ptr_null(strstr((const char *)r.body, "Zq3-vT8"));
    harness_resp_free(&r);
    assert_no_token_leak(&m);
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* pidfile: gunicorn started by the test (root when the tests run as root: moat keeps CAP_KILL
 * across the drop to 65532), its pid in a file; mode exit: moat exits with status 4 once the
 * app is gone. The token comes from a file. */
START_TEST(test_pidfile_target)
{
    struct h_app app;
    char pidfile[H_PATH];
    char tokfile[H_PATH];
    char pid_s[32];
    char env_target[H_PATH + 32];
    char env_tok[H_PATH + 32];
    const char *env[] = {env_target, env_tok, "MOAT_SHUTDOWN_MODE=exit", NULL};
    struct h_resp r;
    struct h_moat m;

    ck_assert_int_eq(harness_app_start(&app, harness_dir(), 0), 0);
    harness_path(pidfile, sizeof(pidfile), "app.pid");
    snprintf(pid_s, sizeof(pid_s), "%d\n", (int)app.pid);
    ck_assert_int_eq(harness_write_file(pidfile, pid_s, strlen(pid_s), 0644), 0);
    harness_path(tokfile, sizeof(tokfile), "token");
    ck_assert_int_eq(harness_write_file(tokfile, TOKEN "\n", strlen(TOKEN) + 1, 0600), 0);
    snprintf(env_target, sizeof(env_target), "MOAT_SHUTDOWN_TARGET=pidfile:%s", pidfile);
    snprintf(env_tok, sizeof(env_tok), "MOAT_SHUTDOWN_TOKEN_FILE=%s", tokfile);
    h_start_moat(&m, app.url, env);
    ck_assert_msg(wait_status(&m, 200, 10000), "the app never answered through moat");

    assert_denied(&m, "Bearer wrong-token-wrong-token-wrong-token-wrong");
    ck_assert_msg(harness_proc_alive(app.pid), "a wrong token stopped the app");
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_msg(r.status == 202, "status %d: %s", r.status, (const char *)r.body);
    harness_resp_free(&r);
    ck_assert_msg(wait_gone(app.pid, 15000), "the app did not stop");
    ck_assert_int_eq(harness_proc_wait(m.pid, 20000), 4);
    assert_no_token_leak(&m);
    app.pid = 0;
}
END_TEST

/* A target that ignores SIGTERM gets SIGKILL once shutdown.grace has passed (from the main loop:
 * the answer comes at once). */
START_TEST(test_grace_kill)
{
    const char *argv[] = {"/usr/bin/python3", "-c",
                          "import signal, sys, time\n"
                          "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                          "print('ready', flush=True)\n"
                          "time.sleep(600)\n",
                          NULL};
    char out[H_PATH];
    char pidfile[H_PATH];
    char pid_s[32];
    char env_target[H_PATH + 32];
    const char *env[] = {token_env, env_target, "MOAT_SHUTDOWN_GRACE=300ms", NULL};
    struct h_spawn sp;
    struct h_resp r;
    struct h_moat m;
    pid_t stubborn;

    harness_path(out, sizeof(out), "stubborn.log");
    memset(&sp, 0, sizeof(sp));
    sp.argv = argv;
    sp.err_path = out;
    sp.own_group = 1;
    stubborn = harness_spawn(&sp);
    ck_assert_int_gt(stubborn, 0);
    ck_assert_msg(harness_file_wait(out, "ready", 1, 10000), "the stubborn process did not start");
    harness_path(pidfile, sizeof(pidfile), "stubborn.pid");
    snprintf(pid_s, sizeof(pid_s), "%d", (int)stubborn);
    ck_assert_int_eq(harness_write_file(pidfile, pid_s, strlen(pid_s), 0644), 0);
    snprintf(env_target, sizeof(env_target), "MOAT_SHUTDOWN_TARGET=pidfile:%s", pidfile);
    h_start_moat(&m, harness_shared_app()->url, env);
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_msg(r.status == 202, "status %d: %s", r.status, (const char *)r.body);
    harness_resp_free(&r);
    ck_assert_msg(wait_gone(stubborn, 15000), "SIGKILL never came");
    ck_assert_int_eq(harness_proc_wait(stubborn, 1000), 128 + SIGKILL);
    ck_assert_msg(harness_file_wait(m.log, "\"event\":\"emergency_shutdown_kill\"", 1, 1000),
                  "no emergency_shutdown_kill event");
    ck_assert_msg(harness_file_wait(m.log, "\"after\":\"SIGKILL\"", 1, 2000),
                  "the end after SIGKILL was not noticed");
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* Starts a python process that sleeps (SIGTERM ends it), waits until it runs, and writes its
 * pid into pidfile. Returns the pid. */
static pid_t start_sleeper(const char *name, const char *pidfile)
{
    const char *argv[] = {"/usr/bin/python3", "-c",
                          "import time\nprint('ready', flush=True)\ntime.sleep(600)\n", NULL};
    char out[H_PATH];
    char pid_s[32];
    struct h_spawn sp;
    pid_t pid;

    harness_path(out, sizeof(out), name);
    memset(&sp, 0, sizeof(sp));
    sp.argv = argv;
    sp.err_path = out;
    sp.own_group = 1;
    pid = harness_spawn(&sp);
    ck_assert_int_gt(pid, 0);
    ck_assert_msg(harness_file_wait(out, "ready", 1, 10000), "the sleeper did not start");
    snprintf(pid_s, sizeof(pid_s), "%d\n", (int)pid);
    ck_assert_int_eq(harness_write_file(pidfile, pid_s, strlen(pid_s), 0644), 0);
    return pid;
}

/* Lockdown mode, pidfile target: the app is stopped, a supervisor starts it again and writes
 * the new pid; a second correct request stops the new process (it used to answer 202
 * "repeat" naming the old pid and signal nothing). A pidfile that still names the stopped
 * process is not signalled again. */
START_TEST(test_second_request_restarted_target)
{
    char pidfile[H_PATH];
    char env_target[H_PATH + 32];
    const char *env[] = {token_env, env_target, NULL};
    struct h_resp r;
    struct h_moat m;
    char v[64];
    pid_t first, second;

    harness_path(pidfile, sizeof(pidfile), "app.pid");
    first = start_sleeper("first.log", pidfile);
    snprintf(env_target, sizeof(env_target), "MOAT_SHUTDOWN_TARGET=pidfile:%s", pidfile);
    h_start_moat(&m, harness_shared_app()->url, env);
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_msg(r.status == 202, "status %d: %s", r.status, (const char *)r.body);
    harness_resp_free(&r);
    ck_assert_msg(wait_gone(first, 15000), "the first process did not stop");
    ck_assert_msg(
        harness_file_wait(m.log, "\"event\":\"emergency_shutdown_target_exited\"", 1, 15000),
        "moat did not notice the end of the first process");
    /* Same stale pidfile: nothing new to stop. */
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_msg(r.status == 202, "status %d: %s", r.status, (const char *)r.body);
    ck_assert_msg(strstr((const char *)r.body, "\"repeat\":true") != NULL, "%s",
                  (const char *)r.body);
    harness_resp_free(&r);

    second = start_sleeper("second.log", pidfile);
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_msg(r.status == 202, "status %d: %s", r.status, (const char *)r.body);
    ck_assert_int_eq(harness_json_get((const char *)r.body, "pid", v, sizeof(v)), 0);
    ck_assert_msg(strtol(v, NULL, 10) == second, "signalled pid %s, want %d: %s", v, (int)second,
                  (const char *)r.body);
    harness_resp_free(&r);
    ck_assert_msg(wait_gone(second, 15000), "the restarted process was not stopped");
    ck_assert_msg(harness_proc_alive(m.pid), "moat left lockdown");
    assert_no_token_leak(&m);
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* A stale pidfile: the app is gone and its pid went to a process of another user. A pidfile
 * owned by a user other than root (or moat's own) names only that user's processes; otherwise
 * moat (which may hold CAP_KILL) would stop whatever now runs under that pid. Root's pidfiles
 * name any. */
START_TEST(test_pidfile_other_owner)
{
    char pidfile[H_PATH];
    char env_target[H_PATH + 32];
    const char *env[] = {token_env, env_target, NULL};
    struct h_resp r;
    struct h_moat m;
    pid_t victim;

    if (geteuid() != 0) {
        harness_log("test_pidfile_other_owner needs root (chown): skipped");
        return;
    }
    harness_path(pidfile, sizeof(pidfile), "app.pid");
    victim = start_sleeper("victim.log", pidfile); /* runs as root */
    ck_assert_int_eq(chown(pidfile, 12345, 12345), 0);
    snprintf(env_target, sizeof(env_target), "MOAT_SHUTDOWN_TARGET=pidfile:%s", pidfile);
    h_start_moat(&m, harness_shared_app()->url, env);
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_msg(r.status == 500, "status %d: %s", r.status, (const char *)r.body);
    ck_assert_msg(strstr((const char *)r.body, "uid 12345") != NULL, "%s", (const char *)r.body);
    harness_resp_free(&r);
    harness_sleep_ms(300);
    ck_assert_msg(harness_proc_alive(victim), "another user's process was signalled");
    assert_lockdown(&m);
    /* Root's pidfile: trusted for any process. */
    ck_assert_int_eq(chown(pidfile, 0, 0), 0);
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_msg(r.status == 202, "status %d: %s", r.status, (const char *)r.body);
    harness_resp_free(&r);
    ck_assert_msg(wait_gone(victim, 15000), "the process was not stopped");
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* The emergency endpoint must stay reachable while someone drips: an admin request (head and
 * body) that is not whole within limits.header_timeout is cut. Each byte used to reset
 * libmicrohttpd's idle timeout, so 64 dripping connections held the admin listener (and with it
 * POST /emergency-shutdown, /readyz and /metrics) for as long as they liked. */
START_TEST(test_admin_drip_cut)
{
    static const char *const heads[] = {
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ",
        "POST /emergency-shutdown HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n",
    };
    const char *env[] = {token_env, "MOAT_SHUTDOWN_TARGET=none", "MOAT_LIMITS_HEADER_TIMEOUT=1s",
                         NULL};
    struct h_moat m;
    struct h_conn c;
    size_t k;
    int i, closed;

    h_start_moat(&m, harness_shared_app()->url, env);
    for (k = 0; k < sizeof(heads) / sizeof(heads[0]); k++) {
        ck_assert_msg(harness_conn_open_plain(&c, m.admin_port) == 0, "connect: %s", c.error);
        ck_assert_int_eq(harness_conn_send_str(&c, heads[k]), 0);
        closed = 0;
        for (i = 0; i < 75 && !closed; i++) {
            closed = harness_conn_wait_closed(&c, 200);
            if (!closed && harness_conn_send(&c, "a", 1) != 0)
                closed = 1;
        }
        harness_conn_close(&c);
        ck_assert_msg(closed, "a dripping admin request (%.20s) was never cut", heads[k]);
    }
    post_accepted(&m);
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* Opens n connections to moat's admin listener, per_addr of them from each source address
 * 127.0.0.2, .3, ... in turn, and sends each the same half head (never finished). */
static void open_half_heads(const struct h_moat *m, int *fds, size_t n, size_t per_addr)
{
    static const char half[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: a";
    struct sockaddr_in src, dst;
    size_t i;

    memset(&dst, 0, sizeof(dst));
    dst.sin_family = AF_INET;
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dst.sin_port = htons((unsigned short)m->admin_port);
    for (i = 0; i < n; i++) {
        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f000002 + (uint32_t)(i / per_addr));
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fds[i], 0);
        ck_assert_int_eq(bind(fds[i], (struct sockaddr *)&src, sizeof(src)), 0);
        ck_assert_int_eq(connect(fds[i], (struct sockaddr *)&dst, sizeof(dst)), 0);
        (void)send(fds[i], half, sizeof(half) - 1, MSG_NOSIGNAL);
    }
    harness_sleep_ms(500); /* let the listener take them in */
}

static void close_all(const int *fds, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        close(fds[i]);
}

/* One address cannot take every admin connection: with 70 idle half-sent heads open from
 * 127.0.0.2 (and a head deadline far away), the operator's POST from 127.0.0.1 still gets in. */
START_TEST(test_admin_per_ip)
{
    const char *env[] = {token_env, "MOAT_SHUTDOWN_TARGET=none", "MOAT_LIMITS_HEADER_TIMEOUT=1h",
                         NULL};
    struct h_moat m;
    int fds[70];
    const size_t n = sizeof(fds) / sizeof(fds[0]);

    h_start_moat(&m, harness_shared_app()->url, env);
    open_half_heads(&m, fds, n, n); /* all from 127.0.0.2 */
    post_accepted(&m);
    close_all(fds, n);
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* A full admin listener (64 connections from four addresses, their heads half-sent, the head
 * deadline far away) does not hold up SIGTERM: libmicrohttpd stops watching the listening socket
 * at its connection limit, and without an inter-thread channel MHD_stop_daemon then waited for
 * the next idle timeout (30 s), past a container runtime's stop grace period. */
START_TEST(test_admin_full_stop)
{
    const char *env[] = {token_env, "MOAT_SHUTDOWN_TARGET=none", "MOAT_LIMITS_HEADER_TIMEOUT=1h",
                         NULL};
    struct h_moat m;
    int fds[64];
    const size_t n = sizeof(fds) / sizeof(fds[0]);

    h_start_moat(&m, harness_shared_app()->url, env);
    open_half_heads(&m, fds, n, 16); /* 127.0.0.2 .. .5 */
    ck_assert_msg(harness_moat_stop(&m, 15000) == 0, "moat did not stop promptly (exit %d)",
                  m.exit_code);
    close_all(fds, n);
}
END_TEST

/* process:NAME: the gunicorn master (not a worker) is found in /proc and stopped. */
START_TEST(test_process_target)
{
    char name[32];
    char env_target[64];
    char url[64];
    const char *env[] = {token_env, env_target, NULL};
    struct h_resp r;
    struct h_moat m;
    char v[32];
    pid_t master;
    int port;

    /* A name of our own: other gunicorns on the machine must never be touched. */
    snprintf(name, sizeof(name), "gsd%d", (int)getpid() % 1000000);
    snprintf(env_target, sizeof(env_target), "MOAT_SHUTDOWN_TARGET=process:%s", name);
    master = start_named_gunicorn(name, &port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    h_start_moat(&m, url, env);
    ck_assert_msg(wait_status(&m, 200, 10000), "the app never answered through moat");

    assert_denied(&m, "Bearer nope");
    ck_assert_msg(harness_proc_alive(master), "a wrong token stopped the app");
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_msg(r.status == 202, "status %d: %s", r.status, (const char *)r.body);
    ck_assert_int_eq(harness_json_get((const char *)r.body, "pid", v, sizeof(v)), 0);
    ck_assert_int_eq(strtol(v, NULL, 10), master);
    harness_resp_free(&r);
    ck_assert_msg(wait_gone(master, 15000), "the gunicorn master did not stop");
    assert_lockdown(&m);
    /* A second correct attempt does not signal again; it says so. */
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_int_eq(r.status, 202);
    ck_assert_msg(strstr((const char *)r.body, "\"repeat\":true") != NULL, "%s",
                  (const char *)r.body);
    harness_resp_free(&r);
    assert_no_token_leak(&m);
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* process:NAME with nothing of that name: 500 with the reason, lockdown engaged anyway. */
START_TEST(test_process_missing)
{
    const char *env[] = {token_env, "MOAT_SHUTDOWN_TARGET=process:no-such-app-xyz", NULL};
    struct h_resp r;
    struct h_moat m;

    h_start_moat(&m, harness_shared_app()->url, env);
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_int_eq(r.status, 500);
    ck_assert_msg(strstr((const char *)r.body, "no process named no-such-app-xyz") != NULL, "%s",
                  (const char *)r.body);
    harness_resp_free(&r);
    ck_assert_msg(harness_file_wait(m.log, "no process named no-such-app-xyz", 1, 1000),
                  "the error is not in the log");
    assert_lockdown(&m);
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* none: nothing is signalled (the shared app lives on), lockdown holds. */
START_TEST(test_none_target)
{
    const char *env[] = {token_env, "MOAT_SHUTDOWN_TARGET=none", NULL};
    struct h_resp r;
    struct h_moat m;

    h_start_moat(&m, harness_shared_app()->url, env);
    ck_assert_msg(wait_status(&m, 200, 10000), "the app never answered through moat");
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_int_eq(r.status, 202);
    ck_assert_msg(strstr((const char *)r.body, "\"signalled\":false") != NULL, "%s",
                  (const char *)r.body);
    harness_resp_free(&r);
    assert_lockdown(&m);
    /* The shared app is not this test process's child: kill(0) tells. */
    ck_assert_msg(kill(harness_shared_app()->pid, 0) == 0, "the app was signalled");
    assert_environ_clean(m.pid);
    assert_no_token_leak(&m);
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* GET target on moat's plain-HTTP listener (Host: localhost); the whole response into r. */
static void http_plain_get(const struct h_moat *m, const char *target, struct h_resp *r)
{
    struct h_conn c;
    struct h_read_opts o = {0};
    char raw[512];

    ck_assert_int_gt(m->http_port, 0);
    snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", target);
    ck_assert_msg(harness_conn_open_plain(&c, m->http_port) == 0, "connect: %s", c.error);
    ck_assert_msg(harness_conn_send_str(&c, raw) == 0, "send: %s", c.error);
    o.timeout_ms = 15000;
    ck_assert_msg(harness_read_response(&c, r, &o) == 0, "response: %s (status %d)", r->error,
                  r->status);
    harness_conn_close(&c);
}

/* Lockdown covers the plain-HTTP listener's relay to the app (ACME paths) too: once a correct
 * token came, nothing reaches the app through moat, whatever the listener. */
START_TEST(test_lockdown_http_relay)
{
    const char *env[] = {token_env, "MOAT_SHUTDOWN_TARGET=none", NULL};
    struct h_resp r;
    struct h_moat m;

    h_start_moat(&m, harness_shared_app()->url, env);
    http_plain_get(&m, "/.well-known/acme-challenge/before", &r);
    ck_assert_msg(r.status == 200, "relay before the shutdown: %d\n%s", r.status, r.head);
    harness_resp_free(&r);
    post_accepted(&m);
    assert_lockdown(&m);
    http_plain_get(&m, "/.well-known/acme-challenge/after", &r);
    ck_assert_msg(r.status == 503, "the plain-HTTP relay reached the app in lockdown: %d\n%s",
                  r.status, r.head);
    ck_assert_ptr_null(strstr((const char *)r.body, "thumbprint"));
    harness_resp_free(&r);
    ck_assert_msg(harness_file_wait(m.log, "\"reason\":\"lockdown\"", 1, 5000),
                  "no lockdown reason in the access log");
    /* Health paths stay local; everything else still redirects. */
    http_plain_get(&m, "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    http_plain_get(&m, "/x", &r);
    ck_assert_int_eq(r.status, 308);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* shutdown.https_path: the endpoint on the HTTPS listener, never proxied, with the security
 * headers; other paths still reach the app until the right token comes. */
START_TEST(test_https_path)
{
    const char *env[] = {token_env, "MOAT_SHUTDOWN_TARGET=none",
                         "MOAT_SHUTDOWN_HTTPS_PATH=/.well-known/moat/stop", NULL};
    struct h_resp r;
    struct h_moat m;

    h_start_moat(&m, harness_shared_app()->url, env);
    ck_assert_int_eq(harness_request(m.port,
                                     "GET /.well-known/moat/stop HTTP/1.1\r\nHost: localhost\r\n"
                                     "Connection: close\r\n\r\n",
                                     &r, 0, NULL),
                     0);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(harness_resp_header(&r, "Allow"), "POST");
    harness_resp_free(&r);
    ck_assert_int_eq(
        harness_request(m.port,
                        "POST /.well-known/moat/stop?x=1 HTTP/1.1\r\nHost: localhost\r\n"
                        "Authorization: Bearer not-the-token\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n",
                        &r, 0, NULL),
        0);
    ck_assert_int_eq(r.status, 401);
    ck_assert_ptr_nonnull(harness_resp_header(&r, "WWW-Authenticate"));
    ck_assert_ptr_nonnull(harness_resp_header(&r, "Strict-Transport-Security"));
    harness_resp_free(&r);
    ck_assert_msg(wait_status(&m, 200, 5000), "a wrong token engaged lockdown");
    {
        /* Over plain HTTP the path is refused, never redirected (a client following a
         * redirect would send the token again), and the exposure is logged. */
        struct h_conn c;

        ck_assert_int_gt(m.http_port, 0);
        ck_assert_int_eq(harness_conn_open_plain(&c, m.http_port), 0);
        ck_assert_int_eq(harness_conn_send_str(&c, "POST /.well-known/moat/stop HTTP/1.1\r\n"
                                                   "Host: localhost\r\nAuthorization: Bearer " TOKEN
                                                   "\r\nContent-Length: 0\r\n\r\n"),
                         0);
        memset(&r, 0, sizeof(r));
        ck_assert_int_eq(harness_read_response(&c, &r, NULL), 0);
        ck_assert_int_eq(r.status, 403);
        ck_assert_ptr_null(harness_resp_header(&r, "Location"));
        harness_resp_free(&r);
        harness_conn_close(&c);
        ck_assert_msg(log_count(&m, "\"event\":\"shutdown_over_plain_http\"") == 1,
                      "the plain-HTTP attempt was not logged");
    }
    ck_assert_int_eq(harness_request(m.port,
                                     "POST /.well-known/moat/stop HTTP/1.1\r\nHost: localhost\r\n"
                                     "Authorization: Bearer " TOKEN "\r\nContent-Length: 0\r\n"
                                     "Connection: close\r\n\r\n",
                                     &r, 0, NULL),
                     0);
    ck_assert_int_eq(r.status, 202);
    ck_assert_ptr_nonnull(harness_resp_header(&r, "X-Content-Type-Options"));
    harness_resp_free(&r);
    ck_assert_msg(log_count(&m, "\"listener\":\"https\",\"result\":\"accepted\"") == 1,
                  "no https audit event");
    ck_assert_msg(log_count(&m, "?x=1") == 0, "the query string was logged");
    assert_lockdown(&m);
    assert_no_token_leak(&m);
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* ------------------------------------------------------------------ refusals */

/* Two failures lock the client out: even the right token gets 429 + Retry-After; once the
 * cooldown has passed, the right token works. */
START_TEST(test_lockout)
{
    const char *env[] = {token_env,
                         "MOAT_SHUTDOWN_TARGET=none",
                         "MOAT_SHUTDOWN_MAX_FAILURES=2",
                         "MOAT_SHUTDOWN_COOLDOWN=1s",
                         "MOAT_SHUTDOWN_MAX_COOLDOWN=2s",
                         NULL};
    struct h_resp r;
    struct h_moat m;
    const char *retry;
    uint64_t end;
    int status = 0;

    h_start_moat(&m, harness_shared_app()->url, env);
    assert_denied(&m, "Bearer wrong-1");
    assert_denied(&m, "Bearer wrong-2");
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_int_eq(r.status, 429);
    retry = harness_resp_header(&r, "Retry-After");
    ck_assert_msg(retry != NULL && atoi(retry) >= 1, "Retry-After: %s", retry ? retry : "none");
    harness_resp_free(&r);
    ck_assert_msg(wait_status(&m, 200, 5000), "a refused attempt engaged lockdown");
    /* The lockout ends: poll (no timing assertion) until the endpoint answers again. */
    end = harness_now_ms() + 15000;
    while (harness_now_ms() < end) {
        harness_sleep_ms(250);
        shutdown_post(&m, "Bearer " TOKEN, &r);
        status = r.status;
        harness_resp_free(&r);
        if (status != 429)
            break;
    }
    ck_assert_int_eq(status, 202);
    ck_assert_msg(log_count(&m, "\"result\":\"rate_limited\"") >= 1, "no rate_limited event");
    assert_lockdown(&m);
    assert_no_token_leak(&m);
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* No token: 404 for every method, the startup log says so, the attempt is counted. */
START_TEST(test_disabled)
{
    struct h_resp r;
    struct h_moat m;

    h_start_moat(&m, harness_shared_app()->url, NULL);
    ck_assert_msg(harness_file_wait(m.log, "\"event\":\"emergency_shutdown_disabled\"", 1, 1000),
                  "no disabled event at startup");
    shutdown_post(&m, "Bearer " TOKEN, &r);
    ck_assert_int_eq(r.status, 404);
    harness_resp_free(&r);
    h_admin_get(&m, "/emergency-shutdown", &r);
    ck_assert_int_eq(r.status, 404);
    harness_resp_free(&r);
    h_admin_get(&m, "/metrics", &r);
    ck_assert_msg(strstr((const char *)r.body,
                         "moat_emergency_shutdown_attempts_total{result=\"disabled\"} 1") != NULL,
                  "metrics lack the disabled attempt");
    harness_resp_free(&r);
    ck_assert_msg(wait_status(&m, 200, 5000), "lockdown without a token");
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* Enabled: other methods are 405 with Allow: POST and change nothing. */
START_TEST(test_bad_method)
{
    const char *env[] = {token_env, "MOAT_SHUTDOWN_TARGET=none", NULL};
    static const char *const methods[] = {"GET", "PUT", "DELETE", "HEAD"};
    char raw[256];
    struct h_resp r;
    struct h_moat m;
    size_t i;

    h_start_moat(&m, harness_shared_app()->url, env);
    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        struct h_conn c;
        struct h_read_opts ro;

        snprintf(raw, sizeof(raw),
                 "%s /emergency-shutdown HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Connection: close\r\n\r\n",
                 methods[i], TOKEN);
        ck_assert_int_eq(harness_conn_open_plain(&c, m.admin_port), 0);
        ck_assert_int_eq(harness_conn_send_str(&c, raw), 0);
        memset(&ro, 0, sizeof(ro));
        ro.head_request = strcmp(methods[i], "HEAD") == 0;
        ck_assert_int_eq(harness_read_response(&c, &r, &ro), 0);
        harness_conn_close(&c);
        ck_assert_int_eq(r.status, 405);
        ck_assert_str_eq(harness_resp_header(&r, "Allow"), "POST");
        harness_resp_free(&r);
    }
    /* The token in a query string or a body is not a token. */
    ck_assert_int_eq(harness_admin_request(&m,
                                           "POST /emergency-shutdown?token=" TOKEN
                                           " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                           "Connection: close\r\n\r\n",
                                           &r),
                     0);
    ck_assert_int_ne(r.status, 202);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_admin_request(&m,
                                           "POST /emergency-shutdown HTTP/1.1\r\nHost: x\r\n"
                                           "Content-Type: application/x-www-form-urlencoded\r\n"
                                           "Content-Length: 46\r\nConnection: close\r\n\r\n"
                                           "token=" TOKEN,
                                           &r),
                     0);
    ck_assert_int_eq(r.status, 401);
    harness_resp_free(&r);
    ck_assert_msg(wait_status(&m, 200, 5000), "lockdown engaged without a Bearer token");
    ck_assert_int_eq(harness_moat_stop(&m, 15000), 0);
}
END_TEST

/* Runs moat to completion (HTTPS on a free port) with extra args and env; returns its exit
 * status, stderr in *err. */
static int run_moat(const char *const *extra, const char *const *env, char **err)
{
    const char *argv[32];
    char listen[32];
    size_t n = 0, i;

    snprintf(listen, sizeof(listen), "127.0.0.1:%d", harness_free_port());
    argv[n++] = harness_moat_bin();
    argv[n++] = "--cert";
    argv[n++] = harness_cert();
    argv[n++] = "--key";
    argv[n++] = harness_key();
    argv[n++] = "--listen";
    argv[n++] = listen;
    for (i = 0; extra[i] != NULL && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return harness_run(argv, env, 30000, NULL, err);
}

/* A short token and a plain-HTTP admin listener off loopback refuse to start (status 1,
 * before anything is bound); a child target without a command too. */
START_TEST(test_startup_refusals)
{
    const char *short_env[] = {"MOAT_SHUTDOWN_TOKEN=short-token-0123456789", NULL};
    /* Refused before anything is bound: the port is never used. */
    const char *plain_args[] = {"--admin-listen", "0.0.0.0:1", NULL};
    const char *plain_env[] = {token_env, "MOAT_SHUTDOWN_TARGET=none", NULL};
    const char *plain_ok_args[] = {"--admin-listen", "0.0.0.0:1", "--check-config", NULL};
    const char *plain_ok_env[] = {token_env, "MOAT_SHUTDOWN_TARGET=none",
                                  "MOAT_SHUTDOWN_ALLOW_PLAINTEXT=true", NULL};
    const char *child_env[] = {token_env, NULL};
    const char *none[] = {NULL};
    char *err = NULL;

    ck_assert_int_eq(run_moat(none, short_env, &err), 1);
    ck_assert_msg(strstr(err, "32") != NULL, "no length in: %s", err);
    ck_assert_msg(strstr(err, "short-token") == NULL, "the token is in the error: %s", err);
    free(err);
    ck_assert_int_eq(run_moat(plain_args, plain_env, &err), 1);
    ck_assert_msg(strstr(err, "shutdown.allow_plaintext") != NULL, "%s", err);
    free(err);
    ck_assert_int_eq(run_moat(plain_ok_args, plain_ok_env, &err), 0);
    ck_assert_msg(strstr(err, "emergency_shutdown_plaintext") != NULL, "no warning: %s", err);
    free(err);
    ck_assert_int_eq(run_moat(none, child_env, &err), 1);
    ck_assert_msg(strstr(err, "shutdown.target = child needs") != NULL, "%s", err);
    free(err);
}
END_TEST

/* The app after "--" ending by itself ends moat with its status; it ran outside moat's seccomp
 * filter and without the token in its environment. */
START_TEST(test_child_status)
{
    char admin[32];
    const char *script = "grep -q MOAT_SHUTDOWN_TOKEN /proc/self/environ && exit 9; "
                         "grep -q " TOKEN " /proc/self/environ && exit 10; "
                         "grep -Eq '^Seccomp:[[:space:]]+0$' /proc/self/status || exit 8; "
                         "sleep 1; exit 7";
    const char *extra[] = {"--admin-listen", admin, "--", "/bin/sh", "-c", script, NULL};
    const char *env[] = {token_env, NULL};
    char *err = NULL;
    int rc;

    snprintf(admin, sizeof(admin), "127.0.0.1:%d", harness_free_port());
    rc = run_moat(extra, env, &err);
    ck_assert_msg(rc == 7, "status %d: %s", rc, err != NULL ? err : "");
    ck_assert_msg(strstr(err, "\"event\":\"child_exited\"") != NULL, "%s", err);
    ck_assert_msg(strstr(err, TOKEN) == NULL, "the token is in the log");
    free(err);
}
END_TEST

static Suite *shutdown_suite(void)
{
    Suite *s = suite_create("shutdown");
    TCase *tc = harness_tcase("targets", 120);

    tcase_add_unchecked_fixture(tc, harness_shared_app_setup, harness_shared_app_teardown);
    tcase_add_test(tc, test_child_target);
    tcase_add_test(tc, test_pidfile_target);
    tcase_add_test(tc, test_grace_kill);
    tcase_add_test(tc, test_process_target);
    tcase_add_test(tc, test_process_missing);
    tcase_add_test(tc, test_none_target);
    suite_add_tcase(s, tc);
    tc = harness_tcase("refusals", 120);
    tcase_add_unchecked_fixture(tc, harness_shared_app_setup, harness_shared_app_teardown);
    tcase_add_test(tc, test_lockout);
    tcase_add_test(tc, test_disabled);
    tcase_add_test(tc, test_bad_method);
    tcase_add_test(tc, test_https_path);
    tcase_add_test(tc, test_startup_refusals);
    tcase_add_test(tc, test_child_status);
    suite_add_tcase(s, tc);
    tc = harness_tcase("lockdown", 120);
    tcase_add_unchecked_fixture(tc, harness_shared_app_setup, harness_shared_app_teardown);
    tcase_add_test(tc, test_lockdown_http_relay);
    tcase_add_test(tc, test_second_request_restarted_target);
    tcase_add_test(tc, test_pidfile_other_owner);
    suite_add_tcase(s, tc);
    tc = harness_tcase("admin_dos", 120);
    tcase_add_unchecked_fixture(tc, harness_shared_app_setup, harness_shared_app_teardown);
    tcase_add_test(tc, test_admin_drip_cut);
    tcase_add_test(tc, test_admin_per_ip);
    tcase_add_test(tc, test_admin_full_stop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    Suite *suites[] = {shutdown_suite(), NULL};

    return harness_run_suites(suites);
}
