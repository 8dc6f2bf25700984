-- Pause or resume dequeue, for every queue (queue '') or one queue.
-- KEYS[1]=P:paused KEYS[2]=P:paused:queues KEYS[3]=P:wake
-- ARGV[1]=P ARGV[2]='pause' or 'resume' ARGV[3]=queue or ''
local queue = ARGV[3]
if ARGV[2] == 'pause' then
  if queue == '' then redis.call('SET', KEYS[1], '1') else redis.call('SADD', KEYS[2], queue) end
else
  if queue == '' then redis.call('DEL', KEYS[1]) else redis.call('SREM', KEYS[2], queue) end
  wake(KEYS[3], WAKE_CAP)
end
return 1
