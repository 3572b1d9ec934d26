-- setrlimit, getrlimit and core.RLIMIT
-- luacheck: std +busted
local H = require "helper"

-- the rows of /proc/self/limits, by short resource name
local rows = {
  cpu = "Max cpu time", fsize = "Max file size", data = "Max data size",
  stack = "Max stack size", core = "Max core file size",
  rss = "Max resident set", nproc = "Max processes", nofile = "Max open files",
  memlock = "Max locked memory", as = "Max address space",
  locks = "Max file locks", sigpending = "Max pending signals",
  msgqueue = "Max msgqueue size", nice = "Max nice priority",
  rtprio = "Max realtime priority", rttime = "Max realtime timeout",
}

-- snippet code: limits(row) -> soft, hard as /proc/self/limits says
local LIMITS = [[
  local S = require "snip"
  local function limits (row)
    for l in S.read("/proc/self/limits"):gmatch("[^\n]+") do
      if l:sub(1, #row) == row and l:sub(#row + 1, #row + 1) == " " then
        return l:sub(#row + 1):match("^%s+(%S+)%s+(%S+)")
      end
    end
  end
]]

describe("core rlimit primitives", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("sets soft and hard limits, seen by /proc/self/limits and a shell", function()
        if H.novalgrind("refuses setrlimit(RLIMIT_NOFILE) to the programs it runs") then return end
        local soft, hard, ps, ph, sh = H.lua(mode, LIMITS .. [[
          assert(core.setrlimit("nofile", 64, 128))
          local soft, hard = core.getrlimit("nofile")
          local ps, ph = limits("Max open files")
          return soft, hard, ps, ph, S.sh("ulimit -n; ulimit -Hn")
        ]])
        assert.equal(64, soft)
        assert.equal(128, hard)
        assert.equal("64", ps)
        assert.equal("128", ph)
        assert.equal("64\n128", sh)
      end)

      it("sets the hard limit to the soft one when it is omitted", function()
        if H.novalgrind("refuses setrlimit(RLIMIT_NOFILE) to the programs it runs") then return end
        local soft, hard = H.lua(mode, [[
          assert(core.setrlimit("nofile", 100))
          return core.getrlimit("nofile")
        ]])
        assert.equal(100, soft)
        assert.equal(100, hard)
      end)

      it("takes a resource by short name, C name and number", function()
        if H.novalgrind("refuses setrlimit(RLIMIT_NOFILE) to the programs it runs") then return end
        local a, b, c = H.lua(mode, LIMITS .. [[
          local out = {}
          for i, r in ipairs{"nofile", "RLIMIT_NOFILE", core.RLIMIT.RLIMIT_NOFILE} do
            assert(core.setrlimit(r, 100 - i, 100))
            out[i] = limits("Max open files")
          end
          return table.unpack(out)
        ]])
        assert.equal("99", a)
        assert.equal("98", b)
        assert.equal("97", c)
      end)

      it("enforces the limit: no more files than nofile", function()
        if H.novalgrind("refuses setrlimit(RLIMIT_NOFILE) to the programs it runs") then return end
        local code, opened, err = H.lua(mode, [[
          local S = require "snip"
          local st, opened, err = S.forked(function ()
            assert(core.setrlimit("nofile", 16))
            local files, err = {}, nil
            for _ = 1, 20 do
              local f, e = io.open("/dev/null")
              if not f then err = e break end
              files[#files + 1] = f
            end
            return #files, err
          end)
          return st.code, opened, err
        ]])
        assert.equal(0, code)
        assert.is_true(opened < 16)
        assert.equal("/dev/null: Too many open files", err)
      end)

      it("enforces the limit: SIGXFSZ past fsize", function()
        local signame, size = H.lua(mode, [[
          local S = require "snip"
          local name = os.tmpname()
          local st = S.forked(function ()
            assert(core.setrlimit("fsize", 10))
            local f = assert(io.open(name, "w"))
            f:write(("x"):rep(100))
            f:close()
          end)
          local size = #assert(S.read(name))
          os.remove(name)
          return st.signame, size
        ]])
        assert.equal("SIGXFSZ", signame)
        assert.equal(10, size)
      end)

      it("takes infinity as a string and as math.huge", function()
        local r = table.pack(H.lua(mode, LIMITS .. [[
          local _, hard = core.getrlimit("fsize")
          if hard ~= "infinity" then return "skip" end
          assert(core.setrlimit("fsize", 1000, "infinity"))
          local a, b = core.getrlimit("fsize")
          local pa, pb = limits("Max file size")
          assert(core.setrlimit("fsize", math.huge, math.huge))
          local c, d = core.getrlimit("fsize")
          local pc, pd = limits("Max file size")
          assert(core.setrlimit("fsize", math.maxinteger, "infinity"))
          return a, b, pa, pb, c, d, pc, pd, core.getrlimit("fsize")
        ]]))
        if r[1] == "skip" then
          return H.skip("the hard file size limit is not unlimited here")
        end
        assert.same({ 1000, "infinity", "1000", "unlimited", "infinity", "infinity",
                      "unlimited", "unlimited", math.maxinteger, "infinity", n = 10 }, r)
      end)

      it("raises a soft limit up to the hard one, not the hard one itself", function()
        if H.novalgrind("refuses setrlimit(RLIMIT_NOFILE) to the programs it runs") then return end
        local up, ok, msg, errno, cap, soft, hard = H.lua(mode, [[
          local S = require "snip"
          ]] .. (mode == "root" and "" or 'enter{"user"}\n') .. [[
          -- even in a user namespace: CAP_SYS_RESOURCE of the host counts
          local cap = (tonumber(S.status("CapEff"), 16) >> 24) & 1 == 1
          if MODE ~= "root" then cap = false end
          assert(core.setrlimit("nofile", 64, 128))
          local up = core.setrlimit("nofile", 128, 128)
          local ok, msg, errno = core.setrlimit("nofile", 64, 256)
          return up, ok, msg, errno, cap, core.getrlimit("nofile")
        ]])
        assert.is_true(up)
        if cap then                           -- root with CAP_SYS_RESOURCE
          assert.is_true(ok)
          assert.equal(64, soft)
          assert.equal(256, hard)
        else
          assert.is_nil(ok)
          assert.equal('setrlimit("nofile", 64, 256): Operation not permitted (EPERM)',
                       msg)
          assert.equal(1, errno)
          assert.equal(128, soft)
          assert.equal(128, hard)
        end
      end)

      it("reports a soft limit above the hard one", function()
        local ok, msg, errno, ok2, msg2 = H.lua(mode, [[
          local ok, msg, errno = core.setrlimit("nofile", 200, 100)
          return ok, msg, errno, core.setrlimit("fsize", "infinity", 100)
        ]])
        assert.is_nil(ok)
        assert.equal('setrlimit("nofile", 200, 100): Invalid argument (EINVAL)', msg)
        assert.equal(22, errno)
        assert.is_nil(ok2)
        assert.equal('setrlimit("fsize", "infinity", 100): Invalid argument (EINVAL)', msg2)
      end)

      it("reads every resource as /proc/self/limits shows it", function()
        if H.novalgrind("refuses setrlimit(RLIMIT_NOFILE) to the programs it runs") then return end
        local parts = {}
        for k, v in pairs(rows) do parts[#parts + 1] = ("[%q] = %q"):format(k, v) end
        local got = H.lua(mode, LIMITS .. "local rows = {" .. table.concat(parts, ", ") ..
                          "}\n" .. [[
          local out = {}
          for name, row in pairs(rows) do
            local s, h = core.getrlimit(name)
            local ps, ph = limits(row)
            out[name] = { s, h, ps, ph }
          end
          return out
        ]])
        local n = 0
        for name, r in pairs(got) do
          n = n + 1
          local function proc (v) return v == "infinity" and "unlimited" or tostring(v) end
          assert.equal(r[3], proc(r[1]), name)
          assert.equal(r[4], proc(r[2]), name)
        end
        assert.equal(16, n)
      end)

      it("reads a limit above 2^63 set by another tool as a number", function()
        if not os.execute("command -v prlimit >/dev/null") then
          return H.skip("no prlimit(1) here")
        end
        local soft, hard = H.lua(mode, [[
          assert(os.execute("prlimit --pid " .. core.getpid() ..
                            " --cpu=18446744073709551614:unlimited"))
          return core.getrlimit("cpu")
        ]])
        assert.equal("number", type(soft))
        assert.equal(18446744073709551614.0, soft)
        assert.equal("infinity", hard)
      end)
    end)
  end

  it("core.RLIMIT maps the C names to resources and back", function()
    local t = H.lua(H.modes[1], "return core.RLIMIT")
    local n = 0
    for k, v in pairs(t) do
      if type(k) == "string" then
        n = n + 1
        assert.matches("^RLIMIT_[A-Z]+$", k)
        assert.equal(k, t[v])
        assert.is_not_nil(rows[k:sub(8):lower()], k)
      end
    end
    assert.equal(16, n)
    -- the same numbers on every Linux architecture
    assert.equal(0, t.RLIMIT_CPU)
    assert.equal(1, t.RLIMIT_FSIZE)
    assert.equal(2, t.RLIMIT_DATA)
    assert.equal(3, t.RLIMIT_STACK)
    assert.equal(4, t.RLIMIT_CORE)
  end)

  describe("bad input", function()
    local valid = "as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, " ..
                  "nproc, rss, rtprio, rttime, sigpending, stack"
    local cases = {
      { "core.setrlimit()", "setrlimit: bad argument #1 %(resource%): " ..
                            "resource name or integer expected, got no value" },
      { "core.setrlimit('files', 1)", '#1 %(resource%): unknown resource "files" %(valid: ' ..
                                      valid:gsub("%p", "%%%0") .. "%)" },
      { "core.setrlimit('nofile\\0', 1)", "#1 %(resource%): string contains a NUL byte" },
      { "core.setrlimit(16, 1)", "#1 %(resource%): no such resource" },
      { "core.setrlimit(-1, 1)", "#1 %(resource%): %-1 out of range %[0, 2147483647%]" },
      { "core.setrlimit(1.5, 1)", "#1 %(resource%): number has no integer representation" },
      { "core.setrlimit(true, 1)", "#1 %(resource%): resource name or integer expected, " ..
                                   "got boolean" },
      { "core.setrlimit('nofile')", "#2 %(soft%): integer expected, got no value" },
      { "core.setrlimit('nofile', -1)", "#2 %(soft%): %-1 out of range " ..
                                        "%[0, 9223372036854775807%]" },
      { "core.setrlimit('nofile', 'unlimited')", '#2 %(soft%): limit or "infinity" ' ..
                                                 'expected, got "unlimited"' },
      { "core.setrlimit('nofile', '10')", '#2 %(soft%): limit or "infinity" expected, got "10"' },
      { "core.setrlimit('nofile', 'infinity\\0x')", "#2 %(soft%): string contains a NUL" },
      { "core.setrlimit('nofile', 'INFINITY')", '#2 %(soft%): limit or "infinity" expected' },
      { "core.setrlimit('nofile', 1.5)", "#2 %(soft%): number has no integer representation" },
      { "core.setrlimit('nofile', -math.huge)", "#2 %(soft%): number has no integer" },
      { "core.setrlimit('nofile', 0/0)", "#2 %(soft%): number has no integer" },
      { "core.setrlimit('nofile', 2^63)", "#2 %(soft%): number has no integer" },
      { "core.setrlimit('nofile', true)", "#2 %(soft%): integer expected, got boolean" },
      { "core.setrlimit('nofile', 1, -1)", "#3 %(hard%): %-1 out of range" },
      { "core.setrlimit('nofile', 1, 'none')", '#3 %(hard%): limit or "infinity" expected' },
      { "core.setrlimit('nofile', 1, false)", "#3 %(hard%): integer expected, got boolean" },
      { "core.setrlimit('nofile', 1, 1.5)", "#3 %(hard%): number has no integer" },
      { "core.getrlimit()", "getrlimit: bad argument #1 %(resource%): " ..
                            "resource name or integer expected, got no value" },
      { "core.getrlimit('files')", '#1 %(resource%): unknown resource "files"' },
      { "core.getrlimit(16)", "getrlimit: bad argument #1 %(resource%): no such resource" },
      { "core.getrlimit(-1)", "#1 %(resource%): %-1 out of range" },
      { "core.getrlimit(true)", "#1 %(resource%): resource name or integer expected" },
      { "core.getrlimit('nofile\\0')", "#1 %(resource%): string contains a NUL byte" },
    }
    H.rejects(cases)
  end)
end)
