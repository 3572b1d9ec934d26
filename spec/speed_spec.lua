-- what the speed work promises, as behaviour (the figures themselves
-- live in bench/): a recipe compiles once and is reused while it is the
-- same, each spawn still getting its own auto uid; every step of a
-- traced spawn carries the
-- microseconds it took in the runner.
local H = require "helper"

describe("speed", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()

      it("compiles a recipe once for many spawns, again when a field changes", function()
        local r = H.lua(mode, [[
          local compile = require "lunajail.compile"
          local n, real = 0, compile.compile
          compile.compile = function (...) n = n + 1 return real(...) end
          local r = lj.container{ argv = {"sh", "-c", "id -u"} }
          local ids = {}
          for i = 1, 3 do ids[i] = lj.run(r, { timeout = 30 }).stdout end
          local once = n
          r.argv = {"echo", "changed"}              -- a new value in a field
          local out = lj.run(r, { timeout = 30 }).stdout
          local r2 = r:with{ hostname = "other" }   -- another recipe
          lj.run(r2, { timeout = 30 })
          return { once = once, after = n, out = out, ids = ids,
                   root = select(2, core.getresuid()) == 0 }
        ]])
        assert.equal(1, r.once)
        assert.equal(3, r.after)
        assert.equal("changed\n", r.out)
        if r.root then               -- a leased uid per spawn, from one plan
          assert.are_not.equal(r.ids[1], r.ids[2])
          assert.are_not.equal(r.ids[2], r.ids[3])
        end
      end)

      it("times every step of a traced spawn, in the runner", function()
        local r = H.lua(mode, [[
          local plan = lj.container{ argv = {"/bin/true"}, trace = true }:steps()
          local t0 = core.monotonic()
          local c = assert(core.spawn(plan))
          local wall = (core.monotonic() - t0) * 1e6
          c:wait()
          local out, sum, missing = {}, 0, 0
          for _, rep in ipairs(c:reports()) do
            if rep.usec then sum = sum + rep.usec else missing = missing + 1 end
          end
          c:close()
          return { n = #c:reports(), steps = #plan.steps, sum = sum, wall = wall,
                   missing = missing }
        ]])
        assert.equal(0, r.missing)
        assert.is_true(r.n >= r.steps, ("%d reports for %d steps"):format(r.n, r.steps))
        assert.is_true(r.sum > 0)
        assert.is_true(r.sum < r.wall, ("steps %.0f us, spawn %.0f us"):format(r.sum, r.wall))
      end)
    end)
  end
end)
