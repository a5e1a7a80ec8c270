/* config_headers.c - builds the security-header and cookie policies from [headers] and [cookies].
 */
#include <stdio.h>
#include <string.h>

#include "config_int.h"
#include "moat/cookie.h"
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
    size_t i = 0, n;
    int rc = -1;

    if (v[0] == '\0')
        return 0; /* the profile's list */
    moat_secheaders_clear_remove(p);
    if (strcmp(v, "none") == 0)
        return 0;
    while (v[i] != '\0') {
        n = strcspn(v + i, ", \t");
        if (n > 0) {
            if (n >= sizeof(name)) {
                key_error(cfg, "headers", "remove", v, "a name is too long", err, errlen);
                goto out;
            }
            memcpy(name, v + i, n);
            name[n] = '\0';
            if (moat_secheaders_add_remove(p, name, why, sizeof(why)) != 0) {
                key_error(cfg, "headers", "remove", v, why, err, errlen);
                goto out;
            }
        }
        i += n;
        i += strspn(v + i, ", \t");
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
