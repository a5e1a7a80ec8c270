/* ratelimit.c - per-client and global lockouts after repeated failed shutdown attempts (pure). */
#include "moat/ratelimit.h"
#include "moat/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define KEY_LEN 17u      /* a family tag, then up to 16 address bytes */
#define MAX_TABLE 65536u /* bound of table_size */
#define KEY_UNKNOWN 0u   /* key[0]: not IPv4/IPv6 */
#define KEY_V4 4u        /* key[0]: IPv4, 4 bytes */
#define KEY_V6 6u        /* key[0]: IPv6 /64, 8 bytes */
/* Bound of max_cooldown_ms, so that Retry-After stays small. */
#define MAX_COOLDOWN_MS (7ull * 24 * 3600 * 1000)

/* The failure history of one key (a client, or everyone). */
struct rl_state {
    uint64_t fails[MOAT_RATELIMIT_MAX_FAILURES_CAP]; /* ring of the latest failure times */
    unsigned nfails;                                 /* valid entries in fails */
    unsigned head;                                   /* slot the next failure goes to */
    uint64_t locked_until;                           /* locked out while now < this */
    unsigned level; /* lockouts so far: the cooldown doubles per level */
};

/* One remembered client. */
struct rl_entry {
    unsigned char key[KEY_LEN]; /* see make_key */
    int used;                   /* slot holds a client */
    uint64_t last_seen;         /* time of its latest failure */
    struct rl_state st;         /* its history */
};

struct moat_ratelimit {
    struct moat_ratelimit_cfg cfg; /* validated copy */
    pthread_mutex_t lock;          /* guards everything below */
    struct rl_state global;        /* all clients together */
    struct rl_entry *table;        /* cfg.table_size entries */
};

void moat_ratelimit_cfg_default(struct moat_ratelimit_cfg *cfg)
{
    cfg->max_failures = 5;
    cfg->global_max_failures = 20;
    cfg->window_ms = 60000;
    cfg->cooldown_ms = 30000;
    cfg->max_cooldown_ms = 3600000;
    cfg->table_size = 1024;
}

/* Returns 0 when cfg is usable, else -1 with err naming the field. */
static int cfg_check(const struct moat_ratelimit_cfg *cfg, char *err, size_t errlen)
{
    int rc = -1;

    if (cfg->max_failures < 1 || cfg->max_failures > MOAT_RATELIMIT_MAX_FAILURES_CAP)
        moat_set_err(err, errlen, "max_failures %u is out of range 1..%u", cfg->max_failures,
                     MOAT_RATELIMIT_MAX_FAILURES_CAP);
    else if (cfg->global_max_failures < 1 ||
             cfg->global_max_failures > MOAT_RATELIMIT_MAX_FAILURES_CAP)
        moat_set_err(err, errlen, "global_max_failures %u is out of range 1..%u",
                     cfg->global_max_failures, MOAT_RATELIMIT_MAX_FAILURES_CAP);
    else if (cfg->window_ms == 0)
        moat_set_err(err, errlen, "window_ms must be positive");
    else if (cfg->cooldown_ms == 0)
        moat_set_err(err, errlen, "cooldown_ms must be positive");
    else if (cfg->max_cooldown_ms < cfg->cooldown_ms || cfg->max_cooldown_ms > MAX_COOLDOWN_MS)
        moat_set_err(err, errlen, "max_cooldown_ms %llu is out of range %llu..%llu",
                     (unsigned long long)cfg->max_cooldown_ms, (unsigned long long)cfg->cooldown_ms,
                     (unsigned long long)MAX_COOLDOWN_MS);
    else if (cfg->table_size < 1 || cfg->table_size > MAX_TABLE)
        moat_set_err(err, errlen, "table_size %zu is out of range 1..%u", cfg->table_size,
                     MAX_TABLE);
    else
        rc = 0;
    return rc;
}

int moat_ratelimit_new(const struct moat_ratelimit_cfg *cfg, struct moat_ratelimit **out, char *err,
                       size_t errlen)
{
    struct moat_ratelimit *rl = NULL;
    int lock_ok = 0;
    int rc = -1;

    *out = NULL;
    if (cfg_check(cfg, err, errlen) != 0)
        goto out;
    rl = calloc(1, sizeof *rl);
    if (rl == NULL) {
        moat_set_err(err, errlen, "out of memory for the rate limiter");
        goto out;
    }
    rl->cfg = *cfg;
    if (pthread_mutex_init(&rl->lock, NULL) != 0) {
        moat_set_err(err, errlen, "cannot initialise the rate limiter's mutex");
        goto out;
    }
    lock_ok = 1;
    rl->table = calloc(cfg->table_size, sizeof *rl->table);
    if (rl->table == NULL) {
        moat_set_err(err, errlen, "out of memory for the rate limiter");
        goto out;
    }
    *out = rl;
    rl = NULL;
    rc = 0;
out:
    if (rl != NULL) {
        if (lock_ok)
            pthread_mutex_destroy(&rl->lock);
        free(rl->table);
        free(rl);
    }
    return rc;
}

void moat_ratelimit_free(struct moat_ratelimit *rl)
{
    if (rl != NULL) {
        pthread_mutex_destroy(&rl->lock);
        free(rl->table);
        free(rl);
    }
}

/* The table key of a client: IPv4 address, IPv6 /64 (IPv4-mapped: as IPv4), or "unknown". */
static void make_key(int family, const void *addr, unsigned char key[KEY_LEN])
{
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const unsigned char *a = addr;

    memset(key, 0, KEY_LEN);
    if (a == NULL) {
        key[0] = KEY_UNKNOWN;
    } else if (family == AF_INET) {
        key[0] = KEY_V4;
        memcpy(key + 1, a, 4);
    } else if (family == AF_INET6 && memcmp(a, v4mapped, sizeof v4mapped) == 0) {
        key[0] = KEY_V4;
        memcpy(key + 1, a + 12, 4);
    } else if (family == AF_INET6) {
        key[0] = KEY_V6;
        memcpy(key + 1, a, 8);
    }
}

/* The entry for key, or NULL. */
static struct rl_entry *entry_find(struct moat_ratelimit *rl, const unsigned char *key)
{
    struct rl_entry *found = NULL;
    size_t i;

    for (i = 0; i < rl->cfg.table_size && found == NULL; i++) {
        if (rl->table[i].used && memcmp(rl->table[i].key, key, KEY_LEN) == 0)
            found = &rl->table[i];
    }
    return found;
}

/* A slot for a new key: a free one, else the least recently active client not
 * locked out at now, else the least recently active one (table_size >= 1). */
static struct rl_entry *entry_claim(struct moat_ratelimit *rl, const unsigned char *key,
                                    uint64_t now)
{
    const struct rl_entry *t = rl->table;
    size_t victim = 0;    /* the slot chosen so far */
    int victim_rank = -1; /* 2 free, 1 unlocked, 0 locked */
    size_t i;

    for (i = 0; i < rl->cfg.table_size && victim_rank < 2; i++) {
        int rank = !t[i].used ? 2 : now >= t[i].st.locked_until ? 1 : 0;

        if (rank > victim_rank || (rank == victim_rank && t[i].last_seen < t[victim].last_seen)) {
            victim = i;
            victim_rank = rank;
        }
    }
    memset(&rl->table[victim], 0, sizeof rl->table[victim]);
    memcpy(rl->table[victim].key, key, KEY_LEN);
    rl->table[victim].used = 1;
    return &rl->table[victim];
}

/* The cooldown of a lockout at this level: cooldown_ms doubled level times, capped. */
static uint64_t cooldown_at(const struct moat_ratelimit_cfg *cfg, unsigned level)
{
    uint64_t c = cfg->cooldown_ms;
    unsigned i;

    for (i = 0; i < level && c < cfg->max_cooldown_ms; i++)
        c *= 2;
    return c < cfg->max_cooldown_ms ? c : cfg->max_cooldown_ms;
}

/* Records one failure at now against st (threshold failures within the window lock). */
static void state_fail(struct rl_state *st, const struct moat_ratelimit_cfg *cfg,
                       unsigned threshold, uint64_t now)
{
    uint64_t oldest;

    /* Failures racing a lockout (check said ALLOWED just before) are not counted twice. */
    if (now < st->locked_until)
        goto out;
    /* A quiet period as long as the longest cooldown forgets the doubling. */
    if (st->level > 0 && now - st->locked_until >= cfg->max_cooldown_ms)
        st->level = 0;
    st->fails[st->head] = now;
    st->head = (st->head + 1) % threshold;
    if (st->nfails < threshold)
        st->nfails++;
    if (st->nfails < threshold)
        goto out;
    /* Full ring: fails[head] is the threshold-th latest failure. */
    oldest = st->fails[st->head];
    if (now >= oldest && now - oldest >= cfg->window_ms)
        goto out;
    st->locked_until = now + cooldown_at(cfg, st->level);
    if (st->level < 64)
        st->level++;
    st->nfails = 0;
    st->head = 0;
out:
    return;
}

/* The verdict at now given the global state and the client's (e may be NULL). */
static enum moat_ratelimit_verdict verdict(const struct moat_ratelimit *rl,
                                           const struct rl_entry *e, uint64_t now,
                                           unsigned *retry_after_s)
{
    uint64_t until = rl->global.locked_until;
    enum moat_ratelimit_verdict v = MOAT_RATELIMIT_ALLOWED;
    uint64_t secs = 0;

    if (e != NULL && e->st.locked_until > until)
        until = e->st.locked_until;
    if (now < until) {
        v = MOAT_RATELIMIT_LOCKED;
        secs = (until - now + 999) / 1000;
    }
    if (retry_after_s != NULL)
        *retry_after_s = (unsigned)secs;
    return v;
}

enum moat_ratelimit_verdict moat_ratelimit_check(struct moat_ratelimit *rl, int family,
                                                 const void *addr, uint64_t now_ms,
                                                 unsigned *retry_after_s)
{
    unsigned char key[KEY_LEN];
    enum moat_ratelimit_verdict v;

    make_key(family, addr, key);
    pthread_mutex_lock(&rl->lock);
    v = verdict(rl, entry_find(rl, key), now_ms, retry_after_s);
    pthread_mutex_unlock(&rl->lock);
    return v;
}

enum moat_ratelimit_verdict moat_ratelimit_fail(struct moat_ratelimit *rl, int family,
                                                const void *addr, uint64_t now_ms,
                                                unsigned *retry_after_s)
{
    unsigned char key[KEY_LEN];
    struct rl_entry *e;
    enum moat_ratelimit_verdict v;

    make_key(family, addr, key);
    pthread_mutex_lock(&rl->lock);
    e = entry_find(rl, key);
    if (e == NULL)
        e = entry_claim(rl, key, now_ms);
    e->last_seen = now_ms;
    state_fail(&e->st, &rl->cfg, rl->cfg.max_failures, now_ms);
    state_fail(&rl->global, &rl->cfg, rl->cfg.global_max_failures, now_ms);
    v = verdict(rl, e, now_ms, retry_after_s);
    pthread_mutex_unlock(&rl->lock);
    return v;
}

void moat_ratelimit_success(struct moat_ratelimit *rl, int family, const void *addr,
                            uint64_t now_ms)
{
    unsigned char key[KEY_LEN];
    struct rl_entry *e;

    (void)now_ms;
    make_key(family, addr, key);
    pthread_mutex_lock(&rl->lock);
    e = entry_find(rl, key);
    if (e != NULL)
        memset(e, 0, sizeof *e);
    pthread_mutex_unlock(&rl->lock);
}
