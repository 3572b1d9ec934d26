-- bench/common.lua: what the benchmarks share -- running each one as
-- root and again as uid 65534 in the same run, bwrap with the flags of
-- the default container, the trimmed plan of the old headline, and
-- small helpers.  Only the public API: lunajail's recipes, lj.run,
-- lj.spawn, the child object, core.spawn with a plan.

local M = {}

-- the script and the repository, as absolute paths (the uid 65534 half
-- runs from /)
M.script = arg and arg[0] or "bench/?"
if M.script:sub(1, 1) ~= "/" then
  M.script = (os.getenv("PWD") or ".") .. "/" .. M.script
end
M.dir = M.script:match("^(.*)/bench/[^/]*$") or "."
package.path = M.dir .. "/lua/?.lua;" .. M.dir .. "/lua/?/init.lua;" ..
               M.dir .. "/bench/?.lua;" .. package.path
package.cpath = M.dir .. "/build/?.so;" .. package.cpath

local lj = require "lunajail"
local core = lj.core
M.lj, M.core = lj, core

M.uid, M.gid = select(2, core.getresuid()), select(2, core.getresgid())
M.root = M.uid == 0
M.lua = arg and arg[-1] or "lua5.4"        -- this interpreter, for sub-runs
M.nobody = 65534
M.setpriv = ("setpriv --reuid=%d --regid=%d --clear-groups"):format(M.nobody, M.nobody)

-- {====== Helpers ======}

function M.sh (cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  assert(p:close(), "failed: " .. cmd)
  return out
end

function M.median (t)
  if #t == 0 then return nil end
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

function M.quantile (t, q)
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  return s[math.max(1, math.min(#s, math.ceil(q * #s)))]
end

function M.best (t)
  local b
  for _, v in ipairs(t) do if not b or v < b then b = v end end
  return b
end

function M.exists (path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

function M.have (cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
end

-- where a host path points, or nil (core.readlink when the core has it;
-- the bench's own paths are fixed, so a readlink process is safe here)
function M.readlink (path)
  if core.readlink then
    local target = core.readlink(path)
    return target
  end
  local p = io.popen("readlink " .. path .. " 2>/dev/null")
  local out = p:read("l")
  p:close()
  return out ~= "" and out or nil
end

function M.date () return os.date("!%Y-%m-%d") end

function M.kernel () return (M.sh("uname -r"):gsub("%s+$", "")) end

function M.machine ()
  local cores = tonumber((M.sh("nproc"):gsub("%s+$", "")))
  return ("%d cores, Linux %s"):format(cores, M.kernel())
end

-- }======


-- {====== Both modes in one run ======}

-- The benchmark runs its own half, then (when root) itself again under
-- setpriv as uid 65534 with "--half" as its first argument.  A half
-- prints its results as "@@ key<TAB>value" lines on stdout (everything
-- human goes to stderr); the parent parses them.

M.half = arg and arg[1] == "--half"
if M.half then table.remove(arg, 1) end

function M.mode () return M.root and "root" or "uid " .. M.uid end

-- a half's results: a flat table of numbers and strings
function M.emit (t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "boolean" then v = v and "true" or "false" end
    io.stdout:write("@@ ", k, "\t", (tostring(v):gsub("[\r\n]+", " ")), "\n")
  end
  io.stdout:flush()
end

local function parse (out)
  local t = {}
  for k, v in out:gmatch("@@ ([^\t\n]+)\t([^\n]*)") do t[k] = tonumber(v) or v end
  return t
end

-- can uid 65534 read the repository, the module and the helpers?
function M.nobody_can_read (files)
  local tests = {}
  for _, f in ipairs(files) do tests[#tests + 1] = ("test -r %s"):format(f) end
  local ok = os.execute(("%s sh -c '%s' 2>/dev/null"):format(M.setpriv,
                        table.concat(tests, " && ")))
  return ok == true
end

-- halves(script_args, run) -> { {mode=, ...results}, ... }: run() here,
-- then as uid 65534 when root; a half that fails is {mode=, failed=msg}
function M.halves (run, args)
  if M.half then                        -- the re-run: one half, then out
    M.emit(run())
    os.exit(0)
  end
  local out = { run() }
  out[1].mode = M.mode()
  if M.root then
    local files = { M.dir .. "/bench/common.lua", M.script, M.dir .. "/build/lunajail/core.so",
                    M.dir .. "/lua/lunajail/init.lua", M.dir .. "/build/raw_spawn",
                    M.dir .. "/build/raw_pipe" }
    if not M.nobody_can_read(files) then
      io.stderr:write(("bench: uid %d cannot read %s (its files or a parent directory " ..
        "are not readable by others): the uid %d half is skipped\n")
        :format(M.nobody, M.dir, M.nobody))
      out[2] = { mode = "uid " .. M.nobody, failed = "cannot read " .. M.dir }
    else
      io.stderr:write(("bench: uid %d can read %s: running the unprivileged half\n")
        :format(M.nobody, M.dir))
      local cmd = ("cd / && %s %s %s --half %s"):format(M.setpriv, M.lua, M.script,
                                                         table.concat(args or {}, " "))
      local p = assert(io.popen(cmd))
      local text = p:read("a")
      local ok, _, code = p:close()
      local t = parse(text)
      t.mode = "uid " .. M.nobody
      if not ok then t.failed = t.failed or ("exit " .. tostring(code)) end
      out[2] = t
    end
  end
  return out
end

-- }======


-- {====== bwrap with the default container's flags ======}

-- the default container's seccomp filter as BPF: the seccomp step of the
-- compiled recipe (its filter object's export()), or the preset itself
function M.seccomp_bpf (r)
  local plan = (r or lj.container { argv = { "/bin/true" } }):steps()
  for _, s in ipairs(plan.steps or {}) do
    if s[1] == "seccomp" then
      local f = s[2]
      if type(f) == "string" then return f end
      if f and f.export then return assert(f:export()) end
    end
  end
  local f = require("lunajail.seccomp").spec("default")
  return assert(f:export())
end

-- writes it to a file of its own; the path
function M.seccomp_file (r)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(M.seccomp_bpf(r))
  f:close()
  return path
end

M.SECCOMP_FD = 10

-- the bwrap arguments (a string of words) equivalent to
-- lj.container{argv = cmd}: every namespace, a new session, dies with
-- its parent, no capabilities, the system directories as the host has
-- them (a symlink stays a symlink), /proc, a /dev, sized tmpfs /tmp and
-- /home, the host name, the same seccomp filter (fd SECCOMP_FD, which
-- the launcher opens: "-fd FD PATH" in front, for raw_spawn and
-- raw_pipe)
function M.bwrap_args (cmd, seccomp_path)
  local a = { "-fd", M.SECCOMP_FD, seccomp_path, "bwrap", "--unshare-all" }
  if M.exists("/proc/self/ns/cgroup") then a[#a + 1] = "--unshare-cgroup" end
  if not M.root then a[#a + 1] = "--unshare-user" end
  for _, w in ipairs { "--die-with-parent", "--new-session", "--cap-drop", "ALL" } do
    a[#a + 1] = w
  end
  for _, d in ipairs { "/bin", "/sbin", "/usr", "/lib", "/lib64", "/etc/alternatives" } do
    local target = M.readlink(d)
    if target then
      a[#a + 1] = "--symlink " .. target .. " " .. d
    elseif M.exists(d) then
      a[#a + 1] = "--ro-bind " .. d .. " " .. d
    end
  end
  for _, w in ipairs { "--proc /proc", "--dev /dev",
                       "--size 4194304 --perms 1777 --tmpfs /tmp",
                       "--size 8388608 --perms 0700 --tmpfs /home",
                       "--hostname sandbox", "--seccomp " .. M.SECCOMP_FD } do
    a[#a + 1] = w
  end
  a[#a + 1] = cmd
  return table.concat(a, " ")
end

-- }======


-- {====== The trimmed plan (the old headline; a secondary row) ======}

-- a user namespace when not root; pid, mount, net, uts and ipc namespaces;
-- a tmpfs root with a read-only /usr and /bin, /lib, /lib64 linked into
-- it; /proc; pivot_root; loopback up; no_new_privs: what raw_spawn.c does
function M.trimmed (argv, opts)
  opts = opts or {}
  local r = "/tmp/r"
  local steps = {
    { "mount", nil, "/", nil, { "rec", "private" } },
    { "mount", "tmpfs", "/tmp", "tmpfs", { "nosuid", "nodev" } },
    { "mkdir_p", r },
    { "mount", "tmpfs", r, "tmpfs", { "nosuid", "nodev" }, "mode=0755" },
    { "mkdir_p", r .. "/usr" },
    { "mount", "/usr", r .. "/usr", nil, { "bind", "rdonly", "nosuid", "nodev" } },
    { "symlink", "usr/bin", r .. "/bin" },
    { "symlink", "usr/lib", r .. "/lib" },
    { "symlink", "usr/lib64", r .. "/lib64" },
    { "mkdir_p", r .. "/proc" },
    { "mount", "proc", r .. "/proc", "proc", { "nosuid", "nodev", "noexec" } },
    { "chdir", r }, { "pivot_root", ".", "." }, { "umount", ".", { "detach" } },
    { "chdir", "/" }, { "ifup", "lo" }, { "no_new_privs" },
  }
  local p = {
    argv = argv, env = { PATH = "/usr/bin:/bin" }, pid1 = opts.pid1,
    namespaces = { "pid", "mount", "net", "uts", "ipc" },
    stdio = opts.stdio, steps = steps,
  }
  if not M.root then
    table.insert(p.namespaces, "user")
    p.uidmap, p.gidmap = { { 0, M.uid, 1 } }, { { 0, M.gid, 1 } }
  end
  return p
end

-- }======


-- {====== Printing ======}

function M.us (v) return v and ("%.0f"):format(v) or "-" end

function M.ratio (a, b)
  if not (a and b) or b == 0 then return "-" end
  return ("%.2f×"):format(a / b)
end

-- a markdown table: header (list), rows (lists of strings)
function M.markdown (header, rows)
  local lines = { "| " .. table.concat(header, " | ") .. " |" }
  local sep = {}
  for i = 1, #header do sep[i] = i == 1 and "---" or "---:" end
  lines[2] = "|" .. table.concat(sep, "|") .. "|"
  for _, r in ipairs(rows) do lines[#lines + 1] = "| " .. table.concat(r, " | ") .. " |" end
  return table.concat(lines, "\n")
end

-- "target" lines: measured beside the issue's target, never asserted
function M.target (what, measured, goal, ok)
  local mark = ok == nil and "" or (ok and "  (met)" or "  (not met)")
  return ("  %-52s measured %-9s target %s%s"):format(what, measured, goal, mark)
end

-- }======

return M
