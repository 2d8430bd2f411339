/*
 * Verified tokens: a cache of hotkey_vcache.h keyed by the whole token,
 * holding its claims.
 */

#include "hotkey_tokcache.h"


hotkey_tokcache_t *
hotkey_tokcache_create(size_t capacity)
{
    if (capacity == 0) {
        capacity = HOTKEY_TOKCACHE_DEFAULT;
    }

    return hotkey_vcache_create(capacity, sizeof(hotkey_jwt_claims_t),
                                HOTKEY_JWT_TOKEN_MAX);
}


void
hotkey_tokcache_free(hotkey_tokcache_t *tc)
{
    hotkey_vcache_free(tc);
}


int
hotkey_tokcache_get(hotkey_tokcache_t *tc, const char *token, size_t len,
    time_t now, hotkey_jwt_claims_t *claims)
{
    hotkey_vkey_t  k = { token, len, NULL, 0 };

    return hotkey_vcache_get(tc, &k, now, claims);
}


/* served from max(nbf, iat) until exp, whatever leeway verified it */

void
hotkey_tokcache_put(hotkey_tokcache_t *tc, const char *token, size_t len,
    time_t now, const hotkey_jwt_claims_t *claims)
{
    time_t         from;
    hotkey_vkey_t  k = { token, len, NULL, 0 };

    from = claims->nbf > claims->iat ? claims->nbf : claims->iat;

    (void) hotkey_vcache_put(tc, &k, now, from, claims->exp, claims);
}


size_t
hotkey_tokcache_count(const hotkey_tokcache_t *tc, time_t now)
{
    return hotkey_vcache_count(tc, now);
}
