/* ratelimit.h - failed-attempt limiter for the emergency-shutdown endpoint (pure: time passed in).
 *
 * Failures are counted per client and globally. When a key (a client, or all
 * clients together) reaches max_failures failures within window_ms, it is
 * locked out for a cooldown that starts at cooldown_ms and doubles with each
 * further lockout up to max_cooldown_ms; the doubling is forgotten once a key
 * has gone max_cooldown_ms past the end of its last lockout without failing.
 * While the client or the whole endpoint is locked out, moat_ratelimit_check()
 * says LOCKED, and the caller must refuse (429 + Retry-After) without even
 * looking at the token: a correct token is refused too.
 *
 * Clients are keyed by IPv4 address, or by IPv6 /64 prefix (one host usually
 * holds a whole /64); IPv4-mapped IPv6 addresses count as IPv4. Any other
 * family (or a NULL address) shares one "unknown" key. The per-client table is
 * allocated once (table_size entries): when it is full the least recently
 * active client that is not locked out is forgotten (the least recently
 * active one if all are locked), so memory stays bounded whatever the number
 * of addresses; the global key still bounds attackers who rotate addresses.
 *
 * A success (correct token) clears that client's failures and cooldown growth
 * (it has shown it holds the token) but never touches the global state: it
 * neither lifts a global lockout nor resets the global count.
 *
 * Times are milliseconds from one monotonic clock (CLOCK_MONOTONIC). All
 * functions on one limiter are thread-safe (an internal mutex). */
#ifndef MOAT_RATELIMIT_H
#define MOAT_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

/* Upper bound of max_failures and global_max_failures. */
#define MOAT_RATELIMIT_MAX_FAILURES_CAP 32u

struct moat_ratelimit_cfg {
    unsigned max_failures; /* per-client failures within window_ms that lock (1..32; default 5) */
    unsigned global_max_failures; /* failures from all clients within window_ms that lock the
                                     endpoint (1..32; default 20) */
    uint64_t window_ms;           /* the counting window (default 60000) */
    uint64_t cooldown_ms;         /* first lockout (default 30000) */
    uint64_t max_cooldown_ms; /* cap of the doubling cooldown, >= cooldown_ms (default 3600000) */
    size_t table_size;        /* clients remembered (1..65536; default 1024) */
};

enum moat_ratelimit_verdict {
    MOAT_RATELIMIT_ALLOWED = 0, /* go on and verify the token */
    MOAT_RATELIMIT_LOCKED = 1,  /* refuse with 429; Retry-After as given */
};

/* Opaque limiter: the table, the global state and the mutex. */
struct moat_ratelimit;

/* Fills cfg with the defaults above. */
void moat_ratelimit_cfg_default(struct moat_ratelimit_cfg *cfg);

/* Makes a limiter (caller frees with moat_ratelimit_free); cfg is copied.
 * Returns 0, or -1 with err naming the bad field, or out of memory. */
int moat_ratelimit_new(const struct moat_ratelimit_cfg *cfg, struct moat_ratelimit **out, char *err,
                       size_t errlen);

/* Frees the limiter. NULL is a no-op. */
void moat_ratelimit_free(struct moat_ratelimit *rl);

/* Before verifying a token from the client at addr: family is AF_INET (addr =
 * 4 bytes, network order, e.g. &sin_addr) or AF_INET6 (16 bytes); addr is
 * borrowed for the call. Returns LOCKED when the client or the endpoint is
 * locked out at now_ms, with *retry_after_s (may be NULL) set to the whole
 * seconds until both lockouts have ended (at least 1); else ALLOWED and
 * *retry_after_s = 0. Records nothing. */
enum moat_ratelimit_verdict moat_ratelimit_check(struct moat_ratelimit *rl, int family,
                                                 const void *addr, uint64_t now_ms,
                                                 unsigned *retry_after_s);

/* Records a failed attempt (wrong or missing token) by the client. Returns
 * LOCKED when the client or the endpoint is now locked out (this failure may
 * have started the lockout), with *retry_after_s as for check; else ALLOWED. */
enum moat_ratelimit_verdict moat_ratelimit_fail(struct moat_ratelimit *rl, int family,
                                                const void *addr, uint64_t now_ms,
                                                unsigned *retry_after_s);

/* Records a successful attempt: forgets the client's failures and cooldown
 * growth (even a running lockout of that client); the global state is kept. */
void moat_ratelimit_success(struct moat_ratelimit *rl, int family, const void *addr,
                            uint64_t now_ms);

#endif
