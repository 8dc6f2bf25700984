-- Operator moves (requeue, delete, replay): take a task out of wherever it is, put it back.
-- Each caller handles one task per call, so a move is atomic per task.

-- The hash fields a move reads: queue, priority, seq, state, weight (nil when no such task).
local function move_fields(id)
  local f = redis.call('HMGET', task_key(id), 'queue', 'priority', 'seq', 'state', 'weight')
  if not f[1] and not f[4] then return nil end
  return f
end

-- Out of its queue's ready, delayed and processing sets, and (when dead and not already
-- popped) out of the DLQ; LREM from the head, where the newest dead tasks are.
local function detach(id, f, dead_key, popped)
  local queue = queue_of(f[1])
  if f[3] then redis.call('ZREM', ready_key(queue), stored_rank(id, f[5], f[3])) end
  redis.call('ZREM', delayed_key(queue), id)
  redis.call('ZREM', processing_key(queue), id)
  if f[4] == 'dead' and not popped then redis.call('LREM', dead_key, 1, id) end
end

-- Waiting again in `target` (or its own queue): ready behind its peers at `ready_at` <= now,
-- else delayed. The lease is void; attempts, metadata, payload and key are untouched.
local function reattach(id, f, target, ready_at, now, seq_key, queues_key, wake_key)
  local queue = target ~= '' and target or queue_of(f[1])
  local seq = redis.call('INCR', seq_key)
  local state = place(queue, id, tonumber(f[2]) or 0, stored_rank(id, f[5], seq), ready_at, now)
  local tkey = task_key(id)
  redis.call('HSET', tkey, 'state', state, 'seq', string.format('%d', seq), 'ready_at_ms', string.format('%d', ready_at),
    'updated_at_ms', string.format('%d', now))
  -- Waiting again: a cancellation (docs/cluster.md#cancellation) no longer holds.
  if queue == DEFAULT_QUEUE then
    redis.call('HDEL', tkey, 'lease_token', 'lease_at_ms', 'queue', 'cancel_requested', 'cancelled_at_ms')
  else
    redis.call('HSET', tkey, 'queue', queue)
    redis.call('HDEL', tkey, 'lease_token', 'lease_at_ms', 'cancel_requested', 'cancelled_at_ms')
  end
  redis.call('SADD', queues_key, queue)
  redis.call('DEL', P .. ':result:' .. id)  -- it runs again: a kept outcome is stale (docs/cluster.md#results)
  wake(wake_key, 1)
end
