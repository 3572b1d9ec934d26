-- no_new_privs, pdeathsig, dumpable, keepcaps, securebits, setsid,
-- prctl_state and core.SECBIT
-- luacheck: std +busted
local H = require "helper"

-- snippet code: root needs no user namespace; uid 65534 gets one
local function enter (mode, ...)
  local ns = { ... }
  if mode ~= "root" then table.insert(ns, 1, "user") end
  if #ns == 0 then return "" end
  return 'enter{"' .. table.concat(ns, '", "') .. '"}\n'
end

describe("core prctl primitives", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("reads the state back, as /proc/self/status shows it", function()
        local st, nnp, seccomp = H.lua(mode, [[
          local S = require "snip"
          return core.prctl_state(), S.status("NoNewPrivs"), S.status("Seccomp")
        ]])
        assert.same({ no_new_privs = false, dumpable = true, keepcaps = false,
                      pdeathsig = 0, securebits = {}, seccomp = 0 }, st)
        assert.equal("0", nnp)
        assert.equal("0", seccomp)
      end)

      it("sets no_new_privs, which exec keeps", function()
        local ok, st, status, child, again = H.lua(mode, [[
          local S = require "snip"
          local ok = core.no_new_privs()
          return ok, core.prctl_state().no_new_privs, S.status("NoNewPrivs"),
                 S.sh("grep NoNewPrivs /proc/self/status"), core.no_new_privs(true)
        ]])
        assert.is_true(ok)
        assert.is_true(st)
        assert.equal("1", status)
        assert.equal("NoNewPrivs:\t1", child)
        assert.is_true(again)
      end)

      it("sets the parent-death signal by name and number, and clears it", function()
        local r = table.pack(H.lua(mode, [[
          local out = {}
          for _, sig in ipairs{"usr1", "SIGTERM", 9, "hup", 64, 0} do
            assert(core.pdeathsig(sig))
            out[#out + 1] = core.prctl_state().pdeathsig
          end
          return table.unpack(out)
        ]]))
        assert.same({ 10, 15, 9, 1, 64, 0, n = 6 }, r)
      end)

      it("gets the parent-death signal when its parent dies", function()
        local code, init, c2, signaled, signame = H.lua(mode, enter(mode, "pid") .. [[
          local S = require "snip"
          -- the child is pid 1 of a new pid namespace: orphans come to it
          local st, init, c2, signaled, signame = S.forked(function ()
            local c1 = assert(core.fork())
            if c1 == 0 then
              local c2 = core.fork()
              if c2 == 0 then
                core.pdeathsig("usr1")
                core.kill(core.getpid(), "stop")  -- tells c1 it is armed
                core._exit(0)                     -- continued, no signal
              end
              local st = core.waitpid(c2, "untraced")
              core._exit(st and st.stopped and c2 or 255)
            end
            local c2 = assert(core.waitpid(c1)).code
            -- c1 is gone: c2 is ours now, stopped, the signal pending
            assert(core.kill(c2, "cont"))
            local st = assert(core.waitpid(c2))
            return core.getpid(), c2, st.signaled, st.signame
          end)
          return st.code, init, c2, signaled, signame
        ]])
        assert.equal(0, code)
        assert.equal(1, init)
        assert.equal(3, c2)
        assert.is_true(signaled)
        assert.equal("SIGUSR1", signame)
      end)

      it("turns dumpable off and on: /proc/PID files change owner", function()
        local before, o1, mid, o2, after, o3 = H.lua(mode, [[
          local S = require "snip"
          local function owner ()
            return S.sh("stat -c %u /proc/" .. core.getpid() .. "/environ")
          end
          local before, o1 = core.prctl_state().dumpable, owner()
          assert(core.dumpable(false))
          local mid, o2 = core.prctl_state().dumpable, owner()
          assert(core.dumpable(true))
          return before, o1, mid, o2, core.prctl_state().dumpable, owner()
        ]])
        local me = mode == "root" and "0" or "65534"
        assert.is_true(before)
        assert.equal(me, o1)
        assert.is_false(mid)
        assert.equal("0", o2)               -- not dumpable: owned by root
        assert.is_true(after)
        assert.equal(me, o3)
      end)

      it("sets and clears keepcaps", function()
        local on, off = H.lua(mode, [[
          assert(core.keepcaps(true))
          local on = core.prctl_state().keepcaps
          assert(core.keepcaps(false))
          return on, core.prctl_state().keepcaps
        ]])
        assert.is_true(on)
        assert.is_false(off)
      end)

      it("sets securebits: noroot takes root's capabilities on exec", function()
        local plain, ok, st, noroot, keep = H.lua(mode, enter(mode) .. [[
          local S = require "snip"
          local plain = S.sh("grep CapEff /proc/self/status")
          local ok = core.securebits{"noroot", "SECBIT_KEEP_CAPS"}
          local st = core.prctl_state()
          return plain, ok, st.securebits, S.sh("grep CapEff /proc/self/status"),
                 st.keepcaps
        ]])
        assert.not_equal("CapEff:\t0000000000000000", plain)
        assert.is_true(ok)
        assert.same({ "noroot", "keep_caps" }, st)
        assert.equal("CapEff:\t0000000000000000", noroot)
        assert.is_true(keep)              -- the keep_caps bit is keepcaps
      end)

      it("takes securebits as a number, and locks them", function()
        local r = table.pack(H.lua(mode, enter(mode) .. [[
          local B = core.SECBIT
          assert(core.securebits(B.SECBIT_NO_SETUID_FIXUP | B.SECBIT_KEEP_CAPS))
          local st = core.prctl_state().securebits
          assert(core.securebits("keep_caps, keep_caps_locked, noroot"))
          local ok, msg, errno = core.keepcaps(false)
          local ok2, msg2 = core.securebits{}
          return st[1], st[2], ok, msg, errno, ok2, msg2,
                 table.concat(core.prctl_state().securebits, ",")
        ]]))
        assert.equal("no_setuid_fixup", r[1])
        assert.equal("keep_caps", r[2])
        assert.is_nil(r[3])
        assert.equal("keepcaps(0): Operation not permitted (EPERM)", r[4])
        assert.equal(1, r[5])
        assert.is_nil(r[6])
        assert.equal('securebits(""): Operation not permitted (EPERM)', r[7])
        assert.equal("noroot,keep_caps,keep_caps_locked", r[8])
      end)

      it("starts a new session, once", function()
        local code, before, sid, pgrp, pid, ok, msg, errno = H.lua(mode, [[
          local S = require "snip"
          local st, before, sid, pgrp, pid, ok, msg, errno = S.forked(function ()
            local before = S.stat(6)
            assert(core.setsid())
            local ok, msg, errno = core.setsid()     -- now a session leader
            return before, S.stat(6), S.stat(5), core.getpid(), ok, msg, errno
          end)
          return st.code, before, sid, pgrp, pid, ok, msg, errno
        ]])
        assert.equal(0, code)
        assert.not_equal(pid, before)
        assert.equal(pid, sid)
        assert.equal(pid, pgrp)
        assert.is_nil(ok)
        assert.equal("setsid(): Operation not permitted (EPERM)", msg)
        assert.equal(1, errno)
      end)
    end)
  end

  if H.root then
    it("as root, keepcaps keeps the permitted set through a uid change", function()
      local prm, eff, keep, ctl = H.lua("root", [[
        local S = require "snip"
        local _, ctl = S.forked(function ()
          assert(core.setresuid(1000))
          return S.status("CapPrm")
        end)
        assert(core.keepcaps(true))
        assert(core.setresuid(1000))
        return S.status("CapPrm"), S.status("CapEff"), core.prctl_state().keepcaps,
               ctl
      ]])
      assert.not_equal("0000000000000000", prm)
      assert.equal("0000000000000000", eff)
      assert.is_true(keep)
      assert.equal("0000000000000000", ctl)    -- without keepcaps: gone
    end)

    it("as nobody, may not set securebits without a user namespace", function()
      local ok, msg, errno = H.lua("nobody", "return core.securebits{'noroot'}")
      assert.is_nil(ok)
      assert.equal('securebits("noroot"): Operation not permitted (EPERM)', msg)
      assert.equal(1, errno)
    end)
  end

  it("core.SECBIT maps the C names to bits and back", function()
    local t = H.lua(H.modes[1], "return core.SECBIT")
    local want = {
      SECBIT_NOROOT = 1, SECBIT_NOROOT_LOCKED = 2, SECBIT_NO_SETUID_FIXUP = 4,
      SECBIT_NO_SETUID_FIXUP_LOCKED = 8, SECBIT_KEEP_CAPS = 16,
      SECBIT_KEEP_CAPS_LOCKED = 32, SECBIT_NO_CAP_AMBIENT_RAISE = 64,
      SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = 128,
    }
    local expected = {}
    for k, v in pairs(want) do
      expected[k] = v
      expected[v] = k
    end
    assert.same(expected, t)
  end)

  describe("bad input", function()
    local cases = {
      { "core.no_new_privs(false)", "no_new_privs: bad argument #1 %(on%): " ..
                                    "no_new_privs cannot be unset" },
      { "core.no_new_privs(0)", "#1 %(on%): boolean expected, got number" },
      { "core.no_new_privs('yes')", "#1 %(on%): boolean expected, got string" },
      { "core.pdeathsig()", "pdeathsig: bad argument #1 %(signal%): " ..
                            "signal name or integer expected, got no value" },
      { "core.pdeathsig(true)", "#1 %(signal%): signal name or integer expected, got boolean" },
      { "core.pdeathsig('SIGFOO')", '#1 %(signal%): unknown signal "SIGFOO" %(valid: hup, ' ..
                                    'int, quit,.* sys%)' },
      { "core.pdeathsig('SIG_TERM')", 'unknown signal "SIG_TERM"' },
      { "core.pdeathsig('term\\0')", "#1 %(signal%): string contains a NUL byte" },
      { "core.pdeathsig(65)", "#1 %(signal%): 65 out of range %[0, 64%]" },
      { "core.pdeathsig(-1)", "#1 %(signal%): %-1 out of range" },
      { "core.pdeathsig(1.5)", "#1 %(signal%): number has no integer representation" },
      { "core.pdeathsig('15')", 'unknown signal "15"' },
      { "core.dumpable()", "dumpable: bad argument #1 %(on%): boolean expected, got no value" },
      { "core.dumpable(nil)", "#1 %(on%): boolean expected, got nil" },
      { "core.dumpable(0)", "#1 %(on%): boolean expected, got number" },
      { "core.dumpable(1)", "#1 %(on%): boolean expected, got number" },
      { "core.dumpable('false')", "#1 %(on%): boolean expected, got string" },
      { "core.keepcaps()", "keepcaps: bad argument #1 %(on%): boolean expected, got no value" },
      { "core.keepcaps(0)", "#1 %(on%): boolean expected, got number" },
      { "core.keepcaps('true')", "#1 %(on%): boolean expected, got string" },
      { "core.securebits()", "securebits: bad argument #1 %(bits%): securebit names " ..
                             "expected %({} for none%), got no value" },
      { "core.securebits(nil)", "#1 %(bits%): securebit names expected .*got nil" },
      { "core.securebits('noroot,bogus')", '#1 %(bits%): unknown securebit "bogus" ' ..
                                           '%(valid: noroot, noroot_locked,' },
      { "core.securebits('noroot\\0keep_caps')", "#1 %(bits%): string contains a NUL" },
      { "core.securebits(-1)", "#1 %(bits%): %-1 out of range" },
      { "core.securebits(1 << 32)", "#1 %(bits%): 4294967296 out of range" },
      { "core.securebits{true}", "#1 %(bits%): item 1: securebit name expected, got boolean" },
      { "core.securebits(true)", "#1 %(bits%): securebit names expected, got boolean" },
    }
    H.rejects(cases)
  end)
end)
