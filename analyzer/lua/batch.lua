--[==[
batch.lua: one batch of the scan of an analysed instance, run on that
instance: SCAN, then OBJECT FREQ of each key it returned, in one call;
only the keys that may enter the analyzer's top come back.

  EVALSHA <sha> 0  <cursor> <count> <min_freq> [<tie_name>]

No KEYS: it runs in the connection's database, on the keys SCAN has just
returned (on a cluster node, those of its own slots).  Reply:

  { next cursor, keys scanned, name, freq, name, freq, ... }

with each key whose freq is above min_freq, or equal to it and, when
tie_name is given, bytewise before tie_name (the analyzer passes its
top's coldest key: most keys never leave the instance).  A key that
vanished meanwhile, or whose slot this node does not serve (being
imported), is skipped; any other error of OBJECT FREQ (the policy is no
longer LFU) is the reply.  Read-only: nothing is replicated.  The
analyzer bounds count (--scan-count): one call holds the instance for
about a microsecond or two per key.
--]==]

local r = redis.call('SCAN', ARGV[1], 'COUNT', ARGV[2])
local keys, min, tie = r[2], tonumber(ARGV[3]), ARGV[4]
local out, n = { r[1], #keys }, 2
local pcall, byte, find = redis.pcall, string.byte, string.find

local function before(a, b)
    for i = 1, math.min(#a, #b) do
        local x, y = byte(a, i), byte(b, i)
        if x ~= y then
            return x < y
        end
    end
    return #a < #b
end

local function elsewhere(e)
    return find(e, 'non local key', 1, true) or find(e, '^MOVED')
           or find(e, '^ASK') or find(e, '^TRYAGAIN')
end

for i = 1, #keys do
    local k = keys[i]
    local f = pcall('OBJECT', 'FREQ', k)
    if type(f) == 'number' then
        if f > min or (f == min and (tie == nil or before(k, tie))) then
            out[n + 1] = k
            out[n + 2] = f
            n = n + 2
        end
    elseif type(f) == 'table' and f.err and not elsewhere(f.err) then
        return f
    end
end

return out
