# Scenario `image`: resize a 4000x3000 JPEG to 800 px wide, JPEG q80 (issue 5).
# shellcheck source=loadtest/scenarios/bench_inputs.bash
source "$LT_DIR/scenarios/bench_inputs.bash"

SCENARIO_SERVERS=(nodus node)

SCENARIO_ABOUT="GET /image/files/images/bench/4000x3000.jpg?width=800&quality=80: read a 4000x3000 \
JPEG (2-3 MB) from the root and resize it to 800x600, JPEG q80, at 1 and 2 concurrent requests. \
nodus runs it on its worker pool (libvips 8.18.7, shrink-on-load, libvips concurrency 1 per \
job); Node runs sharp 0.35.5 with its defaults (the same libvips 8.18.7, on the libuv pool). \
Both servers are pinned to one core, so c2 measures queueing, not parallelism. Goal (issue 5): \
nodus images/s >= 1.0x Node+sharp."

scenario_define() {
  bench_inputs
  add_case c1 '/image/files/images/bench/4000x3000.jpg?width=800&quality=80' -t1 -c1
  add_case c2 '/image/files/images/bench/4000x3000.jpg?width=800&quality=80' -t1 -c2
  add_goal c1 node rps 1.0
  add_goal c2 node rps 1.0
}
