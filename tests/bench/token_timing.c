/* token_timing.c - dudect-style timing benchmark of moat_token_verify (Welch's t; not a test). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "moat/token.h"

#define SECRET_LEN 43 /* base64url of 32 random bytes, as `openssl rand -base64 32` gives */
#define NCLASS 4
#define NCROP 5
#define WARMUP 20000
#define BATCH 8192 /* inputs prepared before each batch of measurements */
#define SLOT 128   /* bytes per prepared input (>= 2 * SECRET_LEN; two cache lines) */
#define T_LIMIT 4.5

static const char *const class_names[NCLASS] = {
    "(a) wrong, no shared prefix, same length",
    "(b) all but the last byte correct",
    "(c) different length (1..86, not 43)",
    "(d) correct token",
};

/* Pairs compared: each wrong class against the others, and (a) against the match. */
static const int pairs[][2] = {{0, 1}, {0, 2}, {1, 2}, {0, 3}, {1, 3}};
#define NPAIR (sizeof pairs / sizeof pairs[0])

/* Crops: keep measurements at or below this percentile of all measurements (100 = keep all). */
static const double crops[NCROP] = {100.0, 99.9, 99.0, 90.0, 50.0};

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Welford running mean and variance. */
struct welford {
    double n, mean, m2;
};

static void stat_add(struct welford *s, double x)
{
    double d = x - s->mean;

    s->n += 1.0;
    s->mean += d / s->n;
    s->m2 += d * (x - s->mean);
}

static double stat_var(const struct welford *s)
{
    return s->n > 1.0 ? s->m2 / (s->n - 1.0) : 0.0;
}

/* Welch's t statistic of two samples. */
static double welch_t(const struct welford *a, const struct welford *b)
{
    double se = sqrt(stat_var(a) / a->n + stat_var(b) / b->n);

    return se > 0.0 ? (a->mean - b->mean) / se : 0.0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A random alphabet character other than avoid (pass 0 for none). */
static char rand_char_not(char avoid)
{
    char c;

    do
        c = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    while (c == avoid);
    return c;
}

/* Reads all SLOT bytes of an input slot, whatever the input's length. */
static unsigned touch(const char *slot)
{
    const volatile char *v = slot;
    unsigned sum = 0;
    size_t i;

    for (i = 0; i < SLOT; i++)
        sum += (unsigned char)v[i];
    return sum;
}

/* Builds the input of class k into buf; returns its length. */
static size_t make_input(int k, const char *secret, char *buf)
{
    size_t len = SECRET_LEN;
    size_t i;

    switch (k) {
    case 0: /* differs at every position, the first included */
        for (i = 0; i < SECRET_LEN; i++)
            buf[i] = rand_char_not(secret[i]);
        break;
    case 1:
        memcpy(buf, secret, SECRET_LEN);
        buf[SECRET_LEN - 1] = rand_char_not(secret[SECRET_LEN - 1]);
        break;
    case 2:
        do
            len = 1 + randombytes_uniform(2 * SECRET_LEN);
        while (len == SECRET_LEN);
        for (i = 0; i < len; i++)
            buf[i] = rand_char_not(0);
        break;
    default:
        memcpy(buf, secret, SECRET_LEN);
        break;
    }
    return len;
}

int main(int argc, char **argv)
{
    size_t per_class = 1000000;
    size_t total, i, j;
    char secret[SECRET_LEN + 1];
    char envvar[sizeof MOAT_TOKEN_ENV + SECRET_LEN + 1];
    char *env[2] = {envvar, NULL};
    char *inputs = NULL;
    size_t lens[BATCH];
    char err[256];
    struct moat_token *tok = NULL;
    unsigned char *cls = NULL;
    uint64_t *ns = NULL;
    uint64_t *sorted = NULL;
    uint64_t thr[NCROP];
    struct welford st[NCROP][NCLASS];
    double worst = 0.0;
    unsigned sink = 0;
    int rc = 1;

    if (argc > 1)
        per_class = strtoul(argv[1], NULL, 10);
    if (per_class < 1000) {
        fprintf(stderr, "usage: %s [measurements per class, >= 1000; default 1000000]\n", argv[0]);
        goto out;
    }
    if (sodium_init() < 0)
        goto out;
    for (i = 0; i < SECRET_LEN; i++)
        secret[i] = rand_char_not(0);
    secret[SECRET_LEN] = '\0';
    snprintf(envvar, sizeof envvar, "%s=%s", MOAT_TOKEN_ENV, secret);
    if (moat_token_load(&tok, "", env, err, sizeof err) != 0 || tok == NULL) {
        fprintf(stderr, "token_timing: cannot load the token: %s\n", err);
        goto out;
    }
    total = per_class * NCLASS;
    cls = malloc(total);
    ns = malloc(total * sizeof *ns);
    sorted = malloc(total * sizeof *sorted);
    inputs = aligned_alloc(64, (size_t)BATCH * SLOT);
    if (cls == NULL || ns == NULL || sorted == NULL || inputs == NULL) {
        fprintf(stderr, "token_timing: out of memory\n");
        goto out;
    }
    memset(inputs, 0, (size_t)BATCH * SLOT);
    /* Exactly per_class of each class, in random order (Fisher-Yates). */
    for (i = 0; i < total; i++)
        cls[i] = (unsigned char)(i % NCLASS);
    for (i = total - 1; i > 0; i--) {
        unsigned char c;

        j = randombytes_uniform((uint32_t)(i + 1));
        c = cls[i];
        cls[i] = cls[j];
        cls[j] = c;
    }
    for (i = 0; i < WARMUP; i++) {
        size_t len = make_input((int)(i % NCLASS), secret, inputs);
        (void)moat_token_verify(tok, inputs, len);
    }
    /* As dudect does, the inputs of a batch are all made before any of them
     * is measured, so the work preceding each measured call (and its effect
     * on caches and predictors) is the same whatever the class. Each input's
     * whole slot is read just before its call: in the server the header was
     * just parsed and is in cache, and a longer input must not look slower
     * merely because it spans a cache line that a shorter one does not. */
    for (i = 0; i < total; i += BATCH) {
        size_t nb = total - i < BATCH ? total - i : BATCH;

        for (j = 0; j < nb; j++)
            lens[j] = make_input(cls[i + j], secret, inputs + j * SLOT);
        for (j = 0; j < nb; j++) {
            uint64_t t0, t1;
            int r;

            sink += touch(inputs + j * SLOT);
            t0 = now_ns();
            r = moat_token_verify(tok, inputs + j * SLOT, lens[j]);
            t1 = now_ns();
            ns[i + j] = t1 - t0;
            if (r != (cls[i + j] == 3)) {
                fprintf(stderr, "token_timing: wrong verdict %d for class %d\n", r, cls[i + j]);
                goto out;
            }
        }
    }
    if (sink == 1)
        printf("(checksum %u)\n", sink); /* keeps the reads */
    memcpy(sorted, ns, total * sizeof *ns);
    qsort(sorted, total, sizeof *sorted, cmp_u64);
    for (j = 0; j < NCROP; j++) {
        size_t idx = (size_t)(crops[j] / 100.0 * (double)(total - 1));
        thr[j] = sorted[idx];
    }
    memset(st, 0, sizeof st);
    for (i = 0; i < total; i++) {
        for (j = 0; j < NCROP; j++) {
            if (ns[i] <= thr[j])
                stat_add(&st[j][cls[i]], (double)ns[i]);
        }
    }

    printf("moat_token_verify timing, dudect-style (Welch's t-test)\n");
    printf("secret: %d characters; %zu measurements per class, classes randomly interleaved;\n",
           SECRET_LEN, per_class);
    printf("clock: CLOCK_MONOTONIC around each call; %d warm-up calls discarded\n\n", WARMUP);
    printf("%-42s %10s %10s %12s\n", "class", "median ns", "p99 ns", "mean ns(p99)");
    for (j = 0; j < NCLASS; j++) {
        uint64_t *v = NULL;
        size_t n = 0;

        v = malloc(per_class * sizeof *v);
        if (v == NULL)
            goto out;
        for (i = 0; i < total; i++) {
            if (cls[i] == j)
                v[n++] = ns[i];
        }
        qsort(v, n, sizeof *v, cmp_u64);
        printf("%-42s %10llu %10llu %12.1f\n", class_names[j], (unsigned long long)v[n / 2],
               (unsigned long long)v[(size_t)(0.99 * (double)(n - 1))], st[2][j].mean);
        free(v);
    }
    printf("\nt-statistics (measurements cropped at a percentile of all of them)\n");
    printf("%-10s", "pair");
    for (j = 0; j < NCROP; j++) {
        char head[16];

        if (crops[j] >= 100.0)
            snprintf(head, sizeof head, "none");
        else
            snprintf(head, sizeof head, "p%g", crops[j]);
        printf(" %8s", head);
    }
    printf("\n");
    for (i = 0; i < NPAIR; i++) {
        printf("%c vs %c    ", 'a' + pairs[i][0], 'a' + pairs[i][1]);
        for (j = 0; j < NCROP; j++) {
            double t = welch_t(&st[j][pairs[i][0]], &st[j][pairs[i][1]]);

            printf(" %8.2f", t);
            if (fabs(t) > worst)
                worst = fabs(t);
        }
        printf("\n");
    }
    printf("%-10s", "threshold");
    for (j = 0; j < NCROP; j++)
        printf(" %8llu", (unsigned long long)thr[j]);
    printf("  (ns)\n\n");
    if (worst < T_LIMIT) {
        printf("max |t| = %.2f; |t| < %.1f: no detectable leak\n", worst, T_LIMIT);
        rc = 0;
    } else {
        printf("max |t| = %.2f; |t| >= %.1f: a timing difference was detected\n", worst, T_LIMIT);
        rc = 2;
    }
out:
    moat_token_free(tok);
    sodium_memzero(secret, sizeof secret);
    if (inputs != NULL)
        sodium_memzero(inputs, (size_t)BATCH * SLOT);
    free(inputs);
    free(cls);
    free(ns);
    free(sorted);
    return rc;
}
