/* tlswatch.h - notices when served certificate or key files change, by
 * polling stat() (which follows symbolic links).
 *
 * Polling, not inotify: it sees Kubernetes' Secret volumes, whose files are
 * symbolic links through "..data" to a timestamped directory replaced by an
 * atomic rename of "..data" (the link path never changes, the file it resolves
 * to does), as well as in-place writes, renames over the file, and files that
 * vanish and come back. A file's state is its device, inode, size, mtime and
 * ctime (nanoseconds); a file that cannot be stat'ed has the state "missing".
 *
 * Not thread-safe: one owner (the main loop). No allocation after init. */
#ifndef MOAT_TLSWATCH_H
#define MOAT_TLSWATCH_H

#include <stddef.h>
#include <stdint.h>

#include "moat/tlsconf.h"

#define MOAT_TLSWATCH_MAX (2 * MOAT_TLS_MAX_PAIRS) /* files watched at most */

/* What stat() said about one file. */
struct moat_tlswatch_state {
    int present;      /* 1 when stat() succeeded; the fields below are 0 otherwise */
    uint64_t dev;     /* st_dev */
    uint64_t ino;     /* st_ino */
    int64_t size;     /* st_size */
    int64_t mtime_ns; /* st_mtim in nanoseconds */
    int64_t ctime_ns; /* st_ctim in nanoseconds */
};

/* The files watched and their last seen states. Caller-owned, no pointers. */
struct moat_tlswatch {
    size_t n;                                           /* files in path */
    char path[MOAT_TLSWATCH_MAX][MOAT_TLS_PAIR_PATH];   /* the configured paths (not resolved) */
    struct moat_tlswatch_state seen[MOAT_TLSWATCH_MAX]; /* state at the last init/poll */
    int pending;                                        /* changed at the last poll, not reported */
};

/* True when two states differ (pure). */
int moat_tlswatch_state_differs(const struct moat_tlswatch_state *a,
                                const struct moat_tlswatch_state *b);

/* stat()s path into *out (present = 0 when it cannot be stat'ed). */
void moat_tlswatch_stat(const char *path, struct moat_tlswatch_state *out);

/* Watches the cert and key files of n pairs (n <= MOAT_TLS_MAX_PAIRS) and
 * records their states now. Returns 0, or -1 when n is too large. */
int moat_tlswatch_init(struct moat_tlswatch *w, const struct moat_tls_pair *pairs, size_t n);

/* stat()s every file again. A change is reported once the files have stayed
 * as they are for one whole poll period (so a writer that replaces the
 * certificate and then the key, or writes a file in several steps, is not
 * caught half-way): returns 1 when the previous poll saw a change and this one
 * sees none, 0 otherwise. */
int moat_tlswatch_poll(struct moat_tlswatch *w);

#endif
