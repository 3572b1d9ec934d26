-- examples/call.lua: parse an untrusted file in a sandbox, and use what
-- the parser returned.
--
--   lua5.4 examples/call.lua [file.conf ...]
-- The parser is a Lua function of this script; lj.call runs it in
-- lunajail.untrusted{} (no network, no files of ours, the strict seccomp
-- filter, 512 MB of address space, 10 s of CPU) and its table comes back.
-- What a hostile file does to the parser -- a memory bomb, a loop that
-- never ends -- stays in the sandbox: an error here, or the timeout.
-- Without arguments, three sample files show each case.

local lj = require "lunajail"

-- "key = value" lines, each value a Lua expression: a handy format, and a
-- parser that runs whatever a file says
local function parse (text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local k, v = line:match("^%s*([%w_]+)%s*=%s*(.-)%s*$")
    if k then out[k] = assert(load("return " .. v, "=" .. k, "t", {}))() end
  end
  return out
end

local samples = {
  ["good.conf"] = 'name = "demo"\nworkers = 4\ntags = { "fast", "small" }\n',
  ["bomb.conf"] = 'name = ("x"):rep(1 << 30)\n',
  ["loop.conf"] = "name = (function () while true do end end)()\n",
}

local files = arg[1] and { table.unpack(arg) } or { "good.conf", "bomb.conf", "loop.conf" }
for _, name in ipairs(files) do
  local text = samples[name]
  if not text then                       -- a file of yours: we read it, the
    local f = assert(io.open(name))      -- sandbox parses it
    text = f:read("a")
    f:close()
  end
  local c = assert(lj.spawn_call(lj.untrusted {}, parse, text))
  local ok, conf = pcall(c.result, c, 3)
  c:close()
  if ok then
    print(("%s: starting %d workers for %q (tags: %s)"):format(name, conf.workers or 1,
          tostring(conf.name), table.concat(conf.tags or {}, ", ")))
  else
    print(("%s: refused: %s"):format(name, type(conf) == "table" and conf.message or conf))
  end
end
