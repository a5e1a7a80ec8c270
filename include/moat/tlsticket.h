/* tlsticket.h - TLS session tickets (RFC 5077 for TLS 1.2, PSK tickets for
 * TLS 1.3) for the HTTPS listener: one master key, replaced on a schedule and
 * wiped.
 *
 * GnuTLS 3.7 derives its ticket encryption keys from the master key given to
 * gnutls_session_ticket_enable_server() and rotates those derived keys itself,
 * but every derived key follows from the master key: a leaked master key would
 * open every ticket it ever protected. So moat replaces the master key itself
 * every `rotation` and wipes the old one; tickets issued under it stop being
 * accepted (those clients do a full handshake once). Ticket lifetime is set to
 * the rotation period.
 *
 * The key lives in libsodium guarded memory (allocated before the sandbox is
 * applied; rotation only needs getrandom). Thread-safe: worker threads apply
 * the key to new sessions while the main thread rotates it. */
#ifndef MOAT_TLSTICKET_H
#define MOAT_TLSTICKET_H

#include <stdint.h>

#include <gnutls/gnutls.h>

struct moat_tlsticket; /* opaque */

/* Creates the ticket state with a fresh random master key, replaced every
 * rotation_s seconds (>= 1) by moat_tlsticket_tick(). Returns NULL when memory
 * or randomness is unavailable. Caller frees with moat_tlsticket_free(). */
struct moat_tlsticket *moat_tlsticket_new(unsigned rotation_s);

/* Replaces the master key when its period is over at now_ms (a monotonic
 * clock, milliseconds). Returns 1 when it was replaced, 0 otherwise. */
int moat_tlsticket_tick(struct moat_tlsticket *t, uint64_t now_ms);

/* Replaces the master key now (the old one is wiped). */
void moat_tlsticket_rotate(struct moat_tlsticket *t, uint64_t now_ms);

/* Enables tickets on a server session before its handshake, with the current
 * master key (GnuTLS copies it) and the ticket lifetime. t NULL: nothing.
 * Returns 0, or a negative GnuTLS error code. */
int moat_tlsticket_apply(struct moat_tlsticket *t, gnutls_session_t session);

/* Key generations so far (1 after new; +1 per rotation). For tests and logs. */
unsigned long moat_tlsticket_generation(struct moat_tlsticket *t);

/* Wipes the key and frees t (NULL is fine). Only once no session can be
 * started with it. */
void moat_tlsticket_free(struct moat_tlsticket *t);

#endif
