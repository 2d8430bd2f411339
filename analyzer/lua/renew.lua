--[==[
renew.lua: the running analyzer keeps its lease.

  EVALSHA <sha> 1 hotkey:{<iid>}:instance  <me> <task_id> <lease_ms>

Reply 1: the lease is ours and lasts lease_ms more.  2: the lease key was
gone (the store restarted, or a pause outlived it) but the task is still
running and ours: the lease is set again.  0: the task is no longer ours
(another analyzer recovered it, or it was deleted): stop working on it.
--]==]

local iid = string.match(KEYS[1], '^hotkey:{(.*)}:instance$')
local p = 'hotkey:{' .. iid .. '}:'
local me, id, lease_ms = ARGV[1], ARGV[2], ARGV[3]
local lease = p .. 'lease:' .. id
local holder = redis.call('GET', lease)

if holder == me then
    redis.call('PEXPIRE', lease, lease_ms)
    return 1
end
if holder then
    return 0
end
local h = redis.call('HMGET', p .. 'task:' .. id, 'status', 'owner')
if h[1] == 'running' and h[2] == me then
    redis.call('SET', lease, me, 'PX', lease_ms)
    return 2
end
return 0
