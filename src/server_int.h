/* server_int.h - internals shared by the HTTPS listener's two halves:
 * listener.c (sockets, workers, daemons, lifecycle) and server.c (what happens
 * to each connection and request). Not a public API. */
#ifndef MOAT_SERVER_INT_H
#define MOAT_SERVER_INT_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "moat/config.h"
#include "moat/connlimit.h"
#include "moat/conntrack.h"
#include "moat/cookie.h"
#include "moat/fwd.h"
#include "moat/metrics.h"
#include "moat/proxy.h"
#include "moat/reqcheck.h"
#include "moat/secheaders.h"
#include "moat/server.h"
#include "moat/tlspush.h"
#include "moat/tlsstore.h"
#include "moat/tlsticket.h"
#include "moat/upstream.h"

/* One client connection (MHD socket context). */
struct conn_ctx {
    struct moat_ct_conn ct;       /* client key, socket and head deadline (srv->conns) */
    struct moat_metrics *metrics; /* the server's registry (borrowed), for the TLS hook */
    int tls_counted;              /* the handshake was counted (worker thread only) */
    int client_auth;              /* enum moat_tls_client_auth for this connection */
    int dn_done;                  /* client_dn was looked up (worker thread only) */
    char *client_dn;              /* verified client subject, header-safe (owned), or NULL */
    struct moat_tlspush push;     /* the transport GnuTLS writes through (srv_push_hold) */
    int push_state;               /* push: 0 not tried yet, 1 attached, -1 GnuTLS's own */
    struct MHD_Connection *conn;  /* the connection (libmicrohttpd's), for srv_tls_rearm */
    int mhd_epfd;                 /* its daemon's epoll fd (libmicrohttpd's), -1 if unknown */
};

enum req_state {
    REQ_NEW = 0, /* head received, not yet validated */
    REQ_BODY,    /* receiving the client's body */
    REQ_WAIT,    /* waiting for the upstream's response head */
    REQ_DONE,    /* a response was queued */
};

/* One request (MHD request context, created by the URI log callback). */
struct req_ctx {
    struct moat_server *srv;                  /* borrowed */
    char *target;                             /* raw request target (owned) */
    size_t target_len;                        /* its length */
    uint64_t start_ms;                        /* request line received */
    enum req_state state;                     /* where the request is */
    struct moat_exchange *ex;                 /* proxy exchange (one reference), or NULL */
    struct conn_ctx *cc;                      /* the connection's context (borrowed), or NULL */
    int status;                               /* status queued to the client, 0 = none */
    const char *reason;                       /* rejection / failure label, or NULL */
    uint64_t body_seen;                       /* body bytes received */
    uint64_t own_bytes;                       /* body bytes of moat's own answer (0 when proxied) */
    char request_id[MOAT_REQUEST_ID_MAX + 1]; /* id sent upstream and logged */
    char client_ip[INET6_ADDRSTRLEN];         /* textual client address */
    char method[32];                          /* request method (truncated) */
    char nonce[MOAT_SECH_NONCE_B64];          /* CSP nonce of this request, "" = none */
};

/* One listener worker: a thread running its own libmicrohttpd daemon (external
 * epoll mode, sharing the listening socket) and its own proxy engine. */
struct srv_worker {
    struct moat_server *srv;   /* back pointer (borrowed) */
    unsigned idx;              /* worker number */
    struct MHD_Daemon *daemon; /* this worker's daemon (owned) */
    struct moat_proxy *px;     /* this worker's engine (owned) */
    struct moat_hdr *hdrs;     /* limits.max_headers + 1 entries: request-head scratch (owned) */
    int wake_fd;               /* eventfd: quiesce/stop requests (owned) */
    pthread_t thread;          /* the worker thread */
    int running;               /* thread started and not joined */
    int quiesced;              /* daemon no longer accepts (worker thread, then main) */
    char mhd_mark;             /* address used as epoll data for the daemon's fd */
    char wake_mark;            /* address used as epoll data for wake_fd */
};

struct moat_server {
    const struct moat_config *cfg;   /* borrowed */
    struct moat_upstream *up;        /* borrowed */
    struct moat_tlsstore *tls;       /* borrowed */
    struct moat_metrics *metrics;    /* borrowed, may be NULL */
    struct moat_reqcheck_limits lim; /* from cfg */
    int listen_fd;                   /* bound listening socket (owned) */
    struct srv_worker *workers;      /* n_workers entries (owned) */
    unsigned n_workers;              /* listener threads */
    struct moat_connlimit *climit;   /* connection admission (owned) */
    atomic_int draining;             /* quiesced: answer with Connection: close */
    atomic_int lockdown;             /* emergency shutdown: every proxied request is 503 */
    atomic_int stopping;             /* workers must leave their loops */
    atomic_uint n_conns;             /* open client connections */
    atomic_uint n_reqs;              /* requests in progress */
    struct moat_conntrack conns;     /* open connections and their head deadlines */
    unsigned char rid_key[crypto_stream_chacha20_KEYBYTES]; /* request-id key (random) */
    atomic_uint_fast64_t rid_counter;                       /* request ids and nonces issued */
    const struct moat_secheaders *sech;       /* header policy (borrowed), NULL = none */
    const struct moat_cookie_policy *cookies; /* cookie hardening (borrowed), NULL = off */
    struct moat_shutdown *sd;                 /* emergency shutdown (borrowed), NULL = off */
    const char *sd_path;                      /* shutdown.https_path (borrowed), NULL = off */
    struct moat_server_tls tls_opts;          /* tickets, client certificates (borrowed parts) */
};

/* libmicrohttpd callbacks (server.c). cls is the server, except for
 * srv_access whose cls is the worker. */
enum MHD_Result srv_access(void *cls, struct MHD_Connection *conn, const char *url,
                           const char *method, const char *version, const char *upload_data,
                           size_t *upload_data_size, void **req_cls);
void srv_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                   enum MHD_RequestTerminationCode toe);
void *srv_uri_log(void *cls, const char *uri, struct MHD_Connection *conn);
void srv_notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe);
enum MHD_Result srv_accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen);

/* 16 unpredictable bytes (server.c): ChaCha20 keystream under the server's
 * random key, a fresh block per call; no system call. */
void srv_random16(struct moat_server *srv, unsigned char out[16]);

/* Sets rc->nonce to a fresh base64 nonce when the policy wants one for the
 * request's path, else to "" (respond.c). */
void srv_nonce_make(struct moat_server *srv, struct req_ctx *rc);

/* Adds the header policy's headers (with the CSP nonce) to r, one of moat's own
 * responses to rc (errors, redirects: no app fields), before it is queued
 * (respond.c). Returns 0, or -1 when they could not be added (the caller must
 * not send r as it is). */
int srv_secure_response(struct moat_server *srv, struct req_ctx *rc, struct MHD_Response *r);

/* What srv_proxied_fields() works for (borrowed). */
struct srv_fields_ctx {
    struct moat_server *srv; /* the listener */
    struct req_ctx *rc;      /* the request answered */
};

/* moat_exchange_fields_fn for proxied responses (respond.c), arg a struct
 * srv_fields_ctx: decides the header policy on the app's end-to-end fields,
 * adds the ones it keeps (Set-Cookie hardened), then moat's headers and the
 * request id when the app sent none. */
int srv_proxied_fields(void *arg, struct MHD_Response *r, const struct moat_hdr *hdrs, size_t n);

/* True when target (query ignored) is shutdown.https_path (server_shutdown.c). */
int srv_shutdown_match(const struct moat_server *srv, const char *target);

/* Answers the emergency shutdown on the HTTPS listener: 405/404 for other
 * methods, else moat_shutdown_handle's answer, security headers applied, the
 * connection closed after it (server_shutdown.c). hdrs: the request's fields
 * (borrowed); family/addr: the client. */
enum MHD_Result srv_shutdown_answer(struct moat_server *srv, struct MHD_Connection *conn,
                                    struct req_ctx *rc, const char *method,
                                    const struct moat_hdr *hdrs, size_t n_hdrs, int family,
                                    const unsigned char *addr);

#endif
