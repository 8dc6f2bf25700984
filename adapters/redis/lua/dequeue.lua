-- Lease up to `limit` tasks across queues by weighted round robin.
-- KEYS[1]=P:queues KEYS[2]=P:paused KEYS[3]=P:paused:queues KEYS[4]=P:rr
-- P:limits and the bucket it names are not KEYS (two more keys cost every call, limits or not):
-- P:limits shares P's slot, and its 'bucket' field is the bucket's name, which a node on a
-- cluster stores braced (adapters/redis/keys.py, global_rate_key).
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=lease_ms ARGV[4]=limit ARGV[5]=window
-- ARGV[6]=token_base ARGV[7]=default_queue ARGV[8]=n, then n queue names this node serves
--   (0: all known queues), then queue, weight pairs
-- Returns {next_due_ms or -1, what P:limits holds: 1 a queue cap (acks then wake for freed slots)
--   + 2 a global rate (the node then never pipelines a stale now behind its wait),
--   then 14 values per lease: id (its 16 bytes), token, attempts, handler,
--   payload, priority, queue, weight, retries, retry_delay_ms, run_at_ms, metadata,
--   idempotency_key, name}; a field the hash leaves out (its default) comes back nil.
local now = tonumber(ARGV[2])
local expiry = now + tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
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
    redis.call('ZADD', ready_key(q), f[2] or '0', stored_rank(id, f[3], f[4]))
    redis.call('HSET', tkey, 'state', 'ready')
  end
end

-- When the next delayed task or lease falls due (-1: none), so idle workers wait no longer.
local next_due = -1
local function note_due(score)
  if score and (next_due < 0 or score < next_due) then next_due = score end
end
local function head_score(key) return tonumber(redis.call('ZRANGE', key, '0', '0', 'WITHSCORES')[2]) end

-- Bounded housekeeping per queue: promote due delayed tasks, reclaim expired leases
-- (the old token is dropped, so the worker that lost the lease is fenced off). Each set's
-- head is read first: when nothing is due (the usual case) that one read is all, and it
-- is also the set's next due time.
-- One EXISTS over the pause keys, P:limits, P:weights and every delayed set first: with
-- nothing paused, limited, reweighted or delayed (the usual case) that call stands for the
-- pause reads, the limit and weight reads and every delayed head read below.
local quiet = false
if #names <= 1000 then  -- unpack()'s stack bound
  local probe = {KEYS[2], KEYS[3], P .. ':limits', P .. ':weights'}
  for i, q in ipairs(names) do probe[i + 4] = delayed_key(q) end
  quiet = redis.call('EXISTS', unpack(probe)) == 0
end
for _, q in ipairs(names) do
  if not quiet then
    local dkey = delayed_key(q)
    local first = head_score(dkey)
    if first and first <= now then
      local due = redis.call('ZRANGEBYSCORE', dkey, '-inf', ARGV[2], 'LIMIT', '0', ARGV[5])
      redis.call('ZREM', dkey, unpack(due))
      for _, id in ipairs(due) do to_ready(id, q) end
      first = head_score(dkey)
    end
    note_due(first)
  end
  local pkey = processing_key(q)
  local first = head_score(pkey)
  if first and first <= now then
    local expired = redis.call('ZRANGEBYSCORE', pkey, '-inf', ARGV[2], 'LIMIT', '0', ARGV[5])
    redis.call('ZREM', pkey, unpack(expired))
    for _, id in ipairs(expired) do
      local tkey = task_key(id)
      redis.call('HDEL', tkey, 'lease_token', 'lease_at_ms')
      -- A flagged task whose holder never finished the cancellation ends here (docs/cluster.md#cancellation).
      local reason = redis.call('HGET', tkey, 'cancel_requested')
      if reason then
        redis.call('LPUSH', P .. ':dead', id)
        redis.call('HSET', tkey, 'state', 'dead', 'last_error', cancel_text(reason), 'failed_at_ms', ARGV[2],
          'cancelled_at_ms', ARGV[2], 'updated_at_ms', ARGV[2])
      else
        to_ready(id, q)
      end
    end
    first = head_score(pkey)
  end
  note_due(first)  -- the leases granted below all expire at `expiry`: noted with them
end

-- The limits every node obeys (docs/cluster.md#limits), stored once in P:limits: read only
-- when the probe above found a key, so the unlimited path pays nothing for them.
local caps, rate, burst, bucket = nil, nil, nil, nil
local out = {-1, 0}
if not quiet then
  local lim = redis.call('HGETALL', P .. ':limits')
  for i = 1, #lim, 2 do
    local field = lim[i]
    if field == 'rate' then rate = tonumber(lim[i + 1])
    elseif field == 'burst' then burst = tonumber(lim[i + 1])
    elseif field == 'bucket' then bucket = lim[i + 1]
    elseif string.sub(field, 1, 2) == 'q:' then
      caps = caps or {}
      caps[string.sub(field, 3)] = tonumber(lim[i + 1])
    end
  end
  out[2] = (caps and 1 or 0) + (rate and 2 or 0)
  -- Weights the admin plane stored (P:weights, adapters/redis/admin.py) override this node's;
  -- read only when the probe found a key, as the limits are.
  local stored = redis.call('HGETALL', P .. ':weights')
  for i = 1, #stored, 2 do weights[stored[i]] = tonumber(stored[i + 1]) end
end

if quiet or redis.call('GET', KEYS[2]) ~= '1' then
  local paused = {}
  if not quiet then
    for _, q in ipairs(redis.call('SMEMBERS', KEYS[3])) do paused[q] = true end
  end
  local n = #names
  local cursor = 0
  local quota = {}
  local saved = {}  -- P:rr as read: written back only when the round robin moved
  local rr = redis.call('HGETALL', KEYS[4])
  for i = 1, #rr, 2 do
    saved[rr[i]] = rr[i + 1]
    if rr[i] == 'cursor' then cursor = tonumber(rr[i + 1]) else quota[string.sub(rr[i], 3)] = tonumber(rr[i + 1]) end
  end
  local start_cursor = cursor
  -- A capped queue leases at most its cap minus its processing set (expired leases were
  -- reclaimed above); the round robin moves on to the other queues.
  local room = nil  -- built only when a queue is capped: a table costs every call that builds one
  if caps then
    room = {}
    for _, q in ipairs(names) do
      local cap = caps[q]
      if cap then
        local free = cap - redis.call('ZCARD', processing_key(q))
        room[q] = free > 0 and free or 0
      end
    end
  end
  -- The global bucket: refilled by time, cut to what is taken below (only for leases granted).
  local asked, tokens, counted = limit, nil, ARGV[2]
  if rate and burst and bucket and rate > 0 then
    local b = redis.call('HMGET', bucket, 'tokens', 'ts')
    tokens = tonumber(b[1]) or burst
    local elapsed = now - (tonumber(b[2]) or now)
    if elapsed > 0 then tokens = math.min(burst, tokens + elapsed * rate / 1000) end
    -- Nodes' clocks and calls interleave: a call whose now is behind the stored ts must not
    -- move ts back, or the next call would refill that stretch a second time.
    if elapsed < 0 then counted = b[2] end
    if tokens > burst then tokens = burst end
    local allowed = math.floor(tokens)
    if allowed < 0 then allowed = 0 end
    if allowed < limit then limit = allowed end
  end
  local ready_left = {}  -- ZCARD once per queue, then counted down
  if n > 1 then
    for _, q in ipairs(names) do
      if not paused[q] then
        local c = redis.call('ZCARD', ready_key(q))
        local free = room and room[q]
        if free and free < c then c = free end
        ready_left[q] = c
      else ready_left[q] = 0 end
    end
  end
  local expiry_text = int_text(expiry)
  -- Where each task hash field goes among a lease's 14 reply values; others are not sent.
  local SLOT = {handler = 4, payload = 5, priority = 6, weight = 8, retries = 9, retry_delay_ms = 10,
    run_at_ms = 11, metadata = 12, idempotency_key = 13, name = 14}
  local token_base = ARGV[6] .. ':'
  local leased_count = 0
  local granted = {}  -- queue -> ids leased from it, for one ZADD per queue
  local open = true
  -- Rounds: plan the next picks by the round robin, pop each queue's share with one
  -- ZPOPMIN, lease in pick order. A member without its hash (an orphan) is dropped and
  -- leaves a slot for the next round, as it would in a pick-by-pick loop.
  while open and leased_count < limit do
    local want = limit - leased_count
    local popped, taken = {}, {}
    if n == 1 then  -- one queue: pop first, and the reply says how many were ready (no ZCARD)
      local q = names[1]
      local free = room and room[q]
      if free and free < want then want = free end
      if want <= 0 then break end  -- the queue is at its cap
      if paused[q] then ready_left[q] = 0 else
        popped[q] = redis.call('ZPOPMIN', ready_key(q), int_text(want))
        ready_left[q] = #popped[q] / 2
        if free then room[q] = free - ready_left[q] end
      end
    end
    local picks, counts = {}, {}
    for s = 1, want do
      -- go-worker's weighted round robin (docs/task-manager.md#priorities-weights-queues-the-exact-order), as domain.scheduling.WeightedRoundRobin.
      local picked = nil
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
      if not picked then open = false; break end
      ready_left[picked] = ready_left[picked] - 1
      picks[s] = picked
      counts[picked] = (counts[picked] or 0) + 1
    end
    if n > 1 then
      for q, c in pairs(counts) do popped[q] = redis.call('ZPOPMIN', ready_key(q), int_text(c)) end
    end
    ids_ahead(#picks)
    for s = 1, #picks do
      local q = picks[s]
      local t = (taken[q] or 0) + 1
      taken[q] = t
      local member = popped[q][2 * t - 1]
      local id = rank_id(member)
      local tkey = task_key(id)
      -- HGETALL, not HMGET of the 11 fields: the hash holds only the fields not at their
      -- default (5 for most tasks), and Redis finds none of them one by one.
      local h = redis.call('HGETALL', tkey)
      if h[1] then  -- a member without its hash is an orphan: dropped
        leased_count = leased_count + 1
        local token = token_base .. int_text(leased_count)
        local o = #out
        out[o + 1] = string.sub(member, RANK_ID_OFFSET)  -- the id's 16 bytes: the cheapest to parse
        out[o + 2] = token
        -- out[o + 3] = attempts, below; a field the hash leaves out goes as nil (false)
        out[o + 4], out[o + 5], out[o + 6], out[o + 7] = false, false, false, q
        out[o + 8], out[o + 9], out[o + 10], out[o + 11] = false, false, false, false
        out[o + 12], out[o + 13], out[o + 14] = false, false, false
        local attempts = 1
        for i = 1, #h, 2 do
          local at = SLOT[h[i]]
          if at then out[o + at] = h[i + 1] elseif h[i] == 'attempts' then attempts = tonumber(h[i + 1]) + 1 end
        end
        out[o + 3] = attempts
        redis.call('HSET', tkey, 'attempts', int_text(attempts), 'state', 'processing', 'lease_token', token,
          'lease_at_ms', expiry_text, 'updated_at_ms', ARGV[2])
        local ids = granted[q]
        if not ids then ids = {}; granted[q] = ids end
        ids[#ids + 1] = id
      end
    end
  end
  -- Every lease of this call expires at `expiry`: one ZADD per queue (in chunks: unpack's stack).
  for q, ids in pairs(granted) do
    local pkey = processing_key(q)
    for from = 1, #ids, 1000 do
      local args = {}
      for i = from, math.min(from + 999, #ids) do
        args[#args + 1] = expiry_text
        args[#args + 1] = ids[i]
      end
      redis.call('ZADD', pkey, unpack(args))
    end
  end
  -- P:rr as the round robin left it; an absent field reads as 0, so a 0 is not written
  -- where nothing was stored, and nothing at all when no value moved.
  local state = {}
  if cursor ~= start_cursor then state[1] = 'cursor'; state[2] = int_text(cursor) end
  for _, q in ipairs(names) do
    local left = quota[q] or 0
    local field = 'q:' .. q
    if left ~= (tonumber(saved[field]) or 0) then
      state[#state + 1] = field
      state[#state + 1] = int_text(left)
    end
  end
  if #state > 0 then redis.call('HSET', KEYS[4], unpack(state)) end
  if leased_count > 0 then note_due(expiry) end
  if tokens then
    if leased_count > 0 then
      tokens = tokens - leased_count
      redis.call('HSET', bucket, 'tokens', string.format('%.17g', tokens), 'ts', counted)
      -- go-worker's TTL, max(2 x burst / rate s, 1 s): an expired bucket is a full one anyway.
      redis.call('PEXPIRE', bucket, int_text(math.max(math.ceil(2000 * burst / rate), 1000)))
    end
    -- The bucket stopped this call: look again when its next token is there.
    if leased_count == limit and limit < asked then
      note_due(now + math.ceil((1 - tokens) * 1000 / rate))
    end
  end
end

out[1] = next_due
return out
