/* harness.c - integration harness core: per-test temp dirs, the failure watcher, fixtures,
 * and small file, /proc and test-pattern utilities. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

/* The harness's per-test runtime state (one test per process under Check's fork mode). */
static struct {
    char dir[H_PATH];        /* the test's temp dir, "" outside a test */
    char cert[H_PATH];       /* test certificate (PEM) */
    char key[H_PATH];        /* its key (PEM) */
    int watch_fd;            /* write end of the watcher's pipe, -1 when none */
    char shared_log[H_PATH]; /* log of the shared app, dumped on failure */
} h_rt = {.watch_fd = -1};

/* ------------------------------------------------------------------ utilities */

uint64_t harness_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void harness_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

socklen_t harness_loopback(int ipv6, int port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    if (ipv6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        s6->sin6_addr = in6addr_loopback;
        return sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)out;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sizeof(*s4);
    }
}

int harness_free_port_on(int ipv6)
{
    struct sockaddr_storage ss;
    socklen_t sl = harness_loopback(ipv6, 0, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = -1;

    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&ss, sl) == 0 &&
        getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        port = ntohs(ipv6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                          : ((struct sockaddr_in *)&ss)->sin_port);
    close(fd);
    return port;
}

int harness_free_port(void)
{
    return harness_free_port_on(0);
}

char *harness_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = NULL;
    size_t used = 0;
    size_t cap = 0;
    ssize_t n;

    if (fd < 0)
        return NULL;
    for (;;) {
        if (cap - used < 65536) {
            char *nb = realloc(buf, cap + 65536 + 1);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                goto out;
            }
            buf = nb;
            cap += 65536;
        }
        n = read(fd, buf + used, cap - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    if (len != NULL)
        *len = used;
out:
    close(fd);
    return buf;
}

int harness_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    const char *p = data;
    int rc = -1;

    if (fd < 0)
        return -1;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        p += n;
        len -= (size_t)n;
    }
    rc = harness_give(path);
out:
    close(fd);
    return rc;
}

int harness_give(const char *path)
{
    if (geteuid() != 0)
        return 0;
    if (chown(path, H_SANDBOX_ID, H_SANDBOX_ID) != 0) {
        harness_log("chown %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

size_t harness_count(const char *hay, const char *needle)
{
    size_t n = 0;
    size_t nl = strlen(needle);
    const char *p = hay;

    if (hay == NULL || nl == 0)
        return 0;
    for (;;) {
        p = strstr(p, needle);
        if (p == NULL)
            break;
        n++;
        p += nl;
    }
    return n;
}

int harness_file_wait(const char *path, const char *needle, size_t times, int timeout_ms)
{
    uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;

    for (;;) {
        char *s = harness_read_file(path, NULL);
        size_t n = harness_count(s, needle);

        free(s);
        if (n >= times)
            return 1;
        if (harness_now_ms() >= deadline)
            return 0;
        harness_sleep_ms(20);
    }
}

void harness_dump_tail(const char *path, int lines)
{
    size_t len = 0;
    char *s = harness_read_file(path, &len);
    size_t start = len;
    int seen = 0;

    if (s == NULL) {
        fprintf(stderr, "harness: (no log %s)\n", path);
        return;
    }
    while (start > 0) {
        if (s[start - 1] == '\n' && start != len) {
            seen++;
            if (seen >= lines)
                break;
        }
        start--;
    }
    fprintf(stderr, "---- harness: tail of %s (%zu bytes) ----\n%s%s---- end of %s ----\n", path,
            len, s + start, (len > 0 && s[len - 1] != '\n') ? "\n" : "", path);
    fflush(stderr);
    free(s);
}

int harness_fd_count(pid_t pid)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (d == NULL)
        return -1;
    for (;;) {
        e = readdir(d);
        if (e == NULL)
            break;
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n;
}

long harness_status_kb(pid_t pid, const char *field)
{
    char path[64];
    char *s;
    const char *p;
    size_t fl = strlen(field);
    long v = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    s = harness_read_file(path, NULL);
    if (s == NULL)
        return -1;
    for (p = s; p != NULL && *p != '\0';) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            v = strtol(p + fl + 1, NULL, 10);
            break;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    free(s);
    return v;
}

void harness_pattern_fill(unsigned char *buf, size_t len, uint64_t off)
{
    unsigned v = (unsigned)(off % 251u);
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = (unsigned char)v;
        v = (v == 250u) ? 0u : v + 1u;
    }
}

const unsigned char *harness_pattern_at(uint64_t off)
{
    static unsigned char block[H_PATTERN_RUN + 251];
    static int ready;

    if (!ready) {
        harness_pattern_fill(block, sizeof(block), 0);
        ready = 1;
    }
    return block + off % 251u;
}

void harness_pattern_sha256(uint64_t n, char *hex)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint64_t off = 0;

    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    while (off < n) {
        size_t take = n - off < H_PATTERN_RUN ? (size_t)(n - off) : H_PATTERN_RUN;
        EVP_DigestUpdate(ctx, harness_pattern_at(off), take);
        off += take;
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    harness_hex(md, 32, hex);
}

void harness_url(char *out, size_t cap, int port)
{
    snprintf(out, cap, "http://127.0.0.1:%d", port);
}

int harness_env_flag(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

void harness_log(const char *fmt, ...)
{
    va_list ap;

    fputs("harness: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

/* ------------------------------------------------------------- environment */

const char *harness_moat_bin(void)
{
    const char *v = getenv("MOAT_BIN");

    if (v == NULL || v[0] == '\0')
        ck_abort_msg("MOAT_BIN is not set (run the integration tests through ctest)");
    return v;
}

const char *harness_source_dir(void)
{
    const char *v = getenv("MOAT_SOURCE_DIR");

    if (v == NULL || v[0] == '\0')
        ck_abort_msg("MOAT_SOURCE_DIR is not set (run the integration tests through ctest)");
    return v;
}

const char *harness_dir(void)
{
    return h_rt.dir;
}

void harness_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", h_rt.dir, name);
}

const char *harness_cert(void)
{
    return h_rt.cert;
}

const char *harness_key(void)
{
    return h_rt.key;
}

/* nftw callback for rm -rf. */
static int h_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void harness_rmtree(const char *dir)
{
    if (dir[0] != '\0')
        nftw(dir, h_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Prints the tail of every *.log file in dir. */
static void h_dump_dir_logs(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[H_PATH * 2];

    if (d == NULL)
        return;
    for (;;) {
        size_t nl;

        e = readdir(d);
        if (e == NULL)
            break;
        nl = strlen(e->d_name);
        if (nl > 4 && strcmp(e->d_name + nl - 4, ".log") == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            harness_dump_tail(path, 60);
        }
    }
    closedir(d);
}

/* The watcher: waits for the test process to go away. Without the "passed" byte it prints
 * the logs; then it removes the temp dir. Runs in its own process group so that Check's
 * killpg after a timeout does not take it along. Never returns. */
static void h_watcher(int rfd)
{
    char c = 0;
    int passed = 0;

    setpgid(0, 0);
    for (;;) {
        ssize_t n = read(rfd, &c, 1);
        if (n == 1 && c == 'P')
            passed = 1;
        if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
    if (!passed) {
        fprintf(stderr, "harness: test in %s did not pass; logs follow\n", h_rt.dir);
        h_dump_dir_logs(h_rt.dir);
        if (h_rt.shared_log[0] != '\0')
            harness_dump_tail(h_rt.shared_log, 40);
    }
    if (!harness_env_flag("MOAT_KEEP_TMP"))
        harness_rmtree(h_rt.dir);
    else
        fprintf(stderr, "harness: kept %s\n", h_rt.dir);
    _exit(0);
}

/* Starts the watcher process for the current temp dir. Returns 0 or -1. */
static int h_watcher_start(void)
{
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[1]);
        if (p[0] > 3)
            close_range(3, (unsigned)p[0] - 1, 0);
        close_range((unsigned)p[0] + 1, ~0U, 0);
        h_watcher(p[0]);
    }
    close(p[0]);
    h_rt.watch_fd = p[1];
    return 0;
}

void harness_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[H_PATH];

    signal(SIGPIPE, SIG_IGN);
    if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 40)
        tmp = "/tmp";
    snprintf(tmpl, sizeof(tmpl), "%s/moat-it-XXXXXX", tmp);
    if (mkdtemp(tmpl) == NULL)
        ck_abort_msg("harness: mkdtemp %s: %s", tmpl, strerror(errno));
    /* moat started as root drops to H_SANDBOX_ID: it must still reach its files. */
    if (harness_give(tmpl) != 0)
        ck_abort_msg("harness: cannot hand %s to uid %d", tmpl, H_SANDBOX_ID);
    if (snprintf(h_rt.dir, sizeof(h_rt.dir), "%s", tmpl) >= (int)sizeof(h_rt.dir) ||
        snprintf(h_rt.cert, sizeof(h_rt.cert), "%s/cert.pem", h_rt.dir) >= (int)sizeof(h_rt.cert) ||
        snprintf(h_rt.key, sizeof(h_rt.key), "%s/key.pem", h_rt.dir) >= (int)sizeof(h_rt.key))
        ck_abort_msg("harness: temp dir path too long: %s", tmpl);
    if (h_watcher_start() != 0)
        ck_abort_msg("harness: cannot start the watcher: %s", strerror(errno));
    if (harness_make_cert(h_rt.cert, h_rt.key) != 0)
        ck_abort_msg("harness: cannot create the test certificate in %s", h_rt.dir);
}

void harness_teardown(void)
{
    harness_proc_stop_all();
    harness_upstream_stop_all();
    if (h_rt.watch_fd >= 0) {
        char p = 'P';
        if (write(h_rt.watch_fd, &p, 1) != 1)
            harness_log("watcher pipe: %s", strerror(errno));
        close(h_rt.watch_fd);
        h_rt.watch_fd = -1;
    }
    h_rt.dir[0] = '\0';
}

TCase *harness_tcase(const char *name, double timeout_s)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, harness_setup, harness_teardown);
    tcase_set_timeout(tc, timeout_s);
    return tc;
}

int harness_run_suites(Suite *const *suites)
{
    SRunner *sr;
    size_t i;
    int failed;

    if (suites[0] == NULL)
        return EXIT_FAILURE;
    sr = srunner_create(suites[0]);
    for (i = 1; suites[i] != NULL; i++)
        srunner_add_suite(sr, suites[i]);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void harness_watch_log(const char *path)
{
    snprintf(h_rt.shared_log, sizeof(h_rt.shared_log), "%s", path);
}
