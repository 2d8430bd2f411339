/*
 * The store's Lua scripts: the one place that says how the API reads and
 * writes the schema of README.md ("The store schema").  Every script runs
 * on one instance's hash-tagged keys, so on one Redis Cluster shard; every
 * write publishes the instance on "hotkey:changes".  Plain C, shared by
 * the module and the analyzer.
 */

#ifndef HOTKEY_SCRIPTS_H
#define HOTKEY_SCRIPTS_H

#include <stddef.h>

typedef enum {
    HOTKEY_SCRIPT_LIST = 0,
    HOTKEY_SCRIPT_CREATE,
    HOTKEY_SCRIPT_DETAILS,
    HOTKEY_SCRIPT_DELETE,
    HOTKEY_SCRIPT_AUTOSCAN_GET,
    HOTKEY_SCRIPT_AUTOSCAN_PUT,
    HOTKEY_SCRIPT_LAST
} hotkey_script_e;

typedef struct {
    const char  *name;
    const char  *body;
    size_t       len;
} hotkey_script_t;

/* the script's text; its SHA-1 is computed by whoever sends it */
const hotkey_script_t *hotkey_script(hotkey_script_e id);

#endif
