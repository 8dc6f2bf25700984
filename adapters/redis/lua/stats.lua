-- Read-only counts.
-- KEYS[1]=P:queues KEYS[2]=P:paused KEYS[3]=P:paused:queues KEYS[4]=P:dead
-- ARGV[1]=P ARGV[2]=default_queue
-- Returns {global paused 0/1, DLQ length, then per queue (sorted): name, ready, delayed,
--   processing, paused 0/1}.
local seen, names, paused = {}, {}, {}
local function add(q)
  if not seen[q] then seen[q] = true; names[#names + 1] = q end
end
for _, q in ipairs(redis.call('SMEMBERS', KEYS[1])) do add(q) end
for _, q in ipairs(redis.call('SMEMBERS', KEYS[3])) do add(q); paused[q] = true end
add(ARGV[2])
table.sort(names)
local out = {redis.call('GET', KEYS[2]) == '1' and 1 or 0, redis.call('LLEN', KEYS[4])}
for _, q in ipairs(names) do
  out[#out + 1] = q
  out[#out + 1] = redis.call('ZCARD', ready_key(q))
  out[#out + 1] = redis.call('ZCARD', delayed_key(q))
  out[#out + 1] = redis.call('ZCARD', processing_key(q))
  out[#out + 1] = paused[q] and 1 or 0
end
return out
