-- examples/code-runner.lua: a code-runner HTTP/1.1 server on libuv
-- (Debian: lua-luv), plain uv TCP, no HTTP library.
--
--   lua5.4 examples/code-runner.lua [--port N] [--host ADDR] [--bwrap]
--          [--timeout SECONDS] [--max-output BYTES] [--max-running N]
--
--   POST /run    the body (a Lua snippet, at most 64 KiB) runs in
--                lunajail.untrusted{}; what it prints (stdout and stderr)
--                comes back chunked as it arrives.  The trailer
--                X-Status says how it ended: "exit N", "signal SIGNAME",
--                "timeout" (the wall timeout, default 5 s) or
--                "output_limit" (more than --max-output bytes, default
--                1 MiB); a run stopped by a wall also ends its body with
--                a line saying so.  A client that goes away kills its
--                sandbox.
--   GET /ping    "pong", at once, however busy the server is
--   GET /stats   live and queued runs, the spawn call's time, VmRSS
--
-- --port 0 (the default) takes a free port; the first line on stdout
-- says which ("code-runner: listening on http://127.0.0.1:PORT/ ...").
-- --bwrap runs the same snippets in bubblewrap, spawned with uv.spawn,
-- with flags equivalent to untrusted's (bench/server.lua compares them).
--
-- The loop never waits on a sandbox: a request is queued, and a check
-- handle starts at most one sandbox per turn of the loop, so /ping and
-- the other connections are served between spawns.  While a client's
-- socket has more than HIGH bytes queued, its sandbox's output is paused
-- (the sandbox blocks in write), and resumed when the queue drains below
-- LOW: a slow reader costs the server no more than that.  The spawn is
-- asynchronous (lj.spawn(recipe, {async = true})): it returns before the
-- sandbox's setup, whose end (or step error) arrives on the child's
-- pollfd like its output; what the call still holds the loop for (the
-- clone, the id lease, untrusted's cgroups) is measured in docs/child.md,
-- "Embedding in a server".

local uv = require "luv"
local lj = require "lunajail"
local core = lj.core

-- {====== Options ======}

local opt = { port = 0, host = "127.0.0.1", bwrap = false, timeout = 5,
              max_output = 1 << 20, max_running = 64 }
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    local name = a:match("^%-%-([%w-]+)$")
    local key = name and name:gsub("-", "_")
    if key == "bwrap" then
      opt.bwrap = true
    elseif key and opt[key] ~= nil and arg[i + 1] then
      if key == "host" then opt.host = arg[i + 1]
      else opt[key] = assert(tonumber(arg[i + 1]), "--" .. name .. ": a number expected") end
      i = i + 1
    else
      io.stderr:write("usage: code-runner.lua [--port N] [--host ADDR] [--bwrap] " ..
                      "[--timeout S] [--max-output BYTES] [--max-running N]\n")
      os.exit(2)
    end
    i = i + 1
  end
end

local MAX_BODY = 64 * 1024          -- a snippet's size
local MAX_HEAD = 16 * 1024          -- request line and headers
local HIGH, LOW = 64 * 1024, 16 * 1024   -- back-pressure: a socket's write queue

-- }======


-- {====== Sandboxes: one interface, two implementations ======}
-- start(snippet, h) -> run handle {pause, resume, kill, close}, or nil, err;
-- h.data(s) as output arrives, then h.exit(how) once, with how "exit N"
-- or "signal NAME", after the output has all been delivered.

local sandbox = {}

-- lunajail: untrusted's recipe built once (so its plan is compiled once);
-- each snippet goes to the sandboxed lua5.4 on its stdin ("lua5.4 -")
local recipe = lj.untrusted { argv = { "lua5.4", "-" }, stdio = { "pipe", "pipe", "stdout" } }

local function howof (st)
  if st.exited then return "exit " .. st.code end
  if st.signaled then return "signal " .. st.signame end
  return "unknown " .. tostring(st.reason)
end

function sandbox.lunajail (snippet, h)
  -- async: the child at once, its setup going on; the pump below sees it
  -- start (or its step error) on the child's pollfd, like its output
  local child, err = lj.spawn(recipe, { async = true })
  if not child then return nil, tostring(err) end
  child:write(snippet)                -- fits the pipe: at most 64 KiB
  child:close_stdin()
  local poll = uv.new_poll(assert(child:pollfd()))
  local done, paused = false, false
  local run = {}
  local function pump ()
    if done then return end
    child:step()
    local started, serr = child:started()
    if started == false then return end  -- in setup
    if started == nil then               -- setup failed: the step error
      run.close()
      return h.exit("setup_error " .. tostring(serr):gsub("[\r\n]", " "))
    end
    if not paused then
      while true do
        local s, e = child:read("stdout")
        if not s then
          if e == "closed" then
            local st = child:status()
            if not st.running then
              run.close()
              h.exit(howof(st))
            end
          end
          break
        end
        h.data(s)
        if paused or done then break end
      end
    end
  end
  function run.pause ()
    if done or paused then return end
    paused = true
    poll:stop()
  end
  function run.resume ()
    if done or not paused then return end
    paused = false
    poll:start("r", pump)
    pump()
  end
  function run.kill () if not done then child:kill("KILL") end end
  function run.close ()               -- closing a running child kills it
    if done then return end
    done = true
    poll:stop()
    poll:close()
    child:close()
  end
  poll:start("r", pump)
  return run
end

-- bwrap: the flags of bench/common.lua's bwrap_args, untrusted's strict
-- seccomp filter (fd 3), and untrusted's rlimits and nice value through
-- prlimit and nice inside the sandbox (bwrap has neither)
local bwrap_argv, seccomp_path
if opt.bwrap then
  seccomp_path = os.tmpname()
  local filter
  for _, s in ipairs(recipe:steps().steps) do
    if s[1] == "seccomp" then filter = type(s[2]) == "string" and s[2] or assert(s[2]:export()) end
  end
  local f = assert(io.open(seccomp_path, "wb"))
  f:write((assert(filter, "untrusted has a seccomp step")))
  f:close()
  local root = select(2, core.getresuid()) == 0
  local a = { "--unshare-all" }
  local function add (...) for _, w in ipairs { ... } do a[#a + 1] = w end end
  if io.open("/proc/self/ns/cgroup") then add("--unshare-cgroup") end
  if not root then add("--unshare-user") end
  add("--die-with-parent", "--new-session", "--cap-drop", "ALL")
  for _, d in ipairs { "/bin", "/sbin", "/usr", "/lib", "/lib64", "/etc/alternatives" } do
    local target = core.readlink and core.readlink(d)
    if target then add("--symlink", target, d)
    elseif io.open(d) then add("--ro-bind", d, d) end
  end
  add("--proc", "/proc", "--dev", "/dev",
      "--size", "4194304", "--perms", "1777", "--tmpfs", "/tmp",
      "--size", "8388608", "--perms", "0700", "--tmpfs", "/home",
      "--hostname", "sandbox", "--seccomp", "3", "--clearenv",
      "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--chdir", "/", "--",
      "prlimit", "--as=536870912", "--cpu=10", "--fsize=16777216", "--nofile=64",
      "--nproc=64", "--core=0", "--", "nice", "-n", "10", "lua5.4", "-")
  bwrap_argv = a
end

local SIGNAME = { [1] = "HUP", [2] = "INT", [6] = "ABRT", [9] = "KILL", [11] = "SEGV",
                  [13] = "PIPE", [15] = "TERM", [24] = "XCPU", [25] = "XFSZ" }

function sandbox.bwrap (snippet, h)
  local fd = assert(uv.fs_open(seccomp_path, "r", 0))   -- bwrap reads it to its end
  local p = assert(uv.pipe({ nonblock = true }, { nonblock = false }))  -- stdout and stderr
  local sin, out = uv.new_pipe(false), uv.new_pipe(false)
  out:open(p.read)
  local done, paused, status, eof = false, false, nil, false
  local run = {}
  local function finish ()
    if status and eof and not done then
      run.close()
      h.exit(status)
    end
  end
  local proc, pid
  proc, pid = uv.spawn("bwrap", { args = bwrap_argv, stdio = { sin, p.write, p.write, fd } },
    function (code, sig)
      status = sig ~= 0 and ("signal SIG" .. (SIGNAME[sig] or tostring(sig))) or ("exit " .. code)
      if done then proc:close() else finish() end
    end)
  uv.fs_close(fd)
  uv.fs_close(p.write)
  if not proc then
    sin:close()
    out:close()
    return nil, "bwrap: " .. tostring(pid)
  end
  sin:write(snippet)
  sin:shutdown(function () if not sin:is_closing() then sin:close() end end)
  local function onread (err, s)
    if done then return end
    if s then h.data(s)
    else                              -- EOF (or an error): the output is over
      if err then io.stderr:write("code-runner: bwrap's pipe: ", err, "\n") end
      eof = true
      out:read_stop()
      finish()
    end
  end
  function run.pause ()
    if done or paused then return end
    paused = true
    out:read_stop()
  end
  function run.resume ()
    if done or not paused then return end
    paused = false
    out:read_start(onread)
  end
  function run.kill () if status == nil then proc:kill("sigkill") end end
  function run.close ()                -- the process handle goes once reaped (libuv
    if done then return end            -- reaps only the processes it still has)
    done = true
    if status == nil then proc:kill("sigkill") end
    for _, hd in ipairs { out, sin, status and proc or nil } do
      if not hd:is_closing() then hd:close() end
    end
  end
  out:read_start(onread)
  return run
end

local start = opt.bwrap and sandbox.bwrap or sandbox.lunajail

-- a closed child still running is reaped once it exits: the Lua state's
-- reaper fd is readable then, and core.reap() takes exactly those (no timer)
if not opt.bwrap then
  local reaper = uv.new_poll(assert(core.reaperfd()))
  reaper:start("r", function () core.reap() end)
  reaper:unref()                       -- it alone keeps no loop running
end

-- }======


-- {====== Runs: queued, started one per loop turn ======}

local queue, qhead, qtail = {}, 1, 0    -- runs waiting for a slot
local active = {}                       -- runs started, not yet ended (a set)
local live = 0
local stats = { spawns = 0, failed = 0, ended = 0, times = {} }   -- times: µs, last 4096
local kick

local function qlen () return qtail - qhead + 1 end

-- the end of a run: its handles closed (a sandbox still running is killed)
local function ended (r)
  if not active[r] then return end
  active[r] = nil
  live = live - 1
  stats.ended = stats.ended + 1
  r.timer:close()
  local sb = r.sb
  r.sb = nil
  sb.close()
  kick()
end

local function spawn1 (r)
  local h = {}
  local c = r.conn
  function h.data (s)
    if r.stopped then return end
    if r.sent + #s > opt.max_output then
      s = s:sub(1, opt.max_output - r.sent)
      r.stopped = "output_limit"
      r.sb.kill()
    end
    if #s > 0 then
      r.sent = r.sent + #s
      r.nl = s:sub(-1) == "\n"
      c.chunk(s)
    end
  end
  function h.exit (how)
    if not active[r] then return end
    if r.stopped then
      c.chunk((r.nl == false and "\n" or "") .. (r.stopped == "timeout"
        and ("[code-runner: stopped by the wall timeout of %g s]\n"):format(opt.timeout)
        or ("[code-runner: stopped at the output cap of %d bytes]\n"):format(opt.max_output)))
    end
    ended(r)
    c.finish(r.stopped or how, (uv.hrtime() - r.t0) / 1e9)
  end
  local t0 = uv.hrtime()
  local sb, err = start(r.snippet, h)
  local us = (uv.hrtime() - t0) / 1e3
  stats.spawns = stats.spawns + 1
  stats.times[(stats.spawns - 1) % 4096 + 1] = us
  if not sb then
    stats.failed = stats.failed + 1
    return c.reply(500, "sandbox failed: " .. err .. "\n")
  end
  active[r], live = true, live + 1
  r.sb, r.t0 = sb, uv.hrtime()
  c.start_chunked()
  r.timer = uv.new_timer()
  r.timer:start(math.floor(opt.timeout * 1000), 0, function ()
    if r.sb and not r.stopped then
      r.stopped = "timeout"
      r.sb.kill()
      if r.paused then r.paused = false; r.sb.resume() end   -- to see it end
    end
  end)
end

-- a check handle starts one queued run per turn of the loop; an idle
-- handle keeps the loop turning (no wait in poll) while one can start
local starter, idle = uv.new_check(), uv.new_idle()
local function noop () end

local function startsome ()
  while qlen() > 0 and live < opt.max_running do
    local r = queue[qhead]
    queue[qhead] = nil
    qhead = qhead + 1
    if not r.conn.gone then
      spawn1(r)
      break
    end
  end
  if qlen() == 0 then
    qhead, qtail = 1, 0
    starter:stop()
    idle:stop()
  elseif live >= opt.max_running then
    idle:stop()
  end
end

function kick ()
  if qlen() > 0 and live < opt.max_running then
    starter:start(startsome)
    idle:start(noop)
  end
end

-- }======


-- {====== HTTP/1.1 ======}

local REASON = { [200] = "OK", [400] = "Bad Request", [404] = "Not Found",
                 [405] = "Method Not Allowed", [411] = "Length Required",
                 [413] = "Content Too Large", [431] = "Request Header Fields Too Large",
                 [500] = "Internal Server Error", [501] = "Not Implemented" }

local conns = {}                        -- live connections (a set)

local function rss_kb ()
  for line in io.lines("/proc/self/status") do
    local v = line:match("^VmRSS:%s*(%d+)")
    if v then return tonumber(v) end
  end
end

local function quantile (t, q)
  if #t == 0 then return 0 end
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  return s[math.max(1, math.ceil(q * #s))]
end

local function statstext ()
  local n = 0
  for _ in pairs(conns) do n = n + 1 end
  return ("mode %s\nlive %d\nqueued %d\nconnections %d\nspawns %d\nfailed %d\n" ..
          "ended %d\nspawn_us_p50 %.0f\nspawn_us_p99 %.0f\nspawn_us_max %.0f\n" ..
          "rss_kb %d\nlua_kb %.0f\n"):format(opt.bwrap and "bwrap" or "lunajail", live, qlen(), n,
    stats.spawns, stats.failed, stats.ended, quantile(stats.times, 0.5),
    quantile(stats.times, 0.99), quantile(stats.times, 1), rss_kb(),
    collectgarbage("count"))
end

local function connection (tcp)
  local c = { buf = "" }
  conns[c] = true
  local busy, keep, run = false, true, nil
  local process

  local function close ()
    if c.gone then return end
    c.gone = true
    conns[c] = nil
    if run then ended(run) end         -- the client went away: kill its sandbox
    run = nil
    if not tcp:is_closing() then tcp:close() end
  end

  local function write (data)
    if c.gone then return end
    tcp:write(data, function (err)
      if err then return close() end
      if run and run.sb and run.paused and tcp:get_write_queue_size() <= LOW then
        run.paused = false
        run.sb.resume()
      end
    end)
    if run and run.sb and not run.paused and tcp:get_write_queue_size() > HIGH then
      run.paused = true                -- back-pressure: the sandbox waits
      run.sb.pause()
    end
  end

  local function done ()               -- the response is complete
    busy, run = false, nil
    if keep then process()
    else
      tcp:shutdown(function () close() end)
    end
  end

  function c.reply (code, body, ctype)
    write(("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n%s")
      :format(code, REASON[code], ctype or "text/plain", #body,
              keep and "" or "Connection: close\r\n", body))
    done()
  end
  function c.start_chunked ()
    write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n" ..
          "Trailer: X-Status, X-Elapsed\r\n" .. (keep and "" or "Connection: close\r\n") ..
          "\r\n")
  end
  function c.chunk (s) write({ ("%x\r\n"):format(#s), s, "\r\n" }) end
  function c.finish (status, elapsed)
    write(("0\r\nX-Status: %s\r\nX-Elapsed: %.3f\r\n\r\n"):format(status, elapsed))
    done()
  end

  local function fail (code, msg)      -- and close: the stream is out of step
    keep = false
    c.reply(code, msg .. "\n")
  end

  function process ()
    if busy or c.gone then return end
    local he = c.buf:find("\r\n\r\n", 1, true)
    if not he then
      if #c.buf > MAX_HEAD then busy = true; fail(431, "headers too large") end
      return
    end
    local method, target, version = c.buf:match("^(%u+) (%S+) HTTP/1%.(%d)\r\n")
    if not method then busy = true; return fail(400, "bad request line") end
    local headers = {}
    for line in c.buf:sub(1, he + 1):gmatch("(.-)\r\n") do
      local name, value = line:match("^([^:%s]+):[ \t]*(.-)[ \t]*$")
      if name then headers[name:lower()] = value end
    end
    local conn = (headers.connection or ""):lower()
    keep = version == "1" and conn ~= "close" or conn == "keep-alive"
    local len = tonumber(headers["content-length"] or "0")
    if headers["transfer-encoding"] then
      busy = true
      return fail(501, "chunked requests")
    elseif not len or len < 0 or len % 1 ~= 0 then
      busy = true
      return fail(400, "bad Content-Length")
    elseif len > MAX_BODY then
      busy = true
      return fail(413, "a snippet is at most 64 KiB")
    end
    if #c.buf < he + 3 + len then return end          -- the body is still arriving
    local body = c.buf:sub(he + 4, he + 3 + len)
    c.buf = c.buf:sub(he + 4 + len)
    busy = true
    local path = target:match("^[^?]*")
    if path == "/ping" then
      if method ~= "GET" then return c.reply(405, "GET /ping\n") end
      return c.reply(200, "pong\n")
    elseif path == "/stats" then
      return c.reply(200, statstext())
    elseif path == "/run" then
      if method ~= "POST" then return c.reply(405, "POST /run with a Lua snippet\n") end
      run = { conn = c, snippet = body, sent = 0, t0 = uv.hrtime() }
      qtail = qtail + 1
      queue[qtail] = run
      return kick()
    end
    c.reply(404, "not found: POST /run, GET /ping, GET /stats\n")
  end

  tcp:nodelay(true)
  tcp:read_start(function (err, data)
    if err or not data then return close() end      -- EOF: the client is gone
    c.buf = c.buf .. data
    process()
  end)
end

-- }======


local server = uv.new_tcp()
assert(server:bind(opt.host, opt.port))
assert(server:listen(1024, function (err)
  if err then return end
  local tcp = uv.new_tcp()
  if server:accept(tcp) then connection(tcp) else tcp:close() end
end))
local addr = server:getsockname()
print(("code-runner: listening on http://%s:%d/ (pid %d, %s)"):format(addr.ip, addr.port,
      uv.os_getpid(), opt.bwrap and "bwrap" or "lunajail"))
io.stdout:flush()

-- SIGPIPE (a write to a client that hung up) must not end the server:
-- the write fails with EPIPE instead, and the connection closes
local sigpipe = uv.new_signal()
sigpipe:start("sigpipe", function () end)
sigpipe:unref()

-- SIGTERM, SIGINT: stop listening, kill every sandbox, let the loop end
local function shutdown ()
  if server:is_closing() then return end
  server:close()
  queue, qhead, qtail = {}, 1, 0
  for r in pairs(active) do ended(r) end
  uv.walk(function (h)
    if not h:is_closing() and h:get_type() ~= "signal" then h:close() end
  end)
  uv.stop()
end
for _, name in ipairs { "sigterm", "sigint" } do
  local s = uv.new_signal()
  s:start(name, shutdown)
  s:unref()
end

uv.run()
if seccomp_path then os.remove(seccomp_path) end
collectgarbage()                       -- every child closed (killed), then reaped
collectgarbage()
core.reap()
