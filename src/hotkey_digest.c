/* the SHA-256 functions are "deprecated" in OpenSSL 3, not going away */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <string.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "hotkey_digest.h"


#define HOTKEY_SHA256_BLOCK  64


int
hotkey_sha256(const void *data, size_t len, unsigned char *md)
{
    SHA256_CTX  c;

    if (SHA256_Init(&c) != 1
        || SHA256_Update(&c, data, len) != 1
        || SHA256_Final(md, &c) != 1)
    {
        return -1;
    }

    return 0;
}


int
hotkey_hmac_key_init(hotkey_hmac_key_t *k, const void *key, size_t key_len)
{
    int            rc;
    size_t         i;
    unsigned char  block[HOTKEY_SHA256_BLOCK], pad[HOTKEY_SHA256_BLOCK];

    memset(block, 0, sizeof(block));

    if (key_len > HOTKEY_SHA256_BLOCK) {
        if (hotkey_sha256(key, key_len, block) != 0) {
            return -1;
        }

    } else if (key_len) {
        memcpy(block, key, key_len);
    }

    for (i = 0; i < HOTKEY_SHA256_BLOCK; i++) {
        pad[i] = block[i] ^ 0x36;
    }

    rc = (SHA256_Init(&k->inner) == 1
          && SHA256_Update(&k->inner, pad, sizeof(pad)) == 1) ? 0 : -1;

    for (i = 0; i < HOTKEY_SHA256_BLOCK; i++) {
        pad[i] = block[i] ^ 0x5c;
    }

    if (rc == 0
        && (SHA256_Init(&k->outer) != 1
            || SHA256_Update(&k->outer, pad, sizeof(pad)) != 1))
    {
        rc = -1;
    }

    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));

    return rc;
}


int
hotkey_hmac_sha256_with(const hotkey_hmac_key_t *k, const void *msg,
    size_t len, unsigned char *mac)
{
    SHA256_CTX     c;
    unsigned char  inner[HOTKEY_SHA256_LEN];

    c = k->inner;

    if (SHA256_Update(&c, msg, len) != 1 || SHA256_Final(inner, &c) != 1) {
        return -1;
    }

    c = k->outer;

    if (SHA256_Update(&c, inner, sizeof(inner)) != 1
        || SHA256_Final(mac, &c) != 1)
    {
        return -1;
    }

    return 0;
}


int
hotkey_hmac_sha256(const void *key, size_t key_len, const void *msg,
    size_t len, unsigned char *mac)
{
    int                rc;
    hotkey_hmac_key_t  k;

    rc = hotkey_hmac_key_init(&k, key, key_len);

    if (rc == 0) {
        rc = hotkey_hmac_sha256_with(&k, msg, len, mac);
    }

    OPENSSL_cleanse(&k, sizeof(k));

    return rc;
}
