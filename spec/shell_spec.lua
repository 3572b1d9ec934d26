-- the shell preset on a real terminal: examples/shell.lua driven through
-- a pty of its own (spec/helpers/ptydrive.py: python3's pty module), as
-- a user at a terminal would: type, read the screen, resize, ^C, exit
local H = require "helper"

describe("the shell on a real terminal", function()
  for _, mode in ipairs(H.modes) do
    it("has a pty of the sandbox's own, follows resizes, takes ^C, restores the " ..
       "terminal, as " .. mode, function()
      local out = H.lua(mode, ([[
        if not os.execute("command -v python3 >/dev/null") then return "no python3" end
        local h = io.popen("timeout -s KILL 200 python3 %s/spec/helpers/ptydrive.py " ..
                           TOP .. " " .. BUILD .. " 2>&1")
        local out = h:read("a")
        h:close()
        return out
      ]]):format(H.top))
      if out == "no python3" then return H.skip("python3 is not installed") end
      local r = {}
      for k, v in out:gmatch("([^\n:]+): ([^\n]*)") do r[k] = v end
      assert.equal("/dev/pts/0", r.tty, out)          -- its own devpts, its first pty
      assert.matches("^0%s+ptmx$", r.pts, out)        -- listed there
      assert.equal("40 123", r.size, out)             -- the resize reached it
      assert.equal("shell alive", r["after ^C"], out) -- ^C stopped the sleep
      assert.equal("alive", r["host script"], out)    -- and not the script
      assert.equal("0", r["exit status"], out)
      assert.equal("True", r.restored, out)           -- cooked mode again
    end)
  end

  it("a plan's pty step: a pty of the sandbox's devpts, its master to the child object", function()
    local r = H.lua(H.modes[1], [[
      local rec = lj.container{ argv = {"sh", "-c", "tty; ls /dev/pts"},
                                stdio = "pty" }
      local plan = rec:steps()
      local has
      for _, st in ipairs(plan.steps) do if st[1] == "pty" then has = st[2] end end
      local c = assert(lj.spawn(rec))
      c:resize(12, 34)
      local out = c:read_all()
      c:wait()
      -- without a /dev of its own: the caller's devpts, as before
      local e = assert(lj.spawn(lj.empty{ argv = {"tty"}, stdio = "pty" }))
      local host = e:read_all()
      e:wait()
      return { step = has, out = out, host = host }
    ]])
    assert.equal("/dev/pts/ptmx", r.step)
    assert.matches("^/dev/pts/0\r\n", r.out)
    assert.matches("^/dev/pts/%d+\r\n$", r.host)
  end)
end)
