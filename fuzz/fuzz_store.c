/*
 * Fuzz target: RESP bytes -> hiredis reader (as the module builds it) ->
 * hotkey_store_reply (each operation's reply to JSON).  The first byte
 * chooses how the rest is fed, byte % 3: in 1, 2 or 3 chunks, cut at
 * points taken from the next two bytes; and the operation, byte / 3 % 6:
 * list, create, details, delete, autoscan get, autoscan put (the order of
 * hotkey_op_e; seeds whose first byte is 0 to 2 are list replies).  Every
 * complete reply is converted and freed; an answer never outgrows
 * hotkey_store_answer_size(), and a failure always says why.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hotkey_store.h"


#define FUZZ_P  "a4d31cb6-3d72-4fdc-8ec9-6e3a41e47f71"
#define FUZZ_I  "5560df16-cebf-4473-95c4-d1b573c16e79"
#define FUZZ_T  "858ee14c-2271-4489-8b82-7bda7459a000"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static hotkey_route_t  fuzz_rt = {
    HOTKEY_ROUTE_LIST, FUZZ_P, sizeof(FUZZ_P) - 1, FUZZ_I, 36, NULL, 0
};

static hotkey_route_t  fuzz_task_rt = {
    HOTKEY_ROUTE_TASK, FUZZ_P, sizeof(FUZZ_P) - 1, FUZZ_I, 36, FUZZ_T, 36
};


static void
fuzz_drain(redisReader *rd, const hotkey_op_t *op, int *broken)
{
    int                     n;
    char                   *body;
    void                   *reply;
    size_t                  len, size;
    const char             *why;
    hotkey_answer_t         ans;
    hotkey_store_result_e   res;

    for (n = 0; n < 64 && !*broken; n++) {
        reply = NULL;

        if (redisReaderGetReply(rd, &reply) != REDIS_OK) {
            *broken = 1;
            return;
        }

        if (reply == NULL) {
            return;
        }

        size = hotkey_store_answer_size(op, reply);
        body = malloc(size);
        why = NULL;

        if (body == NULL) {
            abort();
        }

        res = hotkey_store_reply(op, reply,
                                 op->route == HOTKEY_ROUTE_TASK
                                 ? &fuzz_task_rt : &fuzz_rt,
                                 op->id == HOTKEY_OP_CREATE ? FUZZ_T : NULL,
                                 body, &ans, &why);
        len = ans.len;

        if ((res == HOTKEY_STORE_OK && len > size)
            || (res != HOTKEY_STORE_OK && (len != 0 || why == NULL)))
        {
            abort();
        }

        free(body);
        hotkey_store_reply_done(rd, reply);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 broken, chunks, i;
    char               *copy;
    size_t              cut[4], n;
    redisReader        *rd;
    const hotkey_op_t  *op;

    if (size < 3) {
        return 0;
    }

    chunks = data[0] % 3 + 1;
    op = hotkey_op_get((hotkey_op_e) (data[0] / 3 % HOTKEY_OP_LAST));
    n = size - 3;

    cut[0] = 0;
    cut[1] = chunks > 1 ? data[1] * n / 255 : n;
    cut[2] = chunks > 2 ? cut[1] + data[2] * (n - cut[1]) / 255 : n;
    cut[3] = n;

    data += 3;

    rd = hotkey_store_reader_get();       /* the arena reader */
    if (rd == NULL) {
        return 0;
    }

    broken = 0;

    for (i = 0; i < 3 && !broken; i++) {
        if (cut[i + 1] <= cut[i]) {
            continue;
        }

        /* each chunk in its own block: reads past it are caught */
        copy = malloc(cut[i + 1] - cut[i]);
        if (copy == NULL) {
            break;
        }

        memcpy(copy, data + cut[i], cut[i + 1] - cut[i]);

        if (redisReaderFeed(rd, copy, cut[i + 1] - cut[i]) != REDIS_OK) {
            broken = 1;
        }

        free(copy);

        fuzz_drain(rd, op, &broken);
    }

    hotkey_store_reader_put(rd);

    return 0;
}
