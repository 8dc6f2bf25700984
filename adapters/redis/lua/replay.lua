-- Replay the oldest dead-letter task (the DLQ's tail) to its queue, ready now.
-- KEYS[1]=P:queues KEYS[2]=P:dead KEYS[3]=P:seq KEYS[4]=P:wake
-- ARGV[1]=P ARGV[2]=now_ms
-- Returns 1 replayed, -1 an entry whose task is gone (dropped), 0 the DLQ is empty.
local id = redis.call('RPOP', KEYS[2])
if not id then return 0 end
local f = move_fields(id)
if not f then return -1 end
detach(id, f, KEYS[2], true)
reattach(id, f, '', tonumber(ARGV[2]), tonumber(ARGV[2]), KEYS[3], KEYS[1], KEYS[4])
return 1
