-- unshare, setns, sethostname, setdomainname, write_idmap, write_setgroups
-- and core.CLONE
-- luacheck: std +busted
local H = require "helper"

-- snippet code that enters namespaces: root needs no user namespace for
-- the privileged calls; uid 65534 gets one (mapped to 0 inside)
local function enter (mode, ...)
  local ns = { ... }
  if mode ~= "root" then table.insert(ns, 1, "user") end
  return 'enter{"' .. table.concat(ns, '", "') .. '"}\n'
end

local function hostname ()
  local f = assert(io.open("/proc/sys/kernel/hostname"))
  local s = f:read("l")
  f:close()
  return s
end

describe("core namespace primitives", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("unshares a UTS namespace and names the host and domain in it", function()
        if H.novalgrind("does not emulate setdomainname") then return end
        local host = hostname()
        local changed, uname, proc, domain = H.lua(mode, [[
          local S = require "snip"
          local before = S.ns("uts")
          ]] .. enter(mode, "uts") .. [[
          assert(core.sethostname("lj-host"))
          assert(core.setdomainname("lj.example"))
          return before ~= S.ns("uts"), S.sh("uname -n"),
                 S.read("/proc/sys/kernel/hostname"),
                 S.read("/proc/sys/kernel/domainname")
        ]])
        assert.is_true(changed)
        assert.equal("lj-host", uname)
        assert.equal("lj-host\n", proc)
        assert.equal("lj.example\n", domain)
        assert.equal(host, hostname())          -- the host's is untouched
      end)

      it("takes a host name of 64 bytes, the kernel's limit", function()
        if H.novalgrind("does not emulate setdomainname") then return end
        local name = H.lua(mode, enter(mode, "uts") .. [[
          assert(core.sethostname(("h"):rep(64)))
          assert(core.setdomainname(("d"):rep(64)))
          return io.popen("uname -n"):read("l")
        ]])
        assert.equal(("h"):rep(64), name)
      end)

      it("reports names set outside an owned UTS namespace", function()
        if H.novalgrind("does not emulate setdomainname") then return end
        -- in a new user namespace, the host's UTS namespace is not ours
        local ok, msg, errno, ok2, msg2 = H.lua(mode, [[
          enter{"user"}
          local ok, msg, errno = core.sethostname("x")
          return ok, msg, errno, core.setdomainname("y.example")
        ]])
        assert.is_nil(ok)
        assert.equal('sethostname("x"): Operation not permitted (EPERM)', msg)
        assert.equal(1, errno)
        assert.is_nil(ok2)
        assert.equal('setdomainname("y.example"): Operation not permitted (EPERM)',
                     msg2)
      end)

      if mode ~= "root" then
        it("refuses an unprivileged unshare and sethostname", function()
          local ok, msg, errno, ok2, msg2 = H.lua(mode, [[
            local ok, msg, errno = core.unshare{"uts", "net"}
            return ok, msg, errno, core.sethostname("x")
          ]])
          assert.is_nil(ok)
          assert.equal('unshare("net,uts"): Operation not permitted (EPERM)', msg)
          assert.equal(1, errno)
          assert.is_nil(ok2)
          assert.equal('sethostname("x"): Operation not permitted (EPERM)', msg2)
        end)
      end

      -- each kind, each spelling: a short name, the C name, the number
      local kinds = {
        { "mount", "CLONE_NEWNS", "mnt" }, { "net", "CLONE_NEWNET", "net" },
        { "ipc", "CLONE_NEWIPC", "ipc" }, { "uts", "CLONE_NEWUTS", "uts" },
        { "cgroup", "CLONE_NEWCGROUP", "cgroup" },
        { "pid", "CLONE_NEWPID", "pid_for_children" },
        { "time", "CLONE_NEWTIME", "time_for_children" },
      }
      for _, k in ipairs(kinds) do
        it("unshares a " .. k[1] .. " namespace by name, C name and number", function()
          local r = table.pack(H.lua(mode, [[
            local S = require "snip"
            ]] .. (mode == "root" and "" or 'enter{"user"}\n') .. [[
            local short, cname, link = ]] .. ("%q, %q, %q"):format(k[1], k[2], k[3]) .. [[

            local out = {}
            for i, how in ipairs{short, cname, core.CLONE[cname]} do
              local _, changed, msg = S.forked(function ()
                local before = S.ns(link)
                local ok, msg = core.unshare(how)
                return ok and before ~= S.ns(link), msg
              end)
              out[2 * i - 1], out[2 * i] = changed, msg
            end
            return table.unpack(out, 1, 6)
          ]]))
          if k[1] == "time" and r[2] and r[2]:find("EINVAL") then
            return H.skip("no time namespaces in this kernel: " .. r[2])
          end
          for i = 1, 5, 2 do assert.is_true(r[i], r[i + 1]) end
        end)
      end

      it("gives a new network namespace only a loopback", function()
        local devs = H.lua(mode, enter(mode, "net") .. [[
          local S = require "snip"
          local names = {}
          for name in S.read("/proc/self/net/dev"):gmatch("\n%s*([%w_.-]+):") do
            names[#names + 1] = name
          end
          return table.concat(names, ",")
        ]])
        assert.equal("lo", devs)
      end)

      it("creates a user namespace whose ids are unmapped until written", function()
        local before, map0, after, map, gmap, setgroups, caps = H.lua(mode, [[
          local S = require "snip"
          local uid = core.getresuid()
          local gid = core.getresgid()
          assert(core.unshare{"user"})
          local before = table.concat({core.getresuid()}, " ")
          local map0 = S.read("/proc/self/uid_map")
          assert(core.write_idmap(core.getpid(), "uid", {{0, uid, 1}}))
          assert(core.write_idmap(core.getpid(), "gid", {{0, gid, 1}}))
          return before, map0, table.concat({core.getresuid()}, " "),
                 S.read("/proc/self/uid_map"), S.read("/proc/self/gid_map"),
                 S.read("/proc/self/setgroups"), S.status("CapEff")
        ]])
        local id = mode == "root" and 0 or 65534
        assert.equal("65534 65534 65534", before)   -- the overflow uid
        assert.equal("", map0)
        assert.equal("0 0 0", after)
        assert.same({ "0", tostring(id), "1" }, { map:match("(%d+)%s+(%d+)%s+(%d+)") })
        assert.same({ "0", tostring(id), "1" }, { gmap:match("(%d+)%s+(%d+)%s+(%d+)") })
        -- written from inside, the gid map needs setgroups denied, even for
        -- root (no CAP_SETGID over the parent namespace): write_idmap did it
        assert.equal("deny\n", setgroups)
        assert.not_equal("0000000000000000", caps)
      end)

      it("writes the maps of another process's user namespace", function()
        local code, map, gmap, ids, setgroups = H.lua(mode, [[
          local S = require "snip"
          local uid, gid = core.getresuid(), core.getresgid()
          local mine = S.ns("user")
          local child = S.fork(function ()
            assert(core.unshare{"user"})
            S.waitfor(function () return core.getresgid() == 0 end, "the maps")
            return S.read("/proc/self/uid_map"), S.read("/proc/self/gid_map"),
                   table.concat({core.getresuid()}, " "),
                   S.read("/proc/self/setgroups")
          end)
          local path = "/proc/" .. child.pid .. "/ns/user"
          S.waitfor(function () return S.sh("readlink " .. path) ~= mine end,
                    "the child's user namespace")
          local umap, gmap = {{0, uid, 1}}, {{0, gid, 1}}
          if MODE == "root" then             -- root may map any ids outside
            umap = {{0, 0, 1}, {1, 100000, 1000}}
            gmap = {{0, 0, 1}, {1, 100000, 1000}}  -- and 338 more: the most
            for i = 3, 340 do gmap[i] = {2000 + i, 2000 + i, 1} end
          end
          assert(core.write_idmap(child.pid, "uid", umap))
          assert(core.write_idmap(child.pid, "gid", gmap))
          local st, m, g, ids, sg = child.wait()
          return st.code, m, g, ids, sg
        ]])
        assert.equal(0, code)
        assert.equal("0 0 0", ids)
        local function ranges (text)
          local r = {}
          for a, b, c in text:gmatch("(%d+)%s+(%d+)%s+(%d+)") do
            r[#r + 1] = a .. " " .. b .. " " .. c
          end
          return r
        end
        if mode == "root" then
          assert.same({ "0 0 1", "1 100000 1000" }, ranges(map))
          local g = ranges(gmap)
          assert.equal(340, #g)
          assert.same({ "0 0 1", "1 100000 1000", "2003 2003 1" }, { g[1], g[2], g[3] })
          assert.equal("2340 2340 1", g[340])
          assert.equal("allow\n", setgroups)
        else
          assert.same({ "0 65534 1" }, ranges(map))
          assert.same({ "0 65534 1" }, ranges(gmap))
          assert.equal("deny\n", setgroups)
        end
      end)

      it("reports a map the kernel refuses", function()
        local r = table.pack(H.lua(mode, [[
          local uid = core.getresuid()
          assert(core.unshare{"user"})
          local pid = core.getpid()
          local add, results = require("snip").triples()
          -- from inside, the kernel takes one id (the writer's own), no
          -- range that wraps past 2^32, and each map once
          add(core.write_idmap(pid, "uid", {{0, uid, 1}, {1, 100000, 10}}))
          add(core.write_idmap(pid, "uid", {{4294967294, uid, 2}}))
          add(core.write_idmap(pid, "uid", {{0, uid, 1}}))
          add(core.write_idmap(pid, "uid", {{0, uid, 1}}))
          return pid, results()
        ]]))
        local pid = r[1]
        local map = "write /proc/" .. pid .. "/uid_map: "
        assert.is_nil(r[2])
        assert.equal(map .. "Operation not permitted (EPERM)", r[3])
        assert.equal(1, r[4])
        assert.is_nil(r[5])
        assert.equal(map .. "Invalid argument (EINVAL)", r[6])
        assert.equal(22, r[7])
        assert.is_true(r[8])                   -- the right map, once
        assert.is_nil(r[11])
        assert.equal(map .. "Operation not permitted (EPERM)", r[12])
        assert.equal(1, r[13])
      end)

      it("writes setgroups, and refuses allow once denied", function()
        local allow, deny, file, ok, msg, errno, pid = H.lua(mode, [[
          local S = require "snip"
          assert(core.unshare{"user"})
          local pid = core.getpid()
          local allow = core.write_setgroups(pid, "allow")  -- already so
          local deny = core.write_setgroups(pid, "deny")
          local file = S.read("/proc/self/setgroups")
          local ok, msg, errno = core.write_setgroups(pid, "allow")
          return allow, deny, file, ok, msg, errno, pid
        ]])
        assert.is_true(allow)
        assert.is_true(deny)
        assert.equal("deny\n", file)
        assert.is_nil(ok)
        assert.equal("write /proc/" .. pid .. "/setgroups: Operation not permitted (EPERM)",
                     msg)
        assert.equal(1, errno)
      end)

      it("denies setgroups(2) inside once setgroups says deny", function()
        local ok, msg = H.lua(mode, [[
          local uid, gid = core.getresuid(), core.getresgid()
          assert(core.unshare{"user"})
          assert(core.write_setgroups(core.getpid(), "deny"))
          assert(core.write_idmap(core.getpid(), "uid", {{0, uid, 1}}))
          assert(core.write_idmap(core.getpid(), "gid", {{0, gid, 1}}))
          return core.setgroups{}
        ]])
        assert.is_nil(ok)
        assert.equal("setgroups({}): Operation not permitted (EPERM)", msg)
      end)

      it("reports a process that does not exist", function()
        local ok, msg, errno, ok2, msg2 = H.lua(mode, [[
          local ok, msg, errno = core.write_idmap(2147483647, "gid", {{0, 0, 1}})
          return ok, msg, errno, core.write_setgroups(2147483647, "deny")
        ]])
        assert.is_nil(ok)
        assert.equal("write /proc/2147483647/gid_map: No such file or directory (ENOENT)",
                     msg)
        assert.equal(2, errno)
        assert.is_nil(ok2)
        assert.equal("write /proc/2147483647/setgroups: " ..
                     "No such file or directory (ENOENT)", msg2)
      end)

      it("joins a namespace by path and by fd with setns", function()
        local code, first, by_path, by_fd, any = H.lua(mode, enter(mode, "uts") .. [[
          local S = require "snip"
          assert(core.sethostname("lj-outer"))
          local outer = "/proc/" .. core.getpid() .. "/ns/uts"
          local st, a, b, c, d = S.forked(function ()
            local function uname () return S.sh("uname -n") end
            assert(core.unshare{"uts"})
            assert(core.sethostname("lj-inner"))
            local first = uname()
            assert(core.setns(outer, "uts"))
            local by_path = uname()
            -- by fd: a file open on the outer namespace, found in
            -- /proc/PID/fd (Lua's files do not tell their fd)
            local f = assert(io.open(outer))
            local listing = S.sh("ls -l /proc/" .. core.getpid() .. "/fd")
            local fd
            for n, target in listing:gmatch(" (%d+) %-> ([^\n]*)") do
              if target:match("^uts:") then fd = tonumber(n) end
            end
            assert(fd, listing)
            assert(core.unshare{"uts"})
            assert(core.sethostname("lj-inner2"))
            assert(core.setns(fd, "uts"))
            local by_fd = uname()
            f:close()
            assert(core.unshare{"uts"})
            assert(core.sethostname("lj-inner3"))
            assert(core.setns(outer))           -- nstype omitted: any type
            return first, by_path, by_fd, uname()
          end)
          return st.code, a, b, c, d
        ]])
        assert.equal(0, code)
        assert.equal("lj-inner", first)
        assert.equal("lj-outer", by_path)
        assert.equal("lj-outer", by_fd)
        assert.equal("lj-outer", any)
      end)

      it("reports setns failures with the path or fd", function()
        local r = table.pack(H.lua(mode, [[
          local add, results = require("snip").triples()
          add(core.setns("/nonexistent/ns", "uts"))
          add(core.setns("/proc/self/ns/uts", "net"))   -- not a net ns
          add(core.setns(0, "uts"))                     -- not a ns at all
          add(core.setns(999))
          return results()
        ]]))
        assert.is_nil(r[1])
        assert.equal('setns("/nonexistent/ns", "uts"): No such file or directory (ENOENT)',
                     r[2])
        assert.equal(2, r[3])
        assert.is_nil(r[4])
        assert.equal('setns("/proc/self/ns/uts", "net"): Invalid argument (EINVAL)', r[5])
        assert.equal(22, r[6])
        assert.is_nil(r[7])
        assert.equal('setns(fd 0, "uts"): Invalid argument (EINVAL)', r[8])
        assert.is_nil(r[10])
        assert.equal("setns(fd 999): Bad file descriptor (EBADF)", r[11])
        assert.equal(9, r[12])
      end)

      if mode == "root" then
        it("returns to the host's UTS namespace with setns", function()
          local host = hostname()
          local inner, back = H.lua(mode, [[
            local S = require "snip"
            local host = "/proc/" .. core.getppid() .. "/ns/uts"
            assert(S.ns("uts") == S.sh("readlink " .. host))
            assert(core.unshare{"uts"})
            assert(core.sethostname("lj-inner"))
            local inner = S.sh("uname -n")
            assert(core.setns(host, "uts"))
            return inner, S.sh("uname -n")
          ]])
          assert.equal("lj-inner", inner)
          assert.equal(host, back)
        end)
      else
        it("may not join a namespace it has no rights in", function()
          local ok, msg, errno, ok2, msg2 = H.lua(mode, [[
            local ok, msg, errno = core.setns("/proc/self/ns/net", "net")
            local host = "/proc/" .. core.getppid() .. "/ns/uts"
            local ok2, msg2 = core.setns(host, "uts")
            return ok, msg, errno, ok2, msg2 and msg2:gsub("%d+", "PID")
          ]])
          assert.is_nil(ok)
          assert.equal('setns("/proc/self/ns/net", "net"): Operation not permitted (EPERM)',
                       msg)
          assert.equal(1, errno)
          assert.is_nil(ok2)
          -- the root-owned parent's /proc files cannot even be opened
          assert.equal('setns("/proc/PID/ns/uts", "uts"): Permission denied (EACCES)', msg2)
        end)
      end
    end)
  end

  it("core.CLONE maps the C names to flags and back", function()
    local t = H.lua(H.modes[1], "return core.CLONE")
    local want = {
      CLONE_NEWUSER = 0x10000000, CLONE_NEWPID = 0x20000000,
      CLONE_NEWNS = 0x00020000, CLONE_NEWNET = 0x40000000,
      CLONE_NEWUTS = 0x04000000, CLONE_NEWIPC = 0x08000000,
      CLONE_NEWCGROUP = 0x02000000, CLONE_NEWTIME = 0x00000080,
    }
    local expected = {}
    for k, v in pairs(want) do
      expected[k] = v
      expected[v] = k
    end
    assert.same(expected, t)
  end)

  describe("bad input", function()
    local maps = "{" .. ("{0, 0, 1},"):rep(341) .. "}"
    -- 340 ranges of big ids: over a page of text, which the kernel refuses
    local big = "(function () local t = {} for i = 1, 340 do " ..
                "t[i] = {4000000000 + i, 4000000000 + i, 1} end return t end)()"
    local cases = {
      { "core.unshare()", "unshare: bad argument #1 %(namespaces%): no namespace named" },
      { "core.unshare{}", "#1 %(namespaces%): no namespace named" },
      { "core.unshare(0)", "#1 %(namespaces%): no namespace named" },
      { "core.unshare{'users'}", 'unknown namespace "users" %(valid: user, pid, ' ..
                                 'mount, net, uts, ipc, cgroup, time%)' },
      { "core.unshare('user,mnt')", 'unknown namespace "mnt"' },
      { "core.unshare('CLONE_NEWMOUNT')", 'unknown namespace "CLONE_NEWMOUNT"' },
      { "core.unshare('user\\0net')", "#1 %(namespaces%): .*NUL" },
      { "core.unshare(true)", "#1 %(namespaces%): namespace names expected, got boolean" },
      { "core.unshare(-1)", "#1 %(namespaces%): %-1 out of range" },
      { "core.unshare(2^32)", "#1 %(namespaces%): 4294967296 out of range" },
      { "core.unshare(1 << 32)", "#1 %(namespaces%): 4294967296 out of range" },
      { "core.unshare(1.5)", "#1 %(namespaces%): number has no integer representation" },
      { "core.unshare{'user', 1.5}", "item 2: namespace name expected, got number" },
      { "core.unshare{'user', true}", "item 2: namespace name expected, got boolean" },
      { "core.unshare{-1}", "item 1: namespace name expected, got number" },
      { "core.unshare{1 << 40}", "#1 %(namespaces%): item 1: .*out of range" },
      { "core.setns()", "setns: bad argument #1 %(path_or_fd%): " ..
                        "path or fd expected, got no value" },
      { "core.setns(true, 'uts')", "#1 %(path_or_fd%): path or fd expected, got boolean" },
      { "core.setns({}, 'uts')", "#1 %(path_or_fd%): path or fd expected, got table" },
      { "core.setns('', 'uts')", "#1 %(path_or_fd%): empty path" },
      { "core.setns('/proc/self/ns/uts\\0x', 'uts')", "#1 %(path_or_fd%): .*NUL" },
      { "core.setns(-1, 'uts')", "#1 %(path_or_fd%): %-1 out of range" },
      { "core.setns(1.5, 'uts')", "#1 %(path_or_fd%): number has no integer" },
      { "core.setns('/proc/self/ns/uts', 'utz')", '#2 %(nstype%): unknown namespace "utz"' },
      { "core.setns('/proc/self/ns/uts', -2)", "#2 %(nstype%): %-2 out of range" },
      { "core.setns('/proc/self/ns/uts', false)", "#2 %(nstype%): namespace names expected" },
      { "core.sethostname()", "sethostname: bad argument #1 %(name%): " ..
                              "string expected, got no value" },
      { "core.sethostname(42)", "#1 %(name%): string expected, got number" },
      { "core.sethostname(('x'):rep(65))", "#1 %(name%): longer than 64 bytes" },
      { "core.sethostname('a\\0b')", "#1 %(name%): string contains a NUL byte" },
      { "core.setdomainname(nil)", "setdomainname: bad argument #1 %(name%): string expected" },
      { "core.setdomainname(('x'):rep(65))", "#1 %(name%): longer than 64 bytes" },
      { "core.setdomainname('a\\0b')", "#1 %(name%): string contains a NUL byte" },
      { "core.write_idmap()", "write_idmap: bad argument #1 %(pid%): " ..
                              "integer expected, got no value" },
      { "core.write_idmap(0, 'uid', {{0, 0, 1}})", "#1 %(pid%): 0 out of range" },
      { "core.write_idmap(-1, 'uid', {{0, 0, 1}})", "#1 %(pid%): %-1 out of range" },
      { "core.write_idmap(1 << 31, 'uid', {{0, 0, 1}})", "#1 %(pid%): 2147483648 out of range" },
      { "core.write_idmap('1', 'uid', {{0, 0, 1}})", "#1 %(pid%): integer expected, got string" },
      { "core.write_idmap(1.5, 'uid', {{0, 0, 1}})", "#1 %(pid%): number has no integer" },
      { "core.write_idmap(2147483647, 'user', {{0, 0, 1}})",
        '#2 %(kind%): "uid" or "gid" expected' },
      { "core.write_idmap(2147483647, 'UID', {{0, 0, 1}})", '#2 %(kind%): "uid" or "gid"' },
      { "core.write_idmap(2147483647, nil, {{0, 0, 1}})", "#2 %(kind%): string expected, got nil" },
      { "core.write_idmap(2147483647, 'uid\\0', {{0, 0, 1}})", "#2 %(kind%): .*NUL" },
      { "core.write_idmap(2147483647, 'uid')", "#3 %(maps%): table expected, got no value" },
      { "core.write_idmap(2147483647, 'uid', '0 0 1')", "#3 %(maps%): table expected, got string" },
      { "core.write_idmap(2147483647, 'uid', {})", "#3 %(maps%): 1 to 340 ranges expected" },
      { "core.write_idmap(2147483647, 'uid', " .. maps .. ")", "1 to 340 ranges expected" },
      { "core.write_idmap(2147483647, 'uid', {0, 0, 1})", "#3 %(maps%): range 1: " ..
                                                          "{inside, outside, count} expected" },
      { "core.write_idmap(2147483647, 'uid', {{0, 0}})", "range 1: {inside, outside, count}" },
      { "core.write_idmap(2147483647, 'uid', {{0, 0, 0}})", "range 1: {inside, outside, count}" },
      { "core.write_idmap(2147483647, 'uid', {{-1, 0, 1}})", "range 1: {inside, outside, count}" },
      { "core.write_idmap(2147483647, 'uid', {{0, 4294967295, 1}})", "#3 %(maps%): range 1" },
      { "core.write_idmap(2147483647, 'uid', {{0, '0', 1}})", "#3 %(maps%): range 1" },
      { "core.write_idmap(2147483647, 'uid', {{0, 'nobody', 1}})", "#3 %(maps%): range 1" },
      { "core.write_idmap(2147483647, 'uid', {{0, 0.5, 1}})", "#3 %(maps%): range 1" },
      { "core.write_idmap(2147483647, 'uid', {{0, 0, 1}, 'x'})", "#3 %(maps%): range 2" },
      { "core.write_setgroups()", "write_setgroups: bad argument #1 %(pid%): integer expected" },
      { "core.write_setgroups(0, 'deny')", "#1 %(pid%): 0 out of range" },
      { "core.write_setgroups('1', 'deny')", "#1 %(pid%): integer expected, got string" },
      { "core.write_setgroups(2147483647, 'maybe')", '#2 %(value%): "deny" or "allow" expected' },
      { "core.write_setgroups(2147483647, 'Deny')", '#2 %(value%): "deny" or "allow" expected' },
      { "core.write_setgroups(2147483647, true)", "#2 %(value%): string expected, got boolean" },
      { "core.write_setgroups(2147483647)", "#2 %(value%): string expected, got no value" },
      { "core.write_setgroups(2147483647, 'deny\\0')", "#2 %(value%): .*NUL" },
    }
    if tonumber((H.sh("getconf PAGESIZE"))) <= 8160 then   -- 4 KB pages
      cases[#cases + 1] = { "core.write_idmap(2147483647, 'uid', " .. big .. ")",
                            "#3 %(maps%): 340 ranges make 8160 bytes, a page or more" }
    end
    for _, c in ipairs(cases) do
      it("rejects " .. (#c[1] > 70 and c[1]:sub(1, 67) .. "..." or c[1]), function()
        -- inside fresh namespaces: a call that wrongly got through could
        -- only change the snippet's own
        local err = H.raises(H.modes[1], enter(H.modes[1], "uts", "net") ..
                             "return " .. c[1])
        assert.matches(c[2], err)
      end)
    end
  end)
end)
