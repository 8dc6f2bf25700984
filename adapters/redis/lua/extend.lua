-- Extend a lease to a new expiry.
-- KEYS[1]=P:queues
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=id ARGV[4]=token ARGV[5]=expiry_ms
-- Returns 1, or 0 when the lease is gone or stale (nothing changed).
local id = ARGV[3]
local f = leased(id, ARGV[4], 'queue')
if not f then return 0 end
redis.call('ZADD', processing_key(f[3]), 'XX', ARGV[5], id)
redis.call('HSET', task_key(id), 'lease_at_ms', ARGV[5], 'updated_at_ms', ARGV[2])
return 1
