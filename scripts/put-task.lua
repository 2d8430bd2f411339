--[==[
put-task.lua: create or replace one hot key analysis task in the store,
consistently, in one atomic step. For anything that writes tasks (the
scanner, an admin tool, scripts/demo-data.sh).

  EVAL <this script> 6 \
      hotkey:{<iid>}:task:<task_id> \
      hotkey:{<iid>}:tasks \
      hotkey:{<iid>}:tasks:waiting  hotkey:{<iid>}:tasks:running \
      hotkey:{<iid>}:tasks:success  hotkey:{<iid>}:tasks:failed \
      <task_id> <status> <scan_type> <created_at> [<started_at> [<finished_at>]]

  or: redis-cli --eval scripts/put-task.lua KEY1 ... KEY6 , ARG1 ... ARG6

  <iid>        the instance id (lowercase dashed UUID); every key carries
               the hash tag {<iid>}, so this works on Redis Cluster too
  task_id      lowercase dashed UUID
  status       waiting | running | success | failed
  scan_type    manual | auto
  created_at,  milliseconds since the Unix epoch (UTC), decimal digits;
  started_at,  an empty string (or a missing argument) means "not yet",
  finished_at  and the field is left out of the hash:
                 waiting: neither started_at nor finished_at
                 running: started_at, no finished_at
                 success: both
                 failed:  finished_at; started_at if it had started

What it does (the schema the module reads; see the README):
  - hotkey:{iid}:task:<id>   HASH id, status, scan_type, created_at
                             [, started_at] [, finished_at]; rewritten
                             whole, so a field that no longer applies goes
  - hotkey:{iid}:tasks       ZSET member <id>, score created_at
  - hotkey:{iid}:tasks:<st>  ZSET the same, in the zset of its current
                             status only (removed from the other three)

It does not touch hotkey:{iid}:instance (project_id, eviction_policy):
write that hash with HSET when the instance is registered. It does not trim
old tasks (the reference keeps 100 per instance); a writer that trims
deletes the hash and ZREMs the id from all five zsets.

Returns the task's previous status, or nil for a new task. Bad arguments
give an error reply (starting with "ERR put-task:") and change nothing.
--]==]

local function fail(msg)
    return redis.error_reply('ERR put-task: ' .. msg)
end

local uuid = '^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$'
local statuses = { 'waiting', 'running', 'success', 'failed' }

if #KEYS ~= 6 then
    return fail('needs 6 keys, got ' .. #KEYS)
end

local id, status, scan_type = ARGV[1], ARGV[2], ARGV[3]
local created, started, finished = ARGV[4], ARGV[5] or '', ARGV[6] or ''

if id == nil or not string.match(id, uuid) or string.match(id, '%u') then
    return fail('task id must be a lowercase dashed UUID')
end

-- the keys must be the ones of one instance, in the documented order
local index = KEYS[2]
local iid = string.match(index, '^hotkey:{(.*)}:tasks$')
if iid == nil or not string.match(iid, uuid) or string.match(iid, '%u') then
    return fail('KEYS[2] must be hotkey:{<instance_id>}:tasks')
end
local prefix = 'hotkey:{' .. iid .. '}:'
if KEYS[1] ~= prefix .. 'task:' .. id then
    return fail('KEYS[1] must be ' .. prefix .. 'task:' .. id)
end
for i, s in ipairs(statuses) do
    if KEYS[2 + i] ~= index .. ':' .. s then
        return fail('KEYS[' .. (2 + i) .. '] must be ' .. index .. ':' .. s)
    end
end

local known = false
for _, s in ipairs(statuses) do
    if s == status then known = true end
end
if not known then
    return fail('status must be waiting, running, success or failed')
end
if scan_type ~= 'manual' and scan_type ~= 'auto' then
    return fail('scan_type must be manual or auto')
end

local function is_ms(v)
    return string.match(v, '^%d+$') ~= nil and #v <= 15
end
if created == nil or not is_ms(created) then
    return fail('created_at must be milliseconds since the epoch')
end
if started ~= '' and not is_ms(started) then
    return fail('started_at must be milliseconds since the epoch or empty')
end
if finished ~= '' and not is_ms(finished) then
    return fail('finished_at must be milliseconds since the epoch or empty')
end

if status == 'waiting' and (started ~= '' or finished ~= '') then
    return fail('a waiting task has neither started_at nor finished_at')
end
if status == 'running' and (started == '' or finished ~= '') then
    return fail('a running task has started_at and no finished_at')
end
if status == 'success' and (started == '' or finished == '') then
    return fail('a successful task has started_at and finished_at')
end
if status == 'failed' and finished == '' then
    return fail('a failed task has finished_at')
end

local previous = redis.call('HGET', KEYS[1], 'status')

redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', id, 'status', status,
           'scan_type', scan_type, 'created_at', created)
if started ~= '' then
    redis.call('HSET', KEYS[1], 'started_at', started)
end
if finished ~= '' then
    redis.call('HSET', KEYS[1], 'finished_at', finished)
end

redis.call('ZADD', index, created, id)
for i, s in ipairs(statuses) do
    if s == status then
        redis.call('ZADD', KEYS[2 + i], created, id)
    else
        redis.call('ZREM', KEYS[2 + i], id)
    end
end

return previous
