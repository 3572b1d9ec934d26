-- examples/stepper.lua: a sandbox in the making, one step at a time, at
-- a prompt.
--
--   lua5.4 examples/stepper.lua [container | empty]
--
-- Starts a stepper of the default container's recipe (or of the empty
-- one): a child with its namespaces made and its id maps written, paused
-- before its first step.  At the prompt:
--   mount("tmpfs", "/mnt", "tmpfs")   any step, as the Lua call of core.X
--   next [n]      the recipe's next step (or n of them), and why
--   rest          every step of the recipe that is left
--   peek, list    the recipe's next step, every step left
--   skip          leave the recipe's next step out
--   state         what the child is now
--   diff          what changed since the last state or diff
--   exec CMD ...  run CMD as the payload, on this terminal, and quit
--   help, quit
-- Steps and the recipe's steps mix: the step numbers go on, as in a plan.

local lj = require "lunajail"
local stepper = require "lunajail.stepper"
local core = lj.core

local which = arg[1] or "container"
if which ~= "container" and which ~= "empty" then
  io.stderr:write("usage: lua5.4 examples/stepper.lua [container | empty]\n")
  os.exit(2)
end
local recipe = lj[which]{ argv = { "sh" }, stdio = { "inherit", "inherit", "inherit" },
                          env = { PATH = "/usr/local/bin:/usr/bin:/bin",
                                  TERM = os.getenv("TERM") } }
local s = assert(lj.stepper(recipe))

local function say (fmt, ...) io.write(fmt:format(...), "\n") end

local function report (r, why)
  say("%s (%d us)%s", r.message, r.usec or 0, why and why ~= "" and "  -- " .. why or "")
end

-- {====== The commands ======}

local function summary (st)
  local function list (t) return #t > 0 and table.concat(t, ",") or "none" end
  say("uid      %d %d %d   gid %d %d %d   groups %s", st.uid[1], st.uid[2], st.uid[3],
      st.gid[1], st.gid[2], st.gid[3], list(st.groups))
  for _, set in ipairs { "effective", "permitted", "bounding", "ambient" } do
    local c = st.caps[set]
    say("caps     %-11s %s", set, #c > 8 and #c .. " capabilities" or list(c))
  end
  say("privs    no_new_privs %s, seccomp %s, dumpable %s", st.no_new_privs, st.seccomp,
      st.dumpable)
  say("names    hostname %s, domainname %s, cwd %s", st.hostname, st.domainname, st.cwd)
  local ns = {}
  for _, n in ipairs { "user", "mnt", "pid", "net", "uts", "ipc", "cgroup" } do
    local x = st.namespaces[n]
    if x then ns[#ns + 1] = n .. (x.new and " (new)" or " (host's)") end
  end
  say("ns       %s", table.concat(ns, ", "))
  if st.root then say("root     %s %s %s", st.root.fstype, st.root.source, st.root.options) end
  say("mounts   %d", #st.mounts)
  local l = st.rlimits
  say("rlimits  nofile %s/%s, nproc %s/%s, core %s/%s", l.nofile[1], l.nofile[2],
      l.nproc[1], l.nproc[2], l.core[1], l.core[2])
end

local last = assert(s:state())

local function words (line)          -- sh -c 'a b' "c": quotes, no escapes
  local out, i = {}, 1
  while i <= #line do
    local c = line:sub(i, i)
    if c:match("%s") then
      i = i + 1
    else
      local w = ""
      while i <= #line and not line:sub(i, i):match("%s") do
        local q = line:sub(i, i)
        if q == "'" or q == '"' then
          local j = line:find(q, i + 1, true) or #line + 1
          w, i = w .. line:sub(i + 1, j - 1), j + 1
        else
          w, i = w .. q, i + 1
        end
      end
      out[#out + 1] = w
    end
  end
  return out
end

local commands = {}

function commands.next (n)
  for _ = 1, tonumber(n) or 1 do
    local step, why, r = s:next()
    if not step then
      if why then say("%s", why) else say("(no step left)") end
      return
    end
    report(r, why)
  end
end

function commands.rest ()
  local list = s:remaining()
  local ok, a, b = s:rest()
  local reports = ok and a or b
  for i, r in ipairs(reports) do report(r, list[i][2]) end
  if not ok then say("%s", a) end
end

function commands.peek ()
  local step, why = s:peek()
  if not step then return say("(no step left)") end
  say("step %d would be %s  -- %s", s:count() + 1, core.describe(step), why)
end

function commands.list ()
  for i, x in ipairs(s:remaining()) do
    say("%4d  %-50s %s", s:count() + i, core.describe(x[1]), x[2])
  end
end

function commands.skip ()
  local step = s:skip()
  say(step and "left out: " .. core.describe(step) or "(no step left)")
end

function commands.state ()
  last = assert(s:state())
  summary(last)
end

function commands.diff ()
  local now = assert(s:state())
  local lines = stepper.diff(last, now)
  for _, l in ipairs(lines) do say("%s", l) end
  if #lines == 0 then say("(no change)") end
  last = now
end

function commands.exec (...)
  local argv = { ... }
  if #argv == 0 then argv = { "sh" } end
  local c, err = s:exec{ argv = argv }
  if not c then return say("%s", err) end
  local st = c:wait()
  say("[exited %s]", st.code or st.signame or "?")
  os.exit(st.code or 1)
end

function commands.help ()
  say("a step: mount(\"tmpfs\", \"/mnt\", \"tmpfs\"), sethostname(\"x\"), ... (%d ops)",
      #core.steps)
  say("next [n], rest, peek, list, skip, state, diff, exec CMD ..., quit")
end

function commands.quit ()
  s:close()
  os.exit(0)
end

-- }======


-- a line that is not a command is a step: mount("tmpfs", "/mnt") is
-- {"mount", "tmpfs", "/mnt"}
local ops = {}
for _, name in ipairs(core.steps) do ops[name] = true end
local env = setmetatable({}, { __index = function (_, name)
  if ops[name] then return function (...) return table.pack(name, ...) end end
  return _G[name]
end })

local function step (line)
  local chunk, err = load("return " .. line, "=step", "t", env)
  if not chunk then return say("%s", err) end
  local ok, t = pcall(chunk)
  if not ok then return say("%s", t) end
  if type(t) ~= "table" then return say("a step is a call such as mount(\"tmpfs\", \"/mnt\")") end
  t.n = nil
  local done, applied, r = pcall(s.step, s, t)
  if not done then return say("%s", applied) end  -- misuse, raised: nothing applied
  report(r)
end

say("lunajail stepper: %s, %d steps to go (help for help)", which, #s:remaining())
while true do
  io.write(("stepper[%d]> "):format(s:count()))
  io.stdout:flush()
  local line = io.read("l")
  if not line then commands.quit() end
  local cmd, rest = line:match("^%s*(%a+)%s*(.-)%s*$")
  if cmd and commands[cmd] and not rest:match("^%(") then
    local ok, err = pcall(commands[cmd], table.unpack(cmd == "exec" and words(rest) or { rest }))
    if not ok then say("%s", err) end
  elseif line:match("%S") then
    step(line)
  end
end
