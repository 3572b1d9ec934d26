-- lj.call(recipe, fn, ...): a Lua function in a fresh sandbox, its values
-- back, its errors raised here (issue 13, items 2 and 3).
local H = require "helper"

local function run (mode, code)
  return H.lua(mode, code)
end

-- the steps run in the forked process itself: under valgrind, which
-- emulates neither seccomp nor Landlock, a recipe with them cannot
local function novalgrind ()
  return H.novalgrind("emulates neither seccomp(2) nor Landlock, which lj.call's " ..
                      "forked process applies itself")
end

describe("lj.call", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("returns nested tables and every value that can cross, as it was", function()
        if novalgrind() then return end
        local r = run(mode, [[
          local deep = {}
          local t = deep
          for i = 1, 50 do t.next = { i = i } t = t.next end
          local function pack (...) return table.pack(...) end
          local v = pack(lj.call(lj.container {}, function (x, y)
            return nil, true, false, 7, 7.0, 0/0, math.huge, -math.huge, -0.0,
                   math.mininteger, "a\0\255b", { 1, 2, { x = { y = x } }, [10] = y },
                   deep, ("z"):rep(1 << 20), nil
          end, "arg", { k = "v" }))
          local out = { n = v.n, nil1 = v[1] == nil and v[15] == nil, t = v[2], f = v[3],
                        int = math.type(v[4]), float = math.type(v[5]), nan = v[6] ~= v[6],
                        inf = v[7] == math.huge, ninf = v[8] == -math.huge,
                        negzero = 1 / v[9] == -math.huge, minint = v[10] == math.mininteger,
                        bytes = v[11] == "a\0\255b", nested = v[12][3].x.y,
                        hole = v[12][10].k, len = #v[14] }
          local d, depth = v[13], 0
          while d.next do d, depth = d.next, depth + 1 end
          out.depth = depth
          return out
        ]])
        assert.same({ n = 15, nil1 = true, t = true, f = false, int = "integer",
                      float = "float", nan = true, inf = true, ninf = true,
                      negzero = true, minint = true, bytes = true, nested = "arg",
                      hole = "v", len = 1 << 20, depth = 50 }, r)
      end)

      it("runs in the sandbox: its pid namespace, host name, ids and filter", function()
        if novalgrind() then return end
        local r = run(mode, [[
          return lj.call(lj.container { hostname = "call-spec" }, function ()
            local status = io.open("/proc/self/status"):read("a")
            return { pid = core.getpid(), host = io.open("/proc/sys/kernel/hostname"):read("l"),
                     uid = select(2, core.getresuid()),
                     seccomp = status:match("\nSeccomp:%s*(%d)"),
                     nnp = status:match("\nNoNewPrivs:%s*(%d)"),
                     cap = status:match("\nCapEff:%s*(%x+)") }
          end)
        ]])
        assert.equal(1, r.pid)                     -- PID 1 of its own namespace
        assert.equal("call-spec", r.host)
        assert.is_true(r.uid > 0)
        assert.equal("2", r.seccomp)
        assert.equal("1", r.nnp)
        assert.equal("0000000000000000", r.cap)
      end)

      it("sees a copy of the caller's state: what it changes stays there", function()
        local r = run(mode, [[
          local count = 1
          GLOBAL = "before"
          local got = table.pack(lj.call(lj.empty {}, function ()
            count = count + 1
            GLOBAL = "changed"
            return count, GLOBAL
          end))
          return { got[1], got[2], count, GLOBAL }
        ]])
        assert.same({ 2, "changed", 1, "before" }, r)
      end)

      it("raises the function's error with its text, value and traceback", function()
        local r = run(mode, [[
          local function inner () error("bad input at line 3") end
          local ok, e = pcall(lj.call, lj.empty {}, function () inner() end)
          local ok2, e2 = pcall(lj.call, lj.empty {}, function () error({ code = 7 }) end)
          return { ok = ok, mt = getmetatable(e).__name, message = e.message,
                   traceback = e.traceback, text = tostring(e),
                   ok2 = ok2, code = e2.value.code, message2 = e2.message }
        ]])
        assert.is_false(r.ok)
        assert.equal("lunajail.CallError", r.mt)
        assert.matches("^%S+:%d+: bad input at line 3$", r.message)
        assert.matches("^stack traceback:\n", r.traceback)
        assert.matches("in upvalue 'inner'", r.traceback)
        assert.not_matches("core.call", r.traceback)   -- fn's frames, not ours
        assert.equal(r.message .. "\n(in the sandbox) " .. r.traceback, r.text)
        assert.is_false(r.ok2)
        assert.equal(7, r.code)
        assert.equal("(error object is a table value)", r.message2)
      end)

      it("reports a failing step as the step error", function()
        local r = run(mode, [[
          local ok, e = pcall(lj.call, lj.container {
            cwd = "/nonexistent-lunajail-call" }, function () return 1 end)
          return { ok = ok, mt = getmetatable(e).__name, op = e.op, errname = e.errname,
                   step = e.step, message = tostring(e) }
        ]])
        assert.is_false(r.ok)
        assert.equal("lunajail.StepError", r.mt)
        assert.equal("chdir", r.op)
        assert.equal("ENOENT", r.errname)
        assert.is_true(r.step > 0)
        assert.matches("^step %d+ chdir%(\"/nonexistent%-lunajail%-call\"%)", r.message)
      end)

      it("cannot touch host files the recipe does not bind (lj.empty{} can)", function()
        if novalgrind() then return end
        local r = run(mode, [[
          local dir = io.popen("mktemp -d /tmp/lunajail-call.XXXXXX"):read("l")
          os.execute("chmod 755 " .. dir)
          local f = assert(io.open(dir .. "/secret", "w"))
          f:write("the host's")
          f:close()
          local function attack ()
            local s = io.open(dir .. "/secret")
            local w = io.open(dir .. "/planted", "w")
            if w then w:write("x") w:close() end
            return s and s:read("a") or false, w ~= nil
          end
          local read, wrote = lj.call(lj.container {}, attack)
          local planted = io.open(dir .. "/planted") ~= nil
          local read2, wrote2 = lj.call(lj.empty {}, attack)
          os.execute("rm -rf " .. dir)
          return { read = read, wrote = wrote, planted = planted, read2 = read2, wrote2 = wrote2 }
        ]])
        assert.is_false(r.read)
        assert.is_false(r.wrote)
        assert.is_false(r.planted)
        assert.equal("the host's", r.read2)
        assert.is_true(r.wrote2)
      end)

      it("prints to the caller's stdout; reads /dev/null", function()
        local r, text = H.run(mode, [[
          return lj.call(lj.empty {}, function ()
            print("from the sandbox")
            return io.read("a")
          end)
        ]])
        assert.equal("", r[1])
        assert.matches("from the sandbox\n", text)
      end)

      it("runs the function in the recipe's cgroup (limits)", function()
        if novalgrind() then return end
        local r = run(mode, [[
          if not require("lunajail.cgroup").available() then return "none" end
          local c = assert(lj.spawn_call(lj.container { limits = { memory = "256m", pids = 16 } },
            function () local s = ("x"):rep(16 << 20) return #s end))
          local n = c:result(60)
          local f = c:cgroup()
          c:close()
          return { n = n, peak = f.memory_peak, path = f.path }
        ]])
        if r == "none" then
          return H.skip("no cgroup for this caller here (see spec/cgroup_spec.lua)")
        end
        assert.equal(16 << 20, r.n)
        assert.is_true(r.peak >= 16 << 20, "memory peak " .. tostring(r.peak))
        assert.matches("/lunajail/%d+%-%d+$", r.path)
      end)

      it("stops a function that loops forever at the timeout", function()
        if novalgrind() then return end
        local r = run(mode, [[
          -- (not untrusted: its address space limit counts the copy's whole
          -- heap, ASan's shadow too)
          local c = assert(lj.spawn_call(lj.container {}, function () while true do end end))
          local ok, e = pcall(c.result, c, 1)
          local st = c:status()
          c:close()
          return { ok = ok, e = e, signame = st.signame }
        ]])
        assert.is_false(r.ok)
        assert.equal("lunajail: call: timed out after 1 s (the sandbox is killed)", r.e)
        assert.equal("SIGKILL", r.signame)
      end)

      it("hands an event loop a child object, and decodes what it read", function()
        if novalgrind() then return end
        local r = run(mode, [[
          local loop = require("lunajail.loop.poll").new()
          local results = {}
          for i = 1, 3 do
            local c = assert(lj.spawn_call(lj.container {}, function (n) return n * n end, i))
            local got = {}
            loop:watch(c, { stdout = function (s) got[#got + 1] = s end,
                            exit = function (st)
                              results[i] = lj.call_decode(c, table.concat(got), st)
                            end })
          end
          assert(loop:run(60))
          return results
        ]])
        assert.same({ 1, 4, 9 }, r)
      end)

      -- {====== Bad input ======}

      it("refuses values that cannot cross, naming where they are", function()
        local r = run(mode, [[
          local function try (f)
            local ok, e = pcall(lj.call, lj.empty {}, f)
            return ok and "returned" or tostring(e)
          end
          local co = coroutine.create(function () end)
          return {
            try(function () return 1, print end),
            try(function () local t = {} t.self = { t } return t end),
            try(function () return { files = { io.stdout } } end),
            try(function () return { [co] = 1 } end),
            try(function () return ("x"):rep(core.CALL_MAX + 1) end),
            try(function () local t = {} for _ = 1, 200 do t = { t } end return t end),
            try(function () local t = {} return t, t end),         -- shared: copied
          }
        ]])
        local can = " cannot leave the sandbox %(nil, booleans, numbers, strings and " ..
                    "tables of them can%)$"
        assert.matches("^lunajail: call: result #2: a function" .. can, r[1])
        assert.matches("^lunajail: call: result #1.self%[1%]: a table inside itself " ..
                       "%(a cycle%)" .. can, r[2])
        assert.matches("^lunajail: call: result #1.files%[1%]: a userdata" .. can, r[3])
        assert.matches("^lunajail: call: result #1: a coroutine" .. can, r[4])
        assert.matches("^lunajail: call: the results are larger than %d+ bytes$", r[5])
        assert.matches("^lunajail: call: result #1%[1%]%[1%]%[1%][%[%]1]*: tables " ..
                       "nested deeper than 100 levels$", r[6])
        assert.equal("returned", r[7])
      end)

      it("refuses fn not a function, recipe fields it cannot use, a dead or " ..
         "closed child", function()
        local r = run(mode, [[
          local out = {}
          local function try (...) out[#out + 1] = select(2, pcall(...)) end
          try(lj.call, lj.empty {}, 42)
          try(lj.call, lj.empty {}, nil)
          try(lj.call, lj.empty { stdio = { "null", "null", "null" } }, function () end)
          try(lj.call, lj.empty { fds = { [3] = 1 } }, function () end)
          try(lj.call, { nonsense = 1 }, function () end)
          local c = assert(lj.spawn(lj.empty { argv = { "true" } }))
          c:wait()
          try(lj.call, c, function () end)
          c:close()
          try(lj.call, c, function () end)
          local s = assert(core.spawn { argv = { "/bin/sleep", "60" } })
          try(lj.call, s, function () end)
          s:close()
          return out
        ]])
        assert.equal("lunajail: call: fn: a function expected, got number", r[1])
        assert.equal("lunajail: call: fn: a function expected, got nil", r[2])
        assert.matches("^lunajail: call: recipe.stdio: a function's stdout and stderr " ..
                       "are the caller's", r[3])
        assert.matches("^lunajail: call: recipe.fds: a function gets no fds", r[4])
        assert.matches("^lunajail: recipe: unknown field 'nonsense'", r[5])
        assert.matches("^lunajail: call: the sandbox has exited %(pid %d+, exited 0%)", r[6])
        assert.equal("lunajail: call: the child is closed", r[7])
        assert.matches("^lunajail: call: this child was not started by lj.spawn", r[8])
      end)

      it("decodes nothing but a well-formed result stream (it is untrusted)", function()
        local r = run(mode, [[
          local c, info = core.call({}, function () return { a = 1 }, "b" end)
          local good = assert(c:read_all("stdout", 60))
          c:wait()
          c:close()
          local out = { ok = table.pack(core.call_result(info, good)) }
          local bad = { "", "R", "R\1\0\0\0", "R\1\0\0\0s\255\255\255\255",
                        "R\1\0\0\0T\255\255\255\127", "Rxyz", "Q", good .. "x",
                        "S\9\0\0\0\2\0\0\0", "R\1\0\0\0T\1\0\0\0nn" }
          math.randomseed(13)
          for _ = 1, 300 do                      -- cut and flipped copies
            local s = good:sub(1, math.random(0, #good))
            local k = math.random(1, math.max(1, #s))
            bad[#bad + 1] = s:sub(1, k - 1) .. string.char(math.random(0, 255)) .. s:sub(k + 1)
          end
          out.kinds = {}
          for i, b in ipairs(bad) do
            local ok, a = pcall(core.call_result, info, b)
            local kind = not ok and (a:match("^lunajail: call: the sandbox's result is " ..
                                             "malformed") and "malformed" or a) or a
            out.kinds[i] = kind
          end
          return out
        ]])
        assert.equal("ok", r.ok[1])
        assert.equal(1, r.ok[3].a)
        assert.equal("b", r.ok[4])
        assert.equal("incomplete", r.kinds[1])
        for i = 2, 10 do assert.equal("malformed", r.kinds[i], "case " .. i) end
        for i = 11, #r.kinds do
          assert.is_true(r.kinds[i] == "malformed" or r.kinds[i] == "incomplete" or
                         r.kinds[i] == "ok" or r.kinds[i] == "error", r.kinds[i])
        end
      end)

      it("refuses a host process of several threads rather than hang", function()
        local r = run(mode, [[
          local ok, uv = pcall(require, "luv")
          if not ok then return "no luv" end
          local t = uv.new_thread(function () require("luv").sleep(2000) end)
          local ok2, e = pcall(lj.call, lj.empty {}, function () return 1 end)
          t:join()
          return { ok = ok2, e = e }
        ]])
        if r == "no luv" then return H.skip("lua-luv is not installed: no thread to start") end
        assert.is_false(r.ok)
        assert.matches("^lunajail: call: this process has 2 threads: a fork copies only " ..
                       "the calling one", r.e)
      end)
    end)
  end
end)
