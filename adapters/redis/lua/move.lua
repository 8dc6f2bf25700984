-- Operator moves (requeue, delete, replay): take a task out of wherever it is, put it back.
-- Each caller handles one task per call, so a move is atomic per task.

-- The hash fields a move reads: queue, priority, rank, state, weight (nil when no such task).
local function move_fields(id)
  local f = redis.call('HMGET', task_key(id), 'queue', 'priority', 'rank', 'state', 'weight')
  if not f[1] and not f[4] then return nil end
  return f
end

-- Out of its queue's ready, delayed and processing sets, and (when dead and not already
-- popped) out of the DLQ; LREM from the head, where the newest dead tasks are.
local function detach(id, f, dead_key, popped)
  local queue = f[1] or 'default'
  if f[3] then redis.call('ZREM', ready_key(queue), f[3]) end
  redis.call('ZREM', delayed_key(queue), id)
  redis.call('ZREM', processing_key(queue), id)
  if f[4] == 'dead' and not popped then redis.call('LREM', dead_key, 1, id) end
end

-- Waiting again in `target` (or its own queue): ready behind its peers at `ready_at` <= now,
-- else delayed. The lease is void; attempts, metadata, payload and key are untouched.
local function reattach(id, f, target, ready_at, now, seq_key, queues_key, wake_key)
  local queue = target ~= '' and target or f[1] or 'default'
  local weight_part = f[3] and string.sub(f[3], 1, 10)
    or string.format('%010d', 2147483647 - (tonumber(f[5]) or 1))
  local rank = new_rank(weight_part, redis.call('INCR', seq_key), id)
  local state = place(queue, id, tonumber(f[2]) or 0, rank, ready_at, now)
  local tkey = task_key(id)
  redis.call('HSET', tkey, 'queue', queue, 'state', state, 'rank', rank, 'ready_at_ms', ready_at,
    'updated_at_ms', now)
  redis.call('HDEL', tkey, 'lease_token', 'lease_at_ms')
  redis.call('SADD', queues_key, queue)
  wake(wake_key, 1)
end
