-- lunajail.interact: your terminal, handed to a sandbox on a pty.
--
--   local child = assert(lj.spawn(lj.shell{}))
--   local status = lj.interact(child)        -- returns when it exits
--
-- interact(child [, opts]) pumps bytes both ways until the child has
-- exited and its output is drained, then returns child:wait()'s status
-- (the child stays open: close it, or let <close> do it).  When fd 0 is
-- a terminal it goes raw for the while (core.tcraw: no echo, no line
-- editing, ^C, ^Z and ^\ reach the sandbox as bytes, where its own pty
-- turns them into signals for its foreground job, never for this
-- script), and is restored on every way out, an error included.  Its
-- size goes to the child's pty at the start and whenever it changes
-- (checked every `tick` seconds: no SIGWINCH handler is installed in
-- this process).  When fd 0 is not a terminal (a pipe, a file), its
-- bytes are passed on as they come, and its end is ^D, as a terminal
-- user ends input.
--   opts.tick    seconds between window-size checks (default 0.2)
--   opts.output  a file to write the child's output to (io.stdout)

local core = require "lunajail.core"
local recipe = require "lunajail.recipe"

local function pump (child, out, tick, tty)
  local items = { { fd = child:pollfd(), events = "r" }, { fd = 0, events = "r" } }
  local rows, cols
  local function resize ()
    local r, c = core.winsize(0)
    if r and (r ~= rows or c ~= cols) then
      rows, cols = r, c
      child:resize(r, c)
    end
  end
  if tty then resize() end
  local input = true
  while true do
    items[2].fd = input and 0 or -1
    core.poll(items, tty and tick or nil)
    child:step()
    while true do
      local data = child:read("stdout")
      if not data then break end
      out:write(data)
    end
    out:flush()
    if input and items[2].revents ~= "" then
      local data = io.stdin:read(1)
      if data then
        child:write_all(data, 5)
      else
        input = false
        child:write("\4\4")     -- a ^D flushes a partial line, one more ends it
      end
    end
    if tty then resize() end
    if not child:status().running and not child:read("stdout") then break end
  end
end

return function (child, opts)
  opts = opts or {}
  local tick = opts.tick == nil and 0.2 or recipe.number(opts.tick, "interact: opts.tick",
                                                         0.01, 60)
  local out = opts.output or io.stdout
  local tty = core.isatty(0)
  local saved
  if tty then saved = assert(core.tcraw(0)) end
  io.stdin:setvbuf("no")
  local ok, err = pcall(pump, child, out, tick, tty)
  if saved then core.tcrestore(0, saved) end
  if not ok then error(err, 0) end
  return child:wait()
end
