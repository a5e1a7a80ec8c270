/* fileio.h - reading small files that may hold secrets (PEM keys, tokens).
 *
 * One careful reader instead of one per module: regular files only (a FIFO
 * is refused at once, not waited on), a size cap, a file that grows while
 * being read is refused, and every buffer that held file bytes is wiped
 * before it is freed on every path. */
#ifndef MOAT_FILEIO_H
#define MOAT_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Reads the regular file at path (at most max bytes) into a new buffer,
 * NUL-terminated: *out (caller wipes *cap bytes, e.g. sodium_memzero, then
 * frees), *len its length, *cap its allocated size, *mode the file's st_mode
 * (mode may be NULL). `what` names the file in messages ("key file").
 * Returns 0, or -1 with a one-line message in err naming the file. */
int moat_file_read(const char *path, const char *what, size_t max, char **out, size_t *len,
                   size_t *cap, mode_t *mode, char *err, size_t errlen);

#endif
