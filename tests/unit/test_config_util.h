/* test_config_util.h - helpers shared by the configuration tests: argv/envp building, temp files.
 */
#ifndef MOAT_TEST_CONFIG_UTIL_H
#define MOAT_TEST_CONFIG_UTIL_H

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "moat/config.h"

#define MAXW 32

/* Mutable copies of argv/envp words (the loader takes char **). */
struct words {
    char store[8192];
    char *v[MAXW + 1];
    int n;
};

static inline void words_set(struct words *w, const char *const *src)
{
    size_t used = 0;
    size_t len;

    w->n = 0;
    for (; src != NULL && *src != NULL && w->n < MAXW; src++) {
        len = strlen(*src) + 1;
        ck_assert_uint_le(used + len, sizeof w->store);
        memcpy(w->store + used, *src, len);
        w->v[w->n++] = w->store + used;
        used += len;
    }
    w->v[w->n] = NULL;
}

static inline void words_add(struct words *w, const char *s)
{
    size_t used = 0;
    int i;

    for (i = 0; i < w->n; i++)
        used += strlen(w->v[i]) + 1;
    ck_assert_int_lt(w->n, MAXW);
    ck_assert_uint_le(used + strlen(s) + 1, sizeof w->store);
    memcpy(w->store + used, s, strlen(s) + 1);
    w->v[w->n++] = w->store + used;
    w->v[w->n] = NULL;
}

/* Loads with argv = {"moat", args...} and the given environment. */
static inline int load(const char *const *args, const char *const *env, struct moat_config *cfg,
                       struct moat_cli *cli, char *err, size_t errlen)
{
    struct words a;
    struct words e;
    const char *const none[] = {NULL};
    int i;

    words_set(&a, none);
    words_add(&a, "moat");
    for (i = 0; args != NULL && args[i] != NULL; i++)
        words_add(&a, args[i]);
    words_set(&e, env);
    return moat_config_load(cfg, cli, a.n, a.v, e.v, err, errlen);
}

/* Writes content[0..len) (it may hold NUL bytes) to a new temp file; path receives its name. */
static inline void temp_file_n(char *path, size_t pathlen, const char *content, size_t len)
{
    int fd;

    snprintf(path, pathlen, "/tmp/moat-test-config-XXXXXX"); /* mkstemp's template */
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
}

/* Writes the string content to a new temp file; path receives its name. */
static inline void temp_file(char *path, size_t pathlen, const char *content)
{
    temp_file_n(path, pathlen, content, strlen(content));
}

#endif
