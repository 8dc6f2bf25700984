-- Shared prelude, prepended to every script by adapters/redis/scripts.py.
-- ARGV[1] is always the effective prefix P (e.g. "{pyworker}"). Every key below
-- carries P's hash tag, so a script touches one Redis Cluster slot: the one
-- KEYS[1] routes to. Key names match adapters/redis/keys.py.
local P = ARGV[1]
local function task_key(id) return P .. ':task:' .. id end
local function ready_key(q) return P .. ':ready:' .. q end
local function delayed_key(q) return P .. ':delayed:' .. q end
local function processing_key(q) return P .. ':processing:' .. q end
local function idem_key(k) return P .. ':idem:' .. k end

-- A task hash leaves out every field whose value is the default (docs/durable.md#redis-layout):
-- read back, an absent queue is this one, an absent number 0 (weight: 1), absent text ''.
local DEFAULT_QUEUE = 'default'
local function queue_of(value) return value or DEFAULT_QUEUE end

-- Big-endian bytes of a non-negative integer below 2^53 (Lua numbers are doubles).
local function be_bytes(n, width)
  local out = {}
  for i = width, 1, -1 do
    out[i] = n % 256
    n = math.floor(n / 256)
  end
  return string.char(unpack(out))
end

-- A ready-set member (rank), 28 bytes: 4 bytes of (2^31-1 - weight), 8 bytes of the FIFO
-- sequence, both big-endian, then the id's 16 bytes. Within one priority (the score) Redis
-- orders members bytewise, so higher weight comes first, then FIFO. The hash keeps only the
-- sequence (field 'seq'); a rank is rebuilt from weight, seq and id when it is needed.
local RANK_ID_OFFSET = 13
local MAX_WEIGHT = 2147483647
local function weight_part(weight) return be_bytes(MAX_WEIGHT - (tonumber(weight) or 1), 4) end
local function raw_id(id)
  return (string.gsub(id, '%-?(%x%x)', function(h) return string.char(tonumber(h, 16)) end))
end
local ID_FORMAT = '%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x'
-- The id (canonical text) a rank ends with.
local function rank_id(rank) return string.format(ID_FORMAT, string.byte(rank, RANK_ID_OFFSET, RANK_ID_OFFSET + 15)) end
local function new_rank(wpart, seq, raw) return wpart .. be_bytes(seq, 8) .. raw end
-- The rank of a stored task from its hash's weight and seq fields.
local function stored_rank(id, weight, seq) return new_rank(weight_part(weight), tonumber(seq) or 0, raw_id(id)) end

-- Put a waiting task where dequeue finds it: in its queue's ready set (score = priority,
-- member = rank) when ready_at <= now, else in its delayed set (score = ready_at). The one
-- placement rule for enqueue and nack. Returns the task's new state.
local function place(queue, id, priority, rank, ready_at, now)
  if ready_at > now then
    redis.call('ZADD', delayed_key(queue), ready_at, id)
    return 'delayed'
  end
  redis.call('ZADD', ready_key(queue), priority, rank)
  return 'ready'
end

-- Top the wake list up by `count` tokens, to at most WAKE_CAP; each token wakes one idle
-- worker's BLPOP. Capped so a burst of enqueues leaves few spurious wake-ups, and a
-- full list costs one read instead of two writes.
local WAKE_CAP = 8
local function wake(key, count)
  local room = WAKE_CAP - redis.call('LLEN', key)
  if count > room then count = room end
  if count <= 0 then return end
  local tokens = {}
  for i = 1, count do tokens[i] = '1' end
  redis.call('LPUSH', key, unpack(tokens))
end

-- The task hash fields named, when `token` is the task's current lease; else nil.
local function leased(id, token, ...)
  local f = redis.call('HMGET', task_key(id), 'state', 'lease_token', ...)
  if f[1] == 'processing' and f[2] == token then return f end
  return nil
end
