-- a cgroup for every sandbox with limits (issue 15; issue 10 item 11):
-- the limits hold for the tree, the tree is killed as a whole, the status
-- says why it ended, nothing is left behind.  Run here on cgroup v1 and,
-- by make test-vm, on a v2-only kernel (LJ_VM=1), where uid 65534 gets a
-- delegated sub-tree as systemd gives one.
local H = require "helper"

local VM = os.getenv("LJ_VM") ~= nil
-- TCG: fork+exec is 60 times slower; valgrind: a run takes a tenth of
-- a second; either way 1,000 runs would outlast a snippet's 120 s
local RUNS = (VM or H.valgrind) and 100 or 1000

-- in every snippet: S, cgroup, LAY (the layout), mine(pid) (the names of
-- the cgroups lunajail/<pid>-* of pid, ours by default, in every
-- hierarchy), gone(pid) (no such process, or a zombie), slurp(c) (a
-- child's stdout until it ends)
local PRE = [[
  local S = require "snip"
  local cgroup = require "lunajail.cgroup"
  local LAY = cgroup.layout()
  local function mounts ()
    local m = {}
    if LAY.version == 2 then m[1] = LAY.h.mount
    else for _, h in pairs(LAY.hier) do m[#m + 1] = h.mount end end
    return table.concat(m, " ")
  end
  local function mine (pid)
    return S.sh("find " .. mounts() .. " -maxdepth 9 -type d -path '*/lunajail/" ..
                (pid or core.getpid()) .. "-*' 2>/dev/null | sort -u")
  end
  local function gone (pid)
    local s = S.read("/proc/" .. pid .. "/stat")
    return s == nil or s:match("%) (%a)") == "Z"
  end
]]

-- uid 65534 on v2: a delegated cgroup as systemd's user@.service gives
-- one (owned by the user: the directory, cgroup.procs, subtree_control,
-- threads); the snippet moves there as root, then becomes 65534
local DELEGATE = [[
  local D = LAY.h.mount .. "/lunajail-spec-" .. core.getpid()
  assert(os.execute("mkdir " .. D .. " && chown 65534:65534 " .. D .. " " .. D ..
                    "/cgroup.procs " .. D .. "/cgroup.subtree_control " .. D ..
                    "/cgroup.threads"))
  local f = assert(io.open(D .. "/cgroup.procs", "w"))
  f:write(core.getpid()) f:close()
  assert(core.setgroups({}))
  assert(core.setresgid(65534, 65534, 65534))
  assert(core.setresuid(65534, 65534, 65534))
  assert(core.dumpable(true))            -- its child's /proc files: ours
  MODE = "nobody"
]]

-- the host's layout, and who can have a cgroup
local LAYOUT = H.lua(H.modes[1], PRE .. [[
  return LAY and LAY.version, LAY and LAY.version == 2 and
    S.read(LAY.h.mount .. "/cgroup.controllers") or ""]])
local V2 = LAYOUT == 2
local V1WHY = "this host has its controllers on cgroup v1: make test-vm runs this on a " ..
              "v2-only kernel"

-- how a mode runs with a cgroup: root always; uid 65534 on v2 through a
-- delegated cgroup (removed after the snippet); else nil and why not
local function runner (mode)
  if mode ~= "nobody" then return function (code) return H.lua(mode, PRE .. code) end end
  if not V2 then
    return nil, "uid 65534 cannot have a cgroup on cgroup v1, whose hierarchies belong " ..
                "to root (the error saying so is checked below)"
  end
  return function (code)
    local r = H.run("root", PRE .. DELEGATE .. "return D, (function () " .. code ..
                    " end)()")
    local d = r[1]
    -- the snippet is gone: its cgroup, the caller's leaf, the sub-tree; a
    -- process it killed on its way out may still be exiting (SIGKILL is
    -- delivered, not awaited), so give the kernel up to 5 s to empty them
    H.sh("for i in $(seq 50); do rmdir " .. d .. "/lunajail-caller " .. d .. "/lunajail " ..
         d .. " 2>/dev/null; test -d " .. d .. " || break; sleep 0.1; done")
    local left = H.sh("test -d " .. d .. " && for p in $(cat $(find " .. d ..
                      " -name cgroup.procs)); do echo $p $(tr '\\0' ' ' </proc/$p/cmdline)" ..
                      " $(grep -E 'State|PPid|NSpid' /proc/$p/status) $(cat /proc/$p/cgroup);" ..
                      " done; test -d " .. d .. " && echo left")
    assert(not left:find("left"), d .. " left behind, holding: " .. left)
    return table.unpack(r, 2, r.n)
  end
end

describe("limits", function()
  describe("bad input raises naming the field, before anything is made", function()
    for _, case in ipairs {
      { 'limits = { memory = "lots" }', "recipe%.limits%.memory: a size like" },
      { 'limits = { memory = 0 }', "recipe%.limits%.memory: .*at least 1m" },
      { 'limits = { swap = "-1" }', "recipe%.limits%.swap: a size" },
      { 'limits = { pids = -1 }', "recipe%.limits%.pids: a number of processes" },
      { 'limits = { pids = 1.5 }', "recipe%.limits%.pids: a number of processes" },
      { 'limits = { cpu = 0 }', "recipe%.limits%.cpu: a number from 0%.01" },
      { 'limits = { cpu = 0/0 }', "recipe%.limits%.cpu: .* got NaN" },
      { 'limits = { cpu = "1" }', "recipe%.limits%.cpu: number expected" },
      { 'limits = { cpuset = "8000" }', "recipe%.limits%.cpuset: CPU 8000 is not on " ..
        "this machine" },
      { 'limits = { cpuset = "1-0" }', "recipe%.limits%.cpuset: " },
      { 'limits = { io_weight = 0 }', "recipe%.limits%.io_weight: a weight from 1" },
      { 'limits = { memroy = "1g" }', "recipe%.limits%.memroy: unknown limit %(did you " ..
        "mean 'memory'%?%)" },
      { 'limits = "256m"', "recipe%.limits: table" },
      { 'limits = { parent = "batch" }', "recipe%.limits%.parent: absolute path" },
      { 'limits = { parent = "/no/such/cgroup" }', "recipe%.limits%.parent: " ..
        "\"/no/such/cgroup\": no such cgroup" },
    } do
      it("rejects " .. case[1], function()
        local ok, err, made = H.lua(H.modes[1], PRE .. ([[
          local ok, err = pcall(function ()
            return lj.spawn(lj.empty{ argv = {"true"}, %s })
          end)
          return ok, err, mine()
        ]]):format(case[1]))
        assert.is_false(ok)
        assert.matches(case[2], err)
        assert.equal("", made)
      end)
    end

    it("rejects a parent that is not the caller's to write, as nobody", function()
      if not H.root then return H.skip("needs root to run a snippet as uid 65534") end
      local err = H.raises("nobody", [[
        return lj.spawn(lj.empty{ argv = {"true"}, limits = { parent = "/" } })]])
      assert.matches("recipe%.limits%.parent: \"/\" %(.-%) is not delegated to uid 65534",
                     err)
    end)

    it("says exactly what to run when the caller has no cgroup of its own, as nobody",
       function()
      if not H.root then return H.skip("needs root to run a snippet as uid 65534") end
      local err = H.raises("nobody", [[
        return lj.spawn(lj.empty{ argv = {"true"}, limits = { pids = 8 } })]])
      if V2 then
        assert.matches("recipe%.limits: cgroup v2 needs a cgroup delegated to uid 65534", err)
        assert.matches("systemd%-run %-%-user %-%-scope %-p Delegate=yes", err)
      else
        assert.matches("recipe%.limits: the cgroup v1 hierarchies belong to root", err)
      end
      assert.matches("limits = lunajail%.none", err)
    end)

    it("refuses swap without memory on cgroup v1", function()
      if V2 then return H.skip("cgroup v2 limits swap on its own") end
      assert.matches("recipe%.limits%.swap: cgroup v1 limits memory and swap together",
                     H.raises(H.modes[1], [[
                       return lj.spawn(lj.empty{ argv = {"true"}, limits = { swap = "0" } })]]))
    end)
  end)

  for _, mode in ipairs(H.modes) do
    local run, why = runner(mode)
    local function spec (name, f)
      it(name .. " as " .. mode, function()
        if not run then return H.skip(why) end
        return f(run)
      end)
    end

    describe("a sandbox's cgroup", function()
      spec("holds the child from its first step; the cgroup namespace is rooted there",
           function(r)
        local inside, outside, path, left = r([[
          local c = assert(lj.spawn(lj.container{ limits = { pids = 16 },
            argv = {"sh", "-c", "cat /proc/self/cgroup; echo END; read x"} }))
          local inside = {}
          repeat inside[#inside + 1] = assert(c:read_line("stdout", 60))
          until inside[#inside] == "END"
          local outside = S.read("/proc/" .. c.pid .. "/cgroup")
          local path = c:cgroup().path
          c:close()
          return table.concat(inside, "\n"), outside, path, mine()
        ]])
        assert.matches("/lunajail/%d+%-%d+$", path)
        -- from the host: in the sandbox's cgroup (every v1 hierarchy it uses)
        for _, c in ipairs(V2 and { "" } or { "pids", "memory", "cpu", "freezer" }) do
          assert.matches("%d+:[%w,]*" .. c .. "[%w,]*:[^\n]*/lunajail/%d+%-%d+\n", outside)
        end
        -- from inside: that cgroup is its root; had the namespace been made
        -- by the clone, before the child joined, it would read /lunajail/<id>
        assert.not_matches("lunajail", inside)
        assert.matches(V2 and "0::/\n" or "pids:/\n", inside .. "\n")
        assert.equal("", left)
      end)

      spec("OOM-kills a memory bomb at the limit, and the status says OOM", function(r)
        local free, limited, left = r([[
          -- one process, 96 MiB: within rlimits.as (512 MiB), over the cgroup's
          local bomb = { argv = {"lua5.4", "-e",
            "local s = ('x'):rep(96 << 20) print(#s)"}, fstab = {} }
          local free = lj.run(lj.container(bomb), { timeout = 60 })
          bomb.limits = { memory = "64m", swap = "0" }
          local res = assert(lj.run(lj.container(bomb), { timeout = 60 }))
          return { code = free.code, out = free.stdout },
                 { signame = res.signame, oom = res.oom_killed, cg = res.cgroup,
                   out = res.stdout }, mine()
        ]])
        assert.same({ code = 0, out = "100663296\n" }, free)     -- no cgroup: it gets it
        assert.equal("SIGKILL", limited.signame)
        assert.is_true(limited.oom)
        assert.is_true(limited.cg.oom_kills >= 1)
        assert.is_true(limited.cg.memory_peak <= 64 * 1024 * 1024)
        assert.equal("", limited.out)
        assert.equal("", left)
      end)

      spec("stops a fork bomb at pids, and the host stays responsive", function(r)
        local got = r([[
          local bomb = lj.container{ limits = { pids = 32 },
            argv = {"sh", "-c", "f() { f | f & }; f; exec sleep 60"} }
          local c = assert(lj.spawn(bomb))
          S.waitfor(function () return (c:cgroup().pids_limit_hits or 0) > 0 end,
                    "the bomb to hit its limit")
          -- meanwhile the host forks, spawns and reads as ever
          local host = lj.run(lj.container{ argv = {"echo", "fine"} }, { timeout = 60 })
          local during = c:cgroup()
          local st = c:terminate(1)
          return { host = host.stdout, current = during.pids_current,
                   hits = st.cgroup.pids_limit_hits, left = mine() }
        ]])
        assert.equal("fine\n", got.host)
        assert.is_true(got.current <= 32)
        assert.is_true(got.hits > 0)
        assert.equal("", got.left)
      end)

      spec("gives cpu = 0.25 a quarter of a core, by the cgroup's own usage", function(r)
        local f = r([[
          local res = assert(lj.run(lj.container{ limits = { cpu = 0.25 },
            argv = {"timeout", "2", "sh", "-c", "while :; do :; done"} }, { timeout = 60 }))
          return res.cgroup
        ]])
        -- CPU time per enforcement period in which it wanted to run: no clock
        -- of ours, no timing assertion, a generous band around 0.25
        -- (periods are counted only where there is a quota; a loaded host may
        -- give less than the quota, never more)
        assert.is_true(f.cpu_periods > 0)
        local share = f.cpu_usage / (f.cpu_periods * 0.1)
        assert.is_true(share > 0.05 and share <= 0.32, "share " .. share)
        assert.is_number(f.cpu_throttled)
        assert.is_true(f.cpu_user + f.cpu_system > 0)
      end)

      spec("kills a double-forked, setsid daemon without a pid namespace", function(r)
        local got = r([[
          -- the payload execs its last sleep, so the daemon is the only
          -- process a kill of the payload alone (no cgroup) can leave behind
          local function daemon (limits, stop)
            local c = assert(lj.spawn(lj.empty{ limits = limits, argv = {"sh", "-c",
              "setsid sh -c 'sleep 600 & echo $!'; exec sleep 600"},
              env = { PATH = "/usr/bin:/bin" } }))
            local pid = tonumber(c:read_line("stdout", 30))
            local alive = not gone(pid)
            stop(c)
            local after = gone(pid)
            c:close()
            core.kill(pid, "KILL")        -- whatever gone() said: none may outlive the spec
            S.waitfor(function () return gone(pid) end, "the killed daemon to exit")
            return { alive = alive, gone = after }
          end
          local term = function (c) c:terminate(0.5) end
          return {
            free = daemon(nil, term),
            terminate = daemon({}, term),
            kill = daemon({}, function (c) c:kill("KILL") c:wait() end),
            left = mine(),
          }
        ]])
        assert.same({ alive = true, gone = false }, got.free)   -- without: it lives on
        assert.same({ alive = true, gone = true }, got.terminate)
        assert.same({ alive = true, gone = true }, got.kill)
        assert.equal("", got.left)
      end)

      spec("kills the tree at run's timeout", function(r)
        local got = r([[
          local res = assert(lj.run(lj.empty{ limits = {}, env = { PATH = "/usr/bin:/bin" },
            argv = {"sh", "-c", "setsid sh -c 'sleep 600 & echo $!'; sleep 600"} },
            { timeout = 1, grace = 0.2 }))
          local pid = tonumber(res.stdout)
          return { timeout = res.timeout, gone = gone(pid), left = mine() }
        ]])
        assert.same({ timeout = true, gone = true, left = "" }, got)
      end)

      spec("reports the figures at exit beside the rusage", function(r)
        local st = r([[
          return assert(lj.run(lj.container{ limits = { memory = "64m", pids = 16 },
            argv = {"sh", "-c", "echo hi"} })).status
        ]])
        assert.equal(0, st.code)
        assert.is_table(st.rusage)
        for _, k in ipairs { "memory_peak", "oom_kills", "pids_limit_hits", "cpu_usage",
                             "cpu_user", "cpu_system" } do
          assert.is_number(st.cgroup[k], k)
        end
        assert.equal(0, st.cgroup.oom_kills)
        assert.is_nil(st.oom_killed)
        assert.equal(V2 and 2 or 1, st.cgroup.version)
      end)
    end)

    describe("cleanup", function()
      spec("removes the cgroup on every path: setup failure, kill, close, gc", function(r)
        local got = r([[
          local out = {}
          -- setup fails: a working directory that is not there
          local c, err = lj.spawn(lj.container{ limits = {}, argv = {"true"},
                                                cwd = "/no/such/dir" })
          out.setup = { c == nil, err and err.op, mine() }
          -- killed, then closed
          c = assert(lj.spawn(lj.container{ limits = {}, argv = {"sleep", "600"} }))
          c:kill("KILL")
          c:close()
          out.kill = mine()
          -- dropped, collected
          c = assert(lj.spawn(lj.container{ limits = {}, argv = {"sleep", "600"} }))
          c = nil   -- luacheck: ignore
          collectgarbage() collectgarbage()
          out.gc = mine()
          -- a <close> variable
          do local d <close> = assert(lj.spawn(lj.container{ limits = {},
                                                             argv = {"sleep", "600"} })) end
          out.close = mine()
          return out
        ]])
        assert.same({ true, "chdir", "" }, got.setup)
        assert.equal("", got.kill)
        assert.equal("", got.gc)
        assert.equal("", got.close)
      end)

      spec("removes a closed Lua state's cgroups, and a killed parent's (stale) ones",
           function(r)
        local got = r([[
          local top = os.getenv("PWD") or "/"
          local function host (code)      -- another lua5.4, of this uid
            local name = os.tmpname()
            local f = assert(io.open(name, "w"))
            f:write(("package.path = %q .. package.path\npackage.cpath = %q .. package.cpath\n")
                    :format(package.path, package.cpath), code)
            f:close()
            return name
          end
          -- its script ends: lua.c closes the state, __gc cleans up
          local closed = host([=[
            local lj = require "lunajail"
            local c = assert(lj.spawn(lj.container{ limits = {}, argv = {"sleep", "600"} }))
            print(require("lunajail.core").getpid())
          ]=])
          local p = io.popen("lua5.4 " .. closed)
          local pid1 = tonumber(p:read("l")) p:close()
          os.remove(closed)
          -- killed by SIGKILL, its sandbox with it (die_with_parent), its
          -- cgroups left: empty, and nobody's
          local killed = host([=[
            local core = require "lunajail.core"
            local lj = require "lunajail"
            local c = assert(lj.spawn(lj.container{ limits = {}, argv = {"sleep", "600"} }))
            print(core.getpid())
            io.stdout:flush()
            core.poll({}, 600)
          ]=])
          p = io.popen("exec lua5.4 " .. killed)
          local pid2 = tonumber(p:read("l"))
          local stale = mine(pid2) ~= ""
          core.kill(pid2, "KILL")
          p:close()
          os.remove(killed)
          S.waitfor(function () return gone(pid2) end, "the killed host")
          local before = mine(pid2)
          -- the next sandbox made under the same parent sweeps it
          assert(lj.run(lj.container{ limits = {}, argv = {"true"} }))
          return { closed = mine(pid1), before = before ~= "", after = mine(pid2),
                   stale = stale }
        ]])
        assert.equal("", got.closed)
        assert.is_true(got.before)
        assert.equal("", got.after)
      end)

      spec(("leaves no cgroup behind after %d runs"):format(RUNS), function(r)
        local got = r(([[
          local n = 0
          local function count () return select(2, mine():gsub("[^\n]+", "")) end
          local before = count()
          for _ = 1, %d do
            local res = assert(lj.run(lj.empty{ limits = { pids = 8 }, argv = {"/bin/true"} }))
            if res.code == 0 then n = n + 1 end
          end
          return { before = before, ok = n, after = count() }
        ]]):format(RUNS))
        assert.same({ before = 0, ok = RUNS, after = 0 }, got)
      end)
    end)

    describe("untrusted", function()
      spec("carries tree-wide limits: one core's CPU, however the work is relayed",
           function(r)
        local got = r([[
          local u = lj.untrusted{ argv = {"sh", "-c",
            "for i in 1 2 3; do timeout 2 sh -c 'while :; do :; done' & done; wait"} }
          local res = assert(lj.run(u, { timeout = 60 }))
          return { limits = u.limits, cg = res.cgroup }
        ]])
        assert.same({ memory = 512 * 1024 * 1024, swap = 0, pids = 64, cpu = 1 }, got.limits)
        -- three busy children: per process, rlimits.cpu never binds; the
        -- cgroup holds all three to one core
        assert.is_true(got.cg.cpu_periods > 0)
        local share = got.cg.cpu_usage / (got.cg.cpu_periods * 0.1)
        assert.is_true(share <= 1.15, "share " .. share)
      end)
    end)
  end

  describe("cgroup v2", function()
    it("core.spawn clones straight into a cgroup (CLONE_INTO_CGROUP), as root", function()
      if not H.root then return H.skip("needs root to make a cgroup") end
      local out, left = H.lua("root", PRE .. [[
        local v2 = S.sh("awk '$9 == \"cgroup2\" { print $5; exit }' /proc/self/mountinfo")
        if v2 == "" then return nil end
        local base = assert(core.cgroup_open(v2))
        local name = "lunajail-clone-" .. core.getpid()
        local cg = assert(base:mkdir(name))
        assert(cg:lock())
        local c = assert(core.spawn{ argv = {"/bin/cat", "/proc/self/cgroup"},
                                     cgroup = { fd = cg:fd() } })
        local out = c:read_all("stdout", 30)
        c:wait()
        c:close()
        cg:close()
        return out, S.read(v2 .. "/" .. name .. "/cgroup.procs")
      ]])
      if out == nil then return H.skip("no cgroup2 file system mounted") end
      assert.matches("\n0::/[^\n]-lunajail%-clone%-%d+\n", "\n" .. out)
      assert.is_nil(left)                       -- and removed at close
    end)

    for _, mode in ipairs(H.modes) do
      it("moves the caller's processes into a leaf when its cgroup must hold children, as "
         .. mode, function()
        if not V2 then return H.skip(V1WHY) end
        if not H.root then return H.skip("needs root to set the caller's cgroup up") end
        local r = H.run("root", PRE .. (mode == "nobody" and DELEGATE or [[
          local D = LAY.h.mount .. "/lunajail-spec-" .. core.getpid()
          assert(os.execute("mkdir " .. D))
          local f = assert(io.open(D .. "/cgroup.procs", "w"))
          f:write(core.getpid()) f:close()
        ]]) .. [[
          local own = S.read("/proc/self/cgroup")
          local res = assert(lj.run(lj.container{ limits = { memory = "64m", pids = 16 },
            argv = {"cat", "/proc/self/cgroup"} }))
          return D, own, S.read("/proc/self/cgroup"), res.code, res.cgroup.path, mine()
        ]])
        local d, before, after, code, path, left = table.unpack(r, 1, r.n)
        H.sh("rmdir " .. d .. "/lunajail-caller " .. d .. "/lunajail " .. d)
        local rel = d:match("/lunajail%-spec%-%d+$")
        assert.equal("0::" .. rel .. "\n", before)
        assert.equal("0::" .. rel .. "/lunajail-caller\n", after)
        assert.equal(0, code)
        assert.matches("^" .. rel:gsub("%-", "%%-") .. "/lunajail/%d+%-%d+$", path)
        assert.equal("", left)
      end)
    end
  end)

  it("explain() shows the cgroup and the namespace made in it", function()
    local text = H.lua(H.modes[1], [[
      return lj.container{ argv = {"true"}, limits = { memory = "64m", cpu = 0.5 } }:explain()
    ]])
    assert.matches("cgroup: lunajail/<pid>%-<n> under the caller's own cgroup", text)
    assert.matches("limits: cpu = 0%.5, memory = 67108864", text)
    assert.matches("0  unshare%(cgroup%)", text)
  end)
end)
