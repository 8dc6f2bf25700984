-- Read-only: one page of the tasks in one state, in dequeue order (the DLQ newest first).
-- KEYS[1]=P:queues KEYS[2]=P:dead
-- ARGV[1]=P ARGV[2]=state ARGV[3]=queue ('' for all) ARGV[4]=start ARGV[5]=size
-- ARGV[6]=budget (DLQ entries a queue-filtered call examines at most)
-- ARGV[7]=1 to send each task's whole hash; 0 to send only the fields ARGV[8..] name (the
--   record's fields but the payload: a listing that shows none)
-- A position counts the listing's entries: queues alphabetical, each in dequeue order; for
-- the DLQ, its entries whatever their queue (a queue filter skips, the position still counts).
-- Returns {the next page's start or -1 when nothing follows, then per task {id, field,
--   value, ...} (its hash)}.
local state, queue = ARGV[2], ARGV[3]
local start, size, budget = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local ids = {}
local follows = -1

if state == 'dead' and queue ~= '' then
  local pos, stop = start, start + budget
  while follows < 0 and pos < stop do
    local chunk = redis.call('LRANGE', KEYS[2], pos, math.min(pos + 255, stop - 1))
    if #chunk == 0 then break end
    for _, id in ipairs(chunk) do
      if queue_of(redis.call('HGET', task_key(id), 'queue')) == queue then
        if #ids == size then follows = pos; break end
        ids[#ids + 1] = id
      end
      pos = pos + 1
    end
  end
  -- Budget spent before the DLQ's end: the page may be short, the next one goes on from here.
  if follows < 0 and pos >= stop and redis.call('LLEN', KEYS[2]) > pos then follows = pos end
elseif state == 'dead' then
  ids = redis.call('LRANGE', KEYS[2], start, start + size)
else
  local names = {queue}
  if queue == '' then
    names = redis.call('SMEMBERS', KEYS[1])
    table.sort(names)
  end
  local skip = start
  for _, q in ipairs(names) do
    if #ids > size then break end
    local key
    if state == 'ready' then key = ready_key(q) elseif state == 'delayed' then key = delayed_key(q)
    else key = processing_key(q) end
    local count = redis.call('ZCARD', key)
    if skip >= count then
      skip = skip - count
    else
      for _, member in ipairs(redis.call('ZRANGE', key, skip, skip + size - #ids)) do
        if state == 'ready' then member = rank_id(member) end
        ids[#ids + 1] = member
      end
      skip = 0
    end
  end
end
-- One entry past the page was read to know whether another page follows.
if #ids > size then
  ids[#ids] = nil
  follows = start + size
end

local out = {follows}
if ARGV[7] == '0' then
  -- HMGET of the named fields: the payload is never read, so a page costs the same whatever it weighs.
  local names = {unpack(ARGV, 8)}
  for _, id in ipairs(ids) do
    local values = redis.call('HMGET', task_key(id), unpack(names))
    local row = {id}
    for i, name in ipairs(names) do
      if values[i] then row[#row + 1] = name; row[#row + 1] = values[i] end
    end
    out[#out + 1] = row
  end
  return out
end
for _, id in ipairs(ids) do
  local row = redis.call('HGETALL', task_key(id))
  table.insert(row, 1, id)
  out[#out + 1] = row
end
return out
