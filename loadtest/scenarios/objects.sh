# Scenario `objects`: the object store under a POST/GET/DELETE mix of ~1 KiB JSON documents
# (issue 7). nodus parses each document onto its managed heap (JSON.parse into heap objects,
# rooted by a persistent handle); the Node peer keeps JSON.parse results in a Map. Both run
# with --trace-gc, and the section compares the GC pauses each printed during the run.

SCENARIO_SERVERS=(nodus node)
SCENARIO_NODUS_ARGS=(--trace-gc --log-level info)
SCENARIO_NODE_FLAGS=(--trace-gc)

SCENARIO_ABOUT="\`wrk -s objects.lua\`: per wrk connection thread a queue of live ids; every 4 \
requests are 1 POST /objects of a 1 KiB JSON document, 2 GETs of recent documents and 1 DELETE \
of the oldest once more than 256 are alive, so the live set stays small and most allocation \
dies young (the generational hypothesis). nodus keeps documents on its managed heap; Node in a \
Map of JSON.parse results. Goals (issue 7): nodus req/s >= 2x Node; GC pause p99 (from \
--trace-gc lines of both) no worse than V8's."

scenario_define() {
  add_case c64 /objects -t1 -c64 -s objects.lua -- 256
  add_goal c64 node rps 2.0
}

scenario_after_cases() {
  local s
  # The servers' logs hold every --trace-gc line of this scenario (warm-up included).
  for s; do cp "$OUT_DIR/$s.log" "$OUT_DIR/objects.$s.gc.log"; done
}

# objects_gc SERVER KIND — "count p50_ms p99_ms max_ms total_ms" of the pauses in SERVER's
# --trace-gc lines; KIND is Scavenge or Mark-Compact (V8's names; nodus prints the same).
objects_gc() {
  grep -o "$2 [0-9.]* ([0-9.]*) -> [0-9.]* ([0-9.]*) MB, [0-9.]*" "$OUT_DIR/objects.$1.gc.log" 2>/dev/null |
    awk '{ print $NF }' | sort -g | awk '
      { a[NR] = $1; sum += $1 }
      END {
        if (NR == 0) { print "0 - - - 0"; exit }
        p50 = a[int((NR - 1) * 0.50) + 1]; p99 = a[int((NR - 1) * 0.99) + 1]
        printf "%d %.3f %.3f %.3f %.1f\n", NR, p50, p99, a[NR], sum }'
}

scenario_section() {
  local s kind
  echo
  echo "### GC pauses during the run (from each server's \`--trace-gc\` lines)"
  echo
  echo "| server | collector | GCs | pause p50 ms | pause p99 ms | max ms | total ms |"
  echo "|---|---|--:|--:|--:|--:|--:|"
  for s; do
    for kind in Scavenge Mark-Compact; do
      read -r n p50 p99 max total < <(objects_gc "$s" "$kind")
      echo "| $s | $kind | $n | $p50 | $p99 | $max | $total |"
    done
  done
  echo
  echo "Pauses as each runtime prints them: V8 the main-thread pause of its (parallel) scavenger, \
nodus the wall time of its single-threaded collection. nodus allocates more bytes per document \
(16-byte headers, 8-byte values, no pointer compression), and the request count differs between \
the servers, so compare pause percentiles, not GC counts."
}
