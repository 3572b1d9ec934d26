-- lunajail.enter: into a running sandbox.
--
--   child:enter{argv = {"ps", "-e"}}       -> a child object | nil, err
--   child:enter(fn, ...)                   -> fn's values (lunajail.call)
--
-- A sandbox started by lj.spawn or lj.spawn_plan is remembered with the
-- plan it was started from (bound: with its own leased uid, as root).
-- Entering it starts a process that
--   - joins every namespace the sandbox does not share with us, through
--     its pidfd (setns(pidfd, flags), Linux 5.8; before, /proc/PID/ns/*
--     opened through the pidfd's process): user first, mount last; the
--     mount namespace brings the sandbox's root and working directory;
--   - becomes a process of its pid namespace: the runner forks after
--     joining it (plan.fork) and relays the payload's status;
--   - joins its cgroup when it has one (limits): the spawner puts it
--     there before its first step, with the sandbox's cgroup fds (plan.
--     cgroup), so its limits count the entered process too;
--   - gets the restrictions the sandbox's payload got, by the same steps
--     of its plan, in the same order: rlimits, priority, capabilities,
--     groups and ids, securebits, no_new_privs, Landlock, seccomp (and,
--     when its stdio hands in a terminal of ours, the terminal ioctls
--     refused, as a recipe with one would);
--   - has the sandbox's environment merged with the fields' env, and its
--     own stdio (pipes unless given): nothing else of ours.
-- Refused rather than weakened, with the reason: a child lunajail has no
-- plan for (core.spawn), a plan step enter does not know, one that
-- unshares or joins a pid or time namespace (its payload is in one its
-- PID 1 is not), a chroot without a mount namespace, and a sandbox that
-- runs more seccomp filters than its plan loads (its payload loaded one
-- itself: lunajail did not make it and cannot reproduce it).

local core = require "lunajail.core"
local recipe = require "lunajail.recipe"
local seccomp = require "lunajail.seccomp"

local M = {}

local function fail (fmt, ...)
  error("lunajail: enter: " .. fmt:format(...), 0)
end

local function set (list)
  local s = {}
  for _, x in ipairs(list) do s[x] = true end
  return s
end

-- child -> {plan =, sandbox =}: sandbox is the child to enter (an entered
-- child enters its sandbox)
local known = setmetatable({}, { __mode = "k" })

function M.remember (child, plan, sandbox)
  if child then known[child] = { plan = M.view(plan), sandbox = sandbox or child } end
  return child
end

-- the steps of a plan: what enter does with each op
local RESTRICT = set { "setrlimit", "setpriority", "caps_set", "caps_drop_bound",
  "caps_clear_ambient", "keepcaps", "setgroups", "setresgid", "setresuid",
  "securebits", "caps_keep", "no_new_privs", "dumpable", "landlock", "seccomp" }
local SHARED = set { "sethostname", "setdomainname", "mount", "bind", "overlay",
  "umount", "pivot_root", "chdir", "mkdir_p", "symlink", "write_file", "touch",
  "beneath", "pdeathsig", "setsid",             -- in the namespaces: there already
  "chown", "setfsuid", "setfsgid",              -- the setup's files and its ids for them
  "ifup", "link_del", "veth", "addr_add", "route_add", "unshare_veth",
  "netns_join" }                                -- its network: its PID 1's

-- what enter needs of a plan, kept beside each child instead of the
-- plan (a recipe built per request would keep a whole plan per live
-- sandbox): its steps but those enter leaves to the sandbox (SHARED),
-- each with its index in the plan, and the plan's env, cwd and cgroup
local viewof = setmetatable({}, { __mode = "k" })   -- plan -> its view

function M.view (plan)
  if plan.view then return plan end
  local v = viewof[plan]
  if v then return v end
  v = { view = true, steps = {}, at = {}, env = plan.env, cwd = plan.cwd,
        cgroup = plan.cgroup }
  for i, st in ipairs(plan.steps or {}) do
    if not SHARED[st[1]] then
      v.steps[#v.steps + 1] = st
      v.at[#v.steps] = i
    end
  end
  viewof[plan] = v
  return v
end

-- the fields a process of its own may have; the rest is the sandbox's
local FIELDS = { "argv", "path", "env", "cwd", "stdio", "fds", "die_with_parent",
                 "new_session", "trace", "setup_timeout" }
local fieldset = set(FIELDS)

-- /proc/PID/ns/<file> -> namespace name, in setns order (user first)
local NS = { { "user", "user" }, { "cgroup", "cgroup" }, { "ipc", "ipc" },
             { "uts", "uts" }, { "net", "net" }, { "pid", "pid" },
             { "time", "time" }, { "mnt", "mount" } }

-- the namespace names of a step's flags argument (a list, "a,b" or bits);
-- nil when it names none (setns without a type: any)
local function nsnames (v)
  local out = {}
  if type(v) == "table" then for _, n in ipairs(v) do out[n] = true end
  elseif type(v) == "string" then for n in v:gmatch("[^,%s]+") do out[n] = true end
  elseif math.type(v) == "integer" and v ~= 0 then
    for _, x in ipairs(NS) do
      if v & (core.CLONE[x[2]] or 0) ~= 0 then out[x[2]] = true end
    end
  else return nil end
  return out
end

-- the restriction steps of plan, checked: the list, and how many seccomp
-- filters they load
local function restrictions (plan, joined)
  local out, filters = {}, 0
  for k, st in ipairs(plan.steps or {}) do
    local i = plan.at and plan.at[k] or k       -- its index in the plan
    local op = st[1]
    if RESTRICT[op] then
      out[#out + 1] = st
      if op == "seccomp" then filters = filters + 1 end
    elseif op == "unshare" or op == "setns" then
      local ns = nsnames(op == "unshare" and st[2] or st[3])
      if not ns or ns.pid or ns.time then
        fail("the sandbox's plan.steps[%d] (%s) puts its payload in a %s namespace " ..
             "its PID 1 is not in: enter cannot join it", i, op,
             ns and (ns.pid and "pid" or "time") or "pid or time")
      end
    elseif op == "chroot" then
      if not joined.mount then
        fail("the sandbox's plan.steps[%d] chroots without a mount namespace of " ..
             "its own: enter cannot land in that root", i)
      end
    elseif not SHARED[op] then
      fail("the sandbox's plan.steps[%d] (%s): enter does not know whether it " ..
           "restricts the payload, and will not leave it out", i, tostring(op))
    end
  end
  return out, filters
end

local function readfile (path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- the namespaces of pid that are not ours, by name
local function differ (pid)
  local out = {}
  for _, x in ipairs(NS) do
    local mine = core.readlink("/proc/self/ns/" .. x[1])
    local its, msg = core.readlink(("/proc/%d/ns/%s"):format(pid, x[1]))
    if mine and not its then fail("cannot read the sandbox's namespaces: %s", msg) end
    if mine and its ~= mine then out[#out + 1] = x[2] out[x[2]] = true end
  end
  return out
end

-- the sandbox's env, as a map, with the fields' merged in
local function environment (plan, env)
  local base = {}
  for k, v in pairs(plan.env or {}) do
    if math.type(k) == "integer" then
      local name, value = v:match("^([^=]+)=(.*)$")
      if name then base[name] = value end
    else base[k] = v end
  end
  if env then base = recipe.merge({ env = base }, { env = env }).env end
  return base
end

-- the sandbox of child, checked: its record, pid and pidfd
function M.target (child, what)
  what = what or "enter"
  if type(child) ~= "userdata" then
    error(("lunajail: %s: a child object expected, got %s"):format(what, type(child)), 0)
  end
  local rec = known[child]
  if not rec then
    error(("lunajail: %s: this child was not started by lj.spawn or lj.spawn_plan: " ..
           "lunajail has no plan of its restrictions to reproduce, and will not " ..
           "enter it without them"):format(what), 0)
  end
  local sb = rec.sandbox
  local pidfd = sb:pidfd()
  if not pidfd then error(("lunajail: %s: the child is closed"):format(what), 0) end
  local started, err = sb:started()
  if started == false then
    error(("lunajail: %s: the sandbox is still in its setup"):format(what), 0)
  elseif not started then
    error(("lunajail: %s: the sandbox never started: %s"):format(what, tostring(err)), 0)
  end
  local st = sb:status()
  if not st.running then
    error(("lunajail: %s: the sandbox has exited (%s): there is nothing to enter")
          :format(what, tostring(sb):match("%((.*)%)") or "gone"), 0)
  end
  return rec, sb.pid, pidfd
end

-- the steps and facts of entering child: {steps =, fork =, joined =, env =}
-- ttys: the terminals of ours its stdio hands in (seccomp.terminals)
function M.prepare (child, ttys, what)
  local rec, pid, pidfd = M.target(child, what)
  local joined = differ(pid)
  local plan = rec.plan
  local rsteps, filters = restrictions(plan, joined)
  local status = readfile(("/proc/%d/status"):format(pid)) or ""
  local own = readfile("/proc/self/status") or ""
  local theirs = tonumber(status:match("\nSeccomp_filters:%s*(%d+)"))
  local ours = tonumber(own:match("\nSeccomp_filters:%s*(%d+)")) or 0
  if theirs and theirs > ours + filters then
    fail("the sandbox runs %d seccomp filters, its plan loads %d (and we run %d): " ..
         "a filter lunajail did not make (its payload's own?) cannot be reproduced",
         theirs, filters, ours)
  elseif not theirs and filters == 0 and status:match("\nSeccomp:%s*2") and
         not own:match("\nSeccomp:%s*2") then
    fail("the sandbox runs a seccomp filter its plan does not load")
  end
  if not rec.sandbox:status().running then      -- what /proc said was its
    fail("the sandbox has exited")
  end
  local steps = {}
  if #joined > 0 then
    local names = {}
    for i, n in ipairs(joined) do names[i] = n end
    steps[#steps + 1] = { "setns", pidfd, names }
  end
  local last = 0
  for _, s in ipairs(rsteps) do
    steps[#steps + 1] = s
    if s[1] == "seccomp" then last = #steps end
  end
  if #ttys > 0 and last > 0 then                -- as compile.lua's filter()
    local f = seccomp.spec({ rules = {} }, { tty = true })
    table.insert(steps, last + 1, { "seccomp", f[#f][1] })
  end
  -- pid and time namespaces take only the children made after the join
  return { steps = steps, fork = joined.pid or joined.time or false, joined = joined,
           plan = plan, record = rec, cgroup = plan.cgroup }
end

-- child:enter{argv = ..., env =, cwd =, stdio =, fds =, ...}
function M.enter (child, t)
  if type(t) ~= "table" then
    fail("a table of fields (argv, env, ...) or a function expected, got %s", type(t))
  end
  local f = recipe.check(t)
  for k in pairs(f) do
    if not fieldset[k] then
      fail("recipe.%s: a running sandbox's namespaces, file system and restrictions " ..
           "are its own: enter takes %s", k, table.concat(FIELDS, ", "))
    end
  end
  if not f.argv then fail("argv expected (what to run in the sandbox)") end
  local e = M.prepare(child, seccomp.terminals(f))
  local plan = {
    argv = f.argv, path = f.path, env = environment(e.plan, f.env),
    cwd = f.cwd or (not e.joined.mount and e.plan.cwd) or nil,
    stdio = f.stdio, fds = f.fds, steps = e.steps, fork = e.fork, cgroup = e.cgroup,
    die_with_parent = f.die_with_parent, new_session = f.new_session,
    trace = f.trace, setup_timeout = f.setup_timeout,
  }
  local c, err = core.spawn(plan)
  return M.remember(c, e.plan, e.record.sandbox), err
end

-- the plan of core.call for child:enter(fn, ...)
function M.callplan (child)
  local e = M.prepare(child, seccomp.terminals { stdio = { "null", "inherit", "inherit" } },
                      "call")
  return { steps = e.steps, fork = e.fork, env = environment(e.plan),
           cwd = not e.joined.mount and e.plan.cwd or nil, cgroup = e.cgroup }
end

return M
