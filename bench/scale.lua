-- bench/scale.lua [N]: N default containers (default 1000) started from
-- one Lua state and supervised at once, as root and as uid 65534 in the
-- same run.
--
-- Each is lj.spawn(lj.container{argv = {"sleep", "1000"}}): the recipe
-- built and compiled per spawn, as users write it.  First the limits of
-- this machine that bound N (fds, processes, namespaces); the bench
-- raises its own RLIMIT_NOFILE soft limit to the hard one and says so.
-- Then: the time to start all N (and each spawn's p50, p99, max: how
-- long one spawn holds the caller), one supervision pass of
-- lunajail.loop.poll over all of them, the parent's RSS and Lua heap per
-- child (/proc/self/status, collectgarbage("count"), after a full GC),
-- and the time from the first kill to the last child reaped and closed.
-- A spawn that fails stops the start: the count it reached and the error
-- are reported (a finding, not a crash).  The output ends with a
-- markdown table for docs/spawn.md.

package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lj, core = B.lj, B.core

local N = tonumber(arg[1]) or 1000
local ARGV = { "sleep", "1000" }

local function log (...) io.stderr:write(string.format(...), "\n") end

local function status (field)
  for l in io.lines("/proc/self/status") do
    local v = l:match("^" .. field .. ":%s+(%d+)")
    if v then return tonumber(v) end
  end
end

local function readnum (path)
  local f = io.open(path)
  if not f then return nil end
  local v = f:read("l")
  f:close()
  return tonumber(v) or v
end

local function nfds ()
  collectgarbage() collectgarbage()             -- closed what is unreachable
  return tonumber((B.sh("ls /proc/" .. core.getpid() .. "/fd | wc -l")))
end

-- the pids controller's limit for this process, cgroup v1 or v2
local function pids_max ()
  for l in io.lines("/proc/self/cgroup") do
    local ctl, path = l:match("^%d+:([^:]*):(.*)$")
    if ctl and ctl:find("pids") then
      return readnum("/sys/fs/cgroup/pids" .. path .. "/pids.max"), "v1 " .. path
    elseif ctl == "" then
      local v = readnum("/sys/fs/cgroup" .. path .. "/pids.max")
                or readnum("/sys/fs/cgroup/unified" .. path .. "/pids.max")
      if v then return v, "v2 " .. path end
    end
  end
  return nil, "none"
end

local function limits (res)
  local soft, hard = core.getrlimit("nofile")
  res.nofile_soft0, res.nofile_hard = soft, hard
  if soft ~= hard then
    local ok, err = core.setrlimit("nofile", hard, hard)
    res.nofile_raised = ok and ("RLIMIT_NOFILE soft %s raised to the hard limit %s")
                               :format(soft, hard) or ("could not raise: " .. tostring(err))
  else
    res.nofile_raised = ("RLIMIT_NOFILE already %s"):format(soft)
  end
  res.nofile = select(1, core.getrlimit("nofile"))
  res.nproc = select(1, core.getrlimit("nproc"))
  res.pid_max = readnum("/proc/sys/kernel/pid_max")
  res.threads_max = readnum("/proc/sys/kernel/threads-max")
  local pm, where = pids_max()
  res.pids_cgroup = pm and ("%s (%s)"):format(pm, where) or "no limit"
  local ns = {}
  for _, k in ipairs { "user", "mnt", "pid", "net", "uts", "ipc", "cgroup" } do
    local v = readnum("/proc/sys/user/max_" .. k .. "_namespaces")
    if v then ns[#ns + 1] = k .. " " .. v end
  end
  res.max_namespaces = table.concat(ns, ", ")
  -- one container's cost in fds and processes, measured
  local fd0 = nfds()
  local c = assert(lj.spawn(lj.container { argv = ARGV }))
  local fd1 = nfds()
  local procs = tonumber((B.sh("ps -e -o ppid=,pid= | awk '$1 == " .. c.pid ..
                               " { n++ } END { print n + 1 }'")))
  c:kill("KILL")
  c:wait()
  c:close()
  res.fds_per_child, res.procs_per_child = fd1 - fd0, procs
  res.fit_fds = type(res.nofile) == "number"
                and (res.nofile - fd1) // math.max(1, res.fds_per_child) or "unbounded"
  res.fit_pids = res.pid_max // math.max(1, procs)
end

local function half ()
  local res = { n = N }
  limits(res)
  log("scale.lua, as %s: %s; %d fds and %d processes per container; room for %s by fds",
      B.mode(), res.nofile_raised, res.fds_per_child, res.procs_per_child,
      tostring(res.fit_fds))
  local loop = require("lunajail.loop.poll").new()
  local reaped, last = 0, nil
  local handlers = { exit = function () reaped = reaped + 1 last = core.monotonic() end }
  collectgarbage() collectgarbage()
  local rss0, heap0, fd0 = status("VmRSS"), collectgarbage("count"), nfds()
  local children, times = {}, {}
  local t0 = core.monotonic()
  for i = 1, N do
    local s = core.monotonic()
    local ok, c, err = pcall(lj.spawn, lj.container { argv = ARGV })
    times[i] = (core.monotonic() - s) * 1e3
    if not ok or not c then
      res.failed_at = i
      res.error = tostring(ok and err or c)
      log("  spawn %d failed: %s", i, res.error)
      break
    end
    children[i] = c
    loop:watch(c, handlers)
    if i % 100 == 0 then log("  %d started", i) end
  end
  res.started = #children
  res.start_s = core.monotonic() - t0
  res.spawn_p50_ms, res.spawn_p99_ms = B.quantile(times, 0.5), B.quantile(times, 0.99)
  res.spawn_max_ms = B.quantile(times, 1)
  local tenth = math.max(1, #times // 10)       -- does a spawn slow down as they pile up?
  res.spawn_first_ms = B.median(table.move(times, 1, tenth, 1, {}))
  res.spawn_last_ms = B.median(table.move(times, #times - tenth + 1, #times, 1, {}))
  local running = 0
  for _, c in ipairs(children) do
    c:step()
    if c:status().running then running = running + 1 end
  end
  res.running = running
  local s = core.monotonic()
  loop:step(0)                                  -- one supervision pass
  res.pass_ms = (core.monotonic() - s) * 1e3
  collectgarbage() collectgarbage()
  local rss1, heap1 = status("VmRSS"), collectgarbage("count")
  res.fds_open = (nfds() - fd0) / math.max(1, #children)
  local n = math.max(1, #children)
  res.rss_kb = (rss1 - rss0) / n
  res.heap_kb = (heap1 - heap0) / n
  log("  %d started in %.1f s, %d running; killing them", #children, res.start_s, running)
  local k0 = core.monotonic()
  for _, c in ipairs(children) do c:kill("KILL") end
  res.kill_s = core.monotonic() - k0
  local ok, err = loop:run(300)
  res.reap_s = (last or core.monotonic()) - k0
  res.closed_s = core.monotonic() - k0
  res.reaped = reaped
  if not ok then res.reap_error = tostring(err) end
  children = nil                                -- luacheck: ignore
  collectgarbage() collectgarbage()
  res.fds_left = nfds() - fd0
  return res
end

local halves = B.halves(half, { N })


-- {====== The report ======}

print(("## scale: %d default containers from one Lua state, %s, %s")
      :format(N, B.date(), B.machine()))
print()
local header = { "" }
for _, h in ipairs(halves) do header[#header + 1] = h.mode end
local function row (name, f)
  local r = { name }
  for _, h in ipairs(halves) do
    local ok, v = pcall(f, h)
    r[#r + 1] = ok and v or "-"
  end
  return r
end
local function fmt (p, v) return v and p:format(v) or "-" end
print(B.markdown(header, {
  row("started (of " .. N .. ")", function (h)
    return h.failed_at and ("%d: spawn %d failed"):format(h.started, h.failed_at)
           or tostring(h.started) end),
  row("time to start them all", function (h) return fmt("%.2f s", h.start_s) end),
  row("one spawn: p50 / p99 / max", function (h)
    return ("%.1f / %.1f / %.1f ms"):format(h.spawn_p50_ms, h.spawn_p99_ms, h.spawn_max_ms) end),
  row("one spawn: median of the first / last tenth", function (h)
    return ("%.1f / %.1f ms"):format(h.spawn_first_ms, h.spawn_last_ms) end),
  row("running at once", function (h) return tostring(h.running) end),
  row("one `loop:step(0)` over all of them", function (h) return fmt("%.1f ms", h.pass_ms) end),
  row("parent RSS per child", function (h) return fmt("%.1f KB", h.rss_kb) end),
  row("Lua heap per child", function (h) return fmt("%.1f KB", h.heap_kb) end),
  row("parent fds per child", function (h) return fmt("%.1f", h.fds_open) end),
  row("kill all (signals sent)", function (h) return fmt("%.3f s", h.kill_s) end),
  row("kill → last reaped", function (h) return fmt("%.2f s", h.reap_s) end),
  row("kill → all closed by the loop", function (h) return fmt("%.2f s", h.closed_s) end),
  row("fds left open after", function (h) return tostring(h.fds_left) end),
}))
print()
print("limits seen (the bench process):")
for _, h in ipairs(halves) do
  if h.failed then
    print(("  as %s: failed: %s"):format(h.mode, h.failed))
  else
    print(("  as %s: %s; RLIMIT_NPROC %s; pid_max %s, threads-max %s; pids cgroup %s; " ..
           "max namespaces per user: %s"):format(h.mode, h.nofile_raised, tostring(h.nproc),
           tostring(h.pid_max), tostring(h.threads_max), tostring(h.pids_cgroup),
           tostring(h.max_namespaces)))
    print(("  as %s: a container costs the parent %s fds and the machine %s processes: " ..
           "room for %s by fds, %s by pid_max"):format(h.mode, tostring(h.fds_per_child),
           tostring(h.procs_per_child), tostring(h.fit_fds), tostring(h.fit_pids)))
  end
  if h.error then print(("  as %s: spawn %d failed: %s"):format(h.mode, h.failed_at, h.error)) end
  if h.reap_error then print(("  as %s: loop:run: %s"):format(h.mode, h.reap_error)) end
end
print()
print("targets (issue 12, printed, not asserted):")
for _, h in ipairs(halves) do
  print(B.target(h.mode .. ", parent memory per live sandbox (RSS)",
                 fmt("%.1f KB", h.rss_kb), "<= 10 KB", h.rss_kb and h.rss_kb <= 10))
end

-- }======
