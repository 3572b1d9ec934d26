-- lunajail.child: the blocking conveniences of the child object, in Lua.
--
-- The C object never blocks (csrc/process.c).  Everything that waits is
-- here, written once against block(child, seconds): the default waits
-- with core.poll on the child's aggregate fd; lunajail.loop.cqueues uses
-- cqueues.poll, so the same code yields in a coroutine instead.
--
--   child:wait([timeout])                     -> status | nil, "timeout"
--   child:read_line(stream [, timeout])       -> line, err, partial
--   child:lines(stream [, timeout])           -> an iterator of lines
--   child:read_bytes(stream, n [, timeout])   -> exactly n bytes, err, partial
--   child:read_all(stream [, timeout])        -> everything to EOF, err, partial
--   child:write_all(data [, timeout])         -> true | nil, err, written
--   child:communicate([input [, timeout [, max]]]) -> stdout, stderr, status
--       (max: bytes kept per stream; beyond it the child is killed and
--       the status says output_limit = true)
--   child:terminate([grace])                  -> status
--   child:read_some([stream [, timeout]])     -> what has arrived (up to
--       1 MiB), once there is something | nil, err
--   child:wait_started([timeout])             -> true | nil, err (the
--       setup error) | nil, "timeout": an async spawn's setup, waited for
-- err is "timeout" or "closed"; partial is what had arrived.  stream is
-- "stdout" (the default) or "stderr".  Timeouts are seconds (numbers
-- from 0 to 1e9; nil waits as long as it takes), grace too (0 kills at
-- once); n and max are byte counts.  Anything else raises, naming it:
-- a NaN or negative timeout would never expire.

local core = require "lunajail.core"
local recipe = require "lunajail.recipe"

local poll, now = core.poll, core.monotonic
local number, MAXTIME, MAXBYTES = recipe.number, recipe.MAXTIME, recipe.MAXBYTES

local M = {}

-- children whose killafter deadline step() enforced (see timedout below)
local timedout = setmetatable({}, { __mode = "k" })

-- the deadline of an optional timeout, checked: what names it in errors
local function deadline (timeout, what)
  if timeout == nil then return nil end
  return now() + number(timeout, what, 0, MAXTIME)
end

local function left (dl)
  if not dl then return nil end
  local l = dl - now()
  return l > 0 and l or 0
end

-- waits until the child has something for step(), or the deadline
function M.block (child, seconds)
  local fd = child:pollfd()
  local t = child:timeout()
  if seconds and (not t or seconds < t) then t = seconds end
  if fd then poll({ { fd = fd, events = "r" } }, t) end
  child:step()
end

-- the generic implementations, taking the blocker as their first argument

function M.wait (block, child, timeout)
  local dl = deadline(timeout, "child:wait: timeout")
  while true do
    child:step()
    local st = child:status()
    if not st.running then return st end
    local l = left(dl)
    if l == 0 then return nil, "timeout" end
    block(child, l)
  end
end

-- repeats try() (a non-blocking read) until it gives data or an error
local function until_data (block, child, dl, try)
  while true do
    local data, err, partial = try()
    if data or err ~= "again" then return data, err, partial end
    local l = left(dl)
    if l == 0 then return nil, "timeout" end
    block(child, l)
  end
end

function M.read_line (block, child, stream, timeout)
  stream = stream or "stdout"
  local dl = deadline(timeout, "child:read_line: timeout")
  return until_data(block, child, dl, function ()
    return child:read(stream, "l")
  end)
end

-- what has arrived, once something has: for a caller that forwards
-- output as it comes (and, by reading no faster than it can send, gives
-- the child back-pressure)
function M.read_some (block, child, stream, timeout)
  stream = stream or "stdout"
  local dl = deadline(timeout, "child:read_some: timeout")
  return until_data(block, child, dl, function ()
    return child:read(stream, 1 << 20)
  end)
end

-- the end of an async spawn's setup: true once the payload runs, or
-- nil, err (the step error, as child:started() gives it)
function M.wait_started (block, child, timeout)
  local dl = deadline(timeout, "child:wait_started: timeout")
  while true do
    local ok, err = child:started()
    if ok then return true end
    if ok == nil then return nil, err end
    local l = left(dl)
    if l == 0 then return nil, "timeout" end
    block(child, l)
  end
end

function M.read_bytes (block, child, stream, n, timeout)
  n = number(n, "child:read_bytes: n", 0, MAXBYTES, true)
  local dl, got, have = deadline(timeout, "child:read_bytes: timeout"), {}, 0
  while have < n do
    local data, err = until_data(block, child, dl, function ()
      return child:read(stream, math.min(n - have, 1 << 20))
    end)
    if not data then return nil, err, table.concat(got) end
    got[#got + 1] = data
    have = have + #data
  end
  return table.concat(got)
end

function M.read_all (block, child, stream, timeout)
  local dl, got = deadline(timeout, "child:read_all: timeout"), {}
  while true do
    local data, err = until_data(block, child, dl, function ()
      return child:read(stream, 1 << 20)
    end)
    if not data then
      if err == "closed" then return table.concat(got) end
      return nil, err, table.concat(got)
    end
    got[#got + 1] = data
  end
end

function M.write_all (block, child, data, timeout)
  local dl, sent = deadline(timeout, "child:write_all: timeout"), 0
  while sent < #data do
    local n, err = child:write(data:sub(sent + 1, sent + (1 << 20)))
    if n then
      sent = sent + n
    elseif err ~= "again" then
      return nil, err, sent
    else
      local l = left(dl)
      if l == 0 then return nil, "timeout", sent end
      block(child, l)
    end
  end
  while child:pending() > 0 do                -- flushed, not only queued
    local l = left(dl)
    if l == 0 then return nil, "timeout", sent - child:pending() end
    block(child, l)
  end
  return true
end

-- the output cap of communicate, lj.run and the loop adapters: the part
-- of data that max bytes per stream still allow when kept were kept;
-- the first byte beyond kills the child (over: it was killed already).
-- -> data, kept, over
function M.cap (child, data, kept, max, over)
  if max and kept + #data > max then
    data = data:sub(1, max - kept)
    if not over then child:kill("KILL") end
    over = true
  end
  return data, kept + #data, over
end

-- feeds input (then EOF) while draining stdout and stderr: a child that
-- writes a lot to either never stalls on the other.  With max, at most
-- max bytes of each stream are kept; one more and the child is killed.
function M.communicate (block, child, input, timeout, max)
  local dl = deadline(timeout, "child:communicate: timeout")
  if max ~= nil then max = number(max, "child:communicate: max", 0, MAXBYTES, true) end
  local out, err = {}, {}
  local kept = { [out] = 0, [err] = 0 }
  local sent, closed, over = 0, false, false
  input = input or ""
  local function collect (stream, sink)
    while true do
      local data, e = child:read(stream, 1 << 20)
      if not data then return e == "closed" end
      data, kept[sink], over = M.cap(child, data, kept[sink], max, over)
      if #data > 0 then sink[#sink + 1] = data end
    end
  end
  while true do
    if sent < #input then
      local n, e = child:write(input:sub(sent + 1, sent + (1 << 20)))
      if n then sent = sent + n elseif e == "closed" then sent = #input end
    end
    if sent >= #input and not closed then
      child:close_stdin()
      closed = true
    end
    local done_out = collect("stdout", out)
    local done_err = collect("stderr", err)
    if done_out and done_err then
      local st = child:status()
      if not st.running then
        if over then st.output_limit = true end
        return table.concat(out), table.concat(err), st
      end
    end
    local l = left(dl)
    if l == 0 then
      return nil, "timeout", { stdout = table.concat(out),
                               stderr = table.concat(err) }
    end
    block(child, l)
  end
end

-- SIGTERM, then SIGKILL after grace seconds (default 5); the status
function M.terminate (block, child, grace)
  grace = grace == nil and 5 or number(grace, "child:terminate: grace", 0, MAXTIME)
  local st = child:status()
  if not st.running then return st end
  child:kill("TERM")
  child:killafter(grace, "KILL")
  local was = timedout[child]               -- its SIGKILL is no timeout
  st = M.wait(block, child, nil)
  timedout[child] = was
  return st
end

-- an iterator over the lines of stream (the last one even without its
-- newline); a timeout raises
function M.lines (block, child, stream, timeout)
  if timeout ~= nil then number(timeout, "child:lines: timeout", 0, MAXTIME) end
  return function ()
    local line, err, partial = M.read_line(block, child, stream, timeout)
    if line then return line end
    if err == "closed" and partial and partial ~= "" then return partial end
    if err == "timeout" then error("lines: timeout", 2) end
    return nil
  end
end

-- the methods, with the default blocker
local methods = core.Child
for _, name in ipairs { "wait", "read_line", "lines", "read_bytes", "read_all",
                        "write_all", "communicate", "terminate", "read_some",
                        "wait_started" } do
  local f = M[name]
  methods[name] = function (child, ...) return f(M.block, child, ...) end
end


-- {====== What is held beside a sandbox: its companions ======}
-- lunajail.spawn attaches to a child what the sandbox lives with: its
-- cgroup (lunajail.cgroup: a Sandbox) and its pasta (lunajail.pasta).
-- A companion has finish(status), kill(), setkill(on) and close(), and
-- a cgroup's also kind = "cgroup" and figures().  The first status of a
-- child that has ended finishes them: the cgroup kills what is left of
-- the sandbox, keeps its figures for the status (status.cgroup,
-- status.oom_killed) and is removed; pasta is stopped.  kill("KILL")
-- kills every process in the cgroup; close (and <close>) closes them,
-- and with setkill(false) lets them run on with the sandbox;
-- child:cgroup() reads the figures while it runs.  The C object
-- (csrc/process.c) knows nothing of them.
local held = setmetatable({}, { __mode = "k" })      -- child -> {companion...}
local cstatus, ckill, cclose, csetkill = methods.status, methods.kill,
                                         methods.close, methods.setkill

local function iskill (sig)
  return sig == 9 or (type(sig) == "string" and sig:upper():gsub("^SIG", "") == "KILL")
end

local function each (child, fn, ...)
  for _, h in ipairs(held[child] or {}) do fn(h, ...) end
end

function M.attach (child, companion)
  local list = held[child] or {}
  list[#list + 1] = companion
  held[child] = list
  getmetatable(child).__close = methods.close
end

function methods.status (child)
  local st = cstatus(child)
  if not st.running then each(child, function (h) h:finish(st) end) end
  return st
end

function methods.kill (child, sig)
  local ok, err, errno = ckill(child, sig)
  if iskill(sig) then each(child, function (h) h:kill() end) end
  return ok, err, errno
end

function methods.setkill (child, sig)
  csetkill(child, sig)
  each(child, function (h) h:setkill(sig ~= false) end)
end

-- child:cgroup() -> the cgroup's figures now (at exit once it ended),
-- or nil: a sandbox without limits has no cgroup
function methods.cgroup (child)
  for _, sb in ipairs(held[child] or {}) do
    if sb.kind == "cgroup" then
      if sb.closed and not sb.figs then return nil end
      return sb.figs or sb:figures()
    end
  end
end

function methods.close (child)
  cclose(child)
  each(child, function (h) h:close() end)
end

-- }======


-- {====== The end of an async spawn's setup ======}
-- A child of an async spawn (plan.async) learns its setup error later,
-- from step(), started() or status() (csrc/process.c).  lunajail.spawn
-- registers how to put it in the recipe's terms (onsetup); the first of
-- them to see the error applies it, in place, so every later one gives
-- the same annotated error.  step() also notes a killafter deadline it
-- enforced: timedout(child) is then true (the loop adapters' exit
-- status says timeout = true).
local fixes = setmetatable({}, { __mode = "k" })     -- child -> fn(err)
local cstep, cstarted, cstatus2 = methods.step, methods.started, methods.status

-- onsetup(child, fn): fn(err) puts child's setup error, once it comes,
-- in the caller's terms (in place)
function M.onsetup (child, fn)
  fixes[child] = fn
end

local function fix (child, err)
  local fn = fixes[child]
  if fn and err then
    fixes[child] = nil
    fn(err)
  end
end

-- timedout(child) -> true once a step() enforced its killafter deadline
-- (not terminate's own SIGKILL)
function M.timedout (child)
  return timedout[child] == true
end

function methods.step (child)
  local ev = cstep(child)
  if ev.setup_error then fix(child, ev.setup_error) end
  if ev.timeout then timedout[child] = true end
  return ev
end

function methods.started (child)
  local ok, err = cstarted(child)
  if ok == nil then
    fix(child, err)
    return nil, err
  end
  return ok
end

function methods.status (child)
  local st = cstatus2(child)
  if st.setup_error then fix(child, st.setup_error) end
  return st
end

-- }======


return M
