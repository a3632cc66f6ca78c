# Scenario `hash`: SHA-256 of 64 MiB, from a file and as a request body (issue 5).
# shellcheck source=loadtest/scenarios/bench_inputs.bash
source "$LT_DIR/scenarios/bench_inputs.bash"

SCENARIO_SERVERS=(nodus node nodus-1w nodus-2c node-2c)

HASH_FILE=public/images/bench/64mib.bin
HASH_MB=67.108864 # 64 MiB in MB

SCENARIO_ABOUT="SHA-256 of 64 MiB, one request at a time; MB/s = req/s x 64 MiB. \`file\`: GET \
/hash/files/images/bench/64mib.bin (in the page cache, cached as read): nodus hashes it in place \
through mapping windows of up to 8 MiB, in one pool job while no other job waits for the thread; Node pipes \
fs.createReadStream (64 KiB chunks) into crypto.createHash. \`post\`: \
POST /hash with the file as a Content-Length body (wrk -s post_file.lua): nodus reads the \
socket straight into 1 MiB batches (up to 4 per upload) and one pool job hashes the batches \
queued, in order, while the loop fills the next; Node \
feeds the request stream to crypto.createHash on its main thread. The server and its pool \
share one core. \`post-c2\`: two such uploads at a time. \`nodus-1w\` is nodus with one \
pool thread on a core of its own (its loop beside wrk): the MB/s of one worker. \`nodus-2c\` \
and \`node-2c\`: each server on the whole machine (both CPUs, shared with wrk) as a user runs \
it, nodus with its default pool (a thread per CPU): what the pool buys over hashing on the \
main thread. \`openssl speed -evp sha256 -bytes 1048576\` runs on the \
server's core in the same run. Goals (issue 5): >= 0.9x openssl speed per worker, >= 1.5x Node \
(checked both ways: one CPU each, and the whole machine each)."

scenario_define() {
  bench_inputs
  add_case file '/hash/files/images/bench/64mib.bin?alg=sha256' -t1 -c1
  add_case post '/hash?alg=sha256' -t1 -c1 -s post_file.lua -- "$HASH_FILE"
  # Two uploads in flight: whenever one upload's queue runs dry (its next bytes still crossing
  # the other core: client, loop), the other's batches keep the worker busy.
  add_case post-c2 '/hash?alg=sha256' -t1 -c2 -s post_file.lua -- "$HASH_FILE"
  add_goal file node rps 1.5
  add_goal post node rps 1.5
  add_goal file node-2c rps 1.5 nodus-2c
  add_goal post node-2c rps 1.5 nodus-2c
  add_goal post-c2 node-2c rps 1.5 nodus-2c
}

# OpenSSL's own figure on the server's core, after the wrk cases (servers idle), 3 times.
scenario_after_cases() {
  local run prefix=(taskset -c "$SERVER_CPU")
  [[ $PIN_CPUS == 1 ]] || prefix=()
  : >"$OUT_DIR/hash_openssl.txt"
  for ((run = 1; run <= 3; run++)); do
    wait_for_quiet || log "machine still busy; measuring anyway"
    "${prefix[@]}" openssl speed -evp sha256 -bytes 1048576 -seconds 3 2>/dev/null |
      awk '/^sha256/ { sub(/k$/, "", $2); printf "%.1f\n", $2 / 1000 }' >>"$OUT_DIR/hash_openssl.txt"
  done
  echo "# ${prefix[*]:+${prefix[*]} }openssl speed -evp sha256 -bytes 1048576 -seconds 3  (x3, MB/s)" \
    >>"$OUT_DIR/hash_openssl.txt"
  # The same job as GET /hash/files done by OpenSSL's CLI: read the file, hash it (includes
  # the process's start, ~3 ms). Best of 5 per round, 3 rounds.
  : >"$OUT_DIR/hash_dgst.txt"
  for ((run = 1; run <= 3; run++)); do
    wait_for_quiet || log "machine still busy; measuring anyway"
    for _ in 1 2 3 4 5; do
      local t0 t1
      t0=$(date +%s%N)
      "${prefix[@]}" openssl dgst -sha256 "$HASH_FILE" >/dev/null
      t1=$(date +%s%N)
      echo $(((t1 - t0) / 1000))
    done | sort -n | head -1 | awk -v m="$HASH_MB" '{ printf "%.1f\n", m * 1e6 / $1 }' >>"$OUT_DIR/hash_dgst.txt"
  done
  echo "# ${prefix[*]:+${prefix[*]} }openssl dgst -sha256 $HASH_FILE  (best of 5, x3, MB/s)" >>"$OUT_DIR/hash_dgst.txt"
}

scenario_section() {
  local s c rps mbs cpu per_cpu ssl
  local dgst
  ssl=$(grep -v '^#' "$OUT_DIR/hash_openssl.txt" 2>/dev/null | median)
  dgst=$(grep -v '^#' "$OUT_DIR/hash_dgst.txt" 2>/dev/null | median)
  echo
  echo "### MB/s, and against \`openssl speed\` on the same core"
  echo
  echo "\`openssl speed -evp sha256 -bytes 1048576\` on the server's core: **${ssl} MB/s** (median of 3;" \
    "hashing one cache-hot 1 MiB buffer: no I/O). *MB per server CPU-second*: 64 MiB ÷ the server's" \
    "CPU time per request — what one core (the loop and the worker that share it) gets through."
  local vs_dgst=""
  [[ " $* " == *" nodus "* ]] && vs_dgst="; nodus's \`file\` case ÷ that: **$(ratio "$(awk \
    -v r="$(sample_stat hash file nodus rps)" -v m="$HASH_MB" 'BEGIN { printf "%.0f", r * m }')" "$dgst")x**"
  echo "\`openssl dgst -sha256\` of the same file on that core (reads and hashes it, as GET" \
    "/hash/files does; process start included): **${dgst} MB/s**${vs_dgst}."
  echo
  echo "| case | server | MB/s | ÷ openssl speed | MB per server CPU-second | ÷ openssl speed |"
  echo "|---|---|--:|--:|--:|--:|"
  for c in file post post-c2; do
    for s; do
      rps=$(sample_stat hash "$c" "$s" rps)
      cpu=$(sample_stat hash "$c" "$s" cpu_us_per_request)
      mbs=$(awk -v r="$rps" -v m="$HASH_MB" 'BEGIN { printf "%.0f", r * m }')
      per_cpu=$(awk -v c="$cpu" -v m="$HASH_MB" 'BEGIN { if (c > 0) printf "%.0f", m * 1e6 / c; else print "n/a" }')
      echo "| $c | $s | $mbs | $(ratio "$mbs" "$ssl") | $per_cpu | $(ratio "$per_cpu" "$ssl") |"
    done
  done
  [[ " $* " == *" nodus-1w "* ]] || return 0
  echo
  echo "### Per worker (\`nodus-1w\`: one pool thread on a core of its own)"
  echo
  echo "*MB/s* is what one worker delivers (the goal: >= 0.9x \`openssl speed\`). *pool CPU*: the" \
    "pool thread's CPU time (/proc/PID/task/TID/stat), in % of its core; *MB per pool" \
    "CPU-second*: MB/s ÷ that — the worker's own pace while it runs. Where the pool thread is" \
    "well under 100%, it waits for bytes: the other core (the loop beside wrk) is the limit;" \
    "\`post-c2\` (two uploads in flight) keeps it fed."
  echo
  echo "| case | MB/s | ÷ openssl speed | pool CPU | MB per pool CPU-second | ÷ openssl speed | goal ≥ 0.9x met |"
  echo "|---|--:|--:|--:|--:|--:|---|"
  local pool per_pool met
  for c in file post post-c2; do
    rps=$(sample_stat hash "$c" nodus-1w rps)
    pool=$(sample_stat hash "$c" nodus-1w pool_cpu_pct)
    mbs=$(awk -v r="$rps" -v m="$HASH_MB" 'BEGIN { printf "%.0f", r * m }')
    per_pool=$(awk -v b="$mbs" -v p="$pool" 'BEGIN { if (p > 0) printf "%.0f", b * 100 / p; else print "n/a" }')
    met=$(awk -v b="$mbs" -v o="$ssl" 'BEGIN { print (o > 0 && b >= 0.9 * o ? "yes" : "no") }')
    echo "| $c | $mbs | $(ratio "$mbs" "$ssl") | $pool% | $per_pool | $(ratio "$per_pool" "$ssl") | $met |"
  done
}
