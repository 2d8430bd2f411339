/*
 * Times of the store (integer milliseconds since the Unix epoch) and of
 * the API (UTC "YYYY-MM-DDTHH:MM:SS.mmmZ").  Plain C, no time zone.
 */

#ifndef HOTKEY_TIME_H
#define HOTKEY_TIME_H

#include <stddef.h>
#include <stdint.h>

#define HOTKEY_TIME_LEN     24              /* without the NUL */
#define HOTKEY_TIME_MS_MAX  253402300799999LL   /* 9999-12-31 */

/* strict: decimal digits, no sign, at most 15 digits, <= the maximum */
int hotkey_ms_parse(const char *p, size_t len, int64_t *ms);

/* writes HOTKEY_TIME_LEN bytes and a NUL into buf */
void hotkey_ms_format(int64_t ms, char *buf);

#endif
