-- Room assignment: which live worker serves a room (media_workers/assignment.py).
-- Keys are built from the prefix (one Redis, not a cluster); names as in media_workers/keys.py:
--   <p>:workers                set of registered worker ids
--   <p>:worker:<id>            hash: capacity, load (peers), draining, ...; expires with the heartbeat
--   <p>:worker:<id>:rooms      hash: room id -> time assigned (ms); no expiry (reaped)
--   <p>:room:<room>            string: worker id
-- ARGV: prefix, room id, CPU limit (share of a core), loop lag limit (ms); the limits may be ''.
-- Sticky: a room stays on its worker while that worker's registration lives (draining too: it
-- still serves its rooms). Otherwise the least-loaded live worker that is not draining and not
-- full takes it: score = (peers + assigned rooms) / capacity, ties to fewer units, then the id.
-- Counting assigned rooms makes a burst of new rooms spread out before their peers arrive.
-- Saturated workers (their pulse reports CPU or loop lag at a limit, media_workers/liveness.py)
-- take a new room only when every other candidate is saturated too (as LiveKit's cpuload
-- selector): a busy worker keeps its rooms and stops growing.
-- Returns {worker id, previous worker id or '', its channel, its address}, or nil when no live
-- worker can take the room.
local prefix, room = ARGV[1], ARGV[2]
local cpu_limit, lag_limit = tonumber(ARGV[3] or ''), tonumber(ARGV[4] or '')
local room_key = prefix .. ':room:' .. room
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local current = redis.call('GET', room_key)
if current and redis.call('EXISTS', prefix .. ':worker:' .. current) == 1 then
    redis.call('HSET', prefix .. ':worker:' .. current .. ':rooms', room, now)
    local where = redis.call('HMGET', prefix .. ':worker:' .. current, 'channel', 'address')
    return {current, '', where[1] or '', where[2] or ''}
end

-- best[1]: among workers that are not saturated; best[2]: among saturated ones.
local best = {{}, {}}
local function consider(slot, id, score, units)
    local b = best[slot]
    if b.id == nil or score < b.score
        or (score == b.score and (units < b.units or (units == b.units and id < b.id))) then
        b.id, b.score, b.units = id, score, units
    end
end
for _, id in ipairs(redis.call('SMEMBERS', prefix .. ':workers')) do
    local worker_key = prefix .. ':worker:' .. id
    local fields = redis.call('HMGET', worker_key, 'capacity', 'load', 'draining', 'cpu', 'lag_ms')
    local capacity, load = tonumber(fields[1]), tonumber(fields[2]) or 0
    if capacity and capacity > 0 and fields[3] ~= '1' and load < capacity then
        local units = load + redis.call('HLEN', worker_key .. ':rooms')
        local cpu, lag = tonumber(fields[4]), tonumber(fields[5])
        local saturated = (cpu_limit and cpu and cpu >= cpu_limit) or (lag_limit and lag and lag >= lag_limit)
        consider(saturated and 2 or 1, id, units / capacity, units)
    end
end
best = best[1].id or best[2].id
if best == nil then
    return nil
end
redis.call('SET', room_key, best)
redis.call('HSET', prefix .. ':worker:' .. best .. ':rooms', room, now)
if current then
    redis.call('HDEL', prefix .. ':worker:' .. current .. ':rooms', room)
end
local where = redis.call('HMGET', prefix .. ':worker:' .. best, 'channel', 'address')
return {best, current or '', where[1] or '', where[2] or ''}
