/*
 * Decimal numbers without printf: the store's commands, cache keys and
 * JSON answers are written on the hot path.
 */

#include <string.h>

#include "hotkey_num.h"


char *
hotkey_uint_write(char *p, uint64_t v)
{
    char    buf[HOTKEY_UINT_LEN];
    size_t  n;

    n = sizeof(buf);

    do {
        buf[--n] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);

    memcpy(p, buf + n, sizeof(buf) - n);

    return p + sizeof(buf) - n;
}
