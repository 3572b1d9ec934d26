-- landlock_abi, landlock, core.LANDLOCK
local H = require "helper"

local ABI, NOABI = H.lua(H.modes[1], "return core.landlock_abi()")

-- skips the spec, saying why, where there is no Landlock
local function needs ()
  if ABI then return end
  H.novalgrind("lacks the Landlock system calls (valgrind 3.19: " .. NOABI .. ")")
  H.skip("no Landlock: " .. NOABI)
end

-- snippet prelude: D (a fresh directory of the runner's) laid out as
--   D/f  D/x/f  D/ro/f (files)  D/t  D/x/t (copies of /usr/bin/true)
-- and probes that report what happened rather than raising
local LIB = [[
  local function put (path, text, mode)
    assert(core.write_file(path, text, mode))
  end
  assert(core.mkdir_p(D .. "/x"))
  assert(core.mkdir_p(D .. "/ro"))
  put(D .. "/f", "f\n")
  put(D .. "/x/f", "x\n")
  put(D .. "/ro/f", "ro\n")
  local h = assert(io.open("/usr/bin/true", "rb"))
  local bin = h:read("a") h:close()
  put(D .. "/t", bin, "0755")
  put(D .. "/x/t", bin, "0755")
  local function read (path)             -- the content, or the errno
    local f, _, e = io.open(path, "rb")
    if not f then return e end
    local s = f:read("a") f:close()
    return s or "unreadable"
  end
  local function write (path)            -- true, or the errno
    local f, _, e = io.open(path, "w")
    if not f then return e end
    f:write("new\n") f:close()
    return true
  end
  -- "exit N" of an exec'd program, its environment empty (no LD_PRELOAD
  -- of a sanitizer run, which would need /proc)
  local function run (path, ...)
    local pid = assert(core.fork())
    if pid == 0 then
      local _, _, e = core.exec(path, {path, ...}, {})
      core._exit(100 + (e or 0))
    end
    local st = assert(core.waitpid(pid))
    return st.signaled and st.signame or "exit " .. st.code
  end
  local function restrict (rules)
    assert(core.no_new_privs())
    assert(core.landlock(rules))
  end
]]

-- runs code in mode with D set to a fresh directory, removed afterwards
local function lua (mode, code)
  local dir = H.sh("mktemp -d /tmp/lunajail-landlock.XXXXXX"):match("%S+")
  H.sh("chmod 777 " .. dir)
  finally(function() H.sh("rm -rf " .. dir) end)
  return H.lua(mode, ("local D = %q\n"):format(dir) .. LIB .. code)
end

local EACCES = 13

describe("core landlock", function()
  it("reports the ABI version, and names the rights", function()
    needs()
    local L = H.lua(H.modes[1], "return core.LANDLOCK")
    assert.is_true(math.type(ABI) == "integer" and ABI >= 1)
    assert.equal(1, L.LANDLOCK_ACCESS_FS_EXECUTE)
    assert.equal(2, L.LANDLOCK_ACCESS_FS_WRITE_FILE)
    assert.equal(4, L.LANDLOCK_ACCESS_FS_READ_FILE)
    assert.equal(8, L.LANDLOCK_ACCESS_FS_READ_DIR)
    assert.equal(1 << 13, L.LANDLOCK_ACCESS_FS_REFER)
    assert.equal(1 << 15, L.LANDLOCK_ACCESS_FS_IOCTL_DEV)
    assert.equal("LANDLOCK_ACCESS_FS_READ_FILE", L[4])
    assert.equal("LANDLOCK_ACCESS_FS_MAKE_SYM", L[1 << 12])
  end)

  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("reads and execs under ro, writes only under rw", function()
        needs()
        local r = lua(mode, [[
          local before = { outside = run(D .. "/t"), etc = read("/etc/hostname") }
          restrict{ {"/usr", "ro"}, {D .. "/x", "rw"}, {D .. "/ro", "ro"} }
          return {
            before = before,
            usr = read("/usr/bin/true") == bin,
            etc = read("/etc/hostname"),
            new_outside = write(D .. "/new"),
            old_outside = write(D .. "/f"),
            read_outside = read(D .. "/f"),
            new_inside = write(D .. "/x/new"),
            old_inside = write(D .. "/x/f"),
            back = read(D .. "/x/new"),
            ro_write = write(D .. "/ro/f"),
            ro_read = read(D .. "/ro/f"),
            mkdir_inside = core.mkdir_p(D .. "/x/a/b"),
            mkdir_outside = select(3, core.mkdir_p(D .. "/y")),
            true_usr = run("/usr/bin/true"),
            true_inside = run(D .. "/x/t"),
            true_outside = run(D .. "/t"),
            cat = run("/usr/bin/cat", "/etc/hostname"),
          }
        ]])
        assert.equal("exit 0", r.before.outside)    -- D is not noexec
        assert.is_string(r.before.etc)
        assert.is_true(r.usr)
        assert.equal(EACCES, r.etc)
        assert.equal(EACCES, r.new_outside)
        assert.equal(EACCES, r.old_outside)
        assert.equal(EACCES, r.read_outside)
        assert.is_true(r.new_inside)
        assert.is_true(r.old_inside)
        assert.equal("new\n", r.back)
        assert.equal(EACCES, r.ro_write)             -- even for root
        assert.equal("ro\n", r.ro_read)
        assert.is_true(r.mkdir_inside)
        assert.equal(EACCES, r.mkdir_outside)
        assert.equal("exit 0", r.true_usr)            -- ro includes execute
        assert.equal("exit 0", r.true_inside)
        assert.equal("exit " .. 100 + EACCES, r.true_outside)
        assert.equal("exit 1", r.cat)                 -- inherited by exec
      end)

      it("grants exactly a list of rights, by name or number", function()
        needs()
        local r = lua(mode, [[
          restrict{ {"/usr", "ro"},
                    {D .. "/x", {"read_file", core.LANDLOCK.LANDLOCK_ACCESS_FS_READ_DIR}},
                    {D .. "/ro", {"make_reg", "write_file"}} }
          return { read = read(D .. "/x/f"), write = write(D .. "/x/f"),
                   create = write(D .. "/x/new"), exec = run(D .. "/x/t"),
                   ro_create = write(D .. "/ro/new"), ro_read = read(D .. "/ro/f") }
        ]])
        assert.equal("x\n", r.read)
        assert.equal(EACCES, r.write)
        assert.equal(EACCES, r.create)
        assert.equal("exit " .. 100 + EACCES, r.exec)
        assert.is_true(r.ro_create)
        assert.equal(EACCES, r.ro_read)
      end)

      it("restricts only the handled rights", function()
        needs()
        local r = lua(mode, [[
          restrict{ {D .. "/x", "rw"},
                    handled = {"write_file", "make_reg", "make_dir", "truncate"} }
          return { etc = read("/etc/hostname"), usr = run("/usr/bin/true"),
                   outside = run(D .. "/t"), read = read(D .. "/f"),
                   new = write(D .. "/new"), old = write(D .. "/f"),
                   inside = write(D .. "/x/new"),
                   mkdir = select(3, core.mkdir_p(D .. "/y")) }
        ]])
        assert.is_string(r.etc)                      -- reads are not handled
        assert.equal("exit 0", r.usr)
        assert.equal("exit 0", r.outside)
        assert.equal("f\n", r.read)
        assert.equal(EACCES, r.new)
        assert.equal(EACCES, r.old)
        assert.equal(EACCES, r.mkdir)
        assert.is_true(r.inside)
      end)

      it("handles \"ro\" as a set too", function()
        needs()
        local r = lua(mode, [[
          restrict{ {"/usr", "ro"}, handled = "ro" }
          return { etc = read("/etc/hostname"), new = write(D .. "/new"),
                   usr = run("/usr/bin/true") }
        ]])
        assert.equal(EACCES, r.etc)
        assert.is_true(r.new)                        -- writes are not handled
        assert.equal("exit 0", r.usr)
      end)

      it("takes a regular file as a rule, with file rights only", function()
        needs()
        local r = lua(mode, [[
          restrict{ {"/usr", "ro"}, {D .. "/f", "rw"}, {D .. "/t", "ro"} }
          return { write = write(D .. "/f"), read = read(D .. "/f"),
                   other = write(D .. "/g"), exec = run(D .. "/t") }
        ]])
        assert.is_true(r.write)
        assert.equal("new\n", r.read)
        assert.equal(EACCES, r.other)
        assert.equal("exit 0", r.exec)
      end)

      it("denies the whole file system with no rules", function()
        needs()
        local r = lua(mode, [[
          restrict{}
          return { usr = read("/usr/bin/true"), new = write(D .. "/x/new"),
                   exec = run("/usr/bin/true") }
        ]])
        assert.equal(EACCES, r.usr)
        assert.equal(EACCES, r.new)
        assert.equal("exit " .. 100 + EACCES, r.exec)
      end)

      it("narrows with every further ruleset", function()
        needs()
        local r = lua(mode, [[
          restrict{ {"/usr", "ro"}, {D, "rw"} }
          local first = write(D .. "/f")
          assert(core.landlock{ {"/usr", "ro"}, {D .. "/x", "rw"} })
          -- widening again has no effect
          assert(core.landlock{ {"/usr", "ro"}, {D, "rw"} })
          return { first = first, outer = write(D .. "/f"),
                   inner = write(D .. "/x/f") }
        ]])
        assert.is_true(r.first)
        assert.equal(EACCES, r.outer)
        assert.is_true(r.inner)
      end)

      it("reports a missing path as ENOENT and restricts nothing", function()
        needs()
        local ok, msg, errno, etc = lua(mode, [[
          assert(core.no_new_privs())
          local ok, msg, errno = core.landlock{ {"/usr", "ro"},
                                                {D .. "/nonexistent", "rw"} }
          return ok, msg, errno, read("/etc/hostname")
        ]])
        assert.is_nil(ok)
        assert.matches('^landlock%({"/usr", "/tmp/lunajail%-landlock%.[%w]+/nonexistent"}%): ' ..
                       "No such file or directory %(ENOENT%)$", msg)
        assert.equal(2, errno)
        assert.is_string(etc)
      end)

      it("lists at most six paths in its messages", function()
        needs()
        local msg = select(2, lua(mode, [[
          assert(core.no_new_privs())
          local rules = {}
          for i = 1, 7 do rules[i] = {"/nonexistent" .. i, "ro"} end
          return core.landlock(rules)
        ]]))
        assert.equal('landlock({"/nonexistent1", "/nonexistent2", "/nonexistent3", ' ..
                     '"/nonexistent4", "/nonexistent5", "/nonexistent6", ...}): ' ..
                     "No such file or directory (ENOENT)", msg)
      end)

      it("reports an empty handled set as ENOMSG", function()
        needs()
        local ok, msg, errno = lua(mode, [[
          assert(core.no_new_privs())
          return core.landlock{ {"/usr", "ro"}, handled = {} }
        ]])
        assert.is_nil(ok)
        assert.equal('landlock({"/usr"}): No message of desired type (ENOMSG)', msg)
        assert.equal(42, errno)
      end)

      if mode == "root" then
        it("restricts without no_new_privs with CAP_SYS_ADMIN", function()
          needs()
          local ok, w = lua(mode, [[
            local ok = core.landlock{ {"/usr", "ro"} }
            return ok, write(D .. "/new")
          ]])
          assert.is_true(ok)
          assert.equal(EACCES, w)
        end)
      else
        it("needs no_new_privs: EPERM", function()
          needs()
          local ok, msg, errno, w = lua(mode, [[
            local ok, msg, errno = core.landlock{ {"/usr", "ro"} }
            return ok, msg, errno, write(D .. "/new")
          ]])
          assert.is_nil(ok)
          assert.equal('landlock({"/usr"}): Operation not permitted (EPERM)', msg)
          assert.equal(1, errno)
          assert.is_true(w)
        end)
      end
    end)
  end

  describe("bad input", function()
    local cases = {
      { "core.landlock()", "landlock: bad argument #1 %(rules%): table expected, got no value" },
      { "core.landlock('/usr')", "#1 %(rules%): table expected, got string" },
      { "core.landlock{'/usr'}", "#1 %(rules%): rule 1: {path, access} expected" },
      { "core.landlock{{'/usr', 'ro'}, 42}", "rule 2: {path, access} expected" },
      { "core.landlock{{'usr', 'ro'}}", "#1 %(rules%): rule 1: absolute path expected" },
      { "core.landlock{{'./usr', 'ro'}}", "rule 1: absolute path expected" },
      { "core.landlock{{'', 'ro'}}", "rule 1: absolute path expected" },
      { "core.landlock{{42, 'ro'}}", "rule 1: absolute path expected" },
      { "core.landlock{{'/u\\0sr', 'ro'}}", "rule 1: absolute path expected" },
      { "core.landlock{{'/usr'}}",
        "rule 1: access \"ro\", \"rw\" or a list of rights expected" },
      { "core.landlock{{'/usr', 'rx'}}", "rule 1: access \"ro\", \"rw\"" },
      { "core.landlock{{'/usr', 7}}", "rule 1: access \"ro\", \"rw\"" },
      { "core.landlock{{'/usr', {'exec'}}}",
        "#1 %(rules%): unknown landlock right \"exec\" %(valid: execute, write_file" },
      { "core.landlock{{'/usr', {'read_file', true}}}", "item 2: landlock right name" },
      { "core.landlock{{'/usr', {'read_file', -1}}}", "item 2: landlock right name" },
      { "core.landlock{{'/usr', {1 << 16}}}", "rule 1: unknown landlock right bits 65536" },
      { "core.landlock{{'/usr', 'ro'}, handled = 'bogus'}",
        "#1 %(rules%): handled: access \"ro\", \"rw\" or a list of rights expected" },
      { "core.landlock{{'/usr', 'ro'}, handled = {'nope'}}", "unknown landlock right \"nope\"" },
      { "core.landlock{{'/usr', 'ro'}, handled = {1 << 40}}",
        "item 1: 1099511627776 out of range" },
      { "core.landlock{{'/usr', 'ro'}, handled = true}", "handled: access" },
      { "local r = {} for i = 1, 4097 do r[i] = {'/usr', 'ro'} end return core.landlock(r)",
        "#1 %(rules%): more than 4096 rules" },
    }
    for _, c in ipairs(cases) do
      it("rejects " .. c[1], function()
        local code = c[1]:match("^local") and c[1] or "return " .. c[1]
        local err = H.raises(H.modes[1], code)
        assert.matches(c[2], err)
      end)
    end
  end)
end)
