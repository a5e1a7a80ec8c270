/* httpredir_policy.c - the plain-HTTP listener's redirect policy built from [http] and the
 * certificate's names (pure: no I/O). */
#include <stdio.h>
#include <string.h>

#include "moat/httpredir.h"
#include "moat/log.h"

#define LIST_SEPS ", \t"

int moat_httpredir_paths_parse(const char *list, enum moat_redirect_exempt_action action,
                               struct moat_redirect_exemption *out, size_t cap, size_t *n,
                               char *store, size_t store_cap, const char **why)
{
    size_t i = 0, len, used = 0, count = 0;
    char *entry;
    int prefix;
    int rc = -1;

    *n = 0;
    if (strcmp(list, "none") == 0 || list[0] == '\0')
        return 0;
    while (list[i] != '\0') {
        len = strcspn(list + i, LIST_SEPS);
        if (len == 0)
            goto next;
        if (count == cap) {
            *why = "too many paths (at most 16)";
            goto out;
        }
        if (used + len + 1 > store_cap) {
            *why = "the paths are too long";
            goto out;
        }
        entry = store + used;
        memcpy(entry, list + i, len);
        entry[len] = '\0';
        prefix = 0;
        if (len >= 2 && entry[len - 1] == '*' && entry[len - 2] == '/') {
            prefix = 1;
            entry[len - 1] = '\0'; /* a final "/" + "*" is stored as the prefix */
        }
        if (strchr(entry, '*') != NULL) {
            *why = "'*' is allowed only as a final \"/*\" (everything under a prefix)";
            goto out;
        }
        if (prefix && strcmp(entry, "/") == 0) {
            *why = "\"/*\" would exempt every path from the redirect";
            goto out;
        }
        if (!moat_redirect_exempt_path_ok(entry)) {
            *why = "paths must be absolute and normalised (no //, . or .., no query, safe "
                   "characters only), e.g. /healthz or /.well-known/acme-challenge/*";
            goto out;
        }
        out[count].path = entry;
        out[count].prefix = prefix;
        out[count].action = action;
        count++;
        used += strlen(entry) + 1;
    next:
        i += len;
        i += strspn(list + i, LIST_SEPS);
    }
    *n = count;
    rc = 0;
out:
    return rc;
}

/* Splits a comma/space separated list of names into store/ptrs. Returns the
 * count, or -1 when there are too many or one is too long. */
static int split_names(const char *list, char (*store)[MOAT_HTTPREDIR_NAME_MAX], const char **ptrs)
{
    size_t i = 0, len;
    int count = 0;

    while (list[i] != '\0') {
        len = strcspn(list + i, LIST_SEPS);
        if (len > 0) {
            if (count == MOAT_HTTPREDIR_MAX_NAMES || len >= MOAT_HTTPREDIR_NAME_MAX)
                return -1;
            memcpy(store[count], list + i, len);
            store[count][len] = '\0';
            ptrs[count] = store[count];
            count++;
        }
        i += len;
        i += strspn(list + i, LIST_SEPS);
    }
    return count;
}

int moat_httpredir_policy_build(const struct moat_config *cfg, const char *const *cert_names,
                                size_t n_names, struct moat_httpredir_policy *out, char *err,
                                size_t errlen)
{
    struct moat_redirect_policy *p = &out->pol;
    enum moat_redirect_code_mode code = MOAT_REDIRECT_CODE_308;
    const char *why = NULL;
    size_t n_health = 0, n_proxy = 0, i;
    int n_alias;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    moat_redirect_policy_init(p);
    snprintf(out->canonical, sizeof(out->canonical), "%s", cfg->http.canonical_host);
    p->canonical_host = out->canonical;
    n_alias = split_names(cfg->http.aliases, out->alias_store, out->aliases);
    if (n_alias < 0) {
        moat_set_err(err, errlen, "http.aliases: too many names (at most %d) or one too long",
                     MOAT_HTTPREDIR_MAX_NAMES);
        goto out;
    }
    p->aliases = out->aliases;
    p->n_aliases = (size_t)n_alias;
    for (i = 0; i < n_names && p->n_cert_names < MOAT_HTTPREDIR_MAX_NAMES; i++) {
        if (cert_names[i] == NULL || strlen(cert_names[i]) >= MOAT_HTTPREDIR_NAME_MAX)
            continue;
        snprintf(out->name_store[p->n_cert_names], MOAT_HTTPREDIR_NAME_MAX, "%s", cert_names[i]);
        out->names[p->n_cert_names] = out->name_store[p->n_cert_names];
        p->n_cert_names++;
    }
    p->cert_names = out->names;
    p->https_port =
        cfg->http.redirect_port != 0 ? cfg->http.redirect_port : cfg->server.listen.port;
    if (moat_redirect_code_parse(cfg->http.redirect_code, &code) != 0) {
        moat_set_err(err, errlen, "http.redirect_code = \"%s\": must be 308, 301 or mixed",
                     cfg->http.redirect_code);
        goto out;
    }
    p->code_mode = code;
    p->wrong_host_status = (int)cfg->http.wrong_host_status;
    if (moat_httpredir_paths_parse(cfg->http.health_paths, MOAT_REDIRECT_EXEMPT_HEALTH, out->ex,
                                   MOAT_HTTPREDIR_MAX_PATHS, &n_health, out->health_store,
                                   sizeof(out->health_store), &why) != 0) {
        moat_set_err(err, errlen, "http.health_paths = \"%.200s\": %s", cfg->http.health_paths,
                     why);
        goto out;
    }
    if (moat_httpredir_paths_parse(cfg->http.proxy_paths, MOAT_REDIRECT_EXEMPT_PROXY,
                                   out->ex + n_health, MOAT_HTTPREDIR_MAX_PATHS, &n_proxy,
                                   out->proxy_store, sizeof(out->proxy_store), &why) != 0) {
        moat_set_err(err, errlen, "http.proxy_paths = \"%.200s\": %s", cfg->http.proxy_paths, why);
        goto out;
    }
    p->exemptions = out->ex;
    p->n_exemptions = n_health + n_proxy;
    if (moat_redirect_policy_check(p, &why) != 0) {
        if (out->canonical[0] == '\0' && p->n_aliases == 0)
            moat_set_err(err, errlen,
                         "http.canonical_host is empty and the served certificate has no usable "
                         "DNS or IP name: set http.canonical_host (or http.listen = off)");
        else
            moat_set_err(err, errlen, "http.%s", why);
        goto out;
    }
    rc = 0;
out:
    return rc;
}
