-- Enqueue one or many tasks; each is all-or-nothing.
-- KEYS[1]=P:queues KEYS[2]=P:seq KEYS[3]=P:wake
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=task count ARGV[4]=the tasks, one blob: per task 14
--   values, each a 4-byte big-endian length then its bytes (one argument instead of 14 per
--   task keeps the client's command packing cheap; struct.unpack reads a task in one C call): id, handler, payload, priority, queue, weight,
--   weight_part, retries, retry_delay_ms, run_at_ms ('' when none), ready_at_ms,
--   metadata, idempotency_key, name
-- Returns per task: 1 stored, 0 id already stored, or the existing id (idempotency hit).
local now = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local blob = ARGV[4]
local pos = 1
local FIELDS = '>' .. string.rep('I4c0', 14)
-- One task's 14 values. Redis ships the struct library (one C call); Lua
-- without it (fakeredis) reads the same format byte by byte.
local function read_task()
  if struct then
    local f = {struct.unpack(FIELDS, blob, pos)}
    pos = f[15]
    return f
  end
  local f = {}
  for i = 1, 14 do
    local b1, b2, b3, b4 = string.byte(blob, pos, pos + 3)
    local len = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
    f[i] = string.sub(blob, pos + 4, pos + 3 + len)
    pos = pos + 4 + len
  end
  return f
end

local seq = redis.call('INCRBY', KEYS[2], count) - count
local known = {}
local results = {}
local stored = 0
for t = 1, count do
  local f = read_task()
  local id, queue, idem = f[1], f[5], f[13]
  local result = false
  if idem ~= '' then result = redis.call('GET', idem_key(idem)) end
  if not result then
    local tkey = task_key(id)
    if redis.call('EXISTS', tkey) == 1 then
      result = 0
    else
      seq = seq + 1
      local rank = new_rank(f[7], seq, id)
      local state = place(queue, id, f[4], rank, tonumber(f[11]), now)
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
