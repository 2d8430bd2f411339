/*
 * Signing with the keys hotkey_akscheme.c derives.
 */

#include <string.h>

#include <openssl/evp.h>

#include "hotkey_aksign.h"
#include "hotkey_aksk.h"
#include "hotkey_codec.h"
#include "hotkey_digest.h"


static int hotkey_aksign_asym(hotkey_aksk_scheme_e s, EVP_PKEY *pkey,
    const char *sts, size_t sts_len, int za_minimal, char *sig);


int
hotkey_aksign(hotkey_aksk_scheme_e s, const char *ak, size_t ak_len,
    const char *sk, size_t sk_len, const char *date, size_t date_len,
    const char *scope, size_t scope_len, const char *canonical,
    size_t canonical_len, int za_minimal, char *sig)
{
    int        rc;
    char       sts[HOTKEY_AKSK_STS_MAX + 1];
    size_t     n;
    EVP_PKEY  *pkey;

    if (s <= HOTKEY_AKSK_V11_HMAC_SHA256) {
        return hotkey_aksk_sign(s, ak, ak_len, sk, sk_len, date, date_len,
                                scope, scope_len, canonical, canonical_len,
                                sig);
    }

    n = hotkey_aksk_string_to_sign(s, date, date_len, NULL, 0, canonical,
                                   canonical_len, sts);
    pkey = hotkey_akkey_derive(s, ak, ak_len, sk, sk_len, 1);

    rc = (n && pkey) ? hotkey_aksign_asym(s, pkey, sts, n, za_minimal, sig)
                     : -1;

    EVP_PKEY_free(pkey);

    return rc;
}


static int
hotkey_aksign_asym(hotkey_aksk_scheme_e s, EVP_PKEY *pkey, const char *sts,
    size_t sts_len, int za_minimal, char *sig)
{
    int             ok;
    size_t          len;
    EVP_MD_CTX     *md;
    EVP_PKEY_CTX   *ctx;
    unsigned char   za[HOTKEY_MD_LEN], e[HOTKEY_MD_LEN], der[80];

    md = hotkey_digest_begin(s == HOTKEY_AKSK_SM2_SM3 ? HOTKEY_MD_SM3
                                                      : HOTKEY_MD_SHA256);

    if (s == HOTKEY_AKSK_SM2_SM3
        && (hotkey_akkey_za(pkey, za_minimal, za) != 0
            || hotkey_digest_update(md, za, sizeof(za)) != 0))
    {
        EVP_MD_CTX_free(md);
        return -1;
    }

    if (hotkey_digest_update(md, sts, sts_len) != 0) {
        EVP_MD_CTX_free(md);
        return -1;
    }

    if (hotkey_digest_end(md, e) != 0) {
        return -1;
    }

    len = sizeof(der);
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    ok = ctx && EVP_PKEY_sign_init(ctx) == 1
         && EVP_PKEY_sign(ctx, der, &len, e, sizeof(e)) == 1;

    EVP_PKEY_CTX_free(ctx);

    if (!ok || len > 72) {
        return -1;
    }

    hotkey_codec_hex(der, len, sig);

    return 0;
}
