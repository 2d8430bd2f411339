/*
 * SHA-256 and HMAC-SHA256 for the per-request paths (AK/SK signatures,
 * the token cache's keys).  OpenSSL 3's one-shot SHA256() and HMAC()
 * look the algorithm up on every call; these use the SHA-256 functions
 * directly, and an HMAC key's inner and outer states can be computed once
 * (hotkey_hmac_key_init, at configuration time) and reused per request.
 */

#ifndef HOTKEY_DIGEST_H
#define HOTKEY_DIGEST_H

#include <stddef.h>
#include <openssl/sha.h>

#define HOTKEY_SHA256_LEN  32

typedef struct {
    SHA256_CTX  inner;      /* after the key xor ipad block */
    SHA256_CTX  outer;      /* after the key xor opad block */
} hotkey_hmac_key_t;

/* 0 or -1 */
int hotkey_sha256(const void *data, size_t len, unsigned char *md);

/* HMAC-SHA256 (RFC 2104); 0 or -1 */
int hotkey_hmac_sha256(const void *key, size_t key_len, const void *msg,
    size_t len, unsigned char *mac);

/* the states of a key, to wipe (OPENSSL_cleanse) like the key itself */
int hotkey_hmac_key_init(hotkey_hmac_key_t *k, const void *key,
    size_t key_len);

int hotkey_hmac_sha256_with(const hotkey_hmac_key_t *k, const void *msg,
    size_t len, unsigned char *mac);

#endif
