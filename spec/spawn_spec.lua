-- core.spawn: every step type applied in a real sandbox and observed from
-- inside, the step-level errors, PID 1, and the hygiene of the child.
local H = require "helper"

-- every snippet gets the plan builders
local function lua (mode, code)
  return H.lua(mode, 'require "lunajail"\nlocal P = require "plans"\n' .. code)
end

describe("core.spawn", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()

      it("runs argv with exactly the given environment and cwd", function()
        local r = lua(mode, [[
          return P.run{ argv = {"/usr/bin/env"}, env = {"A=1", "B=two"},
                        cwd = "/usr" }
        ]])
        assert.equal("A=1\nB=two\n", r.stdout)
        local r2 = lua(mode, [[
          return P.run{ argv = {"sh", "-c", "pwd; echo $X"},
                        env = {PATH = "/usr/bin:/bin", X = "y"}, cwd = "/usr" }
        ]])
        assert.equal("/usr\ny\n", r2.stdout)
        assert.equal(0, r2.status.code)
      end)

      it("looks a name up in the plan's PATH, not the host's", function()
        local r, err = lua(mode, [[
          local ok = P.run{ argv = {"true"}, env = {PATH = "/usr/bin"} }
          return ok and ok.status.code, select(2, core.spawn{ argv = {"true"},
            env = {PATH = "/nonexistent"} })
        ]])
        assert.equal(0, r)
        assert.equal("exec", err.op)
        assert.equal("ENOENT", err.errname)
      end)

      it("builds a full sandbox: pivot_root, binds, proc, pid 1", function()
        local r = lua(mode, [[
          return P.sh("echo $$; ls /; cat /proc/1/cmdline | tr '\\0' ' '; " ..
                      "touch /usr/x 2>&1; ls /proc | grep -c '^[0-9]'")
        ]])
        local lines = {}
        for l in r.stdout:gmatch("[^\n]+") do lines[#lines + 1] = l end
        assert.equal("2", lines[1])                 -- init is pid 1
        assert.matches("proc", r.stdout)
        assert.matches("lunajail%-init", r.stdout)
        assert.matches("Read%-only file system", r.stdout)
        assert.not_matches("home", r.stdout)
        assert.not_matches("root\n", r.stdout)
      end)

      it("runs the payload as pid 1 when pid1 = false", function()
        local r = lua(mode, [[ return P.sh("echo $$", { pid1 = false }) ]])
        assert.equal("1\n", r.stdout)
      end)

      it("applies the id, prctl, rlimit and name steps", function()
        if H.novalgrind("does not emulate setdomainname, and refuses " ..
                        "setrlimit(RLIMIT_NOFILE) to the programs it runs") then
          return
        end
        local r = lua(mode, [[
          return P.sh("hostname; domainname; ulimit -n; ulimit -c; " ..
            "grep -E '^(NoNewPrivs|CapEff|CapBnd|CapAmb)' /proc/self/status", {
            steps = {
              {"sethostname", "box"}, {"setdomainname", "dom"},
              {"setrlimit", "nofile", 64, 64}, {"setrlimit", "core", 0},
              {"no_new_privs"}, {"caps_keep", {}},
            }})
        ]])
        assert.equal("box\ndom\n64\n0\n" ..
          "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n" ..
          "CapAmb:\t0000000000000000\nNoNewPrivs:\t1\n", r.stdout)
      end)

      it("drops to another uid and gid inside (ranges mapped)", function()
        if mode ~= "root" then
          return H.skip("an unprivileged user maps only its own id without " ..
                        "newuidmap and /etc/subuid entries")
        end
        local r = lua(mode, [[
          local plan = P.sandbox{ argv = {"sh", "-c", "id -u; id -g; id -G"},
            steps = { {"setgroups", {}}, {"setresgid", 1000},
                      {"setresuid", 1000} } }
          plan.uidmap = {{0, 100000, 65536}}
          plan.gidmap = {{0, 100000, 65536}}
          return P.run(plan)
        ]])
        assert.equal("1000\n1000\n1000\n", r.stdout)
      end)

      it("leaves the caller dumpable, or not, as it was", function()
        -- a child that changes its ids in the caller's memory makes that
        -- memory undumpable while it runs; the spawner restores it
        local r = lua(mode, [[
          local id = core.getresuid() == 0 and 65534 or 0
          local plan = { argv = {"/bin/true"},
                         steps = { {"setresgid", id}, {"setresuid", id} } }
          if id == 0 then
            plan.namespaces = {"user"}
            plan.uidmap = {{0, select(2, core.getresuid()), 1}}
            plan.gidmap = {{0, select(2, core.getresgid()), 1}}
          end
          local out = {}
          for _, before in ipairs{true, false} do
            assert(core.dumpable(before))
            local c, err = core.spawn(plan)
            out[#out + 1] = tostring(core.prctl_state().dumpable)
            if c then c:wait() c:close() else out[#out + 1] = err.hint end
          end
          return table.concat(out, " ")
        ]])
        if mode == "root" then
          assert.equal("true false", r)
        else
          -- not dumpable, its child's /proc/PID/uid_map is root's: say so
          assert.equal("true false this process is not dumpable, so its " ..
                       "child's /proc files belong to root: without " ..
                       "CAP_SETUID, spawn with dumpable(true)", r)
        end
      end)

      it("applies file steps: mkdir_p, write_file, symlink, touch", function()
        local r = lua(mode, [[
          return P.sh("stat -c '%a %F' /tmp/d /tmp/f /tmp/t; cat /tmp/f; " ..
                      "readlink /tmp/l", { steps = {
            {"mkdir_p", "/tmp/d", "0700"}, {"write_file", "/tmp/f", "hi\n", "0640"},
            {"symlink", "/tmp/f", "/tmp/l"}, {"touch", "/tmp/t", "0400"} } })
        ]])
        assert.equal("700 directory\n640 regular file\n400 regular empty file\n" ..
                     "hi\n/tmp/f\n", r.stdout)
      end)

      it("resolves paths below a beneath step's root inside it", function()
        -- with openat2, then by hand (a filter makes openat2 ENOSYS, as on
        -- Linux before 5.6 or under valgrind)
        local r = { lua(mode, [[
          local out = {}
          for _, walk in ipairs{false, true} do
            local steps = {
              {"mkdir_p", "/tmp/r/in"}, {"mkdir_p", "/tmp/out"},
              {"symlink", "/tmp/out", "/tmp/r/abs"},
              {"symlink", "../../out", "/tmp/r/rel"},
              {"symlink", "/in", "/tmp/r/ok"}, {"symlink", "ok/../../..", "/tmp/r/up"},
              {"beneath", "/tmp/r"},
              {"write_file", "/tmp/r/abs/f", "x", optional = true},
              {"mkdir_p", "/tmp/r/rel/d", optional = true},
              {"touch", "/tmp/r/abs/t", optional = true},
              {"symlink", "x", "/tmp/r/rel/l", optional = true},
              {"mount", "tmpfs", "/tmp/r/abs", "tmpfs", optional = true},
              {"write_file", "/tmp/r/ok/f", "x"}, {"mkdir_p", "/tmp/r/ok/d"},
              {"mount", "tmpfs", "/tmp/r/ok/d", "tmpfs"},
              {"touch", "/tmp/r/ok/d/t"}, {"write_file", "/tmp/r/up/in/g", "y"},
            }
            if walk then
              table.insert(steps, 1, {"seccomp", core.seccomp_filter{
                rules = { {"errno:ENOSYS", "openat2"} } }})
              table.insert(steps, 1, {"no_new_privs"})
            end
            local res, err = P.sh("ls -A /tmp/out; echo -; ls -A /tmp/r/in " ..
                                  "/tmp/r/in/d", { steps = steps })
            if not res then error(tostring(err), 0) end
            out[#out + 1] = res.stdout
          end
          return out[1], out[2], core.beneath
        ]]) }
        -- nothing escaped to /tmp/out; "/in" and "ok/../../.." stayed inside
        local want = "-\n/tmp/r/in:\nd\nf\ng\n\n/tmp/r/in/d:\nt\n"
        assert.same({ want, want }, { r[1], r[2] })
        assert.is_nil(r[3])                              -- a plan's step only
      end)

      it("applies unshare, setns, chroot and ifup steps", function()
        local r = lua(mode, [[
          return P.sh("readlink /proc/self/ns/uts; cat /proc/net/dev | " ..
            "tail -n +3 | cut -d: -f1 | tr -d ' '; ip -o link show lo 2>&1 | " ..
            "grep -o 'state [A-Z]*\\|UP' | head -1", {
            steps = { {"ifup", "lo"}, {"unshare", {"uts"}},
                      {"setns", "/proc/self/ns/uts", {"uts"}} } })
        ]])
        assert.matches("^uts:%[%d+%]\nlo\n", r.stdout)
        local r2 = lua(mode, [[
          return P.sh("ls /", { steps = { {"mkdir_p", "/tmp/jail/bin"},
            {"chroot", "/tmp/jail"}, {"chdir", "/"} }, argv0 = nil, pid1 = false })
        ]])
        -- after chroot there is no sh: the exec step fails, naming itself
        assert.is_nil(r2)
      end)

      it("applies seccomp and landlock steps before exec", function()
        if H.novalgrind("lacks the Landlock system calls") then return end
        local r = lua(mode, [[
          local f = core.seccomp_filter{ rules = { {"errno:EPERM", "mkdir"} } }
          return P.sh("mkdir /tmp/x 2>&1; echo > /usr/y 2>&1; cat /etc/hostname " ..
                      ">/dev/null 2>&1 || echo no-etc; " ..
                      "grep -E '^Seccomp:' /proc/self/status", { steps = {
            {"no_new_privs"}, {"seccomp", f},
            {"landlock", { {"/usr", "ro"}, {"/tmp", "rw"}, {"/dev", "rw"},
                           {"/proc", "ro"} }} } })
        ]])
        assert.matches("Operation not permitted", r.stdout)
        assert.matches("no%-etc", r.stdout)              -- landlock: /etc denied
        assert.matches("Seccomp:\t2", r.stdout)
      end)

      it("passes stdio and extra fds at their numbers, nothing else", function()
        local r = lua(mode, [[
          -- leave fds open in the parent without close-on-exec
          local leak = {}
          for i = 1, 20 do leak[i] = io.open("/dev/null") end
          local rd, wr = io.open("/etc/hostname"), io.open("/dev/null", "w")
          local p = io.popen("true")          -- a pipe fd the child must not see
          local c = assert(core.spawn{ argv = {"/bin/ls", "/proc/self/fd"},
            stdio = {"null", "pipe", "stdout"}, fds = { [7] = 0 } })
          local out = c:communicate(nil, 10)
          p:close()
          return out
        ]])
        -- ls itself opens one fd (3) for /proc/self/fd
        assert.equal("0\n1\n2\n3\n7\n", r)
      end)

      it("maps fds without clobbering (a swap, one source twice)", function()
        local fa, fb, out = lua(mode, [[
          local a = assert(io.open("/etc/hostname"))   -- lowest free fds: 3
          local b = assert(io.open("/etc/passwd"))     -- and 4
          local function fdof (name)
            for i = 3, 20 do
              local h = io.popen("readlink /proc/" .. core.getpid() .. "/fd/" .. i)
              local l = h:read("l") h:close()
              if l == name then return i end
            end
          end
          local fa, fb = fdof("/etc/hostname"), fdof("/etc/passwd")
          local c = assert(core.spawn{ argv = {"/usr/bin/readlink", "/proc/self/fd/3",
            "/proc/self/fd/4", "/proc/self/fd/5"}, stdio = {"null", "pipe", "inherit"},
            fds = { [fa] = fb, [fb] = fa, [5] = fa } })
          return fa, fb, (c:communicate(nil, 10))
        ]])
        assert.same({ 3, 4 }, { fa, fb })
        assert.equal("/etc/passwd\n/etc/hostname\n/etc/hostname\n", out)
      end)

      it("starts a new session, resets the signal state", function()
        local r = lua(mode, [[
          return P.run{ argv = {"sh", "-c",
            "ps -o sid= -p $$ | tr -d ' '; echo $$; " ..
            "grep -E '^Sig(Blk|Ign)' /proc/self/status"},
            env = {PATH = "/usr/bin:/bin"}, stdio = {"null", "pipe", "pipe"} }
        ]])
        local sid, pid = r.stdout:match("^(%d+)\n(%d+)\n")
        assert.equal(pid, sid)
        assert.matches("SigBlk:\t0000000000000000", r.stdout)
        assert.matches("SigIgn:\t0000000000000000", r.stdout)
      end)

      it("keeps the session when new_session = false", function()
        local r = lua(mode, [[
          return P.run{ argv = {"sh", "-c", "ps -o sid= -p $$; echo $$"},
            env = {PATH = "/usr/bin:/bin"}, new_session = false }
        ]])
        local sid, pid = r.stdout:match("^%s*(%d+)\n(%d+)\n")
        assert.are_not.equal(pid, sid)
      end)
    end)
  end

  describe("step errors", function()
    local mode = H.modes[1]

    it("names the failing step, op, errno and arguments", function()
      local err = lua(mode, [[
        local c, err = core.spawn{ argv = {"/bin/true"},
          steps = { {"sethostname", "x"}, {"mount", "tmpfs", "/nonexistent/dir",
                    "tmpfs"} }, namespaces = {"user", "mount", "uts"},
          uidmap = {{0, select(2, core.getresuid()), 1}},
          gidmap = {{0, select(2, core.getresgid()), 1}} }
        assert(c == nil)
        return { step = err.step, op = err.op, errno = err.errno,
                 errname = err.errname, args = err.args, text = tostring(err) }
      ]])
      assert.equal(2, err.step)           -- plan.steps[2]
      assert.equal("mount", err.op)
      assert.equal(2, err.errno)
      assert.equal("ENOENT", err.errname)
      assert.same({ "tmpfs", "/nonexistent/dir", "tmpfs" }, err.args)
      assert.equal('step 2 mount("tmpfs", "/nonexistent/dir", "tmpfs"): ' ..
                   'No such file or directory (ENOENT)', err.text)
    end)

    it("reports exec failures as their own step", function()
      local r = lua(mode, [[
        local out = {}
        local plain, junk = os.tmpname(), os.tmpname()
        io.open(junk, "w"):write("\1\2\3\4 not a program"):close()
        os.execute("chmod 644 " .. plain .. "; chmod 755 " .. junk)
        for _, path in ipairs{"/nonexistent", "/", plain, junk} do
          local _, err = core.spawn{ argv = {path} }
          out[#out + 1] = err.op .. " " .. err.errname
        end
        os.remove(plain) os.remove(junk)
        local _, e = core.spawn{ argv = {"/nonexistent"}, namespaces = {"pid",
          "user"}, uidmap = {{0, select(2, core.getresuid()), 1}} }
        out[#out + 1] = "init " .. e.op .. " " .. e.errname
        return table.concat(out, ",")
      ]])
      assert.equal("exec ENOENT,exec EACCES,exec EACCES,exec ENOEXEC," ..
                   "init exec ENOENT", r)
    end)

    it("reports a step that killed the child before exec", function()
      if H.novalgrind("lacks seccomp(2), so libseccomp refuses kill_process, " ..
                      "and cannot run a CLONE_VM child: spawn forks it instead " ..
                      "and cannot see the step it died in (csrc/spawn.c startchild)") then
        return
      end
      local e = lua(mode, [[
        local f = core.seccomp_filter{ rules = { {"kill_process", "chdir"} } }
        local _, err = core.spawn{ argv = {"/bin/true"},
          steps = { {"no_new_privs"}, {"seccomp", f}, {"chdir", "/"} } }
        return { step = err.step, op = err.op, signame = err.signame,
                 text = tostring(err) }
      ]])
      assert.equal(3, e.step)
      assert.equal("chdir", e.op)
      assert.equal("SIGSYS", e.signame)
      assert.equal('step 3 chdir("/"): killed by SIGSYS', e.text)
    end)

    it("continues past optional steps and reports them", function()
      local r = lua(mode, [[
        local c = assert(core.spawn{ argv = {"/bin/true"},
          steps = { {"mount", "tmpfs", "/nonexistent", "tmpfs", optional = true} } })
        c:wait()
        local rep = c:reports()
        return { #rep, rep[1] and rep[1].op, rep[1] and rep[1].errname }
      ]])
      assert.same({ 1, "mount", "ENOENT" }, r)
    end)

    it("traces every step when asked", function()
      local n, msg = lua(mode, [[
        local c = assert(core.spawn{ argv = {"/bin/true"}, trace = true,
          steps = { {"chdir", "/"} } })
        c:wait()
        local rep = c:reports()
        return #rep, rep[2].message
      ]])
      assert.equal(3, n)                  -- setsid, chdir, fds (exec: no return)
      assert.equal('step 1 chdir("/"): ok', msg)
    end)

    it("raises on misuse, naming the step and the argument", function()
      local cases = {
        { "{ argv = {} }", "plan.argv: bad argument #1: empty argv" },
        { "{ argv = {'x'}, steps = {{'mountt'}} }",
          "plan.steps%[1%]: unknown step 'mountt' %(valid: .*mount" },
        { "{ argv = {'x'}, steps = {{'mount', nil, 5}} }",
          "plan.steps%[1%] mount: bad argument #2 %(target%): string expected" },
        { "{ argv = {'x'}, steps = {{'chdir', '/', optional = 1}} }",
          "optional: boolean expected" },
        { "{ argv = {'x'}, stdio = {'pipes'} }", "stdin: \"pipe\"" },
        { "{ argv = {'x'}, fds = {[1] = 0} }", "target fds 3 and up" },
        { "{ argv = {'x'}, pid1 = true }", "pid1 needs the \"pid\" namespace" },
        { "{ argv = {'x'}, uidmap = {{0, 0, 1}} }", "need the \"user\" namespace" },
        { "{ argv = {'x'}, namespaces = {'user'}, uidmap = {{0, -1, 1}} }",
          "{inside, outside, count} expected" },
        { "{ argv = {'x'}, env = {A = 1} }", "string keys and values" },
        { "{ argv = {'x'}, env = {'NOEQUALS'} }", "\"NAME=value\" expected" },
        { "{ argv = {'x'}, die_with_parent = 0 }", "boolean expected" },
        { "{ argv = {'x'}, bogus = 1 }", "unknown plan field 'bogus'" },
      }
      for _, c in ipairs(cases) do
        local err = H.raises(mode, "return core.spawn" .. c[1])
        assert.matches(c[2], err)
      end
    end)

    it("reports a refused id map as step 0 with a hint", function()
      local e = lua("nobody" == H.modes[2] and "nobody" or mode, [[
        local _, err = core.spawn{ argv = {"/bin/true"}, namespaces = {"user"},
          uidmap = {{0, 12345, 1}} }
        if not err then return "mapped" end
        return { step = err.step, op = err.op, hint = err.hint }
      ]])
      if e == "mapped" then return H.skip("running with CAP_SETUID") end
      assert.equal(0, e.step)
      assert.equal("uid_map", e.op)
      assert.matches("newuidmap", e.hint)
    end)
  end)

  describe("hygiene", function()
    local mode = H.modes[#H.modes]

    it("leaves no fd, child or mount behind after 1,000 spawns", function()
      local fds0, fds1, kids, mounts0, mounts1 = lua(mode, [[
        local function mounts ()
          local n = 0
          for _ in io.lines("/proc/self/mountinfo") do n = n + 1 end
          return n
        end
        local plan = P.sandbox{ argv = {"/bin/true"} }
        local fail = { argv = {"/nonexistent"} }
        local c = core.spawn(plan) c:wait() c:close()
        collectgarbage()
        local fds0, m0 = P.fdcount(), mounts()
        for i = 1, 1000 do
          local c = core.spawn(i % 2 == 0 and plan or fail)
          if c then c:wait() c:close() end
        end
        collectgarbage()
        for i = 1, 100 do if core.reap() == 0 then break end core.poll({}, 0.02) end
        return fds0, P.fdcount(), P.childcount(), m0, mounts()
      ]])
      assert.equal(fds0, fds1)
      assert.equal(0, kids)
      assert.equal(mounts0, mounts1)
    end)

    it("reaps a child that was collected without close()", function()
      local kids = lua(mode, [[
        for i = 1, 20 do core.spawn{ argv = {"/bin/sleep", "100"} } end
        collectgarbage() collectgarbage()
        for i = 1, 50 do
          if core.reap() == 0 then break end
          core.poll({}, 0.05)
        end
        return P.childcount()
      ]])
      assert.equal(0, kids)
    end)

    it("takes the sandbox down when its parent is killed", function()
      local left = lua(mode, [[
        -- a Lua parent spawns a sandbox whose payload double-forks a daemon,
        -- writes the sandbox's host pid, and waits; then it is SIGKILLed
        local pidfile = os.tmpname()
        local script = os.tmpname()
        local f = io.open(script, "w")
        f:write(("package.path = %q .. package.path\n"):format(
          TOP .. "/lua/?.lua;" .. TOP .. "/lua/?/init.lua;" .. TOP .. "/spec/?.lua;"))
        f:write(("package.cpath = %q .. package.cpath\n"):format(BUILD .. "/?.so;"))
        f:write([=[
          local core = require "lunajail.core"
          require "lunajail"
          local P = require "plans"
          local c = assert(core.spawn(P.sandbox{ argv = {"sh", "-c",
            "(setsid sh -c 'sleep 1000' &); sleep 1000"},
            stdio = {"null", "null", "null"} }))
          local out = io.open(arg[1], "w")
          out:write(core.getpid(), " ", c.pid, "\n")
          out:close()
          while true do core.poll({}, 10) end
        ]=])
        f:close()
        os.execute("lua5.4 " .. script .. " " .. pidfile .. " >/dev/null 2>&1 &")
        local parent, sandbox
        for i = 1, 200 do
          local h = io.open(pidfile)
          local l = h and h:read("l")
          if h then h:close() end
          if l and l ~= "" then
            parent, sandbox = l:match("(%d+) (%d+)")
            break
          end
          core.poll({}, 0.05)
        end
        assert(sandbox, "the parent did not start its sandbox")
        core.poll({}, 0.3)                 -- let the daemon start
        local h = io.popen("readlink /proc/" .. sandbox .. "/ns/pid")
        local ns = h:read("l")
        h:close()
        assert(core.kill(tonumber(parent), "KILL"))
        local left
        for i = 1, 100 do
          left = 0
          local p = io.popen("for p in /proc/[0-9]*; do readlink $p/ns/pid; " ..
                             "done 2>/dev/null")
          for l in p:lines() do if l == ns then left = left + 1 end end
          p:close()
          if left == 0 then break end
          core.poll({}, 0.05)
        end
        os.remove(pidfile) os.remove(script)
        return left
      ]])
      assert.equal(0, left)
    end)

    it("cannot see or signal processes outside the sandbox", function()
      local r = lua(mode, [[
        return P.sh("ls /proc | grep -c '^[0-9]'; kill -0 " .. core.getpid() ..
                    " 2>&1; kill -9 -1 2>&1; echo survived")
      ]])
      assert.matches("^[1-4]\n", r.stdout)       -- init, sh, ls/grep
      assert.matches("No such process", r.stdout)
    end)
  end)
end)
