/*
 * Key names to JSON.  A valid UTF-8 name keeps its characters, with JSON's
 * own escapes for quotes, backslashes and control characters; a name that
 * is not has each stray byte spelled "\xNN" and each backslash doubled, so
 * that the form can be reversed.
 */

#include <string.h>

#include "hotkey_json.h"


static const char  hotkey_hex[] = "0123456789abcdef";


size_t
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


/* the strict validator: a recursive descent over one JSON text */

#define HOTKEY_JSON_DEPTH  64

typedef struct {
    const unsigned char  *p;
    const unsigned char  *last;
    int                   depth;
} hotkey_jv_t;


static int hotkey_jv_value(hotkey_jv_t *v);


static void
hotkey_jv_ws(hotkey_jv_t *v)
{
    while (v->p < v->last
           && (*v->p == ' ' || *v->p == '\t' || *v->p == '\n'
               || *v->p == '\r'))
    {
        v->p++;
    }
}


static int
hotkey_jv_lit(hotkey_jv_t *v, const char *lit)
{
    size_t  n;

    n = strlen(lit);

    if ((size_t) (v->last - v->p) < n || memcmp(v->p, lit, n) != 0) {
        return 0;
    }

    v->p += n;

    return 1;
}


static int
hotkey_jv_hex4(hotkey_jv_t *v, unsigned *u)
{
    int  i, c;

    if (v->last - v->p < 4) {
        return 0;
    }

    *u = 0;

    for (i = 0; i < 4; i++) {
        c = v->p[i];
        c = (c >= '0' && c <= '9') ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;

        if (c < 0) {
            return 0;
        }

        *u = (*u << 4) | (unsigned) c;
    }

    v->p += 4;

    return 1;
}


static int
hotkey_jv_escape(hotkey_jv_t *v)
{
    unsigned  u, lo;

    if (v->p == v->last) {
        return 0;
    }

    if (strchr("\"\\/bfnrt", *v->p) && *v->p) {
        v->p++;
        return 1;
    }

    if (*v->p++ != 'u' || !hotkey_jv_hex4(v, &u)) {
        return 0;
    }

    if (u >= 0xdc00 && u <= 0xdfff) {
        return 0;
    }

    if (u < 0xd800 || u > 0xdbff) {
        return 1;
    }

    /* a high surrogate: its low half must follow */

    return hotkey_jv_lit(v, "\\u") && hotkey_jv_hex4(v, &lo)
           && lo >= 0xdc00 && lo <= 0xdfff;
}


static int
hotkey_jv_string(hotkey_jv_t *v)
{
    size_t  n;

    v->p++;

    while (v->p < v->last) {

        if (*v->p == '"') {
            v->p++;
            return 1;
        }

        if (*v->p == '\\') {
            v->p++;
            if (!hotkey_jv_escape(v)) {
                return 0;
            }

            continue;
        }

        if (*v->p < 0x20) {
            return 0;
        }

        n = hotkey_utf8_seq(v->p, v->last - v->p);
        if (n == 0) {
            return 0;
        }

        v->p += n;
    }

    return 0;
}


static int
hotkey_jv_digits(hotkey_jv_t *v)
{
    const unsigned char  *start;

    start = v->p;

    while (v->p < v->last && *v->p >= '0' && *v->p <= '9') {
        v->p++;
    }

    return v->p > start;
}


static int
hotkey_jv_number(hotkey_jv_t *v)
{
    if (*v->p == '-') {
        v->p++;
    }

    if (v->p < v->last && *v->p == '0') {
        v->p++;

    } else if (!hotkey_jv_digits(v)) {
        return 0;
    }

    if (v->p < v->last && *v->p == '.') {
        v->p++;
        if (!hotkey_jv_digits(v)) {
            return 0;
        }
    }

    if (v->p < v->last && (*v->p == 'e' || *v->p == 'E')) {
        v->p++;
        if (v->p < v->last && (*v->p == '+' || *v->p == '-')) {
            v->p++;
        }

        if (!hotkey_jv_digits(v)) {
            return 0;
        }
    }

    return 1;
}


/* an object or an array: members until the closing bracket */

static int
hotkey_jv_compound(hotkey_jv_t *v, int object)
{
    unsigned char  close;

    if (++v->depth > HOTKEY_JSON_DEPTH) {
        return 0;
    }

    close = object ? '}' : ']';
    v->p++;
    hotkey_jv_ws(v);

    if (v->p < v->last && *v->p == close) {
        v->p++;
        v->depth--;
        return 1;
    }

    for ( ;; ) {
        if (object) {
            hotkey_jv_ws(v);

            if (v->p == v->last || *v->p != '"' || !hotkey_jv_string(v)) {
                return 0;
            }

            hotkey_jv_ws(v);

            if (!hotkey_jv_lit(v, ":")) {
                return 0;
            }
        }

        if (!hotkey_jv_value(v)) {
            return 0;
        }

        hotkey_jv_ws(v);

        if (v->p < v->last && *v->p == ',') {
            v->p++;
            continue;
        }

        if (v->p < v->last && *v->p == close) {
            v->p++;
            v->depth--;
            return 1;
        }

        return 0;
    }
}


static int
hotkey_jv_value(hotkey_jv_t *v)
{
    hotkey_jv_ws(v);

    if (v->p == v->last) {
        return 0;
    }

    switch (*v->p) {
    case '{':
        return hotkey_jv_compound(v, 1);
    case '[':
        return hotkey_jv_compound(v, 0);
    case '"':
        return hotkey_jv_string(v);
    case 't':
        return hotkey_jv_lit(v, "true");
    case 'f':
        return hotkey_jv_lit(v, "false");
    case 'n':
        return hotkey_jv_lit(v, "null");
    }

    if (*v->p == '-' || (*v->p >= '0' && *v->p <= '9')) {
        return hotkey_jv_number(v);
    }

    return 0;
}


int
hotkey_json_valid(const char *p, size_t len)
{
    hotkey_jv_t  v;

    v.p = (const unsigned char *) p;
    v.last = v.p + len;
    v.depth = 0;

    if (!hotkey_jv_value(&v)) {
        return 0;
    }

    hotkey_jv_ws(&v);

    return v.p == v.last;
}
