-- spec/plans.lua: raw spawn plans for the specs (the recipe layer builds
-- the same thing from a recipe; these keep the spawner's specs free of it).

local core = require "lunajail.core"

local P = {}

local function exists (p)
  local f = io.open(p)
  if f then f:close() return true end
  return false
end

local function readlink (p)
  local h = io.popen("readlink " .. p .. " 2>/dev/null")
  local l = h:read("l")
  h:close()
  return l
end

-- the system binds are recursive and read-only, through mount_setattr(2);
-- valgrind (3.19) lacks that call (syscall 442: ENOSYS in the child, which
-- runs under it until its exec), so under make valgrind they are plain
-- read-only binds: the same tree here, where /usr, /lib... have no
-- submounts.  The spawner's and the child object's specs then still run
-- under valgrind; mount_setattr(2) runs in every spec of the normal run.
local BINDREC = os.getenv("LJ_VALGRIND") == nil and "rec" or nil

-- the steps that build a tmpfs root with read-only system binds, a /proc
-- of the new pid namespace, /dev/null and /tmp, then pivot into it
function P.rootsteps (opts)
  opts = opts or {}
  local r = "/tmp/.lj-root"
  local s = {
    { "mount", nil, "/", nil, { "rec", "private" } },
    { "mount", "tmpfs", "/tmp", "tmpfs", { "nosuid", "nodev" } },
    { "mkdir_p", r },
    { "mount", "tmpfs", r, "tmpfs", { "nosuid", "nodev" }, "mode=0755" },
  }
  for _, d in ipairs { "/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc" } do
    local link = readlink(d)
    if link then
      s[#s + 1] = { "symlink", link, r .. d }
    elseif exists(d) then
      s[#s + 1] = { "mkdir_p", r .. d }
      s[#s + 1] = { "mount", d, r .. d, nil,
                    { "bind", "rdonly", "nosuid", "nodev", BINDREC } }
    end
  end
  for _, x in ipairs(opts.binds or {}) do
    s[#s + 1] = { "mkdir_p", r .. x[2] }
    s[#s + 1] = { "mount", x[1], r .. x[2], nil, x[3] or { "bind" } }
  end
  local rest = {
    { "mkdir_p", r .. "/tmp", "1777" },
    { "mkdir_p", r .. "/dev" },
    { "touch", r .. "/dev/null" },
    { "mount", "/dev/null", r .. "/dev/null", nil, { "bind" } },
    { "mkdir_p", r .. "/proc" },
    { "mount", "proc", r .. "/proc", "proc", { "nosuid", "nodev", "noexec" } },
    { "chdir", r },
    { "pivot_root", ".", "." },
    { "umount", ".", { "detach" } },
    { "chdir", "/" },
  }
  for _, x in ipairs(rest) do s[#s + 1] = x end
  return s
end

-- a whole plan: full isolation, the caller's ids mapped to 0 inside
function P.sandbox (t)
  local uid = select(2, core.getresuid())
  local gid = select(2, core.getresgid())
  local plan = {
    env = { PATH = "/usr/bin:/bin" },
    namespaces = { "user", "mount", "pid", "net", "uts", "ipc" },
    uidmap = { { 0, uid, 1 } }, gidmap = { { 0, gid, 1 } },
    steps = P.rootsteps(t.root),
  }
  for _, x in ipairs(t.steps or {}) do plan.steps[#plan.steps + 1] = x end
  for k, v in pairs(t) do
    if k ~= "steps" and k ~= "root" then plan[k] = v end
  end
  return plan
end

-- spawn, feed input, collect: {stdout=, stderr=, status=} or nil, err
function P.run (plan, input, timeout)
  local c, err = core.spawn(plan)
  if not c then return nil, err end
  local out, e, st = c:communicate(input, timeout or 30)
  c:close()
  if not out then return nil, e end
  return { stdout = out, stderr = e, status = st, reports = c:reports() }
end

-- sh -c script in a full sandbox
function P.sh (script, t)
  t = t or {}
  t.argv = { "sh", "-c", script }
  return P.run(P.sandbox(t), t.input)
end

-- this process's open fds and unreaped children, counted without
-- io.popen (whose pipe ends race with the listing).  The listing must not
-- race with the spawn that makes it either: ls runs once spawn has
-- returned (its report pipe closed) and the child object holds all it
-- will (pollfd: communicate makes its epoll fd only when it must wait),
-- and the object's own fds are not counted.
function P.fdcount ()
  local c = assert(core.spawn{ argv = { "/bin/sh", "-c",
                                        "read go && exec /bin/ls /proc/" ..
                                        core.getpid() .. "/fd" },
                               stdio = { "pipe", "pipe", "null" } })
  local own = { [c:pidfd()] = true, [c:getfd("stdin")] = true,
                [c:getfd("stdout")] = true, [c:pollfd()] = true }
  local out = c:communicate("go\n", 10)
  c:close()
  local n = 0
  for fd in out:gmatch("[^\n]+") do
    if not own[tonumber(fd)] then n = n + 1 end
  end
  return n
end

function P.childcount ()
  local h = io.open("/proc/" .. core.getpid() .. "/task/" .. core.getpid() ..
                    "/children")
  local s = h:read("a")
  h:close()
  local n = 0
  for _ in s:gmatch("%d+") do n = n + 1 end
  return n
end

return P
