/*
 * The scripts.  Each starts with the instance check: an unknown instance,
 * or another project's, gets back its hash's two fields and nothing else,
 * so that nothing of it is read or written for a caller of another
 * project.  Replies are arrays: project, policy, then a word ("ok",
 * "conflict", "notask") and the operation's fields.
 */

#include "hotkey_scripts.h"


#define HOTKEY_LUA_INSTANCE                                                   \
    "local i=redis.call('HMGET',KEYS[1],'project_id','eviction_policy') "     \
    "if i[1]~=ARGV[1] then return i end "

#define HOTKEY_LUA_LFU                                                        \
    "if i[2]~='allkeys-lfu' and i[2]~='volatile-lfu' then return i end "


/*
 * KEYS instance, index (of all or one status); ARGV project, first, last,
 * task key prefix.  O(log N + limit).
 */
static const char  hotkey_lua_list[] =
    HOTKEY_LUA_INSTANCE HOTKEY_LUA_LFU
    "local r={i[1],i[2],redis.call('ZCARD',KEYS[2])} "
    "local ids=redis.call('ZREVRANGE',KEYS[2],ARGV[2],ARGV[3]) "
    "for k=1,#ids do "
    "local t=redis.call('HMGET',ARGV[4]..ids[k],'id','status','scan_type',"
    "'created_at','started_at','finished_at') "
    "t[7]=ids[k] r[k+3]=t end "
    "return r";


/*
 * KEYS instance, tasks, tasks:waiting, tasks:running, queue; ARGV project,
 * task id, now (ms), scan type, key prefix "hotkey:{<iid>}:", instance id.
 * One analysis at a time; at most 100 records (all finished by then, the
 * oldest dropped with its keys).
 */
static const char  hotkey_lua_create[] =
    HOTKEY_LUA_INSTANCE HOTKEY_LUA_LFU
    "if redis.call('ZCARD',KEYS[3])>0 or redis.call('ZCARD',KEYS[4])>0 "
    "then return {i[1],i[2],'conflict'} end "
    "local n=redis.call('ZCARD',KEYS[2]) "
    "if n>=100 then "
    "for _,t in ipairs(redis.call('ZRANGE',KEYS[2],0,n-100)) do "
    "local k=ARGV[5]..'task:'..t "
    "local st=redis.call('HGET',k,'status') "
    "redis.call('DEL',k,k..':keys') "
    "redis.call('ZREM',KEYS[2],t) "
    "if st then redis.call('ZREM',ARGV[5]..'tasks:'..st,t) end "
    "end end "
    "redis.call('HSET',ARGV[5]..'task:'..ARGV[2],'id',ARGV[2],"
    "'status','waiting','scan_type',ARGV[4],'created_at',ARGV[3]) "
    "redis.call('ZADD',KEYS[2],ARGV[3],ARGV[2]) "
    "redis.call('ZADD',KEYS[3],ARGV[3],ARGV[2]) "
    "redis.call('LPUSH',KEYS[5],ARGV[2]) "
    "redis.call('PUBLISH','hotkey:changes',ARGV[6]) "
    "redis.call('PUBLISH','hotkey:jobs',ARGV[6]) "
    "return {i[1],i[2],'ok',ARGV[2],ARGV[3]}";


/* KEYS instance, task, its keys list; ARGV project.  One round trip. */
static const char  hotkey_lua_details[] =
    HOTKEY_LUA_INSTANCE
    "local t=redis.call('HMGET',KEYS[2],'id','status','scan_type',"
    "'created_at','started_at','finished_at') "
    "if not t[1] then return {i[1],i[2],'notask'} end "
    "local r={i[1],i[2],'ok',t[1],t[2],t[3],t[4],t[5],t[6]} "
    "if t[2]=='success' then r[10]=redis.call('LRANGE',KEYS[3],0,99) end "
    "return r";


/*
 * KEYS instance, task, its keys list, tasks; ARGV project, task id, key
 * prefix, instance id.  A waiting or running task stays.
 */
static const char  hotkey_lua_delete[] =
    HOTKEY_LUA_INSTANCE
    "local st=redis.call('HGET',KEYS[2],'status') "
    "if not st then return {i[1],i[2],'notask'} end "
    "if st=='waiting' or st=='running' then "
    "return {i[1],i[2],'conflict'} end "
    "redis.call('DEL',KEYS[2],KEYS[3]) "
    "redis.call('ZREM',KEYS[4],ARGV[2]) "
    "redis.call('ZREM',ARGV[3]..'tasks:'..st,ARGV[2]) "
    "redis.call('PUBLISH','hotkey:changes',ARGV[4]) "
    "return {i[1],i[2],'ok'}";


/* KEYS instance, autoscan; ARGV project */
static const char  hotkey_lua_autoscan_get[] =
    HOTKEY_LUA_INSTANCE
    "local a=redis.call('HMGET',KEYS[2],'enable_auto_scan','schedule_at',"
    "'updated_at') "
    "return {i[1],i[2],'ok',a[1],a[2],a[3]}";


/*
 * KEYS instance, autoscan; ARGV project, enable ("1" or "0"), times
 * ("HH:MM,..." sorted, maybe empty), now (ms), instance id.
 */
static const char  hotkey_lua_autoscan_put[] =
    HOTKEY_LUA_INSTANCE HOTKEY_LUA_LFU
    "redis.call('HSET',KEYS[2],'enable_auto_scan',ARGV[2],"
    "'schedule_at',ARGV[3],'updated_at',ARGV[4]) "
    "redis.call('PUBLISH','hotkey:changes',ARGV[5]) "
    "return {i[1],i[2],'ok',ARGV[2],ARGV[3],ARGV[4]}";


#define hotkey_script_row(name, text)  { name, text, sizeof(text) - 1 }

static const hotkey_script_t  hotkey_scripts[HOTKEY_SCRIPT_LAST] = {
    hotkey_script_row("list", hotkey_lua_list),
    hotkey_script_row("create", hotkey_lua_create),
    hotkey_script_row("details", hotkey_lua_details),
    hotkey_script_row("delete", hotkey_lua_delete),
    hotkey_script_row("autoscan_get", hotkey_lua_autoscan_get),
    hotkey_script_row("autoscan_put", hotkey_lua_autoscan_put)
};


const hotkey_script_t *
hotkey_script(hotkey_script_e id)
{
    return &hotkey_scripts[id];
}
