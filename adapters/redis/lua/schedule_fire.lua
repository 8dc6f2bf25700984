-- Fire one tick of a durable schedule (adapters/redis/schedules.py; docs/cluster.md#schedules).
-- Prepended by prelude.lua and by enqueue.lua wrapped as the function enqueue_tasks(), so
-- the task is stored exactly as `enqueue` stores it. KEYS[1..3] and ARGV[1..4] are
-- enqueue's (one task); then:
-- KEYS[4]=P:schedule:<name> (hash: watermark_ms, last_task) KEYS[5]=P:schedule:<name>:history
-- KEYS[6]=P:schedules:paused KEYS[7]=P:schedules:paused:names
-- ARGV[5]=name ARGV[6]=tick ms ('' for a run-now) ARGV[7]=skip_if_running ('1'/'0')
-- ARGV[8]=history size ARGV[9]=task id ARGV[10]=history entry if fired ARGV[11]=entry if skipped
-- Returns 'fired', 'duplicate', 'paused' or 'skipped_running'.
local name, tick = ARGV[5], ARGV[6]
local function note(entry)
  redis.call('LPUSH', KEYS[5], entry)
  redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[8]) - 1)
end
if tick ~= '' then
  -- The watermark: a tick at or before the latest one handled never fires again, even
  -- after its task was acked and deleted (docs/adr/0021-schedules-exactly-once-watermark.md).
  local mark = redis.call('HGET', KEYS[4], 'watermark_ms')
  if mark and tonumber(tick) <= tonumber(mark) then return 'duplicate' end
  redis.call('HSET', KEYS[4], 'watermark_ms', tick)
  if redis.call('EXISTS', KEYS[6]) == 1 or redis.call('SISMEMBER', KEYS[7], name) == 1 then
    return 'paused'
  end
  if ARGV[7] == '1' then
    local last = redis.call('HGET', KEYS[4], 'last_task')
    if last then
      local state = redis.call('HGET', task_key(last), 'state')
      if state and state ~= 'dead' then
        note(ARGV[11])
        return 'skipped_running'
      end
    end
  end
end
if enqueue_tasks()[1] ~= 1 then return 'duplicate' end
redis.call('HSET', KEYS[4], 'last_task', ARGV[9])
note(ARGV[10])
return 'fired'
