/*
 * Local verification of X-Auth-Token as a signed JWT (JWS compact form).
 *
 * Algorithms: RS256 (RSA >= 2048 bits), ES256 (P-256, raw r||s
 * signature), EdDSA (Ed25519), HS256 (a shared secret >= 32 bytes).
 * A token's "alg" must be the algorithm of the key chosen for it, so an
 * RS256/HS256 confusion cannot happen; "none" and every other algorithm
 * are refused.
 *
 * Key file (hotkey_keyset_load), by its first non-blank character:
 *   "-----BEGIN"  PEM: one or more PUBLIC KEY, RSA PUBLIC KEY or
 *                 CERTIFICATE blocks (EC PARAMETERS blocks are skipped;
 *                 a private key is refused).  Each key's kid is its
 *                 RFC 7638 thumbprint (hotkeyctl jwks prints it).
 *   "{"           JSON: a JWKS {"keys":[...]} or one JWK: kty RSA, EC
 *                 (crv P-256), OKP (crv Ed25519) or oct (base64url "k",
 *                 >= 32 bytes); "kid" optional (default: the thumbprint;
 *                 none for oct), "alg" optional but must fit the kty,
 *                 keys with "use" other than "sig" are skipped.
 *   otherwise     a raw HS256 secret: the whole file without one trailing
 *                 newline, at least 32 bytes.
 *
 * Key choice: a token with a "kid" uses the key with that kid; a token
 * without one is accepted only when the set holds exactly one key.
 */

#ifndef HOTKEY_JWT_H
#define HOTKEY_JWT_H

#include <stddef.h>
#include <time.h>

#define HOTKEY_JWT_TOKEN_MAX    8192    /* bytes of the whole token */
#define HOTKEY_JWT_PROJECT_MAX  64
#define HOTKEY_JWT_SUB_MAX      128
#define HOTKEY_JWT_KID_MAX      128
#define HOTKEY_JWT_SECRET_MIN   32

typedef enum {
    HOTKEY_JWT_OK = 0,
    HOTKEY_JWT_INVALID,         /* 401 DCS.1001 "Invalid token." */
    HOTKEY_JWT_EXPIRED,         /* 401 DCS.1002 "Token expired." */
    HOTKEY_JWT_NOT_YET_VALID,   /* 401 DCS.1002: nbf or iat in the future */
    HOTKEY_JWT_ERROR            /* OpenSSL or memory failure: 500 */
} hotkey_jwt_rc_e;

typedef struct {
    char      project_id[HOTKEY_JWT_PROJECT_MAX + 1];  /* required */
    char      sub[HOTKEY_JWT_SUB_MAX + 1];    /* "" when absent */
    unsigned  actions;          /* HOTKEY_ACTION_* bits of "actions" */
    time_t    exp;              /* required */
    time_t    nbf;              /* 0 when absent */
    time_t    iat;              /* 0 when absent */
    unsigned  rate;             /* "rate": N (r/s) or "Nr/s", "Nr/m"; 0 */
    unsigned  rate_period;      /* seconds: 1 or 60; 0 when rate is 0 */
    unsigned  burst;            /* "burst": N; 0 when absent */
} hotkey_jwt_claims_t;

typedef struct hotkey_keyset_s  hotkey_keyset_t;

/*
 * Reads a key file (see above).  On failure NULL, with "path: message"
 * or "path: key N: message" (N from 1) in err.  Free with
 * hotkey_keyset_free.  The set is read-only afterwards: workers may
 * share it after fork.
 */
hotkey_keyset_t *hotkey_keyset_load(const char *path, char *err,
    size_t errlen);

/* the same from memory; name is used in the messages */
hotkey_keyset_t *hotkey_keyset_parse(const char *data, size_t len,
    const char *name, char *err, size_t errlen);

void hotkey_keyset_free(hotkey_keyset_t *ks);

size_t hotkey_keyset_count(const hotkey_keyset_t *ks);

/* the kid of key i ("" for a raw secret) */
const char *hotkey_keyset_kid(const hotkey_keyset_t *ks, size_t i);

/*
 * Verifies the signature, then the claims: exp (now < exp + leeway),
 * nbf (now >= nbf - leeway), iat (iat <= now + leeway), project_id.
 * Unknown claims and unknown action names are ignored.  *reason (may be
 * NULL) gets a short static text for the log, e.g. "bad signature",
 * never secret material.  claims is filled only on HOTKEY_JWT_OK.
 * Allocates only inside cJSON and OpenSSL, and frees before returning.
 */
hotkey_jwt_rc_e hotkey_jwt_verify(const char *token, size_t len,
    const hotkey_keyset_t *ks, time_t now, time_t leeway,
    hotkey_jwt_claims_t *claims, const char **reason);

#endif
