-- examples/loop-poll.lua: many sandboxes from one Lua state, with
-- nothing but lunajail.loop.poll.
--
--   lua5.4 examples/loop-poll.lua [N]
-- N containers (default 20) each count words of their own input; the
-- loop streams their output lines as they come and collects exit codes.
-- The spawns are asynchronous: each returns in setup, input is queued
-- until the payload reads it.

local lj = require "lunajail"
local loop = require("lunajail.loop.poll").new()

local N = tonumber(arg[1]) or 20
local total, done = 0, 0
for i = 1, N do
  local child = assert(lj.spawn(lj.container{ argv = { "wc", "-w" } }, { async = true }))
  child:write(string.rep("word ", i))
  child:close_stdin()
  loop:watch(child, {
    lines = true,
    stdout = function (line) total = total + tonumber(line) end,
    exit = function (status) done = done + (status.code == 0 and 1 or 0) end,
  })
end
assert(loop:run(60))
print(("%d sandboxes exited cleanly, %d words counted"):format(done, total))
