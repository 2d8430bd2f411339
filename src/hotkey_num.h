/*
 * The one decimal writer: no printf, no locale, no NUL.  Plain C.
 */

#ifndef HOTKEY_NUM_H
#define HOTKEY_NUM_H

#include <stdint.h>

#define HOTKEY_UINT_LEN  20             /* digits of UINT64_MAX */

/* writes v in decimal at p; returns the end */
char *hotkey_uint_write(char *p, uint64_t v);

#endif
