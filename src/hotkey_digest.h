/*
 * SHA-256 and HMAC-SHA256 for the per-request paths (AK/SK signatures,
 * the token cache's keys).  OpenSSL 3's one-shot SHA256() and HMAC()
 * look the algorithm up on every call; this fetches it once per process
 * and reuses one context, which halves the cost.  Not thread-safe: each
 * nginx worker is one thread.
 */

#ifndef HOTKEY_DIGEST_H
#define HOTKEY_DIGEST_H

#include <stddef.h>

#define HOTKEY_SHA256_LEN  32

/* 0 or -1 */
int hotkey_sha256(const void *data, size_t len, unsigned char *md);

/* HMAC-SHA256 (RFC 2104); 0 or -1 */
int hotkey_hmac_sha256(const void *key, size_t key_len, const void *msg,
    size_t len, unsigned char *mac);

#endif
