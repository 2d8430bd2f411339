/*
 * JSON strings of the answers.  Key names come from analysed instances and
 * can hold any byte: api.md section 7 ("Details") says how they are
 * written.  Plain C.
 */

#ifndef HOTKEY_JSON_H
#define HOTKEY_JSON_H

#include <stddef.h>

#define HOTKEY_NAME_MAX      1024       /* bytes of a key name kept */
#define HOTKEY_NAME_JSON_MAX (HOTKEY_NAME_MAX * 6)

/*
 * 1 when p[0..len) is one JSON text as RFC 8259 writes it, strictly: UTF-8,
 * no control characters in strings, whitespace of space, tab, CR and LF
 * only, numbers without leading zeros, paired surrogate escapes, nesting
 * at most 64 deep.
 */
int hotkey_json_valid(const char *p, size_t len);

/* the length of the valid UTF-8 character at p (len > 0), or 0 */
size_t hotkey_utf8_seq(const unsigned char *p, size_t len);

/* 1 when p[0..len) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF) */
int hotkey_utf8_valid(const unsigned char *p, size_t len);

/*
 * Writes the body of a JSON string (no quotes) for a key name: valid
 * UTF-8 as it is, cut to HOTKEY_NAME_MAX bytes at a character boundary;
 * otherwise the first HOTKEY_NAME_MAX bytes, each byte outside a valid
 * sequence as "\xNN" and each backslash as "\\" in the string's value.
 * out holds HOTKEY_NAME_JSON_MAX bytes.  Returns the length written.
 */
size_t hotkey_json_key_name(char *out, const unsigned char *name,
    size_t len);

#endif
