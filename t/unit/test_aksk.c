/*
 * SDK-HMAC-SHA256: api.md section 5's vectors, vectors made with the
 * official Node.js SDK's AKSKSigner (@huaweicloud/huaweicloud-sdk-core
 * 3.1.211), and the edge cases.
 */

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "hotkey_aksk.h"
#include "hotkey_codec.h"


#define S(s)  s, sizeof(s) - 1
#define NOW   1573789015    /* 20191115T033655Z */

typedef struct {
    const char            *method;
    const char            *path;
    const char            *query;
    hotkey_aksk_header_t   h[8];
    size_t                 nh;
    const char            *body;
    const char            *auth;
} vec_t;


static hotkey_creds_t   *creds;
static hotkey_vcache_t  *cache;


static void
request(const vec_t *v, hotkey_aksk_request_t *r, char *hash)
{
    unsigned char  md[HOTKEY_SHA256_LEN];

    memset(r, 0, sizeof(*r));
    r->method = v->method;
    r->method_len = strlen(v->method);
    r->path = v->path;
    r->path_len = strlen(v->path);
    r->query = v->query;
    r->query_len = v->query ? strlen(v->query) : 0;
    r->headers = v->h;
    r->nheaders = v->nh;

    if (v->body) {
        hotkey_sha256(v->body, strlen(v->body), md);
        hotkey_codec_hex(md, sizeof(md), hash);
        r->body_hash = hash;
    }
}


/*
 * Every check runs three times: without a cache, then twice through the
 * one cache every test shares (stored, then found): all three must give
 * the same answer, or the result is -1, which no test expects.  So each
 * refusal below is also checked after its valid twin was cached.
 */

static hotkey_aksk_rc_e
verify(const vec_t *v, time_t now)
{
    int                    i;
    char                   hash[65];
    hotkey_aksk_rc_e       rc;
    hotkey_aksk_request_t  r;
    const hotkey_cred_t   *c;

    request(v, &r, hash);
    rc = hotkey_aksk_verify(&r, v->auth, strlen(v->auth), creds, now,
                            HOTKEY_AKSK_SKEW_DEFAULT, NULL, &c);

    for (i = 0; i < 2; i++) {
        if (hotkey_aksk_verify(&r, v->auth, strlen(v->auth), creds, now,
                               HOTKEY_AKSK_SKEW_DEFAULT, cache, &c)
            != rc)
        {
            return (hotkey_aksk_rc_e) -1;
        }
    }

    return rc;
}


static const char *
canonical(const vec_t *v, const char *signed_headers, hotkey_aksk_rc_e *rc)
{
    char                   hash[65];
    size_t                 len;
    hotkey_aksk_request_t  r;
    static char            buf[4096];

    request(v, &r, hash);
    *rc = hotkey_aksk_canonical_request(&r, HOTKEY_MD_SHA256, signed_headers,
                                        strlen(signed_headers), buf,
                                        sizeof(buf) - 1, &len);
    buf[*rc == HOTKEY_AKSK_OK ? len : 0] = '\0';
    return buf;
}


static void
test_api_vectors(void)
{
    char              sig[65];
    const char       *c;
    unsigned char     md[HOTKEY_SHA256_LEN];
    hotkey_aksk_rc_e  rc;
    vec_t             get = {
        "GET", "/path", "limit=1",
        { { S("X-Sdk-Date"), S("20060102T150405Z") } }, 1, NULL, NULL
    };
    vec_t             post = {
        "POST", "/path", "key=value",
        { { S("X-Sdk-Date"), S("20060102T150405Z") } }, 1,
        "{\"Name\":\"test\",\"Id\":1}\n", NULL
    };
    const char       *sts = "SDK-HMAC-SHA256\n20191115T033655Z\n"
        "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a";

    c = canonical(&get, "x-sdk-date", &rc);
    is_int(rc, HOTKEY_AKSK_OK, "GET vector: canonical request built");
    is_str(c, "GET\n/path/\nlimit=1\nx-sdk-date:20060102T150405Z\n\n"
             "x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4"
             "95991b7852b855", "GET vector: canonical request");

    ok(hotkey_aksk_sign(HOTKEY_AKSK_HMAC_SHA256, S("AccessKey"),
                        S("SecretKey"), S("20060102T150405Z"), NULL, 0, c,
                        strlen(c), sig) == 0, "GET vector: signed");
    is_str(sig, "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d0"
             "2ac79624", "GET vector: signature");

    c = canonical(&post, "x-sdk-date", &rc);
    is_str(c, "POST\n/path/\nkey=value\nx-sdk-date:20060102T150405Z\n\n"
             "x-sdk-date\na29d7b4c5efd1a22011d69fd7b7aee76fe51e4083c609244228d"
             "e258afd61289", "POST vector: canonical request");
    ok(hotkey_aksk_sign(HOTKEY_AKSK_HMAC_SHA256, S("AccessKey"),
                        S("SecretKey"), S("20060102T150405Z"), NULL, 0, c,
                        strlen(c), sig) == 0, "POST vector: signed");
    is_str(sig, "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72f"
             "c9db4f59", "POST vector: signature");

    ok(hotkey_hmac_sha256(S("MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"),
                          sts, strlen(sts), md) == 0, "StringToSign HMAC");
    hotkey_codec_hex(md, sizeof(md), sig);
    is_str(sig, "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d687"
             "0f4f6ebe", "StringToSign vector: signature");
}


/* requests signed by the Node.js SDK with AK "AccessKey", SK "SecretKey" */

static vec_t  sdk[] = {
    { "GET", "/v2/p1/instances/i1/hotkey-tasks", "limit=10&offset=0",
      { { S("X-Sdk-Date"), S("20191115T033655Z") },
        { S("Host"), S("127.0.0.1:8080") },
        { S("User-Agent"), S("huaweicloud-usdk-nodejs/3.0") } }, 3, NULL,
      "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, "
      "Signature=47abddb4d1eed175ba6b7f1910a06833906acfaed0bcfffe2e1af6f046"
      "85be3e" },

    { "GET", "/path", "b=1&b=10&b=2&a=&sp%20ace=x%20y%2Bz&%C3%BC=%C3%A9~*"
      "&Z=upper",
      { { S("X-Sdk-Date"), S("20191115T033655Z") },
        { S("X-Project-Id"), S("p1") },
        { S("Content-Type"), S("application/json") },
        { S("host"), S("127.0.0.1:8080") } }, 4, NULL,
      "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=content-type;host;"
      "x-project-id;x-sdk-date, Signature=6c73efb9aacb43cea9953c2b43b38f58"
      "2504d177cddf2ac48b1f3c269b5338f3" },

    { "POST", "/v2/p/hotkey-task", NULL,
      { { S("X-Sdk-Date"), S("20191115T033655Z") },
        { S("content-type"), S("application/json") },
        { S("host"), S("127.0.0.1:8080") } }, 3, "{\"a\":1}",
      "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=content-type;host;"
      "x-sdk-date, Signature=c179249cf1e71f58ca68b9d3ac9a57dc9808d59616ecd5"
      "17cab6bcf09c05bc88" },

    { "GET", "/a/", "x%5B%5D=it's",
      { { S("X-Sdk-Date"), S("20191115T033655Z") },
        { S("X-Sdk-Content-Sha256"), S("UNSIGNED-PAYLOAD") },
        { S("host"), S("127.0.0.1:8080") } }, 3, NULL,
      "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;"
      "x-sdk-content-sha256;x-sdk-date, Signature=866f0366569bd6e32d9ca7b5"
      "2d4629923d2f1de7f7a6274ee746e355f6e5a766" }
};


static void
test_sdk(void)
{
    size_t            i;
    const char       *c;
    hotkey_aksk_rc_e  rc;

    for (i = 0; i < sizeof(sdk) / sizeof(sdk[0]); i++) {
        is_int(verify(&sdk[i], NOW), HOTKEY_AKSK_OK, "SDK request %zu", i);
    }

    c = canonical(&sdk[1], "content-type;host;x-project-id;x-sdk-date", &rc);
    is_str(c, "GET\n/path/\nZ=upper&a=&b=1&b=10&b=2&sp%20ace=x%20y%2Bz&"
             "%C3%BC=%C3%A9~%2A\ncontent-type:application/json\n"
             "host:127.0.0.1:8080\nx-project-id:p1\n"
             "x-sdk-date:20191115T033655Z\n\ncontent-type;host;x-project-id;"
             "x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4"
             "95991b7852b855", "SDK canonical request, query sorted");

    c = canonical(&sdk[3], "host;x-sdk-content-sha256;x-sdk-date", &rc);
    ok(strstr(c, "\nx%5B%5D=it%27s\n") != NULL, "' encoded");
    ok(strlen(c) > 16 && strcmp(c + strlen(c) - 17, "\nUNSIGNED-PAYLOAD")
       == 0, "UNSIGNED-PAYLOAD used");

    sdk[3].nh = 2;
    is_int(verify(&sdk[3], NOW), HOTKEY_AKSK_HEADER_MISSING,
           "signed host missing");
    sdk[3].nh = 3;
}


static void
check_canon(const char *path, const char *query, const char *want_path,
    const char *want_query)
{
    char              want[1024];
    const char       *c;
    hotkey_aksk_rc_e  rc;
    vec_t             v = {
        "GET", path, query, { { S("X-Sdk-Date"), S("20191115T033655Z") } },
        1, NULL, NULL
    };

    snprintf(want, sizeof(want), "GET\n%s\n%s\nx-sdk-date:20191115T033655Z"
             "\n\nx-sdk-date\n%s", want_path, want_query,
             HOTKEY_AKSK_EMPTY_SHA256);
    c = canonical(&v, "x-sdk-date", &rc);
    is_str(c, want, "canonical of %s ? %s", path, query ? query : "");
}


static void
test_canonical(void)
{
    const char       *c;
    hotkey_aksk_rc_e  rc;
    vec_t             v = {
        "GET", "/", NULL,
        { { S("X-Sdk-Date"), S("20191115T033655Z") },
          { S("X-Spaced"), S(" \t a  b \t") },
          { S("X-Twice"), S("1") },
          { S("x-twice"), S("2") },
          { S("X-Empty"), S("") } }, 5, NULL, NULL
    };

    check_canon("/", NULL, "/", "");
    check_canon("", "", "/", "");
    check_canon("/a/b/", "b=2&a=1", "/a/b/", "a=1&b=2");
    check_canon("/a", "x=2&x=1&x=10&a", "/a/", "a=&x=1&x=10&x=2");
    check_canon("/a", "n=&m", "/a/", "m=&n=");
    check_canon("/a", "&&a=1&&", "/a/", "a=1");
    check_canon("/a", "a=b=c", "/a/", "a=b%3Dc");
    check_canon("/a", "k=%7e%2f%41", "/a/", "k=~%2FA");
    check_canon("/a", "k=a+b&k2=a%2Bb", "/a/", "k=a%20b&k2=a%2Bb");
    check_canon("/a", "k=*'()!", "/a/", "k=%2A%27%28%29%21");
    check_canon("/a", "k=\xc3\xbc", "/a/", "k=%C3%BC");
    check_canon("/a", "%62=1&a=2", "/a/", "a=2&b=1");
    check_canon("/a", "a=%62&a=a", "/a/", "a=a&a=b");
    check_canon("/a%20b/c+d/%7e", NULL, "/a%20b/c%2Bd/~/", "");
    check_canon("/a%2fb", NULL, "/a%2Fb/", "");
    check_canon("//x//", NULL, "//x//", "");
    check_canon("/v2/0123/instances/ab-cd/hotkey-tasks", "limit=10",
                "/v2/0123/instances/ab-cd/hotkey-tasks/", "limit=10");

    c = canonical(&v, "x-spaced;X-Empty", &rc);
    ok(strstr(c, "\nx-spaced:a  b\nx-empty:\n\nx-spaced;x-empty\n") != NULL,
       "values trimmed, names lowercased, order kept");

    canonical(&v, "x-sdk-date;x-twice", &rc);
    is_int(rc, HOTKEY_AKSK_HEADER_REPEATED, "repeated signed header");
    canonical(&v, "x-sdk-date;x-absent", &rc);
    is_int(rc, HOTKEY_AKSK_HEADER_MISSING, "missing signed header");
    canonical(&v, "x-sdk-date;;x-empty", &rc);
    is_int(rc, HOTKEY_AKSK_MALFORMED, "empty signed header name");
    canonical(&v, "x-sdk-date;X-SDK-DATE", &rc);
    is_int(rc, HOTKEY_AKSK_MALFORMED, "duplicate signed header name");

    v.query = "a=%zz";
    canonical(&v, "x-sdk-date", &rc);
    is_int(rc, HOTKEY_AKSK_BAD_URI, "bad percent-encoding in the query");
    v.query = "a=%4";
    canonical(&v, "x-sdk-date", &rc);
    is_int(rc, HOTKEY_AKSK_BAD_URI, "truncated percent-encoding");
    v.query = NULL;
    v.path = "/a%g0";
    canonical(&v, "x-sdk-date", &rc);
    is_int(rc, HOTKEY_AKSK_BAD_URI, "bad percent-encoding in the path");
}


static void
test_limits(void)
{
    char                   q[1024], big[HOTKEY_AKSK_CANON_MAX + 16], buf[8];
    size_t                 i, len;
    hotkey_aksk_rc_e       rc;
    hotkey_aksk_request_t  r;
    vec_t                  v = {
        "GET", "/", q, { { S("X-Sdk-Date"), S("20191115T033655Z") } }, 1,
        NULL, NULL
    };

    q[0] = '\0';
    for (i = 0; i < HOTKEY_AKSK_QUERY_MAX; i++) {
        strcat(q, "a=1&");
    }

    canonical(&v, "x-sdk-date", &rc);
    is_int(rc, HOTKEY_AKSK_OK, "%d parameters", HOTKEY_AKSK_QUERY_MAX);
    strcat(q, "b");
    canonical(&v, "x-sdk-date", &rc);
    is_int(rc, HOTKEY_AKSK_TOO_LARGE, "one parameter too many");

    v.query = NULL;
    request(&v, &r, NULL);
    rc = hotkey_aksk_canonical_request(&r, HOTKEY_MD_SHA256, S("x-sdk-date"),
                                       buf, sizeof(buf), &len);
    is_int(rc, HOTKEY_AKSK_TOO_LARGE, "small buffer");
    is_int(len, 4 + 2 + 1 + 28 + 12 + 64, "needed length reported");
    ok(memcmp(buf, "GET\n/\n\nx", 8) == 0, "truncated prefix written");

    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    v.path = big;
    v.auth = "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, "
             "Signature=0000000000000000000000000000000000000000000000000000"
             "000000000000";
    is_int(verify(&v, NOW), HOTKEY_AKSK_TOO_LARGE, "huge path refused");
}


static int
still_fails(vec_t *v, char *field, size_t len)
{
    size_t  i;
    int     fails;

    fails = 0;

    for (i = 0; i < len; i++) {
        field[i] ^= 1;
        fails += verify(v, NOW) != HOTKEY_AKSK_OK;
        field[i] ^= 1;
    }

    return fails == (int) len && verify(v, NOW) == HOTKEY_AKSK_OK;
}


static void
test_tamper(void)
{
    char    method[8], path[64], query[128], auth[256], body[16];
    char    vals[4][64];
    size_t  i;
    vec_t   v = sdk[1];

    strcpy(method, v.method);
    strcpy(path, v.path);
    strcpy(query, v.query);
    strcpy(auth, v.auth);
    v.method = method;
    v.path = path;
    v.query = query;
    v.auth = auth;

    for (i = 0; i < v.nh; i++) {
        memcpy(vals[i], v.h[i].value, v.h[i].value_len);
        v.h[i].value = vals[i];
    }

    ok(still_fails(&v, method, strlen(method)), "any method byte changed");
    ok(still_fails(&v, path, strlen(path)), "any path byte changed");
    ok(still_fails(&v, query, strlen(query)), "any query byte changed");

    for (i = 0; i < v.nh; i++) {
        ok(still_fails(&v, vals[i], v.h[i].value_len),
           "any byte of %.*s changed", (int) v.h[i].name_len, v.h[i].name);
    }

    ok(still_fails(&v, strstr(auth, "Signature=") + 10, 64),
       "any signature digit changed");
    ok(still_fails(&v, strstr(auth, "Access=") + 7, 9),
       "any access key byte changed");

    strcat(path, "/");
    is_int(verify(&v, NOW), HOTKEY_AKSK_OK, "a trailing slash is the same");
    strcat(query, "&");
    is_int(verify(&v, NOW), HOTKEY_AKSK_OK, "an empty parameter is nothing");
    strcat(query, "c");
    is_int(verify(&v, NOW), HOTKEY_AKSK_MISMATCH, "an added parameter");

    v = sdk[2];
    strcpy(body, v.body);
    v.body = body;
    ok(still_fails(&v, body, strlen(body)), "any body byte changed");
    v.body = NULL;
    is_int(verify(&v, NOW), HOTKEY_AKSK_MISMATCH, "body removed");
}


/* a check through one given cache (not the shared one) */

static hotkey_aksk_rc_e
through(const vec_t *v, hotkey_vcache_t *vc, time_t now)
{
    char                   hash[65];
    hotkey_aksk_request_t  r;
    const hotkey_cred_t   *c;

    request(v, &r, hash);

    return hotkey_aksk_verify(&r, v->auth, strlen(v->auth), creds, now,
                              HOTKEY_AKSK_SKEW_DEFAULT, vc, &c);
}


/*
 * The cache of verified requests, attacked once a valid request is in
 * it: whatever the signature covers, changed by one byte with the
 * signature reused, and a signature one digit off, are refused; the
 * date is still checked to the second.
 */

static void
test_cache(void)
{
    char              auth[256], query[128], host[32], body[16], *d;
    vec_t             v = sdk[1], w = sdk[2];
    hotkey_vcache_t  *vc;

    vc = hotkey_aksk_cache_create(8);

    is_int(through(&v, vc, NOW), HOTKEY_AKSK_OK, "cache: valid, verified");
    is_int(hotkey_vcache_count(vc, NOW), 1, "... and kept");
    is_int(through(&v, vc, NOW), HOTKEY_AKSK_OK, "... and found again");
    is_int(hotkey_vcache_count(vc, NOW), 1, "... not kept twice");
    is_int(through(&w, vc, NOW), HOTKEY_AKSK_OK, "a POST with a body too");
    is_int(hotkey_vcache_count(vc, NOW), 2, "two entries");

    strcpy(auth, v.auth);
    v.auth = auth;
    d = auth + strlen(auth) - 1;
    *d = *d == '0' ? '1' : '0';
    is_int(through(&v, vc, NOW), HOTKEY_AKSK_MISMATCH,
           "the signature's last digit off");
    strcpy(auth, sdk[1].auth);
    d = strstr(auth, "Signature=") + 10;
    *d = *d == '0' ? '1' : '0';
    is_int(through(&v, vc, NOW), HOTKEY_AKSK_MISMATCH,
           "the signature's first digit off");
    strcpy(auth, sdk[1].auth);
    is_int(through(&v, vc, NOW), HOTKEY_AKSK_OK, "restored: found");

    snprintf(query, sizeof(query), "%s&c=1", v.query);
    v.query = query;
    is_int(through(&v, vc, NOW), HOTKEY_AKSK_MISMATCH,
           "the same signature on another query");
    v.query = sdk[1].query;
    v.path = "/Path";
    is_int(through(&v, vc, NOW), HOTKEY_AKSK_MISMATCH,
           "... on another path");
    v.path = sdk[1].path;
    v.method = "HEAD";
    is_int(through(&v, vc, NOW), HOTKEY_AKSK_MISMATCH,
           "... with another method");
    v.method = sdk[1].method;
    strcpy(host, "127.0.0.1:8081");
    v.h[3].value = host;
    is_int(through(&v, vc, NOW), HOTKEY_AKSK_MISMATCH,
           "... with another signed header value");
    v.h[3] = sdk[1].h[3];
    v.h[0].value = "20191115T033656Z";
    is_int(through(&v, vc, NOW), HOTKEY_AKSK_MISMATCH,
           "... with another X-Sdk-Date");
    v.h[0] = sdk[1].h[0];

    strcpy(body, w.body);
    body[0] = '[';
    w.body = body;
    is_int(through(&w, vc, NOW), HOTKEY_AKSK_MISMATCH,
           "... on another body");
    w.body = NULL;
    is_int(through(&w, vc, NOW), HOTKEY_AKSK_MISMATCH, "... with no body");
    w.body = sdk[2].body;

    is_int(through(&v, vc, NOW + HOTKEY_AKSK_SKEW_DEFAULT), HOTKEY_AKSK_OK,
           "cached and 15 minutes late: ok");
    is_int(through(&v, vc, NOW + HOTKEY_AKSK_SKEW_DEFAULT + 1),
           HOTKEY_AKSK_EXPIRED, "cached and one second more: expired");
    is_int(through(&v, vc, NOW - HOTKEY_AKSK_SKEW_DEFAULT - 1),
           HOTKEY_AKSK_EXPIRED, "cached, one second too early: expired");
    is_int(hotkey_vcache_count(vc, NOW), 2, "no refusal was kept");
    is_int(hotkey_vcache_count(vc, NOW + HOTKEY_AKSK_SKEW_DEFAULT + 1), 0,
           "entries live no longer than their date could be fresh");

    hotkey_vcache_free(vc);
}


static void
test_verify_errors(void)
{
    char   upper[256], *p;
    vec_t  v = sdk[0];

    is_int(verify(&v, NOW + 900), HOTKEY_AKSK_OK, "15 minutes late is ok");
    is_int(verify(&v, NOW - 900), HOTKEY_AKSK_OK, "15 minutes early is ok");
    is_int(verify(&v, NOW + 901), HOTKEY_AKSK_EXPIRED, "901 s late");
    is_int(verify(&v, NOW - 901), HOTKEY_AKSK_EXPIRED, "901 s early");

    strcpy(upper, v.auth);
    for (p = strstr(upper, "Signature=") + 10; *p; p++) {
        *p = (*p >= 'a' && *p <= 'f') ? *p - 32 : *p;
    }

    v.auth = upper;
    is_int(verify(&v, NOW), HOTKEY_AKSK_OK, "uppercase hex signature");

    v.auth = "SDK-HMAC-SHA256 Access=Nobody, SignedHeaders=host;x-sdk-date, "
             "Signature=47abddb4d1eed175ba6b7f1910a06833906acfaed0bcfffe2e1a"
             "f6f04685be3e";
    is_int(verify(&v, NOW), HOTKEY_AKSK_UNKNOWN_AK, "unknown access key");

    v.auth = "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host, "
             "Signature=47abddb4d1eed175ba6b7f1910a06833906acfaed0bcfffe2e1a"
             "f6f04685be3e";
    is_int(verify(&v, NOW), HOTKEY_AKSK_DATE_UNSIGNED, "date not signed");

    v.auth = "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date"
             ",Signature=47abddb4d1eed175ba6b7f1910a06833906acfaed0bcfffe2e1a"
             "f6f04685be3e, Extra=1";
    is_int(verify(&v, NOW), HOTKEY_AKSK_MALFORMED, "extra parameter");

    v = sdk[0];
    v.h[0].value = "20191115T033655";
    v.h[0].value_len = 15;
    is_int(verify(&v, NOW), HOTKEY_AKSK_BAD_DATE, "bad date");

    v.nh = 2;
    v.h[0] = v.h[1];
    is_int(verify(&v, NOW), HOTKEY_AKSK_HEADER_MISSING, "no date header");

    is_str(hotkey_aksk_reason(HOTKEY_AKSK_MISMATCH),
             "verify aksk signature fail", "reason text");
    is_str(hotkey_aksk_reason(HOTKEY_AKSK_DATE_UNSIGNED),
             "signed headers must include x-sdk-date", "reason text");
    is_str(hotkey_aksk_reason((hotkey_aksk_rc_e) 99), "internal error",
             "reason of an unknown code");
}


static void
auth_ok(const char *s, const char *access, const char *sh)
{
    hotkey_aksk_auth_t  a;
    hotkey_aksk_rc_e    rc;

    rc = hotkey_aksk_parse_auth(s, strlen(s), &a);
    ok(rc == HOTKEY_AKSK_OK && a.access_len == strlen(access)
       && memcmp(a.access, access, a.access_len) == 0
       && a.signed_headers_len == strlen(sh)
       && memcmp(a.signed_headers, sh, a.signed_headers_len) == 0
       && a.signature[0] == '4', "parsed: %s", s);
}


static void
auth_unsupported(const char *s, const char *why)
{
    hotkey_aksk_auth_t  a;

    is_int(hotkey_aksk_parse_auth(s, strlen(s), &a), HOTKEY_AKSK_UNSUPPORTED,
           "unsupported, %s", why);
}


static void
auth_bad(const char *s, const char *why)
{
    hotkey_aksk_auth_t  a;

    is_int(hotkey_aksk_parse_auth(s, strlen(s), &a), HOTKEY_AKSK_MALFORMED,
           "rejected, %s", why);
}


#define SIG  "47abddb4d1eed175ba6b7f1910a06833906acfaed0bcfffe2e1af6f04685be3e"

static void
test_auth_parse(void)
{
    auth_ok("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, "
            "Signature=" SIG, "AK", "host;x-sdk-date");
    auth_ok("SDK-HMAC-SHA256 Access=AK,SignedHeaders=a,Signature=" SIG,
            "AK", "a");
    auth_ok("  SDK-HMAC-SHA256\t Access=AK ,\tSignedHeaders=a  ,  Signature="
            SIG "  ", "AK", "a");
    auth_ok("SDK-HMAC-SHA256 signature=" SIG ", access=AK, signedheaders=a",
            "AK", "a");

    auth_unsupported("", "empty");
    auth_bad("SDK-HMAC-SHA256", "scheme only");
    auth_unsupported("SDK-HMAC-SHA256Access=AK, SignedHeaders=a, Signature="
                     SIG, "no space after the scheme");
    auth_unsupported("AWS4-HMAC-SHA256 Access=AK, SignedHeaders=a,"
                     " Signature=" SIG, "other scheme");
    auth_unsupported("sdk-hmac-sha256 Access=AK, SignedHeaders=a, Signature="
                     SIG, "lowercase scheme");
    auth_unsupported("Bearer abc", "Bearer");
    auth_unsupported("SDK-HMAC-SHA512 Access=AK, SignedHeaders=a, Signature="
                     SIG, "a scheme no SDK signs with");
    auth_bad("SDK-HMAC-SHA256 Access=AK, SignedHeaders=a", "no signature");
    auth_bad("SDK-HMAC-SHA256 Access=AK, SignedHeaders=a, Signature=" SIG
             ",", "trailing comma");
    auth_bad("SDK-HMAC-SHA256 Access=AK, SignedHeaders=a, Signature=" SIG
             " junk", "trailing junk");
    auth_bad("SDK-HMAC-SHA256 Access=AK, SignedHeaders=a, Signature=" SIG
             "0", "65 digits");
    auth_bad("SDK-HMAC-SHA256 Access=AK, SignedHeaders=a, Signature="
             "47abddb4d1eed175ba6b7f1910a06833906acfaed0bcfffe2e1af6f04685be3",
             "63 digits");
    auth_bad("SDK-HMAC-SHA256 Access=AK, SignedHeaders=a, Signature="
             "x7abddb4d1eed175ba6b7f1910a06833906acfaed0bcfffe2e1af6f04685be3e",
             "not hex");
    auth_bad("SDK-HMAC-SHA256 Access=AK, Access=AK, SignedHeaders=a, "
             "Signature=" SIG, "Access twice");
    auth_bad("SDK-HMAC-SHA256 Access=, SignedHeaders=a, Signature=" SIG,
             "empty Access");
    auth_bad("SDK-HMAC-SHA256 Access=AK, SignedHeaders=, Signature=" SIG,
             "empty SignedHeaders");
    auth_bad("SDK-HMAC-SHA256 Access=AK,, SignedHeaders=a, Signature=" SIG,
             "two commas");
    auth_bad("SDK-HMAC-SHA256 Access = AK, SignedHeaders=a, Signature=" SIG,
             "space before =");
}


static void
date_bad(const char *s, const char *why)
{
    time_t  t;

    ok(hotkey_aksk_parse_date(s, strlen(s), &t) != 0, "bad date: %s (%s)",
       s, why);
}


static void
test_dates(void)
{
    char    buf[HOTKEY_AKSK_DATE_LEN + 1];
    time_t  t;

    ok(hotkey_aksk_parse_date(S("20191115T033655Z"), &t) == 0 && t == NOW,
       "20191115T033655Z");
    ok(hotkey_aksk_parse_date(S("19700101T000000Z"), &t) == 0 && t == 0,
       "the epoch");
    ok(hotkey_aksk_parse_date(S("20200229T235959Z"), &t) == 0
       && t == 1583020799, "leap day");
    ok(hotkey_aksk_parse_date(S("20000229T000000Z"), &t) == 0
       && t == 951782400, "leap day of 2000");
    hotkey_aksk_format_date(NOW, buf);
    is_str(buf, "20191115T033655Z", "formatted");

    date_bad("20190229T000000Z", "not a leap year");
    date_bad("21000229T000000Z", "not a leap year");
    date_bad("20191315T033655Z", "month 13");
    date_bad("20191100T033655Z", "day 0");
    date_bad("20191131T033655Z", "November 31");
    date_bad("20191115T243655Z", "hour 24");
    date_bad("20191115T036055Z", "minute 60");
    date_bad("20191115T033660Z", "second 60");
    date_bad("20191115t033655Z", "lowercase t");
    date_bad("20191115T033655z", "lowercase z");
    date_bad("20191115T033655", "no Z");
    date_bad("20191115T033655Z ", "trailing space");
    date_bad("2019-11-15T03:36:55Z", "ISO 8601 extended");
    date_bad("2019111 T033655Z", "a space");
    date_bad("+0191115T033655Z", "a sign");
    date_bad("19691231T235959Z", "before the epoch");

    ok(hotkey_aksk_date_fresh(1000, 1900, 900), "delta = skew accepted");
    ok(!hotkey_aksk_date_fresh(1000, 1901, 900), "delta = skew + 1 refused");
    ok(hotkey_aksk_date_fresh(1900, 1000, 900), "future: delta = skew");
    ok(!hotkey_aksk_date_fresh(1901, 1000, 900), "future: skew + 1");
}


int
main(void)
{
    char  err[256];

    creds = hotkey_creds_parse("AccessKey SecretKey projects=* actions=*\n",
                               41, "creds", err, sizeof(err));
    ok(creds != NULL, "credentials");
    cache = hotkey_aksk_cache_create(0);

    test_api_vectors();
    test_sdk();
    test_canonical();
    test_limits();
    test_tamper();
    test_cache();
    test_verify_errors();
    test_auth_parse();
    test_dates();

    hotkey_creds_free(creds);
    hotkey_vcache_free(cache);

    return done_testing();
}
