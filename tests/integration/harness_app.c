/* harness_app.c - runs the Flask test app (tests/integration/app/testapp.py) under gunicorn
 * for integration tests, on a TCP port or a Unix socket, and a shared instance per TCase. */
#include "harness.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define H_GUNICORN "/usr/bin/gunicorn"

/* The app shared by a TCase's tests (lives in Check's parent process). */
static struct {
    struct h_app app; /* the running app */
    char dir[H_PATH]; /* its temp dir */
    int ok;           /* started successfully */
    int starting;     /* inside harness_shared_app_setup: the app is persistent */
} h_shared;

/* True when the app accepts a connection now. */
static int h_app_accepts(const struct h_app *a)
{
    int fd;
    int ok;

    if (a->sock[0] != '\0') {
        struct sockaddr_un su;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return 0;
        memset(&su, 0, sizeof(su));
        su.sun_family = AF_UNIX;
        if (strlen(a->sock) >= sizeof(su.sun_path)) {
            close(fd);
            return 0;
        }
        memcpy(su.sun_path, a->sock, strlen(a->sock) + 1);
        ok = connect(fd, (struct sockaddr *)&su, sizeof(su)) == 0;
    } else {
        struct sockaddr_in sa;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return 0;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)a->port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    }
    close(fd);
    return ok;
}

/* Kills the app's process group and reaps the master. */
static void h_app_kill(struct h_app *a)
{
    int st;
    int i;

    if (a->pid <= 0)
        return;
    kill(-a->pid, SIGTERM);
    for (i = 0; i < 500; i++) {
        if (waitpid(a->pid, &st, WNOHANG) != 0)
            break;
        harness_sleep_ms(10);
    }
    kill(-a->pid, SIGKILL);
    waitpid(a->pid, &st, 0);
    a->pid = 0;
}

/* One attempt to start gunicorn with module (e.g. "testapp:app") from the source tree's
 * directory rel, serving TLS with cert/key when cert is not NULL. Returns 0 ready, 1 address
 * in use (retry), -1 failed. */
static int h_app_try(struct h_app *a, const char *bind, const char *rel, const char *module,
                     const char *cert, const char *key)
{
    char appdir[H_PATH];
    char want[H_PATH];
    const char *argv[] = {H_GUNICORN, "--bind",
                          bind,       "--workers",
                          "2",        "--worker-class",
                          "sync",     "--timeout",
                          "120",      "--graceful-timeout",
                          "2",        "--access-logfile",
                          "-",        "--error-logfile",
                          "-",        "--log-level",
                          "info",     "--chdir",
                          appdir,     module,
                          NULL,       NULL,
                          NULL,       NULL,
                          NULL};

    if (cert != NULL) {
        argv[20] = "--certfile";
        argv[21] = cert;
        argv[22] = "--keyfile";
        argv[23] = key;
    }
    const char *env[] = {"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", NULL};
    struct h_spawn s;
    uint64_t start = harness_now_ms();

    if (snprintf(appdir, sizeof(appdir), "%s/%s", harness_source_dir(), rel) >=
            (int)sizeof(appdir) ||
        snprintf(want, sizeof(want), "Listening at: %s%s",
                 a->sock[0] != '\0' ? ""
                 : cert != NULL     ? "https://"
                                    : "http://",
                 bind) >= (int)sizeof(want))
        return -1;
    memset(&s, 0, sizeof(s));
    s.argv = argv;
    s.env = env;
    s.err_path = a->log;
    s.own_group = 1;
    s.persistent = h_shared.starting;
    a->pid = harness_spawn(&s);
    if (a->pid < 0) {
        a->pid = 0;
        return -1;
    }
    for (;;) {
        char *log = harness_read_file(a->log, NULL);
        int listening = log != NULL && strstr(log, want) != NULL;
        int in_use = log != NULL && strstr(log, "Connection in use") != NULL;
        int booted = log != NULL && strstr(log, "Booting worker") != NULL;
        int st;

        free(log);
        if (in_use && !listening) {
            h_app_kill(a);
            return 1;
        }
        if (listening && booted && h_app_accepts(a))
            return 0;
        if (waitpid(a->pid, &st, WNOHANG) == a->pid) {
            fprintf(stderr, "harness: gunicorn exited before listening\n");
            kill(-a->pid, SIGKILL);
            a->pid = 0;
            harness_dump_tail(a->log, 40);
            return -1;
        }
        if (harness_now_ms() - start > 30000) {
            fprintf(stderr, "harness: gunicorn not ready after 30 s\n");
            harness_dump_tail(a->log, 40);
            h_app_kill(a);
            return -1;
        }
        harness_sleep_ms(20);
    }
}

/* Starts module from the source tree's directory rel (see harness_app_start), serving TLS
 * when cert is not NULL (TCP only). */
static int h_app_start(struct h_app *a, const char *dir, int unix_socket, const char *rel,
                       const char *module, const char *cert, const char *key)
{
    int attempt;

    memset(a, 0, sizeof(*a));
    snprintf(a->log, sizeof(a->log), "%s/app%s.log", dir, unix_socket ? "-unix" : "");
    for (attempt = 0; attempt < 5; attempt++) {
        char bind[H_PATH];
        int rc;

        if (unix_socket) {
            if (snprintf(a->sock, sizeof(a->sock), "%s/app.sock", dir) >= (int)sizeof(a->sock) ||
                snprintf(bind, sizeof(bind), "unix:%s", a->sock) >= (int)sizeof(bind) ||
                snprintf(a->url, sizeof(a->url), "unix:%s", a->sock) >= (int)sizeof(a->url))
                return -1;
            unlink(a->sock);
        } else {
            a->port = harness_free_port();
            snprintf(bind, sizeof(bind), "127.0.0.1:%d", a->port);
            harness_url(a->url, sizeof(a->url), a->port);
            if (cert != NULL)
                snprintf(a->url, sizeof(a->url), "https://127.0.0.1:%d", a->port);
        }
        rc = h_app_try(a, bind, rel, module, cert, key);
        /* moat started as root connects to it after dropping to H_SANDBOX_ID. */
        if (rc == 0 && unix_socket && harness_give(a->sock) != 0)
            return -1;
        if (rc <= 0)
            return rc;
    }
    return -1;
}

int harness_app_start(struct h_app *a, const char *dir, int unix_socket)
{
    return h_app_start(a, dir, unix_socket, "tests/integration/app", "testapp:app", NULL, NULL);
}

int harness_app_start_tls(struct h_app *a, const char *dir, const char *cert, const char *key)
{
    return h_app_start(a, dir, 0, "tests/integration/app", "testapp:app", cert, key);
}

int harness_demo_app_start(struct h_app *a, const char *dir)
{
    return h_app_start(a, dir, 0, "docker/demo", "app:app", NULL, NULL);
}

void harness_app_stop(struct h_app *a)
{
    h_app_kill(a);
}

void harness_shared_app_setup(void)
{
    char tmpl[] = "/tmp/moat-app-XXXXXX";

    memset(&h_shared, 0, sizeof(h_shared));
    if (mkdtemp(tmpl) == NULL) {
        fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
        return;
    }
    snprintf(h_shared.dir, sizeof(h_shared.dir), "%s", tmpl);
    h_shared.starting = 1;
    h_shared.ok = harness_app_start(&h_shared.app, h_shared.dir, 0) == 0;
    h_shared.starting = 0;
    harness_watch_log(h_shared.app.log);
}

void harness_shared_app_teardown(void)
{
    harness_app_stop(&h_shared.app);
    if (h_shared.dir[0] != '\0' && !harness_env_flag("MOAT_KEEP_TMP"))
        harness_rmtree(h_shared.dir);
    harness_watch_log("");
    memset(&h_shared, 0, sizeof(h_shared));
}

const struct h_app *harness_shared_app(void)
{
    if (!h_shared.ok)
        ck_abort_msg("the shared gunicorn app did not start (see its log above)");
    return &h_shared.app;
}
