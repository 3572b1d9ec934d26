-- lunajail.compile: a checked recipe -> a core.spawn plan, and why each
-- step is there.
--
-- The order, with a new root (bubblewrap's way):
--   make every mount private; a staging tmpfs over /tmp, in the new mount
--   namespace only; pivot_root into it, so the host's tree is at /oldroot
--   (all of it, /tmp included: the staging mount moved away from there);
--   the new root at /newroot; the system binds (symlinks copied as
--   symlinks), fstab, the recipe's mounts -- every source taken from
--   /oldroot, resolved by the parent first; dirs, files, symlinks;
--   pivot_root into /newroot and detach everything else; the root
--   read-only; the host name; loopback up; rlimits; priority; the
--   identity (capabilities bounded, groups, gid, uid, the kept
--   capabilities); no_new_privs; Landlock; seccomp last, just before exec.

local core = require "lunajail.core"
local seccomp = require "lunajail.seccomp"

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

local seeded = false
local function autoid ()
  if not seeded then
    math.randomseed(os.time() ~ core.getpid() ~ math.floor(core.monotonic() * 1e6))
    seeded = true
  end
  return 65536 + math.random(0, 65535)
end

-- the ids inside, and the maps for a user namespace
local function identity (r, ns, euid, egid)
  local uid = r.uid == "auto" and autoid() or r.uid
  local gid = r.gid == "auto" and (uid or autoid()) or r.gid
  if r.gid == nil and uid and r.uid ~= nil then gid = uid end
  local uidmap, gidmap = r.uidmap, r.gidmap
  if ns.user then
    if not uidmap then
      if euid == 0 then
        uidmap = { { 0, 0, 1 } }
        if uid and uid ~= 0 then uidmap[2] = { uid, uid, 1 } end
      else
        uidmap = { { uid or 0, euid, 1 } }
      end
    end
    if not gidmap then
      if euid == 0 then
        gidmap = { { 0, 0, 1 } }
        if gid and gid ~= 0 then gidmap[2] = { gid, gid, 1 } end
      else
        gidmap = { { gid or 0, egid, 1 } }
      end
    end
  end
  return uid, gid, uidmap, gidmap
end

local function checkcombos (r, ns, root)
  local function need (what, n, field)
    if not ns[n] then
      fail("%s needs the %s namespace (add %q to namespaces%s)", what, n, n,
           field and ", or remove " .. field or "")
    end
  end
  local fs = r.root or (r.mounts and #r.mounts > 0) or (r.fstab and #r.fstab > 0)
    or (r.system and #r.system > 0) or (r.dirs and #r.dirs > 0)
    or (r.files and #r.files > 0) or (r.symlinks and #r.symlinks > 0)
  if fs then need("a root, mounts, dirs, files or symlinks", "mount") end
  for _, m in ipairs(r.mounts or {}) do
    if m.type == "proc" then need("a proc mount", "pid", "the proc mount") end
    if m.type == "mqueue" then need("an mqueue mount", "ipc", "the mqueue mount") end
  end
  if r.hostname then need("hostname", "uts", "hostname") end
  if r.domainname then need("domainname", "uts", "domainname") end
  if r.uidmap or r.gidmap then need("uidmap/gidmap", "user") end
  if r.pid1 then need("pid1", "pid", "pid1") end
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

local function flags (t)
  local out = {}
  for _, f in ipairs(t) do if f then out[#out + 1] = f end end
  return table.concat(out, ",")
end

function M.compile (r)
  local euid, egid = select(2, core.getresuid()), select(2, core.getresgid())
  local root = euid == 0
  local ns = set(r.namespaces)
  checkcombos(r, ns, root)
  local uid, gid, uidmap, gidmap = identity(r, ns, euid, egid)
  local plan = {
    argv = r.argv, path = r.path, env = r.env or {}, cwd = r.cwd,
    namespaces = r.namespaces, uidmap = uidmap, gidmap = gidmap,
    stdio = r.stdio, fds = r.fds, pid1 = r.pid1,
    die_with_parent = r.die_with_parent, new_session = r.new_session,
    trace = r.trace, steps = {},
  }
  local why = {}
  local function add (reason, step)
    plan.steps[#plan.steps + 1] = step
    why[#why + 1] = reason
  end

  -- {====== the file system ======}
  local R, H = "", ""        -- where the new root is, where the host is
  local newroot = r.root ~= nil
  -- a host path as the child sees it, symlinks resolved by us
  local function host (p)
    return H .. (core.realpath(p) or p)
  end
  if ns.mount then
    add("no mount event crosses between the host and the sandbox",
        { "mount", nil, "/", nil, "rec,private" })
  end
  if newroot then
    R, H = M.NEWROOT, M.OLDROOT
    add("a staging tmpfs over /tmp, in this mount namespace only",
        { "mount", "tmpfs", M.STAGE, "tmpfs", "nosuid,nodev", "mode=0700" })
    add("where the host's tree will be", { "mkdir_p", M.STAGE .. H })
    add("where the new root will be", { "mkdir_p", M.STAGE .. R })
    add("into the staging tmpfs", { "chdir", M.STAGE })
    add("the staging tmpfs becomes /, the host's tree /oldroot (all of it)",
        { "pivot_root", ".", H:sub(2) })
    add("", { "chdir", "/" })
    if r.root == "tmpfs" then
      add("the new root: an empty tmpfs",
          { "mount", "tmpfs", R, "tmpfs", "nosuid,nodev",
            "mode=0755" .. (r.root_size and ",size=" .. r.root_size or "") })
    else
      add("the new root: " .. r.root.path,
          { "mount", host(r.root.path), R, nil, "bind,rec,nosuid,nodev" })
    end
  end

  -- a mount point for source at target: a file for a file, else a dir
  local function mountpoint (target, source)
    local st = source and core.stat(source, true)
    if st and st.type ~= "dir" then
      local parent = (R .. target):match("^(.*)/[^/]*$")
      if parent ~= "" then add("the mount point's directory", { "mkdir_p", parent }) end
      add("a file to mount " .. source .. " on", { "touch", R .. target })
    else
      add("the mount point " .. target, { "mkdir_p", R .. target })
    end
  end

  local function bind (source, target, ro, dev, reason, optional)
    if optional and not core.stat(source, true) then return end
    mountpoint(target, source)
    local f = flags { "bind", "rec", ro and "rdonly", "nosuid", not dev and "nodev" }
    add(reason, { "mount", host(source), R .. target, nil, f, optional = optional or nil })
  end

  for _, d in ipairs(r.system or {}) do
    local st = core.stat(d)
    if st and st.type == "link" then
      local h = io.popen("readlink " .. ("%q"):format(d))
      local link = h:read("l")
      h:close()
      if link then
        add(d .. " is a symlink on the host: the same symlink", { "symlink", link, R .. d })
      end
    elseif st then
      bind(d, d, true, false, "read-only system directory " .. d)
    end
  end
  for _, d in ipairs(r.fstab or {}) do
    bind(d, d, true, false, "read-only bind from fstab: " .. d)
  end

  local devs = { "null", "zero", "full", "random", "urandom", "tty" }
  for _, m in ipairs(r.mounts or {}) do
    local t, opt = m.target, m.optional or nil
    if m.type == "bind" then
      bind(m.source, t, m.ro, m.dev, (m.ro and "read-only bind " or
           m.dev and "bind with devices " or "writable bind ") .. m.source ..
           (m.source ~= t and " at " .. t or ""), opt)
    elseif m.type == "tmpfs" then
      local data = { "mode=" .. (m.mode or "0755") }
      if m.size then data[#data + 1] = "size=" .. m.size end
      if m.nr_inodes then data[#data + 1] = "nr_inodes=" .. m.nr_inodes end
      local ouid = m.owner and uid or m.uid
      local ogid = m.owner and gid or m.gid
      if ouid then data[#data + 1] = "uid=" .. ouid end
      if ogid then data[#data + 1] = "gid=" .. ogid end
      mountpoint(t)
      add(("tmpfs %s (%s%s)"):format(t, table.concat(data, ","), m.noexec and ",noexec" or ""),
          { "mount", "tmpfs", R .. t, "tmpfs",
            flags { "nosuid", "nodev", m.noexec and "noexec" }, table.concat(data, ","),
            optional = opt })
    elseif m.type == "proc" then
      mountpoint(t)
      add("a /proc of the sandbox's own pid namespace (mounted before pivot_root: " ..
          "the kernel wants a visible proc then)",
          { "mount", "proc", R .. t, "proc", "nosuid,nodev,noexec", optional = opt })
    elseif m.type == "dev" then
      local d = R .. t
      mountpoint(t)
      add("a minimal /dev: a tmpfs", { "mount", "tmpfs", d, "tmpfs", "nosuid,noexec",
                                        "mode=0755", optional = opt })
      for _, n in ipairs(devs) do
        add("/dev/" .. n .. ": the host's device, nothing else", { "touch", d .. "/" .. n })
        add("", { "mount", H .. "/dev/" .. n, d .. "/" .. n, nil, "bind,nosuid,noexec" })
      end
      add("/dev/pts: a devpts of the sandbox's own", { "mkdir_p", d .. "/pts" })
      add("", { "mount", "devpts", d .. "/pts", "devpts", "nosuid,noexec",
                "newinstance,ptmxmode=0666,mode=0620" })
      add("/dev/ptmx: into that devpts", { "symlink", "pts/ptmx", d .. "/ptmx" })
      add("/dev/shm: a tmpfs of its own", { "mkdir_p", d .. "/shm" })
      add("", { "mount", "tmpfs", d .. "/shm", "tmpfs", "nosuid,nodev,noexec", "mode=1777" })
      add("/dev/fd and friends", { "symlink", "/proc/self/fd", d .. "/fd" })
      for i, n in ipairs { "stdin", "stdout", "stderr" } do
        add("", { "symlink", "/proc/self/fd/" .. (i - 1), d .. "/" .. n })
      end
    elseif m.type == "mqueue" then
      mountpoint(t)
      add("POSIX message queues of the sandbox's own ipc namespace",
          { "mount", "mqueue", R .. t, "mqueue", "nosuid,nodev,noexec", optional = opt })
    elseif m.type == "sysfs" then
      mountpoint(t)
      add("a read-only /sys", { "mount", "sysfs", R .. t, "sysfs",
                                "rdonly,nosuid,nodev,noexec", optional = opt })
    elseif m.type == "overlay" then
      local lower = {}
      for i, l in ipairs(m.lower) do lower[i] = host(l) end
      local data = "lowerdir=" .. table.concat(lower, ":")
      if m.upper then
        data = data .. ",upperdir=" .. host(m.upper) .. ",workdir=" .. host(m.work)
      end
      mountpoint(t)
      add("an overlay at " .. t .. (m.upper and "" or " (read-only)"),
          { "mount", "overlay", R .. t, "overlay", "nosuid,nodev", data, optional = opt })
    end
  end
  for _, d in ipairs(r.dirs or {}) do
    add("directory " .. d.path, { "mkdir_p", R .. d.path, d.mode })
  end
  for _, f in ipairs(r.files or {}) do
    local parent = (R .. f.path):match("^(.*)/[^/]*$")
    if parent ~= "" then add("the file's directory", { "mkdir_p", parent }) end
    add("file " .. f.path, { "write_file", R .. f.path, f.content, f.mode })
  end
  for _, l in ipairs(r.symlinks or {}) do
    add("symlink " .. l.path .. " -> " .. l.target, { "symlink", l.target, R .. l.path })
  end
  if newroot then
    add("into the new root", { "chdir", R })
    add("the new root becomes /, the staging tmpfs is stacked under it",
        { "pivot_root", ".", "." })
    add("the staging tmpfs and the host's tree in it are detached: nothing " ..
        "of the host is reachable", { "umount", ".", "detach" })
    add("", { "chdir", "/" })
    if r.root == "tmpfs" or not r.root.rw then
      add("the root is read-only from here on (its own mounts keep their modes)",
          { "mount", nil, "/", nil, "remount,bind,rdonly,nosuid,nodev" })
    end
  end
  -- }======

  if r.hostname then add("host name", { "sethostname", r.hostname }) end
  if r.domainname then add("domain name", { "setdomainname", r.domainname }) end
  if ns.net then add("the new network namespace's loopback starts down", { "ifup", "lo" }) end
  local names = {}
  for k in pairs(r.rlimits or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local l = r.rlimits[k]
    add(("resource limit %s"):format(k), { "setrlimit", k, l[1], l[2] })
  end
  if r.priority then add("scheduling priority (nice)", { "setpriority", r.priority }) end

  -- {====== identity and privileges ======}
  local privileged = root or ns.user
  local nnp = r.no_new_privs and not r.setuid
  local function filter ()
    if r.seccomp and r.seccomp ~= "none" then
      local spec, summary = seccomp.spec(r.seccomp)
      add((nnp and "seccomp, last: " or "seccomp, before the ids drop CAP_SYS_ADMIN " ..
           "(no no_new_privs to load it without): ") .. summary, { "seccomp", spec })
    end
  end
  if not nnp then filter() end
  local keep = r.caps
  if keep and privileged then
    local all = core.caps_names()
    local kept, drop = set(keep), {}
    for _, c in ipairs(all) do if not kept[c] then drop[#drop + 1] = c end end
    add("capabilities out of the bounding set: no way to regain them",
        { "caps_drop_bound", drop })
    if #keep > 0 and uid ~= 0 then
      add("keep the permitted capabilities across the uid change", { "keepcaps", true })
    end
  end
  if r.groups and root then
    add("supplementary groups", { "setgroups", r.groups })
  end
  if gid then add("group id " .. gid, { "setresgid", gid }) end
  if uid then add("user id " .. uid, { "setresuid", uid }) end
  if keep and privileged then
    add(#keep == 0 and "every capability dropped: effective, permitted, inheritable, " ..
        "ambient, bounding" or "only these capabilities: " .. table.concat(keep, ", "),
        { "caps_keep", keep })
  end
  if nnp then
    add("no privilege gain: setuid and file capabilities are inert", { "no_new_privs" })
  end
  if r.landlock then
    local rules = r.landlock == true and M.ownpaths(r) or r.landlock
    add("Landlock: the file system is limited to these paths",
        { "landlock", rules })
  end
  if nnp then filter() end
  -- }======

  if plan.cwd == nil and newroot then plan.cwd = "/" end
  return plan, why, { uid = uid, gid = gid }
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
