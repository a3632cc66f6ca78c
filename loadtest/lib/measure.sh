# Running wrk: the command for a case, one measurement, and the interleaved run order.
# Every measurement appends one line to $OUT_DIR/samples.tsv (columns: SAMPLE_COLUMNS).

SAMPLE_COLUMNS="scenario case server run rps p50_us p99_us latency_valid errors server_cpu_pct wrk_core_pct server_core_pct compilers load1"
WRK_TIMEOUT=8s # as TechEmpower; wrk's default 2 s counts slow pipelined batches as errors

# wrk_command SERVER CASE DURATION — the exact wrk argv, into the array WRK_CMD.
wrk_command() {
  local server=$1 id=$2 duration=$3 script="loadtest/wrk/report.lua" i
  local -a args opts=() script_args=()
  IFS=$'\x1f' read -r -a args <<<"${CASE_ARGS[$id]}"
  for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
      -s) script="loadtest/wrk/${args[++i]}" ;;
      --) script_args=("${args[@]:i+1}"); break ;;
      *) opts+=("${args[i]}") ;;
    esac
  done
  WRK_CMD=("${WRK_PIN[@]}" wrk --latency --timeout "$WRK_TIMEOUT" -d "$duration" "${opts[@]}"
    -s "$script" "${SERVER_URL[$server]}${CASE_PATH[$id]}")
  ((${#script_args[@]})) && WRK_CMD+=(-- "${script_args[@]}")
  return 0
}

# check_case SERVER CASE — the case's path answers 200 on SERVER (else the numbers lie).
check_case() {
  local url="${SERVER_URL[$1]}${CASE_PATH[$2]}" code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" || true)
  [[ $code == 200 ]] || die "$1: GET $url answered '$code', not 200"
}

warm_up() {
  local server=$1 id=$2
  wrk_command "$server" "$id" "$WARMUP"
  timeout 60 "${WRK_CMD[@]}" >>"$OUT_DIR/warmup.log" 2>&1 || log "warm-up of $server failed"
}

# measure SCENARIO CASE SERVER RUN — one wrk run; appends a line to samples.tsv.
measure() {
  local scenario=$1 id=$2 server=$3 run=$4
  local out="$OUT_DIR/$scenario.$id.$server.$run.txt" pid=${SERVER_PID[$3]}
  local before after json rc=0
  wait_for_quiet "$QUIET_WAIT" || log "still compiling; measuring anyway (noted in RESULTS.md)"
  wrk_command "$server" "$id" "$DURATION"
  before=$(usage_snapshot "$pid")
  timeout $((DURATION_S + 30)) "${WRK_CMD[@]}" >"$out" 2>&1 || rc=$?
  after=$(usage_snapshot "$pid")
  json=$(grep -m1 '^WRK_JSON ' "$out" | cut -d' ' -f2-) || true
  [[ $rc == 0 && -n $json ]] || die "wrk failed (exit $rc) on $server; see $out"
  kill -0 "$pid" 2>/dev/null || die "$server died during the run; see $OUT_DIR/$server.log"
  local fields
  fields="$scenario $id $server $run $(wrk_fields "$json") $(usage_between "$before" "$after")"
  echo "$fields $(cut -d' ' -f1 /proc/loadavg)" >>"$OUT_DIR/samples.tsv"
  log "$scenario/$id run $run $server: $(cut -d' ' -f5 <<<"$fields") req/s"
}

# wrk_fields JSON — "rps p50_us p99_us latency_valid errors" from wrk/report.lua's line.
wrk_fields() {
  awk '{ gsub(/[{}"]/, ""); n = split($0, kv, ",")
    for (i = 1; i <= n; i++) { split(kv[i], p, ":"); v[p[1]] = p[2] }
    print v["rps"], v["p50_us"], v["p99_us"], v["latency_valid"],
      v["err_connect"] + v["err_read"] + v["err_write"] + v["err_status"] + v["err_timeout"] }' <<<"$1"
}

# usage_snapshot PID — "server_ticks wrk_core_ticks server_core_ticks time compilers".
usage_snapshot() {
  echo "$(pid_tree_cpu_ticks "$1") $(cpu_busy_ticks "$WRK_CPU") $(cpu_busy_ticks "$SERVER_CPU")" \
    "$EPOCHREALTIME $(compilers_running)"
}

# usage_between BEFORE AFTER — "server_cpu% wrk_core_busy% server_core_busy% compilers":
# the server's own CPU time, and how busy each pinned core was, as % of one core.
usage_between() {
  awk -v t="$(getconf CLK_TCK)" -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " "); s = (y[4] - x[4]) * t / 100
    printf "%.0f %.0f %.0f %d\n", (y[1] - x[1]) / s, (y[2] - x[2]) / s, (y[3] - x[3]) / s,
      (x[5] > y[5] ? x[5] : y[5]) }'
}

# run_cases SCENARIO SERVER... — per case: warm up each server, then RUNS rounds that go
# through the servers in turn (nodus, nginx, node, nodus, ...), so slow drift in machine
# noise spreads over all servers instead of landing on one.
run_cases() {
  local scenario=$1 id server run
  shift
  for id in "${CASES[@]}"; do
    for server in "$@"; do check_case "$server" "$id"; done
    for server in "$@"; do warm_up "$server" "$id"; done
    for ((run = 1; run <= RUNS; run++)); do
      for server in "$@"; do measure "$scenario" "$id" "$server" "$run"; done
    done
  done
}
