-- lunajail.loop.cqueues: children in a cqueues controller.
--
-- The child object is pollable as is: it has pollfd(), events() and
-- timeout(), so cqueues.poll(child) waits for it.  This module gives the
-- blocking conveniences of lunajail.child in their yielding form, for use
-- inside a cqueues coroutine:
--
--   local cq = require "lunajail.loop.cqueues"
--   cqueues.new():wrap(function ()
--     local child = lj.spawn(recipe, { async = true })
--     local ok, err = cq.wait_started(child, 10)   -- err: the step error
--     while true do                                -- forward as it comes
--       local data = cq.read_some(child, "stdout")
--       if not data then break end
--       send(data)               -- reads no faster than it sends
--     end
--     local st = cq.wait(child)
--     cq.close(child)            -- cancels the poll before closing the fd
--   end):loop()
-- cq.wait, cq.read_line, cq.lines, cq.read_bytes, cq.read_all, cq.write_all,
-- cq.communicate, cq.terminate, cq.read_some (what has arrived, once
-- something has: data | nil, "closed" | nil, "timeout") and
-- cq.wait_started take the child first, as the methods do.
--
-- Or with handlers, as the other adapters (lunajail.loop.dispatch):
--   local w = cq.watch(child, handlers [, controller])
--   w:pause(), w:resume(), w:close()
-- a coroutine of its own on controller (default: the one running the
-- caller) delivers to the handlers; the first delivery is that
-- coroutine's first run, never inside watch().  With core.reaperfd (a
-- lunajail that has it), one coroutine per controller polls that fd
-- while the controller has watched children and calls core.reap().

local cqueues = require "cqueues"
local condition = require "cqueues.condition"
local core = require "lunajail.core"
local C = require "lunajail.child"
local dispatch = require "lunajail.loop.dispatch"

local M = {}

local function block (child, seconds)
  cqueues.poll(child, seconds)
  child:step()
end

for _, name in ipairs { "wait", "read_line", "lines", "read_bytes", "read_all",
                        "write_all", "communicate", "terminate", "read_some",
                        "wait_started" } do
  local f = C[name]
  M[name] = function (child, ...) return f(block, child, ...) end
end

function M.close (child)
  local fd = child:pollfd()
  if fd then cqueues.cancel(fd) end
  child:close()
end

-- {====== watch ======}

local reapers = setmetatable({}, { __mode = "k" })  -- controller -> state

-- one reaper coroutine per controller, while it has watched children
local function reaper (controller, delta)
  if not core.reaperfd then return end
  local r = reapers[controller]
  if not r then
    local fd = core.reaperfd()
    if math.type(fd) ~= "integer" then return end
    r = { n = 0, cond = condition.new(), running = false,
          fd = { pollfd = function () return fd end, events = function () return "r" end } }
    reapers[controller] = r
  end
  r.n = r.n + delta
  if r.n == 0 then r.cond:signal() end
  if r.n > 0 and not r.running then
    r.running = true
    controller:wrap(function ()
      while r.n > 0 do
        cqueues.poll(r.fd, r.cond)
        core.reap()
      end
      r.running = false
    end)
  end
end

function M.watch (child, handlers, controller)
  controller = controller or cqueues.running()
  if not controller then
    error("lunajail: cqueues.watch: no controller (call it in a coroutine of one, or " ..
          "pass it)", 2)
  end
  local fd = assert(child:pollfd())
  local cond = condition.new()
  local w = dispatch.new(child, handlers, {
    pause = function () cond:signal() end,
    resume = function () cond:signal() end,
    close = function ()
      cqueues.cancel(fd)           -- unwatched before the fd goes
      cond:signal()
      reaper(controller, -1)
    end,
  })
  reaper(controller, 1)
  controller:wrap(function ()
    while not w.closed do
      if w:pump() then w:close() break end
      if w.closed then break end
      local t = w.paused and child:timeout()
      if t then cqueues.poll(cond, t)
      elseif w.paused then cqueues.poll(cond)
      else cqueues.poll(child, cond) end
    end
  end)
  return w
end

-- }======

return M
