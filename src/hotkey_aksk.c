/*
 * AK/SK signatures: the Authorization header, X-Sdk-Date, the canonical
 * request and the signature check of every scheme.
 */

#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "hotkey_aksk.h"
#include "hotkey_digest.h"
#include "hotkey_codec.h"


#define HOTKEY_AKSK_SCOPE_PART_MAX  64

#define hotkey_aksk_blank(c)  ((c) == ' ' || (c) == '\t')
#define hotkey_aksk_lower(c)                                                \
    ((c) >= 'A' && (c) <= 'Z' ? (c) | 0x20 : (c))


typedef struct {
    char    *buf;
    size_t   size;
    size_t   len;
    int      last;
} hotkey_aksk_out_t;

typedef struct {
    const char  *name;
    size_t       name_len;
    const char  *value;
    size_t       value_len;
} hotkey_aksk_param_t;

typedef struct {
    const char  *p;
    size_t       len;
} hotkey_aksk_span_t;

/* what the checks before the signature found */
typedef struct {
    hotkey_aksk_auth_t    a;
    hotkey_aksk_span_t    names[HOTKEY_AKSK_SIGNED_MAX];  /* signed */
    size_t                n;
    const char           *date;         /* X-Sdk-Date, trimmed */
    size_t                date_len;
    time_t                t;
    const hotkey_cred_t  *cred;
} hotkey_aksk_check_t;


static int hotkey_aksk_ieq(const char *a, size_t alen, const char *b,
    size_t blen);
static void hotkey_aksk_trim(const char **p, size_t *len);
static int hotkey_aksk_find(const hotkey_aksk_request_t *r, const char *name,
    size_t len, const char **value, size_t *value_len);
static int hotkey_aksk_auth_param(hotkey_aksk_auth_t *auth,
    const char *name, size_t name_len, const char *v, size_t vlen);
static int hotkey_aksk_credential(hotkey_aksk_auth_t *auth, const char *v,
    size_t vlen);
static int hotkey_aksk_scope_ok(const char *p, size_t len);
static int hotkey_aksk_unreserved(int c);
static int hotkey_aksk_digits(const char *p, size_t n);
static void hotkey_aksk_put(hotkey_aksk_out_t *o, const char *p, size_t n);
static int hotkey_aksk_encode(hotkey_aksk_out_t *o, const char *p,
    size_t len, int plus);
static int hotkey_aksk_cmp(const char *a, size_t alen, const char *b,
    size_t blen);
static hotkey_aksk_rc_e hotkey_aksk_path(hotkey_aksk_out_t *o,
    const char *p, size_t len);
static hotkey_aksk_rc_e hotkey_aksk_query(hotkey_aksk_out_t *o,
    const char *p, size_t len);
static hotkey_aksk_rc_e hotkey_aksk_split_signed(const char *p, size_t len,
    hotkey_aksk_span_t *names, size_t *n);
static hotkey_aksk_rc_e hotkey_aksk_headers(hotkey_aksk_out_t *o,
    const hotkey_aksk_request_t *r, hotkey_aksk_span_t *names, size_t n);
static hotkey_aksk_rc_e hotkey_aksk_check_scope(const hotkey_aksk_auth_t *a,
    const hotkey_cred_t *c, const char *date);
static hotkey_aksk_rc_e hotkey_aksk_check_sig(const hotkey_aksk_auth_t *a,
    const hotkey_cred_t *c, const char *sts, size_t sts_len);
static hotkey_aksk_rc_e hotkey_aksk_check_asym(EVP_PKEY *pkey,
    const unsigned char *za, const unsigned char *sig, size_t sig_len,
    const char *sts, size_t sts_len);
static hotkey_aksk_rc_e hotkey_aksk_check_request(
    const hotkey_aksk_request_t *r, const char *auth, size_t auth_len,
    const hotkey_creds_t *creds, time_t now, time_t skew,
    hotkey_aksk_check_t *ck);
static void hotkey_aksk_field(hotkey_aksk_out_t *o, const char *p,
    size_t n);
static int hotkey_aksk_material(const hotkey_aksk_request_t *r,
    const hotkey_aksk_check_t *ck, char *buf, size_t size, size_t *len);
static hotkey_aksk_rc_e hotkey_aksk_check_signed(
    const hotkey_aksk_request_t *r, const hotkey_aksk_check_t *ck);


static const char *const  hotkey_aksk_reasons[] = {
    "ok",
    "malformed authorization header",
    "signed headers must include x-sdk-date",
    "invalid x-sdk-date",
    "request expired",
    "unknown access key",
    "signed header not in the request",
    "signed header repeated",
    "invalid percent-encoding in the uri",
    "request too large to verify",
    "verify aksk signature fail",
    "internal error",
    "unsupported signing algorithm",
    "signing algorithm not allowed for this access key",
    "invalid credential scope"
};


const char *
hotkey_aksk_reason(hotkey_aksk_rc_e rc)
{
    if ((size_t) rc >= sizeof(hotkey_aksk_reasons) / sizeof(char *)) {
        return "internal error";
    }

    return hotkey_aksk_reasons[rc];
}


static int
hotkey_aksk_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t  i;

    if (alen != blen) {
        return 0;
    }

    for (i = 0; i < alen; i++) {
        if (hotkey_aksk_lower(a[i]) != hotkey_aksk_lower(b[i])) {
            return 0;
        }
    }

    return 1;
}


static void
hotkey_aksk_trim(const char **p, size_t *len)
{
    while (*len && hotkey_aksk_blank((*p)[0])) {
        (*p)++;
        (*len)--;
    }

    while (*len && hotkey_aksk_blank((*p)[*len - 1])) {
        (*len)--;
    }
}


/* how many request headers have this name; the first one's value */

static int
hotkey_aksk_find(const hotkey_aksk_request_t *r, const char *name,
    size_t len, const char **value, size_t *value_len)
{
    int                          n;
    size_t                       i;
    const hotkey_aksk_header_t  *h;

    n = 0;

    for (i = 0; i < r->nheaders; i++) {
        h = &r->headers[i];

        if (hotkey_aksk_ieq(h->name, h->name_len, name, len)) {
            if (n++ == 0) {
                *value = h->value;
                *value_len = h->value_len;
                hotkey_aksk_trim(value, value_len);
            }
        }
    }

    return n;
}


int
hotkey_aksk_scheme(const char *p, size_t len)
{
    size_t  n;

    while (len && hotkey_aksk_blank(*p)) {
        p++;
        len--;
    }

    for (n = 0; n < len && !hotkey_aksk_blank(p[n]); n++) { /* void */ }

    return hotkey_akscheme_parse(p, n);
}


hotkey_aksk_rc_e
hotkey_aksk_parse_auth(const char *p, size_t len, hotkey_aksk_auth_t *auth)
{
    int          scheme;
    const char  *end, *name, *v;

    memset(auth, 0, sizeof(hotkey_aksk_auth_t));

    end = p + len;

    while (p < end && hotkey_aksk_blank(*p)) {
        p++;
    }

    scheme = hotkey_aksk_scheme(p, end - p);
    if (scheme < 0) {
        return HOTKEY_AKSK_UNSUPPORTED;
    }

    auth->scheme = (hotkey_aksk_scheme_e) scheme;
    p += strlen(hotkey_akscheme_name(auth->scheme));

    if (p == end) {
        return HOTKEY_AKSK_MALFORMED;
    }

    for ( ;; ) {
        while (p < end && hotkey_aksk_blank(*p)) {
            p++;
        }

        for (name = p; p < end && *p != '='; p++) {
            if (*p == ',' || hotkey_aksk_blank(*p)) {
                return HOTKEY_AKSK_MALFORMED;
            }
        }

        if (p == end) {
            return HOTKEY_AKSK_MALFORMED;
        }

        for (v = ++p; p < end && *p != ',' && !hotkey_aksk_blank(*p); p++) {
            /* void */
        }

        if (hotkey_aksk_auth_param(auth, name, v - 1 - name, v, p - v)
            != 0)
        {
            return HOTKEY_AKSK_MALFORMED;
        }

        while (p < end && hotkey_aksk_blank(*p)) {
            p++;
        }

        if (p == end) {
            break;
        }

        if (*p++ != ',') {
            return HOTKEY_AKSK_MALFORMED;
        }
    }

    if (auth->access == NULL || auth->signed_headers == NULL
        || auth->signature == NULL)
    {
        return HOTKEY_AKSK_MALFORMED;
    }

    return HOTKEY_AKSK_OK;
}


/* V11's Credential=AK/YYYYMMDD/region/service */

static int
hotkey_aksk_credential(hotkey_aksk_auth_t *auth, const char *v, size_t vlen)
{
    const char  *slash;

    slash = memchr(v, '/', vlen);

    if (slash == NULL || slash == v
        || (size_t) (slash - v) > HOTKEY_CREDS_AK_MAX
        || !hotkey_aksk_scope_ok(slash + 1, vlen - (slash - v) - 1))
    {
        return -1;
    }

    auth->access = v;
    auth->access_len = slash - v;
    auth->scope = slash + 1;
    auth->scope_len = vlen - (slash - v) - 1;

    return 0;
}


/* "YYYYMMDD/region/service", the last two of A-Z a-z 0-9 - _ . */

static int
hotkey_aksk_scope_ok(const char *p, size_t len)
{
    size_t  i, part, n;

    if (len < 12 || len > HOTKEY_AKSK_SCOPE_MAX || p[8] != '/'
        || hotkey_aksk_digits(p, 8) < 0)
    {
        return 0;
    }

    part = 0;
    n = 0;

    for (i = 9; i < len; i++) {
        if (p[i] == '/') {
            if (n == 0 || ++part > 1) {
                return 0;
            }

            n = 0;
            continue;
        }

        if (!(hotkey_aksk_unreserved(p[i]) && p[i] != '~')
            || ++n > HOTKEY_AKSK_SCOPE_PART_MAX)
        {
            return 0;
        }
    }

    return part == 1 && n > 0;
}


static int
hotkey_aksk_auth_param(hotkey_aksk_auth_t *auth, const char *name,
    size_t name_len, const char *v, size_t vlen)
{
    int  v11;

    if (vlen == 0) {
        return -1;
    }

    v11 = auth->scheme == HOTKEY_AKSK_V11_HMAC_SHA256;

    if (hotkey_aksk_ieq(name, name_len, v11 ? "Credential" : "Access",
                        v11 ? 10 : 6))
    {
        if (auth->access) {
            return -1;
        }

        if (v11) {
            return hotkey_aksk_credential(auth, v, vlen);
        }

        if (vlen > HOTKEY_CREDS_AK_MAX) {
            return -1;
        }

        auth->access = v;
        auth->access_len = vlen;
        return 0;
    }

    if (hotkey_aksk_ieq(name, name_len, "SignedHeaders", 13)) {
        if (auth->signed_headers) {
            return -1;
        }

        auth->signed_headers = v;
        auth->signed_headers_len = vlen;
        return 0;
    }

    if (hotkey_aksk_ieq(name, name_len, "Signature", 9)) {
        if (auth->signature || vlen % 2 || vlen > 2 * HOTKEY_AKSK_DER_MAX
            || (auth->scheme < HOTKEY_AKSK_ECDSA_P256_SHA256
                && vlen != HOTKEY_AKSK_SIG_LEN)
            || hotkey_codec_unhex(v, vlen, auth->sig, vlen / 2) != 0)
        {
            return -1;
        }

        auth->signature = v;
        auth->signature_len = vlen;
        auth->sig_len = vlen / 2;
        return 0;
    }

    return -1;
}


static int
hotkey_aksk_digits(const char *p, size_t n)
{
    int  v;

    for (v = 0; n--; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }

        v = v * 10 + (*p - '0');
    }

    return v;
}


int
hotkey_aksk_parse_date(const char *p, size_t len, time_t *t)
{
    int        y, mo, d, h, mi, s, mdays;
    long long  days;

    static const int  month_days[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    if (len != HOTKEY_AKSK_DATE_LEN || p[8] != 'T' || p[15] != 'Z') {
        return -1;
    }

    y = hotkey_aksk_digits(p, 4);
    mo = hotkey_aksk_digits(p + 4, 2);
    d = hotkey_aksk_digits(p + 6, 2);
    h = hotkey_aksk_digits(p + 9, 2);
    mi = hotkey_aksk_digits(p + 11, 2);
    s = hotkey_aksk_digits(p + 13, 2);

    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23
        || mi < 0 || mi > 59 || s < 0 || s > 59)
    {
        return -1;
    }

    mdays = month_days[mo - 1]
            + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));

    if (d > mdays) {
        return -1;
    }

    /* days from civil, March-based years (H. Hinnant) */
    y -= mo <= 2;
    days = (long long) y / 400 * 146097
           + (y % 400) * 365 + (y % 400) / 4 - (y % 400) / 100
           + (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1 - 719468;

    *t = (time_t) (days * 86400 + h * 3600 + mi * 60 + s);

    return 0;
}


void
hotkey_aksk_format_date(time_t t, char *buf)
{
    struct tm  tm;

    gmtime_r(&t, &tm);
    strftime(buf, HOTKEY_AKSK_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}


int
hotkey_aksk_date_fresh(time_t t, time_t now, time_t skew)
{
    return (t <= now ? now - t : t - now) <= skew;
}


static void
hotkey_aksk_put(hotkey_aksk_out_t *o, const char *p, size_t n)
{
    if (n == 0) {
        return;
    }

    if (o->len < o->size) {
        memcpy(o->buf + o->len, p,
               n < o->size - o->len ? n : o->size - o->len);
    }

    o->len += n;
    o->last = (unsigned char) p[n - 1];
}


/* A-Z a-z 0-9 - _ . ~ as a bit set of the 256 bytes: one test a byte */

static int
hotkey_aksk_unreserved(int c)
{
    static const uint64_t  set[4] = {
        0x03ff600000000000ULL,          /* - . 0-9 */
        0x47fffffe87fffffeULL,          /* A-Z _ a-z ~ */
        0, 0
    };

    return (int) (set[(unsigned char) c >> 6] >> ((unsigned char) c & 63)
                  & 1);
}


static int
hotkey_aksk_encode(hotkey_aksk_out_t *o, const char *p, size_t len,
    int plus)
{
    int          c;
    char         pct[3];
    const char  *end, *run;

    static const char  hex[] = "0123456789ABCDEF";

    end = p + len;

    for ( ;; ) {

        /* a run of bytes that stay as they are goes out at once */

        for (run = p; p < end && hotkey_aksk_unreserved(*p); p++) {
            /* void */
        }

        hotkey_aksk_put(o, run, p - run);

        c = hotkey_codec_pct_next(&p, end, plus);
        if (c < 0) {
            break;
        }

        if (hotkey_aksk_unreserved(c)) {
            pct[0] = (char) c;
            hotkey_aksk_put(o, pct, 1);
            continue;
        }

        pct[0] = '%';
        pct[1] = hex[c >> 4];
        pct[2] = hex[c & 0x0f];
        hotkey_aksk_put(o, pct, 3);
    }

    return c == HOTKEY_PCT_END ? 0 : -1;
}


/* byte order of the decoded strings ('+' is a space: query only) */

static int
hotkey_aksk_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int          x, y;
    const char  *aend, *bend;

    aend = a + alen;
    bend = b + blen;

    do {
        x = hotkey_codec_pct_next(&a, aend, 1);
        y = hotkey_codec_pct_next(&b, bend, 1);
    } while (x == y && x >= 0);

    return x - y;
}


static hotkey_aksk_rc_e
hotkey_aksk_path(hotkey_aksk_out_t *o, const char *p, size_t len)
{
    const char  *end, *slash;

    end = p + len;

    for ( ;; ) {
        slash = memchr(p, '/', end - p);

        if (hotkey_aksk_encode(o, p, (slash ? slash : end) - p, 0) != 0) {
            return HOTKEY_AKSK_BAD_URI;
        }

        if (slash == NULL) {
            break;
        }

        hotkey_aksk_put(o, "/", 1);
        p = slash + 1;
    }

    if (o->last != '/') {
        hotkey_aksk_put(o, "/", 1);
    }

    return HOTKEY_AKSK_OK;
}


static hotkey_aksk_rc_e
hotkey_aksk_query(hotkey_aksk_out_t *o, const char *p, size_t len)
{
    int                   c;
    size_t                i, j, n;
    const char           *end, *amp, *eq, *s;
    hotkey_aksk_param_t   q[HOTKEY_AKSK_QUERY_MAX], t;

    n = 0;
    end = p + len;

    for ( /* void */ ; p < end; p = amp + 1) {
        amp = memchr(p, '&', end - p);
        if (amp == NULL) {
            amp = end;
        }

        if (amp == p) {
            continue;
        }

        for (s = p; (c = hotkey_codec_pct_next(&s, amp, 1)) >= 0; ) {
            /* void */
        }

        if (c != HOTKEY_PCT_END) {
            return HOTKEY_AKSK_BAD_URI;
        }

        if (n == HOTKEY_AKSK_QUERY_MAX) {
            return HOTKEY_AKSK_TOO_LARGE;
        }

        eq = memchr(p, '=', amp - p);
        q[n].name = p;
        q[n].name_len = (eq ? eq : amp) - p;
        q[n].value = eq ? eq + 1 : amp;
        q[n].value_len = eq ? (size_t) (amp - eq - 1) : 0;

        /* insertion sort: by name, then by value */

        t = q[n];

        for (i = n; i > 0; i--) {
            c = hotkey_aksk_cmp(q[i - 1].name, q[i - 1].name_len,
                                t.name, t.name_len);
            if (c == 0) {
                c = hotkey_aksk_cmp(q[i - 1].value, q[i - 1].value_len,
                                    t.value, t.value_len);
            }

            if (c <= 0) {
                break;
            }

            q[i] = q[i - 1];
        }

        q[i] = t;
        n++;
    }

    for (j = 0; j < n; j++) {
        if (j) {
            hotkey_aksk_put(o, "&", 1);
        }

        (void) hotkey_aksk_encode(o, q[j].name, q[j].name_len, 1);
        hotkey_aksk_put(o, "=", 1);
        (void) hotkey_aksk_encode(o, q[j].value, q[j].value_len, 1);
    }

    return HOTKEY_AKSK_OK;
}


static hotkey_aksk_rc_e
hotkey_aksk_split_signed(const char *p, size_t len, hotkey_aksk_span_t *names,
    size_t *n)
{
    size_t       i;
    const char  *end, *semi, *s;

    *n = 0;
    end = p + len;

    for ( ;; ) {
        semi = memchr(p, ';', end - p);
        if (semi == NULL) {
            semi = end;
        }

        if (semi == p || *n == HOTKEY_AKSK_SIGNED_MAX) {
            return HOTKEY_AKSK_MALFORMED;
        }

        for (s = p; s < semi; s++) {
            if (*s <= ' ' || *s >= 0x7f || *s == ':') {
                return HOTKEY_AKSK_MALFORMED;
            }
        }

        for (i = 0; i < *n; i++) {
            if (hotkey_aksk_ieq(names[i].p, names[i].len, p, semi - p)) {
                return HOTKEY_AKSK_MALFORMED;
            }
        }

        names[*n].p = p;
        names[*n].len = semi - p;
        (*n)++;

        if (semi == end) {
            return HOTKEY_AKSK_OK;
        }

        p = semi + 1;
    }
}


static hotkey_aksk_rc_e
hotkey_aksk_headers(hotkey_aksk_out_t *o, const hotkey_aksk_request_t *r,
    hotkey_aksk_span_t *names, size_t n)
{
    int          count;
    char         c;
    size_t       i, j, vlen;
    const char  *v;

    for (i = 0; i < n; i++) {
        count = hotkey_aksk_find(r, names[i].p, names[i].len, &v, &vlen);

        if (count != 1) {
            return count ? HOTKEY_AKSK_HEADER_REPEATED
                         : HOTKEY_AKSK_HEADER_MISSING;
        }

        for (j = 0; j < names[i].len; j++) {
            c = hotkey_aksk_lower(names[i].p[j]);
            hotkey_aksk_put(o, &c, 1);
        }

        hotkey_aksk_put(o, ":", 1);
        hotkey_aksk_put(o, v, vlen);
        hotkey_aksk_put(o, "\n", 1);
    }

    hotkey_aksk_put(o, "\n", 1);

    for (i = 0; i < n; i++) {
        if (i) {
            hotkey_aksk_put(o, ";", 1);
        }

        for (j = 0; j < names[i].len; j++) {
            c = hotkey_aksk_lower(names[i].p[j]);
            hotkey_aksk_put(o, &c, 1);
        }
    }

    hotkey_aksk_put(o, "\n", 1);

    return HOTKEY_AKSK_OK;
}


hotkey_aksk_rc_e
hotkey_aksk_canonical_request(const hotkey_aksk_request_t *r, hotkey_md_e md,
    const char *signed_headers, size_t signed_len, char *buf, size_t size,
    size_t *len)
{
    size_t              i, n, vlen, hlen;
    const char         *v, *payload, *header;
    hotkey_aksk_rc_e    rc;
    hotkey_aksk_out_t   o = { buf, size, 0, 0 };
    hotkey_aksk_span_t  names[HOTKEY_AKSK_SIGNED_MAX];

    *len = 0;

    rc = hotkey_aksk_split_signed(signed_headers, signed_len, names, &n);
    if (rc != HOTKEY_AKSK_OK) {
        return rc;
    }

    hotkey_aksk_put(&o, r->method, r->method_len);
    hotkey_aksk_put(&o, "\n", 1);

    rc = hotkey_aksk_path(&o, r->path, r->path_len);
    if (rc != HOTKEY_AKSK_OK) {
        return rc;
    }

    hotkey_aksk_put(&o, "\n", 1);

    /* no query: "", as NULL + 0 is undefined in C */

    rc = hotkey_aksk_query(&o, r->query ? r->query : "",
                           r->query ? r->query_len : 0);
    if (rc != HOTKEY_AKSK_OK) {
        return rc;
    }

    hotkey_aksk_put(&o, "\n", 1);

    rc = hotkey_aksk_headers(&o, r, names, n);
    if (rc != HOTKEY_AKSK_OK) {
        return rc;
    }

    /* the SDKs send a signed "X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD" */

    payload = r->body_hash ? r->body_hash
                           : md == HOTKEY_MD_SM3 ? HOTKEY_AKSK_EMPTY_SM3
                                                 : HOTKEY_AKSK_EMPTY_SHA256;
    header = md == HOTKEY_MD_SM3 ? "x-sdk-content-sm3"
                                 : "x-sdk-content-sha256";
    hlen = strlen(header);

    for (i = 0; i < n; i++) {
        if (hotkey_aksk_ieq(names[i].p, names[i].len, header, hlen)
            && hotkey_aksk_find(r, names[i].p, names[i].len, &v, &vlen) == 1
            && vlen == 16 && memcmp(v, "UNSIGNED-PAYLOAD", 16) == 0)
        {
            payload = "UNSIGNED-PAYLOAD";
        }
    }

    hotkey_aksk_put(&o, payload, strlen(payload));

    *len = o.len;

    return o.len <= size ? HOTKEY_AKSK_OK : HOTKEY_AKSK_TOO_LARGE;
}


size_t
hotkey_aksk_string_to_sign(hotkey_aksk_scheme_e s, const char *date,
    size_t date_len, const char *scope, size_t scope_len,
    const char *canonical, size_t canonical_len, char *sts)
{
    size_t         n;
    const char    *name;
    unsigned char  md[HOTKEY_MD_LEN];

    name = hotkey_akscheme_name(s);
    n = strlen(name);

    if (date_len > HOTKEY_AKSK_DATE_LEN || scope_len > HOTKEY_AKSK_SCOPE_MAX
        || hotkey_digest(hotkey_akscheme_md(s), canonical, canonical_len, md)
           != 0)
    {
        return 0;
    }

    memcpy(sts, name, n);
    sts[n++] = '\n';
    memcpy(sts + n, date, date_len);
    n += date_len;
    sts[n++] = '\n';

    if (scope_len) {
        memcpy(sts + n, scope, scope_len);
        n += scope_len;
        sts[n++] = '\n';
    }

    hotkey_codec_hex(md, sizeof(md), sts + n);

    return n + 2 * sizeof(md);
}


int
hotkey_aksk_sign(hotkey_aksk_scheme_e s, const char *ak, size_t ak_len,
    const char *sk, size_t sk_len, const char *date, size_t date_len,
    const char *scope, size_t scope_len, const char *canonical,
    size_t canonical_len, char *sig)
{
    int            rc;
    char           sts[HOTKEY_AKSK_STS_MAX + 1];
    char           key[HOTKEY_AKSK_V11_KEY_LEN + 1];
    size_t         n;
    unsigned char  mac[HOTKEY_MD_LEN];

    if (s > HOTKEY_AKSK_V11_HMAC_SHA256) {
        return -1;
    }

    if (s != HOTKEY_AKSK_V11_HMAC_SHA256) {
        scope_len = 0;
    }

    n = hotkey_aksk_string_to_sign(s, date, date_len, scope, scope_len,
                                   canonical, canonical_len, sts);
    if (n == 0) {
        return -1;
    }

    if (s == HOTKEY_AKSK_V11_HMAC_SHA256) {
        rc = hotkey_akkey_v11(ak, ak_len, sk, sk_len, scope, scope_len, key);
        sk = key;
        sk_len = HOTKEY_AKSK_V11_KEY_LEN;

    } else {
        rc = 0;
    }

    if (rc == 0) {
        rc = hotkey_hmac(hotkey_akscheme_md(s), sk, sk_len, sts, n, mac);
    }

    if (rc == 0) {
        hotkey_codec_hex(mac, sizeof(mac), sig);
    }

    OPENSSL_cleanse(key, sizeof(key));

    return rc;
}


static hotkey_aksk_rc_e
hotkey_aksk_check_scope(const hotkey_aksk_auth_t *a, const hotkey_cred_t *c,
    const char *date)
{
    size_t       rlen, slen;
    const char  *region, *service;

    if (a->scheme != HOTKEY_AKSK_V11_HMAC_SHA256) {
        return HOTKEY_AKSK_OK;
    }

    /* checked by hotkey_aksk_scope_ok: "YYYYMMDD/region/service" */

    region = a->scope + 9;
    service = (const char *) memchr(region, '/', a->scope_len - 9) + 1;
    rlen = service - 1 - region;
    slen = a->scope + a->scope_len - service;

    if (memcmp(a->scope, date, 8) != 0
        || (c->region[0] && (strlen(c->region) != rlen
                             || memcmp(c->region, region, rlen) != 0))
        || (c->service[0] && (strlen(c->service) != slen
                              || memcmp(c->service, service, slen) != 0)))
    {
        return HOTKEY_AKSK_BAD_SCOPE;
    }

    return HOTKEY_AKSK_OK;
}


static hotkey_aksk_rc_e
hotkey_aksk_check_sig(const hotkey_aksk_auth_t *a, const hotkey_cred_t *c,
    const char *sts, size_t sts_len)
{
    int                rc;
    char               key[HOTKEY_AKSK_V11_KEY_LEN + 1];
    size_t             i;
    unsigned char      mac[HOTKEY_MD_LEN];
    hotkey_aksk_rc_e   res;
    hotkey_hmac_key_t  k;

    switch (a->scheme) {

    case HOTKEY_AKSK_HMAC_SHA256:
    case HOTKEY_AKSK_HMAC_SM3:
        rc = hotkey_hmac_with(&c->keys.hmac[hotkey_akscheme_md(a->scheme)],
                              sts, sts_len, mac);
        break;

    case HOTKEY_AKSK_V11_HMAC_SHA256:
        rc = hotkey_akkey_v11(c->ak, c->ak_len, c->sk, c->sk_len, a->scope,
                              a->scope_len, key);
        if (rc == 0) {
            rc = hotkey_hmac_key_init(&k, HOTKEY_MD_SHA256, key,
                                      HOTKEY_AKSK_V11_KEY_LEN);
        }

        if (rc == 0) {
            rc = hotkey_hmac_with(&k, sts, sts_len, mac);
            hotkey_hmac_key_free(&k);
        }

        OPENSSL_cleanse(key, sizeof(key));
        break;

    case HOTKEY_AKSK_ECDSA_P256_SHA256:
        return hotkey_aksk_check_asym(c->keys.p256, NULL, a->sig,
                                      a->sig_len, sts, sts_len);

    default:
        res = HOTKEY_AKSK_MISMATCH;

        for (i = 0; i < c->keys.nza && res == HOTKEY_AKSK_MISMATCH; i++) {
            res = hotkey_aksk_check_asym(c->keys.sm2, c->keys.za[i], a->sig,
                                         a->sig_len, sts, sts_len);
        }

        return res;
    }

    if (rc != 0) {
        return HOTKEY_AKSK_INTERNAL;
    }

    return CRYPTO_memcmp(a->sig, mac, sizeof(mac)) == 0
           ? HOTKEY_AKSK_OK : HOTKEY_AKSK_MISMATCH;
}


/* ECDSA over SHA-256(sts); SM2 over SM3(Z || sts), with Z given */

static hotkey_aksk_rc_e
hotkey_aksk_check_asym(EVP_PKEY *pkey, const unsigned char *za,
    const unsigned char *sig, size_t sig_len, const char *sts,
    size_t sts_len)
{
    int            rc;
    EVP_MD_CTX    *md;
    EVP_PKEY_CTX  *ctx;
    unsigned char  e[HOTKEY_MD_LEN];

    if (pkey == NULL) {
        return HOTKEY_AKSK_INTERNAL;
    }

    md = hotkey_digest_begin(za ? HOTKEY_MD_SM3 : HOTKEY_MD_SHA256);

    if ((za && hotkey_digest_update(md, za, HOTKEY_MD_LEN) != 0)
        || hotkey_digest_update(md, sts, sts_len) != 0)
    {
        EVP_MD_CTX_free(md);
        return HOTKEY_AKSK_INTERNAL;
    }

    if (hotkey_digest_end(md, e) != 0) {
        return HOTKEY_AKSK_INTERNAL;
    }

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx == NULL) {
        return HOTKEY_AKSK_INTERNAL;
    }

    rc = EVP_PKEY_verify_init(ctx);
    if (rc == 1) {
        rc = EVP_PKEY_verify(ctx, sig, sig_len, e, sizeof(e));
    }

    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();

    return rc == 1 ? HOTKEY_AKSK_OK : HOTKEY_AKSK_MISMATCH;
}


/*
 * The checks before the signature: the Authorization value, x-sdk-date
 * signed, sent once, well formed and fresh, the access key known, its
 * scheme allowed, V11's scope.  ck gets what they found.
 */

static hotkey_aksk_rc_e
hotkey_aksk_check_request(const hotkey_aksk_request_t *r, const char *auth,
    size_t auth_len, const hotkey_creds_t *creds, time_t now, time_t skew,
    hotkey_aksk_check_t *ck)
{
    int               count;
    size_t            i;
    hotkey_aksk_rc_e  rc;

    rc = hotkey_aksk_parse_auth(auth, auth_len, &ck->a);
    if (rc != HOTKEY_AKSK_OK) {
        return rc;
    }

    if (hotkey_aksk_split_signed(ck->a.signed_headers,
                                 ck->a.signed_headers_len, ck->names, &ck->n)
        != HOTKEY_AKSK_OK)
    {
        return HOTKEY_AKSK_MALFORMED;
    }

    for (i = 0; i < ck->n; i++) {
        if (hotkey_aksk_ieq(ck->names[i].p, ck->names[i].len, "x-sdk-date",
                            10))
        {
            break;
        }
    }

    if (i == ck->n) {
        return HOTKEY_AKSK_DATE_UNSIGNED;
    }

    count = hotkey_aksk_find(r, "x-sdk-date", 10, &ck->date, &ck->date_len);
    if (count != 1) {
        return count ? HOTKEY_AKSK_HEADER_REPEATED : HOTKEY_AKSK_HEADER_MISSING;
    }

    if (hotkey_aksk_parse_date(ck->date, ck->date_len, &ck->t) != 0) {
        return HOTKEY_AKSK_BAD_DATE;
    }

    if (!hotkey_aksk_date_fresh(ck->t, now, skew)) {
        return HOTKEY_AKSK_EXPIRED;
    }

    ck->cred = hotkey_creds_find(creds, ck->a.access, ck->a.access_len);
    if (ck->cred == NULL) {
        return HOTKEY_AKSK_UNKNOWN_AK;
    }

    if (!(ck->cred->schemes & (1u << ck->a.scheme))) {
        return HOTKEY_AKSK_NOT_ALLOWED;
    }

    return hotkey_aksk_check_scope(&ck->a, ck->cred, ck->date);
}


/* a part of the cache key: its length, then its bytes */

static void
hotkey_aksk_field(hotkey_aksk_out_t *o, const char *p, size_t n)
{
    uint32_t  len;

    len = (uint32_t) n;
    hotkey_aksk_put(o, (const char *) &len, sizeof(len));
    hotkey_aksk_put(o, p, n);
}


/*
 * The cache key's second part: what the canonical request is made of,
 * as sent (the Authorization value, the first part, holds the signed
 * header names and the scheme): the method, the path, the query (or
 * none), the value of each signed header in the order signed, the body
 * hash (or none), each with its length.  The same parts make the same
 * canonical request.  -1 when a signed header is missing or repeated,
 * or it is too long: then the request is checked without the cache.
 */

static int
hotkey_aksk_material(const hotkey_aksk_request_t *r,
    const hotkey_aksk_check_t *ck, char *buf, size_t size, size_t *len)
{
    size_t              i, vlen;
    const char         *v;
    hotkey_aksk_out_t   o = { buf, size, 0, 0 };

    hotkey_aksk_field(&o, r->method, r->method_len);
    hotkey_aksk_field(&o, r->path, r->path_len);
    hotkey_aksk_put(&o, r->query ? "q" : "-", 1);
    hotkey_aksk_field(&o, r->query ? r->query : "", r->query_len);

    for (i = 0; i < ck->n; i++) {
        if (hotkey_aksk_find(r, ck->names[i].p, ck->names[i].len, &v, &vlen)
            != 1)
        {
            return -1;
        }

        hotkey_aksk_field(&o, v, vlen);
    }

    hotkey_aksk_put(&o, r->body_hash ? "b" : "-", 1);
    hotkey_aksk_field(&o, r->body_hash ? r->body_hash : "",
                      r->body_hash ? strlen(r->body_hash) : 0);

    *len = o.len;

    return o.len <= size ? 0 : -1;
}


/* the signature over the canonical request */

static hotkey_aksk_rc_e
hotkey_aksk_check_signed(const hotkey_aksk_request_t *r,
    const hotkey_aksk_check_t *ck)
{
    char              canon[HOTKEY_AKSK_CANON_MAX];
    char              sts[HOTKEY_AKSK_STS_MAX + 1];
    size_t            n, clen;
    hotkey_aksk_rc_e  rc;

    rc = hotkey_aksk_canonical_request(r, hotkey_akscheme_md(ck->a.scheme),
                                       ck->a.signed_headers,
                                       ck->a.signed_headers_len, canon,
                                       sizeof(canon), &clen);
    if (rc != HOTKEY_AKSK_OK) {
        return rc;
    }

    n = hotkey_aksk_string_to_sign(ck->a.scheme, ck->date, ck->date_len,
                                   ck->a.scope, ck->a.scope_len, canon, clen,
                                   sts);
    if (n == 0) {
        return HOTKEY_AKSK_INTERNAL;
    }

    return hotkey_aksk_check_sig(&ck->a, ck->cred, sts, n);
}


hotkey_aksk_rc_e
hotkey_aksk_verify(const hotkey_aksk_request_t *r, const char *auth,
    size_t auth_len, const hotkey_creds_t *creds, time_t now, time_t skew,
    hotkey_vcache_t *cache, const hotkey_cred_t **cred)
{
    char                 mat[HOTKEY_AKSK_CACHE_KEY_MAX];
    size_t               mlen = 0;
    hotkey_vkey_t        key;
    hotkey_aksk_rc_e     rc;
    hotkey_aksk_check_t  ck;

    *cred = NULL;

    rc = hotkey_aksk_check_request(r, auth, auth_len, creds, now, skew, &ck);
    if (rc != HOTKEY_AKSK_OK) {
        return rc;
    }

    if (cache && hotkey_aksk_material(r, &ck, mat, sizeof(mat), &mlen) != 0)
    {
        cache = NULL;
    }

    key.a = auth;
    key.alen = auth_len;
    key.b = mat;
    key.blen = mlen;

    if (cache == NULL || !hotkey_vcache_get(cache, &key, now, NULL)) {
        rc = hotkey_aksk_check_signed(r, &ck);
        if (rc != HOTKEY_AKSK_OK) {
            return rc;
        }

        /* kept while the date could still be fresh for this skew */

        if (cache) {
            (void) hotkey_vcache_put(cache, &key, now, ck.t - skew,
                                     ck.t + skew + 1, NULL);
        }
    }

    *cred = ck.cred;

    return HOTKEY_AKSK_OK;
}


hotkey_vcache_t *
hotkey_aksk_cache_create(size_t capacity)
{
    return hotkey_vcache_create(capacity ? capacity
                                         : HOTKEY_AKSK_CACHE_DEFAULT,
                                0, HOTKEY_AKSK_CACHE_KEY_MAX);
}
