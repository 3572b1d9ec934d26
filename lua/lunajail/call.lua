-- lunajail.call: a Lua function in a sandbox.
--
--   lj.call(recipe, fn, ...)          -> what fn(...) returned, in a fresh
--                                        sandbox made from the recipe
--   lj.call(child, fn, ...)           -> the same in a running sandbox
--                                        (child:enter(fn, ...))
--   lj.spawn_call(recipe|child, fn, ...) -> a child object | nil, err
--   child:result([timeout])           -> fn's values (waits: the child's
--                                        blocker, so an adapter's yields)
--   lj.call_decode(child, bytes [, status]) -> fn's values, from what an
--                                        event loop read of its stdout
--
-- The sandbox is a fork of this process (core.call, csrc/call.c): fn sees
-- a copy of the Lua state as it was at the call -- upvalues and globals
-- are copies, what it changes stays there -- with every fd closed but
-- stdout and stderr (ours) and stdin (/dev/null), then the recipe's
-- namespaces, file system and restrictions.  Its values come back
-- serialized: nil, booleans, numbers (integers stay integers, floats
-- floats, NaN and infinities included), strings of any bytes, and tables
-- of these, nested (metatables stay behind); at most core.CALL_MAX bytes.
-- A function, userdata, coroutine or a table inside itself cannot cross.
-- Everything that goes wrong raises: fn's error (a lunajail.CallError:
-- .message, .traceback, .value, from the sandbox), a failed step (the
-- step error, as spawn returns it), values that cannot cross, a timeout,
-- a sandbox that died before it returned.

local core = require "lunajail.core"
local compile = require "lunajail.compile"
local idalloc = require "lunajail.ids"
local enter = require "lunajail.enter"
local cgroup = require "lunajail.cgroup"
local childlib = require "lunajail.child"

local M = {}

-- child -> {info =}: what decodes its result
local calls = setmetatable({}, { __mode = "k" })

local function fail (fmt, ...)
  error("lunajail: call: " .. fmt:format(...), 0)
end

-- the plan of core.call for a checked recipe r, and the lease and the
-- cgroup (limits) it holds
local function fresh (r)
  if r.stdio ~= nil then
    fail("recipe.stdio: a function's stdout and stderr are the caller's, its " ..
         "stdin /dev/null (remove stdio)")
  end
  if r.fds ~= nil then fail("recipe.fds: a function gets no fds (remove fds)") end
  -- argv and path: fn is the payload; the terminals on our stdout and
  -- stderr are guarded as for any recipe handing them in
  local plan, _, ids = r:with { stdio = { "null", "inherit", "inherit" } }:steps()
  local lease, sb, err
  if ids.lease then
    lease, err = idalloc.lease()
    if not lease then return nil, err end
    plan = compile.bind(plan, ids, lease:id(), lease)
  end
  if r.limits then
    sb, err = cgroup.sandbox(r.limits)          -- before the fork
    if not sb then
      if lease then lease:close() end
      return nil, err
    end
  end
  return { namespaces = plan.namespaces, uidmap = plan.uidmap, gidmap = plan.gidmap,
           steps = plan.steps, cwd = plan.cwd, env = plan.env,
           die_with_parent = plan.die_with_parent, new_session = plan.new_session,
           lease = lease, cgroup = sb and sb.plan }, lease, sb
end

-- target: a recipe (lj.recipe'd) or a running sandbox's child
function M.spawn_call (target, fn, ...)
  if type(fn) ~= "function" then
    fail("fn: a function expected, got %s", type(fn))
  end
  local plan, lease, sb
  if type(target) == "userdata" then
    plan = enter.callplan(target)
  else
    plan, lease, sb = fresh(target)
    if not plan then return nil, lease end
  end
  local ok, c, info = pcall(core.call, plan, fn, ...)
  if not (ok and c) then
    if lease then lease:close() end
    if sb then sb:close() end
    if not ok then error(c, 0) end
    return nil, info
  end
  if sb then childlib.attach(c, sb) end
  calls[c] = { info = info }
  return c
end

local function ended (st)
  if st.signaled then return "killed by " .. st.signame end
  if st.exited then return "exited " .. st.code end
  if st.unknown then return "reaped by the host" end
  return "still running"
end

-- fn's values from the result stream
function M.decode (child, bytes, st)
  local rec = calls[child]
  if not rec then fail("this child was not started by lj.spawn_call") end
  st = st or child:status()
  if st.output_limit or #bytes > core.CALL_MAX + 4096 then
    fail("the sandbox wrote more than %d bytes of results (killed)", core.CALL_MAX)
  end
  local r = table.pack(core.call_result(rec.info, bytes))
  if r[1] == "ok" then
    rec.reports = r[2]
    return table.unpack(r, 3, r.n)
  end
  if r[1] == "error" then error(r[2], 0) end
  fail("the sandbox ended without a result (%s)", ended(st))
end

function M.result (child, timeout)
  if not calls[child] then fail("this child was not started by lj.spawn_call") end
  local out, _, st = child:communicate(nil, timeout, core.CALL_MAX + 4096)
  if not out then
    child:kill("KILL")
    child:wait()
    fail("timed out after %s s (the sandbox is killed)", tostring(timeout))
  end
  return M.decode(child, out, st)
end

function M.call (target, fn, ...)
  local c <close>, err = M.spawn_call(target, fn, ...)
  if not c then error(err, 0) end
  return M.result(c)
end

core.Child.result = M.result

return M
