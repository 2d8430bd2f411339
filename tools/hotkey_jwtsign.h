/*
 * Minting JWTs: for hotkeyctl and the tests, not for the gateway (this
 * lives in tools/, outside the sources the module is built from).
 *
 * A signing key file is a PEM private key (RSA, EC P-256, Ed25519) or,
 * for HS256, a raw secret with the rule of hotkey_jwt.h (not PEM, not
 * JSON, one trailing newline dropped, at least 32 bytes).
 */

#ifndef HOTKEY_JWTSIGN_H
#define HOTKEY_JWTSIGN_H

#include <stddef.h>

typedef struct hotkey_signkey_s  hotkey_signkey_t;

hotkey_signkey_t *hotkey_signkey_load(const char *path, char *err,
    size_t errlen);
hotkey_signkey_t *hotkey_signkey_parse(const char *data, size_t len,
    const char *name, char *err, size_t errlen);

/* an HS256 key from any bytes (no length rule: tests use it) */
hotkey_signkey_t *hotkey_signkey_secret(const void *p, size_t len);

void hotkey_signkey_free(hotkey_signkey_t *k);

/* the algorithm of the key: "RS256", "ES256", "EdDSA" or "HS256" */
const char *hotkey_signkey_alg(const hotkey_signkey_t *k);

/*
 * header.payload.signature for the JSON texts given, signed with alg,
 * which must be the key's algorithm ("none" gives an empty signature).
 * A malloc'ed string, or NULL.
 */
char *hotkey_jwt_sign_raw(const hotkey_signkey_t *k, const char *alg,
    const char *header_json, const char *payload_json);

/*
 * The usual token: header {"alg","typ":"JWT","kid"?} (kid NULL: none)
 * with the key's algorithm, and the payload given.
 */
char *hotkey_jwt_sign(const hotkey_signkey_t *k, const char *kid,
    const char *payload_json);

#endif
