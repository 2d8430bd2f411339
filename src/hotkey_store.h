/*
 * The task store's protocol: one script per operation (EVALSHA, EVAL when
 * the store has not seen it; hotkey_store.c), and its reply turned into
 * the API's JSON (hotkey_reply.c).  Plain C over hiredis's reply tree
 * (redisReply); the Redis schema is in README.md.
 */

#ifndef HOTKEY_STORE_H
#define HOTKEY_STORE_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "hotkey_op.h"

#define HOTKEY_STORE_MAX_ELEMENTS  2048
#define HOTKEY_STORE_MAX_STRING    4096

typedef enum {
    HOTKEY_STORE_OK = 0,
    HOTKEY_STORE_NO_INSTANCE,       /* unknown, or another project's */
    HOTKEY_STORE_NOT_ANALYSABLE,    /* eviction policy is not LFU */
    HOTKEY_STORE_NO_TASK,           /* no such task in the instance */
    HOTKEY_STORE_CONFLICT,          /* not allowed in the current state */
    HOTKEY_STORE_NOSCRIPT,          /* EVALSHA of a script it forgot */
    HOTKEY_STORE_REDIRECT,          /* MOVED, ASK, TRYAGAIN: cluster */
    HOTKEY_STORE_BAD_REPLY          /* error reply or nonsense */
} hotkey_store_result_e;

/*
 * A reader whose replies are bounded in elements and string size (the
 * subscription's and the slot map's; the request path reads its replies
 * with hotkey_resp.c, within the same bounds)
 */
redisReader *hotkey_store_reader_create(void);

/* bytes hotkey_store_request() may write, with the script's text (eval) */
size_t hotkey_store_request_size(const hotkey_op_t *op, size_t project_len,
    int eval);

/*
 * Writes the RESP command of an operation into buf: EVALSHA of its script,
 * or (eval) the whole script.  The ids are validated.  Returns the length.
 */
size_t hotkey_store_request(char *buf, const hotkey_op_t *op,
    const hotkey_route_t *rt, const hotkey_args_t *a, int eval);

/* "hotkey:{<instance>}:task:<id><what>" into buf (160 bytes) */
size_t hotkey_store_task_key(char *buf, const char *instance, const char *id,
    const char *what);

/* what a reply became */
typedef struct {
    size_t               len;       /* of the JSON answer */
    unsigned             status;    /* HTTP: 200, or 204 without a body */
    unsigned             fleeting:1; /* may change any moment: not cached */
} hotkey_answer_t;

/* bytes the answer to this reply may take in hotkey_store_reply() */
size_t hotkey_store_answer_size(const hotkey_op_t *op, const redisReply *r);

/*
 * Converts the script's reply ("id": the task created, for a create).
 * On HOTKEY_STORE_OK the JSON answer is in
 * out (hotkey_store_answer_size() bytes); otherwise *why says what the
 * reply was, for the error log.
 */
hotkey_store_result_e hotkey_store_reply(const hotkey_op_t *op,
    const redisReply *r, const hotkey_route_t *rt, const char *id,
    char *out, hotkey_answer_t *ans, const char **why);

#endif
