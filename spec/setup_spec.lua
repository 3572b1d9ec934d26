-- the setup, which runs with the caller's privileges: it cannot be made
-- to hang by what an earlier run left in a work directory, it never makes
-- a set-uid file, and no number (NaN, -inf, -1e12) can switch off a
-- deadline or a kill.  Issue 10, items 4, 5 and 6.
local H = require "helper"

-- a snippet's prelude: W, a fresh directory of the snippet's user, with
-- rm() to remove it; build(t), a build recipe for W without the nofile
-- limit (valgrind refuses it to what it runs, and it is no part of this)
local PRE = [[
  local mk = io.popen("mktemp -d /tmp/lunajail-setup.XXXXXX")
  local W = mk:read("l")
  mk:close()
  os.execute("chmod 755 " .. W)
  local function rm () os.execute("rm -rf " .. W) end
  local function build (t)
    t.work, t.argv = W, t.argv or {"true"}
    t.rlimits = { nofile = lj.none }
    return lj.build(t)
  end
  local function sh (cmd)         -- a shell command's exit code
    local _, how, code = os.execute(cmd)
    return how == "exit" and code or 128 + code
  end
]]

local function snippet (mode, code)
  return H.lua(mode, PRE .. "local ok, r = pcall(function ()\n" .. code ..
               "\nend)\nrm()\nif not ok then error(r, 0) end\nreturn r")
end

-- every value in bad, given to call (the text of a function of v), must
-- raise with a message matching pattern
local BAD = '{ 0/0, -math.huge, math.huge, -1e12, -1, 1e300, "5" }'
local function rejects (mode, setup, call, pattern, bad)
  local got = H.lua(mode, setup .. "\nlocal call = " .. call .. "\nlocal out = {}\n" ..
    "for i, v in ipairs(" .. (bad or BAD) .. ") do\n" ..
    "  local ok, e = pcall(call, v)\n" ..
    "  out[i] = { ok = ok, v = tostring(v), e = tostring(e) }\n" ..
    "end\nreturn out")
  assert.is_true(#got > 0)
  for _, r in ipairs(got) do
    assert.is_false(r.ok, "accepted " .. r.v)
    assert.matches(pattern, r.e, 1)
  end
end

describe("setup", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()

      -- {====== Item 4: nothing at a path makes the setup hang ======}

      it("the old open of a planted FIFO hangs: O_WRONLY|O_CREAT|O_TRUNC, " ..
         "or O_RDONLY, blocks until a timeout kills it", function()
        local r = snippet(mode, [[
          assert(sh("mkfifo " .. W .. "/x") == 0)
          -- the shell's ">" is write_file's old open (less O_NOFOLLOW and
          -- O_CLOEXEC, which change nothing for a FIFO); "<" is setns's
          return { w = sh("timeout -s KILL 2 sh -c ': > \"$0\"' " .. W .. "/x"),
                   r = sh("timeout -s KILL 2 sh -c ': < \"$0\"' " .. W .. "/x"),
                   type = core.stat(W .. "/x").type }
        ]])
        assert.equal(137, r.w)            -- killed: it was still blocked
        assert.equal(137, r.r)
        assert.equal("fifo", r.type)
      end)

      it("a FIFO or socket planted in a build work dir fails the files step " ..
         "with ENXIO instead of hanging, and stays as it was", function()
        local r = snippet(mode, [[
          assert(sh("mkfifo " .. W .. "/fifo") == 0)
          assert(sh("perl -MSocket -e 'socket(S, PF_UNIX, SOCK_STREAM, 0) or die; " ..
                    "bind(S, pack_sockaddr_un($ARGV[0])) or die' " .. W .. "/sock") == 0)
          if MODE == "root" then assert(sh("mknod " .. W .. "/dev c 1 3") == 0) end
          local out = {}
          for _, name in ipairs { "fifo", "sock", "dev" } do
            if core.stat(W .. "/" .. name) then
              local c, err = lj.spawn(build{ files = { {"/work/" .. name, "planted"} } })
              if c then c:wait() c:close() end
              out[name] = { spawned = c ~= nil, op = err and err.op,
                            errname = err and err.errname, message = tostring(err),
                            type = core.stat(W .. "/" .. name).type }
            end
          end
          -- the primitive, called directly, says the same
          out.direct = { core.write_file(W .. "/fifo", "x") }
          out.touch = { core.touch(W .. "/fifo") }
          return out
        ]])
        for _, name in ipairs { "fifo", "sock", "dev" } do
          local x = r[name]
          if x then
            assert.is_false(x.spawned)
            assert.equal("write_file", x.op)
            assert.equal("ENXIO", x.errname)
            assert.matches('write_file%("/newroot/work/' .. name .. '"%): No such device ' ..
                           "or address %(ENXIO%)", x.message)
          end
        end
        assert.equal("fifo", r.fifo.type)
        assert.equal("socket", r.sock.type)
        if mode == "root" then assert.equal("char", r.dev.type) end
        assert.is_nil(r.direct[1])
        assert.matches("ENXIO", r.direct[2])
        assert.is_nil(r.touch[1])       -- no mount point for a file, either
        assert.matches("ENXIO", r.touch[2])
      end)

      it("a FIFO without a reader as a stdio path fails the spawn with ENXIO " ..
         "instead of blocking it before the clone", function()
        local r = snippet(mode, [[
          assert(sh("mkfifo " .. W .. "/log") == 0)
          local c, err = core.spawn{ argv = {"/bin/true"}, stdio = {nil, W .. "/log"} }
          if c then c:close() end
          -- a regular file there works as before, and is a blocking fd
          local c2 = assert(core.spawn{ argv = {"/bin/sh", "-c", "echo hi"},
                                        stdio = {nil, W .. "/out"} })
          c2:wait() c2:close()
          local f = io.open(W .. "/out")
          local s = f:read("a")
          f:close()
          return { spawned = c ~= nil, step = err.step, errname = err.errname, out = s }
        ]])
        assert.is_false(r.spawned)
        assert.equal(0, r.step)
        assert.equal("ENXIO", r.errname)
        assert.equal("hi\n", r.out)
      end)

      it("write_file still writes, truncates and re-modes a regular file", function()
        local r = snippet(mode, [[
          assert(core.write_file(W .. "/f", "a long first content"))
          local c, err = lj.spawn(build{ files = { {"/work/f", "short", mode = "0600"} } })
          if not c then error(tostring(err)) end
          c:wait() c:close()
          local f = io.open(W .. "/f")
          local s = f:read("a")
          f:close()
          return { s = s, mode = core.stat(W .. "/f").mode }
        ]])
        assert.equal("short", r.s)
        assert.equal("00600", r.mode)
      end)

      it("setup_timeout kills a step that blocks and names it (ETIMEDOUT)", function()
        local r = snippet(mode, [[
          assert(sh("mkfifo " .. W .. "/ns") == 0)
          local P = require "plans"
          local out = {}
          -- setns opens its path for reading: on a FIFO, that blocks
          local plans = {
            plain = { argv = {"/bin/true"}, setup_timeout = 1,
                      steps = { {"chdir", "/"}, {"setns", W .. "/ns"} } },
            -- with PID 1: the child is killed before it becomes init
            pid1 = { argv = {"/bin/true"}, setup_timeout = 0.5,
                     namespaces = MODE == "root" and {"pid", "mount"}
                                  or {"user", "pid", "mount"},
                     steps = { {"chdir", "/"}, {"setns", W .. "/ns"} } },
          }
          for name, plan in pairs(plans) do
            local c, err = core.spawn(plan)
            if c then c:close() end
            out[name] = { spawned = c ~= nil, step = err.step, op = err.op,
                          errno = err.errno, errname = err.errname,
                          message = err.message }
          end
          out.kids = P.childcount()
          out.type = core.stat(W .. "/ns").type
          out.fifo = W .. "/ns"
          return out
        ]])
        for name, t in pairs { plain = "1", pid1 = "0.5" } do
          local x = r[name]
          assert.is_false(x.spawned)
          assert.equal("ETIMEDOUT", x.errname)
          assert.equal(110, x.errno)
          if not H.novalgrind("runs the child on a copy of the parent's memory, " ..
                              "so the step it was killed in is not seen") then
            assert.equal(2, x.step)
            assert.equal("setns", x.op)
            assert.equal(('step 2 setns("%s"): setup timed out after %s s (ETIMEDOUT)')
                         :format(r.fifo, t), x.message)
          end
        end
        assert.equal(0, r.kids)           -- killed and reaped
        assert.equal("fifo", r.type)
      end)

      it("without setup_timeout the default deadline ends a blocked setup", function()
        if H.novalgrind("makes the default 20 times longer") then return end
        local r = snippet(mode, [[
          assert(sh("mkfifo " .. W .. "/ns") == 0)
          local c, err = core.spawn{ argv = {"/bin/true"},
                                     steps = { {"setns", W .. "/ns"} } }
          if c then c:close() end
          return { spawned = c ~= nil, errname = err.errname, message = err.message }
        ]])
        assert.is_false(r.spawned)
        assert.equal("ETIMEDOUT", r.errname)
        assert.matches("setup timed out after 5 s %(ETIMEDOUT%)$", r.message)
      end)

      it("a recipe's setup_timeout reaches the plan", function()
        local r = H.lua(mode, [[
          return lj.container{ argv = {"true"}, setup_timeout = 2.5 }:steps().setup_timeout
        ]])
        assert.equal(2.5, r)
      end)

      -- }======

      -- {====== Item 5: no set-uid file from a setup ======}

      it("a plan never makes a set-uid or set-gid file or directory, though " ..
         "the primitive called directly does", function()
        local r = snippet(mode, [[
          -- the attack: as root, a root-owned set-uid file in a host dir
          assert(core.write_file(W .. "/direct", "x", "6755"))
          assert(core.mkdir_p(W .. "/directdir", "2755"))
          local before = { core.stat(W .. "/direct").mode,
                           core.stat(W .. "/directdir").mode }
          local c = assert(core.spawn{ argv = {"/bin/true"}, steps = {
            {"write_file", W .. "/f", "x", "6755"},
            {"touch", W .. "/t", "4755"},
            {"mkdir_p", W .. "/d/e", "6775"},
            {"write_file", W .. "/direct", "y", "4755"},   -- an existing one
          } })
          c:wait() c:close()
          local after = {}
          for _, n in ipairs { "f", "t", "d/e", "direct" } do
            after[n] = core.stat(W .. "/" .. n).mode
          end
          return { before = before, after = after }
        ]])
        assert.same({ "06755", "02755" }, r.before)
        assert.same({ f = "00755", t = "00755", ["d/e"] = "00775", direct = "00755" },
                    r.after)
      end)

      it("a recipe refuses a set-uid or set-gid mode in files and dirs; the sticky " ..
         "bit stays", function()
        local r = snippet(mode, [[
          local out = {}
          for _, t in ipairs {
            { files = { {"/work/x", "", mode = "6755"} } },
            { files = { {"/work/x", "", mode = "2755"} } },
            { dirs = { {"/work/d", mode = "4755"} } },
            { dirs = { {"/work/d", mode = "02775"} } },
          } do
            local ok, e = pcall(build, t)
            out[#out + 1] = { ok = ok, e = tostring(e) }
          end
          local res = lj.run(build{ dirs = { {"/work/tmp", mode = "1777"} } })
          out.code = res.code
          out.sticky = core.stat(W .. "/tmp").mode
          return out
        ]])
        local fields = { "files%[1%]", "files%[1%]", "dirs%[1%]", "dirs%[1%]" }
        for i, x in ipairs(r) do
          assert.is_false(x.ok)
          assert.matches("lunajail: recipe%." .. fields[i] .. "%.mode: mode \"0?[0-7]+\": " ..
                         "no set%-uid or set%-gid bit", x.e)
        end
        assert.equal(4, #r)
        assert.equal(0, r.code)
        assert.equal("01777", r.sticky)
      end)

      -- }======

      -- {====== Item 6: numbers that cannot disable a kill ======}

      it("terminate(0/0) raises: it would never have sent the SIGKILL to a " ..
         "payload that ignores SIGTERM; grace = 0 kills at once", function()
        local r = H.lua(mode, [[
          local payload = {"sh", "-c", "trap '' TERM; echo up; exec sleep 30"}
          local out = {}
          local c = assert(lj.spawn(lj.container{ argv = payload }))
          assert(c:read_line("stdout", 60) == "up")
          for _, g in ipairs { 0/0, -math.huge, -1e12 } do
            local ok, e = pcall(c.terminate, c, g)
            out[#out + 1] = { ok = ok, e = tostring(e) }
          end
          out.running = c:status().running
          out.signame = c:terminate(0).signame
          c:close()
          -- run's grace alike, before anything starts
          local ok, e = pcall(lj.run, lj.container{ argv = payload },
                              { timeout = 0.5, grace = 0/0 })
          out.run = { ok = ok, e = tostring(e) }
          local res = lj.run(lj.container{ argv = payload }, { timeout = 0.5, grace = 0 })
          out.runtimeout, out.runsig = res.timeout, res.signame
          return out
        ]])
        for _, x in ipairs(r) do
          assert.is_false(x.ok)
          assert.matches("lunajail: child:terminate: grace: a number from 0 to " ..
                         "1000000000 expected, got ", x.e, 1, true)
        end
        assert.equal(3, #r)
        assert.is_true(r.running)         -- nothing was sent meanwhile
        assert.equal("SIGKILL", r.signame)
        assert.is_false(r.run.ok)
        assert.equal("lunajail: run: opts.grace: a number from 0 to 1000000000 " ..
                     "expected, got NaN", r.run.e)
        assert.is_true(r.runtimeout)
        assert.equal("SIGKILL", r.runsig)
      end)

      -- }======
    end)
  end

  describe("bad numbers, each naming its argument", function()
    local mode = H.modes[1]
    local CHILD = 'require "lunajail" local c = assert(core.spawn{ argv = {"/bin/cat"} })'

    it("plan.setup_timeout", function()
      rejects(mode, "", 'function (v) return core.check{ argv = {"true"}, setup_timeout = v } end',
              "spawn: plan%.setup_timeout: bad argument #1: ",
              '{ 0/0, -math.huge, math.huge, -1e12, -1, 0, 1e300, 3601, "5" }')
    end)
    it("recipe.setup_timeout", function()
      rejects(mode, "", "function (v) return lj.container{ setup_timeout = v } end",
              "^lunajail: recipe%.setup_timeout: ",
              '{ 0/0, -math.huge, math.huge, -1e12, -1, 0, 1e300, 3601, "5" }')
    end)
    it("child:killafter", function()
      rejects(mode, CHILD, "function (v) return c:killafter(v) end",
              "killafter: bad argument #2 %(seconds%): ")
    end)
    it("core.poll's timeout", function()
      rejects(mode, "", "function (v) return core.poll({}, v) end",
              "poll: bad argument #2 %(timeout%): ")
    end)
    it("child:setbuffer", function()
      rejects(mode, CHILD, "function (v) return c:setbuffer(v) end",
              "setbuffer: bad argument #2 %(bytes%): ", '{ 0/0, -1, 10, 1e300, 4096.5, "8192" }')
    end)
    it("child:read's max", function()
      rejects(mode, CHILD, "function (v) return c:read('stdout', v) end",
              "read: bad argument #3 %(max%): ", "{ 0/0, -1, 0, 1e300, math.huge, 2.5 }")
    end)
    it("child:resize", function()
      rejects(mode, CHILD, "function (v) return c:resize(v, 80) end",
              "resize: bad argument #2 %(rows%): ", '{ 0/0, -1, 65536, 1e300, "24" }')
      rejects(mode, CHILD, "function (v) return c:resize(24, v) end",
              "resize: bad argument #3 %(cols%): ", "{ 0/0, -1, 65536, -math.huge }")
    end)
    for _, m in ipairs {
      { "wait", "function (v) return c:wait(v) end" },
      { "read_line", "function (v) return c:read_line('stdout', v) end" },
      { "lines", "function (v) return c:lines('stdout', v) end" },
      { "read_all", "function (v) return c:read_all('stdout', v) end" },
      { "read_bytes", "function (v) return c:read_bytes('stdout', 1, v) end" },
      { "write_all", "function (v) return c:write_all('x', v) end" },
      { "communicate", "function (v) return c:communicate('', v) end" },
    } do
      it("child:" .. m[1] .. "'s timeout", function()
        rejects(mode, CHILD, m[2], "^lunajail: child:" .. m[1] .. ": timeout: ")
      end)
    end
    it("child:terminate's grace", function()
      rejects(mode, CHILD, "function (v) return c:terminate(v) end",
              "^lunajail: child:terminate: grace: ")
    end)
    it("child:read_bytes's n and communicate's max", function()
      rejects(mode, CHILD, "function (v) return c:read_bytes('stdout', v, 1) end",
              "^lunajail: child:read_bytes: n: ")
      rejects(mode, CHILD, "function (v) return c:communicate('', 1, v) end",
              "^lunajail: child:communicate: max: ")
    end)
    it("run's timeout, grace and max_output", function()
      for _, o in ipairs { "timeout", "grace", "max_output" } do
        rejects(mode, "", "function (v) return lj.run(lj.empty{ argv = {'true'} }, { " ..
                o .. " = v }) end", "^lunajail: run: opts%." .. o .. ": ")
      end
      rejects(mode, "", "function (v) return lj.run(lj.empty{ argv = {'true'} }, " ..
              "{ max_output = v }) end", "^lunajail: run: opts%.max_output: ", "{ 1.5 }")
    end)
    it("loop:run and loop:step", function()
      rejects(mode, 'local loop = require("lunajail.loop.poll").new()',
              "function (v) return loop:run(v) end", "^lunajail: loop:run: timeout: ")
      rejects(mode, 'local loop = require("lunajail.loop.poll").new()',
              "function (v) return loop:step(v) end", "^lunajail: loop:step: timeout: ")
    end)
    it("run's options are checked like recipe fields", function()
      local r = H.lua(mode, [[
        local out = {}
        for _, o in ipairs { { timout = 5 }, { timeout = "5" }, { stdin = 5 }, 7 } do
          local ok, e = pcall(lj.run, lj.empty{ argv = {"true"} }, o)
          out[#out + 1] = ok and "accepted" or e
        end
        return out
      ]])
      assert.equal("lunajail: run: unknown option 'timout' (did you mean 'timeout'?) " ..
                   "(valid: grace, max_output, notify, stdin, timeout)", r[1])
      assert.equal("lunajail: run: opts.timeout: number expected, got string", r[2])
      assert.equal("lunajail: run: opts.stdin: string expected, got number", r[3])
      assert.equal("lunajail: run: options table expected, got number", r[4])
    end)
  end)
end)
