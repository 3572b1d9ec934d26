-- examples/untrusted-lua.lua: run Lua you do not trust, and collect what
-- it printed.
--
--   lua5.4 examples/untrusted-lua.lua ['snippet']
-- The snippet runs in lunajail.untrusted{}: no network, the strict
-- seccomp filter, 512 MB of address space, 10 s of CPU, 64 processes, a
-- 4 MB /tmp, and a wall-clock timeout of 5 s.  Without an argument, four
-- snippets show each wall doing its job.

local lj = require "lunajail"

local function sandboxed (snippet)
  return lj.run(lj.untrusted{ argv = { "lua5.4", "-e", snippet } }, { timeout = 5 })
end

local snippets = arg[1] and { arg[1] } or {
  "print('hello from ' .. io.popen('hostname'):read('l'))",
  "local t = {} while true do t[#t+1] = string.rep('x', 16 << 20) end",  -- memory
  "while true do end",                                                   -- time
  "print(io.open('/etc/shadow'), os.execute('ping -c1 127.0.0.1 >/dev/null 2>&1'))",
}

for _, s in ipairs(snippets) do
  local r, err = sandboxed(s)
  print(("> %s"):format(s))
  if not r then
    print("  sandbox failed: " .. tostring(err))
  else
    print(("  %s; stdout %q%s"):format(
      r.timeout and "stopped after the 5 s timeout"
        or r.exited and ("exited " .. r.code) or ("killed by " .. tostring(r.signame)),
      r.stdout, r.stderr ~= "" and (", stderr %q"):format(r.stderr:sub(1, 120)) or ""))
  end
end
