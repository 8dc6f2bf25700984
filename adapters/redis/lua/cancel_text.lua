-- A cancelled task's last_error, spelled as domain.settled.cancel_text spells it: go-worker's
-- "task cancelled" for the default reason, "task cancelled: <reason>" for any other.
local function cancel_text(reason)
  if reason == '' or reason == 'cancelled by operator' then return 'task cancelled' end
  return 'task cancelled: ' .. reason
end
