/*
 * JWT verification: key sets, signatures, claims.
 */

#include <errno.h>
#include <math.h>                   /* isfinite */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hotkey_action.h"
#include "hotkey_codec.h"
#include "hotkey_creds.h"
#include "hotkey_digest.h"
#include "hotkey_jwk.h"
#include "hotkey_jwt.h"


#define HOTKEY_JWT_FILE_MAX     (1024 * 1024)
#define HOTKEY_JWT_SECRET_MAX   1024
#define HOTKEY_JWT_PART_MAX     (HOTKEY_JWT_TOKEN_MAX / 4 * 3 + 3)
#define HOTKEY_JWT_SIG_MAX      1024
#define HOTKEY_JWT_MEMBERS_MAX  64
#define HOTKEY_JWT_TIME_MAX     253402300799.0      /* 9999-12-31 */


typedef struct {
    hotkey_jwk_type_e   type;
    char                kid[HOTKEY_JWT_KID_MAX + 1];
    EVP_PKEY           *pkey;
    hotkey_hmac_key_t   hmac;           /* HS256: the secret's states */
} hotkey_jwt_key_t;

struct hotkey_keyset_s {
    hotkey_jwt_key_t   *keys;
    size_t              n;
    size_t              cap;
};

typedef struct {
    const char         *name;
    char               *err;
    size_t              errlen;
} hotkey_jwt_ctx_t;


static void *hotkey_jwt_fail(hotkey_jwt_ctx_t *ctx, size_t index,
    const char *msg);
static hotkey_jwt_key_t *hotkey_jwt_add(hotkey_keyset_t *ks);
static int hotkey_jwt_add_pkey(hotkey_jwt_ctx_t *ctx, hotkey_keyset_t *ks,
    EVP_PKEY *pkey, const char *kid, size_t index);
static int hotkey_jwt_pem(hotkey_jwt_ctx_t *ctx, hotkey_keyset_t *ks,
    const char *data, size_t len);
static EVP_PKEY *hotkey_jwt_pem_block(const char *name,
    const unsigned char *der, long len, const char **err);
static int hotkey_jwt_json(hotkey_jwt_ctx_t *ctx, hotkey_keyset_t *ks,
    const char *data, size_t len);
static int hotkey_jwt_jwk(hotkey_jwt_ctx_t *ctx, hotkey_keyset_t *ks,
    const cJSON *jwk, size_t index);
static int hotkey_jwt_secret(hotkey_jwt_ctx_t *ctx, hotkey_keyset_t *ks,
    const unsigned char *p, size_t len, const char *kid, size_t index);
static int hotkey_jwt_check_kids(hotkey_jwt_ctx_t *ctx,
    hotkey_keyset_t *ks);
static int hotkey_jwt_nul_escape(const char *p, size_t len);
static cJSON *hotkey_jwt_part(const char *p, size_t len);
static const hotkey_jwt_key_t *hotkey_jwt_choose(const hotkey_keyset_t *ks,
    const cJSON *header, const char **reason);
static hotkey_jwt_rc_e hotkey_jwt_check_sig(const hotkey_jwt_key_t *key,
    const char *input, size_t input_len, const char *sig64, size_t len);
static hotkey_jwt_rc_e hotkey_jwt_pkey_verify(EVP_PKEY *pkey,
    const EVP_MD *md, const unsigned char *msg, size_t msg_len,
    const unsigned char *sig, size_t sig_len);
static hotkey_jwt_rc_e hotkey_jwt_es256(EVP_PKEY *pkey,
    const unsigned char *msg, size_t msg_len, const unsigned char *sig,
    size_t sig_len);
static int hotkey_jwt_time(const cJSON *obj, const char *name, int required,
    time_t *t);
static int hotkey_jwt_string(const cJSON *obj, const char *name,
    char *buf, size_t max);
static int hotkey_jwt_uint(const cJSON *v, unsigned *n);
static int hotkey_jwt_claims(const cJSON *payload, hotkey_jwt_claims_t *c);
static hotkey_jwt_rc_e hotkey_jwt_times(const hotkey_jwt_claims_t *c,
    time_t now, time_t leeway, const char **reason);


static void *
hotkey_jwt_fail(hotkey_jwt_ctx_t *ctx, size_t index, const char *msg)
{
    if (ctx->errlen == 0) {
        return NULL;
    }

    if (index) {
        snprintf(ctx->err, ctx->errlen, "%s: key %zu: %s", ctx->name, index,
                 msg);
    } else {
        snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->name, msg);
    }

    return NULL;
}


hotkey_keyset_t *
hotkey_keyset_load(const char *path, char *err, size_t errlen)
{
    char              *data;
    size_t             n;
    const char        *why;
    hotkey_keyset_t   *ks;

    data = hotkey_read_file(path, HOTKEY_JWT_FILE_MAX, &n, &why);
    if (data == NULL) {
        snprintf(err, errlen, "%s: cannot open or read: %s", path, why);
        return NULL;
    }

    ks = hotkey_keyset_parse(data, n, path, err, errlen);

    OPENSSL_cleanse(data, n);
    free(data);

    return ks;
}


hotkey_keyset_t *
hotkey_keyset_parse(const char *data, size_t len, const char *name,
    char *err, size_t errlen)
{
    int                rc;
    size_t             i;
    hotkey_keyset_t   *ks;
    hotkey_jwt_ctx_t   ctx = { name, err, errlen };

    ks = calloc(1, sizeof(hotkey_keyset_t));
    if (ks == NULL) {
        return hotkey_jwt_fail(&ctx, 0, "out of memory");
    }

    for (i = 0; i < len && strchr(" \t\r\n", data[i]) && data[i]; i++) {
        /* void */
    }

    if (len - i >= 10 && memcmp(data + i, "-----BEGIN", 10) == 0) {
        rc = hotkey_jwt_pem(&ctx, ks, data, len);

    } else if (i < len && data[i] == '{') {
        rc = hotkey_jwt_json(&ctx, ks, data, len);

    } else {
        if (len && data[len - 1] == '\n') {
            len -= (len > 1 && data[len - 2] == '\r') ? 2 : 1;
        }

        rc = hotkey_jwt_secret(&ctx, ks, (const unsigned char *) data, len,
                               "", 0);
    }

    if (rc == 0) {
        rc = hotkey_jwt_check_kids(&ctx, ks);
    }

    if (rc != 0) {
        hotkey_keyset_free(ks);
        return NULL;
    }

    return ks;
}


void
hotkey_keyset_free(hotkey_keyset_t *ks)
{
    size_t  i;

    if (ks == NULL) {
        return;
    }

    for (i = 0; i < ks->n; i++) {
        EVP_PKEY_free(ks->keys[i].pkey);

        hotkey_hmac_key_free(&ks->keys[i].hmac);
    }

    free(ks->keys);
    free(ks);
}


size_t
hotkey_keyset_count(const hotkey_keyset_t *ks)
{
    return ks ? ks->n : 0;
}


const char *
hotkey_keyset_kid(const hotkey_keyset_t *ks, size_t i)
{
    return i < ks->n ? ks->keys[i].kid : NULL;
}


static hotkey_jwt_key_t *
hotkey_jwt_add(hotkey_keyset_t *ks)
{
    hotkey_jwt_key_t  *keys;

    if (ks->n == ks->cap) {
        keys = realloc(ks->keys, (ks->cap + 8) * sizeof(hotkey_jwt_key_t));
        if (keys == NULL) {
            return NULL;
        }

        ks->keys = keys;
        ks->cap += 8;
    }

    memset(&ks->keys[ks->n], 0, sizeof(hotkey_jwt_key_t));

    return &ks->keys[ks->n++];
}


/* takes pkey over, even on failure */

static int
hotkey_jwt_add_pkey(hotkey_jwt_ctx_t *ctx, hotkey_keyset_t *ks,
    EVP_PKEY *pkey, const char *kid, size_t index)
{
    hotkey_jwt_key_t   *key;
    hotkey_jwk_type_e   type;

    type = hotkey_jwk_pkey_type(pkey);

    if (type == HOTKEY_JWK_NONE) {
        EVP_PKEY_free(pkey);
        hotkey_jwt_fail(ctx, index, "unsupported key type (RSA, EC P-256"
                        " or Ed25519)");
        return -1;
    }

    if (type == HOTKEY_JWK_RSA && EVP_PKEY_get_bits(pkey) < 2048) {
        EVP_PKEY_free(pkey);
        hotkey_jwt_fail(ctx, index, "RSA key shorter than 2048 bits");
        return -1;
    }

    key = hotkey_jwt_add(ks);
    if (key == NULL) {
        EVP_PKEY_free(pkey);
        hotkey_jwt_fail(ctx, 0, "out of memory");
        return -1;
    }

    key->type = type;
    key->pkey = pkey;

    if (kid) {
        snprintf(key->kid, sizeof(key->kid), "%s", kid);

    } else if (hotkey_jwk_thumbprint(pkey, key->kid) != 0) {
        hotkey_jwt_fail(ctx, index, "cannot compute the key thumbprint");
        return -1;
    }

    return 0;
}


static int
hotkey_jwt_pem(hotkey_jwt_ctx_t *ctx, hotkey_keyset_t *ks, const char *data,
    size_t len)
{
    BIO            *bio;
    long            dlen;
    char           *name, *header;
    size_t          index;
    EVP_PKEY       *pkey;
    const char     *err;
    unsigned char  *der;

    bio = BIO_new_mem_buf(data, (int) len);
    if (bio == NULL) {
        hotkey_jwt_fail(ctx, 0, "out of memory");
        return -1;
    }

    ERR_clear_error();

    for (index = 1; ; index++) {
        if (!PEM_read_bio(bio, &name, &header, &der, &dlen)) {
            break;
        }

        err = NULL;
        pkey = hotkey_jwt_pem_block(name, der, dlen, &err);

        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_cleanse(der, dlen);
        OPENSSL_free(der);

        if (err) {
            BIO_free(bio);
            hotkey_jwt_fail(ctx, index, err);
            return -1;
        }

        if (pkey && hotkey_jwt_add_pkey(ctx, ks, pkey, NULL, index) != 0) {
            BIO_free(bio);
            return -1;
        }
    }

    BIO_free(bio);

    if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
        ERR_clear_error();
        hotkey_jwt_fail(ctx, 0, "invalid PEM");
        return -1;
    }

    ERR_clear_error();

    if (ks->n == 0) {
        hotkey_jwt_fail(ctx, 0, "no public key in the PEM file");
        return -1;
    }

    return 0;
}


static EVP_PKEY *
hotkey_jwt_pem_block(const char *name, const unsigned char *der, long len,
    const char **err)
{
    X509      *x509;
    EVP_PKEY  *pkey;

    pkey = NULL;

    if (strcmp(name, "PUBLIC KEY") == 0) {
        pkey = d2i_PUBKEY(NULL, &der, len);

    } else if (strcmp(name, "RSA PUBLIC KEY") == 0) {
        pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &der, len);

    } else if (strcmp(name, "CERTIFICATE") == 0) {
        x509 = d2i_X509(NULL, &der, len);
        if (x509) {
            pkey = X509_get_pubkey(x509);
            X509_free(x509);
        }

    } else if (strcmp(name, "EC PARAMETERS") == 0) {
        return NULL;

    } else if (strstr(name, "PRIVATE KEY") != NULL) {
        *err = "a private key: give the public key (openssl pkey -pubout)";
        return NULL;

    } else {
        *err = "unexpected PEM block (PUBLIC KEY, RSA PUBLIC KEY or"
               " CERTIFICATE)";
        return NULL;
    }

    if (pkey == NULL) {
        *err = "invalid public key";
    }

    return pkey;
}


static int
hotkey_jwt_json(hotkey_jwt_ctx_t *ctx, hotkey_keyset_t *ks, const char *data,
    size_t len)
{
    int           rc;
    cJSON        *root, *keys, *jwk;
    size_t        index;

    root = cJSON_ParseWithLength(data, len);
    if (root == NULL) {
        hotkey_jwt_fail(ctx, 0, "invalid JSON");
        return -1;
    }

    keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
    rc = 0;

    if (cJSON_IsArray(keys)) {
        index = 0;

        cJSON_ArrayForEach(jwk, keys) {
            rc = hotkey_jwt_jwk(ctx, ks, jwk, ++index);
            if (rc != 0) {
                break;
            }
        }

    } else if (cJSON_GetObjectItemCaseSensitive(root, "kty")) {
        rc = hotkey_jwt_jwk(ctx, ks, root, 1);

    } else {
        hotkey_jwt_fail(ctx, 0, "neither a JWKS {\"keys\":[...]} nor a JWK");
        rc = -1;
    }

    cJSON_Delete(root);

    if (rc == 0 && ks->n == 0) {
        hotkey_jwt_fail(ctx, 0, "no signature key in the JWKS");
        rc = -1;
    }

    return rc;
}


static int
hotkey_jwt_jwk(hotkey_jwt_ctx_t *ctx, hotkey_keyset_t *ks, const cJSON *jwk,
    size_t index)
{
    long            n;
    EVP_PKEY       *pkey;
    const char     *err, *kid, *want;
    const cJSON    *kty, *alg, *use, *k, *jkid;
    unsigned char   secret[HOTKEY_JWT_SECRET_MAX];

    kty = cJSON_GetObjectItemCaseSensitive(jwk, "kty");
    alg = cJSON_GetObjectItemCaseSensitive(jwk, "alg");
    use = cJSON_GetObjectItemCaseSensitive(jwk, "use");
    jkid = cJSON_GetObjectItemCaseSensitive(jwk, "kid");

    if (use && (!cJSON_IsString(use) || strcmp(use->valuestring, "sig"))) {
        return 0;
    }

    if (jkid && (!cJSON_IsString(jkid) || jkid->valuestring[0] == '\0'
                 || strlen(jkid->valuestring) > HOTKEY_JWT_KID_MAX))
    {
        hotkey_jwt_fail(ctx, index, "\"kid\" is not a string of 1 to 128"
                        " bytes");
        return -1;
    }

    kid = jkid ? jkid->valuestring : NULL;

    if (!cJSON_IsString(kty)) {
        hotkey_jwt_fail(ctx, index, "no \"kty\"");
        return -1;
    }

    want = strcmp(kty->valuestring, "oct") == 0 ? "HS256"
           : strcmp(kty->valuestring, "RSA") == 0 ? "RS256"
           : strcmp(kty->valuestring, "EC") == 0 ? "ES256"
           : strcmp(kty->valuestring, "OKP") == 0 ? "EdDSA" : NULL;

    if (alg && want
        && (!cJSON_IsString(alg) || strcmp(alg->valuestring, want) != 0))
    {
        hotkey_jwt_fail(ctx, index, "\"alg\" does not fit the \"kty\""
                        " (RSA: RS256, EC: ES256, OKP: EdDSA, oct: HS256)");
        return -1;
    }

    if (want && strcmp(want, "HS256") == 0) {
        k = cJSON_GetObjectItemCaseSensitive(jwk, "k");
        n = cJSON_IsString(k)
            ? hotkey_codec_b64url_decode(k->valuestring,
                                         strlen(k->valuestring), secret,
                                         sizeof(secret))
            : -1;

        if (n < 0) {
            hotkey_jwt_fail(ctx, index, "oct key without a base64url \"k\"");
            return -1;
        }

        n = hotkey_jwt_secret(ctx, ks, secret, n, kid ? kid : "", index);
        OPENSSL_cleanse(secret, sizeof(secret));
        return (int) n;
    }

    pkey = hotkey_jwk_to_pkey(jwk, &err);
    if (pkey == NULL) {
        hotkey_jwt_fail(ctx, index, err);
        return -1;
    }

    return hotkey_jwt_add_pkey(ctx, ks, pkey, kid, index);
}


static int
hotkey_jwt_secret(hotkey_jwt_ctx_t *ctx, hotkey_keyset_t *ks,
    const unsigned char *p, size_t len, const char *kid, size_t index)
{
    hotkey_jwt_key_t  *key;

    if (len < HOTKEY_JWT_SECRET_MIN || len > HOTKEY_JWT_SECRET_MAX) {
        hotkey_jwt_fail(ctx, index, "an HS256 secret must have 32 to 1024"
                        " bytes");
        return -1;
    }

    key = hotkey_jwt_add(ks);
    if (key == NULL
        || hotkey_hmac_key_init(&key->hmac, HOTKEY_MD_SHA256, p, len) != 0)
    {
        hotkey_jwt_fail(ctx, 0, "out of memory");
        return -1;
    }

    key->type = HOTKEY_JWK_OCT;
    snprintf(key->kid, sizeof(key->kid), "%s", kid);

    return 0;
}


static int
hotkey_jwt_check_kids(hotkey_jwt_ctx_t *ctx, hotkey_keyset_t *ks)
{
    size_t  i, j;

    for (i = 0; ks->n > 1 && i < ks->n; i++) {
        if (ks->keys[i].kid[0] == '\0') {
            hotkey_jwt_fail(ctx, i + 1, "a set of several keys needs a kid"
                            " for each");
            return -1;
        }

        for (j = 0; j < i; j++) {
            if (strcmp(ks->keys[i].kid, ks->keys[j].kid) == 0) {
                hotkey_jwt_fail(ctx, i + 1, "two keys with the same kid");
                return -1;
            }
        }
    }

    return 0;
}


/*
 * 1 if a JSON text holds the escape \u0000: cJSON would decode it into a
 * NUL that ends the C string, so "<id>\u0000x" would compare as "<id>".
 */

static int
hotkey_jwt_nul_escape(const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i + 1 < len; i++) {
        if (p[i] != '\\') {
            continue;
        }

        if (p[i + 1] == 'u' && i + 6 <= len
            && memcmp(p + i + 2, "0000", 4) == 0)
        {
            return 1;
        }

        i++;
    }

    return 0;
}


/*
 * One base64url JSON object, refused with duplicate member names or a
 * string holding a NUL (raw or escaped).
 */

static cJSON *
hotkey_jwt_part(const char *p, size_t len)
{
    long          n;
    char          buf[HOTKEY_JWT_PART_MAX + 1];
    cJSON        *obj;
    size_t        count;
    const cJSON  *a, *b;

    n = hotkey_codec_b64url_decode(p, len, (unsigned char *) buf,
                                   sizeof(buf) - 1);
    if (n < 0) {
        return NULL;
    }

    buf[n] = '\0';

    if (strlen(buf) != (size_t) n || hotkey_jwt_nul_escape(buf, n)) {
        return NULL;
    }

    obj = cJSON_ParseWithOpts(buf, NULL, 1);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return NULL;
    }

    count = 0;

    for (a = obj->child; a; a = a->next) {
        if (++count > HOTKEY_JWT_MEMBERS_MAX) {
            break;
        }

        for (b = obj->child; b != a; b = b->next) {
            if (strcmp(a->string, b->string) == 0) {
                break;
            }
        }

        if (b != a) {
            break;
        }
    }

    if (a) {
        cJSON_Delete(obj);
        return NULL;
    }

    return obj;
}


static const hotkey_jwt_key_t *
hotkey_jwt_choose(const hotkey_keyset_t *ks, const cJSON *header,
    const char **reason)
{
    size_t              i;
    const char         *want;
    const cJSON        *alg, *kid;
    hotkey_jwt_key_t   *key;

    alg = cJSON_GetObjectItemCaseSensitive(header, "alg");
    kid = cJSON_GetObjectItemCaseSensitive(header, "kid");

    if (!cJSON_IsString(alg)) {
        *reason = "no alg";
        return NULL;
    }

    if (cJSON_GetObjectItemCaseSensitive(header, "crit")) {
        *reason = "crit header";
        return NULL;
    }

    if (kid && !cJSON_IsString(kid)) {
        *reason = "kid is not a string";
        return NULL;
    }

    key = NULL;

    if (kid) {
        for (i = 0; i < ks->n; i++) {
            if (strcmp(ks->keys[i].kid, kid->valuestring) == 0) {
                key = &ks->keys[i];
                break;
            }
        }

        if (key == NULL) {
            *reason = "unknown kid";
            return NULL;
        }

    } else if (ks->n == 1) {
        key = &ks->keys[0];

    } else {
        *reason = "no kid, and several keys";
        return NULL;
    }

    want = hotkey_jwk_type_alg(key->type);

    if (want == NULL || strcmp(alg->valuestring, want) != 0) {
        *reason = "alg is not the algorithm of the key";
        return NULL;
    }

    return key;
}


static hotkey_jwt_rc_e
hotkey_jwt_check_sig(const hotkey_jwt_key_t *key, const char *input,
    size_t input_len, const char *sig64, size_t len)
{
    long                  n;
    unsigned char         sig[HOTKEY_JWT_SIG_MAX], mac[HOTKEY_SHA256_LEN];
    const unsigned char  *msg;

    n = hotkey_codec_b64url_decode(sig64, len, sig, sizeof(sig));
    if (n <= 0) {
        return HOTKEY_JWT_INVALID;
    }

    msg = (const unsigned char *) input;

    switch (key->type) {

    case HOTKEY_JWK_OCT:
        if (hotkey_hmac_with(&key->hmac, msg, input_len, mac) != 0) {
            return HOTKEY_JWT_ERROR;
        }

        return (n == (long) sizeof(mac) && CRYPTO_memcmp(mac, sig, n) == 0)
               ? HOTKEY_JWT_OK : HOTKEY_JWT_INVALID;

    case HOTKEY_JWK_RSA:
        if (n != EVP_PKEY_get_size(key->pkey)) {
            return HOTKEY_JWT_INVALID;
        }

        return hotkey_jwt_pkey_verify(key->pkey, hotkey_md(HOTKEY_MD_SHA256),
                                      msg,
                                      input_len, sig, n);

    case HOTKEY_JWK_EC:
        return hotkey_jwt_es256(key->pkey, msg, input_len, sig, n);

    case HOTKEY_JWK_OKP:
        if (n != 64) {
            return HOTKEY_JWT_INVALID;
        }

        return hotkey_jwt_pkey_verify(key->pkey, NULL, msg, input_len, sig,
                                      n);

    default:
        return HOTKEY_JWT_INVALID;
    }
}


static hotkey_jwt_rc_e
hotkey_jwt_pkey_verify(EVP_PKEY *pkey, const EVP_MD *md,
    const unsigned char *msg, size_t msg_len, const unsigned char *sig,
    size_t sig_len)
{
    int          rc;
    EVP_MD_CTX  *ctx;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return HOTKEY_JWT_ERROR;
    }

    rc = EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey);
    if (rc == 1) {
        rc = EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len);
    }

    EVP_MD_CTX_free(ctx);
    ERR_clear_error();

    return rc == 1 ? HOTKEY_JWT_OK : HOTKEY_JWT_INVALID;
}


/*
 * JWS carries r||s (RFC 7518 3.4); OpenSSL wants DER.  s above n/2 is
 * refused: (r, n - s) verifies too, and one token would have two
 * spellings (two entries in the token cache, two replay identities).
 */

static hotkey_jwt_rc_e
hotkey_jwt_es256(EVP_PKEY *pkey, const unsigned char *msg, size_t msg_len,
    const unsigned char *sig, size_t sig_len)
{
    int               len;
    BIGNUM           *r, *s;
    ECDSA_SIG        *es;
    unsigned char    *der;
    hotkey_jwt_rc_e   rc;

    static const unsigned char  half_order[32] = {
        0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00,
        0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42,
        0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8
    };

    if (sig_len != 64 || memcmp(sig + 32, half_order, 32) > 0) {
        return HOTKEY_JWT_INVALID;
    }

    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);

    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return HOTKEY_JWT_ERROR;
    }

    der = NULL;
    len = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);

    if (len <= 0) {
        return HOTKEY_JWT_ERROR;
    }

    rc = hotkey_jwt_pkey_verify(pkey, hotkey_md(HOTKEY_MD_SHA256), msg,
                                msg_len, der, len);
    OPENSSL_free(der);

    return rc;
}


static int
hotkey_jwt_time(const cJSON *obj, const char *name, int required, time_t *t)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (v == NULL) {
        *t = 0;
        return required ? -1 : 0;
    }

    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)
        || v->valuedouble < 0 || v->valuedouble > HOTKEY_JWT_TIME_MAX)
    {
        return -1;
    }

    *t = (time_t) v->valuedouble;

    return 0;
}


/* an optional string claim of at most max bytes into buf */

static int
hotkey_jwt_string(const cJSON *obj, const char *name, char *buf, size_t max)
{
    size_t        len;
    const cJSON  *v;

    buf[0] = '\0';
    v = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (v == NULL) {
        return 0;
    }

    if (!cJSON_IsString(v) || (len = strlen(v->valuestring)) > max) {
        return -1;
    }

    memcpy(buf, v->valuestring, len + 1);

    return 0;
}


static int
hotkey_jwt_uint(const cJSON *v, unsigned *n)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 0
        || v->valuedouble > HOTKEY_CREDS_RATE_MAX
        || v->valuedouble != (double) (unsigned) v->valuedouble)
    {
        return -1;
    }

    *n = (unsigned) v->valuedouble;

    return 0;
}


static int
hotkey_jwt_claims(const cJSON *payload, hotkey_jwt_claims_t *c)
{
    const cJSON  *v, *a;

    memset(c, 0, sizeof(hotkey_jwt_claims_t));

    if (hotkey_jwt_string(payload, "project_id", c->project_id,
                          HOTKEY_JWT_PROJECT_MAX) != 0
        || c->project_id[0] == '\0'
        || hotkey_jwt_string(payload, "sub", c->sub, HOTKEY_JWT_SUB_MAX) != 0
        || hotkey_jwt_time(payload, "exp", 1, &c->exp) != 0
        || hotkey_jwt_time(payload, "nbf", 0, &c->nbf) != 0
        || hotkey_jwt_time(payload, "iat", 0, &c->iat) != 0)
    {
        return -1;
    }

    v = cJSON_GetObjectItemCaseSensitive(payload, "actions");

    if (v) {
        if (!cJSON_IsArray(v)) {
            return -1;
        }

        cJSON_ArrayForEach(a, v) {
            if (!cJSON_IsString(a)) {
                return -1;
            }

            c->actions |= hotkey_action_parse(a->valuestring,
                                              strlen(a->valuestring));
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(payload, "rate");

    if (cJSON_IsString(v)) {
        if (hotkey_rate_parse(v->valuestring, strlen(v->valuestring),
                              &c->rate, &c->rate_period) != 0)
        {
            return -1;
        }

    } else if (v) {
        if (hotkey_jwt_uint(v, &c->rate) != 0) {
            return -1;
        }

        c->rate_period = c->rate ? 1 : 0;
    }

    v = cJSON_GetObjectItemCaseSensitive(payload, "burst");

    return v ? hotkey_jwt_uint(v, &c->burst) : 0;
}


static hotkey_jwt_rc_e
hotkey_jwt_times(const hotkey_jwt_claims_t *c, time_t now, time_t leeway,
    const char **reason)
{
    if (now >= c->exp + leeway) {
        *reason = "expired";
        return HOTKEY_JWT_EXPIRED;
    }

    if (c->nbf && now < c->nbf - leeway) {
        *reason = "not yet valid (nbf)";
        return HOTKEY_JWT_NOT_YET_VALID;
    }

    if (c->iat && now < c->iat - leeway) {
        *reason = "issued in the future (iat)";
        return HOTKEY_JWT_NOT_YET_VALID;
    }

    return HOTKEY_JWT_OK;
}


hotkey_jwt_rc_e
hotkey_jwt_verify(const char *token, size_t len, const hotkey_keyset_t *ks,
    time_t now, time_t leeway, hotkey_jwt_claims_t *claims,
    const char **reason)
{
    cJSON                   *header, *payload;
    const char              *dot1, *dot2, *end, *unused;
    hotkey_jwt_rc_e          rc;
    hotkey_jwt_claims_t      c;
    const hotkey_jwt_key_t  *key;

    if (reason == NULL) {
        reason = &unused;
    }

    *reason = "malformed token";

    if (ks == NULL || len == 0 || len > HOTKEY_JWT_TOKEN_MAX) {
        *reason = len ? "token too long" : "empty token";
        return HOTKEY_JWT_INVALID;
    }

    end = token + len;
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', end - dot1 - 1) : NULL;

    if (dot2 == NULL || memchr(dot2 + 1, '.', end - dot2 - 1) != NULL) {
        return HOTKEY_JWT_INVALID;
    }

    header = hotkey_jwt_part(token, dot1 - token);
    if (header == NULL) {
        *reason = "bad header";
        return HOTKEY_JWT_INVALID;
    }

    key = hotkey_jwt_choose(ks, header, reason);
    cJSON_Delete(header);

    if (key == NULL) {
        return HOTKEY_JWT_INVALID;
    }

    rc = hotkey_jwt_check_sig(key, token, dot2 - token, dot2 + 1,
                              end - dot2 - 1);
    if (rc != HOTKEY_JWT_OK) {
        *reason = rc == HOTKEY_JWT_ERROR ? "internal error" : "bad signature";
        return rc;
    }

    payload = hotkey_jwt_part(dot1 + 1, dot2 - dot1 - 1);
    if (payload == NULL) {
        *reason = "bad payload";
        return HOTKEY_JWT_INVALID;
    }

    rc = hotkey_jwt_claims(payload, &c) == 0 ? HOTKEY_JWT_OK
                                             : HOTKEY_JWT_INVALID;
    cJSON_Delete(payload);

    if (rc != HOTKEY_JWT_OK) {
        *reason = "bad claims";
        return rc;
    }

    rc = hotkey_jwt_times(&c, now, leeway, reason);
    if (rc != HOTKEY_JWT_OK) {
        return rc;
    }

    *claims = c;
    *reason = "ok";

    return HOTKEY_JWT_OK;
}
