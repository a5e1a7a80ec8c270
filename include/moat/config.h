/* config.h - moat's configuration: parsed once into an immutable struct.
 *
 * Sources, later ones winning: built-in defaults < config file (INI) <
 * environment (MOAT_<SECTION>_<KEY>, upper case) < command-line flags.
 * The keys live in one table (config.c) with type, default, bounds and
 * validator. Errors name the key, the offending value and its source
 * ("conf/moat.conf:12", "env MOAT_SERVER_LISTEN", "flag --listen").
 * Unknown keys in the file, and unknown MOAT_<SECTION>_* variables for a known
 * section, are errors. */
#ifndef MOAT_CONFIG_H
#define MOAT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define MOAT_CFG_STR 256   /* bytes for short string values (addresses, names) */
#define MOAT_CFG_PATH 1024 /* bytes for paths and long strings */
#define MOAT_CFG_MAX_CIDRS 32
#define MOAT_CFG_MAX_KEYS 160 /* room in moat_config.sources for every key of the table */
#define MOAT_CFG_VALUE 4097   /* bytes for a header value (MOAT_SECH_VALUE_MAX + NUL) */
#define MOAT_CFG_MODE 16      /* bytes for a header mode: set | default | off | "" */

/* Where a key's effective value came from. */
enum moat_cfg_origin {
    MOAT_CFG_FROM_DEFAULT = 0, /* built-in default */
    MOAT_CFG_FROM_FILE,        /* the config file (line in moat_cfg_source.line) */
    MOAT_CFG_FROM_ENV,         /* MOAT_<SECTION>_<KEY> */
    MOAT_CFG_FROM_FLAG,        /* a command-line flag */
};

/* The origin of one key's value, for --check-config and messages. */
struct moat_cfg_source {
    unsigned char origin; /* enum moat_cfg_origin */
    unsigned line;        /* MOAT_CFG_FROM_FILE: line in source_file, else 0 */
};

/* A listening address: "HOST:PORT", "[V6]:PORT". */
struct moat_listen_addr {
    char host[MOAT_CFG_STR]; /* numeric IPv4/IPv6 literal, without brackets */
    uint16_t port;           /* TCP port, 1..65535 */
    int family;              /* AF_INET or AF_INET6 */
};

/* What an optional listener binds to. */
enum moat_bind_kind {
    MOAT_BIND_OFF = 0,  /* "off": no listener */
    MOAT_BIND_TCP = 1,  /* a TCP address (tcp below) */
    MOAT_BIND_UNIX = 2, /* a Unix socket (path below) */
};

/* An optional listening address: "HOST:PORT", "[V6]:PORT", "*:PORT", "unix:/path" or "off". */
struct moat_bind_addr {
    enum moat_bind_kind kind;    /* which of the fields below is used */
    struct moat_listen_addr tcp; /* MOAT_BIND_TCP: numeric address and port */
    char path[108];              /* MOAT_BIND_UNIX: absolute socket path (sun_path size) */
};

enum moat_upstream_kind { MOAT_UPSTREAM_TCP = 0, MOAT_UPSTREAM_UNIX = 1 };

/* Where requests go: "http(s)://HOST:PORT" (HOST a name or literal) or "unix:/path". */
struct moat_upstream_addr {
    enum moat_upstream_kind kind; /* TCP or Unix socket */
    int tls;                      /* TCP: https:// (TLS to the app, see uptls.h) */
    char host[MOAT_CFG_STR];      /* TCP: host name or literal, no brackets */
    uint16_t port;                /* TCP: port (default 80) */
    char path[108];               /* UNIX: socket path (sun_path size) */
};

/* One trusted-proxy network. */
struct moat_cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network address, network byte order */
    unsigned prefix;        /* prefix length in bits */
};

struct moat_config {
    /* Where this config came from (for messages). */
    char source_file[MOAT_CFG_PATH]; /* path of the file read, "" when none */

    struct {
        struct moat_listen_addr listen;  /* server.listen, default 0.0.0.0:8443 */
        unsigned workers;                /* server.workers, 0 = one per core */
        unsigned max_connections;        /* server.max_connections, default 1024 */
        unsigned max_connections_per_ip; /* server.max_connections_per_ip, default 128 */
        unsigned drain_timeout_ms;       /* server.drain_timeout, default 10s */
        char state_dir[MOAT_CFG_PATH];   /* server.state_dir, "" = auto (see README) */
    } server;

    /* The plain-HTTP listener: redirects to HTTPS (see httpredir.h, redirect.h). */
    struct {
        struct moat_bind_addr listen;      /* http.listen, default 0.0.0.0:8080, or off */
        char canonical_host[MOAT_CFG_STR]; /* http.canonical_host, "" = certificate names */
        char aliases[MOAT_CFG_PATH];       /* http.aliases: other accepted Host names */
        unsigned redirect_port;            /* http.redirect_port, 0 = server.listen's port */
        char redirect_code[MOAT_CFG_MODE]; /* http.redirect_code: 308 | 301 | mixed */
        unsigned wrong_host_status;        /* http.wrong_host_status: 421 or 400 */
        char proxy_paths[MOAT_CFG_PATH];   /* http.proxy_paths: proxied to the app */
        char health_paths[MOAT_CFG_PATH];  /* http.health_paths: answered locally */
        unsigned max_connections;          /* http.max_connections, default 256 */
    } http;

    struct {
        char cert_file[MOAT_CFG_PATH]; /* tls.cert_file, PEM chain */
        char key_file[MOAT_CFG_PATH];  /* tls.key_file, PEM private key (ECDSA or RSA) */
        char priority[MOAT_CFG_PATH];  /* tls.priority, GnuTLS priority string, "" = profile's */
        int dev;                       /* tls.dev: generate/reuse a localhost cert */

        /* TLS operations (tlsconf.h). */
        char profile[32];                 /* tls.profile: intermediate | modern */
        char extra_certs[MOAT_CFG_VALUE]; /* tls.extra_certs: "CERT:KEY, ..." for SNI, "" = none */
        unsigned watch_interval_ms;       /* tls.watch_interval: file polling period, 0 = off */
        int session_tickets;              /* tls.session_tickets: resumption by tickets */
        unsigned ticket_rotation_ms;      /* tls.ticket_key_rotation: master key period */
        unsigned expiry_warn_days;        /* tls.expiry_warn_days: warn this close to expiry */
        char client_ca[MOAT_CFG_PATH];    /* tls.client_ca: CA bundle for client certs, "" = none */
        char client_auth[16];             /* tls.client_auth: off | optional | required */
        char client_subject_header[MOAT_CFG_STR]; /* tls.client_subject_header: verified DN */
    } tls;

    struct {
        struct moat_upstream_addr addr; /* upstream.url, default http://127.0.0.1:8000 */
        char url[MOAT_CFG_PATH];        /* upstream.url as written */
        unsigned connect_timeout_ms;    /* upstream.connect_timeout, default 5s */
        unsigned response_timeout_ms;   /* upstream.response_timeout (head), default 60s */
        unsigned idle_timeout_ms;       /* upstream.idle_timeout (between bytes), default 60s */
        unsigned keepalive_timeout_ms;  /* upstream.keepalive_timeout (pooled idle), default 30s */
        unsigned max_idle;        /* upstream.max_idle pooled connections per worker, default 64 */
        unsigned max_connections; /* upstream.max_connections in total, default 512 */
        char tls_ca_file[MOAT_CFG_PATH];    /* upstream.tls_ca_file, "" = the system bundle */
        char tls_server_name[MOAT_CFG_STR]; /* upstream.tls_server_name, "" = the URL's host */
    } upstream;

    struct {
        unsigned max_header_bytes;  /* limits.max_header_bytes (431), default 8 KiB */
        unsigned max_headers;       /* limits.max_headers (431), default 100 */
        unsigned max_uri_bytes;     /* limits.max_uri_bytes (414), default 4 KiB */
        uint64_t max_body_bytes;    /* limits.max_body_bytes (413), default 100 MiB, 0 = none */
        unsigned header_timeout_ms; /* limits.header_timeout: whole request head, default 10s */
        unsigned client_idle_timeout_ms; /* limits.client_idle_timeout, default 60s */
    } limits;

    struct {
        struct moat_cidr trusted[MOAT_CFG_MAX_CIDRS]; /* proxy.trusted_proxies */
        size_t n_trusted;                             /* entries used in trusted */
        int request_id;                               /* proxy.request_id: generate when absent */
        char request_id_header[MOAT_CFG_STR];         /* proxy.request_id_header, X-Request-Id */
    } proxy;

    struct {
        int level;     /* log.level (enum moat_log_level), default info */
        int access;    /* log.access: write the access log, default true */
        int log_query; /* log.query: include the query string, default false */
    } log;

    struct {
        struct moat_bind_addr listen; /* admin.listen, default 127.0.0.1:9901 */
        int tls;                      /* admin.tls: serve it over TLS with the main certificate */
        unsigned ready_interval_ms;   /* admin.ready_interval: upstream check period, default 2s */
        unsigned ready_timeout_ms;    /* admin.ready_timeout: one check's connect deadline, 1s */
        unsigned ready_max_age_ms;    /* admin.ready_max_age: oldest success still ready, 10s */
    } admin;

    /* The emergency shutdown (see shutdown.h). */
    struct {
        char token_file[MOAT_CFG_PATH]; /* shutdown.token_file, /run/secrets/moat_shutdown_token */
        char target[MOAT_CFG_PATH];     /* shutdown.target: child | pidfile:/P | process:N | none */
        char mode[MOAT_CFG_MODE];       /* shutdown.mode: lockdown | exit */
        char signal[MOAT_CFG_MODE];     /* shutdown.signal, SIGTERM */
        unsigned grace_ms;              /* shutdown.grace: SIGKILL after, 10s */
        int allow_plaintext;            /* shutdown.allow_plaintext: plain HTTP off loopback */
        char https_path[MOAT_CFG_STR];  /* shutdown.https_path: also on HTTPS there, "" = off */
        unsigned max_failures;          /* shutdown.max_failures per client, 5 */
        unsigned global_max_failures;   /* shutdown.global_max_failures, 20 */
        unsigned window_ms;             /* shutdown.window, 60s */
        unsigned cooldown_ms;           /* shutdown.cooldown, 30s */
        unsigned max_cooldown_ms;       /* shutdown.max_cooldown, 1h */
    } shutdown;

    struct {
        int enabled;              /* sandbox.enabled: Landlock and seccomp once started, true */
        char user[MOAT_CFG_STR];  /* sandbox.user: name or uid to become when root, 65532 */
        char group[MOAT_CFG_STR]; /* sandbox.group: name or gid, 65532 */
        int allow_root;           /* sandbox.allow_root: started as root, stay root, false */
        char seccomp[16];         /* sandbox.seccomp: kill | errno | log | off, kill */
        int landlock;             /* sandbox.landlock: apply Landlock where the kernel has it */
        char lock_memory[8];      /* sandbox.lock_memory: auto | on | off, auto */
    } sandbox;

    /* Security headers; "" means the profile's default (see secheaders.h). */
    struct {
        char profile[MOAT_CFG_MODE];              /* headers.profile: standard | strict */
        unsigned hsts_max_age;                    /* headers.hsts_max_age, seconds, 2 years */
        int hsts_include_subdomains;              /* headers.hsts_include_subdomains, true */
        int hsts_preload;                         /* headers.hsts_preload, false */
        char hsts_mode[MOAT_CFG_MODE];            /* headers.hsts_mode: set | off */
        char csp[MOAT_CFG_VALUE];                 /* headers.csp */
        char csp_mode[MOAT_CFG_MODE];             /* headers.csp_mode */
        char csp_report_only[MOAT_CFG_VALUE];     /* headers.csp_report_only */
        char csp_report_only_mode[MOAT_CFG_MODE]; /* headers.csp_report_only_mode */
        int csp_nonce;                            /* headers.csp_nonce: per-request nonces, true */
        char nonce_header[MOAT_CFG_STR];          /* headers.nonce_header, X-CSP-Nonce */
        char frame_options[MOAT_CFG_STR];         /* headers.frame_options */
        char frame_options_mode[MOAT_CFG_MODE];   /* headers.frame_options_mode */
        char referrer_policy[MOAT_CFG_STR];       /* headers.referrer_policy */
        char referrer_policy_mode[MOAT_CFG_MODE]; /* headers.referrer_policy_mode */
        char permissions_policy[MOAT_CFG_VALUE];  /* headers.permissions_policy */
        char permissions_policy_mode[MOAT_CFG_MODE]; /* headers.permissions_policy_mode */
        char coop[MOAT_CFG_STR];                     /* headers.coop */
        char coop_mode[MOAT_CFG_MODE];               /* headers.coop_mode */
        char corp[MOAT_CFG_STR];                     /* headers.corp */
        char corp_mode[MOAT_CFG_MODE];               /* headers.corp_mode */
        char coep[MOAT_CFG_STR];                     /* headers.coep */
        char coep_mode[MOAT_CFG_MODE];               /* headers.coep_mode */
        char remove[MOAT_CFG_PATH];     /* headers.remove: names stripped, "none" for none */
        char report_uri[MOAT_CFG_PATH]; /* headers.report_uri: CSP report endpoint, "" = none */
        char custom[MOAT_CFG_VALUE];    /* headers.custom: "[MODE] Name: value | ..." */
        char overrides[MOAT_CFG_VALUE]; /* headers.overrides: "PREFIX [MODE] key: value | ..." */
    } headers;

    /* Hardening of the app's Set-Cookie headers (see cookie.h). */
    struct {
        int harden;                          /* cookies.harden, true */
        char script_readable[MOAT_CFG_PATH]; /* cookies.script_readable: names without HttpOnly */
        char samesite[MOAT_CFG_MODE];        /* cookies.samesite: lax | strict | off */
    } cookies;

    /* Origin of each key, indexed like the key table in config_keys.c (print order). */
    struct moat_cfg_source sources[MOAT_CFG_MAX_KEYS];
};

/* What main() learnt from argv besides configuration keys. */
struct moat_cli {
    int check_config;  /* --check-config */
    int help;          /* --help */
    int version;       /* --version */
    int healthcheck;   /* first word "healthcheck": query the admin listener's /healthz */
    int child_argc;    /* words after "--" (the app to start), 0 when none */
    char **child_argv; /* borrowed from argv, NULL-terminated */
};

/* Fills cfg from defaults, the config file, envp and argv (see top of file).
 * The config file is --config PATH, else $MOAT_CONFIG, else MOAT_DEFAULT_CONFIG
 * when it exists (a missing default file is not an error; a missing named one is).
 * After all sources, tls.cert_file and tls.key_file must be set unless tls.dev
 * (or the command is "healthcheck", which needs no TLS material), and
 * admin.ready_max_age must be at least admin.ready_interval + admin.ready_timeout.
 * A first argument "healthcheck" sets cli->healthcheck; options may follow it.
 * With --help or --version only argv is read: cfg holds the defaults.
 * cli->child_argv borrows from argv. On error returns -1 with a one-line message
 * in err naming key, value and source (secret values shown as <redacted>); cfg
 * is then unspecified. cfg and cli are caller-owned; nothing is allocated. */
int moat_config_load(struct moat_config *cfg, struct moat_cli *cli, int argc, char **argv,
                     char **envp, char *err, size_t errlen);

/* Index of section.name in moat_config.sources (the key table's order), or -1
 * when there is no such key. Pure. */
int moat_config_key_index(const char *section, const char *name);

/* Writes the effective configuration as INI text (secrets redacted) to fd.
 * Returns 0, or -1 on a write error. */
int moat_config_print(const struct moat_config *cfg, int fd);

/* Writes the --help text to fd (best effort: a failed write is not reported). */
void moat_config_usage(int fd);

/* Parses "HOST:PORT" / "[V6]:PORT" (numeric host). Returns 0 or -1. Pure. */
int moat_config_parse_listen(const char *s, struct moat_listen_addr *out);

/* Parses "HOST:PORT", "[V6]:PORT", "*:PORT", "unix:/path" or "off". Returns 0 or -1. Pure. */
int moat_config_parse_bind(const char *s, struct moat_bind_addr *out);

/* Writes b as the loader reads it back: "off", "unix:/path", "HOST:PORT" or
 * "[V6]:PORT". Returns 0, or -1 when out (outlen bytes) is too small. Pure. */
int moat_config_format_bind(const struct moat_bind_addr *b, char *out, size_t outlen);

/* Parses "http://HOST[:PORT]" or "unix:/path". Returns 0 or -1. Pure. */
int moat_config_parse_upstream(const char *s, struct moat_upstream_addr *out);

/* Parses "A.B.C.D/N", "V6/N" or a bare address (full-length prefix). Returns 0 or -1. */
int moat_config_parse_cidr(const char *s, struct moat_cidr *out);

struct moat_secheaders;
struct moat_cookie_policy;

/* Builds the header policy p and the cookie policy cp from cfg's [headers] and
 * [cookies] (profile, then each key that is not ""). cp->script_readable
 * borrows from cfg. Both are caller-owned. Returns 0, or -1 with a message
 * naming the key, its value and its source in err. */
int moat_config_headers_build(const struct moat_config *cfg, struct moat_secheaders *p,
                              struct moat_cookie_policy *cp, char *err, size_t errlen);

/* True when the address (family, 4 or 16 bytes) lies in one of the networks. Pure. */
int moat_cidr_match(const struct moat_cidr *nets, size_t n, int family, const unsigned char *addr);

#endif
