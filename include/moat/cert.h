/* cert.h - certificate work with OpenSSL: checking a certificate/key pair
 * before serving it, and the --dev self-signed certificate.
 *
 * All functions are synchronous file operations meant for startup (and reload);
 * none is called on the request path. Messages written to err are one line,
 * name the file and say what is wrong; they never contain key material. */
#ifndef MOAT_CERT_H
#define MOAT_CERT_H

#include <stddef.h>
#include <time.h>

#define MOAT_CERT_MAX_NAMES 32

/* What moat learnt about a served certificate. Caller-owned, no pointers. */
struct moat_cert_info {
    char subject_cn[256];                 /* subject commonName, "" when none */
    char names[MOAT_CERT_MAX_NAMES][256]; /* DNS and IP subjectAltNames, as text */
    size_t n_names;                       /* entries used in names */
    time_t not_before;                    /* validity start (UTC) */
    time_t not_after;                     /* validity end (UTC) */
    char key_type[16];                    /* "ECDSA" or "RSA" */
    int key_bits;                         /* key size in bits */
    char sha256[96 + 1];                  /* fingerprint "AB:CD:..." of the leaf (DER) */
    int key_mode_too_open;                /* key file grants group/other any access (mode & 077) */
    size_t chain_len;                     /* certificates in the PEM file (leaf first) */
};

/* Checks cert_path (PEM, leaf first, optional intermediates) and key_path (PEM
 * private key, ECDSA or RSA): both readable, parseable, the key matches the leaf,
 * the leaf is valid at `now` (not expired, not yet valid), intermediates parse
 * and come in order (each issued by the next). Keys: RSA >= 2048 bits or ECDSA
 * P-256/P-384, unencrypted.
 * Fills info (also on some errors, as far as it got). Returns 0 when the pair
 * may be served (warnings such as key_mode_too_open are flags in info), -1 with
 * a message in err otherwise. */
int moat_cert_check(const char *cert_path, const char *key_path, time_t now,
                    struct moat_cert_info *info, char *err, size_t errlen);

/* Ensures a development certificate exists in state_dir (created 0700 when
 * missing): an ECDSA P-256 self-signed certificate for DNS:localhost,
 * IP:127.0.0.1 and IP:::1, valid for 825 days, stored as dev-cert.pem (0644)
 * and dev-key.pem (0600). An existing pair is reused when it checks out and has
 * more than 30 days left; otherwise it is regenerated. Writes the file paths
 * into cert_out/key_out (cap bytes each) and sets *created to 1 when new files
 * were written. Returns 0, or -1 with a message in err. */
int moat_cert_dev_ensure(const char *state_dir, char *cert_out, char *key_out, size_t cap,
                         int *created, char *err, size_t errlen);

#endif
