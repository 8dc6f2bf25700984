-- Nack a lease: the task waits until ready_at_ms, then queues behind its peers. A task
-- whose cancellation was requested (docs/cluster.md#cancellation) is dead-lettered as
-- cancelled instead.
-- KEYS[1]=P:queues KEYS[2]=P:seq KEYS[3]=P:wake
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=id ARGV[4]=token ARGV[5]=ready_at_ms
-- With results on, KEYS[4]=P:results and ARGV[6]=result_ttl_ms ARGV[7]=results_max_len
-- ARGV[8]=node id (a JSON string literal): a task cancelled instead records its outcome.
-- Returns 1 (2: cancelled instead), or 0 when the lease is gone or stale (nothing changed).
local now, id, ready_at = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[5])
local f = leased(id, ARGV[4], 'queue', 'priority', 'weight', 'cancel_requested', 'handler', 'attempts')
if not f then return 0 end
local queue, tkey = queue_of(f[3]), task_key(id)
redis.call('ZREM', processing_key(queue), id)
redis.call('HDEL', tkey, 'lease_token', 'lease_at_ms')
if f[6] then
  redis.call('LPUSH', P .. ':dead', id)
  redis.call('HSET', tkey, 'state', 'dead', 'last_error', cancel_text(f[6]), 'failed_at_ms', ARGV[2],
    'cancelled_at_ms', ARGV[2], 'updated_at_ms', ARGV[2])
  if #KEYS > 3 then
    record_outcome(id, 'Cancelled', '""', json_text(cancel_text(f[6])), f[8], ARGV[8], f[7], ARGV[2], ARGV[6], ARGV[7])
  end
  return 2
end
local seq = redis.call('INCR', KEYS[2])
local state = place(queue, id, f[4] or '0', stored_rank(id, f[5], seq), ready_at, now)
redis.call('HSET', tkey, 'state', state, 'seq', string.format('%d', seq), 'ready_at_ms', ARGV[5], 'updated_at_ms', ARGV[2])
-- A delayed retry wakes too: the woken worker's dequeue learns the new due time.
wake(KEYS[3], 1)
return 1
