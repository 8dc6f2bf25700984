-- Fail a lease: the task moves to the DLQ (newest first) with its error and time.
-- KEYS[1]=P:queues KEYS[2]=P:dead
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=id ARGV[4]=token ARGV[5]=error text
-- ARGV[6]=status, the wire name: Failed, or Cancelled (then cancelled_at_ms is set too;
-- docs/cluster.md#cancellation). With results on, KEYS[3]=P:results and ARGV[7]=result_ttl_ms
-- ARGV[8]=results_max_len ARGV[9]=node id (a JSON string literal): the outcome is recorded too.
-- Two variants, as for ack: 'fail_capped' wakes a node for the freed slot of a capped queue.
-- Returns 1, or 0 when the lease is gone or stale (nothing changed).
local id = ARGV[3]
local outcomes = #KEYS > 2
local f
if outcomes then f = leased(id, ARGV[4], 'queue', 'handler', 'attempts') else f = leased(id, ARGV[4], 'queue') end
if not f then return 0 end
local tkey = task_key(id)
redis.call('ZREM', processing_key(queue_of(f[3])), id)
redis.call('LPUSH', KEYS[2], id)
redis.call('HSET', tkey, 'state', 'dead', 'last_error', ARGV[5], 'failed_at_ms', ARGV[2],
  'updated_at_ms', ARGV[2])
if ARGV[6] == 'Cancelled' then redis.call('HSET', tkey, 'cancelled_at_ms', ARGV[2]) end
redis.call('HDEL', tkey, 'lease_token', 'lease_at_ms')
if outcomes then
  record_outcome(id, ARGV[6], '""', cjson.encode(ARGV[5]), f[5], ARGV[9], f[4], ARGV[2], ARGV[7], ARGV[8])
end
if CAPPED then wake_capped({[queue_of(f[3])] = true}) end
return 1
