-- names.c: flags, signals, resources and errnos by name; core.signal and
-- core.errno
-- luacheck: std +busted
local H = require "helper"

local SIGNALS = "hup, int, quit, ill, trap, abrt, bus, fpe, kill, usr1, segv, usr2, " ..
                "pipe, alrm, term, stkflt, chld, cont, stop, tstp, ttin, ttou, urg, " ..
                "xcpu, xfsz, vtalrm, prof, winch, io, pwr, sys"

local function literal (s) return (s:gsub("%p", "%%%0")) end

describe("core names", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("takes every signal by short name, C name and number", function()
        local n, bad = H.lua(mode, [[
          local n, bad = 0, {}
          for cname, v in pairs(core.signal) do
            if type(cname) == "string" then
              n = n + 1
              for _, how in ipairs{cname:sub(4):lower(), cname, v} do
                assert(core.pdeathsig(how))
                local got = core.prctl_state().pdeathsig
                if got ~= v then bad[#bad + 1] = tostring(how) .. " -> " .. got end
              end
            end
          end
          return n, table.concat(bad, "; ")
        ]])
        assert.equal(31, n)
        assert.equal("", bad)
      end)

      it("takes every resource by short name, C name and number", function()
        if H.novalgrind("refuses setrlimit(RLIMIT_NOFILE) to the programs it runs") then return end
        local n, bad = H.lua(mode, [[
          local n, bad = 0, {}
          for cname, v in pairs(core.RLIMIT) do
            if type(cname) == "string" then
              n = n + 1
              local want = table.concat({core.getrlimit(v)}, " ")
              for _, how in ipairs{cname:sub(8):lower(), cname} do
                local got = table.concat({core.getrlimit(how)}, " ")
                if got ~= want then bad[#bad + 1] = how .. ": " .. got end
              end
            end
          end
          -- and setting one by each name lands on the same resource
          local S = require "snip"
          for i, how in ipairs{"nofile", "RLIMIT_NOFILE", core.RLIMIT.RLIMIT_NOFILE} do
            assert(core.setrlimit(how, 50 + i, 100))
            local got = S.read("/proc/self/limits"):match("Max open files%s+(%d+)")
            if got ~= tostring(50 + i) then bad[#bad + 1] = tostring(how) end
          end
          return n, table.concat(bad, "; ")
        ]])
        assert.equal(16, n)
        assert.equal("", bad)
      end)

      it("takes flags as a list, a string, C names, an integer or a mix", function()
        local r = table.pack(H.lua(mode, [[
          ]] .. (mode == "root" and 'enter{"mount"}' or 'enter{"user", "mount"}') .. [[

          assert(core.mount(nil, "/", nil, {"rec", "private"}))
          local out = {}
          for i, flags in ipairs{
            {"nosuid", "nodev", "noexec"},
            "nosuid,nodev,noexec",
            " nosuid , MS_NODEV,,noexec ",
            {"MS_NOSUID", "MS_NODEV", "MS_NOEXEC"},
            2 | 4 | 8,                            -- MS_NOSUID|MS_NODEV|MS_NOEXEC
            {"nosuid", 4, "MS_NOEXEC"},
          } do
            assert(core.mount("tmpfs", "/mnt", "tmpfs", flags))
            local line = ""
            for l in io.lines("/proc/self/mountinfo") do
              if l:find(" /mnt ", 1, true) then line = l end
            end
            local opts = line:match(" /mnt (%S+)") or ""
            out[i] = (opts:find("nosuid") and "s" or "") .. (opts:find("nodev") and "d" or "")
                     .. (opts:find("noexec") and "x" or "")
            assert(core.umount("/mnt"))
          end
          return table.unpack(out)
        ]]))
        assert.same({ "sdx", "sdx", "sdx", "sdx", "sdx", "sdx", n = 6 }, r)
      end)

      it("takes an empty list or string as no flags at all", function()
        local a, b, c, st = H.lua(mode, [[
          ]] .. (mode == "root" and "" or 'enter{"user"}') .. [[

          assert(core.securebits{"noroot"})
          local a = core.securebits{}
          assert(core.securebits{"noroot"})
          local b = core.securebits("")
          assert(core.securebits{"noroot"})
          local c = core.securebits(" , ,")
          return a, b, c, #core.prctl_state().securebits
        ]])
        assert.is_true(a)
        assert.is_true(b)
        assert.is_true(c)
        assert.equal(0, st)
      end)
    end)
  end

  it("core.signal maps names to numbers and back, as kill -L does", function()
    local t, table_l = H.lua(H.modes[1], [[
      local S = require "snip"
      return core.signal, S.sh("/bin/kill -L 2>/dev/null")
    ]])
    local n = 0
    for k, v in pairs(t) do
      if type(k) == "string" then
        n = n + 1
        assert.matches("^SIG[A-Z0-9]+$", k)
        assert.equal(k, t[v])
      end
    end
    assert.equal(31, n)
    -- the same numbers on every Linux architecture
    local fixed = { SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5,
                    SIGABRT = 6, SIGFPE = 8, SIGKILL = 9, SIGSEGV = 11, SIGPIPE = 13,
                    SIGALRM = 14, SIGTERM = 15 }
    for k, v in pairs(fixed) do assert.equal(v, t[k], k) end
    if table_l == "" then return H.skip("no procps kill(1) to compare with") end
    local seen = 0
    for num, name in table_l:gmatch("(%d+) ([%u%d]+)") do
      num = tonumber(num)
      if name == "POLL" then name = "IO" end   -- the same signal, SIGIO
      assert.equal("SIG" .. name, t[num], num)
      seen = seen + 1
    end
    assert.equal(31, seen)
  end)

  it("core.errno maps names to numbers and back, as messages spell them", function()
    local t, r = H.lua(H.modes[1], [[
      local out = {}
      for _, v in ipairs{
        table.pack(core.setns(999)),
        table.pack(core.exec("/nonexistent", {"x"})),
        table.pack(core.waitpid(core.getppid())),
        table.pack(core.kill(2147483647, 0)),
        table.pack(core.setrlimit("nofile", 2, 1)),
      } do out[#out + 1] = { v[2], v[3] } end
      return core.errno, out
    ]])
    local n, values = 0, {}
    for k, v in pairs(t) do
      if type(k) == "string" then
        n = n + 1
        assert.matches("^E[A-Z0-9]+$", k)
        assert.equal(k, t[v])
        assert.is_nil(values[v], k)            -- no two names for a number
        values[v] = k
      end
    end
    assert.equal(82, n)
    for k, v in pairs{ EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, EBADF = 9,
                       ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EEXIST = 17,
                       EINVAL = 22, ENOSPC = 28, ERANGE = 34 } do
      assert.equal(v, t[k], k)
    end
    assert.equal(5, #r)
    for _, m in ipairs(r) do
      assert.equal("(" .. t[m[2]] .. ")", m[1]:match("%(%u+%)$"), m[1])
    end
  end)

  describe("unknown names raise, listing the valid ones", function()
    local cases = {
      { "core.unshare('users')", '#1 %(namespaces%): unknown namespace "users" ' ..
        literal("(valid: user, pid, mount, net, uts, ipc, cgroup, time)") .. "$" },
      { "core.kill(2147483647, 'SIGFOO')", 'unknown signal "SIGFOO" ' ..
        literal("(valid: " .. SIGNALS .. ")") .. "$" },
      { "core.getrlimit('files')", 'unknown resource "files" ' ..
        literal("(valid: as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, " ..
                "nofile, nproc, rss, rtprio, rttime, sigpending, stack)") .. "$" },
      { "core.securebits('root')", 'unknown securebit "root" ' ..
        literal("(valid: noroot, noroot_locked, no_setuid_fixup, no_setuid_fixup_locked, " ..
                "keep_caps, keep_caps_locked, no_cap_ambient_raise, " ..
                "no_cap_ambient_raise_locked)") .. "$" },
      { "core.waitpid(1, 'nohung')", 'unknown wait option "nohung" ' ..
        literal("(valid: nohang, untraced, continued)") .. "$" },
      { "core.mount(nil, '/x', nil, 'bind,rbind')", 'unknown mount flag "rbind" %(valid: ' ..
        "rdonly, nosuid, .*bind, .*private" },
      { "core.umount('/x', 'lazy')", 'unknown umount flag "lazy" %(valid: .*detach' },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local err = H.raises(H.modes[1], "return " .. c[1])
        assert.matches(c[2], err:match("\n([^\n]*)"))   -- the message's line
      end)
    end
  end)

  describe("the same decoders, in a spawn plan, name the step", function()
    local plan = "core.spawn{argv = {'/bin/true'}, "
    local cases = {
      { plan .. "steps = {{'setrlimit', 'files', 1}}}", "spawn: plan%.steps%[1%] setrlimit: " ..
        'bad argument #1 %(resource%): unknown resource "files" %(valid: as, core,' },
      { plan .. "steps = {{'no_new_privs'}, {'unshare', 'user\\0net'}}}",
        "spawn: plan%.steps%[2%] unshare: bad argument #1 %(namespaces%): " ..
        "string contains a NUL byte" },
      { plan .. "steps = {{'setresuid', -1}}}", "spawn: plan%.steps%[1%] setresuid: " ..
        "bad argument #1 %(ruid%): %-1 out of range %[0, 4294967294%]" },
      { plan .. "steps = {{'setgroups', {'0'}}}}", "spawn: plan%.steps%[1%] setgroups: " ..
        "bad argument #1 %(groups%): item 1: gid expected" },
      { plan .. "steps = {{'no_new_privs', false}}}", "spawn: plan%.steps%[1%] " ..
        "no_new_privs: bad argument #1 %(on%): no_new_privs cannot be unset" },
      { plan .. "steps = {{'pdeathsig', 'SIGFOO'}}}", "spawn: plan%.steps%[1%] pdeathsig: " ..
        'bad argument #1 %(signal%): unknown signal "SIGFOO"' },
      { plan .. "env = {'A=1', B = '2'}}", 'spawn: plan%.env: bad argument #1: ' ..
        'a list of "NAME=value" or a map, not both' },
      { plan .. "uidmap = {{0, '0', 1}}}", "spawn: plan%.uidmap: bad argument #1: " ..
        "range 1: {inside, outside, count} expected" },
    }
    for _, c in ipairs(cases) do
      it("rejects " .. c[1]:sub(#plan + 1, -2), function()
        local err = H.raises(H.modes[1], "return " .. c[1])
        assert.matches(c[2], err)
      end)
    end
  end)

  describe("spelling rules", function()
    it("takes a name in any case, with or without its C prefix", function()
      local r = H.lua(H.modes[1], [[
        local got = {}
        for _, s in ipairs{"term", "Term", "TERM", "sigterm", "SIGterm", "SIGTERM"} do
          got[#got + 1] = core.describe{"pdeathsig", s}
        end
        for _, s in ipairs{"nofile", "NOFILE", "RLIMIT_nofile", "rlimit_NOFILE"} do
          got[#got + 1] = core.describe{"setrlimit", s, 1}
        end
        got[#got + 1] = core.describe{"unshare", "User,MOUNT,clone_newnet"}
        got[#got + 1] = core.describe{"unshare", "CLONE_NEWNS"}
        got[#got + 1] = core.describe{"securebits", {"SECBIT_noroot", "NOROOT_LOCKED"}}
        return got
      ]])
      assert.same({ "pdeathsig(15)", "pdeathsig(15)", "pdeathsig(15)", "pdeathsig(15)",
                    "pdeathsig(15)", "pdeathsig(15)",
                    'setrlimit("nofile", 1, 1)', 'setrlimit("nofile", 1, 1)',
                    'setrlimit("nofile", 1, 1)', 'setrlimit("nofile", 1, 1)',
                    'unshare("user,mount,net")', 'unshare("mount")',
                    'securebits("noroot,noroot_locked")' }, r)
    end)

    local cases = {
      -- an underscore, a space, or a C spelling that is not the C name
      { "core.kill(2147483647, 'SIG_TERM')", 'unknown signal "SIG_TERM"' },
      { "core.kill(2147483647, ' term')", 'unknown signal " term"' },
      { "core.kill(2147483647, '')", 'unknown signal ""' },
      { "core.unshare('CLONE_NEWMOUNT')", 'unknown namespace "CLONE_NEWMOUNT"' },
      { "core.unshare('mnt')", 'unknown namespace "mnt"' },
      { "core.unshare('user;net')", 'unknown namespace "user;net"' },
      -- one name where one is wanted: no lists
      { "core.kill(2147483647, 'term,kill')", 'unknown signal "term,kill"' },
      { "core.getrlimit({'nofile'})", "#1 %(resource%): resource name or integer " ..
                                       "expected, got table" },
      -- integers: one name is 0..2^31-1, a set of flags 0..2^32-1
      { "core.getrlimit(1 << 31)", "#1 %(resource%): 2147483648 out of range " ..
                                   "%[0, 2147483647%]" },
      { "core.getrlimit(-1)", "#1 %(resource%): %-1 out of range" },
      { "core.unshare(1 << 32)", "#1 %(namespaces%): 4294967296 out of range " ..
                                 "%[0, 4294967295%]" },
      { "core.unshare({1 << 32})", "#1 %(namespaces%): item 1: 4294967296 out of range " ..
                                   "%[0, 4294967295%]" },
      { "core.unshare({-1})", "#1 %(namespaces%): item 1: namespace name expected, " ..
                              "got number" },
      { "core.unshare({1.5})", "item 1: namespace name expected, got number" },
      { "core.unshare({{}})", "item 1: namespace name expected, got table" },
      { "core.unshare(function () end)", "#1 %(namespaces%): namespace names expected, " ..
                                         "got function" },
      -- a NUL would cut a name or a list short: refused
      { "core.unshare('user\\0net')", "#1 %(namespaces%): string contains a NUL byte" },
      { "core.unshare({'user', 'net\\0'})", "#1 %(namespaces%): string contains a NUL" },
      { "core.kill(2147483647, 'term\\0kill')", "#2 %(signal%): string contains a NUL" },
      { "core.getrlimit('nofile\\0')", "#1 %(resource%): string contains a NUL byte" },
    }
    for _, c in ipairs(cases) do
      it("rejects " .. c[1], function()
        -- in fresh namespaces: a call that wrongly got through changes
        -- only the snippet's own
        local pre = 'enter{"user", "net", "uts"}\n'
        local err = H.raises(H.modes[1], pre .. "return " .. c[1])
        assert.matches(c[2], err)
      end)
    end
  end)
end)
