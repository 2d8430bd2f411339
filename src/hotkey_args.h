/*
 * The list route's query string (api.md section 3): percent-decoded,
 * strictly checked, defaults filled in.  Plain C.
 */

#ifndef HOTKEY_ARGS_H
#define HOTKEY_ARGS_H

#include <stddef.h>
#include <stdint.h>

#define HOTKEY_LIMIT_DEFAULT  10
#define HOTKEY_LIMIT_MAX      1000
#define HOTKEY_OFFSET_MAX     2147483647

typedef enum {
    HOTKEY_STATUS_ANY = 0,
    HOTKEY_STATUS_WAITING,
    HOTKEY_STATUS_RUNNING,
    HOTKEY_STATUS_SUCCESS,
    HOTKEY_STATUS_FAILED
} hotkey_status_e;

typedef struct {
    int64_t          offset;
    int64_t          limit;
    hotkey_status_e  status;
} hotkey_list_args_t;

/*
 * Parses the raw query string (without the '?').  Returns NULL on
 * success, or the name of the first faulty known parameter ("offset",
 * "limit", "status") for the DCS.4062 message.
 */
const char *hotkey_list_args_parse(const char *args, size_t len,
    hotkey_list_args_t *a);

/* "waiting", ... for a status; NULL for HOTKEY_STATUS_ANY */
const char *hotkey_status_name(hotkey_status_e s);

/* the status for a name, or HOTKEY_STATUS_ANY when unknown */
hotkey_status_e hotkey_status_parse(const char *p, size_t len);

#endif
