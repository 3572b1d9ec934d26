-- what the speed work promises, as behaviour (the figures themselves
-- live in bench/): a recipe compiles once and is reused while it is the
-- same, each spawn still getting its own auto uid; every step of a
-- traced spawn carries the
-- microseconds it took in the runner.
local H = require "helper"

-- a snippet's start: n counts the recipe compiles from here on
local COUNT = [[
  local compile = require "lunajail.compile"
  local n, real = 0, compile.compile
  compile.compile = function (...) n = n + 1 return real(...) end
]]

describe("speed", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()

      it("compiles a recipe once for many spawns, again when a field changes", function()
        local r = H.lua(mode, COUNT .. [[
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

      it("compiles a recipe built again the same way once; a table changed in place is seen",
         function()
        local r = H.lua(mode, COUNT .. [[
          local out = {}
          for i = 1, 3 do                 -- as users write it: a new recipe each time
            out[i] = lj.run(lj.container{ argv = {"echo", "a"} }, { timeout = 30 }).stdout
          end
          local once = n
          local r = lj.container{ argv = {"echo", "a"} }
          lj.run(r, { timeout = 30 })
          r.argv[2] = "b"                 -- in place, inside a field's table
          out[4] = lj.run(r, { timeout = 30 }).stdout
          out[5] = lj.run(lj.container{ argv = {"echo", "a"} }, { timeout = 30 }).stdout
          return { once = once, after = n, out = out }
        ]])
        assert.equal(1, r.once)
        assert.equal(2, r.after)         -- only the changed value compiled again
        assert.same({ "a\n", "a\n", "a\n", "b\n", "a\n" }, r.out)
      end)

      it("keeps no plan of a recipe holding a large payload (a file's content)", function()
        local r = H.lua(mode, COUNT .. [[
          local big = ("x"):rep(100 * 1024)
          local sizes = {}
          for i = 1, 2 do
            local res = lj.run(lj.container{ argv = {"wc", "-c", "/tmp/in"},
                                             files = {{"/tmp/in", content = big}} },
                               { timeout = 30 })
            sizes[i] = res.stdout
          end
          return { n = n, sizes = sizes }
        ]])
        assert.equal(2, r.n)
        assert.same({ "102400 /tmp/in\n", "102400 /tmp/in\n" }, r.sizes)
      end)

      it("compiles a kept plan again when the host answers differently", function()
        local r = H.lua(mode, COUNT .. [[
          local S = require "snip"
          local d = S.sh("mktemp -d"):gsub("%s+$", "")
          local function recipe ()
            return lj.container{ argv = {"sh", "-c", "cat /srv/f 2>&1 || true"},
              mounts = { { type = "bind", source = d .. "/src", target = "/srv",
                           optional = true } } }
          end
          local out = {}
          out[1] = lj.run(recipe(), { timeout = 30 }).stdout    -- no source: no bind
          assert(os.execute("mkdir " .. d .. "/src && echo here > " .. d .. "/src/f"))
          out[2] = lj.run(recipe(), { timeout = 30 }).stdout    -- it appeared
          out[3] = lj.run(recipe(), { timeout = 30 }).stdout    -- the same: kept
          local compiles = n
          -- a payload's trick: the source becomes a symlink to elsewhere
          assert(os.execute("mkdir " .. d .. "/other && echo secret > " .. d .. "/other/f" ..
                            " && rm -r " .. d .. "/src && ln -s other " .. d .. "/src"))
          local ok, err = pcall(lj.run, recipe(), { timeout = 30 })
          S.sh("rm -rf " .. d)
          return { out = out, compiles = compiles, ok = ok, err = tostring(err) }
        ]])
        assert.matches("No such file", r.out[1])
        assert.equal("here\n", r.out[2])
        assert.equal("here\n", r.out[3])
        assert.equal(2, r.compiles)
        assert.is_false(r.ok)
        assert.matches("passes through the symlink", r.err)
      end)

      -- each spawn of a kept plan re-checks its host paths (47 for the
      -- default container): core.stat built a table for each, 8.7 KB of
      -- garbage per spawn of untrusted; core.filetype builds none
      it("re-checks a kept plan's host paths in C, each answer as compile noted it", function()
        local r = H.lua(mode, [[
          local compile = require "lunajail.compile"
          local core = require "lunajail.core"
          local _, _, _, answers = lj.untrusted{ argv = {"/bin/true"} }:steps()
          local same = true
          for _, p in ipairs { "/", "/usr", "/bin", "/proc/self", "/nonexistent" } do
            for _, follow in ipairs { false, true } do
              local st, msg, e = core.stat(p, follow)
              local t, msg2, e2 = core.filetype(p, follow)
              if (st and st.type) ~= t or msg ~= msg2 or e ~= e2 then same = false end
            end
          end
          -- answers as compile notes them (compile.lua's note), each kind,
          -- failures too; then each changed alone must be seen
          local list = {}
          for _, p in ipairs { "/", "/bin", "/bin/sh", "/proc/self", "/nonexistent/x" } do
            for _, follow in ipairs { false, true } do
              local st = core.stat(p, follow)
              list[#list + 1] = { "stat", p, follow, st and st.type or false }
            end
            list[#list + 1] = { "readlink", p, false, core.readlink(p) or false }
            local link, to, errno = core.firstlink(p)
            list[#list + 1] = { "firstlink", p, false, link, to or false, errno or false }
          end
          local held = core.samehost(list)
          local seen = 0
          for i, a in ipairs(list) do
            local saved = a[4]
            a[4] = saved == false and "other" or (saved == nil and "x" or false)
            if not core.samehost(list) then seen = seen + 1 end
            a[4] = saved
            if a[1] == "firstlink" and a[6] then      -- a failure: its errno
              a[6] = a[6] + 1
              if not core.samehost(list) then seen = seen + 1 else seen = seen - 100 end
              a[6] = a[6] - 1
            end
          end
          local fails = 0
          for _, a in ipairs(list) do if a[1] == "firstlink" and a[6] then fails = fails + 1 end end
          local ok = compile.current(answers)
          collectgarbage() collectgarbage("stop")
          local before = collectgarbage("count")
          for _ = 1, 50 do compile.current(answers) end
          local per = (collectgarbage("count") - before) / 50
          collectgarbage("restart")
          return { same = same, ok = ok, n = #answers, per = per, held = held,
                   seen = seen, want = #list + fails, fails = fails,
                   raised = select(2, pcall(core.filetype)),
                   bad = select(2, pcall(core.samehost, { { "chmod", "/" } })) }
        ]])
        assert.is_true(r.same, "filetype answers as stat's type does")
        assert.is_true(r.ok)
        assert.is_true(r.held, "the host answers as it did")
        assert.is_true(r.fails > 0, "a failed firstlink among the answers")
        assert.equal(r.want, r.seen)       -- every change seen
        assert.is_true(r.n > 20, r.n .. " answers")
        assert.is_true(r.per < 0.5, ("%.2f KB of garbage per re-check"):format(r.per))
        assert.matches("filetype: bad argument #1 %(path%)", r.raised)
        assert.matches("samehost: unknown query 'chmod'", r.bad)
      end)

      it("names a recipe's value canonically, in C, with little garbage", function()
        local r = H.lua(mode, [[
          local compile = require "lunajail.compile"
          local f = function () end
          local a, b = { x = 1, y = { 2, 3 } }, {}
          b.y = { 2, 3 }
          b.x = 1                           -- the same, built in another order
          local big1, big2 = {}, {}
          for i = 1, 500 do big1["k" .. i] = i end
          for i = 500, 1, -1 do big2["k" .. i] = i end
          local cyc = {}
          cyc.self = cyc
          local deep = {}
          local d = deep
          for _ = 1, 150 do d[1] = {} d = d[1] end
          local shared = { 1 }
          local k, refs = core.valuekey{ f, z = f }
          local r = lj.container{ argv = {"/bin/true"} }
          compile.key(r)
          collectgarbage() collectgarbage("stop")
          local before = collectgarbage("count")
          for _ = 1, 50 do compile.key(r) end
          local per = (collectgarbage("count") - before) / 50
          collectgarbage("restart")
          local v = core.valuekey
          return {
            same = v(a) == v(b) and v(big1) == v(big2),
            differ = v{1} ~= v{"1"} and v{1} ~= v{1.0} and v{true} ~= v{"T"}
              and v{ x = {1} } ~= v{ x = 1, [1] = 1 } and v{ "ab", "c" } ~= v{ "a", "bc" }
              and v{ [1] = 1, [3] = 3 } ~= v{ 1, 3 } and v(a) ~= v{ x = 1, y = { 3, 2 } },
            twice = v{ shared, shared } ~= nil, cycle = v(cyc), nrefs = #refs,
            ref = refs[1] == f, deep = select(2, pcall(v, deep)),
            per = per, recipe = compile.key(r) == compile.key(lj.container{ argv = {"/bin/true"} }),
          }
        ]])
        assert.is_true(r.same, "the same contents, built apart, name the same key")
        assert.is_true(r.differ, "different contents name different keys")
        assert.is_true(r.twice, "a table met twice is no cycle")
        assert.is_nil(r.cycle)
        assert.equal(2, r.nrefs)
        assert.is_true(r.ref)
        assert.matches("nested deeper than 100", r.deep)
        assert.is_true(r.recipe)
        assert.is_true(r.per < 4, ("%.1f KB of garbage per key"):format(r.per))
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
