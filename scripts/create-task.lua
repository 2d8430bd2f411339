--[==[
create-task.lua: create one hot key analysis task, atomically: the create
route (POST .../hotkey-task) and the analyzer's schedule (auto tasks) run
this same script, so both make the same record, queue entry and retention.

  EVAL <this script> 1 hotkey:{<iid>}:instance \
      <project_id> <task_id> <scan_type> [<now_ms>]
  EVAL <this script> 2 hotkey:{<iid>}:instance \
      hotkey:{<iid>}:fired:<YYYYMMDD>T<HHMM> \
      <project_id> <task_id> <scan_type> [<now_ms>]

  project_id  the caller's project: the instance hash's project_id must be
              exactly this, else the answer is no_instance
  task_id     the new task's id, a lowercase dashed UUID (the caller makes
              it random)
  scan_type   manual | auto
  now_ms      created_at, ms since the epoch; empty or missing: the store's
              own clock (TIME)
  KEYS[2]     (the schedule) the fired key of one scheduled time: SET NX
              with a TTL of 2 days before anything else, so that the time
              fires once whatever happens next (an instance that is busy
              or not analysable skips that time; it is not retried)

Every other key is derived from KEYS[1]'s prefix hotkey:{<iid>}: (one hash
tag: one slot on a Redis Cluster).

Replies (an array, its first element says which):
  {'ok', <created_at>}            created: the task hash (id, status
                                  waiting, scan_type, created_at), the
                                  index and tasks:waiting entries, LPUSH on
                                  the queue, PUBLISH hotkey:changes <iid>
                                  and hotkey:jobs <iid>
  {'no_instance'}                 no such instance, or another project's
                                  (404 DCS.3022)
  {'not_analysable', <policy>}    its eviction_policy is not an LFU one
                                  (400 DCS.4922)
  {'conflict', <task_id>}         a task is waiting or running
                                  (400 DCS.4026)
  {'fired'}                       KEYS[2] was already set: nothing done
Bad arguments: an error reply starting "ERR create-task:"; nothing changed.

Retention: before the new record goes in, the oldest finished records
(success or failed, oldest created_at first) are dropped, with their keys
lists, until fewer than 100 remain; waiting and running ones are never
dropped.
--]==]

local keep = 100
local uuid = '^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$'
local statuses = { 'waiting', 'running', 'success', 'failed' }

local function fail(msg)
    return redis.error_reply('ERR create-task: ' .. msg)
end

local function lower_uuid(s)
    return s ~= nil and string.match(s, uuid) ~= nil
           and string.match(s, '%u') == nil
end

local iid = string.match(KEYS[1] or '', '^hotkey:{(.*)}:instance$')
if not lower_uuid(iid) then
    return fail('KEYS[1] must be hotkey:{<instance_id>}:instance')
end
local p = 'hotkey:{' .. iid .. '}:'

local project, id, scan_type, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if project == nil or project == '' then
    return fail('project_id is required')
end
if not lower_uuid(id) then
    return fail('task id must be a lowercase dashed UUID')
end
if scan_type ~= 'manual' and scan_type ~= 'auto' then
    return fail('scan_type must be manual or auto')
end
if now == nil or now == '' then
    local t = redis.call('TIME')
    now = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
elseif not string.match(now, '^%d+$') or #now > 15 then
    return fail('now_ms must be milliseconds since the epoch')
end

if #KEYS == 2 then
    local fired = p .. 'fired:'
    if string.sub(KEYS[2], 1, #fired) ~= fired
       or not string.match(string.sub(KEYS[2], #fired + 1),
                           '^%d%d%d%d%d%d%d%dT%d%d%d%d$')
    then
        return fail('KEYS[2] must be ' .. p .. 'fired:<YYYYMMDD>T<HHMM>')
    end
    if not redis.call('SET', KEYS[2], id, 'NX', 'PX', 172800000) then
        return { 'fired' }
    end
elseif #KEYS ~= 1 then
    return fail('needs 1 or 2 keys')
end

local inst = redis.call('HMGET', KEYS[1], 'project_id', 'eviction_policy')
if inst[1] ~= project then
    return { 'no_instance' }
end
if inst[2] ~= 'allkeys-lfu' and inst[2] ~= 'volatile-lfu' then
    return { 'not_analysable', inst[2] or '' }
end

for _, s in ipairs({ 'waiting', 'running' }) do
    local busy = redis.call('ZRANGE', p .. 'tasks:' .. s, 0, 0)
    if busy[1] then
        return { 'conflict', busy[1] }
    end
end

if redis.call('EXISTS', p .. 'task:' .. id) == 1 then
    return fail('task ' .. id .. ' exists')
end

local index = p .. 'tasks'
local n = redis.call('ZCARD', index)
if n >= keep then
    for _, old in ipairs(redis.call('ZRANGE', index, 0, -1)) do
        if n < keep then
            break
        end
        if redis.call('ZSCORE', index .. ':success', old)
           or redis.call('ZSCORE', index .. ':failed', old)
        then
            redis.call('DEL', p .. 'task:' .. old, p .. 'task:' .. old .. ':keys')
            redis.call('ZREM', index, old)
            for _, s in ipairs(statuses) do
                redis.call('ZREM', index .. ':' .. s, old)
            end
            n = n - 1
        end
    end
end

redis.call('HSET', p .. 'task:' .. id, 'id', id, 'status', 'waiting',
           'scan_type', scan_type, 'created_at', now)
redis.call('ZADD', index, now, id)
redis.call('ZADD', index .. ':waiting', now, id)
redis.call('LPUSH', p .. 'queue', id)
redis.call('PUBLISH', 'hotkey:changes', iid)
redis.call('PUBLISH', 'hotkey:jobs', iid)

return { 'ok', now }
