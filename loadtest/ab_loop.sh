#!/usr/bin/env bash
# What the Node-style event loop costs per request: the same nodus binary, driven either by
# event_loop::run() (phases, tick/microtask drains after every callback) or by a bare
# io_context::run() — the "foundation" way. The bare mode exists only in a scratch clone
# patched with loadtest/ab/bare-asio.patch (env NODUS_AB_BARE_ASIO=1); it is never built
# into nodus. Runs are interleaved (loop, bare, loop, ...), servers on CPU 1, wrk on CPU 0.
#   loadtest/ab_loop.sh [rounds]     (default 5; writes loadtest/results/loop_ab.md)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
rounds=${1:-5}
scratch=$(mktemp -d /tmp/nodus-ab.XXXXXX)
trap 'pkill -9 -f "$scratch/build/release/app/nodus" 2>/dev/null || true; rm -rf "$scratch"' EXIT

git clone -q "$top" "$scratch"
git -C "$scratch" apply "$here/ab/bare-asio.patch"
(cd "$scratch" && cmake --preset release >/dev/null && CCACHE_BASEDIR="$scratch" \
  cmake --build --preset release --target nodus >/dev/null)
bin="$scratch/build/release/app/nodus"

# run_one MODE WRK-ARGS...: prints "req/s"
run_one() {
  local mode=$1; shift
  local port=$((19000 + RANDOM % 1000)) pid out
  if [[ $mode == bare ]]; then
    NODUS_AB_BARE_ASIO=1 nice -n -20 taskset -c 1 "$bin" --port $port --loops 1 --log-level warn >/dev/null 2>&1 &
  else
    nice -n -20 taskset -c 1 "$bin" --port $port --loops 1 --log-level warn >/dev/null 2>&1 &
  fi
  pid=$!
  sleep 0.5
  nice -n -20 taskset -c 0 wrk -t1 -c64 -d3s "http://127.0.0.1:$port/hello" >/dev/null 2>&1
  out=$(nice -n -20 taskset -c 0 wrk -t1 -d8s "$@" "http://127.0.0.1:$port/hello" ${PIPE:+-- 16})
  kill -9 $pid; wait $pid 2>/dev/null || true   # the bare mode ignores graceful stop
  awk '/Requests\/sec/{print $2}' <<<"$out"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A results
for case in c64 pipelined; do
  loop=() bare=()
  for ((r = 1; r <= rounds; r++)); do
    if [[ $case == c64 ]]; then
      loop+=("$(PIPE= run_one loop -c64)"); bare+=("$(PIPE= run_one bare -c64)")
    else
      loop+=("$(PIPE=1 run_one loop -c256 -s "$here/wrk/pipeline.lua")")
      bare+=("$(PIPE=1 run_one bare -c256 -s "$here/wrk/pipeline.lua")")
    fi
  done
  lm=$(printf '%s\n' "${loop[@]}" | median); bm=$(printf '%s\n' "${bare[@]}" | median)
  results[$case]="| $case | ${loop[*]} | ${bare[*]} | $lm | $bm | $(awk -v a="$lm" -v b="$bm" 'BEGIN{printf "%.2f", a/b}') |"
done

{
  echo "# Event-loop cost per request (A/B)"
  echo
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`loadtest/ab_loop.sh $rounds\` at commit $(git -C "$top" rev-parse --short HEAD)"
  echo "on $(nproc) CPUs ($(uptime | sed 's/.*load average/load average/'))."
  echo "The same binary: \`loop\` = nodus as shipped (event_loop::run), \`bare\` = the"
  echo "foundation's io_context::run() (loadtest/ab/bare-asio.patch). nodus --loops 1 on CPU 1,"
  echo "wrk -t1 on CPU 0, both at nice -20; interleaved rounds, 3 s warm-up each, 8 s measured."
  echo
  echo "| case | loop req/s per round | bare req/s per round | loop median | bare median | loop ÷ bare |"
  echo "|---|---|---|--:|--:|--:|"
  echo "${results[c64]}"
  echo "${results[pipelined]}"
} > "$here/results/loop_ab.md"
cat "$here/results/loop_ab.md"
