-- Enqueue one or many tasks; each is all-or-nothing.
-- KEYS[1]=P:queues KEYS[2]=P:seq KEYS[3]=P:wake
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=task count ARGV[4]=the tasks, one blob: per task 14
--   length-prefixed values "<len>:<bytes>" (one argument instead of 14 per task keeps the
--   client's command packing cheap): id, handler, payload, priority, queue, weight,
--   weight_part, retries, retry_delay_ms, run_at_ms ('' when none), ready_at_ms,
--   metadata, idempotency_key, name
-- Returns per task: 1 stored, 0 id already stored, or the existing id (idempotency hit).
local now = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local blob = ARGV[4]
local pos = 1
local function take()
  local colon = string.find(blob, ':', pos, true)
  local stop = colon + tonumber(string.sub(blob, pos, colon - 1))
  local value = string.sub(blob, colon + 1, stop)
  pos = stop + 1
  return value
end

local seq = redis.call('INCRBY', KEYS[2], count) - count
local known = {}
local results = {}
local stored = 0
for t = 1, count do
  local f = {}
  for i = 1, 14 do f[i] = take() end
  local id, queue, idem = f[1], f[5], f[13]
  local result = false
  if idem ~= '' then result = redis.call('GET', idem_key(idem)) end
  if not result then
    local tkey = task_key(id)
    if redis.call('EXISTS', tkey) == 1 then
      result = 0
    else
      seq = seq + 1
      local ready_at = tonumber(f[11])
      local rank = new_rank(f[7], seq, id)
      local state = 'ready'
      if ready_at > now then
        state = 'delayed'
        redis.call('ZADD', delayed_key(queue), ready_at, id)
      else
        redis.call('ZADD', ready_key(queue), f[4], rank)
      end
      redis.call('HSET', tkey,
        'handler', f[2], 'payload', f[3], 'priority', f[4], 'queue', queue, 'weight', f[6],
        'retries', f[8], 'retry_delay_ms', f[9], 'run_at_ms', f[10], 'ready_at_ms', f[11],
        'metadata', f[12], 'idempotency_key', idem, 'name', f[14], 'attempts', 0,
        'updated_at_ms', now, 'rank', rank, 'state', state)
      if not known[queue] then
        known[queue] = true
        redis.call('SADD', KEYS[1], queue)
      end
      if idem ~= '' then redis.call('SET', idem_key(idem), id) end
      stored = stored + 1
      result = 1
    end
  end
  results[t] = result
end
wake(KEYS[3], stored)
return results
