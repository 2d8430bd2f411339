/*
 * The RESP commands that run the store's scripts (hotkey_scripts.c), and
 * hiredis readers bounded for their replies.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hotkey_store.h"
#include "hotkey_route.h"
#include "hotkey_num.h"


#define HOTKEY_KEY_PREFIX  "hotkey:{"
#define HOTKEY_UUID_LEN    36


/* per process: the SHA-1 of each script, in hex, once computed */

static char  hotkey_script_shas[HOTKEY_SCRIPT_LAST][41];

/* the parts of each script's command after the script: numkeys, keys, argv */

static const size_t  hotkey_script_nargs[HOTKEY_SCRIPT_LAST] = {
    1 + 2 + 4,      /* list */
    1 + 1 + 4,      /* create */
    1 + 3 + 1,      /* details */
    1 + 4 + 4,      /* delete */
    1 + 2 + 1,      /* autoscan get */
    1 + 2 + 5       /* autoscan put */
};


static void *(*hotkey_orig_create_array)(const redisReadTask *, int);
static void *(*hotkey_orig_create_string)(const redisReadTask *, char *,
    size_t);
static redisReplyObjectFunctions  hotkey_reply_fns;


static void *
hotkey_create_array(const redisReadTask *task, int n)
{
    if (n < 0 || n > HOTKEY_STORE_MAX_ELEMENTS) {
        return NULL;
    }

    return hotkey_orig_create_array(task, n);
}


static void *
hotkey_create_string(const redisReadTask *task, char *s, size_t len)
{
    if (len > HOTKEY_STORE_MAX_STRING) {
        return NULL;
    }

    return hotkey_orig_create_string(task, s, len);
}


redisReader *
hotkey_store_reader_create(void)
{
    redisReader  *rd;

    rd = redisReaderCreate();
    if (rd == NULL) {
        return NULL;
    }

    if (hotkey_orig_create_array == NULL) {
        hotkey_reply_fns = *rd->fn;
        hotkey_orig_create_array = rd->fn->createArray;
        hotkey_orig_create_string = rd->fn->createString;
        hotkey_reply_fns.createArray = hotkey_create_array;
        hotkey_reply_fns.createString = hotkey_create_string;
    }

    rd->fn = &hotkey_reply_fns;

    return rd;
}


static char *
hotkey_resp_bulk(char *p, const char *s, size_t len)
{
    *p++ = '$';
    p = hotkey_uint_write(p, len);
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, s, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';

    return p;
}


static char *
hotkey_resp_uint(char *p, uint64_t v)
{
    char  num[HOTKEY_UINT_LEN];

    return hotkey_resp_bulk(p, num, hotkey_uint_write(num, v) - num);
}


/* "hotkey:{<instance>}:" followed by what */

static char *
hotkey_resp_key(char *p, const char *instance, const char *what)
{
    char    key[128], *k;
    size_t  n;

    n = strlen(what);
    k = key;
    memcpy(k, HOTKEY_KEY_PREFIX, sizeof(HOTKEY_KEY_PREFIX) - 1);
    k += sizeof(HOTKEY_KEY_PREFIX) - 1;
    memcpy(k, instance, HOTKEY_UUID_LEN);
    k += HOTKEY_UUID_LEN;
    *k++ = '}';
    *k++ = ':';
    memcpy(k, what, n);
    k += n;

    return hotkey_resp_bulk(p, key, k - key);
}


static const char *
hotkey_script_sha(hotkey_script_e id)
{
    char                   *sha;
    size_t                  i, n;
    unsigned char           md[EVP_MAX_MD_SIZE];
    const hotkey_script_t  *sc;
    static const char       hex[] = "0123456789abcdef";

    sha = hotkey_script_shas[id];

    if (sha[0]) {
        return sha;
    }

    sc = hotkey_script(id);

    if (EVP_Q_digest(NULL, "SHA1", NULL, sc->body, sc->len, md, &n) == 0
        || n != 20)
    {
        return NULL;
    }

    for (i = 0; i < 20; i++) {
        sha[2 * i] = hex[md[i] >> 4];
        sha[2 * i + 1] = hex[md[i] & 0xf];
    }

    sha[40] = '\0';

    return sha;
}


size_t
hotkey_store_request_size(const hotkey_op_t *op, size_t project_len,
    int eval)
{
    return (eval ? hotkey_script(op->script)->len : 40) + project_len
           + 20 * 128;
}


/* "hotkey:{<instance>}:" */

static size_t
hotkey_store_prefix(char *buf, const char *instance)
{
    char  *p;

    p = buf;
    memcpy(p, HOTKEY_KEY_PREFIX, sizeof(HOTKEY_KEY_PREFIX) - 1);
    p += sizeof(HOTKEY_KEY_PREFIX) - 1;
    memcpy(p, instance, HOTKEY_UUID_LEN);
    p += HOTKEY_UUID_LEN;
    *p++ = '}';
    *p++ = ':';

    return p - buf;
}


/* the key "hotkey:{<instance>}:task:<task>" and what follows it */

static char *
hotkey_resp_task_key(char *p, const hotkey_route_t *rt, const char *id,
    const char *what)
{
    char  buf[160];

    return hotkey_resp_bulk(p, buf,
                            hotkey_store_task_key(buf, rt->instance, id, what));
}


size_t
hotkey_store_task_key(char *buf, const char *instance, const char *id,
    const char *what)
{
    size_t  n, w;

    n = hotkey_store_prefix(buf, instance);
    memcpy(buf + n, "task:", 5);
    memcpy(buf + n + 5, id, HOTKEY_UUID_LEN);
    n += 5 + HOTKEY_UUID_LEN;

    w = strlen(what);
    memcpy(buf + n, what, w);

    return n + w;
}


static char *
hotkey_store_list_args(char *p, const hotkey_route_t *rt,
    const hotkey_list_args_t *a)
{
    char         what[32];
    const char  *status;

    p = hotkey_resp_bulk(p, "2", 1);
    p = hotkey_resp_key(p, rt->instance, "instance");

    status = hotkey_status_name(a->status);

    if (status) {
        memcpy(what, "tasks:", 6);
        memcpy(what + 6, status, strlen(status) + 1);
        p = hotkey_resp_key(p, rt->instance, what);

    } else {
        p = hotkey_resp_key(p, rt->instance, "tasks");
    }

    p = hotkey_resp_bulk(p, rt->project, rt->project_len);
    p = hotkey_resp_uint(p, (uint64_t) a->offset);
    p = hotkey_resp_uint(p, (uint64_t) (a->offset + a->limit - 1));

    return hotkey_resp_key(p, rt->instance, "task:");
}


static char *
hotkey_store_create_args(char *p, const hotkey_route_t *rt,
    const hotkey_args_t *a)
{
    p = hotkey_resp_bulk(p, "1", 1);
    p = hotkey_resp_key(p, rt->instance, "instance");
    p = hotkey_resp_bulk(p, rt->project, rt->project_len);
    p = hotkey_resp_bulk(p, a->id, HOTKEY_UUID_LEN);
    p = hotkey_resp_bulk(p, "manual", 6);

    return hotkey_resp_uint(p, (uint64_t) a->now);
}


static char *
hotkey_store_task_args(char *p, const hotkey_op_t *op,
    const hotkey_route_t *rt)
{
    char  prefix[64];

    p = hotkey_resp_bulk(p, op->id == HOTKEY_OP_DELETE ? "4" : "3", 1);
    p = hotkey_resp_key(p, rt->instance, "instance");
    p = hotkey_resp_task_key(p, rt, rt->task, "");
    p = hotkey_resp_task_key(p, rt, rt->task, ":keys");

    if (op->id == HOTKEY_OP_DETAILS) {
        return hotkey_resp_bulk(p, rt->project, rt->project_len);
    }

    p = hotkey_resp_key(p, rt->instance, "tasks");
    p = hotkey_resp_bulk(p, rt->project, rt->project_len);
    p = hotkey_resp_bulk(p, rt->task, HOTKEY_UUID_LEN);
    p = hotkey_resp_bulk(p, prefix, hotkey_store_prefix(prefix, rt->instance));

    return hotkey_resp_bulk(p, rt->instance, HOTKEY_UUID_LEN);
}


static char *
hotkey_store_autoscan_args(char *p, const hotkey_op_t *op,
    const hotkey_route_t *rt, const hotkey_args_t *a)
{
    char  times[HOTKEY_TIMES_MAX * 6];

    p = hotkey_resp_bulk(p, "2", 1);
    p = hotkey_resp_key(p, rt->instance, "instance");
    p = hotkey_resp_key(p, rt->instance, "autoscan");
    p = hotkey_resp_bulk(p, rt->project, rt->project_len);

    if (op->id == HOTKEY_OP_AUTOSCAN_GET) {
        return p;
    }

    p = hotkey_resp_bulk(p, a->autoscan.enable ? "1" : "0", 1);
    p = hotkey_resp_bulk(p, times, hotkey_times_write(times, &a->autoscan));
    p = hotkey_resp_uint(p, (uint64_t) a->now);

    return hotkey_resp_bulk(p, rt->instance, HOTKEY_UUID_LEN);
}


size_t
hotkey_store_request(char *buf, const hotkey_op_t *op,
    const hotkey_route_t *rt, const hotkey_args_t *a, int eval)
{
    char                   *p;
    const char             *sha;
    const hotkey_script_t  *sc;

    sc = hotkey_script(op->script);
    sha = eval ? NULL : hotkey_script_sha(op->script);

    p = buf;
    *p++ = '*';
    p = hotkey_uint_write(p, 2 + hotkey_script_nargs[op->script]);
    *p++ = '\r';
    *p++ = '\n';

    if (sha) {
        p = hotkey_resp_bulk(p, "EVALSHA", 7);
        p = hotkey_resp_bulk(p, sha, 40);

    } else {
        p = hotkey_resp_bulk(p, "EVAL", 4);
        p = hotkey_resp_bulk(p, sc->body, sc->len);
    }

    switch (op->id) {

    case HOTKEY_OP_CREATE:
        p = hotkey_store_create_args(p, rt, a);
        break;

    case HOTKEY_OP_DETAILS:
    case HOTKEY_OP_DELETE:
        p = hotkey_store_task_args(p, op, rt);
        break;

    case HOTKEY_OP_AUTOSCAN_GET:
    case HOTKEY_OP_AUTOSCAN_PUT:
        p = hotkey_store_autoscan_args(p, op, rt, a);
        break;

    default:
        p = hotkey_store_list_args(p, rt, &a->list);
    }

    return p - buf;
}
