-- HTTP/1.1 pipelining as in TechEmpower's plaintext test: each write carries N requests.
-- Usage: wrk ... -s pipeline.lua URL -- N     (N defaults to 16)
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
pipelined = true

local batch

function init(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format()
  end
  batch = table.concat(r)
end

function request()
  return batch
end
