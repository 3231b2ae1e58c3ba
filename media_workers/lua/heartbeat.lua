-- A worker's heartbeat (media_workers/registry.py); key names as in assign.lua.
-- ARGV: prefix, worker id, ttl (ms), assign grace (ms), JSON object of fields, hosted room ids...
-- Upserts the registration and sets its expiry: a worker that misses beats for ttl is dead.
-- Releases rooms assigned here that nobody opened within the grace period.
-- A hosted room without a mapping (Redis restarted and lost it, or the reaper took it while
-- this worker was presumed dead and nobody has moved it yet) is claimed back: the room is here
-- and running. Returns the hosted rooms mapped to another worker (moved while this one was
-- presumed dead): the worker closes them. (Hosted: open and not closing.)
local prefix, id = ARGV[1], ARGV[2]
local ttl, grace = tonumber(ARGV[3]), tonumber(ARGV[4])
local worker_key = prefix .. ':worker:' .. id
local rooms_key = worker_key .. ':rooms'
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local fields = {}
for name, value in pairs(cjson.decode(ARGV[5])) do
    fields[#fields + 1] = name
    fields[#fields + 1] = tostring(value)
end
redis.call('HSET', worker_key, unpack(fields))
redis.call('PEXPIRE', worker_key, ttl)
redis.call('SADD', prefix .. ':workers', id)

local hosted = {}
for i = 6, #ARGV do
    hosted[ARGV[i]] = true
end
local assigned = redis.call('HGETALL', rooms_key)
for i = 1, #assigned, 2 do
    local room, since = assigned[i], tonumber(assigned[i + 1])
    if not hosted[room] and now - since > grace then
        redis.call('HDEL', rooms_key, room)
        if redis.call('GET', prefix .. ':room:' .. room) == id then
            redis.call('DEL', prefix .. ':room:' .. room)
        end
    end
end

local lost = {}
for room, _ in pairs(hosted) do
    local room_key = prefix .. ':room:' .. room
    local owner = redis.call('GET', room_key)
    if not owner then
        redis.call('SET', room_key, id)
        redis.call('HSET', rooms_key, room, now)
    elseif owner ~= id then
        lost[#lost + 1] = room
    end
end
return lost
