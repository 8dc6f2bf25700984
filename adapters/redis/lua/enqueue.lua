-- Enqueue one or many tasks; each is all-or-nothing.
-- KEYS[1]=P:queues KEYS[2]=P:seq KEYS[3]=P:wake
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=fields per task (14), then per task:
--   id, handler, payload, priority, queue, weight, weight_part, retries,
--   retry_delay_ms, run_at_ms ('' when none), ready_at_ms, metadata, idempotency_key, name
-- Returns per task: 1 stored, 0 id already stored, or the existing id (idempotency hit).
local now = tonumber(ARGV[2])
local width = tonumber(ARGV[3])
local count = (#ARGV - 3) / width
local seq = redis.call('INCRBY', KEYS[2], count) - count
local known = {}
local results = {}
local stored = 0
for t = 0, count - 1 do
  local b = 3 + t * width
  local id, queue, idem = ARGV[b + 1], ARGV[b + 5], ARGV[b + 13]
  local result = false
  if idem ~= '' then result = redis.call('GET', idem_key(idem)) end
  if not result then
    local tkey = task_key(id)
    if redis.call('EXISTS', tkey) == 1 then
      result = 0
    else
      seq = seq + 1
      local priority, ready_at = ARGV[b + 4], tonumber(ARGV[b + 11])
      local rank = new_rank(ARGV[b + 7], seq, id)
      local state = 'ready'
      if ready_at > now then
        state = 'delayed'
        redis.call('ZADD', delayed_key(queue), ready_at, id)
      else
        redis.call('ZADD', ready_key(queue), priority, rank)
      end
      redis.call('HSET', tkey,
        'handler', ARGV[b + 2], 'payload', ARGV[b + 3], 'priority', priority, 'queue', queue,
        'weight', ARGV[b + 6], 'retries', ARGV[b + 8], 'retry_delay_ms', ARGV[b + 9],
        'run_at_ms', ARGV[b + 10], 'ready_at_ms', ARGV[b + 11], 'metadata', ARGV[b + 12],
        'idempotency_key', idem, 'name', ARGV[b + 14], 'attempts', 0, 'updated_at_ms', now,
        'rank', rank, 'state', state)
      if not known[queue] then
        known[queue] = true
        redis.call('SADD', KEYS[1], queue)
      end
      if idem ~= '' then redis.call('SET', idem_key(idem), id) end
      stored = stored + 1
      result = 1
    end
  end
  results[t + 1] = result
end
wake(KEYS[3], stored)
return results
