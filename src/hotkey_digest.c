#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hotkey_digest.h"


#define HOTKEY_SHA256_BLOCK  64


static EVP_MD      *hotkey_sha256_md;
static EVP_MD_CTX  *hotkey_sha256_ctx;


static EVP_MD_CTX *
hotkey_digest_ctx(void)
{
    if (hotkey_sha256_ctx == NULL) {
        hotkey_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (hotkey_sha256_md == NULL) {
            return NULL;
        }

        hotkey_sha256_ctx = EVP_MD_CTX_new();
    }

    if (hotkey_sha256_ctx == NULL
        || EVP_DigestInit_ex(hotkey_sha256_ctx, hotkey_sha256_md, NULL) != 1)
    {
        return NULL;
    }

    return hotkey_sha256_ctx;
}


static int
hotkey_digest2(const void *a, size_t alen, const void *b, size_t blen,
    unsigned char *md)
{
    EVP_MD_CTX  *c;

    c = hotkey_digest_ctx();

    if (c == NULL
        || EVP_DigestUpdate(c, a, alen) != 1
        || (blen && EVP_DigestUpdate(c, b, blen) != 1)
        || EVP_DigestFinal_ex(c, md, NULL) != 1)
    {
        return -1;
    }

    return 0;
}


int
hotkey_sha256(const void *data, size_t len, unsigned char *md)
{
    return hotkey_digest2(data, len, NULL, 0, md);
}


int
hotkey_hmac_sha256(const void *key, size_t key_len, const void *msg,
    size_t len, unsigned char *mac)
{
    int            rc;
    size_t         i;
    unsigned char  k[HOTKEY_SHA256_BLOCK], pad[HOTKEY_SHA256_BLOCK];
    unsigned char  inner[HOTKEY_SHA256_LEN];

    memset(k, 0, sizeof(k));

    if (key_len > HOTKEY_SHA256_BLOCK) {
        if (hotkey_sha256(key, key_len, k) != 0) {
            return -1;
        }

    } else if (key_len) {
        memcpy(k, key, key_len);
    }

    for (i = 0; i < HOTKEY_SHA256_BLOCK; i++) {
        pad[i] = k[i] ^ 0x36;
    }

    rc = hotkey_digest2(pad, sizeof(pad), msg, len, inner);

    for (i = 0; rc == 0 && i < HOTKEY_SHA256_BLOCK; i++) {
        pad[i] = k[i] ^ 0x5c;
    }

    if (rc == 0) {
        rc = hotkey_digest2(pad, sizeof(pad), inner, sizeof(inner), mac);
    }

    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));

    return rc;
}
