-- The outcome of a settled task (docs/cluster.md#results), included by the scripts that settle
-- one (ack, fail): P:result:<id>, a JSON string that expires after ttl_ms, and one entry on the
-- results stream P:results (field 'r', the same JSON), trimmed to about max_len entries. The
-- ack or fail and its outcome are one script: never one without the other. ttl_ms '0': off.
-- output_json, err_json and node_json come as JSON string literals (the client encodes an
-- output, the caller the rest); the record is concatenated, not cjson-encoded: a table and
-- cjson.encode per task cost Redis more than the whole SET (docs/adr/0027-results-across-nodes.md).
local function json_text(s)
  if s == nil then return '""' end
  if string.find(s, '[%c"\\\128-\255]') then return cjson.encode(s) end
  return '"' .. s .. '"'
end
local function record_outcome(id, status, output_json, err_json, attempts, node_json, handler, now_ms, ttl_ms, max_len)
  if ttl_ms == '0' then return end
  local record = '{"id":"' .. id .. '","status":"' .. status .. '","output":' .. output_json .. ',"error":' ..
    err_json .. ',"attempts":' .. (attempts or '0') .. ',"node":' .. node_json .. ',"handler":' ..
    json_text(handler) .. ',"finished_at_ms":' .. now_ms .. '}'
  redis.call('SET', P .. ':result:' .. id, record, 'PX', ttl_ms)
  redis.call('XADD', P .. ':results', 'MAXLEN', '~', max_len, '*', 'r', record)
end
