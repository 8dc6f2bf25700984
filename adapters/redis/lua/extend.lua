-- Extend leases to a new expiry: each one whose token is current.
-- KEYS[1]=P:queues
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=expiry_ms, then id, token pairs (an id as its 16 bytes)
-- Returns per lease: 1 extended, 0 lease gone or stale (nothing changed), or the reason of a
-- requested cancellation (extended too: docs/cluster.md#cancellation).
local results = {}
ids_ahead((#ARGV - 3) / 2)
for i = 4, #ARGV - 1, 2 do
  local id = id_text(ARGV[i], 1)
  local f = leased(id, ARGV[i + 1], 'queue', 'cancel_requested')
  if f then
    redis.call('ZADD', processing_key(queue_of(f[3])), 'XX', ARGV[3], id)
    redis.call('HSET', task_key(id), 'lease_at_ms', ARGV[3], 'updated_at_ms', ARGV[2])
    results[#results + 1] = f[4] or 1
  else
    results[#results + 1] = 0
  end
end
return results
