-- examples/untrusted-lua.lua: run Lua you do not trust, and collect what
-- it printed.
--
--   lua5.4 examples/untrusted-lua.lua ['snippet']
-- The snippet runs in lunajail.untrusted{}: no network, the strict
-- seccomp filter, 512 MB of address space, 10 s of CPU, 64 processes, a
-- 4 MB /tmp, and a wall-clock timeout of 5 s (20 s for the memory bomb:
-- touching 512 MB takes a while on a busy host, at nice 10).  Without an
-- argument, four snippets show each wall doing its job.

local lj = require "lunajail"

local function sandboxed (snippet, timeout)
  return lj.run(lj.untrusted{ argv = { "lua5.4", "-e", snippet } }, { timeout = timeout })
end

local snippets = arg[1] and { arg[1] } or {
  "print('hello from ' .. io.popen('hostname'):read('l'))",
  "local t = {} while true do t[#t+1] = string.rep('x', 16 << 20) end",  -- memory
  "while true do end",                                                   -- time
  "print(io.open('/etc/shadow'), os.execute('ping -c1 127.0.0.1 >/dev/null 2>&1'))",
}

for _, s in ipairs(snippets) do
  local timeout = s:find("string.rep", 1, true) and 20 or 5
  local r, err = sandboxed(s, timeout)
  print(("> %s"):format(s))
  if not r then
    print("  sandbox failed: " .. tostring(err))
  else
    print(("  %s; stdout %q%s"):format(
      r.timeout and ("stopped after the %d s timeout"):format(timeout)
        or r.exited and ("exited " .. r.code) or ("killed by " .. tostring(r.signame)),
      r.stdout, r.stderr ~= "" and (", stderr %q"):format(r.stderr:sub(1, 120)) or ""))
  end
end
