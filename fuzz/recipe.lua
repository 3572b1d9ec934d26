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
  -- paths a request could shape (issue 10): option syntax, shell syntax,
  -- control bytes, components too long
  "/srv/l2,upperdir=/victim,workdir=/w", "/a:b", "/x$(touch${IFS}pwned)",
  "/x`id`", "/x'\"y", "/a\nb", "/a\\b", "/a\tb", "/" .. string.rep("c", 4096),
  "/a/" .. string.rep("b", 255), "/a/" .. string.rep("b", 256), "/dev/../etc",
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

-- compiling starts no process: any popen or execute is a finding
io.popen = function (cmd) error("finding: io.popen(" .. tostring(cmd) .. ")", 0) end
os.execute = function (cmd) error("finding: os.execute(" .. tostring(cmd) .. ")", 0) end

-- every mount data string of a compiled plan is lunajail's own syntax:
-- no recipe byte that means something to a parser (',' joins options, so
-- only the known key=value shapes may be there)
local function datacheck (plan)
  for i, s in ipairs(plan.steps) do
    local data = s[1] == "mount" and s[6]
    if data then
      for opt in (data .. ","):gmatch("([^,]*),") do
        if not opt:match("^[%l_]+=[%w]+$") and not opt:match("^[%l_]+$") then
          error(("finding: steps[%d] mount data %q has an option %q"):format(i, data, opt), 0)
        end
      end
    end
  end
end

-- run's options are checked before anything starts: each case either
-- raises a clean error, or reaches the spawn of a recipe without argv
-- (which raises too: nothing is spawned)
local function optcase ()
  local o = {}
  for _ = 1, math.random(0, 3) do
    local names = { "timeout", "grace", "max_output", "stdin", "timout", "graec" }
    o[names[math.random(#names)]] = atom()
  end
  return o
end

local n, clean, ok, findings = 0, 0, 0, 0
local deadline = os.clock() + seconds
while os.clock() < deadline do
  n = n + 1
  local t = case()
  local good, err = pcall(function ()
    if math.random() < 0.1 then
      local o = optcase()
      t = o
      lj.run(lj.empty{}, o)
    end
    local r = (math.random() < 0.5 and lj.container or lj.recipe)(t)
    datacheck((r:steps()))
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
