-- networking: net = "host", veth, pods (share), Landlock TCP rules, the
-- netlink ops, pasta's command line, bad input.
--
-- Every snippet first enters an outer network namespace of its own (lo up,
-- and a veth pair ext0/ext1 with nothing behind it, 192.0.2.1/24 on ext0
-- and a default route to 192.0.2.254 through it): no spec ever touches
-- the host's network.  As uid 65534 that namespace comes with a user
-- namespace of its own in which the snippet stays uid 65534 (lunajail
-- then takes the unprivileged path).  Every request is bounded: one
-- connection, timeouts of a few seconds.
local H = require "helper"

local LIB = [[
  local S = require "snip"
  local _, socket = pcall(require, "socket")
  local function outer ()
    if MODE == "root" then assert(core.unshare{"net"})
    else
      local uid, gid = select(2, core.getresuid()), select(2, core.getresgid())
      assert(core.unshare{"user", "net"})
      assert(core.write_idmap(core.getpid(), "uid", {{uid, uid, 1}}))
      assert(core.write_idmap(core.getpid(), "gid", {{gid, gid, 1}}))
    end
    assert(core.ifup("lo"))
    assert(core.veth("ext0", "ext1"))
    assert(core.addr_add("ext0", "192.0.2.1/24"))
    assert(core.ifup("ext0"))
    assert(core.ifup("ext1"))
    assert(core.route_add("default", "192.0.2.254", "ext0"))
  end
  -- a listening socket of the snippet's (backlog: connects complete
  -- without an accept)
  local function listen (host, port)
    local s = assert(socket.bind(host, port, 8))
    s:settimeout(10)
    return s
  end
  -- what a sandboxed client does: connect to host:port, send a token
  local function client (host, port, token)
    return { "/usr/bin/lua5.4", "-e", ([=[
      local s = require "socket"
      local c = s.tcp()
      c:settimeout(5)
      local ok, e = c:connect(%q, %d)
      if not ok then print("err " .. e) os.exit(0) end
      c:send(%q .. "\n")
      c:close()
      print("connected")
    ]=]):format(host, port, token or "token") }
  end
  -- a sandboxed server: listen on host:port, say "ready", print one line
  local function server (host, port)
    return { "/usr/bin/lua5.4", "-e", ([=[
      local s = require "socket"
      local l = assert(s.bind(%q, %d))
      l:settimeout(20)
      io.stdout:write("ready\n") io.stdout:flush()
      local c = l:accept()
      if not c then print("no connection") os.exit(0) end
      c:settimeout(5)
      print("got " .. tostring(c:receive("*l")))
    ]=]):format(host, port) }
  end
  -- the first line a connection to l sends, or the error of the accept
  local function accept (l)
    local c, e = l:accept()
    if not c then return e end
    c:settimeout(5)
    local line = c:receive("*l")
    c:close()
    return line
  end
  local function out (r)
    assert(r, "run failed")
    return (r.stdout:gsub("\n$", ""))
  end
  -- the interfaces of this network namespace
  local function links ()
    local names = {}
    for l in io.lines("/proc/self/net/dev") do
      local n = l:match("^%s*([^:%s]+):")
      if n then names[n] = true end
    end
    return names
  end
]]

local function lua (mode, code)
  return H.lua(mode, LIB .. code)
end

local ABI = H.lua(H.modes[1], "return core.landlock_abi() or 0")
local SOCKET = H.lua(H.modes[1], "return (pcall(require, 'socket'))")

-- the servers and clients are lua5.4 with LuaSocket, here and inside
local function sockets ()
  if SOCKET then return false end
  H.skip("no LuaSocket for lua5.4 (Debian's lua-socket)")
  return true
end

describe("networking", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()

      it("net = \"host\" drops the preset's net namespace; localhost resolves", function()
        if sockets() then return end
        local r = lua(mode, [[
          outer()
          local l = listen("127.0.0.1", 18301)
          local host = lj.container{ argv = client("127.0.0.1", 18301, "from-host"),
                                     net = "host" }
          local plan = host:steps()
          local got = out(lj.run(host, { timeout = 30 }))
          local line = accept(l)
          local none = out(lj.run(lj.container{ argv = client("127.0.0.1", 18301) },
                                  { timeout = 30 }))
          local names = out(lj.run(lj.container{ argv = {"/bin/sh", "-c",
            "getent hosts localhost; test -f /etc/resolv.conf && echo resolv"},
            net = "host" }, { timeout = 30 }))
          local nonames = lj.run(lj.container{ argv = {"/usr/bin/getent", "hosts",
                                                       "localhost"} }, { timeout = 30 })
          return { ns = table.concat(plan.namespaces, ","), got = got, line = line,
                   none = none, names = names, nonames = nonames.code }
        ]])
        assert.is_nil(r.ns:find("net"))
        assert.equal("connected", r.got)
        assert.equal("from-host", r.line)          -- the outer loopback's server
        assert.equal("err connection refused", r.none)   -- a loopback of its own
        assert.matches("^127%.0%.0%.1%s+localhost", r.names)
        assert.matches("\nresolv$", r.names)
        assert.equal(2, r.nonames)                 -- no /etc/hosts without the binds
      end)

      it("binds resolv.conf through its symlink into /run, by the path it leads to", function()
        local r = lua(mode, [[
          outer()
          assert(core.unshare{"mount"})
          assert(core.mount(nil, "/", nil, {"rec", "private"}))
          local hosts = assert(S.read("/etc/hosts"))
          local nss = assert(S.read("/etc/nsswitch.conf"))
          assert(core.mount("tmpfs", "/etc", "tmpfs", nil, "size=64k"))
          assert(core.mount("tmpfs", "/run", "tmpfs", nil, "size=64k"))
          assert(core.mkdir_p("/run/resolve"))
          assert(core.write_file("/run/resolve/stub-resolv.conf", "nameserver 192.0.2.53\n"))
          assert(core.write_file("/etc/hosts", hosts))
          assert(core.write_file("/etc/nsswitch.conf", nss))
          assert(core.symlink("../run/resolve/stub-resolv.conf", "/etc/resolv.conf"))
          local r = lj.container{ argv = {"/bin/sh", "-c",
            "cat /etc/resolv.conf; test -L /etc/resolv.conf || echo file"}, net = "host" }
          local explain = r:explain()
          return { out = out(lj.run(r, { timeout = 30 })),
                   why = explain:match("/etc/resolv.conf %(([^)]*)%)"),
                   old = select(2, pcall(function ()
                     return lj.container{ argv = {"x"}, mounts = {{"ro-bind",
                       "/etc/resolv.conf"}} }:steps() end)) }
        ]])
        assert.equal("nameserver 192.0.2.53\nfile", r.out)
        assert.equal("/run/resolve/stub-resolv.conf", r.why)
        assert.matches("passes through the symlink", r.old)    -- a plain bind refuses it
      end)

      it("refuses veth and pods unprivileged, or with a user namespace", function()
        local r = lua(mode, [[
          local function err (t)
            local ok, e = pcall(function () return lj.container(t):steps() end)
            return not ok and e or "no error"
          end
          local veth = { argv = {"x"}, net = { veth = { address = "10.200.0.2/30" } } }
          local c = assert(lj.spawn(lj.empty{ argv = {"/bin/sleep", "30"} }))
          local share = { argv = {"x"}, net = { share = c } }
          local userns = { namespaces = {"user"} }
          local r = { veth = err(veth), share = err(share),
                      veth_user = err(lj.recipe(veth):with(userns)),
                      share_user = err(lj.recipe(share):with(userns)) }
          c:kill("SIGKILL") c:wait() c:close()
          return r
        ]])
        if mode == "root" then
          assert.equal("no error", r.veth)
          assert.equal("no error", r.share)
          assert.matches("net%.veth .* needs a sandbox without a user namespace", r.veth_user)
          assert.matches("net%.share .* needs a sandbox without a user namespace", r.share_user)
        else
          for _, e in ipairs { r.veth, r.veth_user } do
            assert.matches("net%.veth %(a veth pair into the host's network namespace%) " ..
                           "needs root; an unprivileged sandbox gets a network of its own " ..
                           "through pasta: net = {pasta = {...}}", e)
          end
          assert.matches("net%.share %(a pod.*%) needs root", r.share)
          assert.matches("net%.share %(a pod.*%) needs root", r.share_user)
        end
      end)

      it("refuses a TCP connect to a port Landlock does not list", function()
        if sockets() then return end
        if H.novalgrind("lacks the Landlock system calls") then return end
        local code = [[
          local ports = { 18311, 18312 }
          local probe = ([=[
            local s = require "socket"
            local a = assert(s.bind("127.0.0.1", 18311))
            local b = assert(s.bind("127.0.0.1", 18312))
            local r = {}
            for _, p in ipairs { 18311, 18312 } do
              local c = s.tcp()
              c:settimeout(5)
              local ok, e = c:connect("127.0.0.1", p)
              r[#r + 1] = p .. "=" .. (ok and "ok" or e)
            end
            print(table.concat(r, " "))
          ]=])
          local function run (landlock)
            return out(lj.run(lj.container{ argv = {"/usr/bin/lua5.4", "-e", probe},
                                            landlock = landlock }, { timeout = 30 }))
          end
          local ok, err = pcall(run, { tcp_connect = { ports[1] } })
          return { without = run(nil), with = ok and run({ tcp_connect = { ports[1] } }),
                   err = not ok and err or nil,
                   bindonly = ok and run({ tcp_bind = ports }) }
        ]]
        local r = lua(mode, "outer()\n" .. code)
        assert.equal("18311=ok 18312=ok", r.without)           -- the attempt works
        if ABI >= 4 then
          assert.equal("18311=ok 18312=permission denied", r.with)   -- EACCES
          assert.equal("18311=ok 18312=ok", r.bindonly)   -- connect not handled
        else
          assert.matches("landlock%.tcp_connect needs Landlock ABI 4", r.err)
        end
      end)
    end)
  end

  describe("veth", function()
    it("reaches a sandbox at its address, and nothing else from inside unless routed", function()
      if sockets() then return end
      if not H.root then return H.skip("veth needs root") end
      local r = lua("root", [[
        outer()
        local any = listen("0.0.0.0", 18321)        -- on ext0's 192.0.2.1 too
        local veth = { address = "10.200.0.2/30", host_address = "10.200.0.1/30",
                       host_name = "ljvspec" }
        local c = assert(lj.spawn(lj.container{ argv = server("0.0.0.0", 18322),
                                                net = { veth = veth } }))
        local ready = c:read_line("stdout", 30)
        local up = links().ljvspec
        local conn = socket.tcp()
        conn:settimeout(5)
        local ok, e = conn:connect("10.200.0.2", 18322)
        if ok then conn:send("through-the-pair\n") end
        conn:close()
        local served = c:read_line("stdout", 30)
        c:wait(30)
        c:close()
        -- the pair goes with the sandbox's namespace (the kernel frees it
        -- a moment after the reap)
        S.waitfor(function () return not links().ljvspec end, "the host end to go")
        local function try (v, host)
          return out(lj.run(lj.container{ argv = client(host, 18321, "inside"),
                                          net = { veth = v } }, { timeout = 30 }))
        end
        local default = { address = "10.200.0.6/30", host_address = "10.200.0.5/30" }
        local unrouted = try(default, "192.0.2.1")
        local ownlo = try(default, "127.0.0.1")
        local routed = try({ address = "10.200.0.10/30", host_address = "10.200.0.9/30",
                             gateway = "10.200.0.9" }, "192.0.2.1")
        return { ready = ready, up = up, ok = ok or e, served = served,
                 unrouted = unrouted, ownlo = ownlo, routed = routed,
                 line = accept(any) }
      ]])
      assert.equal("ready", r.ready)
      assert.is_true(r.up)
      assert.equal(1, r.ok)
      assert.equal("got through-the-pair", r.served)
      assert.equal("err Network is unreachable", r.unrouted)   -- no route out of the pair
      assert.equal("err connection refused", r.ownlo)       -- its own lo
      assert.equal("connected", r.routed)
      assert.equal("inside", r.line)
    end)

    it("names the host end after its namespace by default, and explains the step", function()
      if not H.root then return H.skip("veth needs root") end
      local r = lua("root", [[
        outer()
        local rec = lj.container{ argv = {"/bin/true"},
                                  net = { veth = { address = {"10.200.0.2/30", "fd02::2/64"},
                                                   host_address = "10.200.0.1/30" } } }
        local plan = rec:steps()
        local before = links()
        local c = assert(lj.spawn(rec))
        local new
        for n in pairs(links()) do if not before[n] then new = n end end
        c:wait(30)
        c:close()
        return { first = plan.steps[1][1], ns = table.concat(plan.namespaces, ","),
                 new = new, explain = rec:explain():match("\n%s+1%s+([^\n]*)") }
      ]])
      assert.equal("unshare_veth", r.first)
      assert.is_nil(r.ns:find("net"))             -- the step makes it
      if r.new then assert.matches("^ljv%x+$", r.new) end    -- unless already gone
      assert.matches("unshare_veth%(", r.explain)
      assert.matches("veth pair", r.explain)
    end)
  end)

  describe("pods", function()
    it("puts two sandboxes on one lo; a third with net = \"none\" cannot reach them", function()
      if sockets() then return end
      if not H.root then return H.skip("pods need root") end
      local r = lua("root", [[
        outer()
        local first = assert(lj.spawn(lj.container{ argv = server("127.0.0.1", 18331) }))
        local ready = first:read_line("stdout", 30)
        local member = out(lj.run(lj.container{ argv = client("127.0.0.1", 18331, "pod"),
                                                net = { share = first } }, { timeout = 30 }))
        local served = first:read_line("stdout", 30)
        first:wait(30)
        local second = assert(lj.spawn(lj.container{ argv = server("127.0.0.1", 18332) }))
        second:read_line("stdout", 30)
        local stranger = out(lj.run(lj.container{ argv = client("127.0.0.1", 18332) },
                                    { timeout = 30 }))
        local outside = socket.tcp()
        outside:settimeout(5)
        local ok, e = outside:connect("127.0.0.1", 18332)
        outside:close()
        second:kill("SIGKILL") second:wait(30) second:close()
        local dead = select(2, pcall(function ()
          return lj.container{ argv = {"x"}, net = { share = first } }:steps() end))
        first:close()
        local closed = select(2, pcall(function ()
          return lj.container{ argv = {"x"}, net = { share = first } }:steps() end))
        return { ready = ready, member = member, served = served, stranger = stranger,
                 outside = ok and "connected" or e, dead = dead, closed = closed }
      ]])
      assert.equal("ready", r.ready)
      assert.equal("connected", r.member)
      assert.equal("got pod", r.served)
      assert.equal("err connection refused", r.stranger)
      assert.equal("connection refused", r.outside)       -- nor the outer namespace
      assert.matches("net%.share: the child lunajail%.Child %(pid %d+, exited 0%) has " ..
                     "exited: no network namespace to join", r.dead)
      assert.matches("net%.share: the child .* is closed", r.closed)
    end)
  end)

  describe("netlink ops", function()
    for _, mode in ipairs(H.modes) do
      it("make a veth pair into another namespace, addresses and routes as " .. mode,
         function()
        local r = lua(mode, [[
          outer()
          -- a process left in the outer namespace, to name it by
          local keep = assert(lj.spawn(lj.empty{ argv = {"/bin/sleep", "60"} }))
          local there = "/proc/" .. keep.pid .. "/ns/net"
          local function try (f, ...)
            local ok, msg = f(...)
            return ok or msg
          end
          assert(core.unshare{"net"})                           -- a second namespace
          -- held open: it outlives our leaving it (a namespace with no
          -- process and no fd is freed, and its veth ends with it)
          local hold = assert(io.open("/proc/thread-self/ns/net"))
          local r = {
            try(core.veth, "inner0", "outer0", there),
            try(core.addr_add, "inner0", "10.201.0.1/24"),
            try(core.addr_add, "inner0", "fd03::1/64"),
            try(core.ifup, "inner0"),
            try(core.route_add, "10.202.0.0/16", "10.201.0.254"),
            try(core.route_add, "default", "fd03::fe", "inner0"),
            try(core.route_add, "198.51.100.0/24", nil, "inner0"),
            try(core.addr_add, "inner0", "10.201.0.1/24"),         -- again: EEXIST
            try(core.veth, "inner0", "other0"),                    -- again: EEXIST
            try(core.route_add, "default", "10.9.9.9"),            -- not reachable
            try(core.link_del, "nonexistent0"),
          }
          r.mine = links()
          r.routes = S.read("/proc/self/net/route")
          r.v6 = S.read("/proc/self/net/if_inet6")
          assert(core.setns(there, "net"))
          r.theirs = links()
          r.del = try(core.link_del, "outer0")                    -- both ends go
          r.after = links()
          keep:kill("SIGKILL") keep:wait(30) keep:close()
          hold:close()
          return r
        ]])
        for i = 1, 7 do assert.is_true(r[i], tostring(r[i])) end
        assert.equal('addr_add("inner0", "10.201.0.1/24"): File exists (EEXIST)', r[8])
        assert.equal('veth("inner0", "other0"): File exists (EEXIST)', r[9])
        assert.equal('route_add("default", "10.9.9.9"): Network is unreachable (ENETUNREACH)',
                     r[10])
        assert.equal('link_del("nonexistent0"): No such device (ENODEV)', r[11])
        assert.is_true(r.del)
        assert.is_true(r.mine.inner0)
        assert.is_nil(r.mine.outer0)
        assert.is_true(r.theirs.outer0)
        assert.is_nil(r.after.outer0)
        assert.matches("inner0%s+0000CA0A%s+FE00C90A", r.routes)   -- 10.202/16 via .254
        assert.matches("inner0%s+006433C6%s+00000000", r.routes)   -- on-link
        assert.matches("fd030000000000000000000000000001 %x+ 40 00 8%x%s+inner0", r.v6)
      end)
    end

    it("make a sandbox's namespace with unshare_veth as a direct call", function()
      if not H.root then return H.skip("unshare_veth needs root") end
      local r = lua("root", [[
        outer()
        local hold = assert(io.open("/proc/thread-self/ns/net"))   -- the outer one stays
        local before = S.ns("net")
        local ok, msg = core.unshare_veth{ name = "ljvcall", address = "10.203.0.2/30",
                                           host_address = "10.203.0.1/30",
                                           gateway = "10.203.0.1" }
        local r = { ok = ok or msg, moved = S.ns("net") ~= before, links = links(),
                    routes = S.read("/proc/self/net/route") }
        hold:close()
        return r
      ]])
      assert.is_true(r.ok)
      assert.is_true(r.moved)
      assert.is_true(r.links.eth0)
      assert.is_true(r.links.lo)
      assert.is_nil(r.links.ljvcall)                  -- the other end stayed behind
      assert.matches("eth0%s+00000000%s+0100CB0A", r.routes)   -- default via 10.203.0.1
    end)
  end)

  describe("pasta's command line", function()
    it("forwards only what is listed, named by fds, as root and unprivileged", function()
      local r = H.lua(H.modes[1], [[
        local pasta = require "lunajail.pasta"
        local cfg = pasta.check({ tcp = { [8080] = 80, 8443, ["9000-9009"] = 9100 },
                                  udp = { 5353 }, host_loopback = true }, "net.pasta")
        return { root = table.concat(pasta.argv(cfg, { path = "/usr/bin/pasta",
                   netns = "/proc/self/fd/5", root = true, pidfile = "/proc/self/fd/6" }), " "),
                 user = table.concat(pasta.argv(pasta.check({ ipv6 = false }, "p"),
                   { path = "/usr/bin/pasta", pid = 42, user = true }), " ") }
      ]])
      assert.equal("/usr/bin/pasta -f -q --config-net --netns /proc/self/fd/5 --runas 0:0 " ..
                   "-t 8080:80,8443,9000-9009:9100-9109 -u 5353 -T none -U none " ..
                   "-P /proc/self/fd/6", r.root)
      assert.equal("/usr/bin/pasta -f -q --config-net --netns /proc/42/ns/net " ..
                   "--userns /proc/42/ns/user -t none -u none -T none -U none " ..
                   "--no-map-gw -4", r.user)
    end)

    -- lj.spawn starts pasta for net = {pasta = ...}: the payload's first
    -- instruction finds the network made (its connect and its listen work
    -- at once), a forward in, the gateway mapping out, pasta gone with the
    -- sandbox, and pasta's own failure (a forwarded port already taken)
    -- the spawn's error.  Unprivileged, pasta needs a /dev/net/tun it may
    -- open: the snippet, still root, makes one (mode 0666) on a tmpfs in a
    -- mount namespace of its own, then drops to uid 65534; the host's node
    -- is never touched.
    local TUN = [[
      if AS == "nobody" then
        assert(core.unshare{"mount"})
        assert(core.mount(nil, "/", nil, {"rec", "private"}))
        assert(core.mount("tmpfs", "/dev/net", "tmpfs", nil, "mode=0755,size=4k"))
        assert(os.execute("mknod -m 0666 /dev/net/tun c 10 200"))
        assert(core.setgroups{})
        assert(core.setresgid(65534))
        assert(core.setresuid(65534))
        assert(core.dumpable(true))          -- the id change cleared it: our maps
        MODE = "nobody"
      end
      outer()
      -- pasta processes whose parent is this one
      local function pastas ()
        local n = 0
        for pid in io.popen("ls /proc"):lines() do
          local f = pid:match("^%d+$") and io.open("/proc/" .. pid .. "/stat")
          local st = f and f:read("l")
          if f then f:close() end
          local comm, ppid = (st or ""):match("^%d+ %((%S+)%) %S+ (%d+)")
          -- Debian's pasta runs as passt.avx2 where the CPU has AVX2
          if comm and comm:match("^pas[st][ta]") and ppid == tostring(core.getpid()) then
            n = n + 1
          end
        end
        return n
      end
    ]]
    for _, mode in ipairs(H.modes) do
      it("lj.spawn starts pasta before the payload and stops it with the sandbox as " .. mode,
         function()
        if sockets() then return end
        if not H.lua(H.modes[1], "return (pcall(require('lunajail.pasta').find))") then
          return H.skip("no pasta (Debian's passt)")
        end
        if mode == "user" then return H.skip("a tun node needs root to make") end
        local r = lua("root", ("local AS = %q\n"):format(mode) .. TUN .. [[
          local l = listen("127.0.0.1", 18402)
          local probe = ([=[
            local s = require "socket"
            local o = s.tcp()
            o:settimeout(5)
            local ok, e = o:connect("192.0.2.254", 18402)   -- the gateway: our loopback
            if ok then o:send("out\n") o:close() end
            local l = assert(s.bind("0.0.0.0", 18401))
            l:settimeout(20)
            io.stdout:write(ok and "connected\n" or "err " .. e .. "\n") io.stdout:flush()
            local c = l:accept()
            print("got " .. tostring(c and c:receive("*l")))
          ]=])
          local c, err = lj.spawn(lj.container{ argv = {"/usr/bin/lua5.4", "-e", probe},
            net = { pasta = { tcp = { [28401] = 18401 }, host_loopback = true } } })
          if not c then return { err = tostring(err) } end
          local during = pastas()
          local out = c:read_line("stdout", 30)
          local line = accept(l)
          local conn = socket.tcp()
          conn:settimeout(5)
          local ok, e = conn:connect("127.0.0.1", 28401)
          if ok then conn:send("in\n") end
          conn:close()
          local got = c:read_line("stdout", 30)
          local st = c:wait(30)
          c:close()
          local t0 = core.monotonic()
          while pastas() > 0 and core.monotonic() - t0 < 5 do core.reap() core.poll({}, 0.02) end
          -- a forward whose host port is taken: pasta cannot bind it
          local taken = listen("127.0.0.1", 28403)
          local c2, err2 = lj.spawn(lj.container{ argv = {"true"},
            net = { pasta = { tcp = { [28403] = 80 } } } })
          taken:close()
          if c2 then c2:close() end
          return { during = during, out = out, line = line, ok = ok or e, got = got,
                   code = st and st.code, after = pastas(), c2 = c2 ~= nil,
                   op = type(err2) == "table" and err2.op, field = type(err2) == "table"
                   and err2.field, msg = tostring(err2) }
        ]])
        assert.is_nil(r.err)
        assert.equal(1, r.during)                    -- pasta runs beside the sandbox
        assert.equal("connected", r.out)             -- its first connect: the network is made
        assert.equal("out", r.line)                  -- the gateway mapping, out
        assert.equal(1, r.ok)
        assert.equal("got in", r.got)                -- the forward, host -> sandbox
        assert.equal(0, r.code)
        assert.equal(0, r.after)                     -- pasta is gone with the sandbox
        assert.is_false(r.c2)
        assert.equal("pasta", r.op, r.msg)
        assert.equal("net.pasta", r.field)
        assert.matches("step 0 pasta: exited %(code %d+%)", r.msg)
      end)
    end
  end)

  describe("bad input", function()
    local V = "net = { veth = { address = '10.200.0.2/30', "
    local cases = {
      { "lj.container{ net = { bridge = {} } }",
        "recipe%.net: unknown key bridge %(valid: veth, share, pasta: one of them%)" },
      { "lj.container{ net = {} }", "recipe%.net: empty table" },
      { "lj.container{ net = 'loopback' }", "recipe%.net: \"none\"" },
      { "lj.container{ net = { veth = {}, pasta = {} } }",
        "recipe%.net: one of veth, share and pasta: not both pasta and veth" },
      { "lj.container{ net = { veth = {} } }",
        "recipe%.net%.veth%.address: the sandbox's address" },
      { "lj.container{ net = { veth = { address = '10.0.0.300/24' } } }",
        "recipe%.net%.veth%.address: an IPv4 or IPv6 address expected, got \"10%.0%.0%.300/24\"" },
      { "lj.container{ net = { veth = { address = '10.0.0.2' } } }",
        "recipe%.net%.veth%.address: \"10%.0%.0%.2\" has no prefix length %(\"10%.0%.0%.2/24\"%)" },
      { "lj.container{ net = { veth = { address = '10.0.0.2/33' } } }",
        "recipe%.net%.veth%.address: an IPv4 prefix is 0 to 32" },
      { "lj.container{ net = { veth = { address = 'fd00::2/129' } } }",
        "an IPv6 prefix is 0 to 128" },
      { "lj.container{ net = { veth = { address = '10.0.0.2/2x' } } }",
        "a prefix length expected after '/'" },
      { "lj.container{ net = { veth = { address = {'10.0.0.2/24', 5} } } }",
        "recipe%.net%.veth%.address: address string expected, got number" },
      { "lj.container{ " .. V .. "host_address = '10.200.0.1' } } }",
        "recipe%.net%.veth%.host_address: \"10%.200%.0%.1\" has no prefix length" },
      { "lj.container{ " .. V .. "host_name = 'a-very-long-name' } } }",
        "recipe%.net%.veth%.host_name: interface name of 1 to 15 bytes expected" },
      { "lj.container{ " .. V .. "name = 'eth/0' } } }",
        "recipe%.net%.veth%.name: no interface name" },
      { "lj.container{ " .. V .. "gateway = '10.200.0.1/30' } } }",
        "recipe%.net%.veth%.gateway: a plain address expected" },
      { "lj.container{ " .. V .. "gateway = 'fd00::1' } } }",
        "recipe%.net%.veth%.gateway: no address of its family %(IPv6%)" },
      { "lj.container{ " .. V .. "colour = 'red' } } }",
        "recipe%.net%.veth: unknown key colour %(valid: address, gateway, host_address, " ..
        "host_name, name%)" },
      { "lj.container{ net = { share = 5 } }",
        "recipe%.net%.share: a child object %(what lunajail%.spawn returns%) expected, " ..
        "got number" },
      { "lj.container{ net = { pasta = { tcp = { [70000] = 80 } } } }",
        "recipe%.net%.pasta%.tcp%[70000%]: host port 70000 out of range %[1, 65535%]" },
      { "lj.container{ net = { pasta = { tcp = { [8080] = 0 } } } }",
        "recipe%.net%.pasta%.tcp%[8080%]: sandbox port 0 out of range" },
      { "lj.container{ net = { pasta = { udp = { '53' } } } }",
        "recipe%.net%.pasta%.udp%[1%]: host port .* got \"53\" %(give a port as a number%)" },
      { "lj.container{ net = { pasta = { tcp = { 8080, [8080] = 80 } } } }",
        "recipe%.net%.pasta%.tcp: host ports 8080 and 8080 overlap" },
      { "lj.container{ net = { pasta = { tcp = { ['8000-8010'] = 9000, 8005 } } } }",
        "recipe%.net%.pasta%.tcp: host ports 8000%-8010 and 8005 overlap" },
      { "lj.container{ net = { pasta = { tcp = { ['8000-8010'] = '9000-9005' } } } }",
        "8000%-8010 and 9000%-9005 are not of the same length" },
      { "lj.container{ net = { pasta = { tcp = { ['10-5'] = 80 } } } }",
        "host ports \"10%-5\" out of %[1, 65535%] or backwards" },
      { "lj.container{ net = { pasta = { colour = 1 } } }",
        "recipe%.net%.pasta: unknown key colour %(valid: host_loopback, ipv6, tcp, " ..
        "tcp_host, udp, udp_host%)" },
      { "lj.container{ net = { pasta = { host_loopback = 1 } } }",
        "recipe%.net%.pasta%.host_loopback: true or false expected, got number" },
      { "require('lunajail.pasta').find('/nonexistent:/also-not')",
        "net%.pasta: no pasta on PATH %(/nonexistent:/also%-not%): install Debian's passt" },
      { "lj.container{ landlock = { tcp_connect = { 70000 } } }",
        "recipe%.landlock%.tcp_connect%[1%]: a port from 0 to 65535 expected, got 70000" },
      { "lj.container{ landlock = { tcp_bind = 53 } }",
        "recipe%.landlock%.tcp_bind: list expected, got number" },
      { "lj.container{ landlock = { colour = 1 } }",
        "recipe%.landlock: unknown key colour %(valid: own, tcp_bind, tcp_connect" },
      { "lj.container{ landlock = { own = 1 } }", "recipe%.landlock%.own: true or false" },
      { "lj.empty{ namespaces = {'net'}, net = 'host' }:steps()",
        "net = \"host\" and the net namespace contradict each other: it is the host's " ..
        "network %(remove \"net\" from namespaces%)" },
      { "core.addr_add('lo', '10.0.0.1')",
        "addr_add: bad argument #2 %(address%): address: \"10%.0%.0%.1\" has no prefix" },
      { "core.addr_add('lo', 'localhost/8')", "an IPv4 or IPv6 address expected" },
      { "core.addr_add('', '10.0.0.1/8')",
        "#1 %(name%): interface name of 1 to 15 bytes expected" },
      { "core.route_add('10.0.0.1/8', '10.0.0.254')",
        "#1 %(destination%): destination: \"10%.0%.0%.1/8\" has bits set past its prefix" },
      { "core.route_add('default')", "#3 %(name%): a route with no gateway needs the interface" },
      { "core.route_add('default', nil, 'eth0')", "a default route needs a gateway" },
      { "core.route_add('10.0.0.0/8', 'fd00::1')",
        "#2 %(gateway%): gateway: \"fd00::1\" is not of the destination's family" },
      { "core.veth('a', 'a')", "#2 %(peer%): the peer needs a name of its own" },
      { "core.veth('a', 'b', 'relative')", "#3 %(netns%): absolute path expected" },
      { "core.unshare_veth{ colour = 1 }", "unknown key colour" },
      { "core.unshare_veth{ name = 'x', peer = 'x' }", "name and peer are the same" },
      { "core.netns_join('x', 1)", "#1 %(pidfd%): integer expected, got string" },
      { "core.netns_join(3, 0)", "#2 %(pid%): 0 out of range" },
    }
    H.rejects(cases)
  end)
end)
