-- lunajail.loop.dispatch: the watch every event-loop adapter shares.
--
--   local w = dispatch.new(child, handlers [, hooks])
--   w:pump()      -- child:step(), then w:deliver(); true once over
--   w:deliver()   -- hands what step() buffered to the handlers
--   w:pause(), w:resume(), w:close(), w.child, w.paused, w.closed
-- handlers (every one optional, checked: a misspelt one raises):
--   started()          setup is over, the payload runs (an async spawn's
--                      child starts in setup; any other at once)
--   setup_error(err)   setup failed: the step error, as lj.spawn returns it
--   stdout(data), stderr(data)   chunks as they come, or lines (without
--                      "\n") with lines = true; only once started
--   exit(status)       last, once: the child's status, with timeout = true
--                      when its killafter deadline killed it and
--                      output_limit = true when max_output did (both
--                      false otherwise), setup_error after a failed setup
--   lines = true       line mode
--   max_output = n     bytes delivered per stream at most: one more and
--                      the child is killed, as lj.run's max_output
--   timeout = s        child:killafter(s): SIGKILL s seconds from now
-- pause() stops delivering (no handler runs until resume()); the adapter
-- stops reading the child's pipes, so the child blocks once they are
-- full: back-pressure.  A handler may call pause() or close(); delivery
-- stops at once.  hooks = {pause =, resume =, close =} are the adapter's
-- (called after the watch's own state changed).  w:pump() returning
-- true means exit was delivered: the adapter then calls w:close(),
-- which closes the child.  dispatch.dispatch(child, handlers) is the
-- older form: deliver for a child another step() already stepped.

local C = require "lunajail.child"
local recipe = require "lunajail.recipe"

local M = {}

local W = {}
W.__index = W

local function isfn (v, k)
  if type(v) ~= "function" then
    error(("lunajail: watch: handlers.%s: function expected, got %s"):format(k, type(v)), 0)
  end
  return v
end

local check = {
  started = isfn, setup_error = isfn, stdout = isfn, stderr = isfn, exit = isfn,
  lines = function (v, k)
    if type(v) ~= "boolean" then
      error(("lunajail: watch: handlers.%s: true or false expected, got %s"):format(k,
            type(v)), 0)
    end
    return v
  end,
  max_output = function (v, k)
    return recipe.number(v, "watch: handlers." .. k, 0, recipe.MAXBYTES, true)
  end,
  timeout = function (v, k)
    return recipe.number(v, "watch: handlers." .. k, 0, recipe.MAXTIME)
  end,
}

local function checked (handlers)
  if handlers == nil then return {} end
  if type(handlers) ~= "table" then
    error(("lunajail: watch: handlers: table expected, got %s"):format(type(handlers)), 0)
  end
  local h = {}
  for k, v in pairs(handlers) do
    local f = check[k]
    if not f then
      local valid = {}
      for name in pairs(check) do valid[#valid + 1] = name end
      table.sort(valid)
      error(("lunajail: watch: unknown handler '%s'%s (valid: %s)"):format(tostring(k),
            recipe.suggest(k, check), table.concat(valid, ", ")), 0)
    end
    h[k] = f(v, k)
  end
  return h
end

function M.new (child, handlers, hooks)
  local h = checked(handlers)
  local w = setmetatable({ child = child, h = h, hooks = hooks or {}, paused = false,
                           closed = false, state = "setup", over = false,
                           kept = { stdout = 0, stderr = 0 } }, W)
  if h.timeout then child:killafter(h.timeout, "KILL") end
  return w
end

-- delivers stream's buffered data; true once it is at its end.  Past
-- max_output nothing more is delivered (C.cap killed the child); in line
-- mode each line counts with its "\n"
function W:drain (stream)
  local child, h, fn = self.child, self.h, self.h[stream]
  local max, kept = h.max_output, self.kept
  while not (self.paused or self.closed) do
    local data, err, partial = child:read(stream, h.lines and "l" or 1 << 20)
    local line = h.lines and data ~= nil              -- a whole line
    if not data and partial and partial ~= "" then data = partial end
    if data and not self.over then        -- past the cap: dropped
      if max then
        if line then data = data .. "\n" end
        data, kept[stream], self.over = C.cap(child, data, kept[stream], max, self.over)
        if line and data:sub(-1) == "\n" then data = data:sub(1, -2) end
      end
      if fn and (data ~= "" or (line and not self.over)) then fn(data) end
    end
    if err and err ~= "line too long" then return err == "closed" end
  end
  return false
end

function W:deliver ()
  if self.closed then return false end
  if self.done then return true end
  if self.paused then return false end
  local child, h = self.child, self.h
  if self.state == "setup" then
    local ok, err = child:started()
    if ok == false then return false end
    if ok then
      self.state = "running"
      if h.started then h.started() end
    else
      self.state = "failed"
      if h.setup_error then h.setup_error(err) end
    end
    if self.paused or self.closed then return false end
  end
  if self.state == "running" then
    local out = self:drain("stdout")
    local err = not (self.paused or self.closed) and self:drain("stderr")
    if not (out and err) then return false end
  end
  local st = child:status()
  if st.running then return false end
  st.timeout = st.timeout == true or C.timedout(child)   -- the C status may say it
  st.output_limit = self.over
  self.done = true
  if h.exit then h.exit(st) end
  return true
end

function W:pump ()
  if self.closed then return false end
  self.child:step()
  return self:deliver()
end

function W:pause ()
  if self.paused or self.closed then return end
  self.paused = true
  if self.hooks.pause then self.hooks.pause(self) end
end

function W:resume ()
  if not self.paused or self.closed then return end
  self.paused = false
  if self.hooks.resume then self.hooks.resume(self) end
end

-- stops watching and closes the child (close's kill: docs/child.md)
function W:close ()
  if self.closed then return end
  self.closed = true
  if self.hooks.close then self.hooks.close(self) end
  self.child:close()
end

-- the older form: deliver, for a child another step() already stepped
local olds = setmetatable({}, { __mode = "k" })
function M.dispatch (child, handlers)
  local w = olds[child]
  if not w then
    w = M.new(child, handlers)
    olds[child] = w
  end
  return w:deliver()
end

return M
