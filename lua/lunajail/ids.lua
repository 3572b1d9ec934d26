-- lunajail.ids: the host ids that uid = "auto" gives a sandbox.
--
--   local ids = require "lunajail.ids"      -- also lj.ids
--   ids.configure{ first = 1879048192, count = 268304384,
--                  lockdir = "/run/lunajail" }
--   ids.config()        -> a copy of the settings
--   ids.lease()         -> a lease (lease:id(), lease:close()) | nil, err
--   ids.pick()          -> an id of the range, leased by nobody
--
-- As root a sandbox's uid is a real host uid, and "auto" must not be
-- anybody's: lj.spawn takes a lease per spawn (core.idlease, the C side
-- in csrc/idalloc.c), which draws an id of the range that
--   * no other lease holds: an fcntl OFD lock per id in LOCKDIR/ids.lock,
--     held by the child object and lunajail-init until the sandbox ends;
--   * /etc/passwd and /etc/group do not name (as a uid or a gid);
--   * no range of /etc/subuid or /etc/subgid covers;
--   * no process has (real, effective, saved or fs uid or gid, or a
--     supplementary group): a scan of /proc, kept for at most
--     M.SCAN_TTL seconds (a second: a scan costs about 5 us a process,
--     hundreds of microseconds a spawn), so a foreign process that took
--     an id of the range less than a second ago may go unseen.
-- The account files are read again only when one of them changes.
-- The gid is the same number.  Unprivileged, the sandbox's ids live in a
-- user namespace of its own, mapped to the caller's: they meet no host id,
-- and pick() draws one without a lease.
--
-- The default range: systemd's UIDS-GIDS.md leaves 1879048192..2147483647
-- (0x70000000..0x7FFFFFFF) unused: above its container ranges (524288 ..
-- 1879048191, systemd-nspawn -U), far above shadow's subordinate ids
-- (useradd's SUB_UID_MIN..MAX, 100000..600100000) and dynamic users
-- (61184..65519), below 2^31 (which devpts and setfsuid mishandle).  Its
-- last 2^17 ids are left out, where newer systemd puts the "foreign" range
-- (2147352576..2147418111).  So the range is 0x70000000..0x7FFDFFFF.

local core = require "lunajail.core"

local M = {}

M.DEFAULTS = {
  first = 0x70000000,                    -- 1879048192
  count = 0x7FFE0000 - 0x70000000,       -- 268304384: up to 2147352575
  lockdir = "/run/lunajail",             -- root's, 0700; made when missing
  passwd = "/etc/passwd", group = "/etc/group",
  subuid = "/etc/subuid", subgid = "/etc/subgid",
  proc = "/proc",                        -- false: no scan (the locks only)
}

local config = {}
for k, v in pairs(M.DEFAULTS) do config[k] = v end
local scanned, scanat, scankey             -- the last /proc scan (inuse)

local function bad (k, what)
  error(("lunajail: ids.configure: %s: %s"):format(k, what), 0)
end

local function path (k, v, off)
  if v == false and off then return end
  if type(v) ~= "string" or v:sub(1, 1) ~= "/" or v:find("\0", 1, true) then
    bad(k, "an absolute path expected" .. (off and " (or false)" or ""))
  end
end

local checks = {
  first = function (v)
    if math.type(v) ~= "integer" or v < 1 or v > 4294967294 then
      bad("first", "an id from 1 to 4294967294 expected")
    end
  end,
  count = function (v)
    if math.type(v) ~= "integer" or v < 1 then bad("count", "a count of 1 or more expected") end
  end,
  lockdir = function (v) path("lockdir", v) end,
  passwd = function (v) path("passwd", v, true) end,
  group = function (v) path("group", v, true) end,
  subuid = function (v) path("subuid", v, true) end,
  subgid = function (v) path("subgid", v, true) end,
  proc = function (v) path("proc", v, true) end,
}

-- configure{...}: the fields given replace the current ones (a file as
-- false: not read); returns the previous settings
function M.configure (t)
  if type(t) ~= "table" then error("lunajail: ids.configure: a table expected", 0) end
  local new = {}
  for k, v in pairs(config) do new[k] = v end
  for k, v in pairs(t) do
    if not checks[k] then bad(tostring(k), "unknown setting") end
    checks[k](v)
    new[k] = v
  end
  if new.first + new.count - 1 > 4294967294 then
    bad("count", "the range ends above 4294967294")
  end
  local old = config
  config = new
  scanned = nil
  return old
end

function M.config ()
  local c = {}
  for k, v in pairs(config) do c[k] = v end
  return c
end

-- {====== What the host's files name ======}

-- each line's ids as intervals: from, to [, from2, to2]
local function passwd (line)                   -- name:pw:uid:gid:...: both
  local u, g = line:match("^[^:]*:[^:]*:(%d+):(%d+):")
  return u, u, g, g
end

local function group (line)                    -- name:pw:gid:members
  local g = line:match("^[^:]*:[^:]*:(%d+):")
  return g, g
end

local function sub (line)                      -- owner:start:count
  local a, n = line:match("^[^:]*:(%d+):(%d+)")
  if not a or tonumber(n) < 1 then return nil end
  return a, tonumber(a) + tonumber(n) - 1
end

-- the intervals of file that meet [first, last], clipped, added to out;
-- a missing file names nothing, an unreadable one is an error (closed)
local function named (file, parse, out, first, last)
  if not file then return true end
  local h, err, errno = io.open(file)
  if not h then
    if errno == 2 then return true end           -- ENOENT
    return nil, err, errno
  end
  local function add (a, b)
    a, b = math.tointeger(tonumber(a)), math.tointeger(tonumber(b))
    if a and b and a <= b and a <= last and b >= first then
      out[#out + 1] = { math.max(a, first), math.min(b, last) }
    end
  end
  local text, rerr, rerrno = h:read("a")
  h:close()
  if not text then return nil, file .. ": " .. rerr, rerrno end
  for line in text:gmatch("[^\n]+") do
    local a, b, a2, b2 = parse(line)
    add(a, b)
    add(a2, b2)
  end
  return true
end

-- exclusions([config]) -> {{from, to}, ...}: the ids of the range that the
-- account files name and the sub*id ranges cover | nil, message, errno;
-- the same table while no file changed (its size, mtime, inode)
local lastex, lastkey
local function filekey (c)
  local parts = { c.first, c.count }
  for _, f in ipairs { c.passwd, c.group, c.subuid, c.subgid } do
    local st = f and core.stat(f, true)
    parts[#parts + 1] = st and ("%s:%d:%d:%.9f"):format(f, st.size, st.ino, st.mtime)
                        or tostring(f)
  end
  return table.concat(parts, "|")
end

function M.exclusions (c)
  c = c or config
  local key = filekey(c)
  if key == lastkey then return lastex end
  local out, first, last = {}, c.first, c.first + c.count - 1
  for _, f in ipairs { { c.passwd, passwd }, { c.group, group }, { c.subuid, sub },
                       { c.subgid, sub } } do
    local ok, err, errno = named(f[1], f[2], out, first, last)
    if not ok then return nil, err, errno end
  end
  lastex, lastkey = out, key
  return out
end

-- the ids of the range in use by processes, scanned at most every
-- SCAN_TTL seconds (and again after configure)
M.SCAN_TTL = 1
local function inuse (c)
  local key = ("%s|%d|%d"):format(c.proc, c.first, c.count)
  local now = core.monotonic()
  if scanned and scankey == key and now - scanat < M.SCAN_TTL then return scanned end
  local ids, err, errno = core.idsinuse{ first = c.first, count = c.count, proc = c.proc }
  if not ids then return nil, err, errno end
  scanned, scanat, scankey = ids, now, key
  return ids
end

-- }======

-- an error as spawn reports one: step 0, the op, the errno
local StepError = { __name = "lunajail.StepError",
                    __tostring = function (e) return e.message end }

local function steperror (msg, errno)
  local hint = "a lock directory of root's own, mode 0700, for the id leases " ..
               "(lunajail.ids.configure{lockdir = ...}), or numeric uid and gid"
  return setmetatable({ step = 0, op = "idlease", call = "idlease()",
                        errno = errno, errname = errno and core.errno[errno],
                        message = "step 0 " .. msg .. " (uid = \"auto\" as root needs " ..
                                  hint .. ")", hint = hint, args = {} }, StepError)
end

-- lease() -> lease | nil, err: an id for one sandbox, held until the
-- lease is closed or, once core.spawn took it, until the sandbox ends
function M.lease ()
  local c = config
  local ex, err, errno = M.exclusions(c)
  if not ex then return nil, steperror("idlease: " .. err, errno) end
  if c.proc then
    local used
    used, err, errno = inuse(c)
    if not used then return nil, steperror(err, errno) end
    if #used > 0 then
      local all = {}
      for i, span in ipairs(ex) do all[i] = span end
      for _, id in ipairs(used) do all[#all + 1] = { id, id } end
      ex = all
    end
  end
  local l, msg, e = core.idlease{ first = c.first, count = c.count, lockdir = c.lockdir,
                                  proc = false, exclude = ex }
  if not l then return nil, steperror(msg, e) end
  return l
end

local seeded = false

-- pick() -> a random id of the range: no lease, no checks
function M.pick ()
  if not seeded then
    math.randomseed(os.time() ~ core.getpid() ~ math.floor(core.monotonic() * 1e6))
    seeded = true
  end
  return config.first + math.random(0, config.count - 1)
end

return M
