-- child:enter and setns(pidfd, namespaces): a new process in a running
-- sandbox, with its namespaces and its payload's restrictions (issue 13,
-- items 1 and 3).
local H = require "helper"

-- in a snippet: sandbox(t) starts a container (t over lj.container) whose
-- payload writes /tmp/mark and says "ready UID FSIZE" before it sleeps;
-- collect(c) is an entered child's stdout, stderr and status; naive(c,
-- argv) enters as the issue found one had to by hand: a plan of one
-- setns step, no restrictions, no fork into the pid namespace
local PRE = [[
  local function sandbox (t)
    t = t or {}
    t.argv = t.argv or { "sh", "-c", "echo payload > /tmp/mark; " ..
                         "echo ready $(id -u) $(ulimit -f); exec sleep 120" }
    t.hostname = t.hostname or "enter-spec"
    local c = assert(lj.spawn(lj.container(t)))
    local line = assert(c:read_line("stdout", 60))
    return c, line
  end
  local function collect (c, timeout)
    local o, e, st = c:communicate(nil, timeout or 60)
    c:close()
    return o, e, st
  end
  local function naive (c, argv)
    local ns = { "mount", "uts", "ipc", "net", "pid", "cgroup" }
    if MODE ~= "root" then table.insert(ns, 1, "user") end
    return assert(core.spawn { argv = argv, env = { PATH = "/usr/bin:/bin" },
                               steps = { { "setns", c:pidfd(), ns } } })
  end
]]

local function run (mode, code)
  return H.lua(mode, PRE .. code)
end

-- one attempt per line, key=value: what the payload can and cannot do
local PROBE = [[
f () { grep "^$1:" /proc/self/status | cut -f2; }
echo "uid=$(id -u)"
echo "pid=$$"
echo "seccomp=$(f Seccomp)"
echo "nnp=$(f NoNewPrivs)"
echo "capeff=$(f CapEff)"
echo "capbnd=$(f CapBnd)"
echo "fsize=$(ulimit -f)"
if unshare -U true 2>/dev/null; then echo unshare=ok; else echo unshare=refused; fi
if kill -0 "$1" 2>/dev/null; then echo kill=ok; else echo kill=refused; fi
if touch /usr/lunajail-enter-spec 2>/dev/null; then echo usr=written
  rm -f /usr/lunajail-enter-spec; else echo usr=refused; fi
if touch /tmp/enter-spec-w 2>/dev/null; then echo tmp=written; else echo tmp=refused; fi
]]

local function parse (out)
  local t = {}
  for k, v in out:gmatch("(%w+)=([^\n]*)") do t[k] = v end
  return t
end

describe("setns(pidfd, namespaces)", function()
  for _, mode in ipairs(H.modes) do
    it("joins several namespaces of a process at once, in a direct call, as " ..
       mode, function()
      local before, after = run(mode, [[
        local c = sandbox()
        local function host () return io.open("/proc/sys/kernel/hostname"):read("l") end
        local before = host()
        local ns = MODE == "root" and { "uts", "ipc" } or { "user", "uts", "ipc" }
        assert(core.setns(c:pidfd(), ns))
        local after = host()
        c:close()
        return before, after
      ]])
      assert.not_equal("enter-spec", before)
      assert.equal("enter-spec", after)
    end)

    it("refuses the pidfd of a process that has exited (ESRCH), as " .. mode, function()
      local r = run(mode, [[
        local c = sandbox()
        c:kill("KILL")
        c:wait()
        local r = table.pack(core.setns(c:pidfd(), { "uts" }))
        c:close()
        return r
      ]])
      assert.is_nil(r[1])
      assert.matches("^setns%(fd %d+, \"uts\"%): No such process %(ESRCH%)$", r[2])
    end)

    it("as a plan step, its pidfd reaches the runner (a hand-written enter " ..
       "sees the sandbox), as " .. mode, function()
      local out = run(mode, [[
        local c = sandbox()
        local e = naive(c, { "sh", "-c", "hostname; cat /tmp/mark" })
        local o = collect(e)
        c:close()
        return o
      ]])
      assert.equal("enter-spec\npayload\n", out)
    end)

    it("lands in the process's root, not the mount namespace's: a chroot " ..
       "holds, as " .. mode, function()
      local kernel, ours = run(mode, [[
        local ns = MODE == "root" and { "mount" } or { "user", "mount" }
        local c = assert(lj.spawn_plan { argv = { "/bin/sleep", "120" }, namespaces = ns,
                                         steps = { { "chroot", "/usr" } } })
        -- the kernel's own setns(2) of the mount namespace: its root
        local steps = {}
        if MODE ~= "root" then steps[1] = { "setns", ("/proc/%d/ns/user"):format(c.pid) } end
        steps[#steps + 1] = { "setns", ("/proc/%d/ns/mnt"):format(c.pid), "mount" }
        local k = assert(core.spawn { argv = { "/bin/ls", "/" }, steps = steps,
                                      stdio = { "null", "pipe", "null" } })
        local kernel = collect(k)
        local e = assert(core.spawn { argv = { "/bin/ls", "/" }, stdio = { "null", "pipe", "null" },
                                      steps = { { "setns", c:pidfd(), ns } } })
        local ours = collect(e)
        c:close()
        return kernel, ours
      ]])
      assert.matches("\nproc\n", "\n" .. kernel)    -- the host's root
      assert.not_matches("\nproc\n", "\n" .. ours)
      assert.matches("\nshare\n", "\n" .. ours)      -- /usr
    end)
  end
end)

describe("child:enter", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("sees the sandbox's host name, files, processes and pid namespace", function()
        local r = run(mode, [[
          local c = sandbox()
          local e = assert(c:enter { argv = { "sh", "-c",
            "hostname; cat /tmp/mark; echo $$; ps -e -o pid=,comm=" } })
          local out, err, st = collect(e)
          c:close()
          return { out = out, err = err, code = st.code }
        ]])
        assert.equal(0, r.code, r.err)
        local host, mark, pid, ps = r.out:match("^([^\n]*)\n([^\n]*)\n(%d+)\n(.*)$")
        assert.equal("enter-spec", host)
        assert.equal("payload", mark)
        assert.is_true(tonumber(pid) < 10, "$$ is " .. pid)   -- the sandbox's numbering
        assert.matches("\n%s*1 lunajail%-init\n", "\n" .. ps)
        assert.matches("\n%s*%d+ sleep\n", "\n" .. ps)         -- the payload
        assert.matches("\n%s*" .. pid .. " sh\n", "\n" .. ps)  -- and itself
      end)

      it("lands in the sandbox's working directory, with its environment " ..
         "and the fields' own", function()
        local r = run(mode, [[
          local c = sandbox { cwd = "/tmp", env = { SANDBOX = "yes" } }
          local e = assert(c:enter { argv = { "sh", "-c", "pwd; env | sort" },
                                     env = { EXTRA = "1" } })
          local a = collect(e)
          e = assert(c:enter { argv = { "pwd" }, cwd = "/proc" })
          local b = collect(e)
          c:close()
          return { a = a, b = b }
        ]])
        assert.equal("/tmp\nEXTRA=1\nPATH=/usr/local/bin:/usr/bin:/bin\nPWD=/tmp\n" ..
                     "SANDBOX=yes\n", r.a)
        assert.equal("/proc\n", r.b)
      end)

      it("cannot do what the payload cannot, where a hand-written enter can " ..
         "(ids, capabilities, no_new_privs, seccomp, rlimits, the host's pids)", function()
        local r = run(mode, [[
          local c, line = sandbox { rlimits = { fsize = 8 * 1024 * 1024 } }
          local probe = ]] .. ("%q"):format(PROBE) .. [[
          local me = tostring(core.getpid())
          local e = assert(c:enter { argv = { "sh", "-c", probe, "probe", me } })
          local entered = collect(e)
          local n = naive(c, { "sh", "-c", probe, "probe", me })
          local by_hand = collect(n)
          c:close()
          return { line = line, entered = entered, naive = by_hand }
        ]])
        local uid, fsize = r.line:match("^ready (%d+) (%S+)$")
        local e, n = parse(r.entered), parse(r.naive)
        -- the payload's identity and limits, and its restrictions
        assert.equal(uid, e.uid)
        assert.equal(fsize, e.fsize)
        assert.not_equal(n.fsize, e.fsize)
        assert.equal("2", e.seccomp)
        assert.equal("0", n.seccomp)
        assert.equal("1", e.nnp)
        assert.equal("0", n.nnp)
        assert.equal("0000000000000000", e.capeff)
        assert.equal("0000000000000000", e.capbnd)
        assert.not_equal("0000000000000000", n.capbnd)
        if mode == "root" then
          assert.equal("0", n.uid)
          assert.not_equal("0000000000000000", n.capeff)
        end
        -- a filtered call, the host's processes, /usr
        assert.equal("refused", e.unshare)
        assert.equal("ok", n.unshare)
        assert.equal("refused", e.kill)
        assert.equal("ok", n.kill)
        assert.is_true(tonumber(e.pid) < 10)
        assert.is_true(tonumber(n.pid) > tonumber(e.pid))
        assert.equal("refused", e.usr)
        assert.equal("written", e.tmp)               -- the shell itself works
      end)

      it("gets the sandbox's Landlock ruleset", function()
        local r = run(mode, [[
          if not core.landlock_abi() then return "none" end
          local c, line = sandbox { landlock = true, argv = { "sh", "-c",
            "if ls / >/dev/null 2>&1; then echo ready ok; else echo ready refused; fi; " ..
            "exec sleep 120" } }
          local test = "if ls / >/dev/null 2>&1; then echo ok; else echo refused; fi"
          local e = collect(assert(c:enter { argv = { "sh", "-c", test } }))
          local n = collect(naive(c, { "sh", "-c", test }))
          c:close()
          return { line = line, e = e, n = n }
        ]])
        if r == "none" then return H.skip("no Landlock in this kernel") end
        assert.equal("ready refused", r.line)
        assert.equal("refused\n", r.e)
        assert.equal("ok\n", r.n)
      end)

      it("joins the sandbox's cgroup, where a hand-written enter does not", function()
        local r = run(mode, [[
          if not require("lunajail.cgroup").available() then return "none" end
          local c = sandbox { limits = { pids = 32 }, argv = { "sh", "-c",
            "echo ready; exec sleep 120" } }
          local cg = "cat /proc/self/cgroup | grep pids"
          local payload = collect(assert(c:enter { argv = { "sh", "-c",
            "grep pids /proc/2/cgroup" } }))
          local entered = collect(assert(c:enter { argv = { "sh", "-c", cg } }))
          local by_hand = collect(naive(c, { "sh", "-c", cg }))
          local figures = c:cgroup()
          c:close()
          return { payload = payload, entered = entered, naive = by_hand,
                   path = figures.path }
        ]])
        if r == "none" then
          return H.skip("no cgroup for this caller here (see spec/cgroup_spec.lua)")
        end
        assert.matches("pids:/\n$", r.payload)       -- the cgroup namespace's root
        assert.equal(r.payload, r.entered)
        assert.not_equal(r.payload, r.naive)          -- outside it: /../...
        assert.matches("/lunajail/%d+%-%d+$", r.path)
      end)

      it("is killed when the sandbox's PID 1 dies", function()
        local st = run(mode, [[
          local c = sandbox()
          local e = assert(c:enter { argv = { "sleep", "120" } })
          c:kill("KILL")
          local st = assert(e:wait(60))
          e:close()
          c:close()
          return st
        ]])
        assert.is_true(st.signaled)
        assert.equal("SIGKILL", st.signame)
      end)

      it("dies with its child object, and reports its own exit", function()
        local r = run(mode, [[
          local c = sandbox()
          local e = assert(c:enter { argv = { "sh", "-c", "exit 7" } })
          local st = assert(e:wait(60))
          e:close()
          local long = assert(c:enter { argv = { "sh", "-c", "echo $$; exec sleep 120" } })
          local pid = assert(long:read_line("stdout", 60))
          long:close()                       -- kills the runner: the payload too
          local after
          for _ = 1, 600 do
            after = collect(assert(c:enter { argv = { "sh", "-c",
              "test -e /proc/" .. pid .. " && echo alive || echo gone" } }))
            if after == "gone\n" then break end
            core.poll({}, 0.05)
          end
          c:close()
          return { code = st.code, after = after }
        ]])
        assert.equal(7, r.code)
        assert.equal("gone\n", r.after)
      end)

      it("enters a sandbox with no namespaces of its own, restrictions and all", function()
        local r = run(mode, [[
          local c = assert(lj.spawn(lj.empty { argv = { "sleep", "120" },
                                               no_new_privs = true, seccomp = "default" }))
          local e = assert(c:enter { argv = { "sh", "-c",
            "grep ^Seccomp: /proc/self/status | cut -f2; echo $$" } })
          local out = collect(e)
          c:close()
          return { out = out, me = core.getpid() }
        ]])
        local sc, pid = r.out:match("^(%d)\n(%d+)\n$")
        assert.equal("2", sc)
        assert.is_true(tonumber(pid) > 1)          -- no pid namespace: ours
      end)

      it("runs a function in the sandbox: child:enter(fn, ...)", function()
        if H.novalgrind("emulates no seccomp(2), which child:enter(fn)'s fork " ..
                        "applies itself") then return end
        local r = run(mode, [[
          local c, line = sandbox()
          local host, pid, uid, mark = c:enter(function (k)
            return io.open("/proc/sys/kernel/hostname"):read("l") .. k, core.getpid(),
                   select(2, core.getresuid()), io.open("/tmp/mark"):read("l")
          end, "!")
          local ok, err = pcall(c.enter, c, function () error("inside") end)
          c:close()
          return { host = host, pid = pid, uid = uid, mark = mark, line = line,
                   ok = ok, msg = err.message }
        ]])
        assert.equal("enter-spec!", r.host)
        assert.is_true(r.pid < 10)
        assert.equal(r.line:match("^ready (%d+)"), tostring(r.uid))
        assert.equal("payload", r.mark)
        assert.is_false(r.ok)
        assert.matches(":%d+: inside$", r.msg)
      end)

      it("an entered child enters its sandbox again", function()
        local out = run(mode, [[
          local c = sandbox()
          local e = assert(c:enter { argv = { "sleep", "120" } })
          local again = collect(assert(e:enter { argv = { "hostname" } }))
          e:close()
          c:close()
          return again
        ]])
        assert.equal("enter-spec\n", out)
      end)

      -- {====== Refused rather than weakened ======}

      it("refuses a payload that loaded a seccomp filter of its own; enters " ..
         "the same plan without it", function()
        local r = run(mode, [[
          local function start (filter)
            local code = "local core = require 'lunajail.core' " ..
              (filter and "assert(core.no_new_privs()) assert(core.seccomp{rules = " ..
                          "{{'errno:EPERM', 'keyctl'}}}) " or "") ..
              "io.write('ready\\n') io.flush() os.execute('sleep 120')"
            local c = assert(lj.spawn_plan { argv = { "lua5.4", "-e", code },
                               env = { PATH = "/usr/bin:/bin", LUA_CPATH = BUILD .. "/?.so",
                                       LD_PRELOAD = os.getenv("LD_PRELOAD"),    -- make asan
                                       ASAN_OPTIONS = os.getenv("ASAN_OPTIONS") } })
            assert(c:read_line("stdout", 60))
            return c
          end
          local c = start(true)
          local ok, err = pcall(c.enter, c, { argv = { "true" } })
          c:close()
          c = start(false)
          local st = assert(c:enter { argv = { "true" } }):wait(60)
          c:close()
          return { ok = ok, err = err, code = st.code }
        ]])
        assert.is_false(r.ok)
        assert.matches("^lunajail: enter: the sandbox runs 1 seccomp filters, its " ..
                       "plan loads 0 %(and we run 0%): a filter lunajail did not make", r.err)
        assert.equal(0, r.code)
      end)

      it("refuses a child lunajail has no plan of, a plan that unshares a pid " ..
         "namespace in a step, and fields of the sandbox's own", function()
        local r = run(mode, [[
          local out = {}
          local c = assert(core.spawn { argv = { "sleep", "120" },
                                        env = { PATH = "/usr/bin:/bin" } })
          out[1] = select(2, pcall(c.enter, c, { argv = { "true" } }))
          c:close()
          c = assert(lj.spawn_plan { argv = { "sleep", "120" }, env = { PATH = "/usr/bin:/bin" },
                                     namespaces = MODE ~= "root" and { "user" } or nil,
                                     steps = { { "unshare", "pid" } } })
          out[2] = select(2, pcall(c.enter, c, { argv = { "true" } }))
          c:close()
          c = sandbox()
          out[3] = select(2, pcall(c.enter, c, { argv = { "true" },
                                                 mounts = { { "tmpfs", "/x" } } }))
          out[4] = select(2, pcall(c.enter, c, { env = { A = "1" } }))
          out[5] = select(2, pcall(c.enter, c, 42))
          out[6] = select(2, pcall(c.enter, c, { argv = { "true" }, uid = 0 }))
          out[7] = select(2, pcall(c.enter, c, { argv = "true" }))
          c:close()
          return out
        ]])
        assert.matches("^lunajail: enter: this child was not started by lj.spawn or " ..
                       "lj.spawn_plan: lunajail has no plan of its restrictions", r[1])
        assert.matches("^lunajail: enter: the sandbox's plan.steps%[1%] %(unshare%) puts " ..
                       "its payload in a pid namespace its PID 1 is not in", r[2])
        assert.matches("^lunajail: enter: recipe.mounts: a running sandbox's namespaces, " ..
                       "file system and restrictions are its own: enter takes argv, ", r[3])
        assert.matches("^lunajail: enter: argv expected", r[4])
        assert.matches("^lunajail: enter: a table of fields %(argv, env, ...%) or a " ..
                       "function expected, got number", r[5])
        assert.matches("^lunajail: enter: recipe.uid: ", r[6])
        assert.matches("^lunajail: recipe.argv: ", r[7])
      end)

      it("refuses a sandbox that has exited, and a closed child", function()
        local r = run(mode, [[
          local c = sandbox()
          c:kill("KILL")
          c:wait()
          local a = select(2, pcall(c.enter, c, { argv = { "true" } }))
          local b = select(2, pcall(c.enter, c, function () end))
          c:close()
          local d = select(2, pcall(c.enter, c, { argv = { "true" } }))
          return { a, b, d }
        ]])
        assert.matches("^lunajail: enter: the sandbox has exited %(pid %d+, killed by " ..
                       "signal 9%): there is nothing to enter$", r[1])
        assert.matches("^lunajail: call: the sandbox has exited", r[2])
        assert.equal("lunajail: enter: the child is closed", r[3])
      end)
    end)
  end
end)
