/*
 * Fuzz target: path routing and the identifier checks.
 * The whole input is the decoded path.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hotkey_route.h"
#include "hotkey_op.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char      *path, *end;
    hotkey_route_t   rt;
    hotkey_route_e   r;

    path = (const char *) data;
    end = path + size;

    r = hotkey_route_match(path, size, &rt);

    (void) hotkey_op_methods(r);
    (void) strlen(hotkey_op_allow(r));

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

    (void) hotkey_project_id_valid(rt.project, rt.project_len);
    (void) hotkey_uuid_valid(rt.instance, rt.instance_len);

    if (rt.task) {
        (void) hotkey_uuid_valid(rt.task, rt.task_len);
    }

    return 0;
}
