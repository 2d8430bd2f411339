/*
 * Routing of the API's paths and the identifier formats of api.md
 * section 2.  Plain C: no nginx types, so unit tests and fuzzers reach it.
 */

#ifndef HOTKEY_ROUTE_H
#define HOTKEY_ROUTE_H

#include <stddef.h>

#define HOTKEY_M_GET     0x01
#define HOTKEY_M_HEAD    0x02
#define HOTKEY_M_POST    0x04
#define HOTKEY_M_PUT     0x08
#define HOTKEY_M_DELETE  0x10

typedef enum {
    HOTKEY_ROUTE_NONE = 0,
    HOTKEY_ROUTE_LIST,          /* GET hotkey-tasks */
    HOTKEY_ROUTE_CREATE,        /* POST hotkey-task */
    HOTKEY_ROUTE_TASK,          /* GET, DELETE hotkey-task/{id} */
    HOTKEY_ROUTE_AUTOSCAN,      /* GET, PUT hotkey/autoscan */
    HOTKEY_ROUTE_LAST
} hotkey_route_e;

typedef struct {
    hotkey_route_e   route;
    const char      *project;
    size_t           project_len;
    const char      *instance;
    size_t           instance_len;
    const char      *task;
    size_t           task_len;
} hotkey_route_t;

/*
 * Matches a decoded path "/v2/{project}/instances/{instance}/..." by
 * shape only: segments are not validated here, so that the order of
 * checks (route, auth, then identifiers) holds.
 */
hotkey_route_e hotkey_route_match(const char *path, size_t len,
    hotkey_route_t *rt);

/* 1 when valid: 32 lowercase hex digits, or a lowercase dashed UUID */
int hotkey_project_id_valid(const char *p, size_t len);

/* 1 when p is a lowercase dashed UUID 8-4-4-4-12 */
int hotkey_uuid_valid(const char *p, size_t len);

#endif
