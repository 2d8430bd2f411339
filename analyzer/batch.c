/*
 * The scan of one database by the server-side script (analyzer/lua/
 * batch.lua): SCAN and OBJECT FREQ of a whole batch in one EVALSHA, and
 * only the keys that may still enter the top sent back.  The instance
 * parses one command per batch instead of one per key, no name travels
 * both ways, and each key is looked up while SCAN has just brought it
 * into the cache; the analyzer reads a few replies instead of a
 * thousand.  An instance that refuses the script (ACL, renamed or
 * disabled commands) is left to the pipeline of scan.c.
 */

#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "hka.h"
#include "hka_lua.h"
#include "hotkey_codec.h"


#define HKA_BATCH_ARGS  9


static const char *hka_batch_sha(void);
static redisReply *hka_batch_call(hka_walk_t *w, const char *cursor);
static int hka_batch_read(hka_walk_t *w, redisReply *r, char *cursor);
static int hka_batch_pace(hka_walk_t *w, double busy);


static const char *
hka_batch_sha(void)
{
    static char    sha[SHA_DIGEST_LENGTH * 2 + 1];
    unsigned char  md[SHA_DIGEST_LENGTH];

    if (sha[0] == '\0') {
        SHA1((const unsigned char *) hka_lua_batch, strlen(hka_lua_batch),
             md);
        hotkey_codec_hex(md, sizeof(md), sha);
    }

    return sha;
}


/* EVALSHA, or EVAL when the instance does not have the script (yet) */

static redisReply *
hka_batch_call(hka_walk_t *w, const char *cursor)
{
    int          i, argc;
    char         count[16], min[16];
    size_t       lens[HKA_BATCH_ARGS];
    unsigned     freq;
    const char  *argv[HKA_BATCH_ARGS];
    redisReply  *r;

    hka_top_bar(&w->res->top, w->db, &freq, &argv[6], &lens[6]);
    snprintf(count, sizeof(count), "%u", w->tg->conf->scan_count);
    snprintf(min, sizeof(min), "%u", freq);

    argv[0] = "EVALSHA";
    argv[1] = hka_batch_sha();
    argv[2] = "0";
    argv[3] = cursor;
    argv[4] = count;
    argv[5] = min;
    argc = argv[6] ? 7 : 6;

    for (i = 0; i < 6; i++) {
        lens[i] = strlen(argv[i]);
    }

    r = redisCommandArgv(w->c, argc, argv, lens);

    if (r && r->type == REDIS_REPLY_ERROR
        && strncmp(r->str, "NOSCRIPT", 8) == 0)
    {
        freeReplyObject(r);
        argv[0] = "EVAL";
        argv[1] = hka_lua_batch;
        lens[0] = 4;
        lens[1] = strlen(hka_lua_batch);
        r = redisCommandArgv(w->c, argc, argv, lens);
    }

    return r;
}


/*
 * { cursor, scanned, name, freq, ... } into the top.  Returns 0; -1 a
 * reply of another shape; -2 out of memory.
 */

static int
hka_batch_read(hka_walk_t *w, redisReply *r, char *cursor)
{
    size_t             i;
    const redisReply  *name, *freq;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2
        || r->elements % 2 != 0
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[0]->len >= 32
        || r->element[1]->type != REDIS_REPLY_INTEGER)
    {
        return -1;
    }

    for (i = 2; i < r->elements; i += 2) {
        name = r->element[i];
        freq = r->element[i + 1];

        if (name->type != REDIS_REPLY_STRING
            || freq->type != REDIS_REPLY_INTEGER
            || freq->integer < 0 || freq->integer > 255)
        {
            return -1;
        }

        if (hka_top_offer(&w->res->top, (unsigned) freq->integer, w->db,
                          w->node, name->str, name->len) < 0)
        {
            return -2;
        }
    }

    memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
    w->res->scanned += (uint64_t) r->element[1]->integer;

    return 0;
}


static int
hka_batch_pace(hka_walk_t *w, double busy)
{
    const hka_target_t  *tg;

    tg = w->tg;

    if (hka_pace_batch(&w->res->pace, w->c, busy, tg->tick, tg->data)
        == 0)
    {
        return 0;
    }

    if (tg->tick && tg->tick(tg->data) != 0) {
        w->res->cause[0] = '\0';
        return hka_fail(w->res, "stopped");
    }

    return hka_reply_fail(w->res, w->addr, w->c, NULL, "INFO cpu");
}


/*
 * Returns 0 done; 1 the instance refused the script before any key was
 * read (scan with the pipeline instead); -1 failed (the cause is set);
 * -2 the script failed on a key (OBJECT FREQ: the cause is set, the
 * caller looks at the policy).
 */

int
hka_batch_scan(hka_walk_t *w)
{
    int          rc, first;
    char         cursor[32];
    double       t0;
    redisReply  *r;

    strcpy(cursor, "0");
    first = 1;

    for ( ;; ) {
        t0 = hka_now();
        r = hka_batch_call(w, cursor);

        if (r == NULL) {
            return hka_reply_fail(w->res, w->addr, w->c, NULL, "EVALSHA");
        }

        if (r->type == REDIS_REPLY_ERROR && first) {
            hka_log("info", "%s: the batch script was refused (%.*s): "
                    "scanning with a pipeline", w->addr,
                    (int) (r->len < 200 ? r->len : 200), r->str);
            freeReplyObject(r);
            return 1;
        }

        rc = r->type == REDIS_REPLY_ERROR ? -2 : hka_batch_read(w, r, cursor);

        if (rc != 0) {
            if (rc == -2 && r->type != REDIS_REPLY_ERROR) {
                hka_fail(w->res, "out of memory");
                rc = -1;

            } else {
                hka_reply_fail(w->res, w->addr, w->c, r, "batch script");
            }

            freeReplyObject(r);
            return rc;
        }

        freeReplyObject(r);
        first = 0;

        if (strcmp(cursor, "0") == 0) {
            return 0;
        }

        if (hka_batch_pace(w, hka_now() - t0) != 0) {
            return -1;
        }
    }
}
