-- Release unstarted leases: ready again at once, in their old place, attempt uncounted.
-- KEYS[1]=P:queues KEYS[2]=P:wake
-- ARGV[1]=P ARGV[2]=now_ms, then id, token pairs (an id as its 16 bytes)
-- Returns the number released (stale leases are skipped).
local released = 0
ids_ahead((#ARGV - 2) / 2)
for i = 3, #ARGV - 1, 2 do
  local id = id_text(ARGV[i], 1)
  local f = leased(id, ARGV[i + 1], 'queue', 'priority', 'weight', 'seq')
  if f then
    local tkey = task_key(id)
    local queue = queue_of(f[3])
    redis.call('ZREM', processing_key(queue), id)
    redis.call('ZADD', ready_key(queue), f[4] or '0', stored_rank(id, f[5], f[6]))
    redis.call('HINCRBY', tkey, 'attempts', -1)
    redis.call('HSET', tkey, 'state', 'ready', 'ready_at_ms', ARGV[2], 'updated_at_ms', ARGV[2])
    redis.call('HDEL', tkey, 'lease_token', 'lease_at_ms')
    released = released + 1
  end
end
wake(KEYS[2], released)
return released
