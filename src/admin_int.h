/* admin_int.h - internals shared by the admin listener (admin.c) and its
 * upstream check thread (admin_ready.c). Not a public API. */
#ifndef MOAT_ADMIN_INT_H
#define MOAT_ADMIN_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "moat/admin.h"

/* The periodic upstream check behind /readyz: a thread that connects to the
 * upstream every admin.ready_interval and keeps the latest outcome. */
struct adm_probe {
    const struct moat_config *cfg; /* borrowed */
    pthread_mutex_t lock;          /* guards everything below */
    pthread_cond_t wake;           /* signals stop (CLOCK_MONOTONIC waits) */
    int stop;                      /* the thread must exit */
    int running;                   /* the thread was started and not joined */
    pthread_t thread;              /* the check thread */
    int checked;                   /* at least one check finished */
    int ok;                        /* the latest check succeeded */
    uint64_t ok_ms;                /* moat_now_ms() of the last success, 0: never */
    char error[256];               /* the latest failure's reason, "" after a success */
};

/* Prepares p for cfg (borrowed). Returns 0, or -1 when the lock cannot be made. */
int adm_probe_init(struct adm_probe *p, const struct moat_config *cfg);

/* Starts the check thread; its first check runs at once. Returns 0 or -1. */
int adm_probe_start(struct adm_probe *p);

/* Stops and joins the thread (a check under way finishes first, bounded by
 * admin.ready_timeout), then releases p. Safe after a failed start. */
void adm_probe_destroy(struct adm_probe *p);

/* Decides /readyz from the latest outcome and the flags (moat_admin_ready).
 * Returns 1 when ready, else 0 with the reason in why. Any thread. */
int adm_probe_ready(struct adm_probe *p, int draining, int lockdown, char *why, size_t cap);

#endif
