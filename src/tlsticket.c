/* tlsticket.c - the session-ticket master key: guarded memory, scheduled
 * replacement, wiped on every path. */
#include "moat/tlsticket.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define TICKET_KEY_BYTES 64 /* GnuTLS's master key size (gnutls_session_ticket_key_generate) */

struct moat_tlsticket {
    pthread_mutex_t lock;     /* guards key, next_ms and generation */
    unsigned char *key;       /* TICKET_KEY_BYTES, sodium_malloc'd (guarded, locked) */
    unsigned rotation_s;      /* period of the master key and ticket lifetime */
    uint64_t next_ms;         /* monotonic time of the next replacement, 0 = not scheduled */
    unsigned long generation; /* keys generated so far */
};

struct moat_tlsticket *moat_tlsticket_new(unsigned rotation_s)
{
    struct moat_tlsticket *t = NULL;

    if (rotation_s == 0 || sodium_init() < 0)
        goto out;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        goto out;
    t->key = sodium_malloc(TICKET_KEY_BYTES);
    if (t->key == NULL || pthread_mutex_init(&t->lock, NULL) != 0) {
        if (t->key != NULL)
            sodium_free(t->key);
        free(t);
        t = NULL;
        goto out;
    }
    t->rotation_s = rotation_s;
    randombytes_buf(t->key, TICKET_KEY_BYTES);
    t->generation = 1;
out:
    return t;
}

void moat_tlsticket_rotate(struct moat_tlsticket *t, uint64_t now_ms)
{
    pthread_mutex_lock(&t->lock);
    /* randombytes_buf overwrites every byte: nothing of the old key remains. */
    randombytes_buf(t->key, TICKET_KEY_BYTES);
    t->generation++;
    t->next_ms = now_ms + (uint64_t)t->rotation_s * 1000u;
    pthread_mutex_unlock(&t->lock);
}

int moat_tlsticket_tick(struct moat_tlsticket *t, uint64_t now_ms)
{
    int due = 0;

    if (t == NULL)
        goto out;
    pthread_mutex_lock(&t->lock);
    if (t->next_ms == 0)
        t->next_ms = now_ms + (uint64_t)t->rotation_s * 1000u; /* first tick: schedule */
    due = now_ms >= t->next_ms;
    pthread_mutex_unlock(&t->lock);
    if (due)
        moat_tlsticket_rotate(t, now_ms);
out:
    return due;
}

int moat_tlsticket_apply(struct moat_tlsticket *t, gnutls_session_t session)
{
    gnutls_datum_t k;
    int rc = 0;

    if (t == NULL)
        goto out;
    pthread_mutex_lock(&t->lock);
    k.data = t->key;
    k.size = TICKET_KEY_BYTES;
    rc = gnutls_session_ticket_enable_server(session, &k); /* copies the key */
    pthread_mutex_unlock(&t->lock);
    if (rc == 0)
        gnutls_db_set_cache_expiration(session, (int)t->rotation_s);
out:
    return rc;
}

unsigned long moat_tlsticket_generation(struct moat_tlsticket *t)
{
    unsigned long g;

    pthread_mutex_lock(&t->lock);
    g = t->generation;
    pthread_mutex_unlock(&t->lock);
    return g;
}

void moat_tlsticket_free(struct moat_tlsticket *t)
{
    if (t == NULL)
        return;
    sodium_free(t->key); /* wipes before unmapping */
    pthread_mutex_destroy(&t->lock);
    free(t);
}
