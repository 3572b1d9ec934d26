-- the network namespaces a Lua state makes ahead of time (csrc/netpool.c):
-- as root, a container joins a fresh one instead of making its own; each
-- is used once, its loopback up, never seen by the payload's fds or a
-- host that reaps with waitpid(-1); as uid 65534, whose sandboxes have a
-- user namespace, nothing is pooled.
local H = require "helper"

-- a snippet's start: what the payload sees, and our fds that are netns
local PRELUDE = [[
  local SEE = { "sh", "-c", "readlink /proc/self/ns/net; ip -o link show lo;"
                .. " ls -l /proc/self/fd/" }
  local function netfds ()
    local n = 0
    for fd = 0, 1023 do
      local l = core.readlink("/proc/self/fd/" .. fd)
      if l and l:match("^net:") then n = n + 1 end
    end
    return n
  end
  local function settle ()            -- until the maker has given its all
    for _ = 1, 2000 do
      if not core.netpool().making then return end
      core.poll({}, 1)
    end
  end
]]

describe("netpool", function()
  if not H.root then
    it("is root's alone", function()
      H.skip("needs root (a network namespace of our user namespace)")
    end)
    return
  end
  if H.novalgrind("runs a child in our memory only as a thread: the pool is off") then return end
  local noip = not os.execute("command -v ip >/dev/null 2>&1")

  it("gives a root container a fresh namespace made ahead, with lo up, used once", function()
    if noip then return H.skip("needs ip (iproute2) to read lo's flags in the sandbox") end
    local r = H.lua("root", PRELUDE .. [[
      local host = core.readlink("/proc/self/ns/net")
      local r = lj.container{ argv = SEE }
      local out, pools = {}, {}
      for i = 1, 10 do
        out[i] = assert(lj.run(r, { timeout = 30 })).stdout
        pools[i] = core.netpool()
        settle()
      end
      -- four at once (each lives 0.5 s, all started within it), each its own
      local kids, live = {}, {}
      for i = 1, 4 do
        kids[i] = assert(lj.spawn(lj.container{ argv = { "sh", "-c",
          "readlink /proc/self/ns/net; sleep 0.5" } }))
      end
      for i = 1, 4 do
        live[i] = (assert(kids[i]:communicate(nil, 30)):gsub("\n$", ""))
        kids[i]:close()
      end
      settle()
      local before = core.netpool()
      local held = netfds()
      local traced = assert(core.spawn(lj.container{ argv = { "true" },
                                         trace = true }:steps()))
      traced:wait()
      local call = traced:reports()[1].call
      traced:close()
      core.netpool(0)
      return { host = host, out = out, pools = pools, live = live,
               before = before, held = held, after = netfds(), call = call,
               final = core.netpool() }
    ]])
    assert.is_nil(r.pools[10].off)
    assert.equal(0, r.pools[1].used)     -- a state's first: its own
    assert.is_true(r.pools[10].used >= 7, "pooled: " .. r.pools[10].used)
    for i = 1, 10 do
      local ns = r.out[i]:match("^(net:%[%d+%])\n")
      assert.truthy(ns, r.out[i])
      assert.are_not.equal(r.host, ns)
      assert.matches("1: lo: <LOOPBACK,UP,LOWER_UP>", r.out[i], 1, true)
      assert.is_nil(r.out[i]:match("net:%[%d+%]", #ns + 1),
                    "a netns fd reached the payload:\n" .. r.out[i])
    end
    local seen = { [r.host] = true }
    for i = 1, 4 do
      assert.is_nil(seen[r.live[i]], "shared: " .. tostring(r.live[i]))
      seen[r.live[i]] = true
    end
    assert.equal(r.before.ready, r.held)  -- the used ones are closed here
    assert.matches("net made ahead", r.call, 1, true)
    assert.equal(0, r.after)              -- size 0: the ready ones closed
    assert.equal(0, r.final.ready)
    assert.is_true(r.final.made >= r.final.used)
  end)

  it("makes them where a host's waitpid(-1) never sees the maker, which the reaper reaps",
     function()
    local r = H.lua("root", PRELUDE .. [[
      -- our children, and which of them are zombies (no ps: it cannot run
      -- under make asan's preload)
      local function kids ()
        local f = io.open("/proc/self/task/" .. core.getpid() .. "/children")
        if not f then return nil end
        local n, z = 0, 0
        for pid in f:read("a"):gmatch("%d+") do
          n = n + 1
          local st = io.open("/proc/" .. pid .. "/stat")
          local state = st and st:read("a"):match("%) (%a)")
          if st then st:close() end
          if state == "Z" then z = z + 1 end
        end
        f:close()
        return n, z
      end
      core.netpool(8)
      local plan = lj.container{ argv = { "true" } }
      assert(lj.run(plan, { timeout = 30 }))        -- the state's first: no maker
      -- a sandbox that stays, started async: its spawn starts a maker
      local c = assert(lj.spawn(lj.container{ argv = { "sleep", "30" } }, { async = true }))
      local started = core.netpool().making
      settle()                                      -- it has exited: a zombie now
      local n, z = kids()
      local host = core.waitpid(-1, "nohang")       -- the host's reaping
      c:kill()
      c:wait()
      c:close()
      -- as an event loop does: the reaper fd fires, core.reap() reaps it
      local items = { { fd = assert(core.reaperfd()) } }
      local left
      for _ = 1, 200 do
        left = core.reap()
        if left == 0 then break end
        core.poll(items, 50)
      end
      local n2, z2 = kids()
      return { started = started, n = n, z = z, host = host, left = left, n2 = n2, z2 = z2,
               pool = core.netpool() }
    ]])
    assert.is_true(r.started)           -- the second spawn started one
    assert.is_false(r.host)             -- children, none the host may take
    assert.equal(0, r.left)
    assert.equal(8, r.pool.ready)       -- and it finished its work
    assert.is_false(r.pool.making)
    if r.n == nil then
      return H.skip("no /proc/PID/task/TID/children here to count zombies by")
    end
    assert.equal(2, r.n)                -- the sandbox and the exited maker
    assert.equal(1, r.z)
    assert.equal(0, r.n2)               -- all reaped, no zombie left
  end)

  it("stays out of a plan with a user namespace, and of uid 65534's", function()
    local r = H.lua("root", PRELUDE .. [[
      local r = lj.container{ argv = { "true" }, namespaces = { "user" } }
      for _ = 1, 4 do assert(lj.run(r, { timeout = 30 })) end
      return core.netpool()
    ]])
    assert.equal(0, r.used)
    assert.equal(0, r.made)
    local n = H.lua("nobody", [[
      for _ = 1, 4 do assert(lj.run(lj.container{ argv = { "true" } }, { timeout = 30 })) end
      return core.netpool()
    ]])
    assert.equal(0, n.used)
    assert.equal(0, n.made)
    assert.is_false(n.making)
  end)

  it("is not the pool of lj.call's fork: the parent's namespaces stay the parent's", function()
    if noip then return H.skip("needs ip (iproute2) to read lo's flags in the sandbox") end
    local r = H.lua("root", PRELUDE .. [[
      local plan = lj.container{ argv = { "true" } }
      for _ = 1, 2 do assert(lj.run(plan, { timeout = 30 })) end
      settle()
      local before = core.netpool().ready
      local inside = lj.call(lj.container{}, function () return core.netpool() end)
      local out = assert(lj.run(lj.container{ argv = SEE }, { timeout = 30 })).stdout
      return { before = before, inside = inside, after = core.netpool(), out = out }
    ]])
    assert.equal(4, r.before)
    assert.equal(0, r.inside.ready)     -- a pool of its own, empty
    assert.equal(0, r.inside.made)
    assert.equal(r.before - 1, r.after.ready)   -- ours: one used since
    assert.matches("1: lo: <LOOPBACK,UP", r.out, 1, true)
  end)

  it("is not the pool of a core.fork child either", function()
    local r = H.lua("root", PRELUDE .. [[
      local plan = lj.container{ argv = { "true" } }
      for _ = 1, 2 do assert(lj.run(plan, { timeout = 30 })) end
      settle()
      local before = core.netpool().ready
      local pid = assert(core.fork())
      if pid == 0 then                  -- its copies: closed, never used
        local p = core.netpool()
        core._exit(p.ready == 0 and netfds() == 0 and 0 or 1)
      end
      local st = core.waitpid(pid)
      return { before = before, code = st.code, after = core.netpool().ready,
               held = netfds(), ran = lj.run(plan, { timeout = 30 }).code }
    ]])
    assert.equal(4, r.before)
    assert.equal(0, r.code)             -- the child's pool was empty, no netns fd left
    assert.equal(4, r.after)            -- ours as they were
    assert.equal(4, r.held)
    assert.equal(0, r.ran)
  end)

  it("takes a size from 0 to 8", function()
    assert.matches("size: 0 to 8", H.raises("root", "core.netpool(9)"))
    assert.matches("number expected", H.raises("root", "core.netpool('x')"))
  end)
end)
