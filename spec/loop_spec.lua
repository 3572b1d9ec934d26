-- embedding in an event loop: the async lj.spawn (its setup error in the
-- recipe's terms, a fresh auto id per spawn) and the adapters
-- lunajail.loop.{poll,luv,cqueues}: setup handlers, no handler inside
-- watch(), the exit's timeout and output_limit flags, max_output,
-- pause/resume back-pressure, cqueues' read_some, core.reaperfd.
-- (child_spec.lua has the adapters' basic delivery.)
local H = require "helper"

local function lua (mode, code)
  return H.lua(mode, 'local lj = require "lunajail"\n' .. code)
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
