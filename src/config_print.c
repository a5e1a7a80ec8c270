/* config_print.c - writes the effective configuration (--check-config) and the --help text. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"

#ifndef MOAT_DEFAULT_CONFIG
#define MOAT_DEFAULT_CONFIG "/etc/moat/moat.conf"
#endif
#ifndef MOAT_VERSION
#define MOAT_VERSION "unknown"
#endif

#define PRINT_WIDTH 100 /* split printed values longer than this over continuation lines */
#define LINE_MAX_READ                                                                              \
    198          /* longest line the loader reads (libinih's INI_MAX_LINE 200, less the \n) */
#define INDENT 4 /* spaces before a continuation line */

/* Writes all of buf to fd. Returns 0 or -1. */
static int write_all(int fd, const char *buf, size_t len)
{
    ssize_t w;

    while (len > 0) {
        w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* True when a long value may be cut before v[i] (0 < i < strlen(v)) and still
 * read back the same: the loader strips the whitespace around every line and
 * joins continuation lines without a separator, takes a line starting with '#'
 * or ';' for a comment, with '[' for a section and one that starts like
 * "name =" for a new key. */
static int cut_ok(const char *v, size_t i)
{
    return v[i - 1] != ' ' && v[i - 1] != '\t' && strchr(" \t#;[", v[i]) == NULL &&
           !moat_cfg_looks_like_key(v + i);
}

/* Length of the next piece of v for a line that can hold at most max bytes
 * of it: all of v when it fits PRINT_WIDTH; else a cut within PRINT_WIDTH,
 * after ',', ':' or ';' if possible; else the first cut within max; else all
 * of v when it fits max, or 0 (no piece: the value starts on the next line). */
static size_t piece_len(const char *v, size_t max)
{
    size_t len = strlen(v);
    size_t width = PRINT_WIDTH < max ? PRINT_WIDTH : max;
    size_t i;

    if (len <= width)
        return len;
    for (i = width; i > width / 2; i--)
        if (strchr(",:;", v[i - 1]) != NULL && cut_ok(v, i))
            return i;
    for (i = width; i > 0; i--)
        if (cut_ok(v, i))
            return i;
    for (i = width + 1; i < len && i <= max; i++)
        if (cut_ok(v, i))
            return i;
    return len <= max ? len : 0;
}

/* Writes "name = value  # from: src", a long value continued on indented lines
 * cut where the loader joins them back into the same value. */
static int print_key(int fd, const char *name, const char *value, const char *src)
{
    char line[MOAT_CFG_VALUE + MOAT_CFG_PATH + 64];
    size_t nlen = strlen(name);
    size_t first_max = nlen + 3 < LINE_MAX_READ ? LINE_MAX_READ - nlen - 3 : 0;
    size_t indent;
    size_t n;
    size_t i;
    int w;

    /* On the "name = value" line (not on continuation lines), libinih takes a
     * ';' after whitespace for a comment: the first piece stops before it. */
    for (i = 1; value[0] != '\0' && value[i] != '\0' && i - 1 < first_max; i++)
        if (value[i] == ';' && (value[i - 1] == ' ' || value[i - 1] == '\t'))
            first_max = i - 1;
    n = piece_len(value, first_max);

    /* After a space, '#' and ';' start a comment: such a value follows the '=' directly. */
    w = snprintf(line, sizeof line, "%s =%s%.*s  # from: %s\n", name,
                 value[0] == '#' || value[0] == ';' ? "" : " ", (int)n, value, src);
    if (w < 0 || (size_t)w >= sizeof line || write_all(fd, line, (size_t)w) != 0)
        return -1;
    value += n;
    while (*value != '\0') {
        n = piece_len(value, LINE_MAX_READ - 1);
        if (n == 0)
            n = strlen(value); /* no cut the loader reads back: one long line */
        indent = n + INDENT <= LINE_MAX_READ ? INDENT : 1;
        w = snprintf(line, sizeof line, "%*s%.*s\n", (int)indent, "", (int)n, value);
        if (w < 0 || (size_t)w >= sizeof line || write_all(fd, line, (size_t)w) != 0)
            return -1;
        value += n;
    }
    return 0;
}

int moat_config_print(const struct moat_config *cfg, int fd)
{
    size_t n;
    const struct moat_cfg_key *keys = moat_cfg_keys(&n);
    const char *section = "";
    char value[MOAT_CFG_VALUE]; /* the longest value a key holds */
    char src[MOAT_CFG_PATH + 32];
    char line[MOAT_CFG_PATH + 64];
    size_t i;
    int w;
    int rc = -1;

    w = snprintf(line, sizeof line, "# moat %s effective configuration (file: %s)\n", MOAT_VERSION,
                 cfg->source_file[0] != '\0' ? cfg->source_file : "none");
    if (w < 0 || write_all(fd, line, strlen(line)) != 0)
        goto out;
    for (i = 0; i < n; i++) {
        if (strcmp(section, keys[i].section) != 0) {
            section = keys[i].section;
            w = snprintf(line, sizeof line, "\n[%s]\n", section);
            if (w < 0 || write_all(fd, line, strlen(line)) != 0)
                goto out;
        }
        if (keys[i].secret)
            snprintf(value, sizeof value, "<redacted>");
        else if (moat_cfg_key_format(cfg, &keys[i], value, sizeof value) != 0)
            goto out;
        moat_cfg_source_text(cfg, i, src, sizeof src);
        if (print_key(fd, keys[i].name, value, src) != 0)
            goto out;
    }
    rc = 0;
out:
    return rc;
}

/* The metavariable shown in --help for a key's flag. */
static const char *metavar(const struct moat_cfg_key *k)
{
    switch (k->type) {
    case MOAT_CFG_T_LISTEN:
    case MOAT_CFG_T_BIND:
        return "ADDR";
    case MOAT_CFG_T_UPSTREAM:
        return "URL";
    case MOAT_CFG_T_PATH:
        return "PATH";
    case MOAT_CFG_T_LOGLEVEL:
        return "LEVEL";
    case MOAT_CFG_T_BOOL:
        return k->flag_value ? "on|off" : "";
    default:
        return "N";
    }
}

void moat_config_usage(int fd)
{
    static const char head[] =
        "Usage: moat [options] [-- app args...]\n"
        "       moat healthcheck [options]\n"
        "\n"
        "moat is a hardened HTTPS sidecar: it terminates TLS, adds security headers and\n"
        "proxies to the app. Words after -- are the app's command, started and supervised.\n"
        "\n"
        "moat healthcheck asks the admin listener (admin.listen, over TLS when admin.tls)\n"
        "for /healthz with the same configuration sources, for container HEALTHCHECKs\n"
        "without curl: exit 0 when it answers 200, else 1 with a message on stderr.\n"
        "\n"
        "Options:\n"
        "  --config PATH          configuration file; default $MOAT_CONFIG, else\n"
        "                         " MOAT_DEFAULT_CONFIG " when it exists\n";
    static const char tail[] =
        "  --check-config         validate the configuration, print it (secrets redacted), exit\n"
        "  -h, --help             show this help and exit\n"
        "  -V, --version          show the version and exit\n"
        "\n"
        "Every key of the configuration file can also be set in the environment as\n"
        "MOAT_<SECTION>_<KEY>, e.g. MOAT_SERVER_LISTEN=0.0.0.0:8443 or\n"
        "MOAT_LIMITS_MAX_BODY_BYTES=10m. Precedence: defaults < file < environment < flags.\n"
        "\n"
        "Exit codes:\n"
        "  0  success\n"
        "  1  invalid configuration or usage\n"
        "  2  startup failure (cannot bind, TLS material unusable)\n"
        "  3  runtime failure\n"
        "  4  stopped by the emergency shutdown (shutdown.mode = exit)\n"
        "  With an app after --, moat ends with the app's status when the app ends.\n";
    size_t n;
    const struct moat_cfg_key *keys = moat_cfg_keys(&n);
    char opt[64];
    char line[512];
    size_t i;
    int w;

    if (write_all(fd, head, sizeof head - 1) != 0)
        return;
    for (i = 0; i < n; i++) {
        if (keys[i].flag == NULL)
            continue;
        snprintf(opt, sizeof opt, "--%s %s", keys[i].flag, metavar(&keys[i]));
        w = snprintf(line, sizeof line, "  %-22s %s (%s.%s)\n", opt, keys[i].help, keys[i].section,
                     keys[i].name);
        if (w < 0 || (size_t)w >= sizeof line || write_all(fd, line, (size_t)w) != 0)
            return;
    }
    write_all(fd, tail, sizeof tail - 1);
}
