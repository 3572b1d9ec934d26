-- caps_get, caps_names, caps_set, caps_drop_bound, caps_clear_ambient,
-- caps_keep
local H = require "helper"

-- snippet prelude: the five sets of /proc/self/status (or of an exec'd
-- program's) as integers, and a list of names as a bit mask
local LIB = [[
  local function parse (text)
    local t = {}
    for k, v in text:gmatch("Cap(%a+):%s*(%x+)") do t[k] = tonumber(v, 16) end
    return t
  end
  local function status ()
    local f = assert(io.open("/proc/self/status"))
    local text = f:read("a") f:close()
    return parse(text)
  end
  local function exec_status ()               -- of an exec'd program
    local p = assert(io.popen("grep Cap /proc/self/status"))
    local text = p:read("a") p:close()
    return parse(text)
  end
  local function mask (list)
    local num, m = {}, 0
    for i, n in ipairs(core.caps_names()) do num[n] = i - 1 end
    for _, n in ipairs(list) do m = m | (1 << assert(num[n], n)) end
    return m
  end
  local function getmasks ()
    local g = assert(core.caps_get())
    return { Eff = mask(g.effective), Prm = mask(g.permitted),
             Inh = mask(g.inheritable), Bnd = mask(g.bounding),
             Amb = mask(g.ambient) }
  end
  -- a user namespace where we are `uid` (default 0) with every capability
  local function userns (uid)
    local ruid, rgid = select(2, core.getresuid()), select(2, core.getresgid())
    assert(core.unshare{"user"})
    assert(core.write_idmap(core.getpid(), "uid", {{uid or 0, ruid, 1}}))
    assert(core.write_idmap(core.getpid(), "gid", {{uid or 0, rgid, 1}}))
  end
  -- privileged: root as is, nobody in a user namespace
  local function privileged ()
    if MODE ~= "root" then userns() end
  end
]]

local function lua (mode, code)
  return H.lua(mode, LIB .. code)
end

local SETS = { "Eff", "Prm", "Inh", "Bnd", "Amb" }
local CHOWN, KILL = 1 << 0, 1 << 5
local NET_BIND, NET_ADMIN, NET_RAW = 1 << 10, 1 << 12, 1 << 13
local SYS_ADMIN, SYS_BOOT, SYS_TIME, MKNOD = 1 << 21, 1 << 22, 1 << 25, 1 << 27

describe("core capabilities", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("names every capability the kernel knows, by number", function()
        local names, last = lua(mode, [[
          local f = io.open("/proc/sys/kernel/cap_last_cap")
          local last = tonumber(f:read("l")) f:close()
          return core.caps_names(), last
        ]])
        assert.equal(last + 1, #names)
        assert.equal("chown", names[1])
        assert.equal("setpcap", names[9])
        assert.equal("net_bind_service", names[11])
        assert.equal("sys_admin", names[22])
        local seen = {}
        for _, n in ipairs(names) do
          assert.matches("^[a-z_]+$", n)
          assert.is_nil(n:match("^cap_"))
          assert.is_nil(seen[n])
          seen[n] = true
        end
      end)

      it("reads the five sets as /proc/self/status shows them", function()
        local got, st, text = lua(mode, [[
          privileged()
          return getmasks(), status(), core.caps_get().text
        ]])
        for _, s in ipairs(SETS) do assert.equal(st[s], got[s], s) end
        assert.is_true(got.Eff & SYS_ADMIN ~= 0)
        assert.equal(0, got.Amb)
        assert.matches("^=ep", text)
      end)

      if mode ~= "root" then
        it("reads empty sets of an unprivileged process", function()
          local got, st, text = lua(mode, [[
            return getmasks(), status(), core.caps_get().text
          ]])
          for _, s in ipairs(SETS) do assert.equal(st[s], got[s], s) end
          assert.equal(0, got.Eff)
          assert.equal(0, got.Prm)
          assert.is_true(got.Bnd ~= 0)
          assert.equal("=", text)
        end)
      end

      it("drops capabilities from the bounding set, by any spelling", function()
        local before, after, after2, got, child = lua(mode, [[
          privileged()
          local before = status()
          assert(core.caps_drop_bound{"sys_admin", "cap_net_raw", "CAP_MKNOD", 12})
          local after = status()
          assert(core.caps_drop_bound("sys_boot, cap_sys_time"))
          return before, after, status(), getmasks(), exec_status()
        ]])
        local gone = SYS_ADMIN | NET_RAW | MKNOD | NET_ADMIN
        assert.equal(before.Bnd & ~gone, after.Bnd)
        assert.equal(before.Eff, after.Eff)          -- only the bounding set
        assert.equal(before.Prm, after.Prm)
        gone = gone | SYS_BOOT | SYS_TIME
        assert.equal(before.Bnd & ~gone, after2.Bnd)
        assert.equal(after2.Bnd, got.Bnd)
        assert.equal(after2.Bnd, child.Bnd)           -- inherited by exec
      end)

      it("drops the whole bounding set with \"all\", twice", function()
        local st, again, child = lua(mode, [[
          privileged()
          assert(core.caps_drop_bound("all"))
          local st = status()
          return st, core.caps_drop_bound("all"), exec_status()
        ]])
        assert.equal(0, st.Bnd)
        assert.is_true(st.Eff ~= 0)
        assert.is_true(again)
        assert.equal(0, child.Bnd)
      end)

      it("reports a bounding drop without CAP_SETPCAP as EPERM", function()
        local ok, msg, errno, bnd, bnd2 = lua(mode, [[
          privileged()
          local text = core.caps_get().text
          assert(core.caps_set(text .. " cap_setpcap-ep"))
          local before = status().Bnd
          local ok, msg, errno = core.caps_drop_bound{"sys_admin", "chown"}
          return ok, msg, errno, before, status().Bnd
        ]])
        assert.is_nil(ok)
        assert.equal('caps_drop_bound("chown,sys_admin"): ' ..
                     'Operation not permitted (EPERM)', msg)
        assert.equal(1, errno)
        assert.equal(bnd, bnd2)
      end)

      it("sets the effective, permitted and inheritable sets from text", function()
        local st, got, ok, msg, errno, bnd = lua(mode, [[
          privileged()
          local bnd = status().Bnd
          assert(core.caps_set("cap_chown,cap_kill=ep cap_net_bind_service+i"))
          local st, got = status(), getmasks()
          local ok, msg, errno = core.caps_set("cap_sys_admin=ep")
          return st, got, ok, msg, errno, bnd
        ]])
        assert.equal(CHOWN | KILL, st.Eff)
        assert.equal(CHOWN | KILL, st.Prm)
        assert.equal(NET_BIND, st.Inh)
        assert.equal(bnd, st.Bnd)
        assert.equal(0, st.Amb)
        for _, s in ipairs(SETS) do assert.equal(st[s], got[s], s) end
        -- what is gone from the permitted set cannot come back
        assert.is_nil(ok)
        assert.equal('caps_set("cap_sys_admin=ep"): ' ..
                     'Operation not permitted (EPERM)', msg)
        assert.equal(1, errno)
      end)

      it("empties the three sets with caps_set(\"=\")", function()
        local st, text = lua(mode, [[
          privileged()
          assert(core.caps_set("="))
          return status(), core.caps_get().text
        ]])
        assert.equal(0, st.Eff | st.Prm | st.Inh)
        assert.is_true(st.Bnd ~= 0)
        assert.equal("=", text)
      end)

      if mode ~= "root" then
        it("cannot raise capabilities it lacks", function()
          local same, ok, msg, errno = lua(mode, [[
            local same = core.caps_set("=")
            return same, core.caps_set("cap_chown=ep")
          ]])
          assert.is_true(same)
          assert.is_nil(ok)
          assert.equal('caps_set("cap_chown=ep"): ' ..
                       'Operation not permitted (EPERM)', msg)
          assert.equal(1, errno)
        end)

        it("cannot drop from the bounding set without privilege", function()
          local ok, msg, errno, bnd, bnd2 = lua(mode, [[
            local before = status().Bnd
            local ok, msg, errno = core.caps_drop_bound("sys_admin")
            return ok, msg, errno, before, status().Bnd
          ]])
          assert.is_nil(ok)
          assert.equal('caps_drop_bound("sys_admin"): ' ..
                       'Operation not permitted (EPERM)', msg)
          assert.equal(1, errno)
          assert.equal(bnd, bnd2)
        end)

        it("clears an empty ambient set without privilege", function()
          assert.is_true(lua(mode, "return core.caps_clear_ambient()"))
        end)
      end

      it("clears the ambient set, keeping the others", function()
        local amb, st, again = lua(mode, [[
          privileged()
          assert(core.caps_keep{"chown", "kill"})
          local amb = status().Amb
          assert(core.caps_clear_ambient())
          local st = status()
          return amb, st, core.caps_clear_ambient()
        ]])
        assert.equal(CHOWN | KILL, amb)
        assert.equal(0, st.Amb)
        assert.equal(CHOWN | KILL, st.Eff)
        assert.equal(CHOWN | KILL, st.Prm)
        assert.is_true(again)
      end)

      it("empties all five sets with caps_keep{}, across exec too", function()
        local st, got, child, uid = lua(mode, [[
          privileged()
          assert(core.caps_keep{})
          return status(), core.caps_get(), exec_status(), core.getresuid()
        ]])
        assert.equal(0, uid)           -- even root gets nothing back on exec
        for _, s in ipairs(SETS) do
          assert.equal(0, st[s], s)
          assert.equal(0, child[s], s)
        end
        for _, k in ipairs{ "effective", "permitted", "inheritable",
                            "bounding", "ambient" } do
          assert.same({}, got[k], k)
        end
        assert.equal("=", got.text)
      end)

      it("keeps a capability across exec as a non-root uid", function()
        local uid, st, child, plain = lua(mode, [[
          userns(1000)
          -- without caps_keep, exec as a non-root uid drops everything
          local plain = exec_status()
          assert(core.caps_keep{"net_bind_service"})
          return core.getresuid(), status(), exec_status(), plain
        ]])
        assert.equal(1000, uid)
        assert.equal(0, plain.Eff)
        assert.equal(0, plain.Prm)
        for _, s in ipairs(SETS) do
          assert.equal(NET_BIND, st[s], s)
          assert.equal(NET_BIND, child[s], s)
        end
      end)

      it("keeps capabilities when only the permitted set is left", function()
        local eff, st, child = lua(mode, [[
          userns(1000)
          assert(core.caps_set("=p"))
          local eff = status().Eff
          assert(core.caps_keep("net_bind_service,cap_kill"))
          return eff, status(), exec_status()
        ]])
        assert.equal(0, eff)
        for _, s in ipairs(SETS) do
          assert.equal(NET_BIND | KILL, st[s], s)
          assert.equal(NET_BIND | KILL, child[s], s)
        end
      end)

      if mode == "root" then
        it("keeps capabilities after keepcaps and a change of uid", function()
          local uid, st, child = lua(mode, [[
            assert(core.keepcaps(true))
            assert(core.setresuid(1000, 1000, 1000))
            assert(core.caps_keep{"net_bind_service"})
            return core.getresuid(), status(), exec_status()
          ]])
          assert.equal(1000, uid)
          for _, s in ipairs(SETS) do
            assert.equal(NET_BIND, st[s], s)
            assert.equal(NET_BIND, child[s], s)
          end
        end)
      end

      it("cannot keep a capability that left the bounding set", function()
        local ok, msg, errno = lua(mode, [[
          privileged()
          assert(core.caps_drop_bound{"sys_admin"})
          return core.caps_keep{"chown", "sys_admin"}
        ]])
        assert.is_nil(ok)
        assert.equal('caps_keep("chown,sys_admin"): ' ..
                     'Operation not permitted (EPERM)', msg)
        assert.equal(1, errno)
      end)

      it("decodes every spelling of a capability to the same one", function()
        local msgs = lua(mode, [[
          privileged()
          assert(core.caps_set(core.caps_get().text .. " cap_setpcap-ep"))
          local r = {}
          for _, c in ipairs{ "sys_admin", "cap_sys_admin", "CAP_SYS_ADMIN",
                              "Cap_Sys_Admin", 21 } do
            r[#r + 1] = select(2, core.caps_drop_bound{c})
          end
          return r
        ]])
        assert.equal(5, #msgs)
        for _, m in ipairs(msgs) do
          assert.equal('caps_drop_bound("sys_admin"): ' ..
                       'Operation not permitted (EPERM)', m)
        end
      end)

      if mode ~= "root" then
        it("cannot keep capabilities without privilege", function()
          local ok, msg, errno = lua(mode, [[
            return core.caps_keep{"net_bind_service"}
          ]])
          assert.is_nil(ok)
          assert.equal('caps_keep("net_bind_service"): ' ..
                       'Operation not permitted (EPERM)', msg)
          assert.equal(1, errno)
        end)
      end
    end)
  end

  describe("bad input", function()
    local cases = {
      { "core.caps_drop_bound('sys_admn')",
        "caps_drop_bound: bad argument #1 %(caps%): unknown capability \"sys_admn\"" },
      { "core.caps_drop_bound{'chown', 'nope'}", "unknown capability \"nope\"" },
      { "core.caps_drop_bound('chown,,nope')", "unknown capability \"nope\"" },
      { "core.caps_drop_bound{''}", "unknown capability \"\"" },
      { "core.caps_drop_bound('cap_21')", "unknown capability \"cap_21\"" },
      { "core.caps_drop_bound('21')", "unknown capability \"21\"" },
      { "core.caps_drop_bound{'chown', true}", "#1 %(caps%): item 2: capability" },
      { "core.caps_drop_bound{-1}", "#1 %(caps%): item 1: capability" },
      { "core.caps_drop_bound{64}", "item 1: capability" },
      { "core.caps_drop_bound{#core.caps_names()}", "item 1: capability" },
      { "core.caps_drop_bound{1.5}", "item 1: capability" },
      { "core.caps_drop_bound(21)", "#1 %(caps%): capability list expected, got number" },
      { "core.caps_drop_bound()", "#1 %(caps%): capability list expected, got no value" },
      { "core.caps_drop_bound(nil)", "#1 %(caps%): capability list expected, got nil" },
      { "core.caps_drop_bound('sys_admin\\0x')", "#1 %(caps%): .*NUL" },
      { "core.caps_drop_bound('all\\0')", "#1 %(caps%): .*NUL" },
      { "core.caps_drop_bound{'sys_admin\\0x'}", "#1 %(caps%): .*\"sys_admin" },
      { "core.caps_keep()", "caps_keep: bad argument #1 %(caps%): capability list" },
      { "core.caps_keep('nope')", "caps_keep: bad argument #1 %(caps%): unknown" },
      { "core.caps_keep{false}", "caps_keep: bad argument #1 %(caps%): item 1" },
      { "core.caps_set()", "caps_set: bad argument #1 %(text%): string expected, got no value" },
      { "core.caps_set(42)", "#1 %(text%): string expected, got number" },
      { "core.caps_set{'chown'}", "#1 %(text%): string expected, got table" },
      { "core.caps_set('cap_chown=ep\\0')", "#1 %(text%): string contains a NUL" },
      { "core.caps_set('cap_bogus=ep')",
        "#1 %(text%): bad capability text \"cap_bogus=ep\"" },
      { "core.caps_set('cap_chown=q')", "#1 %(text%): bad capability text" },
    }
    H.rejects(cases)

  end)
end)
