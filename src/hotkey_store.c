/*
 * The store's scripts, the RESP commands that run them, and their replies
 * turned into the API's JSON.  Every value that goes into an answer is
 * checked against its format first (ids, statuses, times), so the answer
 * is written directly, with nothing to escape.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hotkey_store.h"
#include "hotkey_route.h"
#include "hotkey_time.h"
#include "hotkey_num.h"


#define HOTKEY_KEY_PREFIX  "hotkey:{"
#define HOTKEY_UUID_LEN    36
#define HOTKEY_RECORD_MAX  256      /* JSON bytes of one list record */


/*
 * KEYS[1] instance hash, KEYS[2] index zset; ARGV project, first, last,
 * task key prefix.  Stops early when the instance is not listable, so
 * that nothing of it is read for a caller of another project.
 */
static const char  hotkey_list_script[] =
    "local i=redis.call('HMGET',KEYS[1],'project_id','eviction_policy') "
    "if i[1]~=ARGV[1] or (i[2]~='allkeys-lfu' and i[2]~='volatile-lfu') "
    "then return i end "
    "local r={i[1],i[2],redis.call('ZCARD',KEYS[2])} "
    "local ids=redis.call('ZREVRANGE',KEYS[2],ARGV[2],ARGV[3]) "
    "for k=1,#ids do "
    "local t=redis.call('HMGET',ARGV[4]..ids[k],'id','status','scan_type',"
    "'created_at','started_at','finished_at') "
    "t[7]=ids[k] r[k+3]=t end "
    "return r";


#define HOTKEY_STORE_SPARE_READERS  64


typedef struct {
    const char  *body;
    size_t       len;
    size_t       nargs;         /* after the script: numkeys, keys, argv */
    char         sha[41];
} hotkey_script_t;


static hotkey_script_t  hotkey_scripts[HOTKEY_OP_LAST] = {
    { hotkey_list_script, sizeof(hotkey_list_script) - 1, 7, "" }
};


static void *(*hotkey_orig_create_array)(const redisReadTask *, int);
static void *(*hotkey_orig_create_string)(const redisReadTask *, char *,
    size_t);
static redisReplyObjectFunctions  hotkey_reply_fns;
static redisReader               *hotkey_spare[HOTKEY_STORE_SPARE_READERS];
static size_t                     hotkey_nspare;


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


redisReader *
hotkey_store_reader_get(void)
{
    if (hotkey_nspare) {
        return hotkey_spare[--hotkey_nspare];
    }

    return hotkey_store_reader_create();
}


void
hotkey_store_reader_put(redisReader *rd)
{
    /* only a reader between two replies, with nothing left over, is kept */

    if (rd->err || rd->ridx != -1 || rd->pos != rd->len
        || hotkey_nspare == HOTKEY_STORE_SPARE_READERS)
    {
        redisReaderFree(rd);
        return;
    }

    hotkey_spare[hotkey_nspare++] = rd;
}


void
hotkey_store_reader_drain(void)
{
    while (hotkey_nspare) {
        redisReaderFree(hotkey_spare[--hotkey_nspare]);
    }
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
hotkey_script_sha(hotkey_script_t *sc)
{
    size_t          i;
    unsigned int    n;
    unsigned char   md[EVP_MAX_MD_SIZE];
    static char     hex[] = "0123456789abcdef";

    if (sc->sha[0]) {
        return sc->sha;
    }

    if (EVP_Q_digest(NULL, "SHA1", NULL, sc->body, sc->len, md, &i) == 0) {
        return NULL;
    }

    for (n = 0; n < 20; n++) {
        sc->sha[2 * n] = hex[md[n] >> 4];
        sc->sha[2 * n + 1] = hex[md[n] & 0xf];
    }

    sc->sha[40] = '\0';

    return sc->sha;
}


size_t
hotkey_store_request_size(const hotkey_op_t *op, size_t project_len)
{
    return hotkey_scripts[op->id].len + project_len + 8 * 80 + 64;
}


static char *
hotkey_store_list_args(char *p, const hotkey_route_t *rt,
    const hotkey_list_args_t *a)
{
    char        what[32];
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


size_t
hotkey_store_request(char *buf, const hotkey_op_t *op,
    const hotkey_route_t *rt, const hotkey_args_t *a, int eval)
{
    char             *p;
    const char       *sha;
    hotkey_script_t  *sc;

    sc = &hotkey_scripts[op->id];
    sha = eval ? NULL : hotkey_script_sha(sc);

    p = buf;
    *p++ = '*';
    p = hotkey_uint_write(p, 2 + sc->nargs);
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

    case HOTKEY_OP_LIST:
    default:
        p = hotkey_store_list_args(p, rt, &a->list);
    }

    return p - buf;
}


static int
hotkey_reply_str_is(const redisReply *e, const char *s, size_t len)
{
    return e->type == REDIS_REPLY_STRING && (size_t) e->len == len
           && memcmp(e->str, s, len) == 0;
}


static int
hotkey_reply_lfu(const redisReply *e)
{
    return hotkey_reply_str_is(e, "allkeys-lfu", 11)
           || hotkey_reply_str_is(e, "volatile-lfu", 12);
}


static char *
hotkey_json_str(char *p, const char *name, const char *v, size_t len)
{
    size_t  n;

    n = strlen(name);

    *p++ = ',';
    *p++ = '"';
    memcpy(p, name, n);
    p += n;
    memcpy(p, "\":\"", 3);
    p += 3;
    memcpy(p, v, len);
    p += len;
    *p++ = '"';

    return p;
}


/* a store time (ms) as the API's; absent and not required: left out */

static char *
hotkey_json_time(char *p, const char *name, const redisReply *e,
    int required)
{
    char     buf[HOTKEY_TIME_LEN + 1];
    int64_t  ms;

    if (e->type == REDIS_REPLY_NIL) {
        return required ? NULL : p;
    }

    if (e->type != REDIS_REPLY_STRING
        || hotkey_ms_parse(e->str, e->len, &ms) != 0)
    {
        return NULL;
    }

    hotkey_ms_format(ms, buf);

    return hotkey_json_str(p, name, buf, HOTKEY_TIME_LEN);
}


static char *
hotkey_json_record(char *p, const redisReply *t)
{
    const redisReply  *id, *st, *type;

    if (t->type != REDIS_REPLY_ARRAY || t->elements != 7) {
        return NULL;
    }

    /* the record must be the one its index entry names */

    id = t->element[0];
    st = t->element[1];
    type = t->element[2];

    if (id->type != REDIS_REPLY_STRING || !hotkey_uuid_valid(id->str, id->len)
        || !hotkey_reply_str_is(t->element[6], id->str, id->len))
    {
        return NULL;
    }

    if (st->type != REDIS_REPLY_STRING
        || hotkey_status_parse(st->str, st->len) == HOTKEY_STATUS_ANY
        || !(hotkey_reply_str_is(type, "manual", 6)
             || hotkey_reply_str_is(type, "auto", 4)))
    {
        return NULL;
    }

    memcpy(p, "{\"id\":\"", 7);
    memcpy(p + 7, id->str, HOTKEY_UUID_LEN);
    p += 7 + HOTKEY_UUID_LEN;
    *p++ = '"';

    p = hotkey_json_str(p, "status", st->str, st->len);
    p = hotkey_json_str(p, "scan_type", type->str, type->len);

    p = hotkey_json_time(p, "created_at", t->element[3], 1);
    if (p == NULL) {
        return NULL;
    }

    p = hotkey_json_time(p, "started_at", t->element[4], 0);
    if (p == NULL) {
        return NULL;
    }

    p = hotkey_json_time(p, "finished_at", t->element[5], 0);
    if (p == NULL) {
        return NULL;
    }

    *p++ = '}';

    return p;
}


static hotkey_store_result_e
hotkey_list_json(const redisReply *r, const char *instance, char *out,
    size_t *len, const char **why)
{
    char    *p;
    size_t   i;

    if (r->element[2]->type != REDIS_REPLY_INTEGER
        || r->element[2]->integer < 0)
    {
        *why = "count is not a non-negative integer";
        return HOTKEY_STORE_BAD_REPLY;
    }

    p = out;
    memcpy(p, "{\"instance_id\":\"", 16);
    memcpy(p + 16, instance, HOTKEY_UUID_LEN);
    p += 16 + HOTKEY_UUID_LEN;
    memcpy(p, "\",\"count\":", 10);
    p = hotkey_uint_write(p + 10, (uint64_t) r->element[2]->integer);
    memcpy(p, ",\"records\":[", 12);
    p += 12;

    for (i = 3; i < r->elements; i++) {
        if (i > 3) {
            *p++ = ',';
        }

        p = hotkey_json_record(p, r->element[i]);
        if (p == NULL) {
            *why = "a task record is missing or malformed";
            return HOTKEY_STORE_BAD_REPLY;
        }
    }

    *p++ = ']';
    *p++ = '}';
    *len = p - out;

    return HOTKEY_STORE_OK;
}


static hotkey_store_result_e
hotkey_store_list_reply(const redisReply *r, const hotkey_route_t *rt,
    char *out, size_t *len, const char **why)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2
        || (r->element[0]->type != REDIS_REPLY_STRING
            && r->element[0]->type != REDIS_REPLY_NIL)
        || (r->element[1]->type != REDIS_REPLY_STRING
            && r->element[1]->type != REDIS_REPLY_NIL))
    {
        return HOTKEY_STORE_BAD_REPLY;
    }

    if (!hotkey_reply_str_is(r->element[0], rt->project, rt->project_len)) {
        return r->elements == 2 ? HOTKEY_STORE_NO_INSTANCE
                                : HOTKEY_STORE_BAD_REPLY;
    }

    if (!hotkey_reply_lfu(r->element[1])) {
        return r->elements == 2 ? HOTKEY_STORE_NOT_ANALYSABLE
                                : HOTKEY_STORE_BAD_REPLY;
    }

    if (r->elements < 3 || r->elements > 3 + HOTKEY_LIMIT_MAX) {
        return HOTKEY_STORE_BAD_REPLY;
    }

    return hotkey_list_json(r, rt->instance, out, len, why);
}


size_t
hotkey_store_answer_size(const hotkey_op_t *op, const redisReply *r)
{
    size_t  n;

    n = (r->type == REDIS_REPLY_ARRAY) ? r->elements : 0;

    switch (op->id) {

    case HOTKEY_OP_LIST:
    default:
        return 128 + HOTKEY_UUID_LEN + n * HOTKEY_RECORD_MAX;
    }
}


static int
hotkey_reply_error_is(const redisReply *r, const char *prefix)
{
    size_t  n;

    n = strlen(prefix);

    return (size_t) r->len >= n && memcmp(r->str, prefix, n) == 0;
}


hotkey_store_result_e
hotkey_store_reply(const hotkey_op_t *op, const redisReply *r,
    const hotkey_route_t *rt, char *out, size_t *len, const char **why)
{
    *len = 0;
    *why = "unexpected reply";

    if (r->type == REDIS_REPLY_ERROR) {
        *why = "error reply";

        if (hotkey_reply_error_is(r, "NOSCRIPT")) {
            return HOTKEY_STORE_NOSCRIPT;
        }

        if (hotkey_reply_error_is(r, "MOVED ")
            || hotkey_reply_error_is(r, "ASK "))
        {
            return HOTKEY_STORE_REDIRECT;
        }

        return HOTKEY_STORE_BAD_REPLY;
    }

    switch (op->id) {

    case HOTKEY_OP_LIST:
    default:
        return hotkey_store_list_reply(r, rt, out, len, why);
    }
}
