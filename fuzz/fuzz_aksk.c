/*
 * Fuzz target: the AK/SK Authorization parser (every scheme, V11's
 * Credential scope included), the canonical request and the whole check;
 * and the whole input as a credentials file.  The input is split on '\n':
 *
 *   line 1   the Authorization value
 *   line 2   the method
 *   line 3   the raw path
 *   line 4   "?query" (the query, possibly empty) or anything else (none)
 *   line 5+  request headers "Name: value" (no ':' -> an empty value)
 *
 * Every field is copied into its own heap block of exactly its size, so
 * that a read past a field's end is caught by ASan.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotkey_aksk.h"
#include "hotkey_creds.h"


#define FUZZ_NOW       1700000000
#define FUZZ_HEADERS   40
#define FUZZ_FIELDS    (4 + FUZZ_HEADERS)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const char  fuzz_creds_text[] =
    "AKTEST0123456789 fuzz-secret-key projects=* actions=*\n"
    "AKOTHER c2VjcmV0 projects=0123456789abcdef0123456789abcdef"
    " actions=dcs:instance:listHotKey name=other rate=5r/s burst=2\n"
    "AKV11 v11-secret projects=* actions=* schemes=V11-HMAC-SHA256"
    " region=cn-north-4 service=dcs\n"
    "AKASYM asym-secret projects=* actions=*"
    " schemes=SDK-ECDSA-P256-SHA256,SDK-SM2-SM3\n";

static hotkey_creds_t   *fuzz_creds;
static hotkey_vcache_t  *fuzz_cache;


static char *
fuzz_dup(const char *p, size_t n)
{
    char  *d;

    d = malloc(n ? n : 1);
    if (d == NULL) {
        abort();
    }

    memcpy(d, p, n);

    return d;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                   *field[FUZZ_FIELDS], *canon, date[17];
    size_t                  flen[FUZZ_FIELDS], nf, i, len, len2, small;
    time_t                  t, now;
    const char             *p, *end, *nl, *colon;
    hotkey_md_e             md;
    hotkey_aksk_rc_e        rc, rc2;
    hotkey_aksk_auth_t      auth;
    hotkey_aksk_request_t   r;
    hotkey_aksk_header_t    h[FUZZ_HEADERS];
    const hotkey_cred_t    *cred, *cred2;
    char                    err[256];

    if (fuzz_creds == NULL) {
        fuzz_creds = hotkey_creds_parse(fuzz_creds_text,
                                        sizeof(fuzz_creds_text) - 1,
                                        "fuzz-creds", err, sizeof(err));
        if (fuzz_creds == NULL) {
            fprintf(stderr, "fuzz_aksk: credentials: %s\n", err);
            abort();
        }

        fuzz_cache = hotkey_aksk_cache_create(64);
    }

    p = (const char *) data;
    end = p + size;

    for (nf = 0; nf < FUZZ_FIELDS && p <= end; nf++) {
        nl = memchr(p, '\n', end - p);
        if (nl == NULL) {
            nl = end;
        }

        flen[nf] = nl - p;
        field[nf] = fuzz_dup(p, flen[nf]);
        p = nl + 1;
    }

    while (nf < 4) {
        flen[nf] = 0;
        field[nf++] = fuzz_dup("", 0);
    }

    memset(&r, 0, sizeof(r));
    r.method = field[1];
    r.method_len = flen[1];
    r.path = field[2];
    r.path_len = flen[2];

    if (flen[3] && field[3][0] == '?') {
        r.query = field[3] + 1;
        r.query_len = flen[3] - 1;
    }

    now = FUZZ_NOW;

    for (i = 4; i < nf; i++) {
        colon = memchr(field[i], ':', flen[i]);

        h[i - 4].name = field[i];
        h[i - 4].name_len = colon ? (size_t) (colon - field[i]) : flen[i];
        h[i - 4].value = colon ? colon + 1 : field[i] + flen[i];
        h[i - 4].value_len = colon ? flen[i] - h[i - 4].name_len - 1 : 0;

        if (h[i - 4].name_len == 10
            && strncasecmp(h[i - 4].name, "x-sdk-date", 10) == 0)
        {
            /* let the check get past the freshness test */
            p = h[i - 4].value;
            len = h[i - 4].value_len;

            while (len && (*p == ' ' || *p == '\t')) {
                p++;
                len--;
            }

            while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
                len--;
            }

            if (hotkey_aksk_parse_date(p, len, &t) == 0) {
                now = t;
                hotkey_aksk_format_date(t, date);
                if (t < 253402300800 && memcmp(date, p, 16) != 0) {
                    abort();    /* parse and format disagree */
                }
            }
        }
    }

    r.headers = h;
    r.nheaders = nf - 4;
    rc = hotkey_aksk_parse_auth(field[0], flen[0], &auth);
    md = rc == HOTKEY_AKSK_OK ? hotkey_akscheme_md(auth.scheme)
                              : HOTKEY_MD_SHA256;
    r.body_hash = (size & 1) ? NULL
                  : md == HOTKEY_MD_SM3 ? HOTKEY_AKSK_EMPTY_SM3
                                        : HOTKEY_AKSK_EMPTY_SHA256;

    if (rc == HOTKEY_AKSK_OK) {
        canon = malloc(HOTKEY_AKSK_CANON_MAX);
        if (canon == NULL) {
            abort();
        }

        rc = hotkey_aksk_canonical_request(&r, md, auth.signed_headers,
                                           auth.signed_headers_len, canon,
                                           HOTKEY_AKSK_CANON_MAX, &len);
        free(canon);

        if (rc == HOTKEY_AKSK_OK || rc == HOTKEY_AKSK_TOO_LARGE) {
            /* again into a heap block too small by a few bytes */
            small = len > 7 ? len - 7 : 0;
            canon = malloc(small ? small : 1);
            if (canon == NULL) {
                abort();
            }

            rc2 = hotkey_aksk_canonical_request(&r, md,
                                                auth.signed_headers,
                                                auth.signed_headers_len,
                                                canon, small, &len2);
            free(canon);

            if (len2 != len || (small < len && rc2 != HOTKEY_AKSK_TOO_LARGE)) {
                abort();
            }
        }
    }

    cred = NULL;
    rc = hotkey_aksk_verify(&r, field[0], flen[0], fuzz_creds, now,
                            HOTKEY_AKSK_SKEW_DEFAULT, NULL, &cred);

    if ((rc == HOTKEY_AKSK_OK) != (cred != NULL)) {
        abort();
    }

    /* through the cache of verified requests: the same answer, twice */

    for (i = 0; i < 2; i++) {
        if (hotkey_aksk_verify(&r, field[0], flen[0], fuzz_creds, now,
                               HOTKEY_AKSK_SKEW_DEFAULT, fuzz_cache, &cred2)
            != rc || cred2 != cred)
        {
            abort();
        }
    }

    (void) strlen(hotkey_aksk_reason(rc));

    /* the whole input as a credentials file */

    hotkey_creds_free(hotkey_creds_parse((const char *) data, size, "fuzz",
                                         err, sizeof(err)));

    for (i = 0; i < nf; i++) {
        free(field[i]);
    }

    return 0;
}
