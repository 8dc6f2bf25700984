-- Read-only listing of tasks in one state, in dequeue order (the DLQ newest first).
-- KEYS[1]=P:queues KEYS[2]=P:dead
-- ARGV[1]=P ARGV[2]=state ARGV[3]=queue ('' for all) ARGV[4]=limit (0: all) ARGV[5]=default_queue
-- Returns a list of {id, field, value, ...} (the task hash) per task.
local state, queue, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
local ids = {}
local function full() return limit > 0 and #ids >= limit end
if state == 'dead' then
  local stop = -1
  if queue == '' and limit > 0 then stop = limit - 1 end
  for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, stop)) do
    if full() then break end
    if queue == '' or redis.call('HGET', task_key(id), 'queue') == queue then ids[#ids + 1] = id end
  end
else
  local names = {queue}
  if queue == '' then
    names = redis.call('SMEMBERS', KEYS[1])
    table.sort(names)
  end
  for _, q in ipairs(names) do
    if full() then break end
    local stop = -1
    if limit > 0 then stop = limit - #ids - 1 end
    if state == 'ready' then
      for _, member in ipairs(redis.call('ZRANGE', ready_key(q), 0, stop)) do
        ids[#ids + 1] = string.sub(member, RANK_ID_OFFSET)
      end
    else
      local key = state == 'delayed' and delayed_key(q) or processing_key(q)
      for _, id in ipairs(redis.call('ZRANGE', key, 0, stop)) do ids[#ids + 1] = id end
    end
  end
end
local out = {}
for _, id in ipairs(ids) do
  local row = redis.call('HGETALL', task_key(id))
  table.insert(row, 1, id)
  out[#out + 1] = row
end
return out
