/* harness.h - integration-test harness: per-test temp dirs, child processes (moat, gunicorn),
 * a raw TLS client with an HTTP/1.1 response parser, and scripted raw upstreams.
 *
 * Lifetime: harness_setup() (checked fixture, runs in Check's forked test process) creates the
 * test's temp dir, a test certificate and a watcher process; harness_teardown() stops every
 * process and upstream the test started. When a test dies (failed assertion, crash, timeout)
 * the watcher prints the tail of every log in the temp dir to stderr and removes the dir
 * (kept when MOAT_KEEP_TMP=1). Children run under PR_SET_PDEATHSIG(SIGKILL) and in the test's
 * process group, which Check kills after each test, so nothing outlives a test.
 * All functions report errors on stderr (prefix "harness:") and return -1 / NULL. */
#ifndef MOAT_HARNESS_H
#define MOAT_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#define H_PATH 512      /* bytes for paths built by the harness */
#define H_MAX_HDRS 160  /* header fields kept per parsed response */
#define H_MAX_INTERIM 8 /* 1xx responses remembered per parsed response */

/* ---------------------------------------------------------------- test environment */

/* Checked-fixture setup: temp dir, test certificate (ECDSA P-256, localhost/127.0.0.1/::1),
 * watcher. Aborts the test (ck_abort) when any of it fails. */
void harness_setup(void);

/* Checked-fixture teardown: stops moat instances, apps, upstreams and other children, then
 * lets the watcher remove the temp dir. */
void harness_teardown(void);

/* Creates a TCase named name with the harness fixtures and a per-test timeout of timeout_s
 * seconds (overrides CK_DEFAULT_TIMEOUT; CK_TIMEOUT_MULTIPLIER still applies). The caller
 * adds it to a suite. */
TCase *harness_tcase(const char *name, double timeout_s);

/* Runs every suite in the NULL-terminated array with CK_NORMAL output; returns the
 * process exit status for main() (EXIT_SUCCESS when nothing failed). */
int harness_run_suites(Suite *const *suites);

/* The test's temp directory (borrowed, valid until teardown). */
const char *harness_dir(void);

/* Writes "<temp dir>/<name>" into out (cap bytes). */
void harness_path(char *out, size_t cap, const char *name);

/* Paths of the test certificate and key in the temp dir (borrowed). */
const char *harness_cert(void);
const char *harness_key(void);

/* $MOAT_BIN and $MOAT_SOURCE_DIR (borrowed; the test aborts when unset). */
const char *harness_moat_bin(void);
const char *harness_source_dir(void);

/* True when environment variable name is set to a non-empty value other than "0". */
int harness_env_flag(const char *name);

/* Prints "harness: <message>" as one line on stderr. */
void harness_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Adds a log outside the temp dir to print when a test fails. Takes effect for tests set up
 * after the call (call it from an unchecked fixture); one such log is kept. */
void harness_watch_log(const char *path);

/* Writes a self-signed ECDSA P-256 certificate (SANs localhost, 127.0.0.1, ::1, valid from
 * one hour ago for 30 days) and its key (mode 0600) as PEM. Returns 0 or -1. */
int harness_make_cert(const char *cert_path, const char *key_path);

/* SHA-256 of the DER of the first certificate in a PEM file, as 64 lower-case hex digits
 * into hex (>= 65 bytes). Returns 0 or -1. */
int harness_cert_sha256(const char *cert_path, char *hex);

/* ---------------------------------------------------------------- small utilities */

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t harness_now_ms(void);

/* Sleeps ms milliseconds (restarting after signals). */
void harness_sleep_ms(int ms);

/* A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, closed).
 * Returns the port or -1. */
int harness_free_port(void);

/* As harness_free_port, on ::1 when ipv6 is set. */
int harness_free_port_on(int ipv6);

/* Fills out with 127.0.0.1:port (or [::1]:port when ipv6) and returns its length. */
socklen_t harness_loopback(int ipv6, int port, struct sockaddr_storage *out);

/* Reads a whole file into a NUL-terminated buffer (caller frees); *len gets its size when
 * len is not NULL. Returns NULL when the file cannot be read. */
char *harness_read_file(const char *path, size_t *len);

/* Writes len bytes to path (created or truncated with mode). Returns 0 or -1. */
int harness_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* The uid and gid moat drops to by default when started as root (sandbox.user/group). */
#define H_SANDBOX_ID 65532

/* When the tests run as root, hands path to H_SANDBOX_ID (chown) so that moat, once it has
 * dropped root, can still read it (SIGHUP reload) or connect to it (Unix socket). Nothing
 * when not root. Returns 0 or -1. */
int harness_give(const char *path);

/* Number of non-overlapping occurrences of needle in hay. */
size_t harness_count(const char *hay, const char *needle);

/* Polls file path every 20 ms until it contains needle at least `times` times, for at most
 * timeout_ms. Returns 1 when found, 0 on timeout. */
int harness_file_wait(const char *path, const char *needle, size_t times, int timeout_ms);

/* Removes a directory tree (rm -rf). */
void harness_rmtree(const char *dir);

/* Prints the last `lines` lines of path to stderr under a banner. */
void harness_dump_tail(const char *path, int lines);

/* Entries in /proc/PID/fd, or -1 when unreadable. */
int harness_fd_count(pid_t pid);

/* A "kB" field of /proc/PID/status such as "VmHWM" or "VmRSS", or -1. */
long harness_status_kb(pid_t pid, const char *field);

/* Writes n bytes as 2n lower-case hex digits and a NUL into hex. */
void harness_hex(const unsigned char *bytes, size_t n, char *hex);

/* Fills buf[0..len) with the test data pattern starting at offset off: byte i is i % 251
 * (a prime period, so shifted, dropped or repeated data never matches). */
void harness_pattern_fill(unsigned char *buf, size_t len, uint64_t off);

/* Longest run of pattern bytes harness_pattern_at hands out. */
#define H_PATTERN_RUN (251u * 261u)

/* Pointer to H_PATTERN_RUN pattern bytes that start at offset off (static storage). */
const unsigned char *harness_pattern_at(uint64_t off);

/* SHA-256 (64 hex digits into hex, >= 65 bytes) of the first n pattern bytes. */
void harness_pattern_sha256(uint64_t n, char *hex);

/* --------------------------------------------------------------- child processes */

/* How to start a child process. */
struct h_spawn {
    const char *const *argv; /* argv[0] is the executable path; NULL-terminated */
    const char *const *env;  /* "NAME=VALUE" added to (and overriding) the harness's
                                environment, which has every MOAT_* variable removed */
    const char *out_path;    /* stdout to this file (appended); NULL: same as err_path */
    const char *err_path;    /* stderr to this file (appended); NULL: /dev/null */
    const char *chdir;       /* working directory, NULL: unchanged */
    int own_group;           /* 1: run in a new process group (killed as a group) */
    int persistent;          /* 1: outlives harness_teardown (a fixture shared by tests) */
};

/* Forks and execs a child described by s; registers it for teardown. Returns pid or -1. */
pid_t harness_spawn(const struct h_spawn *s);

/* Waits up to timeout_ms for pid to exit. Returns its exit code (128+N when killed by
 * signal N), or -1 on timeout (still running) or error. */
int harness_proc_wait(pid_t pid, int timeout_ms);

/* Sends sig (to the group when spawned with own_group), waits up to timeout_ms, then
 * SIGKILLs and reaps. Returns the exit code as harness_proc_wait, or -1 when it had to be
 * killed. */
int harness_proc_stop(pid_t pid, int sig, int timeout_ms);

/* True while pid has not exited. */
int harness_proc_alive(pid_t pid);

/* Stops every child this process started (SIGTERM, then SIGKILL after 3 s) and reaps them
 * (used by harness_teardown). */
void harness_proc_stop_all(void);

/* Runs argv to completion (at most timeout_ms), stdout and stderr into NUL-terminated
 * buffers (*out, *err: caller frees; either pointer may be NULL). Returns the exit code,
 * or -1 on timeout (the child is killed). */
int harness_run(const char *const *argv, const char *const *env, int timeout_ms, char **out,
                char **err);

/* ---------------------------------------------------------------- moat */

/* A running moat. */
struct h_moat {
    pid_t pid;        /* process id, 0 when not running */
    int port;         /* HTTPS port on 127.0.0.1 (or ::1) */
    int admin_port;   /* admin listener port on 127.0.0.1, 0 when the test chose its own */
    int http_port;    /* plain-HTTP listener port on 127.0.0.1, 0 when the test chose its own */
    int ipv6;         /* listening on [::1] instead of 127.0.0.1 */
    char log[H_PATH]; /* its stderr (JSON lines) */
    int exit_code;    /* after harness_moat_stop or an early exit, else -1 */
};

/* How to start moat. Zero-initialised means: no upstream flag, the test cert, log level
 * debug, wait for "listening". */
struct h_moat_opts {
    const char *upstream;    /* --upstream value, NULL: none */
    const char *const *args; /* extra arguments, NULL-terminated (may be NULL) */
    const char *const *env;  /* extra environment "NAME=VALUE" (may be NULL) */
    const char *log_level;   /* --log-level, NULL: "debug" */
    int no_cert;             /* 1: do not pass --cert/--key (e.g. with --dev) */
    int wait_ms;             /* how long to wait for listening, 0: 15000 */
    int ipv6;                /* 1: listen on [::1] instead of 127.0.0.1 */
    const char *bin;         /* binary to run instead of $MOAT_BIN (NULL: $MOAT_BIN) */
    const char *const *wrap; /* command moat runs under (setpriv ... bwrap ...), NULL-
                                terminated, the moat binary appended; NULL: none */
};

/* Starts moat on a free port (retrying other ports when the bind fails) and waits until
 * its log says the HTTPS listener is "listening" (or the port accepts). Unless the test
 * sets --admin-listen (in args) or MOAT_ADMIN_LISTEN (in env) itself, the admin listener
 * gets a free port of its own on 127.0.0.1 (m->admin_port), so parallel tests never
 * collide on the default 9901; likewise the plain-HTTP listener (--http-listen /
 * MOAT_HTTP_LISTEN, else m->http_port instead of the default 8080); and unless env sets
 * MOAT_ADMIN_READY_INTERVAL, the readiness check is off (=0), so its connections never show in an
 * upstream's connection counts. Returns 0, or -1 with m->exit_code set when moat exited and the log
 * tail printed. */
int harness_moat_start(struct h_moat *m, const struct h_moat_opts *o);

/* Sends SIGTERM and waits up to timeout_ms for moat to exit. Returns its exit code, or -1
 * when it had to be killed. */
int harness_moat_stop(struct h_moat *m, int timeout_ms);

/* Reads moat's log (caller frees), or NULL. */
char *harness_moat_log(const struct h_moat *m);

/* "http://127.0.0.1:<port>" into out. */
void harness_url(char *out, size_t cap, int port);

/* ---------------------------------------------------------------- gunicorn + Flask app */

/* A running tests/integration/app/testapp.py under gunicorn (2 sync workers). */
struct h_app {
    pid_t pid;         /* gunicorn master (own process group), 0 when not running */
    int port;          /* TCP port, 0 when bound to a Unix socket */
    char sock[H_PATH]; /* Unix socket path, "" for TCP */
    char log[H_PATH];  /* gunicorn's stdout+stderr (access log included) */
    char url[H_PATH];  /* upstream URL for moat: http://127.0.0.1:P or unix:/path */
};

/* Starts the app in dir (its log goes there), on TCP or on dir/app.sock, and waits until it
 * accepts connections. Returns 0 or -1 (log tail printed). */
int harness_app_start(struct h_app *a, const char *dir, int unix_socket);

/* As harness_app_start on TCP, serving HTTPS with the PEM cert and key (gunicorn's
 * --certfile/--keyfile); a->url is then https://127.0.0.1:P. Returns 0 or -1. */
int harness_app_start_tls(struct h_app *a, const char *dir, const char *cert, const char *key);
/* As harness_app_start (TCP), with the demo app the README runs (docker/demo/app.py). */
int harness_demo_app_start(struct h_app *a, const char *dir);

/* Stops the app's process group (SIGTERM, then SIGKILL). */
void harness_app_stop(struct h_app *a);

/* Unchecked-fixture pair: one TCP app shared by the tests of a TCase (started in Check's
 * parent process, in its own temp dir). */
void harness_shared_app_setup(void);
void harness_shared_app_teardown(void);

/* The shared app; aborts the test when it failed to start. */
const struct h_app *harness_shared_app(void);

/* ---------------------------------------------------------------- raw client */

/* A client connection (TLS or plain TCP) with a receive buffer. */
struct h_conn {
    int fd;             /* socket (non-blocking), -1 when closed */
    SSL_CTX *ctx;       /* NULL for plain TCP */
    SSL *ssl;           /* NULL for plain TCP */
    unsigned char *buf; /* received bytes not yet consumed: buf[off..len) */
    size_t off;         /* first unconsumed byte */
    size_t len;         /* bytes in buf */
    size_t cap;         /* allocated size of buf */
    int eof;            /* the peer closed (FIN, close_notify, reset or TLS error) */
    int reset;          /* the close was a reset or an error rather than a clean EOF */
    char error[160];    /* last error, "" when none */
};

/* TLS client options; zero-initialised means SNI "localhost", TLS 1.2..1.3, OpenSSL's
 * default ciphers, 5 s handshake timeout. Certificates are never verified. */
struct h_tls_opts {
    const char *sni;         /* server name to send, NULL: "localhost"; "" sends none */
    int min_version;         /* e.g. TLS1_1_VERSION, 0: TLS1_2_VERSION */
    int max_version;         /* 0: TLS1_3_VERSION */
    const char *cipher_list; /* TLS <= 1.2 cipher list, NULL: default */
    int timeout_ms;          /* connect + handshake timeout, 0: 5000 */
    int ipv6;                /* connect to ::1 instead of 127.0.0.1 */
    const char *client_cert; /* client certificate chain (PEM file) to present, NULL: none */
    const char *client_key;  /* its private key (PEM file) */
    SSL_SESSION *session;    /* session to offer for resumption (borrowed), NULL: none; see
                                SSL_session_reused(c->ssl) and SSL_get1_session(c->ssl) */
};

/* Connects to 127.0.0.1:port and completes a TLS handshake with default options.
 * Returns 0, or -1 with c->error set (c is then closed). */
int harness_conn_open(struct h_conn *c, int port);

/* As harness_conn_open with explicit TLS options. */
int harness_conn_open_tls(struct h_conn *c, int port, const struct h_tls_opts *o);

/* Connects with plain TCP (no TLS). Returns 0 or -1. */
int harness_conn_open_plain(struct h_conn *c, int port);

/* Sends len bytes, waiting at most 10 s without progress. Returns 0, or -1 when the peer
 * closed or the write timed out. */
int harness_conn_send(struct h_conn *c, const void *data, size_t len);

/* Sends a NUL-terminated string. Returns 0 or -1. */
int harness_conn_send_str(struct h_conn *c, const char *s);

/* Sends n pattern bytes as a body; chunked: 1 frames it as chunks (and the last chunk).
 * Returns 0 or -1. */
int harness_conn_send_pattern(struct h_conn *c, uint64_t n, int chunked);

/* Reads whatever arrives within timeout_ms into the buffer. Returns the number of new
 * bytes, 0 when the peer closed (c->eof), -1 on timeout. */
int harness_conn_fill(struct h_conn *c, int timeout_ms);

/* Waits up to timeout_ms for the peer to close, buffering data that still arrives.
 * Returns 1 when closed, 0 when still open at the deadline. */
int harness_conn_wait_closed(struct h_conn *c, int timeout_ms);

/* SHA-256 of the peer certificate's DER (64 hex digits into hex). Returns 0 or -1. */
int harness_conn_peer_sha256(struct h_conn *c, char *hex);

/* Closes the connection (no close_notify) and frees its buffer. Safe to call twice. */
void harness_conn_close(struct h_conn *c);

/* ---------------------------------------------------------------- responses */

enum h_framing { H_FRAME_NONE = 0, H_FRAME_LENGTH, H_FRAME_CHUNKED, H_FRAME_CLOSE };

/* A parsed response. Strings are owned by it; free with harness_resp_free. */
struct h_resp {
    int status;                 /* final status, 0 when no head was received */
    int minor;                  /* HTTP/1.<minor> */
    char reason[128];           /* reason phrase */
    char *head;                 /* the final head as received, NUL-terminated */
    size_t nhdr;                /* header fields kept */
    char *name[H_MAX_HDRS];     /* field names as received */
    char *value[H_MAX_HDRS];    /* field values, surrounding whitespace trimmed */
    int interim[H_MAX_INTERIM]; /* 1xx statuses received before the final head */
    size_t n_interim;           /* entries in interim */
    enum h_framing framing;     /* how the body was delimited */
    unsigned char *body;        /* first body bytes (up to the read's body_cap), NUL-ended */
    size_t body_kept;           /* bytes in body */
    uint64_t body_len;          /* body bytes received in total */
    int pattern_ok;             /* the body equals the test pattern from offset 0 */
    char sha256[65];            /* SHA-256 of the whole body, hex */
    int complete;               /* the message was received whole per its framing */
    char error[160];            /* why it is incomplete, "" when complete */
};

/* Options for reading a response; zero-initialised means: not HEAD, 5 s idle timeout, keep
 * up to 1 MiB of body. */
struct h_read_opts {
    int head_request; /* the request was HEAD: no body whatever the headers say */
    int timeout_ms;   /* longest wait for more bytes */
    size_t body_cap;  /* body bytes kept in r->body */
};

/* Reads one response (skipping 1xx heads) from c. Returns 0 when it was received whole,
 * -1 otherwise (r->status says whether a head arrived, r->error why it stopped). */
int harness_read_response(struct h_conn *c, struct h_resp *r, const struct h_read_opts *o);

/* First value of header name (case-insensitive), or NULL. */
const char *harness_resp_header(const struct h_resp *r, const char *name);

/* Number of fields named name (case-insensitive). */
size_t harness_resp_header_count(const struct h_resp *r, const char *name);

/* Frees what r owns and zeroes it. */
void harness_resp_free(struct h_resp *r);

/* One request on a new TLS connection: sends raw, reads the response into r (with
 * default read options, timeout_ms if > 0), then reports in *closed (may be NULL) whether
 * the server closed the connection within 2 s. Returns as harness_read_response, or -1 when
 * the connection failed. */
int harness_request(int port, const char *raw, struct h_resp *r, int timeout_ms, int *closed);

/* GET (or any method: raw is the whole request) on a new plain connection to moat's admin
 * port; the whole response into r. Returns as harness_read_response, or -1 when the
 * connection failed (r->error says why). */
int harness_admin_request(const struct h_moat *m, const char *raw, struct h_resp *r);

/* ----------------------------------------------------- header lookups in raw text / JSON */

/* Finds header name (case-insensitive) in a raw HTTP head; copies the first value (trimmed)
 * into out (cap bytes; may be NULL). Returns how many fields have that name. */
size_t harness_head_header(const char *head, const char *name, char *out, size_t cap);

/* Finds "key": in a flat JSON text and copies its string (unescaped simply) or number text
 * into out. Returns 0, or -1 when absent. */
int harness_json_get(const char *json, const char *key, char *out, size_t cap);

/* Finds ["Name","value"] pairs in /echo's "headers" list (name compared case-insensitively);
 * copies the first value into out (may be NULL). Returns the number of pairs found. */
size_t harness_echo_header(const char *json, const char *name, char *out, size_t cap);

/* ---------------------------------------------------------------- raw upstream */

enum h_op {
    H_OP_END = 0, /* end of the script: keep the connection for the next request */
    H_OP_SEND,    /* write data[0..len) */
    H_OP_SLEEP,   /* pause n milliseconds */
    H_OP_PATTERN, /* write n pattern bytes (from offset 0) */
    H_OP_CLOSE,   /* close the connection */
    H_OP_STALL,   /* send nothing more until the peer closes or the upstream stops */
    H_OP_RESET,   /* close with a TCP reset (SO_LINGER 0) */
};

/* One step of an upstream response script. */
struct h_step {
    enum h_op op;     /* what to do */
    const char *data; /* H_OP_SEND: bytes (borrowed for the upstream's lifetime) */
    size_t len;       /* H_OP_SEND: bytes in data */
    uint64_t n;       /* H_OP_SLEEP: ms; H_OP_PATTERN: bytes */
};

#define H_SEND(lit)                                                                                \
    {                                                                                              \
        H_OP_SEND, (lit), sizeof(lit) - 1, 0                                                       \
    }
#define H_SENDN(ptr, n)                                                                            \
    {                                                                                              \
        H_OP_SEND, (ptr), (n), 0                                                                   \
    }
#define H_SLEEP(ms)                                                                                \
    {                                                                                              \
        H_OP_SLEEP, NULL, 0, (ms)                                                                  \
    }
#define H_PATTERN(bytes)                                                                           \
    {                                                                                              \
        H_OP_PATTERN, NULL, 0, (bytes)                                                             \
    }
#define H_CLOSE                                                                                    \
    {                                                                                              \
        H_OP_CLOSE, NULL, 0, 0                                                                     \
    }
#define H_STALL                                                                                    \
    {                                                                                              \
        H_OP_STALL, NULL, 0, 0                                                                     \
    }
#define H_RESET                                                                                    \
    {                                                                                              \
        H_OP_RESET, NULL, 0, 0                                                                     \
    }
#define H_END                                                                                      \
    {                                                                                              \
        H_OP_END, NULL, 0, 0                                                                       \
    }

/* What the upstream received as one request body. */
struct h_up_body {
    uint64_t len;    /* body bytes (de-chunked) */
    int pattern_ok;  /* equals the test pattern from offset 0 */
    int complete;    /* the framing was satisfied */
    char sha256[65]; /* hex SHA-256 of the body */
};

struct h_upstream;

/* Starts a raw HTTP/1.1 upstream on 127.0.0.1 (port chosen by the kernel), one thread per
 * connection. For each request it reads and records the head and the body (per the
 * request's Content-Length / chunked framing), then runs scripts[k % n] where k counts
 * requests over all connections. Registered for teardown. Returns NULL on failure. */
struct h_upstream *harness_upstream_start(const struct h_step *const *scripts, size_t n);

/* A script chosen by the request target. */
struct h_route {
    const char *prefix;          /* request-target prefix such as "/bad"; "" matches all */
    const struct h_step *script; /* the answer to such requests */
};

/* As harness_upstream_start, but each request runs the script of the first route whose
 * prefix its target starts with (a request no route matches is answered by closing).
 * Robust against moat retrying a request on another connection. */
struct h_upstream *harness_upstream_start_routes(const struct h_route *routes, size_t n);

/* Port and URL ("http://127.0.0.1:P") of the upstream. */
int harness_upstream_port(const struct h_upstream *u);
const char *harness_upstream_url(const struct h_upstream *u);

/* Counters: connections accepted, request heads received, bytes received in total. */
unsigned harness_upstream_connections(struct h_upstream *u);
unsigned harness_upstream_requests(struct h_upstream *u);
uint64_t harness_upstream_bytes(struct h_upstream *u);

/* Waits until at least n requests were received in full (head and body). Returns 1, or 0
 * after timeout_ms. */
int harness_upstream_wait(struct h_upstream *u, unsigned n, int timeout_ms);

/* Copy of request idx's head (caller frees), or NULL when there is none. */
char *harness_upstream_head(struct h_upstream *u, unsigned idx);

/* Request idx's body facts into out. Returns 0, or -1 when there is no such request. */
int harness_upstream_body(struct h_upstream *u, unsigned idx, struct h_up_body *out);

/* Stops the upstream: closes every connection, joins its threads, frees it. */
void harness_upstream_stop(struct h_upstream *u);

/* Stops every upstream still running (used by harness_teardown). */
void harness_upstream_stop_all(void);

/* ------------------------------------------------ test-body helpers (fail the test) */

/* Starts moat in front of upstream (a URL) with extra environment env (may be NULL). */
void h_start_moat(struct h_moat *m, const char *upstream, const char *const *env);

/* Opens a TLS connection to moat (over IPv6 when moat listens on ::1). */
void h_open(struct h_conn *c, const struct h_moat *m);

/* Sends raw on c and reads one whole response into r (20 s idle timeout; HEAD-aware). */
void h_exchange(struct h_conn *c, const char *raw, struct h_resp *r);

/* GET path on a new connection (Host: localhost); the whole response into r. */
void h_get(const struct h_moat *m, const char *path, struct h_resp *r);

/* GET path on moat's admin listener (plain HTTP); the whole response into r. */
void h_admin_get(const struct h_moat *m, const char *path, struct h_resp *r);

/* The value of the sample `series` (metric name with its labels exactly as rendered) in
 * the Prometheus text, into *out: 1 when found, 0 when the series is absent. */
int h_metrics_sample(const char *text, const char *series, double *out);

/* Scrapes moat's /metrics (must answer 200) and returns the value of the sample `series`
 * (see h_metrics_sample), or -1 when absent. */
double h_metric(const struct h_moat *m, const char *series);

/* A raw upstream answering every request "200 ok" (Content-Length 2, keep-alive). */
struct h_upstream *h_ok_upstream(void);

/* Waits (5 s) for request idx at upstream u and returns a copy of its head (caller frees). */
char *h_upstream_head(struct h_upstream *u, unsigned idx);

#endif
