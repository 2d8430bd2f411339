/*
 * The API's paths by shape, and the identifier formats of api.md
 * section 2.
 */

#include <string.h>

#include "hotkey_route.h"


#define HOTKEY_PREFIX      "/v2/"
#define HOTKEY_PREFIX_LEN  (sizeof(HOTKEY_PREFIX) - 1)
#define HOTKEY_MAX_SEGS    6


typedef struct {
    const char  *p;
    size_t       len;
} hotkey_seg_t;


static int hotkey_seg_is(hotkey_seg_t *s, const char *lit);
static int hotkey_is_lhex(unsigned char c);


static int
hotkey_seg_is(hotkey_seg_t *s, const char *lit)
{
    size_t  n;

    n = strlen(lit);

    return s->len == n && memcmp(s->p, lit, n) == 0;
}


static int
hotkey_is_lhex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}


hotkey_route_e
hotkey_route_match(const char *path, size_t len, hotkey_route_t *rt)
{
    size_t         i, n, start;
    hotkey_seg_t   seg[HOTKEY_MAX_SEGS];

    memset(rt, 0, sizeof(hotkey_route_t));

    if (len <= HOTKEY_PREFIX_LEN
        || memcmp(path, HOTKEY_PREFIX, HOTKEY_PREFIX_LEN) != 0)
    {
        return HOTKEY_ROUTE_NONE;
    }

    n = 0;
    start = HOTKEY_PREFIX_LEN;

    for (i = HOTKEY_PREFIX_LEN; i <= len; i++) {

        if (i < len && path[i] != '/') {
            continue;
        }

        /* empty segments (a trailing or a doubled slash) are no route */

        if (i == start || n == HOTKEY_MAX_SEGS) {
            return HOTKEY_ROUTE_NONE;
        }

        seg[n].p = path + start;
        seg[n].len = i - start;
        n++;
        start = i + 1;
    }

    if (n < 4 || !hotkey_seg_is(&seg[1], "instances")) {
        return HOTKEY_ROUTE_NONE;
    }

    if (n == 4 && hotkey_seg_is(&seg[3], "hotkey-tasks")) {
        rt->route = HOTKEY_ROUTE_LIST;

    } else if (n == 4 && hotkey_seg_is(&seg[3], "hotkey-task")) {
        rt->route = HOTKEY_ROUTE_CREATE;

    } else if (n == 5 && hotkey_seg_is(&seg[3], "hotkey-task")) {
        rt->route = HOTKEY_ROUTE_TASK;
        rt->task = seg[4].p;
        rt->task_len = seg[4].len;

    } else if (n == 5 && hotkey_seg_is(&seg[3], "hotkey")
               && hotkey_seg_is(&seg[4], "autoscan"))
    {
        rt->route = HOTKEY_ROUTE_AUTOSCAN;

    } else {
        return HOTKEY_ROUTE_NONE;
    }

    rt->project = seg[0].p;
    rt->project_len = seg[0].len;
    rt->instance = seg[2].p;
    rt->instance_len = seg[2].len;

    return rt->route;
}


int
hotkey_uuid_valid(const char *p, size_t len)
{
    size_t  i;

    if (len != 36) {
        return 0;
    }

    for (i = 0; i < 36; i++) {

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-') {
                return 0;
            }

            continue;
        }

        if (!hotkey_is_lhex((unsigned char) p[i])) {
            return 0;
        }
    }

    return 1;
}


int
hotkey_project_id_valid(const char *p, size_t len)
{
    size_t  i;

    if (len == 36) {
        return hotkey_uuid_valid(p, len);
    }

    if (len != 32) {
        return 0;
    }

    for (i = 0; i < 32; i++) {
        if (!hotkey_is_lhex((unsigned char) p[i])) {
            return 0;
        }
    }

    return 1;
}
