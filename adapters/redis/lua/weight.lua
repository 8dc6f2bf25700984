-- Store or forget one queue's dequeue weight (the admin plane's; dequeue.lua reads P:weights).
-- KEYS[1]=P:weights KEYS[2]=P:queues ARGV[1]=queue ARGV[2]=weight, or '' to forget it
-- Returns 1 when a weight was stored or forgotten, 0 when there was none to forget.
if ARGV[2] == '' then return redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
