/*
 * The task store connection and the job scripts (analyzer/lua/ and
 * the gateway's create script, src/hotkey_scripts.c).
 */

#ifndef HKA_STORE_H
#define HKA_STORE_H

#include "hka.h"
#include "hotkey_store_client.h"


#define HKA_EVAL_ARGS  (HKA_TOP_MAX + 16)


typedef enum {
    HKA_LUA_TAKE = 0,
    HKA_LUA_RENEW,
    HKA_LUA_FINISH,
    HKA_LUA_CREATE
} hka_lua_e;

/* one Redis, or a Redis Cluster from any of its nodes */
typedef struct {
    hotkey_sc_t    sc;
    int            down;
    double         failed_at;
    double         quiet;              /* no failure that long: back */
    unsigned       sub_next;           /* the node to subscribe to next */
} hka_store_t;


int hka_store_init(hka_store_t *st, const char *seeds, double quiet);
void hka_store_fail(hka_store_t *st, const char *what);
redisReply *hka_store_command(hka_store_t *st, const char *key,
    const char *fmt, ...);
redisReply *hka_store_eval(hka_store_t *st, hka_lua_e script, int nkeys,
    int argc, const char **argv, const size_t *lens);
redisContext *hka_store_subscribe(hka_store_t *st, const char *channel);

#endif
