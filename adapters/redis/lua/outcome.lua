-- The outcome of a settled task (docs/cluster.md#results), included by the scripts that settle
-- one (ack, fail): P:result:<id>, a JSON string that expires after ttl_ms, and one entry on the
-- results stream P:results (field 'r', the same JSON), trimmed to about max_len entries. The
-- ack or fail and its outcome are one script: never one without the other. ttl_ms '0': off.
local function record_outcome(id, status, output, err, attempts, node, handler, now_ms, ttl_ms, max_len)
  if ttl_ms == '0' then return end
  local record = cjson.encode({id = id, status = status, output = output, error = err,
    attempts = tonumber(attempts) or 0, node = node, handler = handler, finished_at_ms = tonumber(now_ms)})
  redis.call('SET', P .. ':result:' .. id, record, 'PX', ttl_ms)
  redis.call('XADD', P .. ':results', 'MAXLEN', '~', max_len, '*', 'r', record)
end
