/*
 * The scripts' replies turned into the API's JSON.  Every value that goes
 * into an answer is checked against its format first (ids, statuses,
 * times, numbers), and key names are escaped by hotkey_json.c, so the
 * answer is written directly, exactly as api.md shows it.
 */

#include <stdlib.h>
#include <string.h>

#include "hotkey_store.h"
#include "hotkey_route.h"
#include "hotkey_time.h"
#include "hotkey_num.h"
#include "hotkey_json.h"
#include "hotkey_codec.h"
#include "hotkey_cluster.h"


#define HOTKEY_UUID_LEN    36
#define HOTKEY_RECORD_MAX  256      /* JSON bytes of one record */
#define HOTKEY_KEY_JSON    256      /* a key's JSON beside its name */


/* beside lowercase letters and digits, in a type (modules' types too) */
static const char  hotkey_type_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-";

/* beside lowercase letters and digits, in a shard's "host:port" */
static const char  hotkey_shard_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ.:-[]_";


static int
hotkey_reply_str_is(const redisReply *e, const char *s, size_t len)
{
    return e->type == REDIS_REPLY_STRING && (size_t) e->len == len
           && memcmp(e->str, s, len) == 0;
}


static int
hotkey_reply_word(const redisReply *e, const char *s)
{
    return hotkey_reply_str_is(e, s, strlen(s));
}


static int
hotkey_reply_lfu(const redisReply *e)
{
    return hotkey_reply_word(e, "allkeys-lfu")
           || hotkey_reply_word(e, "volatile-lfu");
}


static char *
hotkey_put(char *p, const char *s)
{
    size_t  n;

    n = strlen(s);
    memcpy(p, s, n);

    return p + n;
}


static char *
hotkey_json_str(char *p, const char *name, const char *v, size_t len)
{
    *p++ = ',';
    *p++ = '"';
    p = hotkey_put(p, name);
    p = hotkey_put(p, "\":\"");
    memcpy(p, v, len);
    p += len;
    *p++ = '"';

    return p;
}


static char *
hotkey_json_uint(char *p, const char *name, uint64_t v)
{
    *p++ = ',';
    *p++ = '"';
    p = hotkey_put(p, name);
    p = hotkey_put(p, "\":");

    return hotkey_uint_write(p, v);
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


/*
 * id, status, scan_type and the three times of a task, from six elements
 * (e[0..5]); the id must be "id" (the index entry or the path's).
 */

static char *
hotkey_json_task(char *p, redisReply **e, const char *id)
{
    if (e[0]->type != REDIS_REPLY_STRING || e[0]->len != HOTKEY_UUID_LEN
        || memcmp(e[0]->str, id, HOTKEY_UUID_LEN) != 0)
    {
        return NULL;
    }

    if (e[1]->type != REDIS_REPLY_STRING
        || hotkey_status_parse(e[1]->str, e[1]->len) == HOTKEY_STATUS_ANY
        || !(hotkey_reply_word(e[2], "manual")
             || hotkey_reply_word(e[2], "auto")))
    {
        return NULL;
    }

    p = hotkey_put(p, "{\"id\":\"");
    memcpy(p, id, HOTKEY_UUID_LEN);
    p += HOTKEY_UUID_LEN;
    *p++ = '"';

    return p;
}


static char *
hotkey_json_task_rest(char *p, redisReply **e, const char *instance)
{
    if (instance) {
        p = hotkey_json_str(p, "instance_id", instance, HOTKEY_UUID_LEN);
    }

    p = hotkey_json_str(p, "status", e[1]->str, e[1]->len);
    p = hotkey_json_str(p, "scan_type", e[2]->str, e[2]->len);

    p = hotkey_json_time(p, "created_at", e[3], 1);
    if (p == NULL) {
        return NULL;
    }

    p = hotkey_json_time(p, "started_at", e[4], 0);
    if (p == NULL) {
        return NULL;
    }

    return hotkey_json_time(p, "finished_at", e[5], 0);
}


/* a list record: the task's six fields and its index entry's id */

static char *
hotkey_json_record(char *p, const redisReply *t)
{
    const redisReply  *id;

    if (t->type != REDIS_REPLY_ARRAY || t->elements != 7) {
        return NULL;
    }

    id = t->element[6];

    if (id->type != REDIS_REPLY_STRING || !hotkey_uuid_valid(id->str, id->len))
    {
        return NULL;
    }

    p = hotkey_json_task(p, t->element, id->str);
    if (p == NULL) {
        return NULL;
    }

    p = hotkey_json_task_rest(p, t->element, NULL);
    if (p == NULL) {
        return NULL;
    }

    *p++ = '}';

    return p;
}


static hotkey_store_result_e
hotkey_reply_list(const redisReply *r, const hotkey_route_t *rt, char *out,
    hotkey_answer_t *ans, const char **why)
{
    char    *p;
    size_t   i;

    if (r->elements < 3 || r->elements > 3 + HOTKEY_LIMIT_MAX) {
        return HOTKEY_STORE_BAD_REPLY;
    }

    if (r->element[2]->type != REDIS_REPLY_INTEGER
        || r->element[2]->integer < 0)
    {
        *why = "count is not a non-negative integer";
        return HOTKEY_STORE_BAD_REPLY;
    }

    p = hotkey_put(out, "{\"instance_id\":\"");
    memcpy(p, rt->instance, HOTKEY_UUID_LEN);
    p += HOTKEY_UUID_LEN;
    p = hotkey_put(p, "\",\"count\":");
    p = hotkey_uint_write(p, (uint64_t) r->element[2]->integer);
    p = hotkey_put(p, ",\"records\":[");

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
    ans->len = p - out;

    return HOTKEY_STORE_OK;
}


/* {"ok", created_at}, {"no_instance"}, {"not_analysable", p}, ... */

static hotkey_store_result_e
hotkey_reply_create(const redisReply *r, const hotkey_route_t *rt,
    const char *id, char *out, hotkey_answer_t *ans)
{
    char              *p;
    const redisReply  *w;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->elements > 2) {
        return HOTKEY_STORE_BAD_REPLY;
    }

    w = r->element[0];

    if (hotkey_reply_word(w, "no_instance") && r->elements == 1) {
        return HOTKEY_STORE_NO_INSTANCE;
    }

    if (r->elements != 2) {
        return HOTKEY_STORE_BAD_REPLY;
    }

    if (hotkey_reply_word(w, "not_analysable")) {
        return HOTKEY_STORE_NOT_ANALYSABLE;
    }

    if (hotkey_reply_word(w, "conflict")) {
        return HOTKEY_STORE_CONFLICT;
    }

    if (!hotkey_reply_word(w, "ok")) {
        return HOTKEY_STORE_BAD_REPLY;
    }

    p = hotkey_put(out, "{\"id\":\"");
    memcpy(p, id, HOTKEY_UUID_LEN);
    p += HOTKEY_UUID_LEN;
    *p++ = '"';
    p = hotkey_json_str(p, "instance_id", rt->instance, HOTKEY_UUID_LEN);
    p = hotkey_put(p, ",\"status\":\"waiting\",\"scan_type\":\"manual\"");

    p = hotkey_json_time(p, "created_at", r->element[1], 1);
    if (p == NULL) {
        return HOTKEY_STORE_BAD_REPLY;
    }

    p = hotkey_put(p, ",\"num\":0}");
    ans->len = p - out;

    return HOTKEY_STORE_OK;
}


/* the next "|"-ended field of a key element */

static const char *
hotkey_key_field(const char **p, const char *last, size_t *len)
{
    const char  *s, *bar;

    s = *p;
    bar = memchr(s, '|', last - s);

    if (bar == NULL) {
        return NULL;
    }

    *len = bar - s;
    *p = bar + 1;

    return s;
}


static int
hotkey_key_word_ok(const char *s, size_t len, size_t max, const char *also)
{
    size_t  i;

    if (len == 0 || len > max) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
            || strchr(also, s[i]) != NULL)
        {
            continue;
        }

        return 0;
    }

    return 1;
}


/* "freq|db|type|size|unit|shard|name" into the key's JSON object */

static char *
hotkey_json_key(char *p, const redisReply *e)
{
    size_t       n[6];
    uint64_t     freq, db, size;
    const char  *f[6], *s, *last;
    int          i;

    if (e->type != REDIS_REPLY_STRING) {
        return NULL;
    }

    s = e->str;
    last = e->str + e->len;

    for (i = 0; i < 6; i++) {
        f[i] = hotkey_key_field(&s, last, &n[i]);
        if (f[i] == NULL) {
            return NULL;
        }
    }

    if (hotkey_parse_uint(f[0], n[0], 3, 255, &freq) != 0
        || hotkey_parse_uint(f[1], n[1], 10, 2147483647, &db) != 0
        || !hotkey_key_word_ok(f[2], n[2], 32, hotkey_type_chars)
        || hotkey_parse_uint(f[3], n[3], 20, UINT64_MAX, &size) != 0
        || !((n[4] == 4 && memcmp(f[4], "byte", 4) == 0)
             || (n[4] == 5 && memcmp(f[4], "count", 5) == 0))
        || !hotkey_key_word_ok(f[5], n[5], 64, hotkey_shard_chars))
    {
        return NULL;
    }

    p = hotkey_put(p, "{\"name\":\"");
    p += hotkey_json_key_name(p, (const unsigned char *) s, last - s);
    *p++ = '"';
    p = hotkey_json_str(p, "type", f[2], n[2]);
    p = hotkey_json_str(p, "shard", f[5], n[5]);
    p = hotkey_json_uint(p, "db", db);
    p = hotkey_json_uint(p, "size", size);
    p = hotkey_json_str(p, "unit", f[4], n[4]);
    p = hotkey_json_uint(p, "freq", freq);
    *p++ = '}';

    return p;
}


static hotkey_store_result_e
hotkey_reply_details(const redisReply *r, const hotkey_route_t *rt,
    char *out, hotkey_answer_t *ans, const char **why)
{
    char              *p;
    size_t             i;
    redisReply       **e;
    const redisReply  *keys;

    if (r->elements != 9 && r->elements != 10) {
        return HOTKEY_STORE_BAD_REPLY;
    }

    e = r->element + 3;

    p = hotkey_json_task(out, e, rt->task);
    p = p ? hotkey_json_task_rest(p, e, rt->instance) : NULL;
    if (p == NULL) {
        *why = "the task record is malformed";
        return HOTKEY_STORE_BAD_REPLY;
    }

    ans->fleeting = !hotkey_reply_word(e[1], "success")
                    && !hotkey_reply_word(e[1], "failed");

    if (!hotkey_reply_word(e[1], "success")) {
        if (r->elements != 9) {
            return HOTKEY_STORE_BAD_REPLY;
        }

        p = hotkey_put(p, ",\"num\":0}");
        ans->len = p - out;
        return HOTKEY_STORE_OK;
    }

    keys = (r->elements == 10) ? r->element[9] : NULL;

    if (keys == NULL || keys->type != REDIS_REPLY_ARRAY || keys->elements > 100)
    {
        *why = "the keys of a successful task are not a list";
        return HOTKEY_STORE_BAD_REPLY;
    }

    p = hotkey_json_uint(p, "num", keys->elements);
    p = hotkey_put(p, ",\"keys\":[");

    for (i = 0; i < keys->elements; i++) {
        if (i) {
            *p++ = ',';
        }

        p = hotkey_json_key(p, keys->element[i]);
        if (p == NULL) {
            *why = "a hot key entry is malformed";
            return HOTKEY_STORE_BAD_REPLY;
        }
    }

    p = hotkey_put(p, "]}");
    ans->len = p - out;

    return HOTKEY_STORE_OK;
}


static hotkey_store_result_e
hotkey_reply_autoscan(const redisReply *r, const hotkey_route_t *rt,
    char *out, hotkey_answer_t *ans)
{
    char               *p;
    unsigned            i;
    const redisReply   *en, *at;
    hotkey_autoscan_t   a;

    if (r->elements != 6) {
        return HOTKEY_STORE_BAD_REPLY;
    }

    en = r->element[3];
    at = r->element[4];

    if (!(en->type == REDIS_REPLY_NIL || hotkey_reply_word(en, "1")
          || hotkey_reply_word(en, "0")))
    {
        return HOTKEY_STORE_BAD_REPLY;
    }

    a.ntimes = 0;

    if (at->type != REDIS_REPLY_NIL
        && (at->type != REDIS_REPLY_STRING
            || hotkey_times_read(at->str, at->len, &a) != 0))
    {
        return HOTKEY_STORE_BAD_REPLY;
    }

    p = hotkey_put(out, "{\"instance_id\":\"");
    memcpy(p, rt->instance, HOTKEY_UUID_LEN);
    p += HOTKEY_UUID_LEN;
    p = hotkey_put(p, hotkey_reply_word(en, "1")
                      ? "\",\"enable_auto_scan\":true,\"schedule_at\":["
                      : "\",\"enable_auto_scan\":false,\"schedule_at\":[");

    for (i = 0; i < a.ntimes; i++) {
        p = hotkey_put(p, i ? ",\"" : "\"");
        p = hotkey_hhmm_write(p, a.times[i]);
        *p++ = '"';
    }

    *p++ = ']';

    p = hotkey_json_time(p, "updated_at", r->element[5], 0);
    if (p == NULL) {
        return HOTKEY_STORE_BAD_REPLY;
    }

    *p++ = '}';
    ans->len = p - out;

    return HOTKEY_STORE_OK;
}


size_t
hotkey_store_answer_size(const hotkey_op_t *op, const redisReply *r)
{
    size_t             i, n;
    const redisReply  *keys;

    n = (r->type == REDIS_REPLY_ARRAY) ? r->elements : 0;

    if (op->id == HOTKEY_OP_LIST) {
        return 128 + HOTKEY_UUID_LEN + n * HOTKEY_RECORD_MAX;
    }

    if (op->id != HOTKEY_OP_DETAILS || n != 10
        || r->element[9]->type != REDIS_REPLY_ARRAY)
    {
        return 1024;
    }

    keys = r->element[9];
    n = 1024;

    for (i = 0; i < keys->elements; i++) {
        n += HOTKEY_KEY_JSON + 6 * keys->element[i]->len;
    }

    return n;
}


static int
hotkey_reply_error_is(const redisReply *r, const char *prefix)
{
    size_t  n;

    n = strlen(prefix);

    return (size_t) r->len >= n && memcmp(r->str, prefix, n) == 0;
}


static hotkey_store_result_e
hotkey_reply_error(const redisReply *r, const char **why)
{
    hotkey_redirect_t  rd;

    *why = "error reply";

    if (hotkey_reply_error_is(r, "NOSCRIPT")) {
        return HOTKEY_STORE_NOSCRIPT;
    }

    if (hotkey_cluster_redirect(r->str, r->len, &rd) != HOTKEY_REDIRECT_NONE
        && rd.type != HOTKEY_REDIRECT_DOWN)
    {
        *why = "cluster redirect";
        return HOTKEY_STORE_REDIRECT;
    }

    return HOTKEY_STORE_BAD_REPLY;
}


/* project, policy and the script's word: the same for every script */

static hotkey_store_result_e
hotkey_reply_head(const hotkey_op_t *op, const redisReply *r,
    const hotkey_route_t *rt)
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

    if ((op->id == HOTKEY_OP_LIST || op->id == HOTKEY_OP_AUTOSCAN_PUT)
        && !hotkey_reply_lfu(r->element[1]))
    {
        return r->elements == 2 ? HOTKEY_STORE_NOT_ANALYSABLE
                                : HOTKEY_STORE_BAD_REPLY;
    }

    if (op->id == HOTKEY_OP_LIST) {
        return HOTKEY_STORE_OK;
    }

    if (r->elements == 3 && hotkey_reply_word(r->element[2], "notask")) {
        return HOTKEY_STORE_NO_TASK;
    }

    if (r->elements == 3 && hotkey_reply_word(r->element[2], "conflict")) {
        return HOTKEY_STORE_CONFLICT;
    }

    if (r->elements < 3 || !hotkey_reply_word(r->element[2], "ok")) {
        return HOTKEY_STORE_BAD_REPLY;
    }

    return HOTKEY_STORE_OK;
}


hotkey_store_result_e
hotkey_store_reply(const hotkey_op_t *op, const redisReply *r,
    const hotkey_route_t *rt, const char *id, char *out,
    hotkey_answer_t *ans, const char **why)
{
    hotkey_store_result_e  rc;

    ans->len = 0;
    ans->status = op->success;
    ans->fleeting = 0;
    *why = "unexpected reply";

    if (r->type == REDIS_REPLY_ERROR) {
        return hotkey_reply_error(r, why);
    }

    if (op->id == HOTKEY_OP_CREATE) {
        return hotkey_reply_create(r, rt, id, out, ans);
    }

    rc = hotkey_reply_head(op, r, rt);
    if (rc != HOTKEY_STORE_OK) {
        return rc;
    }

    switch (op->id) {

    case HOTKEY_OP_LIST:
        return hotkey_reply_list(r, rt, out, ans, why);

    case HOTKEY_OP_DETAILS:
        return hotkey_reply_details(r, rt, out, ans, why);

    case HOTKEY_OP_DELETE:
        return r->elements == 3 ? HOTKEY_STORE_OK : HOTKEY_STORE_BAD_REPLY;

    default:
        return hotkey_reply_autoscan(r, rt, out, ans);
    }
}
