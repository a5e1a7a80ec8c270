/* test_pki_util.h - test material on disk for the certificate tests
 * (test_cert.c, test_tlsstore.c): a per-run temporary directory, PEM writers
 * and cleanup. Every helper aborts the run when the material cannot be made. */
#ifndef MOAT_TEST_PKI_UTIL_H
#define MOAT_TEST_PKI_UTIL_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Test-material sanity: abort (a failed test, or a failed run) when false. */
#define MUST(c)                                                                                    \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #c);                         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The run's temporary directory (set by the test's main). */
static char tmpdir[PATH_MAX];

/* tmpdir/name into buf. */
static inline void pathof(char *buf, size_t cap, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", tmpdir, name);
    MUST(n > 0 && (size_t)n < cap);
}

/* Adds an X.509v3 extension given in openssl.cnf syntax. */
static inline void ext_add(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);

    MUST(ext != NULL);
    MUST(X509_add_ext(x, ext, -1) == 1);
    X509_EXTENSION_free(ext);
}

/* Writes data to tmpdir/name with the given mode. */
static inline void file_put(const char *name, const char *data, size_t len, mode_t mode)
{
    char p[PATH_MAX];
    FILE *f;

    pathof(p, sizeof(p), name);
    f = fopen(p, "wb");
    MUST(f != NULL);
    MUST(len == 0 || fwrite(data, 1, len, f) == len);
    MUST(fclose(f) == 0);
    MUST(chmod(p, mode) == 0);
}

/* Writes a memory BIO's contents to tmpdir/name and frees the BIO. */
static inline void bio_put(const char *name, BIO *b, mode_t mode)
{
    char *data = NULL;
    long len = BIO_get_mem_data(b, &data);

    MUST(len >= 0);
    file_put(name, data, (size_t)len, mode);
    BIO_free(b);
}

/* Writes k as an unencrypted PEM private key, mode 0600. */
static inline void key_put(const char *name, EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());

    MUST(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1);
    bio_put(name, b, 0600);
}

/* Writes up to three certificates (b and c may be NULL) as one PEM file, mode 0644. */
static inline void certs_put(const char *name, X509 *a, X509 *b, X509 *c)
{
    BIO *bio = BIO_new(BIO_s_mem());

    MUST(PEM_write_bio_X509(bio, a) == 1);
    if (b != NULL)
        MUST(PEM_write_bio_X509(bio, b) == 1);
    if (c != NULL)
        MUST(PEM_write_bio_X509(bio, c) == 1);
    bio_put(name, bio, 0644);
}

/* nftw callback removing one entry (for removing tmpdir depth-first). */
static inline int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

#endif
