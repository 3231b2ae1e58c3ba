-- A worker's pulse (media_workers/liveness.py), from a thread of its own; names as in assign.lua.
-- ARGV: prefix, worker id, ttl (ms), loop lag (ms), CPU (share of one core, 0..n).
-- Extends the registration's expiry and records how the worker is coping. Does nothing when
-- the registration is gone (expired or never made): the worker's own heartbeat re-registers.
-- Returns 1 when the registration was extended, else 0.
local prefix, id = ARGV[1], ARGV[2]
local worker_key = prefix .. ':worker:' .. id
if redis.call('EXISTS', worker_key) == 0 then
    return 0
end
redis.call('PEXPIRE', worker_key, tonumber(ARGV[3]))
redis.call('HSET', worker_key, 'lag_ms', ARGV[4], 'cpu', ARGV[5])
return 1
