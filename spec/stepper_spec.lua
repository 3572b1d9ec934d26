-- the stepper (csrc/stepper.c, lua/lunajail/stepper.lua): a paused child
-- driven one step at a time, its state, its exec and its forks; that it
-- cannot be reached while paused, dies with its parent, leaks nothing;
-- and the REPL of examples/stepper.lua in a real pty.
local H = require "helper"

local function lua (mode, code)
  return H.lua(mode, 'require "lunajail"\nlocal P = require "plans"\n' ..
               'local S = require "lunajail.stepper"\n' .. code)
end

-- a plan with these namespaces, and a user namespace (our ids mapped
-- to 0) when not root
local NS = [[
  local function plan (list, t)
    t = t or {}
    t.namespaces = list
    if MODE ~= "root" then
      list[#list + 1] = "user"
      t.uidmap = { { 0, select(2, core.getresuid()), 1 } }
      t.gidmap = { { 0, select(2, core.getresgid()), 1 } }
    end
    return t
  end
]]

describe("the stepper", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()

      it("builds the default container step by step, the same as lj.container{}", function()
        -- what a payload sees of itself: ids, capabilities, no_new_privs,
        -- seccomp, host name and the shape of its mounts (mount point,
        -- options, type, source, super options), its uid as UID
        local r = lua(mode, [[
          local script = [=[
            echo "ids $(id -u) $(id -g) $(id -G)"; hostname
            grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status
            awk '{ for (i = 7; $i != "-"; i++); print $5, $6, $(i+1), $(i+2), $(i+3) }' \
              /proc/self/mountinfo
          ]=]
          local function norm (out)
            local uid = out:match("^ids (%d+)")
            return (out:gsub(uid, "UID")), uid
          end
          local recipe = lj.container{ argv = {"sh", "-c", script} }
          local plan, why, ids = recipe:steps()
          for i, w in ipairs(why) do                 -- an auto id reads "auto"
            why[i] = w:gsub(tostring(ids.uid), "auto")
          end
          local s = assert(lj.stepper(recipe))
          local n, steps, reasons = 0, true, true
          while true do
            local step, reason, report = s:next()
            if not step then assert(reason == nil, tostring(reason)) break end
            n = n + 1
            steps = steps and step[1] == plan.steps[n][1] and report.step == n
            reasons = reasons and reason == why[n]
          end
          local count = s:count()
          local c = assert(s:exec())
          local out, err, st = c:communicate(nil, 30)
          local stepped, uid = norm(out)
          local res = assert(lj.run(recipe, { timeout = 30 }))
          return { n = n, planned = #plan.steps, steps = steps, reasons = reasons,
                   count = count, code = st.code, err = err, stepped = stepped,
                   ran = norm(res.stdout), uid = uid, same = c == s:pidfd() }
        ]])
        assert.equal(r.planned, r.n)
        assert.is_true(r.steps)
        assert.is_true(r.reasons)
        assert.equal(r.n, r.count)
        assert.equal(0, r.code, r.err)
        assert.equal(r.ran, r.stepped)
        assert.matches("ids UID UID UID\nsandbox\n", r.stepped)
        assert.matches("CapEff:%s+0+\n", r.stepped)
        assert.matches("NoNewPrivs:%s+1\nSeccomp:%s+2\n", r.stepped)
        assert.matches("\n/ ro,[^\n]* tmpfs ", r.stepped)
        assert.not_equal("0", r.uid)
      end)

      it("stops a recipe at a step, changes the next one and goes on", function()
        local r = lua(mode, [[
          local s = assert(lj.stepper(lj.container{ argv = {"hostname"} }))
          local step, why
          repeat
            step, why = s:peek()
            if step[1] ~= "sethostname" then assert(s:next()) end
          until step[1] == "sethostname"
          s:replace({ "sethostname", "changed" }, "a host name of my own")
          local applied, reason, report = s:next()
          assert(s:rest())
          local c = assert(s:exec())
          return { was = why, applied = applied[2], reason = reason,
                   report = report.message, out = c:communicate(nil, 30),
                   left = s.recipe_steps == nil }
        ]])
        assert.equal("host name", r.was)
        assert.equal("changed", r.applied)
        assert.equal("a host name of my own", r.reason)
        assert.matches('^step %d+ sethostname%("changed"%): ok$', r.report)
        assert.equal("changed\n", r.out)
      end)

      it("leaves the child as it was after a failed step, which a corrected one follows", function()
        local r = lua(mode, NS .. [[
          local s = assert(core.stepper(plan({"mount"}, {
            argv = {"grep", " /tmp/x ", "/proc/self/mountinfo"},
            env = {PATH = "/usr/bin:/bin"} })))
          assert(s:steps{ {"mount", nil, "/", nil, {"rec", "private"}},
                          {"mount", "tmpfs", "/tmp", "tmpfs"} })
          local before = s:state()
          local ok, err = s:step{"mount", "tmpfs", "/tmp/x", "tmpfs"}
          local after = s:state()
          local ok2, made = s:step{"mkdir_p", "/tmp/x"}
          local ok3, mounted = s:step{"mount", "tmpfs", "/tmp/x", "tmpfs"}
          local c = assert(s:exec())
          local out, _, st = c:communicate(nil, 30)
          return { ok = ok, err = err, same = #S.diff(before, after), made = made.message,
                   mounted = mounted.message, mstep = mounted.step, out = out,
                   code = st.code, usec = math.type(mounted.usec) }
        ]])
        assert.is_nil(r.ok)
        assert.equal(3, r.err.step)
        assert.equal("mount", r.err.op)
        assert.equal("ENOENT", r.err.errname)
        assert.equal('step 3 mount("tmpfs", "/tmp/x", "tmpfs"): No such file or ' ..
                     'directory (ENOENT)', r.err.message)
        assert.equal(0, r.same)                      -- nothing changed
        assert.equal('step 3 mkdir_p("/tmp/x"): ok', r.made)
        assert.equal('step 4 mount("tmpfs", "/tmp/x", "tmpfs"): ok', r.mounted)
        assert.equal("integer", r.usec)
        assert.matches(" /tmp/x [^\n]* tmpfs tmpfs ", r.out)
        assert.equal(0, r.code)
      end)

      it("stops several steps at the first failure; an optional one goes on", function()
        local r = lua(mode, NS .. [[
          local s = assert(core.stepper(plan({"uts"})))
          local ok, err, reports = s:steps{ {"sethostname", "one"},
                                            {"chdir", "/nonexistent"},
                                            {"sethostname", "three"} }
          local host = s:state().hostname
          local opt, warn = s:step{"chdir", "/nonexistent", optional = true}
          local all, list = s:steps{ {"sethostname", "two"}, {"chdir", "/"} }
          return { ok = ok, err = err.message, n = #reports, host = host,
                   opt = opt, warn = warn.message, all = all, list = #list,
                   last = list[2].message, count = s:count() }
        ]])
        assert.is_nil(r.ok)
        assert.equal('step 2 chdir("/nonexistent"): No such file or directory (ENOENT)',
                     r.err)
        assert.equal(1, r.n)
        assert.equal("one", r.host)                   -- step 3 never ran
        assert.is_true(r.opt)
        assert.equal('step 2 chdir("/nonexistent"): No such file or directory (ENOENT)',
                     r.warn)
        assert.is_true(r.all)
        assert.equal(2, r.list)
        assert.equal('step 4 chdir("/"): ok', r.last)
        assert.equal(4, r.count)
      end)

      it("stays paused when its exec fails, and execs the corrected one", function()
        local r = lua(mode, NS .. [[
          local s = assert(core.stepper(plan({"pid", "uts"}, { env = {PATH = "/usr/bin:/bin"} })))
          assert(s:step{"sethostname", "x", optional = true})
          local a, e1 = s:exec{ argv = {"nosuchprogram"} }
          local b, e2 = s:exec{ argv = {"/bin/true"}, cwd = "/nonexistent" }
          local c = assert(s:exec{ argv = {"sh", "-c", "echo $$; pwd; exit 7"}, cwd = "/usr" })
          local out, _, st = c:communicate(nil, 30)
          return { e1 = e1.message, e2 = e2.message, out = out, code = st.code,
                   count = s:count(), phase = s:phase(), same = s.pid == c.pid }
        ]])
        assert.equal('step 3 exec("nosuchprogram"): No such file or directory (ENOENT)', r.e1)
        assert.equal('step 2 chdir("/nonexistent"): No such file or directory (ENOENT)', r.e2)
        assert.equal("2\n/usr\n", r.out)             -- under init, as a spawn's
        assert.equal(7, r.code)
        assert.equal(4, r.count)                     -- 1 the step, 2 chdir, fds, exec
        assert.equal("exec'd", r.phase)
        assert.is_true(r.same)
      end)

      it("reports each kind of step in its state", function()
        local r = lua(mode, NS .. [[
          local s = assert(core.stepper(plan({"mount", "uts", "ipc", "net", "pid"})))
          local function change (steps)
            local a = s:state()
            assert(s:steps(steps))
            return a, s:state()
          end
          local out = {}
          local a, b = change{ {"sethostname", "box"}, {"setdomainname", "dom"} }
          out.host = { a.hostname, b.hostname, b.domainname }
          a, b = change{ {"mount", nil, "/", nil, {"rec", "private"}},
                         {"mount", "tmpfs", "/mnt", "tmpfs", {"nosuid"}, "size=1m"} }
          local m
          for _, x in ipairs(b.mounts) do if x.target == "/mnt" then m = x end end
          out.mount = { m and m.fstype, m and m.options:match("nosuid") ~= nil,
                        #S.diff(a, b) }
          a, b = change{ {"chdir", "/mnt"} }
          out.cwd = { a.cwd ~= "/mnt", b.cwd }
          a, b = change{ {"setrlimit", "nofile", 64, 128} }
          out.rlimit = b.rlimits.nofile
          a, b = change{ {"unshare", {"ipc"}} }
          out.ipc = { a.namespaces.ipc.new, b.namespaces.ipc.new,
                      a.namespaces.ipc.id ~= b.namespaces.ipc.id,
                      b.namespaces.uts.new, b.namespaces.user.new }
          a, b = change{ {"caps_drop_bound", {"sys_admin"}} }
          out.bound = { table.concat(a.caps.bounding, ","):find("sys_admin") ~= nil,
                        table.concat(b.caps.bounding, ","):find("sys_admin") ~= nil }
          if MODE == "root" then
            a, b = change{ {"setresgid", 1234}, {"setresuid", 4321} }
            out.ids = { b.uid[1], b.uid[2], b.gid[1] }
          else
            out.ids = { s:state().uid[1], 0, 0 }
          end
          a, b = change{ {"no_new_privs"} }
          out.nnp = { a.no_new_privs, b.no_new_privs }
          local f = core.seccomp_filter{ default = "allow",
                                         rules = { {"errno:EPERM", "acct"} } }
          a, b = change{ {"seccomp", f} }
          out.seccomp = { a.seccomp, b.seccomp }
          if MODE ~= "root" then
            a, b = change{ {"caps_keep", {}} }
            out.caps = { #a.caps.effective > 0, #b.caps.effective, #b.caps.permitted }
          end
          out.dumpable = b.dumpable
          out.count = s:count()
          return out
        ]])
        assert.same({ "box", "box", "dom" }, { r.host[2], r.host[2], r.host[3] })
        assert.not_equal("box", r.host[1])
        assert.same({ "tmpfs", true, 1 }, r.mount)
        assert.same({ true, "/mnt" }, r.cwd)
        assert.same({ 64, 128 }, r.rlimit)
        assert.same({ true, true, true, true, mode ~= "root" }, r.ipc)
        assert.same({ true, false }, r.bound)
        if mode == "root" then assert.same({ 4321, 4321, 1234 }, r.ids)
        else assert.same({ 0, 0, 0 }, r.ids) end
        assert.same({ false, true }, r.nnp)
        assert.same({ "disabled", "filter" }, r.seccomp)
        if mode ~= "root" then assert.same({ true, 0, 0 }, r.caps) end
        assert.is_false(r.dumpable)                   -- while paused
      end)

      it("forks steppers inside steppers, two levels deep", function()
        local r = lua(mode, NS .. [[
          local s1 = assert(core.stepper(plan({"uts", "pid"}, {
            env = {PATH = "/usr/bin:/bin"}, argv = {"sh", "-c", "hostname; exit 1"} })))
          assert(s1:step{"sethostname", "one"})
          local s2 = assert(s1:fork{ namespaces = {"uts"} })
          assert(s2:step{"sethostname", "two"})
          local s3 = assert(s2:fork{ namespaces = {"uts", "pid", "user"} })
          assert(s3:step{"sethostname", "three"})
          local ids = {}
          for i, s in ipairs{ s1, s2, s3 } do ids[i] = s:state().namespaces end
          local out = { counts = { s1:count(), s2:count(), s3:count() },
                        distinct = ids[1].uts.id ~= ids[2].uts.id and ids[2].uts.id ~= ids[3].uts.id
                                   and ids[1].uts.id ~= ids[3].uts.id,
                        user3 = ids[3].user.new and ids[3].user.id ~= ids[2].user.id,
                        pid2 = ids[2].pid.id == ids[1].pid.id,
                        uid3 = s3:state().uid }
          -- innermost first: a fork lives in its parent, which it dies with
          -- (its pid namespace's, or its parent-death signal)
          local c3 = assert(s3:exec{ argv = {"sh", "-c", "hostname; echo $$; exit 3"} })
          out.o3, out.e3, out.st3 = c3:communicate(nil, 30)
          local c2 = assert(s2:exec{ argv = {"sh", "-c", "hostname; exit 2"} })
          out.o2, out.e2, out.st2 = c2:communicate(nil, 30)
          local c1 = assert(s1:exec())
          out.o1, out.e1, out.st1 = c1:communicate(nil, 30)
          return out
        ]])
        assert.same({ 1, 2, 3 }, r.counts)
        assert.is_true(r.distinct)
        assert.is_true(r.user3)
        assert.is_true(r.pid2)
        assert.same({ 0, 0, 0 }, r.uid3)
        assert.equal("three\n2\n", r.o3)              -- pid 2: under its own init
        assert.equal("two\n", r.o2)
        assert.equal("one\n", r.o1)
        assert.same({ 3, 2, 1 }, { r.st3.code, r.st2.code, r.st1.code })
      end)

      it("takes its forks down when it is closed", function()
        local r = lua(mode, NS .. [[
          local s1 = assert(core.stepper(plan({"uts"})))
          local s2 = assert(s1:fork{ namespaces = {"uts"} })
          local pid = s2.pid
          local alive = core.kill(pid, 0)
          s1:close()
          local gone
          for _ = 1, 600 do
            local f = io.open("/proc/" .. pid .. "/stat")
            local st = f and f:read("a")
            if f then f:close() end
            gone = st == nil or st:match("^%d+ %b() ([ZX])") ~= nil
            if gone then break end
            core.poll({}, 0.05)
          end
          local ok, err = s2:step{"sethostname", "x"}
          return { alive = alive, gone = gone, ok = ok, err = err and err.message,
                   phase = s2:phase() }
        ]])
        assert.is_true(r.alive)
        assert.is_true(r.gone)
        assert.is_nil(r.ok)
        assert.matches("^step 1 sethostname%(\"x\"%): ", r.err)
        assert.equal("gone", r.phase)
      end)

      it("reports a child killed during a step", function()
        local r = lua(mode, NS .. [[
          local s = assert(core.stepper(plan({"uts"})))
          local f = core.seccomp_filter{ default = "allow",
                                         rules = { {"kill", "sethostname"} } }
          assert(s:step{"no_new_privs"})
          assert(s:step{"seccomp", f})
          local ok, err = s:step{"sethostname", "x"}
          local raised = select(2, pcall(s.step, s, {"sethostname", "y"}))
          return { ok = ok, err = err, phase = s:phase(), raised = raised }
        ]])
        assert.is_nil(r.ok)
        assert.equal(3, r.err.step)
        assert.equal("SIGSYS", r.err.signame)
        assert.equal('step 3 sethostname("x"): killed by SIGSYS', r.err.message)
        assert.equal("gone", r.phase)
        assert.matches("stepper:step: the stepper's child is gone", r.raised)
      end)
    end)
  end


  describe("while paused", function()
    for _, mode in ipairs(H.modes) do
      -- Non-dumpable, the paused child refuses a host process of its own
      -- uid that the kernel would let in otherwise: the same plan spawned
      -- (sleep) lets it read /proc/PID/environ, open /proc/PID/ns/mnt (the
      -- way in for setns) and PTRACE_ATTACH.  As root the "same uid" is the
      -- uid the stepper changed to (a uid change makes any process
      -- non-dumpable, and the stepper stays so); unprivileged, a stepper in
      -- no user namespace (one that is in a user namespace of ours has its
      -- owner's every capability: docs/reference.md)
      it("cannot be ptraced or entered by a host process of its uid as " .. mode, function()
        local r = lua(mode, [[
          local X = MODE == "root" and 4012345 or 65534
          local steps = MODE == "root" and { {"setresgid", X}, {"setresuid", X} } or {}
          local s = assert(core.stepper{})
          assert(s:steps(#steps > 0 and steps or { {"chdir", "/"} }))
          local c = assert(core.spawn{ argv = {"/bin/sleep", "100"}, steps = steps,
                                       stdio = {"null", "null", "null"} })
          local py = io.open("/usr/bin/python3") and "/usr/bin/python3"
          local function try (pid)
            local as = MODE == "root" and
              ("setpriv --reuid=%d --regid=%d --clear-groups "):format(X, X) or ""
            local cmd = as .. "sh -c 'cat /proc/" .. pid .. "/environ >/dev/null && " ..
              "echo environ; readlink /proc/" .. pid .. "/ns/mnt >/dev/null && echo ns" ..
              (py and ("; %s -c \"import ctypes; l = ctypes.CDLL(None); print(" ..
                       "\\\"attach\\\" if l.ptrace(16, %d, 0, 0) == 0 else \\\"refused\\\")\"")
                      :format(py, pid) or "") .. "' 2>/dev/null"
            local h = io.popen(cmd)
            local out = h:read("a")
            h:close()
            return out
          end
          local out = { stepper = try(s.pid), spawned = try(c.pid), py = py ~= nil }
          c:close()
          return out
        ]])
        assert.equal("environ\nns\n" .. (r.py and "attach\n" or ""), r.spawned)
        assert.equal(r.py and "refused\n" or "", r.stepper)
      end)

      it("dies with its parent, and so do its forks, as " .. mode, function()
        local r = lua(mode, NS .. [[
          local pidfile, script = os.tmpname(), os.tmpname()
          local f = io.open(script, "w")
          f:write(("package.path = %q .. package.path\n"):format(
            TOP .. "/lua/?.lua;" .. TOP .. "/lua/?/init.lua;"))
          f:write(("package.cpath = %q .. package.cpath\n"):format(BUILD .. "/?.so;"))
          f:write(("MODE = %q\n"):format(MODE))
          f:write([=[
            local core = require "lunajail.core"
            local t = { namespaces = {"uts"} }
            if MODE ~= "root" then
              t.namespaces[2] = "user"
              t.uidmap = { { 0, select(2, core.getresuid()), 1 } }
              t.gidmap = { { 0, select(2, core.getresgid()), 1 } }
            end
            local s = assert(core.stepper(t))
            local s2 = assert(s:fork{ namespaces = {"uts"} })
            local out = io.open(arg[1], "w")
            out:write(core.getpid(), " ", s.pid, " ", s2.pid, "\n")
            out:close()
            while true do core.poll({}, 10) end
          ]=])
          f:close()
          os.execute("lua5.4 " .. script .. " " .. pidfile .. " >/dev/null 2>&1 &")
          local pids
          for _ = 1, 600 do
            local h = io.open(pidfile)
            local l = h and h:read("l")
            if h then h:close() end
            if l and l ~= "" then pids = { l:match("(%d+) (%d+) (%d+)") } break end
            core.poll({}, 0.05)
          end
          assert(pids, "the parent did not start its stepper")
          local function alive (pid)
            local h = io.open("/proc/" .. pid .. "/stat")
            local st = h and h:read("a")
            if h then h:close() end
            return st ~= nil and st:match("^%d+ %b() ([ZX])") == nil
          end
          local before = { alive(pids[2]), alive(pids[3]) }
          assert(core.kill(tonumber(pids[1]), "KILL"))
          local after
          for _ = 1, 600 do
            after = { alive(pids[2]), alive(pids[3]) }
            if not after[1] and not after[2] then break end
            core.poll({}, 0.05)
          end
          os.remove(pidfile) os.remove(script)
          return { before = before, after = after }
        ]])
        assert.same({ true, true }, r.before)
        assert.same({ false, false }, r.after)
      end)
    end

    for _, mode in ipairs(H.modes) do
      it("leaves no process, fd or mount behind after 1,000 paused children as " .. mode,
         function()
        local r = lua(mode, NS .. [[
          local function mounts ()
            local n = 0
            for _ in io.lines("/proc/self/mountinfo") do n = n + 1 end
            return n
          end
          -- a process by pid and start time (pids are reused)
          local function started (pid)
            local f = io.open("/proc/" .. pid .. "/stat")
            local st = f and f:read("a")
            if f then f:close() end
            local state, rest = (st or ""):match("^%d+ %b() (%a) (.*)$")
            if not state or state == "Z" or state == "X" then return nil end
            local fields = {}
            for x in rest:gmatch("%S+") do fields[#fields + 1] = x end
            return fields[19]              -- field 22 of stat
          end
          local p = plan{"mount", "pid", "uts"}
          local s = assert(core.stepper(p)) s:close()
          local function settle ()
            collectgarbage() collectgarbage()
            for _ = 1, 600 do
              if core.reap() == 0 and P.childcount() == 0 then break end
              core.poll({}, 0.05)
            end
          end
          settle()
          local fds0, m0 = P.fdcount(), mounts()
          local live, made, forks = {}, 0, {}
          for i = 1, 1000 do
            local x = assert(core.stepper(p))
            made = made + 1
            if i % 2 == 0 then
              assert(x:steps{ {"mount", nil, "/", nil, {"rec", "private"}},
                              {"mount", "tmpfs", "/tmp", "tmpfs"} })
            end
            if i % 10 == 0 then
              local f = assert(x:fork{ namespaces = {"uts"} })
              forks[#forks + 1] = { f.pid, started(f.pid) }
              live[#live + 1] = f
            end
            live[#live + 1] = x
            if #live >= 50 then
              for k, y in ipairs(live) do if k % 2 == 0 then y:close() end end
              live = {}
              collectgarbage()               -- the other half: __gc
            end
          end
          live = nil
          settle()
          local left = 0
          for _ = 1, 600 do                  -- a fork is its runner's child
            left = 0
            for _, f in ipairs(forks) do
              if f[2] and started(f[1]) == f[2] then left = left + 1 end
            end
            if left == 0 then break end
            core.poll({}, 0.05)
          end
          return { made = made, fds0 = fds0, fds1 = P.fdcount(), kids = P.childcount(),
                   m0 = m0, m1 = mounts(), forks = #forks, left = left }
        ]])
        assert.equal(1000, r.made)
        assert.equal(100, r.forks)
        assert.equal(r.fds0, r.fds1)
        assert.equal(0, r.kids)
        assert.equal(0, r.left)
        assert.equal(r.m0, r.m1)
      end)
    end
  end)


  for _, mode in ipairs(H.modes) do
    describe("refuses bad input, naming it, and the child goes on, as " .. mode, function()
      it("raises for a bad step and applies the next good one", function()
        local r = lua(mode, NS .. [[
          local s = assert(core.stepper(plan({"uts"})))
          local out = {}
          for _, bad in ipairs{ {"nosuch", 1}, {"mount", "tmpfs", 5}, {"sethostname"},
                                "mount", {"chdir", "/", optional = 1} } do
            out[#out + 1] = select(2, pcall(s.step, s, bad))
          end
          out[#out + 1] = select(2, pcall(s.steps, s, { {"sethostname", "a"}, {"mount", 7} }))
          out[#out + 1] = select(2, pcall(s.steps, s, {}))
          out[#out + 1] = select(2, pcall(s.exec, s, { argv = 5 }))
          out[#out + 1] = select(2, pcall(s.exec, s, { argv = {"true"}, bogus = 1 }))
          out[#out + 1] = select(2, pcall(s.fork, s, { namespaces = {"nosuch"} }))
          out[#out + 1] = select(2, pcall(s.fork, s, { stdio = "tty" }))
          out[#out + 1] = select(2, pcall(s.fork, s, { uidmap = {{0, 0, 1}} }))
          local ok, report = s:step{"sethostname", "good"}
          out.host = s:state().hostname
          out.report = report.message
          out.count = s:count()
          return out
        ]])
        assert.matches("^stepper: step 1: unknown step 'nosuch' %(valid: unshare, ", r[1])
        assert.matches("^stepper: step 1 mount: bad argument #2 %(target%): ", r[2])
        assert.matches("^stepper: step 1 sethostname: bad argument #1 %(name%): ", r[3])
        assert.matches('^stepper: step 1: {"name", args...} expected, got string', r[4])
        assert.matches("^stepper: step 1%.optional: boolean expected", r[5])
        assert.matches("^stepper: step 2 mount: bad argument #1 %(source%): ", r[6])
        assert.matches("^stepper:steps: bad argument #2 %(steps%): 1 to 100000 steps", r[7])
        assert.matches("^stepper:exec: argv: bad argument #1: ", r[8])
        assert.matches("^stepper:exec: unknown option 'bogus' %(valid: argv, path, env, cwd%)",
                       r[9])
        assert.matches("^stepper:fork: namespaces: bad argument #1: .*nosuch", r[10])
        assert.matches('^stepper:fork: stdio: bad argument #1: "pipe" or "inherit"', r[11])
        assert.matches('^stepper:fork: uidmap/gidmap need the "user" namespace', r[12])
        assert.equal("good", r.host)
        assert.equal('step 1 sethostname("good"): ok', r.report)
        assert.equal(1, r.count)
      end)

      it("raises for a step after exec, after close, and for a bad plan", function()
        local r = lua(mode, NS .. [[
          local out = {}
          local s = assert(core.stepper(plan({"uts"})))
          local c = assert(s:exec{ argv = {"/bin/true"} })
          for _, f in ipairs{ "step", "steps", "exec", "fork", "rawstate" } do
            out[#out + 1] = select(2, pcall(s[f], s, {}))
          end
          out[#out + 1] = select(2, pcall(s.next, s))
          out[#out + 1] = select(2, pcall(s.state, s))
          out.wait = s:wait(30).code
          local t = assert(core.stepper{})
          t:close()
          out[#out + 1] = select(2, pcall(t.step, t, {"chdir", "/"}))
          out[#out + 1] = select(2, pcall(core.stepper, { steps = {} }))
          out[#out + 1] = select(2, pcall(core.stepper, { async = true }))
          out[#out + 1] = select(2, pcall(core.stepper, { namespaces = {"bogus"} }))
          out[#out + 1] = select(2, pcall(core.stepper, { bogus = 1 }))
          out[#out + 1] = select(2, pcall(lj.stepper, 5))
          out[#out + 1] = select(2, pcall(lj.stepper, { bogus = 1 }))
          return out
        ]])
        for i, f in ipairs{ "step", "steps", "exec", "fork", "state", "next", "state" } do
          assert.matches("^stepper:" .. f .. ": the stepper has exec'd its payload", r[i])
        end
        assert.equal(0, r.wait)                         -- s is the child now
        assert.matches("^stepper:step: the stepper is closed", r[8])
        assert.matches("^stepper: plan%.steps: a stepper starts before its first step", r[9])
        assert.matches("^stepper: plan%.async: ", r[10])
        assert.matches("^stepper: plan%.namespaces: bad argument #1: .*bogus", r[11])
        assert.matches("^stepper: unknown plan field 'bogus'", r[12])
        assert.matches("^lunajail: stepper: a recipe or a plan expected, got number", r[13])
        assert.matches("^lunajail: recipe: unknown field 'bogus'", r[14])
      end)
    end)
  end


  describe("examples/stepper.lua", function()
    -- drives the REPL in a real pty (python3's pty module): types a line,
    -- waits for the prompt that follows it, as a user would
    local DRIVER = [=[
import os, pty, re, select, sys, time
script, top = sys.argv[1], sys.argv[2]
keys = sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.chdir(top)
    os.execvp("lua5.4", ["lua5.4", script])
out = b""
def wait(pattern, start, limit=120):
    global out
    end = time.time() + limit
    while not re.search(pattern, out[start:]):
        left = end - time.time()
        if left <= 0:
            out += b"\n@@TIMEOUT\n"
            return False
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                return re.search(pattern, out[start:]) is not None
            out += data
    return True
PROMPT = rb"stepper\[\d+\]> $"
ok = wait(PROMPT, 0)
for k in keys:
    if not ok:
        break
    start = len(out)
    os.write(fd, k.encode() + b"\n")
    ok = wait(rb"\[exited [^\]]*\]" if k.startswith("exec") else PROMPT, start)
wait(rb"$^", len(out), 30)                 # to EOF
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
]=]

    for _, mode in ipairs(H.modes) do
      it("takes steps, shows state and diff, execs sh, as " .. mode, function()
        if not io.open("/usr/bin/python3") then
          return H.skip("no /usr/bin/python3 to drive a pty")
        end
        local out = lua(mode, ([[
          local driver = os.tmpname()
          io.open(driver, "w"):write(%q):close()
          local keys = { 'mount("tmpfs", "/nonexistent", "tmpfs")', "next 3", "state",
                         'sethostname("repl")', "diff", 'bogus("x")', "rest",
                         "exec sh -c 'hostname; echo done'" }
          local cmd = ("LUA_PATH='%%s/lua/?.lua;%%s/lua/?/init.lua;;' LUA_CPATH='%%s/?.so;;' " ..
                       "/usr/bin/python3 %%s examples/stepper.lua %%s"):format(TOP, TOP, BUILD,
                                                                            driver, TOP)
          for _, k in ipairs(keys) do cmd = cmd .. " '" .. k:gsub("'", "'\\''") .. "'" end
          local h = io.popen(cmd .. " 2>&1")
          local text = h:read("a")
          h:close()
          os.remove(driver)
          return text
        ]]):format(DRIVER))
        assert.not_matches("@@TIMEOUT", out)
        assert.matches('step 1 mount%("tmpfs", "/nonexistent", "tmpfs"%): No such file', out)
        assert.matches("step 1 mount%([^\n]*%): ok", out)
        assert.matches("step 3 [^\n]*: ok", out)
        assert.matches("uid +%d+ %d+ %d+", out)          -- state
        assert.matches("hostname: [^\n]* %-> repl", out)  -- diff
        assert.matches("'bogus'", out)                    -- a Lua error, and it goes on
        assert.matches("\nsandbox\r?\ndone\r?\n", out)    -- the recipe's host name
        assert.matches("%[exited 0%]", out)
      end)
    end
  end)
end)
