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
-- string.format calls the C sprintf once per conversion: 16 for '%02x' per byte, 6 for
-- the id's four 32-bit words (what struct reads). A byte -> hex table spells an id for
-- about half of that, but costs about three ids to build: a script that spells many ids
-- builds it once first (ids_ahead), one that spells a few does not (docs/durable.md#throughput).
local HEX
local function ids_ahead(count)
  if count < 4 or HEX then return end
  HEX = {
    [0] = '00', '01', '02', '03', '04', '05', '06', '07', '08', '09', '0a', '0b', '0c', '0d', '0e',
    '0f', '10', '11', '12', '13', '14', '15', '16', '17', '18', '19', '1a', '1b', '1c', '1d', '1e',
    '1f', '20', '21', '22', '23', '24', '25', '26', '27', '28', '29', '2a', '2b', '2c', '2d', '2e',
    '2f', '30', '31', '32', '33', '34', '35', '36', '37', '38', '39', '3a', '3b', '3c', '3d', '3e',
    '3f', '40', '41', '42', '43', '44', '45', '46', '47', '48', '49', '4a', '4b', '4c', '4d', '4e',
    '4f', '50', '51', '52', '53', '54', '55', '56', '57', '58', '59', '5a', '5b', '5c', '5d', '5e',
    '5f', '60', '61', '62', '63', '64', '65', '66', '67', '68', '69', '6a', '6b', '6c', '6d', '6e',
    '6f', '70', '71', '72', '73', '74', '75', '76', '77', '78', '79', '7a', '7b', '7c', '7d', '7e',
    '7f', '80', '81', '82', '83', '84', '85', '86', '87', '88', '89', '8a', '8b', '8c', '8d', '8e',
    '8f', '90', '91', '92', '93', '94', '95', '96', '97', '98', '99', '9a', '9b', '9c', '9d', '9e',
    '9f', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9', 'aa', 'ab', 'ac', 'ad', 'ae',
    'af', 'b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'b9', 'ba', 'bb', 'bc', 'bd', 'be',
    'bf', 'c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'ca', 'cb', 'cc', 'cd', 'ce',
    'cf', 'd0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd8', 'd9', 'da', 'db', 'dc', 'dd', 'de',
    'df', 'e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9', 'ea', 'eb', 'ec', 'ed', 'ee',
    'ef', 'f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8', 'f9', 'fa', 'fb', 'fc', 'fd', 'fe',
    'ff'
  }
end
local ID_FORMAT = '%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x'
local function id_text(raw, at)
  local h = HEX
  if h then
    local b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16 = string.byte(raw, at, at + 15)
    return h[b1] .. h[b2] .. h[b3] .. h[b4] .. '-' .. h[b5] .. h[b6] .. '-' .. h[b7] .. h[b8] .. '-' ..
      h[b9] .. h[b10] .. '-' .. h[b11] .. h[b12] .. h[b13] .. h[b14] .. h[b15] .. h[b16]
  end
  if struct then
    local a, b, c, d = struct.unpack('>I4I4I4I4', raw, at)
    return string.format('%08x-%04x-%04x-%04x-%04x%08x', a, math.floor(b / 65536), b % 65536,
      math.floor(c / 65536), c % 65536, d)
  end
  return string.format(ID_FORMAT, string.byte(raw, at, at + 15))  -- Lua without struct (fakeredis)
end
-- A whole number as redis.call takes it. A Lua number passed to redis.call is spelled
-- with sprintf('%.17g'), about four times the cost of this '%d'.
local function int_text(n) return string.format('%d', n) end
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
    redis.call('ZADD', delayed_key(queue), int_text(ready_at), id)
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
  if count == 1 then redis.call('LPUSH', key, '1') return end
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
