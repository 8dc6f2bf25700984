-- Store one admin history sample per bucket (docs/admin.md, "Charts"), whoever comes first, and
-- keep the newest ARGV[5]. The outcomes of the bucket are counted here, from the results stream's
-- entries whose ids (the server's ms clock) fall in it, so every admin process counts the same:
-- Completed, and failed (every other outcome but Cancelled).
-- KEYS[1]=P:admin:history KEYS[2]=P:results
-- ARGV[1]=bucket start (s) ARGV[2]=start ms ARGV[3]=end ms (inclusive) ARGV[4]=the sample's JSON
-- without its closing brace ARGV[5]=capacity. Returns 1 when stored, 0 when the bucket had one.
local bucket = ARGV[1]
if redis.call('ZCOUNT', KEYS[1], bucket, bucket) > 0 then return 0 end
local completed, failed = 0, 0
local from = ARGV[2]
while true do
  local entries = redis.call('XRANGE', KEYS[2], from, ARGV[3], 'COUNT', 1000)
  for _, entry in ipairs(entries) do
    local record = entry[2][2] or ''
    if string.find(record, '"status":"Completed"', 1, true) then
      completed = completed + 1
    elseif not string.find(record, '"status":"Cancelled"', 1, true) then
      failed = failed + 1 -- Failed, ContextDeadlineReached: dead-lettered
    end
  end
  if #entries < 1000 then break end
  from = '(' .. entries[#entries][1]
end
redis.call('ZADD', KEYS[1], bucket, ARGV[4] .. ',"completed":' .. completed .. ',"failed":' .. failed .. '}')
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[5]) + 1))
return 1
