-- lunajail.loop.cqueues: children in a cqueues controller.
--
-- The child object is pollable as is: it has pollfd(), events() and
-- timeout(), so cqueues.poll(child) waits for it.  This module gives the
-- blocking conveniences of lunajail.child in their yielding form, for use
-- inside a cqueues coroutine:
--
--   local cq = require "lunajail.loop.cqueues"
--   cqueues.new():wrap(function ()
--     local out, err, st = cq.communicate(child, input, 10)
--     ...
--     cq.close(child)       -- cancels the poll before closing the fd
--   end):loop()
-- cq.wait, cq.read_line, cq.lines, cq.read_bytes, cq.read_all, cq.write_all,
-- cq.communicate, cq.terminate take the child first, as the methods do.

local cqueues = require "cqueues"
local C = require "lunajail.child"

local M = {}

local function block (child, seconds)
  cqueues.poll(child, seconds)
  child:step()
end

for _, name in ipairs { "wait", "read_line", "lines", "read_bytes", "read_all",
                        "write_all", "communicate", "terminate" } do
  local f = C[name]
  M[name] = function (child, ...) return f(block, child, ...) end
end

function M.close (child)
  local fd = child:pollfd()
  if fd then cqueues.cancel(fd) end
  child:close()
end

return M
