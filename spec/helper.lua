-- spec/helper.lua: run Lua snippets in throwaway processes.
--
-- The test runner's own process is never changed: every primitive is
-- exercised in a fresh lua5.4 process, as root and as uid 65534 (through
-- setpriv), whose return values come back serialized.
--
--   local H = require "helper"
--   for _, mode in ipairs(H.modes) do ... H.lua(mode, code) ... end
--
-- In a snippet: `core` is lunajail.core, `lj` is lunajail (once it
-- exists), enter{"user", "mount", ...} unshares the namespaces and, with
-- "user", maps the caller's uid and gid to 0 inside.

local H = {}

local function sh (cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, how, code = p:close()
  return out, ok, how, code
end
H.sh = sh

H.top = os.getenv("PWD")
H.build = H.top .. "/" .. (os.getenv("LJ_BUILD") or "build")
H.euid = tonumber((sh("id -u")))
H.root = H.euid == 0
-- "root": the runner itself (CI runs as root); "nobody": uid 65534
H.modes = H.root and { "root", "nobody" } or { "user" }

local prelude = [[
package.path = TOP .. "/lua/?.lua;" .. TOP .. "/lua/?/init.lua;" ..
  TOP .. "/spec/?.lua;" .. package.path
package.cpath = BUILD .. "/?.so;" .. package.cpath
if os.getenv("LJ_GC") then collectgarbage("incremental", 100, 1000, 1) end
core = require "lunajail.core"
do
  local ok, m = pcall(require, "lunajail")
  if ok then lj = m end
end
MODE = ...
function enter (ns)
  local set = {}
  for _, n in ipairs(ns) do set[n] = true end
  local uid = select(2, core.getresuid())
  local gid = select(2, core.getresgid())
  assert(core.unshare(ns))
  if set.user then
    assert(core.write_idmap(core.getpid(), "uid", {{0, uid, 1}}))
    assert(core.write_idmap(core.getpid(), "gid", {{0, gid, 1}}))
  end
end
local function ser (v, depth)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" or t == "nil" then
    return string.format("%q", v)
  elseif t == "table" and depth < 8 then
    local parts = {}
    for k, x in pairs(v) do
      parts[#parts + 1] = "[" .. ser(k, depth + 1) .. "]=" .. ser(x, depth + 1)
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return string.format("%q", tostring(v))
end
local function main ()
]]

local postlude = [[

end
-- an error object (a table: a failed step, an assert on a spawn's nil,
-- err) comes back as its own text, with its fields
local function handler (e)
  if type(e) ~= "string" then e = tostring(e) .. " " .. ser(e, 0) end
  return debug.traceback(e, 2)
end
local r = table.pack(xpcall(main, handler))
io.stdout:write("\n@@RESULT@@" .. ser(r, 0) .. "\n")
io.stdout:flush()
os.exit(0)
]]

local function wrapper (mode)
  local pre = ""
  if mode == "nobody" then
    pre = "setpriv --reuid=65534 --regid=65534 --clear-groups "
  end
  if os.getenv("LJ_VALGRIND") then
    -- --vgdb=no: no gdbserver FIFOs in /tmp, named by pid and a user
    -- valgrind cannot name ("???"): a killed run's, root's, made a later
    -- uid 65534 run of that pid die with "error 13 Permission denied"
    pre = pre .. "valgrind -q --vgdb=no --error-exitcode=99 --leak-check=full " ..
          "--errors-for-leak-kinds=definite --child-silent-after-fork=yes " ..
          "--suppressions=" .. H.top .. "/spec/valgrind.supp "
  end
  return pre
end

-- runs code (a function body) in a fresh lua5.4; returns what it returns
-- as a table {n=...}, plus the process's other output.  Raises with the
-- output when the snippet raised or the process died.
-- env: variables for the process ("NAME='v' ..."), e.g. H.RSSENV
function H.run (mode, code, env)
  local name = os.tmpname()
  local f = assert(io.open(name, "w"))
  f:write("local TOP = ", string.format("%q", H.top), "\n",
          "local BUILD = ", string.format("%q", H.build), "\n", prelude, code,
          postlude)
  f:close()
  sh("chmod 644 " .. name)
  local out, ok, how, status = sh("cd / && " .. (env or "") .. "timeout -s KILL 120 " ..
    wrapper(mode) .. "lua5.4 " .. name .. " " .. mode .. " 2>&1")
  os.remove(name)
  if os.getenv("LJ_VALGRIND") then       -- its report follows the result
    out = out:gsub("\n[=-][=-]%d+[=-][=-][^\n]*", "")
  end
  local text, res = out:match("^(.-)\n@@RESULT@@(.*)\n$")
  if not res then
    error(("snippet died (%s %s) as %s:\n%s"):format(how, status, mode, out), 2)
  end
  if not ok and os.getenv("LJ_VALGRIND") then
    error("valgrind reported errors as " .. mode .. ":\n" .. out, 2)
  end
  local r = assert(load("return " .. res))()
  if not r[1] then error("snippet raised as " .. mode .. ":\n" .. tostring(r[2]) ..
                         "\n" .. text, 2) end
  return table.pack(table.unpack(r, 2, r.n)), text
end

-- for a snippet that measures its own RSS: under ASan, no quarantine
-- (freed memory would wait there, 256 MB of it, and count as held), and
-- freed pages given back at once (a buffer freed per read would else
-- stay resident in each size class's region)
H.RSSENV = os.getenv("ASAN_OPTIONS")
  and ("ASAN_OPTIONS='%s:quarantine_size_mb=0:allocator_release_to_os_interval_ms=0' ")
      :format(os.getenv("ASAN_OPTIONS")) or ""

-- the values, unpacked
function H.lua (mode, code, env)
  local r = H.run(mode, code, env)
  return table.unpack(r, 1, r.n)
end

-- runs code expecting it to raise; returns the error message
function H.raises (mode, code)
  local ok, err = pcall(H.run, mode, code)
  assert(not ok, "expected an error, the snippet succeeded")
  return err
end

-- the environment of the spec file requiring this module: busted's,
-- where each running test finds its own `pending` (not in _G, where this
-- module looks up globals)
local specenv
for level = 2, 10 do
  local info = debug.getinfo(level, "f")
  if not info then break end
  for i = 1, 255 do
    local name, env = debug.getupvalue(info.func, i)
    if name == nil then break end
    if name == "_ENV" and env ~= _G then specenv = env end
  end
  if specenv then break end
end

-- one spec per case {code, pattern}: the expression code, run as mode
-- (default: the first), must raise an error matching pattern
function H.rejects (cases, mode)
  for _, c in ipairs(cases) do
    specenv.it("rejects " .. c[1], function ()
      specenv.assert.matches(c[2], H.raises(mode or H.modes[1], "return " .. c[1]))
    end)
  end
end

-- under make valgrind, a spec that needs what valgrind does not emulate
-- (it refuses setrlimit(RLIMIT_NOFILE) to the programs it runs, lacks
-- setdomainname, ...) is skipped, saying so; true when skipped
H.valgrind = os.getenv("LJ_VALGRIND") ~= nil
function H.novalgrind (why)
  if H.valgrind then
    H.skip("under valgrind, which " .. why)
    return true
  end
  return false
end

-- a feature the kernel lacks: skip the spec, saying why
function H.skip (reason)
  local pending = specenv and specenv.pending
  if not pending then error("cannot skip: " .. reason, 2) end
  pending(reason)
end

return H
