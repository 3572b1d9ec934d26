-- bench/server.lua [SECONDS [BURST [HOLD]]]: examples/code-runner.lua
-- under load on loopback, against the same server running its snippets
-- in bwrap (--bwrap: bwrap through uv.spawn, untrusted's flags); as root
-- and as uid 65534 in the same run (the script runs itself again under
-- setpriv).
--
--   requests/s   wrk (Debian's) POSTing a hello snippet to /run for
--                SECONDS (default 10) at c = 1, 16 and 64, one thread,
--                the two servers alternating row by row
--   /ping        p50, p99 and max of GET /ping, one at a time on a
--                connection of its own, while BURST (default 1,000)
--                POST /run connections arrive at once (a luv client);
--                and how long the burst took
--   memory       the server's VmRSS growth per live sandbox while HOLD
--                (default 200) sandboxes sleep, each a request of its own
--   spawn call   how long the loop was blocked in the spawn call (the
--                server's own figure, GET /stats, over the wrk rows)
-- The issue's targets are printed beside the figures, never asserted.
-- The output ends with a markdown table for docs/child.md.

package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local uv = require "luv"

local SECONDS = tonumber(arg[1]) or 10
local BURST = tonumber(arg[2]) or 1000
local HOLD = tonumber(arg[3]) or 200
local CS = { 1, 16, 64 }
local HELLO = "print('hello')"

local function log (...) io.stderr:write(string.format(...), "\n") end

-- {====== The servers ======}

local function start (extra)
  local env = ("LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua;;' LUA_CPATH='%s/build/?.so;;' ")
              :format(B.dir, B.dir, B.dir)
  local h = assert(io.popen(("cd / && %s%s %s/examples/code-runner.lua --port 0 %s 2>&1")
                            :format(env, B.lua, B.dir, extra)))
  local line = h:read("l") or ""
  local port, pid = line:match(":(%d+)/ %(pid (%d+)")
  if not port then error("the server did not start: " .. line, 0) end
  return { h = h, port = tonumber(port), pid = tonumber(pid) }
end

local function stop (s)
  os.execute("kill -TERM " .. s.pid)
  s.h:read("a")
  s.h:close()
end

local function rss_kb (pid)
  for line in io.lines("/proc/" .. pid .. "/status") do
    local v = line:match("^VmRSS:%s*(%d+)")
    if v then return tonumber(v) end
  end
end

-- }======


-- {====== A luv client ======}

-- one request on a connection of its own, "Connection: close"; cb(text)
local function post (port, body, cb)
  local t = uv.new_tcp()
  local buf = {}
  t:connect("127.0.0.1", port, function (err)
    if err then t:close(); return cb(nil, err) end
    t:write(("POST /run HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n" ..
             "Connection: close\r\n\r\n%s"):format(#body, body))
    t:read_start(function (_, data)
      if data then buf[#buf + 1] = data; return end
      t:close()
      cb(table.concat(buf))
    end)
  end)
  return t
end

-- GET /stats as a table
local function stats (port)
  local h = io.popen(("curl -s http://127.0.0.1:%d/stats"):format(port))
  local t = {}
  for k, v in h:read("a"):gmatch("(%S+) (%S+)") do t[k] = tonumber(v) or v end
  h:close()
  return t
end

-- BURST connections at once, /ping one at a time meanwhile
local function burst (port, n)
  local pings, ok, failed, ended = {}, 0, 0, 0
  local t0 = uv.hrtime()
  local ping = uv.new_tcp()
  local sent, pbuf, pause = nil, "", uv.new_timer()
  local function one ()
    sent = uv.hrtime()
    ping:write("GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n")
  end
  for _ = 1, n do
    post(port, HELLO, function (text)
      ended = ended + 1
      if text and text:find("X-Status: exit 0", 1, true) then ok = ok + 1
      else failed = failed + 1 end
      if ended == n then
        ping:close()
        pause:close()
      end
    end)
  end
  ping:connect("127.0.0.1", port, function (err)
    assert(not err, err)
    ping:read_start(function (_, data)
      if not data then return end
      pbuf = pbuf .. data
      if pbuf:find("pong\n", 1, true) then
        pbuf = ""
        pings[#pings + 1] = (uv.hrtime() - sent) / 1e6
        if not pause:is_closing() then pause:start(5, 0, one) end
      end
    end)
    one()
  end)
  uv.run()
  return { pings = pings, ok = ok, failed = failed, seconds = (uv.hrtime() - t0) / 1e9 }
end

-- HOLD sandboxes alive at once: the server's RSS growth per sandbox
local function hold (port, pid, n)
  local base = rss_kb(pid)
  local up, conns, rss = 0, {}, nil
  local snippet = "print('up') io.stdout:flush() os.execute('sleep 60')"
  local timer = uv.new_timer()
  for i = 1, n do
    conns[i] = post(port, snippet, function () end)
  end
  timer:start(50, 50, function ()
    local s = stats(port)
    up = s.live
    if up >= n then
      rss = rss_kb(pid)
      timer:close()
      for _, t in ipairs(conns) do if not t:is_closing() then t:close() end end
    end
  end)
  uv.run()
  return (rss - base) / n, base, rss
end

-- }======


-- {====== wrk ======}

local wrkscript = os.tmpname()
do
  local f = assert(io.open(wrkscript, "w"))
  f:write(("wrk.method = \"POST\"\nwrk.body = %q\n" ..
           "wrk.headers[\"Content-Type\"] = \"text/plain\"\n"):format(HELLO))
  f:close()
end

local function wrk (port, c)
  local h = assert(io.popen(("wrk -t1 -c%d -d%ds --timeout 30s -s %s http://127.0.0.1:%d/run 2>&1")
                             :format(c, SECONDS, wrkscript, port)))
  local out = h:read("a")
  local ok, how, code = h:close()
  if not ok then log("wrk ended %s %s:\n%s", how, code, out) end
  local rps = tonumber(out:match("Requests/sec:%s*([%d.]+)"))
  local bad = tonumber(out:match("Non%-2xx or 3xx responses:%s*(%d+)")) or 0
  local errs = out:match("Socket errors:([^\n]*)")
  if not rps then error("wrk: " .. out, 0) end
  return rps, bad, errs
end

-- }======


local servers = {}                      -- stopped when a half fails

-- a few requests first: the plan compiled, the modules loaded, the pages
-- touched (what a server pays once is no cost of a sandbox)
local function warm (s)
  for _ = 1, 5 do
    local h = io.popen(("curl -s -d %q http://127.0.0.1:%d/run"):format(HELLO, s.port))
    local text = h:read("a")
    h:close()
    if text ~= "hello\n" then error("the server answered " .. ("%q"):format(text), 0) end
  end
end

local function measure (r)
  local lj = start("--timeout 10")
  local bw = start("--timeout 10 --bwrap")
  servers[1], servers[2] = lj, bw
  warm(lj)
  warm(bw)
  for _, c in ipairs(CS) do
    for _, x in ipairs { { "lj", lj }, { "bw", bw } } do
      local rps, bad, errs = wrk(x[2].port, c)
      r[("%s_rps_%d"):format(x[1], c)] = rps
      r[("%s_bad_%d"):format(x[1], c)] = bad
      log("%s: c=%d %s: %.1f requests/s%s%s", B.mode(), c, x[1], rps,
          bad > 0 and (", %d not 200"):format(bad) or "",
          errs and (", socket errors" .. errs) or "")
    end
  end
  for _, x in ipairs { { "lj", lj }, { "bw", bw } } do
    local s = stats(x[2].port)
    r[x[1] .. "_spawn_p50"], r[x[1] .. "_spawn_p99"] = s.spawn_us_p50, s.spawn_us_p99
    r[x[1] .. "_spawn_max"] = s.spawn_us_max
    local b = burst(x[2].port, BURST)
    r[x[1] .. "_ping_p50"] = B.quantile(b.pings, 0.5)
    r[x[1] .. "_ping_p99"] = B.quantile(b.pings, 0.99)
    r[x[1] .. "_ping_max"] = B.quantile(b.pings, 1)
    r[x[1] .. "_pings"] = #b.pings
    r[x[1] .. "_burst_s"], r[x[1] .. "_burst_failed"] = b.seconds, b.failed
    log("%s: %s burst of %d: %.1f s, %d failed; /ping p50 %.1f ms, p99 %.1f ms, max %.1f ms " ..
        "(%d pings)", B.mode(), x[1], BURST, b.seconds, b.failed, r[x[1] .. "_ping_p50"],
        r[x[1] .. "_ping_p99"], r[x[1] .. "_ping_max"], #b.pings)
  end
  stop(lj)
  stop(bw)
  servers[1], servers[2] = nil, nil
  for _, x in ipairs { { "lj", "" }, { "bw", "--bwrap" } } do
    local s = start("--timeout 120 --max-running " .. (HOLD + 1) .. " " .. x[2])
    servers[1] = s
    warm(s)
    local per, base, peak = hold(s.port, s.pid, HOLD)
    r[x[1] .. "_rss_per"], r[x[1] .. "_rss_base"] = per, base
    log("%s: %s: %d sandboxes alive: VmRSS %d -> %d KB, %.1f KB each", B.mode(), x[1],
        HOLD, base, peak, per)
    stop(s)
    servers[1] = nil
  end
end

local function run ()
  if not B.have("wrk") then error("no wrk (Debian: wrk)", 0) end
  local r = {}
  local ok, err = pcall(measure, r)
  for _, s in pairs(servers) do stop(s) end
  if not ok then error(err, 0) end
  return r
end

local halves = B.halves(run, { SECONDS, BURST, HOLD })
os.remove(wrkscript)

-- {====== Report ======}

local function f1 (v) return v and ("%.1f"):format(v) or "-" end
local header = { "" }
for _, h in ipairs(halves) do
  header[#header + 1] = h.mode .. ", lunajail"
  header[#header + 1] = "bwrap"
  header[#header + 1] = "×"
end
local rows = {}
for _, c in ipairs(CS) do
  local row = { ("requests/s, c = %d"):format(c) }
  for _, h in ipairs(halves) do
    local a, b = h[("lj_rps_%d"):format(c)], h[("bw_rps_%d"):format(c)]
    table.move({ f1(a), f1(b), B.ratio(a, b) }, 1, 3, #row + 1, row)
  end
  rows[#rows + 1] = row
end
for _, k in ipairs { { "ping_p50", "/ping p50 during the burst, ms" },
                     { "ping_p99", "/ping p99 during the burst, ms" },
                     { "ping_max", "/ping max during the burst, ms" },
                     { "burst_s", ("the burst of %d, s"):format(BURST) },
                     { "spawn_p50", "spawn call p50 (loop blocked), µs" },
                     { "spawn_p99", "spawn call p99, µs" },
                     { "spawn_max", "spawn call max, µs" },
                     { "rss_per", ("VmRSS per live sandbox (%d alive), KB"):format(HOLD) } } do
  local row = { k[2] }
  for _, h in ipairs(halves) do
    local a, b = h["lj_" .. k[1]], h["bw_" .. k[1]]
    table.move({ f1(a), f1(b), k[1]:match("^rss") and B.ratio(a, b) or "" }, 1, 3, #row + 1, row)
  end
  rows[#rows + 1] = row
end

print(("\nbench/server.lua: %s, %s; wrk %d s per row, a burst of %d, %d held")
      :format(B.date(), B.machine(), SECONDS, BURST, HOLD))
for _, h in ipairs(halves) do
  if h.failed then print(("  %s: failed: %s"):format(h.mode, h.failed)) end
end
print("\nTargets (issue 12):")
for _, h in ipairs(halves) do
  if not h.failed then
    for _, c in ipairs(CS) do
      local a, b = h[("lj_rps_%d"):format(c)], h[("bw_rps_%d"):format(c)]
      print(B.target(("%s: requests/s vs bwrap, c = %d"):format(h.mode, c), B.ratio(a, b),
                     "≥ 2×", a and b and a >= 2 * b))
    end
    print(B.target(h.mode .. ": /ping p99 during the burst", f1(h.lj_ping_p99) .. " ms",
                   "≤ 10 ms", h.lj_ping_p99 and h.lj_ping_p99 <= 10))
    print(B.target(h.mode .. ": parent memory per live sandbox", f1(h.lj_rss_per) .. " KB",
                   "≤ 10 KB", h.lj_rss_per and h.lj_rss_per <= 10))
  end
end
print("\n" .. B.markdown(header, rows))
