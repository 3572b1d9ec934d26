-- lunajail.presets: the recipes lunajail starts from.
--
-- container   the secure default (see docs/guide.md for every step's why)
-- empty       nothing at all: build isolation up one field at a time
-- shell       an interactive shell in a container, on a pty
-- build       a container with a writable work directory bound at /work
--             (as root: an owner bind when the leased uid could not write it)
-- untrusted   a container for code you do not trust: strict seccomp,
--             tight limits (a cgroup's for the tree where there can be
--             one), a 1 MiB /dev/shm
-- Each returns a plain table of recipe fields, made for the calling
-- process (root or not).

local core = require "lunajail.core"
local recipe = require "lunajail.recipe"
local cgroup = require "lunajail.cgroup"

local M = {}

local function root () return select(2, core.getresuid()) == 0 end

-- the container's mounts; shm_size: /dev/shm's (nil: compile.SHM_SIZE)
local function mounts (shm_size)
  return {
    { "proc", "/proc" },
    { "dev", "/dev", shm_size = shm_size },
    -- the compiler gives each tmpfs one inode per 4 KiB of its size
    { "tmpfs", "/tmp", size = "4m", mode = "1777", noexec = true },
    { "tmpfs", "/home", size = "8m", mode = "0700", owner = true, noexec = true },
  }
end

-- a preset's nice value: n, or, for an unprivileged caller already
-- nicer than n, its own (lowering the nice value needs CAP_SYS_NICE; a
-- preset must work under `nice make test`)
local function nice (n)
  if root() then return n end
  return math.max(n, core.getpriority() or n)
end

function M.container ()
  -- cgroup: /proc/self/cgroup shows "/", not the caller's place in the host's tree;
  -- the net namespace comes with net = "none" (and goes with net = "host")
  local ns = { "cgroup", "ipc", "mount", "pid", "uts" }
  if not root() then ns[#ns + 1] = "user" end
  return {
    namespaces = ns,
    net = "none",
    hostname = "sandbox",
    root = "tmpfs",
    -- /etc/alternatives: Debian's symlinks for cc, awk, editor, ... (when present)
    system = { "/bin", "/sbin", "/usr", "/lib", "/lib64", "/etc/alternatives" },
    mounts = mounts(),
    rlimits = { core = 0 },
    groups = {},
    uid = "auto", gid = "auto",
    caps = {},
    no_new_privs = true,
    seccomp = "default",
    priority = nice(0),
    pid1 = true, die_with_parent = true, new_session = true,
    env = { PATH = "/usr/local/bin:/usr/bin:/bin" },
    cwd = "/",
  }
end

function M.empty ()
  return {}
end

function M.shell ()
  return {
    argv = { "/bin/sh", "-i" },
    stdio = "pty",
    env = { TERM = os.getenv("TERM") or "xterm", HOME = "/home" },
    cwd = "/home",
  }
end

-- the leased uid of a sandbox of root's may write dir: its modes let
-- any uid in (o+wx: 0777, 1777), or it is not there to say (the
-- compiler names a missing source)
local function anyone (dir)
  local st = core.stat(dir)
  return not st or st.type ~= "dir" or tonumber(st.mode, 8) & 3 == 3
end

-- build{work = "/host/dir"}: the directory read-write at /work.  As root,
-- with the leased uid (t.uid nil or "auto"), a work dir that uid could
-- not write is an owner bind: idmapped, written as the directory's
-- owner, with the set-id guard (compile.lua, seccomp.lua)
function M.build (work, t)
  if type(work) ~= "string" then error("lunajail: build: work = \"/host/dir\" expected", 0) end
  local uid = t and t.uid
  local owned = root() and (uid == nil or uid == "auto") and not anyone(work) or nil
  return {
    mounts = {
      { "bind", work, "/work", owner = owned },
      -- compilers write here: the container's /tmp replaced, not covered
      { "tmpfs", "/tmp", size = "256m", mode = "1777", replace = true },
    },
    cwd = "/work",
    env = { HOME = "/home", TMPDIR = "/tmp" },
    rlimits = { nproc = 1024, nofile = 4096 },
  }
end

-- untrusted's limits for the whole tree (a cgroup): rlimits bound each
-- process, and a payload that relays its work to fresh children escapes
-- them; the cgroup bounds the sandbox -- 512 MiB of memory and no swap,
-- 64 processes, one core's worth of CPU time per period, however many
-- processes share it
M.UNTRUSTED_LIMITS = { memory = "512m", swap = "0", pids = 64, cpu = 1 }

-- over the container: its mounts again, with a 1 MiB /dev/shm; the tree's
-- limits where this process can have a cgroup (root; a delegated v2
-- cgroup), see docs/guide.md "Limits"
function M.untrusted ()
  local limits
  if cgroup.available() then
    limits = {}
    for k, v in pairs(M.UNTRUSTED_LIMITS) do limits[k] = v end
  end
  return {
    mounts = recipe.replace(mounts("1m")),
    seccomp = "strict",
    rlimits = { as = 512 * 1024 * 1024, cpu = 10, fsize = 16 * 1024 * 1024,
                nofile = 64, nproc = 64 },
    priority = nice(10),
    limits = limits,
  }
end

return M
