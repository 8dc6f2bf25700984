-- Lease up to `limit` tasks across queues by weighted round robin.
-- KEYS[1]=P:queues KEYS[2]=P:paused KEYS[3]=P:paused:queues KEYS[4]=P:rr
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=lease_ms ARGV[4]=limit ARGV[5]=window
-- ARGV[6]=token_base ARGV[7]=default_queue ARGV[8]=n, then n queue names this node serves
--   (0: all known queues), then queue, weight pairs
-- Returns {next_due_ms or -1, then 14 values per lease: id (its 16 bytes), token, attempts, handler,
--   payload, priority, queue, weight, retries, retry_delay_ms, run_at_ms, metadata,
--   idempotency_key, name}; a field the hash leaves out (its default) comes back nil.
local now = tonumber(ARGV[2])
local expiry = now + tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local only = tonumber(ARGV[8])
local weights = {}
for i = 9 + only, #ARGV - 1, 2 do weights[ARGV[i]] = tonumber(ARGV[i + 1]) end

local names
if only > 0 then
  names = {}
  for i = 9, 8 + only do names[#names + 1] = ARGV[i] end
else
  names = redis.call('SMEMBERS', KEYS[1])
  local has_default = false
  for _, q in ipairs(names) do
    if q == ARGV[7] then has_default = true end
  end
  if not has_default then names[#names + 1] = ARGV[7] end
end
table.sort(names)

-- Back to ready in its old rank (position), for a due delayed task or an expired lease.
local function to_ready(id, q)
  local tkey = task_key(id)
  local f = redis.call('HMGET', tkey, 'state', 'priority', 'weight', 'seq')
  if f[1] then
    redis.call('ZADD', ready_key(q), f[2] or 0, stored_rank(id, f[3], f[4]))
    redis.call('HSET', tkey, 'state', 'ready')
  end
end

-- When the next delayed task or lease falls due (-1: none), so idle workers wait no longer.
local next_due = -1
local function note_due(score)
  if score and (next_due < 0 or score < next_due) then next_due = score end
end
local function head_score(key) return tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]) end

-- Bounded housekeeping per queue: promote due delayed tasks, reclaim expired leases
-- (the old token is dropped, so the worker that lost the lease is fenced off). Each set's
-- head is read first: when nothing is due (the usual case) that one read is all, and it
-- is also the set's next due time.
for _, q in ipairs(names) do
  local dkey = delayed_key(q)
  local first = head_score(dkey)
  if first and first <= now then
    local due = redis.call('ZRANGEBYSCORE', dkey, '-inf', now, 'LIMIT', 0, window)
    redis.call('ZREM', dkey, unpack(due))
    for _, id in ipairs(due) do to_ready(id, q) end
    first = head_score(dkey)
  end
  note_due(first)
  local pkey = processing_key(q)
  first = head_score(pkey)
  if first and first <= now then
    local expired = redis.call('ZRANGEBYSCORE', pkey, '-inf', now, 'LIMIT', 0, window)
    redis.call('ZREM', pkey, unpack(expired))
    for _, id in ipairs(expired) do
      redis.call('HDEL', task_key(id), 'lease_token', 'lease_at_ms')
      to_ready(id, q)
    end
    first = head_score(pkey)
  end
  note_due(first)  -- the leases granted below all expire at `expiry`: noted with them
end

local out = {-1}
if redis.call('GET', KEYS[2]) ~= '1' then
  local paused = {}
  for _, q in ipairs(redis.call('SMEMBERS', KEYS[3])) do paused[q] = true end
  local n = #names
  local cursor = 0
  local quota = {}
  local rr = redis.call('HGETALL', KEYS[4])
  for i = 1, #rr, 2 do
    if rr[i] == 'cursor' then cursor = tonumber(rr[i + 1]) else quota[string.sub(rr[i], 3)] = tonumber(rr[i + 1]) end
  end
  local leased_count = 0
  local picked = true
  local ready_left = {}  -- ZCARD once per queue, then counted down: one call per lease less
  for _, q in ipairs(names) do
    if not paused[q] then ready_left[q] = redis.call('ZCARD', ready_key(q)) else ready_left[q] = 0 end
  end
  while leased_count < limit and picked do
    -- go-worker's weighted round robin (docs/task-manager.md#priorities-weights-queues-the-exact-order), as domain.scheduling.WeightedRoundRobin.
    picked = nil
    cursor = cursor % n
    for step = 0, n - 1 do
      local idx = (cursor + step) % n
      local q = names[idx + 1]
      if ready_left[q] > 0 then
        local left = quota[q] or 0
        if left <= 0 then left = weights[q] or 1 end
        left = left - 1
        quota[q] = left
        if left <= 0 then cursor = (idx + 1) % n else cursor = idx end
        picked = q
        break
      end
      quota[q] = 0
    end
    if picked then
      ready_left[picked] = ready_left[picked] - 1
      local member = redis.call('ZPOPMIN', ready_key(picked))[1]
      local id = rank_id(member)
      local tkey = task_key(id)
      local f = redis.call('HMGET', tkey, 'handler', 'payload', 'priority', 'weight', 'retries',
        'retry_delay_ms', 'run_at_ms', 'metadata', 'idempotency_key', 'name', 'attempts')
      if f[1] then  -- a member without its hash is an orphan: dropped
        leased_count = leased_count + 1
        local token = ARGV[6] .. ':' .. leased_count
        local attempts = (tonumber(f[11]) or 0) + 1
        redis.call('HSET', tkey, 'attempts', attempts, 'state', 'processing', 'lease_token', token,
          'lease_at_ms', expiry, 'updated_at_ms', now)
        redis.call('ZADD', processing_key(picked), expiry, id)
        local o = #out
        out[o + 1] = string.sub(member, RANK_ID_OFFSET)  -- the id's 16 bytes: the cheapest to parse
        out[o + 2] = token
        out[o + 3] = attempts
        out[o + 4] = f[1]
        out[o + 5] = f[2]
        out[o + 6] = f[3]
        out[o + 7] = picked
        for i = 4, 10 do out[o + 4 + i] = f[i] end
      end
    end
  end
  local state = {'cursor', cursor}
  for _, q in ipairs(names) do
    state[#state + 1] = 'q:' .. q
    state[#state + 1] = quota[q] or 0
  end
  redis.call('HSET', KEYS[4], unpack(state))
  if leased_count > 0 then note_due(expiry) end
end

out[1] = next_due
return out
