/* test_tlsstore.c - unit tests for the GnuTLS credential store: real handshakes against an OpenSSL
 * client, reloads. */
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "moat/tlsstore.h"
#include "test_pki_util.h"

#define DAY 86400L
#define PRIO                                                                                       \
    "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-" \
    "POLY1305:"                                                                                    \
    "+AES-128-GCM:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-GROUP-ALL:+GROUP-X25519:+GROUP-" \
    "SECP256R1:"                                                                                   \
    "+GROUP-SECP384R1:%SERVER_PRECEDENCE"

static X509 *cert_make_san(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                           int ca, const char *san)
{
    static long serial = 1;
    time_t now = time(NULL);
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509V3_CTX ctx;

    MUST(x != NULL && name != NULL);
    MUST(X509_set_version(x, X509_VERSION_3) == 1);
    MUST(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) == 1);
    MUST(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) == 1);
    MUST(X509_set_subject_name(x, name) == 1);
    MUST(X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) == 1);
    MUST(ASN1_TIME_set(X509_getm_notBefore(x), now - DAY) != NULL);
    MUST(ASN1_TIME_set(X509_getm_notAfter(x), now + 30 * DAY) != NULL);
    MUST(X509_set_pubkey(x, key) == 1);
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    ext_add(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    ext_add(x, &ctx, NID_key_usage,
            ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
    if (!ca)
        ext_add(x, &ctx, NID_subject_alt_name, san);
    MUST(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
    X509_NAME_free(name);
    return x;
}

static X509 *cert_make(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int ca)
{
    return cert_make_san(key, cn, issuer, issuer_key, ca, "DNS:localhost");
}

/* name.pem (self-signed, subjectAltName san) and name.key. */
static void pair_put_san(const char *name, EVP_PKEY *k, const char *san)
{
    char fn[64];
    X509 *x = cert_make_san(k, name, NULL, NULL, 0, san);

    snprintf(fn, sizeof(fn), "%s.key", name);
    key_put(fn, k);
    snprintf(fn, sizeof(fn), "%s.pem", name);
    certs_put(fn, x, NULL, NULL);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void pair_put(const char *name, EVP_PKEY *k)
{
    pair_put_san(name, k, "DNS:localhost");
}

static void material_make(void)
{
    EVP_PKEY *ca_k, *leaf_k, *k;
    X509 *ca, *leaf;
    BIO *b;
    char pass[] = "secret";
    const char *garbage = "not a certificate\n";
    char p[PATH_MAX];

    pair_put("ec", EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
    pair_put("ec2", EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"));
    pair_put("rsa", EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048));
    pair_put_san("sni_a", EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"),
                 "DNS:a.example,DNS:*.wild.example,IP:192.0.2.1");
    pair_put_san("sni_b", EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"),
                 "DNS:B.Example,DNS:x.wild.example");

    ca_k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    leaf_k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    MUST(ca_k != NULL && leaf_k != NULL);
    ca = cert_make(ca_k, "Test CA", NULL, NULL, 1);
    leaf = cert_make(leaf_k, "chain.test", ca, ca_k, 0);
    key_put("chain.key", leaf_k);
    certs_put("chain.pem", leaf, ca, NULL);
    certs_put("unsorted.pem", ca, leaf, NULL);

    k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    MUST(k != NULL);
    b = BIO_new(BIO_s_mem());
    MUST(PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_256_cbc(), NULL, 0, NULL, pass) == 1);
    bio_put("enc.key", b, 0600);

    file_put("garbage.pem", garbage, strlen(garbage), 0600);
    file_put("garbage.key", garbage, strlen(garbage), 0600);
    file_put("empty.pem", "", 0, 0600);
    pathof(p, sizeof(p), "adir");
    MUST(mkdir(p, 0700) == 0);

    EVP_PKEY_free(k);
    EVP_PKEY_free(ca_k);
    EVP_PKEY_free(leaf_k);
    X509_free(ca);
    X509_free(leaf);
}

static void fp_hex(X509 *x, char *out, size_t cap)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0, i;

    MUST(X509_digest(x, EVP_sha256(), md, &len) == 1);
    MUST(cap >= len * 3);
    for (i = 0; i < len; i++)
        snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < len ? ":" : "");
}

/* The SHA-256 fingerprint of the first certificate in a PEM file. */
static void file_fp(const char *name, char *out, size_t cap)
{
    char p[PATH_MAX];
    BIO *b;
    X509 *x;

    pathof(p, sizeof(p), name);
    b = BIO_new_file(p, "r");
    MUST(b != NULL);
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    MUST(x != NULL);
    fp_hex(x, out, cap);
    X509_free(x);
    BIO_free(b);
}

struct server {
    int fd;                                /* server end of the socketpair */
    gnutls_certificate_credentials_t cred; /* uses moat_tlsstore_retrieve */
    int rc;                                /* gnutls_handshake result */
};

static void *server_main(void *arg)
{
    struct server *sv = arg;
    gnutls_session_t s = NULL;
    const char *errpos = NULL;
    int ret;

    sv->rc = -1;
    MUST(gnutls_init(&s, GNUTLS_SERVER) == 0);
    MUST(gnutls_priority_set_direct(s, PRIO, &errpos) == 0);
    MUST(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, sv->cred) == 0);
    gnutls_transport_set_int(s, sv->fd);
    gnutls_handshake_set_timeout(s, 10000);
    do {
        ret = gnutls_handshake(s);
    } while (ret < 0 && gnutls_error_is_fatal(ret) == 0);
    sv->rc = ret;
    if (ret == 0)
        gnutls_bye(s, GNUTLS_SHUT_WR);
    gnutls_deinit(s);
    close(sv->fd);
    return NULL;
}

/* What the client saw. */
struct seen {
    int ok;           /* handshake completed on both ends */
    char fp[128];     /* server leaf fingerprint */
    char version[16]; /* "TLSv1.3" ... */
    int chain_len;    /* certificates the server sent */
};

/* One full handshake: a GnuTLS server (thread) serving from the installed
 * store, an OpenSSL client capped at max_version. */
static void handshake_sni(int max_version, const char *sni, struct seen *out)
{
    struct timeval tv = {10, 0};
    gnutls_certificate_credentials_t cred = NULL;
    struct server sv;
    pthread_t th;
    SSL_CTX *ctx;
    SSL *ssl;
    X509 *peer;
    int fds[2];

    memset(out, 0, sizeof(*out));
    MUST(gnutls_certificate_allocate_credentials(&cred) == 0);
    gnutls_certificate_set_retrieve_function2(cred, moat_tlsstore_retrieve);
    MUST(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    MUST(setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
    MUST(setsockopt(fds[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
    sv.fd = fds[0];
    sv.cred = cred;
    MUST(pthread_create(&th, NULL, server_main, &sv) == 0);

    ctx = SSL_CTX_new(TLS_client_method());
    MUST(ctx != NULL);
    MUST(SSL_CTX_set_max_proto_version(ctx, max_version) == 1);
    ssl = SSL_new(ctx);
    MUST(ssl != NULL);
    MUST(SSL_set_fd(ssl, fds[1]) == 1);
    if (sni != NULL) {
        char name[256]; /* the macro takes a non-const pointer */

        snprintf(name, sizeof(name), "%s", sni);
        MUST(SSL_set_tlsext_host_name(ssl, name) == 1);
    }
    if (SSL_connect(ssl) == 1) {
        peer = SSL_get1_peer_certificate(ssl);
        MUST(peer != NULL);
        fp_hex(peer, out->fp, sizeof(out->fp));
        X509_free(peer);
        snprintf(out->version, sizeof(out->version), "%s", SSL_get_version(ssl));
        out->chain_len = sk_X509_num(SSL_get_peer_cert_chain(ssl));
        out->ok = 1;
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fds[1]);
    MUST(pthread_join(th, NULL) == 0);
    if (sv.rc != 0)
        out->ok = 0;
    gnutls_certificate_free_credentials(cred);
    ERR_clear_error();
}

static void handshake(int max_version, struct seen *out)
{
    handshake_sni(max_version, "localhost", out);
}

static struct moat_tlsstore *store_with(const char *cert, const char *key)
{
    struct moat_tlsstore *st = moat_tlsstore_new();
    char cp[PATH_MAX], kp[PATH_MAX], err[512] = "";

    ck_assert(st != NULL);
    pathof(cp, sizeof(cp), cert);
    pathof(kp, sizeof(kp), key);
    ck_assert_msg(moat_tlsstore_load(st, cp, kp, err, sizeof(err)) == 0, "%s", err);
    return st;
}

struct hs_case {
    const char *cert; /* PEM chain in tmpdir */
    const char *key;  /* PEM key in tmpdir */
    int max_version;  /* client's highest version */
    const char *want; /* negotiated version */
    int chain_len;    /* certificates sent */
};

static const struct hs_case hs_cases[] = {
    {"ec.pem", "ec.key", TLS1_3_VERSION, "TLSv1.3", 1},
    {"ec.pem", "ec.key", TLS1_2_VERSION, "TLSv1.2", 1},
    {"ec2.pem", "ec2.key", TLS1_3_VERSION, "TLSv1.3", 1},
    {"rsa.pem", "rsa.key", TLS1_3_VERSION, "TLSv1.3", 1},
    {"rsa.pem", "rsa.key", TLS1_2_VERSION, "TLSv1.2", 1},
    {"chain.pem", "chain.key", TLS1_3_VERSION, "TLSv1.3", 2},
    {"chain.pem", "chain.key", TLS1_2_VERSION, "TLSv1.2", 2},
};

START_TEST(test_handshake_table)
{
    const struct hs_case *c = &hs_cases[_i];
    struct moat_tlsstore *st = store_with(c->cert, c->key);
    struct seen seen;
    char want_fp[128];

    moat_tlsstore_install(st);
    handshake(c->max_version, &seen);
    ck_assert_msg(seen.ok, "%s: handshake failed", c->cert);
    file_fp(c->cert, want_fp, sizeof(want_fp));
    ck_assert_str_eq(seen.fp, want_fp);
    ck_assert_str_eq(seen.version, c->want);
    ck_assert_int_eq(seen.chain_len, c->chain_len);
    moat_tlsstore_free(st);
}
END_TEST

static void expect_serving(const char *cert)
{
    struct seen seen;
    char want_fp[128];

    handshake(TLS1_3_VERSION, &seen);
    ck_assert_msg(seen.ok, "handshake failed, expected %s", cert);
    file_fp(cert, want_fp, sizeof(want_fp));
    ck_assert_msg(strcmp(seen.fp, want_fp) == 0, "served %s, expected %s", seen.fp, cert);
}

static int load(struct moat_tlsstore *st, const char *cert, const char *key, char *err,
                size_t errlen)
{
    char cp[PATH_MAX], kp[PATH_MAX];

    pathof(cp, sizeof(cp), cert);
    pathof(kp, sizeof(kp), key);
    return moat_tlsstore_load(st, cp, kp, err, errlen);
}

struct bad_case {
    const char *cert; /* PEM chain in tmpdir */
    const char *key;  /* PEM key in tmpdir */
    const char *err;  /* expected substring */
};

static const struct bad_case bad_cases[] = {
    {"ec.pem", "ec2.key", "ec2.key does not match the certificate in"},
    {"rsa.pem", "ec.key", "ec.key does not match the certificate in"},
    {"garbage.pem", "ec.key", "garbage.pem"},
    {"empty.pem", "ec.key", "empty.pem"},
    {"ec.pem", "garbage.key", "cannot load the private key in"},
    {"ec.pem", "enc.key", "encrypted private keys are not supported"},
    {"unsorted.pem", "chain.key", "cannot load the certificate chain in"},
    {"nope.pem", "ec.key", "cannot open certificate file"},
    {"ec.pem", "nope.key", "cannot open key file"},
    {"adir", "ec.key", "is not a regular file"},
    {"ec.pem", "adir", "is not a regular file"},
};

/* A failed load leaves the previous set serving; a failed first load serves nothing. */
START_TEST(test_bad_load_table)
{
    const struct bad_case *c = &bad_cases[_i];
    struct moat_tlsstore *st = moat_tlsstore_new();
    struct seen seen;
    gnutls_pcert_st *pc = NULL;
    gnutls_privkey_t pk = NULL;
    unsigned int n = 0;
    char err[512] = "";

    ck_assert(st != NULL);
    moat_tlsstore_install(st);
    ck_assert_int_eq(load(st, c->cert, c->key, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, c->err) != NULL, "got \"%s\", want \"%s\"", err, c->err);
    ck_assert_int_eq(moat_tlsstore_retrieve(NULL, NULL, 0, NULL, 0, &pc, &n, &pk), -1);
    handshake(TLS1_3_VERSION, &seen);
    ck_assert(!seen.ok);

    ck_assert_msg(load(st, "rsa.pem", "rsa.key", err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(load(st, c->cert, c->key, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, c->err) != NULL, "got \"%s\", want \"%s\"", err, c->err);
    expect_serving("rsa.pem");
    moat_tlsstore_free(st);
}
END_TEST

START_TEST(test_reload)
{
    struct moat_tlsstore *st = store_with("ec.pem", "ec.key");
    gnutls_pcert_st *pc = NULL;
    gnutls_privkey_t pk = NULL;
    unsigned int n = 0;
    char err[512];

    moat_tlsstore_install(st);
    expect_serving("ec.pem");
    ck_assert_int_eq(load(st, "rsa.pem", "rsa.key", err, sizeof(err)), 0);
    expect_serving("rsa.pem");
    ck_assert_int_eq(load(st, "chain.pem", "chain.key", err, sizeof(err)), 0);
    ck_assert_int_eq(moat_tlsstore_retrieve(NULL, NULL, 0, NULL, 0, &pc, &n, &pk), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert(pc != NULL && pk != NULL);
    expect_serving("chain.pem");
    ck_assert_int_eq(load(st, "ec2.pem", "ec2.key", err, sizeof(err)), 0);
    expect_serving("ec2.pem");
    /* the same chain again: nothing published (1), still served */
    ck_assert_int_eq(load(st, "ec2.pem", "ec2.key", err, sizeof(err)), 1);
    expect_serving("ec2.pem");

    /* Uninstalled: nothing is served; freeing also uninstalls. */
    moat_tlsstore_install(NULL);
    ck_assert_int_eq(moat_tlsstore_retrieve(NULL, NULL, 0, NULL, 0, &pc, &n, &pk), -1);
    moat_tlsstore_install(st);
    moat_tlsstore_free(st);
    ck_assert_int_eq(moat_tlsstore_retrieve(NULL, NULL, 0, NULL, 0, &pc, &n, &pk), -1);
    moat_tlsstore_free(NULL);
}
END_TEST

/* SNI: exact names beat wildcards, earlier pairs beat later ones, the
 * default answers everything else; a real handshake gets the chosen pair. */
struct sni_case {
    const char *name; /* server name sent, NULL: none */
    int want;         /* pair index: 0 ec (default), 1 sni_a, 2 sni_b */
};

static const struct sni_case sni_cases[] = {
    {NULL, 0},
    {"localhost", 0},
    {"a.example", 1},
    {"A.EXAMPLE.", 1},
    {"b.example", 2},        /* the certificate's name is normalised too */
    {"x.wild.example", 2},   /* exact in a later pair beats an earlier wildcard */
    {"y.wild.example", 1},   /* wildcard */
    {"wild.example", 0},     /* the wildcard does not cover its parent */
    {"z.y.wild.example", 0}, /* nor two labels */
    {"192.0.2.1", 0},        /* IP SANs are not server names */
    {"unknown.test", 0},
    {"bad name", 0},
};

START_TEST(test_sni_pick)
{
    const struct sni_case *c = &sni_cases[_i];
    static const char *const files[] = {"ec", "sni_a", "sni_b"};
    struct moat_tls_pair pairs[3];
    struct moat_tlsstore *st = moat_tlsstore_new();
    char err[512] = "", want_fp[128];
    struct seen seen;
    size_t i;

    ck_assert(st != NULL);
    for (i = 0; i < 3; i++) {
        char n[64];

        snprintf(n, sizeof(n), "%s.pem", files[i]);
        pathof(pairs[i].cert, sizeof(pairs[i].cert), n);
        snprintf(n, sizeof(n), "%s.key", files[i]);
        pathof(pairs[i].key, sizeof(pairs[i].key), n);
    }
    ck_assert_int_eq(moat_tlsstore_pick(st, c->name), -1); /* nothing loaded */
    ck_assert_msg(moat_tlsstore_load_pairs(st, pairs, 3, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(moat_tlsstore_pick(st, c->name), c->want);
    moat_tlsstore_install(st);
    if (c->name == NULL || strchr(c->name, ' ') == NULL) {
        handshake_sni(TLS1_3_VERSION, c->name, &seen);
        ck_assert(seen.ok);
        snprintf(err, sizeof(err), "%s.pem", files[c->want]);
        file_fp(err, want_fp, sizeof(want_fp));
        ck_assert_str_eq(seen.fp, want_fp);
    }
    moat_tlsstore_free(st);
}
END_TEST

/* A bundle loads all or nothing: one bad pair keeps the old bundle. */
START_TEST(test_pairs_all_or_nothing)
{
    struct moat_tlsstore *st = store_with("ec.pem", "ec.key");
    struct moat_tls_pair pairs[2];
    char err[512] = "";

    moat_tlsstore_install(st);
    pathof(pairs[0].cert, sizeof(pairs[0].cert), "rsa.pem");
    pathof(pairs[0].key, sizeof(pairs[0].key), "rsa.key");
    pathof(pairs[1].cert, sizeof(pairs[1].cert), "sni_a.pem");
    pathof(pairs[1].key, sizeof(pairs[1].key), "sni_b.key"); /* mismatch */
    ck_assert_int_eq(moat_tlsstore_load_pairs(st, pairs, 2, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "does not match") != NULL, "%s", err);
    expect_serving("ec.pem");
    ck_assert_int_eq(moat_tlsstore_load_pairs(st, pairs, 0, err, sizeof(err)), -1);
    ck_assert_int_eq(moat_tlsstore_load_pairs(st, pairs, MOAT_TLS_MAX_PAIRS + 1, err, sizeof(err)),
                     -1);
    expect_serving("ec.pem");
    moat_tlsstore_free(st);
}
END_TEST

struct hammer {
    int rounds; /* handshakes to do */
    int ok;     /* handshakes that served one of the two pairs */
    char fp_a[128], fp_b[128];
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    struct seen seen;
    int i;

    for (i = 0; i < h->rounds; i++) {
        handshake(i % 2 ? TLS1_2_VERSION : TLS1_3_VERSION, &seen);
        if (seen.ok && (strcmp(seen.fp, h->fp_a) == 0 || strcmp(seen.fp, h->fp_b) == 0))
            h->ok++;
    }
    return NULL;
}

/* Handshakes keep working while another thread reloads. */
START_TEST(test_reload_under_load)
{
    struct moat_tlsstore *st = store_with("ec.pem", "ec.key");
    struct hammer h[2];
    pthread_t th[2];
    char err[512];
    int i;

    moat_tlsstore_install(st);
    for (i = 0; i < 2; i++) {
        memset(&h[i], 0, sizeof(h[i]));
        h[i].rounds = 25;
        file_fp("ec.pem", h[i].fp_a, sizeof(h[i].fp_a));
        file_fp("rsa.pem", h[i].fp_b, sizeof(h[i].fp_b));
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
    }
    for (i = 0; i < 40; i++) {
        ck_assert_int_eq(
            load(st, i % 2 ? "ec.pem" : "rsa.pem", i % 2 ? "ec.key" : "rsa.key", err, sizeof(err)),
            0);
        usleep(2000);
    }
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(h[i].ok, h[i].rounds);
    }
    moat_tlsstore_free(st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tlsstore");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    snprintf(tmpdir, sizeof(tmpdir), "%s/moat-tls-XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN); /* a peer that hangs up must fail a write, not kill the test */
    material_make();

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_handshake_table, 0, sizeof(hs_cases) / sizeof(hs_cases[0]));
    tcase_add_loop_test(tc, test_bad_load_table, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
    tcase_add_test(tc, test_reload);
    tcase_add_loop_test(tc, test_sni_pick, 0, sizeof(sni_cases) / sizeof(sni_cases[0]));
    tcase_add_test(tc, test_pairs_all_or_nothing);
    tcase_add_test(tc, test_reload_under_load);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
