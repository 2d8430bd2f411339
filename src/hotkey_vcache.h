/*
 * A bounded per-process cache of verification results, keyed by the
 * exact bytes that were verified: a whole X-Auth-Token, or an AK/SK
 * request's Authorization value and canonical request.  It spares a
 * request that repeats verified bytes its signature check, and only
 * that: whatever else the caller checks per request (a token's exp, a
 * date's skew, permissions) it still checks.
 *
 * A key is one or two byte strings; the two pieces are kept apart (a
 * key matches only with the same split).  A lookup picks one set of 8
 * entries with a hash seeded at random per cache (not a secret check:
 * it only spreads the entries), then compares the stored key with the
 * one asked for: lengths, and every byte in constant time (no early
 * exit, no branch on the bytes).  Entries hold a copy of the key (keys
 * can be bearer tokens: wiped when replaced or dropped; a slot keeps its
 * memory for the next key), a value of a fixed size, and the window
 * [from, until) in which they may be served; a full set evicts a free or
 * dead entry first, else its oldest.
 *
 * Each nginx worker makes its own on first use: not shared, not locked.
 */

#ifndef HOTKEY_VCACHE_H
#define HOTKEY_VCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HOTKEY_VCACHE_WAYS  8

typedef struct hotkey_vcache_s  hotkey_vcache_t;

typedef struct {
    const void  *a;             /* the first piece */
    size_t       alen;
    const void  *b;             /* the second piece, or NULL */
    size_t       blen;
} hotkey_vkey_t;

/*
 * capacity: entries (rounded up to a multiple of 8); value_size: bytes
 * of each entry's value (0: none); key_max: longer keys are not stored.
 * NULL when out of memory.
 */
hotkey_vcache_t *hotkey_vcache_create(size_t capacity, size_t value_size,
    size_t key_max);

/* wipes the keys and frees; NULL is fine */
void hotkey_vcache_free(hotkey_vcache_t *vc);

/*
 * 1 when an entry with exactly this key is live at now (from <= now <
 * until), its value copied into value (unless NULL); 0 otherwise.  An
 * entry found past its until is dropped.
 */
int hotkey_vcache_get(hotkey_vcache_t *vc, const hotkey_vkey_t *k,
    time_t now, void *value);

/*
 * Stores (or replaces) the key's entry, in place of a free or dead
 * entry of its set, else of the set's oldest.  0, or -1 when the key is
 * longer than key_max or memory is short (nothing stored).
 */
int hotkey_vcache_put(hotkey_vcache_t *vc, const hotkey_vkey_t *k,
    time_t now, time_t from, time_t until, const void *value);

/* the number of live entries at now (for tests and metrics) */
size_t hotkey_vcache_count(const hotkey_vcache_t *vc, time_t now);

#endif
