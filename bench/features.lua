-- bench/features.lua [N]: what the newer capabilities cost, written as
-- users write them, beside the plain lj.run(lj.container{...}) of the
-- same run; as root and as uid 65534.
--
--   run          lj.run(lj.container{argv = {"/bin/true"}})
--   limits       the same with limits = {memory = "64m", pids = 64}: a
--                cgroup made, the sandbox placed in it, its figures read
--                and the cgroup removed (skipped where no cgroup can be
--                made: uid 65534 without a delegated tree)
--   untrusted    lj.run(lj.untrusted{argv = {"/bin/true"}})
--   call         lj.call(lj.container{}, function () return 42 end)
--   enter        child:enter{argv = {"/bin/true"}} into a running
--                container, to the entered process reaped
--   stepper      lj.stepper(lj.container{...}), every s:next(), s:exec()
--                and its wait
-- Medians of N runs (default 100), microseconds, rows interleaved.

package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lj, core = B.lj, B.core

local N = tonumber(arg[1]) or 100
local TRUE = { "/bin/true" }

local function ok (v, err) if not v then error(tostring(err), 0) end return v end

local function clock (fn)
  local t0 = core.monotonic()
  fn()
  return (core.monotonic() - t0) * 1e6
end

local service                      -- the running sandbox enter joins

local ROWS = {
  { "run", function ()
      local st = ok(lj.run(lj.container{ argv = TRUE }))
      assert(st.code == 0, "run: exit " .. tostring(st.code))
    end },
  { "limits", function ()
      local st = ok(lj.run(lj.container{ argv = TRUE,
                                         limits = { memory = "64m", pids = 64 } }))
      assert(st.code == 0, "limits: exit " .. tostring(st.code))
    end },
  { "untrusted", function ()
      local st = ok(lj.run(lj.untrusted{ argv = TRUE }))
      assert(st.code == 0, "untrusted: exit " .. tostring(st.code))
    end },
  { "call", function ()
      local v = ok(lj.call(lj.container{}, function () return 42 end))
      assert(v == 42, "call: " .. tostring(v))
    end },
  { "enter", function ()
      local c = ok(service:enter{ argv = TRUE })
      local st = c:wait()
      c:close()
      assert(st.code == 0, "enter: exit " .. tostring(st.code))
    end },
  { "stepper", function ()
      local s = ok(lj.stepper(lj.container{ argv = TRUE }))
      while s:peek() do ok(s:next()) end
      local c = ok(s:exec())
      local st = c:wait()
      c:close()
      assert(st.code == 0, "stepper: exit " .. tostring(st.code))
    end },
}

local halves = B.halves(function ()
  service = ok(lj.spawn(lj.container{ argv = { "sleep", "1000" } }))
  local t, skip = {}, {}
  for _, row in ipairs(ROWS) do         -- one try each: what cannot run here
    local fine, err = pcall(row[2])
    if not fine then skip[row[1]] = err end
  end
  for _ = 1, N do
    for _, row in ipairs(ROWS) do
      if not skip[row[1]] then
        t[row[1]] = t[row[1]] or {}
        table.insert(t[row[1]], clock(row[2]))
      end
    end
  end
  service:kill("KILL")
  service:wait()
  service:close()
  local out = {}
  for _, row in ipairs(ROWS) do
    local name = row[1]
    if skip[name] then out[name .. "_skip"] = skip[name]
    else out[name] = B.median(t[name]) end
  end
  return out
end, { tostring(N) })

print(("## What the capabilities cost: median µs over %d runs each, %s, %s")
      :format(N, B.date(), B.machine()))
print()
local header, rows = { "what" }, {}
for _, h in ipairs(halves) do header[#header + 1] = "as " .. h.mode end
for _, row in ipairs(ROWS) do
  local r = { "`" .. row[1] .. "`" }
  for _, h in ipairs(halves) do
    local v = h[row[1]]
    if h.failed then r[#r + 1] = "failed: " .. h.failed
    elseif v then
      local base = h.run
      r[#r + 1] = row[1] == "run" and B.us(v) or ("%s (%s)"):format(B.us(v), B.ratio(v, base))
    else
      r[#r + 1] = "skipped: " .. tostring(h[row[1] .. "_skip"]):sub(1, 60)
    end
  end
  rows[#rows + 1] = r
end
print(B.markdown(header, rows))
print()
print("(in parentheses: the ratio to `run`, lj.run(lj.container{argv = {\"/bin/true\"}}), " ..
      "of the same half)")
