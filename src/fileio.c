/* fileio.c - careful reads of small, possibly secret files. */
#include "moat/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int moat_file_read(const char *path, const char *what, size_t max, char **out, size_t *len,
                   size_t *cap, mode_t *mode, char *err, size_t errlen)
{
    struct stat sb;
    char *buf = NULL;
    size_t size = 0, used = 0;
    ssize_t n;
    int fd = -1;
    int rc = -1;

    *out = NULL;
    *len = 0;
    *cap = 0;
    /* O_NONBLOCK: opening a FIFO planted at the path must not wait for a
     * writer (it is then refused as not a regular file). */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s %s: %s", what, path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "cannot stat %s %s: %s", what, path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s %s is not a regular file", what, path);
        goto out;
    }
    if ((uint64_t)sb.st_size > (uint64_t)max) {
        snprintf(err, errlen, "%s %s is larger than %zu bytes", what, path, max);
        goto out;
    }
    size = (size_t)sb.st_size + 1;
    buf = malloc(size);
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory reading %s %s", what, path);
        goto out;
    }
    for (;;) {
        n = read(fd, buf + used, size - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used == size) {
            /* The file grew while being read: refuse rather than chase it. */
            snprintf(err, errlen, "%s %s changed while being read", what, path);
            goto out;
        }
    }
    buf[used] = '\0';
    if (mode != NULL)
        *mode = sb.st_mode;
    *out = buf;
    *len = used;
    *cap = size;
    buf = NULL;
    rc = 0;
out:
    if (buf != NULL) {
        sodium_memzero(buf, size);
        free(buf);
    }
    if (fd >= 0)
        close(fd);
    return rc;
}
