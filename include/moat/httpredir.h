/* httpredir.h - the plain-HTTP listener: every request answered from
 * moat_redirect_decide() (redirect.h) on a libmicrohttpd daemon of its own
 * (internal epoll thread; never the HTTPS workers).
 *
 *   REDIRECT  301/308 with Location https://NAME[:PORT]/path?query, empty body
 *   REJECT    400/414/421 with a short fixed body (the client's Host never echoed)
 *   HEALTH    200 "ok" for GET/HEAD (405 otherwise), whatever the Host
 *   PROXY     GET/HEAD without a body (ACME http-01) relayed to the app by two small
 *             forwarder threads (blocking I/O with upstream.* deadlines, the whole
 *             body within upstream.idle_timeout of the head, verified
 *             TLS for an https:// upstream as on the HTTPS path, response
 *             body at most MOAT_HTTPREDIR_FWD_BODY bytes, only Content-Type and
 *             Cache-Control copied back); the connection is suspended meanwhile
 *
 * Every answer carries "Connection: close" (one request per connection), never
 * HSTS (RFC 6797 7.2). Requests go through moat_reqcheck_run() first (the parser
 * of libmicrohttpd 0.9.75 is permissive). Bounded: http.max_connections in total,
 * server.max_connections_per_ip per address, limits.header_timeout for the
 * request head (moat_httpredir_tick), at most MOAT_HTTPREDIR_FWD_QUEUE relays
 * queued (then 503). In lockdown (moat_httpredir_set_lockdown) nothing is
 * relayed any more: 503. Metrics: requests and connections under listener="http",
 * moat_redirects_total{code}, rejections by reason. Access log lines carry
 * "listener":"http".
 *
 * Lifetime: new (binds, before privileges are dropped) -> set_names -> start ->
 * (tick ...) -> free, from the main thread; set_names may be called again at any
 * time (certificate reload). Everything in deps is borrowed. */
#ifndef MOAT_HTTPREDIR_H
#define MOAT_HTTPREDIR_H

#include <stddef.h>

#include "moat/config.h"
#include "moat/metrics.h"
#include "moat/redirect.h"
#include "moat/upstream.h"

#define MOAT_HTTPREDIR_MAX_PATHS 16   /* entries in http.proxy_paths / http.health_paths */
#define MOAT_HTTPREDIR_MAX_NAMES 32   /* aliases, and certificate names used */
#define MOAT_HTTPREDIR_NAME_MAX 256   /* bytes for one name, NUL included */
#define MOAT_HTTPREDIR_FWD_QUEUE 16   /* relays waiting for the forwarder at most */
#define MOAT_HTTPREDIR_FWD_BODY 65536 /* largest response body relayed from the app */

/* The redirect policy built from [http] and the certificate's names. The
 * moat_redirect_policy in it points into the struct itself: never copy it,
 * build it in place. */
struct moat_httpredir_policy {
    struct moat_redirect_policy pol;                                     /* what decide() reads */
    char canonical[MOAT_CFG_STR];                                        /* http.canonical_host */
    char alias_store[MOAT_HTTPREDIR_MAX_NAMES][MOAT_HTTPREDIR_NAME_MAX]; /* aliases */
    const char *aliases[MOAT_HTTPREDIR_MAX_NAMES];                       /* into alias_store */
    char name_store[MOAT_HTTPREDIR_MAX_NAMES][MOAT_HTTPREDIR_NAME_MAX];  /* cert names */
    const char *names[MOAT_HTTPREDIR_MAX_NAMES];                         /* into name_store */
    struct moat_redirect_exemption ex[2 * MOAT_HTTPREDIR_MAX_PATHS];     /* health, then proxy */
    char health_store[MOAT_CFG_PATH];                                    /* health paths' text */
    char proxy_store[MOAT_CFG_PATH];                                     /* proxy paths' text */
};

/* Parses a path list: entries separated by commas and/or spaces, "/exact" or
 * "/prefix/" followed by '*' (everything under /prefix/), or "none" / "" for
 * none. Each entry must be an absolute, normalised path of safe characters ("/"
 * followed by '*', which would exempt everything, is refused). Entries get action; their text is
 * copied into store (cap bytes) and out[i].path points there. Returns 0 with *n set, or -1 with a
 * static reason in *why. Pure. */
int moat_httpredir_paths_parse(const char *list, enum moat_redirect_exempt_action action,
                               struct moat_redirect_exemption *out, size_t cap, size_t *n,
                               char *store, size_t store_cap, const char **why);

/* Builds the policy in *out from cfg's [http] keys and the served certificate's
 * names (borrowed for the call; copied, at most MOAT_HTTPREDIR_MAX_NAMES, longer
 * ones skipped). The Location port is http.redirect_port, else server.listen's
 * port. Returns 0, or -1 with a message naming the key in err (e.g. no canonical
 * host and no usable certificate name). Pure. */
int moat_httpredir_policy_build(const struct moat_config *cfg, const char *const *cert_names,
                                size_t n_names, struct moat_httpredir_policy *out, char *err,
                                size_t errlen);

struct moat_httpredir; /* opaque */

/* What the listener works with (all borrowed, outliving it). */
struct moat_httpredir_deps {
    const struct moat_config *cfg; /* http.*, limits.*, upstream.*, log.* */
    struct moat_metrics *metrics;  /* may be NULL */
    struct moat_upstream *up;      /* the app, for PROXY exemptions */
};

/* Creates the listener and binds http.listen. Returns NULL with a message in
 * err; also NULL with err[0] == '\0' when http.listen is "off". Caller frees. */
struct moat_httpredir *moat_httpredir_new(const struct moat_httpredir_deps *deps, char *err,
                                          size_t errlen);

/* (Re)builds the policy with the certificate's names (see policy_build) and
 * swaps it in; requests in flight finish under the old one. On error the
 * previous policy stays and -1 is returned with a message in err. Any thread. */
int moat_httpredir_set_names(struct moat_httpredir *h, const char *const *cert_names,
                             size_t n_names, char *err, size_t errlen);

/* Starts the daemon and the forwarder threads. set_names must have succeeded.
 * Returns 0, or -1 with a message in err. */
int moat_httpredir_start(struct moat_httpredir *h, char *err, size_t errlen);

/* Closes connections whose request head is overdue (limits.header_timeout).
 * Call every ~100-250 ms from the main thread. */
void moat_httpredir_tick(struct moat_httpredir *h);

/* Emergency-shutdown lockdown (on != 0): from now on a PROXY exemption (the
 * relay to the app) answers 503 "lockdown" instead of reaching the app, and
 * relays still queued are failed the same way; redirects and health answers
 * go on. Any thread; NULL is fine. */
void moat_httpredir_set_lockdown(struct moat_httpredir *h, int on);

/* Stops accepting new connections (drain). */
void moat_httpredir_quiesce(struct moat_httpredir *h);

/* Writes the listening address ("0.0.0.0:8080") into out. */
void moat_httpredir_address(const struct moat_httpredir *h, char *out, size_t cap);

/* Fails relays still queued, stops both threads, closes every connection and
 * frees. NULL is fine. */
void moat_httpredir_free(struct moat_httpredir *h);

#endif
