/* fuzz_shutdown_policy.c - libFuzzer target: the emergency shutdown's pure parsers
 * (shutdown.h): shutdown.target / mode / signal / https_path, pidfile content,
 * /proc match selection and the plaintext-exposure check.
 *
 * Input: one selector byte, then the bytes for the chosen parser. Every result
 * is checked against the documented grammar, with a round trip where the
 * parsed value can be written back. */
#include <arpa/inet.h>
#include <ctype.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "moat/shutdown.h"

#include "fuzz_common.h"

#define FZ_MAX_INPUT 4096
#define FZ_MAX_PROCS 64
#define FZ_GUARD 'G'

static int fz_name_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '+' || c == '-';
}

/* shutdown.target: the grammar, then "kind:arg" parses back to the same. */
static void fz_target(const char *s)
{
    struct moat_sd_target t;
    struct moat_sd_target again;
    char text[MOAT_CFG_PATH + 16];
    const char *why = (const char *)1;
    size_t n;
    size_t i;

    if (moat_sd_target_parse(s, &t, &why) != 0) {
        FZ_CHECK(why != NULL && why[0] != '\0');
        return;
    }
    FZ_CHECK(why == NULL);
    n = strnlen(t.arg, sizeof(t.arg));
    FZ_CHECK(n < sizeof(t.arg));
    switch (t.kind) {
    case MOAT_SD_CHILD:
    case MOAT_SD_NONE:
        FZ_CHECK(n == 0 && strcmp(s, t.kind == MOAT_SD_CHILD ? "child" : "none") == 0);
        snprintf(text, sizeof(text), "%s", s);
        break;
    case MOAT_SD_PIDFILE:
        FZ_CHECK(n >= 2 && t.arg[0] == '/' && t.arg[n - 1] != '/');
        for (i = 0; i < n; i++)
            FZ_CHECK(!iscntrl((unsigned char)t.arg[i]));
        FZ_CHECK(strstr(t.arg, "/../") == NULL && strcmp(t.arg + n - 3, "/..") != 0);
        FZ_CHECK(strcmp(t.arg + n - 2, "/.") != 0); /* a directory, like a final '/' */
        snprintf(text, sizeof(text), "pidfile:%s", t.arg);
        break;
    case MOAT_SD_PROCESS:
        FZ_CHECK(n >= 1 && n <= 255 && t.arg[0] != '-');
        for (i = 0; i < n; i++)
            FZ_CHECK(fz_name_char((unsigned char)t.arg[i]));
        snprintf(text, sizeof(text), "process:%s", t.arg);
        break;
    default:
        FZ_CHECK(0);
    }
    FZ_CHECK(strcmp(text, s) == 0);
    FZ_CHECK(moat_sd_target_parse(text, &again, &why) == 0);
    FZ_CHECK(again.kind == t.kind && strcmp(again.arg, t.arg) == 0);
}

/* shutdown.mode and shutdown.signal: only the listed words; names round-trip. */
static void fz_words(const char *s)
{
    enum moat_sd_mode mode = (enum moat_sd_mode)99;
    int signo = -1;

    if (moat_sd_mode_parse(s, &mode) == 0)
        FZ_CHECK((mode == MOAT_SD_LOCKDOWN && strcmp(s, "lockdown") == 0) ||
                 (mode == MOAT_SD_EXIT && strcmp(s, "exit") == 0));
    else
        FZ_CHECK(mode == (enum moat_sd_mode)99);
    if (moat_sd_signal_parse(s, &signo) == 0) {
        const char *name = moat_sd_signal_name(signo);

        FZ_CHECK(signo == SIGTERM || signo == SIGINT || signo == SIGQUIT || signo == SIGHUP ||
                 signo == SIGUSR1 || signo == SIGUSR2 || signo == SIGKILL);
        FZ_CHECK(strncmp(name, "SIG", 3) == 0);
        FZ_CHECK(strcmp(s, name) == 0 || strcmp(s, name + 3) == 0);
    } else {
        FZ_CHECK(signo == -1);
    }
    /* any number: "signal", or a name that parses back to it */
    signo = atoi(s);
    if (strcmp(moat_sd_signal_name(signo), "signal") != 0) {
        int back = -1;

        FZ_CHECK(moat_sd_signal_parse(moat_sd_signal_name(signo), &back) == 0 && back == signo);
    }
}

/* shutdown.https_path: "" or /seg(/seg)* of [A-Za-z0-9-._~], no ".", "..", "". */
static void fz_path(const char *s)
{
    const char *why = (const char *)1;
    const char *seg;
    size_t n;

    if (moat_sd_path_check(s, &why) != 0) {
        FZ_CHECK(why != NULL && why[0] != '\0');
        return;
    }
    FZ_CHECK(why == NULL);
    if (s[0] == '\0')
        return;
    FZ_CHECK(s[0] == '/' && s[1] != '\0' && s[strlen(s) - 1] != '/');
    for (seg = s + 1;; seg += n + 1) {
        size_t i;

        n = strcspn(seg, "/");
        FZ_CHECK(n > 0 && !(n == 1 && seg[0] == '.') &&
                 !(n == 2 && seg[0] == '.' && seg[1] == '.'));
        for (i = 0; i < n; i++)
            FZ_CHECK(isalnum((unsigned char)seg[i]) || strchr("-._~", seg[i]) != NULL);
        if (seg[n] == '\0')
            break;
    }
}

/* Pidfile content: digits, no leading zero, optional LF or CRLF, 1..PID_MAX. */
static void fz_pidfile(const char *buf, size_t len)
{
    char text[32];
    const char *why = (const char *)1;
    long pid = -7;
    size_t digits = 0;

    if (moat_sd_pidfile_parse(buf, len, &pid, &why) != 0) {
        FZ_CHECK(why != NULL && why[0] != '\0' && pid == -7);
        return;
    }
    FZ_CHECK(why == NULL && pid >= 1 && pid <= MOAT_SD_PID_MAX && len <= MOAT_SD_PIDFILE_MAX);
    while (digits < len && buf[digits] >= '0' && buf[digits] <= '9')
        digits++;
    snprintf(text, sizeof(text), "%ld", pid);
    FZ_CHECK(strlen(text) == digits && memcmp(text, buf, digits) == 0);
    FZ_CHECK(digits == len || (len - digits == 1 && buf[digits] == '\n') ||
             (len - digits == 2 && buf[digits] == '\r' && buf[digits + 1] == '\n'));
}

/* Reads one NUL-terminated field of at most max bytes from *p (advancing it). */
static const char *fz_take(char **p, char *end, size_t max)
{
    const char *ret;
    char *s = *p;
    size_t n = 0;

    while (s + n < end && s[n] != '\0' && n < max)
        n++;
    if (s + n < end) {
        s[n] = '\0';
        *p = s + n + 1;
        ret = s;
    } else {
        *p = end;
        ret = "";
    }
    return ret;
}

/* /proc selection: the chosen pid matches, is not self, has no matching parent,
 * and is the only such entry; the reason fits whylen and is terminated. */
static void fz_select(char *in, size_t len, uint8_t arg)
{
    struct moat_sd_proc v[FZ_MAX_PROCS];
    char why[160];
    char *p = in;
    char *end = in + len;
    const char *name;
    size_t whylen = (size_t)(arg & 0x7f) + 1;
    size_t n = 0;
    size_t roots = 0;
    size_t i;
    size_t j;
    long self = 3;
    long pid = -7;
    int rc;

    name = fz_take(&p, end, 40);
    while (p < end && n < FZ_MAX_PROCS) {
        /* pid and ppid from one byte each (small numbers collide on purpose) */
        v[n].pid = (long)(unsigned char)*p++ % 16;
        v[n].ppid = p < end ? (long)(unsigned char)*p++ % 16 : 0;
        v[n].comm = fz_take(&p, end, 20);
        v[n].argv0 = fz_take(&p, end, 64);
        v[n].argv1 = fz_take(&p, end, 64);
        for (j = 0; j < n && v[j].pid != v[n].pid; j++)
            ;
        n += j == n; /* /proc lists a pid once */
    }
    memset(why, FZ_GUARD, sizeof(why));
    rc = moat_sd_proc_select(v, n, name, self, &pid, why, whylen);
    FZ_CHECK(why[whylen] == FZ_GUARD);
    for (i = 0; i < n; i++) {
        int parent_match = 0;

        if (v[i].pid == self || !moat_sd_proc_matches(&v[i], name))
            continue;
        for (j = 0; j < n; j++)
            if (v[j].pid == v[i].ppid && v[j].pid != self && moat_sd_proc_matches(&v[j], name))
                parent_match = 1;
        roots += !parent_match;
        if (rc == 0 && v[i].pid == pid)
            FZ_CHECK(!parent_match);
    }
    if (rc == 0) {
        FZ_CHECK(pid != self && roots == 1);
    } else {
        FZ_CHECK(rc == -1 && pid == -7 && roots != 1);
        FZ_CHECK(memchr(why, '\0', whylen) != NULL);
    }
    /* an empty name matches nothing */
    for (i = 0; i < n; i++)
        FZ_CHECK(!moat_sd_proc_matches(&v[i], ""));
}

/* The admin listener's exposure: loopback never refused, unparsable hosts are. */
static void fz_exposed(const char *s, uint8_t arg)
{
    struct moat_bind_addr b;
    unsigned char a[16];
    int r;

    memset(&b, 0, sizeof(b));
    b.kind = (enum moat_bind_kind)(arg % 3);
    b.tcp.family = (arg & 4) ? AF_INET6 : AF_INET;
    snprintf(b.tcp.host, sizeof(b.tcp.host), "%s", s);
    r = moat_sd_plaintext_exposed(&b, (arg >> 3) & 1);
    FZ_CHECK(r == 0 || r == 1);
    if (b.kind != MOAT_BIND_TCP || (arg & 8))
        FZ_CHECK(r == 0);
    else if (inet_pton(b.tcp.family, b.tcp.host, a) != 1)
        FZ_CHECK(r == 1);
    else if (b.tcp.family == AF_INET)
        FZ_CHECK(r == (a[0] != 127));
    FZ_CHECK(moat_sd_plaintext_exposed(NULL, 0) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[FZ_MAX_INPUT + 1];
    size_t len;
    uint8_t sel;

    if (size < 2)
        return 0;
    sel = data[0];
    len = size - 2 > FZ_MAX_INPUT ? FZ_MAX_INPUT : size - 2;
    memcpy(buf, data + 2, len);
    buf[len] = '\0';

    switch (sel % 6) {
    case 0:
        fz_target(buf);
        break;
    case 1:
        fz_words(buf);
        break;
    case 2:
        fz_path(buf);
        break;
    case 3:
        fz_pidfile(buf, len);
        break;
    case 4:
        fz_select(buf, len, data[1]);
        break;
    default:
        fz_exposed(buf, data[1]);
        break;
    }
    return 0;
}
