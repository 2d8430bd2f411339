/*
 * AK/SK scheme names and hashes; the V11 derived key; the key pairs of
 * the asymmetric schemes and SM2's Z, all computed at load time.
 */

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "hotkey_akscheme.h"
#include "hotkey_codec.h"


#define HOTKEY_AKSK_AK_MAX      128
#define HOTKEY_AKSK_COUNTERS    255     /* the Python core tries 0..254 */
#define HOTKEY_AKSK_COORD_LEN   32
#define HOTKEY_AKSK_SM2_ID      "1234567812345678"


static int hotkey_akkey_scalar(hotkey_aksk_scheme_e s, const char *ak,
    size_t ak_len, const char *sk, size_t sk_len, const BIGNUM *order,
    BIGNUM *d);
static EVP_PKEY *hotkey_akkey_pkey(hotkey_aksk_scheme_e s,
    const EC_GROUP *group, const BIGNUM *d, int private);
static size_t hotkey_akkey_bn(const BIGNUM *bn, int minimal,
    unsigned char *out);


static const char *const  hotkey_akscheme_names[] = {
    "SDK-HMAC-SHA256",
    "SDK-HMAC-SM3",
    "V11-HMAC-SHA256",
    "SDK-ECDSA-P256-SHA256",
    "SDK-SM2-SM3"
};


const char *
hotkey_akscheme_name(hotkey_aksk_scheme_e s)
{
    return (unsigned) s < HOTKEY_AKSK_SCHEME_COUNT ? hotkey_akscheme_names[s]
                                                   : "";
}


int
hotkey_akscheme_parse(const char *p, size_t len)
{
    int  s;

    for (s = 0; s < HOTKEY_AKSK_SCHEME_COUNT; s++) {
        if (strlen(hotkey_akscheme_names[s]) == len
            && memcmp(hotkey_akscheme_names[s], p, len) == 0)
        {
            return s;
        }
    }

    return -1;
}


hotkey_md_e
hotkey_akscheme_md(hotkey_aksk_scheme_e s)
{
    return (s == HOTKEY_AKSK_HMAC_SM3 || s == HOTKEY_AKSK_SM2_SM3)
           ? HOTKEY_MD_SM3 : HOTKEY_MD_SHA256;
}


const char *
hotkey_akscheme_content_header(hotkey_aksk_scheme_e s)
{
    return hotkey_akscheme_md(s) == HOTKEY_MD_SM3 ? "x-sdk-content-sm3"
                                                  : "x-sdk-content-sha256";
}


int
hotkey_akkeys_init(hotkey_akkeys_t *k, unsigned schemes, const char *ak,
    size_t ak_len, const char *sk, size_t sk_len)
{
    memset(k, 0, sizeof(hotkey_akkeys_t));

    if (hotkey_hmac_key_init(&k->hmac[HOTKEY_MD_SHA256], HOTKEY_MD_SHA256,
                             sk, sk_len) != 0
        || hotkey_hmac_key_init(&k->hmac[HOTKEY_MD_SM3], HOTKEY_MD_SM3,
                                sk, sk_len) != 0)
    {
        return -1;
    }

    if (schemes & (1u << HOTKEY_AKSK_ECDSA_P256_SHA256)) {
        k->p256 = hotkey_akkey_derive(HOTKEY_AKSK_ECDSA_P256_SHA256, ak,
                                      ak_len, sk, sk_len, 0);
        if (k->p256 == NULL) {
            return -1;
        }
    }

    if (schemes & (1u << HOTKEY_AKSK_SM2_SM3)) {
        k->sm2 = hotkey_akkey_derive(HOTKEY_AKSK_SM2_SM3, ak, ak_len, sk,
                                     sk_len, 0);

        if (k->sm2 == NULL
            || hotkey_akkey_za(k->sm2, 0, k->za[0]) != 0
            || hotkey_akkey_za(k->sm2, 1, k->za[1]) != 0)
        {
            return -1;
        }

        k->nza = memcmp(k->za[0], k->za[1], HOTKEY_MD_LEN) ? 2 : 1;
    }

    return 0;
}


void
hotkey_akkeys_free(hotkey_akkeys_t *k)
{
    hotkey_hmac_key_free(&k->hmac[HOTKEY_MD_SHA256]);
    hotkey_hmac_key_free(&k->hmac[HOTKEY_MD_SM3]);
    EVP_PKEY_free(k->p256);
    EVP_PKEY_free(k->sm2);
    k->p256 = NULL;
    k->sm2 = NULL;
}


static int
hotkey_akkey_scalar(hotkey_aksk_scheme_e s, const char *ak, size_t ak_len,
    const char *sk, size_t sk_len, const BIGNUM *order, BIGNUM *d)
{
    int             rc;
    size_t          n, name_len;
    BIGNUM         *max;
    unsigned        c;
    unsigned char   data[64 + HOTKEY_AKSK_AK_MAX], mac[HOTKEY_MD_LEN];

    name_len = strlen(hotkey_akscheme_names[s]);
    max = BN_dup(order);

    if (ak_len > HOTKEY_AKSK_AK_MAX || max == NULL || !BN_sub_word(max, 2)) {
        BN_free(max);
        return -1;
    }

    rc = -1;

    for (c = 0; c < HOTKEY_AKSK_COUNTERS; c++) {
        memcpy(data, "\0\0\0\1", 4);
        memcpy(data + 4, hotkey_akscheme_names[s], name_len);
        n = 4 + name_len;
        data[n++] = 0;
        memcpy(data + n, ak, ak_len);
        n += ak_len;
        data[n++] = (unsigned char) c;
        memcpy(data + n, "\0\0\1\0", 4);
        n += 4;

        if (hotkey_hmac(hotkey_akscheme_md(s), sk, sk_len, data, n, mac) != 0
            || BN_bin2bn(mac, sizeof(mac), d) == NULL)
        {
            break;
        }

        if (BN_cmp(d, max) <= 0) {
            rc = BN_add_word(d, 1) ? 0 : -1;
            break;
        }
    }

    OPENSSL_cleanse(mac, sizeof(mac));
    BN_free(max);

    return rc;
}


EVP_PKEY *
hotkey_akkey_derive(hotkey_aksk_scheme_e s, const char *ak, size_t ak_len,
    const char *sk, size_t sk_len, int private)
{
    BIGNUM    *d;
    EC_GROUP  *group;
    EVP_PKEY  *pkey;

    if (s != HOTKEY_AKSK_ECDSA_P256_SHA256 && s != HOTKEY_AKSK_SM2_SM3) {
        return NULL;
    }

    pkey = NULL;
    d = BN_secure_new();
    group = EC_GROUP_new_by_curve_name(s == HOTKEY_AKSK_SM2_SM3
                                       ? NID_sm2 : NID_X9_62_prime256v1);

    if (d && group
        && hotkey_akkey_scalar(s, ak, ak_len, sk, sk_len,
                               EC_GROUP_get0_order(group), d) == 0)
    {
        pkey = hotkey_akkey_pkey(s, group, d, private);
    }

    BN_clear_free(d);
    EC_GROUP_free(group);

    return pkey;
}


static EVP_PKEY *
hotkey_akkey_pkey(hotkey_aksk_scheme_e s, const EC_GROUP *group,
    const BIGNUM *d, int private)
{
    int              ok;
    size_t           len;
    EC_POINT        *pub;
    EVP_PKEY        *pkey;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *ctx;
    unsigned char    oct[1 + 2 * HOTKEY_AKSK_COORD_LEN];
    OSSL_PARAM_BLD  *bld;

    pkey = NULL;
    params = NULL;
    ctx = NULL;
    pub = EC_POINT_new(group);
    bld = OSSL_PARAM_BLD_new();

    ok = pub && bld
         && EC_POINT_mul(group, pub, d, NULL, NULL, NULL)
         && (len = EC_POINT_point2oct(group, pub,
                                      POINT_CONVERSION_UNCOMPRESSED, oct,
                                      sizeof(oct), NULL)) != 0
         && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                              s == HOTKEY_AKSK_SM2_SM3 ? "SM2" : "prime256v1",
                              0)
         && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             oct, len)
         && (!private
             || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d))
         && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL
         && (ctx = EVP_PKEY_CTX_new_from_name(NULL,
                              s == HOTKEY_AKSK_SM2_SM3 ? "SM2" : "EC",
                              NULL)) != NULL
         && EVP_PKEY_fromdata_init(ctx) == 1;

    if (ok && EVP_PKEY_fromdata(ctx, &pkey, private ? EVP_PKEY_KEYPAIR
                                                    : EVP_PKEY_PUBLIC_KEY,
                                params) != 1)
    {
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EC_POINT_free(pub);

    return pkey;
}


static size_t
hotkey_akkey_bn(const BIGNUM *bn, int minimal, unsigned char *out)
{
    if (BN_num_bytes(bn) > HOTKEY_AKSK_COORD_LEN) {
        return 0;
    }

    return minimal ? (size_t) BN_bn2bin(bn, out)
                   : (size_t) BN_bn2binpad(bn, out, HOTKEY_AKSK_COORD_LEN);
}


int
hotkey_akkey_za(EVP_PKEY *pkey, int minimal, unsigned char *za)
{
    int              rc, i;
    size_t           n, len;
    BIGNUM          *v[6];
    EC_GROUP        *group;
    unsigned char    buf[2 + 16 + 6 * HOTKEY_AKSK_COORD_LEN];

    memset(v, 0, sizeof(v));
    rc = -1;
    group = EC_GROUP_new_by_curve_name(NID_sm2);

    for (i = 0; i < 4; i++) {
        v[i] = BN_new();
    }

    /* a, b, xG, yG, xA, yA */

    if (group == NULL || v[3] == NULL
        || !EC_GROUP_get_curve(group, NULL, v[0], v[1], NULL)
        || !EC_POINT_get_affine_coordinates(group,
                                            EC_GROUP_get0_generator(group),
                                            v[2], v[3], NULL)
        || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &v[4])
        || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &v[5]))
    {
        goto done;
    }

    buf[0] = 0;
    buf[1] = (sizeof(HOTKEY_AKSK_SM2_ID) - 1) * 8;
    memcpy(buf + 2, HOTKEY_AKSK_SM2_ID, sizeof(HOTKEY_AKSK_SM2_ID) - 1);
    n = 2 + sizeof(HOTKEY_AKSK_SM2_ID) - 1;

    for (i = 0; i < 6; i++) {
        len = hotkey_akkey_bn(v[i], minimal && i >= 4, buf + n);
        if (len == 0) {
            goto done;
        }

        n += len;
    }

    rc = hotkey_digest(HOTKEY_MD_SM3, buf, n, za);

done:

    for (i = 0; i < 6; i++) {
        BN_free(v[i]);
    }

    EC_GROUP_free(group);

    return rc;
}


int
hotkey_akkey_v11(const char *ak, size_t ak_len, const char *sk,
    size_t sk_len, const char *info, size_t info_len, char *key)
{
    int            rc;
    unsigned char  prk[HOTKEY_MD_LEN], okm[HOTKEY_MD_LEN], t[256];

    /* HKDF (RFC 5869) with one block of output: T(1) = HMAC(PRK, info|1) */

    if (info_len + 1 > sizeof(t)) {
        return -1;
    }

    memcpy(t, info, info_len);
    t[info_len] = 1;

    rc = hotkey_hmac(HOTKEY_MD_SHA256, ak, ak_len, sk, sk_len, prk) == 0
         && hotkey_hmac(HOTKEY_MD_SHA256, prk, sizeof(prk), t, info_len + 1,
                        okm) == 0 ? 0 : -1;

    if (rc == 0) {
        hotkey_codec_hex(okm, sizeof(okm), key);
    }

    OPENSSL_cleanse(prk, sizeof(prk));
    OPENSSL_cleanse(okm, sizeof(okm));

    return rc;
}
