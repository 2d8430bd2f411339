/*
 * Verified tokens by SHA-256, in fixed memory.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hotkey_tokcache.h"
#include "hotkey_digest.h"


#define HOTKEY_TOKCACHE_WAYS  8


typedef struct {
    unsigned char        key[HOTKEY_SHA256_LEN];
    uint64_t             stamp;         /* 0: free */
    time_t               from;
    hotkey_jwt_claims_t  claims;
} hotkey_tokcache_entry_t;

struct hotkey_tokcache_s {
    hotkey_tokcache_entry_t  *entries;
    size_t                    sets;
    uint64_t                  clock;
};


static hotkey_tokcache_entry_t *hotkey_tokcache_set(hotkey_tokcache_t *tc,
    const char *token, size_t len, unsigned char *key);
static int hotkey_tokcache_live(const hotkey_tokcache_entry_t *e,
    time_t now);


hotkey_tokcache_t *
hotkey_tokcache_create(size_t capacity)
{
    hotkey_tokcache_t  *tc;

    if (capacity == 0) {
        capacity = HOTKEY_TOKCACHE_DEFAULT;
    }

    tc = calloc(1, sizeof(hotkey_tokcache_t));
    if (tc == NULL) {
        return NULL;
    }

    tc->sets = (capacity + HOTKEY_TOKCACHE_WAYS - 1) / HOTKEY_TOKCACHE_WAYS;
    tc->entries = calloc(tc->sets * HOTKEY_TOKCACHE_WAYS,
                         sizeof(hotkey_tokcache_entry_t));

    if (tc->entries == NULL) {
        free(tc);
        return NULL;
    }

    return tc;
}


void
hotkey_tokcache_free(hotkey_tokcache_t *tc)
{
    if (tc) {
        free(tc->entries);
        free(tc);
    }
}


/* the first entry of the token's set; NULL when hashing failed (a miss) */

static hotkey_tokcache_entry_t *
hotkey_tokcache_set(hotkey_tokcache_t *tc, const char *token, size_t len,
    unsigned char *key)
{
    uint64_t  h;

    if (hotkey_sha256(token, len, key) != 0) {
        return NULL;
    }

    memcpy(&h, key, sizeof(h));

    return &tc->entries[(h % tc->sets) * HOTKEY_TOKCACHE_WAYS];
}


static int
hotkey_tokcache_live(const hotkey_tokcache_entry_t *e, time_t now)
{
    return e->stamp && now >= e->from && now < e->claims.exp;
}


int
hotkey_tokcache_get(hotkey_tokcache_t *tc, const char *token, size_t len,
    time_t now, hotkey_jwt_claims_t *claims)
{
    size_t                    i;
    unsigned char             key[HOTKEY_SHA256_LEN];
    hotkey_tokcache_entry_t  *e;

    e = hotkey_tokcache_set(tc, token, len, key);
    if (e == NULL) {
        return 0;
    }

    for (i = 0; i < HOTKEY_TOKCACHE_WAYS; i++, e++) {
        if (e->stamp == 0
            || CRYPTO_memcmp(e->key, key, sizeof(key)) != 0)
        {
            continue;
        }

        if (now >= e->claims.exp) {
            e->stamp = 0;
            return 0;
        }

        if (now < e->from) {
            return 0;
        }

        *claims = e->claims;
        return 1;
    }

    return 0;
}


void
hotkey_tokcache_put(hotkey_tokcache_t *tc, const char *token, size_t len,
    time_t now, const hotkey_jwt_claims_t *claims)
{
    size_t                    i;
    unsigned char             key[HOTKEY_SHA256_LEN];
    hotkey_tokcache_entry_t  *e, *victim;

    e = hotkey_tokcache_set(tc, token, len, key);
    if (e == NULL) {
        return;
    }

    victim = e;

    for (i = 0; i < HOTKEY_TOKCACHE_WAYS; i++, e++) {
        if (e->stamp && CRYPTO_memcmp(e->key, key, sizeof(key)) == 0) {
            victim = e;
            break;
        }

        if (now >= e->claims.exp) {
            e->stamp = 0;
        }

        if (e->stamp < victim->stamp) {
            victim = e;
        }
    }

    memcpy(victim->key, key, sizeof(key));
    victim->stamp = ++tc->clock;
    victim->claims = *claims;
    victim->from = claims->nbf > claims->iat ? claims->nbf : claims->iat;
}


size_t
hotkey_tokcache_count(const hotkey_tokcache_t *tc, time_t now)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < tc->sets * HOTKEY_TOKCACHE_WAYS; i++) {
        n += hotkey_tokcache_live(&tc->entries[i], now);
    }

    return n;
}
