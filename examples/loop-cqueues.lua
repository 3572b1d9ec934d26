-- examples/loop-cqueues.lua: sandboxes in cqueues coroutines (Debian:
-- lua-cqueues).
--
--   lua5.4 examples/loop-cqueues.lua
-- Two coroutines each run a sandbox and wait for it with the yielding
-- helpers of lunajail.loop.cqueues; a third keeps working meanwhile.

local cqueues = require "cqueues"
local lj = require "lunajail"
local cq = require "lunajail.loop.cqueues"

local loop = cqueues.new()
for i = 1, 2 do
  loop:wrap(function ()
    local child = assert(lj.spawn(lj.container{
      argv = { "sh", "-c", "sleep 0.2; echo sandbox " .. i .. " done" } }))
    local out, _, status = cq.communicate(child, nil, 10)
    io.write(out)
    print(("sandbox %d exit %d"):format(i, status.code))
    cq.close(child)
  end)
end
loop:wrap(function ()
  for n = 1, 3 do
    print("other work " .. n)
    cqueues.sleep(0.05)
  end
end)
assert(loop:loop())
