-- lunajail.pasta: user-mode networking for a sandbox's own network
-- namespace through pasta (Debian's passt package): the recipe field's
-- checks, and the exact command line.
--
--   net = { pasta = {
--     tcp = { [8080] = 80, 8443, ["9000-9009"] = 9100 },  -- host -> sandbox
--     udp = { 5353 },
--     tcp_host = { [5432] = 5432 },  -- the sandbox's own loopback port ->
--     udp_host = { ... },            --   the host's (pasta -T, -U)
--     host_loopback = false,         -- true: the gateway address reaches
--                                    --   the host's loopback (pasta's mapping)
--     ipv6 = true,                   -- false: IPv4 only
--   } }
--
-- A forward is host port = sandbox port; a list entry forwards a port to
-- itself; a range "a-b" maps to a range of the same length (from its
-- first port when the value is a number).  No host port may be
-- forwarded twice (within tcp, udp, tcp_host or udp_host).  Nothing is
-- forwarded unless listed: pasta's own default ("auto": every port bound
-- on either side) is turned off, and so is its mapping of the gateway to
-- the host's loopback unless host_loopback is true.
--
--   pasta.check(v, path)      -> the normal form, or raises naming the field
--   pasta.argv(cfg, opts)     -> {"/usr/bin/pasta", "-f", ...}
--   pasta.find(PATH)          -> the pasta binary, or raises naming the package
--   pasta.start(sandbox, cfg, timeout, userns)
--                             -> pasta's child object, once it has configured
--                                the sandbox's namespace | nil, err
--
-- lunajail.spawn starts pasta for a recipe with net = {pasta = ...}: the
-- sandbox's setup waits at a gate step (csrc/gate.c) until pasta is
-- ready, so the payload never sees a half-made network; pasta's own
-- failure is the spawn's error; pasta is stopped with the sandbox.

local core = require "lunajail.core"

local M = {}

local function fail (path, fmt, ...)
  error("lunajail: recipe." .. path .. ": " .. fmt:format(...), 0)
end

local keys = { tcp = true, udp = true, tcp_host = true, udp_host = true,
               host_loopback = true, ipv6 = true }
local KEYS = "host_loopback, ipv6, tcp, tcp_host, udp, udp_host"

-- a port or "a-b": lo, hi; what: "host" or "sandbox"
local function ports (v, p, what)
  if math.type(v) == "integer" then
    if v < 1 or v > 65535 then fail(p, "%s port %d out of range [1, 65535]", what, v) end
    return v, v
  end
  local a, b
  if type(v) == "string" then a, b = v:match("^(%d+)%-(%d+)$") end
  a, b = tonumber(a), tonumber(b)
  if not a then
    fail(p, "%s port (1 to 65535) or range \"a-b\" expected, got %s%s", what,
         type(v) == "string" and ("%q"):format(v) or tostring(v),
         type(v) == "string" and v:match("^%d+$") and " (give a port as a number)" or "")
  end
  if a < 1 or b > 65535 or a > b then
    fail(p, "%s ports \"%s\" out of [1, 65535] or backwards", what, v)
  end
  return a, b
end

-- {[host] = sandbox, port, ...} -> sorted list of {lo, hi, to}
local function forwards (v, p)
  if type(v) ~= "table" then
    fail(p, "a table of forwards {[host port] = sandbox port, port, ...} expected, got %s",
         type(v))
  end
  local out = {}
  for k, x in pairs(v) do
    local kp = ("%s[%s]"):format(p, type(k) == "string" and ("%q"):format(k) or tostring(k))
    local lo, hi, to
    if math.type(k) == "integer" and k >= 1 and k <= #v then     -- a list entry
      lo, hi = ports(x, kp, "host")
      to = lo
    else
      lo, hi = ports(k, kp, "host")
      local tlo, thi = ports(x, kp, "sandbox")
      if math.type(x) == "integer" then thi = tlo + (hi - lo) end
      if thi - tlo ~= hi - lo or thi > 65535 then
        fail(kp, "%s and %s are not of the same length", tostring(k), tostring(x))
      end
      to = tlo
    end
    out[#out + 1] = { lo, hi, to }
  end
  table.sort(out, function (a, b) return a[1] < b[1] end)
  for i = 2, #out do
    if out[i][1] <= out[i - 1][2] then
      local function show (f) return f[1] == f[2] and tostring(f[1]) or f[1] .. "-" .. f[2] end
      fail(p, "host ports %s and %s overlap: a port is forwarded once",
           show(out[i - 1]), show(out[i]))
    end
  end
  return out
end

function M.check (v, p)
  if type(v) ~= "table" then fail(p, "table expected, got %s", type(v)) end
  local out = { host_loopback = false, ipv6 = true }
  for k, x in pairs(v) do
    if not keys[k] then fail(p, "unknown key %s (valid: %s)", tostring(k), KEYS) end
    local kp = p .. "." .. k
    if k == "host_loopback" or k == "ipv6" then
      if type(x) ~= "boolean" then fail(kp, "true or false expected, got %s", type(x)) end
      out[k] = x
    else
      out[k] = forwards(x, kp)
    end
  end
  return out
end

local function spec (list)
  if not list or #list == 0 then return "none" end
  local parts = {}
  for _, f in ipairs(list) do
    local lo, hi, to = f[1], f[2], f[3]
    if lo == hi then parts[#parts + 1] = lo == to and tostring(lo) or lo .. ":" .. to
    else parts[#parts + 1] = ("%d-%d:%d-%d"):format(lo, hi, to, to + hi - lo) end
  end
  return table.concat(parts, ",")
end

-- pasta's command line for a sandbox: opts.netns (a path: an inherited
-- fd's /proc/self/fd/N, which works whatever capabilities the sandbox
-- holds) or opts.pid (/proc/PID/ns/net: pasta drops its capabilities
-- before it opens it, so the kernel refuses it while the sandbox's
-- process holds capabilities pasta lacks); opts.userns or, with
-- opts.pid and opts.user, /proc/PID/ns/user (the sandbox's own user
-- namespace: an unprivileged caller's pasta needs it to configure the
-- namespace); opts.root: the caller is root (pasta would switch to
-- nobody, who cannot enter the namespace); opts.pidfile: where pasta
-- writes its pid once the namespace is configured and the forwards
-- bound (a pipe's /proc/self/fd/N is a readiness signal);
-- opts.path: the binary (default pasta.find()).
function M.argv (cfg, opts)
  local netns = opts.netns or opts.pid and ("/proc/%d/ns/net"):format(opts.pid)
  assert(netns, "pasta.argv: opts.netns or opts.pid expected")
  local a = { opts.path or M.find(), "-f", "-q", "--config-net", "--netns", netns }
  local userns = opts.userns or opts.user and opts.pid and ("/proc/%d/ns/user"):format(opts.pid)
  if userns then a[#a + 1] = "--userns" a[#a + 1] = userns end
  if opts.root then a[#a + 1] = "--runas" a[#a + 1] = "0:0" end
  for _, o in ipairs { { "-t", "tcp" }, { "-u", "udp" }, { "-T", "tcp_host" },
                       { "-U", "udp_host" } } do
    a[#a + 1] = o[1]
    a[#a + 1] = spec(cfg[o[2]])
  end
  if not cfg.host_loopback then a[#a + 1] = "--no-map-gw" end
  if cfg.ipv6 == false then a[#a + 1] = "-4" end
  if opts.pidfile then a[#a + 1] = "-P" a[#a + 1] = opts.pidfile end
  return a
end

-- pasta for a running sandbox (in setup, at its gate): the sandbox's
-- namespaces by fds pasta inherits (it opens /proc/PID/ns/* only after
-- dropping its capabilities, and the runner is not dumpable), its pid on
-- its stdout once the namespace is configured and the forwards bound.
-- pasta is fork+exec'd by core.spawn with nothing of a sandbox (it must
-- reach the host's network), dies with us, and is its own session.
function M.failure (what, text)
  return setmetatable({ op = "pasta", field = "net.pasta", step = 0,
                        message = "step 0 pasta: " .. what ..
                                  (text ~= "" and (": " .. text) or "") },
                      { __name = "lunajail.StepError",
                        __tostring = function (e) return e.message end })
end

function M.start (sandbox, cfg, timeout, userns)
  local pidfd = sandbox:pidfd()
  local netfd, err = core.nsfd(pidfd, "net")
  if not netfd then return nil, M.failure("the sandbox's network namespace", err) end
  local userfd
  if userns then
    userfd, err = core.nsfd(pidfd, "user")
    if not userfd then
      core.close(netfd)
      return nil, M.failure("the sandbox's user namespace", err)
    end
  end
  local root = select(2, core.getresuid()) == 0
  local ok, path = pcall(M.find)
  if not ok then
    core.close(netfd)
    if userfd then core.close(userfd) end
    return nil, M.failure("not found", path)
  end
  local argv = M.argv(cfg, { path = path, netns = "/proc/self/fd/3",
                             userns = userfd and "/proc/self/fd/4" or nil,
                             root = root, pidfile = "/proc/self/fd/1" })
  local p
  p, err = core.spawn{ argv = argv, env = {}, fds = { [3] = netfd, [4] = userfd },
                       stdio = { "null", "pipe", "pipe" }, pid1 = false,
                       new_session = true, die_with_parent = true }
  core.close(netfd)
  if userfd then core.close(userfd) end
  if not p then return nil, M.failure("cannot start " .. path, tostring(err)) end
  local line = p:read_line("stdout", timeout)
  if not line or not line:match("^%d+$") then
    p:kill("KILL")
    local st = p:wait(5)
    local text = (p:read_all("stderr", 1) or ""):gsub("%s+$", ""):gsub("\n", "; ")
    p:close()
    return nil, M.failure(line == nil and st and not st.running
                        and ("exited (%s)"):format(st.signaled and st.signame or
                                                   "code " .. tostring(st.code))
                        or "not ready in time", text)
  end
  return p
end

-- {====== Beside the sandbox ======}
-- pasta's child object as the sandbox's companion (lunajail.child): it
-- is stopped (SIGKILL, waited for: its ports are free again) once the
-- sandbox has ended or its object is closed; with the sandbox's
-- setkill(false) it runs on with it, until this process exits
-- (die_with_parent): pasta holds the namespace by an fd, not a pid.
local Companion = { kind = "pasta" }
Companion.__index = Companion

function M.companion (p) return setmetatable({ p = p, keep = false }, Companion) end
function Companion:finish () self:close() end
function Companion.kill () end           -- the sandbox's end stops it
function Companion:setkill (on) self.keep = not on end
function Companion:close ()
  local p = self.p
  if not p then return end
  self.p = nil
  if self.keep then p:setkill(false)
  else                                  -- gone, its ports free for the next
    p:kill("KILL")
    p:wait(2)
  end
  p:close()
end

-- }======

-- the pasta binary on PATH (default: the usual system directories)
function M.find (path)
  path = path or "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  for dir in path:gmatch("[^:]+") do
    local f = dir .. "/pasta"
    local st = core.stat(f, true)
    if st and st.type == "file" then return f end
  end
  error("lunajail: net.pasta: no pasta on PATH (" .. path .. "): install Debian's " ..
        "passt package (apt-get install passt)", 0)
end

return M
