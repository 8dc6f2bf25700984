-- The '_capped' variants of ack and fail (adapters/redis/scripts.py), for a node whose last
-- dequeue saw a queue cap in P:limits (docs/cluster.md#limits): a lease of a capped queue ended,
-- so when that queue has ready tasks, wake one idle node, whose dequeue may now lease one. The
-- plain variants include uncapped.lua instead and never read P:limits.
local CAPPED = true
local function wake_capped(queues)
  local limits = P .. ':limits'
  for q in pairs(queues) do
    if redis.call('HEXISTS', limits, 'q:' .. q) == 1 and redis.call('ZCARD', ready_key(q)) > 0 then
      wake(P .. ':wake', 1)
      return
    end
  end
end
