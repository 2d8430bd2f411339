/*
 * The AK/SK signing schemes of the Huawei Cloud SDK cores, and the keys
 * each one derives from an AK/SK pair:
 *
 *   SDK-HMAC-SHA256         HMAC-SHA256 with the SK
 *   SDK-HMAC-SM3            the same steps with SM3 (GB/T 32905)
 *   V11-HMAC-SHA256         HMAC-SHA256 with a key derived per
 *                           date/region/service: the hex of
 *                           HKDF-SHA256(ikm SK, salt AK, info
 *                           "YYYYMMDD/region/service", 32 bytes)
 *   SDK-ECDSA-P256-SHA256   ECDSA over P-256 and SHA-256, DER signature
 *   SDK-SM2-SM3             SM2 (GB/T 32918) with SM3, DER signature
 *
 * The two asymmetric schemes derive a private key d from the AK/SK: the
 * first counter c = 0, 1, ... for which the big-endian HMAC
 *   HMAC(SK, 00000001 || scheme name || 00 || AK || c || 00000100)
 * (with the scheme's hash) is at most n - 2 gives d = that + 1.  The
 * gateway keeps the public key d.G, computed once per credential.
 */

#ifndef HOTKEY_AKSCHEME_H
#define HOTKEY_AKSCHEME_H

#include <stddef.h>
#include <openssl/evp.h>

#include "hotkey_digest.h"

#define HOTKEY_AKSK_V11_KEY_LEN  64     /* hex of 32 bytes */
#define HOTKEY_AKSK_ZA_MAX       2

typedef enum {
    HOTKEY_AKSK_HMAC_SHA256 = 0,
    HOTKEY_AKSK_HMAC_SM3,
    HOTKEY_AKSK_V11_HMAC_SHA256,
    HOTKEY_AKSK_ECDSA_P256_SHA256,
    HOTKEY_AKSK_SM2_SM3,
    HOTKEY_AKSK_SCHEME_COUNT
} hotkey_aksk_scheme_e;

#define HOTKEY_AKSK_SCHEMES_ALL  ((1u << HOTKEY_AKSK_SCHEME_COUNT) - 1)

/* the keys of one credential, made once when the credentials are read */
typedef struct {
    hotkey_hmac_key_t  hmac[HOTKEY_MD_COUNT];   /* the SK's */
    EVP_PKEY          *p256;        /* derived public keys, or NULL */
    EVP_PKEY          *sm2;
    unsigned char      za[HOTKEY_AKSK_ZA_MAX][HOTKEY_MD_LEN];
    size_t             nza;         /* SM2 Z values to try (see .c) */
} hotkey_akkeys_t;

const char *hotkey_akscheme_name(hotkey_aksk_scheme_e s);

/* the scheme of exactly this name, or -1 */
int hotkey_akscheme_parse(const char *p, size_t len);

hotkey_md_e hotkey_akscheme_md(hotkey_aksk_scheme_e s);

/* the header that stands for the body's hash: x-sdk-content-sha256|sm3 */
const char *hotkey_akscheme_content_header(hotkey_aksk_scheme_e s);

/* the keys the schemes in the bit set need; 0 or -1 (free anyway) */
int hotkey_akkeys_init(hotkey_akkeys_t *k, unsigned schemes,
    const char *ak, size_t ak_len, const char *sk, size_t sk_len);
void hotkey_akkeys_free(hotkey_akkeys_t *k);

/*
 * The key pair of an asymmetric scheme (the public half only unless
 * private is set), or NULL.
 */
EVP_PKEY *hotkey_akkey_derive(hotkey_aksk_scheme_e s, const char *ak,
    size_t ak_len, const char *sk, size_t sk_len, int private);

/*
 * SM2's Z of a public key with the default user id "1234567812345678":
 * the coordinates padded to 32 bytes as GB/T 32918 says, or (minimal)
 * without their leading zero bytes, as the Python SDK core writes them.
 */
int hotkey_akkey_za(EVP_PKEY *pkey, int minimal, unsigned char *za);

/* the V11 signing key: HOTKEY_AKSK_V11_KEY_LEN hex digits and a NUL */
int hotkey_akkey_v11(const char *ak, size_t ak_len, const char *sk,
    size_t sk_len, const char *info, size_t info_len, char *key);

#endif
