/* test_admin.c - unit tests for the admin listener's pure parts: routing (404/405 and
 * Allow), the /readyz decision, admin.listen parsing, and the upstream check against
 * sockets the test holds (refused, accepting, Unix), and the healthcheck client's failures. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "moat/admin.h"
#include "moat/config.h"
#include "test_config_util.h"

/* ---- routing ---- */

struct route_case {
    const char *method;
    const char *path;
    enum moat_admin_route route;
    const char *allow; /* NULL: none */
};

static const struct route_case route_cases[] = {
    {"GET", "/metrics", MOAT_ADMIN_METRICS, "GET, HEAD"},
    {"HEAD", "/metrics", MOAT_ADMIN_METRICS, "GET, HEAD"},
    {"GET", "/healthz", MOAT_ADMIN_HEALTHZ, "GET, HEAD"},
    {"HEAD", "/healthz", MOAT_ADMIN_HEALTHZ, "GET, HEAD"},
    {"GET", "/readyz", MOAT_ADMIN_READYZ, "GET, HEAD"},
    {"POST", "/metrics", MOAT_ADMIN_BAD_METHOD, "GET, HEAD"},
    {"PUT", "/healthz", MOAT_ADMIN_BAD_METHOD, "GET, HEAD"},
    {"DELETE", "/readyz", MOAT_ADMIN_BAD_METHOD, "GET, HEAD"},
    {"OPTIONS", "/readyz", MOAT_ADMIN_BAD_METHOD, "GET, HEAD"},
    {"get", "/metrics", MOAT_ADMIN_BAD_METHOD, "GET, HEAD"}, /* methods are case-sensitive */
    {"GET", "/", MOAT_ADMIN_NOT_FOUND, NULL},
    {"GET", "", MOAT_ADMIN_NOT_FOUND, NULL},
    {"GET", "/metrics/", MOAT_ADMIN_NOT_FOUND, NULL},
    {"GET", "/Metrics", MOAT_ADMIN_NOT_FOUND, NULL},
    {"GET", "/metricsx", MOAT_ADMIN_NOT_FOUND, NULL},
    {"GET", "//metrics", MOAT_ADMIN_NOT_FOUND, NULL},
    {"GET", "/healthz/../metrics", MOAT_ADMIN_NOT_FOUND, NULL},
    {"POST", "/emergency", MOAT_ADMIN_NOT_FOUND, NULL}, /* unknown path: 404 whatever the method */
    {"POST", "/emergency-shutdown", MOAT_ADMIN_SHUTDOWN, "POST"},
    {"GET", "/emergency-shutdown", MOAT_ADMIN_BAD_METHOD, "POST"},
    {"HEAD", "/emergency-shutdown", MOAT_ADMIN_BAD_METHOD, "POST"},
    {"PUT", "/emergency-shutdown", MOAT_ADMIN_BAD_METHOD, "POST"},
    {"post", "/emergency-shutdown", MOAT_ADMIN_BAD_METHOD, "POST"},
    {"POST", "/emergency-shutdown/", MOAT_ADMIN_NOT_FOUND, NULL},
    {"POST", "/Emergency-Shutdown", MOAT_ADMIN_NOT_FOUND, NULL},
    {"GET", NULL, MOAT_ADMIN_NOT_FOUND, NULL},
    {NULL, "/metrics", MOAT_ADMIN_NOT_FOUND, NULL},
};

START_TEST(test_route_table)
{
    const struct route_case *c = &route_cases[_i];
    struct moat_admin_match m;

    moat_admin_route(c->method, c->path, &m);
    ck_assert_msg(m.route == c->route, "%s %s: route %d, want %d", c->method, c->path, (int)m.route,
                  (int)c->route);
    if (c->allow == NULL)
        ck_assert_ptr_null(m.allow);
    else
        ck_assert_str_eq(m.allow, c->allow);
}
END_TEST

/* ---- readiness ---- */

#define NEVER UINT64_MAX

struct ready_case {
    struct moat_admin_ready_in in;
    int ready;
    const char *why; /* prefix of the reason (NULL: ready) */
};

/* Fields: lockdown, draining, check_off, checked, check_error, ok_age_ms, max_age_ms. */
static const struct ready_case ready_cases[] = {
    {{0, 0, 0, 1, NULL, 0, 10000}, 1, NULL},
    {{0, 0, 0, 1, NULL, 10000, 10000}, 1, NULL}, /* exactly max age: still fresh */
    {{0, 0, 0, 1, NULL, 10001, 10000}, 0, "upstream check is stale: last success 10001 ms ago"},
    {{0, 0, 0, 0, NULL, NEVER, 10000}, 0, "upstream not checked yet"},
    {{0, 0, 0, 1, "connect to http://127.0.0.1:1: Connection refused", 5, 10000},
     0,
     "upstream unreachable: connect to http://127.0.0.1:1: Connection refused"},
    {{0, 0, 0, 1, "x", NEVER, 10000}, 0, "upstream unreachable: x"},
    {{0, 0, 0, 1, NULL, NEVER, 10000}, 0, "upstream never accepted a connection"},
    {{0, 1, 0, 1, NULL, 0, 10000}, 0, "draining"},
    {{1, 0, 0, 1, NULL, 0, 10000}, 0, "lockdown"},
    {{1, 1, 0, 0, "x", NEVER, 10000}, 0, "lockdown"}, /* lockdown is named first */
    {{0, 1, 0, 0, "x", NEVER, 10000}, 0, "draining"}, /* then draining */
    {{0, 0, 1, 0, NULL, NEVER, 0}, 1, NULL},          /* check off: ready */
    {{0, 0, 1, 1, "x", NEVER, 0}, 1, NULL},           /* check off: its state is ignored */
    {{0, 1, 1, 0, NULL, NEVER, 0}, 0, "draining"},    /* check off still drains */
    {{1, 0, 1, 0, NULL, NEVER, 0}, 0, "lockdown"},
};

START_TEST(test_ready_table)
{
    const struct ready_case *c = &ready_cases[_i];
    char why[256];
    int ready;

    memset(why, 'X', sizeof(why));
    ready = moat_admin_ready(&c->in, why, sizeof(why));
    ck_assert_msg(ready == c->ready, "case %d: ready %d, want %d (%s)", _i, ready, c->ready, why);
    if (c->why == NULL)
        ck_assert_str_eq(why, "");
    else
        ck_assert_msg(strncmp(why, c->why, strlen(c->why)) == 0, "case %d: why \"%s\", want \"%s\"",
                      _i, why, c->why);
}
END_TEST

START_TEST(test_ready_small_buffer)
{
    struct moat_admin_ready_in in = {0, 0, 0, 1, "a long reason that does not fit", 0, 10};
    char why[8];

    ck_assert_int_eq(moat_admin_ready(&in, why, sizeof(why)), 0);
    ck_assert_str_eq(why, "upstrea");
}
END_TEST

/* ---- admin.listen values ---- */

struct bind_case {
    const char *text;
    int ok;
    enum moat_bind_kind kind;
    const char *back; /* formatted again (NULL: same as text) */
};

static const struct bind_case bind_cases[] = {
    {"127.0.0.1:9901", 1, MOAT_BIND_TCP, NULL},
    {"[::1]:9901", 1, MOAT_BIND_TCP, NULL},
    {"*:9901", 1, MOAT_BIND_TCP, "0.0.0.0:9901"},
    {"unix:/run/moat/admin.sock", 1, MOAT_BIND_UNIX, NULL},
    {"UNIX:/x", 1, MOAT_BIND_UNIX, "unix:/x"},
    {"off", 1, MOAT_BIND_OFF, NULL},
    {"OFF", 1, MOAT_BIND_OFF, "off"},
    {"unix:relative.sock", 0, MOAT_BIND_OFF, NULL},
    {"unix:/"
     "0123456789012345678901234567890123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789",
     0, MOAT_BIND_OFF, NULL},
    {"localhost:9901", 0, MOAT_BIND_OFF, NULL},
    {"127.0.0.1", 0, MOAT_BIND_OFF, NULL},
    {"127.0.0.1:0", 0, MOAT_BIND_OFF, NULL},
    {"", 0, MOAT_BIND_OFF, NULL},
    {"on", 0, MOAT_BIND_OFF, NULL},
};

START_TEST(test_bind_table)
{
    const struct bind_case *c = &bind_cases[_i];
    struct moat_bind_addr b;
    char out[256];

    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(moat_config_parse_bind(c->text, &b) == 0, c->ok);
    if (!c->ok)
        return;
    ck_assert_int_eq(b.kind, c->kind);
    ck_assert_int_eq(moat_config_format_bind(&b, out, sizeof(out)), 0);
    ck_assert_str_eq(out, c->back != NULL ? c->back : c->text);
    ck_assert_int_eq(moat_config_format_bind(&b, out, 3), -1);
}
END_TEST

/* ---- the upstream check ---- */

/* A listening TCP socket on 127.0.0.1 (port into *port), or -1. */
static int listen_tcp(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A config whose upstream.url is url (defaults otherwise). */
static void config_for(struct moat_config *cfg, const char *url)
{
    struct moat_cli cli;
    char err[512];
    const char *args[] = {"--dev", "--upstream", url, NULL};
    const char *env[] = {"MOAT_CONFIG=/dev/null", NULL};

    ck_assert_msg(load(args, env, cfg, &cli, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(test_check_tcp)
{
    static struct moat_config cfg;
    char url[64];
    char err[256];
    int port;
    int fd = listen_tcp(&port);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    config_for(&cfg, url);
    ck_assert_int_eq(moat_admin_check_upstream(&cfg, 1000, err, sizeof(err)), 0);
    ck_assert_str_eq(err, "");
    close(fd);
    /* Nothing listens there now. */
    ck_assert_int_eq(moat_admin_check_upstream(&cfg, 1000, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "Connection refused") != NULL && strstr(err, url) != NULL, "%s", err);
}
END_TEST

START_TEST(test_check_unix)
{
    static struct moat_config cfg;
    struct sockaddr_un sun;
    char path[64];
    char url[80];
    char err[256];
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(path, sizeof(path), "/tmp/moat-test-admin-%d.sock", (int)getpid());
    snprintf(url, sizeof(url), "unix:%s", path);
    config_for(&cfg, url);
    unlink(path);
    ck_assert_int_eq(moat_admin_check_upstream(&cfg, 1000, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(moat_admin_check_upstream(&cfg, 1000, err, sizeof(err)), 0);
    close(fd);
    ck_assert_int_eq(moat_admin_check_upstream(&cfg, 1000, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "Connection refused") != NULL, "%s", err);
    unlink(path);
}
END_TEST

START_TEST(test_healthcheck_off_and_refused)
{
    static struct moat_config cfg;
    char msg[256];
    int port;
    int fd = listen_tcp(&port);
    char addr[32];

    config_for(&cfg, "http://127.0.0.1:1");
    cfg.admin.listen.kind = MOAT_BIND_OFF;
    ck_assert_int_eq(moat_admin_healthcheck(&cfg, 1000, msg, sizeof(msg)), -1);
    ck_assert_msg(strstr(msg, "off") != NULL, "%s", msg);
    close(fd); /* the port is free again: nothing answers */
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    ck_assert_int_eq(moat_config_parse_bind(addr, &cfg.admin.listen), 0);
    ck_assert_int_eq(moat_admin_healthcheck(&cfg, 1000, msg, sizeof(msg)), -1);
    ck_assert_msg(strstr(msg, "Connection refused") != NULL && strstr(msg, addr) != NULL, "%s",
                  msg);
}
END_TEST

/* ---- the healthcheck subcommand's command line ---- */

START_TEST(test_healthcheck_cli)
{
    static struct moat_config cfg;
    struct moat_cli cli;
    char err[512];
    const char *env[] = {"MOAT_CONFIG=/dev/null", NULL};
    const char *env_tls[] = {"MOAT_CONFIG=/dev/null", "MOAT_ADMIN_TLS=yes", NULL};
    const char *args[] = {"healthcheck", "--admin-listen", "unix:/run/a.sock", NULL};
    const char *bare[] = {"healthcheck", NULL};
    const char *late[] = {"--dev", "healthcheck", NULL};
    const char *no_cert[] = {"--listen", "127.0.0.1:8443", NULL};

    /* no certificate needed to ask for /healthz */
    ck_assert_msg(load(args, env, &cfg, &cli, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(cli.healthcheck, 1);
    ck_assert_int_eq(cfg.admin.listen.kind, MOAT_BIND_UNIX);
    ck_assert_str_eq(cfg.admin.listen.path, "/run/a.sock");
    ck_assert_msg(load(bare, env_tls, &cfg, &cli, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(cli.healthcheck, 1);
    ck_assert_int_eq(cfg.admin.tls, 1);
    ck_assert_str_eq(cfg.admin.listen.tcp.host, "127.0.0.1");
    ck_assert_uint_eq(cfg.admin.listen.tcp.port, 9901);
    /* only as the first word */
    ck_assert_int_eq(load(late, env, &cfg, &cli, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "healthcheck") != NULL, "%s", err);
    /* the server itself still needs one */
    ck_assert_int_eq(load(no_cert, env, &cfg, &cli, err, sizeof(err)), -1);
    ck_assert_int_eq(cli.healthcheck, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("core");
    TCase *io = tcase_create("io");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_route_table, 0, sizeof(route_cases) / sizeof(route_cases[0]));
    tcase_add_loop_test(tc, test_ready_table, 0, sizeof(ready_cases) / sizeof(ready_cases[0]));
    tcase_add_test(tc, test_ready_small_buffer);
    tcase_add_loop_test(tc, test_bind_table, 0, sizeof(bind_cases) / sizeof(bind_cases[0]));
    tcase_add_test(tc, test_healthcheck_cli);
    tcase_add_test(io, test_check_tcp);
    tcase_add_test(io, test_check_unix);
    tcase_add_test(io, test_healthcheck_off_and_refused);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, io);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
