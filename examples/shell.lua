-- examples/shell.lua: an interactive shell in a sandbox.
--
--   lua5.4 examples/shell.lua
-- The shell runs in lunajail.shell{}: the secure container, on a pty of
-- its own (never your terminal: a sandbox cannot push input into it), as
-- a high uid with no capabilities.  Your terminal goes raw and every byte
-- is passed along; exit the shell to leave.  With stdin not a terminal,
-- the commands are read from it:
--   echo 'id; hostname; exit' | lua5.4 examples/shell.lua

local lj = require "lunajail"
local core = lj.core

local interactive = os.execute("test -t 0")
local child = assert(lj.spawn(lj.shell{
  env = { PS1 = "sandbox$ " },
  -- the same pty either way; without a terminal, no prompt echo games
  argv = interactive and { "/bin/sh", "-i" } or { "/bin/sh" },
}))

local saved
if interactive then
  local h = io.popen("stty -g")
  saved = h:read("l")
  h:close()
  os.execute("stty raw -echo")
  local size = io.popen("stty size"):read("l") or ""
  local rows, cols = size:match("(%d+) (%d+)")
  if rows then child:resize(tonumber(rows), tonumber(cols)) end
end

io.stdin:setvbuf("no")
io.stdout:setvbuf("no")
local stdin_open = true
local items = { { fd = child:pollfd(), events = "r" }, { fd = 0, events = "r" } }
while true do
  items[2].fd = stdin_open and 0 or -1
  core.poll(items, nil)
  child:step()
  while true do
    local data = child:read("stdout")
    if not data then break end
    io.stdout:write(data)
  end
  if stdin_open and items[2].revents ~= "" then
    local data = io.stdin:read(1)
    if data then child:write_all(data, 5)
    else
      stdin_open = false
      child:write("\4\4")   -- end of input, as at a terminal: a ^D flushes a
                             -- partial line, a ^D on an empty one ends it
    end
  end
  if not child:status().running and child:read("stdout") == nil then break end
end
if saved then os.execute("stty " .. saved) end
local st = child:wait()
child:close()
io.stdout:write("\n[shell exited: ", st.code or st.signame or "?", "]\n")
