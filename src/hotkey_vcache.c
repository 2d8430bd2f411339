/*
 * Verification results by their exact key, 8-way set associative, in
 * fixed slots, each with its copy of the key.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "hotkey_vcache.h"


#define HOTKEY_VCACHE_MUL  0xbf58476d1ce4e5b9ULL


typedef struct {
    uint64_t        hash;
    uint64_t        stamp;          /* 0: free */
    time_t          from;
    time_t          until;
    size_t          alen;
    size_t          len;            /* alen + blen */
    size_t          size;           /* of key, kept for the next key */
    unsigned char  *key;            /* the pieces, one after the other */
} hotkey_vcache_entry_t;

struct hotkey_vcache_s {
    hotkey_vcache_entry_t  *entries;
    unsigned char          *values;
    size_t                  sets;
    size_t                  value_size;
    size_t                  key_max;
    uint64_t                seed;
    uint64_t                clock;
};


static uint64_t hotkey_vcache_seed(const hotkey_vcache_t *vc);
static uint64_t hotkey_vcache_mix(uint64_t h, uint64_t w);
static uint64_t hotkey_vcache_bytes(uint64_t h, const unsigned char *p,
    size_t n);
static uint64_t hotkey_vcache_hash(const hotkey_vcache_t *vc,
    const hotkey_vkey_t *k);
static uint64_t hotkey_vcache_diff(const unsigned char *x,
    const unsigned char *y, size_t n);
static int hotkey_vcache_same(const hotkey_vcache_entry_t *e,
    const hotkey_vkey_t *k, uint64_t hash);
static void hotkey_vcache_clear(hotkey_vcache_entry_t *e);
static void hotkey_vcache_drop(hotkey_vcache_entry_t *e);
static int hotkey_vcache_grow(hotkey_vcache_entry_t *e, size_t len);
static hotkey_vcache_entry_t *hotkey_vcache_victim(
    hotkey_vcache_entry_t *e, const hotkey_vkey_t *k, uint64_t hash,
    time_t now);


hotkey_vcache_t *
hotkey_vcache_create(size_t capacity, size_t value_size, size_t key_max)
{
    hotkey_vcache_t  *vc;

    vc = calloc(1, sizeof(hotkey_vcache_t));
    if (vc == NULL) {
        return NULL;
    }

    vc->sets = (capacity + HOTKEY_VCACHE_WAYS - 1) / HOTKEY_VCACHE_WAYS;
    vc->sets = vc->sets ? vc->sets : 1;
    vc->value_size = value_size;
    vc->key_max = key_max;
    vc->seed = hotkey_vcache_seed(vc);

    vc->entries = calloc(vc->sets * HOTKEY_VCACHE_WAYS,
                         sizeof(hotkey_vcache_entry_t));
    vc->values = value_size ? calloc(vc->sets * HOTKEY_VCACHE_WAYS,
                                     value_size)
                            : NULL;

    if (vc->entries == NULL || (value_size && vc->values == NULL)) {
        free(vc->entries);
        free(vc->values);
        free(vc);
        return NULL;
    }

    return vc;
}


void
hotkey_vcache_free(hotkey_vcache_t *vc)
{
    size_t  i;

    if (vc == NULL) {
        return;
    }

    for (i = 0; i < vc->sets * HOTKEY_VCACHE_WAYS; i++) {
        hotkey_vcache_drop(&vc->entries[i]);
    }

    if (vc->values) {
        explicit_bzero(vc->values,
                       vc->sets * HOTKEY_VCACHE_WAYS * vc->value_size);
    }

    free(vc->entries);
    free(vc->values);
    free(vc);
}


/* random when OpenSSL can; else what differs between processes */

static uint64_t
hotkey_vcache_seed(const hotkey_vcache_t *vc)
{
    uint64_t  s;

    if (RAND_bytes((unsigned char *) &s, sizeof(s)) == 1) {
        return s;
    }

    s = (uint64_t) time(NULL) ^ (uint64_t) getpid() << 32
        ^ (uint64_t) (uintptr_t) vc;

    return hotkey_vcache_mix(s, s >> 17);
}


static uint64_t
hotkey_vcache_mix(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= HOTKEY_VCACHE_MUL;
    h ^= h >> 31;

    return h;
}


/* eight bytes at a time, then the tail, then the length */

static uint64_t
hotkey_vcache_bytes(uint64_t h, const unsigned char *p, size_t n)
{
    size_t    len;
    uint64_t  w;

    for (len = n; n >= 8; n -= 8, p += 8) {
        memcpy(&w, p, 8);
        h = hotkey_vcache_mix(h, w);
    }

    if (n) {
        w = 0;
        memcpy(&w, p, n);
        h = hotkey_vcache_mix(h, w);
    }

    return hotkey_vcache_mix(h, len);
}


static uint64_t
hotkey_vcache_hash(const hotkey_vcache_t *vc, const hotkey_vkey_t *k)
{
    uint64_t  h;

    h = hotkey_vcache_bytes(vc->seed, k->a, k->alen);

    if (k->blen) {
        h = hotkey_vcache_bytes(h, k->b, k->blen);
    }

    /* the finaliser of splitmix64: every bit of h reaches the set */

    h ^= h >> 30;
    h *= HOTKEY_VCACHE_MUL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;

    return h;
}


/*
 * Nonzero when the n bytes differ: every byte is read and the result
 * only ORed, whatever the bytes are (CRYPTO_memcmp does the same a byte
 * at a time, an order of magnitude slower on a whole token).
 */

static uint64_t
hotkey_vcache_diff(const unsigned char *x, const unsigned char *y, size_t n)
{
    uint64_t  d, a, b;

    for (d = 0; n >= 8; n -= 8, x += 8, y += 8) {
        memcpy(&a, x, 8);
        memcpy(&b, y, 8);
        d |= a ^ b;
    }

    while (n--) {
        d |= *x++ ^ *y++;
    }

    return d;
}


static int
hotkey_vcache_same(const hotkey_vcache_entry_t *e, const hotkey_vkey_t *k,
    uint64_t hash)
{
    uint64_t  d;

    if (e->stamp == 0 || e->hash != hash || e->alen != k->alen
        || e->len != k->alen + k->blen)
    {
        return 0;
    }

    d = hotkey_vcache_diff(e->key, k->a, k->alen);

    if (k->blen) {
        d |= hotkey_vcache_diff(e->key + k->alen, k->b, k->blen);
    }

    return d == 0;
}


/*
 * wipes the key (explicit_bzero: a memset the compiler keeps, at
 * memset speed), keeps its memory for the next key of the slot
 */

static void
hotkey_vcache_clear(hotkey_vcache_entry_t *e)
{
    if (e->key) {
        explicit_bzero(e->key, e->len);
    }

    e->stamp = 0;
    e->hash = 0;
    e->len = 0;
    e->alen = 0;
}


static void
hotkey_vcache_drop(hotkey_vcache_entry_t *e)
{
    hotkey_vcache_clear(e);
    free(e->key);
    memset(e, 0, sizeof(hotkey_vcache_entry_t));
}


int
hotkey_vcache_get(hotkey_vcache_t *vc, const hotkey_vkey_t *k, time_t now,
    void *value)
{
    size_t                  i, set;
    uint64_t                h;
    hotkey_vcache_entry_t  *e;

    h = hotkey_vcache_hash(vc, k);
    set = (h % vc->sets) * HOTKEY_VCACHE_WAYS;
    e = &vc->entries[set];

    for (i = 0; i < HOTKEY_VCACHE_WAYS; i++, e++) {
        if (!hotkey_vcache_same(e, k, h)) {
            continue;
        }

        if (now >= e->until) {
            hotkey_vcache_clear(e);
            return 0;
        }

        if (now < e->from) {
            return 0;
        }

        if (value) {
            memcpy(value, vc->values + (set + i) * vc->value_size,
                   vc->value_size);
        }

        return 1;
    }

    return 0;
}


/* the key's own entry, else a free or dead one, else the oldest */

static hotkey_vcache_entry_t *
hotkey_vcache_victim(hotkey_vcache_entry_t *e, const hotkey_vkey_t *k,
    uint64_t hash, time_t now)
{
    size_t                  i;
    hotkey_vcache_entry_t  *victim;

    victim = e;

    for (i = 0; i < HOTKEY_VCACHE_WAYS; i++, e++) {
        if (hotkey_vcache_same(e, k, hash)) {
            return e;
        }

        if (e->stamp && now >= e->until) {
            hotkey_vcache_clear(e);
        }

        if (e->stamp < victim->stamp) {
            victim = e;
        }
    }

    return victim;
}


int
hotkey_vcache_put(hotkey_vcache_t *vc, const hotkey_vkey_t *k, time_t now,
    time_t from, time_t until, const void *value)
{
    size_t                  len;
    uint64_t                h;
    hotkey_vcache_entry_t  *e;

    len = k->alen + k->blen;

    if (len > vc->key_max || len < k->alen) {
        return -1;
    }

    h = hotkey_vcache_hash(vc, k);
    e = &vc->entries[(h % vc->sets) * HOTKEY_VCACHE_WAYS];
    e = hotkey_vcache_victim(e, k, h, now);

    hotkey_vcache_clear(e);

    if (e->size < len && hotkey_vcache_grow(e, len) != 0) {
        return -1;
    }

    memcpy(e->key, k->a, k->alen);

    if (k->blen) {
        memcpy(e->key + k->alen, k->b, k->blen);
    }

    e->hash = h;
    e->stamp = ++vc->clock;
    e->from = from;
    e->until = until;
    e->alen = k->alen;
    e->len = len;

    if (vc->value_size) {
        memcpy(vc->values + (e - vc->entries) * vc->value_size, value,
               vc->value_size);
    }

    return 0;
}


/* a slot's key memory, for len bytes at least (a free slot: none) */

static int
hotkey_vcache_grow(hotkey_vcache_entry_t *e, size_t len)
{
    size_t          size;
    unsigned char  *key;

    size = len < 256 ? 256 : len;

    key = malloc(size);
    if (key == NULL) {
        return -1;
    }

    free(e->key);
    e->key = key;
    e->size = size;

    return 0;
}


size_t
hotkey_vcache_count(const hotkey_vcache_t *vc, time_t now)
{
    size_t                        i, n;
    const hotkey_vcache_entry_t  *e;

    n = 0;

    for (i = 0; i < vc->sets * HOTKEY_VCACHE_WAYS; i++) {
        e = &vc->entries[i];
        n += e->stamp && now >= e->from && now < e->until;
    }

    return n;
}
