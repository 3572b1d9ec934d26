-- examples/experiment.lua: change one step of a recipe and see exactly
-- what fails.
--
--   lua5.4 examples/experiment.lua
-- r:steps() is the plan core.spawn takes: a plain list of steps.  Edit
-- it, spawn it, and the error names the step, the call and the errno.
-- Then the same plan with trace = true lists every step as the child
-- applied it.

local lj = require "lunajail"
local core = lj.core

local r = lj.container{ argv = { "sh", "-c", "echo it works" } }
local plan = r:steps()

-- find the pivot_root step and break it: the old root at a place that is
-- not a directory under the new root
for i, step in ipairs(plan.steps) do
  if step[1] == "pivot_root" then
    print(("step %d was: %s"):format(i, core.describe(step)))
    plan.steps[i] = { "pivot_root", ".", "/nonexistent-put-old" }
    print(("step %d now: %s"):format(i, core.describe(plan.steps[i])))
    break
  end
end

local child, err = core.spawn(plan)
print("spawn: " .. tostring(child or err))
if err then
  print(("  err.step = %d, err.op = %q, err.errname = %q"):format(err.step, err.op,
                                                                  err.errname))
end

-- mark a doubtful step optional: the child goes on, and says what failed
plan = r:steps()
plan.trace = true
table.insert(plan.steps, 1, { "mount", "tmpfs", "/nonexistent", "tmpfs", optional = true })
child = assert(core.spawn(plan))
io.write((child:communicate()))
local reports, shown = child:reports(), 0
print(("%d reports; the first two of the plan's steps (after the spawner's step 0):")
      :format(#reports))
for _, rep in ipairs(reports) do
  if rep.step > 0 and shown < 2 then print("  " .. tostring(rep)) shown = shown + 1 end
end
