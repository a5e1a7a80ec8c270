/* test_cert.c - unit tests for certificate/key checks and the --dev certificate (material made at
 * run time). */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "moat/cert.h"
#include "test_pki_util.h"

#define DAY 86400L
#define T_2025_01_01 ((time_t)1735689600) /* 2025-01-01T00:00:00Z */
#define T_2099_01_01 ((time_t)4070908800) /* 2099-01-01T00:00:00Z */

static EVP_PKEY *key_gen(const char *kind)
{
    EVP_PKEY *k = NULL;

    if (strcmp(kind, "rsa2048") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else if (strcmp(kind, "rsa1024") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    else if (strcmp(kind, "p256") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (strcmp(kind, "p384") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    else if (strcmp(kind, "p521") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    else if (strcmp(kind, "ed25519") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    MUST(k != NULL);
    return k;
}

/* A certificate for key, signed by issuer/issuer_key (self-signed when NULL). */
static X509 *cert_make(EVP_PKEY *key, const char *cn, const char *san, time_t nb, time_t na,
                       X509 *issuer, EVP_PKEY *issuer_key, int ca)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509V3_CTX ctx;
    int is_ed;

    MUST(x != NULL && name != NULL);
    MUST(X509_set_version(x, X509_VERSION_3) == 1);
    MUST(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) == 1);
    MUST(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) == 1);
    MUST(X509_set_subject_name(x, name) == 1);
    MUST(X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) == 1);
    MUST(ASN1_TIME_set(X509_getm_notBefore(x), nb) != NULL);
    MUST(ASN1_TIME_set(X509_getm_notAfter(x), na) != NULL);
    MUST(X509_set_pubkey(x, key) == 1);
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    ext_add(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    ext_add(x, &ctx, NID_key_usage,
            ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    ext_add(x, &ctx, NID_subject_key_identifier, "hash");
    if (san != NULL)
        ext_add(x, &ctx, NID_subject_alt_name, san);
    if (issuer_key == NULL)
        issuer_key = key;
    is_ed = EVP_PKEY_is_a(issuer_key, "ED25519");
    MUST(X509_sign(x, issuer_key, is_ed ? NULL : EVP_sha256()) > 0);
    X509_NAME_free(name);
    return x;
}

/* Writes NAME.key and NAME.pem: a self-signed pair of the given kind. */
static void pair_put(const char *name, const char *kind, time_t nb, time_t na)
{
    char fn[64];
    EVP_PKEY *k = key_gen(kind);
    X509 *x = cert_make(k, name, "DNS:localhost", nb, na, NULL, NULL, 0);

    snprintf(fn, sizeof(fn), "%s.key", name);
    key_put(fn, k);
    snprintf(fn, sizeof(fn), "%s.pem", name);
    certs_put(fn, x, NULL, NULL);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void material_make(void)
{
    time_t now = time(NULL);
    EVP_PKEY *root_k, *int_k, *leaf_k, *k;
    X509 *root, *inter, *leaf, *x;
    BIO *b, *in;
    char p[PATH_MAX];
    const char *broken =
        "-----BEGIN CERTIFICATE-----\nMIIBAAAAgarbagegarbage\n-----END CERTIFICATE-----\n";
    const char *garbage = "this is not PEM at all\n";
    char *text = NULL;
    char pass[] = "secret";
    long len;

    pair_put("rsa", "rsa2048", now - DAY, now + 365 * DAY);
    pair_put("ec", "p256", now - DAY, now + 365 * DAY);
    pair_put("ec384", "p384", now - DAY, now + 365 * DAY);
    pair_put("ec521", "p521", now - DAY, now + 365 * DAY);
    pair_put("ed", "ed25519", now - DAY, now + 365 * DAY);
    pair_put("rsa1024", "rsa1024", now - DAY, now + 365 * DAY);
    pair_put("expired", "p256", T_2025_01_01 - 365 * DAY, T_2025_01_01);
    pair_put("future", "p256", T_2099_01_01, T_2099_01_01 + 365 * DAY);
    pair_put("other", "p256", now - DAY, now + 365 * DAY);

    /* root -> intermediate -> leaf */
    root_k = key_gen("p256");
    int_k = key_gen("p384");
    leaf_k = key_gen("rsa2048");
    root = cert_make(root_k, "Test Root", NULL, now - DAY, now + 3650 * DAY, NULL, NULL, 1);
    inter =
        cert_make(int_k, "Test Intermediate", NULL, now - DAY, now + 3650 * DAY, root, root_k, 1);
    leaf = cert_make(leaf_k, "chain.test", "DNS:chain.test", now - DAY, now + 365 * DAY, inter,
                     int_k, 0);
    key_put("chain.key", leaf_k);
    certs_put("chain.pem", leaf, inter, NULL);
    certs_put("chain3.pem", leaf, inter, root);
    certs_put("badorder.pem", leaf, root, NULL);

    /* The SAN/CN test certificate, with exact dates. */
    k = key_gen("p256");
    x = cert_make(
        k, "example.test",
        "DNS:example.test,DNS:*.example.test,IP:192.0.2.1,IP:2001:db8::1,email:a@example.test",
        (time_t)1700000000, (time_t)4000000000, NULL, NULL, 0);
    key_put("san.key", k);
    certs_put("san.pem", x, NULL, NULL);

    /* The same key encrypted, PKCS#8 and traditional. */
    b = BIO_new(BIO_s_mem());
    MUST(PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_256_cbc(), NULL, 0, NULL, pass) == 1);
    bio_put("enc8.key", b, 0600);
    b = BIO_new(BIO_s_mem());
    MUST(PEM_write_bio_PrivateKey_traditional(b, k, EVP_aes_256_cbc(), (unsigned char *)pass, 6,
                                              NULL, NULL) == 1);
    bio_put("enctrad.key", b, 0600);

    /* The EC key again, readable by everyone. */
    pathof(p, sizeof(p), "ec.key");
    b = BIO_new_file(p, "r");
    MUST(b != NULL);
    EVP_PKEY_free(k);
    k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    MUST(k != NULL);
    BIO_free(b);
    key_put("open.key", k);
    pathof(p, sizeof(p), "open.key");
    MUST(chmod(p, 0644) == 0);

    /* A valid certificate followed by a broken one. */
    b = BIO_new(BIO_s_mem());
    MUST(PEM_write_bio_X509(b, x) == 1);
    BIO_write(b, broken, (int)strlen(broken));
    len = BIO_get_mem_data(b, &text);
    file_put("broken.pem", text, (size_t)len, 0644);
    BIO_free(b);

    /* One file holding the certificate and its key (k is still the EC key). */
    b = BIO_new(BIO_s_mem());
    pathof(p, sizeof(p), "ec.pem");
    in = BIO_new_file(p, "r");
    MUST(in != NULL);
    X509_free(x);
    x = PEM_read_bio_X509(in, NULL, NULL, NULL);
    BIO_free(in);
    MUST(x != NULL);
    MUST(PEM_write_bio_X509(b, x) == 1);
    MUST(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1);
    bio_put("combo.pem", b, 0600);

    file_put("garbage.pem", garbage, strlen(garbage), 0644);
    file_put("garbage.key", garbage, strlen(garbage), 0600);
    file_put("empty.pem", "", 0, 0644);
    pathof(p, sizeof(p), "adir");
    MUST(mkdir(p, 0700) == 0);
    /* A FIFO at a key path: refused at once, never an open() waiting for a writer. */
    pathof(p, sizeof(p), "afifo");
    MUST(mkfifo(p, 0600) == 0);

    EVP_PKEY_free(k);
    X509_free(x);
    X509_free(root);
    X509_free(inter);
    X509_free(leaf);
    EVP_PKEY_free(root_k);
    EVP_PKEY_free(int_k);
    EVP_PKEY_free(leaf_k);
}

struct pair_case {
    const char *cert; /* file in tmpdir */
    const char *key;  /* file in tmpdir */
    const char *err;  /* NULL: must pass; else a substring of the message */
    const char *type; /* expected key_type when the key was read */
    int bits;         /* expected key_bits when the key was read */
    size_t chain_len; /* expected chain_len when the chain was read */
    int too_open;     /* expected key_mode_too_open */
};

static const struct pair_case pair_cases[] = {
    {"rsa.pem", "rsa.key", NULL, "RSA", 2048, 1, 0},
    {"ec.pem", "ec.key", NULL, "ECDSA", 256, 1, 0},
    {"ec384.pem", "ec384.key", NULL, "ECDSA", 384, 1, 0},
    {"chain.pem", "chain.key", NULL, "RSA", 2048, 2, 0},
    {"chain3.pem", "chain.key", NULL, "RSA", 2048, 3, 0},
    {"ec.pem", "open.key", NULL, "ECDSA", 256, 1, 1},
    {"combo.pem", "combo.pem", NULL, "ECDSA", 256, 1, 0},
    {"expired.pem", "expired.key", "expired on 2025-01-01T00:00:00Z", "ECDSA", 256, 1, 0},
    {"future.pem", "future.key", "is not valid before 2099-01-01T00:00:00Z", "ECDSA", 256, 1, 0},
    {"ec.pem", "other.key", "other.key does not match the certificate in", "ECDSA", 256, 1, 0},
    {"rsa.pem", "ec.key", "ec.key does not match the certificate in", "ECDSA", 256, 1, 0},
    {"rsa1024.pem", "rsa1024.key", "has 1024 bits; at least 2048", "RSA", 1024, 1, 0},
    {"ec521.pem", "ec521.key", "uses curve secp521r1", "ECDSA", 521, 1, 0},
    {"ed.pem", "ed.key", "unsupported type ED25519", "", 253, 1, 0},
    {"san.pem", "enc8.key", "encrypted private keys are not supported", "", 0, 1, 0},
    {"san.pem", "enctrad.key", "encrypted private keys are not supported", "", 0, 1, 0},
    {"garbage.pem", "ec.key", "no certificate found in", "", 0, 0, 0},
    {"empty.pem", "ec.key", "no certificate found in", "", 0, 0, 0},
    {"ec.key", "ec.key", "no certificate found in", "", 0, 0, 0},
    {"broken.pem", "san.key", "certificate 2 in", "", 0, 1, 0},
    {"badorder.pem", "chain.key", "certificate 2 in", "", 0, 2, 0},
    {"ec.pem", "garbage.key", "no private key found in", "", 0, 1, 0},
    {"ec.pem", "ec.pem", "no private key found in", "", 0, 1, 1},
    {"nope.pem", "ec.key", "cannot open certificate file", "", 0, 0, 0},
    {"ec.pem", "nope.key", "cannot open key file", "", 0, 1, 0},
    {"adir", "ec.key", "is not a regular file", "", 0, 0, 0},
    {"ec.pem", "adir", "is not a regular file", "", 0, 1, 0},
    {"afifo", "ec.key", "is not a regular file", "", 0, 0, 0},
    {"ec.pem", "afifo", "is not a regular file", "", 0, 1, 0},
};

START_TEST(test_pair_table)
{
    const struct pair_case *c = &pair_cases[_i];
    struct moat_cert_info info;
    char cp[PATH_MAX], kp[PATH_MAX], err[512] = "";
    int rc;

    pathof(cp, sizeof(cp), c->cert);
    pathof(kp, sizeof(kp), c->key);
    rc = moat_cert_check(cp, kp, time(NULL), &info, err, sizeof(err));
    if (c->err == NULL) {
        ck_assert_msg(rc == 0, "%s/%s: %s", c->cert, c->key, err);
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strstr(err, c->err) != NULL, "%s/%s: got \"%s\", want \"%s\"", c->cert,
                      c->key, err, c->err);
        ck_assert_msg(strstr(err, "PRIVATE KEY-----") == NULL, "key text in message");
    }
    ck_assert_str_eq(info.key_type, c->type);
    if (c->type[0] != '\0')
        ck_assert_int_eq(info.key_bits, c->bits);
    ck_assert_uint_eq(info.chain_len, c->chain_len);
    ck_assert_int_eq(info.key_mode_too_open, c->too_open);
    ck_assert(ERR_peek_error() == 0);
}
END_TEST

/* The fingerprint the openssl CLI prints for a certificate file. */
static void cli_fingerprint(const char *cert, char *out, size_t cap)
{
    char cmd[PATH_MAX + 128], line[256];
    FILE *p;
    char *eq, *nl;

    snprintf(cmd, sizeof(cmd), "openssl x509 -noout -fingerprint -sha256 -in '%s'", cert);
    p = popen(cmd, "r");
    ck_assert(p != NULL);
    ck_assert(fgets(line, sizeof(line), p) != NULL);
    ck_assert_int_eq(pclose(p), 0);
    eq = strchr(line, '=');
    ck_assert(eq != NULL);
    nl = strchr(eq, '\n');
    if (nl != NULL)
        *nl = '\0';
    snprintf(out, cap, "%s", eq + 1);
}

START_TEST(test_names_and_fingerprint)
{
    struct moat_cert_info info;
    char cp[PATH_MAX], kp[PATH_MAX], err[512] = "", fp[128];

    pathof(cp, sizeof(cp), "san.pem");
    pathof(kp, sizeof(kp), "san.key");
    ck_assert_msg(moat_cert_check(cp, kp, time(NULL), &info, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(info.subject_cn, "example.test");
    ck_assert_uint_eq(info.n_names, 4);
    ck_assert_str_eq(info.names[0], "example.test");
    ck_assert_str_eq(info.names[1], "*.example.test");
    ck_assert_str_eq(info.names[2], "192.0.2.1");
    ck_assert_str_eq(info.names[3], "2001:db8::1");
    ck_assert_int_eq((long long)info.not_before, 1700000000LL);
    ck_assert_int_eq((long long)info.not_after, 4000000000LL);
    ck_assert_uint_eq(strlen(info.sha256), 95);
    cli_fingerprint(cp, fp, sizeof(fp));
    ck_assert_str_eq(info.sha256, fp);

    /* The chain's leaf is what gets described. */
    pathof(cp, sizeof(cp), "chain3.pem");
    pathof(kp, sizeof(kp), "chain.key");
    ck_assert_msg(moat_cert_check(cp, kp, time(NULL), &info, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(info.subject_cn, "chain.test");
    ck_assert_uint_eq(info.n_names, 1);
    cli_fingerprint(cp, fp, sizeof(fp));
    ck_assert_str_eq(info.sha256, fp);
}
END_TEST

START_TEST(test_check_uses_now)
{
    struct moat_cert_info info;
    char cp[PATH_MAX], kp[PATH_MAX], err[512] = "";

    pathof(cp, sizeof(cp), "san.pem");
    pathof(kp, sizeof(kp), "san.key");
    ck_assert_int_eq(moat_cert_check(cp, kp, (time_t)1700000000, &info, err, sizeof(err)), 0);
    ck_assert_int_eq(moat_cert_check(cp, kp, (time_t)1699999999, &info, err, sizeof(err)), -1);
    ck_assert(strstr(err, "is not valid before 2023-11-14T22:13:20Z") != NULL);
    ck_assert_int_eq(moat_cert_check(cp, kp, (time_t)4000000001, &info, err, sizeof(err)), -1);
    ck_assert(strstr(err, "expired on 2096-10-02T07:06:40Z") != NULL);
}
END_TEST

static void state_path(char *buf, size_t cap, const char *state, const char *file)
{
    int n = snprintf(buf, cap, "%s/%s/%s", tmpdir, state, file);
    ck_assert(n > 0 && (size_t)n < cap);
}

static mode_t mode_of(const char *p)
{
    struct stat sb;

    ck_assert_msg(stat(p, &sb) == 0, "stat %s", p);
    return sb.st_mode & 07777;
}

static int entries_in(const char *dir)
{
    char cmd[PATH_MAX + 64];
    FILE *p;
    int n = -1;

    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
    p = popen(cmd, "r");
    ck_assert(p != NULL);
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

static void dev_ensure_ok(const char *state, int want_created, struct moat_cert_info *info)
{
    char dir[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], err[512] = "";
    int created = -1;

    pathof(dir, sizeof(dir), state);
    ck_assert_msg(moat_cert_dev_ensure(dir, cert, key, sizeof(cert), &created, err, sizeof(err)) ==
                      0,
                  "%s", err);
    ck_assert_int_eq(created, want_created);
    ck_assert_int_eq(mode_of(dir), 0700);
    ck_assert_int_eq(mode_of(key), 0600);
    ck_assert_int_eq(mode_of(cert), 0644);
    ck_assert_int_eq(entries_in(dir), 2);
    ck_assert_msg(moat_cert_check(cert, key, time(NULL), info, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(test_dev_create_reuse)
{
    struct moat_cert_info a, b;
    char cert[PATH_MAX], cmd[3 * PATH_MAX];
    time_t now = time(NULL);

    dev_ensure_ok("state1", 1, &a);
    ck_assert_str_eq(a.subject_cn, "localhost");
    ck_assert_uint_eq(a.n_names, 3);
    ck_assert_str_eq(a.names[0], "localhost");
    ck_assert_str_eq(a.names[1], "127.0.0.1");
    ck_assert_str_eq(a.names[2], "::1");
    ck_assert_str_eq(a.key_type, "ECDSA");
    ck_assert_int_eq(a.key_bits, 256);
    ck_assert(a.not_after - now >= 825 * DAY - 120 && a.not_after - now <= 825 * DAY + 120);
    ck_assert(now - a.not_before >= 3600 - 120 && now - a.not_before <= 3600 + 120);

    state_path(cert, sizeof(cert), "state1", "dev-cert.pem");
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile '%s' '%s' >/dev/null 2>&1", cert, cert);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "openssl x509 -noout -text -in '%s' | tr -d '\\n ' | grep -q "
             "'BasicConstraints:critical.*CA:FALSE.*KeyUsage:critical.*DigitalSignature.*"
             "ExtendedKeyUsage:.*TLSWebServerAuthentication.*SubjectAlternativeName:.*"
             "DNS:localhost,IPAddress:127.0.0.1,IPAddress:0:0:0:0:0:0:0:1.*SubjectKeyIdentifier'",
             cert);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(
        cmd, sizeof(cmd),
        "openssl x509 -noout -subject -in '%s' | grep -q 'O = moat development, CN = localhost'",
        cert);
    ck_assert_int_eq(system(cmd), 0);

    dev_ensure_ok("state1", 0, &b);
    ck_assert_str_eq(a.sha256, b.sha256);
}
END_TEST

/* Damages the dev pair in STATE (after a first creation) and expects a new one. */
struct dev_damage_case {
    const char *state; /* directory under tmpdir */
    const char *file;  /* file to replace, or NULL */
    const char *text;  /* its new contents */
    int chmod_key;     /* when nonzero: new key mode */
    int near_expiry;   /* when 1: replace the pair by one with 10 days left */
};

static const struct dev_damage_case dev_damage_cases[] = {
    {"dmg-cert", "dev-cert.pem", "garbage\n", 0, 0},
    {"dmg-key", "dev-key.pem", "garbage\n", 0, 0},
    {"dmg-empty", "dev-cert.pem", "", 0, 0},
    {"dmg-mode", NULL, NULL, 0644, 0},
    {"dmg-expiry", NULL, NULL, 0, 1},
};

START_TEST(test_dev_regenerate)
{
    const struct dev_damage_case *c = &dev_damage_cases[_i];
    struct moat_cert_info a, b;
    char p[PATH_MAX], name[PATH_MAX];
    time_t now = time(NULL);

    dev_ensure_ok(c->state, 1, &a);
    if (c->file != NULL) {
        snprintf(name, sizeof(name), "%s/%s", c->state, c->file);
        file_put(name, c->text, strlen(c->text), strcmp(c->file, "dev-key.pem") == 0 ? 0600 : 0644);
    }
    if (c->chmod_key != 0) {
        state_path(p, sizeof(p), c->state, "dev-key.pem");
        ck_assert_int_eq(chmod(p, (mode_t)c->chmod_key), 0);
    }
    if (c->near_expiry) {
        EVP_PKEY *k = key_gen("p256");
        X509 *x =
            cert_make(k, "localhost", "DNS:localhost", now - DAY, now + 10 * DAY, NULL, NULL, 0);
        snprintf(name, sizeof(name), "%s/dev-key.pem", c->state);
        key_put(name, k);
        snprintf(name, sizeof(name), "%s/dev-cert.pem", c->state);
        certs_put(name, x, NULL, NULL);
        X509_free(x);
        EVP_PKEY_free(k);
    }
    dev_ensure_ok(c->state, 1, &b);
    ck_assert_str_ne(a.sha256, b.sha256);
    ck_assert(b.not_after - now > 800 * DAY);
}
END_TEST

struct dev_err_case {
    const char *state; /* under tmpdir */
    size_t cap;        /* bytes for the output paths */
    const char *err;   /* expected substring */
};

static const struct dev_err_case dev_err_cases[] = {
    {"missing/state", PATH_MAX, "parent directory does not exist"},
    {"ec.pem", PATH_MAX, "is not a directory"},
    {"state-short", 8, "too long"},
};

START_TEST(test_dev_errors)
{
    const struct dev_err_case *c = &dev_err_cases[_i];
    char dir[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], err[512] = "";
    int created = -1;

    pathof(dir, sizeof(dir), c->state);
    ck_assert_int_eq(moat_cert_dev_ensure(dir, cert, key, c->cap, &created, err, sizeof(err)), -1);
    ck_assert_int_eq(created, 0);
    ck_assert_msg(strstr(err, c->err) != NULL, "got \"%s\"", err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cert");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    snprintf(tmpdir, sizeof(tmpdir), "%s/moat-cert-XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    material_make();

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_pair_table, 0, sizeof(pair_cases) / sizeof(pair_cases[0]));
    tcase_add_test(tc, test_names_and_fingerprint);
    tcase_add_test(tc, test_check_uses_now);
    tcase_add_test(tc, test_dev_create_reuse);
    tcase_add_loop_test(tc, test_dev_regenerate, 0,
                        sizeof(dev_damage_cases) / sizeof(dev_damage_cases[0]));
    tcase_add_loop_test(tc, test_dev_errors, 0, sizeof(dev_err_cases) / sizeof(dev_err_cases[0]));
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
