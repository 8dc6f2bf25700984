-- Store the limits every node's dequeue obeys (docs/cluster.md#limits), a part at a time.
-- KEYS[1]=P:limits
-- ARGV[1]=P ARGV[2]='1' to set the global rate part ARGV[3]=rate ARGV[4]=burst ('' and '': none)
-- ARGV[5]=the bucket's key name (kept with the rate: dequeue reads it from here)
-- ARGV[6]='1' to set the queue caps, then queue, cap pairs (none: no caps)
-- Returns the hash as it was (field, value pairs), so the caller can say what changed.
local old = redis.call('HGETALL', KEYS[1])
if ARGV[2] == '1' then
  if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'rate', 'burst', 'bucket')
  else redis.call('HSET', KEYS[1], 'rate', ARGV[3], 'burst', ARGV[4], 'bucket', ARGV[5]) end
end
if ARGV[6] == '1' then
  for i = 1, #old, 2 do
    if string.sub(old[i], 1, 2) == 'q:' then redis.call('HDEL', KEYS[1], old[i]) end
  end
  for i = 7, #ARGV - 1, 2 do redis.call('HSET', KEYS[1], 'q:' .. ARGV[i], ARGV[i + 1]) end
end
return old
