-- Ack leases: forget each task whose token is current.
-- KEYS[1]=P:queues
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=idempotency_ttl_ms, then id, token pairs (an id as its 16 bytes)
-- Returns per lease: 1 acked, 0 lease gone or stale (nothing changed).
local ttl = tonumber(ARGV[3])
local results = {}
for i = 4, #ARGV - 1, 2 do
  local id = id_text(ARGV[i], 1)
  local f = leased(id, ARGV[i + 1], 'queue', 'idempotency_key')
  if f then
    redis.call('ZREM', processing_key(queue_of(f[3])), id)
    redis.call('DEL', task_key(id))
    if f[4] and f[4] ~= '' then
      -- The key keeps deduplicating for ttl after the task is gone (0: forgotten now).
      if ttl > 0 then redis.call('PEXPIRE', idem_key(f[4]), ttl) else redis.call('DEL', idem_key(f[4])) end
    end
    results[#results + 1] = 1
  else
    results[#results + 1] = 0
  end
end
return results
