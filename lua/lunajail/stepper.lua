-- lunajail.stepper: a sandbox in the making, one step at a time.
--
--   local s = lj.stepper(lj.container{ argv = {"sh"} })  -- or a plan
--   s:next()      -> step, reason, report | nil, err | nil (none left)
--   s:rest()      -> true, reports | nil, err, reports: every step left
--   s:peek()      -> the next step and its reason (nil: none left)
--   s:replace(step [, reason]), s:skip(), s:remaining()
--   s:state()     -> what the child is now (a table: see docs/reference.md)
--   stepper.diff(a, b) -> lines saying what changed between two states
-- and core.Stepper's own (csrc/stepper.c): s:step{...}, s:steps{...},
-- s:exec{...}, s:fork{...}, s:count(), s:close().
--
-- lj.stepper takes a recipe (made by lj.recipe, a preset, or a plain
-- table of recipe fields) or a plan (a table with a steps list, as
-- core.spawn takes).  Either compiles to a plan; the stepper starts
-- without its steps, which s:next() then applies one at a time, each
-- with the reason explain() gives it.  As root, a recipe's "auto" ids
-- are leased for the stepper as they are for a spawn.

local core = require "lunajail.core"
local recipe = require "lunajail.recipe"
local compile = require "lunajail.compile"
local idalloc = require "lunajail.ids"

local M = {}
local methods = core.Stepper

local function fail (fmt, ...)
  error("lunajail: stepper: " .. fmt:format(...), 3)
end

-- {====== Making one ======}

local function isrecipe (x)
  local mt = getmetatable(x)
  return mt ~= nil and mt.__name == "lunajail.Recipe"
end

-- the plan of x, the reasons of its steps, and the lease of its auto id
local function planof (x)
  if not isrecipe(x) and x.steps ~= nil then return x, {} end
  local plan, why, ids = compile.compile(isrecipe(x) and x or
                                         recipe.merge({}, recipe.check(x)))
  local rep = ids.uid or ids.gid
  for _, slot in ipairs(ids.slots) do    -- an auto id reads "auto", as explain()
    if slot[1] == "steps" then why[slot[2]] = why[slot[2]]:gsub(rep, "auto") end
  end
  if not ids.lease then return plan, why end
  local lease, err = idalloc.lease()
  if not lease then return nil, err end
  return compile.bind(plan, ids, lease:id(), lease), why, lease
end

-- lj.stepper(recipe_or_plan) -> stepper | nil, err
function M.new (x)
  if type(x) ~= "table" then fail("a recipe or a plan expected, got %s", type(x)) end
  local plan, why, lease = planof(x)
  if not plan then return nil, why end
  local steps = plan.steps or {}
  if type(steps) ~= "table" then fail("plan.steps: a list expected, got %s", type(steps)) end
  local p = {}
  for k, v in pairs(plan) do
    if k ~= "steps" then p[k] = v end
  end
  local s, err = core.stepper(p)
  if not s then
    if lease then lease:close() end     -- spawn leaves a failed one's lease
    return nil, err
  end
  s.recipe_steps, s.recipe_why, s.cursor = steps, why, 1
  return s
end

-- }======


-- {====== The recipe's steps ======}

-- after exec, once closed or gone these raise, as the C methods do
local NOTPAUSED = {
  ["exec'd"] = "the stepper has exec'd its payload (it is a child object now)",
  closed = "the stepper is closed", gone = "the stepper's child is gone",
}

local function paused (self, what)
  local why = NOTPAUSED[self:phase()]
  if why then error(("stepper:%s: %s"):format(what, why), 0) end
end

-- a C method's answer; its error raised again without this file's place
-- (luaL_error names its Lua caller: here)
local function rethrow (ok, ...)
  if ok then return ... end
  local e = ...
  if type(e) == "string" then e = e:gsub("^[^\n]-stepper%.lua:%d+: ", "") end
  error(e, 0)
end

function methods:peek ()
  paused(self, "peek")
  local steps = self.recipe_steps
  local i = self.cursor
  if not steps or i > #steps then return nil end
  return steps[i], self.recipe_why[i] or ""
end

function methods:remaining ()
  paused(self, "remaining")
  local out = {}
  for i = self.cursor or 1, #(self.recipe_steps or {}) do
    out[#out + 1] = { self.recipe_steps[i], self.recipe_why[i] or "" }
  end
  return out
end

-- the next step becomes step (reason: why, or the old step's); the
-- recipe's own list is not changed
function methods:replace (step, why)
  paused(self, "replace")
  if type(step) ~= "table" then
    fail("replace: a step {\"name\", args...} expected, got %s", type(step))
  end
  local steps, i = self.recipe_steps, self.cursor
  if not steps or i > #steps then fail("replace: no step is left") end
  local copy, reasons = table.move(steps, 1, #steps, 1, {}), table.move(self.recipe_why,
                                                                        1, #steps, 1, {})
  copy[i], reasons[i] = step, why or reasons[i]
  self.recipe_steps, self.recipe_why = copy, reasons
end

function methods:skip ()
  paused(self, "skip")
  local step, why = self:peek()
  if step then self.cursor = self.cursor + 1 end
  return step, why
end

function methods:next ()
  paused(self, "next")
  local step, why = self:peek()
  if not step then return nil end
  local ok, report = rethrow(pcall(self.step, self, step))
  if not ok then return nil, report end
  self.cursor = self.cursor + 1
  return step, why, report
end

function methods:rest ()
  paused(self, "rest")
  local left = #(self.recipe_steps or {}) - (self.cursor or 1) + 1
  if left <= 0 then return true, {} end
  local list = table.move(self.recipe_steps, self.cursor, #self.recipe_steps, 1, {})
  local ok, a, b = rethrow(pcall(self.steps, self, list))
  local reports = ok and a or b
  self.cursor = self.cursor + #reports
  return ok, a, b
end

-- }======


-- {====== State ======}

local NS = { "user", "mnt", "pid", "pid_for_children", "net", "uts", "ipc", "cgroup",
             "time", "time_for_children" }

local function unescape (v)
  return (v:gsub("\\(.)", { ["\\"] = "\\", n = "\n" }))
end

local function octal (v)
  return (v:gsub("\\(%d%d%d)", function (o) return string.char(tonumber(o, 8)) end))
end

-- a line of mountinfo
function M.mountinfo (line)
  local id, parent, dev, root, target, opts, rest =
    line:match("^(%d+) (%d+) (%S+) (%S+) (%S+) (%S+)(.*)$")
  if not id then return nil end
  local tags, fstype, source, super = rest:match("^(.-) %- (%S+) (%S+) (%S+)$")
  return { id = tonumber(id), parent = tonumber(parent), dev = dev, root = octal(root),
           target = octal(target), options = opts, tags = tags and tags:match("^%s*(.-)$"),
           fstype = fstype, source = source and octal(source), super = super }
end

local capnames
local function caps (hex)
  capnames = capnames or core.caps_names()
  local v, out = math.tointeger(tonumber(hex, 16)) or 0, {}
  for bit = 0, 63 do
    if v & (1 << bit) ~= 0 then out[#out + 1] = capnames[bit + 1] or tostring(bit) end
  end
  return out
end

local SECCOMP = { [0] = "disabled", [1] = "strict", [2] = "filter" }

local function nsid (link)
  return link and math.tointeger(tonumber(link:match("%[(%d+)%]")))
end

local function hostns (name, pid)
  return core.readlink(("/proc/%s/ns/%s"):format(pid, name))
end

local function read (path)
  local f = io.open(path)
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

-- s:state() -> {pid =, uid = {r, e, s}, gid =, groups =, caps = {effective
-- =, permitted =, inheritable =, bounding =, ambient =}, securebits =,
-- no_new_privs =, seccomp =, dumpable =, hostname =, domainname =, cwd =,
-- rlimits = {nofile = {soft, hard}, ...}, namespaces = {mnt = {id =, host
-- =, new =}, ...}, mounts = {...}, root =, step =}
function methods:state ()
  paused(self, "state")
  local text, err = rethrow(pcall(self.rawstate, self))
  if not text then return nil, err end
  local st = { step = self:count(), host_pid = self.pid, groups = {}, rlimits = {},
               namespaces = {}, mounts = {} }
  local links, nomounts = {}, false
  for line in text:gmatch("[^\n]+") do
    local k, v = line:match("^(%S+) ?(.*)$")
    if k == "mount" then
      st.mounts[#st.mounts + 1] = M.mountinfo(v)
    elseif k == "uid" or k == "gid" then
      local r, e, s = v:match("^(%d+) (%d+) (%d+)$")
      st[k] = { tonumber(r), tonumber(e), tonumber(s) }
    elseif k == "groups" then
      for g in v:gmatch("%d+") do st.groups[#st.groups + 1] = tonumber(g) end
    elseif k == "caps" then
      local sets, i = { "effective", "permitted", "inheritable", "bounding", "ambient" }, 0
      st.caps = {}
      for h in v:gmatch("%x+") do
        i = i + 1
        st.caps[sets[i]] = caps(h)
      end
    elseif k == "rlimit" then
      local n, soft, hard = v:match("^(%d+) (%-?%d+) (%-?%d+)$")
      local name = (core.RLIMIT[tonumber(n)] or n):gsub("^RLIMIT_", ""):lower()
      local function lim (x) x = tonumber(x) return x < 0 and "infinity" or x end
      st.rlimits[name] = { lim(soft), lim(hard) }
    elseif k == "ns" then
      local name, link = v:match("^(%S+) (.*)$")
      links[name] = link
    elseif k == "mounts" then
      nomounts = true
    elseif k == "no_new_privs" or k == "dumpable" then
      st[k] = v == "1"
    elseif k == "seccomp" then
      st[k] = SECCOMP[tonumber(v)] or v
    elseif k == "pid" or k == "securebits" then
      st[k] = tonumber(v)
    elseif k == "hostname" or k == "domainname" or k == "cwd" then
      st[k] = unescape(v)
    end
  end
  -- without a /proc of its own in its root, the child cannot read its
  -- mounts and namespaces: the host's /proc can (its owner may)
  if nomounts then
    for line in (read("/proc/" .. self.pid .. "/mountinfo") or ""):gmatch("[^\n]+") do
      st.mounts[#st.mounts + 1] = M.mountinfo(line)
    end
  end
  for _, name in ipairs(NS) do
    local link = links[name] or hostns(name, self.pid)
    local mine = hostns(name, "self")
    if link then
      st.namespaces[name] = { id = nsid(link), host = nsid(mine), new = link ~= mine }
    end
  end
  for _, m in ipairs(st.mounts) do
    if m.target == "/" then st.root = m end        -- the last is on top
  end
  return st
end

-- }======


-- {====== Differences ======}

local function joined (list)
  local out = {}
  for i, v in ipairs(list or {}) do out[i] = tostring(v) end
  return table.concat(out, ",")
end

-- the state as flat "key = value" pairs, mounts apart (a set)
local function flat (st)
  local f = {
    uid = joined(st.uid), gid = joined(st.gid), groups = joined(st.groups),
    no_new_privs = tostring(st.no_new_privs), seccomp = tostring(st.seccomp),
    securebits = tostring(st.securebits), hostname = st.hostname,
    domainname = st.domainname, cwd = st.cwd,
    root = st.root and ("%s %s %s"):format(st.root.fstype, st.root.source, st.root.options),
  }
  for set, names in pairs(st.caps or {}) do f["caps." .. set] = joined(names) end
  for name, l in pairs(st.rlimits or {}) do f["rlimits." .. name] = joined(l) end
  for name, n in pairs(st.namespaces or {}) do
    f["namespaces." .. name] = n.id and (n.new and "new " or "host's ") .. n.id or nil
  end
  local mounts = {}
  for _, m in ipairs(st.mounts or {}) do
    mounts[("%s %s %s %s"):format(m.target, m.fstype, m.source, m.options)] = true
  end
  return f, mounts
end

-- the caps that came and went, rather than two long lists
local function setdiff (a, b)
  local in_a, in_b, out = {}, {}, {}
  for x in (a or ""):gmatch("[^,]+") do in_a[x] = true end
  for x in (b or ""):gmatch("[^,]+") do in_b[x] = true end
  for x in (b or ""):gmatch("[^,]+") do if not in_a[x] then out[#out + 1] = "+" .. x end end
  for x in (a or ""):gmatch("[^,]+") do if not in_b[x] then out[#out + 1] = "-" .. x end end
  return table.concat(out, " ")
end

-- diff(a, b) -> a list of lines: "hostname: lunajail -> sandbox",
-- "+ mount /proc proc proc rw,nosuid,...", "- mount ..."
function M.diff (a, b)
  local fa, ma = flat(a)
  local fb, mb = flat(b)
  local keys, out = {}, {}
  for k in pairs(fa) do keys[k] = true end
  for k in pairs(fb) do keys[k] = true end
  local sorted = {}
  for k in pairs(keys) do sorted[#sorted + 1] = k end
  table.sort(sorted)
  for _, k in ipairs(sorted) do
    if fa[k] ~= fb[k] then
      if k:match("^caps%.") then
        out[#out + 1] = ("%s: %s"):format(k, setdiff(fa[k], fb[k]))
      else
        out[#out + 1] = ("%s: %s -> %s"):format(k, fa[k] or "(none)", fb[k] or "(none)")
      end
    end
  end
  local gone, new = {}, {}
  for m in pairs(ma) do if not mb[m] then gone[#gone + 1] = "- mount " .. m end end
  for m in pairs(mb) do if not ma[m] then new[#new + 1] = "+ mount " .. m end end
  table.sort(gone)
  table.sort(new)
  table.move(gone, 1, #gone, #out + 1, out)
  table.move(new, 1, #new, #out + 1, out)
  return out
end

-- }======

return M
