/* connlimit.c - total and per-address client connection counting. */
#include "moat/connlimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define CL_BUCKETS 1024 /* hash buckets; chains hold one entry per address */

struct cl_entry {
    unsigned char key[17]; /* family tag + 16 address bytes */
    unsigned count;        /* open connections from this address */
    struct cl_entry *next; /* bucket chain */
};

struct moat_connlimit {
    pthread_mutex_t lock;                 /* guards everything below */
    unsigned max_total;                   /* 0 = unlimited */
    unsigned max_per_ip;                  /* 0 = unlimited */
    unsigned total;                       /* connections counted */
    struct cl_entry *buckets[CL_BUCKETS]; /* per-address counts */
};

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Builds the lookup key. Returns 0 when the address has none (e.g. AF_UNIX). */
static int cl_key(int family, const unsigned char *addr, unsigned char key[17])
{
    memset(key, 0, 17);
    if (addr == NULL)
        return 0;
    if (family == AF_INET6 && memcmp(addr, v4mapped, 12) == 0) {
        family = AF_INET;
        addr += 12;
    }
    if (family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, addr, 4);
        return 1;
    }
    if (family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, addr, 16);
        return 1;
    }
    return 0;
}

static size_t cl_hash(const unsigned char key[17])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    size_t i;

    for (i = 0; i < 17; i++) {
        h ^= key[i];
        h *= 16777619u;
    }
    return h % CL_BUCKETS;
}

static struct cl_entry *cl_find(struct moat_connlimit *cl, const unsigned char key[17],
                                struct cl_entry ***link)
{
    struct cl_entry **pp = &cl->buckets[cl_hash(key)];

    while (*pp != NULL && memcmp((*pp)->key, key, 17) != 0)
        pp = &(*pp)->next;
    if (link != NULL)
        *link = pp;
    return *pp;
}

struct moat_connlimit *moat_connlimit_new(unsigned max_total, unsigned max_per_ip)
{
    struct moat_connlimit *cl = calloc(1, sizeof(*cl));

    if (cl == NULL)
        return NULL;
    pthread_mutex_init(&cl->lock, NULL);
    cl->max_total = max_total;
    cl->max_per_ip = max_per_ip;
    return cl;
}

enum moat_connlimit_verdict moat_connlimit_admit(struct moat_connlimit *cl, int family,
                                                 const unsigned char *addr)
{
    enum moat_connlimit_verdict v = MOAT_CONNLIMIT_OK;
    unsigned char key[17];
    struct cl_entry *e;
    int keyed = cl_key(family, addr, key);

    pthread_mutex_lock(&cl->lock);
    if (cl->max_total != 0 && cl->total >= cl->max_total) {
        v = MOAT_CONNLIMIT_TOTAL;
    } else if (keyed && cl->max_per_ip != 0) {
        e = cl_find(cl, key, NULL);
        if (e != NULL && e->count >= cl->max_per_ip)
            v = MOAT_CONNLIMIT_PER_IP;
    }
    pthread_mutex_unlock(&cl->lock);
    return v;
}

int moat_connlimit_add(struct moat_connlimit *cl, int family, const unsigned char *addr)
{
    unsigned char key[17];
    struct cl_entry **link;
    struct cl_entry *e;
    int rc = 0;

    pthread_mutex_lock(&cl->lock);
    cl->total++;
    if (cl_key(family, addr, key)) {
        e = cl_find(cl, key, &link);
        if (e == NULL) {
            e = calloc(1, sizeof(*e));
            if (e == NULL) {
                rc = -1;
                goto out;
            }
            memcpy(e->key, key, 17);
            *link = e;
        }
        e->count++;
    }
out:
    pthread_mutex_unlock(&cl->lock);
    return rc;
}

void moat_connlimit_remove(struct moat_connlimit *cl, int family, const unsigned char *addr)
{
    unsigned char key[17];
    struct cl_entry **link;
    struct cl_entry *e;

    pthread_mutex_lock(&cl->lock);
    if (cl->total > 0)
        cl->total--;
    if (cl_key(family, addr, key)) {
        e = cl_find(cl, key, &link);
        if (e != NULL && --e->count == 0) {
            *link = e->next;
            free(e);
        }
    }
    pthread_mutex_unlock(&cl->lock);
}

unsigned moat_connlimit_total(struct moat_connlimit *cl)
{
    unsigned n;

    pthread_mutex_lock(&cl->lock);
    n = cl->total;
    pthread_mutex_unlock(&cl->lock);
    return n;
}

void moat_connlimit_free(struct moat_connlimit *cl)
{
    struct cl_entry *e, *next;
    size_t i;

    if (cl == NULL)
        return;
    for (i = 0; i < CL_BUCKETS; i++) {
        for (e = cl->buckets[i]; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&cl->lock);
    free(cl);
}

int moat_connlimit_addr_of(const struct sockaddr *sa, unsigned char addr[16])
{
    int family = AF_UNSPEC;

    memset(addr, 0, 16);
    if (sa != NULL && sa->sa_family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        family = AF_INET;
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        memcpy(addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        family = AF_INET6;
    }
    return family;
}
