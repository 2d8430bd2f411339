/*
 * For the fuzz targets: an operation's store command, as the module sends
 * it (EVALSHA, then EVAL with the script), read back by hiredis.  Each
 * must fit hotkey_store_request_size() and be exactly one RESP array,
 * nothing after it; check() then sees the command's bytes and the array.
 */

#ifndef FUZZ_REQUEST_H
#define FUZZ_REQUEST_H

#include <stdlib.h>
#include <hiredis/hiredis.h>

#include "hotkey_op.h"
#include "hotkey_store.h"


typedef void (*fuzz_request_check_pt)(const char *buf, size_t len,
    const redisReply *r, const void *data);


static void
fuzz_request(const hotkey_op_t *op, const hotkey_route_t *rt,
    const hotkey_args_t *a, fuzz_request_check_pt check, const void *data)
{
    int           eval;
    char         *buf;
    size_t        len, size;
    void         *reply;
    redisReader  *rd;

    for (eval = 0; eval < 2; eval++) {
        size = hotkey_store_request_size(op, rt->project_len, eval);
        buf = malloc(size);
        if (buf == NULL) {
            abort();
        }

        len = hotkey_store_request(buf, op, rt, a, eval);
        rd = redisReaderCreate();
        reply = NULL;

        if (len > size || rd == NULL
            || redisReaderFeed(rd, buf, len) != REDIS_OK
            || redisReaderGetReply(rd, &reply) != REDIS_OK || reply == NULL
            || ((redisReply *) reply)->type != REDIS_REPLY_ARRAY)
        {
            abort();
        }

        check(buf, len, reply, data);

        freeReplyObject(reply);
        reply = NULL;

        if (redisReaderGetReply(rd, &reply) != REDIS_OK || reply != NULL) {
            abort();
        }

        redisReaderFree(rd);
        free(buf);
    }
}

#endif
