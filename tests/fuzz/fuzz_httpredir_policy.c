/* fuzz_httpredir_policy.c - libFuzzer target: the plain-HTTP listener's policy
 * (httpredir.h): http.proxy_paths / http.health_paths lists, and the policy
 * built from the [http] keys and certificate names.
 *
 * Input: one selector byte, one size byte, then LF-separated lines.
 * Selector even: line 1 is a path list for moat_httpredir_paths_parse (entry
 * and store capacities from the size byte): accepted entries are checked
 * against the list's words, inside the store, valid exemption paths, and the
 * list written back from them parses to the same entries.
 * Selector odd: lines are http.canonical_host, http.aliases,
 * http.redirect_code, http.health_paths, http.proxy_paths, a request target, a
 * Host, then certificate names; a policy that builds must pass
 * moat_redirect_policy_check and decide the request without error. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moat/config.h"
#include "moat/httpredir.h"
#include "moat/redirect.h"

#include "fuzz_common.h"

#define FZ_MAX_INPUT 8192
#define FZ_MAX_LINES 48
#define FZ_GUARD 'G'

static int fz_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t';
}

/* Checks a paths_parse result against list: entry i is the i-th word. */
static void fz_check_entries(const char *list, const struct moat_redirect_exemption *ex, size_t n,
                             enum moat_redirect_exempt_action action, const char *store,
                             size_t store_cap)
{
    const char *s = list;
    size_t i;

    for (i = 0; i < n; i++) {
        size_t plen = strlen(ex[i].path);
        size_t wlen;

        FZ_CHECK(ex[i].path >= store && ex[i].path + plen < store + store_cap);
        FZ_CHECK(ex[i].action == action && (ex[i].prefix == 0 || ex[i].prefix == 1));
        FZ_CHECK(ex[i].path[0] == '/' && strchr(ex[i].path, '*') == NULL);
        FZ_CHECK(moat_redirect_exempt_path_ok(ex[i].path));
        FZ_CHECK(!ex[i].prefix || (plen >= 2 && ex[i].path[plen - 1] == '/'));
        while (fz_sep(*s))
            s++;
        wlen = strcspn(s, ", \t");
        FZ_CHECK(wlen == plen + (size_t)ex[i].prefix && memcmp(s, ex[i].path, plen) == 0);
        FZ_CHECK(!ex[i].prefix || s[plen] == '*');
        s += wlen;
    }
    while (fz_sep(*s))
        s++;
    FZ_CHECK(*s == '\0');
}

static void fz_paths(const char *list, uint8_t sizes)
{
    struct moat_redirect_exemption ex[MOAT_HTTPREDIR_MAX_PATHS + 1];
    struct moat_redirect_exemption ex2[MOAT_HTTPREDIR_MAX_PATHS];
    static char store[MOAT_CFG_PATH + 1];
    static char store2[MOAT_CFG_PATH];
    static char text[2 * MOAT_CFG_PATH];
    size_t cap = (sizes & 1) ? MOAT_HTTPREDIR_MAX_PATHS : (size_t)(sizes >> 1) % 5;
    size_t store_cap = (sizes & 1) ? MOAT_CFG_PATH : (size_t)(sizes >> 4) * 8;
    enum moat_redirect_exempt_action action =
        (sizes & 2) ? MOAT_REDIRECT_EXEMPT_HEALTH : MOAT_REDIRECT_EXEMPT_PROXY;
    const char *why = NULL;
    size_t n = 99;
    size_t n2 = 99;
    size_t used = 0;
    size_t i;

    memset(store, FZ_GUARD, sizeof(store));
    ex[cap].path = NULL;
    if (moat_httpredir_paths_parse(list, action, ex, cap, &n, store, store_cap, &why) != 0) {
        FZ_CHECK(why != NULL && why[0] != '\0' && n == 0);
        FZ_CHECK(store[store_cap] == FZ_GUARD && ex[cap].path == NULL);
        return;
    }
    FZ_CHECK(store[store_cap] == FZ_GUARD && ex[cap].path == NULL);
    FZ_CHECK(n <= cap);
    if (strcmp(list, "none") == 0) {
        FZ_CHECK(n == 0);
        return;
    }
    fz_check_entries(list, ex, n, action, store, store_cap);

    /* Written back ("/p" or "/p/" + "*", comma-separated), it parses to the same. */
    text[0] = '\0';
    for (i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s%s", i > 0 ? ", " : "",
                                 ex[i].path, ex[i].prefix ? "*" : "");
    FZ_CHECK(used < sizeof(text));
    FZ_CHECK(moat_httpredir_paths_parse(text, action, ex2, MOAT_HTTPREDIR_MAX_PATHS, &n2, store2,
                                        sizeof(store2), &why) == 0);
    FZ_CHECK(n2 == n);
    for (i = 0; i < n; i++)
        FZ_CHECK(strcmp(ex[i].path, ex2[i].path) == 0 && ex[i].prefix == ex2[i].prefix);
}

static void fz_build(char **lines, size_t nl)
{
    static struct moat_config cfg;
    static struct moat_httpredir_policy pol;
    static char loc[4096];
    const char *const *names = (const char *const *)(lines + 7);
    struct moat_redirect_result res;
    const char *why = NULL;
    char err[512];
    size_t i;

    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.http.canonical_host, sizeof(cfg.http.canonical_host), "%s", lines[0]);
    snprintf(cfg.http.aliases, sizeof(cfg.http.aliases), "%s", lines[1]);
    snprintf(cfg.http.redirect_code, sizeof(cfg.http.redirect_code), "%s", lines[2]);
    snprintf(cfg.http.health_paths, sizeof(cfg.http.health_paths), "%s", lines[3]);
    snprintf(cfg.http.proxy_paths, sizeof(cfg.http.proxy_paths), "%s", lines[4]);
    cfg.http.redirect_port = (unsigned)strlen(lines[5]) % 3 == 0 ? 0 : 8443;
    cfg.http.wrong_host_status = strlen(lines[6]) % 2 ? 400 : 421;
    cfg.server.listen.port = 443;

    memset(err, FZ_GUARD, sizeof(err));
    if (moat_httpredir_policy_build(&cfg, names, nl > 7 ? nl - 7 : 0, &pol, err, sizeof(err)) !=
        0) {
        FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
        FZ_CHECK(strncmp(err, "http.", 5) == 0); /* names the key */
        return;
    }
    FZ_CHECK(moat_redirect_policy_check(&pol.pol, &why) == 0);
    FZ_CHECK(pol.pol.n_aliases <= MOAT_HTTPREDIR_MAX_NAMES);
    FZ_CHECK(pol.pol.n_cert_names <= MOAT_HTTPREDIR_MAX_NAMES);
    FZ_CHECK(pol.pol.n_exemptions <= 2 * MOAT_HTTPREDIR_MAX_PATHS);
    for (i = 0; i < pol.pol.n_exemptions; i++)
        FZ_CHECK(moat_redirect_exempt_path_ok(pol.pol.exemptions[i].path));
    FZ_CHECK(moat_redirect_decide(&pol.pol, "GET", lines[5], lines[6], strlen(lines[6]), &res, loc,
                                  sizeof(loc)) == 0);
    FZ_CHECK(res.reason != NULL);
    if (res.action == MOAT_REDIRECT_REDIRECT)
        FZ_CHECK(strncmp(loc, "https://", 8) == 0 && res.location == loc);
    else
        FZ_CHECK(res.action == MOAT_REDIRECT_REJECT || res.action == MOAT_REDIRECT_PROXY ||
                 res.action == MOAT_REDIRECT_HEALTH);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[FZ_MAX_INPUT + 1];
    static char empty[] = "";
    char *lines[FZ_MAX_LINES];
    size_t nl = 0;
    size_t len;
    size_t pos = 0;

    if (size < 2)
        return 0;
    len = size - 2 > FZ_MAX_INPUT ? FZ_MAX_INPUT : size - 2;
    memcpy(buf, data + 2, len);
    buf[len] = '\0';
    while (pos <= len && nl < FZ_MAX_LINES) {
        char *lf = memchr(buf + pos, '\n', len - pos);
        size_t end = lf != NULL ? (size_t)(lf - buf) : len;

        buf[end] = '\0';
        lines[nl++] = buf + pos;
        pos = end + 1;
    }
    if (data[0] & 1) {
        size_t n = nl;

        while (n < 8)
            lines[n++] = empty;
        fz_build(lines, nl < 8 ? 8 : nl);
    } else {
        fz_paths(lines[0], data[1]);
    }
    return 0;
}
