-- lunajail.cgroup: a cgroup for every sandbox with limits.
--
--   local sb, err = cgroup.sandbox(limits)  -- raises on misuse, nil, err
--   plan.cgroup = sb.plan                    -- for core.spawn
--   sb:kill([wait]), sb:finish(status), sb:close(), sb:setkill(on)
--   cgroup.describe(limits), cgroup.available()
--
-- Where the cgroups live: under the caller's own cgroup (as
-- /proc/self/cgroup names it), or under limits.parent (a cgroup path),
-- in a sub-tree lunajail/<pid>-<n>.
--   cgroup v2 (one hierarchy, /sys/fs/cgroup): the child is cloned
--     straight into it (plan.cgroup = {fd = }).  Controllers must be
--     enabled in the parent's cgroup.subtree_control, which the kernel
--     refuses while that cgroup holds processes ("no internal
--     processes", the root excepted): the processes of the caller's
--     cgroup then move into a leaf of it, lunajail-caller, first.
--     Unprivileged, the caller's cgroup must be delegated to it
--     (systemd's user@UID.service, or systemd-run --user --scope
--     -p Delegate=yes); else a clear error says what to run.
--   cgroup v1 (a hierarchy per controller, this machine's layout): the
--     same path in each hierarchy the limits need, and in memory, pids,
--     cpu, cpuacct and freezer for the figures and the kill; the parent
--     writes the child's pid into each before the child's first step
--     (plan.cgroup = {procs = {fd, ...}}).
-- A sandbox's cgroup is locked (flock) by the Lua state that made it; one
-- nobody holds and nothing runs in is stale: the next sandbox made under
-- the same parent removes it.
-- The C primitives (core.cgroup_open and the Cgroup object) are
-- csrc/cgroup.c.

local core = require "lunajail.core"

local M = {}

M.DIR = "lunajail"             -- the sub-tree of the parent
M.LEAF = "lunajail-caller"     -- v2: where the caller's processes move
M.PERIOD = 100000              -- cpu.max's period, microseconds
M.SWEEP = 5                    -- seconds between two sweeps of a parent
M.WAIT = 1                     -- seconds the last processes may take

local EBUSY, ENOENT, ENODEV, EEXIST = core.errno.EBUSY, core.errno.ENOENT,
  core.errno.ENODEV, core.errno.EEXIST

local function fail (path, fmt, ...)
  error("lunajail: recipe." .. path .. ": " .. fmt:format(...), 0)
end

local function set (list)
  local s = {}
  for _, x in ipairs(list) do s[x] = true end
  return s
end

local function euid () return select(2, core.getresuid()) end

local function readfile (path)
  local f = io.open(path)
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end


-- {====== The host's layout ======}

local v1names = set { "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer",
                      "net_cls", "blkio", "perf_event", "net_prio", "hugetlb",
                      "pids", "rdma", "misc" }

local function unescape (s)
  return (s:gsub("\\(%d%d%d)", function (o) return string.char(tonumber(o, 8)) end))
end

-- the cgroup file systems mounted: v1 hierarchies by controller, the v2 one
local function mounts ()
  local v1, v2 = {}, nil
  for line in (readfile("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local root, point, fstype, super =
      line:match("^%S+ %S+ %S+ (%S+) (%S+) .- %- (%S+) %S+ (%S+)$")
    if fstype == "cgroup2" and not v2 then
      v2 = { root = unescape(root), mount = unescape(point) }
    elseif fstype == "cgroup" then
      local h = { root = unescape(root), mount = unescape(point), controllers = {} }
      for opt in super:gmatch("[^,]+") do
        if v1names[opt] and not v1[opt] then
          v1[opt] = h
          h.controllers[#h.controllers + 1] = opt
        end
      end
    end
  end
  return v1, v2
end

-- /proc/self/cgroup: controller (or "" for v2) -> our path
local function owncgroups ()
  local own = {}
  for line in (readfile("/proc/self/cgroup") or ""):gmatch("[^\n]+") do
    local ctrls, path = line:match("^%d+:([^:]*):(.*)$")
    if ctrls == "" then own[""] = path end
    for c in (ctrls or ""):gmatch("[^,]+") do own[c] = path end
  end
  return own
end

-- a cgroup path's directory in a mount of the hierarchy, or nil
local function dirof (h, path)
  if h.root == "/" then return path == "/" and h.mount or h.mount .. path end
  if path == h.root then return h.mount end
  if path:sub(1, #h.root + 1) == h.root .. "/" then return h.mount .. path:sub(#h.root + 1) end
  return nil
end

-- which layout: v1 when a controller lunajail uses is on a v1 hierarchy
-- (hybrid systems keep v2 for systemd's tracking only), else v2
function M.layout ()
  local v1, v2 = mounts()
  local own = owncgroups()
  if v1.memory or v1.pids or v1.cpu then return { version = 1, hier = v1, own = own } end
  if v2 then
    local path = own[""] or "/"
    if path:sub(-#M.LEAF - 1) == "/" .. M.LEAF then   -- moved there by us: its parent
      path = path:sub(1, -#M.LEAF - 2)
      if path == "" then path = "/" end
    end
    return { version = 2, h = v2, own = path }
  end
  return nil
end

-- }======


-- {====== Limits -> control files ======}
-- {controller, file, text, field}: in order (v1's memsw after memory)

local function v2writes (l)
  local w = {}
  local function add (c, f, t, field)
    w[#w + 1] = { c, f, tostring(t), field }
    return w[#w]
  end
  if l.memory then add("memory", "memory.max", l.memory, "memory") end
  if l.swap then add("memory", "memory.swap.max", l.swap, "swap").zero = l.swap == 0 end
  if l.pids then add("pids", "pids.max", l.pids, "pids") end
  if l.cpu then
    add("cpu", "cpu.max", ("%d %d"):format(math.ceil(l.cpu * M.PERIOD), M.PERIOD), "cpu")
  end
  if l.cpuset then add("cpuset", "cpuset.cpus", l.cpuset, "cpuset") end
  if l.io_weight then add("io", "io.weight", "default " .. l.io_weight, "io_weight") end
  return w
end

local function v1writes (l)
  local w = {}
  local function add (c, f, t, field)
    w[#w + 1] = { c, f, tostring(t), field }
    return w[#w]
  end
  if l.memory then add("memory", "memory.limit_in_bytes", l.memory, "memory") end
  if l.swap then
    add("memory", "memory.memsw.limit_in_bytes", l.memory + l.swap, "swap").zero = l.swap == 0
  end
  if l.pids then add("pids", "pids.max", l.pids, "pids") end
  if l.cpu then
    add("cpu", "cpu.cfs_period_us", M.PERIOD, "cpu")
    add("cpu", "cpu.cfs_quota_us", math.ceil(l.cpu * M.PERIOD), "cpu")
  end
  if l.cpuset then add("cpuset", "cpuset.cpus", l.cpuset, "cpuset") end
  if l.io_weight then
    add("blkio", "blkio.weight", math.max(10, math.min(1000, l.io_weight)), "io_weight")
  end
  return w
end

-- the controllers a limit needs, by field
local needs2 = { memory = "memory", swap = "memory", pids = "pids", cpu = "cpu",
                 cpuset = "cpuset", io_weight = "io" }
local needs1 = { memory = "memory", swap = "memory", pids = "pids", cpu = "cpu",
                 cpuset = "cpuset", io_weight = "blkio" }

-- a control file that may be missing: the kernel does not have it
local alternatives = { ["io.weight"] = "io.bfq.weight", ["blkio.weight"] = "blkio.bfq.weight" }
local missing = {
  ["memory.swap.max"] = "no swap accounting in this kernel (CONFIG_MEMCG_SWAP, swapaccount=1)",
  ["memory.memsw.limit_in_bytes"] = "no swap accounting in this kernel (boot with " ..
                                    "swapaccount=1)",
  ["io.weight"] = "no io weight in this kernel (neither the io.cost controller " ..
                  "nor BFQ)",
  ["blkio.weight"] = "no blkio weight in this kernel (neither CFQ nor BFQ)",
}

-- lines for explain()
function M.describe (l)
  local out, names = {}, {}
  for k in pairs(l) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do out[#out + 1] = k .. " = " .. tostring(l[k]) end
  return table.concat(out, ", ")
end

-- }======


-- {====== Errors ======}

-- a failed call after creation began: the step error spawn returns
local function cgerror (msg, errno)
  return core.cgroup_error(msg or "cgroup", errno or core.errno.EIO)
end

local function delegation (base, dir)
  local uid = euid()
  fail("limits", "cgroup v2 needs a cgroup delegated to uid %d, and %s (%s) is not: " ..
       "run the script in one, e.g. `systemd-run --user --scope -p Delegate=yes " ..
       "lua5.4 script.lua` (systemd's user@%d.service delegates its sub-tree), run " ..
       "as root, name a delegated cgroup in limits.parent, or set limits = " ..
       "lunajail.none for no cgroup", uid, base, dir, uid)
end

-- can we make cgroups under dir (its owner; root always)
local function writable (dir)
  if euid() == 0 then return true end
  local st, procs = core.stat(dir), core.stat(dir .. "/cgroup.procs")
  return st and procs and st.uid == euid() and procs.uid == euid()
end

-- a parent the recipe named must be there, and ours to write
local function checkparent (l, path, dir)
  if not l.parent then return end
  if not core.stat(dir) then
    fail("limits.parent", "%q: no such cgroup (%s does not exist)", path, dir)
  end
  if not writable(dir) then
    fail("limits.parent", "%q (%s) is not delegated to uid %d (not its owner)", path, dir,
         euid())
  end
end

-- no swap on this host: a swap limit of 0 holds without the file
local function noswap ()
  local text = readfile("/proc/swaps") or ""
  return not text:find("\n%S")
end

-- opens a parent: raises when the recipe named it, else nil, err
local function openbase (l, dir, path)
  local cg, msg, e = core.cgroup_open(dir)
  if cg then return cg end
  if l.parent then
    fail("limits.parent", "%q: %s", path, e == ENOENT and "no such cgroup (" .. dir ..
         " does not exist)" or msg)
  end
  return nil, cgerror(msg, e)
end

-- }======


-- {====== Sweeping stale cgroups, and removals that must wait ======}

local swept = {}               -- parent path -> when last swept
local pending = setmetatable({}, { __mode = "k" })   -- sandbox -> true

-- every lunajail/<id> nobody holds and nothing runs in
local function sweep (lj)
  local t = core.monotonic()
  if swept[lj.path] and t - swept[lj.path] < M.SWEEP then return end
  swept[lj.path] = t
  for _, name in ipairs(lj:children() or {}) do
    local sub = lj:open(name)
    if sub then
      if sub:lock() then sub:remove() end   -- the kernel refuses a busy one
      sub:close()
    end
  end
end

local function retry ()
  for sb in pairs(pending) do
    if sb:remove() then pending[sb] = nil end
  end
end
M.retry = retry

-- }======


-- {====== The sandbox's cgroup ======}

local Sandbox = { kind = "cgroup" }           -- a child's companion (lunajail.child)
Sandbox.__index = Sandbox

local seq = 0
local function nextid ()
  seq = seq + 1
  return ("%d-%d"):format(core.getpid(), seq)
end

-- lj:mkdir(id), locked; nil, msg, errno (EEXIST: another id)
local function make (lj, id)
  local cg, msg, e = lj:mkdir(id)
  if not cg then return nil, msg, e end
  local ok, lmsg, le = cg:lock()
  if not ok then
    cg:close()
    return nil, lmsg or "cgroup lock: held by another", le or EEXIST
  end
  cg:setkill(true)
  return cg
end

-- writes each limit; a missing file is the limit the kernel lacks
local function apply (writes, cgs)
  for _, w in ipairs(writes) do
    local cg = cgs[w[1]]
    local ok, msg, e = cg:write(w[2], w[3])
    if not ok and e == ENOENT and alternatives[w[2]] then
      ok, msg, e = cg:write(alternatives[w[2]], w[3])
    end
    if not ok and e == ENOENT and w[4] == "swap" and w.zero and noswap() then
      ok = true                          -- nothing to swap to
    end
    if not ok then
      if e == ENOENT and missing[w[2]] then
        return nil, cgerror(("%s (limits.%s): %s"):format(msg, w[4], missing[w[2]]), e), e
      end
      return nil, cgerror(msg .. (" (limits.%s)"):format(w[4]), e), e
    end
  end
  return true
end

-- the controllers to enable below base, from those it has
local function wanted (l, avail)
  local need, want = {}, {}
  for k, c in pairs(needs2) do if l[k] ~= nil then need[c] = k end end
  for _, c in ipairs { "memory", "pids", "cpu", "cpuset", "io" } do
    if need[c] or (avail[c] and (c == "memory" or c == "pids" or c == "cpu")) then
      want[#want + 1] = c
    end
  end
  return need, want
end

-- the words of a control file (cgroup.controllers, subtree_control)
local function words (cg, file)
  local t = {}
  for w in (cg:read(file) or ""):gmatch("%S+") do t[#t + 1] = w end
  return set(t)
end

-- "+memory +pids" of want that subtree_control of cg lacks, or nil
local function toenable (cg, want)
  local on, add = words(cg, "cgroup.subtree_control"), {}
  for _, c in ipairs(want) do if not on[c] then add[#add + 1] = "+" .. c end end
  return #add > 0 and table.concat(add, " ") or nil
end

-- v2: the processes of base into base/LEAF, so that it may have children
-- with controllers (the no-internal-processes rule)
local function leave (base)
  local leaf, msg, e = base:mkdir(M.LEAF, true)
  if not leaf then return nil, msg, e end
  for _ = 1, 8 do
    local pids = base:pids() or {}
    if #pids == 0 then break end
    for _, pid in ipairs(pids) do leaf:write("cgroup.procs", tostring(pid)) end
  end
  leaf:close()
  return true
end

local function enable (base, want, movable)
  local add = toenable(base, want)
  if not add then return true end
  local ok, msg, e = base:write("cgroup.subtree_control", add)
  if not ok and e == EBUSY and movable then
    local moved, mmsg, me = leave(base)
    if not moved then return nil, mmsg, me end
    ok, msg, e = base:write("cgroup.subtree_control", add)
  end
  return ok, msg, e
end

local function create2 (l, lay)
  local path = l.parent or lay.own
  local dir = dirof(lay.h, path)
  if not dir then fail("limits.parent", "%q is outside the cgroup2 mount %s", path, lay.h.mount) end
  checkparent(l, path, dir)
  if not writable(dir) then delegation(path, dir) end
  local base, err = openbase(l, dir, path)
  if not base then return nil, err end
  local avail = words(base, "cgroup.controllers")
  local need, want = wanted(l, avail)
  for c, field in pairs(need) do
    if not avail[c] then
      base:close()
      fail("limits." .. field, "the %s controller is not available in %s (its parent's " ..
           "cgroup.subtree_control lacks +%s)", c, dir, c)
    end
  end
  local ok, msg, e = enable(base, want, not l.parent or path == lay.own)
  if not ok then base:close() return nil, cgerror(msg, e) end
  local lj
  lj, msg, e = base:mkdir(M.DIR, true)
  base:close()
  if not lj then return nil, cgerror(msg, e) end
  ok, msg, e = enable(lj, want, false)
  if not ok then lj:close() return nil, cgerror(msg, e) end
  sweep(lj)
  local cg, id
  repeat
    id = nextid()
    cg, msg, e = make(lj, id)
  until cg or e ~= EEXIST
  lj:close()
  if not cg then return nil, cgerror(msg, e) end
  local sb = setmetatable({ version = 2, cgs = { cg }, by = {}, id = id,
                            path = (path == "/" and "" or path) .. "/" .. M.DIR .. "/" .. id },
                          Sandbox)
  for _, c in ipairs { "memory", "pids", "cpu", "cpuset", "io" } do sb.by[c] = cg end
  ok, err, e = apply(v2writes(l), sb.by)
  if not ok then sb:close() return nil, err, e end
  sb.plan = { fd = cg:fd() }
  return sb
end

-- v1: the hierarchies to join, deduplicated (cpu,cpuacct mounted as one)
local function hierarchies (l, lay)
  local list, seen = {}, {}
  local function want (c, field)
    local h = lay.hier[c]
    if not h then
      if field then
        fail("limits." .. field, "no %s controller: no cgroup v1 hierarchy of it is " ..
             "mounted (see /proc/self/mountinfo)", c)
      end
      return
    end
    if not seen[h] then seen[h] = true list[#list + 1] = h end
  end
  for _, k in ipairs { "memory", "swap", "pids", "cpu", "cpuset", "io_weight" } do
    if l[k] ~= nil then want(needs1[k], k) end
  end
  for _, c in ipairs { "memory", "pids", "cpu", "cpuacct", "freezer" } do want(c) end
  return list
end

local function cpusetparent (lj, base)
  for _, f in ipairs { "cpuset.cpus", "cpuset.mems" } do
    if (lj:read(f) or ""):match("^%s*$") then
      local ok, msg, e = lj:write(f, ((base:read(f) or ""):gsub("%s+$", "")))
      if not ok then return nil, msg, e end
    end
  end
  return true
end

-- v1: the parent's directory in each hierarchy, checked (raises)
local function v1dirs (l, lay, hs)
  local dirs = {}
  for i, h in ipairs(hs) do
    local c = h.controllers[1]
    local path = l.parent or lay.own[c] or "/"
    local dir = dirof(h, path)
    if not dir then
      fail(l.parent and "limits.parent" or "limits", "cgroup %q is outside the %s " ..
           "hierarchy mounted at %s", path, c, h.mount)
    end
    checkparent(l, path, dir)
    if not writable(dir) then
      fail("limits", "the cgroup v1 hierarchies belong to root (%s is uid %d's, " ..
           "not yours): run as root, name in limits.parent a cgroup made and chowned to " ..
           "uid %d in every hierarchy, or set limits = lunajail.none for no cgroup",
           dir, (core.stat(dir) or {}).uid or 0, euid())
    end
    dirs[i] = { path = path, dir = dir }
  end
  return dirs
end

-- v1: lunajail/ in each hierarchy (with the parent's CPUs and memory
-- nodes in cpuset's), swept
local function v1parents (l, lay, hs, dirs)
  local ljs = {}
  for i, h in ipairs(hs) do
    local base, err = openbase(l, dirs[i].dir, dirs[i].path)
    if not base then return nil, err, ljs end
    local lj, msg, e = base:mkdir(M.DIR, true)
    if lj and h == lay.hier.cpuset then
      local ok
      ok, msg, e = cpusetparent(lj, base)
      if not ok then lj:close() lj = nil end
    end
    base:close()
    if not lj then return nil, cgerror(msg, e), ljs end
    ljs[i] = lj
    sweep(lj)
  end
  return ljs
end

-- v1: one id, free in every hierarchy, made in each
local function v1make (sb, hs, ljs)
  local id, msg, e
  repeat
    id = nextid()
    for _, cg in ipairs(sb.cgs) do cg:close() end
    sb.cgs, e = {}, nil
    for i, lj in ipairs(ljs) do
      local cg
      cg, msg, e = make(lj, id)
      if not cg then break end
      sb.cgs[i] = cg
      for _, c in ipairs(hs[i].controllers) do sb.by[c] = cg end
    end
  until e ~= EEXIST
  if e then return nil, cgerror(msg, e) end
  return id
end

local function create1 (l, lay)
  if l.swap and not l.memory then
    fail("limits.swap", "cgroup v1 limits memory and swap together: give limits.memory too")
  end
  local hs = hierarchies(l, lay)
  local dirs = v1dirs(l, lay, hs)           -- nothing made before this
  local sb = setmetatable({ version = 1, cgs = {}, by = {} }, Sandbox)
  local ljs, err, partial = v1parents(l, lay, hs, dirs)
  local e, id, ok
  if ljs then
    id, err = v1make(sb, hs, ljs)
    local cs = lay.hier.cpuset
    for i, h in ipairs(hs) do                -- the parent's memory nodes
      if id and h == cs then
        ok, err, e = sb.by.cpuset:write("cpuset.mems",
                                        ((ljs[i]:read("cpuset.mems") or ""):gsub("%s+$", "")))
        if not ok then id, err = nil, cgerror(err, e) end
      end
    end
  end
  for _, lj in ipairs(ljs or partial) do lj:close() end
  if id then ok, err, e = apply(v1writes(l), sb.by) end
  if not id or not ok then
    sb:close()
    return nil, err, e
  end
  sb.id = id
  sb.path = (dirs[1].path == "/" and "" or dirs[1].path) .. "/" .. M.DIR .. "/" .. id
  local procs = {}
  for i, cg in ipairs(sb.cgs) do procs[i] = cg:procsfd() end
  sb.plan = { procs = procs }
  return sb
end

-- sandbox(limits) -> a new cgroup (v2) or set of them (v1) for one
-- sandbox, limits written | nil, err; raises on what the recipe can fix
function M.sandbox (l)
  retry()
  local lay = M.layout()
  if not lay then
    fail("limits", "no cgroup file system is mounted (none in /proc/self/mountinfo)")
  end
  local create = lay.version == 2 and create2 or create1
  local sb, err, e
  for _ = 1, 3 do                       -- a sweep elsewhere raced us: again
    sb, err, e = create(l, lay)
    if sb or (e ~= ENOENT and e ~= ENODEV) then break end
  end
  return sb, err
end

-- can this process have limits (presets ask): root on any layout with
-- the controllers; else a delegated v2 cgroup of its own that has them
function M.available ()
  local lay = M.layout()
  if not lay then return false end
  if lay.version == 1 then return euid() == 0 and lay.hier.memory ~= nil and
                                  lay.hier.pids ~= nil end
  local dir = dirof(lay.h, lay.own)
  if not dir or not writable(dir) then return false end
  local avail = readfile(dir .. "/cgroup.controllers") or ""
  return avail:find("memory", 1, true) ~= nil and avail:find("pids", 1, true) ~= nil
end

-- every process in it, and in the cgroups under it; true once none is
-- left (after up to wait seconds)
function Sandbox:kill (wait)
  local cg = self.by.freezer
  for _, x in ipairs(self.cgs) do cg = cg or x or nil end
  if not cg then return true end
  local ok, empty = cg:kill(wait or 0)
  return ok and empty
end

local function num (cg, file)
  local text = cg and cg:read(file)
  return text and math.tointeger(tonumber(text:match("^%s*(%d+)")))
end

-- the figures: what the sandbox used and hit
function Sandbox:figures ()
  local f, by = { path = self.path, version = self.version }, self.by
  if self.version == 2 then
    local cg = self.cgs[1]
    local ev = cg:keyed("memory.events") or {}
    f.memory_peak, f.memory_current = num(cg, "memory.peak"), num(cg, "memory.current")
    f.pids_current = num(cg, "pids.current")
    f.oom_kills, f.memory_limit_hits = ev.oom_kill, ev.max
    f.pids_limit_hits = (cg:keyed("pids.events") or {}).max
    f.pids_peak = num(cg, "pids.peak")
    local st = cg:keyed("cpu.stat") or {}
    f.cpu_usage = st.usage_usec and st.usage_usec / 1e6
    f.cpu_user = st.user_usec and st.user_usec / 1e6
    f.cpu_system = st.system_usec and st.system_usec / 1e6
    f.cpu_periods, f.cpu_throttled_periods = st.nr_periods, st.nr_throttled
    f.cpu_throttled = st.throttled_usec and st.throttled_usec / 1e6
  else
    f.memory_peak = num(by.memory, "memory.max_usage_in_bytes")
    f.memory_current = num(by.memory, "memory.usage_in_bytes")
    f.pids_current = num(by.pids, "pids.current")
    f.memory_limit_hits = num(by.memory, "memory.failcnt")
    f.oom_kills = by.memory and (by.memory:keyed("memory.oom_control") or {}).oom_kill
    f.pids_limit_hits = by.pids and (by.pids:keyed("pids.events") or {}).max
    f.pids_peak = num(by.pids, "pids.peak")
    local u, s, t = num(by.cpuacct, "cpuacct.usage_user"), num(by.cpuacct, "cpuacct.usage_sys"),
                    num(by.cpuacct, "cpuacct.usage")
    f.cpu_user, f.cpu_system, f.cpu_usage = u and u / 1e9, s and s / 1e9, t and t / 1e9
    local st = by.cpu and by.cpu:keyed("cpu.stat") or {}
    f.cpu_periods, f.cpu_throttled_periods = st.nr_periods, st.nr_throttled
    f.cpu_throttled = st.throttled_time and st.throttled_time / 1e9
  end
  return f
end

-- the sandbox ended (status st, not running): what is left of it killed,
-- its figures into st (the same ones every time), the cgroup removed
function Sandbox:finish (st)
  if not self.figs and not self.closed then
    if self.kills ~= false then self:kill(M.WAIT) end
    self.figs = self:figures()
    self:close()
  end
  if self.figs then
    local f = {}
    for k, v in pairs(self.figs) do f[k] = v end
    st.cgroup = f
    if (f.oom_kills or 0) > 0 and st.signaled and st.signal == 9 then st.oom_killed = true end
  end
  return st
end

-- rmdir of every cgroup of it; true when all are gone
function Sandbox:remove ()
  local all = true
  for i, cg in ipairs(self.cgs) do
    if cg then
      if cg:remove() then
        for c, x in pairs(self.by) do if x == cg then self.by[c] = nil end end
        cg:close()
        self.cgs[i] = false
      else all = false end
    end
  end
  self.gone = all
  return all
end

-- the kill on close follows the child's (setkill(false): it runs on, and
-- its cgroup is removed by a later sweep once it is empty)
function Sandbox:setkill (on)
  self.kills = on
  for _, cg in ipairs(self.cgs) do if cg then cg:setkill(on) end end
end

-- kills what is left (unless setkill(false)) and removes the cgroups;
-- one with a process still dying is retried by the next sandbox made
function Sandbox:close ()
  if self.closed then return end
  self.closed = true
  if self.kills ~= false then
    self:kill(M.WAIT)
    self.figs = self.figs or self:figures()     -- child:cgroup() after close
    if not self:remove() then pending[self] = true return end
  end
  for _, cg in ipairs(self.cgs) do if cg then cg:close() end end
end

-- }======

return M
