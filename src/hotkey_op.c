/*
 * The operations table.  A path with no row answers 404 DCS.4001 like any
 * other unknown path; a path with rows, 405 for the other methods.
 */

#include <string.h>

#include "hotkey_op.h"
#include "hotkey_action.h"


static const char *hotkey_op_parse_list(const char *query, size_t len,
    hotkey_args_t *a);


static const hotkey_op_t  hotkey_ops[HOTKEY_OP_LAST] = {

    { HOTKEY_OP_LIST, "ListHotKeyScanTasks", HOTKEY_ROUTE_LIST,
      HOTKEY_M_GET | HOTKEY_M_HEAD, HOTKEY_ACTION_LIST_HOTKEY,
      hotkey_op_parse_list, 0, HOTKEY_SCRIPT_LIST, HOTKEY_CACHE_USE_READ,
      200, HOTKEY_ERR_INTERNAL },

    { HOTKEY_OP_CREATE, "CreateHotkeyScanTask", HOTKEY_ROUTE_CREATE,
      HOTKEY_M_POST, HOTKEY_ACTION_ANALYZE,
      NULL, 0, HOTKEY_SCRIPT_CREATE, HOTKEY_CACHE_USE_INVALIDATE,
      200, HOTKEY_ERR_INSTANCE_BUSY },

    { HOTKEY_OP_DETAILS, "ShowHotkeyTaskDetails", HOTKEY_ROUTE_TASK,
      HOTKEY_M_GET | HOTKEY_M_HEAD, HOTKEY_ACTION_LIST_HOTKEY,
      NULL, 0, HOTKEY_SCRIPT_DETAILS, HOTKEY_CACHE_USE_READ,
      200, HOTKEY_ERR_INTERNAL },

    { HOTKEY_OP_DELETE, "DeleteHotkeyScanTask", HOTKEY_ROUTE_TASK,
      HOTKEY_M_DELETE, HOTKEY_ACTION_ANALYZE,
      NULL, 0, HOTKEY_SCRIPT_DELETE, HOTKEY_CACHE_USE_INVALIDATE,
      204, HOTKEY_ERR_TASK_BUSY },

    { HOTKEY_OP_AUTOSCAN_GET, "ShowHotkeyAutoscanConfig",
      HOTKEY_ROUTE_AUTOSCAN, HOTKEY_M_GET | HOTKEY_M_HEAD,
      HOTKEY_ACTION_GET_AUTOSCAN,
      NULL, 0, HOTKEY_SCRIPT_AUTOSCAN_GET, HOTKEY_CACHE_USE_READ,
      200, HOTKEY_ERR_INTERNAL },

    { HOTKEY_OP_AUTOSCAN_PUT, "UpdateHotkeyAutoScanConfig",
      HOTKEY_ROUTE_AUTOSCAN, HOTKEY_M_PUT, HOTKEY_ACTION_UPDATE_AUTOSCAN,
      NULL, 1, HOTKEY_SCRIPT_AUTOSCAN_PUT, HOTKEY_CACHE_USE_INVALIDATE,
      200, HOTKEY_ERR_INTERNAL }
};

#define HOTKEY_NOPS  HOTKEY_OP_LAST


static const struct {
    unsigned     bit;
    const char  *name;
} hotkey_op_method_names[] = {
    { HOTKEY_M_GET, "GET" },
    { HOTKEY_M_HEAD, "HEAD" },
    { HOTKEY_M_POST, "POST" },
    { HOTKEY_M_PUT, "PUT" },
    { HOTKEY_M_DELETE, "DELETE" }
};

#define HOTKEY_NMETHODS   5
#define HOTKEY_ALLOW_MAX  sizeof("GET, HEAD, POST, PUT, DELETE")


static const char *
hotkey_op_parse_list(const char *query, size_t len, hotkey_args_t *a)
{
    return hotkey_list_args_parse(query, len, &a->list);
}


const hotkey_op_t *
hotkey_op_find(hotkey_route_e route, unsigned method)
{
    size_t  i;

    for (i = 0; i < HOTKEY_NOPS; i++) {
        if (hotkey_ops[i].route == route && (hotkey_ops[i].methods & method))
        {
            return &hotkey_ops[i];
        }
    }

    return NULL;
}


unsigned
hotkey_op_methods(hotkey_route_e route)
{
    size_t    i;
    unsigned  m;

    m = 0;

    for (i = 0; i < HOTKEY_NOPS; i++) {
        if (hotkey_ops[i].route == route) {
            m |= hotkey_ops[i].methods;
        }
    }

    return m;
}


const char *
hotkey_op_allow(hotkey_route_e route)
{
    static char  allow[HOTKEY_ROUTE_LAST][HOTKEY_ALLOW_MAX];

    char      *p;
    size_t     i, n;
    unsigned   m;

    if ((unsigned) route >= HOTKEY_ROUTE_LAST) {
        return "";
    }

    p = allow[route];

    if (*p) {
        return p;
    }

    m = hotkey_op_methods(route);

    for (i = 0; i < HOTKEY_NMETHODS; i++) {
        if (!(m & hotkey_op_method_names[i].bit)) {
            continue;
        }

        if (p != allow[route]) {
            memcpy(p, ", ", 2);
            p += 2;
        }

        n = strlen(hotkey_op_method_names[i].name);
        memcpy(p, hotkey_op_method_names[i].name, n);
        p += n;
    }

    *p = '\0';

    return allow[route];
}


const hotkey_op_t *
hotkey_op_get(hotkey_op_e id)
{
    return &hotkey_ops[id];
}
