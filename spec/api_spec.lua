-- docs/api.md is generated from the code's own comments (tools/apidoc.lua,
-- make api): it is never stale
local H = require "helper"

describe("docs/api.md", function()
  it("is what tools/apidoc.lua makes of the code now (else: make api)", function()
    local fresh = H.sh("lua5.4 " .. H.top .. "/tools/apidoc.lua")
    local f = assert(io.open(H.top .. "/docs/api.md"))
    local have = f:read("a")
    f:close()
    if fresh ~= have then
      local a, b = {}, {}
      for l in fresh:gmatch("[^\n]*") do a[#a + 1] = l end
      for l in have:gmatch("[^\n]*") do b[#b + 1] = l end
      local i = 1
      while a[i] == b[i] do i = i + 1 end
      error(("docs/api.md is stale (run make api): line %d is %q, the code says %q")
            :format(i, tostring(b[i]), tostring(a[i])), 0)
    end
  end)

  it("lists every op of the registry, each with its arguments", function()
    local names = H.lua(H.modes[1], "return core.steps")
    local f = assert(io.open(H.top .. "/docs/api.md"))
    local text = f:read("a")
    f:close()
    for _, n in ipairs(names) do
      assert.matches("\n| `" .. n:gsub("%p", "%%%0") .. "` |", text, nil, false)
    end
  end)
end)
