/* routing and identifier formats (api.md sections 1 and 2) */

#include "tap.h"
#include "hotkey_route.h"
#include "hotkey_op.h"

#define P  "a4d31cb6-3d72-4fdc-8ec9-6e3a41e47f71"
#define I  "5560df16-cebf-4473-95c4-d1b573c16e79"


static hotkey_route_e
route(const char *path, hotkey_route_t *rt)
{
    return hotkey_route_match(path, strlen(path), rt);
}


int
main(void)
{
    hotkey_route_t  rt;

    is_int(route("/v2/" P "/instances/" I "/hotkey-tasks", &rt),
           HOTKEY_ROUTE_LIST, "list route");
    ok(rt.project_len == 36 && memcmp(rt.project, P, 36) == 0,
       "project segment");
    ok(rt.instance_len == 36 && memcmp(rt.instance, I, 36) == 0,
       "instance segment");
    is_int(route("/v2/x/instances/y/hotkey-tasks", &rt), HOTKEY_ROUTE_LIST,
           "shape only: ids are checked later");
    is_int(route("/v2/" P "/instances/" I "/hotkey-tasks/", &rt),
           HOTKEY_ROUTE_NONE, "trailing slash");
    is_int(route("/v2/" P "/instances/" I "/hotkey-tasks/x", &rt),
           HOTKEY_ROUTE_NONE, "extra segment");
    is_int(route("/v2/" P "/instances//hotkey-tasks", &rt),
           HOTKEY_ROUTE_NONE, "empty segment");
    is_int(route("/v2/" P "/instance/" I "/hotkey-tasks", &rt),
           HOTKEY_ROUTE_NONE, "instance singular");
    is_int(route("/v3/" P "/instances/" I "/hotkey-tasks", &rt),
           HOTKEY_ROUTE_NONE, "other prefix");
    is_int(route("/v2/", &rt), HOTKEY_ROUTE_NONE, "prefix only");
    is_int(route("/v2", &rt), HOTKEY_ROUTE_NONE, "short");
    is_int(route("/v2/" P "/instances/" I "/hotkey-task", &rt),
           HOTKEY_ROUTE_CREATE, "create route");
    is_int(route("/v2/" P "/instances/" I "/hotkey-task/" I, &rt),
           HOTKEY_ROUTE_TASK, "task route");
    ok(rt.task_len == 36, "task segment");
    is_int(route("/v2/" P "/instances/" I "/hotkey/autoscan", &rt),
           HOTKEY_ROUTE_AUTOSCAN, "autoscan route");
    is_int(route("/v2/" P "/instances/" I "/hotkey/other", &rt),
           HOTKEY_ROUTE_NONE, "hotkey/other");
    is_int(route("/v2/a/instances/b/c/d/e/f/g", &rt), HOTKEY_ROUTE_NONE,
           "too many segments");

    is_int(hotkey_op_methods(HOTKEY_ROUTE_LIST),
           HOTKEY_M_GET | HOTKEY_M_HEAD, "list methods");
    is_str(hotkey_op_allow(HOTKEY_ROUTE_LIST), "GET, HEAD", "list Allow");
    is_int(hotkey_op_methods(HOTKEY_ROUTE_NONE), 0, "no route methods");
    ok(hotkey_op_find(HOTKEY_ROUTE_LIST, HOTKEY_M_HEAD) != NULL,
       "HEAD finds the list operation");
    ok(hotkey_op_find(HOTKEY_ROUTE_LIST, HOTKEY_M_POST) == NULL,
       "POST on the list path is no operation");
    is_str(hotkey_op_find(HOTKEY_ROUTE_LIST, HOTKEY_M_GET)->name,
           "ListHotkeyScanTasks", "the list operation's name");

    ok(hotkey_uuid_valid(I, 36), "uuid");
    ok(!hotkey_uuid_valid("5560DF16-cebf-4473-95c4-d1b573c16e79", 36),
       "uppercase uuid rejected");
    ok(!hotkey_uuid_valid("5560df16ccebfc4473c95c4cd1b573c16e79", 36),
       "dashes required");
    ok(!hotkey_uuid_valid("5560df16-cebf-4473-95c4-d1b573c16e7", 35),
       "short uuid");
    ok(!hotkey_uuid_valid("5560df16-cebf-4473-95c4-d1b573c16e7g", 36),
       "non-hex uuid");
    ok(!hotkey_uuid_valid("5560df16-cebf-4473-95c4-d1b573c16e7\0", 36),
       "NUL in uuid");
    ok(hotkey_project_id_valid("0123456789abcdef0123456789abcdef", 32),
       "32 hex project");
    ok(hotkey_project_id_valid(P, 36), "dashed project");
    ok(!hotkey_project_id_valid("0123456789ABCDEF0123456789abcdef", 32),
       "uppercase project rejected");
    ok(!hotkey_project_id_valid("0123456789abcdef0123456789abcde", 31),
       "31 hex");
    ok(!hotkey_project_id_valid("0123456789abcdef0123456789abcdef0", 33),
       "33 hex");
    ok(!hotkey_project_id_valid("", 0), "empty project");

    return done_testing();
}
