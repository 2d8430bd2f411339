/*
 * Key names to JSON.  A valid UTF-8 name keeps its characters, with JSON's
 * own escapes for quotes, backslashes and control characters; a name that
 * is not has each stray byte spelled "\xNN" and each backslash doubled, so
 * that the form can be reversed.
 */

#include <string.h>

#include "hotkey_json.h"


static const char  hotkey_hex[] = "0123456789abcdef";


/* the length of the valid UTF-8 sequence at p, or 0 */

static size_t
hotkey_utf8_seq(const unsigned char *p, size_t len)
{
    size_t         n, i;
    unsigned int   c, min;

    if (p[0] < 0x80) {
        return 1;
    }

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        c = p[0] & 0x1f;
        min = 0x80;

    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        c = p[0] & 0x0f;
        min = 0x800;

    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        c = p[0] & 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }

    return n;
}


int
hotkey_utf8_valid(const unsigned char *p, size_t len)
{
    size_t  n;

    while (len) {
        n = hotkey_utf8_seq(p, len);
        if (n == 0) {
            return 0;
        }

        p += n;
        len -= n;
    }

    return 1;
}


/* one character of a JSON string, JSON's escapes where it needs them */

static char *
hotkey_json_char(char *o, const unsigned char *p, size_t n)
{
    if (n > 1) {
        memcpy(o, p, n);
        return o + n;
    }

    switch (p[0]) {
    case '"':
        *o++ = '\\';
        *o++ = '"';
        return o;
    case '\\':
        *o++ = '\\';
        *o++ = '\\';
        return o;
    case '\n':
        *o++ = '\\';
        *o++ = 'n';
        return o;
    case '\r':
        *o++ = '\\';
        *o++ = 'r';
        return o;
    case '\t':
        *o++ = '\\';
        *o++ = 't';
        return o;
    }

    if (p[0] < 0x20) {
        memcpy(o, "\\u00", 4);
        o[4] = hotkey_hex[p[0] >> 4];
        o[5] = hotkey_hex[p[0] & 0xf];
        return o + 6;
    }

    *o++ = (char) p[0];

    return o;
}


size_t
hotkey_json_key_name(char *out, const unsigned char *name, size_t len)
{
    int     utf8;
    char   *o;
    size_t  n, i;

    utf8 = hotkey_utf8_valid(name, len);

    if (len > HOTKEY_NAME_MAX) {
        len = HOTKEY_NAME_MAX;

        /* back to the start of a character */
        while (utf8 && len && (name[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    o = out;

    for (i = 0; i < len; i += n) {
        n = hotkey_utf8_seq(name + i, len - i);

        if (utf8 || (n && name[i] != '\\')) {
            o = hotkey_json_char(o, name + i, n);
            continue;
        }

        if (name[i] == '\\') {
            memcpy(o, "\\\\\\\\", 4);
            o += 4;
            n = 1;
            continue;
        }

        /* a stray byte: "\xNN" in the value, "\\xNN" in JSON */

        memcpy(o, "\\\\x", 3);
        o[3] = hotkey_hex[name[i] >> 4];
        o[4] = hotkey_hex[name[i] & 0xf];
        o += 5;
        n = 1;
    }

    return o - out;
}
