/*
 * JWT verification: keys made here with OpenSSL, tokens signed here.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tap.h"
#include "hotkey_action.h"
#include "hotkey_codec.h"
#include "hotkey_jwk.h"
#include "hotkey_jwt.h"
#include "hotkey_jwtsign.h"


#define NOW      1700000000L
#define PROJECT  "0123456789abcdef0123456789abcdef"
#define SECRET   "0123456789abcdef0123456789abcdef-hs256"

enum { K_RSA, K_EC, K_ED, K_HS, NKEYS };

static const char  *algs[NKEYS] = { "RS256", "ES256", "EdDSA", "HS256" };
static const char  *kids[NKEYS] = { "rsa", "ec", "ed", "hs" };

static EVP_PKEY          *pkeys[NKEYS];
static char              *pub_pem[NKEYS];
static hotkey_signkey_t  *signers[NKEYS];
static hotkey_keyset_t   *single[NKEYS];
static hotkey_keyset_t   *jwks;


static char *
pem(EVP_PKEY *pkey, int private)
{
    BIO   *bio;
    char  *data, *s;
    long   len;

    bio = BIO_new(BIO_s_mem());
    if (private) {
        PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    } else {
        PEM_write_bio_PUBKEY(bio, pkey);
    }

    len = BIO_get_mem_data(bio, &data);
    s = strndup(data, len);
    BIO_free(bio);

    return s;
}


static hotkey_keyset_t *
keyset(const char *text, char *err)
{
    err[0] = '\0';
    return hotkey_keyset_parse(text, strlen(text), "keys", err, 256);
}


static char *
payload(long exp, const char *extra)
{
    static char  buf[16384];

    snprintf(buf, sizeof(buf), "{\"project_id\":\"%s\",\"exp\":%ld%s%s}",
             PROJECT, exp, extra ? "," : "", extra ? extra : "");
    return buf;
}


static hotkey_jwt_rc_e
check(const char *token, const hotkey_keyset_t *ks, time_t leeway,
    hotkey_jwt_claims_t *c)
{
    const char           *reason;
    hotkey_jwt_claims_t   tmp;

    if (token == NULL) {
        return (hotkey_jwt_rc_e) -1;
    }

    return hotkey_jwt_verify(token, strlen(token), ks, NOW, leeway,
                             c ? c : &tmp, &reason);
}


static void
setup(void)
{
    int          i;
    char        *priv, err[256], *text;
    cJSON       *root, *keys, *jwk;
    char         k[64];

    pkeys[K_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    pkeys[K_EC] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    pkeys[K_ED] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

    root = cJSON_CreateObject();
    keys = cJSON_AddArrayToObject(root, "keys");

    for (i = 0; i < K_HS; i++) {
        priv = pem(pkeys[i], 1);
        pub_pem[i] = pem(pkeys[i], 0);
        signers[i] = hotkey_signkey_parse(priv, strlen(priv), "priv", err,
                                          sizeof(err));
        free(priv);
        single[i] = keyset(pub_pem[i], err);
        ok(signers[i] && single[i], "%s keys: %s", algs[i], err);

        jwk = hotkey_jwk_from_pkey(pkeys[i]);
        cJSON_AddStringToObject(jwk, "kid", kids[i]);
        cJSON_AddItemToArray(keys, jwk);
    }

    signers[K_HS] = hotkey_signkey_parse(SECRET "\n", sizeof(SECRET), "secret",
                                       err, sizeof(err));
    single[K_HS] = keyset(SECRET "\n", err);
    ok(signers[K_HS] && single[K_HS], "HS256 keys: %s", err);

    hotkey_codec_b64url_encode((const unsigned char *) SECRET,
                               sizeof(SECRET) - 1, k);
    jwk = cJSON_CreateObject();
    cJSON_AddStringToObject(jwk, "kty", "oct");
    cJSON_AddStringToObject(jwk, "k", k);
    cJSON_AddStringToObject(jwk, "kid", "hs");
    cJSON_AddStringToObject(jwk, "alg", "HS256");
    cJSON_AddItemToArray(keys, jwk);

    jwk = cJSON_CreateObject();
    cJSON_AddStringToObject(jwk, "kty", "RSA");
    cJSON_AddStringToObject(jwk, "use", "enc");
    cJSON_AddItemToArray(keys, jwk);

    text = cJSON_Print(root);
    jwks = keyset(text, err);
    ok(jwks != NULL, "JWKS with four keys: %s", err);
    is_int(hotkey_keyset_count(jwks), 4, "the \"use\":\"enc\" key skipped");
    free(text);
    cJSON_Delete(root);
}


static void
test_algorithms(void)
{
    int                   i;
    char                 *t;
    hotkey_jwt_claims_t   c;

    for (i = 0; i < NKEYS; i++) {
        is_str(hotkey_signkey_alg(signers[i]), algs[i], "signer alg");

        t = hotkey_jwt_sign(signers[i], NULL,
                            payload(NOW + 60, "\"sub\":\"alice\",\"iat\":"
                                    "1700000000,\"nbf\":1699999999,"
                                    "\"actions\":[\"dcs:instance:analyze\"]"
                                    ",\"rate\":5,\"burst\":9"));
        is_int(check(t, single[i], 0, &c), HOTKEY_JWT_OK,
               "%s, one key, no kid", algs[i]);
        is_str(c.project_id, PROJECT, "%s project_id", algs[i]);
        is_str(c.sub, "alice", "%s sub", algs[i]);
        ok(c.exp == NOW + 60 && c.iat == NOW && c.nbf == NOW - 1,
           "%s times", algs[i]);
        ok(c.actions == HOTKEY_ACTION_ANALYZE && c.rate == 5
           && c.rate_period == 1 && c.burst == 9, "%s actions, rate",
           algs[i]);
        is_int(check(t, jwks, 0, NULL), HOTKEY_JWT_INVALID,
               "%s, no kid, several keys", algs[i]);
        free(t);

        t = hotkey_jwt_sign(signers[i], kids[i], payload(NOW + 60, NULL));
        is_int(check(t, jwks, 0, NULL), HOTKEY_JWT_OK, "%s by kid", algs[i]);
        is_int(check(t, single[i], 0, NULL), HOTKEY_JWT_INVALID,
               "%s, kid unknown to a PEM set", algs[i]);
        free(t);

        t = hotkey_jwt_sign(signers[i], kids[(i + 1) % NKEYS],
                            payload(NOW + 60, NULL));
        is_int(check(t, jwks, 0, NULL), HOTKEY_JWT_INVALID,
               "%s with the kid of a %s key", algs[i], algs[(i + 1) % 4]);
        free(t);

        t = hotkey_jwt_sign(signers[i], "nope", payload(NOW + 60, NULL));
        is_int(check(t, jwks, 0, NULL), HOTKEY_JWT_INVALID,
               "%s unknown kid", algs[i]);
        free(t);

        t = hotkey_jwt_sign(signers[(i + 1) % NKEYS], kids[i],
                            payload(NOW + 60, NULL));
        is_int(check(t, jwks, 0, NULL), HOTKEY_JWT_INVALID,
               "a %s token under the kid of the %s key", algs[(i + 1) % 4],
               algs[i]);
        free(t);
    }
}


static void
test_confusion(void)
{
    int                i;
    char              *t, hdr[128];
    hotkey_signkey_t  *fake;

    /* the public key PEM as an HMAC secret */

    fake = hotkey_signkey_secret(pub_pem[K_RSA], strlen(pub_pem[K_RSA]));
    t = hotkey_jwt_sign(fake, NULL, payload(NOW + 60, NULL));
    is_int(check(t, single[K_RSA], 0, NULL), HOTKEY_JWT_INVALID,
           "HS256 with the RSA public key PEM as secret");
    free(t);
    t = hotkey_jwt_sign(fake, "rsa", payload(NOW + 60, NULL));
    is_int(check(t, jwks, 0, NULL), HOTKEY_JWT_INVALID,
           "the same with the RSA key's kid");
    free(t);
    hotkey_signkey_free(fake);

    for (i = 0; i < NKEYS; i++) {
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"none\",\"kid\":\"%s\"}",
                 kids[i]);
        t = hotkey_jwt_sign_raw(signers[i], "none", hdr,
                                payload(NOW + 60, NULL));
        is_int(check(t, jwks, 0, NULL), HOTKEY_JWT_INVALID,
               "alg none, kid %s", kids[i]);
        free(t);

        t = hotkey_jwt_sign_raw(signers[i], "none", "{\"alg\":\"none\"}",
                                payload(NOW + 60, NULL));
        is_int(check(t, single[i], 0, NULL), HOTKEY_JWT_INVALID,
               "alg none, single %s key", algs[i]);
        free(t);
    }

    t = hotkey_jwt_sign_raw(signers[K_HS], "HS256",
                            "{\"alg\":\"HS512\"}", payload(NOW + 60, NULL));
    is_int(check(t, single[K_HS], 0, NULL), HOTKEY_JWT_INVALID, "alg HS512");
    free(t);

    t = hotkey_jwt_sign_raw(signers[K_HS], "HS256",
                            "{\"alg\":\"hs256\"}", payload(NOW + 60, NULL));
    is_int(check(t, single[K_HS], 0, NULL), HOTKEY_JWT_INVALID,
           "alg in lowercase");
    free(t);

    t = hotkey_jwt_sign_raw(signers[K_HS], "HS256",
                            "{\"alg\":\"HS256\",\"crit\":[\"b64\"],"
                            "\"b64\":false}", payload(NOW + 60, NULL));
    is_int(check(t, single[K_HS], 0, NULL), HOTKEY_JWT_INVALID, "crit");
    free(t);

    t = hotkey_jwt_sign_raw(signers[K_HS], "HS256",
                            "{\"alg\":\"none\",\"alg\":\"HS256\"}",
                            payload(NOW + 60, NULL));
    is_int(check(t, single[K_HS], 0, NULL), HOTKEY_JWT_INVALID,
           "two alg members");
    free(t);
}


static void
test_times(void)
{
    struct {
        const char       *extra;
        long              exp;
        time_t            leeway;
        hotkey_jwt_rc_e   rc;
        const char       *name;
    } *t, tests[] = {
        { NULL, NOW + 1, 0, HOTKEY_JWT_OK, "exp in 1 s" },
        { NULL, NOW, 0, HOTKEY_JWT_EXPIRED, "exp now" },
        { NULL, NOW - 4, 5, HOTKEY_JWT_OK, "exp 4 s ago, leeway 5" },
        { NULL, NOW - 5, 5, HOTKEY_JWT_EXPIRED, "exp 5 s ago, leeway 5" },
        { NULL, 0, 0, HOTKEY_JWT_EXPIRED, "exp 0" },
        { "\"nbf\":1700000005", NOW + 60, 5, HOTKEY_JWT_OK, "nbf = leeway" },
        { "\"nbf\":1700000006", NOW + 60, 5, HOTKEY_JWT_NOT_YET_VALID,
          "nbf beyond leeway" },
        { "\"nbf\":1700000000", NOW + 60, 0, HOTKEY_JWT_OK, "nbf now" },
        { "\"iat\":1700000005", NOW + 60, 5, HOTKEY_JWT_OK, "iat = leeway" },
        { "\"iat\":1700000006", NOW + 60, 5, HOTKEY_JWT_NOT_YET_VALID,
          "iat beyond leeway" },
        { "\"iat\":1600000000", NOW + 60, 0, HOTKEY_JWT_OK, "iat long ago" },
        { "\"nbf\":\"0\"", NOW + 60, 0, HOTKEY_JWT_INVALID, "nbf string" },
        { "\"iat\":-1", NOW + 60, 0, HOTKEY_JWT_INVALID, "iat negative" },
        { NULL, 0, 0, 0, NULL }
    };
    char                 *tok, buf[256];
    hotkey_jwt_claims_t   c;

    for (t = tests; t->name; t++) {
        tok = hotkey_jwt_sign(signers[K_HS], NULL, payload(t->exp, t->extra));
        is_int(check(tok, single[K_HS], t->leeway, &c), t->rc, "%s", t->name);
        free(tok);
    }

    snprintf(buf, sizeof(buf), "{\"project_id\":\"p\",\"exp\":%ld.9}",
             NOW + 1);
    tok = hotkey_jwt_sign(signers[K_HS], NULL, buf);
    ok(check(tok, single[K_HS], 0, &c) == HOTKEY_JWT_OK && c.exp == NOW + 1,
       "fractional exp");
    free(tok);

    tok = hotkey_jwt_sign(signers[K_HS], NULL,
                          "{\"project_id\":\"p\",\"exp\":\"1800000000\"}");
    is_int(check(tok, single[K_HS], 0, NULL), HOTKEY_JWT_INVALID,
           "exp string");
    free(tok);

    tok = hotkey_jwt_sign(signers[K_HS], NULL,
                          "{\"project_id\":\"p\",\"exp\":1e300}");
    is_int(check(tok, single[K_HS], 0, NULL), HOTKEY_JWT_INVALID, "exp huge");
    free(tok);
}


static void
flip(char *tok, size_t at)
{
    tok[at] = tok[at] == 'A' ? 'B' : 'A';
}


static void
test_tamper(void)
{
    int      i;
    char    *t, *d1, *d2, *bad, saved;
    size_t   j, len;
    int      all;

    for (i = 0; i < NKEYS; i++) {
        t = hotkey_jwt_sign(signers[i], kids[i], payload(NOW + 60, NULL));
        len = strlen(t);
        d1 = strchr(t, '.');
        d2 = strchr(d1 + 1, '.');
        all = 1;

        for (j = 0; j < len; j++) {
            if (t[j] == '.') {
                continue;
            }

            saved = t[j];
            flip(t, j);
            all &= check(t, jwks, 0, NULL) == HOTKEY_JWT_INVALID;
            t[j] = saved;
        }

        ok(all, "%s: any header, payload or signature character changed",
           algs[i]);
        is_int(check(t, jwks, 0, NULL), HOTKEY_JWT_OK, "%s: intact",
               algs[i]);

        bad = malloc(len + 4);
        memcpy(bad, t, len + 1);
        bad[len - 1] = '\0';
        is_int(check(bad, jwks, 0, NULL), HOTKEY_JWT_INVALID,
               "%s: signature cut short", algs[i]);
        sprintf(bad, "%s=", t);
        is_int(check(bad, jwks, 0, NULL), HOTKEY_JWT_INVALID,
               "%s: padding", algs[i]);
        sprintf(bad, "%s.", t);
        is_int(check(bad, jwks, 0, NULL), HOTKEY_JWT_INVALID,
               "%s: four parts", algs[i]);
        memcpy(bad, t, len + 1);
        bad[d1 - t + 2] = '+';
        is_int(check(bad, jwks, 0, NULL), HOTKEY_JWT_INVALID,
               "%s: '+' in the payload", algs[i]);
        memcpy(bad, t, len + 1);
        bad[d2 - t + 1] = '/';
        is_int(check(bad, jwks, 0, NULL), HOTKEY_JWT_INVALID,
               "%s: '/' in the signature", algs[i]);
        sprintf(bad, "%.*s", (int) (d2 - t + 1), t);
        is_int(check(bad, jwks, 0, NULL), HOTKEY_JWT_INVALID,
               "%s: no signature", algs[i]);
        free(bad);
        free(t);
    }
}


static void
test_malformed(void)
{
    char                 *t, big[9000];
    size_t                n;
    hotkey_jwt_claims_t   c;

    struct {
        const char  *payload;
        const char  *name;
    } *p, payloads[] = {
        { "{\"exp\":1800000000}", "no project_id" },
        { "{\"project_id\":\"p\"}", "no exp" },
        { "{\"project_id\":\"\",\"exp\":1800000000}", "empty project_id" },
        { "{\"project_id\":7,\"exp\":1800000000}", "numeric project_id" },
        { "{\"project_id\":\"" PROJECT PROJECT "0\",\"exp\":1800000000}",
          "project_id of 65 bytes" },
        { "{\"project_id\":\"p\",\"exp\":1800000000,\"sub\":[]}",
          "sub not a string" },
        { "{\"project_id\":\"p\",\"exp\":1800000000,\"actions\":\"*\"}",
          "actions not an array" },
        { "{\"project_id\":\"p\",\"exp\":1800000000,\"actions\":[1]}",
          "action not a string" },
        { "{\"project_id\":\"p\",\"exp\":1800000000,\"rate\":-1}",
          "negative rate" },
        { "{\"project_id\":\"p\",\"exp\":1800000000,\"rate\":1.5}",
          "fractional rate" },
        { "{\"project_id\":\"p\",\"exp\":1800000000,\"rate\":\"5r/h\"}",
          "rate 5r/h" },
        { "{\"project_id\":\"p\",\"exp\":1800000000,\"burst\":\"5\"}",
          "burst string" },
        { "{\"project_id\":\"p\",\"project_id\":\"q\",\"exp\":1800000000}",
          "project_id twice" },
        { "{\"project_id\":\"p\",\"exp\":1800000000", "bad JSON" },
        { "{\"project_id\":\"p\",\"exp\":1800000000} x", "trailing junk" },
        { "[\"project_id\"]", "an array" },
        { "", "empty payload" },
        { NULL, NULL }
    };

    for (p = payloads; p->name; p++) {
        t = hotkey_jwt_sign(signers[K_HS], NULL, p->payload);
        is_int(check(t, single[K_HS], 0, NULL), HOTKEY_JWT_INVALID, "%s",
               p->name);
        free(t);
    }

    t = hotkey_jwt_sign_raw(signers[K_HS], "HS256", "{\"alg\":\"HS256\"",
                            payload(NOW + 60, NULL));
    is_int(check(t, single[K_HS], 0, NULL), HOTKEY_JWT_INVALID,
           "header bad JSON");
    free(t);

    t = hotkey_jwt_sign_raw(signers[K_HS], "HS256", "{\"alg\":\"HS256\","
                            "\"kid\":5}", payload(NOW + 60, NULL));
    is_int(check(t, single[K_HS], 0, NULL), HOTKEY_JWT_INVALID,
           "numeric kid");
    free(t);

    t = hotkey_jwt_sign(signers[K_HS], NULL,
                        payload(NOW + 60, "\"actions\":[\"dcs:instance:"
                                "listHotKey\",\"ecs:server:list\",\"dcs:"
                                "instance:getHotKeyAutoScanConfig\"],"
                                "\"rate\":\"120r/m\",\"x\":{\"y\":1}"));
    ok(check(t, single[K_HS], 0, &c) == HOTKEY_JWT_OK
       && c.actions == (HOTKEY_ACTION_LIST_HOTKEY
                        | HOTKEY_ACTION_GET_AUTOSCAN)
       && c.rate == 120 && c.rate_period == 60 && c.sub[0] == '\0'
       && c.burst == 0 && c.nbf == 0, "unknown actions and claims ignored");
    free(t);

    t = hotkey_jwt_sign(signers[K_HS], NULL,
                        payload(NOW + 60, "\"actions\":[\"dcs:*:*\"]"));
    ok(check(t, single[K_HS], 0, &c) == HOTKEY_JWT_OK
       && c.actions == HOTKEY_ACTION_ALL, "dcs:*:*");
    free(t);

    /* sizes around the limit: payload padding grows the token */

    for (n = 5000; n < 7000; n += 1) {
        memset(big, 'x', n);
        big[n] = '\0';
        memcpy(big, "\"pad\":\"", 7);
        big[n - 1] = '"';
        t = hotkey_jwt_sign(signers[K_HS], NULL, payload(NOW + 60, big));

        if (strlen(t) == HOTKEY_JWT_TOKEN_MAX) {
            is_int(check(t, single[K_HS], 0, NULL), HOTKEY_JWT_OK,
                   "a token of exactly 8 KiB");
        }

        if (strlen(t) == HOTKEY_JWT_TOKEN_MAX + 1) {
            is_int(check(t, single[K_HS], 0, NULL), HOTKEY_JWT_INVALID,
                   "a token of 8 KiB + 1");
            free(t);
            break;
        }

        free(t);
    }

    is_int(check("", single[K_HS], 0, NULL), HOTKEY_JWT_INVALID, "empty");
    is_int(check("a.b", single[K_HS], 0, NULL), HOTKEY_JWT_INVALID, "2 parts");
    is_int(check("..", single[K_HS], 0, NULL), HOTKEY_JWT_INVALID,
           "empty parts");
}


static void
bad_keys(const char *text, const char *want)
{
    char              err[256];
    hotkey_keyset_t  *ks;

    ks = keyset(text, err);
    ok(ks == NULL, "key file refused: %s", want);
    is_str(err, want, "message");
    hotkey_keyset_free(ks);
}


static void
test_keysets(void)
{
    char             *priv, *two, *t, err[256], tp[64];
    EVP_PKEY         *small;
    hotkey_keyset_t  *ks;

    /* RFC 7638 section 3.1's example */

    ks = keyset("{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps"
        "2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCi"
        "FV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YG"
        "jQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91"
        "CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBni"
        "Iqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\",\"e\":\"AQAB\",\"alg\":"
        "\"RS256\"}", err);
    ok(ks != NULL, "a single JWK: %s", err);
    is_str(ks ? hotkey_keyset_kid(ks, 0) : NULL,
             "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
             "kid defaults to the RFC 7638 thumbprint");
    hotkey_keyset_free(ks);

    /* two PEM keys: each known by its thumbprint */

    two = malloc(strlen(pub_pem[K_EC]) + strlen(pub_pem[K_ED]) + 2);
    sprintf(two, "%s\n%s", pub_pem[K_EC], pub_pem[K_ED]);
    ks = keyset(two, err);
    ok(ks && hotkey_keyset_count(ks) == 2, "two PEM keys: %s", err);
    hotkey_jwk_thumbprint(pkeys[K_ED], tp);
    is_str(ks ? hotkey_keyset_kid(ks, 1) : NULL, tp, "thumbprint kid");
    t = hotkey_jwt_sign(signers[K_ED], tp, payload(NOW + 60, NULL));
    is_int(check(t, ks, 0, NULL), HOTKEY_JWT_OK, "EdDSA by thumbprint");
    free(t);
    t = hotkey_jwt_sign(signers[K_ED], NULL, payload(NOW + 60, NULL));
    is_int(check(t, ks, 0, NULL), HOTKEY_JWT_INVALID, "no kid, two keys");
    free(t);
    hotkey_keyset_free(ks);
    free(two);

    priv = pem(pkeys[K_EC], 1);
    bad_keys(priv, "keys: key 1: a private key: give the public key"
             " (openssl pkey -pubout)");
    free(priv);

    small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
    priv = pem(small, 0);
    bad_keys(priv, "keys: key 1: RSA key shorter than 2048 bits");
    free(priv);
    EVP_PKEY_free(small);

    small = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    priv = pem(small, 0);
    bad_keys(priv, "keys: key 1: unsupported key type (RSA, EC P-256 or"
             " Ed25519)");
    free(priv);
    EVP_PKEY_free(small);

    bad_keys("short secret\n", "keys: an HS256 secret must have 32 to 1024"
             " bytes");
    bad_keys("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
             "keys: key 1: invalid public key");
    bad_keys("{\"keys\":[", "keys: invalid JSON");
    bad_keys("{\"keys\":[]}", "keys: no signature key in the JWKS");
    bad_keys("{\"foo\":1}", "keys: neither a JWKS {\"keys\":[...]} nor a"
             " JWK");
    bad_keys("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"}]}",
             "keys: key 1: an HS256 secret must have 32 to 1024 bytes");
    bad_keys("{\"keys\":[{\"kty\":\"oct\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxM"
             "jM0NTY3ODlhYmNkZWY\",\"alg\":\"RS256\"}]}",
             "keys: key 1: \"alg\" does not fit the \"kty\" (RSA: RS256,"
             " EC: ES256, OKP: EdDSA, oct: HS256)");
    bad_keys("{\"keys\":[{\"kty\":\"oct\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxM"
             "jM0NTY3ODlhYmNkZWY\",\"kid\":\"a\"},{\"kty\":\"oct\",\"k\":"
             "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\",\"kid\":\"a\"}"
             "]}", "keys: key 2: two keys with the same kid");
    bad_keys("{\"keys\":[{\"kty\":\"oct\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxM"
             "jM0NTY3ODlhYmNkZWY\"},{\"kty\":\"oct\",\"k\":"
             "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\",\"kid\":\"a\"}"
             "]}", "keys: key 1: a set of several keys needs a kid for each");
    bad_keys("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAAAAAAAAAAAAAAAAA"
             "AAAAAAAAAAAAAAAAAAAAAAAA\",\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAA"
             "AAAAAAAAAAAAAAAAA\"}",
             "keys: key 1: invalid EC key (not a point of P-256)");
    bad_keys("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"\",\"y\":\"\"}",
             "keys: key 1: EC key whose \"crv\" is not \"P-256\"");
    bad_keys("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"\"}",
             "keys: key 1: OKP key whose \"crv\" is not \"Ed25519\"");
    bad_keys("{\"kty\":\"XYZ\"}", "keys: key 1: unsupported \"kty\" (RSA,"
             " EC, OKP or oct)");

    ks = hotkey_keyset_load("/nonexistent/keys.pem", err, sizeof(err));
    ok(ks == NULL && strstr(err, "/nonexistent/keys.pem: cannot open") == err,
       "missing file: %s", err);
}


int
main(void)
{
    int  i;

    setup();
    test_algorithms();
    test_confusion();
    test_times();
    test_tamper();
    test_malformed();
    test_keysets();

    for (i = 0; i < NKEYS; i++) {
        hotkey_signkey_free(signers[i]);
        hotkey_keyset_free(single[i]);
        EVP_PKEY_free(pkeys[i]);
        free(pub_pem[i]);
    }

    hotkey_keyset_free(jwks);

    return done_testing();
}
