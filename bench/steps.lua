-- bench/steps.lua [N]: where the default container's setup goes -- each
-- step's median microseconds in the runner over N traced spawns of
-- lj.container{argv = {"/bin/true"}}, as a markdown table (docs/spawn.md),
-- with the whole spawn beside it.
local lj = require "lunajail"
local core = lj.core

local N = tonumber(arg[1]) or 200
local function median (t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local r = lj.container{ argv = { "/bin/true" }, trace = true }
local plan, why = r:steps()
local per, calls, spawn, total, sums = {}, {}, {}, {}, {}
for _ = 1, N do
  local t0 = core.monotonic()
  local c = assert(core.spawn(plan))
  local t1 = core.monotonic()
  c:wait()
  total[#total + 1] = (core.monotonic() - t0) * 1e6
  spawn[#spawn + 1] = (t1 - t0) * 1e6
  local sum = 0
  for k, rep in ipairs(c:reports()) do
    per[k] = per[k] or {}
    per[k][#per[k] + 1] = rep.usec
    calls[k] = calls[k] or { rep.step, rep.call }
    sum = sum + rep.usec
  end
  sums[#sums + 1] = sum
  c:close()
end

print(("## lj.container{} step by step: median µs over %d spawns, %s, as %s")
      :format(N, os.date("%Y-%m-%d"),
              select(2, core.getresuid()) == 0 and "root" or "uid " .. select(2, core.getresuid())))
print()
print("| step | call | µs | why |")
print("|---:|---|---:|---|")
for k, v in ipairs(per) do
  local call = calls[k][2]
  if #call > 60 then call = call:sub(1, 57) .. "..." end
  local reason = why[calls[k][1]] or ""
  if #reason > 60 then reason = reason:sub(1, 57) .. "..." end
  print(("| %d | `%s` | %d | %s |"):format(calls[k][1], call:gsub("|", "\\|"), median(v),
                                           reason:gsub("|", "\\|")))
end
print()
print(("steps in all %.0f µs; core.spawn() %.0f µs (clone, the runner's exec, the steps, the " ..
       "payload's exec); spawn to reaped %.0f µs"):format(median(sums), median(spawn),
                                                       median(total)))
