/* test_redirect.c - integration tests of the plain-HTTP listener (httpredir.c) with the real
 * binary: 308/301/mixed redirects, Host checks (421/400, never reflected), open-redirect
 * tricks over the wire, the ACME path relayed to a gunicorn + Flask app, the health path
 * answered locally, no HSTS over plain HTTP, the certificate's names as default hosts, the
 * redirect-port override, metrics, the access log, and "off". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <strings.h>

#include "harness.h"

/* Sends raw on a new plain connection to moat's HTTP listener; the whole response into r.
 * Returns 1 when moat closed the connection afterwards. */
static int http_raw(const struct h_moat *m, const char *raw, struct h_resp *r)
{
    struct h_conn c;
    struct h_read_opts o = {0};
    int closed;

    ck_assert_msg(m->http_port > 0, "moat has no plain-HTTP port of the harness's choosing");
    ck_assert_msg(harness_conn_open_plain(&c, m->http_port) == 0, "connect: %s", c.error);
    ck_assert_msg(harness_conn_send_str(&c, raw) == 0, "send: %s", c.error);
    o.head_request = strncmp(raw, "HEAD ", 5) == 0;
    o.timeout_ms = 15000;
    ck_assert_msg(harness_read_response(&c, r, &o) == 0, "response to %.60s: %s (status %d)", raw,
                  r->error, r->status);
    closed = harness_conn_wait_closed(&c, 3000);
    harness_conn_close(&c);
    return closed;
}

/* GET target with Host host; the response into r. */
static void http_get(const struct h_moat *m, const char *target, const char *host, struct h_resp *r)
{
    char raw[4096];

    snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: test\r\n\r\n", target,
             host);
    (void)http_raw(m, raw, r);
}

/* Asserts a redirect with exactly this Location, no HSTS, Connection: close. */
static void want_redirect(const struct h_resp *r, int status, const char *location,
                          const char *what)
{
    const char *loc = harness_resp_header(r, "Location");

    ck_assert_msg(r->status == status, "%s: status %d, want %d\n%s", what, r->status, status,
                  r->head);
    ck_assert_msg(loc != NULL && strcmp(loc, location) == 0, "%s: Location %s, want %s", what,
                  loc != NULL ? loc : "(none)", location);
    ck_assert_msg(harness_resp_header_count(r, "Location") == 1, "%s: Location repeated", what);
    ck_assert_msg(harness_resp_header(r, "Strict-Transport-Security") == NULL,
                  "%s: HSTS over plain HTTP", what);
}

/* GET target with this Host: answered with exactly status (the response is not needed further). */
static void get_status(const struct h_moat *m, const char *target, const char *host, int status)
{
    struct h_resp r;

    http_get(m, target, host, &r);
    ck_assert_msg(r.status == status, "GET %s (Host %s): status %d, want %d\n%s", target, host,
                  r.status, status, r.head);
    harness_resp_free(&r);
}

/* GET target with this Host: a 308 to https://self:HTTPS_PORT<target> (want_redirect's checks). */
static void get_self_redirect(const struct h_moat *m, const char *target, const char *host,
                              const char *self, const char *what)
{
    struct h_resp r;
    char want[512];

    http_get(m, target, host, &r);
    snprintf(want, sizeof(want), "https://%s:%d%s", self, m->port, target);
    want_redirect(&r, 308, want, what);
    harness_resp_free(&r);
}

static void start_plain(struct h_moat *m, const char *const *env)
{
    h_start_moat(m, "http://127.0.0.1:9", env);
}

START_TEST(test_redirect_default)
{
    struct h_moat m;
    struct h_resp r;
    char want[256];
    int closed;

    start_plain(&m, NULL);
    snprintf(want, sizeof(want), "https://localhost:%d/a/b?x=1&y=%%20", m.port);
    closed = http_raw(&m, "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    want_redirect(&r, 308, want, "GET");
    ck_assert_str_eq(harness_resp_header(&r, "Connection"), "close");
    ck_assert_msg(closed, "connection kept open after a redirect");
    ck_assert_uint_eq(r.body_len, 0);
    harness_resp_free(&r);

    /* every method keeps its method: 308 */
    closed = http_raw(&m,
                      "POST /form HTTP/1.1\r\nHost: LOCALHOST:80\r\nContent-Length: 5\r\n\r\n"
                      "hello",
                      &r);
    snprintf(want, sizeof(want), "https://localhost:%d/form", m.port);
    want_redirect(&r, 308, want, "POST");
    harness_resp_free(&r);
    (void)http_raw(&m, "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    snprintf(want, sizeof(want), "https://localhost:%d/", m.port);
    want_redirect(&r, 308, want, "HEAD");
    harness_resp_free(&r);
    /* HTTP/1.0 with a Host */
    (void)http_raw(&m, "GET /old HTTP/1.0\r\nHost: localhost\r\n\r\n", &r);
    snprintf(want, sizeof(want), "https://localhost:%d/old", m.port);
    want_redirect(&r, 308, want, "HTTP/1.0");
    harness_resp_free(&r);
}
END_TEST

START_TEST(test_redirect_codes)
{
    const char *e301[] = {"MOAT_HTTP_REDIRECT_CODE=301", NULL};
    const char *mixed[] = {"MOAT_HTTP_REDIRECT_CODE=mixed", NULL};
    struct h_moat m;
    struct h_resp r;

    start_plain(&m, e301);
    (void)http_raw(&m, "DELETE /x HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 301);
    harness_resp_free(&r);
    harness_moat_stop(&m, 5000);

    start_plain(&m, mixed);
    get_status(&m, "/x", "localhost", 301);
    (void)http_raw(&m, "HEAD /x HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 301);
    harness_resp_free(&r);
    (void)http_raw(&m, "PUT /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 308);
    harness_resp_free(&r);
}
END_TEST

/* A Host that is not ours: 421 (or 400), no Location, nothing of it in the answer. */
START_TEST(test_wrong_host)
{
    static const char *const hosts[] = {"evil.example", "evil.example:80", "localhost.evil.example",
                                        "127.0.0.2", "[::2]"};
    const char *e400[] = {"MOAT_HTTP_WRONG_HOST_STATUS=400", NULL};
    struct h_moat m;
    struct h_resp r;
    size_t i;

    start_plain(&m, NULL);
    for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        http_get(&m, "/", hosts[i], &r);
        ck_assert_msg(r.status == 421, "Host %s: status %d", hosts[i], r.status);
        ck_assert_ptr_null(harness_resp_header(&r, "Location"));
        ck_assert_msg(strstr(r.head, "evil") == NULL && strstr((char *)r.body, "evil") == NULL,
                      "Host reflected:\n%s%s", r.head, r.body);
        harness_resp_free(&r);
    }
    /* the ACME path is not relayed for a foreign Host either */
    get_status(&m, "/.well-known/acme-challenge/t", "evil.example", 421);
    /* no Host, two Hosts, a malformed one: 400 */
    (void)http_raw(&m, "GET / HTTP/1.1\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 400);
    harness_resp_free(&r);
    (void)http_raw(&m, "GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_null(harness_resp_header(&r, "Location"));
    harness_resp_free(&r);
    http_get(&m, "/", "localhost@evil.example", &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_null(harness_resp_header(&r, "Location"));
    harness_resp_free(&r);
    harness_moat_stop(&m, 5000);

    start_plain(&m, e400);
    http_get(&m, "/", "evil.example", &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_null(harness_resp_header(&r, "Location"));
    harness_resp_free(&r);
}
END_TEST

/* Open-redirect tricks: either refused (400) or a Location whose authority is exactly ours. */
struct trick {
    const char *target; /* request target as sent */
    const char *host;   /* Host value */
    const char *path;   /* expected path?query after the authority, NULL: refused (400) */
};

static const struct trick tricks[] = {
    {"//evil.example/", "localhost", "/evil.example/"},
    {"///evil.example", "localhost", "/evil.example"},
    {"/\\evil.example", "localhost", "/evil.example"},
    {"/\\/evil.example/x", "localhost", "/evil.example/x"},
    {"/%2f%2fevil.example", "localhost", "/evil.example"},
    {"/%2F/evil.example", "localhost", "/evil.example"},
    {"/%5cevil.example", "localhost", "/evil.example"},
    {"/%5C%5Cevil.example", "localhost", "/evil.example"},
    {"/.//evil.example", "localhost", "/evil.example"},
    {"/%2e%2e//evil.example", "localhost", "/evil.example"},
    {"/@evil.example", "localhost", "/@evil.example"},
    {"/x?next=//evil.example", "localhost", "/x?next=//evil.example"},
    {"http://evil.example/", "localhost", NULL},
    {"http://localhost@evil.example/", "localhost", NULL},
    {"http://evil.example@localhost/", "localhost", NULL},
    {"https://localhost/p", "localhost", "/p"},
    {"/a%0d%0aLocation:%20http://evil.example", "localhost", NULL},
    {"/a%00b", "localhost", NULL},
    {"/a#frag", "localhost", NULL},
    {"evil.example:80", "localhost", NULL},
};

START_TEST(test_open_redirect_tricks)
{
    const struct trick *t = &tricks[_i];
    struct h_moat m;
    struct h_resp r;
    char prefix[128];
    const char *loc;

    start_plain(&m, NULL);
    http_get(&m, t->target, t->host, &r);
    loc = harness_resp_header(&r, "Location");
    if (t->path == NULL) {
        ck_assert_msg(r.status == 400, "%s: status %d, Location %s", t->target, r.status,
                      loc != NULL ? loc : "(none)");
        ck_assert_ptr_null(loc);
    } else {
        snprintf(prefix, sizeof(prefix), "https://localhost:%d", m.port);
        ck_assert_msg(r.status == 308 && loc != NULL, "%s: status %d", t->target, r.status);
        ck_assert_msg(strncmp(loc, prefix, strlen(prefix)) == 0 &&
                          strcmp(loc + strlen(prefix), t->path) == 0,
                      "%s: Location %s, want %s%s", t->target, loc, prefix, t->path);
    }
    harness_resp_free(&r);
}
END_TEST

/* Raw CR/LF and bytes that cannot be in a request line: refused, never a header split. */
START_TEST(test_raw_crlf)
{
    static const char *const raws[] = {
        "GET /a\rLocation: http://evil.example/ HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /a\x01 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /a\x7f HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /\xc3\xa9 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: local\x01host\r\n\r\n",
    };
    struct h_moat m;
    struct h_resp r;
    struct h_conn c;
    struct h_read_opts o = {0};
    const char *loc;
    size_t i;

    start_plain(&m, NULL);
    for (i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
        ck_assert_int_eq(harness_conn_open_plain(&c, m.http_port), 0);
        ck_assert_int_eq(harness_conn_send_str(&c, raws[i]), 0);
        o.timeout_ms = 5000;
        /* moat (or libmicrohttpd) answers 400 or closes: never a redirect */
        if (harness_read_response(&c, &r, &o) == 0 || r.status != 0) {
            loc = harness_resp_header(&r, "Location");
            ck_assert_msg(r.status == 400, "raw %zu: status %d", i, r.status);
            ck_assert_ptr_null(loc);
            ck_assert_msg(strstr(r.head, "evil") == NULL, "raw %zu reflected:\n%s", i, r.head);
        }
        harness_resp_free(&r);
        harness_conn_close(&c);
    }
}
END_TEST

/* The plain-HTTP listener enforces the request limits before deciding anything: too many
 * header fields and too many header bytes get 431, a long target 414, never a redirect
 * (which would carry the oversized target into Location), and the listener stays up. */
START_TEST(test_plain_limits)
{
    static const char *const env[] = {"MOAT_LIMITS_MAX_HEADERS=10",
                                      "MOAT_LIMITS_MAX_HEADER_BYTES=1k",
                                      "MOAT_LIMITS_MAX_URI_BYTES=256", NULL};
    struct h_moat m;
    struct h_resp r;
    char req[4096];
    size_t n;
    int i;

    start_plain(&m, env);
    /* Host plus ten more: eleven fields */
    n = (size_t)snprintf(req, sizeof(req), "GET /many HTTP/1.1\r\nHost: localhost\r\n");
    for (i = 0; i < 10; i++)
        n += (size_t)snprintf(req + n, sizeof(req) - n, "X-Field-%d: %d\r\n", i, i);
    snprintf(req + n, sizeof(req) - n, "\r\n");
    (void)http_raw(&m, req, &r);
    ck_assert_msg(r.status == 431, "too many fields: status %d", r.status);
    ck_assert_ptr_null(harness_resp_header(&r, "Location"));
    harness_resp_free(&r);

    /* ten fields are fine */
    n = (size_t)snprintf(req, sizeof(req), "GET /ten HTTP/1.1\r\nHost: localhost\r\n");
    for (i = 0; i < 9; i++)
        n += (size_t)snprintf(req + n, sizeof(req) - n, "X-Field-%d: %d\r\n", i, i);
    snprintf(req + n, sizeof(req) - n, "\r\n");
    (void)http_raw(&m, req, &r);
    ck_assert_msg(r.status == 308, "ten fields: status %d", r.status);
    harness_resp_free(&r);

    /* one field of 1.5 KiB: more header bytes than allowed */
    n = (size_t)snprintf(req, sizeof(req), "GET /big HTTP/1.1\r\nHost: localhost\r\nX-Big: ");
    memset(req + n, 'b', 1536);
    n += 1536;
    snprintf(req + n, sizeof(req) - n, "\r\n\r\n");
    (void)http_raw(&m, req, &r);
    ck_assert_msg(r.status == 431, "large field: status %d", r.status);
    ck_assert_ptr_null(harness_resp_header(&r, "Location"));
    harness_resp_free(&r);

    /* a 300-byte target */
    n = (size_t)snprintf(req, sizeof(req), "GET /");
    memset(req + n, 'u', 300);
    n += 300;
    snprintf(req + n, sizeof(req) - n, " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    (void)http_raw(&m, req, &r);
    ck_assert_msg(r.status == 414, "long target: status %d", r.status);
    ck_assert_ptr_null(harness_resp_header(&r, "Location"));
    harness_resp_free(&r);

    /* still serving */
    (void)http_raw(&m, "GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    ck_assert_msg(r.status == 308, "after the limits: status %d", r.status);
    harness_resp_free(&r);
}
END_TEST

/* The certificate's names (localhost, 127.0.0.1, ::1) are the hosts when no canonical host
 * is set; each redirects to itself. Other names are refused. */
START_TEST(test_cert_names)
{
    struct h_moat m;

    start_plain(&m, NULL);
    get_self_redirect(&m, "/n", "127.0.0.1:8080", "127.0.0.1", "127.0.0.1");
    get_self_redirect(&m, "/n", "[::1]", "[::1]", "[::1]");
    get_self_redirect(&m, "/n", "localhost.", "localhost", "trailing dot");
    get_status(&m, "/n", "example.com", 421);
}
END_TEST

/* A canonical host with aliases; the port for port-mapped containers. */
START_TEST(test_canonical_and_port)
{
    const char *canon[] = {"MOAT_HTTP_CANONICAL_HOST=www.example.org",
                           "MOAT_HTTP_ALIASES=example.org,old.example.net",
                           "MOAT_HTTP_REDIRECT_PORT=443", NULL};
    const char *port[] = {"MOAT_HTTP_REDIRECT_PORT=9443", NULL};
    struct h_moat m;
    struct h_resp r;

    start_plain(&m, canon);
    http_get(&m, "/p?q", "old.example.net", &r);
    want_redirect(&r, 308, "https://www.example.org/p?q", "alias");
    harness_resp_free(&r);
    http_get(&m, "/p", "www.example.org:8080", &r);
    want_redirect(&r, 308, "https://www.example.org/p", "canonical");
    harness_resp_free(&r);
    get_status(&m, "/p", "localhost", 421);
    harness_moat_stop(&m, 5000);

    start_plain(&m, port);
    http_get(&m, "/p", "localhost", &r);
    want_redirect(&r, 308, "https://localhost:9443/p", "redirect_port");
    harness_resp_free(&r);
}
END_TEST

/* The health path is answered by moat itself (the upstream here accepts nothing), for any Host. */
START_TEST(test_health_local)
{
    const char *custom[] = {"MOAT_HTTP_HEALTH_PATHS=/ping, /lb/*", NULL};
    struct h_moat m;
    struct h_resp r;

    start_plain(&m, NULL);
    http_get(&m, "/healthz", "10.0.0.1:8080", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq((char *)r.body, "ok\n");
    ck_assert_ptr_null(harness_resp_header(&r, "Strict-Transport-Security"));
    harness_resp_free(&r);
    (void)http_raw(&m, "GET /healthz HTTP/1.0\r\n\r\n", &r); /* no Host at all */
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    (void)http_raw(&m, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(harness_resp_header(&r, "Allow"), "GET, HEAD");
    harness_resp_free(&r);
    harness_moat_stop(&m, 5000);

    start_plain(&m, custom);
    get_status(&m, "/lb/check", "x", 200);
    get_self_redirect(&m, "/healthz", "localhost", "localhost", "health_paths replaced");
}
END_TEST

/* The ACME challenge path reaches the real app over plain HTTP; only its Content-Type and
 * Cache-Control come back (no HSTS, no cookie, no leaky header). */
START_TEST(test_acme_proxied)
{
    struct h_moat m;
    struct h_resp r;
    char *log;

    h_start_moat(&m, harness_shared_app()->url, NULL);
    http_get(&m, "/.well-known/acme-challenge/tok-123_x", "localhost:8080", &r);
    ck_assert_msg(r.status == 200, "status %d\n%s", r.status, r.head);
    ck_assert_str_eq((char *)r.body, "tok-123_x.thumbprint host=localhost:8080 proto=http\n");
    ck_assert_str_eq(harness_resp_header(&r, "Content-Type"), "text/plain; charset=utf-8");
    ck_assert_str_eq(harness_resp_header(&r, "Cache-Control"), "no-cache");
    ck_assert_ptr_null(harness_resp_header(&r, "Strict-Transport-Security"));
    ck_assert_ptr_null(harness_resp_header(&r, "Set-Cookie"));
    ck_assert_ptr_null(harness_resp_header(&r, "X-Powered-By"));
    ck_assert_ptr_null(harness_resp_header(&r, "Server"));
    ck_assert_ptr_null(harness_resp_header(&r, "Location"));
    harness_resp_free(&r);
    /* HEAD too; a missing token is the app's 404; other methods and bodies are refused */
    (void)http_raw(&m, "HEAD /.well-known/acme-challenge/t HTTP/1.1\r\nHost: localhost\r\n\r\n",
                   &r);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    get_status(&m, "/.well-known/acme-challenge/", "localhost", 404);
    (void)http_raw(&m,
                   "POST /.well-known/acme-challenge/t HTTP/1.1\r\nHost: localhost\r\n"
                   "Content-Length: 2\r\n\r\nhi",
                   &r);
    ck_assert_int_eq(r.status, 405);
    harness_resp_free(&r);
    /* dot segments cannot walk out of the exempted prefix into the app */
    get_status(&m, "/.well-known/acme-challenge/../../echo", "localhost", 308);
    ck_assert(harness_file_wait(m.log, "\"reason\":\"exempt_proxy\"", 2, 5000));
    log = harness_moat_log(&m);
    ck_assert_ptr_nonnull(strstr(log, "\"event\":\"listening\",\"listener\":\"http\""));
    ck_assert_ptr_nonnull(strstr(log, "\"event\":\"access\",\"listener\":\"http\""));
    free(log);
}
END_TEST

/* The app down: the relay answers 502 quickly, moat stays up. */
START_TEST(test_acme_upstream_down)
{
    struct h_moat m;
    struct h_resp r;

    start_plain(&m, NULL);
    http_get(&m, "/.well-known/acme-challenge/t", "localhost", &r);
    ck_assert_int_eq(r.status, 502);
    ck_assert_str_eq((char *)r.body, "Bad Gateway\n");
    harness_resp_free(&r);
    get_status(&m, "/x", "localhost", 308);
}
END_TEST

/* An app that never answers: the relay gives up at upstream.response_timeout (504), an app
 * that sends a malformed head gets 502, a body over 64 KiB 502, a body trickled past
 * upstream.idle_timeout after the head 504; moat keeps serving. */
START_TEST(test_acme_upstream_misbehaves)
{
    static const struct h_step stall[] = {H_STALL, H_END};
    static const struct h_step bad[] = {H_SEND("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                                               "Content-Length: 2\r\n\r\nab"),
                                        H_CLOSE, H_END};
    static const struct h_step big[] = {
        H_SEND("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"), H_PATTERN(70000), H_CLOSE,
        H_END};
    static const struct h_step trickle[] = {
        H_SEND("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\n"),
        H_SLEEP(700),
        H_SEND("a"),
        H_SLEEP(700),
        H_SEND("b"),
        H_SLEEP(700),
        H_SEND("c"),
        H_SLEEP(700),
        H_SEND("d"),
        H_CLOSE,
        H_END};
    static const struct h_step ok[] = {
        H_SEND("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
               "\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
        H_CLOSE, H_END};
    static const struct h_route routes[] = {
        {"/.well-known/acme-challenge/stall", stall},     {"/.well-known/acme-challenge/bad", bad},
        {"/.well-known/acme-challenge/big", big},         {"/.well-known/acme-challenge/ok", ok},
        {"/.well-known/acme-challenge/trickle", trickle},
    };
    const char *env[] = {"MOAT_UPSTREAM_RESPONSE_TIMEOUT=1s", "MOAT_UPSTREAM_IDLE_TIMEOUT=1s",
                         NULL};
    struct h_upstream *u = harness_upstream_start_routes(routes, 5);
    struct h_moat m;
    struct h_resp r;
    char *head;

    ck_assert_ptr_nonnull(u);
    h_start_moat(&m, harness_upstream_url(u), env);
    get_status(&m, "/.well-known/acme-challenge/stall", "localhost", 504);
    get_status(&m, "/.well-known/acme-challenge/bad", "localhost", 502);
    get_status(&m, "/.well-known/acme-challenge/big", "localhost", 502);
    /* A body trickled a byte every 0.7 s (2.8 s in all) must not hold a forwarder thread past
     * upstream.idle_timeout (1 s) after the head: each byte used to restart the wait. */
    http_get(&m, "/.well-known/acme-challenge/trickle", "localhost", &r);
    ck_assert_msg(r.status == 504, "trickled body: status %d", r.status);
    harness_resp_free(&r);
    http_get(&m, "/.well-known/acme-challenge/ok?x=1", "localhost", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq((char *)r.body, "abcde");
    harness_resp_free(&r);
    /* what the app received: moat's own framing, the allowed Host, no client headers */
    head = h_upstream_head(u, harness_upstream_requests(u) - 1);
    ck_assert_msg(strstr(head, "GET /.well-known/acme-challenge/ok?x=1 HTTP/1.1\r\nHost: "
                               "localhost\r\n") == head,
                  "%s", head);
    ck_assert_ptr_nonnull(strstr(head, "X-Forwarded-Proto: http\r\n"));
    ck_assert_ptr_nonnull(strstr(head, "Connection: close\r\n"));
    ck_assert_ptr_null(strstr(head, "User-Agent"));
    free(head);
}
END_TEST

/* A client dripping its request head is cut at limits.header_timeout (the idle timeout alone
 * would never fire: each byte resets it). */
START_TEST(test_slow_head_cut)
{
    const char *env[] = {"MOAT_LIMITS_HEADER_TIMEOUT=1s", NULL};
    struct h_moat m;
    struct h_conn c;
    struct h_resp r;
    uint64_t start;
    int closed = 0;

    start_plain(&m, env);
    ck_assert_int_eq(harness_conn_open_plain(&c, m.http_port), 0);
    ck_assert_int_eq(harness_conn_send_str(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n"), 0);
    start = harness_now_ms();
    while (!closed && harness_now_ms() - start < 20000) {
        if (harness_conn_send_str(&c, "X") != 0)
            break;
        closed = harness_conn_wait_closed(&c, 300);
    }
    ck_assert_msg(closed || c.eof || c.reset, "a dripping head was never cut");
    harness_conn_close(&c);
    h_admin_get(&m, "/metrics", &r);
    ck_assert_msg(strstr((char *)r.body,
                         "moat_connections_rejected_total{reason=\"head_timeout\"} 1") != NULL,
                  "%s", r.body);
    harness_resp_free(&r);
}
END_TEST

/* http.max_connections: the connection over the limit is refused, the others still served. */
START_TEST(test_connection_limit)
{
    const char *env[] = {"MOAT_HTTP_MAX_CONNECTIONS=2", NULL};
    struct h_moat m;
    struct h_conn held[2];
    struct h_conn c;
    struct h_resp r;
    char want[128];
    int i;

    start_plain(&m, env);
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(harness_conn_open_plain(&held[i], m.http_port), 0);
        ck_assert_int_eq(harness_conn_send_str(&held[i], "GET / HTTP/1.1\r\n"), 0);
    }
    /* both are open on moat's side before the third comes */
    for (i = 0; i < 100; i++) {
        int open2;

        h_admin_get(&m, "/metrics", &r);
        open2 = strstr((char *)r.body, "moat_connections_active{listener=\"http\"} 2") != NULL;
        harness_resp_free(&r);
        if (open2)
            break;
        harness_sleep_ms(50);
    }
    ck_assert_int_eq(harness_conn_open_plain(&c, m.http_port), 0);
    (void)harness_conn_send_str(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    ck_assert_msg(harness_conn_wait_closed(&c, 10000), "the third connection was served");
    ck_assert_msg(c.len - c.off == 0, "the refused connection got an answer");
    harness_conn_close(&c);
    /* one of the held connections finishes: a new one is served */
    ck_assert_int_eq(harness_conn_send_str(&held[0], "Host: localhost\r\n\r\n"), 0);
    ck_assert_int_eq(harness_read_response(&held[0], &r, NULL), 0);
    ck_assert_int_eq(r.status, 308);
    harness_resp_free(&r);
    harness_conn_close(&held[0]);
    snprintf(want, sizeof(want), "https://localhost:%d/after", m.port);
    for (i = 0; i < 50; i++) {
        struct h_conn d;

        ck_assert_int_eq(harness_conn_open_plain(&d, m.http_port), 0);
        (void)harness_conn_send_str(&d, "GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n");
        memset(&r, 0, sizeof(r));
        if (harness_read_response(&d, &r, NULL) == 0 && r.status == 308) {
            harness_conn_close(&d);
            break;
        }
        harness_resp_free(&r);
        harness_conn_close(&d);
        harness_sleep_ms(100); /* the closed connection's slot is released asynchronously */
    }
    want_redirect(&r, 308, want, "after a slot was freed");
    harness_resp_free(&r);
    harness_conn_close(&held[1]);
    h_admin_get(&m, "/metrics", &r);
    ck_assert_msg(strstr((char *)r.body, "moat_connections_rejected_total{reason=\"limit\"}") !=
                      NULL,
                  "%s", r.body);
    harness_resp_free(&r);
}
END_TEST

/* Metrics: requests under listener="http", redirects by code. */
START_TEST(test_metrics)
{
    struct h_moat m;
    struct h_resp r;
    int i;

    start_plain(&m, NULL);
    for (i = 0; i < 3; i++) {
        http_get(&m, "/m", "localhost", &r);
        harness_resp_free(&r);
    }
    http_get(&m, "/m", "evil.example", &r);
    harness_resp_free(&r);
    h_admin_get(&m, "/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr((char *)r.body, "moat_redirects_total{code=\"308\"} 3") != NULL, "%s",
                  r.body);
    ck_assert_msg(strstr((char *)r.body,
                         "moat_requests_total{listener=\"http\",method=\"GET\",code=\"308\"} 3") !=
                      NULL,
                  "%s", r.body);
    ck_assert(strstr((char *)r.body,
                     "moat_requests_total{listener=\"http\",method=\"GET\",code=\"421\"} 1") !=
              NULL);
    ck_assert(strstr((char *)r.body, "moat_connections_total{listener=\"http\"} 4") != NULL);
    harness_resp_free(&r);
}
END_TEST

/* SIGHUP with a certificate for other names: the allowed hosts follow it. */
START_TEST(test_cert_names_reload)
{
    char cert2[H_PATH], key2[H_PATH];
    const char *argv[] = {"/usr/bin/openssl",
                          "req",
                          "-x509",
                          "-newkey",
                          "ec",
                          "-pkeyopt",
                          "ec_paramgen_curve:P-256",
                          "-nodes",
                          "-days",
                          "2",
                          "-subj",
                          "/CN=other.test",
                          "-addext",
                          "subjectAltName=DNS:other.test,DNS:*.apps.test",
                          "-keyout",
                          key2,
                          "-out",
                          cert2,
                          NULL};
    struct h_moat m;
    char *out = NULL, *err = NULL;

    harness_path(cert2, sizeof(cert2), "cert2.pem");
    harness_path(key2, sizeof(key2), "key2.pem");
    ck_assert_msg(harness_run(argv, NULL, 30000, &out, &err) == 0, "openssl: %s", err);
    free(out);
    free(err);
    ck_assert_int_eq(harness_give(cert2), 0);
    ck_assert_int_eq(harness_give(key2), 0);
    start_plain(&m, NULL);
    get_status(&m, "/", "other.test", 421);
    ck_assert_int_eq(rename(key2, harness_key()), 0);
    ck_assert_int_eq(rename(cert2, harness_cert()), 0);
    ck_assert_int_eq(kill(m.pid, SIGHUP), 0);
    ck_assert(harness_file_wait(m.log, "\"event\":\"tls_reloaded\"", 1, 5000));
    get_self_redirect(&m, "/r", "other.test", "other.test", "reloaded name");
    get_self_redirect(&m, "/r", "Shop.Apps.Test", "shop.apps.test", "reloaded wildcard name");
    get_status(&m, "/r", "a.b.apps.test", 421);
    get_status(&m, "/r", "localhost", 421);
}
END_TEST

/* http.listen = off: no plain-HTTP listener. */
START_TEST(test_off)
{
    const char *off[] = {"MOAT_HTTP_LISTEN=off", NULL};
    struct h_moat m;
    char *log;

    start_plain(&m, off);
    ck_assert_int_eq(m.http_port, 0);
    log = harness_moat_log(&m);
    ck_assert_ptr_null(strstr(log, "\"listener\":\"http\""));
    free(log);
}
END_TEST

/* --check-config rejects a setup without usable hosts and names the key. */
START_TEST(test_check_config)
{
    const char *argv[] = {harness_moat_bin(),
                          "--check-config",
                          "--cert",
                          harness_cert(),
                          "--key",
                          harness_key(),
                          NULL};
    const char *bad[] = {"MOAT_HTTP_ALIASES=old.example", NULL};
    const char *port[] = {"MOAT_HTTP_CANONICAL_HOST=exa mple", NULL};
    char *out = NULL, *err = NULL;
    int code;

    code = harness_run(argv, bad, 10000, &out, &err);
    ck_assert_msg(code == 1, "exit %d: %s", code, err);
    ck_assert_msg(strstr(err, "http.aliases: set without a canonical_host") != NULL, "%s", err);
    free(out);
    free(err);
    code = harness_run(argv, port, 10000, &out, &err);
    ck_assert_msg(code == 1, "exit %d: %s", code, err);
    ck_assert_msg(
        strstr(err, "http.canonical_host = \"exa mple\" (env MOAT_HTTP_CANONICAL_HOST)") != NULL,
        "%s", err);
    free(out);
    free(err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("redirect");
    TCase *own = harness_tcase("moat", 90);
    TCase *app = harness_tcase("gunicorn", 90);
    Suite *const suites[] = {s, NULL};

    tcase_add_test(own, test_redirect_default);
    tcase_add_test(own, test_redirect_codes);
    tcase_add_test(own, test_wrong_host);
    tcase_add_loop_test(own, test_open_redirect_tricks, 0, sizeof(tricks) / sizeof(tricks[0]));
    tcase_add_test(own, test_raw_crlf);
    tcase_add_test(own, test_cert_names);
    tcase_add_test(own, test_cert_names_reload);
    tcase_add_test(own, test_canonical_and_port);
    tcase_add_test(own, test_health_local);
    tcase_add_test(own, test_acme_upstream_down);
    tcase_add_test(own, test_acme_upstream_misbehaves);
    tcase_add_test(own, test_metrics);
    tcase_add_test(own, test_slow_head_cut);
    tcase_add_test(own, test_connection_limit);
    tcase_add_test(own, test_plain_limits);
    tcase_add_test(own, test_off);
    tcase_add_test(own, test_check_config);
    tcase_add_unchecked_fixture(app, harness_shared_app_setup, harness_shared_app_teardown);
    tcase_add_test(app, test_acme_proxied);
    suite_add_tcase(s, own);
    suite_add_tcase(s, app);
    return harness_run_suites(suites);
}
