/* token.h - the emergency-shutdown token: loading, constant-time verification, Bearer parsing.
 *
 * The token itself is never kept: moat_token_load() reads it (file first, then
 * the MOAT_SHUTDOWN_TOKEN environment variable, which it scrubs), stores only a
 * keyed BLAKE2b hash of it under a per-process random key, both in libsodium
 * guarded memory that is inaccessible between uses, and wipes the raw bytes on
 * every path. moat_token_verify() hashes what a client presents with the same
 * key and compares the two hashes in constant time.
 *
 * Nothing in this module ever logs, prints or copies a token into an error. */
#ifndef MOAT_TOKEN_H
#define MOAT_TOKEN_H

#include <stddef.h>

#define MOAT_TOKEN_DEFAULT_FILE "/run/secrets/moat_shutdown_token"
#define MOAT_TOKEN_ENV "MOAT_SHUTDOWN_TOKEN"
/* Shorter tokens are refused at load. */
#define MOAT_TOKEN_MIN_LEN 32
/* Longer tokens are refused at load; longer presented ones never match. */
#define MOAT_TOKEN_MAX_LEN 1024

/* Opaque: the key and the hash (guarded memory) and a lock serialising verifications. */
struct moat_token;

/* Loads the shutdown token.
 *
 * token_file: NULL or MOAT_TOKEN_DEFAULT_FILE = the default file, whose absence
 * means "no file"; any other path must exist and be readable; "" = read no file.
 * The file must be a regular file (symlinks are followed, as Kubernetes secret
 * volumes use them), not world-writable (refused) and preferably not readable
 * by group or others (a warning is logged). One trailing LF or CRLF is
 * stripped. When no file supplies the token, the environment variable
 * MOAT_SHUTDOWN_TOKEN is used. That variable is always removed from the
 * environment, even when the file wins, so a child started later never
 * inherits it: it is deleted from envp and from the process environment, and
 * its bytes are overwritten in place (see token.c for why both).
 * envp: the environment array to scan (main's envp), or NULL for environ; it
 * is edited in place.
 *
 * The token must be 32..1024 characters of Bearer token68 syntax
 * (A-Z a-z 0-9 - . _ ~ + / then optional trailing '='): anything else could
 * never be presented, so it is refused here rather than locking the operator out.
 *
 * On success *out is the new token (caller frees with moat_token_free), or NULL
 * when neither source holds a token (the endpoint stays disabled); returns 0.
 * Returns -1 with a message in err (never containing the token) when the named
 * file cannot be read, the file is unsafe, or the token is invalid. */
int moat_token_load(struct moat_token **out, const char *token_file, char **envp, char *err,
                    size_t errlen);

/* Checks presented[0..len) (borrowed, any bytes, any length, presented may be
 * NULL when len is 0) against the token. The work done is the same for every
 * input: the input is copied into a fixed MOAT_TOKEN_MAX_LEN block with
 * branch-free masking, the block and its length are hashed, and the 32-byte
 * hashes are compared with sodium_memcmp. So the time depends neither on where
 * or whether the input differs nor on its length. Thread-safe (serialised).
 * Returns 1 on a match, 0 otherwise (also when t is NULL or memory protection
 * cannot be changed). */
int moat_token_verify(struct moat_token *t, const char *presented, size_t len);

/* Wipes and frees the token. NULL is a no-op. */
void moat_token_free(struct moat_token *t);

/* Parses an Authorization field value: accepts only "Bearer" (any case), one
 * or more SP, and one token68 (RFC 9110 11.2), with optional surrounding OWS
 * (SP/HTAB) left by the HTTP parser. On success *tok and *tok_len point into
 * header (borrowed) and 0 is returned; otherwise -1 and *tok = NULL,
 * *tok_len = 0. Pure. */
int moat_token_parse_bearer(const char *header, size_t len, const char **tok, size_t *tok_len);

#endif
