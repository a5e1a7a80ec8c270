/* harness_proc.c - child processes for integration tests: spawning with a clean environment
 * and parent-death signal, waiting and stopping, one-shot runs, and starting/stopping moat. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define H_MAX_PROCS 64

/* One child started by this process. */
struct h_child {
    pid_t pid;      /* process id */
    int group;      /* it leads its own process group */
    int reaped;     /* waitpid collected it */
    int code;       /* exit code once reaped */
    pid_t owner;    /* process that started it (a forked test inherits its parent's table) */
    int persistent; /* not stopped by harness_proc_stop_all */
};

/* Children started by this process (one test per process under Check's fork mode). */
static struct {
    struct h_child child[H_MAX_PROCS]; /* children started, in order */
    size_t n_child;                    /* entries used in child */
    unsigned moat_seq;                 /* moat instances started (log file names) */
    unsigned run_seq;                  /* harness_run invocations (output file names) */
} h_procs;

/* Finds the registry entry of pid, or NULL. */
static struct h_child *h_child_find(pid_t pid)
{
    size_t i;

    for (i = 0; i < h_procs.n_child; i++) {
        if (h_procs.child[i].pid == pid && h_procs.child[i].owner == getpid())
            return &h_procs.child[i];
    }
    return NULL;
}

void harness_proc_stop_all(void)
{
    size_t i;
    size_t k;

    /* SIGTERM everything first so they stop in parallel, then collect. */
    for (i = 0; i < h_procs.n_child; i++) {
        struct h_child *c = &h_procs.child[i];
        if (!c->reaped && c->owner == getpid() && !c->persistent)
            kill(c->group ? -c->pid : c->pid, SIGTERM);
    }
    for (i = 0; i < h_procs.n_child; i++) {
        struct h_child *c = &h_procs.child[i];
        if (c->owner != getpid() || c->persistent)
            continue;
        if (!c->reaped)
            harness_proc_stop(c->pid, SIGTERM, 3000);
        if (c->group)
            kill(-c->pid, SIGKILL);
    }
    for (i = 0, k = 0; i < h_procs.n_child; i++) {
        struct h_child *c = &h_procs.child[i];
        if (c->owner == getpid() && c->persistent && !c->reaped)
            h_procs.child[k++] = *c;
    }
    h_procs.n_child = k;
    h_procs.moat_seq = 0;
    h_procs.run_seq = 0;
}

/* Heap copy of a NULL-terminated string vector with room for `extra` more entries. */
static char **h_strv_dup(const char *const *v, size_t extra)
{
    size_t n = 0;
    size_t i;
    char **out;

    while (v != NULL && v[n] != NULL)
        n++;
    out = calloc(n + extra + 1, sizeof(*out));
    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        out[i] = strdup(v[i]);
    return out;
}

/* Frees a vector from h_strv_dup / h_env_build. */
static void h_strv_free(char **v)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

/* True when the "NAME=" part of a and b match. */
static int h_env_same_name(const char *a, const char *b)
{
    const char *ea = strchr(a, '=');
    const char *eb = strchr(b, '=');
    size_t la = ea != NULL ? (size_t)(ea - a) : strlen(a);
    size_t lb = eb != NULL ? (size_t)(eb - b) : strlen(b);

    return la == lb && memcmp(a, b, la) == 0;
}

/* The child environment: ours minus MOAT_* and names in extra, plus extra. */
static char **h_env_build(const char *const *extra)
{
    size_t n = 0;
    size_t ne = 0;
    size_t i;
    size_t k = 0;
    char **out;

    while (environ[n] != NULL)
        n++;
    while (extra != NULL && extra[ne] != NULL)
        ne++;
    out = calloc(n + ne + 1, sizeof(*out));
    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        size_t j;
        int skip = strncmp(environ[i], "MOAT_", 5) == 0;

        for (j = 0; j < ne && !skip; j++)
            skip = h_env_same_name(environ[i], extra[j]);
        if (!skip)
            out[k++] = strdup(environ[i]);
    }
    for (i = 0; i < ne; i++)
        out[k++] = strdup(extra[i]);
    return out;
}

pid_t harness_spawn(const struct h_spawn *s)
{
    char **argv = h_strv_dup(s->argv, 0);
    char **envp = h_env_build(s->env);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    int err_fd = -1;
    int out_fd = -1;
    pid_t parent = getpid();
    pid_t pid = -1;

    if (argv == NULL || envp == NULL || null_fd < 0 || h_procs.n_child >= H_MAX_PROCS) {
        harness_log("spawn %s: out of resources", s->argv[0]);
        goto out;
    }
    err_fd = s->err_path != NULL
                 ? open(s->err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)
                 : dup(null_fd);
    out_fd = s->out_path != NULL
                 ? open(s->out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)
                 : dup(err_fd);
    if (err_fd < 0 || out_fd < 0) {
        harness_log("spawn %s: cannot open its log: %s", s->argv[0], strerror(errno));
        goto out;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        harness_log("fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        sigset_t all;

        if (s->own_group)
            setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        signal(SIGPIPE, SIG_DFL);
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
            _exit(127);
        close_range(3, ~0U, 0);
        if (s->chdir != NULL && chdir(s->chdir) != 0)
            _exit(127);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    if (s->own_group)
        setpgid(pid, pid);
    h_procs.child[h_procs.n_child].pid = pid;
    h_procs.child[h_procs.n_child].group = s->own_group;
    h_procs.child[h_procs.n_child].reaped = 0;
    h_procs.child[h_procs.n_child].code = -1;
    h_procs.child[h_procs.n_child].owner = parent;
    h_procs.child[h_procs.n_child].persistent = s->persistent;
    h_procs.n_child++;
out:
    if (null_fd >= 0)
        close(null_fd);
    if (err_fd >= 0)
        close(err_fd);
    if (out_fd >= 0)
        close(out_fd);
    h_strv_free(argv);
    h_strv_free(envp);
    return pid;
}

/* Converts a wait status to an exit code (128+signal when killed). */
static int h_code(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

int harness_proc_wait(pid_t pid, int timeout_ms)
{
    struct h_child *c = h_child_find(pid);
    uint64_t deadline = harness_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    int st = 0;

    if (c != NULL && c->reaped)
        return c->code;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (c != NULL) {
                c->reaped = 1;
                c->code = h_code(st);
            }
            return h_code(st);
        }
        if (r < 0 && errno != EINTR)
            return -1;
        if (harness_now_ms() >= deadline)
            return -1;
        harness_sleep_ms(10);
    }
}

int harness_proc_alive(pid_t pid)
{
    struct h_child *c = h_child_find(pid);
    int st = 0;
    pid_t r;

    if (c != NULL && c->reaped)
        return 0;
    r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
        if (c != NULL) {
            c->reaped = 1;
            c->code = h_code(st);
        }
        return 0;
    }
    return r == 0;
}

int harness_proc_stop(pid_t pid, int sig, int timeout_ms)
{
    struct h_child *c = h_child_find(pid);
    int group = c != NULL && c->group;
    int code;

    if (c != NULL && c->reaped)
        return c->code;
    kill(group ? -pid : pid, sig);
    code = harness_proc_wait(pid, timeout_ms);
    if (code >= 0) {
        if (group)
            kill(-pid, SIGKILL);
        return code;
    }
    kill(group ? -pid : pid, SIGKILL);
    harness_proc_wait(pid, 5000);
    return -1;
}

int harness_run(const char *const *argv, const char *const *env, int timeout_ms, char **out,
                char **err)
{
    char op[H_PATH];
    char ep[H_PATH];
    struct h_spawn s;
    pid_t pid;
    int code;

    h_procs.run_seq++;
    if (snprintf(op, sizeof(op), "%s/run-%u.out", harness_dir(), h_procs.run_seq) >=
            (int)sizeof(op) ||
        snprintf(ep, sizeof(ep), "%s/run-%u.err.log", harness_dir(), h_procs.run_seq) >=
            (int)sizeof(ep))
        return -1;
    memset(&s, 0, sizeof(s));
    s.argv = argv;
    s.env = env;
    s.out_path = op;
    s.err_path = ep;
    pid = harness_spawn(&s);
    if (pid < 0)
        return -1;
    code = harness_proc_wait(pid, timeout_ms);
    if (code < 0 && harness_proc_alive(pid)) {
        harness_log("%s did not finish within %d ms", argv[0], timeout_ms);
        harness_proc_stop(pid, SIGKILL, 1000);
        code = -1;
    }
    if (out != NULL)
        *out = harness_read_file(op, NULL);
    if (err != NULL)
        *err = harness_read_file(ep, NULL);
    return code;
}

/* ------------------------------------------------------------- moat */

/* True when the loopback port accepts a TCP connection right now. */
static int h_port_accepts(int ipv6, int port)
{
    struct sockaddr_storage ss;
    socklen_t sl = harness_loopback(ipv6, port, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok;

    if (fd < 0)
        return 0;
    ok = connect(fd, (struct sockaddr *)&ss, sl) == 0;
    close(fd);
    return ok;
}

/* True when the test's environment sets variable prefix ("NAME="). */
static int h_env_sets(const struct h_moat_opts *o, const char *prefix)
{
    size_t i;

    for (i = 0; o->env != NULL && o->env[i] != NULL; i++) {
        if (strncmp(o->env[i], prefix, strlen(prefix)) == 0)
            return 1;
    }
    return 0;
}

/* True when the test chose the admin listener itself (flag or environment). */
static int h_admin_chosen(const struct h_moat_opts *o)
{
    size_t i;

    for (i = 0; o->args != NULL && o->args[i] != NULL; i++) {
        if (strncmp(o->args[i], "--admin-listen", 14) == 0)
            return 1;
    }
    return h_env_sets(o, "MOAT_ADMIN_LISTEN=");
}

/* True when the test chose the plain-HTTP listener itself (flag or environment). */
static int h_http_chosen(const struct h_moat_opts *o)
{
    size_t i;

    for (i = 0; o->args != NULL && o->args[i] != NULL; i++) {
        if (strncmp(o->args[i], "--http-listen", 13) == 0)
            return 1;
    }
    return h_env_sets(o, "MOAT_HTTP_LISTEN=");
}

/* One attempt to start moat on port (admin listener on admin_port, plain-HTTP
 * listener on http_port, each unless 0); 0 ready, 1 bind failed (retry), -1 failed. */
static int h_moat_try(struct h_moat *m, const struct h_moat_opts *o, int port, int admin_port,
                      int http_port)
{
    const char *av[96];
    const char *envp[64];
    char listen[64];
    char admin[64];
    char http[64];
    size_t n = 0;
    size_t i;
    struct h_spawn s;
    uint64_t start;
    int wait_ms = o->wait_ms > 0 ? o->wait_ms : 15000;
    int probing = 0;

    snprintf(listen, sizeof(listen), o->ipv6 ? "[::1]:%d" : "127.0.0.1:%d", port);
    for (i = 0; o->wrap != NULL && o->wrap[i] != NULL && n < 40; i++)
        av[n++] = o->wrap[i];
    av[n++] = o->bin != NULL ? o->bin : harness_moat_bin();
    av[n++] = "--listen";
    av[n++] = listen;
    if (o->upstream != NULL) {
        av[n++] = "--upstream";
        av[n++] = o->upstream;
    }
    if (!o->no_cert) {
        av[n++] = "--cert";
        av[n++] = harness_cert();
        av[n++] = "--key";
        av[n++] = harness_key();
    }
    av[n++] = "--log-level";
    av[n++] = o->log_level != NULL ? o->log_level : "debug";
    if (admin_port > 0) {
        snprintf(admin, sizeof(admin), "127.0.0.1:%d", admin_port);
        av[n++] = "--admin-listen";
        av[n++] = admin;
    }
    if (http_port > 0) {
        snprintf(http, sizeof(http), "127.0.0.1:%d", http_port);
        av[n++] = "--http-listen";
        av[n++] = http;
    }
    for (i = 0; o->args != NULL && o->args[i] != NULL && n < 94; i++)
        av[n++] = o->args[i];
    av[n] = NULL;

    h_procs.moat_seq++;
    if (h_procs.moat_seq == 1)
        n = (size_t)snprintf(m->log, sizeof(m->log), "%s/moat.log", harness_dir());
    else
        n = (size_t)snprintf(m->log, sizeof(m->log), "%s/moat-%u.log", harness_dir(),
                             h_procs.moat_seq);
    if (n >= sizeof(m->log))
        return -1;
    /* The readiness check's connections would show in the upstream's connection
     * counts: off unless the test asks for it. */
    n = 0;
    for (i = 0; o->env != NULL && o->env[i] != NULL && n < 62; i++)
        envp[n++] = o->env[i];
    if (!h_env_sets(o, "MOAT_ADMIN_READY_INTERVAL="))
        envp[n++] = "MOAT_ADMIN_READY_INTERVAL=0";
    envp[n] = NULL;
    memset(&s, 0, sizeof(s));
    s.argv = av;
    s.env = envp;
    s.err_path = m->log;
    m->port = port;
    m->admin_port = admin_port;
    m->http_port = http_port;
    m->ipv6 = o->ipv6;
    m->exit_code = -1;
    m->pid = harness_spawn(&s);
    if (m->pid < 0) {
        m->pid = 0;
        return -1;
    }
    start = harness_now_ms();
    for (;;) {
        char *log = harness_read_file(m->log, NULL);
        /* The HTTPS listener's line comes last (after the admin listener's). */
        int listening = log != NULL && strstr(log, "\"event\":\"listening\",\"listener\":"
                                                   "\"https\"") != NULL;
        int in_use = log != NULL && (strstr(log, "in use") != NULL || strstr(log, "EADDRINUSE"));

        free(log);
        if (listening)
            return 0;
        if (!harness_proc_alive(m->pid)) {
            m->exit_code = harness_proc_wait(m->pid, 0);
            m->pid = 0;
            if (m->exit_code == 2 && in_use)
                return 1;
            harness_log("moat exited with code %d before listening", m->exit_code);
            harness_dump_tail(m->log, 40);
            return -1;
        }
        if (harness_now_ms() - start > 3000) {
            if (!probing)
                harness_log("moat logged no \"event\":\"listening\" within 3 s; probing the port");
            probing = 1;
            if (h_port_accepts(o->ipv6, port))
                return 0;
        }
        if (harness_now_ms() - start > (uint64_t)wait_ms) {
            harness_log("moat not listening after %d ms", wait_ms);
            harness_dump_tail(m->log, 40);
            harness_moat_stop(m, 2000);
            return -1;
        }
        harness_sleep_ms(15);
    }
}

int harness_moat_start(struct h_moat *m, const struct h_moat_opts *o)
{
    static const struct h_moat_opts none;
    int attempt;

    memset(m, 0, sizeof(*m));
    m->exit_code = -1;
    if (o == NULL)
        o = &none;
    for (attempt = 0; attempt < 6; attempt++) {
        int port = harness_free_port_on(o->ipv6);
        int admin_port = h_admin_chosen(o) ? 0 : harness_free_port();
        int http_port = h_http_chosen(o) ? 0 : harness_free_port();
        int rc;

        if (port < 0 || admin_port < 0 || http_port < 0 || port == admin_port ||
            (http_port > 0 && (http_port == port || http_port == admin_port)))
            continue;
        rc = h_moat_try(m, o, port, admin_port, http_port);
        if (rc <= 0)
            return rc;
        harness_log("port %d, %d or %d was taken; retrying", port, admin_port, http_port);
    }
    return -1;
}

int harness_moat_stop(struct h_moat *m, int timeout_ms)
{
    if (m->pid > 0) {
        m->exit_code = harness_proc_stop(m->pid, SIGTERM, timeout_ms);
        m->pid = 0;
    }
    return m->exit_code;
}

char *harness_moat_log(const struct h_moat *m)
{
    return harness_read_file(m->log, NULL);
}
