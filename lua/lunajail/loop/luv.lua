-- lunajail.loop.luv: a child in a libuv loop (lua-luv).
--
--   local uv = require "luv"
--   local w = require("lunajail.loop.luv").watch(child, {
--     stdout = function (s) end, stderr = ..., exit = function (st) end,
--     lines = false })
--   uv.run()
-- One uv_poll on the child's aggregate fd and one timer for its
-- killafter deadline.  Once the child has exited and its output has been
-- delivered, the handles are closed, then the child.  w:close() stops
-- watching early (and closes the child).

local uv = require "luv"
local dispatch = require("lunajail.loop.dispatch").dispatch

local M = {}

function M.watch (child, handlers)
  handlers = handlers or {}
  local poll = uv.new_poll(assert(child:pollfd()))
  local timer = uv.new_timer()
  local w = {}
  local done = false
  function w.close ()
    if done then return end
    done = true
    poll:stop()                       -- unwatched before the fd goes
    poll:close()
    timer:close()
    child:close()
  end
  local function pump ()
    if done then return end
    child:step()
    if dispatch(child, handlers) then return w.close() end
    local t = child:timeout()
    if t then timer:start(math.ceil(t * 1000), 0, pump) end
  end
  poll:start("r", pump)
  pump()
  return w
end

return M
