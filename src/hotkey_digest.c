/*
 * SHA-256 and SM3, plain and keyed, on EVP with algorithms fetched once.
 */

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hotkey_digest.h"


#define HOTKEY_MD_BLOCK  64             /* SHA-256 and SM3 alike */


static int hotkey_hmac_pad(EVP_MD_CTX **c, hotkey_md_e md,
    const unsigned char *block, unsigned char x);


static EVP_MD      *hotkey_mds[HOTKEY_MD_COUNT];
static const char  *hotkey_md_names[HOTKEY_MD_COUNT] = { "SHA256", "SM3" };


const EVP_MD *
hotkey_md(hotkey_md_e md)
{
    if ((unsigned) md >= HOTKEY_MD_COUNT) {
        return NULL;
    }

    if (hotkey_mds[md] == NULL) {
        hotkey_mds[md] = EVP_MD_fetch(NULL, hotkey_md_names[md], NULL);
    }

    return hotkey_mds[md];
}


/*
 * The context of one-shot digests and HMACs, one per thread, made once
 * and reset per use: EVP_MD_CTX_new/free cost a pair of allocations of
 * the provider's state per call, more than hashing a short message.
 */

static EVP_MD_CTX *
hotkey_digest_scratch(void)
{
    static _Thread_local EVP_MD_CTX  *c;

    if (c == NULL) {
        c = EVP_MD_CTX_new();
    }

    return c;
}


int
hotkey_digest(hotkey_md_e md, const void *data, size_t len,
    unsigned char *out)
{
    EVP_MD_CTX    *c;
    const EVP_MD  *m;

    m = hotkey_md(md);
    c = hotkey_digest_scratch();

    if (m == NULL || c == NULL) {
        return -1;
    }

    return EVP_DigestInit_ex2(c, m, NULL) == 1
           && EVP_DigestUpdate(c, data, len) == 1
           && EVP_DigestFinal_ex(c, out, NULL) == 1 ? 0 : -1;
}


EVP_MD_CTX *
hotkey_digest_begin(hotkey_md_e md)
{
    EVP_MD_CTX    *c;
    const EVP_MD  *m;

    m = hotkey_md(md);
    c = m ? EVP_MD_CTX_new() : NULL;

    if (c && EVP_DigestInit_ex(c, m, NULL) != 1) {
        EVP_MD_CTX_free(c);
        return NULL;
    }

    return c;
}


int
hotkey_digest_update(EVP_MD_CTX *c, const void *data, size_t len)
{
    return (c && EVP_DigestUpdate(c, data, len) == 1) ? 0 : -1;
}


int
hotkey_digest_end(EVP_MD_CTX *c, unsigned char *out)
{
    int  rc;

    rc = (c && EVP_DigestFinal_ex(c, out, NULL) == 1) ? 0 : -1;
    EVP_MD_CTX_free(c);

    return rc;
}


static int
hotkey_hmac_pad(EVP_MD_CTX **c, hotkey_md_e md, const unsigned char *block,
    unsigned char x)
{
    size_t         i;
    unsigned char  pad[HOTKEY_MD_BLOCK];

    for (i = 0; i < HOTKEY_MD_BLOCK; i++) {
        pad[i] = block[i] ^ x;
    }

    *c = hotkey_digest_begin(md);
    i = hotkey_digest_update(*c, pad, sizeof(pad));
    OPENSSL_cleanse(pad, sizeof(pad));

    return i == 0 ? 0 : -1;
}


int
hotkey_hmac_key_init(hotkey_hmac_key_t *k, hotkey_md_e md, const void *key,
    size_t key_len)
{
    int            rc;
    unsigned char  block[HOTKEY_MD_BLOCK];

    memset(k, 0, sizeof(hotkey_hmac_key_t));
    memset(block, 0, sizeof(block));

    if (key_len > HOTKEY_MD_BLOCK) {
        if (hotkey_digest(md, key, key_len, block) != 0) {
            return -1;
        }

    } else if (key_len) {
        memcpy(block, key, key_len);
    }

    rc = hotkey_hmac_pad(&k->inner, md, block, 0x36) == 0
         && hotkey_hmac_pad(&k->outer, md, block, 0x5c) == 0 ? 0 : -1;

    OPENSSL_cleanse(block, sizeof(block));

    if (rc != 0) {
        hotkey_hmac_key_free(k);
    }

    return rc;
}


void
hotkey_hmac_key_free(hotkey_hmac_key_t *k)
{
    EVP_MD_CTX_free(k->inner);
    EVP_MD_CTX_free(k->outer);
    k->inner = NULL;
    k->outer = NULL;
}


int
hotkey_hmac_with(const hotkey_hmac_key_t *k, const void *msg, size_t len,
    unsigned char *mac)
{
    int            rc;
    EVP_MD_CTX    *c;
    unsigned char  inner[HOTKEY_MD_LEN];

    if (k->inner == NULL || (c = hotkey_digest_scratch()) == NULL) {
        return -1;
    }

    rc = EVP_MD_CTX_copy_ex(c, k->inner) == 1
         && EVP_DigestUpdate(c, msg, len) == 1
         && EVP_DigestFinal_ex(c, inner, NULL) == 1
         && EVP_MD_CTX_copy_ex(c, k->outer) == 1
         && EVP_DigestUpdate(c, inner, sizeof(inner)) == 1
         && EVP_DigestFinal_ex(c, mac, NULL) == 1 ? 0 : -1;

    /* nothing of the key's states left in the context */

    (void) EVP_DigestInit_ex2(c, NULL, NULL);
    OPENSSL_cleanse(inner, sizeof(inner));

    return rc;
}


int
hotkey_hmac(hotkey_md_e md, const void *key, size_t key_len, const void *msg,
    size_t len, unsigned char *mac)
{
    int                rc;
    hotkey_hmac_key_t  k;

    rc = hotkey_hmac_key_init(&k, md, key, key_len);

    if (rc == 0) {
        rc = hotkey_hmac_with(&k, msg, len, mac);
    }

    hotkey_hmac_key_free(&k);

    return rc;
}
