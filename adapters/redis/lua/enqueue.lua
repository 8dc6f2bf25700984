-- Enqueue one or many tasks; each is all-or-nothing.
-- KEYS[1]=P:queues KEYS[2]=P:seq KEYS[3]=P:wake
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=task count ARGV[4]=the tasks, one blob: per task 15
--   values, each a 4-byte big-endian length then its bytes (one argument instead of 15 per
--   task keeps the client's command packing cheap; struct.unpack reads a task in one C call):
--   id, id_bytes (16), handler, payload, priority, queue, weight, weight_part (4 bytes),
--   retries, retry_delay_ms, run_at_ms, ready_at_ms, metadata, idempotency_key, name.
--   weight, retries, retry_delay_ms, run_at_ms, metadata, idempotency_key and name are ''
--   when they hold the default: such a field is left out of the hash.
-- Returns per task: 1 stored, 0 id already stored, or the existing id (idempotency hit).
local now = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local blob = ARGV[4]
local pos = 1
local FIELDS = '>I4c0I4c0I4c0I4c0I4c0I4c0I4c0I4c0I4c0I4c0I4c0I4c0I4c0I4c0I4c0'  -- 15 x I4c0
-- One task's 15 values. Redis ships the struct library (one C call); Lua
-- without it (fakeredis) reads the same format byte by byte.
local function read_task()
  if struct then
    local f = {struct.unpack(FIELDS, blob, pos)}
    pos = f[16]
    return f
  end
  local f = {}
  for i = 1, 15 do
    local b1, b2, b3, b4 = string.byte(blob, pos, pos + 3)
    local len = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
    f[i] = string.sub(blob, pos + 4, pos + 3 + len)
    pos = pos + 4 + len
  end
  return f
end

local seq = redis.call('INCRBY', KEYS[2], ARGV[3]) - count
local last_queue
local results = {}
local stored = 0
for t = 1, count do
  local f = read_task()
  local id, queue, idem = f[1], f[6], f[14]
  local result = false
  if idem ~= '' then result = redis.call('GET', idem_key(idem)) end
  if not result then
    local tkey = task_key(id)
    if redis.call('EXISTS', tkey) == 1 then
      result = 0
    else
      seq = seq + 1
      local state = place(queue, id, f[5], new_rank(f[8], seq, f[2]), tonumber(f[12]), now)
      -- Straight-line: the hot path of every enqueue. A field at its default is left out.
      local h = {'handler', f[3], 'payload', f[4], 'ready_at_ms', f[12], 'seq', string.format('%d', seq),
        'state', state}
      local n = 10
      if f[5] ~= '0' then h[n + 1] = 'priority'; h[n + 2] = f[5]; n = n + 2 end
      if queue ~= DEFAULT_QUEUE then h[n + 1] = 'queue'; h[n + 2] = queue; n = n + 2 end
      if f[7] ~= '' then h[n + 1] = 'weight'; h[n + 2] = f[7]; n = n + 2 end
      if f[9] ~= '' then h[n + 1] = 'retries'; h[n + 2] = f[9]; n = n + 2 end
      if f[10] ~= '' then h[n + 1] = 'retry_delay_ms'; h[n + 2] = f[10]; n = n + 2 end
      if f[11] ~= '' then h[n + 1] = 'run_at_ms'; h[n + 2] = f[11]; n = n + 2 end
      -- No updated_at_ms while it equals ready_at_ms: stored now and ready now (every later change sets it).
      if f[12] ~= ARGV[2] then h[n + 1] = 'updated_at_ms'; h[n + 2] = ARGV[2]; n = n + 2 end
      if f[13] ~= '' then h[n + 1] = 'metadata'; h[n + 2] = f[13]; n = n + 2 end
      if idem ~= '' then h[n + 1] = 'idempotency_key'; h[n + 2] = idem; n = n + 2 end
      if f[15] ~= '' then h[n + 1] = 'name'; h[n + 2] = f[15]; n = n + 2 end
      redis.call('HSET', tkey, unpack(h, 1, n))
      if queue ~= last_queue then  -- once per run of one queue: no table to keep for one task
        last_queue = queue
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
