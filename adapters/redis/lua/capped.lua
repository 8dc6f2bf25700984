-- A lease of a capped queue (P:limits, docs/cluster.md#limits) ended: when that queue has ready
-- tasks, wake one idle node, whose dequeue may now lease one. The settle scripts call it only
-- when the node says caps exist (ARGV): the unlimited path never reads P:limits.
local function wake_capped(queues)
  local limits = P .. ':limits'
  for q in pairs(queues) do
    if redis.call('HEXISTS', limits, 'q:' .. q) == 1 and redis.call('ZCARD', ready_key(q)) > 0 then
      wake(P .. ':wake', 1)
      return
    end
  end
end
