/* tlsstore.c - the GnuTLS credential sets served through MHD's certificate callback, swapped
 * atomically on reload. */
#include "moat/tlsstore.h"
#include "moat/fileio.h"
#include "moat/log.h"
#include "moat/tlsconf.h"

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
#define TLS_NAMES_MAX 64           /* DNS names kept per certificate for SNI */

/* One certificate chain with its private key, immutable once published. */
struct tlsset {
    gnutls_pcert_st *pcerts;          /* chain, leaf first; n entries, each initialised */
    unsigned int n;                   /* certificates in pcerts */
    gnutls_privkey_t key;             /* the leaf's private key */
    char (*names)[MOAT_TLS_NAME_MAX]; /* the leaf's DNS SANs, normalised (owned) */
    size_t n_names;                   /* entries in names */
};

/* Every pair served, immutable once published: sets[0] is the default. */
struct tlsbundle {
    struct tlsset *sets[MOAT_TLS_MAX_PAIRS]; /* n entries, owned */
    size_t n;                                /* pairs loaded */
    struct tlsbundle *next;                  /* next older retired bundle (retired list only) */
};

struct moat_tlsstore {
    _Atomic(struct tlsbundle *) cur; /* what new handshakes get; NULL until a load succeeds */
    pthread_mutex_t lock;            /* serialises loads and guards retired */
    struct tlsbundle *retired;       /* bundles replaced by a load, newest first */
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
    free(set->names);
    free(set);
}

static void bundle_free(struct tlsbundle *b)
{
    size_t i;

    if (b == NULL)
        return;
    for (i = 0; i < b->n; i++)
        tlsset_free(b->sets[i]);
    free(b);
}

/* Collects the leaf's DNS subjectAltNames (normalised; names that do not
 * normalise are skipped) into set->names. Returns 0 or -1 (out of memory or
 * an unreadable certificate). */
static int set_names(struct tlsset *set)
{
    gnutls_x509_crt_t crt = NULL;
    char buf[MOAT_TLS_NAME_MAX];
    size_t size;
    unsigned i, critical;
    int ret, rc = -1;

    set->names = calloc(TLS_NAMES_MAX, sizeof(*set->names));
    if (set->names == NULL || gnutls_x509_crt_init(&crt) < 0)
        goto out;
    if (gnutls_x509_crt_import(crt, &set->pcerts[0].cert, GNUTLS_X509_FMT_DER) < 0)
        goto out;
    for (i = 0; set->n_names < TLS_NAMES_MAX; i++) {
        size = sizeof(buf);
        ret = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, &critical);
        if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        if (ret != GNUTLS_SAN_DNSNAME || size >= sizeof(buf))
            continue; /* other kinds, or a name too long to be a host name */
        buf[size] = '\0';
        if (moat_tls_name_normalise(buf, set->names[set->n_names], MOAT_TLS_NAME_MAX) == 0)
            set->n_names++;
    }
    rc = 0;
out:
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    return rc;
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
    if (set_names(set) != 0) {
        moat_set_err(err, errlen, "cannot read the names of the certificate in %s", cert_path);
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
    struct moat_tls_pair pair;
    int rc = -1;

    if (snprintf(pair.cert, sizeof(pair.cert), "%s", cert_path) >= (int)sizeof(pair.cert) ||
        snprintf(pair.key, sizeof(pair.key), "%s", key_path) >= (int)sizeof(pair.key)) {
        moat_set_err(err, errlen, "certificate or key path too long");
        goto out;
    }
    rc = moat_tlsstore_load_pairs(st, &pair, 1, err, errlen);
out:
    return rc;
}

/* True when bundles a and b serve the same chains (the keys then match too:
 * each key was checked against its leaf). */
static int bundle_same(const struct tlsbundle *a, const struct tlsbundle *b)
{
    size_t i;
    unsigned j;
    int same = a != NULL && b != NULL && a->n == b->n;

    for (i = 0; same && i < a->n; i++) {
        same = a->sets[i]->n == b->sets[i]->n;
        for (j = 0; same && j < a->sets[i]->n; j++) {
            const gnutls_datum_t *x = &a->sets[i]->pcerts[j].cert;
            const gnutls_datum_t *y = &b->sets[i]->pcerts[j].cert;

            same = x->size == y->size && memcmp(x->data, y->data, x->size) == 0;
        }
    }
    return same;
}

int moat_tlsstore_load_pairs(struct moat_tlsstore *st, const struct moat_tls_pair *pairs, size_t n,
                             char *err, size_t errlen)
{
    struct tlsbundle *b = NULL, *old;
    size_t i;
    int rc = -1;

    if (n == 0 || n > MOAT_TLS_MAX_PAIRS) {
        moat_set_err(err, errlen, "between 1 and %d certificate/key pairs can be served",
                     MOAT_TLS_MAX_PAIRS);
        goto out;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        moat_set_err(err, errlen, "out of memory loading %s", pairs[0].cert);
        goto out;
    }
    for (i = 0; i < n; i++) {
        b->sets[i] = tlsset_build(pairs[i].cert, pairs[i].key, err, errlen);
        if (b->sets[i] == NULL)
            goto out;
        b->n = i + 1;
    }
    /* A handshake may still hold pointers into the old bundle (GnuTLS keeps
     * the served chain for the session's life), so it is retired, not freed.
     * Reloads follow file changes and SIGHUP, a few KiB each: the list stays
     * small for the life of the process. */
    pthread_mutex_lock(&st->lock);
    if (bundle_same(atomic_load_explicit(&st->cur, memory_order_acquire), b)) {
        /* Same certificates (a touched file, a SIGHUP without a change):
         * nothing to publish, nothing retired. */
        pthread_mutex_unlock(&st->lock);
        rc = 1;
        goto out;
    }
    old = atomic_exchange_explicit(&st->cur, b, memory_order_acq_rel);
    if (old != NULL) {
        old->next = st->retired;
        st->retired = old;
    }
    pthread_mutex_unlock(&st->lock);
    b = NULL;
    rc = 0;
out:
    bundle_free(b);
    return rc;
}

/* The set of b serving server name `name` (normalised, NULL or "" when the
 * client sent none): an exact name first, then a wildcard, then the default. */
static size_t bundle_pick(const struct tlsbundle *b, const char *name)
{
    size_t i, j, pick = 0;
    int best = 0, m;

    if (name == NULL || name[0] == '\0')
        goto out;
    for (i = 0; i < b->n && best < 2; i++) {
        for (j = 0; j < b->sets[i]->n_names; j++) {
            m = moat_tls_name_match(b->sets[i]->names[j], name);
            if (m > best) {
                best = m;
                pick = i;
                if (m == 2)
                    break;
            }
        }
    }
out:
    return pick;
}

/* The server name the client sent (normalised into out), or "" when none or
 * unusable. */
static void session_sni(gnutls_session_t session, char *out, size_t cap)
{
    char raw[MOAT_TLS_NAME_MAX];
    size_t len = sizeof(raw);
    unsigned int type = 0;

    out[0] = '\0';
    if (session == NULL)
        return;
    if (gnutls_server_name_get(session, raw, &len, &type, 0) != 0 || type != GNUTLS_NAME_DNS ||
        len >= sizeof(raw))
        return;
    raw[len] = '\0';
    if (moat_tls_name_normalise(raw, out, cap) != 0)
        out[0] = '\0';
}

int moat_tlsstore_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                           const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                           gnutls_pcert_st **pcert, unsigned int *pcert_length,
                           gnutls_privkey_t *pkey)
{
    struct moat_tlsstore *st = atomic_load_explicit(&installed_store, memory_order_acquire);
    struct tlsbundle *b = NULL;
    struct tlsset *set;
    char name[MOAT_TLS_NAME_MAX];
    int rc = -1;

    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (st != NULL)
        b = atomic_load_explicit(&st->cur, memory_order_acquire);
    if (b == NULL)
        goto out;
    session_sni(session, name, sizeof(name));
    set = b->sets[bundle_pick(b, name)];
    *pcert = set->pcerts;
    *pcert_length = set->n;
    *pkey = set->key;
    rc = 0;
out:
    return rc;
}

int moat_tlsstore_pick(struct moat_tlsstore *st, const char *server_name)
{
    struct tlsbundle *b = atomic_load_explicit(&st->cur, memory_order_acquire);
    char name[MOAT_TLS_NAME_MAX];
    int idx = -1;

    if (b == NULL)
        goto out;
    if (server_name == NULL || moat_tls_name_normalise(server_name, name, sizeof(name)) != 0)
        name[0] = '\0';
    idx = (int)bundle_pick(b, name);
out:
    return idx;
}

void moat_tlsstore_install(struct moat_tlsstore *st)
{
    atomic_store_explicit(&installed_store, st, memory_order_release);
}

void moat_tlsstore_free(struct moat_tlsstore *st)
{
    struct tlsbundle *b, *next;
    struct moat_tlsstore *expected = st;

    if (st == NULL)
        return;
    atomic_compare_exchange_strong(&installed_store, &expected, NULL);
    bundle_free(atomic_load(&st->cur));
    for (b = st->retired; b != NULL; b = next) {
        next = b->next;
        bundle_free(b);
    }
    pthread_mutex_destroy(&st->lock);
    free(st);
}
