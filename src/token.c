/* token.c - the shutdown token: a keyed hash in guarded memory, checked in constant time. */
#include "moat/token.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "moat/hdr.h"
#include "moat/log.h"

#define KEY_LEN crypto_generichash_KEYBYTES /* 32 */
#define HASH_LEN 32u
#define BLOCK_LEN ((size_t)MOAT_TOKEN_MAX_LEN) /* every input is padded to this many bytes */
#define LEN_BYTES 8u             /* the input length, little-endian, after the block */
#define READ_CAP (BLOCK_LEN + 2) /* a token file: the token plus CRLF */

/* Guarded memory, read-only while verifying, inaccessible otherwise. */
struct token_secret {
    unsigned char key[KEY_LEN];   /* per-process random BLAKE2b key */
    unsigned char hash[HASH_LEN]; /* keyed hash of the padded token and its length */
};

/* Guarded memory, read-write while loading or verifying, wiped and inaccessible otherwise. */
struct token_scratch {
    crypto_generichash_state st;                /* hash state (derived from the key) */
    unsigned char block[BLOCK_LEN + LEN_BYTES]; /* input padded with zeros, then its length */
    unsigned char hash[HASH_LEN];               /* keyed hash of the presented input */
};

/* sodium_malloc puts an object against the end of a page, so it is aligned to
 * the largest power of two dividing its size: keep the sizes multiples of the
 * hash state's alignment (64). */
_Static_assert(sizeof(struct token_secret) % 64 == 0, "token_secret size");
_Static_assert(sizeof(struct token_scratch) % 64 == 0, "token_scratch size");
_Static_assert(READ_CAP + 1 <= BLOCK_LEN + LEN_BYTES, "a token file fits the block");

struct moat_token {
    pthread_mutex_t lock;      /* serialises verifications (they change page protections) */
    int lock_ok;               /* lock was initialised */
    struct token_secret *sec;  /* sodium_malloc'd */
    struct token_scratch *scr; /* sodium_malloc'd */
};

/* A token68 character other than '=' (RFC 9110 section 11.2). */
static int is_tchar68(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

/* True when s[0..n) is a token68: 1*tchar68 *"=". */
static int is_token68(const unsigned char *s, size_t n)
{
    size_t i = 0;
    size_t body;

    while (i < n && is_tchar68(s[i]))
        i++;
    body = i;
    while (i < n && s[i] == '=')
        i++;
    return body > 0 && i == n;
}

void moat_token_free(struct moat_token *t)
{
    if (t != NULL) {
        /* sodium_free makes a region writable, wipes it and unmaps it. */
        sodium_free(t->sec);
        sodium_free(t->scr);
        if (t->lock_ok)
            pthread_mutex_destroy(&t->lock);
        free(t);
    }
}

/* A new token object with a fresh random key; both regions left read-write.
 * Returns NULL when out of memory. */
static struct moat_token *token_new(void)
{
    struct moat_token *t = NULL;
    struct moat_token *ret = NULL;

    t = calloc(1, sizeof *t);
    if (t == NULL)
        goto out;
    if (pthread_mutex_init(&t->lock, NULL) != 0)
        goto out;
    t->lock_ok = 1;
    t->sec = sodium_malloc(sizeof *t->sec);
    t->scr = sodium_malloc(sizeof *t->scr);
    if (t->sec == NULL || t->scr == NULL)
        goto out;
    sodium_memzero(t->sec, sizeof *t->sec);
    sodium_memzero(t->scr, sizeof *t->scr);
    randombytes_buf(t->sec->key, sizeof t->sec->key);
    ret = t;
    t = NULL;
out:
    moat_token_free(t);
    return ret;
}

/* Hashes s->block[0..BLOCK_LEN) followed by n (little-endian, 8 bytes) with
 * key into out, then wipes the hash state. The same amount of work for any n. */
static void digest(const unsigned char *key, struct token_scratch *s, size_t n, unsigned char *out)
{
    uint64_t v = (uint64_t)n;
    size_t i;

    for (i = 0; i < LEN_BYTES; i++)
        s->block[BLOCK_LEN + i] = (unsigned char)(v >> (8 * i));
    (void)crypto_generichash_init(&s->st, key, KEY_LEN, HASH_LEN);
    (void)crypto_generichash_update(&s->st, s->block, BLOCK_LEN + LEN_BYTES);
    (void)crypto_generichash_final(&s->st, out, HASH_LEN);
    sodium_memzero(&s->st, sizeof s->st);
}

/* Copies p[0..n) into block[0..BLOCK_LEN) and zero-fills the rest (n <= BLOCK_LEN).
 * Every one of the BLOCK_LEN positions is read and written with masks instead
 * of branches, so neither the bytes nor n change the instructions executed:
 * position i reads p[i] when i < n and p[n-1] (discarded) otherwise. */
static void block_fill_ct(unsigned char *block, const unsigned char *p, size_t n)
{
    static const unsigned char zero = 0;
    const size_t top = sizeof(size_t) * CHAR_BIT - 1;
    /* n == 0: read a harmless byte instead (0 - 1 masked to 0 picks index 0). */
    const size_t nz = (size_t)0 - (size_t)(n != 0);
    const unsigned char *src =
        (const unsigned char *)(((uintptr_t)p & nz) | ((uintptr_t)&zero & ~nz));
    const size_t last = (n - 1) & nz;
    size_t i;

    for (i = 0; i < BLOCK_LEN; i++) {
        /* i < n, both far below 2^63: i - n wraps and sets the top bit. */
        size_t in = (size_t)0 - ((i - n) >> top);
        size_t idx = (i & in) | (last & ~in);

        block[i] = (unsigned char)(src[idx] & (unsigned char)in);
    }
}

int moat_token_verify(struct moat_token *t, const char *presented, size_t len)
{
    int ok = 0;
    int locked = 0;
    int sec_open = 0;
    int scr_open = 0;
    size_t overlong;
    size_t n;
    int same;

    if (t == NULL || (presented == NULL && len > 0))
        goto out;
    pthread_mutex_lock(&t->lock);
    locked = 1;
    if (sodium_mprotect_readonly(t->sec) != 0)
        goto out;
    sec_open = 1;
    if (sodium_mprotect_readwrite(t->scr) != 0)
        goto out;
    scr_open = 1;
    /* Longer than any token can be: hash the first BLOCK_LEN bytes all the
     * same (equal work), then refuse whatever the comparison says. */
    overlong = (size_t)(len > BLOCK_LEN);
    n = len - ((len - BLOCK_LEN) & ((size_t)0 - overlong));
    block_fill_ct(t->scr->block, (const unsigned char *)presented, n);
    digest(t->sec->key, t->scr, n, t->scr->hash);
    same = sodium_memcmp(t->scr->hash, t->sec->hash, HASH_LEN) == 0;
    ok = same & (int)(overlong ^ 1u);
out:
    if (scr_open) {
        sodium_memzero(t->scr, sizeof *t->scr);
        (void)sodium_mprotect_noaccess(t->scr);
    }
    if (sec_open)
        (void)sodium_mprotect_noaccess(t->sec);
    if (locked)
        pthread_mutex_unlock(&t->lock);
    return ok;
}

/* Copies into buf (at most cap bytes) the value of the first NAME= entry of
 * env; *len gets the value's full length. Returns 1 when found, else 0. */
static int env_copy_first(char **env, unsigned char *buf, size_t cap, size_t *len)
{
    static const char prefix[] = MOAT_TOKEN_ENV "=";
    const size_t plen = sizeof prefix - 1;
    int found = 0;
    char **e;

    for (e = env; e != NULL && *e != NULL && !found; e++) {
        if (strncmp(*e, prefix, plen) == 0) {
            size_t vlen = strlen(*e + plen);

            memcpy(buf, *e + plen, vlen < cap ? vlen : cap);
            *len = vlen;
            found = 1;
        }
    }
    return found;
}

/* Overwrites the value (not the name) of every NAME= entry of env. */
static void env_wipe_values(char **env)
{
    static const char prefix[] = MOAT_TOKEN_ENV "=";
    const size_t plen = sizeof prefix - 1;
    char **e;

    for (e = env; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, prefix, plen) == 0)
            sodium_memzero(*e + plen, strlen(*e + plen));
    }
}

/* Removes every NAME= entry from env (keeping the others in order) and
 * overwrites each removed string whole, name included. */
static void env_drop_wipe(char **env)
{
    static const char prefix[] = MOAT_TOKEN_ENV "=";
    const size_t plen = sizeof prefix - 1;
    char **src;
    char **dst;

    for (src = dst = env; src != NULL && *src != NULL; src++) {
        if (strncmp(*src, prefix, plen) == 0)
            sodium_memzero(*src, strlen(*src));
        else
            *dst++ = *src;
    }
    if (dst != NULL)
        *dst = NULL;
}

/* Takes MOAT_SHUTDOWN_TOKEN out of the environment: copies its value (the
 * first entry of envp, else of environ) into buf (at most cap bytes; *len gets
 * the full length), then removes and overwrites every copy. Returns 1 when the
 * variable was set, else 0.
 *
 * Both removal and overwriting are needed. unsetenv() only drops the pointer
 * from the environ array: the "NAME=value" bytes execve() placed on the
 * initial stack stay there, and /proc/PID/environ (what `ps e` shows) reads
 * exactly that area (mm->env_start..env_end), whatever environ now says.
 * Overwriting the bytes alone would leave an entry in environ for getenv()
 * and for any child moat starts. So: when envp is environ, its entries are
 * removed here directly, keeping the pointers to wipe each string whole
 * (unsetenv would lose them); when envp is another array (main's envp after a
 * setenv moved environ, or a private copy), environ's values are wiped with
 * the names kept so unsetenv() still matches them, then envp's entries are
 * dropped and wiped whole. Setup is single-threaded, as environ requires. */
static int env_take(char **envp, unsigned char *buf, size_t cap, size_t *len)
{
    int found;

    *len = 0;
    found = env_copy_first(envp, buf, cap, len);
    if (!found && envp != environ)
        found = env_copy_first(environ, buf, cap, len);
    if (!found)
        goto out;
    if (envp != environ) {
        env_wipe_values(environ);
        (void)unsetenv(MOAT_TOKEN_ENV);
    }
    env_drop_wipe(envp);
out:
    return found;
}

/* Reads the token file at path into buf (cap bytes, READ_CAP + 1 at least),
 * setting *found and *len. An absent default file is *found = 0, return 0.
 * Returns -1 with err set when the file cannot be read or is unsafe. */
static int file_read(const char *path, int is_default, unsigned char *buf, size_t cap, int *found,
                     size_t *len, char *err, size_t errlen)
{
    struct stat sb;
    size_t got = 0;
    ssize_t n;
    int fd = -1;
    int rc = -1;

    *found = 0;
    *len = 0;
    /* O_NONBLOCK: a FIFO planted at the path must not hang startup. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (is_default && (errno == ENOENT || errno == ENOTDIR))
            rc = 0;
        else
            moat_set_err(err, errlen, "cannot open shutdown token file %s: %s", path,
                         strerror(errno));
        goto out;
    }
    if (fstat(fd, &sb) != 0) {
        moat_set_err(err, errlen, "cannot stat shutdown token file %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        moat_set_err(err, errlen, "shutdown token file %s is not a regular file", path);
        goto out;
    }
    if ((sb.st_mode & S_IWOTH) != 0) {
        moat_set_err(err, errlen,
                     "shutdown token file %s is writable by others (mode %04o): make it 0400", path,
                     (unsigned)(sb.st_mode & 07777));
        goto out;
    }
    if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        moat_log(
            MOAT_LOG_WARN, "shutdown_token_file_mode",
            "shutdown token file %s is accessible by group or others (mode %04o): make it 0400",
            path, (unsigned)(sb.st_mode & 07777));
    if (sb.st_size > (off_t)READ_CAP) {
        moat_set_err(err, errlen, "shutdown token is longer than %d characters (file %s)",
                     MOAT_TOKEN_MAX_LEN, path);
        goto out;
    }
    for (;;) {
        n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            moat_set_err(err, errlen, "cannot read shutdown token file %s: %s", path,
                         strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == cap)
            break;
    }
    if (got > READ_CAP) {
        moat_set_err(err, errlen, "shutdown token is longer than %d characters (file %s)",
                     MOAT_TOKEN_MAX_LEN, path);
        goto out;
    }
    /* One trailing LF or CRLF, as editors and `echo` leave. */
    if (got >= 2 && buf[got - 2] == '\r' && buf[got - 1] == '\n')
        got -= 2;
    else if (got >= 1 && buf[got - 1] == '\n')
        got -= 1;
    *found = 1;
    *len = got;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Checks the token's length and bytes; what1/what2 name its source. Returns 0 or -1 with err set.
 */
static int token_check(const unsigned char *s, size_t n, const char *what1, const char *what2,
                       char *err, size_t errlen)
{
    int rc = -1;
    size_t i;

    if (n < MOAT_TOKEN_MIN_LEN) {
        moat_set_err(err, errlen, "shutdown token is shorter than %d characters (%s%s)",
                     MOAT_TOKEN_MIN_LEN, what1, what2);
        goto out;
    }
    if (n > MOAT_TOKEN_MAX_LEN) {
        moat_set_err(err, errlen, "shutdown token is longer than %d characters (%s%s)",
                     MOAT_TOKEN_MAX_LEN, what1, what2);
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n') {
            moat_set_err(
                err, errlen,
                "shutdown token contains a NUL, CR or LF byte (%s%s); only one trailing newline "
                "is allowed",
                what1, what2);
            goto out;
        }
    }
    if (!is_token68(s, n)) {
        moat_set_err(
            err, errlen,
            "shutdown token has characters a Bearer token cannot carry (%s%s): use A-Z a-z 0-9 "
            "- . _ ~ + / and trailing '='",
            what1, what2);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

int moat_token_load(struct moat_token **out, const char *token_file, char **envp, char *err,
                    size_t errlen)
{
    struct moat_token *t = NULL;
    const char *path = token_file == NULL ? MOAT_TOKEN_DEFAULT_FILE : token_file;
    const int is_default = strcmp(path, MOAT_TOKEN_DEFAULT_FILE) == 0;
    size_t env_len = 0;
    size_t n = 0;
    int have_env;
    int have_file = 0;
    int rc = -1;

    *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (sodium_init() < 0) {
        moat_set_err(err, errlen, "cannot initialise libsodium");
        goto out;
    }
    t = token_new();
    if (t == NULL) {
        moat_set_err(err, errlen, "out of memory for the shutdown token");
        goto out;
    }
    /* The environment is scrubbed first and whatever happens next, so that a
     * token set there never reaches a child even when the file wins. */
    have_env = env_take(envp == NULL ? environ : envp, t->scr->block, READ_CAP + 1, &env_len);
    if (path[0] != '\0' &&
        file_read(path, is_default, t->scr->block, READ_CAP + 1, &have_file, &n, err, errlen) != 0)
        goto out;
    if (!have_file && !have_env) {
        rc = 0;
        goto out;
    }
    if (have_file && have_env)
        moat_log(MOAT_LOG_WARN, "shutdown_token_source",
                 "both %s and the file %s hold a shutdown token: using the file", MOAT_TOKEN_ENV,
                 path);
    if (have_file && token_check(t->scr->block, n, "file ", path, err, errlen) != 0)
        goto out;
    if (!have_file) {
        n = env_len;
        if (token_check(t->scr->block, n, "environment variable ", MOAT_TOKEN_ENV, err, errlen) !=
            0)
            goto out;
    }
    /* Same padding and length encoding as moat_token_verify. */
    memset(t->scr->block + n, 0, BLOCK_LEN - n);
    digest(t->sec->key, t->scr, n, t->sec->hash);
    sodium_memzero(t->scr, sizeof *t->scr);
    if (sodium_mprotect_noaccess(t->scr) != 0 || sodium_mprotect_noaccess(t->sec) != 0) {
        moat_set_err(err, errlen, "cannot protect the shutdown token's memory: %s",
                     strerror(errno));
        goto out;
    }
    *out = t;
    t = NULL;
    rc = 0;
out:
    /* Frees and wipes (the raw token only ever lived in t->scr->block). */
    moat_token_free(t);
    return rc;
}

int moat_token_parse_bearer(const char *header, size_t len, const char **tok, size_t *tok_len)
{
    static const char scheme[] = "Bearer";
    const size_t slen = sizeof scheme - 1;
    size_t i = 0;
    size_t end = len;
    int rc = -1;

    *tok = NULL;
    *tok_len = 0;
    if (header == NULL)
        goto out;
    while (i < end && (header[i] == ' ' || header[i] == '\t'))
        i++;
    while (end > i && (header[end - 1] == ' ' || header[end - 1] == '\t'))
        end--;
    if (end - i < slen + 2 || !moat_hdr_eq_ci(header + i, slen, scheme) || header[i + slen] != ' ')
        goto out;
    i += slen;
    while (i < end && header[i] == ' ')
        i++;
    if (!is_token68((const unsigned char *)header + i, end - i))
        goto out;
    *tok = header + i;
    *tok_len = end - i;
    rc = 0;
out:
    return rc;
}
