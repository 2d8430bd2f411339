/*
 * Fuzz target: hotkey_jwt_verify on the input as an X-Auth-Token, with a
 * fixed key set built once: an HS256 secret (kid "hs1") and an EC P-256
 * key (kid "ec1"; its private half is fuzz/keys/ec-test.pem, which
 * fuzz/mkcorpus.sh uses to mint the seed tokens).
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static hotkey_keyset_t  *fuzz_ks;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                  err[256];
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

    reason = NULL;
    rc = hotkey_jwt_verify((const char *) data, size, fuzz_ks, FUZZ_NOW,
                           FUZZ_LEEWAY, &c, &reason);

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
