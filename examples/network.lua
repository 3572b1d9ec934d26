-- examples/network.lua: a sandboxed service on a network of its own,
-- reached three ways (docs/guide.md, 9. Networking).
--
--   lua5.4 examples/network.lua          (as root: veth and pods)
-- A small TCP service runs in lunajail.container{} with a veth pair: the
-- caller reaches it at the sandbox's own address; a sidecar in the same
-- pod (net = {share = service}) reaches it on the pod's 127.0.0.1; a
-- third sandbox with net = "none" reaches neither. Unprivileged, veth and
-- pods are refused (they need root), and the service is published
-- through pasta instead when it can run (Debian's passt, and a
-- /dev/net/tun this user may open). The service and its clients are
-- lua5.4 with Debian's lua-socket, from the host's /usr.

local lj = require "lunajail"
local core = lj.core

-- the service: answers one line per connection with its host name
local SERVICE = [[
  local socket = require "socket"
  local s = assert(socket.bind("0.0.0.0", 8000))
  local name = io.open("/proc/sys/kernel/hostname"):read("l")
  print("ready") io.stdout:flush()
  while true do
    local c = s:accept()
    local line = c:receive("*l")
    c:send(("%s answers %q\n"):format(name, line or ""))
    c:close()
  end
]]

-- a client: connects to host:port, says hello, prints the answer
local function client (net, host, port)
  local code = ([[
    local socket = require "socket"
    local c, err = socket.connect(%q, %d)
    if not c then print("unreachable (" .. err .. ")") return end
    c:settimeout(5)
    c:send("hello\n")
    print((c:receive("*l")))
  ]]):format(host, port)
  local res = assert(lj.run(lj.container { argv = { "lua5.4", "-e", code }, net = net },
                            { timeout = 30 }))
  return (res.stdout:gsub("\n$", "")) .. (res.stderr ~= "" and " " .. res.stderr or "")
end

local function start (net)
  local service, err = lj.spawn(lj.container {
    hostname = "service", argv = { "lua5.4", "-e", SERVICE }, net = net,
  })
  if not service then return nil, err end
  assert(service:read_line("stdout", 10), "the service did not start")
  return service
end

local root = select(2, core.getresuid()) == 0
if root then
  -- the service at 10.231.7.2, the caller's end of the pair at .1
  local service = assert(start { veth = { address = "10.231.7.2/30",
                                          host_address = "10.231.7.1/30" } })
  print("the caller, at the veth address: " .. client("host", "10.231.7.2", 8000))
  print("a sidecar in its pod, on 127.0.0.1: " ..
        client({ share = service }, "127.0.0.1", 8000))
  print('a sandbox with net = "none": ' .. client("none", "10.231.7.2", 8000))
  service:close()                     -- the pair goes with the sandbox
  print("service: stopped")
else
  local _, err = pcall(start, { veth = { address = "10.231.7.2/30" } })
  print("veth, unprivileged: refused: " .. tostring(err))
  local tun = io.open("/dev/net/tun", "r+")
  if tun then tun:close() end
  local pasta = pcall(require("lunajail.pasta").find)
  if not (tun and pasta) then
    print("pasta: not here (" .. (pasta and "/dev/net/tun is not this user's to open"
                                  or "no pasta: apt-get install passt") .. ")")
    return
  end
  local port = 20000 + core.getpid() % 20000
  local service = assert(start { pasta = { tcp = { [port] = 8000 } } })
  print(("the caller, through pasta's forward of port %d: "):format(port) ..
        client("host", "127.0.0.1", port))
  service:close()
  print("service: stopped")
end
