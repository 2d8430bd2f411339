/*
 * The store's replies read where they were received: a reply is scanned
 * in its buffer, again from where the last scan stopped as more of it
 * arrives, then laid out as the tree hiredis's reader builds (the same
 * redisReply nodes, strings NUL-terminated in place) in memory the caller
 * gives: no copy of the bytes, no allocation per element.  The limits of
 * hotkey_store.h (elements of an array, bytes of a string) and hiredis's
 * nesting limit are checked while scanning.  Plain C.
 */

#ifndef HOTKEY_RESP_H
#define HOTKEY_RESP_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#define HOTKEY_RESP_DEPTH      8        /* arrays within arrays */
#define HOTKEY_RESP_MAX_NODES  65536    /* elements of one reply */

typedef enum {
    HOTKEY_RESP_DONE = 0,           /* a whole reply: buf[0 .. pos) */
    HOTKEY_RESP_BUILT,              /* the same, and its tree laid out */
    HOTKEY_RESP_AGAIN,              /* more bytes are needed */
    HOTKEY_RESP_ERROR               /* not RESP, or over a limit: err */
} hotkey_resp_rc_e;

typedef struct {
    size_t       pos;               /* bytes of whole elements */
    size_t       nodes;             /* elements so far */
    size_t       depth;             /* arrays open */
    size_t       left[HOTKEY_RESP_DEPTH];   /* elements each still owes */
    const char  *err;
} hotkey_resp_t;

void hotkey_resp_init(hotkey_resp_t *s);

/*
 * Scans the reply at buf (len bytes so far, the same start each call);
 * HOTKEY_RESP_AGAIN keeps its place for the next call with more bytes.
 */
hotkey_resp_rc_e hotkey_resp_scan(hotkey_resp_t *s, const char *buf,
    size_t len);

/*
 * The same, and, when the reply is there whole at the first call and its
 * tree fits in mem (size bytes, aligned for pointers), the tree at once:
 * HOTKEY_RESP_BUILT, its root in *root (first in mem).  Strings point into
 * buf, whose byte after each string becomes a NUL.  HOTKEY_RESP_DONE: the
 * reply is whole, its tree is for hotkey_resp_build().
 */
hotkey_resp_rc_e hotkey_resp_read(hotkey_resp_t *s, char *buf, size_t len,
    void *mem, size_t size, redisReply **root);

/* bytes of memory hotkey_resp_build() needs for a reply scanned whole */
size_t hotkey_resp_mem(const hotkey_resp_t *s);

/* the tree of a reply scanned whole, as hotkey_resp_read() lays it out */
redisReply *hotkey_resp_build(const hotkey_resp_t *s, char *buf, void *mem);

#endif
