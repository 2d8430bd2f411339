/*
 * The contract's errors (api.md section 4) and their one JSON shape.
 * Plain C.
 */

#ifndef HOTKEY_ERROR_H
#define HOTKEY_ERROR_H

#include <stddef.h>

typedef enum {
    HOTKEY_ERR_PROJECT_ID = 0,      /* 400 DCS.4002 */
    HOTKEY_ERR_INSTANCE_ID,         /* 400 DCS.4061 */
    HOTKEY_ERR_PARAM,               /* 400 DCS.4062, with a name */
    HOTKEY_ERR_TASK_ID,             /* 400 DCS.4070 */
    HOTKEY_ERR_EMPTY_BODY,          /* 400 DCS.4004 */
    HOTKEY_ERR_BAD_BODY,            /* 400 DCS.4005 */
    HOTKEY_ERR_BODY_PARAM,          /* 400 DCS.4063, with a name */
    HOTKEY_ERR_INSTANCE_BUSY,       /* 400 DCS.4026 */
    HOTKEY_ERR_NO_TASK,             /* 400 DCS.4941 */
    HOTKEY_ERR_TASK_BUSY,           /* 400 DCS.4957 */
    HOTKEY_ERR_NOT_ANALYSABLE,      /* 400 DCS.4922 */
    HOTKEY_ERR_TOKEN_INVALID,       /* 401 DCS.1001 */
    HOTKEY_ERR_TOKEN_EXPIRED,       /* 401 DCS.1002 */
    HOTKEY_ERR_NO_TOKEN,            /* 401 DCS.1003 */
    HOTKEY_ERR_TOKEN_PROJECT,       /* 401 DCS.1004 */
    HOTKEY_ERR_AKSK,                /* 401 APIGW.0301, with a reason */
    HOTKEY_ERR_FORBIDDEN,           /* 403 DCS.2007, with an action */
    HOTKEY_ERR_NO_INSTANCE,         /* 404 DCS.3022 */
    HOTKEY_ERR_NO_ROUTE,            /* 404 DCS.4001 */
    HOTKEY_ERR_METHOD,              /* 405 DCS.5001 */
    HOTKEY_ERR_THROTTLED,           /* 429 APIGW.0308 */
    HOTKEY_ERR_INTERNAL,            /* 500 DCS.5000 */
    HOTKEY_ERR_LAST
} hotkey_err_e;

#define HOTKEY_ERROR_BODY_MAX  1200

/* the HTTP status of an error */
int hotkey_error_status(hotkey_err_e err);

/* the error code, "DCS.4062" */
const char *hotkey_error_code(hotkey_err_e err);

/*
 * Writes the JSON body into buf (HOTKEY_ERROR_BODY_MAX bytes); arg fills
 * the message's {name}, {reason} or {action} and must be plain
 * printable ASCII without quotes or backslashes (it is dropped if not).
 * Returns the length.
 */
size_t hotkey_error_body(hotkey_err_e err, const char *arg, char *buf);

#endif
