-- the seccomp notify action (csrc/notify.c): the calls a recipe's
-- seccomp.notify names wait in the kernel until the child object's
-- handler allows them, denies them with an errno, or returns a value
local H = require "helper"

-- a snippet's prelude: R(argv, notify) is a container recipe whose
-- seccomp notifies those calls; has() says whether the kernel can
local PRE = [[
  local function R (script, notify, extra)
    local t = { argv = { "sh", "-c", script },
                seccomp = { preset = "default", notify = notify } }
    for k, v in pairs(extra or {}) do t[k] = v end
    return lj.container(t)
  end
  local function has ()
    return pcall(core.seccomp_filter, { rules = { { "notify", "getppid" } } })
  end
  if not has() then return { skip = "no seccomp notify (libseccomp or kernel)" } end
]]

local function run (mode, code)
  local r = H.lua(mode, PRE .. code)
  if r.skip then H.skip(r.skip) end
  return r
end

describe("the seccomp notify action", function()
  for _, mode in ipairs(H.modes) do
    it("allows the calls its handler allows, and sees each of them, as " .. mode, function()
      local r = run(mode, [[
        local seen = {}
        local c = assert(lj.spawn(R("echo hi > /tmp/x && cat /tmp/x", { "openat" })))
        c:on_notify(function (n, child)
          local path = child:notify_string(n, "a1")
          if path == "/tmp/x" then seen[#seen + 1] = n.syscall .. " " .. path end
          return "allow"
        end)
        local out, err, st = c:communicate(nil, 30)
        c:close()
        return { out = out, code = st.code, seen = seen }
      ]])
      assert.equal("hi\n", r.out)
      assert.equal(0, r.code)
      -- the shell's creating open, then cat's: both went by the handler
      assert.same({ "openat /tmp/x", "openat /tmp/x" }, r.seen)
    end)

    it("denies with its handler's errno, deciding on the path argument, as " .. mode, function()
      local r = run(mode, [[
        local c = assert(lj.spawn(R("echo hi > /tmp/x; cat /tmp/x; echo rc=$?", { "openat" })))
        c:on_notify(function (n, child)
          local path = assert(child:notify_string(n, 2))
          local flags = n.args[3] & 3                  -- O_ACCMODE
          if path == "/tmp/x" and flags == 0 then return "deny", "EACCES" end
          return "allow"
        end)
        local out, err = c:communicate(nil, 30)
        c:close()
        return { out = out, err = err }
      ]])
      assert.equal("rc=1\n", r.out)
      assert.matches("cat: /tmp/x: Permission denied", r.err)
    end)

    it("returns the value its handler gives, without running the call, as " .. mode, function()
      local r = run(mode, [[
        local calls = 0
        local c = assert(lj.spawn(R("echo $PPID", { "getppid" })))
        c:on_notify(function (n)
          assert(n.syscall == "getppid" and n.nr == core.seccomp_resolve("getppid"))
          calls = calls + 1
          return 4242
        end)
        local out = c:communicate(nil, 30)
        c:close()
        return { out = out, calls = calls }
      ]])
      assert.equal("4242\n", r.out)
      assert.equal(1, r.calls)
    end)

    it("serves many calls of several sandboxes from an event loop, as " .. mode, function()
      local r = run(mode, [[
        local loop = require("lunajail.loop.poll").new()
        local counts, outs = {}, {}
        for k = 1, 3 do
          local c = assert(lj.spawn(R("echo x > /tmp/f; i=0; while [ $i -lt 200 ]; do " ..
                                      ": < /tmp/f; i=$((i+1)); done; echo done", { "openat" })))
          counts[k] = 0
          c:on_notify(function (n, child)
            if child:notify_string(n, 2) == "/tmp/f" then counts[k] = counts[k] + 1 end
            return "allow"
          end)
          loop:watch(c, { stdout = function (s) outs[k] = (outs[k] or "") .. s end })
        end
        assert(loop:run(60))
        return { counts = counts, outs = outs }
      ]])
      assert.same({ 201, 201, 201 }, r.counts)  -- the creating open, then 200
      assert.same({ "done\n", "done\n", "done\n" }, r.outs)
    end)

    it("is served by the luv and cqueues adapters, as " .. mode, function()
      local r = run(mode, [[
        local out = {}
        local okluv, uv = pcall(require, "luv")
        if okluv then
          local c = assert(lj.spawn(R("echo $PPID", { "getppid" })))
          c:on_notify(function () return 11 end)
          require("lunajail.loop.luv").watch(c, { stdout = function (s) out.luv = s end })
          uv.run()
        end
        local okcq, cqueues = pcall(require, "cqueues")
        if okcq then
          local cq = require "lunajail.loop.cqueues"
          cqueues.new():wrap(function ()
            local c = assert(lj.spawn(R("echo $PPID", { "getppid" })))
            c:on_notify(function () return 12 end)
            out.cqueues = cq.communicate(c, nil, 30)
            cq.close(c)
          end):loop()
        end
        return { out = out, luv = okluv, cq = okcq }
      ]])
      if r.luv then assert.equal("11\n", r.out.luv) end
      if r.cq then assert.equal("12\n", r.out.cqueues) end
      if not (r.luv and r.cq) then H.skip("luv or cqueues is not installed") end
    end)

    it("never leaves the payload waiting: no handler, a raising handler, as " .. mode, function()
      local r = run(mode, [[
        local c = assert(lj.spawn(R("echo $PPID; echo $PPID", { "getppid" })))
        local out1, _, st1 = c:communicate(nil, 30)      -- no handler: ENOSYS
        c:close()
        c = assert(lj.spawn(R("mkdir /tmp/a; echo rc=$?", { "mkdir", "mkdirat" })))
        c:on_notify(function () error("handler bug") end)
        local ok, e = pcall(c.wait, c, 30)
        c:on_notify(nil)
        local out2, err2, st2 = c:communicate(nil, 30)
        c:close()
        return { out1 = out1, code1 = st1.code, ok = ok, e = tostring(e),
                 out2 = out2, err2 = err2, code2 = st2.code }
      ]])
      assert.matches("^%-?%d*\n", r.out1)    -- the shell started, whatever $PPID says
      assert.equal(0, r.code1)
      assert.is_false(r.ok)
      assert.matches("handler bug", r.e)
      assert.equal("rc=1\n", r.out2)
      assert.matches("Function not implemented", r.err2)
      assert.equal(0, r.code2)
    end)

    it("answers ENOSYS when the handler returns nonsense, and says so, as " .. mode, function()
      local r = run(mode, [[
        local c = assert(lj.spawn(R("mkdir /tmp/a; echo rc=$?", { "mkdir", "mkdirat" })))
        c:on_notify(function () return "maybe" end)
        local ok, e = pcall(c.wait, c, 30)
        c:on_notify(function () return "deny", "ENOPE" end)
        local ok2, e2 = pcall(c.wait, c, 30)
        c:on_notify(nil)
        local out, err = c:communicate(nil, 30)
        c:close()
        return { ok = ok, e = tostring(e), ok2 = ok2, e2 = tostring(e2), out = out, err = err }
      ]])
      assert.is_false(r.ok)
      assert.matches("on_notify: the handler returned maybe", r.e)
      assert.equal("rc=1\n", r.out)
      assert.matches("Function not implemented", r.err)
    end)

    it("frees a waiting call when the child object is closed, as " .. mode, function()
      local r = run(mode, [[
        local rfd, wfd = assert(core.pipe())
        local c = assert(lj.spawn(R("mkdir /tmp/a 2>&1; echo rc=$?", { "mkdir", "mkdirat" },
                                    { stdio = { "null", wfd, "null" } })))
        core.close(wfd)
        -- the call waits: the listener is readable
        local fd = assert(c:notify_fd())
        local items = { { fd = fd, events = "r" } }
        local dl = core.monotonic() + 30
        repeat core.poll(items, 1)
        until items[1].revents ~= "" or core.monotonic() > dl
        local waited = items[1].revents
        c:setkill(false)                     -- the sandbox runs on
        c:close()
        local f = assert(io.open("/proc/self/fd/" .. rfd))
        local out = f:read("a")
        f:close()
        core.close(rfd)
        return { waited = waited, out = out }
      ]])
      assert.equal("r", r.waited)
      assert.matches("Function not implemented\nrc=1\n$", r.out)
    end)

    it("is served by lj.run while it waits (opts.notify), as " .. mode, function()
      local r = run(mode, [[
        local res = assert(lj.run(R("echo $PPID", { "getppid" }), {
          notify = function (n) return n.syscall == "getppid" and 7 or "allow" end,
          timeout = 30 }))
        local plain = assert(lj.run(R("echo $PPID", { "getppid" }), { timeout = 30 }))
        return { out = res.stdout, code = res.code, plain = plain.stdout }
      ]])
      assert.equal("7\n", r.out)
      assert.equal(0, r.code)
      assert.not_equal("7\n", r.plain)       -- no handler: ENOSYS, not 7
    end)

    it("serves an asynchronous spawn, and lets setup's own calls go, as " .. mode, function()
      local r = run(mode, [[
        -- the payload's execve is setup's (the runner's exec step, after
        -- the filter): allowed without the handler
        local plan = R("echo $PPID", { "getppid", "execve" }):steps()
        plan.async = true
        local c = assert(core.spawn(plan))
        local names = {}
        c:on_notify(function (n)
          names[#names + 1] = n.syscall
          return n.syscall == "getppid" and 99 or "allow"
        end)
        local out = c:communicate(nil, 30)
        local started = c:started()
        c:close()
        return { out = out, started = started, names = table.concat(names, " ") }
      ]])
      assert.equal("99\n", r.out)
      assert.is_true(r.started)
      assert.equal("getppid", r.names)       -- sh's exec was setup's
    end)

    it("starts a payload that ends at once (its listener hung up before setup was read), as " ..
       mode, function()
      local r = run(mode, [[
        local bad = {}
        for i = 1, 40 do
          local plan = R("true", { "getppid" }):steps()
          plan.async = i % 2 == 0
          local c, err = core.spawn(plan)
          if c then c:wait(30) end
          local ok, e = true, nil
          if c then ok, e = c:started() end
          if not c or ok ~= true then bad[#bad + 1] = tostring(err or e) end
          if c then c:close() end
        end
        return bad
      ]])
      assert.same({}, r)
    end)

    it("keeps lunajail-init's own calls from the handler, as " .. mode, function()
      local r = run(mode, [[
        -- init closes its fds after the fork and reaps with wait4, as the
        -- shell does for its background job
        local c = assert(lj.spawn(R("/bin/true & wait; echo ok", { "wait4", "close_range" })))
        local theirs, init = 0, 0
        c:on_notify(function (n)
          if n.pid == c.pid then init = init + 1 else theirs = theirs + 1 end
          return "allow"
        end)
        local out, _, st = c:communicate(nil, 30)
        c:close()
        return { out = out, code = st.code, theirs = theirs, init = init }
      ]])
      assert.equal("ok\n", r.out)
      assert.equal(0, r.code)
      assert.equal(0, r.init)
      assert.is_true(r.theirs >= 1)          -- the shell's wait
    end)
  end

  it("takes notify rules in a filter of the recipe's own, and in its raw BPF", function()
    local r = run(H.modes[1], [[
      local f = core.seccomp_filter{ rules = { { "notify", "getppid" } } }
      local outs = {}
      for _, sc in ipairs { { rules = { { "notify", "getppid" } } }, f, { bpf = f:export() } } do
        local res = assert(lj.run(lj.container{ argv = { "sh", "-c", "echo $PPID" },
                                                seccomp = sc },
                                  { notify = function () return 5 end, timeout = 30 }))
        outs[#outs + 1] = res.stdout
      end
      return outs
    ]])
    assert.same({ "5\n", "5\n", "5\n" }, r)
  end)

  it("lists the notified calls in explain and loads their filter last", function()
    local r = run(H.modes[1], [[
      local rc = R("true", { "openat", "uname" })
      local plan = rc:steps()
      local last = plan.steps[#plan.steps]
      return { text = rc:explain(), last = last[1], d = core.describe(last) }
    ]])
    assert.matches("notify: 2 calls %(openat, uname%)", r.text)
    assert.matches("openat%s+notify", r.text)
    assert.equal("seccomp", r.last)
    assert.matches("notify listener", r.d)
  end)

  -- misuse that needs a notify filter built: libseccomp under valgrind
  -- sees no notify support (it probes the kernel through valgrind)
  local withfilter = {
    { "core.seccomp(core.seccomp_filter{ rules = { {'notify', 'getppid'} } })",
      "loads only in a spawned sandbox" },
    { "core.seccomp_filter{ rules = { {'notify', 'getppid'} } }:load()",
      "loads only in a spawned sandbox" },
    { "core.check{ argv = {'true'}, steps = { " ..
      "{'seccomp', core.seccomp_filter{ rules = { {'notify', 'getppid'} } }}, " ..
      "{'seccomp', core.seccomp_filter{ rules = { {'notify', 'uname'} } }} } }",
      "plan.steps%[2%] seccomp: a second filter with notify rules" },
    { "assert(lj.stepper(lj.container{ argv = {'true'}, seccomp = { notify = { 'getppid' } } " ..
      "})):rest()", "stepper: step %d+ seccomp: a filter with notify rules .*%(not in a " ..
      "stepper%)" },
    { "lj.call(lj.container{ seccomp = { notify = { 'getppid' } } }, function () end)",
      "needs a child object to answer its calls" },
  }
  if H.valgrind then
    it("rejects misuse of notify filters", function ()
      H.skip("under valgrind, whose libseccomp sees no notify support")
    end)
  else
    H.rejects(withfilter)
  end

  H.rejects {
    { "lj.container{ seccomp = { notify = 'openat' } }:steps()",
      "recipe.seccomp.notify: a list of syscall names expected" },
    { "lj.container{ seccomp = { notify = { 'nosuchcall' } } }:steps()",
      "recipe.seccomp.notify%[1%]: unknown syscall \"nosuchcall\"" },
    { "lj.container{ seccomp = { rules = {}, notify = { 'openat' } } }",
      "recipe.seccomp.notify: goes with a preset" },
    { "lj.run(lj.container{ argv = {'true'} }, { notify = 5 })",
      "run: opts.notify: a function expected, got number" },
    { "assert(core.spawn{argv = {'true'}}):on_notify(5)",
      "#2 %(handler%): a function or nil expected" },
    { "assert(core.spawn{argv = {'true'}}):notify_string({id = 1, pid = 1, args = {0}}, " ..
      "'a9')", "#3 %(arg%): \"a0\"..\"a5\" or 1..6 expected" },
  }
end)
