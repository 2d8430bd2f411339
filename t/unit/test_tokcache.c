/*
 * The per-process cache of verified tokens.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "hotkey_tokcache.h"


#define NOW  1700000000


static hotkey_jwt_claims_t
claims(time_t exp, time_t nbf, const char *project)
{
    hotkey_jwt_claims_t  c;

    memset(&c, 0, sizeof(c));
    snprintf(c.project_id, sizeof(c.project_id), "%s", project);
    c.exp = exp;
    c.nbf = nbf;
    c.iat = NOW - 10;
    c.actions = 1;

    return c;
}


static int
hit(hotkey_tokcache_t *tc, const char *token, time_t now)
{
    hotkey_jwt_claims_t  c;

    return hotkey_tokcache_get(tc, token, strlen(token), now, &c);
}


/*
 * In a child whose OpenSSL has only the null provider (no SHA-256, no
 * random bytes): the cache keys on the token itself and seeds its hash
 * without OpenSSL, so it still tells tokens apart exactly (they once
 * shared an all-zero key when SHA-256 failed).  The exit status is the
 * number of failures.
 */

static int
no_hash_child(void)
{
    int                   bad;
    FILE                 *f;
    char                  conf[] = "/tmp/hotkey-nullprov-XXXXXX";
    hotkey_tokcache_t    *tc;
    hotkey_jwt_claims_t   c, got;

    if (mkstemp(conf) < 0 || (f = fopen(conf, "w")) == NULL) {
        return 9;
    }

    fputs("openssl_conf = init\n[init]\nproviders = prov\n"
          "[prov]\nnull = nullp\n[nullp]\nactivate = 1\n", f);
    fclose(f);
    setenv("OPENSSL_CONF", conf, 1);

    tc = hotkey_tokcache_create(8);
    c = claims(NOW + 60, 0, "victim");
    hotkey_tokcache_put(tc, "token-a", 7, NOW, &c);

    bad = hotkey_tokcache_get(tc, "token-b", 7, NOW, &got);
    bad += !hotkey_tokcache_get(tc, "token-a", 7, NOW, &got);
    bad += strcmp(got.project_id, "victim") != 0;
    bad += hotkey_tokcache_count(tc, NOW) != 1;

    hotkey_tokcache_free(tc);
    unlink(conf);

    return bad;
}


static int
long_tokens(void)
{
    int                   bad;
    char                 *t;
    hotkey_tokcache_t    *tc;
    hotkey_jwt_claims_t   c, got;

    t = malloc(HOTKEY_JWT_TOKEN_MAX + 1);
    tc = hotkey_tokcache_create(8);
    if (t == NULL || tc == NULL) {
        return 1;
    }

    memset(t, 'x', HOTKEY_JWT_TOKEN_MAX + 1);
    c = claims(NOW + 60, 0, "long");
    hotkey_tokcache_put(tc, t, HOTKEY_JWT_TOKEN_MAX, NOW, &c);

    bad = !hotkey_tokcache_get(tc, t, HOTKEY_JWT_TOKEN_MAX, NOW, &got);
    t[HOTKEY_JWT_TOKEN_MAX - 1] = 'y';
    bad += hotkey_tokcache_get(tc, t, HOTKEY_JWT_TOKEN_MAX, NOW, &got);
    t[HOTKEY_JWT_TOKEN_MAX - 1] = 'x';
    t[3] = 'y';
    bad += hotkey_tokcache_get(tc, t, HOTKEY_JWT_TOKEN_MAX, NOW, &got);
    bad += hotkey_tokcache_get(tc, t, HOTKEY_JWT_TOKEN_MAX - 1, NOW, &got);

    hotkey_tokcache_put(tc, t, HOTKEY_JWT_TOKEN_MAX + 1, NOW, &c);
    bad += hotkey_tokcache_get(tc, t, HOTKEY_JWT_TOKEN_MAX + 1, NOW, &got);
    bad += hotkey_tokcache_count(tc, NOW) != 1;

    hotkey_tokcache_free(tc);
    free(t);

    return bad;
}


int
main(void)
{
    int                   i, kept, status;
    char                  tok[32];
    pid_t                 pid;
    hotkey_tokcache_t    *tc;
    hotkey_jwt_claims_t   c, got;

    /* first, before this process initialises OpenSSL */

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        _exit(no_hash_child());
    }

    ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
       && WEXITSTATUS(status) == 0, "without SHA-256 nor random bytes:"
       " found by its own bytes, another token's claims never served");

    tc = hotkey_tokcache_create(0);
    ok(tc != NULL, "default capacity");
    ok(!hit(tc, "a.b.c", NOW), "empty cache misses");

    c = claims(NOW + 60, 0, "p1");
    hotkey_tokcache_put(tc, "a.b.c", 5, NOW, &c);
    ok(hotkey_tokcache_get(tc, "a.b.c", 5, NOW, &got)
       && strcmp(got.project_id, "p1") == 0 && got.exp == NOW + 60,
       "hit with the claims");
    ok(!hit(tc, "a.b.d", NOW), "another token misses");
    ok(!hotkey_tokcache_get(tc, "a.b.c", 4, NOW, &got), "a prefix misses");
    ok(hit(tc, "a.b.c", NOW + 59), "hit 1 s before exp");
    ok(!hit(tc, "a.b.c", NOW + 60), "miss at exp");
    ok(!hit(tc, "a.b.c", NOW), "dropped once expired");
    is_int(hotkey_tokcache_count(tc, NOW), 0, "nothing live");

    c = claims(NOW + 60, NOW + 5, "p2");
    hotkey_tokcache_put(tc, "nbf", 3, NOW, &c);
    ok(!hit(tc, "nbf", NOW + 4), "miss before nbf");
    ok(hit(tc, "nbf", NOW + 5), "hit at nbf");

    c = claims(NOW + 60, 0, "p2");
    c.iat = NOW + 3;
    hotkey_tokcache_put(tc, "iat", 3, NOW, &c);
    ok(!hit(tc, "iat", NOW), "miss before a future iat");
    ok(hit(tc, "iat", NOW + 3), "hit from iat");

    c = claims(NOW + 100, 0, "p3");
    hotkey_tokcache_put(tc, "nbf", 3, NOW, &c);
    ok(hotkey_tokcache_get(tc, "nbf", 3, NOW, &got)
       && strcmp(got.project_id, "p3") == 0, "put again replaces");
    is_int(hotkey_tokcache_count(tc, NOW + 3), 2, "two live entries");

    for (i = 0; i < 5000; i++) {
        snprintf(tok, sizeof(tok), "tok%d", i);
        c = claims(NOW + 60, 0, tok);
        hotkey_tokcache_put(tc, tok, strlen(tok), NOW, &c);
    }

    ok(hotkey_tokcache_count(tc, NOW) <= HOTKEY_TOKCACHE_DEFAULT,
       "bounded: %zu entries", hotkey_tokcache_count(tc, NOW));
    ok(hit(tc, "tok4999", NOW), "the newest is there");

    kept = 0;
    for (i = 4000; i < 5000; i++) {
        snprintf(tok, sizeof(tok), "tok%d", i);
        kept += hit(tc, tok, NOW);
    }

    ok(kept > 500, "most recent entries kept (%d of 1000)", kept);
    hotkey_tokcache_free(tc);

    tc = hotkey_tokcache_create(8);
    for (i = 0; i < 9; i++) {
        snprintf(tok, sizeof(tok), "t%d", i);
        c = claims(NOW + 60, 0, tok);
        hotkey_tokcache_put(tc, tok, strlen(tok), NOW, &c);
    }

    ok(!hit(tc, "t0", NOW), "one set of 8: the oldest evicted");
    ok(!hit(tc, "t9", NOW) && !hit(tc, "t1 ", NOW) && !hit(tc, "T1", NOW),
       "one set: a byte off, a byte more, another case all miss");
    ok(hit(tc, "t1", NOW) && hit(tc, "t8", NOW), "the others kept");

    c = claims(NOW + 1, 0, "short");
    hotkey_tokcache_put(tc, "t1", 2, NOW, &c);
    c = claims(NOW + 60, 0, "new");
    hotkey_tokcache_put(tc, "late", 4, NOW + 2, &c);
    ok(hit(tc, "late", NOW + 2) && hit(tc, "t2", NOW + 2),
       "a dead entry is evicted before the oldest live one");
    hotkey_tokcache_free(tc);

    ok(long_tokens() == 0, "a whole HOTKEY_JWT_TOKEN_MAX token is compared"
       " to its last byte; a longer one is not kept");

    return done_testing();
}
