/* test_memory.c - integration test that moat streams bodies with bounded memory: a 1 GiB
 * download and a 1 GiB upload through moat leave its peak RSS (VmHWM) under 64 MiB.
 * MOAT_SKIP_HUGE=1 skips the transfers for quick local runs (CI runs them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define GIB (1024ull * 1024ull * 1024ull)
#define HWM_LIMIT_KB (64L * 1024L)

/* Starts moat in front of u, failing the test when it does not come up. */
static void start_moat(struct h_moat *m, struct h_upstream *u)
{
    struct h_moat_opts o = {0};
    static const char *const env[] = {"MOAT_LIMITS_MAX_BODY_BYTES=2g", NULL};

    o.upstream = harness_upstream_url(u);
    o.env = env;
    o.log_level = "info";
    ck_assert_msg(harness_moat_start(m, &o) == 0, "moat did not start");
}

/* Reports moat's memory and fails when the peak is over the limit. */
static void check_hwm(const struct h_moat *m, const char *what, uint64_t ms)
{
    long hwm = harness_status_kb(m->pid, "VmHWM");
    long rss = harness_status_kb(m->pid, "VmRSS");

    fprintf(stderr, "test_memory: %s in %llu ms; moat VmHWM %ld kB, VmRSS %ld kB\n", what,
            (unsigned long long)ms, hwm, rss);
    ck_assert_msg(hwm > 0, "cannot read moat's VmHWM");
    ck_assert_msg(hwm < HWM_LIMIT_KB, "%s: moat's peak RSS %ld kB is over %ld kB", what, hwm,
                  HWM_LIMIT_KB);
}

START_TEST(test_download_1g)
{
    static char head[128];
    struct h_step script[] = {H_SENDN(head, 0), H_PATTERN(GIB), H_END};
    const struct h_step *const scripts[] = {script};
    struct h_upstream *u;
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    struct h_read_opts o = {0};
    uint64_t t0;

    if (harness_env_flag("MOAT_SKIP_HUGE")) {
        fprintf(stderr, "test_memory: MOAT_SKIP_HUGE set, 1 GiB download skipped\n");
        return;
    }
    script[0].len = (size_t)snprintf(head, sizeof(head),
                                     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream"
                                     "\r\nContent-Length: %llu\r\n\r\n",
                                     GIB);
    u = harness_upstream_start(scripts, 1);
    ck_assert_ptr_nonnull(u);
    start_moat(&m, u);
    t0 = harness_now_ms();
    ck_assert_msg(harness_conn_open(&c, m.port) == 0, "connect: %s", c.error);
    harness_conn_send_str(&c, "GET /huge HTTP/1.1\r\nHost: localhost\r\n\r\n");
    o.timeout_ms = 30000;
    o.body_cap = 4096;
    ck_assert_msg(harness_read_response(&c, &r, &o) == 0, "download: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(r.body_len == GIB, "got %llu bytes", (unsigned long long)r.body_len);
    ck_assert_msg(r.pattern_ok, "downloaded bytes differ from what the upstream sent");
    harness_resp_free(&r);
    harness_conn_close(&c);
    check_hwm(&m, "1 GiB download", harness_now_ms() - t0);
}
END_TEST

START_TEST(test_upload_1g)
{
    static const struct h_step script[] = {
        H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nreceived"), H_END};
    const struct h_step *const scripts[] = {script};
    struct h_upstream *u;
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    struct h_up_body b;
    struct h_read_opts o = {0};
    char head[256];
    uint64_t t0;

    if (harness_env_flag("MOAT_SKIP_HUGE")) {
        fprintf(stderr, "test_memory: MOAT_SKIP_HUGE set, 1 GiB upload skipped\n");
        return;
    }
    u = harness_upstream_start(scripts, 1);
    ck_assert_ptr_nonnull(u);
    start_moat(&m, u);
    t0 = harness_now_ms();
    ck_assert_msg(harness_conn_open(&c, m.port) == 0, "connect: %s", c.error);
    snprintf(head, sizeof(head),
             "PUT /huge HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
             "Content-Length: %llu\r\n\r\n",
             GIB);
    ck_assert_int_eq(harness_conn_send_str(&c, head), 0);
    ck_assert_msg(harness_conn_send_pattern(&c, GIB, 0) == 0, "upload: %s", c.error);
    o.timeout_ms = 30000;
    ck_assert_msg(harness_read_response(&c, &r, &o) == 0, "response: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq((const char *)r.body, "received");
    harness_resp_free(&r);
    harness_conn_close(&c);
    ck_assert_int_eq(harness_upstream_body(u, 0, &b), 0);
    ck_assert_msg(b.len == GIB && b.complete, "upstream got %llu bytes", (unsigned long long)b.len);
    ck_assert_msg(b.pattern_ok, "uploaded bytes changed on the way");
    check_hwm(&m, "1 GiB upload", harness_now_ms() - t0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("memory");
    TCase *tc = harness_tcase("streaming", 240);
    Suite *const suites[] = {s, NULL};

    tcase_add_test(tc, test_download_1g);
    tcase_add_test(tc, test_upload_1g);
    suite_add_tcase(s, tc);
    return harness_run_suites(suites);
}
