-- lunajail.compile: a checked recipe -> a core.spawn plan, and why each
-- step is there.
--
-- The order, with a new root (bubblewrap's way):
--   make every mount private; a staging tmpfs over /tmp, in the new mount
--   namespace only; pivot_root into it, so the host's tree is at /oldroot
--   (all of it, /tmp included: the staging mount moved away from there);
--   the new root at /newroot, every path below it resolved inside it
--   from then on ("beneath"); the system binds (symlinks copied as
--   symlinks), fstab, the recipe's mounts -- every source taken from
--   /oldroot, resolved by the parent first; dirs, files, symlinks;
--   pivot_root into /newroot and detach everything else; the root
--   read-only; the host name; loopback up; rlimits; priority; the
--   identity (capabilities bounded, groups, gid, uid, the kept
--   capabilities); no_new_privs; Landlock; seccomp last, just before exec.

local core = require "lunajail.core"
local seccomp = require "lunajail.seccomp"
local idalloc = require "lunajail.ids"

local M = {}

M.STAGE = "/tmp"           -- a staging tmpfs goes over it, then becomes /
M.NEWROOT = "/newroot"     -- in the staging tmpfs: the sandbox's root
M.OLDROOT = "/oldroot"     -- in the staging tmpfs: the host's tree

local function fail (fmt, ...)
  error("lunajail: recipe: " .. fmt:format(...), 0)
end

local function set (list)
  local s = {}
  for _, x in ipairs(list or {}) do s[x] = true end
  return s
end

-- flags("bind", ro and "rdonly", ...): the names given, nil and false
-- skipped (a hole must not end the list)
local function flags (...)
  local out = {}
  for i = 1, select("#", ...) do
    local f = select(i, ...)
    if f then out[#out + 1] = f end
  end
  return table.concat(out, ",")
end


-- {====== Checks and identity ======}

-- {field present?, the namespace it needs, what, what to remove}
local function needs (r)
  local n = {}
  local function need (cond, ns, what, field) n[#n + 1] = { cond, ns, what, field } end
  local fs = r.root or #(r.mounts or {}) > 0 or #(r.fstab or {}) > 0
    or #(r.system or {}) > 0 or #(r.dirs or {}) > 0 or #(r.files or {}) > 0
    or #(r.symlinks or {}) > 0
  need(fs, "mount", "a root, mounts, dirs, files or symlinks")
  for _, m in ipairs(r.mounts or {}) do
    need(m.type == "proc", "pid", "a proc mount", "the proc mount")
    need(m.type == "mqueue", "ipc", "an mqueue mount", "the mqueue mount")
  end
  need(r.hostname, "uts", "hostname", "hostname")
  need(r.domainname, "uts", "domainname", "domainname")
  need(r.uidmap or r.gidmap, "user", "uidmap/gidmap")
  need(r.pid1, "pid", "pid1", "pid1")
  return n
end

local function checkcombos (r, ns, root)
  for _, x in ipairs(needs(r)) do
    if x[1] and not ns[x[2]] then
      fail("%s needs the %s namespace (add %q to namespaces%s)", x[3], x[2], x[2],
           x[4] and ", or remove " .. x[4] or "")
    end
  end
  if r.net == "none" and not ns.net then
    fail("net = \"none\" needs the net namespace (add \"net\" to namespaces, " ..
         "or net = \"host\")")
  end
  if r.net == "host" and ns.net then
    fail("net = \"host\" and the net namespace contradict each other")
  end
  if not root and not ns.user and (r.uid or r.gid or r.groups) then
    fail("uid, gid and groups need root or the user namespace")
  end
  local nnp = r.no_new_privs and not r.setuid
  if r.landlock and not nnp then
    fail("landlock needs no_new_privs (set no_new_privs = true, without setuid)")
  end
  if r.seccomp and r.seccomp ~= "none" and not nnp and not root and not ns.user then
    fail("seccomp needs no_new_privs, root, or a user namespace")
  end
  if r.setuid and r.no_new_privs then
    fail("setuid = true and no_new_privs = true contradict each other")
  end
  for _, m in ipairs(r.mounts or {}) do
    if m.type == "overlay" and not m.upper and #m.lower < 2 then
      fail("a read-only overlay (no upper) needs two lower dirs or more")
    end
  end
end

-- The "auto" ids are per spawn, not per compile.  compile() puts a
-- representative id (idalloc.pick(): random, leased by nobody) wherever
-- the auto uid or gid goes, and lists those places in ids.slots:
--   {"steps", i, k}            plan.steps[i][k] is the id (setresuid, ...)
--   {"steps", i, k, "uid", ...} plan.steps[i][k] is a mount option string
--                              whose uid= (and gid=) options are the id
--                              (tmpfs with owner = true)
--   {"uidmap", i, k}           plan.uidmap[i][k] is the id; "gidmap" alike
-- As root (ids.lease = true) the id is a real host uid: spawn leases one
-- (lunajail.ids) and runs bind(plan, ids, lease:id(), lease), a shallow
-- copy with the slots filled and plan.lease set; the compiled plan is never
-- changed, so a cache of (plan, ids) per recipe serves every spawn.
-- Unprivileged the ids are inside a user namespace of the sandbox's own:
-- the representative serves (ids.lease = false), nothing is copied.

-- the default map of a user namespace: our id to the inside one, or, as
-- root, root to itself and the inside id to itself; and the slots of an
-- auto id in it
local function defaultmap (id, own, name, auto, slots)
  if own == 0 then
    local map = { { 0, 0, 1 } }
    if id and id ~= 0 then
      map[2] = { id, id, 1 }
      if auto then
        slots[#slots + 1] = { name, 2, 1 }
        slots[#slots + 1] = { name, 2, 2 }
      end
    end
    return map
  end
  if auto then slots[#slots + 1] = { name, 1, 1 } end
  return { { id or 0, own, 1 } }
end

-- uid, gid (representatives where "auto"), the maps, and ids: {uid =,
-- gid =, auto = {uid =, gid =}, lease =, slots = {...}}
local function identity (r, ns, euid, egid)
  local auto = { uid = r.uid == "auto" or nil }
  local uid = auto.uid and idalloc.pick() or r.uid
  local gid
  if r.gid == "auto" then
    gid = uid or idalloc.pick()
    auto.gid = auto.uid or r.uid == nil or nil    -- the same number as uid
  elseif r.gid ~= nil then gid = r.gid
  else gid = uid auto.gid = auto.uid end
  local ids = { uid = uid, gid = gid, auto = auto, slots = {},
                lease = euid == 0 and (auto.uid or auto.gid) or false }
  local uidmap, gidmap = r.uidmap, r.gidmap
  if ns.user then
    uidmap = uidmap or defaultmap(uid, euid, "uidmap", auto.uid, ids.slots)
    gidmap = gidmap or defaultmap(gid, egid, "gidmap", auto.gid, ids.slots)
  end
  return uid, gid, uidmap, gidmap, ids
end

-- the slots of a tmpfs with owner = true: the uid= and gid= options of
-- the mounts it added after step `from` (see above)
local function ownerslots (c, from)
  for i = from + 1, #c.plan.steps do
    local st = c.plan.steps[i]
    if st[1] == "mount" and st[4] == "tmpfs" and type(st[6]) == "string" then
      local slot = { "steps", i, 6 }
      for _, o in ipairs { "uid", "gid" } do
        if c.ids.auto[o] and ("," .. st[6] .. ","):find("," .. o .. "=" .. c[o] .. ",",
                                                        1, true) then
          slot[#slot + 1] = o
        end
      end
      if #slot > 3 then c.ids.slots[#c.ids.slots + 1] = slot end
    end
  end
end

-- bind(plan, ids, id [, lease]) -> a shallow copy of plan with the auto
-- ids at every slot set to id, and plan.lease = lease
function M.bind (plan, ids, id, lease)
  local p, copied = {}, {}
  for k, v in pairs(plan) do p[k] = v end
  local function own (list, i)           -- p[list] and its row i, copied once
    if not copied[list] then
      copied[list] = {}
      p[list] = table.move(plan[list], 1, #plan[list], 1, {})
    end
    if not copied[list][i] then
      local row = {}
      for k, v in pairs(p[list][i]) do row[k] = v end
      p[list][i], copied[list][i] = row, true
    end
    return p[list][i]
  end
  for _, s in ipairs(ids.slots) do
    local row = own(s[1], s[2])
    if s[4] then                         -- uid=, gid= in an option string
      local opts = {}
      for o in (row[s[3]] .. ","):gmatch("([^,]*),") do
        local name = o:match("^(%a+)=")
        if name == s[4] or name == s[5] then o = name .. "=" .. id end
        opts[#opts + 1] = o
      end
      row[s[3]] = table.concat(opts, ",")
    else
      row[s[3]] = id
    end
  end
  p.lease = lease
  return p
end

-- }======


-- {====== The file system ======}

-- a host path as the child sees it, symlinks resolved by us
local function host (c, p)
  return c.H .. (core.realpath(p) or p)
end

-- a mount point for source at target: a file for a file, else a dir
local function mountpoint (c, target, source)
  local st = source and core.stat(source, true)
  if st and st.type ~= "dir" then
    local parent = (c.R .. target):match("^(.*)/[^/]*$")
    if parent ~= "" then c.add("the mount point's directory", { "mkdir_p", parent }) end
    c.add("a file to mount " .. source .. " on", { "touch", c.R .. target })
  else
    c.add("the mount point " .. target, { "mkdir_p", c.R .. target })
  end
end

-- not recursive unless asked: the mounts under source stay out (fail
-- closed), and a read-only or nosuid tree needs mount_setattr (5.12)
local function bind (c, source, target, ro, dev, reason, optional, rec)
  if optional and not core.stat(source, true) then return end
  mountpoint(c, target, source)
  local f = flags("bind", rec and "rec", ro and "rdonly", "nosuid", not dev and "nodev")
  c.add(reason, { "mount", host(c, source), c.R .. target, nil, f,
                  optional = optional or nil })
end

local devs = { "null", "zero", "full", "random", "urandom", "tty" }

local mounters = {}

function mounters.bind (c, m)
  bind(c, m.source, m.target, m.ro, m.dev, (m.ro and "read-only bind " or
       m.dev and "bind with devices " or "writable bind ") .. m.source ..
       (m.source ~= m.target and " at " .. m.target or "") ..
       (m.rec and ", with the mounts under it" or ""), m.optional, m.rec)
end

function mounters.tmpfs (c, m)
  local data = { "mode=" .. (m.mode or "0755") }
  if m.size then data[#data + 1] = "size=" .. m.size end
  if m.nr_inodes then data[#data + 1] = "nr_inodes=" .. m.nr_inodes end
  local uid, gid = m.owner and c.uid or m.uid, m.owner and c.gid or m.gid
  if uid then data[#data + 1] = "uid=" .. uid end
  if gid then data[#data + 1] = "gid=" .. gid end
  data = table.concat(data, ",")
  mountpoint(c, m.target)
  c.add(("tmpfs %s (%s%s)"):format(m.target, data, m.noexec and ",noexec" or ""),
        { "mount", "tmpfs", c.R .. m.target, "tmpfs",
          flags("nosuid", "nodev", m.noexec and "noexec"), data,
          optional = m.optional or nil })
end

-- what runc keeps read-only and masks in a container's /proc and /sys
M.PROC_RO = { "sys", "sysrq-trigger", "irq", "bus", "fs" }
M.PROC_MASKED = { "kcore", "keys", "timer_list", "timer_stats", "sched_debug",
                  "latency_stats", "acpi", "asound", "scsi" }
M.SYS_MASKED = { "firmware", "devices/virtual/powercap" }

-- a file is covered by /dev/null, a directory by an empty read-only tmpfs;
-- only what exists on this kernel (the sandbox's proc is of the same
-- kernel), and never optional: a mask that fails stops the sandbox
local function mask (c, dir, hostdir, names, why)
  for _, n in ipairs(names) do
    local st = core.stat(hostdir .. "/" .. n)
    local t = dir .. "/" .. n
    if st and st.type == "dir" then
      c.add(why .. ": " .. n .. " masked", { "mount", "tmpfs", t, "tmpfs",
                                              "rdonly,nosuid,nodev,noexec", "size=0" })
    elseif st then
      c.add(why .. ": " .. n .. " masked", { "mount", c.H .. "/dev/null", t, nil,
                                              "bind,rdonly,nosuid,nodev,noexec" })
    end
  end
end

function mounters.proc (c, m)
  local t = c.R .. m.target
  mountpoint(c, m.target)
  c.add("a /proc of the sandbox's own pid namespace (mounted before pivot_root: " ..
        "the kernel wants a visible proc then)",
        { "mount", "proc", t, "proc", "nosuid,nodev,noexec", optional = m.optional or nil })
  if m.mask == false then return end
  for _, n in ipairs(M.PROC_RO) do
    if core.stat("/proc/" .. n) then
      c.add("the kernel's knobs in /proc/" .. n .. " are read-only",
            { "mount", t .. "/" .. n, t .. "/" .. n, nil, "bind,rdonly,nosuid,nodev,noexec" })
    end
  end
  mask(c, t, "/proc", M.PROC_MASKED, "kernel memory, keys and timers")
end

function mounters.dev (c, m)
  local d = c.R .. m.target
  mountpoint(c, m.target)
  c.add("a minimal /dev: a tmpfs", { "mount", "tmpfs", d, "tmpfs", "nosuid,noexec",
                                     "mode=0755", optional = m.optional or nil })
  for _, n in ipairs(devs) do
    c.add("/dev/" .. n .. ": the host's device, nothing else", { "touch", d .. "/" .. n })
    c.add("", { "mount", c.H .. "/dev/" .. n, d .. "/" .. n, nil, "bind,nosuid,noexec" })
  end
  c.add("/dev/pts: a devpts of the sandbox's own", { "mkdir_p", d .. "/pts" })
  c.add("", { "mount", "devpts", d .. "/pts", "devpts", "nosuid,noexec",
              "newinstance,ptmxmode=0666,mode=0620" })
  c.add("/dev/ptmx: into that devpts", { "symlink", "pts/ptmx", d .. "/ptmx" })
  c.add("/dev/shm: a tmpfs of its own", { "mkdir_p", d .. "/shm" })
  c.add("", { "mount", "tmpfs", d .. "/shm", "tmpfs", "nosuid,nodev,noexec", "mode=1777" })
  c.add("/dev/fd and friends", { "symlink", "/proc/self/fd", d .. "/fd" })
  for i, n in ipairs { "stdin", "stdout", "stderr" } do
    c.add("", { "symlink", "/proc/self/fd/" .. (i - 1), d .. "/" .. n })
  end
end

function mounters.mqueue (c, m)
  mountpoint(c, m.target)
  c.add("POSIX message queues of the sandbox's own ipc namespace",
        { "mount", "mqueue", c.R .. m.target, "mqueue", "nosuid,nodev,noexec",
          optional = m.optional or nil })
end

function mounters.sysfs (c, m)
  mountpoint(c, m.target)
  c.add("a read-only /sys", { "mount", "sysfs", c.R .. m.target, "sysfs",
                              "rdonly,nosuid,nodev,noexec", optional = m.optional or nil })
  mask(c, c.R .. m.target, "/sys", M.SYS_MASKED, "firmware and power controls")
end

function mounters.overlay (c, m)
  local lower = {}
  for i, l in ipairs(m.lower) do lower[i] = host(c, l) end
  local data = "lowerdir=" .. table.concat(lower, ":")
  if m.upper then
    data = data .. ",upperdir=" .. host(c, m.upper) .. ",workdir=" .. host(c, m.work)
  end
  mountpoint(c, m.target)
  c.add("an overlay at " .. m.target .. (m.upper and "" or " (read-only)"),
        { "mount", "overlay", c.R .. m.target, "overlay", "nosuid,nodev", data,
          optional = m.optional or nil })
end

-- make every mount private; with a new root, stage it (see the top)
local function beginroot (c, r)
  if c.ns.mount then
    c.add("no mount event crosses between the host and the sandbox",
          { "mount", nil, "/", nil, "rec,private" })
  end
  if r.root == nil then return end
  c.R, c.H = M.NEWROOT, M.OLDROOT
  c.add("a staging tmpfs over /tmp, in this mount namespace only",
        { "mount", "tmpfs", M.STAGE, "tmpfs", "nosuid,nodev", "mode=0700" })
  c.add("where the host's tree will be", { "mkdir_p", M.STAGE .. c.H })
  c.add("where the new root will be", { "mkdir_p", M.STAGE .. c.R })
  c.add("into the staging tmpfs", { "chdir", M.STAGE })
  c.add("the staging tmpfs becomes /, the host's tree /oldroot (all of it)",
        { "pivot_root", ".", c.H:sub(2) })
  c.add("", { "chdir", "/" })
  if r.root == "tmpfs" then
    c.add("the new root: an empty tmpfs",
          { "mount", "tmpfs", c.R, "tmpfs", "nosuid,nodev",
            "mode=0755" .. (r.root_size and ",size=" .. r.root_size or "") })
  else
    c.add("the new root: " .. r.root.path,
          { "mount", host(c, r.root.path), c.R, nil, "bind,nosuid,nodev" })
  end
  c.add("every path made or mounted on in the new root resolves inside it: " ..
        "a symlink planted in a bound directory cannot lead out",
        { "beneath", c.R })
end

local function system (c, r)
  for _, d in ipairs(r.system or {}) do
    local st = core.stat(d)
    if st and st.type == "link" then
      local h = io.popen("readlink " .. ("%q"):format(d))
      local link = h:read("l")
      h:close()
      if link then
        c.add(d .. " is a symlink on the host: the same symlink",
              { "symlink", link, c.R .. d })
      end
    elseif st then
      bind(c, d, d, true, false, "read-only system directory " .. d)
    end
  end
  for _, d in ipairs(r.fstab or {}) do
    bind(c, d, d, true, false, "read-only bind from fstab: " .. d)
  end
end

local function contents (c, r)
  for _, d in ipairs(r.dirs or {}) do
    c.add("directory " .. d.path, { "mkdir_p", c.R .. d.path, d.mode })
  end
  for _, f in ipairs(r.files or {}) do
    local parent = (c.R .. f.path):match("^(.*)/[^/]*$")
    if parent ~= "" then c.add("the file's directory", { "mkdir_p", parent }) end
    c.add("file " .. f.path, { "write_file", c.R .. f.path, f.content, f.mode })
  end
  for _, l in ipairs(r.symlinks or {}) do
    c.add("symlink " .. l.path .. " -> " .. l.target, { "symlink", l.target, c.R .. l.path })
  end
end

local function endroot (c, r)
  if r.root == nil then return end
  c.add("into the new root", { "chdir", c.R })
  c.add("the new root becomes /, the staging tmpfs is stacked under it",
        { "pivot_root", ".", "." })
  c.add("the staging tmpfs and the host's tree in it are detached: nothing " ..
        "of the host is reachable", { "umount", ".", "detach" })
  c.add("", { "chdir", "/" })
  if r.root == "tmpfs" or not r.root.rw then
    c.add("the root is read-only from here on (its own mounts keep their modes)",
          { "mount", nil, "/", nil, "remount,bind,rdonly,nosuid,nodev" })
  end
end

local function filesystem (c, r)
  beginroot(c, r)
  system(c, r)
  for _, m in ipairs(r.mounts or {}) do
    local from = #c.plan.steps
    mounters[m.type](c, m)
    if m.type == "tmpfs" and m.owner then ownerslots(c, from) end
  end
  contents(c, r)
  endroot(c, r)
end

-- }======


-- {====== Names, limits, identity, restrictions ======}

local function environment (c, r)
  if r.hostname then c.add("host name", { "sethostname", r.hostname }) end
  if r.domainname then c.add("domain name", { "setdomainname", r.domainname }) end
  if c.ns.net then
    c.add("the new network namespace's loopback starts down", { "ifup", "lo" })
  end
  local names = {}
  for k in pairs(r.rlimits or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local l = r.rlimits[k]
    c.add(("resource limit %s"):format(k), { "setrlimit", k, l[1], l[2] })
  end
  if r.priority then c.add("scheduling priority (nice)", { "setpriority", r.priority }) end
end

local function filter (c, r, nnp)
  if not r.seccomp or r.seccomp == "none" then return end
  local spec, summary = seccomp.spec(r.seccomp)
  c.add((nnp and "seccomp, last: " or "seccomp, before the ids drop CAP_SYS_ADMIN " ..
         "(no no_new_privs to load it without): ") .. summary, { "seccomp", spec })
end

local function privileges (c, r)
  local privileged = c.root or c.ns.user
  local nnp = r.no_new_privs and not r.setuid
  local keep = privileged and r.caps
  if not nnp then filter(c, r, nnp) end
  if keep then
    local kept, drop = set(keep), {}
    for _, cap in ipairs(core.caps_names()) do
      if not kept[cap] then drop[#drop + 1] = cap end
    end
    c.add("capabilities out of the bounding set: no way to regain them",
          { "caps_drop_bound", drop })
    if #keep > 0 and c.uid ~= 0 then
      c.add("keep the permitted capabilities across the uid change", { "keepcaps", true })
    end
  end
  if r.groups and c.root then c.add("supplementary groups", { "setgroups", r.groups }) end
  for _, k in ipairs { "gid", "uid" } do
    if c[k] then
      local what = k == "uid" and "user id " or "group id "
      local auto = c.ids.auto[k]
      c.add(auto and what .. "auto: " .. (c.ids.lease and "leased for this sandbox alone"
                                          or "inside its user namespace") or what .. c[k],
            { "setres" .. k, c[k] })
      if auto then c.ids.slots[#c.ids.slots + 1] = { "steps", #c.plan.steps, 2 } end
    end
  end
  if keep and c.uid == 0 then
    -- uid 0 kept (in a user namespace): exec gives it no capabilities
    -- back, and nothing can unlock that
    local bits = { "noroot", "noroot_locked", "no_setuid_fixup_locked",
                   "keep_caps_locked" }
    if #keep == 0 then
      bits[#bits + 1] = "no_cap_ambient_raise"
      bits[#bits + 1] = "no_cap_ambient_raise_locked"
    end
    c.add("uid 0 stays: root gains no capabilities at exec, locked",
          { "securebits", bits })
  end
  if keep then
    c.add(#keep == 0 and "every capability dropped: effective, permitted, inheritable, " ..
          "ambient, bounding" or "only these capabilities: " .. table.concat(keep, ", "),
          { "caps_keep", keep })
  end
  if nnp then
    c.add("no privilege gain: setuid and file capabilities are inert", { "no_new_privs" })
  end
  if r.landlock then
    c.add("Landlock: the file system is limited to these paths",
          { "landlock", r.landlock == true and M.ownpaths(r) or r.landlock })
  end
  if nnp then filter(c, r, nnp) end
end

-- }======


function M.compile (r)
  local euid, egid = select(2, core.getresuid()), select(2, core.getresgid())
  local c = { ns = set(r.namespaces), root = euid == 0, R = "", H = "" }
  checkcombos(r, c.ns, c.root)
  local uidmap, gidmap
  c.uid, c.gid, uidmap, gidmap, c.ids = identity(r, c.ns, euid, egid)
  local plan = {
    argv = r.argv, path = r.path, env = r.env or {}, cwd = r.cwd,
    namespaces = r.namespaces, uidmap = uidmap, gidmap = gidmap,
    stdio = r.stdio, fds = r.fds, pid1 = r.pid1,
    die_with_parent = r.die_with_parent, new_session = r.new_session,
    trace = r.trace, steps = {},
  }
  c.plan = plan
  local why = {}
  function c.add (reason, step)
    plan.steps[#plan.steps + 1] = step
    why[#why + 1] = reason
  end
  filesystem(c, r)
  environment(c, r)
  privileges(c, r)
  if plan.cwd == nil and r.root ~= nil then plan.cwd = "/" end
  return plan, why, c.ids
end

-- Landlock rules from the recipe's own paths: what it binds read-only is
-- read-only, what it mounts writable is writable, nothing else exists
function M.ownpaths (r)
  local rules = {}
  local function rule (p, access) rules[#rules + 1] = { p, access } end
  for _, d in ipairs(r.system or {}) do
    local st = core.stat(d)
    if st and st.type ~= "link" then rule(d, "ro") end
  end
  for _, d in ipairs(r.fstab or {}) do rule(d, "ro") end
  for _, m in ipairs(r.mounts or {}) do
    if m.type == "bind" then rule(m.target, m.ro and "ro" or "rw")
    elseif m.type == "proc" or m.type == "sysfs" then rule(m.target, "ro")
    else rule(m.target, "rw") end
  end
  for _, d in ipairs(r.dirs or {}) do rule(d.path, "rw") end
  return rules
end

return M
