/* the one JSON error shape */

#include <cjson/cJSON.h>

#include "tap.h"
#include "hotkey_error.h"


int
main(void)
{
    int     e;
    char    buf[HOTKEY_ERROR_BODY_MAX];
    cJSON  *j;

    hotkey_error_body(HOTKEY_ERR_PARAM, "limit", buf);
    is_str(buf, "{\"error_code\":\"DCS.4062\",\"error_msg\":\"Invalid limit "
           "parameter in the request.\",\"error_ext_msg\":null}", "4062");

    hotkey_error_body(HOTKEY_ERR_FORBIDDEN, "dcs:instance:listHotKey", buf);
    is_str(buf, "{\"error_code\":\"DCS.2007\",\"error_msg\":\"Policy does not "
           "allow dcs:instance:listHotKey to be performed.\","
           "\"error_ext_msg\":null}", "2007");

    hotkey_error_body(HOTKEY_ERR_AKSK, "a \"quoted\" reason", buf);
    j = cJSON_Parse(buf);
    ok(j != NULL, "an unsafe argument is dropped, the JSON stays valid");
    cJSON_Delete(j);

    for (e = 0; e < HOTKEY_ERR_LAST; e++) {
        hotkey_error_body((hotkey_err_e) e, "x", buf);
        j = cJSON_Parse(buf);
        ok(j != NULL && cJSON_GetArraySize(j) == 3
           && cJSON_IsNull(cJSON_GetObjectItem(j, "error_ext_msg"))
           && strlen(hotkey_error_code((hotkey_err_e) e)) <= 10,
           "error %d: %s is valid JSON with three fields", e,
           hotkey_error_code((hotkey_err_e) e));
        cJSON_Delete(j);
    }

    is_int(hotkey_error_status(HOTKEY_ERR_INTERNAL), 500, "500");
    is_int(hotkey_error_status(HOTKEY_ERR_NO_ROUTE), 404, "404");
    is_int(hotkey_error_status(HOTKEY_ERR_THROTTLED), 429, "429");

    return done_testing();
}
