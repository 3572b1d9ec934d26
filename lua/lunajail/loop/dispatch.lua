-- lunajail.loop.dispatch: what every event-loop adapter does after a
-- child:step(): hand buffered output to the callbacks, and notice the end.
--
-- handlers: stdout(data), stderr(data) -- chunks, or lines with
-- lines = true -- and exit(status).  Returns true once the child has
-- exited and both streams are drained: the adapter then closes it.

local M = {}

local function pump (child, stream, fn, lines)
  while true do
    local data, err, partial = child:read(stream, lines and "l" or 1 << 20)
    if data then
      if fn then fn(data) end
    else
      if partial and partial ~= "" and fn then fn(partial) end
      return err == "closed"
    end
  end
end

function M.dispatch (child, h)
  local done_out = pump(child, "stdout", h.stdout, h.lines)
  local done_err = pump(child, "stderr", h.stderr, h.lines)
  if not (done_out and done_err) then return false end
  local st = child:status()
  if st.running then return false end
  if h.exit then h.exit(st) end
  return true
end

return M
