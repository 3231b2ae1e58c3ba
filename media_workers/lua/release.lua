-- A worker gives rooms back (closed, or handed over at the end of a drain); key names as in
-- assign.lua. ARGV: prefix, worker id, room ids... Returns how many mappings were removed.
local prefix, id = ARGV[1], ARGV[2]
local released = 0
for i = 3, #ARGV do
    local room = ARGV[i]
    redis.call('HDEL', prefix .. ':worker:' .. id .. ':rooms', room)
    if redis.call('GET', prefix .. ':room:' .. room) == id then
        redis.call('DEL', prefix .. ':room:' .. room)
        released = released + 1
    end
end
return released
