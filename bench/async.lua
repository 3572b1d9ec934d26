-- bench/async.lua [N]: how long lj.spawn holds the caller, blocking and
-- with {async = true}, as root and as uid 65534 in the same run.
--
-- What an event loop cares about is the time the spawn call itself
-- takes, not the time to a running payload: the async spawn returns in
-- setup and tells the end of it through the child's pollfd.  Each row is
-- N spawns of the recipe, as users write it (lj.spawn(recipe), the plan
-- compiled once and kept), with p50, p99 and max of the call's time:
--   blocking   lj.spawn(r): the call returns once the payload has exec'd
--   async      lj.spawn(r, {async = true}), one at a time: the call only,
--              then the setup waited for outside it
--   burst      N async spawns in a row, none waited for (a burst of
--              requests), then all their setups
-- for the default container and lj.untrusted.

package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lj, core = B.lj, B.core

local N = tonumber(arg[1]) or 200

local function stats (t, res, key)
  res[key .. "_p50"] = B.median(t)
  res[key .. "_p99"] = B.quantile(t, 0.99)
  res[key .. "_max"] = B.quantile(t, 1)
end

local function one (r, res, key)
  local blocking, async, burst = {}, {}, {}
  for i = 1, N do
    local t0 = core.monotonic()
    local c = assert(lj.spawn(r))
    blocking[i] = (core.monotonic() - t0) * 1e6
    c:wait()
    c:close()
  end
  for i = 1, N do
    local t0 = core.monotonic()
    local c = assert(lj.spawn(r, { async = true }))
    async[i] = (core.monotonic() - t0) * 1e6
    assert(c:wait_started(10))
    c:wait()
    c:close()
  end
  local kids = {}
  for i = 1, N do
    local t0 = core.monotonic()
    kids[i] = assert(lj.spawn(r, { async = true }))
    burst[i] = (core.monotonic() - t0) * 1e6
  end
  for i = 1, N do
    assert(kids[i]:wait_started(30))
    kids[i]:wait()
    kids[i]:close()
  end
  stats(blocking, res, key .. "_blocking")
  stats(async, res, key .. "_async")
  stats(burst, res, key .. "_burst")
end

local soft, hard = core.getrlimit("nofile")
if soft < hard then core.setrlimit("nofile", hard, hard) end

local halves = B.halves(function ()
  local res = {}
  one(lj.container { argv = { "/bin/true" } }, res, "container")
  one(lj.untrusted { argv = { "/bin/true" } }, res, "untrusted")
  return res
end, { N })

local header = { "lj.spawn call, µs (p50 / p99 / max)" }
for _, h in ipairs(halves) do header[#header + 1] = h.mode end
local md = {}
for _, preset in ipairs { "container", "untrusted" } do
  for _, how in ipairs { "blocking", "async", "burst" } do
    local line = { ("`lj.%s`, %s"):format(preset, how) }
    for _, h in ipairs(halves) do
      local k = preset .. "_" .. how
      line[#line + 1] = h[k .. "_p50"] and ("%s / %s / %s"):format(B.us(h[k .. "_p50"]),
        B.us(h[k .. "_p99"]), B.us(h[k .. "_max"])) or (h.failed or "-")
    end
    md[#md + 1] = line
  end
end
print(("## how long lj.spawn holds the caller, %d spawns per row, %s, %s"):format(N,
      B.date(), B.machine()))
print()
print(B.markdown(header, md))
