-- mount, umount, pivot_root, chroot, chdir and the file helpers
local H = require "helper"

describe("core mount primitives", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("mounts a tmpfs with flags and data, and unmounts it", function()
        local opts, after = H.lua(mode, [[
          enter{"user", "mount"}
          assert(core.mount(nil, "/", nil, {"rec", "private"}))
          assert(core.mount("tmpfs", "/mnt", "tmpfs", "nosuid,nodev",
                            "size=64k,mode=0700"))
          local line
          for l in io.lines("/proc/self/mountinfo") do
            if l:find(" /mnt ", 1, true) then line = l end
          end
          assert(core.umount("/mnt", {"detach"}))
          local still = false
          for l in io.lines("/proc/self/mountinfo") do
            if l:find(" /mnt ", 1, true) then still = true end
          end
          return line, still
        ]])
        assert.matches("nosuid", opts)
        assert.matches("nodev", opts)
        assert.matches("size=64k", opts)
        assert.is_false(after)
      end)

      it("makes a bind read-only, keeping the source's locked flags", function()
        local ok, err, ro = H.lua(mode, [[
          enter{"user", "mount"}
          assert(core.mount(nil, "/", nil, {"rec", "private"}))
          assert(core.mount("tmpfs", "/mnt", "tmpfs"))
          assert(core.mkdir_p("/mnt/a"))
          assert(core.mount("/usr", "/mnt/a", nil, {"bind", "rdonly", "nosuid"}))
          local f, err = io.open("/mnt/a/lunajail-ro-test", "w")
          local ro
          for l in io.lines("/proc/self/mountinfo") do
            if l:find(" /mnt/a ", 1, true) then ro = l:match(" (r[ow]),") end
          end
          return f ~= nil, err, ro
        ]])
        assert.is_false(ok)
        assert.matches("Read%-only file system", err)
        assert.equal("ro", ro)
      end)

      it("reports a failed mount as nil, message, errno", function()
        local ok, msg, errno = H.lua(mode, [[
          return core.mount("tmpfs", "/nonexistent/x", "tmpfs")
        ]])
        assert.is_nil(ok)
        assert.equal('mount("tmpfs", "/nonexistent/x", "tmpfs"): ' ..
                     'No such file or directory (ENOENT)', msg)
        assert.equal(2, errno)
      end)

      it("pivots into a new root and detaches the old one", function()
        local root, old = H.lua(mode, [[
          enter{"user", "mount"}
          assert(core.mount(nil, "/", nil, {"rec", "private"}))
          assert(core.mount("tmpfs", "/tmp", "tmpfs"))
          assert(core.mkdir_p("/tmp/r/old"))
          assert(core.mkdir_p("/tmp/r/marker"))
          assert(core.mount("tmpfs", "/tmp/r", "tmpfs"))
          assert(core.mkdir_p("/tmp/r/old"))
          assert(core.mkdir_p("/tmp/r/inside"))
          assert(core.chdir("/tmp/r"))
          assert(core.pivot_root(".", "old"))
          assert(core.umount("/old", "detach"))
          assert(core.chdir("/"))
          -- the host's tree is gone: only what the new root holds is left
          return core.chdir("/old/usr") == nil and core.chdir("/usr") == nil,
                 core.chdir("/inside")
        ]])
        assert.is_true(root)
        assert.is_true(old)
      end)

      it("chroots into a directory", function()
        local ok, err = H.lua(mode, [[
          enter{"user", "mount"}
          assert(core.mount(nil, "/", nil, {"rec", "private"}))
          assert(core.mount("tmpfs", "/mnt", "tmpfs"))
          assert(core.mkdir_p("/mnt/only-here"))
          assert(core.chroot("/mnt"))
          assert(core.chdir("/"))
          return core.chdir("/only-here"), core.chdir("/usr")
        ]])
        assert.is_true(ok)
        assert.is_nil(err)
      end)

      it("creates directories, files and symlinks with exact modes", function()
        local d, f, l, l2, again, clash = H.lua(mode, [[
          enter{"user", "mount"}
          assert(core.mount(nil, "/", nil, {"rec", "private"}))
          assert(core.mount("tmpfs", "/mnt", "tmpfs"))
          local function mode (p)
            local h = io.popen("stat -c %a " .. p)
            local m = h:read("l") h:close() return m
          end
          assert(core.mkdir_p("/mnt/a/b/c", "1777"))
          assert(core.mkdir_p("/mnt/a/b/c", "1777"))   -- exists: fine
          assert(core.write_file("/mnt/f", "x\0y", "0600"))
          local h = io.open("/mnt/f", "rb") local data = h:read("a") h:close()
          assert(data == "x\0y")
          assert(core.symlink("/mnt/f", "/mnt/l"))
          local again = core.symlink("/mnt/f", "/mnt/l")
          local _, clash = core.symlink("/other", "/mnt/l")
          assert(core.touch("/mnt/t", "0444"))
          return mode("/mnt/a/b/c"), mode("/mnt/f"), mode("/mnt/t"),
                 mode("/mnt/a"), again, clash
        ]])
        assert.equal("1777", d)
        assert.equal("600", f)
        assert.equal("444", l)
        assert.equal("755", l2)
        assert.is_true(again)
        assert.matches("EEXIST", clash)
      end)
    end)
  end

  describe("bad input", function()
    local cases = {
      { "core.mount(nil, 'rel', nil, {'binf'})", "unknown mount flag \"binf\"" },
      { "core.mount(nil, '', 'tmpfs')", "#2 %(target%): empty path" },
      { "core.mount(nil, '/x\\0y', 'tmpfs')", "contains a NUL" },
      { "core.mount(nil, 42, 'tmpfs')", "string expected, got number" },
      { "core.mount(nil, '/x', 'tmpfs', -1)", "#4 %(flags%): %-1 out of range" },
      { "core.mount(nil, '/x', 'tmpfs', {true})", "item 1: mount flag name" },
      { "core.umount('/x', {'later'})", "unknown umount flag \"later\"" },
      { "core.mkdir_p('/x', 0755)", "octal mode string" },
      { "core.mkdir_p('/x', '0999')", "octal mode string expected" },
      { "core.mkdir_p('/x', '17777')", "above 07777" },
      { "core.write_file('/x', nil)", "#2 %(content%): string expected" },
      { "core.pivot_root('.')", "#2 %(put_old%): string expected, got no value" },
      { "core.chdir()", "#1 %(path%): string expected, got no value" },
      { "core.symlink('a')", "#2 %(linkpath%)" },
    }
    H.rejects(cases)
  end)
end)
