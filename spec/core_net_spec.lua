-- ifup
local H = require "helper"

local HAS_IP = select(2, H.sh("command -v ip >/dev/null 2>&1"))

-- snippet prelude: a new network namespace (root: as is; nobody: in a
-- user namespace), and the state of lo as `ip` and /proc see it
local LIB = [[
  local function newnet ()
    enter(MODE == "root" and {"net"} or {"user", "net"})
  end
  local function link ()
    local p = assert(io.popen("ip -o link show lo 2>&1"))
    local s = p:read("a") p:close()
    return s
  end
  local function inet6 ()                -- ::1 appears on lo when it is up
    local f = io.open("/proc/net/if_inet6")
    if not f then return nil end
    local s = f:read("a") f:close()
    return s:find("%f[%w]lo\n") ~= nil
  end
]]

local function lua (mode, code)
  return H.lua(mode, LIB .. code)
end

describe("core ifup", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("brings lo of a new network namespace up", function()
        if not HAS_IP then return H.skip("no ip (iproute2)") end
        local before, v6before, ok, after, v6after, again = lua(mode, [[
          newnet()
          local before, v6before = link(), inet6()
          local ok = core.ifup("lo")
          local after, v6after = link(), inet6()
          return before, v6before, ok, after, v6after, core.ifup("lo")
        ]])
        assert.matches("^1: lo: <LOOPBACK>", before)
        assert.matches("state DOWN", before)
        assert.is_true(ok)
        assert.matches("^1: lo: <LOOPBACK,UP,LOWER_UP>", after)
        assert.is_true(again)                   -- already up: fine
        if v6before ~= nil then
          assert.is_false(v6before)
          assert.is_true(v6after)
        end
      end)

      it("reports a missing interface as ENODEV", function()
        local r = lua(mode, [[
          newnet()
          return { table.pack(core.ifup("nonexistent0")),
                   table.pack(core.ifup("eth0")),
                   table.pack(core.ifup("abcdefghijklmno")) }   -- 15 bytes
        ]])
        assert.is_nil(r[1][1])
        assert.equal('ifup("nonexistent0"): No such device (ENODEV)', r[1][2])
        assert.equal(19, r[1][3])
        assert.equal('ifup("eth0"): No such device (ENODEV)', r[2][2])
        assert.equal('ifup("abcdefghijklmno"): No such device (ENODEV)', r[3][2])
      end)

      if mode ~= "root" then
        it("cannot change the host's interfaces: EPERM", function()
          local ok, msg, errno, ok2, msg2 = lua(mode, [[
            local ok, msg, errno = core.ifup("lo")
            enter{"user"}               -- capabilities, but not over this net
            return ok, msg, errno, core.ifup("lo")
          ]])
          assert.is_nil(ok)
          assert.equal('ifup("lo"): Operation not permitted (EPERM)', msg)
          assert.equal(1, errno)
          assert.is_nil(ok2)
          assert.equal('ifup("lo"): Operation not permitted (EPERM)', msg2)
        end)
      end
    end)
  end

  describe("bad input", function()
    local cases = {
      { "core.ifup()", "ifup: bad argument #1 %(name%): string expected, got no value" },
      { "core.ifup(1)", "#1 %(name%): string expected, got number" },
      { "core.ifup{'lo'}", "#1 %(name%): string expected, got table" },
      { "core.ifup('')", "#1 %(name%): interface name of 1 to 15 bytes expected" },
      { "core.ifup(string.rep('a', 16))", "#1 %(name%): interface name of 1 to 15 bytes" },
      { "core.ifup(string.rep('a', 4096))", "interface name of 1 to 15 bytes" },
      { "core.ifup('lo\\0')", "#1 %(name%): string contains a NUL byte" },
    }
    H.rejects(cases)
  end)
end)
