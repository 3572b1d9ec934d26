-- embedding in an event loop: the async lj.spawn (its setup error in the
-- recipe's terms, a fresh auto id per spawn) and the adapters
-- lunajail.loop.{poll,luv,cqueues}: setup handlers, no handler inside
-- watch(), the exit's timeout and output_limit flags, max_output,
-- pause/resume back-pressure, cqueues' read_some, core.reaperfd.
-- (child_spec.lua has the adapters' basic delivery.)
local H = require "helper"

local function lua (mode, code)
  return H.lua(mode, 'local lj = require "lunajail"\n' .. code, H.RSSENV)
end

-- the fields of a step error that must be the same, sync or async
local errfields = [[
  local function fields (e)
    if type(e) ~= "table" then return { text = tostring(e) } end
    local reps = {}
    for i, r in ipairs(e.reports or {}) do reps[i] = r.message end
    return { message = e.message, field = e.field, hint = e.hint, step = e.step,
             op = e.op, errno = e.errno, errname = e.errname, reports = reps }
  end
]]

describe("the async lj.spawn", function()
  for _, mode in ipairs(H.modes) do
    it("returns while the setup is held, as " .. mode, function()
      -- a gate step holds the setup until we close its pipe: a spawn that
      -- waited on the setup would time out (setup_timeout) instead
      local r = lua(mode, [[
        local rfd, wfd = assert(core.pipe())
        local plan, _, ids = lj.container{ argv = {"echo", "through"} }:steps()
        table.insert(plan.steps, {"gate", rfd})
        plan.setup_timeout = 30
        local t0 = core.monotonic()
        local c = assert(lj.spawn_plan(plan, ids, nil, { async = true }))
        local took = core.monotonic() - t0
        assert(core.close(rfd))
        for _ = 1, 5 do c:step() core.poll({}, 0.02) end
        local held = c:started()
        assert(core.close(wfd))
        local ok, err = c:wait_started(30)
        return { held = held, ok = ok, err = err and tostring(err),
                 out = c:read_all("stdout", 30), code = c:wait(30).code, fast = took < 10 }
      ]])
      assert.is_false(r.held)
      assert.is_true(r.ok, r.err)
      assert.equal("through\n", r.out)
      assert.equal(0, r.code)
      assert.is_true(r.fast)
    end)

    it("reports the setup error in recipe terms, as the blocking one, as " .. mode, function()
      local r = lua(mode, errfields .. [[
        local out = {}
        for _, t in ipairs { { cwd = "/nonexistent" }, { argv = {"nosuchprogram"} } } do
          local rec = lj.container{ argv = {"true"} }:with(t)
          local c0, e0 = lj.spawn(rec)
          assert(not c0)
          -- seen first through started(), step() or status(): the same error
          local a = assert(lj.spawn(rec, { async = true }))
          local _, ea = a:wait_started(30)
          local b = assert(lj.spawn(rec, { async = true }))
          local eb
          repeat core.poll({ {fd = b:pollfd(), events = "r"} }, 1)
            eb = b:step().setup_error
          until eb
          local c = assert(lj.spawn(rec, { async = true }))
          local st
          repeat core.poll({ {fd = c:pollfd(), events = "r"} }, 1) st = c:status()
          until st.setup_error
          local again = select(2, a:started())
          out[#out + 1] = { sync = fields(e0), a = fields(ea), b = fields(eb),
                            c = fields(st.setup_error), again = fields(again),
                            astatus = fields(a:wait(30).setup_error) }
          a:close() b:close() c:close()
        end
        return out
      ]])
      for _, x in ipairs(r) do
        assert.is_string(x.sync.field)
        assert.same(x.sync, x.a)
        assert.same(x.sync, x.b)
        assert.same(x.sync, x.c)
        assert.same(x.sync, x.again)                -- annotated once
        assert.same(x.sync, x.astatus)
      end
      assert.equal("cwd", r[1].sync.field)
      assert.equal("argv", r[2].sync.field)
      assert.is_string(r[2].sync.hint)
    end)

    it("starts 100 concurrent lj.untrusted, each with its own auto id, as " .. mode, function()
      local r = lua(mode, [[
        local _, hard = core.getrlimit("nofile")
        core.setrlimit("nofile", hard, hard)
        local rec = lj.untrusted{ argv = {"sh", "-c", "read x; id -u"} }
        local kids, started, errs = {}, 0, {}
        for i = 1, 100 do kids[i] = assert(lj.spawn(rec, { async = true })) end
        for i = 1, 100 do
          local ok, err = kids[i]:wait_started(30)
          if ok then started = started + 1 else errs[#errs + 1] = tostring(err) end
        end
        local uids, n = {}, 0
        for i = 1, 100 do
          kids[i]:write("\n") kids[i]:close_stdin()
          local out = kids[i]:read_all("stdout", 30)
          if out and not uids[out] then uids[out], n = true, n + 1 end
          kids[i]:close()
        end
        return { started = started, err = errs[1], ids = n }
      ]])
      assert.equal(100, r.started, r.err)
      -- as root each sandbox leases its own uid; unprivileged all are ours
      assert.equal(mode == "root" and 100 or 1, r.ids)
    end)
  end

  H.rejects {
    { "lj.spawn(lj.container{argv = {'true'}}, {async = 1})",
      "spawn: async: true or false expected, got number" },
    { "lj.spawn_plan({argv = {'true'}}, nil, nil, {asnyc = true})",
      "spawn: unknown option 'asnyc'" },
  }
end)

-- each adapter behind the same two functions: watch(child, handlers) and
-- run([tick]), tick() called every 20 ms until it returns true
local drivers = {
  poll = [[
    local loop = require("lunajail.loop.poll").new()
    local function watch (c, h) return loop:watch(c, h) end
    local function run (tick)
      local done
      repeat
        loop:step(0.02)
        if tick then done = tick() end
      until loop:count() == 0 and (not tick or done)
    end
  ]],
  luv = [[
    local uv = require "luv"
    local L = require "lunajail.loop.luv"
    local function watch (c, h) return L.watch(c, h) end
    local function run (tick)
      local t
      if tick then
        t = uv.new_timer()
        t:start(20, 20, function () if tick() then t:stop() end end)
      end
      uv.run()
      if t then t:close() end
    end
  ]],
  cqueues = [[
    local cqueues = require "cqueues"
    local CQ = require "lunajail.loop.cqueues"
    local ctl = cqueues.new()
    local function watch (c, h) return CQ.watch(c, h, ctl) end
    local function run (tick)
      if tick then ctl:wrap(function () repeat cqueues.sleep(0.02) until tick() end) end
      assert(ctl:loop())
    end
  ]],
}

local function rss ()
  return [[
    local function rss ()
      for l in io.lines("/proc/self/status") do
        local kb = l:match("^VmRSS:%s+(%d+)")
        if kb then return tonumber(kb) * 1024 end
      end
    end
  ]]
end

for _, name in ipairs { "poll", "luv", "cqueues" } do
  local mode = H.modes[1]
  local function run (code) return lua(mode, drivers[name] .. rss() .. code) end

  describe("lunajail.loop." .. name, function()
    it("follows setup and runs no handler inside watch()", function()
      local r = run([[
        local ev = {}
        local function add (s) ev[#ev + 1] = s end
        local a = assert(lj.spawn(lj.container{ argv = {"sh", "-c", "echo a; echo b >&2"} },
                                  { async = true }))
        watch(a, { lines = true, started = function () add("started") end,
                   stdout = function (l) add("out " .. l) end,
                   stderr = function (l) add("err " .. l) end,
                   exit = function (st)
                     add(("exit %s %s %s"):format(st.code, st.timeout, st.output_limit))
                   end })
        add("returned")
        local b = assert(lj.spawn(lj.container{ argv = {"true"}, cwd = "/nonexistent" },
                                  { async = true }))
        local fails = {}
        watch(b, { started = function () fails[#fails + 1] = "started" end,
                   stdout = function () fails[#fails + 1] = "stdout" end,
                   setup_error = function (err) fails[#fails + 1] = "setup_error " .. err.field end,
                   exit = function (st) fails[#fails + 1] = "exit " .. st.setup_error.field end })
        -- a child that is over already: the old adapters delivered inside watch()
        local c = assert(lj.spawn(lj.container{ argv = {"echo", "early"} }))
        c:wait(30)
        local early = {}
        watch(c, { stdout = function (s) early[#early + 1] = s end,
                   exit = function () early[#early + 1] = "exit" end })
        early[#early + 1] = "returned"
        run()
        return { ev = ev, fails = fails, early = early }
      ]])
      assert.equal("returned", r.ev[1])
      assert.equal("started", r.ev[2])
      table.sort(r.ev, function (x, y) return x:sub(1, 3) < y:sub(1, 3) end)
      assert.same({ "err b", "exit 0 false false", "out a", "returned", "started" }, r.ev)
      assert.same({ "setup_error cwd", "exit cwd" }, r.fails)
      assert.same({ "returned", "early\n", "exit" }, r.early)
    end)

    it("says timeout = true in the exit status when the deadline killed it", function()
      local r = run([[
        local out = {}
        watch(assert(lj.spawn(lj.container{ argv = {"sleep", "30"} }, { async = true })),
              { timeout = 0.2, exit = function (st) out.a = st end })
        local c = assert(lj.spawn(lj.container{ argv = {"sleep", "30"} }))
        c:killafter(0.2, "TERM")
        watch(c, { exit = function (st) out.b = st end })
        watch(assert(lj.spawn(lj.container{ argv = {"true"} })),
              { timeout = 30, exit = function (st) out.c = st end })
        run()
        return out
      ]])
      assert.is_true(r.a.timeout)
      assert.equal("SIGKILL", r.a.signame)
      assert.is_true(r.b.timeout)
      assert.equal("SIGTERM", r.b.signame)
      assert.is_false(r.c.timeout)
      assert.equal(0, r.c.code)
    end)

    it("caps the output with max_output, as lj.run does", function()
      local r = run([[
        local got, lines, out = 0, {}, {}
        watch(assert(lj.spawn(lj.container{ argv = {"yes"} }, { async = true })),
              { max_output = 10000, stdout = function (s) got = got + #s end,
                exit = function (st) out.a = st end })
        local two = "echo 1234; echo 5678; sleep 30"
        watch(assert(lj.spawn(lj.container{ argv = {"sh", "-c", two} })),
              { lines = true, max_output = 7, stdout = function (l) lines[#lines + 1] = l end,
                exit = function (st) out.b = st end })
        watch(assert(lj.spawn(lj.container{ argv = {"echo", "12345"} })),
              { max_output = 6, exit = function (st) out.c = st end })
        run()
        return { got = got, lines = lines, a = out.a, b = out.b, c = out.c }
      ]])
      assert.equal(10000, r.got)
      assert.is_true(r.a.output_limit)
      assert.equal("SIGKILL", r.a.signame)
      assert.same({ "1234", "56" }, r.lines)         -- 5 bytes, then 2 of "5678\n"
      assert.is_true(r.b.output_limit)
      assert.is_false(r.c.output_limit)            -- exactly the cap is fine
      assert.equal(0, r.c.code)
    end)

    it("pauses: a 100 MB producer and a slow consumer keep the host's memory bounded", function()
      if H.novalgrind("keeps freed blocks (--freelist-vol) and a heap of its own: the RSS " ..
                      "would measure valgrind") then
        return
      end
      local r = run([[
        collectgarbage() collectgarbage()
        local base, peak = rss(), 0
        local queue, qbytes, total, whilepaused, st = {}, 0, 0, 0, nil
        local w
        w = watch(assert(lj.spawn(lj.container{ argv = {"head", "-c", "100000000",
                                                          "/dev/zero"} }, { async = true })),
          { stdout = function (s)
              if w.paused then whilepaused = whilepaused + #s end
              queue[#queue + 1] = s                   -- the socket's write queue
              qbytes = qbytes + #s
              if qbytes > (1 << 20) then w:pause() end
            end,
            exit = function (s) st = s end })
        run(function ()                               -- the client: 4 MB per tick
          local sent = 0
          while #queue > 0 and sent < (4 << 20) do
            local s = table.remove(queue, 1)
            sent, qbytes, total = sent + #s, qbytes - #s, total + #s
          end
          collectgarbage()
          peak = math.max(peak, rss() - base)
          if qbytes <= (1 << 20) then w:resume() end
          return st ~= nil and #queue == 0
        end)
        return { total = total, peak = peak, whilepaused = whilepaused, code = st.code }
      ]])
      assert.equal(100000000, r.total)
      assert.equal(0, r.code)
      assert.equal(0, r.whilepaused)
      assert.is_true(r.peak < 24 * (1 << 20), ("RSS grew by %d bytes"):format(r.peak))
    end)

    it("closes from a handler and before the first delivery", function()
      local r = run([[
        local ev = {}
        local w
        w = watch(assert(lj.spawn(lj.container{ argv = {"sh", "-c", "echo x; sleep 30"} },
                                  { async = true })),
                  { stdout = function () ev[#ev + 1] = "stdout" w:close() end,
                    exit = function () ev[#ev + 1] = "exit" end })
        local c = assert(lj.spawn(lj.container{ argv = {"echo", "y"} }))
        local w2 = watch(c, { stdout = function () ev[#ev + 1] = "never" end,
                              started = function () ev[#ev + 1] = "never" end })
        w2:close()
        local t0 = core.monotonic()
        run()
        return { ev = ev, fast = core.monotonic() - t0 < 20, closed = tostring(c) }
      ]])
      assert.same({ "stdout" }, r.ev)
      assert.is_true(r.fast)
      -- w2:close() closed the child: "closed", or "exited 0" when it had
      -- ended by then and the close reaped it, or SIGPIPE when echo wrote
      -- to the stdout the close had just shut (seen under valgrind)
      assert.matches("closed%)$", r.closed:gsub("exited 0%)$", "closed)")
                                          :gsub("killed by signal 13%)$", "closed)"))
    end)

    it("calls core.reap() when core.reaperfd's fd is readable", function()
      -- a stand-in reaperfd: a pipe whose write end is closed (readable)
      local r = run([[
        local rfd, wfd = assert(core.pipe())
        core.close(wfd)
        local reaps, real = 0, core.reap
        core.reaperfd = function () return rfd end
        core.reap = function () reaps = reaps + 1 return real() end
        -- the adapters look for core.reaperfd when they first watch
        local done
        watch(assert(lj.spawn(lj.container{ argv = {"sleep", "0.2"} })),
              { exit = function () done = true end })
        run()
        return { reaps = reaps, done = done }
      ]])
      assert.is_true(r.done)
      assert.is_true(r.reaps > 0)
    end)

    it("reaps a closed, still-running child without any later call", function()
      local has = lua(mode, "return core.reaperfd ~= nil")
      if not has then
        return H.skip("core.reaperfd is not in this lunajail (branch embed-core adds it)")
      end
      local r = run([[
        local b = assert(lj.spawn(lj.container{ argv = {"sleep", "30"} }))
        local pid = b.pid
        local state
        watch(assert(lj.spawn(lj.container{ argv = {"sh", "-c", "sleep 1; echo x"} })),
              { stdout = function ()
                  local f = io.open("/proc/" .. pid .. "/stat")
                  state = f and f:read("a"):match("^%d+ %b() (%a)") or "gone"
                  if f then f:close() end
                end })
        local wb = watch(b, {})
        wb:close()                                 -- killed, not yet dead
        run()
        return state
      ]])
      assert.equal("gone", r)
    end)
  end)
end

describe("lunajail.loop.cqueues' yielding helpers", function()
  it("read_some returns what has arrived, and lets other coroutines run", function()
    local r = lua(H.modes[1], [[
      local cqueues = require "cqueues"
      local cq = require "lunajail.loop.cqueues"
      local ctl = cqueues.new()
      local got, order = {}, {}
      ctl:wrap(function ()
        local c = assert(lj.spawn(lj.container{ argv = {"sh", "-c", "echo x; sleep 0.3; echo y"} },
                                  { async = true }))
        assert(cq.wait_started(c, 30))
        while true do
          local data, err = cq.read_some(c, "stdout", 30)
          if not data then got[#got + 1] = err break end
          got[#got + 1] = data
          order[#order + 1] = "data"
        end
        cq.close(c)
      end)
      ctl:wrap(function ()
        for _ = 1, 3 do order[#order + 1] = "other" cqueues.sleep(0.05) end
      end)
      assert(ctl:loop())
      return { got = got, order = table.concat(order, ",") }
    ]])
    assert.same({ "x\n", "y\n", "closed" }, r.got)
    assert.matches("data.*other.*data", r.order)
  end)
end)
