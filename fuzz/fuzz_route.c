/*
 * Fuzz target: path routing and the identifier checks, and the operations
 * table for every route the path names (each method: an operation exactly
 * when the route allows it; the Allow header).  The whole input is the
 * decoded path.  When its identifiers are valid, the store command of each
 * of the route's operations (list, create, details, delete, autoscan get
 * and put), EVALSHA and EVAL, must fit hotkey_store_request_size() and be
 * one RESP array that hiredis reads back whole, the path's ids in it.
 */

#define _GNU_SOURCE

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hotkey_route.h"
#include "hotkey_op.h"
#include "hotkey_store.h"
#include "fuzz_request.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const unsigned  fuzz_methods[] = {
    HOTKEY_M_GET, HOTKEY_M_HEAD, HOTKEY_M_POST, HOTKEY_M_PUT, HOTKEY_M_DELETE
};


/* the path's ids are in the command */

static void
fuzz_ids_check(const char *buf, size_t len, const redisReply *r,
    const void *data)
{
    const hotkey_route_t  *rt = data;

    (void) r;

    if (memmem(buf, len, rt->instance, rt->instance_len) == NULL
        || memmem(buf, len, rt->project, rt->project_len) == NULL
        || (rt->task && memmem(buf, len, rt->task, rt->task_len) == NULL))
    {
        abort();
    }
}


static void
fuzz_op_request(const hotkey_op_t *op, const hotkey_route_t *rt)
{
    hotkey_args_t  a;

    memset(&a, 0, sizeof(a));
    a.list.limit = 10;
    a.now = 1700000000123LL;
    memcpy(a.id, "6a0cf3c8-43a4-4d6e-9f1e-0c2b1f8e5d11", 36);
    a.autoscan.enable = 1;
    a.autoscan.ntimes = 2;
    a.autoscan.times[0] = 0;
    a.autoscan.times[1] = 23 * 60 + 59;

    fuzz_request(op, rt, &a, fuzz_ids_check, rt);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 valid;
    size_t              i;
    unsigned            m;
    const char         *path, *end;
    hotkey_route_t      rt;
    hotkey_route_e      r;
    const hotkey_op_t  *op;

    path = (const char *) data;
    end = path + size;

    r = hotkey_route_match(path, size, &rt);

    m = hotkey_op_methods(r);
    (void) strlen(hotkey_op_allow(r));

    /* an operation for exactly the methods the route allows */

    for (i = 0; i < sizeof(fuzz_methods) / sizeof(fuzz_methods[0]); i++) {
        op = hotkey_op_find(r, fuzz_methods[i]);

        if ((op != NULL) != ((m & fuzz_methods[i]) != 0)
            || (op && op->route != r))
        {
            abort();
        }
    }

    if (r == HOTKEY_ROUTE_NONE) {
        return 0;
    }

    /* the segments must lie inside the input */

    if (rt.project < path || rt.project + rt.project_len > end
        || rt.instance < path || rt.instance + rt.instance_len > end
        || (rt.task && (rt.task < path || rt.task + rt.task_len > end)))
    {
        abort();
    }

    valid = hotkey_project_id_valid(rt.project, rt.project_len)
            && hotkey_uuid_valid(rt.instance, rt.instance_len);

    if (rt.task) {
        valid = hotkey_uuid_valid(rt.task, rt.task_len) && valid;
    }

    if (r != HOTKEY_ROUTE_NONE && m == 0) {
        abort();
    }

    /* the store command of each operation of a route whose ids are valid */

    if (valid) {
        for (i = 0; i < sizeof(fuzz_methods) / sizeof(fuzz_methods[0]); i++) {
            op = hotkey_op_find(r, fuzz_methods[i]);

            if (op && fuzz_methods[i] != HOTKEY_M_HEAD) {
                fuzz_op_request(op, &rt);
            }
        }
    }

    return 0;
}
