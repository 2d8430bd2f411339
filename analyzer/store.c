/*
 * The task store: one connection, re-made when it breaks, and the job
 * scripts (EVALSHA, EVAL when the store does not know them).  A store
 * that is down only delays work: callers get NULL and try again later.
 */

#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "hka.h"
#include "hka_store.h"
#include "hka_lua.h"
#include "hotkey_codec.h"
#include "hotkey_scripts.h"


typedef struct {
    const char  *name;
    const char  *src;
    char         sha[SHA_DIGEST_LENGTH * 2 + 1];
} hka_script_t;


static hka_script_t  hka_scripts[] = {
    { "take", hka_lua_take, "" },
    { "renew", hka_lua_renew, "" },
    { "finish", hka_lua_finish, "" },
    { "create-task", NULL, "" },        /* the gateway's: see below */
};


/* the create script is the gateway's own (src/hotkey_scripts.c) */

static const char *
hka_script_src(hka_script_t *s)
{
    if (s->src == NULL) {
        s->src = hotkey_script(HOTKEY_SCRIPT_CREATE)->body;
    }

    return s->src;
}


static const char *
hka_script_sha(hka_script_t *s)
{
    unsigned char  md[SHA_DIGEST_LENGTH];

    if (s->sha[0] == '\0') {
        SHA1((const unsigned char *) hka_script_src(s),
             strlen(hka_script_src(s)), md);
        hotkey_codec_hex(md, sizeof(md), s->sha);
    }

    return s->sha;
}


int
hka_store_up(hka_store_t *st)
{
    struct timeval  tv;

    if (st->c) {
        return 0;
    }

    tv.tv_sec = 1;
    tv.tv_usec = 0;
    st->c = redisConnectWithTimeout(st->host, st->port, tv);

    if (st->c == NULL || st->c->err) {
        hka_store_fail(st, "connect");
        return -1;
    }

    tv.tv_sec = 5;
    redisSetTimeout(st->c, tv);

    if (st->down) {
        hka_log("info", "task store %s:%d is back", st->host, st->port);
        st->down = 0;
    }

    return 0;
}


void
hka_store_fail(hka_store_t *st, const char *what)
{
    hka_metrics_lock()->store_errors++;
    hka_metrics_unlock();

    if (!st->down) {
        hka_log("error", "task store %s:%d: %s: %s; retrying", st->host,
                st->port, what,
                st->c && st->c->errstr[0] ? st->c->errstr : "failed");
        st->down = 1;
    }

    redisFree(st->c);
    st->c = NULL;
}


/*
 * EVALSHA of a script: argv holds the keys then the arguments.  Returns
 * the reply (an error reply too), or NULL when the store failed.
 */

redisReply *
hka_store_eval(hka_store_t *st, hka_lua_e script, int nkeys, int argc,
    const char **argv, const size_t *lens)
{
    int            i, n;
    char           num[16];
    const char    *av[HKA_EVAL_ARGS + 3];
    size_t         al[HKA_EVAL_ARGS + 3];
    redisReply    *r;
    hka_script_t  *s;

    if (argc > HKA_EVAL_ARGS || hka_store_up(st) != 0) {
        return NULL;
    }

    s = &hka_scripts[script];
    n = snprintf(num, sizeof(num), "%d", nkeys);

    av[0] = "EVALSHA";
    al[0] = 7;
    av[1] = hka_script_sha(s);
    al[1] = strlen(av[1]);
    av[2] = num;
    al[2] = n;

    for (i = 0; i < argc; i++) {
        av[i + 3] = argv[i];
        al[i + 3] = lens ? lens[i] : strlen(argv[i]);
    }

    r = redisCommandArgv(st->c, argc + 3, av, al);

    if (r && r->type == REDIS_REPLY_ERROR
        && strncmp(r->str, "NOSCRIPT", 8) == 0)
    {
        freeReplyObject(r);
        av[0] = "EVAL";
        al[0] = 4;
        av[1] = hka_script_src(s);
        al[1] = strlen(av[1]);
        r = redisCommandArgv(st->c, argc + 3, av, al);
    }

    if (r == NULL) {
        hka_store_fail(st, s->name);
        return NULL;
    }

    if (r->type == REDIS_REPLY_ERROR) {
        hka_log("error", "task store: script %s: %s", s->name, r->str);
    }

    return r;
}
