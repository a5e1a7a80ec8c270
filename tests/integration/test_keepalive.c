/* test_keepalive.c - integration tests of the keep-alive path against a raw upstream: a
 * request waiting for its response head (parked, then suspended) costs no CPU while the
 * upstream stalls; pipelined requests of every framing (small buffered answers whose head
 * and body leave in one write, HEAD, 204, 304, chunked, large, slow) come back whole and in
 * order; a client that stops reading gets every byte once it reads again, without moat
 * spinning meanwhile; a TLS 1.3 KeyUpdate between requests and in one flight with a
 * request; Connection: close and HTTP/1.0
 * answers; SIGTERM while requests wait on a stalled upstream. Case "keyupdate": buffered
 * answers after other kinds of answer on one connection (the record transport is attached
 * late); a KeyUpdate in one flight with a request, an upload's body, or a request pipelined
 * behind one the upstream keeps waiting; handshake and resumption counts with KeyUpdates. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* Upstream answers, by request-target prefix. */
static const struct h_step stall_script[] = {H_STALL};
static const struct h_step small_script[] = {
    H_SEND("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nsmall-body\n"),
    H_END};
static const struct h_step late_script[] = {
    H_SLEEP(40), H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nlate-body\n"), H_END};
static const struct h_step head_script[] = {
    H_SEND("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4321\r\n\r\n"), H_END};
static const struct h_step no_content_script[] = {H_SEND("HTTP/1.1 204 No Content\r\n\r\n"), H_END};
static const struct h_step not_modified_script[] = {
    H_SEND("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n"), H_END};
static const struct h_step chunked_script[] = {
    H_SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nchunk-\r\n"), H_SLEEP(20),
    H_SEND("4\r\ned!\n\r\n0\r\n\r\n"), H_END};
static const struct h_step large_script[] = {
    H_SEND("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000"
           "\r\n\r\n"),
    H_PATTERN(100000), H_END};
static const struct h_step sink_script[] = {
    H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nuploaded"), H_END};
static const struct h_step gone_script[] = {H_CLOSE};

/* Bodies of distinct sizes for the order checks (filled by bodies_init). */
#define N_SIZED 3
static const size_t sized_len[N_SIZED] = {700, 2900, 9500};
static char sized_resp[N_SIZED][10200];
static struct h_step sized_script[N_SIZED][2];

static void bodies_init(void)
{
    size_t k;
    int n;

    for (k = 0; k < N_SIZED; k++) {
        n = snprintf(sized_resp[k], sizeof(sized_resp[k]),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                     sized_len[k]);
        memset(sized_resp[k] + n, 'a' + (int)k, sized_len[k]);
        sized_script[k][0].op = H_OP_SEND;
        sized_script[k][0].data = sized_resp[k];
        sized_script[k][0].len = (size_t)n + sized_len[k];
        sized_script[k][1].op = H_OP_END;
    }
}

/* Starts the raw upstream with every route above. */
static struct h_upstream *start_upstream(void)
{
    struct h_route routes[] = {
        {"/stall", stall_script},     {"/small", small_script},    {"/late", late_script},
        {"/head", head_script},       {"/204", no_content_script}, {"/304", not_modified_script},
        {"/chunked", chunked_script}, {"/large", large_script},    {"/sink", sink_script},
        {"/s0", sized_script[0]},     {"/s1", sized_script[1]},    {"/s2", sized_script[2]},
        {"/gone", gone_script},
    };
    struct h_upstream *u;

    bodies_init();
    u = harness_upstream_start_routes(routes, sizeof(routes) / sizeof(routes[0]));
    ck_assert_msg(u != NULL, "cannot start the raw upstream");
    return u;
}

/* CPU seconds (user + system) pid used so far, from /proc/PID/stat. */
static double cpu_seconds(pid_t pid)
{
    char path[64];
    char *text, *p;
    unsigned long ut = 0, st = 0;
    int i;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    text = harness_read_file(path, NULL);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    p = strrchr(text, ')');
    ck_assert_msg(p != NULL, "odd %s", path);
    /* After ") ": field 3 (state) ... field 14 utime, 15 stime. */
    p += 2;
    for (i = 3; i < 14 && p != NULL; i++) {
        p = strchr(p, ' ');
        if (p != NULL)
            p++;
    }
    ck_assert_msg(p != NULL && sscanf(p, "%lu %lu", &ut, &st) == 2, "cannot parse %s", path);
    free(text);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Reads one response on c (HEAD-aware) and checks its status and, when body is not NULL,
 * its exact body. what names the request in messages. */
static void expect_response(struct h_conn *c, const char *what, int head, int status,
                            const char *body)
{
    struct h_read_opts o = {0};
    struct h_resp r;
    int rc;

    o.head_request = head;
    o.timeout_ms = 10000;
    rc = harness_read_response(c, &r, &o);
    ck_assert_msg(rc == 0, "%s: response incomplete: %s (status %d)", what, r.error, r.status);
    ck_assert_msg(r.status == status, "%s: status %d, want %d", what, r.status, status);
    if (body != NULL)
        ck_assert_msg(r.body_len == strlen(body) && strcmp((const char *)r.body, body) == 0,
                      "%s: body '%s' (%llu bytes), want '%s'", what, r.body,
                      (unsigned long long)r.body_len, body);
    harness_resp_free(&r);
}

/* Reads one /sK response and checks its size and fill byte. */
static void expect_sized(struct h_conn *c, unsigned i, size_t k)
{
    struct h_read_opts o = {0};
    struct h_resp r;
    size_t j;
    int rc;

    o.timeout_ms = 10000;
    rc = harness_read_response(c, &r, &o);
    ck_assert_msg(rc == 0 && r.status == 200, "response %u: %s (status %d)", i, r.error, r.status);
    ck_assert_msg(r.body_len == sized_len[k], "response %u: %llu body bytes, want %zu", i,
                  (unsigned long long)r.body_len, sized_len[k]);
    for (j = 0; j < r.body_kept; j++)
        ck_assert_msg(r.body[j] == 'a' + (int)k, "response %u: byte %zu is '%c', want '%c'", i, j,
                      r.body[j], 'a' + (int)k);
    harness_resp_free(&r);
}

/* While requests wait on a stalled upstream (one plain GET, one pipelined behind another
 * request, an upload with Content-Length, a chunked upload, one behind Expect: 100-continue)
 * moat must sleep: parking ends at the first idle turn and the connections are suspended.
 * A spinning worker would burn about a CPU second per second here. Other clients are still
 * served, and the waiting requests get their 504 when response_timeout ends. */
START_TEST(test_waiting_requests_cost_no_cpu)
{
    const char *env[] = {"MOAT_UPSTREAM_RESPONSE_TIMEOUT=6s", NULL};
    struct h_upstream *u = start_upstream();
    struct h_conn c[5];
    struct h_moat m;
    double before, used;
    int i;

    h_start_moat(&m, harness_upstream_url(u), env);
    for (i = 0; i < 5; i++)
        h_open(&c[i], &m);
    /* Warm every connection (TLS done, one exchange each, upstream connections pooled). */
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(
            harness_conn_send_str(&c[i], "GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0);
        expect_response(&c[i], "warm-up", 0, 200, "small-body\n");
    }
    harness_sleep_ms(300);
    before = cpu_seconds(m.pid);
    ck_assert_int_eq(harness_conn_send_str(&c[0], "GET /stall HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                     0);
    ck_assert_int_eq(harness_conn_send_str(&c[1], "GET /stall/p HTTP/1.1\r\nHost: localhost\r\n\r\n"
                                                  "GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                     0);
    ck_assert_int_eq(harness_conn_send_str(&c[2], "POST /stall/u HTTP/1.1\r\nHost: localhost\r\n"
                                                  "Content-Length: 5\r\n\r\nhello"),
                     0);
    ck_assert_int_eq(harness_conn_send_str(&c[3], "POST /stall/c HTTP/1.1\r\nHost: localhost\r\n"
                                                  "Transfer-Encoding: chunked\r\n\r\n"
                                                  "5\r\nhello\r\n0\r\n\r\n"),
                     0);
    ck_assert_int_eq(harness_conn_send_str(&c[4], "POST /stall/e HTTP/1.1\r\nHost: localhost\r\n"
                                                  "Expect: 100-continue\r\n"
                                                  "Content-Length: 5\r\n\r\n"),
                     0);
    harness_sleep_ms(200);
    ck_assert_int_eq(harness_conn_send_str(&c[4], "hello"), 0);
    ck_assert_msg(harness_upstream_wait(u, 10, 5000), "the upstream did not get the 5 requests");
    harness_sleep_ms(3000);
    used = cpu_seconds(m.pid) - before;
    ck_assert_msg(used < 1.0, "moat used %.2f s of CPU in 3.2 s while requests waited", used);

    /* Still serving others meanwhile. */
    {
        struct h_resp r;

        h_get(&m, "/small", &r);
        ck_assert_int_eq(r.status, 200);
        harness_resp_free(&r);
    }
    /* Every waiting request is answered at response_timeout, the pipelined one after it. */
    expect_response(&c[0], "stalled GET", 0, 504, NULL);
    expect_response(&c[1], "stalled pipelined GET", 0, 504, NULL);
    expect_response(&c[1], "GET behind the stalled one", 0, 200, "small-body\n");
    expect_response(&c[2], "stalled POST", 0, 504, NULL);
    expect_response(&c[3], "stalled chunked POST", 0, 504, NULL);
    expect_response(&c[4], "stalled POST with Expect", 0, 504, NULL);
    for (i = 0; i < 5; i++)
        harness_conn_close(&c[i]);
    ck_assert_msg(harness_proc_alive(m.pid), "moat died");
}
END_TEST

/* One request of the pipelined sequence. */
struct pipe_req {
    const char *raw;   /* the request */
    int head;          /* HEAD request */
    int status;        /* expected status */
    const char *body;  /* exact body, or NULL */
    uint64_t body_len; /* with body NULL: pattern body of this length (0: any/empty) */
};

static const struct pipe_req pipe_reqs[] = {
    {"GET /small/1 HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 200, "small-body\n", 0},
    {"HEAD /head/1 HTTP/1.1\r\nHost: localhost\r\n\r\n", 1, 200, NULL, 0},
    {"GET /small/2 HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 200, "small-body\n", 0},
    {"GET /204 HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 204, "", 0},
    {"GET /small/3 HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 200, "small-body\n", 0},
    {"GET /304 HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: \"v1\"\r\n\r\n", 0, 304, "", 0},
    {"GET /late/1 HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 200, "late-body\n", 0},
    {"GET /chunked HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 200, "chunk-ed!\n", 0},
    {"GET /small/4 HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 200, "small-body\n", 0},
    {"GET /large HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 200, NULL, 100000},
    {"POST /sink HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\n\r\nabcdef", 0, 200,
     "uploaded", 0},
    {"GET /s1 HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 200, NULL, 0},
    {"HEAD /head/2 HTTP/1.1\r\nHost: localhost\r\n\r\n", 1, 200, NULL, 0},
    {"GET /late/2 HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 200, "late-body\n", 0},
    {"POST /sink/c HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
     "3\r\nabc\r\n0\r\n\r\n",
     0, 200, "uploaded", 0},
    {"GET /small/5 HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 200, "small-body\n", 0},
};

#define N_PIPE (sizeof(pipe_reqs) / sizeof(pipe_reqs[0]))

/* Sends the whole sequence `rounds` times in one write, then reads every answer in order. */
static void pipeline_run(struct h_conn *c, int rounds)
{
    char *all;
    size_t len = 0, cap = 0, i;
    int k;

    for (i = 0; i < N_PIPE; i++)
        cap += strlen(pipe_reqs[i].raw);
    cap = cap * (size_t)rounds + 1;
    all = malloc(cap);
    ck_assert_ptr_nonnull(all);
    for (k = 0; k < rounds; k++)
        for (i = 0; i < N_PIPE; i++) {
            memcpy(all + len, pipe_reqs[i].raw, strlen(pipe_reqs[i].raw));
            len += strlen(pipe_reqs[i].raw);
        }
    ck_assert_msg(harness_conn_send(c, all, len) == 0, "send: %s", c->error);
    free(all);
    for (k = 0; k < rounds; k++)
        for (i = 0; i < N_PIPE; i++) {
            const struct pipe_req *p = &pipe_reqs[i];
            struct h_read_opts o = {0};
            struct h_resp r;
            int rc;

            o.head_request = p->head;
            o.timeout_ms = 10000;
            rc = harness_read_response(c, &r, &o);
            ck_assert_msg(rc == 0, "round %d, request %zu (%.30s): %s (status %d)", k, i, p->raw,
                          r.error, r.status);
            ck_assert_msg(r.status == p->status, "round %d, request %zu (%.30s): status %d", k, i,
                          p->raw, r.status);
            if (p->body != NULL)
                ck_assert_msg(strcmp((const char *)r.body, p->body) == 0 &&
                                  r.body_len == strlen(p->body),
                              "round %d, request %zu (%.30s): body '%s'", k, i, p->raw, r.body);
            else if (p->body_len > 0)
                ck_assert_msg(r.body_len == p->body_len && r.pattern_ok,
                              "round %d, request %zu: %llu body bytes (pattern %d)", k, i,
                              (unsigned long long)r.body_len, r.pattern_ok);
            if (p->head) {
                const char *cl = harness_resp_header(&r, "Content-Length");
                ck_assert_msg(cl != NULL && strcmp(cl, "4321") == 0,
                              "round %d: HEAD answer's Content-Length %s", k, cl ? cl : "(none)");
            }
            if (strncmp(p->raw, "GET /s1 ", 8) == 0)
                ck_assert_msg(r.body_len == sized_len[1] && r.body[0] == 'b' &&
                                  r.body[r.body_kept - 1] == 'b',
                              "round %d: /s1 body %llu bytes", k, (unsigned long long)r.body_len);
            harness_resp_free(&r);
        }
}

/* Requests of every framing pipelined on one connection, over TLS 1.3 and TLS 1.2: each
 * answer whole, in order, none swallowed, none duplicated. */
START_TEST(test_pipelined_every_framing)
{
    struct h_upstream *u = start_upstream();
    struct h_tls_opts t12 = {0};
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    h_open(&c, &m);
    pipeline_run(&c, 1);
    pipeline_run(&c, 3);
    /* The connection is still usable one request at a time. */
    h_exchange(&c, "GET /small/after HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq((const char *)r.body, "small-body\n");
    harness_resp_free(&r);
    harness_conn_close(&c);

    t12.max_version = TLS1_2_VERSION;
    ck_assert_msg(harness_conn_open_tls(&c, m.port, &t12) == 0, "TLS 1.2: %s", c.error);
    pipeline_run(&c, 2);
    harness_conn_close(&c);
}
END_TEST

#define N_UNREAD 1500 /* about 8 MB of answers: more than loopback's largest send buffer */

/* A client pipelines N_UNREAD requests for buffered answers (700 B to 9.5 KB) and reads
 * nothing for 2 s, so the socket fills mid-answer (a held head with its body, partial
 * writes): moat must not spin meanwhile, and once the client reads, every answer arrives
 * whole, in order, once. */
START_TEST(test_client_not_reading)
{
    struct h_upstream *u = start_upstream();
    struct h_moat m;
    struct h_conn c;
    char *all;
    size_t len = 0;
    unsigned i;
    double before, used;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    h_open(&c, &m);
    all = malloc(N_UNREAD * 64);
    ck_assert_ptr_nonnull(all);
    for (i = 0; i < N_UNREAD; i++)
        len += (size_t)snprintf(all + len, 64, "GET /s%u/%u HTTP/1.1\r\nHost: localhost\r\n\r\n",
                                i % N_SIZED, i);
    ck_assert_msg(harness_conn_send(&c, all, len) == 0, "send: %s", c.error);
    free(all);
    harness_sleep_ms(500); /* let moat fill the socket */
    before = cpu_seconds(m.pid);
    harness_sleep_ms(2000);
    used = cpu_seconds(m.pid) - before;
    ck_assert_msg(used < 0.7, "moat used %.2f s of CPU in 2 s facing a client that does not read",
                  used);
    for (i = 0; i < N_UNREAD; i++)
        expect_sized(&c, i, i % N_SIZED);
    /* Nothing more: no answer was sent twice. */
    ck_assert_msg(harness_conn_fill(&c, 300) < 0 && c.len == c.off,
                  "%zu unexpected bytes after the last answer", c.len - c.off);
    harness_conn_close(&c);
}
END_TEST

/* Sends a TLS 1.3 KeyUpdate (update requested) on its own, without application data. */
static void key_update_alone(struct h_conn *c)
{
    ck_assert_int_eq(SSL_key_update(c->ssl, SSL_KEY_UPDATE_REQUESTED), 1);
    ck_assert_int_eq(SSL_do_handshake(c->ssl), 1);
}

/* A TLS 1.3 KeyUpdate (update requested) before a request, in a flight of its own: GnuTLS
 * answers with its own KeyUpdate in front of the next record it writes, the response head
 * (held for the body's write). KeyUpdate, head and body must reach the client in order. */
START_TEST(test_key_update_between_requests)
{
    struct h_upstream *u = start_upstream();
    struct h_moat m;
    struct h_conn c;
    int i;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    h_open(&c, &m);
    ck_assert_msg(SSL_version(c.ssl) == TLS1_3_VERSION, "not TLS 1.3");
    for (i = 0; i < 6; i++) {
        key_update_alone(&c);
        harness_sleep_ms(100); /* moat reads it before the request comes */
        ck_assert_int_eq(
            harness_conn_send_str(&c, i % 2 ? "GET /s2 HTTP/1.1\r\nHost: localhost\r\n\r\n"
                                            : "GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            0);
        if (i % 2)
            expect_sized(&c, (unsigned)i, 2);
        else
            expect_response(&c, "after KeyUpdate", 0, 200, "small-body\n");
    }
    harness_conn_close(&c);
}
END_TEST

/* The same KeyUpdate sent in one flight with the request that follows it. GnuTLS 3.7
 * answers the gnutls_record_recv() that consumes the KeyUpdate with GNUTLS_E_AGAIN;
 * libmicrohttpd 0.9.75 then drops the connection's read-ready state although the request's
 * record is already in the socket, and with edge-triggered epoll nothing wakes it again:
 * the request would wait until the client sends more or the idle timeout closes the
 * connection. moat re-arms the socket in libmicrohttpd's epoll set after each KeyUpdate
 * (srv_tls_rearm); without that this test times out every time. */
START_TEST(test_key_update_with_request)
{
    struct h_upstream *u;
    struct h_moat m;
    struct h_conn c;
    int i;

    u = start_upstream();
    h_start_moat(&m, harness_upstream_url(u), NULL);
    h_open(&c, &m);
    ck_assert_msg(SSL_version(c.ssl) == TLS1_3_VERSION, "not TLS 1.3");
    for (i = 0; i < 6; i++) {
        ck_assert_int_eq(SSL_key_update(c.ssl, SSL_KEY_UPDATE_REQUESTED), 1);
        ck_assert_int_eq(
            harness_conn_send_str(&c, "GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0);
        expect_response(&c, "request sent with a KeyUpdate", 0, 200, "small-body\n");
    }
    harness_conn_close(&c);
}
END_TEST

/* One request at a time on c: raw, then the expected status and body (NULL: any body). */
static void one(struct h_conn *c, const char *what, const char *raw, int status, const char *body)
{
    ck_assert_int_eq(harness_conn_send_str(c, raw), 0);
    expect_response(c, what, 0, status, body);
}

/* The record transport is attached at a connection's first buffered (inline) answer. Here
 * that answer comes after others that did not attach it: moat's own 502 (a keep-alive error
 * answer), a chunked and a large streamed answer, a 204. Every answer must come back whole
 * and in order, over TLS 1.3 and 1.2, one at a time and pipelined. */
START_TEST(test_inline_after_other_answers)
{
    static const char *const firsts[] = {
        "GET /gone HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /chunked HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /large HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /204 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    };
    struct h_upstream *u = start_upstream();
    struct h_tls_opts o = {0};
    struct h_read_opts ro = {0};
    struct h_resp r;
    struct h_moat m;
    struct h_conn c;
    size_t k;
    int v, round;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    for (v = 0; v < 2; v++)
        for (k = 0; k < sizeof(firsts) / sizeof(firsts[0]); k++)
            for (round = 0; round < 2; round++) {
                memset(&o, 0, sizeof(o));
                o.min_version = o.max_version = v == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
                ck_assert_msg(harness_conn_open_tls(&c, m.port, &o) == 0, "open: %s", c.error);
                if (round == 1) { /* all in one flight */
                    char all[1024];

                    snprintf(all, sizeof(all),
                             "%sGET /small HTTP/1.1\r\nHost: localhost\r\n\r\n"
                             "GET /s0 HTTP/1.1\r\nHost: localhost\r\n\r\n%s"
                             "GET /s2 HTTP/1.1\r\nHost: localhost\r\n\r\n",
                             firsts[k], firsts[k]);
                    ck_assert_int_eq(harness_conn_send_str(&c, all), 0);
                } else {
                    ck_assert_int_eq(harness_conn_send_str(&c, firsts[k]), 0);
                }
                ro.timeout_ms = 10000;
                ck_assert_int_eq(harness_read_response(&c, &r, &ro), 0);
                ck_assert_msg(r.status == (k == 0   ? 502
                                           : k == 3 ? 204
                                                    : 200),
                              "first answer %zu: %d", k, r.status);
                harness_resp_free(&r);
                if (round == 0)
                    one(&c, "inline after another answer",
                        "GET /small HTTP/1.1\r\nHost: "
                        "localhost\r\n\r\n",
                        200, "small-body\n");
                else
                    expect_response(&c, "inline after another answer", 0, 200, "small-body\n");
                if (round == 0)
                    ck_assert_int_eq(harness_conn_send_str(&c, "GET /s0 HTTP/1.1\r\nHost: "
                                                               "localhost\r\n\r\n"),
                                     0);
                expect_sized(&c, 1, 0);
                if (round == 0)
                    ck_assert_int_eq(harness_conn_send_str(&c, firsts[k]), 0);
                ck_assert_int_eq(harness_read_response(&c, &r, &ro), 0);
                ck_assert_msg(r.status == (k == 0   ? 502
                                           : k == 3 ? 204
                                                    : 200),
                              "second other answer %zu: %d", k, r.status);
                harness_resp_free(&r);
                if (round == 0)
                    ck_assert_int_eq(harness_conn_send_str(&c, "GET /s2 HTTP/1.1\r\nHost: "
                                                               "localhost\r\n\r\n"),
                                     0);
                expect_sized(&c, 3, 2);
                ck_assert_msg(harness_conn_fill(&c, 200) < 0 && c.len == c.off,
                              "%zu unexpected bytes after the last answer", c.len - c.off);
                harness_conn_close(&c);
            }
}
END_TEST

/* Sends a KeyUpdate (requested or not) and raw in one flight; the answer must come at once. */
static void key_update_then(struct h_conn *c, int requested, const char *raw)
{
    ck_assert_int_eq(
        SSL_key_update(c->ssl, requested ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED),
        1);
    ck_assert_int_eq(harness_conn_send_str(c, raw), 0);
}

/* A KeyUpdate in one flight with: a request (update requested and not); the body of an
 * upload whose head came before; a request pipelined behind one that waits on the upstream
 * (the connection is suspended when the KeyUpdate arrives). Each answer within 2 s (the
 * lost edge would stall until the idle timeout). */
START_TEST(test_key_update_variants)
{
    struct h_upstream *u = start_upstream();
    struct h_moat m;
    struct h_conn c;
    uint64_t t0;
    int i;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    h_open(&c, &m);
    ck_assert_msg(SSL_version(c.ssl) == TLS1_3_VERSION, "not TLS 1.3");
    for (i = 0; i < 4; i++) {
        t0 = harness_now_ms();
        key_update_then(&c, i % 2, "GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n");
        expect_response(&c, "KeyUpdate + request", 0, 200, "small-body\n");
        ck_assert_msg(harness_now_ms() - t0 < 2000, "KeyUpdate + request took %llu ms",
                      (unsigned long long)(harness_now_ms() - t0));
        harness_sleep_ms(300); /* GnuTLS allows 8 KeyUpdates a second */
    }
    /* upload: head first, then KeyUpdate + body */
    t0 = harness_now_ms();
    ck_assert_int_eq(harness_conn_send_str(&c, "POST /sink HTTP/1.1\r\nHost: localhost\r\n"
                                               "Content-Length: 8\r\n\r\n"),
                     0);
    harness_sleep_ms(100);
    key_update_then(&c, 1, "12345678");
    expect_response(&c, "KeyUpdate + body", 0, 200, "uploaded");
    ck_assert_msg(harness_now_ms() - t0 < 2100, "KeyUpdate + body took %llu ms",
                  (unsigned long long)(harness_now_ms() - t0));
    harness_sleep_ms(300);
    /* behind a request that waits on the upstream */
    for (i = 0; i < 3; i++) {
        t0 = harness_now_ms();
        ck_assert_int_eq(harness_conn_send_str(&c, "GET /late HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                         0);
        harness_sleep_ms(15);
        key_update_then(&c, 1, "GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n");
        expect_response(&c, "the waiting request", 0, 200, "late-body\n");
        expect_response(&c, "KeyUpdate + request behind it", 0, 200, "small-body\n");
        ck_assert_msg(harness_now_ms() - t0 < 2000, "pipelined KeyUpdate took %llu ms",
                      (unsigned long long)(harness_now_ms() - t0));
        harness_sleep_ms(300);
    }
    harness_conn_close(&c);
}
END_TEST

/* The handshake hook now sees every handshake message: the counts must be what they were
 * when it saw only Finished. A TLS 1.3 connection with KeyUpdates, a TLS 1.2 one, a resumed
 * TLS 1.3 and a resumed TLS 1.2 one: four handshakes, two resumptions, no failure. */
START_TEST(test_key_update_metrics)
{
    static const int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
    struct h_upstream *u = start_upstream();
    struct h_tls_opts o = {0};
    SSL_SESSION *sess;
    struct h_moat m;
    struct h_conn c;
    int v, i;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    for (v = 0; v < 2; v++) {
        memset(&o, 0, sizeof(o));
        o.min_version = o.max_version = versions[v];
        ck_assert_msg(harness_conn_open_tls(&c, m.port, &o) == 0, "open: %s", c.error);
        for (i = 0; i < 3; i++) {
            if (versions[v] == TLS1_3_VERSION)
                key_update_then(&c, 1, "GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n");
            else
                ck_assert_int_eq(
                    harness_conn_send_str(&c, "GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0);
            expect_response(&c, "request", 0, 200, "small-body\n");
        }
        sess = SSL_get1_session(c.ssl);
        (void)SSL_shutdown(c.ssl);
        harness_conn_close(&c);
        ck_assert_ptr_nonnull(sess);
        o.session = sess;
        ck_assert_msg(harness_conn_open_tls(&c, m.port, &o) == 0, "open: %s", c.error);
        ck_assert_msg(SSL_session_reused(c.ssl) == 1, "not resumed (version %x)", versions[v]);
        if (versions[v] == TLS1_3_VERSION)
            key_update_then(&c, 0, "GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n");
        else
            ck_assert_int_eq(
                harness_conn_send_str(&c, "GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0);
        expect_response(&c, "resumed", 0, 200, "small-body\n");
        (void)SSL_shutdown(c.ssl);
        harness_conn_close(&c);
        SSL_SESSION_free(sess);
    }
    harness_sleep_ms(200);
    ck_assert_int_eq(h_metric(&m, "moat_tls_handshakes_total{version=\"1.3\"}"), 2);
    ck_assert_int_eq(h_metric(&m, "moat_tls_handshakes_total{version=\"1.2\"}"), 2);
    ck_assert_int_eq(h_metric(&m, "moat_tls_resumptions_total"), 2);
    ck_assert_int_eq(h_metric(&m, "moat_tls_handshake_failures_total"), 0);
}
END_TEST

/* Buffered answers to a Connection: close request and to an HTTP/1.0 request arrive whole
 * before the connection closes. */
START_TEST(test_close_after_small_answer)
{
    struct h_upstream *u = start_upstream();
    struct h_moat m;
    struct h_conn c;
    int i;

    h_start_moat(&m, harness_upstream_url(u), NULL);
    for (i = 0; i < 10; i++) {
        h_open(&c, &m);
        ck_assert_int_eq(
            harness_conn_send_str(&c, i % 2 ? "GET /s1 HTTP/1.0\r\nHost: localhost\r\n\r\n"
                                            : "GET /small HTTP/1.1\r\nHost: localhost"
                                              "\r\nConnection: close\r\n\r\n"),
            0);
        if (i % 2)
            expect_sized(&c, (unsigned)i, 1);
        else
            expect_response(&c, "Connection: close", 0, 200, "small-body\n");
        ck_assert_msg(harness_conn_wait_closed(&c, 3000), "connection %d left open", i);
        harness_conn_close(&c);
    }
}
END_TEST

/* SIGTERM while requests wait on a stalled upstream, with a short drain: moat must exit
 * cleanly (0, no libmicrohttpd panic about suspended connections) within the drain plus a
 * little; every client sees an answer or a closed connection, never a hang. Another client
 * keeps sending quick requests meanwhile, so the workers are busy (requests get parked). */
START_TEST(test_sigterm_while_waiting)
{
    const char *env[] = {"MOAT_SERVER_DRAIN_TIMEOUT=1s", "MOAT_UPSTREAM_RESPONSE_TIMEOUT=30s",
                         NULL};
    struct h_upstream *u = start_upstream();
    struct h_moat m;
    struct h_conn c[4], busy;
    struct h_read_opts o = {0};
    struct h_resp r;
    uint64_t t0;
    int i, code, rc;
    char *log;

    h_start_moat(&m, harness_upstream_url(u), env);
    for (i = 0; i < 4; i++) {
        h_open(&c[i], &m);
        ck_assert_int_eq(
            harness_conn_send_str(&c[i], "GET /stall HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0);
    }
    h_open(&busy, &m);
    ck_assert_msg(harness_upstream_wait(u, 4, 5000), "the upstream did not get the requests");
    t0 = harness_now_ms();
    kill(m.pid, SIGTERM);
    /* Quick requests while the drain runs. */
    while (harness_now_ms() - t0 < 800) {
        if (harness_conn_send_str(&busy, "GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n") != 0)
            break;
        o.timeout_ms = 3000;
        rc = harness_read_response(&busy, &r, &o);
        harness_resp_free(&r);
        if (rc != 0)
            break;
    }
    code = harness_proc_wait(m.pid, 8000);
    ck_assert_msg(code == 0, "moat exited with %d after SIGTERM (-1: still running after 8 s)",
                  code);
    ck_assert_msg(harness_now_ms() - t0 < 6000, "exit took %llu ms",
                  (unsigned long long)(harness_now_ms() - t0));
    log = harness_moat_log(&m);
    ck_assert_msg(log == NULL || strstr(log, "suspended connections") == NULL,
                  "libmicrohttpd complained about suspended connections");
    free(log);
    m.pid = 0;
    for (i = 0; i < 4; i++) {
        o.timeout_ms = 3000;
        rc = harness_read_response(&c[i], &r, &o);
        ck_assert_msg(rc == 0 || r.status == 0,
                      "waiting client %d: a partial answer (status %d, %s)", i, r.status, r.error);
        ck_assert_msg(rc != 0 || r.status == 503 || r.status == 504, "waiting client %d: status %d",
                      i, r.status);
        harness_resp_free(&r);
        harness_conn_close(&c[i]);
    }
    harness_conn_close(&busy);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("keepalive");
    TCase *tc = harness_tcase("keepalive", 60);
    TCase *ku = harness_tcase("keyupdate", 60);
    Suite *suites[] = {s, NULL};

    tcase_add_test(tc, test_waiting_requests_cost_no_cpu);
    tcase_add_test(tc, test_pipelined_every_framing);
    tcase_add_test(tc, test_client_not_reading);
    tcase_add_test(tc, test_key_update_between_requests);
    tcase_add_test(tc, test_key_update_with_request);
    tcase_add_test(tc, test_close_after_small_answer);
    tcase_add_test(tc, test_sigterm_while_waiting);
    tcase_add_test(ku, test_inline_after_other_answers);
    tcase_add_test(ku, test_key_update_variants);
    tcase_add_test(ku, test_key_update_metrics);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, ku);
    return harness_run_suites(suites);
}
