-- bench/net.lua [N]: what each network mode costs to start, as root.
--
-- lj.run(lj.container{argv = {"/bin/true"}, net = ...}) for
--   none    a new namespace, lo up (the default)
--   host    no network namespace; the name service files bound
--   veth    a new namespace made by the unshare_veth step, a veth pair to
--           the caller's, addresses on both ends, lo up
--   share   joining a running sandbox's namespace (a pod member)
--   pasta   a new namespace that pasta (Debian's passt) configures while
--           the setup waits at its gate, one forward bound; pasta stopped
--           after the sandbox (where pasta is installed)
-- alternating, in rounds, median microseconds per run.
-- Everything happens in a network namespace this benchmark makes for
-- itself (lo up, and a veth pair with nothing behind it as its
-- "external" interface, with a default route, for pasta to copy), never
-- in the host's.

package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lj, core = B.lj, B.core

local N = tonumber(arg[1]) or 200
local ROUNDS = 8

if not B.root then
  print("bench/net.lua: veth and pods need root; skipped")
  return
end
assert(core.unshare{"net"})
assert(core.ifup("lo"))
assert(core.veth("ext0", "ext1"))
assert(core.addr_add("ext0", "192.0.2.1/24"))
assert(core.ifup("ext0"))
assert(core.ifup("ext1"))
assert(core.route_add("default", "192.0.2.254", "ext0"))

local pod = assert(lj.spawn(lj.container{ argv = {"/bin/sleep", "3600"} }))

local modes = {
  { "none", {} },
  { "host", { net = "host" } },
  { "veth", { net = { veth = { address = "10.200.0.2/30", host_address = "10.200.0.1/30" } } } },
  { "share", { net = { share = pod } } },
}
local havepasta, pasta = pcall(require("lunajail.pasta").find)
if havepasta then
  modes[#modes + 1] = { "pasta", { net = { pasta = { tcp = { 18080 } } } } }
end

local times = {}
local function run (m, n)
  local t = times[m[1]] or {}
  times[m[1]] = t
  for _ = 1, n do
    local r = lj.container(m[2]):with{ argv = {"/bin/true"} }
    local t0 = core.monotonic()
    local res = assert(lj.run(r))
    assert(res.code == 0, m[1] .. ": the sandbox failed")
    t[#t + 1] = (core.monotonic() - t0) * 1e6
  end
end

for _ = 1, ROUNDS do
  for _, m in ipairs(modes) do run(m, N // ROUNDS) end
end
pod:kill("SIGKILL")
pod:wait()
pod:close()

local base = B.median(times.none)
print(("lj.run(lj.container{...}) of /bin/true, %d runs each, median"):format(N))
print(("%-8s %10s %8s"):format("net", "us", "ratio"))
for _, m in ipairs(modes) do
  local v = B.median(times[m[1]])
  print(("%-8s %10.0f %8.2f"):format(m[1], v, v / base))
end

if not havepasta then print("pasta: " .. pasta) end
