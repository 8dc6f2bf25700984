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

-- A ready-set member (rank), 28 bytes: 4 bytes of (2^31-1 - weight), 8 bytes of the FIFO
-- sequence, both big-endian, then the id's 16 bytes. Within one priority (the score) Redis
-- orders members bytewise, so higher weight comes first, then FIFO. The hash keeps only the
-- sequence (field 'seq'); ranks.lua rebuilds a stored task's rank from weight, seq and id.
local RANK_ID_OFFSET = 13
-- A task id's canonical text from its 16 bytes (a rank's tail; the id the settle scripts get).
local ID_FORMAT = '%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x'
local function id_text(raw, at) return string.format(ID_FORMAT, string.byte(raw, at, at + 15)) end
local function new_rank(wpart, seq, raw)
  local hi = math.floor(seq / 4294967296)
  if struct then return wpart .. struct.pack(">I4I4", hi, seq - hi * 4294967296) .. raw end
  -- Lua without the struct library (fakeredis): the same 8 bytes, one by one.
  local out = {}
  for i = 8, 1, -1 do
    out[i] = seq % 256
    seq = math.floor(seq / 256)
  end
  return wpart .. string.char(unpack(out)) .. raw
end

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
