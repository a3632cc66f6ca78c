-- POSTs the bytes of a file as every request's body (the hash scenario's 64 MiB upload).
-- Usage: wrk ... -s post_file.lua http://HOST:PORT/hash?alg=sha256 -- FILE
-- wrk writes each request (header and body) from one buffer, so the client's cost per byte
-- is one copy into the socket.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

function init(args)
  local f = assert(io.open(assert(args[1], "post_file.lua: give the file after --"), "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/octet-stream"
end
