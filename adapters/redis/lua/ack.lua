-- Ack leases: forget each task whose token is current.
-- KEYS[1]=P:queues
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=idempotency_ttl_ms, then id, token pairs (an id as its 16 bytes)
-- With results on, KEYS[2]=P:results and ARGV[4]=result_ttl_ms ARGV[5]=results_max_len
-- ARGV[6]=node id, then id, token, output triples (the node id and each output as a JSON
-- string literal): each acked task's outcome is recorded (outcome.lua); results off keeps the
-- arguments, and the work, above.
-- Two variants (adapters/redis/scripts.py): 'ack', and 'ack_capped' for a node whose last dequeue
-- saw a queue cap in P:limits: that one wakes a node for a freed slot (capped.lua).
-- Returns per lease: 1 acked, 0 lease gone or stale (nothing changed).
-- The fencing check is per lease; for a batch the removals are not: one ZREM per queue and
-- one DEL for all the hashes, once the checks are done (docs/durable.md#throughput).
local ttl = tonumber(ARGV[3])
local outcomes = #KEYS > 1
local first, width = 4, 2
if outcomes then first, width = 7, 3 end
local count = (#ARGV - first + 1) / width
local results = {}
local done, tkeys, by_queue  -- a batch's acked ids, hashes and per-queue ids
if count > 1 then done, tkeys, by_queue = {}, {}, {} end
ids_ahead(count)
local freed = CAPPED and {} or nil  -- the queues a lease left
for i = first, #ARGV - width + 1, width do
  local id = id_text(ARGV[i], 1)
  local f
  if outcomes then
    f = leased(id, ARGV[i + 1], 'queue', 'idempotency_key', 'handler', 'attempts')
  else
    f = leased(id, ARGV[i + 1], 'queue', 'idempotency_key')
  end
  if f and done then
    if done[id] then f = nil else done[id] = true end  -- the same lease twice acks once
  end
  if f then
    local q = queue_of(f[3])
    if freed then freed[q] = true end
    if done then
      local ids = by_queue[q]
      if not ids then ids = {}; by_queue[q] = ids end
      ids[#ids + 1] = id
      tkeys[#tkeys + 1] = task_key(id)
    else
      redis.call('ZREM', processing_key(q), id)
      redis.call('DEL', task_key(id))
    end
    if f[4] and f[4] ~= '' then
      -- The key keeps deduplicating for ttl after the task is gone (0: forgotten now).
      if ttl > 0 then redis.call('PEXPIRE', idem_key(f[4]), ARGV[3]) else redis.call('DEL', idem_key(f[4])) end
    end
    if outcomes then
      record_outcome(id, 'Completed', ARGV[i + 2], '""', f[6], ARGV[6], f[5], ARGV[2], ARGV[4], ARGV[5])
    end
    results[#results + 1] = 1
  else
    results[#results + 1] = 0
  end
end
if done then  -- in chunks of 1000: Lua's unpack() has a stack limit
  for q, ids in pairs(by_queue) do
    local pkey = processing_key(q)
    for from = 1, #ids, 1000 do redis.call('ZREM', pkey, unpack(ids, from, math.min(from + 999, #ids))) end
  end
  for from = 1, #tkeys, 1000 do redis.call('DEL', unpack(tkeys, from, math.min(from + 999, #tkeys))) end
end
if freed then wake_capped(freed) end
return results
