-- Record one admin audit event, newest first, and keep the newest ARGV[2].
-- KEYS[1]=P:admin:audit_events ARGV[1]=the event's JSON ARGV[2]=capacity
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 1
