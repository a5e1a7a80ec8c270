/* fuzz_config.c - libFuzzer target: the configuration file (config.c on libinih, every key's
 * parser and validator, the cross-key checks) and --check-config's printed configuration.
 *
 * Input: the bytes of a config file, loaded with --dev (so no TLS files are
 * needed). Whatever the file holds, loading gives 0, or -1 with a one-line
 * message; a file with a NUL byte never loads. A configuration that loads must print, and the
 * printed text must itself load to the same configuration and print the same again (the contract of
 * moat_config_print that --check-config users rely on). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "moat/config.h"
#include "moat/log.h"

#include "fuzz_common.h"

#define FZ_PRINT_MAX (256 * 1024)

/* A memfd and the path that opens it again. */
struct fz_file {
    int fd;        /* memfd */
    char path[64]; /* /proc/self/fd/N */
};

static struct fz_file fz_in;
static struct fz_file fz_out;
static struct fz_file fz_out2;

static void fz_file_init(struct fz_file *f)
{
    if (f->path[0] != '\0')
        return;
    f->fd = memfd_create("fuzz_config", MFD_CLOEXEC);
    FZ_CHECK(f->fd >= 0);
    snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
}

/* Replaces the file's content with data[0..len). */
static void fz_file_set(struct fz_file *f, const void *data, size_t len)
{
    FZ_CHECK(ftruncate(f->fd, 0) == 0 && lseek(f->fd, 0, SEEK_SET) == 0);
    FZ_CHECK(len == 0 || write(f->fd, data, len) == (ssize_t)len);
}

/* Prints cfg into f and returns its text (static buffer), NUL-terminated. */
static const char *fz_print(const struct moat_config *cfg, struct fz_file *f, char *buf)
{
    ssize_t got;

    fz_file_set(f, "", 0);
    FZ_CHECK(moat_config_print(cfg, f->fd) == 0);
    FZ_CHECK(lseek(f->fd, 0, SEEK_SET) == 0);
    got = read(f->fd, buf, FZ_PRINT_MAX - 1);
    FZ_CHECK(got > 0);
    buf[got] = '\0';
    return buf;
}

static int fz_load(const char *path, int dev, struct moat_config *cfg, char *err, size_t errlen)
{
    static char arg0[] = "moat";
    static char dev_flag[] = "--dev";
    char opt[96];
    char *argv[4];
    char *envp[1] = {NULL};
    struct moat_cli cli;
    int argc = 0;

    snprintf(opt, sizeof(opt), "--config=%s", path);
    argv[argc++] = arg0;
    argv[argc++] = opt;
    if (dev)
        argv[argc++] = dev_flag;
    argv[argc] = NULL;
    return moat_config_load(cfg, &cli, argc, argv, envp, err, errlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct moat_config cfg;
    static struct moat_config again;
    static char text[FZ_PRINT_MAX];
    static char text2[FZ_PRINT_MAX];
    char err[1024];
    int rc;

    if (fz_in.path[0] == '\0') {
        int null_fd = memfd_create("fuzz_config_log", MFD_CLOEXEC);

        FZ_CHECK(null_fd >= 0);
        moat_log_setup(MOAT_LOG_ERROR, null_fd); /* warnings are not what is checked */
    }
    fz_file_init(&fz_in);
    fz_file_init(&fz_out);
    fz_file_init(&fz_out2);
    fz_file_set(&fz_in, data, size);

    memset(err, 'G', sizeof(err));
    rc = fz_load(fz_in.path, 1, &cfg, err, sizeof(err));
    if (rc != 0) {
        FZ_CHECK(rc == -1);
        FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
        FZ_CHECK(strchr(err, '\n') == NULL);
        return 0;
    }
    FZ_CHECK(memchr(data, '\0', size) == NULL); /* a NUL byte is refused, never cut at */

    /* The printed configuration is a config file giving the same configuration. */
    fz_print(&cfg, &fz_out, text);
    memset(err, 0, sizeof(err));
    rc = fz_load(fz_out.path, 0, &again, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "printed config does not load: %s\n", err);
        FZ_CHECK(0);
    }
    memcpy(again.source_file, cfg.source_file, sizeof(again.source_file));
    memcpy(again.sources, cfg.sources, sizeof(again.sources));
    FZ_CHECK(memcmp(&cfg, &again, sizeof(cfg)) == 0);
    fz_print(&again, &fz_out2, text2);
    return 0;
}
