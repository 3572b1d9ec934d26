-- bench/stdio.lua [MB]: stdio throughput through a sandbox, and the
-- parent's memory per supervised child.
--
-- 1. MB megabytes (default 1024) pumped through cat and back, the output
--    discarded, three ways in one run (best of 3 each):
--      plain pipe  bench/raw_pipe.c: C, poll, pipes to an unsandboxed cat,
--                  with the kernel's default pipe size (64 KiB) and with
--                  lunajail's (256 KiB)
--      lunajail    Lua through the child object: write/read/step on its
--                  aggregate fd, cat in a full sandbox (user ns when not
--                  root; pid, mount, net, uts, ipc; tmpfs root; ro /usr),
--                  and the same pump to an unsandboxed cat: what the
--                  sandbox itself costs
--      bwrap       raw_pipe pumping through `bwrap ... cat`
-- 2. 1,000 such sandboxes (each blocked in `read`) supervised at once
--    through lunajail.loop.poll from this Lua state: the parent's RSS and
--    Lua heap per child.

local core = require "lunajail.core"
require "lunajail"
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local B = require "common"

local MB = tonumber(arg[1]) or 1024
local root, uid = B.root, B.uid
local dir = arg[0]:match("^(.*)/bench/") or "."
local raw = dir .. "/build/raw_pipe"
local sh, best = B.sh, B.best

local function sandbox (argv) return B.sandbox(argv) end

-- MB megabytes through cat (sandboxed unless plain), from Lua; seconds
local function lunajail (plain)
  local chunk = string.rep("x", 1 << 20)
  local total = MB << 20
  local c = assert(core.spawn(plain and { argv = { "/bin/cat" } }
                              or sandbox { "cat" }))
  local fd = c:pollfd()
  local t0 = core.monotonic()
  local sent, got = 0, 0
  local item = { { fd = fd, events = "r" } }
  while got < total do
    if sent < total and c:pending() == 0 then   -- the rest waits, queued
      local n = c:write(chunk)
      if n then
        sent = sent + n
        if sent >= total then c:close_stdin() end
      end
    end
    while true do
      local data = c:read("stdout", 1 << 20)
      if not data then break end
      got = got + #data
    end
    if got < total then core.poll(item, 1) c:step() end
  end
  c:wait()
  c:close()
  return core.monotonic() - t0
end

local bwrap = B.bwrap("cat")
local have_bwrap = os.execute("command -v bwrap >/dev/null")

-- 1,000 sandboxes at once from one Lua state
local function rss ()
  for l in io.lines("/proc/self/status") do
    local kb = l:match("^VmRSS:%s+(%d+)")
    if kb then return tonumber(kb) end
  end
end
local _, hard = core.getrlimit("nofile")
assert(hard == "infinity" or hard >= 8192, "the 1,000-child test needs 8192 fds")
core.setrlimit("nofile", hard, hard)
local N = 1000
local loop = require("lunajail.loop.poll").new()
local plan = sandbox { "sh", "-c", "read x; echo $x" }
collectgarbage() collectgarbage()
local rss0, heap0 = rss(), collectgarbage("count")
local t0 = core.monotonic()
local children = {}
for i = 1, N do
  local c = assert(core.spawn(plan))
  children[i] = c
  loop:watch(c, { lines = true })
end
local spawned = core.monotonic() - t0
collectgarbage() collectgarbage()
local rss1, heap1 = rss(), collectgarbage("count")
for i = 1, N do children[i]:write(i .. "\n") children[i]:close_stdin() end
assert(loop:run(120))
local perchild = ("%d sandboxes supervised at once: spawned in %.2f s; parent " ..
  "RSS +%.1f KB and Lua heap +%.1f KB per child"):format(N, spawned,
  (rss1 - rss0) / N, (heap1 - heap0) / N)
loop, plan = nil, nil                             -- luacheck: ignore
collectgarbage()

local plain = best(function () return tonumber(sh(raw .. " " .. MB .. " 0 cat")) end, 3)
local plain256 = best(function ()
  return tonumber(sh(raw .. " " .. MB .. " 256 cat")) end, 3)
local lj = best(lunajail, 3)
local ljplain = best(function () return lunajail(true) end, 3)
local bw = have_bwrap and best(function ()
  return tonumber(sh(raw .. " " .. MB .. " 0 " .. bwrap)) end, 3)

print(("stdio: %d MB through cat and back, best of 3, as %s"):format(
  MB, root and "root" or "uid " .. uid))
print(("  plain pipe, C, unsandboxed cat   %6.3f s  %7.0f MB/s"):format(plain, MB / plain))
print(("  ... with 256 KiB pipes           %6.3f s  %7.0f MB/s  %.2fx the plain pipe")
      :format(plain256, MB / plain256, plain / plain256))
print(("  lunajail, Lua, unsandboxed cat   %6.3f s  %7.0f MB/s  %.2fx the plain pipe")
      :format(ljplain, MB / ljplain, plain / ljplain))
print(("  lunajail, Lua, sandboxed cat     %6.3f s  %7.0f MB/s  %.2fx the plain pipe")
      :format(lj, MB / lj, plain / lj))
if bw then
  print(("  bwrap (C pump), sandboxed cat    %6.3f s  %7.0f MB/s  %.2fx the plain pipe")
        :format(bw, MB / bw, plain / bw))
end

print(perchild)

