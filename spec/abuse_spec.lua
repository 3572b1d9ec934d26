-- abuse: a fork bomb, a memory bomb, a disk filler and an output flood
-- are contained by the recipe's limits, and the host goes on
local H = require "helper"
-- lj.untrusted limits nofile, which valgrind keeps for itself
local NOFILE = "refuses setrlimit(RLIMIT_NOFILE) to the programs it runs, " ..
               "sandboxes included (lj.untrusted sets nofile = 64)"

describe("abuse", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("contains a fork bomb: nproc, then the timeout, and nothing is left", function()
        if H.novalgrind(NOFILE) then return end
        local r = H.lua(mode, [[
          -- processes in the sandbox's pid namespace, counted from the host
          local function members (ns)
            local n = 0
            local h = io.popen("for p in /proc/[0-9]*; do readlink $p/ns/pid; done 2>/dev/null")
            for l in h:lines() do if l == ns then n = n + 1 end end
            h:close()
            return n
          end
          local c = assert(lj.spawn(lj.untrusted{ argv = {"sh", "-c",
            "while :; do (sleep 30 &) 2>/dev/null; done"}, rlimits = { nproc = 64 } }))
          local h = io.popen("readlink /proc/" .. c.pid .. "/ns/pid")
          local ns = h:read("l")
          h:close()
          core.poll({}, 1.5)
          local during = members(ns)
          local st = c:terminate(1)
          c:close()
          local left
          for _ = 1, 100 do
            left = members(ns)
            if left == 0 then break end
            core.poll({}, 0.05)
          end
          -- the host forks as it did
          local after = lj.run(lj.empty{ argv = {"/bin/true"} })
          return { during = during, left = left, host = after.code, signame = st.signame,
                   kids = require("plans").childcount() }
        ]])
        assert.is_true(r.during <= 64 + 2, "processes: " .. r.during)  -- + init
        assert.is_true(r.during > 10)                 -- it did try
        assert.equal(0, r.left)
        assert.equal(0, r.host)
        assert.equal(0, r.kids)
      end)

      it("contains a memory bomb with the address-space limit", function()
        if H.novalgrind(NOFILE) then return end
        local r = H.lua(mode, [[
          local function rss ()
            for l in io.lines("/proc/self/status") do
              local kb = l:match("^VmRSS:%s+(%d+)")
              if kb then return tonumber(kb) end
            end
          end
          local before = rss()
          local res = lj.run(lj.untrusted{ argv = {"lua5.4", "-e",
            "local t = {} while true do t[#t+1] = string.rep('x', 1 << 20) end"} },
            { timeout = 30 })
          return { code = res.code, err = res.stderr, grew = rss() - before }
        ]])
        assert.equal(1, r.code)
        assert.matches("not enough memory", r.err)
        assert.is_true(r.grew < 16 * 1024)           -- kB: the host did not grow
      end)

      it("contains a disk filler: ENOSPC in /tmp, SIGXFSZ past fsize", function()
        local r = H.lua(mode, [[
          local a = lj.run(lj.container{ argv = {"sh", "-c",
            "head -c 100000000 /dev/zero > /tmp/f; echo rc=$?; ls -l /tmp/f | " ..
            "awk '{print $5}'; for i in $(seq 100000); do : > /tmp/$i || break; done; " ..
            "echo files=$(ls /tmp | wc -l)"} }, { timeout = 60 })
          local b = lj.run(lj.container{ argv = {"sh", "-c",
            "head -c 10000000 /dev/zero > /tmp/g"}, rlimits = { fsize = 1024 * 1024 } },
            { timeout = 30 })
          return { out = a.stdout, err = a.stderr, sig = b.signame, sigexit = b.code }
        ]])
        assert.matches("rc=1", r.out)
        local size = tonumber(r.out:match("rc=1\n(%d+)"))
        assert.is_true(size <= 4 * 1024 * 1024)        -- the 4 MB /tmp
        assert.matches("No space left on device", r.err)
        -- SIGXFSZ kills head; the shell reports it as 128+25
        assert.is_true(r.sig == "SIGXFSZ" or r.sigexit == 128 + 25)
      end)

      it("bounds an output flood: the child is killed, the host keeps 1 MB", function()
        local r = H.lua(mode, [[
          local res = lj.run(lj.container{ argv = {"head", "-c", "1000000000", "/dev/zero"} },
                             { timeout = 60, max_output = 1024 * 1024 })
          return { n = #res.stdout, limit = res.output_limit, sig = res.signame }
        ]])
        assert.equal(1024 * 1024, r.n)
        assert.is_true(r.limit)
        assert.equal("SIGKILL", r.sig)
      end)
    end)
  end
end)
