-- Forget dead workers (registration expired); key names as in assign.lua.
-- ARGV: prefix, and optionally a worker id to reap even though it is registered (a worker
-- starting under the id of a previous life reaps that life first).
-- Deletes the room mappings that still point at a dead worker, so the next assign moves them.
-- Returns {room, dead worker id, room, dead worker id, ...}: the rooms to announce as moved.
local prefix, forced = ARGV[1], ARGV[2]
local moved = {}

local function reap(id)
    local rooms_key = prefix .. ':worker:' .. id .. ':rooms'
    for _, room in ipairs(redis.call('HKEYS', rooms_key)) do
        local room_key = prefix .. ':room:' .. room
        if redis.call('GET', room_key) == id then
            redis.call('DEL', room_key)
            moved[#moved + 1] = room
            moved[#moved + 1] = id
        end
    end
    redis.call('DEL', rooms_key)
    redis.call('SREM', prefix .. ':workers', id)
end

if forced and forced ~= '' then
    reap(forced)
end
for _, id in ipairs(redis.call('SMEMBERS', prefix .. ':workers')) do
    if redis.call('EXISTS', prefix .. ':worker:' .. id) == 0 then
        reap(id)
    end
end
return moved
