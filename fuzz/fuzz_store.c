/*
 * Fuzz target: RESP bytes -> the request path's reader (hotkey_resp.c,
 * the reply read where it arrives) -> hotkey_store_reply (each operation's
 * reply to JSON).  The first byte chooses how the rest arrives, byte % 3:
 * in 1, 2 or 3 chunks, cut at points taken from the next two bytes, each
 * appended to what is there, in a buffer of its own (reads past the bytes
 * are caught); and the operation, byte / 3 % 6: list, create, details,
 * delete, autoscan get, autoscan put (the order of hotkey_op_e; seeds
 * whose first byte is 0 to 2 are list replies).  Every complete reply is
 * converted, its tree laid out at once or, when it came in parts or the
 * node area is small (the second byte's low bit), after; an answer never
 * outgrows hotkey_store_answer_size(), and a failure always says why.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hotkey_store.h"
#include "hotkey_resp.h"


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


static char  fuzz_nodes[64 * 1024];


static void
fuzz_convert(const hotkey_op_t *op, const redisReply *reply)
{
    char                   *body;
    size_t                  size;
    const char             *why;
    hotkey_answer_t         ans;
    hotkey_store_result_e   res;

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

    if ((res == HOTKEY_STORE_OK && ans.len > size)
        || (res != HOTKEY_STORE_OK && (ans.len != 0 || why == NULL)))
    {
        abort();
    }

    free(body);
}


/* the replies whole in buf[*start .. len): converted, *start past them */

static int
fuzz_drain(hotkey_resp_t *s, char *buf, size_t *start, size_t len,
    size_t room, const hotkey_op_t *op)
{
    int          n;
    void        *mem;
    redisReply  *reply;

    for (n = 0; n < 64; n++) {
        reply = NULL;

        switch (hotkey_resp_read(s, buf + *start, len - *start, fuzz_nodes,
                                 room, &reply))
        {
        case HOTKEY_RESP_AGAIN:
            return 0;

        case HOTKEY_RESP_ERROR:
            if (s->err == NULL) {
                abort();
            }

            return 1;

        case HOTKEY_RESP_DONE:
            mem = malloc(hotkey_resp_mem(s));
            reply = mem ? hotkey_resp_build(s, buf + *start, mem) : NULL;

            if (reply == NULL) {
                abort();
            }

            fuzz_convert(op, reply);
            free(mem);
            break;

        default:
            fuzz_convert(op, reply);
        }

        *start += s->pos;
        hotkey_resp_init(s);
    }

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 broken, chunks, i;
    char               *buf, *prev;
    size_t              cut[4], n, start, room;
    hotkey_resp_t       s;
    const hotkey_op_t  *op;

    if (size < 3) {
        return 0;
    }

    chunks = data[0] % 3 + 1;
    op = hotkey_op_get((hotkey_op_e) (data[0] / 3 % HOTKEY_OP_LAST));
    room = (data[1] & 1) ? 600 : sizeof(fuzz_nodes);
    n = size - 3;

    cut[0] = 0;
    cut[1] = chunks > 1 ? data[1] * n / 255 : n;
    cut[2] = chunks > 2 ? cut[1] + data[2] * (n - cut[1]) / 255 : n;
    cut[3] = n;

    data += 3;

    hotkey_resp_init(&s);
    broken = 0;
    start = 0;
    buf = NULL;

    for (i = 0; i < 3 && !broken; i++) {
        if (cut[i + 1] <= cut[i]) {
            continue;
        }

        /* what is there so far, in a block of its own */

        prev = buf;
        buf = malloc(cut[i + 1]);
        if (buf == NULL) {
            abort();
        }

        memcpy(buf, data, cut[i + 1]);
        free(prev);

        broken = fuzz_drain(&s, buf, &start, cut[i + 1], room, op);
    }

    free(buf);

    return 0;
}
