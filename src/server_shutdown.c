/* server_shutdown.c - the emergency shutdown on the HTTPS listener, at
 * shutdown.https_path when configured (off by default): moat answers it itself,
 * never proxies it, with the same decision as the admin listener's (shutdown.h)
 * and the security headers of every HTTPS answer. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "moat/log.h"
#include "moat/shutdown.h"
#include "server_int.h"

void moat_server_set_shutdown(struct moat_server *srv, struct moat_shutdown *sd, const char *path)
{
    srv->sd = path != NULL && path[0] != '\0' ? sd : NULL;
    srv->sd_path = path;
}

int srv_shutdown_match(const struct moat_server *srv, const char *target)
{
    size_t n;

    if (srv->sd_path == NULL || srv->sd_path[0] == '\0' || target == NULL)
        return 0;
    n = strcspn(target, "?");
    return n == strlen(srv->sd_path) && strncmp(target, srv->sd_path, n) == 0;
}

enum MHD_Result srv_shutdown_answer(struct moat_server *srv, struct MHD_Connection *conn,
                                    struct req_ctx *rc, const char *method,
                                    const struct moat_hdr *hdrs, size_t n_hdrs, int family,
                                    const unsigned char *addr)
{
    struct moat_sd_request sr;
    struct moat_sd_answer ans;
    struct MHD_Response *r = NULL;
    char retry[16];
    enum MHD_Result ret = MHD_NO;
    size_t i;

    /* The access log never shows a query string on this path, whatever log.query says. */
    rc->target[strcspn(rc->target, "?")] = '\0';
    rc->reason = "emergency_shutdown";
    memset(&sr, 0, sizeof(sr));
    memset(&ans, 0, sizeof(ans));
    if (strcmp(method, "POST") != 0) {
        ans.status = moat_shutdown_enabled(srv->sd) ? 405 : 404;
        ans.type = "text/plain; charset=utf-8";
        snprintf(ans.body, sizeof(ans.body), "%s\n",
                 ans.status == 405 ? "Method Not Allowed" : "Not Found");
    } else {
        sr.listener = "https";
        sr.family = family;
        sr.addr = family == AF_INET || family == AF_INET6 ? addr : NULL;
        sr.client = rc->client_ip[0] != '\0' ? rc->client_ip : NULL;
        for (i = 0; i < n_hdrs; i++) {
            if (hdrs[i].name_len != 13 || strncasecmp(hdrs[i].name, "Authorization", 13) != 0)
                continue;
            if (sr.n_authorization == 0) {
                sr.authorization = hdrs[i].value;
                sr.authorization_len = hdrs[i].value_len;
            }
            sr.n_authorization++;
        }
        moat_shutdown_handle(srv->sd, &sr, &ans);
    }
    r = MHD_create_response_from_buffer(strlen(ans.body), ans.body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        goto out;
    MHD_add_response_header(r, "Content-Type", ans.type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (rc->request_id[0] != '\0')
        MHD_add_response_header(r, srv->cfg->proxy.request_id_header, rc->request_id);
    if (ans.status == 405)
        MHD_add_response_header(r, "Allow", "POST");
    if (ans.www_authenticate)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"moat\"");
    if (ans.retry_after > 0) {
        snprintf(retry, sizeof(retry), "%u", ans.retry_after);
        MHD_add_response_header(r, "Retry-After", retry);
    }
    /* Answered at the head: a body is never read, the connection closes. */
    MHD_add_response_header(r, "Connection", "close");
    if (srv_secure_response(srv, rc, r) != 0)
        moat_log(MOAT_LOG_WARN, "header_policy_failed", "security headers not applied to a %d",
                 ans.status);
    ret = MHD_queue_response(conn, (unsigned)ans.status, r);
    rc->status = ans.status;
    rc->own_bytes = strlen(ans.body);
out:
    if (r != NULL)
        MHD_destroy_response(r);
    rc->state = REQ_DONE;
    return ret;
}
