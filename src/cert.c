/* cert.c - checks a certificate/key pair before it is served, and makes the --dev certificate
 * (OpenSSL 3). */
#include "moat/cert.h"
#include "moat/log.h"
#include "moat/fileio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define PEM_FILE_MAX (1024 * 1024) /* refuse PEM files larger than this */
#define RSA_MIN_BITS 2048
#define DEV_DAYS 825                     /* validity of the dev certificate */
#define DEV_RENEW_SECS (30L * 24 * 3600) /* regenerate when less than this is left */
#define DEV_CERT_NAME "dev-cert.pem"
#define DEV_KEY_NAME "dev-key.pem"

/* The most recent OpenSSL error as text (into buf), then an empty queue. */
static const char *ossl_why(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, cap, "unknown error");
    else
        ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
    return buf;
}

/* Reads the regular file at path (at most PEM_FILE_MAX bytes) into a new
 * NUL-terminated buffer the caller wipes and frees. *mode gets st_mode. */
static int read_pem_file(const char *path, const char *what, char **out, size_t *outlen,
                         mode_t *mode, char *err, size_t errlen)
{
    size_t cap = 0;

    return moat_file_read(path, what, PEM_FILE_MAX, out, outlen, &cap, mode, err, errlen);
}

static void wipe_free(char *buf, size_t len)
{
    if (buf == NULL)
        return;
    OPENSSL_cleanse(buf, len);
    free(buf);
}

/* Copies len bytes of s as printable text (controls become '?'). */
static void copy_text(char *dst, size_t cap, const unsigned char *s, size_t len)
{
    size_t i;

    if (cap == 0)
        return;
    if (len > cap - 1)
        len = cap - 1;
    for (i = 0; i < len; i++)
        dst[i] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : (char)s[i];
    dst[len] = '\0';
}

static void fmt_time(time_t t, char *buf, size_t cap)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "%lld", (long long)t);
}

static int asn1_to_time_t(const ASN1_TIME *a, time_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1)
        return -1;
    *out = timegm(&tm);
    return 0;
}

/* Fills subject_cn, names, validity and fingerprint from the leaf. */
static void leaf_describe(X509 *leaf, struct moat_cert_info *info)
{
    const X509_NAME *subj = X509_get_subject_name(leaf);
    GENERAL_NAMES *sans = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    unsigned char *utf8 = NULL;
    int idx, n, k;

    idx = subj != NULL ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
    if (idx >= 0) {
        n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx)));
        if (n >= 0)
            copy_text(info->subject_cn, sizeof(info->subject_cn), utf8, (size_t)n);
        OPENSSL_free(utf8);
    }

    sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    n = sans != NULL ? sk_GENERAL_NAME_num(sans) : 0;
    for (k = 0; k < n && info->n_names < MOAT_CERT_MAX_NAMES; k++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, k);
        char *dst = info->names[info->n_names];
        const ASN1_STRING *s;

        if (gn->type == GEN_DNS) {
            s = gn->d.dNSName;
            copy_text(dst, sizeof(info->names[0]), ASN1_STRING_get0_data(s),
                      (size_t)ASN1_STRING_length(s));
            info->n_names++;
        } else if (gn->type == GEN_IPADD) {
            s = gn->d.iPAddress;
            if (ASN1_STRING_length(s) == 4 &&
                inet_ntop(AF_INET, ASN1_STRING_get0_data(s), dst, sizeof(info->names[0])) != NULL)
                info->n_names++;
            else if (ASN1_STRING_length(s) == 16 && inet_ntop(AF_INET6, ASN1_STRING_get0_data(s),
                                                              dst, sizeof(info->names[0])) != NULL)
                info->n_names++;
        }
    }
    GENERAL_NAMES_free(sans);

    if (asn1_to_time_t(X509_get0_notBefore(leaf), &info->not_before) != 0)
        info->not_before = 0;
    if (asn1_to_time_t(X509_get0_notAfter(leaf), &info->not_after) != 0)
        info->not_after = 0;

    if (X509_digest(leaf, EVP_sha256(), md, &mdlen) == 1) {
        for (i = 0; i < mdlen && (size_t)i * 3 + 3 <= sizeof(info->sha256); i++)
            snprintf(info->sha256 + i * 3, 4, i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
    }
}

/* Reads every certificate of the PEM text: the leaf into *leaf, the rest into
 * *rest (caller frees both). */
static int chain_read(const char *pem, size_t len, const char *path, X509 **leaf,
                      STACK_OF(X509) * *rest, size_t *count, char *err, size_t errlen)
{
    char why[256];
    BIO *bio = NULL;
    X509 *x = NULL;
    unsigned long e;
    int rc = -1;

    *leaf = NULL;
    *count = 0;
    *rest = sk_X509_new_null();
    bio = BIO_new_mem_buf(pem, (int)len);
    if (*rest == NULL || bio == NULL) {
        moat_set_err(err, errlen, "out of memory reading %s", path);
        goto out;
    }
    for (;;) {
        ERR_clear_error();
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (x == NULL)
            break;
        if (*leaf == NULL) {
            *leaf = x;
        } else if (sk_X509_push(*rest, x) <= 0) {
            X509_free(x);
            moat_set_err(err, errlen, "out of memory reading %s", path);
            goto out;
        }
        x = NULL;
        (*count)++;
    }
    e = ERR_peek_last_error();
    if (!(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
        moat_set_err(err, errlen, "certificate %zu in %s does not parse: %s", *count + 1, path,
                     ossl_why(why, sizeof(why)));
        goto out;
    }
    if (*count == 0) {
        moat_set_err(err, errlen, "no certificate found in %s", path);
        goto out;
    }
    rc = 0;
out:
    ERR_clear_error();
    BIO_free(bio);
    return rc;
}

/* Each certificate must be issued by the next one (leaf first). */
static int chain_order_check(X509 *leaf, STACK_OF(X509) * rest, const char *path, char *err,
                             size_t errlen)
{
    X509 *child = leaf, *parent;
    int i;
    int rc = -1;

    for (i = 0; i < sk_X509_num(rest); i++) {
        parent = sk_X509_value(rest, i);
        if (X509_check_issued(parent, child) != X509_V_OK) {
            moat_set_err(err, errlen,
                         "certificate %d in %s did not issue certificate %d (order: leaf first, "
                         "then each issuer)",
                         i + 2, path, i + 1);
            goto out;
        }
        child = parent;
    }
    rc = 0;
out:
    ERR_clear_error();
    return rc;
}

/* True when the text holds a "-----BEGIN ...PRIVATE KEY-----" line. */
static int has_key_block(const char *pem)
{
    static const char begin[] = "-----BEGIN ", tail[] = "PRIVATE KEY-----";
    const char *p = strstr(pem, begin);
    size_t n;

    while (p != NULL) {
        p += sizeof(begin) - 1;
        n = strcspn(p, "\r\n");
        if (n >= sizeof(tail) - 1 &&
            memcmp(p + n - (sizeof(tail) - 1), tail, sizeof(tail) - 1) == 0)
            return 1;
        p = strstr(p + n, begin);
    }
    return 0;
}

static int ask_password_cb(char *buf, int size, int rwflag, void *u)
{
    int *asked = u;

    (void)buf;
    (void)size;
    (void)rwflag;
    *asked = 1;
    return -1;
}

/* Parses the PEM private key text; *pkey is the caller's. */
static int key_read(const char *pem, size_t len, const char *path, EVP_PKEY **pkey, char *err,
                    size_t errlen)
{
    char why[256];
    BIO *bio = NULL;
    int asked = 0;
    int rc = -1;

    *pkey = NULL;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        moat_set_err(err, errlen, "out of memory reading %s", path);
        goto out;
    }
    ERR_clear_error();
    *pkey = PEM_read_bio_PrivateKey(bio, NULL, ask_password_cb, &asked);
    if (*pkey != NULL) {
        rc = 0;
        goto out;
    }
    if (asked || strstr(pem, "ENCRYPTED") != NULL)
        moat_set_err(
            err, errlen,
            "%s: encrypted private keys are not supported (store it unencrypted, mode 0600)", path);
    else if (!has_key_block(pem))
        moat_set_err(err, errlen, "no private key found in %s", path);
    else
        moat_set_err(err, errlen, "private key in %s does not parse: %s", path,
                     ossl_why(why, sizeof(why)));
out:
    ERR_clear_error();
    BIO_free(bio);
    return rc;
}

/* Accepts RSA >= 2048 bits and ECDSA on P-256/P-384; records type and size. */
static int key_type_check(EVP_PKEY *pkey, const char *path, struct moat_cert_info *info, char *err,
                          size_t errlen)
{
    char group[64];
    size_t glen = 0;
    int rc = -1;

    info->key_bits = EVP_PKEY_get_bits(pkey);
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        snprintf(info->key_type, sizeof(info->key_type), "RSA");
        if (info->key_bits < RSA_MIN_BITS) {
            moat_set_err(err, errlen, "RSA key in %s has %d bits; at least %d are required", path,
                         info->key_bits, RSA_MIN_BITS);
            goto out;
        }
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        snprintf(info->key_type, sizeof(info->key_type), "ECDSA");
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                           &glen) != 1) {
            moat_set_err(err, errlen,
                         "EC key in %s does not use a named curve (use P-256 or P-384)", path);
            goto out;
        }
        if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0 &&
            strcmp(group, "secp384r1") != 0 && strcmp(group, "P-384") != 0) {
            moat_set_err(err, errlen, "EC key in %s uses curve %s; use P-256 or P-384", path,
                         group);
            goto out;
        }
    } else {
        moat_set_err(err, errlen,
                     "key in %s has unsupported type %s (use ECDSA P-256/P-384 or RSA >= %d bits)",
                     path, OBJ_nid2sn(EVP_PKEY_get_base_id(pkey)), RSA_MIN_BITS);
        goto out;
    }
    rc = 0;
out:
    ERR_clear_error();
    return rc;
}

int moat_cert_check(const char *cert_path, const char *key_path, time_t now,
                    struct moat_cert_info *info, char *err, size_t errlen)
{
    char *cert_pem = NULL, *key_pem = NULL;
    size_t cert_len = 0, key_len = 0;
    STACK_OF(X509) *rest = NULL;
    X509 *leaf = NULL;
    EVP_PKEY *pkey = NULL;
    mode_t mode = 0;
    char when[64];
    int cmp;
    int rc = -1;

    memset(info, 0, sizeof(*info));
    ERR_clear_error();
    if (read_pem_file(cert_path, "certificate file", &cert_pem, &cert_len, &mode, err, errlen) != 0)
        goto out;
    if (chain_read(cert_pem, cert_len, cert_path, &leaf, &rest, &info->chain_len, err, errlen) != 0)
        goto out;
    leaf_describe(leaf, info);
    if (chain_order_check(leaf, rest, cert_path, err, errlen) != 0)
        goto out;

    if (read_pem_file(key_path, "key file", &key_pem, &key_len, &mode, err, errlen) != 0)
        goto out;
    info->key_mode_too_open = (mode & 077) != 0;
    if (key_read(key_pem, key_len, key_path, &pkey, err, errlen) != 0)
        goto out;
    if (key_type_check(pkey, key_path, info, err, errlen) != 0)
        goto out;
    if (X509_check_private_key(leaf, pkey) != 1) {
        moat_set_err(err, errlen, "%s does not match the certificate in %s", key_path, cert_path);
        goto out;
    }

    cmp = X509_cmp_time(X509_get0_notAfter(leaf), &now);
    if (cmp == 0) {
        moat_set_err(err, errlen, "certificate in %s has an unreadable notAfter date", cert_path);
        goto out;
    }
    if (cmp < 0) {
        fmt_time(info->not_after, when, sizeof(when));
        moat_set_err(err, errlen, "certificate in %s expired on %s", cert_path, when);
        goto out;
    }
    cmp = X509_cmp_time(X509_get0_notBefore(leaf), &now);
    if (cmp == 0) {
        moat_set_err(err, errlen, "certificate in %s has an unreadable notBefore date", cert_path);
        goto out;
    }
    if (cmp > 0) {
        fmt_time(info->not_before, when, sizeof(when));
        moat_set_err(err, errlen, "certificate in %s is not valid before %s", cert_path, when);
        goto out;
    }
    rc = 0;
out:
    EVP_PKEY_free(pkey);
    X509_free(leaf);
    sk_X509_pop_free(rest, X509_free);
    wipe_free(key_pem, key_len);
    wipe_free(cert_pem, cert_len); /* a combined file may hold the key too */
    ERR_clear_error();
    return rc;
}

/* Creates dir (one level, 0700) unless it is already a directory. */
static int state_dir_make(const char *dir, char *err, size_t errlen)
{
    struct stat sb;
    int rc = -1;

    if (mkdir(dir, 0700) == 0) {
        rc = 0;
        goto out;
    }
    if (errno == ENOENT) {
        moat_set_err(err, errlen,
                     "cannot create state directory %s: its parent directory does not exist", dir);
        goto out;
    }
    if (errno != EEXIST) {
        moat_set_err(err, errlen, "cannot create state directory %s: %s", dir, strerror(errno));
        goto out;
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        moat_set_err(err, errlen, "state directory %s exists and is not a directory", dir);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* Writes data to dir/.base.XXXXXX (created O_CREAT|O_EXCL 0600 by mkostemp),
 * sets mode, fsyncs and renames it onto final_path. */
static int file_write_atomic(const char *dir, const char *base, const char *final_path,
                             const char *data, size_t len, mode_t mode, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    size_t off = 0;
    ssize_t n;
    int fd = -1, have_tmp = 0, dfd;
    int rc = -1;

    n = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        moat_set_err(err, errlen, "state directory path %s is too long", dir);
        goto out;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        moat_set_err(err, errlen, "cannot create a temporary file in %s: %s", dir, strerror(errno));
        goto out;
    }
    have_tmp = 1;
    if (fchmod(fd, mode) != 0) {
        moat_set_err(err, errlen, "cannot set the mode of %s: %s", tmp, strerror(errno));
        goto out;
    }
    while (off < len) {
        n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            moat_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        moat_set_err(err, errlen, "cannot sync %s: %s", tmp, strerror(errno));
        goto out;
    }
    n = close(fd);
    fd = -1;
    if (n != 0) {
        moat_set_err(err, errlen, "cannot close %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, final_path) != 0) {
        moat_set_err(err, errlen, "cannot rename %s to %s: %s", tmp, final_path, strerror(errno));
        goto out;
    }
    have_tmp = 0;
    /* Make the rename durable; a failure here loses nothing already written. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (have_tmp)
        unlink(tmp);
    return rc;
}

static int ext_add(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    int rc = -1;

    if (ext != NULL && X509_add_ext(x, ext, -1) == 1)
        rc = 0;
    X509_EXTENSION_free(ext);
    return rc;
}

/* Builds the self-signed localhost certificate for pkey. */
static X509 *dev_cert_build(EVP_PKEY *pkey, time_t now)
{
    unsigned char serial[16];
    X509_NAME *name = NULL;
    BIGNUM *bn = NULL;
    X509 *x = NULL;
    X509V3_CTX ctx;
    int ok = 0;

    x = X509_new();
    name = X509_NAME_new();
    if (x == NULL || name == NULL)
        goto out;
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        goto out;
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40); /* positive, full 16 bytes */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
        goto out;
    if (X509_set_version(x, X509_VERSION_3) != 1)
        goto out;
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   (const unsigned char *)"moat development", -1, -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                                   -1, 0) != 1)
        goto out;
    if (X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1)
        goto out;
    if (ASN1_TIME_adj(X509_getm_notBefore(x), now, 0, -3600) == NULL ||
        ASN1_TIME_adj(X509_getm_notAfter(x), now, DEV_DAYS, 0) == NULL)
        goto out;
    if (X509_set_pubkey(x, pkey) != 1)
        goto out;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if (ext_add(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        ext_add(x, &ctx, NID_key_usage, "critical,digitalSignature") != 0 ||
        ext_add(x, &ctx, NID_ext_key_usage, "serverAuth") != 0 ||
        ext_add(x, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") != 0 ||
        ext_add(x, &ctx, NID_subject_key_identifier, "hash") != 0)
        goto out;
    if (X509_sign(x, pkey, EVP_sha256()) <= 0)
        goto out;
    ok = 1;
out:
    BN_free(bn);
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

/* Generates a new key and certificate and writes them (key first). */
static int dev_generate(const char *dir, const char *cert_path, const char *key_path, char *err,
                        size_t errlen)
{
    char why[256];
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    BIO *kbio = NULL, *cbio = NULL;
    char *data = NULL;
    long dlen;
    int rc = -1;

    ERR_clear_error();
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (pkey == NULL) {
        moat_set_err(err, errlen, "cannot generate a P-256 key: %s", ossl_why(why, sizeof(why)));
        goto out;
    }
    x = dev_cert_build(pkey, time(NULL));
    if (x == NULL) {
        moat_set_err(err, errlen, "cannot build the development certificate: %s",
                     ossl_why(why, sizeof(why)));
        goto out;
    }
    /* A secure-memory BIO: its buffer is cleansed when it grows and when freed. */
    kbio = BIO_new(BIO_s_secmem());
    cbio = BIO_new(BIO_s_mem());
    if (kbio == NULL || cbio == NULL ||
        PEM_write_bio_PrivateKey(kbio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_X509(cbio, x) != 1) {
        moat_set_err(err, errlen, "cannot encode the development certificate: %s",
                     ossl_why(why, sizeof(why)));
        goto out;
    }
    dlen = BIO_get_mem_data(kbio, &data);
    if (dlen <= 0 ||
        file_write_atomic(dir, DEV_KEY_NAME, key_path, data, (size_t)dlen, 0600, err, errlen) != 0)
        goto out;
    dlen = BIO_get_mem_data(cbio, &data);
    if (dlen <= 0 || file_write_atomic(dir, DEV_CERT_NAME, cert_path, data, (size_t)dlen, 0644, err,
                                       errlen) != 0)
        goto out;
    rc = 0;
out:
    if (kbio != NULL) {
        dlen = BIO_get_mem_data(kbio, &data);
        if (dlen > 0)
            OPENSSL_cleanse(data, (size_t)dlen);
    }
    BIO_free(kbio);
    BIO_free(cbio);
    X509_free(x);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return rc;
}

int moat_cert_dev_ensure(const char *state_dir, char *cert_out, char *key_out, size_t cap,
                         int *created, char *err, size_t errlen)
{
    struct moat_cert_info info;
    char ignored[512];
    time_t now = time(NULL);
    int n1, n2;
    int rc = -1;

    *created = 0;
    n1 = snprintf(cert_out, cap, "%s/%s", state_dir, DEV_CERT_NAME);
    n2 = snprintf(key_out, cap, "%s/%s", state_dir, DEV_KEY_NAME);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= cap || (size_t)n2 >= cap) {
        moat_set_err(err, errlen, "state directory path %s is too long", state_dir);
        goto out;
    }
    if (state_dir_make(state_dir, err, errlen) != 0)
        goto out;
    if (moat_cert_check(cert_out, key_out, now, &info, ignored, sizeof(ignored)) == 0 &&
        info.not_after - now > DEV_RENEW_SECS && !info.key_mode_too_open) {
        rc = 0;
        goto out;
    }
    if (dev_generate(state_dir, cert_out, key_out, err, errlen) != 0)
        goto out;
    *created = 1;
    rc = 0;
out:
    return rc;
}
