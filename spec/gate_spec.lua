-- the gate step (csrc/gate.c) and the fd primitives beside it: a sandbox
-- whose setup waits for its parent, core.pipe, core.close, core.nsfd
local H = require "helper"

describe("the gate step", function()
  for _, mode in ipairs(H.modes) do
    it("holds a sandbox's setup until the parent closes the write end, as " .. mode, function()
      local r = H.lua(mode, [[
        local rfd, wfd = assert(core.pipe())
        local plan = lj.container{ argv = {"echo", "through"} }:steps()
        table.insert(plan.steps, {"gate", rfd})
        plan.async = true
        local c = assert(core.spawn(plan))
        assert(core.close(rfd))
        local t0 = core.monotonic()
        while core.monotonic() - t0 < 0.5 do c:step() core.poll({}, 0.05) end
        local held = c:started()               -- still in setup
        local nsfd = assert(core.nsfd(c:pidfd(), "net"))
        local mine = io.popen("readlink /proc/self/ns/net"):read("l")
        local its = io.popen("readlink /proc/" .. c.pid .. "/ns/net"):read("l")
        assert(core.close(nsfd))
        assert(core.close(wfd))
        repeat c:step() core.poll({ {fd = c:pollfd(), events = "r"} }, 1)
        until c:started() ~= false
        local started = c:started()
        return { held = held, started = started, out = c:read_all("stdout", 30),
                 other = mine ~= its }
      ]])
      assert.is_false(r.held)
      assert.is_true(r.started)
      assert.equal("through\n", r.out)
      assert.is_true(r.other)                  -- nsfd gave the sandbox's own
    end)

    it("on a socket pair tells the parent it is there, its namespaces made, as " .. mode,
       function()
      local r = H.lua(mode, [[
        local a, b = assert(core.socketpair())
        local plan = lj.container{ argv = {"echo", "through"} }:steps()
        table.insert(plan.steps, {"gate", a})
        plan.async = true
        local c = assert(core.spawn(plan))
        assert(core.close(a))
        local items = { {fd = b, events = "r"} }
        local n = core.poll(items, 10)           -- the gate's byte
        local held = c:started()
        local mine = io.popen("readlink /proc/self/ns/net"):read("l")
        local its = io.popen("readlink /proc/" .. c.pid .. "/ns/net"):read("l")
        assert(core.close(b))                    -- its byte unread: a reset, an end too
        repeat c:step() core.poll({ {fd = c:pollfd(), events = "r"} }, 1)
        until c:started() ~= false
        return { n = n, revents = items[1].revents, held = held, other = mine ~= its,
                 started = c:started(), out = c:read_all("stdout", 30) }
      ]])
      assert.equal(1, r.n)
      assert.equal("r", r.revents)
      assert.is_false(r.held)                    -- still at the gate
      assert.is_true(r.other)                    -- the namespace is the sandbox's own
      assert.is_true(r.started)
      assert.equal("through\n", r.out)
    end)

    it("is ended by the setup deadline when the parent never lets it go, as " .. mode, function()
      local r = H.lua(mode, [[
        local rfd, wfd = assert(core.pipe())
        local plan = lj.container{ argv = {"true"} }:steps()
        table.insert(plan.steps, {"gate", rfd})
        plan.setup_timeout = 0.5
        local c, err = core.spawn(plan)
        core.close(rfd) core.close(wfd)
        return { c = c == nil, op = err and err.op, errname = err and err.errname }
      ]])
      assert.is_true(r.c)
      assert.equal("gate", r.op)
      assert.equal("ETIMEDOUT", r.errname)
    end)
  end

  H.rejects {
    { "core.nsfd(0, 'nope')", "#2 %(namespace%): user, cgroup, ipc, uts, net, pid, time or mnt" },
    { "core.nsfd('x', 'net')", "#1 %(pidfd%)" },
    { "core.close(-1)", "#1 %(fd%)" },
    { "core.describe{'gate', 'x'}", "#1 %(fd%)" },
  }
  it("says what a closed fd or a plain fd is", function()
    local r = H.lua(H.modes[1], [[
      local a, b = core.nsfd(0, "net")
      local _, c = core.close(1 << 29)
      return { a == nil, b, c }
    ]])
    assert.is_true(r[1])
    assert.matches("nsfd", r[2])
    assert.matches("close%(536870912%): Bad file descriptor %(EBADF%)", r[3])
  end)
end)
