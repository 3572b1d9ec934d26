-- lunajail.loop.luv: a child in a libuv loop (lua-luv).
--
--   local uv = require "luv"
--   local w = require("lunajail.loop.luv").watch(child, {
--     started = function () end, setup_error = function (err) end,
--     stdout = function (s) end, stderr = ..., exit = function (st) end,
--     lines = false, max_output = nil, timeout = nil })
--   w:pause(), w:resume(), w:close()
--   uv.run()
-- The handlers and options are lunajail.loop.dispatch's.  One uv_poll on
-- the child's aggregate fd and one timer, for its deadlines (killafter,
-- an async spawn's setup) and for the first delivery: watch() returns
-- before any handler runs, which the loop does 0 ms later.  pause() stops
-- the poll (the child blocks once its pipes are full; the timer still
-- enforces its deadlines); resume() starts it and delivers what is
-- buffered.  Once the child has exited and its output has been
-- delivered, the handles are closed, then the child; w:close() stops
-- watching early (and closes the child).  With core.reaperfd (a
-- lunajail that has it), one more uv_poll, unreferenced, for the whole
-- loop: core.reap() whenever a closed child that was still running
-- exits.

local uv = require "luv"
local core = require "lunajail.core"
local dispatch = require "lunajail.loop.dispatch"

local M = {}

local reaper                     -- the uv_poll of core.reaperfd(), or false

local function watchreaper ()
  if reaper ~= nil then return end
  reaper = false
  if not core.reaperfd then return end
  local fd = core.reaperfd()
  if math.type(fd) ~= "integer" then return end
  reaper = uv.new_poll(fd)
  reaper:start("r", function () core.reap() end)
  reaper:unref()                 -- it never keeps uv.run() going
end

function M.watch (child, handlers)
  local fd = assert(child:pollfd())
  local poll, timer, pump
  local w = dispatch.new(child, handlers, {
    pause = function () poll:stop() end,
    resume = function ()
      poll:start("r", pump)
      timer:start(0, 0, pump)      -- what is buffered already
    end,
    close = function ()
      poll:stop()                  -- unwatched before the fd goes
      poll:close()
      timer:close()
    end,
  })
  poll, timer = uv.new_poll(fd), uv.new_timer()
  function pump ()
    if w.closed then return end
    if w:pump() then return w:close() end
    if w.closed then return end
    local t = child:timeout()
    if t then timer:start(math.ceil(t * 1000), 0, pump) end
  end
  watchreaper()
  poll:start("r", pump)
  timer:start(0, 0, pump)          -- the first delivery, once the loop runs
  return w
end

return M
