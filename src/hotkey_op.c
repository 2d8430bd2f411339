/*
 * The operations table.  A route appears here once it is served; until
 * then its path answers 404 DCS.4001 like any other unknown path.
 */

#include <string.h>

#include "hotkey_op.h"
#include "hotkey_action.h"


static const char *hotkey_op_parse_list(const char *query, size_t len,
    hotkey_args_t *a);


static const hotkey_op_t  hotkey_ops[] = {

    { HOTKEY_OP_LIST, "ListHotkeyScanTasks", HOTKEY_ROUTE_LIST,
      HOTKEY_M_GET | HOTKEY_M_HEAD, HOTKEY_ACTION_LIST_HOTKEY,
      hotkey_op_parse_list, HOTKEY_CACHE_USE_READ },
};

#define HOTKEY_NOPS  (sizeof(hotkey_ops) / sizeof(hotkey_ops[0]))


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
