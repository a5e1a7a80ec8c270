/* admin_policy.c - the admin listener's pure decisions: which endpoint a
 * request asks for, and whether /readyz says ready (and if not, why). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "moat/admin.h"
#include "moat/shutdown.h"

/* One admin endpoint: its path, what it answers and the methods it takes. */
struct admin_path {
    const char *path;            /* exact path */
    enum moat_admin_route route; /* answer for an allowed method */
    const char *allow;           /* Allow header value: the methods below */
};

/* The probes take GET and HEAD (HEAD: same head, no body); the shutdown POST only. */
static const struct admin_path admin_paths[] = {
    {"/metrics", MOAT_ADMIN_METRICS, "GET, HEAD"},
    {"/healthz", MOAT_ADMIN_HEALTHZ, "GET, HEAD"},
    {"/readyz", MOAT_ADMIN_READYZ, "GET, HEAD"},
    {MOAT_SHUTDOWN_PATH, MOAT_ADMIN_SHUTDOWN, "POST"},
};

/* True when method is one the path's Allow value lists. */
static int method_allowed(const struct admin_path *p, const char *method)
{
    if (p->route == MOAT_ADMIN_SHUTDOWN)
        return strcmp(method, "POST") == 0;
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

void moat_admin_route(const char *method, const char *path, struct moat_admin_match *out)
{
    size_t i;

    out->route = MOAT_ADMIN_NOT_FOUND;
    out->allow = NULL;
    if (method == NULL || path == NULL)
        return;
    for (i = 0; i < sizeof(admin_paths) / sizeof(admin_paths[0]); i++) {
        if (strcmp(path, admin_paths[i].path) != 0)
            continue;
        out->allow = admin_paths[i].allow;
        if (method_allowed(&admin_paths[i], method))
            out->route = admin_paths[i].route;
        else
            out->route = MOAT_ADMIN_BAD_METHOD;
        return;
    }
}

int moat_admin_ready(const struct moat_admin_ready_in *in, char *why, size_t cap)
{
    int ready = 0;

    if (in->lockdown)
        snprintf(why, cap, "lockdown: the service was stopped by an emergency shutdown");
    else if (in->draining)
        snprintf(why, cap, "draining: moat is shutting down");
    else if (in->check_off)
        ready = 1;
    else if (!in->checked)
        snprintf(why, cap, "upstream not checked yet");
    else if (in->check_error != NULL)
        snprintf(why, cap, "upstream unreachable: %s", in->check_error);
    else if (in->ok_age_ms == UINT64_MAX)
        snprintf(why, cap, "upstream never accepted a connection");
    else if (in->ok_age_ms > in->max_age_ms)
        snprintf(why, cap,
                 "upstream check is stale: last success %" PRIu64 " ms ago (admin.ready_max_age "
                 "is %" PRIu64 " ms)",
                 in->ok_age_ms, in->max_age_ms);
    else
        ready = 1;
    if (ready && cap > 0)
        why[0] = '\0';
    return ready;
}
