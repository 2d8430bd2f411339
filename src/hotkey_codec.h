/*
 * Small encoders shared by the authentication code: lowercase hex and
 * base64url without padding (RFC 7515 section 2).  Plain C, no
 * allocation.
 */

#ifndef HOTKEY_CODEC_H
#define HOTKEY_CODEC_H

#include <stddef.h>
#include <stdint.h>

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
