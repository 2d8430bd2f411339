#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "hotkey_store.h"
#include "hotkey_route.h"
#include "hotkey_time.h"


#define HOTKEY_KEY_PREFIX  "hotkey:{"
#define HOTKEY_UUID_LEN    36


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


size_t
hotkey_store_list_request_size(size_t project_len)
{
    return sizeof(hotkey_list_script) + project_len + 3 * HOTKEY_UUID_LEN
           + 256;
}


static char *
hotkey_resp_arg(char *p, const char *s, size_t len)
{
    p += sprintf(p, "$%zu\r\n", len);
    memcpy(p, s, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';

    return p;
}


size_t
hotkey_store_list_request(char *buf, const char *project,
    size_t project_len, const char *instance, const hotkey_list_args_t *a)
{
    int          n;
    char        *p, key[128], num[24];
    const char  *status;

    p = buf;
    p += sprintf(p, "*9\r\n$4\r\nEVAL\r\n");
    p = hotkey_resp_arg(p, hotkey_list_script,
                        sizeof(hotkey_list_script) - 1);
    p = hotkey_resp_arg(p, "2", 1);

    n = sprintf(key, HOTKEY_KEY_PREFIX "%.36s}:instance", instance);
    p = hotkey_resp_arg(p, key, n);

    status = hotkey_status_name(a->status);
    if (status) {
        n = sprintf(key, HOTKEY_KEY_PREFIX "%.36s}:tasks:%s", instance,
                    status);
    } else {
        n = sprintf(key, HOTKEY_KEY_PREFIX "%.36s}:tasks", instance);
    }

    p = hotkey_resp_arg(p, key, n);
    p = hotkey_resp_arg(p, project, project_len);

    n = sprintf(num, "%lld", (long long) a->offset);
    p = hotkey_resp_arg(p, num, n);
    n = sprintf(num, "%lld", (long long) (a->offset + a->limit - 1));
    p = hotkey_resp_arg(p, num, n);

    n = sprintf(key, HOTKEY_KEY_PREFIX "%.36s}:task:", instance);
    p = hotkey_resp_arg(p, key, n);

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


static int
hotkey_add_time(cJSON *rec, const char *name, const redisReply *e,
    int required)
{
    char     buf[HOTKEY_TIME_LEN + 1];
    int64_t  ms;

    if (e->type == REDIS_REPLY_NIL) {
        return required ? -1 : 0;
    }

    if (e->type != REDIS_REPLY_STRING
        || hotkey_ms_parse(e->str, e->len, &ms) != 0)
    {
        return -1;
    }

    hotkey_ms_format(ms, buf);

    return cJSON_AddStringToObject(rec, name, buf) ? 0 : -1;
}


static int
hotkey_add_record(cJSON *records, const redisReply *t)
{
    cJSON              *rec;
    const redisReply   *e;

    if (t->type != REDIS_REPLY_ARRAY || t->elements != 7) {
        return -1;
    }

    /* the record must be the one its index entry names */

    e = t->element[0];
    if (e->type != REDIS_REPLY_STRING || !hotkey_uuid_valid(e->str, e->len)
        || !hotkey_reply_str_is(t->element[6], e->str, e->len))
    {
        return -1;
    }

    if (t->element[1]->type != REDIS_REPLY_STRING
        || hotkey_status_parse(t->element[1]->str, t->element[1]->len)
           == HOTKEY_STATUS_ANY
        || !(hotkey_reply_str_is(t->element[2], "manual", 6)
             || hotkey_reply_str_is(t->element[2], "auto", 4)))
    {
        return -1;
    }

    rec = cJSON_CreateObject();
    if (rec == NULL) {
        return -1;
    }

    cJSON_AddItemToArray(records, rec);

    if (cJSON_AddStringToObject(rec, "id", e->str) == NULL
        || cJSON_AddStringToObject(rec, "status", t->element[1]->str) == NULL
        || cJSON_AddStringToObject(rec, "scan_type", t->element[2]->str)
           == NULL
        || hotkey_add_time(rec, "created_at", t->element[3], 1) != 0
        || hotkey_add_time(rec, "started_at", t->element[4], 0) != 0
        || hotkey_add_time(rec, "finished_at", t->element[5], 0) != 0)
    {
        return -1;
    }

    return 0;
}


/* an integer without printf's locale and float work; NULL on no memory */

static cJSON *
hotkey_json_uint(long long v)
{
    char  buf[24], *p;

    p = buf + sizeof(buf);
    *--p = '\0';

    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v);

    return cJSON_CreateRaw(p);
}


static hotkey_store_result_e
hotkey_list_json(const redisReply *r, const char *instance, char **body,
    size_t *len, const char **why)
{
    char     id[HOTKEY_UUID_LEN + 1];
    size_t   i;
    cJSON   *doc, *records;

    if (r->element[2]->type != REDIS_REPLY_INTEGER
        || r->element[2]->integer < 0)
    {
        *why = "count is not a non-negative integer";
        return HOTKEY_STORE_BAD_REPLY;
    }

    doc = cJSON_CreateObject();
    if (doc == NULL) {
        *why = "out of memory";
        return HOTKEY_STORE_BAD_REPLY;
    }

    memcpy(id, instance, HOTKEY_UUID_LEN);
    id[HOTKEY_UUID_LEN] = '\0';

    cJSON_AddStringToObject(doc, "instance_id", id);
    cJSON_AddItemToObject(doc, "count",
                          hotkey_json_uint(r->element[2]->integer));
    records = cJSON_AddArrayToObject(doc, "records");

    for (i = 3; records && i < r->elements; i++) {
        if (hotkey_add_record(records, r->element[i]) != 0) {
            cJSON_Delete(doc);
            *why = "a task record is missing or malformed";
            return HOTKEY_STORE_BAD_REPLY;
        }
    }

    *body = records ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);

    if (*body == NULL) {
        *why = "out of memory";
        return HOTKEY_STORE_BAD_REPLY;
    }

    *len = strlen(*body);

    return HOTKEY_STORE_OK;
}


hotkey_store_result_e
hotkey_store_list_reply(const redisReply *r, const char *project,
    size_t project_len, const char *instance, char **body, size_t *len,
    const char **why)
{
    *body = NULL;
    *why = "unexpected reply";

    if (r->type == REDIS_REPLY_ERROR) {
        *why = "error reply";
        return HOTKEY_STORE_BAD_REPLY;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2
        || (r->element[0]->type != REDIS_REPLY_STRING
            && r->element[0]->type != REDIS_REPLY_NIL)
        || (r->element[1]->type != REDIS_REPLY_STRING
            && r->element[1]->type != REDIS_REPLY_NIL))
    {
        return HOTKEY_STORE_BAD_REPLY;
    }

    if (!hotkey_reply_str_is(r->element[0], project, project_len)) {
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

    return hotkey_list_json(r, instance, body, len, why);
}
