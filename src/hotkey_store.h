/*
 * The task store's protocol: the one EVAL that lists an instance's tasks,
 * and the conversion of its reply into the API's JSON.  Plain C over
 * hiredis's reply reader; the Redis schema is documented in README.md.
 */

#ifndef HOTKEY_STORE_H
#define HOTKEY_STORE_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "hotkey_args.h"

#define HOTKEY_STORE_MAX_ELEMENTS  2048
#define HOTKEY_STORE_MAX_STRING    4096

typedef enum {
    HOTKEY_STORE_OK = 0,
    HOTKEY_STORE_NO_INSTANCE,       /* unknown, or another project's */
    HOTKEY_STORE_NOT_ANALYSABLE,    /* eviction policy is not LFU */
    HOTKEY_STORE_BAD_REPLY          /* error reply or nonsense */
} hotkey_store_result_e;

/* a reader whose replies are bounded in elements and string size */
redisReader *hotkey_store_reader_create(void);

/*
 * The same from a per-process stock of spare readers, and back into it
 * (or freed, when it is not between two replies).  Not thread-safe.
 */
redisReader *hotkey_store_reader_get(void);
void hotkey_store_reader_put(redisReader *rd);

/* frees the spare readers (at process exit) */
void hotkey_store_reader_drain(void);

/* bytes hotkey_store_list_request() may write */
size_t hotkey_store_list_request_size(size_t project_len);

/*
 * Writes the RESP command for one list into buf; the instance is a
 * validated UUID.  Returns the length written.
 */
size_t hotkey_store_list_request(char *buf, const char *project,
    size_t project_len, const char *instance, const hotkey_list_args_t *a);

/*
 * Converts the script's reply.  On HOTKEY_STORE_OK *body is a malloc()ed
 * JSON document (free() it) of *len bytes; on HOTKEY_STORE_BAD_REPLY
 * *why says what was wrong, for the error log.
 */
hotkey_store_result_e hotkey_store_list_reply(const redisReply *r,
    const char *project, size_t project_len, const char *instance,
    char **body, size_t *len, const char **why);

#endif
