/*
 * The contract's errors (api.md section 4): status, code and message of
 * each, and the one JSON body they all share.
 */

#include <stdio.h>
#include <string.h>

#include "hotkey_error.h"


typedef struct {
    int          status;
    const char  *code;
    const char  *msg;       /* a printf format with at most one %s */
} hotkey_error_t;


static const hotkey_error_t  hotkey_errors[HOTKEY_ERR_LAST] = {
    { 400, "DCS.4002", "Invalid project ID format." },
    { 400, "DCS.4061", "Invalid instance ID format." },
    { 400, "DCS.4062", "Invalid %s parameter in the request." },
    { 400, "DCS.4070", "Invalid task ID format." },
    { 400, "DCS.4922", "Does not support hotkey analyze." },
    { 401, "DCS.1001", "Invalid token." },
    { 401, "DCS.1002", "Token expired." },
    { 401, "DCS.1003", "No token in the request." },
    { 401, "DCS.1004", "Project ID does not match the token." },
    { 401, "APIGW.0301", "Incorrect IAM authentication information: %s" },
    { 403, "DCS.2007", "Policy does not allow %s to be performed." },
    { 404, "DCS.3022", "This DCS instance does not exist." },
    { 404, "DCS.4001", "The requested URL does not exist." },
    { 405, "DCS.5001", "This request method is not allowed." },
    { 429, "APIGW.0308", "The throttling threshold has been reached." },
    { 500, "DCS.5000", "Internal service error." }
};


static int
hotkey_error_arg_ok(const char *arg)
{
    size_t  i, len;

    len = strlen(arg);

    if (len > 512) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (arg[i] < 0x20 || arg[i] > 0x7e || arg[i] == '"'
            || arg[i] == '\\')
        {
            return 0;
        }
    }

    return 1;
}


int
hotkey_error_status(hotkey_err_e err)
{
    return hotkey_errors[err].status;
}


const char *
hotkey_error_code(hotkey_err_e err)
{
    return hotkey_errors[err].code;
}


size_t
hotkey_error_body(hotkey_err_e err, const char *arg, char *buf)
{
    int   n;
    char  msg[1024];

    if (arg == NULL || !hotkey_error_arg_ok(arg)) {
        arg = "";
    }

    /* the formats are the fixed strings of the table above */

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
    snprintf(msg, sizeof(msg), hotkey_errors[err].msg, arg);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

    n = snprintf(buf, HOTKEY_ERROR_BODY_MAX,
                 "{\"error_code\":\"%s\",\"error_msg\":\"%s\","
                 "\"error_ext_msg\":null}", hotkey_errors[err].code, msg);

    return (size_t) n;
}
