-- examples/demo.lua: a sandbox built by hand, one primitive at a time.
--
-- A forked child enters new namespaces, pivots into a tmpfs root that
-- holds read-only binds of the system directories, drops privileges, and
-- then reports what it sees -- next to what the host sees.  Each step is
-- printed with its result, so a failing one says exactly what and why.
-- Works as root and, through a user namespace, as any user.
--
--   lua5.4 examples/demo.lua          (make demo sets the module paths)

local core = require "lunajail.core"

local function step (what, ok, err)
  io.write(("  %-46s %s\n"):format(what, ok and "ok" or ("FAILED: " .. err)))
  io.flush()
  if not ok then core._exit(1) end
end

local function sh (cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1")
  local out = p:read("a")
  p:close()
  return (out:gsub("%s+$", ""))
end

local function view (title)
  print(title)
  print("    hostname:  " .. sh("hostname"))
  print("    ids:       " .. sh("id"))
  print("    processes: " .. sh("ls /proc | grep -c '^[0-9]'"))
  print("    /:         " .. sh("ls / | tr '\\n' ' '"))
  print("    network:   " .. -- the interfaces
        sh("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' '"))
  print("    caps:      " .. sh("grep CapEff /proc/self/status"))
  print("    write /usr: " ..
        sh("touch /usr/lunajail-demo && echo allowed && rm /usr/lunajail-demo"))
end

local uid, gid = select(2, core.getresuid()), select(2, core.getresgid())
view("The host")
print()
print("The sandbox, built step by step in a child process:")

local pid = assert(core.fork())
if pid == 0 then
  step("unshare user, mount, pid, net, uts, ipc",
       core.unshare{"user", "mount", "pid", "net", "uts", "ipc"})
  step("map our uid " .. uid .. " to 0 inside",
       core.write_idmap(core.getpid(), "uid", {{0, uid, 1}}))
  step("map our gid " .. gid .. " to 0 inside",
       core.write_idmap(core.getpid(), "gid", {{0, gid, 1}}))
  -- the new pid namespace applies to our children: fork its PID 1
  local inner = assert(core.fork())
  if inner ~= 0 then
    local st = core.waitpid(inner)
    core._exit(st.code or 1)
  end
  step("make every mount private", core.mount(nil, "/", nil, {"rec", "private"}))
  step("tmpfs over /tmp (nothing touches the host)",
       core.mount("tmpfs", "/tmp", "tmpfs", {"nosuid", "nodev"}))
  local root = "/tmp/root"
  step("tmpfs as the new root " .. root, core.mkdir_p(root) and
       core.mount("tmpfs", root, "tmpfs", {"nosuid", "nodev"}, "mode=0755"))
  for _, d in ipairs{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"} do
    local link = sh("readlink " .. d)
    if link ~= "" then
      step("symlink " .. d .. " -> " .. link, core.symlink(link, root .. d))
    elseif sh("test -d " .. d .. " && echo y") == "y" then
      step("read-only bind of " .. d, core.mkdir_p(root .. d) and
           core.mount(d, root .. d, nil, {"bind", "rec", "rdonly", "nosuid", "nodev"}))
    end
  end
  step("a /dev with only null in it", core.mkdir_p(root .. "/dev") and
       core.touch(root .. "/dev/null") and
       core.mount("/dev/null", root .. "/dev/null", nil, {"bind"}))
  step("mount a /proc of the new pid namespace", core.mkdir_p(root .. "/proc")
       and core.mount("proc", root .. "/proc", "proc", {"nosuid", "nodev", "noexec"}))
  step("chdir into the new root", core.chdir(root))
  step("pivot_root(\".\", \".\"): the old root under the new",
       core.pivot_root(".", "."))
  step("detach the old root", core.umount(".", {"detach"}))
  step("chdir /", core.chdir("/"))
  step("hostname \"sandbox\"", core.sethostname("sandbox"))
  step("bring up the loopback", core.ifup("lo"))
  step("no core dumps", core.setrlimit("core", 0))
  step("no new privileges", core.no_new_privs())
  step("drop every capability", core.caps_keep{})
  print()
  view("The sandbox (uid 0 inside is uid " .. uid .. " outside)")
  core._exit(0)
end
local st = assert(core.waitpid(pid))
print()
print(st.code == 0 and "Done: the same commands, two views."
      or "The sandbox failed (see the step above).")
os.exit(st.code == 0)
