/* tlsstore.h - the TLS credentials libmicrohttpd serves, through its
 * certificate callback (MHD_OPTION_HTTPS_CERT_CALLBACK, GnuTLS retrieve_function2).
 *
 * Serving through the callback rather than MEM_CERT/MEM_KEY is what lets moat
 * swap certificates without a restart and choose one by SNI later: a store
 * holds the current credential set; moat_tlsstore_load() builds a new set and
 * publishes it atomically; handshakes already under way keep the set they
 * picked (sets are retired, not freed, until moat_tlsstore_free()). */
#ifndef MOAT_TLSSTORE_H
#define MOAT_TLSSTORE_H

#include <stddef.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

struct moat_tlsstore; /* opaque */

/* Creates an empty store. Returns NULL on allocation failure. Caller frees with
 * moat_tlsstore_free() after the MHD daemon using it has stopped. */
struct moat_tlsstore *moat_tlsstore_new(void);

/* Loads cert_path (PEM chain, leaf first then each issuer, at most 16) and
 * key_path (PEM key, unencrypted) into a new credential set and makes it
 * current; the key must match the leaf. File bytes are wiped after parsing.
 * On failure the current set stays in service and -1 is returned with a
 * message in err. Thread-safe against concurrent handshakes and other loads. */
int moat_tlsstore_load(struct moat_tlsstore *st, const char *cert_path, const char *key_path,
                       char *err, size_t errlen);

/* The function to pass as MHD_OPTION_HTTPS_CERT_CALLBACK. The store is found
 * through a process-wide pointer set by moat_tlsstore_install() (GnuTLS gives
 * the callback no closure). Gives the current set's chain and key (borrowed
 * until moat_tlsstore_free()); returns -1 when no store is installed or the
 * installed store has nothing loaded (the handshake then fails). */
int moat_tlsstore_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                           const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                           gnutls_pcert_st **pcert, unsigned int *pcert_length,
                           gnutls_privkey_t *pkey);

/* Makes st the store that moat_tlsstore_retrieve() serves from (NULL to clear). */
void moat_tlsstore_install(struct moat_tlsstore *st);

/* Frees every set the store ever held. Only after no handshake can run. */
void moat_tlsstore_free(struct moat_tlsstore *st);

#endif
