-- bench/spawn.lua [N]: the cost of one sandbox, three ways, in one run.
--
-- Each spawns /bin/true with the same isolation -- a user namespace when
-- not root; pid, mount, net, uts and ipc namespaces; a tmpfs root with a
-- read-only /usr (and /bin, /lib, /lib64 as symlinks into it); /proc;
-- pivot_root; loopback up; no_new_privs -- and waits for it to exit:
--   raw C     bench/raw_spawn.c, the least such a sandbox can cost
--   lunajail  core.spawn, the payload as pid 1 (as raw C does), and with
--             lunajail's PID 1 init (the default, as bwrap has its own)
--   bwrap     the same flags
-- Rounds alternate the three to spread machine noise; the figure is the
-- median over every run.  Then the same lunajail spawn from a parent
-- holding 10 MB and 2 GB of touched heap.

local core = require "lunajail.core"
require "lunajail"

local N = tonumber(arg[1]) or 400
local ROUNDS = 8
local root = select(2, core.getresuid()) == 0
local uid, gid = select(2, core.getresuid()), select(2, core.getresgid())
local dir = arg[0]:match("^(.*)/bench/") or "."
local raw = dir .. "/build/raw_spawn"

local function sh (cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  assert(p:close(), "failed: " .. cmd)
  return out
end

local function median (t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

local function plan (pid1)
  local r = "/tmp/r"
  local p = {
    argv = { "/bin/true" },
    namespaces = { "pid", "mount", "net", "uts", "ipc" },
    pid1 = pid1,
    stdio = { "null", "inherit", "inherit" },
    steps = {
      { "mount", nil, "/", nil, { "rec", "private" } },
      { "mount", "tmpfs", "/tmp", "tmpfs", { "nosuid", "nodev" } },
      { "mkdir_p", r },
      { "mount", "tmpfs", r, "tmpfs", { "nosuid", "nodev" }, "mode=0755" },
      { "mkdir_p", r .. "/usr" },
      { "mount", "/usr", r .. "/usr", nil, { "bind", "rdonly", "nosuid", "nodev" } },
      { "symlink", "usr/bin", r .. "/bin" },
      { "symlink", "usr/lib", r .. "/lib" },
      { "symlink", "usr/lib64", r .. "/lib64" },
      { "mkdir_p", r .. "/proc" },
      { "mount", "proc", r .. "/proc", "proc", { "nosuid", "nodev", "noexec" } },
      { "chdir", r },
      { "pivot_root", ".", "." },
      { "umount", ".", { "detach" } },
      { "chdir", "/" },
      { "ifup", "lo" },
      { "no_new_privs" },
    },
  }
  if not root then
    table.insert(p.namespaces, "user")
    p.uidmap, p.gidmap = { { 0, uid, 1 } }, { { 0, gid, 1 } }
  end
  return p
end

local function lunajail (n, pid1, out)
  local pl = plan(pid1)
  for _ = 1, n do
    local t0 = core.monotonic()
    local c = assert(core.spawn(pl))
    local st = c:wait()
    c:close()
    assert(st.code == 0, "sandbox failed")
    out[#out + 1] = (core.monotonic() - t0) * 1e6
  end
end

local function external (args, out)
  for l in sh(raw .. " " .. args):gmatch("[^\n]+") do
    out[#out + 1] = tonumber(l)
  end
end

local bwrap = "bwrap " .. (root and "" or "--unshare-user ") ..
  "--unshare-pid --unshare-net --unshare-uts --unshare-ipc " ..
  "--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib " ..
  "--symlink usr/lib64 /lib64 --proc /proc /bin/true"
local have_bwrap = os.execute("command -v bwrap >/dev/null")

local t = { raw = {}, lj1 = {}, ljinit = {}, bwrap = {} }
local per = math.max(1, N // ROUNDS)
lunajail(5, false, {})                       -- warm up: the init memfd, caches
for _ = 1, ROUNDS do
  external("sandbox " .. per, t.raw)
  lunajail(per, false, t.lj1)
  lunajail(per, true, t.ljinit)
  if have_bwrap then external("cmd " .. per .. " " .. bwrap, t.bwrap) end
end

local m = {}
for k, v in pairs(t) do m[k] = #v > 0 and median(v) or nil end
print(("spawn /bin/true, full isolation, %d runs each, as %s (uid %d)")
      :format(#t.raw, root and "root" or "an unprivileged user", uid))
print("median microseconds from clone to reaped:")
print(("  raw C clone+mount+pivot_root+exec   %8.0f"):format(m.raw))
print(("  lunajail, payload as pid 1          %8.0f   %.2fx raw C")
      :format(m.lj1, m.lj1 / m.raw))
print(("  lunajail, with its PID 1 init       %8.0f   %.2fx raw C")
      :format(m.ljinit, m.ljinit / m.raw))
if m.bwrap then
  print(("  bwrap, same flags (has a PID 1)     %8.0f   %.2fx raw C; lunajail " ..
         "%.2fx faster"):format(m.bwrap, m.bwrap / m.raw, m.bwrap / m.ljinit))
else
  print("  bwrap                               (not installed)")
end

-- the same spawn from a small and from a large parent
local function heap (mb)
  local big = {}                                   -- touched: rep writes it
  for i = 1, mb do big[i] = string.rep(string.char(i % 256), 1024 * 1024) end
  local s = {}
  lunajail(2, true, {})
  for _ = 1, ROUNDS do lunajail(per, true, s) end
  local r = median(s)
  assert(#big == mb)                               -- held until here
  collectgarbage()
  return r
end
local small = heap(10)
local large = heap(2048)
print(("parent heap 10 MB: %.0f us, 2 GB: %.0f us per spawn (%.2fx)")
      :format(small, large, large / small))
