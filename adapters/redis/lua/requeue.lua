-- Requeue one task from any state: ready now or delayed, optionally to another queue.
-- KEYS[1]=P:queues KEYS[2]=P:dead KEYS[3]=P:seq KEYS[4]=P:wake
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=ready_at_ms ARGV[4]=target queue ('' = its own) ARGV[5]=id
-- Returns 1 moved, 0 no such task.
local id = ARGV[5]
local f = move_fields(id)
if not f then return 0 end
detach(id, f, KEYS[2], false)
reattach(id, f, ARGV[4], tonumber(ARGV[3]), tonumber(ARGV[2]), KEYS[3], KEYS[1], KEYS[4])
return 1
