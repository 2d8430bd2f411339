/*
 * JSON Web Keys (RFC 7517, 7518, 8037) to and from OpenSSL public keys:
 * kty RSA, EC with crv P-256, OKP with crv Ed25519.  Used when a key set
 * is loaded and by hotkeyctl; never on the request path.
 */

#ifndef HOTKEY_JWK_H
#define HOTKEY_JWK_H

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#define HOTKEY_JWK_THUMBPRINT_LEN  43   /* base64url of a SHA-256 */

typedef enum {
    HOTKEY_JWK_NONE = 0,
    HOTKEY_JWK_RSA,                     /* RS256 */
    HOTKEY_JWK_EC,                      /* ES256, P-256 only */
    HOTKEY_JWK_OKP,                     /* EdDSA, Ed25519 only */
    HOTKEY_JWK_OCT                      /* HS256 */
} hotkey_jwk_type_e;

/* the type of a public or private key, HOTKEY_JWK_NONE if unsupported */
hotkey_jwk_type_e hotkey_jwk_pkey_type(EVP_PKEY *pkey);

/* the JWS "alg" of a key type: "RS256", "ES256", "EdDSA", "HS256" */
const char *hotkey_jwk_type_alg(hotkey_jwk_type_e type);

/*
 * The public key of an asymmetric JWK object; NULL with a message in
 * *err for anything else (oct keys are read by the caller).
 */
EVP_PKEY *hotkey_jwk_to_pkey(const cJSON *jwk, const char **err);

/* a new JWK object {kty, crv?, n/e or x/y?} for the public part of pkey */
cJSON *hotkey_jwk_from_pkey(EVP_PKEY *pkey);

/*
 * The RFC 7638 thumbprint of the public part of pkey, base64url: writes
 * HOTKEY_JWK_THUMBPRINT_LEN characters and a NUL.  0 or -1.
 */
int hotkey_jwk_thumbprint(EVP_PKEY *pkey, char *out);

#endif
