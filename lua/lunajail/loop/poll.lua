-- lunajail.loop.poll: many children from one Lua state, with nothing but
-- core.poll.  For scripts, tests and hosts without an event loop.
--
--   local loop = require("lunajail.loop.poll").new()
--   local w = loop:watch(child, { started =, setup_error =, stdout =,
--                                 stderr =, exit =, lines =, max_output =,
--                                 timeout = })
--   w:pause(), w:resume(), w:close()
--   loop:run([timeout])        -- until every child is done -> true, or
--                              -- nil, "timeout", or nil, "paused" when
--                              -- every child left is paused with no
--                              -- deadline (nothing could resume one)
--   loop:step([timeout])       -- one round; loop:count()
-- The handlers and options are lunajail.loop.dispatch's; they run only
-- in step() (and run()), never in watch().  A paused child's fd is left
-- out of the poll (its deadlines still count).  A watched child is
-- closed by the loop once it has exited and its output has been
-- delivered.  With core.reaperfd (a lunajail that has it), the loop
-- polls that fd too and calls core.reap() when it is readable.

local core = require "lunajail.core"
local recipe = require "lunajail.recipe"
local dispatch = require "lunajail.loop.dispatch"

local Loop = {}
Loop.__index = Loop

local M = {}

function M.new ()
  return setmetatable({ children = {}, n = 0 }, Loop)
end

function Loop:watch (child, handlers)
  assert(child:pollfd(), "child has no pollable fd")
  if self.reaperfd == nil then           -- looked for once, at the first watch
    local rfd = core.reaperfd and core.reaperfd()
    self.reaperfd = math.type(rfd) == "integer" and rfd or false
  end
  local w
  w = dispatch.new(child, handlers, {
    resume = function () w.fresh = true end,        -- what is buffered
    close = function ()
      if self.children[child] then
        self.children[child] = nil
        self.n = self.n - 1
      end
    end,
  })
  w.fresh = true                  -- delivered at the next step
  self.children[child] = w
  self.n = self.n + 1
  return w
end

function Loop:count () return self.n end

local function seconds (t, what)
  return t and recipe.number(t, what, 0, recipe.MAXTIME)
end

function Loop:step (timeout)
  local items, order = {}, {}
  local t = seconds(timeout, "loop:step: timeout")
  for child, w in pairs(self.children) do
    order[#order + 1] = w
    w.item = nil
    if not w.paused then
      w.item = { fd = child:pollfd(), events = "r" }
      items[#items + 1] = w.item
    end
    local ct = child:timeout()
    if w.fresh and not w.paused then ct = 0 end
    if ct and (not t or ct < t) then t = ct end
  end
  if #order == 0 then return end
  if self.reaperfd then items[#items + 1] = { fd = self.reaperfd, events = "r" } end
  core.poll(items, t)
  if self.reaperfd and items[#items].revents ~= "" then core.reap() end
  for _, w in ipairs(order) do
    local child = w.child
    local ready = not w.paused and (w.fresh or (w.item and w.item.revents ~= ""))
    local ct = not w.closed and child:timeout()
    if not w.closed and (ready or (ct and ct <= 0)) then
      w.fresh = false
      if w:pump() then w:close() end
    end
  end
end

-- true when nothing but a resume could move any child on
local function stuck (self)
  for child, w in pairs(self.children) do
    if not w.paused or child:timeout() then return false end
  end
  return true
end

function Loop:run (timeout)
  local dl = timeout and core.monotonic() + seconds(timeout, "loop:run: timeout")
  while self.n > 0 do
    if stuck(self) then return nil, "paused" end
    local left = dl and dl - core.monotonic()
    if left and left <= 0 then return nil, "timeout" end
    self:step(left)
  end
  return true
end

return M
