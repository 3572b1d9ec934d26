-- examples/build.lua: compile a C file inside a build sandbox.
--
--   lua5.4 examples/build.lua
-- A temporary directory with hello.c is bound read-write at /work in
-- lunajail.build{}: the compiler sees /usr read-only, the work directory,
-- a /tmp of its own and nothing else of the host.  Then the program runs
-- in a second, stricter sandbox.  The directory is an ordinary 0755 one:
-- unprivileged the sandbox's uid maps onto yours; as root the sandbox
-- runs as its leased uid and /work is an owner bind (idmapped: what the
-- compiler writes is root's on disk, and no set-uid bit can be set).

local lj = require "lunajail"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -m 0755 " .. dir))
local f = assert(io.open(dir .. "/hello.c", "w"))
f:write([[
#include <stdio.h>
#include <unistd.h>
int main (void) {
  printf("hello from a sandbox, uid %d\n", (int)getuid());
  return 0;
}
]])
f:close()

local cc = lj.run(lj.build{ work = dir, argv = { "cc", "-O2", "-o", "hello", "hello.c" } },
                  { timeout = 60 })
print(("compile: %s %s"):format(cc.exited and "exit " .. cc.code or cc.signame, cc.stderr))
if cc.code == 0 then
  local run = lj.run(lj.untrusted{ mounts = { { "ro-bind", dir, "/work" } },
                                   argv = { "/work/hello" } }, { timeout = 10 })
  -- /tmp and /home are noexec; /work here is a read-only bind that allows exec
  io.write("run: ", run.stdout)
end
os.execute("rm -rf " .. dir)
