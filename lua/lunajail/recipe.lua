-- lunajail.recipe: recipes as plain Lua tables.
--
-- A recipe is a table of fields (the schema below).  recipe.new(t) checks
-- every field -- raising with the field's path and how to fix it -- and
-- returns a normalised copy: long forms only (a mount is always
-- {type=, target=, ...}), so two recipes that mean the same print the
-- same.  recipe.merge(a, b) is r:with(b): lists append, maps merge,
-- everything else is replaced; replace(x) replaces a list or map instead,
-- none removes a field or a map key.

local core = require "lunajail.core"
local seccomp = require "lunajail.seccomp"
local pasta = require "lunajail.pasta"

local M = {}

-- sentinels for merging
M.none = setmetatable({}, { __name = "lunajail.none",
                            __tostring = function () return "lunajail.none" end })
local Replace = { __name = "lunajail.replace" }
function M.replace (v) return setmetatable({ value = v }, Replace) end

local function fail (path, fmt, ...)
  error("lunajail: recipe." .. path .. ": " .. fmt:format(...), 0)
end

local function typename (v)
  if v == M.none then return "lunajail.none" end
  return type(v)
end

-- {====== Numbers: the one check of every time and size ======}

M.MAXTIME = 1e9            -- seconds (about 31 years): any timeout
M.MAXBYTES = 1 << 40       -- bytes: any size kept in memory

local function numtext (v)
  if v ~= v then return "NaN" end
  if math.type(v) == "integer" then return tostring(v) end
  return ("%.14g"):format(v)
end

-- number(v, what, min, max [, integer]) -> v, or raises
-- "lunajail: what: ...".  NaN compares false with everything (a deadline
-- of now() + NaN never comes), -inf and -1e12 put one in the past
-- forever: only numbers in [min, max] pass, integers when integer.
-- Strings never do, "5" included.
function M.number (v, what, min, max, integer)
  local ok = type(v) == "number" and v >= min and v <= max
             and (not integer or math.tointeger(v) ~= nil)
  if ok then return integer and math.tointeger(v) or v end
  if type(v) ~= "number" then
    error(("lunajail: %s: %s expected, got %s"):format(what,
          integer and "integer" or "number", typename(v)), 0)
  end
  error(("lunajail: %s: %s from %s to %s expected, got %s"):format(what,
        integer and "an integer" or "a number", numtext(min), numtext(max),
        numtext(v)), 0)
end

-- }======


-- {====== Checkers: each takes (value, path), returns the normal form ======}

local C = {}

function C.boolean (v, p)
  if type(v) ~= "boolean" then
    fail(p, "true or false expected, got %s%s", typename(v),
         type(v) == "number" and " (0 is true in Lua: use a boolean)" or "")
  end
  return v
end

function C.string (v, p)
  if type(v) ~= "string" then fail(p, "string expected, got %s", typename(v)) end
  if v:find("\0", 1, true) then fail(p, "string contains a NUL byte") end
  return v
end

function C.name (v, p)                      -- host and domain names
  C.string(v, p)
  if #v > 64 then fail(p, "at most 64 bytes, got %d", #v) end
  return v
end

function C.abspath (v, p)
  C.string(v, p)
  if v:sub(1, 1) ~= "/" then
    fail(p, "absolute path expected, got %q (start it with /)", v)
  end
  for part in v:gmatch("[^/]+") do
    if part == ".." then fail(p, "%q: '..' is not allowed in a path", v) end
  end
  if #v >= 4096 then fail(p, "path longer than 4095 bytes") end
  return v == "/" and v or (v:gsub("/+", "/"):gsub("/$", ""))
end

-- an overlay dir: overlayfs reads ',' (next option), ':' (next lower
-- dir) and '\' (escape) in its option string, and a control character
-- has no business in a path there.  The overlay step hands the kernel
-- fds by name, never these paths; refused anyway, with a clear word
function C.layer (v, p)
  v = C.abspath(v, p)
  local bad = v:match("[,:\\%c]")
  if bad then
    fail(p, "%q: %s cannot be in an overlay dir (overlayfs reads ',' ':' and '\\' " ..
         "in its options as syntax, and no control character belongs there)", v,
         bad:match("%c") and ("byte %d"):format(bad:byte()) or "'" .. bad .. "'")
  end
  return v
end

function C.id (v, p)
  if math.type(v) ~= "integer" then
    fail(p, "integer id expected, got %s%s", typename(v),
         type(v) == "string" and " (names are not resolved: give the number)" or "")
  end
  if v < 0 or v > 4294967294 then fail(p, "id %d out of range [0, 4294967294]", v) end
  return v
end

function C.uid (v, p)                       -- an id, or "auto"
  if v == "auto" then return v end
  return C.id(v, p)
end

function C.nice (v, p)
  if math.type(v) ~= "integer" or v < -20 or v > 19 then
    fail(p, "integer from -20 to 19 expected, got %s", tostring(v))
  end
  return v
end

function C.mode (v, p)
  if type(v) ~= "string" or not v:match("^[0-7][0-7]?[0-7]?[0-7]?[0-7]?$")
     or tonumber(v, 8) > 4095 then
    fail(p, "octal mode string like \"0755\" expected, got %s%s", tostring(v),
         type(v) == "number" and " (Lua has no octal literals: write \"0755\")" or "")
  end
  return v
end

-- a mode for what the setup makes: files and dirs are made with the
-- caller's privileges, often in a host directory, so never set-uid or
-- set-gid (the sticky bit, "1777", is fine)
local SUGID = tonumber("6000", 8)

function C.setupmode (v, p)
  C.mode(v, p)
  if tonumber(v, 8) & SUGID ~= 0 then
    fail(p, "mode %q: no set-uid or set-gid bit (04000, 02000) here: the setup " ..
         "runs with your privileges, often in a host directory, and never makes " ..
         "such files or directories (the sticky bit 01000 is fine)", v)
  end
  return v
end

function C.seconds (v, p)                   -- setup_timeout
  return M.number(v, "recipe." .. p, 0.001, 3600)
end

function C.size (v, p)                      -- "4m", "512k", "1g", or bytes
  if math.type(v) == "integer" and v > 0 then return tostring(v) end
  if type(v) ~= "string" or not v:match("^[1-9]%d*[kmgKMG]?$") then
    fail(p, "size like \"4m\", \"512k\" or a positive byte count expected, got %s",
         tostring(v))
  end
  return v:lower()
end

function C.inodes (v, p)                    -- a tmpfs's nr_inodes: 0 is no limit
  if math.type(v) ~= "integer" or v < 1 or v > 4294967295 then
    fail(p, "positive integer expected, got %s%s", tostring(v),
         v == 0 and " (0 means no limit)" or "")
  end
  return v
end

local function list (check)
  return function (v, p)
    if type(v) ~= "table" then fail(p, "list expected, got %s", typename(v)) end
    local out = {}
    for k in pairs(v) do
      if math.type(k) ~= "integer" or k < 1 or k > #v then
        fail(p, "list expected, has key %s", tostring(k))
      end
    end
    for i = 1, #v do out[i] = check(v[i], ("%s[%d]"):format(p, i)) end
    return out
  end
end

C.strings = list(C.string)
C.abspaths = list(C.abspath)
C.ids = list(C.id)

function C.argv (v, p)
  local a = C.strings(v, p)
  if #a == 0 then fail(p, "empty argv: argv[1] is the program") end
  return a
end

function C.env (v, p)
  if type(v) ~= "table" then fail(p, "table expected, got %s", typename(v)) end
  local out = {}
  for k, x in pairs(v) do
    if math.type(k) == "integer" then        -- "NAME=value"
      local s = C.string(x, ("%s[%d]"):format(p, k))
      local name, value = s:match("^([^=]+)=(.*)$")
      if not name then fail(("%s[%d]"):format(p, k), "\"NAME=value\" expected, got %q", s) end
      out[name] = value
    else
      local kp = ("%s.%s"):format(p, tostring(k))
      if type(k) ~= "string" or k == "" or k:find("[=%z]") then
        fail(p, "variable names are strings without '=', got %s", tostring(k))
      end
      if x == M.none then out[k] = M.none
      elseif type(x) ~= "string" then
        fail(kp, "string expected, got %s (tostring it)", typename(x))
      else out[k] = C.string(x, kp) end
    end
  end
  return out
end

local nsnames = { user = true, pid = true, mount = true, net = true, uts = true,
                  ipc = true, cgroup = true, time = true }

function C.namespaces (v, p)
  local seen, out = {}, {}
  for i, n in ipairs(C.strings(v, p)) do
    if not nsnames[n] then
      fail(("%s[%d]"):format(p, i), "unknown namespace %q (valid: user, pid, " ..
           "mount, net, uts, ipc, cgroup, time)", n)
    end
    if not seen[n] then seen[n] = true out[#out + 1] = n end
  end
  table.sort(out)
  return out
end

-- net = {veth = {...}}: what unshare_veth takes, under the recipe's names
local vethkeys = { address = "address", host_address = "host_address",
                   gateway = "gateway", host_name = "name", name = "peer" }
local vethfield = {}
for k, x in pairs(vethkeys) do vethfield[x] = k end

function C.veth (v, p)
  if type(v) ~= "table" then
    fail(p, "table {address = \"10.200.0.2/30\", host_address = ..., ...} expected, got %s",
         typename(v))
  end
  local op = {}
  for k, x in pairs(v) do
    if not vethkeys[k] then
      fail(p, "unknown key %s (valid: address, gateway, host_address, host_name, name)",
           tostring(k))
    end
    op[vethkeys[k]] = x
  end
  if v.address == nil then
    fail(p .. ".address", "the sandbox's address (\"10.200.0.2/30\") expected")
  end
  local ok, err = pcall(core.describe, { "unshare_veth", op })
  if not ok then                  -- the step's own check, under the field's name
    local msg = tostring(err):match("%(veth%): (.*)$") or tostring(err)
    local key, rest = msg:match("^(%a[%w_]*): (.*)$")
    if vethfield[key] then fail(p .. "." .. vethfield[key], "%s", rest) end
    fail(p, "%s", msg)
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = type(x) == "table" and { table.unpack(x) } or x
  end
  return out
end

-- net = {share = child}: a running sandbox of this process
function C.child (v, p)
  local mt = getmetatable(v)
  if type(v) ~= "userdata" or type(mt) ~= "table" or mt.__name ~= "lunajail.Child" then
    fail(p, "a child object (what lunajail.spawn returns) expected, got %s", typename(v))
  end
  return v
end

function C.net (v, p)
  if v == "none" or v == "host" then return v end
  if type(v) ~= "table" or v == M.none then
    fail(p, "\"none\" (a network namespace with only lo, up), \"host\", {veth = ...}, " ..
         "{share = child} or {pasta = ...} expected, got %s", tostring(v))
  end
  local kind, other
  for k in pairs(v) do
    if k ~= "veth" and k ~= "share" and k ~= "pasta" then
      fail(p, "unknown key %s (valid: veth, share, pasta: one of them)", tostring(k))
    end
    if kind then other = k end
    kind = kind or k
  end
  if other then
    local a, b = kind < other and kind or other, kind < other and other or kind
    fail(p, "one of veth, share and pasta: not both %s and %s", a, b)
  end
  if not kind then fail(p, "empty table: one of veth, share and pasta expected") end
  if kind == "veth" then return { veth = C.veth(v.veth, p .. ".veth") } end
  if kind == "share" then return { share = C.child(v.share, p .. ".share") } end
  return { pasta = pasta.check(v.pasta, p .. ".pasta") }
end

function C.idmap (v, p)
  if type(v) ~= "table" or #v == 0 then
    fail(p, "list of {inside, outside, count} expected")
  end
  local out = {}
  for i, r in ipairs(v) do
    local rp = ("%s[%d]"):format(p, i)
    if type(r) ~= "table" then fail(rp, "{inside, outside, count} expected") end
    out[i] = { C.id(r[1], rp .. "[1]"), C.id(r[2], rp .. "[2]"), C.id(r[3], rp .. "[3]") }
    if out[i][3] == 0 then fail(rp .. "[3]", "count must be at least 1") end
  end
  return out
end

function C.root (v, p)
  if v == "tmpfs" then return v end
  if type(v) == "string" then return { path = C.abspath(v, p), rw = false } end
  if type(v) == "table" then
    for k in pairs(v) do
      if k ~= 1 and k ~= "path" and k ~= "rw" then
        fail(p, "unknown key %s (valid: path, rw)", tostring(k))
      end
    end
    return { path = C.abspath(v.path or v[1], p .. ".path"),
             rw = v.rw == nil and false or C.boolean(v.rw, p .. ".rw") }
  end
  fail(p, "\"tmpfs\", a directory path, or {path = ..., rw = true} expected, got %s",
       typename(v))
end

local rlimitnames = {}
for _, n in ipairs { "as", "core", "cpu", "data", "fsize", "locks", "memlock",
                     "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio",
                     "rttime", "sigpending", "stack" } do
  rlimitnames[n] = true
end

local function limit (v, p)
  if v == "infinity" or v == math.huge then return "infinity" end
  if math.type(v) ~= "integer" or v < 0 then
    fail(p, "non-negative integer or \"infinity\" expected, got %s", tostring(v))
  end
  return v
end

function C.rlimits (v, p)
  if type(v) ~= "table" then fail(p, "table {name = limit} expected, got %s", typename(v)) end
  local out = {}
  for k, x in pairs(v) do
    local kp = ("%s.%s"):format(p, tostring(k))
    if not rlimitnames[k] then
      fail(kp, "unknown resource (valid: as, core, cpu, data, fsize, locks, " ..
           "memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, " ..
           "sigpending, stack)")
    end
    if x == M.none then out[k] = M.none
    elseif type(x) == "table" then
      local soft, hard = limit(x[1] or x.soft, kp .. ".soft"),
                         limit(x[2] or x.hard, kp .. ".hard")
      local above = hard ~= "infinity" and (soft == "infinity" or soft > hard)
      if above then
        fail(kp, "soft limit %s above the hard limit %s", tostring(soft), tostring(hard))
      end
      out[k] = { soft, hard }
    else
      local l = limit(x, kp)
      out[k] = { l, l }
    end
  end
  return out
end

function C.caps (v, p)
  local out = {}
  for i, n in ipairs(C.strings(v, p)) do
    local s = n:lower():gsub("^cap_", "")
    local ok = pcall(core.describe, { "caps_keep", { s } })
    if not ok then
      fail(("%s[%d]"):format(p, i), "unknown capability %q (see core.caps_names())", n)
    end
    out[i] = s
  end
  return out
end

-- a filter object (core.seccomp_filter) or {bpf = "..."}: raw BPF, a
-- string of struct sock_filter (8 bytes each), as bwrap's --seccomp FD
local BPF_MAXINSNS = 4096

local function isfilter (v)
  local mt = getmetatable(v)
  return type(v) == "userdata" and type(mt) == "table" and mt.__name == "lunajail.SeccompFilter"
end
M.isfilter = isfilter

-- the keys of a seccomp table: a preset's (preset, allow, deny, notify)
-- or a filter spec's
local SECCOMPKEYS = { preset = 1, allow = 1, deny = 1, notify = 1, bpf = 1, default = 1,
                      rules = 1, arch = 1, badarch = 1 }

local function checkseccompkeys (v, p)
  for k in pairs(v) do
    if not SECCOMPKEYS[k] then
      fail(p, "unknown key %s%s (valid: preset, allow, deny, notify, bpf, or a filter " ..
           "spec: default, rules, arch, badarch)", tostring(k), M.suggest(k, SECCOMPKEYS))
    end
  end
  if v.notify ~= nil and (v.default ~= nil or v.rules ~= nil or v.arch ~= nil
                          or v.badarch ~= nil) then
    fail(p .. ".notify", "goes with a preset (preset, allow, deny); a filter spec of " ..
         "the recipe's own gives notify rules itself: {\"notify\", \"openat\"}")
  end
end

function C.seccomp (v, p)
  if v == "none" or seccomp.PRESETS[v] then return v end
  if isfilter(v) then
    if tostring(v):find("closed", 1, true) then fail(p, "the filter object is closed") end
    return v
  end
  if type(v) == "table" and v ~= M.none then
    if v.bpf ~= nil then
      if next(v, nil) ~= "bpf" or next(v, "bpf") ~= nil then
        fail(p, "{bpf = ...} takes nothing else: the program is whole")
      end
      local b = v.bpf
      if type(b) ~= "string" then
        fail(p .. ".bpf", "a string of BPF expected, got %s", typename(b))
      end
      if #b == 0 or #b % 8 ~= 0 then
        fail(p .. ".bpf", "%d bytes: a BPF program is 8 bytes per instruction (struct " ..
             "sock_filter), at least one", #b)
      end
      if #b // 8 > BPF_MAXINSNS then
        fail(p .. ".bpf", "%d instructions: more than the kernel's %d", #b // 8, BPF_MAXINSNS)
      end
      return { bpf = b }
    end
    checkseccompkeys(v, p)
    if v.preset ~= nil and not seccomp.PRESETS[v.preset] then
      fail(p .. ".preset", "\"default\", \"strict\" or \"allowlist\" expected, got %s%s",
           type(v.preset) == "string" and ("%q"):format(v.preset) or typename(v.preset),
           M.suggest(v.preset, seccomp.PRESETS))
    end
    return v
  end
  local names = { none = true }
  for k in pairs(seccomp.PRESETS) do names[k] = true end
  fail(p, "\"default\", \"strict\", \"allowlist\", \"none\", a table, a filter object " ..
       "(core.seccomp_filter) or {bpf = ...} expected, got %s%s",
       type(v) == "string" and ("%q"):format(v) or typename(v), M.suggest(v, names))
end

-- TCP ports for Landlock (ABI 4): a list of 0 to 65535 (bind 0: an
-- ephemeral port)
local function portlist (v, p)
  local out = list(function (x, xp)
    if math.type(x) ~= "integer" or x < 0 or x > 65535 then
      fail(xp, "a port from 0 to 65535 expected, got %s", tostring(x))
    end
    return x
  end)(v, p)
  if #out > 1024 then fail(p, "more than 1024 ports") end
  return out
end

function C.landlock (v, p)
  if type(v) == "boolean" then return v end
  if type(v) ~= "table" then
    fail(p, "true (the recipe's own paths) or a table of {path, access} rules, " ..
         "own = true, tcp_bind = {ports}, tcp_connect = {ports} expected")
  end
  local out = {}
  for k, x in pairs(v) do
    if k == "own" then out.own = C.boolean(x, p .. ".own")
    elseif k == "tcp_bind" or k == "tcp_connect" then out[k] = portlist(x, p .. "." .. k)
    elseif math.type(k) ~= "integer" or k < 1 or k > #v then
      fail(p, "unknown key %s (valid: own, tcp_bind, tcp_connect, and rules " ..
           "{path, access} in the list part)", tostring(k))
    end
  end
  for i, r in ipairs(v) do
    local rp = ("%s[%d]"):format(p, i)
    if type(r) ~= "table" then fail(rp, "{path, \"ro\"|\"rw\"|{rights}} expected") end
    out[i] = { C.abspath(r[1], rp .. "[1]"), r[2] or "ro" }
  end
  return out
end

-- stdio: "pty", or {stdin, stdout, stderr}, each what core.spawn takes
local stdionames = { pipe = true, null = true, inherit = true, pty = true }
local stdnames = { "stdin", "stdout", "stderr" }

-- an fd: an integer, or a float of an integer value (luasocket's getfd())
local function fd (x)
  local v = type(x) == "number" and math.tointeger(x)
  return v and v >= 0 and v < 1 << 30 and v or nil
end

local function stdio1 (x, p, i)
  if fd(x) then return fd(x) end
  if type(x) == "string" and (stdionames[x] or (i == 3 and x == "stdout")) then return x end
  if type(x) == "string" and x:sub(1, 1) == "/" then return C.abspath(x, p) end
  if type(x) == "table" then
    for k in pairs(x) do
      if k ~= "path" and k ~= "append" then
        fail(p, "unknown key %s (valid: append, path)", tostring(k))
      end
    end
    local out = { path = C.abspath(x.path, p .. ".path") }
    if x.append ~= nil then out.append = C.boolean(x.append, p .. ".append") end
    return out
  end
  local names = {}
  for k in pairs(stdionames) do names[k] = true end
  if i == 3 then names.stdout = true end
  fail(p, "%s: \"pipe\", \"null\", \"inherit\", \"pty\"%s, an fd, a path or " ..
       "{path =, append =} expected, got %s%s", stdnames[i], i == 3 and ", \"stdout\"" or "",
       type(x) == "string" and ("%q"):format(x) or typename(x), M.suggest(x, names))
end

function C.stdio (v, p)
  if v == "pty" then return v end
  if type(v) ~= "table" then
    fail(p, "\"pty\" or a list {stdin, stdout, stderr} expected, got %s%s",
         type(v) == "string" and ("%q"):format(v) or typename(v),
         M.suggest(v, { pty = true }))
  end
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > 3 then
      fail(p, "a list of at most three (stdin, stdout, stderr) expected, has key %s",
           tostring(k))
    end
  end
  local out = {}
  for i = 1, 3 do
    if v[i] ~= nil then out[i] = stdio1(v[i], ("%s[%d]"):format(p, i), i) end
  end
  return out
end

-- time = {monotonic = seconds, boottime = seconds}: the offsets of a
-- time namespace of the sandbox's own (CLOCK_MONOTONIC and
-- CLOCK_BOOTTIME read that much later; the others are the host's)
function C.time (v, p)
  if type(v) ~= "table" or v == M.none then
    fail(p, "{monotonic = seconds, boottime = seconds} expected, got %s", typename(v))
  end
  local out = {}
  for k, x in pairs(v) do
    if k ~= "monotonic" and k ~= "boottime" then
      fail(p, "unknown clock %s%s (valid: boottime, monotonic: the clocks a time namespace " ..
           "offsets)", tostring(k), M.suggest(k, { monotonic = 1, boottime = 1 }))
    end
    out[k] = M.number(x, "recipe." .. p .. "." .. k, -1e9, 1e9)
  end
  return out
end

function C.fds (v, p)
  if type(v) ~= "table" then fail(p, "table {[target] = fd} expected") end
  local out = {}
  for k, x in pairs(v) do
    if math.type(k) ~= "integer" or k < 3 then
      fail(p, "targets are fd numbers from 3 up, got %s", tostring(k))
    end
    if not fd(x) then
      fail(("%s[%d]"):format(p, k), "fd number expected, got %s", tostring(x))
    end
    out[k] = fd(x)
  end
  return out
end

-- }======


-- {====== Mounts, directories, files, symlinks ======}

local mountkeys = {
  bind = { source = C.abspath, target = C.abspath, ro = C.boolean, dev = C.boolean,
           rec = C.boolean, optional = C.boolean, owner = C.boolean },
  tmpfs = { target = C.abspath, size = C.size, mode = C.mode, owner = C.boolean,
            uid = C.id, gid = C.id, noexec = C.boolean, nr_inodes = C.inodes,
            optional = C.boolean },
  proc = { target = C.abspath, mask = C.boolean, optional = C.boolean },
  dev = { target = C.abspath, shm_size = C.size, optional = C.boolean },
  mqueue = { target = C.abspath, optional = C.boolean },
  sysfs = { target = C.abspath, optional = C.boolean },
  overlay = { target = C.abspath, lower = list(C.layer), upper = C.layer,
              work = C.layer, optional = C.boolean },
}
local defaulttarget = { proc = "/proc", dev = "/dev", mqueue = "/dev/mqueue",
                        sysfs = "/sys" }
local shorthand = { ["ro-bind"] = { "bind", ro = true },
                    ["dev-bind"] = { "bind", dev = true } }

-- every mount may say replace = true: in r:with(...), it takes the place
-- of the earlier mounts at its target instead of going on top of them
for _, keys in pairs(mountkeys) do keys.replace = C.boolean end

local function validkeys (t)
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

-- {"tmpfs", "/tmp", size = "4m"} -> {type = "tmpfs", target = "/tmp", size = "4m"}
function C.mount (v, p)
  if type(v) ~= "table" then fail(p, "mount table expected, got %s", typename(v)) end
  local kind = v.type or v[1]
  local extra = {}
  if shorthand[kind] then
    for k, x in pairs(shorthand[kind]) do if k ~= 1 then extra[k] = x end end
    kind = shorthand[kind][1]
  end
  local keys = mountkeys[kind]
  if not keys then
    fail(p, "unknown mount type %s (valid: bind, ro-bind, dev-bind, tmpfs, proc, dev, " ..
         "mqueue, sysfs, overlay)", tostring(kind))
  end
  local out = { type = kind }
  for k, x in pairs(extra) do out[k] = x end
  -- positional: bind source [target]; the others target
  if kind == "bind" then
    out.source = v.source or v[2]
    out.target = v.target or v[3] or out.source
  else
    out.target = v.target or v[2] or defaulttarget[kind]
  end
  for k, x in pairs(v) do
    if k ~= "type" and math.type(k) ~= "integer" then
      if not keys[k] then
        fail(p .. "." .. tostring(k), "unknown key for a %s mount (valid: %s)", kind,
             validkeys(keys))
      end
      out[k] = x
    end
  end
  for k, check in pairs(keys) do
    if out[k] ~= nil then out[k] = check(out[k], p .. "." .. k) end
  end
  if not out.target then fail(p, "a %s mount needs a target", kind) end
  if kind == "bind" and not out.source then fail(p, "a bind needs a source") end
  if kind == "overlay" then
    if not out.lower or #out.lower == 0 then fail(p .. ".lower", "one lower dir or more") end
    if (out.upper == nil) ~= (out.work == nil) then
      fail(p, "an overlay takes upper and work together (or neither: read-only)")
    end
  end
  return out
end

C.mounts = list(C.mount)

-- owner = true (the sandbox's uid and gid), a uid, or {uid, gid}: ids as
-- the sandbox sees them
function C.owner (v, p)
  if v == true then return v end
  if math.type(v) == "integer" then return C.id(v, p) end
  if type(v) == "table" and v ~= M.none then
    if #v ~= 2 or next(v, #v > 0 and #v or nil) ~= nil then
      fail(p, "{uid, gid} expected")
    end
    return { C.id(v[1], p .. "[1]"), C.id(v[2], p .. "[2]") }
  end
  fail(p, "true (the sandbox's uid and gid), a uid or {uid, gid} expected, got %s",
       typename(v))
end

local function keys (v, p, valid)
  for k in pairs(v) do
    if math.type(k) ~= "integer" and not valid[k] then
      local names = {}
      for n in pairs(valid) do names[#names + 1] = n end
      table.sort(names)
      fail(p .. "." .. tostring(k), "unknown key%s (valid: %s)", M.suggest(k, valid),
           table.concat(names, ", "))
    end
  end
end

function C.dir (v, p)
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" then fail(p, "path or {path, mode = \"0755\", owner =} expected") end
  keys(v, p, { path = 1, mode = 1, owner = 1 })
  return { path = C.abspath(v.path or v[1], p .. ".path"),
           mode = v.mode and C.setupmode(v.mode, p .. ".mode") or "0755",
           owner = v.owner ~= nil and C.owner(v.owner, p .. ".owner") or nil }
end

function C.file (v, p)
  if type(v) ~= "table" then
    fail(p, "{path, content = \"...\", mode = \"0644\", owner =} expected")
  end
  keys(v, p, { path = 1, content = 1, mode = 1, owner = 1 })
  local content = v.content or v[2] or ""
  if type(content) ~= "string" then fail(p .. ".content", "string expected") end
  return { path = C.abspath(v.path or v[1], p .. ".path"), content = content,
           mode = v.mode and C.setupmode(v.mode, p .. ".mode") or "0644",
           owner = v.owner ~= nil and C.owner(v.owner, p .. ".owner") or nil }
end

function C.symlink (v, p)
  if type(v) ~= "table" then fail(p, "{target, path} expected (as ln -s target path)") end
  return { target = C.string(v.target or v[1], p .. ".target"),
           path = C.abspath(v.path or v[2], p .. ".path") }
end

C.dirs, C.files, C.symlinks = list(C.dir), list(C.file), list(C.symlink)

-- }======


-- {====== Limits: the sandbox's cgroup (lua/lunajail/cgroup.lua) ======}
-- limits = { memory = "256m", swap = "0", pids = 64, cpu = 0.5,
--            cpuset = "0-1", io_weight = 100, parent = "/batch" }
-- normal form: bytes and counts as integers, cpu a number of cores,
-- cpuset "0-1,3", parent a cgroup path (as /proc/self/cgroup shows one)

local sizeunits = { [""] = 1, k = 1 << 10, m = 1 << 20, g = 1 << 30, t = 1 << 40 }

local function bytes (v, p, min)
  local n
  if math.type(v) == "integer" then n = v
  elseif type(v) == "string" then
    local d, u = v:lower():match("^(%d+)([kmgt]?)$")
    if d and #d <= 15 and tonumber(d) * 1.0 * sizeunits[u] <= 2 ^ 50 then
      n = math.tointeger(tonumber(d)) * sizeunits[u]
    end
  end
  if not n or n < min or n > 1 << 50 then
    fail(p, "a size like \"256m\", \"1g\" or a byte count%s expected, got %s",
         min > 0 and " of at least 1m" or " (\"0\" for none)", tostring(v))
  end
  return n
end

-- the CPUs of this machine, from /sys/devices/system/cpu/online
local function onlinecpus ()
  local f = io.open("/sys/devices/system/cpu/online")
  local text = f and f:read("l")
  if f then f:close() end
  return text
end

local function cpulist (v, p)
  local set, parts = {}, {}
  if type(v) ~= "string" or not v:match("^%d+%-?%d*[%d,%-]*$") then
    fail(p, "a CPU list like \"0\", \"0-3\" or \"0,2-3\" expected, got %s", tostring(v))
  end
  for part in v:gmatch("[^,]+") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    a, b = tonumber(a or part:match("^(%d+)$")), tonumber(b or a or part)
    if not a or not b or b < a or b > 8191 then
      fail(p, "%q: a CPU number or range expected in %q", part, v)
    end
    for c = a, b do set[c] = true end
    parts[#parts + 1] = a == b and tostring(a) or a .. "-" .. b
  end
  local online = onlinecpus()
  if online then
    local ok = {}
    for part in online:gmatch("[^,]+") do
      local a, b = part:match("^(%d+)%-(%d+)$")
      for c = tonumber(a or part), tonumber(b or a or part) do ok[c] = true end
    end
    for c in pairs(set) do
      if not ok[c] then
        fail(p, "CPU %d is not on this machine (online: %s)", c, online)
      end
    end
  end
  return table.concat(parts, ",")
end

local limitkeys = {
  memory = function (v, p) return bytes(v, p, 1 << 20) end,
  swap = function (v, p) return bytes(v, p, 0) end,
  pids = function (v, p)
    if math.type(v) ~= "integer" or v < 1 or v > 4194304 then
      fail(p, "a number of processes from 1 to 4194304 expected, got %s", tostring(v))
    end
    return v
  end,
  cpu = function (v, p) return M.number(v, "recipe." .. p, 0.01, 4096) end,
  cpuset = cpulist,
  io_weight = function (v, p)
    if math.type(v) ~= "integer" or v < 1 or v > 10000 then
      fail(p, "a weight from 1 to 10000 expected (100 is the default), got %s", tostring(v))
    end
    return v
  end,
  parent = function (v, p) return C.abspath(v, p) end,
}

function C.limits (v, p)
  if type(v) ~= "table" then
    fail(p, "table {memory =, swap =, pids =, cpu =, cpuset =, io_weight =, " ..
         "parent =} expected, got %s", typename(v))
  end
  local out = {}
  for k, x in pairs(v) do
    local check = limitkeys[k]
    if not check then
      fail(("%s.%s"):format(p, tostring(k)), "unknown limit%s (valid: cpu, cpuset, " ..
           "io_weight, memory, parent, pids, swap)", M.suggest(k, limitkeys))
    end
    out[k] = x == M.none and x or check(x, p .. "." .. k)
  end
  return out
end

-- }======


-- {====== The schema ======}
-- field -> {checker, merge}: merge is "append" (lists), "merge" (maps),
-- "union" (sets) or "replace"

local schema = {
  argv = { C.argv, "replace" }, path = { C.abspath, "replace" },
  env = { C.env, "merge" }, cwd = { C.abspath, "replace" },
  stdio = { C.stdio, "replace" }, fds = { C.fds, "merge" },
  namespaces = { C.namespaces, "union" }, net = { C.net, "replace" },
  hostname = { C.name, "replace" }, domainname = { C.name, "replace" },
  uid = { C.uid, "replace" }, gid = { C.uid, "replace" },
  groups = { C.ids, "replace" },
  uidmap = { C.idmap, "replace" }, gidmap = { C.idmap, "replace" },
  root = { C.root, "replace" }, root_size = { C.size, "replace" },
  system = { C.abspaths, "append" }, fstab = { C.abspaths, "append" },
  mounts = { C.mounts, "append" }, dirs = { C.dirs, "append" },
  files = { C.files, "append" }, symlinks = { C.symlinks, "append" },
  rlimits = { C.rlimits, "merge" }, caps = { C.caps, "append" },
  no_new_privs = { C.boolean, "replace" }, setuid = { C.boolean, "replace" },
  seccomp = { C.seccomp, "replace" }, landlock = { C.landlock, "replace" },
  priority = { C.nice, "replace" },
  pid1 = { C.boolean, "replace" }, die_with_parent = { C.boolean, "replace" },
  new_session = { C.boolean, "replace" }, trace = { C.boolean, "replace" },
  setup_timeout = { C.seconds, "replace" }, time = { C.time, "replace" },
  limits = { C.limits, "merge" },
}
M.schema = schema

-- the nearest known field, for a typo
local function distance (a, b)
  local d = {}
  for i = 0, #a do d[i] = { [0] = i } end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
    end
  end
  return d[#a][#b]
end

-- " (did you mean 'timeout'?)" for a misspelt key of names (a set), or ""
function M.suggest (key, names)
  local best, bd
  if type(key) ~= "string" then return "" end
  for name in pairs(names) do
    local dd = distance(key, name)
    if not bd or dd < bd or (dd == bd and name < best) then best, bd = name, dd end
  end
  if bd and bd <= math.max(2, #key // 3) then
    return (" (did you mean '%s'?)"):format(best)
  end
  return ""
end

-- checks and normalises every field of t; the merge sentinels pass
function M.check (t)
  if type(t) ~= "table" then
    error(("lunajail: a recipe is a table, got %s"):format(type(t)), 0)
  end
  local out = {}
  for k, v in pairs(t) do
    local f = type(k) == "string" and schema[k]
    if not f then
      error(("lunajail: recipe: unknown field '%s'%s"):format(tostring(k),
            M.suggest(k, schema)), 0)
    end
    if v == M.none then out[k] = v
    elseif getmetatable(v) == Replace then out[k] = M.replace(f[1](v.value, k))
    else out[k] = f[1](v, k) end
  end
  return out
end

-- }======


-- {====== Merging: r:with(b) ======}

local function copy (v)
  if type(v) ~= "table" or v == M.none then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return setmetatable(out, getmetatable(v) == Replace and Replace or nil)
end

-- appends x to list; a mount with replace = true takes the place of the
-- first mount at its target instead (and the others there go)
function M.place (l, x)
  if type(x) ~= "table" or not x.replace then l[#l + 1] = x return end
  x.replace = nil
  local at
  for i = #l, 1, -1 do
    if type(l[i]) == "table" and l[i].target == x.target then
      table.remove(l, i)
      at = i
    end
  end
  table.insert(l, at or #l + 1, x)
end

-- a and b checked; returns a new table, a untouched
function M.merge (a, b)
  local out = copy(a)
  for k, v in pairs(b) do
    local how = schema[k][2]
    if v == M.none then out[k] = nil
    elseif getmetatable(v) == Replace then out[k] = copy(v.value)
    elseif how == "append" then
      local l = out[k] or {}
      for _, x in ipairs(v) do M.place(l, copy(x)) end
      out[k] = l
    elseif how == "union" and out[k] then
      local seen = {}
      for _, x in ipairs(out[k]) do seen[x] = true end
      for _, x in ipairs(v) do
        if not seen[x] then out[k][#out[k] + 1] = x seen[x] = true end
      end
      table.sort(out[k])
    elseif how == "merge" and out[k] then
      for kk, x in pairs(v) do
        if x == M.none then out[k][kk] = nil else out[k][kk] = copy(x) end
      end
    else
      out[k] = copy(v)
    end
    if type(out[k]) == "table" and how == "merge" then    -- none in a fresh map
      for kk, x in pairs(out[k]) do if x == M.none then out[k][kk] = nil end end
    end
  end
  return out
end

-- }======

return M
