/* tlswatch.c - change detection for the served certificate and key files
 * (stat polling; see tlswatch.h for why not inotify). */
#include "moat/tlswatch.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int moat_tlswatch_state_differs(const struct moat_tlswatch_state *a,
                                const struct moat_tlswatch_state *b)
{
    return a->present != b->present || a->dev != b->dev || a->ino != b->ino || a->size != b->size ||
           a->mtime_ns != b->mtime_ns || a->ctime_ns != b->ctime_ns;
}

void moat_tlswatch_stat(const char *path, struct moat_tlswatch_state *out)
{
    struct stat st;

    memset(out, 0, sizeof(*out));
    if (stat(path, &st) != 0)
        return;
    out->present = 1;
    out->dev = (uint64_t)st.st_dev;
    out->ino = (uint64_t)st.st_ino;
    out->size = (int64_t)st.st_size;
    out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    out->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
}

int moat_tlswatch_init(struct moat_tlswatch *w, const struct moat_tls_pair *pairs, size_t n)
{
    size_t i;
    int rc = -1;

    memset(w, 0, sizeof(*w));
    if (n > MOAT_TLS_MAX_PAIRS)
        goto out;
    for (i = 0; i < n; i++) {
        snprintf(w->path[w->n++], MOAT_TLS_PAIR_PATH, "%s", pairs[i].cert);
        snprintf(w->path[w->n++], MOAT_TLS_PAIR_PATH, "%s", pairs[i].key);
    }
    for (i = 0; i < w->n; i++)
        moat_tlswatch_stat(w->path[i], &w->seen[i]);
    rc = 0;
out:
    return rc;
}

int moat_tlswatch_poll(struct moat_tlswatch *w)
{
    struct moat_tlswatch_state now;
    size_t i;
    int changed = 0;

    for (i = 0; i < w->n; i++) {
        moat_tlswatch_stat(w->path[i], &now);
        if (moat_tlswatch_state_differs(&now, &w->seen[i])) {
            w->seen[i] = now;
            changed = 1;
        }
    }
    if (changed) {
        w->pending = 1;
        changed = 0;
    } else if (w->pending) {
        w->pending = 0;
        changed = 1;
    }
    return changed;
}
