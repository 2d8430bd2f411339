/*
 * Request bodies: the automatic analysis settings of PUT hotkey/autoscan
 * (api.md section 7), parsed strictly.  Plain C over cJSON.
 */

#ifndef HOTKEY_BODY_H
#define HOTKEY_BODY_H

#include <stddef.h>
#include <stdint.h>

#define HOTKEY_BODY_MAX    8192
#define HOTKEY_TIMES_MAX   24

typedef struct {
    int              enable;
    unsigned         ntimes;
    uint16_t         times[HOTKEY_TIMES_MAX];   /* minutes, sorted */
} hotkey_autoscan_t;

typedef enum {
    HOTKEY_BODY_OK = 0,
    HOTKEY_BODY_EMPTY,          /* DCS.4004 */
    HOTKEY_BODY_INVALID,        /* DCS.4005: not a JSON object, too big */
    HOTKEY_BODY_FIELD           /* DCS.4063: *field names it */
} hotkey_body_e;

hotkey_body_e hotkey_autoscan_parse(const char *p, size_t len,
    hotkey_autoscan_t *a, const char **field);

/* "HH:MM" of minutes since midnight at p; returns the end */
char *hotkey_hhmm_write(char *p, unsigned minutes);

/* "HH:MM,HH:MM" into buf (6 bytes a time); returns the length */
size_t hotkey_times_write(char *buf, const hotkey_autoscan_t *a);

/* the reverse, strictly (sorted, distinct); 0 on success */
int hotkey_times_read(const char *p, size_t len, hotkey_autoscan_t *a);

#endif
