-- bench/spawn.lua [N]: what one sandbox costs on the path users take,
-- beside bwrap, a raw C loop and a plain fork+exec; as root and as uid
-- 65534 in the same run (the script runs itself again under setpriv).
--
-- Each row starts /bin/true and waits until it is reaped; microseconds,
-- the median over N runs per row (default 300), in 8 rounds that
-- alternate the rows to spread the machine's noise:
--   lj.run(lj.container{argv = {"/bin/true"}})   the headline, exactly as
--   lj.run(lj.untrusted{argv = {"/bin/true"}})   a user writes it: the
--                                                recipe built and run each time
--   recipe built once, lj.run(r) in a loop
--   core.spawn(plan), the container's plan compiled once (r:steps())
--   core.spawn of the trimmed plan (bench/common.lua): the old headline
--   bwrap with the default container's flags and its seccomp filter,
--     fork+exec'd by bench/raw_spawn.c (no shell)
--   raw C (bench/raw_spawn.c sandbox): clone(mount, pid, uts, ipc, net,
--     and user when not root) + tmpfs root + ro /usr + proc +
--     pivot_root + loopback + exec: the least a sandbox of that shape costs
--   plain fork+exec of /bin/true (raw_spawn.c cmd)
-- Then the user path from a parent holding 10 MB and one holding 2 GB of
-- touched heap, each a process of its own, rounds alternating.
-- The issue's targets are printed beside the ratios, never asserted.
-- The output ends with a markdown table for docs/spawn.md.

package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lj, core = B.lj, B.core

local ROUNDS = 8
local raw = B.dir .. "/build/raw_spawn"
local median = B.median

local function log (...) io.stderr:write(string.format(...), "\n") end

local function check (res, err, what)
  if not res then error(what .. ": " .. tostring(err), 0) end
  if res.code ~= 0 then
    error(("%s: /bin/true ended %s %s"):format(what, res.signame or "code",
          tostring(res.code or "")), 0)
  end
end

-- {====== The rows ======}

local TRUE = { "/bin/true" }
local once = {}                               -- built once per process

local function time (f)
  local t0 = core.monotonic()
  f()
  return (core.monotonic() - t0) * 1e6
end

local rows = {
  { key = "run_container", name = "`lj.run(lj.container{argv={\"/bin/true\"}})`",
    f = function ()
      return time(function ()
        check(lj.run(lj.container { argv = TRUE }), nil, "lj.run(lj.container{...})")
      end)
    end },
  { key = "run_untrusted", name = "`lj.run(lj.untrusted{argv={\"/bin/true\"}})`",
    f = function ()
      return time(function ()
        check(lj.run(lj.untrusted { argv = TRUE }), nil, "lj.run(lj.untrusted{...})")
      end)
    end },
  { key = "once_container", name = "container recipe built once, `lj.run(r)` in a loop",
    f = function ()
      once.container = once.container or lj.container { argv = TRUE }
      return time(function () check(lj.run(once.container), nil, "lj.run(r)") end)
    end },
  { key = "once_untrusted", name = "untrusted recipe built once, `lj.run(r)` in a loop",
    f = function ()
      once.untrusted = once.untrusted or lj.untrusted { argv = TRUE }
      return time(function () check(lj.run(once.untrusted), nil, "lj.run(r)") end)
    end },
  { key = "plan_container", name = "container plan compiled once, `core.spawn(plan)`",
    f = function ()
      once.plan = once.plan or (lj.container { argv = TRUE }):steps()
      return time(function ()
        local c, err = core.spawn(once.plan)
        if not c then error("core.spawn(plan): " .. tostring(err), 0) end
        local st = c:wait()
        c:close()
        check(st, nil, "core.spawn(plan)")
      end)
    end },
  { key = "trimmed", name = "trimmed plan (bench/common.lua), `core.spawn`",
    f = function ()
      once.trimmed = once.trimmed or B.trimmed(TRUE, { stdio = { "null", "inherit", "inherit" } })
      return time(function ()
        local c, err = core.spawn(once.trimmed)
        if not c then error("core.spawn(trimmed): " .. tostring(err), 0) end
        local st = c:wait()
        c:close()
        check(st, nil, "core.spawn(trimmed)")
      end)
    end },
  { key = "bwrap", name = "bwrap, the container's flags and seccomp filter", ext = true },
  { key = "raw", name = "raw C clone+mount+pivot_root+exec (`raw_spawn.c`)", ext = true },
  { key = "fork", name = "plain fork+exec of /bin/true", ext = true },
}

-- the external rows: n runs of the launcher, one figure per line
local function external (args, n, out)
  for l in B.sh(raw .. " " .. args:gsub("^(%S+)", "%1 " .. n)):gmatch("[^\n]+") do
    out[#out + 1] = tonumber(l)
  end
end

-- }======


-- {====== One half: every row, rounds alternating ======}

local function spawn_half (N)
  local seccomp = B.seccomp_file()
  local extargs = {
    bwrap = "cmd " .. B.bwrap_args("/bin/true", seccomp),
    raw = "sandbox",
    fork = "cmd /bin/true",
  }
  local have_bwrap = B.have("bwrap")
  local samples, failed = {}, {}
  for _, r in ipairs(rows) do samples[r.key] = {} end
  if not have_bwrap then failed.bwrap = "bwrap is not installed" end
  local per = math.max(1, N // ROUNDS)
  log("spawn.lua, as %s: %d rows, %d rounds of %d", B.mode(), #rows, ROUNDS, per)
  for _, r in ipairs(rows) do                   -- warm up: init memfd, caches
    if not r.ext then
      local ok, err = pcall(r.f)
      if not ok then failed[r.key] = err end
    end
  end
  for round = 1, ROUNDS do
    for _, r in ipairs(rows) do
      if not failed[r.key] then
        local ok, err = pcall(function ()
          if r.ext then external(extargs[r.key], per, samples[r.key])
          else for _ = 1, per do table.insert(samples[r.key], r.f()) end end
        end)
        if not ok then failed[r.key] = err end
      end
    end
    log("  round %d of %d", round, ROUNDS)
  end
  os.remove(seccomp)
  local res = { runs = per * ROUNDS }
  for _, r in ipairs(rows) do
    res[r.key] = median(samples[r.key])
    if failed[r.key] then res[r.key .. "_failed"] = failed[r.key] end
  end
  return res
end

-- the user path from a parent holding mb MB of touched heap: a process
-- of its own ("--heap MB N"), one figure per line
if arg[1] == "--heap" then
  local mb, n, big = tonumber(arg[2]), tonumber(arg[3]), {}
  for i = 1, mb do                               -- touched: every page written
    big[i] = string.rep(string.rep(string.char(i % 256), 4096), 256)
  end
  local out = {}
  rows[1].f()
  for i = 1, n do out[i] = rows[1].f() end
  assert(#big == mb)                             -- held until here
  print(table.concat(out, "\n"))
  os.exit(0)
end

local function heap_half (N)
  local small, large = {}, {}
  local per, rounds = math.max(5, N // 8), N >= 100 and 4 or 2
  local cmd = ("%s %s --heap %%d %d"):format(B.lua, B.script, per)
  for _ = 1, rounds do
    for l in B.sh(cmd:format(10)):gmatch("[^\n]+") do small[#small + 1] = tonumber(l) end
    for l in B.sh(cmd:format(2048)):gmatch("[^\n]+") do large[#large + 1] = tonumber(l) end
  end
  log("  parent heap: %d runs each", #small)
  return { heap_small = median(small), heap_large = median(large), heap_runs = #small }
end

-- }======

local N = tonumber(arg[1]) or 300
local halves = B.halves(function ()
  local res = spawn_half(N)
  local ok, h = pcall(heap_half, N)
  if ok then for k, v in pairs(h) do res[k] = v end else res.heap_failed = h end
  return res
end, { N })


-- {====== The report ======}

local header = { "path" }
for _, h in ipairs(halves) do
  header[#header + 1] = h.mode .. ", µs"
  header[#header + 1] = "× raw C"
end
local md = {}
for _, r in ipairs(rows) do
  local line = { r.name }
  for _, h in ipairs(halves) do
    local v = h[r.key]
    line[#line + 1] = h[r.key .. "_failed"] and not v and "failed" or B.us(v)
    line[#line + 1] = B.ratio(v, h.raw)
  end
  md[#md + 1] = line
end
local heapline = { "`lj.run(lj.container{...})`, 2 GB parent / 10 MB parent" }
for _, h in ipairs(halves) do
  heapline[#heapline + 1] = h.heap_small and ("%s / %s"):format(B.us(h.heap_large),
                                                               B.us(h.heap_small)) or "-"
  heapline[#heapline + 1] = B.ratio(h.heap_large, h.heap_small)
end
md[#md + 1] = heapline

print(("## spawn /bin/true: median µs from spawn to reaped, %s, %s"):format(B.date(),
      B.machine()))
print(("%d runs per row in %d alternating rounds; the heap row: %d runs each, " ..
       "each parent a process of its own"):format(halves[1].runs or 0, ROUNDS,
       halves[1].heap_runs or 0))
print()
print(B.markdown(header, md))
print()
print("targets (issue 11; printed, not asserted):")
for _, h in ipairs(halves) do
  if h.failed then print(("  as %s: failed: %s"):format(h.mode, h.failed)) end
  for _, k in ipairs { "container", "untrusted" } do
    local u = h["run_" .. k]
    print(B.target(("%s, lj.run(lj.%s) / raw C"):format(h.mode, k),
                   B.ratio(u, h.raw), "<= 1.20×", u and h.raw and u / h.raw <= 1.2))
    print(B.target(("%s, bwrap / lj.run(lj.%s)"):format(h.mode, k),
                   B.ratio(h.bwrap, u), ">= 2.50×", u and h.bwrap and h.bwrap / u >= 2.5))
  end
  print(B.target(("%s, 2 GB parent / 10 MB parent"):format(h.mode),
                 B.ratio(h.heap_large, h.heap_small), "<= 1.10×",
                 h.heap_small and h.heap_large / h.heap_small <= 1.1))
end
for _, h in ipairs(halves) do
  for k, v in pairs(h) do
    if k:match("_failed$") then print(("  as %s, %s: %s"):format(h.mode, k, v)) end
  end
end

-- }======
