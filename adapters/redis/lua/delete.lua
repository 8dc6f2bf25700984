-- Delete one task: out of every set and the DLQ; its hash (and idempotency key) too when asked.
-- KEYS[1]=P:queues KEYS[2]=P:dead
-- ARGV[1]=P ARGV[2]=now_ms ARGV[3]=1 to delete the hash ARGV[4]=id
-- Returns 1 deleted, 0 no such task.
local id = ARGV[4]
local f = move_fields(id)
if not f then return 0 end
detach(id, f, KEYS[2], false)
local tkey = task_key(id)
if ARGV[3] == '1' then
  local idem = redis.call('HGET', tkey, 'idempotency_key')
  if idem and idem ~= '' and redis.call('GET', idem_key(idem)) == id then redis.call('DEL', idem_key(idem)) end
  redis.call('DEL', tkey)
else
  redis.call('HSET', tkey, 'state', 'deleted', 'updated_at_ms', ARGV[2])
  redis.call('HDEL', tkey, 'lease_token', 'lease_at_ms', 'seq')
end
return 1
