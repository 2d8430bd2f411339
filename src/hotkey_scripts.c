/*
 * The scripts.  Each starts with the instance check: an unknown instance,
 * or another project's, gets nothing of it read or written for a caller of
 * another project.  The reads and the other writes answer arrays: project,
 * policy, then a word ("ok", "conflict", "notask") and the operation's
 * fields; the create script answers as its comment says.
 */

#include "hotkey_scripts.h"


#define HOTKEY_LUA_INSTANCE                                                   \
    "local i=redis.call('HMGET',KEYS[1],'project_id','eviction_policy') "     \
    "if i[1]~=ARGV[1] then return i end "

#define HOTKEY_LUA_LFU                                                        \
    "if i[2]~='allkeys-lfu' and i[2]~='volatile-lfu' then return i end "


/*
 * KEYS instance, index (of all or one status); ARGV project, first, last,
 * task key prefix.  O(log N + limit).  A record missing (its slot half
 * moved to another cluster node, or a broken store) is a TRYAGAIN error.
 */
static const char  hotkey_lua_list[] =
    HOTKEY_LUA_INSTANCE HOTKEY_LUA_LFU
    "local r={i[1],i[2],redis.call('ZCARD',KEYS[2])} "
    "local ids=redis.call('ZREVRANGE',KEYS[2],ARGV[2],ARGV[3]) "
    "for k=1,#ids do "
    "local t=redis.call('HMGET',ARGV[4]..ids[k],'id','status','scan_type',"
    "'created_at','started_at','finished_at') "
    "if not t[1] then return redis.error_reply("
    "'TRYAGAIN the record of task '..ids[k]..' is not here') end "
    "t[7]=ids[k] r[k+3]=t end "
    "return r";


/*
 * Creates one task, for the create route and the analyzer's schedule
 * alike (hotkey-analyzer links this file):
 *
 *   KEYS hotkey:{<iid>}:instance [hotkey:{<iid>}:fired:<YYYYMMDD>T<HHMM>]
 *   ARGV project, task id (a random lowercase UUID), manual|auto,
 *        [now ms: empty or absent takes the store's TIME]
 *
 * Replies {"ok", created_at}, {"no_instance"}, {"not_analysable", policy},
 * {"conflict", task id} (a task is waiting or running), {"fired"} (the
 * schedule's time was already fired: the fired key is set NX for 2 days
 * before anything else); bad arguments: "ERR create-task: ...".  The
 * record, its index and status entries, the queue (LPUSH), retention (the
 * oldest finished records dropped, with their keys lists, until fewer than
 * 100 remain) and the publishes on hotkey:changes and hotkey:jobs.
 */
static const char  hotkey_lua_create[] =
    "local keep = 100\n"
    "local uuid = "
    "'^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-"
    "%x%x%x%x%x%x%x%x%x%x%x%x$'\n"
    "local statuses = { 'waiting', 'running', 'success', 'failed' }\n"
    "\n"
    "local function fail(msg)\n"
    "    return redis.error_reply('ERR create-task: ' .. msg)\n"
    "end\n"
    "\n"
    "local function lower_uuid(s)\n"
    "    return s ~= nil and string.match(s, uuid) ~= nil\n"
    "           and string.match(s, '%u') == nil\n"
    "end\n"
    "\n"
    "local iid = string.match(KEYS[1] or '', '^hotkey:{(.*)}:instance$')\n"
    "if not lower_uuid(iid) then\n"
    "    return fail('KEYS[1] must be hotkey:{<instance_id>}:instance')\n"
    "end\n"
    "local p = 'hotkey:{' .. iid .. '}:'\n"
    "\n"
    "local project, id, scan_type, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "if project == nil or project == '' then\n"
    "    return fail('project_id is required')\n"
    "end\n"
    "if not lower_uuid(id) then\n"
    "    return fail('task id must be a lowercase dashed UUID')\n"
    "end\n"
    "if scan_type ~= 'manual' and scan_type ~= 'auto' then\n"
    "    return fail('scan_type must be manual or auto')\n"
    "end\n"
    "if now == nil or now == '' then\n"
    "    local t = redis.call('TIME')\n"
    "    now = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / "
    "1000))\n"
    "elseif not string.match(now, '^%d+$') or #now > 15 then\n"
    "    return fail('now_ms must be milliseconds since the epoch')\n"
    "end\n"
    "\n"
    "if #KEYS == 2 then\n"
    "    local fired = p .. 'fired:'\n"
    "    if string.sub(KEYS[2], 1, #fired) ~= fired\n"
    "       or not string.match(string.sub(KEYS[2], #fired + 1),\n"
    "                           '^%d%d%d%d%d%d%d%dT%d%d%d%d$')\n"
    "    then\n"
    "        return fail('KEYS[2] must be ' .. p .. "
    "'fired:<YYYYMMDD>T<HHMM>')\n"
    "    end\n"
    "    if not redis.call('SET', KEYS[2], id, 'NX', 'PX', 172800000) then\n"
    "        return { 'fired' }\n"
    "    end\n"
    "elseif #KEYS ~= 1 then\n"
    "    return fail('needs 1 or 2 keys')\n"
    "end\n"
    "\n"
    "local inst = redis.call('HMGET', KEYS[1], 'project_id', "
    "'eviction_policy')\n"
    "if inst[1] ~= project then\n"
    "    return { 'no_instance' }\n"
    "end\n"
    "if inst[2] ~= 'allkeys-lfu' and inst[2] ~= 'volatile-lfu' then\n"
    "    return { 'not_analysable', inst[2] or '' }\n"
    "end\n"
    "\n"
    "for _, s in ipairs({ 'waiting', 'running' }) do\n"
    "    local busy = redis.call('ZRANGE', p .. 'tasks:' .. s, 0, 0)\n"
    "    if busy[1] then\n"
    "        return { 'conflict', busy[1] }\n"
    "    end\n"
    "end\n"
    "\n"
    "if redis.call('EXISTS', p .. 'task:' .. id) == 1 then\n"
    "    return fail('task ' .. id .. ' exists')\n"
    "end\n"
    "\n"
    "local index = p .. 'tasks'\n"
    "local n = redis.call('ZCARD', index)\n"
    "if n >= keep then\n"
    "    for _, old in ipairs(redis.call('ZRANGE', index, 0, -1)) do\n"
    "        if n < keep then\n"
    "            break\n"
    "        end\n"
    "        if redis.call('ZSCORE', index .. ':success', old)\n"
    "           or redis.call('ZSCORE', index .. ':failed', old)\n"
    "        then\n"
    "            redis.call('DEL', p .. 'task:' .. old, p .. 'task:' .. old "
    ".. ':keys')\n"
    "            redis.call('ZREM', index, old)\n"
    "            for _, s in ipairs(statuses) do\n"
    "                redis.call('ZREM', index .. ':' .. s, old)\n"
    "            end\n"
    "            n = n - 1\n"
    "        end\n"
    "    end\n"
    "end\n"
    "\n"
    "redis.call('HSET', p .. 'task:' .. id, 'id', id, 'status', 'waiting',\n"
    "           'scan_type', scan_type, 'created_at', now)\n"
    "redis.call('ZADD', index, now, id)\n"
    "redis.call('ZADD', index .. ':waiting', now, id)\n"
    "redis.call('LPUSH', p .. 'queue', id)\n"
    "redis.call('PUBLISH', 'hotkey:changes', iid)\n"
    "redis.call('PUBLISH', 'hotkey:jobs', iid)\n"
    "\n"
    "return { 'ok', now }\n";


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
