/* A reply of the store from its RESP text, for the unit tests. */

#ifndef HOTKEY_TEST_REPLY_H
#define HOTKEY_TEST_REPLY_H

#include <string.h>

#include "hotkey_store.h"


/* the reply, NULL when the text is not one; freeReplyObject() it */
static redisReply *
reply(const char *resp)
{
    void         *r;
    redisReader  *rd;

    rd = hotkey_store_reader_create();
    r = NULL;

    if (redisReaderFeed(rd, resp, strlen(resp)) != REDIS_OK
        || redisReaderGetReply(rd, &r) != REDIS_OK)
    {
        r = NULL;
    }

    redisReaderFree(rd);

    return r;
}

#endif
