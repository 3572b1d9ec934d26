-- recipes: every field, every preset, every validation error, and the
-- container's promises observed from inside, as root and unprivileged
local H = require "helper"
-- valgrind keeps fds for itself: it refuses setrlimit(RLIMIT_NOFILE)
local NOFILE = "refuses setrlimit(RLIMIT_NOFILE) to the programs it runs, " ..
               "sandboxes included"

-- runs `script` in lj.container(t) (or the recipe the code builds)
local function inside (mode, script, t)
  return H.lua(mode, ([[
    local r = lj.container(%s):with{ argv = {"sh", "-c", %q} }
    local res, err = lj.run(r, { timeout = 20 })
    if not res then error(tostring(err)) end
    return res.stdout, res.code, res.stderr
  ]]):format(t or "{}", script))
end

describe("recipes", function()
  for _, mode in ipairs(H.modes) do
    describe("the container, as " .. mode, function()
      it("keeps its promises, observed from inside", function()
        local out = inside(mode, table.concat({
          "echo pid1=$(cat /proc/1/comm)",
          "echo host=$(hostname)",
          "echo procs=$(ls /proc | grep -c '^[0-9]')",
          "echo nets=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,)",
          "echo lo=$(cat /sys/class/net/lo/operstate 2>/dev/null || " ..
            "grep -c '' /proc/net/if_inet6 2>/dev/null)",
          "touch /usr/x 2>/dev/null && echo usr=rw || echo usr=ro",
          "touch / 2>/dev/null; mkdir /x 2>/dev/null && echo root=rw || echo root=ro",
          "head -c 5000000 /dev/zero > /tmp/big 2>/dev/null && echo tmp=big || echo tmp=capped",
          "echo tmpmode=$(stat -c %a /tmp)",
          "echo homemode=$(stat -c '%a %u' /home) uid=$(id -u)",
          "echo core=$(ulimit -c)",
          "grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|CapInh|NoNewPrivs|Seccomp):' " ..
            "/proc/self/status | tr -s '\\t' ' '",
          "cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //'",
          "ls /dev | tr '\\n' ' '; echo",
          "echo env=$(env | sort | tr '\\n' ' ')",
          "echo etc=$(ls /etc | tr '\\n' ' ')",
          "ls / | tr '\\n' ' '",
        }, "; "))
        assert.matches("pid1=lunajail%-init", out)
        assert.matches("host=sandbox", out)
        assert.matches("procs=[1-6]\n", out)            -- init, sh, and its pipeline
        assert.matches("nets=lo,\n", out)
        assert.matches("usr=ro", out)
        assert.matches("root=ro", out)
        assert.matches("tmp=capped", out)
        assert.matches("tmpmode=1777", out)
        local hm, hu, uid = out:match("homemode=(%d+) (%d+) uid=(%d+)")
        assert.equal("700", hm)
        assert.equal(uid, hu)
        assert.is_true(tonumber(uid) >= 1879048192 and tonumber(uid) <= 2147352575)
        assert.matches("core=0", out)
        for _, set in ipairs { "CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh" } do
          assert.matches(set .. ": 0000000000000000", out)
        end
        assert.matches("NoNewPrivs: 1", out)
        assert.matches("Seccomp: 2", out)
        -- the uid outside is never 0: itself as root, the caller's otherwise
        local inside_id, outside_id = out:match("\n(%d+) (%d+) 1\n")
        if inside_id then
          assert.are_not.equal("0", outside_id)
        end
        assert.matches("full null ptmx pts random shm .*tty urandom zero", out)
        assert.matches("env=PATH=/usr/local/bin:/usr/bin:/bin PWD=/\n", out)
        -- of the host's /etc, only Debian's alternatives symlinks (if any)
        assert.matches("etc=[alternatives ]*\n", out)
        assert.not_matches("root ", out)
      end)

      it("keeps the host's processes out of sight and reach", function()
        local out = H.lua(mode, [[
          local me = core.getpid()
          local res = lj.run(lj.container{ argv = {"sh", "-c",
            "kill -0 " .. me .. " 2>&1; kill -9 -1 2>&1; echo alive"} })
          return res.stdout, core.getpid() == me
        ]])
        assert.matches("No such process", out)
        assert.matches("alive", out)
      end)

      it("runs the recipe's own fields", function()
        if H.novalgrind(NOFILE) then return end
        local out = H.lua(mode, [[
          local dir = os.tmpname()
          os.remove(dir)
          os.execute("mkdir -p " .. dir .. "/sub && chmod -R 777 " .. dir ..
                     " && echo bound > " .. dir .. "/sub/f")
          local r = lj.container{
            argv = {"sh", "-c", table.concat({
              "hostname", "domainname", "pwd", "echo $GREETING",
              "cat /data/sub/f", "touch /data/w && echo data-rw",
              "cat /ro/sub/f", "touch /ro/w 2>/dev/null || echo ro-ro",
              "stat -c '%a' /made", "cat /etc/motd", "readlink /link",
              "ulimit -n", "nice", "ls /mq >/dev/null && echo mq",
              "df -k /small | tail -1 | tr -s ' ' | cut -d' ' -f2",
              "ls /sys/kernel >/dev/null && echo sysfs",
              "touch /sys/x 2>/dev/null || echo sys-ro",
            }, "; ")},
            hostname = "box", domainname = "dom", cwd = "/made",
            env = {GREETING = "hi"},
            mounts = {
              {"bind", dir, "/data"}, {"ro-bind", dir, "/ro"},
              {"mqueue", "/mq"}, {"tmpfs", "/small", size = "1m"},
              {"sysfs", "/sys"},
            },
            dirs = {{"/made", mode = "0711"}},
            files = {{"/etc/motd", content = "welcome\n"}},
            symlinks = {{"/etc/motd", "/link"}},
            rlimits = {nofile = 77}, priority = 5,
          }
          local res, err = lj.run(r, { timeout = 20 })
          os.execute("rm -rf " .. dir)
          if not res then error(tostring(err)) end
          return res.stdout .. res.stderr
        ]])
        assert.equal(table.concat({ "box", "dom", "/made", "hi", "bound", "data-rw",
          "bound", "ro-ro", "711", "welcome", "/etc/motd", "77", "5", "mq", "1024",
          "sysfs", "sys-ro" }, "\n") .. "\n", out)
      end)

      it("keeps a capability when asked, and only it", function()
        local out = inside(mode, "grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status",
                           '{ caps = {"net_bind_service"} }')
        for _, set in ipairs { "CapEff", "CapBnd", "CapAmb" } do
          assert.matches(set .. ":\t0000000000000400", out)
        end
      end)

      it("lets setuid programs work with setuid = true", function()
        local out = inside(mode, "grep NoNewPrivs /proc/self/status",
                           '{ setuid = true, no_new_privs = false }')
        assert.matches("NoNewPrivs:\t0", out)
      end)

      it("uses the host's network with net = \"host\"", function()
        local out = inside(mode, "tail -n +3 /proc/net/dev | wc -l",
                           '{ net = "host", namespaces = lj.replace{"ipc", "mount", "pid", ' ..
                           '"uts", "user"} }')
        assert.is_true(tonumber(out) > 1)
      end)

      it("restricts the file system with landlock = true", function()
        if not H.lua(mode, "return core.landlock_abi() ~= nil") then
          H.novalgrind("lacks the Landlock system calls (valgrind 3.19: ENOSYS)")
          return H.skip("Landlock is not available in this kernel")
        end
        local out = inside(mode, "cat /proc/self/status >/dev/null && echo proc; " ..
                           "echo x > /tmp/x && echo tmp; ls /usr >/dev/null && echo usr",
                           "{ landlock = true }")
        assert.equal("proc\ntmp\nusr\n", out)
      end)

      it("applies the strict seccomp preset and the recipe's own rules", function()
        local out = inside(mode, "mkdir /tmp/d 2>&1 || true; " ..
          "grep Seccomp_filters /proc/self/status",
          '{ seccomp = { preset = "strict", deny = {"mkdir", "mkdirat"} } }')
        assert.matches("Operation not permitted", out)
        assert.matches("Seccomp_filters:\t1", out)
      end)

      it("runs the payload as PID 1 with pid1 = false, and traces", function()
        local r = H.lua(mode, [[
          local c = assert(lj.spawn(lj.container{ argv = {"sh", "-c", "echo $$"},
                                                  pid1 = false, trace = true }))
          local out = c:communicate(nil, 10)
          return { out = out, n = #c:reports() }
        ]])
        assert.equal("1\n", r.out)
        assert.is_true(r.n > 20)
      end)

      it("times out a run and keeps what came before", function()
        local r = H.lua(mode, [[
          return lj.run(lj.container{ argv = {"sh", "-c", "echo early; sleep 100"} },
                        { timeout = 0.5 })
        ]])
        assert.is_true(r.timeout)
        assert.equal("early\n", r.stdout)
        assert.equal("SIGTERM", r.signame)
      end)

      it("feeds stdin to run", function()
        local r = H.lua(mode, [[
          return lj.run(lj.container{ argv = {"tr", "a-z", "A-Z"} }, { stdin = "hi\n" })
        ]])
        assert.equal("HI\n", r.stdout)
        assert.equal(0, r.code)
      end)

      it("builds with the build preset: the work dir read-write", function()
        if H.novalgrind(NOFILE) then return end
        local out = H.lua(mode, [[
          local dir = os.tmpname()
          os.remove(dir)
          os.execute("mkdir -m 0777 " .. dir)
          local res = lj.run(lj.build{ work = dir, argv = {"sh", "-c",
            "pwd; echo made > out && cat out; echo $TMPDIR"} })
          os.execute("rm -rf " .. dir)
          return res.stdout
        ]])
        assert.equal("/work\nmade\n/tmp\n", out)
      end)

      it("limits untrusted code", function()
        if H.novalgrind(NOFILE) then return end
        local out = H.lua(mode, [[
          return lj.run(lj.untrusted{ argv = {"sh", "-c",
            "ulimit -v; ulimit -t; ulimit -p; nice"} }).stdout
        ]])
        assert.equal("524288\n10\n64\n10\n", out)
      end)

      it("starts the shell preset on a pty", function()
        local out = H.lua(mode, [[
          local c = assert(lj.spawn(lj.shell{ argv = {"/bin/sh", "-c",
            "test -t 0 && echo tty; echo $HOME; pwd"} }))
          local lines = {}
          for l in c:lines("stdout", 10) do lines[#lines + 1] = (l:gsub("\r", "")) end
          c:wait(10)
          return table.concat(lines, ",")
        ]])
        assert.equal("tty,/home,/home", out)
      end)
    end)
  end

  describe("empty", function()
    it("starts from nothing: the caller's view, exactly the env given", function()
      local r = H.lua(H.modes[1], [[
        local res = lj.run(lj.empty{ argv = {"/usr/bin/env"}, env = {A = "1"} })
        local plan = lj.empty{ argv = {"x"} }:steps()
        return { out = res.stdout, steps = #plan.steps, ns = plan.namespaces }
      ]])
      assert.equal("A=1\n", r.out)
      assert.equal(0, r.steps)
      assert.is_nil(r.ns)
    end)

    it("builds isolation up one field at a time", function()
      local out = H.lua(H.modes[#H.modes], [[
        local r = lj.empty{ argv = {"sh", "-c", "hostname; echo $$"},
                            env = {PATH = "/usr/bin:/bin"} }
        r = r:with{ namespaces = {"user", "uts"}, hostname = "step1" }
        r = r:with{ namespaces = {"pid"}, pid1 = false }
        return lj.run(r).stdout
      ]])
      assert.equal("step1\n1\n", out)
    end)
  end)

  describe("composition", function()
    local mode = H.modes[1]

    it("appends lists, merges maps, replaces the rest, removes with none", function()
      local r = H.lua(mode, [[
        local a = lj.container{ fstab = {"/opt"}, env = {A = "1", B = "2"},
                                hostname = "a" }
        local b = a:with{ fstab = {"/srv"}, env = {B = lj.none, C = "3"},
                          hostname = "b", rlimits = {nofile = 10} }
        local c = b:with{ mounts = lj.replace{ {"tmpfs", "/only"} },
                          seccomp = lj.none }
        return { a = a.fstab, b = b.fstab, env = b.env, host = b.hostname,
                 nofile = b.rlimits.nofile, core = b.rlimits.core,
                 mounts = #c.mounts, seccomp = c.seccomp, aenv = a.env }
      ]])
      assert.same({ "/opt" }, r.a)
      assert.same({ "/opt", "/srv" }, r.b)
      assert.same({ A = "1", C = "3", PATH = "/usr/local/bin:/usr/bin:/bin" }, r.env)
      assert.same({ A = "1", B = "2", PATH = "/usr/local/bin:/usr/bin:/bin" }, r.aenv)
      assert.equal("b", r.host)
      assert.same({ 10, 10 }, r.nofile)
      assert.same({ 0, 0 }, r.core)
      assert.equal(1, r.mounts)
      assert.is_nil(r.seccomp)
    end)

    it("normalises: two spellings of one recipe print the same", function()
      local a, b = H.lua(mode, [[
        local x = lj.empty{ mounts = {{"ro-bind", "/usr"}}, env = {"A=1"},
                            namespaces = {"pid", "mount", "pid"} }
        local y = lj.empty{ mounts = {{type = "bind", source = "/usr", target = "/usr",
                            ro = true}}, env = {A = "1"}, namespaces = {"mount", "pid"} }
        return tostring(x), tostring(y)
      ]])
      assert.equal(a, b)
      assert.matches("mounts = ", a)
    end)

    it("explains every step, numbered as spawn errors number them", function()
      local text, nsteps = H.lua(mode, [[
        local r = lj.container{ argv = {"true"} }
        local plan = r:steps()
        return r:explain(), #plan.steps
      ]])
      assert.matches("namespaces {", text)
      assert.matches("\n   1  mount%(\"none\", \"/\", nil, \"rec,private\"%)", text)
      assert.matches("seccomp%(%d+ BPF instructions%)%s+%-%- seccomp, last", text)
      assert.matches(("\n%4d  exec%%(\"true\"%%)"):format(nsteps + 3), text)
    end)

    it("reports a failing recipe step with its number, reason and field", function()
      local r = H.lua(mode, [[
        local dir = os.tmpname()
        os.remove(dir)
        assert(core.mkdir_p(dir))
        local rec = lj.container{ argv = {"true"}, fstab = {dir} }
        local plan, why, ids = rec:steps()
        assert(os.remove(dir))                 -- gone between compile and spawn
        local _, err = lj.spawn_plan(plan, ids)
        local ok, raised = pcall(lj.spawn, rec)   -- compiled again: refused first
        return { step = err.step, op = err.op, errname = err.errname, field = err.field,
                 message = err.message, why = why[err.step], raised = raised,
                 dir = dir }
      ]])
      assert.equal("bind", r.op)
      assert.equal("ENOENT", r.errname)
      assert.equal("fstab[1]", r.field)
      assert.matches("%(ENOENT%), at recipe%.fstab%[1%]$", r.message)
      assert.equal("read-only bind from fstab: " .. r.dir, r.why)
      assert.equal(('lunajail: recipe.fstab[1]: fstab entry "%s" does not exist'):format(r.dir),
                   r.raised)
    end)

    it("names the field of every step, and the spawner's own", function()
      local r = H.lua(mode, [[
        local plan, why, ids = lj.container{ argv = {"true"}, hostname = "h",
                                             rlimits = {nofile = 64} }:steps()
        local by = {}
        for i, st in ipairs(plan.steps) do
          by[st[1] .. (st[1] == "setrlimit" and st[2] or "")] = ids.fields[i]
        end
        local function errof (t)
          local _, err = lj.spawn(lj.container(t))
          return { field = err.field, message = err.message, op = err.op }
        end
        return { by = by, n = #ids.fields, steps = #plan.steps,
                 cwd = errof{ argv = {"true"}, cwd = "/nonexistent" },
                 exec = errof{ argv = {"/nonexistent"} } }
      ]])
      assert.equal(r.steps, r.n)
      assert.equal("hostname", r.by.sethostname)
      assert.equal("rlimits.nofile", r.by.setrlimitnofile)
      assert.equal("uid", r.by.setresuid)
      assert.equal("seccomp", r.by.seccomp)
      assert.equal("root", r.by.pivot_root)
      assert.equal("cwd", r.cwd.field)
      assert.matches("at recipe%.cwd$", r.cwd.message)
      assert.equal("argv", r.exec.field)
      assert.matches('^step %d+ exec%("/nonexistent"%): No such file or directory %(ENOENT%), ' ..
                     'at recipe%.argv %(/nonexistent is not in the sandbox%)$', r.exec.message)
    end)

    it("says where a missing program was looked for, and what the host has", function()
      local r = H.lua(mode, [[
        local function msg (t)
          local _, err = lj.spawn(lj.container(t))
          return err.message, err.hint
        end
        local none, hint = msg{ argv = {"nosuchprog-lj"} }
        -- sh exists on the host, at /usr/bin/sh or /bin/sh; with only /sbin
        -- the sandbox does not see it
        local hidden = msg{ argv = {"sh"}, system = lj.replace{"/sbin"} }
        local path = msg{ argv = {"nosuchprog-lj"}, env = {PATH = "/opt/a:/opt/b"} }
        return { none = none, hint = hint, hidden = hidden, path = path }
      ]])
      assert.matches('exec%("nosuchprog%-lj"%): No such file or directory %(ENOENT%), at ' ..
                     'recipe%.argv %("nosuchprog%-lj" is in no directory of the sandbox\'s ' ..
                     'PATH /usr/local/bin:/usr/bin:/bin%)$', r.none)
      assert.matches('^"nosuchprog%-lj" is in no directory', r.hint)
      assert.matches("PATH /opt/a:/opt/b%)$", r.path)
      assert.matches('the host has /[%w/]*bin/sh, which the sandbox does not see: bind its ' ..
                     'directory %(fstab = {"/[%w/]*bin"}%)', r.hidden)
    end)
  end)

  describe("validation", function()
    local cases = {
      { "lj.container{ mounst = {} }", "unknown field 'mounst' %(did you mean 'mounts'%?%)" },
      { "lj.container{ hostnmae = 'x' }", "did you mean 'hostname'" },
      { "lj.container{ argv = {} }", "recipe.argv: empty argv" },
      { "lj.container{ argv = 'sh' }", "recipe.argv: list expected, got string" },
      { "lj.container{ cwd = 'tmp' }", "recipe.cwd: absolute path expected" },
      { "lj.container{ cwd = '/a/../b' }", "'%.%.' is not allowed" },
      { "lj.container{ uid = 'nobody' }", "recipe.uid: integer id expected, got string" },
      { "lj.container{ uid = -1 }", "out of range" },
      { "lj.container{ uid = 4294967295 }", "out of range" },
      { "lj.container{ no_new_privs = 0 }", "0 is true in Lua" },
      { "lj.container{ pid1 = 'yes' }", "recipe.pid1: true or false expected" },
      { "lj.container{ namespaces = {'netw'} }", "unknown namespace \"netw\"" },
      { "lj.container{ net = 'bridge' }", "recipe.net: \"none\"" },
      { "lj.container{ hostname = string.rep('x', 65) }", "at most 64 bytes" },
      { "lj.container{ mounts = {{'tmpfs', 'tmp'}} }",
        "recipe.mounts%[1%]%.target: absolute path" },
      { "lj.container{ mounts = {{'tmpfs', '/t', size = 'big'}} }",
        "recipe.mounts%[1%]%.size: size like" },
      { "lj.container{ mounts = {{'tmpfs', '/t', mode = 0755}} }",
        "no octal literals" },
      { "lj.container{ mounts = {{'tmpfs', '/t', size = 0}} }",
        "recipe.mounts%[1%]%.size: size like" },
      { "lj.container{ mounts = {{'tmpfs', '/t', nr_inodes = 0}} }",
        "recipe.mounts%[1%]%.nr_inodes: positive integer expected, got 0 %(0 means " ..
        "no limit%)" },
      { "lj.container{ mounts = {{'dev', shm_size = '16 MB'}} }",
        "recipe.mounts%[1%]%.shm_size: size like" },
      { "lj.container{ mounts = {{'dev', size = '1m'}} }",
        "recipe.mounts%[1%]%.size: unknown key for a dev mount %(valid: optional, " ..
        "replace, shm_size, target%)" },
      { "lj.container{ mounts = {{'nfs', '/t'}} }", "unknown mount type nfs" },
      { "lj.container{ mounts = {{'tmpfs', '/t', sise = '1m'}} }",
        "recipe.mounts%[1%]%.sise: unknown key for a tmpfs mount" },
      { "lj.container{ mounts = {{'overlay', '/o', lower = {'/a'}, upper = '/u'}} }",
        "upper and work together" },
      { "lj.container{ rlimits = {nofiles = 1} }", "recipe.rlimits.nofiles: unknown resource" },
      { "lj.container{ rlimits = {nofile = -1} }", "non%-negative integer" },
      { "lj.container{ rlimits = {nofile = {10, 5}} }", "soft limit 10 above the hard limit 5" },
      { "lj.container{ caps = {'sys_admn'} }", "unknown capability \"sys_admn\"" },
      { "lj.container{ seccomp = 'loose' }", "recipe.seccomp: \"default\"" },
      { "lj.container{ seccomp = {preset = 'strict', deny = {'notacall'}} }:steps()",
        "unknown syscall \"notacall\"" },
      { "lj.container{ uidmap = {{0, 1000, 0}} }", "count must be at least 1" },
      { "lj.container{ env = {A = 1} }", "recipe.env.A: string expected, got number" },
      { "lj.container{ env = {'NOEQUALS'} }", "\"NAME=value\" expected" },
      { "lj.container{ priority = 20 }", "from %-20 to 19" },
      { "lj.container{ files = {{'/f', content = 5}} }", "recipe.files%[1%]%.content" },
      { "lj.container{ root = 'relative' }", "absolute path expected" },
      { "lj.recipe(42)", "a recipe is a table" },
      { "lj.empty{ mounts = {{'proc'}}, namespaces = {'mount'}, argv = {'x'} }:steps()",
        "a proc mount needs the pid namespace" },
      { "lj.empty{ hostname = 'x', argv = {'x'} }:steps()", "hostname needs the uts namespace" },
      { "lj.empty{ uidmap = {{0, 0, 1}} }:steps()", "uidmap/gidmap needs the user namespace" },
      { "lj.empty{ pid1 = true }:steps()", "pid1 needs the pid namespace" },
      { "lj.empty{ mounts = {{'tmpfs', '/t'}} }:steps()",
        "needs the mount namespace" },
      { "lj.empty{ namespaces = {'net'}, net = 'host' }:steps()",
        "net = \"host\" and the net namespace contradict each other" },
      { "lj.container{ landlock = true, no_new_privs = false }:steps()",
        "landlock needs no_new_privs" },
      { "lj.container{ setuid = true, no_new_privs = true }:steps()",
        "contradict each other" },
      { "lj.container{ mounts = {{'overlay', '/o', lower = {'/a'}}} }:steps()",
        "read%-only overlay %(no upper%) needs two lower dirs" },
      { "lj.spawn(lj.container{})", "the recipe has no argv" },
    }
    for _, c in ipairs(cases) do
      it("rejects " .. c[1], function()
        assert.matches(c[2], H.raises(H.modes[1], "return " .. c[1]))
      end)
    end
  end)

  describe("the presets under a nice caller", function()
    for _, mode in ipairs(H.modes) do
      it("run as " .. mode .. " when the caller is nicer than they ask (nice 12)", function()
        local r = H.lua(mode, [[
          assert(core.setpriority(12))         -- this snippet's process only
          local out = {}
          for _, p in ipairs{ "container", "untrusted" } do
            local res, err = lj.run(lj[p]{ argv = {"sh", "-c", "nice"} }, { timeout = 30 })
            out[#out + 1] = res and res.stdout or tostring(err)
          end
          return out
        ]])
        if mode == "root" then
          assert.same({ "0\n", "10\n" }, r)   -- root sets them as asked
        else
          assert.same({ "12\n", "12\n" }, r)  -- unprivileged: no lower than its own
        end
      end)
    end
  end)
end)
