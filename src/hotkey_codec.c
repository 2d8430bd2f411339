/*
 * Lowercase hex, unpadded base64url, percent-decoding, bounded decimal
 * numbers, and whole small files.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotkey_codec.h"


static int hotkey_codec_xdigit(unsigned char c);
static int hotkey_codec_b64val(unsigned char c);


static const char  hotkey_codec_hexdigits[] = "0123456789abcdef";
static const char  hotkey_codec_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


void
hotkey_codec_hex(const unsigned char *in, size_t len, char *out)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        *out++ = hotkey_codec_hexdigits[in[i] >> 4];
        *out++ = hotkey_codec_hexdigits[in[i] & 0x0f];
    }

    *out = '\0';
}


/*
 * A hex digit's value plus one, 0 for any other byte: a lookup, with no
 * branch for random digits to mispredict; static, so that the decoders
 * below inline it (the exported name is reached through the PLT in the
 * module's .so, a call per digit).
 */

static const unsigned char  hotkey_codec_xdigits[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
    ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16
};


static int
hotkey_codec_xdigit(unsigned char c)
{
    return (int) hotkey_codec_xdigits[c] - 1;
}


int
hotkey_codec_hexval(unsigned char c)
{
    return hotkey_codec_xdigit(c);
}


int
hotkey_codec_unhex(const char *in, size_t len, unsigned char *out,
    size_t size)
{
    int     hi, lo, bad;
    size_t  i;

    if (len != size * 2) {
        return -1;
    }

    /* every digit decoded, one test at the end */

    for (bad = 0, i = 0; i < size; i++) {
        hi = hotkey_codec_xdigit((unsigned char) in[2 * i]);
        lo = hotkey_codec_xdigit((unsigned char) in[2 * i + 1]);

        bad |= hi | lo;
        out[i] = (unsigned char) ((unsigned) hi << 4 | (unsigned) lo);
    }

    return bad < 0 ? -1 : 0;
}


void
hotkey_codec_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    unsigned long  v;

    while (len >= 3) {
        v = (unsigned long) in[0] << 16 | in[1] << 8 | in[2];
        *out++ = hotkey_codec_b64[v >> 18];
        *out++ = hotkey_codec_b64[(v >> 12) & 0x3f];
        *out++ = hotkey_codec_b64[(v >> 6) & 0x3f];
        *out++ = hotkey_codec_b64[v & 0x3f];
        in += 3;
        len -= 3;
    }

    if (len) {
        v = (unsigned long) in[0] << 16 | (len == 2 ? in[1] << 8 : 0);
        *out++ = hotkey_codec_b64[v >> 18];
        *out++ = hotkey_codec_b64[(v >> 12) & 0x3f];

        if (len == 2) {
            *out++ = hotkey_codec_b64[(v >> 6) & 0x3f];
        }
    }

    *out = '\0';
}


static int
hotkey_codec_b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '-') {
        return 62;
    }

    return c == '_' ? 63 : -1;
}


long
hotkey_codec_b64url_decode(const char *in, size_t len, unsigned char *out,
    size_t size)
{
    int            d;
    size_t         i, n, bits;
    unsigned long  acc;

    if (len % 4 == 1 || len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > size) {
        return -1;
    }

    acc = 0;
    bits = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        d = hotkey_codec_b64val((unsigned char) in[i]);
        if (d < 0) {
            return -1;
        }

        acc = (acc << 6 | (unsigned long) d) & 0xffffff;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char) (acc >> bits);
        }
    }

    if (acc & ((1UL << bits) - 1)) {
        return -1;
    }

    return (long) n;
}


int
hotkey_codec_pct_next(const char **p, const char *end, int plus)
{
    int            hi, lo;
    unsigned char  c;

    if (*p >= end) {
        return HOTKEY_PCT_END;
    }

    c = *(*p)++;

    if (c == '+' && plus) {
        return ' ';
    }

    if (c != '%') {
        return c;
    }

    if (end - *p < 2) {
        return HOTKEY_PCT_BAD;
    }

    hi = hotkey_codec_xdigit((unsigned char) (*p)[0]);
    lo = hotkey_codec_xdigit((unsigned char) (*p)[1]);

    if (hi < 0 || lo < 0) {
        return HOTKEY_PCT_BAD;
    }

    *p += 2;

    return hi << 4 | lo;
}


ssize_t
hotkey_codec_pct_decode(const char *p, const char *end, char *buf,
    size_t size)
{
    int     c;
    size_t  n;

    for (n = 0; (c = hotkey_codec_pct_next(&p, end, 0)) >= 0; n++) {
        if (n == size) {
            return -1;
        }

        buf[n] = (char) c;
    }

    return c == HOTKEY_PCT_END ? (ssize_t) n : -1;
}


int
hotkey_parse_uint(const char *p, size_t len, size_t max_digits,
    uint64_t max, uint64_t *out)
{
    size_t    i;
    uint64_t  v;

    if (len == 0 || len > max_digits || max_digits > 20) {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }

        /* only a 20th digit can pass UINT64_MAX */

        if (i == 19 && v > (UINT64_MAX - (uint64_t) (p[i] - '0')) / 10) {
            return -1;
        }

        v = v * 10 + (uint64_t) (p[i] - '0');
    }

    if (v > max) {
        return -1;
    }

    *out = v;

    return 0;
}


char *
hotkey_read_file(const char *path, size_t max, size_t *len,
    const char **why)
{
    long    size;
    FILE   *f;
    char   *data;
    size_t  n;

    f = fopen(path, "rb");
    if (f == NULL) {
        *why = strerror(errno);
        return NULL;
    }

    data = NULL;
    *why = "too large, or cannot be read";

    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0
        && (size_t) size <= max && fseek(f, 0, SEEK_SET) == 0
        && (data = malloc(size + 1)) != NULL)
    {
        n = fread(data, 1, size, f);

        if (n == (size_t) size) {
            data[n] = '\0';
            *len = n;

        } else {
            free(data);
            data = NULL;
        }
    }

    fclose(f);

    return data;
}
