/* sandbox_int.h - internals shared by sandbox.c, sandbox_landlock.c, sandbox_seccomp.c and privs.c
 * (not installed). */
#ifndef MOAT_SANDBOX_INT_H
#define MOAT_SANDBOX_INT_H

#include <stddef.h>

#include "moat/sandbox.h"

/* Threads in this process ("Threads:" of /proc/self/status), 0 when unknown. */
unsigned moat_sb_thread_count(void);

/* Appends "; text" (or "text" when empty) to rep->note, truncating. */
void moat_sb_note(struct moat_sandbox_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Installs the Landlock ruleset for the calling thread (NO_NEW_PRIVS already
 * set). Sets rep->landlock, landlock_abi, landlock_net. Returns 0 (also when the
 * kernel lacks Landlock), or -1 with err set when a supported step failed. */
int moat_sb_landlock_apply(const struct moat_sandbox_cfg *cfg, struct moat_sandbox_report *rep,
                           char *err, size_t errlen);

/* Builds and loads the seccomp filter on every thread (TSYNC). Sets
 * rep->seccomp. Returns 0, or -1 with err set. */
int moat_sb_seccomp_apply(const struct moat_sandbox_cfg *cfg, struct moat_sandbox_report *rep,
                          char *err, size_t errlen);

#endif
