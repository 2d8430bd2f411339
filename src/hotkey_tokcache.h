/*
 * A bounded per-process cache of verified tokens, so that a client that
 * sends the same X-Auth-Token on every request costs one signature
 * check, not one per request.  Each nginx worker owns one (made on its
 * first token); it is not shared and not locked.
 *
 * It is a hotkey_vcache.h cache: entries are keyed by the whole token
 * (a copy, compared in constant time, wiped when dropped; tokens up to
 * HOTKEY_JWT_TOKEN_MAX) and served only while nbf <= now < exp (and
 * iat <= now): never past the token's own exp, whatever leeway the
 * verifier allowed.  8-way set associative; a full set evicts a dead
 * entry, else its oldest.
 */

#ifndef HOTKEY_TOKCACHE_H
#define HOTKEY_TOKCACHE_H

#include <stddef.h>
#include <time.h>

#include "hotkey_jwt.h"
#include "hotkey_vcache.h"

#define HOTKEY_TOKCACHE_DEFAULT  1024

/* a hotkey_vcache_t whose values are the claims */
typedef hotkey_vcache_t  hotkey_tokcache_t;

/* capacity in entries (rounded up to a multiple of 8); 0: the default */
hotkey_tokcache_t *hotkey_tokcache_create(size_t capacity);

void hotkey_tokcache_free(hotkey_tokcache_t *tc);

/* 1 and a copy of the claims on a hit, 0 on a miss */
int hotkey_tokcache_get(hotkey_tokcache_t *tc, const char *token,
    size_t len, time_t now, hotkey_jwt_claims_t *claims);

/*
 * Remembers a token that hotkey_jwt_verify() accepted, in place of a
 * free or dead entry of its set, else of the set's oldest.
 */
void hotkey_tokcache_put(hotkey_tokcache_t *tc, const char *token,
    size_t len, time_t now, const hotkey_jwt_claims_t *claims);

/* the number of live entries (for tests and metrics) */
size_t hotkey_tokcache_count(const hotkey_tokcache_t *tc, time_t now);

#endif
