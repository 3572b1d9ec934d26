-- bench/common.lua: what bench/spawn.lua and bench/stdio.lua share --
-- the plan of a fully isolated sandbox, and small helpers.

local core = require "lunajail.core"

local M = {}

M.root = select(2, core.getresuid()) == 0
M.lua = arg and arg[-1] or "lua5.4"        -- this interpreter, for sub-runs
M.uid, M.gid = select(2, core.getresuid()), select(2, core.getresgid())

function M.sh (cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  assert(p:close(), "failed: " .. cmd)
  return out
end

function M.median (t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

function M.best (f, n)
  local b
  for _ = 1, n do
    local t = f()
    if not b or t < b then b = t end
  end
  return b
end

-- a user namespace when not root; pid, mount, net, uts and ipc namespaces;
-- a tmpfs root with a read-only /usr and /bin, /lib, /lib64 linked into
-- it; pivot_root; no_new_privs; and, with opts.proc and opts.lo, a /proc
-- and loopback up (what bwrap's --proc and --unshare-net do)
function M.sandbox (argv, opts)
  opts = opts or {}
  local r = "/tmp/r"
  local steps = {
    { "mount", nil, "/", nil, { "rec", "private" } },
    { "mount", "tmpfs", "/tmp", "tmpfs", { "nosuid", "nodev" } },
    { "mkdir_p", r },
    { "mount", "tmpfs", r, "tmpfs", { "nosuid", "nodev" }, "mode=0755" },
    { "mkdir_p", r .. "/usr" },
    { "mount", "/usr", r .. "/usr", nil, { "bind", "rdonly", "nosuid", "nodev" } },
    { "symlink", "usr/bin", r .. "/bin" },
    { "symlink", "usr/lib", r .. "/lib" },
    { "symlink", "usr/lib64", r .. "/lib64" },
  }
  if opts.proc then
    steps[#steps + 1] = { "mkdir_p", r .. "/proc" }
    steps[#steps + 1] = { "mount", "proc", r .. "/proc", "proc", { "nosuid", "nodev", "noexec" } }
  end
  for _, s in ipairs { { "chdir", r }, { "pivot_root", ".", "." },
                       { "umount", ".", { "detach" } }, { "chdir", "/" } } do
    steps[#steps + 1] = s
  end
  if opts.lo then steps[#steps + 1] = { "ifup", "lo" } end
  steps[#steps + 1] = { "no_new_privs" }
  local p = {
    argv = argv, env = { PATH = "/usr/bin:/bin" }, pid1 = opts.pid1,
    namespaces = { "pid", "mount", "net", "uts", "ipc" },
    stdio = opts.stdio, steps = steps,
  }
  if not M.root then
    table.insert(p.namespaces, "user")
    p.uidmap, p.gidmap = { { 0, M.uid, 1 } }, { { 0, M.gid, 1 } }
  end
  return p
end

-- the same flags for bwrap
function M.bwrap (cmd, opts)
  opts = opts or {}
  return "bwrap " .. (M.root and "" or "--unshare-user ") ..
    "--unshare-pid --unshare-net --unshare-uts --unshare-ipc " ..
    "--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib " ..
    "--symlink usr/lib64 /lib64 " .. (opts.proc and "--proc /proc " or "") .. cmd
end

return M
