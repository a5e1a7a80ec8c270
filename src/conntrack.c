/* conntrack.c - a listener's open connections and their head deadlines (see conntrack.h). */
#include "moat/conntrack.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "moat/connlimit.h"

void moat_conntrack_init(struct moat_conntrack *ct)
{
    pthread_mutex_init(&ct->lock, NULL);
    ct->head = NULL;
}

void moat_conntrack_destroy(struct moat_conntrack *ct)
{
    pthread_mutex_destroy(&ct->lock);
}

int moat_conntrack_client(struct MHD_Connection *conn, unsigned char addr[16], char *text,
                          size_t textlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    int family = moat_connlimit_addr_of(ci != NULL ? ci->client_addr : NULL, addr);

    if (text != NULL &&
        (family == AF_UNSPEC || inet_ntop(family, addr, text, (socklen_t)textlen) == NULL))
        snprintf(text, textlen, "unknown");
    return family;
}

int moat_conntrack_client_of(const struct moat_ct_conn *c, struct MHD_Connection *conn,
                             unsigned char addr[16], char *text, size_t textlen)
{
    int family;

    if (c == NULL) {
        family = moat_conntrack_client(conn, addr, text, textlen);
        goto out;
    }
    family = c->family;
    memcpy(addr, c->addr, sizeof(c->addr));
    if (text != NULL && textlen > 0) {
        size_t n = strnlen(c->text, sizeof(c->text));

        if (n >= textlen)
            n = textlen - 1;
        memcpy(text, c->text, n);
        text[n] = '\0';
    }
out:
    return family;
}

/* Header walk state for moat_conntrack_headers. */
struct ct_hdrs {
    struct moat_hdr *hdrs; /* cap entries (the caller's) */
    size_t cap;            /* capacity */
    size_t n;              /* fields seen (may exceed cap: then only counted) */
};

static enum MHD_Result ct_hdr(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                              const char *value, size_t value_size)
{
    struct ct_hdrs *hc = cls;

    (void)kind;
    if (hc->n < hc->cap) {
        hc->hdrs[hc->n].name = key;
        hc->hdrs[hc->n].name_len = key_size;
        hc->hdrs[hc->n].value = value != NULL ? value : "";
        hc->hdrs[hc->n].value_len = value != NULL ? value_size : 0;
    }
    hc->n++;
    return MHD_YES;
}

size_t moat_conntrack_headers(struct MHD_Connection *conn, struct moat_hdr *hdrs, size_t cap)
{
    struct ct_hdrs hc = {hdrs, cap, 0};

    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, ct_hdr, &hc);
    return hc.n;
}

void moat_conntrack_add(struct moat_conntrack *ct, struct moat_ct_conn *c,
                        struct MHD_Connection *conn, uint64_t deadline_ms)
{
    const union MHD_ConnectionInfo *ci;

    c->family = moat_conntrack_client(conn, c->addr, c->text, sizeof(c->text));
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->fd = ci != NULL ? ci->connect_fd : -1;
    c->peer_len = sizeof(c->peer);
    if (c->fd < 0 || getpeername(c->fd, (struct sockaddr *)&c->peer, &c->peer_len) != 0)
        c->peer_len = 0;
    c->prev = NULL;
    pthread_mutex_lock(&ct->lock);
    c->deadline_ms = deadline_ms;
    c->next = ct->head;
    if (ct->head != NULL)
        ct->head->prev = c;
    ct->head = c;
    pthread_mutex_unlock(&ct->lock);
}

void moat_conntrack_remove(struct moat_conntrack *ct, struct moat_ct_conn *c)
{
    pthread_mutex_lock(&ct->lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ct->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    pthread_mutex_unlock(&ct->lock);
}

void moat_conntrack_set_deadline(struct moat_conntrack *ct, struct moat_ct_conn *c,
                                 uint64_t deadline_ms)
{
    pthread_mutex_lock(&ct->lock);
    c->deadline_ms = deadline_ms;
    pthread_mutex_unlock(&ct->lock);
}

void moat_conntrack_cap_deadline(struct moat_conntrack *ct, struct moat_ct_conn *c,
                                 uint64_t deadline_ms)
{
    pthread_mutex_lock(&ct->lock);
    if (c->deadline_ms == 0 || c->deadline_ms > deadline_ms)
        c->deadline_ms = deadline_ms;
    pthread_mutex_unlock(&ct->lock);
}

/* True when fd's peer is still the one recorded in c. */
static int same_peer(const struct moat_ct_conn *c)
{
    struct sockaddr_storage now;
    socklen_t len = sizeof(now);

    return c->peer_len != 0 && getpeername(c->fd, (struct sockaddr *)&now, &len) == 0 &&
           len == c->peer_len && memcmp(&now, &c->peer, len) == 0;
}

unsigned moat_conntrack_sweep(struct moat_conntrack *ct, uint64_t now_ms, moat_ct_cut_fn on_cut,
                              void *arg)
{
    struct moat_ct_conn *c;
    unsigned cut = 0;

    pthread_mutex_lock(&ct->lock);
    for (c = ct->head; c != NULL; c = c->next) {
        if (c->deadline_ms == 0 || now_ms < c->deadline_ms || c->fd < 0)
            continue;
        c->deadline_ms = 0;
        if (!same_peer(c))
            continue;
        if (on_cut != NULL)
            on_cut(arg);
        shutdown(c->fd, SHUT_RDWR);
        cut++;
    }
    pthread_mutex_unlock(&ct->lock);
    return cut;
}
