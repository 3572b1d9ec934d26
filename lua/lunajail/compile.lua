-- lunajail.compile: a checked recipe -> a core.spawn plan, and why each
-- step is there.
--
-- The order, with a new root (bubblewrap's way):
--   the network namespace, where a step makes or joins it (veth, a pod),
--   first: while /proc is the host's, before any sysfs; make every mount
--   private; a staging tmpfs over /tmp, in the new mount
--   namespace only; pivot_root into it, so the host's tree is at /oldroot
--   (all of it, /tmp included: the staging mount moved away from there);
--   the new root at /newroot, every path below it resolved inside it
--   from then on ("beneath"); the system binds (symlinks copied as
--   symlinks), the name service files (net = "host"), fstab, the
--   recipe's mounts -- every source taken from
--   /oldroot, with no symlink in its path (checked here, enforced by the
--   child's bind and overlay steps); dirs, files, symlinks;
--   pivot_root into /newroot and detach everything else; the root
--   read-only; the host name; loopback up; rlimits; priority; the
--   identity (capabilities bounded, groups, gid, uid, the kept
--   capabilities); no_new_privs; Landlock; seccomp last, just before exec.

local core = require "lunajail.core"
local seccomp = require "lunajail.seccomp"
local idalloc = require "lunajail.ids"
local pasta = require "lunajail.pasta"

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


-- {====== What compile reads of the host ======}

-- A plan depends on the recipe, the caller's effective ids, the host
-- terminals it hands over, and a few answers of the host's file system:
-- which paths exist, which are symlinks and where they lead.  compile
-- asks those only through stat, firstlink and readlink below, which note
-- each answer (M.compile's fourth value); M.key names the rest.  So a
-- cache of plans (lunajail.spawn) reuses one while the key is the same and
-- M.current says the host still answers the same: a stat or two per
-- path, in C, no compile.
local heard                    -- the compile under way's answers, or nil

local function note (q, p, flag, ...)
  if not heard then return end
  local k = q .. (flag and "!" or ":") .. p
  if not heard[k] then
    heard[k] = true
    heard[#heard + 1] = { q, p, flag, ... }
  end
end

local function stat (p, follow)
  local st = core.stat(p, follow)
  note("stat", p, follow or false, st and st.type or false)
  return st
end

local function firstlink (p)
  local link, to, errno = core.firstlink(p)
  note("firstlink", p, false, link, to or false, errno or false)
  return link, to, errno
end

local function readlink (p)
  local to, err, errno = core.readlink(p)
  note("readlink", p, false, to or false)
  return to, err, errno
end

-- current(answers) -> true while the host gives each answer compile had:
-- core.samehost (csrc/path.c), the system calls without Lua per path
M.current = core.samehost

-- key(r) -> a string naming r's value and what compile reads besides the
-- file system, and the values it names by identity (functions, userdata:
-- a seccomp filter), which whoever keeps the key must hold; nil for a
-- recipe with a cycle.  Two recipes with the same key, built apart, make
-- the same plan on the same host.  The value's part is core.valuekey's
-- (csrc/values.c: canonical, in C, as every spawn asks it).
function M.key (r)
  local key, refs = core.valuekey(r)
  if not key then return nil end
  return ("%d,%d;%s;"):format(select(2, core.getresuid()), select(2, core.getresgid()),
                             table.concat(seccomp.terminals(r), ",")) .. key, refs
end

-- }======

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

-- {====== The network ======}
-- net = "none", "veth" and "pasta": a new namespace of the sandbox's own
-- (net in namespaces or not); "host" and "share": none of its own;
-- nil: what namespaces says.

local function netkind (r)
  if type(r.net) == "table" then return (next(r.net)) end
  return r.net
end

local function checknet (r, ns, root)
  local kind = netkind(r)
  if (kind == "host" or kind == "share") and ns.net then
    fail("net%s and the net namespace contradict each other: it %s (remove \"net\" " ..
         "from namespaces)", kind == "host" and ' = "host"' or ".share",
         kind == "host" and "is the host's network" or "joins a running sandbox's")
  end
  if kind == "veth" or kind == "share" then
    local what = kind == "veth" and "net.veth (a veth pair into the host's network namespace)"
                 or "net.share (a pod: joining another sandbox's network namespace)"
    if not root then
      fail("%s needs root; an unprivileged sandbox gets a network of its own through " ..
           "pasta: net = {pasta = {...}}", what)
    end
    if ns.user then
      fail("%s needs a sandbox without a user namespace (its own has no rights over " ..
           "the host's network; remove \"user\" from namespaces)", what)
    end
  end
  if kind == "share" then
    local child = r.net.share
    if not child:pidfd() then fail("net.share: the child %s is closed", tostring(child)) end
    if not child:status().running then
      fail("net.share: the child %s has exited: no network namespace to join", tostring(child))
    end
  end
  if kind == "pasta" then pasta.find() end      -- no pasta: say so before anything starts
  if r.landlock and type(r.landlock) == "table"
     and (r.landlock.tcp_bind or r.landlock.tcp_connect) then
    local abi = core.landlock_abi() or 0
    if abi < 4 then
      fail("landlock.%s needs Landlock ABI 4 (Linux 6.7) for TCP rules; this kernel has " ..
           "%s: the rule would not hold", r.landlock.tcp_bind and "tcp_bind" or "tcp_connect",
           abi == 0 and "no Landlock" or "ABI " .. abi)
    end
  end
end

-- the namespaces to clone: net = "none" (or pasta) brings its own; veth
-- makes it in a step; host and share have none
local function clonens (r, list)
  local kind, out, seen = netkind(r), {}, false
  for _, n in ipairs(list or {}) do
    if n ~= "net" or kind == nil or kind == "none" or kind == "pasta" then
      out[#out + 1] = n
      seen = seen or n == "net"
    end
  end
  if not seen and (kind == "none" or kind == "pasta") then out[#out + 1] = "net" end
  if r.time then                          -- time = {...} brings its namespace
    local have = false
    for _, n in ipairs(out) do have = have or n == "time" end
    if not have then out[#out + 1] = "time" end
  end
  if list == nil and #out == 0 then return nil end
  table.sort(out)
  return out
end

-- what a step does to the network before anything else
local function network (c, r)
  local kind = netkind(r)
  c.lo = c.ns.net and kind ~= "veth"
  if kind == "veth" then
    local v = r.net.veth
    c.add("a network namespace of the sandbox's own, made here with a veth pair to the " ..
          "host's: the inner end " .. (v.name or "eth0") .. " " ..
          table.concat(type(v.address) == "table" and v.address or { v.address }, ", ") ..
          (v.gateway and ", routed through " .. table.concat(
            type(v.gateway) == "table" and v.gateway or { v.gateway }, ", ") or
            ", no route beyond the pair") .. "; gone with the namespace",
          { "unshare_veth", { name = v.host_name, peer = v.name, address = v.address,
                              host_address = v.host_address, gateway = v.gateway } })
  elseif kind == "share" then
    local child = r.net.share
    c.add(("the network namespace of %s: a pod, its lo and interfaces shared"):format(
            tostring(child)),
          { "netns_join", child:pidfd(), child.pid })
  end
end

-- }======


-- unprivileged, supplementary groups work only through a gidmap of
-- subordinate ids (newgidmap, /etc/subgid) that maps each of them: a
-- user namespace of the caller's own id alone denies setgroups
local function groupsmapped (r)
  local function mapped (g)
    for _, m in ipairs(r.gidmap or {}) do
      if g >= m[1] and g < m[1] + m[3] then return true end
    end
  end
  for i, g in ipairs(r.groups) do
    if not mapped(g) then
      error(("lunajail: recipe.groups[%d]: group %d: unprivileged, supplementary groups " ..
             "need a gidmap that maps them, from a range of /etc/subgid (through " ..
             "newgidmap): a user namespace of your own gid alone cannot set groups " ..
             "(or run as root; groups = {} drops what can be dropped)"):format(i, g), 0)
    end
  end
end

local function checkcombos (r, ns, root)
  for _, x in ipairs(needs(r)) do
    if x[1] and not ns[x[2]] then
      fail("%s needs the %s namespace (add %q to namespaces%s)", x[3], x[2], x[2],
           x[4] and ", or remove " .. x[4] or "")
    end
  end
  checknet(r, ns, root)
  if not root and not ns.user and (r.uid or r.gid or r.groups) then
    fail("uid, gid and groups need root or the user namespace")
  end
  if not root and r.groups and #r.groups > 0 then groupsmapped(r) end
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

-- a host path as the child sees it.  No component of it may be a symlink:
-- one that a payload left in a directory it could write (an earlier
-- build's work dir) would lead the bind to any directory of the host.
-- The child opens it so again (bind and overlay steps), race-free.  A
-- path that is missing (or that we cannot reach) is refused here, before
-- anything starts, naming the field: what (a "bind source", ...) and the
-- path; one removed after this check fails its step (err.field names
-- the field then)
local function host (c, p, field, what)
  local link, to, errno = firstlink(p)
  if link then
    error(("lunajail: recipe.%s: %q passes through the symlink %q -> %q: bind " ..
           "what it leads to by its own path"):format(field, p, link, to), 0)
  end
  if link == nil then
    error(("lunajail: recipe.%s: %s %q %s"):format(field, what or "path", p,
          errno == 2 and "does not exist" or "cannot be reached: " ..
          (tostring(to):match("%): (.*)$") or tostring(to))), 0)
  end
  return c.H .. p
end

-- a mount point for source at target: a file for a file, else a dir
local function mountpoint (c, target, source)
  local st = source and stat(source, true)
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
local function bind (c, source, target, ro, dev, reason, field, optional, rec, what)
  if optional and not stat(source, true) then return end
  local from = host(c, source, field, what or "bind source")
  mountpoint(c, target, source)
  c.add(reason, { "bind", from, c.R .. target,
                  flags(rec and "rec", ro and "rdonly", "nosuid", not dev and "nodev"),
                  c.P, optional = optional or nil })
  return c.plan.steps[#c.plan.steps]
end

-- owner = true: the bind idmapped, the source's owner and group shown as
-- the sandbox's uid and gid (an auto one's slots noted: compile.bind
-- fills them per spawn), what it writes stored as theirs; the set-id
-- guard (seccomp.lua) comes with it.  Only root can idmap (CAP_SYS_ADMIN
-- over the source's file system), and only a payload of its own uid
-- without capabilities is kept by the guard: root's uid, CAP_FSETID or
-- CAP_SETFCAP would not be
local function ownerbind (c, r, field, step)
  if not c.root then
    fail("%s.owner: an idmapped bind needs root (unprivileged, the sandbox's files are " ..
         "stored as yours already: its ids map onto your own)", field)
  end
  if c.ns.user then
    fail("%s.owner: an idmapped bind needs a sandbox without a user namespace (the " ..
         "setup in one has no rights over the host's file systems; remove \"user\" " ..
         "from namespaces)", field)
  end
  if not c.uid or c.uid == 0 then
    fail("%s.owner: the payload would run as root, who needs no mapping and whom no " ..
         "guard keeps from leaving set-uid files: give it a uid of its own (uid = " ..
         "\"auto\", the container's)", field)
  end
  if r.caps and #r.caps > 0 then
    fail("%s.owner: the sandbox keeps capabilities (caps = {%s}): with an owner bind it " ..
         "may keep none (CAP_FSETID keeps set-id bits, CAP_SETFCAP writes file " ..
         "capabilities)", field, table.concat(r.caps, ", "))
  end
  if not step then return end               -- optional, and missing
  step[6], step[7] = c.uid, c.gid
  local i = #c.plan.steps
  if c.ids.auto.uid then c.ids.slots[#c.ids.slots + 1] = { "steps", i, 6 } end
  if c.ids.auto.gid then c.ids.slots[#c.ids.slots + 1] = { "steps", i, 7 } end
  c.owned[#c.owned + 1] = step[3]
end

-- What the setup makes under an owner bind (mount points, dirs, files,
-- symlinks, their owners) it makes as the sandbox's uid and gid, its
-- file-system ids (setfsuid, setfsgid): the mapping stores them as the
-- bind's owner's, and root's own uid, which it does not map, could make
-- nothing there (EOVERFLOW); nor does the setup reach anything there
-- but what the sandbox could.  Every other step runs with root's.
-- {op = the index of its path}
local CREATES = { mkdir_p = 2, touch = 2, write_file = 2, symlink = 3, chown = 2 }

local function under (c, path)
  for _, p in ipairs(c.owned) do
    if path == p or path:sub(1, #p + 1) == p .. "/" then return true end
  end
  return false
end

-- the file-system ids to the sandbox's (on) or back to root's
local function fsids (c, on)
  if on == c.fsas then return end
  c.fsas = on
  local function add (reason, op, id, auto)
    c.raw(reason, { op, id })
    if auto then c.ids.slots[#c.ids.slots + 1] = { "steps", #c.plan.steps, 2 } end
  end
  if on then
    add("what follows is made under an owner bind as the sandbox's uid and gid " ..
        "(stored as the owner's)", "setfsgid", c.gid, c.ids.auto.gid)
    add("", "setfsuid", c.uid, c.ids.auto.uid)
  else
    add("the setup's own file-system ids again", "setfsuid", c.euid)
    add("", "setfsgid", c.egid)
  end
end

local devs = { "null", "zero", "full", "random", "urandom", "tty" }

local mounters = {}

function mounters.bind (c, m, field, r)
  local step = bind(c, m.source, m.target, m.ro, m.dev, (m.ro and "read-only bind " or
       m.dev and "bind with devices " or "writable bind ") .. m.source ..
       (m.source ~= m.target and " at " .. m.target or "") ..
       (m.rec and ", with the mounts under it" or "") ..
       (m.owner and ", idmapped: its owner's files are the sandbox's uid's, what the " ..
        "sandbox writes is its owner's" or ""), field .. ".source",
       m.optional, m.rec)
  if m.owner then ownerbind(c, r, field, step) end
end

-- Every tmpfs lunajail makes is bounded twice: tmpfs without size= (or
-- with size=0) may take half of RAM, and without nr_inodes= as many
-- inodes again, in kernel memory no size= counts.  The inode count, when
-- not given: one per 4 KiB of size, at least 64.
M.TMPFS_SIZE = "64m"       -- a recipe's tmpfs without size =
M.ROOT_SIZE = "16m"        -- root = "tmpfs" without root_size =
M.SHM_SIZE = "16m"         -- /dev/shm of {"dev"} without shm_size =

local units = { k = 2 ^ 10, m = 2 ^ 20, g = 2 ^ 30 }

-- "mode=0755,size=4m,nr_inodes=1024[,uid=..,gid=..]"; size a C.size string
local function tmpfsdata (mode, size, inodes, uid, gid)
  local n, unit = size:match("^(%d+)(%a?)$")
  local pages = tonumber(n) * (units[unit] or 1) / 4096       -- a float: no wrap
  inodes = inodes or math.floor(math.max(64, math.min(pages, 2 ^ 32 - 1)))
  local data = { "mode=" .. mode, "size=" .. size, "nr_inodes=" .. inodes }
  if uid then data[#data + 1] = "uid=" .. uid end
  if gid then data[#data + 1] = "gid=" .. gid end
  return table.concat(data, ",")
end

function mounters.tmpfs (c, m)
  local data = tmpfsdata(m.mode or "0755", m.size or M.TMPFS_SIZE, m.nr_inodes,
                         m.owner and c.uid or m.uid, m.owner and c.gid or m.gid)
  mountpoint(c, m.target)
  c.add(("tmpfs %s (%s%s)"):format(m.target, data, m.noexec and ",noexec" or ""),
        { "mount", "tmpfs", c.R .. m.target, "tmpfs",
          flags("nosuid", "nodev", m.noexec and "noexec"), data,
          optional = m.optional or nil })
end

-- /proc and /sys: what runc keeps read-only, and what is masked, each
-- with its reason (explain() shows it).  Masked: what runc masks (Docker
-- and Kubernetes mask /proc/interrupts too), what tells the host's
-- kernel apart (its build, symbols, modules, boot line), the kernel
-- memory and allocator state that exploits read, and counters that are
-- a side channel on other processes.  Stays: what ordinary programs read
-- (cpuinfo, meminfo, stat, loadavg, uptime, vmstat, mounts, self, net,
-- sys read-only): docs/security.md lists it, and why.
M.PROC_RO = { "sys", "sysrq-trigger", "irq", "bus", "fs" }
M.PROC_MASKED = {
  { "kcore", "the host's physical memory, as a core file (runc)" },
  { "keys", "the keys of the host's keyrings (runc)" },
  { "key-users", "the host's uids that hold keys, and their quotas" },
  { "timer_list", "every timer of the host, with its function and pid (runc)" },
  { "timer_stats", "who sets timers, host-wide (runc)" },
  { "sched_debug", "the scheduler's view of every host task (runc)" },
  { "latency_stats", "the latencies of host tasks (runc)" },
  { "acpi", "ACPI, with writable controls (runc)" },
  { "asound", "the sound cards (runc)" },
  { "scsi", "the SCSI devices, and a write that rescans them (runc)" },
  { "interrupts", "interrupt counts per device and CPU: keystroke and network " ..
                  "timing of the host (runc's users)" },
  { "softirqs", "the same counters by kind (NET_RX, BLOCK, ...), per CPU" },
  { "cmdline", "the host kernel's boot command line (root device, what a " ..
               "boot loader or hypervisor passes)" },
  { "config.gz", "the host kernel's build configuration: a map of its attack surface" },
  { "kallsyms", "the kernel's symbols (addresses too for CAP_SYSLOG)" },
  { "modules", "the loaded kernel modules" },
  { "iomem", "the physical memory map and its drivers" },
  { "ioports", "the I/O port map and its drivers" },
  { "mtrr", "the physical memory's cache ranges, writable by root" },
  { "vmallocinfo", "kernel virtual addresses (root's)" },
  { "slabinfo", "the kernel heap's caches, what heap exploits groom (root's)" },
  { "pagetypeinfo", "the page allocator's free lists (root's)" },
  { "zoneinfo", "the page allocator's state per zone: host allocations move it" },
  { "buddyinfo", "the page allocator's free blocks by order: host allocations move it" },
  { "kpagecount", "the use count of every physical page (CAP_SYS_ADMIN): a Rowhammer aid" },
  { "kpageflags", "the flags of every physical page (CAP_SYS_ADMIN): a Rowhammer aid" },
  { "kpagecgroup", "the cgroup of every physical page (CAP_SYS_ADMIN)" },
  { "kmsg", "the kernel log, and reading it takes it from the host's syslog (CAP_SYSLOG)" },
}
M.SYS_MASKED = {
  { "firmware", "the firmware's tables, ACPI and EFI variables (runc)" },
  { "devices/virtual/powercap", "RAPL energy counters, a side channel on the CPU " ..
                                "(PLATYPUS, runc)" },
  { "devices/virtual/tpm", "the TPM (runc)" },
}

-- a file is covered by /dev/null (nodev: opening it fails, EACCES), a
-- directory by an empty read-only tmpfs with no room for anything; only
-- what exists on this kernel (the sandbox's proc is of the same kernel),
-- and never optional: a mask that fails stops the sandbox
--
-- With a new root, each mask is one bind of a mask made once in the
-- staging tmpfs (a bind takes its source mount's flags): a /dev/null
-- there and an empty directory, both mounted read-only, nosuid, nodev,
-- noexec.  Without one, each mask mounts its own.
local MASKFLAGS = "rdonly,nosuid,nodev,noexec"

local function masksource (c, kind)
  if c.R == "" then return nil end
  c.masks = c.masks or {}
  if not c.masks[kind] then
    local p = "/" .. kind               -- in the staging tmpfs, which is / now
    if kind == "null" then
      c.add("a read-only /dev/null to mask files with", { "touch", p })
      c.add("", { "mount", c.H .. "/dev/null", p, nil, "bind," .. MASKFLAGS })
    else
      c.add("an empty read-only directory to mask directories with",
            { "mkdir_p", p, "0555" })
      c.add("", { "mount", p, p, nil, "bind," .. MASKFLAGS })
    end
    c.masks[kind] = p
  end
  return c.masks[kind]
end

local function mask (c, dir, hostdir, list)
  for _, e in ipairs(list) do
    local n, why = e[1], e[2]
    local st = stat(hostdir .. "/" .. n)
    local t = dir .. "/" .. n
    local kind = st and (st.type == "dir" and "empty" or "null")
    local src = kind and masksource(c, kind)
    if src then
      c.add(hostdir .. "/" .. n .. " masked: " .. why, { "mount", src, t, nil, "bind" })
    elseif kind == "empty" then
      c.add(hostdir .. "/" .. n .. " masked: " .. why,
            { "mount", "tmpfs", t, "tmpfs", MASKFLAGS, "mode=0555,size=4k,nr_inodes=1" })
    elseif kind then
      c.add(hostdir .. "/" .. n .. " masked: " .. why,
            { "mount", c.H .. "/dev/null", t, nil, "bind," .. MASKFLAGS })
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
    if stat("/proc/" .. n) then
      c.add("the kernel's knobs in /proc/" .. n .. " are read-only",
            { "mount", t .. "/" .. n, t .. "/" .. n, nil, "bind,rdonly,nosuid,nodev,noexec" })
    end
  end
  mask(c, t, "/proc", M.PROC_MASKED)
end

-- /dev: a tiny tmpfs that holds mount points and symlinks only (the
-- devices are binds of the host's nodes, nodev applies to the tmpfs
-- itself), read-only once the recipe is done with it: the payload, even
-- where it owns the tmpfs (a user namespace maps no other uid), can
-- neither add a node nor move /dev/ptmx.  shm and pts are mounts of
-- their own and stay writable.
M.DEV_DATA = "mode=0755,size=64k,nr_inodes=256"
M.PTS_MAX = 64             -- ptys per sandbox: their pool is shared host-wide

function mounters.dev (c, m)
  local d = c.R .. m.target
  local shm = m.shm_size or M.SHM_SIZE
  c.devpts = m.target .. "/pts/ptmx"
  mountpoint(c, m.target)
  c.add("a minimal /dev: a tiny tmpfs for mount points and links",
        { "mount", "tmpfs", d, "tmpfs", "nosuid,nodev,noexec", M.DEV_DATA,
          optional = m.optional or nil })
  for _, n in ipairs(devs) do
    c.add("/dev/" .. n .. ": the host's device, nothing else", { "touch", d .. "/" .. n })
    c.add("", { "mount", c.H .. "/dev/" .. n, d .. "/" .. n, nil, "bind,nosuid,noexec" })
  end
  c.add("/dev/pts: a devpts of the sandbox's own, at most " .. M.PTS_MAX .. " ptys",
        { "mkdir_p", d .. "/pts" })
  c.add("", { "mount", "devpts", d .. "/pts", "devpts", "nosuid,noexec",
              "newinstance,ptmxmode=0666,mode=0620,max=" .. M.PTS_MAX })
  c.add("/dev/ptmx: into that devpts", { "symlink", "pts/ptmx", d .. "/ptmx" })
  c.add("/dev/shm: a tmpfs of its own, " .. shm, { "mkdir_p", d .. "/shm" })
  c.add("", { "mount", "tmpfs", d .. "/shm", "tmpfs", "nosuid,nodev,noexec",
              tmpfsdata("1777", shm) })
  c.add("/dev/fd and friends", { "symlink", "/proc/self/fd", d .. "/fd" })
  for i, n in ipairs { "stdin", "stdout", "stderr" } do
    c.add("", { "symlink", "/proc/self/fd/" .. (i - 1), d .. "/" .. n })
  end
  c.last[#c.last + 1] = { function ()   -- after every mount, dir and file of the recipe
    c.add(m.target .. " read-only from here on: nothing can add a node or move ptmx " ..
          "(shm and pts stay writable)",
          { "mount", nil, d, nil, "remount,bind,rdonly,nosuid,nodev,noexec",
            optional = m.optional or nil })
  end, c.field }
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
  mask(c, c.R .. m.target, "/sys", M.SYS_MASKED)
end

-- the layers by fd (the overlay step): no recipe path reaches
-- overlayfs's option string
function mounters.overlay (c, m, field)
  local lower = {}
  for i, l in ipairs(m.lower) do
    lower[i] = host(c, l, ("%s.lower[%d]"):format(field, i), "overlay lower dir")
  end
  local upper = m.upper and host(c, m.upper, field .. ".upper", "overlay upper dir")
  local work = m.work and host(c, m.work, field .. ".work", "overlay work dir")
  mountpoint(c, m.target)
  c.add("an overlay at " .. m.target .. (m.upper and "" or " (read-only)"),
        { "overlay", c.R .. m.target, lower, upper, work, "nosuid,nodev", c.P,
          optional = m.optional or nil })
end

-- make every mount private; with a new root, stage it (see the top)
local function beginroot (c, r)
  if c.ns.mount then
    c.add("no mount event crosses between the host and the sandbox",
          { "mount", nil, "/", nil, "rec,private" })
  end
  if r.root == nil then return end
  c.field = "root"
  c.R, c.H, c.P = M.NEWROOT, M.OLDROOT, M.OLDROOT .. "/proc"
  c.add("a staging tmpfs over /tmp, in this mount namespace only (it holds two " ..
        "directories)",
        { "mount", "tmpfs", M.STAGE, "tmpfs", "nosuid,nodev",
          "mode=0700,size=64k,nr_inodes=16" })
  c.add("where the host's tree will be", { "mkdir_p", M.STAGE .. c.H })
  c.add("where the new root will be", { "mkdir_p", M.STAGE .. c.R })
  c.add("into the staging tmpfs", { "chdir", M.STAGE })
  c.add("the staging tmpfs becomes /, the host's tree /oldroot (all of it)",
        { "pivot_root", ".", c.H:sub(2) })
  c.add("", { "chdir", "/" })
  if r.root == "tmpfs" then
    local data = tmpfsdata("0755", r.root_size or M.ROOT_SIZE)
    c.add("the new root: an empty tmpfs (" .. data .. ")",
          { "mount", "tmpfs", c.R, "tmpfs", "nosuid,nodev", data })
  else
    c.add("the new root: " .. r.root.path,
          { "bind", host(c, r.root.path, "root.path", "root directory"), c.R,
          "nosuid,nodev", c.P })
  end
  c.add("every path made or mounted on in the new root resolves inside it: " ..
        "a symlink planted in a bound directory cannot lead out",
        { "beneath", c.R })
end

-- net = "host": what name resolution reads, read-only, each file that
-- exists.  A symlink (resolv.conf -> /run/systemd/resolve/...) is
-- followed here, one link at a time, to a path with no symlink in it:
-- the host's own configuration, which no payload writes
M.NAMEFILES = { "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/host.conf",
                "/etc/gai.conf", "/etc/services", "/etc/protocols" }

-- "/a/b/../c/./d" -> "/a/c/d"
local function normal (p)
  local parts = {}
  for part in p:gmatch("[^/]+") do
    if part == ".." then parts[#parts] = nil
    elseif part ~= "." then parts[#parts + 1] = part end
  end
  return "/" .. table.concat(parts, "/")
end

-- path with every symlink on the way replaced by what it holds, or nil
function M.unlink (path)
  for _ = 1, 16 do
    local link, to = firstlink(path)
    if link == false then return path end
    if not link then return nil end
    local rest = path:sub(#link + 1)
    path = normal((to:sub(1, 1) == "/" and to or link:match("^(.*)/[^/]*$") .. "/" .. to) ..
                  rest)
  end
  return nil                              -- a loop, or too deep
end

local function namefiles (c, r)
  if netkind(r) ~= "host" or r.root == nil then return end
  c.field = "net"
  local first = true
  for _, f in ipairs(M.NAMEFILES) do
    local src = stat(f) and M.unlink(f)
    local st = src and stat(src)
    if st and st.type == "file" then
      if first then c.add("where the name service files go", { "mkdir_p", c.R .. "/etc" }) end
      first = false
      c.add("", { "touch", c.R .. f })
      c.add("name service: the host's " .. f .. (src ~= f and " (" .. src .. ")" or "") ..
            ", read-only", { "bind", host(c, src, "net", "name service file"), c.R .. f,
                             "rdonly,nosuid,nodev",
                             c.P })
    end
  end
end

local function system (c, r)
  for i, d in ipairs(r.system or {}) do
    c.field = ("system[%d]"):format(i)
    local st = stat(d)
    local link = st and st.type == "link" and readlink(d)
    if link then
      c.add(d .. " is a symlink on the host: the same symlink",
            { "symlink", link, c.R .. d })
    elseif st and st.type ~= "link" then
      bind(c, d, d, true, false, "read-only system directory " .. d,
           ("system[%d]"):format(i))
    end
  end
  for i, d in ipairs(r.fstab or {}) do
    c.field = ("fstab[%d]"):format(i)
    bind(c, d, d, true, false, "read-only bind from fstab: " .. d, c.field, nil, nil,
         "fstab entry")
  end
  namefiles(c, r)
end

-- a dir's or file's owner: true is the sandbox's uid and gid (an auto
-- one's slots noted: compile.bind fills them per spawn), an integer that
-- uid (and the sandbox's gid), {uid, gid} both; ids as the sandbox sees
-- them.  Without a uid in the recipe, the setup's own (0 in a user
-- namespace, the caller's without one)
local function chown (c, path, owner)
  if owner == nil then return end
  local own = c.ns.user and 0 or c.euid
  local uid, gid = c.uid or own, c.gid or own
  local autou = owner == true and c.ids.auto.uid
  local autog = type(owner) ~= "table" and c.ids.auto.gid   -- true, or a uid alone
  if type(owner) == "table" then uid, gid = owner[1], owner[2]
  elseif owner ~= true then uid = owner end
  c.add(("owned by uid %s, gid %s"):format(autou and "auto" or uid, autog and "auto" or gid),
        { "chown", c.R .. path, uid, gid })
  local i = #c.plan.steps
  if autou then c.ids.slots[#c.ids.slots + 1] = { "steps", i, 3 } end
  if autog then c.ids.slots[#c.ids.slots + 1] = { "steps", i, 4 } end
end

local function contents (c, r)
  for i, d in ipairs(r.dirs or {}) do
    c.field = ("dirs[%d]"):format(i)
    c.add("directory " .. d.path, { "mkdir_p", c.R .. d.path, d.mode })
    chown(c, d.path, d.owner)
  end
  for i, f in ipairs(r.files or {}) do
    c.field = ("files[%d]"):format(i)
    local parent = (c.R .. f.path):match("^(.*)/[^/]*$")
    if parent ~= "" then c.add("the file's directory", { "mkdir_p", parent }) end
    c.add("file " .. f.path, { "write_file", c.R .. f.path, f.content, f.mode })
    chown(c, f.path, f.owner)
  end
  for i, l in ipairs(r.symlinks or {}) do
    c.field = ("symlinks[%d]"):format(i)
    c.add("symlink " .. l.path .. " -> " .. l.target, { "symlink", l.target, c.R .. l.path })
  end
end

local function endroot (c, r)
  if r.root == nil then return end
  c.field = "root"
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
  c.last = {}                  -- what a mounter leaves for after the contents
  beginroot(c, r)
  system(c, r)
  for i, m in ipairs(r.mounts or {}) do
    local from = #c.plan.steps
    c.field = ("mounts[%d]"):format(i)
    mounters[m.type](c, m, c.field, r)
    if m.type == "tmpfs" and m.owner then ownerslots(c, from) end
  end
  contents(c, r)
  for _, f in ipairs(c.last) do c.field = f[2] f[1]() end
  fsids(c, false)
  endroot(c, r)
end

-- }======


-- {====== Names, limits, identity, restrictions ======}

local function environment (c, r)
  c.field = "hostname"
  if r.hostname then c.add("host name", { "sethostname", r.hostname }) end
  c.field = "domainname"
  if r.domainname then c.add("domain name", { "setdomainname", r.domainname }) end
  c.field = "net"
  if c.lo then
    c.add("the new network namespace's loopback starts down", { "ifup", "lo" })
  end
  local names = {}
  for k in pairs(r.rlimits or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local l = r.rlimits[k]
    c.field = "rlimits." .. k
    c.add(("resource limit %s"):format(k), { "setrlimit", k, l[1], l[2] })
  end
  c.field = "priority"
  if r.priority then c.add("scheduling priority (nice)", { "setpriority", r.priority }) end
end

-- the seccomp filters, in load order; a terminal of the host handed in
-- (stdio "inherit" or an fd, an fds entry: seccomp.terminals) adds the
-- rules that keep the sandbox from changing it
local function filter (c, r, nnp)
  local owned = seccomp.owned(r)            -- an owner bind: the set-id guard
  local own = r.seccomp and r.seccomp ~= "none"
  if not own and not owned then return end
  local ttys = seccomp.terminals(r)
  local filters = own and seccomp.spec(r.seccomp, { tty = #ttys > 0 }) or {}
  local n = #filters + (owned and 1 or 0)
  for i = 1, n do
    local f, last = filters[i] or seccomp.guard(), i == n
    c.field = filters[i] and "seccomp" or ("mounts[%d]"):format(owned)
    c.add((not nnp and "seccomp, before the ids drop CAP_SYS_ADMIN (no no_new_privs " ..
           "to load it without): " or last and "seccomp, last: " or "seccomp: ") .. f[2] ..
          (filters[i] and i == #filters and #ttys > 0 and "; a terminal of the host on " ..
           table.concat(ttys, ", ") or ""), { "seccomp", f[1] })
  end
end

-- landlock = true, or rules with own = true (the recipe's paths) and
-- TCP ports
local function landlock (c, r)
  local l = r.landlock == true and { own = true } or r.landlock
  local rules, why = {}, {}
  for i, x in ipairs(l) do rules[i] = x end
  if l.own then
    for _, x in ipairs(M.ownpaths(r)) do rules[#rules + 1] = x end
  end
  if #rules > 0 or not (l.tcp_bind or l.tcp_connect) then
    why[1] = "the file system is limited to these paths"
  end
  for _, k in ipairs { "tcp_bind", "tcp_connect" } do
    if l[k] then
      rules[k] = l[k]
      why[#why + 1] = ("TCP %s %s"):format(k == "tcp_bind" and "bind to" or "connect to",
                                           #l[k] > 0 and "ports " .. table.concat(l[k], ", ")
                                           or "no port")
    end
  end
  c.field = "landlock"
  c.add("Landlock: " .. table.concat(why, "; "), { "landlock", rules })
end

-- stdio = "pty" with a /dev of the sandbox's own: the pty from its
-- devpts (the pty step, tty.c), after the id change: the slave is the
-- sandbox uid's
local function pty (c, r)
  if r.stdio ~= "pty" or not c.devpts then return end
  c.field = "stdio"
  c.add("the pty: from the sandbox's own devpts, opened as the sandbox's uid (inside, " ..
        "tty names it and /dev/pts lists it); its master goes to the parent",
        { "pty", c.devpts })
end

local function privileges (c, r)
  local privileged = c.root or c.ns.user
  local nnp = r.no_new_privs and not r.setuid
  local keep = privileged and r.caps
  if not nnp then filter(c, r, nnp) end
  c.field = "caps"
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
  c.field = "groups"
  if r.groups and (c.root or #r.groups > 0) then
    c.add("supplementary groups", { "setgroups", r.groups })
  end
  for _, k in ipairs { "gid", "uid" } do
    c.field = k
    if c[k] then
      local what = k == "uid" and "user id " or "group id "
      local auto = c.ids.auto[k]
      c.add(auto and what .. "auto: " .. (c.ids.lease and "leased for this sandbox alone"
                                          or "inside its user namespace") or what .. c[k],
            { "setres" .. k, c[k] })
      if auto then c.ids.slots[#c.ids.slots + 1] = { "steps", #c.plan.steps, 2 } end
    end
  end
  c.field = "caps"
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
  pty(c, r)
  c.field = "no_new_privs"
  if nnp then
    c.add("no privilege gain: setuid and file capabilities are inert", { "no_new_privs" })
  end
  if r.landlock then landlock(c, r) end
  if nnp then filter(c, r, nnp) end
end

-- }======


local function compile (r)
  local euid, egid = select(2, core.getresuid()), select(2, core.getresgid())
  local c = { ns = set(r.namespaces), root = euid == 0, euid = euid, egid = egid, R = "",
              H = "", owned = {}, fsas = false }
  checkcombos(r, c.ns, c.root)
  local kind = netkind(r)
  c.ns.net = c.ns.net or kind == "none" or kind == "veth" or kind == "pasta"
  local uidmap, gidmap
  c.uid, c.gid, uidmap, gidmap, c.ids = identity(r, c.ns, euid, egid)
  local plan = {
    argv = r.argv, path = r.path, env = r.env or {}, cwd = r.cwd,
    namespaces = clonens(r, r.namespaces), uidmap = uidmap, gidmap = gidmap,
    stdio = r.stdio, fds = r.fds, pid1 = r.pid1,
    die_with_parent = r.die_with_parent, new_session = r.new_session,
    trace = r.trace, setup_timeout = r.setup_timeout, steps = {},
  }
  c.plan = plan
  local why, fields = {}, {}
  function c.raw (reason, step)
    plan.steps[#plan.steps + 1] = step
    why[#why + 1] = reason
    fields[#fields + 1] = c.field or false
  end
  function c.add (reason, step)
    if #c.owned > 0 then
      local k = CREATES[step[1]]
      fsids(c, k ~= nil and type(step[k]) == "string" and under(c, step[k]))
    end
    c.raw(reason, step)
  end
  c.field = "net"
  network(c, r)
  c.field = nil
  filesystem(c, r)
  environment(c, r)
  privileges(c, r)
  if plan.cwd == nil and r.root ~= nil then plan.cwd = "/" end
  if r.time then plan.time_offsets = r.time end
  c.ids.fields = fields
  return plan, why, c.ids
end

-- compile(r) -> plan, why (each step's reason), ids (the auto id slots,
-- each step's field), answers (what it read of the host: M.current)
function M.compile (r)
  local answers = {}
  heard = answers
  local ok, plan, why, ids = pcall(compile, r)
  heard = nil
  if not ok then error(plan, 0) end
  return plan, why, ids, answers
end

-- Landlock rules from the recipe's own paths: what it binds read-only is
-- read-only, what it mounts writable is writable, nothing else exists
function M.ownpaths (r)
  local rules = {}
  local function rule (p, access) rules[#rules + 1] = { p, access } end
  for _, d in ipairs(r.system or {}) do
    local st = stat(d)
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
