-- lunajail.loop.poll: many children from one Lua state, with nothing but
-- core.poll.  For scripts, tests and hosts without an event loop.
--
--   local loop = require("lunajail.loop.poll").new()
--   loop:watch(child, { stdout = function (s) end, stderr = ...,
--                       exit = function (status) end, lines = false })
--   loop:run([timeout])        -- until every child is done -> true, or
--                              -- nil, "timeout"
--   loop:step([timeout])       -- one round; loop:count()
-- A watched child is closed by the loop once it has exited and its output
-- has been delivered.

local core = require "lunajail.core"
local recipe = require "lunajail.recipe"
local dispatch = require("lunajail.loop.dispatch").dispatch

local Loop = {}
Loop.__index = Loop

local M = {}

function M.new ()
  return setmetatable({ children = {}, n = 0 }, Loop)
end

function Loop:watch (child, handlers)
  assert(child:pollfd(), "child has no pollable fd")
  self.children[child] = handlers or {}
  self.n = self.n + 1
  return child
end

function Loop:count () return self.n end

local function seconds (t, what)
  return t and recipe.number(t, what, 0, recipe.MAXTIME)
end

function Loop:step (timeout)
  local items, order = {}, {}
  local t = seconds(timeout, "loop:step: timeout")
  for child in pairs(self.children) do
    items[#items + 1] = { fd = child:pollfd(), events = "r" }
    order[#order + 1] = child
    local ct = child:timeout()
    if ct and (not t or ct < t) then t = ct end
  end
  if #items == 0 then return end
  core.poll(items, t)
  for i, child in ipairs(order) do
    local ct = child:timeout()
    if items[i].revents ~= "" or (ct and ct <= 0) then
      child:step()
      if dispatch(child, self.children[child]) then
        self.children[child] = nil
        self.n = self.n - 1
        child:close()
      end
    end
  end
end

function Loop:run (timeout)
  local dl = timeout and core.monotonic() + seconds(timeout, "loop:run: timeout")
  while self.n > 0 do
    local left = dl and dl - core.monotonic()
    if left and left <= 0 then return nil, "timeout" end
    self:step(left)
  end
  return true
end

return M
