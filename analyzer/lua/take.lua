--[==[
take.lua: one analyzer's look at one instance, atomically: recover the
tasks whose analyzer is gone, then (when asked) take the next job.

  EVALSHA <sha> 1 hotkey:{<iid>}:instance  <me> <now_ms> <lease_ms>
      <max_attempts> <take: 1|0>

Recovery: a running task that an analyzer took (attempts >= 1) and whose
lease key is gone lost its analyzer: below max_attempts takes it goes
back to waiting (started_at and owner dropped) at the head of the queue;
at max_attempts it is failed (finished_at now).  Running tasks that no
analyzer ever took (no attempts field: written by hand) are left alone.

Take: RPOP the queue until a waiting task comes out (entries of tasks that
are gone or no longer waiting are dropped); it becomes running with
started_at, owner <me>, attempts + 1, and the lease key holds <me> for
lease_ms.  Every change publishes the instance id on hotkey:changes.

Reply: { {<recovered id>, 'waiting'|'failed', ...},
         {<taken id>, <scan_type>, <attempts>} or {},
         {project_id, addr, mode, tls, eviction_policy},
         {enable_auto_scan, schedule_at, updated_at} }
--]==]

local iid = string.match(KEYS[1], '^hotkey:{(.*)}:instance$')
if iid == nil then
    return redis.error_reply('ERR take: KEYS[1] must be hotkey:{<iid>}:instance')
end
local p = 'hotkey:{' .. iid .. '}:'
local me, now, lease_ms = ARGV[1], ARGV[2], ARGV[3]
local max, take = tonumber(ARGV[4]), ARGV[5] == '1'
local changed = false
local recovered = {}

for _, id in ipairs(redis.call('ZRANGE', p .. 'tasks:running', 0, -1)) do
    local t = p .. 'task:' .. id
    local a = tonumber(redis.call('HGET', t, 'attempts') or '0') or 0
    if a >= 1 and redis.call('EXISTS', p .. 'lease:' .. id) == 0 then
        local score = redis.call('ZSCORE', p .. 'tasks', id) or now
        redis.call('ZREM', p .. 'tasks:running', id)
        if a < max then
            redis.call('HSET', t, 'status', 'waiting')
            redis.call('HDEL', t, 'started_at', 'owner')
            redis.call('ZADD', p .. 'tasks:waiting', score, id)
            redis.call('LREM', p .. 'queue', 0, id)
            redis.call('RPUSH', p .. 'queue', id)
            table.insert(recovered, id)
            table.insert(recovered, 'waiting')
        else
            redis.call('HSET', t, 'status', 'failed', 'finished_at', now)
            redis.call('ZADD', p .. 'tasks:failed', score, id)
            table.insert(recovered, id)
            table.insert(recovered, 'failed')
        end
        changed = true
    end
end

local taken = {}
while take do
    local id = redis.call('RPOP', p .. 'queue')
    if not id then
        break
    end
    local t = p .. 'task:' .. id
    local h = redis.call('HMGET', t, 'status', 'scan_type')
    if h[1] == 'waiting' then
        local score = redis.call('ZSCORE', p .. 'tasks', id) or now
        local a = redis.call('HINCRBY', t, 'attempts', 1)
        redis.call('HSET', t, 'status', 'running', 'started_at', now,
                   'owner', me)
        redis.call('ZREM', p .. 'tasks:waiting', id)
        redis.call('ZADD', p .. 'tasks:running', score, id)
        redis.call('SET', p .. 'lease:' .. id, me, 'PX', lease_ms)
        taken = { id, h[2] or 'manual', a }
        changed = true
        break
    end
end

if changed then
    redis.call('PUBLISH', 'hotkey:changes', iid)
end

local inst = redis.call('HMGET', KEYS[1], 'project_id', 'addr', 'mode',
                        'tls', 'eviction_policy')
local auto = redis.call('HMGET', p .. 'autoscan', 'enable_auto_scan',
                        'schedule_at', 'updated_at')
for i = 1, 5 do inst[i] = inst[i] or '' end
for i = 1, 3 do auto[i] = auto[i] or '' end

return { recovered, taken, inst, auto }
