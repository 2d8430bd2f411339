/*
 * JWK <-> EVP_PKEY, with the OpenSSL 3 parameter API.
 */

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "hotkey_codec.h"
#include "hotkey_digest.h"
#include "hotkey_jwk.h"


/* a 16384-bit RSA modulus, the largest OpenSSL verifies with */
#define HOTKEY_JWK_BIN_MAX  2048


static long hotkey_jwk_member(const cJSON *jwk, const char *name,
    unsigned char *buf, size_t size);
static EVP_PKEY *hotkey_jwk_fromdata(const char *type, OSSL_PARAM *params);
static EVP_PKEY *hotkey_jwk_rsa(const cJSON *jwk, const char **err);
static EVP_PKEY *hotkey_jwk_ec(const cJSON *jwk, const char **err);
static EVP_PKEY *hotkey_jwk_okp(const cJSON *jwk, const char **err);
static int hotkey_jwk_b64_bn(EVP_PKEY *pkey, const char *param, int pad,
    char *out, size_t size);
static int hotkey_jwk_members(EVP_PKEY *pkey, char *a, size_t asize,
    char *b, size_t bsize);


hotkey_jwk_type_e
hotkey_jwk_pkey_type(EVP_PKEY *pkey)
{
    char  group[32];

    switch (EVP_PKEY_get_base_id(pkey)) {

    case EVP_PKEY_RSA:
        return HOTKEY_JWK_RSA;

    case EVP_PKEY_ED25519:
        return HOTKEY_JWK_OKP;

    case EVP_PKEY_EC:
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                           group, sizeof(group), NULL)
            && (strcmp(group, "prime256v1") == 0
                || strcmp(group, "P-256") == 0))
        {
            return HOTKEY_JWK_EC;
        }

        return HOTKEY_JWK_NONE;

    default:
        return HOTKEY_JWK_NONE;
    }
}


const char *
hotkey_jwk_type_alg(hotkey_jwk_type_e type)
{
    switch (type) {
    case HOTKEY_JWK_RSA:
        return "RS256";
    case HOTKEY_JWK_EC:
        return "ES256";
    case HOTKEY_JWK_OKP:
        return "EdDSA";
    case HOTKEY_JWK_OCT:
        return "HS256";
    default:
        return NULL;
    }
}


static long
hotkey_jwk_member(const cJSON *jwk, const char *name, unsigned char *buf,
    size_t size)
{
    const cJSON  *m;

    m = cJSON_GetObjectItemCaseSensitive(jwk, name);
    if (!cJSON_IsString(m)) {
        return -1;
    }

    return hotkey_codec_b64url_decode(m->valuestring,
                                      strlen(m->valuestring), buf, size);
}


EVP_PKEY *
hotkey_jwk_to_pkey(const cJSON *jwk, const char **err)
{
    const cJSON  *kty;

    kty = cJSON_GetObjectItemCaseSensitive(jwk, "kty");
    if (!cJSON_IsString(kty)) {
        *err = "no \"kty\"";
        return NULL;
    }

    if (strcmp(kty->valuestring, "RSA") == 0) {
        return hotkey_jwk_rsa(jwk, err);
    }

    if (strcmp(kty->valuestring, "EC") == 0) {
        return hotkey_jwk_ec(jwk, err);
    }

    if (strcmp(kty->valuestring, "OKP") == 0) {
        return hotkey_jwk_okp(jwk, err);
    }

    *err = "unsupported \"kty\" (RSA, EC, OKP or oct)";
    return NULL;
}


static EVP_PKEY *
hotkey_jwk_fromdata(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY      *pkey;
    EVP_PKEY_CTX  *ctx;

    pkey = NULL;

    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx == NULL) {
        return NULL;
    }

    if (EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
    {
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);

    if (pkey == NULL) {
        return NULL;
    }

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);

    return pkey;
}


static EVP_PKEY *
hotkey_jwk_rsa(const cJSON *jwk, const char **err)
{
    long             nlen, elen;
    BIGNUM          *n, *e;
    EVP_PKEY        *pkey;
    OSSL_PARAM      *params;
    unsigned char    nbuf[HOTKEY_JWK_BIN_MAX], ebuf[16];
    OSSL_PARAM_BLD  *bld;

    nlen = hotkey_jwk_member(jwk, "n", nbuf, sizeof(nbuf));
    elen = hotkey_jwk_member(jwk, "e", ebuf, sizeof(ebuf));

    if (nlen <= 0 || elen <= 0) {
        *err = "RSA key without a valid base64url \"n\" and \"e\"";
        return NULL;
    }

    pkey = NULL;
    params = NULL;
    n = BN_bin2bn(nbuf, (int) nlen, NULL);
    e = BN_bin2bn(ebuf, (int) elen, NULL);
    bld = OSSL_PARAM_BLD_new();

    if (n && e && bld
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)
        && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
    {
        pkey = hotkey_jwk_fromdata("RSA", params);
    }

    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);

    if (pkey == NULL) {
        *err = "invalid RSA key";
    }

    return pkey;
}


static EVP_PKEY *
hotkey_jwk_ec(const cJSON *jwk, const char **err)
{
    char           group[] = "prime256v1";
    EVP_PKEY      *pkey;
    unsigned char  pub[65];
    const cJSON   *crv;
    OSSL_PARAM     params[3];

    crv = cJSON_GetObjectItemCaseSensitive(jwk, "crv");
    if (!cJSON_IsString(crv) || strcmp(crv->valuestring, "P-256") != 0) {
        *err = "EC key whose \"crv\" is not \"P-256\"";
        return NULL;
    }

    pub[0] = 0x04;

    if (hotkey_jwk_member(jwk, "x", pub + 1, 32) != 32
        || hotkey_jwk_member(jwk, "y", pub + 33, 32) != 32)
    {
        *err = "EC key without a 32-byte base64url \"x\" and \"y\"";
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  pub, sizeof(pub));
    params[2] = OSSL_PARAM_construct_end();

    pkey = hotkey_jwk_fromdata("EC", params);
    if (pkey == NULL) {
        *err = "invalid EC key (not a point of P-256)";
    }

    return pkey;
}


static EVP_PKEY *
hotkey_jwk_okp(const cJSON *jwk, const char **err)
{
    EVP_PKEY       *pkey;
    unsigned char   x[32];
    const cJSON    *crv;

    crv = cJSON_GetObjectItemCaseSensitive(jwk, "crv");
    if (!cJSON_IsString(crv) || strcmp(crv->valuestring, "Ed25519") != 0) {
        *err = "OKP key whose \"crv\" is not \"Ed25519\"";
        return NULL;
    }

    if (hotkey_jwk_member(jwk, "x", x, sizeof(x)) != (long) sizeof(x)) {
        *err = "Ed25519 key without a 32-byte base64url \"x\"";
        return NULL;
    }

    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, sizeof(x));
    if (pkey == NULL) {
        *err = "invalid Ed25519 key";
    }

    return pkey;
}


/* a big-number parameter, base64url, left-padded to pad bytes if pad */

static int
hotkey_jwk_b64_bn(EVP_PKEY *pkey, const char *param, int pad, char *out,
    size_t size)
{
    int             n;
    BIGNUM         *bn;
    unsigned char   bin[HOTKEY_JWK_BIN_MAX];

    bn = NULL;

    if (!EVP_PKEY_get_bn_param(pkey, param, &bn)) {
        return -1;
    }

    /* measured before writing: a larger key is refused, not copied */

    n = BN_num_bytes(bn);

    if (n > (pad ? pad : (int) sizeof(bin)) || pad > (int) sizeof(bin)) {
        BN_free(bn);
        return -1;
    }

    n = pad ? BN_bn2binpad(bn, bin, pad) : BN_bn2bin(bn, bin);
    BN_free(bn);

    if (n <= 0 || hotkey_codec_b64url_len((size_t) n) >= size) {
        return -1;
    }

    hotkey_codec_b64url_encode(bin, n, out);

    return 0;
}


/* RSA: a = n, b = e; EC: a = x, b = y; Ed25519: a = x */

static int
hotkey_jwk_members(EVP_PKEY *pkey, char *a, size_t asize, char *b,
    size_t bsize)
{
    size_t         len;
    unsigned char  raw[32];

    b[0] = '\0';

    switch (hotkey_jwk_pkey_type(pkey)) {

    case HOTKEY_JWK_RSA:
        return hotkey_jwk_b64_bn(pkey, OSSL_PKEY_PARAM_RSA_N, 0, a, asize)
               | hotkey_jwk_b64_bn(pkey, OSSL_PKEY_PARAM_RSA_E, 0, b, bsize);

    case HOTKEY_JWK_EC:
        return hotkey_jwk_b64_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32, a, asize)
               | hotkey_jwk_b64_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32, b,
                                   bsize);

    case HOTKEY_JWK_OKP:
        len = sizeof(raw);
        if (!EVP_PKEY_get_raw_public_key(pkey, raw, &len)
            || len != sizeof(raw))
        {
            return -1;
        }

        hotkey_codec_b64url_encode(raw, len, a);
        return 0;

    default:
        return -1;
    }
}


cJSON *
hotkey_jwk_from_pkey(EVP_PKEY *pkey)
{
    char                a[HOTKEY_JWK_BIN_MAX * 2], b[64];
    cJSON              *jwk;
    hotkey_jwk_type_e   type;

    type = hotkey_jwk_pkey_type(pkey);

    if (hotkey_jwk_members(pkey, a, sizeof(a), b, sizeof(b)) != 0) {
        return NULL;
    }

    jwk = cJSON_CreateObject();
    if (jwk == NULL) {
        return NULL;
    }

    switch (type) {

    case HOTKEY_JWK_RSA:
        cJSON_AddStringToObject(jwk, "kty", "RSA");
        cJSON_AddStringToObject(jwk, "n", a);
        cJSON_AddStringToObject(jwk, "e", b);
        break;

    case HOTKEY_JWK_EC:
        cJSON_AddStringToObject(jwk, "kty", "EC");
        cJSON_AddStringToObject(jwk, "crv", "P-256");
        cJSON_AddStringToObject(jwk, "x", a);
        cJSON_AddStringToObject(jwk, "y", b);
        break;

    default:
        cJSON_AddStringToObject(jwk, "kty", "OKP");
        cJSON_AddStringToObject(jwk, "crv", "Ed25519");
        cJSON_AddStringToObject(jwk, "x", a);
        break;
    }

    cJSON_AddStringToObject(jwk, "alg", hotkey_jwk_type_alg(type));
    cJSON_AddStringToObject(jwk, "use", "sig");

    return jwk;
}


int
hotkey_jwk_thumbprint(EVP_PKEY *pkey, char *out)
{
    int                 n;
    char                a[HOTKEY_JWK_BIN_MAX * 2], b[64];
    char                json[HOTKEY_JWK_BIN_MAX * 2 + 128];
    unsigned char       md[HOTKEY_SHA256_LEN];
    hotkey_jwk_type_e   type;

    if (hotkey_jwk_members(pkey, a, sizeof(a), b, sizeof(b)) != 0) {
        return -1;
    }

    /* the required members only, in lexicographic order, no spaces */

    type = hotkey_jwk_pkey_type(pkey);

    if (type == HOTKEY_JWK_RSA) {
        n = snprintf(json, sizeof(json), "{\"e\":\"%s\",\"kty\":\"RSA\","
                     "\"n\":\"%s\"}", b, a);

    } else if (type == HOTKEY_JWK_EC) {
        n = snprintf(json, sizeof(json), "{\"crv\":\"P-256\",\"kty\":\"EC\","
                     "\"x\":\"%s\",\"y\":\"%s\"}", a, b);

    } else {
        n = snprintf(json, sizeof(json), "{\"crv\":\"Ed25519\",\"kty\":"
                     "\"OKP\",\"x\":\"%s\"}", a);
    }

    if (n < 0 || (size_t) n >= sizeof(json)) {
        return -1;
    }

    if (hotkey_sha256(json, n, md) != 0) {
        return -1;
    }

    hotkey_codec_b64url_encode(md, sizeof(md), out);

    return 0;
}
