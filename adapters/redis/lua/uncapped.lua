-- The plain variants of ack and fail: no queue cap known, so no wake for a freed slot (capped.lua).
local CAPPED = false
