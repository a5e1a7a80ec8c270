/* config_int.h - internals shared by config.c, config_keys.c and config_parse.c (not installed). */
#ifndef MOAT_CONFIG_INT_H
#define MOAT_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "moat/config.h"

/* How a key's text is parsed and stored. */
enum moat_cfg_type {
    MOAT_CFG_T_BOOL,     /* int: true/false/yes/no/on/off/1/0 */
    MOAT_CFG_T_UINT,     /* unsigned, decimal, bounded */
    MOAT_CFG_T_SIZE,     /* unsigned bytes, k/m/g suffixes (binary) */
    MOAT_CFG_T_SIZE64,   /* uint64_t bytes, k/m/g suffixes (binary) */
    MOAT_CFG_T_DURATION, /* unsigned milliseconds: "250ms", "10s", "2m", "1h", bare = seconds */
    MOAT_CFG_T_STRING,   /* char[size], printable text */
    MOAT_CFG_T_PATH,     /* char[size], a file system path ("" = unset) */
    MOAT_CFG_T_LISTEN,   /* struct moat_listen_addr */
    MOAT_CFG_T_UPSTREAM, /* struct moat_upstream_addr, text kept at aux */
    MOAT_CFG_T_CIDRS,    /* struct moat_cidr[MOAT_CFG_MAX_CIDRS], count (size_t) at aux */
    MOAT_CFG_T_LOGLEVEL, /* int, enum moat_log_level */
    MOAT_CFG_T_BIND,     /* struct moat_bind_addr: listen address, unix:/path or off */
};

/* Extra validation of a value that already parsed. Returns 0, or -1 with a
 * static reason in *why. */
typedef int (*moat_cfg_check_fn)(const char *value, const char **why);

/* One configuration key: the single source of truth for file, env, flags,
 * --check-config and --help. */
struct moat_cfg_key {
    const char *section;     /* INI section, lower case */
    const char *name;        /* key inside the section, lower case */
    enum moat_cfg_type type; /* parser and storage */
    size_t offset;           /* where the value lives in struct moat_config */
    size_t size;             /* STRING/PATH: buffer size at offset */
    size_t aux;              /* UPSTREAM: offset of the URL text; CIDRS: offset of the count */
    const char *def;         /* default, as it would be written in the file */
    uint64_t min;            /* numeric types: lowest accepted (bytes, ms) */
    uint64_t max;            /* numeric types: highest accepted (bytes, ms) */
    moat_cfg_check_fn check; /* extra validation, or NULL */
    const char *flag;        /* long option without "--", or NULL */
    int flag_value;          /* BOOL: the flag takes a value (--sandbox off) */
    int secret;              /* never print or echo the value */
    const char *help;        /* one line for --help and the sample file */
};

/* Returns the key table and its length in *n. The table is static. */
const struct moat_cfg_key *moat_cfg_keys(size_t *n);

/* Returns the index of section.name in the key table, or -1. */
int moat_cfg_key_find(const char *section, const char *name);

/* True when section is one of the table's sections. */
int moat_cfg_section_known(const char *section);

/* Parses value as key k and stores it into cfg. Returns 0, or -1 with a reason
 * (no secret in it) written to why. */
int moat_cfg_key_set(struct moat_config *cfg, const struct moat_cfg_key *k, const char *value,
                     char *why, size_t whylen);

/* Writes the effective value of key k in cfg to out, in a form the loader
 * accepts. Returns 0, or -1 when out is too small. */
int moat_cfg_key_format(const struct moat_config *cfg, const struct moat_cfg_key *k, char *out,
                        size_t outlen);

/* Writes MOAT_<SECTION>_<KEY> (upper case) for key k. */
void moat_cfg_env_name(const struct moat_cfg_key *k, char *out, size_t outlen);

/* Writes where key idx of cfg got its value, for messages and --check-config:
 * "default", "FILE:LINE", "env MOAT_X_Y" or "flag --x". */
void moat_cfg_source_text(const struct moat_config *cfg, size_t idx, char *out, size_t outlen);

/* True when s starts like "name =": the file reader takes such an indented
 * line for a key, not for the continuation of a value. Pure. */
int moat_cfg_looks_like_key(const char *s);

/* Parses true/false/yes/no/on/off/1/0 (any case). Returns 0 or -1. Pure. */
int moat_cfg_parse_bool(const char *s, int *out);

/* Parses a decimal unsigned integer without sign or spaces. Returns 0 or -1. Pure. */
int moat_cfg_parse_u64(const char *s, uint64_t *out);

/* Parses bytes: a decimal integer with an optional k, m or g suffix (powers of
 * 1024, any case). Returns 0 or -1 (junk or overflow). Pure. */
int moat_cfg_parse_size(const char *s, uint64_t *out);

/* Parses a duration into milliseconds: an integer with ms, s, m or h; a bare
 * integer is seconds. Returns 0 or -1 (junk or overflow). Pure. */
int moat_cfg_parse_duration(const char *s, uint64_t *out_ms);

/* Writes bytes with the largest exact k/m/g suffix. Returns 0, or -1 when out is too small. */
int moat_cfg_format_size(uint64_t bytes, char *out, size_t outlen);

/* Writes milliseconds with the largest exact h/m/s/ms unit. Returns 0, or -1 when out is too small.
 */
int moat_cfg_format_duration(uint64_t ms, char *out, size_t outlen);

/* Like moat_config_parse_listen, with a static reason in *why on error. */
int moat_cfg_parse_listen(const char *s, struct moat_listen_addr *out, const char **why);

/* Like moat_config_parse_bind, with a static reason in *why on error. */
int moat_cfg_parse_bind(const char *s, struct moat_bind_addr *out, const char **why);

/* Like moat_config_parse_upstream, with a static reason in *why on error. */
int moat_cfg_parse_upstream(const char *s, struct moat_upstream_addr *out, const char **why);

/* Like moat_config_parse_cidr, with a static reason in *why on error. */
int moat_cfg_parse_cidr(const char *s, struct moat_cidr *out, const char **why);

#endif
