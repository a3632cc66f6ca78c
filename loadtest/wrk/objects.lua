-- POST/GET/DELETE mix on /objects with ~1 KiB JSON documents (issue 7's `objects` scenario).
-- Usage: wrk ... -s objects.lua http://HOST:PORT/objects -- LIVE   (LIVE defaults to 256)
-- Each wrk thread keeps a queue of the ids it created. Every 4 requests: 1 POST, 2 GETs of a
-- recent document, and 1 DELETE of the oldest once more than LIVE are alive (a GET until
-- then), so the live set stays near LIVE documents per thread while most of what requests
-- allocate dies young. GETs pick from the newest half, never an id being deleted.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local doc, live
local ids, head, tail = {}, 1, 0
local step = 0
local post_headers = { ["Content-Type"] = "application/json" }

local function document()
  local items = {}
  for i = 1, 8 do
    items[i] = string.format('{"sku":"item-%04d","qty":%d,"price":%d.%02d,"tags":["a","b"]}', i, i * 3, i * 7, i * 11 % 100)
  end
  local d = string.format('{"user":{"id":%d,"name":"Ada Lovelace","email":"ada@example.com","active":true},'
    .. '"items":[%s],"note":"%s","total":123.45,"meta":null}', 42, table.concat(items, ","), string.rep("x", 240))
  return d
end

function init(args)
  live = tonumber(args[1]) or 256
  doc = document()
end

local function count() return tail - head + 1 end

function request()
  step = step + 1
  local phase = step % 4
  if phase == 0 or count() < 16 then
    return wrk.format("POST", "/objects", post_headers, doc)
  end
  if phase == 3 and count() > live then
    local id = ids[head]
    ids[head] = nil
    head = head + 1
    return wrk.format("DELETE", "/objects/" .. id)
  end
  local n = count()
  local id = ids[tail - math.random(0, math.floor(n / 2) - 1)]
  return wrk.format("GET", "/objects/" .. id)
end

function response(status, headers, body)
  if status == 201 then
    local id = body:match('"id":(%d+)')
    if id then
      tail = tail + 1
      ids[tail] = id
    end
  end
end
