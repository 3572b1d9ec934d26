-- setresuid, setresgid, setgroups, getresuid, getresgid, getgroups
-- luacheck: std +busted
local H = require "helper"

describe("core id primitives", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("reads back the ids /proc/self/status shows", function()
        local uids, gids, groups, suid, sgid, sgroups = H.lua(mode, [[
          local S = require "snip"
          return table.concat({core.getresuid()}, " "),
                 table.concat({core.getresgid()}, " "),
                 table.concat(core.getgroups(), " "),
                 S.status("Uid"), S.status("Gid"), S.status("Groups")
        ]])
        local id = mode == "root" and "0" or "65534"
        assert.equal(("%s %s %s"):format(id, id, id), uids)
        assert.equal(("%s %s %s"):format(id, id, id), gids)
        local function three (s)       -- real, effective, saved (not fs)
          return table.concat({ s:match("^(%d+)%s+(%d+)%s+(%d+)") }, " ")
        end
        assert.equal(uids, three(suid))
        assert.equal(gids, three(sgid))
        assert.equal(groups, (sgroups:gsub("%s+$", ""):gsub("%s+", " ")))
        if mode ~= "root" then assert.equal("", groups) end  -- setpriv cleared them
      end)

      it("reads a long group list on a small C stack", function()
        -- a lua5.4 limited to a 200 KB stack: the group list must not
        -- live on the C stack (it may hold 65536 gids)
        local out = H.lua(mode, [[
          local S = require "snip"
          return S.sh("ulimit -s 200 && lua5.4 -e 'package.cpath = \"" .. BUILD ..
                      "/?.so;\" .. package.cpath " ..
                      "print(#require(\"lunajail.core\").getgroups())' 2>&1; echo $?")
        ]])
        assert.matches("^%d+\n0$", out)
      end)

      it("maps to the one id of a user namespace and refuses others", function()
        local ok, uids, caps, u1, u1e, g1, gids = H.lua(mode, [[
          local S = require "snip"
          enter{"user"}
          local ok = core.setresuid(0, 0, 0)
          assert(core.setresgid(0, 0, 0))
          local _, u1, u1e = core.setresuid(1)
          local _, g1 = core.setresgid(0, 0, 1)
          return ok, S.status("Uid"), S.status("CapEff"), u1, u1e, g1, S.status("Gid")
        ]])
        assert.is_true(ok)
        assert.equal("0\t0\t0\t0", uids)
        assert.not_equal("0000000000000000", caps)   -- root of the namespace
        assert.equal("setresuid(1, 1, 1): Invalid argument (EINVAL)", u1)
        assert.equal(22, u1e)
        assert.equal("setresgid(0, 0, 1): Invalid argument (EINVAL)", g1)
        assert.equal("0\t0\t0\t0", gids)
      end)

      it("refuses setgroups in a user namespace that denies it", function()
        local ok, msg, errno = H.lua(mode, [[
          enter{"user"}      -- the gid map written from inside: setgroups deny
          return core.setgroups{0}
        ]])
        assert.is_nil(ok)
        assert.equal("setgroups({0}): Operation not permitted (EPERM)", msg)
        assert.equal(1, errno)
      end)
    end)
  end

  if H.root then
    describe("as root", function()
      it("sets the real, effective and saved uids, then cannot go back", function()
        local ids, status, eff, prm, perm, pstatus, ok, msg, errno = H.lua("root", [[
          local S = require "snip"
          assert(core.setresuid(1000, 1001, 1002))
          local ids = table.concat({core.getresuid()}, " ")
          local status = S.status("Uid")
          local eff, prm = S.status("CapEff"), S.status("CapPrm")
          -- unprivileged, the three may still be permuted
          local perm = core.setresuid(1002, 1000, 1001)
          local pstatus = S.status("Uid")
          return ids, status, eff, prm, perm, pstatus, core.setresuid(0)
        ]])
        assert.equal("1000 1001 1002", ids)
        assert.equal("1000\t1001\t1002\t1001", status)   -- fsuid follows euid
        assert.equal("0000000000000000", eff)
        assert.equal("0000000000000000", prm)
        assert.is_true(perm)
        assert.equal("1002\t1000\t1001\t1000", pstatus)
        assert.is_nil(ok)
        assert.equal("setresuid(0, 0, 0): Operation not permitted (EPERM)", msg)
        assert.equal(1, errno)
      end)

      it("defaults the effective and saved ids to the real one", function()
        local a, b, c, d = H.lua("root", [[
          local S = require "snip"
          assert(core.setresgid(4321))
          local a = S.status("Gid")
          assert(core.setresgid(2000, nil, 2002))
          local b = S.status("Gid")
          assert(core.setresuid(1234, nil, 1236))
          local c = S.status("Uid")
          assert(core.setresuid(1234))
          return a, b, c, S.status("Uid")
        ]])
        assert.equal("4321\t4321\t4321\t4321", a)
        assert.equal("2000\t2000\t2002\t2000", b)
        assert.equal("1234\t1234\t1236\t1234", c)
        assert.equal("1234\t1234\t1234\t1234", d)
      end)

      it("sets the gids and keeps root's capabilities", function()
        local status, ids, eff, again = H.lua("root", [[
          local S = require "snip"
          assert(core.setresgid(2000, 2001, 2002))
          return S.status("Gid"), table.concat({core.getresgid()}, " "),
                 S.status("CapEff"), core.setresgid(0)
        ]])
        assert.equal("2000\t2001\t2002\t2001", status)
        assert.equal("2000 2001 2002", ids)
        assert.not_equal("0000000000000000", eff)
        assert.is_true(again)
      end)

      it("takes the highest id, 4294967294", function()
        local uid, gid = H.lua("root", [[
          local S = require "snip"
          assert(core.setresgid(4294967294))
          assert(core.setresuid(4294967294))
          return S.status("Uid"), table.concat({core.getresgid()}, " ")
        ]])
        assert.equal("4294967294\t4294967294\t4294967294\t4294967294", uid)
        assert.equal("4294967294 4294967294 4294967294", gid)
      end)

      it("sets the supplementary groups, clears them, takes 65536", function()
        local got, status, empty, estatus, n, last = H.lua("root", [[
          local S = require "snip"
          assert(core.setgroups{3, 1, 2})
          local got = table.concat(core.getgroups(), " ")
          local status = S.status("Groups")
          assert(core.setgroups{})
          local empty = #core.getgroups()
          local estatus = S.status("Groups")
          local many = {}
          for i = 1, 65536 do many[i] = i end
          assert(core.setgroups(many))
          local g = core.getgroups()
          return got, status, empty, estatus, #g, g[#g]
        ]])
        assert.equal("1 2 3", got)                   -- the kernel sorts them
        assert.equal("1 2 3", (status:gsub("%s+$", "")))
        assert.equal(0, empty)
        assert.equal("", estatus)
        assert.equal(65536, n)
        assert.equal(65536, last)
      end)

      it("reports setgroups after giving up root, listing 8 gids at most", function()
        local ok, msg, errno = H.lua("root", [[
          assert(core.setresuid(1000))
          return core.setgroups{1, 2, 3, 4, 5, 6, 7, 8, 9}
        ]])
        assert.is_nil(ok)
        assert.equal("setgroups({1, 2, 3, 4, 5, 6, 7, 8, ...}): " ..
                     "Operation not permitted (EPERM)", msg)
        assert.equal(1, errno)
      end)
    end)

    describe("as nobody", function()
      it("cannot become root or change groups", function()
        local r = table.pack(H.lua("nobody", [[
          local add, results = require("snip").triples()
          add(core.setresuid(0))
          add(core.setresgid(65534, 0, 65534))
          add(core.setgroups{})
          add(core.setresuid(65534, 65534, 65534))   -- no change: allowed
          return results()
        ]]))
        assert.is_nil(r[1])
        assert.equal("setresuid(0, 0, 0): Operation not permitted (EPERM)", r[2])
        assert.equal(1, r[3])
        assert.is_nil(r[4])
        assert.equal("setresgid(65534, 0, 65534): Operation not permitted (EPERM)", r[5])
        assert.is_nil(r[7])
        assert.equal("setgroups({}): Operation not permitted (EPERM)", r[8])
        assert.is_true(r[10])
      end)
    end)
  end

  describe("bad input", function()
    local many = "(function () local t = {} for i = 1, 65537 do t[i] = i end " ..
                 "return t end)()"
    local cases = {
      { "core.setresuid()", "setresuid: bad argument #1 %(ruid%): " ..
                            "integer expected, got no value" },
      { "core.setresuid(nil)", "#1 %(ruid%): integer expected, got nil" },
      { "core.setresuid(-1)", "#1 %(ruid%): %-1 out of range %[0, 4294967294%]" },
      { "core.setresuid(4294967295)", "#1 %(ruid%): 4294967295 out of range" },
      { "core.setresuid(1 << 32)", "#1 %(ruid%): 4294967296 out of range" },
      { "core.setresuid(math.mininteger)", "#1 %(ruid%): .* out of range" },
      { "core.setresuid(2^63)", "#1 %(ruid%): number has no integer representation" },
      { "core.setresuid('nobody')", "#1 %(ruid%): integer expected, got string" },
      { "core.setresuid('0')", "#1 %(ruid%): integer expected, got string" },
      { "core.setresuid(1.5)", "#1 %(ruid%): number has no integer representation" },
      { "core.setresuid(0/0)", "#1 %(ruid%): number has no integer representation" },
      { "core.setresuid(true)", "#1 %(ruid%): integer expected, got boolean" },
      { "core.setresuid({})", "#1 %(ruid%): integer expected, got table" },
      { "core.setresuid(0, -1)", "#2 %(euid%): %-1 out of range" },
      { "core.setresuid(0, '0')", "#2 %(euid%): integer expected, got string" },
      { "core.setresuid(0, false)", "#2 %(euid%): integer expected, got boolean" },
      { "core.setresuid(0, 0, 4294967295)", "#3 %(suid%): 4294967295 out of range" },
      { "core.setresuid(0, 0, 'nobody')", "#3 %(suid%): integer expected, got string" },
      { "core.setresgid()", "setresgid: bad argument #1 %(rgid%): integer expected" },
      { "core.setresgid(-1)", "#1 %(rgid%): %-1 out of range %[0, 4294967294%]" },
      { "core.setresgid(4294967295)", "#1 %(rgid%): 4294967295 out of range" },
      { "core.setresgid('nogroup')", "#1 %(rgid%): integer expected, got string" },
      { "core.setresgid(0.5)", "#1 %(rgid%): number has no integer representation" },
      { "core.setresgid(0, -1)", "#2 %(egid%): %-1 out of range" },
      { "core.setresgid(0, 0, 4294967295)", "#3 %(sgid%): 4294967295 out of range" },
      { "core.setresgid(0, 0, true)", "#3 %(sgid%): integer expected, got boolean" },
      { "core.setgroups()", "setgroups: bad argument #1 %(groups%): " ..
                            "table expected, got no value" },
      { "core.setgroups(0)", "#1 %(groups%): table expected, got number" },
      { "core.setgroups('0,1')", "#1 %(groups%): table expected, got string" },
      { "core.setgroups{-1}", "#1 %(groups%): item 1: gid expected" },
      { "core.setgroups{4294967295}", "#1 %(groups%): item 1: gid expected" },
      { "core.setgroups{'0'}", "#1 %(groups%): item 1: gid expected" },
      { "core.setgroups{'nogroup'}", "#1 %(groups%): item 1: gid expected" },
      { "core.setgroups{1.5}", "#1 %(groups%): item 1: gid expected" },
      { "core.setgroups{0, true}", "#1 %(groups%): item 2: gid expected" },
      { "core.setgroups(" .. many .. ")", "#1 %(groups%): more than 65536 groups" },
    }
    for _, c in ipairs(cases) do
      it("rejects " .. (#c[1] > 70 and c[1]:sub(1, 67) .. "..." or c[1]), function()
        local err = H.raises(H.modes[1], "return " .. c[1])
        assert.matches(c[2], err)
      end)
    end
  end)
end)
