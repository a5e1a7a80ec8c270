/* config.c - loads moat's configuration: defaults, then the INI file, the environment and flags. */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config_int.h"
#include "moat/token.h"

#ifndef MOAT_DEFAULT_CONFIG
#define MOAT_DEFAULT_CONFIG "/etc/moat/moat.conf"
#endif

#define RAW_LINE 4096 /* longest physical line the reader accepts before libinih's own limit */
#define WHY_LEN 512   /* room for the reason part of a message */

/* State while the config file is read through libinih. */
struct file_state {
    struct moat_config *cfg;            /* being filled */
    FILE *fp;                           /* the open file */
    unsigned lineno;                    /* physical lines handed to libinih so far */
    int indented;                       /* the current line continues the previous value */
    int read_errno;                     /* errno of a failed read, 0 = none */
    unsigned set_on[MOAT_CFG_MAX_KEYS]; /* line where the file set each key, 0 = not set */
    int pending;                        /* key whose value is being collected, -1 = none */
    unsigned pending_line;              /* line where that key started */
    char value[MOAT_CFG_VALUE];         /* the pending value so far */
    char raw[RAW_LINE];                 /* the reader's line buffer */
    unsigned fail_line;                 /* line of the first error found, 0 = none */
    char *err;                          /* caller's message buffer */
    size_t errlen;                      /* its size */
};

/* What a command-line option does. */
enum opt_kind { OPT_KEY, OPT_CONFIG, OPT_CHECK, OPT_HELP, OPT_VERSION };

/* One option found in argv. */
struct opt {
    enum opt_kind kind; /* what it does */
    int key;            /* OPT_KEY: index in the key table */
    const char *value;  /* its value (borrowed from argv), NULL when it takes none */
};

/* Options that are not configuration keys. */
static const struct {
    const char *name;
    enum opt_kind kind;
} plain_opts[] = {{"config", OPT_CONFIG},
                  {"check-config", OPT_CHECK},
                  {"help", OPT_HELP},
                  {"version", OPT_VERSION}};

static void file_fail(struct file_state *st, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes value quoted for a message: escaped, shortened, or <redacted> for a secret. */
static void quote_value(const struct moat_cfg_key *k, const char *value, char *out, size_t outlen)
{
    size_t used = 0;
    size_t i;
    unsigned char c;
    int w;

    if (k->secret) {
        snprintf(out, outlen, "<redacted>");
        return;
    }
    out[used++] = '"';
    for (i = 0; value[i] != '\0' && used + 8 < outlen; i++) {
        c = (unsigned char)value[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            w = snprintf(out + used, outlen - used, "\\x%02x", c);
        else
            w = snprintf(out + used, outlen - used, "%c", c);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    snprintf(out + used, outlen - used, "%s\"", value[i] != '\0' ? "..." : "");
}

/* Sets key idx from one source and records the origin. On error writes
 * 'section.key = "value" (source): reason' to err and leaves cfg as it was. */
static int apply(struct moat_config *cfg, size_t idx, const char *value,
                 enum moat_cfg_origin origin, unsigned line, char *err, size_t errlen)
{
    size_t n;
    const struct moat_cfg_key *k = &moat_cfg_keys(&n)[idx];
    struct moat_cfg_source prev = cfg->sources[idx];
    char why[WHY_LEN];
    char where[MOAT_CFG_PATH + 32];
    char shown[160];
    int rc = -1;

    cfg->sources[idx].origin = (unsigned char)origin;
    cfg->sources[idx].line = line;
    if (moat_cfg_key_set(cfg, k, value, why, sizeof why) != 0) {
        moat_cfg_source_text(cfg, idx, where, sizeof where);
        quote_value(k, value, shown, sizeof shown);
        snprintf(err, errlen, "%s.%s = %s (%s): %s", k->section, k->name, shown, where, why);
        cfg->sources[idx] = prev;
        goto out;
    }
    rc = 0;
out:
    return rc;
}

static int apply_defaults(struct moat_config *cfg, char *err, size_t errlen)
{
    size_t n;
    const struct moat_cfg_key *keys = moat_cfg_keys(&n);
    size_t i;

    for (i = 0; i < n; i++) {
        if (apply(cfg, i, keys[i].def, MOAT_CFG_FROM_DEFAULT, 0, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Returns the value of NAME in envp, or NULL. */
static const char *env_get(char **envp, const char *name)
{
    size_t len = strlen(name);
    size_t i;

    for (i = 0; envp != NULL && envp[i] != NULL; i++) {
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
            return envp[i] + len + 1;
    }
    return NULL;
}

/* ---- the file ---- */

static void file_fail(struct file_state *st, unsigned line, const char *fmt, ...)
{
    char msg[WHY_LEN];
    va_list ap;

    if (st->fail_line != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(st->err, st->errlen, "%s:%u: %s", st->cfg->source_file, line, msg);
    st->fail_line = line;
}

/* Cuts a " #" or "\t#" comment off the end of the line, keeping the newline. */
static void strip_hash_comment(char *line)
{
    char *p;

    for (p = line + 1; *p != '\0'; p++) {
        if (*p == '#' && (p[-1] == ' ' || p[-1] == '\t')) {
            p[0] = '\n';
            p[1] = '\0';
            break;
        }
    }
}

/* Checks a "[name]" line's section against the key table. */
static void check_section_line(struct file_state *st, const char *line)
{
    char name[64];
    const char *end;
    size_t len;

    if (line[0] != '[')
        return;
    end = strchr(line, ']');
    if (end == NULL)
        return; /* libinih reports the syntax error */
    len = (size_t)(end - line - 1);
    if (len >= sizeof name) {
        file_fail(st, st->lineno, "unknown section [%.*s...]", (int)(sizeof name - 1), line + 1);
        return;
    }
    memcpy(name, line + 1, len);
    name[len] = '\0';
    if (!moat_cfg_section_known(name))
        file_fail(st, st->lineno, "unknown section [%s]", name);
}

/* Reads one physical line (newline kept) into st->raw, NUL-terminated, at most
 * RAW_LINE - 1 bytes. Returns its length: 0 at the end of the file or on a read
 * error (st->read_errno). *nul says whether the line holds a NUL byte, which
 * fgets() would have cut the line at without a word. */
static size_t line_read(struct file_state *st, int *nul)
{
    size_t n = 0;
    int ch = 0;

    *nul = 0;
    while (n + 1 < sizeof st->raw && ch != '\n') {
        ch = getc(st->fp);
        if (ch == EOF)
            break;
        *nul |= ch == '\0';
        st->raw[n++] = (char)ch;
    }
    st->raw[n] = '\0';
    if (ferror(st->fp)) {
        st->read_errno = errno != 0 ? errno : EIO;
        n = 0;
    }
    return n;
}

/* libinih reader: hands over one physical line at a time so line numbers stay
 * exact, strips "#" comments, tells continuations from indented keys, and
 * refuses lines libinih would silently cut (too long, or with a NUL byte). */
static char *file_reader(char *str, int num, void *stream)
{
    struct file_state *st = stream;
    char *start;
    size_t len;
    int nul;

    if (st->fail_line != 0)
        return NULL;
    len = line_read(st, &nul);
    if (len == 0)
        return NULL;
    st->lineno++;
    if (nul) {
        file_fail(st, st->lineno, "NUL byte in the line (not a text file?)");
        return NULL;
    }
    if (len == sizeof st->raw - 1 && st->raw[len - 1] != '\n') {
        file_fail(st, st->lineno, "line too long");
        return NULL;
    }
    strip_hash_comment(st->raw);
    start = st->raw + strspn(st->raw, " \t");
    st->indented = 0;
    if (start != st->raw && strchr("\r\n#;", *start) == NULL) {
        if (*start == '[' || moat_cfg_looks_like_key(start))
            memmove(st->raw, start, strlen(start) + 1);
        else
            st->indented = 1;
    }
    check_section_line(st, st->raw);
    len = strlen(st->raw);
    if (num < 3 || len > (size_t)num - 1) {
        file_fail(st, st->lineno,
                  "line too long (at most %d characters: continue a long value on indented lines)",
                  num - 2);
        return NULL;
    }
    if (st->fail_line != 0)
        return NULL;
    memcpy(str, st->raw, len + 1);
    return str;
}

/* Applies the value collected for the pending key. Returns 0 or -1. */
static int flush_pending(struct file_state *st)
{
    int rc = 0;

    if (st->pending >= 0) {
        rc = apply(st->cfg, (size_t)st->pending, st->value, MOAT_CFG_FROM_FILE, st->pending_line,
                   st->err, st->errlen);
        if (rc != 0)
            st->fail_line = st->pending_line;
        st->pending = -1;
    }
    return rc;
}

/* True when section/name is the key whose value is being collected. */
static int pending_is(const struct file_state *st, const char *section, const char *name)
{
    size_t n;
    const struct moat_cfg_key *keys = moat_cfg_keys(&n);

    return st->pending >= 0 && (size_t)st->pending < n &&
           strcasecmp(keys[st->pending].section, section) == 0 &&
           strcasecmp(keys[st->pending].name, name) == 0;
}

/* libinih handler: one "name = value" (or a continuation of the previous one). */
static int file_handler(void *user, const char *section, const char *name, const char *value)
{
    struct file_state *st = user;
    int idx;
    size_t used;

    if (st->fail_line != 0)
        return 0;
    if (st->indented && pending_is(st, section, name)) {
        used = strlen(st->value);
        if (used + strlen(value) >= sizeof st->value)
            file_fail(st, st->pending_line, "value of \"%s\" is too long", name);
        else
            memcpy(st->value + used, value, strlen(value) + 1);
        return st->fail_line == 0;
    }
    if (flush_pending(st) != 0)
        return 0;
    idx = moat_cfg_key_find(section, name);
    if (section[0] == '\0')
        file_fail(st, st->lineno, "key \"%s\" outside any section (add a [section] line above it)",
                  name);
    else if (!moat_cfg_section_known(section))
        file_fail(st, st->lineno, "unknown section [%s]", section);
    else if (idx < 0)
        file_fail(st, st->lineno, "unknown key \"%s\" in section [%s]", name, section);
    else if (st->set_on[idx] != 0)
        file_fail(st, st->lineno, "duplicate key \"%s\" in section [%s] (first set on line %u)",
                  name, section, st->set_on[idx]);
    else if (strlen(value) >= sizeof st->value)
        file_fail(st, st->lineno, "value of \"%s\" is too long", name);
    if (st->fail_line != 0)
        return 0;
    st->set_on[idx] = st->lineno;
    st->pending = idx;
    st->pending_line = st->lineno;
    memcpy(st->value, value, strlen(value) + 1);
    return 1;
}

/* Reads the INI file at path into cfg. A missing file is an error only when required. */
static int load_file(struct moat_config *cfg, const char *path, int required, char *err,
                     size_t errlen)
{
    struct file_state st;
    int ini_rc;
    int rc = -1;

    memset(&st, 0, sizeof st);
    st.cfg = cfg;
    st.pending = -1;
    st.err = err;
    st.errlen = errlen;
    st.fp = fopen(path, "re");
    if (st.fp == NULL) {
        if (!required && errno == ENOENT) {
            rc = 0;
            goto out;
        }
        snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
        goto out;
    }
    if (strlen(path) >= sizeof cfg->source_file) {
        snprintf(err, errlen, "config file path is too long (at most %zu bytes)",
                 sizeof cfg->source_file - 1);
        goto out;
    }
    memcpy(cfg->source_file, path, strlen(path) + 1);
    ini_rc = ini_parse_stream(file_reader, &st, file_handler, &st);
    if (st.fail_line == 0 && st.read_errno == 0)
        flush_pending(&st);
    if (st.read_errno != 0) {
        snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(st.read_errno));
        goto out;
    }
    if (ini_rc > 0 && (st.fail_line == 0 || (unsigned)ini_rc < st.fail_line)) {
        snprintf(err, errlen, "%s:%d: syntax error: expected \"key = value\" or \"[section]\"",
                 path, ini_rc);
        goto out;
    }
    if (st.fail_line != 0)
        goto out;
    if (ini_rc < 0) {
        snprintf(err, errlen, "cannot parse config file %s", path);
        goto out;
    }
    rc = 0;
out:
    if (st.fp != NULL)
        fclose(st.fp);
    return rc;
}

/* ---- the environment ---- */

/* Applies every MOAT_<SECTION>_<KEY> of envp; an unknown key of a known section is an error. */
static int apply_env(struct moat_config *cfg, char **envp, char *err, size_t errlen)
{
    size_t n;
    const struct moat_cfg_key *keys = moat_cfg_keys(&n);
    char name[128];
    const char *eq;
    const char *known_section;
    size_t len;
    size_t i;
    size_t j;
    int idx;

    for (i = 0; envp != NULL && envp[i] != NULL; i++) {
        eq = strchr(envp[i], '=');
        if (strncmp(envp[i], "MOAT_", 5) != 0 || eq == NULL)
            continue;
        len = (size_t)(eq - envp[i]);
        /* The shutdown token itself (token.h reads and scrubs it): not a key. */
        if (len == strlen(MOAT_TOKEN_ENV) && strncmp(envp[i], MOAT_TOKEN_ENV, len) == 0)
            continue;
        idx = -1;
        known_section = NULL;
        for (j = 0; j < n && idx < 0; j++) {
            moat_cfg_env_name(&keys[j], name, sizeof name);
            if (strlen(name) == len && strncmp(name, envp[i], len) == 0)
                idx = (int)j;
            name[6 + strlen(keys[j].section)] = '\0'; /* "MOAT_<SECTION>_" */
            if (len >= strlen(name) && strncmp(name, envp[i], strlen(name)) == 0)
                known_section = keys[j].section;
        }
        if (idx >= 0) {
            if (apply(cfg, (size_t)idx, eq + 1, MOAT_CFG_FROM_ENV, 0, err, errlen) != 0)
                return -1;
        } else if (known_section != NULL) {
            snprintf(err, errlen,
                     "unknown environment variable %.*s: section [%s] has no such key "
                     "(see moat --help)",
                     (int)(len > 100 ? 100 : len), envp[i], known_section);
            return -1;
        }
    }
    return 0;
}

/* ---- the command line ---- */

/* Reads the option at argv[*i] (advancing *i past its value). Returns 1 for an
 * option, 0 at "--" or the end, -1 on a usage error written to err. */
static int next_option(int argc, char **argv, int *i, struct opt *o, char *err, size_t errlen)
{
    size_t nkeys;
    const struct moat_cfg_key *keys = moat_cfg_keys(&nkeys);
    const char *arg;
    const char *eq;
    size_t len;
    size_t k;
    int takes_value;
    int found = 0;

    if (*i >= argc || strcmp(argv[*i], "--") == 0)
        return 0;
    arg = argv[*i];
    memset(o, 0, sizeof *o);
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "-V") == 0) {
        o->kind = arg[1] == 'h' ? OPT_HELP : OPT_VERSION;
        (*i)++;
        return 1;
    }
    if (arg[0] != '-') {
        snprintf(err, errlen, "unexpected argument \"%.100s\" (the app's command goes after --)",
                 arg);
        return -1;
    }
    eq = strchr(arg, '=');
    len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    for (k = 0; k < sizeof plain_opts / sizeof plain_opts[0] && !found && arg[1] == '-'; k++) {
        if (strlen(plain_opts[k].name) == len - 2 &&
            strncmp(arg + 2, plain_opts[k].name, len - 2) == 0) {
            o->kind = plain_opts[k].kind;
            found = 1;
        }
    }
    for (k = 0; k < nkeys && !found && arg[1] == '-'; k++) {
        if (keys[k].flag != NULL && strlen(keys[k].flag) == len - 2 &&
            strncmp(arg + 2, keys[k].flag, len - 2) == 0) {
            o->kind = OPT_KEY;
            o->key = (int)k;
            found = 1;
        }
    }
    if (!found) {
        snprintf(err, errlen, "unknown option \"%.*s\" (see moat --help)",
                 (int)(len > 100 ? 100 : len), arg);
        return -1;
    }
    takes_value =
        o->kind == OPT_CONFIG ||
        (o->kind == OPT_KEY && (keys[o->key].type != MOAT_CFG_T_BOOL || keys[o->key].flag_value));
    if (!takes_value && eq != NULL) {
        snprintf(err, errlen, "option %.*s takes no value", (int)len, arg);
        return -1;
    }
    if (takes_value && eq != NULL) {
        o->value = eq + 1;
    } else if (takes_value) {
        if (*i + 1 >= argc || strcmp(argv[*i + 1], "--") == 0) {
            snprintf(err, errlen, "option %s needs a value (see moat --help)", arg);
            return -1;
        }
        (*i)++;
        o->value = argv[*i];
    }
    (*i)++;
    return 1;
}

/* Index of the first option in argv: 2 after the "healthcheck" subcommand, else 1. */
static int first_option(int argc, char **argv)
{
    return argc > 1 && strcmp(argv[1], "healthcheck") == 0 ? 2 : 1;
}

/* First pass over argv: checks usage, fills cli and finds --config. Key flags
 * are applied later, after the file and the environment. */
static int scan_argv(struct moat_cli *cli, int argc, char **argv, const char **config_path,
                     char *err, size_t errlen)
{
    struct opt o;
    int i = first_option(argc, argv);
    int r;

    cli->healthcheck = i == 2;
    for (;;) {
        r = next_option(argc, argv, &i, &o, err, errlen);
        if (r <= 0)
            break;
        if (o.kind == OPT_CONFIG)
            *config_path = o.value;
        else if (o.kind == OPT_CHECK)
            cli->check_config = 1;
        else if (o.kind == OPT_HELP)
            cli->help = 1;
        else if (o.kind == OPT_VERSION)
            cli->version = 1;
    }
    if (r < 0)
        return -1;
    if (i < argc && i + 1 < argc) {
        cli->child_argc = argc - i - 1;
        cli->child_argv = &argv[i + 1];
    }
    return 0;
}

/* Second pass over argv: applies the flags that set keys, in order. */
static int apply_flags(struct moat_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    struct opt o;
    int i = first_option(argc, argv);
    int r;

    for (;;) {
        r = next_option(argc, argv, &i, &o, err, errlen);
        if (r <= 0)
            break;
        if (o.kind == OPT_KEY && apply(cfg, (size_t)o.key, o.value != NULL ? o.value : "true",
                                       MOAT_CFG_FROM_FLAG, 0, err, errlen) != 0)
            return -1;
    }
    return r;
}

/* The duration key section.name (have_ms) must be at least need_ms, which
 * `what` explains; else err names the key, its value and where it was set. */
static int check_at_least(const struct moat_config *cfg, const char *section, const char *name,
                          uint64_t have_ms, uint64_t need_ms, const char *what, char *err,
                          size_t errlen)
{
    int idx = moat_cfg_key_find(section, name);
    char have[32];
    char want[32];
    char where[MOAT_CFG_PATH + 32];

    if (idx < 0 || have_ms >= need_ms)
        return 0;
    moat_cfg_format_duration(have_ms, have, sizeof have);
    moat_cfg_format_duration(need_ms, want, sizeof want);
    moat_cfg_source_text(cfg, (size_t)idx, where, sizeof where);
    snprintf(err, errlen, "%s.%s = \"%s\" (%s): must be at least %s (%s)", section, name, have,
             where, what, want);
    return -1;
}

/* admin.ready_max_age must leave room for a whole check period, or /readyz
 * would flap between two successful checks. */
static int check_ready_age(const struct moat_config *cfg, char *err, size_t errlen)
{
    uint64_t need = (uint64_t)cfg->admin.ready_interval_ms + cfg->admin.ready_timeout_ms;

    if (cfg->admin.ready_interval_ms == 0)
        return 0;
    return check_at_least(cfg, "admin", "ready_max_age", cfg->admin.ready_max_age_ms, need,
                          "admin.ready_interval + admin.ready_timeout", err, errlen);
}

/* The upstream's TLS settings only mean something for an https:// upstream:
 * set for another one, they are a mistake worth stopping for. */
static int check_upstream_tls(const struct moat_config *cfg, char *err, size_t errlen)
{
    const char *key = NULL;
    char where[MOAT_CFG_PATH + 32];
    int idx;

    if (cfg->upstream.addr.kind == MOAT_UPSTREAM_TCP && cfg->upstream.addr.tls)
        return 0;
    if (cfg->upstream.tls_ca_file[0] != '\0')
        key = "tls_ca_file";
    else if (cfg->upstream.tls_server_name[0] != '\0')
        key = "tls_server_name";
    if (key == NULL)
        return 0;
    idx = moat_cfg_key_find("upstream", key);
    if (idx >= 0)
        moat_cfg_source_text(cfg, (size_t)idx, where, sizeof where);
    else
        snprintf(where, sizeof where, "?");
    snprintf(err, errlen, "upstream.%s (%s) is set but upstream.url \"%s\" is not an https:// URL",
             key, where, cfg->upstream.url);
    return -1;
}

/* shutdown.max_cooldown must be at least shutdown.cooldown. */
static int check_cooldowns(const struct moat_config *cfg, char *err, size_t errlen)
{
    return check_at_least(cfg, "shutdown", "max_cooldown", cfg->shutdown.max_cooldown_ms,
                          cfg->shutdown.cooldown_ms, "shutdown.cooldown", err, errlen);
}

int moat_config_load(struct moat_config *cfg, struct moat_cli *cli, int argc, char **argv,
                     char **envp, char *err, size_t errlen)
{
    const char *path = NULL;
    const char *env_path;
    int required = 1;
    int rc = -1;

    memset(cfg, 0, sizeof *cfg);
    memset(cli, 0, sizeof *cli);
    if (errlen > 0)
        err[0] = '\0';
    if (apply_defaults(cfg, err, errlen) != 0)
        goto out;
    if (scan_argv(cli, argc, argv, &path, err, errlen) != 0)
        goto out;
    if (cli->help || cli->version) {
        rc = 0;
        goto out;
    }
    env_path = env_get(envp, "MOAT_CONFIG");
    if (path == NULL && env_path != NULL && env_path[0] != '\0')
        path = env_path;
    if (path == NULL) {
        path = MOAT_DEFAULT_CONFIG;
        required = 0;
    }
    if (path[0] == '\0') {
        snprintf(err, errlen, "--config needs a file name");
        goto out;
    }
    if (load_file(cfg, path, required, err, errlen) != 0)
        goto out;
    if (apply_env(cfg, envp, err, errlen) != 0)
        goto out;
    if (apply_flags(cfg, argc, argv, err, errlen) != 0)
        goto out;
    if (!cli->healthcheck && !cfg->tls.dev &&
        (cfg->tls.cert_file[0] == '\0' || cfg->tls.key_file[0] == '\0')) {
        snprintf(err, errlen, "tls.cert_file and tls.key_file are required unless --dev is given");
        goto out;
    }
    if (check_ready_age(cfg, err, errlen) != 0 || check_upstream_tls(cfg, err, errlen) != 0)
        goto out;
    if (check_cooldowns(cfg, err, errlen) != 0)
        goto out;
    if (!cli->healthcheck && strcasecmp(cfg->tls.client_auth, "off") != 0 &&
        cfg->tls.client_ca[0] == '\0') {
        snprintf(err, errlen, "tls.client_auth = %s needs tls.client_ca (the CA bundle)",
                 cfg->tls.client_auth);
        goto out;
    }
    rc = 0;
out:
    return rc;
}
