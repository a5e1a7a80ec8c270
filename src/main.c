/* main.c - moat's entry point: configuration, TLS material, startup, signals
 * and draining shutdown. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <malloc.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/x509.h>

#include "moat/admin.h"
#include "moat/cert.h"
#include "moat/child.h"
#include "moat/config.h"
#include "moat/cookie.h"
#include "moat/fileio.h"
#include "moat/httpredir.h"
#include "moat/log.h"
#include "moat/metrics.h"
#include "moat/sandbox.h"
#include "moat/secheaders.h"
#include "moat/server.h"
#include "moat/shutdown.h"
#include "moat/token.h"
#include "moat/tlsconf.h"
#include "moat/tlsstore.h"
#include "moat/tlsticket.h"
#include "moat/tlswatch.h"
#include "moat/upstream.h"

/* Exit codes (documented in --help and the README). */
enum {
    EXIT_OK = 0,      /* clean exit, including after a drain */
    EXIT_CONFIG = 1,  /* invalid configuration or usage */
    EXIT_STARTUP = 2, /* cannot bind, TLS material unusable, ... */
    EXIT_RUNTIME = 3, /* failure while running */
};

#define TICK_NS (100 * 1000 * 1000) /* main loop period */
#define HEALTHCHECK_MS 5000         /* `moat healthcheck`: the whole exchange */

#define EXPIRY_CHECK_MS (24ULL * 3600 * 1000) /* expiry warnings: daily besides (re)loads */
#define CLIENT_CA_MAX (4 * 1024 * 1024)       /* largest tls.client_ca bundle read */

/* The one runtime struct: everything main owns, passed around explicitly. */
struct moat_runtime {
    struct moat_config cfg;        /* effective configuration (immutable after load) */
    struct moat_cli cli;           /* command-line facts besides keys */
    char cert_path[MOAT_CFG_PATH]; /* certificate served */
    char key_path[MOAT_CFG_PATH];  /* its key */
    char dev_dir[MOAT_CFG_PATH];   /* --dev: state directory holding the generated pair, else "" */
    struct moat_tlsstore *tls;     /* credentials for the cert callback */
    struct moat_upstream *up;      /* upstream addresses and connection count */
    struct moat_server *srv;       /* HTTPS listener (with its proxy engines) */
    struct moat_metrics *metrics;  /* the registry every listener records in */
    struct moat_admin *admin;      /* admin listener (metrics, probes), NULL when off */
    struct moat_httpredir *http;   /* plain-HTTP redirect listener, NULL when off */
    /* names of every served certificate (the plain-HTTP listener's allowed hosts) */
    char cert_names[MOAT_HTTPREDIR_MAX_NAMES][MOAT_HTTPREDIR_NAME_MAX];
    size_t n_cert_names;               /* entries used in cert_names */
    struct moat_secheaders sech;       /* security-header policy (immutable after start-up) */
    struct moat_cookie_policy cookies; /* cookie hardening (immutable after start-up) */
    double start_time;                 /* wall-clock start, seconds since the epoch */
    struct moat_token *sd_token;       /* the shutdown token until sd takes it, or NULL */
    struct moat_shutdown *sd;          /* the emergency shutdown (disabled without a token) */
    struct moat_sd_target sd_target;   /* shutdown.target, parsed */
    struct moat_child child;           /* the app started after "--" (pid 0 when none) */

    /* TLS operations: served pairs, reload polling, tickets, client CA. */
    struct moat_tls_pair pairs[MOAT_TLS_MAX_PAIRS]; /* served pairs, [0] the default */
    size_t n_pairs;                                 /* entries in pairs */
    time_t not_after[MOAT_TLS_MAX_PAIRS];           /* expiry of each served leaf */
    struct moat_tlswatch watch;                     /* file change polling */
    uint64_t next_watch_ms;                         /* next poll (monotonic), 0 = off */
    uint64_t next_expiry_ms;                        /* next daily expiry check (monotonic) */
    struct moat_tlsticket *tickets;                 /* session-ticket key, NULL = off */
    char *client_ca;                                /* tls.client_ca PEM text (owned), or NULL */
    enum moat_tls_client_auth client_auth;          /* tls.client_auth (set by client_ca_load) */
    size_t client_ca_cap;                           /* bytes allocated for client_ca */
};

extern char **environ;

static void print_version(void)
{
    printf("moat %s (libmicrohttpd %s, GnuTLS %s, %s, libsodium %s)\n", MOAT_VERSION,
           MHD_get_version(), gnutls_check_version(NULL), OpenSSL_version(OPENSSL_VERSION),
           sodium_version_string());
}

/* mkdir -p for the automatic state directory's parents (mode 0700). */
static int mkdir_parents(const char *path)
{
    char tmp[MOAT_CFG_PATH];
    char *p;

    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return -1;
    for (p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

/* The state directory: server.state_dir, else /var/lib/moat when started as
 * root (privileges are dropped), else $XDG_STATE_HOME/moat, else
 * $HOME/.local/state/moat, else /tmp/moat-UID. */
static void state_dir(const struct moat_config *cfg, char *out, size_t cap)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");

    if (cfg->server.state_dir[0] != '\0')
        snprintf(out, cap, "%s", cfg->server.state_dir);
    else if (geteuid() == 0 && !cfg->sandbox.allow_root)
        /* Started as root, moat drops to sandbox.user: /root is closed to that
         * user, so keep the state where it can read it again (SIGHUP). */
        snprintf(out, cap, "/var/lib/moat");
    else if (xdg != NULL && xdg[0] == '/')
        snprintf(out, cap, "%s/moat", xdg);
    else if (home != NULL && home[0] == '/')
        snprintf(out, cap, "%s/.local/state/moat", home);
    else
        snprintf(out, cap, "/tmp/moat-%u", (unsigned)getuid());
}

static void log_cert(const char *event, const char *path, const struct moat_cert_info *info)
{
    struct moat_logline l;
    char when[32];
    struct tm tm;

    gmtime_r(&info->not_after, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    moat_logline_begin(&l, MOAT_LOG_INFO, event);
    moat_logline_str(&l, "cert_file", path);
    moat_logline_str(&l, "subject_cn", info->subject_cn);
    moat_logline_str(&l, "key_type", info->key_type);
    moat_logline_int(&l, "key_bits", info->key_bits);
    moat_logline_str(&l, "not_after", when);
    moat_logline_str(&l, "sha256", info->sha256);
    moat_logline_end(&l);
}

/* Publishes every served certificate's expiry as a metric, named by its file
 * (the base name when the path is too long for a label). */
static void cert_expiry_record(struct moat_runtime *rt)
{
    const char *name, *slash;
    size_t i;

    moat_metrics_cert_clear(rt->metrics);
    for (i = 0; i < rt->n_pairs; i++) {
        name = rt->pairs[i].cert;
        slash = strrchr(name, '/');
        if (strlen(name) >= MOAT_METRICS_CERT_NAME_MAX && slash != NULL)
            name = slash + 1;
        if (moat_metrics_cert_expiry(rt->metrics, name, (int64_t)rt->not_after[i]) != 0)
            moat_log(MOAT_LOG_WARN, "metrics_cert_name",
                     "certificate file name too long for the expiry metric");
    }
}

/* Logs tls_certificate_expiring for each served certificate that expires
 * within tls.expiry_warn_days. */
static void cert_expiry_warn(const struct moat_runtime *rt)
{
    struct moat_logline l;
    time_t now = time(NULL);
    char when[32];
    struct tm tm;
    size_t i;

    for (i = 0; i < rt->n_pairs; i++) {
        if (!moat_tls_expiry_warn(rt->not_after[i], now, rt->cfg.tls.expiry_warn_days))
            continue;
        gmtime_r(&rt->not_after[i], &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        moat_logline_begin(&l, MOAT_LOG_WARN, "tls_certificate_expiring");
        moat_logline_str(&l, "cert_file", rt->pairs[i].cert);
        moat_logline_str(&l, "not_after", when);
        moat_logline_int(&l, "days_left", moat_tls_days_left(rt->not_after[i], now));
        moat_logline_int(&l, "warn_days", rt->cfg.tls.expiry_warn_days);
        moat_logline_end(&l);
    }
}

/* Fills rt->pairs: the default pair (tls.cert_file/key_file, or the --dev
 * pair), then tls.extra_certs. Returns 0 or -1 (logged). */
static int tls_pairs(struct moat_runtime *rt, int *created)
{
    char dir[MOAT_CFG_PATH];
    char err[512];
    int rc = -1;

    if (rt->cfg.tls.dev && rt->cfg.tls.cert_file[0] == '\0') {
        /* Chosen once: after the privilege drop a reload must find the same
         * directory, not the dropped user's own. */
        if (rt->dev_dir[0] == '\0') {
            state_dir(&rt->cfg, dir, sizeof(dir));
            if (rt->cfg.server.state_dir[0] == '\0' && mkdir_parents(dir) != 0) {
                moat_log(MOAT_LOG_ERROR, "dev_cert_failed", "cannot create the parents of %s: %s",
                         dir, strerror(errno));
                goto out;
            }
            snprintf(rt->dev_dir, sizeof(rt->dev_dir), "%s", dir);
        }
        if (moat_cert_dev_ensure(rt->dev_dir, rt->cert_path, rt->key_path, sizeof(rt->cert_path),
                                 created, err, sizeof(err)) != 0) {
            moat_log(MOAT_LOG_ERROR, "dev_cert_failed", "%s", err);
            goto out;
        }
    } else {
        snprintf(rt->cert_path, sizeof(rt->cert_path), "%s", rt->cfg.tls.cert_file);
        snprintf(rt->key_path, sizeof(rt->key_path), "%s", rt->cfg.tls.key_file);
    }
    snprintf(rt->pairs[0].cert, sizeof(rt->pairs[0].cert), "%s", rt->cert_path);
    snprintf(rt->pairs[0].key, sizeof(rt->pairs[0].key), "%s", rt->key_path);
    rt->n_pairs = 1;
    if (moat_tls_pairs_parse(rt->cfg.tls.extra_certs, rt->pairs, MOAT_TLS_MAX_PAIRS, &rt->n_pairs,
                             err, sizeof(err)) != 0) {
        moat_log(MOAT_LOG_ERROR, "tls_material_invalid", "tls.extra_certs: %s", err);
        goto out;
    }

    rc = 0;
out:
    return rc;
}

/* Hands the served certificate's names to the plain-HTTP listener's policy.
 * Returns 0, or -1 with a message in err. */
static int http_names_set(struct moat_runtime *rt, char *err, size_t errlen)
{
    const char *names[MOAT_HTTPREDIR_MAX_NAMES];
    size_t i;

    for (i = 0; i < rt->n_cert_names; i++)
        names[i] = rt->cert_names[i];
    return moat_httpredir_set_names(rt->http, names, rt->n_cert_names, err, errlen);
}

/* Creates the plain-HTTP listener (binding it) with the certificate's names.
 * Returns 0, or -1 (logged). */
static int http_prepare(struct moat_runtime *rt)
{
    struct moat_httpredir_deps deps;
    char err[1024];

    memset(&deps, 0, sizeof(deps));
    deps.cfg = &rt->cfg;
    deps.metrics = rt->metrics;
    deps.up = rt->up;
    rt->http = moat_httpredir_new(&deps, err, sizeof(err));
    if (rt->http == NULL && err[0] != '\0') {
        moat_log(MOAT_LOG_ERROR, "startup_failed", "%s", err);
        return -1;
    }
    if (rt->http != NULL && http_names_set(rt, err, sizeof(err)) != 0) {
        moat_log(MOAT_LOG_ERROR, "startup_failed", "%s", err);
        return -1;
    }
    return 0;
}

/* --check-config: the [http] keys together with the certificate's names (with
 * --dev, the names moat would generate). Returns 0, or -1 with err set. */
static int http_check(struct moat_runtime *rt, char *err, size_t errlen)
{
    static struct moat_httpredir_policy pol; /* large: keep it off the stack */
    static const char *const dev_names[] = {"localhost", "127.0.0.1", "::1"};
    const char *names[MOAT_HTTPREDIR_MAX_NAMES];
    size_t i;

    if (rt->cfg.http.listen.kind == MOAT_BIND_OFF)
        return 0;
    if (rt->cfg.tls.dev && rt->cfg.tls.cert_file[0] == '\0')
        return moat_httpredir_policy_build(&rt->cfg, dev_names, 3, &pol, err, errlen);
    for (i = 0; i < rt->n_cert_names; i++)
        names[i] = rt->cert_names[i];
    return moat_httpredir_policy_build(&rt->cfg, names, rt->n_cert_names, &pol, err, errlen);
}

/* Appends info's names that names[0..n) lacks and that fit; returns the new count. */
static size_t cert_names_add(char names[][MOAT_HTTPREDIR_NAME_MAX], size_t n,
                             const struct moat_cert_info *info)
{
    size_t i, j;

    for (i = 0; i < info->n_names && n < MOAT_HTTPREDIR_MAX_NAMES; i++) {
        for (j = 0; j < n && strcmp(names[j], info->names[i]) != 0; j++)
            ;
        if (j == n && strlen(info->names[i]) < MOAT_HTTPREDIR_NAME_MAX)
            snprintf(names[n++], MOAT_HTTPREDIR_NAME_MAX, "%s", info->names[i]);
    }
    return n;
}

/* Resolves, checks and (load != 0) loads every pair as one unit. Returns 0
 * or -1 (logged; with load, the pairs in service stay). */
static int tls_prepare(struct moat_runtime *rt, int load)
{
    struct moat_cert_info info;
    char names[MOAT_HTTPREDIR_MAX_NAMES][MOAT_HTTPREDIR_NAME_MAX];
    size_t n_names = 0;
    time_t not_after[MOAT_TLS_MAX_PAIRS];
    char err[512];
    int created = 0;
    size_t i;
    int rc = -1;

    if (tls_pairs(rt, &created) != 0)
        goto out;
    for (i = 0; i < rt->n_pairs; i++) {
        if (moat_cert_check(rt->pairs[i].cert, rt->pairs[i].key, time(NULL), &info, err,
                            sizeof(err)) != 0) {
            moat_log(MOAT_LOG_ERROR, "tls_material_invalid", "%s", err);
            goto out;
        }
        not_after[i] = info.not_after;
        n_names = cert_names_add(names, n_names, &info);
        if (info.key_mode_too_open)
            moat_log(MOAT_LOG_WARN, "tls_key_permissions",
                     "private key %s is readable by group or others; chmod 600 it",
                     rt->pairs[i].key);
        if (i == 0 && rt->cfg.tls.dev) {
            log_cert(created ? "dev_cert_created" : "dev_cert_reused", rt->cert_path, &info);
            moat_log(MOAT_LOG_INFO, "dev_cert_trust",
                     "development certificate sha256 %s; to trust it: "
                     "cp %s /usr/local/share/ca-certificates/moat-dev.crt && "
                     "update-ca-certificates (or curl --cacert %s)",
                     info.sha256, rt->cert_path, rt->cert_path);
        } else {
            log_cert("tls_certificate", rt->pairs[i].cert, &info);
        }
    }
    if (load && moat_tlsstore_load_pairs(rt->tls, rt->pairs, rt->n_pairs, err, sizeof(err)) < 0) {
        moat_log(MOAT_LOG_ERROR, "tls_material_invalid", "%s", err);
        goto out;
    }
    if (load) {
        memcpy(rt->not_after, not_after, sizeof(not_after));
        cert_expiry_record(rt);
        cert_expiry_warn(rt);
    }
    memcpy(rt->cert_names, names, sizeof(names));
    rt->n_cert_names = n_names;
    rc = 0;
out:
    return rc;
}

/* SIGHUP or a file change: load every pair again; on failure the old ones
 * stay in service. Counted in moat_tls_reload_total. */
static void tls_reload(struct moat_runtime *rt, const char *trigger)
{
    /* The pair list comes from the configuration: a failed reload leaves it
     * (and not_after) describing what is still served. */
    char err[512];

    if (tls_prepare(rt, 1) == 0) {
        moat_metrics_tls_reload(rt->metrics, 1);
        moat_log(MOAT_LOG_INFO, "tls_reloaded", "%zu certificate(s) reloaded after %s, first %s",
                 rt->n_pairs, trigger, rt->cert_path);
        if (rt->http != NULL && http_names_set(rt, err, sizeof(err)) != 0)
            moat_log(MOAT_LOG_ERROR, "http_policy_kept",
                     "%s; the plain-HTTP listener keeps the previous names", err);
    } else {
        moat_metrics_tls_reload(rt->metrics, 0);
        moat_log(MOAT_LOG_ERROR, "tls_reload_failed",
                 "certificate reload after %s failed; the previous certificates stay in service",
                 trigger);
    }
}

/* Records tls.client_auth in rt->client_auth and, when client certificates
 * are asked for, reads and checks tls.client_ca before the sandbox closes the
 * file system. Returns 0 or -1 (logged). */
static int client_ca_load(struct moat_runtime *rt)
{
    enum moat_tls_client_auth mode = MOAT_TLS_CLIENT_AUTH_OFF;
    gnutls_x509_crt_t *list = NULL;
    unsigned n = 0, i;
    gnutls_datum_t d;
    size_t len = 0;
    char err[512];
    int ret, rc = -1;

    if (moat_tls_client_auth_parse(rt->cfg.tls.client_auth, &mode) != 0)
        mode = MOAT_TLS_CLIENT_AUTH_OFF; /* the config validator refused anything else */
    rt->client_auth = mode;
    if (mode == MOAT_TLS_CLIENT_AUTH_OFF) {
        rc = 0;
        goto out;
    }
    if (moat_file_read(rt->cfg.tls.client_ca, "tls.client_ca", CLIENT_CA_MAX, &rt->client_ca, &len,
                       &rt->client_ca_cap, NULL, err, sizeof(err)) != 0) {
        moat_log(MOAT_LOG_ERROR, "tls_client_ca_invalid", "%s", err);
        goto out;
    }
    d.data = (unsigned char *)rt->client_ca;
    d.size = (unsigned)len;
    ret = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    if (ret < 0 || n == 0) {
        moat_log(MOAT_LOG_ERROR, "tls_client_ca_invalid",
                 "tls.client_ca %s: no usable PEM certificate (%s)", rt->cfg.tls.client_ca,
                 ret < 0 ? gnutls_strerror(ret) : "empty");
        goto out;
    }
    moat_log(MOAT_LOG_INFO, "tls_client_auth",
             "client certificates %s, %u CA certificate(s) from %s", rt->cfg.tls.client_auth, n,
             rt->cfg.tls.client_ca);
    rc = 0;
out:
    for (i = 0; i < n; i++)
        gnutls_x509_crt_deinit(list[i]);
    gnutls_free(list);
    return rc;
}

/* Periodic TLS work from the main loop: file polling, ticket key
 * replacement, the daily expiry warning. */
static void tls_tick(struct moat_runtime *rt)
{
    uint64_t now = moat_now_ms();

    if (rt->next_watch_ms != 0 && now >= rt->next_watch_ms) {
        rt->next_watch_ms = now + rt->cfg.tls.watch_interval_ms;
        if (moat_tlswatch_poll(&rt->watch))
            tls_reload(rt, "a file change");
    }
    if (moat_tlsticket_tick(rt->tickets, now))
        moat_log(MOAT_LOG_DEBUG, "tls_ticket_key_rotated", "session ticket key replaced");
    if (now >= rt->next_expiry_ms) {
        rt->next_expiry_ms = now + EXPIRY_CHECK_MS;
        cert_expiry_warn(rt);
    }
}

/* Records the served files' states for the change watch. Called once moat is
 * set up (after the privilege drop, whose chown of a --dev pair changes the
 * files' ctime: a state taken before it would read as a change). Returns 0 or
 * -1 (logged). */
static int tls_watch_start(struct moat_runtime *rt)
{
    int rc = 0;

    if (rt->cfg.tls.watch_interval_ms > 0) {
        if (moat_tlswatch_init(&rt->watch, rt->pairs, rt->n_pairs) != 0) {
            moat_log(MOAT_LOG_ERROR, "startup_failed", "too many certificate files to watch");
            rc = -1;
        }
        rt->next_watch_ms = moat_now_ms() + rt->cfg.tls.watch_interval_ms;
    }
    return rc;
}

/* Sets up what the TLS listener needs beyond the certificates: the ticket key
 * and the client CA. Returns 0 or -1 (logged). */
static int tls_session_prepare(struct moat_runtime *rt)
{
    struct moat_server_tls t;
    int rc = -1;

    memset(&t, 0, sizeof(t));
    rt->next_expiry_ms = moat_now_ms() + EXPIRY_CHECK_MS;
    if (rt->cfg.tls.session_tickets) {
        rt->tickets = moat_tlsticket_new((rt->cfg.tls.ticket_rotation_ms + 999) / 1000);
        if (rt->tickets == NULL) {
            moat_log(MOAT_LOG_ERROR, "startup_failed", "cannot create the session ticket key");
            goto out;
        }
    }
    if (client_ca_load(rt) != 0)
        goto out;
    t.tickets = rt->tickets;
    t.client_auth = rt->client_auth;
    t.client_ca_pem = rt->client_ca;
    moat_server_set_tls(rt->srv, &t);
    rc = 0;
out:
    return rc;
}

/* Stops accepting, lets in-flight requests finish up to the drain deadline. */
static void drain(struct moat_runtime *rt)
{
    struct timespec ts = {0, TICK_NS};
    uint64_t deadline = moat_now_ms() + rt->cfg.server.drain_timeout_ms;
    unsigned left;

    moat_server_quiesce(rt->srv);
    moat_httpredir_quiesce(rt->http);
    moat_log(MOAT_LOG_INFO, "draining", "stopped accepting; %u request(s) in flight",
             moat_server_requests(rt->srv));
    for (;;) {
        left = moat_server_requests(rt->srv);
        if (left == 0 || moat_now_ms() >= deadline)
            break;
        moat_server_tick(rt->srv);
        moat_httpredir_tick(rt->http);
        moat_admin_tick(rt->admin);
        nanosleep(&ts, NULL);
    }
    if (left > 0)
        moat_log(MOAT_LOG_WARN, "drain_timeout", "%u request(s) cut at the drain deadline", left);
}

/* sandbox.lock_memory: locks the process in RAM (logged either way). Returns
 * 0, or -1 (logged) when it is required and cannot be done. */
static int memory_lock(const struct moat_config *cfg)
{
    enum moat_memlock_mode mode = MOAT_MEMLOCK_AUTO;
    char why[256];
    int locked = 0, rc;

    (void)moat_memlock_parse(cfg->sandbox.lock_memory, &mode); /* checked when loaded */
    rc = moat_privs_lock_memory(mode, &locked, why, sizeof(why));
    if (locked)
        moat_log(MOAT_LOG_INFO, "memory_locked", "all memory locked in RAM (never swapped)");
    else if (rc != 0)
        moat_log(MOAT_LOG_ERROR, "memory_lock_failed",
                 "sandbox.lock_memory = on but memory cannot be locked: %s", why);
    else if (mode != MOAT_MEMLOCK_OFF)
        moat_log(MOAT_LOG_WARN, "memory_not_locked",
                 "memory is not locked, secrets could reach swap: %s", why);
    return rc;
}

/* `moat healthcheck`: exit 0 when the admin listener's /healthz answers 200, else 1. */
static int healthcheck(const struct moat_config *cfg)
{
    char msg[512];
    int rc = moat_admin_healthcheck(cfg, HEALTHCHECK_MS, msg, sizeof(msg));

    fprintf(stderr, "moat healthcheck: %s\n", msg);
    return rc == 0 ? 0 : 1;
}

/* Creates the admin listener (binding it). Returns 0, or -1 (logged). */
static int admin_prepare(struct moat_runtime *rt)
{
    struct moat_admin_deps deps;
    char err[1024];

    memset(&deps, 0, sizeof(deps));
    deps.cfg = &rt->cfg;
    deps.metrics = rt->metrics;
    deps.srv = rt->srv;
    deps.start_time = rt->start_time;
    deps.keep_unix_socket = rt->cfg.sandbox.enabled;
    deps.shutdown = rt->sd;
    rt->admin = moat_admin_new(&deps, err, sizeof(err));
    if (rt->admin == NULL && err[0] != '\0') {
        moat_log(MOAT_LOG_ERROR, "startup_failed", "%s", err);
        return -1;
    }
    return 0;
}

/* --dev started as root: hands the state directory and the generated pair to
 * the user moat is about to become, so a SIGHUP can read (and renew) them.
 * Returns 0, or -1 (logged). */
static int dev_chown(const struct moat_runtime *rt, const struct moat_privs_cfg *pc)
{
    const char *paths[3];
    char err[512];
    uid_t uid;
    gid_t gid;
    size_t i;

    if (rt->dev_dir[0] == '\0' || geteuid() != 0 || pc->allow_root)
        return 0;
    if (moat_privs_resolve(pc, &uid, &gid, err, sizeof(err)) != 0) {
        moat_log(MOAT_LOG_ERROR, "privileges_drop_failed", "%s", err);
        return -1;
    }
    paths[0] = rt->dev_dir;
    paths[1] = rt->cert_path;
    paths[2] = rt->key_path;
    for (i = 0; i < 3; i++) {
        if (chown(paths[i], uid, gid) != 0) {
            moat_log(MOAT_LOG_ERROR, "dev_cert_failed", "cannot hand %s to uid %u: %s", paths[i],
                     (unsigned)uid, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* The log name of a privilege outcome. Static string. */
static const char *privs_outcome_name(enum moat_privs_outcome outcome)
{
    switch (outcome) {
    case MOAT_PRIVS_DROPPED:
        return "dropped";
    case MOAT_PRIVS_KEPT_ROOT:
        return "kept_root";
    case MOAT_PRIVS_UNCHANGED:
        break;
    }
    return "unchanged";
}

/* Started as root: becomes sandbox.user/sandbox.group (or stays root with
 * sandbox.allow_root). Returns 0, or -1 (logged; moat must exit). */
static int privs_drop(struct moat_runtime *rt)
{
    struct moat_privs_cfg pc;
    enum moat_privs_outcome outcome = MOAT_PRIVS_UNCHANGED;
    struct moat_logline l;
    char err[512];

    memset(&pc, 0, sizeof(pc));
    pc.user = rt->cfg.sandbox.user;
    pc.group = rt->cfg.sandbox.group;
    pc.allow_root = rt->cfg.sandbox.allow_root;
    /* Signalling an app of another uid needs CAP_KILL; moat's own child runs as
     * moat's user and needs none. */
    pc.keep_kill = moat_shutdown_enabled(rt->sd) &&
                   (rt->sd_target.kind == MOAT_SD_PIDFILE || rt->sd_target.kind == MOAT_SD_PROCESS);
    if (dev_chown(rt, &pc) != 0)
        return -1;
    if (moat_privs_drop(&pc, &outcome, err, sizeof(err)) != 0) {
        moat_log(MOAT_LOG_ERROR, "privileges_drop_failed", "%s", err);
        return -1;
    }
    moat_logline_begin(&l, MOAT_LOG_INFO, "privileges");
    moat_logline_str(&l, "outcome", privs_outcome_name(outcome));
    moat_logline_int(&l, "uid", (long long)getuid());
    moat_logline_int(&l, "gid", (long long)getgid());
    moat_logline_bool(&l, "cap_kill", pc.keep_kill);
    moat_logline_end(&l);
    return 0;
}

/* Applies Landlock and seccomp (unless sandbox.enabled is false) and logs what
 * is enforced. Returns 0, or -1 (logged; moat must exit). */
static int sandbox_apply(struct moat_runtime *rt)
{
    static struct moat_sandbox_cfg sc; /* large: keep it off the stack */
    struct moat_sandbox_report rep;
    char err[512];
    size_t i;
    int rc = -1;

    if (!rt->cfg.sandbox.enabled) {
        moat_log(MOAT_LOG_WARN, "sandbox_disabled",
                 "sandbox.enabled is false: no Landlock, no seccomp (debugging only)");
        return 0;
    }
    moat_sandbox_cfg_init(&sc);
    sc.landlock = rt->cfg.sandbox.landlock;
    if (moat_sandbox_seccomp_parse(rt->cfg.sandbox.seccomp, &sc.seccomp) != 0) {
        snprintf(err, sizeof(err), "sandbox.seccomp: unknown mode %s", rt->cfg.sandbox.seccomp);
        goto out;
    }
    sc.resolver = moat_upstream_resolver_needed(&rt->cfg);
    /* Every served pair's directories stay readable for reloads (the
     * configured path's and the resolved file's: a Kubernetes Secret volume
     * swaps "..data" to a new sibling directory under the configured one). */
    for (i = 0; i < rt->n_pairs; i++) {
        if (moat_sandbox_cfg_add_ro_dir_of(&sc, rt->pairs[i].cert) != 0 ||
            moat_sandbox_cfg_add_ro_dir_of(&sc, rt->pairs[i].key) != 0) {
            snprintf(err, sizeof(err), "too many or too long sandbox paths");
            goto out;
        }
    }
    if ((rt->dev_dir[0] != '\0' && moat_sandbox_cfg_add_rw(&sc, rt->dev_dir) != 0) ||
        (moat_shutdown_enabled(rt->sd) && rt->sd_target.kind == MOAT_SD_PIDFILE &&
         moat_sandbox_cfg_add_ro_dir_of(&sc, rt->sd_target.arg) != 0)) {
        snprintf(err, sizeof(err), "too many or too long sandbox paths");
        goto out;
    }
    if (rt->cfg.upstream.addr.kind == MOAT_UPSTREAM_TCP &&
        moat_sandbox_cfg_add_port(&sc, 0, rt->cfg.upstream.addr.port) != 0) {
        snprintf(err, sizeof(err), "cannot allow the upstream port");
        goto out;
    }
    if (moat_sandbox_apply(&sc, &rep, err, sizeof(err)) != 0)
        goto out;
    moat_sandbox_log_report(&rep);
    rc = 0;
out:
    if (rc != 0)
        moat_log(MOAT_LOG_ERROR, "sandbox_failed", "%s", err);
    return rc;
}

/* Loads the shutdown token into rt->sd_token (scrubbing MOAT_SHUTDOWN_TOKEN
 * from the environment) and checks where the endpoint would be served.
 * Returns 0, or -1 (printed; moat must exit with EXIT_CONFIG). */
static int shutdown_prepare(struct moat_runtime *rt)
{
    struct moat_token *tok = NULL;
    const char *why = NULL;
    char addr[MOAT_CFG_STR + 16];
    char err[1024];
    int rc = -1;

    if (moat_sd_target_parse(rt->cfg.shutdown.target, &rt->sd_target, &why) != 0) {
        snprintf(err, sizeof(err), "shutdown.target: %s", why);
        goto out;
    }
    if (moat_token_load(&tok, rt->cfg.shutdown.token_file, environ, err, sizeof(err)) != 0)
        goto out;
    if (moat_config_format_bind(&rt->cfg.admin.listen, addr, sizeof(addr)) != 0)
        addr[0] = '\0';
    if (tok != NULL && rt->sd_target.kind == MOAT_SD_CHILD && rt->cli.child_argc == 0) {
        snprintf(err, sizeof(err),
                 "shutdown.target = child needs the app's command after -- "
                 "(moat [options] -- gunicorn app:app); or set shutdown.target to "
                 "pidfile:/PATH, process:NAME or none");
        goto out;
    }
    if (tok != NULL && moat_sd_plaintext_exposed(&rt->cfg.admin.listen, rt->cfg.admin.tls)) {
        if (!rt->cfg.shutdown.allow_plaintext) {
            snprintf(err, sizeof(err),
                     "the emergency-shutdown endpoint would be served over plain HTTP on "
                     "admin.listen = %s, which is not loopback: set admin.tls = true, bind the "
                     "admin listener to loopback or unix:/PATH, or set "
                     "shutdown.allow_plaintext = true",
                     addr);
            goto out;
        }
        moat_log(MOAT_LOG_WARN, "emergency_shutdown_plaintext",
                 "shutdown.allow_plaintext: the token travels unencrypted to admin.listen = %s",
                 addr);
    }
    rt->sd_token = tok;
    tok = NULL;
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "moat: %s\n", err);
    moat_token_free(tok);
    return rc;
}

/* Creates the shutdown runtime (taking the token) and logs whether the
 * endpoint is enabled. Returns 0, or -1 (logged). */
static int shutdown_start(struct moat_runtime *rt)
{
    struct moat_logline l;
    char addr[MOAT_CFG_STR + 16];
    char err[512];

    rt->sd = moat_shutdown_new(&rt->cfg, rt->sd_token, rt->metrics, err, sizeof(err));
    rt->sd_token = NULL; /* owned by the runtime, or freed */
    if (rt->sd == NULL) {
        moat_log(MOAT_LOG_ERROR, "startup_failed", "%s", err);
        return -1;
    }
    if (moat_config_format_bind(&rt->cfg.admin.listen, addr, sizeof(addr)) != 0)
        addr[0] = '\0';
    if (!moat_shutdown_enabled(rt->sd)) {
        moat_log(MOAT_LOG_INFO, "emergency_shutdown_disabled",
                 "no token in shutdown.token_file (%s) or %s: POST %s answers 404",
                 rt->cfg.shutdown.token_file[0] != '\0' ? rt->cfg.shutdown.token_file : "none",
                 MOAT_TOKEN_ENV, MOAT_SHUTDOWN_PATH);
    } else {
        moat_logline_begin(&l, MOAT_LOG_INFO, "emergency_shutdown_enabled");
        moat_logline_str(&l, "listener", rt->cfg.admin.listen.kind == MOAT_BIND_OFF ? NULL : addr);
        moat_logline_str(&l, "path", MOAT_SHUTDOWN_PATH);
        moat_logline_str(&l, "target", rt->cfg.shutdown.target);
        moat_logline_str(&l, "mode", rt->cfg.shutdown.mode);
        moat_logline_str(&l, "signal", rt->cfg.shutdown.signal);
        moat_logline_double(&l, "grace", (double)rt->cfg.shutdown.grace_ms / 1000.0);
        moat_logline_end(&l);
        if (rt->cfg.admin.listen.kind == MOAT_BIND_OFF)
            moat_log(MOAT_LOG_WARN, "emergency_shutdown_unreachable",
                     "a shutdown token is set but admin.listen is off: nothing serves %s",
                     MOAT_SHUTDOWN_PATH);
    }
    return 0;
}

/* The shutdown's engage callback: lockdown on every listener (any thread). */
static void lockdown_engage(void *arg)
{
    struct moat_runtime *rt = arg;

    moat_server_set_lockdown(rt->srv, 1);
    moat_httpredir_set_lockdown(rt->http, 1);
    if (rt->admin != NULL)
        moat_admin_set_lockdown(rt->admin, 1);
}

/* Starts the app after "--" (after the privilege drop, before the sandbox:
 * see child.h). Returns 0, or -1 (logged). */
static int child_start(struct moat_runtime *rt)
{
    struct moat_logline l;
    char err[512];

    if (rt->cli.child_argc == 0)
        return 0;
    if (moat_child_start(&rt->child, rt->cli.child_argv, err, sizeof(err)) != 0) {
        moat_log(MOAT_LOG_ERROR, "startup_failed", "%s", err);
        return -1;
    }
    moat_shutdown_set_child(rt->sd, rt->child.pid, rt->child.pidfd);
    moat_logline_begin(&l, MOAT_LOG_INFO, "child_started");
    moat_logline_str(&l, "command", rt->cli.child_argv[0]);
    moat_logline_int(&l, "pid", (long long)rt->child.pid);
    moat_logline_bool(&l, "pidfd", rt->child.pidfd >= 0);
    moat_logline_end(&l);
    return 0;
}

/* After SIGTERM/SIGINT was forwarded and moat drained: waits (as tini does,
 * without a deadline) for the app to end, forwarding further signals.
 * Returns the app's exit status for moat to end with. */
static int child_wait(struct moat_runtime *rt, const sigset_t *set)
{
    struct timespec tick = {0, TICK_NS};
    siginfo_t si;
    int sig;

    while (!rt->child.exited) {
        sig = sigtimedwait(set, &si, &tick);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
            (void)moat_child_signal(&rt->child, sig);
        moat_child_reap(&rt->child);
    }
    moat_child_log_exit(&rt->child);
    return moat_child_exit_code(rt->child.status);
}

/* Waits for signals and runs the periodic work. Returns the exit code. */
static int run(struct moat_runtime *rt, const sigset_t *set)
{
    struct timespec tick = {0, TICK_NS};
    siginfo_t si;
    int sig;

    for (;;) {
        sig = sigtimedwait(set, &si, &tick);
        if (sig < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                moat_log(MOAT_LOG_ERROR, "signal_wait_failed", "%s", strerror(errno));
                return EXIT_RUNTIME;
            }
            moat_server_tick(rt->srv);
            moat_httpredir_tick(rt->http);
            tls_tick(rt);
            moat_admin_tick(rt->admin);
            moat_shutdown_tick(rt->sd, moat_now_ms());
            if (moat_shutdown_exit_due(rt->sd)) {
                moat_log(MOAT_LOG_WARN, "shutdown",
                         "emergency shutdown (shutdown.mode = exit): draining, then exiting "
                         "with status %d",
                         MOAT_SHUTDOWN_EXIT_STATUS);
                drain(rt);
                return MOAT_SHUTDOWN_EXIT_STATUS;
            }
            continue;
        }
        if (sig == SIGCHLD) {
            /* The app ending by itself ends moat (tini); after an emergency
             * shutdown, lockdown holds and exit mode has its own path. */
            if (moat_child_reap(&rt->child)) {
                moat_child_log_exit(&rt->child);
                if (!moat_shutdown_engaged(rt->sd)) {
                    drain(rt);
                    return moat_child_exit_code(rt->child.status);
                }
            }
            continue;
        }
        if (sig == SIGHUP) {
            (void)moat_child_signal(&rt->child, SIGHUP);
            tls_reload(rt, "SIGHUP");
            continue;
        }
        moat_log(MOAT_LOG_INFO, "shutdown", "received %s", strsignal(sig));
        if (rt->child.pid > 0 && !rt->child.exited) {
            (void)moat_child_signal(&rt->child, sig);
            drain(rt);
            return child_wait(rt, set);
        }
        drain(rt);
        return EXIT_OK;
    }
}

/* Logs the admin listener's "listening" event. */
static void log_admin_listening(const struct moat_runtime *rt)
{
    struct moat_logline l;
    char addr[MOAT_CFG_STR + 16];

    moat_admin_address(rt->admin, addr, sizeof(addr));
    moat_logline_begin(&l, MOAT_LOG_INFO, "listening");
    moat_logline_str(&l, "listener", "admin");
    moat_logline_str(&l, "addr", addr);
    moat_logline_bool(&l, "tls", rt->cfg.admin.tls);
    moat_logline_end(&l);
}

/* Logs the plain-HTTP listener's "listening" event. */
static void log_http_listening(const struct moat_runtime *rt)
{
    struct moat_logline l;
    char addr[MOAT_CFG_STR + 16];

    moat_httpredir_address(rt->http, addr, sizeof(addr));
    moat_logline_begin(&l, MOAT_LOG_INFO, "listening");
    moat_logline_str(&l, "listener", "http");
    moat_logline_str(&l, "addr", addr);
    moat_logline_end(&l);
}

/* Logs the HTTPS listener's "listening" event (the last line of startup). */
static void log_listening(const struct moat_config *cfg)
{
    struct moat_bind_addr b = {.kind = MOAT_BIND_TCP, .tcp = cfg->server.listen};
    struct moat_logline l;
    char addr[MOAT_CFG_STR + 16];

    (void)moat_config_format_bind(&b, addr, sizeof(addr)); /* truncated at worst */
    moat_logline_begin(&l, MOAT_LOG_INFO, "listening");
    moat_logline_str(&l, "listener", "https");
    moat_logline_str(&l, "addr", addr);
    moat_logline_str(&l, "upstream", cfg->upstream.url);
    moat_logline_str(&l, "version", MOAT_VERSION);
    moat_logline_end(&l);
}

/* Lint callback for --check-config: one "moat: warning:" line per weak choice. */
static void lint_print(void *arg, const char *code, const char *where, const char *msg)
{
    (void)arg;
    if (where[0] != '\0')
        fprintf(stderr, "moat: warning: %s (under %s, %s)\n", msg, where, code);
    else
        fprintf(stderr, "moat: warning: %s (%s)\n", msg, code);
}

/* --check-config: warns about TLS settings that are valid but probably not meant. */
static void tls_lint(const struct moat_config *cfg)
{
    if (cfg->tls.priority[0] != '\0' && strcasecmp(cfg->tls.profile, "intermediate") != 0)
        lint_print(NULL, "tls_profile_ignored", "",
                   "tls.priority is set, so tls.profile is ignored");
    if (cfg->tls.client_ca[0] != '\0' && strcasecmp(cfg->tls.client_auth, "off") == 0)
        lint_print(NULL, "tls_client_ca_unused", "",
                   "tls.client_ca is set but tls.client_auth is off: no client certificate is "
                   "asked for");
    if (!cfg->tls.session_tickets)
        lint_print(NULL, "tls_tickets_off", "",
                   "tls.session_tickets is off: every connection makes a full handshake");
}

int main(int argc, char **argv)
{
    static struct moat_runtime rt; /* large: keep it off the stack */
    char err[1024];
    struct timespec now;
    sigset_t set;
    int code = EXIT_STARTUP;

    signal(SIGPIPE, SIG_IGN);
    /* Per-request buffers come and go on worker threads; without this glibc
     * hands freed heap back with madvise() and faults it in again next time. */
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD); /* the app after "--", and orphans when moat is PID 1 */
    /* Every thread created from here on inherits the mask: only the main
     * loop receives these signals, synchronously. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (moat_config_load(&rt.cfg, &rt.cli, argc, argv, environ, err, sizeof(err)) != 0) {
        fprintf(stderr, "moat: %s\n", err);
        return EXIT_CONFIG;
    }
    /* Before any secret is read: no new privileges, no core dumps. */
    if (moat_privs_harden(err, sizeof(err)) != 0) {
        fprintf(stderr, "moat: cannot harden the process: %s\n", err);
        return EXIT_STARTUP;
    }
    if (rt.cli.help) {
        moat_config_usage(1);
        return EXIT_OK;
    }
    if (rt.cli.version) {
        print_version();
        return EXIT_OK;
    }
    if (rt.cli.healthcheck)
        return healthcheck(&rt.cfg);
    moat_log_setup((enum moat_log_level)rt.cfg.log.level, 2);
    if (sodium_init() < 0) {
        moat_log(MOAT_LOG_ERROR, "startup_failed", "libsodium failed to initialise");
        return EXIT_STARTUP;
    }
    if (moat_config_headers_build(&rt.cfg, &rt.sech, &rt.cookies, err, sizeof(err)) != 0) {
        fprintf(stderr, "moat: %s\n", err);
        return EXIT_CONFIG;
    }
    /* The token is read (and its variable scrubbed) before anything else runs. */
    if (shutdown_prepare(&rt) != 0)
        return EXIT_CONFIG;
    if (rt.cli.check_config) {
        moat_token_free(rt.sd_token);
        rt.sd_token = NULL;
        if (moat_config_print(&rt.cfg, 1) != 0)
            return EXIT_CONFIG;
        if ((!rt.cfg.tls.dev && tls_prepare(&rt, 0) != 0) || client_ca_load(&rt) != 0) {
            fprintf(stderr, "moat: configuration is valid but the TLS material is not\n");
            return EXIT_CONFIG;
        }
        if (http_check(&rt, err, sizeof(err)) != 0) {
            fprintf(stderr, "moat: %s\n", err);
            return EXIT_CONFIG;
        }
        moat_secheaders_lint(&rt.sech, lint_print, NULL);
        tls_lint(&rt.cfg);
        fprintf(stderr, "moat: configuration OK\n");
        return EXIT_OK;
    }

    /* Before the TLS keys are loaded: nothing of moat's goes to swap. */
    if (memory_lock(&rt.cfg) != 0)
        return EXIT_STARTUP;
    clock_gettime(CLOCK_REALTIME, &now);
    rt.start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    rt.metrics = moat_metrics_new();
    rt.tls = moat_tlsstore_new();
    if (rt.metrics == NULL || rt.tls == NULL) {
        moat_log(MOAT_LOG_ERROR, "startup_failed", "out of memory");
        goto out;
    }
    if (shutdown_start(&rt) != 0 || tls_prepare(&rt, 1) != 0)
        goto out;
    rt.up = moat_upstream_new(&rt.cfg, err, sizeof(err));
    if (rt.up == NULL) {
        moat_log(MOAT_LOG_ERROR, "startup_failed", "%s", err);
        goto out;
    }
    rt.srv = moat_server_new(&rt.cfg, rt.up, rt.tls, rt.metrics, err, sizeof(err));
    if (rt.srv == NULL) {
        moat_log(MOAT_LOG_ERROR, "startup_failed", "%s", err);
        goto out;
    }
    moat_server_set_policy(rt.srv, &rt.sech, rt.cfg.cookies.harden ? &rt.cookies : NULL);
    if (tls_session_prepare(&rt) != 0)
        goto out;
    if (admin_prepare(&rt) != 0 || http_prepare(&rt) != 0)
        goto out;
    moat_shutdown_set_engage(rt.sd, lockdown_engage, &rt);
    moat_server_set_shutdown(rt.srv, rt.sd, rt.cfg.shutdown.https_path);
    /* Everything is bound and loaded: narrow the process, start the app (not
     * sandboxed by moat's filters), sandbox moat, then start threads. */
    if (privs_drop(&rt) != 0 || child_start(&rt) != 0 || sandbox_apply(&rt) != 0 ||
        tls_watch_start(&rt) != 0)
        goto out;
    if (moat_upstream_start(rt.up, err, sizeof(err)) != 0 ||
        moat_server_start(rt.srv, err, sizeof(err)) != 0 ||
        (rt.admin != NULL && moat_admin_start(rt.admin, err, sizeof(err)) != 0) ||
        (rt.http != NULL && moat_httpredir_start(rt.http, err, sizeof(err)) != 0)) {
        moat_log(MOAT_LOG_ERROR, "startup_failed", "%s", err);
        goto out;
    }
    if (rt.admin != NULL)
        log_admin_listening(&rt);
    if (rt.http != NULL)
        log_http_listening(&rt);
    log_listening(&rt.cfg);
    code = run(&rt, &set);
out:
    /* The admin listener reads the server's figures: it goes first. */
    moat_admin_free(rt.admin);
    moat_httpredir_free(rt.http);
    moat_server_free(rt.srv);
    moat_shutdown_free(rt.sd);
    moat_token_free(rt.sd_token);
    moat_child_close(&rt.child);
    moat_upstream_free(rt.up);
    moat_tlsstore_free(rt.tls);
    moat_tlsticket_free(rt.tickets);
    if (rt.client_ca != NULL) {
        sodium_memzero(rt.client_ca, rt.client_ca_cap);
        free(rt.client_ca);
    }
    moat_metrics_free(rt.metrics);
    if (code == EXIT_OK)
        moat_log(MOAT_LOG_INFO, "stopped", "moat stopped");
    return code;
}
