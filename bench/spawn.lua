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
-- holding 10 MB and one holding 2 GB of touched heap, alternating.

local core = require "lunajail.core"
require "lunajail"
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local B = require "common"

local N = tonumber(arg[1]) or 400
local ROUNDS = 8
local root, uid = B.root, B.uid
local dir = arg[0]:match("^(.*)/bench/") or "."
local raw = dir .. "/build/raw_spawn"
local sh, median = B.sh, B.median

local function plan (pid1)
  return B.sandbox({ "/bin/true" }, { proc = true, lo = true, pid1 = pid1,
                                      stdio = { "null", "inherit", "inherit" } })
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

local function external_cmd (cmd, out)
  for l in sh(cmd):gmatch("[^\n]+") do out[#out + 1] = tonumber(l) end
end

local function external (args, out) external_cmd(raw .. " " .. args, out) end

-- "heap MB N": N spawns from a parent holding MB of touched heap, one
-- figure per line (the parent-size comparison below runs this)
if arg[1] == "heap" then
  local mb, n, big = tonumber(arg[2]), tonumber(arg[3]), {}
  for i = 1, mb do big[i] = string.rep(string.char(i % 256), 1024 * 1024) end
  local s = {}
  lunajail(2, true, {})
  lunajail(n, true, s)
  assert(#big == mb)                               -- held until here
  print(table.concat(s, "\n"))
  os.exit(0)
end

local bwrap = B.bwrap("/bin/true", { proc = true })
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

-- the same spawn from a small and from a large parent: each a process of
-- its own (this script with "heap MB N"), rounds alternating
local small, large = {}, {}
local self = ("%s %s heap %%d %d"):format(B.lua, arg[0], per)
for _ = 1, ROUNDS do
  external_cmd(self:format(10), small)
  external_cmd(self:format(2048), large)
end
small, large = median(small), median(large)
print(("parent heap 10 MB: %.0f us, 2 GB: %.0f us per spawn (%.2fx)")
      :format(small, large, large / small))
