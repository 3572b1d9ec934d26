-- spec/snip.lua: small tools for the snippets that spec/helper.lua runs
-- in throwaway processes (never for the runner itself).
--
--   local S = require "snip"
--   S.read(path)         the whole file, or nil, message
--   S.sh(cmd)            a command's output, the last newline dropped
--   S.status(key)        a field of /proc/self/status ("Uid", "CapEff")
--   S.stat(i)            field i of /proc/self/stat (1 = pid, 6 = session)
--   S.ns(name)           this process's namespace id: "uts:[4026531838]"
--                        (through /proc/PID: not in a new pid namespace)
--   S.fork(f, ...)       runs f in a forked child, returns {pid=, wait=};
--                        wait() -> the child's wait status, then what f
--                        returned (strings, numbers, booleans, nil)
--   S.forked(f, ...)     S.fork(f, ...).wait()
--   S.waitfor(f, what)   calls f until it returns true (a bounded wait,
--                        never a timing assertion); raises naming what
--   S.triples()          add, results: add(...) keeps the first three
--                        values of a call (true or nil, message, errno);
--                        results() returns every one kept, in order
--
-- S.fork passes the values back through an unlinked temp file the child
-- inherits open, so the child may drop privileges or change namespaces
-- first.  A raise in the child is raised again in the snippet with its
-- message; a child that dies or execs returns only its status.  The child
-- always ends with _exit: it never runs the snippet's epilogue.

local core = require "lunajail.core"

local S = {}

function S.triples ()
  local out, n = {}, 0
  local function add (...)
    local r = table.pack(...)
    for i = 1, 3 do out[n + i] = r[i] end
    n = n + 3
  end
  return add, function () return table.unpack(out, 1, n) end
end

function S.read (path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

function S.sh (cmd)
  local p = assert(io.popen(cmd))
  local s = p:read("a")
  p:close()
  return (s:gsub("\n$", ""))
end

function S.status (key)
  return assert(S.read("/proc/self/status")):match("\n" .. key .. ":[ \t]*([^\n]*)")
end

function S.stat (i)
  local s = assert(S.read("/proc/self/stat"))
  local rest = s:match("%) (.*)$")        -- after "pid (comm) "
  local f = { s:match("^(%d+)"), "comm" }
  for w in rest:gmatch("%S+") do f[#f + 1] = w end
  return tonumber(f[i]) or f[i]
end

function S.ns (name)
  return S.sh("readlink /proc/" .. core.getpid() .. "/ns/" .. name)
end

local function ser (r)
  local parts = {}
  for i = 1, r.n do
    local v = r[i]
    local t = type(v)
    if t ~= "string" and t ~= "number" and t ~= "boolean" and t ~= "nil" then
      v = tostring(v)
    end
    parts[i] = string.format("%q", v)
  end
  return "return " .. table.concat(parts, ", ")
end

function S.fork (f, ...)
  local name = os.tmpname()
  local h = assert(io.open(name, "w"))
  local back = assert(io.open(name, "r"))
  os.remove(name)                         -- nothing left behind, whatever
  local pid = assert(core.fork())
  if pid == 0 then
    local r = table.pack(xpcall(f, debug.traceback, ...))
    h:write(ser(r))
    h:flush()
    core._exit(0)
  end
  h:close()
  local child = { pid = pid }
  function child.wait ()
    local st = assert(core.waitpid(pid))
    local src = back:read("a")
    back:close()
    if src == "" then return st end       -- died or exec'd before reporting
    local r = table.pack(assert(load(src))())
    if not r[1] then error("in the forked child: " .. tostring(r[2]), 2) end
    return st, table.unpack(r, 2, r.n)
  end
  return child
end

function S.forked (f, ...)
  return S.fork(f, ...).wait()
end

function S.waitfor (f, what)
  for _ = 1, 6000 do
    if f() then return true end
    os.execute("sleep 0.01")
  end
  error("gave up waiting for " .. what, 2)
end

return S
