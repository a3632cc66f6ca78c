#!/usr/bin/env bash
# Heap snapshots of a large heap, nodus beside Node, written to loadtest/results/snapshot.md.
#   loadtest/bench_snapshot.sh [sizes="1000000 16000000"] [node_sizes=same]
# For each size N: nodus (--loops 1) gets N/100000 POST /objects documents {"s":[100,000
# distinct short strings]} (~N heap objects), a major GC, then GET /debug/heap/snapshot is
# streamed to /dev/null with curl. Measured: the download's time and bytes, and the peak RSS
# the process gains while streaming (VmHWM after the stream, reset through
# /proc/PID/clear_refs just before, minus VmRSS before). Node builds the same shape and runs
# v8.writeHeapSnapshot() (loadtest/bench/snapshot_node.js). BUILD_DIR overrides the build dir.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${1:-"1000000 16000000"}
NODE_SIZES=${2:-$SIZES}
BUILD_DIR=${BUILD_DIR:-build/release}
OUT=loadtest/results/snapshot.md
TMP=$(mktemp -d)
PID=""
cleanup() {
  if [[ -n $PID ]]; then kill "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

cmake --preset release -B "$BUILD_DIR" >/dev/null
cmake --build "$BUILD_DIR" --target nodus -j "$(nproc)" >/dev/null
BIN="$BUILD_DIR/app/nodus"

python3 -c '
import json
print(json.dumps({"s": ["s%d" % i for i in range(100000)]}, separators=(",", ":")))' >"$TMP/doc.json"

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$PID/status"; }

echo "[]" >"$TMP/nodus.json"
for n in $SIZES; do
  echo "nodus: $n objects" >&2
  "$BIN" --port 0 --loops 1 --workers 1 --max-old-space-size 8192 --max-body 8388608 \
    --request-timeout 600 >"$TMP/out.log" 2>"$TMP/err.log" &
  PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$TMP/out.log" && break; sleep 0.1; done
  URL=$(grep -o 'http://[^ ]*' "$TMP/out.log" | head -1)
  for _ in $(seq 1 $((n / 100000))); do
    curl -sf -XPOST --data-binary @"$TMP/doc.json" "$URL/objects" >/dev/null
  done
  curl -sf -XPOST "$URL/debug/gc?kind=major" >/dev/null
  curl -sf "$URL/debug/heap" >"$TMP/heap.json"
  RSS_BEFORE=$(kib VmRSS)
  echo 5 >"/proc/$PID/clear_refs"  # resets VmHWM to the current RSS
  TIMES=$(curl -sf -o /dev/null -w '%{time_total} %{size_download}' "$URL/debug/heap/snapshot")
  PEAK=$(kib VmHWM)
  LOGLINE=$(cat "$TMP/out.log" "$TMP/err.log" | grep "heap snapshot of loop" | tail -1)
  python3 - "$TMP" "$n" "$RSS_BEFORE" "$PEAK" $TIMES "$LOGLINE" <<'PY'
import json, re, sys
tmp, n, rss, peak, secs, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
m = re.search(r"index (\d+) KiB, prepared in ([\d.]+) ms", sys.argv[7])
loop = json.load(open(f"{tmp}/heap.json"))["loops"][0]
objects = sum(k["count"] for k in loop["objects_by_kind"].values())
rows = json.load(open(f"{tmp}/nodus.json"))
rows.append({"objects_asked": n, "objects": objects, "used_heap_size": loop["used_heap_size"],
             "rss_before": rss * 1024, "peak_extra_rss": (peak - rss) * 1024, "seconds": secs,
             "snapshot_bytes": size, "index_bytes": int(m.group(1)) * 1024 if m else 0,
             "prepare_ms": float(m.group(2)) if m else 0})
json.dump(rows, open(f"{tmp}/nodus.json", "w"))
PY
  echo "$LOGLINE" >&2
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
done

echo "[]" >"$TMP/node.json"
for n in $NODE_SIZES; do
  echo "node: $n objects" >&2
  if ! timeout 1800 node --max-old-space-size=16384 loadtest/bench/snapshot_node.js "$n" "$TMP/node.heapsnapshot" \
      >"$TMP/node_run.json" 2>"$TMP/node_err.log"; then
    echo "{\"objects\": $n, \"error\": \"exit $?: $(tail -c 300 "$TMP/node_err.log" | tr -d '\n"')\"}" >"$TMP/node_run.json"
  fi
  python3 -c '
import json, sys
rows = json.load(open(sys.argv[1])); rows.append(json.load(open(sys.argv[2]))); json.dump(rows, open(sys.argv[1], "w"))' \
    "$TMP/node.json" "$TMP/node_run.json"
done

python3 - "$TMP" "$OUT" "$SIZES" "$NODE_SIZES" <<'PY'
import json, platform, subprocess, sys
tmp, out, sizes, node_sizes = sys.argv[1:5]
mb = lambda b: f"{b / 1048576:.1f}"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
lines = ["# Heap snapshots: nodus vs Node", "",
         f"Command: `loadtest/bench_snapshot.sh \"{sizes}\" \"{node_sizes}\"` on {cpu}, {platform.node()}, Node {node_version}.", "",
         "nodus streams `GET /debug/heap/snapshot` to curl (`-o /dev/null`); Node runs `v8.writeHeapSnapshot()` to a file.",
         "Peak extra RSS: the process's peak RSS during the snapshot (VmHWM, reset just before; Node: maxRSS) minus its RSS just before.",
         "It can understate what a snapshot allocates when the allocator reuses freed heap memory, so the nodus rows also give",
         "the writer's own count of its index (logged by the server); the copies of mutated objects are zero here (nothing runs meanwhile).",
         "Time: nodus = the whole download (preparation = the synchronous GC + index walk, inside it); Node = `writeHeapSnapshot()`.", "",
         "| runtime | objects | heap used MB | RSS before MB | peak extra RSS MB | extra / heap used | writer index MB | time s | of which preparation s | snapshot MB | note |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
for r in json.load(open(f"{tmp}/nodus.json")):
    lines.append(f"| nodus | {r['objects']:,} | {mb(r['used_heap_size'])} | {mb(r['rss_before'])} | {mb(r['peak_extra_rss'])} | "
                 f"{100 * r['peak_extra_rss'] / r['used_heap_size']:.1f}% | {mb(r['index_bytes'])} | {r['seconds']:.1f} | "
                 f"{r['prepare_ms'] / 1000:.2f} | {mb(r['snapshot_bytes'])} | |")
for r in json.load(open(f"{tmp}/node.json")):
    if r.get("error") and not r.get("seconds"):
        lines.append(f"| node | {r['objects']:,} (asked) | | | | | | | | | failed: {r['error'][:120]} |")
        continue
    used = r["used_heap_size"]
    lines.append(f"| node | {r['node_count']:,} nodes | {mb(used)} | {mb(r['rss_before'])} | {mb(r['peak_extra_rss'])} | "
                 f"{100 * r['peak_extra_rss'] / used:.1f}% | | {r['seconds']:.1f} | | {mb(r['snapshot_bytes'])} | {r.get('error') or ''} |")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
