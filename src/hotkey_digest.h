/*
 * The one digest and HMAC path of the gateway and its tools: SHA-256 and
 * SM3 through OpenSSL 3's EVP interface.  Each algorithm is fetched once
 * per process, not looked up per call; an HMAC key's inner and outer
 * states are hashed once (hotkey_hmac_key_init, when keys are loaded)
 * and copied per message, so a request costs the message blocks only.
 */

#ifndef HOTKEY_DIGEST_H
#define HOTKEY_DIGEST_H

#include <stddef.h>
#include <openssl/evp.h>

#define HOTKEY_MD_LEN      32           /* SHA-256 and SM3 alike */
#define HOTKEY_SHA256_LEN  HOTKEY_MD_LEN

typedef enum {
    HOTKEY_MD_SHA256 = 0,
    HOTKEY_MD_SM3,
    HOTKEY_MD_COUNT
} hotkey_md_e;

typedef struct {
    EVP_MD_CTX  *inner;                 /* after the key xor ipad block */
    EVP_MD_CTX  *outer;                 /* after the key xor opad block */
} hotkey_hmac_key_t;

/* the algorithm, fetched on first use; NULL if OpenSSL lacks it */
const EVP_MD *hotkey_md(hotkey_md_e md);

/* one-shot digest of HOTKEY_MD_LEN bytes; 0 or -1 */
int hotkey_digest(hotkey_md_e md, const void *data, size_t len,
    unsigned char *out);

static inline int
hotkey_sha256(const void *data, size_t len, unsigned char *out)
{
    return hotkey_digest(HOTKEY_MD_SHA256, data, len, out);
}

/* a digest over pieces: begin, update..., end (which frees); NULL/-1 */
EVP_MD_CTX *hotkey_digest_begin(hotkey_md_e md);
int hotkey_digest_update(EVP_MD_CTX *c, const void *data, size_t len);
int hotkey_digest_end(EVP_MD_CTX *c, unsigned char *out);

/*
 * HMAC (RFC 2104) with a precomputed key: init once, use for many
 * messages, free (which wipes the states).  A zeroed key is "no key":
 * free is a no-op on it.  0 or -1.
 */
int hotkey_hmac_key_init(hotkey_hmac_key_t *k, hotkey_md_e md,
    const void *key, size_t key_len);
void hotkey_hmac_key_free(hotkey_hmac_key_t *k);
int hotkey_hmac_with(const hotkey_hmac_key_t *k, const void *msg,
    size_t len, unsigned char *mac);

/* one-shot HMAC: init, one message, free; 0 or -1 */
int hotkey_hmac(hotkey_md_e md, const void *key, size_t key_len,
    const void *msg, size_t len, unsigned char *mac);

static inline int
hotkey_hmac_sha256(const void *key, size_t key_len, const void *msg,
    size_t len, unsigned char *mac)
{
    return hotkey_hmac(HOTKEY_MD_SHA256, key, key_len, msg, len, mac);
}

#endif
