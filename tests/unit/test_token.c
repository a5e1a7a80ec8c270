/* test_token.c - unit tests for the shutdown token: loading, env scrubbing, verifying, Bearer. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "moat/token.h"

/* Test-material sanity: abort (a failed test) when false. */
#define MUST(c)                                                                                    \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #c);                         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
/* A literal and its length (embedded NULs kept). */
#define LIT(s) s, sizeof(s) - 1
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The token most tests load: 40 token68 characters. */
#define TOK "Kq7Wf3kP9mR2vX8yB4nH6sJ1tL5cD0gA-._~+/Z"
#define TOK_LEN (sizeof(TOK) - 1)
#define ENV_CHILD_ARG "--environ-child"

static char tmpdir[PATH_MAX];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/moat-token-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    MUST(mkdtemp(tmpdir) != NULL);
}

static void tmp_teardown(void)
{
    char cmd[PATH_MAX + 16];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    MUST(system(cmd) == 0);
}

static void pathof(char *buf, size_t cap, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", tmpdir, name);
    MUST(n > 0 && (size_t)n < cap);
}

/* Writes s[0..len) to tmpdir/name with mode; the path goes to path. */
static void write_file(char *path, size_t cap, const char *name, const char *s, size_t len,
                       mode_t mode)
{
    int fd;

    pathof(path, cap, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    MUST(fd >= 0);
    MUST(write(fd, s, len) == (ssize_t)len);
    MUST(fchmod(fd, mode) == 0);
    MUST(close(fd) == 0);
}

/* A token of n characters cycling through token68 characters (no '='). */
static char *make_token(size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
    char *s = malloc(n + 3);
    size_t i;

    MUST(s != NULL);
    for (i = 0; i < n; i++)
        s[i] = alphabet[(i * 7 + 3) % (sizeof alphabet - 1)];
    s[n] = '\0';
    return s;
}

/* Loads TOK from a private environment (no file). */
static struct moat_token *load_tok(void)
{
    char var[] = "MOAT_SHUTDOWN_TOKEN=" TOK;
    char *env[] = {var, NULL};
    struct moat_token *t = NULL;
    char err[256];

    MUST(moat_token_load(&t, "", env, err, sizeof err) == 0);
    MUST(t != NULL);
    return t;
}

/* ---- verification ---- */

struct verify_case {
    const char *name;
    const char *s; /* presented bytes */
    size_t len;
    int want;
};

static const struct verify_case verify_cases[] = {
    {"exact", LIT(TOK), 1},
    {"one byte longer", LIT(TOK "x"), 0},
    {"trailing newline", LIT(TOK "\n"), 0},
    {"trailing NUL", LIT(TOK "\0"), 0},
    {"one byte shorter", LIT("Kq7Wf3kP9mR2vX8yB4nH6sJ1tL5cD0gA-._~+/"), 0},
    {"all but the last byte", LIT("Kq7Wf3kP9mR2vX8yB4nH6sJ1tL5cD0gA-._~+/Y"), 0},
    {"last byte flipped case", LIT("Kq7Wf3kP9mR2vX8yB4nH6sJ1tL5cD0gA-._~+/z"), 0},
    {"first byte differs", LIT("Lq7Wf3kP9mR2vX8yB4nH6sJ1tL5cD0gA-._~+/Z"), 0},
    {"half prefix shared", LIT("Kq7Wf3kP9mR2vX8yB4nHxxxxxxxxxxxxxxxxxxxx"), 0},
    {"no byte shared", LIT("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), 0},
    {"case swapped", LIT("kQ7wF3Kp9Mr2Vx8Yb4Nh6Sj1Tl5Cd0Ga-._~+/z"), 0},
    {"NUL inside", LIT("Kq7Wf3kP9mR2vX8yB4nH\0sJ1tL5cD0gA-._~+/Z"), 0},
    {"NUL instead of last", LIT("Kq7Wf3kP9mR2vX8yB4nH6sJ1tL5cD0gA-._~+/\0"), 0},
    {"empty", LIT(""), 0},
    {"empty NULL", NULL, 0, 0},
    {"NULL with a length", NULL, 5, 0},
    {"non-ASCII same length", LIT("Kq7Wf3kP9mR2vX8yB4nH6sJ1tL5cD0gA-._~+\xc3\xa9"), 0},
    {"UTF-8 only", LIT("\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93"),
     0},
    {"high bytes", LIT("\xff\xfe\xfd\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c"), 0},
    {"Bearer prefix kept", LIT("Bearer " TOK), 0},
    {"doubled", LIT(TOK TOK), 0},
};

START_TEST(test_verify_table)
{
    const struct verify_case *c = &verify_cases[_i];
    struct moat_token *t = load_tok();

    ck_assert_msg(moat_token_verify(t, c->s, c->len) == c->want, "case %s", c->name);
    /* Repeatable: the scratch state is wiped between calls. */
    ck_assert_msg(moat_token_verify(t, c->s, c->len) == c->want, "case %s (again)", c->name);
    ck_assert_int_eq(moat_token_verify(t, LIT(TOK)), 1);
    moat_token_free(t);
}
END_TEST

START_TEST(test_verify_huge)
{
    const size_t mib = 1024 * 1024;
    struct moat_token *t = load_tok();
    char *big = malloc(mib);

    MUST(big != NULL);
    memset(big, 'a', mib);
    ck_assert_int_eq(moat_token_verify(t, big, mib), 0);
    /* Starts with the token: still longer than any token can be. */
    memcpy(big, TOK, TOK_LEN);
    ck_assert_int_eq(moat_token_verify(t, big, mib), 0);
    ck_assert_int_eq(moat_token_verify(t, big, TOK_LEN), 1);
    ck_assert_int_eq(moat_token_verify(t, big, TOK_LEN + 1), 0);
    free(big);
    moat_token_free(t);
}
END_TEST

/* A token of the maximum length: the longest input that can match, and one
 * byte more (hashed over the same block) must not. */
START_TEST(test_verify_max_length)
{
    char *tok = make_token(MOAT_TOKEN_MAX_LEN);
    char path[PATH_MAX];
    struct moat_token *t = NULL;
    char err[256];

    write_file(path, sizeof path, "max", tok, MOAT_TOKEN_MAX_LEN, 0400);
    ck_assert_int_eq(moat_token_load(&t, path, NULL, err, sizeof err), 0);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(moat_token_verify(t, tok, MOAT_TOKEN_MAX_LEN), 1);
    ck_assert_int_eq(moat_token_verify(t, tok, MOAT_TOKEN_MAX_LEN - 1), 0);
    tok[MOAT_TOKEN_MAX_LEN] = 'A';
    ck_assert_int_eq(moat_token_verify(t, tok, MOAT_TOKEN_MAX_LEN + 1), 0);
    tok[MOAT_TOKEN_MAX_LEN] = '\0';
    ck_assert_int_eq(moat_token_verify(t, tok, MOAT_TOKEN_MAX_LEN + 1), 0);
    tok[MOAT_TOKEN_MAX_LEN - 1] ^= 1;
    ck_assert_int_eq(moat_token_verify(t, tok, MOAT_TOKEN_MAX_LEN), 0);
    moat_token_free(t);
    free(tok);
}
END_TEST

START_TEST(test_verify_null_token)
{
    ck_assert_int_eq(moat_token_verify(NULL, LIT(TOK)), 0);
    moat_token_free(NULL);
}
END_TEST

/* Two loads of the same token use different keys but both verify it. */
START_TEST(test_verify_two_instances)
{
    struct moat_token *a = load_tok();
    struct moat_token *b = load_tok();

    ck_assert_int_eq(moat_token_verify(a, LIT(TOK)), 1);
    ck_assert_int_eq(moat_token_verify(b, LIT(TOK)), 1);
    ck_assert_int_eq(moat_token_verify(b, LIT("nope")), 0);
    moat_token_free(a);
    moat_token_free(b);
}
END_TEST

/* ---- loading from a file ---- */

struct load_case {
    const char *name;
    const char *content;
    size_t len;
    mode_t mode;
    int want_rc;         /* 0 or -1 */
    const char *err_has; /* substring of the error (want_rc -1) */
    const char *match;   /* a token that must verify (want_rc 0) */
};

#define TOK31 "Kq7Wf3kP9mR2vX8yB4nH6sJ1tL5cD0g"
#define TOK32 "Kq7Wf3kP9mR2vX8yB4nH6sJ1tL5cD0gA"

static const struct load_case load_cases[] = {
    {"newline", LIT(TOK "\n"), 0400, 0, NULL, TOK},
    {"no newline", LIT(TOK), 0600, 0, NULL, TOK},
    {"CRLF", LIT(TOK "\r\n"), 0400, 0, NULL, TOK},
    {"exactly 32", LIT(TOK32 "\n"), 0400, 0, NULL, TOK32},
    {"base64 padding", LIT(TOK32 "==\n"), 0400, 0, NULL, TOK32 "=="},
    {"group/other readable (warning only)", LIT(TOK), 0644, 0, NULL, TOK},
    {"group writable (warning only)", LIT(TOK), 0660, 0, NULL, TOK},
    {"31 characters", LIT(TOK31 "\n"), 0400, -1, "shorter than 32 characters", NULL},
    {"32 with CR only", LIT(TOK31 "\r"), 0400, -1, "NUL, CR or LF", NULL},
    {"empty file", LIT(""), 0400, -1, "shorter than 32 characters", NULL},
    {"only a newline", LIT("\n"), 0400, -1, "shorter than 32 characters", NULL},
    {"two newlines", LIT(TOK "\n\n"), 0400, -1, "NUL, CR or LF", NULL},
    {"trailing CR", LIT(TOK "\r"), 0400, -1, "NUL, CR or LF", NULL},
    {"LF inside", LIT("Kq7Wf3kP9mR2vX8yB4nH\n6sJ1tL5cD0gA-._~+/Z"), 0400, -1, "NUL, CR or LF",
     NULL},
    {"NUL inside",
     LIT("Kq7Wf3kP9mR2vX8yB4nH\0"
         "6sJ1tL5cD0gA-._~+/Z"),
     0400, -1, "NUL, CR or LF", NULL},
    {"two lines", LIT(TOK "\n" TOK "\n"), 0400, -1, "NUL, CR or LF", NULL},
    {"space inside", LIT("Kq7Wf3kP9mR2vX8yB4nH 6sJ1tL5cD0gA-._~+/Z"), 0400, -1, "Bearer", NULL},
    {"trailing space", LIT(TOK " \n"), 0400, -1, "Bearer", NULL},
    {"= inside", LIT("Kq7Wf3kP9mR2vX8yB4nH=6sJ1tL5cD0gA-._~+/Z"), 0400, -1, "Bearer", NULL},
    {"non-ASCII", LIT("Kq7Wf3kP9mR2vX8yB4nH\xc3\xa9sJ1tL5cD0gA-._~+/Z"), 0400, -1, "Bearer", NULL},
    {"world writable", LIT(TOK), 0602, -1, "writable by others", NULL},
};

START_TEST(test_load_table)
{
    const struct load_case *c = &load_cases[_i];
    char path[PATH_MAX];
    char err[512] = "";
    struct moat_token *t = NULL;
    char *env[] = {NULL};
    int rc;

    tmp_setup();
    write_file(path, sizeof path, "token", c->content, c->len, c->mode);
    rc = moat_token_load(&t, path, env, err, sizeof err);
    ck_assert_msg(rc == c->want_rc, "case %s: rc %d err '%s'", c->name, rc, err);
    if (c->want_rc == 0) {
        ck_assert_msg(t != NULL, "case %s", c->name);
        ck_assert_msg(moat_token_verify(t, c->match, strlen(c->match)) == 1, "case %s", c->name);
        ck_assert_msg(moat_token_verify(t, LIT(TOK "x")) == 0, "case %s", c->name);
    } else {
        ck_assert_msg(t == NULL, "case %s", c->name);
        ck_assert_msg(strstr(err, c->err_has) != NULL, "case %s: err '%s'", c->name, err);
        /* The error names the file, never the token. */
        ck_assert_msg(strstr(err, path) != NULL, "case %s: err '%s'", c->name, err);
        ck_assert_msg(strstr(err, "Kq7Wf3kP9") == NULL, "case %s: err '%s'", c->name, err);
    }
    moat_token_free(t);
    tmp_teardown();
}
END_TEST

START_TEST(test_load_lengths)
{
    static const struct {
        size_t n;
        const char *suffix;
        int want_rc;
    } cases[] = {
        {MOAT_TOKEN_MAX_LEN, "", 0},         {MOAT_TOKEN_MAX_LEN, "\n", 0},
        {MOAT_TOKEN_MAX_LEN, "\r\n", 0},     {MOAT_TOKEN_MAX_LEN + 1, "", -1},
        {MOAT_TOKEN_MAX_LEN + 1, "\n", -1},  {MOAT_TOKEN_MAX_LEN + 2, "", -1},
        {MOAT_TOKEN_MAX_LEN * 64, "\n", -1}, {MOAT_TOKEN_MIN_LEN, "", 0},
        {MOAT_TOKEN_MIN_LEN - 1, "", -1},
    };
    size_t i;

    tmp_setup();
    for (i = 0; i < NELEM(cases); i++) {
        char *tok = make_token(cases[i].n);
        char path[PATH_MAX];
        char err[512] = "";
        struct moat_token *t = NULL;
        int rc;

        strcat(tok, cases[i].suffix);
        write_file(path, sizeof path, "len", tok, strlen(tok), 0400);
        rc = moat_token_load(&t, path, NULL, err, sizeof err);
        ck_assert_msg(rc == cases[i].want_rc, "n=%zu: rc %d err '%s'", cases[i].n, rc, err);
        if (rc == 0)
            ck_assert_int_eq(moat_token_verify(t, tok, cases[i].n), 1);
        else if (cases[i].n > MOAT_TOKEN_MAX_LEN)
            ck_assert_msg(strstr(err, "longer than 1024 characters") != NULL, "err '%s'", err);
        moat_token_free(t);
        free(tok);
    }
    tmp_teardown();
}
END_TEST

START_TEST(test_load_missing_named)
{
    char path[PATH_MAX];
    char err[512] = "";
    struct moat_token *t = NULL;
    char *env[] = {NULL};

    tmp_setup();
    pathof(path, sizeof path, "absent");
    ck_assert_int_eq(moat_token_load(&t, path, env, err, sizeof err), -1);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, "cannot open shutdown token file") != NULL, "err '%s'", err);
    ck_assert_msg(strstr(err, path) != NULL, "err '%s'", err);
    tmp_teardown();
}
END_TEST

/* The default file's absence is "no token"; skipped where the machine has one. */
START_TEST(test_load_missing_default)
{
    char err[512] = "x";
    struct moat_token *t = NULL;
    char *env[] = {NULL};

    if (access(MOAT_TOKEN_DEFAULT_FILE, F_OK) == 0)
        return;
    ck_assert_int_eq(moat_token_load(&t, NULL, env, err, sizeof err), 0);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(moat_token_load(&t, MOAT_TOKEN_DEFAULT_FILE, env, err, sizeof err), 0);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_load_no_file_no_env)
{
    char err[512];
    struct moat_token *t = NULL;
    char a[] = "A=1";
    char *env[] = {a, NULL};

    unsetenv(MOAT_TOKEN_ENV);
    ck_assert_int_eq(moat_token_load(&t, "", env, err, sizeof err), 0);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(env[0], "A=1");
}
END_TEST

START_TEST(test_load_not_regular)
{
    char dir[PATH_MAX];
    char fifo[PATH_MAX];
    char err[512] = "";
    struct moat_token *t = NULL;
    char *env[] = {NULL};

    tmp_setup();
    pathof(dir, sizeof dir, "adir");
    MUST(mkdir(dir, 0700) == 0);
    ck_assert_int_eq(moat_token_load(&t, dir, env, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not a regular file") != NULL, "err '%s'", err);
    /* A FIFO must be refused, not block startup. */
    pathof(fifo, sizeof fifo, "afifo");
    MUST(mkfifo(fifo, 0600) == 0);
    ck_assert_int_eq(moat_token_load(&t, fifo, env, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not a regular file") != NULL, "err '%s'", err);
    ck_assert_ptr_null(t);
    tmp_teardown();
}
END_TEST

/* Kubernetes secret volumes are symlinks (name -> ..data/name): followed. */
START_TEST(test_load_symlink)
{
    char target[PATH_MAX];
    char link[PATH_MAX];
    char err[512] = "";
    struct moat_token *t = NULL;
    char *env[] = {NULL};

    tmp_setup();
    write_file(target, sizeof target, "real", LIT(TOK "\n"), 0400);
    pathof(link, sizeof link, "link");
    MUST(symlink(target, link) == 0);
    ck_assert_int_eq(moat_token_load(&t, link, env, err, sizeof err), 0);
    ck_assert_int_eq(moat_token_verify(t, LIT(TOK)), 1);
    moat_token_free(t);
    tmp_teardown();
}
END_TEST

START_TEST(test_load_unreadable)
{
    char path[PATH_MAX];
    char err[512] = "";
    struct moat_token *t = NULL;
    char *env[] = {NULL};

    if (geteuid() == 0)
        return; /* root reads anything */
    tmp_setup();
    write_file(path, sizeof path, "locked", LIT(TOK), 0000);
    ck_assert_int_eq(moat_token_load(&t, path, env, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "cannot open") != NULL, "err '%s'", err);
    tmp_teardown();
}
END_TEST

/* ---- loading from the environment ---- */

static int all_zero(const char *p, size_t n)
{
    size_t i;
    int z = 1;

    for (i = 0; i < n; i++)
        z &= p[i] == '\0';
    return z;
}

/* A private environment block: the entry is used, dropped and overwritten whole. */
START_TEST(test_env_private_block)
{
    char a[] = "A=1";
    char var[] = "MOAT_SHUTDOWN_TOKEN=" TOK;
    char b[] = "B=2";
    char *env[] = {a, var, b, NULL};
    char err[512] = "";
    struct moat_token *t = NULL;

    unsetenv(MOAT_TOKEN_ENV);
    ck_assert_int_eq(moat_token_load(&t, "", env, err, sizeof err), 0);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(moat_token_verify(t, LIT(TOK)), 1);
    ck_assert_ptr_eq(env[0], a);
    ck_assert_ptr_eq(env[1], b);
    ck_assert_ptr_null(env[2]);
    ck_assert(all_zero(var, sizeof var));
    ck_assert_str_eq(a, "A=1");
    ck_assert_str_eq(b, "B=2");
    moat_token_free(t);
}
END_TEST

/* setenv, then load from environ: getenv no longer finds it and the bytes are gone. */
START_TEST(test_env_setenv_environ)
{
    char err[512] = "";
    struct moat_token *t = NULL;
    const char *value;

    MUST(setenv(MOAT_TOKEN_ENV, TOK, 1) == 0);
    MUST(setenv("MOAT_KEEP_ME", "yes", 1) == 0);
    value = getenv(MOAT_TOKEN_ENV);
    MUST(value != NULL);
    ck_assert_int_eq(moat_token_load(&t, "", NULL, err, sizeof err), 0);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(moat_token_verify(t, LIT(TOK)), 1);
    ck_assert_ptr_null(getenv(MOAT_TOKEN_ENV));
    ck_assert_str_eq(getenv("MOAT_KEEP_ME"), "yes");
    /* The string glibc made for setenv is still allocated: it reads as zeros. */
    ck_assert(all_zero(value, TOK_LEN));
    moat_token_free(t);
}
END_TEST

/* envp is another array (a copy of the block) and environ holds the variable
 * too: both are scrubbed, and the copy's entry is overwritten whole. */
START_TEST(test_env_copy_and_environ)
{
    char var[] = "MOAT_SHUTDOWN_TOKEN=" TOK;
    char c[] = "C=3";
    char *env[] = {var, c, NULL};
    char err[512] = "";
    struct moat_token *t = NULL;
    const char *value;

    MUST(setenv(MOAT_TOKEN_ENV, TOK, 1) == 0);
    value = getenv(MOAT_TOKEN_ENV);
    ck_assert_int_eq(moat_token_load(&t, "", env, err, sizeof err), 0);
    ck_assert_int_eq(moat_token_verify(t, LIT(TOK)), 1);
    ck_assert_ptr_null(getenv(MOAT_TOKEN_ENV));
    ck_assert(all_zero(value, TOK_LEN));
    ck_assert(all_zero(var, sizeof var));
    ck_assert_ptr_eq(env[0], c);
    ck_assert_ptr_null(env[1]);
    moat_token_free(t);
}
END_TEST

/* envp lacks it but environ has it (set after startup): taken from environ. */
START_TEST(test_env_fallback_to_environ)
{
    char a[] = "A=1";
    char *env[] = {a, NULL};
    char err[512] = "";
    struct moat_token *t = NULL;

    MUST(setenv(MOAT_TOKEN_ENV, TOK, 1) == 0);
    ck_assert_int_eq(moat_token_load(&t, "", env, err, sizeof err), 0);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(moat_token_verify(t, LIT(TOK)), 1);
    ck_assert_ptr_null(getenv(MOAT_TOKEN_ENV));
    moat_token_free(t);
}
END_TEST

/* Duplicates (possible in an execve block): the first wins, all are scrubbed. */
START_TEST(test_env_duplicates)
{
    char v1[] = "MOAT_SHUTDOWN_TOKEN=" TOK;
    char v2[] = "MOAT_SHUTDOWN_TOKEN=" TOK32;
    char *env[] = {v1, v2, NULL};
    char err[512] = "";
    struct moat_token *t = NULL;

    unsetenv(MOAT_TOKEN_ENV);
    ck_assert_int_eq(moat_token_load(&t, "", env, err, sizeof err), 0);
    ck_assert_int_eq(moat_token_verify(t, LIT(TOK)), 1);
    ck_assert_int_eq(moat_token_verify(t, LIT(TOK32)), 0);
    ck_assert_ptr_null(env[0]);
    ck_assert(all_zero(v1, sizeof v1));
    ck_assert(all_zero(v2, sizeof v2));
    moat_token_free(t);
}
END_TEST

struct env_err_case {
    const char *name;
    const char *value;
    const char *err_has;
};

static const struct env_err_case env_err_cases[] = {
    {"empty", "", "shorter than 32 characters"},
    {"31", TOK31, "shorter than 32 characters"},
    {"newline", TOK "\n", "NUL, CR or LF"},
    {"space", TOK32 " x", "Bearer"},
};

/* A bad token in the environment is an error, and the variable is scrubbed anyway. */
START_TEST(test_env_errors)
{
    const struct env_err_case *c = &env_err_cases[_i];
    char var[256];
    char *env[] = {var, NULL};
    char err[512] = "";
    struct moat_token *t = NULL;

    unsetenv(MOAT_TOKEN_ENV);
    snprintf(var, sizeof var, "%s=%s", MOAT_TOKEN_ENV, c->value);
    ck_assert_int_eq(moat_token_load(&t, "", env, err, sizeof err), -1);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, c->err_has) != NULL, "case %s: err '%s'", c->name, err);
    ck_assert_msg(strstr(err, "environment variable MOAT_SHUTDOWN_TOKEN") != NULL, "err '%s'", err);
    ck_assert_msg(strstr(err, "Kq7Wf3kP9") == NULL, "case %s: err '%s'", c->name, err);
    ck_assert_ptr_null(env[0]);
    ck_assert(all_zero(var, strlen(MOAT_TOKEN_ENV) + 1 + strlen(c->value)));
}
END_TEST

/* The file wins over the environment, which is scrubbed all the same; and
 * a broken named file is an error even with a good variable. */
START_TEST(test_env_and_file)
{
    char path[PATH_MAX];
    char var[] = "MOAT_SHUTDOWN_TOKEN=" TOK32;
    char *env[] = {var, NULL};
    char var2[] = "MOAT_SHUTDOWN_TOKEN=" TOK32;
    char *env2[] = {var2, NULL};
    char err[512] = "";
    struct moat_token *t = NULL;

    unsetenv(MOAT_TOKEN_ENV);
    tmp_setup();
    write_file(path, sizeof path, "token", LIT(TOK "\n"), 0400);
    ck_assert_int_eq(moat_token_load(&t, path, env, err, sizeof err), 0);
    ck_assert_int_eq(moat_token_verify(t, LIT(TOK)), 1);
    ck_assert_int_eq(moat_token_verify(t, LIT(TOK32)), 0);
    ck_assert_ptr_null(env[0]);
    ck_assert(all_zero(var, sizeof var));
    moat_token_free(t);
    t = NULL;
    pathof(path, sizeof path, "absent");
    ck_assert_int_eq(moat_token_load(&t, path, env2, err, sizeof err), -1);
    ck_assert_ptr_null(t);
    ck_assert_ptr_null(env2[0]);
    ck_assert(all_zero(var2, sizeof var2));
    tmp_teardown();
}
END_TEST

/* The real thing: a process started with the variable loads it, and then
 * neither its environ nor /proc/self/environ (the exec-time stack block)
 * holds the token or the variable's name. Runs in a re-executed child. */
static int environ_child(void)
{
    static const char needle_tok[] = TOK;
    static const char needle_name[] = MOAT_TOKEN_ENV;
    struct moat_token *t = NULL;
    char err[512] = "";
    char buf[65536];
    size_t len = 0;
    ssize_t n;
    int fd;
    int rc = 10;

    if (getenv(MOAT_TOKEN_ENV) == NULL)
        goto out;
    rc = 11;
    if (moat_token_load(&t, "", NULL, err, sizeof err) != 0 || t == NULL)
        goto out;
    rc = 12;
    if (moat_token_verify(t, TOK, TOK_LEN) != 1 || getenv(MOAT_TOKEN_ENV) != NULL)
        goto out;
    rc = 13;
    if (getenv("KEEP") == NULL || strcmp(getenv("KEEP"), "1") != 0)
        goto out;
    rc = 14;
    fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto out;
    while (len < sizeof buf) {
        n = read(fd, buf + len, sizeof buf - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    rc = 15;
    if (memmem(buf, len, "KEEP=1", 6) == NULL)
        goto out;
    rc = 16;
    if (memmem(buf, len, needle_tok, sizeof needle_tok - 1) != NULL ||
        memmem(buf, len, needle_tok, 8) != NULL)
        goto out;
    rc = 17;
    if (memmem(buf, len, needle_name, sizeof needle_name - 1) != NULL)
        goto out;
    rc = 0;
out:
    moat_token_free(t);
    return rc;
}

START_TEST(test_env_proc_environ)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    pid_t pid;
    int status = 0;

    MUST(n > 0);
    self[n] = '\0';
    pid = fork();
    MUST(pid >= 0);
    if (pid == 0) {
        char var[] = "MOAT_SHUTDOWN_TOKEN=" TOK;
        char keep[] = "KEEP=1";
        char arg[] = ENV_CHILD_ARG;
        char *argv[] = {self, arg, NULL};
        char *env[] = {keep, var, NULL};

        execve(self, argv, env);
        _exit(127);
    }
    MUST(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}
END_TEST

/* ---- Bearer parsing ---- */

struct bearer_case {
    const char *h;
    size_t len;
    const char *want; /* the token, or NULL when refused */
};

static const struct bearer_case bearer_cases[] = {
    {LIT("Bearer abc"), "abc"},
    {LIT("bearer abc"), "abc"},
    {LIT("BEARER abc"), "abc"},
    {LIT("BeArEr abc"), "abc"},
    {LIT("Bearer    abc"), "abc"},
    {LIT("  Bearer abc  "), "abc"},
    {LIT("\tBearer abc\t"), "abc"},
    {LIT("Bearer " TOK), TOK},
    {LIT("Bearer abc=="), "abc=="},
    {LIT("Bearer a-._~+/9Z"), "a-._~+/9Z"},
    {LIT("Bearer"), NULL},
    {LIT("Bearer "), NULL},
    {LIT("Bearer    "), NULL},
    {LIT("Bearer\tabc"), NULL},
    {LIT("Bearer \tabc"), NULL},
    {LIT("Bearerabc"), NULL},
    {LIT("Bearer: abc"), NULL},
    {LIT("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), NULL},
    {LIT("Bearer abc def"), NULL},
    {LIT("Bearer abc\tdef"), NULL},
    {LIT("Bearer a=b"), NULL},
    {LIT("Bearer ==="), NULL},
    {LIT("Bearer abc,"), NULL},
    {LIT("Bearer \"abc\""), NULL},
    {LIT("Bearer token=abc"), NULL},
    {LIT("Bearer caf\xc3\xa9"), NULL},
    {LIT("Bearer ab\0c"), NULL},
    {LIT("Bearer abc\r\n"), NULL},
    {LIT("Bearer abc, Bearer def"), NULL},
    {LIT("Bearerx abc"), NULL},
    {LIT("Bear abc"), NULL},
    {LIT("abc"), NULL},
    {LIT(""), NULL},
    {NULL, 0, NULL},
};

START_TEST(test_bearer_table)
{
    const struct bearer_case *c = &bearer_cases[_i];
    const char *tok = (const char *)c;
    size_t tok_len = 99;
    int rc = moat_token_parse_bearer(c->h, c->len, &tok, &tok_len);

    if (c->want == NULL) {
        ck_assert_msg(rc == -1, "case %zu accepted", (size_t)_i);
        ck_assert_ptr_null(tok);
        ck_assert_uint_eq(tok_len, 0);
    } else {
        ck_assert_msg(rc == 0, "case %zu refused", (size_t)_i);
        ck_assert_uint_eq(tok_len, strlen(c->want));
        ck_assert(memcmp(tok, c->want, tok_len) == 0);
        ck_assert(tok >= c->h && tok + tok_len <= c->h + c->len);
    }
}
END_TEST

/* Only the counted bytes are looked at. */
START_TEST(test_bearer_counted)
{
    static const char h[] = "Bearer abcdef";
    const char *tok;
    size_t tok_len;

    ck_assert_int_eq(moat_token_parse_bearer(h, 10, &tok, &tok_len), 0);
    ck_assert_uint_eq(tok_len, 3);
    ck_assert_int_eq(moat_token_parse_bearer(h, 7, &tok, &tok_len), -1);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *s;
    TCase *tc;
    SRunner *sr;
    int failed;

    if (argc > 1 && strcmp(argv[1], ENV_CHILD_ARG) == 0)
        return environ_child();
    s = suite_create("token");
    tc = tcase_create("verify");
    tcase_add_loop_test(tc, test_verify_table, 0, NELEM(verify_cases));
    tcase_add_test(tc, test_verify_huge);
    tcase_add_test(tc, test_verify_max_length);
    tcase_add_test(tc, test_verify_null_token);
    tcase_add_test(tc, test_verify_two_instances);
    suite_add_tcase(s, tc);
    tc = tcase_create("load");
    tcase_add_loop_test(tc, test_load_table, 0, NELEM(load_cases));
    tcase_add_test(tc, test_load_lengths);
    tcase_add_test(tc, test_load_missing_named);
    tcase_add_test(tc, test_load_missing_default);
    tcase_add_test(tc, test_load_no_file_no_env);
    tcase_add_test(tc, test_load_not_regular);
    tcase_add_test(tc, test_load_symlink);
    tcase_add_test(tc, test_load_unreadable);
    suite_add_tcase(s, tc);
    tc = tcase_create("env");
    tcase_add_test(tc, test_env_private_block);
    tcase_add_test(tc, test_env_setenv_environ);
    tcase_add_test(tc, test_env_copy_and_environ);
    tcase_add_test(tc, test_env_fallback_to_environ);
    tcase_add_test(tc, test_env_duplicates);
    tcase_add_loop_test(tc, test_env_errors, 0, NELEM(env_err_cases));
    tcase_add_test(tc, test_env_and_file);
    tcase_add_test(tc, test_env_proc_environ);
    suite_add_tcase(s, tc);
    tc = tcase_create("bearer");
    tcase_add_loop_test(tc, test_bearer_table, 0, NELEM(bearer_cases));
    tcase_add_test(tc, test_bearer_counted);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
