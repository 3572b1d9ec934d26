-- examples/loop-luv.lua: a sandbox in a libuv loop (Debian: lua-luv).
--
--   lua5.4 examples/loop-luv.lua
-- A timer keeps ticking while a sandboxed shell prints a line every
-- 100 ms: the child never blocks the loop.  The spawn is asynchronous
-- (it returns in setup; the watch says when the payload runs), and the
-- output is capped at 1 KB.

local uv = require "luv"
local lj = require "lunajail"
local watch = require("lunajail.loop.luv").watch

local ticks = 0
local timer = uv.new_timer()
timer:start(50, 50, function () ticks = ticks + 1 end)

local child = assert(lj.spawn(lj.container{
  argv = { "sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.1; done" } },
  { async = true }))
watch(child, {
  lines = true, max_output = 1024, timeout = 10,
  started = function () print("started") end,
  setup_error = function (err) print("setup failed: " .. tostring(err)) end,
  stdout = function (line) print("got: " .. line) end,
  exit = function (status)
    print(("exit %d; the timer ticked %d times meanwhile"):format(status.code, ticks))
    timer:close()
  end,
})
uv.run()
