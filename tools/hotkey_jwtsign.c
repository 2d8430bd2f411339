/*
 * Minting JWTs with OpenSSL, for hotkeyctl and the tests: kept out of
 * the gateway's module, which verifies and never signs.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include "hotkey_codec.h"
#include "hotkey_digest.h"
#include "hotkey_jwk.h"
#include "hotkey_jwt.h"
#include "hotkey_jwtsign.h"


struct hotkey_signkey_s {
    hotkey_jwk_type_e   type;
    EVP_PKEY           *pkey;
    unsigned char      *secret;
    size_t              secret_len;
};


static long hotkey_signkey_sign(const hotkey_signkey_t *k,
    const char *input, size_t len, unsigned char *sig, size_t size);
static long hotkey_signkey_es256(unsigned char *der, size_t len,
    unsigned char *sig);


hotkey_signkey_t *
hotkey_signkey_load(const char *path, char *err, size_t errlen)
{
    long               size;
    FILE              *f;
    char               buf[65536];
    size_t             n;
    hotkey_signkey_t  *k;

    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open", path);
        return NULL;
    }

    n = fread(buf, 1, sizeof(buf), f);
    size = ferror(f) ? -1 : (long) n;
    fclose(f);

    if (size < 0 || n == sizeof(buf)) {
        snprintf(err, errlen, "%s: cannot read, or too large", path);
        return NULL;
    }

    k = hotkey_signkey_parse(buf, n, path, err, errlen);
    OPENSSL_cleanse(buf, n);

    return k;
}


hotkey_signkey_t *
hotkey_signkey_parse(const char *data, size_t len, const char *name,
    char *err, size_t errlen)
{
    BIO               *bio;
    size_t             i;
    EVP_PKEY          *pkey;
    hotkey_signkey_t  *k;

    for (i = 0; i < len && strchr(" \t\r\n", data[i]) && data[i]; i++) {
        /* void */
    }

    if (len - i < 10 || memcmp(data + i, "-----BEGIN", 10) != 0) {
        if (len && data[len - 1] == '\n') {
            len -= (len > 1 && data[len - 2] == '\r') ? 2 : 1;
        }

        if (len < HOTKEY_JWT_SECRET_MIN || data[0] == '{') {
            snprintf(err, errlen, "%s: neither a PEM private key nor an"
                     " HS256 secret of at least 32 bytes", name);
            return NULL;
        }

        return hotkey_signkey_secret(data, len);
    }

    bio = BIO_new_mem_buf(data, (int) len);
    pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);

    if (pkey == NULL || hotkey_jwk_pkey_type(pkey) == HOTKEY_JWK_NONE) {
        EVP_PKEY_free(pkey);
        snprintf(err, errlen, "%s: not an RSA, EC P-256 or Ed25519 private"
                 " key", name);
        return NULL;
    }

    k = calloc(1, sizeof(hotkey_signkey_t));
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    k->type = hotkey_jwk_pkey_type(pkey);
    k->pkey = pkey;

    return k;
}


hotkey_signkey_t *
hotkey_signkey_secret(const void *p, size_t len)
{
    hotkey_signkey_t  *k;

    k = calloc(1, sizeof(hotkey_signkey_t));
    if (k == NULL || (k->secret = malloc(len ? len : 1)) == NULL) {
        free(k);
        return NULL;
    }

    memcpy(k->secret, p, len);
    k->secret_len = len;
    k->type = HOTKEY_JWK_OCT;

    return k;
}


void
hotkey_signkey_free(hotkey_signkey_t *k)
{
    if (k == NULL) {
        return;
    }

    EVP_PKEY_free(k->pkey);

    if (k->secret) {
        OPENSSL_cleanse(k->secret, k->secret_len);
        free(k->secret);
    }

    free(k);
}


const char *
hotkey_signkey_alg(const hotkey_signkey_t *k)
{
    return hotkey_jwk_type_alg(k->type);
}


/* r||s with s in the lower half, the only form the gateway accepts */

static long
hotkey_signkey_es256(unsigned char *der, size_t len, unsigned char *sig)
{
    int                    ok;
    BIGNUM                *low, *half;
    EC_GROUP              *group;
    ECDSA_SIG             *es;
    const BIGNUM          *r, *s, *n;
    const unsigned char   *p;

    p = der;
    es = d2i_ECDSA_SIG(NULL, &p, (long) len);
    group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    low = BN_new();
    half = BN_new();

    ok = es && group && low && half;

    if (ok) {
        ECDSA_SIG_get0(es, &r, &s);
        n = EC_GROUP_get0_order(group);

        ok = BN_rshift1(half, n)
             && (BN_cmp(s, half) <= 0 ? BN_copy(low, s) != NULL
                                      : BN_sub(low, n, s))
             && BN_bn2binpad(r, sig, 32) == 32
             && BN_bn2binpad(low, sig + 32, 32) == 32;
    }

    ECDSA_SIG_free(es);
    EC_GROUP_free(group);
    BN_free(low);
    BN_free(half);

    return ok ? 64 : -1;
}


static long
hotkey_signkey_sign(const hotkey_signkey_t *k, const char *input,
    size_t len, unsigned char *sig, size_t size)
{
    int            ok;
    size_t         n;
    EVP_MD_CTX    *ctx;
    unsigned char  der[256];

    if (k->type == HOTKEY_JWK_OCT) {
        return size >= HOTKEY_SHA256_LEN
               && hotkey_hmac_sha256(k->secret, k->secret_len, input, len,
                                     sig) == 0
               ? HOTKEY_SHA256_LEN : -1;
    }

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return -1;
    }

    n = k->type == HOTKEY_JWK_EC ? sizeof(der) : size;

    ok = EVP_DigestSignInit(ctx, NULL,
                            k->type == HOTKEY_JWK_OKP
                            ? NULL : hotkey_md(HOTKEY_MD_SHA256),
                            NULL, k->pkey) == 1
         && EVP_DigestSign(ctx, k->type == HOTKEY_JWK_EC ? der : sig, &n,
                           (const unsigned char *) input, len) == 1;

    EVP_MD_CTX_free(ctx);

    if (!ok) {
        return -1;
    }

    return k->type == HOTKEY_JWK_EC ? hotkey_signkey_es256(der, n, sig)
                                    : (long) n;
}


char *
hotkey_jwt_sign_raw(const hotkey_signkey_t *k, const char *alg,
    const char *header_json, const char *payload_json)
{
    long            n;
    char           *token;
    size_t          hlen, plen, len;
    const char     *want;
    unsigned char   sig[1024];

    want = hotkey_signkey_alg(k);

    if (strcmp(alg, "none") != 0 && (want == NULL || strcmp(alg, want) != 0))
    {
        return NULL;
    }

    hlen = strlen(header_json);
    plen = strlen(payload_json);
    len = hotkey_codec_b64url_len(hlen) + hotkey_codec_b64url_len(plen)
          + hotkey_codec_b64url_len(sizeof(sig)) + 3;

    token = malloc(len);
    if (token == NULL) {
        return NULL;
    }

    hotkey_codec_b64url_encode((const unsigned char *) header_json, hlen,
                               token);
    strcat(token, ".");
    len = strlen(token);
    hotkey_codec_b64url_encode((const unsigned char *) payload_json, plen,
                               token + len);
    len += strlen(token + len);
    token[len] = '.';

    n = strcmp(alg, "none") == 0
        ? 0 : hotkey_signkey_sign(k, token, len, sig, sizeof(sig));

    if (n < 0) {
        free(token);
        return NULL;
    }

    hotkey_codec_b64url_encode(sig, n, token + len + 1);

    return token;
}


char *
hotkey_jwt_sign(const hotkey_signkey_t *k, const char *kid,
    const char *payload_json)
{
    char   *header, *token;
    cJSON  *h;

    h = cJSON_CreateObject();
    if (h == NULL) {
        return NULL;
    }

    cJSON_AddStringToObject(h, "alg", hotkey_signkey_alg(k));
    cJSON_AddStringToObject(h, "typ", "JWT");

    if (kid) {
        cJSON_AddStringToObject(h, "kid", kid);
    }

    header = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);

    if (header == NULL) {
        return NULL;
    }

    token = hotkey_jwt_sign_raw(k, hotkey_signkey_alg(k), header,
                                payload_json);
    cJSON_free(header);

    return token;
}
