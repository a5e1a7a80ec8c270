/* test_tls.c - integration tests of TLS operations against the real moat binary (sandbox on):
 * certificate reload on file change (the Kubernetes "..data" swap) and SIGHUP under live
 * connections, a broken new pair refused, SNI selection, session resumption by tickets,
 * profiles, client certificates (mTLS), expiry metrics and warnings, and a testssl.sh scan. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "harness.h"

#define DAY 86400L

/* ------------------------------------------------------------ certificates */

/* What a certificate is for. */
enum use {
    USE_SERVER = 0, /* TLS server leaf */
    USE_CLIENT,     /* TLS client leaf */
    USE_CA,         /* issuing CA */
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    ck_assert_ptr_nonnull(ext);
    ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* Writes a PEM object from b into dir/name (mode). */
static void bio_write(BIO *b, const char *path, mode_t mode)
{
    char *data = NULL;
    long len = BIO_get_mem_data(b, &data);

    ck_assert_int_gt(len, 0);
    ck_assert_int_eq(harness_write_file(path, data, (size_t)len, mode), 0);
}

/* Makes an ECDSA P-256 certificate for subject /O=Acme/CN=cn with subjectAltName san (NULL:
 * none), valid from a day ago for `days` days, issued by issuer/ikey (NULL: self-signed), and
 * writes <path>.crt and <path>.key (0600) where path is relative to the test dir. Returns the
 * certificate and (through *key_out) its key when the caller wants them (else frees them). */
static X509 *mk_cert(const char *name, const char *cn, const char *san, long days, enum use use,
                     X509 *issuer, EVP_PKEY *ikey, EVP_PKEY **key_out)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *subj = X509_NAME_new();
    long serial = 0;
    char path[H_PATH], file[H_PATH];
    BIO *b;

    ck_assert(key != NULL && x != NULL && subj != NULL);
    ck_assert_int_eq(RAND_bytes((unsigned char *)&serial, sizeof(serial)), 1);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial < 0 ? -(serial + 1) : serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -DAY);
    X509_gmtime_adj(X509_getm_notAfter(x), days * DAY);
    X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC, (const unsigned char *)"Acme", -1, -1, 0);
    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, subj);
    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : subj);
    X509_set_pubkey(x, key);
    add_ext(x, issuer != NULL ? issuer : x, NID_basic_constraints,
            use == USE_CA ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_ext(x, issuer != NULL ? issuer : x, NID_key_usage,
            use == USE_CA ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    if (use != USE_CA)
        add_ext(x, issuer != NULL ? issuer : x, NID_ext_key_usage,
                use == USE_CLIENT ? "clientAuth" : "serverAuth");
    if (san != NULL)
        add_ext(x, issuer != NULL ? issuer : x, NID_subject_alt_name, san);
    ck_assert_int_gt(X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()), 0);
    X509_NAME_free(subj);

    harness_path(path, sizeof(path), name);
    b = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_X509(b, x), 1);
    ck_assert_int_lt(snprintf(file, sizeof(file), "%s.crt", path), (int)sizeof(file));
    bio_write(b, file, 0644);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL), 1);
    ck_assert_int_lt(snprintf(file, sizeof(file), "%s.key", path), (int)sizeof(file));
    bio_write(b, file, 0600);
    BIO_free(b);
    if (key_out != NULL)
        *key_out = key;
    else
        EVP_PKEY_free(key);
    return x;
}

/* A self-signed server pair <name>.crt/.key for san, valid 30 days. */
static void mk_server(const char *name, const char *san)
{
    X509_free(mk_cert(name, name, san, 30, USE_SERVER, NULL, NULL, NULL));
}

/* The hex SHA-256 of test-dir file <name>.crt's first certificate. */
static void fp_of(const char *name, char *hex)
{
    char path[H_PATH];

    harness_path(path, sizeof(path), name);
    strncat(path, ".crt", sizeof(path) - strlen(path) - 1);
    ck_assert_int_eq(harness_cert_sha256(path, hex), 0);
}

/* Test-dir path of <name><ext>. */
static void path_of(char *out, size_t cap, const char *name, const char *ext)
{
    char p[H_PATH];

    harness_path(p, sizeof(p), name);
    ck_assert_int_lt(snprintf(out, cap, "%s%s", p, ext), (int)cap);
}

/* ------------------------------------------------------------ client helpers */

/* Fingerprint of the certificate moat serves for server name sni (NULL: "localhost", "":
 * none). Returns 0, or -1 when the handshake failed. */
static int served_fp(const struct h_moat *m, const char *sni, char *hex)
{
    struct h_tls_opts o = {0};
    struct h_conn c;
    int rc;

    o.sni = sni;
    rc = harness_conn_open_tls(&c, m->port, &o);
    if (rc == 0)
        rc = harness_conn_peer_sha256(&c, hex);
    harness_conn_close(&c);
    return rc;
}

/* Waits (10 s) until new handshakes get the certificate with fingerprint want. */
static int wait_served(const struct h_moat *m, const char *want)
{
    char got[65];
    uint64_t end = harness_now_ms() + 10000;

    while (harness_now_ms() < end) {
        if (served_fp(m, NULL, got) == 0 && strcmp(got, want) == 0)
            return 1;
        harness_sleep_ms(50);
    }
    return 0;
}

/* One GET / on a new connection with options o: the status, 0 when the handshake or the
 * exchange failed. The connection's session goes to *sess when sess is not NULL (caller
 * frees with SSL_SESSION_free), and whether it was resumed to *reused. */
static int get_with(const struct h_moat *m, const struct h_tls_opts *o, SSL_SESSION **sess,
                    int *reused)
{
    struct h_read_opts ro = {0};
    struct h_resp r;
    struct h_conn c;
    int status = 0;

    memset(&r, 0, sizeof(r));
    if (harness_conn_open_tls(&c, m->port, o) != 0)
        return 0;
    ro.timeout_ms = 5000;
    if (harness_conn_send_str(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n"
                                  "X-Client-Subject: CN=forged\r\n\r\n") == 0 &&
        harness_read_response(&c, &r, &ro) == 0)
        status = r.status;
    if (reused != NULL)
        *reused = SSL_session_reused(c.ssl);
    if (sess != NULL)
        *sess = SSL_get1_session(c.ssl);
    /* A clean close: OpenSSL marks the session of a connection freed without
     * close_notify as not resumable. */
    if (status != 0)
        (void)SSL_shutdown(c.ssl);
    harness_resp_free(&r);
    harness_conn_close(&c);
    return status;
}

/* Starts moat with its own --cert/--key and extra args/env; fails the test when it does not
 * start. */
static void start(struct h_moat *m, const char *upstream, const char *cert, const char *key,
                  const char *const *args, const char *const *env)
{
    const char *av[32];
    struct h_moat_opts o = {0};
    size_t n = 0, i;

    av[n++] = "--cert";
    av[n++] = cert;
    av[n++] = "--key";
    av[n++] = key;
    for (i = 0; args != NULL && args[i] != NULL && n < 30; i++)
        av[n++] = args[i];
    av[n] = NULL;
    o.upstream = upstream;
    o.no_cert = 1;
    o.args = av;
    o.env = env;
    ck_assert_msg(harness_moat_start(m, &o) == 0, "moat did not start");
}

/* A keep-alive request on an open connection; returns the status (0 on failure). */
static int again(struct h_conn *c)
{
    struct h_resp r;
    int status;

    h_exchange(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
    status = r.status;
    harness_resp_free(&r);
    return status;
}

/* ------------------------------------------------------------ reload */

/* Makes generation dir/..<gen>/tls.{crt,key} from test-dir pair <src> (cert) and <keysrc>
 * (key), for the Kubernetes Secret layout. */
static void k8s_generation(const char *gen, const char *src, const char *keysrc)
{
    char d[H_PATH], from[H_PATH], to[H_PATH];
    char *data;
    size_t len;

    snprintf(d, sizeof(d), "%s/secret/..%s", harness_dir(), gen);
    ck_assert_int_eq(mkdir(d, 0755), 0);
    ck_assert_int_eq(harness_give(d), 0);
    path_of(from, sizeof(from), src, ".crt");
    data = harness_read_file(from, &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_int_lt(snprintf(to, sizeof(to), "%s/tls.crt", d), (int)sizeof(to));
    ck_assert_int_eq(harness_write_file(to, data, len, 0644), 0);
    free(data);
    path_of(from, sizeof(from), keysrc, ".key");
    data = harness_read_file(from, &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_int_lt(snprintf(to, sizeof(to), "%s/tls.key", d), (int)sizeof(to));
    ck_assert_int_eq(harness_write_file(to, data, len, 0600), 0);
    free(data);
}

/* Points secret/..data at generation gen atomically (symlink + rename, as the kubelet does). */
static void k8s_swap(const char *gen)
{
    char tmp[H_PATH], data[H_PATH], target[H_PATH];

    snprintf(tmp, sizeof(tmp), "%s/secret/..data_tmp", harness_dir());
    snprintf(data, sizeof(data), "%s/secret/..data", harness_dir());
    snprintf(target, sizeof(target), "..%s", gen);
    ck_assert_int_eq(symlink(target, tmp), 0);
    ck_assert_int_eq(rename(tmp, data), 0);
}

/* The Kubernetes Secret layout, rotated under a live keep-alive connection: new handshakes
 * get the new certificate, the old connection goes on; a broken pair is refused (event and
 * metric) and the good one stays in service. */
START_TEST(test_reload_k8s_swap)
{
    static const char *const env[] = {"MOAT_TLS_WATCH_INTERVAL=100ms", NULL};
    struct h_upstream *up = h_ok_upstream();
    char dir[H_PATH], cert[H_PATH], key[H_PATH];
    char fp_a[65], fp_b[65], fp_c[65], got[65];
    char series[H_PATH + 80];
    struct h_moat m;
    struct h_conn c;

    mk_server("a", "DNS:localhost");
    mk_server("b", "DNS:localhost");
    mk_server("c", "DNS:localhost");
    fp_of("a", fp_a);
    fp_of("b", fp_b);
    fp_of("c", fp_c);
    snprintf(dir, sizeof(dir), "%s/secret", harness_dir());
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(harness_give(dir), 0);
    k8s_generation("2026_a", "a", "a");
    k8s_swap("2026_a");
    ck_assert_int_lt(snprintf(cert, sizeof(cert), "%s/tls.crt", dir), (int)sizeof(cert));
    ck_assert_int_lt(snprintf(key, sizeof(key), "%s/tls.key", dir), (int)sizeof(key));
    ck_assert_int_eq(symlink("..data/tls.crt", cert), 0);
    ck_assert_int_eq(symlink("..data/tls.key", key), 0);

    start(&m, harness_upstream_url(up), cert, key, NULL, env);
    h_open(&c, &m);
    ck_assert_int_eq(again(&c), 200);
    ck_assert_int_eq(harness_conn_peer_sha256(&c, got), 0);
    ck_assert_str_eq(got, fp_a);
    snprintf(series, sizeof(series), "moat_tls_certificate_expiry_timestamp_seconds{name=\"%s\"}",
             cert);
    ck_assert(h_metric(&m, series) > (double)time(NULL));

    /* rotate: new handshakes see b, the established connection keeps working */
    k8s_generation("2026_b", "b", "b");
    k8s_swap("2026_b");
    ck_assert_msg(wait_served(&m, fp_b), "the new certificate was not served");
    ck_assert(harness_file_wait(m.log, "\"event\":\"tls_reloaded\"", 1, 5000));
    ck_assert_int_eq(again(&c), 200);
    ck_assert_int_eq(h_metric(&m, "moat_tls_reload_total{result=\"success\"}"), 1);
    ck_assert_int_eq(h_metric(&m, "moat_tls_reload_total{result=\"failure\"}"), 0);

    /* a broken generation (c's certificate with b's key) is refused; b stays */
    k8s_generation("2026_c", "c", "b");
    k8s_swap("2026_c");
    ck_assert(harness_file_wait(m.log, "\"event\":\"tls_reload_failed\"", 1, 10000));
    ck_assert(harness_file_wait(m.log, "does not match the certificate", 1, 1000));
    ck_assert_int_eq(h_metric(&m, "moat_tls_reload_total{result=\"failure\"}"), 1);
    ck_assert_int_eq(served_fp(&m, NULL, got), 0);
    ck_assert_str_eq(got, fp_b);
    ck_assert_int_eq(again(&c), 200);
    ck_assert_int_eq(harness_conn_peer_sha256(&c, got), 0);
    ck_assert_str_eq(got, fp_a); /* still the connection's original session */
    (void)fp_c;

    /* fixed: c with its own key is picked up */
    k8s_generation("2026_d", "c", "c");
    k8s_swap("2026_d");
    ck_assert_msg(wait_served(&m, fp_c), "the repaired certificate was not served");
    ck_assert_int_eq(h_metric(&m, "moat_tls_reload_total{result=\"success\"}"), 2);
    harness_conn_close(&c);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* SIGHUP with polling off: files replaced in place are loaded on the signal only. */
START_TEST(test_reload_sighup)
{
    static const char *const env[] = {"MOAT_TLS_WATCH_INTERVAL=0", NULL};
    struct h_upstream *up = h_ok_upstream();
    char cert[H_PATH], key[H_PATH], fp_a[65], fp_b[65], got[65];
    char *data;
    size_t len;
    struct h_moat m;
    struct h_conn c;

    mk_server("a", "DNS:localhost");
    mk_server("b", "DNS:localhost");
    fp_of("a", fp_a);
    fp_of("b", fp_b);
    path_of(cert, sizeof(cert), "a", ".crt");
    path_of(key, sizeof(key), "a", ".key");
    start(&m, harness_upstream_url(up), cert, key, NULL, env);
    h_open(&c, &m);
    ck_assert_int_eq(again(&c), 200);

    /* overwrite a's files with b's; nothing happens until SIGHUP */
    path_of(got, sizeof(got), "b", ".crt");
    data = harness_read_file(got, &len);
    ck_assert_int_eq(harness_write_file(cert, data, len, 0644), 0);
    free(data);
    path_of(got, sizeof(got), "b", ".key");
    data = harness_read_file(got, &len);
    ck_assert_int_eq(harness_write_file(key, data, len, 0600), 0);
    free(data);
    harness_sleep_ms(300);
    ck_assert_int_eq(served_fp(&m, NULL, got), 0);
    ck_assert_str_eq(got, fp_a);
    ck_assert_int_eq(kill(m.pid, SIGHUP), 0);
    ck_assert_msg(wait_served(&m, fp_b), "SIGHUP did not load the new certificate");
    ck_assert_int_eq(again(&c), 200);
    ck_assert_int_eq(h_metric(&m, "moat_tls_reload_total{result=\"success\"}"), 1);

    /* a key file that no longer parses: refused on SIGHUP, b stays */
    ck_assert_int_eq(harness_write_file(key, "garbage\n", 8, 0600), 0);
    ck_assert_int_eq(kill(m.pid, SIGHUP), 0);
    ck_assert(harness_file_wait(m.log, "\"event\":\"tls_reload_failed\"", 1, 10000));
    ck_assert_int_eq(h_metric(&m, "moat_tls_reload_total{result=\"failure\"}"), 1);
    ck_assert_int_eq(served_fp(&m, NULL, got), 0);
    ck_assert_str_eq(got, fp_b);
    ck_assert_int_eq(again(&c), 200);
    harness_conn_close(&c);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* ------------------------------------------------------------ SNI and expiry */

struct sni_case {
    const char *sni;  /* name sent; "" none */
    const char *want; /* pair expected: "def", "a" or "b" */
};

/* Hosts the plain-HTTP listener must redirect (names of any served pair) or refuse. */
static const struct {
    const char *host;
    int status;
} redirect_cases[] = {
    {"localhost", 308},   {"a.example", 308},  {"b.example", 308},
    {"y.b.example", 308}, {"other.test", 421},
};

START_TEST(test_sni)
{
    static const struct sni_case cases[] = {
        {"", "def"},           {"localhost", "def"},           {"a.example", "a"},
        {"A.EXAMPLE", "a"},    {"x.wild.example", "a"},        {"b.example", "b"},
        {"y.b.example", "b"},  {"deep.x.wild.example", "def"}, {"wild.example", "def"},
        {"other.test", "def"},
    };
    struct h_upstream *up = h_ok_upstream();
    char cert[H_PATH], key[H_PATH], extra[4 * H_PATH + 8];
    char a_crt[H_PATH], a_key[H_PATH], b_crt[H_PATH], b_key[H_PATH];
    char want[65], got[65], series[H_PATH + 80];
    const char *args[] = {"--log-level", "info", NULL};
    const char *env[] = {extra, NULL};
    struct h_moat m;
    size_t i;

    mk_server("def", "DNS:localhost");
    mk_server("a", "DNS:a.example,DNS:*.wild.example");
    /* b expires in 5 days: within the default 14-day warning */
    X509_free(mk_cert("b", "b", "DNS:b.example,DNS:*.b.example", 5, USE_SERVER, NULL, NULL, NULL));
    path_of(cert, sizeof(cert), "def", ".crt");
    path_of(key, sizeof(key), "def", ".key");
    path_of(a_crt, sizeof(a_crt), "a", ".crt");
    path_of(a_key, sizeof(a_key), "a", ".key");
    path_of(b_crt, sizeof(b_crt), "b", ".crt");
    path_of(b_key, sizeof(b_key), "b", ".key");
    ck_assert_int_lt(snprintf(extra, sizeof(extra), "MOAT_TLS_EXTRA_CERTS= %s:%s , %s:%s", a_crt,
                              a_key, b_crt, b_key),
                     (int)sizeof(extra));
    start(&m, harness_upstream_url(up), cert, key, args, env);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fp_of(cases[i].want, want);
        ck_assert_msg(served_fp(&m, cases[i].sni, got) == 0, "handshake for \"%s\"", cases[i].sni);
        ck_assert_msg(strcmp(got, want) == 0, "SNI \"%s\": expected %s's certificate", cases[i].sni,
                      cases[i].want);
    }
    /* one expiry gauge per served certificate; the warning names b only */
    snprintf(series, sizeof(series), "moat_tls_certificate_expiry_timestamp_seconds{name=\"%s\"}",
             b_crt);
    ck_assert(h_metric(&m, series) > (double)time(NULL));
    ck_assert(h_metric(&m, series) < (double)time(NULL) + 6 * DAY);
    snprintf(series, sizeof(series), "moat_tls_certificate_expiry_timestamp_seconds{name=\"%s\"}",
             a_crt);
    ck_assert(h_metric(&m, series) > (double)time(NULL) + 20 * DAY);
    ck_assert(harness_file_wait(m.log, "\"event\":\"tls_certificate_expiring\"", 1, 1000));
    {
        char *log = harness_moat_log(&m);

        ck_assert_ptr_nonnull(log);
        ck_assert_uint_eq(harness_count(log, "\"event\":\"tls_certificate_expiring\""), 1);
        ck_assert(strstr(log, "\"days_left\":5") != NULL || strstr(log, "\"days_left\":4"));
        free(log);
    }
    /* The plain-HTTP listener redirects for the names of every served pair. */
    for (i = 0; i < sizeof(redirect_cases) / sizeof(redirect_cases[0]); i++) {
        struct h_conn c;
        struct h_resp r;
        char raw[256], loc[H_PATH];

        snprintf(raw, sizeof(raw), "GET /x HTTP/1.1\r\nHost: %s\r\n\r\n", redirect_cases[i].host);
        ck_assert_int_eq(harness_conn_open_plain(&c, m.http_port), 0);
        ck_assert_int_eq(harness_conn_send_str(&c, raw), 0);
        memset(&r, 0, sizeof(r));
        ck_assert_int_eq(harness_read_response(&c, &r, NULL), 0);
        ck_assert_msg(r.status == redirect_cases[i].status, "Host %s: %d", redirect_cases[i].host,
                      r.status);
        if (r.status == 308) {
            snprintf(loc, sizeof(loc), "https://%s:%d/x", redirect_cases[i].host, m.port);
            ck_assert_str_eq(harness_resp_header(&r, "Location"), loc);
        }
        harness_resp_free(&r);
        harness_conn_close(&c);
    }
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* Startup refuses an extra pair whose key does not match, naming the file. */
START_TEST(test_sni_bad_pair)
{
    char cert[H_PATH], key[H_PATH], extra[3 * H_PATH];
    char a_crt[H_PATH], b_key[H_PATH];
    const char *env[] = {extra, NULL};
    struct h_moat_opts o = {0};
    const char *args[5];
    struct h_moat m;
    char *log;

    mk_server("def", "DNS:localhost");
    mk_server("a", "DNS:a.example");
    mk_server("b", "DNS:b.example");
    path_of(cert, sizeof(cert), "def", ".crt");
    path_of(key, sizeof(key), "def", ".key");
    path_of(a_crt, sizeof(a_crt), "a", ".crt");
    path_of(b_key, sizeof(b_key), "b", ".key");
    snprintf(extra, sizeof(extra), "MOAT_TLS_EXTRA_CERTS=%s:%s", a_crt, b_key);
    args[0] = "--cert";
    args[1] = cert;
    args[2] = "--key";
    args[3] = key;
    args[4] = NULL;
    o.no_cert = 1;
    o.args = args;
    o.env = env;
    o.upstream = "http://127.0.0.1:9";
    ck_assert_int_eq(harness_moat_start(&m, &o), -1);
    ck_assert_int_eq(m.exit_code, 2);
    log = harness_moat_log(&m);
    ck_assert_ptr_nonnull(log);
    ck_assert(strstr(log, "tls_material_invalid") != NULL && strstr(log, b_key) != NULL);
    free(log);
}
END_TEST

/* ------------------------------------------------------------ resumption */

START_TEST(test_resumption)
{
    static const int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
    struct h_upstream *up = h_ok_upstream();
    struct h_tls_opts o = {0};
    SSL_SESSION *sess = NULL;
    struct h_moat m;
    int reused = -1;
    size_t i;

    h_start_moat(&m, harness_upstream_url(up), NULL);
    for (i = 0; i < 2; i++) {
        memset(&o, 0, sizeof(o));
        o.min_version = o.max_version = versions[i];
        ck_assert_int_eq(get_with(&m, &o, &sess, &reused), 200);
        ck_assert_int_eq(reused, 0);
        ck_assert_ptr_nonnull(sess);
        ck_assert_msg(SSL_SESSION_is_resumable(sess), "no ticket received (version %x)",
                      versions[i]);
        o.session = sess;
        ck_assert_int_eq(get_with(&m, &o, NULL, &reused), 200);
        ck_assert_msg(reused == 1, "session not resumed (version %x)", versions[i]);
        SSL_SESSION_free(sess);
        sess = NULL;
    }
    ck_assert_int_eq(h_metric(&m, "moat_tls_resumptions_total"), 2);
    ck_assert_int_eq(h_metric(&m, "moat_tls_handshakes_total{version=\"1.3\"}"), 2);
    ck_assert_int_eq(h_metric(&m, "moat_tls_handshakes_total{version=\"1.2\"}"), 2);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* openssl s_client -sess_out, then -sess_in: "Reused". */
START_TEST(test_resumption_s_client)
{
    struct h_upstream *up = h_ok_upstream();
    char connect[64], sess[H_PATH];
    char *out = NULL;
    struct h_moat m;
    const char *first[] = {"/usr/bin/openssl", "s_client",  "-tls1_2",   "-connect", connect,
                           "-servername",      "localhost", "-sess_out", sess,       NULL};
    const char *second[] = {"/usr/bin/openssl", "s_client",  "-tls1_2",  "-connect", connect,
                            "-servername",      "localhost", "-sess_in", sess,       NULL};

    h_start_moat(&m, harness_upstream_url(up), NULL);
    snprintf(connect, sizeof(connect), "127.0.0.1:%d", m.port);
    harness_path(sess, sizeof(sess), "s_client.sess");
    ck_assert_int_eq(harness_run(first, NULL, 20000, &out, NULL), 0);
    ck_assert_msg(strstr(out, "New, TLSv1.2") != NULL, "%s", out);
    free(out);
    out = NULL;
    ck_assert_int_eq(harness_run(second, NULL, 20000, &out, NULL), 0);
    ck_assert_msg(strstr(out, "Reused, TLSv1.2") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

START_TEST(test_resumption_off)
{
    static const char *const env[] = {"MOAT_TLS_SESSION_TICKETS=off", NULL};
    struct h_upstream *up = h_ok_upstream();
    struct h_tls_opts o = {0};
    SSL_SESSION *sess = NULL;
    struct h_moat m;
    int reused = -1;

    h_start_moat(&m, harness_upstream_url(up), env);
    o.min_version = o.max_version = TLS1_2_VERSION;
    ck_assert_int_eq(get_with(&m, &o, &sess, &reused), 200);
    ck_assert_ptr_nonnull(sess);
    o.session = sess;
    ck_assert_int_eq(get_with(&m, &o, NULL, &reused), 200);
    ck_assert_int_eq(reused, 0);
    ck_assert_int_eq(h_metric(&m, "moat_tls_resumptions_total"), 0);
    SSL_SESSION_free(sess);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* ------------------------------------------------------------ profiles */

struct profile_case {
    const char *env[3]; /* settings */
    int tls12;          /* a TLS 1.2-only client succeeds */
    int tls13;          /* a TLS 1.3-only client succeeds */
};

static const struct profile_case profile_cases[] = {
    {{NULL}, 1, 1},
    {{"MOAT_TLS_PROFILE=intermediate", NULL}, 1, 1},
    {{"MOAT_TLS_PROFILE=modern", NULL}, 0, 1},
    /* a custom priority wins over the profile */
    {{"MOAT_TLS_PROFILE=modern",
      "MOAT_TLS_PRIORITY=SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:"
      "-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA",
      NULL},
     1,
     0},
};

START_TEST(test_profiles)
{
    const struct profile_case *c = &profile_cases[_i];
    struct h_upstream *up = h_ok_upstream();
    struct h_tls_opts o = {0};
    struct h_moat m;

    h_start_moat(&m, harness_upstream_url(up), c->env);
    o.min_version = o.max_version = TLS1_2_VERSION;
    ck_assert_int_eq(get_with(&m, &o, NULL, NULL), c->tls12 ? 200 : 0);
    o.min_version = o.max_version = TLS1_1_VERSION;
    ck_assert_int_eq(get_with(&m, &o, NULL, NULL), 0);
    o.min_version = o.max_version = TLS1_3_VERSION;
    ck_assert_int_eq(get_with(&m, &o, NULL, NULL), c->tls13 ? 200 : 0);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* Bad TLS settings are refused before anything starts, naming the key. */
struct bad_case {
    const char *env;
    const char *want;
};

static const struct bad_case bad_cases[] = {
    {"MOAT_TLS_PRIORITY=NORMAL:+NO-SUCH-THING", "tls.priority"},
    {"MOAT_TLS_PROFILE=old", "tls.profile"},
    {"MOAT_TLS_CLIENT_AUTH=required", "tls.client_ca"},
    {"MOAT_TLS_EXTRA_CERTS=/a.crt", "tls.extra_certs"},
};

START_TEST(test_bad_settings)
{
    const struct bad_case *c = &bad_cases[_i];
    const char *env[] = {c->env, NULL};
    const char *argv[] = {harness_moat_bin(),
                          "--check-config",
                          "--cert",
                          harness_cert(),
                          "--key",
                          harness_key(),
                          NULL};
    char *err = NULL;

    ck_assert_int_eq(harness_run(argv, env, 20000, NULL, &err), 1);
    ck_assert_msg(err != NULL && strstr(err, c->want) != NULL, "%s", err != NULL ? err : "");
    free(err);
}
END_TEST

/* --check-config warns about TLS settings that are valid but probably not meant. */
START_TEST(test_lint)
{
    const char *env[] = {"MOAT_TLS_PROFILE=modern", "MOAT_TLS_PRIORITY=NORMAL",
                         "MOAT_TLS_CLIENT_CA=/nonexistent/ca.pem", NULL};
    const char *argv[] = {harness_moat_bin(),
                          "--check-config",
                          "--cert",
                          harness_cert(),
                          "--key",
                          harness_key(),
                          NULL};
    char *err = NULL;

    ck_assert_int_eq(harness_run(argv, env, 20000, NULL, &err), 0);
    ck_assert_msg(err != NULL && strstr(err, "tls_profile_ignored") != NULL &&
                      strstr(err, "tls_client_ca_unused") != NULL,
                  "%s", err != NULL ? err : "");
    free(err);
}
END_TEST

/* ------------------------------------------------------------ mTLS */

struct mtls_case {
    const char *mode;    /* tls.client_auth */
    const char *client;  /* certificate presented: NULL none, "alice" (CA-issued), "mallory" */
    int status;          /* expected status, 0 = the handshake/exchange fails */
    const char *subject; /* what the app receives in X-Client-Subject, NULL: no such header */
};

static const struct mtls_case mtls_cases[] = {
    {"required", "alice", 200, "CN=alice,O=Acme"},
    {"required", NULL, 0, NULL},
    {"required", "mallory", 0, NULL},
    {"required", "server", 0, NULL}, /* issued by the CA, but not for client auth */
    {"optional", "alice", 200, "CN=alice,O=Acme"},
    {"optional", NULL, 200, NULL},
    {"optional", "mallory", 0, NULL},
    {"off", "alice", 200, NULL},
    {"off", NULL, 200, NULL},
};

START_TEST(test_mtls)
{
    const struct mtls_case *c = &mtls_cases[_i];
    struct h_upstream *up = h_ok_upstream();
    char ca_env[H_PATH + 32], mode_env[64], ccert[H_PATH], ckey[H_PATH], ca_path[H_PATH];
    const char *env[] = {ca_env, mode_env, NULL};
    struct h_tls_opts o = {0};
    SSL_SESSION *sess = NULL;
    EVP_PKEY *ca_key = NULL;
    X509 *ca;
    struct h_moat m;
    char *head;
    int reused = 0;
    int v;

    ca = mk_cert("ca", "Test Client CA", NULL, 30, USE_CA, NULL, NULL, &ca_key);
    X509_free(mk_cert("alice", "alice", NULL, 30, USE_CLIENT, ca, ca_key, NULL));
    X509_free(mk_cert("server", "server", "DNS:server.test", 30, USE_SERVER, ca, ca_key, NULL));
    X509_free(mk_cert("mallory", "alice", NULL, 30, USE_CLIENT, NULL, NULL, NULL));
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    path_of(ca_path, sizeof(ca_path), "ca", ".crt");
    snprintf(ca_env, sizeof(ca_env), "MOAT_TLS_CLIENT_CA=%s", ca_path);
    snprintf(mode_env, sizeof(mode_env), "MOAT_TLS_CLIENT_AUTH=%s", c->mode);
    h_start_moat(&m, harness_upstream_url(up), env);
    for (v = 0; v < 2; v++) {
        memset(&o, 0, sizeof(o));
        o.min_version = o.max_version = v == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
        if (c->client != NULL) {
            path_of(ccert, sizeof(ccert), c->client, ".crt");
            path_of(ckey, sizeof(ckey), c->client, ".key");
            o.client_cert = ccert;
            o.client_key = ckey;
        }
        ck_assert_msg(get_with(&m, &o, &sess, NULL) == c->status, "%s/%s (TLS %s)", c->mode,
                      c->client != NULL ? c->client : "none", v == 0 ? "1.3" : "1.2");
        if (c->status == 200) {
            size_t k = harness_upstream_requests(up) - 1;

            head = h_upstream_head(up, (unsigned)k);
            ck_assert_uint_eq(harness_head_header(head, "X-Client-Subject", NULL, 0),
                              c->subject != NULL ? 1 : 0);
            ck_assert_msg(strstr(head, "forged") == NULL, "the client's copy went through");
            if (c->subject != NULL)
                ck_assert_msg(strstr(head, c->subject) != NULL, "%s", head);
            free(head);
            /* a resumed session still carries the verified subject */
            o.session = sess;
            ck_assert_int_eq(get_with(&m, &o, NULL, &reused), 200);
            ck_assert_int_eq(reused, 1);
            head = h_upstream_head(up, (unsigned)k + 1);
            ck_assert_uint_eq(harness_head_header(head, "X-Client-Subject", NULL, 0),
                              c->subject != NULL ? 1 : 0);
            free(head);
        }
        SSL_SESSION_free(sess);
        sess = NULL;
    }
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* mTLS (required) over TLS 1.3 with KeyUpdates from the client, each sent in one flight with
 * a request: every answer comes at once and carries the verified subject; the handshake
 * hook, which now sees every handshake message, counts one handshake and no failure. */
START_TEST(test_mtls_key_update)
{
    struct h_upstream *up = h_ok_upstream();
    char ca_env[H_PATH + 32], ccert[H_PATH], ckey[H_PATH], ca_path[H_PATH];
    const char *env[] = {ca_env, "MOAT_TLS_CLIENT_AUTH=required", NULL};
    struct h_tls_opts o = {0};
    struct h_read_opts ro = {0};
    EVP_PKEY *ca_key = NULL;
    struct h_resp r;
    struct h_conn c;
    struct h_moat m;
    uint64_t t0;
    char *head;
    X509 *ca;
    int i;

    ca = mk_cert("ca", "Test Client CA", NULL, 30, USE_CA, NULL, NULL, &ca_key);
    X509_free(mk_cert("alice", "alice", NULL, 30, USE_CLIENT, ca, ca_key, NULL));
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    path_of(ca_path, sizeof(ca_path), "ca", ".crt");
    snprintf(ca_env, sizeof(ca_env), "MOAT_TLS_CLIENT_CA=%s", ca_path);
    h_start_moat(&m, harness_upstream_url(up), env);
    path_of(ccert, sizeof(ccert), "alice", ".crt");
    path_of(ckey, sizeof(ckey), "alice", ".key");
    o.client_cert = ccert;
    o.client_key = ckey;
    o.min_version = o.max_version = TLS1_3_VERSION;
    ck_assert_msg(harness_conn_open_tls(&c, m.port, &o) == 0, "open: %s", c.error);
    for (i = 0; i < 4; i++) {
        t0 = harness_now_ms();
        ck_assert_int_eq(SSL_key_update(c.ssl, SSL_KEY_UPDATE_REQUESTED), 1);
        ck_assert_int_eq(harness_conn_send_str(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0);
        ro.timeout_ms = 5000;
        ck_assert_msg(harness_read_response(&c, &r, &ro) == 0 && r.status == 200,
                      "request %d after a KeyUpdate: %s (status %d)", i, r.error, r.status);
        harness_resp_free(&r);
        ck_assert_msg(harness_now_ms() - t0 < 2000, "request %d took %llu ms", i,
                      (unsigned long long)(harness_now_ms() - t0));
        head = h_upstream_head(up, (unsigned)i);
        ck_assert_msg(strstr(head, "CN=alice,O=Acme") != NULL, "%s", head);
        free(head);
        harness_sleep_ms(300); /* GnuTLS allows 8 KeyUpdates a second */
    }
    (void)SSL_shutdown(c.ssl);
    harness_conn_close(&c);
    harness_sleep_ms(200);
    ck_assert_int_eq(h_metric(&m, "moat_tls_handshakes_total{version=\"1.3\"}"), 1);
    ck_assert_int_eq(h_metric(&m, "moat_tls_handshake_failures_total"), 0);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

/* ------------------------------------------------------------ testssl.sh */

/* A testssl.sh scan of moat with its defaults: protocols (-p), cipher categories (-s), forward
 * secrecy (-f), server preferences (-P), every vulnerability check including renegotiation
 * (-U) and each cipher per protocol (-E). Left out to keep it near 30 s: server defaults (-S:
 * the test certificate), HTTP headers (-h: tested in test_headers) and client simulation (-c).
 * tests/integration/testssl_check.py judges the JSON (see there for what counts). */
START_TEST(test_testssl)
{
    struct h_upstream *up = h_ok_upstream();
    char url[64], json[H_PATH], script[H_PATH];
    char *out = NULL, *err = NULL;
    struct h_moat m;
    int rc, attempt;
    const char *scan[] = {"/usr/bin/testssl",
                          "-p",
                          "-s",
                          "-f",
                          "-P",
                          "-U",
                          "-E",
                          "--quiet",
                          "--color",
                          "0",
                          "--nodns",
                          "none",
                          "--warnings",
                          "off",
                          "-oj",
                          json,
                          url,
                          NULL};
    const char *check[] = {"/usr/bin/python3", script, json, NULL};

    if (access("/usr/bin/testssl", X_OK) != 0)
        ck_abort_msg("testssl (package testssl.sh) is not installed");
    h_start_moat(&m, harness_upstream_url(up), NULL);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/", m.port);
    harness_path(json, sizeof(json), "testssl.json");
    snprintf(script, sizeof(script), "%s/tests/integration/testssl_check.py", harness_source_dir());
    /* testssl's own connections may fail on a loaded machine (exit 3 of the checker: only
     * "connect problem" warnings): one more scan then, never a pass without a clean one. */
    for (attempt = 0; attempt < 2; attempt++) {
        unlink(json); /* testssl refuses to overwrite a report */
        rc = harness_run(scan, NULL, 240000, &out, &err);
        ck_assert_msg(rc >= 0, "testssl timed out");
        free(out);
        free(err);
        out = err = NULL;
        rc = harness_run(check, NULL, 20000, &out, &err);
        if (rc != 3)
            break;
        harness_log("testssl scan inconclusive, scanning again:\n%s", out != NULL ? out : "");
        free(out);
        free(err);
        out = err = NULL;
    }
    ck_assert_msg(rc == 0, "testssl findings:\n%s%s", out != NULL ? out : "",
                  err != NULL ? err : "");
    free(out);
    free(err);
    ck_assert_int_eq(harness_moat_stop(&m, 10000), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls");
    TCase *reload = harness_tcase("reload", 60);
    TCase *sni = harness_tcase("sni", 60);
    TCase *resume = harness_tcase("resumption", 60);
    TCase *prof = harness_tcase("profiles", 60);
    TCase *mtls = harness_tcase("mtls", 60);
    TCase *scan = harness_tcase("testssl", 300);
    Suite *const suites[] = {s, NULL};

    tcase_add_test(reload, test_reload_k8s_swap);
    tcase_add_test(reload, test_reload_sighup);
    tcase_add_test(sni, test_sni);
    tcase_add_test(sni, test_sni_bad_pair);
    tcase_add_test(resume, test_resumption);
    tcase_add_test(resume, test_resumption_s_client);
    tcase_add_test(resume, test_resumption_off);
    tcase_add_loop_test(prof, test_profiles, 0, sizeof(profile_cases) / sizeof(profile_cases[0]));
    tcase_add_loop_test(prof, test_bad_settings, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
    tcase_add_test(prof, test_lint);
    tcase_add_loop_test(mtls, test_mtls, 0, sizeof(mtls_cases) / sizeof(mtls_cases[0]));
    tcase_add_test(mtls, test_mtls_key_update);
    tcase_add_test(scan, test_testssl);
    suite_add_tcase(s, reload);
    suite_add_tcase(s, sni);
    suite_add_tcase(s, resume);
    suite_add_tcase(s, prof);
    suite_add_tcase(s, mtls);
    suite_add_tcase(s, scan);
    return harness_run_suites(suites);
}
