-- fuzz/recipe.lua [seconds [seed]]: random recipes against the recipe
-- layer's validation and compiler.
--
-- Each case is a table of recipe fields (known and misspelt names) with
-- values drawn from a pool of the awkward: wrong types, 0 and "false"
-- where booleans belong, NUL bytes, negative, huge and fractional
-- numbers, NaN, relative paths, '..', octal-looking modes, nested junk.
-- lunajail.recipe(t) and r:steps() must either work or raise a clean
-- "lunajail: ..." error naming the field; anything else (an "attempt to
-- index a nil value", a C crash) is a finding, printed with its case.
-- Nothing is spawned.

local lj = require "lunajail"

local seconds = tonumber(arg[1]) or 30
local seed = tonumber(arg[2]) or os.time()
math.randomseed(seed)

local fields = {}
for name in pairs(require("lunajail.recipe").schema) do fields[#fields + 1] = name end
table.sort(fields)
local typos = { "mounst", "hostnmae", "rlimit", "namespace", "nnp", "uidmaps", "" }

local atoms = {
  true, false, 0, 1, -1, 0.5, 1 / 0, -1 / 0, 0 / 0, math.maxinteger, math.mininteger,
  1e300, -1e12, 3601, 0.001, "6755", "2775", "1777",
  4294967295, 4294967296, 65536, "", "x", "0", "false", "nobody", "/", "/tmp",
  "tmp", "/a/../b", "/x\0y", "0755", "07777", "17777", "4m", "big", "-1", "infinity",
  "tmpfs", "none", "host", "default", "strict", "pty", "pipe", "user", "pid", "net",
  "mount", "sys_admin", "CAP_KILL", "nofile", "proc", "bind", "ro-bind", "dev",
  "overlay", string.rep("a", 70), string.rep("/x", 3000),
  function () end, io.stdout, lj.none, lj.replace({}),
}

local function atom () return atoms[math.random(#atoms)] end

local function value (depth)
  local r = math.random()
  if depth > 3 or r < 0.5 then return atom() end
  local t = {}
  for i = 1, math.random(0, 4) do
    if math.random() < 0.7 then t[i] = value(depth + 1)
    else
      local k = math.random() < 0.5 and atom() or fields[math.random(#fields)]
      if k ~= nil and k == k then t[k] = value(depth + 1) end
    end
  end
  return t
end

local function case ()
  local t = {}
  for _ = 1, math.random(1, 6) do
    local k = math.random() < 0.9 and fields[math.random(#fields)]
              or typos[math.random(#typos)]
    t[k] = value(0)
  end
  return t
end

local function show (t, depth)
  depth = depth or 0
  if type(t) ~= "table" or depth > 3 then return tostring(t) end
  local parts = {}
  for k, v in pairs(t) do parts[#parts + 1] = tostring(k) .. "=" .. show(v, depth + 1) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local n, clean, ok, findings = 0, 0, 0, 0
local deadline = os.clock() + seconds
while os.clock() < deadline do
  n = n + 1
  local t = case()
  local good, err = pcall(function ()
    local r = (math.random() < 0.5 and lj.container or lj.recipe)(t)
    r:steps()
  end)
  if good then ok = ok + 1
  elseif type(err) == "string" and err:match("^lunajail") then clean = clean + 1
  else
    findings = findings + 1
    if findings <= 10 then
      print(("finding: %s\n  case: %s"):format(tostring(err), show(t)))
    end
  end
end
print(("recipe fuzzer: %d cases in %d s (seed %d): %d compiled, %d clean " ..
       "rejections, %d findings"):format(n, seconds, seed, ok, clean, findings))
os.exit(findings == 0)
