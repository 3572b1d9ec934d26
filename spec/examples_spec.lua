-- every example runs, and prints what it promises
local H = require "helper"

local function example (mode, name, input)
  return H.lua(mode, ([[
    local input = %s
    local env = ("LUA_PATH='%%s/lua/?.lua;%%s/lua/?/init.lua;;' LUA_CPATH='%%s/?.so;;' ")
                :format(TOP, TOP, BUILD)
    local file = os.tmpname()
    io.open(file, "w"):write(input or ""):close()
    local cmd = "cd " .. TOP .. " && " .. env .. "lua5.4 examples/%s.lua < " .. file ..
                " 2>&1"
    local h = io.popen(cmd)
    local out = h:read("a")
    local ok, how, code = h:close()
    os.remove(file)
    return out, code
  ]]):format(input and ("%q"):format(input):gsub("\
", "\n") or "nil", name))
end

describe("examples", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("demo.lua builds a sandbox step by step and shows both views", function()
        local out, code = example(mode, "demo")
        assert.equal(0, code)
        assert.matches("pivot_root", out)
        assert.matches("The sandbox", out)
        assert.matches("hostname:%s+sandbox", out)
        assert.matches("Done: the same commands, two views.", out)
      end)

      it("shell.lua runs commands in a sandboxed shell", function()
        local out = example(mode, "shell", "hostname; id -u; exit 3\n")
        assert.matches("sandbox", out)
        assert.matches("%[shell exited: 3%]", out)
      end)

      it("untrusted-lua.lua contains memory, time and files", function()
        local out, code = example(mode, "untrusted-lua")
        assert.equal(0, code)
        assert.matches("hello from sandbox", out)
        assert.matches("not enough memory", out)
        assert.matches("stopped after the 5 s timeout", out)
        assert.matches('stdout "nil', out)              -- no /etc/shadow
      end)

      it("build.lua compiles and runs a C program in sandboxes", function()
        local out, code = example(mode, "build")
        assert.equal(0, code)
        assert.matches("compile: exit 0", out)
        assert.matches("run: hello from a sandbox, uid %d+", out)
      end)

      it("experiment.lua shows the precise failure of an edited step", function()
        local out, code = example(mode, "experiment")
        assert.equal(0, code)
        assert.matches('spawn: step %d+ pivot_root%("%.", "/nonexistent%-put%-old"%): ' ..
                       'No such file or directory %(ENOENT%)', out)
        assert.matches('step 1 mount%("tmpfs", "/nonexistent", "tmpfs"%): No such file', out)
        assert.matches("it works", out)
      end)

      it("enter.lua enters a running service with a command and a function", function()
        local out, code = example(mode, "enter")
        assert.equal(0, code)
        assert.matches("host name: service\n", out)
        assert.matches("last beat: tick %d+\n", out)
        assert.matches("my pid:    %d %(in the sandbox's pid namespace%)", out)
        local theirs, mine = out:match("the service's uid: (%d+), mine: (%d+)")
        assert.equal(theirs, mine)
        assert.matches("Seccomp:\t2", out)
        assert.matches("/usr:      read%-only", out)
        assert.matches("a function in it counted %d+ beats, as pid %d+ there", out)
        assert.matches("service: stopped", out)
      end)

      it("call.lua parses untrusted files in a sandbox", function()
        if H.novalgrind("emulates no seccomp(2), which lj.call's fork applies") then
          return
        end
        if os.getenv("LJ_ASAN") then   -- the fork is an ASan process, the limit its
          return H.skip("ASan's shadow memory does not fit in untrusted's 512 MB " ..
                        "address space, which lj.call's fork (this process) takes on")
        end
        local out, code = example(mode, "call")
        assert.equal(0, code)
        assert.matches('good.conf: starting 4 workers for "demo" %(tags: fast, small%)', out)
        assert.matches("bomb.conf: refused: not enough memory", out)
        assert.matches("loop.conf: refused: lunajail: call: timed out after 3 s", out)
      end)

      it("loop-poll.lua supervises many sandboxes", function()
        local out, code = example(mode, "loop-poll")
        assert.equal(0, code)
        assert.matches("20 sandboxes exited cleanly, 210 words counted", out)
      end)

      it("loop-luv.lua keeps a libuv loop running", function()
        local out, code = example(mode, "loop-luv")
        assert.equal(0, code)
        assert.matches("got: line 3", out)
        assert.matches("exit 0; the timer ticked %d+ times meanwhile", out)
      end)

      it("loop-cqueues.lua yields while sandboxes run", function()
        local out, code = example(mode, "loop-cqueues")
        assert.equal(0, code)
        assert.matches("other work 3.*sandbox %d done", out)
      end)
    end)
  end
end)
