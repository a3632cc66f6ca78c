# Scenario `hello`: GET /hello → "Hello, World!" (text/plain, 13 bytes), the TechEmpower
# plaintext shape. Measures the per-request cost of the HTTP path alone: accept, parse,
# route, write — no handler work.

SCENARIO_SERVERS=(nodus nginx node)

SCENARIO_ABOUT="GET /hello → \`Hello, World!\` (text/plain, 13 bytes) over keep-alive \
connections: the cost of the HTTP path alone (parse, route, write). \`c64\` and \`c256\` send \
one request per connection at a time; on 2 cores with wrk on one of them, these mostly \
measure how fast one wrk thread can drive the server. \`pipelined\` sends 16 requests per \
write (TechEmpower plaintext), which makes wrk cheap per request and so measures the server. \
Goals (issue 2): nodus --loops 1 >= 1.0x one nginx worker and >= 2.5x one Node process in \
req/s, p99 no worse than nginx; pipelined >= 1.2x nginx."

scenario_define() {
  add_case c64 /hello -t1 -c64
  add_case c256 /hello -t1 -c256
  add_case pipelined /hello -t1 -c256 -s pipeline.lua -- 16

  local c
  for c in c64 c256; do
    add_goal "$c" nginx rps 1.0
    add_goal "$c" node rps 2.5
    add_goal "$c" nginx p99 1.0
  done
  add_goal pipelined nginx rps 1.2
}
