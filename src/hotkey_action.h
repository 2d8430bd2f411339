/*
 * The IAM-style actions of api.md section 5 as a bit mask, shared by
 * the credentials file and the JWT claims.
 */

#ifndef HOTKEY_ACTION_H
#define HOTKEY_ACTION_H

#include <stddef.h>

#define HOTKEY_ACTION_LIST_HOTKEY      0x01  /* dcs:instance:listHotKey */
#define HOTKEY_ACTION_ANALYZE          0x02  /* dcs:instance:analyze */
#define HOTKEY_ACTION_GET_AUTOSCAN     0x04
                               /* dcs:instance:getHotKeyAutoScanConfig */
#define HOTKEY_ACTION_UPDATE_AUTOSCAN  0x08
                               /* dcs:instance:updateHotKeyAutoScanConfig */
#define HOTKEY_ACTION_ALL              0x0f

/*
 * The bits one action name grants: one of the four actions, or all of
 * them for "dcs:instance:*", "dcs:*:*" and "*" (ASCII case-insensitive,
 * as IAM matches actions).  0 for an unknown name.
 */
unsigned hotkey_action_parse(const char *name, size_t len);

/* the IAM name of one bit, e.g. for the DCS.2007 message; NULL if none */
const char *hotkey_action_name(unsigned bit);

#endif
