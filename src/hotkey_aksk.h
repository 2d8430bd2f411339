/*
 * AK/SK request signatures (api.md section 5), as the official Huawei
 * Cloud SDKs send them, in every scheme of hotkey_akscheme.h:
 *
 *   X-Sdk-Date: 20191115T033655Z
 *   Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b,
 *       Signature=<64 hex>
 *   Authorization: V11-HMAC-SHA256 Credential=AK/20191115/region/service,
 *       SignedHeaders=a;b, Signature=<64 hex>
 *   Authorization: SDK-ECDSA-P256-SHA256 Access=AK, SignedHeaders=a;b,
 *       Signature=<hex of a DER signature>
 *
 * Every scheme shares the canonical request (its body hash and the
 * x-sdk-content-* header follow the scheme's hash) and the StringToSign
 * "<scheme>\n<X-Sdk-Date>\n[<scope>\n]<hex hash of the canonical
 * request>", the scope being V11's only.
 *
 * Nothing here allocates: results point into the caller's input, the
 * canonical request is built on the stack or in a caller buffer, and the
 * limits below bound the work per request.
 */

#ifndef HOTKEY_AKSK_H
#define HOTKEY_AKSK_H

#include <stddef.h>
#include <time.h>

#include "hotkey_akscheme.h"
#include "hotkey_creds.h"
#include "hotkey_digest.h"
#include "hotkey_vcache.h"

#define HOTKEY_AKSK_SIGNED_MAX      32      /* signed header names */
#define HOTKEY_AKSK_QUERY_MAX       64      /* query parameters */
#define HOTKEY_AKSK_CANON_MAX       16384   /* canonical request bytes */
#define HOTKEY_AKSK_DATE_LEN        16      /* YYYYMMDDTHHMMSSZ */
#define HOTKEY_AKSK_SIG_LEN         64      /* hex, the HMAC schemes */
#define HOTKEY_AKSK_DER_MAX         72      /* an ECDSA or SM2 signature */
#define HOTKEY_AKSK_SCOPE_MAX       160     /* V11: date/region/service */
#define HOTKEY_AKSK_STS_MAX                                                 \
    (32 + HOTKEY_AKSK_DATE_LEN + HOTKEY_AKSK_SCOPE_MAX + 2 * HOTKEY_MD_LEN)
#define HOTKEY_AKSK_SKEW_DEFAULT    (15 * 60)
#define HOTKEY_AKSK_CACHE_DEFAULT   1024    /* verified requests kept */
#define HOTKEY_AKSK_CACHE_KEY_MAX   4096    /* of the request's parts */
#define HOTKEY_AKSK_EMPTY_SHA256                                            \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HOTKEY_AKSK_EMPTY_SM3                                               \
    "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"

/*
 * Results; hotkey_aksk_reason() gives the {reason} of the 401
 * APIGW.0301 "Incorrect IAM authentication information: {reason}".
 */
typedef enum {
    HOTKEY_AKSK_OK = 0,
    HOTKEY_AKSK_MALFORMED,      /* "malformed authorization header" */
    HOTKEY_AKSK_DATE_UNSIGNED,  /* "signed headers must include x-sdk-date" */
    HOTKEY_AKSK_BAD_DATE,       /* "invalid x-sdk-date" */
    HOTKEY_AKSK_EXPIRED,        /* "request expired" */
    HOTKEY_AKSK_UNKNOWN_AK,     /* "unknown access key" */
    HOTKEY_AKSK_HEADER_MISSING, /* "signed header not in the request" */
    HOTKEY_AKSK_HEADER_REPEATED,/* "signed header repeated" */
    HOTKEY_AKSK_BAD_URI,        /* "invalid percent-encoding in the uri" */
    HOTKEY_AKSK_TOO_LARGE,      /* "request too large to verify" */
    HOTKEY_AKSK_MISMATCH,       /* "verify aksk signature fail" */
    HOTKEY_AKSK_INTERNAL,       /* "internal error" (OpenSSL failed) */
    HOTKEY_AKSK_UNSUPPORTED,    /* "unsupported signing algorithm" */
    HOTKEY_AKSK_NOT_ALLOWED,    /* "signing algorithm not allowed for
                                   this access key" */
    HOTKEY_AKSK_BAD_SCOPE       /* "invalid credential scope" (V11) */
} hotkey_aksk_rc_e;

typedef struct {
    const char  *name;
    size_t       name_len;
    const char  *value;             /* as received; trimmed here */
    size_t       value_len;
} hotkey_aksk_header_t;

/* the parsed Authorization header: pointers into its value */
typedef struct {
    hotkey_aksk_scheme_e  scheme;
    const char           *access;
    size_t                access_len;
    const char           *scope;        /* V11: "YYYYMMDD/region/service" */
    size_t                scope_len;
    const char           *signed_headers;   /* "a;b;c" as sent */
    size_t                signed_headers_len;
    const char           *signature;    /* hex digits */
    size_t                signature_len;
    unsigned char         sig[HOTKEY_AKSK_DER_MAX];    /* their bytes */
    size_t                sig_len;
} hotkey_aksk_auth_t;

typedef struct {
    const char                  *method;
    size_t                       method_len;
    const char                  *path;      /* raw, still %-encoded */
    size_t                       path_len;
    const char                  *query;     /* raw, without '?'; or NULL */
    size_t                       query_len;
    const hotkey_aksk_header_t  *headers;   /* every request header */
    size_t                       nheaders;
    const char                  *body_hash;     /* 64 lowercase hex of the
                                                   scheme's hash of the
                                                   body, NULL if empty */
} hotkey_aksk_request_t;

/* the {reason} text of a result; never mentions the expected signature */
const char *hotkey_aksk_reason(hotkey_aksk_rc_e rc);

/*
 * The scheme an Authorization value starts with (after blanks), or -1
 * when it names none of hotkey_akscheme.h.
 */
int hotkey_aksk_scheme(const char *p, size_t len);

/*
 * Parses an Authorization value.  The scheme is followed by one or more
 * spaces or tabs; the three parameters Access (Credential for V11),
 * SignedHeaders, Signature (names case-insensitive, each exactly once,
 * any order) are separated by commas with optional spaces or tabs
 * around them.  Returns HOTKEY_AKSK_OK, HOTKEY_AKSK_UNSUPPORTED or
 * HOTKEY_AKSK_MALFORMED.
 */
hotkey_aksk_rc_e hotkey_aksk_parse_auth(const char *p, size_t len,
    hotkey_aksk_auth_t *auth);

/* strict YYYYMMDDTHHMMSSZ (UTC) to a time_t; 0 or -1 */
int hotkey_aksk_parse_date(const char *p, size_t len, time_t *t);

/* formats t as YYYYMMDDTHHMMSSZ plus a NUL into buf[17] */
void hotkey_aksk_format_date(time_t t, char *buf);

/* 1 when |now - t| <= skew seconds */
int hotkey_aksk_date_fresh(time_t t, time_t now, time_t skew);

/*
 * Builds the canonical request for the signed headers "a;b;c" into buf,
 * the body hash (or the empty body's) being in the hash md.
 * *len gets the full length even when it does not fit, in which case
 * the result is HOTKEY_AKSK_TOO_LARGE and buf holds a truncated prefix.
 * No NUL is written.
 */
hotkey_aksk_rc_e hotkey_aksk_canonical_request(
    const hotkey_aksk_request_t *r, hotkey_md_e md,
    const char *signed_headers, size_t signed_len, char *buf, size_t size,
    size_t *len);

/*
 * The StringToSign of a scheme into sts[HOTKEY_AKSK_STS_MAX]: its
 * length, or 0 when date or scope is too long or hashing failed.
 */
size_t hotkey_aksk_string_to_sign(hotkey_aksk_scheme_e s, const char *date,
    size_t date_len, const char *scope, size_t scope_len,
    const char *canonical, size_t canonical_len, char *sts);

/*
 * The signature of an HMAC scheme (SDK-HMAC-SHA256, SDK-HMAC-SM3,
 * V11-HMAC-SHA256, whose scope is "YYYYMMDD/region/service"): 64 hex
 * digits and a NUL into sig.  0 or -1.
 */
int hotkey_aksk_sign(hotkey_aksk_scheme_e s, const char *ak, size_t ak_len,
    const char *sk, size_t sk_len, const char *date, size_t date_len,
    const char *scope, size_t scope_len, const char *canonical,
    size_t canonical_len, char *sig);

/*
 * The whole check of one request, in this order: the Authorization
 * header (auth, with its length) and its scheme, x-sdk-date among the
 * signed headers and in the request, its format, its freshness
 * (|now - date| <= skew), the access key, the scheme allowed for it,
 * V11's scope, the canonical request (r->body_hash in the scheme's
 * hash), the signature (an HMAC compared in constant time, or the
 * scheme's public-key check).  On HOTKEY_AKSK_OK *cred is the caller's
 * credential (its name, projects, actions and rate overrides).
 *
 * cache (NULL: none; see hotkey_aksk_cache_create) spares the last two
 * steps, and only them, to a request that repeats byte for byte one
 * whose signature verified with the same credentials (keep one cache
 * per creds): the same Authorization value (scheme, access key, scope,
 * signed header names, signature) and the same parts of the canonical
 * request as sent (method, raw path, raw query, the value of each signed
 * header, x-sdk-date included, and the body hash), which make the same
 * canonical request.  Every other step runs on every request, the
 * date's freshness included, and only verified requests are kept.
 */
hotkey_aksk_rc_e hotkey_aksk_verify(const hotkey_aksk_request_t *r,
    const char *auth, size_t auth_len, const hotkey_creds_t *creds,
    time_t now, time_t skew, hotkey_vcache_t *cache,
    const hotkey_cred_t **cred);

/*
 * A cache of verified requests for hotkey_aksk_verify: capacity entries
 * (0: HOTKEY_AKSK_CACHE_DEFAULT), keys up to HOTKEY_AKSK_CACHE_KEY_MAX
 * bytes (a longer request is verified each time).  Free it with
 * hotkey_vcache_free().
 */
hotkey_vcache_t *hotkey_aksk_cache_create(size_t capacity);

#endif
