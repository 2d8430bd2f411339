--[==[
finish.lua: the running analyzer ends its task, or hands it back.

  EVALSHA <sha> 1 hotkey:{<iid>}:instance  <me> <task_id> <status>
      <now_ms> <policy> <num> [<key element> ...]

status success: the keys list hotkey:{iid}:task:<id>:keys is replaced by
  the elements (<freq>|<db>|<type>|<size>|<unit>|<shard>|<name>, in the
  details order), num set, finished_at now.
status failed: finished_at now, num 0, no keys list.
status waiting: handed back (SIGTERM): the task goes back to waiting at
  the head of the queue, started_at and owner dropped, the take not
  counted, hotkey:jobs published so another analyzer takes it.
policy: when not empty, the instance hash's eviction_policy (an instance
  found not to be on an LFU policy).
In every case the lease key is deleted and the instance id is published on
hotkey:changes.

Only the task's owner may do this: the lease holds <me>, or the lease is
gone while the task is still running and owned by <me>.  Reply 1 done,
0 not ours (nothing changed).
--]==]

local iid = string.match(KEYS[1], '^hotkey:{(.*)}:instance$')
local p = 'hotkey:{' .. iid .. '}:'
local me, id, status, now, policy, num = ARGV[1], ARGV[2], ARGV[3],
    ARGV[4], ARGV[5], ARGV[6]
local t = p .. 'task:' .. id
local lease = p .. 'lease:' .. id
local holder = redis.call('GET', lease)
local h = redis.call('HMGET', t, 'status', 'owner')

if h[1] ~= 'running' or (holder ~= me and (holder or h[2] ~= me)) then
    return 0
end

local score = redis.call('ZSCORE', p .. 'tasks', id) or now
redis.call('ZREM', p .. 'tasks:running', id)
redis.call('DEL', lease, t .. ':keys')

if status == 'waiting' then
    redis.call('HSET', t, 'status', 'waiting')
    redis.call('HDEL', t, 'started_at', 'owner')
    redis.call('HINCRBY', t, 'attempts', -1)
    redis.call('ZADD', p .. 'tasks:waiting', score, id)
    redis.call('LREM', p .. 'queue', 0, id)
    redis.call('RPUSH', p .. 'queue', id)
    redis.call('PUBLISH', 'hotkey:jobs', iid)
else
    redis.call('HSET', t, 'status', status, 'finished_at', now, 'num', num)
    redis.call('ZADD', p .. 'tasks:' .. status, score, id)
    if status == 'success' and #ARGV > 6 then
        redis.call('RPUSH', t .. ':keys', unpack(ARGV, 7))
    end
end

if policy ~= '' then
    redis.call('HSET', KEYS[1], 'eviction_policy', policy)
end
redis.call('PUBLISH', 'hotkey:changes', iid)
return 1
