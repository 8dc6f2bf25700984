-- Rebuilding ranks (the prelude's rank format) from what a task hash keeps: included by the
-- scripts that read ranks back or put a task back in its old place (adapters/redis/scripts.py).
local MAX_WEIGHT = 2147483647
local function weight_part(weight)
  local n = MAX_WEIGHT - (tonumber(weight) or 1)
  return string.char(math.floor(n / 16777216), math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end
local function id_bytes(id)
  return (string.gsub(id, '%-?(%x%x)', function(h) return string.char(tonumber(h, 16)) end))
end
-- The id (canonical text) a rank ends with.
local function rank_id(rank) return id_text(rank, RANK_ID_OFFSET) end
-- The rank of a stored task from its hash's weight and seq fields.
local function stored_rank(id, weight, seq)
  return new_rank(weight_part(weight), tonumber(seq) or 0, id_bytes(id))
end
