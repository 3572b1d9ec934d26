-- owner binds: lj.build{work = dir} as root with a dir of root's or of
-- another user's (issue 14, item 6; docs/security.md "`lj.build` as root:
-- the work dir").  The dir is bound idmapped: the sandbox's leased uid
-- writes it, the files land as the dir's owner, and the set-id guard
-- (a seccomp filter) keeps every set-uid and set-gid bit off them.  Each
-- attempt is made with the guard and, where the kernel alone would not
-- refuse it, without (the same plan, the guard's step taken out), so
-- that every assertion can fail.  Every dir is a fresh one in /tmp,
-- removed whatever happens.
local H = require "helper"

-- prepended to the snippets: dir (made 0700 by mktemp; the snippet sets
-- its owner and modes), finally(body) removes it, build(t) an lj.build
-- of it with the probe at /probe, sh(cmd), find(dir) the set-id files
local PRE = [[
  local function sh (cmd)
    local h = assert(io.popen(cmd))
    local out = h:read("a")
    h:close()
    return out
  end
  local dir = sh("mktemp -d /tmp/lunajail-owner.XXXXXX"):match("%S+")
  local function finally (body)
    local res = table.pack(pcall(body))
    os.execute("rm -rf '" .. dir .. "'")
    if not res[1] then error(res[2], 0) end
    return table.unpack(res, 2, res.n)
  end
  local P = BUILD .. "/probe"
  local function build (t)
    t.work = t.work or dir
    t.mounts = { { "ro-bind", P, "/probe" } }
    return lj.build(t)
  end
  local function setid ()
    return sh("find '" .. dir .. "' -perm /6000 -printf '%P %m %U\\n' | sort")
  end
  local function run (r)
    local res = assert(lj.run(r, { timeout = 60 }))
    assert(res.code == 0, res.stderr)
    return res.stdout
  end
]]

-- the attempts, as a shell script; each prints "name result"
local ATTEMPTS = [[
P=/probe
for how in open openat creat mknod tmpfile openat2; do
  for m in 4755 2755 6755; do echo "create-$how-$m $($P create /work/c-$how-$m $m $how)"; done
done
echo "create-plain $($P create /work/plain 0755 open)"
for how in chmod fchmod fchmodat fchmodat2; do
  for m in 4755 2755; do echo "chmod-$how-$m $($P chmod /work/plain $m $how)"; done
done
echo "chmod-plain $($P chmod /work/plain 0700 chmod)"
echo "coreutils-chmod $(chmod u+s /work/plain 2>/dev/null && echo ok || echo refused)"
echo "install $(install -m 4755 /dev/null /work/installed 2>/dev/null && echo ok || echo refused)"
echo "python $(python3 -c 'import os; os.open("/work/py", os.O_CREAT | os.O_WRONLY, 0o4755)' \
  2>/dev/null && echo ok || echo refused)"
echo "setcap $($P setcap /work/plain)"
echo "link $($P link /usr/bin/passwd /work/passwd)"
]]

local function lines (out)
  local t = {}
  for name, res in out:gmatch("(%S+) ([^\n]*)") do t[name] = res end
  return t
end

local root = H.root and "root" or nil

describe("lj.build as root with a work dir of root's", function ()
  if not root then
    it("needs root", function () H.skip("not root: the owner bind is root's") end)
    return
  end

  it("writes it: the files are root's on disk, the payload runs as its leased uid", function ()
    local out, st, plan = H.lua(root, PRE .. [[
      return finally(function ()
        assert(os.execute("chmod 0755 '" .. dir .. "'"))
        local r = build{ argv = { "sh", "-c", "id -u; id -g; echo data > /work/out; " ..
                                  "mkdir /work/sub && echo x > /work/sub/f; " ..
                                  "stat -c '%u %g' /work /work/out /work/sub/f" } }
        local out = run(r)
        local st = {}
        for _, p in ipairs { "out", "sub", "sub/f" } do
          local s = core.stat(dir .. "/" .. p)
          st[p] = s.uid .. ":" .. s.gid
        end
        local steps, why = r:steps()
        local kinds = {}
        for i, s in ipairs(steps.steps) do
          if s[1] == "bind" and s[6] then kinds[#kinds + 1] = "idmapped bind" end
          if why[i]:find("set-id guard", 1, true) then kinds[#kinds + 1] = "guard" end
        end
        return out, st, table.concat(kinds, ",")
      end)
    ]])
    local uid, gid, s1, s2, s3 = out:match("^(%d+)\n(%d+)\n(%d+ %d+)\n(%d+ %d+)\n(%d+ %d+)\n$")
    assert.truthy(uid, out)
    assert.is_true(tonumber(uid) >= 0x70000000, "the leased range: " .. uid)
    -- inside, /work and what the payload wrote are its own uid's
    assert.same({ uid .. " " .. gid, uid .. " " .. gid, uid .. " " .. gid }, { s1, s2, s3 })
    -- on disk, root's
    assert.same({ out = "0:0", sub = "0:0", ["sub/f"] = "0:0" }, st)
    assert.equal("idmapped bind,guard", plan)
  end)

  it("makes the recipe's dirs and files there as the owner's, owner = true too", function ()
    local out, st = H.lua(root, PRE .. [[
      return finally(function ()
        assert(os.execute("chown 65534:65534 '" .. dir .. "' && chmod 0755 '" .. dir .. "'"))
        local r = build{ argv = { "sh", "-c", "cat /work/conf/a /work/conf/b; " ..
                                  "stat -c '%a %u' /work/conf /work/conf/a /work/conf/b" },
                         dirs = { { "/work/conf", mode = "0750" } },
                         files = { { "/work/conf/a", "A\n" },
                                   { "/work/conf/b", "B\n", mode = "0600", owner = true } } }
        local out = run(r)
        local st = {}
        for _, p in ipairs { "conf", "conf/a", "conf/b" } do
          local x = core.stat(dir .. "/" .. p)
          st[p] = x.mode .. " " .. x.uid .. ":" .. x.gid
        end
        return out, st
      end)
    ]])
    local uid = out:match("\n750 (%d+)\n")
    assert.truthy(uid, out)
    assert.equal(("A\nB\n750 %s\n644 %s\n600 %s\n"):format(uid, uid, uid), out)
    assert.same({ conf = "00750 65534:65534", ["conf/a"] = "00644 65534:65534",
                  ["conf/b"] = "00600 65534:65534" }, st)
  end)

  it("writes a dir of uid 65534's as 65534", function ()
    local out, st = H.lua(root, PRE .. [[
      return finally(function ()
        assert(os.execute("chown 65534:65534 '" .. dir .. "' && chmod 0755 '" .. dir .. "'"))
        local out = run(build{ argv = { "sh", "-c", "id -u; echo x > /work/f" } })
        local s = core.stat(dir .. "/f")
        return out, s.uid .. ":" .. s.gid
      end)
    ]])
    assert.is_true(tonumber(out:match("^(%d+)")) >= 0x70000000, out)
    assert.equal("65534:65534", st)
  end)

  it("leaves no set-uid or set-gid file, by any call", function ()
    local out, found, modes = H.lua(root, PRE .. [[
      return finally(function ()
        assert(os.execute("chmod 0755 '" .. dir .. "'"))
        local out = run(build{ argv = { "sh", "-c", ]] .. ("%q"):format(ATTEMPTS) .. [[ } })
        local modes = {}
        for _, n in ipairs { "plain", "installed", "py", "c-open-4755" } do
          local s = core.stat(dir .. "/" .. n)
          modes[n] = s and s.mode or "missing"
        end
        return out, setid(), modes
      end)
    ]])
    local t = lines(out)
    for _, how in ipairs { "open", "openat", "creat", "mknod", "tmpfile" } do
      for _, m in ipairs { "4755", "2755", "6755" } do
        assert.equal("err EPERM", t["create-" .. how .. "-" .. m], how .. " " .. m)
      end
    end
    for _, m in ipairs { "4755", "2755", "6755" } do
      assert.equal("err ENOSYS", t["create-openat2-" .. m])   -- libc falls back
    end
    for _, how in ipairs { "chmod", "fchmod", "fchmodat", "fchmodat2" } do
      for _, m in ipairs { "4755", "2755" } do
        assert.equal("err EPERM", t["chmod-" .. how .. "-" .. m], how .. " " .. m)
      end
    end
    assert.equal("refused", t["coreutils-chmod"])
    assert.equal("refused", t.install)
    assert.equal("refused", t.python)
    -- the guard is narrow: modes without set-id bits work
    assert.equal("ok 0", t["create-plain"])
    assert.equal("ok 0", t["chmod-plain"])
    assert.equal("00700", modes.plain)
    assert.equal("missing", modes["c-open-4755"])
    -- the kernel's own refusals: file capabilities need CAP_SETFCAP, a
    -- hard link does not cross mounts
    assert.equal("err EPERM", t.setcap)
    assert.equal("err EXDEV", t.link)
    assert.equal("", found)
  end)

  it("without the guard, the same calls leave set-uid programs of root's", function ()
    local out, found = H.lua(root, PRE .. [[
      return finally(function ()
        assert(os.execute("chmod 0755 '" .. dir .. "'"))
        local r = build{ argv = { "sh", "-c", ]] .. ("%q"):format(ATTEMPTS) .. [[ } }
        local plan, why, ids = r:steps()
        local p, n = {}, 0
        for k, v in pairs(plan) do p[k] = v end
        p.steps = {}
        for i, s in ipairs(plan.steps) do    -- same indices: the id slots hold
          if why[i]:find("set-id guard", 1, true) then s, n = { "no_new_privs" }, n + 1 end
          p.steps[i] = s
        end
        assert(n == 1, "one guard step")
        local c = assert(lj.spawn_plan(p, ids))
        local out = c:communicate(nil, 60)
        c:close()
        return out, setid()
      end)
    ]])
    local t = lines(out)
    assert.equal("ok 0", t["create-open-4755"])
    assert.equal("ok 0", t["create-openat2-4755"])
    assert.equal("ok 0", t["create-mknod-6755"])
    assert.equal("ok 0", t["chmod-chmod-4755"])
    assert.equal("ok", t.install)
    assert.matches("c%-open%-4755 4755 0\n", found)
    assert.matches("c%-tmpfile%-2755 2755 0\n", found)
    assert.matches("installed 4755 0\n", found)
    -- the kernel refuses these by itself
    assert.equal("err EPERM", t.setcap)
    assert.equal("err EXDEV", t.link)
  end)

  it("keeps the guard with seccomp = \"none\", and in an entered process", function ()
    local a, b, text = H.lua(root, PRE .. [[
      return finally(function ()
        assert(os.execute("chmod 0755 '" .. dir .. "' && touch '" .. dir .. "/f'"))
        -- a file the setup makes there (setfsuid, setfsgid and chown steps:
        -- enter knows them for the setup's)
        local r = build{ seccomp = "none", files = { { "/work/g", "x", owner = true } },
                         argv = { "sh", "-c", "/probe chmod /work/f 4755 chmod; sleep 30" } }
        local c = assert(lj.spawn(r))
        local first = c:read_line("stdout", 30)
        local e = assert(c:enter{ argv = { "/probe", "chmod", "/work/f", "2755", "fchmodat" } })
        local second = e:communicate(nil, 30)
        e:close()
        c:kill()
        c:close()
        return first, second, r:explain()
      end)
    ]])
    assert.equal("err EPERM", a)
    assert.equal("err EPERM\n", b)
    assert.matches("the set%-id guard of an owner bind", text)
    assert.matches("fchmodat2%s+errno:EPERM%s+chmod: a set%-uid bit", text)
    assert.matches("openat2%s+errno:ENOSYS", text)
  end)

  it("refuses a dir that holds a set-id file of its owner's, which a shared mapping " ..
     "could rewrite keeping the bit", function ()
    local r = H.lua(root, PRE .. [[
      return finally(function ()
        local res = {}
        local f = dir .. "/a/b/prog"
        assert(os.execute("chmod 0755 '" .. dir .. "' && mkdir -p '" .. dir .. "/a/b' && " ..
                          "cp /bin/true '" .. f .. "'"))
        local function try ()
          local ok, err = lj.run(build{ argv = { "true" } })
          return ok and "ran" or err.op .. " " .. err.errname .. " " .. tostring(err.field) ..
                 " " .. (err.hint or "")
        end
        res.clean = try()
        for _, m in ipairs { "4755", "2755", "4555" } do
          assert(os.execute("chmod " .. m .. " '" .. f .. "'"))
          res[m] = try()
        end
        -- another's set-uid file: the mapping hands nothing of it over
        assert(os.execute("chown 1234:1234 '" .. f .. "' && chmod 4755 '" .. f .. "'"))
        res.other = try()
        -- why: the kernel clears the bit on write(2), not through a mapping
        -- (uid 1234 writing its own set-uid file, outside any sandbox)
        local as = "setpriv --reuid=1234 --regid=1234 --clear-groups " .. P .. " rewrite '" ..
                   f .. "' "
        os.execute("chmod 755 '" .. dir .. "/a' '" .. dir .. "/a/b'")
        res.mmap = sh(as .. "mmap") .. core.stat(f).mode
        res.write = sh(as .. "write") .. core.stat(f).mode
        return res
      end)
    ]])
    assert.equal("ran", r.clean)
    for _, m in ipairs { "4755", "2755", "4555" } do
      assert.matches("^bind EPERM mounts%[5%] an owner bind refuses a directory that holds " ..
                     "a set%-uid or set%-gid file", r[m], nil, false, m)
    end
    assert.equal("ran", r.other)
    assert.equal("ok 0\n04755", r.mmap)
    assert.equal("ok 1\n00755", r.write)
  end)

  it("binds a dir any uid may write (1777) as before: not idmapped", function ()
    local out, st, idmapped = H.lua(root, PRE .. [[
      return finally(function ()
        assert(os.execute("chmod 1777 '" .. dir .. "'"))
        local r = build{ argv = { "sh", "-c", "id -u; echo x > /work/f" } }
        local out = run(r)
        local n = 0
        for _, s in ipairs((r:steps()).steps) do
          if s[1] == "bind" and s[6] or s[1] == "seccomp" then n = n + 1 end
        end
        return out, core.stat(dir .. "/f").uid, n
      end)
    ]])
    assert.equal(tonumber(out:match("^(%d+)")), st)     -- the leased uid's
    assert.equal(1, idmapped)                           -- "default" alone
  end)

  it("fails naming the field where the file system cannot be idmapped", function ()
    local err = H.lua(root, PRE .. [[
      return finally(function ()
        -- a ramfs (no idmapped mounts), in this snippet's mount namespace only
        assert(core.unshare{ "mount" })
        assert(core.mount(nil, "/", nil, "rec,private"))
        assert(core.mount("ramfs", dir, "ramfs", nil, "mode=0755"))
        local ok, res, err = pcall(lj.run, lj.build{ work = dir, argv = { "true" } })
        assert(core.umount(dir))            -- before finally removes dir
        assert(ok and res == nil, tostring(res))
        return { field = err.field, op = err.op, errname = err.errname,
                 hint = err.hint, message = err.message }
      end)
    ]])
    assert.equal("mounts[5]", err.field)
    assert.equal("bind", err.op)
    assert.equal("EINVAL", err.errname)
    assert.matches("idmapped mount", err.hint)
    assert.matches("at recipe%.mounts%[5%]", err.message)
  end)

  it("works without a new root (the host's /proc tells the helper's pid)", function ()
    local out, st, text = H.lua(root, PRE .. [[
      return finally(function ()
        assert(os.execute("chmod 0755 '" .. dir .. "'"))
        local r = lj.empty{ namespaces = { "mount", "pid" }, uid = 1000, gid = 1000,
                            mounts = { { "bind", dir, dir, owner = true } },
                            argv = { "/bin/sh", "-c", "id -u; echo x > " .. dir .. "/f; " ..
                                     "chmod u+s " .. dir .. "/f 2>/dev/null || echo refused" } }
        local out = run(r)
        return out, core.stat(dir .. "/f").uid, r:explain()
      end)
    ]])
    assert.equal("1000\nrefused\n", out)
    assert.equal(0, st)
    assert.matches("the set%-id guard", text)
    assert.not_matches("keyctl", text)       -- no "default" preset listed: none loaded
  end)

  it("leaves no helper, fd or mount behind (core.bind, 20 times)", function ()
    if H.novalgrind("does not run a clone with CLONE_NEWUSER and a pidfd") then return end
    local before, after, children = H.lua(root, PRE .. [[
      return finally(function ()
        local function count ()
          local n = 0
          for _ in sh("ls /proc/self/fd"):gmatch("%d+") do n = n + 1 end
          return n
        end
        assert(core.unshare{ "mount" })
        assert(core.mount(nil, "/", nil, "rec,private"))
        local t, src = dir .. "/t", dir .. "/src"
        assert(core.mkdir_p(t))
        assert(core.mkdir_p(src .. "/bin"))
        local before = count()
        for _ = 1, 20 do
          assert(core.bind(src, t, "rdonly,nosuid", nil, 12345, 12345))
          assert(core.stat(t .. "/bin").uid == 12345)
          assert(core.umount(t))
        end
        local f = io.open("/proc/self/task/" .. core.getpid() .. "/children")
        local kids = f:read("a")
        f:close()
        return before, count(), kids
      end)
    ]])
    assert.equal(before, after)
    assert.equal("", children)
  end)

  H.rejects({
    { [[lj.build{ work = "/usr", caps = { "fsetid" } }:steps()]],
      "recipe: mounts%[5%]%.owner: the sandbox keeps capabilities %(caps = {fsetid}%)" },
    { [[lj.container{ uid = 0, mounts = { { "bind", "/tmp", "/work", owner = true } } }:steps()]],
      "mounts%[5%]%.owner: the payload would run as root" },
    { [[lj.container{ namespaces = { "user", "mount" },
                      mounts = { { "bind", "/tmp", "/work", owner = true } } }:steps()]],
      "mounts%[5%]%.owner: an idmapped bind needs a sandbox without a user namespace" },
    { [[lj.container{ mounts = { { "bind", "/tmp", "/work", owner = 1 } } }]],
      "recipe%.mounts%[1%]%.owner: true or false expected, got number" },
  }, root)
end)

describe("lj.build unprivileged", function ()
  local mode = H.root and "nobody" or "user"

  it("works as before: its files are the caller's, no idmapped bind", function ()
    local out, st, n = H.lua(mode, PRE .. [[
      return finally(function ()
        assert(os.execute("chmod 0755 '" .. dir .. "'"))
        local r = build{ argv = { "sh", "-c", "id -u; echo x > /work/f" } }
        local out = run(r)
        local n = 0
        for _, s in ipairs((r:steps()).steps) do
          if s[1] == "bind" and s[6] then n = n + 1 end
        end
        return out, core.stat(dir .. "/f").uid, n
      end)
    ]])
    assert.equal(H.root and 65534 or H.euid, st)
    assert.equal(0, n)
    assert.truthy(out:match("^%d+\n$"))
  end)

  H.rejects({
    { [[lj.container{ mounts = { { "bind", "/tmp", "/work", owner = true } } }:steps()]],
      "mounts%[5%]%.owner: an idmapped bind needs root" },
  }, mode)
end)
