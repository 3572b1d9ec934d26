-- seccomp_filter, filter:load/export/pfc/close, core.seccomp, and
-- seccomp_resolve
local H = require "helper"
local S = require "bpfsim"

local X86_64 = H.sh("uname -m"):match("^x86_64") ~= nil

-- libseccomp offers kill_process and log only where seccomp(2) says the
-- kernel has them (4.14+; not under valgrind, which lacks seccomp(2))
local NEWACTIONS = H.lua(H.modes[1], [[
  return (pcall(core.seccomp_filter, { badarch = "kill_process",
                                       rules = { {"log", "getpid"} } }))
]])
local function newactions ()
  if not NEWACTIONS then
    H.novalgrind("lacks seccomp(2), so libseccomp refuses kill_process and log")
    H.skip("libseccomp refuses kill_process and log here (no seccomp(2))")
  end
end

-- snippet prelude: run f in a forked child, return its wait status
-- ("exit N" or "SIGNAME"); f's return value is the exit code
local LIB = [[
  local function inchild (f)
    local pid = assert(core.fork())
    if pid == 0 then
      local ok, code = pcall(f)
      core._exit(ok and (code or 0) or 99)
    end
    local st = assert(core.waitpid(pid))
    return st.signaled and st.signame or "exit " .. st.code
  end
  local function seccomp_status ()
    local t = {}
    for l in io.lines("/proc/self/status") do
      local k, v = l:match("^(Seccomp[%w_]*):%s*(%d+)")
      if k then t[k] = tonumber(v) end
    end
    return t
  end
  local function filtered (spec)       -- no_new_privs, then the filter
    assert(core.no_new_privs())
    assert(core.seccomp(spec))
  end
]]

local function lua (mode, code)
  return H.lua(mode, LIB .. code)
end

-- a program making one raw system call: `probe n NR [args]` natively,
-- `probe i NR [args]` through int $0x80 (i386); exits with the errno
local PROBE = [[
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
int main (int argc, char **argv) {
  unsigned long a[6] = { 0, 0, 0, 0, 0, 0 };
  long nr, r;
  int i;
  if (argc < 3) return 255;
  nr = strtol(argv[2], NULL, 0);
  for (i = 3; i < argc && i < 9; i++) a[i - 3] = strtoul(argv[i], NULL, 0);
  if (argv[1][0] == 'n') {
    r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    return r < 0 ? errno : 0;
  }
  __asm__ volatile ("int $0x80" : "=a"(r) : "a"(nr), "b"(a[0]), "c"(a[1]),
                    "d"(a[2]), "S"(a[3]), "D"(a[4]) : "memory");
  return r < 0 && r > -4096 ? (int)-r : 0;
}
]]

local probedir
local function probe ()
  if probedir == nil then
    probedir = false
    if not X86_64 then return nil end
    local dir = H.sh("mktemp -d /tmp/lunajail-probe.XXXXXX"):match("%S+")
    local f = assert(io.open(dir .. "/probe.c", "w"))
    f:write(PROBE) f:close()
    local _, ok = H.sh("cc -O -o " .. dir .. "/probe " .. dir .. "/probe.c 2>&1" ..
                       " && chmod 755 " .. dir .. " " .. dir .. "/probe")
    if ok then probedir = dir else H.sh("rm -rf " .. dir) end
  end
  return probedir and probedir .. "/probe" or nil
end

local function hex (v) return ("0x%08x"):format(v) end

describe("core seccomp", function()
  teardown(function()
    if probedir then H.sh("rm -rf " .. probedir) end
  end)

  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("builds a filter without loading it, and exports BPF", function()
        local bpf, pfc, str, state, nr = lua(mode, [[
          local f = core.seccomp_filter{
            rules = { {"errno:EPERM", "mkdir"}, {"errno:EPERM", "mkdirat"} } }
          local bpf, pfc, str = f:export(), f:pfc(), tostring(f)
          return bpf, pfc, str, core.prctl_state().seccomp,
                 core.seccomp_resolve("mkdir")
        ]])
        assert.is_true(#bpf > 0)
        assert.equal(0, #bpf % 8)
        assert.equal(0, state)                -- built, not loaded
        assert.equal("lunajail.SeccompFilter (open)", str)
        assert.matches('syscall "mkdir" %(' .. nr .. '%)', pfc)
        assert.matches("ERRNO%(1%)", pfc)
        assert.matches("action ALLOW", pfc)
        local prog = S.decode(bpf)
        assert.equal(S.ERRNO | 1, S.run(prog, { nr = nr, arch = S.X86_64 }))
      end)

      it("denies with errno:EPERM, leaving other calls alone", function()
        local ok, msg, errno, sh, st, state, wrote = lua(mode, [[
          filtered{ rules = { {"errno:EPERM", "mkdir"}, {"errno:EPERM", "mkdirat"} } }
          local d = "/tmp/lunajail-seccomp-" .. core.getpid()
          local ok, msg, errno = core.mkdir_p(d)
          local sh = os.execute("mkdir " .. d .. " 2>/dev/null")
          os.remove(d)                       -- in case the filter failed
          local f = io.open("/proc/self/status")
          local wrote = f:read("a") ~= nil
          f:close()
          return ok, msg, errno, sh, seccomp_status(),
                 core.prctl_state().seccomp, wrote
        ]])
        assert.is_nil(ok)
        assert.matches("^mkdir_p%(.*%): Operation not permitted %(EPERM%)$", msg)
        assert.equal(1, errno)
        assert.is_nil(sh)                      -- and in an exec'd program
        assert.equal(2, st.Seccomp)
        assert.equal(1, st.Seccomp_filters)
        assert.equal(2, state)
        assert.is_true(wrote)
      end)

      it("returns any errno given by name or number", function()
        local e1, e2, e3 = lua(mode, [[
          filtered{ rules = { {"errno:ECONNREFUSED", "mkdir"},
                              {"errno:ECONNREFUSED", "mkdirat"},
                              {"errno:econnrefused", "rmdir"},
                              {"errno:4094", "chdir"} } }
          local d = "/tmp/lunajail-seccomp-" .. core.getpid()
          local e1 = select(3, core.mkdir_p(d))
          local e2 = select(3, os.remove("/"))    -- unlink: EISDIR, then rmdir
          local e3 = select(3, core.chdir("/"))
          os.remove(d)
          return e1, e2, e3
        ]])
        assert.equal(111, e1)
        assert.equal(111, e2)
        assert.equal(4094, e3)
      end)

      it("kills the process, the thread, or traps, with SIGSYS", function()
        newactions()
        local kp, kt, trap, before = lua(mode, [[
          local function deny (action)
            return inchild(function()
              filtered{ rules = { {action, "getppid"} } }
              core.getppid()
              return 0
            end)
          end
          return deny("kill_process"), deny("kill"), deny("trap"),
                 inchild(function() core.getppid() return 7 end)
        ]])
        assert.equal("SIGSYS", kp)
        assert.equal("SIGSYS", kt)
        assert.equal("SIGSYS", trap)
        assert.equal("exit 7", before)
      end)

      it("logs and allows with log, fails with ENOSYS on trace", function()
        newactions()
        local logged, traced = lua(mode, [[
          local d = "/tmp/lunajail-seccomp-" .. core.getpid()
          local logged = inchild(function()
            filtered{ rules = { {"log", "mkdir"} } }
            local ok = core.mkdir_p(d)
            os.remove(d)
            return ok and 0 or 1
          end)
          local traced = inchild(function()
            filtered{ rules = { {"trace:5", "mkdir"}, {"trace:5", "mkdirat"} } }
            return select(3, core.mkdir_p(d))  -- no tracer: ENOSYS
          end)
          os.remove(d)
          return logged, traced
        ]])
        assert.equal("exit 0", logged)
        assert.equal("exit 38", traced)
      end)

      it("compares arguments with every operator", function()
        -- kill(self, sig) for signals ignored by default: 0, 17, 23, 28;
        -- the exit code has bit i set when the i-th was denied (EPERM)
        local r = lua(mode, [[
          local sigs = { 0, 17, 23, 28 }
          local function denied (...)
            local cmps = { ... }
            return inchild(function()
              local rule = { "errno:EPERM", "kill" }
              for _, c in ipairs(cmps) do rule[#rule + 1] = c end
              filtered{ rules = { rule } }
              local bits = 0
              for i, s in ipairs(sigs) do
                local ok, _, e = core.kill(core.getpid(), s)
                if not ok and e == 1 then bits = bits | (1 << (i - 1)) end
              end
              return bits
            end)
          end
          return {
            eq = denied{"a1", "==", 0}, ne = denied{"a1", "!=", 0},
            lt = denied{"a1", "<", 20}, le = denied{"a1", "<=", 23},
            gt = denied{"a1", ">", 23}, ge = denied{"a1", ">=", 23},
            mask = denied{"a1", "&=", 1, 1},
            both = denied({"a0", "!=", 0}, {"a1", "==", 17}),
            other = denied({"a0", "==", 0}, {"a1", "==", 17}),
            none = denied{"a1", "==", 9},
          }
        ]])
        local bits = { eq = 1, ne = 14, lt = 3, le = 7, gt = 8, ge = 12,
                       mask = 6, both = 2, other = 0, none = 0 }
        for k, v in pairs(bits) do assert.equal("exit " .. v, r[k], k) end
      end)

      it("installs through filter:load(), core.seccomp(filter) and a spec", function()
        local a, b, c, st = lua(mode, [[
          assert(core.no_new_privs())
          local f = core.seccomp_filter{ rules = { {"errno:EPERM", "mkdir"} } }
          local a = f:load()
          local b = core.seccomp(f)
          local c = core.seccomp{ rules = { {"errno:EPERM", "rmdir"} } }
          return a, b, c, seccomp_status()
        ]])
        assert.is_true(a)
        assert.is_true(b)
        assert.is_true(c)
        assert.equal(2, st.Seccomp)
        assert.equal(3, st.Seccomp_filters)
      end)

      if mode == "root" then
        it("loads without no_new_privs with CAP_SYS_ADMIN", function()
          local ok, state = lua(mode, [[
            local ok = core.seccomp{ rules = { {"errno:EPERM", "mkdir"} } }
            return ok, core.prctl_state()
          ]])
          assert.is_true(ok)
          assert.equal(2, state.seccomp)
          assert.is_false(state.no_new_privs)
        end)
      else
        it("refuses to load without no_new_privs: EACCES", function()
          local ok, msg, errno, state = lua(mode, [[
            local f = core.seccomp_filter{ rules = { {"errno:EPERM", "mkdir"} } }
            local n = #f:export() // 8
            local ok, msg, errno = f:load()
            return ok, msg, errno, core.prctl_state().seccomp, n
          ]])
          assert.is_nil(ok)
          assert.matches("^seccomp%(%d+ BPF instructions%): " ..
                         "Permission denied %(EACCES%)$", msg)
          assert.equal(13, errno)
          assert.equal(0, state)
        end)

        it("loads without no_new_privs in its own user namespace", function()
          local ok, state = lua(mode, [[
            enter{"user"}
            local ok = core.seccomp{ rules = { {"errno:EPERM", "mkdir"} } }
            return ok, core.prctl_state().seccomp
          ]])
          assert.is_true(ok)
          assert.equal(2, state)
        end)
      end

      it("catches ioctl commands with high bits set through &= masks", function()
        local p = probe()
        if not p then return H.skip("needs x86_64 and a C compiler") end
        local r = lua(mode, ([[
          local function run (rule, cmd)
            return inchild(function()
              filtered{ rules = { rule } }
              core.exec(%q, {"probe", "n", "16", "1000", cmd})
            end)
          end
          local masked = {"errno:EPERM", "ioctl", {"a1", "&=", 0xffffffff, 0x5401}}
          local exact = {"errno:EPERM", "ioctl", {"a1", "==", 0x5401}}
          return {
            run(masked, "0x5401"), run(masked, "0x100005401"),
            run(masked, "0xffffffff00005401"), run(masked, "0x5402"),
            run(exact, "0x5401"), run(exact, "0x100005401"),
          }
        ]]):format(p))
        assert.equal("exit 1", r[1])
        assert.equal("exit 1", r[2])          -- the kernel ignores high bits
        assert.equal("exit 1", r[3])
        assert.equal("exit 9", r[4])          -- EBADF: reached the kernel
        assert.equal("exit 1", r[5])
        assert.equal("exit 9", r[6])          -- == compares all 64 bits
      end)

      it("kills i386 system calls unless the x86 arch is added", function()
        newactions()
        local p = probe()
        if not p then return H.skip("needs x86_64 and a C compiler") end
        local r = lua(mode, ([[
          local P = %q
          local function run (spec, ...)
            local argv = { "probe", ... }
            return inchild(function()
              if spec then filtered(spec) end
              core.exec(P, argv)
            end)
          end
          local x86 = { arch = {"native", "x86"},
                        rules = { {"errno:EPERM", "mkdir"} } }
          return {
            plain = run(nil, "i", "20"),                -- getpid
            plain_mkdir = run(nil, "i", "39", "0"),      -- mkdir(NULL)
            default = run({ rules = {} }, "i", "20"),
            kp = run({ badarch = "kill_process" }, "i", "20"),
            errno = run({ badarch = "errno:EPERM" }, "i", "20"),
            x86 = run(x86, "i", "20"),
            x86_mkdir = run(x86, "i", "39", "0"),
            native_mkdir = run(x86, "n", "83", "0"),
          }
        ]]):format(p))
        if r.plain ~= "exit 0" then
          return H.skip("no i386 emulation (int $0x80: " .. r.plain .. ")")
        end
        assert.equal("exit 14", r.plain_mkdir)     -- EFAULT, unfiltered
        assert.equal("SIGSYS", r.default)
        assert.equal("SIGSYS", r.kp)
        assert.equal("exit 1", r.errno)
        assert.equal("exit 0", r.x86)
        assert.equal("exit 1", r.x86_mkdir)
        assert.equal("exit 1", r.native_mkdir)
      end)

      it("refuses a call given by number, live", function()
        local p = probe()
        if not p then return H.skip("needs x86_64 and a C compiler") end
        local r = lua(mode, ([[
          local function run (spec, nr)
            return inchild(function()
              if spec then filtered(spec) end
              core.exec(%q, {"probe", "n", nr})
            end)
          end
          local spec = { rules = { {"errno:ENOSYS", 457} } }
          return { run(nil, "457"), run(spec, "457"), run(spec, "458") }
        ]]):format(p))
        assert.equal("exit 14", r[1])        -- statmount(NULL): EFAULT unfiltered
        assert.equal("exit 38", r[2])
        assert.equal("exit 14", r[3])        -- listmount: untouched
      end)

      it("closes once, by close(), <close> or the collector", function()
        local s1, again, s2, err1, err2, err3, err4, err5 = lua(mode, [[
          local f = core.seccomp_filter{}
          f:close()
          local again = pcall(f.close, f)
          local g
          do
            local h <close> = core.seccomp_filter{}
            g = h
          end
          for _ = 1, 200 do core.seccomp_filter{ rules = { {"kill", "ptrace"} } } end
          collectgarbage() collectgarbage()
          return tostring(f), again, tostring(g),
                 select(2, pcall(f.export, f)), select(2, pcall(f.pfc, f)),
                 select(2, pcall(f.load, f)), select(2, pcall(core.seccomp, f)),
                 select(2, pcall(g.export, g))
        ]])
        assert.equal("lunajail.SeccompFilter (closed)", s1)
        assert.is_true(again)
        assert.equal("lunajail.SeccompFilter (closed)", s2)
        assert.matches("seccomp filter is closed", err1)
        assert.matches("seccomp filter is closed", err2)
        assert.matches("seccomp filter is closed", err3)
        assert.matches("seccomp: bad argument #1 %(filter%): seccomp filter is closed",
                       err4)
        assert.matches("seccomp filter is closed", err5)
      end)
    end)
  end

  describe("BPF", function()
    local X32, I386 = S.X32_BIT, S.I386

    -- the exported program of spec, and the native numbers of names
    local function export (spec, names)
      return H.lua(H.modes[1], ([[
        local nr = {}
        for _, n in ipairs(%s) do nr[n] = assert(core.seccomp_resolve(n), n) end
        return core.seccomp_filter(%s):export(), nr
      ]]):format(names or "{}", spec))
    end

    it("encodes every action", function()
      newactions()
      local bpf, nr = export([[{ badarch = "kill_process", rules = {
          {"errno:EPERM", "mkdir"}, {"errno:77", "rmdir"},
          {"kill", "ptrace"}, {"kill_process", "reboot"}, {"trap", "acct"},
          {"log", "sync"}, {"trace:7", "syncfs"}, {"allow", "getpid"} } }]],
        [[{"mkdir", "rmdir", "ptrace", "reboot", "acct", "sync", "syncfs",
           "getpid", "uname"}]])
      local prog = S.decode(bpf)
      local function act (name)
        return hex(S.run(prog, { nr = nr[name], arch = S.X86_64 }))
      end
      assert.equal(hex(S.ERRNO | 1), act("mkdir"))
      assert.equal(hex(S.ERRNO | 77), act("rmdir"))
      assert.equal(hex(S.KILL_THREAD), act("ptrace"))
      assert.equal(hex(S.KILL_PROCESS), act("reboot"))
      assert.equal(hex(S.TRAP), act("acct"))
      assert.equal(hex(S.LOG), act("sync"))
      assert.equal(hex(S.TRACE | 7), act("syncfs"))
      assert.equal(hex(S.ALLOW), act("getpid"))
      assert.equal(hex(S.ALLOW), act("uname"))
    end)

    it("never lets an x32 or i386 call through the native filter", function()
      newactions()
      for _, badarch in ipairs{ "kill_process", "errno:ENOSYS" } do
        local bpf = export(([[{ badarch = %q, rules = {
            {"errno:EPERM", "mkdir"} } }]]):format(badarch))
        local prog = S.decode(bpf)
        local want = badarch == "kill_process" and S.KILL_PROCESS
                     or S.ERRNO | 38
        for n = 0, 547 do
          assert.equal(hex(want), hex(S.run(prog, { nr = X32 | n, arch = S.X86_64 })),
                       "x32 " .. n)
        end
        for _, n in ipairs{ 1, 20, 39, 54, 102, 172, 385 } do
          assert.equal(hex(want), hex(S.run(prog, { nr = n, arch = I386 })),
                       "i386 " .. n)
        end
        assert.equal(hex(want), hex(S.run(prog, { nr = 39, arch = S.AARCH64 })))
      end
    end)

    it("kills other arches by default (the thread)", function()
      local prog = S.decode(export("{}"))
      assert.equal(hex(S.KILL_THREAD), hex(S.run(prog, { nr = 20, arch = I386 })))
      assert.equal(hex(S.KILL_THREAD),
                   hex(S.run(prog, { nr = X32 | 39, arch = S.X86_64 })))
    end)

    it("filters the x86 and x32 arches by their own numbers", function()
      local bpf, nr = export([[{ arch = {"native", "x86", "x32"}, rules = {
          {"errno:EPERM", "mkdir"} } }]], [[{"mkdir", "getpid"}]])
      local prog = S.decode(bpf)
      local function act (n, arch) return hex(S.run(prog, { nr = n, arch = arch })) end
      assert.equal(hex(S.ERRNO | 1), act(nr.mkdir, S.X86_64))
      assert.equal(hex(S.ALLOW), act(nr.getpid, S.X86_64))
      assert.equal(hex(S.ERRNO | 1), act(39, I386))          -- i386 mkdir
      assert.equal(hex(S.ALLOW), act(20, I386))              -- i386 getpid
      assert.equal(hex(S.ERRNO | 1), act(X32 | nr.mkdir, S.X86_64))
      assert.equal(hex(S.ALLOW), act(X32 | nr.getpid, S.X86_64))
      assert.equal(hex(S.KILL_THREAD), act(39, S.AARCH64))
    end)

    it("compares 64-bit arguments, and masks them", function()
      local bpf, nr = export([[{ rules = {
          {"errno:EPERM", "ioctl", {"a1", "&=", 0xffffffff, 0x5412}},
          {"errno:EACCES", "personality", {"a0", ">", 0xffffffff}},
          {"errno:ENOENT", "kill", {"a1", "==", -1}} } }]],
        [[{"ioctl", "personality", "kill"}]])
      local prog = S.decode(bpf)
      local function act (name, ...)
        return hex(S.run(prog, { nr = nr[name], arch = S.X86_64, args = { ... } }))
      end
      assert.equal(hex(S.ERRNO | 1), act("ioctl", 3, 0x5412))
      assert.equal(hex(S.ERRNO | 1), act("ioctl", 3, 0xdeadbeef00005412))
      assert.equal(hex(S.ALLOW), act("ioctl", 3, 0x5413))
      assert.equal(hex(S.ALLOW), act("personality", 0xffffffff))
      assert.equal(hex(S.ERRNO | 13), act("personality", 0x100000000))
      assert.equal(hex(S.ERRNO | 2), act("kill", 1, -1))
      assert.equal(hex(S.ALLOW), act("kill", 1, 0xffffffff))
    end)

    it("makes an allow list with a deny default", function()
      local bpf, nr = export([[{ default = "errno:ENOSYS", rules = {
          {"allow", "getpid"}, {"errno:ENOSYS", "mkdir"} } }]],
        [[{"getpid", "mkdir", "uname"}]])
      local prog = S.decode(bpf)
      local function act (name) return hex(S.run(prog, { nr = nr[name], arch = S.X86_64 })) end
      assert.equal(hex(S.ALLOW), act("getpid"))
      assert.equal(hex(S.ERRNO | 38), act("mkdir"))
      assert.equal(hex(S.ERRNO | 38), act("uname"))
    end)

    it("installs a call libseccomp cannot name by its number", function()
      local bpf, nr = export([[{ rules = {
          {"errno:ENOSYS", 457}, {"errno:EPERM", 467, {"a0", "==", 3}} } }]],
        [[{"futex_requeue"}]])
      local prog = S.decode(bpf)
      local function act (n, ...)
        return hex(S.run(prog, { nr = n, arch = S.X86_64, args = { ... } }))
      end
      assert.equal(hex(S.ERRNO | 38), act(457))
      assert.equal(hex(S.ERRNO | 1), act(467, 3))
      assert.equal(hex(S.ALLOW), act(467, 4))
      assert.equal(hex(S.ALLOW), act(458))
      assert.equal(hex(S.ALLOW), act(nr.futex_requeue))
    end)

    it("skips rules whose action is the default", function()
      local a = export([[{ rules = { {"allow", "mkdir"}, {"allow", "rmdir"} } }]])
      local b = export("{}")
      assert.equal(b, a)
    end)

    it("refuses a filter the kernel would not take", function()
      local err = H.raises(H.modes[1], [[
        local rules = {}
        for i = 1, 5000 do rules[i] = {"errno:EPERM", "ioctl", {"a1", "==", i}} end
        local f = core.seccomp_filter{ rules = rules }
        assert(#f:export() // 8 > 4096)
        return f:load()
      ]])
      assert.matches("seccomp: bad argument #1 %(filter%): the filter compiles " ..
                     "to %d+ BPF instructions, more than the kernel's 4096", err)
    end)
  end)

  describe("seccomp_resolve", function()
    it("gives native numbers, nil for unknown and foreign calls", function()
      local r = H.lua(H.modes[1], [[
        local function both (n) return { core.seccomp_resolve(n) } end
        return { getpid = both("getpid"), mkdir = both("mkdir"),
                 none = both("nosuchcall"), socketcall = both("socketcall"),
                 statmount = both("statmount"), arch = core.seccomp_arch() }
      ]])
      if X86_64 then
        assert.same({ 39 }, r.getpid)
        assert.same({ 83 }, r.mkdir)
        assert.equal("x86_64", r.arch)
        assert.same({ nil, "foreign" }, r.socketcall)  -- i386 only
      else
        assert.is_number(r.getpid[1])
        assert.is_string(r.arch)
      end
      assert.same({ nil, "unknown" }, r.none)
      -- libseccomp 2.5.4 cannot name statmount (Linux 6.8); a newer one can
      assert.is_true(r.statmount[1] == 457 or r.statmount[2] == "unknown")
    end)
  end)

  describe("core.isatty", function()
    it("tells a terminal from a pipe, a file and a closed fd", function()
      local r = H.lua(H.modes[1], [[
        local inner = os.tmpname()
        local f = assert(io.open(inner, "w"))
        f:write(("package.cpath = %q\n"):format(package.cpath),
                'local core = require "lunajail.core"\n',
                'io.write(tostring(core.isatty(0)), " ", tostring(core.isatty(1)), " ",\n',
                '         tostring(core.isatty(999)))\n')
        f:close()
        local function run (cmd)
          local h = assert(io.popen(cmd))
          local out = h:read("a")
          h:close()
          return (out:gsub("\r", ""))
        end
        local r = { pty = run("script -qec 'lua5.4 " .. inner .. "' /dev/null < /dev/null"),
                    pipe = run("lua5.4 " .. inner .. " < /etc/hostname") }
        os.remove(inner)
        return r
      ]])
      assert.equal("true true false", r.pty)
      assert.equal("false false false", r.pipe)   -- a file on 0, a pipe on 1
    end)
  end)

  describe("presets (lunajail.seccomp)", function()
    -- the exported filters of a recipe's seccomp steps, in load order
    local FILTERS = [[
      local function filters (r)
        local out = {}
        for _, st in ipairs((r:steps()).steps) do
          if st[1] == "seccomp" then out[#out + 1] = st[2]:export() end
        end
        return out
      end
    ]]
    local function act (bpf, nr, ...)
      return hex(S.run(S.decode(bpf), { nr = nr, arch = X86_64 and S.X86_64 or S.AARCH64,
                                        args = { ... } }))
    end

    it("installs the calls libseccomp cannot name by number, in every preset", function()
      local f = H.lua(H.modes[1], FILTERS .. [[
        local r = {}
        for _, p in ipairs { "default", "strict", "allowlist" } do
          r[p] = filters(lj.container{ argv = {"true"}, seccomp = p })
        end
        return r
      ]])
      for _, p in ipairs { "default", "strict", "allowlist" } do
        local deny = f[p][#f[p]]
        for _, nr in ipairs { 457, 458, 467, 470 } do   -- statmount ... listns
          assert.equal(hex(S.ERRNO | 38), act(deny, nr), p .. " " .. nr)
        end
      end
      assert.equal(1, #f.default)
      assert.equal(2, #f.allowlist)         -- the allow-list, then the deny-list
      local allow = f.allowlist[1]
      assert.equal(hex(S.ALLOW), act(allow, 462))             -- mseal, by number
      assert.equal(hex(S.ALLOW), act(allow, 452))             -- fchmodat2, by name
      assert.equal(hex(S.ERRNO | 38), act(allow, 471))        -- newer than the list
      assert.equal(hex(S.ERRNO | 38), act(allow, 9999))
    end)

    it("raises for a call it cannot install, never skips it", function()
      local err = H.raises(H.modes[1], [[
        local s = require "lunajail.seccomp"
        s.DEFAULT[#s.DEFAULT + 1] = { "nosuchcall", "errno:EPERM", "a test" }
        return lj.container{ argv = {"true"} }:steps()
      ]])
      assert.matches("lunajail: seccomp preset \"default\": unknown system call " ..
                     "\"nosuchcall\" %(libseccomp cannot name it, and the table gives " ..
                     "no number%)", err)
      err = H.raises(H.modes[1], [[
        local s = require "lunajail.seccomp"
        s.ALLOW = s.ALLOW .. " nosuchcall"
        return lj.container{ argv = {"true"}, seccomp = "allowlist" }:steps()
      ]])
      assert.matches("seccomp preset \"allowlist\": unknown system call \"nosuchcall\"", err)
      -- with a number it is installed as that number; a call of other
      -- architectures only (vm86 on x86_64) has nothing to refuse here
      local bpf, listed = H.lua(H.modes[1], FILTERS .. [[
        local s = require "lunajail.seccomp"
        s.DEFAULT[#s.DEFAULT + 1] = { "nosuchcall", "errno:EACCES", "a test", nr = 999 }
        local listed = {}
        for _, x in ipairs(s.list("default")) do local k = x[1]; listed[k] = x[3] end
        return filters(lj.container{ argv = {"true"} })[1], listed
      ]])
      assert.equal(hex(S.ERRNO | 13), act(bpf, 999))
      assert.equal("a test", listed.nosuchcall)
      assert.equal("obsolete", listed._sysctl)
      if X86_64 then assert.is_nil(listed.vm86) end
    end)

    it("gives every socket family and netlink decision its reason in explain()", function()
      local text = H.lua(H.modes[1], [[
        return lj.container{ argv = {"true"} }:explain()
      ]])
      for _, want in ipairs { "AF_VSOCK", "AF_ALG", "AF_KEY", "NETLINK_KOBJECT_UEVENT",
                              "NETLINK_AUDIT", "UNAME26", "statmount", "open_tree_attr" } do
        assert.matches(want, text, nil, true)
      end
      assert.is_nil(text:match("a terminal of the host"))   -- no terminal handed in
    end)

    it("takes calls by number in the recipe's deny list", function()
      local bpf = H.lua(H.modes[1], FILTERS .. [[
        return filters(lj.container{ argv = {"true"}, seccomp = { deny = { 999 } } })[1]
      ]])
      assert.equal(hex(S.ERRNO | 1), act(bpf, 999))
    end)

    for _, mode in ipairs(H.modes) do
      it("takes a filter object and raw BPF (as bwrap's --seccomp), as " .. mode, function()
        if H.novalgrind("cannot load seccomp filters") then return end
        local r = H.lua(mode, [[
          local f = core.seccomp_filter{ rules = { {"errno:EACCES", "mkdir"},
                                                   {"errno:EACCES", "mkdirat"} } }
          local function try (sec)
            local res = lj.run(lj.container{ argv = {"sh", "-c",
              "mkdir /tmp/d 2>&1 && echo made"}, seccomp = sec })
            return res.stdout
          end
          local bpf = assert(f:export())
          -- the same BPF as a plan step of core.spawn
          -- (without the filter: "File exists")
          local c = assert(core.spawn{ argv = {"/bin/mkdir", "/tmp"},
                                       steps = { {"no_new_privs"}, {"seccomp", bpf} },
                                       stdio = {"null", "null", "pipe"} })
          local err = c:read_all("stderr")
          c:wait()
          return { none = try("none"), object = try(f), raw = try({ bpf = bpf }),
                   explain = lj.container{ argv = {"true"}, seccomp = { bpf = bpf } }:explain(),
                   step = err }
        ]])
        assert.matches("made", r.none)                  -- without the filter: made
        assert.matches("Permission denied", r.object)
        assert.is_nil(r.object:match("made"))
        assert.matches("Permission denied", r.raw)
        assert.is_nil(r.raw:match("made"))
        assert.matches("raw BPF of the recipe's own, %d+ instructions", r.explain)
        assert.matches("Permission denied", r.step)
      end)

      it("allowlist runs sh, coreutils, lua5.4, python3 and gcc, and refuses an " ..
         "unlisted call with ENOSYS, as " .. mode, function()
        local r = H.lua(mode, [[
          local P = BUILD .. "/probe"
          local nr = { get_mempolicy = core.seccomp_resolve("get_mempolicy"),
                       mseal = 462 }
          local d = io.popen("mktemp -d /tmp/lunajail-allow.XXXXXX"):read("l")
          os.execute("chmod 777 " .. d)
          local f = assert(io.open(d .. "/hello.c", "w"))
          f:write('#include <stdio.h>\nint main (void) { puts("compiled"); return 0; }\n')
          f:close()
          local script = ([=[
            exec 2>&1
            [ -x /usr/bin/gcc ] && { gcc -O2 -o /tmp/hello /work/hello.c && /tmp/hello; } ||
              echo compiled
            lua5.4 -e 'print(_VERSION, io.popen("echo piped"):read("l"))'
            if [ -x /usr/bin/python3 ]; then
              /usr/bin/python3 -c 'import subprocess, json, threading; print("python",
                subprocess.run(["echo", "ok"], capture_output=True).stdout.decode().strip())'
            else echo python ok; fi
            printf 'b\na\n' | sort | tr '\n' ' '; echo
            cp /work/hello.c /tmp/c && wc -l < /tmp/c && mkfifo /tmp/f && ls /tmp | wc -l
            tar -cf /tmp/t.tar -C /work hello.c && tar -tf /tmp/t.tar
            id -u >/dev/null && date +%%Y >/dev/null && sleep 0 && echo coreutils
            /probe raw %d 0 0 0 0 0
            /probe raw %d 0 0 0
            /probe mount
            /probe clone3
            grep Seccomp_filters /proc/self/status | tr -d '\t '
          ]=]):format(nr.get_mempolicy, nr.mseal)
          local out = {}
          local ok, err = pcall(function ()
            for _, sc in ipairs { "default", "allowlist" } do
              local res = assert(lj.run(lj.build{ work = d, seccomp = sc,
                                                  argv = {"sh", "-c", script},
                                                  mounts = { {"ro-bind", P, "/probe"} } },
                                        { timeout = 120 }))
              out[sc] = { code = res.code, out = res.stdout }
            end
          end)
          os.execute("rm -rf " .. d)
          if not ok then error(err, 0) end
          return out
        ]])
        local function lines (t)
          local l = {}
          for x in t:gmatch("[^\n]+") do l[#l + 1] = x end
          return l
        end
        local dflt, allow = lines(r.default.out), lines(r.allowlist.out)
        assert.equal(0, r.allowlist.code, r.allowlist.out)
        -- the programs: the same output under both presets
        for i = 1, 8 do assert.equal(dflt[i], allow[i], r.allowlist.out) end
        assert.equal("compiled", allow[1])
        assert.matches("^Lua 5.4%s+piped$", allow[2])
        assert.equal("python ok", allow[3])
        assert.equal("a b ", allow[4])
        assert.equal("coreutils", allow[8])
        -- get_mempolicy: allowed by the deny-list, not in the allow-list
        assert.equal("ok 0", dflt[9])
        assert.equal("err ENOSYS", allow[9])
        -- mseal (Linux 6.10), allowed by number; a kernel without it: ENOSYS both
        assert.equal(dflt[10], allow[10])
        -- refused by the deny-list above: its errno, not the allow-list's ENOSYS
        assert.equal("err EPERM", allow[11])
        assert.equal("err ENOSYS", allow[12])
        assert.equal("Seccomp_filters:1", dflt[13])
        assert.equal("Seccomp_filters:2", allow[13])
      end)
    end
  end)

  describe("bad input", function()
    local F = "core.seccomp_filter"
    local cases = {
      { F .. "()", "seccomp_filter: bad argument #1 %(spec%): table expected, got no value" },
      { F .. "(42)", "#1 %(spec%): table expected, got number" },
      { F .. "{default = 'deny'}", "unknown seccomp action \"deny\" %(valid: allow" },
      { F .. "{default = 1}", "seccomp action expected, got number" },
      { F .. "{default = 'allow\\0x'}", "seccomp action contains a NUL byte" },
      { F .. "{badarch = 'nope'}", "unknown seccomp action \"nope\"" },
      { F .. "{rules = {{'errno:0', 'mkdir'}}}", "bad action \"errno:0\" %(errno 1..4094" },
      { F .. "{rules = {{'errno:4095', 'mkdir'}}}", "bad action \"errno:4095\"" },
      { F .. "{rules = {{'errno:4096', 'mkdir'}}}", "bad action \"errno:4096\"" },
      { F .. "{rules = {{'errno:65536', 'mkdir'}}}", "bad action \"errno:65536\"" },
      { F .. "{rules = {{'errno:-1', 'mkdir'}}}", "bad action \"errno:%-1\"" },
      { F .. "{rules = {{'errno:EPERMX', 'mkdir'}}}", "bad action \"errno:EPERMX\"" },
      { F .. "{rules = {{'errno:', 'mkdir'}}}", "bad action \"errno:\"" },
      { F .. "{rules = {{'errno: 1', 'mkdir'}}}", "bad action \"errno: 1\"" },
      { F .. "{rules = {{'errno:1x', 'mkdir'}}}", "bad action \"errno:1x\"" },
      { F .. "{rules = {{'trace:4096', 'mkdir'}}}", "bad action \"trace:4096\"" },
      { F .. "{rules = {{'trace:EPERM', 'mkdir'}}}", "bad action \"trace:EPERM\"" },
      { F .. "{rules = {{'deny', 'mkdir'}}}", "unknown seccomp action \"deny\"" },
      { F .. "{rules = {{'errno:EPERM', 'nosuchcall'}}}",
        "#1 %(spec%): rules%[1%]: unknown syscall \"nosuchcall\"" },
      { F .. "{rules = {{'allow', 'getpid'}, {'errno:EPERM'}}}",
        "rules%[2%]: syscall name or number expected" },
      { F .. "{rules = {{'errno:EPERM', 1.5}}}", "rules%[1%]: syscall name or number expected" },
      { F .. "{rules = {{'errno:EPERM', -1}}}",
        "rules%[1%]: syscall number 0..9999 expected, got %-1" },
      { F .. "{rules = {{'errno:EPERM', 10000}}}", "syscall number 0..9999 expected, got 10000" },
      { F .. "{rules = {{'errno:EPERM', 0x40000027}}}", "syscall number 0..9999 expected" },
      { F .. "{arch = {'native', 'x86'}, rules = {{'errno:EPERM', 457}}}",
        "rules%[1%]: syscall 457 by number: only for a filter of the native " ..
        "architecture alone" },
      { F .. "{rules = {{'errno:EPERM', {}}}}", "rules%[1%]: syscall name or number expected" },
      { F .. "{rules = {{'errno:EPERM', 'mkdir\\0x'}}}", "syscall name contains a NUL" },
      { F .. "{rules = {'mkdir'}}", "rules%[1%]: {action, syscall, ...} expected" },
      { F .. "{rules = 'mkdir'}", "#1 %(spec%): rules: list expected" },
      { F .. "{arch = 'x86'}", "arch: list of names expected" },
      { F .. "{arch = {'vax'}}", "arch%[1%]: unknown \"vax\"" },
      { F .. "{arch = {'native', 1}}", "arch%[2%]: name expected" },
      { F .. "{arch = {'x86\\0'}}", "arch name contains a NUL" },
      { F .. "{rules = {{'errno:EPERM', 'ioctl', {'a6', '==', 1}}}}",
        "rules%[1%] comparison 1: argument \"a0\"..\"a5\" expected" },
      { F .. "{rules = {{'errno:EPERM', 'ioctl', {'b1', '==', 1}}}}", "argument \"a0\"" },
      { F .. "{rules = {{'errno:EPERM', 'ioctl', {'a10', '==', 1}}}}", "argument \"a0\"" },
      { F .. "{rules = {{'errno:EPERM', 'ioctl', {1, '==', 1}}}}", "argument \"a0\"" },
      { F .. "{rules = {{'errno:EPERM', 'ioctl', {'a1', '=', 1}}}}",
        "rules%[1%] comparison 1: operator ==, !=, <, <=, >, >= or &= expected" },
      { F .. "{rules = {{'errno:EPERM', 'ioctl', {'a1', '~=', 1}}}}", "operator ==" },
      { F .. "{rules = {{'errno:EPERM', 'ioctl', {'a1', '==', '1'}}}}",
        "comparison 1: integer value expected" },
      { F .. "{rules = {{'errno:EPERM', 'ioctl', {'a1', '==', 1.5}}}}",
        "integer value expected" },
      { F .. "{rules = {{'errno:EPERM', 'ioctl', {'a1', '&=', 1}}}}",
        "integer value expected" },
      { F .. "{rules = {{'errno:EPERM', 'ioctl', {'a1', '=='}}}}", "integer value expected" },
      { F .. "{rules = {{'errno:EPERM', 'ioctl', {'a1', '==', 1}, 'a2'}}}",
        "rules%[1%] comparison 2: table expected" },
      { F .. "{rules = {{'errno:EPERM', 'ioctl', {'a0', '==', 1}, {'a1', '==', 1}, " ..
        "{'a2', '==', 1}, {'a3', '==', 1}, {'a4', '==', 1}, {'a5', '==', 1}, " ..
        "{'a0', '==', 2}}}}", "rules%[1%]: more than 6 comparisons" },
      { F .. "{rules = {{'errno:EPERM', 'kill', {'a1', '>=', 17}, {'a1', '<=', 23}}}}",
        "rules%[1%]: a1 compared twice" },
      { "core.seccomp()", "seccomp: bad argument #1 %(filter%): seccomp filter, spec " ..
        "table or BPF string expected" },
      { "core.seccomp(42)", "#1 %(filter%): seccomp filter, spec table or BPF string expected" },
      { "core.seccomp('mkdir')", "#1 %(filter%): raw BPF of 5 bytes: 8 per instruction" },
      { "core.seccomp('')", "#1 %(filter%): raw BPF of 0 bytes" },
      { "core.seccomp(('\\0'):rep(8 * 4097))", "4097 BPF instructions, more than the kernel's" },
      { "core.seccomp{rules = {{'nope', 'mkdir'}}}",
        "seccomp: bad argument #1 %(filter%): unknown seccomp action \"nope\"" },
      { "core.seccomp_filter{}.export(42)", "SeccompFilter expected" },
      { "core.seccomp_filter{}.load({})", "SeccompFilter expected" },
      { "core.seccomp_resolve()", "seccomp_resolve: bad argument #1 %(name%): string " ..
        "expected, got no value" },
      { "core.seccomp_resolve(39)", "#1 %(name%): string expected, got number" },
      { "core.seccomp_resolve('getpid\\0x')", "#1 %(name%): string contains a NUL" },
      { "lj.container{ seccomp = {preset = 'strcit'} }:steps()",
        "lunajail: recipe.seccomp.preset: \"default\", \"strict\" or \"allowlist\" " ..
        "expected, got \"strcit\"" },
      { "lj.container{ seccomp = {preset = 7} }:steps()", "got number" },
      { "lj.container{ seccomp = {allow = {'mout'}} }:steps()",
        "lunajail: recipe.seccomp.allow%[1%]: unknown syscall \"mout\"" },
      { "lj.container{ seccomp = {deny = {'getpid', true}} }:steps()",
        "recipe.seccomp.deny%[2%]: syscall name expected, got boolean" },
      { "lj.container{ seccomp = {deny = {-5}} }:steps()",
        "recipe.seccomp.deny%[1%]: syscall number 0..9999 expected" },
      { "lj.container{ seccomp = {preset = 'allowlist', deny = {'nosuch'}} }:steps()",
        "recipe.seccomp.deny%[1%]: unknown syscall \"nosuch\"" },
      { "lj.container{ seccomp = 'loose' }",
        "recipe.seccomp: \"default\", \"strict\", \"allowlist\", \"none\", a table" },
      { "lj.container{ seccomp = 'defualt' }",
        "recipe.seccomp: .* got \"defualt\" %(did you mean 'default'%?%)" },
      { "lj.container{ seccomp = {preset = 'stirct'} }",
        "recipe.seccomp.preset: .* got \"stirct\" %(did you mean 'strict'%?%)" },
      { "lj.container{ seccomp = {bpf = 'x'} }",
        "recipe.seccomp.bpf: 1 bytes: a BPF program is 8 bytes per instruction" },
      { "lj.container{ seccomp = {bpf = ('\\0'):rep(8), preset = 'strict'} }",
        "recipe.seccomp: {bpf = ...} takes nothing else" },
      { "lj.container{ seccomp = {bpf = 5} }", "recipe.seccomp.bpf: a string of BPF expected" },
      { "lj.container{ seccomp = {defualt = 'allow'} }",
        "recipe.seccomp: unknown key defualt %(did you mean 'default'%?%)" },
      { "(function () local f = core.seccomp_filter{}; f:close(); " ..
        "return lj.container{ seccomp = f } end)()",
        "recipe.seccomp: the filter object is closed" },
      { "core.isatty()", "isatty: bad argument #1 %(fd%): integer expected, got no value" },
      { "core.isatty(-1)", "isatty: bad argument #1 %(fd%): %-1 out of range" },
      { "core.isatty('0')", "isatty: bad argument #1 %(fd%): integer expected, got string" },
      { "core.isatty(1.5)", "isatty: bad argument #1 %(fd%)" },
    }
    H.rejects(cases)
  end)
end)
