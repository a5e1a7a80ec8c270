/* tlsstore.h - the TLS credentials libmicrohttpd serves, through its
 * certificate callback (MHD_OPTION_HTTPS_CERT_CALLBACK, GnuTLS retrieve_function2).
 *
 * Serving through the callback rather than MEM_CERT/MEM_KEY is what lets moat
 * swap certificates without a restart and choose one by SNI later: a store
 * holds the current credential set; moat_tlsstore_load() builds a new set and
 * publishes it atomically; handshakes already under way keep the set they
 * picked (sets are retired, not freed, until moat_tlsstore_free()).
 *
 * SNI: a store serves up to MOAT_TLS_MAX_PAIRS pairs, the first one being the
 * default. Each pair answers for the DNS subjectAltNames of its leaf
 * certificate (exact, or "*.example.com" for exactly one more label); a client
 * name matching exactly wins over a wildcard, an earlier pair over a later one;
 * clients sending no name, or one no pair holds, get the default. */
#ifndef MOAT_TLSSTORE_H
#define MOAT_TLSSTORE_H

#include <stddef.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "moat/tlsconf.h"

struct moat_tlsstore; /* opaque */

/* Creates an empty store. Returns NULL on allocation failure. Caller frees with
 * moat_tlsstore_free() after the MHD daemon using it has stopped. */
struct moat_tlsstore *moat_tlsstore_new(void);

/* Loads cert_path (PEM chain, leaf first then each issuer, at most 16) and
 * key_path (PEM key, unencrypted) into a new credential set and makes it
 * current; the key must match the leaf. File bytes are wiped after parsing.
 * Returns 0, or 1 when the chain is the one already served (see
 * moat_tlsstore_load_pairs). On failure the current set stays in service and
 * -1 is returned with a message in err. Thread-safe against concurrent
 * handshakes and other loads. */
int moat_tlsstore_load(struct moat_tlsstore *st, const char *cert_path, const char *key_path,
                       char *err, size_t errlen);

/* Loads n pairs (pairs[0] the default, n <= MOAT_TLS_MAX_PAIRS) as one new
 * bundle and makes it current: all or nothing. Each pair is read as
 * moat_tlsstore_load() reads one. Returns 0 when the new bundle is served,
 * 1 when it holds exactly the certificate chains already served (nothing is
 * published or retired, so a file touched over and over costs no memory), or
 * -1 with a message naming the file in err (nothing changes). Thread-safe.
 * Memory: each published bundle retires the previous one (a few KiB per pair)
 * until moat_tlsstore_free(): handshakes may still point into it. */
int moat_tlsstore_load_pairs(struct moat_tlsstore *st, const struct moat_tls_pair *pairs, size_t n,
                             char *err, size_t errlen);

/* Index of the pair a handshake with server name server_name (NULL: none)
 * gets now, or -1 when nothing is loaded. For tests and logs. */
int moat_tlsstore_pick(struct moat_tlsstore *st, const char *server_name);

/* The function to pass as MHD_OPTION_HTTPS_CERT_CALLBACK. The store is found
 * through a process-wide pointer set by moat_tlsstore_install() (GnuTLS gives
 * the callback no closure). Gives the current set's chain and key (borrowed
 * until moat_tlsstore_free()); returns -1 when no store is installed or the
 * installed store has nothing loaded (the handshake then fails). The pair is
 * chosen by the client's server name (see top). */
int moat_tlsstore_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                           const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                           gnutls_pcert_st **pcert, unsigned int *pcert_length,
                           gnutls_privkey_t *pkey);

/* Makes st the store that moat_tlsstore_retrieve() serves from (NULL to clear). */
void moat_tlsstore_install(struct moat_tlsstore *st);

/* Frees every set the store ever held. Only after no handshake can run. */
void moat_tlsstore_free(struct moat_tlsstore *st);

#endif
