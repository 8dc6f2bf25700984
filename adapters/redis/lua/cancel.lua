-- Cancel a task from any node (docs/cluster.md#cancellation).
-- KEYS[1]=P:queues KEYS[2]=P:dead
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=id ARGV[4]=reason
-- With results on, KEYS[3]=P:results and ARGV[5]=result_ttl_ms ARGV[6]=results_max_len
-- ARGV[7]=node id (a JSON string literal): a withdrawn task's Cancelled outcome is recorded too.
-- Returns 1 withdrawn (it was ready or delayed: now dead-lettered as cancelled), 2 flagged
-- (leased: 'cancel_requested' is set and "<id> <reason>" published on P:cancel for its
-- holder), 3 already done (dead or deleted: nothing changed), 0 no such task.
local now, id, reason = ARGV[2], ARGV[3], ARGV[4]
local tkey = task_key(id)
local f = redis.call('HMGET', tkey, 'state', 'queue', 'weight', 'seq', 'handler', 'attempts')
local state = f[1]
if not state then return 0 end
if state == 'processing' then
  redis.call('HSET', tkey, 'cancel_requested', reason, 'updated_at_ms', now)
  redis.call('PUBLISH', P .. ':cancel', id .. ' ' .. reason)
  return 2
end
local queue = queue_of(f[2])
if state == 'ready' then
  redis.call('ZREM', ready_key(queue), stored_rank(id, f[3], f[4]))
elseif state == 'delayed' then
  redis.call('ZREM', delayed_key(queue), id)
else
  return 3
end
redis.call('LPUSH', KEYS[2], id)
redis.call('HSET', tkey, 'state', 'dead', 'last_error', cancel_text(reason), 'cancel_requested', reason,
  'failed_at_ms', now, 'cancelled_at_ms', now, 'updated_at_ms', now)
if #KEYS > 2 then
  record_outcome(id, 'Cancelled', '""', json_text(cancel_text(reason)), f[6], ARGV[7], f[5], now, ARGV[5], ARGV[6])
end
return 1
