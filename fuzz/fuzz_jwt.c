/*
 * Fuzz target: hotkey_jwt_verify on the input as an X-Auth-Token, with a
 * fixed key set built once: an HS256 secret (kid "hs1") and an EC P-256
 * key (kid "ec1"; its private half is fuzz/keys/ec-test.pem, which
 * fuzz/mkcorpus.sh uses to mint the seed tokens).
 *
 * The fuzzer cannot forge signatures, so the claims would only be parsed
 * for the seeds.  An input "SIGN:<header JSON>\n<payload JSON>" is made
 * into a token signed with the HS256 key first, so that hotkey_jwt_part
 * and the claim checks of the payload are fuzzed too.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotkey_codec.h"
#include "hotkey_digest.h"
#include "hotkey_jwt.h"


#define FUZZ_NOW     1700000000     /* the seeds are minted for this time */
#define FUZZ_LEEWAY  30


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const char  fuzz_jwks[] =
    "{\"keys\":["
    "{\"kty\":\"oct\",\"kid\":\"hs1\",\"alg\":\"HS256\","
    "\"k\":\"ZnV6ei10ZXN0LWhzMjU2LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec1\",\"alg\":\"ES256\","
    "\"x\":\"QmzfpieV6fWrAp_XyOBGuxlCjgElWoFmYx9F3-QZpIE\","
    "\"y\":\"vwSsheHbS-3jJ6mcI0EFdXEfQGcrmnQ7aHS3fR9KroY\"}"
    "]}";

static const char  fuzz_secret[] = "fuzz-test-hs256-secret-0123456789abcdef";

static hotkey_keyset_t  *fuzz_ks;


/* "SIGN:" header "\n" payload -> a malloc()ed HS256 token, or NULL */

static char *
fuzz_sign(const uint8_t *data, size_t size, size_t *len)
{
    char           *tok, *p;
    size_t          hlen, plen, mlen;
    const uint8_t  *nl;
    unsigned char   mac[HOTKEY_SHA256_LEN];

    if (size < 5 || memcmp(data, "SIGN:", 5) != 0) {
        return NULL;
    }

    data += 5;
    size -= 5;

    nl = memchr(data, '\n', size);
    if (nl == NULL || size > HOTKEY_JWT_TOKEN_MAX) {
        return NULL;
    }

    hlen = nl - data;
    plen = size - hlen - 1;

    tok = malloc(hotkey_codec_b64url_len(hlen) + hotkey_codec_b64url_len(plen)
                 + hotkey_codec_b64url_len(32) + 3);
    if (tok == NULL) {
        return NULL;
    }

    p = tok;
    hotkey_codec_b64url_encode(data, hlen, p);
    p += hotkey_codec_b64url_len(hlen);
    *p++ = '.';
    hotkey_codec_b64url_encode(nl + 1, plen, p);
    p += hotkey_codec_b64url_len(plen);

    mlen = sizeof(mac);

    if (hotkey_hmac_sha256(fuzz_secret, sizeof(fuzz_secret) - 1, tok,
                           p - tok, mac) != 0)
    {
        free(tok);
        return NULL;
    }

    *p++ = '.';
    hotkey_codec_b64url_encode(mac, mlen, p);
    p += hotkey_codec_b64url_len(mlen);

    *len = p - tok;

    return tok;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                  err[256], *signed_tok;
    size_t                len;
    const char           *reason;
    hotkey_jwt_rc_e       rc;
    hotkey_jwt_claims_t   c;

    if (fuzz_ks == NULL) {
        fuzz_ks = hotkey_keyset_parse(fuzz_jwks, sizeof(fuzz_jwks) - 1,
                                      "fuzz-jwks", err, sizeof(err));
        if (fuzz_ks == NULL || hotkey_keyset_count(fuzz_ks) != 2) {
            fprintf(stderr, "fuzz_jwt: key set: %s\n", err);
            abort();
        }
    }

    signed_tok = fuzz_sign(data, size, &len);

    if (signed_tok) {
        data = (const uint8_t *) signed_tok;
        size = len;
    }

    reason = NULL;
    rc = hotkey_jwt_verify((const char *) data, size, fuzz_ks, FUZZ_NOW,
                           FUZZ_LEEWAY, &c, &reason);

    free(signed_tok);

    if (reason == NULL && rc != HOTKEY_JWT_OK) {
        abort();
    }

    if (rc == HOTKEY_JWT_OK) {
        /* claims are NUL-terminated and bounded */
        if (strlen(c.project_id) > HOTKEY_JWT_PROJECT_MAX
            || c.project_id[0] == '\0'
            || strlen(c.sub) > HOTKEY_JWT_SUB_MAX)
        {
            abort();
        }
    }

    return 0;
}
