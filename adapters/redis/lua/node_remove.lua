-- Forget nodes: their records and index entries. KEYS[1]=P:nodes ARGV[1]=P
-- ARGV[2]=now ms, or '' to forget unconditionally (a graceful stop) ARGV[3..]=ids
-- With a time, only dead entries go: past their expiry, or without a record; an
-- entry a node refreshed since the caller read it is kept.
local now = tonumber(ARGV[2])
for i = 3, #ARGV do
  local id = ARGV[i]
  local key = ARGV[1] .. ':node:' .. id
  local dead = true
  if now then
    local score = redis.call('ZSCORE', KEYS[1], id)
    dead = redis.call('EXISTS', key) == 0 or (score and tonumber(score) <= now)
  end
  if dead then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], id)
  end
end
return 1
