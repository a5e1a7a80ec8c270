/* test_cli.c - integration tests of moat's command line: --help, --version, --check-config,
 * exit codes for bad usage, bad config and startup failures, and the --dev certificate. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "harness.h"

/* What a case needs prepared in the temp dir before moat runs. */
enum prep {
    PREP_NONE = 0,
    PREP_CONF_GOOD,    /* @DIR@/good.conf: a valid config file */
    PREP_CONF_UNKNOWN, /* @DIR@/unknown.conf: a config file with an unknown key */
    PREP_OTHER_KEY,    /* @DIR@/other-key.pem: a key that does not match the cert */
    PREP_BUSY_PORT,    /* @PORT@ is held by a listening socket */
};

/* One command-line case: argv after the binary ("@DIR@", "@CERT@", "@KEY@", "@PORT@" are
 * expanded), extra environment, the expected exit code and text the output must contain. */
struct cli_case {
    const char *name;
    const char *args[16];
    const char *env[4];
    enum prep prep;
    int code;
    const char *want_stdout; /* must appear on stdout (NULL: no requirement) */
    const char *want[3];     /* each must appear in stdout or stderr */
};

static const struct cli_case cli_cases[] = {
    {"help", {"--help"}, {NULL}, PREP_NONE, 0, "--upstream", {"--listen", "--check-config"}},
    {"version", {"--version"}, {NULL}, PREP_NONE, 0, NULL, {"moat"}},
    {"check-config ok",
     {"--check-config", "--listen", "127.0.0.1:18443", "--upstream", "http://127.0.0.1:18000",
      "--cert", "@CERT@", "--key", "@KEY@"},
     {NULL},
     PREP_NONE,
     0,
     NULL,
     {"127.0.0.1:18443", "http://127.0.0.1:18000"}},
    {"check-config file ok",
     {"--check-config", "--config", "@DIR@/good.conf"},
     {NULL},
     PREP_CONF_GOOD,
     0,
     NULL,
     {"127.0.0.1:18444", "max_headers"}},
    {"check-config env override",
     {"--check-config", "--listen", "127.0.0.1:18443", "--cert", "@CERT@", "--key", "@KEY@"},
     {"MOAT_LIMITS_MAX_HEADERS=77", "MOAT_UPSTREAM_URL=http://127.0.0.1:18999"},
     PREP_NONE,
     0,
     NULL,
     {"77", "http://127.0.0.1:18999"}},
    {"bad workers (env)",
     {"--check-config", "--cert", "@CERT@", "--key", "@KEY@"},
     {"MOAT_SERVER_WORKERS=banana"},
     PREP_NONE,
     1,
     NULL,
     {"workers", "banana", "MOAT_SERVER_WORKERS"}},
    {"bad listen (flag)",
     {"--check-config", "--listen", "nowhere:port", "--cert", "@CERT@", "--key", "@KEY@"},
     {NULL},
     PREP_NONE,
     1,
     NULL,
     {"listen", "nowhere:port"}},
    {"bad duration (env)",
     {"--check-config", "--cert", "@CERT@", "--key", "@KEY@"},
     {"MOAT_UPSTREAM_CONNECT_TIMEOUT=5 parsecs"},
     PREP_NONE,
     1,
     NULL,
     {"connect_timeout", "5 parsecs"}},
    {"bad size (env)",
     {"--check-config", "--cert", "@CERT@", "--key", "@KEY@"},
     {"MOAT_LIMITS_MAX_BODY_BYTES=12q"},
     PREP_NONE,
     1,
     NULL,
     {"max_body_bytes", "12q"}},
    {"bad upstream (flag)",
     {"--check-config", "--upstream", "ftp://example", "--cert", "@CERT@", "--key", "@KEY@"},
     {NULL},
     PREP_NONE,
     1,
     NULL,
     {"upstream", "ftp://example"}},
    {"unknown flag", {"--frobnicate"}, {NULL}, PREP_NONE, 1, NULL, {"--frobnicate"}},
    {"unknown env key",
     {"--check-config", "--cert", "@CERT@", "--key", "@KEY@"},
     {"MOAT_SERVER_FROBNICATE=1"},
     PREP_NONE,
     1,
     NULL,
     {"MOAT_SERVER_FROBNICATE"}},
    {"unknown file key",
     {"--check-config", "--config", "@DIR@/unknown.conf"},
     {NULL},
     PREP_CONF_UNKNOWN,
     1,
     NULL,
     {"frobnicate", "unknown.conf"}},
    {"missing config file",
     {"--check-config", "--config", "@DIR@/absent.conf"},
     {NULL},
     PREP_NONE,
     1,
     NULL,
     {"absent.conf"}},
    {"missing cert file",
     {"--listen", "127.0.0.1:@PORT@", "--upstream", "http://127.0.0.1:9", "--cert",
      "@DIR@/nope-cert.pem", "--key", "@KEY@"},
     {NULL},
     PREP_NONE,
     2,
     NULL,
     {"nope-cert.pem"}},
    {"key does not match cert",
     {"--listen", "127.0.0.1:@PORT@", "--upstream", "http://127.0.0.1:9", "--cert", "@CERT@",
      "--key", "@DIR@/other-key.pem"},
     {NULL},
     PREP_OTHER_KEY,
     2,
     NULL,
     {"other-key.pem"}},
    {"listen port busy",
     {"--listen", "127.0.0.1:@PORT@", "--upstream", "http://127.0.0.1:9", "--cert", "@CERT@",
      "--key", "@KEY@"},
     {NULL},
     PREP_BUSY_PORT,
     2,
     NULL,
     {"127.0.0.1:@PORT@"}},
};

/* Replaces the placeholders in s into out. */
static void expand(const char *s, int port, char *out, size_t cap)
{
    static const char *const keys[] = {"@DIR@", "@CERT@", "@KEY@", "@PORT@"};
    size_t n = 0;
    char portbuf[16];

    snprintf(portbuf, sizeof(portbuf), "%d", port);
    while (*s != '\0' && n + 1 < cap) {
        const char *vals[] = {harness_dir(), harness_cert(), harness_key(), portbuf};
        size_t k;
        int hit = 0;

        for (k = 0; k < 4; k++) {
            size_t kl = strlen(keys[k]);
            if (strncmp(s, keys[k], kl) == 0) {
                n += (size_t)snprintf(out + n, cap - n, "%s", vals[k]);
                s += kl;
                hit = 1;
                break;
            }
        }
        if (!hit)
            out[n++] = *s++;
    }
    out[n < cap ? n : cap - 1] = '\0';
}

/* A TCP socket listening on 127.0.0.1:port, or -1. */
static int listen_on(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Sets up what case c needs. Returns a socket to close afterwards, or -1. */
static int prepare(const struct cli_case *c, int port)
{
    char path[H_PATH];
    char text[2048];

    switch (c->prep) {
    case PREP_NONE:
        break;
    case PREP_CONF_GOOD:
        harness_path(path, sizeof(path), "good.conf");
        snprintf(text, sizeof(text),
                 "# a valid config\n[server]\nlisten = 127.0.0.1:18444\n\n[tls]\n"
                 "cert_file = %s\nkey_file = %s\n\n[upstream]\nurl = http://127.0.0.1:18000\n"
                 "connect_timeout = 2s\n\n[limits]\nmax_headers = 50\nmax_body_bytes = 16m\n",
                 harness_cert(), harness_key());
        ck_assert_int_eq(harness_write_file(path, text, strlen(text), 0644), 0);
        break;
    case PREP_CONF_UNKNOWN:
        harness_path(path, sizeof(path), "unknown.conf");
        snprintf(text, sizeof(text),
                 "[server]\nlisten = 127.0.0.1:18444\nfrobnicate = yes\n[tls]\ncert_file = %s\n"
                 "key_file = %s\n",
                 harness_cert(), harness_key());
        ck_assert_int_eq(harness_write_file(path, text, strlen(text), 0644), 0);
        break;
    case PREP_OTHER_KEY: {
        char cert2[H_PATH];
        char key2[H_PATH];
        harness_path(cert2, sizeof(cert2), "other-cert.pem");
        harness_path(key2, sizeof(key2), "other-key.pem");
        ck_assert_int_eq(harness_make_cert(cert2, key2), 0);
        break;
    }
    case PREP_BUSY_PORT: {
        int fd = listen_on(port);
        ck_assert_msg(fd >= 0, "cannot hold port %d", port);
        return fd;
    }
    }
    return -1;
}

START_TEST(test_cli_table)
{
    const struct cli_case *c = &cli_cases[_i];
    const char *argv[20];
    char args[16][H_PATH];
    char env[4][H_PATH];
    const char *envp[5];
    char want[H_PATH];
    char *out = NULL;
    char *err = NULL;
    size_t n = 0;
    size_t i;
    int port = harness_free_port();
    int hold;
    int code;

    hold = prepare(c, port);
    argv[n++] = harness_moat_bin();
    for (i = 0; i < 16 && c->args[i] != NULL; i++) {
        expand(c->args[i], port, args[i], sizeof(args[i]));
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    for (i = 0; i < 4 && c->env[i] != NULL; i++) {
        expand(c->env[i], port, env[i], sizeof(env[i]));
        envp[i] = env[i];
    }
    envp[i] = NULL;
    code = harness_run(argv, envp, 10000, &out, &err);
    if (hold >= 0)
        close(hold);
    ck_assert_msg(out != NULL && err != NULL, "%s: no output captured", c->name);
    ck_assert_msg(code == c->code, "%s: exit code %d, want %d\nstdout: %s\nstderr: %s", c->name,
                  code, c->code, out, err);
    if (c->want_stdout != NULL)
        ck_assert_msg(strstr(out, c->want_stdout) != NULL, "%s: stdout lacks '%s':\n%s", c->name,
                      c->want_stdout, out);
    for (i = 0; i < 3 && c->want[i] != NULL; i++) {
        expand(c->want[i], port, want, sizeof(want));
        ck_assert_msg(strstr(out, want) != NULL || strstr(err, want) != NULL,
                      "%s: output lacks '%s'\nstdout: %s\nstderr: %s", c->name, want, out, err);
    }
    if (c->code != 0)
        ck_assert_msg(strlen(err) + strlen(out) > 0, "%s: failed without a message", c->name);
    free(out);
    free(err);
}
END_TEST

/* Checks that the log text mentions the fingerprint (hex, any case, colons or not). */
static int log_has_fingerprint(const char *log, const char *hex)
{
    char upper_colon[100];
    char lower_colon[100];
    char upper[65];
    size_t i;
    size_t k = 0;

    for (i = 0; i < 32; i++) {
        char hi = hex[2 * i];
        char lo = hex[2 * i + 1];
        char uh = (char)(hi >= 'a' ? hi - 32 : hi);
        char ul = (char)(lo >= 'a' ? lo - 32 : lo);

        upper[2 * i] = uh;
        upper[2 * i + 1] = ul;
        upper_colon[k] = uh;
        lower_colon[k++] = hi;
        upper_colon[k] = ul;
        lower_colon[k++] = lo;
        if (i < 31) {
            upper_colon[k] = ':';
            lower_colon[k++] = ':';
        }
    }
    upper[64] = '\0';
    upper_colon[k] = '\0';
    lower_colon[k] = '\0';
    return strstr(log, hex) != NULL || strstr(log, upper) != NULL ||
           strstr(log, upper_colon) != NULL || strstr(log, lower_colon) != NULL;
}

/* Starts moat with --dev in state_dir and returns the served certificate's fingerprint. */
static void dev_start(struct h_moat *m, const char *state_dir, char *served)
{
    const char *args[] = {"--dev", "--state-dir", state_dir, NULL};
    struct h_moat_opts o = {0};
    struct h_conn c;

    o.upstream = "http://127.0.0.1:9";
    o.args = args;
    o.no_cert = 1;
    ck_assert_msg(harness_moat_start(m, &o) == 0, "moat --dev did not start");
    ck_assert_msg(harness_conn_open(&c, m->port) == 0, "TLS to the dev cert: %s", c.error);
    ck_assert_int_eq(harness_conn_peer_sha256(&c, served), 0);
    harness_conn_close(&c);
}

/* The README's first command: "moat --dev" started by root with no state
 * directory. /root is closed to the user moat drops to, so the automatic
 * state directory must be one that user can use (/var/lib/moat), else the
 * sandbox setup fails and moat exits. HOME points at a root-only directory to
 * reproduce that whatever the machine. */
START_TEST(test_dev_as_root_default_state)
{
    static const char *const args[] = {"--dev", NULL};
    char home[H_PATH];
    char env_home[H_PATH + 8];
    const char *env[] = {NULL, "XDG_STATE_HOME=", "MOAT_TLS_WATCH_INTERVAL=1s", NULL};
    struct h_moat_opts o = {0};
    struct h_moat m;
    struct h_conn c;
    char served[65];
    char *log;

    if (geteuid() != 0) {
        harness_log("not root: the automatic state directory is the user's own; skipped");
        return;
    }
    harness_path(home, sizeof(home), "roothome");
    ck_assert_int_eq(mkdir(home, 0700), 0);
    ck_assert_int_eq(chown(home, 0, 0), 0);
    snprintf(env_home, sizeof(env_home), "HOME=%s", home);
    env[0] = env_home;
    o.upstream = "http://127.0.0.1:9";
    o.args = args;
    o.env = env;
    o.no_cert = 1;
    ck_assert_msg(harness_moat_start(&m, &o) == 0, "moat --dev as root did not start");
    ck_assert_msg(harness_conn_open(&c, m.port) == 0, "TLS to the dev cert: %s", c.error);
    ck_assert_int_eq(harness_conn_peer_sha256(&c, served), 0);
    harness_conn_close(&c);
    /* Handing the pair to the dropped user (chown) is no file change: no reload. */
    harness_sleep_ms(2600);
    log = harness_moat_log(&m);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strstr(log, "\"event\":\"tls_reloaded\"") == NULL,
                  "a reload without any change of the files");
    free(log);
    ck_assert_int_eq(kill(m.pid, SIGHUP), 0);
    /* The reload finds the pair where it was made, not in the dropped user's home. */
    ck_assert_msg(harness_file_wait(m.log, "\"event\":\"tls_reloaded\"", 1, 5000),
                  "SIGHUP did not reload the development certificate");
    log = harness_moat_log(&m);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strstr(log, "tls_reload_failed") == NULL &&
                      strstr(log, "dev_cert_failed") == NULL,
                  "the reload failed");
    free(log);
    ck_assert_msg(harness_conn_open(&c, m.port) == 0, "after SIGHUP: %s", c.error);
    harness_conn_close(&c);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

START_TEST(test_dev_cert)
{
    char state[H_PATH];
    char cert[H_PATH];
    char key[H_PATH];
    char fp1[65];
    char fp2[65];
    char served[65];
    char *pem1;
    char *pem2;
    char *log;
    struct stat st;
    struct h_moat m;
    FILE *f;
    X509 *x;
    EVP_PKEY *pk;
    char group[64] = "";
    size_t glen = 0;

    harness_path(state, sizeof(state), "state");
    harness_path(cert, sizeof(cert), "state/dev-cert.pem");
    harness_path(key, sizeof(key), "state/dev-key.pem");

    dev_start(&m, state, served);
    ck_assert_msg(stat(cert, &st) == 0, "%s not created", cert);
    ck_assert_msg(stat(key, &st) == 0, "%s not created", key);
    ck_assert_msg((st.st_mode & 077) == 0, "dev key mode %o is readable by others",
                  (unsigned)(st.st_mode & 0777));
    ck_assert_int_eq(harness_cert_sha256(cert, fp1), 0);
    ck_assert_str_eq(served, fp1);
    log = harness_moat_log(&m);
    ck_assert_msg(log_has_fingerprint(log, fp1), "first run: fingerprint %s not logged", fp1);
    free(log);

    f = fopen(cert, "r");
    ck_assert_ptr_nonnull(f);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    ck_assert_msg(X509_check_host(x, "localhost", 0, 0, NULL) == 1, "no SAN localhost");
    ck_assert_msg(X509_check_ip_asc(x, "127.0.0.1", 0) == 1, "no SAN 127.0.0.1");
    ck_assert_msg(X509_check_ip_asc(x, "::1", 0) == 1, "no SAN ::1");
    pk = X509_get0_pubkey(x);
    ck_assert_ptr_nonnull(pk);
    ck_assert_int_eq(EVP_PKEY_get_base_id(pk), EVP_PKEY_EC);
    ck_assert_int_eq(EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen), 1);
    ck_assert_str_eq(group, "prime256v1");
    X509_free(x);

    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
    pem1 = harness_read_file(cert, NULL);

    dev_start(&m, state, served);
    ck_assert_int_eq(harness_cert_sha256(cert, fp2), 0);
    ck_assert_str_eq(fp1, fp2);
    ck_assert_str_eq(served, fp1);
    pem2 = harness_read_file(cert, NULL);
    ck_assert_msg(pem1 != NULL && pem2 != NULL && strcmp(pem1, pem2) == 0,
                  "second run rewrote the dev certificate");
    log = harness_moat_log(&m);
    ck_assert_msg(log_has_fingerprint(log, fp1), "second run: fingerprint %s not logged", fp1);
    free(log);
    free(pem1);
    free(pem2);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = harness_tcase("cli", 30);
    TCase *dev = harness_tcase("dev", 60);
    Suite *const suites[] = {s, NULL};

    tcase_add_loop_test(tc, test_cli_table, 0, (int)(sizeof(cli_cases) / sizeof(cli_cases[0])));
    tcase_add_test(dev, test_dev_cert);
    tcase_add_test(dev, test_dev_as_root_default_state);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, dev);
    return harness_run_suites(suites);
}
