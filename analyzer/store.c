/*
 * The task store: one Redis, or a Redis Cluster (a connection per node,
 * commands sent to their key's master, MOVED and ASK followed:
 * tools/hotkey_store_client.c), and the job scripts (EVALSHA, EVAL when
 * the node does not know them).  A store that is down, or a master that
 * died before its replica takes over, only delays work: callers get NULL
 * and try again later.
 */

#include <stdarg.h>
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
hka_store_init(hka_store_t *st, const char *seeds, double quiet)
{
    st->down = 0;
    st->failed_at = 0;
    st->quiet = quiet;
    st->sub_next = 0;

    return hotkey_sc_init(&st->sc, seeds, 1000, 5000);
}


void
hka_store_fail(hka_store_t *st, const char *what)
{
    hka_metrics_lock()->store_errors++;
    hka_metrics_unlock();

    st->failed_at = hka_now();

    if (!st->down) {
        hka_log("error", "task store %s (%s); retrying",
                st->sc.err[0] ? st->sc.err : "failed", what);
        st->down = 1;
    }
}


/* a reply came: the store is back once no command failed for a while */

static void
hka_store_ok(hka_store_t *st)
{
    if (st->down && hka_now() - st->failed_at >= st->quiet) {
        hka_log("info", "task store %s is back",
                hotkey_sc_addr(&st->sc, st->sc.last));
        st->down = 0;
    }
}


redisReply *
hka_store_command(hka_store_t *st, const char *key, const char *fmt, ...)
{
    va_list      ap;
    redisReply  *r;

    va_start(ap, fmt);
    r = hotkey_sc_vcommand(&st->sc, key, fmt, ap);
    va_end(ap);

    if (r == NULL) {
        hka_store_fail(st, key ? key : fmt);
        return NULL;
    }

    hka_store_ok(st);

    return r;
}


/*
 * A connection of its own subscribed to a channel, on any node: a
 * cluster sends every PUBLISH to all its nodes.  The next call (after
 * this one broke) starts with another node.  NULL when none answers.
 */

redisContext *
hka_store_subscribe(hka_store_t *st, const char *channel)
{
    redisReply    *r;
    redisContext  *c;

    c = hotkey_sc_connect_any(&st->sc, &st->sub_next);
    if (c == NULL) {
        return NULL;
    }

    r = redisCommand(c, "SUBSCRIBE %s", channel);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        hotkey_redis_free(c);
        return NULL;
    }

    freeReplyObject(r);

    return c;
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
    const char    *av[HKA_EVAL_ARGS + 3], *key;
    size_t         al[HKA_EVAL_ARGS + 3];
    redisReply    *r;
    hka_script_t  *s;

    if (argc > HKA_EVAL_ARGS) {
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

    key = nkeys > 0 ? argv[0] : NULL;
    r = hotkey_sc_argv(&st->sc, key, argc + 3, av, al);

    if (r && r->type == REDIS_REPLY_ERROR
        && strncmp(r->str, "NOSCRIPT", 8) == 0)
    {
        /* a node (a new master, a restarted one) without the script */
        freeReplyObject(r);
        av[0] = "EVAL";
        al[0] = 4;
        av[1] = hka_script_src(s);
        al[1] = strlen(av[1]);
        r = hotkey_sc_argv(&st->sc, key, argc + 3, av, al);
    }

    if (r == NULL) {
        hka_store_fail(st, s->name);
        return NULL;
    }

    hka_store_ok(st);

    if (r->type == REDIS_REPLY_ERROR) {
        hka_log("error", "task store: script %s: %s", s->name, r->str);
    }

    return r;
}
