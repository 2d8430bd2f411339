/*
 * Small codecs shared by the parsers: lowercase hex, base64url without
 * padding (RFC 7515 section 2), percent-decoding (the query arguments
 * and the AK/SK canonical request), bounded decimal numbers, and whole
 * small files.  Plain C; only hotkey_read_file allocates.
 */

#ifndef HOTKEY_CODEC_H
#define HOTKEY_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HOTKEY_PCT_END  -1              /* hotkey_codec_pct_next results */
#define HOTKEY_PCT_BAD  -2

/* output sizes, without the NUL */
#define hotkey_codec_hex_len(n)     ((n) * 2)
#define hotkey_codec_b64url_len(n)  (((n) * 4 + 2) / 3)

/* writes 2 * len lowercase hex digits and a NUL */
void hotkey_codec_hex(const unsigned char *in, size_t len, char *out);

/* the value of one hex digit of either case, or -1 */
int hotkey_codec_hexval(unsigned char c);

/*
 * Decodes exactly 2 * size hex digits of either case into out.
 * Returns 0, or -1 on a length mismatch or a non-hex digit.
 */
int hotkey_codec_unhex(const char *in, size_t len, unsigned char *out,
    size_t size);

/* writes hotkey_codec_b64url_len(len) characters and a NUL */
void hotkey_codec_b64url_encode(const unsigned char *in, size_t len,
    char *out);

/*
 * Strict base64url: the URL-safe alphabet, no padding, no white space,
 * no non-zero trailing bits.  Returns the decoded length, or -1 when the
 * input is invalid or the result would not fit in size bytes.
 */
long hotkey_codec_b64url_decode(const char *in, size_t len,
    unsigned char *out, size_t size);

/*
 * The next byte of the percent-encoded text at *p (before end), with '+'
 * read as a space when plus is set: the byte (0 to 255), HOTKEY_PCT_END
 * at the end, or HOTKEY_PCT_BAD for a '%' without two hex digits.
 */
int hotkey_codec_pct_next(const char **p, const char *end, int plus);

/*
 * Percent-decodes p..end ('+' stays '+') into buf: the decoded length,
 * or -1 when an escape is broken or the result is longer than size.
 */
ssize_t hotkey_codec_pct_decode(const char *p, const char *end, char *buf,
    size_t size);

/*
 * Decimal digits only (no sign, no space), at most max_digits of them,
 * value <= max.  0 or -1.
 */
int hotkey_parse_uint(const char *p, size_t len, size_t max_digits,
    uint64_t max, uint64_t *out);

/*
 * A whole file of at most max bytes, malloc()ed (free it, after
 * OPENSSL_cleanse when it holds secrets).  NULL with a short reason
 * ("cannot open: ...", "larger than ...", "read error") in *why.
 */
char *hotkey_read_file(const char *path, size_t max, size_t *len,
    const char **why);

#endif
