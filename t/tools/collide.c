/*
 * collide: 32-bit MurmurHash2 (seed 0, the variant of nginx's
 * ngx_murmur_hash2 in src/core/ngx_hash.c) of strings PREFIX<n>SUFFIX,
 * for the hash collision tests (t/lib/Hotkey/Attack.pm builds it).
 *
 *   collide find PREFIX SUFFIX [FROM]  -> "A B HASH": the first two numbers
 *                                         n >= FROM whose strings collide
 *   collide range PREFIX SUFFIX FROM TO -> "N HASH" per line
 *   collide str STRING...               -> "HASH" per line
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static uint32_t
murmur2(const unsigned char *p, size_t len)
{
    uint32_t  h, k;

    h = (uint32_t) len;

    for ( /* void */ ; len >= 4; p += 4, len -= 4) {
        k = (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
            | (uint32_t) p[3] << 24;
        k *= 0x5bd1e995;
        k ^= k >> 24;
        k *= 0x5bd1e995;
        h *= 0x5bd1e995;
        h ^= k;
    }

    if (len == 3) {
        h ^= (uint32_t) p[2] << 16;
    }

    if (len >= 2) {
        h ^= (uint32_t) p[1] << 8;
    }

    if (len >= 1) {
        h ^= p[0];
        h *= 0x5bd1e995;
    }

    h ^= h >> 13;
    h *= 0x5bd1e995;
    h ^= h >> 15;

    return h;
}


static uint32_t
hash_n(const char *pre, const char *suf, unsigned long n)
{
    char  buf[4096];
    int   len;

    len = snprintf(buf, sizeof(buf), "%s%lu%s", pre, n, suf);
    if (len < 0 || (size_t) len >= sizeof(buf)) {
        fprintf(stderr, "collide: string too long\n");
        exit(2);
    }

    return murmur2((const unsigned char *) buf, (size_t) len);
}


#define SLOTS  (1u << 23)           /* open addressing, 8M slots */
#define LIMIT  4000000ul            /* numbers tried at most */

int
main(int argc, char **argv)
{
    uint32_t       h, *hs;
    unsigned long  n, from, to, i, *ns;

    if (argc >= 4 && strcmp(argv[1], "find") == 0) {
        from = argc > 4 ? strtoul(argv[4], NULL, 10) : 0;
        hs = calloc(SLOTS, sizeof(uint32_t));
        ns = calloc(SLOTS, sizeof(unsigned long));
        if (hs == NULL || ns == NULL) {
            return 2;
        }

        for (n = from; n < from + LIMIT; n++) {
            h = hash_n(argv[2], argv[3], n);

            for (i = h & (SLOTS - 1); ns[i]; i = (i + 1) & (SLOTS - 1)) {
                if (hs[i] == h) {
                    printf("%lu %lu %u\n", ns[i] - 1, n, h);
                    return 0;
                }
            }

            hs[i] = h;
            ns[i] = n + 1;
        }

        return 1;
    }

    if (argc == 6 && strcmp(argv[1], "range") == 0) {
        from = strtoul(argv[4], NULL, 10);
        to = strtoul(argv[5], NULL, 10);
        for (n = from; n <= to; n++) {
            printf("%lu %u\n", n, hash_n(argv[2], argv[3], n));
        }
        return 0;
    }

    if (argc >= 3 && strcmp(argv[1], "str") == 0) {
        for (i = 2; i < (unsigned long) argc; i++) {
            printf("%u\n", murmur2((const unsigned char *) argv[i],
                                   strlen(argv[i])));
        }
        return 0;
    }

    fprintf(stderr, "usage: collide find|range|str ...\n");
    return 2;
}
