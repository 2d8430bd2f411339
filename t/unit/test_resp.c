/* store replies read in place: the tree hiredis builds, the same verdicts */

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "hotkey_resp.h"
#include "reply.h"

#define T  "858ee14c-2271-4489-8b82-7bda7459ae3e"

#define REC                                                                  \
    "*7\r\n$36\r\n" T "\r\n$7\r\nsuccess\r\n$6\r\nmanual\r\n"                \
    "$13\r\n1592187678669\r\n$13\r\n1592187683534\r\n$-1\r\n$36\r\n" T "\r\n"


static char  mem[1 << 20];


static int
same(const redisReply *a, const redisReply *b)
{
    size_t  i;

    if (a->type != b->type) {
        return 0;
    }

    switch (a->type) {

    case REDIS_REPLY_INTEGER:
        return a->integer == b->integer;

    case REDIS_REPLY_NIL:
        return 1;

    case REDIS_REPLY_ARRAY:
        if (a->elements != b->elements) {
            return 0;
        }

        for (i = 0; i < a->elements; i++) {
            if (!same(a->element[i], b->element[i])) {
                return 0;
            }
        }

        return 1;

    default:
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0
               && a->str[a->len] == '\0' && b->str[b->len] == '\0';
    }
}


/* read whole at once; 1 when the tree is hiredis's */

static int
whole(const char *resp, size_t size)
{
    int             rc;
    char           *buf;
    size_t          len;
    redisReply     *want, *got;
    hotkey_resp_t   s;

    len = strlen(resp);
    buf = malloc(len);
    memcpy(buf, resp, len);
    want = reply(resp);
    got = NULL;

    hotkey_resp_init(&s);

    switch (hotkey_resp_read(&s, buf, len, mem, size, &got)) {

    case HOTKEY_RESP_BUILT:
        break;

    case HOTKEY_RESP_DONE:
        got = hotkey_resp_build(&s, buf, mem);
        break;

    default:
        got = NULL;
    }

    rc = want && got && s.pos == len && same(want, got);

    if (want) {
        freeReplyObject(want);
    }

    free(buf);

    return rc;
}


/* fed a byte at a time into a buffer of its own each time */

static int
bytewise(const char *resp)
{
    int               rc;
    char             *buf;
    size_t            len, n;
    redisReply       *want, *got;
    hotkey_resp_t     s;
    hotkey_resp_rc_e  r;

    len = strlen(resp);
    want = reply(resp);
    got = NULL;
    r = HOTKEY_RESP_AGAIN;
    buf = NULL;

    hotkey_resp_init(&s);

    for (n = 1; n <= len; n++) {
        free(buf);
        buf = malloc(n);
        memcpy(buf, resp, n);

        r = hotkey_resp_read(&s, buf, n, mem, sizeof(mem), &got);

        if (r != HOTKEY_RESP_AGAIN) {
            break;
        }
    }

    if (r == HOTKEY_RESP_DONE) {
        got = hotkey_resp_build(&s, buf, mem);
    }

    rc = (n == len || (len == 1 && n == 1)) && r != HOTKEY_RESP_AGAIN
         && r != HOTKEY_RESP_ERROR && want && got && s.pos == len
         && same(want, got);

    if (want) {
        freeReplyObject(want);
    }

    free(buf);

    return rc;
}


static hotkey_resp_rc_e
verdict(const char *resp)
{
    hotkey_resp_t  s;

    hotkey_resp_init(&s);

    return hotkey_resp_scan(&s, resp, strlen(resp));
}


static char *
repeat(const char *head, char c, size_t n, const char *tail)
{
    char    *p;
    size_t   h;

    h = strlen(head);
    p = malloc(h + n + strlen(tail) + 1);
    memcpy(p, head, h);
    memset(p + h, c, n);
    strcpy(p + h + n, tail);

    return p;
}


int
main(void)
{
    size_t          i;
    char           *big;
    redisReply     *root;
    hotkey_resp_t   s;
    static const char  *good[] = {
        "+OK\r\n",
        "-NOSCRIPT No matching script. Please use EVAL.\r\n",
        ":0\r\n", ":-1\r\n", ":9223372036854775807\r\n",
        ":-9223372036854775808\r\n",
        "$0\r\n\r\n", "$-1\r\n", "*-1\r\n", "*0\r\n",
        "$5\r\na\r\nbc\r\n",
        "+a\rb\r\n",
        "*4\r\n$36\r\n" T "\r\n$11\r\nallkeys-lfu\r\n:2\r\n" REC,
        "*5\r\n$36\r\n" T "\r\n$11\r\nallkeys-lfu\r\n:2\r\n" REC REC,
        "*3\r\n*0\r\n*2\r\n*1\r\n:1\r\n$-1\r\n+x\r\n",
        "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:7\r\n",
        "*2\r\n$3\r\nabcXY-ERR\r\n",
    };
    static const char  *bad[] = {
        "?\r\n", "$-2\r\n", "*-2\r\n", ":01\r\n", ":-0\r\n", ":+1\r\n",
        ":\r\n", ":-\r\n", ":1 \r\n", "$3x\r\nabc\r\n",
        ":9223372036854775808\r\n", ":-9223372036854775809\r\n",
        ":12345678901234567890\r\n", "*2049\r\n", "$4097\r\n",
        "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n",
        ":1\r2\r\n",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ok(whole(good[i], sizeof(mem)), "whole: hiredis's tree (%zu)", i);
        ok(bytewise(good[i]), "a byte at a time: hiredis's tree (%zu)", i);
        ok(whole(good[i], 100), "little room: built after (%zu)", i);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(verdict(bad[i]), HOTKEY_RESP_ERROR, "refused (%zu)", i);
        ok(reply(bad[i]) == NULL, "hiredis refuses it too (%zu)", i);
    }

    is_int(verdict("$5\r\nab"), HOTKEY_RESP_AGAIN, "a string in parts");
    is_int(verdict("*2\r\n:1\r\n"), HOTKEY_RESP_AGAIN, "an array in parts");
    is_int(verdict(":12"), HOTKEY_RESP_AGAIN, "a number in parts");
    is_int(verdict(":12\r"), HOTKEY_RESP_AGAIN, "a line end in parts");
    is_int(verdict(":12x"), HOTKEY_RESP_ERROR, "a number cut by junk");

    big = repeat("+", 'a', 4096, "\r\n");
    ok(whole(big, sizeof(mem)), "a status of 4096 bytes");
    free(big);
    big = repeat("-", 'a', 4098, "");
    is_int(verdict(big), HOTKEY_RESP_ERROR,
           "an error over 4096 bytes refused before its end");
    free(big);
    big = repeat("$4096\r\n", 'b', 4096, "\r\n");
    ok(whole(big, sizeof(mem)), "a string of 4096 bytes");
    free(big);
    big = repeat(":", '1', 19, "");
    is_int(verdict(big), HOTKEY_RESP_AGAIN, "19 digits may still be a number");
    free(big);
    big = repeat(":", '1', 20, "");
    is_int(verdict(big), HOTKEY_RESP_ERROR, "20 digits are not");
    free(big);

    hotkey_resp_init(&s);
    is_int(hotkey_resp_scan(&s, "+OK\r\n:5\r\n", 10), HOTKEY_RESP_DONE,
           "the first of two replies");
    is_int(s.pos, 5, "ends where the second begins");

    {
        char  buf[] = "*2\r\n$2\r\nab\r\n+OK\r\n";

        hotkey_resp_init(&s);
        root = NULL;
        ok(hotkey_resp_read(&s, buf, sizeof(buf) - 1, mem, sizeof(mem),
                            &root) == HOTKEY_RESP_BUILT
           && root == (redisReply *) mem
           && root->element[0]->str == buf + 8
           && strcmp(root->element[1]->str, "OK") == 0,
           "strings point into the buffer, NUL-terminated in place");
    }

    hotkey_resp_init(&s);
    ok(hotkey_resp_read(&s, "*1\r\n:1\r\n", 4, mem, sizeof(mem), &root)
       == HOTKEY_RESP_AGAIN
       && hotkey_resp_read(&s, "*1\r\n:1\r\n", 8, mem, sizeof(mem), &root)
          == HOTKEY_RESP_DONE,
       "a reply that came in parts is built apart");

    return done_testing();
}
