-- lunajail: sandboxes for Lua.
--
--   local lj = require "lunajail"
--   local r = lj.container{ argv = {"sh", "-c", "id"}, fstab = {"/opt"} }
--   print(r:explain())                      -- every step, and why
--   local res = lj.run(r, { timeout = 10 }) -- {code=, stdout=, stderr=, ...}
--   local child, err = lj.spawn(r)          -- the child object, or a step error
--   child:enter{argv = {"ps"}}              -- another process in that sandbox
--   lj.call(r, function (x) ... end, x)     -- a Lua function in a sandbox
--
-- A recipe is a plain table (docs/guide.md): lj.recipe(t) checks and
-- normalises it; r:with(t) merges (lists append, maps merge, the rest is
-- replaced; lj.replace(x) and lj.none to replace or remove); r:steps()
-- compiles it into the plan core.spawn takes.

local core = require "lunajail.core"
local recipe = require "lunajail.recipe"
local compile = require "lunajail.compile"
local seccomp = require "lunajail.seccomp"
local presets = require "lunajail.presets"
local idalloc = require "lunajail.ids"
local cgroup = require "lunajail.cgroup"
local stepper = require "lunajail.stepper"
local child = require "lunajail.child"
local enter = require "lunajail.enter"
local call = require "lunajail.call"
local pasta = require "lunajail.pasta"

local M = { core = core, none = recipe.none, replace = recipe.replace,
            ids = idalloc, interact = require "lunajail.interact" }

local Recipe = {}
Recipe.__index = Recipe
Recipe.__name = "lunajail.Recipe"

local function new (t)
  return setmetatable(t, Recipe)
end

function M.recipe (t)
  if getmetatable(t) == Recipe then return t end
  return new(recipe.merge({}, recipe.check(t)))
end

function M.is_recipe (t)
  return getmetatable(t) == Recipe
end

function Recipe:with (t)
  return new(recipe.merge(self, recipe.check(t)))
end

-- r:steps() -> the plan for core.spawn, the reason of each step, and ids
-- ({uid =, gid =, auto =, lease =, slots =, fields =}: compile.lua;
-- fields[i] is the recipe field step i came from, or false).  An "auto" id
-- in the plan is a representative: lj.spawn gives each sandbox its own
-- (as root, leased: see lunajail.ids), and so does
-- lj.spawn_plan(plan, ids).  Compiling holds no lease.
function Recipe:steps ()
  return compile.compile(self)
end

-- r:check() -> r, or raises: the checks of steps() (fields that need a
-- namespace, contradictions), without spawning.  A recipe being composed
-- may pass through such states; spawn checks them in any case.
function Recipe:check ()
  compile.compile(self)
  return self
end

local function qstring (v)
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

-- a stable, diffable text of the recipe (Lua syntax, keys sorted)
local function dump (v, indent)
  if type(v) ~= "table" then return qstring(v) end
  if v == recipe.none then return "lunajail.none" end
  indent = indent or ""
  local keys, n = {}, #v
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function (a, b) return tostring(a) < tostring(b) end)
  local parts, inner = {}, indent .. "  "
  for i = 1, n do parts[#parts + 1] = dump(v[i], inner) end
  for _, k in ipairs(keys) do
    local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k
                or "[" .. qstring(k) .. "]"
    parts[#parts + 1] = key .. " = " .. dump(v[k], inner)
  end
  local flat = "{ " .. table.concat(parts, ", ") .. " }"
  if #flat + #indent <= 78 or #parts == 0 then return #parts == 0 and "{}" or flat end
  return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. ",\n" .. indent .. "}"
end

function Recipe:dump () return dump(self) end
Recipe.__tostring = Recipe.dump

-- explain()'s lines for a recipe with limits
local function explaincgroup (limits, plan, lines, line)
  lines[#lines + 1] = ("      cgroup: %s/<pid>-<n> under %s, the child in it from " ..
                       "its clone on; limits: %s"):format(cgroup.DIR,
    limits.parent or "the caller's own cgroup", cgroup.describe(limits))
  for _, ns in ipairs(plan.namespaces or {}) do
    if ns == "cgroup" then
      line(0, "unshare(cgroup)", "the cgroup namespace, made in the sandbox's cgroup: " ..
           "rooted there")
    end
  end
end

-- r:explain() -> one line per step, numbered as spawn errors number
-- them, with why it is there
function Recipe:explain ()
  local plan, why, ids = self:steps()
  local lines = {}
  local function line (n, text, reason)
    lines[#lines + 1] = ("%4s  %-56s %s"):format(n, text,
                                                  reason ~= "" and "-- " .. reason or "")
  end
  -- an auto id shows as "auto", wherever it goes
  local auto, rep = {}, ids.uid or ids.gid
  for _, s in ipairs(ids.slots) do auto[s[1] .. s[2]] = true end
  local function id (k)
    if ids.auto[k] then return "auto" end
    return ("%d"):format(ids[k] or ids.uid)
  end
  lines[1] = ("lunajail recipe: namespaces {%s}%s%s"):format(
    table.concat(plan.namespaces or {}, ", "),
    (ids.uid or ids.gid) and (", uid %s gid %s%s"):format(id("uid"), id("gid"),
      ids.lease and " (leased per spawn)" or "") or "",
    plan.pid1 ~= false and plan.namespaces and
      table.concat(plan.namespaces, ","):find("pid") and ", PID 1 init" or "")
  if plan.uidmap then
    local m = {}
    for i, r in ipairs(plan.uidmap) do
      local text = ("%d->%d x%d"):format(r[1], r[2], r[3])
      m[#m + 1] = auto["uidmap" .. i] and text:gsub(rep, "auto") or text
    end
    lines[#lines + 1] = "      uid map: " .. table.concat(m, ", ")
  end
  if self.limits then explaincgroup(self.limits, plan, lines, line) end
  if plan.new_session ~= false then line(0, "setsid()", "a new session: no terminal " ..
                                         "of the caller's to inject input into") end
  local lastfilter = 0
  for i, step in ipairs(plan.steps) do
    if step[1] == "seccomp" then lastfilter = i end
  end
  for i, step in ipairs(plan.steps) do
    local ok, text = pcall(core.describe, step)
    if not ok then text = step[1] .. "(...)" end
    local reason = why[i]
    if auto["steps" .. i] then
      text, reason = text:gsub(rep, "auto"), reason:gsub(rep, "auto")
    end
    if #text > 56 then text = text:sub(1, 53) .. "..." end
    line(i, text, reason)
    if i == lastfilter then                  -- the filters, call by call
      for _, r in ipairs(seccomp.list(self.seccomp, self)) do
        lines[#lines + 1] = ("        %-22s %-13s %s"):format(r[1], r[2], r[3])
      end
    end
  end
  local n = #plan.steps
  if plan.cwd then n = n + 1 line(n, ("chdir(%q)"):format(plan.cwd), "the working directory") end
  line(n + 1, "fds(...)", "stdio and the fds passed, nothing else")
  line(n + 2, ("exec(%q)"):format(plan.path or (plan.argv and plan.argv[1]) or "?"),
       "the payload, with exactly " .. (function ()
         local k = {}
         for name in pairs(plan.env or {}) do k[#k + 1] = name end
         table.sort(k)
         return #k > 0 and "the environment " .. table.concat(k, ", ") or "no environment"
       end)())
  return table.concat(lines, "\n")
end

-- {====== Presets ======}

local function from (base, t, extra)
  local r = new(recipe.merge({}, recipe.check(base)))
  for _, e in ipairs(extra or {}) do r = r:with(e) end
  if t then r = r:with(t) end
  return r
end

function M.empty (t) return from(presets.empty(), t) end
function M.container (t) return from(presets.container(), t) end
function M.shell (t) return from(presets.container(), t, { presets.shell() }) end
function M.untrusted (t) return from(presets.container(), t, { presets.untrusted() }) end

-- build{work = "/host/dir", ...}: the work dir read-write at /work.  As
-- root the sandbox keeps its leased uid; a dir it could not write is
-- bound idmapped (owner = true: written as the dir's owner, set-id bits
-- refused, docs/security.md)
function M.build (t)
  t = t or {}
  local work = t.work
  if type(work) ~= "string" then
    error(("lunajail: build: work: a directory path expected, got %s"):format(type(work)), 0)
  end
  local rest = {}
  for k, v in pairs(t) do if k ~= "work" then rest[k] = v end end
  return from(presets.container(), rest, { presets.build(work, rest) })
end

-- }======


-- {====== Running ======}

-- {====== Step errors in the recipe's terms ======}
-- A step error from a compiled recipe gets err.field, the recipe field
-- its step came from (ids.fields: compile.lua), and, where lunajail can
-- tell more than the errno, err.hint with the message saying it too.

-- the field of step n of plan: steps from the recipe, then the
-- spawner's own (chdir for cwd, fds, exec), and step 0's ops
local early = { clone = "namespaces", uid_map = "uidmap", gid_map = "gidmap",
                setgroups = "groups", setsid = "new_session", idlease = "uid",
                timens_offsets = "time", setresuid = "uidmap", setresgid = "gidmap",
                pasta = "net.pasta" }

local function fieldof (err, plan, ids)
  local n, steps = err.step, #plan.steps
  if n == 0 then return early[err.op] end
  if n <= steps then return ids.fields and ids.fields[n] or nil end
  if err.op == "gate" then return "net.pasta" end       -- pasta's gate (withpasta)
  if err.op == "chdir" then return "cwd" end
  if err.op == "fds" then return plan.fds and "fds" or "stdio" end
  if err.op == "exec" then return plan.path and "path" or "argv" end
end

-- a host path with its symlinks resolved, without following any out
local function hostpath (p)
  return compile.unlink(p) or p
end

-- is host path p in the sandbox?  Without a new root (no beneath step)
-- the sandbox sees the host's tree; with one, what a bind brings in
local function visible (plan, p)
  local binds, pivot = {}, false
  for _, st in ipairs(plan.steps) do
    if st[1] == "beneath" then pivot = true end
    if st[1] == "bind" and type(st[2]) == "string" then
      binds[#binds + 1] = st[2]:gsub("^" .. compile.OLDROOT, "")
    end
  end
  if not pivot then return true end
  p = hostpath(p)
  for _, b in ipairs(binds) do
    if p == b or p:sub(1, #b + 1) == b .. "/" or b == "/" then return true end
  end
  return false
end

local DEFAULTPATH = "/usr/local/bin:/usr/bin:/bin"

-- exec ENOENT: where the sandbox looked, and what the host has
local function exechint (plan)
  local prog = plan.path or plan.argv[1]
  local env = plan.env or {}
  local path = env.PATH
  for _, kv in ipairs(env) do path = path or kv:match("^PATH=(.*)$") end
  path = path or DEFAULTPATH
  local function onhost (dirs)
    for dir in (dirs .. ":"):gmatch("([^:]*):") do
      local p = (dir == "" and "." or dir) .. "/" .. prog
      local st = dir:sub(1, 1) == "/" and core.stat(p, true)
      if st and st.type == "file" then return p end
    end
  end
  local hint, host
  if prog:find("/", 1, true) then
    hint = ("%s is not in the sandbox"):format(prog)
    local st = prog:sub(1, 1) == "/" and core.stat(prog, true)
    host = st and st.type == "file" and prog
  else
    hint = ("%q is in no directory of the sandbox's PATH %s"):format(prog, path)
    host = onhost(path) or onhost(os.getenv("PATH") or "")
  end
  if host and visible(plan, host) then
    hint = hint .. ("; the host's %s is visible in the sandbox: its interpreter (#!) or " ..
                    "dynamic loader may be missing there"):format(host)
  elseif host then
    hint = hint .. ("; the host has %s, which the sandbox does not see: bind its " ..
                    "directory (fstab = {%q}) or give the path of a program the " ..
                    "sandbox has"):format(host, host:match("^(.*)/[^/]*$"))
  end
  return hint
end

local function hintof (err, plan)
  if err.op == "exec" and err.errno == 2 then return exechint(plan) end
  if err.op == "chown" and err.errname == "EINVAL" then
    return "an id the sandbox's user namespace does not map: unprivileged, only the " ..
           "sandbox's own uid and gid do (owner = true), unless a uidmap or gidmap of " ..
           "subordinate ids maps more"
  end
  if err.op == "bind" and tostring(err.call):find("idmap", 1, true)
     and (err.errname == "EINVAL" or err.errname == "ENOSYS") then
    return "an owner bind is an idmapped mount: it needs Linux 5.12 and a file system " ..
           "that allows one (ext4, xfs, btrfs, tmpfs from 6.3, ...; not NFS, 9p or " ..
           "ramfs): this one does not -- give a work dir any uid may write (0777), or " ..
           "uid = and gid = of the owner's knowing the risk (docs/security.md)"
  end
  if err.op == "bind" and tostring(err.call):find("idmap", 1, true)
     and err.errname == "EPERM" then
    return "an owner bind refuses a directory that holds a set-uid or set-gid file of " ..
           "its owner's or group's (the payload could rewrite it through a shared " ..
           "mapping, which keeps the bit): find the directory -perm /6000 and clear them"
  end
  if err.op == "setpriority" and (err.errname == "EACCES" or err.errname == "EPERM") then
    return "a nice value below the caller's raises the priority, which needs " ..
           "CAP_SYS_NICE in the host's user namespace (root) or an RLIMIT_NICE that " ..
           "allows it: give priority >= the caller's nice value"
  end
end

local function annotate (err, plan, ids)
  if type(err) ~= "table" or err.step == nil then return err end
  local field = fieldof(err, plan, ids)
  if field then
    err.field = field
    err.message = err.message .. ", at recipe." .. field
  end
  local hint = not err.hint and hintof(err, plan)
  if hint then
    err.hint = hint
    err.message = err.message .. " (" .. hint .. ")"
  end
  for _, rep in ipairs(err.reports or {}) do annotate(rep, plan, ids) end
  return err
end

-- }======

-- A sandbox with net = {pasta = cfg}: its setup waits at a gate step,
-- the last before the spawner's own (chdir, fds, exec), while pasta is
-- started for its namespaces (lunajail.pasta.start: ready once it has
-- configured the namespace and bound the forwards); then the gate
-- opens.  The payload never runs on a half-made network, and pasta's
-- failure is the spawn's error.  -> child, pasta's companion | nil, nil,
-- err.  An asynchronous plan returns while the rest of the setup runs.
local function withpasta (plan, cfg)
  local rfd, wfd = core.socketpair()
  if not rfd then return nil, nil, wfd end
  local p = {}
  for k, v in pairs(plan) do p[k] = v end
  p.steps = table.move(plan.steps, 1, #plan.steps, 1, {})
  p.steps[#p.steps + 1] = { "gate", rfd }
  p.async = true
  local c, err = core.spawn(p)
  core.close(rfd)
  if not c then
    core.close(wfd)
    return nil, nil, err
  end
  local userns = false
  for _, n in ipairs(plan.namespaces or {}) do userns = userns or n == "user" end
  -- the gate's byte: the sandbox's namespaces are made (its first step
  -- makes some), every step before the gate done; or its setup failed
  local timeout, pst = plan.setup_timeout or 5, nil
  local t0 = core.monotonic()
  local items = { { fd = wfd, events = "r" }, { fd = c:pollfd(), events = "r" } }
  repeat
    core.poll(items, math.max(0, timeout - (core.monotonic() - t0)))
    c:step()
    local there = (items[1].revents or ""):find("r", 1, true)
  until there or c:started() ~= false or core.monotonic() - t0 >= timeout
  if c:started() == false and (items[1].revents or ""):find("r", 1, true) then
    pst, err = pasta.start(c, cfg, timeout, userns)
  else
    err = pasta.failure("the sandbox's setup did not come to its gate in time", "")
  end
  if not pst then                       -- the setup never goes past the gate
    core.close(wfd)
    c:step()
    local started, serr = c:started()
    if started == nil then err = serr end   -- it failed first: that is the error
    c:kill("KILL")
    c:wait(5)
    c:close()
    return nil, nil, err
  end
  core.close(wfd)
  local companion = pasta.companion(pst)
  if not plan.async then                -- a blocking spawn: to the payload's start
    local ok, serr = c:wait_started()      -- the setup deadline bounds it
    if not ok then
      companion:close()
      c:wait(5)
      c:close()
      return nil, nil, serr
    end
  end
  return c, companion
end

-- a failed setup's error in the recipe's terms: its field (annotate) and,
-- for a sandbox with limits (sb) the OOM killer ended, that
local function failed (err, plan, ids, sb)
  if sb and type(err) == "table" then
    local f = sb.figs or (not sb.closed and sb:figures()) or {}
    if (f.oom_kills or 0) > 0 and not err.oom_killed then
      err.oom_killed = true
      err.message = err.message .. " (the OOM killer: limits.memory)"
    end
  end
  return ids and annotate(err, plan, ids) or err
end

-- spawn_plan's opts, checked -> async, net
local function spawnopts (plan, opts)
  if opts == nil then return plan.async, nil end
  if type(opts) ~= "table" then
    error(("lunajail: spawn_plan: opts: table expected, got %s"):format(type(opts)), 0)
  end
  for k in pairs(opts) do
    if k ~= "async" and k ~= "net" then
      error(("lunajail: spawn: unknown option '%s' (valid: async, net)"):format(tostring(k)), 0)
    end
  end
  if opts.async ~= nil and type(opts.async) ~= "boolean" then
    error(("lunajail: spawn: async: true or false expected, got %s"):format(
          type(opts.async)), 0)
  end
  local async = plan.async
  if opts.async ~= nil then async = opts.async end
  return async, type(opts.net) == "table" and opts.net or nil
end

-- spawn_plan(plan [, ids [, limits [, opts]]]) -> child | nil, err: the
-- per-spawn part of spawn, for a plan compiled once (plan, _, ids =
-- r:steps()): as root, a fresh leased id in the plan's auto slots
-- (compile.bind), released when the child is gone; unprivileged, the
-- plan as it is; with limits, a cgroup of its own, made before it
-- (plan.cgroup, on a copy: the compiled plan is never changed).  A step
-- error names the recipe field of its step (err.field).  The child
-- remembers the plan it was started from: child:enter reproduces its
-- restrictions, and joins its cgroup (lunajail.enter).
-- opts.async = true (or plan.async): the child at once, in setup; its
-- step error comes later, from child:started(), step() (setup_error) or
-- status(), in the same recipe terms (child.onsetup).  opts.net: the
-- recipe's net, whose pasta (net = {pasta = cfg}) is started beside it
-- (withpasta)
function M.spawn_plan (plan, ids, limits, opts)
  local lease, sb, err
  local compiled = plan
  local async, net = spawnopts(plan, opts)
  if ids and ids.lease then
    lease, err = idalloc.lease()
    if not lease then return nil, err end
    plan = compile.bind(plan, ids, lease:id(), lease)
  end
  if limits then
    sb, err = cgroup.sandbox(limits)   -- its cgroup, before the child
    if not sb then
      if lease then lease:close() end
      return nil, err
    end
  end
  if sb or (async and not plan.async) or (plan.async and not async) then
    local p = plan == compiled and {} or plan     -- bind's copy is ours
    if p ~= plan then for k, v in pairs(plan) do p[k] = v end end
    if sb then p.cgroup = sb.plan end
    p.async = async or nil
    plan = p
  end
  local c, companion
  if net and net.pasta then
    c, companion, err = withpasta(plan, net.pasta)
  else
    c, err = core.spawn(plan)
  end
  if not c then
    if lease then lease:close() end     -- else the child holds it
    if sb then sb:figures() end
    err = failed(err, compiled, ids, sb)
    if sb then sb:close() end
    return nil, err
  end
  if sb then child.attach(c, sb) end
  if companion then child.attach(c, companion) end
  if async then
    child.onsetup(c, function (e) failed(e, compiled, ids, sb) end)
  end
  return enter.remember(c, plan)
end

-- A recipe compiles once: spawn keeps the plans of the last 64 recipes
-- it compiled, by value -- every field, deeply, with the caller's ids and
-- the terminals it hands over (compile.key) -- so a recipe built again
-- the same way (lj.run(lj.container{...}) in a loop) is compiled once
-- too.  A plan is reused while the host answers what its compile asked
-- of it the same way (compile.current: a stat or a readlink per path),
-- so a bind source that appeared or became a symlink is seen.  A value
-- that is not data (a seccomp filter) counts by identity and is held
-- while its plan is kept.  The kept plan is a copy: a recipe's table
-- changed in place after a spawn changes neither it nor its key.  Not a
-- recipe that joins a running sandbox (net = {share = child}: its
-- pidfd).  A recipe whose key is longer than 64 KiB (a large file's
-- content in files, as a server may put a request's there) is compiled
-- each time, never kept: the cache holds at most 64 small recipes, and
-- no request's payload outlives its spawn in it.  Each spawn still gets
-- its own auto id (spawn_plan).
local MAXPLANS, MAXKEY = 64, 64 * 1024
local plans, order = {}, {}            -- key -> {plan, ids, answers, refs}; keys, oldest first

local function copy (v, seen)
  if type(v) ~= "table" then return v end
  if seen[v] then return seen[v] end
  local t = {}
  seen[v] = t
  for k, x in next, v do t[copy(k, seen)] = copy(x, seen) end
  return setmetatable(t, getmetatable(v))
end

local function planof (r)
  if type(r.net) == "table" and r.net.share then   -- a live child's pidfd
    local plan, _, ids = r:steps()
    return plan, ids
  end
  local key, refs = compile.key(r)
  if key and #key > MAXKEY then key = nil end
  local e = key and plans[key]
  if e and compile.current(e.answers) then return e.plan, e.ids end
  local plan, _, ids, answers = r:steps()
  if key then
    if not e then
      order[#order + 1] = key
      if #order > MAXPLANS then plans[table.remove(order, 1)] = nil end
    end
    local seen = {}
    plans[key] = { plan = copy(plan, seen), ids = copy(ids, seen), answers = answers,
                   refs = refs }
    return plans[key].plan, plans[key].ids
  end
  return plan, ids
end

-- spawn(recipe [, overrides]) -> child | nil, err (the step error).
-- overrides: recipe fields (r:with), and async = true: the child at once,
-- in setup (spawn_plan), for an event loop: nothing waits on its setup
function M.spawn (r, t)
  r = M.recipe(r)
  local opts
  if type(t) == "table" and t.async ~= nil then
    local rest = {}
    for k, v in pairs(t) do if k ~= "async" then rest[k] = v end end
    opts, t = { async = t.async }, next(rest) ~= nil and rest or nil
  end
  if t then r = r:with(t) end
  if not r.argv then error("lunajail: spawn: the recipe has no argv", 0) end
  local plan, ids = planof(r)
  if type(r.net) == "table" and r.net.pasta then
    opts = opts or {}
    opts.net = r.net
  end
  return M.spawn_plan(plan, ids, r.limits, opts)
end
Recipe.spawn = M.spawn

-- run(recipe, {stdin =, timeout =, grace =, max_output =, notify =}) ->
-- {exited=, code=, signaled=, signal=, signame=, stdout=, stderr=,
-- timeout=, output_limit=, rusage=, status=} | nil, err
-- max_output (default 64 MiB) bounds what is kept of each stream: a
-- sandbox that prints more is killed (output_limit = true), and the host
-- never holds more than that.  notify: the handler of the calls the
-- recipe's seccomp.notify names (child:on_notify), served while run
-- waits.  Options are checked like recipe fields.
local T, B = recipe.MAXTIME, recipe.MAXBYTES
local runopts = {            -- name -> check, and the default
  stdin = { function (v) return v end },
  timeout = { function (v, w) return recipe.number(v, w, 0, T) end },
  grace = { function (v, w) return recipe.number(v, w, 0, T) end, 1 },
  max_output = { function (v, w) return recipe.number(v, w, 0, B, true) end,
                 64 * 1024 * 1024 },
  notify = { function (v, w)
    if type(v) ~= "function" then
      error(("lunajail: %s: a function expected, got %s"):format(w, type(v)), 0)
    end
    return v
  end },
}

local function checkopts (opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(("lunajail: run: options table expected, got %s"):format(type(opts)), 0)
  end
  for k in pairs(opts) do
    if not runopts[k] then
      error(("lunajail: run: unknown option '%s'%s (valid: grace, max_output, " ..
             "notify, stdin, timeout)"):format(tostring(k), recipe.suggest(k, runopts)), 0)
    end
  end
  if opts.stdin ~= nil and type(opts.stdin) ~= "string" then
    error(("lunajail: run: opts.stdin: string expected, got %s"):format(type(opts.stdin)), 0)
  end
  local out = {}
  for k, o in pairs(runopts) do
    if opts[k] == nil then out[k] = o[2] else out[k] = o[1](opts[k], "run: opts." .. k) end
  end
  return out
end

function M.run (r, opts)
  opts = checkopts(opts)
  local c, err = M.spawn(r)
  if not c then return nil, err end
  if opts.notify then c:on_notify(opts.notify) end
  local out, e, st = c:communicate(opts.stdin, opts.timeout, opts.max_output)
  local res = { timeout = false, output_limit = false }
  if not out then                       -- the timeout: stop it, keep what came
    res.timeout = true
    res.stdout, res.stderr = st.stdout, st.stderr
    st = c:terminate(opts.grace)
  else
    res.stdout, res.stderr = out, e
  end
  c:close()
  res.status = st
  for k, v in pairs(st) do res[k] = v end
  return res
end
Recipe.run = M.run

-- stepper(recipe_or_plan) -> a paused sandbox, driven one step at a time
-- (lua/lunajail/stepper.lua, docs/guide.md "Experimenting step by step")
M.stepper = stepper.new
Recipe.stepper = stepper.new

-- }======


-- {====== Into a sandbox: enter and call ======}

-- child:enter{argv = ...} -> a child in that sandbox (lunajail.enter);
-- child:enter(fn, ...) -> fn's values, fn run in that sandbox
function core.Child.enter (c, what, ...)
  if type(what) == "function" then return call.call(c, what, ...) end
  return enter.enter(c, what)
end

-- call(recipe | child, fn, ...) -> fn's values; spawn_call: the child
-- object, for an event loop (child:result(), lj.call_decode) -- see
-- lunajail.call
local function target (t)
  if type(t) == "userdata" then return t end
  return M.recipe(t)
end

function M.call (t, fn, ...) return call.call(target(t), fn, ...) end
function M.spawn_call (t, fn, ...) return call.spawn_call(target(t), fn, ...) end
M.call_decode = call.decode

-- }======

return M
