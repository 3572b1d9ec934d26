-- lunajail: sandboxes for Lua.
local core = require "lunajail.core"
require "lunajail.child"

local M = { core = core }

return M
