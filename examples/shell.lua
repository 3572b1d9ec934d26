-- examples/shell.lua: an interactive shell in a sandbox.
--
--   lua5.4 examples/shell.lua
-- The shell runs in lunajail.shell{}: the secure container on a pty of
-- the sandbox's own devpts (inside, tty names /dev/pts/0; never your
-- terminal, so a sandbox cannot push input into it), as a high uid with
-- no capabilities.  lj.interact puts your terminal in raw mode, passes
-- every byte (^C interrupts what runs in the sandbox, not this script),
-- follows your window's size, and restores the terminal when the shell
-- exits.  With stdin not a terminal, the commands are read from it:
--   echo 'id; hostname; exit' | lua5.4 examples/shell.lua

local lj = require "lunajail"

local interactive = lj.core.isatty(0)
local child <close> = assert(lj.spawn(lj.shell{
  env = { PS1 = "sandbox$ " },
  argv = interactive and { "/bin/sh", "-i" } or { "/bin/sh" },
}))
local st = lj.interact(child)
io.stdout:write("\n[shell exited: ", st.code or st.signame or "?", "]\n")
