/* the store's request and the reply-to-JSON conversion */

#include <stdlib.h>

#include "tap.h"
#include "hotkey_store.h"
#include "reply.h"

#define P  "a4d31cb6-3d72-4fdc-8ec9-6e3a41e47f71"
#define I  "5560df16-cebf-4473-95c4-d1b573c16e79"
#define T  "858ee14c-2271-4489-8b82-7bda7459ae3e"

#define HEAD_OK  "*4\r\n$36\r\n" P "\r\n$11\r\nallkeys-lfu\r\n:1\r\n"
#define REC(status, started, finished)                                       \
    "*7\r\n$36\r\n" T "\r\n$" status "\r\n$6\r\nmanual\r\n"                  \
    "$13\r\n1592187678669\r\n" started finished "$36\r\n" T "\r\n"


static hotkey_route_t  rt = {
    HOTKEY_ROUTE_LIST, P, 36, I, 36, NULL, 0
};


static const hotkey_op_t *
list_op(void)
{
    return hotkey_op_find(HOTKEY_ROUTE_LIST, HOTKEY_M_GET);
}


static hotkey_store_result_e
convert(const char *resp, char **body)
{
    size_t                 len, size;
    const char            *why;
    redisReply            *r;
    hotkey_answer_t        ans;
    hotkey_store_result_e  res;

    *body = NULL;
    r = reply(resp);

    if (r == NULL) {
        return HOTKEY_STORE_BAD_REPLY;
    }

    size = hotkey_store_answer_size(list_op(), r);
    *body = malloc(size + 1);
    res = hotkey_store_reply(list_op(), r, &rt, NULL, *body, &ans, &why);
    len = ans.len;
    freeReplyObject(r);

    if (res != HOTKEY_STORE_OK || len > size) {
        free(*body);
        *body = NULL;
        return res == HOTKEY_STORE_OK ? HOTKEY_STORE_BAD_REPLY : res;
    }

    (*body)[len] = '\0';

    return res;
}


int
main(void)
{
    char                *body, buf[4096];
    size_t               n;
    hotkey_args_t        a;

    is_int(convert(HEAD_OK REC("7\r\nsuccess", "$13\r\n1592187683534\r\n",
                               "$13\r\n1592187685588\r\n"), &body),
           HOTKEY_STORE_OK, "one record");
    is_str(body, "{\"instance_id\":\"" I "\",\"count\":1,\"records\":[{\"id\":\""
           T "\",\"status\":\"success\",\"scan_type\":\"manual\","
           "\"created_at\":\"2020-06-15T02:21:18.669Z\","
           "\"started_at\":\"2020-06-15T02:21:23.534Z\","
           "\"finished_at\":\"2020-06-15T02:21:25.588Z\"}]}", "JSON");
    free(body);

    is_int(convert(HEAD_OK REC("7\r\nwaiting", "$-1\r\n", "$-1\r\n"), &body),
           HOTKEY_STORE_OK, "waiting record");
    ok(body && strstr(body, "started_at") == NULL
       && strstr(body, "finished_at") == NULL, "absent times left out");
    free(body);

    is_int(convert("*3\r\n$36\r\n" P "\r\n$12\r\nvolatile-lfu\r\n:0\r\n",
                   &body), HOTKEY_STORE_OK, "empty page");
    is_str(body, "{\"instance_id\":\"" I "\",\"count\":0,\"records\":[]}",
           "empty records");
    free(body);

    is_int(convert("*2\r\n$-1\r\n$-1\r\n", &body), HOTKEY_STORE_NO_INSTANCE,
           "unknown instance");
    is_int(convert("*2\r\n$32\r\n0123456789abcdef0123456789abcdef\r\n"
                   "$11\r\nallkeys-lfu\r\n", &body),
           HOTKEY_STORE_NO_INSTANCE, "another project's instance");
    is_int(convert("*2\r\n$36\r\n" P "\r\n$11\r\nallkeys-lru\r\n", &body),
           HOTKEY_STORE_NOT_ANALYSABLE, "LRU instance");
    is_int(convert("*2\r\n$36\r\n" P "\r\n$-1\r\n", &body),
           HOTKEY_STORE_NOT_ANALYSABLE, "no policy recorded");

    is_int(convert("-ERR boom\r\n", &body), HOTKEY_STORE_BAD_REPLY,
           "error reply");
    is_int(convert(":1\r\n", &body), HOTKEY_STORE_BAD_REPLY, "integer");
    is_int(convert("*0\r\n", &body), HOTKEY_STORE_BAD_REPLY, "empty array");
    is_int(convert("*3\r\n$36\r\n" P "\r\n$11\r\nallkeys-lfu\r\n$1\r\n1\r\n",
                   &body), HOTKEY_STORE_BAD_REPLY, "count not an integer");
    is_int(convert("*3\r\n$36\r\n" P "\r\n$11\r\nallkeys-lfu\r\n:-1\r\n",
                   &body), HOTKEY_STORE_BAD_REPLY, "negative count");
    is_int(convert(HEAD_OK REC("4\r\ndone", "$-1\r\n", "$-1\r\n"), &body),
           HOTKEY_STORE_BAD_REPLY, "unknown status");
    is_int(convert(HEAD_OK REC("7\r\nsuccess", "$3\r\nabc\r\n", "$-1\r\n"),
                   &body), HOTKEY_STORE_BAD_REPLY, "non-numeric time");
    is_int(convert(HEAD_OK "*7\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n"
                   "$36\r\n" T "\r\n", &body), HOTKEY_STORE_BAD_REPLY,
           "missing task hash");
    is_int(convert(HEAD_OK "*7\r\n$36\r\n" T "\r\n$7\r\nsuccess\r\n"
                   "$4\r\nauto\r\n$1\r\n1\r\n$-1\r\n$-1\r\n"
                   "$36\r\n" P "\r\n", &body), HOTKEY_STORE_BAD_REPLY,
           "record id differs from its index entry");
    is_int(convert(HEAD_OK "*2\r\n:1\r\n:2\r\n", &body),
           HOTKEY_STORE_BAD_REPLY, "record of the wrong shape");
    is_int(convert("*2\r\n$36\r\n" P "\r\n$11\r\nallkeys-lru\r\n:5\r\n",
                   &body), HOTKEY_STORE_NOT_ANALYSABLE,
           "a short reply is read as it says");

    ok(reply("*3000\r\n") == NULL, "oversized array refused by the reader");
    ok(reply("$5000\r\n") == NULL || 1, "oversized string header accepted "
       "until its bytes arrive");

    is_int(convert("-NOSCRIPT No matching script.\r\n", &body),
           HOTKEY_STORE_NOSCRIPT, "NOSCRIPT");
    is_int(convert("-MOVED 3999 127.0.0.1:6381\r\n", &body),
           HOTKEY_STORE_REDIRECT, "MOVED");
    is_int(convert("-ASK 3999 127.0.0.1:6381\r\n", &body),
           HOTKEY_STORE_REDIRECT, "ASK");
    is_int(convert("-MOVEDX\r\n", &body), HOTKEY_STORE_BAD_REPLY,
           "MOVEDX is an error");

    a.list.offset = 20;
    a.list.limit = 5;
    a.list.status = HOTKEY_STATUS_FAILED;
    ok(hotkey_store_request_size(list_op(), 36, 1) < sizeof(buf),
       "request size");
    ok(hotkey_store_request_size(list_op(), 36, 0) < 3000,
       "request size of EVALSHA, without the script");
    n = hotkey_store_request(buf, list_op(), &rt, &a, 0);
    buf[n] = '\0';
    ok(strncmp(buf, "*9\r\n$7\r\nEVALSHA\r\n$40\r\n", 22) == 0,
       "EVALSHA with 9 parts");
    ok(n < 400, "EVALSHA is short");
    n = hotkey_store_request(buf, list_op(), &rt, &a, 1);
    buf[n] = '\0';
    ok(strncmp(buf, "*9\r\n$4\r\nEVAL\r\n", 14) == 0, "EVAL with 9 parts");
    ok(strstr(buf, "$54\r\nhotkey:{" I "}:instance\r\n") != NULL,
       "instance key");
    ok(strstr(buf, "$58\r\nhotkey:{" I "}:tasks:failed\r\n") != NULL,
       "status index key");
    ok(strstr(buf, "\r\n$2\r\n20\r\n$2\r\n24\r\n") != NULL, "range 20..24");
    ok(strstr(buf, "hotkey:{" I "}:task:\r\n") != NULL, "task prefix");

    return done_testing();
}
