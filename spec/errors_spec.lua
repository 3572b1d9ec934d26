-- errors in the recipe's terms, and the rough edges of the first hour
-- (issue 14): run's and a recipe's checks, hints that are true, owners,
-- mounts replaced by target, time offsets, groups and priority
local H = require "helper"

describe("errors in recipe terms", function()
  describe("checked before anything starts", function()
    local cases = {
      { "lj.container{ stdio = {'inhert'} }",
        "\nlunajail: recipe%.stdio%[1%]: stdin: \"pipe\", \"null\", \"inherit\", \"pty\", " ..
        "an fd, " ..
        "a path or {path =, append =} expected, got \"inhert\" %(did you mean 'inherit'%?%)\n" },
      { "lj.container{ stdio = {'pipe', 'pipe', 'stdot'} }",
        "recipe%.stdio%[3%]: stderr: .* got \"stdot\" %(did you mean 'stdout'%?%)" },
      { "lj.container{ stdio = {'pipe', 'stdout'} }", "recipe%.stdio%[2%]: stdout:" },
      { "lj.container{ stdio = 'ptty' }",
        "recipe%.stdio: \"pty\" or a list {stdin, stdout, stderr} expected, got \"ptty\" " ..
        "%(did you mean 'pty'%?%)" },
      { "lj.container{ stdio = {'pipe', 'pipe', 'pipe', 'pipe'} }", "at most three" },
      { "lj.container{ stdio = {'tmp/log'} }", "recipe%.stdio%[1%]: stdin:" },
      { "lj.container{ stdio = {{path = '/x', apend = true}} }",
        "recipe%.stdio%[1%]: unknown key apend" },
      { "lj.container{ stdio = {-1} }", "recipe%.stdio%[1%]: stdin: .* got number" },
      { "lj.run(lj.container{ argv = {'true'} }, { timout = 5 })",
        "\nlunajail: run: unknown option 'timout' %(did you mean 'timeout'%?%)" },
      { "lj.run(lj.container{ argv = {'true'} }, { timeout = '5' })",
        "\nlunajail: run: opts%.timeout: number expected, got string\n" },
      { "lj.container{ time = {monotnic = 5} }",
        "recipe%.time: unknown clock monotnic %(did you mean 'monotonic'%?%)" },
      { "lj.container{ time = {boottime = 0/0} }", "recipe%.time%.boottime: a number from" },
      { "lj.container{ files = {{'/f', owner = 'me'}} }",
        "recipe%.files%[1%]%.owner: true %(the sandbox's uid and gid%), a uid or {uid, gid}" },
      { "lj.container{ files = {{'/f', ownr = true}} }",
        "recipe%.files%[1%]%.ownr: unknown key %(did you mean 'owner'%?%)" },
      { "lj.container{ dirs = {{'/d', owner = {1}}} }", "recipe%.dirs%[1%]%.owner: {uid, gid}" },
      { "lj.container{ mounts = {{'tmpfs', '/t', replace = 1}} }",
        "recipe%.mounts%[1%]%.replace: true or false expected" },
      { "lj.ids.configure{ first = 0 }", "\nlunajail: ids%.configure: first: an id from 1" },
      { "lj.build{}", "\nlunajail: build: work:" },
    }
    H.rejects(cases)

    it("carries no position in lunajail's own Lua files", function()
      local msgs = H.lua(H.modes[1], [[
        local out = {}
        for _, f in ipairs {
          function () return lj.container{ stdio = "inhert" } end,
          function () return lj.container{ stdio = {"inhert"} } end,
          function () return lj.container{ seccomp = "defualt" } end,
          function () return lj.run(lj.container{ argv = {"true"} }, { timout = 5 }) end,
          function () return lj.ids.configure{ bogus = 1 } end,
          function () return lj.build{ work = 5 } end,
          function () return lj.container{ argv = {"true"}, fstab = {"/nonexistent"} }:steps() end,
          function () return lj.spawn(lj.container{ argv = {"true"}, time = {x = 1} }) end,
          function () return lj.interact(nil, { tick = -1 }) end,
        } do
          local ok, err = pcall(f)
          out[#out + 1] = ok and "no error" or tostring(err)
        end
        return out
      ]])
      for _, m in ipairs(msgs) do
        assert.matches("^lunajail: ", m)
        assert.is_nil(m:match("lunajail/[%w_/]*%.lua:%d+"), m)
      end
    end)
  end)

  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("gives injected files and dirs an owner the payload is", function()
        local r = H.lua(mode, [[
          local function run (owner)
            local res = lj.run(lj.container{ argv = {"sh", "-c",
              "cat /secret; id -u; stat -c %u /secret; touch /home/d/x && echo wrote"},
              files = {{"/secret", content = "s3cret\n", mode = "0600", owner = owner}},
              dirs = {{"/home/d", mode = "0700", owner = owner}} })
            return res.stdout .. res.stderr
          end
          local rec = lj.container{ argv = {"stat", "-c", "%u %g", "/f"},
                                    files = {{"/f", owner = {5, 6}}} }
          local res, err = lj.run(rec)
          return { with = run(true), without = run(nil), explicit = res and res.stdout,
                   err = err and err.message }
        ]])
        assert.matches("^s3cret\n(%d+)\n%1\nwrote\n$", r.with)
        if mode == "root" then                -- without owner: root's file, 0600
          assert.matches("Permission denied", r.without)
          assert.is_nil(r.without:match("wrote"))
        else              -- the setup runs as the sandbox's uid there: its files already
          assert.matches("^s3cret\n", r.without)
        end
        if mode == "root" then
          assert.equal("5 6\n", r.explicit)
        else                                  -- uid 5 is not mapped in its user namespace
          assert.matches('chown%("/newroot/f", 5, 6%): Invalid argument %(EINVAL%), at ' ..
                         "recipe%.files%[1%] %(an id the sandbox's user namespace does not map",
                         r.err)
        end
      end)

      it("takes an fd that is a float of an integer value (luasocket's getfd())", function()
        local r = H.lua(mode, [[
          local rec = lj.container{ argv = {"sh", "-c", "echo to3 >&3"}, stdio = {"null", 1.0},
                                    fds = {[3] = 1.0} }
          local c = assert(core.spawn{ argv = {"/bin/echo", "x"}, stdio = {"null", 2.0, "null"} })
          c:wait()
          return { type = math.type(rec.stdio[2]), fd = math.type(rec.fds[3]),
                   bad = select(2, pcall(lj.container, { stdio = {1.5} })) }
        ]])
        assert.equal("integer", r.type)
        assert.equal("integer", r.fd)
        assert.matches("recipe%.stdio%[1%]: stdin:", r.bad)
      end)

      it("refuses a chown through a hard link (EMLINK)", function()
        local r = H.lua(mode, [[
          enter{"user", "mount"}
          local d = os.tmpname()
          os.remove(d)
          assert(core.mkdir_p(d))
          io.open(d .. "/a", "w"):close()
          assert(os.execute("ln " .. d .. "/a " .. d .. "/b"))
          local ok, msg, e = core.chown(d .. "/b", 0, 0)
          os.execute("rm -rf " .. d)
          return { ok = ok, msg = msg, e = e }
        ]])
        assert.is_nil(r.ok)
        assert.equal(31, r.e)
        assert.matches('^chown%(".*/b", 0, 0%): Too many links %(EMLINK%)$', r.msg)
      end)

      it("replaces one mount by its target (replace = true), and keeps the others", function()
        local r = H.lua(mode, [[
          local c = lj.container{ mounts = {{"tmpfs", "/tmp", size = "1m", replace = true}} }
          local plain = lj.container{ mounts = {{"tmpfs", "/tmp", size = "1m"}} }
          local b = lj.build{ work = "/tmp" }
          local function at (r, t)
            local n, where, size = 0, nil, nil
            for i, m in ipairs(r.mounts) do
              if m.target == t then n, where, size = n + 1, i, m.size end
            end
            return { n = n, where = where, size = size, total = #r.mounts,
                     text = tostring(r):find("replace", 1, true) ~= nil }
          end
          local df = lj.run(c:with{ argv = {"df", "-k", "/tmp"} }).stdout
          return { c = at(c, "/tmp"), plain = at(plain, "/tmp"), b = at(b, "/tmp"), df = df }
        ]])
        assert.same({ n = 1, where = 3, size = "1m", total = 4, text = false }, r.c)
        assert.equal(2, r.plain.n)                  -- appended: both, the last on top
        assert.equal(1, r.b.n)
        assert.equal("256m", r.b.size)
        assert.matches("\ntmpfs%s+1024%s", r.df)
      end)

      it("offsets the monotonic and boottime clocks in a time namespace of its own", function()
        if H.valgrind then
          return H.skip("a time namespace needs clone3 (CLONE_NEWTIME), which valgrind " ..
                        "3.19 does not emulate")
        end
        local r = H.lua(mode, [[
          local function up (t)
            local res = lj.run(lj.container{ argv = {"sh", "-c",
              "cat /proc/uptime; cat /proc/self/timens_offsets"}, time = t })
            return res.stdout, res.code
          end
          local host = tonumber(io.open("/proc/uptime"):read("n"))
          local with, code = up{ monotonic = 3600, boottime = 86400.5 }
          local without = up(nil)
          local plan = lj.container{ argv = {"true"}, time = { monotonic = 1 } }:steps()
          return { host = host, with = with, code = code, without = without,
                   ns = table.concat(plan.namespaces, ",") }
        ]])
        assert.equal(0, r.code)
        local up = tonumber(r.with:match("^(%S+)"))
        assert.is_true(up >= r.host + 86400, r.with)
        assert.matches("\nmonotonic%s+3600%s+0\nboottime%s+86400%s+500000000\n$", r.with)
        assert.is_true(tonumber(r.without:match("^(%S+)")) < r.host + 86400)
        assert.matches("time", r.ns)
      end)

      it("refuses time offsets without the time namespace", function()
        assert.matches("spawn: plan%.time_offsets: bad argument #1: time " ..
                       "offsets need the \"time\" namespace",
                       H.raises(mode, 'return core.spawn{ argv = {"true"}, ' ..
                                      'time_offsets = {monotonic = 1} }'))
      end)

      it("fails a pty step without stdio = \"pty\" (EBADF), naming the step", function()
        local err = H.lua(mode, [[
          local _, err = core.spawn{ argv = {"true"}, steps = { {"pty", "/dev/ptmx"} } }
          return tostring(err)
        ]])
        assert.matches('^step 1 pty%("/dev/ptmx"%): Bad file descriptor %(EBADF%)$', err)
      end)

      if mode == "nobody" then
        it("says what raising the priority needs", function()
          local msg, hint = H.lua(mode, [[
            local _, err = lj.spawn(lj.container{ argv = {"true"}, priority = -5 })
            return err.message, err.hint
          ]])
          assert.matches("setpriority%(%-5%): Permission denied %(EACCES%), at " ..
                         "recipe%.priority", msg)
          assert.matches("CAP_SYS_NICE", hint)
        end)

        it("refuses supplementary groups it cannot set, never drops them", function()
          local msg = H.raises(mode, 'return lj.container{ argv = {"true"}, ' ..
                                     'groups = {27} }:steps()')
          assert.matches("recipe%.groups%[1%]: group 27: unprivileged, supplementary groups " ..
                         "need a gidmap", msg)
          -- groups = {}: what the container has; nothing to refuse
          assert.is_true(H.lua(mode, 'return lj.container{ argv = {"true"} }:steps() ~= nil'))
        end)

        it("sets groups a gidmap of subordinate ids maps (compiled, not spawned)", function()
          local steps = H.lua(mode, [[
            local plan = lj.container{ argv = {"true"}, groups = {27},
                                       uidmap = {{0, 65534, 1}},
                                       gidmap = {{0, 65534, 1}, {1, 100000, 100}} }:steps()
            local out = {}
            for _, st in ipairs(plan.steps) do out[#out + 1] = st[1] end
            return table.concat(out, " ")
          ]])
          assert.matches(" setgroups setresgid ", steps)
        end)

        it("names the /etc/subuid line newuidmap lacks, or says to install it", function()
          local r = H.lua(mode, [=[
            local rec = lj.empty{ argv = {"true"}, namespaces = {"user"},
                                  uidmap = {{0, 65534, 1}, {1, 300000, 7}} }
            local _, err = lj.spawn(rec)
            -- without newuidmap on PATH: the other hint
            local env = ("LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua;;' LUA_CPATH='%s/?.so;;' ")
                        :format(TOP, TOP, BUILD)
            local h = io.popen(env .. "PATH=/nonexistent /usr/bin/lua5.4 -e '" ..
              "local lj = require [[lunajail]]; " ..
              "local _, e = lj.spawn(lj.empty{ argv = {[[true]]}," ..
              " namespaces = {[[user]]}, uidmap = {{0, 65534, 1}, {1, 300000, 7}} }); " ..
              "print(e.hint)' 2>&1")
            local other = h:read("a")
            h:close()
            return { have = os.execute("command -v newuidmap >/dev/null"), hint = err.hint,
                     field = err.field, other = other }
          ]=])
          if not r.have then return H.skip("newuidmap is not installed (Debian's uidmap)") end
          assert.equal("uidmap", r.field)
          assert.matches('^newuidmap refused the map: /etc/subuid gives nobody no range ' ..
                         '300000%.%.300006; add the line "nobody:300000:7" to it', r.hint)
          assert.matches("install newuidmap and newgidmap %(Debian package uidmap%)", r.other)
        end)
      else
        it("sets supplementary groups as root", function()
          local out = H.lua(mode, [[
            return lj.run(lj.container{ argv = {"id", "-G"}, groups = {27, 100} }).stdout
          ]])
          assert.matches(" 27 100\n$", out)
        end)

      end
    end)
  end
end)
