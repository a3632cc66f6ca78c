# Scenario `responsive`: /hello while the worker pool is saturated with image resizes (issue 5).
# The measured wrk loads /hello; in the `resize` case a second wrk keeps 2 resizes of a
# 4000x3000 JPEG in flight on the same server the whole time (add_background). The server is
# pinned to one core with its pool (nodus --workers default, Node's libuv pool + sharp), so
# the loop competes with the resize threads for that core: what stays fast is what the OS
# scheduler and the runtime's design give the loop.
# shellcheck source=loadtest/scenarios/bench_inputs.bash
source "$LT_DIR/scenarios/bench_inputs.bash"

SCENARIO_SERVERS=(nodus node)

RESPONSIVE_IMAGE='/image/files/images/bench/4000x3000.jpg?width=800&quality=80'

SCENARIO_ABOUT="\`wrk -t1 -c8 /hello\`, idle and while a background \`wrk -t1 -c2\` keeps two \
4000x3000 → 800x600 JPEG resizes in flight on the same server (nodus: worker pool + libvips; \
Node: sharp on the libuv pool). nodus runs its pool under SCHED_IDLE (--worker-policy idle, the \
default): the loop preempts the resizes on the shared core, which get what it leaves. Goal \
(issue 5): nodus's /hello p99 under resize load <= 2x its idle p99, and a smaller ratio than \
Node's."

scenario_define() {
  bench_inputs
  add_case idle /hello -t1 -c8
  add_case resize /hello -t1 -c8
  add_background resize "$RESPONSIVE_IMAGE" -t1 -c2
}

# background_rps SERVER — median req/s of the background resize wrk over the rounds.
background_rps() {
  local f
  for f in "$OUT_DIR"/responsive.resize."$1".*.txt.bg; do
    [[ -f $f ]] && sed -n 's/.*"rps":\([0-9.]*\).*/\1/p' "$f" | tail -1
  done | median
}

# pool_cpu SERVER — nodus's pool threads' CPU during the measured resize runs (% of a core);
# n/a for servers whose pool threads are not named nodus-worker-*.
pool_cpu() {
  [[ $1 == nodus* ]] || { echo "n/a"; return; }
  echo "$(sample_stat responsive resize "$1" pool_cpu_pct)%"
}

scenario_section() {
  local s idle loaded r nodus_ratio="" node_ratio=""
  echo
  echo "### /hello p99 under resize load ÷ idle p99"
  echo
  echo "| server | idle p99 | p99 while resizing | ratio | idle req/s | req/s while resizing | resizes/s (background wrk, 12 s) | pool CPU in the measured 10 s |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|"
  for s; do
    idle=$(sample_stat responsive idle "$s" p99_us)
    loaded=$(sample_stat responsive resize "$s" p99_us)
    r=$(ratio "$loaded" "$idle")
    [[ $s == nodus ]] && nodus_ratio=$r
    [[ $s == node ]] && node_ratio=$r
    echo "| $s | $(fmt_us "$idle") | $(fmt_us "$loaded") | $r | $(fmt_rps "$(sample_stat responsive idle "$s" rps)") | $(fmt_rps "$(sample_stat responsive resize "$s" rps)") | $(background_rps "$s") | $(pool_cpu "$s") |"
  done
  echo
  echo "The background wrk runs 12 s: from 1 s before the measured /hello run to 1 s after it." \
    "Its resizes/s include those edges, when /hello is not loaded; the last column is what" \
    "nodus's pool got *during* the measured run (its threads' CPU time)."
  echo
  local met_a met_b
  met_a=$(awk -v r="$nodus_ratio" 'BEGIN { print (r != "" && r + 0 <= 2.0) ? "yes" : "no" }')
  met_b=$(awk -v a="$nodus_ratio" -v b="$node_ratio" 'BEGIN { print (a != "" && b != "" && a + 0 < b + 0) ? "yes" : "no" }')
  echo "| goal | measured | met |"
  echo "|---|--:|---|"
  echo "| nodus p99 ratio <= 2.0 | ${nodus_ratio:-n/a} | $met_a |"
  echo "| nodus p99 ratio < Node's | ${nodus_ratio:-n/a} vs ${node_ratio:-n/a} | $met_b |"
}
