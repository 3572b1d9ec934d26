-- the host side of setup (docs/security.md, "The host side of setup"):
-- compiling a recipe starts no process and no shell; a bind source or an
-- overlay layer is never followed through a symlink, neither by the
-- compiler nor by the child; no recipe path reaches a mount option
-- string.  Each attack is made for real, as root and as uid 65534, and
-- also the old way (realpath, the popen line, a pasted option string),
-- where it works: so every assertion can fail.
local H = require "helper"

-- in a snippet: tmpdir(mode) (mktemp -d, so 0700 unless mode; removed
-- by finally), ls(dir) (its names, sorted, space-separated), finally(f)
-- (runs f, then removes the tmpdirs, whatever happened), run(plan)
-- ("spawned", waited for, or the step error), plain(s) (s as a pattern
-- that matches itself), errtext(e) ("op ERRNAME: message")
local COMMON = [[
  local undo = {}
  local function tmpdir (mode)
    local h = io.popen("mktemp -d /tmp/lunajail-hostside.XXXXXX")
    local d = h:read("l")
    h:close()
    undo[#undo + 1] = d
    if mode then os.execute("chmod " .. mode .. " " .. d) end
    return d
  end
  local function ls (dir)
    local h = io.popen("ls -A '" .. dir .. "' 2>&1")
    local names = {}
    for l in h:lines() do names[#names + 1] = l end
    h:close()
    table.sort(names)
    return table.concat(names, " ")
  end
  local function finally (f)
    local r = table.pack(pcall(f))
    for _, d in ipairs(undo) do os.execute("chmod -R u+rwx " .. d .. "; rm -rf " .. d) end
    if not r[1] then error(r[2], 0) end
    return table.unpack(r, 2, r.n)
  end
  local function run (plan)
    local c, e = core.spawn(plan)
    if not c then return e end
    c:wait()
    c:close()
    return "spawned"
  end
  local function plain (s) return (s:gsub("%p", "%%%0")) end
  local function errtext (e)
    return type(e) == "table" and e.op .. " " .. e.errname .. ": " .. tostring(e) or tostring(e)
  end
]]

-- a plan of our own: a user and a mount namespace, our ids 0 inside
local PLAN = [[
  local function plan (steps, cmd)
    local uid, gid = select(2, core.getresuid()), select(2, core.getresgid())
    table.insert(steps, 1, { "mount", nil, "/", nil, "rec,private" })
    return { argv = { "/bin/sh", "-c", cmd }, env = { PATH = "/usr/bin:/bin" },
             namespaces = { "user", "mount" }, uidmap = { { 0, uid, 1 } },
             gidmap = { { 0, gid, 1 } }, stdio = { "null", "null", "null" },
             steps = steps }
  end
]]

describe("the host side of setup", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()

      it("compiles every preset without io.popen or os.execute", function()
        local calls = H.lua(mode, COMMON .. [[
          return finally(function ()
            local d = tmpdir("755")
            assert(core.symlink("usr", d .. "/link"))    -- a system symlink
            local calls, popen, execute = {}, io.popen, os.execute
            io.popen = function (cmd) calls[#calls + 1] = cmd return popen(cmd) end
            os.execute = function (cmd) calls[#calls + 1] = cmd return execute(cmd) end
            local ok, err = pcall(function ()
              lj.container{ argv = {"true"}, system = { d .. "/link" }, fstab = { d } }:steps()
              lj.build{ work = d, argv = {"true"} }:steps()
              lj.untrusted{ argv = {"true"} }:steps()
            end)
            io.popen, os.execute = popen, execute
            assert(ok, err)
            return calls
          end)
        ]])
        assert.same({}, calls)
      end)

      it("runs no shell for symlinks named with $(...), backticks, quotes and " ..
         "${IFS} in system and fstab", function()
        local r = H.lua(mode, COMMON .. [[
          return finally(function ()
            local d = tmpdir("755")
            assert(core.chdir(d))            -- where a shell would touch
            local names = { "a$(touch${IFS}m1)", "b`touch${IFS}m2`",
                            'c"$(touch${IFS}m3)"', "d'$(touch${IFS}m4)'" }
            local paths = {}
            for i, n in ipairs(names) do
              paths[i] = d .. "/" .. n
              assert(core.symlink("usr/" .. n, paths[i]))
            end
            local res = {}
            -- system: each becomes the same symlink, read without a shell
            local plan = lj.container{ argv = {"true"}, system = paths }:steps()
            res.links = {}
            for _, s in ipairs(plan.steps) do
              if s[1] == "symlink" and s[3]:find(d, 1, true) then
                res.links[#res.links + 1] = s[2]
              end
            end
            -- fstab: refused (a symlink itself), naming the field
            local ok, err = pcall(function ()
              return lj.container{ argv = {"true"}, fstab = { paths[2] } }:steps()
            end)
            res.fstab = ok and "compiled" or err
            res.after = ls(d)
            -- calibration: the line compile.lua had, which a shell runs
            for _, p in ipairs(paths) do
              local h = io.popen("readlink " .. ("%q"):format(p) .. " 2>/dev/null")
              h:read("a")
              h:close()
            end
            res.old = ls(d)
            return res
          end)
        ]])
        local all = [[a$(touch${IFS}m1) b`touch${IFS}m2` c"$(touch${IFS}m3)" ]] ..
                    [[d'$(touch${IFS}m4)']]
        assert.same({ "usr/a$(touch${IFS}m1)", "usr/b`touch${IFS}m2`",
                      'usr/c"$(touch${IFS}m3)"', "usr/d'$(touch${IFS}m4)'" }, r.links)
        assert.matches('^lunajail: recipe%.fstab%[1%]: ".-/b`touch${IFS}m2`" passes ' ..
                       'through the symlink ".-/b`touch${IFS}m2`" %-> "usr/b`touch${IFS}m2`"',
                       r.fstab)
        assert.equal(all, r.after)                              -- no marker
        assert.equal(all .. " m1 m2 m3 m4", r.old)              -- the old line ran four
      end)

      it("refuses a build's work dir that a symlink leads to a private dir, " ..
         "where realpath and mount(2) follow it", function()
        local r = H.lua(mode, COMMON .. [[
          return finally(function ()
            -- real: any uid may write it, so the plan has a plain bind to
            -- replace (not an owner bind, whose setup writes as the sandbox)
            local w, victim, real = tmpdir("755"), tmpdir(), tmpdir("1777")
            io.open(victim .. "/secret", "w"):write("s"):close()
            -- as an earlier run's payload could leave it in its work dir
            assert(core.symlink(victim, w .. "/out"))
            local t = { argv = {"sh", "-c", "echo planted > /work/planted"}, cwd = "/",
                        files = { {"/work/setup-file", "from setup"} } }
            local res = {}
            t.work = w .. "/out"
            local ok, err = pcall(lj.spawn, lj.build(t))
            res.err = ok and "spawned" or err
            res.after = ls(victim)
            -- the old way: the source resolved by realpath, bound by mount(2)
            t.work = real
            local plan = lj.build(t):steps()
            for i = #plan.steps, 1, -1 do
              local s = plan.steps[i]
              if s[1] == "bind" and s[3] == "/newroot/work" then
                plan.steps[i] = { "mount", "/oldroot" .. core.realpath(w .. "/out"),
                                  "/newroot/work", nil, "bind,nosuid,nodev" }
              elseif s[1] == "setrlimit" and s[2] == "nofile" then
                table.remove(plan.steps, i)   -- beside the point; valgrind refuses it
              end
            end
            res.old = errtext(run(plan))
            res.oldafter = ls(victim)
            return res
          end)
        ]])
        local tmp = "/tmp/lunajail%-hostside%.%w+"
        assert.matches('^lunajail: recipe%.mounts%[%d+%]%.source: "' .. tmp .. '/out" passes ' ..
                       'through the symlink "' .. tmp .. '/out" %-> "' .. tmp .. '": bind ' ..
                       'what it leads to by its own path$', r.err)
        assert.equal("secret", r.after)
        assert.equal("spawned", r.old)
        -- the setup wrote into the victim (as root: a root-only directory),
        -- and as uid 65534 the payload could write the caller's own one
        assert.equal(mode == "root" and "secret setup-file" or "planted secret setup-file",
                     r.oldafter)
      end)

      it("fails the child's bind step on a source swapped for a symlink after " ..
         "the compiler's check", function()
        local r = H.lua(mode, COMMON .. [[
          return finally(function ()
            local w, victim = tmpdir("755"), tmpdir()
            io.open(victim .. "/secret", "w"):write("s"):close()
            assert(core.mkdir_p(w .. "/out"))
            assert(core.mkdir_p(victim .. "/sub"))
            local function compiled (work)
              return lj.build{ work = work, argv = {"true"},
                               files = { {"/work/setup-file", "from setup"} } }:steps()
            end
            local whole, mid = compiled(w .. "/out"), nil
            assert(core.mkdir_p(w .. "/out/sub"))
            mid = compiled(w .. "/out/sub")
            -- the swap, after the parent's check
            os.execute("rm -rf " .. w .. "/out")
            assert(core.symlink(victim, w .. "/out"))
            return { whole = errtext(run(whole)), mid = errtext(run(mid)), after = ls(victim) }
          end)
        ]])
        assert.matches('^bind ELOOP: step %d+ bind%("/oldroot/tmp/lunajail%-hostside%.%w+/out", ' ..
                       '"/newroot/work", "nosuid,nodev"[^%)]*%): Too many levels of symbolic ' ..
                       'links %(ELOOP%)$', r.whole)
        assert.matches('^bind ELOOP: step %d+ bind%("/oldroot/tmp/lunajail%-hostside%.%w+/out/sub"',
                       r.mid)
        assert.equal("secret sub", r.after)
      end)

      it("names the field of every source that passes through a symlink", function()
        local r = H.lua(mode, COMMON .. [[
          return finally(function ()
            local d = tmpdir("755")
            assert(core.mkdir_p(d .. "/real/sub"))
            assert(core.symlink("real", d .. "/link"))
            local via = d .. "/link/sub"
            local cases = {
              { fstab = { via } },
              { system = { "/usr", via } },
              { root = via },
              { root = { path = via, rw = true } },
              { mounts = { {"bind", d .. "/real", "/a"}, {"ro-bind", via, "/b"} } },
              { mounts = { {"bind", via, "/b", optional = true} } },
              { mounts = { {"overlay", "/o", lower = { d .. "/real", via }} } },
              { mounts = { {"overlay", "/o", lower = { d .. "/real" }, upper = via,
                            work = d .. "/real"} } },
              { mounts = { {"overlay", "/o", lower = { d .. "/real" }, upper = d .. "/real",
                            work = via} } },
            }
            local out = {}
            for i, t in ipairs(cases) do
              t.argv = {"true"}
              local ok, err = pcall(function () return lj.container(t):steps() end)
              out[i] = ok and "compiled" or err:gsub(plain(d), "D")
            end
            -- not a symlink anywhere: fine; missing: refused before spawning
            out.fine = pcall(function ()
              return lj.container{ argv = {"true"}, fstab = { d .. "/real/sub" },
                                   mounts = { {"bind", d .. "/nothing", "/n",
                                               optional = true} } }:steps()
            end)
            out.missing = {}
            for i, t in ipairs {
              { mounts = { {"bind", d .. "/nothing", "/n"} } },
              { fstab = { d .. "/nothing" } },
              { root = d .. "/nothing" },
              { mounts = { {"overlay", "/o", lower = { d .. "/real", d .. "/nothing" }} } },
              { mounts = { {"overlay", "/o", lower = { d .. "/real" }, upper = d .. "/nothing",
                            work = d .. "/real"} } },
            } do
              t.argv = {"true"}
              local ok, err = pcall(lj.spawn, lj.container(t))
              out.missing[i] = ok and "spawned" or err:gsub(plain(d), "D")
            end
            local preset = require("lunajail.presets").container()
            out.system, out.mounts = #preset.system, #preset.mounts
            return out
          end)
        ]])
        local s, m = r.system, r.mounts
        local tail = ' passes through the symlink "D/link" %-> "real": bind what it ' ..
                     'leads to by its own path$'
        -- the index in the recipe as it compiles: the preset's entries first
        for i, field in ipairs { "fstab%[1%]", ("system%%[%d%%]"):format(s + 2), "root%.path",
                                 "root%.path", ("mounts%%[%d%%]%%.source"):format(m + 2),
                                 ("mounts%%[%d%%]%%.source"):format(m + 1),
                                 ("mounts%%[%d%%]%%.lower%%[2%%]"):format(m + 1),
                                 ("mounts%%[%d%%]%%.upper"):format(m + 1),
                                 ("mounts%%[%d%%]%%.work"):format(m + 1) } do
          assert.matches("^lunajail: recipe%." .. field .. ': "D/link/sub"' .. tail, r[i])
        end
        assert.is_true(r.fine)
        for i, want in ipairs {
          ("mounts[%d].source: bind source"):format(m + 1), "fstab[1]: fstab entry",
          "root.path: root directory", ("mounts[%d].lower[2]: overlay lower dir"):format(m + 1),
          ("mounts[%d].upper: overlay upper dir"):format(m + 1) } do
          assert.equal("lunajail: recipe." .. want .. ' "D/nothing" does not exist', r.missing[i])
        end
      end)

      it("refuses ',upperdir=' in an overlay dir, and the overlay step cannot " ..
         "be led to a victim dir by one", function()
        local r = H.lua(mode, COMMON .. PLAN .. [[
          return finally(function ()
            local d, victim = tmpdir("755"), tmpdir()
            local l1, wk, o = d .. "/l1", d .. "/wk", d .. "/o"
            -- a lower dir whose name carries options: it exists, commas and all
            local inj = d .. "/l2,upperdir=" .. victim .. ",workdir=" .. wk
            for _, p in ipairs { l1, d .. "/l2", wk, o, inj } do assert(core.mkdir_p(p)) end
            local res = {}
            local ok, err = pcall(lj.container, { mounts = {
              {"overlay", "/o", lower = { l1, inj }} } })
            res.recipe = ok and "accepted" or err:gsub(plain(d), "D"):gsub(plain(victim), "V")
            local write = "echo x > " .. o .. "/planted && echo ok > " .. d .. "/wrote"
            -- the old way: the paths pasted into overlayfs's options
            res.old = errtext(run(plan({ { "mount", "overlay", o, "overlay", "nosuid,nodev",
                                           "lowerdir=" .. l1 .. ":" .. inj } }, write)))
            res.oldafter = ls(victim)
            os.execute("rm -rf " .. victim .. "/* " .. d .. "/wrote")
            -- the overlay step: two read-only layers by fd, the odd name one of them
            res.new = errtext(run(plan({ { "overlay", o, { l1, inj }, nil, nil,
                                           "nosuid,nodev" } }, write)))
            res.newafter = ls(victim)
            res.wrote = io.open(d .. "/wrote") ~= nil
            return res
          end)
        ]])
        assert.equal('lunajail: recipe.mounts[1].lower[2]: "D/l2,upperdir=V,workdir=D/wk": ' ..
                     "',' cannot be in an overlay dir (overlayfs reads ',' ':' and '\\' in " ..
                     "its options as syntax, and no control character belongs there)", r.recipe)
        assert.equal("spawned", r.old)
        assert.equal("planted", r.oldafter)         -- the "read-only" overlay wrote there
        assert.equal("spawned", r.new)
        assert.equal("", r.newafter)
        assert.is_false(r.wrote)                    -- read-only: the write failed
      end)

      it("keeps read-only binds read-only, recursive ones too, with the flags a " ..
         "user namespace locks", function()
        if H.novalgrind("lacks mount_setattr(2) and seccomp(2)") then return end
        for _, fallback in ipairs { false, true } do
          local r = H.lua(mode, COMMON .. [[
            local fallback = ]] .. tostring(fallback) .. [[
            enter{"user", "mount"}
            assert(core.mount(nil, "/", nil, {"rec", "private"}))
            assert(core.mount("tmpfs", "/mnt", "tmpfs", "nosuid,nodev,noexec"))
            for _, p in ipairs { "/mnt/src", "/mnt/tree/sub", "/mnt/dst", "/mnt/rdst",
                                 "/mnt/ldst" } do
              assert(core.mkdir_p(p))
            end
            assert(core.mount("tmpfs", "/mnt/tree/sub", "tmpfs"))
            assert(core.symlink("src", "/mnt/link"))
            enter{"user", "mount"}           -- /mnt's flags are locked from here
            if fallback then                 -- as before Linux 5.2 and 5.6
              assert(core.seccomp{ rules = { {"errno:ENOSYS", "open_tree"},
                                             {"errno:ENOSYS", "openat2"} } })
            end
            local function try (path)
              local f, err, errno = io.open(path, "w")
              if f then f:close() return "written" end
              return errno
            end
            local res = {}
            res.bind = { core.bind("/mnt/src", "/mnt/dst", "rdonly") }
            res.rec = { core.bind("/mnt/tree", "/mnt/rdst", "rdonly,rec") }
            res.link = { core.bind("/mnt/link", "/mnt/ldst", "rdonly") }
            res.w = { try("/mnt/dst/x"), try("/mnt/rdst/x"), try("/mnt/rdst/sub/x"),
                      try("/mnt/ldst/x") }
            res.opts = {}
            for l in io.lines("/proc/self/mountinfo") do
              local at, opts = l:match("^%S+ %S+ %S+ %S+ (%S+) (%S+)")
              res.opts[at] = opts
            end
            -- calibration: the flags are locked (a remount dropping them fails)
            res.locked = { core.mount(nil, "/mnt/dst", nil, "remount,bind,rdonly") }
            return res
          ]])
          assert.same({ true }, r.bind)
          assert.same({ true }, r.rec)
          assert.is_nil(r.link[1])
          assert.matches('^bind%("/mnt/link", "/mnt/ldst", "rdonly"%): .* %(ELOOP%)$', r.link[2])
          assert.same({ 30, 30, 30, "written" }, r.w)     -- EROFS; ldst is /mnt's own
          assert.matches("^ro,nosuid,nodev,noexec", r.opts["/mnt/dst"])
          assert.matches("^ro,", r.opts["/mnt/rdst"])
          assert.matches("^ro,", r.opts["/mnt/rdst/sub"])
          assert.is_nil(r.opts["/mnt/ldst"])
          assert.equal(1, r.locked[3])                      -- EPERM
        end
      end)

      it("binds and overlays a recipe's sources, also without the new mount " ..
         "API and openat2", function()
        for _, fallback in ipairs { false, true } do
          if fallback and H.novalgrind("lacks seccomp(2)") then return end
          local r = H.lua(mode, COMMON .. [[
            local fallback = ]] .. tostring(fallback) .. [[
            return finally(function ()
              local d = tmpdir("777")
              for _, p in ipairs { "/l1", "/l2", "/u", "/w", "/rw" } do
                assert(core.mkdir_p(d .. p, "0777"))
              end
              io.open(d .. "/l1/f", "w"):write("l1\n"):close()
              io.open(d .. "/l2/g", "w"):write("l2\n"):close()
              io.open(d .. "/file", "w"):write("a file\n"):close()
              if fallback then
                assert(core.no_new_privs())
                assert(core.seccomp{ rules = { {"errno:ENOSYS", "open_tree"},
                                               {"errno:ENOSYS", "openat2"} } })
              end
              local res = assert(lj.run(lj.container{
                argv = {"sh", "-c", "cat /o/f /o/g /ro/g /f; echo up > /o/new; " ..
                                    "echo rw > /rw/new; touch /ro/x /f 2>/dev/null || " ..
                                    "echo ro; touch /c/x 2>/dev/null || echo ro"},
                mounts = {
                  {"overlay", "/o", lower = { d .. "/l1", d .. "/l2" }, upper = d .. "/u",
                   work = d .. "/w"},
                  {"overlay", "/c", lower = { d .. "/l1", d .. "/l2" }},
                  {"ro-bind", d .. "/l2", "/ro"},
                  {"ro-bind", d .. "/file", "/f"},      -- a file mount point
                  {"bind", d .. "/rw", "/rw"},
                } }, { timeout = 60 }))
              return { out = res.stdout, err = res.stderr, up = ls(d .. "/u"),
                       rw = ls(d .. "/rw") }
            end)
          ]])
          assert.equal("l1\nl2\nl2\na file\nro\nro\n", r.out, r.err)
          assert.equal("new", r.up)
          assert.equal("new", r.rw)
        end
      end)

      it("opens no stdio path through a symlink a payload left: the victim " ..
         "is not truncated, where open(2) would", function()
        local r = H.lua(mode, COMMON .. [[
          return finally(function ()
            local d = tmpdir("0755")
            local function victim ()
              local f = assert(io.open(d .. "/victim", "w"))
              f:write("secret\n")
              f:close()
            end
            victim()
            assert(core.symlink(d .. "/victim", d .. "/log"))
            assert(core.mkdir_p(d .. "/sub"))
            assert(core.symlink(d .. "/sub", d .. "/dirlink"))
            local out = {}
            for _, p in ipairs { d .. "/log", d .. "/dirlink/x" } do
              local c, e = core.spawn{ argv = {"/bin/true"}, stdio = {"null", p, "null"} }
              out[#out + 1] = c and "spawned" or e.errname
              if c then c:wait() c:close() end
            end
            local f = io.open(d .. "/victim")
            out[#out + 1] = f:read("a")
            f:close()
            -- the old way: open(2) follows it, and truncates
            local g = io.open(d .. "/log", "w")
            g:close()
            f = io.open(d .. "/victim")
            out[#out + 1] = "after open: " .. f:read("a")
            f:close()
            -- a plain file, and the kernel's own /dev/null (below /dev)
            local c = assert(core.spawn{ argv = {"/bin/echo", "hi"},
                                         stdio = {"/dev/null", d .. "/plain", "null"} })
            c:wait()
            c:close()
            f = io.open(d .. "/plain")
            out[#out + 1] = f:read("a")
            f:close()
            return table.concat(out, "|")
          end)
        ]])
        assert.equal("ELOOP|ELOOP|secret\n|after open: |hi\n", r)
      end)
    end)
  end

  describe("core.readlink and core.firstlink", function()
    it("read links without a process", function()
      local r = H.lua(H.modes[1], COMMON .. [[
        return finally(function ()
          local d = tmpdir("755")
          assert(core.mkdir_p(d .. "/dir"))
          assert(core.symlink("dir", d .. "/l1"))
          assert(core.symlink("a$(b)`c`\"d'", d .. "/l2"))
          return {
            { core.readlink(d .. "/l2") },
            { core.readlink(d .. "/dir") },
            { core.firstlink(d .. "/l1/x/y") },
            { core.firstlink(d .. "/dir") },
            { core.firstlink(d .. "/nothing/l1") },
            { core.firstlink(d .. "/l2") },
          }
        end)
      ]])
      assert.same({ "a$(b)`c`\"d'" }, r[1])
      assert.matches('^readlink%(".-/dir"%): Invalid argument %(EINVAL%)$', r[2][2])
      assert.matches("/l1$", r[3][1])
      assert.equal("dir", r[3][2])
      assert.same({ false }, r[4])
      assert.matches('^firstlink%(".-/nothing/l1"%): No such file or directory %(ENOENT%)$',
                     r[5][2])
      assert.equal(2, r[5][3])
      assert.equal("a$(b)`c`\"d'", r[6][2])
    end)
  end)

  describe("bad input", function()
    H.rejects {
      { "core.readlink()", "#1 %(path%): string expected, got no value" },
      { "core.firstlink('rel/x')", "#1 %(path%): absolute path expected" },
      { "core.bind('rel', '/x')", "#1 %(source%): absolute path expected" },
      { "core.bind('/a', '/x', 'remount')", "#3 %(flags%): a bind takes rdonly, nosuid, " ..
        "nodev, noexec and rec" },
      { "core.bind('/a', '/x', nil, '/p,x')", "#4 %(proc%): ',', ':', '\\' and control" },
      { "core.overlay('/o', {})", "#2 %(lower%): one lower dir or more" },
      { "core.overlay('/o', {'/a'})", "#2 %(lower%): a read%-only overlay %(no upper%) " ..
        "needs two lower dirs or more" },
      { "core.overlay('/o', {'a', '/b'})", "#2 %(lower%): item 1: absolute path expected" },
      { "core.overlay('/o', {'/a'}, '/u')", "#4 %(work%): upper and work go together" },
      { "core.overlay('/o', {'/a', '/b'}, nil, nil, 'bind')", "#5 %(flags%): bind, move" },
      { "core.overlay('/o', {'/a', '/b'}, nil, nil, nil, '/p:q')", "#6 %(proc%)" },
      { "core.describe{'overlay', '/o', (function () local t = {} for i = 1, 129 do " ..
        "t[i] = '/l' end return t end)()}", "at most 128 lower dirs" },
      { "lj.container{ mounts = {{'overlay', '/o', lower = {'/a:/b', '/c'}}} }",
        "recipe%.mounts%[1%]%.lower%[1%]: \"/a:/b\": ':' cannot be in an overlay dir" },
      { "lj.container{ mounts = {{'overlay', '/o', lower = {'/a'}, upper = '/u\\\\x', " ..
        "work = '/w'}} }", "recipe%.mounts%[1%]%.upper: .*'\\' cannot be" },
      { "lj.container{ mounts = {{'overlay', '/o', lower = {'/a'}, upper = '/u', " ..
        "work = '/w\\nx'}} }", "recipe%.mounts%[1%]%.work: .*byte 10 cannot be" },
    }
  end)
end)
