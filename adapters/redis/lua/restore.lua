-- Restore one task from a snapshot: replace what is stored under its id, then place it.
-- KEYS[1]=P:queues KEYS[2]=P:dead KEYS[3]=P:seq KEYS[4]=P:wake
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=id ARGV[4]=state, then the hash's field, value pairs
-- (queue, priority, weight, ready_at_ms, lease_at_ms, idempotency_key among them; a field
-- left out holds its default).
-- Returns 1.
local now, id, state = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local old = move_fields(id)
local tkey = task_key(id)
if old then detach(id, old, KEYS[2], false) end
redis.call('DEL', tkey, P .. ':result:' .. id)  -- a kept outcome is stale now
redis.call('HSET', tkey, unpack(ARGV, 5))
local h = redis.call('HMGET', tkey, 'queue', 'priority', 'weight', 'ready_at_ms', 'lease_at_ms', 'idempotency_key')
local queue = queue_of(h[1])
local seq = redis.call('INCR', KEYS[3])
local rank = stored_rank(id, h[3], seq)
redis.call('HSET', tkey, 'seq', string.format('%d', seq))
redis.call('SADD', KEYS[1], queue)
if state == 'dead' then
  redis.call('RPUSH', KEYS[2], id)
  redis.call('HSET', tkey, 'state', 'dead')
  redis.call('HDEL', tkey, 'lease_at_ms')
elseif state == 'processing' then
  local at = tonumber(h[5]) or 0
  if at <= 0 then at = now end
  redis.call('ZADD', processing_key(queue), at, id)
  redis.call('HSET', tkey, 'state', 'processing', 'lease_token', 'restored', 'lease_at_ms', at)
else
  local ready_at = tonumber(h[4]) or now
  if state ~= 'delayed' and ready_at > now then ready_at = now end
  local placed = place(queue, id, tonumber(h[2]) or 0, rank, ready_at, now)
  redis.call('HSET', tkey, 'state', placed, 'ready_at_ms', ready_at)
  redis.call('HDEL', tkey, 'lease_at_ms')
end
if h[6] and h[6] ~= '' then redis.call('SET', idem_key(h[6]), id) end
wake(KEYS[4], 1)
return 1
