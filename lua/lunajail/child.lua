-- lunajail.child: blocking conveniences for the child object, in Lua.
--
-- The C object (core.Child) never blocks; these methods wait with
-- core.poll, so a script can write child:wait() while an event loop uses
-- the fds (child:getfd) and the non-blocking calls directly.
--
--   child:wait([timeout]) -> status | nil, "timeout"
--   child:communicate([input [, timeout]]) -> stdout, stderr, status
--       feeds input to stdin (then EOF) while draining stdout and stderr,
--       so a child writing a lot to one stream never deadlocks; on a
--       timeout: nil, "timeout", {stdout=, stderr=} (what arrived)

local core = require "lunajail.core"

local M = core.Child
local poll, now = core.poll, core.monotonic

local function remaining (deadline)
  if not deadline then return nil end
  local left = deadline - now()
  return left > 0 and left or 0
end

function M:wait (timeout)
  local deadline = timeout and now() + timeout
  while true do
    local st = self:status()
    if not st.running then return st end
    local fd = self:pidfd()
    if not fd then return st end
    local left = remaining(deadline)
    if left == 0 then return nil, "timeout" end
    poll({ { fd = fd, events = "r" } }, left)
  end
end

function M:communicate (input, timeout)
  local deadline = timeout and now() + timeout
  local out, err = {}, {}
  local sinks = { stdout = out, stderr = err }
  input = input or ""
  local sent = 0
  if #input == 0 then self:close_stdin() end
  while true do
    local items = {}
    for name in pairs(sinks) do
      local fd = self:getfd(name)
      if fd then items[#items + 1] = { fd = fd, events = "r", name = name } end
    end
    local infd = sent < #input and self:getfd("stdin")
    if infd then items[#items + 1] = { fd = infd, events = "w", name = "stdin" } end
    if #items == 0 then break end
    local left = remaining(deadline)
    if left == 0 then
      return nil, "timeout", { stdout = table.concat(out), stderr = table.concat(err) }
    end
    poll(items, left)
    for _, it in ipairs(items) do
      if it.revents ~= "" then
        if it.name == "stdin" then
          local n, e = self:write(input:sub(sent + 1, sent + 65536))
          if n then
            sent = sent + n
            if sent >= #input then self:close_stdin() end
          elseif e == "closed" then
            sent = #input
          end
        else
          repeat
            local data = self:read(it.name)
            if data then table.insert(sinks[it.name], data) end
          until not data
        end
      end
    end
  end
  local st, e = self:wait(remaining(deadline))
  if not st then
    return nil, e, { stdout = table.concat(out), stderr = table.concat(err) }
  end
  return table.concat(out), table.concat(err), st
end

return M
