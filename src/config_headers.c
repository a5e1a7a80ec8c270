/* config_headers.c - builds the security-header and cookie policies from [headers] and [cookies].
 */
#include <stdio.h>
#include <string.h>

#include "config_int.h"
#include "moat/cookie.h"
#include "moat/hdr.h"
#include "moat/secheaders.h"

/* A managed header configured by a value key and a mode key. */
struct hdr_keys {
    enum moat_sech_id id; /* the header */
    const char *key;      /* value key in [headers]; mode key is key + "_mode" */
    size_t value_off;     /* offset of the value in struct moat_config */
    size_t mode_off;      /* offset of the mode in struct moat_config */
};

#define HOFF(field) offsetof(struct moat_config, headers.field)

static const struct hdr_keys hdr_keys[] = {
    {MOAT_SECH_CSP, "csp", HOFF(csp), HOFF(csp_mode)},
    {MOAT_SECH_CSP_RO, "csp_report_only", HOFF(csp_report_only), HOFF(csp_report_only_mode)},
    {MOAT_SECH_XFO, "frame_options", HOFF(frame_options), HOFF(frame_options_mode)},
    {MOAT_SECH_REFERRER, "referrer_policy", HOFF(referrer_policy), HOFF(referrer_policy_mode)},
    {MOAT_SECH_PERMS, "permissions_policy", HOFF(permissions_policy),
     HOFF(permissions_policy_mode)},
    {MOAT_SECH_COOP, "coop", HOFF(coop), HOFF(coop_mode)},
    {MOAT_SECH_CORP, "corp", HOFF(corp), HOFF(corp_mode)},
    {MOAT_SECH_COEP, "coep", HOFF(coep), HOFF(coep_mode)},
};

/* Writes "headers.KEY = "VALUE" (SOURCE): why" into err. */
static void key_error(const struct moat_config *cfg, const char *section, const char *key,
                      const char *value, const char *why, char *err, size_t errlen)
{
    char src[MOAT_CFG_PATH + 32];
    int idx = moat_cfg_key_find(section, key);

    if (idx >= 0)
        moat_cfg_source_text(cfg, (size_t)idx, src, sizeof(src));
    else
        snprintf(src, sizeof(src), "default");
    snprintf(err, errlen, "%s.%s = \"%.200s\" (%s): %s", section, key, value, src, why);
}

/* Sets one managed header from its value and mode keys. With a value but no
 * mode, a header the profile leaves off gets the profile's usual mode. */
static int set_header(const struct moat_config *cfg, struct moat_secheaders *p,
                      const struct hdr_keys *hk, enum moat_sech_mode usual, char *err,
                      size_t errlen)
{
    const char *value = (const char *)cfg + hk->value_off;
    const char *mode_text = (const char *)cfg + hk->mode_off;
    const char *cur = NULL;
    enum moat_sech_mode mode = moat_secheaders_effective(p, 0, hk->id, &cur);
    char key[64];
    char why[512];
    int rc = -1;

    snprintf(key, sizeof(key), "%s_mode", hk->key);
    if (mode_text[0] != '\0') {
        if (moat_secheaders_mode_parse(mode_text, &mode) != 0 || mode == MOAT_SECH_INHERIT) {
            key_error(cfg, "headers", key, mode_text, "must be set, default or off", err, errlen);
            goto out;
        }
    } else if (value[0] != '\0' && mode == MOAT_SECH_OFF) {
        mode = usual;
    }
    if (value[0] == '\0' && mode != MOAT_SECH_OFF && cur == NULL) {
        snprintf(why, sizeof(why), "needs a value in headers.%s", hk->key);
        key_error(cfg, "headers", key, mode_text, why, err, errlen);
        goto out;
    }
    if (moat_secheaders_set(p, 0, hk->id, mode, value[0] != '\0' ? value : NULL, why,
                            sizeof(why)) != 0) {
        key_error(cfg, "headers", value[0] != '\0' ? hk->key : key, value, why, err, errlen);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* Replaces the list of removed headers with the names in headers.remove. */
static int set_remove(const struct moat_config *cfg, struct moat_secheaders *p, char *err,
                      size_t errlen)
{
    const char *v = cfg->headers.remove;
    char name[MOAT_SECH_NAME_MAX + 1];
    char why[256];
    const char *item;
    size_t pos = 0, n;
    int rc = -1;

    if (v[0] == '\0')
        return 0; /* the profile's list */
    moat_secheaders_clear_remove(p);
    if (strcmp(v, "none") == 0)
        return 0;
    while ((item = moat_hdr_list_next(v, &pos, &n)) != NULL) {
        if (n >= sizeof(name)) {
            key_error(cfg, "headers", "remove", v, "a name is too long", err, errlen);
            goto out;
        }
        memcpy(name, item, n);
        name[n] = '\0';
        if (moat_secheaders_add_remove(p, name, why, sizeof(why)) != 0) {
            key_error(cfg, "headers", "remove", v, why, err, errlen);
            goto out;
        }
    }
    rc = 0;
out:
    return rc;
}

#define ENTRY_SEP '|'

/* Trims spaces and tabs around s[0..*len): returns the new start, updates *len. */
static const char *trim(const char *s, size_t *len)
{
    while (*len > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        (*len)--;
    }
    while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
        (*len)--;
    return s;
}

/* Trims spaces and tabs around the NUL-terminated s in place; returns the new start. */
static char *trim_mut(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* One parsed "[MODE] NAME[: value]" entry; strings point into the caller's copy. */
struct hdr_entry {
    int has_mode;             /* a mode word was given */
    enum moat_sech_mode mode; /* that mode */
    const char *name;         /* header name or key (NUL-terminated) */
    const char *value;        /* value (NUL-terminated), NULL when no ':' */
};

/* Parses buf (modified in place) as "[MODE] NAME[: value]". Returns 0, or -1
 * with a static reason in *why. */
static int entry_parse(char *buf, struct hdr_entry *e, const char **why)
{
    char *colon = strchr(buf, ':');
    char *name = buf;
    char *sp;

    memset(e, 0, sizeof(*e));
    if (colon != NULL) {
        *colon = '\0';
        e->value = trim_mut(colon + 1);
    }
    name = trim_mut(name);
    sp = strpbrk(name, " \t");
    if (sp != NULL) {
        *sp = '\0';
        if (moat_secheaders_mode_parse(name, &e->mode) != 0) {
            *why = "expected [set|default|off] NAME: value";
            return -1;
        }
        e->has_mode = 1;
        name = trim_mut(sp + 1);
    }
    if (name[0] == '\0' || strpbrk(name, " \t") != NULL) {
        *why = "expected [set|default|off] NAME: value";
        return -1;
    }
    if (e->value == NULL && !(e->has_mode && e->mode == MOAT_SECH_OFF)) {
        *why = "a header needs \": value\" (or the mode off)";
        return -1;
    }
    if (e->value != NULL && e->value[0] == '\0') {
        *why = "empty value";
        return -1;
    }
    e->name = name;
    return 0;
}

/* Applies one entry to scope: a managed header (by name or key) or a custom one.
 * Without a mode: the scope's current effective mode, or usual when that is off. */
static int entry_apply(struct moat_secheaders *p, size_t scope, const struct hdr_entry *e,
                       enum moat_sech_mode usual, char *why, size_t whylen)
{
    const char *cur = NULL;
    enum moat_sech_mode mode;
    int id = moat_secheaders_lookup(e->name, strlen(e->name));

    if (id < 0)
        return moat_secheaders_add_custom(p, scope, e->name, e->value,
                                          e->has_mode ? e->mode : MOAT_SECH_SET, why, whylen);
    mode = e->has_mode ? e->mode : moat_secheaders_effective(p, scope, (enum moat_sech_id)id, &cur);
    if (!e->has_mode && mode == MOAT_SECH_OFF)
        mode = usual;
    return moat_secheaders_set(p, scope, (enum moat_sech_id)id, mode, e->value, why, whylen);
}

/* Applies each '|'-separated entry of list (with_prefix: each starts with an
 * override prefix) to the policy. Returns 0, or -1 with a message in err. */
static int for_each_entry(const struct moat_config *cfg, const char *key, const char *list,
                          struct moat_secheaders *p, enum moat_sech_mode usual, int with_prefix,
                          char *err, size_t errlen)
{
    char buf[MOAT_CFG_VALUE];
    char shown[256];
    char why[512];
    struct hdr_entry e;
    const char *reason = NULL;
    const char *s = list;
    const char *item;
    char *body;
    size_t n, scope = 0, plen;
    int rc = -1;

    while (*s != '\0') {
        n = strcspn(s, "|");
        item = trim(s, &n);
        s += strcspn(s, "|");
        if (*s == ENTRY_SEP)
            s++;
        if (n == 0)
            continue;
        memcpy(buf, item, n);
        buf[n] = '\0';
        snprintf(shown, sizeof(shown), "%.200s", buf);
        body = buf;
        if (with_prefix) {
            plen = strcspn(buf, " \t");
            if (buf[plen] == '\0') {
                key_error(cfg, "headers", key, shown, "expected /PREFIX [MODE] HEADER: value", err,
                          errlen);
                goto out;
            }
            buf[plen] = '\0';
            if (moat_secheaders_override_scope(p, buf, &scope, why, sizeof(why)) != 0) {
                key_error(cfg, "headers", key, shown, why, err, errlen);
                goto out;
            }
            body = buf + plen + 1;
        }
        if (entry_parse(body, &e, &reason) != 0) {
            key_error(cfg, "headers", key, shown, reason, err, errlen);
            goto out;
        }
        if (entry_apply(p, scope, &e, usual, why, sizeof(why)) != 0) {
            key_error(cfg, "headers", key, shown, why, err, errlen);
            goto out;
        }
    }
    rc = 0;
out:
    return rc;
}

int moat_config_headers_build(const struct moat_config *cfg, struct moat_secheaders *p,
                              struct moat_cookie_policy *cp, char *err, size_t errlen)
{
    const struct moat_config *c = cfg;
    enum moat_sech_profile profile = MOAT_SECH_STANDARD;
    enum moat_sech_mode hsts_mode = MOAT_SECH_SET;
    enum moat_sech_mode usual;
    const char *cur = NULL;
    char why[512];
    size_t i;
    int rc = -1;

    if (moat_secheaders_profile_parse(c->headers.profile, &profile) != 0) {
        key_error(cfg, "headers", "profile", c->headers.profile, "must be standard or strict", err,
                  errlen);
        goto out;
    }
    moat_secheaders_defaults(p, profile);
    usual = profile == MOAT_SECH_STRICT ? MOAT_SECH_SET : MOAT_SECH_DEFAULT;
    if (c->headers.hsts_mode[0] != '\0') {
        if (moat_secheaders_mode_parse(c->headers.hsts_mode, &hsts_mode) != 0 ||
            hsts_mode == MOAT_SECH_INHERIT) {
            key_error(cfg, "headers", "hsts_mode", c->headers.hsts_mode,
                      "must be set, default or off", err, errlen);
            goto out;
        }
    } else {
        hsts_mode = moat_secheaders_effective(p, 0, MOAT_SECH_HSTS, &cur);
    }
    if (moat_secheaders_set_hsts(p, 0, hsts_mode, c->headers.hsts_max_age,
                                 c->headers.hsts_include_subdomains, c->headers.hsts_preload, why,
                                 sizeof(why)) != 0) {
        key_error(cfg, "headers", "hsts_max_age", "", why, err, errlen);
        goto out;
    }
    for (i = 0; i < sizeof(hdr_keys) / sizeof(hdr_keys[0]); i++)
        if (set_header(cfg, p, &hdr_keys[i], usual, err, errlen) != 0)
            goto out;
    moat_secheaders_set_nonce(p, c->headers.csp_nonce);
    if (set_remove(cfg, p, err, errlen) != 0)
        goto out;
    if (moat_secheaders_set_report_uri(p, c->headers.report_uri, why, sizeof(why)) != 0) {
        key_error(cfg, "headers", "report_uri", c->headers.report_uri, why, err, errlen);
        goto out;
    }
    if (for_each_entry(cfg, "custom", c->headers.custom, p, usual, 0, err, errlen) != 0 ||
        for_each_entry(cfg, "overrides", c->headers.overrides, p, usual, 1, err, errlen) != 0)
        goto out;

    moat_cookie_policy_defaults(cp);
    if (moat_cookie_samesite_parse(c->cookies.samesite, &cp->samesite) != 0) {
        key_error(cfg, "cookies", "samesite", c->cookies.samesite, "must be Lax, Strict or off",
                  err, errlen);
        goto out;
    }
    cp->script_readable = c->cookies.script_readable;
    if (moat_cookie_policy_check(cp, why, sizeof(why)) != 0) {
        key_error(cfg, "cookies", "script_readable", c->cookies.script_readable, why, err, errlen);
        goto out;
    }
    rc = 0;
out:
    return rc;
}
