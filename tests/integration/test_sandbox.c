/* test_sandbox.c - integration tests of moat's self-protection, seen from outside: started as
 * root it drops to 65532 with seccomp and no-new-privs in force (/proc/PID/status) and still
 * proxies; --sandbox=off and sandbox.allow_root do what they say; and a container-like run
 * (setpriv + bubblewrap: uid 65532, read-only root, tmpfs /tmp, no capabilities) passes the
 * same smoke requests in front of gunicorn. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define SETPRIV "/usr/bin/setpriv"
#define BWRAP "/usr/bin/bwrap"

/* True (and says why not) when the test can start moat as root. */
static int as_root(void)
{
    if (geteuid() == 0)
        return 1;
    harness_log("not root: skipping (the privilege drop needs moat started as root)");
    return 0;
}

/* Copies the value of field (e.g. "Seccomp") of /proc/PID/status into out, tabs made spaces. */
static void status_field(pid_t pid, const char *field, char *out, size_t cap)
{
    char path[64];
    char key[64];
    char *text;
    char *p;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    snprintf(key, sizeof(key), "\n%s:", field);
    text = harness_read_file(path, NULL);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    p = strstr(text, key);
    ck_assert_msg(p != NULL, "no %s in %s", field, path);
    p += strlen(key);
    while (*p == '\t' || *p == ' ')
        p++;
    n = strcspn(p, "\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    for (p = out; *p != '\0'; p++) {
        if (*p == '\t')
            *p = ' ';
    }
    free(text);
}

/* Asserts field of /proc/PID/status equals want. */
static void status_is(pid_t pid, const char *field, const char *want)
{
    char v[256];

    status_field(pid, field, v, sizeof(v));
    ck_assert_msg(strcmp(v, want) == 0, "%s: \"%s\", want \"%s\"", field, v, want);
}

/* Starts moat in front of the shared app with extra args and env. */
static void start(struct h_moat *m, const char *const *args, const char *const *env)
{
    struct h_moat_opts o;

    memset(&o, 0, sizeof(o));
    o.upstream = harness_shared_app()->url;
    o.args = args;
    o.env = env;
    ck_assert_msg(harness_moat_start(m, &o) == 0, "moat did not start");
}

/* GET / through moat answers 200 from the app. */
static void smoke_get(const struct h_moat *m)
{
    struct h_resp r;

    ck_assert_int_eq(harness_request(m->port,
                                     "GET / HTTP/1.1\r\nHost: localhost\r\n"
                                     "Connection: close\r\n\r\n",
                                     &r, 0, NULL),
                     0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr((const char *)r.body, "hello from the test app") != NULL, "body: %s",
                  (const char *)r.body);
    harness_resp_free(&r);
}

/* POST /echo through moat: the body reaches the app whole, with honest forwarding headers. */
static void smoke_echo(const struct h_moat *m)
{
    static const char req[] = "POST /echo?x=1 HTTP/1.1\r\nHost: good.example\r\n"
                              "X-Forwarded-For: 203.0.113.9\r\nContent-Length: 11\r\n"
                              "Connection: close\r\n\r\nhello moat!";
    struct h_resp r;
    char v[256];

    ck_assert_int_eq(harness_request(m->port, req, &r, 0, NULL), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(harness_json_get((const char *)r.body, "method", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "POST");
    ck_assert_int_eq(harness_json_get((const char *)r.body, "body_len", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "11");
    ck_assert_int_eq(harness_echo_header((const char *)r.body, "X-Forwarded-For", v, sizeof(v)), 1);
    ck_assert_str_eq(v, "127.0.0.1");
    ck_assert_int_eq(harness_echo_header((const char *)r.body, "X-Forwarded-Proto", v, sizeof(v)),
                     1);
    ck_assert_str_eq(v, "https");
    ck_assert_int_eq(harness_echo_header((const char *)r.body, "X-Forwarded-Host", v, sizeof(v)),
                     1);
    ck_assert_str_eq(v, "good.example");
    harness_resp_free(&r);
}

/* True when moat's log contains needle. */
static int log_has(const struct h_moat *m, const char *needle)
{
    char *log = harness_moat_log(m);
    int found = log != NULL && strstr(log, needle) != NULL;

    free(log);
    return found;
}

/* The default, started as root: uid/gid 65532, no capabilities, seccomp filter and
 * no-new-privs in force, Landlock reported, and requests still proxied. */
START_TEST(test_default_drops_and_sandboxes)
{
    struct h_moat m;

    if (!as_root())
        return;
    start(&m, NULL, NULL);
    status_is(m.pid, "Seccomp", "2");
    status_is(m.pid, "NoNewPrivs", "1");
    status_is(m.pid, "Uid", "65532 65532 65532 65532");
    status_is(m.pid, "Gid", "65532 65532 65532 65532");
    status_is(m.pid, "Groups", "");
    status_is(m.pid, "CapEff", "0000000000000000");
    status_is(m.pid, "CapPrm", "0000000000000000");
    smoke_get(&m);
    smoke_echo(&m);
    ck_assert(log_has(&m, "\"event\":\"privileges\",\"outcome\":\"dropped\""));
    ck_assert(log_has(&m, "\"event\":\"sandbox\""));
    ck_assert(log_has(&m, "\"seccomp\":\"enforced\""));
    ck_assert(log_has(&m, "\"proc_seccomp\":2"));
    /* still serving after the first requests (nothing outside the allowlist on the way) */
    smoke_get(&m);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* A certificate reload after the drop still reads the new files (Landlock allows the
 * certificate's directory; the harness hands it to 65532). */
START_TEST(test_reload_after_drop)
{
    struct h_moat m;
    char before[65];
    char after[65];
    struct h_conn c;

    if (!as_root())
        return;
    start(&m, NULL, NULL);
    ck_assert_int_eq(harness_conn_open(&c, m.port), 0);
    ck_assert_int_eq(harness_conn_peer_sha256(&c, before), 0);
    harness_conn_close(&c);
    ck_assert_int_eq(harness_make_cert(harness_cert(), harness_key()), 0);
    ck_assert_int_eq(kill(m.pid, SIGHUP), 0);
    ck_assert_msg(harness_file_wait(m.log, "\"event\":\"tls_reloaded\"", 1, 5000),
                  "no tls_reloaded event");
    ck_assert_int_eq(harness_conn_open(&c, m.port), 0);
    ck_assert_int_eq(harness_conn_peer_sha256(&c, after), 0);
    harness_conn_close(&c);
    ck_assert_str_ne(before, after);
    status_is(m.pid, "Seccomp", "2");
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* Points dir/name.pem links at target_dir's cert.pem and key.pem (replacing them). */
static void link_pair(const char *target_dir)
{
    char from[H_PATH];
    char to[H_PATH];

    harness_path(from, sizeof(from), "live-cert.pem");
    snprintf(to, sizeof(to), "%s/cert.pem", target_dir);
    unlink(from);
    ck_assert_int_eq(symlink(to, from), 0);
    harness_path(from, sizeof(from), "live-key.pem");
    snprintf(to, sizeof(to), "%s/key.pem", target_dir);
    unlink(from);
    ck_assert_int_eq(symlink(to, from), 0);
}

/* Landlock really denies: the served pair is a pair of links; re-pointed at a directory
 * outside the ones allowed at startup, a reload cannot read it (the old certificate stays),
 * while with --sandbox=off the same reload succeeds. */
static void relink_reload(int sandboxed)
{
    static const char *const off[] = {"--sandbox=off", NULL};
    char cert[H_PATH];
    char key[H_PATH];
    char outside[] = "/tmp/moat-it-outside-XXXXXX";
    char ocert[H_PATH];
    char okey[H_PATH];
    const char *args[8];
    struct h_moat m;
    size_t n = 0;

    ck_assert_ptr_nonnull(mkdtemp(outside));
    ck_assert_int_eq(harness_give(outside), 0);
    snprintf(ocert, sizeof(ocert), "%s/cert.pem", outside);
    snprintf(okey, sizeof(okey), "%s/key.pem", outside);
    ck_assert_int_eq(harness_make_cert(ocert, okey), 0);
    link_pair(harness_dir());
    harness_path(cert, sizeof(cert), "live-cert.pem");
    harness_path(key, sizeof(key), "live-key.pem");
    args[n++] = "--cert";
    args[n++] = cert;
    args[n++] = "--key";
    args[n++] = key;
    if (!sandboxed)
        args[n++] = off[0];
    args[n] = NULL;
    start(&m, args, NULL);
    link_pair(outside);
    ck_assert_int_eq(kill(m.pid, SIGHUP), 0);
    if (sandboxed) {
        ck_assert_msg(harness_file_wait(m.log, "\"event\":\"tls_reload_failed\"", 1, 5000),
                      "the reload outside the allowed directories was not refused");
        ck_assert(log_has(&m, "ermission denied"));
        smoke_get(&m); /* the old certificate still serves */
    } else {
        ck_assert_msg(harness_file_wait(m.log, "\"event\":\"tls_reloaded\"", 1, 5000),
                      "no tls_reloaded event");
    }
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
    harness_rmtree(outside);
}

START_TEST(test_landlock_denies)
{
    if (!as_root())
        return;
    relink_reload(1);
}
END_TEST

START_TEST(test_landlock_off_allows)
{
    if (!as_root())
        return;
    relink_reload(0);
}
END_TEST

/* An upstream host name: resolved once before the sandbox, then again by the resolver
 * thread started after it (every 10 s), which must live with Landlock and seccomp. */
START_TEST(test_resolver_thread_sandboxed)
{
    struct h_moat_opts o;
    struct h_moat m;
    char url[H_PATH];

    if (!as_root())
        return;
    snprintf(url, sizeof(url), "http://localhost:%d", harness_shared_app()->port);
    memset(&o, 0, sizeof(o));
    o.upstream = url;
    ck_assert_msg(harness_moat_start(&m, &o) == 0, "moat did not start");
    smoke_get(&m);
    harness_sleep_ms(11000);
    ck_assert_msg(harness_proc_alive(m.pid), "moat died after its resolver ran");
    status_is(m.pid, "Seccomp", "2");
    smoke_get(&m);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* --sandbox=off: no seccomp filter (the drop to 65532 still happens). */
START_TEST(test_sandbox_off)
{
    static const char *const args[] = {"--sandbox=off", NULL};
    struct h_moat m;

    if (!as_root())
        return;
    start(&m, args, NULL);
    status_is(m.pid, "Seccomp", "0");
    status_is(m.pid, "NoNewPrivs", "1");
    status_is(m.pid, "Uid", "65532 65532 65532 65532");
    ck_assert(log_has(&m, "\"event\":\"sandbox_disabled\""));
    smoke_get(&m);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* sandbox.allow_root = true: stays uid 0, says so in a warning, still sandboxed. */
START_TEST(test_allow_root)
{
    static const char *const env[] = {"MOAT_SANDBOX_ALLOW_ROOT=true", NULL};
    struct h_moat m;

    if (!as_root())
        return;
    start(&m, NULL, env);
    status_is(m.pid, "Uid", "0 0 0 0");
    status_is(m.pid, "Seccomp", "2");
    ck_assert(log_has(&m, "\"level\":\"warn\",\"event\":\"running_as_root\""));
    ck_assert(log_has(&m, "\"outcome\":\"kept_root\""));
    smoke_get(&m);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* Issue 6 item 7: the way a container runtime starts it (docker run --read-only --user 65532
 * --cap-drop ALL --security-opt no-new-privileges), with the test's temp dir (certificate,
 * key) bound read-only like a mounted secret. */
START_TEST(test_container_like)
{
    const char *const wrap[] = {SETPRIV,
                                "--reuid",
                                "65532",
                                "--regid",
                                "65532",
                                "--clear-groups",
                                "--inh-caps=-all",
                                "--bounding-set=-all",
                                "--no-new-privs",
                                BWRAP,
                                "--ro-bind",
                                "/",
                                "/",
                                "--dev",
                                "/dev",
                                "--proc",
                                "/proc",
                                "--tmpfs",
                                "/tmp",
                                "--ro-bind",
                                harness_dir(),
                                harness_dir(),
                                "--unshare-pid",
                                "--share-net",
                                "--die-with-parent",
                                NULL};
    struct h_moat_opts o;
    struct h_moat m;
    char bin[H_PATH];
    char cmd[3 * H_PATH + 64];

    if (access(BWRAP, X_OK) != 0 || access(SETPRIV, X_OK) != 0) {
        harness_log("bubblewrap or setpriv missing: skipping the container-like run");
        return;
    }
    if (geteuid() != 0) {
        harness_log("not root: setpriv cannot change ids; skipping the container-like run");
        return;
    }
    /* The build tree may be anywhere (under /tmp, hidden by the tmpfs, or in a
     * directory uid 65532 cannot enter): run a copy from the test's own
     * directory, which is bound in and belongs to 65532. */
    harness_path(bin, sizeof(bin), "moat");
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 0755 '%s'", harness_moat_bin(), bin, bin);
    ck_assert_msg(system(cmd) == 0, "cannot copy the binary: %s", cmd);
    memset(&o, 0, sizeof(o));
    o.upstream = harness_shared_app()->url;
    o.wrap = wrap;
    o.bin = bin;
    ck_assert_msg(harness_moat_start(&m, &o) == 0, "moat did not start under bwrap");
    smoke_get(&m);
    smoke_echo(&m);
    ck_assert(log_has(&m, "\"outcome\":\"unchanged\""));
    ck_assert(log_has(&m, "\"seccomp\":\"enforced\""));
    ck_assert(log_has(&m, "\"proc_no_new_privs\":1"));
    harness_moat_stop(&m, 10000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sandbox");
    TCase *tc = harness_tcase("app", 60);
    Suite *const suites[] = {s, NULL};

    tcase_add_unchecked_fixture(tc, harness_shared_app_setup, harness_shared_app_teardown);
    tcase_add_test(tc, test_default_drops_and_sandboxes);
    tcase_add_test(tc, test_reload_after_drop);
    tcase_add_test(tc, test_landlock_denies);
    tcase_add_test(tc, test_landlock_off_allows);
    tcase_add_test(tc, test_resolver_thread_sandboxed);
    tcase_add_test(tc, test_sandbox_off);
    tcase_add_test(tc, test_allow_root);
    tcase_add_test(tc, test_container_like);
    suite_add_tcase(s, tc);
    return harness_run_suites(suites);
}
