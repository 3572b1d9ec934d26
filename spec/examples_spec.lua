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
  -- network.lua in a network namespace of the spec's (its veth never
  -- touches the host's), with a veth "external" interface and a default
  -- route as pasta wants; as uid 65534 with a tun node of its own (the
  -- host's is root's), in a private mount namespace
  it("network.lua reaches a sandboxed service by veth, in its pod and through pasta", function()
    if not H.root then return H.skip("veth and pods need root, and the spec's tun node") end
    local env = ('LUA_PATH="%s/lua/?.lua;%s/lua/?/init.lua;;" LUA_CPATH="%s/?.so;;" ')
                :format(H.top, H.top, H.build)
    local net = "ip link set lo up && ip link add ext0 type veth peer name ext1 && " ..
                "ip addr add 192.0.2.1/24 dev ext0 && ip link set ext0 up && " ..
                "ip link set ext1 up && ip route add default via 192.0.2.254 && "
    local root = H.sh("cd " .. H.top .. " && unshare -n sh -c '" .. net .. env ..
                      "lua5.4 examples/network.lua' 2>&1; echo code $?")
    assert.matches('the caller, at the veth address: service answers "hello"\n', root)
    assert.matches('a sidecar in its pod, on 127.0.0.1: service answers "hello"\n', root)
    assert.matches('a sandbox with net = "none": unreachable', root)
    assert.matches("service: stopped\ncode 0\n$", root)
    local nobody = H.sh("cd " .. H.top .. " && unshare -m -n sh -c '" .. net ..
                        "mount -t tmpfs tmpfs /dev/net && mknod -m 0666 /dev/net/tun c 10 200 " ..
                        "&& " .. env .. "setpriv --reuid 65534 --regid 65534 --clear-groups " ..
                        "lua5.4 examples/network.lua' 2>&1; echo code $?")
    assert.matches("veth, unprivileged: refused: .* needs root", nobody)
    assert.matches('the caller, through pasta\'s forward of port %d+: service answers "hello"\n',
                   nobody)
    assert.matches("service: stopped\ncode 0\n$", nobody)
  end)

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

-- {====== Docs that run ======}
-- Every ```lua block of README.md and docs/*.md runs as shown, as root and
-- as uid 65534, each in a fresh lua5.4 (spec/helper.lua), or says why it
-- does not in its fence's info string:
--   ```lua fragment   part of something (a field, a table, a sketch with
--                     programs of your own): not run
--   ```lua root       runs as root only (it needs root: veth, pods)
--   ```lua setup      runs as shown, and is the start of every
--   ```lua scratch    block after it in its file: the examples of
--                     primitives that change their process (mounts, files)
--                     run in the namespaces the setup block makes
-- What a block shows as printed, it prints: each line after `-->` (a
-- line of its own, or after a call on the same line) must be a line of
-- its output, in that order; `...` in it stands for anything (a uid, a
-- time), and runs of blanks count as one blank (print's tabs).
-- As root, a block runs in new mount, uts, ipc and net namespaces with a
-- /tmp of its own: a doc that forgot its own unshare cannot change the
-- host.  LJ_DOCS=docs/guide.md runs one file's blocks.

local SAFETY = [[
-- the modules first: the tmpfs below would hide a checkout under /tmp
for _, m in ipairs { "lunajail", "lunajail.loop.poll", "lunajail.loop.luv",
                     "lunajail.loop.cqueues", "lunajail.pasta", "lunajail.interact" } do
  pcall(require, m)
end
assert(core.unshare{"mount", "uts", "ipc", "net"})
assert(core.mount(nil, "/", nil, {"rec", "private"}))
assert(core.mount("tmpfs", "/tmp", "tmpfs", nil, "size=64m"))
]]

-- what valgrind 3.19 lacks, as a doc block's error shows it
local VALGRIND_GAPS = {
  "([%w_]+%b()): Function not implemented %(ENOSYS%)",       -- mount_setattr, landlock
  "(setrlimit%(\"nofile\"[^)]*%)): Operation not permitted",  -- its own fds' limit
  "(the notify action) needs seccomp user notification",
}

local function docfiles ()
  if os.getenv("LJ_DOCS") then return { os.getenv("LJ_DOCS") } end
  local out = { "README.md" }
  local h = io.popen("ls " .. H.top .. "/docs/*.md")
  for f in h:lines() do out[#out + 1] = f:sub(#H.top + 2) end
  h:close()
  return out
end

-- the blocks of a file: {line =, info =, code =, expect = {...}}
local function blocks (file)
  local out, cur, n, setup = {}, nil, 0, nil
  for line in io.lines(H.top .. "/" .. file) do
    n = n + 1
    if cur then
      if line:match("^```%s*$") then
        out[#out + 1] = cur
        if cur.info == "setup" then setup = table.concat(cur.code, "\n") end
        if cur.info == "scratch" then cur.setup = setup end
        cur = nil
      else
        cur.code[#cur.code + 1] = line
        local exp = line:match("%-%->%s?(.*)$")
        if exp then cur.expect[#cur.expect + 1] = exp end
      end
    else
      local info = line:match("^```lua%s*(.-)%s*$")
      if info then cur = { line = n, info = info, code = {}, expect = {} } end
    end
  end
  return out
end

local function norm (s) return (s:gsub("[ \t]+", " "):gsub("^ ", ""):gsub(" $", "")) end

-- a pattern from an expected line: literal, `...` anything
local function pattern (exp)
  exp = norm(exp)
  local parts = {}
  for piece in (exp .. "..."):gmatch("(.-)%.%.%.") do
    parts[#parts + 1] = piece:gsub("%p", "%%%0")
  end
  return "^" .. table.concat(parts, ".-") .. (exp:sub(-3) == "..." and ".-" or "") .. "$"
end

local known = { [""] = true, fragment = true, root = true, setup = true, scratch = true }

describe("docs", function()
  for _, file in ipairs(docfiles()) do
    for _, b in ipairs(blocks(file)) do
      local where = ("%s:%d"):format(file, b.line)
      if not known[b.info] then
        it(where .. " has a known fence", function()
          error(("```lua %s: the info string is fragment, root, setup, scratch or " ..
                 "nothing"):format(b.info))
        end)
      elseif b.info == "scratch" and not b.setup then
        it(where .. " has a setup block before it", function()
          error("```lua scratch without a ```lua setup block before it in " .. file)
        end)
      elseif b.info ~= "fragment" then
        for _, mode in ipairs(H.modes) do
          if b.info ~= "root" or mode == "root" then
            it(where .. " runs as shown, as " .. mode, function()
              local code = table.concat(b.code, "\n")
              -- lj.call's child is a fork of this (valgrinded) process
              if (code:find("lj%.call") or code:find("spawn_call")
                  or code:find(":enter%(function")) and H.novalgrind("emulates no " ..
                  "seccomp(2) and refuses RLIMIT_NOFILE, which lj.call's fork applies") then
                return
              end
              if b.setup then code = b.setup .. "\n" .. code end
              local fine, res, out = pcall(H.run, mode, (mode == "root" and SAFETY or "") ..
                                         "do\n" .. code .. "\nend")
              if not fine then
                -- under valgrind, a call it does not emulate is a skip, saying which
                local text = tostring(res)
                for _, gap in ipairs(VALGRIND_GAPS) do
                  local what = H.valgrind and text:match(gap)
                  if what then return H.skip("under valgrind, which does not emulate " .. what) end
                end
                -- under make asan, lj.call's fork is an ASan process: a recipe's
                -- address-space limit (untrusted's 512 MB) may leave its
                -- allocator no room, as in call.lua's spec above
                if os.getenv("LJ_ASAN") and text:find("ERROR: Failed to mmap", 1, true)
                   and (code:find("lj%.call") or code:find("spawn_call")) then
                  return H.skip("under ASan, whose shadow memory and allocator do not fit " ..
                                "in the address-space limit lj.call's fork took on")
                end
                error(text, 0)
              end
              local lines, at = {}, 1
              for l in (out .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = norm(l) end
              for _, exp in ipairs(b.expect) do
                local p, found = pattern(exp), false
                while at <= #lines and not found do
                  found = lines[at]:match(p) ~= nil
                  at = at + 1
                end
                assert(found, ("%s: no line of the output is %q after the ones before " ..
                               "it; the output was:\n%s"):format(where, exp, out))
              end
            end)
          end
        end
      end
    end
  end
end)

-- }======
