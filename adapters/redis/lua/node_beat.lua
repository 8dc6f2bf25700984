-- One node heartbeat (adapters/redis/nodes.py; layout in docs/cluster.md#nodes).
-- KEYS[1]=P:node:<id> (hash) KEYS[2]=P:nodes (zset: score = expiry ms, member = id)
-- ARGV[1]=id ARGV[2]=ttl ms ARGV[3]=expiry ms ARGV[4]=now ms ARGV[5..]=field, value, ...
-- The record is replaced whole and expires on its own (PEXPIRE); the index entry
-- follows it, and entries already past their expiry are pruned here.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
return 1
