/*
 * The API as data: one row per operation (method and path, IAM action,
 * argument parser, store script, how it uses the cache).  The handler,
 * authentication, the cache and the store read the row; adding an
 * operation is adding a row and its reply formatter.  Plain C.
 */

#ifndef HOTKEY_OP_H
#define HOTKEY_OP_H

#include <stddef.h>

#include "hotkey_route.h"
#include "hotkey_args.h"

typedef enum {
    HOTKEY_OP_LIST = 0,             /* ListHotkeyScanTasks */
    HOTKEY_OP_LAST
} hotkey_op_e;

typedef enum {
    HOTKEY_CACHE_USE_NONE = 0,
    HOTKEY_CACHE_USE_READ,          /* its answers are cached */
    HOTKEY_CACHE_USE_INVALIDATE     /* a write: drops the instance's */
} hotkey_cache_use_e;

/* what an operation's request carries, parsed and checked */
typedef struct {
    hotkey_list_args_t   list;
} hotkey_args_t;

/*
 * Parses the raw query string.  NULL when valid, or the name of the first
 * faulty parameter for the DCS.4062 message.
 */
typedef const char *(*hotkey_args_parse_pt)(const char *query, size_t len,
    hotkey_args_t *a);

typedef struct {
    hotkey_op_e           id;
    const char           *name;         /* as the SDKs call it */
    hotkey_route_e        route;
    unsigned              methods;      /* HOTKEY_M_*; GET brings HEAD */
    unsigned              action;       /* HOTKEY_ACTION_* */
    hotkey_args_parse_pt  parse;
    hotkey_cache_use_e    cache;
} hotkey_op_t;

/*
 * The operation for a matched route and a HOTKEY_M_* method: NULL when
 * the route has no such method (405), or no operation at all (404).
 */
const hotkey_op_t *hotkey_op_find(hotkey_route_e route, unsigned method);

/* HOTKEY_M_* bits the route's operations allow; 0: no route */
unsigned hotkey_op_methods(hotkey_route_e route);

/* the "Allow" header value for a route, e.g. "GET, HEAD" */
const char *hotkey_op_allow(hotkey_route_e route);

#endif
