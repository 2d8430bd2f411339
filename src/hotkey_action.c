/*
 * Action names to bits.
 */

#include <string.h>
#include <strings.h>

#include "hotkey_action.h"


typedef struct {
    const char  *name;
    unsigned     bits;
} hotkey_action_map_t;


static const hotkey_action_map_t  hotkey_actions[] = {
    { "dcs:instance:listHotKey", HOTKEY_ACTION_LIST_HOTKEY },
    { "dcs:instance:analyze", HOTKEY_ACTION_ANALYZE },
    { "dcs:instance:getHotKeyAutoScanConfig", HOTKEY_ACTION_GET_AUTOSCAN },
    { "dcs:instance:updateHotKeyAutoScanConfig",
      HOTKEY_ACTION_UPDATE_AUTOSCAN },
    { "dcs:instance:*", HOTKEY_ACTION_ALL },
    { "dcs:*:*", HOTKEY_ACTION_ALL },
    { "*", HOTKEY_ACTION_ALL },
    { NULL, 0 }
};


unsigned
hotkey_action_parse(const char *name, size_t len)
{
    const hotkey_action_map_t  *a;

    for (a = hotkey_actions; a->name; a++) {
        if (strlen(a->name) == len && strncasecmp(a->name, name, len) == 0) {
            return a->bits;
        }
    }

    return 0;
}


const char *
hotkey_action_name(unsigned bit)
{
    const hotkey_action_map_t  *a;

    for (a = hotkey_actions; a->bits != HOTKEY_ACTION_ALL; a++) {
        if (a->bits == bit) {
            return a->name;
        }
    }

    return NULL;
}
