/*
 * The AK/SK schemes beyond SDK-HMAC-SHA256: requests signed by the
 * official Python SDK core's own signers (huaweicloudsdkcore.signer:
 * SM3Signer, DerivationAKSKSigner, P256SHA256Signer, SM2SM3Signer, from
 * the huaweicloud-sdk-python-v3 sources) verified here; every signed
 * part tampered with refused; per-credential schemes and scopes; and
 * the signers of tools/ checked against the verifier.
 */

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "hotkey_aksign.h"
#include "hotkey_aksk.h"
#include "hotkey_codec.h"


#define S(s)  s, sizeof(s) - 1
#define NOW   1573789015    /* 20191115T033655Z */
#define AK    "HPUAXUZQTQQUKGTKHQRL"
#define SK    "eDfS5ZPlIpXEeEuBKEwxjLrGWyqUNKOvSYXsFzLm"
#define PATH  "/v2/0123456789abcdef0123456789abcdef/instances/"           \
              "5560df16-cebf-4473-95c4-d1b573c16e79/hotkey-tasks"
#define PUT_BODY  "{\"enable_auto_scan\":true}"

typedef struct {
    const char  *method;
    const char  *query;
    const char  *body;
    const char  *auth;
} vec_t;


static hotkey_creds_t   *creds;
static hotkey_vcache_t  *cache;     /* one per creds, as the module keeps */

/*
 * Made with the Python SDK core's signers, request headers
 * Content-Type: application/json, Host: dcs.example.com and
 * X-Sdk-Date: 20191115T033655Z (V11: region cn-north-4, service dcs).
 */

static const vec_t  vectors[] = {
    { "GET", "limit=10&offset=0", NULL,
      "SDK-HMAC-SM3 Access=" AK ", SignedHeaders=content-type;host;"
      "x-sdk-date, Signature=cce76df3e3ca7ac4802137294a02942b5637d7ec4e08d8"
      "48d3cad4964cab9189" },
    { "PUT", NULL, PUT_BODY,
      "SDK-HMAC-SM3 Access=" AK ", SignedHeaders=content-type;host;"
      "x-sdk-date, Signature=5560230b8b9627a63f2f77e80a409a1bea830218d79185"
      "1dd7fb13220846158c" },
    { "GET", "limit=10&offset=0", NULL,
      "V11-HMAC-SHA256 Credential=" AK "/20191115/cn-north-4/dcs,"
      " SignedHeaders=content-type;host;x-sdk-date, Signature=14b141f8caf1b"
      "9a918d41d06439f15d30af57f5bace9051318e43bd40d729ebd" },
    { "PUT", NULL, PUT_BODY,
      "V11-HMAC-SHA256 Credential=" AK "/20191115/cn-north-4/dcs,"
      " SignedHeaders=content-type;host;x-sdk-date, Signature=49ba81f87cf82"
      "5eccfc199b831c1299a8e15a281ad90bdb234b341280eb45b55" },
    { "GET", "limit=10&offset=0", NULL,
      "SDK-ECDSA-P256-SHA256 Access=" AK ", SignedHeaders=content-type;host;"
      "x-sdk-date, Signature=30450220503a5323451dd9a41921cbed9b6b20c0d0908f"
      "2aac37c6ba3b187c2a0941816b022100df7be72ce1a0ec4c4e0634f840eec635828a"
      "0efbf0fab28204289c04081685c1" },
    { "PUT", NULL, PUT_BODY,
      "SDK-ECDSA-P256-SHA256 Access=" AK ", SignedHeaders=content-type;host;"
      "x-sdk-date, Signature=3045022100c0a959a7a9b6ae62996850434a85cd5ebb92"
      "085327565b86e466457b50931d0c02207c0a0353e013db77a8434203dc1ee297b5e9"
      "40e6043111e5a2e8c094430497be" },
    { "GET", "limit=10&offset=0", NULL,
      "SDK-SM2-SM3 Access=" AK ", SignedHeaders=content-type;host;"
      "x-sdk-date, Signature=3045022100cc8e6928477b040ce6cd9658627f8aa26a96"
      "25b2895c34aa51be54a67f64846d022003f19425c96f75ae4abbc07bf21a590c5429"
      "accc1f08958ef5da379d90af64f8" },
    { "PUT", NULL, PUT_BODY,
      "SDK-SM2-SM3 Access=" AK ", SignedHeaders=content-type;host;"
      "x-sdk-date, Signature=3045022100d0645263ff7a09f3bd4d055dd0e4b5bd3dd5"
      "0b2e123311df059acce14dbcb0d502207a536088b021d0503abd9aa62c0608847"
      "5f225f8c536b2b51559c36f59cdcba7" },

    /* AK/SK whose derived SM2 public key has y with a leading zero byte:
       the Python core's Z leaves that byte out */
    { "GET", NULL, NULL,
      "SDK-SM2-SM3 Access=AKZA0025, SignedHeaders=content-type;host;"
      "x-sdk-date, Signature=304402201c89bbcec43489d627e9a12dc93a3d8dee307d"
      "c803027fcac3c3709aa8af7f260220153cbbf925440fcbd62e77e95eb9de3fb51f5b"
      "a64f3077436105f56ff3b65b46" },
};


typedef struct {
    const char            *method;
    const char            *path;
    const char            *query;
    const char            *body;
    const char            *auth;
    hotkey_aksk_header_t   h[3];
} req_t;


static void
req_init(req_t *q, const vec_t *v)
{
    hotkey_aksk_header_t  h[3] = {
        { S("Content-Type"), S("application/json") },
        { S("Host"), S("dcs.example.com") },
        { S("X-Sdk-Date"), S("20191115T033655Z") }
    };

    q->method = v->method;
    q->path = PATH;
    q->query = v->query;
    q->body = v->body;
    q->auth = v->auth;
    memcpy(q->h, h, sizeof(h));
}


/* the request of q, its body hashed as the scheme s hashes */

static void
request_of(const req_t *q, int s, hotkey_aksk_request_t *r, char *hash)
{
    unsigned char  md[HOTKEY_MD_LEN];

    memset(r, 0, sizeof(*r));
    r->method = q->method;
    r->method_len = strlen(q->method);
    r->path = q->path;
    r->path_len = strlen(q->path);
    r->query = q->query;
    r->query_len = q->query ? strlen(q->query) : 0;
    r->headers = q->h;
    r->nheaders = 3;

    if (q->body && s >= 0) {
        hotkey_digest(hotkey_akscheme_md(s), q->body, strlen(q->body), md);
        hotkey_codec_hex(md, sizeof(md), hash);
        r->body_hash = hash;
    }
}


static hotkey_aksk_rc_e
verify_at(const req_t *q, time_t now)
{
    int                    i;
    char                   hash[2 * HOTKEY_MD_LEN + 1];
    hotkey_aksk_rc_e       rc;
    hotkey_aksk_request_t  r;
    const hotkey_cred_t   *c;

    request_of(q, hotkey_aksk_scheme(q->auth, strlen(q->auth)), &r, hash);

    rc = hotkey_aksk_verify(&r, q->auth, strlen(q->auth), creds, now,
                            HOTKEY_AKSK_SKEW_DEFAULT, NULL, &c);

    /* the same answer through the shared cache, stored then found */

    for (i = 0; i < 2; i++) {
        if (hotkey_aksk_verify(&r, q->auth, strlen(q->auth), creds, now,
                               HOTKEY_AKSK_SKEW_DEFAULT, cache, &c)
            != rc)
        {
            return (hotkey_aksk_rc_e) -1;
        }
    }

    return rc;
}


static void
test_vectors(void)
{
    char      auth[512], *p;
    size_t    i;
    req_t     q;

    for (i = 0; i < sizeof(vectors) / sizeof(vec_t); i++) {
        req_init(&q, &vectors[i]);
        is_int(verify_at(&q, NOW), HOTKEY_AKSK_OK, "Python SDK vector %zu"
               " (%.22s, %s) verifies", i, vectors[i].auth,
               vectors[i].method);

        q.method = strcmp(q.method, "GET") ? "GET" : "HEAD";
        is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH, "... method");

        req_init(&q, &vectors[i]);
        q.path = PATH "x";
        is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH, "... path");

        req_init(&q, &vectors[i]);
        q.query = q.query ? "limit=11&offset=0" : "limit=1";
        is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH, "... query");

        req_init(&q, &vectors[i]);
        q.h[0].value = "application/jsoN";
        is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH,
               "... content-type");

        req_init(&q, &vectors[i]);
        q.h[1].value = "dcs.example.con";
        is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH, "... host");

        req_init(&q, &vectors[i]);
        q.h[2].value = "20191115T033656Z";
        is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH, "... x-sdk-date");

        req_init(&q, &vectors[i]);
        q.body = q.body ? "{\"enable_auto_scan\":false}" : "{}";
        is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH, "... body");

        /* the last hex digit of the signature, one off */
        req_init(&q, &vectors[i]);
        snprintf(auth, sizeof(auth), "%s", vectors[i].auth);
        p = auth + strlen(auth) - 1;
        *p = *p == '0' ? '1' : '0';
        q.auth = auth;
        is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH,
               "... signature's last digit");

        /* the first hex digit: a DER tag for the asymmetric ones */
        snprintf(auth, sizeof(auth), "%s", vectors[i].auth);
        p = strstr(auth, "Signature=") + 10;
        *p = *p == '3' ? '2' : '3';
        is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH,
               "... signature's first digit");

        req_init(&q, &vectors[i]);
        is_int(verify_at(&q, NOW + 15 * 60 + 1), HOTKEY_AKSK_EXPIRED,
               "... 15 min 1 s later: expired");
    }
}


static void
test_asym_forms(void)
{
    char    auth[512], *p;
    req_t   q;

    /* the ECDSA vector with a zero byte appended to its DER */
    req_init(&q, &vectors[4]);
    snprintf(auth, sizeof(auth), "%s00", vectors[4].auth);
    q.auth = auth;
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH,
           "ECDSA: DER with a trailing byte refused");

    /* its length byte one less */
    snprintf(auth, sizeof(auth), "%s", vectors[4].auth);
    p = strstr(auth, "Signature=") + 12;
    p[1] = '4';
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH,
           "ECDSA: DER with a wrong length refused");

    /* an ECDSA signature sent as SM2, and the other way round */
    snprintf(auth, sizeof(auth), "SDK-SM2-SM3%s",
             vectors[4].auth + strlen("SDK-ECDSA-P256-SHA256"));
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH,
           "the ECDSA signature under SDK-SM2-SM3 refused");
    snprintf(auth, sizeof(auth), "SDK-HMAC-SM3%s",
             vectors[2].auth + strlen("V11-HMAC-SHA256"));
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_MALFORMED,
           "V11's Credential= under SDK-HMAC-SM3: malformed");
    snprintf(auth, sizeof(auth), "%s",
             "SDK-ECDSA-P256-SHA256 Access=" AK ", SignedHeaders=host;"
             "x-sdk-date, Signature=3");
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_MALFORMED,
           "an odd number of hex digits: malformed");
    snprintf(auth, sizeof(auth), "SDK-ECDSA-P256-SHA256 Access=" AK
             ", SignedHeaders=host;x-sdk-date, Signature=%0146d", 0);
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_MALFORMED,
           "73 bytes of signature: malformed");
}


static void
test_v11_scope(void)
{
    char   auth[512];
    req_t  q;

    req_init(&q, &vectors[2]);
    q.auth = auth;

    snprintf(auth, sizeof(auth), "%s", vectors[2].auth);
    memcpy(strstr(auth, "/cn-north-4"), "/cn-north-5", 11);
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_MISMATCH,
           "V11: another region in the scope (signed for cn-north-4)");

    snprintf(auth, sizeof(auth), "%s", vectors[2].auth);
    memcpy(strstr(auth, "/20191115/"), "/20191116/", 10);
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_BAD_SCOPE,
           "V11: a scope date other than X-Sdk-Date's");

    snprintf(auth, sizeof(auth), "V11-HMAC-SHA256 Credential=" AK
             "/20191115/cn-north-4, SignedHeaders=host;x-sdk-date,"
             " Signature=%064d", 0);
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_MALFORMED,
           "V11: a scope without service: malformed");

    snprintf(auth, sizeof(auth), "V11-HMAC-SHA256 Credential=" AK
             "/2019111/cn-north-4/dcs, SignedHeaders=host;x-sdk-date,"
             " Signature=%064d", 0);
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_MALFORMED,
           "V11: a 7-digit scope date: malformed");

    snprintf(auth, sizeof(auth), "V11-HMAC-SHA256 Access=" AK
             ", SignedHeaders=host;x-sdk-date, Signature=%064d", 0);
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_MALFORMED,
           "V11 with Access= instead of Credential=: malformed");
}


/* credentials restricted to some schemes, or to a V11 region/service */

static void
test_restrictions(void)
{
    req_t            q;
    hotkey_creds_t  *all;
    hotkey_vcache_t *all_cache;
    char             err[256];

    static const char  text[] =
        AK " " SK " projects=* actions=* schemes=SDK-HMAC-SM3"
        " region=cn-north-4 service=dcs\n";
    static const char  text2[] =
        AK " " SK " projects=* actions=* region=cn-south-1\n";

    all = creds;
    all_cache = cache;

    creds = hotkey_creds_parse(S(text), "restricted", err, sizeof(err));
    cache = hotkey_aksk_cache_create(8);
    ok(creds != NULL, "credentials with schemes=SDK-HMAC-SM3: %s",
       creds ? "read" : err);
    ok(creds->creds[0].keys.p256 == NULL && creds->creds[0].keys.sm2 == NULL,
       "... derive no asymmetric key");

    req_init(&q, &vectors[0]);
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_OK, "SM3 allowed");
    req_init(&q, &vectors[2]);
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_NOT_ALLOWED, "V11 not allowed");
    req_init(&q, &vectors[6]);
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_NOT_ALLOWED, "SM2 not allowed");
    hotkey_creds_free(creds);
    hotkey_vcache_free(cache);

    creds = hotkey_creds_parse(S(text2), "region", err, sizeof(err));
    cache = hotkey_aksk_cache_create(8);
    req_init(&q, &vectors[2]);
    is_int(verify_at(&q, NOW), HOTKEY_AKSK_BAD_SCOPE,
           "V11 for cn-north-4 with region=cn-south-1: invalid scope");
    hotkey_creds_free(creds);
    hotkey_vcache_free(cache);

    creds = all;
    cache = all_cache;
}


/* the signers of tools/ against the verifier, for every scheme */

static void
test_signers(void)
{
    int                    s;
    char                   sig[HOTKEY_AKSIGN_MAX], auth[512];
    char                   canon[1024], hash[65];
    size_t                 len;
    req_t                  q;
    hotkey_aksk_request_t  r;

    for (s = 0; s < HOTKEY_AKSK_SCHEME_COUNT; s++) {
        req_init(&q, &vectors[1]);
        request_of(&q, s, &r, hash);

        ok(hotkey_aksk_canonical_request(&r, hotkey_akscheme_md(s),
                                         S("content-type;host;x-sdk-date"),
                                         canon, sizeof(canon), &len)
           == HOTKEY_AKSK_OK, "%s: canonical request",
           hotkey_akscheme_name(s));
        ok(hotkey_aksign(s, S(AK), S(SK), S("20191115T033655Z"),
                         S("20191115/cn-north-4/dcs"), canon, len, s == 4,
                         sig) == 0, "... signed");

        snprintf(auth, sizeof(auth), "%s %s" AK "%s, SignedHeaders="
                 "content-type;host;x-sdk-date, Signature=%s",
                 hotkey_akscheme_name(s),
                 s == HOTKEY_AKSK_V11_HMAC_SHA256 ? "Credential=" : "Access=",
                 s == HOTKEY_AKSK_V11_HMAC_SHA256
                 ? "/20191115/cn-north-4/dcs" : "", sig);
        q.auth = auth;
        is_int(verify_at(&q, NOW), HOTKEY_AKSK_OK, "... verified");
    }
}


int
main(void)
{
    char  err[256];

    static const char  text[] =
        AK " " SK " projects=* actions=*\n"
        "AKZA0025 sm2-leading-zero-sk projects=* actions=*\n";

    creds = hotkey_creds_parse(S(text), "creds", err, sizeof(err));
    ok(creds != NULL, "credentials: %s", creds ? "read" : err);
    cache = hotkey_aksk_cache_create(0);

    test_vectors();
    test_asym_forms();
    test_v11_scope();
    test_restrictions();
    test_signers();

    hotkey_creds_free(creds);
    hotkey_vcache_free(cache);

    return done_testing();
}
