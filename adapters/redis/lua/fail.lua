-- Fail a lease: the task moves to the DLQ (newest first) with its error and time.
-- KEYS[1]=P:queues KEYS[2]=P:dead
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=id ARGV[4]=token ARGV[5]=error text
-- Two variants, as for ack: 'fail_capped' wakes a node for the freed slot of a capped queue.
-- Returns 1, or 0 when the lease is gone or stale (nothing changed).
local id = ARGV[3]
local f = leased(id, ARGV[4], 'queue')
if not f then return 0 end
local tkey = task_key(id)
redis.call('ZREM', processing_key(queue_of(f[3])), id)
redis.call('LPUSH', KEYS[2], id)
redis.call('HSET', tkey, 'state', 'dead', 'last_error', ARGV[5], 'failed_at_ms', ARGV[2],
  'updated_at_ms', ARGV[2])
redis.call('HDEL', tkey, 'lease_token', 'lease_at_ms')
if CAPPED then wake_capped({[queue_of(f[3])] = true}) end
return 1
