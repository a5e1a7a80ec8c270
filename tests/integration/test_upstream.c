/* test_upstream.c - integration tests of moat against misbehaving raw upstreams: every
 * failure mode gives the client a 502/504 or an aborted response, moat keeps serving and
 * leaks no fds; and legitimate but unusual responses (1xx, close-delimited, chunked with
 * extensions and trailers) arrive whole; upstream keep-alive reuses connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Timeouts every case runs with. */
static const char *const up_env[] = {
    "MOAT_UPSTREAM_RESPONSE_TIMEOUT=1s", "MOAT_UPSTREAM_IDLE_TIMEOUT=1s",
    "MOAT_UPSTREAM_CONNECT_TIMEOUT=1s", "MOAT_UPSTREAM_MAX_IDLE=2", NULL};

/* What the client must see. */
enum outcome {
    OUT_STATUS, /* a complete response with `status` (502, 504) */
    OUT_ABORT,  /* a 200 head, then a truncated body and a closed connection */
    OUT_EITHER, /* OUT_STATUS 502, or OUT_ABORT */
    OUT_BODY,   /* a complete 200 whose body is `body` (or `body_len` pattern bytes) */
};

/* One upstream behaviour. */
struct up_case {
    const char *name;
    struct h_step script[6]; /* the misbehaving answer (the next request gets "ok") */
    enum outcome outcome;
    int status;        /* OUT_STATUS */
    const char *body;  /* OUT_BODY: exact body, or NULL with body_len */
    uint64_t body_len; /* OUT_BODY with pattern bytes */
    int repeat;        /* times to run the bad/good pair (leak check), 0: 3 */
};

/* Response heads over 32 KiB, built at run time. */
static char big_head[48 * 1024];

static const struct up_case up_cases[] = {
    {"close before the head", {H_CLOSE}, OUT_STATUS, 502, NULL, 0, 0},
    {"reset before the head", {H_RESET}, OUT_STATUS, 502, NULL, 0, 0},
    {"close in the middle of the head",
     {H_SEND("HTTP/1.1 200 OK\r\nContent-Le"), H_CLOSE},
     OUT_STATUS,
     502,
     NULL,
     0,
     0},
    {"garbage instead of HTTP",
     {H_SEND("SSH-2.0-OpenSSH_9.2\r\n\r\n"), H_STALL},
     OUT_STATUS,
     502,
     NULL,
     0,
     0},
    {"status code out of range",
     {H_SEND("HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"), H_STALL},
     OUT_STATUS,
     502,
     NULL,
     0,
     0},
    {"head over 32 KiB", {H_SENDN(big_head, 0), H_STALL}, OUT_STATUS, 502, NULL, 0, 0},
    {"Content-Length with Transfer-Encoding",
     {H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n0\r\n\r\n"),
      H_STALL},
     OUT_STATUS,
     502,
     NULL,
     0,
     0},
    {"two different Content-Length",
     {H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"), H_STALL},
     OUT_STATUS,
     502,
     NULL,
     0,
     0},
    {"Transfer-Encoding gzip",
     {H_SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxxxx"), H_STALL},
     OUT_STATUS,
     502,
     NULL,
     0,
     0},
    {"unexpected 101",
     {H_SEND("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
             "\r\n"),
      H_STALL},
     OUT_STATUS,
     502,
     NULL,
     0,
     0},
    {"bad chunk size",
     {H_SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
      H_STALL},
     OUT_EITHER,
     502,
     NULL,
     0,
     0},
    {"Content-Length body cut short",
     {H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789012345678901234567890"
             "123456789012345678"),
      H_CLOSE},
     OUT_EITHER,
     502,
     NULL,
     0,
     0},
    {"chunked body without the last chunk",
     {H_SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"), H_CLOSE},
     OUT_EITHER,
     502,
     NULL,
     0,
     0},
    {"no head within response_timeout", {H_STALL}, OUT_STATUS, 504, NULL, 0, 1},
    {"body stalls longer than idle_timeout",
     {H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789"), H_STALL},
     OUT_ABORT,
     0,
     NULL,
     0,
     1},
    {"103 Early Hints, then 200",
     {H_SEND("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
             "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhints"),
      H_END},
     OUT_BODY,
     200,
     "hints",
     0,
     0},
    {"unsolicited 100 Continue, then 200",
     {H_SEND("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ncont"),
      H_END},
     OUT_BODY,
     200,
     "cont",
     0,
     0},
    {"close-delimited body",
     {H_SEND("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"),
      H_PATTERN(300007), H_CLOSE},
     OUT_BODY,
     200,
     NULL,
     300007,
     0},
    {"HTTP/1.0 close-delimited body",
     {H_SEND("HTTP/1.0 200 OK\r\n\r\nold-school"), H_CLOSE},
     OUT_BODY,
     200,
     "old-school",
     0,
     0},
    {"chunked with extension and trailer",
     {H_SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
             "6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"),
      H_END},
     OUT_BODY,
     200,
     "hello world",
     0,
     0},
    {"chunked in slow pieces",
     {H_SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nslow\r\n"), H_SLEEP(300),
      H_SEND("1\r\n-\r\n"), H_SLEEP(300), H_SEND("5\r\npaced\r\n0\r\n\r\n"), H_END},
     OUT_BODY,
     200,
     "slow-paced",
     0,
     0},
    {"large chunked body",
     {H_SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n"), H_PATTERN(4096),
      H_SEND("\r\n0\r\n\r\n"), H_END},
     OUT_BODY,
     200,
     NULL,
     4096,
     0},
};

static const struct h_step ok_script[] = {H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                                          H_END};

/* Fills big_head with a 40000-byte header. Returns its length. */
static size_t make_big_head(void)
{
    size_t n = (size_t)snprintf(big_head, sizeof(big_head), "HTTP/1.1 200 OK\r\nX-Big: ");

    memset(big_head + n, 'h', 40000);
    n += 40000;
    n += (size_t)snprintf(big_head + n, sizeof(big_head) - n, "\r\nContent-Length: 0\r\n\r\n");
    return n;
}

/* Starts moat with up_env in front of url. */
static void start_moat(struct h_moat *m, const char *url)
{
    struct h_moat_opts o = {0};

    o.upstream = url;
    o.env = up_env;
    ck_assert_msg(harness_moat_start(m, &o) == 0, "moat did not start");
}

/* Waits until moat's fd count is at most limit (up to 5 s). Returns the last count. */
static int settle_fds(pid_t pid, int limit)
{
    uint64_t deadline = harness_now_ms() + 5000;
    int n = harness_fd_count(pid);

    while (n > limit && harness_now_ms() < deadline) {
        harness_sleep_ms(50);
        n = harness_fd_count(pid);
    }
    return n;
}

/* Checks one client-side outcome of case c. */
static void check_outcome(const struct up_case *c, struct h_conn *conn, struct h_resp *r, int rc,
                          uint64_t took)
{
    int aborted = r->status == 200 && rc != 0 && !r->complete;

    switch (c->outcome) {
    case OUT_STATUS:
        ck_assert_msg(rc == 0 && r->status == c->status,
                      "%s: want a complete %d, got status %d (%s)", c->name, c->status, r->status,
                      r->error);
        break;
    case OUT_ABORT:
        ck_assert_msg(aborted, "%s: want an aborted 200, got status %d complete %d (%s)", c->name,
                      r->status, r->complete, r->error);
        break;
    case OUT_EITHER:
        ck_assert_msg((rc == 0 && r->status == 502) || aborted,
                      "%s: want 502 or an aborted 200, got status %d complete %d (%s)", c->name,
                      r->status, r->complete, r->error);
        break;
    case OUT_BODY:
        ck_assert_msg(rc == 0 && r->status == c->status, "%s: status %d (%s)", c->name, r->status,
                      r->error);
        ck_assert_msg(r->n_interim == 0, "%s: %zu interim response(s) forwarded", c->name,
                      r->n_interim);
        if (c->body != NULL)
            ck_assert_msg(strcmp((const char *)r->body, c->body) == 0, "%s: body '%s'", c->name,
                          r->body);
        else
            ck_assert_msg(r->body_len == c->body_len && r->pattern_ok,
                          "%s: body %llu bytes (pattern %d), want %llu", c->name,
                          (unsigned long long)r->body_len, r->pattern_ok,
                          (unsigned long long)c->body_len);
        break;
    }
    if (c->outcome == OUT_ABORT || (c->outcome == OUT_EITHER && aborted))
        ck_assert_msg(harness_conn_wait_closed(conn, 3000), "%s: aborted response left open",
                      c->name);
    ck_assert_msg(took < 4000, "%s: took %llu ms", c->name, (unsigned long long)took);
}

START_TEST(test_upstream_table)
{
    const struct up_case *c = &up_cases[_i];
    struct h_step script[6];
    struct h_route routes[2];
    struct h_upstream *u;
    struct h_moat m;
    int base;
    int after;
    int repeat = c->repeat > 0 ? c->repeat : 3;
    int i;

    memcpy(script, c->script, sizeof(script));
    if (script[0].op == H_OP_SEND && script[0].data == big_head)
        script[0].len = make_big_head();
    routes[0].prefix = "/bad";
    routes[0].script = script;
    routes[1].prefix = "/good";
    routes[1].script = ok_script;
    u = harness_upstream_start_routes(routes, 2);
    ck_assert_ptr_nonnull(u);
    start_moat(&m, harness_upstream_url(u));
    base = harness_fd_count(m.pid);
    ck_assert_msg(base > 0, "cannot count moat's fds");
    for (i = 0; i < repeat; i++) {
        struct h_conn conn;
        struct h_resp r;
        uint64_t t0 = harness_now_ms();
        int rc;

        ck_assert_msg(harness_conn_open(&conn, m.port) == 0, "connect: %s", conn.error);
        harness_conn_send_str(&conn, "GET /bad HTTP/1.1\r\nHost: localhost\r\n\r\n");
        rc = harness_read_response(&conn, &r, NULL);
        check_outcome(c, &conn, &r, rc, harness_now_ms() - t0);
        harness_resp_free(&r);
        harness_conn_close(&conn);
        /* The next request gets a good answer. */
        harness_request(m.port, "GET /good HTTP/1.1\r\nHost: localhost\r\n\r\n", &r, 5000, NULL);
        ck_assert_msg(r.status == 200 && strcmp((const char *)r.body, "ok") == 0,
                      "%s: request after the failure: status %d (%s)", c->name, r.status, r.error);
        harness_resp_free(&r);
    }
    /* Pooled upstream connections (max_idle 2) may stay open. */
    after = settle_fds(m.pid, base + 2);
    ck_assert_msg(after <= base + 2, "%s: fds %d at start, %d after %d rounds", c->name, base,
                  after, repeat);
    ck_assert_msg(harness_moat_stop(&m, 10000) == 0, "%s: moat did not exit cleanly", c->name);
}
END_TEST

START_TEST(test_connect_refused)
{
    struct h_moat m;
    struct h_resp r;
    char url[64];
    int base;
    int i;

    harness_url(url, sizeof(url), harness_free_port());
    start_moat(&m, url);
    base = harness_fd_count(m.pid);
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(
            harness_request(m.port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", &r, 5000, NULL),
            0);
        ck_assert_int_eq(r.status, 502);
        harness_resp_free(&r);
    }
    ck_assert_msg(settle_fds(m.pid, base) <= base, "fds grew from %d", base);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

START_TEST(test_keepalive_reuse)
{
    const struct h_step *const scripts[] = {ok_script};
    struct h_upstream *u = harness_upstream_start(scripts, 1);
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    int i;

    /* The keep-alive pool is per listener worker (like nginx's per-worker
     * cache): one worker makes reuse across client connections deterministic. */
    static const char *const env[] = {"MOAT_SERVER_WORKERS=1", NULL};
    struct h_moat_opts o = {0};

    ck_assert_ptr_nonnull(u);
    o.upstream = harness_upstream_url(u);
    o.env = env;
    ck_assert_msg(harness_moat_start(&m, &o) == 0, "moat did not start");
    ck_assert_int_eq(harness_conn_open(&c, m.port), 0);
    for (i = 0; i < 2; i++) {
        harness_conn_send_str(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        ck_assert_int_eq(harness_read_response(&c, &r, NULL), 0);
        ck_assert_int_eq(r.status, 200);
        harness_resp_free(&r);
    }
    harness_conn_close(&c);
    harness_request(m.port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", &r, 5000, NULL);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_upstream_requests(u), 3);
    ck_assert_msg(harness_upstream_connections(u) == 1,
                  "3 sequential requests used %u upstream connections",
                  harness_upstream_connections(u));
}
END_TEST

START_TEST(test_upstream_connection_close_honoured)
{
    static const struct h_step close_script[] = {
        H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"), H_END};
    const struct h_step *const scripts[] = {close_script};
    struct h_upstream *u = harness_upstream_start(scripts, 1);
    struct h_moat m;
    struct h_resp r;
    int i;

    ck_assert_ptr_nonnull(u);
    start_moat(&m, harness_upstream_url(u));
    for (i = 0; i < 3; i++) {
        harness_request(m.port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", &r, 5000, NULL);
        ck_assert_msg(r.status == 200, "request %d: %d (%s)", i, r.status, r.error);
        harness_resp_free(&r);
    }
    ck_assert_int_eq(harness_upstream_connections(u), 3);
    ck_assert_int_eq(harness_upstream_requests(u), 3);
}
END_TEST

START_TEST(test_pooled_connection_closed_by_upstream)
{
    /* The upstream answers, then closes the kept-alive connection 100 ms later. */
    static const struct h_step script[] = {H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                                           H_SLEEP(100), H_CLOSE};
    const struct h_step *const scripts[] = {script};
    struct h_upstream *u = harness_upstream_start(scripts, 1);
    struct h_moat m;
    struct h_resp r;
    int i;

    ck_assert_ptr_nonnull(u);
    start_moat(&m, harness_upstream_url(u));
    for (i = 0; i < 3; i++) {
        harness_request(m.port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", &r, 5000, NULL);
        ck_assert_msg(r.status == 200,
                      "request %d after the upstream closed its idle "
                      "connection: %d (%s)",
                      i, r.status, r.error);
        harness_resp_free(&r);
        harness_sleep_ms(400);
    }
}
END_TEST

START_TEST(test_upstream_keepalive_timeout)
{
    static const char *const env[] = {"MOAT_UPSTREAM_KEEPALIVE_TIMEOUT=1s", NULL};
    const struct h_step *const scripts[] = {ok_script};
    struct h_upstream *u = harness_upstream_start(scripts, 1);
    struct h_moat m;
    struct h_moat_opts o = {0};
    struct h_resp r;
    char log[H_PATH];

    ck_assert_ptr_nonnull(u);
    o.upstream = harness_upstream_url(u);
    o.env = env;
    ck_assert_int_eq(harness_moat_start(&m, &o), 0);
    harness_request(m.port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", &r, 5000, NULL);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    /* moat must close the pooled connection after about 1 s; the upstream logs it. */
    snprintf(log, sizeof(log), "%s/upstream-%d.log", harness_dir(), harness_upstream_port(u));
    ck_assert_msg(harness_file_wait(log, "conn 1: closed", 1, 4000),
                  "pooled upstream connection still open 4 s after keepalive_timeout=1s");
}
END_TEST

/* Routes for the client-abort tests: a huge download, an upload sink and "ok". */
static const struct h_step big_script[] = {
    H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 268435456\r\n\r\n"), H_PATTERN(268435456), H_END};
static const struct h_step sink_script[] = {
    H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngot!"), H_END};

/* Starts the abort-test upstream and moat; returns the upstream log path in log. */
static struct h_upstream *start_abort_pair(struct h_moat *m, char *log, size_t cap)
{
    static const struct h_route routes[] = {
        {"/big", big_script}, {"/up", sink_script}, {"/good", ok_script}};
    struct h_upstream *u = harness_upstream_start_routes(routes, 3);

    ck_assert_ptr_nonnull(u);
    start_moat(m, harness_upstream_url(u));
    snprintf(log, cap, "%s/upstream-%d.log", harness_dir(), harness_upstream_port(u));
    return u;
}

/* After a client abort: the upstream connection is closed, fds settle, moat still serves. */
static void check_after_abort(struct h_moat *m, const char *log, int base, const char *what)
{
    struct h_resp r;
    int after;

    ck_assert_msg(harness_file_wait(log, "conn 1: closed", 1, 5000),
                  "%s: the upstream connection stayed open", what);
    after = settle_fds(m->pid, base + 2);
    ck_assert_msg(after <= base + 2, "%s: fds %d at start, %d after", what, base, after);
    harness_request(m->port, "GET /good HTTP/1.1\r\nHost: localhost\r\n\r\n", &r, 5000, NULL);
    ck_assert_msg(r.status == 200, "%s: next request got %d (%s)", what, r.status, r.error);
    harness_resp_free(&r);
}

START_TEST(test_client_aborts_download)
{
    struct h_moat m;
    struct h_conn c;
    char log[H_PATH];
    size_t got = 0;
    int base;

    start_abort_pair(&m, log, sizeof(log));
    base = harness_fd_count(m.pid);
    ck_assert_int_eq(harness_conn_open(&c, m.port), 0);
    harness_conn_send_str(&c, "GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n");
    while (got < 1024 * 1024) {
        int n = harness_conn_fill(&c, 5000);
        ck_assert_msg(n > 0, "download stopped after %zu bytes", got);
        got += (size_t)n;
        c.off = c.len;
    }
    harness_conn_close(&c);
    check_after_abort(&m, log, base, "client closed mid-download");
}
END_TEST

START_TEST(test_client_aborts_upload)
{
    struct h_moat m;
    struct h_conn c;
    struct h_up_body b;
    char log[H_PATH];
    int base;
    struct h_upstream *u = start_abort_pair(&m, log, sizeof(log));

    base = harness_fd_count(m.pid);
    ck_assert_int_eq(harness_conn_open(&c, m.port), 0);
    harness_conn_send_str(&c, "PUT /up HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10485760\r\n"
                              "\r\n");
    ck_assert_int_eq(harness_conn_send_pattern(&c, 1024 * 1024, 0), 0);
    harness_sleep_ms(200);
    harness_conn_close(&c);
    check_after_abort(&m, log, base, "client closed mid-upload");
    ck_assert_int_eq(harness_upstream_body(u, 0, &b), 0);
    ck_assert_msg(!b.complete && b.len < 10485760, "upstream saw a complete body (%llu bytes)",
                  (unsigned long long)b.len);
}
END_TEST

START_TEST(test_pool_larger_than_a_sweep_batch)
{
    /* More idle upstream connections than two pool sweeps of 64 (one at
     * shutdown, one when the engine is freed) used to close: the rest leaked
     * at exit (LeakSanitizer then fails moat's exit status in the ASan run). */
    enum { N = 140 };
    static const struct h_step slow_script[] = {
        H_SLEEP(3000), H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), H_END};
    static const char *const env[] = {"MOAT_SERVER_WORKERS=1", "MOAT_UPSTREAM_MAX_IDLE=200",
                                      "MOAT_SERVER_MAX_CONNECTIONS_PER_IP=200",
                                      "MOAT_UPSTREAM_KEEPALIVE_TIMEOUT=60s", NULL};
    const struct h_step *const scripts[] = {slow_script};
    struct h_upstream *u = harness_upstream_start(scripts, 1);
    struct h_conn *c = calloc(N, sizeof(*c));
    struct h_moat_opts o = {0};
    struct h_moat m;
    struct h_resp r;
    int i;

    ck_assert_ptr_nonnull(u);
    ck_assert_ptr_nonnull(c);
    o.upstream = harness_upstream_url(u);
    o.env = env;
    ck_assert_msg(harness_moat_start(&m, &o) == 0, "moat did not start");
    for (i = 0; i < N; i++)
        ck_assert_msg(harness_conn_open(&c[i], m.port) == 0, "connect %d: %s", i, c[i].error);
    for (i = 0; i < N; i++)
        ck_assert_int_eq(harness_conn_send_str(&c[i], "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                         0);
    ck_assert_msg(harness_upstream_wait(u, N, 20000), "the upstream got %u requests",
                  harness_upstream_requests(u));
    for (i = 0; i < N; i++) {
        ck_assert_int_eq(harness_read_response(&c[i], &r, NULL), 0);
        ck_assert_int_eq(r.status, 200);
        harness_resp_free(&r);
        harness_conn_close(&c[i]);
    }
    free(c);
    ck_assert_int_eq(harness_upstream_connections(u), N);
    ck_assert_msg(harness_moat_stop(&m, 20000) == 0, "moat did not exit cleanly");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upstream");
    TCase *fail = harness_tcase("failures", 40);
    TCase *pool = harness_tcase("pool", 30);
    Suite *const suites[] = {s, NULL};

    tcase_add_loop_test(fail, test_upstream_table, 0,
                        (int)(sizeof(up_cases) / sizeof(up_cases[0])));
    tcase_add_test(fail, test_connect_refused);
    tcase_add_test(pool, test_keepalive_reuse);
    tcase_add_test(pool, test_upstream_connection_close_honoured);
    tcase_add_test(pool, test_pooled_connection_closed_by_upstream);
    tcase_add_test(pool, test_upstream_keepalive_timeout);
    tcase_add_test(pool, test_client_aborts_download);
    tcase_add_test(pool, test_client_aborts_upload);
    tcase_add_test(pool, test_pool_larger_than_a_sweep_batch);
    suite_add_tcase(s, fail);
    suite_add_tcase(s, pool);
    return harness_run_suites(suites);
}
