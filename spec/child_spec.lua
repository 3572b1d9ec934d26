-- the child object: stdio, the non-blocking core, the blocking Lua
-- conveniences, signals and status, the event-loop protocol, lifetime.
local H = require "helper"

local function lua (mode, code)
  return H.lua(mode, 'require "lunajail"\nlocal P = require "plans"\n' ..
                     'local function sh (s, t) t = t or {} t.argv = {"/bin/sh", "-c", s}\n' ..
                     't.env = t.env or {PATH = "/usr/bin:/bin"}\n' ..
                     'return assert(core.spawn(t)) end\n' .. code)
end

local mode = H.modes[1]

describe("the child object", function()
  describe("stdio", function()
    it("pipes, merges stderr into stdout, discards into null", function()
      local a, b, c = lua(mode, [[
        local x = sh("echo out; echo err >&2")
        local o, e = x:communicate(nil, 10)
        local y = sh("echo out; echo err >&2", { stdio = {"null", "pipe", "stdout"} })
        local o2 = y:communicate(nil, 10)
        local z = sh("cat; echo done", { stdio = {"null", "pipe", "null"} })
        local o3 = z:communicate(nil, 10)
        return o .. "|" .. e, o2, o3
      ]])
      assert.equal("out\n|err\n", a)
      assert.equal("out\nerr\n", b)
      assert.equal("done\n", c)
    end)

    it("reads from and writes to files, appending when asked", function()
      local out = lua(mode, [[
        local f = os.tmpname()
        local inp = os.tmpname()
        io.open(inp, "w"):write("from a file\n"):close()
        sh("cat", { stdio = {inp, f, "inherit"} }):wait(10)
        sh("echo more", { stdio = {"null", {path = f, append = true}, "inherit"} })
          :wait(10)
        local data = io.open(f):read("a")
        os.remove(f) os.remove(inp)
        return data
      ]])
      assert.equal("from a file\nmore\n", out)
    end)

    it("passes an open fd as stdout", function()
      local out = lua(mode, [[
        local f = os.tmpname()
        local h = io.open(f, "w")          -- fd 3 in this fresh process
        sh("echo via fd 3", { stdio = {"null", 3, "inherit"} }):wait(10)
        h:close()
        local data = io.open(f):read("a")
        os.remove(f)
        return data
      ]])
      assert.equal("via fd 3\n", out)
    end)

    it("gives an interactive shell a pty as its controlling terminal", function()
      local out = lua(mode, [[
        local c = sh("tty >/dev/null && echo tty-ok; read line; echo got=$line", {
          stdio = "pty", namespaces = {"pid"} })
        assert(c:resize(40, 100))
        c:write("hello\n")
        local lines = {}
        for l in c:lines("stdout", 10) do lines[#lines + 1] = l:gsub("\r", "") end
        c:wait(10)
        return table.concat(lines, ";")
      ]])
      assert.matches("tty%-ok", out)
      assert.matches("got=hello", out)
    end)
  end)

  describe("the non-blocking core", function()
    it("reads partially, returns again, then closed", function()
      local r = lua(mode, [[
        local c = sh("read x; echo a$x; sleep 0.2; echo b")
        local first, e1 = c:read("stdout")      -- nothing yet: again
        c:write("1\n")
        local got = {}
        while true do
          local d, e = c:read("stdout", 1)        -- one byte at a time
          if d then got[#got + 1] = d
          elseif e == "closed" then break
          else core.poll({{fd = c:pollfd()}}, 1) c:step() end
        end
        c:wait(10)
        return { first = first, e1 = e1, got = table.concat(got) }
      ]])
      assert.is_nil(r.first)
      assert.equal("again", r.e1)
      assert.equal("a1\nb\n", r.got)
    end)

    it("reads lines, keeping a last line without a newline", function()
      local r = lua(mode, [[
        local c = sh("printf 'one\\ntwo\\nthree'")
        local t = {}
        for l in c:lines() do t[#t + 1] = l end
        return table.concat(t, ",")
      ]])
      assert.equal("one,two,three", r)
    end)

    it("applies back-pressure: a full queue refuses more", function()
      local r = lua(mode, [[
        local c = sh("sleep 5")
        c:setbuffer(65536)
        local total, again = 0, nil
        for i = 1, 100 do
          local n, e = c:write(string.rep("x", 65536))
          if not n then again = e break end
          total = total + n
        end
        local pending = c:pending()
        c:close()
        return { total = total, again = again, pending = pending }
      ]])
      assert.equal("again", r.again)
      assert.is_true(r.total >= 65536)
      assert.is_true(r.pending <= 65536)
    end)

    it("step() is safe to call at any time, any number of times", function()
      local r = lua(mode, [[
        local c = sh("echo x")
        for i = 1, 1000 do c:step() end
        local st = c:wait(10)
        for i = 1, 100 do c:step() end
        return { out = c:read("stdout"), code = st.code, events = c:events() }
      ]])
      assert.equal("x\n", r.out)
      assert.equal(0, r.code)
      assert.equal("r", r.events)
    end)

    it("has one pollable fd, readable when there is work", function()
      local r = lua(mode, [[
        local c = sh("read x; echo $x")
        local fd = c:pollfd()
        local t0 = {{fd = fd}}
        core.poll(t0, 0.2)                        -- nothing to do yet
        c:write("hi\n")
        local t1 = {{fd = fd}}
        core.poll(t1, 10)                         -- output or exit
        c:wait(10)
        return { quiet = t0[1].revents, ready = t1[1].revents,
                 timeout = c:timeout(), out = c:read("stdout") }
      ]])
      assert.equal("", r.quiet)
      assert.equal("r", r.ready)
      assert.is_nil(r.timeout)
      assert.equal("hi\n", r.out)
    end)
  end)

  describe("volume", function()
    it("streams 100 MB through cat, exact", function()
      local r = lua(mode, [[
        local c = sh("cat")
        local chunk = string.rep("0123456789abcdef", 65536)   -- 1 MiB
        local input = string.rep(chunk, 100)
        local out, err, st = c:communicate(input, 120)
        return { n = #out, same = out == input, code = st.code }
      ]])
      assert.equal(100 * 1024 * 1024, r.n)
      assert.is_true(r.same)
      assert.equal(0, r.code)
    end)

    it("does not deadlock on 100 MB of stderr while reading stdout", function()
      local r = lua(mode, [[
        local c = sh("head -c 104857600 /dev/zero >&2; echo done")
        local out, err, st = c:communicate(nil, 120)
        return { out = out, nerr = #err, code = st.code }
      ]])
      assert.equal("done\n", r.out)
      assert.equal(104857600, r.nerr)
    end)

    it("keeps interleaved stdout and stderr apart", function()
      local r = lua(mode, [[
        local c = sh("for i in $(seq 1000); do echo o$i; echo e$i >&2; done")
        local out, err = c:communicate(nil, 60)
        local no, ne = 0, 0
        for l in out:gmatch("[^\n]+") do assert(l:match("^o%d+$")) no = no + 1 end
        for l in err:gmatch("[^\n]+") do assert(l:match("^e%d+$")) ne = ne + 1 end
        return no, ne
      ]])
      assert.equal(1000, r)
    end)

    it("ends the child's input with close_stdin", function()
      local r = lua(mode, [[
        local c = sh("wc -c")
        assert(c:write_all("12345", 10))
        c:close_stdin()
        local out = c:read_all("stdout", 10)
        return out:match("%d+")
      ]])
      assert.equal("5", r)
    end)
  end)

  describe("signals and status", function()
    for _, m in ipairs(H.modes) do
      it("kills, terminates with a grace period, and times out as " .. m, function()
        local r = lua(m, [[
          local a = assert(core.spawn(P.sandbox{ argv = {"sleep", "100"} }))
          assert(a:kill("TERM"))
          local sa = a:wait(10)
          -- ignores TERM: killed after the grace period
          local b = assert(core.spawn(P.sandbox{ argv = {"sh", "-c",
            "trap '' TERM; sleep 100 & wait; sleep 100"}, pid1 = false }))
          local t0 = core.monotonic()
          local sb = b:terminate(0.3)
          local dt = core.monotonic() - t0
          local c = assert(core.spawn(P.sandbox{ argv = {"sleep", "100"} }))
          local none, why = c:wait(0.2)
          c:close()
          return { sa = sa, sb = sb, slow = dt >= 0.3, why = why,
                   again = select(2, a:kill("TERM")) }
        ]])
        assert.is_true(r.sa.signaled)
        assert.equal("SIGTERM", r.sa.signame)     -- the payload's, through init
        assert.equal("SIGKILL", r.sb.signame)
        assert.is_true(r.slow)
        assert.equal("timeout", r.why)
        assert.equal("exited", r.again)            -- never a recycled pid
      end)
    end

    it("reports exit codes, signals, core and rusage", function()
      local r = lua(mode, [[
        local a = sh("exit 7"):wait(10)
        local b = sh("kill -SEGV $$", { stdio = {"null", "null", "null"} }):wait(10)
        local c = sh("i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done"):wait(60)
        return { a = a, b = b, c = c }
      ]])
      assert.same({ exited = true, code = 7 }, { exited = r.a.exited, code = r.a.code })
      assert.is_true(r.b.signaled)
      assert.equal("SIGSEGV", r.b.signame)
      assert.is_boolean(r.b.core)
      assert.is_true(r.c.rusage.utime + r.c.rusage.stime > 0)
      assert.is_true(r.c.rusage.maxrss > 0)
    end)

    it("kills the whole sandbox tree with init", function()
      local r = lua(mode, [[
        local c = assert(core.spawn(P.sandbox{ argv = {"sh", "-c",
          "for i in 1 2 3 4 5; do sleep 100 & done; setsid sleep 100 & wait"} }))
        core.poll({}, 0.3)
        local h = io.popen("readlink /proc/" .. c.pid .. "/ns/pid")
        local ns = h:read("l") h:close()
        c:kill("KILL")
        c:wait(10)
        local left = 0
        for i = 1, 100 do
          left = 0
          local p = io.popen("for p in /proc/[0-9]*; do readlink $p/ns/pid; done 2>/dev/null")
          for l in p:lines() do if l == ns then left = left + 1 end end
          p:close()
          if left == 0 then break end
          core.poll({}, 0.05)
        end
        return left
      ]])
      assert.equal(0, r)
    end)
  end)

  describe("lifetime", function()
    local function children ()
      return "local children, fds = P.childcount, P.fdcount\n"
    end

    it("closes a running child: killed, reaped, fds gone (<close>)", function()
      local r = lua(mode, children() .. [[
        local f0 = fds()
        do
          local c <close> = sh("sleep 100")
          c:pollfd()
        end
        for i = 1, 100 do if core.reap() == 0 then break end core.poll({}, 0.02) end
        return { kids = children(), df = fds() - f0 }
      ]])
      assert.equal(0, r.kids)
      assert.equal(0, r.df)
    end)

    it("collects an unreferenced running child", function()
      local r = lua(mode, children() .. [[
        local f0 = fds()
        for i = 1, 10 do sh("sleep 100"):pollfd() end
        collectgarbage() collectgarbage()
        for i = 1, 100 do if core.reap() == 0 then break end core.poll({}, 0.02) end
        return { kids = children(), df = fds() - f0 }
      ]])
      assert.equal(0, r.kids)
      assert.equal(0, r.df)
    end)

    it("lets a child outlive close() with setkill(false)", function()
      local r = lua(mode, [[
        local f = os.tmpname()
        local c = sh("sleep 0.3; echo late > " .. f)
        c:setkill(false)
        c:close()
        for i = 1, 100 do if core.reap() == 0 then break end core.poll({}, 0.05) end
        local data = io.open(f):read("a")
        os.remove(f)
        return data
      ]])
      assert.equal("late\n", r)
    end)

    it("copes with a host that reaps children itself", function()
      local r = lua(mode, [[
        -- plain child: the status is lost, and said to be
        local a = sh("exit 3")
        core.poll({{fd = a:pidfd()}}, 10)
        core.waitpid(-1)                           -- the host steals it
        local sa = a:wait(10)
        -- with PID 1, init's status pipe still tells the payload's status
        local b = assert(core.spawn(P.sandbox{ argv = {"sh", "-c", "exit 5"} }))
        core.poll({{fd = b:pidfd()}}, 10)
        core.waitpid(-1)
        local sb = b:wait(10)
        return { sa = sa, sb = sb }
      ]])
      assert.is_true(r.sa.unknown)
      assert.equal("reaped by host", r.sa.reason)
      assert.equal(5, r.sb.code)
    end)

    it("supervises 1,000 children at once, leaving nothing behind", function()
      local r = lua(mode, children() .. [[
        local soft, hard = core.getrlimit("nofile")
        core.setrlimit("nofile", hard, hard)
        local loop = require("lunajail.loop.poll").new()
        core.reaperfd()           -- the loop watches it: one fd for the state's life
        local f0 = fds()
        local got, codes = 0, 0
        for i = 1, 1000 do
          local c = sh("read x; echo $x; exit 1")
          c:write(i .. "\n")
          c:close_stdin()
          loop:watch(c, { lines = true, stdout = function (l) got = got + tonumber(l) end,
                          exit = function (st) codes = codes + st.code end })
        end
        assert(loop:run(120))
        collectgarbage()
        for i = 1, 100 do if core.reap() == 0 then break end core.poll({}, 0.02) end
        return { got = got, codes = codes, kids = children(), df = fds() - f0 }
      ]])
      assert.equal(500500, r.got)
      assert.equal(1000, r.codes)
      assert.equal(0, r.kids)
      assert.equal(0, r.df)
    end)
  end)

  describe("event-loop adapters", function()
    it("lunajail.loop.luv delivers output and exit", function()
      local r = lua(mode, [[
        local uv = require "luv"
        local out, code = {}, nil
        local c = sh("echo one; sleep 0.1; echo two")
        require("lunajail.loop.luv").watch(c, { lines = true,
          stdout = function (l) out[#out + 1] = l end,
          exit = function (st) code = st.code end })
        uv.run()
        return table.concat(out, ","), code
      ]])
      assert.equal("one,two", r)
    end)

    it("lunajail.loop.cqueues yields while waiting", function()
      local r = lua(mode, [[
        local cqueues = require "cqueues"
        local cq = require "lunajail.loop.cqueues"
        local loop = cqueues.new()
        local order = {}
        loop:wrap(function ()
          local c = sh("sleep 0.2; echo slow")
          order[#order + 1] = "start"
          local out = cq.communicate(c, nil, 10)
          order[#order + 1] = out
          cq.close(c)
        end)
        loop:wrap(function () order[#order + 1] = "other" end)
        assert(loop:loop())
        return table.concat(order, ",")
      ]])
      -- the other coroutine ran while the first one waited
      assert.matches("other.*slow", r)
      assert.matches("start.*slow", r)
    end)
  end)

  describe("bad input", function()
    local cases = {
      { "sh('true'):read('stdin')", "\"stdout\" or \"stderr\" expected" },
      { "sh('true'):read('stdout', 0)", "out of range" },
      { "sh('true'):read('stdout', 'x')", "a byte count or \"l\"" },
      { "sh('true'):kill('SIGNOPE')", "unknown signal \"SIGNOPE\"" },
      { "sh('true'):setbuffer(10)", "10 out of range %[4096, 1073741824%]" },
      { "sh('true'):write({})", "string expected" },
      { "sh('true'):resize(10, 10)", "no pty" },
      { "core.Child.read(42)", "lunajail.Child expected" },
    }
    for _, c in ipairs(cases) do
      it("rejects " .. c[1], function()
        assert.matches(c[2], H.raises(mode, 'require "lunajail" local function sh (s) ' ..
          'return core.spawn{argv = {"/bin/sh", "-c", s}} end return ' .. c[1]))
      end)
    end
  end)
end)
