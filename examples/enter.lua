-- examples/enter.lua: into a running sandbox, as `podman exec` or
-- `nsenter` would -- with the restrictions of the sandbox's own payload.
--
--   lua5.4 examples/enter.lua
-- Starts a small service in lunajail.container{}, enters it with a shell
-- command (a health check: what it sees, who it is) and reads the answer,
-- then runs a Lua function in it, and stops the service.

local lj = require "lunajail"

-- the service: a heartbeat in /tmp/beat, five a second
local service = assert(lj.spawn(lj.container {
  hostname = "service",
  argv = { "sh", "-c", [[
    i=0
    echo ready
    while :; do i=$((i + 1)); echo "tick $i" >> /tmp/beat; sleep 0.2; done
  ]] },
}))
assert(service:read_line("stdout", 10), "the service did not start")
print(("service: running (pid %d here)"):format(service.pid))

-- a shell command in the sandbox: its host name, files and processes; the
-- uid, capabilities and seccomp filter of the service itself
local check = assert(service:enter { argv = { "sh", "-c", [[
  sleep 0.5
  echo "host name: $(hostname)"
  echo "last beat: $(tail -n 1 /tmp/beat)"
  echo "my pid:    $$ (in the sandbox's pid namespace)"
  echo "the service's uid: $(grep ^Uid: /proc/2/status | cut -f2), mine: $(id -u)"
  grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status
  touch /usr/x 2>/dev/null || echo "/usr:      read-only, as for the service"
  ps -e -o pid,comm
]] } })
local out, err, st = check:communicate(nil, 10)
check:close()
print(("health check (exit %s):"):format(st.code))
for line in out:gmatch("[^\n]+") do print("  " .. line) end
if err ~= "" then io.write(err) end

-- a Lua function in the sandbox (a fork of this script, entered): its
-- values come back
local beats, pid = service:enter(function ()
  local n = 0
  for _ in io.lines("/tmp/beat") do n = n + 1 end
  return n, require("lunajail.core").getpid()
end)
print(("a function in it counted %d beats, as pid %d there"):format(beats, pid))

service:terminate(1)
service:close()
print("service: stopped")
