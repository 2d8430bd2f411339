/*
 * The task store connection and the job scripts (analyzer/lua/ and
 * the gateway's create script, src/hotkey_scripts.c).
 */

#ifndef HKA_STORE_H
#define HKA_STORE_H

#include "hka.h"


#define HKA_EVAL_ARGS  (HKA_TOP_MAX + 16)


typedef enum {
    HKA_LUA_TAKE = 0,
    HKA_LUA_RENEW,
    HKA_LUA_FINISH,
    HKA_LUA_CREATE
} hka_lua_e;

typedef struct {
    char           host[256];
    int            port;
    redisContext  *c;
    int            down;
} hka_store_t;


int hka_store_up(hka_store_t *st);
void hka_store_fail(hka_store_t *st, const char *what);
redisReply *hka_store_eval(hka_store_t *st, hka_lua_e script, int nkeys,
    int argc, const char **argv, const size_t *lens);

#endif
