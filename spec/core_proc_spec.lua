-- fork, exec, execp, waitpid, kill, getpid, getppid, _exit
-- luacheck: std +busted
local H = require "helper"
-- a signal that reaches a forked child of valgrind's while it is in
-- execve is taken by valgrind and lost: the exec'd program runs on, and
-- waitpid hangs (these specs signal at once, so the child may be there)
local LOSTSIG = "loses a signal that reaches a forked child while it execs"

describe("core process primitives", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("agrees with /proc/self/stat on getpid and getppid", function()
        local pid, ppid, spid, sppid = H.lua(mode, [[
          local S = require "snip"
          return core.getpid(), core.getppid(), S.stat(1), S.stat(4)
        ]])
        assert.equal(spid, pid)
        assert.equal(sppid, ppid)
        assert.is_true(pid > 1)
      end)

      it("forks a child that exits with a code, and waits for it", function()
        local st, pid = H.lua(mode, [[
          local me = core.getpid()
          local pid = assert(core.fork())
          if pid == 0 then
            -- the child: a new pid, whose parent is the snippet
            local ok = core.getpid() ~= me and core.getppid() == me
            core._exit(ok and 7 or 1)
          end
          return core.waitpid(pid), pid
        ]])
        assert.is_true(st.exited)
        assert.equal(7, st.code)
        assert.equal(pid, st.pid)
        assert.is_nil(st.signaled)
        assert.equal("number", type(st.rusage.utime))
        assert.equal("number", type(st.rusage.stime))
        assert.is_true(st.rusage.maxrss > 0)
      end)

      it("waits without hanging, then kills with SIGTERM by default", function()
        if H.novalgrind(LOSTSIG) then return end
        local running, killed, st = H.lua(mode, [[
          local pid = assert(core.fork())
          if pid == 0 then
            core.exec("/bin/sleep", {"sleep", "1000"})
            core._exit(99)
          end
          local running = core.waitpid(pid, "nohang")
          local killed = core.kill(pid)
          return running, killed, core.waitpid(pid)
        ]])
        assert.is_false(running)
        assert.is_true(killed)
        assert.is_true(st.signaled)
        assert.equal(15, st.signal)
        assert.equal("SIGTERM", st.signame)
        assert.is_false(st.core)
        assert.is_nil(st.exited)
      end)

      it("reports a stopped and a continued child", function()
        local stopped, hang, continued, killed = H.lua(mode, [[
          local pid = assert(core.fork())
          if pid == 0 then
            core.kill(core.getpid(), "SIGSTOP")
            core.exec("/bin/sleep", {"sleep", "1000"})  -- once continued
            core._exit(99)
          end
          local stopped = core.waitpid(pid, "untraced")
          local hang = core.waitpid(pid, "nohang")      -- stopped: not reported
          assert(core.kill(pid, "cont"))
          local continued = core.waitpid(pid, {"continued"})
          assert(core.kill(pid, "kill"))
          return stopped, hang, continued, core.waitpid(pid)
        ]])
        assert.is_true(stopped.stopped)
        assert.equal(19, stopped.signal)
        assert.equal("SIGSTOP", stopped.signame)
        assert.is_nil(stopped.core)
        assert.is_false(hang)
        assert.is_true(continued.continued)
        assert.is_nil(continued.signal)
        assert.is_true(killed.signaled)
        assert.equal("SIGKILL", killed.signame)
      end)

      it("sends a signal by short name, C name and number", function()
        if H.novalgrind(LOSTSIG) then return end
        local a, b, c = H.lua(mode, [[
          local out = {}
          for i, sig in ipairs{"usr2", "SIGHUP", 9} do
            local pid = assert(core.fork())
            if pid == 0 then
              core.exec("/bin/sleep", {"sleep", "1000"})
              core._exit(99)
            end
            assert(core.kill(pid, sig))
            out[i] = core.waitpid(pid).signame
          end
          return table.unpack(out)
        ]])
        assert.equal("SIGUSR2", a)
        assert.equal("SIGHUP", b)
        assert.equal("SIGKILL", c)
      end)

      it("probes with signal 0, and reports a process gone or not ours", function()
        local alive, ok, msg, errno, pid, ok2, msg2, ppid = H.lua(mode, [[
          local pid = assert(core.fork())
          if pid == 0 then core._exit(0) end
          local alive = core.kill(pid, 0)          -- a zombie still exists
          assert(core.waitpid(pid))
          local ok, msg, errno = core.kill(pid, 0)
          -- the parent (timeout(1), root): not ours to signal as nobody
          local ok2, msg2 = core.kill(core.getppid(), 0)
          return alive, ok, msg, errno, pid, ok2, msg2, core.getppid()
        ]])
        assert.is_true(alive)
        assert.is_nil(ok)
        assert.equal(("kill(%d, 0): No such process (ESRCH)"):format(pid), msg)
        assert.equal(3, errno)
        if mode == "root" then
          assert.is_true(ok2)
        else
          assert.is_nil(ok2)
          assert.equal(("kill(%d, 0): Operation not permitted (EPERM)"):format(ppid), msg2)
        end
      end)

      it("reports waiting for a process that is not a child", function()
        local ok, msg, errno, ppid, ok2, msg2 = H.lua(mode, [[
          local ok, msg, errno = core.waitpid(core.getppid())
          return ok, msg, errno, core.getppid(), core.waitpid(-1, "nohang")
        ]])
        assert.is_nil(ok)
        assert.equal(("waitpid(%d): No child processes (ECHILD)"):format(ppid), msg)
        assert.equal(10, errno)
        assert.is_nil(ok2)
        assert.equal("waitpid(-1): No child processes (ECHILD)", msg2)
      end)

      it("execs with argv[0], a list or map environment, or its own", function()
        local r = table.pack(H.lua(mode, [[
          local S = require "snip"
          local function run (f)
            local st = S.forked(f)
            return st.exited and st.code or -(st.signal or 0)
          end
          local path = assert(os.getenv("PATH"))
          return
            run(function () core.exec("/bin/sh", {"sh", "-c", "exit 3"}) end),
            run(function ()
              core.exec("/bin/sh", {"lj-name", "-c", 'test "$0" = lj-name'})
            end),
            run(function ()
              core.exec("/bin/sh", {"sh", "-c", 'test "$A" = 1 && test "$B" = "x y" ' ..
                                    '&& test -z "$HOME"'},
                        {"A=1", "B=x y"})
            end),
            run(function ()
              core.exec("/bin/sh", {"sh", "-c", 'test "$A" = "a=b" && test -z "$HOME"'},
                        {A = "a=b"})
            end),
            run(function ()                        -- nil: this process's own
              core.exec("/bin/sh", {"sh", "-c", 'test "$PATH" = "' .. path .. '"'})
            end),
            run(function ()                        -- {}: an empty one
              -- (sh itself exports PWD)
              core.exec("/bin/sh", {"sh", "-c", 'exit $(/usr/bin/env | ' ..
                                    '/usr/bin/grep -vc "^PWD=")'}, {})
            end),
            run(function () core.execp("sh", {"sh", "-c", "exit 4"}) end)
        ]]))
        assert.same({ 3, 0, 0, 0, 0, 0, 4, n = 7 }, r)
      end)

      it("searches the PATH of the env execp is given, as a spawn plan does", function()
        local r = table.pack(H.lua(mode, [[
          local S = require "snip"
          local base = os.tmpname()
          local dir = base .. ".d"
          assert(os.execute("mkdir " .. dir))
          local tool = dir .. "/lj-tool"
          assert(io.open(tool, "w")):write("#!/bin/sh\nexit 5\n"):close()
          local script = dir .. "/lj-script"           -- no #!: run by sh
          assert(io.open(script, "w")):write("exit 6\n"):close()
          assert(os.execute("chmod 755 " .. tool .. " " .. script))
          local function run (...)
            local args = table.pack(...)
            local st = S.forked(function () core.execp(table.unpack(args, 1, args.n)) end)
            return st.code
          end
          local found = run("lj-tool", {"lj-tool"}, {"PATH=/nonexistent:" .. dir})
          local sh = run("lj-script", {"lj-script"}, {"PATH=" .. dir})
          local default = run("sh", {"sh", "-c", "exit 4"}, {})  -- no PATH in env
          local empty = S.forked(function ()           -- "" in PATH is "."
            assert(core.chdir(dir))
            core.execp("lj-tool", {"lj-tool"}, {"PATH=/nonexistent::"})
          end).code
          local ok, msg, errno = core.execp("lj-tool", {"lj-tool"}, {"PATH=/nonexistent"})
          local ok2, msg2 = core.execp("lj-tool", {"lj-tool"})   -- our PATH: not there
          os.remove(tool)
          os.remove(script)
          os.remove(dir)
          os.remove(base)
          return found, sh, default, empty, ok, msg, errno, ok2, msg2
        ]]))
        assert.equal(5, r[1])
        assert.equal(6, r[2])
        assert.equal(4, r[3])
        assert.equal(5, r[4])
        assert.is_nil(r[5])
        assert.equal('execp("lj-tool"): No such file or directory (ENOENT)', r[6])
        assert.equal(2, r[7])
        assert.is_nil(r[8])
        assert.matches('^execp%("lj%-tool"%): ', r[9])
      end)

      it("reports a failed exec and goes on in the same process", function()
        local r = table.pack(H.lua(mode, [[
          local S = require "snip"
          local script = os.tmpname()            -- executable, but no #!
          assert(io.open(script, "w")):write("exit 6\n"):close()
          os.execute("chmod 755 " .. script)
          local add, results = require("snip").triples()
          add(core.exec("/nonexistent/lj", {"lj"}))
          add(core.exec("/dev/null", {"null"}))
          add(core.exec(script, {"script"}))
          add(core.execp("lj-no-such-command", {"lj"}))
          -- execp runs a file without #! with /bin/sh, as execvp(3) does
          local st = S.forked(function () core.execp(script, {"script"}) end)
          os.remove(script)
          return script, st.code, core.getpid() == S.stat(1), results()
        ]]))
        local script = r[1]
        assert.equal(6, r[2])
        assert.is_true(r[3])
        assert.same({ nil, 'exec("/nonexistent/lj"): No such file or directory (ENOENT)', 2,
                      nil, 'exec("/dev/null"): Permission denied (EACCES)', 13,
                      nil, ('exec("%s"): Exec format error (ENOEXEC)'):format(script), 8 },
                    { table.unpack(r, 4, 12) })
        -- EACCES rather than ENOENT when a directory of PATH is closed to
        -- us (as /root/... is to uid 65534), as execvp(3) says
        assert.is_nil(r[13])
        if r[15] == 13 then
          assert.equal('execp("lj-no-such-command"): Permission denied (EACCES)', r[14])
        else
          assert.equal('execp("lj-no-such-command"): No such file or directory (ENOENT)',
                       r[14])
          assert.equal(2, r[15])
        end
      end)

      it("_exit ends at once, flushing nothing", function()
        local r, text = H.run(mode, [[
          local S = require "snip"
          local lost = S.forked(function ()
            io.stdout:write("lj-lost-output")    -- buffered: stdout is a pipe
            core._exit(255)
          end)
          local kept = S.forked(function ()
            io.stdout:write("lj-kept-output")
            io.stdout:flush()
            core._exit()
          end)
          return lost.code, kept.code
        ]])
        assert.equal(255, r[1])
        assert.equal(0, r[2])
        assert.matches("lj%-kept%-output", text)
        if H.novalgrind("runs glibc's __libc_freeres at _exit " ..
                        "(--run-libc-freeres=yes): that flushes stdio") then
          return
        end
        assert.not_matches("lj%-lost%-output", text)
      end)
    end)
  end

  describe("bad input", function()
    local cases = {
      { "core.exec()", "exec: bad argument #1 %(path%): string expected, got no value" },
      { "core.exec('', {'x'})", "#1 %(path%): empty path" },
      { "core.exec(42, {'x'})", "#1 %(path%): string expected, got number" },
      { "core.exec('/bin/sh\\0x', {'x'})", "#1 %(path%): string contains a NUL byte" },
      { "core.exec('/bin/sh')", "#2 %(argv%): table expected, got no value" },
      { "core.exec('/bin/sh', 'sh')", "#2 %(argv%): table expected, got string" },
      { "core.exec('/bin/sh', {})", "#2 %(argv%): empty argv %(argv%[1%] is the name%)" },
      { "core.exec('/bin/sh', {'sh', 1})", "#2 %(argv%): item 2: string expected, got number" },
      { "core.exec('/bin/sh', {'sh', 'a\\0b'})", "#2 %(argv%): item 2 contains a NUL byte" },
      { "core.exec('/bin/sh', {'sh'}, 'A=1')", "#3 %(env%): table expected, got string" },
      { "core.exec('/bin/sh', {'sh'}, {'A'})", '#3 %(env%): item 1: "NAME=value" expected' },
      { "core.exec('/bin/sh', {'sh'}, {'=x'})", '#3 %(env%): item 1: "NAME=value" expected' },
      { "core.exec('/bin/sh', {'sh'}, {'A=1', 2})", "#3 %(env%): item 2: string expected" },
      { "core.exec('/bin/sh', {'sh'}, {'A=1\\0B=2'})", "#3 %(env%): item 1 contains a NUL" },
      { "core.exec('/bin/sh', {'sh'}, {A = 1})", "#3 %(env%): string keys and values expected" },
      { "core.exec('/bin/sh', {'sh'}, {A = true})", "#3 %(env%): string keys and values" },
      { "core.exec('/bin/sh', {'sh'}, {['A=B'] = 'x'})", '#3 %(env%): bad variable "A=B"' },
      { "core.exec('/bin/sh', {'sh'}, {[''] = 'x'})", '#3 %(env%): bad variable ""' },
      { "core.exec('/bin/sh', {'sh'}, {A = 'x\\0y'})", '#3 %(env%): bad variable "A"' },
      { "core.exec('/bin/sh', {'sh'}, {'A=1', B = '2'})", '#3 %(env%): a list of ' ..
                                                          '"NAME=value" or a map, not both' },
      { "core.execp('', {'x'})", "execp: bad argument #1 %(path%): empty path" },
      { "core.execp('sh', {})", "execp: bad argument #2 %(argv%): empty argv" },
      { "core.execp('sh', {'sh'}, {1})", "execp: bad argument #3 %(env%): item 1" },
      { "core.waitpid()", "waitpid: bad argument #1 %(pid%): integer expected, got no value" },
      { "core.waitpid('1')", "#1 %(pid%): integer expected, got string" },
      { "core.waitpid(1 << 31)", "#1 %(pid%): 2147483648 out of range" },
      { "core.waitpid(math.mininteger)", "#1 %(pid%): .* out of range" },
      { "core.waitpid(1.5)", "#1 %(pid%): number has no integer representation" },
      { "core.waitpid(1, 'hang')", '#2 %(options%): unknown wait option "hang" ' ..
                                   '%(valid: nohang, untraced, continued%)' },
      { "core.waitpid(1, true)", "#2 %(options%): wait option names expected, got boolean" },
      { "core.waitpid(1, -1)", "#2 %(options%): %-1 out of range" },
      { "core.waitpid(1, 'nohang\\0')", "#2 %(options%): string contains a NUL byte" },
      { "core.kill()", "kill: bad argument #1 %(pid%): integer expected, got no value" },
      { "core.kill('2147483647')", "#1 %(pid%): integer expected, got string" },
      { "core.kill(1 << 31)", "#1 %(pid%): 2147483648 out of range" },
      { "core.kill(2147483646.5)", "#1 %(pid%): number has no integer representation" },
      { "core.kill(2147483647, 'SIGFOO')", '#2 %(signal%): unknown signal "SIGFOO" ' ..
                                           '%(valid: hup, int, quit, ill,' },
      { "core.kill(2147483647, 65)", "#2 %(signal%): 65 out of range %[0, 64%]" },
      { "core.kill(2147483647, -1)", "#2 %(signal%): %-1 out of range" },
      { "core.kill(2147483647, 1.5)", "#2 %(signal%): number has no integer representation" },
      { "core.kill(2147483647, true)", "#2 %(signal%): signal name or integer expected, " ..
                                       "got boolean" },
      { "core.kill(2147483647, 'kill\\0')", "#2 %(signal%): string contains a NUL byte" },
      { "core._exit(256)", "_exit: bad argument #1 %(code%): 256 out of range %[0, 255%]" },
      { "core._exit(-1)", "#1 %(code%): %-1 out of range" },
      { "core._exit('1')", "#1 %(code%): integer expected, got string" },
      { "core._exit(true)", "#1 %(code%): integer expected, got boolean" },
      { "core._exit(1.5)", "#1 %(code%): number has no integer representation" },
    }
    H.rejects(cases)
  end)
end)
