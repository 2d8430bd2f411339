/*
 * Fuzz target: the request path's reader (hotkey_resp.c) against hiredis's
 * (hotkey_store_reader_create(), the same limits) on the same bytes,
 * arriving in 1 to 3 chunks (the first byte % 3; cut at points taken from
 * the next two bytes).  Every reply hiredis reads whole is read whole here
 * too, at the same length, with the same tree (types, integers, strings
 * and their NULs, elements); where hiredis refuses the bytes they are
 * refused here too; where they are refused here, hiredis refuses them or
 * is still waiting for more (a line that cannot become valid is refused
 * here without waiting for its end).  Node areas of 64 KB and of 600 bytes
 * (the second byte's low bit): trees laid out at once or after.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hotkey_store.h"
#include "hotkey_resp.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static char  fuzz_nodes[64 * 1024];


static int
fuzz_same(const redisReply *a, const redisReply *b)
{
    size_t  i;

    if (a->type != b->type) {
        return 0;
    }

    switch (a->type) {

    case REDIS_REPLY_INTEGER:
        return a->integer == b->integer;

    case REDIS_REPLY_NIL:
        return a->str == NULL && b->str == NULL;

    case REDIS_REPLY_ARRAY:
        if (a->elements != b->elements) {
            return 0;
        }

        for (i = 0; i < a->elements; i++) {
            if (!fuzz_same(a->element[i], b->element[i])) {
                return 0;
            }
        }

        return 1;

    default:
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0
               && a->str[a->len] == '\0' && b->str[b->len] == '\0';
    }
}


/* hiredis over the chunks: its replies in want[], 1 when it refused */

static int
fuzz_hiredis(const uint8_t *data, const size_t *cut, redisReply **want,
    size_t *nwant)
{
    int           i;
    void         *r;
    redisReader  *rd;

    rd = hotkey_store_reader_create();
    if (rd == NULL) {
        abort();
    }

    *nwant = 0;

    for (i = 0; i < 3; i++) {
        if (cut[i + 1] <= cut[i]) {
            continue;
        }

        if (redisReaderFeed(rd, (const char *) data + cut[i],
                            cut[i + 1] - cut[i]) != REDIS_OK)
        {
            abort();
        }

        for ( ;; ) {
            r = NULL;

            if (redisReaderGetReply(rd, &r) != REDIS_OK) {
                redisReaderFree(rd);
                return 1;
            }

            if (r == NULL) {
                break;
            }

            if (*nwant == 64) {
                freeReplyObject(r);
                redisReaderFree(rd);
                return 0;
            }

            want[(*nwant)++] = r;
        }
    }

    redisReaderFree(rd);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                refused, i;
    char              *buf, *prev;
    void              *mem;
    size_t             cut[4], n, nwant, got, start, room, k;
    redisReply        *want[64], *reply;
    hotkey_resp_t      s;
    hotkey_resp_rc_e   rc;

    if (size < 3) {
        return 0;
    }

    n = size - 3;
    room = (data[1] & 1) ? 600 : sizeof(fuzz_nodes);
    cut[0] = 0;
    cut[1] = data[0] % 3 > 0 ? data[1] * n / 255 : n;
    cut[2] = data[0] % 3 > 1 ? cut[1] + data[2] * (n - cut[1]) / 255 : n;
    cut[3] = n;
    data += 3;

    refused = fuzz_hiredis(data, cut, want, &nwant);

    hotkey_resp_init(&s);
    got = 0;
    start = 0;
    buf = NULL;
    rc = HOTKEY_RESP_AGAIN;

    for (i = 0; i < 3 && rc != HOTKEY_RESP_ERROR && got < 64; i++) {
        if (cut[i + 1] <= cut[i]) {
            continue;
        }

        prev = buf;
        buf = malloc(cut[i + 1]);
        if (buf == NULL) {
            abort();
        }

        memcpy(buf, data, cut[i + 1]);
        free(prev);

        for ( ;; ) {
            reply = NULL;
            mem = NULL;
            rc = hotkey_resp_read(&s, buf + start, cut[i + 1] - start,
                                  fuzz_nodes, room, &reply);

            if (rc == HOTKEY_RESP_AGAIN || rc == HOTKEY_RESP_ERROR) {
                break;
            }

            if (rc == HOTKEY_RESP_DONE) {
                mem = malloc(hotkey_resp_mem(&s));
                reply = mem ? hotkey_resp_build(&s, buf + start, mem) : NULL;
            }

            /* a reply hiredis did not read whole, or another one */

            if (reply == NULL || got == nwant
                || !fuzz_same(want[got], reply))
            {
                abort();
            }

            free(mem);
            got++;
            start += s.pos;
            hotkey_resp_init(&s);

            if (got == 64) {
                break;
            }
        }
    }

    free(buf);

    if (rc == HOTKEY_RESP_ERROR && s.err == NULL) {
        abort();
    }

    /* as many replies; refused where hiredis refuses, or earlier */

    if (got != nwant || (refused && rc != HOTKEY_RESP_ERROR && got < 64)) {
        abort();
    }

    for (k = 0; k < nwant; k++) {
        freeReplyObject(want[k]);
    }

    return 0;
}
