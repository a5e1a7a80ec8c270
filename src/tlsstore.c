/* tlsstore.c - the GnuTLS credential sets served through MHD's certificate callback, swapped
 * atomically on reload. */
#include "moat/tlsstore.h"
#include "moat/log.h"
#include "moat/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/x509.h>

#define TLS_FILE_MAX (1024 * 1024) /* refuse PEM files larger than this */
#define TLS_CHAIN_MAX 16           /* certificates accepted in one chain file */

/* One certificate chain with its private key, immutable once published. */
struct tlsset {
    gnutls_pcert_st *pcerts; /* chain, leaf first; n entries, each initialised */
    unsigned int n;          /* certificates in pcerts */
    gnutls_privkey_t key;    /* the leaf's private key */
    struct tlsset *next;     /* next older retired set (retired list only) */
};

struct moat_tlsstore {
    _Atomic(struct tlsset *) cur; /* the set new handshakes get; NULL until a load succeeds */
    pthread_mutex_t lock;         /* serialises loads and guards retired */
    struct tlsset *retired;       /* sets replaced by a load, newest first */
};

/* The one mutable global of this module: GnuTLS's retrieve_function2 (and so
 * MHD_OPTION_HTTPS_CERT_CALLBACK) passes no user pointer, so the callback finds
 * the store here. Set at startup, cleared at shutdown. */
static _Atomic(struct moat_tlsstore *) installed_store;

/* Reads the regular file at path (at most TLS_FILE_MAX bytes) into a new
 * buffer in *out (caller wipes *cap_out bytes and frees; out->size is the length). */
static int file_read(const char *path, const char *what, gnutls_datum_t *out, size_t *cap_out,
                     char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    rc = moat_file_read(path, what, TLS_FILE_MAX, &buf, &len, cap_out, NULL, err, errlen);
    out->data = (unsigned char *)buf;
    out->size = (unsigned int)len;
    return rc;
}

static void tlsset_free(struct tlsset *set)
{
    unsigned int i;

    if (set == NULL)
        return;
    for (i = 0; i < set->n; i++)
        gnutls_pcert_deinit(&set->pcerts[i]);
    free(set->pcerts);
    if (set->key != NULL)
        gnutls_privkey_deinit(set->key);
    free(set);
}

/* 0 when key is the private half of the leaf's public key. */
static int key_matches(gnutls_pcert_st *leaf, gnutls_privkey_t key)
{
    unsigned char id_cert[64], id_key[64];
    size_t len_cert = sizeof(id_cert), len_key = sizeof(id_key);
    gnutls_pubkey_t pub = NULL;
    int rc = -1;

    if (gnutls_pubkey_init(&pub) < 0)
        goto out;
    if (gnutls_pubkey_import_privkey(pub, key, 0, 0) < 0)
        goto out;
    if (gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id_key, &len_key) < 0 ||
        gnutls_pubkey_get_key_id(leaf->pubkey, GNUTLS_KEYID_USE_SHA256, id_cert, &len_cert) < 0)
        goto out;
    if (len_key == len_cert && memcmp(id_key, id_cert, len_key) == 0)
        rc = 0;
out:
    if (pub != NULL)
        gnutls_pubkey_deinit(pub);
    return rc;
}

/* Builds a credential set from the two files. */
static struct tlsset *tlsset_build(const char *cert_path, const char *key_path, char *err,
                                   size_t errlen)
{
    gnutls_datum_t cert_pem = {NULL, 0}, key_pem = {NULL, 0};
    size_t cert_cap = 0, key_cap = 0;
    struct tlsset *set = NULL;
    unsigned int max = TLS_CHAIN_MAX;
    int ret, ok = 0;

    set = calloc(1, sizeof(*set));
    if (set == NULL) {
        moat_set_err(err, errlen, "out of memory loading %s", cert_path);
        goto out;
    }
    if (file_read(cert_path, "certificate file", &cert_pem, &cert_cap, err, errlen) != 0)
        goto out;
    if (file_read(key_path, "key file", &key_pem, &key_cap, err, errlen) != 0)
        goto out;

    set->pcerts = calloc(TLS_CHAIN_MAX, sizeof(*set->pcerts));
    if (set->pcerts == NULL) {
        moat_set_err(err, errlen, "out of memory loading %s", cert_path);
        goto out;
    }
    ret = gnutls_pcert_list_import_x509_raw(set->pcerts, &max, &cert_pem, GNUTLS_X509_FMT_PEM,
                                            GNUTLS_X509_CRT_LIST_IMPORT_FAIL_IF_EXCEED |
                                                GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
    if (ret < 0) {
        moat_set_err(err, errlen, "cannot load the certificate chain in %s: %s", cert_path,
                     gnutls_strerror(ret));
        goto out;
    }
    set->n = max;
    if (set->n == 0) {
        moat_set_err(err, errlen, "no certificate found in %s", cert_path);
        goto out;
    }

    ret = gnutls_privkey_init(&set->key);
    if (ret < 0) {
        moat_set_err(err, errlen, "cannot load the private key in %s: %s", key_path,
                     gnutls_strerror(ret));
        goto out;
    }
    ret = gnutls_privkey_import_x509_raw(set->key, &key_pem, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (ret < 0 && memmem(key_pem.data, key_pem.size, "ENCRYPTED", 9) != NULL) {
        moat_set_err(
            err, errlen,
            "%s: encrypted private keys are not supported (store it unencrypted, mode 0600)",
            key_path);
        goto out;
    }
    if (ret < 0) {
        moat_set_err(err, errlen, "cannot load the private key in %s: %s", key_path,
                     gnutls_strerror(ret));
        goto out;
    }
    if (key_matches(&set->pcerts[0], set->key) != 0) {
        moat_set_err(err, errlen, "%s does not match the certificate in %s", key_path, cert_path);
        goto out;
    }
    ok = 1;
out:
    if (key_pem.data != NULL) {
        gnutls_memset(key_pem.data, 0, key_cap);
        free(key_pem.data);
    }
    if (cert_pem.data != NULL) {
        gnutls_memset(cert_pem.data, 0, cert_cap); /* a combined file may hold the key too */
        free(cert_pem.data);
    }
    if (!ok) {
        tlsset_free(set);
        set = NULL;
    }
    return set;
}

struct moat_tlsstore *moat_tlsstore_new(void)
{
    struct moat_tlsstore *st = calloc(1, sizeof(*st));

    if (st == NULL)
        goto out;
    if (pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        st = NULL;
        goto out;
    }
    atomic_init(&st->cur, NULL);
out:
    return st;
}

int moat_tlsstore_load(struct moat_tlsstore *st, const char *cert_path, const char *key_path,
                       char *err, size_t errlen)
{
    struct tlsset *set, *old;
    int rc = -1;

    set = tlsset_build(cert_path, key_path, err, errlen);
    if (set == NULL)
        goto out;
    /* A handshake may still hold pointers into the old set, so it is retired,
     * not freed. Reloads are operator-driven (SIGHUP), a few KiB each: the list
     * stays small for the life of the process. */
    pthread_mutex_lock(&st->lock);
    old = atomic_exchange_explicit(&st->cur, set, memory_order_acq_rel);
    if (old != NULL) {
        old->next = st->retired;
        st->retired = old;
    }
    pthread_mutex_unlock(&st->lock);
    rc = 0;
out:
    return rc;
}

int moat_tlsstore_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                           const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                           gnutls_pcert_st **pcert, unsigned int *pcert_length,
                           gnutls_privkey_t *pkey)
{
    struct moat_tlsstore *st = atomic_load_explicit(&installed_store, memory_order_acquire);
    struct tlsset *set = NULL;

    (void)session;
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (st != NULL)
        set = atomic_load_explicit(&st->cur, memory_order_acquire);
    if (set == NULL)
        return -1;
    *pcert = set->pcerts;
    *pcert_length = set->n;
    *pkey = set->key;
    return 0;
}

void moat_tlsstore_install(struct moat_tlsstore *st)
{
    atomic_store_explicit(&installed_store, st, memory_order_release);
}

void moat_tlsstore_free(struct moat_tlsstore *st)
{
    struct tlsset *set, *next;
    struct moat_tlsstore *expected = st;

    if (st == NULL)
        return;
    atomic_compare_exchange_strong(&installed_store, &expected, NULL);
    tlsset_free(atomic_load(&st->cur));
    for (set = st->retired; set != NULL; set = next) {
        next = set->next;
        tlsset_free(set);
    }
    pthread_mutex_destroy(&st->lock);
    free(st);
}
